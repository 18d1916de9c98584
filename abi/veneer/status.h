// Veneer status codes: the one numbered status enum shared by kernel and
// user space. Ranges follow Zircon: 0 is success, -1..-9 dispatch errors,
// -10.. parameter errors, -20.. capability errors, -30.. rights errors,
// -40.. state errors, -50.. resource exhaustion, -60.. errors of ExOS (the
// library OS) that have no kernel meaning, -100.. packet filter refusals,
// -110.. safe-handler verifier refusals.
#pragma once

#define VENEER_STATUS_LIST(X)                                                    \
  X(OK, 0, "success")                                                            \
  X(ERR_BAD_SYSCALL, -1, "no system call has this number")                       \
  X(ERR_INVALID_ARGS, -10, "an argument is out of its documented domain")       \
  X(ERR_BAD_ADDRESS, -11, "address is not a canonical user address")            \
  X(ERR_UNALIGNED, -12, "address is not page aligned")                           \
  X(ERR_OUT_OF_RANGE, -13, "frame number or slot index beyond the table")       \
  X(ERR_BAD_CAP, -20, "capability slot is empty or holds the wrong type")       \
  X(ERR_STALE_CAP, -21, "capability refers to a resource that was freed or revoked") \
  X(ERR_ACCESS_DENIED, -30, "capability lacks a right the operation needs")     \
  X(ERR_BUSY, -40, "resource is already allocated or slot already used")        \
  X(ERR_NOT_FOUND, -41, "nothing is mapped at that address")                     \
  X(ERR_BAD_STATE, -42, "object is in the wrong state for this operation")      \
  X(ERR_NO_ENTRY, -43, "the env has no protected entry point")                  \
  X(ERR_NO_DEVICE, -44, "this machine has no such device (a network interface)") \
  X(ERR_NO_MEMORY, -50, "no free frame is left")                                \
  X(ERR_NO_RESOURCES, -51, "a fixed limit is reached: env slots, mappings of one frame") \
  X(ERR_QUOTA, -52, "the account's limit for this resource is reached")         \
  X(ERR_NO_MODULE, -60, "ExOS: no boot module has this name")                    \
  X(ERR_MODULE_NOT_MAPPED, -61, "ExOS: boot modules are mapped in init only")     \
  X(ERR_BAD_ELF, -62, "ExOS: not an x86-64 executable, or a malformed one")         \
  X(ERR_NO_CHILD, -63, "ExOS: no such child process")                              \
  X(ERR_NO_PROCESS, -64, "ExOS: no such process, or not a process of this manager") \
  X(ERR_PIPE_CLOSED, -65, "ExOS: every reading end of the pipe is closed")          \
  X(ERR_BAD_FD, -66, "ExOS: not an open file descriptor")                           \
  X(ERR_NO_NAME, -67, "ExOS: no shared-memory segment or service has this name") \
  X(ERR_TIMEOUT, -68, "ExOS: nothing arrived before the timeout (0: did not wait)") \
  X(ERR_UNREACHABLE, -69, "ExOS: no answer to ARP for the next hop")          \
  X(ERR_FILTER_EMPTY, -100, "packet filter has no atoms")                      \
  X(ERR_FILTER_MALFORMED, -101, "packet filter field out of its domain (count, width, mask, value, flags, shift)") \
  X(ERR_FILTER_PAST_FRAME, -102, "packet filter reads past the longest frame")  \
  X(ERR_FILTER_NEVER_MATCHES, -103, "packet filter atoms contradict each other") \
  X(ERR_FILTER_OVERLAP, -104, "packet filter would accept a frame another env's filter accepts") \
  X(ERR_HANDLER_SIZE, -110, "handler has no instructions or more than 4096")  \
  X(ERR_HANDLER_BAD_INSN, -111, "handler instruction unknown, unsupported or with reserved fields set") \
  X(ERR_HANDLER_BAD_JUMP, -112, "handler jump leaves the program or lands inside an instruction") \
  X(ERR_HANDLER_UNBOUNDED, -113, "handler loop or path not proven to end within the bound") \
  X(ERR_HANDLER_TOO_COMPLEX, -114, "handler exceeds the verifier's exploration budget") \
  X(ERR_HANDLER_BAD_ACCESS, -115, "handler memory access not proven within frame, stack or buffer") \
  X(ERR_HANDLER_UNINIT, -116, "handler reads an uninitialised register or stack byte") \
  X(ERR_HANDLER_BAD_HELPER, -117, "handler calls an unknown helper or passes a bad argument") \
  X(ERR_HANDLER_POINTER_LEAK, -118, "handler uses a pointer in a way that could expose or forge an address")

#ifdef __cplusplus
namespace veneer {
enum Status : long {
#define VENEER_STATUS_ENUM(name, value, text) name = value,
  VENEER_STATUS_LIST(VENEER_STATUS_ENUM)
#undef VENEER_STATUS_ENUM
};

// Human-readable name of a status, for logs and test failures.
constexpr const char* status_name(long s) {
#define VENEER_STATUS_NAME(name, value, text) \
  if (s == value) return #name;
  VENEER_STATUS_LIST(VENEER_STATUS_NAME)
#undef VENEER_STATUS_NAME
  return "ERR_UNKNOWN";
}
}  // namespace veneer
#endif
