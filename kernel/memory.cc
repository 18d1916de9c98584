#include "kernel/memory.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/console.h"
#include "kernel/dev/virtio_net.h"
#include "kernel/mm/ranges.h"

extern "C" char _phys_start[], _bss_end_phys[];
extern "C" char _text_start[], _rodata_start[], _rodata_end[], _kernel_end[];

namespace veneer {

using namespace arch;

uint64_t sealed_code_pool_pa;
uint64_t net_buffers_pa;
uint64_t direct_map_end;

namespace {

constexpr uint64_t kMiB = 1ull << 20, kGiB = 1ull << 30, k2MiB = 2 * kMiB;
// boot.S identity-maps this much: page tables are built there before the switch.
constexpr uint64_t kBootIdentityTop = 4 * kGiB;
// Frame numbers are 32-bit (kNil is the largest, and means none): RAM above
// this (just under 16 TiB) is left unused, and reported.
constexpr uint64_t kMaxPhysBytes = (1ull << 44) - k2MiB;
constexpr uint64_t kEnvTablePages = (kSliceVectorVa - kEnvTableVa) / kPageSize;
constexpr uint64_t kReposPages = (kFrameTableVa - kRepossessionVa) / kPageSize;
static_assert(sizeof(EnvInfo) * kMaxEnvs <= kEnvTablePages * kPageSize);
static_assert(sizeof(RepossessionVector) * kMaxEnvs <= kReposPages * kPageSize);
static_assert(sizeof(SliceVector) <= kPageSize);
static_assert(sizeof(KernelInfo) <= kPageSize);
static_assert(kSealedCodePages <= 512, "sealed code gets one page table");

uint64_t div_up(uint64_t v, uint64_t d) { return (v + d - 1) / d; }
uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }
uint64_t phys(const char* image_symbol) { return reinterpret_cast<uint64_t>(image_symbol) - kKernelVma; }
uint64_t window_index(uint64_t va) { return (va - kKernelTablesVa) / kPageSize; }
// 2 MiB regions that [base, end) touches.
uint64_t regions_2m(uint64_t base, uint64_t end) { return (align_up(end, k2MiB) - align_down(base, k2MiB)) / k2MiB; }

// ---- Size first ---------------------------------------------------------------
// Every table the kernel carves out of RAM at boot, in one list: sized here
// from the frame count alone, then placed (place_tables) wherever the memory
// map has room, largest first. A table that grows or goes away is one line.
enum Carve : int {
  kFrameInfo, kFrameMeta, kKernelInfoPage, kEnvTable, kSliceVectorPage,
  kRepossession, kSealedCode, kNetBuffers, kPageTables, kCarveCount
};
const char* const kCarveNames[kCarveCount] = {
    "frame table", "frame metadata", "kernel info", "env table",
    "slice vector", "repossession vectors", "sealed code pool", "network buffers", "kernel page tables"};

struct BootTables {
  uint64_t pages[kCarveCount];
  uint64_t pa[kCarveCount];
};

// Page-table pages for the kernel address space (an upper bound: what is
// left over is released).
uint64_t page_table_pages(uint64_t direct_map_top, uint64_t window_pages) {
  uint64_t image_regions = regions_2m(phys(_text_start), phys(_kernel_end));
  uint64_t n = 1;                                                  // the PML4
  n += div_up(direct_map_top, 512 * kGiB) + div_up(direct_map_top, kGiB);  // PDPTs, PDs of 2 MiB pages
  n += image_regions + regions_2m(0, kSealedCodePages * kPageSize) + 1;  // 4 KiB pages there (W^X)
  n += 2 + image_regions + 1;                                      // the image's PDPT, PD, PTs; sealed code's PT
  n += 1 + div_up(window_pages, 512 * 512) + div_up(window_pages, 512);  // the read-only tables window
  return n;
}

BootTables size_tables(uint64_t nframes, uint64_t direct_map_top) {
  BootTables t{};
  t.pages[kFrameInfo] = div_up(nframes * sizeof(FrameInfo), kPageSize);
  t.pages[kFrameMeta] = div_up(nframes * sizeof(core::FrameMeta), kPageSize);
  t.pages[kKernelInfoPage] = 1;
  t.pages[kEnvTable] = kEnvTablePages;
  t.pages[kSliceVectorPage] = 1;
  t.pages[kRepossession] = kReposPages;
  t.pages[kSealedCode] = kSealedCodePages;
  t.pages[kNetBuffers] = dev::kNetBufferPages;
  t.pages[kPageTables] = page_table_pages(direct_map_top, window_index(kFrameTableVa) + t.pages[kFrameInfo]);
  return t;
}

// ---- Then place ---------------------------------------------------------------
// Usable RAM nobody holds yet: room for every loader range plus a split for
// each thing taken out of it (first MiB, image, modules, tables).
mm::BasicRangeList<2 * BootInfo::kMaxRanges> free_ram;

void place_tables(BootTables* t) {
  // Page tables are written before the switch, through the boot identity map.
  if (!free_ram.take(t->pages[kPageTables] * kPageSize, kPageSize, kBootIdentityTop, &t->pa[kPageTables]))
    panic("memory: no room below 4 GiB for %lu KiB of kernel page tables (largest free RAM range: %lu KiB)",
          t->pages[kPageTables] * 4, free_ram.largest() >> 10);
  bool placed[kCarveCount] = {};
  placed[kPageTables] = true;
  for (int n = 0; n < kCarveCount - 1; n++) {
    int big = -1;
    for (int i = 0; i < kCarveCount; i++)
      if (!placed[i] && (big < 0 || t->pages[i] > t->pages[big])) big = i;
    if (!free_ram.take(t->pages[big] * kPageSize, kPageSize, ~0ull, &t->pa[big]))
      panic("memory: no free RAM range holds the %s (%lu KiB; largest free range: %lu KiB)", kCarveNames[big],
            t->pages[big] * 4, free_ram.largest() >> 10);
    placed[big] = true;
  }
}

// ---- Kernel page tables, built through the boot identity map ------------------
uint64_t pt_next, pt_end;  // the page-table carve

uint64_t* table_at(uint64_t pa) { return reinterpret_cast<uint64_t*>(pa); }

uint64_t alloc_table() {
  if (pt_next >= pt_end) panic("memory: kernel page tables outgrew their carve (page_table_pages is wrong)");
  uint64_t pa = pt_next;
  pt_next += kPageSize;
  uint64_t* p = table_at(pa);
  for (int i = 0; i < 512; i++) p[i] = 0;
  return pa;
}

// The table `level` below `t[index]`, created with `link` bits if missing.
uint64_t* next_table(uint64_t* t, uint64_t index, uint64_t link) {
  if (!(t[index] & PTE_P)) t[index] = alloc_table() | link;
  return table_at(t[index] & PTE_ADDR);
}

// Maps one 4 KiB page in the tree under `root` (a PML4, or with `top_level`
// 3 a PDPT covering 512 GiB from its own base).
void map_4k(uint64_t root, int top_level, uint64_t va, uint64_t leaf, uint64_t link) {
  uint64_t* t = table_at(root);
  for (int level = top_level; level > 1; level--) t = next_table(t, (va >> (12 + 9 * (level - 1))) & 511, link);
  t[(va >> 12) & 511] = leaf;
}

struct KernelLayout {
  uint64_t image_start, image_end;      // physical: the whole loaded image, .boot included
  uint64_t readonly_start, readonly_end;  // physical: text and rodata
  uint64_t pool_start, pool_end;        // physical: the sealed code pool
};

// Direct-map rights of one 4 KiB page: never executable; read-only where the
// kernel's text and read-only data are, so no alias of them is writable.
uint64_t direct_map_leaf(const KernelLayout& k, uint64_t pa, uint64_t g) {
  bool ro = pa >= k.readonly_start && pa < k.readonly_end;
  return pa | PTE_P | PTE_NX | g | (ro ? 0 : PTE_W);
}

void build_direct_map(uint64_t pml4_pa, uint64_t top, const KernelLayout& k, uint64_t g) {
  auto needs_4k = [&](uint64_t base) {
    uint64_t end = base + k2MiB;
    return (base < k.image_end && k.image_start < end) || (base < k.pool_end && k.pool_start < end);
  };
  uint64_t* pml4 = table_at(pml4_pa);
  for (uint64_t gb = 0; gb < top / kGiB; gb++) {
    uint64_t va = kPhysMapBase + gb * kGiB;
    uint64_t* pdpt = next_table(pml4, (va >> 39) & 511, PTE_P | PTE_W);
    uint64_t* pd = next_table(pdpt, (va >> 30) & 511, PTE_P | PTE_W);
    for (uint64_t i = 0; i < 512; i++) {
      uint64_t pa = gb * kGiB + i * k2MiB;
      if (!needs_4k(pa)) {
        pd[i] = pa | PTE_P | PTE_W | PTE_PS | PTE_NX | g;
        continue;
      }
      uint64_t pt = alloc_table();
      for (uint64_t j = 0; j < 512; j++) table_at(pt)[j] = direct_map_leaf(k, pa + j * kPageSize, g);
      pd[i] = pt | PTE_P | PTE_W;
    }
  }
}

// The image at its link address: text read-only and executable, rodata
// read-only, data and bss (the stacks among them) writable, not executable.
void map_image(uint64_t pml4_pa, uint64_t g) {
  uint64_t text = reinterpret_cast<uint64_t>(_text_start), rodata = reinterpret_cast<uint64_t>(_rodata_start);
  uint64_t data = align_up(reinterpret_cast<uint64_t>(_rodata_end), kPageSize);
  for (uint64_t va = text; va < reinterpret_cast<uint64_t>(_kernel_end); va += kPageSize) {
    uint64_t rights = va < rodata ? 0 : va < data ? PTE_NX : PTE_W | PTE_NX;
    map_4k(pml4_pa, 4, va, (va - kKernelVma) | PTE_P | g | rights, PTE_P | PTE_W);
  }
  // Sealed code's page table, empty until code is sealed into it.
  uint64_t* pml4 = table_at(pml4_pa);
  uint64_t* pdpt = next_table(pml4, (kSealedCodeVa >> 39) & 511, PTE_P | PTE_W);
  uint64_t* pd = next_table(pdpt, (kSealedCodeVa >> 30) & 511, PTE_P | PTE_W);
  next_table(pd, (kSealedCodeVa >> 21) & 511, PTE_P | PTE_W);
}

// Maps `pa` at window page `index` under the kernel-tables PDPT, read-only for
// user mode.
void map_window_page(uint64_t index, uint64_t pa) {
  map_4k(ktables_pdpt_pa, 3, index * kPageSize, pa | PTE_P | PTE_U | PTE_NX, PTE_P | PTE_U);
}

void zero_pages(uint64_t pa, uint64_t pages) {
  auto* p = phys_to_virt<uint64_t>(pa);
  uint64_t n = pages * kPageSize / 8;
  asm volatile("rep stosq" : "+D"(p), "+c"(n) : "a"(0) : "memory");
}

}  // namespace

void memory_init(const BootInfo& boot) {
  // Usable RAM: the loader's map, less the first MiB (firmware), the kernel
  // image and the modules.
  uint64_t ram_bytes = 0, top = 0, ignored = 0;
  for (int i = 0; i < boot.nram; i++) {
    mm::PhysRange r = mm::range_of(boot.ram[i].base, boot.ram[i].length);
    r.base = align_up(r.base, kPageSize);
    r.end = align_down(r.end, kPageSize);
    if (r.end > kMaxPhysBytes) {
      ignored += r.end - (r.base > kMaxPhysBytes ? r.base : kMaxPhysBytes);
      r.end = kMaxPhysBytes;
    }
    if (r.base >= r.end) continue;
    if (!free_ram.add(r.base, r.end)) ignored += r.end - r.base;  // cannot happen: twice the loader's ranges
  }
  if (boot.dropped_ram) kprintf("memory: %d RAM ranges beyond the first %d left unused\n", boot.dropped_ram, BootInfo::kMaxRanges);
  for (int i = 0; i < free_ram.count(); i++) {
    ram_bytes += free_ram[i].end - free_ram[i].base;
    if (free_ram[i].end > top) top = free_ram[i].end;
  }
  int nranges = free_ram.count();
  kprintf("memory: RAM");
  for (int i = 0; i < nranges; i++) kprintf(" %lx-%lx", free_ram[i].base, free_ram[i].end);
  kprintf("\n");
  if (top == 0) panic("memory: the boot loader reported no usable RAM");
  KernelLayout k{};
  k.image_start = reinterpret_cast<uint64_t>(_phys_start);
  k.image_end = align_up(reinterpret_cast<uint64_t>(_bss_end_phys), kPageSize);
  k.readonly_start = phys(_text_start);
  k.readonly_end = align_up(phys(_rodata_end), kPageSize);
  bool removed = free_ram.remove(0, kMiB) && free_ram.remove(k.image_start, k.image_end);
  for (int i = 0; i < boot.nmodules; i++)
    removed = removed &&
              free_ram.remove(align_down(boot.modules[i].start, kPageSize), align_up(boot.modules[i].end, kPageSize));
  if (!removed) panic("memory: the RAM map is too fragmented to take the kernel and modules out of it");

  uint64_t nframes = top / kPageSize;
  uint64_t direct_map_top = top > kBootIdentityTop ? top : kBootIdentityTop;
  if (boot.framebuffer.addr && boot.framebuffer.end() > direct_map_top) direct_map_top = boot.framebuffer.end();
  direct_map_top = align_up(direct_map_top, kGiB);
  direct_map_end = direct_map_top;

  BootTables t = size_tables(nframes, direct_map_top);
  place_tables(&t);
  pt_next = t.pa[kPageTables];
  pt_end = pt_next + t.pages[kPageTables] * kPageSize;
  k.pool_start = t.pa[kSealedCode];
  k.pool_end = k.pool_start + kSealedCodePages * kPageSize;
  sealed_code_pool_pa = k.pool_start;
  net_buffers_pa = t.pa[kNetBuffers];

  // Kernel address space: the direct map and the image, all global.
  uint64_t g = features.pge ? PTE_G : 0;
  kernel_pml4_pa = alloc_table();
  build_direct_map(kernel_pml4_pa, direct_map_top, k, g);
  map_image(kernel_pml4_pa, g);

  // Read-only kernel tables window (PML4[254] of every env).
  ktables_pdpt_pa = alloc_table();
  map_window_page(0, t.pa[kKernelInfoPage]);
  for (uint64_t i = 0; i < kEnvTablePages; i++)
    map_window_page(window_index(kEnvTableVa) + i, t.pa[kEnvTable] + i * kPageSize);
  map_window_page(window_index(kSliceVectorVa), t.pa[kSliceVectorPage]);
  for (uint64_t i = 0; i < kReposPages; i++)
    map_window_page(window_index(kRepossessionVa) + i, t.pa[kRepossession] + i * kPageSize);
  for (uint64_t i = 0; i < t.pages[kFrameInfo]; i++)
    map_window_page(window_index(kFrameTableVa) + i, t.pa[kFrameInfo] + i * kPageSize);

  write_cr3(kernel_pml4_pa);  // the identity map is gone from here on

  // Page-table pages the bound did not need go back to the free pool.
  free_ram.add(pt_next, pt_end);
  uint64_t carved_pages = (pt_next - t.pa[kPageTables]) / kPageSize;
  for (int i = 0; i < kCarveCount; i++)
    if (i != kPageTables) carved_pages += t.pages[i];

  // The frame table and reverse maps are written whole by their init; the
  // small tables start zeroed.
  const Carve zeroed[] = {kKernelInfoPage, kEnvTable, kSliceVectorPage, kRepossession};
  for (Carve c : zeroed) zero_pages(t.pa[c], t.pages[c]);
  kernel_info = phys_to_virt<KernelInfo>(t.pa[kKernelInfoPage]);
  env_table = phys_to_virt<EnvInfo>(t.pa[kEnvTable]);
  slice_table = phys_to_virt<SliceVector>(t.pa[kSliceVectorPage]);
  repossession = phys_to_virt<RepossessionVector>(t.pa[kRepossession]);
  accounts.init(env_table);
  frames.init(phys_to_virt<FrameInfo>(t.pa[kFrameInfo]), phys_to_virt<core::FrameMeta>(t.pa[kFrameMeta]), nframes,
              env_table, &accounts);
  rmap.init(&frames, phys_base());

  for (int i = 0; i < free_ram.count(); i++)
    for (uint64_t pa = free_ram[i].base; pa < free_ram[i].end; pa += kPageSize) frames.release(pa / kPageSize);

  kernel_info->magic = kKernelInfoMagic;
  kernel_info->abi_version = 1;
  kernel_info->nframes = nframes;
  kernel_info->frame_table_va = kFrameTableVa;
  kernel_info->env_table_va = kEnvTableVa;
  kernel_info->max_envs = kMaxEnvs;
  kprintf("memory: %lu MiB of RAM in %d ranges, highest address %lx; kernel tables %lu KiB; %lu MiB free\n",
          ram_bytes >> 20, nranges, top, carved_pages * 4, frames.free_count() * kPageSize >> 20);
  if (ignored) kprintf("memory: %lu MiB of RAM left unused (above %lx, or too fragmented)\n", ignored >> 20, kMaxPhysBytes);
}

uint64_t* kernel_pte(uint64_t va) {
  uint64_t* t = phys_to_virt<uint64_t>(kernel_pml4_pa);
  for (int level = 4; level > 1; level--) {
    uint64_t e = t[(va >> (12 + 9 * (level - 1))) & 511];
    if (!(e & PTE_P) || (e & PTE_PS)) return nullptr;
    t = phys_to_virt<uint64_t>(e & PTE_ADDR);
  }
  return &t[(va >> 12) & 511];
}

}  // namespace veneer
