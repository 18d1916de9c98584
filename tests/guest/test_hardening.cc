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
  CHECK_EQ(exos::page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
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
  const uint64_t edges[] = {0, VENEER_SYSCALL_BASE - 1, VENEER_SYSCALL_BASE + VENEER_SYSCALL_COUNT, ~0ull};
  for (uint64_t num : edges) {
    uint64_t before = seen_count;
    veneer::SysResult r = exos::raw_syscall(num);
    CHECK_EQ(seen_count, before + 1);
    CHECK_EQ(uint64_t(r.status), num * 2 + 1);
  }
  uint64_t before = seen_count;
  CHECK_STATUS(exos::raw_syscall(VENEER_SYSCALL_BASE + 30), ERR_BAD_SYSCALL);  // unassigned fast index
  CHECK_STATUS(exos::raw_syscall(VENEER_SYSCALL_BASE + 40), ERR_BAD_SYSCALL);  // unassigned slow index
  CHECK_EQ(seen_count, before);
  // ExOS's default, with no handler installed for the vector.
  exos::set_exception_handler(kVecForeignSyscall, nullptr);
  CHECK_STATUS(exos::raw_syscall(39), ERR_BAD_SYSCALL);
}

// An env without an exception handler gets ERR_BAD_SYSCALL for a foreign
// call and keeps running.
TEST(foreign_system_call_without_handler_fails_cleanly) {
  exos::Frame mb;
  CHECK_EQ(exos::page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
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
  CHECK_EQ(exos::page_alloc(kTls, PERM_WRITE, &tls), OK);
  CHECK_EQ(exos::page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
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
