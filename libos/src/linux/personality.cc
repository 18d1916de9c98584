// The Linux personality (exos/linux.h): loads static Linux ELF images into
// this process and emulates the system calls they make. Every foreign
// `syscall` arrives at on_syscall (vector kVecForeignSyscall) on ExOS's
// exception stack with the program's argument registers saved just below
// the frame by exception_entry.S; the result goes back in the frame's rax.
// Pointers from the program are checked against the ranges a Linux image
// may use before they are touched: a bad one gets -EFAULT.
#include "../internal.h"
#include "common/elf.h"
#include "context.h"
#include "exos/heap.h"
#include "exos/ipc.h"
#include "exos/linux.h"
#include "exos/vm.h"
#include "linux_abi.h"
#include "procfs.h"
#include "socket.h"
#include "ramfs.h"
#include "tty.h"

#include <initializer_list>

extern "C" exos::linux::LinuxContext linux_ctx;
exos::linux::LinuxContext linux_ctx;
extern "C" void linux_fork_trampoline();
extern "C" [[noreturn]] void linux_enter(uint64_t entry, uint64_t rsp);
extern "C" long linux_fork_body();

namespace exos::linux {
using namespace abi;
namespace {

// Where a Linux image lives: its segments and brk below layout::kProgramTop,
// anonymous mmaps where vm::map puts them, its stack here. The personality's
// own stack (for fork) sits apart, never in a range the program may name.
constexpr uint64_t kStackTop = layout::kLinuxStackTop;
constexpr uint64_t kStackSize = 8ull << 20;
constexpr uint64_t kOwnStackTop = layout::kLinuxOwnStackTop;
constexpr uint64_t kOwnStackSize = 64 << 10;
constexpr uint64_t kPieBase = 0x02000000;
constexpr uint64_t kMaxBrk = 256ull << 20;
constexpr int kMaxFds = 64, kMaxFiles = 64, kMaxMaps = 32, kMaxSegs = 8;

enum Kind : uint8_t { K_FREE = 0, K_CONSOLE, K_NULL, K_ZERO, K_FILE, K_DIR, K_PIPE, K_PROC, K_PROCDIR, K_SOCKET };
// An open file description (shared by dup'd descriptors).
struct File {
  uint32_t refs;
  Kind kind;
  int node;        // K_FILE, K_DIR; K_PROCDIR: its pid (0: /proc)
  int exos_fd;     // K_PIPE; K_SOCKET: the socket (socket.h)
  uint32_t flags;  // O_ACCMODE, O_APPEND, O_NONBLOCK
  uint64_t off;    // K_PROC, K_PROCDIR (the others' is shared: `cell`)
  int32_t cell;    // K_FILE, K_DIR: the shared offset cell, else -1
  char* snapshot;  // K_PROC: the contents rendered at open (heap)
  uint64_t snapshot_len;
};
struct Fd {
  int file;  // index in files, -1 free
  bool cloexec;
};
struct Map {
  uint64_t va, len;
};
struct State {
  bool ready;
  uint64_t segs[kMaxSegs][2];
  int nsegs;
  uint64_t brk_base, brk_cur, brk_limit;
  Map maps[kMaxMaps];
  File files[kMaxFiles];
  Fd fds[kMaxFds];
  int cwd;
  uint32_t umask;
  uint64_t sigactions[65][4];
  uint64_t sigmask;
  uint64_t fs_base;
  const proc::ProcTable* table;  // the published process table (read-only)
  uint32_t proc_slot;            // our entry in it, plus one (0: not looked up)
  bool no_signals;               // this call replaced the program or forks: no delivery now
  uint64_t pending;              // signals waiting for delivery (Linux sigset bits: signal n is bit n-1)
  uint64_t suspend_mask;         // the mask sigsuspend replaced, while it waits
  bool suspended;
  uint64_t table_changes;   // the process table's change count when we last looked for dead children
  int32_t chld_seen[64];    // children whose end was signalled (SIGCHLD) and not yet reaped
  uint64_t unsupported[8];  // reported numbers (bitmap of 512)
  uint64_t unsupported_count;
  uint64_t random_state;
};
State st;
void publish_dispositions();
uint64_t deliverable(bool waiting = false);
bool interrupted() { return deliverable(true) != 0; }
// A signal for this process, delivered as the current call returns.
void raise_signal(int sig) { st.pending |= 1ull << (sig - 1); }

// ---- Checking the program's pointers ----------------------------------------------
bool in_program_ranges(uint64_t a, uint64_t len) {
  uint64_t end = a + len;
  if (end < a) return false;
  auto within = [&](uint64_t lo, uint64_t hi) { return a >= lo && end <= hi; };
  return within(veneer::kUserBase, layout::kProgramTop) || within(layout::kMapBase, layout::kMapTop) ||
         within(layout::kMapBase2, layout::kMapTop2) || within(kStackTop - kStackSize, kStackTop);
}
bool user_ok(uint64_t a, uint64_t len, bool write) {
  if (len == 0) return true;
  if (!in_program_ranges(a, len)) return false;
  for (uint64_t p = a & ~(kPageSize - 1); p < a + len; p += kPageSize) {
    uint64_t pte = read_pte(p);
    if (pte & layout::kPtePresent) {
      if (write && !(pte & layout::kPteWrite) && !(layout::pte_marks(pte) & layout::kMarkCow)) return false;
      continue;
    }
    vm::Region* r = vm::find(p);
    if (!r || r->kind == vm::Kind::Guard || (write && !(r->perms & veneer::PERM_WRITE))) return false;
  }
  return true;
}
// A NUL-terminated string of at most max bytes (with the NUL) from the program.
bool user_str(uint64_t a, uint64_t max) {
  for (uint64_t i = 0; i < max; i++) {
    if (((a + i) & (kPageSize - 1)) == 0 || i == 0)
      if (!user_ok(a + i, 1, false)) return false;
    if (reinterpret_cast<const char*>(a)[i] == 0) return true;
  }
  return false;
}
#define USER_PTR(a, len, w) \
  if (!user_ok((a), (len), (w))) return -EFAULT
#define USER_PATH(a) \
  if (!user_str((a), 4096)) return -EFAULT
const char* str(uint64_t a) { return reinterpret_cast<const char*>(a); }

// ---- Descriptors ---------------------------------------------------------------------
// An open file's offset is shared by every descriptor that names it, in
// this process (dup) and in the processes forked from it, as on Linux: it
// lives in a cell of a table every process maps shared. A cell records
// which processes (by their slot in the published process table) hold it;
// one no live process holds is free again. `pins` keep a cell alive while a
// fork is in flight (the child has not claimed it yet).
struct OffsetCell {
  uint64_t holders;  // bit i: process-table slot i holds it
  uint32_t pins;
  uint32_t used;
  uint64_t off;
};
constexpr int kMaxCells = 512;
OffsetCell* cells;

uint64_t my_bit() {
  if (!st.proc_slot) {
    int me = proc::getpid();
    for (uint32_t i = 0; i < proc::kMaxProcs && st.table; i++)
      if (st.table->procs[i].state == proc::PROC_RUNNING && st.table->procs[i].pid == me) st.proc_slot = i + 1;
  }
  return st.proc_slot ? 1ull << (st.proc_slot - 1) : 0;
}
// Cells whose holders all ended are free again.
void collect_cells() {
  uint64_t live = 0;
  for (uint32_t i = 0; i < proc::kMaxProcs && st.table; i++)
    if (st.table->procs[i].state == proc::PROC_RUNNING) live |= 1ull << i;
  for (int c = 0; c < kMaxCells; c++) {
    OffsetCell& cell = cells[c];
    if (!cell.used) continue;
    __atomic_fetch_and(&cell.holders, live, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&cell.holders, __ATOMIC_ACQUIRE) && !__atomic_load_n(&cell.pins, __ATOMIC_ACQUIRE))
      __atomic_store_n(&cell.used, 0, __ATOMIC_RELEASE);
  }
}
int32_t alloc_cell() {
  for (int pass = 0; pass < 2; pass++) {
    for (int c = 0; c < kMaxCells; c++) {
      uint32_t free_cell = 0;
      if (__atomic_compare_exchange_n(&cells[c].used, &free_cell, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        cells[c].off = 0;
        cells[c].pins = 0;
        __atomic_store_n(&cells[c].holders, my_bit(), __ATOMIC_RELEASE);
        return c;
      }
    }
    collect_cells();
  }
  return -1;
}
void release_cell(int32_t c) {
  OffsetCell& cell = cells[c];
  uint64_t left = __atomic_and_fetch(&cell.holders, ~my_bit(), __ATOMIC_ACQ_REL);
  if (!left && !__atomic_load_n(&cell.pins, __ATOMIC_ACQUIRE)) __atomic_store_n(&cell.used, 0, __ATOMIC_RELEASE);
}
// Around a fork: the parent pins its cells; the child claims them.
void pin_cells(int delta) {
  for (const File& f : st.files)
    if (f.kind != K_FREE && f.cell >= 0)
      __atomic_add_fetch(&cells[f.cell].pins, static_cast<uint32_t>(delta), __ATOMIC_ACQ_REL);
}
void claim_cells_in_child() {
  st.proc_slot = 0;
  uint64_t me = my_bit();
  for (int c = 0; c < kMaxCells; c++)  // whatever an ended process in our slot left
    if (cells[c].used) __atomic_fetch_and(&cells[c].holders, ~me, __ATOMIC_RELAXED);
  for (const File& f : st.files)
    if (f.kind != K_FREE && f.cell >= 0) __atomic_fetch_or(&cells[f.cell].holders, me, __ATOMIC_RELEASE);
  pin_cells(-1);
}
uint64_t& pos(File* f) { return f->cell >= 0 ? cells[f->cell].off : f->off; }

int new_file(Kind kind, int node, int exos_fd, uint32_t flags) {
  for (int i = 0; i < kMaxFiles; i++)
    if (st.files[i].kind == K_FREE) {
      int32_t cell = -1;
      if (kind == K_FILE || kind == K_DIR) {
        cell = alloc_cell();
        if (cell < 0) return -ENFILE;
      }
      st.files[i] = File{1, kind, node, exos_fd, flags, 0, cell, nullptr, 0};
      return i;
    }
  return -ENFILE;
}
int new_fd(int file, int from, bool cloexec) {
  for (int i = from; i < kMaxFds; i++)
    if (st.fds[i].file < 0) {
      st.fds[i] = Fd{file, cloexec};
      return i;
    }
  return -EMFILE;
}
void put_file(int f) {
  File& file = st.files[f];
  if (--file.refs) return;
  if (file.kind == K_PIPE) exos::ipc::close(file.exos_fd);
  if (file.kind == K_SOCKET) sock::close(file.exos_fd);
  if (file.snapshot) free(file.snapshot);
  if (file.cell >= 0) release_cell(file.cell);
  file = File{};
}
File* file_of(uint64_t fd) {
  if (fd >= kMaxFds || st.fds[fd].file < 0) return nullptr;
  return &st.files[st.fds[fd].file];
}
long do_close(uint64_t fd) {
  if (fd >= kMaxFds || st.fds[fd].file < 0) return -EBADF;
  put_file(st.fds[fd].file);
  st.fds[fd].file = -1;
  return 0;
}
long dup_to(uint64_t fd, int to, bool cloexec) {
  File* f = file_of(fd);
  if (!f) return -EBADF;
  if (to < 0 || to >= kMaxFds) return -EBADF;
  if (static_cast<uint64_t>(to) == fd) return to;
  if (st.fds[to].file >= 0) do_close(to);
  f->refs++;
  st.fds[to] = Fd{st.fds[fd].file, cloexec};
  return to;
}
int start_fd_from(int dirfd, int* dir) {
  if (dirfd == kAtFdCwd) {
    *dir = st.cwd;
    return 0;
  }
  File* f = file_of(static_cast<uint64_t>(dirfd));
  if (!f) return -EBADF;
  if (f->kind != K_DIR) return -ENOTDIR;
  *dir = f->node;
  return 0;
}

// ---- Files ---------------------------------------------------------------------------
void fill_stat(Stat* s, int n) {
  const fs::Node& node = fs::node(n);
  *s = Stat{};
  s->dev = 1;
  s->ino = static_cast<uint64_t>(n) + 1;
  s->nlink = node.type == fs::T_DIR ? 2 : node.links;
  s->mode = fs::type_bits(node.type) | (node.mode & 07777);
  s->rdev = node.rdev;
  s->size = static_cast<int64_t>(node.type == fs::T_DIR ? 4096 : node.size);
  s->blksize = 4096;
  s->blocks = (s->size + 511) / 512;
  s->atime = s->mtime = s->ctime = static_cast<int64_t>(node.mtime);
}
void fill_proc_stat(Stat* s, procfs::Kind kind, int pid) {
  *s = Stat{};
  s->dev = 2;
  s->ino = 0x10000 + static_cast<uint64_t>(pid);
  s->nlink = 1;
  s->blksize = 4096;
  s->mode = kind == procfs::DIR ? 0040555 : kind == procfs::LINK ? 0120777 : 0100444;
}

long stat_file(const File& f, Stat* s) {
  if (f.kind == K_FILE || f.kind == K_DIR) {
    fill_stat(s, f.node);
    return 0;
  }
  if (f.kind == K_PROC || f.kind == K_PROCDIR) {
    fill_proc_stat(s, f.kind == K_PROC ? procfs::FILE : procfs::DIR, f.node);
    return 0;
  }
  *s = Stat{};
  s->dev = 1;
  s->nlink = 1;
  s->blksize = 4096;
  s->mode = f.kind == K_PIPE ? 0010600 : f.kind == K_SOCKET ? 0140777 : 0020666;
  s->rdev = f.kind == K_CONSOLE ? 0x501 : f.kind == K_ZERO ? 0x105 : 0x103;
  return 0;
}

long proc_open(const char* path, uint64_t flags) {
  if (flags & O_ACCMODE) return -EACCES;
  procfs::Kind kind;
  int pid;
  char* data = nullptr;
  uint64_t len = 0;
  int r = procfs::open(path, &kind, &pid, &data, &len);
  if (r < 0) return r;
  if (kind == procfs::LINK) {  // /proc/self: the directory it names
    char target[32] = "/proc/";
    memcpy(target + 6, data, len < 20 ? len : 20);
    target[6 + (len < 20 ? len : 20)] = 0;
    free(data);
    return proc_open(target, flags);
  }
  int f = new_file(kind == procfs::DIR ? K_PROCDIR : K_PROC, pid, -1, 0);
  if (f < 0) return free(data), f;
  st.files[f].snapshot = data;
  st.files[f].snapshot_len = len;
  int fd = new_fd(f, 0, flags & O_CLOEXEC);
  if (fd < 0) put_file(f);
  return fd;
}

long do_open(int dirfd, uint64_t path, uint64_t flags, uint64_t mode) {
  USER_PATH(path);
  if (procfs::owns(str(path))) return proc_open(str(path), flags);
  int dir;
  if (int r = start_fd_from(dirfd, &dir); r < 0) return r;
  int n = fs::lookup(str(path), dir, !(flags & O_NOFOLLOW));
  if (n == -ENOENT && (flags & O_CREAT)) {
    char name[fs::kNameMax + 1];
    int parent = fs::parent_of(str(path), dir, name);
    if (parent < 0) return parent;
    n = fs::create(parent, name, fs::T_FILE, static_cast<uint32_t>(mode) & ~st.umask);
  } else if (n >= 0 && (flags & O_CREAT) && (flags & O_EXCL)) {
    return -EEXIST;
  }
  if (n < 0) return n;
  fs::Node& node = fs::node(n);
  Kind kind = K_FILE;
  if (node.type == fs::T_DIR) {
    if ((flags & O_ACCMODE) != 0) return -EISDIR;
    kind = K_DIR;
  } else if (flags & O_DIRECTORY) {
    return -ENOTDIR;
  } else if (node.type == fs::T_LINK) {
    return -ELOOP;
  } else if (node.type == fs::T_CHAR) {
    kind = node.rdev == 0x103 ? K_NULL : node.rdev == 0x105 ? K_ZERO : K_CONSOLE;
  }
  if (kind == K_FILE && (flags & O_TRUNC) && (flags & O_ACCMODE)) {
    if (int r = fs::truncate(n, 0); r < 0) return r;
  }
  int f = new_file(kind, n, -1, static_cast<uint32_t>(flags & (O_ACCMODE | O_APPEND | O_NONBLOCK)));
  if (f < 0) return f;
  int fd = new_fd(f, 0, flags & O_CLOEXEC);
  if (fd < 0) put_file(f);
  return fd;
}

long console_write(const void* buf, uint64_t len) {
  if (tty::active()) return tty::write(buf, len);
  const char* p = static_cast<const char*>(buf);
  for (uint64_t done = 0; done < len;) {
    uint64_t n = len - done < veneer::kMaxConsoleWrite ? len - done : veneer::kMaxConsoleWrite;
    sys_cons_write(reinterpret_cast<uint64_t>(p + done), n);
    done += n;
  }
  return static_cast<long>(len);
}

long do_read(uint64_t fd, uint64_t buf, uint64_t len, int64_t at) {
  File* f = file_of(fd);
  if (!f) return -EBADF;
  if ((f->flags & O_ACCMODE) == O_WRONLY) return -EBADF;
  USER_PTR(buf, len, true);
  void* b = reinterpret_cast<void*>(buf);
  switch (f->kind) {
    case K_CONSOLE: return tty::active() ? tty::read(b, len, f->flags & O_NONBLOCK, interrupted) : 0;
    case K_NULL: return 0;
    case K_ZERO: memset(b, 0, len); return static_cast<long>(len);
    case K_DIR:
    case K_PROCDIR: return -EISDIR;
    case K_PROC: {
      uint64_t off = at >= 0 ? static_cast<uint64_t>(at) : f->off;
      if (off >= f->snapshot_len) return 0;
      uint64_t n = f->snapshot_len - off < len ? f->snapshot_len - off : len;
      memcpy(b, f->snapshot + off, n);
      if (at < 0) f->off += n;
      return static_cast<long>(n);
    }
    case K_PIPE: {
      if (at >= 0) return -ESPIPE;
      int64_t r = exos::ipc::read(f->exos_fd, b, len);
      return r < 0 ? -EIO : r;
    }
    case K_SOCKET:
      if (at >= 0) return -ESPIPE;
      return sock::recvfrom(f->exos_fd, b, len, f->flags & O_NONBLOCK, nullptr, nullptr, interrupted);
    case K_FILE: {
      int64_t r = fs::read(f->node, at >= 0 ? static_cast<uint64_t>(at) : pos(f), b, len);
      if (r > 0 && at < 0) pos(f) += static_cast<uint64_t>(r);
      return r;
    }
    default: return -EBADF;
  }
}

// Writes bytes already checked (or our own) to an open file.
long write_file(File* f, const void* b, uint64_t len, int64_t at) {
  switch (f->kind) {
    case K_CONSOLE: return console_write(b, len);
    case K_NULL:
    case K_ZERO: return static_cast<long>(len);
    case K_DIR: return -EISDIR;
    case K_PIPE: {
      if (at >= 0) return -ESPIPE;
      int64_t r = exos::ipc::write(f->exos_fd, b, len);
      if (r >= 0) return r;
      // The reading end is gone: EPIPE, and SIGPIPE, delivered as the call
      // returns like any signal (its default action ends us).
      raise_signal(13);
      return -EPIPE;
    }
    case K_SOCKET:
      if (at >= 0) return -ESPIPE;
      return sock::sendto(f->exos_fd, b, len, nullptr, 0);
    case K_FILE: {
      uint64_t off = at >= 0 ? static_cast<uint64_t>(at) : (f->flags & O_APPEND) ? fs::node(f->node).size : pos(f);
      int64_t r = fs::write(f->node, off, b, len);
      if (r > 0 && at < 0) pos(f) = off + static_cast<uint64_t>(r);
      return r;
    }
    default: return -EBADF;
  }
}

// The open file `fd` names, if it was opened for writing.
File* writable(uint64_t fd) {
  File* f = file_of(fd);
  return f && ((f->flags & O_ACCMODE) != 0 || f->kind == K_CONSOLE) ? f : nullptr;
}
long do_write(uint64_t fd, uint64_t buf, uint64_t len, int64_t at) {
  File* f = writable(fd);
  if (!f) return -EBADF;
  USER_PTR(buf, len, false);
  return write_file(f, reinterpret_cast<const void*>(buf), len, at);
}

long do_iov(uint64_t fd, uint64_t iov, uint64_t count, bool write) {
  if (count > 1024) return -EINVAL;
  USER_PTR(iov, count * sizeof(Iovec), false);
  const Iovec* v = reinterpret_cast<const Iovec*>(iov);
  long total = 0;
  for (uint64_t i = 0; i < count; i++) {
    if (!v[i].len) continue;
    long r = write ? do_write(fd, v[i].base, v[i].len, -1) : do_read(fd, v[i].base, v[i].len, -1);
    if (r < 0) return total ? total : r;
    total += r;
    if (static_cast<uint64_t>(r) < v[i].len) break;
  }
  return total;
}

// sendfile(out, in, offset*, count) through a bounce buffer.
long do_sendfile(uint64_t out, uint64_t in, uint64_t offp, uint64_t count) {
  File* src = file_of(in);
  if (!src || !file_of(out)) return -EBADF;
  if (offp) USER_PTR(offp, 8, true);
  static uint8_t bounce[4096];  // (the program's own memory is not ours to borrow)
  int64_t at = offp ? *reinterpret_cast<int64_t*>(offp) : -1;
  long total = 0;
  while (static_cast<uint64_t>(total) < count) {
    uint64_t want = count - total < sizeof(bounce) ? count - total : sizeof(bounce);
    long r;
    if (src->kind == K_FILE) {
      uint64_t off = at >= 0 ? static_cast<uint64_t>(at) : pos(src);
      r = fs::read(src->node, off, bounce, want);
      if (r > 0 && at >= 0)
        at += r;
      else if (r > 0)
        pos(src) += static_cast<uint64_t>(r);
    } else {
      return total ? total : -EINVAL;
    }
    if (r <= 0) break;
    File* dst = writable(out);
    long w = dst ? write_file(dst, bounce, static_cast<uint64_t>(r), -1) : -EBADF;
    if (w < 0) return total ? total : w;
    total += w;
    if (w < r) break;
  }
  if (offp) *reinterpret_cast<int64_t*>(offp) = at;
  return total;
}

// Appends one linux_dirent64 to out (len bytes, `*used` taken); false when
// it does not fit.
bool put_dirent(uint8_t* out, uint64_t len, uint64_t* used, uint64_t ino, uint64_t next, uint8_t type,
                const char* name) {
  uint64_t nlen = strlen(name);
  uint64_t reclen = (sizeof(Dirent64) + nlen + 1 + 7) & ~7ull;
  if (*used + reclen > len) return false;
  auto* d = reinterpret_cast<Dirent64*>(out + *used);
  d->ino = ino;
  d->off = static_cast<int64_t>(next);
  d->reclen = static_cast<uint16_t>(reclen);
  d->type = type;
  memcpy(d->name, name, nlen + 1);
  *used += reclen;
  return true;
}

long do_getdents(uint64_t fd, uint64_t buf, uint64_t len) {
  File* f = file_of(fd);
  if (!f) return -EBADF;
  if (f->kind != K_DIR && f->kind != K_PROCDIR) return -ENOTDIR;
  USER_PTR(buf, len, true);
  uint8_t* out = reinterpret_cast<uint8_t*>(buf);
  uint64_t used = 0;
  if (f->kind == K_PROCDIR) {
    char name[32];
    uint8_t type;
    uint64_t next;
    while (procfs::entry(f->node, f->off, name, &type, &next)) {
      if (!put_dirent(out, len, &used, 0x10000 + next, next, type, name))
        return used ? static_cast<long>(used) : -EINVAL;
      f->off = next;
    }
    return static_cast<long>(used);
  }
  for (;;) {
    // Positions 0 and 1 are "." and ".."; then 2 + the node's index.
    const char* name;
    int n;
    uint64_t next;
    if (pos(f) == 0)
      name = ".", n = f->node, next = 1;
    else if (pos(f) == 1)
      name = "..", n = fs::node(f->node).parent, next = 2;
    else {
      uint64_t after;
      n = fs::dir_entry(f->node, pos(f) - 2, &after);
      if (n < 0) break;
      name = fs::node(n).name;
      next = after + 2;
    }
    fs::Type t = fs::node(n).type;
    uint8_t type = t == fs::T_DIR ? 4 : t == fs::T_LINK ? 10 : t == fs::T_CHAR ? 2 : 8;
    if (!put_dirent(out, len, &used, static_cast<uint64_t>(n) + 1, next, type, name))
      return used ? static_cast<long>(used) : -EINVAL;
    pos(f) = next;
  }
  return static_cast<long>(used);
}

// ---- Memory ---------------------------------------------------------------------------
uint64_t page_up(uint64_t v) { return (v + kPageSize - 1) & ~(kPageSize - 1); }
uint64_t perms_of(uint64_t prot) {
  return ((prot & PROT_WRITE) ? veneer::PERM_WRITE : 0) | ((prot & PROT_EXEC) ? veneer::PERM_EXEC : 0);
}
void forget_map(uint64_t va) {
  for (Map& m : st.maps)
    if (m.va == va) m = Map{};
}
long do_mmap(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd, uint64_t off) {
  if (!len || (off & (kPageSize - 1))) return -EINVAL;
  len = page_up(len);
  bool anon = flags & MAP_ANONYMOUS;
  File* f = nullptr;
  if (!anon) {
    f = file_of(fd);
    if (!f) return -EBADF;
    if (f->kind != K_FILE) return -ENODEV;
    if (flags & MAP_SHARED && (prot & PROT_WRITE)) return -EINVAL;  // no shared file mappings
  }
  uint64_t va = 0;
  if (flags & MAP_FIXED) {
    if ((addr & (kPageSize - 1)) || !in_program_ranges(addr, len)) return -EINVAL;
    va = addr;
    if (vm::unmap(va, len) == veneer::OK) forget_map(va);
  }
  Map* slot = nullptr;
  for (Map& m : st.maps)
    if (!m.len) slot = &m;
  if (!slot) return -ENOMEM;
  if (vm::map(&va, len, veneer::PERM_WRITE) != veneer::OK) return -ENOMEM;
  if (f) {
    const fs::Node& n = fs::node(f->node);
    if (off < n.size) memcpy(reinterpret_cast<void*>(va), n.data + off, n.size - off < len ? n.size - off : len);
  }
  if (perms_of(prot) != veneer::PERM_WRITE) vm::protect(va, len, perms_of(prot));
  *slot = Map{va, len};
  return static_cast<long>(va);
}
long do_munmap(uint64_t addr, uint64_t len) {
  if (addr & (kPageSize - 1)) return -EINVAL;
  for (Map& m : st.maps)
    if (m.len && m.va == addr && m.len == page_up(len)) {
      vm::unmap(m.va, m.len);
      m = Map{};
      return 0;
    }
  return 0;  // part of a mapping: the pages stay (freed at exec or exit)
}
// mremap: shrinking keeps the mapping; growing moves it (MREMAP_MAYMOVE)
// to a new one with the contents copied.
long do_mremap(uint64_t old, uint64_t old_len, uint64_t new_len, uint64_t flags) {
  if ((old & (kPageSize - 1)) || !new_len) return -EINVAL;
  old_len = page_up(old_len), new_len = page_up(new_len);
  Map* m = nullptr;
  for (Map& x : st.maps)
    if (x.len && x.va == old && x.len == old_len) m = &x;
  if (!m) return -EINVAL;
  if (new_len <= old_len) return static_cast<long>(old);
  if (!(flags & 1)) return -ENOMEM;  // MREMAP_MAYMOVE not given
  uint64_t va = 0;
  if (vm::map(&va, new_len, veneer::PERM_WRITE) != veneer::OK) return -ENOMEM;
  memcpy(reinterpret_cast<void*>(va), reinterpret_cast<const void*>(old), old_len);
  vm::unmap(old, old_len);
  *m = Map{va, new_len};
  return static_cast<long>(va);
}

long do_brk(uint64_t want) {
  if (want >= st.brk_base && want <= st.brk_limit) st.brk_cur = want;
  return static_cast<long>(st.brk_cur);
}

// ---- Images ----------------------------------------------------------------------------
void release_image() {
  for (int i = 0; i < st.nsegs; i++) vm::unmap(st.segs[i][0], st.segs[i][1]);
  st.nsegs = 0;
  if (st.brk_limit > st.brk_base) vm::unmap(st.brk_base, st.brk_limit - st.brk_base);
  for (Map& m : st.maps)
    if (m.len) vm::unmap(m.va, m.len), m = Map{};
  vm::unmap(kStackTop - kStackSize, kStackSize);
}

// Checks an image, then loads it: the segments, an empty brk after them.
long load_elf(const uint8_t* img, uint64_t size, uint64_t* entry, uint64_t* phdr, uint64_t* phnum) {
  using veneer::elf::Header;
  using veneer::elf::ProgramHeader;
  if (size < sizeof(Header)) return -ENOEXEC;
  auto* h = reinterpret_cast<const Header*>(img);
  if (h->ident[0] != 0x7F || h->ident[1] != 'E' || h->ident[2] != 'L' || h->ident[3] != 'F') return -ENOEXEC;
  if (h->ident[4] != 2 || h->ident[5] != 1 || h->machine != veneer::elf::kMachineX86_64) return -ENOEXEC;
  if (h->type != 2 && h->type != 3) return -ENOEXEC;
  if (h->phentsize != sizeof(ProgramHeader) || !h->phnum || h->phnum > 64) return -ENOEXEC;
  if (h->phoff > size || h->phnum * sizeof(ProgramHeader) > size - h->phoff) return -ENOEXEC;
  uint64_t base = h->type == 3 ? kPieBase : 0;
  uint64_t hi = 0, phdr_va = 0;
  for (uint16_t i = 0; i < h->phnum; i++) {
    const ProgramHeader& ph = veneer::elf::program_header(img, i);
    if (ph.type == 3) {  // PT_INTERP: needs a dynamic linker
      printf("linux: a dynamically linked program: only static ones run here\n");
      return -ENOEXEC;
    }
    if (ph.type == 6) phdr_va = ph.vaddr;
    if (ph.type != veneer::elf::kPtLoad || !ph.memsz) continue;
    if (ph.offset > size || ph.filesz > size - ph.offset || ph.filesz > ph.memsz) return -ENOEXEC;
    uint64_t s = base + ph.vaddr, e = s + ph.memsz;
    if (e < s || s < veneer::kUserBase || e > layout::kProgramTop - kMaxBrk) return -ENOEXEC;
    if (e > hi) hi = e;
    if (!phdr_va && ph.offset <= h->phoff && h->phoff < ph.offset + ph.filesz)
      phdr_va = ph.vaddr + h->phoff - ph.offset;
  }
  if (!hi) return -ENOEXEC;
  release_image();
  uint64_t mapped_to = 0;
  struct {
    uint64_t start, end, perms;
  } segs[kMaxSegs];
  for (uint16_t i = 0; i < h->phnum; i++) {
    const ProgramHeader& ph = veneer::elf::program_header(img, i);
    if (ph.type != veneer::elf::kPtLoad || !ph.memsz) continue;
    uint64_t s = (base + ph.vaddr) & ~(kPageSize - 1), e = page_up(base + ph.vaddr + ph.memsz);
    uint64_t perms = ((ph.flags & veneer::elf::kPfWrite) ? veneer::PERM_WRITE : 0) |
                     ((ph.flags & veneer::elf::kPfExec) ? veneer::PERM_EXEC : 0);
    if (s < mapped_to) {  // shares a page with the segment before: that region grows
      if (st.nsegs) segs[st.nsegs - 1].perms |= perms;
      s = mapped_to;
    }
    if (e > s) {
      if (st.nsegs == kMaxSegs) return -ENOEXEC;
      uint64_t va = s;
      if (vm::map(&va, e - s, veneer::PERM_WRITE) != veneer::OK) return -ENOMEM;
      st.segs[st.nsegs][0] = s;
      st.segs[st.nsegs][1] = e - s;
      segs[st.nsegs] = {s, e, perms};
      st.nsegs++;
      mapped_to = e;
    }
    memcpy(reinterpret_cast<void*>(base + ph.vaddr), img + ph.offset, ph.filesz);
  }
  for (int i = 0; i < st.nsegs; i++)
    if (segs[i].perms != veneer::PERM_WRITE) vm::protect(segs[i].start, segs[i].end - segs[i].start, segs[i].perms);
  st.brk_base = st.brk_cur = page_up(hi);
  st.brk_limit = st.brk_base + kMaxBrk;
  uint64_t va = st.brk_base;
  if (vm::map(&va, kMaxBrk, veneer::PERM_WRITE) != veneer::OK) return -ENOMEM;
  *entry = base + h->entry;
  *phdr = phdr_va ? base + phdr_va : 0;
  *phnum = h->phnum;
  return 0;
}

uint64_t rdtsc_now() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return uint64_t(hi) << 32 | lo;
}

uint64_t next_random() {
  uint64_t x = st.random_state ? st.random_state : (rdtsc_now() | 1);
  x ^= x << 13, x ^= x >> 7, x ^= x << 17;
  return st.random_state = x;
}

// Builds the stack Linux gives a new program; returns its rsp.
long build_stack(const char* const* argv, const char* const* envp, const char* path, uint64_t entry, uint64_t phdr,
                 uint64_t phnum, uint64_t* rsp) {
  uint64_t va = kStackTop - kStackSize;
  if (vm::map(&va, kStackSize, veneer::PERM_WRITE) != veneer::OK) return -ENOMEM;
  int argc = 0, envc = 0;
  while (argv && argv[argc]) argc++;
  while (envp && envp[envc]) envc++;
  if (argc + envc > 1024) return -E2BIG;
  uint64_t sp = kStackTop;
  auto push_str = [&](const char* s) {
    uint64_t n = strlen(s) + 1;
    sp -= n;
    memcpy(reinterpret_cast<void*>(sp), s, n);
    return sp;
  };
  uint64_t ptrs[1024 + 2];
  for (int i = 0; i < argc; i++) ptrs[i] = push_str(argv[i]);
  for (int i = 0; i < envc; i++) ptrs[argc + i] = push_str(envp[i]);
  uint64_t execfn = push_str(path);
  sp &= ~15ull;
  sp -= 16;
  uint64_t random = sp;
  for (int i = 0; i < 2; i++) reinterpret_cast<uint64_t*>(random)[i] = next_random();
  uint64_t aux[][2] = {{AT_PHDR, phdr},     {AT_PHENT, 56}, {AT_PHNUM, phnum},   {AT_PAGESZ, kPageSize},
                       {AT_BASE, 0},        {AT_FLAGS, 0},  {AT_ENTRY, entry},   {AT_UID, 0},
                       {AT_EUID, 0},        {AT_GID, 0},    {AT_EGID, 0},        {AT_HWCAP, 0x178bfbff},
                       {AT_CLKTCK, 100},    {AT_SECURE, 0}, {AT_RANDOM, random}, {AT_HWCAP2, 0},
                       {AT_EXECFN, execfn}, {AT_NULL, 0}};
  uint64_t words = 1 + argc + 1 + envc + 1 + sizeof(aux) / 8;
  sp -= words * 8;
  sp &= ~15ull;
  uint64_t* w = reinterpret_cast<uint64_t*>(sp);
  *w++ = static_cast<uint64_t>(argc);
  for (int i = 0; i < argc; i++) *w++ = ptrs[i];
  *w++ = 0;
  for (int i = 0; i < envc; i++) *w++ = ptrs[argc + i];
  *w++ = 0;
  memcpy(w, aux, sizeof(aux));
  *rsp = sp;
  return 0;
}

// Copies a nullptr-terminated vector of the program's strings to the heap
// (exec releases the memory they are in). nullptr and *err on bad input.
char** copy_vector(uint64_t v, long* err) {
  if (!v) {
    auto** out = static_cast<char**>(malloc(sizeof(char*)));
    if (out) out[0] = nullptr;
    return out;
  }
  uint64_t n = 0, bytes = 0;
  for (;; n++) {
    if (n > 1024) return *err = -E2BIG, nullptr;
    if (!user_ok(v + n * 8, 8, false)) return *err = -EFAULT, nullptr;
    uint64_t s = reinterpret_cast<const uint64_t*>(v)[n];
    if (!s) break;
    if (!user_str(s, 128 << 10)) return *err = -EFAULT, nullptr;
    bytes += strlen(str(s)) + 1;
  }
  auto** out = static_cast<char**>(malloc((n + 1) * sizeof(char*) + bytes));
  if (!out) return *err = -ENOMEM, nullptr;
  char* at = reinterpret_cast<char*>(out + n + 1);
  for (uint64_t i = 0; i < n; i++) {
    const char* s = str(reinterpret_cast<const uint64_t*>(v)[i]);
    size_t len = strlen(s) + 1;
    memcpy(at, s, len);
    out[i] = at;
    at += len;
  }
  out[n] = nullptr;
  return out;
}

// Resolves, checks and loads `path`, then sets up its stack. On success the
// old image is gone and *entry/*rsp start the new one.
long exec_image(const char* path, const char* const* argv, const char* const* envp, uint64_t* entry, uint64_t* rsp) {
  int n = fs::lookup(path, st.cwd, true);
  if (n < 0) return n;
  const fs::Node& node = fs::node(n);
  if (node.type != fs::T_FILE) return -EACCES;  // directories, devices
  uint64_t phdr, phnum;
  long r = load_elf(node.data, node.size, entry, &phdr, &phnum);
  if (r < 0) return r;
  procfs::set_cmdline(argv);
  // Close-on-exec descriptors go; signal handlers fall back to default.
  for (int fd = 0; fd < kMaxFds; fd++)
    if (st.fds[fd].file >= 0 && st.fds[fd].cloexec) do_close(static_cast<uint64_t>(fd));
  for (auto& a : st.sigactions)
    if (a[0] != 1) a[0] = 0, a[1] = 0;
  publish_dispositions();
  return build_stack(argv, envp, path, *entry, phdr, phnum, rsp);
}

// ---- Signals and time -------------------------------------------------------------------
uint64_t now_ns() {
  const veneer::KernelInfo& k = kernel_info();
  return k.ticks * k.slice_ns;
}

// A call the personality does not emulate: -ENOSYS, reported once per number.
long unsupported(uint64_t nr) {
  st.unsupported_count++;
  bool reported = nr < 512 && (st.unsupported[nr / 64] & (1ull << (nr % 64)));
  if (nr < 512) st.unsupported[nr / 64] |= 1ull << (nr % 64);
  if (!reported) printf("linux: system call %lu is not supported (-ENOSYS)\n", nr);
  return -ENOSYS;
}

long do_wait(int64_t pid, uint64_t status, uint64_t options) {
  if (status) USER_PTR(status, 4, true);
  proc::Pid reaped = 0;
  int ws = 0;
  Status s = proc::wait(pid > 0 ? static_cast<proc::Pid>(pid) : proc::kAnyChild, &reaped, &ws, options & WNOHANG);
  if (s == veneer::ERR_NO_CHILD) return -ECHILD;
  if (s != veneer::OK) return -EINVAL;
  if (reaped && status) *reinterpret_cast<int*>(status) = ws;
  for (int32_t& p : st.chld_seen)
    if (p == reaped) p = 0;
  return reaped;
}

long fill_uname(uint64_t buf) {
  USER_PTR(buf, sizeof(Utsname), true);
  auto* u = reinterpret_cast<Utsname*>(buf);
  memset(u, 0, sizeof(*u));
  memcpy(u->sysname, "Linux", 6);
  memcpy(u->nodename, "veneer", 7);
  memcpy(u->release, "6.1.0-exos", 11);
  memcpy(u->version, "#1 ExOS on Veneer", 18);
  memcpy(u->machine, "x86_64", 7);
  return 0;
}

long path_call(uint64_t nr, int dirfd, uint64_t path, uint64_t a2, uint64_t a3) {
  USER_PATH(path);
  if (nr == NR_newfstatat && !*str(path) && (a3 & kAtEmptyPath)) {  // glibc's fstat
    USER_PTR(a2, sizeof(Stat), true);
    File* f = file_of(static_cast<uint64_t>(dirfd));
    return f ? stat_file(*f, reinterpret_cast<Stat*>(a2)) : -EBADF;
  }
  const char* p = str(path);
  if (procfs::owns(p) && (nr == NR_newfstatat || nr == NR_faccessat || nr == NR_readlinkat)) {
    procfs::Kind kind;
    int pid;
    char* data = nullptr;
    uint64_t len = 0;
    int r = procfs::open(p, &kind, &pid, &data, &len);
    if (r < 0) return r;
    long result = 0;
    if (nr == NR_newfstatat) {
      if (!user_ok(a2, sizeof(Stat), true))
        result = -EFAULT;
      else
        fill_proc_stat(reinterpret_cast<Stat*>(a2),
                       kind == procfs::LINK && !(a3 & kAtSymlinkNofollow) ? procfs::DIR : kind, pid);
    } else if (nr == NR_readlinkat) {
      uint64_t n = len < a3 ? len : a3;
      if (kind != procfs::LINK)
        result = -EINVAL;
      else if (!user_ok(a2, n, true))
        result = -EFAULT;
      else
        memcpy(reinterpret_cast<void*>(a2), data, n), result = static_cast<long>(n);
    }
    free(data);
    return result;
  }
  int dir;
  if (int r = start_fd_from(dirfd, &dir); r < 0) return r;
  switch (nr) {
    case NR_newfstatat: {
      USER_PTR(a2, sizeof(Stat), true);
      int n = fs::lookup(p, dir, !(a3 & kAtSymlinkNofollow));
      if (n < 0) return n;
      fill_stat(reinterpret_cast<Stat*>(a2), n);
      return 0;
    }
    case NR_faccessat: {
      int n = fs::lookup(p, dir, true);
      return n < 0 ? n : 0;
    }
    case NR_mkdirat: {
      char name[fs::kNameMax + 1];
      int parent = fs::parent_of(p, dir, name);
      if (parent < 0) return parent;
      int n = fs::create(parent, name, fs::T_DIR, static_cast<uint32_t>(a2) & ~st.umask);
      return n < 0 ? n : 0;
    }
    case NR_unlinkat: {
      char name[fs::kNameMax + 1];
      int parent = fs::parent_of(p, dir, name);
      if (parent < 0) return parent;
      return fs::unlink(parent, name, a2 & kAtRemoveDir);
    }
    case NR_readlinkat: {
      int n = fs::lookup(p, dir, false);
      if (n < 0) return n;
      if (fs::node(n).type != fs::T_LINK) return -EINVAL;
      uint64_t len = fs::node(n).size < a3 ? fs::node(n).size : a3;
      USER_PTR(a2, len, true);
      memcpy(reinterpret_cast<void*>(a2), fs::node(n).data, len);
      return static_cast<long>(len);
    }
    case NR_fchmodat: {
      int n = fs::lookup(p, dir, true);
      if (n < 0) return n;
      fs::node(n).mode = static_cast<uint32_t>(a2) & 07777;
      return 0;
    }
    case NR_symlinkat: {  // path is the link, a2 the target (swapped by the caller)
      USER_PATH(a2);
      char name[fs::kNameMax + 1];
      int parent = fs::parent_of(p, dir, name);
      if (parent < 0) return parent;
      int n = fs::create(parent, name, fs::T_LINK, 0777);
      if (n < 0) return n;
      int64_t w = fs::write(n, 0, str(a2), strlen(str(a2)));
      return w < 0 ? w : 0;
    }
    case NR_chdir: {
      int n = fs::lookup(p, dir, true);
      if (n < 0) return n;
      if (fs::node(n).type != fs::T_DIR) return -ENOTDIR;
      st.cwd = n;
      return 0;
    }
    default: return -ENOSYS;
  }
}

long do_rename(int fromfd, uint64_t from, int tofd, uint64_t to) {
  USER_PATH(from);
  USER_PATH(to);
  int fdir, tdir;
  if (int r = start_fd_from(fromfd, &fdir); r < 0) return r;
  if (int r = start_fd_from(tofd, &tdir); r < 0) return r;
  char fname[fs::kNameMax + 1], tname[fs::kNameMax + 1];
  int fp = fs::parent_of(str(from), fdir, fname);
  if (fp < 0) return fp;
  int tp = fs::parent_of(str(to), tdir, tname);
  if (tp < 0) return tp;
  return fs::rename(fp, fname, tp, tname);
}

long do_fcntl(uint64_t fd, uint64_t cmd, uint64_t arg) {
  File* f = file_of(fd);
  if (!f) return -EBADF;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      if (arg >= kMaxFds) return -EINVAL;
      int to = new_fd(st.fds[fd].file, static_cast<int>(arg), cmd == F_DUPFD_CLOEXEC);
      if (to >= 0) f->refs++;
      return to;
    }
    case F_GETFD: return st.fds[fd].cloexec ? FD_CLOEXEC : 0;
    case F_SETFD: st.fds[fd].cloexec = arg & FD_CLOEXEC; return 0;
    case F_GETFL: return f->flags;
    case F_SETFL: f->flags = (f->flags & O_ACCMODE) | (static_cast<uint32_t>(arg) & (O_APPEND | O_NONBLOCK)); return 0;
    default: return -EINVAL;
  }
}

long do_pipe(uint64_t fds, uint64_t flags) {
  USER_PTR(fds, 8, true);
  int e[2];
  if (exos::ipc::pipe(e) != veneer::OK) return -EMFILE;
  int f0 = new_file(K_PIPE, -1, e[0], 0), f1 = f0 >= 0 ? new_file(K_PIPE, -1, e[1], O_WRONLY) : -ENFILE;
  int d0 = f1 >= 0 ? new_fd(f0, 0, flags & O_CLOEXEC) : -EMFILE;
  int d1 = d0 >= 0 ? new_fd(f1, 0, flags & O_CLOEXEC) : -EMFILE;
  if (d1 < 0) {
    if (d0 >= 0) st.fds[d0].file = -1;
    if (f1 >= 0)
      put_file(f1);
    else
      exos::ipc::close(e[1]);
    if (f0 >= 0)
      put_file(f0);
    else
      exos::ipc::close(e[0]);
    return d1;
  }
  reinterpret_cast<int*>(fds)[0] = d0;
  reinterpret_cast<int*>(fds)[1] = d1;
  return 0;
}

// Terminal requests reach the terminal (tty.h) when there is one; every
// other file, and the console without one, is not a terminal.
long do_ioctl(uint64_t fd, uint64_t req, uint64_t arg) {
  File* f = file_of(fd);
  if (!f) return -EBADF;
  if (f->kind != K_CONSOLE || !tty::active()) return -ENOTTY;
  USER_PTR(arg, tty::arg_size(req), true);
  return tty::ioctl(req, reinterpret_cast<void*>(arg), procfs::pgid_of(proc::getpid()));
}

// Whether a read of f would return at once: the terminal when it has
// input; files, pipes and the console without a terminal always count as
// ready (their reads wait, or return at once).
bool read_ready(const File* f) {
  if (f->kind == K_SOCKET) return sock::readable(f->exos_fd);
  return !(f->kind == K_CONSOLE && tty::active() && !tty::readable());
}

// poll's and select's wait: scan() (the number ready) until it finds one,
// the timeout passes (timeout_ns < 0: never) or a signal comes (-EINTR).
template <class Scan>
long wait_ready(int64_t timeout_ns, Scan scan) {
  uint64_t until = timeout_ns < 0 ? ~0ull : now_ns() + static_cast<uint64_t>(timeout_ns);
  for (;;) {
    long ready = scan();
    if (ready || now_ns() >= until) return ready;
    if (interrupted()) return -EINTR;
    exos::yield();
  }
}

// A timeout the program passes as a Timespec: its nanoseconds in *ns
// (from kForeverSec on, ~285 years, it is forever: no overflow).
constexpr int64_t kForeverSec = 9000000000;
long user_timespec_ns(uint64_t a, int64_t* ns) {
  USER_PTR(a, sizeof(Timespec), false);
  const Timespec& t = *reinterpret_cast<const Timespec*>(a);
  if (t.sec < 0 || t.nsec < 0 || t.nsec >= 1000000000) return -EINVAL;
  *ns = t.sec >= kForeverSec ? kForeverSec * 1000000000 : t.sec * 1000000000 + t.nsec;
  return 0;
}

long do_poll(uint64_t fds, uint64_t n, int64_t timeout_ns) {
  if (n > kMaxFds) return -EINVAL;
  USER_PTR(fds, n * 8, true);
  struct PollFd {
    int fd;
    short events, revents;
  };
  constexpr short POLLIN = 1, POLLOUT = 4, POLLNVAL = 0x20;
  auto* p = reinterpret_cast<PollFd*>(fds);
  return wait_ready(timeout_ns, [&] {
    long ready = 0;
    for (uint64_t i = 0; i < n; i++) {
      File* f = p[i].fd < 0 ? nullptr : file_of(static_cast<uint64_t>(p[i].fd));
      short ev = static_cast<short>(p[i].events & (POLLIN | POLLOUT));
      if (f && !read_ready(f)) ev &= ~POLLIN;
      p[i].revents = p[i].fd < 0 ? 0 : f ? ev : POLLNVAL;
      if (p[i].revents) ready++;
    }
    return ready;
  });
}

// select/pselect6 over the same readiness as poll: fd_sets of nfds bits
// (at most kMaxFds descriptors can be open, so higher bits must be clear).
long do_select(uint64_t nfds, uint64_t rd, uint64_t wr, uint64_t ex, int64_t timeout_ns) {
  if (nfds > 1024) return -EINVAL;
  uint64_t words = (nfds + 63) / 64;
  for (uint64_t set : {rd, wr, ex})  // each may be NULL
    if (set && !user_ok(set, words * 8, true)) return -EFAULT;
  auto* r = reinterpret_cast<uint64_t*>(rd);
  auto* w = reinterpret_cast<uint64_t*>(wr);
  auto* x = reinterpret_cast<uint64_t*>(ex);
  auto bit = [](uint64_t* set, uint64_t fd) { return set && ((set[fd / 64] >> (fd % 64)) & 1); };
  uint64_t want_r[16] = {}, want_w[16] = {};
  for (uint64_t fd = 0; fd < nfds; fd++) {
    if ((bit(r, fd) || bit(w, fd) || bit(x, fd)) && !file_of(fd)) return -EBADF;
    if (bit(r, fd)) want_r[fd / 64] |= 1ull << (fd % 64);
    if (bit(w, fd)) want_w[fd / 64] |= 1ull << (fd % 64);
  }
  uint64_t got_r[16], got_w[16];
  long ready = wait_ready(timeout_ns, [&] {
    long n = 0;
    for (uint64_t i = 0; i < 16; i++) got_r[i] = got_w[i] = 0;
    for (uint64_t fd = 0; fd < nfds; fd++) {
      uint64_t m = 1ull << (fd % 64);
      if ((want_r[fd / 64] & m) && read_ready(file_of(fd))) got_r[fd / 64] |= m, n++;
      if (want_w[fd / 64] & m) got_w[fd / 64] |= m, n++;
    }
    return n;
  });
  if (ready < 0) return ready;
  for (uint64_t i = 0; i < words; i++) {
    if (r) r[i] = got_r[i];
    if (w) w[i] = got_w[i];
    if (x) x[i] = 0;
  }
  return ready;
}

long do_clock(uint64_t ts) {
  USER_PTR(ts, sizeof(Timespec), true);
  uint64_t ns = now_ns();
  *reinterpret_cast<Timespec*>(ts) =
      Timespec{static_cast<int64_t>(ns / 1000000000), static_cast<int64_t>(ns % 1000000000)};
  return 0;
}

long do_sleep(uint64_t req) {
  int64_t ns;
  if (long e = user_timespec_ns(req, &ns)) return e;
  uint64_t until = now_ns() + static_cast<uint64_t>(ns);
  while (now_ns() < until) exos::yield();
  return 0;
}

// ---- Signals ------------------------------------------------------------------------
// Delivered when a system call returns (and while sigsuspend or pause
// waits): the handler runs on the program's stack in a Linux rt_sigframe,
// returning through its sa_restorer to rt_sigreturn. Signals from other
// processes arrive through procfs's shared table; SIGCHLD is raised here
// when the published process table shows a child of ours ended.
constexpr uint64_t SA_RESTORER = 0x04000000, SA_NODEFER = 0x40000000, SA_RESETHAND = 0x80000000;
constexpr int SIGKILL = 9, SIGSEGV = 11, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGURG = 23, SIGWINCH = 28;
constexpr uint64_t sigbit(int sig) { return 1ull << (sig - 1); }
constexpr uint64_t kUnblockable = sigbit(SIGKILL) | sigbit(SIGSTOP);
bool ignored_by_default(int sig) {
  return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH || (sig >= 19 && sig <= 22);
}
bool ignored(int sig) {
  uint64_t h = st.sigactions[sig][0];
  return h == 1 || (h == 0 && ignored_by_default(sig));
}
void publish_dispositions() {
  uint64_t caught = 0, ign = 0;
  for (int sig = 1; sig <= 64; sig++) {
    if (st.sigactions[sig][0] > 1)
      caught |= sigbit(sig);
    else if (st.sigactions[sig][0] == 1)
      ign |= sigbit(sig);
  }
  procfs::set_dispositions(caught, ign);
}

struct SigContext {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2, fpstate, reserved[8];
};
static_assert(sizeof(SigContext) == 256);
struct UContext {
  uint64_t flags, link, ss_sp;
  int32_t ss_flags, pad;
  uint64_t ss_size;
  SigContext mc;
  uint64_t sigmask;
};
static_assert(sizeof(UContext) == 304);
struct SigFrame {
  uint64_t pretcode;  // the handler returns here: sa_restorer, which calls rt_sigreturn
  UContext uc;
  uint8_t info[128];  // siginfo
};
constexpr uint64_t kFxBytes = 512;

// What a stopped child, a posted signal or our own kill left for us.
// `waiting`: look at the children even if the table has not changed (an
// env that is gone changes nothing until the manager hears of it).
void collect_signals(bool waiting = false) {
  st.pending |= procfs::take_posted();
  const proc::ProcTable* t = st.table;
  if (!t || (t->changes == st.table_changes && !waiting)) return;
  st.table_changes = t->changes;
  int me = proc::getpid();
  for (uint32_t i = 0; i < proc::kMaxProcs; i++) {
    const proc::ProcEntry& e = t->procs[i];
    if (e.ppid != me || e.state == proc::PROC_FREE) continue;
    // Ended: a zombie, or running in the table with its env already gone
    // (the manager records that at the next request, wait4's).
    bool ended = e.state == proc::PROC_ZOMBIE || (e.state == proc::PROC_RUNNING && env_info(e.env).id != e.env);
    if (!ended) continue;
    bool seen = false;
    for (int32_t p : st.chld_seen) seen |= p == e.pid;
    if (seen) continue;
    for (int32_t& p : st.chld_seen)
      if (!p) {
        p = e.pid;
        break;
      }
    st.pending |= sigbit(SIGCHLD);
  }
}
// The pending signals that would do something now (ignored ones dropped).
uint64_t deliverable(bool waiting) {
  collect_signals(waiting);
  for (uint64_t ready = st.pending & ~(st.sigmask & ~kUnblockable); ready; ready &= ready - 1) {
    int sig = __builtin_ctzll(ready) + 1;
    if (ignored(sig)) st.pending &= ~sigbit(sig);
  }
  return st.pending & ~(st.sigmask & ~kUnblockable);
}

// The program's argument registers, pushed by exception_entry.S just below
// the frame (r11 lowest); its SSE state just below them.
struct SavedRegs {
  uint64_t r11, r10, r9, r8, rdi, rsi;
};
uint8_t* saved_fx(SavedRegs* r) { return reinterpret_cast<uint8_t*>(r) - kFxBytes; }
SavedRegs* saved_regs(veneer::ExceptionFrame* f) {
  return reinterpret_cast<SavedRegs*>(reinterpret_cast<uint8_t*>(f) - sizeof(SavedRegs));
}

// Runs the handler of one deliverable signal (or its default action).
void deliver(veneer::ExceptionFrame* f, SavedRegs* r) {
  uint64_t ready = deliverable();
  if (!ready) return;
  int sig = __builtin_ctzll(ready) + 1;
  st.pending &= ~sigbit(sig);
  uint64_t* act = st.sigactions[sig];
  uint64_t old_mask = st.suspended ? st.suspend_mask : st.sigmask;
  st.suspended = false;
  if (act[0] == 0 || !(act[1] & SA_RESTORER)) proc::exit_signaled(sig);  // default: the end
  uint64_t sp = f->rsp - 128;                                            // below the red zone
  uint64_t fx = (sp - kFxBytes) & ~63ull;
  sp = ((fx - sizeof(SigFrame)) & ~15ull) - 8;  // the handler starts as if called
  if (!user_ok(sp, f->rsp - sp, true)) proc::exit_signaled(SIGSEGV);
  auto* frame = reinterpret_cast<SigFrame*>(sp);
  memset(frame, 0, sizeof(*frame));
  frame->pretcode = act[2];
  SigContext& mc = frame->uc.mc;
  mc.r8 = r->r8, mc.r9 = r->r9, mc.r10 = r->r10, mc.r11 = r->r11, mc.rdi = r->rdi, mc.rsi = r->rsi;
  mc.rdx = f->rdx, mc.rax = f->rax, mc.rcx = f->rcx, mc.rsp = f->rsp, mc.rip = f->rip, mc.eflags = f->rflags;
  mc.oldmask = old_mask;
  mc.fpstate = fx;
  frame->uc.sigmask = old_mask;
  memcpy(reinterpret_cast<void*>(fx), saved_fx(r), kFxBytes);
  reinterpret_cast<int32_t*>(frame->info)[0] = sig;
  if (!(act[1] & SA_NODEFER)) st.sigmask |= sigbit(sig);
  st.sigmask |= act[3] & ~kUnblockable;
  if (act[1] & SA_RESETHAND) act[0] = 0, publish_dispositions();
  f->rip = act[0];
  f->rsp = sp;
  f->rflags &= ~(0x100ull | 0x400ull);  // no trap flag, DF clear (the ABI's)
  f->rax = 0;
  r->rdi = static_cast<uint64_t>(sig);
  r->rsi = reinterpret_cast<uint64_t>(frame->info);
  f->rdx = reinterpret_cast<uint64_t>(&frame->uc);
}

long do_sigreturn(veneer::ExceptionFrame* f, SavedRegs* r) {
  uint64_t uc_va = f->rsp;  // the restorer's `syscall` runs with the frame's pretcode popped
  if (!user_ok(uc_va, sizeof(UContext), false)) proc::exit_signaled(SIGSEGV);
  const UContext& uc = *reinterpret_cast<const UContext*>(uc_va);
  const SigContext& mc = uc.mc;
  r->r8 = mc.r8, r->r9 = mc.r9, r->r10 = mc.r10, r->r11 = mc.r11, r->rdi = mc.rdi, r->rsi = mc.rsi;
  f->rdx = mc.rdx, f->rcx = mc.rcx, f->rsp = mc.rsp, f->rip = mc.rip;
  constexpr uint64_t kUserFlags = 0xCD5;  // CF PF AF ZF SF DF OF
  f->rflags = (f->rflags & ~kUserFlags) | (mc.eflags & kUserFlags);
  if (mc.fpstate && user_ok(mc.fpstate, kFxBytes, false) && !(mc.fpstate & 15))
    memcpy(saved_fx(r), reinterpret_cast<const void*>(mc.fpstate), kFxBytes);
  st.sigmask = uc.sigmask & ~kUnblockable;
  return static_cast<long>(mc.rax);
}

long do_sigsuspend(uint64_t maskp, bool use_mask) {
  uint64_t mask = st.sigmask;
  if (use_mask) {
    USER_PTR(maskp, 8, false);
    mask = *reinterpret_cast<const uint64_t*>(maskp);
  }
  st.suspend_mask = st.sigmask;
  st.suspended = true;
  st.sigmask = mask & ~kUnblockable;
  while (!deliverable(true)) exos::yield();
  return -EINTR;  // deliver() runs the handler and puts the old mask in its frame
}

long do_kill(int64_t pid, int sig) {
  if (sig < 0 || sig > 64) return -EINVAL;
  int me = proc::getpid();
  if (pid == -1) return -EPERM;
  if (pid <= 0) {  // a process group: 0 is ours
    int pids[proc::kMaxProcs];
    int n = procfs::group_members(pid ? static_cast<int>(-pid) : procfs::pgid_of(me), pids, proc::kMaxProcs);
    if (n == 0) return -ESRCH;
    for (int i = 0; sig && i < n; i++)
      if (pids[i] == me) raise_signal(sig);
      else procfs::send(pids[i], sig, ignored_by_default(sig));
    return 0;
  }
  if (pid == proc::kInitPid) {  // ExOS's init: it takes halt, poweroff and reboot requests
    if (sig) procfs::post_to_init(sig);
    return 0;
  }
  const proc::ProcTable* t = st.table;
  bool exists = false;
  for (uint32_t i = 0; t && i < proc::kMaxProcs; i++)
    exists |= t->procs[i].state == proc::PROC_RUNNING && t->procs[i].pid == pid;
  if (!exists) return -ESRCH;
  if (sig == 0) return 0;
  if (pid == me) {
    raise_signal(sig);
    return 0;
  }
  Status s = procfs::send(static_cast<int>(pid), sig, ignored_by_default(sig));
  return s == veneer::OK ? 0 : s == veneer::ERR_ACCESS_DENIED ? -EPERM : -ESRCH;
}

// One function per call (the dispatch is one indexed load and an indirect
// call), with the six argument registers; the few that need the frame or
// the number find them in `call`.
using Handler = long (*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
constexpr uint64_t kMaxCallNumber = 512;
struct CallContext {
  veneer::ExceptionFrame* frame;
  uint64_t nr;
} call;
#define LX(name)                                                                                      \
  long name([[maybe_unused]] uint64_t a0, [[maybe_unused]] uint64_t a1, [[maybe_unused]] uint64_t a2, \
            [[maybe_unused]] uint64_t a3, [[maybe_unused]] uint64_t a4, [[maybe_unused]] uint64_t a5)
LX(lx_read) { return do_read(a0, a1, a2, -1); }

LX(lx_write) { return do_write(a0, a1, a2, -1); }

LX(lx_pread64) { return static_cast<int64_t>(a3) < 0 ? -EINVAL : do_read(a0, a1, a2, static_cast<int64_t>(a3)); }

LX(lx_pwrite64) { return static_cast<int64_t>(a3) < 0 ? -EINVAL : do_write(a0, a1, a2, static_cast<int64_t>(a3)); }

LX(lx_readv) { return do_iov(a0, a1, a2, false); }

LX(lx_writev) { return do_iov(a0, a1, a2, true); }

LX(lx_open) { return do_open(kAtFdCwd, a0, a1, a2); }

LX(lx_creat) { return do_open(kAtFdCwd, a0, O_CREAT | O_WRONLY | O_TRUNC, a1); }

LX(lx_openat) { return do_open(static_cast<int>(a0), a1, a2, a3); }

LX(lx_close) { return do_close(a0); }

LX(lx_stat) { return path_call(NR_newfstatat, kAtFdCwd, a0, a1, 0); }

LX(lx_lstat) { return path_call(NR_newfstatat, kAtFdCwd, a0, a1, kAtSymlinkNofollow); }

LX(lx_newfstatat) { return path_call(NR_newfstatat, static_cast<int>(a0), a1, a2, a3); }

LX(lx_fstat) {
  File* file = file_of(a0);
  if (!file) return -EBADF;
  USER_PTR(a1, sizeof(Stat), true);
  return stat_file(*file, reinterpret_cast<Stat*>(a1));
}

LX(lx_lseek) {
  File* file = file_of(a0);
  if (!file) return -EBADF;
  if (file->kind == K_PIPE) return -ESPIPE;
  int64_t base = a2 == 0                           ? 0
                 : a2 == 1                         ? static_cast<int64_t>(pos(file))
                 : a2 == 2 && file->kind == K_FILE ? static_cast<int64_t>(fs::node(file->node).size)
                                                   : -1;
  if (base < 0) return -EINVAL;
  int64_t to = base + static_cast<int64_t>(a1);
  if (to < 0) return -EINVAL;
  pos(file) = static_cast<uint64_t>(to);
  return to;
}

LX(lx_getdents64) { return do_getdents(a0, a1, a2); }

LX(lx_access) { return path_call(NR_faccessat, kAtFdCwd, a0, a1, 0); }

LX(lx_faccessat) { return path_call(NR_faccessat, static_cast<int>(a0), a1, a2, 0); }

LX(lx_mkdir) { return path_call(NR_mkdirat, kAtFdCwd, a0, a1, 0); }

LX(lx_mkdirat) { return path_call(NR_mkdirat, static_cast<int>(a0), a1, a2, 0); }

LX(lx_rmdir) { return path_call(NR_unlinkat, kAtFdCwd, a0, kAtRemoveDir, 0); }

LX(lx_unlink) { return path_call(NR_unlinkat, kAtFdCwd, a0, 0, 0); }

LX(lx_unlinkat) { return path_call(NR_unlinkat, static_cast<int>(a0), a1, a2, 0); }

LX(lx_readlink) { return path_call(NR_readlinkat, kAtFdCwd, a0, a1, a2); }

LX(lx_readlinkat) { return path_call(NR_readlinkat, static_cast<int>(a0), a1, a2, a3); }

LX(lx_symlink) { return path_call(NR_symlinkat, kAtFdCwd, a1, a0, 0); }

LX(lx_symlinkat) { return path_call(NR_symlinkat, static_cast<int>(a1), a2, a0, 0); }

LX(lx_chmod) { return path_call(NR_fchmodat, kAtFdCwd, a0, a1, 0); }

LX(lx_fchmodat) { return path_call(NR_fchmodat, static_cast<int>(a0), a1, a2, 0); }

LX(lx_chdir) { return path_call(NR_chdir, kAtFdCwd, a0, 0, 0); }

LX(lx_fchdir) {
  File* file = file_of(a0);
  if (!file) return -EBADF;
  if (file->kind != K_DIR) return -ENOTDIR;
  st.cwd = file->node;
  return 0;
}

LX(lx_rename) { return do_rename(kAtFdCwd, a0, kAtFdCwd, a1); }

LX(lx_renameat) { return do_rename(static_cast<int>(a0), a1, static_cast<int>(a2), a3); }

LX(lx_ftruncate) {
  File* file = file_of(a0);
  if (!file) return -EBADF;
  if (file->kind != K_FILE) return -EINVAL;
  return fs::truncate(file->node, a1);
}

LX(lx_utimensat) {
  // (times are not kept; the file must exist, as touch relies on)
  if (a1) {
    USER_PATH(a1);
    int dir;
    if (int r = start_fd_from(static_cast<int>(a0), &dir); r < 0) return r;
    int n = fs::lookup(str(a1), dir, !(a3 & kAtSymlinkNofollow));
    return n < 0 ? n : 0;
  }
  return file_of(a0) ? 0 : -EBADF;
}

// Calls that succeed doing nothing: modes and owners beyond chmod's are not
// kept (everyone is root), advice and hints are ignored, and so are
// process groups (each process is its own).
LX(lx_accept) { return 0; }

LX(lx_mremap) { return do_mremap(a0, a1, a2, a3); }

LX(lx_getcwd) {
  char buf[512];
  int n = fs::path_of(st.cwd, buf, sizeof(buf));
  if (n < 0) return n;
  if (static_cast<uint64_t>(n) + 1 > a1) return -ERANGE;
  USER_PTR(a0, static_cast<uint64_t>(n) + 1, true);
  memcpy(reinterpret_cast<void*>(a0), buf, static_cast<size_t>(n) + 1);
  return n + 1;
}

LX(lx_dup) {
  File* file = file_of(a0);
  if (!file) return -EBADF;
  int to = new_fd(st.fds[a0].file, 0, false);
  if (to >= 0) file->refs++;
  return to;
}

LX(lx_dup2) { return file_of(a0) ? dup_to(a0, static_cast<int>(a1), false) : -EBADF; }

LX(lx_dup3) { return a0 == a1 ? -EINVAL : dup_to(a0, static_cast<int>(a1), a2 & O_CLOEXEC); }

LX(lx_fcntl) { return do_fcntl(a0, a1, a2); }

LX(lx_pipe) { return do_pipe(a0, 0); }

LX(lx_pipe2) { return do_pipe(a0, a1); }

LX(lx_ioctl) { return do_ioctl(a0, a1, a2); }

// ---- UDP sockets (socket.h) ---------------------------------------------------------
// The socket a descriptor names, or nullptr (then EBADF or ENOTSOCK).
File* socket_of(uint64_t fd, long* err) {
  File* f = file_of(fd);
  *err = !f ? -EBADF : f->kind != K_SOCKET ? -ENOTSOCK : 0;
  return *err ? nullptr : f;
}
// A sockaddr the program passes (len bytes at a), checked readable.
#define USER_ADDR(a, len)         \
  if ((len) > 128) return -EINVAL; \
  USER_PTR(a, len, false)

LX(lx_socket) {
  long s = sock::open(a0, a1, a2);
  if (s < 0) return s;
  int file = new_file(K_SOCKET, -1, static_cast<int>(s), O_RDWR | (a1 & O_NONBLOCK));
  if (file < 0) {
    sock::close(static_cast<int>(s));
    return file;
  }
  int fd = new_fd(file, 0, a1 & O_CLOEXEC);
  if (fd < 0) put_file(file);
  return fd;
}
LX(lx_bind) {
  long e;
  File* f = socket_of(a0, &e);
  if (!f) return e;
  USER_ADDR(a1, a2);
  return sock::bind(f->exos_fd, reinterpret_cast<const void*>(a1), a2);
}
LX(lx_connect) {
  long e;
  File* f = socket_of(a0, &e);
  if (!f) return e;
  USER_ADDR(a1, a2);
  return sock::connect(f->exos_fd, reinterpret_cast<const void*>(a1), a2);
}
LX(lx_sendto) {
  long e;
  File* f = socket_of(a0, &e);
  if (!f) return e;
  USER_PTR(a1, a2, false);
  if (a4) USER_ADDR(a4, a5);
  return sock::sendto(f->exos_fd, reinterpret_cast<const void*>(a1), a2, a4 ? reinterpret_cast<const void*>(a4) : nullptr,
                      a5);
}
LX(lx_recvfrom) {
  long e;
  File* f = socket_of(a0, &e);
  if (!f) return e;
  USER_PTR(a1, a2, true);
  constexpr uint64_t MSG_DONTWAIT = 0x40;
  if (a4) {
    USER_PTR(a5, 4, true);
    USER_PTR(a4, *reinterpret_cast<uint32_t*>(a5), true);
  }
  return sock::recvfrom(f->exos_fd, reinterpret_cast<void*>(a1), a2, (f->flags & O_NONBLOCK) || (a3 & MSG_DONTWAIT),
                        a4 ? reinterpret_cast<void*>(a4) : nullptr, a4 ? reinterpret_cast<uint32_t*>(a5) : nullptr,
                        interrupted);
}
long socket_name(uint64_t fd, uint64_t addr, uint64_t lenp, bool peer) {
  long e;
  File* f = socket_of(fd, &e);
  if (!f) return e;
  USER_PTR(lenp, 4, true);
  USER_PTR(addr, *reinterpret_cast<uint32_t*>(lenp), true);
  return sock::name(f->exos_fd, peer, reinterpret_cast<void*>(addr), reinterpret_cast<uint32_t*>(lenp));
}
LX(lx_getsockname) { return socket_name(a0, a1, a2, false); }
LX(lx_getpeername) { return socket_name(a0, a1, a2, true); }
LX(lx_setsockopt) {
  long e;
  File* f = socket_of(a0, &e);
  return f ? sock::setsockopt(f->exos_fd, a1, a2) : e;
}
LX(lx_getsockopt) {
  long e;
  return socket_of(a0, &e) ? -ENOPROTOOPT : e;
}
LX(lx_shutdown) {
  long e;
  return socket_of(a0, &e) ? -EOPNOTSUPP : e;  // a datagram socket has no connection to shut
}

LX(lx_poll) {
  int32_t ms = static_cast<int32_t>(a2);
  return do_poll(a0, a1, ms < 0 ? -1 : int64_t{ms} * 1000000);
}

LX(lx_select) {
  if (!a4) return do_select(a0, a1, a2, a3, -1);
  struct Timeval {
    int64_t sec, usec;
  };
  USER_PTR(a4, sizeof(Timeval), false);
  const Timeval& t = *reinterpret_cast<const Timeval*>(a4);
  if (t.sec < 0 || t.usec < 0 || t.usec >= 1000000) return -EINVAL;
  return do_select(a0, a1, a2, a3, t.sec >= kForeverSec ? kForeverSec * 1000000000 : t.sec * 1000000000 + t.usec * 1000);
}
LX(lx_pselect6) {
  int64_t ns = -1;  // no timeout: wait
  if (a4)
    if (long e = user_timespec_ns(a4, &ns)) return e;
  return do_select(a0, a1, a2, a3, ns);
}
LX(lx_ppoll) {
  int64_t ns = -1;
  if (a2)
    if (long e = user_timespec_ns(a2, &ns)) return e;
  return do_poll(a0, a1, ns);
}

LX(lx_mmap) { return do_mmap(a0, a1, a2, a3, a4, a5); }

LX(lx_munmap) { return do_munmap(a0, a1); }

LX(lx_mprotect) {
  if ((a0 & (kPageSize - 1)) || !in_program_ranges(a0, a1)) return -EINVAL;
  vm::protect(a0, page_up(a1), perms_of(a2));
  return 0;
}

LX(lx_sendfile) { return do_sendfile(a0, a1, a2, a3); }

LX(lx_brk) { return do_brk(a0); }

LX(lx_arch_prctl) {
  if (a0 == ARCH_SET_FS) {
    if (a1 >= veneer::kUserTop) return -EPERM;
    st.fs_base = a1;
    internal::proc_self().fs_base = a1;  // a forked child gets it too
    sys_env_set_fs_base(veneer::kSelfSlot, a1);
    return 0;
  }
  if (a0 == ARCH_GET_FS) {
    USER_PTR(a1, 8, true);
    *reinterpret_cast<uint64_t*>(a1) = st.fs_base;
    return 0;
  }
  return -EINVAL;
}

LX(lx_getpid) { return proc::getpid(); }
// reboot(2), what `poweroff -f` and friends call: the request goes to init,
// which alone may power the machine off; the caller waits for the end.
LX(lx_reboot) {
  constexpr uint64_t kMagic1 = 0xfee1dead, kRestart = 0x01234567, kHalt = 0xCDEF0123, kPowerOff = 0x4321FEDC;
  if (static_cast<uint32_t>(a0) != kMagic1) return -EINVAL;
  constexpr int SIGUSR1 = 10, SIGUSR2 = 12, SIGTERM = 15;
  uint32_t cmd = static_cast<uint32_t>(a2);
  if (cmd != kRestart && cmd != kHalt && cmd != kPowerOff) return -EINVAL;
  procfs::post_to_init(cmd == kRestart ? SIGTERM : cmd == kHalt ? SIGUSR1 : SIGUSR2);
  for (;;) exos::yield();
}  // also gettid and set_tid_address: one thread

LX(lx_getppid) { return proc::getppid(); }

LX(lx_own_group) { return proc::getpid(); }  // session ids
LX(lx_getpgrp) { return procfs::pgid_of(proc::getpid()); }
LX(lx_getpgid) { return procfs::pgid_of(a0 ? static_cast<int>(a0) : proc::getpid()); }
// Ourselves or a child of ours, as on Linux (ESRCH for anyone else).
LX(lx_setpgid) {
  int me = proc::getpid();
  int pid = a0 ? static_cast<int>(a0) : me;
  int64_t pgid = a1 ? static_cast<int64_t>(a1) : pid;
  if (pgid < 0 || static_cast<int32_t>(a0) < 0) return -EINVAL;
  bool ours = pid == me;
  for (uint32_t i = 0; !ours && st.table && i < proc::kMaxProcs; i++) {
    const proc::ProcEntry& e = st.table->procs[i];
    ours = e.state == proc::PROC_RUNNING && e.pid == pid && e.ppid == me;
  }
  if (!ours) return -ESRCH;
  return procfs::set_pgid(pid, static_cast<int>(pgid)) ? 0 : -ESRCH;
}
LX(lx_setsid) {
  procfs::set_pgid(proc::getpid(), proc::getpid());
  return proc::getpid();
}

LX(lx_root) { return 0; }  // user and group ids: root, no supplementary groups

LX(lx_umask) {
  uint32_t old = st.umask;
  st.umask = static_cast<uint32_t>(a0) & 0777;
  return old;
}

LX(lx_uname) { return fill_uname(a0); }

LX(lx_refused_quietly) { return -ENOSYS; }  // rseq, clone3: glibc probes them and does without

LX(lx_futex) { return (a1 & 0x7F) == 1 ? 0 : -EAGAIN; }

LX(lx_rt_sigaction) {
  if (a0 == 0 || a0 > 64 || a0 == 9 || a0 == 19) return -EINVAL;
  if (a2) {
    USER_PTR(a2, 32, true);
    memcpy(reinterpret_cast<void*>(a2), st.sigactions[a0], 32);
  }
  if (a1) {
    USER_PTR(a1, 32, false);
    memcpy(st.sigactions[a0], reinterpret_cast<const void*>(a1), 32);
    publish_dispositions();
  }
  return 0;
}

LX(lx_rt_sigprocmask) {
  if (a2) {
    USER_PTR(a2, 8, true);
    *reinterpret_cast<uint64_t*>(a2) = st.sigmask;
  }
  if (a1) {
    USER_PTR(a1, 8, false);
    uint64_t set = *reinterpret_cast<const uint64_t*>(a1);
    if (a0 == 0)
      st.sigmask |= set;
    else if (a0 == 1)
      st.sigmask &= ~set;
    else if (a0 == 2)
      st.sigmask = set;
    else
      return -EINVAL;
  }
  return 0;
}

LX(lx_kill) { return do_kill(static_cast<int32_t>(a0), static_cast<int>(a1)); }

LX(lx_tgkill) { return do_kill(static_cast<int32_t>(a1), static_cast<int>(a2)); }

LX(lx_exit) { proc::exit(static_cast<int>(a0 & 0xFF)); }

LX(lx_wait4) { return do_wait(static_cast<int64_t>(static_cast<int32_t>(a0)), a1, a2); }

LX(lx_clone) {
  veneer::ExceptionFrame* f = call.frame;
  uint64_t nr = call.nr;
  // Threads are not supported. clone(CLONE_VM | CLONE_VFORK) with a stack of
  // its own (posix_spawn's, popen's) is a fork whose child starts on that
  // stack: the child only execs or exits, so it need not share memory.
  if (nr == NR_clone && ((a0 & CLONE_THREAD) || ((a0 & CLONE_VM) && !(a0 & CLONE_VFORK)))) return -ENOSYS;
  if (nr == NR_clone && a1 && !in_program_ranges(a1 - 16, 16)) return -EINVAL;
  // Fork on our own stack, outside the exception handler (its stack is
  // ExOS's private one): the frame resumes at the trampoline.
  linux_ctx.rip = f->rip;
  linux_ctx.rsp = f->rsp;
  linux_ctx.rflags = f->rflags;
  linux_ctx.rdx = f->rdx;
  linux_ctx.clone_flags = nr == NR_clone ? a0 : 0;
  linux_ctx.child_tid = nr == NR_clone ? a3 : 0;
  linux_ctx.child_rsp = nr == NR_clone ? a1 : 0;
  f->rip = reinterpret_cast<uint64_t>(&linux_fork_trampoline);
  f->rsp = kOwnStackTop;
  st.no_signals = true;
  return 0;
}

LX(lx_execve) {
  veneer::ExceptionFrame* f = call.frame;
  USER_PATH(a0);
  long err = 0;
  char** argv = copy_vector(a1, &err);
  char** envp = argv ? copy_vector(a2, &err) : nullptr;
  char* path = nullptr;
  if (envp) {
    size_t n = strlen(str(a0)) + 1;
    path = static_cast<char*>(malloc(n));
    if (path) memcpy(path, str(a0), n);
  }
  long r = err;
  uint64_t entry = 0, rsp = 0;
  if (path)
    r = exec_image(path, argv, envp, &entry, &rsp);
  else if (!err)
    r = -ENOMEM;
  free(argv), free(envp), free(path);
  if (r < 0) {
    // Past the point of no return (the old image released): end.
    if (r != -ENOENT && r != -ENOEXEC && r != -EACCES && r != -EFAULT && r != -E2BIG) proc::exit(127);
    return r;
  }
  f->rip = entry;
  f->rsp = rsp;
  f->rdx = 0;
  st.no_signals = true;
  return 0;
}

LX(lx_sched_yield) {
  exos::yield();
  return 0;
}

LX(lx_nanosleep) { return do_sleep(a0); }

LX(lx_clock_nanosleep) { return do_sleep(a2); }

LX(lx_clock_gettime) { return do_clock(a1); }

LX(lx_clock_getres) {
  if (a1) {
    USER_PTR(a1, sizeof(Timespec), true);
    *reinterpret_cast<Timespec*>(a1) = Timespec{0, static_cast<int64_t>(kernel_info().slice_ns)};
  }
  return 0;
}

LX(lx_gettimeofday) {
  if (a0) {
    USER_PTR(a0, 16, true);
    uint64_t ns = now_ns();
    reinterpret_cast<int64_t*>(a0)[0] = static_cast<int64_t>(ns / 1000000000);
    reinterpret_cast<int64_t*>(a0)[1] = static_cast<int64_t>(ns % 1000000000 / 1000);
  }
  return 0;
}

LX(lx_time) {
  long t = static_cast<long>(now_ns() / 1000000000);
  if (a0) {
    USER_PTR(a0, 8, true);
    *reinterpret_cast<long*>(a0) = t;
  }
  return t;
}

LX(lx_times) { return static_cast<long>(now_ns() / 10000000); }

LX(lx_getrlimit) {
  uint64_t nr = call.nr;
  uint64_t res = nr == NR_getrlimit ? a0 : a1, out = nr == NR_getrlimit ? a1 : a3;
  if (out) {
    USER_PTR(out, 16, true);
    uint64_t v = res == 3 ? kStackSize : res == 7 ? kMaxFds : ~0ull;  // STACK, NOFILE
    reinterpret_cast<uint64_t*>(out)[0] = v;
    reinterpret_cast<uint64_t*>(out)[1] = v;
  }
  return 0;
}

LX(lx_sysinfo) {
  USER_PTR(a0, 112, true);
  memset(reinterpret_cast<void*>(a0), 0, 112);
  reinterpret_cast<int64_t*>(a0)[0] = static_cast<int64_t>(now_ns() / 1000000000);
  reinterpret_cast<uint64_t*>(a0)[4] = kernel_info().nframes * kPageSize;  // totalram
  reinterpret_cast<uint64_t*>(a0)[5] = procfs::free_frames() * kPageSize;  // freeram
  const exos::proc::ProcTable* t = st.table;
  reinterpret_cast<uint16_t*>(a0)[40] = static_cast<uint16_t>(t ? t->nprocs : 1);  // procs
  reinterpret_cast<uint32_t*>(a0)[26] = 1;                                         // mem_unit
  return 0;
}

LX(lx_getrandom) {
  USER_PTR(a0, a1, true);
  auto* b = reinterpret_cast<uint8_t*>(a0);
  for (uint64_t i = 0; i < a1; i++) b[i] = static_cast<uint8_t>(next_random() >> 24);
  return static_cast<long>(a1);
}

long do_link(int olddirfd, uint64_t oldpath, int newdirfd, uint64_t newpath, uint64_t flags) {
  USER_PATH(oldpath);
  USER_PATH(newpath);
  int odir, ndir;
  if (int r = start_fd_from(olddirfd, &odir); r < 0) return r;
  if (int r = start_fd_from(newdirfd, &ndir); r < 0) return r;
  int n = fs::lookup(str(oldpath), odir, flags & 0x400);  // AT_SYMLINK_FOLLOW
  if (n < 0) return n;
  char name[fs::kNameMax + 1];
  int parent = fs::parent_of(str(newpath), ndir, name);
  if (parent < 0) return parent;
  return fs::link(n, parent, name);
}
LX(lx_link) { return do_link(kAtFdCwd, a0, kAtFdCwd, a1, 0); }
LX(lx_linkat) { return do_link(static_cast<int>(a0), a1, static_cast<int>(a2), a3, a4); }
LX(lx_fchown) { return file_of(a0) ? 0 : -EBADF; }

LX(lx_rt_sigreturn) { return do_sigreturn(call.frame, saved_regs(call.frame)); }
LX(lx_rt_sigsuspend) { return do_sigsuspend(a0, true); }
LX(lx_pause) { return do_sigsuspend(0, false); }

struct HandlerTable {
  Handler h[kMaxCallNumber];
};
constexpr HandlerTable make_table() {
  HandlerTable table{};
  auto& t = table.h;
  t[NR_read] = lx_read;
  t[NR_write] = lx_write;
  t[NR_pread64] = lx_pread64;
  t[NR_pwrite64] = lx_pwrite64;
  t[NR_readv] = lx_readv;
  t[NR_writev] = lx_writev;
  t[NR_open] = lx_open;
  t[NR_creat] = lx_creat;
  t[NR_openat] = lx_openat;
  t[NR_close] = lx_close;
  t[NR_stat] = lx_stat;
  t[NR_lstat] = lx_lstat;
  t[NR_newfstatat] = lx_newfstatat;
  t[NR_fstat] = lx_fstat;
  t[NR_lseek] = lx_lseek;
  t[NR_getdents64] = lx_getdents64;
  t[NR_access] = lx_access;
  t[NR_faccessat] = lx_faccessat;
  t[NR_faccessat2] = lx_faccessat;
  t[NR_mkdir] = lx_mkdir;
  t[NR_mkdirat] = lx_mkdirat;
  t[NR_rmdir] = lx_rmdir;
  t[NR_unlink] = lx_unlink;
  t[NR_unlinkat] = lx_unlinkat;
  t[NR_readlink] = lx_readlink;
  t[NR_readlinkat] = lx_readlinkat;
  t[NR_symlink] = lx_symlink;
  t[NR_symlinkat] = lx_symlinkat;
  t[NR_chmod] = lx_chmod;
  t[NR_fchmodat] = lx_fchmodat;
  t[NR_chdir] = lx_chdir;
  t[NR_fchdir] = lx_fchdir;
  t[NR_rename] = lx_rename;
  t[NR_renameat] = lx_renameat;
  t[NR_ftruncate] = lx_ftruncate;
  t[NR_utimensat] = lx_utimensat;
  t[NR_fchmod] = lx_accept;
  t[NR_chown] = lx_accept;
  t[NR_fchownat] = lx_accept;
  t[NR_mremap] = lx_mremap;
  t[NR_getcwd] = lx_getcwd;
  t[NR_dup] = lx_dup;
  t[NR_dup2] = lx_dup2;
  t[NR_dup3] = lx_dup3;
  t[NR_fcntl] = lx_fcntl;
  t[NR_pipe] = lx_pipe;
  t[NR_pipe2] = lx_pipe2;
  t[NR_socket] = lx_socket;
  t[NR_bind] = lx_bind;
  t[NR_connect] = lx_connect;
  t[NR_sendto] = lx_sendto;
  t[NR_recvfrom] = lx_recvfrom;
  t[NR_getsockname] = lx_getsockname;
  t[NR_getpeername] = lx_getpeername;
  t[NR_setsockopt] = lx_setsockopt;
  t[NR_getsockopt] = lx_getsockopt;
  t[NR_shutdown] = lx_shutdown;
  t[NR_ioctl] = lx_ioctl;
  t[NR_poll] = lx_poll;
  t[NR_ppoll] = lx_ppoll;
  t[NR_select] = lx_select;
  t[NR_pselect6] = lx_pselect6;
  t[NR_mmap] = lx_mmap;
  t[NR_munmap] = lx_munmap;
  t[NR_mprotect] = lx_mprotect;
  t[NR_madvise] = lx_accept;
  t[NR_prctl] = lx_accept;
  t[NR_sendfile] = lx_sendfile;
  t[NR_brk] = lx_brk;
  t[NR_arch_prctl] = lx_arch_prctl;
  t[NR_set_tid_address] = lx_getpid;
  t[NR_gettid] = lx_getpid;
  t[NR_getpid] = lx_getpid;
  t[NR_reboot] = lx_reboot;
  t[NR_sync] = lx_accept;  // the RAM file system has nothing to write back
  t[NR_getppid] = lx_getppid;
  t[NR_getpgrp] = lx_getpgrp;
  t[NR_getpgid] = lx_getpgid;
  t[NR_getsid] = lx_own_group;
  t[NR_setsid] = lx_setsid;
  t[NR_setpgid] = lx_setpgid;
  t[NR_getuid] = lx_root;
  t[NR_geteuid] = lx_root;
  t[NR_getgid] = lx_root;
  t[NR_getegid] = lx_root;
  t[NR_setuid] = lx_root;
  t[NR_setgid] = lx_root;
  t[NR_getgroups] = lx_root;
  t[NR_umask] = lx_umask;
  t[NR_uname] = lx_uname;
  t[NR_set_robust_list] = lx_accept;
  t[NR_sigaltstack] = lx_accept;
  t[NR_rseq] = lx_refused_quietly;
  t[NR_futex] = lx_futex;
  t[NR_rt_sigaction] = lx_rt_sigaction;
  t[NR_rt_sigprocmask] = lx_rt_sigprocmask;
  t[NR_kill] = lx_kill;
  t[NR_tgkill] = lx_tgkill;
  t[NR_exit] = lx_exit;
  t[NR_exit_group] = lx_exit;
  t[NR_wait4] = lx_wait4;
  t[NR_clone] = lx_clone;
  t[NR_fork] = lx_clone;
  t[NR_vfork] = lx_clone;
  t[NR_execve] = lx_execve;
  t[NR_sched_yield] = lx_sched_yield;
  t[NR_nanosleep] = lx_nanosleep;
  t[NR_clock_nanosleep] = lx_clock_nanosleep;
  t[NR_clock_gettime] = lx_clock_gettime;
  t[NR_clock_getres] = lx_clock_getres;
  t[NR_gettimeofday] = lx_gettimeofday;
  t[NR_time] = lx_time;
  t[NR_times] = lx_times;
  t[NR_getrlimit] = lx_getrlimit;
  t[NR_prlimit64] = lx_getrlimit;
  t[NR_sysinfo] = lx_sysinfo;
  t[NR_getrandom] = lx_getrandom;
  t[NR_link] = lx_link;
  t[NR_linkat] = lx_linkat;
  t[NR_fchown] = lx_fchown;
  t[NR_clone3] = lx_refused_quietly;
  t[NR_rt_sigreturn] = lx_rt_sigreturn;
  t[NR_rt_sigsuspend] = lx_rt_sigsuspend;
  t[NR_pause] = lx_pause;
  return table;
}
constexpr HandlerTable handlers = make_table();

// Kernel command line `strace`: every call and its result on the console.
bool tracing;

// After a call, off the common path: the trace line, then signals (not
// where the call replaced the program or turned into a fork: those set
// no_signals).
[[gnu::noinline]] void after_call(veneer::ExceptionFrame* f, uint64_t nr, long result) {
  SavedRegs* r = saved_regs(f);
  if (tracing)
    printf("[%d] %lu(%lx, %lx, %lx, %lx) = %ld\n", proc::getpid(), nr, r->rdi, r->rsi, f->rdx, r->r10, result);
  if ((st.pending || *procfs::posted_signals || st.table->changes != st.table_changes) && !st.no_signals)
    deliver(f, r);
}

void on_syscall(veneer::ExceptionFrame* f) {
  SavedRegs* r = saved_regs(f);
  uint64_t nr = f->error_code;
  call = CallContext{f, nr};
  st.no_signals = false;
  Handler h = nr < kMaxCallNumber ? handlers.h[nr] : nullptr;
  long result = h ? h(r->rdi, r->rsi, f->rdx, r->r10, r->r8, r->r9) : unsupported(nr);
  f->rax = static_cast<uint64_t>(result);
  // Signals: our own, others' posted to us, a child's end (the table changed).
  if (tracing || st.pending || *procfs::posted_signals || st.table->changes != st.table_changes) [[unlikely]]
    after_call(f, nr, result);
}

void init_state() {
  if (st.ready) return;
  st = State{};
  for (Fd& d : st.fds) d.file = -1;
  // 0, 1 and 2 are the console.
  int c = new_file(K_CONSOLE, -1, -1, O_RDWR);
  st.files[c].refs = 3;
  for (int fd = 0; fd < 3; fd++) st.fds[fd] = Fd{c, false};
  st.cwd = fs::kRoot;
  st.umask = 022;
  uint64_t va = kOwnStackTop - kOwnStackSize;
  vm::map(&va, kOwnStackSize, veneer::PERM_WRITE);
  st.table = proc::table();
  set_exception_handler(veneer::kVecForeignSyscall, on_syscall);
  char flag[4];
  tracing = cmdline_get("strace", flag, sizeof(flag));
  st.ready = true;
}

}  // namespace

Status ramfs_load_cpio(const void* archive, uint64_t size) {
  if (!fs::init() || !procfs::init()) return veneer::ERR_NO_MEMORY;
  uint64_t va = 0;  // the offset cells, shared like the file system
  if (vm::map(&va, kMaxCells * sizeof(OffsetCell), veneer::PERM_WRITE, vm::Kind::Shared) != veneer::OK)
    return veneer::ERR_NO_MEMORY;
  cells = reinterpret_cast<OffsetCell*>(va);
  int r = fs::load_cpio(static_cast<const uint8_t*>(archive), size);
  return r < 0 ? veneer::ERR_INVALID_ARGS : veneer::OK;
}

long run(const char* path, const char* const* argv, const char* const* envp) {
  init_state();
  uint64_t entry, rsp;
  long r = exec_image(path, argv, envp, &entry, &rsp);
  if (r < 0) return r;
  linux_enter(entry, rsp);
}

uint64_t unsupported_calls() { return st.unsupported_count; }

// Around ExOS's fork of the program (linux_fork_body): what the child
// shares with its parent is claimed for it.
void fork_prepare() { pin_cells(+1); }
void fork_done(bool in_child, bool ok) {
  if (in_child)
    claim_cells_in_child();
  else if (!ok)
    pin_cells(-1);
}

}  // namespace exos::linux

// Runs on the personality's own stack with the program's registers in
// linux_ctx; returns the program's result in both processes.
extern "C" long linux_fork_body() {
  using namespace exos::linux::abi;
  exos::proc::Pid child = 0, parent = exos::proc::getpid();
  exos::linux::fork_prepare();
  exos::Status s = exos::proc::fork(&child);
  exos::linux::fork_done(s == veneer::OK && child == 0, s == veneer::OK);
  if (s == veneer::OK && child == 0) exos::linux::procfs::fork_child(parent);
  if (s != veneer::OK) return s == veneer::ERR_QUOTA || s == veneer::ERR_NO_MEMORY ? -ENOMEM : -EAGAIN;
  if (child == 0 && (linux_ctx.clone_flags & CLONE_CHILD_SETTID) && linux_ctx.child_tid)
    *reinterpret_cast<int*>(linux_ctx.child_tid) = exos::proc::getpid();
  if (child == 0 && linux_ctx.child_rsp) linux_ctx.rsp = linux_ctx.child_rsp;  // clone's new stack
  return child;
}
