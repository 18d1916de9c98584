// libFuzzer target for the packet filters: the input is a program of
// installs (single filters and runs of filters that differ in one value, so
// every switch strategy gets built), removals and frames. After every step:
//  - the compiled code, the tree interpreter and a naive reference (the ABI's
//    meaning of each filter, tests/support/filter_reference.h) return the same
//    filter for every frame;
//  - no frame is accepted by filters of two envs;
//  - an install refused for overlap has a witness frame that both filters
//    accept, by the reference;
//  - ids and counts follow a shadow of the installed set.
// Frames sit at the end of a page followed by an inaccessible page, so the
// compiled code cannot read past a frame unnoticed; the interpreter runs
// under ASan.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <vector>

#include "kernel/net/filter_set.h"
#include "tests/support/filter_reference.h"
#include "tests/support/host_code_memory.h"

using namespace veneer;
using namespace veneer::net;

namespace {

#define REQUIRE(c) \
  do {             \
    if (!(c)) abort(); \
  } while (0)

constexpr uint32_t kOwners[] = {0x101, 0x202, 0x303};

struct Input {
  const uint8_t* d;
  size_t n;
  uint8_t u8() { return n ? (n--, *d++) : 0; }
  uint16_t u16() { return uint16_t(u8() << 8 | u8()); }
  uint32_t u32() { return uint32_t(u16()) << 16 | u16(); }
};

uint32_t width_mask(uint32_t w) { return w == 4 ? 0xFFFFFFFFu : (1u << (8 * w)) - 1; }

// Offsets around real headers, the frame's end, and anything.
uint16_t pick_offset(Input& in, bool shifted) {
  static const uint16_t abs[] = {0, 6, 12, 13, 14, 20, 22, 23, 26, 30, 34, 36, 38, 100, 1500, 1510, 1512};
  static const uint16_t rel[] = {0, 1, 2, 4, 6, 8, 1400};
  uint8_t sel = in.u8();
  if (sel < 200) return shifted ? rel[sel % 7] : abs[sel % 17];
  return uint16_t(in.u16() % 1600);
}

FilterAtom pick_atom(Input& in, bool shifted) {
  FilterAtom a{};
  static const uint8_t widths[] = {1, 2, 4, 2};
  a.width = widths[in.u8() % 4];
  a.offset = pick_offset(in, shifted);
  a.flags = shifted ? FILTER_ATOM_AFTER_SHIFT : 0;
  uint8_t m = in.u8();
  a.mask = m < 170 ? width_mask(a.width) : (in.u32() & width_mask(a.width));
  if (!a.mask) a.mask = 1;
  static const uint32_t values[] = {0, 1, 17, 0x0800, 0x45, 53};
  uint8_t v = in.u8();
  a.value = (v < 128 ? values[v % 6] : in.u32()) & a.mask;
  return a;
}

Filter pick_filter(Input& in) {
  Filter f{};
  uint8_t kind = in.u8();
  if (kind < 8) {  // raw fields: the refusal paths
    f.natoms = in.u8() % (kFilterMaxAtoms + 2);
    f.flags = in.u8() % 3;
    f.shift = FilterShift{in.u16(), in.u8(), uint8_t(in.u8() % 6), uint16_t(in.u16() % 1600), uint16_t(in.u8() < 8)};
    for (uint32_t i = 0; i < kFilterMaxAtoms; i++)
      f.atoms[i] = FilterAtom{uint16_t(in.u16() % 1600), uint8_t(in.u8() % 5), uint8_t(in.u8() % 3), in.u32(),
                              in.u32()};
    return f;
  }
  bool shift = in.u8() < 90;
  if (shift) {
    f.flags = FILTER_HAS_SHIFT;
    if (in.u8() < 180) f.shift = FilterShift{14, 0x0F, 2, 14, 0};  // IPv4 IHL
    else f.shift = FilterShift{uint16_t(in.u8() % 40), uint8_t(in.u8() | 1), uint8_t(in.u8() % 5),
                               uint16_t(in.u8() % 64), 0};
  }
  f.natoms = 1 + in.u8() % 5;
  if (in.u8() < 6) f.natoms = kFilterMaxAtoms;
  for (uint32_t i = 0; i < f.natoms; i++) f.atoms[i] = pick_atom(in, shift && in.u8() < 100);
  return f;
}

struct Stats {
  uint64_t inputs = 0, installed = 0, overlaps = 0, invalid = 0, frames = 0, matched = 0;
  ~Stats() {
    fprintf(stderr,
            "filter_fuzz: %llu inputs, %llu filters installed, %llu refused for overlap (each with a witness), "
            "%llu refused as invalid, %llu frames classified three ways (%llu matched a filter)\n",
            (unsigned long long)inputs, (unsigned long long)installed, (unsigned long long)overlaps,
            (unsigned long long)invalid, (unsigned long long)frames, (unsigned long long)matched);
  }
} stats;

// The shadow of the installed set.
struct Shadow {
  bool live[kMaxFilters] = {};
  uint32_t owner[kMaxFilters] = {};
  Filter filter[kMaxFilters];
  uint32_t count = 0;
  uint32_t atoms = 0;
  uint32_t end = 0;  // one past the highest id ever installed in this input
};

uint8_t* guarded_frame_area() {
  static uint8_t* area = [] {
    auto* p = static_cast<uint8_t*>(mmap(nullptr, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    REQUIRE(p != MAP_FAILED);
    REQUIRE(mprotect(p + 2 * 4096, 4096, PROT_NONE) == 0);
    return p;
  }();
  return area;
}

void check_frame(const FilterSet& set, const Shadow& sh, const std::vector<uint8_t>& bytes) {
  uint32_t len = uint32_t(bytes.size());
  uint8_t* frame = guarded_frame_area() + 2 * 4096 - len;  // ends where the guard page begins
  if (len) memcpy(frame, bytes.data(), len);
  uint32_t expect = kFilterNoMatch, owner = 0;
  for (uint32_t id = 0; id < sh.end; id++) {
    if (!sh.live[id] || !test::reference_match(sh.filter[id], bytes.data(), len)) continue;
    if (expect == kFilterNoMatch) expect = id, owner = sh.owner[id];
    REQUIRE(sh.owner[id] == owner);  // ownership: one env per frame
  }
  REQUIRE(set.interpret(bytes.data(), len) == expect);
  REQUIRE(set.classify(frame, len) == expect);
  stats.frames++;
  stats.matched += expect != kFilterNoMatch;
}

// A frame meant to satisfy filter `id` (random bytes elsewhere), or random.
std::vector<uint8_t> pick_frame(Input& in, const Shadow& sh) {
  uint32_t len = in.u8() < 200 ? 20 + in.u8() % 60 : in.u16() % 1601;
  std::vector<uint8_t> f(len);
  for (uint32_t i = 0; i < len && i < 64; i++) f[i] = in.u8();
  uint32_t target = in.u8() % 32;
  if (target < kMaxFilters && sh.live[target]) {
    const Filter& flt = sh.filter[target];
    uint64_t header = 0;
    if (flt.flags & FILTER_HAS_SHIFT) {
      if (flt.shift.offset < len) {
        uint8_t& b = f[flt.shift.offset];
        b = uint8_t((b & ~flt.shift.mask) | (in.u8() & flt.shift.mask));
        header = flt.shift.base + (uint64_t(b & flt.shift.mask) << flt.shift.shift);
      }
    }
    for (uint32_t i = 0; i < flt.natoms; i++) {
      const FilterAtom& a = flt.atoms[i];
      uint64_t pos = ((a.flags & FILTER_ATOM_AFTER_SHIFT) ? header : 0) + a.offset;
      for (uint32_t b = 0; b < a.width && pos + b < len; b++) {
        uint32_t sh8 = 8 * (a.width - 1 - b);
        uint8_t m = uint8_t(a.mask >> sh8);
        f[pos + b] = uint8_t((f[pos + b] & ~m) | uint8_t(a.value >> sh8));
      }
    }
    if (in.u8() < 40 && len) f[in.u16() % len] ^= uint8_t(1 << (in.u8() % 8));  // a near miss
  }
  return f;
}

// After every step: a frame made to satisfy a random installed filter (the
// rest random), a one-bit mutant of it, and a truncation, from a generator
// seeded by the input (so runs repeat).
struct Rng {
  uint64_t s;
  uint32_t next() {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return uint32_t(s >> 11);
  }
};

void check_synthesized(const FilterSet& set, const Shadow& sh, Rng& rng) {
  if (sh.count == 0) return;
  uint32_t target;
  do target = rng.next() % sh.end;
  while (!sh.live[target]);
  const Filter& flt = sh.filter[target];
  std::vector<uint8_t> f(80 + rng.next() % 64);
  for (uint8_t& b : f) b = uint8_t(rng.next());
  uint64_t header = 0;
  if (flt.flags & FILTER_HAS_SHIFT) {
    if (flt.shift.offset >= f.size()) f.resize(flt.shift.offset + 1);
    uint8_t& b = f[flt.shift.offset];
    header = flt.shift.base + (uint64_t(b & flt.shift.mask) << flt.shift.shift);
  }
  for (uint32_t i = 0; i < flt.natoms; i++) {
    const FilterAtom& a = flt.atoms[i];
    uint64_t pos = ((a.flags & FILTER_ATOM_AFTER_SHIFT) ? header : 0) + a.offset;
    if (pos + a.width > kFilterMaxFrame) return;  // this header length cannot match; another time
    if (pos + a.width > f.size()) f.resize(pos + a.width);
    for (uint32_t b = 0; b < a.width; b++) {
      uint32_t sh8 = 8 * (a.width - 1 - b);
      uint8_t m = uint8_t(a.mask >> sh8);
      f[pos + b] = uint8_t((f[pos + b] & ~m) | uint8_t(a.value >> sh8));
    }
  }
  check_frame(set, sh, f);
  std::vector<uint8_t> mutant = f;
  mutant[rng.next() % mutant.size()] ^= uint8_t(1 << (rng.next() % 8));
  check_frame(set, sh, mutant);
  f.resize(rng.next() % (f.size() + 1));
  check_frame(set, sh, f);
}

void install(FilterSet& set, Shadow& sh, uint32_t owner, const Filter& f) {
  uint32_t id = kFilterNoMatch;
  Status s = set.install(owner, f, &id);
  CanonicalFilter c;
  Status valid = canonicalize(f, &c);
  if (valid != OK) {
    REQUIRE(s == valid);
    stats.invalid++;
    return;
  }
  if (s == OK) {
    stats.installed++;
    REQUIRE(id < kMaxFilters && !sh.live[id]);
    for (uint32_t j = 0; j < id; j++) REQUIRE(sh.live[j]);  // the lowest free id
    sh.live[id] = true;
    if (id >= sh.end) sh.end = id + 1;
    sh.owner[id] = owner;
    sh.filter[id] = f;
    sh.count++;
    sh.atoms += c.natoms;
    return;
  }
  if (s == ERR_NO_RESOURCES) {
    REQUIRE(sh.count == kMaxFilters || sh.atoms + c.natoms > kMaxTreeAtoms);
    return;
  }
  REQUIRE(s == ERR_FILTER_OVERLAP);
  stats.overlaps++;
  bool witnessed = false;
  static OverlapWitness w;
  for (uint32_t j = 0; j < sh.end && !witnessed; j++) {
    if (!sh.live[j] || sh.owner[j] == owner) continue;
    if (filters_overlap(c, set.filter(j), &w)) {
      REQUIRE(test::reference_match(f, w.bytes, w.len));
      REQUIRE(test::reference_match(sh.filter[j], w.bytes, w.len));
      witnessed = true;
    }
  }
  REQUIRE(witnessed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static test::HostCodeMemory host;
  static FilterSet* set = new FilterSet;
  static Shadow* sh = new Shadow;
  for (uint32_t id = 0; id < sh->end; id++) sh->live[id] = false;
  sh->count = sh->atoms = sh->end = 0;
  REQUIRE(set->init(&host.memory));
  stats.inputs++;
  Input in{data, size};
  Rng rng{0x9E3779B97F4A7C15ull ^ size};
  for (size_t i = 0; i < size && i < 16; i++) rng.s = rng.s * 131 + data[i];
  if (!rng.s) rng.s = 1;
  while (in.n) {
    uint8_t op = in.u8() % 10;
    uint32_t owner = kOwners[in.u8() % 3];
    if (op <= 2) {
      install(*set, *sh, owner, pick_filter(in));
    } else if (op == 3) {  // a run of filters differing in one atom's value
      Filter f = pick_filter(in);
      uint32_t n = 2 + in.u8() % 60, stride = 1 + in.u8() % 8;
      uint32_t atoms = f.natoms < kFilterMaxAtoms ? f.natoms : kFilterMaxAtoms;  // raw filters may claim more
      uint32_t which = atoms ? in.u8() % atoms : 0;
      bool spread = in.u8() & 1;
      for (uint32_t i = 0; i < n && f.natoms; i++) {
        FilterAtom& a = f.atoms[which];
        a.value = (a.value + (spread ? stride * 2654435761u : stride)) & a.mask;
        install(*set, *sh, spread ? kOwners[i % 3] : owner, f);
      }
    } else if (op == 4) {
      uint32_t id = in.u8() % 40;
      Status s = set->remove(owner, id);
      if (!sh->live[id]) {
        REQUIRE(s == ERR_NOT_FOUND);
      } else if (sh->owner[id] != owner) {
        REQUIRE(s == ERR_ACCESS_DENIED);
      } else {
        REQUIRE(s == OK);
        CanonicalFilter c;
        canonicalize(sh->filter[id], &c);
        sh->live[id] = false;
        sh->count--;
        sh->atoms -= c.natoms;
      }
    } else if (op == 5 && in.u8() < 30) {
      REQUIRE(set->remove_all(owner) == OK);
      for (uint32_t id = 0; id < sh->end; id++)
        if (sh->live[id] && sh->owner[id] == owner) {
          CanonicalFilter c;
          canonicalize(sh->filter[id], &c);
          sh->live[id] = false;
          sh->count--;
          sh->atoms -= c.natoms;
        }
    } else {
      check_frame(*set, *sh, pick_frame(in, *sh));
    }
    REQUIRE(set->count() == sh->count);
    check_synthesized(*set, *sh, rng);
  }
  set->destroy();
  REQUIRE(host.live == 0);
  return 0;
}
