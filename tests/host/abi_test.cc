// Golden checks on the ABI table: numbers are unique and in the right range
// for their path, and docs/abi.md documents every call and status code.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "veneer/abi.h"

namespace {

struct Entry {
  unsigned long num;
  const char* name;
  bool slow;
  int nargs;
};
#define ENTRY(num, name, path, args) {num, #name, std::string(#path) == "SLOW", VENEER_COUNT(args)},
const Entry kCalls[] = {VENEER_SYSCALLS(ENTRY)};
#undef ENTRY

std::string read_doc() {
  std::ifstream f(std::string(VENEER_SOURCE_DIR) + "/docs/abi.md");
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TEST(Abi, NumbersUniqueAndPathsConsistent) {
  std::set<unsigned long> seen;
  for (const Entry& e : kCalls) {
    EXPECT_TRUE(seen.insert(e.num).second) << e.name;
    if (e.slow) EXPECT_GE(e.num, unsigned(VENEER_SLOW_BASE)) << e.name;
    else EXPECT_LT(e.num, unsigned(VENEER_SLOW_BASE)) << e.name;
    EXPECT_LE(e.nargs, 6) << e.name;
  }
}

TEST(Abi, StatusNamesRoundTrip) {
  EXPECT_STREQ(veneer::status_name(veneer::OK), "OK");
  EXPECT_STREQ(veneer::status_name(veneer::ERR_STALE_CAP), "ERR_STALE_CAP");
  EXPECT_STREQ(veneer::status_name(-9999), "ERR_UNKNOWN");
}

TEST(Abi, LayoutIsStable) {
  EXPECT_EQ(sizeof(veneer::ExceptionFrame), 72u);
  EXPECT_EQ(offsetof(veneer::ExceptionFrame, rip), 24u);
  EXPECT_EQ(offsetof(veneer::ExceptionFrame, rsp), 40u);
  EXPECT_EQ(sizeof(veneer::PageOp), 24u);
  EXPECT_EQ(veneer::kKernelTablesVa >> 39, veneer::kKernelTablesPml4Slot);
  EXPECT_EQ(veneer::kPageTableWindowVa >> 39, veneer::kRecursivePml4Slot);
}

TEST(Abi, DocsListEveryCallAndStatus) {
  std::string doc = read_doc();
  ASSERT_FALSE(doc.empty()) << "docs/abi.md missing";
  for (const Entry& e : kCalls) {
    std::string heading = "### " + std::to_string(e.num) + " `" + e.name + "`";
    EXPECT_NE(doc.find(heading), std::string::npos) << "docs/abi.md lacks: " << heading;
  }
#define STATUS(name, value, text) \
  EXPECT_NE(doc.find("`" #name "`"), std::string::npos) << "docs/abi.md lacks status " #name;
  VENEER_STATUS_LIST(STATUS)
#undef STATUS
}
