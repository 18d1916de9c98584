// ExOS inter-process communication, on protected control transfer, directed
// yield and shared pages: descriptors and pipes, named shared memory, and
// LRPC. The process manager names things (segments, services) and grants
// the capabilities; the data path never involves it, nor the kernel beyond
// one transfer or yield.
#pragma once

#include "exos/exos.h"
#include "exos/layout.h"

namespace exos::ipc {

// ---- Peers ---------------------------------------------------------------------------
// A capability (no rights: directed yield and transfers only) to the process
// running in env `env`, from the manager the first time, cached; -1 if env
// is not a live process.
int64_t peer_slot(uint32_t env);
// Gives the rest of our slice to `env` (a directed yield), or yields when it
// cannot run now.
void yield_to(uint32_t env);

// ---- Descriptors and pipes ---------------------------------------------------------
// A pipe is two pages shared by the processes holding its ends: a header
// (byte counters, which envs hold which ends) and a 4 KiB ring. A reader
// with nothing to read (a writer with no room) gives its time to the other
// side by directed yield until there is: it never sleeps, so it cannot miss
// a wake-up, and it sees at once when the other side is gone, however it
// went (its env disappears from the kernel's env table). Descriptors are
// inherited by fork, spawn and exec (unless close-on-exec).
constexpr int kMaxFds = 64;
constexpr uint64_t kPipeCapacity = 4096;
enum FdKind : uint32_t { FD_NONE = 0, FD_PIPE_READ = 1, FD_PIPE_WRITE = 2 };
constexpr uint32_t kCloseOnExec = 1;
Status pipe(int fds[2], uint32_t flags = 0);
// Bytes read (at most n; 0 at end of file: every write end closed), or a
// negative Status.
int64_t read(int fd, void* buf, uint64_t n);
// Bytes written (all of them unless the readers went away meanwhile), or
// ERR_PIPE_CLOSED when no read end is open anywhere.
int64_t write(int fd, const void* buf, uint64_t n);
Status close(int fd);
int dup(int fd);           // the lowest free descriptor, or a negative Status
int dup2(int fd, int to);  // `to`, closed first if open
Status set_fd_flags(int fd, uint32_t flags);
FdKind fd_kind(int fd);
void close_all();

// ---- Named shared memory -------------------------------------------------------------
// Maps segment `name` (up to 16 bytes) at *va (0: ExOS picks), writable and
// marked shared (fork passes it on as it is). create makes a segment of
// `pages` zeroed pages if none has the name; otherwise `pages` (0: all) of
// the existing one are mapped. The manager owns the frames; a segment
// lives until it is unlinked and nobody maps it.
Status shm_open(const char* name, uint64_t pages, bool create, uint64_t* va);
Status shm_unlink(const char* name);
Status shm_detach(uint64_t va, uint64_t pages);

// ---- LRPC -----------------------------------------------------------------------------
// A procedure call into a server process by synchronous protected control
// transfer: the procedure number and two arguments go in registers, the
// result comes back in one; larger arguments go in a page shared by the
// client and the server (one per binding, an in/out buffer of `len` bytes).
// The kernel tells the server who calls. Checked calls: the server checks
// the caller against its binding table and the procedure number, copies
// page arguments before use (and results back), and passes back only the
// result (other message registers cleared); the client saves its registers
// and checks the reply came from the server. Trusted calls, between
// processes that trust each other, skip all of that.
using LrpcProc = uint64_t (*)(uint64_t a0, uint64_t a1, void* page, uint64_t len);
enum class Trust : uint8_t { Checked, Trusted };
// Exports `procs` as service `name` and serves calls forever; returns only
// if the export fails (ERR_BUSY: the name is taken).
Status lrpc_serve(const char* name, const LrpcProc* procs, uint32_t nprocs, Trust trust);
struct Binding {
  uint64_t slot;    // our capability to the server
  uint32_t server;  // its env id
  uint32_t id;      // our binding number there
  bool trusted;     // the server serves trusted calls
  void* page;       // the shared argument page
};
Status lrpc_import(const char* name, Binding* b);
// A checked call: ERR_ACCESS_DENIED when the server refuses it (not our
// binding, no such procedure), ERR_BAD_STATE if anyone but the server
// transferred back. The server may hand back any register it likes, so
// every register but rsp is declared clobbered (the compiler saves what it
// needs once per function, not once per call); the reply counts only if
// the kernel says the server sent it and its status is OK.
// lrpc_call_slow: the rest (the server busy or not serving yet: wait and
// call again; errors).
Status lrpc_call_slow(const Binding& b, uint32_t proc, uint64_t a0, uint64_t a1, uint64_t* result, uint64_t len,
                      int64_t who, uint64_t status);
inline Status lrpc_call(const Binding& b, uint32_t proc, uint64_t a0, uint64_t a1, uint64_t* result,
                        uint64_t len = 0) {
  if (len > veneer::kPageSize) return veneer::ERR_INVALID_ARGS;
  register uint64_t r10 asm("r10") = a1;
  register uint64_t r8 asm("r8") = len;
  uint64_t rax = veneer::SYS_pct_sync, rdi = b.slot, rsi = proc | uint64_t(b.id) << 32, rdx = a0;
  asm volatile("syscall"
               : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10), "+r"(r8)
               :
               : "rcx", "r9", "r11", "rbx", "rbp", "r12", "r13", "r14", "r15", "memory", "cc", "xmm0", "xmm1",
                 "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
                 "xmm13", "xmm14", "xmm15");
  if (rax != b.server || rdx != 0) [[unlikely]]
    return lrpc_call_slow(b, proc, a0, a1, result, len, static_cast<int64_t>(rax), rdx);
  if (result) *result = rsi;
  return veneer::OK;
}
// A trusted call: our registers travel untouched (a trusted server gives
// them back as the C ABI says); no check on either side. A server busy with
// another call (preempted in it) is waited for.
uint64_t lrpc_call_trusted_retry(const Binding& b, uint32_t proc, uint64_t a0, uint64_t a1);
inline uint64_t lrpc_call_trusted(const Binding& b, uint32_t proc, uint64_t a0, uint64_t a1) {
  register uint64_t r10 asm("r10") = a1;
  register uint64_t r8 asm("r8") = 0;
  uint64_t rax = veneer::SYS_pct_sync, rdi = b.slot, rsi = proc | uint64_t(b.id) << 32, rdx = a0;
  asm volatile("syscall"
               : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10), "+r"(r8)
               :
               : "rcx", "r9", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                 "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  if (static_cast<int64_t>(rax) < 0) [[unlikely]]
    return lrpc_call_trusted_retry(b, proc, a0, a1);
  return rsi;
}

}  // namespace exos::ipc
