// Descriptors and pipes. A pipe's two pages (header and ring) are bound in
// every process holding one of its ends (marked shared, so fork passes them
// on as they are). The header counts bytes written and read (free-running,
// so the ring never needs a full/empty flag) and lists which envs hold how
// many read and write ends. An end held by an env that is gone (it exited,
// crashed, was killed, whatever the kernel did) is closed: liveness comes
// from the kernel's env table, not from the holder's cooperation.
//
// Everything in the shared pages is written by other processes too, so it
// is read defensively: counters are clamped, indexes masked, loops bounded.
// A process that shares a pipe can garble its data or stall it, nothing more.
#include "../internal.h"
#include "exos/ipc.h"
#include "exos/vm.h"

namespace exos {
namespace {

using veneer::kSelfSlot;

constexpr uint64_t kPipeMagic = 0x5049'5045'4558'4F53ull;  // "PIPEEXOS"
constexpr uint32_t kMaxHolders = 128;

struct PipeHeader {
  uint64_t magic;
  volatile uint32_t head;         // bytes written, ever
  volatile uint32_t tail;         // bytes read, ever
  volatile uint32_t write_lock;   // env id of the writer in a write (writes of up to 4 KiB do not interleave)
  volatile uint32_t read_lock;
  volatile uint32_t last_writer;  // who to give our time to when we wait
  volatile uint32_t last_reader;
  volatile uint32_t nholders;     // entries in use are below this
  volatile uint32_t version;      // bumped at every change of the holders
  volatile uint64_t holders[kMaxHolders];  // env | readers << 32 | writers << 48
};
static_assert(sizeof(PipeHeader) <= kPageSize);

uint32_t holder_env(uint64_t h) { return static_cast<uint32_t>(h); }
uint32_t holder_readers(uint64_t h) { return static_cast<uint32_t>((h >> 32) & 0xFFFF); }
uint32_t holder_writers(uint64_t h) { return static_cast<uint32_t>(h >> 48); }
uint64_t make_holder(uint32_t env, uint32_t r, uint32_t w) { return env | uint64_t(r) << 32 | uint64_t(w) << 48; }

bool env_alive(uint32_t id) {
  const veneer::EnvInfo& e = env_info(id);
  return id && e.id == id && (e.state == veneer::ENV_RUNNABLE || e.state == veneer::ENV_BLOCKED ||
                              e.state == veneer::ENV_NEW);
}

struct Fd {
  uint32_t kind;  // ipc::FdKind
  uint32_t flags;
  uint64_t object;  // the pipe's header address
  // The other side: a live env holding the other end, as of the holders'
  // version `seen` (so the common case checks one env, not the list).
  uint32_t peer, seen;
};
Fd fds[ipc::kMaxFds];
int fd_top;  // descriptors at or above this are closed (loops stop here)

void note_open(int fd) {
  if (fd >= fd_top) fd_top = fd + 1;
}

PipeHeader* header(uint64_t object) { return reinterpret_cast<PipeHeader*>(object); }
volatile uint8_t* ring(uint64_t object) { return reinterpret_cast<volatile uint8_t*>(object + kPageSize); }

uint32_t holder_count(const PipeHeader* h) {
  uint32_t n = h->nholders;
  return n < kMaxHolders ? n : kMaxHolders;
}

// Adds (dr, dw) ends to env's entry (making one if it has none).
Status adjust_holder(PipeHeader* h, uint32_t env, int32_t dr, int32_t dw) {
  for (;;) {
    uint32_t n = holder_count(h);
    int found = -1, empty = -1;
    for (uint32_t i = 0; i < n; i++) {
      uint64_t v = h->holders[i];
      if (holder_env(v) == env) found = static_cast<int>(i);
      else if (empty < 0 && (holder_env(v) == 0 || !env_alive(holder_env(v)))) empty = static_cast<int>(i);
    }
    if (found >= 0) {
      uint64_t old = h->holders[found];
      int32_t r = static_cast<int32_t>(holder_readers(old)) + dr, w = static_cast<int32_t>(holder_writers(old)) + dw;
      if (r < 0) r = 0;
      if (w < 0) w = 0;
      uint64_t now = (r || w) ? make_holder(env, r, w) : 0;
      if (__atomic_compare_exchange_n(&h->holders[found], &old, now, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        __atomic_add_fetch(&h->version, 1, __ATOMIC_SEQ_CST);
        return veneer::OK;
      }
      continue;
    }
    if (dr <= 0 && dw <= 0) return veneer::OK;
    uint64_t now = make_holder(env, dr > 0 ? dr : 0, dw > 0 ? dw : 0);
    if (empty >= 0) {
      uint64_t old = h->holders[empty];
      if (__atomic_compare_exchange_n(&h->holders[empty], &old, now, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        __atomic_add_fetch(&h->version, 1, __ATOMIC_SEQ_CST);
        return veneer::OK;
      }
      continue;
    }
    if (n == kMaxHolders) return veneer::ERR_NO_RESOURCES;
    uint32_t expect = n;
    if (__atomic_compare_exchange_n(&h->nholders, &expect, n + 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
      h->holders[n] = now;
      __atomic_add_fetch(&h->version, 1, __ATOMIC_SEQ_CST);
      return veneer::OK;
    }
  }
}

// A live env holding a read end (write end): `hint` if it does, else
// another env, else ourselves; 0 if none.
uint32_t live_holder(const PipeHeader* h, bool writers, uint32_t hint) {
  uint32_t n = holder_count(h), other = 0, self = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t v = h->holders[i];
    uint32_t env = holder_env(v);
    if (!(writers ? holder_writers(v) : holder_readers(v)) || !env_alive(env)) continue;
    if (env == hint) return env;
    if (env == self_id()) self = env;
    else if (!other) other = env;
  }
  return other ? other : self;
}

// A live env holding the other side's end (writers for a reader): the
// cached one while the holders have not changed and it is alive (the kernel
// env table says: an end held by an env that is gone is closed), else from
// the list.
[[gnu::noinline]] uint32_t other_side_scan(Fd* f, const PipeHeader* h, bool writers) {
  f->seen = h->version;
  f->peer = live_holder(h, writers, writers ? h->last_writer : h->last_reader);
  return f->peer;
}
inline uint32_t other_side(Fd* f, const PipeHeader* h, bool writers) {
  if (f->seen == h->version && f->peer && env_alive(f->peer)) [[likely]]
    return f->peer;
  return other_side_scan(f, h, writers);
}

// Our time to env (0: to whoever runs next), the capability from the cache.
inline void give_time(uint32_t env) {
  int64_t slot = env ? internal::cached_peer(env) : -1;
  if (slot < 0) return ipc::yield_to(env);
  if (sys_yield_to(static_cast<uint64_t>(slot)).status != veneer::OK) sys_yield();
}

// A lock word holding the env in the critical section; a holder that is
// gone is overtaken. While waiting, our time goes to the holder.
void lock(volatile uint32_t* word) {
  uint32_t me = self_id();
  for (;;) {
    uint32_t cur = 0;
    if (__atomic_compare_exchange_n(word, &cur, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return;
    if (cur == me) return;
    if (!env_alive(cur)) {
      __atomic_compare_exchange_n(word, &cur, 0, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
      continue;
    }
    ipc::yield_to(cur);
  }
}
void unlock(volatile uint32_t* word) { __atomic_store_n(word, 0u, __ATOMIC_RELEASE); }

// How many bytes the ring holds, clamped: a garbled header reads as full or empty, never more.
uint32_t used(const PipeHeader* h) {
  uint32_t n = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE) - h->tail;
  return n > ipc::kPipeCapacity ? static_cast<uint32_t>(ipc::kPipeCapacity) : n;
}

Fd* get(int fd) {
  if (fd < 0 || fd >= ipc::kMaxFds || fds[fd].kind == ipc::FD_NONE) return nullptr;
  return &fds[fd];
}

int lowest_free(int from = 0) {
  for (int i = from; i < ipc::kMaxFds; i++)
    if (fds[i].kind == ipc::FD_NONE) return i;
  return -1;
}

// Our read and write descriptors on a pipe.
void count_ends(uint64_t object, uint32_t* r, uint32_t* w, bool skip_cloexec) {
  *r = *w = 0;
  for (int i = 0; i < fd_top; i++) {
    const Fd& f = fds[i];
    if (f.object != object || f.kind == ipc::FD_NONE || (skip_cloexec && (f.flags & ipc::kCloseOnExec))) continue;
    if (f.kind == ipc::FD_PIPE_READ) ++*r;
    else ++*w;
  }
}

bool first_for_object(int i, bool skip_cloexec) {
  for (int k = 0; k < i; k++)
    if (fds[k].kind != ipc::FD_NONE && fds[k].object == fds[i].object &&
        !(skip_cloexec && (fds[k].flags & ipc::kCloseOnExec)))
      return false;
  return true;
}

}  // namespace

namespace ipc {

Status pipe(int out[2], uint32_t flags) {
  int r = lowest_free(), w = r < 0 ? -1 : lowest_free(r + 1);
  if (r < 0 || w < 0) return veneer::ERR_NO_RESOURCES;
  uint64_t object = 0;
  for (uint64_t i = 0; i < layout::kMaxPipes && !object; i++) {
    uint64_t va = layout::kPipeBase + i * layout::kPipeStride;
    if (!(read_pte(va) & layout::kPtePresent)) object = va;
  }
  if (!object) return veneer::ERR_NO_RESOURCES;
  Frame a, b;
  Status s = frame_alloc_owned(&a);
  if (s != veneer::OK) return s;
  if ((s = frame_alloc_owned(&b)) != veneer::OK) {
    frame_free(a);
    return s;
  }
  const uint32_t perms = static_cast<uint32_t>(veneer::PERM_WRITE | layout::kMarkShared);
  veneer::PageOp ops[2] = {{object, a.ref(), veneer::PAGE_OP_MAP, perms},
                           {object + kPageSize, b.ref(), veneer::PAGE_OP_MAP, perms}};
  SysResult res = sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), 2);
  if (res.status != veneer::OK) {
    frame_free(a);
    frame_free(b);
    return static_cast<Status>(res.status);
  }
  PipeHeader* h = header(object);
  h->magic = kPipeMagic;
  h->nholders = 1;
  h->holders[0] = make_holder(self_id(), 1, 1);
  fds[r] = Fd{FD_PIPE_READ, flags, object, 0, 0};
  fds[w] = Fd{FD_PIPE_WRITE, flags, object, 0, 0};
  out[0] = r;
  out[1] = w;
  note_open(w);
  return veneer::OK;
}

namespace {

// Ring copies: small ones (the common case of a pipe between processes
// talking a line or a byte at a time) without a call.
inline void copy_small(volatile uint8_t* d, const volatile uint8_t* s, uint32_t n) {
  if (n <= 16) {
    for (uint32_t i = 0; i < n; i++) d[i] = s[i];
  } else {
    memcpy(const_cast<uint8_t*>(d), const_cast<const uint8_t*>(s), n);
  }
}
inline void copy_out(uint8_t* buf, const volatile uint8_t* data, uint32_t from, uint32_t k) {
  uint32_t at = from & (kPipeCapacity - 1), first = static_cast<uint32_t>(kPipeCapacity) - at;
  if (first >= k) return copy_small(buf, data + at, k);
  copy_small(buf, data + at, first);
  copy_small(buf + first, data, k - first);
}
inline void copy_in(volatile uint8_t* data, uint32_t to, const uint8_t* src, uint32_t k) {
  uint32_t at = to & (kPipeCapacity - 1), first = static_cast<uint32_t>(kPipeCapacity) - at;
  if (first >= k) return copy_small(data + at, src, k);
  copy_small(data + at, src, first);
  copy_small(data, src + first, k - first);
}

// The reader waits: its time goes to a writer until there is something to
// read; 0 (end of file) when no writer is left.
[[gnu::noinline]] int64_t read_wait(Fd* f, PipeHeader* h, uint8_t* buf, uint64_t n) {
  uint32_t avail;
  while ((avail = used(h)) == 0) {
    uint32_t writer = other_side(f, h, true);
    if (!writer) {  // every write end is closed: end of file ...
      // ... unless the last writer wrote and left between our two looks.
      if (used(h)) continue;
      unlock(&h->read_lock);
      return 0;
    }
    give_time(writer == self_id() ? 0 : writer);  // the writer gets our time until it writes
  }
  uint32_t k = avail < n ? avail : static_cast<uint32_t>(n);
  uint32_t tail = h->tail;
  copy_out(buf, ring(f->object), tail, k);
  __atomic_store_n(&h->tail, tail + k, __ATOMIC_RELEASE);
  unlock(&h->read_lock);
  return k;
}

// The writer waits for room (its time going to a reader), or finds every
// reader gone.
[[gnu::noinline]] int64_t write_rest(Fd* f, PipeHeader* h, const uint8_t* src, uint64_t n, uint64_t done) {
  volatile uint8_t* data = ring(f->object);
  while (done < n || n == 0) {
    uint32_t reader = other_side(f, h, false);
    if (!reader) {
      unlock(&h->write_lock);
      return done ? static_cast<int64_t>(done) : veneer::ERR_PIPE_CLOSED;
    }
    if (n == 0) break;
    uint32_t room = static_cast<uint32_t>(kPipeCapacity) - used(h);
    if (room == 0) {
      give_time(reader == self_id() ? 0 : reader);
      continue;
    }
    uint64_t left = n - done;
    uint32_t k = left < room ? static_cast<uint32_t>(left) : room;
    uint32_t head = h->head;
    copy_in(data, head, src + done, k);
    __atomic_store_n(&h->head, head + k, __ATOMIC_RELEASE);
    done += k;
  }
  unlock(&h->write_lock);
  return static_cast<int64_t>(done);
}

inline bool try_lock(volatile uint32_t* word) {
  uint32_t cur = 0;
  return __atomic_compare_exchange_n(word, &cur, self_id(), false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

}  // namespace

// The common cases (something to read; room to write, a reader alive) run
// straight through; waiting and the rest are apart.
int64_t read(int fd, void* buf, uint64_t n) {
  Fd* f = get(fd);
  if (!f || f->kind != FD_PIPE_READ) return veneer::ERR_BAD_FD;
  if (n == 0) return 0;
  PipeHeader* h = header(f->object);
  if (!try_lock(&h->read_lock)) lock(&h->read_lock);
  uint32_t avail = used(h);
  if (avail == 0) return read_wait(f, h, static_cast<uint8_t*>(buf), n);
  uint32_t k = avail < n ? avail : static_cast<uint32_t>(n);
  uint32_t tail = h->tail;
  copy_out(static_cast<uint8_t*>(buf), ring(f->object), tail, k);
  __atomic_store_n(&h->tail, tail + k, __ATOMIC_RELEASE);
  unlock(&h->read_lock);
  if (h->last_reader != self_id()) h->last_reader = self_id();  // writers give their time to us
  return k;
}

int64_t write(int fd, const void* buf, uint64_t n) {
  Fd* f = get(fd);
  if (!f || f->kind != FD_PIPE_WRITE) return veneer::ERR_BAD_FD;
  PipeHeader* h = header(f->object);
  if (!try_lock(&h->write_lock)) lock(&h->write_lock);
  uint32_t room = static_cast<uint32_t>(kPipeCapacity) - used(h);
  if (n == 0 || n > room || !other_side(f, h, false))
    return write_rest(f, h, static_cast<const uint8_t*>(buf), n, 0);
  uint32_t head = h->head;
  copy_in(ring(f->object), head, static_cast<const uint8_t*>(buf), static_cast<uint32_t>(n));
  __atomic_store_n(&h->head, head + static_cast<uint32_t>(n), __ATOMIC_RELEASE);
  unlock(&h->write_lock);
  if (h->last_writer != self_id()) h->last_writer = self_id();  // readers give their time to us
  return static_cast<int64_t>(n);
}

Status close(int fd) {
  Fd* f = get(fd);
  if (!f) return veneer::ERR_BAD_FD;
  uint64_t object = f->object;
  bool reader = f->kind == FD_PIPE_READ;
  *f = Fd{};
  PipeHeader* h = header(object);
  adjust_holder(h, self_id(), reader ? -1 : 0, reader ? 0 : -1);
  uint32_t r, w;
  count_ends(object, &r, &w, false);
  if (r == 0 && w == 0) {  // our last end of it: unbind its pages (freed when nobody maps them)
    adjust_holder(h, self_id(), -0x10000, -0x10000);
    vm::unmap_page(object);
    vm::unmap_page(object + kPageSize);
  }
  return veneer::OK;
}

int dup(int fd) {
  Fd* f = get(fd);
  if (!f) return veneer::ERR_BAD_FD;
  int to = lowest_free();
  if (to < 0) return veneer::ERR_NO_RESOURCES;
  return dup2(fd, to);
}

int dup2(int fd, int to) {
  Fd* f = get(fd);
  if (!f || to < 0 || to >= kMaxFds) return veneer::ERR_BAD_FD;
  if (to == fd) return to;
  Fd copy = *f;
  copy.flags &= ~kCloseOnExec;
  copy.seen = 0;
  // Count the new end before closing what `to` had, so a pipe whose last
  // end `to` was is not unbound under us.
  adjust_holder(header(copy.object), self_id(), copy.kind == FD_PIPE_READ, copy.kind == FD_PIPE_WRITE);
  if (fds[to].kind != FD_NONE) close(to);
  fds[to] = copy;
  note_open(to);
  return to;
}

Status set_fd_flags(int fd, uint32_t flags) {
  Fd* f = get(fd);
  if (!f) return veneer::ERR_BAD_FD;
  f->flags = flags;
  return veneer::OK;
}

FdKind fd_kind(int fd) {
  Fd* f = get(fd);
  return f ? static_cast<FdKind>(f->kind) : FD_NONE;
}

void close_all() {
  for (int i = 0; i < fd_top; i++)
    if (fds[i].kind != FD_NONE) close(i);
  fd_top = 0;
}

}  // namespace ipc

namespace internal {

Status fds_fork(uint32_t child_env) {
  for (int i = 0; i < fd_top; i++) {
    if (fds[i].kind == ipc::FD_NONE || !first_for_object(i, false)) continue;
    uint32_t r, w;
    count_ends(fds[i].object, &r, &w, false);
    Status s = adjust_holder(header(fds[i].object), child_env, r, w);
    if (s != veneer::OK) return s;
  }
  return veneer::OK;
}

Status fds_inherit(uint64_t env_slot, uint32_t new_env, InheritBlock* block) {
  block->nfds = 0;
  for (int i = 0; i < fd_top; i++) {
    if (fds[i].kind == ipc::FD_NONE || (fds[i].flags & ipc::kCloseOnExec)) continue;
    if (block->nfds == kMaxInheritFds) return veneer::ERR_NO_RESOURCES;
    block->fds[block->nfds++] = InheritedFd{i, fds[i].kind, fds[i].object, fds[i].flags, 0};
    if (!first_for_object(i, true)) continue;
    uint32_t r, w;
    count_ends(fds[i].object, &r, &w, true);
    SysResult res = sys_page_share(env_slot, fds[i].object, fds[i].object, 2,
                                   veneer::PERM_WRITE | layout::kMarkShared);
    if (res.status != veneer::OK) return static_cast<Status>(res.status);
    Status s = adjust_holder(header(fds[i].object), new_env, r, w);
    if (s != veneer::OK) return s;
  }
  return veneer::OK;
}

void fds_adopt(const InheritBlock* block) {
  for (Fd& f : fds) f = Fd{};
  fd_top = 0;
  uint32_t n = block->nfds < kMaxInheritFds ? block->nfds : kMaxInheritFds;
  for (uint32_t i = 0; i < n; i++) {
    const InheritedFd& in = block->fds[i];
    if (in.fd < 0 || in.fd >= ipc::kMaxFds || (in.kind != ipc::FD_PIPE_READ && in.kind != ipc::FD_PIPE_WRITE)) continue;
    if (in.object < layout::kPipeBase || in.object >= layout::kPipeBase + layout::kMaxPipes * layout::kPipeStride) continue;
    if (!(read_pte(in.object) & layout::kPtePresent)) continue;
    fds[in.fd] = Fd{in.kind, in.flags, in.object, 0, 0};
    note_open(in.fd);
  }
}

void fds_close_all() { ipc::close_all(); }

}  // namespace internal
}  // namespace exos
