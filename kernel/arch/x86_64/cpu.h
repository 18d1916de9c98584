// Thin wrappers over x86-64 instructions the kernel needs.
#pragma once

#include <stdint.h>
#include "kernel/arch/x86_64/trapframe.h"

namespace veneer::arch {

#ifndef VENEER_HOSTED
inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
  uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
inline void wrmsr(uint32_t msr, uint64_t v) {
  asm volatile("wrmsr" ::"c"(msr), "a"(static_cast<uint32_t>(v)), "d"(static_cast<uint32_t>(v >> 32)));
}

struct CpuidResult { uint32_t eax, ebx, ecx, edx; };
inline CpuidResult cpuid(uint32_t leaf, uint32_t sub = 0) {
  CpuidResult r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(sub));
  return r;
}

inline uint64_t read_cr0() { uint64_t v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
inline void write_cr0(uint64_t v) { asm volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
inline uint64_t read_cr2() { uint64_t v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
inline uint64_t read_cr3() { uint64_t v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
inline void write_cr3(uint64_t v) { asm volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
inline uint64_t read_cr4() { uint64_t v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
inline void write_cr4(uint64_t v) { asm volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }
inline void invlpg(uint64_t va) { asm volatile("invlpg (%0)" ::"r"(va) : "memory"); }
inline uint64_t rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
inline void cli() { asm volatile("cli" ::: "memory"); }
inline void sti() { asm volatile("sti" ::: "memory"); }
inline void hlt() { asm volatile("hlt" ::: "memory"); }
inline void pause() { asm volatile("pause"); }

// User data-segment selectors (loading fs or gs resets that base to 0, the
// base of every user descriptor; the kernel uses neither).
// Straight between the registers and memory: one instruction each.
inline void save_segments(SegmentSelectors* s) {
  asm volatile("mov %%ds, %0\n mov %%es, %1\n mov %%fs, %2\n mov %%gs, %3"
               : "=m"(s->ds), "=m"(s->es), "=m"(s->fs), "=m"(s->gs));
}
inline void load_segments(const SegmentSelectors* s) {
  asm volatile("mov %0, %%ds\n mov %1, %%es\n mov %2, %%fs\n mov %3, %%gs"
               ::"m"(s->ds), "m"(s->es), "m"(s->fs), "m"(s->gs) : "memory");
}
// User SSE/x87 state (the kernel itself is built without SSE).
inline void fpu_save(uint8_t* area512) { asm volatile("fxsave64 %0" : "=m"(*area512)); }
inline void fpu_restore(const uint8_t* area512) { asm volatile("fxrstor64 %0" ::"m"(*area512)); }
#else
// A hosted build runs kernel code as an ordinary host program (the fuzzers
// of the system-call layer): privileged instructions are recorded here
// instead of executed, and the TSC is a counter the host program advances.
struct HostedCpu {
  uint64_t cr3, cr3_writes, invlpgs, tsc;
};
extern HostedCpu hosted_cpu;
inline void outb(uint16_t, uint8_t) {}
inline void outw(uint16_t, uint16_t) {}
inline void outl(uint16_t, uint32_t) {}
inline uint8_t inb(uint16_t) { return 0xFF; }
inline uint64_t read_cr3() { return hosted_cpu.cr3; }
inline void write_cr3(uint64_t v) { hosted_cpu.cr3 = v, hosted_cpu.cr3_writes++; }
inline void invlpg(uint64_t) { hosted_cpu.invlpgs++; }
inline uint64_t rdtsc() { return hosted_cpu.tsc; }
inline void cli() {}
inline void sti() {}
void hosted_hlt();  // the host program decides what halting means
inline void hlt() { hosted_hlt(); }
inline void pause() {}
inline void fpu_save(uint8_t*) {}
inline void fpu_restore(const uint8_t*) {}
inline void set_entry_stack(uint64_t) {}
inline void set_io_ports(uint16_t, uint16_t, bool) {}
inline void save_segments(SegmentSelectors* s) { *s = {}; }
inline void load_segments(const SegmentSelectors*) {}
inline uint64_t rdmsr(uint32_t) { return 0; }
inline void wrmsr(uint32_t, uint64_t) {}
#endif

// Copies n bytes (the kernel links no memcpy, and is built without SSE):
// eight at a time (rep movsq, the cheapest word loop; x86 needs no
// alignment for it), the rest byte by byte.
inline void copy_bytes(void* dst, const void* src, uint64_t n) {
  auto* d = static_cast<uint8_t*>(dst);
  auto* s = static_cast<const uint8_t*>(src);
  uint64_t words = n / 8;
#ifdef VENEER_HOSTED
  for (uint64_t w = 0; w < words; w++, d += 8, s += 8) __builtin_memcpy(d, s, 8);
#else
  asm volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(words) : : "memory");
#endif
  for (uint64_t i = 0; i < n % 8; i++) d[i] = s[i];
}

constexpr uint32_t MSR_EFER = 0xC0000080;
constexpr uint32_t MSR_STAR = 0xC0000081;
constexpr uint32_t MSR_LSTAR = 0xC0000082;
constexpr uint32_t MSR_CSTAR = 0xC0000083;
constexpr uint32_t MSR_FMASK = 0xC0000084;
constexpr uint32_t MSR_FS_BASE = 0xC0000100;
constexpr uint32_t MSR_SYSENTER_CS = 0x174;
constexpr uint32_t MSR_SYSENTER_ESP = 0x175;
constexpr uint32_t MSR_SYSENTER_EIP = 0x176;
constexpr uint32_t MSR_GS_BASE = 0xC0000101;
constexpr uint32_t MSR_KERNEL_GS_BASE = 0xC0000102;
constexpr uint32_t MSR_APIC_BASE = 0x1B;

constexpr uint64_t EFER_SCE = 1 << 0;
constexpr uint64_t EFER_LME = 1 << 8;
constexpr uint64_t EFER_NXE = 1 << 11;
constexpr uint64_t CR0_MP = 1 << 1, CR0_EM = 1 << 2, CR0_TS = 1 << 3, CR0_WP = 1 << 16;
constexpr uint64_t CR4_PGE = 1 << 7, CR4_OSFXSR = 1 << 9, CR4_OSXMMEXCPT = 1 << 10;
constexpr uint64_t CR4_UMIP = 1 << 11;
constexpr uint64_t CR4_PCIDE = 1 << 17, CR4_SMEP = 1 << 20, CR4_SMAP = 1 << 21;

// Page-table entry bits.
constexpr uint64_t PTE_P = 1ull << 0, PTE_W = 1ull << 1, PTE_U = 1ull << 2;
constexpr uint64_t PTE_PWT = 1ull << 3, PTE_PCD = 1ull << 4;
constexpr uint64_t PTE_A = 1ull << 5, PTE_D = 1ull << 6, PTE_PS = 1ull << 7, PTE_G = 1ull << 8;
constexpr uint64_t PTE_NX = 1ull << 63;
constexpr uint64_t PTE_ADDR = 0x000FFFFFFFFFF000ull;

// Where the CPU saves a trap from ring 3 (TSS.rsp0): the end of the
// running env's TrapFrame, so traps are saved in place.
void set_entry_stack(uint64_t top);
constexpr uint64_t kTssRsp0Offset = 4;
// Opens (allowed) or closes ports [first, first + count) to ring 3 in the
// TSS's I/O permission bitmap: the kernel opens the running env's bound
// ranges at each switch and closes the previous env's.
void set_io_ports(uint16_t first, uint16_t count, bool allowed);

// The kernel's code and data descriptors (cpu.cc's GDT, and boot.S's
// temporary one, which has the same layout).
constexpr uint64_t kGdtKernelCode64 = 0x00AF9A000000FFFF;
constexpr uint64_t kGdtKernelData = 0x00CF92000000FFFF;

// Segment selectors (see cpu.cc: the order is what syscall/sysret require).
constexpr uint16_t KERNEL_CS = 0x08, KERNEL_DS = 0x10;
constexpr uint16_t USER_DS = 0x20 | 3, USER_CS = 0x28 | 3;
constexpr uint16_t TSS_SEL = 0x30;

}  // namespace veneer::arch
