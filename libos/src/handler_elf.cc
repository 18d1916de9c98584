#include "exos/handler_elf.h"

#include "common/elf.h"

namespace exos {

namespace {

bool same(const char* a, const char* b, size_t limit) {
  for (size_t i = 0; i < limit; i++) {
    if (a[i] != b[i]) return false;
    if (a[i] == 0) return true;
  }
  return false;
}

}  // namespace

const char* handler_from_elf(const void* image, size_t size, const char* section, const veneer::BpfInsn** insns,
                             uint32_t* count) {
  using namespace veneer::elf;
  auto* bytes = static_cast<const uint8_t*>(image);
  auto* h = static_cast<const Header*>(image);
  if (size < sizeof(Header) || h->ident[0] != 0x7F || h->ident[1] != 'E' || h->ident[2] != 'L' ||
      h->ident[3] != 'F' || h->ident[4] != 2 || h->ident[5] != 1)
    return "not a little-endian ELF64 file";
  if (h->machine != kMachineBpf) return "not an eBPF object";
  if (h->shentsize != sizeof(SectionHeader) || h->shoff > size ||
      uint64_t(h->shnum) * sizeof(SectionHeader) > size - h->shoff || h->shstrndx >= h->shnum)
    return "section headers out of the file";
  auto* sh = reinterpret_cast<const SectionHeader*>(bytes + h->shoff);
  const SectionHeader& names = sh[h->shstrndx];
  if (names.offset > size || names.size > size - names.offset) return "section names out of the file";
  const char* strtab = reinterpret_cast<const char*>(bytes + names.offset);
  uint32_t found = h->shnum;
  for (uint32_t i = 0; i < h->shnum; i++) {
    if (sh[i].name >= names.size) continue;
    if (same(strtab + sh[i].name, section, names.size - sh[i].name)) found = i;
  }
  if (found == h->shnum) return "no such section";
  for (uint32_t i = 0; i < h->shnum; i++)
    if ((sh[i].type == kShtRel || sh[i].type == kShtRela) && sh[i].info == found)
      return "the section has relocations (global data or calls the loader cannot link)";
  const SectionHeader& code = sh[found];
  if (code.offset > size || code.size > size - code.offset || code.size % sizeof(veneer::BpfInsn))
    return "section out of the file or not whole instructions";
  if (code.offset % alignof(veneer::BpfInsn)) return "section misaligned";
  *insns = reinterpret_cast<const veneer::BpfInsn*>(bytes + code.offset);
  *count = uint32_t(code.size / sizeof(veneer::BpfInsn));
  return nullptr;
}

}  // namespace exos
