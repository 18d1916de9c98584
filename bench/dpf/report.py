#!/usr/bin/env python3
"""Runs the DPF benchmarks (see run.sh) and reports them.

Instructions: valgrind --tool=callgrind, counting only dpf_count's classify_*
and echo_* functions (one call each: everything a caller of the classifier
pays, the benchmark loop excluded), total divided by the number of calls.
Time: Google Benchmark (dpf_bench), median of three repetitions.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build", "bench", "dpf")
KS = [1, 10, 100, 1000]
MODES = ["compiled", "interpreted", "libpcap"]


def callgrind(mode, arg, calls, toggle):
    with tempfile.NamedTemporaryFile(suffix=".callgrind") as out:
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out.name, "--toggle-collect=" + toggle,
               os.path.join(BUILD, "dpf_count"), mode, str(arg), str(calls)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit("dpf: %s failed:\n%s" % (" ".join(cmd), run.stderr[-2000:]))
        for line in open(out.name):
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1]) / calls
    sys.exit("dpf: no totals from callgrind for %s %s" % (mode, arg))


def google_benchmark(quick):
    cmd = [os.path.join(BUILD, "dpf_bench"), "--benchmark_format=json"]
    cmd += ["--benchmark_min_time=0.05"] if quick else ["--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit("dpf: dpf_bench failed:\n" + run.stderr[-2000:])
    times = {}
    for b in json.loads(run.stdout)["benchmarks"]:
        if b.get("aggregate_name", "median") != "median":
            continue
        name = b.get("run_name", b["name"])
        scale = {"ns": 1.0, "us": 1e3, "ms": 1e6}[b["time_unit"]]
        times[name] = b["real_time"] * scale  # ns
    return times


def main():
    write = "--no-write" not in sys.argv
    quick = "--quick" in sys.argv
    instr = {}
    for k in KS:
        for mode in MODES:
            calls = max(20, 200000 // k) if mode == "libpcap" else 20000
            instr[(mode, k)] = callgrind(mode, k, calls, "classify_*")
    echo_object = os.path.join(BUILD, "udp_echo.o")
    echo = {m: callgrind("echo_" + m, echo_object, 20000, "echo_*") for m in ["jit", "interpreter"]}
    ns = google_benchmark(quick)

    print("Instructions (callgrind) and ns (Google Benchmark) per packet; K UDP port filters, the packet")
    print("matching the last installed; libpcap: one pcap_compile'd program per port, tried in turn.\n")
    print("| K | compiled | interpreted | libpcap | libpcap/compiled | compiled ns | interpreted ns | libpcap ns |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k in KS:
        c, i, p = (instr[(m, k)] for m in MODES)
        print("| %d | %d | %d | %d | %.0fx | %.1f | %.1f | %.1f |" % (
            k, c, i, p, p / c, ns["BM_Compiled/%d" % k], ns["BM_Interpreted/%d" % k], ns["BM_Libpcap/%d" % k]))
    flat = instr[("compiled", 1000)] / instr[("compiled", 1)]
    print("\ncompiled: K=1000 / K=1 = %.2fx (target <= 1.5x); at most %d instructions (target <= 40)" % (
        flat, max(instr[("compiled", k)] for k in KS)))
    print("libpcap / compiled: %.0fx at K=10 (target >= 50x), %.0fx at K=1000 (target >= 5000x)" % (
        instr[("libpcap", 10)] / instr[("compiled", 10)], instr[("libpcap", 1000)] / instr[("compiled", 1000)]))
    print("\n| echo handler (106-byte frame) | instructions | ns |")
    print("|---|---:|---:|")
    print("| JIT | %d | %.1f |" % (echo["jit"], ns["BM_EchoJit"]))
    print("| interpreter | %d | %.1f |" % (echo["interpreter"], ns["BM_EchoInterpreter"]))
    print("\nJIT vs interpreter: %.1fx fewer instructions, %.1fx less time (target >= 5x)" % (
        echo["interpreter"] / echo["jit"], ns["BM_EchoInterpreter"] / ns["BM_EchoJit"]))
    print("\nA change to a set of 1000 filters (whole rebuild: overlap checks, tree, code, sealing):")
    print("install the 1000th: %.0f us; remove it: %.0f us" % (ns["BM_Install1000th"] / 1e3, ns["BM_Remove1000th"] / 1e3))
    print("\nVerification: the echo handler %.0f us; a handler that exhausts the budget (1,000,000"
          " instructions explored) %.0f ms" % (ns["BM_VerifyEcho"] / 1e3, ns["BM_VerifyBudgetExhausted"] / 1e6))

    if write:
        out = {str(k): {m: int(round(instr[(m, k)])) for m in MODES} for k in KS}
        with open(os.path.join(ROOT, "docs", "dpf.json"), "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
        print("\nwrote docs/dpf.json")


if __name__ == "__main__":
    main()
