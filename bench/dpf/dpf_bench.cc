// Nanoseconds per packet (Google Benchmark): classification by the compiled
// merged tree, the tree interpreter and libpcap's programs tried in turn, for
// K = 1, 10, 100, 1000 UDP port filters; the echo handler JIT'd and
// interpreted; and what a change to a set of 1000 filters costs (a whole
// rebuild: overlap checks, tree, code generation, sealing).
#include <benchmark/benchmark.h>

#include <map>

#include "dpf_setup.h"

using namespace dpf_bench;

namespace {

Filters& filters(uint32_t k) {
  static std::map<uint32_t, std::unique_ptr<Filters>> cache;
  auto& f = cache[k];
  if (!f) f = std::make_unique<Filters>(k);
  return *f;
}

void BM_Compiled(benchmark::State& state) {
  Filters& f = filters(uint32_t(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(f.set->classify(f.frame.data(), uint32_t(f.frame.size())));
}
void BM_Interpreted(benchmark::State& state) {
  Filters& f = filters(uint32_t(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(f.set->interpret(f.frame.data(), uint32_t(f.frame.size())));
}
void BM_Libpcap(benchmark::State& state) {
  Filters& f = filters(uint32_t(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(f.libpcap(f.frame.data(), f.frame.size()));
}
BENCHMARK(BM_Compiled)->Arg(1)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(BM_Interpreted)->Arg(1)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(BM_Libpcap)->Arg(1)->Arg(10)->Arg(100)->Arg(1000);

// Installing the 1000th filter and removing it again: each a whole rebuild.
void BM_Install1000th(benchmark::State& state) {
  Filters& f = filters(999);
  exos::FilterBuilder b;
  b.udp_dst_port(0);  // port 0 is never among the benchmark's ports
  for (auto _ : state) {
    uint32_t id;
    if (f.set->install(0xABC, b.filter(), &id) != OK) state.SkipWithError("install failed");
    state.PauseTiming();
    f.set->remove(0xABC, id);
    state.ResumeTiming();
  }
}
void BM_Remove1000th(benchmark::State& state) {
  Filters& f = filters(999);
  exos::FilterBuilder b;
  b.udp_dst_port(0);
  for (auto _ : state) {
    uint32_t id;
    state.PauseTiming();
    f.set->install(0xABC, b.filter(), &id);
    state.ResumeTiming();
    if (f.set->remove(0xABC, id) != OK) state.SkipWithError("remove failed");
  }
}
BENCHMARK(BM_Install1000th)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Remove1000th)->Unit(benchmark::kMicrosecond);

Echo& echo() {
  static Echo e(DPF_ECHO_OBJECT);
  return e;
}
void BM_EchoJit(benchmark::State& state) {
  Echo& e = echo();
  for (auto _ : state) benchmark::DoNotOptimize(e.run_jit());
}
void BM_EchoInterpreter(benchmark::State& state) {
  Echo& e = echo();
  for (auto _ : state) benchmark::DoNotOptimize(e.run_interpreter());
}
BENCHMARK(BM_EchoJit);
BENCHMARK(BM_EchoInterpreter);

// Verifying the echo handler, and the worst a handler can make the verifier
// do: 30 independent bit tests (2^30 paths) run it into its budget.
void BM_VerifyEcho(benchmark::State& state) {
  Echo& e = echo();
  for (auto _ : state) {
    VerifyResult r = e.verifier->verify(e.handler.program(), e.handler.length(), 2048);
    if (r.status != OK) state.SkipWithError("echo refused");
  }
}
void BM_VerifyBudgetExhausted(benchmark::State& state) {
  std::vector<BpfInsn> p = {{0xB7, 0, 0, 0}};  // r0 = 0
  for (int k = 0; k < 30; k++) {
    p.push_back(BpfInsn{0x45, 2, 1, int32_t(1 << (k % 11))});  // if r2 & bit goto +1
    p.push_back(BpfInsn{0x07, 0, 0, 1});                         // r0 += 1
  }
  p.push_back(BpfInsn{0x95, 0, 0, 0});  // exit
  Verifier& v = *echo().verifier;
  for (auto _ : state) {
    VerifyResult r = v.verify(p.data(), uint32_t(p.size()), 0);
    if (r.status != ERR_HANDLER_TOO_COMPLEX) state.SkipWithError("not refused for complexity");
  }
}
BENCHMARK(BM_VerifyEcho)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VerifyBudgetExhausted)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
