// Protected control transfer for ExOS programs: call, send, serve.
#include "exos/exos.h"
#include "exos/layout.h"

namespace exos {
namespace {

constexpr uint64_t kPctStackTop = layout::kPctStackTop;
constexpr uint64_t kPctStackPages = layout::kPctStackPages;
PctHandler serve_fn;

}  // namespace

extern "C" int64_t exos_pct_sync(uint64_t env_slot, const uint64_t* in, uint64_t* out);

// The message travels in rsi, rdx, r10, r8, r9 both ways; the kernel puts the
// sender's id in rax and the kind in rdi (pct_entry.S does the registers).
Status pct_call(uint64_t env_slot, const Message& m, Received* reply) {
  uint64_t out[7];
  int64_t r = exos_pct_sync(env_slot, m.w, out);
  if (r < 0) return static_cast<Status>(r);
  if (reply) *reply = Received{static_cast<uint32_t>(r), out[1] == veneer::kPctSync, {{out[2], out[3], out[4], out[5], out[6]}}};
  return veneer::OK;
}

}  // namespace exos

// Every transfer that enters at our entry point lands here (from
// pct_entry.S) on the PCT stack. A synchronous caller gets fn's reply, and
// the reply call returns the next request: a reply-and-wait loop.
extern "C" [[noreturn]] void exos_pct_dispatch(uint64_t sender, uint64_t kind, const uint64_t* words) {
  exos::Received in{static_cast<uint32_t>(sender), kind == veneer::kPctSync,
                    {{words[0], words[1], words[2], words[3], words[4]}}};
  for (;;) {
    exos::Message out = exos::serve_fn(in);
    if (!in.sync) {
      for (;;) exos::sys_pct_wait();  // the next transfer enters anew (it returns only after an upcall)
    }
    if (exos::pct_call(veneer::kPctReply, out, &in) != veneer::OK) {
      // The caller went away: wait for the next one at the entry point.
      for (;;) exos::sys_pct_wait();
    }
  }
}

namespace exos {

namespace internal {
// The protected entry stack (private: a forked child is no server).
void pct_stack_init() {
  for (uint64_t i = 1; i <= kPctStackPages; i++) {
    uint64_t va = kPctStackTop - i * veneer::kPageSize;
    if (!(read_pte(va) & layout::kPtePresent) &&
        page_alloc(va, veneer::PERM_WRITE | layout::kMarkPrivate) != veneer::OK)
      panic("pct stack");
  }
}
}  // namespace internal

void pct_serve(PctHandler fn) {
  serve_fn = fn;
  internal::pct_stack_init();
  extern void exos_pct_entry() asm("exos_pct_entry");
  sys_env_set_pct_entry(veneer::kSelfSlot, reinterpret_cast<uint64_t>(&exos_pct_entry), kPctStackTop);
  for (;;) sys_pct_wait();  // returns only after an interrupt upcall: wait again
}

}  // namespace exos
