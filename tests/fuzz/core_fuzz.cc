// libFuzzer target for the portable kernel core: the input is a program of
// operations on the frame table, accounts, reverse maps, a capability table
// and the slice vector, with arguments taken from the input as an env would
// pass them to system calls (any value). After every operation the tables
// are checked against a simple shadow model; any disagreement aborts.
#include <stdint.h>
#include <stdlib.h>

#include <map>
#include <set>
#include <vector>

#include "kernel/core/accounts.h"
#include "kernel/core/cap_table.h"
#include "kernel/core/frame_table.h"
#include "kernel/core/reverse_map.h"
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
  std::vector<EnvInfo> envs(kMaxEnvs);
  std::vector<uint8_t> phys(kFrames * kPageSize);
  // Accounts: env 0 holds the root account; env 1 an account of its own
  // funded by it; env 2 shares env 0's.
  Accounts accounts;
  accounts.init(envs.data());
  const uint32_t root[kResources] = {40, 8, 8}, child[kResources] = {10, 2, 2}, none[kResources] = {0, 1, 0};
  accounts.open_root(kEnvs[0], root);
  accounts.join(kEnvs[1], kEnvs[0]);
  accounts.join(kEnvs[2], kEnvs[0]);
  REQUIRE(accounts.set_limits(kEnvs[1], kEnvs[0], child, none, false) == OK);
  FrameTable ft;
  ft.init(info.data(), meta.data(), kFrames, envs.data(), &accounts);
  for (uint64_t p = 8; p < kFrames; p++) ft.release(p);
  // A leaf page table in kernel frame 1 (links in 2 and 3) whose 512 entries
  // are the reverse-map records the operations below use.
  meta[1].links_next = 2;
  meta[1].links_prev = 3;
  ReverseMap rmap;
  rmap.init(&ft, phys.data());
  static CapTable caps;
  caps.clear_all();
  SliceVector sv{};
  Slices slices;
  slices.init(&sv);

  std::map<uint64_t, uint32_t> owner;              // shadow: allocated frames
  std::map<uint64_t, uint64_t> maps;               // shadow: entry index -> pfn it maps
  std::map<uint64_t, Capability> shadow_caps;

  while (in.n) {
    uint8_t op = in.u8() % 8;
    uint32_t env = kEnvs[in.u8() % 3];
    uint64_t a = arg(in), b = arg(in);
    switch (op) {
      case 0: {  // frame_alloc
        uint64_t got = ~0ull;
        uint64_t held = 0;
        for (auto& [p, o] : owner) held += accounts.account_of(o) == accounts.account_of(env);
        uint64_t account_limit = envs[env_index(accounts.account_of(env))].limit[RES_FRAMES];
        uint64_t reserved = accounts.account_of(env) == kEnvs[0] ? child[RES_FRAMES] : 0;
        Status s = ft.alloc(a, env, FRAME_USER, &got);
        if (held + reserved >= account_limit) REQUIRE(s == ERR_QUOTA);
        else if (a != kAnyFrame && a >= kFrames) REQUIRE(s == ERR_OUT_OF_RANGE);
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
        for (Rid r; (r = rmap.first(a)) != kNoRid;) {
          auto it = maps.find(rid_index(r));
          REQUIRE(rid_table(r) == 1 && it != maps.end() && it->second == a);
          rmap.remove(a, r);
          maps.erase(it);
        }
        uint64_t guard = ft.info(a).guard;
        ft.free(a);
        REQUIRE(ft.info(a).guard == guard + 1);
        owner.erase(a);
        break;
      }
      case 2: {  // map: an unused entry of the table now maps an allocated frame
        uint64_t index = b % 512;
        if (!owner.count(a % kFrames) || maps.count(index)) break;
        rmap.insert(a % kFrames, make_rid(1, index));
        maps[index] = a % kFrames;
        break;
      }
      case 3: {  // unmap an entry, wherever it is in its frame's list
        auto it = maps.find(b % 512);
        if (it == maps.end()) break;
        rmap.remove(it->second, make_rid(1, it->first));
        maps.erase(it);
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
      for (auto& m : maps) n += m.second == p;
      REQUIRE(ft.info(p).mappings == n);
      uint64_t listed = 0;
      Rid prev = kNoRid;
      for (Rid r = rmap.first(p); r != kNoRid && listed <= n; prev = r, r = rmap.next(r)) {
        listed++;
        REQUIRE(rmap.prev(r) == prev && maps.count(rid_index(r)) && maps[rid_index(r)] == p);
      }
      REQUIRE(listed == n);
    }
    // Accounts: each one's count is what its envs hold (env 0's includes
    // env 1's reservation), within its limit.
    for (uint32_t holder : {kEnvs[0], kEnvs[1]}) {
      uint64_t held = 0;
      for (auto& [p, o] : owner) held += accounts.account_of(o) == holder;
      if (holder == kEnvs[0]) held += child[RES_FRAMES];
      REQUIRE(envs[env_index(holder)].used[RES_FRAMES] == held);
      REQUIRE(held <= envs[env_index(holder)].limit[RES_FRAMES]);
    }
  }
  return 0;
}
