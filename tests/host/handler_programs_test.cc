// Handlers written in C (tests/handlers/), compiled by clang -target bpf at
// build time, loaded from their ELF section by ExOS's loader, verified,
// JIT-compiled and run on sample frames; the interpreter must agree.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "exos/handler_elf.h"
#include "kernel/net/handler.h"
#include "tests/support/host_code_memory.h"

using namespace veneer;
using namespace veneer::net;

namespace {

// An object file, 8-byte aligned as the loader wants.
struct Object {
  std::vector<uint64_t> words;
  size_t size = 0;
  explicit Object(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    std::string bytes = s.str();
    size = bytes.size();
    words.resize((size + 7) / 8);
    memcpy(words.data(), bytes.data(), size);
  }
};

std::string handler_path(const char* name) { return std::string(VENEER_HANDLER_DIR) + "/" + name + ".o"; }

struct Sent {
  std::vector<std::vector<uint8_t>> frames;
  std::vector<uint64_t> wakes;
  int64_t answer = 0;
};

HandlerHost host_for(Sent* s) {
  return HandlerHost{s,
                     [](void* c, const uint8_t* f, uint32_t n) {
                       auto* sent = static_cast<Sent*>(c);
                       sent->frames.emplace_back(f, f + n);
                       return sent->answer;
                     },
                     [](void* c, uint64_t v) { static_cast<Sent*>(c)->wakes.push_back(v); }};
}

class HandlerProgram : public ::testing::Test {
 protected:
  // Loads the handler `name` for a buffer of `buffer` bytes.
  void load(const char* name, uint32_t buffer) {
    object = std::make_unique<Object>(handler_path(name));
    ASSERT_GT(object->size, 0u) << "missing " << handler_path(name);
    const BpfInsn* insns = nullptr;
    uint32_t count = 0;
    const char* why = exos::handler_from_elf(object->words.data(), object->size, "handler", &insns, &count);
    ASSERT_EQ(why, nullptr) << why;
    VerifyResult r;
    ASSERT_EQ(handler.load(insns, count, buffer, *verifier, *jit, &code.memory, &r), OK)
        << status_name(r.status) << " at instruction " << r.insn;
    result = r;
    EXPECT_TRUE(veneer::test::is_sealed(reinterpret_cast<const void*>(handler.entry()), handler.code_size()));
  }
  // Runs on the JIT and on the interpreter with fresh copies of `buffer`;
  // both must return the same, send the same and leave the same buffer.
  uint64_t run(const std::vector<uint8_t>& frame, std::vector<uint8_t>* buffer, Sent* sent) {
    std::vector<uint8_t> interp_buffer = *buffer;
    Sent by_jit, by_interp;
    by_jit.answer = by_interp.answer = sent->answer;
    HandlerHost jit_host = host_for(&by_jit), interp_host = host_for(&by_interp);
    uint8_t stack_j[kHandlerStackSize], stack_i[kHandlerStackSize];
    uint64_t a = handler.run(frame.data(), uint32_t(frame.size()), buffer->data(), stack_j, &jit_host);
    uint64_t b = handler.interpret(frame.data(), uint32_t(frame.size()), interp_buffer.data(), stack_i, &interp_host);
    EXPECT_EQ(a, b);
    EXPECT_EQ(*buffer, interp_buffer);
    EXPECT_EQ(by_jit.frames, by_interp.frames);
    EXPECT_EQ(by_jit.wakes, by_interp.wakes);
    sent->frames.insert(sent->frames.end(), by_jit.frames.begin(), by_jit.frames.end());
    sent->wakes.insert(sent->wakes.end(), by_jit.wakes.begin(), by_jit.wakes.end());
    return a;
  }

  std::unique_ptr<Verifier> verifier = std::make_unique<Verifier>();
  std::unique_ptr<HandlerJit> jit = std::make_unique<HandlerJit>();
  veneer::test::HostCodeMemory code;
  std::unique_ptr<Object> object;
  Handler handler;
  VerifyResult result;
};

// Ethernet + IPv4 (IHL words) + UDP + payload; a correct UDP checksum.
std::vector<uint8_t> udp_frame(uint16_t src_port, uint16_t dst_port, const std::string& payload, uint8_t ihl = 5) {
  size_t ip = 14, udp = ip + 4 * ihl, total = udp + 8 + payload.size();
  std::vector<uint8_t> f(total, 0);
  const uint8_t dst_mac[6] = {2, 0, 0, 0, 0, 1}, src_mac[6] = {2, 0, 0, 0, 0, 2};
  memcpy(&f[0], dst_mac, 6);
  memcpy(&f[6], src_mac, 6);
  f[12] = 0x08;
  f[ip] = uint8_t(0x40 | ihl);
  uint16_t ip_len = uint16_t(total - ip);
  f[ip + 2] = uint8_t(ip_len >> 8), f[ip + 3] = uint8_t(ip_len);
  f[ip + 8] = 17;  // TTL
  f[ip + 9] = 17;  // UDP
  const uint8_t saddr[4] = {10, 0, 0, 2}, daddr[4] = {10, 0, 0, 1};
  memcpy(&f[ip + 12], saddr, 4);
  memcpy(&f[ip + 16], daddr, 4);
  uint32_t ip_sum = ones_complement_sum(&f[ip], 4 * ihl, 0);
  f[ip + 10] = uint8_t(~ip_sum >> 8), f[ip + 11] = uint8_t(~ip_sum);
  f[udp] = uint8_t(src_port >> 8), f[udp + 1] = uint8_t(src_port);
  f[udp + 2] = uint8_t(dst_port >> 8), f[udp + 3] = uint8_t(dst_port);
  uint16_t udp_len = uint16_t(8 + payload.size());
  f[udp + 4] = uint8_t(udp_len >> 8), f[udp + 5] = uint8_t(udp_len);
  memcpy(&f[udp + 8], payload.data(), payload.size());
  uint32_t pseudo = ones_complement_sum(&f[ip + 12], 8, 17 + udp_len);
  uint32_t sum = ones_complement_sum(&f[udp], udp_len, pseudo);
  uint16_t check = uint16_t(~sum);
  f[udp + 6] = uint8_t(check >> 8), f[udp + 7] = uint8_t(check);
  return f;
}

}  // namespace

TEST_F(HandlerProgram, UdpEchoAnswersInTheKernel) {
  load("udp_echo", 2048);
  EXPECT_GT(result.max_path, 100u);
  std::vector<uint8_t> buffer(2048, 0xEE);
  Sent sent;
  std::vector<uint8_t> in = udp_frame(5353, 7, "hello, exokernel");
  ASSERT_EQ(run(in, &buffer, &sent), uint64_t(VENEER_ASH_CONSUMED));
  ASSERT_EQ(sent.frames.size(), 1u);
  const std::vector<uint8_t>& out = sent.frames[0];
  ASSERT_EQ(out.size(), in.size());
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 6, in.begin() + 6)) << "back to the sender's MAC";
  EXPECT_TRUE(std::equal(out.begin() + 6, out.begin() + 12, in.begin()));
  EXPECT_TRUE(std::equal(out.begin() + 26, out.begin() + 30, in.begin() + 30)) << "addresses swapped";
  EXPECT_TRUE(std::equal(out.begin() + 30, out.begin() + 34, in.begin() + 26));
  EXPECT_EQ(out[22], 64) << "TTL";
  EXPECT_EQ(ones_complement_sum(&out[14], 20, 0), 0xFFFFu) << "IP checksum valid";
  EXPECT_EQ(out[34] << 8 | out[35], 7) << "ports swapped";
  EXPECT_EQ(out[36] << 8 | out[37], 5353);
  EXPECT_EQ(out[40] << 8 | out[41], 0) << "no UDP checksum";
  EXPECT_EQ(std::string(out.begin() + 42, out.end()), "hello, exokernel");

  // What it leaves to the env: other protocols, IP options, lies about the
  // length, a refused send.
  std::vector<uint8_t> tcp = in;
  tcp[23] = 6;
  std::vector<uint8_t> options = udp_frame(1, 7, "x", 6);
  std::vector<uint8_t> truncated(in.begin(), in.end() - 3);
  std::vector<uint8_t> tiny(in.begin(), in.begin() + 41);
  for (const auto* f : {&tcp, &options, &truncated, &tiny}) {
    Sent none;
    EXPECT_EQ(run(*f, &buffer, &none), uint64_t(VENEER_ASH_DELIVER));
    EXPECT_TRUE(none.frames.empty());
  }
  Sent refusing;
  refusing.answer = -1;
  EXPECT_EQ(run(in, &buffer, &refusing), uint64_t(VENEER_ASH_DELIVER));
  // The largest frame that fits.
  Sent big;
  std::vector<uint8_t> jumbo = udp_frame(9, 7, std::string(1472, 'z'));
  ASSERT_EQ(jumbo.size(), kHandlerMaxFrame);
  EXPECT_EQ(run(jumbo, &buffer, &big), uint64_t(VENEER_ASH_CONSUMED));
  ASSERT_EQ(big.frames.size(), 1u);
  EXPECT_EQ(big.frames[0].size(), kHandlerMaxFrame);
}

TEST_F(HandlerProgram, PortCounterCountsAndWakesTheEnv) {
  load("port_counter", 257 * 4);
  std::vector<uint8_t> buffer(257 * 4, 0);
  std::vector<uint32_t> expect(257, 0);
  Sent sent;
  for (uint32_t i = 0; i < 2100; i++) {
    uint16_t port = uint16_t((i * 37) % 700);
    uint8_t ihl = (i % 5 == 0) ? uint8_t(5 + i % 11) : 5;
    std::string payload(i % 3 ? 40 : 0, 'p');  // short frames take only the no-options path
    std::vector<uint8_t> f = udp_frame(1000, port, payload, ihl);
    bool counted = f.size() >= 14 + 60 + 8 || ihl == 5;
    EXPECT_EQ(run(f, &buffer, &sent), uint64_t(counted ? VENEER_ASH_CONSUMED : VENEER_ASH_DELIVER)) << i;
    if (counted) expect[port % 256]++, expect[256]++;
  }
  std::vector<uint8_t> arp = udp_frame(1, 2, "");
  arp[12] = 0x08, arp[13] = 0x06;
  EXPECT_EQ(run(arp, &buffer, &sent), uint64_t(VENEER_ASH_DELIVER));
  for (uint32_t k = 0; k < 257; k++) {
    uint32_t got;
    memcpy(&got, &buffer[4 * k], 4);
    EXPECT_EQ(got, expect[k]) << "bucket " << k;
  }
  std::vector<uint64_t> wakes;
  for (uint64_t t = 1024; t <= expect[256]; t += 1024) wakes.push_back(t);
  EXPECT_EQ(sent.wakes, wakes);
}

TEST_F(HandlerProgram, UdpChecksumLoopsOverTheSegment) {
  load("udp_checksum", 0);
  // The loop runs once per 16-bit word of a frame of up to 1514 bytes.
  EXPECT_GT(result.max_path, 700u * 10);
  EXPECT_LE(result.max_path, kHandlerMaxPath);
  Sent sent;
  std::vector<uint8_t> none;
  for (size_t n : {0, 1, 2, 17, 100, 1000, 1471, 1472}) {
    std::vector<uint8_t> f = udp_frame(4000, 53, std::string(n, char('a' + n % 26)));
    EXPECT_EQ(run(f, &none, &sent), 0xFFFFu) << n;
    f[n ? 42 + n / 2 : 35] ^= 0x10;  // flip a bit (in the header when there is no payload)
    EXPECT_NE(run(f, &none, &sent), 0xFFFFu) << n;
  }
  std::vector<uint8_t> f = udp_frame(4000, 53, "abc");
  f[38] = 0x40;  // UDP length past the frame
  EXPECT_EQ(run(f, &none, &sent), 0x10000u);
  f = udp_frame(4000, 53, "abc");
  f.resize(40);
  EXPECT_EQ(run(f, &none, &sent), 0x10000u);
}

TEST(HandlerElf, LoaderRefusesWhatItCannotLoad) {
  const BpfInsn* insns;
  uint32_t count;
  Object global(handler_path("uses_global"));
  ASSERT_GT(global.size, 0u);
  const char* why = exos::handler_from_elf(global.words.data(), global.size, "handler", &insns, &count);
  ASSERT_NE(why, nullptr);
  EXPECT_NE(std::string(why).find("relocations"), std::string::npos) << why;
  Object echo(handler_path("udp_echo"));
  why = exos::handler_from_elf(echo.words.data(), echo.size, "no_such_section", &insns, &count);
  EXPECT_STREQ(why, "no such section");
  why = exos::handler_from_elf(echo.words.data(), 40, "handler", &insns, &count);
  EXPECT_NE(why, nullptr) << "truncated file";
  Object self("/proc/self/exe");
  why = exos::handler_from_elf(self.words.data(), self.size, "handler", &insns, &count);
  EXPECT_STREQ(why, "not an eBPF object");
  uint64_t junk[16] = {0x1234};
  EXPECT_STREQ(exos::handler_from_elf(junk, sizeof junk, "handler", &insns, &count), "not a little-endian ELF64 file");
}
