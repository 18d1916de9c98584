// ExOS: the library operating system. Everything a program needs on top of
// Veneer's raw interface lives here, in user space: console output, slot and
// frame management, virtual memory, exception handling, spawning programs.
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "exos/layout.h"
#include "exos/sys.h"
#include "veneer/abi.h"

namespace exos {

using veneer::ExceptionFrame;
using veneer::kPageSize;
using veneer::Status;

// ---- Identity and kernel tables ----------------------------------------------
// This env's id (from the kernel at start; the first word of ExOS's private
// state page, libos/src/internal.h).
inline uint32_t self_id() { return *reinterpret_cast<const volatile uint32_t*>(layout::kPrivateStateVa); }
uint64_t start_arg(); // the argument the creator passed
inline const veneer::KernelInfo& kernel_info() {
  return *reinterpret_cast<const veneer::KernelInfo*>(veneer::kKernelInfoVa);
}
inline const veneer::EnvInfo* env_table() {
  return reinterpret_cast<const veneer::EnvInfo*>(veneer::kEnvTableVa);
}
inline const veneer::FrameInfo* frame_table() {
  return reinterpret_cast<const veneer::FrameInfo*>(veneer::kFrameTableVa);
}
inline const veneer::SliceVector& slice_vector() {
  return *reinterpret_cast<const veneer::SliceVector*>(veneer::kSliceVectorVa);
}
inline const veneer::RepossessionVector& repossession_vector(uint32_t id) {
  return reinterpret_cast<const veneer::RepossessionVector*>(veneer::kRepossessionVa)[veneer::env_index(id)];
}
inline const veneer::EnvInfo& env_info(uint32_t id) { return env_table()[veneer::env_index(id)]; }
// The env's own leaf PTE for va, read through the read-only page-table
// window (recursive PML4 slot); 0 if no page table reaches va. One load:
// where a level above is missing it faults, and ExOS's page-fault entry
// (exception.cc, window_fault) answers 0 for it. The load is this exact
// 3-byte instruction, `mov (%rax), %rax`, which the entry skips.
inline uint64_t read_pte(uint64_t va) {
  uint64_t entry = veneer::kPageTableWindowVa | ((va >> 9) & 0x7FFFFFFFF8ull);
  asm volatile("movq (%%rax), %%rax" : "+a"(entry) : : "memory");
  return entry;
}
// The lowest user va at which this env maps frame pfn, or 0: a walk of the
// env's own page tables through the read-only window.
uint64_t find_mapping(uint64_t pfn);
// Kernel command-line value for key ("key=value"), copied into buf.
bool cmdline_get(const char* key, char* buf, size_t size);

// ---- Console -------------------------------------------------------------------
void print(const char* s);
[[gnu::format(printf, 1, 2)]] void printf(const char* fmt, ...);
void vprintf(const char* fmt, va_list ap);
[[noreturn]] void exit();  // destroys this env
[[noreturn]] void panic(const char* msg);

// ---- Capability slots ------------------------------------------------------------
// ExOS hands out slots [kFirstFreeSlot, kGrantBase); creators grant caps
// into [kGrantBase, kCapSlots) by convention.
constexpr uint64_t kFirstFreeSlot = 2;
constexpr uint64_t kGrantBase = 2048;
int64_t slot_alloc();           // -1 when full
void slot_free(uint64_t slot);

// ---- Memory ------------------------------------------------------------------------
// A frame this env owns. It has a capability slot when it was made to be
// shared (granted to another env, revoked); otherwise (slot == kNoSlot) it
// is named by its number, on the authority of owning it, and costs no slot.
struct Frame {
  uint64_t slot;
  uint64_t pfn;
  // How system calls name it (abi.h: frame references).
  uint64_t ref() const { return slot != veneer::kNoSlot ? slot : veneer::kFrameByPfn | pfn; }
};
// Allocates any free frame (pfn = kAnyFrame) or a specific one, with a
// capability in a new slot.
Status frame_alloc(Frame* out, uint64_t pfn = veneer::kAnyFrame);
// The same without a capability: for memory this env keeps to itself.
Status frame_alloc_owned(Frame* out, uint64_t pfn = veneer::kAnyFrame);
Status frame_free(const Frame& f);
// Allocates a frame and maps it at va in this env (page_alloc: no slot, as
// for demand paging; shared_page_alloc: with a capability to grant).
Status page_alloc(uint64_t va, uint64_t perms, Frame* out = nullptr);
Status shared_page_alloc(uint64_t va, uint64_t perms, Frame* out);

// ---- Exceptions ----------------------------------------------------------------
// A handler fixes the cause (or edits frame->rip) and returns; ExOS then
// resumes the interrupted code without entering the kernel.
using ExceptionHandler = void (*)(ExceptionFrame* frame);
void set_exception_handler(uint64_t vector, ExceptionHandler h);
// Installs ExOS's exception entry with its exception stack (done at start).
Status exceptions_init();
extern "C" void exos_exception_entry();
extern "C" void exos_exception_resume();

// ---- Programs -------------------------------------------------------------------------
// The boot module whose name ends with `name`, or nullptr.
const veneer::BootModule* find_module(const char* name);
struct Child {
  uint64_t slot;  // ENV capability in this env
  uint32_t id;
};
// What a spawned child may hold: its own account, reserved out of ours
// (abi.h: accounts). ExOS's default gives each child a quarter of the frames
// our account has left, 8 envs and 4 slice positions (less if we have less),
// so no child tree can starve its siblings; a zero Quota shares our account.
struct Quota {
  uint32_t frames, envs, slices;
};
Quota default_child_quota();
// Loads an ELF image into a new env (owned by it), gives it a stack, its
// quota and one slice position, and starts it with `arg`. The child owns
// every frame it was given. ERR_BAD_ELF for an image that is not a
// well-formed x86-64 executable.
Status spawn(const void* elf, uint64_t size, uint64_t arg, Child* out);
Status spawn(const void* elf, uint64_t size, uint64_t arg, const Quota& quota, Child* out);
// A boot module by name: ERR_NO_MODULE, or ERR_MODULE_NOT_MAPPED outside
// init (the kernel maps the modules into init only).
Status spawn_module(const char* name, uint64_t arg, Child* out);
// Gives the env `count` free positions of the slice vector (the first free
// ones). spawn gives every child one.
Status give_slices(uint64_t env_slot, uint32_t count);
// Yields until the env with this id no longer exists.
void wait_env(uint32_t id);
// Yields until the env is waiting for protected control transfers (a server
// just spawned has registered its entry and called pct_wait); ERR_STALE_CAP
// if it died first.
Status wait_serving(uint32_t id);
inline void yield() { sys_yield(); }

// ---- Protected control transfer ------------------------------------------------------
struct Message {
  uint64_t w[5];
};
struct Received {
  uint32_t sender;  // env id, from the kernel
  bool sync;
  Message msg;
};
// Synchronous call: transfers to the env (which must be blocked waiting)
// with `msg`, donating this slice; returns when a transfer comes back (its
// message in *reply). kPctReply as env_slot answers the env that called us.
Status pct_call(uint64_t env_slot, const Message& msg, Received* reply);
// Asynchronous send: the receiver gets the message and becomes runnable; we
// keep running.
inline Status pct_send(uint64_t env_slot, const Message& m) {
  return static_cast<Status>(sys_pct_async(env_slot, m.w[0], m.w[1], m.w[2], m.w[3], m.w[4]).status);
}
// Serves transfers: `fn` runs for every one that enters at our protected
// entry point; it returns the reply for a synchronous caller.
using PctHandler = Message (*)(const Received& in);
[[noreturn]] void pct_serve(PctHandler fn);

// ---- Strings -------------------------------------------------------------------------------
size_t strlen(const char* s);
int strcmp(const char* a, const char* b);
bool ends_with(const char* s, const char* suffix);

}  // namespace exos

extern "C" {
void* memcpy(void* d, const void* s, size_t n);
void* memmove(void* d, const void* s, size_t n);
void* memset(void* d, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
}

// Every ExOS program defines main(); returning from it exits the env.
int main();
