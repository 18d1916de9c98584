// CPU setup: descriptor tables, syscall MSRs, control-register features.
#include "kernel/arch/x86_64/cpu.h"

#include "kernel/arch/x86_64/percpu.h"

extern "C" uint64_t isr_table[256];
extern "C" void syscall_entry();
extern "C" void syscall_compat_entry();
extern "C" char kernel_stack_top[];
extern "C" char pf_stack_top[];  // entry.S: #PF's IST stack
extern "C" uint64_t _smap_sites_start[], _smap_sites_end[];

namespace veneer::arch {

struct [[gnu::packed]] Tss {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
  // The I/O permission bitmap: a clear bit lets ring 3 use that port. Only
  // the running env's bound ranges are ever clear (set_io_ports at each
  // switch); the byte after it must be all ones.
  uint8_t io_bitmap[65536 / 8];
  uint8_t io_bitmap_end;
};

PerCpu cpu0;
CpuFeatures features;

namespace {

struct [[gnu::packed]] DescriptorPointer {
  uint16_t limit;
  uint64_t base;
};

struct IdtGate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attr;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t zero;
};

// Order fixed by syscall/sysret: STAR[47:32] = kernel CS (0x08, SS = 0x10);
// STAR[63:48] = 0x18, so sysret loads SS = 0x20|3 and CS = 0x28|3.
// Slot 0x18 is where sysret would find a 32-bit user code segment (its
// 32-bit form, which Veneer never uses). It stays empty: with no 32-bit code
// segment an env cannot enter compatibility mode, where syscall would take
// the CSTAR entry and exceptions would return to 64-bit handlers in 32-bit
// mode. A far jump or far return to 0x1b raises #GP.
alignas(16) uint64_t gdt[8] = {
    0,
    kGdtKernelCode64,    // 0x08 kernel code 64
    kGdtKernelData,      // 0x10 kernel data
    0,                   // 0x18 no 32-bit user code
    0x00CFF2000000FFFF,  // 0x20 user data
    0x00AFFA000000FFFF,  // 0x28 user code 64
    0, 0,                // 0x30 TSS (two slots)
};
}  // namespace

// External linkage: the PCT fast path in entry.S writes TSS.rsp0 directly.
alignas(16) Tss tss asm("veneer_tss");
static_assert(offsetof(Tss, rsp) == kTssRsp0Offset);

namespace {
alignas(16) IdtGate idt[256];
alignas(16) uint8_t double_fault_stack[4096];
alignas(16) uint8_t nmi_stack[4096];

void set_gate(int vec, uint64_t handler, uint8_t dpl, uint8_t ist) {
  idt[vec] = IdtGate{static_cast<uint16_t>(handler), KERNEL_CS, ist,
                     static_cast<uint8_t>(0x8E | (dpl << 5)),  // present, interrupt gate
                     static_cast<uint16_t>(handler >> 16),
                     static_cast<uint32_t>(handler >> 32), 0};
}

// Replaces every stac/clac with a 3-byte nop when the CPU lacks SMAP.
void patch_smap_sites() {
  for (uint64_t* site = _smap_sites_start; site < _smap_sites_end; site++) {
    auto* p = reinterpret_cast<uint8_t*>(*site);
    uint64_t cr0 = read_cr0();
    write_cr0(cr0 & ~CR0_WP);
    p[0] = 0x0F; p[1] = 0x1F; p[2] = 0x00;  // nopl (%rax)
    write_cr0(cr0);
  }
}

}  // namespace

void cpu_init() {
  CpuidResult l1 = cpuid(1), l7 = cpuid(7), e1 = cpuid(0x80000001);
  features.pcid = l1.ecx & (1u << 17);
  features.pge = l1.edx & (1u << 13);
  features.smep = l7.ebx & (1u << 7);
  features.smap = l7.ebx & (1u << 20);
  features.pdpe1gb = e1.edx & (1u << 26);
  features.umip = l7.ecx & (1u << 2);

  // TSS: rsp0 is set to the running env's TrapFrame at every switch (traps
  // from ring 3 are saved there in place); IST1 a separate double-fault stack.
  tss.rsp[0] = reinterpret_cast<uint64_t>(kernel_stack_top);
  tss.ist[0] = reinterpret_cast<uint64_t>(double_fault_stack + sizeof(double_fault_stack));
  // NMI and machine check may arrive in the syscall path before it leaves the
  // user stack: they get a stack of their own.
  tss.ist[1] = reinterpret_cast<uint64_t>(nmi_stack + sizeof(nmi_stack));
  // #PF: the exception fast path pushes frames onto user exception stacks
  // in ring 0, where a bad stack raises #PF: it must get a stack of its own.
  tss.ist[2] = reinterpret_cast<uint64_t>(pf_stack_top);
  // Every port denied to ring 3 until an env binds a range (ioport_bind).
  for (uint8_t& b : tss.io_bitmap) b = 0xFF;
  tss.io_bitmap_end = 0xFF;
  tss.iomap_base = offsetof(Tss, io_bitmap);
  uint64_t base = reinterpret_cast<uint64_t>(&tss), limit = sizeof(Tss) - 1;
  gdt[6] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
           (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
  gdt[7] = base >> 32;
  DescriptorPointer gp{sizeof(gdt) - 1, reinterpret_cast<uint64_t>(gdt)};
  asm volatile(
      "lgdt %0\n"
      "pushq $0x08\n"
      "leaq 1f(%%rip), %%rax\n"
      "pushq %%rax\n"
      "lretq\n"
      "1:\n"
      "mov $0x10, %%ax\n"
      "mov %%ax, %%ss\n"
      "xor %%eax, %%eax\n"  // 64-bit code needs no data segments; envs load their own
      "mov %%ax, %%ds\n"
      "mov %%ax, %%es\n"
      "ltr %w1\n" ::"m"(gp), "r"(TSS_SEL)
      : "rax", "memory");

  // IDT: breakpoint and overflow may be raised with int3/into from ring 3.
  for (int v = 0; v < 256; v++)
    set_gate(v, isr_table[v], (v == 3 || v == 4) ? 3 : 0, v == 8 ? 1 : (v == 2 || v == 18) ? 2 : v == 14 ? 3 : 0);
  DescriptorPointer ip{sizeof(idt) - 1, reinterpret_cast<uint64_t>(idt)};
  asm volatile("lidt %0" ::"m"(ip));

  // Per-CPU data is a global (one CPU): the kernel never uses GS, so both
  // GS bases stay 0 and no crossing needs swapgs.
  cpu0.self = &cpu0;
  cpu0.kernel_rsp = reinterpret_cast<uint64_t>(kernel_stack_top);
  wrmsr(MSR_GS_BASE, 0);
  wrmsr(MSR_KERNEL_GS_BASE, 0);

  // syscall/sysret. FMASK clears IF (the kernel runs with interrupts off),
  // TF, DF, NT and AC (so SMAP stays armed whatever user rflags were).
  wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE | EFER_NXE);
  wrmsr(MSR_STAR, (0x18ull << 48) | (static_cast<uint64_t>(KERNEL_CS) << 32));
  wrmsr(MSR_LSTAR, reinterpret_cast<uint64_t>(&syscall_entry));
  // The other system-call instructions: syscall from compatibility mode
  // (unreachable, see the GDT) destroys the env; sysenter raises #GP (a null
  // SYSENTER_CS), which reaches the env's handler like any fault.
  wrmsr(MSR_CSTAR, reinterpret_cast<uint64_t>(&syscall_compat_entry));
  wrmsr(MSR_SYSENTER_CS, 0);
  wrmsr(MSR_SYSENTER_ESP, 0);
  wrmsr(MSR_SYSENTER_EIP, 0);
  wrmsr(MSR_FMASK, 0x200 | 0x100 | 0x400 | 0x4000 | 0x40000);

  // SSE for user code (the kernel is built without it), write protection in
  // ring 0, global kernel pages, SMEP/SMAP where present.
  write_cr0((read_cr0() | CR0_MP | CR0_WP) & ~(CR0_EM | CR0_TS));
  uint64_t cr4 = read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;
  if (features.pge) cr4 |= CR4_PGE;
  if (features.smep) cr4 |= CR4_SMEP;
  if (features.pcid) cr4 |= CR4_PCIDE;
  // sgdt, sidt, sldt, smsw and str from ring 3 would reveal kernel addresses.
  if (features.umip) cr4 |= CR4_UMIP;
  if (!features.smap) patch_smap_sites();
  write_cr4(cr4);
  if (features.smap) write_cr4(cr4 | CR4_SMAP);
}

void set_entry_stack(uint64_t top) { tss.rsp[0] = top; }

void set_io_ports(uint16_t first, uint16_t count, bool allowed) {
  for (uint32_t p = first; p < uint32_t{first} + count; p++) {
    uint8_t bit = static_cast<uint8_t>(1u << (p % 8));
    tss.io_bitmap[p / 8] = allowed ? tss.io_bitmap[p / 8] & ~bit : tss.io_bitmap[p / 8] | bit;
  }
}

}  // namespace veneer::arch
