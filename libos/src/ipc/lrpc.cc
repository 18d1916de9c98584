// LRPC (Bershad et al.) on Veneer: a call is one synchronous protected
// control transfer to the server and one back, arguments and result in
// registers; the manager binds client and server (a capability to the
// server, a shared argument page, the server's table of who may call).
#include "../internal.h"
#include "exos/ipc.h"

extern "C" {
const exos::ipc::LrpcProc* exos_lrpc_procs;
uint32_t exos_lrpc_nprocs;
void exos_lrpc_checked_entry();
void exos_lrpc_trusted_entry();
int64_t exos_lrpc_call(uint64_t slot, uint64_t w0, uint64_t a0, uint64_t a1, uint64_t len, uint64_t out[2]);

struct LrpcResult {
  uint64_t value;
  uint64_t status;
};
// A checked call with page arguments (the entry point has checked the
// binding): copies them in before the procedure sees them, so the client
// cannot change them under it, and the same number of bytes back after.
LrpcResult exos_lrpc_dispatch_page(uint64_t sender, uint64_t w0, uint64_t a0, uint64_t a1, uint64_t len);
}

namespace exos {
namespace {

// A checked server's copy of the argument page: in ExOS's private block.
uint8_t* const private_page = reinterpret_cast<uint8_t*>(layout::kLrpcCopyVa);
uint64_t next_client_page = layout::kLrpcClientBase;  // our ends of bindings

}  // namespace

namespace internal {
void pct_stack_init();
}

namespace ipc {

Status lrpc_serve(const char* name, const LrpcProc* procs, uint32_t nprocs, Trust trust) {
  uint64_t n[2];
  Status s = internal::pack_name(name, n);
  if (s != veneer::OK) return s;
  if (!procs || nprocs == 0) return veneer::ERR_INVALID_ARGS;
  exos_lrpc_procs = procs;
  exos_lrpc_nprocs = nprocs;
  internal::pct_stack_init();
  uint64_t entry = reinterpret_cast<uint64_t>(trust == Trust::Trusted ? &exos_lrpc_trusted_entry
                                                                      : &exos_lrpc_checked_entry);
  SysResult r = sys_env_set_pct_entry(veneer::kSelfSlot, entry, layout::kPctStackTop);
  if (r.status != veneer::OK) return static_cast<Status>(r.status);
  internal::Reply rep = internal::manager_call(internal::OP_LRPC_EXPORT, n[0], n[1], trust == Trust::Trusted);
  if (rep.status != veneer::OK) return rep.status;
  for (;;) sys_pct_wait();  // calls enter at the entry point from now on (it returns only after an upcall)
}

Status lrpc_import(const char* name, Binding* b) {
  uint64_t n[2];
  Status s = internal::pack_name(name, n);
  if (s != veneer::OK) return s;
  int64_t slot = slot_alloc();
  if (slot < 0) return veneer::ERR_NO_RESOURCES;
  uint64_t page = next_client_page;
  internal::Reply r = internal::manager_call(internal::OP_LRPC_IMPORT, n[0], n[1], static_cast<uint64_t>(slot), page);
  if (r.status != veneer::OK) {
    slot_free(static_cast<uint64_t>(slot));
    return r.status;
  }
  next_client_page += 2 * kPageSize;
  *b = Binding{static_cast<uint64_t>(slot), static_cast<uint32_t>(r.v[0]), static_cast<uint32_t>(r.v[1]),
               r.v[2] != 0, reinterpret_cast<void*>(page)};
  return veneer::OK;
}

Status lrpc_call_slow(const Binding& b, uint32_t proc, uint64_t a0, uint64_t a1, uint64_t* result, uint64_t len,
                      int64_t who, uint64_t status) {
  uint64_t out[2] = {0, status};
  for (;;) {
    if (who == veneer::ERR_BAD_STATE || who == veneer::ERR_NO_ENTRY) {
      // Busy with another call (preempted in it), or not serving yet.
      if (sys_yield_to(b.slot).status != veneer::OK) sys_yield();
      who = exos_lrpc_call(b.slot, proc | uint64_t(b.id) << 32, a0, a1, len, out);
      continue;
    }
    if (who < 0) return static_cast<Status>(who);
    if (static_cast<uint32_t>(who) != b.server) return veneer::ERR_BAD_STATE;  // someone else woke us
    if (out[1] != veneer::OK) return static_cast<Status>(out[1]);
    if (result) *result = out[0];
    return veneer::OK;
  }
}

uint64_t lrpc_call_trusted_retry(const Binding& b, uint32_t proc, uint64_t a0, uint64_t a1) {
  uint64_t out[2];
  for (;;) {
    int64_t who = exos_lrpc_call(b.slot, proc | uint64_t(b.id) << 32, a0, a1, 0, out);
    if (who >= 0) return out[0];
    if (who != veneer::ERR_BAD_STATE && who != veneer::ERR_NO_ENTRY) return 0;
    if (sys_yield_to(b.slot).status != veneer::OK) sys_yield();
  }
}

}  // namespace ipc
}  // namespace exos

LrpcResult exos_lrpc_dispatch_page(uint64_t, uint64_t w0, uint64_t a0, uint64_t a1, uint64_t len) {
  uint32_t proc = static_cast<uint32_t>(w0), binding = static_cast<uint32_t>(w0 >> 32);
  if (proc >= exos_lrpc_nprocs || len > exos::kPageSize) return LrpcResult{0, static_cast<uint64_t>(veneer::ERR_ACCESS_DENIED)};
  auto* shared = reinterpret_cast<uint8_t*>(exos::layout::kLrpcBase + (1 + uint64_t(binding)) * exos::kPageSize);
  memcpy(exos::private_page, shared, len);
  uint64_t v = exos_lrpc_procs[proc](a0, a1, exos::private_page, len);
  memcpy(shared, exos::private_page, len);
  return LrpcResult{v, veneer::OK};
}
