// Traps that the fast paths in entry.S do not finish: interrupts, exceptions
// in kernel mode, and user exceptions of envs without a handler.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/console.h"
#include "kernel/env.h"
#include "kernel/irq.h"
#include "kernel/lapic.h"
#include "kernel/memory.h"
#include "kernel/netif.h"

// [begin, end) ranges of the entry code's stores into exception stacks.
extern "C" const uint64_t _xframe_writes_start[], _xframe_writes_end[];

namespace veneer {

using namespace arch;

namespace {

const char* exception_name(uint64_t v) {
  static const char* const names[] = {
      "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
      "#BR bound range", "#UD invalid opcode", "#NM device not available",
      "#DF double fault", "coprocessor overrun", "#TS invalid TSS",
      "#NP segment not present", "#SS stack fault", "#GP general protection",
      "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check",
      "#MC machine check", "#XM SIMD error", "#VE virtualization", "#CP control protection"};
  if (v == kVecForeignSyscall) return "foreign system call";
  if (v == kSyscallVector) return "system call";
  return v < sizeof(names) / sizeof(names[0]) ? names[v] : "exception";
}

[[noreturn]] void kill_current(const char* why, const TrapFrame* tf) {
  Env* e = cpu0.current;
  kprintf("veneer: env %x %s: %s at rip %lx (addr %lx, error %lx); destroyed\n", e->id, why,
          exception_name(tf->vector), tf->rip, tf->vector == 14 ? read_cr2() : 0, tf->error_code);
  env_destroy(e);
  schedule();
}

}  // namespace

extern "C" void trap(TrapFrame* tf) {
  if (features.smap) asm volatile("clac");
  bool from_user = (tf->cs & 3) == 3;

  if (tf->vector == kTimerVector) {
    lapic_eoi();
    console_drain();  // the log goes out as fast as the UART takes it
    if (!from_user) return;  // the idle loop
    sched_timer();
  }
  if (tf->vector >= kIrqVectorBase && tf->vector < kIrqVectorBase + kIrqLines) {
    irq_arrived(tf->vector - kIrqVectorBase);
    if (!from_user) return;  // the idle loop: the env hears of it when it next runs
    irq_deliver(cpu0.current);  // its own line: the upcall now
    env_pop_tf(tf);
  }
  if (tf->vector == kNetVector) {
    lapic_eoi();
    netif_receive();
    if (!from_user) return;
    if (cpu0.current->irq_pending) irq_deliver(cpu0.current);  // its frames arrived: the upcall now
    env_pop_tf(tf);
  }
  if (tf->vector == kSpuriousVector || tf->vector >= 32) {
    if (!from_user) return;
    env_pop_tf(tf);
  }

  if (!from_user) {
    // The entry code faulted writing an exception frame: the env's exception
    // stack is unusable. The env loses, not the kernel.
    uint64_t rip = tf->rip;
    for (const uint64_t* r = _xframe_writes_start; r < _xframe_writes_end; r += 2)
      if (tf->vector == 14 && rip >= r[0] && rip < r[1] && cpu0.current)
        kill_current("has an unusable exception stack", tf);
    panic("%s in kernel at rip %lx, addr %lx, error %lx, rsp %lx", exception_name(tf->vector), rip,
          read_cr2(), tf->error_code, tf->rsp);
  }
  kill_current(cpu0.current->xhandler ? "overflowed its exception stack" : "has no exception handler", tf);
}

// A foreign system call found the env's exception stack full.
extern "C" [[noreturn]] void syscall_foreign_overflow(TrapFrame* tf) {
  tf->vector = kVecForeignSyscall;
  kill_current("overflowed its exception stack", tf);
}

// syscall from compatibility mode (MSR_CSTAR): no env can get there.
extern "C" [[noreturn]] void syscall_from_compat_mode(TrapFrame* tf) {
  kill_current("made a system call from compatibility mode", tf);
}

}  // namespace veneer
