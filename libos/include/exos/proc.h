// ExOS processes. A process is an env created by the process manager, a
// long-lived ExOS server env that init starts (proc::start_manager); the
// manager keeps the process table (pid, parent, state, exit status) and
// publishes it read-only in every process. Because the manager, not the
// parent, creates every process env, a child outlives its parent (the
// kernel destroys an env's creations with it). Everything else is done by
// the process itself, in its own library: fork builds the child's address
// space copy-on-write by reading its own page tables through the window,
// spawn and exec load ELF images, wait polls the published table.
#pragma once

#include "exos/exos.h"

namespace exos::proc {

using Pid = int32_t;
constexpr Pid kInitPid = 1;     // the env that started the manager
constexpr Pid kAnyChild = -1;   // wait for any child
constexpr uint32_t kMaxProcs = 64;

// Wait statuses, encoded as Linux encodes them (so a Linux personality can
// pass them through): exited with a code, or ended by a signal.
constexpr int exited_status(int code) { return (code & 0xFF) << 8; }
constexpr int signaled_status(int sig) { return sig & 0x7F; }
constexpr bool exited(int status) { return (status & 0x7F) == 0; }
constexpr int exit_code(int status) { return (status >> 8) & 0xFF; }
constexpr bool signaled(int status) { return (status & 0x7F) != 0; }
constexpr int term_signal(int status) { return status & 0x7F; }
// The signals ExOS ends processes with (Linux's numbers).
enum Signal : int { kSigIll = 4, kSigTrap = 5, kSigAbrt = 6, kSigFpe = 8, kSigKill = 9, kSigSegv = 11, kSigTerm = 15 };
// A process that crashed with this exception vector ends with this signal
// (one that calls panic: kSigAbrt).
int signal_for_vector(uint64_t vector);

// ---- The published process table (read-only in every process) ---------------------
enum ProcState : uint32_t { PROC_FREE = 0, PROC_RUNNING = 1, PROC_ZOMBIE = 2 };
struct ProcEntry {
  int32_t pid;
  int32_t ppid;          // 1 once the parent is gone
  uint32_t env;          // the env running it (a new one after exec)
  uint32_t state;        // ProcState
  int32_t status;        // zombies: the wait status
  uint32_t pending_env;  // an exec or spawn being prepared
  uint64_t reserved;
};
static_assert(sizeof(ProcEntry) == 32);
constexpr uint64_t kProcTableMagic = 0x5052'4F43'5441'424Cull;  // "PROCTABL"
struct ProcTable {
  uint64_t magic;
  uint32_t manager;      // the manager's env id
  uint32_t nprocs;       // entries in use
  uint64_t changes;      // bumped at every change
  uint64_t reserved;
  ProcEntry procs[kMaxProcs];
};
// This process's view of it (nullptr before start_manager / outside a manager's processes).
const ProcTable* table();

// ---- The process manager (init) ---------------------------------------------------------
// Limits of the instance: every process draws on the manager's account, so
// the instance as a whole holds at most this; 0 picks a default (half of
// the frames init's account has left, 48 envs, 24 slice positions).
struct ManagerConfig {
  uint32_t frames = 0, envs = 0, slices = 0;
  // Each process's own account, reserved out of the manager's when the
  // process is made and returned when it ends: at most this many frames
  // (its memory, page tables and the copies its copy-on-write faults make),
  // so a process that runs wild reaches ERR_QUOTA (a fault it cannot serve:
  // SIGSEGV) while the others keep theirs. 0: processes draw on the
  // manager's account as one pool.
  uint32_t process_frames = 0;
};
// Starts the manager from this program's own image (the boot module init
// was loaded from) and makes the caller process 1.
Status start_manager(const ManagerConfig& config = {});
// Ends the manager and with it every process (they are its envs).
void stop_manager();
// Whether this env is a process of a manager.
bool managed();

// ---- Processes --------------------------------------------------------------------------
Pid getpid();
Pid getppid();  // from the published table: no system call
// Copy-on-write fork: *child is the child's pid in the parent, 0 in the child.
Status fork(Pid* child);
// A new process running an ELF image (in memory), with our descriptors
// (not close-on-exec) and `argv` (nullptr-terminated, may be nullptr).
// ERR_BAD_ELF for an image that is not a well-formed x86-64 executable.
Status spawn(const void* image, uint64_t size, const char* const* argv, Pid* child);
// Replaces this process's image (same pid, parent and descriptors); returns
// only on failure, with the caller intact. ERR_BAD_ELF for a bad image.
Status exec(const void* image, uint64_t size, const char* const* argv);
[[noreturn]] void exit(int code);
[[noreturn]] void exit_signaled(int sig);
// Waits for a child (kAnyChild, or a pid) to end: *reaped its pid, *status
// its wait status. ERR_NO_CHILD if there is no such child; with nohang,
// *reaped = 0 when none has ended yet.
Status wait(Pid pid, Pid* reaped, int* status, bool nohang = false);
// Ends process `pid` (ourselves or a descendant) with `sig` as its status.
Status kill(Pid pid, int sig);
// The arguments spawn or exec passed this image.
int argc();
const char* argv(int i);

}  // namespace exos::proc
