#include "kernel/mm/code_pages.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/console.h"
#include "kernel/memory.h"
#include "kernel/mm/wx.h"

namespace veneer {

using namespace arch;

namespace {

// The page-table side of sealing, on the kernel's own tables. Every address
// space shares them (the direct map's and the image's PDPTs are linked into
// every env), so one flush per page covers all on this single CPU.
struct KernelMmu {
  static uint64_t* pte(uint64_t va) {
    uint64_t* p = kernel_pte(va);
    if (!p) panic("sealed code: no 4 KiB page table at %lx", va);
    return p;
  }
  void set_alias_writable(uint64_t pa, bool writable) {
    uint64_t* p = pte(kPhysMapBase + pa);
    *p = writable ? (*p | PTE_W) : (*p & ~PTE_W);
  }
  void flush_alias(uint64_t pa) { invlpg(kPhysMapBase + pa); }
  void map_exec(uint64_t va, uint64_t pa) { *pte(va) = pa | PTE_P | (features.pge ? PTE_G : 0); }
  void unmap_exec(uint64_t va) {
    *pte(va) = 0;
    invlpg(va);
  }
  void zero(uint64_t pa) {
    auto* p = phys_to_virt<uint64_t>(pa);
    for (uint64_t i = 0; i < kPageSize / 8; i++) p[i] = 0;
  }
};

KernelMmu mmu;
mm::SealedCodePool<KernelMmu> pool;

}  // namespace

void code_pages_init() { pool.init(&mmu, sealed_code_pool_pa, kSealedCodePages, kSealedCodeVa); }

Status code_alloc(uint64_t bytes, mm::CodeBuffer* out) {
  if (bytes == 0 || bytes > kSealedCodePages * kPageSize) return ERR_INVALID_ARGS;
  return pool.alloc((bytes + kPageSize - 1) / kPageSize, out);
}

uint8_t* code_bytes(const mm::CodeBuffer& b) { return phys_to_virt<uint8_t>(b.write_pa); }
Status code_seal(mm::CodeBuffer* b) { return pool.seal(b); }
Status code_free(mm::CodeBuffer* b) { return pool.free(b); }

void code_pages_selftest() {
  auto fail = [](const char* what) { panic("sealed code self-test: %s", what); };
  uint64_t free_before = pool.free_pages();
  mm::CodeBuffer a, b;
  if (code_alloc(2 * kPageSize + 1, &a) != OK || a.pages != 3) fail("a 3-page buffer was refused");
  if (code_alloc(1, &b) != OK || b.first != a.first + 3) fail("a second buffer was refused");
  // lea 42(%rdi), %rax; ret   at the start of the second page of a.
  const uint8_t code[] = {0x48, 0x8D, 0x47, 0x2A, 0xC3};
  uint8_t* w = code_bytes(a) + kPageSize;
  for (uint64_t i = 0; i < sizeof(code); i++) w[i] = code[i];
  if (*kernel_pte(a.exec_va + kPageSize) & PTE_P) fail("an unsealed buffer is mapped executable");
  if (code_seal(&a) != OK) fail("seal refused");
  if (code_seal(&a) != ERR_BAD_STATE) fail("sealing twice was accepted");
  for (uint64_t i = 0; i < a.pages; i++) {
    uint64_t alias = *kernel_pte(kPhysMapBase + a.write_pa + i * kPageSize);
    uint64_t exec = *kernel_pte(a.exec_va + i * kPageSize);
    if (alias & PTE_W) fail("the direct-map alias of sealed code is still writable");
    if (!(exec & PTE_P) || (exec & (PTE_W | PTE_NX | PTE_U))) fail("sealed code is not mapped read-only, executable, kernel-only");
    if ((exec & PTE_ADDR) != a.write_pa + i * kPageSize) fail("sealed code maps the wrong frame");
  }
  if (!(*kernel_pte(kPhysMapBase + b.write_pa) & PTE_W)) fail("an unsealed buffer's alias is read-only");
  wx_check_kernel_tables("sealed code live");
  auto fn = reinterpret_cast<uint64_t (*)(uint64_t)>(a.exec_va + kPageSize);
  uint64_t got = fn(1000);
  if (got != 1042) fail("sealed code returned the wrong value");
  mm::CodeBuffer stale = a;
  if (code_free(&a) != OK) fail("free refused");
  if (code_free(&stale) != ERR_BAD_STATE) fail("a double free was accepted");
  if (*kernel_pte(stale.exec_va + kPageSize) & PTE_P) fail("freed code is still mapped");
  if (!(*kernel_pte(kPhysMapBase + stale.write_pa) & PTE_W)) fail("a freed page's alias stayed read-only");
  mm::CodeBuffer big;
  if (code_alloc(kSealedCodePages * kPageSize, &big) != ERR_NO_MEMORY) fail("an oversized buffer was not refused");
  if (code_free(&b) != OK || pool.free_pages() != free_before) fail("pages were lost");
  kprintf("sealed code: self-test passed: sealed code ran (returned %lu) at %lx, its alias read-only; "
          "freed and unmapped\n", got, stale.exec_va + kPageSize);
}

}  // namespace veneer
