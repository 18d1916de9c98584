#include "tests/hosted/hosted_kernel.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/console.h"
#include "kernel/irq.h"
#include "kernel/lapic.h"
#include "kernel/memory.h"
#include "kernel/netif.h"

namespace hosted {
bool verbose;
namespace {
jmp_buf kernel_exit;  // where "return to user mode" lands
bool in_call;
enum Exit { EXIT_TO_USER = 1, EXIT_POWEROFF = 2, EXIT_IDLE = 3 };
[[noreturn]] void leave_kernel(Exit how) {
  if (!in_call) {
    fprintf(stderr, "hosted kernel: left the kernel outside a call\n");
    abort();
  }
  longjmp(kernel_exit, how);
}
}  // namespace
}  // namespace hosted

// The real return to user mode: here, back to hosted::call.
extern "C" {
void env_pop_tf(veneer::arch::TrapFrame*) { hosted::leave_kernel(hosted::EXIT_TO_USER); }
[[noreturn]] void syscall_slow_dispatch(veneer::arch::TrapFrame* tf);
}

namespace veneer {

#define DECLARE_FAST(name, args) SysResult sys_##name(VENEER_PARAMS(args));
#define DECLARE_SLOW(name, args)
#define DECLARE_HANDLER(num, name, path, args) DECLARE_##path(name, args)
VENEER_SYSCALLS(DECLARE_HANDLER)
#undef DECLARE_HANDLER
void syscall_init();

namespace arch {
HostedCpu hosted_cpu;
PerCpu cpu0;
CpuFeatures features;
void hosted_hlt() { hosted::leave_kernel(hosted::EXIT_IDLE); }
}  // namespace arch

uint8_t* hosted_phys;

size_t console_write(const char* s, size_t n) {
  if (hosted::verbose) fwrite(s, 1, n, stderr);
  return n;
}
void console_drain() {}
void kprintf(const char* f, ...) {
  if (!hosted::verbose) return;
  va_list ap;
  va_start(ap, f);
  vfprintf(stderr, f, ap);
  va_end(ap);
}
void panic(const char* f, ...) {
  fprintf(stderr, "KERNEL PANIC (hosted): ");
  va_list ap;
  va_start(ap, f);
  vfprintf(stderr, f, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  abort();
}
void machine_exit(uint64_t) { hosted::leave_kernel(hosted::EXIT_POWEROFF); }

void lapic_arm(uint64_t) {}
void lapic_eoi() {}
uint64_t lapic_timer_hz() { return 1000000000; }
uint64_t tsc_hz() { return 1000000000; }

// A hosted machine has no network interface (kernel/netif.h): the system
// calls stop at netif_present(), and a dying env has no filters.
bool netif_present() { return false; }
void netif_env_gone(Env*) {}
Status netif_filter_install(Env*, const Filter&, const NetRingPfns&, uint64_t, uint32_t*) { return ERR_NO_DEVICE; }
Status netif_filter_remove(Env*, uint64_t) { return ERR_NO_DEVICE; }
Status netif_send(const uint8_t*, uint64_t) { return ERR_NO_DEVICE; }
Status netif_handler_attach(Env*, uint64_t, const BpfInsn*, uint32_t, uint64_t) { return ERR_NO_DEVICE; }
Status netif_handler_detach(Env*, uint64_t) { return ERR_NO_DEVICE; }
uint64_t netif_check(void (*)(const char*, uint64_t, uint64_t)) { return 0; }

}  // namespace veneer

namespace hosted {

using namespace veneer;

namespace {

// Storage the boot code would carve out of RAM.
std::vector<uint8_t> phys;
std::vector<FrameInfo> frame_info;
std::vector<core::FrameMeta> frame_meta;
KernelInfo kinfo;
EnvInfo env_rows[kMaxEnvs];
SliceVector slice_rows;
RepossessionVector repos_rows[kMaxEnvs];

// Calls a fast handler with its own arity, from the ABI table.
#define ARGS_0(a)
#define ARGS_1(a) a[0]
#define ARGS_2(a) a[0], a[1]
#define ARGS_3(a) a[0], a[1], a[2]
#define ARGS_4(a) a[0], a[1], a[2], a[3]
#define ARGS_5(a) a[0], a[1], a[2], a[3], a[4]
#define ARGS_6(a) a[0], a[1], a[2], a[3], a[4], a[5]
#define ARGS_N(n, a) VENEER_CAT(ARGS_, n)(a)
SysResult fast_call(uint64_t index, const uint64_t a[6]) {
  switch (index) {
#define FAST_CASE_FAST(num, name, args) \
  case num: return sys_##name(ARGS_N(VENEER_COUNT(args), a));
#define FAST_CASE_SLOW(num, name, args)
#define FAST_CASE(num, name, path, args) FAST_CASE_##path(num, name, args)
    VENEER_SYSCALLS(FAST_CASE)
#undef FAST_CASE
    default: return SysResult{ERR_BAD_SYSCALL, 0};
  }
}

}  // namespace

Env* boot(uint64_t nframes) {
  phys.assign(nframes * kPageSize, 0);
  hosted_phys = phys.data();
  frame_info.assign(nframes, FrameInfo{});
  frame_meta.assign(nframes, core::FrameMeta{});
  kinfo = KernelInfo{};
  for (auto& r : env_rows) r = EnvInfo{};
  slice_rows = SliceVector{};
  for (auto& r : repos_rows) r = RepossessionVector{};
  arch::hosted_cpu = arch::HostedCpu{};
  arch::cpu0 = arch::PerCpu{};
  arch::cpu0.self = &arch::cpu0;

  kernel_info = &kinfo;
  env_table = env_rows;
  slice_table = &slice_rows;
  repossession = repos_rows;
  accounts.init(env_rows);
  frames.init(frame_info.data(), frame_meta.data(), nframes, env_rows, &accounts);
  rmap.init(&frames, hosted_phys);
  kernel_pml4_pa = 1 * kPageSize;  // frames 1 and 2: the kernel's tables
  ktables_pdpt_pa = 2 * kPageSize;
  for (uint64_t p = kReservedFrames; p < nframes; p++) frames.release(p);
  kinfo.magic = kKernelInfoMagic;
  kinfo.nframes = nframes;
  kinfo.max_envs = kMaxEnvs;

  env_init();
  irq_init();
  syscall_init();
  sched_init(1000000, 250000);
  Env* init;
  if (env_create(nullptr, &init) != OK) panic("cannot create init");
  init->caps.put(kMachineSlot, core::Capability{CAP_MACHINE, kRightsAll, 0, 0, 0});
  init->info->state = ENV_RUNNABLE;
  if (sched_slice_alloc(init, 0) != OK) panic("cannot give init its slice");
  arch::cpu0.current = init;
  return init;
}

SysResult call(Env* caller, uint64_t num, const uint64_t args[6], bool* switched) {
  arch::cpu0.current = caller;
  arch::hosted_cpu.tsc += 1000;
  if (switched) *switched = false;
  if (num >= VENEER_FAST_FIRST) return fast_call(syscall_index(num), args);
  // Slow calls save the whole user context and leave the kernel through
  // env_pop_tf (or idle, or power off): the longjmp lands here.
  arch::TrapFrame tf{};
  tf.rax = num;
  tf.rdi = args[0];
  tf.rsi = args[1];
  tf.rdx = args[2];
  tf.r10 = args[3];
  tf.r8 = args[4];
  tf.r9 = args[5];
  tf.cs = arch::USER_CS;
  tf.ss = arch::USER_DS;
  tf.rflags = 0x202;
  tf.vector = arch::kSyscallVector;
  uint32_t id = caller->id;
  caller->tf = tf;  // the entry builds it in place
  in_call = true;
  int how = setjmp(kernel_exit);
  if (how == 0) syscall_slow_dispatch(&caller->tf);
  in_call = false;
  bool back = how == EXIT_TO_USER && arch::cpu0.current == caller && caller->id == id;
  if (switched) *switched = !back;
  if (caller->id != id) return SysResult{OK, 0};  // it destroyed itself (or an ancestor): that worked
  return SysResult{static_cast<long>(caller->tf.rax), caller->tf.rdx};
}

Env* current() { return arch::cpu0.current; }

}  // namespace hosted
