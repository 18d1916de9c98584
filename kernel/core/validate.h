// Argument validation shared by every system call. Portable: also built for
// the host and unit-tested there (tests/host/validate_test.cc).
#pragma once

#include "veneer/abi.h"

namespace veneer::core {

constexpr bool is_page_aligned(uint64_t va) { return (va & (kPageSize - 1)) == 0; }

// A user virtual address an env may bind: canonical, lower half, below the
// read-only kernel-table and page-table windows, and not the null page.
constexpr bool is_user_va(uint64_t va) { return va >= kUserBase && va < kUserTop; }

// [va, va+len) lies wholly inside the user range (no wrap-around).
constexpr bool is_user_range(uint64_t va, uint64_t len) {
  return is_user_va(va) && len <= kUserTop - va;
}

// Validates a mapping target: page aligned user address.
constexpr Status check_map_va(uint64_t va) {
  if (!is_user_va(va)) return ERR_BAD_ADDRESS;
  if (!is_page_aligned(va)) return ERR_UNALIGNED;
  return OK;
}

// Mapping permissions: write, execute, and the library OS's marks.
constexpr bool perms_valid(uint64_t perms) { return (perms & ~kPermsMask) == 0; }

// The capability rights a mapping with these permissions needs.
constexpr uint8_t rights_for_perms(uint64_t perms) {
  uint8_t r = RIGHT_READ;
  if (perms & PERM_WRITE) r |= RIGHT_WRITE;
  if (perms & PERM_EXEC) r |= RIGHT_EXEC;
  return r;
}

}  // namespace veneer::core
