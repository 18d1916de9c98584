// The kernel's consistency invariants, checked by one scan of its tables.
// The host fuzzers run it after every system call; on the real kernel init
// runs it through invariant_scan (tests do, after the hostile-env fuzz case).
#pragma once

#include <stdint.h>

namespace veneer {

// Called once per violation found: what is wrong and two numbers that say
// where (a frame, an env id, a va...).
using InvariantReport = void (*)(const char* what, uint64_t a, uint64_t b);

// Checks every table the kernel keeps and returns the number of violations:
//  - frames: the free list, owner lists and per-env counts agree with the
//    page-ownership table; free frames have no mappings and no reverse maps;
//  - address spaces: every live env's page-table tree is made of page-table
//    frames it owns, each used once; the kernel half and both read-only
//    windows are the kernel's; every present user PTE is user, points at a
//    frame an env may map (user or module kind, allocated) and asks for no
//    more than its binding allowed (write, execute);
//  - reverse maps: each present user PTE has exactly one reverse-map record
//    and each record one PTE; per-frame and per-env mapping counts match;
//  - capabilities: a frame capability whose guard is current names an
//    allocated, mappable frame;
//  - the slice vector: every position belongs to a live env or nobody, and
//    each env's slices_held is its count.
//  - the network (netif_check): rings and handlers belong to live envs and
//    their filters; every received frame counted once.
uint64_t check_invariants(InvariantReport report);

}  // namespace veneer
