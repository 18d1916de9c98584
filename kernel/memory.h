// Physical memory: the direct map, boot-time carving of kernel tables, and
// the global frame table / reverse-map pool.
#pragma once

#include <stdint.h>

#include "kernel/boot_info.h"
#include "kernel/core/accounts.h"
#include "kernel/core/frame_table.h"
#include "kernel/core/reverse_map.h"

namespace veneer {

// All physical memory (at least the first 4 GiB, for MMIO) is mapped here,
// writable and non-executable, except the kernel image's text and read-only
// data (read-only) and sealed code pages (read-only once sealed).
constexpr uint64_t kPhysMapBase = 0xFFFF800000000000ull;
constexpr uint64_t kKernelVma = 0xFFFFFFFF80000000ull;
// Sealed code (kernel/mm/sealed_code.h) runs here: one page table's reach,
// inside the image's page directory so every address space shares it.
constexpr uint64_t kSealedCodeVa = kKernelVma + 0x20000000ull;
constexpr uint64_t kSealedCodePages = 128;  // the pool carved at boot: 512 KiB

#ifndef VENEER_HOSTED
inline uint8_t* phys_base() { return reinterpret_cast<uint8_t*>(kPhysMapBase); }
#else
extern uint8_t* hosted_phys;  // a hosted build's stand-in for physical memory
inline uint8_t* phys_base() { return hosted_phys; }
#endif
template <typename T = void>
inline T* phys_to_virt(uint64_t pa) {
  return reinterpret_cast<T*>(phys_base() + pa);
}
// The physical address of a direct-map pointer.
inline uint64_t virt_to_phys(const void* p) { return static_cast<const uint8_t*>(p) - phys_base(); }

extern core::FrameTable frames;
extern core::ReverseMap rmap;    // every mapping of every frame
extern core::Accounts accounts;  // what each env tree may hold
extern KernelInfo* kernel_info;  // the page at kKernelInfoVa
extern EnvInfo* env_table;       // the pages at kEnvTableVa
extern SliceVector* slice_table; // the page at kSliceVectorVa
extern RepossessionVector* repossession;  // per env, at kRepossessionVa
extern uint64_t kernel_pml4_pa;  // kernel-only address space (idle)
extern uint64_t ktables_pdpt_pa; // PML4[254] of every env
extern uint64_t sealed_code_pool_pa;  // kSealedCodePages frames, owned by the kernel
extern uint64_t net_buffers_pa;       // dev::kNetBufferPages frames: the network device's queues and buffers
extern uint64_t direct_map_end;       // physical addresses below this are in the direct map

// Sizes the kernel's tables from the memory map, places them wherever RAM
// has room, builds the direct map of all RAM and the W^X kernel page tables,
// switches to them, and releases the rest to the free pool. Boot modules
// stay reserved for init.
void memory_init(const BootInfo& boot);

// Allocates and zeroes a frame for `owner`; ERR_NO_MEMORY if none is left.
Status frame_alloc_zeroed(uint64_t pfn, uint32_t owner, uint16_t kind, uint64_t* out);

// The kernel's leaf PTE for va (kernel half), splitting nothing; nullptr
// when no page table reaches it or a large page covers it.
uint64_t* kernel_pte(uint64_t va);

}  // namespace veneer
