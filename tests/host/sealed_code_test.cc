// Sealed code pages (kernel/mm/sealed_code.h) against a model MMU that
// remembers stale TLB entries and checks, after every page-table step, that
// no page is writable (in its tables or a TLB) while it is executable.
#include "kernel/mm/sealed_code.h"

#include <gtest/gtest.h>

#include <map>

using veneer::mm::CodeBuffer;
using veneer::mm::SealedCodePool;

namespace {

constexpr uint64_t kPool = 0x400000, kExec = 0xFFFFFFFFA0000000ull, kPage = 4096;

struct ModelMmu {
  struct Page {
    bool alias_writable = true;  // direct-map PTE
    bool tlb_writable = true;    // what a TLB may still hold for the alias
    bool exec = false;           // mapped at its exec address
  };
  std::map<uint64_t, Page> pages;  // by physical address
  int steps = 0, zeroed = 0;

  void check() {
    steps++;
    for (auto& [pa, p] : pages)
      ASSERT_FALSE((p.alias_writable || p.tlb_writable) && p.exec) << "page " << std::hex << pa << " W+X";
  }
  void set_alias_writable(uint64_t pa, bool w) {
    auto& p = pages[pa];
    p.alias_writable = w;
    if (w) p.tlb_writable = true;  // a TLB may pick it up at any time
    check();
  }
  void flush_alias(uint64_t pa) {
    pages[pa].tlb_writable = pages[pa].alias_writable;
    check();
  }
  void map_exec(uint64_t va, uint64_t pa) {
    ASSERT_EQ(va - kExec, pa - kPool);
    pages[pa].exec = true;
    check();
  }
  void unmap_exec(uint64_t va) {
    pages[va - kExec + kPool].exec = false;
    check();
  }
  void zero(uint64_t pa) {
    ASSERT_TRUE(pages[pa].alias_writable);
    ASSERT_FALSE(pages[pa].exec);
    zeroed++;
  }
};

struct SealedCode : ::testing::Test {
  ModelMmu mmu;
  SealedCodePool<ModelMmu, 16> pool;
  void SetUp() override {
    for (uint64_t i = 0; i < 16; i++) mmu.pages[kPool + i * kPage];
    pool.init(&mmu, kPool, 16, kExec);
  }
};

}  // namespace

TEST_F(SealedCode, AllocSealFreeKeepsWxAtEveryStep) {
  CodeBuffer b;
  ASSERT_EQ(pool.alloc(3, &b), veneer::OK);
  EXPECT_EQ(mmu.zeroed, 3);
  EXPECT_EQ(b.write_pa, kPool);
  EXPECT_EQ(b.exec_va, kExec);
  EXPECT_FALSE(mmu.pages[kPool].exec);
  ASSERT_EQ(pool.seal(&b), veneer::OK);
  for (uint64_t i = 0; i < 3; i++) {
    EXPECT_TRUE(mmu.pages[kPool + i * kPage].exec);
    EXPECT_FALSE(mmu.pages[kPool + i * kPage].alias_writable);
  }
  ASSERT_EQ(pool.free(&b), veneer::OK);
  for (uint64_t i = 0; i < 3; i++) {
    EXPECT_FALSE(mmu.pages[kPool + i * kPage].exec);
    EXPECT_TRUE(mmu.pages[kPool + i * kPage].alias_writable);
  }
  EXPECT_GT(mmu.steps, 10);
  EXPECT_EQ(pool.free_pages(), 16u);
}

TEST_F(SealedCode, FirstFitReusesFreedRunsAndRefusesWhatDoesNotFit) {
  CodeBuffer a, b, c, d;
  ASSERT_EQ(pool.alloc(4, &a), veneer::OK);
  ASSERT_EQ(pool.alloc(4, &b), veneer::OK);
  EXPECT_EQ(b.first, 4u);
  ASSERT_EQ(pool.free(&a), veneer::OK);
  ASSERT_EQ(pool.alloc(8, &c), veneer::OK);  // does not fit in the 4-page hole
  EXPECT_EQ(c.first, 8u);
  EXPECT_EQ(pool.alloc(5, &d), veneer::ERR_NO_MEMORY);
  ASSERT_EQ(pool.alloc(4, &d), veneer::OK);
  EXPECT_EQ(d.first, 0u);
  EXPECT_EQ(pool.alloc(0, &d), veneer::ERR_INVALID_ARGS);
  EXPECT_EQ(pool.alloc(17, &d), veneer::ERR_INVALID_ARGS);
}

TEST_F(SealedCode, BadStatesAreRefused) {
  CodeBuffer b;
  ASSERT_EQ(pool.alloc(1, &b), veneer::OK);
  ASSERT_EQ(pool.seal(&b), veneer::OK);
  EXPECT_EQ(pool.seal(&b), veneer::ERR_BAD_STATE);  // twice
  CodeBuffer stale = b;
  ASSERT_EQ(pool.free(&b), veneer::OK);
  EXPECT_EQ(pool.free(&stale), veneer::ERR_BAD_STATE);  // double free
  EXPECT_EQ(pool.seal(&stale), veneer::ERR_BAD_STATE);
  CodeBuffer forged{2, 1, kPool + 2 * kPage, kExec + 2 * kPage, false};
  EXPECT_EQ(pool.free(&forged), veneer::ERR_BAD_STATE);  // never allocated
  CodeBuffer wild{15, 5, kPool + 15 * kPage, kExec + 15 * kPage, false};
  EXPECT_EQ(pool.seal(&wild), veneer::ERR_BAD_STATE);  // runs past the pool
  CodeBuffer empty;
  EXPECT_EQ(pool.free(&empty), veneer::ERR_BAD_STATE);
}

TEST_F(SealedCode, UnsealedBufferFreedWithoutEverBeingExecutable) {
  CodeBuffer b;
  ASSERT_EQ(pool.alloc(2, &b), veneer::OK);
  ASSERT_EQ(pool.free(&b), veneer::OK);
  EXPECT_FALSE(mmu.pages[kPool].exec);
  EXPECT_EQ(pool.free_pages(), 16u);
}
