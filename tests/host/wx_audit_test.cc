// The W^X page-table audit (kernel/mm/wx_audit.h) on synthetic page tables.
#include "kernel/mm/wx_audit.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

using namespace veneer::mm;

namespace {

// Page tables in a map from "physical address" to 512 entries.
struct FakeTables {
  std::map<uint64_t, std::vector<uint64_t>> tables;
  uint64_t next = 0x100000;
  uint64_t alloc() {
    tables[next] = std::vector<uint64_t>(512, 0);
    uint64_t pa = next;
    next += 0x1000;
    return pa;
  }
  uint64_t* at(uint64_t pa) { return tables.at(pa).data(); }
  // Maps a 4 KiB page, creating tables with `link` bits.
  void map(uint64_t root, uint64_t va, uint64_t leaf, uint64_t link = pte::kPresent | pte::kWrite) {
    uint64_t* t = at(root);
    for (int level = 4; level > 1; level--) {
      uint64_t i = (va >> (12 + 9 * (level - 1))) & 511;
      if (!(t[i] & pte::kPresent)) t[i] = alloc() | link;
      t = at(t[i] & pte::kAddr);
    }
    t[(va >> 12) & 511] = leaf;
  }
  auto reader() {
    return [this](uint64_t pa) -> const uint64_t* { return at(pa); };
  }
};

constexpr uint64_t P = pte::kPresent, W = pte::kWrite, NX = pte::kNoExec;
constexpr uint64_t kText = 0xFFFFFFFF80100000ull, kDirect = 0xFFFF800000000000ull;

}  // namespace

TEST(WxAudit, CleanTablesPass) {
  FakeTables f;
  uint64_t root = f.alloc();
  f.map(root, kText, 0x200000 | P);                  // text: read-only, executable
  f.map(root, kText + 0x1000, 0x201000 | P | W | NX);  // data
  f.map(root, kDirect + 0x200000, 0x200000 | P | NX);  // read-only alias of text
  f.map(root, kDirect + 0x201000, 0x201000 | P | W | NX);
  WxRoot roots[] = {{root, 4, 0, W}};
  WxResult r = wx_audit(roots, 1, true, f.reader());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.executable_bytes, 0x1000u);
  EXPECT_EQ(r.writable_bytes, 0x2000u);
  EXPECT_EQ(r.leaves, 4u);
}

TEST(WxAudit, WritableAliasOfExecutablePageIsFoundAndNamed) {
  FakeTables f;
  uint64_t root = f.alloc();
  f.map(root, kText, 0x200000 | P);
  f.map(root, kDirect + 0x200000, 0x200000 | P | W | NX);  // the classic hole
  WxRoot roots[] = {{root, 4, 0, W}};
  WxResult r = wx_audit(roots, 1, true, f.reader());
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.writable.va, kDirect + 0x200000);
  EXPECT_EQ(r.executable.va, kText);
  EXPECT_EQ(r.executable.pa, 0x200000u);
}

TEST(WxAudit, OnePageWritableAndExecutableIsFound) {
  FakeTables f;
  uint64_t root = f.alloc();
  f.map(root, kText, 0x200000 | P | W);
  WxRoot roots[] = {{root, 4, 0, W}};
  EXPECT_FALSE(wx_audit(roots, 1, true, f.reader()).ok);
}

TEST(WxAudit, LargePageAliasOverlappingASmallExecutablePageIsFound) {
  FakeTables f;
  uint64_t root = f.alloc();
  f.map(root, kText, 0x305000 | P);
  // A 2 MiB direct-map page covering 0x200000..0x400000, writable.
  uint64_t pdpt = f.alloc(), pd = f.alloc();
  f.at(root)[256] = pdpt | P | W;
  f.at(pdpt)[0] = pd | P | W;
  f.at(pd)[1] = 0x200000 | P | W | NX | pte::kLarge;
  WxRoot roots[] = {{root, 4, 0, W}};
  WxResult r = wx_audit(roots, 1, true, f.reader());
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.writable.va, kDirect + 0x200000);
  EXPECT_EQ(r.writable.size, 0x200000u);
}

TEST(WxAudit, RightsCombineAcrossLevels) {
  FakeTables f;
  uint64_t root = f.alloc();
  // Writable leaf under a read-only directory: not writable. Executable leaf
  // under an NX directory: not executable.
  f.map(root, kDirect, 0x200000 | P | W | NX, P);
  f.map(root, kText, 0x200000 | P, P | W | NX);
  WxRoot roots[] = {{root, 4, 0, W}};
  WxResult r = wx_audit(roots, 1, true, f.reader());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.writable_bytes, 0u);
  EXPECT_EQ(r.executable_bytes, 0u);
}

TEST(WxAudit, SecondRootAndItsParentFlagsCount) {
  FakeTables f;
  uint64_t root = f.alloc(), window = f.alloc();
  f.map(root, kText, 0x200000 | P);
  // A window PDPT mapping the text frame writable, entered through a parent
  // entry that is read-only: fine; through a writable one: a violation.
  uint64_t pd = f.alloc(), pt = f.alloc();
  f.at(window)[0] = pd | P | W;
  f.at(pd)[0] = pt | P | W;
  f.at(pt)[0] = 0x200000 | P | W | NX;
  WxRoot ro[] = {{root, 4, 0, W}, {window, 3, 0x7F0000000000ull, P | NX}};
  EXPECT_TRUE(wx_audit(ro, 2, true, f.reader()).ok);
  WxRoot rw[] = {{root, 4, 0, W}, {window, 3, 0x7F0000000000ull, P | W | NX}};
  WxResult r = wx_audit(rw, 2, true, f.reader());
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.writable.va, 0x7F0000000000ull);
}

TEST(WxAudit, WithoutNxEveryWritablePageIsAViolation) {
  FakeTables f;
  uint64_t root = f.alloc();
  f.map(root, kDirect, 0x200000 | P | W | NX);
  WxRoot roots[] = {{root, 4, 0, W}};
  EXPECT_TRUE(wx_audit(roots, 1, true, f.reader()).ok);
  EXPECT_FALSE(wx_audit(roots, 1, false, f.reader()).ok);
}
