// Guest tests: the network interface as a protected resource (abi.h,
// "Network"). Frames reach an env only through its own filter and ring;
// QEMU's user network (tools/qemu_args.py) is the real peer: its gateway
// answers ARP and ICMP echo.
#include "exos/net.h"
#include "guest_test.h"
#include "net_frames.h"

namespace {

using namespace veneer;
namespace n = guest::net;

constexpr uint64_t kRingVa = 0x00004C0000000000;
constexpr uint64_t kSendVa = 0x00004C1000000000;

guest::Mailbox* mailbox() { return reinterpret_cast<guest::Mailbox*>(guest::kMailboxVa); }
const NetInfo& info() { return exos::kernel_info().net; }

// A receive ring of `pages` frames this env owns, mapped at va.
struct Ring {
  uint64_t va;
  NetRingFrames frames;
  exos::Frame f[kNetRingMaxFrames];
  volatile NetRingHeader* header() const { return reinterpret_cast<volatile NetRingHeader*>(va); }
  // The next frame in the ring, or nullptr; consumed by pop().
  const NetCell* peek() const {
    if (header()->tail == header()->head) return nullptr;
    return reinterpret_cast<const NetCell*>(va + (header()->tail % header()->cells + 1) * kNetCellBytes);
  }
  void pop() { header()->tail = header()->tail + 1; }
};

Status make_ring(Ring* r, uint64_t va, uint64_t pages) {
  r->va = va;
  r->frames.count = pages;
  for (uint64_t i = 0; i < pages; i++) {
    if (Status s = exos::page_alloc(va + i * kPageSize, PERM_WRITE, &r->f[i]); s != OK) return s;
    r->frames.frames[i] = r->f[i].ref();
  }
  return OK;
}
void free_ring(Ring* r) {
  for (uint64_t i = 0; i < r->frames.count; i++) {
    exos::sys_page_unmap(kSelfSlot, r->va + i * kPageSize);
    exos::frame_free(r->f[i]);
  }
}

SysResult install(const Filter& f, const Ring& r, uint64_t flags = 0) {
  return exos::sys_net_filter_install(reinterpret_cast<uint64_t>(&f), reinterpret_cast<uint64_t>(&r.frames), flags);
}

// Waits (yielding: the frame comes in through the device's interrupt) until
// the ring holds a frame or the bound passes.
const NetCell* wait_frame(const Ring& r) {
  for (int i = 0; i < 2000000 && !r.peek(); i++) exos::yield();
  return r.peek();
}

// A page to build frames in, and its reference for net_send.
struct SendPage {
  exos::Frame f;
  uint8_t* bytes() const { return reinterpret_cast<uint8_t*>(kSendVa); }
};
Status make_send_page(SendPage* p) { return exos::page_alloc(kSendVa, PERM_WRITE, &p->f); }

volatile uint64_t net_upcalls, net_upcall_mask;

// Counts the interrupt upcalls from here on (net_upcalls, and the last
// error_code in net_upcall_mask).
void count_upcalls() {
  exos::set_exception_handler(kVecInterrupt, [](ExceptionFrame* f) {
    net_upcalls = net_upcalls + 1;
    net_upcall_mask = f->error_code;
  });
  net_upcalls = 0;
}

}  // namespace

TEST(network_calls_refuse_bad_input) {
  CHECK_EQ(info().present, 1);
  const uint8_t want_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};  // tools/qemu_args.py
  CHECK_EQ(memcmp(info().mac, want_mac, 6), 0);

  Ring r;
  CHECK_EQ(make_ring(&r, kRingVa, 2), OK);
  Filter f = n::frames_to_me(n::kEtherArp);
  // Each refusal with its status, and nothing installed.
  CHECK_STATUS(install(f, r, 2), ERR_INVALID_ARGS);  // unknown flag
  CHECK_STATUS(exos::sys_net_filter_install(0x1000, reinterpret_cast<uint64_t>(&r.frames), 0), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_net_filter_install(reinterpret_cast<uint64_t>(&f), 0xFFFF800000000000ull, 0), ERR_BAD_ADDRESS);
  Filter empty{};
  CHECK_STATUS(install(empty, r), ERR_FILTER_EMPTY);
  NetRingFrames saved = r.frames;
  r.frames.count = 0;
  CHECK_STATUS(install(f, r), ERR_INVALID_ARGS);
  r.frames.count = kNetRingMaxFrames + 1;
  CHECK_STATUS(install(f, r), ERR_INVALID_ARGS);
  // A ring frame the env does not own: a boot module's, the kernel's, none.
  r.frames = saved;
  r.frames.frames[1] = kFrameByPfn | exos::kernel_info().modules[0].first_pfn;
  CHECK_STATUS(install(f, r), ERR_ACCESS_DENIED);
  r.frames.frames[1] = kFrameByPfn | 0;
  CHECK_STATUS(install(f, r), ERR_ACCESS_DENIED);
  r.frames.frames[1] = kFrameByPfn | exos::kernel_info().nframes;
  CHECK_STATUS(install(f, r), ERR_OUT_OF_RANGE);
  // ... or one frame twice (its cells would overlap the header).
  r.frames = saved;
  r.frames.frames[1] = r.frames.frames[0];
  CHECK_STATUS(install(f, r), ERR_INVALID_ARGS);
  // ... or one it may only read.
  exos::Frame shared;
  CHECK_EQ(exos::shared_page_alloc(kRingVa + 4 * kPageSize, PERM_READ, &shared), OK);
  int64_t read_only = exos::slot_alloc();
  CHECK_STATUS(exos::sys_cap_grant(shared.slot, kSelfSlot, read_only, RIGHT_READ), OK);
  r.frames.frames[1] = read_only;
  CHECK_STATUS(install(f, r), ERR_ACCESS_DENIED);
  r.frames = saved;

  CHECK_STATUS(exos::sys_net_filter_remove(0), ERR_NOT_FOUND);
  CHECK_STATUS(exos::sys_net_filter_remove(~0ull), ERR_NOT_FOUND);
  // net_send: the length, the bounds of the frame, the source address, the frame's owner.
  SendPage p;
  CHECK_EQ(make_send_page(&p), OK);
  uint64_t len = n::arp_request(p.bytes());
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, 13), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, kNetMaxFrame + 1), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), kPageSize - 20, 42), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), ~0ull, 42), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_net_send(kFrameByPfn | 0, 0, 42), ERR_ACCESS_DENIED);
  p.bytes()[11] ^= 1;  // another host's source address
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), ERR_ACCESS_DENIED);
  p.bytes()[11] ^= 1;
  uint64_t sent = info().tx_frames;
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), OK);
  CHECK_EQ(info().tx_frames, sent + 1);

  // At most kNetMaxFiltersPerEnv filters per env.
  uint64_t ids[kNetMaxFiltersPerEnv];
  for (uint64_t i = 0; i < kNetMaxFiltersPerEnv; i++) {
    Filter g = n::frames_to_me(uint16_t(0x8800 + i));
    SysResult s = install(g, r);
    CHECK_STATUS(s, OK);
    ids[i] = s.value;
  }
  Filter one_more = n::frames_to_me(0x88FF);
  CHECK_STATUS(install(one_more, r), ERR_NO_RESOURCES);
  for (uint64_t id : ids) CHECK_STATUS(exos::sys_net_filter_remove(id), OK);
  CHECK_STATUS(exos::sys_net_filter_remove(ids[0]), ERR_NOT_FOUND);
  free_ring(&r);
  exos::sys_cap_delete(read_only);
  exos::slot_free(read_only);
  CHECK_EQ(exos::frame_free(shared), OK);
  CHECK_EQ(exos::frame_free(p.f), OK);
}

// ARP and ping to QEMU's gateway: a frame sent from the env's memory, the
// answer demultiplexed by its filters into its ring, with an upcall.
TEST(network_reaches_the_gateway) {
  count_upcalls();
  Ring arp, icmp;
  CHECK_EQ(make_ring(&arp, kRingVa, 2), OK);
  CHECK_EQ(make_ring(&icmp, kRingVa + 0x100000, 4), OK);
  CHECK_EQ(arp.header()->cells, 0u);
  SysResult a = install(n::frames_to_me(n::kEtherArp), arp, NET_RING_UPCALL);
  CHECK_STATUS(a, OK);
  CHECK_EQ(arp.header()->cells, 3u);  // two frames: the header's half page, then three cells
  SysResult b = install(n::frames_to_me(n::kEtherIpv4, 1), icmp);
  CHECK_STATUS(b, OK);
  CHECK_EQ(icmp.header()->cells, 7u);

  SendPage p;
  CHECK_EQ(make_send_page(&p), OK);
  uint64_t delivered = info().rx_delivered;
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, n::arp_request(p.bytes())), OK);
  const NetCell* c = wait_frame(arp);
  CHECK(c != nullptr);
  if (!c) return;
  CHECK(c->len >= 42);
  CHECK_EQ(n::get16(c->data + 12), n::kEtherArp);
  CHECK_EQ(n::get16(c->data + 20), 2);  // a reply
  CHECK_EQ(memcmp(c->data + 28, n::kGatewayIp, 4), 0);
  CHECK_EQ(memcmp(c->data + 32, n::my_mac(), 6), 0);
  uint8_t gateway[6];
  memcpy(gateway, c->data + 22, 6);
  arp.pop();
  CHECK(info().rx_delivered > delivered);
  CHECK(net_upcalls >= 1);
  CHECK_EQ(net_upcall_mask & kNetInterruptBit, kNetInterruptBit);

  // Three pings: each answered with the same identifier, sequence and
  // payload, into the ICMP ring only (no upcall asked for there).
  for (uint16_t seq = 1; seq <= 3; seq++) {
    uint64_t upcalls = net_upcalls;
    uint64_t len = n::icmp_echo(p.bytes(), gateway, 0x7E7E, seq, 100);
    CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), OK);
    const NetCell* e = wait_frame(icmp);
    CHECK(e != nullptr);
    if (!e) return;
    CHECK_EQ(e->len, len);
    const uint8_t* ip = e->data + 14;
    CHECK_EQ(ip[9], 1);
    CHECK_EQ(n::checksum(ip, 20), 0);  // a header with its checksum sums to zero
    CHECK_EQ(memcmp(ip + 12, n::kGatewayIp, 4), 0);
    const uint8_t* reply = ip + 20;
    CHECK_EQ(reply[0], 0);  // echo reply
    CHECK_EQ(n::get16(reply + 4), 0x7E7E);
    CHECK_EQ(n::get16(reply + 6), seq);
    CHECK_EQ(memcmp(reply + 8, p.bytes() + 14 + 20 + 8, 100), 0);
    CHECK_EQ(n::checksum(reply, 8 + 100), 0);
    icmp.pop();
    CHECK_EQ(net_upcalls, upcalls);
  }
  CHECK(arp.peek() == nullptr);  // nothing leaked into the other ring
  CHECK_STATUS(exos::sys_net_filter_remove(a.value), OK);
  CHECK_STATUS(exos::sys_net_filter_remove(b.value), OK);
  free_ring(&arp);
  free_ring(&icmp);
  CHECK_EQ(exos::frame_free(p.f), OK);
  exos::set_exception_handler(kVecInterrupt, nullptr);
}

// A full ring drops and counts; a lying tail loses the env its own frames,
// never more; a ring frame freed after the filter was installed is never
// written again.
TEST(network_rings_drop_what_they_cannot_take) {
  Ring r;
  CHECK_EQ(make_ring(&r, kRingVa, 1), OK);  // one cell
  SysResult a = install(n::frames_to_me(n::kEtherArp), r);
  CHECK_STATUS(a, OK);
  CHECK_EQ(r.header()->cells, 1u);
  SendPage p;
  CHECK_EQ(make_send_page(&p), OK);
  uint64_t len = n::arp_request(p.bytes());
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), OK);
  CHECK(wait_frame(r) != nullptr);
  uint64_t full = info().rx_ring_full;
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), OK);
  for (int i = 0; i < 2000000 && info().rx_ring_full == full; i++) exos::yield();
  CHECK_EQ(info().rx_ring_full, full + 1);
  CHECK_EQ(r.header()->dropped, 1u);
  CHECK_EQ(r.header()->head, 1u);
  // The env claims to have read more than there was: still full to the kernel.
  r.header()->tail = 5;
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), OK);
  for (int i = 0; i < 2000000 && info().rx_ring_full == full + 1; i++) exos::yield();
  CHECK_EQ(info().rx_ring_full, full + 2);
  CHECK_EQ(r.header()->head, 1u);

  // Freed: the frame goes back to the pool, and the kernel stops.
  r.header()->tail = 1;
  CHECK_STATUS(exos::sys_page_unmap(kSelfSlot, r.va), OK);
  CHECK_EQ(exos::frame_free(r.f[0]), OK);
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), OK);
  for (int i = 0; i < 2000000 && info().rx_ring_full == full + 2; i++) exos::yield();
  CHECK_EQ(info().rx_ring_full, full + 3);
  CHECK_STATUS(exos::sys_net_filter_remove(a.value), OK);
  CHECK_EQ(exos::frame_free(p.f), OK);
}

// A filter is its env's: another env's overlapping filter is refused, and
// the env's death removes its filters.
TEST(network_filters_belong_to_one_env) {
  exos::Frame mb;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  Ring r;
  CHECK_EQ(make_ring(&r, kRingVa, 1), OK);
  SysResult mine = install(n::frames_to_me(n::kEtherArp), r);
  CHECK_STATUS(mine, OK);

  exos::Child first;
  mailbox()->net_claim_done = 0;
  CHECK_EQ(guest::spawn_child(guest::CHILD_NET_CLAIM, mb.slot, &first), OK);
  for (int i = 0; i < 100000 && !mailbox()->net_claim_done; i++) exos::yield();
  CHECK_EQ(mailbox()->net_claim_done, 1);
  CHECK_EQ(mailbox()->net_claim_status, ERR_FILTER_OVERLAP);
  CHECK_STATUS(exos::sys_net_filter_remove(mine.value), OK);
  CHECK_STATUS(exos::sys_env_destroy(first.slot), OK);

  // The child holds it now: the parent is refused, even its control does
  // not let it remove the child's filter; then the child dies.
  exos::Child second;
  mailbox()->net_claim_done = 0;
  CHECK_EQ(guest::spawn_child(guest::CHILD_NET_CLAIM, mb.slot, &second), OK);
  for (int i = 0; i < 100000 && !mailbox()->net_claim_done; i++) exos::yield();
  CHECK_EQ(mailbox()->net_claim_status, OK);
  CHECK_STATUS(install(n::frames_to_me(n::kEtherArp), r), ERR_FILTER_OVERLAP);
  CHECK_STATUS(exos::sys_net_filter_remove(mailbox()->net_claim_id), ERR_ACCESS_DENIED);
  CHECK_STATUS(exos::sys_env_destroy(second.slot), OK);
  SysResult again = install(n::frames_to_me(n::kEtherArp), r);
  CHECK_STATUS(again, OK);
  CHECK_STATUS(exos::sys_net_filter_remove(again.value), OK);
  free_ring(&r);
  const exos::Child* children[] = {&first, &second};
  for (const exos::Child* c : children) {
    exos::sys_cap_delete(c->slot);
    exos::slot_free(c->slot);
  }
  CHECK_EQ(exos::frame_free(mb), OK);
}

// ExOS's stack (exos/net.h) against the gateway: ARP resolution, ping, a
// UDP socket's port claimed by its filter; all of it gone at shutdown.
TEST(exos_net_stack_pings_the_gateway) {
  namespace en = exos::net;
  CHECK_EQ(en::init(), OK);
  CHECK_EQ(en::init(), ERR_BAD_STATE);
  uint8_t mac[6];
  CHECK_EQ(en::resolve(en::config().gateway, mac), OK);
  uint64_t rtt = 0;
  for (uint16_t seq = 1; seq <= 3; seq++) {
    CHECK_EQ(en::ping(en::config().gateway, seq, 56, 2'000'000'000, &rtt), OK);
  }
  CHECK_EQ(en::resolve(en::ipv4(10, 0, 2, 77), mac), ERR_UNREACHABLE);  // nobody there
  en::UdpSocket s, t;
  CHECK_EQ(s.bind(4000), OK);
  CHECK_EQ(s.bind(4001), ERR_BUSY);
  CHECK_EQ(t.bind(0), ERR_INVALID_ARGS);
  char b[8];
  CHECK_EQ(s.recvfrom(b, sizeof b, nullptr, nullptr, 0), ERR_TIMEOUT);  // nothing came: no wait
  CHECK_EQ(s.sendto(en::config().gateway, 9, b, en::kMaxUdpPayload + 1), ERR_INVALID_ARGS);
  CHECK_EQ(s.sendto(0, 9, b, 1), ERR_INVALID_ARGS);
  en::shutdown();
  CHECK(!s.bound());
  CHECK_EQ(s.recvfrom(b, sizeof b, nullptr, nullptr, 0), ERR_BAD_STATE);
  // The stack's filters are gone: the test's own ARP filter is alone again.
  Ring r;
  CHECK_EQ(make_ring(&r, kRingVa, 1), OK);
  SysResult a = install(n::frames_to_me(n::kEtherArp), r);
  CHECK_STATUS(a, OK);
  CHECK_STATUS(exos::sys_net_filter_remove(a.value), OK);
  free_ring(&r);
}

namespace {
// Hand-assembled handlers (eBPF, RFC 9669 encoding).
constexpr BpfInsn mov64_imm(uint8_t dst, int32_t imm) { return BpfInsn{0xb7, dst, 0, imm}; }
constexpr BpfInsn call(int32_t helper) { return BpfInsn{0x85, 0, 0, helper}; }
constexpr BpfInsn exit_insn() { return BpfInsn{0x95, 0, 0, 0}; }
// wake_env(0x5EED), then "consumed".
const BpfInsn kWakeAndConsume[] = {mov64_imm(1, 0x5EED), call(VENEER_HELPER_WAKE_ENV), mov64_imm(0, VENEER_ASH_CONSUMED),
                                   exit_insn()};
const BpfInsn kDeliver[] = {mov64_imm(0, VENEER_ASH_DELIVER), exit_insn()};
// Reads the frame's first byte without checking its length: refused.
const BpfInsn kUnchecked[] = {BpfInsn{0x71, 0x10, 0, 0}, exit_insn()};

constexpr BpfInsn mov64_reg(uint8_t dst, uint8_t src) { return BpfInsn{0xbf, uint8_t(dst | src << 4), 0, 0}; }
constexpr BpfInsn add64_imm(uint8_t dst, int32_t imm) { return BpfInsn{0x07, dst, 0, imm}; }
constexpr BpfInsn jlt_imm(uint8_t dst, int32_t imm, int16_t off) { return BpfInsn{0xa5, dst, off, imm}; }
constexpr BpfInsn jeq_imm(uint8_t dst, int32_t imm, int16_t off) { return BpfInsn{0x15, dst, off, imm}; }
// Asks checksum() over the whole 4 KiB buffer 100 times: past the run's
// helper budget (8 KiB) it must fail; consumed only if it did.
const BpfInsn kChecksumHog[] = {
    mov64_imm(6, 0),
    mov64_imm(1, VENEER_REGION_BUFFER), mov64_imm(2, 0), mov64_imm(3, 4096), mov64_imm(4, 0),  // loop:
    call(VENEER_HELPER_CHECKSUM), add64_imm(6, 1), jlt_imm(6, 100, -7),
    jeq_imm(0, -1, 2), mov64_imm(0, VENEER_ASH_DELIVER), exit_insn(),
    mov64_imm(0, VENEER_ASH_CONSUMED), exit_insn()};
// Sends the buffer's first 60 bytes ten times (at most 4 may go), then consumes.
const BpfInsn kReplyStorm[] = {
    mov64_imm(6, 0),
    mov64_imm(1, 0), mov64_imm(2, 60),  // loop:
    call(VENEER_HELPER_SEND_REPLY), add64_imm(6, 1), jlt_imm(6, 10, -5),
    mov64_imm(0, VENEER_ASH_CONSUMED), exit_insn()};

SysResult attach(uint64_t id, const BpfInsn* p, uint64_t n, uint64_t buffer) {
  return exos::sys_net_handler_attach(id, reinterpret_cast<uint64_t>(p), n, buffer);
}
}  // namespace

// Safe handlers run in the receive path: verified when attached, consuming
// or passing on frames, waking the env; every bad attachment refused.
TEST(network_handlers_run_on_arrival) {
  count_upcalls();
  Ring r, other;
  CHECK_EQ(make_ring(&r, kRingVa, 2), OK);
  CHECK_EQ(make_ring(&other, kRingVa + 0x100000, 1), OK);
  SysResult a = install(n::frames_to_me(n::kEtherArp), r);
  SysResult b = install(n::frames_to_me(0x88B5), other);
  CHECK_STATUS(a, OK);
  CHECK_STATUS(b, OK);
  exos::Frame buffer;
  CHECK_EQ(exos::page_alloc(kRingVa + 0x200000, PERM_WRITE, &buffer), OK);

  // Bad attachments, each with its status.
  CHECK_STATUS(attach(a.value, kDeliver, kHandlerMaxInsns + 1, buffer.ref()), ERR_HANDLER_SIZE);
  CHECK_STATUS(attach(a.value, kUnchecked, 2, buffer.ref()), ERR_HANDLER_BAD_ACCESS);
  CHECK_STATUS(attach(a.value, reinterpret_cast<const BpfInsn*>(0x1000), 2, buffer.ref()), ERR_BAD_ADDRESS);
  CHECK_STATUS(attach(a.value, kDeliver, 2, kFrameByPfn | exos::kernel_info().modules[0].first_pfn),
               ERR_ACCESS_DENIED);  // a buffer the env does not own
  CHECK_STATUS(attach(999, kDeliver, 2, buffer.ref()), ERR_NOT_FOUND);
  CHECK_STATUS(attach(a.value, kDeliver, 0, 0), ERR_BAD_STATE);  // nothing to detach

  // A handler that consumes: the frame never reaches the ring; the wake-up
  // is counted in the ring and raises the upcall.
  CHECK_STATUS(attach(a.value, kWakeAndConsume, 4, buffer.ref()), OK);
  CHECK_STATUS(attach(a.value, kDeliver, 2, buffer.ref()), ERR_BUSY);
  CHECK_STATUS(attach(b.value, kDeliver, 2, buffer.ref()), ERR_NO_RESOURCES);  // one per env
  SendPage p;
  CHECK_EQ(make_send_page(&p), OK);
  uint64_t len = n::arp_request(p.bytes());
  uint64_t handled = info().rx_handled;
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), OK);
  for (int i = 0; i < 2000000 && info().rx_handled == handled; i++) exos::yield();
  CHECK_EQ(info().rx_handled, handled + 1);
  CHECK_EQ(r.header()->head, 0u);
  CHECK_EQ(r.header()->wakes, 1u);
  CHECK_EQ(r.header()->wake_value, 0x5EEDu);
  for (int i = 0; i < 1000 && !net_upcalls; i++) exos::yield();
  CHECK(net_upcalls >= 1);
  CHECK_EQ(net_upcall_mask & kNetInterruptBit, kNetInterruptBit);

  // Detached, then one that passes frames on: the ring gets them again.
  CHECK_STATUS(attach(a.value, kDeliver, 0, 0), OK);
  CHECK_STATUS(attach(a.value, kDeliver, 2, buffer.ref()), OK);
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), OK);
  CHECK(wait_frame(r) != nullptr);
  r.pop();
  // A buffer freed after attaching: the handler is skipped, the frame delivered.
  CHECK_STATUS(attach(a.value, kDeliver, 0, 0), OK);
  CHECK_STATUS(attach(a.value, kWakeAndConsume, 4, buffer.ref()), OK);
  CHECK_EQ(exos::frame_free(buffer), OK);
  handled = info().rx_handled;
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), OK);
  CHECK(wait_frame(r) != nullptr);
  CHECK_EQ(info().rx_handled, handled);

  // Removing the filter takes the handler with it: another filter may have one.
  CHECK_STATUS(exos::sys_net_filter_remove(a.value), OK);
  CHECK_EQ(exos::page_alloc(kRingVa + 0x200000, PERM_WRITE, &buffer), OK);
  CHECK_STATUS(attach(b.value, kDeliver, 2, buffer.ref()), OK);
  CHECK_STATUS(exos::sys_net_filter_remove(b.value), OK);
  free_ring(&r);
  free_ring(&other);
  CHECK_EQ(exos::frame_free(buffer), OK);
  CHECK_EQ(exos::frame_free(p.f), OK);
  exos::set_exception_handler(kVecInterrupt, nullptr);
}

// Filters installed and removed while frames arrive, and an env destroyed
// with traffic in flight: every frame counted once, the invariant scan
// clean (the runner scans after every case), the network still working.
TEST(network_filters_churn_under_traffic) {
  exos::Frame mb;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  mailbox()->net_churn_installs = 0;
  mailbox()->net_churn_frames = 0;
  exos::Child churn;
  CHECK_EQ(guest::spawn_child(guest::CHILD_NET_CHURN, mb.slot, &churn), OK);
  for (int i = 0; i < 100000 && !mailbox()->net_churn_installs; i++) exos::yield();
  SendPage p;
  CHECK_EQ(make_send_page(&p), OK);
  uint64_t len = n::arp_request(p.bytes());
  uint64_t rx = info().rx_frames;
  for (int i = 0; i < 300; i++) {
    SysResult s = exos::sys_net_send(p.f.ref(), 0, len);
    CHECK(s.status == OK || s.status == ERR_BUSY);
    for (int j = 0; j < 20; j++) exos::yield();
  }
  // Destroyed with answers still coming.
  for (int i = 0; i < 16; i++) exos::sys_net_send(p.f.ref(), 0, len);
  CHECK_STATUS(exos::sys_env_destroy(churn.slot), OK);
  for (int i = 0; i < 20000; i++) exos::yield();
  CHECK(mailbox()->net_churn_installs > 10);
  CHECK(mailbox()->net_churn_frames > 0);  // the ring did get answers between the churn
  CHECK(info().rx_frames > rx + 100);
  const NetInfo& k = info();
  CHECK_EQ(k.rx_frames, k.rx_delivered + k.rx_unclaimed + k.rx_ring_full + k.rx_handled);
  CHECK_EQ(exos::sys_invariant_scan(kMachineSlot).value, 0);
  // The filter is free again, and works.
  Ring r;
  CHECK_EQ(make_ring(&r, kRingVa, 2), OK);
  SysResult a = install(n::frames_to_me(n::kEtherArp), r);
  CHECK_STATUS(a, OK);
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), OK);
  CHECK(wait_frame(r) != nullptr);
  CHECK_STATUS(exos::sys_net_filter_remove(a.value), OK);
  free_ring(&r);
  exos::sys_cap_delete(churn.slot);
  exos::slot_free(churn.slot);
  CHECK_EQ(exos::frame_free(p.f), OK);
  CHECK_EQ(exos::frame_free(mb), OK);
}

// What one handler may take: its code (at most 8 pages of the kernel's
// sealed code pool, so handlers can never leave the filters without room to
// recompile), and per frame its helpers' work (8 KiB touched, 4 replies):
// the verifier bounds instructions, not what helpers do for them.
TEST(network_handlers_take_bounded_resources) {
  Ring r;
  CHECK_EQ(make_ring(&r, kRingVa, 2), OK);
  SysResult a = install(n::frames_to_me(n::kEtherArp), r);
  CHECK_STATUS(a, OK);
  exos::Frame buffer;
  CHECK_EQ(exos::page_alloc(kRingVa + 0x200000, PERM_WRITE, &buffer), OK);

  // 4,094 signed modulo operations compile to about 64 pages: refused.
  static BpfInsn huge[kHandlerMaxInsns];
  huge[0] = mov64_imm(0, 1);
  for (uint32_t i = 1; i + 1 < kHandlerMaxInsns; i++) huge[i] = BpfInsn{0x97, 0, 1, 7};  // r0 s%= 7
  huge[kHandlerMaxInsns - 1] = exit_insn();
  CHECK_STATUS(attach(a.value, huge, kHandlerMaxInsns, buffer.ref()), ERR_NO_MEMORY);
  // The filters still change.
  Ring other;
  CHECK_EQ(make_ring(&other, kRingVa + 0x100000, 1), OK);
  SysResult b = install(n::frames_to_me(0x88B6), other);
  CHECK_STATUS(b, OK);
  CHECK_STATUS(exos::sys_net_filter_remove(b.value), OK);

  SendPage p;
  CHECK_EQ(make_send_page(&p), OK);
  uint64_t len = n::arp_request(p.bytes());
  // The helper budget: the checksum loop is cut off (and says so).
  CHECK_STATUS(attach(a.value, kChecksumHog, sizeof kChecksumHog / sizeof kChecksumHog[0], buffer.ref()), OK);
  uint64_t handled = info().rx_handled;
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), OK);
  for (int i = 0; i < 2000000 && info().rx_handled == handled && !r.peek(); i++) exos::yield();
  CHECK_EQ(info().rx_handled, handled + 1);
  CHECK(r.peek() == nullptr);
  CHECK_STATUS(attach(a.value, kDeliver, 0, 0), OK);

  // At most 4 replies per frame: a frame nobody claims (EtherType 0x88B5,
  // broadcast) from the buffer, asked ten times.
  auto* reply = reinterpret_cast<uint8_t*>(kRingVa + 0x200000);
  for (int i = 0; i < 6; i++) reply[i] = 0xFF, reply[6 + i] = n::my_mac()[i];
  reply[12] = 0x88, reply[13] = 0xB5;
  CHECK_STATUS(attach(a.value, kReplyStorm, sizeof kReplyStorm / sizeof kReplyStorm[0], buffer.ref()), OK);
  uint64_t sent = info().handler_sent;
  handled = info().rx_handled;
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, len), OK);
  for (int i = 0; i < 2000000 && info().rx_handled == handled; i++) exos::yield();
  CHECK_EQ(info().rx_handled, handled + 1);
  CHECK_EQ(info().handler_sent, sent + kHandlerMaxReplies);

  CHECK_STATUS(exos::sys_net_filter_remove(a.value), OK);
  free_ring(&r);
  free_ring(&other);
  CHECK_EQ(exos::frame_free(buffer), OK);
  CHECK_EQ(exos::frame_free(p.f), OK);
}

// An env blocked in pct_wait is woken by its interrupt upcall (frames for a
// filter with NET_RING_UPCALL): the upcall runs, then pct_wait returns OK
// with value 1, and the env may wait again.
TEST(network_upcall_wakes_an_env_waiting_in_pct_wait) {
  exos::Frame mb;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  mailbox()->net_wait_ready = 0;
  mailbox()->net_wait_upcalls = 0;
  mailbox()->net_wait_returns = 0;
  exos::Child waiter;
  CHECK_EQ(guest::spawn_child(guest::CHILD_NET_WAIT, mb.slot, &waiter), OK);
  for (int i = 0; i < 100000 && !mailbox()->net_wait_ready; i++) exos::yield();
  for (int i = 0; i < 100000 && exos::env_info(waiter.id).state != ENV_BLOCKED; i++) exos::yield();
  CHECK_EQ(exos::env_info(waiter.id).state, ENV_BLOCKED);
  CHECK_EQ(mailbox()->net_wait_returns, 0u);

  SendPage p;
  CHECK_EQ(make_send_page(&p), OK);
  CHECK_STATUS(exos::sys_net_send(p.f.ref(), 0, n::arp_request(p.bytes())), OK);  // the answer is the waiter's
  for (int i = 0; i < 2000000 && !mailbox()->net_wait_returns; i++) exos::yield();
  CHECK(mailbox()->net_wait_upcalls >= 1);
  CHECK_EQ(mailbox()->net_wait_returns, 1u);
  CHECK_EQ(mailbox()->net_wait_status, OK);
  CHECK_EQ(mailbox()->net_wait_value, 1u);
  for (int i = 0; i < 100000 && exos::env_info(waiter.id).state != ENV_BLOCKED; i++) exos::yield();
  CHECK_EQ(exos::env_info(waiter.id).state, ENV_BLOCKED);  // waiting again

  CHECK_STATUS(exos::sys_env_destroy(waiter.slot), OK);
  exos::sys_cap_delete(waiter.slot);
  exos::slot_free(waiter.slot);
  CHECK_EQ(exos::frame_free(p.f), OK);
  CHECK_EQ(exos::frame_free(mb), OK);
}
