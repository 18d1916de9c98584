// Guest tests: devices exposed to library OSes. I/O ports are capabilities
// made from MACHINE; a bound range is open to exactly the env it is bound
// to, through the TSS I/O permission bitmap the kernel switches with the env.
#include "guest_test.h"

namespace {

using namespace veneer;

guest::Mailbox* mailbox() { return reinterpret_cast<guest::Mailbox*>(guest::kMailboxVa); }

volatile uint64_t gp_faults;

// `in %dx, %al` and `out %al, %dx` are one byte each: a #GP skips it. A
// read that faults returns 0xEE.
uint8_t port_read(uint16_t port) {
  uint8_t v = 0xEE;
  asm volatile("in %%dx, %%al" : "+a"(v) : "d"(port));
  return v;
}
void port_write(uint16_t port, uint8_t v) { asm volatile("out %%al, %%dx" ::"a"(v), "d"(port)); }

// Asks the probe child to read the scratch port once more.
void probe(uint64_t round) {
  mailbox()->port_probe_go = round;
  for (int i = 0; i < 100000 && mailbox()->port_probe_done != round; i++) exos::yield();
}

}  // namespace

TEST(io_ports_are_capabilities) {
  exos::set_exception_handler(13, [](ExceptionFrame* f) {
    gp_faults = gp_faults + 1;
    f->rip += 1;
  });
  gp_faults = 0;
  port_read(guest::kScratchPort);
  CHECK_EQ(gp_faults, 1);  // no env has a port until one is bound

  int64_t ports = exos::slot_alloc(), other = exos::slot_alloc();
  CHECK(ports >= 0 && other >= 0);
  // Bad input: each refused with its status, and no capability made.
  CHECK_STATUS(exos::sys_ioport_create(kSelfSlot, 0x2F8, 8, ports), ERR_BAD_CAP);  // not MACHINE
  CHECK_STATUS(exos::sys_ioport_create(kMachineSlot, 0x2F8, 0, ports), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_ioport_create(kMachineSlot, 0x2F8, kMaxIoPortCount + 1, ports), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_ioport_create(kMachineSlot, 0xFFFF, 2, ports), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_ioport_create(kMachineSlot, 0x10000, 1, ports), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_ioport_create(kMachineSlot, ~0ull, 2, ports), ERR_INVALID_ARGS);
  // The ports the kernel drives are never granted: its serial log (COM1),
  // the exit port, the PIT and its gate, the PICs, PCI configuration and
  // the reset ports, the keyboard controller; nor a range that overlaps one.
  const uint64_t kernel_ports[] = {0x3F8, 0x3FF, 0xF4, 0x40, 0x43, 0x61, 0x20, 0xA1, 0xCF8, 0xCF9, 0x64, 0x60};
  for (uint64_t p : kernel_ports) CHECK_STATUS(exos::sys_ioport_create(kMachineSlot, p, 1, ports), ERR_ACCESS_DENIED);
  CHECK_STATUS(exos::sys_ioport_create(kMachineSlot, 0x3C0, 64, ports), ERR_ACCESS_DENIED);
  CHECK_STATUS(exos::sys_ioport_create(kMachineSlot, 0x2F8, 8, kCapSlots), ERR_OUT_OF_RANGE);
  CHECK_STATUS(exos::sys_ioport_create(kMachineSlot, 0x2F8, 8, kSelfSlot), ERR_BUSY);
  CHECK_STATUS(exos::sys_ioport_bind(kSelfSlot, ports), ERR_BAD_CAP);  // nothing was made

  CHECK_STATUS(exos::sys_ioport_create(kMachineSlot, 0x2F8, 8, ports), OK);
  CHECK_STATUS(exos::sys_ioport_bind(kSelfSlot, kSelfSlot), ERR_BAD_CAP);  // an env, not ports
  CHECK_STATUS(exos::sys_ioport_bind(ports, ports), ERR_BAD_CAP);          // ports, not an env
  CHECK_STATUS(exos::sys_ioport_bind(kSelfSlot, kCapSlots), ERR_OUT_OF_RANGE);
  // Binding needs read and write (in and out).
  CHECK_STATUS(exos::sys_cap_grant(ports, kSelfSlot, other, RIGHT_WRITE), OK);
  CHECK_STATUS(exos::sys_ioport_bind(kSelfSlot, other), ERR_ACCESS_DENIED);
  CHECK_STATUS(exos::sys_cap_delete(other), OK);

  // Bound: in and out on exactly those ports, at once.
  CHECK_STATUS(exos::sys_ioport_bind(kSelfSlot, ports), OK);
  CHECK_STATUS(exos::sys_ioport_bind(kSelfSlot, ports), ERR_BUSY);
  gp_faults = 0;
  port_write(guest::kScratchPort, 0x5A);
  CHECK_EQ(port_read(guest::kScratchPort), 0x5A);
  CHECK_EQ(gp_faults, 0);
  port_read(0x300);  // the next port is still closed
  port_read(0x2F7);  // and the one before
  CHECK_EQ(gp_faults, 2);

  // Per env: a child does not share this env's ports, until it is given
  // them (by an env that controls it), and loses them again.
  exos::Frame mb;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  exos::Child c;
  CHECK_EQ(guest::spawn_child(guest::CHILD_PORT_PROBE, mb.slot, &c), OK);
  probe(1);
  CHECK_EQ(mailbox()->port_probe_done, 1);
  CHECK_EQ(mailbox()->port_probe_faults, 1);
  CHECK_EQ(mailbox()->port_probe_value, 0xEE);
  CHECK_STATUS(exos::sys_ioport_bind(c.slot, ports), OK);
  probe(2);
  CHECK_EQ(mailbox()->port_probe_faults, 1);
  CHECK_EQ(mailbox()->port_probe_value, 0x5A);
  CHECK_STATUS(exos::sys_ioport_unbind(c.slot, ports), OK);
  probe(3);
  CHECK_EQ(mailbox()->port_probe_faults, 2);
  CHECK_STATUS(exos::sys_ioport_unbind(c.slot, ports), ERR_NOT_FOUND);
  // Ours stayed open all along, across every switch to and from the child.
  gp_faults = 0;
  CHECK_EQ(port_read(guest::kScratchPort), 0x5A);
  CHECK_EQ(gp_faults, 0);
  // An env's death takes its bindings: bound to the child, then destroyed.
  CHECK_STATUS(exos::sys_ioport_bind(c.slot, ports), OK);
  CHECK_STATUS(exos::sys_env_destroy(c.slot), OK);
  CHECK_STATUS(exos::sys_ioport_unbind(c.slot, ports), ERR_STALE_CAP);
  exos::sys_cap_delete(c.slot);
  exos::slot_free(c.slot);
  CHECK_EQ(exos::frame_free(mb), OK);

  // At most kMaxIoPortRanges ranges per env, none overlapping.
  int64_t one[kMaxIoPortRanges + 1];
  for (uint64_t i = 0; i <= kMaxIoPortRanges; i++) {
    one[i] = exos::slot_alloc();
    CHECK_STATUS(exos::sys_ioport_create(kMachineSlot, 0x2E8 + i, 1, one[i]), OK);
  }
  for (uint64_t i = 0; i + 1 < kMaxIoPortRanges; i++) CHECK_STATUS(exos::sys_ioport_bind(kSelfSlot, one[i]), OK);
  CHECK_STATUS(exos::sys_ioport_bind(kSelfSlot, one[kMaxIoPortRanges]), ERR_NO_RESOURCES);
  CHECK_STATUS(exos::sys_ioport_unbind(kSelfSlot, ports), OK);
  CHECK_STATUS(exos::sys_ioport_bind(kSelfSlot, one[kMaxIoPortRanges]), OK);
  for (uint64_t i = 0; i <= kMaxIoPortRanges; i++) {
    if (i + 1 != kMaxIoPortRanges) CHECK_STATUS(exos::sys_ioport_unbind(kSelfSlot, one[i]), OK);
    exos::sys_cap_delete(one[i]);
    exos::slot_free(one[i]);
  }
  // Unbound: closed again.
  gp_faults = 0;
  port_read(guest::kScratchPort);
  CHECK_EQ(gp_faults, 1);
  CHECK_STATUS(exos::sys_ioport_unbind(kSelfSlot, ports), ERR_NOT_FOUND);
  exos::sys_cap_delete(ports);
  exos::slot_free(ports);
  exos::slot_free(other);
  exos::set_exception_handler(13, nullptr);
}

namespace {

volatile uint64_t irq_upcalls, irq_mask;

// COM2 in loopback: a byte written comes back as received, which raises
// its interrupt (line 3) when receive interrupts are on.
constexpr uint16_t kCom2 = 0x2F8;
void uart_loopback(bool on) {
  port_write(kCom2 + 3, 0x03);              // 8N1
  port_write(kCom2 + 4, on ? 0x18 : 0x00);  // loopback, OUT2
  port_write(kCom2 + 1, on ? 0x01 : 0x00);  // interrupt on received data
  while (port_read(kCom2 + 5) & 1) port_read(kCom2);
}
bool wait_upcalls(uint64_t n) {
  for (int i = 0; i < 2000000 && irq_upcalls < n; i++) asm volatile("pause");
  return irq_upcalls >= n;
}

}  // namespace

// Interrupt lines are capabilities too: made from MACHINE (never the
// kernel's lines), bound to one env at a time, delivered as an upcall with
// the line masked until the env acknowledges it.
TEST(interrupt_lines_are_capabilities) {
  exos::set_exception_handler(kVecInterrupt, [](ExceptionFrame* f) {
    irq_upcalls = irq_upcalls + 1;
    irq_mask = f->error_code;
  });
  int64_t ports = exos::slot_alloc(), line = exos::slot_alloc(), busy = exos::slot_alloc();
  CHECK_STATUS(exos::sys_ioport_create(kMachineSlot, kCom2, 8, ports), OK);
  CHECK_STATUS(exos::sys_ioport_bind(kSelfSlot, ports), OK);
  // Bad input.
  CHECK_STATUS(exos::sys_irq_create(kSelfSlot, 3, line), ERR_BAD_CAP);  // not MACHINE
  CHECK_STATUS(exos::sys_irq_create(kMachineSlot, 16, line), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_irq_create(kMachineSlot, ~0ull, line), ERR_INVALID_ARGS);
  const uint64_t kernel_lines[] = {0, 2, 4};  // the PIT, the cascade, COM1
  for (uint64_t l : kernel_lines) CHECK_STATUS(exos::sys_irq_create(kMachineSlot, l, line), ERR_ACCESS_DENIED);
  CHECK_STATUS(exos::sys_irq_create(kMachineSlot, 3, kSelfSlot), ERR_BUSY);
  CHECK_STATUS(exos::sys_irq_create(kMachineSlot, 3, kCapSlots), ERR_OUT_OF_RANGE);
  CHECK_STATUS(exos::sys_irq_create(kMachineSlot, 3, line), OK);
  CHECK_STATUS(exos::sys_irq_bind(kSelfSlot, ports, 1), ERR_BAD_CAP);  // ports, not a line
  CHECK_STATUS(exos::sys_irq_bind(line, line, 1), ERR_BAD_CAP);        // a line, not an env
  CHECK_STATUS(exos::sys_irq_bind(kSelfSlot, line, 2), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_irq_ack(line), ERR_BAD_STATE);                // not bound
  CHECK_STATUS(exos::sys_irq_ack(ports), ERR_BAD_CAP);
  CHECK_STATUS(exos::sys_irq_bind(kSelfSlot, line, 0), ERR_NOT_FOUND);
  CHECK_STATUS(exos::sys_cap_grant(line, kSelfSlot, busy, RIGHT_WRITE), OK);
  CHECK_STATUS(exos::sys_irq_bind(kSelfSlot, busy, 1), ERR_ACCESS_DENIED);  // binding needs READ
  CHECK_STATUS(exos::sys_cap_delete(busy), OK);

  // Bound: the line fires, the upcall names it, and the line stays masked.
  CHECK_STATUS(exos::sys_irq_bind(kSelfSlot, line, 1), OK);
  CHECK_STATUS(exos::sys_irq_bind(kSelfSlot, line, 1), ERR_BUSY);
  irq_upcalls = 0;
  uart_loopback(true);
  port_write(kCom2, 'A');
  CHECK(wait_upcalls(1));
  CHECK_EQ(irq_mask, 1u << 3);
  CHECK_EQ(port_read(kCom2), 'A');
  port_write(kCom2, 'B');  // fires again, but the line is masked
  for (int i = 0; i < 50; i++) exos::yield();
  CHECK_EQ(irq_upcalls, 1);
  // Acknowledged: unmasked, and what came meanwhile arrives.
  CHECK_STATUS(exos::sys_irq_ack(line), OK);
  CHECK(wait_upcalls(2));
  CHECK_EQ(irq_mask, 1u << 3);
  CHECK_EQ(port_read(kCom2), 'B');
  CHECK_STATUS(exos::sys_irq_ack(line), OK);

  // One env at a time; a dead env's lines are free again.
  exos::Frame mb;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  exos::Child c;
  CHECK_EQ(guest::spawn_child(guest::CHILD_PORT_PROBE, mb.slot, &c), OK);
  CHECK_STATUS(exos::sys_irq_bind(c.slot, line, 1), ERR_BUSY);
  CHECK_STATUS(exos::sys_irq_bind(c.slot, line, 0), ERR_NOT_FOUND);
  CHECK_STATUS(exos::sys_irq_bind(kSelfSlot, line, 0), OK);
  CHECK_STATUS(exos::sys_irq_bind(c.slot, line, 1), OK);
  CHECK_STATUS(exos::sys_irq_bind(kSelfSlot, line, 1), ERR_BUSY);
  CHECK_STATUS(exos::sys_irq_ack(line), ERR_ACCESS_DENIED);  // only the env it is bound to
  uint64_t before = irq_upcalls;
  port_write(kCom2, 'C');  // the child's line now: its upcall, not ours
  for (int i = 0; i < 100000 && exos::env_info(c.id).id == c.id; i++) exos::yield();
  CHECK_EQ(irq_upcalls, before);
  // The probe has no handler for the vector: ExOS's default ends it ("unhandled
  // exception 36 ... error 8" on the console), and its death frees the line.
  CHECK(exos::env_info(c.id).id != c.id);
  CHECK_STATUS(exos::sys_env_destroy(c.slot), ERR_STALE_CAP);
  CHECK_STATUS(exos::sys_irq_bind(kSelfSlot, line, 1), OK);
  CHECK_STATUS(exos::sys_irq_bind(kSelfSlot, line, 0), OK);
  exos::sys_cap_delete(c.slot);
  exos::slot_free(c.slot);
  CHECK_EQ(exos::frame_free(mb), OK);

  uart_loopback(false);
  CHECK_STATUS(exos::sys_ioport_unbind(kSelfSlot, ports), OK);
  exos::sys_cap_delete(ports);
  exos::sys_cap_delete(line);
  exos::slot_free(ports);
  exos::slot_free(line);
  exos::slot_free(busy);
  exos::set_exception_handler(kVecInterrupt, nullptr);
}
