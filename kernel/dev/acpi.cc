#include "kernel/dev/acpi.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/console.h"
#include "kernel/dev/ports.h"
#include "kernel/ioports.h"
#include "kernel/memory.h"

namespace veneer {

using namespace arch;

namespace {

AcpiInfo info{.reset_space = 0xFF};

struct [[gnu::packed]] Rsdp {
  char signature[8];
  uint8_t checksum;
  char oem[6];
  uint8_t revision;
  uint32_t rsdt;
  uint32_t length;  // revision >= 2 from here on
  uint64_t xsdt;
  uint8_t extended_checksum;
  uint8_t reserved[3];
};

struct [[gnu::packed]] SdtHeader {
  char signature[4];
  uint32_t length;
  uint8_t revision, checksum;
  char oem[6], oem_table[8];
  uint32_t oem_revision, creator, creator_revision;
};

template <typename T>
T read_at(const uint8_t* p, uint64_t off) {
  T v;
  __builtin_memcpy(&v, p + off, sizeof(T));
  return v;
}

bool sums_to_zero(const void* p, uint64_t n) {
  uint8_t s = 0;
  for (uint64_t i = 0; i < n; i++) s += static_cast<const uint8_t*>(p)[i];
  return s == 0;
}

bool is_sig(const char* s, const char* want, int n) {
  for (int i = 0; i < n; i++)
    if (s[i] != want[i]) return false;
  return true;
}

// Tables live in firmware-reserved memory, which the direct map covers (all
// of the first 4 GiB and up to the highest RAM address). Past that nothing
// is read.
const SdtHeader* table_at(uint64_t pa) {
  if (pa == 0 || pa + sizeof(SdtHeader) > direct_map_end) return nullptr;
  auto* h = phys_to_virt<const SdtHeader>(pa);
  if (h->length < sizeof(SdtHeader) || h->length > (1u << 24) || pa + h->length > direct_map_end ||
      !sums_to_zero(h, h->length))
    return nullptr;
  return h;
}

const Rsdp* scan_for_rsdp(uint64_t pa, uint64_t len) {
  for (uint64_t off = 0; off + 20 <= len; off += 16) {
    auto* r = phys_to_virt<const Rsdp>(pa + off);
    if (is_sig(r->signature, "RSD PTR ", 8) && sums_to_zero(r, 20)) return r;
  }
  return nullptr;
}

// SLP_TYPa/b from the DSDT's \_S5_ package: Name(_S5_, Package(){a, b, ...}).
void parse_s5(const SdtHeader* dsdt) {
  auto* aml = reinterpret_cast<const uint8_t*>(dsdt);
  for (uint32_t i = sizeof(SdtHeader); i + 8 < dsdt->length; i++) {
    if (!is_sig(reinterpret_cast<const char*>(aml + i), "_S5_", 4)) continue;
    if (!(aml[i - 1] == 0x08 || (aml[i - 2] == 0x08 && aml[i - 1] == '\\')) || aml[i + 4] != 0x12) continue;
    uint32_t p = i + 5;
    p += ((aml[p] & 0xC0) >> 6) + 1;  // PkgLength
    p++;                              // NumElements
    uint16_t typ[2];
    for (auto& t : typ) {
      if (p >= dsdt->length) return;
      if (aml[p] == 0x0A) {  // BytePrefix
        t = aml[p + 1];
        p += 2;
      } else {  // ZeroOp, OneOp, or a bare byte
        t = aml[p] == 0xFF ? 0 : aml[p];
        p++;
      }
    }
    info.slp_typ_a = typ[0] & 7;
    info.slp_typ_b = typ[1] & 7;
    info.s5_found = true;
    return;
  }
}

void parse_fadt(const SdtHeader* fadt) {
  auto* f = reinterpret_cast<const uint8_t*>(fadt);
  uint32_t len = fadt->length;
  info.smi_cmd = read_at<uint32_t>(f, 48);
  info.acpi_enable = f[52];
  info.pm1a_cnt = static_cast<uint16_t>(read_at<uint32_t>(f, 64));
  info.pm1b_cnt = static_cast<uint16_t>(read_at<uint32_t>(f, 68));
  info.pm_timer_port = static_cast<uint16_t>(read_at<uint32_t>(f, 76));
  if (f[91] < 4) info.pm_timer_port = 0;  // PM_TMR_LEN
  uint32_t flags = len >= 116 ? read_at<uint32_t>(f, 112) : 0;
  info.pm_timer_32bit = flags & (1u << 8);
  if (len >= 129 && (flags & (1u << 10))) {  // RESET_REG_SUP
    info.reset_space = f[116];
    info.reset_addr = read_at<uint64_t>(f, 120);
    info.reset_value = f[128];
    if (info.reset_space > 1) info.reset_space = 0xFF;
  }
  uint64_t dsdt = read_at<uint32_t>(f, 40);
  if (len >= 148 && read_at<uint64_t>(f, 140)) dsdt = read_at<uint64_t>(f, 140);
  if (const SdtHeader* d = table_at(dsdt); d && is_sig(d->signature, "DSDT", 4)) parse_s5(d);
}

}  // namespace

void acpi_init(const BootInfo& boot) {
  reserve_kernel_ports(0xCF8, 8);  // PCI configuration, and 0xCF9's reset (machine_reset)
  reserve_kernel_ports(0x60, 1);   // the keyboard controller, whose reset line machine_reset pulses
  reserve_kernel_ports(0x64, 1);
  const Rsdp* rsdp = nullptr;
  if (boot.has_rsdp && sums_to_zero(boot.rsdp, 20)) rsdp = reinterpret_cast<const Rsdp*>(boot.rsdp);
  if (!rsdp) {
    uint64_t ebda = uint64_t(*phys_to_virt<const uint16_t>(0x40E)) << 4;
    if (ebda >= 0x80000 && ebda < 0xA0000) rsdp = scan_for_rsdp(ebda, 1024);
    if (!rsdp) rsdp = scan_for_rsdp(0xE0000, 0x20000);
  }
  if (!rsdp) {
    kprintf("acpi: no RSDP found\n");
    return;
  }
  bool x = rsdp->revision >= 2 && rsdp->xsdt && rsdp->length >= sizeof(Rsdp) && sums_to_zero(rsdp, sizeof(Rsdp));
  const SdtHeader* root = table_at(x ? rsdp->xsdt : rsdp->rsdt);
  if (!root) {
    kprintf("acpi: the RSDT/XSDT is unreadable\n");
    return;
  }
  info.found = true;
  uint32_t entry = x ? 8 : 4, n = (root->length - sizeof(SdtHeader)) / entry;
  auto* entries = reinterpret_cast<const uint8_t*>(root) + sizeof(SdtHeader);
  for (uint32_t i = 0; i < n; i++) {
    uint64_t pa = x ? read_at<uint64_t>(entries, i * 8) : read_at<uint32_t>(entries, i * 4);
    const SdtHeader* t = table_at(pa);
    if (!t) continue;
    if (is_sig(t->signature, "FACP", 4)) parse_fadt(t);
    if (is_sig(t->signature, "HPET", 4) && t->length >= 56) {
      auto* h = reinterpret_cast<const uint8_t*>(t);
      uint64_t base = read_at<uint64_t>(h, 44);
      if (h[40] == 0 && base + 0x100 <= direct_map_end) info.hpet_pa = base;  // GAS in system memory
    }
  }
  // The ports machine_reset and acpi_power_off write, and the timer the
  // clock calibration reads: no env may be granted them.
  reserve_kernel_ports(info.pm_timer_port, info.pm_timer_port ? 4 : 0);
  reserve_kernel_ports(info.pm1a_cnt, info.pm1a_cnt ? 2 : 0);
  reserve_kernel_ports(info.pm1b_cnt, info.pm1b_cnt ? 2 : 0);
  if (info.smi_cmd && info.smi_cmd < 0x10000) reserve_kernel_ports(static_cast<uint16_t>(info.smi_cmd), 1);
  if (info.reset_space == 1 && info.reset_addr < 0x10000) reserve_kernel_ports(static_cast<uint16_t>(info.reset_addr), 1);
  kprintf("acpi: PM timer %s, HPET %s, S5 %s\n", info.pm_timer_port ? "yes" : "no", info.hpet_pa ? "yes" : "no",
          info.s5_found && info.pm1a_cnt ? "yes" : "no");
}

const AcpiInfo& acpi() { return info; }

void acpi_power_off() {
  if (!info.s5_found || !info.pm1a_cnt) return;
  // Hand the hardware to ACPI mode first if firmware left it in legacy mode.
  if (!(dev::inw(info.pm1a_cnt) & 1) && info.smi_cmd && info.acpi_enable) {
    outb(static_cast<uint16_t>(info.smi_cmd), info.acpi_enable);
    for (uint64_t t0 = rdtsc(); !(dev::inw(info.pm1a_cnt) & 1) && rdtsc() - t0 < (3ull << 30);) pause();
  }
  kprintf("acpi: powering off (S5)\n");
  constexpr uint16_t kSlpEn = 1 << 13;
  outw(info.pm1a_cnt, static_cast<uint16_t>(info.slp_typ_a << 10) | kSlpEn);
  if (info.pm1b_cnt) outw(info.pm1b_cnt, static_cast<uint16_t>(info.slp_typ_b << 10) | kSlpEn);
  for (uint64_t t0 = rdtsc(); rdtsc() - t0 < (3ull << 30);) pause();  // a second or so
  kprintf("acpi: still running after S5\n");
}

void machine_reset() {
  cli();
  if (info.reset_space == 1) outb(static_cast<uint16_t>(info.reset_addr), info.reset_value);
  else if (info.reset_space == 0 && info.reset_addr < direct_map_end)
    *phys_to_virt<volatile uint8_t>(info.reset_addr) = info.reset_value;
  outb(0xCF9, 0x02);
  outb(0xCF9, 0x06);  // PCI reset control: hard reset
  for (int i = 0; i < 100000 && (inb(0x64) & 2); i++) pause();
  outb(0x64, 0xFE);  // keyboard controller: pulse the reset line
  struct [[gnu::packed]] { uint16_t limit; uint64_t base; } empty_idt{0, 0};
  asm volatile("lidt %0; int3" ::"m"(empty_idt));  // triple fault
  for (;;) hlt();
}

}  // namespace veneer
