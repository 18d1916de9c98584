#include "ebpf_interpreter.h"

namespace veneer::net {

using namespace bpf;

namespace {

template <bool kChecked>
uint64_t run_program(const BpfInsn* prog, uint32_t n, HandlerRun* run, const AccessChecker* checker,
                     uint64_t max_steps, uint64_t* steps, bool* stopped) {
  uint64_t r[kRegisters] = {};
  r[1] = uint64_t(run->frame);
  r[2] = run->frame_len;
  r[3] = uint64_t(run->buffer);
  r[kFramePointer] = uint64_t(run->stack_top);
  uint64_t count = 0;
  auto stop = [&]() {
    if constexpr (kChecked) {
      *steps = count;
      *stopped = true;
    }
    return r[0];
  };
  uint32_t pc = 0;
  for (;;) {
    if constexpr (kChecked) {
      if (count++ >= max_steps || pc >= n) return stop();
    }
    const BpfInsn& i = prog[pc++];
    switch (cls(i.opcode)) {
      case ALU:
      case ALU64: {
        uint64_t b = source(i.opcode) == X ? r[src(i)] : alu_imm(i.opcode, i.imm);
        r[dst(i)] = alu(i.opcode, i.offset, i.imm, r[dst(i)], b);
        break;
      }
      case LDX: {
        uint64_t addr = r[src(i)] + int64_t(i.offset);
        unsigned size = size_bytes(i.opcode);
        if constexpr (kChecked) {
          if (!checker->check(checker->context, addr, size, false)) return stop();
        }
        const void* p = reinterpret_cast<const void*>(addr);
        uint64_t v;
        if (size == 1) {
          uint8_t x;
          __builtin_memcpy(&x, p, 1);
          v = mode(i.opcode) == MEMSX ? uint64_t(int64_t(int8_t(x))) : x;
        } else if (size == 2) {
          uint16_t x;
          __builtin_memcpy(&x, p, 2);
          v = mode(i.opcode) == MEMSX ? uint64_t(int64_t(int16_t(x))) : x;
        } else if (size == 4) {
          uint32_t x;
          __builtin_memcpy(&x, p, 4);
          v = mode(i.opcode) == MEMSX ? uint64_t(int64_t(int32_t(x))) : x;
        } else {
          __builtin_memcpy(&v, p, 8);
        }
        r[dst(i)] = v;
        break;
      }
      case ST:
      case STX: {
        uint64_t addr = r[dst(i)] + int64_t(i.offset);
        unsigned size = size_bytes(i.opcode);
        uint64_t v = cls(i.opcode) == STX ? r[src(i)] : uint64_t(int64_t(i.imm));
        if constexpr (kChecked) {
          if (!checker->check(checker->context, addr, size, true)) return stop();
        }
        void* p = reinterpret_cast<void*>(addr);
        if (size == 1) {
          uint8_t x = uint8_t(v);
          __builtin_memcpy(p, &x, 1);
        } else if (size == 2) {
          uint16_t x = uint16_t(v);
          __builtin_memcpy(p, &x, 2);
        } else if (size == 4) {
          uint32_t x = uint32_t(v);
          __builtin_memcpy(p, &x, 4);
        } else {
          __builtin_memcpy(p, &v, 8);
        }
        break;
      }
      case LD:  // the 64-bit immediate load, two slots
        r[dst(i)] = uint64_t(uint32_t(i.imm)) | uint64_t(uint32_t(prog[pc].imm)) << 32;
        pc++;
        break;
      default: {  // JMP, JMP32
        uint8_t o = op(i.opcode);
        if (o == EXIT) {
          if constexpr (kChecked) *steps = count;
          return r[0];
        }
        if (o == CALL) {
          const HelperInfo* h = helper(i.imm);
          if constexpr (kChecked) {
            if (!h) return stop();
          }
          r[0] = h->fn(r[1], r[2], r[3], r[4], r[5], run);
          break;
        }
        uint64_t b = source(i.opcode) == X ? r[src(i)] : jump_imm(i.opcode, i.imm);
        if (o == JA || jump_taken(i.opcode, r[dst(i)], b)) pc = uint32_t(int64_t(pc) + i.offset);
        break;
      }
    }
  }
}

}  // namespace

uint64_t interpret_handler(const BpfInsn* prog, uint32_t n, HandlerRun* run) {
  return run_program<false>(prog, n, run, nullptr, 0, nullptr, nullptr);
}

uint64_t interpret_handler_checked(const BpfInsn* prog, uint32_t n, HandlerRun* run, const AccessChecker& checker,
                                   uint64_t max_steps, uint64_t* steps, bool* stopped) {
  *stopped = false;
  return run_program<true>(prog, n, run, &checker, max_steps, steps, stopped);
}

}  // namespace veneer::net
