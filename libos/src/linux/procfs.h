// Per-process facts other processes need, in a table shared by every
// process (signal dispositions and posted signals, command lines), and
// /proc for Linux programs, synthesised from the kernel's read-only tables
// (frames, time) and ExOS's published process table, plus the command line
// each process ran (kept here, in a page shared by every process). What
// busybox's ps, free and uptime read: /proc/PID/{stat,cmdline,comm},
// /proc/meminfo, /proc/uptime, /proc/loadavg, /proc/self.
#pragma once

#include <stdint.h>

#include "veneer/status.h"

namespace exos::linux::procfs {

bool init();  // the shared command-line table (before the first fork)
// Records the command line of this process (exec).
void set_cmdline(const char* const* argv);
// Signals between processes: each process publishes which signals it
// catches or ignores; a sender posts a caught signal to the target's
// pending set, which the target takes at its next system call.
enum Disposition { DEFAULT, CAUGHT, IGNORED };
void set_dispositions(uint64_t caught, uint64_t ignored);
Disposition disposition(int pid, int sig);
bool post(int pid, int sig);
// Sends sig to another process as kill does: posted when it catches the
// signal, nothing when it ignores it (or ignored_by_default and it has no
// handler), else the default action through the process manager.
// ERR_NO_PROCESS: no such process; else the manager's answer.
veneer::Status send(int pid, int sig, bool ignored_by_default = false);
uint64_t take_posted();
// This process's posted set, for a one-load check at every system call
// (set by set_cmdline and fork_child; a zero word before either).
extern const volatile uint64_t* posted_signals;
// Signals for init (pid 1, ExOS's own, not a Linux program): busybox's
// halt, poweroff and reboot send it SIGUSR1, SIGUSR2 and SIGTERM. init
// takes them with take_init_signals.
void post_to_init(int sig);
uint64_t take_init_signals();
// Process groups: a process's group is its own pid until setpgid moves it
// (a forked child starts in its parent's). group_members lists the running
// processes of a group (init excepted; pgid 0: every process), at most max.
int pgid_of(int pid);
bool set_pgid(int pid, int pgid);
int group_members(int pgid, int* out, int max);
// A forked child starts with its parent's command line, dispositions and group.
void fork_child(int parent);
// Frames nobody holds (meminfo, sysinfo).
uint64_t free_frames();
// Whether `path` (absolute) is in /proc.
bool owns(const char* path);
// A /proc path's meaning: a directory (dir_pid: 0 for /proc itself) or a
// file whose contents are rendered into a heap buffer (*data, *len), or a
// symlink (/proc/self: its target in the buffer). Negative errno if none.
enum Kind { DIR, FILE, LINK };
int open(const char* path, Kind* kind, int* dir_pid, char** data, uint64_t* len);
// Directory entries of /proc (dir_pid 0) or /proc/PID from position pos:
// the name, its type (4 dir, 8 file, 10 link), and where the next starts;
// false at the end.
bool entry(int dir_pid, uint64_t pos, char name[32], uint8_t* type, uint64_t* next);

}  // namespace exos::linux::procfs
