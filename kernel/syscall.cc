// System calls. Each handler decodes and validates every argument first and
// only then changes state (seL4's decode/invoke split), so a rejected call
// has no effect. The dispatch table and prototypes come from
// abi/veneer/syscalls.h.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/console.h"
#include "kernel/core/validate.h"
#include "kernel/env.h"
#include "kernel/invariants.h"
#include "kernel/ioports.h"
#include "kernel/irq.h"
#include "kernel/netif.h"
#include "kernel/memory.h"
#include "kernel/vm.h"

namespace veneer {

using namespace arch;
using core::Capability;

// Prototypes for the fast-path handlers, from the ABI table. Slow calls are
// handled in syscall_slow_dispatch, with the caller's full context saved.
#define DECLARE_FAST(name, args) SysResult sys_##name(VENEER_PARAMS(args));
#define DECLARE_SLOW(name, args)
#define DECLARE_HANDLER(num, name, path, args) DECLARE_##path(name, args)
VENEER_SYSCALLS(DECLARE_HANDLER)
#undef DECLARE_HANDLER

namespace {

inline Env* self() { return cpu0.current; }
inline SysResult fail(Status s) { return SysResult{s, 0}; }
inline SysResult ok(uint64_t v = 0) { return SysResult{OK, v}; }

// A frame capability whose guard still matches the frame, naming a frame
// that user capabilities may name at all (never a page table or the kernel's).
[[gnu::always_inline]] inline Status frame_from_cap(Env* e, uint64_t slot, uint8_t rights, Capability** out) {
  Status s = e->caps.lookup(slot, CAP_FRAME, rights, out);
  if (s != OK) return s;
  const FrameInfo& f = frames.info((*out)->object);
  if (f.guard != (*out)->guard || (f.kind != FRAME_USER && f.kind != FRAME_MODULE)) return ERR_STALE_CAP;
  return OK;
}

// A frame reference (abi.h): a capability slot in the caller's table, or
// kFrameByPfn | pfn for a frame the caller or `target` owns, which then has
// every right. Gives the frame and the binding bits it allows.
struct FrameRef {
  uint64_t pfn;
  uint64_t may;     // PTE_MAY_* bits
  Capability* cap;  // nullptr when named by ownership
};
[[gnu::always_inline]] inline Status decode_frame(Env* caller, Env* target, uint64_t ref, uint8_t rights, FrameRef* out) {
  if (ref & kFrameByPfn) {
    uint64_t pfn = ref & ~kFrameByPfn;
    if (pfn >= frames.nframes()) return ERR_OUT_OF_RANGE;
    const FrameInfo& f = frames.info(pfn);
    if ((f.owner != target->id && f.owner != caller->id) || (f.kind != FRAME_USER && f.kind != FRAME_MODULE))
      return ERR_ACCESS_DENIED;
    *out = FrameRef{pfn, vm_may_bits(kRightsAll), nullptr};
    return OK;
  }
  Capability* c;
  if (Status s = frame_from_cap(caller, ref, rights, &c); s != OK) return s;
  *out = FrameRef{c->object, vm_may_bits(c->rights), c};
  return OK;
}

// Decodes the target of a protected control transfer: any env capability,
// or kPctReply for the env blocked in a sync call to the caller; the target
// must be waiting for a transfer.
Status pct_target(Env* caller, uint64_t env_slot, Env** out) {
  Env* t;
  if (env_slot == kPctReply) {
    t = env_from_id(caller->reply_to);
    if (!t || t->recv != RECV_RETURN || t->waiting_on != caller->id) return ERR_NOT_FOUND;
  } else {
    Status s = env_from_cap(caller, env_slot, 0, &t);
    if (s != OK) return s;
  }
  if (t->recv == RECV_ENTRY && !t->pct_entry) return ERR_NO_ENTRY;  // entry removed while waiting
  if (t->recv == RECV_NONE) return t->pct_entry ? ERR_BAD_STATE : ERR_NO_ENTRY;
  *out = t;
  return OK;
}

// Hands the message to a receptive env and makes it runnable. A receiver
// blocked in pct_wait starts at its entry point.
void pct_deliver(Env* from, Env* to, uint64_t flags, uint64_t m0, uint64_t m1, uint64_t m2, uint64_t m3,
                 uint64_t m4) {
  if (to->recv == RECV_ENTRY) {
    to->tf.rip = to->pct_entry;
    to->tf.rsp = to->pct_stack;
    to->tf.rflags = 0x202;
  }
  to->tf.rax = from->id;
  to->tf.rdi = flags;
  to->tf.rsi = m0;
  to->tf.rdx = m1;
  to->tf.r10 = m2;
  to->tf.r8 = m3;
  to->tf.r9 = m4;
  to->tf.rcx = to->tf.r11 = 0;
  to->waiting_on = 0;
  to->recv = RECV_NONE;
  to->info->state = ENV_RUNNABLE;
}

// page_batch's ops as decoded: the kind, and the new entry (map) or leaf
// bits (protect). One CPU, kernel not preemptible: one copy serves.
struct DecodedOp {
  uint64_t va;
  uint64_t entry;
  uint64_t kind;
};
DecodedOp batch_decoded[kMaxPageBatch];

// Refuses a batch at op i: puts back the mapping counts the maps decoded
// before it took.
SysResult batch_refuse(Status s, uint64_t i) {
  for (uint64_t j = 0; j < i; j++)
    if (batch_decoded[j].kind == PAGE_OP_MAP) frames.info(vm_pfn(batch_decoded[j].entry)).mappings--;
  return SysResult{s, i};
}
PageOp batch_copy[kMaxPageBatch];  // the ops when they straddle a page

}  // namespace

SysResult sys_null() { return ok(); }

// Takes what the console's queue has room for (value: how many bytes; 0
// when it is full: try again later) and never waits for the UART, so its
// time is bounded whatever the line speed.
SysResult sys_cons_write(uint64_t buf, uint64_t len) {
  char chunk[256];
  if (len > kMaxConsoleWrite) return fail(ERR_INVALID_ARGS);
  if (!core::is_user_range(buf, len) && len) return fail(ERR_BAD_ADDRESS);
  uint64_t done = 0;
  while (done < len) {
    uint64_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);
    Status s = copy_from_user(self(), chunk, buf + done, n);
    if (s != OK) return done ? ok(done) : fail(s);
    uint64_t taken = console_write(chunk, n);
    done += taken;
    if (taken < n) break;
  }
  return ok(done);
}

SysResult sys_frame_alloc(uint64_t pfn, uint64_t owner_env_slot, uint64_t dest_slot) {
  Env* owner;
  Status s = env_from_cap(self(), owner_env_slot, RIGHT_CONTROL, &owner);
  if (s != OK) return fail(s);
  if (dest_slot != kNoSlot && (s = self()->caps.check_free(dest_slot)) != OK) return fail(s);
  if (pfn != kAnyFrame && pfn >= frames.nframes()) return fail(ERR_OUT_OF_RANGE);
  uint64_t got;
  if ((s = frame_alloc_zeroed(pfn, owner->id, FRAME_USER, &got)) != OK) return fail(s);
  if (dest_slot != kNoSlot)
    self()->caps.put(dest_slot, Capability{CAP_FRAME, kRightsAll, 0, static_cast<uint32_t>(got), frames.info(got).guard});
  return ok(got);
}

SysResult sys_frame_free(uint64_t frame) {
  FrameRef ref;
  Status s = decode_frame(self(), self(), frame, RIGHT_REVOKE, &ref);
  if (s != OK) return fail(s);
  vm_unmap_frame_everywhere(ref.pfn, 0);
  frames.free(ref.pfn);
  if (ref.cap) self()->caps.remove(frame);
  return ok();
}

SysResult sys_frame_info(uint64_t frame_slot) {
  Capability* c;
  Status s = frame_from_cap(self(), frame_slot, 0, &c);
  if (s != OK) return fail(s);
  return ok(c->object);
}

SysResult sys_page_map(uint64_t env_slot, uint64_t va, uint64_t frame, uint64_t perms) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if ((s = core::check_map_va(va)) != OK) return fail(s);
  if (!core::perms_valid(perms)) return fail(ERR_INVALID_ARGS);
  FrameRef ref;
  if ((s = decode_frame(self(), target, frame, core::rights_for_perms(perms), &ref)) != OK) return fail(s);
  if (frames.info(ref.pfn).mappings >= kMaxMappingsPerFrame) return fail(ERR_NO_RESOURCES);
  uint64_t* pte = vm_pte(target, va);
  if (!pte) {
    if ((s = vm_reserve(target, vm_tables_missing(target, va))) != OK) return fail(s);
    pte = vm_pte_create(target, va);
  }
  vm_map_pte(target, va, pte, ref.pfn, perms, ref.may);
  return ok();
}

SysResult sys_page_unmap(uint64_t env_slot, uint64_t va) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if ((s = core::check_map_va(va)) != OK) return fail(s);
  uint64_t* pte = vm_pte(target, va);
  if (!pte || !(*pte & PTE_P)) return fail(ERR_NOT_FOUND);
  vm_unmap_pte(target, va, pte);
  return ok();
}

SysResult sys_page_protect(uint64_t env_slot, uint64_t va, uint64_t perms) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if ((s = core::check_map_va(va)) != OK) return fail(s);
  if (!core::perms_valid(perms)) return fail(ERR_INVALID_ARGS);
  uint64_t* pte = vm_pte(target, va);
  if (!pte || !(*pte & PTE_P)) return fail(ERR_NOT_FOUND);
  if (!vm_perms_allowed(*pte, perms)) return fail(ERR_ACCESS_DENIED);
  vm_protect_pte(target, va, pte, perms);
  return ok();
}

// The range form of page_protect: one call, one validation of the range,
// one pass over each leaf table, one TLB flush for a large range.
SysResult sys_page_protect_range(uint64_t env_slot, uint64_t va, uint64_t count, uint64_t perms) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if ((s = core::check_map_va(va)) != OK) return fail(s);
  if (count == 0 || count > kMaxPageBatch) return fail(ERR_INVALID_ARGS);
  if (!core::is_user_range(va, count * kPageSize)) return fail(ERR_BAD_ADDRESS);
  if (!core::perms_valid(perms)) return fail(ERR_INVALID_ARGS);
  uint64_t value;
  s = vm_protect_range(target, va, count, perms, &value);
  return SysResult{s, value};
}

// A batch is a sequence of operations on distinct pages in ascending order,
// so each is validated against the state it will be applied to; all are
// validated, and the page tables they need counted and reserved, before any
// is applied: a rejected batch changes nothing.
SysResult sys_page_batch(uint64_t env_slot, uint64_t ops, uint64_t count) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if (count > kMaxPageBatch) return fail(ERR_INVALID_ARGS);
  if (count == 0) return ok(0);
  // Each op is read once, in place when the ops lie in one page; only the
  // decoded form is used after that.
  const uint64_t bytes = count * sizeof(PageOp);
  auto* src = static_cast<const PageOp*>(vm_user_page(self(), ops, bytes));
  if (!src) {
    if ((s = copy_from_user(self(), batch_copy, ops, bytes)) != OK) return fail(s);
    src = batch_copy;
  }
  // Decode: every op, before anything changes.
  TableCount tables(target);
  uint64_t prev = 0;
  for (uint64_t i = 0; i < count; i++) {
    const uint64_t va = src[i].va, frame = src[i].frame;
    const uint32_t kind = src[i].kind, perms = src[i].perms;
    if (i && va <= prev) return batch_refuse(ERR_INVALID_ARGS, i);  // value: the rejected op
    prev = va;
    if ((s = core::check_map_va(va)) != OK) return batch_refuse(s, i);
    uint64_t entry = 0;
    if (kind == PAGE_OP_MAP) {
      if (!core::perms_valid(perms)) return batch_refuse(ERR_INVALID_ARGS, i);
      FrameRef ref;
      if ((s = decode_frame(self(), target, frame, core::rights_for_perms(perms), &ref)) != OK) return batch_refuse(s, i);
      // The batch's maps count against the frame's limit as they are
      // decoded (the count is put back before they are applied).
      uint16_t& mappings = frames.info(ref.pfn).mappings;
      if (mappings >= kMaxMappingsPerFrame) return batch_refuse(ERR_NO_RESOURCES, i);
      mappings++;
      entry = vm_entry(ref.pfn, perms, ref.may);
      if (!vm_pte(target, va)) tables.add(va);
    } else if (kind == PAGE_OP_PROTECT) {
      if (!core::perms_valid(perms)) return batch_refuse(ERR_INVALID_ARGS, i);
      const uint64_t* pte = vm_pte(target, va);
      if (!pte || !(*pte & PTE_P)) return batch_refuse(ERR_NOT_FOUND, i);
      if (!vm_perms_allowed(*pte, perms)) return batch_refuse(ERR_ACCESS_DENIED, i);
      entry = vm_leaf_bits(perms);
    } else if (kind != PAGE_OP_UNMAP) {
      return batch_refuse(ERR_INVALID_ARGS, i);
    }
    batch_decoded[i] = DecodedOp{va, entry, kind};
  }
  if ((s = vm_reserve(target, tables.frames())) != OK) {
    batch_refuse(s, count);
    return fail(s);
  }
  // Invoke: cannot fail any more. Up to kInvlpgCeiling changed entries
  // leave the TLB one by one, more in one full flush.
  const bool one_by_one = count <= kInvlpgCeiling;
  bool stale = false;
  for (uint64_t i = 0; i < count; i++) {
    const DecodedOp& op = batch_decoded[i];
    uint64_t* pte = vm_pte(target, op.va);
    bool flush;
    if (op.kind == PAGE_OP_MAP) {
      if (!pte) pte = vm_pte_create(target, op.va);
      frames.info(vm_pfn(op.entry)).mappings--;  // counted in decode; vm_bind_pte counts it for real
      flush = vm_bind_pte(target, pte, op.entry);
    } else if (op.kind == PAGE_OP_UNMAP) {
      flush = pte && (*pte & PTE_P);  // unmapping an unmapped page is no error here
      if (flush) vm_clear_pte(target, pte);
    } else {
      *pte = (*pte & kPteKeptByProtect) | op.entry;  // present: checked in decode
      flush = true;
    }
    if (flush && one_by_one) vm_flush(target, op.va);
    stale |= flush;
  }
  if (stale && !one_by_one) vm_flush_all(target);
  return ok(count);
}

SysResult sys_cap_grant(uint64_t src_slot, uint64_t env_slot, uint64_t dest_slot, uint64_t rights) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_DEPOSIT, &target);
  if (s != OK) return fail(s);
  if (src_slot >= kCapSlots) return fail(ERR_OUT_OF_RANGE);
  const Capability& src = self()->caps.at(src_slot);
  if (src.type == CAP_NONE) return fail(ERR_BAD_CAP);
  if (!(src.rights & RIGHT_GRANT)) return fail(ERR_ACCESS_DENIED);
  if (src.type == CAP_FRAME) {
    Capability* checked;
    if ((s = frame_from_cap(self(), src_slot, 0, &checked)) != OK) return fail(s);
  }
  if (rights & ~uint64_t(kRightsAll)) return fail(ERR_INVALID_ARGS);
  if ((s = target->caps.check_free(dest_slot)) != OK) return fail(s);
  Capability copy = src;
  copy.rights = static_cast<uint8_t>(src.rights & rights);
  target->caps.put(dest_slot, copy);
  return ok();
}

SysResult sys_cap_revoke(uint64_t frame_slot) {
  Capability* c;
  Status s = frame_from_cap(self(), frame_slot, RIGHT_REVOKE, &c);
  if (s != OK) return fail(s);
  c->guard = frames.bump_guard(c->object);
  vm_unmap_frame_everywhere(c->object, self()->id);
  return ok();
}

SysResult sys_cap_delete(uint64_t slot) { return fail(self()->caps.remove(slot)); }

SysResult sys_env_create(uint64_t dest_slot) {
  Status s = self()->caps.check_free(dest_slot);
  if (s != OK) return fail(s);
  Env* child;
  if ((s = env_create(self(), &child)) != OK) return fail(s);
  self()->caps.put(dest_slot, Capability{CAP_ENV, kRightsAll, 0, child->id, 0});
  return ok(child->id);
}

SysResult sys_env_set_entry(uint64_t env_slot, uint64_t rip, uint64_t rsp, uint64_t arg) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if (!core::is_user_va(rip) || rsp <= kUserBase || rsp > kUserTop) return fail(ERR_BAD_ADDRESS);
  if (target->info->state != ENV_NEW) return fail(ERR_BAD_STATE);
  env_set_start(target, rip, rsp, arg);
  return ok();
}

SysResult sys_env_set_handler(uint64_t env_slot, uint64_t entry, uint64_t xstack_top,
                              uint64_t xstack_size) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if (entry == 0) {
    target->xhandler = target->xstack_top = target->xstack_bottom = target->xframe_end = 0;
    return ok();
  }
  if (!core::is_user_va(entry)) return fail(ERR_BAD_ADDRESS);
  if (xstack_top & 15) return fail(ERR_UNALIGNED);
  if (xstack_size < kExceptionFrameSlot || xstack_top > kUserTop || xstack_top < kUserBase ||
      xstack_size > xstack_top - kUserBase)
    return fail(ERR_BAD_ADDRESS);
  target->xstack_top = xstack_top;
  target->xstack_bottom = xstack_top - xstack_size;
  target->xframe_end = xstack_top - kExceptionFrameSlot + sizeof(ExceptionFrame);
  target->xhandler = entry;
  return ok();
}

SysResult sys_env_run(uint64_t env_slot) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if (target->info->state != ENV_NEW) return fail(ERR_BAD_STATE);
  target->info->state = ENV_RUNNABLE;
  return ok();
}

SysResult sys_slice_alloc(uint64_t env_slot, uint64_t position) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  return fail(sched_slice_alloc(target, position));
}

SysResult sys_slice_free(uint64_t env_slot, uint64_t position) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  return fail(sched_slice_free(target, position));
}

SysResult sys_env_set_upcalls(uint64_t env_slot, uint64_t prologue, uint64_t epilogue) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if ((prologue && !core::is_user_va(prologue)) || (epilogue && !core::is_user_va(epilogue)))
    return fail(ERR_BAD_ADDRESS);
  if ((prologue || epilogue) && !target->xstack_top) return fail(ERR_BAD_STATE);  // frames need a stack
  target->prologue_entry = prologue;
  target->epilogue_entry = epilogue;
  return ok();
}

SysResult sys_env_set_quota(uint64_t env_slot, uint64_t frames_limit, uint64_t envs_limit, uint64_t slices_limit) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if (frames_limit > 0xFFFFFFFFu || envs_limit > kMaxEnvs || slices_limit > kSlices) return fail(ERR_INVALID_ARGS);
  const uint32_t limits[kResources] = {static_cast<uint32_t>(frames_limit), static_cast<uint32_t>(envs_limit),
                                       static_cast<uint32_t>(slices_limit)};
  const uint32_t held[kResources] = {target->info->frames, 1, target->info->slices_held};
  bool has_children = false;
  for (Env& e : envs) has_children |= e.id && e.info->parent == target->id;
  return fail(accounts.set_limits(target->id, self()->id, limits, held, has_children));
}

SysResult sys_env_set_fs_base(uint64_t env_slot, uint64_t base) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if (base && !core::is_user_va(base)) return fail(ERR_BAD_ADDRESS);
  target->fs_base = base;
  target->pct_slow = base ? target->pct_slow | PCT_SLOW_TLS : target->pct_slow & ~PCT_SLOW_TLS;
  if (target == self()) wrmsr(MSR_FS_BASE, base);
  return ok();
}

SysResult sys_env_set_pct_entry(uint64_t env_slot, uint64_t entry, uint64_t stack_top) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if (entry && (!core::is_user_va(entry) || stack_top <= kUserBase || stack_top > kUserTop))
    return fail(ERR_BAD_ADDRESS);
  if (stack_top & 15) return fail(ERR_UNALIGNED);
  target->pct_entry = entry;
  target->pct_stack = stack_top;
  return ok();
}

SysResult sys_pct_async(uint64_t env_slot, uint64_t m0, uint64_t m1, uint64_t m2, uint64_t m3, uint64_t m4) {
  Env* target;
  Status s = pct_target(self(), env_slot, &target);
  if (s != OK) return fail(s);
  pct_deliver(self(), target, kPctAsync, m0, m1, m2, m3, m4);
  return ok();
}

SysResult sys_frame_reclaim(uint64_t machine_slot, uint64_t env_slot, uint64_t count, uint64_t deadline) {
  Capability* c;
  Status s = self()->caps.lookup(machine_slot, CAP_MACHINE, 0, &c);
  if (s != OK) return fail(s);
  Env* target;
  if ((s = env_from_cap(self(), env_slot, 0, &target)) != OK) return fail(s);
  return fail(sched_reclaim(target, count, deadline));
}

// The kernel checks its own tables (kernel/invariants.h) and reports each
// violation on the console; value: how many. For tests and debugging: it
// takes time in proportion to the tables, so it needs MACHINE.
SysResult sys_invariant_scan(uint64_t machine_slot) {
  Capability* c;
  Status s = self()->caps.lookup(machine_slot, CAP_MACHINE, 0, &c);
  if (s != OK) return fail(s);
  static uint64_t reported;
  reported = 0;
  uint64_t violations = check_invariants([](const char* what, uint64_t a, uint64_t b) {
    if (reported++ < 20) kprintf("veneer: invariant violated: %s (%lx, %lx)\n", what, a, b);
  });
  return ok(violations);
}

// I/O ports (kernel/ioports.h). Making a port capability needs MACHINE:
// a port can reach a DMA-capable device, and so all of memory; the kernel
// refuses only the ports it drives itself. The capability goes in the
// caller's table (GRANT lets it pass on like any other).
SysResult sys_ioport_create(uint64_t machine_slot, uint64_t first, uint64_t count, uint64_t dest_slot) {
  Capability* c;
  Status s = self()->caps.lookup(machine_slot, CAP_MACHINE, 0, &c);
  if (s != OK) return fail(s);
  if (!io_range_valid(first, count)) return fail(ERR_INVALID_ARGS);
  if (kernel_uses_ports(first, count)) return fail(ERR_ACCESS_DENIED);
  if ((s = self()->caps.check_free(dest_slot)) != OK) return fail(s);
  self()->caps.put(dest_slot, Capability{CAP_IOPORT, kRightsAll, 0, static_cast<uint32_t>(first | count << 16), 0});
  return ok();
}

namespace {
// Resolves the env (CONTROL) and the port range (READ and WRITE: in and out).
Status port_binding(uint64_t env_slot, uint64_t port_slot, Env** env, uint16_t* first, uint16_t* count) {
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, env);
  if (s != OK) return s;
  Capability* c;
  if ((s = self()->caps.lookup(port_slot, CAP_IOPORT, RIGHT_READ | RIGHT_WRITE, &c)) != OK) return s;
  *first = static_cast<uint16_t>(c->object);
  *count = static_cast<uint16_t>(c->object >> 16);
  return OK;
}
}  // namespace

SysResult sys_ioport_bind(uint64_t env_slot, uint64_t port_slot) {
  Env* e;
  uint16_t first, count;
  Status s = port_binding(env_slot, port_slot, &e, &first, &count);
  return fail(s != OK ? s : io_ports_bind(e, first, count));
}

SysResult sys_ioport_unbind(uint64_t env_slot, uint64_t port_slot) {
  Env* e;
  uint16_t first, count;
  Status s = port_binding(env_slot, port_slot, &e, &first, &count);
  return fail(s != OK ? s : io_ports_unbind(e, first, count));
}

// Interrupt lines (kernel/irq.h): made from MACHINE like ports; bound to
// one env at a time.
SysResult sys_irq_create(uint64_t machine_slot, uint64_t line, uint64_t dest_slot) {
  Capability* c;
  Status s = self()->caps.lookup(machine_slot, CAP_MACHINE, 0, &c);
  if (s != OK) return fail(s);
  if (line >= kIrqLines) return fail(ERR_INVALID_ARGS);
  if (irq_line_reserved(line)) return fail(ERR_ACCESS_DENIED);
  if ((s = self()->caps.check_free(dest_slot)) != OK) return fail(s);
  self()->caps.put(dest_slot, Capability{CAP_IRQ, kRightsAll, 0, static_cast<uint32_t>(line), 0});
  return ok();
}

SysResult sys_irq_bind(uint64_t env_slot, uint64_t irq_slot, uint64_t bind) {
  Env* e;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &e);
  if (s != OK) return fail(s);
  Capability* c;
  if ((s = self()->caps.lookup(irq_slot, CAP_IRQ, RIGHT_READ, &c)) != OK) return fail(s);
  if (bind > 1) return fail(ERR_INVALID_ARGS);
  return fail(bind ? irq_bind(e, c->object) : irq_unbind(e, c->object));
}

// ---- Network (abi.h): rare calls, slow numbers, decoded here ----
// A frame the kernel will write for e from now on (a ring's, a handler's
// buffer): named by a reference with write right, and e's own user frame.
Status own_writable_frame(Env* e, uint64_t ref, uint64_t* pfn) {
  FrameRef fr;
  if (Status s = decode_frame(e, e, ref, RIGHT_WRITE, &fr); s != OK) return s;
  const FrameInfo& info = frames.info(fr.pfn);
  if (info.owner != e->id || info.kind != FRAME_USER) return ERR_ACCESS_DENIED;
  *pfn = fr.pfn;
  return OK;
}

Status net_filter_install(Env* e, uint64_t filter_va, uint64_t ring_va, uint64_t flags, uint64_t* id) {
  if (!netif_present()) return ERR_NO_DEVICE;
  if (flags & ~uint64_t(NET_RING_UPCALL)) return ERR_INVALID_ARGS;
  Filter f;
  NetRingFrames ring;
  if (Status s = copy_from_user(e, &f, filter_va, sizeof f); s != OK) return s;
  if (Status s = copy_from_user(e, &ring, ring_va, sizeof ring); s != OK) return s;
  if (ring.count == 0 || ring.count > kNetRingMaxFrames) return ERR_INVALID_ARGS;
  // The secure binding: every frame of the ring is the env's own and
  // writable by it, checked once here.
  NetRingPfns pfns{static_cast<uint32_t>(ring.count), {}};
  for (uint64_t i = 0; i < ring.count; i++) {
    if (Status s = own_writable_frame(e, ring.frames[i], &pfns.pfn[i]); s != OK) return s;
    for (uint64_t j = 0; j < i; j++)
      if (pfns.pfn[j] == pfns.pfn[i]) return ERR_INVALID_ARGS;  // a frame twice: cells would overlap the header
  }
  uint32_t got;
  Status s = netif_filter_install(e, f, pfns, flags, &got);
  *id = got;
  return s;
}

// A handler's instructions, copied in for the verifier and the JIT.
BpfInsn handler_program[kHandlerMaxInsns];

Status net_handler_attach(Env* e, uint64_t id, uint64_t insns_va, uint64_t count, uint64_t buffer) {
  if (!netif_present()) return ERR_NO_DEVICE;
  if (count == 0) return netif_handler_detach(e, id);
  if (count > kHandlerMaxInsns) return ERR_HANDLER_SIZE;
  if (Status s = copy_from_user(e, handler_program, insns_va, count * sizeof(BpfInsn)); s != OK) return s;
  uint64_t pfn;
  if (Status s = own_writable_frame(e, buffer, &pfn); s != OK) return s;
  return netif_handler_attach(e, id, handler_program, static_cast<uint32_t>(count), pfn);
}

Status net_send(Env* e, uint64_t frame, uint64_t offset, uint64_t len) {
  if (!netif_present()) return ERR_NO_DEVICE;
  FrameRef fr;
  if (Status s = decode_frame(e, e, frame, RIGHT_READ, &fr); s != OK) return s;
  if (offset > kPageSize || len > kPageSize - offset) return ERR_INVALID_ARGS;
  return netif_send(phys_to_virt<uint8_t>(fr.pfn * kPageSize + offset), len);
}

SysResult sys_bad() { return fail(ERR_BAD_SYSCALL); }

// Shares the caller's own bindings with an env it controls: the frames the
// caller maps at [src_va, +count pages) are bound at [dst_va, ...) in the
// target with `perms`. The caller's mapping is the authority (what it may
// do with a frame it may let an env it controls do, never more), and the
// new binding allows exactly `perms`: a read-only share can never be
// protected writable by the target. It holds the frame when the caller's
// binding does. What copy-on-write fork, shared memory and a read-only
// published table need, without a capability per page. Pages the caller
// does not map are skipped. Value: how many pages were bound.
namespace {
uint64_t share_ptes[kMaxPageBatch];  // the caller's entries, read before anything changes
}  // namespace

SysResult sys_page_share(uint64_t env_slot, uint64_t dst_va, uint64_t src_va, uint64_t count, uint64_t perms) {
  Env* target;
  Status s = env_from_cap(self(), env_slot, RIGHT_CONTROL, &target);
  if (s != OK) return fail(s);
  if (count == 0 || count > kMaxPageBatch || !core::perms_valid(perms)) return fail(ERR_INVALID_ARGS);
  const uint64_t len = count * kPageSize;
  if (!core::is_user_range(dst_va, len) || !core::is_user_range(src_va, len)) return fail(ERR_BAD_ADDRESS);
  if (!core::is_page_aligned(dst_va) || !core::is_page_aligned(src_va)) return fail(ERR_UNALIGNED);
  // Decode: every source entry is read (so sharing within one address space
  // sees the state before the call) and checked, and the target's page
  // tables are counted and reserved, before anything changes.
  // The share's bindings count against each frame's mapping limit as they
  // are decoded (one frame may appear many times in the range); the counts
  // are put back before they are applied, or on refusal.
  auto refuse = [](Status st, uint64_t i) {
    for (uint64_t j = 0; j < i; j++)
      if (share_ptes[j] & PTE_P) frames.info(vm_pfn(share_ptes[j])).mappings--;
    return SysResult{st, i};
  };
  TableCount tables(target);
  uint64_t bound = 0, region = ~0ull;  // the last 2 MiB region whose tables were counted
  for (uint64_t i = 0; i < count; i++) {
    const uint64_t* pte = vm_pte(self(), src_va + i * kPageSize);
    const uint64_t entry = pte ? *pte : 0;
    share_ptes[i] = 0;
    if (!(entry & PTE_P)) continue;
    if (!vm_perms_allowed(entry, perms)) return refuse(ERR_ACCESS_DENIED, i);
    uint16_t& mappings = frames.info(vm_pfn(entry)).mappings;
    if (mappings >= kMaxMappingsPerFrame) return refuse(ERR_NO_RESOURCES, i);
    mappings++;
    share_ptes[i] = entry;
    // One leaf table serves a whole 2 MiB region: looked up once per region.
    const uint64_t va = dst_va + i * kPageSize;
    if (vm_region(va) != region) {
      region = vm_region(va);
      if (!vm_pte(target, va)) tables.add(va);
    }
    bound++;
  }
  if ((s = vm_reserve(target, tables.frames())) != OK) {
    refuse(s, count);
    return fail(s);
  }
  // Invoke: cannot fail any more. Up to kInvlpgCeiling changed entries
  // leave the TLB one by one, more in one full flush.
  const uint64_t may = vm_may_needed(perms);
  const bool one_by_one = bound <= kInvlpgCeiling;
  bool stale = false;
  for (uint64_t i = 0; i < count; i++) {
    const uint64_t entry = share_ptes[i];
    if (!(entry & PTE_P)) continue;
    const uint64_t va = dst_va + i * kPageSize;
    uint64_t* pte = vm_pte(target, va);
    if (!pte) pte = vm_pte_create(target, va);
    frames.info(vm_pfn(entry)).mappings--;  // counted in decode; vm_bind_pte counts it for real
    const bool flush = vm_bind_pte(target, pte, vm_entry(vm_pfn(entry), perms, may | (entry & PTE_HOLD)));
    if (flush && one_by_one) vm_flush(target, va);
    stale |= flush;
  }
  if (stale && !one_by_one) vm_flush_all(target);
  return ok(bound);
}

}  // namespace veneer

using namespace veneer;

// The fast-path table, indexed by number (< VENEER_SLOW_BASE); entry.S
// calls through it. Filled once at boot from the ABI table.
extern "C" const void* syscall_table[VENEER_SLOW_BASE];
const void* syscall_table[VENEER_SLOW_BASE];

namespace veneer {
void syscall_init() {
  for (auto& h : syscall_table) h = reinterpret_cast<const void*>(&sys_bad);
#define FAST_ENTRY_FAST(num, name)                                  \
  static_assert(num < VENEER_SLOW_BASE, #name " must be below VENEER_SLOW_BASE"); \
  syscall_table[num] = reinterpret_cast<const void*>(&sys_##name);
#define FAST_ENTRY_SLOW(num, name) static_assert(num >= VENEER_SLOW_BASE, #name " must be slow");
#define FAST_ENTRY(num, name, path, args) FAST_ENTRY_##path(num, name)
  VENEER_SYSCALLS(FAST_ENTRY)
#undef FAST_ENTRY
}
}  // namespace veneer

// The entry saved the caller's registers in its TrapFrame (tf == &e->tf).
extern "C" [[noreturn]] void syscall_slow_dispatch(arch::TrapFrame* tf) {
  Env* e = cpu0.current;
  Status s = ERR_BAD_SYSCALL;
  uint64_t value = 0;
  switch (tf->rax) {
    case SYS_yield:
      e->tf.rax = OK;
      e->tf.rdx = 0;
      schedule();  // also answers an epilogue upcall in time
    case SYS_yield_to: {
      // Directed yield: the rest of this slice goes to the named env.
      Env* target;
      s = env_from_cap(e, tf->rdi, 0, &target);
      if (s == OK && target->info->state != ENV_RUNNABLE) s = ERR_BAD_STATE;
      if (s != OK) break;
      e->tf.rax = OK;
      e->tf.rdx = 0;
      env_run_donated(target);
    }
    case SYS_pct_sync: {
      Env* target;
      s = pct_target(e, tf->rdi, &target);
      if (s != OK) break;
      // The caller waits for the transfer back and its slices follow the
      // callee; a reply (kPctReply) waits for the next call and donates nothing.
      bool reply = tf->rdi == kPctReply;
      e->info->state = ENV_BLOCKED;
      e->recv = RECV_RETURN;
      e->waiting_on = reply ? 0 : target->id;
      if (reply) e->reply_to = 0;
      else target->reply_to = e->id;
      pct_deliver(e, target, kPctSync, tf->rsi, tf->rdx, tf->r10, tf->r8, tf->r9);
      // A synchronous transfer hands over every register but rax, rdi, rcx,
      // r11 and rsp untouched, the SSE state included (Aegis's rule: the
      // sender clears what it does not want to pass).
      target->tf.rbx = tf->rbx;
      target->tf.rbp = tf->rbp;
      target->tf.r12 = tf->r12;
      target->tf.r13 = tf->r13;
      target->tf.r14 = tf->r14;
      target->tf.r15 = tf->r15;
      env_transfer(target);
    }
    case SYS_pct_wait:
      if (!e->pct_entry) {
        s = ERR_NO_ENTRY;
        break;
      }
      e->info->state = ENV_BLOCKED;
      e->recv = RECV_ENTRY;
      e->waiting_on = 0;
      schedule();
    case SYS_env_destroy: {
      Env* target;
      s = env_from_cap(e, tf->rdi, RIGHT_CONTROL, &target);
      if (s != OK) break;
      env_destroy(target);
      if (!cpu0.current) schedule();  // we were it, or one of its descendants
      break;
    }
    // The interrupt-line calls are rare (a driver's setup, once per
    // interrupt): slow numbers, though they switch nothing.
    case SYS_irq_create:
    case SYS_irq_bind: {
      SysResult r = tf->rax == SYS_irq_create ? sys_irq_create(tf->rdi, tf->rsi, tf->rdx)
                                              : sys_irq_bind(tf->rdi, tf->rsi, tf->rdx);
      s = static_cast<Status>(r.status);
      value = r.value;
      break;
    }
    case SYS_irq_ack: {
      core::Capability* c;
      s = e->caps.lookup(tf->rdi, CAP_IRQ, RIGHT_READ, &c);
      if (s == OK) s = irq_ack(e, c->object);
      break;
    }
    case SYS_net_filter_install:
      s = net_filter_install(e, tf->rdi, tf->rsi, tf->rdx, &value);
      if (s != OK) value = 0;
      break;
    case SYS_net_filter_remove:
      s = netif_present() ? netif_filter_remove(e, tf->rdi) : ERR_NO_DEVICE;
      break;
    case SYS_net_handler_attach:
      s = net_handler_attach(e, tf->rdi, tf->rsi, tf->rdx, tf->r10);
      break;
    case SYS_net_send:
      s = net_send(e, tf->rdi, tf->rsi, tf->rdx);
      break;
    case SYS_poweroff: {
      core::Capability* c;
      s = e->caps.lookup(tf->rdi, CAP_MACHINE, 0, &c);
      if (s != OK) break;
      kprintf("veneer: poweroff by env %x, code %lx\n", e->id, tf->rsi);
      machine_exit(tf->rsi);
    }
    default: break;
  }
  e->tf.rax = static_cast<uint64_t>(s);
  e->tf.rdx = value;
  env_run(e);
}
