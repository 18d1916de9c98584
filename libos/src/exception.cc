// User-level exception dispatch: the kernel delivers every CPU exception to
// exos_exception_entry; this table picks the program's handler per vector.
#include "exos/exos.h"
#include "exos/proc.h"
#include "exos/vm.h"
#include "internal.h"

namespace exos {
namespace {

constexpr uint64_t kXStackPages = layout::kXStackPages;
constexpr uint64_t kXStackTop = layout::kXStackTop;  // just below the stacks
}  // namespace
}  // namespace exos

namespace exos {
void window_fault(veneer::ExceptionFrame* f);
}

// The program's handler per vector: CPU exceptions 0-31, kernel upcalls and
// foreign calls 32-35. exception_entry.S calls them straight from here
// (EXOS_HANDLER_VECTORS there is its size). Vector 14 is always
// window_fault (below), from the first instruction on.
extern "C" exos::ExceptionHandler exos_exception_handlers[64];
exos::ExceptionHandler exos_exception_handlers[64] = {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                                      nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                                      exos::window_fault};

namespace exos {
namespace {
constexpr auto& handlers = exos_exception_handlers;
}  // namespace

// Page faults go through window_fault first (read_pte's missing levels),
// then to the program's handler, or to ExOS's policies.
ExceptionHandler program_page_fault;

void set_exception_handler(uint64_t vector, ExceptionHandler h) {
  if (vector == 14) program_page_fault = h;
  else if (vector < 64) handlers[vector] = h;
}

Status exceptions_init() {
  for (uint64_t i = 1; i <= kXStackPages; i++) {
    // Private: a forked child gets an exception stack of its own.
    Status s = page_alloc(kXStackTop - i * veneer::kPageSize, veneer::PERM_WRITE | layout::kMarkPrivate);
    if (s != veneer::OK) return s;
  }
  SysResult r = sys_env_set_handler(veneer::kSelfSlot, reinterpret_cast<uint64_t>(&exos_exception_entry),
                                    kXStackTop, kXStackPages * veneer::kPageSize);
  return static_cast<Status>(r.status);
}

}  // namespace exos

extern "C" const uint8_t __executable_start[], etext[];

namespace exos {
namespace {
void unhandled(veneer::ExceptionFrame* f);

}  // namespace

// Vector 14, always: a read_pte load (ExOS's own code, the exact
// instruction) that found a level missing reads 0 and goes on; any other
// fault goes to the program's handler or ExOS's policies.
void window_fault(veneer::ExceptionFrame* f) {
  const auto* rip = reinterpret_cast<const uint8_t*>(f->rip);
  if ((f->fault_addr >> 39) == (veneer::kPageTableWindowVa >> 39) && rip >= __executable_start && rip + 3 <= etext &&
      rip[0] == 0x48 && rip[1] == 0x8B && rip[2] == 0x00) {
    f->rax = 0;
    f->rip += 3;
    return;
  }
  if (program_page_fault) return program_page_fault(f);
  // The region map's policies and copy-on-write (vm.h).
  if (!vm::handle_page_fault(f)) unhandled(f);
}

}  // namespace exos

// Vectors without a handler of the program's (exception_entry.S calls
// those directly).
extern "C" void exos_dispatch_exception(veneer::ExceptionFrame* f) {
  if (f->vector < 64 && exos_exception_handlers[f->vector]) {  // (also reached when called from C++)
    exos_exception_handlers[f->vector](f);
    return;
  }
  exos::unhandled(f);
}

namespace exos {
namespace {
void unhandled(veneer::ExceptionFrame* f) {
  if (f->vector == veneer::kVecSliceEnd) {
    // Default epilogue: nothing to save beyond what the kernel keeps; give
    // the CPU back now (resumed here when the next slice comes).
    exos::sys_yield();
    return;
  }
  if (f->vector == veneer::kVecSliceStart || f->vector == veneer::kVecReclaim) return;
  if (f->vector == veneer::kVecForeignSyscall) {
    // A program that emulates no other kernel: the call fails as an unknown
    // Veneer call does.
    f->rax = static_cast<uint64_t>(veneer::ERR_BAD_SYSCALL);
    return;
  }
  // A second unhandled exception while ending (a process out of memory can
  // fault again on the way out): end now, with nothing that needs memory;
  // the manager finds the env gone and reports it killed.
  if (exos::internal::priv().crashing++) exos::sys_env_destroy(veneer::kSelfSlot);
  exos::printf("exos: env %x: unhandled exception %lu at rip %lx (addr %lx, error %lx)\n",
               exos::self_id(), f->vector, f->rip, f->fault_addr, f->error_code);
  // A process ends as killed by the matching signal (its parent's wait says
  // so); a bare env just ends.
  if (exos::proc::managed()) exos::proc::exit_signaled(exos::proc::signal_for_vector(f->vector));
  exos::exit();
}
}  // namespace
}  // namespace exos
