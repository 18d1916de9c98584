// W^X audit of x86-64 page tables: walks every table reachable from the
// given roots and finds a physical page reachable both through a writable
// mapping and an executable one (in any two places, aliases included).
// Portable: the tables are read through a callback, so host tests feed it
// synthetic tables (tests/host/wx_audit_test.cc); the kernel feeds it its
// own through the direct map at boot (kernel/mm/wx.cc).
#pragma once

#include <stdint.h>

#include "kernel/mm/ranges.h"

namespace veneer::mm {

namespace pte {
constexpr uint64_t kPresent = 1ull << 0, kWrite = 1ull << 1, kUser = 1ull << 2;
constexpr uint64_t kLarge = 1ull << 7, kNoExec = 1ull << 63;
constexpr uint64_t kAddr = 0x000FFFFFFFFFF000ull;
}  // namespace pte

// Where a walk starts: a table at `level` (4 = PML4, 3 = PDPT, ...) covering
// virtual addresses from `va`, reached through an entry with `parent_flags`
// (writable and no-exec bits matter; pass kWrite for a root).
struct WxRoot {
  uint64_t table_pa;
  int level;
  uint64_t va;
  uint64_t parent_flags;
};

// One leaf mapping with its effective rights (every level's bits combined).
struct WxLeaf {
  uint64_t va, pa, size;
  bool writable, executable, user;
};

struct WxResult {
  bool ok = true;
  bool overflow = false;           // too many executable ranges to track
  uint64_t leaves = 0;
  uint64_t executable_bytes = 0;   // sum over executable mappings
  uint64_t writable_bytes = 0;
  WxLeaf writable{}, executable{};  // the first violation: the two mappings
};

// Calls fn(const WxLeaf&) for every present leaf under the roots.
// `read_table(pa)` returns the 512 entries of the table at physical pa.
// `nx_enabled`: without EFER.NXE the NX bit is not honoured (every page is
// executable).
template <typename ReadTable, typename F>
void wx_walk(const WxRoot* roots, int nroots, bool nx_enabled, ReadTable&& read_table, F&& fn) {
  struct Walker {
    ReadTable& read;
    F& fn;
    bool nx;
    void walk(uint64_t table_pa, int level, uint64_t va, bool w, bool x, bool u) {
      const uint64_t* t = read(table_pa);
      uint64_t span = 1ull << (12 + 9 * (level - 1));
      for (uint64_t i = 0; i < 512; i++) {
        uint64_t e = t[i];
        if (!(e & pte::kPresent)) continue;
        uint64_t at = va + i * span;
        if (level == 4 && (at & (1ull << 47))) at |= 0xFFFF000000000000ull;  // canonical
        bool ew = w && (e & pte::kWrite), ex = x && !(nx && (e & pte::kNoExec)), eu = u && (e & pte::kUser);
        if (level == 1 || (level <= 3 && (e & pte::kLarge))) {
          uint64_t pa = e & pte::kAddr & ~(span - 1);
          fn(WxLeaf{at, pa, span, ew, ex, eu});
        } else {
          walk(e & pte::kAddr, level - 1, at, ew, ex, eu);
        }
      }
    }
  };
  Walker walker{read_table, fn, nx_enabled};
  for (int r = 0; r < nroots; r++) {
    uint64_t pf = roots[r].parent_flags;
    walker.walk(roots[r].table_pa, roots[r].level, roots[r].va, pf & pte::kWrite,
                !(nx_enabled && (pf & pte::kNoExec)), pf & pte::kUser);
  }
}

// The audit: first every executable physical range, then every writable
// mapping checked against them.
template <typename ReadTable>
WxResult wx_audit(const WxRoot* roots, int nroots, bool nx_enabled, ReadTable&& read_table) {
  WxResult r;
  BasicRangeList<512> exec;
  wx_walk(roots, nroots, nx_enabled, read_table, [&](const WxLeaf& l) {
    r.leaves++;
    if (l.executable) {
      r.executable_bytes += l.size;
      if (!exec.add(l.pa, l.pa + l.size)) r.overflow = true;
    }
    if (l.writable) r.writable_bytes += l.size;
  });
  if (r.overflow) {
    r.ok = false;
    return r;
  }
  wx_walk(roots, nroots, nx_enabled, read_table, [&](const WxLeaf& l) {
    if (!r.ok || !l.writable) return;
    for (int i = 0; i < exec.count(); i++) {
      if (exec[i].end <= l.pa || exec[i].base >= l.pa + l.size) continue;
      r.ok = false;
      r.writable = l;
      uint64_t pa = exec[i].base > l.pa ? exec[i].base : l.pa;  // a page in both
      // Find the executable mapping of that page to name it.
      wx_walk(roots, nroots, nx_enabled, read_table, [&](const WxLeaf& x) {
        if (x.executable && x.pa <= pa && pa < x.pa + x.size && !r.executable.size) r.executable = x;
      });
      return;
    }
  });
  return r;
}

}  // namespace veneer::mm
