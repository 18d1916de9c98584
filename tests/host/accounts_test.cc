#include "kernel/core/accounts.h"

#include <gtest/gtest.h>

using namespace veneer;
using namespace veneer::core;

namespace {

constexpr uint32_t kInit = (1 << kEnvIndexBits) | 1;
constexpr uint32_t kChild = (1 << kEnvIndexBits) | 2;
constexpr uint32_t kGrandchild = (1 << kEnvIndexBits) | 3;

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a.init(envs);
    for (uint32_t id : {kInit, kChild, kGrandchild}) envs[env_index(id)].id = id;
    const uint32_t root[kResources] = {100, 10, 8};
    a.open_root(kInit, root);
  }
  const EnvInfo& row(uint32_t id) { return envs[env_index(id)]; }
  EnvInfo envs[kMaxEnvs] = {};
  Accounts a;
};

TEST_F(AccountsTest, ChildrenShareTheirCreatorsAccountByDefault) {
  a.join(kChild, kInit);
  a.join(kGrandchild, kChild);
  EXPECT_EQ(a.account_of(kGrandchild), kInit);
  EXPECT_EQ(row(kInit).used[RES_ENVS], 3u);
  a.charge(kGrandchild, RES_FRAMES, 60);
  EXPECT_TRUE(a.can_charge(kChild, RES_FRAMES, 40));
  EXPECT_FALSE(a.can_charge(kChild, RES_FRAMES, 41));
}

TEST_F(AccountsTest, OwnAccountReservesItsLimitsFromTheCreator) {
  a.join(kChild, kInit);
  a.charge(kChild, RES_FRAMES, 5);  // its image, loaded before it gets a quota
  const uint32_t limits[kResources] = {30, 2, 1};
  const uint32_t held[kResources] = {5, 1, 0};
  ASSERT_EQ(a.set_limits(kChild, kInit, limits, held, false), OK);
  EXPECT_EQ(a.account_of(kChild), kChild);
  EXPECT_EQ(row(kInit).used[RES_FRAMES], 30u);  // the reservation, the 5 moved inside it
  EXPECT_EQ(row(kInit).used[RES_ENVS], 1u + 2u);
  EXPECT_EQ(row(kChild).used[RES_FRAMES], 5u);
  // The child's tree cannot take more than its limits, whatever it does.
  a.join(kGrandchild, kChild);
  EXPECT_EQ(a.account_of(kGrandchild), kChild);
  EXPECT_FALSE(a.can_charge(kGrandchild, RES_ENVS, 1));
  EXPECT_TRUE(a.can_charge(kGrandchild, RES_FRAMES, 25));
  EXPECT_FALSE(a.can_charge(kGrandchild, RES_FRAMES, 26));
  // Its death gives the reservation back.
  a.leave(kGrandchild);
  a.uncharge(kChild, RES_FRAMES, 5);
  a.leave(kChild);
  EXPECT_EQ(row(kInit).used[RES_FRAMES], 0u);
  EXPECT_EQ(row(kInit).used[RES_ENVS], 1u);
}

TEST_F(AccountsTest, RefusalsChangeNothing) {
  a.join(kChild, kInit);
  a.join(kGrandchild, kChild);
  const uint32_t held[kResources] = {0, 1, 0};
  const uint32_t ok_limits[kResources] = {10, 2, 1};
  EnvInfo before = row(kInit);
  // Children share the account it would leave.
  EXPECT_EQ(a.set_limits(kChild, kInit, ok_limits, held, true), ERR_BAD_STATE);
  // More than the creator has.
  const uint32_t too_much[kResources] = {101, 2, 1};
  EXPECT_EQ(a.set_limits(kChild, kInit, too_much, held, false), ERR_QUOTA);
  // Less than it holds.
  const uint32_t too_little[kResources] = {10, 0, 1};
  EXPECT_EQ(a.set_limits(kChild, kInit, too_little, held, false), ERR_INVALID_ARGS);
  EXPECT_EQ(memcmp(&before, &row(kInit), sizeof before), 0);
  EXPECT_EQ(a.account_of(kChild), kInit);
}

TEST_F(AccountsTest, NobodyFundsItselfOutOfAnotherAccount) {
  a.join(kChild, kInit);
  const uint32_t held[kResources] = {0, 1, 0};
  const uint32_t limits[kResources] = {10, 2, 1};
  ASSERT_EQ(a.set_limits(kChild, kInit, limits, held, false), OK);
  // The child, now on its own account, tries to grow it (its creator pays).
  const uint32_t bigger[kResources] = {90, 2, 1};
  EXPECT_EQ(a.set_limits(kChild, kChild, bigger, held, false), ERR_ACCESS_DENIED);
  // Its creator may.
  EXPECT_EQ(a.set_limits(kChild, kInit, bigger, held, false), OK);
  EXPECT_EQ(row(kInit).used[RES_FRAMES], 90u);
  // The root account has no funder: nobody can resize it.
  EXPECT_EQ(a.set_limits(kInit, kInit, bigger, held, false), ERR_ACCESS_DENIED);
}

}  // namespace
