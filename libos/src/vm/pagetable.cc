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

void walk(uint64_t lo, uint64_t hi, PteVisitor fn, void* ctx) {
  constexpr uint64_t k512G = 1ull << 39, k1G = 1ull << 30, k2M = 1ull << 21;
  if (hi > veneer::kUserTop) hi = veneer::kUserTop;
  lo &= ~(kPageSize - 1);
  const uint64_t* pml4 = table(kR, kR, kR);
  for (uint64_t va = lo; va < hi;) {
    uint64_t i4 = va >> 39, i3 = (va >> 30) & 511, i2 = (va >> 21) & 511;
    if (!(pml4[i4] & 1)) {
      va = (va & ~(k512G - 1)) + k512G;
      continue;
    }
    if (!(table(kR, kR, i4)[i3] & 1)) {
      va = (va & ~(k1G - 1)) + k1G;
      continue;
    }
    if (!(table(kR, i4, i3)[i2] & 1)) {
      va = (va & ~(k2M - 1)) + k2M;
      continue;
    }
    const uint64_t* pt = table(i4, i3, i2);
    for (uint64_t i1 = (va >> 12) & 511; i1 < 512 && va < hi; i1++, va += kPageSize)
      if ((pt[i1] & 1) && !fn(ctx, va, pt[i1])) return;
  }
}

bool dirty(uint64_t va) { return read_pte(va & ~(kPageSize - 1)) & layout::kPteDirty; }
bool accessed(uint64_t va) { return read_pte(va & ~(kPageSize - 1)) & layout::kPteAccessed; }

void copy_page(void* dst, const void* src) {
  uint64_t n = kPageSize / 8;
  asm volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

}  // namespace exos::vm
