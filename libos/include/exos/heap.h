// ExOS's heap: malloc/free/realloc on a demand-zero region (vm::map), so
// memory is bound only when touched. Small blocks come from size classes,
// large ones from an address-ordered free list that merges neighbours. Not
// thread-safe (an ExOS process is one thread). A forked child inherits the
// heap copy-on-write, like any other memory.
#pragma once

#include <stddef.h>

namespace exos {

void* malloc(size_t size);
void* calloc(size_t n, size_t size);
void* realloc(void* p, size_t size);
void free(void* p);
// Usable size of a block (at least what was asked).
size_t malloc_usable_size(const void* p);

struct HeapStats {
  size_t bytes_in_use;   // sum of usable sizes of live blocks
  size_t blocks_in_use;
  size_t heap_top;       // bytes of the heap region carved so far
};
HeapStats heap_stats();

}  // namespace exos
