// Checking an ELF image before anything of it is loaded, so a bad image
// fails with ERR_BAD_ELF and the caller (exec's, spawn's) is left as it was.
#include "../internal.h"
#include "common/elf.h"

namespace exos::internal {
namespace {

using veneer::elf::Header;
using veneer::elf::ProgramHeader;

constexpr uint16_t kTypeExec = 2;
constexpr uint32_t kMaxSegments = 32;
constexpr uint64_t kMaxSegmentBytes = 256ull << 20;  // more is not a program, it is an attack
// Programs live below ExOS's own areas (or in the window for high ones).
constexpr uint64_t kProgramTop = layout::kProgramTop;

struct Range {
  uint64_t start, end;
  bool exec;
};

}  // namespace

Status elf_check(const void* image, uint64_t size, ElfInfo* out) {
  if (!image || size < sizeof(Header)) return veneer::ERR_BAD_ELF;  // truncated
  auto* h = static_cast<const Header*>(image);
  const uint8_t* id = h->ident;
  if (id[0] != 0x7F || id[1] != 'E' || id[2] != 'L' || id[3] != 'F') return veneer::ERR_BAD_ELF;
  if (id[4] != 2 || id[5] != 1 || id[6] != 1) return veneer::ERR_BAD_ELF;  // 64-bit, little endian, version 1
  if (h->type != kTypeExec || h->machine != veneer::elf::kMachineX86_64 || h->version != 1) return veneer::ERR_BAD_ELF;
  if (h->phentsize != sizeof(ProgramHeader) || h->phnum == 0 || h->phnum > kMaxSegments) return veneer::ERR_BAD_ELF;
  if (h->phoff > size || h->phnum * uint64_t(sizeof(ProgramHeader)) > size - h->phoff) return veneer::ERR_BAD_ELF;
  Range loads[kMaxSegments];
  uint32_t n = 0;
  for (uint16_t i = 0; i < h->phnum; i++) {
    const ProgramHeader& ph = veneer::elf::program_header(image, i);
    if (ph.type != veneer::elf::kPtLoad || ph.memsz == 0) continue;
    if (ph.offset > size || ph.filesz > size - ph.offset) return veneer::ERR_BAD_ELF;  // past the image
    if (ph.filesz > ph.memsz || ph.memsz > kMaxSegmentBytes) return veneer::ERR_BAD_ELF;
    bool low = ph.vaddr >= veneer::kUserBase && ph.vaddr < kProgramTop && ph.memsz <= kProgramTop - ph.vaddr;
    bool high = ph.vaddr >= layout::kHighProgramBase && ph.vaddr < layout::kHighProgramTop &&
                ph.memsz <= layout::kHighProgramTop - ph.vaddr;
    if (!low && !high) return veneer::ERR_BAD_ELF;
    bool write = ph.flags & veneer::elf::kPfWrite, exec = ph.flags & veneer::elf::kPfExec;
    if (write && exec) return veneer::ERR_BAD_ELF;  // W^X
    Range r{ph.vaddr, ph.vaddr + ph.memsz, exec};
    for (uint32_t k = 0; k < n; k++)
      if (r.start < loads[k].end && loads[k].start < r.end) return veneer::ERR_BAD_ELF;  // overlapping segments
    loads[n++] = r;
  }
  if (n == 0) return veneer::ERR_BAD_ELF;
  bool entry_ok = false;
  for (uint32_t k = 0; k < n; k++) entry_ok |= loads[k].exec && h->entry >= loads[k].start && h->entry < loads[k].end;
  if (!entry_ok) return veneer::ERR_BAD_ELF;  // entry outside every executable segment
  if (out) *out = ElfInfo{h->entry, n};
  return veneer::OK;
}

}  // namespace exos::internal
