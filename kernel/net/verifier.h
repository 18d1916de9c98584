// The safe-handler verifier. A handler may run in the kernel only if, for
// every input, it
//  - executes at most kHandlerMaxPath instructions (loops included),
//  - reads and writes memory only inside the frame (read only, below a length
//    it has compared against), its own 512-byte stack, or the buffer the env
//    granted (size fixed at verification),
//  - never reads an uninitialised register or stack byte,
//  - calls only the helpers of abi/veneer/handler.h, with numbers (never
//    pointers) as arguments and statically known ranges where a helper needs
//    one,
//  - never turns a pointer into a number, compares it with one, stores it
//    outside its stack or returns it (kernel addresses stay secret).
// Division and modulo by zero are defined by the ISA (0, and dst unchanged),
// so they are allowed; the JIT and the interpreter implement them.
//
// Method: two passes. The first checks each instruction on its own (known
// opcode, reserved fields zero, registers in range, no write to r10, jumps
// inside the program and not into the middle of a 64-bit load). The second
// walks every path symbolically, without merging: registers carry a kind
// (number, frame length, pointer to frame/stack/buffer) and a range; the
// stack tracks which bytes are initialised and which slots hold spilled
// registers. Comparisons narrow ranges on each branch; comparing the frame
// length raises the proven length. A loop is followed iteration by
// iteration, so it is accepted exactly when its exit is proven within the
// path bound; the longest path found is the handler's worst case. Work is
// bounded: at most kBudget instructions explored and kMaxPending open
// branches, else the handler is refused as too complex.
//
// Fixed-size workspace (about 130 KiB): the caller places the object.
#pragma once

#include "ebpf.h"
#include "handler_runtime.h"
#include "veneer/status.h"

namespace veneer::net {

struct VerifyResult {
  Status status = OK;
  uint32_t insn = 0;       // the instruction refused (status != OK)
  uint32_t max_path = 0;   // accepted: the most instructions any run executes
  uint64_t explored = 0;   // instructions the verifier walked
};

class Verifier {
 public:
  static constexpr uint64_t kBudget = 1000000;
  static constexpr uint32_t kMaxPending = 64;

  VerifyResult verify(const BpfInsn* prog, uint32_t n, uint32_t buffer_size);

 private:
  enum Kind : uint8_t { kUninit, kNumber, kFrameLen, kFramePtr, kStackPtr, kBufferPtr };
  // Numbers: unsigned range [lo, hi]. Pointers: offset range [lo, hi], signed.
  struct Reg {
    uint8_t kind;
    uint64_t lo, hi;
  };
  static constexpr uint32_t kSlots = kHandlerStackSize / 8;
  struct State {
    Reg regs[bpf::kRegisters];
    Reg spill[kSlots];        // a register stored whole in an 8-byte slot
    uint64_t init[kSlots / 8];  // one bit per initialised stack byte
    uint32_t pc;
    uint32_t path;            // instructions executed on this path
    uint64_t frame_min;       // the frame is proven at least this long
    bool looped;              // this path has taken a backward jump
  };

  Status check_structure();
  Status check_insn(uint32_t pc);
  Status walk();
  Status step(State& s, bool* exited);
  Status alu(State& s, const BpfInsn& i);
  Status load(State& s, const BpfInsn& i);
  Status store(State& s, const BpfInsn& i);
  Status branch(State& s, const BpfInsn& i, bool* exited);
  Status call(State& s, const BpfInsn& i);
  // Checks an access of `size` bytes at base + off; for the stack, *slot_off
  // receives the offset from the stack's bottom.
  Status check_access(const State& s, const Reg& base, int32_t off, unsigned size, bool write, int64_t* stack_off);
  bool push(const State& s);
  static void copy(State& to, const State& from);
  static void narrow_frame_len(State& s, uint64_t lo, uint64_t hi);

  const BpfInsn* prog_ = nullptr;
  uint32_t n_ = 0;
  uint32_t buffer_size_ = 0;
  uint32_t pc_ = 0;            // the instruction being checked, for the result
  uint64_t explored_ = 0;
  uint32_t max_path_ = 0;
  uint32_t npending_ = 0;
  uint64_t second_slot_[kHandlerMaxInsns / 64];  // slots that hold a 64-bit load's upper half
  State pending_[kMaxPending];
  State cur_;
  State other_;
};

}  // namespace veneer::net
