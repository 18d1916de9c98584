#include "filter_compiler.h"

namespace veneer::net {

using namespace x86;

namespace {

constexpr uint32_t kLinearMax = 4;
constexpr uint32_t kBinaryMax = 16;
constexpr uint32_t kHashAttempts = 64;
constexpr uint32_t kNone = 0xFFFFFFFFu;

constexpr uint32_t width_mask(uint32_t width) { return width == 4 ? 0xFFFFFFFFu : (1u << (8 * width)) - 1; }

uint8_t ceil_log2(uint32_t n) {
  uint8_t b = 0;
  while ((1u << b) < n) b++;
  return b;
}

// Odd multipliers for the hash, a fixed sequence so compiles are repeatable.
uint32_t multiplier(uint32_t i) {
  uint32_t x = i * 0x9E3779B9u + 0x7F4A7C15u;
  x ^= x >> 16;
  x *= 0x85EBCA6Bu;
  x ^= x >> 13;
  x *= 0xC2B2AE35u;
  x ^= x >> 16;
  return x | 1;
}

}  // namespace

uint32_t FilterCompiler::raw(uint32_t value, uint8_t width) const {
  if (width == 2) return ((value & 0xFF) << 8) | (value >> 8);
  if (width == 4)
    return (value >> 24) | ((value >> 8) & 0xFF00) | ((value << 8) & 0xFF0000) | (value << 24);
  return value;
}

uint32_t FilterCompiler::new_label() {
  if (nlabels_ >= kMaxLabels) {
    failed_ = true;
    return 0;
  }
  return nlabels_++;
}

void FilterCompiler::bind(uint32_t l) { label_pos_[l] = uint32_t(as_->size()); }

bool FilterCompiler::compile(const FilterTree& tree, const CodeMemory& memory, SealedCode* out) {
  tree_ = &tree;
  failed_ = false;
  ndisp_ = 0;
  for (uint32_t g = 0; g < tree.group_count(); g++) plan(g);
  emit_pass(nullptr, 0);
  if (failed_) return false;
  size_t size = as_size_;
  void* handle = nullptr;
  uint8_t* code = memory.allocate(memory.context, size, &handle);
  if (!code) return false;
  emit_pass(code, size);
  if (failed_ || as_size_ != size) {
    memory.release(memory.context, handle);
    return false;
  }
  const uint8_t* entry = memory.seal(memory.context, handle);
  if (!entry) {
    memory.release(memory.context, handle);
    return false;
  }
  *out = SealedCode{entry, handle, size};
  return true;
}

void FilterCompiler::plan(uint32_t g) {
  const TreeGroup& grp = tree_->group(g);
  Plan& p = plans_[g];
  p = Plan{};
  uint32_t n = grp.nedges;
  uint64_t lo = tree_->edge(grp.first_edge).value, hi = tree_->edge(grp.first_edge + n - 1).value;
  uint64_t range = hi - lo + 1;
  if (n <= kLinearMax) {
    p.strategy = kLinear;
  } else if (range <= 2 * uint64_t(n) + 8) {
    p.strategy = kDenseTable;
    p.min_value = uint32_t(lo);
    p.range = uint32_t(range);
  } else if (n > kBinaryMax && build_hash(g, &p)) {
    p.strategy = kHash;
  } else {
    p.strategy = kBinarySearch;
  }
}

// Hash and displace: bucket = h1(key), slot = h2(key) ^ disp[bucket]. Buckets
// are placed largest first, each at the first displacement whose slots are
// all free. About two keys per bucket and half the slots empty make a
// placement likely at the first multipliers; after kHashAttempts the group
// falls back to binary search.
bool FilterCompiler::build_hash(uint32_t g, Plan* p) {
  const TreeGroup& grp = tree_->group(g);
  uint32_t n = grp.nedges;
  uint8_t bb = ceil_log2((n + 1) / 2), bs = ceil_log2(2 * n);
  uint32_t nb = 1u << bb, ns = 1u << bs;
  if (ndisp_ + nb > sizeof(disp_) / sizeof(disp_[0]) || ns > sizeof(slot_edge_) / sizeof(slot_edge_[0])) return false;
  uint8_t width = grp.key.width;
  for (uint32_t attempt = 0; attempt < kHashAttempts; attempt++) {
    uint32_t m1 = multiplier(2 * attempt), m2 = multiplier(2 * attempt + 1);
    // Edges sorted by bucket (counting sort) into keys_.
    for (uint32_t b = 0; b <= nb; b++) bucket_start_[b] = 0;
    uint32_t largest = 0;
    for (uint32_t i = 0; i < n; i++) {
      uint32_t b = hash(raw(tree_->edge(grp.first_edge + i).value, width), m1, bb);
      if (++bucket_start_[b + 1] > largest) largest = bucket_start_[b + 1];
    }
    for (uint32_t b = 0; b < nb; b++) bucket_start_[b + 1] += bucket_start_[b];
    for (uint32_t b = 0; b < nb; b++) disp_[ndisp_ + b] = 0;  // fill cursor, then displacement
    for (uint32_t i = 0; i < n; i++) {
      uint32_t b = hash(raw(tree_->edge(grp.first_edge + i).value, width), m1, bb);
      keys_[bucket_start_[b] + disp_[ndisp_ + b]++] = i;
    }
    for (uint32_t s = 0; s < ns; s++) slot_edge_[s] = kNone;
    bool ok = true;
    for (uint32_t size = largest; ok && size > 0; size--) {
      for (uint32_t b = 0; ok && b < nb; b++) {
        uint32_t first = bucket_start_[b], count = bucket_start_[b + 1] - first;
        if (count != size) continue;
        // Keys of one bucket need distinct second hashes.
        for (uint32_t x = 0; ok && x < count; x++)
          for (uint32_t y = x + 1; ok && y < count; y++)
            ok = hash(raw(tree_->edge(grp.first_edge + keys_[first + x]).value, width), m2, bs) !=
                 hash(raw(tree_->edge(grp.first_edge + keys_[first + y]).value, width), m2, bs);
        if (!ok) break;
        uint32_t d = 0;
        for (; d < ns; d++) {
          bool free = true;
          for (uint32_t x = 0; free && x < count; x++)
            free = slot_edge_[hash(raw(tree_->edge(grp.first_edge + keys_[first + x]).value, width), m2, bs) ^ d] ==
                   kNone;
          if (free) break;
        }
        if (d == ns) {
          ok = false;
          break;
        }
        for (uint32_t x = 0; x < count; x++)
          slot_edge_[hash(raw(tree_->edge(grp.first_edge + keys_[first + x]).value, width), m2, bs) ^ d] =
              keys_[first + x];
        disp_[ndisp_ + b] = uint16_t(d);
      }
    }
    if (!ok) continue;
    for (uint32_t b = 0; b < nb; b++)
      if (bucket_start_[b + 1] == bucket_start_[b]) disp_[ndisp_ + b] = 0;
    p->m1 = m1;
    p->m2 = m2;
    p->bucket_bits = bb;
    p->slot_bits = bs;
    p->disp_first = ndisp_;
    ndisp_ += nb;
    return true;
  }
  return false;
}

void FilterCompiler::emit_pass(uint8_t* buf, size_t cap) {
  Assembler as(buf, cap);
  as_ = &as;
  nlabels_ = 0;
  ntables_ = 0;
  as.alu_imm(OR, false, RAX, -1);  // eax = kFilterNoMatch: the best match so far
  ret_label_ = new_label();
  State s{false, true, kFilterNoMatch, 0, 0, 0};
  emit_node(tree_->root(), s, kFilterNoMatch, ret_label_);
  bind(ret_label_);
  as.ret();
  emit_tables();
  if (as.overflowed()) failed_ = true;
  as_size_ = as.size();
  as_ = nullptr;
}

FilterCompiler::State FilterCompiler::join(State a, State b) {
  if (a.dead) return b;
  if (b.dead) return a;
  State r;
  r.dead = false;
  r.exact = a.exact && b.exact && a.best == b.best;
  r.best = a.best > b.best ? a.best : b.best;
  r.proven_abs = a.proven_abs < b.proven_abs ? a.proven_abs : b.proven_abs;
  r.shift_id = a.shift_id == b.shift_id ? a.shift_id : 0;
  r.proven_rel = r.shift_id ? (a.proven_rel < b.proven_rel ? a.proven_rel : b.proven_rel) : 0;
  return r;
}

FilterCompiler::State FilterCompiler::leaf(uint32_t id, State s) {
  if (id >= s.best) return s;  // eax already holds something no larger
  if (s.exact) {
    as_->mov_imm32(RAX, id);
  } else {
    as_->mov_imm32(RDX, id);
    as_->alu(CMP, false, RAX, RDX);
    as_->cmov(A, false, RAX, RDX);
  }
  s.best = id;
  return s;
}

// Leaves a node: return at once if nothing still pending can beat the best
// match, else go on to the continuation.
FilterCompiler::State FilterCompiler::end_of_node(State s, uint32_t pending, uint32_t cont) {
  if (s.dead) return s;
  if (s.best <= pending || cont == ret_label_) {
    as_->ret();
    s.dead = true;
  } else {
    as_->jmp(label(cont));
  }
  return s;
}

FilterCompiler::State FilterCompiler::emit_node(uint32_t n, State s, uint32_t pending, uint32_t cont) {
  const TreeNode& node = tree_->node(n);
  if (node.accept != kFilterNoMatch) s = leaf(node.accept, s);
  for (uint32_t k = 0; k < node.ngroups; k++) {
    uint32_t g = node.first_group + k;
    const TreeGroup& grp = tree_->group(g);
    if (s.best <= grp.min_id) break;  // this group and the ones after cannot win
    uint32_t next = new_label();
    uint32_t pend = pending;
    if (k + 1 < node.ngroups && tree_->group(g + 1).min_id < pend) pend = tree_->group(g + 1).min_id;
    if (!s.exact) {
      as_->alu_imm(CMP, false, RAX, int32_t(grp.min_id));
      as_->jcc(BE, label(next));
    }
    // Paths that fail inside the group keep what held before it, except
    // that r8 may already hold this group's header start.
    State fail_state = s;
    if (grp.key.shift_id && grp.key.shift_id != s.shift_id) fail_state.shift_id = fail_state.proven_rel = 0;
    State out = emit_group(g, s, pend, next);
    bind(next);
    s = join(fail_state, out);
  }
  return end_of_node(s, pending, cont);
}

FilterCompiler::State FilterCompiler::emit_group(uint32_t g, State s, uint32_t pending, uint32_t fail) {
  const TreeGroup& grp = tree_->group(g);
  const TreeKey& key = grp.key;
  Plan& p = plans_[g];
  Assembler& as = *as_;
  if (s.proven_abs < grp.need_abs) {
    as.alu_imm(CMP, false, RSI, grp.need_abs);
    as.jcc(B, label(fail));
    s.proven_abs = grp.need_abs;
  }
  Mem m{RDI, key.offset};
  if (key.shift_id) {
    if (s.shift_id != key.shift_id) {
      const FilterShift& spec = tree_->shift_spec(key.shift_id);
      as.load(1, R8, Mem{RDI, spec.offset});
      as.alu_imm(AND, false, R8, spec.mask);
      if (spec.shift <= 3) {
        as.lea(false, R8, Mem{NONE, spec.base, R8, spec.shift});
      } else {
        as.shift_imm(SHL, false, R8, spec.shift);
        as.alu_imm(ADD, false, R8, spec.base);
      }
      s.shift_id = key.shift_id;
      s.proven_rel = 0;
    }
    if (s.proven_rel < grp.need_rel) {
      as.lea(false, RDX, Mem{R8, grp.need_rel});
      as.alu(CMP, false, RSI, RDX);
      as.jcc(B, label(fail));
      s.proven_rel = grp.need_rel;
    }
    m = Mem{RDI, key.offset, R8, 0};
  }

  const uint32_t n = grp.nedges;
  const bool full_mask = key.mask == width_mask(key.width);
  auto load_value = [&](bool host_order) {
    as.load(key.width, RDX, m);
    if (!full_mask) as.alu_imm(AND, false, RDX, int32_t(raw(key.mask, key.width)));
    if (host_order && key.width == 2) as.rol16_8(RDX);
    if (host_order && key.width == 4) as.bswap(false, RDX);
  };
  auto child = [&](uint32_t i) { return tree_->edge(grp.first_edge + i).child; };
  auto value = [&](uint32_t i) { return tree_->edge(grp.first_edge + i).value; };
  // A table of results can replace the children when each child only
  // accepts and the code may return right after.
  auto results_fit = [&](bool misses) {
    if (!s.exact || (misses && s.best > pending)) return false;
    for (uint32_t i = 0; i < n; i++) {
      const TreeNode& c = tree_->node(child(i));
      uint32_t r = c.accept < s.best ? c.accept : s.best;
      if (c.ngroups != 0 || r > pending) return false;
    }
    return true;
  };

  State out{true, false, 0, 0, 0, 0};
  switch (p.strategy) {
    case kLinear: {
      if (n == 1) {
        if (full_mask) {
          as.cmp_mem_imm(key.width, m, int32_t(raw(value(0), key.width)));
        } else if (value(0) == 0) {
          as.test_mem_imm(key.width, m, int32_t(raw(key.mask, key.width)));
        } else {
          load_value(false);
          as.alu_imm(CMP, false, RDX, int32_t(raw(value(0), key.width)));
        }
        as.jcc(NE, label(fail));
        out = join(out, emit_node(child(0), s, pending, fail));
        break;
      }
      load_value(false);
      uint32_t first = nlabels_;
      for (uint32_t i = 0; i < n; i++) new_label();
      for (uint32_t i = 0; i < n; i++) {
        as.alu_imm(CMP, false, RDX, int32_t(raw(value(i), key.width)));
        as.jcc(E, label(first + i));
      }
      as.jmp(label(fail));
      for (uint32_t i = 0; i < n; i++) {
        bind(first + i);
        out = join(out, emit_node(child(i), s, pending, fail));
      }
      break;
    }
    case kDenseTable: {
      load_value(true);
      if (p.min_value) as.alu_imm(SUB, false, RDX, int32_t(p.min_value));
      as.alu_imm(CMP, false, RDX, int32_t(p.range));
      as.jcc(AE, label(fail));
      p.table_label = new_label();
      p.fail_label = fail;
      p.leaf_table = results_fit(p.range > n);
      p.miss_result = s.best;
      table_groups_[ntables_++] = g;
      as.lea_rip(RCX, int32_t(int64_t(label(p.table_label)) - int64_t(as.size() + Assembler::kLeaRipSize)));
      if (p.leaf_table) {
        as.load(4, RAX, Mem{RCX, 0, RDX, 2});
        as.ret();
        break;
      }
      p.first_child_label = nlabels_;
      for (uint32_t i = 0; i < n; i++) new_label();
      as.movsxd_load(RDX, Mem{RCX, 0, RDX, 2});
      as.alu(ADD, true, RDX, RCX);
      as.jmp_reg(RDX);
      for (uint32_t i = 0; i < n; i++) {
        bind(p.first_child_label + i);
        out = join(out, emit_node(child(i), s, pending, fail));
      }
      break;
    }
    case kBinarySearch: {
      load_value(true);
      uint32_t first = nlabels_;
      for (uint32_t i = 0; i < n; i++) new_label();
      emit_binary(g, 0, n, fail, first);
      for (uint32_t i = 0; i < n; i++) {
        bind(first + i);
        out = join(out, emit_node(child(i), s, pending, fail));
      }
      break;
    }
    case kHash: {
      load_value(false);
      p.table_label = new_label();
      p.fail_label = fail;
      p.leaf_table = results_fit(true);
      p.miss_result = s.best;
      table_groups_[ntables_++] = g;
      int32_t slots = int32_t(((2u << p.bucket_bits) + 7) & ~7u);
      as.lea_rip(RCX, int32_t(int64_t(label(p.table_label)) - int64_t(as.size() + Assembler::kLeaRipSize)));
      as.imul_imm(false, R9, RDX, int32_t(p.m1));
      as.shift_imm(SHR, false, R9, uint8_t(32 - p.bucket_bits));
      as.load(2, R9, Mem{RCX, 0, R9, 1});
      as.imul_imm(false, R10, RDX, int32_t(p.m2));
      as.shift_imm(SHR, false, R10, uint8_t(32 - p.slot_bits));
      as.alu(XOR, false, R10, R9);
      as.cmp_mem_reg(Mem{RCX, slots, R10, 3}, RDX);
      as.jcc(NE, label(fail));
      if (p.leaf_table) {
        as.load(4, RAX, Mem{RCX, slots + 4, R10, 3});
        as.ret();
        break;
      }
      p.first_child_label = nlabels_;
      for (uint32_t i = 0; i < n; i++) new_label();
      as.movsxd_load(RDX, Mem{RCX, slots + 4, R10, 3});
      as.alu(ADD, true, RDX, RCX);
      as.jmp_reg(RDX);
      for (uint32_t i = 0; i < n; i++) {
        bind(p.first_child_label + i);
        out = join(out, emit_node(child(i), s, pending, fail));
      }
      break;
    }
  }
  return out;
}

// Binary search over the (host-order) values of edges [lo, hi) in edx.
void FilterCompiler::emit_binary(uint32_t g, uint32_t lo, uint32_t hi, uint32_t fail, uint32_t first_child) {
  const TreeGroup& grp = tree_->group(g);
  Assembler& as = *as_;
  if (hi - lo <= 3) {
    for (uint32_t i = lo; i < hi; i++) {
      as.alu_imm(CMP, false, RDX, int32_t(tree_->edge(grp.first_edge + i).value));
      as.jcc(E, label(first_child + i));
    }
    as.jmp(label(fail));
    return;
  }
  uint32_t mid = (lo + hi) / 2;
  as.alu_imm(CMP, false, RDX, int32_t(tree_->edge(grp.first_edge + mid).value));
  as.jcc(E, label(first_child + mid));
  uint32_t left = new_label();
  as.jcc(B, label(left));
  emit_binary(g, mid + 1, hi, fail, first_child);
  bind(left);
  emit_binary(g, lo, mid, fail, first_child);
}

// The tables of dense and hashed switches, after the code (read-only data in
// the same sealed memory). Jump entries are offsets from the table's start.
void FilterCompiler::emit_tables() {
  Assembler& as = *as_;
  for (uint32_t t = 0; t < ntables_; t++) {
    uint32_t g = table_groups_[t];
    const TreeGroup& grp = tree_->group(g);
    const Plan& p = plans_[g];
    while (as.size() % 8) as.byte(0xCC);
    bind(p.table_label);
    int64_t base = label(p.table_label);
    auto entry = [&](uint32_t edge) -> uint32_t {  // kNone: a miss
      if (edge == kNone) return p.leaf_table ? p.miss_result : uint32_t(int64_t(label(p.fail_label)) - base);
      if (p.leaf_table) {
        uint32_t id = tree_->node(tree_->edge(grp.first_edge + edge).child).accept;
        return id < p.miss_result ? id : p.miss_result;
      }
      return uint32_t(int64_t(label(p.first_child_label + edge)) - base);
    };
    if (p.strategy == kDenseTable) {
      uint32_t e = 0;
      for (uint32_t j = 0; j < p.range; j++) {
        bool hit = e < grp.nedges && tree_->edge(grp.first_edge + e).value == p.min_value + j;
        as.u32(entry(hit ? e : kNone));
        if (hit) e++;
      }
      continue;
    }
    uint32_t nb = 1u << p.bucket_bits, ns = 1u << p.slot_bits;
    for (uint32_t b = 0; b < nb; b++) as.u16(disp_[p.disp_first + b]);
    while (as.size() % 8) as.byte(0);
    for (uint32_t i = 0; i < ns; i++) slot_edge_[i] = kNone;
    for (uint32_t i = 0; i < grp.nedges; i++) {
      uint32_t k = raw(tree_->edge(grp.first_edge + i).value, grp.key.width);
      slot_edge_[hash(k, p.m2, p.slot_bits) ^ disp_[p.disp_first + hash(k, p.m1, p.bucket_bits)]] = i;
    }
    for (uint32_t i = 0; i < ns; i++) {
      uint32_t e = slot_edge_[i];
      as.u32(e == kNone ? 0 : raw(tree_->edge(grp.first_edge + e).value, grp.key.width));
      as.u32(entry(e));
    }
  }
}

}  // namespace veneer::net
