#include <stdarg.h>

#include "common/format.h"
#include "exos/exos.h"

namespace exos {
namespace {

// Output is line-buffered so one printf reaches the serial port in one
// system call and lines from different envs do not interleave mid-line.
// Writes it all: the kernel takes what its console queue has room for (it
// never waits for the serial line), so the rest waits a slice.
void write_all(const char* s, size_t n) {
  while (n) {
    size_t chunk = n < veneer::kMaxConsoleWrite ? n : veneer::kMaxConsoleWrite;
    SysResult r = sys_cons_write(reinterpret_cast<uint64_t>(s), chunk);
    if (r.status != veneer::OK) return;
    if (r.value == 0) sys_yield();
    s += r.value;
    n -= r.value;
  }
}

struct LineBuffer {
  char buf[256];
  size_t len;
  void flush() {
    write_all(buf, len);
    len = 0;
  }
  static void put(void* ctx, char c) {
    auto* b = static_cast<LineBuffer*>(ctx);
    b->buf[b->len++] = c;
    if (c == '\n' || b->len == sizeof(b->buf)) b->flush();
  }
};

}  // namespace

void print(const char* s) { write_all(s, strlen(s)); }

void vprintf(const char* fmt, va_list ap) {
  LineBuffer b{{}, 0};
  veneer::fmt::vformat(&LineBuffer::put, &b, fmt, ap);
  b.flush();
}

void printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
}

}  // namespace exos
