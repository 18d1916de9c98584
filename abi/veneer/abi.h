// Veneer kernel/user ABI: address-space layout, the read-only kernel tables,
// capability rights, mapping permissions and the exception frame.
// Included by the kernel, by ExOS and by host tests; the only header both
// sides share (with status.h and syscalls.h).
#pragma once

#include <stdint.h>

#include "veneer/status.h"
#include "veneer/syscalls.h"

#ifdef __cplusplus
namespace veneer {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kPageShift = 12;

// ---- Virtual address layout of every environment ---------------------------
// [kUserBase, kUserTop): the env's to map as it likes (secure bindings).
// PML4 slot 254: the read-only kernel tables (same frames in every env).
// PML4 slot 255: the env's own page tables, read-only (recursive slot), so a
//                library OS can read its PTEs, accessed and dirty bits included.
// Upper half: the kernel, never accessible from ring 3.
constexpr uint64_t kUserBase = 0x1000;
constexpr uint64_t kUserTop = 0x00007F0000000000;
constexpr uint64_t kKernelTablesVa = 0x00007F0000000000;  // PML4[254]
constexpr uint64_t kPageTableWindowVa = 0x00007F8000000000;  // PML4[255]
constexpr unsigned kKernelTablesPml4Slot = 254;
constexpr unsigned kRecursivePml4Slot = 255;

// Where the kernel maps boot modules into init (read-only, owned by init) and
// init's first stack.
constexpr uint64_t kBootModulesVa = 0x0000600000000000;
constexpr uint64_t kInitStackTop = 0x0000700000000000;
constexpr uint64_t kInitStackPages = 16;

// ---- Capabilities ------------------------------------------------------------
// Capabilities are kernel-held, in a per-env table indexed by slot. Users name
// them by slot number only; the contents never leave the kernel.
constexpr uint64_t kCapSlots = 4096;
constexpr uint64_t kSelfSlot = 0;     // every env: an ENV capability to itself
constexpr uint64_t kMachineSlot = 1;  // init only: the MACHINE capability

enum CapType : uint8_t { CAP_NONE = 0, CAP_FRAME = 1, CAP_ENV = 2, CAP_MACHINE = 3, CAP_IOPORT = 4, CAP_IRQ = 5 };

// I/O ports: an IOPORT capability names ports [first, first + count)
// (ioport_create, from the MACHINE capability; count <= kMaxIoPortCount, and
// never a port the kernel itself uses). ioport_bind with it lets an env use
// in/out on exactly those ports (the TSS I/O permission bitmap, switched
// with the env); an env binds at most kMaxIoPortRanges ranges.
constexpr uint64_t kMaxIoPortCount = 64;
constexpr uint64_t kMaxIoPortRanges = 4;

// Interrupt lines: an IRQ capability names one of the 16 ISA lines
// (irq_create, from MACHINE; never the kernel's: 0, 2, 4). irq_bind gives
// the line to an env: when it fires the kernel masks it and upcalls the
// env (kVecInterrupt, error_code = the pending lines as a bit mask); the
// line stays masked until irq_ack.

// Rights. READ/WRITE/EXEC bound the mapping permissions a frame capability
// allows; GRANT allows copying it to another env; REVOKE allows freeing the
// frame or revoking every other capability to it; CONTROL (env capabilities)
// allows changing the env's address space, registers, handlers and lifetime;
// DEPOSIT (env capabilities) allows granting capabilities into its table, so
// an env decides who may fill its slots (a server hands clients a
// DEPOSIT-only capability to itself, say). HOLD (frame capabilities): a
// mapping made with it *holds* the frame: when the frame's owner dies, the
// frame is not freed but passes to an env that holds it (and has room in
// its account), so memory shared copy-on-write outlives the env that
// allocated it; a frame is freed when its owner dies and nobody holds it.
enum Rights : uint8_t {
  RIGHT_READ = 1,
  RIGHT_WRITE = 2,
  RIGHT_EXEC = 4,
  RIGHT_GRANT = 8,
  RIGHT_REVOKE = 16,
  RIGHT_CONTROL = 32,
  RIGHT_DEPOSIT = 64,  // env capabilities: cap_grant may put capabilities into its table
  RIGHT_HOLD = 128,    // frame capabilities: a mapping made with it keeps the frame alive
};
constexpr uint8_t kRightsAll = 0xFF;

// Mapping permissions for page_map/page_protect/page_batch. Every mapping is
// readable and user-accessible; these add write and execute.
constexpr uint64_t PERM_READ = 0, PERM_WRITE = 1, PERM_EXEC = 2;
// A library OS's own marks (copy-on-write, say), kept in the PTE where it
// reads them back through its page-table window: perms bits 8-14 are PTE
// bits 52-58. The kernel stores them and gives them no meaning.
constexpr uint64_t kPermUserShift = 8;
constexpr uint64_t kPermUserMask = 0x7Full << kPermUserShift;
constexpr uint64_t kPteUserShift = 52;
constexpr uint64_t kPermsMask = PERM_WRITE | PERM_EXEC | kPermUserMask;

// cons_write writes at most this many bytes per call.
constexpr uint64_t kMaxConsoleWrite = 4096;

// frame_alloc: ask for any free frame instead of a specific frame number;
// dest_slot kNoSlot: make no capability (the owner names the frame by number).
constexpr uint64_t kAnyFrame = ~0ull;
constexpr uint64_t kNoSlot = ~0ull;

// Naming a frame. Where a call takes a frame (page_map, page_batch's MAP,
// frame_free), the argument is a frame capability's slot, or kFrameByPfn |
// pfn for a frame owned by the caller or by the env the call acts on (for
// frame_free: the caller), which needs no capability: ownership is the
// authority, as Xok's physical names were, and carries every right,
// RIGHT_HOLD included (a frame the caller maps into another env by number
// is held there). So a library OS needs no slot per page it owns.
constexpr uint64_t kFrameByPfn = 1ull << 63;

// ---- page_batch --------------------------------------------------------------
// A batch is up to kMaxPageBatch operations on one env's address space, each
// on a different page: their addresses must be strictly ascending. So every
// operation is validated against exactly the state it is applied to, and
// the whole batch is validated (and its page tables counted and charged)
// before any of it is applied.
enum PageOpKind : uint32_t { PAGE_OP_MAP = 0, PAGE_OP_UNMAP = 1, PAGE_OP_PROTECT = 2 };
struct PageOp {
  uint64_t va;
  uint64_t frame;   // PAGE_OP_MAP: a slot, or kFrameByPfn | pfn
  uint32_t kind;    // PageOpKind
  uint32_t perms;   // PAGE_OP_MAP and PAGE_OP_PROTECT
};
static_assert(sizeof(PageOp) == 24);
constexpr uint64_t kMaxPageBatch = 512;
// One frame may be mapped at most this many times (FrameInfo.mappings).
// Mappings cost the kernel nothing else: their reverse-map links live beside
// each page table, in frames charged to the env (FRAME_RMAP).
constexpr uint32_t kMaxMappingsPerFrame = 1024;

// ---- Read-only kernel tables at kKernelTablesVa -----------------------------
// Environment ids carry a generation above the table index so a stale id never
// names a new environment.
constexpr uint32_t kMaxEnvs = 64;
constexpr uint32_t kEnvIndexBits = 6;
constexpr uint32_t env_index(uint32_t id) { return id & (kMaxEnvs - 1); }

// ENV_BLOCKED: receptive to a protected control transfer (in pct_wait, or
// in pct_sync waiting for the transfer back); it runs only when one arrives.
enum EnvState : uint32_t {
  ENV_FREE = 0,
  ENV_NEW = 1,
  ENV_RUNNABLE = 2,
  ENV_DYING = 3,
  ENV_BLOCKED = 4,
  ENV_RETIRED = 5,  // slot out of generations: never used again
};

struct EnvInfo {
  uint32_t id;
  uint32_t state;        // EnvState
  uint32_t parent;       // env id of the creator (0 for init)
  uint32_t frames;       // frames owned, page tables included
  uint64_t runs;         // times the kernel switched to it
  uint64_t cpu_tsc;      // TSC ticks it has run (CPU share accounting)
  uint32_t slices_held;  // positions it owns in the slice vector
  uint32_t slices_lost;  // positions the abort protocol took from it
  uint32_t overruns;     // epilogue upcalls it did not answer in its grace period
  uint32_t repossessed;  // frames the abort protocol took from it
  uint64_t last_overrun_tsc;  // upcall-to-abort time of its last overrun
  uint64_t slices_run;   // slices that ended while it ran
  uint64_t reclaim_asked;     // frames requested by visible revocation (pending)
  uint32_t mappings;          // live page-table entries in its address space
  // Accounts: every env draws on an account, its own or its creator's. An
  // account holds limits on what all envs drawing on it may hold together
  // (frames of every kind, envs, slice positions); a creator funds a child's
  // own account out of its own (env_set_quota), so no tree can take more than
  // it was given.
  uint32_t account;           // env id of the account holder (itself, or an ancestor)
  uint32_t limit[3];          // account holders: the limits (Resource order)
  uint32_t used[3];           // account holders: held, children's reservations included
  uint32_t reserved[6];
};
static_assert(sizeof(EnvInfo) == 128);
enum Resource : uint32_t { RES_FRAMES = 0, RES_ENVS = 1, RES_SLICES = 2, kResources = 3 };

// ---- The CPU as a vector of time slices ---------------------------------------
// Each position is one slice of the LAPIC timer; the kernel runs positions
// round-robin, skipping positions with no runnable owner. An env holding k of
// the n owned positions gets k/n of the CPU.
constexpr uint32_t kSlices = 32;
constexpr uint32_t kNoOwner = 0;
struct SliceVector {
  uint32_t owner[kSlices];   // env id or kNoOwner
  uint32_t current;          // position running now
  uint32_t running;          // env id running in it (may be a donee)
  uint64_t slice_ns;         // length of a slice
  uint64_t grace_ns;         // how long an epilogue upcall may take
  uint64_t tsc_hz;           // TSC ticks per second (calibrated)
};

// Upcall vectors: like exceptions they arrive at the env's exception entry
// with an ExceptionFrame holding the interrupted context.
constexpr uint64_t kVecSliceEnd = 32;    // epilogue: save what you need, then yield
constexpr uint64_t kVecSliceStart = 33;  // prologue: your slice begins
constexpr uint64_t kVecReclaim = 34;     // give back error_code frames by fault_addr (tick deadline)
constexpr uint64_t kVecForeignSyscall = 35;  // a system call outside Veneer's numbers (see below)
constexpr uint64_t kVecInterrupt = 36;   // bound interrupt lines fired: error_code = their bit mask
constexpr uint32_t kMaxOverruns = 3;     // consecutive overruns that cost an env its slices

// ---- Repossession vectors --------------------------------------------------------
// When visible revocation of memory fails, the kernel takes frames by force
// and records them here, one vector per env, readable by all.
constexpr uint32_t kRepossessionSlots = 63;
struct RepossessionVector {
  uint64_t count;                       // frames repossessed so far (pfns[count % 63] next)
  uint64_t pfns[kRepossessionSlots];
};
static_assert(sizeof(RepossessionVector) == 512);

// Page-ownership table: one entry per physical frame.
constexpr uint32_t kOwnerFree = 0;
constexpr uint32_t kOwnerKernel = 0xFFFFFFFFu;
enum FrameKind : uint16_t {
  FRAME_FREE = 0,
  FRAME_USER = 1,       // allocated by an env through frame_alloc
  FRAME_PAGETABLE = 2,  // a page-table page of its owner (never mappable)
  FRAME_KERNEL = 3,     // kernel image, tables, firmware, holes
  FRAME_MODULE = 4,     // boot module, owned by init
  FRAME_RMAP = 5,       // reverse-map links beside a page table of its owner (never mappable)
};
struct FrameInfo {
  uint32_t owner;      // env id, kOwnerFree or kOwnerKernel
  uint16_t kind;       // FrameKind
  uint16_t mappings;   // live page-table entries that point at it
  uint64_t guard;      // bumped whenever the frame is freed or revoked (64 bits: never wraps)
};
static_assert(sizeof(FrameInfo) == 16);

constexpr uint32_t kMaxBootModules = 16;
struct BootModule {
  uint64_t va;        // where it is mapped in init (read-only)
  uint64_t size;      // bytes
  uint64_t first_pfn;
  char name[40];      // the module's command line (usually its file name)
};
static_assert(sizeof(BootModule) == 64);

// The network interface and what the kernel's receive path has done, for
// every env to read (counters only grow).
struct NetInfo {
  uint8_t mac[6];
  uint16_t present;        // 1: a device is driven; the net_* calls work
  uint32_t reserved;
  uint64_t rx_frames;      // frames the device delivered
  uint64_t rx_delivered;   // ... copied into a ring
  uint64_t rx_unclaimed;   // ... no filter accepted (dropped)
  uint64_t rx_ring_full;   // ... accepted, but the ring was full or gone (dropped)
  uint64_t tx_frames;      // frames net_send started
  uint64_t rx_handled;     // frames a safe handler consumed (not copied into a ring)
  uint64_t handler_sent;   // reply frames safe handlers sent
};
static_assert(sizeof(NetInfo) == 72);

constexpr uint64_t kKernelInfoMagic = 0x56454e4545523031ull;  // "VENEER01"
struct KernelInfo {
  uint64_t magic;
  uint64_t abi_version;
  uint64_t nframes;          // entries in the frame table
  uint64_t frame_table_va;
  uint64_t env_table_va;
  uint64_t max_envs;
  uint64_t timer_hz;         // LAPIC timer ticks per second (calibrated)
  uint64_t slice_ns;         // length of one time slice
  uint64_t ticks;            // timer interrupts since boot
  uint64_t nmodules;
  uint64_t reserved;
  BootModule modules[kMaxBootModules];
  char cmdline[256];         // kernel command line from the boot loader
  NetInfo net;               // the network interface (Network, below)
};

constexpr uint64_t kKernelInfoVa = kKernelTablesVa;
constexpr uint64_t kEnvTableVa = kKernelTablesVa + 0x1000;       // 2 pages
constexpr uint64_t kSliceVectorVa = kKernelTablesVa + 0x3000;    // 1 page
constexpr uint64_t kRepossessionVa = kKernelTablesVa + 0x4000;   // 8 pages
constexpr uint64_t kFrameTableVa = kKernelTablesVa + 0x10000;

// ---- User-level exceptions ---------------------------------------------------
// On a CPU exception in ring 3 the kernel pushes this frame on the env's
// exception stack and enters its handler with rsp pointing at it. All other
// registers hold the faulting code's values. The handler resumes the faulting
// code itself (libos/src/exception_entry.S shows how) without the kernel.
struct ExceptionFrame {
  uint64_t vector;
  uint64_t error_code;
  uint64_t fault_addr;  // CR2 for page faults, 0 otherwise
  uint64_t rip;
  uint64_t rflags;
  uint64_t rsp;
  uint64_t rax;         // the three registers the kernel entry uses
  uint64_t rcx;
  uint64_t rdx;
};
static_assert(sizeof(ExceptionFrame) == 72);

// The kernel also keeps the 128-byte red zone below the interrupted rsp
// intact; frames nest below the current rsp when the handler itself faults.
constexpr uint64_t kRedZone = 128;
// Room a frame takes on the exception stack (the frame, padded so rsp stays
// 16-byte aligned), and how far below a handler's rsp a nested frame starts:
// its red zone plus the 16 bytes ExOS's resume path writes below that.
constexpr uint64_t kExceptionFrameSlot = (sizeof(ExceptionFrame) + 15) & ~15ull;
constexpr uint64_t kNestGap = kRedZone + 16;
// A handler is entered with the trap, direction and alignment-check flags
// clear (the frame keeps the interrupted code's rflags): an env that
// single-steps still handles its #DB, and C handlers get DF = 0.
constexpr uint64_t kHandlerClearedFlags = 0x100 | 0x400 | 0x40000;

// Foreign system calls: a `syscall` whose number (rax) is outside Veneer's
// range (syscalls.h) arrives at the exception handler like an exception,
// with vector kVecForeignSyscall, error_code = the number, rip =
// the instruction after the syscall, rflags and rsp the caller's, and the
// frame's rax = the number, rcx = that rip (the syscall instruction itself
// clobbered rcx), rdx the caller's. rdi, rsi, rdx, r10, r8, r9 (the
// arguments) and r11 (the caller's rflags, as syscall leaves it) are live.
// To return a result the handler sets the frame's rax and resumes as from
// any exception. An env without a handler gets ERR_BAD_SYSCALL in rax.

// ---- Protected control transfer ---------------------------------------------------
// pct_sync/pct_async(env_slot, m0..m4): the message is rsi, rdx, r10, r8, r9
// (the registers of arguments 1-5) and reaches the receiver in the same
// registers, untouched. The receiver also gets rax = the sender's env id (from
// the kernel, not the sender), rdi = kPctSync or kPctAsync; rcx and r11 are
// clobbered. A synchronous transfer also hands over rbx, rbp, r12-r15 and the
// SSE state untouched (rsp stays the receiver's own); an asynchronous one
// leaves the receiver's other registers as they were. So after pct_sync
// returns, rbx, rbp and r12-r15 are whatever the env that transferred back
// had (undefined after an asynchronous wake-up or an error): a caller that
// needs them saves them (exos_pct_sync does). A receiver blocked in pct_wait enters at its
// protected entry point on its PCT stack; one blocked in pct_sync resumes
// right after its call, as if the call returned.
constexpr uint64_t kPctAsync = 0;
constexpr uint64_t kPctSync = 1;
// pct_sync's env_slot value that names the env blocked in a sync call to the
// caller (the reply path; no capability needed, valid once per call).
constexpr uint64_t kPctReply = ~0ull;

// Exit codes for poweroff (QEMU's isa-debug-exit turns code c into (c<<1)|1).
constexpr uint64_t kPoweroffSuccess = 0x10;  // QEMU exits 33
constexpr uint64_t kPoweroffFailure = 0x11;  // QEMU exits 35
constexpr uint64_t kPoweroffInitGone = 0x12;  // the kernel's: init exited or died (QEMU exits 37)

// ---- Network -------------------------------------------------------------------
// The kernel drives the interface only to protect it. An env claims frames
// with a packet filter (filter.h) and a receive ring in frames it owns:
// net_filter_install(filter_va, ring_va, flags), ring_va pointing at a
// NetRingFrames naming the ring's frames (frame references as for page_map,
// each with write right). Value: the filter's id, for net_filter_remove(id).
// The kernel records the frames when the filter is installed (the secure
// binding) and writes arriving frames into them through its own mapping,
// wherever the env maps them; a frame of the ring that is freed or revoked
// later stops the ring (frames then count as rx_ring_full). An env holds at
// most kNetMaxFiltersPerEnv filters; all of them go when it dies.
//
// The ring is the frames' bytes in order: a NetRingHeader in the first
// kNetCellBytes, then cells of kNetCellBytes, cell i at (i + 1) *
// kNetCellBytes. The kernel fills cell head % cells and then advances head;
// the env reads up to head and advances tail. The kernel keeps its own head
// and only reads tail, so an env can lose frames by lying, never more.
// With NET_RING_UPCALL the env also gets the interrupt upcall (kVecInterrupt)
// with kNetInterruptBit in error_code when frames arrive.
//
// net_send(frame_ref, offset, len): sends the len bytes at offset in a frame
// the caller may read; 14 <= len <= 1514, within the frame, and the source
// MAC must be the interface's. The kernel copies the frame before it
// returns; ERR_BUSY when every transmit buffer is in flight (try again).
// net_handler_attach(filter_id, insns_va, count, buffer_frame): attaches a
// safe handler (handler.h: eBPF, count instructions at insns_va) to one of
// the caller's filters, with a frame it owns as the handler's granted buffer
// (4096 bytes). The kernel verifies and compiles it once, here; then it runs
// on each frame the filter accepts, in the receive interrupt, before the
// ring: VENEER_ASH_CONSUMED ends the frame there, anything else delivers it
// to the ring as well. Its reply frames pass net_send's checks; its wake-up
// counts in the ring header and raises kNetInterruptBit. count = 0 detaches.
// One handler per env, kNetMaxHandlers in the machine.
// All four calls: ERR_NO_DEVICE on a machine without a network interface.
constexpr uint64_t kNetCellBytes = 2048;
constexpr uint64_t kNetRingMaxFrames = 16;   // a ring of 31 cells at most
constexpr uint64_t kNetMaxFiltersPerEnv = 8;
constexpr uint64_t kNetMaxHandlers = 8;
constexpr uint64_t kNetMaxFrame = 1514;      // Ethernet without the FCS
constexpr uint64_t kNetInterruptBit = 1ull << 16;
enum NetRingFlags : uint64_t {
  NET_RING_UPCALL = 1,
};
struct NetRingFrames {
  uint64_t count;                        // 1..kNetRingMaxFrames
  uint64_t frames[kNetRingMaxFrames];    // frame references, in ring order
};
struct NetRingHeader {
  uint32_t head;      // the kernel: cells filled so far
  uint32_t tail;      // the env: cells consumed so far
  uint32_t cells;     // the kernel: how many cells the ring has
  uint32_t dropped;   // the kernel: frames this ring lost because it was full
  uint64_t wakes;     // the kernel: times the filter's handler asked to wake the env
  uint64_t wake_value;  // ... and the value it passed the last time
};
struct NetCell {
  uint32_t len;       // the frame's length
  uint32_t reserved;
  uint8_t data[kNetCellBytes - 8];
};
static_assert(sizeof(NetCell) == kNetCellBytes);

struct SysResult {
  long status;
  uint64_t value;
};

}  // namespace veneer
#endif
