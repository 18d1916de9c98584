#include "kernel/core/validate.h"

#include <gtest/gtest.h>

using namespace veneer;
using namespace veneer::core;

TEST(Validate, UserRangeExcludesNullKernelAndWindows) {
  EXPECT_FALSE(is_user_va(0));
  EXPECT_FALSE(is_user_va(kUserBase - 1));
  EXPECT_TRUE(is_user_va(kUserBase));
  EXPECT_TRUE(is_user_va(kUserTop - 1));
  EXPECT_FALSE(is_user_va(kUserTop));
  EXPECT_FALSE(is_user_va(kKernelTablesVa));
  EXPECT_FALSE(is_user_va(kPageTableWindowVa));
  EXPECT_FALSE(is_user_va(0x0000800000000000ull));  // non-canonical
  EXPECT_FALSE(is_user_va(0xFFFF800000000000ull));  // kernel
  EXPECT_FALSE(is_user_va(~0ull));
}

TEST(Validate, RangesDoNotWrap) {
  EXPECT_TRUE(is_user_range(0x1000, 0x1000));
  EXPECT_TRUE(is_user_range(kUserTop - 8, 8));
  EXPECT_FALSE(is_user_range(kUserTop - 8, 9));
  EXPECT_FALSE(is_user_range(0x1000, ~0ull));
}

TEST(Validate, MapAddressChecksInOrder) {
  EXPECT_EQ(check_map_va(0x400000), OK);
  EXPECT_EQ(check_map_va(0x400008), ERR_UNALIGNED);
  EXPECT_EQ(check_map_va(0xFFFF800000000008ull), ERR_BAD_ADDRESS);
  EXPECT_EQ(check_map_va(0), ERR_BAD_ADDRESS);
}

TEST(Validate, PermsAndRights) {
  EXPECT_TRUE(perms_valid(PERM_READ));
  EXPECT_TRUE(perms_valid(PERM_WRITE | PERM_EXEC));
  EXPECT_FALSE(perms_valid(4));
  EXPECT_TRUE(perms_valid(PERM_WRITE | kPermUserMask));  // the library OS's PTE marks
  EXPECT_FALSE(perms_valid(1ull << 15));
  EXPECT_FALSE(perms_valid(1ull << 7));
  EXPECT_EQ(rights_for_perms(PERM_READ), RIGHT_READ);
  EXPECT_EQ(rights_for_perms(PERM_WRITE), RIGHT_READ | RIGHT_WRITE);
  EXPECT_EQ(rights_for_perms(PERM_WRITE | PERM_EXEC), RIGHT_READ | RIGHT_WRITE | RIGHT_EXEC);
}
