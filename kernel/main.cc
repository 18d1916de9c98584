// Boot: bring up the CPU, memory and timer, then start init from the first
// boot module with the initial allocation (its image, a stack, read-only
// mappings of every boot module, and the MACHINE capability).
#include "common/elf.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/boot_info.h"
#include "kernel/console.h"
#include "kernel/core/validate.h"
#include "kernel/dev/acpi.h"
#include "kernel/dev/framebuffer.h"
#include "kernel/env.h"
#include "kernel/lapic.h"
#include "kernel/memory.h"
#include "kernel/mm/code_pages.h"
#include "kernel/mm/wx.h"
#include "kernel/netif.h"
#include "kernel/vm.h"

extern "C" void (*_init_array_start[])(), (*_init_array_end[])();

namespace veneer {

void syscall_init();

namespace {

constexpr uint64_t kSliceNs = 1000000;  // 1 ms
constexpr uint64_t kGraceNs = 250000;   // an epilogue upcall gets a quarter slice

BootInfo boot;

// Allocates a frame owned by `e` and maps it at va.
uint64_t give_page(Env* e, uint64_t va, uint64_t perms) {
  uint64_t pfn;
  if (frame_alloc_zeroed(kAnyFrame, e->id, FRAME_USER, &pfn) != OK) panic("out of memory loading init");
  if (vm_map(e, va, pfn, perms, vm_may_bits(RIGHT_READ | RIGHT_WRITE | RIGHT_EXEC)) != OK) panic("cannot map init");
  return pfn;
}

// Loads an ELF64 executable from physical memory into env e; returns entry.
uint64_t load_elf(Env* e, uint64_t image_pa, uint64_t size) {
  const void* image = phys_to_virt<const void>(image_pa);
  auto* h = static_cast<const elf::Header*>(image);
  if (!elf::valid_executable(image, size)) panic("init module is not an x86-64 ELF executable");
  for (uint16_t i = 0; i < h->phnum; i++) {
    const elf::ProgramHeader* ph = &elf::program_header(image, i);
    if (ph->type != elf::kPtLoad || ph->memsz == 0) continue;
    if (ph->offset > size || ph->filesz > size - ph->offset || !core::is_user_range(ph->vaddr, ph->memsz))
      panic("init ELF segment out of bounds");
    uint64_t perms = elf::segment_perms(*ph);
    for (uint64_t va = ph->vaddr & ~(kPageSize - 1); va < ph->vaddr + ph->memsz; va += kPageSize) {
      // Two segments may share a page: it gets the union of their rights.
      uint64_t* pte = vm_pte(e, va);
      bool shared = pte && (*pte & arch::PTE_P);
      uint64_t pfn = shared ? (*pte & arch::PTE_ADDR) / kPageSize : give_page(e, va, perms);
      if (shared) {
        uint64_t old = ((*pte & arch::PTE_W) ? PERM_WRITE : 0) | ((*pte & arch::PTE_NX) ? 0 : PERM_EXEC);
        vm_protect_pte(e, va, pte, old | perms);
      }
      // Copy the file bytes that fall in this page.
      auto* dst = phys_to_virt<uint8_t>(pfn * kPageSize);
      for (uint64_t off = 0; off < kPageSize; off++) {
        uint64_t a = va + off;
        if (a >= ph->vaddr && a < ph->vaddr + ph->filesz)
          dst[off] = *phys_to_virt<const uint8_t>(image_pa + ph->offset + (a - ph->vaddr));
      }
    }
  }
  return h->entry;
}

void start_init() {
  if (boot.nmodules == 0) panic("no boot modules: pass init with -initrd (see README)");
  Env* init;
  if (env_create(nullptr, &init) != OK) panic("cannot create init");
  init->caps.put(kMachineSlot, core::Capability{CAP_MACHINE, kRightsAll, 0, 0, 0});

  // Every module, mapped read-only in init and owned by it.
  uint64_t va = kBootModulesVa;
  for (int m = 0; m < boot.nmodules && m < int(kMaxBootModules); m++) {
    const BootModuleRange& r = boot.modules[m];
    BootModule& bm = kernel_info->modules[m];
    bm.va = va + (r.start & (kPageSize - 1));
    bm.size = r.end - r.start;
    bm.first_pfn = r.start / kPageSize;
    for (int i = 0; i < 40; i++) bm.name[i] = r.name[i];
    for (uint64_t pa = r.start & ~(kPageSize - 1); pa < r.end; pa += kPageSize, va += kPageSize) {
      frames.assign(pa / kPageSize, init->id, FRAME_MODULE);
      if (vm_map(init, va, pa / kPageSize, PERM_READ, vm_may_bits(RIGHT_READ)) != OK) panic("cannot map module");
    }
    va += kPageSize;  // a guard gap between modules
  }
  kernel_info->nmodules = boot.nmodules;

  uint64_t entry = load_elf(init, boot.modules[0].start, boot.modules[0].end - boot.modules[0].start);
  for (uint64_t i = 1; i <= kInitStackPages; i++) give_page(init, kInitStackTop - i * kPageSize, PERM_WRITE);
  env_set_start(init, entry, kInitStackTop, 0);
  init->info->state = ENV_RUNNABLE;
  if (sched_slice_alloc(init, 0) != OK) panic("cannot give init its slice");
  kprintf("veneer: init is env %x (%s), entry %lx\n", init->id, boot.modules[0].name, entry);
}

}  // namespace

}  // namespace veneer

using namespace veneer;

extern "C" [[noreturn]] void kmain(uint32_t magic, uint32_t info) {
  console_init();
  for (auto* f = _init_array_start; f < _init_array_end; f++) (*f)();
  parse_boot_info(magic, info, &boot);
  kprintf("\nVeneer exokernel booting (%s)\n", boot.loader);
  // W^X needs the NX bit (boot.S leaves EFER.NXE off without it).
  if (!(arch::cpuid(0x80000000).eax >= 0x80000001 && (arch::cpuid(0x80000001).edx & (1u << 20))))
    panic("this CPU has no NX (no-execute) bit, or the firmware hides it: Veneer maps memory W^X and needs "
          "it. Enable \"Execute Disable Bit\" / \"NX\" in the firmware setup.");
  arch::cpu_init();
  kprintf("cpu: pcid %d smep %d smap %d pge %d umip %d\n", arch::features.pcid, arch::features.smep,
          arch::features.smap, arch::features.pge, arch::features.umip);
  memory_init(boot);
  framebuffer_init(boot.framebuffer);
  acpi_init(boot);
  machine_exit_skips_qemu_port = boot_option(boot, "exit=acpi");
  code_pages_init();
  if (boot_option(boot, "code_pages_selftest")) code_pages_selftest();
  if (boot_option(boot, "wx_selftest=violate")) wx_make_violation_for_test();
  wx_check_kernel_tables("boot");
  for (int i = 0; i < 255 && boot.cmdline[i]; i++) kernel_info->cmdline[i] = boot.cmdline[i];
  env_init();
  syscall_init();
  lapic_init();
  netif_init(net_buffers_pa);  // after the LAPIC: its MSI-X message names this CPU
  kernel_info->timer_hz = lapic_timer_hz();
  kernel_info->slice_ns = kSliceNs;
  sched_init(kSliceNs, kGraceNs);
  slice_table->tsc_hz = tsc_hz();
  start_init();
  schedule();
}
