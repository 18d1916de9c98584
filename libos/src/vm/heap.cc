// malloc/free/realloc on a demand-zero region: pages are bound only when a
// block on them is first touched. Blocks of up to 2 KiB come from eight
// power-of-two size classes (a free list each); larger ones from an
// address-ordered free list, split on allocation and merged with free
// neighbours on free. Every block has a 16-byte header (so payloads are
// 16-byte aligned) whose tag catches frees of what malloc never gave.
#include "exos/heap.h"

#include "exos/vm.h"

namespace exos {
namespace {

constexpr uint64_t kTagSmall = 0x5EA1'0000'0000'0000ull;  // | size class
constexpr uint64_t kTagLarge = 0x1A26'E000'0000'0000ull;
constexpr uint64_t kTagFree = 0xF4EE'F4EE'F4EE'F4EEull;
constexpr uint32_t kClasses = 8;
constexpr size_t kSmallMax = 16u << (kClasses - 1);  // 2048
constexpr size_t kMinSplit = 64;

struct Header {
  uint64_t size;  // usable bytes after the header
  uint64_t tag;
};
static_assert(sizeof(Header) == 16);
struct FreeLarge {
  Header h;
  FreeLarge* next;  // address order
};

bool ready;
uint64_t top;                 // next uncarved byte
FreeLarge* large_free;
Header* small_free[kClasses];  // linked through the payload's first word
HeapStats stats;

size_t round16(size_t n) { return (n + 15) & ~size_t(15); }

uint32_t class_of(size_t n) {
  uint32_t c = 0;
  while ((size_t(16) << c) < n) c++;
  return c;
}

bool init() {
  uint64_t va = layout::kHeapBase;
  if (vm::map(&va, layout::kHeapMax, veneer::PERM_WRITE) != veneer::OK) return false;
  top = va;
  ready = true;
  return true;
}

Header* carve(size_t usable) {
  uint64_t need = sizeof(Header) + usable;
  if (top + need > layout::kHeapBase + layout::kHeapMax) return nullptr;
  auto* h = reinterpret_cast<Header*>(top);
  top += need;
  stats.heap_top = top - layout::kHeapBase;
  h->size = usable;
  return h;
}

void* small_alloc(size_t n) {
  uint32_t c = class_of(n);
  Header* h = small_free[c];
  if (h) {
    small_free[c] = *reinterpret_cast<Header**>(h + 1);
  } else {
    h = carve(size_t(16) << c);
    if (!h) return nullptr;
  }
  h->tag = kTagSmall | c;
  return h + 1;
}

void* large_alloc(size_t n) {
  n = round16(n);
  for (FreeLarge **link = &large_free, *b = *link; b; link = &b->next, b = *link) {
    if (b->h.size < n) continue;
    FreeLarge* next = b->next;
    if (b->h.size - n >= sizeof(Header) + kMinSplit) {  // split: the tail stays free
      auto* rest = reinterpret_cast<FreeLarge*>(reinterpret_cast<uint8_t*>(b + 0) + sizeof(Header) + n);
      rest->h = Header{b->h.size - n - sizeof(Header), kTagFree};
      rest->next = next;
      *link = rest;
      b->h.size = n;
    } else {
      *link = next;
    }
    b->h.tag = kTagLarge;
    return &b->h + 1;
  }
  Header* h = carve(n);
  if (!h) return nullptr;
  h->tag = kTagLarge;
  return h + 1;
}

uint8_t* end_of(FreeLarge* b) { return reinterpret_cast<uint8_t*>(b) + sizeof(Header) + b->h.size; }

void large_free_block(Header* h) {
  auto* b = reinterpret_cast<FreeLarge*>(h);
  b->h.tag = kTagFree;
  FreeLarge* prev = nullptr;
  FreeLarge* next = large_free;
  while (next && next < b) prev = next, next = next->next;
  b->next = next;
  if (next && end_of(b) == reinterpret_cast<uint8_t*>(next)) {  // merge with the one after
    b->h.size += sizeof(Header) + next->h.size;
    b->next = next->next;
  }
  if (prev && end_of(prev) == reinterpret_cast<uint8_t*>(b)) {  // and the one before
    prev->h.size += sizeof(Header) + b->h.size;
    prev->next = b->next;
  } else if (prev) {
    prev->next = b;
  } else {
    large_free = b;
  }
}

Header* header_of(const void* p) {
  auto* h = reinterpret_cast<Header*>(const_cast<void*>(p)) - 1;
  uint64_t tag = h->tag;
  if (tag == kTagLarge || (tag & ~uint64_t(0xF)) == kTagSmall) return h;
  panic(tag == kTagFree ? "free: block already free" : "free: not a block malloc gave");
}

}  // namespace

void* malloc(size_t n) {
  if (!ready && !init()) return nullptr;
  if (n == 0) n = 1;
  if (n > layout::kHeapMax) return nullptr;
  void* p = n <= kSmallMax ? small_alloc(n) : large_alloc(n);
  if (p) {
    stats.blocks_in_use++;
    stats.bytes_in_use += malloc_usable_size(p);
  }
  return p;
}

void* calloc(size_t n, size_t size) {
  if (size && n > ~size_t(0) / size) return nullptr;
  void* p = malloc(n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

size_t malloc_usable_size(const void* p) {
  if (!p) return 0;
  Header* h = header_of(p);
  return h->size;
}

void free(void* p) {
  if (!p) return;
  Header* h = header_of(p);
  stats.blocks_in_use--;
  stats.bytes_in_use -= h->size;
  if (h->tag == kTagLarge) {
    large_free_block(h);
    return;
  }
  uint32_t c = static_cast<uint32_t>(h->tag & 0xF);
  h->tag = kTagFree;
  *reinterpret_cast<Header**>(h + 1) = small_free[c];
  small_free[c] = h;
}

void* realloc(void* p, size_t n) {
  if (!p) return malloc(n);
  if (n == 0) {
    free(p);
    return nullptr;
  }
  size_t have = malloc_usable_size(p);
  if (n <= have) return p;
  void* q = malloc(n);
  if (!q) return nullptr;
  memcpy(q, p, have);
  free(p);
  return q;
}

HeapStats heap_stats() { return stats; }

}  // namespace exos
