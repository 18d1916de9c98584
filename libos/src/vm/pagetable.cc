// Reading this env's own page tables through the read-only window the
// kernel maps at PML4 slot 255 (recursive): no system call, accessed and
// dirty bits included.
#include "exos/vm.h"

namespace exos::vm {
namespace {

constexpr uint64_t kWindow = veneer::kPageTableWindowVa;
constexpr uint64_t kR = veneer::kRecursivePml4Slot;

// The table the window shows at indexes (a, b, c): with a = b = kR it is
// the PML4's PDPT for c, and so on down.
inline const uint64_t* table(uint64_t a, uint64_t b, uint64_t c) {
  return reinterpret_cast<const uint64_t*>(kWindow | (a << 30) | (b << 21) | (c << 12));
}

}  // namespace

namespace {

// The first present entry of t[from, to), or `to`: sixteen entries at a
// time (most of a sparse address space's tables are empty).
inline uint64_t next_present(const uint64_t* t, uint64_t from, uint64_t to) {
  for (; from < to && (from & 7); from++)
    if (t[from] & 1) return from;
  for (; from + 16 <= to; from += 16) {
    const uint64_t* e = t + from;
    if ((e[0] | e[1] | e[2] | e[3] | e[4] | e[5] | e[6] | e[7] | e[8] | e[9] | e[10] | e[11] | e[12] | e[13] | e[14] |
         e[15]) & 1)
      break;
  }
  for (; from + 8 <= to; from += 8)
    if ((t[from] | t[from + 1] | t[from + 2] | t[from + 3] | t[from + 4] | t[from + 5] | t[from + 6] | t[from + 7]) & 1)
      break;
  for (; from < to; from++)
    if (t[from] & 1) return from;
  return to;
}

// Entries of a table at `level` (3: PML4) covering [lo, hi): first and end index.
inline uint64_t first_index(uint64_t lo, uint64_t base, int level) { return lo > base ? (lo - base) >> (12 + 9 * level) : 0; }
inline uint64_t end_index(uint64_t hi, uint64_t base, int level) {
  uint64_t span = 1ull << (12 + 9 * (level + 1));
  if (hi >= base + span) return 512;
  return (hi - base + (1ull << (12 + 9 * level)) - 1) >> (12 + 9 * level);
}

}  // namespace

void walk(uint64_t lo, uint64_t hi, PteVisitor fn, void* ctx) {
  if (hi > veneer::kUserTop) hi = veneer::kUserTop;
  lo &= ~(kPageSize - 1);
  if (lo >= hi) return;
  const uint64_t* pml4 = table(kR, kR, kR);
  for (uint64_t i4 = next_present(pml4, lo >> 39, end_index(hi, 0, 3)); i4 < 512 && (i4 << 39) < hi;
       i4 = next_present(pml4, i4 + 1, end_index(hi, 0, 3))) {
    uint64_t b4 = i4 << 39;
    const uint64_t* pdpt = table(kR, kR, i4);
    uint64_t e3 = end_index(hi, b4, 2);
    for (uint64_t i3 = next_present(pdpt, first_index(lo, b4, 2), e3); i3 < e3; i3 = next_present(pdpt, i3 + 1, e3)) {
      uint64_t b3 = b4 | i3 << 30;
      const uint64_t* pd = table(kR, i4, i3);
      uint64_t e2 = end_index(hi, b3, 1);
      for (uint64_t i2 = next_present(pd, first_index(lo, b3, 1), e2); i2 < e2; i2 = next_present(pd, i2 + 1, e2)) {
        uint64_t b2 = b3 | i2 << 21;
        const uint64_t* pt = table(i4, i3, i2);
        uint64_t e1 = end_index(hi, b2, 0);
        for (uint64_t i1 = next_present(pt, first_index(lo, b2, 0), e1); i1 < e1; i1 = next_present(pt, i1 + 1, e1))
          if (!fn(ctx, b2 | i1 << 12, pt[i1])) return;
      }
    }
  }
}

bool dirty(uint64_t va) { return read_pte(va & ~(kPageSize - 1)) & layout::kPteDirty; }
bool accessed(uint64_t va) { return read_pte(va & ~(kPageSize - 1)) & layout::kPteAccessed; }

void copy_page(void* dst, const void* src) {
  uint64_t n = kPageSize / 8;
  asm volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

}  // namespace exos::vm
