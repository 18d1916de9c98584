#include "kernel/mm/wx.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/console.h"
#include "kernel/memory.h"
#include "kernel/mm/wx_audit.h"

extern "C" char _text_start[], _rodata_start[], _rodata_end[], _kernel_end[];

namespace veneer {

using namespace arch;

namespace {

const uint64_t* read_table(uint64_t pa) { return phys_to_virt<const uint64_t>(pa); }

// The roots every address space shares: the kernel PML4's upper half (direct
// map, image, sealed code) and the tables window, entered as env_create
// links it (PML4[254]: present, user, no-exec).
int kernel_roots(mm::WxRoot* roots) {
  roots[0] = mm::WxRoot{kernel_pml4_pa, 4, 0, PTE_W};
  roots[1] = mm::WxRoot{ktables_pdpt_pa, 3, kKernelTablesVa, PTE_P | PTE_U | PTE_NX};
  return 2;
}

const char* image_section(uint64_t va) {
  if (va < reinterpret_cast<uint64_t>(_rodata_start)) return "text";
  if (va < reinterpret_cast<uint64_t>(_rodata_end)) return "rodata";
  return "data/bss";
}

}  // namespace

void wx_check_kernel_tables(const char* when) {
  bool nx = rdmsr(MSR_EFER) & EFER_NXE;
  if (!nx) panic("W^X check: EFER.NXE is off, so every page is executable");
  mm::WxRoot roots[2];
  int nroots = kernel_roots(roots);

  // Each image page has its section's rights; the window is read-only data.
  uint64_t text = reinterpret_cast<uint64_t>(_text_start), end = reinterpret_cast<uint64_t>(_kernel_end);
  uint64_t rodata = reinterpret_cast<uint64_t>(_rodata_start);
  uint64_t data = (reinterpret_cast<uint64_t>(_rodata_end) + kPageSize - 1) & ~(kPageSize - 1);
  uint64_t image_pages = 0, text_pages = 0;
  mm::wx_walk(roots, nroots, nx, read_table, [&](const mm::WxLeaf& l) {
    if (l.user && (l.writable || l.executable))
      panic("W^X violation (%s): the kernel tables window at %lx is %s", when, l.va,
            l.writable ? "writable" : "executable");
    if (l.va < text || l.va >= end) return;
    bool want_w = l.va >= data, want_x = l.va < rodata;
    if (l.size != kPageSize || l.writable != want_w || l.executable != want_x)
      panic("W^X violation (%s): kernel %s page %lx is mapped %s%s (size %lx)", when, image_section(l.va), l.va,
            l.writable ? "writable" : "read-only", l.executable ? ", executable" : "", l.size);
    image_pages++;
    text_pages += want_x;
  });
  if (image_pages != (end - text) / kPageSize)
    panic("W^X check (%s): %lu of the image's %lu pages are mapped", when, image_pages, (end - text) / kPageSize);

  mm::WxResult r = mm::wx_audit(roots, nroots, nx, read_table);
  if (r.overflow) panic("W^X check (%s): too many separate executable ranges to audit", when);
  if (!r.ok)
    panic("W^X violation (%s): physical page %lx is writable at %lx and executable at %lx", when,
          r.writable.pa > r.executable.pa ? r.writable.pa : r.executable.pa, r.writable.va, r.executable.va);
  kprintf("wx: kernel page tables are W^X (%s): %lu KiB executable (text %lu KiB), none of it writable anywhere; "
          "%lu mappings checked\n",
          when, r.executable_bytes >> 10, text_pages * 4, r.leaves);
}

void wx_make_violation_for_test() {
  // The last page of the sealed-code window, writable, aliasing kernel text.
  uint64_t va = kSealedCodeVa + (512 - 1) * kPageSize;
  uint64_t* pte = kernel_pte(va);
  if (!pte) panic("wx self-test: no page table at %lx", va);
  *pte = (reinterpret_cast<uint64_t>(_text_start) - kKernelVma) | PTE_P | PTE_W | PTE_NX;
  invlpg(va);
  kprintf("wx: self-test: kernel text aliased writable at %lx\n", va);
}

}  // namespace veneer
