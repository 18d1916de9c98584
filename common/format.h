// printf-style formatting for freestanding code, shared by the kernel and
// ExOS (neither may include the other). Supports %d %i %u %x %X %p %s %c %%
// with the l/ll/z length modifiers, a field width and the 0 and - flags.
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

namespace veneer::fmt {

// Calls sink(ctx, c) for every output character.
using Sink = void (*)(void* ctx, char c);

inline void vformat(Sink sink, void* ctx, const char* f, va_list ap) {
  for (; *f; f++) {
    if (*f != '%') { sink(ctx, *f); continue; }
    f++;
    bool left = false, zero = false;
    for (;; f++) {
      if (*f == '-') left = true;
      else if (*f == '0') zero = true;
      else break;
    }
    int width = 0;
    while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
    int longs = 0;
    while (*f == 'l' || *f == 'z') { longs++; f++; }
    char buf[24];
    int n = 0;
    const char* str = buf;
    bool neg = false;
    switch (*f) {
      case 'd': case 'i': case 'u': case 'x': case 'X': case 'p': {
        uint64_t v;
        unsigned base = (*f == 'x' || *f == 'X' || *f == 'p') ? 16 : 10;
        if (*f == 'p') {
          v = reinterpret_cast<uintptr_t>(va_arg(ap, void*));
          sink(ctx, '0'); sink(ctx, 'x');
        } else if (*f == 'd' || *f == 'i') {
          int64_t s = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
          neg = s < 0;
          v = neg ? 0 - static_cast<uint64_t>(s) : static_cast<uint64_t>(s);
        } else {
          v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
        }
        const char* digits = *f == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
        char tmp[24];
        int t = 0;
        do { tmp[t++] = digits[v % base]; v /= base; } while (v);
        if (neg) buf[n++] = '-';
        while (t) buf[n++] = tmp[--t];
        break;
      }
      case 's':
        str = va_arg(ap, const char*);
        if (!str) str = "(null)";
        while (str[n]) n++;
        break;
      case 'c': buf[n++] = static_cast<char>(va_arg(ap, int)); break;
      case '%': buf[n++] = '%'; break;
      case '\0': return;
      default: buf[n++] = '%'; buf[n++] = *f; break;
    }
    int pad = width > n ? width - n : 0;
    if (!left) {
      // Zero padding goes after a minus sign.
      if (zero && neg) { sink(ctx, '-'); str++; n--; }
      while (pad--) sink(ctx, zero ? '0' : ' ');
    }
    for (int i = 0; i < n; i++) sink(ctx, str[i]);
    if (left) while (pad--) sink(ctx, ' ');
  }
}

// Formats into a fixed buffer; always NUL-terminates; returns the length
// that was written (truncated output is cut at size-1).
struct BufferSink {
  char* buf;
  size_t size;
  size_t len;
  static void put(void* ctx, char c) {
    auto* b = static_cast<BufferSink*>(ctx);
    if (b->len + 1 < b->size) b->buf[b->len++] = c;
  }
};

inline size_t vsnformat(char* buf, size_t size, const char* f, va_list ap) {
  BufferSink b{buf, size, 0};
  vformat(&BufferSink::put, &b, f, ap);
  if (size) buf[b.len] = '\0';
  return b.len;
}

}  // namespace veneer::fmt
