// Boot-time physical range planning (kernel/mm/ranges.h): the memory maps
// firmware really hands over, split, unsorted, overlapping, above 4 GiB.
#include "kernel/mm/ranges.h"

#include <gtest/gtest.h>

using veneer::mm::RangeList;
using veneer::mm::range_of;

namespace {
constexpr uint64_t kMiB = 1ull << 20, kGiB = 1ull << 30;
}

TEST(Ranges, AddMergesOverlappingAndAdjacentInAnyOrder) {
  RangeList r;
  ASSERT_TRUE(r.add(8 * kMiB, 12 * kMiB));
  ASSERT_TRUE(r.add(0, 1 * kMiB));
  ASSERT_TRUE(r.add(12 * kMiB, 16 * kMiB));  // adjacent
  ASSERT_TRUE(r.add(10 * kMiB, 11 * kMiB));  // inside
  ASSERT_EQ(r.count(), 2);
  EXPECT_EQ(r[0].base, 0u);
  EXPECT_EQ(r[0].end, 1 * kMiB);
  EXPECT_EQ(r[1].base, 8 * kMiB);
  EXPECT_EQ(r[1].end, 16 * kMiB);
  EXPECT_EQ(r.total(), 9 * kMiB);
  ASSERT_TRUE(r.add(0, 20 * kMiB));  // swallows both
  ASSERT_EQ(r.count(), 1);
  EXPECT_EQ(r.total(), 20 * kMiB);
}

TEST(Ranges, RemoveSplitsTrimsAndDeletes) {
  RangeList r;
  r.add(0, 100 * kMiB);
  ASSERT_TRUE(r.remove(15 * kMiB, 17 * kMiB));  // the UEFI-style hole
  ASSERT_EQ(r.count(), 2);
  EXPECT_EQ(r[0].end, 15 * kMiB);
  EXPECT_EQ(r[1].base, 17 * kMiB);
  ASSERT_TRUE(r.remove(0, 1 * kMiB));
  EXPECT_EQ(r[0].base, 1 * kMiB);
  ASSERT_TRUE(r.remove(14 * kMiB, 18 * kMiB));  // spans the hole: trims both sides
  EXPECT_EQ(r[0].end, 14 * kMiB);
  EXPECT_EQ(r[1].base, 18 * kMiB);
  ASSERT_TRUE(r.remove(0, 50 * kMiB));
  ASSERT_EQ(r.count(), 1);
  EXPECT_EQ(r[0].base, 50 * kMiB);
}

TEST(Ranges, TakeIsFirstFitAlignedAndHonoursTheLimit) {
  RangeList r;
  r.add(1 * kMiB, 15 * kMiB);
  r.add(16 * kMiB, 1 * kGiB);
  r.add(4 * kGiB, 17 * kGiB);
  uint64_t at;
  // 24 MiB does not fit below the 15 MiB hole: it goes after it.
  ASSERT_TRUE(r.take(24 * kMiB, 4096, ~0ull, &at));
  EXPECT_EQ(at, 16 * kMiB);
  // A 2 GiB table fits only above 4 GiB, and not below a 4 GiB limit.
  EXPECT_FALSE(r.take(2 * kGiB, 4096, 4 * kGiB, &at));
  ASSERT_TRUE(r.take(2 * kGiB, 4096, ~0ull, &at));
  EXPECT_EQ(at, 4 * kGiB);
  ASSERT_TRUE(r.take(4096, 2 * kMiB, ~0ull, &at));
  EXPECT_EQ(at, 2 * kMiB);
  EXPECT_FALSE(r.contains(at, at + 4096));
  EXPECT_TRUE(r.contains(at + 4096, at + 8192));
  EXPECT_FALSE(r.take(64 * kGiB, 4096, ~0ull, &at));
}

TEST(Ranges, RangeOfSaturatesInsteadOfWrapping) {
  auto r = range_of(3 * kGiB, ~0ull - kGiB);
  EXPECT_EQ(r.base, 3 * kGiB);
  EXPECT_EQ(r.end, ~0ull);
  auto s = range_of(5 * kGiB, 2 * kGiB);  // above 1 GiB: no clamping, no wrap
  EXPECT_EQ(s.end, 7 * kGiB);
}

TEST(Ranges, FullListRefusesInsteadOfOverflowing) {
  RangeList r;
  for (int i = 0; i < RangeList::kCapacity; i++) ASSERT_TRUE(r.add(i * 2 * kMiB, i * 2 * kMiB + kMiB));
  EXPECT_FALSE(r.add(1000 * kGiB, 1001 * kGiB));
  EXPECT_FALSE(r.remove(kMiB / 4, kMiB / 2));  // a split needs one more slot
  EXPECT_EQ(r.count(), RangeList::kCapacity);
  EXPECT_TRUE(r.add(kMiB, 2 * kMiB));  // a merge needs none
  EXPECT_EQ(r.count(), RangeList::kCapacity - 1);
}
