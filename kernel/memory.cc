#include "kernel/memory.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/console.h"

extern "C" char _bss_end_phys[];

namespace veneer {

using namespace arch;

core::FrameTable frames;
core::RmapPool rmaps;
KernelInfo* kernel_info;
EnvInfo* env_table;
SliceVector* slice_table;
RepossessionVector* repossession;
uint64_t kernel_pml4_pa;
uint64_t ktables_pdpt_pa;

namespace {

uint64_t bump_next, bump_end;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

// Boot-time page allocator: carves zeroed pages from one RAM range above the
// kernel and the modules. Runs while the boot identity map is live.
uint64_t bump_pages(uint64_t n) {
  uint64_t pa = bump_next;
  if (pa + n * kPageSize > bump_end) panic("out of memory while carving kernel tables");
  bump_next += n * kPageSize;
  auto* p = reinterpret_cast<uint64_t*>(pa);
  for (uint64_t i = 0; i < n * kPageSize / 8; i++) p[i] = 0;
  return pa;
}

uint64_t* table_at(uint64_t pa) { return reinterpret_cast<uint64_t*>(pa); }  // identity map

// Maps `pa` at window page `index` under the kernel-tables PDPT, read-only for
// user mode.
void map_window_page(uint64_t index, uint64_t pa) {
  uint64_t* pdpt = table_at(ktables_pdpt_pa);
  uint64_t pdi = index / (512 * 512), pti = (index / 512) % 512, i = index % 512;
  if (!(pdpt[pdi] & PTE_P)) pdpt[pdi] = bump_pages(1) | PTE_P | PTE_U;
  uint64_t* pd = table_at(pdpt[pdi] & PTE_ADDR);
  if (!(pd[pti] & PTE_P)) pd[pti] = bump_pages(1) | PTE_P | PTE_U;
  table_at(pd[pti] & PTE_ADDR)[i] = pa | PTE_P | PTE_U | PTE_NX;
}

}  // namespace

void memory_init(const BootInfo& boot) {
  // Highest RAM address decides the frame-table size.
  uint64_t top = 0;
  for (int i = 0; i < boot.nram; i++) {
    uint64_t end = boot.ram[i].base + boot.ram[i].length;
    if (end > top) top = end;
  }
  if (top > (1ull << 30)) top = 1ull << 30;  // the boot identity map reaches 1 GiB
  uint64_t nframes = top / kPageSize;

  // Carve from the first RAM range above the kernel and every module.
  uint64_t floor = reinterpret_cast<uint64_t>(_bss_end_phys);
  for (int i = 0; i < boot.nmodules; i++)
    if (boot.modules[i].end > floor) floor = boot.modules[i].end;
  floor = align_up(floor, kPageSize);
  for (int i = 0; i < boot.nram && !bump_end; i++) {
    uint64_t b = boot.ram[i].base, e = b + boot.ram[i].length;
    if (e > top) e = top;
    if (e > floor && e - (b > floor ? b : floor) > (4u << 20)) {
      bump_next = align_up(b > floor ? b : floor, kPageSize);
      bump_end = e & ~(kPageSize - 1);
    }
  }
  if (!bump_end) panic("no RAM range above the kernel to hold its tables");

  uint64_t carved_start = bump_next;
  uint64_t info_pages = align_up(nframes * sizeof(FrameInfo), kPageSize) / kPageSize;
  uint64_t meta_pages = align_up(nframes * sizeof(core::FrameMeta), kPageSize) / kPageSize;
  uint64_t nrmap = nframes * 4;
  uint64_t rmap_pages = align_up(nrmap * sizeof(core::RmapRecord), kPageSize) / kPageSize;
  uint64_t info_pa = bump_pages(info_pages);
  uint64_t meta_pa = bump_pages(meta_pages);
  uint64_t rmap_pa = bump_pages(rmap_pages);
  uint64_t kinfo_pa = bump_pages(1);
  constexpr uint64_t kEnvTablePages = (kSliceVectorVa - kEnvTableVa) / kPageSize;
  constexpr uint64_t kReposPages = (kFrameTableVa - kRepossessionVa) / kPageSize;
  uint64_t envtab_pa = bump_pages(kEnvTablePages);
  uint64_t slices_pa = bump_pages(1);
  uint64_t repos_pa = bump_pages(kReposPages);
  static_assert(sizeof(EnvInfo) * kMaxEnvs <= kEnvTablePages * kPageSize);
  static_assert(sizeof(RepossessionVector) * kMaxEnvs <= kReposPages * kPageSize);
  static_assert(sizeof(SliceVector) <= kPageSize);
  static_assert(sizeof(KernelInfo) <= kPageSize);

  // Kernel address space: direct map (2 MiB pages) of max(4 GiB, RAM) and
  // the kernel image in the top 2 GiB, all global.
  uint64_t g = features.pge ? PTE_G : 0;
  kernel_pml4_pa = bump_pages(1);
  uint64_t* pml4 = table_at(kernel_pml4_pa);
  uint64_t physmap_top = top > (4ull << 30) ? top : (4ull << 30);
  uint64_t physmap_pdpt = bump_pages(1);
  for (uint64_t gb = 0; gb < physmap_top >> 30; gb++) {
    uint64_t pd = bump_pages(1);
    for (uint64_t i = 0; i < 512; i++)
      table_at(pd)[i] = ((gb << 30) + (i << 21)) | PTE_P | PTE_W | PTE_PS | PTE_NX | g;
    table_at(physmap_pdpt)[gb] = pd | PTE_P | PTE_W;
  }
  pml4[256] = physmap_pdpt | PTE_P | PTE_W;
  uint64_t image_pdpt = bump_pages(1), image_pd = bump_pages(1);
  for (uint64_t i = 0; i < 512; i++) table_at(image_pd)[i] = (i << 21) | PTE_P | PTE_W | PTE_PS | g;
  table_at(image_pdpt)[510] = image_pd | PTE_P | PTE_W;
  pml4[511] = image_pdpt | PTE_P | PTE_W;

  // Read-only kernel tables window (PML4[254] of every env).
  ktables_pdpt_pa = bump_pages(1);
  auto window_index = [](uint64_t va) { return (va - kKernelTablesVa) / kPageSize; };
  map_window_page(0, kinfo_pa);
  for (uint64_t i = 0; i < kEnvTablePages; i++) map_window_page(window_index(kEnvTableVa) + i, envtab_pa + i * kPageSize);
  map_window_page(window_index(kSliceVectorVa), slices_pa);
  for (uint64_t i = 0; i < kReposPages; i++)
    map_window_page(window_index(kRepossessionVa) + i, repos_pa + i * kPageSize);
  for (uint64_t i = 0; i < info_pages; i++)
    map_window_page(window_index(kFrameTableVa) + i, info_pa + i * kPageSize);

  uint64_t carved_end = bump_next;
  write_cr3(kernel_pml4_pa);  // the identity map is gone from here on

  kernel_info = phys_to_virt<KernelInfo>(kinfo_pa);
  env_table = phys_to_virt<EnvInfo>(envtab_pa);
  slice_table = phys_to_virt<SliceVector>(slices_pa);
  repossession = phys_to_virt<RepossessionVector>(repos_pa);
  frames.init(phys_to_virt<FrameInfo>(info_pa), phys_to_virt<core::FrameMeta>(meta_pa), nframes,
              phys_to_virt<EnvInfo>(envtab_pa));
  rmaps.init(phys_to_virt<core::RmapRecord>(rmap_pa), nrmap);

  // Release usable RAM: not the first MiB (firmware), the kernel image, the
  // modules, or what we just carved.
  for (int i = 0; i < boot.nram; i++) {
    uint64_t b = align_up(boot.ram[i].base, kPageSize);
    uint64_t e = (boot.ram[i].base + boot.ram[i].length) & ~(kPageSize - 1);
    if (e > top) e = top;
    for (uint64_t pa = b; pa < e; pa += kPageSize) {
      if (pa < reinterpret_cast<uint64_t>(_bss_end_phys)) continue;
      bool in_module = false;
      for (int m = 0; m < boot.nmodules; m++)
        if (pa + kPageSize > boot.modules[m].start && pa < boot.modules[m].end) in_module = true;
      if (pa >= carved_start && pa < carved_end) continue;
      if (!in_module) frames.release(pa / kPageSize);
    }
  }

  kernel_info->magic = kKernelInfoMagic;
  kernel_info->abi_version = 1;
  kernel_info->nframes = nframes;
  kernel_info->frame_table_va = kFrameTableVa;
  kernel_info->env_table_va = kEnvTableVa;
  kernel_info->max_envs = kMaxEnvs;
  kernel_info->max_mappings = nrmap / 4;  // no env can take more than a quarter of the pool
  kprintf("memory: %lu frames (%lu MiB), %lu free, tables at %lx-%lx\n", nframes,
          nframes * kPageSize >> 20, frames.free_count(), carved_start, carved_end);
}

Status frame_alloc_zeroed(uint64_t pfn, uint32_t owner, uint16_t kind, uint64_t* out) {
  Status s = frames.alloc(pfn, owner, kind, out);
  if (s != OK) return s;
  auto* p = phys_to_virt<uint64_t>(*out * kPageSize);
  asm volatile("rep stosq" : "+D"(p), "=c"(pfn) : "a"(0), "c"(kPageSize / 8) : "memory");
  return OK;
}

}  // namespace veneer
