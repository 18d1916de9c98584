// spawn and exec: a new image in a new env, loaded by us (the frames are
// the new env's), with an inherit block at kInheritVa: our pid (exec) or
// the child's (spawn), the arguments, and our descriptors, whose pipe pages
// are bound into the new env at the same addresses. exec hands our pid
// over to the new env through the manager, which destroys us.
#include "../internal.h"
#include "exos/ipc.h"

namespace exos::proc {
namespace {

// 4 KiB, one spawn or exec at a time: in ExOS's private block.
#define block (*reinterpret_cast<internal::InheritBlock*>(layout::kInheritBufferVa))

Status fill_block(Pid pid, const char* const* argv) {
  block = internal::InheritBlock{};
  block.magic = internal::kInheritMagic;
  block.pid = pid;
  uint32_t at = 0;
  for (uint32_t i = 0; argv && argv[i]; i++) {
    size_t n = strlen(argv[i]) + 1;
    if (n > sizeof(block.args) - at) return veneer::ERR_INVALID_ARGS;
    memcpy(block.args + at, argv[i], n);
    at += static_cast<uint32_t>(n);
    block.argc++;
  }
  block.args_len = at;
  return veneer::OK;
}

Status load(uint64_t slot, uint32_t env, Pid pid, const void* image, uint64_t size, const char* const* argv) {
  Status s = fill_block(pid, argv);
  if (s == veneer::OK) s = internal::fds_inherit(slot, env, &block);
  if (s != veneer::OK) return s;
  internal::ExtraPage inherit{layout::kInheritVa, &block, veneer::PERM_READ | layout::kMarkPrivate};
  return internal::load_image(slot, image, size, &inherit, 1);
}

void drop(uint64_t slot) {
  sys_cap_delete(slot);
  slot_free(slot);
}

}  // namespace

Status spawn(const void* image, uint64_t size, const char* const* argv, Pid* child) {
  if (!internal::proc_self().managed) return veneer::ERR_BAD_STATE;
  Status s = internal::elf_check(image, size, nullptr);
  if (s != veneer::OK) return s;
  int64_t slot = slot_alloc();
  if (slot < 0) return veneer::ERR_NO_RESOURCES;
  internal::Reply r = internal::manager_call(internal::OP_NEW_CHILD, static_cast<uint64_t>(slot));
  if (r.status != veneer::OK) {
    slot_free(static_cast<uint64_t>(slot));
    return r.status;
  }
  Pid pid = static_cast<Pid>(r.v[0]);
  uint32_t env = static_cast<uint32_t>(r.v[1]);
  s = load(static_cast<uint64_t>(slot), env, pid, image, size, argv);
  if (s == veneer::OK) s = static_cast<Status>(sys_env_run(static_cast<uint64_t>(slot)).status);
  if (s != veneer::OK) {
    sys_env_destroy(static_cast<uint64_t>(slot));  // the manager finds it gone: reap it
    drop(static_cast<uint64_t>(slot));
    wait(pid, nullptr, nullptr);
    return s;
  }
  int64_t peer = slot_alloc();
  if (peer >= 0 && sys_cap_grant(static_cast<uint64_t>(slot), veneer::kSelfSlot, peer, 0).status == veneer::OK)
    internal::peers_add(env, static_cast<uint64_t>(peer));
  else if (peer >= 0)
    slot_free(static_cast<uint64_t>(peer));
  drop(static_cast<uint64_t>(slot));
  if (child) *child = pid;
  return veneer::OK;
}

Status exec(const void* image, uint64_t size, const char* const* argv) {
  if (!internal::proc_self().managed) return veneer::ERR_BAD_STATE;
  if (internal::proc_self().pid == kInitPid) return veneer::ERR_ACCESS_DENIED;
  // Everything about the image is checked before anything changes: a bad
  // one leaves us running as we were.
  Status s = internal::elf_check(image, size, nullptr);
  if (s != veneer::OK) return s;
  int64_t slot = slot_alloc();
  if (slot < 0) return veneer::ERR_NO_RESOURCES;
  internal::Reply r = internal::manager_call(internal::OP_EXEC_PREPARE, static_cast<uint64_t>(slot));
  if (r.status != veneer::OK) {
    slot_free(static_cast<uint64_t>(slot));
    return r.status;
  }
  uint32_t env = static_cast<uint32_t>(r.v[0]);
  s = load(static_cast<uint64_t>(slot), env, internal::proc_self().pid, image, size, argv);
  if (s == veneer::OK) {
    internal::manager_call(internal::OP_EXEC_COMMIT);  // on success we are gone
    s = veneer::ERR_BAD_STATE;
  }
  internal::manager_call(internal::OP_EXEC_ABORT);
  drop(static_cast<uint64_t>(slot));
  return s;
}

}  // namespace exos::proc
