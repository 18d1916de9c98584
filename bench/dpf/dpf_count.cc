// Instructions per classified packet, counted by callgrind: run under
//   valgrind --tool=callgrind --toggle-collect='classify_*' --toggle-collect='echo_*' dpf_count MODE K N
// Only the classify_* / echo_* functions are counted: one call classifies
// the frame that matches the last of K filters (or runs the echo handler
// once), everything a caller of the classifier pays included (the call, the
// length clamp, the return), the benchmark's loop excluded. bench/dpf/run.sh
// divides callgrind's total by N.
#include "dpf_setup.h"

using namespace dpf_bench;

extern "C" {
__attribute__((noinline)) uint32_t classify_compiled(const FilterSet* set, const uint8_t* frame, uint32_t len) {
  return set->classify(frame, len);
}
__attribute__((noinline)) uint32_t classify_interpreted(const FilterSet* set, const uint8_t* frame, uint32_t len) {
  return set->interpret(frame, len);
}
__attribute__((noinline)) uint32_t classify_libpcap(const Filters* f, const uint8_t* frame, uint32_t len) {
  return f->libpcap(frame, len);
}
__attribute__((noinline)) uint64_t echo_jit(Echo* e) { return e->run_jit(); }
__attribute__((noinline)) uint64_t echo_interpreter(Echo* e) { return e->run_interpreter(); }
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s compiled|interpreted|libpcap|echo_jit|echo_interpreter K|ECHO_OBJECT N\n", argv[0]);
    return 2;
  }
  std::string mode = argv[1];
  uint64_t n = strtoull(argv[3], nullptr, 10);
  uint64_t acc = 0;
  if (mode == "echo_jit" || mode == "echo_interpreter") {
    Echo e(argv[2]);
    e.sent = 0;
    for (uint64_t i = 0; i < n; i++) acc += mode == "echo_jit" ? echo_jit(&e) : echo_interpreter(&e);
    if (acc != VENEER_ASH_CONSUMED * n || e.sent != n * e.frame.size()) return 1;  // every run answered
  } else {
    Filters f(uint32_t(strtoul(argv[2], nullptr, 10)));
    const uint8_t* frame = f.frame.data();
    uint32_t len = uint32_t(f.frame.size());
    for (uint64_t i = 0; i < n; i++) {
      if (mode == "compiled") acc += classify_compiled(f.set.get(), frame, len);
      else if (mode == "interpreted") acc += classify_interpreted(f.set.get(), frame, len);
      else if (mode == "libpcap") acc += classify_libpcap(&f, frame, len);
      else return 2;
    }
    if (acc != n * f.expect) return 1;  // every packet classified right
  }
  printf("%s %s %llu ok\n", argv[1], argv[2], (unsigned long long)n);
  return 0;
}
