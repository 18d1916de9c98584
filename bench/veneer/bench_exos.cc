// ExOS's rows: IPC between processes (pipes, shared memory, LRPC) and the
// process model (fork, spawn), each between processes of ExOS's process
// manager, as the Linux side does them between processes. Same method as
// bench_veneer.cc (guest instructions under -icount, loop included);
// definitions in docs/benchmarks.md. Called first thing from main: it also
// recognises the bench image spawned by spawn_exit_wait, which just exits.
#include "exos/ipc.h"
#include "exos/proc.h"
#include "exos/vm.h"

namespace {

namespace proc = exos::proc;
namespace ipc = exos::ipc;
using veneer::kPageSize;

constexpr uint64_t kWarmup = 1000, kIters = 10000;
constexpr uint64_t kProcWarmup = 100, kProcIters = 1000;  // fork and spawn: 100 x dearer
constexpr uint64_t kTouchedPages = 64;

inline uint64_t rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return (uint64_t(hi) << 32) | lo;
}

#ifdef BENCH_PROFILE
void profile_begin(const char* name, uint64_t iters) {
  exos::printf("BENCH-PROFILE %s %lu\n", name, iters);
  asm volatile(".byte 0x0f,0x1f,0x80,1,0x4d,0x4b,0x56" ::: "memory");
}
inline void profile_end() { asm volatile(".byte 0x0f,0x1f,0x80,2,0x4d,0x4b,0x56" ::: "memory"); }
#else
inline void profile_begin(const char*, uint64_t) {}
inline void profile_end() {}
#endif

void report(const char* name, uint64_t total, uint64_t iters) {
  uint64_t tenths = (total * 10 + iters / 2) / iters;
  exos::printf("BENCH %s %lu.%lu\n", name, tenths / 10, tenths % 10);
}

// warm-up, then `iters` timed operations; false from op ends the row.
template <typename F>
bool run(const char* name, uint64_t warmup, uint64_t iters, F&& op) {
  for (uint64_t i = 0; i < warmup; i++)
    if (!op(i)) return false;
  profile_begin(name, iters);
  uint64_t t0 = rdtsc();
  for (uint64_t i = 0; i < iters; i++)
    if (!op(warmup + i)) {
      profile_end();
      exos::printf("BENCH-ERROR %s operation %lu failed\n", name, i);
      return false;
    }
  uint64_t t1 = rdtsc();
  profile_end();
  report(name, t1 - t0, iters);
  return true;
}

void error(const char* name, const char* why) { exos::printf("BENCH-ERROR %s %s\n", name, why); }

// One byte parent -> child and one back, over two pipes (as Linux's row).
void pipe_roundtrip() {
  int down[2], up[2];
  if (ipc::pipe(down) != veneer::OK || ipc::pipe(up) != veneer::OK) return error("pipe_roundtrip", "pipe");
  proc::Pid child;
  if (proc::fork(&child) != veneer::OK) return error("pipe_roundtrip", "fork");
  if (child == 0) {
    ipc::close(down[1]);
    ipc::close(up[0]);
    char c;
    while (ipc::read(down[0], &c, 1) == 1) {
      c++;
      if (ipc::write(up[1], &c, 1) != 1) proc::exit(1);
    }
    proc::exit(0);
  }
  ipc::close(down[0]);
  ipc::close(up[1]);
  run("pipe_roundtrip", kWarmup, kIters, [&](uint64_t i) {
    char c = static_cast<char>(i), r = 0;
    return ipc::write(down[1], &c, 1) == 1 && ipc::read(up[0], &r, 1) == 1 && r == static_cast<char>(c + 1);
  });
  ipc::close(down[1]);  // the child reads end of file and exits
  ipc::close(up[0]);
  proc::wait(child, nullptr, nullptr);
}

// Shared memory: a word in a named segment, ping-ponged between two
// processes. shm_roundtrip hands the CPU over by synchronous protected
// control transfer (the child serves a trusted one-procedure LRPC that
// reads the word and writes the answer); shm_roundtrip_yield polls the word
// and gives the CPU to the other side by directed yield between polls, as
// Linux's row does with sched_yield.
volatile uint64_t* shared_word;
uint64_t ring(uint64_t, uint64_t, void*, uint64_t) {
  if (*shared_word == 1) *shared_word = 2;
  return 0;
}
const ipc::LrpcProc kBell[] = {ring};

void shm_roundtrip() {
  uint64_t va = 0;
  if (ipc::shm_open("bench-shm", 1, true, &va) != veneer::OK) return error("shm_roundtrip", "shm_open");
  shared_word = reinterpret_cast<volatile uint64_t*>(va);
  proc::Pid child;
  if (proc::fork(&child) != veneer::OK) return error("shm_roundtrip", "fork");
  if (child == 0) proc::exit(ipc::lrpc_serve("bench-bell", kBell, 1, ipc::Trust::Trusted));
  ipc::Binding bell;
  veneer::Status s;
  while ((s = ipc::lrpc_import("bench-bell", &bell)) == veneer::ERR_NO_NAME) exos::yield();
  if (s != veneer::OK) return error("shm_roundtrip", "lrpc_import");
  run("shm_roundtrip", kWarmup, kIters, [&](uint64_t) {
    *shared_word = 1;
    ipc::lrpc_call_trusted(bell, 0, 0, 0);
    return *shared_word == 2;
  });
  proc::kill(child, proc::kSigTerm);
  proc::wait(child, nullptr, nullptr);

  *shared_word = 0;
  uint32_t parent_env = exos::self_id();
  if (proc::fork(&child) != veneer::OK) return error("shm_roundtrip_yield", "fork");
  if (child == 0) {
    for (;;) {
      while (*shared_word != 1) ipc::yield_to(parent_env);
      *shared_word = 2;
    }
  }
  uint32_t child_env = 0;
  for (uint32_t i = 0; i < proc::kMaxProcs; i++)
    if (proc::table()->procs[i].pid == child) child_env = proc::table()->procs[i].env;
  run("shm_roundtrip_yield", kWarmup, kIters, [&](uint64_t) {
    *shared_word = 1;
    while (*shared_word != 2) ipc::yield_to(child_env);
    return true;
  });
  proc::kill(child, proc::kSigTerm);
  proc::wait(child, nullptr, nullptr);
  ipc::shm_detach(va, 1);
  ipc::shm_unlink("bench-shm");
}

// LRPC: two arguments, one result, into another process. Checked (the
// server checks the caller and the procedure, the client its registers and
// the replier) and trusted.
uint64_t add(uint64_t a, uint64_t b, void*, uint64_t) { return a + b; }
const ipc::LrpcProc kAdd[] = {add};

void lrpc_roundtrip(const char* row, const char* service, ipc::Trust trust) {
  proc::Pid child;
  if (proc::fork(&child) != veneer::OK) return error(row, "fork");
  if (child == 0) proc::exit(ipc::lrpc_serve(service, kAdd, 1, trust));
  ipc::Binding b;
  veneer::Status s;
  while ((s = ipc::lrpc_import(service, &b)) == veneer::ERR_NO_NAME) exos::yield();
  if (s != veneer::OK) return error(row, "lrpc_import");
  if (trust == ipc::Trust::Trusted) {
    run(row, kWarmup, kIters, [&](uint64_t i) { return ipc::lrpc_call_trusted(b, 0, i, 7) == i + 7; });
  } else {
    run(row, kWarmup, kIters, [&](uint64_t i) {
      uint64_t r = 0;
      return ipc::lrpc_call(b, 0, i, 7, &r) == veneer::OK && r == i + 7;
    });
  }
  proc::kill(child, proc::kSigTerm);
  proc::wait(child, nullptr, nullptr);
}

// fork + the child's exit + wait, with 64 touched pages in the parent.
void fork_exit_wait() {
  uint64_t va = 0;
  if (exos::vm::map(&va, kTouchedPages * kPageSize, veneer::PERM_WRITE) != veneer::OK)
    return error("fork_exit_wait", "vm::map");
  for (uint64_t p = 0; p < kTouchedPages; p++) reinterpret_cast<volatile uint64_t*>(va)[p * 512] = p;
  run("fork_exit_wait", kProcWarmup, kProcIters, [](uint64_t) {
    proc::Pid child;
    if (proc::fork(&child) != veneer::OK) return false;
    if (child == 0) proc::exit(0);
    int status = -1;
    return proc::wait(child, nullptr, &status) == veneer::OK && proc::exited(status) && proc::exit_code(status) == 0;
  });
  exos::vm::unmap(va, kTouchedPages * kPageSize);
}

// spawn of this same program (it exits at once) + wait.
void spawn_exit_wait() {
  const veneer::BootModule& self = exos::kernel_info().modules[0];
  const char* argv[] = {"exit", nullptr};
  run("spawn_exit_wait", kProcWarmup, kProcIters, [&](uint64_t) {
    proc::Pid child;
    if (proc::spawn(reinterpret_cast<const void*>(self.va), self.size, argv, &child) != veneer::OK) return false;
    int status = -1;
    return proc::wait(child, nullptr, &status) == veneer::OK && proc::exited(status) && proc::exit_code(status) == 0;
  });
}

}  // namespace

void bench_exos() {
  // The image spawn_exit_wait starts: nothing to do but exit.
  if (proc::managed() && proc::argc() > 0) proc::exit(0);
  if (proc::start_manager() != veneer::OK) {
    error("pipe_roundtrip", "no process manager");
    return;
  }
  pipe_roundtrip();
  shm_roundtrip();
  lrpc_roundtrip("lrpc_roundtrip", "bench-add", ipc::Trust::Checked);
  lrpc_roundtrip("lrpc_trusted_roundtrip", "bench-add-t", ipc::Trust::Trusted);
  fork_exit_wait();
  spawn_exit_wait();
  proc::stop_manager();
  exos::vm::settle();  // our pages plainly writable again for the rows that follow
}
