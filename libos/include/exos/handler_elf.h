// Finding a safe handler's bytecode in an object file from
// `clang -target bpf -c` (see exos/ash.h): the named section of an ELF64
// eBPF relocatable object. Handlers use no global data, so a section with
// relocations is refused (it would need a linker that handlers do not have).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "veneer/handler.h"

namespace exos {

// On success *insns points into `image` and *count is the number of 8-byte
// slots; returns nullptr. Otherwise returns why not.
const char* handler_from_elf(const void* image, size_t size, const char* section, const veneer::BpfInsn** insns,
                             uint32_t* count);

}  // namespace exos
