// The kernel's global tables, which boot code (memory.cc) carves and fills,
// and the frame allocator every path uses. Kept apart from boot so that
// hosted builds (tests/hosted) link the real allocator without boot code.
#include "kernel/memory.h"

namespace veneer {

core::FrameTable frames;
core::ReverseMap rmap;
core::Accounts accounts;
KernelInfo* kernel_info;
EnvInfo* env_table;
SliceVector* slice_table;
RepossessionVector* repossession;
uint64_t kernel_pml4_pa;
uint64_t ktables_pdpt_pa;

Status frame_alloc_zeroed(uint64_t pfn, uint32_t owner, uint16_t kind, uint64_t* out) {
  Status s = frames.alloc(pfn, owner, kind, out);
  if (s != OK) return s;
  auto* p = phys_to_virt<uint64_t>(*out * kPageSize);
  asm volatile("rep stosq" : "+D"(p), "=c"(pfn) : "a"(0), "c"(kPageSize / 8) : "memory");
  return OK;
}

}  // namespace veneer
