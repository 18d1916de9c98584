// The console terminal (tty.h): COM2 driven through an I/O-port
// capability, a line discipline run by the process that owns the ports,
// and rings in shared memory between it and every other process.
#include "tty.h"

#include "exos/exos.h"
#include "exos/proc.h"
#include "exos/vm.h"
#include "linux_abi.h"
#include "procfs.h"
#include "shared_lock.h"

#include <initializer_list>

namespace exos::linux::tty {
using namespace abi;
namespace {

// COM2, a 16550: the kernel keeps COM1 (its log) for itself.
constexpr uint16_t kPort = 0x2F8;
constexpr uint16_t kData = kPort, kIer = kPort + 1, kFcr = kPort + 2, kLcr = kPort + 3, kMcr = kPort + 4,
                   kLsr = kPort + 5;
constexpr uint8_t kLsrData = 0x01, kLsrThrEmpty = 0x20;
constexpr uint64_t kFifo = 16;

// Linux's termios as ioctl sees it (36 bytes), and its flag bits.
struct Termios {
  uint32_t iflag, oflag, cflag, lflag;
  uint8_t line;
  uint8_t cc[19];
};
static_assert(sizeof(Termios) == 36);
struct Winsize {
  uint16_t row, col, xpixel, ypixel;
};
constexpr uint32_t INLCR = 0x40, IGNCR = 0x80, ICRNL = 0x100, IXON = 0x400;
constexpr uint32_t OPOST = 0x1, ONLCR = 0x4;
constexpr uint32_t ISIG = 0x1, ICANON = 0x2, ECHO = 0x8, ECHOE = 0x10, ECHOK = 0x20, ECHONL = 0x40,
                   ECHOCTL = 0x200, ECHOKE = 0x800, IEXTEN = 0x8000;
enum Cc { VINTR = 0, VQUIT = 1, VERASE = 2, VKILL = 3, VEOF = 4, VTIME = 5, VMIN = 6, VEOL = 11 };
constexpr int SIGINT = 2, SIGQUIT = 3;
// Linux's defaults for a serial terminal (stty sane).
constexpr Termios kSane = {ICRNL | IXON, OPOST | ONLCR, 0xBF /* B38400 CS8 CREAD */,
                           ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN, 0,
                           {3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0}};

constexpr uint32_t kRing = 4096;  // a power of two
struct Ring {
  uint32_t head, tail;  // free-running: head - tail bytes are queued
  char data[kRing];
  uint32_t used() const { return head - tail; }
  bool put(char c) {
    if (used() == kRing) return false;
    data[head++ % kRing] = c;
    return true;
  }
  char take() { return data[tail++ % kRing]; }
  char peek() const { return data[tail % kRing]; }
};

// Shared with every process, so the owner trusts none of it beyond what
// it checks: it never waits for the lock (TryLocked), clamps the rings'
// counts, and keeps the line being edited in its own memory.
struct Shared {
  SharedLock lock;
  Termios tio;
  Winsize ws;
  int32_t fg_pgrp;     // the foreground process group (0: every process)
  uint32_t eofs;       // ends of file typed (Ctrl-D on an empty line) not yet read
  uint32_t flush_line; // TCSETSF: the owner drops the line being edited
  Ring in;             // input readers may take: whole lines in canonical mode
  Ring out;            // output the owner has yet to send
};
Shared* shared;
bool owner;  // this process drives the UART
// The owner's own: the line being edited (canonical mode), and whether the
// terminal was canonical when it last looked (leaving canonical mode hands
// the line over).
constexpr uint32_t kLine = 1024;
char line[kLine];
uint32_t line_len;
bool was_canonical = true;
// Received data raises the UART's interrupt (COM2: line 3), delivered to
// the owner as an upcall; the line stays masked until service() has read
// the bytes and acknowledges it. Without the line, service() polls.
constexpr uint64_t kLine3 = 3;
int64_t line_slot = -1;
volatile bool rx_ready = true;  // read the UART at the next service()

uint8_t inb(uint16_t port) {
  uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }

// Output processing, into the ring (false: no room).
bool put_out(char c) {
  const Termios& t = shared->tio;
  if (c == '\n' && (t.oflag & OPOST) && (t.oflag & ONLCR)) {
    if (kRing - shared->out.used() < 2) return false;
    shared->out.put('\r');
  }
  return shared->out.put(c);
}

// The owner's echo: dropped when the output ring is full, as a terminal
// drops what it cannot show.
void echo(char c) {
  const Termios& t = shared->tio;
  unsigned char u = static_cast<unsigned char>(c);
  if ((t.lflag & ECHOCTL) && u < 32 && c != '\n' && c != '\t') {
    put_out('^');
    put_out(static_cast<char>(u + 64));
    return;
  }
  put_out(c);
}
void echo_erase() {
  put_out('\b');
  put_out(' ');
  put_out('\b');
}

// A signal to the foreground process group (every process when none is set).
void signal_foreground(int sig) {
  int pids[proc::kMaxProcs];
  int n = procfs::group_members(shared->fg_pgrp, pids, static_cast<int>(proc::kMaxProcs));
  for (int i = 0; i < n; i++) procfs::send(pids[i], sig);
}

void commit_line() {
  for (uint32_t i = 0; i < line_len; i++) shared->in.put(line[i]);
  line_len = 0;
}

// The line discipline, for one received byte (under the lock).
void receive(char c) {
  const Termios& t = shared->tio;
  bool echoing = t.lflag & ECHO;
  if (c == '\r' && (t.iflag & IGNCR)) return;
  if (c == '\r' && (t.iflag & ICRNL)) c = '\n';
  else if (c == '\n' && (t.iflag & INLCR)) c = '\r';
  if (t.lflag & ISIG) {
    int sig = c == static_cast<char>(t.cc[VINTR]) ? SIGINT : c == static_cast<char>(t.cc[VQUIT]) ? SIGQUIT : 0;
    if (sig && c) {
      line_len = 0;  // the line being typed goes
      if (echoing) echo(c);  // "^C", as Linux shows it (the shell adds the newline)
      signal_foreground(sig);
      return;
    }
  }
  if (!(t.lflag & ICANON)) {
    shared->in.put(c);
    if (echoing) echo(c);
    return;
  }
  if (c == static_cast<char>(t.cc[VERASE]) || c == '\b') {
    if (line_len) {
      line_len--;
      if (echoing && (t.lflag & ECHOE)) echo_erase();
    }
    return;
  }
  if (c == static_cast<char>(t.cc[VKILL])) {
    for (; line_len; line_len--)
      if (echoing) echo_erase();
    return;
  }
  if (c == static_cast<char>(t.cc[VEOF]) && c) {
    if (line_len == 0) shared->eofs++;
    commit_line();
    return;
  }
  bool ends = c == '\n' || (c == static_cast<char>(t.cc[VEOL]) && c);
  // A full line keeps room for its end.
  if (line_len < kLine - 1 || (ends && line_len < kLine)) line[line_len++] = c;
  if (echoing || (c == '\n' && (t.lflag & ECHONL))) echo(c);
  if (ends) commit_line();
}

}  // namespace

veneer::Status start() {
  if (shared) return veneer::OK;
  int64_t slot = slot_alloc();
  if (slot < 0) return veneer::ERR_NO_RESOURCES;
  SysResult r = sys_ioport_create(veneer::kMachineSlot, kPort, 8, static_cast<uint64_t>(slot));
  if (r.status == veneer::OK) r = sys_ioport_bind(veneer::kSelfSlot, static_cast<uint64_t>(slot));
  if (r.status != veneer::OK) return static_cast<veneer::Status>(r.status);
  uint64_t va = 0;
  if (vm::map(&va, sizeof(Shared), veneer::PERM_WRITE, vm::Kind::Shared) != veneer::OK) return veneer::ERR_NO_MEMORY;
  int64_t ls = slot_alloc();
  if (ls >= 0 && sys_irq_create(veneer::kMachineSlot, kLine3, static_cast<uint64_t>(ls)).status == veneer::OK &&
      sys_irq_bind(veneer::kSelfSlot, static_cast<uint64_t>(ls), 1).status == veneer::OK) {
    line_slot = ls;
    set_exception_handler(veneer::kVecInterrupt, [](veneer::ExceptionFrame*) { rx_ready = true; });
  }
  shared = reinterpret_cast<Shared*>(va);
  shared->tio = kSane;
  shared->ws = Winsize{24, 80, 0, 0};
  // 115200 8N1, FIFOs on and cleared, an interrupt when data arrives
  // (OUT2 connects it to the PIC) if we have the line.
  outb(kIer, 0x00);
  outb(kLcr, 0x80);
  outb(kData, 0x01);
  outb(kIer, 0x00);
  outb(kLcr, 0x03);
  outb(kFcr, 0xC7);
  outb(kMcr, 0x0B);
  if (line_slot >= 0) outb(kIer, 0x01);
  owner = true;
  return veneer::OK;
}

void service() {
  if (!owner) return;
  TryLocked l(shared->lock);
  if (!l.held()) return;  // a process holds it: next turn (however long it keeps it)
  for (Ring* r : {&shared->in, &shared->out})
    if (r->used() > kRing) r->tail = r->head;  // counts someone scribbled on
  bool canonical = shared->tio.lflag & ICANON;
  if (was_canonical && !canonical) commit_line();  // what was typed goes to the program now
  was_canonical = canonical;
  if (shared->flush_line) line_len = 0, shared->flush_line = 0;
  if (rx_ready || line_slot < 0) {
    rx_ready = false;
    for (int i = 0; i < 256 && (inb(kLsr) & kLsrData); i++) receive(static_cast<char>(inb(kData)));
    if (line_slot >= 0) sys_irq_ack(static_cast<uint64_t>(line_slot));
  }
  while (shared->out.used() && (inb(kLsr) & kLsrThrEmpty))
    for (uint64_t i = 0; i < kFifo && shared->out.used(); i++) outb(kData, static_cast<uint8_t>(shared->out.take()));
}

bool active() { return shared != nullptr; }

bool readable() {
  Locked l(shared->lock);
  return shared->in.used() || shared->eofs || (!(shared->tio.lflag & ICANON) && shared->tio.cc[VMIN] == 0);
}

long read(void* buf, uint64_t len, bool nonblock, bool (*interrupted)()) {
  char* b = static_cast<char*>(buf);
  for (;;) {
    {
      Locked l(shared->lock);
      bool canonical = shared->tio.lflag & ICANON;
      if (shared->in.used()) {
        uint64_t n = 0;
        while (n < len && shared->in.used()) {
          char c = shared->in.take();
          b[n++] = c;
          if (canonical && c == '\n') break;
        }
        return static_cast<long>(n);
      }
      if (shared->eofs) {
        shared->eofs--;
        return 0;
      }
      if (!canonical && shared->tio.cc[VMIN] == 0) return 0;  // a polling read
    }
    if (len == 0) return 0;
    if (nonblock) return -EAGAIN;
    if (interrupted && interrupted()) return -EINTR;
    yield();
  }
}

long write(const void* buf, uint64_t len) {
  const char* p = static_cast<const char*>(buf);
  uint64_t done = 0;
  while (done < len) {
    {
      Locked l(shared->lock);
      while (done < len && put_out(p[done])) done++;
    }
    if (done < len) yield();  // the owner drains the ring when it runs
  }
  return static_cast<long>(len);
}

uint64_t arg_size(uint64_t req) {
  switch (req) {
    case TCGETS:
    case TCSETS:
    case TCSETSW:
    case TCSETSF: return sizeof(Termios);
    case TIOCGWINSZ:
    case TIOCSWINSZ: return sizeof(Winsize);
    case TIOCGPGRP:
    case TIOCSPGRP:
    case FIONREAD: return sizeof(int32_t);
    default: return 0;
  }
}

long ioctl(uint64_t req, void* arg, int caller_pgid) {
  Locked l(shared->lock);
  switch (req) {
    case TCGETS: memcpy(arg, &shared->tio, sizeof(Termios)); return 0;
    case TCSETSF:
      shared->in.tail = shared->in.head;
      shared->flush_line = 1;
      shared->eofs = 0;
      [[fallthrough]];
    case TCSETS:
    case TCSETSW:
      // (Leaving canonical mode hands over what was typed so far: the
      // owner does, when it next looks.)
      memcpy(&shared->tio, arg, sizeof(Termios));
      return 0;
    case TIOCGWINSZ: memcpy(arg, &shared->ws, sizeof(Winsize)); return 0;
    case TIOCSWINSZ: memcpy(&shared->ws, arg, sizeof(Winsize)); return 0;
    case TIOCGPGRP: *static_cast<int32_t*>(arg) = shared->fg_pgrp ? shared->fg_pgrp : caller_pgid; return 0;
    case TIOCSPGRP: {
      int32_t pg = *static_cast<int32_t*>(arg);
      if (pg <= 0) return -EINVAL;
      shared->fg_pgrp = pg;
      return 0;
    }
    case FIONREAD: *static_cast<int32_t*>(arg) = static_cast<int32_t>(shared->in.used()); return 0;
    case TIOCSCTTY:
    case TIOCNOTTY:
    case TCXONC: return 0;
    case TCFLSH:
      if (reinterpret_cast<uint64_t>(arg) != 1) {  // TCIFLUSH (0) or TCIOFLUSH (2): input goes
        shared->in.tail = shared->in.head;
        shared->flush_line = 1;
      }
      return 0;
    default: return -ENOTTY;
  }
}

}  // namespace exos::linux::tty

namespace exos::linux {
Status terminal_start() { return tty::start(); }
void terminal_service() { tty::service(); }
uint64_t init_signals() { return procfs::take_init_signals(); }
}  // namespace exos::linux
