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

// The program's handler per vector: CPU exceptions 0-31, kernel upcalls and
// foreign calls 32-35. exception_entry.S calls them straight from here
// (EXOS_HANDLER_VECTORS there is its size).
extern "C" exos::ExceptionHandler exos_exception_handlers[64];
exos::ExceptionHandler exos_exception_handlers[64];

namespace exos {
namespace {
constexpr auto& handlers = exos_exception_handlers;
}  // namespace

void set_exception_handler(uint64_t vector, ExceptionHandler h) {
  if (vector < 64) handlers[vector] = h;
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

// Vectors without a handler of the program's (exception_entry.S calls
// those directly).
extern "C" void exos_dispatch_exception(veneer::ExceptionFrame* f) {
  if (f->vector < 64 && exos_exception_handlers[f->vector]) {  // (also reached when called from C++)
    exos_exception_handlers[f->vector](f);
    return;
  }
  // Page faults: the region map's policies and copy-on-write (vm.h), unless
  // the program installed its own handler above.
  if (f->vector == 14 && exos::vm::handle_page_fault(f)) return;
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
