// The parts of the ELF64 format that program loading needs: the kernel (for
// init) and ExOS (for everything else) both load executables.
#pragma once

#include <stdint.h>

#include "veneer/abi.h"

namespace veneer::elf {

struct Header {
  uint8_t ident[16];
  uint16_t type, machine;
  uint32_t version;
  uint64_t entry, phoff, shoff;
  uint32_t flags;
  uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct ProgramHeader {
  uint32_t type, flags;
  uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPfExec = 1, kPfWrite = 2;
constexpr uint16_t kMachineX86_64 = 62;
constexpr uint16_t kMachineBpf = 247;  // eBPF objects (safe handlers)

// Section headers: what loading a handler from an object file needs.
struct SectionHeader {
  uint32_t name, type;
  uint64_t flags, addr, offset, size;
  uint32_t link, info;
  uint64_t addralign, entsize;
};
constexpr uint32_t kShtRela = 4, kShtRel = 9;

// An x86-64 ELF64 executable whose program headers lie inside `size` bytes.
inline bool valid_executable(const void* image, uint64_t size) {
  auto* h = static_cast<const Header*>(image);
  return size >= sizeof(Header) && h->ident[0] == 0x7F && h->ident[1] == 'E' && h->ident[2] == 'L' &&
         h->ident[3] == 'F' && h->ident[4] == 2 && h->machine == kMachineX86_64 && h->phoff <= size &&
         h->phnum * uint64_t(sizeof(ProgramHeader)) <= size - h->phoff &&
         h->phentsize == sizeof(ProgramHeader);
}

inline const ProgramHeader& program_header(const void* image, uint16_t i) {
  auto* h = static_cast<const Header*>(image);
  return *reinterpret_cast<const ProgramHeader*>(static_cast<const uint8_t*>(image) + h->phoff +
                                                 i * uint64_t(sizeof(ProgramHeader)));
}

// Mapping permissions for a segment's flags.
inline uint64_t segment_perms(const ProgramHeader& ph) {
  return ((ph.flags & kPfWrite) ? PERM_WRITE : 0) | ((ph.flags & kPfExec) ? PERM_EXEC : 0);
}

}  // namespace veneer::elf
