// Interrupt lines as resources (abi.h: irq_create, irq_bind, irq_ack): the
// 16 ISA lines of the legacy PICs, remapped to kIrqVectorBase.. and reaching
// the CPU through the local APIC's LINT0 (ExtINT). A bound line is unmasked;
// when it fires the kernel masks it, records it pending for its env and
// delivers an upcall (vector kVecInterrupt) at once if that env is running,
// else when it next starts a slice. Only irq_ack unmasks it again.
#pragma once

#include <stdint.h>

#include "veneer/status.h"

namespace veneer {

struct Env;

constexpr uint8_t kIrqVectorBase = 0x30;
constexpr uint64_t kIrqLines = 16;

// Remaps and masks both PICs and forgets every binding (boot).
void irq_init();
// Lines the kernel keeps: 0 (the PIT), 2 (the cascade), 4 (COM1, its log's UART).
bool irq_line_reserved(uint64_t line);
// ERR_BUSY: the line is bound (to e or another env).
Status irq_bind(Env* e, uint64_t line);
// ERR_NOT_FOUND: the line is not bound to e.
Status irq_unbind(Env* e, uint64_t line);
// Unmasks a line bound to e after its upcall. ERR_BAD_STATE: not bound;
// ERR_ACCESS_DENIED: bound to another env (only the driver says when its
// device has been served).
Status irq_ack(Env* e, uint64_t line);
// The env id a line is bound to, 0 for none (the invariant scan).
uint32_t irq_owner(uint64_t line);
// Masks and frees the lines an env holds (its death).
void irq_env_gone(Env* e);
// The trap path, for vector kIrqVectorBase + line: masks the line, ends the
// interrupt at the PIC and marks it pending for its env (nothing when unbound,
// and nothing at all for a spurious line 7 or 15, which the PIC did not
// put in service).
void irq_arrived(uint64_t line);
// Marks `bits` pending for e's interrupt upcall (its lines, or
// kNetInterruptBit). An env blocked in pct_wait with an exception handler
// becomes runnable, so that the upcall runs: its pct_wait returns (OK, value
// 1) when the handler resumes it.
void irq_mark_pending(Env* e, uint32_t bits);
// Delivers e's pending lines as one upcall if it has a handler (the
// pending set, as a bit mask, in the frame's error_code). True if delivered.
bool irq_deliver(Env* e);

}  // namespace veneer
