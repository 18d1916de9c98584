// 16- and 32-bit port reads (kernel/arch/x86_64/cpu.h has the rest).
#pragma once

#include <stdint.h>

namespace veneer::dev {

#ifndef VENEER_HOSTED
inline uint16_t inw(uint16_t port) {
  uint16_t v;
  asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
inline uint32_t inl(uint16_t port) {
  uint32_t v;
  asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
#else  // a hosted build has no devices: every read floats high
inline uint16_t inw(uint16_t) { return 0xFFFF; }
inline uint32_t inl(uint16_t) { return 0xFFFFFFFFu; }
#endif

}  // namespace veneer::dev
