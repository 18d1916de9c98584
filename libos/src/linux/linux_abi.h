// The parts of Linux's x86-64 user ABI the personality speaks: errno
// values, system call numbers, and the structures programs pass.
#pragma once

#include <stdint.h>

namespace exos::linux::abi {

enum Errno : int {
  EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7, ENOEXEC = 8, EBADF = 9,
  ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, EXDEV = 18,
  ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ENOTTY = 25, EFBIG = 27,
  ENOSPC = 28, ESPIPE = 29, EROFS = 30, EMLINK = 31, EPIPE = 32, ERANGE = 34, ENAMETOOLONG = 36,
  ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40, ENOTSOCK = 88, EDESTADDRREQ = 89, EMSGSIZE = 90,
  EPROTONOSUPPORT = 93, EOPNOTSUPP = 95, EAFNOSUPPORT = 97, EADDRINUSE = 98, EADDRNOTAVAIL = 99,
  ENETDOWN = 100, ENOBUFS = 105, ENOTCONN = 107, EHOSTUNREACH = 113, ENOPROTOOPT = 92,
};

enum Nr : uint64_t {
  NR_read = 0, NR_write = 1, NR_open = 2, NR_close = 3, NR_stat = 4, NR_fstat = 5, NR_lstat = 6, NR_poll = 7,
  NR_lseek = 8, NR_mmap = 9, NR_mprotect = 10, NR_munmap = 11, NR_brk = 12, NR_rt_sigaction = 13,
  NR_rt_sigprocmask = 14, NR_rt_sigreturn = 15, NR_ioctl = 16, NR_pread64 = 17, NR_pwrite64 = 18, NR_readv = 19,
  NR_writev = 20, NR_access = 21, NR_pipe = 22, NR_select = 23, NR_sched_yield = 24, NR_mremap = 25, NR_madvise = 28, NR_dup = 32, NR_dup2 = 33,
  NR_pause = 34, NR_nanosleep = 35, NR_getpid = 39, NR_sendfile = 40, NR_socket = 41, NR_connect = 42,
  NR_sendto = 44, NR_recvfrom = 45, NR_shutdown = 48, NR_bind = 49, NR_getsockname = 51, NR_getpeername = 52,
  NR_setsockopt = 54, NR_getsockopt = 55, NR_clone = 56, NR_fork = 57, NR_vfork = 58, NR_execve = 59, NR_exit = 60,
  NR_wait4 = 61, NR_kill = 62, NR_uname = 63, NR_fcntl = 72, NR_ftruncate = 77, NR_getcwd = 79, NR_chdir = 80,
  NR_fchdir = 81, NR_rename = 82, NR_mkdir = 83, NR_rmdir = 84, NR_creat = 85, NR_link = 86, NR_unlink = 87,
  NR_symlink = 88, NR_readlink = 89, NR_chmod = 90, NR_fchmod = 91, NR_chown = 92, NR_fchown = 93, NR_umask = 95,
  NR_gettimeofday = 96, NR_getrlimit = 97, NR_sysinfo = 99, NR_times = 100, NR_getuid = 102, NR_getgid = 104,
  NR_setuid = 105, NR_setgid = 106, NR_geteuid = 107, NR_getegid = 108, NR_setpgid = 109, NR_getppid = 110,
  NR_getpgrp = 111, NR_setsid = 112, NR_getgroups = 115, NR_getpgid = 121, NR_getsid = 124,
  NR_rt_sigsuspend = 130, NR_sigaltstack = 131, NR_prctl = 157, NR_arch_prctl = 158, NR_gettid = 186, NR_time = 201, NR_futex = 202,
  NR_getdents64 = 217, NR_set_tid_address = 218, NR_clock_gettime = 228, NR_clock_getres = 229,
  NR_clock_nanosleep = 230, NR_exit_group = 231, NR_tgkill = 234, NR_openat = 257, NR_mkdirat = 258,
  NR_fchownat = 260, NR_newfstatat = 262, NR_unlinkat = 263, NR_renameat = 264, NR_linkat = 265, NR_symlinkat = 266,
  NR_readlinkat = 267, NR_fchmodat = 268, NR_faccessat = 269, NR_pselect6 = 270, NR_ppoll = 271,
  NR_set_robust_list = 273, NR_utimensat = 280, NR_dup3 = 292, NR_pipe2 = 293, NR_prlimit64 = 302,
  NR_sync = 162, NR_reboot = 169, NR_getrandom = 318, NR_statx = 332, NR_rseq = 334, NR_clone3 = 435, NR_faccessat2 = 439,
};

constexpr int kAtFdCwd = -100;
constexpr int kAtSymlinkNofollow = 0x100, kAtRemoveDir = 0x200, kAtEmptyPath = 0x1000;
constexpr int O_ACCMODE = 3, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0100, O_EXCL = 0200, O_TRUNC = 01000,
              O_APPEND = 02000, O_NONBLOCK = 04000, O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000,
              O_CLOEXEC = 02000000;
constexpr int F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_DUPFD_CLOEXEC = 1030;
constexpr int FD_CLOEXEC = 1;
constexpr int PROT_WRITE = 2, PROT_EXEC = 4;
constexpr int MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20;
constexpr int WNOHANG = 1;
constexpr uint64_t CLONE_VM = 0x100, CLONE_VFORK = 0x4000, CLONE_THREAD = 0x10000, CLONE_CHILD_SETTID = 0x01000000;
constexpr uint64_t ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003;
// Terminal ioctls.
constexpr uint64_t TCGETS = 0x5401, TCSETS = 0x5402, TCSETSW = 0x5403, TCSETSF = 0x5404, TCXONC = 0x540A,
                   TCFLSH = 0x540B, TIOCSCTTY = 0x540E, TIOCGPGRP = 0x540F, TIOCSPGRP = 0x5410,
                   TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, FIONREAD = 0x541B, TIOCNOTTY = 0x5422;

struct Stat {
  uint64_t dev, ino, nlink;
  uint32_t mode, uid, gid, pad0;
  uint64_t rdev;
  int64_t size, blksize, blocks;
  int64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
  int64_t reserved[3];
};
static_assert(sizeof(Stat) == 144);

struct Dirent64 {
  uint64_t ino;
  int64_t off;
  uint16_t reclen;
  uint8_t type;
  char name[];
};

struct Iovec {
  uint64_t base, len;
};

struct Utsname {
  char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65];
};

struct Timespec {
  int64_t sec, nsec;
};

// Auxiliary vector keys.
constexpr uint64_t AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7,
                   AT_FLAGS = 8, AT_ENTRY = 9, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14,
                   AT_HWCAP = 16, AT_CLKTCK = 17, AT_SECURE = 23, AT_RANDOM = 25, AT_HWCAP2 = 26,
                   AT_EXECFN = 31;

}  // namespace exos::linux::abi
