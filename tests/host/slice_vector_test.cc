#include "kernel/core/slice_vector.h"

#include <gtest/gtest.h>

#include <map>

using namespace veneer;
using namespace veneer::core;

namespace {

struct SlicesTest : ::testing::Test {
  SliceVector table{};
  Slices s;
  void SetUp() override { s.init(&table); }
};

TEST_F(SlicesTest, AllocAndFreeCheckOwnership) {
  EXPECT_EQ(s.alloc(3, 65), OK);
  EXPECT_EQ(s.alloc(3, 66), ERR_BUSY);
  EXPECT_EQ(s.alloc(kSlices, 65), ERR_OUT_OF_RANGE);
  EXPECT_EQ(s.free(3, 66), ERR_ACCESS_DENIED);
  EXPECT_EQ(s.free(kSlices + 7, 65), ERR_OUT_OF_RANGE);
  EXPECT_EQ(table.owner[3], 65u);
  EXPECT_EQ(s.free(3, 65), OK);
  EXPECT_EQ(table.owner[3], kNoOwner);
}

TEST_F(SlicesTest, RoundRobinGivesSharesProportionalToPositions) {
  // 3, 2 and 1 positions, scattered.
  for (uint32_t p : {0, 5, 9}) ASSERT_EQ(s.alloc(p, 65), OK);
  for (uint32_t p : {2, 20}) ASSERT_EQ(s.alloc(p, 66), OK);
  ASSERT_EQ(s.alloc(31, 67), OK);
  std::map<uint32_t, int> runs;
  uint32_t pos = 0;
  for (int i = 0; i < 600; i++) {
    pos = s.next(pos, [](uint32_t) { return true; });
    ASSERT_NE(pos, kNoSlice);
    runs[s.owner(pos)]++;
  }
  EXPECT_EQ(runs[65], 300);
  EXPECT_EQ(runs[66], 200);
  EXPECT_EQ(runs[67], 100);
}

TEST_F(SlicesTest, SkipsOwnersThatCannotRunAndReportsNone) {
  ASSERT_EQ(s.alloc(1, 65), OK);
  ASSERT_EQ(s.alloc(4, 66), OK);
  EXPECT_EQ(s.next(1, [](uint32_t id) { return id == 65; }), 1u);  // itself, last
  EXPECT_EQ(s.next(1, [](uint32_t id) { return id == 66; }), 4u);
  EXPECT_EQ(s.next(0, [](uint32_t) { return false; }), kNoSlice);
}

TEST_F(SlicesTest, FreeAllAndCount) {
  for (uint32_t p : {0, 1, 7}) ASSERT_EQ(s.alloc(p, 65), OK);
  ASSERT_EQ(s.alloc(2, 66), OK);
  EXPECT_EQ(s.count(65), 3u);
  EXPECT_EQ(s.free_all(65), 3u);
  EXPECT_EQ(s.count(65), 0u);
  EXPECT_EQ(s.count(66), 1u);
}

}  // namespace

// next() visits only held positions (a bit set); it must choose exactly what
// a scan of the whole vector chooses, from every position, whatever is held.
TEST_F(SlicesTest, NextMatchesAFullScan) {
  uint64_t rng = 12345;
  auto rand = [&] { return rng = rng * 6364136223846793005ull + 1442695040888963407ull, uint32_t(rng >> 33); };
  for (int round = 0; round < 2000; round++) {
    uint32_t p = rand() % kSlices, id = 65 + rand() % 3;
    if (rand() % 2) s.alloc(p, id); else s.free(p, s.owner(p));
    if (rand() % 50 == 0) s.free_all(id);
    const uint32_t runnable_id = 65 + rand() % 4;  // 68: nobody
    auto runnable = [&](uint32_t o) { return o == runnable_id || runnable_id == 67; };
    for (uint32_t from = 0; from < kSlices; from++) {
      uint32_t want = kNoSlice;
      for (uint32_t k = 1; k <= kSlices && want == kNoSlice; k++) {
        uint32_t q = (from + k) % kSlices;
        if (table.owner[q] != kNoOwner && runnable(table.owner[q])) want = q;
      }
      ASSERT_EQ(s.next(from, runnable), want) << "from " << from;
    }
  }
}
