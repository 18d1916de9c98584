// Copy-on-write fork, entirely in ExOS. The parent asks the manager for a
// new process env (the manager creates it, so the child outlives us, and
// hands us a CONTROL capability to it), then reads its own page tables
// through the window and builds the child's address space with page_share:
// a writable page becomes read-only and marked copy-on-write on both sides
// (the child's binding can never be made writable: it is a share of ours),
// read-only pages are shared as they are, pages marked shared stay shared,
// private ones (the exception stack) are not passed on. The child holds
// every frame it shares with us (RIGHT_HOLD travels with the share), so it
// keeps its memory if we die first.
#include "../internal.h"
#include "exos/vm.h"

namespace exos {

using internal::ForkContext;

extern "C" int exos_fork_save(ForkContext* ctx) __attribute__((returns_twice));
extern "C" void exos_fork_child_entry();

namespace {

using veneer::kSelfSlot;
constexpr uint64_t kModulesEnd = veneer::kBootModulesVa + (512ull << 30);  // their PML4 slot

// Builds the child's bindings while walking ours: runs of contiguous pages
// with the same permissions for the child go in one page_share; when some
// of ours in the run turn copy-on-write, one page_protect_range gives the
// whole run the child's permissions (those already copy-on-write have
// them: no change).
struct Builder {
  uint64_t child;
  uint64_t run_start, run_pages, run_perms;
  bool run_turns_cow;  // some of our pages in the run are writable now
  Status status;
  uint64_t shared, copy_on_write;

  void flush() {
    if (run_pages && status == veneer::OK) {
      SysResult r = sys_page_share(child, run_start, run_start, run_pages, run_perms);
      if (r.status != veneer::OK) status = static_cast<Status>(r.status);
      shared += run_pages;
    }
    if (run_pages && run_turns_cow && status == veneer::OK) {
      SysResult r = sys_page_protect_range(kSelfSlot, run_start, run_pages, run_perms);
      if (r.status != veneer::OK) status = static_cast<Status>(r.status);
    }
    run_pages = 0;
    run_turns_cow = false;
  }

  void add(uint64_t va, uint64_t pte) {
    uint64_t marks = layout::pte_marks(pte);
    if (marks & layout::kMarkPrivate) return;
    uint64_t perms = layout::pte_perms(pte);
    uint64_t theirs = perms;
    bool turn_cow = false;
    if (!(marks & layout::kMarkShared) && (perms & veneer::PERM_WRITE)) {
      theirs = (perms & ~veneer::PERM_WRITE) | layout::kMarkCow;
      turn_cow = true;
    }
    if (run_pages && (va != run_start + run_pages * kPageSize || theirs != run_perms ||
                      run_pages == veneer::kMaxPageBatch))
      flush();
    if (!run_pages) run_start = va, run_perms = theirs;
    run_pages++;
    if (turn_cow) {
      run_turns_cow = true;
      copy_on_write++;
    }
  }
};
// One fork at a time, in ExOS's private block (demand-zero, never copied
// into a child, never copy-on-write here).
Builder& builder() { return *reinterpret_cast<Builder*>(layout::kForkBuilderVa); }

bool visit(void* c, uint64_t va, uint64_t pte) {
  static_cast<Builder*>(c)->add(va, pte);
  return static_cast<Builder*>(c)->status == veneer::OK;
}

Status build_child(uint64_t slot, uint32_t child_env, ForkContext* ctx) {
  // What the child's private state starts with: in ctx, before our stack
  // is shared (the child sees ctx as it is then).
  ctx->manager = internal::proc_self().manager;
  ctx->fs_base = internal::proc_self().fs_base;
  ctx->start_arg = start_arg();
  Builder& b = builder();
  b.child = slot;
  b.run_pages = 0;
  b.run_turns_cow = false;
  b.status = veneer::OK;
  b.shared = b.copy_on_write = 0;
  // Everything but ExOS's private block (nothing there is passed on) and
  // the boot modules (init's alone, as spawn_module says).
  vm::walk(veneer::kUserBase, veneer::kBootModulesVa, visit, &b);
  if (b.status == veneer::OK) vm::walk(kModulesEnd, layout::kPrivateBase, visit, &b);
  if (b.status == veneer::OK) vm::walk(layout::kXStackTop, veneer::kUserTop, visit, &b);
  b.flush();
  if (b.status != veneer::OK) return b.status;
  // Its own private state page and exception stack (the kernel writes
  // frames there: never shared), zeroed frames it owns.
  veneer::PageOp own[1 + layout::kXStackPages];
  const uint32_t perms = static_cast<uint32_t>(veneer::PERM_WRITE | layout::kMarkPrivate);
  for (uint64_t i = 0; i <= layout::kXStackPages; i++) {
    SysResult r = sys_frame_alloc(veneer::kAnyFrame, slot, veneer::kNoSlot);
    if (r.status != veneer::OK) return static_cast<Status>(r.status);
    uint64_t va = i == 0 ? layout::kPrivateStateVa : layout::kXStackTop - (layout::kXStackPages + 1 - i) * kPageSize;
    own[i] = veneer::PageOp{va, veneer::kFrameByPfn | r.value, veneer::PAGE_OP_MAP, perms};
  }
  SysResult r = sys_page_batch(slot, reinterpret_cast<uint64_t>(own), 1 + layout::kXStackPages);
  if (r.status != veneer::OK) return static_cast<Status>(r.status);
  r = sys_env_set_handler(slot, reinterpret_cast<uint64_t>(&exos_exception_entry), layout::kXStackTop,
                          layout::kXStackPages * kPageSize);
  if (r.status != veneer::OK) return static_cast<Status>(r.status);
  if (internal::proc_self().fs_base) sys_env_set_fs_base(slot, internal::proc_self().fs_base);
  Status s = internal::fds_fork(child_env);
  if (s != veneer::OK) return s;
  // It starts below our stack pointer at fork, fixes its identity, and
  // returns from fork with 0.
  uint64_t rsp = (ctx->rsp - 1024) & ~15ull;
  return static_cast<Status>(
      sys_env_set_entry(slot, reinterpret_cast<uint64_t>(&exos_fork_child_entry), rsp, reinterpret_cast<uint64_t>(ctx))
          .status);
}

}  // namespace

namespace proc {

Status fork(Pid* child) {
  if (!internal::proc_self().managed) return veneer::ERR_BAD_STATE;
  ForkContext ctx;
  if (exos_fork_save(&ctx)) {
    *child = 0;  // the child: exos_fork_child_init has run
    return veneer::OK;
  }
  int64_t slot = slot_alloc();
  if (slot < 0) return veneer::ERR_NO_RESOURCES;
  uint64_t s = static_cast<uint64_t>(slot);
  internal::Reply r = internal::manager_call(internal::OP_NEW_CHILD, s);
  if (r.status != veneer::OK) {
    slot_free(s);
    return r.status;
  }
  Pid pid = static_cast<Pid>(r.v[0]);
  uint32_t env = static_cast<uint32_t>(r.v[1]);
  Status st = build_child(s, env, &ctx);
  if (st == veneer::OK) st = static_cast<Status>(sys_env_run(s).status);
  if (st != veneer::OK) {
    sys_env_destroy(s);  // the manager finds it gone: reap it
    sys_cap_delete(s);
    slot_free(s);
    wait(pid, nullptr, nullptr);
    return st;
  }
  // Control goes; a capability without rights stays, for directed yields.
  int64_t peer = slot_alloc();
  if (peer >= 0 && sys_cap_grant(s, kSelfSlot, peer, 0).status == veneer::OK) internal::peers_add(env, peer);
  else if (peer >= 0) slot_free(peer);
  sys_cap_delete(s);
  slot_free(s);
  *child = pid;
  return veneer::OK;
}

}  // namespace proc

// In the child, before fork returns there: its private state (a zeroed
// page its parent mapped for it) gets its identity. Its capability table
// holds only what the manager put there, so no slot is in use.
extern "C" void exos_fork_child_init(uint64_t env_id, const ForkContext* ctx) {
  internal::PrivateState& p = internal::priv();
  p.self_id = static_cast<uint32_t>(env_id);
  p.start_arg = ctx->start_arg;
  p.proc = internal::ProcSelf{true, 0, ctx->manager, 0, ctx->fs_base, 0};
  const proc::ProcTable* t = proc::table();
  for (uint32_t i = 0; t && i < proc::kMaxProcs; i++)
    if (t->procs[i].state == proc::PROC_RUNNING && t->procs[i].env == env_id) {
      p.proc.pid = t->procs[i].pid;
      p.proc.table_slot = i + 1;
    }
}

}  // namespace exos
