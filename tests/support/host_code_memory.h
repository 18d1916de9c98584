// The host's provider of W^X code memory for the filter compiler and the
// handler JIT (kernel/net/code_memory.h): mmap'd read+write, then mprotect'd
// read+execute. Used by host tests, fuzzers and benchmarks.
#pragma once

#include "kernel/net/code_memory.h"

namespace veneer::test {

// A CodeMemory backed by mmap/mprotect. Counts live allocations so tests can
// check that every piece of code is released; `fail_after` (when >= 0) makes
// allocation fail after that many more successes.
struct HostCodeMemory {
  HostCodeMemory();
  veneer::net::CodeMemory memory;
  long live = 0;
  long fail_after = -1;
};

// True if [p, p+len) is mapped executable and not writable (from /proc/self/maps).
bool is_sealed(const void* p, size_t len);

}  // namespace veneer::test
