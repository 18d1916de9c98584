// The system call table: the single source of truth for numbers, names and
// argument lists. The kernel expands it into its dispatch table and handler
// prototypes (kernel/syscall.cc), ExOS into its user stubs (libos/include/exos/sys.h),
// a generated header into the numbers assembly uses (abi/asm_constants.cc),
// and a host test checks it against docs/abi.md.
//
// X(index, name, path, (arg, ...)): the call's number (rax) is
// VENEER_SYSCALL_NUMBER(index).
//   path FAST: dispatched straight from the syscall entry with arguments in
//              registers; the handler always returns to the caller.
//   path SLOW: may switch environments; the entry saves the full user
//              context first. Slow indexes start at VENEER_SLOW_BASE.
// Every argument is a 64-bit register (rdi, rsi, rdx, r10, r8, r9).
// Results: rax = status (veneer::Status), rdx = value.
//
// Veneer's calls own the 64 numbers at the top of the 64-bit space: fast
// index i is -32 + i (0xFFFFFFFFFFFFFFE0 + i), slow index i (32..63) is
// -96 + i. So the entry tells a fast call from everything else with one
// unsigned compare and indexes its table with the number itself. An
// unassigned number there fails with ERR_BAD_SYSCALL. Every other number is
// a *foreign* system call (Linux's 0..~460, say): the kernel delivers it to
// the env's exception handler as vector kVecForeignSyscall, so a library OS
// can emulate another kernel's interface (abi.h says how).
#pragma once

#define VENEER_SLOW_BASE 32
#define VENEER_SYSCALL_COUNT 64
#define VENEER_FAST_FIRST 0xFFFFFFFFFFFFFFE0ull  /* the number of fast index 0 (-32) */
#define VENEER_SLOW_FIRST 0xFFFFFFFFFFFFFFC0ull  /* the number of slow index 32 (-64) */
#define VENEER_SYSCALL_NUMBER(index) \
  ((index) < VENEER_SLOW_BASE ? VENEER_FAST_FIRST + (index) : VENEER_SLOW_FIRST + ((index) - VENEER_SLOW_BASE))

#define VENEER_SYSCALLS(X)                                                   \
  X(0, null, FAST, ())                                                       \
  X(1, cons_write, FAST, (buf, len))                                         \
  X(2, frame_alloc, FAST, (pfn, owner_env_slot, dest_slot))                  \
  X(3, frame_free, FAST, (frame))                                            \
  X(4, page_map, FAST, (env_slot, va, frame, perms))                         \
  X(5, page_unmap, FAST, (env_slot, va))                                     \
  X(6, page_protect, FAST, (env_slot, va, perms))                            \
  X(7, page_batch, FAST, (env_slot, ops, count))                             \
  X(8, cap_grant, FAST, (src_slot, env_slot, dest_slot, rights))             \
  X(9, cap_revoke, FAST, (frame_slot))                                       \
  X(10, cap_delete, FAST, (slot))                                            \
  X(11, env_create, FAST, (dest_slot))                                       \
  X(12, env_set_entry, FAST, (env_slot, rip, rsp, arg))                      \
  X(13, env_set_handler, FAST, (env_slot, entry, xstack_top, xstack_size))   \
  X(14, env_run, FAST, (env_slot))                                           \
  X(15, frame_info, FAST, (frame_slot))                                      \
  X(16, slice_alloc, FAST, (env_slot, position))                             \
  X(17, slice_free, FAST, (env_slot, position))                              \
  X(18, env_set_upcalls, FAST, (env_slot, prologue, epilogue))               \
  X(19, env_set_pct_entry, FAST, (env_slot, entry, stack_top))               \
  X(20, pct_async, FAST, (env_slot, m0, m1, m2, m3, m4))                     \
  X(21, frame_reclaim, FAST, (machine_slot, env_slot, count, deadline_slices)) \
  X(22, env_set_fs_base, FAST, (env_slot, base))                              \
  X(23, env_set_quota, FAST, (env_slot, frames, envs, slices))                \
  X(24, invariant_scan, FAST, (machine_slot))                                 \
  X(25, page_share, FAST, (env_slot, dst_va, src_va, count, perms))           \
  X(26, page_protect_range, FAST, (env_slot, va, count, perms))               \
  X(27, ioport_create, FAST, (machine_slot, first, count, dest_slot))         \
  X(28, ioport_bind, FAST, (env_slot, port_slot))                             \
  X(29, ioport_unbind, FAST, (env_slot, port_slot))                           \
  X(32, yield, SLOW, ())                                                     \
  X(33, env_destroy, SLOW, (env_slot))                                       \
  X(34, poweroff, SLOW, (machine_slot, code))                                \
  X(35, yield_to, SLOW, (env_slot))                                          \
  X(36, pct_sync, SLOW, (env_slot, m0, m1, m2, m3, m4))                      \
  X(37, pct_wait, SLOW, ())                                                  \
  X(38, irq_ack, SLOW, (irq_slot))                                           \
  X(39, irq_create, SLOW, (machine_slot, line, dest_slot))                   \
  X(40, irq_bind, SLOW, (env_slot, irq_slot, bind)) \
  X(41, net_filter_install, SLOW, (filter_va, ring_va, flags))               \
  X(42, net_filter_remove, SLOW, (filter_id))                                \
  X(43, net_send, SLOW, (frame, offset, len)) \
  X(44, net_handler_attach, SLOW, (filter_id, insns_va, count, buffer_frame))

// Argument-list helpers: turn (a, b) into (uint64_t a, uint64_t b) or (a, b).
#define VENEER_ARGS_0()
#define VENEER_ARGS_1(a) uint64_t a
#define VENEER_ARGS_2(a, b) uint64_t a, uint64_t b
#define VENEER_ARGS_3(a, b, c) uint64_t a, uint64_t b, uint64_t c
#define VENEER_ARGS_4(a, b, c, d) uint64_t a, uint64_t b, uint64_t c, uint64_t d
#define VENEER_ARGS_5(a, b, c, d, e) \
  uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e
#define VENEER_ARGS_6(a, b, c, d, e, f) \
  uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f
#define VENEER_NARGS_(_0, _1, _2, _3, _4, _5, _6, N, ...) N
#define VENEER_NARGS(...) VENEER_NARGS_(_0 __VA_OPT__(, ) __VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define VENEER_CAT_(a, b) a##b
#define VENEER_CAT(a, b) VENEER_CAT_(a, b)
// VENEER_PARAMS((a, b)) -> uint64_t a, uint64_t b
#define VENEER_PARAMS_(...) VENEER_CAT(VENEER_ARGS_, VENEER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define VENEER_PARAMS(list) VENEER_PARAMS_ list
// VENEER_NAMES((a, b)) -> a, b
#define VENEER_NAMES_(...) __VA_ARGS__
#define VENEER_NAMES(list) VENEER_NAMES_ list
#define VENEER_COUNT(list) VENEER_NARGS list

#ifdef __cplusplus
namespace veneer {
// SYS_<name>: the number a caller puts in rax.
enum Syscall : unsigned long {
#define VENEER_SYSCALL_ENUM(index, name, path, args) SYS_##name = VENEER_SYSCALL_NUMBER(index),
  VENEER_SYSCALLS(VENEER_SYSCALL_ENUM)
#undef VENEER_SYSCALL_ENUM
};
constexpr bool is_veneer_syscall(unsigned long number) { return number >= VENEER_SLOW_FIRST; }
constexpr unsigned long syscall_index(unsigned long number) {
  return number >= VENEER_FAST_FIRST ? number - VENEER_FAST_FIRST : number - VENEER_SLOW_FIRST + VENEER_SLOW_BASE;
}
}  // namespace veneer
#endif
