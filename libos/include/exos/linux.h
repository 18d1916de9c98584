// ExOS's Linux personality: unmodified static x86-64 Linux programs run in
// an ExOS process. The kernel knows nothing of Linux: it delivers each
// `syscall` outside Veneer's numbers to the process's exception handler
// (kVecForeignSyscall), and this library emulates the call there, in user
// space, on ExOS's processes, pipes and memory regions, with files from a
// RAM file system filled from a newc cpio boot module (docs/linux-personality.md).
#pragma once

#include "exos/exos.h"

namespace exos::linux {

// Fills the RAM file system from a newc cpio archive (a Linux initramfs).
// The archive is copied, so the caller's memory may go away.
Status ramfs_load_cpio(const void* archive, uint64_t size);

// Replaces whatever Linux image this process runs with the program at
// `path` in the RAM file system (a static x86-64 ELF, ET_EXEC or static
// PIE), argv/envp nullptr-terminated, and runs it. Returns only on failure,
// with a negative Linux errno (-ENOENT, -ENOEXEC...).
long run(const char* path, const char* const* argv, const char* const* envp);

// The console terminal (tty=1 on the kernel command line): COM2, driven
// from this process through an I/O-port capability (it must hold the
// MACHINE capability: init), with a line discipline, shared by every
// process forked after. terminal_service moves bytes between the UART and
// the processes: the owner calls it whenever it runs.
Status terminal_start();
void terminal_service();

// Signals Linux programs sent to init (pid 1), as Linux signal bits:
// busybox's halt, poweroff and reboot send SIGUSR1, SIGUSR2, SIGTERM.
uint64_t init_signals();

// Foreign system calls this process made that the personality does not
// emulate (each reported once on the console, answered -ENOSYS).
uint64_t unsupported_calls();

}  // namespace exos::linux
