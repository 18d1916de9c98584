#include "kernel/core/cap_table.h"

#include <gtest/gtest.h>

#include <memory>

using namespace veneer;
using namespace veneer::core;

namespace {

struct CapTableTest : ::testing::Test {
  std::unique_ptr<CapTable> t = std::make_unique<CapTable>();
  void SetUp() override { t->clear_all(); }
};

TEST_F(CapTableTest, EmptyAndOutOfRangeSlots) {
  Capability* c = nullptr;
  EXPECT_EQ(t->lookup(5, CAP_FRAME, 0, &c), ERR_BAD_CAP);
  EXPECT_EQ(t->lookup(kCapSlots, CAP_FRAME, 0, &c), ERR_OUT_OF_RANGE);
  EXPECT_EQ(t->lookup(~0ull, CAP_FRAME, 0, &c), ERR_OUT_OF_RANGE);
  EXPECT_EQ(c, nullptr);
}

TEST_F(CapTableTest, TypeAndRightsAreChecked) {
  t->put(7, Capability{CAP_FRAME, RIGHT_READ, 0, 99, 3});
  Capability* c = nullptr;
  EXPECT_EQ(t->lookup(7, CAP_ENV, 0, &c), ERR_BAD_CAP);
  EXPECT_EQ(t->lookup(7, CAP_FRAME, RIGHT_READ | RIGHT_WRITE, &c), ERR_ACCESS_DENIED);
  ASSERT_EQ(t->lookup(7, CAP_FRAME, RIGHT_READ, &c), OK);
  EXPECT_EQ(c->object, 99u);
  EXPECT_EQ(c->guard, 3u);
}

TEST_F(CapTableTest, CheckFreePutRemove) {
  EXPECT_EQ(t->check_free(9), OK);
  t->put(9, Capability{CAP_ENV, kRightsAll, 0, 65, 0});
  EXPECT_EQ(t->check_free(9), ERR_BUSY);
  EXPECT_EQ(t->check_free(kCapSlots), ERR_OUT_OF_RANGE);
  EXPECT_EQ(t->remove(9), OK);
  EXPECT_EQ(t->remove(9), ERR_BAD_CAP);
  EXPECT_EQ(t->remove(kCapSlots + 1), ERR_OUT_OF_RANGE);
  EXPECT_EQ(t->check_free(9), OK);
}

}  // namespace
