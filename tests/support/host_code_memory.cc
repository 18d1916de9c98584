#include "host_code_memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

namespace veneer::test {

namespace {

struct Block {
  void* base;
  size_t size;
};

size_t page_round(size_t n) {
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

uint8_t* allocate(void* ctx, size_t bytes, void** handle) {
  auto* self = static_cast<HostCodeMemory*>(ctx);
  if (self->fail_after == 0) return nullptr;
  if (self->fail_after > 0) self->fail_after--;
  size_t size = page_round(bytes ? bytes : 1);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  *handle = new Block{p, size};
  self->live++;
  return static_cast<uint8_t*>(p);
}

const uint8_t* seal(void*, void* handle) {
  auto* b = static_cast<Block*>(handle);
  if (mprotect(b->base, b->size, PROT_READ | PROT_EXEC) != 0) return nullptr;
  return static_cast<const uint8_t*>(b->base);
}

void release(void* ctx, void* handle) {
  auto* b = static_cast<Block*>(handle);
  munmap(b->base, b->size);
  delete b;
  static_cast<HostCodeMemory*>(ctx)->live--;
}

}  // namespace

HostCodeMemory::HostCodeMemory() : memory{this, allocate, seal, release} {}

bool is_sealed(const void* p, size_t len) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) return false;
  uintptr_t a = uintptr_t(p), e = a + len;
  char line[512];
  bool ok = false;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char perms[5];
    if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3) continue;
    if (a >= lo && e <= hi) {
      ok = perms[0] == 'r' && perms[1] == '-' && perms[2] == 'x';
      break;
    }
  }
  fclose(f);
  return ok;
}

}  // namespace veneer::test
