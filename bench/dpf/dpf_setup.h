// What both DPF benchmark programs set up: K "UDP destination port" filters
// installed in Veneer's filter set, the same K filters as libpcap programs
// (one pcap_compile per port, tried in turn), a frame matching the last one
// installed, and the UDP echo handler (apps/udp_echo/echo_handler.c) loaded
// from its BPF object.
#pragma once

#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "exos/filter.h"
#include "exos/handler_elf.h"
#include "kernel/net/filter_set.h"
#include "kernel/net/handler.h"
#include "tests/support/host_code_memory.h"

namespace dpf_bench {

using namespace veneer;
using namespace veneer::net;

// K distinct ports, spread over the whole range (a fixed seed).
inline std::vector<uint16_t> ports(uint32_t k) {
  std::mt19937 rng(1996);
  std::vector<uint16_t> out;
  std::vector<bool> used(65536);
  while (out.size() < k) {
    uint16_t p = uint16_t(1 + rng() % 65535);
    if (!used[p]) used[p] = true, out.push_back(p);
  }
  return out;
}

// Ethernet + IPv4 (no options) + UDP to `port`, 64 bytes of payload.
inline std::vector<uint8_t> udp_frame(uint16_t port) {
  std::vector<uint8_t> f(14 + 20 + 8 + 64, 0);
  for (int i = 0; i < 6; i++) f[i] = uint8_t(0x02 + i), f[6 + i] = uint8_t(0x12 + i);
  f[12] = 0x08;
  f[14] = 0x45;
  uint16_t ip_len = uint16_t(f.size() - 14);
  f[16] = uint8_t(ip_len >> 8), f[17] = uint8_t(ip_len);
  f[22] = 64, f[23] = 17;
  f[26] = 10, f[29] = 2, f[30] = 10, f[33] = 1;
  f[34] = 0x30, f[35] = 0x39;  // source port 12345
  f[36] = uint8_t(port >> 8), f[37] = uint8_t(port);
  f[38] = 0, f[39] = 72;
  for (size_t i = 42; i < f.size(); i++) f[i] = uint8_t(i);
  return f;
}

struct Filters {
  test::HostCodeMemory code;
  std::unique_ptr<FilterSet> set = std::make_unique<FilterSet>();
  std::vector<bpf_program> pcap;
  std::vector<uint8_t> frame;
  uint32_t expect = 0;

  explicit Filters(uint32_t k) {
    if (!set->init(&code.memory)) abort();
    std::vector<uint16_t> p = ports(k);
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
    for (uint32_t i = 0; i < k; i++) {
      exos::FilterBuilder b;
      b.udp_dst_port(p[i]);
      uint32_t id;
      if (set->install(0x100 + i, b.filter(), &id) != OK) abort();
      bpf_program prog;
      std::string expr = "udp dst port " + std::to_string(p[i]);
      if (pcap_compile(dead, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) abort();
      pcap.push_back(prog);
    }
    pcap_close(dead);
    frame = udp_frame(p[k - 1]);
    expect = k - 1;
    // All three agree before anything is measured.
    if (set->classify(frame.data(), uint32_t(frame.size())) != expect ||
        set->interpret(frame.data(), uint32_t(frame.size())) != expect || libpcap(frame.data(), frame.size()) != expect) {
      fprintf(stderr, "dpf bench: classifiers disagree for K=%u\n", k);
      abort();
    }
  }
  ~Filters() {
    for (bpf_program& p : pcap) pcap_freecode(&p);
    set->destroy();
  }
  // A kernel without merging: every program in turn until one accepts.
  uint32_t libpcap(const uint8_t* f, size_t len) const {
    for (uint32_t i = 0; i < pcap.size(); i++)
      if (bpf_filter(pcap[i].bf_insns, f, uint32_t(len), uint32_t(len))) return i;
    return kFilterNoMatch;
  }
};

struct Echo {
  test::HostCodeMemory code;
  std::unique_ptr<Verifier> verifier = std::make_unique<Verifier>();
  std::unique_ptr<HandlerJit> jit = std::make_unique<HandlerJit>();
  std::vector<uint64_t> object;
  Handler handler;
  std::vector<uint8_t> frame = udp_frame(7);
  std::vector<uint8_t> buffer = std::vector<uint8_t>(2048);
  uint8_t stack[kHandlerStackSize];
  uint64_t sent = 0;
  HandlerHost host{this, [](void* c, const uint8_t*, uint32_t n) -> int64_t {
                     static_cast<Echo*>(c)->sent += n;
                     return 0;
                   },
                   [](void*, uint64_t) {}};

  explicit Echo(const char* path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    std::string bytes = s.str();
    object.resize((bytes.size() + 7) / 8);
    memcpy(object.data(), bytes.data(), bytes.size());
    const BpfInsn* insns;
    uint32_t n;
    const char* why = exos::handler_from_elf(object.data(), bytes.size(), "handler", &insns, &n);
    if (why) {
      fprintf(stderr, "dpf bench: %s: %s\n", path, why);
      abort();
    }
    if (handler.load(insns, n, 2048, *verifier, *jit, &code.memory) != OK) abort();
    if (run_jit() != VENEER_ASH_CONSUMED || run_interpreter() != VENEER_ASH_CONSUMED) abort();
  }
  uint64_t run_jit() { return handler.run(frame.data(), uint32_t(frame.size()), buffer.data(), stack, &host); }
  uint64_t run_interpreter() {
    return handler.interpret(frame.data(), uint32_t(frame.size()), buffer.data(), stack, &host);
  }
};

}  // namespace dpf_bench
