#include "kernel/core/frame_table.h"

#include <gtest/gtest.h>

#include <vector>

using namespace veneer;
using namespace veneer::core;

namespace {

constexpr uint32_t kEnvA = (1 << kEnvIndexBits) | 1;
constexpr uint32_t kEnvB = (1 << kEnvIndexBits) | 2;

class FrameTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    info.resize(64);
    meta.resize(64);
    ft.init(info.data(), meta.data(), 64, envs);
    for (uint64_t p = 16; p < 64; p++) ft.release(p);  // 0..15 stay kernel
  }
  std::vector<FrameInfo> info;
  std::vector<FrameMeta> meta;
  EnvInfo envs[kMaxEnvs] = {};
  FrameTable ft;
};

TEST_F(FrameTableTest, BootStateMarksKernelAndFree) {
  EXPECT_EQ(ft.free_count(), 48u);
  EXPECT_EQ(ft.info(0).owner, kOwnerKernel);
  EXPECT_EQ(ft.info(0).kind, FRAME_KERNEL);
  EXPECT_EQ(ft.info(20).owner, kOwnerFree);
}

TEST_F(FrameTableTest, AllocAnyAndSpecific) {
  uint64_t got;
  ASSERT_EQ(ft.alloc(kAnyFrame, kEnvA, FRAME_USER, &got), OK);
  EXPECT_GE(got, 16u);
  EXPECT_EQ(ft.info(got).owner, kEnvA);
  ASSERT_EQ(ft.alloc(40, kEnvB, FRAME_USER, &got), OK);
  EXPECT_EQ(got, 40u);
  EXPECT_EQ(ft.free_count(), 46u);
}

TEST_F(FrameTableTest, RejectsBusyKernelAndOutOfRangeWithoutChange) {
  uint64_t got = 12345;
  ASSERT_EQ(ft.alloc(40, kEnvA, FRAME_USER, &got), OK);
  uint64_t free_before = ft.free_count();
  EXPECT_EQ(ft.alloc(40, kEnvB, FRAME_USER, &got), ERR_BUSY);
  EXPECT_EQ(ft.alloc(3, kEnvB, FRAME_USER, &got), ERR_BUSY);
  EXPECT_EQ(ft.alloc(64, kEnvB, FRAME_USER, &got), ERR_OUT_OF_RANGE);
  EXPECT_EQ(ft.alloc(~0ull - 1, kEnvB, FRAME_USER, &got), ERR_OUT_OF_RANGE);
  EXPECT_EQ(ft.free_count(), free_before);
  EXPECT_EQ(ft.info(40).owner, kEnvA);
}

TEST_F(FrameTableTest, ExhaustionReportsNoMemory) {
  uint64_t got;
  for (int i = 0; i < 48; i++) ASSERT_EQ(ft.alloc(kAnyFrame, kEnvA, FRAME_USER, &got), OK);
  EXPECT_EQ(ft.alloc(kAnyFrame, kEnvA, FRAME_USER, &got), ERR_NO_MEMORY);
}

TEST_F(FrameTableTest, FreeBumpsGuardAndReturnsFrame) {
  uint64_t got;
  ASSERT_EQ(ft.alloc(30, kEnvA, FRAME_USER, &got), OK);
  uint64_t guard = ft.info(30).guard;
  ft.free(30);
  EXPECT_EQ(ft.info(30).owner, kOwnerFree);
  EXPECT_EQ(ft.info(30).guard, guard + 1);
  // Freeing a free or kernel frame is a no-op.
  ft.free(30);
  ft.free(2);
  EXPECT_EQ(ft.info(30).guard, guard + 1);
  EXPECT_EQ(ft.info(2).owner, kOwnerKernel);
  EXPECT_EQ(ft.free_count(), 48u);
}

TEST_F(FrameTableTest, OwnerListsEnumerateExactlyTheOwnedFrames) {
  uint64_t got;
  for (uint64_t p : {20, 25, 33}) ASSERT_EQ(ft.alloc(p, kEnvA, FRAME_USER, &got), OK);
  ASSERT_EQ(ft.alloc(21, kEnvB, FRAME_USER, &got), OK);
  std::vector<uint32_t> owned;
  for (uint32_t p = ft.first_owned(kEnvA); p != kNil; p = ft.next_owned(p)) owned.push_back(p);
  EXPECT_EQ(owned.size(), 3u);
  // Draining the list the way env_destroy does frees them all.
  EXPECT_EQ(envs[env_index(kEnvA)].frames, 3u);  // the count library OSes read
  EXPECT_EQ(envs[env_index(kEnvB)].frames, 1u);
  for (uint32_t p; (p = ft.first_owned(kEnvA)) != kNil;) ft.free(p);
  EXPECT_EQ(envs[env_index(kEnvA)].frames, 0u);
  EXPECT_EQ(ft.info(21).owner, kEnvB);
  EXPECT_EQ(ft.free_count(), 47u);
}

TEST_F(FrameTableTest, AssignMovesKernelFrameToEnv) {
  ft.assign(5, kEnvA, FRAME_MODULE);
  EXPECT_EQ(ft.info(5).owner, kEnvA);
  EXPECT_EQ(envs[env_index(kEnvA)].frames, 1u);
  EXPECT_EQ(ft.first_owned(kEnvA), 5u);
}

TEST_F(FrameTableTest, FramesAreChargedToTheOwnersAccount) {
  Accounts accounts;
  accounts.init(envs);
  const uint32_t limits[kResources] = {3, 4, 4};
  accounts.open_root(kEnvA, limits);
  ft.init(info.data(), meta.data(), 64, envs, &accounts);
  for (uint64_t p = 16; p < 64; p++) ft.release(p);
  uint64_t got[3];
  for (auto& g : got) ASSERT_EQ(ft.alloc(kAnyFrame, kEnvA, FRAME_USER, &g), OK);
  EXPECT_EQ(envs[env_index(kEnvA)].used[RES_FRAMES], 3u);
  uint64_t free_before = ft.free_count(), more = 999;
  EXPECT_EQ(ft.alloc(kAnyFrame, kEnvA, FRAME_USER, &more), ERR_QUOTA);
  EXPECT_EQ(more, 999u);
  EXPECT_EQ(ft.free_count(), free_before);
  ft.free(got[1]);
  EXPECT_EQ(envs[env_index(kEnvA)].used[RES_FRAMES], 2u);
  EXPECT_EQ(ft.alloc(kAnyFrame, kEnvA, FRAME_USER, &more), OK);
}

}  // namespace
