/* Application-specific safe handlers (ASH): the interface between the kernel
 * and handler code. A handler is eBPF bytecode (RFC 9669 encoding), usually C
 * compiled with `clang -target bpf -O2`, that the kernel verifies, compiles to
 * native code and runs when a frame arrives for its env.
 *
 * Entry: r1 = the frame (read only), r2 = its length in bytes, r3 = the
 * buffer the env granted (read/write, `buffer_size` bytes, fixed when the
 * handler is verified), r10 = the top of a 512-byte stack. C signature:
 *     uint64_t handler(const uint8_t* frame, uint64_t len, uint8_t* buf);
 * Helpers are called by number (`call imm`, as clang emits for a call through
 * a constant function pointer); every argument is a number, never a pointer,
 * and the helper checks the ranges it is given against the real frame length
 * and buffer size.
 *
 * Plain C so that handler sources compiled for the BPF target can include it;
 * C++ code gets the same values in namespace veneer. */
#pragma once

#include <stdint.h>

/* One instruction, RFC 9669 section 3: opcode, dst (low nibble) and src
 * registers, signed offset, signed immediate. A 64-bit immediate load takes
 * two slots. */
struct veneer_bpf_insn {
  uint8_t opcode;
  uint8_t regs; /* dst = regs & 0xF, src = regs >> 4 */
  int16_t offset;
  int32_t imm;
};

#define VENEER_HANDLER_MAX_INSNS 4096
#define VENEER_HANDLER_STACK_SIZE 512
#define VENEER_HANDLER_MAX_BUFFER 65536
/* What one run may ask of the helpers: copy_frame, checksum and send_reply
 * together touch at most this many bytes, and send_reply sends at most this
 * many frames; past either the helper does nothing and returns -1. (The
 * verifier bounds the instructions; this bounds the work behind them.) */
#define VENEER_HANDLER_HELPER_BYTES 8192
#define VENEER_HANDLER_MAX_REPLIES 4
/* The most instructions any single run of a handler may execute; the
 * verifier proves this bound for every path (loops included). */
#define VENEER_HANDLER_MAX_PATH 65536

enum veneer_handler_helper {
  /* (buf_off, frame_off, len) -> 0, or -1 (nothing copied) if a range falls outside */
  VENEER_HELPER_COPY_FRAME = 1,
  /* (buf_off, len) -> 0 when the frame buf[buf_off, +len) was queued for sending, -1 if refused */
  VENEER_HELPER_SEND_REPLY = 2,
  /* (value) -> 0; asks the kernel to wake the env (an asynchronous protected control transfer) */
  VENEER_HELPER_WAKE_ENV = 3,
  /* (region, off, len, seed) -> the 16-bit ones' complement sum of the bytes plus seed,
   * not complemented (IP/UDP checksums); region 0 = frame, 1 = buffer; -1 if out of range */
  VENEER_HELPER_CHECKSUM = 4,
};

/* What r0 asks of the kernel when the handler returns (a convention with
 * the env's library; the NIC path acts on it): the frame was dealt with, or
 * it should still be delivered to the env. */
#define VENEER_ASH_CONSUMED 0
#define VENEER_ASH_DELIVER 1

enum veneer_handler_region {
  VENEER_REGION_FRAME = 0,
  VENEER_REGION_BUFFER = 1,
};

#ifdef __cplusplus
namespace veneer {
using BpfInsn = veneer_bpf_insn;
static_assert(sizeof(BpfInsn) == 8);
constexpr uint32_t kHandlerMaxInsns = VENEER_HANDLER_MAX_INSNS;
constexpr uint32_t kHandlerStackSize = VENEER_HANDLER_STACK_SIZE;
constexpr uint32_t kHandlerMaxBuffer = VENEER_HANDLER_MAX_BUFFER;
constexpr uint32_t kHandlerMaxPath = VENEER_HANDLER_MAX_PATH;
constexpr uint64_t kHandlerHelperBytes = VENEER_HANDLER_HELPER_BYTES;
constexpr uint64_t kHandlerMaxReplies = VENEER_HANDLER_MAX_REPLIES;
}  // namespace veneer
#endif
