// Sealed code pages in the kernel (the JIT's memory): allocate a buffer,
// write it through buffer_bytes(), seal it (read-only and executable at
// exec_va, its writable alias made read-only first), free it. The rules and
// their order are in kernel/mm/sealed_code.h.
#pragma once

#include <stdint.h>

#include "kernel/mm/sealed_code.h"

namespace veneer {

// Boot: the pool carved by memory_init, run at kSealedCodeVa.
void code_pages_init();
// A zeroed, writable, non-executable buffer of at least `bytes`.
Status code_alloc(uint64_t bytes, mm::CodeBuffer* out);
// Where the kernel writes the buffer's code before sealing (direct map).
uint8_t* code_bytes(const mm::CodeBuffer& b);
// Read-only and executable at b->exec_va from here on; ERR_BAD_STATE if b is
// not an unsealed live buffer.
Status code_seal(mm::CodeBuffer* b);
// Unmaps and returns the pages; ERR_BAD_STATE for a buffer that is not live.
Status code_free(mm::CodeBuffer* b);

// Boot self-test (kernel option code_pages_selftest): runs sealed code,
// checks every mapping of it, and runs the W^X check while it is live.
void code_pages_selftest();

}  // namespace veneer
