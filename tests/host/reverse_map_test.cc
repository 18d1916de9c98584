#include "kernel/core/reverse_map.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

using namespace veneer;
using namespace veneer::core;

namespace {

constexpr uint32_t kEnvA = (1 << kEnvIndexBits) | 1;
constexpr uint64_t kFrames = 32;

// A leaf page table (frame 10) with its link frames (11, 12) owned by env A,
// and data frames 20.. to map.
class ReverseMapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    phys.assign(kFrames * kPageSize, 0);
    info.resize(kFrames);
    meta.resize(kFrames);
    ft.init(info.data(), meta.data(), kFrames, envs);
    for (uint64_t p = 8; p < kFrames; p++) ft.release(p);
    uint64_t got;
    for (uint64_t p : {kTable, kTable + 1, kTable + 2}) ASSERT_EQ(ft.alloc(p, kEnvA, FRAME_PAGETABLE, &got), OK);
    ft.meta(kTable).links_next = kTable + 1;
    ft.meta(kTable).links_prev = kTable + 2;
    ft.meta(kTable).table_va = 0x40000000;
    rm.init(&ft, phys.data());
  }
  std::vector<Rid> list(uint64_t pfn) {
    std::vector<Rid> out;
    for (Rid r = rm.first(pfn); r != kNoRid; r = rm.next(r)) out.push_back(r);
    return out;
  }
  static constexpr uint64_t kTable = 10;
  std::vector<uint8_t> phys;
  std::vector<FrameInfo> info;
  std::vector<FrameMeta> meta;
  EnvInfo envs[kMaxEnvs] = {};
  FrameTable ft;
  ReverseMap rm;
};

TEST_F(ReverseMapTest, RecordsNameTheirPteEnvAndAddress) {
  Rid r = make_rid(kTable, 7);
  rm.insert(20, r);
  EXPECT_EQ(rm.env(r), kEnvA);
  EXPECT_EQ(rm.va(r), 0x40000000u + 7 * kPageSize);
  EXPECT_EQ(rm.pte(r), reinterpret_cast<uint64_t*>(phys.data() + kTable * kPageSize) + 7);
  EXPECT_EQ(ft.info(20).mappings, 1);
}

TEST_F(ReverseMapTest, InsertAndRemoveAnywhereInTheList) {
  std::set<Rid> want;
  for (uint64_t i = 0; i < 6; i++) {
    rm.insert(21, make_rid(kTable, i));
    want.insert(make_rid(kTable, i));
  }
  EXPECT_EQ(ft.info(21).mappings, 6);
  // Head, middle, tail: each removal is O(1) and leaves the rest linked.
  for (uint64_t i : {5, 2, 0}) {
    rm.remove(21, make_rid(kTable, i));
    want.erase(make_rid(kTable, i));
    std::vector<Rid> got = list(21);
    EXPECT_EQ(std::set<Rid>(got.begin(), got.end()), want);
    for (size_t k = 1; k < got.size(); k++) EXPECT_EQ(rm.prev(got[k]), got[k - 1]);
  }
  EXPECT_EQ(ft.info(21).mappings, 3);
}

TEST_F(ReverseMapTest, FramesHaveSeparateLists) {
  rm.insert(20, make_rid(kTable, 1));
  rm.insert(22, make_rid(kTable, 2));
  rm.insert(20, make_rid(kTable, 3));
  EXPECT_EQ(list(20).size(), 2u);
  EXPECT_EQ(list(22).size(), 1u);
  rm.remove(20, make_rid(kTable, 1));
  rm.remove(20, make_rid(kTable, 3));
  EXPECT_EQ(rm.first(20), kNoRid);
  EXPECT_EQ(ft.info(20).mappings, 0);
  EXPECT_EQ(list(22), std::vector<Rid>{make_rid(kTable, 2)});
}

TEST_F(ReverseMapTest, RidZeroIsNeverARecord) {
  // Frame 0 is the kernel's, never a page table: rid 0 can mean "none".
  EXPECT_EQ(make_rid(kTable, 0) == kNoRid, false);
  EXPECT_EQ(rid_table(make_rid(kTable, 511)), kTable);
  EXPECT_EQ(rid_index(make_rid(kTable, 511)), 511u);
}

}  // namespace
