// The few C library functions the compiler may call, and small string helpers.
#include "exos/exos.h"

extern "C" {
// Eight bytes per iteration, then the rest (each iteration of a rep
// instruction is one instruction to QEMU's -icount, and no slower anywhere).
void* memcpy(void* d, const void* s, size_t n) {
  auto* dp = static_cast<char*>(d);
  auto* sp = static_cast<const char*>(s);
  size_t q = n / 8, r = n % 8;
  asm volatile("rep movsq" : "+D"(dp), "+S"(sp), "+c"(q) : : "memory");
  asm volatile("rep movsb" : "+D"(dp), "+S"(sp), "+c"(r) : : "memory");
  return d;
}
void* memmove(void* d, const void* s, size_t n) {
  auto* dp = static_cast<char*>(d);
  auto* sp = static_cast<const char*>(s);
  if (dp <= sp || dp >= sp + n) return memcpy(d, s, n);
  while (n--) dp[n] = sp[n];
  return d;
}
void* memset(void* d, int c, size_t n) {
  auto* dp = static_cast<char*>(d);
  size_t q = n / 8, r = n % 8;
  uint64_t v = 0x0101010101010101ull * static_cast<uint8_t>(c);
  asm volatile("rep stosq" : "+D"(dp), "+c"(q) : "a"(v) : "memory");
  asm volatile("rep stosb" : "+D"(dp), "+c"(r) : "a"(v) : "memory");
  return d;
}
int memcmp(const void* a, const void* b, size_t n) {
  auto* x = static_cast<const unsigned char*>(a);
  auto* y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}
}

namespace exos {
size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
int strcmp(const char* a, const char* b) {
  while (*a && *a == *b) a++, b++;
  return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}
bool ends_with(const char* s, const char* suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return m <= n && strcmp(s + n - m, suffix) == 0;
}
}  // namespace exos
