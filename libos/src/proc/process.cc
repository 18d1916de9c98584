// A process's side of the process model: its identity, requests to the
// manager, exit, wait, kill, and starting/stopping the manager (init).
#include "../internal.h"
#include "exos/ipc.h"
#include "exos/vm.h"

extern "C" void exos_manager_entry();

namespace exos {
namespace internal {

Reply manager_call(ManagerOp op, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4) {
  if (!proc_self().managed) return Reply{veneer::ERR_BAD_STATE, {}};
  uint32_t seq = ++proc_self().seq;
  if (!seq) seq = ++proc_self().seq;
  Message m{{op | static_cast<uint64_t>(seq) << 32, a1, a2, a3, a4}};
  for (;;) {
    Received r;
    Status s = pct_call(kManagerSlot, m, &r);
    if (s == veneer::ERR_BAD_STATE) {
      // Busy with someone else's request (preempted in it): lend it our
      // time, then ask again; the same seq is never done twice.
      if (sys_yield_to(kManagerSlot).status != veneer::OK) sys_yield();
      continue;
    }
    if (s != veneer::OK) return Reply{s, {}};
    if (r.sender != proc_self().manager) continue;  // woken by someone else: ask again
    return Reply{static_cast<Status>(r.msg.w[0]), {r.msg.w[1], r.msg.w[2], r.msg.w[3], r.msg.w[4]}};
  }
}

void proc_adopt() {
  const auto* block = reinterpret_cast<const InheritBlock*>(layout::kInheritVa);
  if (!(read_pte(layout::kInheritVa) & layout::kPtePresent) || block->magic != kInheritMagic) return;
  const auto* t = reinterpret_cast<const proc::ProcTable*>(layout::kProcTableVa);
  if (!(read_pte(layout::kProcTableVa) & layout::kPtePresent) || t->magic != proc::kProcTableMagic) return;
  proc_self() = ProcSelf{true, block->pid, t->manager, 0, 0, 0};
  fds_adopt(block);
}

}  // namespace internal

namespace proc {

using internal::manager_call;
using internal::proc_self;

int signal_for_vector(uint64_t vector) {
  switch (vector) {
    case 0: return kSigFpe;    // divide error
    case 3: return kSigTrap;   // breakpoint
    case 6: return kSigIll;    // invalid opcode
    case 1: return kSigTrap;   // debug
    default: return kSigSegv;  // page faults, general protection, the rest
  }
}

const ProcTable* table() {
  if (!proc_self().managed) return nullptr;
  return reinterpret_cast<const ProcTable*>(layout::kProcTableVa);
}

bool managed() { return proc_self().managed; }
Pid getpid() { return proc_self().managed ? proc_self().pid : 0; }

Pid getppid() {
  const ProcTable* t = table();
  if (!t) return 0;
  internal::ProcSelf& me = proc_self();
  uint32_t i = me.table_slot - 1;  // 0: not looked up yet
  if (!me.table_slot || t->procs[i].pid != me.pid || t->procs[i].state == PROC_FREE) {
    me.table_slot = 0;
    for (uint32_t k = 0; k < kMaxProcs && !me.table_slot; k++)
      if (t->procs[k].state != PROC_FREE && t->procs[k].pid == me.pid) me.table_slot = k + 1;
    if (!me.table_slot) return 0;
    i = me.table_slot - 1;
  }
  return t->procs[i].ppid;
}

Status start_manager(const ManagerConfig& config) {
  if (proc_self().managed) return veneer::ERR_BAD_STATE;
  const veneer::BootModule& self_module = kernel_info().modules[0];
  if (!(read_pte(self_module.va & ~(kPageSize - 1)) & layout::kPtePresent)) return veneer::ERR_MODULE_NOT_MAPPED;
  const uint64_t slot = internal::kManagerSlot;
  SysResult r = sys_env_create(slot);
  if (r.status != veneer::OK) return static_cast<Status>(r.status);
  uint32_t id = static_cast<uint32_t>(r.value);
  const veneer::EnvInfo& account = env_info(env_info(self_id()).account);
  auto left = [&](veneer::Resource res) { return account.limit[res] - account.used[res]; };
  auto pick = [](uint32_t want, uint32_t fallback, uint32_t have) {
    uint32_t v = want ? want : fallback;
    return v < have ? v : have;
  };
  uint32_t frames = pick(config.frames, left(veneer::RES_FRAMES) / 2, left(veneer::RES_FRAMES));
  uint32_t envs = pick(config.envs, 48, left(veneer::RES_ENVS) - 1);
  uint32_t slices = pick(config.slices, 24, left(veneer::RES_SLICES));
  Status s = internal::load_image(slot, reinterpret_cast<const void*>(self_module.va), self_module.size, nullptr, 0,
                                  reinterpret_cast<uint64_t>(&exos_manager_entry), config.process_frames);
  if (s == veneer::OK) s = static_cast<Status>(sys_env_set_quota(slot, frames, envs, slices).status);
  // init trusts the manager it starts: it may map into init (shared memory,
  // LRPC pages) and hand init capabilities.
  if (s == veneer::OK)
    s = static_cast<Status>(sys_cap_grant(veneer::kSelfSlot, slot, internal::kCreatorSlot,
                                          veneer::RIGHT_CONTROL | veneer::RIGHT_DEPOSIT | veneer::RIGHT_GRANT)
                                .status);
  if (s == veneer::OK) s = static_cast<Status>(sys_env_run(slot).status);
  // It has no slice position of its own: it runs on the time of whoever
  // calls it. Lend it ours until it waits for requests.
  while (s == veneer::OK && env_info(id).state != veneer::ENV_BLOCKED) {
    if (env_info(id).id != id) s = veneer::ERR_STALE_CAP;
    else sys_yield_to(slot);
  }
  if (s == veneer::OK)
    s = static_cast<Status>(sys_page_map(veneer::kSelfSlot, layout::kProcTableVa, internal::kProcTableSlot,
                                         veneer::PERM_READ | layout::kMarkPrivate)
                                .status);
  if (s != veneer::OK) {
    sys_env_destroy(slot);
    sys_cap_delete(slot);
    sys_cap_delete(internal::kProcTableSlot);
    return s;
  }
  proc_self() = internal::ProcSelf{true, kInitPid, id, 0, proc_self().fs_base, 0};
  return veneer::OK;
}

void stop_manager() {
  if (!proc_self().managed || proc_self().pid != kInitPid) return;
  ipc::close_all();
  sys_env_destroy(internal::kManagerSlot);  // and with it every process
  sys_cap_delete(internal::kManagerSlot);
  sys_page_unmap(veneer::kSelfSlot, layout::kProcTableVa);
  sys_cap_delete(internal::kProcTableSlot);
  internal::peers_reset();
  proc_self() = internal::ProcSelf{false, 0, 0, 0, proc_self().fs_base, 0};
}

namespace {
[[noreturn]] void end(int status) {
  if (proc_self().managed && proc_self().pid != kInitPid) {
    // A process killed by a signal (a crash, heap misuse) leaves its
    // descriptors as they are: an end held by an env that is gone is closed
    // anyway, and closing them writes to memory a process out of memory
    // may not get (copy-on-write).
    if (!signaled(status)) internal::fds_close_all();
    manager_call(internal::OP_EXIT, static_cast<uint64_t>(static_cast<uint32_t>(status)));
  }
  // No manager (or it refused): the env ends by itself.
  sys_env_destroy(veneer::kSelfSlot);
  for (;;) sys_yield();
}
}  // namespace

void exit(int code) { end(exited_status(code)); }
void exit_signaled(int sig) { end(signaled_status(sig)); }

Status wait(Pid pid, Pid* reaped, int* status, bool nohang) {
  if (!proc_self().managed) return veneer::ERR_BAD_STATE;
  const ProcTable* t = table();
  for (;;) {
    uint64_t changes = t->changes;
    internal::Reply r = manager_call(internal::OP_WAIT, static_cast<uint64_t>(static_cast<int64_t>(pid)));
    if (r.status != veneer::OK) return r.status;
    if (r.v[0]) {
      if (reaped) *reaped = static_cast<Pid>(r.v[0]);
      if (status) *status = static_cast<int>(r.v[1]);
      return veneer::OK;
    }
    if (nohang) {
      if (reaped) *reaped = 0;
      return veneer::OK;
    }
    // None has ended yet. The published table changes when one does; a
    // child the kernel destroyed does not change it, but its env is gone
    // (the manager notices at our next request). Until then our time goes
    // to the others.
    for (;;) {
      if (t->changes != changes) break;
      bool gone = false;
      for (uint32_t i = 0; i < kMaxProcs && !gone; i++) {
        const ProcEntry& e = t->procs[i];
        if (e.state == PROC_RUNNING && e.ppid == proc_self().pid && (pid == kAnyChild || e.pid == pid))
          gone = env_info(e.env).id != e.env;
      }
      if (gone) break;
      sys_yield();
    }
  }
}

Status kill(Pid pid, int sig) {
  if (!proc_self().managed) return veneer::ERR_BAD_STATE;
  return manager_call(internal::OP_KILL, static_cast<uint64_t>(static_cast<int64_t>(pid)),
                      static_cast<uint64_t>(sig))
      .status;
}

namespace {
// The inherit block our predecessor wrote, if it is one; its strings are
// only trusted as far as they are NUL-terminated inside it.
const internal::InheritBlock* inherited() {
  const auto* block = reinterpret_cast<const internal::InheritBlock*>(layout::kInheritVa);
  if (!(read_pte(layout::kInheritVa) & layout::kPtePresent) || block->magic != internal::kInheritMagic) return nullptr;
  return block;
}
}  // namespace

int argc() {
  const internal::InheritBlock* block = inherited();
  if (!block) return 0;
  uint32_t len = block->args_len < sizeof(block->args) ? block->args_len : sizeof(block->args);
  int n = 0;
  for (uint32_t i = 0; i < len && n < static_cast<int>(block->argc); i++)
    if (block->args[i] == 0) n++;
  return n;
}

const char* argv(int i) {
  if (i < 0 || i >= argc()) return nullptr;
  const char* p = inherited()->args;
  for (int k = 0; k < i; k++) p += strlen(p) + 1;
  return p;
}

}  // namespace proc
}  // namespace exos
