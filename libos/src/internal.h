// ExOS's internal interfaces between its parts (vm, proc, ipc, sched):
// not for programs.
#pragma once

#include <stddef.h>

#include "exos/exos.h"
#include "exos/layout.h"
#include "exos/proc.h"
#include "lrpc_layout.h"

namespace exos::internal {

// ---- Well-known capability slots --------------------------------------------------
// In every process: the manager (an env capability without rights: calls
// only). In init also the manager with every right (init created it), and
// a read-only capability to the published process table's frame.
constexpr uint64_t kManagerSlot = veneer::kCapSlots - 1;
constexpr uint64_t kProcTableSlot = veneer::kCapSlots - 2;
// In the manager: its creator (init), with DEPOSIT and GRANT.
constexpr uint64_t kCreatorSlot = kGrantBase;

// Our env id as the kernel's tables say (the owner of our PML4, named by the
// page-table window's self entry): right even where the copy in our memory
// is not (a forked child before it has fixed it).
inline uint32_t kernel_self_id() {
  constexpr uint64_t r = veneer::kRecursivePml4Slot;
  auto* pml4 = reinterpret_cast<const volatile uint64_t*>(veneer::kPageTableWindowVa | (r << 30) | (r << 21) | (r << 12));
  return frame_table()[layout::pte_pfn(pml4[r])].owner;
}

// ---- Process state of this env ------------------------------------------------------
struct ProcSelf {
  bool managed;
  proc::Pid pid;
  uint32_t manager;   // the manager's env id
  uint32_t seq;       // last request sequence number
  uint64_t fs_base;   // what env_set_fs_base was given (a forked child gets it too)
  uint32_t table_slot;  // our entry in the published table, plus one (0: not looked up)
};

// ExOS's per-env state that names this env's kernel state (its id, its
// capability slots, its process identity): in a private page, so a forked
// child starts from zeros (its parent allocates the page for it) instead of
// a copy of its parent's, and the parent's writes never fault copy-on-write.
struct PrivateState {
  uint32_t self_id;
  uint32_t crashing;  // an unhandled exception is ending us (a second one: end at once)
  uint64_t start_arg;
  uint64_t slots[kGrantBase / 64];  // capability slots in use (below kFirstFreeSlot: always)
  ProcSelf proc;
  struct Peer {
    uint32_t env;
    uint64_t slot;  // kNoSlot: the manager said no (not a process): not asked again
  } peers[veneer::kMaxEnvs];
};
static_assert(sizeof(PrivateState) <= kPageSize);
static_assert(offsetof(PrivateState, self_id) == 0);  // exos::self_id() reads it there
inline PrivateState& priv() { return *reinterpret_cast<PrivateState*>(layout::kPrivateStateVa); }
inline ProcSelf& proc_self() { return priv().proc; }
// Maps the private state page (start-up).
void private_init();

// ---- The manager's protocol: requests by synchronous PCT ------------------------------
// Request: w0 = op | seq << 32, w1..w4 the arguments. Reply: w0 = status,
// w1..w4 results. A request is repeated (same seq) when the call comes back
// from anyone but the manager, or finds the manager busy: the manager
// answers a repeated seq from its memory instead of doing it twice.
enum ManagerOp : uint32_t {
  OP_NEW_CHILD = 1,     // (slot) -> (pid, env): a new process, our child; its env capability with CONTROL in `slot`
  OP_EXEC_PREPARE = 2,  // (slot) -> (env): a new env for our pid, CONTROL in `slot`
  OP_EXEC_COMMIT = 3,   // () -> does not return: the prepared env becomes us
  OP_EXEC_ABORT = 4,    // () -> the prepared env is destroyed
  OP_EXIT = 5,          // (wait status) -> does not return
  OP_WAIT = 6,          // (pid or -1) -> (pid, status), or (0) none yet
  OP_KILL = 7,          // (pid, signal)
  OP_PEER = 8,          // (env, slot): an env capability without rights to that process in `slot`
  OP_SHM_OPEN = 9,      // (name0, name1, va, pages | create << 63) -> (pages)
  OP_SHM_UNLINK = 10,   // (name0, name1)
  OP_LRPC_EXPORT = 11,  // (name0, name1, trusted)
  OP_LRPC_IMPORT = 12,  // (name0, name1, slot, args va) -> (server env, binding, trusted)
  OP_LAST = 12,
};
struct Reply {
  Status status;
  uint64_t v[4];
};
Reply manager_call(ManagerOp op, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0);
// Names (shared memory, LRPC services) travel as two words: up to 16 bytes.
Status pack_name(const char* name, uint64_t out[2]);
// The manager's own code (proc/manager.cc), entered from exos_manager_entry.
[[noreturn]] void manager_main();

// ---- Loading ELF images into an env we control -------------------------------------------
struct ElfInfo {
  uint64_t entry;
  uint32_t nsegments;
};
// Checks everything before anything is loaded: ERR_BAD_ELF for a truncated
// image, another machine or type, segments that overlap, run past the image
// or the program area, are absurdly large, are writable and executable, or
// an entry point outside every executable segment.
Status elf_check(const void* image, uint64_t size, ElfInfo* out);
// Loads a checked image into the (new) env in `env_slot`: its segments and a
// stack, in frames owned by that env, plus extra pages of ours to copy
// (the inherit block). The entry override (0: the image's) lets init start
// the manager from its own image.
struct ExtraPage {
  uint64_t va;
  const void* data;  // 4096 bytes
  uint64_t perms;
};
Status load_image(uint64_t env_slot, const void* image, uint64_t size, const ExtraPage* extra, uint32_t nextra,
                  uint64_t entry_override = 0, uint64_t arg = 0);

// ---- What spawn and exec hand a new image --------------------------------------------------
constexpr uint64_t kInheritMagic = 0x4558'4F53'494E'4852ull;  // "EXOSINHR"
constexpr uint32_t kMaxInheritFds = 64;
struct InheritedFd {
  int32_t fd;
  uint32_t kind;    // ipc's descriptor kind
  uint64_t object;  // its object's address (the same in the new image)
  uint32_t flags;
  uint32_t reserved;
};
struct InheritBlock {
  uint64_t magic;
  int32_t pid;
  uint32_t nfds;
  uint32_t argc;
  uint32_t args_len;
  InheritedFd fds[kMaxInheritFds];
  char args[4096 - 24 - kMaxInheritFds * sizeof(InheritedFd)];  // argc strings, NUL-terminated
};
static_assert(sizeof(InheritBlock) == 4096);

// ---- Descriptors across fork, spawn and exec (ipc/fd.cc) --------------------------------------
// In the parent, before the child runs: the child holds our pipe ends too.
Status fds_fork(uint32_t child_env);
// spawn/exec: binds our pipe objects (those not close-on-exec) into the new
// env, records it as holding our ends, and lists them in the block.
Status fds_inherit(uint64_t env_slot, uint32_t new_env, InheritBlock* block);
// At the start of an image: the descriptors its predecessor handed over.
void fds_adopt(const InheritBlock* block);
// Exit: every end closed (so readers see end of file at once).
void fds_close_all();

// ---- Peer capabilities (ipc/peer.cc) ---------------------------------------------------------
// Forget every cached capability (a forked child has none of its parent's).
void peers_reset();
// The cached capability to env, or -1 (then ipc::peer_slot asks the manager).
inline int64_t cached_peer(uint32_t env) {
  const PrivateState::Peer& p = priv().peers[veneer::env_index(env)];
  return p.env == env && p.slot != veneer::kNoSlot ? static_cast<int64_t>(p.slot) : -1;
}
void peers_add(uint32_t env, uint64_t slot);

// Fork child start (proc/fork.cc): fills in its private state.
extern "C" void exos_fork_child_init(uint64_t env_id, const ForkContext* ctx);
// Startup in a new image: identity from the inherit block, if any.
void proc_adopt();

}  // namespace exos::internal
