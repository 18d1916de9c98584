// libFuzzer target for the system-call layer: the real kernel (hosted: see
// tests/hosted/hosted_kernel.h) takes random sequences of calls, batches
// included, from several envs. A shadow model of ownership, capabilities and
// page tables predicts each call's effect: a call the model refuses must
// fail and change nothing; a call it accepts must succeed (or fail for lack
// of kernel memory, changing nothing) and leave the kernel's tables equal to
// the model's. After every call the kernel's own invariant scan
// (kernel/invariants.h) must find nothing. Any disagreement aborts.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/core/validate.h"
#include "kernel/invariants.h"
#include "kernel/ioports.h"
#include "kernel/memory.h"
#include "kernel/vm.h"
#include "tests/hosted/hosted_kernel.h"

using namespace veneer;

namespace {

constexpr uint64_t kFrames = 256;
constexpr uint64_t kArgVa = 0x7000000;  // where callers keep page_batch's ops

#define REQUIRE(c, ...)                                   \
  do {                                                    \
    if (!(c)) {                                           \
      fprintf(stderr, "syscall_fuzz: " __VA_ARGS__);      \
      fprintf(stderr, "\n  (%s at %s:%d)\n", #c, __FILE__, __LINE__); \
      abort();                                            \
    }                                                     \
  } while (0)

// ---- The shadow model ---------------------------------------------------------
struct MCap {
  uint8_t type, rights;
  uint32_t object;
  uint64_t guard;
  bool operator==(const MCap&) const = default;
};
struct MPte {
  uint64_t pfn;
  bool write, exec, may_write, may_exec, hold;
  uint8_t marks;  // the library OS's bits (perms bits 8-14, PTE bits 52-58)
  bool operator==(const MPte&) const = default;
};
struct MEnv {
  uint32_t parent, state;
  std::map<uint64_t, MCap> caps;
  std::map<uint64_t, MPte> ptes;
  std::set<std::pair<uint64_t, uint64_t>> ports;  // bound I/O port ranges (first, count)
  uint16_t irq_lines = 0;                         // interrupt lines bound to it
  bool operator==(const MEnv&) const = default;
};
struct Model {
  std::map<uint32_t, MEnv> envs;        // live envs by id
  std::map<uint64_t, uint32_t> owner;   // allocated user frames
  std::map<uint64_t, uint64_t> guard;   // their guards
  bool operator==(const Model&) const = default;
};

// The kernel's tables, read into the model's shape.
Model extract() {
  Model m;
  for (Env& e : envs) {
    if (!e.id || e.info->state == ENV_FREE || e.info->state == ENV_RETIRED) continue;
    MEnv& me = m.envs[e.id];
    me.parent = e.info->parent;
    me.state = e.info->state;
    for (uint64_t r = 0; r < kMaxIoPortRanges; r++)
      if (e.io_count[r]) me.ports.insert({e.io_first[r], e.io_count[r]});
    me.irq_lines = e.irq_lines;
    for (uint64_t s = 0; s < kCapSlots; s++) {
      const core::Capability& c = e.caps.at(s);
      if (c.type != CAP_NONE) me.caps[s] = MCap{c.type, c.rights, c.object, c.guard};
    }
    uint64_t* pml4 = phys_to_virt<uint64_t>(e.pml4_pa);
    for (uint64_t i4 = 0; i4 < kKernelTablesPml4Slot; i4++) {
      if (!(pml4[i4] & 1)) continue;
      uint64_t* pdpt = phys_to_virt<uint64_t>(pml4[i4] & arch::PTE_ADDR);
      for (uint64_t i3 = 0; i3 < 512; i3++) {
        if (!(pdpt[i3] & 1)) continue;
        uint64_t* pd = phys_to_virt<uint64_t>(pdpt[i3] & arch::PTE_ADDR);
        for (uint64_t i2 = 0; i2 < 512; i2++) {
          if (!(pd[i2] & 1)) continue;
          uint64_t* pt = phys_to_virt<uint64_t>(pd[i2] & arch::PTE_ADDR);
          for (uint64_t i1 = 0; i1 < 512; i1++) {
            uint64_t v = pt[i1];
            if (!(v & 1)) continue;
            me.ptes[i4 << 39 | i3 << 30 | i2 << 21 | i1 << 12] =
                MPte{(v & arch::PTE_ADDR) / kPageSize, bool(v & arch::PTE_W), !(v & arch::PTE_NX),
                     bool(v & PTE_MAY_WRITE), bool(v & PTE_MAY_EXEC), bool(v & PTE_HOLD),
                     static_cast<uint8_t>((v >> kPteUserShift) & 0x7F)};
          }
        }
      }
    }
  }
  for (uint64_t p = 0; p < kFrames; p++) {
    const FrameInfo& f = frames.info(p);
    if (f.kind != FRAME_USER) continue;
    m.owner[p] = f.owner;
    m.guard[p] = f.guard;
  }
  return m;
}

std::string describe(const Model& m) {
  std::string s;
  char buf[200];
  for (auto& [id, e] : m.envs) {
    snprintf(buf, sizeof buf, "  env %x parent %x state %u irq lines %x\n", id, e.parent, e.state, e.irq_lines);
    s += buf;
    for (auto& [slot, c] : e.caps) {
      snprintf(buf, sizeof buf, "    cap %lu: type %u rights %x object %x guard %lu\n", slot, c.type, c.rights,
               c.object, c.guard);
      s += buf;
    }
    for (auto& [first, count] : e.ports) {
      snprintf(buf, sizeof buf, "    ports %lx+%lu\n", first, count);
      s += buf;
    }
    for (auto& [va, p] : e.ptes) {
      snprintf(buf, sizeof buf, "    pte %lx -> %lx w%d x%d may_w%d may_x%d hold%d marks %x\n", va, p.pfn, p.write,
               p.exec, p.may_write, p.may_exec, p.hold, p.marks);
      s += buf;
    }
  }
  for (auto& [p, o] : m.owner) {
    snprintf(buf, sizeof buf, "  frame %lx owner %x guard %lu\n", p, o, m.guard.at(p));
    s += buf;
  }
  return s;
}

// Model-side decoding, mirroring what the ABI promises.
struct Shadow {
  Model m;
  uint32_t caller;

  MEnv& me() { return m.envs.at(caller); }
  const MCap* cap(uint64_t slot) {
    auto it = me().caps.find(slot);
    return it == me().caps.end() ? nullptr : &it->second;
  }
  // An env capability with `rights` naming a live env: its id, or 0.
  uint32_t env_cap(uint64_t slot, uint8_t rights) {
    const MCap* c = cap(slot);
    if (!c || c->type != CAP_ENV || (c->rights & rights) != rights) return 0;
    return m.envs.count(c->object) ? c->object : 0;
  }
  // A current frame capability with `rights`: its frame, or ~0.
  uint64_t frame_cap(uint64_t slot, uint8_t rights) {
    const MCap* c = cap(slot);
    if (!c || c->type != CAP_FRAME || (c->rights & rights) != rights) return ~0ull;
    auto g = m.guard.find(c->object);
    return g != m.guard.end() && g->second == c->guard ? c->object : ~0ull;
  }
  // A frame reference (a slot, or kFrameByPfn | pfn of a frame `owner`
  // owns, with every right): its frame, or ~0; *may_* what a binding allows.
  uint64_t frame_ref(uint64_t ref, uint32_t owner, uint8_t rights, bool* may_w = nullptr, bool* may_x = nullptr,
                     bool* hold = nullptr) {
    uint64_t pfn;
    uint8_t have;
    if (ref & kFrameByPfn) {
      pfn = ref & ~kFrameByPfn;
      auto it = m.owner.find(pfn);
      if (it == m.owner.end() || (it->second != owner && it->second != caller)) return ~0ull;
      have = kRightsAll;
    } else {
      pfn = frame_cap(ref, rights);
      if (pfn == ~0ull) return ~0ull;
      have = cap(ref)->rights;
    }
    if (may_w) *may_w = have & RIGHT_WRITE;
    if (may_x) *may_x = have & RIGHT_EXEC;
    if (hold) *hold = have & RIGHT_HOLD;
    return pfn;
  }
  bool slot_free(MEnv& e, uint64_t slot) { return slot < kCapSlots && !e.caps.count(slot); }
  // An IOPORT capability with read and write (what binding needs): its range.
  bool port_cap(uint64_t slot, uint64_t* first, uint64_t* count) {
    const MCap* c = cap(slot);
    if (!c || c->type != CAP_IOPORT || (c->rights & (RIGHT_READ | RIGHT_WRITE)) != (RIGHT_READ | RIGHT_WRITE))
      return false;
    *first = c->object & 0xFFFF, *count = c->object >> 16;
    return true;
  }

  void unmap_everywhere(uint64_t pfn, uint32_t keep) {
    for (auto& [id, e] : m.envs) {
      if (id == keep) continue;
      std::erase_if(e.ptes, [&](auto& kv) { return kv.second.pfn == pfn; });
    }
  }
  // Guards of freed frames: the least the kernel may give them next time,
  // so no capability made before the free can name the frame again.
  std::map<uint64_t, uint64_t> min_guard;
  void free_frame(uint64_t pfn) {
    unmap_everywhere(pfn, 0);
    m.owner.erase(pfn);
    min_guard[pfn] = m.guard[pfn] + 1;
    m.guard.erase(pfn);
  }
  // Env `id` and its descendants go; each frame they owned passes to an env
  // that holds it through a mapping (RIGHT_HOLD), or is freed. Which holder
  // (and whether one with room in its account) is the kernel's choice: the
  // model checks it is one of the holders and follows it (`after`).
  void destroy(uint32_t id, const Model& after) {
    std::set<uint32_t> gone{id};
    for (bool grew = true; grew;) {
      grew = false;
      for (auto& [cid, e] : m.envs)
        if (gone.count(e.parent) && gone.insert(cid).second) grew = true;
    }
    for (uint32_t g : gone) m.envs.erase(g);
    for (auto& [p, o] : std::map<uint64_t, uint32_t>(m.owner)) {
      if (!gone.count(o)) continue;
      std::set<uint32_t> holders;
      for (auto& [eid, e] : m.envs)
        for (auto& [va, pte] : e.ptes)
          if (pte.pfn == p && pte.hold) holders.insert(eid);
      auto kept = after.owner.find(p);
      if (kept != after.owner.end() && !gone.count(kept->second)) {
        REQUIRE(holders.count(kept->second), "frame %lx passed to env %x, which does not hold it", p, kept->second);
        m.owner[p] = kept->second;
      } else {
        free_frame(p);
      }
    }
  }
};

// ---- Input decoding ----------------------------------------------------------------
struct Input {
  const uint8_t* d;
  size_t n;
  uint8_t u8() { return n ? (n--, *d++) : 0; }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8 && n; i++, n--) v = v << 8 | *d++;
    return v;
  }
  // Capability slots, chosen as a syzkaller-style resource: mostly one of
  // the caller's slots holding a capability of the type the argument wants
  // (CAP_NONE: an empty slot), otherwise any small slot or an edge value.
  uint64_t slot(const MEnv& caller, uint8_t type) {
    uint8_t b = u8();
    if (b < 192) {
      uint64_t fit[16], n = 0;
      for (uint64_t s = 0; s < 16; s++) {
        auto it = caller.caps.find(s);
        if ((it == caller.caps.end() ? CAP_NONE : it->second.type) == type) fit[n++] = s;
      }
      if (n) return fit[b % n];
    }
    if (b < 240) return b % 16;
    static const uint64_t edges[] = {kCapSlots - 1, kCapSlots, 1ull << 32, ~0ull, 2048};
    return edges[b % 5];
  }
  // A frame argument: mostly a frame capability of the caller's, else a
  // frame named by number (one the target or the caller owns, or any).
  uint64_t frame_ref(const MEnv& caller, const Model& m, uint32_t target, uint32_t self) {
    uint8_t b = u8();
    if (b < 160) return slot(caller, CAP_FRAME);
    if (b < 240) {
      uint64_t owned[64], n = 0;
      for (auto& [p, o] : m.owner)
        if ((o == target || o == self) && n < 64) owned[n++] = p;
      if (n) return kFrameByPfn | owned[b % n];
    }
    return kFrameByPfn | (b % 2 ? pfn() : u8());
  }
  // Addresses: six pages in two page tables, the ops page, and bad ones.
  uint64_t va() {
    uint8_t b = u8();
    static const uint64_t good[] = {0x400000, 0x401000, 0x402000, 0x403000, 0x600000, 0x601000, kArgVa};
    if (b < 230) return good[b % 7];
    static const uint64_t bad[] = {0, 0x400008, 0xFFFF800000000000ull, kKernelTablesVa, kUserTop, 0x800000000000ull};
    return bad[b % 6];
  }
  // Permissions: write and execute, sometimes with the library OS's marks.
  uint64_t perms() {
    uint8_t b = u8();
    if (b < 200) return b % 4;
    if (b < 240) return b % 4 | uint64_t(b % 0x7F) << kPermUserShift;
    return b % 2 ? 4 : ~0ull;
  }
  uint64_t pfn() {
    uint8_t b = u8();
    if (b < 160) return kAnyFrame;
    if (b < 250) return b % kFrames;
    return b % 2 ? kFrames : 1ull << 40;
  }
};

enum Call : uint8_t {
  C_FRAME_ALLOC, C_FRAME_FREE, C_MAP, C_UNMAP, C_PROTECT, C_BATCH, C_GRANT, C_REVOKE,
  C_DELETE, C_ENV_CREATE, C_ENV_RUN, C_ENV_DESTROY, C_SET_QUOTA, C_SLICE, C_SHARE, C_PROTECT_RANGE,
  C_IOPORT_CREATE, C_IOPORT_BIND, C_IOPORT_UNBIND, C_IRQ_CREATE, C_IRQ_BIND, C_IRQ_ACK, C_NET, C_COUNT
};

const char* syscall_name(uint64_t num) {
#define NAME_CASE(n, name, path, args) \
  if (num == SYS_##name) return #name;
  VENEER_SYSCALLS(NAME_CASE)
#undef NAME_CASE
  return "?";
}

void report(const char* what, uint64_t a, uint64_t b) {
  fprintf(stderr, "syscall_fuzz: invariant violated: %s (%lx, %lx)\n", what, a, b);
}

bool resource_error(long s) { return s == ERR_NO_MEMORY || s == ERR_NO_RESOURCES || s == ERR_QUOTA; }

}  // namespace

// Calls made in this process, reported at exit (docs/robustness.md counts
// them): every one was checked against the model and by the invariant scan.
uint64_t calls_checked, inputs_run;
void report_totals() {
  fprintf(stderr, "syscall_fuzz: %lu inputs, %lu calls checked against the model and the invariant scan\n",
          inputs_run, calls_checked);
}
// SYSCALL_FUZZ_STOP_AFTER_CALLS=N: end the run cleanly (exit 0, totals
// printed) once N calls have been checked, for runs sized in calls.
uint64_t stop_after_calls;
// Ports the hosted kernel reserves as the real one's drivers do (COM1,
// the exit port, the PIT), so refusing them is fuzzed too.
constexpr uint64_t kKernelPorts[][2] = {{0x3F8, 8}, {0xF4, 1}, {0x40, 4}};
bool model_kernel_port(uint64_t first, uint64_t count) {
  for (auto& k : kKernelPorts)
    if (first < k[0] + k[1] && k[0] < first + count) return true;
  return false;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  atexit(report_totals);
  for (auto& k : kKernelPorts) reserve_kernel_ports(static_cast<uint16_t>(k[0]), static_cast<uint16_t>(k[1]));
  if (const char* n = getenv("SYSCALL_FUZZ_STOP_AFTER_CALLS")) stop_after_calls = strtoull(n, nullptr, 10);
  return 0;
}

// SYSCALL_FUZZ_SECURITY_ONLY=1: report only what breaks isolation (a call
// the kernel must refuse but accepts, a wrong table, a broken invariant), not
// calls the kernel refuses although the model accepts them.
bool security_only = getenv("SYSCALL_FUZZ_SECURITY_ONLY") != nullptr;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{data, size};
  // The stop target: report and leave with _Exit, not exit: libFuzzer
  // counts an exit() inside the target as a failure ("fuzz target exited")
  // and saves the input as a crash.
  if (stop_after_calls && calls_checked >= stop_after_calls) {
    fprintf(stderr, "syscall_fuzz: stop target reached, no failure: ");
    report_totals();
    _Exit(0);
  }
  // A line per million calls, so a run that is interrupted (libFuzzer's
  // signal exits skip atexit) still says how far it got.
  static uint64_t millions_reported;
  if (calls_checked / 1000000 > millions_reported) {
    millions_reported = calls_checked / 1000000;
    fprintf(stderr, "syscall_fuzz: progress: %lu inputs, %lu calls checked\n", inputs_run, calls_checked);
  }
  inputs_run++;
  Env* init = hosted::boot(kFrames);
  Shadow sh;
  sh.m = extract();
  // init starts as a program would, with something in most slots the
  // fuzzer names (0-11), set up through the ordinary calls so that fewer
  // steps reach interesting states: a page for batch ops (slot 11), a frame
  // mapped writable (10), a frame (8) with a read-only copy of its capability
  // (9) and a read+execute copy (7), a frame mapped read-only (6), and a
  // running child (5) with a page for its own batch ops, COM2's ports (12)
  // and its interrupt line (13).
  {
    constexpr uint64_t kChild = 5;
    const uint64_t setup[][7] = {
        {SYS_frame_alloc, kAnyFrame, kSelfSlot, 11},
        {SYS_page_map, kSelfSlot, kArgVa, 11, PERM_WRITE},
        {SYS_frame_alloc, kAnyFrame, kSelfSlot, 10},
        {SYS_page_map, kSelfSlot, 0x400000, 10, PERM_WRITE},
        {SYS_frame_alloc, kAnyFrame, kSelfSlot, 8},
        {SYS_cap_grant, 8, kSelfSlot, 9, RIGHT_READ | RIGHT_GRANT},
        {SYS_cap_grant, 8, kSelfSlot, 7, RIGHT_READ | RIGHT_EXEC | RIGHT_GRANT},
        {SYS_frame_alloc, kAnyFrame, kSelfSlot, 6},
        {SYS_page_map, kSelfSlot, 0x600000, 6, PERM_READ},
        {SYS_env_create, kChild},
        {SYS_frame_alloc, kAnyFrame, kChild, 4},
        {SYS_page_map, kChild, kArgVa, 4, PERM_WRITE},
        {SYS_cap_delete, 4},
        {SYS_env_run, kChild},
        {SYS_ioport_create, kMachineSlot, 0x2F8, 8, 12},
        {SYS_irq_create, kMachineSlot, 3, 13},
    };
    for (auto& c : setup)
      if (hosted::call(init, c[0], c + 1).status != OK) abort();
    sh.m = extract();
  }
  for (int step = 0; in.n && step < 200; step++) {
    uint8_t kind = in.u8() % C_COUNT;
    // The caller: any runnable env.
    std::vector<Env*> runnable;
    for (Env& e : envs)
      if (e.id && e.info->state == ENV_RUNNABLE) runnable.push_back(&e);
    if (runnable.empty()) break;
    Env* caller = runnable[in.u8() % runnable.size()];
    sh.caller = caller->id;
    uint64_t a[6] = {};
    uint64_t num = 0;
    uint32_t batch_target = 0;  // also page_share's target
    PageOp batch_ops[8] = {};
    std::map<uint64_t, MPte> batch_result;
    bool valid = false, agnostic = false;
    MEnv& me = sh.me();

    switch (kind) {
      case C_FRAME_ALLOC: {
        num = SYS_frame_alloc;
        a[0] = in.pfn(), a[1] = in.slot(me, CAP_ENV), a[2] = in.u8() < 64 ? kNoSlot : in.slot(me, CAP_NONE);
        uint32_t owner = sh.env_cap(a[1], RIGHT_CONTROL);
        bool pfn_ok = a[0] == kAnyFrame || (a[0] < kFrames && frames.info(a[0]).owner == kOwnerFree);
        valid = owner && (a[2] == kNoSlot || sh.slot_free(me, a[2])) && pfn_ok;
        break;
      }
      case C_FRAME_FREE:
        num = SYS_frame_free;
        a[0] = in.frame_ref(me, sh.m, sh.caller, sh.caller);
        valid = sh.frame_ref(a[0], sh.caller, RIGHT_REVOKE) != ~0ull;
        break;
      case C_MAP: {
        num = SYS_page_map;
        a[0] = in.slot(me, CAP_ENV), a[1] = in.va();
        uint32_t t = sh.env_cap(a[0], RIGHT_CONTROL);
        a[2] = in.frame_ref(me, sh.m, t, sh.caller), a[3] = in.perms();
        valid = t && core::check_map_va(a[1]) == OK && core::perms_valid(a[3]) &&
                sh.frame_ref(a[2], t, core::rights_for_perms(a[3])) != ~0ull;
        break;
      }
      case C_UNMAP: {
        num = SYS_page_unmap;
        a[0] = in.slot(me, CAP_ENV), a[1] = in.va();
        uint32_t t = sh.env_cap(a[0], RIGHT_CONTROL);
        valid = t && core::check_map_va(a[1]) == OK && sh.m.envs.at(t).ptes.count(a[1]);
        break;
      }
      case C_PROTECT: {
        num = SYS_page_protect;
        a[0] = in.slot(me, CAP_ENV), a[1] = in.va(), a[2] = in.perms();
        uint32_t t = sh.env_cap(a[0], RIGHT_CONTROL);
        if (t && core::check_map_va(a[1]) == OK && core::perms_valid(a[2])) {
          auto& ptes = sh.m.envs.at(t).ptes;
          auto it = ptes.find(a[1]);
          valid = it != ptes.end() && (!(a[2] & PERM_WRITE) || it->second.may_write) &&
                  (!(a[2] & PERM_EXEC) || it->second.may_exec);
        }
        break;
      }
      case C_PROTECT_RANGE: {
        num = SYS_page_protect_range;
        a[0] = in.slot(me, CAP_ENV), a[1] = in.va();
        // Mostly a few pages; sometimes a range across a 2 MiB region
        // boundary, the most allowed, one too many, none, or one past the top.
        uint8_t c = in.u8();
        a[2] = c < 200 ? 1 + c % 4 : c < 230 ? 0x200 - c % 3 : c < 240 ? kMaxPageBatch + 1 : c < 250 ? 0 : 1ull << 40;
        a[3] = in.perms();
        uint32_t t = sh.env_cap(a[0], RIGHT_CONTROL);
        valid = t && core::check_map_va(a[1]) == OK && a[2] >= 1 && a[2] <= kMaxPageBatch &&
                a[1] + a[2] * kPageSize <= kUserTop && core::perms_valid(a[3]);
        if (valid)
          for (auto it = sh.m.envs.at(t).ptes.lower_bound(a[1]);
               it != sh.m.envs.at(t).ptes.end() && it->first < a[1] + a[2] * kPageSize; ++it)
            if (((a[3] & PERM_WRITE) && !it->second.may_write) || ((a[3] & PERM_EXEC) && !it->second.may_exec))
              valid = false;
        break;
      }
      case C_BATCH: {
        num = SYS_page_batch;
        a[0] = in.slot(me, CAP_ENV);
        uint8_t shape = in.u8();  // count and where the ops are
        a[1] = shape < 0xF0 ? kArgVa : (shape & 1 ? kArgVa + kPageSize - 8 : 0);
        a[2] = shape == 0xFF ? kMaxPageBatch + 1 : shape % 7;
        PageOp* ops = batch_ops;
        uint32_t t = sh.env_cap(a[0], RIGHT_CONTROL);
        for (uint64_t i = 0; i < a[2] && i < 8; i++) {
          // Half the time an op names a page an earlier op of the batch named:
          // ops that meet each other are where batch validation goes wrong.
          uint8_t alias = i ? in.u8() : 0xFF;
          ops[i].va = alias < 128 ? ops[alias % i].va : in.va();
          uint8_t k = in.u8();  // kind and permissions
          ops[i].kind = k & 3;
          ops[i].perms = k < 0xF0 ? (k >> 2) & 3 : 8;
          ops[i].frame = in.frame_ref(me, sh.m, t, sh.caller);
        }
        // The ops go where the caller's page at kArgVa is, if it has one.
        uint64_t* pte = vm_pte(caller, kArgVa);
        bool readable = pte && (*pte & 1) && a[1] == kArgVa;
        if (readable && a[2] <= 8) memcpy(phys_to_virt<uint8_t>(*pte & arch::PTE_ADDR), ops, sizeof batch_ops);
        if (!t || a[2] > kMaxPageBatch || (a[2] && !readable)) break;
        // A batch is a sequence: each op meets the state the ones before it
        // left (checked here on a copy of the target's page table), and it
        // names strictly ascending addresses (abi.h).
        std::map<uint64_t, MPte> ptes = sh.m.envs.at(t).ptes;
        valid = true;
        for (uint64_t i = 0; i < a[2] && valid; i++) {
          const PageOp& op = ops[i];
          bool may_w = false, may_x = false, hold = false;
          if ((i && op.va <= ops[i - 1].va) || core::check_map_va(op.va) != OK || op.kind > PAGE_OP_PROTECT) {
            valid = false;
          } else if (op.kind == PAGE_OP_MAP) {
            uint64_t pfn = core::perms_valid(op.perms)
                               ? sh.frame_ref(op.frame, t, core::rights_for_perms(op.perms), &may_w, &may_x, &hold)
                               : ~0ull;
            if (pfn == ~0ull) valid = false;
            else ptes[op.va] = MPte{pfn, bool(op.perms & PERM_WRITE), bool(op.perms & PERM_EXEC), may_w, may_x, hold,
                                    static_cast<uint8_t>(op.perms >> kPermUserShift)};
          } else if (op.kind == PAGE_OP_UNMAP) {
            ptes.erase(op.va);  // unmapping an unmapped page is no error in a batch
          } else {
            auto it = ptes.find(op.va);
            if (!core::perms_valid(op.perms) || it == ptes.end() ||
                ((op.perms & PERM_WRITE) && !it->second.may_write) || ((op.perms & PERM_EXEC) && !it->second.may_exec))
              valid = false;
            else
              it->second.write = op.perms & PERM_WRITE, it->second.exec = op.perms & PERM_EXEC,
              it->second.marks = static_cast<uint8_t>(op.perms >> kPermUserShift);
          }
        }
        batch_target = t;
        batch_result = ptes;
        break;
      }
      case C_GRANT: {
        num = SYS_cap_grant;
        uint8_t type = in.u8() % 4;
        a[0] = in.slot(me, type == 0 ? CAP_FRAME : type == 1 ? CAP_ENV : type == 2 ? CAP_IOPORT : CAP_IRQ);
        a[1] = in.slot(me, CAP_ENV), a[2] = in.slot(me, CAP_NONE);
        uint8_t r = in.u8();
        a[3] = r < 250 ? r & kRightsAll : 0x100;
        uint32_t t = sh.env_cap(a[1], RIGHT_DEPOSIT);
        const MCap* src = sh.cap(a[0]);
        valid = t && src && (src->rights & RIGHT_GRANT) && (src->type != CAP_FRAME || sh.frame_cap(a[0], 0) != ~0ull) &&
                a[3] <= kRightsAll && sh.slot_free(sh.m.envs.at(t), a[2]);
        break;
      }
      case C_IOPORT_CREATE: {
        num = SYS_ioport_create;
        a[0] = in.slot(me, CAP_MACHINE);
        static const uint64_t firsts[] = {0x2F8, 0x2E8, 0x3F8, 0x3F0, 0xF4, 0x40, 0x3C, 0xFFFF, 0x10000, ~0ull};
        static const uint64_t counts[] = {1, 8, 64, 2, 65, 0, 4, 1ull << 32};
        uint8_t f = in.u8(), c = in.u8();
        a[1] = f < 200 ? firsts[f % 10] : 0x2F0 + f % 32;
        a[2] = counts[c % 8];
        a[3] = in.slot(me, CAP_NONE);
        const MCap* m = sh.cap(a[0]);
        valid = m && m->type == CAP_MACHINE && a[2] >= 1 && a[2] <= kMaxIoPortCount && a[1] <= 0xFFFF &&
                a[1] + a[2] <= 0x10000 && !model_kernel_port(a[1], a[2]) && sh.slot_free(me, a[3]);
        break;
      }
      case C_IOPORT_BIND:
      case C_IOPORT_UNBIND: {
        num = kind == C_IOPORT_BIND ? SYS_ioport_bind : SYS_ioport_unbind;
        a[0] = in.slot(me, CAP_ENV), a[1] = in.slot(me, CAP_IOPORT);
        uint32_t t = sh.env_cap(a[0], RIGHT_CONTROL);
        uint64_t first, count;
        if (!t || !sh.port_cap(a[1], &first, &count)) break;
        const auto& ports = sh.m.envs.at(t).ports;
        if (kind == C_IOPORT_UNBIND) {
          valid = ports.count({first, count});
          break;
        }
        valid = ports.size() < kMaxIoPortRanges;
        for (auto& [f, n] : ports)
          if (first < f + n && f < first + count) valid = false;
        break;
      }
      case C_IRQ_CREATE: {
        num = SYS_irq_create;
        static const uint64_t lines[] = {3, 5, 7, 15, 0, 2, 4, 16, ~0ull};
        a[0] = in.slot(me, CAP_MACHINE), a[1] = lines[in.u8() % 9], a[2] = in.slot(me, CAP_NONE);
        const MCap* m = sh.cap(a[0]);
        valid = m && m->type == CAP_MACHINE && a[1] < 16 && a[1] != 0 && a[1] != 2 && a[1] != 4 &&
                sh.slot_free(me, a[2]);
        break;
      }
      case C_IRQ_BIND:
      case C_IRQ_ACK: {
        // A line is bound to at most one env; only that env may ack it.
        num = kind == C_IRQ_BIND ? SYS_irq_bind : SYS_irq_ack;
        if (kind == C_IRQ_BIND) a[0] = in.slot(me, CAP_ENV), a[2] = in.u8() % 3;
        uint64_t& irq = kind == C_IRQ_BIND ? a[1] : a[0];
        irq = in.slot(me, CAP_IRQ);
        const MCap* c = sh.cap(irq);
        if (!c || c->type != CAP_IRQ || !(c->rights & RIGHT_READ)) break;
        uint32_t holder = 0;
        for (auto& [id, e] : sh.m.envs)
          if (e.irq_lines & (1u << c->object)) holder = id;
        if (kind == C_IRQ_ACK) {
          valid = holder == sh.caller;
          break;
        }
        uint32_t t = sh.env_cap(a[0], RIGHT_CONTROL);
        valid = t && (a[2] == 1 ? holder == 0 : a[2] == 0 && holder == t);
        break;
      }
      case C_NET: {
        // The hosted machine has no network interface: every network call
        // is refused with ERR_NO_DEVICE (checked below), whatever it names.
        static const uint64_t calls[] = {SYS_net_filter_install, SYS_net_filter_remove, SYS_net_send,
                                         SYS_net_handler_attach};
        num = calls[in.u8() % 4];
        a[0] = in.va(), a[1] = in.va(), a[2] = in.u8(), a[3] = in.u8();
        break;
      }
      case C_REVOKE:
        num = SYS_cap_revoke;
        a[0] = in.slot(me, CAP_FRAME);
        valid = sh.frame_cap(a[0], RIGHT_REVOKE) != ~0ull;
        break;
      case C_DELETE: {
        num = SYS_cap_delete;
        uint8_t type = in.u8() % 4;
        a[0] = in.slot(me, type == 0 ? CAP_FRAME : type == 1 ? CAP_ENV : type == 2 ? CAP_IOPORT : CAP_IRQ);
        valid = a[0] < kCapSlots && me.caps.count(a[0]);
        break;
      }
      case C_ENV_CREATE:
        num = SYS_env_create;
        a[0] = in.slot(me, CAP_NONE);
        valid = sh.slot_free(me, a[0]);
        break;
      case C_ENV_RUN: {
        num = SYS_env_run;
        a[0] = in.slot(me, CAP_ENV);
        uint32_t t = sh.env_cap(a[0], RIGHT_CONTROL);
        valid = t && sh.m.envs.at(t).state == ENV_NEW;
        break;
      }
      case C_ENV_DESTROY:
        num = SYS_env_destroy;
        a[0] = in.slot(me, CAP_ENV);
        valid = sh.env_cap(a[0], RIGHT_CONTROL) != 0;
        break;
      case C_SHARE: {
        // The caller's own bindings, shared with exactly the permissions
        // asked (never more than its binding allows), holding the frame
        // when its binding does; absent source pages skipped.
        num = SYS_page_share;
        a[0] = in.slot(me, CAP_ENV), a[1] = in.va(), a[2] = in.va();
        uint8_t c = in.u8();
        a[3] = c < 240 ? 1 + c % 4 : (c & 1 ? 0 : kMaxPageBatch + 1);
        a[4] = in.perms();
        uint32_t t = sh.env_cap(a[0], RIGHT_CONTROL);
        if (!t || a[3] == 0 || a[3] > kMaxPageBatch || !core::perms_valid(a[4])) break;
        uint64_t len = a[3] * kPageSize;
        if (!core::is_user_range(a[1], len) || !core::is_user_range(a[2], len) || !core::is_page_aligned(a[1]) ||
            !core::is_page_aligned(a[2]))
          break;
        const std::map<uint64_t, MPte> src = me.ptes;  // read before anything changes (self-shares)
        std::map<uint64_t, MPte> ptes = sh.m.envs.at(t).ptes;
        valid = true;
        for (uint64_t i = 0; i < a[3] && valid; i++) {
          auto it = src.find(a[2] + i * kPageSize);
          if (it == src.end()) continue;
          if (((a[4] & PERM_WRITE) && !it->second.may_write) || ((a[4] & PERM_EXEC) && !it->second.may_exec)) {
            valid = false;
            break;
          }
          ptes[a[1] + i * kPageSize] = MPte{it->second.pfn, bool(a[4] & PERM_WRITE), bool(a[4] & PERM_EXEC),
                                            bool(a[4] & PERM_WRITE), bool(a[4] & PERM_EXEC), it->second.hold,
                                            static_cast<uint8_t>(a[4] >> kPermUserShift)};
        }
        batch_target = t;
        batch_result = ptes;
        break;
      }
      // Accounts and slice positions are outside the model's state: any
      // outcome is allowed, but what the model tracks must not change, and
      // the invariant scan checks every account balances within its limit.
      case C_SET_QUOTA: {
        num = SYS_env_set_quota;
        a[0] = in.slot(me, CAP_ENV);
        uint8_t f = in.u8();
        a[1] = f < 250 ? f : ~0ull, a[2] = in.u8() % 12, a[3] = in.u8() % 40;
        agnostic = true;
        break;
      }
      case C_SLICE: {
        uint8_t b = in.u8();
        num = b & 1 ? SYS_slice_alloc : SYS_slice_free;
        a[0] = in.slot(me, CAP_ENV), a[1] = (b >> 1) % 36;
        agnostic = true;
        break;
      }
    }

    char what[512];
    int w = snprintf(what, sizeof what, "%s(%lx, %lx, %lx, %lx, %lx)", syscall_name(num), a[0], a[1], a[2], a[3], a[4]);
    if (kind == C_BATCH)
      for (uint64_t i = 0; i < a[2] && i < 8 && w < 400; i++) {
        const PageOp& op = reinterpret_cast<const PageOp*>(batch_ops)[i];
        w += snprintf(what + w, sizeof what - w, " [%s %lx frame %lx perms %lx]",
                      op.kind == PAGE_OP_MAP ? "map" : op.kind == PAGE_OP_UNMAP ? "unmap" : op.kind == PAGE_OP_PROTECT ? "protect" : "bad",
                      op.va, op.frame, uint64_t(op.perms));
      }
    uint64_t frames_before = frames.free_count();
    SysResult r = hosted::call(caller, num, a);
    Model after = extract();
    if (kind == C_NET) REQUIRE(r.status == ERR_NO_DEVICE, "%s: %s, not ERR_NO_DEVICE", what, status_name(r.status));
    if (agnostic) {
      REQUIRE(after == sh.m, "%s by env %x (%s) changed what it may not\nbefore:\n%s\nafter:\n%s", what, caller->id,
              status_name(r.status), describe(sh.m).c_str(), describe(after).c_str());
    } else if (!valid) {
      REQUIRE(r.status != OK, "%s by env %x succeeded; the model refuses it\nbefore:\n%s\nafter:\n%s", what,
              caller->id, describe(sh.m).c_str(), describe(after).c_str());
    } else if (r.status != OK && !resource_error(r.status) && security_only) {
      sh.m = after;  // triage mode: a kernel stricter than the model is noted, not fatal
    } else if (r.status != OK) {
      REQUIRE(resource_error(r.status), "%s by env %x failed with %s; the model accepts it\n%s", what,
              caller->id, status_name(r.status), describe(sh.m).c_str());
    }
    if (agnostic) {
    } else if (r.status != OK) {
      REQUIRE(after == sh.m, "%s by env %x failed (%s) but changed state\nbefore:\n%s\nafter:\n%s", what,
              caller->id, status_name(r.status), describe(sh.m).c_str(), describe(after).c_str());
      REQUIRE(frames.free_count() == frames_before, "failed %s leaked frames", what);
    } else {
      // Apply the accepted call to the model.
      switch (kind) {
        case C_FRAME_ALLOC: {
          uint64_t pfn = r.value;
          REQUIRE(a[0] == kAnyFrame || pfn == a[0], "frame_alloc gave frame %lx, not %lx", pfn, a[0]);
          sh.m.owner[pfn] = sh.env_cap(a[1], RIGHT_CONTROL);
          REQUIRE(frames.info(pfn).guard >= sh.min_guard[pfn], "frame %lx came back with an old guard", pfn);
          sh.m.guard[pfn] = frames.info(pfn).guard;
          if (a[2] != kNoSlot) sh.me().caps[a[2]] = MCap{CAP_FRAME, kRightsAll, uint32_t(pfn), frames.info(pfn).guard};
          break;
        }
        case C_FRAME_FREE: {
          sh.free_frame(sh.frame_ref(a[0], sh.caller, 0));
          if (!(a[0] & kFrameByPfn)) sh.me().caps.erase(a[0]);
          break;
        }
        case C_MAP: {
          uint32_t t = sh.env_cap(a[0], 0);
          bool may_w, may_x, hold;
          uint64_t pfn = sh.frame_ref(a[2], t, 0, &may_w, &may_x, &hold);
          sh.m.envs.at(t).ptes[a[1]] = MPte{pfn, bool(a[3] & PERM_WRITE), bool(a[3] & PERM_EXEC), may_w, may_x, hold,
                                            static_cast<uint8_t>(a[3] >> kPermUserShift)};
          break;
        }
        case C_UNMAP: sh.m.envs.at(sh.env_cap(a[0], 0)).ptes.erase(a[1]); break;
        case C_PROTECT: {
          MPte& p = sh.m.envs.at(sh.env_cap(a[0], 0)).ptes.at(a[1]);
          p.write = a[2] & PERM_WRITE, p.exec = a[2] & PERM_EXEC;
          p.marks = static_cast<uint8_t>(a[2] >> kPermUserShift);
          break;
        }
        case C_PROTECT_RANGE: {
          uint64_t changed = 0;
          auto& ptes = sh.m.envs.at(sh.env_cap(a[0], 0)).ptes;
          for (auto it = ptes.lower_bound(a[1]); it != ptes.end() && it->first < a[1] + a[2] * kPageSize; ++it, changed++)
            it->second.write = a[3] & PERM_WRITE, it->second.exec = a[3] & PERM_EXEC,
            it->second.marks = static_cast<uint8_t>(a[3] >> kPermUserShift);
          REQUIRE(r.value == changed, "page_protect_range changed %lu pages, the model %lu", r.value, changed);
          break;
        }
        case C_BATCH:
        case C_SHARE: sh.m.envs.at(batch_target).ptes = batch_result; break;
        case C_GRANT: {
          MCap c = *sh.cap(a[0]);
          c.rights &= static_cast<uint8_t>(a[3]);
          sh.m.envs.at(sh.env_cap(a[1], 0)).caps[a[2]] = c;
          break;
        }
        case C_REVOKE: {
          MCap& c = sh.me().caps.at(a[0]);
          sh.m.guard[c.object]++;
          c.guard = sh.m.guard[c.object];
          sh.unmap_everywhere(c.object, sh.caller);
          break;
        }
        case C_DELETE: sh.me().caps.erase(a[0]); break;
        case C_IRQ_CREATE: sh.me().caps[a[2]] = MCap{CAP_IRQ, kRightsAll, static_cast<uint32_t>(a[1]), 0}; break;
        case C_IRQ_BIND: {
          uint16_t bit = static_cast<uint16_t>(1u << sh.cap(a[1])->object);
          uint16_t& lines = sh.m.envs.at(sh.env_cap(a[0], 0)).irq_lines;
          lines = a[2] ? lines | bit : lines & ~bit;
          break;
        }
        case C_IOPORT_CREATE:
          sh.me().caps[a[3]] = MCap{CAP_IOPORT, kRightsAll, static_cast<uint32_t>(a[1] | a[2] << 16), 0};
          break;
        case C_IOPORT_BIND:
        case C_IOPORT_UNBIND: {
          uint64_t first, count;
          sh.port_cap(a[1], &first, &count);
          auto& ports = sh.m.envs.at(sh.env_cap(a[0], 0)).ports;
          if (kind == C_IOPORT_BIND) ports.insert({first, count});
          else ports.erase({first, count});
          break;
        }
        case C_ENV_CREATE: {
          uint32_t id = static_cast<uint32_t>(r.value);
          sh.m.envs[id] = MEnv{sh.caller, ENV_NEW, {{kSelfSlot, MCap{CAP_ENV, kRightsAll, id, 0}}}, {}};
          sh.me().caps[a[0]] = MCap{CAP_ENV, kRightsAll, id, 0};
          break;
        }
        case C_ENV_RUN: sh.m.envs.at(sh.env_cap(a[0], 0)).state = ENV_RUNNABLE; break;
        case C_ENV_DESTROY: sh.destroy(sh.env_cap(a[0], 0), after); break;
        default: break;
      }
      REQUIRE(after == sh.m, "%s by env %x: the kernel's tables differ from the model\nmodel:\n%s\nkernel:\n%s",
              what, caller->id, describe(sh.m).c_str(), describe(after).c_str());
    }
    calls_checked++;
    uint64_t violations = check_invariants(report);
    REQUIRE(violations == 0, "%lu invariant violations after %s by env %x", violations, what, caller->id);
    if (!envs[env_index(init->id)].id) break;  // init destroyed itself: nothing left to run
  }
  return 0;
}
