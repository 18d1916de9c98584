// ExOS virtual memory: a region map per process, each region with a fault
// policy an application may replace, copy-on-write, range protection in one
// batched call, and dirty bits read through the page-table window. All of
// it is user code on Veneer's secure bindings; the kernel only checks each
// binding.
#pragma once

#include "exos/exos.h"
#include "exos/layout.h"

namespace exos::vm {

using layout::kPageSize;

// ---- The page-table window -----------------------------------------------------
// Calls fn(ctx, va, pte) for every present leaf entry in [lo, hi) of this
// env's own page tables, read through the read-only window, descending only
// where an upper level is present (a sparse address space costs what it
// maps). fn returns false to stop.
using PteVisitor = bool (*)(void* ctx, uint64_t va, uint64_t pte);
void walk(uint64_t lo, uint64_t hi, PteVisitor fn, void* ctx);
// Written / accessed since mapped (or since the bits were last cleared by a
// new binding): read from the PTE, no system call.
bool dirty(uint64_t va);
bool accessed(uint64_t va);

// ---- Regions ---------------------------------------------------------------------
enum class Kind : uint8_t {
  Anonymous,  // demand-zero: a page gets a zeroed frame of ours on first touch
  Shared,     // populated when made, marked shared: fork passes the same frames on
  Guard,      // never mapped: a touch is a crash (stack overflow)
};
struct Region;
// A region's own fault policy: handle the page fault and return true, or
// return false to let the region's kind decide (the default policy). It
// runs in the exception handler, on the exception stack.
using FaultPolicy = bool (*)(Region& r, ExceptionFrame* f);
struct Region {
  uint64_t start, end;  // page aligned, [start, end)
  uint64_t perms;       // what new pages get (PERM_WRITE, PERM_EXEC, application marks)
  Kind kind;
  FaultPolicy policy;   // nullptr: the kind's default
  void* ctx;            // the policy's
};
constexpr uint32_t kMaxRegions = 64;
// Makes a region of `size` bytes (rounded up to pages) at *va, or where
// ExOS finds room when *va is 0. ERR_BUSY if it overlaps a region;
// ERR_NO_RESOURCES when the map is full.
Status map(uint64_t* va, uint64_t size, uint64_t perms, Kind kind = Kind::Anonymous);
// Removes the regions in [va, va+size) (whole regions only: ERR_INVALID_ARGS
// for a partial one) and unmaps their pages.
Status unmap(uint64_t va, uint64_t size);
// New permissions for every present page of [va, va+size), in one
// page_protect_range per run of up to 512 pages with the same marks (the
// absent pages between them skipped by the kernel); copy-on-write pages stay read-only (their first
// write still copies); regions inside the range take the new permissions
// for pages they map later.
Status protect(uint64_t va, uint64_t size, uint64_t perms);
// Installs a region's own fault policy (nullptr: back to the default).
Status set_policy(uint64_t va, FaultPolicy policy, void* ctx);
Region* find(uint64_t va);
// The default page-fault handling, which ExOS installs for vector 14: the
// region's policy, then copy-on-write, demand-zero, guard. False when the
// fault is none of these (a crash). A program that installs its own
// vector-14 handler can call this for the faults it does not want.
bool handle_page_fault(ExceptionFrame* f);

// ---- Frames --------------------------------------------------------------------------
// A frame this process owns may be mapped by others too (copy-on-write
// children, shared memory): it can be freed only when nobody maps it, or
// freeing would unmap it from them. unmap_page unmaps our page and frees the
// frame at once if it is ours and now unmapped, or remembers it; sweep frees
// the remembered frames nobody maps any more (the frame table says).
Status unmap_page(uint64_t va);
void remember_released(uint64_t pfn);
void sweep();
uint64_t released_pending();
// Copy-on-write: makes our page at `page` writable: the frame is taken back
// as it is when it is ours and nobody else maps it, else copied.
Status break_cow(uint64_t page);
// After children are gone: pages still marked copy-on-write whose frame we
// own alone become plainly writable again, and released frames are swept.
void settle();
// Copies one page (4096 bytes, rep movsq).
void copy_page(void* dst, const void* src);

// Startup: the main stack as a demand-zero region with a guard page below.
void init();

}  // namespace exos::vm
