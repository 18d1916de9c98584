// Packet filters: every refusal, the exact overlap decision, and the merged
// tree compiled and interpreted against the reference on tables of frames.
#include "kernel/net/filter_set.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "exos/filter.h"
#include "tests/support/filter_reference.h"
#include "tests/support/host_code_memory.h"

using namespace veneer;
using namespace veneer::net;
using veneer::test::reference_match;

namespace {

constexpr uint32_t kEnvA = 0x101, kEnvB = 0x202, kEnvC = 0x303;

Filter atoms(std::initializer_list<FilterAtom> list) {
  Filter f{};
  for (const FilterAtom& a : list) f.atoms[f.natoms++] = a;
  return f;
}

Filter udp_dst(uint16_t port) {
  exos::FilterBuilder b;
  b.udp_dst_port(port);
  return b.filter();
}

// An Ethernet + IPv4 + UDP frame; `ihl` in 32-bit words (5: no options).
std::vector<uint8_t> udp_frame(uint16_t dst_port, uint16_t src_port = 9999, uint8_t ihl = 5, size_t payload = 8) {
  size_t ip = 14, udp = ip + 4 * ihl;
  std::vector<uint8_t> f(udp + 8 + payload, 0);
  f[12] = 0x08, f[13] = 0x00;
  f[ip] = uint8_t(0x40 | ihl);
  f[ip + 9] = 17;
  f[ip + 12] = 10, f[ip + 15] = 1;  // 10.0.0.1 -> 10.0.0.2
  f[ip + 16] = 10, f[ip + 19] = 2;
  f[udp] = uint8_t(src_port >> 8), f[udp + 1] = uint8_t(src_port);
  f[udp + 2] = uint8_t(dst_port >> 8), f[udp + 3] = uint8_t(dst_port);
  return f;
}

Status canon(const Filter& f) {
  CanonicalFilter c;
  return canonicalize(f, &c);
}

CanonicalFilter canonical(const Filter& f) {
  CanonicalFilter c;
  EXPECT_EQ(canonicalize(f, &c), OK);
  return c;
}

class FilterSetTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(set->init(&host.memory)); }
  void TearDown() override {
    set->destroy();
    EXPECT_EQ(host.live, 0) << "code memory not released";
  }
  uint32_t install(uint32_t owner, const Filter& f) {
    uint32_t id = kFilterNoMatch;
    EXPECT_EQ(set->install(owner, f, &id), OK);
    installed.resize(std::max<size_t>(installed.size(), id + 1));
    installed[id] = f;
    return id;
  }
  // Compiled, interpreted and reference answers agree; returns the answer.
  uint32_t classify(const std::vector<uint8_t>& frame) { return classify(frame.data(), uint32_t(frame.size())); }
  uint32_t classify(const uint8_t* frame, uint32_t len) {
    uint32_t expect = kFilterNoMatch;
    for (uint32_t id = 0; id < installed.size() && expect == kFilterNoMatch; id++)
      if (set->installed(id) && reference_match(installed[id], frame, len)) expect = id;
    EXPECT_EQ(set->interpret(frame, len), expect);
    EXPECT_EQ(set->classify(frame, len), expect);
    return expect;
  }
  veneer::test::HostCodeMemory host;
  std::unique_ptr<FilterSet> set = std::make_unique<FilterSet>();
  std::vector<Filter> installed;
};

}  // namespace

// ---- refusals ------------------------------------------------------------------

TEST(FilterRefusal, EmptyFilter) { EXPECT_EQ(canon(Filter{}), ERR_FILTER_EMPTY); }

TEST(FilterRefusal, MalformedFields) {
  FilterAtom ok{12, 2, 0, 0xFFFF, 0x0800};
  EXPECT_EQ(canon(atoms({ok})), OK);
  Filter too_many = atoms({ok});
  too_many.natoms = kFilterMaxAtoms + 1;
  EXPECT_EQ(canon(too_many), ERR_FILTER_MALFORMED);
  EXPECT_EQ(canon(atoms({{12, 3, 0, 0xFFFFFF, 1}})), ERR_FILTER_MALFORMED);     // width 3
  EXPECT_EQ(canon(atoms({{12, 0, 0, 0, 0}})), ERR_FILTER_MALFORMED);            // width 0
  EXPECT_EQ(canon(atoms({{12, 2, 0, 0, 0}})), ERR_FILTER_MALFORMED);            // zero mask
  EXPECT_EQ(canon(atoms({{12, 1, 0, 0x1FF, 1}})), ERR_FILTER_MALFORMED);        // mask wider than width
  EXPECT_EQ(canon(atoms({{12, 2, 0, 0x00FF, 0x0100}})), ERR_FILTER_MALFORMED);  // value outside mask
  EXPECT_EQ(canon(atoms({{12, 2, 0x80, 0xFFFF, 1}})), ERR_FILTER_MALFORMED);    // unknown atom flag
  EXPECT_EQ(canon(atoms({{2, 2, FILTER_ATOM_AFTER_SHIFT, 0xFFFF, 1}})), ERR_FILTER_MALFORMED);  // no shift
  Filter f = atoms({ok});
  f.flags = 2;  // unknown filter flag
  EXPECT_EQ(canon(f), ERR_FILTER_MALFORMED);
  f = atoms({ok});
  f.shift = {14, 0x0F, 2, 14, 0};  // shift fields without FILTER_HAS_SHIFT
  EXPECT_EQ(canon(f), ERR_FILTER_MALFORMED);
  auto with_shift = [&](FilterShift s) {
    Filter g = atoms({ok, {2, 2, FILTER_ATOM_AFTER_SHIFT, 0xFFFF, 53}});
    g.flags = FILTER_HAS_SHIFT;
    g.shift = s;
    return canon(g);
  };
  EXPECT_EQ(with_shift({14, 0x0F, 2, 14, 0}), OK);
  EXPECT_EQ(with_shift({14, 0x00, 2, 14, 0}), ERR_FILTER_MALFORMED);               // zero shift mask
  EXPECT_EQ(with_shift({14, 0x1F, 2, 14, 0}), ERR_FILTER_MALFORMED);               // 5 mask bits
  EXPECT_EQ(with_shift({14, 0x0F, 5, 14, 0}), ERR_FILTER_MALFORMED);               // shift over 4
  EXPECT_EQ(with_shift({14, 0x0F, 2, kFilterMaxFrame + 1, 0}), ERR_FILTER_MALFORMED);  // base past the frame
  EXPECT_EQ(with_shift({14, 0x0F, 2, 14, 1}), ERR_FILTER_MALFORMED);               // reserved
}

TEST(FilterRefusal, PastTheLongestFrame) {
  EXPECT_EQ(canon(atoms({{kFilterMaxFrame - 2, 2, 0, 0xFFFF, 1}})), OK);
  EXPECT_EQ(canon(atoms({{kFilterMaxFrame - 1, 2, 0, 0xFFFF, 1}})), ERR_FILTER_PAST_FRAME);
  EXPECT_EQ(canon(atoms({{0xFFFF, 4, 0, 1, 1}})), ERR_FILTER_PAST_FRAME);
  Filter f = atoms({{1500, 2, FILTER_ATOM_AFTER_SHIFT, 0xFFFF, 1}});
  f.flags = FILTER_HAS_SHIFT;
  f.shift = {14, 0x0F, 2, 14, 0};  // 14 + 1500 + 2 > 1514 even with no options
  EXPECT_EQ(canon(f), ERR_FILTER_PAST_FRAME);
  f.atoms[0].offset = 1498;  // fits with IHL 0 only, which the shift allows: accepted
  EXPECT_EQ(canon(f), OK);
  f.shift.offset = kFilterMaxFrame;  // the length byte itself is past the frame
  EXPECT_EQ(canon(f), ERR_FILTER_PAST_FRAME);
}

TEST(FilterRefusal, ContradictoryAtomsNeverMatch) {
  EXPECT_EQ(canon(atoms({{23, 1, 0, 0xFF, 17}, {23, 1, 0, 0xFF, 6}})), ERR_FILTER_NEVER_MATCHES);
  // Different keys over the same byte.
  EXPECT_EQ(canon(atoms({{12, 2, 0, 0xFFFF, 0x0800}, {13, 1, 0, 0x0F, 0x06}})), ERR_FILTER_NEVER_MATCHES);
  EXPECT_EQ(canon(atoms({{12, 2, 0, 0xFFFF, 0x0800}, {13, 1, 0, 0xF0, 0x00}})), OK);
  // Shifted atom that, for every header length the shift allows, lands on
  // bytes already fixed to something else.
  Filter f = atoms({{20, 1, 0, 0xFF, 0xBB}, {21, 1, 0, 0xFF, 0xCC}, {0, 1, FILTER_ATOM_AFTER_SHIFT, 0xFF, 0xAA}});
  f.flags = FILTER_HAS_SHIFT;
  f.shift = {0, 0x01, 0, 20, 0};  // header at 20 or 21
  EXPECT_EQ(canon(f), ERR_FILTER_NEVER_MATCHES);
  f.atoms[1].value = 0xAA;  // header at 21 now works
  EXPECT_EQ(canon(f), OK);
  // The length byte constrained by an atom to a value whose header is too far.
  Filter g = atoms({{0, 1, 0, 0xFF, 0x0F}, {1400, 2, FILTER_ATOM_AFTER_SHIFT, 0xFFFF, 1}});
  g.flags = FILTER_HAS_SHIFT;
  g.shift = {0, 0x0F, 4, 10, 0};  // header at 10 + 240: 1652 > 1514
  EXPECT_EQ(canon(g), ERR_FILTER_NEVER_MATCHES);
}

TEST(FilterCanonical, SortedDeduplicatedAndUnusedShiftDropped) {
  Filter f = atoms({{23, 1, 0, 0xFF, 17}, {12, 2, 0, 0xFFFF, 0x0800}, {23, 1, 0, 0xFF, 17}});
  f.flags = FILTER_HAS_SHIFT;
  f.shift = {14, 0x0F, 2, 14, 0};
  CanonicalFilter c = canonical(f);
  ASSERT_EQ(c.natoms, 2u);
  EXPECT_EQ(c.atoms[0].offset, 12);
  EXPECT_EQ(c.atoms[1].offset, 23);
  EXPECT_FALSE(c.has_shift);
  EXPECT_EQ(c.need_abs, 24);
}

// ---- the overlap decision ----------------------------------------------------------

TEST(FilterOverlap, DecidedExactlyWithWitnesses) {
  struct Case {
    const char* what;
    Filter a, b;
    bool overlap;
  };
  Filter ihl5_port53 = atoms({{12, 2, 0, 0xFFFF, 0x0800}, {14, 1, 0, 0xFF, 0x45}, {23, 1, 0, 0xFF, 17},
                              {36, 2, 0, 0xFFFF, 53}});
  Filter ihl5_port54 = ihl5_port53;
  ihl5_port54.atoms[3].value = 54;
  Filter ihl6_port53_at38 = atoms({{12, 2, 0, 0xFFFF, 0x0800}, {14, 1, 0, 0xFF, 0x46}, {23, 1, 0, 0xFF, 17},
                                   {38, 2, 0, 0xFFFF, 53}});
  Case cases[] = {
      {"same port", udp_dst(53), udp_dst(53), true},
      {"different ports", udp_dst(53), udp_dst(54), false},
      {"port filter vs any UDP", udp_dst(53), atoms({{12, 2, 0, 0xFFFF, 0x0800}, {23, 1, 0, 0xFF, 17}}), true},
      {"UDP vs TCP", udp_dst(53), atoms({{23, 1, 0, 0xFF, 6}}), false},
      {"masks that agree", atoms({{23, 1, 0, 0xFF, 17}}), atoms({{23, 1, 0, 0x0F, 1}}), true},
      {"masks that disagree", atoms({{23, 1, 0, 0xFF, 17}}), atoms({{23, 1, 0, 0xF0, 0x20}}), false},
      {"different widths over the same bytes", atoms({{12, 2, 0, 0xFFFF, 0x86DD}}), atoms({{13, 1, 0, 0xFF, 0xDD}}),
       true},
      {"disjoint bytes always overlap", atoms({{0, 1, 0, 0xFF, 1}}), atoms({{1513, 1, 0, 0xFF, 2}}), true},
      {"shifted port vs fixed IHL 5 port", udp_dst(53), ihl5_port53, true},
      {"shifted port vs IHL 5 other port", udp_dst(53), ihl5_port54, false},
      {"shifted port vs IHL 6 fixed offset", udp_dst(53), ihl6_port53_at38, true},
  };
  for (const Case& c : cases) {
    CanonicalFilter a = canonical(c.a), b = canonical(c.b);
    OverlapWitness w;
    EXPECT_EQ(filters_overlap(a, b, &w), c.overlap) << c.what;
    EXPECT_EQ(filters_overlap(b, a), c.overlap) << c.what << " (swapped)";
    if (c.overlap) {
      EXPECT_TRUE(reference_match(c.a, w.bytes, w.len)) << c.what;
      EXPECT_TRUE(reference_match(c.b, w.bytes, w.len)) << c.what;
    }
  }
}

// Over a domain small enough to enumerate every frame (6 bytes, masks on
// the low two bits, a one-bit header-length shift: nothing reaches past byte
// 5), the decision matches brute force on random pairs. A frame that both
// accept can be extended with any bytes, so 6-byte frames are enough.
TEST(FilterOverlap, AgreesWithBruteForceOnASmallDomain) {
  std::mt19937 rng(11);
  auto random_filter = [&](Filter* f) {
    for (;;) {
      *f = Filter{};
      bool shift = rng() % 2;
      if (shift) {
        f->flags = FILTER_HAS_SHIFT;
        f->shift = {uint16_t(rng() % 3), 1, uint8_t(rng() % 2), uint16_t(rng() % 2), 0};  // start 0..3
      }
      f->natoms = 1 + rng() % 3;
      for (uint32_t i = 0; i < f->natoms; i++) {
        FilterAtom& a = f->atoms[i];
        a.flags = (shift && rng() % 2) ? FILTER_ATOM_AFTER_SHIFT : 0;
        a.width = rng() % 3 ? 1 : 2;
        a.offset = uint16_t(a.flags ? rng() % (3 - a.width) : rng() % (5 - a.width));
        a.mask = a.width == 1 ? 1 + rng() % 3 : 0x0303 & (1 + rng() % 0x0303);
        if (!a.mask) a.mask = 1;
        a.value = rng() & a.mask;
      }
      CanonicalFilter c;
      if (canonicalize(*f, &c) == OK) return c;
    }
  };
  int overlaps = 0;
  for (int trial = 0; trial < 1500; trial++) {
    Filter fa, fb;
    CanonicalFilter a = random_filter(&fa), b = random_filter(&fb);
    bool brute = false;
    for (uint32_t bits = 0; bits < 4096 && !brute; bits++) {
      uint8_t frame[6];
      for (int i = 0; i < 6; i++) frame[i] = uint8_t(bits >> (2 * i) & 3);
      brute = reference_match(fa, frame, 6) && reference_match(fb, frame, 6);
    }
    OverlapWitness w;
    ASSERT_EQ(filters_overlap(a, b, &w), brute) << "trial " << trial;
    ASSERT_EQ(filters_overlap(b, a), brute) << "trial " << trial;
    if (brute) {
      overlaps++;
      EXPECT_TRUE(reference_match(fa, w.bytes, w.len) && reference_match(fb, w.bytes, w.len));
    }
  }
  EXPECT_GT(overlaps, 150);  // both answers well represented
  EXPECT_LT(overlaps, 1350);
}

// ---- the filter set: ownership, merging, compiled code -----------------------------

TEST_F(FilterSetTest, OwnershipRulesAtInstall) {
  uint32_t id;
  Filter any_udp = atoms({{12, 2, 0, 0xFFFF, 0x0800}, {23, 1, 0, 0xFF, 17}});
  Filter any_ipv4 = atoms({{12, 2, 0, 0xFFFF, 0x0800}});
  exos::FilterBuilder tcp54;
  tcp54.tcp_dst_port(54);
  EXPECT_EQ(install(kEnvA, udp_dst(53)), 0u);
  EXPECT_EQ(set->install(kEnvB, udp_dst(53), &id), ERR_FILTER_OVERLAP);
  EXPECT_EQ(set->install(kEnvB, any_udp, &id), ERR_FILTER_OVERLAP) << "would take port 53 from A";
  EXPECT_EQ(install(kEnvB, tcp54.filter()), 1u);
  // The same env may overlap itself: the lower id wins.
  EXPECT_EQ(install(kEnvA, any_udp), 2u);
  EXPECT_EQ(set->install(kEnvA, any_ipv4, &id), ERR_FILTER_OVERLAP) << "would take TCP port 54 from B";
  std::vector<uint8_t> tcp = udp_frame(54);
  tcp[23] = 6;
  EXPECT_EQ(classify(udp_frame(53)), 0u);
  EXPECT_EQ(classify(udp_frame(55)), 2u);
  EXPECT_EQ(classify(tcp), 1u);
  tcp[37] = 55;
  EXPECT_EQ(classify(tcp), kFilterNoMatch);
  EXPECT_EQ(set->install(kEnvB, Filter{}, &id), ERR_FILTER_EMPTY);
  EXPECT_EQ(set->count(), 3u);
}

TEST_F(FilterSetTest, RemoveChecksOwnerAndFreesTheFrames) {
  uint32_t a = install(kEnvA, udp_dst(53));
  EXPECT_EQ(set->remove(kEnvB, a), ERR_ACCESS_DENIED);
  EXPECT_EQ(set->remove(kEnvA, 77), ERR_NOT_FOUND);
  EXPECT_EQ(set->remove(kEnvA, kMaxFilters + 5), ERR_NOT_FOUND);
  EXPECT_EQ(classify(udp_frame(53)), a);
  EXPECT_EQ(set->remove(kEnvA, a), OK);
  EXPECT_EQ(set->remove(kEnvA, a), ERR_NOT_FOUND);
  EXPECT_EQ(classify(udp_frame(53)), kFilterNoMatch);
  uint32_t b = install(kEnvB, udp_dst(53));  // the port is free for B now
  EXPECT_EQ(classify(udp_frame(53)), b);
  install(kEnvB, udp_dst(80));
  install(kEnvC, udp_dst(81));
  EXPECT_EQ(set->remove_all(kEnvB), OK);
  EXPECT_EQ(set->count(), 1u);
  EXPECT_EQ(classify(udp_frame(53)), kFilterNoMatch);
  EXPECT_EQ(classify(udp_frame(81)), 2u);
}

TEST_F(FilterSetTest, MatchesThroughIpOptionsAndRefusesShortFrames) {
  uint32_t id = install(kEnvA, udp_dst(7));
  for (uint8_t ihl = 5; ihl <= 15; ihl++) EXPECT_EQ(classify(udp_frame(7, 1, ihl)), id) << int(ihl);
  std::vector<uint8_t> lying = udp_frame(7, 1, 6);
  lying[14] = 0x45;  // IHL says 5: the port is read from the options, which are zero
  EXPECT_EQ(classify(lying), kFilterNoMatch);
  // Every truncation short of the port's last byte fails, with no read past the end.
  std::vector<uint8_t> frame = udp_frame(7, 1, 6, 0);
  uint32_t needed = 14 + 24 + 4;
  for (uint32_t len = 0; len <= frame.size(); len++) {
    std::vector<uint8_t> exact(frame.begin(), frame.begin() + len);  // ASan catches a read past len
    EXPECT_EQ(classify(exact.data(), len), len >= needed ? id : kFilterNoMatch) << len;
  }
}

TEST_F(FilterSetTest, BytesPastTheLongestFrameAreInvisible) {
  // Offset 1500 after a 60-byte IPv4 header lies past 1514: only headers of
  // at most 56 bytes let this filter match.
  Filter f = atoms({{1500, 1, FILTER_ATOM_AFTER_SHIFT, 0xFF, 0x5A}});
  f.flags = FILTER_HAS_SHIFT;
  f.shift = {0, 0x0F, 2, 0, 0};
  uint32_t id = install(kEnvA, f);
  std::vector<uint8_t> frame(1600, 0);
  frame[0] = 15;  // header at 60: the byte sits at 1560
  frame[1560] = 0x5A;
  EXPECT_EQ(classify(frame), kFilterNoMatch);
  frame[0] = 3;
  frame[1512] = 0x5A;
  EXPECT_EQ(classify(frame), id);
}

// Every switch strategy, each with leaf results and with children that test
// more: all installed values hit, the values around them miss.
TEST_F(FilterSetTest, EverySwitchStrategyAgreesWithTheReference) {
  struct Shape {
    const char* what;
    std::vector<uint16_t> ports;
    FilterCompiler::Strategy strategy;
  };
  std::vector<uint16_t> dense, sparse8, sparse300;
  for (uint16_t p = 2000; p < 2040; p++) dense.push_back(p);
  for (uint16_t i = 0; i < 8; i++) sparse8.push_back(uint16_t(100 + i * 977));
  for (uint16_t i = 0; i < 300; i++) sparse300.push_back(uint16_t(1 + i * 211));
  Shape shapes[] = {{"linear", {5, 9, 300}, FilterCompiler::kLinear},
                    {"dense", dense, FilterCompiler::kDenseTable},
                    {"binary search", sparse8, FilterCompiler::kBinarySearch},
                    {"hash", sparse300, FilterCompiler::kHash}};
  for (bool deeper : {false, true}) {
    for (const Shape& shape : shapes) {
      SCOPED_TRACE(std::string(shape.what) + (deeper ? ", children test the source port" : ", leaf results"));
      set->destroy();
      ASSERT_TRUE(set->init(&host.memory));
      installed.clear();
      std::vector<uint32_t> ids;
      for (size_t i = 0; i < shape.ports.size(); i++) {
        exos::FilterBuilder b;
        b.udp_dst_port(shape.ports[i]);
        if (deeper) b.after(6, 2, uint16_t(i % 3));  // the UDP checksum field, tested below the port
        ids.push_back(install(kEnvA + uint32_t(i), b.filter()));
      }
      // The switch on the destination port used the intended strategy.
      bool seen = false;
      for (uint32_t g = 0; g < set->tree().group_count(); g++)
        if (set->tree().group(g).nedges == shape.ports.size()) {
          EXPECT_EQ(set->compiler().strategy(g), shape.strategy);
          seen = true;
        }
      EXPECT_TRUE(seen);
      auto frame = [&](uint16_t port, uint16_t checksum) {
        std::vector<uint8_t> f = udp_frame(port);
        f[40] = uint8_t(checksum >> 8), f[41] = uint8_t(checksum);
        return f;
      };
      for (size_t i = 0; i < shape.ports.size(); i++) {
        uint16_t p = shape.ports[i];
        uint16_t sum = deeper ? uint16_t(i % 3) : 0;
        EXPECT_EQ(classify(frame(p, sum)), ids[i]) << p;
        EXPECT_EQ(classify(frame(p, uint16_t(sum + 1))), deeper ? kFilterNoMatch : ids[i]) << p;
        classify(frame(uint16_t(p + 1), sum));
        classify(frame(uint16_t(p - 1), sum));
      }
      classify(udp_frame(0));
      classify(udp_frame(65535));
    }
  }
}

// Groups under one node are tried in order of their lowest id. Overlapping
// filters of one env: a match deep in the first group is beaten by a later
// group (the best match so far kept in a register and compared at run time).
TEST_F(FilterSetTest, LowestIdWinsAcrossGroups) {
  uint32_t by_port = install(kEnvA, udp_dst(53));                                                       // 0
  uint32_t by_src_ip = install(kEnvA, atoms({{12, 2, 0, 0xFFFF, 0x0800}, {26, 4, 0, 0xFFFFFFFF, 0x0A000001}}));  // 1
  uint32_t by_proto = install(kEnvA, atoms({{12, 2, 0, 0xFFFF, 0x0800}, {23, 1, 0, 0xFF, 17}}));       // 2
  uint32_t by_ttl = install(kEnvA, atoms({{12, 2, 0, 0xFFFF, 0x0800}, {22, 1, 0, 0xFF, 64}}));        // 3
  uint32_t unfragmented = install(kEnvA, atoms({{12, 2, 0, 0xFFFF, 0x0800}, {20, 2, 0, 0x1FFF, 0}}));  // 4
  std::vector<uint8_t> f = udp_frame(53);
  EXPECT_EQ(classify(f), by_port);
  f = udp_frame(54);
  EXPECT_EQ(classify(f), by_src_ip) << "4 matched first, 1 beats it";
  f[26] = 11;
  EXPECT_EQ(classify(f), by_proto);
  f[23] = 6;
  f[22] = 64;
  EXPECT_EQ(classify(f), by_ttl);
  f[22] = 63;
  EXPECT_EQ(classify(f), unfragmented);
  f[21] = 1;  // a later fragment
  EXPECT_EQ(classify(f), kFilterNoMatch);
  EXPECT_EQ(set->remove(kEnvA, by_port), OK);
  EXPECT_EQ(classify(udp_frame(53)), by_src_ip);
}

TEST_F(FilterSetTest, CodeIsSealedAndReleased) {
  for (uint16_t p = 1; p <= 40; p++) install(kEnvA + p, udp_dst(p));
  ASSERT_NE(set->entry(), nullptr);
  EXPECT_TRUE(veneer::test::is_sealed(reinterpret_cast<const void*>(set->entry()), set->code_size()));
  EXPECT_EQ(host.live, 1) << "each recompile releases the previous code";
}

TEST_F(FilterSetTest, OutOfCodeMemoryChangesNothing) {
  uint32_t a = install(kEnvA, udp_dst(53));
  host.fail_after = 0;
  uint32_t id = 12345;
  EXPECT_EQ(set->install(kEnvB, udp_dst(54), &id), ERR_NO_MEMORY);
  EXPECT_EQ(id, 12345u);
  EXPECT_EQ(set->remove(kEnvA, a), ERR_NO_MEMORY);
  EXPECT_EQ(set->remove_all(kEnvA), ERR_NO_MEMORY);
  host.fail_after = -1;
  EXPECT_EQ(set->count(), 1u);
  EXPECT_EQ(classify(udp_frame(53)), a);
  EXPECT_EQ(classify(udp_frame(54)), kFilterNoMatch);
}

TEST_F(FilterSetTest, LimitsOnFiltersAndAtoms) {
  uint32_t id;
  for (uint32_t i = 0; i < kMaxFilters; i++) ASSERT_EQ(install(kEnvA + i, atoms({{0, 2, 0, 0xFFFF, i}})), i);
  EXPECT_EQ(set->install(kEnvA, atoms({{0, 2, 0, 0xFFFF, 0xFFFF}}), &id), ERR_NO_RESOURCES);
  for (uint32_t i = 0; i < 300; i++) classify(std::vector<uint8_t>{uint8_t(i * 7 >> 8), uint8_t(i * 7)});
  ASSERT_EQ(set->remove_all(kEnvA + 5), OK);
  EXPECT_EQ(install(kEnvA, atoms({{0, 2, 0, 0xFFFF, 0xFFFF}})), 5u) << "lowest free id";
  classify(std::vector<uint8_t>{0xFF, 0xFF});
  classify(std::vector<uint8_t>{0, 5});

  // Atoms: 512 filters of 16 atoms fill the pool.
  set->destroy();
  ASSERT_TRUE(set->init(&host.memory));
  Filter big{};
  big.natoms = kFilterMaxAtoms;
  for (uint32_t i = 0; i < kFilterMaxAtoms; i++) big.atoms[i] = {uint16_t(2 + i), 1, 0, 0xFF, 0};
  for (uint32_t i = 0; i < kMaxTreeAtoms / kFilterMaxAtoms; i++) {
    big.atoms[0] = {0, 2, 0, 0xFFFF, i};
    ASSERT_EQ(set->install(kEnvA + i, big, &id), OK) << i;
  }
  big.atoms[0].value = 0xFFFF;
  EXPECT_EQ(set->install(kEnvA, big, &id), ERR_NO_RESOURCES);
}

TEST(FilterBuilder, BuildsProtocolFiltersAndStopsAtTheLimit) {
  exos::FilterBuilder b;
  b.udp_dst_port(53).udp_src_port(1024).ipv4_dst(0x0A000002);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.filter().natoms, 6u);  // ethertype, protocol, fragment, two ports, address; no duplicates
  EXPECT_EQ(canon(b.filter()), OK);
  std::vector<uint8_t> f = udp_frame(53, 1024);
  EXPECT_TRUE(reference_match(b.filter(), f.data(), uint32_t(f.size())));
  f[14 + 19] = 3;
  EXPECT_FALSE(reference_match(b.filter(), f.data(), uint32_t(f.size())));
  exos::FilterBuilder full;
  for (uint16_t i = 0; i < kFilterMaxAtoms; i++) full.bytes(i, 1, 0);
  EXPECT_TRUE(full.ok());
  full.bytes(100, 1, 0);
  EXPECT_FALSE(full.ok());
  exos::FilterBuilder two_shifts;
  two_shifts.udp_dst_port(1).header_length(0, 1, 0, 0);
  EXPECT_FALSE(two_shifts.ok());
}
