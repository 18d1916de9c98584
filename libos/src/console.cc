#include <stdarg.h>

#include "common/format.h"
#include "exos/exos.h"

namespace exos {
namespace {

// Output is line-buffered so one printf reaches the serial port in one
// system call and lines from different envs do not interleave mid-line.
struct LineBuffer {
  char buf[256];
  size_t len;
  void flush() {
    if (len) sys_cons_write(reinterpret_cast<uint64_t>(buf), len);
    len = 0;
  }
  static void put(void* ctx, char c) {
    auto* b = static_cast<LineBuffer*>(ctx);
    b->buf[b->len++] = c;
    if (c == '\n' || b->len == sizeof(b->buf)) b->flush();
  }
};

}  // namespace

void print(const char* s) {
  for (size_t n = strlen(s); n;) {
    size_t chunk = n < veneer::kMaxConsoleWrite ? n : veneer::kMaxConsoleWrite;
    sys_cons_write(reinterpret_cast<uint64_t>(s), chunk);
    s += chunk;
    n -= chunk;
  }
}

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
