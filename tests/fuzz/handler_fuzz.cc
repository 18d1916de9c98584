// libFuzzer target for safe handlers: the input is a handler (mostly
// plausible instructions, some raw), a granted buffer size and a frame. The
// verifier either refuses the handler, or:
//  - the checked interpreter touches only the frame (reading, below its
//    length), the stack and the buffer, and executes no more instructions
//    than the verifier's worst-case path;
//  - the JIT'd code runs twice, with the frame, buffer and stack each placed
//    against an inaccessible page at their end, then at their start (the
//    frame's pages are read-only): any access outside is a crash;
//  - both return the same r0, leave the same buffer and stack, and make the
//    same helper calls.
// Any difference aborts.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <vector>

#include "kernel/net/handler.h"
#include "tests/support/host_code_memory.h"

using namespace veneer;
using namespace veneer::net;

namespace {

#define REQUIRE(c) \
  do {             \
    if (!(c)) abort(); \
  } while (0)

constexpr size_t kPage = 4096;
constexpr size_t kArea = 2 * kPage;  // room for the largest frame and buffer

struct Input {
  const uint8_t* d;
  size_t n;
  uint8_t u8() { return n ? (n--, *d++) : 0; }
  uint16_t u16() { return uint16_t(u8() << 8 | u8()); }
  uint32_t u32() { return uint32_t(u16()) << 16 | u16(); }
};

int32_t edge_imm(Input& in) {
  static const int32_t edges[] = {0, 1, -1, 2, 7, 8, 12, 14, 16, 31, 32, 63, 64, 255, 0x7FFFFFFF, INT32_MIN, -8, 1514};
  uint8_t s = in.u8();
  return s < 200 ? edges[s % 18] : int32_t(in.u32());
}

BpfInsn make(uint8_t opcode, unsigned dst, unsigned src, int16_t off, int32_t imm) {
  return BpfInsn{opcode, uint8_t((dst & 0xF) | (src & 0xF) << 4), off, imm};
}

unsigned any_reg(Input& in) { return in.u8() % 11; }
unsigned dst_reg(Input& in) {
  uint8_t r = in.u8();
  return r < 200 ? r % 6 : r % 10;
}

// One plausible (or raw) piece of program.
void generate(Input& in, std::vector<BpfInsn>& p, uint32_t buffer_size) {
  static const uint8_t alu_ops[] = {bpf::ADD, bpf::SUB, bpf::MUL, bpf::DIV, bpf::OR,  bpf::AND, bpf::LSH,
                                    bpf::RSH, bpf::NEG, bpf::MOD, bpf::XOR, bpf::MOV, bpf::ARSH, bpf::END};
  static const uint8_t jmp_ops[] = {bpf::JEQ, bpf::JGT, bpf::JGE, bpf::JSET, bpf::JNE, bpf::JSGT,
                                    bpf::JSGE, bpf::JLT, bpf::JLE, bpf::JSLT, bpf::JSLE};
  static const uint8_t sizes[] = {bpf::B, bpf::H, bpf::W, bpf::DW};
  uint8_t sel = in.u8();
  if (sel < 40) {  // arithmetic
    uint8_t cls = in.u8() & 1 ? bpf::ALU64 : bpf::ALU;
    uint8_t op = alu_ops[in.u8() % 14];
    bool reg = in.u8() & 1;
    int16_t off = (op == bpf::DIV || op == bpf::MOD) ? int16_t(in.u8() & 1)
                  : (op == bpf::MOV && reg && in.u8() < 40) ? int16_t(8 << (in.u8() % 3)) : 0;
    int32_t imm = op == bpf::END ? int32_t(16 << (in.u8() % 3)) : reg ? 0 : edge_imm(in);
    if (op == bpf::NEG) reg = false, imm = 0;
    if (op == bpf::END && cls == bpf::ALU64) reg = false;
    p.push_back(make(cls | op | (reg ? bpf::X : bpf::K), dst_reg(in), reg ? any_reg(in) : 0, off, imm));
  } else if (sel < 55) {  // constants
    p.push_back(make(bpf::ALU64 | bpf::MOV | bpf::K, dst_reg(in), 0, 0, edge_imm(in)));
  } else if (sel < 70) {  // frame reads, usually behind a length check
    uint8_t size = sizes[in.u8() % 4];
    int16_t off = int16_t(in.u8() % 64);
    if (in.u8() < 200) p.push_back(make(bpf::JMP | bpf::JLT | bpf::K, 2, 0, 1 + (in.u8() & 1), off + 8));
    p.push_back(make(bpf::LDX | (in.u8() < 30 ? bpf::MEMSX : bpf::MEM) | size, dst_reg(in), in.u8() < 220 ? 1 : any_reg(in),
                     off, 0));
  } else if (sel < 90) {  // stack
    uint8_t size = sizes[in.u8() % 4];
    int16_t off = int16_t(-8 * (1 + in.u8() % 8) + (in.u8() < 30 ? in.u8() % 8 : 0));
    uint8_t kind = in.u8() % 3;
    if (kind == 0) p.push_back(make(bpf::ST | bpf::MEM | size, 10, 0, off, edge_imm(in)));
    else if (kind == 1) p.push_back(make(bpf::STX | bpf::MEM | size, 10, any_reg(in), off, 0));
    else p.push_back(make(bpf::LDX | bpf::MEM | size, dst_reg(in), 10, off, 0));
  } else if (sel < 105) {  // buffer
    uint8_t size = sizes[in.u8() % 4];
    int16_t off = int16_t(in.u16() % (buffer_size + 16));
    uint8_t kind = in.u8() % 3;
    unsigned base = in.u8() < 220 ? 3 : any_reg(in);
    if (kind == 0) p.push_back(make(bpf::ST | bpf::MEM | size, base, 0, off, edge_imm(in)));
    else if (kind == 1) p.push_back(make(bpf::STX | bpf::MEM | size, base, any_reg(in), off, 0));
    else p.push_back(make(bpf::LDX | bpf::MEM | size, dst_reg(in), base, off, 0));
  } else if (sel < 125) {  // conditional jumps, mostly forward
    uint8_t cls = in.u8() & 1 ? bpf::JMP : bpf::JMP32;
    bool reg = in.u8() & 1;
    int16_t off = int16_t(in.u8() < 230 ? in.u8() % 6 : -int(in.u8() % 6) - 1);
    p.push_back(make(cls | jmp_ops[in.u8() % 11] | (reg ? bpf::X : bpf::K), any_reg(in), reg ? any_reg(in) : 0, off,
                     reg ? 0 : edge_imm(in)));
  } else if (sel < 132) {  // a counted loop
    unsigned r = 6 + in.u8() % 4;
    p.push_back(make(bpf::ALU64 | bpf::MOV | bpf::K, r, 0, 0, 0));
    p.push_back(make(bpf::ALU64 | bpf::ADD | bpf::K, r, 0, 0, 1 + in.u8() % 3));
    p.push_back(make(bpf::JMP | (in.u8() & 1 ? bpf::JLT : bpf::JNE) | (in.u8() & 1 ? bpf::X : bpf::K), r,
                     in.u8() & 1 ? 2 : 0, -2, in.u8() % 200));
  } else if (sel < 145) {  // helper calls with number arguments
    for (unsigned a = 1; a <= 4; a++)
      if (in.u8() < 230) p.push_back(make(bpf::ALU64 | bpf::MOV | bpf::K, a, 0, 0, int32_t(in.u8() % 70)));
    int32_t id = in.u8() < 240 ? 1 + in.u8() % 4 : edge_imm(in);
    p.push_back(make(bpf::JMP | bpf::CALL, 0, 0, 0, id));
  } else if (sel < 160) {  // pointer arithmetic
    static const unsigned bases[] = {1, 3, 10};  // frame, buffer, stack
    unsigned base = bases[in.u8() % 3];
    unsigned r = 4 + in.u8() % 6;
    p.push_back(make(bpf::ALU64 | bpf::MOV | bpf::X, r, base, 0, 0));
    p.push_back(make(bpf::ALU64 | (in.u8() & 1 ? bpf::ADD : bpf::SUB) | bpf::K, r, 0, 0, edge_imm(in)));
  } else if (sel < 168) {
    p.push_back(make(bpf::JMP | bpf::EXIT, 0, 0, 0, 0));
  } else if (sel < 176) {
    uint64_t v = uint64_t(in.u32()) << 32 | in.u32();
    p.push_back(make(bpf::kLoadImm64, dst_reg(in), 0, 0, int32_t(uint32_t(v))));
    p.push_back(make(0, 0, 0, 0, int32_t(uint32_t(v >> 32))));
  } else {  // raw
    p.push_back(BpfInsn{in.u8(), in.u8(), int16_t(int8_t(in.u8())), edge_imm(in)});
  }
}

// A region with an inaccessible page on each side.
struct Guarded {
  uint8_t* base = nullptr;  // the first accessible byte
  Guarded() {
    auto* p = static_cast<uint8_t*>(mmap(nullptr, kArea + 2 * kPage, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    REQUIRE(p != MAP_FAILED);
    REQUIRE(mprotect(p, kPage, PROT_NONE) == 0);
    REQUIRE(mprotect(p + kPage + kArea, kPage, PROT_NONE) == 0);
    base = p + kPage;
  }
  uint8_t* place(size_t size, bool at_end) { return at_end ? base + kArea - size : base; }
  void protect(int prot) { REQUIRE(mprotect(base, kArea, prot) == 0); }
};

struct Calls {
  std::vector<uint8_t> sent;  // every sent frame, with its length before it
  std::vector<uint64_t> wakes;
};

HandlerHost host_for(Calls* c) {
  return HandlerHost{c,
                     [](void* ctx, const uint8_t* f, uint32_t n) -> int64_t {
                       auto* calls = static_cast<Calls*>(ctx);
                       calls->sent.push_back(uint8_t(n)), calls->sent.push_back(uint8_t(n >> 8));
                       calls->sent.insert(calls->sent.end(), f, f + n);
                       return n % 3 == 0 ? -1 : 0;
                     },
                     [](void* ctx, uint64_t v) { static_cast<Calls*>(ctx)->wakes.push_back(v); }};
}

struct Regions {
  const uint8_t* frame;
  uint64_t frame_len;
  const uint8_t* buffer;
  uint64_t buffer_size;
  const uint8_t* stack_top;
};

bool inside(uint64_t a, uint32_t size, const uint8_t* lo, uint64_t len) {
  uint64_t start = uint64_t(lo);
  return a >= start && a - start <= len && size <= len - (a - start);
}

bool check_access(void* ctx, uint64_t address, uint32_t size, bool write) {
  auto* r = static_cast<Regions*>(ctx);
  if (!write && inside(address, size, r->frame, r->frame_len)) return true;
  if (inside(address, size, r->buffer, r->buffer_size)) return true;
  return inside(address, size, r->stack_top - kHandlerStackSize, kHandlerStackSize);
}

// Prints the program (opcode regs offset imm per line) before aborting.
const std::vector<BpfInsn>* current_program;
void dump_and_abort(const char* what) {
  fprintf(stderr, "handler_fuzz: %s; the program:\n", what);
  if (current_program)
    for (size_t i = 0; i < current_program->size(); i++) {
      const BpfInsn& x = (*current_program)[i];
      fprintf(stderr, "  %3zu: op %02x dst r%u src r%u off %d imm %d\n", i, x.opcode, x.regs & 0xF, x.regs >> 4,
              x.offset, x.imm);
    }
  abort();
}
#define AGREE(c) \
  do {           \
    if (!(c)) dump_and_abort(#c); \
  } while (0)

struct Stats {
  uint64_t inputs = 0, accepted = 0;
  ~Stats() {
    fprintf(stderr, "handler_fuzz: %llu programs, %llu accepted and run on the JIT and the interpreter\n",
            (unsigned long long)inputs, (unsigned long long)accepted);
  }
} stats;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static test::HostCodeMemory code;
  static Verifier* verifier = new Verifier;
  static HandlerJit* jit = new HandlerJit;
  static Guarded frame_area, buffer_area, stack_area;
  Input in{data, size};
  stats.inputs++;

  uint32_t buffer_size = in.u8() < 240 ? 8 + in.u8() % 249 : in.u16() % 4097;
  uint32_t frame_len = in.u8() < 200 ? in.u8() % 100 : in.u16() % 1600;
  std::vector<uint8_t> frame_bytes(frame_len);
  for (uint32_t i = 0; i < frame_len && i < 96; i++) frame_bytes[i] = in.u8();
  std::vector<BpfInsn> prog;
  uint32_t pieces = 1 + in.u8() % 48;
  for (uint32_t i = 0; i < pieces && in.n; i++) generate(in, prog, buffer_size);
  if (in.u8() < 240) {
    prog.push_back(make(bpf::ALU64 | bpf::MOV | bpf::K, 0, 0, 0, 0));
    prog.push_back(make(bpf::JMP | bpf::EXIT, 0, 0, 0, 0));
  }
  if (prog.size() > kHandlerMaxInsns) prog.resize(kHandlerMaxInsns);

  Handler handler;
  VerifyResult result;
  Status s = handler.load(prog.data(), uint32_t(prog.size()), buffer_size, *verifier, *jit, &code.memory, &result);
  if (s != OK) {
    REQUIRE(s <= ERR_HANDLER_SIZE && s >= ERR_HANDLER_POINTER_LEAK);
    REQUIRE(result.insn < prog.size() || prog.empty());
    return 0;
  }
  stats.accepted++;
  current_program = &prog;
  REQUIRE(result.max_path >= 1 && result.max_path <= kHandlerMaxPath);

  // The same starting memory for every run.
  std::vector<uint8_t> buffer_init(buffer_size), stack_init(kHandlerStackSize);
  for (uint32_t i = 0; i < buffer_size; i++) buffer_init[i] = uint8_t(i * 13 + 5);
  for (uint32_t i = 0; i < kHandlerStackSize; i++) stack_init[i] = uint8_t(i * 7 + 3);

  // Each region against a guard page at its end, then at its start. At each
  // placement the checked interpreter runs first (exact bounds, the path
  // bound), then the JIT on the same addresses (so pointers spilled to the
  // stack are equal too).
  for (bool at_end : {true, false}) {
    frame_area.protect(PROT_READ | PROT_WRITE);
    uint8_t* frame = frame_area.place(frame_len, at_end);
    if (frame_len) memcpy(frame, frame_bytes.data(), frame_len);
    frame_area.protect(PROT_READ);
    uint8_t* buffer = buffer_area.place(buffer_size, at_end);
    uint8_t* stack = stack_area.place(kHandlerStackSize, at_end);
    auto reset = [&] {
      if (buffer_size) memcpy(buffer, buffer_init.data(), buffer_size);
      memcpy(stack, stack_init.data(), kHandlerStackSize);
    };

    reset();
    Calls interp_calls;
    HandlerHost interp_host = host_for(&interp_calls);
    HandlerRun run = handler.make_run(frame, frame_len, buffer, stack, &interp_host);
    Regions regions{run.frame, run.frame_len, run.buffer, run.buffer_size, run.stack_top};
    AccessChecker checker{&regions, check_access};
    uint64_t steps = 0;
    bool stopped = false;
    uint64_t interp_r0 = interpret_handler_checked(prog.data(), uint32_t(prog.size()), &run, checker,
                                                   result.max_path + 1, &steps, &stopped);
    AGREE(!stopped);  // an access outside, or more steps than the verifier's bound
    AGREE(steps <= result.max_path);
    std::vector<uint8_t> interp_buffer(buffer, buffer + buffer_size), interp_stack(stack, stack + kHandlerStackSize);

    reset();
    Calls calls;
    HandlerHost host = host_for(&calls);
    uint64_t r0 = handler.run(frame, frame_len, buffer, stack, &host);
    AGREE(r0 == interp_r0);
    AGREE(buffer_size == 0 || memcmp(buffer, interp_buffer.data(), buffer_size) == 0);
    AGREE(memcmp(stack, interp_stack.data(), kHandlerStackSize) == 0);
    AGREE(calls.sent == interp_calls.sent);
    AGREE(calls.wakes == interp_calls.wakes);
  }
  handler.unload();
  REQUIRE(code.live == 0);
  return 0;
}
