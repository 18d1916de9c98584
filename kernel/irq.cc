#include "kernel/irq.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/env.h"
#include "kernel/ioports.h"

namespace veneer {
namespace {

using arch::outb;

constexpr uint16_t kMasterCmd = 0x20, kMasterData = 0x21, kSlaveCmd = 0xA0, kSlaveData = 0xA1;
constexpr uint8_t kEoi = 0x20;
constexpr uint16_t kReservedLines = 1u << 0 | 1u << 2 | 1u << 4;

uint32_t owner[kIrqLines];  // env id bound to each line, 0 none
uint16_t unmasked;          // lines the PICs pass on

void write_masks() {
  uint16_t open = unmasked;
  if (open >> 8) open |= 1u << 2;  // the slave reaches the CPU through the cascade
  outb(kMasterData, static_cast<uint8_t>(~open));
  outb(kSlaveData, static_cast<uint8_t>(~(open >> 8)));
}
void set_masked(uint64_t line, bool masked) {
  unmasked = masked ? unmasked & ~(1u << line) : unmasked | (1u << line);
  write_masks();
}

}  // namespace

void irq_init() {
  // Vectors kIrqVectorBase.. (clear of the exceptions and of the timer's),
  // cascade on line 2, 8086 mode; then everything masked.
  outb(kMasterCmd, 0x11);
  outb(kSlaveCmd, 0x11);
  outb(kMasterData, kIrqVectorBase);
  outb(kSlaveData, kIrqVectorBase + 8);
  outb(kMasterData, 0x04);
  outb(kSlaveData, 0x02);
  outb(kMasterData, 0x01);
  outb(kSlaveData, 0x01);
  for (uint32_t& o : owner) o = 0;
  unmasked = 0;
  write_masks();
}

bool irq_line_reserved(uint64_t line) { return line < kIrqLines && (kReservedLines >> line) & 1; }

Status irq_bind(Env* e, uint64_t line) {
  if (owner[line]) return ERR_BUSY;
  owner[line] = e->id;
  e->irq_lines |= static_cast<uint16_t>(1u << line);
  set_masked(line, false);
  return OK;
}

Status irq_unbind(Env* e, uint64_t line) {
  if (owner[line] != e->id) return ERR_NOT_FOUND;
  owner[line] = 0;
  e->irq_lines &= static_cast<uint16_t>(~(1u << line));
  e->irq_pending &= ~(1u << line);
  set_masked(line, true);
  return OK;
}

Status irq_ack(Env* e, uint64_t line) {
  if (!owner[line]) return ERR_BAD_STATE;
  if (owner[line] != e->id) return ERR_ACCESS_DENIED;
  set_masked(line, false);
  return OK;
}

uint32_t irq_owner(uint64_t line) { return owner[line]; }

void irq_env_gone(Env* e) {
  for (uint64_t line = 0; line < kIrqLines; line++)
    if (owner[line] == e->id) irq_unbind(e, line);
  e->irq_lines = e->irq_pending = 0;
}

void irq_arrived(uint64_t line) {
  if ((line & 7) == 7) {
    // The last line of either PIC is also what it raises when a request
    // goes away before the CPU acknowledges it: real only if in service.
    uint16_t cmd = line == 7 ? kMasterCmd : kSlaveCmd;
    outb(cmd, 0x0B);  // OCW3: read the in-service register
    if (!(arch::inb(cmd) & 0x80)) {
      if (line == 15) outb(kMasterCmd, kEoi);  // the master did put the cascade in service
      return;
    }
  }
  set_masked(line, true);
  if (line >= 8) outb(kSlaveCmd, kEoi);
  outb(kMasterCmd, kEoi);
  if (Env* e = owner[line] ? env_from_id(owner[line]) : nullptr) irq_mark_pending(e, 1u << line);
}

void irq_mark_pending(Env* e, uint32_t bits) {
  e->irq_pending |= bits;
  if (e->info->state == ENV_BLOCKED && e->recv == RECV_ENTRY && e->xhandler) {
    e->recv = RECV_NONE;
    e->waiting_on = 0;
    e->tf.rax = OK;
    e->tf.rdx = 1;  // pct_wait's value: an upcall came, not a transfer
    e->info->state = ENV_RUNNABLE;
  }
}

bool irq_deliver(Env* e) {
  if (!e->irq_pending || !e->xhandler) return false;
  if (!deliver_upcall(e, kVecInterrupt, e->irq_pending, 0, e->xhandler)) return false;
  e->irq_pending = 0;
  return true;
}

}  // namespace veneer
