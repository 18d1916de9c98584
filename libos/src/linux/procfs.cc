// /proc (procfs.h). Contents are rendered when a file is opened, so a
// reader sees one consistent snapshot however it reads.
#include "procfs.h"

#include "exos/heap.h"
#include "exos/proc.h"
#include "exos/vm.h"
#include "linux_abi.h"

namespace exos::linux::procfs {
using namespace abi;
namespace {

constexpr uint64_t kCmdlineBytes = 60;
// What other processes need to know of a process, one record per process.
struct ProcInfo {
  int32_t pid;
  int32_t pgid;               // its process group (0: its own pid)
  uint64_t pending;           // signals posted to it by other processes (Linux sigset bits)
  uint64_t caught, ignored;   // its dispositions, for senders
  char bytes[kCmdlineBytes];  // NUL-separated arguments, as /proc/PID/cmdline
};
ProcInfo* infos;  // kMaxProcs records, shared (vm::Kind::Shared)
const uint64_t kNothingPosted = 0;

const char* const kFiles[] = {"meminfo", "uptime", "loadavg", "version", "mounts"};
const char* const kPidFiles[] = {"stat", "cmdline", "comm"};

// A tiny formatter into a fixed buffer.
struct Out {
  char* buf;
  uint64_t cap, len;
  void put(const char* s) {
    while (*s && len + 1 < cap) buf[len++] = *s++;
    buf[len] = 0;
  }
  void num(uint64_t v) {
    char t[24];
    int n = 0;
    do t[n++] = static_cast<char>('0' + v % 10); while (v /= 10);
    while (n && len + 1 < cap) buf[len++] = t[--n];
    buf[len] = 0;
  }
  void kb_line(const char* name, uint64_t kb) {
    put(name);
    put(":");
    for (uint64_t pad = strlen(name) + 1; pad < 16; pad++) put(" ");
    num(kb);
    put(" kB\n");
  }
};

const proc::ProcEntry* find(int pid) {
  const proc::ProcTable* t = proc::table();
  if (!t) return nullptr;
  for (uint32_t i = 0; i < proc::kMaxProcs; i++)
    if (t->procs[i].state != proc::PROC_FREE && t->procs[i].pid == pid) return &t->procs[i];
  return nullptr;
}

ProcInfo* info_of(int pid) {
  if (!infos) return nullptr;
  for (uint32_t i = 0; i < proc::kMaxProcs; i++)
    if (infos[i].pid == pid) return &infos[i];
  return nullptr;
}

// The command's name: the basename of argv[0] (15 characters, as Linux's comm).
void comm_of(int pid, char out[16]) {
  const ProcInfo* c = info_of(pid);
  const char* name = c && c->bytes[0] ? c->bytes : pid == proc::kInitPid ? "init" : "exos";
  for (const char* p = name; *p; p++)
    if (*p == '/') name = p + 1;
  size_t n = strlen(name) < 15 ? strlen(name) : 15;
  memcpy(out, name, n);
  out[n] = 0;
}

// Process pid's record, made (in a free one, or one whose process has
// ended) if it has none.
ProcInfo* slot_for(int pid) {
  if (!infos) return nullptr;
  if (ProcInfo* mine = info_of(pid)) return mine;
  for (uint32_t i = 0; i < proc::kMaxProcs; i++)
    if (!infos[i].pid || !find(infos[i].pid)) {
      infos[i] = ProcInfo{};
      infos[i].pid = pid;
      return &infos[i];
    }
  return nullptr;
}

int parse_pid(const char* s, const char** rest) {
  int pid = 0;
  if (*s < '0' || *s > '9') return -1;
  while (*s >= '0' && *s <= '9') pid = pid * 10 + (*s++ - '0');
  *rest = s;
  return pid;
}

uint64_t now_s() {
  const veneer::KernelInfo& k = kernel_info();
  return k.ticks * k.slice_ns / 1000000000;
}

}  // namespace

bool init() {
  if (infos) return true;
  uint64_t va = 0;
  if (vm::map(&va, proc::kMaxProcs * sizeof(ProcInfo), veneer::PERM_WRITE, vm::Kind::Shared) != veneer::OK)
    return false;
  infos = reinterpret_cast<ProcInfo*>(va);
  return true;
}

const volatile uint64_t* posted_signals = &kNothingPosted;

void set_cmdline(const char* const* argv) {
  ProcInfo* slot = slot_for(proc::getpid());
  if (!slot) return;
  posted_signals = &slot->pending;
  uint64_t at = 0;
  for (int i = 0; argv && argv[i] && at < kCmdlineBytes - 1; i++) {
    uint64_t n = strlen(argv[i]) + 1;
    if (n > kCmdlineBytes - 1 - at) n = kCmdlineBytes - 1 - at;
    memcpy(slot->bytes + at, argv[i], n);
    at += n;
    slot->bytes[at - 1] = 0;
  }
  slot->bytes[at] = 0;
}

void set_dispositions(uint64_t caught, uint64_t ignored) {
  if (ProcInfo* c = slot_for(proc::getpid())) c->caught = caught, c->ignored = ignored;
}

Disposition disposition(int pid, int sig) {
  const ProcInfo* c = info_of(pid);
  uint64_t bit = 1ull << (sig - 1);
  if (c && (c->caught & bit)) return CAUGHT;
  if (c && (c->ignored & bit)) return IGNORED;
  return DEFAULT;
}

bool post(int pid, int sig) {
  ProcInfo* c = info_of(pid);
  if (!c) return false;
  __atomic_fetch_or(&c->pending, 1ull << (sig - 1), __ATOMIC_RELEASE);
  return true;
}

veneer::Status send(int pid, int sig, bool ignored_by_default) {
  Disposition d = disposition(pid, sig);
  constexpr int kSigKill = 9;
  if (sig != kSigKill && d == CAUGHT) return post(pid, sig) ? veneer::OK : veneer::ERR_NO_PROCESS;
  if (sig != kSigKill && (d == IGNORED || ignored_by_default)) return find(pid) ? veneer::OK : veneer::ERR_NO_PROCESS;
  return proc::kill(static_cast<proc::Pid>(pid), sig);
}

void post_to_init(int sig) {
  if (ProcInfo* c = slot_for(proc::kInitPid)) __atomic_fetch_or(&c->pending, 1ull << (sig - 1), __ATOMIC_RELEASE);
}

uint64_t take_init_signals() {
  ProcInfo* c = info_of(proc::kInitPid);
  return c && c->pending ? __atomic_exchange_n(&c->pending, 0, __ATOMIC_ACQUIRE) : 0;
}

uint64_t take_posted() {
  ProcInfo* c = info_of(proc::getpid());
  return c && c->pending ? __atomic_exchange_n(&c->pending, 0, __ATOMIC_ACQUIRE) : 0;
}

void fork_child(int parent) {
  const ProcInfo* from = info_of(parent);
  if (!from) return;
  char bytes[kCmdlineBytes];
  memcpy(bytes, from->bytes, kCmdlineBytes);
  uint64_t caught = from->caught, ignored = from->ignored;
  int32_t pgid = from->pgid ? from->pgid : parent;
  ProcInfo* slot = slot_for(proc::getpid());
  if (!slot) return;
  posted_signals = &slot->pending;
  memcpy(slot->bytes, bytes, kCmdlineBytes);
  slot->caught = caught, slot->ignored = ignored, slot->pending = 0;
  if (!slot->pgid) slot->pgid = pgid;  // the parent's setpgid may have come first
}

int pgid_of(int pid) {
  const ProcInfo* c = info_of(pid);
  return c && c->pgid ? c->pgid : pid;
}

bool set_pgid(int pid, int pgid) {
  ProcInfo* c = slot_for(pid);
  if (!c) return false;
  c->pgid = pgid;
  return true;
}

int group_members(int pgid, int* out, int max) {
  const proc::ProcTable* t = proc::table();
  int n = 0;
  for (uint32_t i = 0; t && i < proc::kMaxProcs && n < max; i++) {
    const proc::ProcEntry& e = t->procs[i];
    if (e.state == proc::PROC_RUNNING && e.pid != proc::kInitPid && (!pgid || pgid_of(e.pid) == pgid))
      out[n++] = e.pid;
  }
  return n;
}

uint64_t free_frames() {
  const veneer::KernelInfo& k = kernel_info();
  uint64_t n = 0;
  for (uint64_t f = 0; f < k.nframes; f++)
    if (frame_table()[f].owner == veneer::kOwnerFree) n++;
  return n;
}

bool owns(const char* path) {
  return !memcmp(path, "/proc", 5) && (path[5] == 0 || path[5] == '/');
}

int open(const char* path, Kind* kind, int* dir_pid, char** data, uint64_t* len) {
  const char* p = path + 5;
  while (*p == '/') p++;
  *dir_pid = 0;
  if (!*p) {
    *kind = DIR;
    return 0;
  }
  constexpr uint64_t kCap = 1024;
  char* buf = static_cast<char*>(malloc(kCap));
  if (!buf) return -ENOMEM;
  Out o{buf, kCap, 0};
  buf[0] = 0;
  *data = buf;
  auto done = [&](Kind k) {
    *kind = k;
    *len = o.len;
    return 0;
  };
  if (!strcmp(p, "self")) {
    o.num(static_cast<uint64_t>(proc::getpid()));
    return done(LINK);
  }
  const char* rest;
  int pid;
  if (!memcmp(p, "self/", 5)) pid = proc::getpid(), rest = p + 4;
  else pid = parse_pid(p, &rest);
  if (pid > 0) {
    const proc::ProcEntry* e = find(pid);
    if (!e) return free(buf), -ENOENT;
    while (*rest == '/') rest++;
    if (!*rest) {
      *dir_pid = pid;
      free(buf);
      *data = nullptr;
      return done(DIR);
    }
    char comm[16];
    comm_of(pid, comm);
    if (!strcmp(rest, "stat")) {
      // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
      // majflt cmajflt utime stime cutime cstime priority nice threads
      // itrealvalue starttime vsize rss
      o.num(static_cast<uint64_t>(pid));
      o.put(" (");
      o.put(comm);
      o.put(e->state == proc::PROC_ZOMBIE ? ") Z " : ") R ");
      o.num(static_cast<uint64_t>(e->ppid));
      o.put(" ");
      o.num(static_cast<uint64_t>(pid));
      o.put(" ");
      o.num(static_cast<uint64_t>(pid));
      o.put(" 0 -1 0 0 0 0 0 ");
      uint64_t ticks = env_info(e->env).cpu_tsc / 10000000;  // (an approximation of 1/100 s)
      o.num(ticks);
      o.put(" 0 0 0 20 0 1 0 0 ");
      o.num(uint64_t(env_info(e->env).frames) * kPageSize);
      o.put(" ");
      o.num(env_info(e->env).frames);
      o.put("\n");
      return done(FILE);
    }
    if (!strcmp(rest, "cmdline")) {
      const ProcInfo* c = info_of(pid);
      if (c) {
        uint64_t n = 0;
        while (n < kCmdlineBytes && (c->bytes[n] || (n + 1 < kCmdlineBytes && c->bytes[n + 1]))) n++;
        memcpy(buf, c->bytes, n + (n < kCmdlineBytes));
        o.len = c->bytes[0] ? n + 1 : 0;
      }
      return done(FILE);
    }
    if (!strcmp(rest, "comm")) {
      o.put(comm);
      o.put("\n");
      return done(FILE);
    }
    free(buf);
    return -ENOENT;
  }
  if (!strcmp(p, "meminfo")) {
    uint64_t total = kernel_info().nframes * 4, avail = free_frames() * 4;
    o.kb_line("MemTotal", total);
    o.kb_line("MemFree", avail);
    o.kb_line("MemAvailable", avail);
    o.kb_line("Buffers", 0);
    o.kb_line("Cached", 0);
    o.kb_line("SwapCached", 0);
    o.kb_line("SwapTotal", 0);
    o.kb_line("SwapFree", 0);
    o.kb_line("Shmem", 0);
    return done(FILE);
  }
  if (!strcmp(p, "uptime")) {
    o.num(now_s());
    o.put(".00 0.00\n");
    return done(FILE);
  }
  if (!strcmp(p, "loadavg")) {
    const proc::ProcTable* t = proc::table();
    o.put("0.00 0.00 0.00 1/");
    o.num(t ? t->nprocs : 1);
    o.put(" ");
    o.num(static_cast<uint64_t>(proc::getpid()));
    o.put("\n");
    return done(FILE);
  }
  if (!strcmp(p, "version")) {
    o.put("Linux version 6.1.0-exos (ExOS's Linux personality on the Veneer exokernel)\n");
    return done(FILE);
  }
  if (!strcmp(p, "mounts")) {
    o.put("rootfs / rootfs rw 0 0\nproc /proc proc rw 0 0\n");
    return done(FILE);
  }
  free(buf);
  return -ENOENT;
}

bool entry(int dir_pid, uint64_t pos, char name[32], uint8_t* type, uint64_t* next) {
  if (dir_pid) {
    if (pos >= sizeof(kPidFiles) / sizeof(kPidFiles[0])) return false;
    memcpy(name, kPidFiles[pos], strlen(kPidFiles[pos]) + 1);
    *type = 8;
    *next = pos + 1;
    return true;
  }
  constexpr uint64_t nfiles = sizeof(kFiles) / sizeof(kFiles[0]);
  if (pos < nfiles) {
    memcpy(name, kFiles[pos], strlen(kFiles[pos]) + 1);
    *type = 8;
    *next = pos + 1;
    return true;
  }
  if (pos == nfiles) {
    memcpy(name, "self", 5);
    *type = 10;
    *next = pos + 1;
    return true;
  }
  const proc::ProcTable* t = proc::table();
  for (uint64_t i = pos - nfiles - 1; t && i < proc::kMaxProcs; i++) {
    const proc::ProcEntry& e = t->procs[i];
    if (e.state == proc::PROC_FREE) continue;
    Out o{name, 32, 0};
    o.num(static_cast<uint64_t>(e.pid));
    *type = 4;
    *next = nfiles + 1 + i + 1;
    return true;
  }
  return false;
}

}  // namespace exos::linux::procfs
