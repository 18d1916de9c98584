#include "kernel/boot_info.h"

#include "kernel/console.h"

namespace veneer {
namespace {

constexpr uint32_t kMb1Magic = 0x2BADB002;
constexpr uint32_t kMb2Magic = 0x36D76289;

void copy_str(char* dst, uint64_t cap, const char* src) {
  uint64_t i = 0;
  if (src)
    for (; i + 1 < cap && src[i]; i++) dst[i] = src[i];
  dst[i] = '\0';
}

void add_ram(BootInfo* b, uint64_t base, uint64_t len) {
  if (len == 0) return;
  if (b->nram && b->ram[b->nram - 1].base + b->ram[b->nram - 1].length == base) {
    b->ram[b->nram - 1].length += len;  // firmware maps list neighbours separately
    return;
  }
  if (b->nram < BootInfo::kMaxRanges) b->ram[b->nram++] = MemRange{base, len};
  else b->dropped_ram++;
}

void add_module(BootInfo* b, uint64_t start, uint64_t end, const char* name) {
  if (b->nmodules >= BootInfo::kMaxModules) return;
  BootModuleRange& m = b->modules[b->nmodules++];
  m.start = start;
  m.end = end;
  // Keep the file name: boot loaders pass the whole path.
  const char* base = name;
  for (const char* p = name; p && *p && *p != ' '; p++)
    if (*p == '/') base = p + 1;
  copy_str(m.name, sizeof(m.name), base);
}

template <typename T>
const T* phys(uint64_t pa) {
  return reinterpret_cast<const T*>(pa);  // boot identity map
}

void parse_mb1(uint64_t info, BootInfo* b) {
  struct [[gnu::packed]] Info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
  };
  struct [[gnu::packed]] Mod { uint32_t start, end, string, reserved; };
  struct [[gnu::packed]] Mmap { uint32_t size; uint64_t base, length; uint32_t type; };
  const Info* i = phys<Info>(info);
  b->loader = "multiboot";
  if (i->flags & (1 << 2)) copy_str(b->cmdline, sizeof(b->cmdline), phys<char>(i->cmdline));
  if (i->flags & (1 << 3)) {
    const Mod* m = phys<Mod>(i->mods_addr);
    for (uint32_t k = 0; k < i->mods_count; k++)
      add_module(b, m[k].start, m[k].end, m[k].string ? phys<char>(m[k].string) : "");
  }
  if (i->flags & (1 << 6)) {
    for (uint64_t p = i->mmap_addr; p < uint64_t(i->mmap_addr) + i->mmap_length;) {
      const Mmap* e = phys<Mmap>(p);
      if (e->type == 1) add_ram(b, e->base, e->length);
      p += e->size + 4;
    }
  } else if (i->flags & 1) {
    add_ram(b, 0, uint64_t(i->mem_lower) * 1024);
    add_ram(b, 0x100000, uint64_t(i->mem_upper) * 1024);
  }
}

void parse_mb2(uint64_t info, BootInfo* b) {
  struct Tag { uint32_t type, size; };
  b->loader = "multiboot2";
  uint32_t total = *phys<uint32_t>(info);
  for (uint64_t p = info + 8; p < info + total;) {
    const Tag* t = phys<Tag>(p);
    if (t->type == 0) break;
    if (t->type == 1) copy_str(b->cmdline, sizeof(b->cmdline), phys<char>(p + 8));
    if (t->type == 3) {
      const uint32_t* m = phys<uint32_t>(p + 8);
      add_module(b, m[0], m[1], phys<char>(p + 16));
    }
    if (t->type == 6) {
      uint32_t esize = *phys<uint32_t>(p + 8);
      for (uint64_t e = p + 16; e + esize <= p + t->size; e += esize) {
        uint64_t base = *phys<uint64_t>(e), len = *phys<uint64_t>(e + 8);
        if (*phys<uint32_t>(e + 16) == 1) add_ram(b, base, len);
      }
    }
    if (t->type == 8) {  // framebuffer info
      Framebuffer& f = b->framebuffer;
      f.addr = *phys<uint64_t>(p + 8);
      f.pitch = *phys<uint32_t>(p + 16);
      f.width = *phys<uint32_t>(p + 20);
      f.height = *phys<uint32_t>(p + 24);
      f.bpp = *phys<uint8_t>(p + 28);
      f.type = *phys<uint8_t>(p + 29);
      if (f.type == 1) {
        f.red_shift = *phys<uint8_t>(p + 32);
        f.green_shift = *phys<uint8_t>(p + 34);
        f.blue_shift = *phys<uint8_t>(p + 36);
      }
    }
    if ((t->type == 14 && !b->has_rsdp) || t->type == 15) {  // ACPI RSDP, old or new (preferred)
      uint64_t n = t->size - 8 < sizeof(b->rsdp) ? t->size - 8 : sizeof(b->rsdp);
      for (uint64_t i = 0; i < n; i++) b->rsdp[i] = *phys<uint8_t>(p + 8 + i);
      b->has_rsdp = true;
    }
    p += (t->size + 7) & ~7ull;
  }
}

}  // namespace

bool boot_option(const BootInfo& boot, const char* word) {
  const char* c = boot.cmdline;
  for (int i = 0; c[i];) {
    while (c[i] == ' ') i++;
    int n = 0;
    while (word[n] && c[i + n] == word[n]) n++;
    if (!word[n] && (c[i + n] == ' ' || c[i + n] == '\0')) return true;
    while (c[i] && c[i] != ' ') i++;
  }
  return false;
}

void parse_boot_info(uint32_t magic, uint64_t info, BootInfo* out) {
  *out = BootInfo{};
  if (magic == kMb1Magic) parse_mb1(info, out);
  else if (magic == kMb2Magic) parse_mb2(info, out);
  else panic("unknown boot loader magic %x: boot with QEMU -kernel or GRUB", magic);
}

}  // namespace veneer
