#include "kernel/core/env_ids.h"

#include <gtest/gtest.h>

using namespace veneer;
using namespace veneer::core;

// The review found that generation 2^26-1 in slot 63 made the id
// 0xFFFFFFFF, the frame table's kOwnerKernel: an env with that id would own
// the kernel's frames. Such a generation is never used.
TEST(EnvIds, NoIdEqualsTheKernelsOwnerId) {
  EXPECT_EQ(make_env_id(kMaxGeneration, kMaxEnvs - 1), kOwnerKernel);
  EXPECT_FALSE(generation_usable(kMaxGeneration, kMaxEnvs - 1));
  EXPECT_TRUE(generation_usable(kMaxGeneration - 1, kMaxEnvs - 1));
  EXPECT_TRUE(generation_usable(kMaxGeneration, 1));
}

TEST(EnvIds, GenerationsNeverWrap) {
  EXPECT_FALSE(generation_usable(0, 5));
  EXPECT_FALSE(generation_usable(kMaxGeneration + 1, 5));
  for (uint32_t index = 1; index < kMaxEnvs; index++)
    for (uint32_t g : {1u, 2u, kMaxGeneration - 1})
      if (generation_usable(g, index)) {
        uint32_t id = make_env_id(g, index);
        EXPECT_EQ(env_index(id), index);
        EXPECT_NE(id, kOwnerKernel);
        EXPECT_NE(id, kOwnerFree);
      }
}
