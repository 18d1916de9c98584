// ExOS's address-space layout and its own marks in page-table entries.
// Every ExOS process has the same layout, so fork shares pages at the same
// addresses and exec'd images find what their predecessor handed over.
#pragma once

#include <stdint.h>

#include "veneer/abi.h"

namespace exos::layout {

using veneer::kPageSize;

// The program image is linked at 0x400000 (cmake/guest.cmake). Regions
// ExOS places, each well apart so no region can run into the next:
constexpr uint64_t kHeapBase = 0x0000100000000000;     // malloc's region
constexpr uint64_t kHeapMax = 64ull << 30;
constexpr uint64_t kMapBase = 0x0000200000000000;      // vm::map without an address
constexpr uint64_t kMapTop = 0x0000300000000000;
constexpr uint64_t kShmBase = 0x0000300000000000;      // shared-memory segments (shm_attach default)
constexpr uint64_t kShmTop = 0x0000308000000000;
constexpr uint64_t kPipeBase = 0x0000310000000000;     // pipe objects: header page + ring page each
constexpr uint64_t kPipeStride = 4 * kPageSize;        // one pipe's slot (a guard gap after it)
constexpr uint64_t kMaxPipes = 256;
constexpr uint64_t kLrpcBase = 0x0000320000000000;     // LRPC argument pages, one per binding
constexpr uint64_t kInheritVa = 0x0000330000000000;    // what spawn/exec hand a new image (1 page)
constexpr uint64_t kProcTableVa = 0x0000340000000000;  // the process manager's table, read-only
constexpr uint64_t kManagerArena = 0x0000350000000000; // the manager's own: segments it serves
// ExOS's private pages (never inherited by fork):
constexpr uint64_t kCopyScratch = 0x00006E0000200000;   // copy-on-write copies pass through here
constexpr uint64_t kReleasedVa = 0x00006E0000400000;    // vm's list of frames others still map
constexpr uint64_t kLoadScratch = 0x00006E0000000000;   // spawn/exec fill a new image's pages here
constexpr uint64_t kPctStackTop = 0x00006D0000000000;   // protected entry stack (pct_serve, LRPC)
constexpr uint64_t kPctStackPages = 4;
constexpr uint64_t kXStackTop = 0x00006F0000000000;     // exception stack
constexpr uint64_t kXStackPages = 4;
constexpr uint64_t kStackTop = veneer::kInitStackTop;   // the main stack (16 pages at start)
constexpr uint64_t kStackPages = 16;

// ExOS's marks in a page-table entry (perms bits 8-14, kept by the kernel in
// PTE bits 52-58, read back through the page-table window). The kernel
// gives them no meaning; fork and the fault handler do:
constexpr uint64_t kMarkCow = 1ull << 8;      // read-only until written: then copied (or reclaimed)
constexpr uint64_t kMarkShared = 1ull << 9;   // fork shares it as it is (shared memory, pipes)
constexpr uint64_t kMarkPrivate = 1ull << 10; // fork does not pass it on (exception stack, scratch)
// Bits 11-14 are free for applications (a garbage collector's card marks...).
constexpr uint64_t kMarkAppMask = 0xFull << 11;

// Reading marks and permissions back from a PTE.
constexpr uint64_t kPtePresent = 1, kPteWrite = 2, kPteAccessed = 1 << 5, kPteDirty = 1 << 6;
constexpr uint64_t kPteNoExec = 1ull << 63;
constexpr uint64_t kPteMayWrite = 1ull << 9, kPteHold = 1ull << 11;
inline uint64_t pte_pfn(uint64_t pte) { return (pte >> 12) & 0xFFFFFFFFFFull; }
inline uint64_t pte_marks(uint64_t pte) {
  return ((pte >> veneer::kPteUserShift) & 0x7F) << veneer::kPermUserShift;
}
// The perms (write, exec, marks) a present PTE has now.
inline uint64_t pte_perms(uint64_t pte) {
  return ((pte & kPteWrite) ? veneer::PERM_WRITE : 0) | ((pte & kPteNoExec) ? 0 : veneer::PERM_EXEC) |
         pte_marks(pte);
}

}  // namespace exos::layout
