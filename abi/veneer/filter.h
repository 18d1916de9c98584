// Dynamic packet filters: the declarative layout an env hands the kernel to
// claim frames. A filter is a conjunction of atoms; an atom reads 1, 2 or 4
// bytes of the frame in network (big-endian) order, masks them and compares
// with a value. An optional header-length shift makes later atoms relative to
// a header whose start depends on a length field (IPv4's IHL), so a filter can
// name the UDP port of an IPv4 packet that carries options.
//
// The kernel compiles every installed filter into one merged decision tree;
// it refuses a filter that could accept a frame another env's filter accepts
// (exact decision), and malformed, empty or oversize filters, each with its own
// status (ERR_FILTER_* in status.h; docs/abi.md).
#pragma once

#include <stdint.h>

#ifdef __cplusplus
namespace veneer {

constexpr uint32_t kFilterMaxAtoms = 16;
// The longest frame a filter may examine: Ethernet without the FCS. Bytes
// beyond it are invisible to filters, so ownership is decided over frames of
// at most this length.
constexpr uint32_t kFilterMaxFrame = 1514;
// What classification returns when no filter accepts the frame.
constexpr uint32_t kFilterNoMatch = 0xFFFFFFFFu;

enum FilterAtomFlags : uint8_t {
  FILTER_ATOM_AFTER_SHIFT = 1,  // offset counts from the shifted header start
};

struct FilterAtom {
  uint16_t offset;  // byte offset: from the frame start, or from the shifted header start
  uint8_t width;    // 1, 2 or 4
  uint8_t flags;    // FilterAtomFlags
  uint32_t mask;    // non-zero, no bits beyond `width` bytes
  uint32_t value;   // no bits outside `mask`
};

// header start = base + ((frame[offset] & mask) << shift)
// IPv4 after Ethernet: offset 14, mask 0x0F (IHL, in 32-bit words), shift 2, base 14.
struct FilterShift {
  uint16_t offset;    // the byte holding the length field
  uint8_t mask;       // non-zero, at most kFilterShiftMaskBits bits set
  uint8_t shift;      // 0..kFilterShiftMaxShift
  uint16_t base;      // <= kFilterMaxFrame
  uint16_t reserved;  // 0
};
constexpr uint32_t kFilterShiftMaskBits = 4;
constexpr uint32_t kFilterShiftMaxShift = 4;

enum FilterFlags : uint32_t {
  FILTER_HAS_SHIFT = 1,  // `shift` is in use (needed by any FILTER_ATOM_AFTER_SHIFT atom)
};

struct Filter {
  uint32_t natoms;  // 1..kFilterMaxAtoms
  uint32_t flags;   // FilterFlags
  FilterShift shift;
  FilterAtom atoms[kFilterMaxAtoms];
};

static_assert(sizeof(FilterAtom) == 12);
static_assert(sizeof(FilterShift) == 8);
static_assert(sizeof(Filter) == 16 + 12 * kFilterMaxAtoms);

}  // namespace veneer
#endif
