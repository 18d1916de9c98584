// linux.elf: boots ExOS into a Linux program. As init it fills the RAM file
// system from the boot module named *.cpio (a Linux initramfs), starts the
// process manager, and forks process 2, which becomes the program the
// kernel command line names (init=PATH, default /bin/sh; args=A,B,...
// its arguments, default /etc/rc). init then waits for it, reports how it
// ended and powers the machine off.
//
// linux.elf is linked high (CMakeLists.txt), out of the way of the Linux
// programs it loads, which expect the low addresses (0x400000 on).
#include "exos/linux.h"
#include "exos/net.h"
#include "exos/proc.h"

namespace {

constexpr int kMaxArgs = 32;

}  // namespace

int main() {
  const veneer::KernelInfo& k = exos::kernel_info();
  const veneer::BootModule* archive = nullptr;
  for (uint64_t m = 1; m < k.nmodules; m++)
    if (exos::ends_with(k.modules[m].name, ".cpio")) archive = &k.modules[m];
  if (!archive) exos::panic("linux: no root file system (a boot module named *.cpio)");
  if (exos::linux::ramfs_load_cpio(reinterpret_cast<const void*>(archive->va), archive->size) != veneer::OK)
    exos::panic("linux: the root file system is not a newc cpio archive");

  static char init[128] = "/bin/sh", args[200] = "/etc/rc";
  exos::cmdline_get("init", init, sizeof(init));
  exos::cmdline_get("args", args, sizeof(args));
  const char* argv[kMaxArgs + 2] = {init};
  int argc = 1;
  for (char* a = args; *a && argc < kMaxArgs;) {
    argv[argc++] = a;
    while (*a && *a != ',') a++;
    if (*a) *a++ = 0;
  }
  argv[argc] = nullptr;
  // tty=1: the programs talk to a terminal on COM2 (the kernel keeps COM1).
  char flag[4];
  bool terminal = exos::cmdline_get("tty", flag, sizeof(flag)) && flag[0] == '1';
  if (terminal) {
    if (veneer::Status s = exos::linux::terminal_start(); s != veneer::OK) {
      exos::printf("linux: cannot drive the terminal on COM2: %s\n", veneer::status_name(s));
      exos::panic("linux: no terminal");
    }
  }
  static const char* envp[] = {"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/", "TERM=dumb", "PWD=/", nullptr};
  if (terminal) envp[2] = "TERM=vt100";

  if (exos::proc::start_manager() != veneer::OK) exos::panic("linux: cannot start the process manager");
  // The network stack for the instance: init answers ARP and ICMP for the
  // address, Linux programs' UDP sockets join it (libos/src/linux/socket.h).
  if (veneer::Status s = exos::net::init(); s == veneer::OK) {
    if ((s = exos::net::publish()) != veneer::OK)
      exos::printf("linux: cannot share the network stack: %s\n", veneer::status_name(s));
  } else if (s != veneer::ERR_NO_DEVICE) {
    exos::printf("linux: no network: %s\n", veneer::status_name(s));
  }
  exos::proc::Pid child = 0;
  if (exos::proc::fork(&child) != veneer::OK) exos::panic("linux: cannot fork");
  if (child == 0) {
    long r = exos::linux::run(init, argv, envp);
    exos::printf("linux: cannot run %s: error %ld\n", init, -r);
    exos::proc::exit(127);
  }
  int status = 0;
  exos::proc::Pid reaped = 0;
  // Asked again at every turn rather than waiting in proc::wait: each
  // request lets the manager notice processes whose envs are gone. (With
  // the blocking wait, about one run in three of busybox's test suite, and
  // of a loop of 1,200 forks, stopped making progress; the cause inside
  // ExOS is not found yet, see docs/linux-personality.md.)
  constexpr uint64_t kShutdownSignals = 1u << (10 - 1) | 1u << (12 - 1) | 1u << (15 - 1);  // USR1 USR2 TERM
  bool shutdown = false;
  while (exos::proc::wait(child, &reaped, &status, true) == veneer::OK && !reaped) {
    exos::linux::terminal_service();
    exos::net::poll();
    if (exos::linux::init_signals() & kShutdownSignals) {
      shutdown = true;
      break;
    }
    exos::yield();
  }
  if (shutdown) {
    exos::printf("linux: init was asked to stop the machine (halt, poweroff or reboot): powering off\n");
    exos::linux::terminal_service();  // what is left of the output
    exos::proc::stop_manager();
    exos::sys_poweroff(veneer::kMachineSlot, veneer::kPoweroffSuccess);
  }
  if (exos::proc::exited(status))
    exos::printf("linux: %s exited with status %d\n", init, exos::proc::exit_code(status));
  else
    exos::printf("linux: %s was killed by signal %d\n", init, exos::proc::term_signal(status));
  exos::proc::stop_manager();
  exos::sys_poweroff(veneer::kMachineSlot, veneer::kPoweroffSuccess);
  return 0;
}
