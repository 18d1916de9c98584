// ExOS's address-space layout and its own marks in page-table entries.
// Every ExOS process has the same layout, so fork shares pages at the same
// addresses and exec'd images find what their predecessor handed over.
#pragma once

#include <stdint.h>

#include "veneer/abi.h"

namespace exos::layout {

using veneer::kPageSize;

// The program image is linked at 0x400000 (cmake/guest.cmake). The layout
// is compact on purpose: fork reads the page tables and the kernel tears
// them down at exit, both in time proportional to the tables, so what a
// process usually has shares as few page tables as it can: its image,
// ExOS's small areas and its first mappings all sit in the first GiB (one
// page directory), the small areas in one 2 MiB block (one page table).
constexpr uint64_t kProgramTop = 0x0000000020000000;     // ELF segments end below this (512 MiB)
constexpr uint64_t kAreaBase = kProgramTop;               // ExOS's small areas: one 2 MiB block
constexpr uint64_t kProcTableVa = kAreaBase;              // the process manager's table, read-only
constexpr uint64_t kInheritVa = kAreaBase + 0x1000;       // what spawn/exec hand a new image (1 page)
constexpr uint64_t kLrpcBase = kAreaBase + 0x10000;       // LRPC: a server's binding table and argument pages (64)
constexpr uint64_t kLrpcClientBase = kAreaBase + 0x50000;  // a client's argument pages (2 each, 64 bindings)
constexpr uint64_t kPipeBase = kAreaBase + 0x100000;      // pipe objects: header page + ring page each
constexpr uint64_t kPipeStride = 4 * kPageSize;           // one pipe's slot (a guard gap after it)
constexpr uint64_t kMaxPipes = 64;
constexpr uint64_t kShmBase = kAreaBase + 0x00200000;     // shared-memory segments (shm_open's default)
constexpr uint64_t kShmTop = kAreaBase + 0x10000000;
constexpr uint64_t kManagerArena = kAreaBase + 0x10000000;  // the manager's own: segments it serves
constexpr uint64_t kMapBase = kAreaBase + 0x18000000;     // vm::map without an address: here first ...
constexpr uint64_t kMapTop = kAreaBase + 0x20000000;
constexpr uint64_t kHeapBase = 0x0000000040000000;        // malloc's region (GiB 1 on)
constexpr uint64_t kHeapMax = 64ull << 30;
constexpr uint64_t kMapBase2 = kHeapBase + kHeapMax;      // ... then here
constexpr uint64_t kMapTop2 = 0x0000500000000000;
// Programs linked high (veneer_user_program LINKED_AT): the Linux
// personality's init, out of the way of the Linux programs it loads, which
// own the low addresses. Below it, the Linux program's stack and the
// personality's own (libos/src/linux).
constexpr uint64_t kHighProgramBase = 0x0000580000000000;
constexpr uint64_t kHighProgramTop = 0x0000590000000000;
constexpr uint64_t kLinuxStackTop = 0x0000570000000000;
constexpr uint64_t kLinuxOwnStackTop = 0x0000560000000000;
// ExOS's private block: the 2 MiB below the exception stack's top, one leaf
// page table for all of it, never inherited by fork (its pages carry the
// private mark, and fork does not even read this block). Lazily mapped
// parts are demand-zero (a private region).
constexpr uint64_t kXStackTop = 0x00006F0000000000;     // exception stack (top)
constexpr uint64_t kXStackPages = 4;
constexpr uint64_t kPrivateBase = kXStackTop - (2ull << 20);
// The region ends a page below the exception stack: a handler that overruns
// that stack faults on the gap (no region: a crash) instead of running on
// into demand-zero private pages (over ExOS's own state).
constexpr uint64_t kPrivateTop = kXStackTop - (kXStackPages + 1) * kPageSize;
constexpr uint64_t kCopyScratch = kPrivateBase;               // copy-on-write copies pass through here
constexpr uint64_t kLoadScratch = kPrivateBase + 0x1000;      // spawn/exec fill a new image's pages here
constexpr uint64_t kPrivateStateVa = kPrivateBase + 0x2000;   // ExOS's per-env state (1 page)
constexpr uint64_t kReleasedVa = kPrivateBase + 0x10000;      // vm's list of frames others still map (4 pages)
constexpr uint64_t kForkBuilderVa = kPrivateBase + 0x20000;   // fork's work area
constexpr uint64_t kLoaderVa = kPrivateBase + 0x40000;        // the ELF loader's page list
constexpr uint64_t kInheritBufferVa = kPrivateBase + 0x50000;  // the inherit block being written
constexpr uint64_t kLrpcCopyVa = kPrivateBase + 0x60000;      // a checked LRPC server's argument copy
constexpr uint64_t kNetVa = kPrivateBase + 0x80000;           // the network stack: 16 slots of 64 KiB (rings, send page)
constexpr uint64_t kNetSlotBytes = 0x10000;
constexpr uint64_t kPctStackTop = kPrivateBase + 0x1E0000;    // protected entry stack (pct_serve, LRPC)
constexpr uint64_t kPctStackPages = 4;
constexpr uint64_t kStackTop = veneer::kInitStackTop;   // the main stack (16 pages at start, grows to 8 MiB)
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
