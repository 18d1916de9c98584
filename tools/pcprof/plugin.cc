// A QEMU TCG plugin that counts, inside windows the guest opens and closes,
// how many times each guest instruction executes, and how many of them are
// TLB work (CR3 writes, invlpg) that -icount cannot show the cost of.
//
// Markers (7-byte nops: 0f 1f 80 XX 4d 4b 56, `nopl 0x564B4DXX(%rax)`; not
// counted): XX = 1 opens a window (counts reset), 2 closes it and writes
//   W <index> <instructions> <cr3 writes> <invlpgs>
//   <pc> <count> <disassembly>      (one line per instruction executed)
// to the file named by the plugin argument out=PATH. Under -icount
// shift=0 a window's instruction count equals the rdtsc delta the benchmark
// sees. Used by bench/profile.sh.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "qemu_plugin_api.h"

extern "C" {
QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;
}

namespace {

enum Kind : uint8_t { PLAIN, CR3_WRITE, INVLPG };

struct Insn {
  uint64_t pc;
  uint64_t count;
  Kind kind;
  std::string disas;
};

std::unordered_map<uint64_t, Insn*> by_pc;
std::vector<Insn*> insns;
bool active;
uint64_t window, total, cr3_writes, invlpgs;
FILE* out;

// mov %reg, %cr3 (0f 22 /r, reg field 3), optionally after a REX prefix;
// invlpg m (0f 01 /7, a memory operand).
Kind kind_of(const uint8_t* d, size_t n) {
  size_t i = (n > 0 && (d[0] & 0xF0) == 0x40) ? 1 : 0;
  if (n < i + 3 || d[i] != 0x0F) return PLAIN;
  uint8_t modrm = d[i + 2];
  if (d[i + 1] == 0x22 && ((modrm >> 3) & 7) == 3) return CR3_WRITE;
  if (d[i + 1] == 0x01 && ((modrm >> 3) & 7) == 7 && (modrm >> 6) != 3) return INVLPG;
  return PLAIN;
}

void on_insn(unsigned int, void* ud) {
  if (!active) return;
  Insn* r = static_cast<Insn*>(ud);
  r->count++;
  total++;
  cr3_writes += r->kind == CR3_WRITE;
  invlpgs += r->kind == INVLPG;
}

void on_marker(unsigned int, void* ud) {
  uint64_t command = reinterpret_cast<uint64_t>(ud);
  if (command == 1) {
    for (Insn* r : insns) r->count = 0;
    total = cr3_writes = invlpgs = 0;
    active = true;
  } else if (command == 2 && active) {
    active = false;
    fprintf(out, "W %lu %lu %lu %lu\n", window++, total, cr3_writes, invlpgs);
    for (Insn* r : insns)
      if (r->count) fprintf(out, "%lx %lu %s\n", r->pc, r->count, r->disas.c_str());
    fflush(out);
  }
}

bool is_marker(const uint8_t* d, size_t n) {
  return n == 7 && d[0] == 0x0F && d[1] == 0x1F && d[2] == 0x80 && d[4] == 0x4D && d[5] == 0x4B && d[6] == 0x56;
}

void on_translate(qemu_plugin_id_t, struct qemu_plugin_tb* tb) {
  for (size_t i = 0, n = qemu_plugin_tb_n_insns(tb); i < n; i++) {
    struct qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, i);
    const auto* d = static_cast<const uint8_t*>(qemu_plugin_insn_data(insn));
    size_t size = qemu_plugin_insn_size(insn);
    if (is_marker(d, size)) {
      qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS,
                                             reinterpret_cast<void*>(uint64_t(d[3])));
      continue;
    }
    uint64_t pc = qemu_plugin_insn_vaddr(insn);
    Insn*& r = by_pc[pc];
    if (!r) {
      char* dis = qemu_plugin_insn_disas(insn);
      r = new Insn{pc, 0, kind_of(d, size), dis ? dis : "?"};
      free(dis);
      insns.push_back(r);
    }
    qemu_plugin_register_vcpu_insn_exec_cb(insn, on_insn, QEMU_PLUGIN_CB_NO_REGS, r);
  }
}

}  // namespace

extern "C" QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t*, int argc,
                                                       char** argv) {
  const char* path = "pcprof.out";
  for (int i = 0; i < argc; i++)
    if (!strncmp(argv[i], "out=", 4)) path = argv[i] + 4;
  out = fopen(path, "w");
  if (!out) return 1;
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  return 0;
}
