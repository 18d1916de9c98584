// Memory for generated machine code, write-xor-execute: code is written while
// its memory is writable and not executable, then sealed read+execute and
// never writable again. Nothing runs before it is sealed. The filter compiler
// and the handler JIT only see this interface; the kernel's provider (sealed
// kernel pages) and the host's (mmap/mprotect, tests/support/) live outside
// the portable core.
//
// The address code runs at may differ from the address it was written at (a
// provider may write through one mapping and execute through another), so
// generated code is position independent.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace veneer::net {

struct CodeMemory {
  void* context;
  // Writable, non-executable memory of at least `bytes`; *handle names it
  // from then on. nullptr when none is left.
  uint8_t* (*allocate)(void* context, size_t bytes, void** handle);
  // Makes the memory behind `handle` read+execute, never writable again, and
  // returns the address to execute it at (nullptr if sealing failed).
  const uint8_t* (*seal)(void* context, void* handle);
  // Gives the memory back (sealed or not); the caller no longer runs it.
  void (*release)(void* context, void* handle);
};

// One piece of sealed code and the handle to release it with.
struct SealedCode {
  const uint8_t* entry = nullptr;
  void* handle = nullptr;
  size_t size = 0;
};

}  // namespace veneer::net
