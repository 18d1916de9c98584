// The process manager: an ExOS server env that init starts from its own
// image. It creates every process env (so a child outlives its parent: the
// kernel destroys an env's creations with it, and the manager lives as long
// as the instance), keeps the process table and publishes it read-only in
// every process, and names shared-memory segments and LRPC services.
// Requests come by synchronous PCT; the kernel tells us who sent each one.
// Everything a request names is checked against the sender's own entry: a
// process can only act on itself and its descendants.
#include "../internal.h"
#include "exos/vm.h"

namespace exos::internal {
namespace {

using proc::Pid;
using proc::ProcEntry;
using veneer::kSelfSlot;

constexpr uint32_t kMaxSegments = 32, kMaxServices = 16, kMaxBindings = 63;
constexpr uint64_t kMaxSegmentPages = 4096;

struct Proc {
  uint64_t env_slot;      // our capability to its env (init: kCreatorSlot)
  uint32_t builder;       // the env that asked for it and builds it (it has not run yet)
  uint64_t pending_slot;  // an exec being prepared
  uint32_t last_seq;      // the last request, and our answer to it
  Message last_reply;
};
struct Segment {
  uint64_t name[2];
  uint64_t va, pages;  // our own mapping of it
  bool used, unlinked;
};
struct Service {
  uint64_t name[2];
  uint32_t server;  // env id
  uint64_t table_va;
  uint32_t nbindings;
  bool used, trusted;
};

proc::ProcTable* table;
Proc procs[proc::kMaxProcs];
Segment segments[kMaxSegments];
Service services[kMaxServices];
Pid next_pid = 2;
uint32_t used_top = 1;  // entries at or above this are free (loops stop here)
uint64_t arena_next = layout::kManagerArena;
uint32_t unlinked_segments, nservices;  // (so sweeping costs nothing when there are none)
uint32_t process_frames;  // ManagerConfig::process_frames (0: one pool)

ProcEntry& entry(uint32_t i) { return table->procs[i]; }
bool env_alive(uint32_t id) {
  const veneer::EnvInfo& e = env_info(id);
  return id && e.id == id && e.state != veneer::ENV_DYING && e.state != veneer::ENV_FREE;
}
void changed() { table->changes = table->changes + 1; }

int find_pid(Pid pid) {
  if (pid <= 0) return -1;
  for (uint32_t i = 0; i < used_top; i++)
    if (entry(i).state != proc::PROC_FREE && entry(i).pid == pid) return static_cast<int>(i);
  return -1;
}
int find_env(uint32_t env) {
  for (uint32_t i = 0; i < used_top; i++)
    if (entry(i).state == proc::PROC_RUNNING && entry(i).env == env) return static_cast<int>(i);
  return -1;
}
int free_entry() {
  for (uint32_t i = 0; i < proc::kMaxProcs; i++)
    if (entry(i).state == proc::PROC_FREE) return static_cast<int>(i);
  return -1;
}

void drop_slot(uint64_t& slot) {
  if (!slot) return;
  sys_cap_delete(slot);
  slot_free(slot);
  slot = 0;
}
void destroy_env(uint64_t& slot) {
  if (!slot) return;
  sys_env_destroy(slot);
  drop_slot(slot);
}

// Process i has ended (its env already gone, or about to be destroyed by
// the caller): a zombie with `status`, its children given to init.
void make_zombie(uint32_t i, int status) {
  ProcEntry& e = entry(i);
  destroy_env(procs[i].pending_slot);
  e.pending_env = 0;
  e.state = proc::PROC_ZOMBIE;
  e.status = status;
  for (uint32_t k = 0; k < used_top; k++)
    if (entry(k).state != proc::PROC_FREE && entry(k).ppid == e.pid) entry(k).ppid = proc::kInitPid;
  changed();  // a zombie keeps its entry until its parent waits for it
}

// Ends process i: its env is destroyed (so it stops at once, and the kernel
// returns everything it held), then it is a zombie.
void end_process(uint32_t i, int status) {
  destroy_env(procs[i].env_slot);
  make_zombie(i, status);
}

// A process the kernel destroyed (a fault with no handler, an unusable
// exception stack) never told us: its env is simply gone. Noticed here, at
// every request, and reported as killed.
void sweep_dead() {
  for (uint32_t i = 1; i < used_top; i++) {
    ProcEntry& e = entry(i);
    if (e.state != proc::PROC_RUNNING) continue;
    if (!env_alive(e.env)) {
      drop_slot(procs[i].env_slot);
      make_zombie(i, proc::signaled_status(proc::kSigKill));
    } else if (procs[i].builder && env_info(e.env).state == veneer::ENV_NEW && !env_alive(procs[i].builder)) {
      end_process(i, proc::signaled_status(proc::kSigKill));  // whoever was building it is gone: it never will run
    } else if (e.pending_env && !env_alive(e.pending_env)) {
      drop_slot(procs[i].pending_slot);
      e.pending_env = 0;
    }
  }
  for (Segment& s : segments) {  // unlinked segments nobody maps any more
    if (!unlinked_segments) break;
    if (!s.used || !s.unlinked) continue;
    bool mapped = false;
    for (uint64_t p = 0; p < s.pages && !mapped; p++)
      mapped = frame_table()[layout::pte_pfn(read_pte(s.va + p * kPageSize))].mappings > 1;
    if (mapped) continue;
    for (uint64_t p = 0; p < s.pages; p++) vm::unmap_page(s.va + p * kPageSize);
    s.used = false;
    unlinked_segments--;
  }
  for (uint32_t i = 0; i < kMaxServices && nservices; i++)
    if (services[i].used && !env_alive(services[i].server)) {
      services[i].used = false;  // its pages stay bound where they are
      nservices--;
    }
}

bool is_ancestor(Pid ancestor, uint32_t i) {
  for (uint32_t hops = 0; hops < proc::kMaxProcs; hops++) {
    Pid parent = entry(i).ppid;
    if (parent == ancestor) return true;
    int p = find_pid(parent);
    if (p < 0) return false;
    i = static_cast<uint32_t>(p);
  }
  return false;
}

// Our pages at `va` (owned by us) bound in `env_slot` at `to`.
Status share(uint64_t env_slot, uint64_t to, uint64_t va, uint64_t pages, uint64_t perms) {
  for (uint64_t done = 0; done < pages;) {
    uint64_t n = pages - done < veneer::kMaxPageBatch ? pages - done : veneer::kMaxPageBatch;
    SysResult r = sys_page_share(env_slot, to + done * kPageSize, va + done * kPageSize, n, perms);
    if (r.status != veneer::OK) return static_cast<Status>(r.status);
    done += n;
  }
  return veneer::OK;
}

// Fresh zeroed frames of ours at the next arena address.
Status arena_alloc(uint64_t pages, uint64_t* va) {
  uint64_t at = arena_next;
  for (uint64_t p = 0; p < pages; p++) {
    Status s = page_alloc(at + p * kPageSize, veneer::PERM_WRITE);
    if (s != veneer::OK) {
      for (uint64_t k = 0; k < p; k++) vm::unmap_page(at + k * kPageSize);
      return s;
    }
  }
  arena_next += (pages + 1) * kPageSize;  // a guard gap after each
  *va = at;
  return veneer::OK;
}

// A new env for a process: the manager's capability in kManagerSlot, the
// process table read-only, one slice position. Its CONTROL capability goes
// to the requester (in `req_slot` of its table).
Status new_env(uint32_t requester, uint64_t req_slot, uint64_t* slot_out, uint32_t* id_out) {
  if (req_slot < kFirstFreeSlot || req_slot >= veneer::kCapSlots) return veneer::ERR_INVALID_ARGS;
  int64_t slot = slot_alloc();
  if (slot < 0) return veneer::ERR_NO_RESOURCES;
  uint64_t s = static_cast<uint64_t>(slot);
  SysResult r = sys_env_create(s);
  if (r.status != veneer::OK) {
    slot_free(s);
    return static_cast<Status>(r.status);
  }
  Status st = static_cast<Status>(sys_cap_grant(kSelfSlot, s, kManagerSlot, 0).status);
  // Its own account (itself and its slice position are charged there too),
  // or ours.
  if (st == veneer::OK && process_frames)
    st = static_cast<Status>(sys_env_set_quota(s, process_frames, 1, 1).status);
  if (st == veneer::OK)
    st = static_cast<Status>(
        sys_page_share(s, layout::kProcTableVa, layout::kProcTableVa, 1, veneer::PERM_READ | layout::kMarkPrivate)
            .status);
  if (st == veneer::OK) st = give_slices(s, 1);
  if (st == veneer::OK)
    st = static_cast<Status>(sys_cap_grant(s, procs[requester].env_slot, req_slot, veneer::kRightsAll).status);
  if (st != veneer::OK) {
    destroy_env(s);
    return st;
  }
  *slot_out = s;
  *id_out = static_cast<uint32_t>(r.value);
  return veneer::OK;
}

Segment* find_segment(const uint64_t name[2]) {
  for (Segment& s : segments)
    if (s.used && !s.unlinked && s.name[0] == name[0] && s.name[1] == name[1]) return &s;
  return nullptr;
}
Service* find_service(const uint64_t name[2]) {
  for (Service& s : services)
    if (s.used && s.name[0] == name[0] && s.name[1] == name[1]) return &s;
  return nullptr;
}

Message reply(Status s, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0) {
  return Message{{static_cast<uint64_t>(s), a, b, c, 0}};
}

Message serve(uint32_t me, uint32_t op, const Message& m) {
  ProcEntry& self = entry(me);
  switch (op) {
    case OP_NEW_CHILD: {
      int slot = free_entry();
      if (slot < 0) return reply(veneer::ERR_NO_RESOURCES);
      uint64_t env_slot;
      uint32_t id;
      Status s = new_env(me, m.w[1], &env_slot, &id);
      if (s != veneer::OK) return reply(s);
      procs[slot] = Proc{env_slot, self.env, 0, 0, {}};
      if (static_cast<uint32_t>(slot) >= used_top) used_top = slot + 1;
      entry(slot) = ProcEntry{next_pid++, self.pid, id, proc::PROC_RUNNING, 0, 0, 0};
      table->nprocs = table->nprocs + 1;
      changed();
      return reply(veneer::OK, static_cast<uint64_t>(entry(slot).pid), id);
    }
    case OP_EXEC_PREPARE: {
      if (self.pid == proc::kInitPid) return reply(veneer::ERR_ACCESS_DENIED);  // init is not ours to replace
      destroy_env(procs[me].pending_slot);
      uint64_t env_slot;
      uint32_t id;
      Status s = new_env(me, m.w[1], &env_slot, &id);
      if (s != veneer::OK) return reply(s);
      // Its slice position comes when it takes over (commit): give this one back.
      for (uint32_t p = 0; p < veneer::kSlices; p++)
        if (slice_vector().owner[p] == id) sys_slice_free(env_slot, p);
      procs[me].pending_slot = env_slot;
      self.pending_env = id;
      changed();
      return reply(veneer::OK, id);
    }
    case OP_EXEC_COMMIT: {
      if (!procs[me].pending_slot || !env_alive(self.pending_env)) return reply(veneer::ERR_BAD_STATE);
      if (env_info(self.pending_env).state != veneer::ENV_NEW) return reply(veneer::ERR_BAD_STATE);
      // The old image goes (and its slice position with it), the new one
      // runs as the same process. No reply: the caller is gone.
      destroy_env(procs[me].env_slot);
      procs[me].env_slot = procs[me].pending_slot;
      procs[me].pending_slot = 0;
      procs[me].last_seq = 0;
      self.env = self.pending_env;
      self.pending_env = 0;
      give_slices(procs[me].env_slot, 1);
      sys_env_run(procs[me].env_slot);
      changed();
      return reply(veneer::OK);
    }
    case OP_EXEC_ABORT:
      destroy_env(procs[me].pending_slot);
      self.pending_env = 0;
      changed();
      return reply(veneer::OK);
    case OP_EXIT: {
      if (self.pid == proc::kInitPid) return reply(veneer::ERR_ACCESS_DENIED);
      int status = static_cast<int>(m.w[1] & 0xFFFF);
      end_process(me, status);
      return reply(veneer::OK);  // not delivered: the caller is gone
    }
    case OP_WAIT: {
      Pid want = static_cast<Pid>(m.w[1]);
      bool any = false;
      for (uint32_t i = 0; i < used_top; i++) {
        ProcEntry& e = entry(i);
        if (e.state == proc::PROC_FREE || e.ppid != self.pid || i == me) continue;
        if (want != proc::kAnyChild && e.pid != want) continue;
        any = true;
        if (e.state != proc::PROC_ZOMBIE) continue;
        Pid pid = e.pid;
        int status = e.status;
        e = ProcEntry{};
        procs[i] = Proc{};
        table->nprocs = table->nprocs - 1;
        while (used_top > 1 && entry(used_top - 1).state == proc::PROC_FREE) used_top--;
        changed();
        return reply(veneer::OK, static_cast<uint64_t>(pid), static_cast<uint64_t>(static_cast<uint32_t>(status)));
      }
      return reply(any ? veneer::OK : veneer::ERR_NO_CHILD, 0);
    }
    case OP_KILL: {
      int sig = static_cast<int>(m.w[2]);
      if (sig <= 0 || sig > 64) return reply(veneer::ERR_INVALID_ARGS);
      int t = find_pid(static_cast<Pid>(m.w[1]));
      if (t < 0 || entry(t).state != proc::PROC_RUNNING) return reply(veneer::ERR_NO_PROCESS);
      if (entry(t).pid == proc::kInitPid) return reply(veneer::ERR_ACCESS_DENIED);
      if (static_cast<uint32_t>(t) != me && !is_ancestor(self.pid, static_cast<uint32_t>(t)))
        return reply(veneer::ERR_ACCESS_DENIED);
      end_process(static_cast<uint32_t>(t), proc::signaled_status(sig));
      return reply(veneer::OK);
    }
    case OP_PEER: {
      int t = find_env(static_cast<uint32_t>(m.w[1]));
      if (t < 0 || !procs[t].env_slot) return reply(veneer::ERR_NO_PROCESS);
      uint64_t slot = m.w[2];
      if (slot < kFirstFreeSlot || slot >= veneer::kCapSlots) return reply(veneer::ERR_INVALID_ARGS);
      return reply(static_cast<Status>(sys_cap_grant(procs[t].env_slot, procs[me].env_slot, slot, 0).status));
    }
    case OP_SHM_OPEN: {
      uint64_t name[2] = {m.w[1], m.w[2]};
      uint64_t va = m.w[3], pages = m.w[4] & 0xFFFFFFFF;
      bool create = m.w[4] >> 63;
      Segment* s = find_segment(name);
      bool made = false;
      if (!s) {
        if (!create) return reply(veneer::ERR_NO_NAME);
        made = true;
        if (pages == 0 || pages > kMaxSegmentPages) return reply(veneer::ERR_INVALID_ARGS);
        for (Segment& f : segments)
          if (!f.used) {
            s = &f;
            break;
          }
        if (!s) return reply(veneer::ERR_NO_RESOURCES);
        uint64_t at;
        Status st = arena_alloc(pages, &at);
        if (st != veneer::OK) return reply(st);
        *s = Segment{{name[0], name[1]}, at, pages, true, false};
      }
      if (pages == 0 || pages > s->pages) pages = s->pages;
      Status st = share(procs[me].env_slot, va, s->va, pages, veneer::PERM_WRITE | layout::kMarkShared);
      if (st != veneer::OK && made) {  // a refused open makes nothing
        for (uint64_t p = 0; p < s->pages; p++) vm::unmap_page(s->va + p * kPageSize);
        s->used = false;
      }
      return reply(st, pages);
    }
    case OP_SHM_UNLINK: {
      uint64_t name[2] = {m.w[1], m.w[2]};
      Segment* s = find_segment(name);
      if (!s) return reply(veneer::ERR_NO_NAME);
      s->unlinked = true;  // freed once nobody maps it (sweep_dead)
      unlinked_segments++;
      return reply(veneer::OK);
    }
    case OP_LRPC_EXPORT: {
      uint64_t name[2] = {m.w[1], m.w[2]};
      if (find_service(name)) return reply(veneer::ERR_BUSY);
      Service* s = nullptr;
      for (Service& f : services)
        if (!f.used) {
          s = &f;
          break;
        }
      if (!s) return reply(veneer::ERR_NO_RESOURCES);
      uint64_t at;
      Status st = arena_alloc(1, &at);
      if (st == veneer::OK)  // the binding table: read-only in the server, which checks callers against it
        st = share(procs[me].env_slot, layout::kLrpcBase, at, 1, veneer::PERM_READ | layout::kMarkPrivate);
      if (st != veneer::OK) return reply(st);
      *s = Service{{name[0], name[1]}, self.env, at, 0, true, m.w[3] != 0};
      nservices++;
      return reply(veneer::OK);
    }
    case OP_LRPC_IMPORT: {
      uint64_t name[2] = {m.w[1], m.w[2]};
      uint64_t slot = m.w[3] & 0xFFFFFFFF, va = m.w[4];
      Service* s = find_service(name);
      if (!s) return reply(veneer::ERR_NO_NAME);
      int server = find_env(s->server);
      if (server < 0) return reply(veneer::ERR_NO_NAME);
      if (s->nbindings == kMaxBindings) return reply(veneer::ERR_NO_RESOURCES);
      if (slot < kFirstFreeSlot || slot >= veneer::kCapSlots) return reply(veneer::ERR_INVALID_ARGS);
      uint32_t b = s->nbindings;
      uint64_t args;
      Status st = arena_alloc(1, &args);
      if (st == veneer::OK)
        st = share(procs[server].env_slot, layout::kLrpcBase + (1 + b) * kPageSize, args, 1,
                   veneer::PERM_WRITE | layout::kMarkPrivate);
      if (st == veneer::OK && va)
        st = share(procs[me].env_slot, va, args, 1, veneer::PERM_WRITE | layout::kMarkPrivate);
      if (st == veneer::OK)
        st = static_cast<Status>(sys_cap_grant(procs[server].env_slot, procs[me].env_slot, slot, 0).status);
      if (st != veneer::OK) return reply(st);
      reinterpret_cast<volatile uint32_t*>(s->table_va)[b] = self.env;
      s->nbindings++;
      return reply(veneer::OK, s->server, b, s->trusted);
    }
    default:
      return reply(veneer::ERR_INVALID_ARGS);
  }
}

Message handle(const Received& in) {
  int me = find_env(in.sender);
  if (me < 0 || !in.sync) return reply(veneer::ERR_NO_PROCESS);
  uint32_t op = static_cast<uint32_t>(in.msg.w[0]);
  uint32_t seq = static_cast<uint32_t>(in.msg.w[0] >> 32);
  Proc& p = procs[me];
  if (seq && seq == p.last_seq) return p.last_reply;  // a repeated request: answered already
  sweep_dead();
  if (entry(me).state != proc::PROC_RUNNING) return reply(veneer::ERR_NO_PROCESS);
  Message out = serve(static_cast<uint32_t>(me), op, in.msg);
  if (entry(me).state == proc::PROC_RUNNING && entry(me).env == in.sender) {
    procs[me].last_seq = seq;
    procs[me].last_reply = out;
  }
  return out;
}

}  // namespace

void manager_main() {
  // The published table: a frame of ours, writable here, read-only in every
  // process (page_share) and in init (a read-only capability).
  Frame f;
  if (frame_alloc(&f) != veneer::OK ||
      sys_page_map(kSelfSlot, layout::kProcTableVa, f.slot, veneer::PERM_WRITE | layout::kMarkPrivate).status !=
          veneer::OK)
    panic("process manager: no table");
  if (sys_cap_grant(f.slot, kCreatorSlot, kProcTableSlot, veneer::RIGHT_READ).status != veneer::OK)
    panic("process manager: cannot hand init the table");
  table = reinterpret_cast<proc::ProcTable*>(layout::kProcTableVa);
  process_frames = static_cast<uint32_t>(start_arg());
  table->magic = proc::kProcTableMagic;
  table->manager = self_id();
  table->nprocs = 1;
  uint32_t creator = env_info(self_id()).parent;
  entry(0) = ProcEntry{proc::kInitPid, 0, creator, proc::PROC_RUNNING, 0, 0, 0};
  procs[0] = Proc{kCreatorSlot, 0, 0, 0, {}};
  pct_serve(handle);
}

Status pack_name(const char* name, uint64_t out[2]) {
  out[0] = out[1] = 0;
  size_t n = strlen(name);
  if (n == 0 || n > 16) return veneer::ERR_INVALID_ARGS;
  memcpy(out, name, n);
  return veneer::OK;
}

}  // namespace exos::internal
