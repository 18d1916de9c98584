// ExOS's network stack: rings, Ethernet, ARP, IPv4 and ICMP (exos/net.h).
#include "stack.h"

#include "exos/filter.h"
#include "exos/ipc.h"
#include "exos/layout.h"

namespace exos::net {
namespace internal {
namespace {

using namespace veneer;

constexpr uint64_t kArpTimeoutNs = 60'000'000'000ull;  // an entry is asked again after a minute
constexpr int kArpEntries = 16;
struct ArpEntry {
  uint32_t ip;
  uint8_t mac[6];
  uint64_t learnt_ns;
};
// What the env that runs the stack for an address shares with the envs
// that join it (publish(), join()): the configuration and the ARP cache.
// Readers check what they read (an entry is used only if it names the IP
// asked for); the instance's processes trust each other with it as they
// do with the file system.
constexpr uint64_t kSharedMagic = 0x4E45544558534F31ull;  // "NETEXSO1"
struct Shared {
  uint64_t magic;
  Config config;
  uint32_t next_victim;
  ArpEntry cache[kArpEntries];
};
static_assert(sizeof(Shared) <= kPageSize);
constexpr const char* kSharedName = "exos.net";

struct State {
  bool ready;
  bool owner;     // runs ARP and ICMP for the address (init), or joined one that does
  uint32_t env;   // the env this state is for: a forked child starts afresh
  Config config;
  Shared* shared;  // the configuration and ARP cache: `local`, or published
  Shared local;
  uint8_t mac[6];
  Ring arp, icmp;
  // Where frames are built: the caller's datagrams, ICMP answers and ARP
  // messages each in their own page, since building one may wait for ARP
  // (which answers requests meanwhile).
  Frame send_pages[kSendPages];
  uint16_t ip_id;
  Stats stats;
  // The last echo reply, for ping().
  uint16_t echo_id, echo_seq;
  bool echo_seen;
} st;

uint64_t slot_va(int slot) { return layout::kNetVa + uint64_t(slot) * layout::kNetSlotBytes; }

// Copies the entry for ip out of the (maybe shared) cache; false if none
// is fresh.
bool arp_lookup(uint32_t ip, uint8_t mac[6]) {
  for (const ArpEntry& e : st.shared->cache) {
    ArpEntry copy = e;
    if (copy.ip == ip && copy.learnt_ns + kArpTimeoutNs > now_ns()) {
      memcpy(mac, copy.mac, 6);
      return true;
    }
  }
  return false;
}
void arp_learn(uint32_t ip, const uint8_t* mac) {
  ArpEntry* e = nullptr;
  for (ArpEntry& c : st.shared->cache)
    if (c.ip == ip) e = &c;
  if (!e) e = &st.shared->cache[st.shared->next_victim++ % kArpEntries];
  e->learnt_ns = 0;  // a reader never sees the new address with the old time
  e->ip = ip;
  memcpy(e->mac, mac, 6);
  e->learnt_ns = now_ns();
}

// A state copied from the parent by fork belongs to the parent's env (its
// filters and private pages are not ours): start afresh.
void fresh() {
  if (st.env != self_id()) {
    st = State{};
    st.env = self_id();
    st.shared = &st.local;
  }
}

Status open_send_pages() {
  for (int i = 0; i < kSendPages; i++)
    if (Status s = page_alloc(reinterpret_cast<uint64_t>(send_buffer(SendPage(i))), PERM_WRITE | layout::kMarkPrivate,
                              &st.send_pages[i]);
        s != OK)
      return s;
  return OK;
}

Status send_frame(SendPage page, size_t len) {
  // ERR_BUSY: every transmit buffer is in flight; the device frees them as
  // it sends. Tried again for up to a second.
  for (uint64_t until = now_ns() + 1'000'000'000;;) {
    SysResult r = sys_net_send(st.send_pages[page].ref(), 0, len);
    if (r.status != ERR_BUSY || now_ns() > until) return static_cast<Status>(r.status);
    yield();
  }
}

void ethernet(uint8_t* f, const uint8_t* dst, uint16_t type) {
  memcpy(f, dst, 6);
  memcpy(f + 6, st.mac, 6);
  put16(f + 12, type);
}

Status arp_send(uint16_t op, const uint8_t* dst_mac, const uint8_t* target_mac, uint32_t target_ip) {
  uint8_t* f = send_buffer(kArpPage);
  ethernet(f, dst_mac, 0x0806);
  put16(f + 14, 1);
  put16(f + 16, 0x0800);
  f[18] = 6, f[19] = 4;
  put16(f + 20, op);
  memcpy(f + 22, st.mac, 6);
  put32(f + 28, st.config.ip);
  memcpy(f + 32, target_mac, 6);
  put32(f + 38, target_ip);
  return send_frame(kArpPage, 42);
}

void serve_arp(const uint8_t* f, size_t len) {
  if (len < 42 || get16(f + 14) != 1 || get16(f + 16) != 0x0800 || f[18] != 6 || f[19] != 4) {
    st.stats.arp_dropped++;
    return;
  }
  uint16_t op = get16(f + 20);
  uint32_t sender_ip = get32(f + 28);
  if (op == 1) {  // who has our address: answer, and remember who asked (RFC 826)
    arp_learn(sender_ip, f + 22);
    if (arp_send(2, f + 22, f + 22, sender_ip) == OK) st.stats.arp_requests_answered++;
  } else if (op == 2) {
    arp_learn(sender_ip, f + 22);
    st.stats.arp_replies_learnt++;
  } else {
    st.stats.arp_dropped++;
  }
}

void serve_icmp(const uint8_t* f, size_t len) {
  Ipv4 ip;
  if (!parse_ipv4(f, len, &ip)) return;
  if (ip.len < 8 || fold(sum16(ip.payload, ip.len)) != 0) {
    st.stats.icmp_dropped++;
    return;
  }
  if (ip.payload[0] == 0) {  // echo reply
    st.echo_id = get16(ip.payload + 4), st.echo_seq = get16(ip.payload + 6), st.echo_seen = true;
    return;
  }
  if (ip.payload[0] != 8 || ip.len > kMaxUdpPayload + 8) {
    st.stats.icmp_dropped++;
    return;
  }
  // Echo request: the same identifier, sequence and data back.
  uint8_t* out = send_buffer(kIcmpPage) + 34;
  memcpy(out, ip.payload, ip.len);
  out[0] = 0;
  put16(out + 2, 0);
  put16(out + 2, fold(sum16(out, ip.len)));
  if (send_ipv4(kIcmpPage, ip.src, 1, ip.len) == OK) st.stats.icmp_echo_answered++;
}

}  // namespace

uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += get16(p + i);
  if (n & 1) sum += uint32_t(p[n - 1]) << 8;
  return sum;
}

const NetCell* Ring::peek() const {
  if (!installed || header()->tail == header()->head) return nullptr;
  return reinterpret_cast<const NetCell*>(va + (header()->tail % header()->cells + 1) * kNetCellBytes);
}

Status ring_open(Ring* r, int slot, uint64_t pages, const Filter& f) {
  r->va = slot_va(slot);
  r->pages = pages;
  NetRingFrames frames{pages, {}};
  for (uint64_t i = 0; i < pages; i++) {
    Frame fr;
    const uint64_t va = r->va + i * kPageSize;
    uint64_t pte = read_pte(va);
    if (pte & 1) {  // still mapped from an earlier ring in this slot
      fr = Frame{kNoSlot, (pte & 0x000FFFFFFFFFF000ull) >> 12};
    } else if (Status s = page_alloc(va, PERM_WRITE | layout::kMarkPrivate, &fr); s != OK) {
      return s;
    }
    frames.frames[i] = fr.ref();
  }
  SysResult res = sys_net_filter_install(reinterpret_cast<uint64_t>(&f), reinterpret_cast<uint64_t>(&frames), 0);
  if (res.status != OK) return static_cast<Status>(res.status);
  r->filter = res.value;
  r->installed = true;
  return OK;
}

Status ring_close(Ring* r) {
  if (!r->installed) return OK;
  // Refused only when the kernel cannot recompile its filters just now: the
  // filter (and its ring) stay, and so does our record of them.
  if (Status s = static_cast<Status>(sys_net_filter_remove(r->filter).status); s != OK) return s;
  r->installed = false;  // its pages stay mapped for the next ring in the slot
  return OK;
}

bool parse_ipv4(const uint8_t* f, size_t len, Ipv4* out) {
  const uint8_t* h = f + 14;
  if (len < 34 || (h[0] >> 4) != 4) return st.stats.ip_bad_header++, false;
  size_t ihl = size_t(h[0] & 15) * 4, total = get16(h + 2);
  if (ihl < 20 || total < ihl || 14 + total > len) return st.stats.ip_bad_header++, false;
  if (fold(sum16(h, ihl)) != 0) return st.stats.ip_bad_checksum++, false;
  if (get16(h + 6) & 0x3FFF) return st.stats.ip_fragments_refused++, false;  // more fragments, or an offset
  if (get32(h + 16) != st.config.ip) return st.stats.ip_not_for_us++, false;
  *out = Ipv4{get32(h + 12), get32(h + 16), h[9], h, h + ihl, total - ihl};
  return true;
}

Status send_ipv4(SendPage page, uint32_t dst, uint8_t proto, size_t payload_len) {
  const Config& c = st.config;
  uint8_t mac[6];
  uint32_t hop = (dst & c.netmask) == (c.ip & c.netmask) ? dst : c.gateway;
  if (Status s = resolve(hop, mac); s != OK) return s;
  uint8_t* f = send_buffer(page);  // the payload is already at f + 34
  ethernet(f, mac, 0x0800);
  uint8_t* h = f + 14;
  h[0] = 0x45, h[1] = 0;
  put16(h + 2, uint16_t(20 + payload_len));
  put16(h + 4, st.ip_id++);
  put16(h + 6, 0x4000);  // don't fragment
  h[8] = 64, h[9] = proto;
  put16(h + 10, 0);
  put32(h + 12, c.ip);
  put32(h + 16, dst);
  put16(h + 10, fold(sum16(h, 20)));
  return send_frame(page, 34 + payload_len);
}

uint8_t* send_buffer(SendPage page) { return reinterpret_cast<uint8_t*>(slot_va(kSendSlot) + page * kPageSize); }
Stats& mutable_stats() { return st.stats; }
uint64_t now_ns() {
  const KernelInfo& k = kernel_info();
  return k.ticks * k.slice_ns;
}
bool ready() { return st.ready && st.env == self_id(); }

}  // namespace internal

using namespace internal;
using namespace veneer;

bool parse_ipv4(const char* text, uint32_t* ip) {
  uint32_t v = 0, part = 0, parts = 0;
  bool digit = false;
  for (const char* p = text;; p++) {
    if (*p >= '0' && *p <= '9') {
      part = part * 10 + uint32_t(*p - '0');
      if (part > 255) return false;
      digit = true;
    } else if ((*p == '.' || !*p) && digit) {
      v = v << 8 | part, part = 0, digit = false, parts++;
      if (!*p) break;
    } else {
      return false;
    }
  }
  if (parts != 4) return false;
  *ip = v;
  return true;
}

namespace {
// "key=a.b.c.d" from the kernel command line into *ip, if it is there.
void cmdline_address(const char* key, uint32_t* ip) {
  char buf[20];
  if (cmdline_get(key, buf, sizeof buf)) parse_ipv4(buf, ip);
}
}  // namespace

Status init(const Config& config) {
  fresh();
  if (st.ready) return ERR_BAD_STATE;
  const NetInfo& ni = kernel_info().net;
  if (!ni.present) return ERR_NO_DEVICE;
  st.config = config;
  cmdline_address("ip", &st.config.ip);
  cmdline_address("gw", &st.config.gateway);
  cmdline_address("netmask", &st.config.netmask);
  st.local = Shared{kSharedMagic, st.config, 0, {}};
  st.shared = &st.local;
  memcpy(st.mac, ni.mac, 6);
  Status s = open_send_pages();
  if (s != OK) return s;
  // ARP for our address (requests are broadcast, replies come to us), and
  // ICMP to our address.
  FilterBuilder arp;
  arp.ethertype(0x0806).bytes(38, 4, st.config.ip);
  FilterBuilder icmp;
  icmp.ipv4_protocol(1).ipv4_dst(st.config.ip);
  if ((s = ring_open(&st.arp, kArpSlot, 4, arp.filter())) != OK) return s;
  if ((s = ring_open(&st.icmp, kIcmpSlot, 4, icmp.filter())) != OK) {
    ring_close(&st.arp);
    return s;
  }
  st.ready = true;
  st.owner = true;
  // Ask for the gateway at once: the answer is needed for anything off
  // the link, and the question tells the gateway where we are.
  uint8_t mac[6];
  resolve(st.config.gateway, mac);
  return OK;
}

const Config& config() { return st.config; }

Status publish() {
  if (!ready() || !st.owner) return ERR_BAD_STATE;
  uint64_t va = 0;  // anywhere in the shared-memory area
  if (Status s = ipc::shm_open(kSharedName, 1, true, &va); s != OK) return s;
  auto* shared = reinterpret_cast<Shared*>(va);
  *shared = st.local;
  st.shared = shared;
  return OK;
}

Status join() {
  fresh();
  if (st.ready) return OK;
  const NetInfo& ni = kernel_info().net;
  if (!ni.present) return ERR_NO_DEVICE;
  uint64_t va = 0;  // anywhere in the shared-memory area
  if (Status s = ipc::shm_open(kSharedName, 1, false, &va); s != OK) return s;
  auto* shared = reinterpret_cast<Shared*>(va);
  if (shared->magic != kSharedMagic) return ERR_BAD_STATE;
  st.shared = shared;
  st.config = shared->config;
  memcpy(st.mac, ni.mac, 6);
  if (Status s = open_send_pages(); s != OK) return s;
  st.ready = true;
  st.owner = false;
  return OK;
}

void shutdown() {
  if (!ready()) return;
  close_sockets();
  ring_close(&st.arp);
  ring_close(&st.icmp);
  for (Frame& f : st.send_pages) {
    if (f.pfn) frame_free(f);
    f = Frame{};
  }
  st.ready = false;
  st.shared = &st.local;
}
const Stats& stats() { return st.stats; }

namespace {
void poll_arp() {
  for (const NetCell* c; (c = st.arp.peek()) != nullptr; st.arp.pop()) serve_arp(c->data, c->len);
}
}  // namespace

void poll() {
  if (!ready() || !st.owner) return;
  poll_arp();
  for (const NetCell* c; (c = st.icmp.peek()) != nullptr; st.icmp.pop()) serve_icmp(c->data, c->len);
}

Status resolve(uint32_t ip, uint8_t mac[6]) {
  if (!ready()) return ERR_BAD_STATE;
  for (int attempt = 0; attempt < 3; attempt++) {
    if (arp_lookup(ip, mac)) return OK;
    static const uint8_t kBroadcast[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, kUnknown[6] = {};
    if (Status s = arp_send(1, kBroadcast, kUnknown, ip); s != OK) return s;
    // The owner learns the answer (a joined env waits for it to).
    for (uint64_t until = now_ns() + 300'000'000; now_ns() < until && !arp_lookup(ip, mac);) {
      if (st.owner) poll_arp();  // only ARP: a frame being built may wait here
      yield();
    }
  }
  return arp_lookup(ip, mac) ? OK : ERR_UNREACHABLE;
}

Status ping(uint32_t ip, uint16_t seq, size_t payload, uint64_t timeout_ns, uint64_t* rtt_ns) {
  if (!ready() || !st.owner) return ERR_BAD_STATE;
  if (payload > kMaxUdpPayload) return ERR_INVALID_ARGS;
  constexpr uint16_t kId = 0xE705;
  uint8_t* m = send_buffer(kDataPage) + 34;
  m[0] = 8, m[1] = 0;
  put16(m + 2, 0);
  put16(m + 4, kId), put16(m + 6, seq);
  for (size_t i = 0; i < payload; i++) m[8 + i] = uint8_t(i);
  put16(m + 2, fold(sum16(m, 8 + payload)));
  st.echo_seen = false;
  uint64_t start = now_ns();
  if (Status s = send_ipv4(kDataPage, ip, 1, 8 + payload); s != OK) return s;
  while (!(st.echo_seen && st.echo_id == kId && st.echo_seq == seq)) {
    if (now_ns() - start > timeout_ns) return ERR_TIMEOUT;
    poll();
    yield();
  }
  *rtt_ns = now_ns() - start;
  return OK;
}

}  // namespace exos::net
