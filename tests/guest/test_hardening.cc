// Guest tests: the attacks of the outside security review, each performed
// from an ordinary env, and the mechanisms added to close them (foreign
// system calls, per-env segment state and TLS base).
#include "guest_test.h"

namespace {

using namespace veneer;

guest::Mailbox* mailbox() { return reinterpret_cast<guest::Mailbox*>(guest::kMailboxVa); }

volatile uint64_t seen_vector, seen_error, seen_count, recover_rip;

void record_and_skip2(ExceptionFrame* f) {
  seen_vector = f->vector;
  seen_error = f->error_code;
  seen_count = seen_count + 1;
  f->rip += 2;
}

struct Selectors {
  uint16_t ds, es, fs, gs;
};
Selectors read_selectors() {
  Selectors s;
  asm volatile("mov %%ds, %0\n mov %%es, %1\n mov %%fs, %2\n mov %%gs, %3" : "=r"(s.ds), "=r"(s.es), "=r"(s.fs), "=r"(s.gs));
  return s;
}

}  // namespace

// Finding 1: a far jump to the 32-bit user code selector used to enter
// compatibility mode, where syscall jumped to ring 0 at rip 0 (MSR_CSTAR was
// never set). The selector is empty now: the far jump raises #GP. (A far
// jump, not a far return: QEMU's far return reads the user stack as the
// kernel, which SMAP refuses.)
struct [[gnu::packed]] FarPointer {
  uint32_t offset;
  uint16_t selector;
};
volatile FarPointer compat_target;
TEST(compatibility_mode_is_unreachable) {
  exos::set_exception_handler(13, [](ExceptionFrame* f) {
    seen_vector = f->vector;
    seen_error = f->error_code;
    seen_count = seen_count + 1;
    f->rip = recover_rip;
  });
  seen_count = 0;
  asm volatile(
      "lea 2f(%%rip), %%rax\n"
      "mov %%rax, %0\n"
      "lea 1f(%%rip), %%rax\n"
      "movl %%eax, (%1)\n"
      "movw $0x1b, 4(%1)\n"  // the 32-bit user code selector sysret's layout reserves
      "ljmpl *(%1)\n"
      ".code32\n"
      "1: syscall\n"  // in compatibility mode this would take the CSTAR entry
      "jmp 1b\n"
      ".code64\n"
      "2:\n"
      : "=m"(recover_rip)
      : "d"(&compat_target)
      : "rax", "rcx", "r11", "memory");
  CHECK_EQ(seen_count, 1);
  CHECK_EQ(seen_vector, 13);
  CHECK_EQ(seen_error, 0x18);  // the selector's index: no such descriptor
  exos::set_exception_handler(13, nullptr);
}

// The other ways into the kernel that are not Veneer's: sysenter (a null
// SYSENTER_CS: #GP, or #UD on CPUs that have no sysenter in long mode) and
// int 0x80 (a kernel-only gate: #GP) reach the env's handler as faults.
TEST(sysenter_and_int80_are_faults) {
  exos::set_exception_handler(13, record_and_skip2);
  exos::set_exception_handler(6, record_and_skip2);
  seen_count = 0;
  asm volatile("sysenter" ::: "rcx", "r11", "memory");
  CHECK_EQ(seen_count, 1);
  CHECK(seen_vector == 13 || seen_vector == 6);
  asm volatile("int $0x80" ::: "memory");
  CHECK_EQ(seen_count, 2);
  CHECK_EQ(seen_vector, 13);
  CHECK_EQ(seen_error & 3, 2);  // an IDT entry (QEMU numbers them by 16-byte entry, CPUs by vector)
  exos::set_exception_handler(13, nullptr);
  exos::set_exception_handler(6, nullptr);
}

// Finding 7: sgdt/sidt/str from ring 3 revealed kernel addresses. With UMIP
// (where the CPU has it) they fault.
TEST(descriptor_tables_are_hidden_with_umip) {
  uint32_t a = 7, b, c = 0, d;
  asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  bool umip = c & (1u << 2);
  exos::printf("  umip %s\n", umip ? "present" : "absent: nothing to check on this CPU");
  if (!umip) return;
  exos::set_exception_handler(13, [](ExceptionFrame* f) {
    seen_vector = f->vector;
    seen_count = seen_count + 1;
    f->rip += 3;  // each instruction below is 3 bytes
  });
  seen_count = 0;
  uint8_t buf[10] = {};
  asm volatile("sgdt (%0)" ::"a"(buf) : "memory");  // 0f 01 00
  asm volatile("sidt (%0)" ::"a"(buf) : "memory");  // 0f 01 08
  asm volatile("str (%0)" ::"a"(buf) : "memory");   // 0f 00 08
  CHECK_EQ(seen_count, 3);
  CHECK_EQ(seen_vector, 13);
  bool zero = true;
  for (uint8_t x : buf) zero &= x == 0;
  CHECK(zero);  // nothing was stored
  exos::set_exception_handler(13, nullptr);
}

// Finding 8: data-segment selectors one env loaded were seen by the next (a
// covert channel). They are part of each env's state now.
TEST(segment_selectors_do_not_leak_between_envs) {
  exos::Frame mb;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  asm volatile("mov %0, %%ds\n mov %0, %%es\n mov %0, %%fs\n mov %0, %%gs" ::"r"(0));
  exos::Child c;
  CHECK_EQ(guest::spawn_child(guest::CHILD_SEGMENT_SETTER, mb.slot, &c), OK);
  uint64_t leaked = 0, rounds = 0;
  while (!mailbox()->segments_done && rounds < 100000) {
    exos::yield();
    Selectors s = read_selectors();
    if (mailbox()->segments_loaded && (s.ds | s.es | s.fs | s.gs)) leaked++;
    rounds++;
  }
  CHECK_EQ(mailbox()->segments_done, 1);
  CHECK_EQ(leaked, 0);
  CHECK_EQ(mailbox()->segments_changed, 0);
  CHECK_STATUS(exos::sys_env_destroy(c.slot), OK);
  exos::sys_cap_delete(c.slot);
  exos::slot_free(c.slot);
  CHECK_EQ(exos::frame_free(mb), OK);
}

// Finding 9: handlers were entered with the interrupted code's trap flag
// set, so a #DB handler single-stepped itself into an endless nest of #DBs.
// Handlers now start with TF (and DF, AC) clear; the frame keeps them.
volatile uint64_t db_frame_tf, db_handler_flags;
TEST(handlers_start_without_the_trap_flag) {
  exos::set_exception_handler(1, [](ExceptionFrame* f) {
    uint64_t flags;
    asm volatile("pushfq\n popq %0" : "=r"(flags));
    db_handler_flags = flags;
    db_frame_tf = f->rflags & 0x100;
    seen_count = seen_count + 1;
    f->rflags &= ~0x100ull;  // stop stepping
  });
  seen_count = 0;
  asm volatile(
      "pushfq\n"
      "orq $0x500, (%%rsp)\n"  // TF and DF
      "popfq\n"
      "nop\n"
      "cld\n" ::: "memory", "cc");
  CHECK_EQ(seen_count, 1);
  CHECK_EQ(db_frame_tf, 0x100);
  CHECK_EQ(db_handler_flags & 0x100, 0);
  CHECK_EQ(db_handler_flags & 0x400, 0);  // DF clear for C++ code
  exos::set_exception_handler(1, nullptr);
}

// The review's correctness finding: ExOS's exception entry saved no SSE
// state, so a handler's own use of xmm registers (printf's, here a pxor)
// reached the interrupted code.
TEST(exception_handlers_preserve_sse_state) {
  exos::set_exception_handler(3, [](ExceptionFrame*) {
    asm volatile("pxor %%xmm0, %%xmm0\n pxor %%xmm1, %%xmm1" ::: "xmm0", "xmm1");
    exos::printf("  handler ran (and used SSE registers)\n");
  });
  uint64_t lo = 0x1122334455667788ull, out0 = 0, out1 = 0;
  asm volatile(
      "movq %2, %%xmm0\n"
      "movq %2, %%xmm1\n"
      "int3\n"
      "movq %%xmm0, %0\n"
      "movq %%xmm1, %1\n"
      : "=r"(out0), "=r"(out1)
      : "r"(lo)
      : "xmm0", "xmm1", "memory");
  CHECK_EQ(out0, lo);
  CHECK_EQ(out1, lo);
  exos::set_exception_handler(3, nullptr);
}

// Foreign system calls (numbers outside Veneer's range) reach the handler as
// vector kVecForeignSyscall with every argument register live; the handler
// returns a result through the frame's rax. Unassigned numbers inside
// Veneer's range fail in the kernel as before.
TEST(foreign_system_calls_reach_the_handler) {
  exos::set_exception_handler(kVecForeignSyscall, [](ExceptionFrame* f) {
    seen_count = seen_count + 1;
    seen_error = f->error_code;
    f->rax = f->error_code * 2 + 1;
  });
  seen_count = 0;
  register uint64_t r10 asm("r10") = 0x1010;
  register uint64_t r8 asm("r8") = 0x808;
  register uint64_t r9 asm("r9") = 0x909;
  register uint64_t r11 asm("r11");
  uint64_t rax = 39, rdi = 0xD1, rsi = 0x51, rdx = 0xD2, rbx = 0xB0;
  asm volatile("syscall"
               : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10), "+r"(r8), "+r"(r9), "+b"(rbx), "=r"(r11)
               :
               : "rcx", "memory");
  CHECK_EQ(seen_count, 1);
  CHECK_EQ(seen_error, 39);
  CHECK_EQ(rax, 79);
  CHECK_EQ(rdi, 0xD1);
  CHECK_EQ(rsi, 0x51);
  CHECK_EQ(rdx, 0xD2);
  CHECK_EQ(r10, 0x1010);
  CHECK_EQ(r8, 0x808);
  CHECK_EQ(r9, 0x909);
  CHECK_EQ(rbx, 0xB0);
  CHECK(r11 & 0x200);  // rflags, as syscall leaves it
  // The edges of Veneer's range.
  const uint64_t edges[] = {0, 1000, VENEER_SLOW_FIRST - 1, 1ull << 63};
  for (uint64_t num : edges) {
    uint64_t before = seen_count;
    veneer::SysResult r = exos::raw_syscall(num);
    CHECK_EQ(seen_count, before + 1);
    CHECK_EQ(uint64_t(r.status), num * 2 + 1);
  }
  uint64_t before = seen_count;
  CHECK_STATUS(exos::raw_syscall(VENEER_SYSCALL_NUMBER(30)), ERR_BAD_SYSCALL);  // unassigned fast index
  CHECK_STATUS(exos::raw_syscall(VENEER_SYSCALL_NUMBER(50)), ERR_BAD_SYSCALL);  // unassigned slow index
  CHECK_STATUS(exos::raw_syscall(~0ull), ERR_BAD_SYSCALL);                       // fast index 31
  CHECK_EQ(seen_count, before);
  // ExOS's default, with no handler installed for the vector.
  exos::set_exception_handler(kVecForeignSyscall, nullptr);
  CHECK_STATUS(exos::raw_syscall(39), ERR_BAD_SYSCALL);
}

// An env without an exception handler gets ERR_BAD_SYSCALL for a foreign
// call and keeps running.
TEST(foreign_system_call_without_handler_fails_cleanly) {
  exos::Frame mb;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  exos::Child c;
  CHECK_EQ(guest::spawn_child(guest::CHILD_FOREIGN_NO_HANDLER, mb.slot, &c), OK);
  for (int i = 0; i < 100000 && !mailbox()->foreign_done; i++) exos::yield();
  CHECK_EQ(mailbox()->foreign_done, 1);
  CHECK_EQ(mailbox()->foreign_status, ERR_BAD_SYSCALL);
  CHECK_EQ(exos::env_info(c.id).id, c.id);  // still alive
  CHECK_STATUS(exos::sys_env_destroy(c.slot), OK);
  exos::sys_cap_delete(c.slot);
  exos::slot_free(c.slot);
  CHECK_EQ(exos::frame_free(mb), OK);
}

// Thread-local storage: the FS base is per env, set with env_set_fs_base,
// kept across switches and protected control transfers, and validated.
TEST(fs_base_is_per_env_state) {
  constexpr uint64_t kTls = 0x00004C0000000000;
  exos::Frame tls, mb;
  CHECK_EQ(exos::shared_page_alloc(kTls, PERM_WRITE, &tls), OK);
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  reinterpret_cast<volatile uint64_t*>(kTls)[1] = 0x7157;
  CHECK_STATUS(exos::sys_env_set_fs_base(kSelfSlot, kTls), OK);
  auto read_fs8 = [] {
    uint64_t v;
    asm volatile("mov %%fs:8, %0" : "=r"(v));
    return v;
  };
  CHECK_EQ(read_fs8(), 0x7157);
  // Other envs run meanwhile (one of them serves protected control
  // transfers, through the general path: our TLS base must switch).
  exos::Child server;
  CHECK_EQ(guest::spawn_child(guest::CHILD_PCT_SERVER, mb.slot, &server), OK);
  for (int i = 0; i < 100000 && exos::env_info(server.id).state != ENV_BLOCKED; i++) exos::yield();
  exos::Received reply;
  CHECK_EQ(exos::pct_call(server.slot, exos::Message{{10, 20, 30, 0, 0}}, &reply), OK);
  CHECK_EQ(reply.msg.w[0], 11);
  CHECK_EQ(reply.msg.w[3], guest::kServerMagic);  // it ran, in its own address space
  for (int i = 0; i < 50; i++) exos::yield();
  CHECK_EQ(read_fs8(), 0x7157);
  // Bad input.
  CHECK_STATUS(exos::sys_env_set_fs_base(kSelfSlot, 0xFFFF800000000000ull), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_set_fs_base(kSelfSlot, 0x0000800000000000ull), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_set_fs_base(kSelfSlot, kUserTop), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_set_fs_base(999, kTls), ERR_BAD_CAP);
  CHECK_STATUS(exos::sys_env_set_fs_base(mb.slot, kTls), ERR_BAD_CAP);  // a frame, not an env
  CHECK_EQ(read_fs8(), 0x7157);
  CHECK_STATUS(exos::sys_env_set_fs_base(kSelfSlot, 0), OK);
  CHECK_STATUS(exos::sys_env_destroy(server.slot), OK);
  exos::sys_cap_delete(server.slot);
  exos::slot_free(server.slot);
  CHECK_EQ(exos::frame_free(mb), OK);
  CHECK_EQ(exos::frame_free(tls), OK);
}

namespace {

constexpr uint64_t kVb = 0x0000440000000000;  // where the batch tests map

uint64_t frames_of(uint32_t id) {
  uint64_t n = 0;
  for (uint64_t p = 0; p < exos::kernel_info().nframes; p++) n += exos::frame_table()[p].owner == id;
  return n;
}
uint64_t pfn_of(uint64_t pte) { return (pte >> 12) & 0xFFFFFFFFFFull; }

struct Kid {
  exos::Child c;
  ~Kid() {
    exos::sys_env_destroy(c.slot);
    exos::sys_cap_delete(c.slot);
    exos::slot_free(c.slot);
  }
};

}  // namespace

// Finding 2: page_batch validated each op against the state before the
// batch. (a) [MAP va <- a read-only capability, PROTECT va WRITE] gave a
// writable mapping of a read-only frame; (b) [UNMAP va, PROTECT va] left a
// present PTE to frame 0. A batch now names strictly ascending addresses, so
// no op meets another's page.
TEST(page_batch_ops_cannot_meet) {
  exos::Frame mine, theirs;
  CHECK_EQ(exos::frame_alloc(&mine), OK);
  CHECK_EQ(exos::frame_alloc(&theirs), OK);
  constexpr uint64_t kReadOnly = 700;
  CHECK_STATUS(exos::sys_cap_grant(theirs.slot, kSelfSlot, kReadOnly, RIGHT_READ), OK);
  CHECK_STATUS(exos::sys_page_map(kSelfSlot, kVb, mine.slot, PERM_WRITE), OK);
  uint64_t before = exos::read_pte(kVb);
  // (a)
  PageOp a[2] = {{kVb, kReadOnly, PAGE_OP_MAP, PERM_READ}, {kVb, 0, PAGE_OP_PROTECT, PERM_WRITE}};
  veneer::SysResult r = exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(a), 2);
  CHECK_EQ(r.status, ERR_INVALID_ARGS);
  CHECK_EQ(r.value, 1);
  CHECK_EQ(exos::read_pte(kVb), before);
  // (b), from the same starting state: kVb maps our frame, writable.
  CHECK_STATUS(exos::sys_page_map(kSelfSlot, kVb, mine.slot, PERM_WRITE), OK);
  before = exos::read_pte(kVb);
  PageOp b[2] = {{kVb, 0, PAGE_OP_UNMAP, 0}, {kVb, 0, PAGE_OP_PROTECT, PERM_WRITE | PERM_EXEC}};
  r = exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(b), 2);
  CHECK_EQ(r.status, ERR_INVALID_ARGS);
  CHECK_EQ(r.value, 1);
  CHECK_EQ(exos::read_pte(kVb), before);
  // Descending addresses are refused too; ascending ones on distinct pages
  // work, each op against exactly the state it meets.
  PageOp down[2] = {{kVb + kPageSize, kReadOnly, PAGE_OP_MAP, PERM_READ}, {kVb, 0, PAGE_OP_PROTECT, PERM_READ}};
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(down), 2), ERR_INVALID_ARGS);
  PageOp up[2] = {{kVb, 0, PAGE_OP_PROTECT, PERM_READ}, {kVb + kPageSize, kReadOnly, PAGE_OP_MAP, PERM_READ}};
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(up), 2), OK);
  CHECK_EQ(exos::read_pte(kVb) & 2, 0);
  CHECK_EQ(pfn_of(exos::read_pte(kVb + kPageSize)), theirs.pfn);
  // The read-only binding can never become writable, in or out of a batch.
  CHECK_STATUS(exos::sys_page_protect(kSelfSlot, kVb + kPageSize, PERM_WRITE), ERR_ACCESS_DENIED);
  PageOp w[1] = {{kVb + kPageSize, 0, PAGE_OP_PROTECT, PERM_WRITE}};
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(w), 1), ERR_ACCESS_DENIED);
  // Protecting an absent page is refused, never made present.
  CHECK_STATUS(exos::sys_page_unmap(kSelfSlot, kVb), OK);
  PageOp p[1] = {{kVb, 0, PAGE_OP_PROTECT, PERM_WRITE}};
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(p), 1), ERR_NOT_FOUND);
  CHECK_EQ(exos::read_pte(kVb), 0);
  CHECK_STATUS(exos::sys_page_unmap(kSelfSlot, kVb + kPageSize), OK);
  CHECK_STATUS(exos::sys_cap_delete(kReadOnly), OK);
  CHECK_EQ(exos::frame_free(mine), OK);
  CHECK_EQ(exos::frame_free(theirs), OK);
}

// Frames an env owns are named by number, with ownership as the authority:
// no capability slot needed. Nobody else's frames, and no page table, can be
// named so.
TEST(owned_frames_are_named_by_number) {
  exos::Frame f;
  CHECK_EQ(exos::frame_alloc_owned(&f), OK);
  CHECK_EQ(f.slot, kNoSlot);
  CHECK_EQ(exos::frame_table()[f.pfn].owner, exos::self_id());
  CHECK_STATUS(exos::sys_page_map(kSelfSlot, kVb, kFrameByPfn | f.pfn, PERM_WRITE | PERM_EXEC), OK);
  *reinterpret_cast<volatile uint64_t*>(kVb) = 5;
  // Somebody else's frame, a page table (our PML4's frame), the kernel's.
  uint64_t pml4 = pfn_of(*reinterpret_cast<const uint64_t*>(kPageTableWindowVa | (uint64_t(kRecursivePml4Slot) << 30) |
                                                            (uint64_t(kRecursivePml4Slot) << 21) |
                                                            (uint64_t(kRecursivePml4Slot) << 12) | (kRecursivePml4Slot * 8)));
  uint64_t kernel_frame = 0;
  const uint64_t refused[] = {pml4, kernel_frame};
  for (uint64_t pfn : refused) {
    CHECK_STATUS(exos::sys_page_map(kSelfSlot, kVb + kPageSize, kFrameByPfn | pfn, PERM_READ), ERR_ACCESS_DENIED);
    CHECK_STATUS(exos::sys_frame_free(kFrameByPfn | pfn), ERR_ACCESS_DENIED);
  }
  CHECK_STATUS(exos::sys_page_map(kSelfSlot, kVb + kPageSize, kFrameByPfn | (1ull << 40), PERM_READ), ERR_OUT_OF_RANGE);
  exos::Child kid;
  exos::Frame mb;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  CHECK_EQ(guest::spawn_child(guest::CHILD_SPIN, mb.slot, &kid), OK);
  uint64_t kids_frame = 0;
  for (uint64_t p = 0; p < exos::kernel_info().nframes && !kids_frame; p++)
    if (exos::frame_table()[p].owner == kid.id && exos::frame_table()[p].kind == FRAME_USER) kids_frame = p;
  CHECK(kids_frame != 0);
  CHECK_STATUS(exos::sys_page_map(kSelfSlot, kVb + kPageSize, kFrameByPfn | kids_frame, PERM_READ), ERR_ACCESS_DENIED);
  CHECK_STATUS(exos::sys_frame_free(kFrameByPfn | kids_frame), ERR_ACCESS_DENIED);
  // With CONTROL over it we may map its frames, and ours, into it by number.
  CHECK_STATUS(exos::sys_page_map(kid.slot, kVb, kFrameByPfn | kids_frame, PERM_READ), OK);
  CHECK_STATUS(exos::sys_page_map(kid.slot, kVb + kPageSize, kFrameByPfn | f.pfn, PERM_READ), OK);
  CHECK_EQ(exos::frame_table()[f.pfn].mappings, 2);
  // The library OS's own marks ride in the PTE (bits 52-58), set by map and protect.
  CHECK_STATUS(exos::sys_page_map(kSelfSlot, kVb + 2 * kPageSize, kFrameByPfn | f.pfn, PERM_READ | (0x55ull << kPermUserShift)),
               OK);
  CHECK_EQ((exos::read_pte(kVb + 2 * kPageSize) >> kPteUserShift) & 0x7F, 0x55);
  CHECK_STATUS(exos::sys_page_protect(kSelfSlot, kVb + 2 * kPageSize, PERM_WRITE | (0x2Aull << kPermUserShift)), OK);
  CHECK_EQ((exos::read_pte(kVb + 2 * kPageSize) >> kPteUserShift) & 0x7F, 0x2A);
  CHECK_EQ(exos::read_pte(kVb + 2 * kPageSize) & 2, 2);
  CHECK_STATUS(exos::sys_page_protect(kSelfSlot, kVb + 2 * kPageSize, 1ull << 15), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_page_unmap(kSelfSlot, kVb + 2 * kPageSize), OK);
  CHECK_STATUS(exos::sys_env_destroy(kid.slot), OK);
  exos::sys_cap_delete(kid.slot);
  exos::slot_free(kid.slot);
  // Freed by number: unmapped, back in the pool.
  CHECK_EQ(exos::frame_free(f), OK);
  CHECK_EQ(exos::read_pte(kVb) & 1, 0);
  CHECK_EQ(exos::frame_table()[f.pfn].owner, kOwnerFree);
  CHECK_EQ(exos::frame_free(mb), OK);
}

// The newcomer trap: exos::page_alloc kept a capability slot per page, so
// demand paging stopped at about 8 MiB (2,046 slots) with an odd error.
// Owned pages take no slot: 12 MiB of pages, and the slot allocator is
// where it was.
TEST(demand_paging_needs_no_slots) {
  constexpr uint64_t kPages = 3072, kBase = 0x0000450000000000;
  int64_t slot_before = exos::slot_alloc();
  exos::slot_free(slot_before);
  uint64_t mapped = 0;
  for (uint64_t i = 0; i < kPages; i++)
    if (exos::page_alloc(kBase + i * kPageSize, PERM_WRITE) == OK) mapped++;
  CHECK_EQ(mapped, kPages);
  int64_t slot_after = exos::slot_alloc();
  exos::slot_free(slot_after);
  CHECK_EQ(slot_after, slot_before);
  for (uint64_t i = 0; i < kPages; i++) {
    uint64_t pfn = pfn_of(exos::read_pte(kBase + i * kPageSize));
    CHECK_EQ(exos::sys_frame_free(kFrameByPfn | pfn).status, OK);
  }
}

// Finding 3: destroying an env took time quadratic in its mappings (each
// reverse-map removal scanned a list): 64 frames mapped 1,024 times each into
// a child held the CPU for 365 ms with interrupts off. Removal is O(1) now;
// the same destruction costs about 2 million instructions.
TEST(destroying_an_env_is_linear_in_what_it_holds) {
  veneer::SysResult r = exos::sys_env_create(710);
  CHECK_EQ(r.status, OK);
  uint32_t child = static_cast<uint32_t>(r.value);
  static exos::Frame f[64];
  static PageOp ops[kMaxPageBatch];
  for (auto& x : f) CHECK_EQ(exos::frame_alloc(&x), OK);
  uint64_t mapped = 0;
  for (uint64_t k = 0; k < 64; k++)
    for (uint64_t base = 0; base < kMaxMappingsPerFrame; base += kMaxPageBatch) {
      for (uint64_t i = 0; i < kMaxPageBatch; i++)
        ops[i] = PageOp{0x0000100000000000 + (k * kMaxMappingsPerFrame + base + i) * kPageSize, f[k].slot, PAGE_OP_MAP,
                        PERM_READ};
      if (exos::sys_page_batch(710, reinterpret_cast<uint64_t>(ops), kMaxPageBatch).status == OK) mapped += kMaxPageBatch;
    }
  CHECK_EQ(mapped, 64 * kMaxMappingsPerFrame);
  CHECK_EQ(exos::env_info(child).mappings, 64 * kMaxMappingsPerFrame);
  CHECK_EQ(exos::frame_table()[f[0].pfn].mappings, kMaxMappingsPerFrame);
  uint64_t t0 = __builtin_ia32_rdtsc();
  CHECK_STATUS(exos::sys_env_destroy(710), OK);
  uint64_t took = __builtin_ia32_rdtsc() - t0;  // instructions, under -icount
  exos::printf("  destroying an env with %lu mappings: %lu instructions\n", mapped, took);
  CHECK(took < 10000000);
  CHECK_EQ(frames_of(child), 0);
  for (auto& x : f) {
    CHECK_EQ(exos::frame_table()[x.pfn].mappings, 0);
    CHECK_EQ(exos::frame_free(x), OK);
  }
  exos::sys_cap_delete(710);
}

// Finding 4: kernel memory an env consumes is charged to it and its
// creator's tree. A child that creates envs and fills them with frames and
// mappings (page tables, reverse-map links) is stopped by its quota; the
// rest of the machine keeps working.
TEST(no_env_tree_can_exhaust_the_kernel) {
  exos::Frame mb;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  auto* box = reinterpret_cast<guest::Mailbox*>(guest::kMailboxVa);
  Kid hog;
  CHECK_EQ(guest::spawn_child(guest::CHILD_MEMORY_HOG, mb.slot, &hog.c), OK);
  uint64_t free_before = frames_of(kOwnerFree) + exos::env_info(hog.c.id).frames;  // it has not run yet
  const EnvInfo& account = exos::env_info(hog.c.id);
  CHECK_EQ(account.account, hog.c.id);  // spawn gave it an account of its own
  for (int i = 0; i < 1000000 && !box->hog_done; i++) exos::yield();
  CHECK_EQ(box->hog_done, 1);
  exos::printf("  hog: %lu envs (%s), %lu frames, %lu mappings (%s / %s), %lu slices (%s); quota %u frames\n",
               box->hog_envs, status_name(box->hog_env_status), box->hog_frames, box->hog_mappings,
               status_name(box->hog_frame_status), status_name(box->hog_map_status), box->hog_slices,
               status_name(box->hog_slice_status), account.limit[RES_FRAMES]);
  CHECK_EQ(box->hog_env_status, ERR_QUOTA);
  CHECK(box->hog_frame_status == ERR_QUOTA || box->hog_map_status == ERR_QUOTA);
  CHECK_EQ(box->hog_slice_status, ERR_QUOTA);
  CHECK(box->hog_slices < account.limit[RES_SLICES]);
  for (uint32_t r = 0; r < kResources; r++) CHECK(account.used[r] <= account.limit[r]);
  // Its whole tree holds no more than its quota; the rest is still there.
  uint64_t tree = 0;
  for (uint32_t i = 1; i < kMaxEnvs; i++) {
    const EnvInfo& e = exos::env_table()[i];
    if (e.id && e.account == hog.c.id) tree += e.frames;
  }
  CHECK(tree <= account.limit[RES_FRAMES]);
  CHECK(frames_of(kOwnerFree) + account.limit[RES_FRAMES] >= free_before);
  // Everyone else can still allocate, map, create and schedule.
  constexpr uint64_t kBase = 0x0000460000000000;
  for (uint64_t i = 0; i < 256; i++) CHECK_EQ(exos::page_alloc(kBase + i * (2ull << 20), PERM_WRITE), OK);
  for (uint64_t i = 0; i < 256; i++) exos::sys_frame_free(kFrameByPfn | pfn_of(exos::read_pte(kBase + i * (2ull << 20))));
  Kid other;
  CHECK_EQ(guest::spawn_child(guest::CHILD_SPIN, mb.slot, &other.c), OK);
  CHECK(exos::env_info(other.c.id).slices_held >= 1);
}

// Finding 6: repossession took only data frames, so an env holding its
// memory as page tables kept it past a frame_reclaim deadline. Page tables
// (with what they map) are taken too now.
TEST(page_tables_are_repossessed) {
  exos::Frame mb;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  auto* box = reinterpret_cast<guest::Mailbox*>(guest::kMailboxVa);
  Kid hoarder;
  CHECK_EQ(exos::spawn(reinterpret_cast<const void*>(exos::find_module("child.elf")->va),
                       exos::find_module("child.elf")->size, guest::CHILD_TABLE_HOARDER, exos::Quota{4000, 1, 1},
                       &hoarder.c),
           OK);
  CHECK_STATUS(exos::sys_cap_grant(mb.slot, hoarder.c.slot, guest::kMailboxSlotInChild, kRightsAll), OK);
  for (int i = 0; i < 1000000 && !box->hoard_ready; i++) exos::yield();
  CHECK_EQ(box->hoard_tables, 600);
  CHECK_EQ(exos::wait_serving(hoarder.c.id), OK);  // blocked for good: it stays to be counted
  uint64_t held = exos::env_info(hoarder.c.id).frames;
  exos::printf("  hoarder holds %lu frames, %lu of them page tables and their links\n", held, held - 40);
  CHECK(held > 1800);
  constexpr uint64_t kKeep = 100;
  CHECK_STATUS(exos::sys_frame_reclaim(kMachineSlot, hoarder.c.slot, held - kKeep, 5), OK);
  uint64_t deadline = exos::kernel_info().ticks + 8;
  while (exos::kernel_info().ticks < deadline) exos::yield();
  const EnvInfo& h = exos::env_info(hoarder.c.id);
  CHECK_EQ(h.id, hoarder.c.id);  // still there, blocked
  exos::printf("  after the deadline: %u frames left (asked to keep %lu), %u repossessed\n", h.frames, kKeep,
               h.repossessed);
  CHECK(h.frames <= kKeep);
  CHECK(h.repossessed >= held - kKeep);
  CHECK_EQ(frames_of(hoarder.c.id), h.frames);
  CHECK(exos::repossession_vector(hoarder.c.id).count >= held - kKeep);
  CHECK_EQ(exos::frame_free(mb), OK);
}

// The review's finding on cap_grant: it needed no right on the destination,
// so any client could fill a server's capability slots. It needs DEPOSIT.
TEST(granting_needs_the_deposit_right) {
  veneer::SysResult r = exos::sys_env_create(720);
  CHECK_EQ(r.status, OK);
  exos::Frame f;
  CHECK_EQ(exos::frame_alloc(&f), OK);
  constexpr uint64_t kNoDeposit = 721, kDepositOnly = 722;
  CHECK_STATUS(exos::sys_cap_grant(720, kSelfSlot, kNoDeposit, kRightsAll & ~RIGHT_DEPOSIT), OK);
  CHECK_STATUS(exos::sys_cap_grant(720, kSelfSlot, kDepositOnly, RIGHT_DEPOSIT), OK);
  CHECK_STATUS(exos::sys_cap_grant(f.slot, kNoDeposit, 10, RIGHT_READ), ERR_ACCESS_DENIED);
  CHECK_STATUS(exos::sys_cap_grant(f.slot, kDepositOnly, 10, RIGHT_READ), OK);
  CHECK_STATUS(exos::sys_cap_grant(f.slot, kDepositOnly, 10, RIGHT_READ), ERR_BUSY);  // the slot is taken now
  // A DEPOSIT-only capability gives no control.
  CHECK_STATUS(exos::sys_env_run(kDepositOnly), ERR_ACCESS_DENIED);
  CHECK_STATUS(exos::sys_env_destroy(kDepositOnly), ERR_ACCESS_DENIED);
  CHECK_STATUS(exos::sys_env_destroy(720), OK);
  exos::sys_cap_delete(720);
  exos::sys_cap_delete(kNoDeposit);
  exos::sys_cap_delete(kDepositOnly);
  CHECK_EQ(exos::frame_free(f), OK);
}

// Accounts: env_set_quota's rules, each refusal changing nothing.
TEST(quotas_are_validated) {
  veneer::SysResult r = exos::sys_env_create(730);
  CHECK_EQ(r.status, OK);
  uint32_t child = static_cast<uint32_t>(r.value);
  const EnvInfo& me = exos::env_info(exos::self_id());
  uint32_t used_before = me.used[RES_FRAMES];
  CHECK_STATUS(exos::sys_env_set_quota(730, 0, 1, 0), ERR_INVALID_ARGS);           // below its PML4
  CHECK_STATUS(exos::sys_env_set_quota(730, 10, 0, 0), ERR_INVALID_ARGS);          // below itself
  CHECK_STATUS(exos::sys_env_set_quota(730, 10, kMaxEnvs + 1, 0), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_env_set_quota(730, 10, 1, kSlices + 1), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_env_set_quota(730, 1ull << 32, 1, 0), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_env_set_quota(730, me.limit[RES_FRAMES], 1, 0), ERR_QUOTA);  // more than we have left
  CHECK_STATUS(exos::sys_env_set_quota(999, 10, 1, 0), ERR_BAD_CAP);
  CHECK_STATUS(exos::sys_env_set_quota(kSelfSlot, 10, 1, 0), ERR_ACCESS_DENIED);  // init: nobody funds it
  CHECK_EQ(me.used[RES_FRAMES], used_before);
  CHECK_EQ(exos::env_info(child).account, exos::self_id());
  CHECK_STATUS(exos::sys_env_set_quota(730, 20, 2, 1), OK);
  CHECK_EQ(exos::env_info(child).account, child);
  CHECK_EQ(exos::env_info(child).limit[RES_FRAMES], 20);
  CHECK_EQ(me.used[RES_FRAMES], used_before - 1 + 20);  // its PML4 moved into its reservation
  CHECK_STATUS(exos::sys_env_set_quota(730, 30, 2, 1), OK);  // resized by its creator
  CHECK_EQ(me.used[RES_FRAMES], used_before - 1 + 30);
  CHECK_STATUS(exos::sys_env_destroy(730), OK);
  CHECK_EQ(me.used[RES_FRAMES], used_before - 1);  // the reservation came back
  exos::sys_cap_delete(730);
}

// Newcomer traps: boot modules are mapped in init only, so spawn_module
// elsewhere says so instead of faulting; clear statuses for no module and a
// bad image; a server can be waited for until it serves.
TEST(spawn_explains_its_errors) {
  exos::Child c;
  CHECK_EQ(exos::spawn_module("no-such-module.elf", 0, &c), ERR_NO_MODULE);
  static const uint8_t not_elf[64] = {'n', 'o', 't', ' ', 'a', 'n', ' ', 'e', 'l', 'f'};
  CHECK_EQ(exos::spawn(not_elf, sizeof not_elf, 0, &c), ERR_BAD_ELF);
  exos::Frame mb;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  auto* box = reinterpret_cast<guest::Mailbox*>(guest::kMailboxVa);
  Kid kid;
  CHECK_EQ(guest::spawn_child(guest::CHILD_SPAWN_MODULE, mb.slot, &kid.c), OK);
  for (int i = 0; i < 100000 && !box->spawn_done; i++) exos::yield();
  CHECK_EQ(box->spawn_status, ERR_MODULE_NOT_MAPPED);
  Kid server;
  CHECK_EQ(guest::spawn_child(guest::CHILD_PCT_SERVER, mb.slot, &server.c), OK);
  CHECK_EQ(exos::wait_serving(server.c.id), OK);
  exos::Received reply;
  CHECK_EQ(exos::pct_call(server.c.slot, exos::Message{{1, 2, 3, 0, 0}}, &reply), OK);  // no ERR_NO_ENTRY race
  CHECK_EQ(reply.msg.w[0], 2);
  CHECK_EQ(exos::wait_serving(0x7FFFFFC0), ERR_STALE_CAP);  // nobody has that id
}

// RIGHT_HOLD: a mapping made with it keeps the frame alive when its owner
// dies (the frame passes to the holder, charged to its account), which is
// what lets copy-on-write memory outlive the env that allocated it. Without
// it the owner's death unmaps the frame everywhere, as before.
TEST(held_frames_outlive_their_owner) {
  constexpr uint64_t kOwner = 740, kHolder = 741, kBystander = 742, kHeld = 743, kPlain = 744;
  constexpr uint64_t kVa = 0x0000470000000000;
  uint32_t owner_id = static_cast<uint32_t>(exos::sys_env_create(kOwner).value);
  uint32_t holder_id = static_cast<uint32_t>(exos::sys_env_create(kHolder).value);
  CHECK_STATUS(exos::sys_env_create(kBystander), OK);
  // Two frames owned by `owner`; we hold capabilities to them.
  veneer::SysResult a = exos::sys_frame_alloc(kAnyFrame, kOwner, kHeld);
  veneer::SysResult b = exos::sys_frame_alloc(kAnyFrame, kOwner, kPlain);
  CHECK_EQ(a.status, OK);
  CHECK_EQ(b.status, OK);
  CHECK_EQ(exos::frame_table()[a.value].owner, owner_id);
  // `holder` maps the first with HOLD (the slot has every right); everybody
  // else maps through copies without it.
  constexpr uint64_t kNoHold = 745, kPlainNoHold = 746;
  CHECK_STATUS(exos::sys_cap_grant(kHeld, kSelfSlot, kNoHold, kRightsAll & ~RIGHT_HOLD), OK);
  CHECK_STATUS(exos::sys_cap_grant(kPlain, kSelfSlot, kPlainNoHold, kRightsAll & ~RIGHT_HOLD), OK);
  CHECK_STATUS(exos::sys_page_map(kHolder, kVa, kHeld, PERM_WRITE), OK);
  CHECK_STATUS(exos::sys_page_map(kBystander, kVa, kNoHold, PERM_READ), OK);
  CHECK_STATUS(exos::sys_page_map(kBystander, kVa + kPageSize, kPlainNoHold, PERM_READ), OK);
  CHECK_STATUS(exos::sys_page_map(kSelfSlot, kVa, kNoHold, PERM_WRITE), OK);
  reinterpret_cast<volatile uint64_t*>(kVa)[0] = 0x40D;
  CHECK_EQ(exos::frame_table()[a.value].mappings, 3);
  // The owner dies: the held frame goes to the holder with every mapping in
  // place; the other one is freed and unmapped everywhere.
  CHECK_STATUS(exos::sys_env_destroy(kOwner), OK);
  CHECK_EQ(exos::frame_table()[a.value].owner, holder_id);
  CHECK_EQ(exos::frame_table()[a.value].mappings, 3);
  CHECK_EQ(reinterpret_cast<volatile uint64_t*>(kVa)[0], 0x40D);
  CHECK_STATUS(exos::sys_frame_info(kHeld), OK);  // capabilities stay valid
  CHECK_EQ(exos::frame_table()[b.value].owner, kOwnerFree);
  CHECK_EQ(exos::frame_table()[b.value].mappings, 0);
  CHECK_STATUS(exos::sys_frame_info(kPlain), ERR_STALE_CAP);
  // The holder dies too, and nobody else holds it: freed, unmapped everywhere.
  CHECK_STATUS(exos::sys_env_destroy(kHolder), OK);
  CHECK_EQ(exos::frame_table()[a.value].owner, kOwnerFree);
  CHECK_EQ(exos::frame_table()[a.value].mappings, 0);
  CHECK_EQ(exos::read_pte(kVa) & 1, 0);
  CHECK_STATUS(exos::sys_env_destroy(kBystander), OK);
  const uint64_t slots[] = {kOwner, kHolder, kBystander, kHeld, kPlain, kNoHold, kPlainNoHold};
  for (uint64_t slot : slots) exos::sys_cap_delete(slot);
}
