// Program loading in user space: ExOS parses the ELF image, allocates frames
// owned by the child, fills them through a scratch mapping of its own, and
// binds them into the child's address space. The kernel only checks
// capabilities (or ownership) at each binding.
#include "common/elf.h"
#include "exos/exos.h"

namespace exos {
namespace {

constexpr uint64_t kScratchVa = 0x00006E0000000000;  // where the parent fills pages
constexpr uint64_t kStackPages = 16;
constexpr uint64_t kMaxPages = 512;

// The child's pages, kept in ascending address order (page_batch wants it).
struct Loader {
  uint64_t child_slot;
  uint64_t va[kMaxPages];
  uint64_t slot[kMaxPages];  // our capability, for filling through the scratch page
  uint64_t pfn[kMaxPages];
  uint64_t perms[kMaxPages];
  uint64_t n = 0;

  // Finds or creates the child's page at va; returns its index.
  Status page(uint64_t va_, uint64_t perms_, uint64_t* index) {
    uint64_t at = 0;
    while (at < n && va[at] < va_) at++;
    if (at < n && va[at] == va_) {
      perms[at] |= perms_;  // two segments share the page: the union of their rights
      *index = at;
      return veneer::OK;
    }
    if (n == kMaxPages) return veneer::ERR_NO_RESOURCES;
    int64_t s = slot_alloc();
    if (s < 0) return veneer::ERR_NO_RESOURCES;
    SysResult r = sys_frame_alloc(veneer::kAnyFrame, child_slot, s);
    if (r.status != veneer::OK) {
      slot_free(s);
      return static_cast<Status>(r.status);
    }
    for (uint64_t i = n; i > at; i--) va[i] = va[i - 1], slot[i] = slot[i - 1], pfn[i] = pfn[i - 1], perms[i] = perms[i - 1];
    va[at] = va_, slot[at] = s, pfn[at] = r.value, perms[at] = perms_;
    n++;
    *index = at;
    return veneer::OK;
  }

  // Copies `len` bytes into the child's page through the scratch mapping.
  Status fill(uint64_t index, uint64_t offset, const uint8_t* src, uint64_t len) {
    SysResult r = sys_page_map(veneer::kSelfSlot, kScratchVa, slot[index], veneer::PERM_WRITE);
    if (r.status != veneer::OK) return static_cast<Status>(r.status);
    memcpy(reinterpret_cast<uint8_t*>(kScratchVa) + offset, src, len);
    sys_page_unmap(veneer::kSelfSlot, kScratchVa);
    return veneer::OK;
  }

  // Binds every page into the child in ascending batches (the child owns
  // the frames: named by number), then drops our capabilities: the frames
  // die with the child.
  Status bind() {
    veneer::PageOp ops[64];
    for (uint64_t base = 0; base < n; base += 64) {
      uint64_t k = n - base < 64 ? n - base : 64;
      for (uint64_t i = 0; i < k; i++)
        ops[i] = veneer::PageOp{va[base + i], veneer::kFrameByPfn | pfn[base + i], veneer::PAGE_OP_MAP,
                                static_cast<uint32_t>(perms[base + i])};
      SysResult r = sys_page_batch(child_slot, reinterpret_cast<uint64_t>(ops), k);
      if (r.status != veneer::OK) return static_cast<Status>(r.status);
    }
    release();
    return veneer::OK;
  }

  void release() {
    for (uint64_t i = 0; i < n; i++) {
      sys_cap_delete(slot[i]);
      slot_free(slot[i]);
    }
    n = 0;
  }
};

Loader loader;  // large; one spawn at a time

}  // namespace

Status give_slices(uint64_t env_slot, uint32_t count) {
  for (uint32_t pos = 0; pos < veneer::kSlices && count; pos++) {
    if (slice_vector().owner[pos] != veneer::kNoOwner) continue;
    if (sys_slice_alloc(env_slot, pos).status == veneer::OK) count--;
  }
  return count ? veneer::ERR_NO_RESOURCES : veneer::OK;
}

Quota default_child_quota() {
  const veneer::EnvInfo& a = env_info(env_info(self_id()).account);
  auto left = [&](uint32_t r) { return a.limit[r] - a.used[r]; };
  auto at_most = [](uint32_t want, uint32_t have) { return want < have ? want : have; };
  return Quota{left(veneer::RES_FRAMES) / 4, at_most(8, left(veneer::RES_ENVS) / 2),
               at_most(4, left(veneer::RES_SLICES) / 2)};
}

Status spawn(const void* elf, uint64_t size, uint64_t arg, Child* out) {
  return spawn(elf, size, arg, default_child_quota(), out);
}

Status spawn(const void* elf, uint64_t size, uint64_t arg, const Quota& quota, Child* out) {
  auto* image = static_cast<const uint8_t*>(elf);
  auto* h = static_cast<const veneer::elf::Header*>(elf);
  if (!veneer::elf::valid_executable(elf, size)) return veneer::ERR_BAD_ELF;

  int64_t child_slot = slot_alloc();
  if (child_slot < 0) return veneer::ERR_NO_RESOURCES;
  SysResult r = sys_env_create(child_slot);
  if (r.status != veneer::OK) {
    slot_free(child_slot);
    return static_cast<Status>(r.status);
  }
  uint32_t child_id = static_cast<uint32_t>(r.value);
  loader.child_slot = child_slot;
  loader.n = 0;

  Status s = veneer::OK;
  for (uint16_t i = 0; i < h->phnum && s == veneer::OK; i++) {
    const veneer::elf::ProgramHeader* ph = &veneer::elf::program_header(elf, i);
    if (ph->type != veneer::elf::kPtLoad || ph->memsz == 0) continue;
    if (ph->offset > size || ph->filesz > size - ph->offset || ph->filesz > ph->memsz) {
      s = veneer::ERR_BAD_ELF;
      break;
    }
    uint64_t perms = veneer::elf::segment_perms(*ph);
    for (uint64_t va = ph->vaddr & ~(veneer::kPageSize - 1); va < ph->vaddr + ph->memsz && s == veneer::OK;
         va += veneer::kPageSize) {
      uint64_t idx;
      s = loader.page(va, perms, &idx);
      if (s != veneer::OK) break;
      uint64_t from = va > ph->vaddr ? va : ph->vaddr;
      uint64_t to = va + veneer::kPageSize;
      if (to > ph->vaddr + ph->filesz) to = ph->vaddr + ph->filesz;
      if (from < to) s = loader.fill(idx, from - va, image + ph->offset + (from - ph->vaddr), to - from);
    }
  }
  for (uint64_t i = 1; i <= kStackPages && s == veneer::OK; i++) {
    uint64_t idx;
    s = loader.page(veneer::kInitStackTop - i * veneer::kPageSize, veneer::PERM_WRITE, &idx);
  }
  if (s == veneer::OK) s = loader.bind();
  if (s == veneer::OK && (quota.frames || quota.envs || quota.slices))
    s = static_cast<Status>(sys_env_set_quota(child_slot, quota.frames, quota.envs, quota.slices).status);
  if (s == veneer::OK)
    s = static_cast<Status>(sys_env_set_entry(child_slot, h->entry, veneer::kInitStackTop, arg).status);
  if (s == veneer::OK) s = give_slices(child_slot, 1);
  if (s == veneer::OK) s = static_cast<Status>(sys_env_run(child_slot).status);
  if (s != veneer::OK) {
    loader.release();
    sys_env_destroy(child_slot);  // frees whatever the child already owns
    sys_cap_delete(child_slot);
    slot_free(child_slot);
    return s;
  }
  *out = Child{static_cast<uint64_t>(child_slot), child_id};
  return veneer::OK;
}

const veneer::BootModule* find_module(const char* name) {
  const veneer::KernelInfo& k = kernel_info();
  for (uint64_t i = 0; i < k.nmodules; i++)
    if (ends_with(k.modules[i].name, name)) return &k.modules[i];
  return nullptr;
}

Status spawn_module(const char* name, uint64_t arg, Child* out) {
  const veneer::BootModule* m = find_module(name);
  if (!m) return veneer::ERR_NO_MODULE;
  for (uint64_t va = m->va & ~(veneer::kPageSize - 1); va < m->va + m->size; va += veneer::kPageSize)
    if (!(read_pte(va) & 1)) return veneer::ERR_MODULE_NOT_MAPPED;
  return spawn(reinterpret_cast<const void*>(m->va), m->size, arg, out);
}

void wait_env(uint32_t id) {
  while (env_table()[veneer::env_index(id)].id == id) sys_yield();
}

Status wait_serving(uint32_t id) {
  for (;;) {
    const veneer::EnvInfo& e = env_info(id);
    if (e.id != id) return veneer::ERR_STALE_CAP;
    if (e.state == veneer::ENV_BLOCKED) return veneer::OK;
    sys_yield();
  }
}

}  // namespace exos
