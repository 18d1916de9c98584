// libFuzzer target for the portable kernel core: the input is a program of
// operations on the frame table, reverse maps, a capability table and the
// slice vector, with arguments taken from the input as an env would pass
// them to system calls (any value). After every operation the tables are
// checked against a simple shadow model; any disagreement aborts.
#include <stdint.h>
#include <stdlib.h>

#include <map>
#include <set>
#include <vector>

#include "kernel/core/cap_table.h"
#include "kernel/core/frame_table.h"
#include "kernel/core/slice_vector.h"
#include "kernel/core/validate.h"

using namespace veneer;
using namespace veneer::core;

namespace {

constexpr uint64_t kFrames = 64;
constexpr uint32_t kEnvs[] = {(1u << kEnvIndexBits) | 1, (1u << kEnvIndexBits) | 2, (2u << kEnvIndexBits) | 3};

#define REQUIRE(c) \
  do {             \
    if (!(c)) abort(); \
  } while (0)

struct Input {
  const uint8_t* d;
  size_t n;
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8 && n; i++, n--) v = (v << 8) | *d++;
    return v;
  }
  uint8_t u8() { return n ? (n--, *d++) : 0; }
};

// Edge values an attacker would try, mixed with small ones.
uint64_t arg(Input& in) {
  static const uint64_t edges[] = {0, 1, kFrames - 1, kFrames, kCapSlots - 1, kCapSlots, kAnyFrame,
                                   ~0ull - 1, 1ull << 32, 1ull << 63};
  uint8_t sel = in.u8();
  if (sel < 10) return edges[sel];
  if (sel < 200) return sel % (kFrames + 4);
  return in.u64();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{data, size};
  std::vector<FrameInfo> info(kFrames);
  std::vector<FrameMeta> meta(kFrames);
  std::vector<RmapRecord> rec(32);
  std::vector<EnvInfo> envs(kMaxEnvs);
  FrameTable ft;
  ft.init(info.data(), meta.data(), kFrames, envs.data());
  for (uint64_t p = 8; p < kFrames; p++) ft.release(p);
  RmapPool rmap;
  rmap.init(rec.data(), rec.size());
  static CapTable caps;
  caps.clear_all();
  SliceVector sv{};
  Slices slices;
  slices.init(&sv);

  std::map<uint64_t, uint32_t> owner;              // shadow: allocated frames
  std::multiset<std::pair<uint64_t, uint64_t>> maps;  // shadow: (pfn, va)
  std::map<uint64_t, Capability> shadow_caps;

  while (in.n) {
    uint8_t op = in.u8() % 8;
    uint32_t env = kEnvs[in.u8() % 3];
    uint64_t a = arg(in), b = arg(in);
    switch (op) {
      case 0: {  // frame_alloc
        uint64_t got = ~0ull;
        Status s = ft.alloc(a, env, FRAME_USER, &got);
        if (a != kAnyFrame && a >= kFrames) REQUIRE(s == ERR_OUT_OF_RANGE);
        if (s == OK) {
          REQUIRE(got < kFrames && got >= 8 && !owner.count(got));
          REQUIRE(a == kAnyFrame || a == got);
          owner[got] = env;
        } else {
          REQUIRE(got == ~0ull);
        }
        break;
      }
      case 1: {  // frame_free: mappings first, as the kernel does
        if (!owner.count(a)) break;
        uint32_t e;
        uint64_t va;
        while (rmap.pop(ft, a, &e, &va)) {
          auto it = maps.find({a, va});
          REQUIRE(it != maps.end());
          maps.erase(it);
        }
        uint64_t guard = ft.info(a).guard;
        ft.free(a);
        REQUIRE(ft.info(a).guard == guard + 1);
        owner.erase(a);
        break;
      }
      case 2: {  // map: rmap add for an allocated frame
        if (!owner.count(a % kFrames)) break;
        Status s = rmap.add(ft, a % kFrames, env, b & ~0xFFFull);
        if (s == OK) maps.insert({a % kFrames, b & ~0xFFFull});
        else REQUIRE(s == ERR_NO_MEMORY && rmap.free_count() == 0);
        break;
      }
      case 3: {  // unmap
        bool had = false;
        for (uint32_t e : kEnvs) {
          if (rmap.remove(ft, a % kFrames, e, b & ~0xFFFull)) {
            had = true;
            break;
          }
        }
        auto it = maps.find({a % kFrames, b & ~0xFFFull});
        REQUIRE(had == (it != maps.end()));
        if (had) maps.erase(it);
        break;
      }
      case 4: {  // capability slot operations with any slot number
        Capability* c = nullptr;
        Status s = caps.lookup(a, CAP_FRAME, static_cast<uint8_t>(b), &c);
        if (a >= kCapSlots) REQUIRE(s == ERR_OUT_OF_RANGE);
        else if (!shadow_caps.count(a)) REQUIRE(s == ERR_BAD_CAP);
        else if ((shadow_caps[a].rights & uint8_t(b)) != uint8_t(b)) REQUIRE(s == ERR_ACCESS_DENIED);
        else REQUIRE(s == OK && c->object == shadow_caps[a].object);
        if (caps.check_free(a) == OK) {
          Capability cap{CAP_FRAME, static_cast<uint8_t>(b & kRightsAll), 0, static_cast<uint32_t>(b), 0};
          caps.put(a, cap);
          shadow_caps[a] = cap;
        }
        break;
      }
      case 5: {  // cap delete
        Status s = caps.remove(a);
        REQUIRE((s == OK) == (shadow_caps.erase(a) == 1));
        break;
      }
      case 6: {  // slices
        Status s = (b & 1) ? slices.alloc(a, env) : slices.free(a, env);
        if (a >= kSlices) REQUIRE(s == ERR_OUT_OF_RANGE);
        uint32_t p = slices.next(static_cast<uint32_t>(b % kSlices), [&](uint32_t id) { return id == env; });
        REQUIRE(p == kNoSlice || slices.owner(p) == env);
        REQUIRE((p == kNoSlice) == (slices.count(env) == 0));
        break;
      }
      case 7: {  // argument validation never accepts a kernel or unaligned address
        Status s = check_map_va(a);
        if (s == OK) REQUIRE(is_user_va(a) && is_page_aligned(a) && a < kKernelTablesVa);
        if (is_user_range(a, b)) REQUIRE(a + b <= kUserTop && a + b >= a);
        break;
      }
    }
    // Invariants: free count, owner lists, mapping counts.
    uint64_t free_frames = 0;
    for (uint64_t p = 0; p < kFrames; p++) free_frames += ft.info(p).owner == kOwnerFree;
    REQUIRE(free_frames == ft.free_count());
    REQUIRE(free_frames == kFrames - 8 - owner.size());
    for (uint32_t e : kEnvs) {
      uint64_t n = 0;
      for (uint32_t p = ft.first_owned(e); p != kNil; p = ft.next_owned(p)) {
        REQUIRE(owner.count(p) && owner[p] == e && ++n <= kFrames);
      }
      uint64_t expect = 0;
      for (auto& [p, o] : owner) expect += o == e;
      REQUIRE(n == expect);
      REQUIRE(envs[env_index(e)].frames == expect);
    }
    for (uint64_t p = 0; p < kFrames; p++) {
      uint64_t n = 0;
      for (auto& m : maps) n += m.first == p;
      REQUIRE(ft.info(p).mappings == n);
    }
  }
  return 0;
}
