// Process start-up: record identity, run constructors, install the
// exception entry, call main, exit.
#include "exos/exos.h"
#include "exos/proc.h"
#include "exos/vm.h"
#include "internal.h"

extern "C" void (*__init_array_start[])() __attribute__((weak));
extern "C" void (*__init_array_end[])() __attribute__((weak));

namespace exos {

uint64_t start_arg() { return internal::priv().start_arg; }

void exit() {
  if (proc::managed() && proc::getpid() != proc::kInitPid) proc::exit(0);
  sys_env_destroy(veneer::kSelfSlot);
  for (;;) sys_yield();  // not reached
}

namespace internal {
void private_init() {
  if (page_alloc(layout::kPrivateStateVa, veneer::PERM_WRITE | layout::kMarkPrivate) != veneer::OK)
    for (;;) sys_env_destroy(veneer::kSelfSlot);  // nothing runs without it
}
}  // namespace internal

void panic(const char* msg) {
  printf("exos: env %x panic: %s\n", self_id(), msg);
  if (proc::managed() && proc::getpid() != proc::kInitPid) proc::exit_signaled(proc::kSigAbrt);
  exit();
}

uint64_t find_mapping(uint64_t pfn) {
  constexpr uint64_t w = veneer::kPageTableWindowVa;
  constexpr uint64_t r = veneer::kRecursivePml4Slot;
  auto table = [](uint64_t a, uint64_t b, uint64_t c) {
    return reinterpret_cast<const uint64_t*>(w | (a << 30) | (b << 21) | (c << 12));
  };
  const uint64_t* pml4 = table(r, r, r);
  for (uint64_t i4 = 0; i4 < veneer::kKernelTablesPml4Slot; i4++) {
    if (!(pml4[i4] & 1)) continue;
    const uint64_t* pdpt = table(r, r, i4);
    for (uint64_t i3 = 0; i3 < 512; i3++) {
      if (!(pdpt[i3] & 1)) continue;
      const uint64_t* pd = table(r, i4, i3);
      for (uint64_t i2 = 0; i2 < 512; i2++) {
        if (!(pd[i2] & 1)) continue;
        const uint64_t* pt = table(i4, i3, i2);
        for (uint64_t i1 = 0; i1 < 512; i1++)
          if ((pt[i1] & 1) && ((pt[i1] >> 12) & 0xFFFFFFFFFFull) == pfn)
            return (i4 << 39) | (i3 << 30) | (i2 << 21) | (i1 << 12);
      }
    }
  }
  return 0;
}

bool cmdline_get(const char* key, char* buf, size_t size) {
  const char* c = kernel_info().cmdline;
  size_t klen = strlen(key);
  while (*c) {
    while (*c == ' ') c++;
    const char* word = c;
    while (*c && *c != ' ') c++;
    if (size_t(c - word) > klen && memcmp(word, key, klen) == 0 && word[klen] == '=') {
      size_t n = 0;
      for (const char* v = word + klen + 1; v < c && n + 1 < size; v++) buf[n++] = *v;
      buf[n] = '\0';
      return true;
    }
  }
  return false;
}

}  // namespace exos

extern "C" [[noreturn]] void exos_start(uint64_t arg, uint64_t env_id) {
  exos::internal::private_init();
  exos::internal::priv().start_arg = arg;
  exos::internal::priv().self_id = static_cast<uint32_t>(env_id);
  if (__init_array_start)
    for (auto* f = __init_array_start; f < __init_array_end; f++) (*f)();
  if (exos::exceptions_init() != veneer::OK) exos::panic("cannot install exception handler");
  exos::vm::init();
  exos::internal::proc_adopt();  // a process spawned or exec'd: its identity and descriptors
  int code = main();
  if (exos::proc::managed() && exos::proc::getpid() != exos::proc::kInitPid) exos::proc::exit(code);
  exos::exit();
}

// The process manager's start (proc/manager.cc): init starts it from its own
// image at exos_manager_entry, which calls this.
extern "C" [[noreturn]] void exos_manager_start(uint64_t arg, uint64_t env_id) {
  exos::internal::private_init();
  exos::internal::priv().start_arg = arg;
  exos::internal::priv().self_id = static_cast<uint32_t>(env_id);
  if (__init_array_start)
    for (auto* f = __init_array_start; f < __init_array_end; f++) (*f)();
  if (exos::exceptions_init() != veneer::OK) exos::panic("cannot install exception handler");
  exos::vm::init();
  exos::internal::manager_main();
}

extern "C" void __cxa_pure_virtual() { exos::panic("pure virtual call"); }
