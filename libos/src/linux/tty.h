// The console terminal: a 16550 UART (COM2) that ExOS drives from user
// space through an I/O-port capability, shared by every process of the
// instance. One process owns the device (init: it holds the ports and calls
// service() whenever it runs); the others read and write through rings in
// shared memory. The owner runs the line discipline: echo, erase, kill,
// Ctrl-C (SIGINT to the foreground process group), Ctrl-D (end of file),
// canonical or raw input as the termios settings say.
//
// Without a terminal (tty=1 not on the command line) the console is the
// kernel's serial log, write-only, and reads see end of file.
#pragma once

#include <stdint.h>

#include "veneer/status.h"

namespace exos::linux::tty {

// Owner side (init, before the first fork): takes COM2 through an
// I/O-port capability made from the MACHINE capability, programs the UART
// and maps the shared state. ERR_* from the kernel when it cannot.
veneer::Status start();
// Moves bytes between the UART and the rings; runs the line discipline.
// Cheap when there is nothing to do: the owner calls it at every turn.
void service();

// Every process.
bool active();  // a terminal is attached (else the kernel's log is the console)
// Reads as a terminal does: canonical mode returns at most one line, raw
// mode what has arrived (at least one byte). Waits, yielding, unless
// nonblock (-EAGAIN); returns -EINTR as soon as interrupted() says so; 0
// at end of file (Ctrl-D on an empty line).
long read(void* buf, uint64_t len, bool nonblock, bool (*interrupted)());
// Queues output (with the termios output processing: \n to \r\n).
long write(const void* buf, uint64_t len);
// Whether a read would return at once.
bool readable();
// Terminal ioctls (TCGETS, TCSETS*, TIOCGWINSZ, TIOCSWINSZ, TIOCGPGRP,
// TIOCSPGRP, FIONREAD, TIOCSCTTY): 0 or a negative errno; -ENOTTY for
// anything else. arg is already checked for the size the request needs
// (arg_size says it, 0 for none).
uint64_t arg_size(uint64_t req);
long ioctl(uint64_t req, void* arg, int caller_pgid);

}  // namespace exos::linux::tty
