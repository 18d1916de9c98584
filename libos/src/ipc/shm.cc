// Named shared memory: the manager owns each segment's frames and binds
// them into whoever opens the name (page_share, writable, marked shared).
#include "../internal.h"
#include "exos/ipc.h"
#include "exos/vm.h"

namespace exos::ipc {
namespace {
uint64_t next_va = layout::kShmBase;  // where segments go when the caller does not say
}

Status shm_open(const char* name, uint64_t pages, bool create, uint64_t* va) {
  uint64_t n[2];
  Status s = internal::pack_name(name, n);
  if (s != veneer::OK) return s;
  if (pages > 0xFFFFFFFF || (*va & (kPageSize - 1))) return veneer::ERR_INVALID_ARGS;
  uint64_t at = *va ? *va : next_va;
  internal::Reply r =
      internal::manager_call(internal::OP_SHM_OPEN, n[0], n[1], at, pages | (create ? 1ull << 63 : 0));
  if (r.status != veneer::OK) return r.status;
  if (!*va) next_va = at + (r.v[0] + 1) * kPageSize;  // a guard page after it
  *va = at;
  return veneer::OK;
}

Status shm_unlink(const char* name) {
  uint64_t n[2];
  Status s = internal::pack_name(name, n);
  if (s != veneer::OK) return s;
  return internal::manager_call(internal::OP_SHM_UNLINK, n[0], n[1]).status;
}

Status shm_detach(uint64_t va, uint64_t pages) {
  if (va & (kPageSize - 1)) return veneer::ERR_INVALID_ARGS;
  for (uint64_t p = 0; p < pages; p++) vm::unmap_page(va + p * kPageSize);
  return veneer::OK;
}

}  // namespace exos::ipc
