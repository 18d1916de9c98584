#include "common/format.h"

#include <gtest/gtest.h>

#include <string>

namespace {
std::string fmt(const char* f, ...) {
  char buf[128];
  va_list ap;
  va_start(ap, f);
  veneer::fmt::vsnformat(buf, sizeof(buf), f, ap);
  va_end(ap);
  return buf;
}
}  // namespace

TEST(Format, IntegersStringsAndPadding) {
  EXPECT_EQ(fmt("%d %u %x %X", -42, 42u, 0xbeefu, 0xbeefu), "-42 42 beef BEEF");
  EXPECT_EQ(fmt("%lx %lu %ld", 0xFFFF800000000000ul, 18446744073709551615ul, -9000000000l),
            "ffff800000000000 18446744073709551615 -9000000000");
  EXPECT_EQ(fmt("[%5d][%-5d][%05d][%05d]", 42, 42, 42, -42), "[   42][42   ][00042][-0042]");
  EXPECT_EQ(fmt("%s %c %%", "veneer", 'x'), "veneer x %");
  EXPECT_EQ(fmt("%s", static_cast<const char*>(nullptr)), "(null)");
  EXPECT_EQ(fmt("%p", reinterpret_cast<void*>(0x1000)), "0x1000");
}

TEST(Format, TruncatesSafely) {
  char buf[6];
  va_list ap{};
  (void)ap;
  EXPECT_EQ(fmt("%s", "0123456789"), "0123456789");
  size_t n = [&](const char* f, ...) {
    va_list a;
    va_start(a, f);
    size_t r = veneer::fmt::vsnformat(buf, sizeof(buf), f, a);
    va_end(a);
    return r;
  }("%s", "0123456789");
  EXPECT_EQ(n, 5u);
  EXPECT_STREQ(buf, "01234");
}
