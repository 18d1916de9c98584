// User-level exception dispatch: the kernel delivers every CPU exception to
// exos_exception_entry; this table picks the program's handler per vector.
#include "exos/exos.h"

namespace exos {
namespace {

constexpr uint64_t kXStackPages = 4;
constexpr uint64_t kXStackTop = 0x00006F0000000000;  // just below the stacks
ExceptionHandler handlers[64];  // CPU exceptions 0-31, kernel upcalls and foreign calls 32-35

}  // namespace

void set_exception_handler(uint64_t vector, ExceptionHandler h) {
  if (vector < 64) handlers[vector] = h;
}

Status exceptions_init() {
  for (uint64_t i = 1; i <= kXStackPages; i++) {
    Status s = page_alloc(kXStackTop - i * veneer::kPageSize, veneer::PERM_WRITE);
    if (s != veneer::OK) return s;
  }
  SysResult r = sys_env_set_handler(veneer::kSelfSlot, reinterpret_cast<uint64_t>(&exos_exception_entry),
                                    kXStackTop, kXStackPages * veneer::kPageSize);
  return static_cast<Status>(r.status);
}

}  // namespace exos

extern "C" void exos_dispatch_exception(veneer::ExceptionFrame* f) {
  if (f->vector < 64 && exos::handlers[f->vector]) {
    exos::handlers[f->vector](f);
    return;
  }
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
  exos::printf("exos: env %x: unhandled exception %lu at rip %lx (addr %lx, error %lx)\n",
               exos::self_id(), f->vector, f->rip, f->fault_addr, f->error_code);
  exos::exit();
}
