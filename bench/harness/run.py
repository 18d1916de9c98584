#!/usr/bin/env python3
"""Boot Veneer and Linux under identical QEMU settings and print one benchmark table.

Each side's guest prints, on its serial line,
    BENCH <name> <instructions per op>      one measured operation
    BENCH-ERROR <name> <reason>             an operation it could not measure
    BENCH-DONE                              all done
and then ends QEMU through isa-debug-exit with 0x10 (QEMU exit code 33).

Under `-icount shift=0` a guest rdtsc delta is an instruction count, so the main
columns are instructions per operation. A second pass without -icount gives host
TSC ticks per op, which are noisy and only reported as a Linux/Veneer ratio.

A side whose run failed (QEMU exit code other than 33, timeout, no BENCH-DONE) or
that printed no number for an operation gets n/a there, with the reason printed.
Nothing is ever filled in from elsewhere.

Usage (see docs/benchmarks.md):
    python3 bench/harness/run.py                         build, run both sides, write docs/
    python3 bench/harness/run.py --compare docs/benchmarks.json   regression guard
    python3 bench/harness/run.py --parse-only serial.log          check a log, boot nothing
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------
# The QEMU settings live in one place for the whole project (tools/qemu_args.py,
# also used by the demo and the tests): both sides boot with exactly these.

sys.path.insert(0, str(ROOT / "tools"))
import qemu_args  # noqa: E402

QEMU_BIN = "qemu-system-x86_64"
QEMU_COMMON = qemu_args.MACHINE
# Guest clock = 1 ns per guest instruction, so rdtsc deltas count instructions.
QEMU_ICOUNT = qemu_args.ICOUNT
# isa-debug-exit turns the guest's 0x10 into (0x10 << 1) | 1.
SUCCESS_EXIT = qemu_args.EXIT_SUCCESS

MODES = ("icount", "wallclock")


@dataclasses.dataclass(frozen=True)
class Side:
    key: str
    label: str
    kernel: str          # relative to the build directory
    initrd: str
    append: str | None = None


SIDES = {
    "veneer": Side("veneer", "Veneer", "kernel/veneer.elf", "bench/veneer/bench_veneer.elf"),
    "linux": Side("linux", "Linux", "linux-baseline/vmlinuz", "linux-baseline/initramfs.cpio.gz",
                  "console=ttyS0 quiet panic=-1"),
}

# The table's fixed rows, in order. Names a side prints beyond these become extra rows.
OPERATIONS = [
    "null_syscall", "exception_roundtrip", "signal_roundtrip", "pct_roundtrip", "pct_async",
    "pipe_roundtrip", "yield_pair", "map_unmap", "dirty", "prot1", "unprot1", "prot100",
    "unprot100", "trap", "appel1", "appel2", "shm_roundtrip", "lrpc_roundtrip", "fork_exit_wait",
    "spawn_exit_wait", "udp_echo",
]

# Operations a side deliberately does not print, and why (shown instead of a bare n/a).
DELIBERATE_NA = {
    "veneer": {
        "udp_echo": "needs a peer on the host: bench/net/run.py measures it (docs/benchmarks.md, "
                    "Network receive path)",
    },
    "linux": {
        "pct_roundtrip": "no protected control transfer on Linux; compare pipe_roundtrip and yield_pair",
        "pct_async": "no protected control transfer on Linux; compare pipe_roundtrip and yield_pair",
        "udp_echo": "not measured: a Linux guest's echo server with a host peer is not built yet",
    },
}

REGRESSION_TOLERANCE = 0.10


def qemu_command(side: Side, build_dir: Path, icount: bool, qemu: str = QEMU_BIN) -> list[str]:
    cmd = [qemu] + QEMU_COMMON + (QEMU_ICOUNT if icount else [])
    cmd += ["-kernel", str(build_dir / side.kernel), "-initrd", str(build_dir / side.initrd)]
    if side.append is not None:
        cmd += ["-append", side.append]
    return cmd


# ---------------------------------------------------------------------------
# Parsing the serial log.

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[c()][A-Za-z0-9]?")
_NAME = r"[A-Za-z0-9_]+"
_BENCH = re.compile(rf"^BENCH ({_NAME}) (\S+)$")
_BENCH_ERROR = re.compile(rf"^BENCH-ERROR ({_NAME})(?: (.*))?$")
_NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
_INFO = re.compile(r"^# ([A-Za-z0-9_ ]+): (.*)$")


def clean_line(raw: str) -> str:
    """Drop terminal escapes and stray control characters. SeaBIOS resets and clears
    the screen with no newline before the guest's first line, so only the text
    after the last escape on a line belongs to the guest."""
    line = _ANSI.split(raw)[-1]
    line = "".join(ch for ch in line if ch == "\t" or ch >= " ")
    return line.strip()


@dataclasses.dataclass
class ParsedLog:
    values: dict[str, float] = dataclasses.field(default_factory=dict)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)   # BENCH-ERROR lines
    info: dict[str, str] = dataclasses.field(default_factory=dict)     # "# key: value" lines
    problems: list[str] = dataclasses.field(default_factory=list)      # malformed output
    done: bool = False


def parse_serial(text: str) -> ParsedLog:
    out = ParsedLog()
    duplicates: set[str] = set()
    for raw in text.splitlines():
        line = clean_line(raw)
        if not line:
            continue
        if line == "BENCH-DONE":
            if out.done:
                out.problems.append("BENCH-DONE printed twice")
            out.done = True
            continue
        if m := _BENCH_ERROR.match(line):
            out.errors[m.group(1)] = (m.group(2) or "guest reported an error").strip()
            continue
        if line.startswith("BENCH "):
            m = _BENCH.match(line)
            if not m:
                out.problems.append(f"malformed line: {line!r}")
                continue
            name, text_value = m.groups()
            if out.done:
                out.problems.append(f"{name}: printed after BENCH-DONE, ignored")
                continue
            if not _NUMBER.match(text_value) or not math.isfinite(float(text_value)) \
                    or float(text_value) <= 0:
                out.problems.append(f"{name}: not a positive decimal number: {text_value!r}")
                out.errors.setdefault(name, f"bad value {text_value!r}")
                continue
            if name in out.values or name in duplicates:
                # Two numbers for one name: trust neither.
                duplicates.add(name)
                out.values.pop(name, None)
                out.problems.append(f"{name}: printed more than once")
                out.errors[name] = "printed more than once"
                continue
            out.values[name] = float(text_value)
            continue
        if m := _INFO.match(line):
            out.info.setdefault(m.group(1).strip(), m.group(2).strip())
    return out


# ---------------------------------------------------------------------------
# Running one guest.

@dataclasses.dataclass
class GuestRun:
    side: str
    mode: str
    ok: bool
    reason: str | None = None               # why the whole run is rejected
    parsed: ParsedLog = dataclasses.field(default_factory=ParsedLog)
    exit_code: int | None = None
    wall_s: float | None = None
    first_output_s: float | None = None     # QEMU start to the guest program's first line
    log_path: Path | None = None

    @property
    def values(self) -> dict[str, float]:
        # A rejected run reports nothing, even numbers it printed before failing.
        return self.parsed.values if self.ok else {}


def judge(parsed: ParsedLog, exit_code: int | None, timed_out: bool, timeout_s: float) -> str | None:
    """The reason a finished run must be rejected, or None if it is acceptable."""
    if timed_out:
        return f"timed out after {timeout_s:.0f} s"
    if exit_code != SUCCESS_EXIT:
        return (f"QEMU exit code {exit_code} (expected {SUCCESS_EXIT}: "
                "the guest writes 0x10 to isa-debug-exit when it is done)")
    if not parsed.done:
        return "no BENCH-DONE line"
    if not parsed.values and not parsed.errors:
        return "printed no BENCH lines"
    return None


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def run_guest(side: Side, mode: str, build_dir: Path, log_dir: Path,
              timeout_s: float, qemu: str = QEMU_BIN) -> GuestRun:
    for rel in (side.kernel, side.initrd):
        if not (build_dir / rel).is_file():
            return GuestRun(side.key, mode, False, f"not built: {_rel(build_dir / rel)} is missing")
    cmd = qemu_command(side, build_dir, mode == "icount", qemu)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{side.key}-{mode}.log"
    chunks: list[str] = []
    first: list[float] = []
    start = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    except OSError as e:
        return GuestRun(side.key, mode, False, f"cannot start {qemu}: {e}")

    def reader() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            if not first:
                c = clean_line(line)
                if c.startswith("BENCH") or c.startswith("# "):
                    first.append(time.monotonic() - start)
            chunks.append(line)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    timed_out = False
    try:
        exit_code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        exit_code = proc.wait()
    wall = time.monotonic() - start
    thread.join(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()
    text = "".join(chunks)
    log_path.write_text(text)
    parsed = parse_serial(text)
    reason = judge(parsed, exit_code, timed_out, timeout_s)
    if reason:
        reason += f" (serial log: {_rel(log_path)})"
    return GuestRun(side.key, mode, reason is None, reason, parsed, exit_code, wall,
                    first[0] if first else None, log_path)


# ---------------------------------------------------------------------------
# Building.

def build_veneer(log_dir: Path, build_dir: Path) -> str | None:
    """cmake + ninja the project; returns why Veneer cannot be run, or None."""
    if not (ROOT / "CMakeLists.txt").is_file():
        return "no CMakeLists.txt at the repository root yet"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "veneer-build.log"
    steps = []
    if not (build_dir / "build.ninja").is_file():
        steps.append(["cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja"])
    steps.append(["ninja", "-C", str(build_dir)])
    with log.open("w") as f:
        for cmd in steps:
            f.write("$ " + " ".join(cmd) + "\n")
            f.flush()
            try:
                rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
            except OSError as e:
                return f"cannot run {cmd[0]}: {e}"
            if rc != 0:
                return f"build failed: {cmd[0]} exited {rc} (log: {_rel(log)})"
    return None


def build_linux(log_dir: Path, build_dir: Path) -> str | None:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "linux-build.log"
    with log.open("w") as f:
        rc = subprocess.call(["bash", str(ROOT / "bench/linux/build.sh"), str(build_dir / "linux-baseline")],
                             stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
    return None if rc == 0 else f"Linux baseline build failed, exit {rc} (log: {_rel(log)})"


# ---------------------------------------------------------------------------
# The table.

@dataclasses.dataclass
class Row:
    name: str
    veneer: float | None
    linux: float | None
    wall_ratio: float | None = None
    notes: dict[str, str] = dataclasses.field(default_factory=dict)   # side -> why n/a

    @property
    def ratio(self) -> float | None:
        if self.veneer is None or self.linux is None:
            return None
        return self.linux / self.veneer


def why_missing(side: str, name: str, run: GuestRun | None) -> str:
    if run is None:
        return "not run"
    if not run.ok:
        return run.reason or "run failed"
    if name in run.parsed.errors:
        return run.parsed.errors[name]
    return DELIBERATE_NA.get(side, {}).get(name, "not printed by this side")


def build_rows(icount: dict[str, GuestRun | None], wall: dict[str, GuestRun | None]) -> list[Row]:
    names = list(OPERATIONS)
    for side in ("veneer", "linux"):
        run = icount.get(side)
        if run is not None and run.ok:
            names += [n for n in list(run.parsed.values) + list(run.parsed.errors) if n not in names]
    rows = []
    for name in names:
        vals: dict[str, float | None] = {}
        notes = {}
        for side in ("veneer", "linux"):
            run = icount.get(side)
            vals[side] = run.values.get(name) if run else None
            if vals[side] is None:
                notes[side] = why_missing(side, name, run)
        wv = wall.get("veneer").values.get(name) if wall.get("veneer") else None
        wl = wall.get("linux").values.get(name) if wall.get("linux") else None
        wall_ratio = wl / wv if wv and wl else None
        rows.append(Row(name, vals["veneer"], vals["linux"], wall_ratio, notes))
    return rows


def fmt_num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}"


def fmt_ratio(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


HEADER = ["operation", "Veneer instr/op", "Linux instr/op", "Linux/Veneer", "wall-clock Linux/Veneer"]


def table_cells(rows: list[Row]) -> list[list[str]]:
    return [[r.name, fmt_num(r.veneer), fmt_num(r.linux), fmt_ratio(r.ratio), fmt_ratio(r.wall_ratio)]
            for r in rows]


def text_table(rows: list[Row]) -> str:
    cells = [HEADER] + table_cells(rows)
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]

    def fmt(c: list[str]) -> str:
        return "  ".join(c[i].ljust(widths[i]) if i == 0 else c[i].rjust(widths[i]) for i in range(len(c)))

    lines = [fmt(cells[0]), "-" * sum(widths + [2 * (len(widths) - 1)])]
    lines += [fmt(c) for c in cells[1:]]
    return "\n".join(lines)


def missing_notes(rows: list[Row], runs: dict[str, GuestRun | None]) -> list[str]:
    """One line per n/a cell, but a failed or absent side is said once, not per row."""
    out = []
    for side in ("veneer", "linux"):
        run = runs.get(side)
        if run is None or not run.ok:
            out.append(f"{SIDES[side].label}: all n/a: {why_missing(side, '', run)}")
            continue
        for r in rows:
            if side in r.notes:
                out.append(f"{SIDES[side].label} {r.name}: n/a: {r.notes[side]}")
    return out


def markdown_section(rows: list[Row], notes: list[str], meta: dict) -> str:
    lines = ["| " + " | ".join(HEADER) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(HEADER) - 1)) + "|"]
    lines += ["| " + " | ".join(c) + " |" for c in table_cells(rows)]
    lines.append("")
    if notes:
        lines.append("Why a cell is n/a:")
        lines.append("")
        lines += [f"- {n}" for n in notes]
        lines.append("")
    lines.append("Run: " + "; ".join(f"{k}: {v}" for k, v in meta.items() if isinstance(v, (str, int, float))))
    return "\n".join(lines)


MD_BEGIN_TAG = "<!-- BENCH-TABLE:BEGIN"
MD_BEGIN = MD_BEGIN_TAG + " (generated by bench/harness/run.py; edits inside are overwritten) -->"
MD_END = "<!-- BENCH-TABLE:END -->"


def replace_section(doc: str, section: str) -> str:
    """Swap the generated block in doc; everything outside the markers is kept."""
    begin = doc.find(MD_BEGIN_TAG)
    end = doc.find(MD_END)
    block = f"{MD_BEGIN}\n{section}\n{MD_END}"
    if begin < 0 or end < begin:
        return doc.rstrip("\n") + "\n\n## Results\n\n" + block + "\n"
    return doc[:begin] + block + doc[end + len(MD_END):]


def to_json(rows: list[Row], meta: dict) -> dict:
    return {
        "operations": [{"name": r.name, "veneer": r.veneer, "linux": r.linux, "unit": "instructions"}
                       for r in rows],
        "meta": meta,
    }


def compare(rows: list[Row], baseline: dict, tolerance: float = REGRESSION_TOLERANCE) -> list[str]:
    """Veneer rows more than `tolerance` worse (more instructions) than the baseline,
    or that lost their number."""
    base = {op["name"]: op.get("veneer") for op in baseline.get("operations", [])}
    now = {r.name: r.veneer for r in rows}
    flagged = []
    for name, old in base.items():
        if old is None:
            continue
        new = now.get(name)
        if new is None:
            flagged.append(f"{name}: was {old:.1f}, now n/a")
        elif new > old * (1 + tolerance):
            flagged.append(f"{name}: {old:.1f} -> {new:.1f} instructions (+{(new / old - 1) * 100:.1f}%)")
    return flagged


# ---------------------------------------------------------------------------
# The chart: matplotlib when importable, else gnuplot.

def write_chart(rows: list[Row], path: Path) -> str | None:
    rows = [r for r in rows if r.veneer is not None or r.linux is not None]
    if not rows:
        return "no numbers to plot"
    title = "Instructions per operation (QEMU TCG, -icount shift=0; lower is better)"
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(rows) + 2), 5))
        xs = range(len(rows))
        w = 0.4
        for off, side, color in ((-w / 2, "veneer", "#1f77b4"), (w / 2, "linux", "#d62728")):
            ax.bar([x + off for x in xs], [getattr(r, side) or float("nan") for r in rows], w,
                   label=SIDES[side].label, color=color)
        ax.set_yscale("log")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r.name for r in rows], rotation=45, ha="right")
        ax.set_ylabel("guest instructions per op (log)")
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return None
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return "neither matplotlib nor gnuplot is installed"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.txt"
        data.write_text("".join(f"{r.name} {fmt_num(r.veneer).replace('n/a', '-')} "
                                f"{fmt_num(r.linux).replace('n/a', '-')}\n" for r in rows))
        script = f"""
set terminal pngcairo noenhanced size {max(800, 60 * len(rows) + 200)},560
set output '{path}'
set title '{title}'
set datafile missing '-'
set style data histogram
set style histogram clustered gap 1
set style fill solid border -1
set logscale y
set ylabel 'guest instructions per op (log)'
set xtics rotate by 45 right scale 0
set bmargin 10
set key top left
plot '{data}' using 2:xtic(1) title 'Veneer' lc rgb '#1f77b4', '' using 3 title 'Linux' lc rgb '#d62728'
"""
        r = subprocess.run([gnuplot], input=script, text=True, capture_output=True)
        if r.returncode != 0 or not path.exists():
            return f"gnuplot failed: {r.stderr.strip()[:200]}"
    return None


# ---------------------------------------------------------------------------

def qemu_version(qemu: str) -> str:
    try:
        out = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0].strip() if out else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def parse_only(path: Path, exit_code: int | None) -> int:
    parsed = parse_serial(path.read_text(errors="replace"))
    reason = None
    if exit_code is not None:
        reason = judge(parsed, exit_code, False, 0)
    elif not parsed.done:
        reason = "no BENCH-DONE line"
    print(json.dumps({"accepted": reason is None, "reason": reason, "done": parsed.done,
                      "values": parsed.values, "errors": parsed.errors,
                      "problems": parsed.problems, "info": parsed.info}, indent=2))
    return 0 if reason is None and not parsed.problems else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sides", default="veneer,linux", help="comma-separated: veneer,linux")
    ap.add_argument("--no-wallclock", action="store_true", help="skip the second pass without -icount")
    ap.add_argument("--skip-build", action="store_true", help="use what is in the build directory")
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "docs",
                    help="where benchmarks.{json,md,png} go")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per guest run")
    ap.add_argument("--jobs", type=int, default=2, help="icount runs in parallel (deterministic anyway)")
    ap.add_argument("--qemu", default=QEMU_BIN)
    ap.add_argument("--compare", type=Path, metavar="JSON",
                    help="exit 1 if a Veneer row is >10%% worse than JSON; implies --no-write")
    ap.add_argument("--write", action="store_true", help="with --compare: still write docs/")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    ap.add_argument("--parse-only", type=Path, metavar="LOG", help="parse a serial log and exit")
    ap.add_argument("--exit-code", type=int, help="with --parse-only: QEMU exit code to judge too")
    args = ap.parse_args(argv)

    if args.parse_only:
        return parse_only(args.parse_only, args.exit_code)

    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    unknown = [s for s in sides if s not in SIDES]
    if unknown:
        ap.error(f"unknown side(s): {', '.join(unknown)}")
    baseline = None
    if args.compare:
        # Read before anything could overwrite it.
        baseline = json.loads(args.compare.read_text())
    write = not args.no_write and (args.compare is None or args.write)
    build_dir = args.build_dir.resolve()
    log_dir = build_dir / "bench-logs"

    # Build failures make that side n/a; they do not stop the other side.
    build_failed: dict[str, str] = {}
    if not args.skip_build:
        builders = {"veneer": build_veneer, "linux": build_linux}
        for side in sides:
            print(f"[bench] building {SIDES[side].label} ...", flush=True)
            if why := builders[side](log_dir, build_dir):
                build_failed[side] = why
                print(f"[bench] {SIDES[side].label}: {why}", flush=True)

    def run(side: str, mode: str) -> GuestRun:
        if side in build_failed:
            return GuestRun(side, mode, False, build_failed[side])
        print(f"[bench] booting {SIDES[side].label} ({mode}) ...", flush=True)
        r = run_guest(SIDES[side], mode, build_dir, log_dir, args.timeout, args.qemu)
        status = "ok" if r.ok else f"REJECTED: {r.reason}"
        timing = f" in {r.wall_s:.1f} s" if r.wall_s is not None else ""
        if r.first_output_s is not None:
            timing += f" (guest program's first line after {r.first_output_s:.1f} s)"
        print(f"[bench] {SIDES[side].label} ({mode}){timing}: {status}", flush=True)
        return r

    icount: dict[str, GuestRun | None] = {s: None for s in SIDES}
    wall: dict[str, GuestRun | None] = {s: None for s in SIDES}
    # Instruction counts do not depend on host load, so the icount runs share the cores.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for side, fut in [(s, pool.submit(run, s, "icount")) for s in sides]:
            icount[side] = fut.result()
    if not args.no_wallclock:
        # Wall-clock runs go one at a time so they do not compete for the host.
        for side in sides:
            wall[side] = run(side, "wallclock")

    rows = build_rows(icount, wall)
    notes = missing_notes(rows, icount)
    meta: dict = {
        "date": datetime.date.today().isoformat(),
        "qemu": qemu_version(args.qemu),
        "qemu_args": " ".join(QEMU_COMMON + QEMU_ICOUNT),
    }
    linux_run = icount.get("linux")
    if linux_run and linux_run.ok and "kernel" in linux_run.parsed.info:
        meta["linux_kernel"] = linux_run.parsed.info["kernel"]
    for side in sides:
        r = icount[side]
        if r and r.first_output_s is not None:
            meta[f"{side}_first_output_s"] = round(r.first_output_s, 1)
        if r and r.wall_s is not None:
            meta[f"{side}_icount_run_s"] = round(r.wall_s, 1)

    print()
    print(text_table(rows))
    print()
    for n in notes:
        print("  " + n)
    for side in sides:
        r = icount[side]
        if r and r.parsed.problems:
            for p in r.parsed.problems:
                print(f"  {SIDES[side].label} output problem: {p}")

    if write:
        out = args.out_dir
        out.mkdir(parents=True, exist_ok=True)
        json_meta = dict(meta, why_na=notes)
        (out / "benchmarks.json").write_text(json.dumps(to_json(rows, json_meta), indent=2) + "\n")
        md_path = out / "benchmarks.md"
        doc = md_path.read_text() if md_path.exists() else "# Benchmarks\n"
        md_path.write_text(replace_section(doc, markdown_section(rows, notes, meta)))
        if why := write_chart(rows, out / "benchmarks.png"):
            print(f"[bench] chart not written: {why}")
        print(f"[bench] wrote {_rel(out / 'benchmarks.json')}, {_rel(md_path)}, {_rel(out / 'benchmarks.png')}")

    if baseline is not None:
        flagged = compare(rows, baseline)
        if flagged:
            print(f"\n[bench] REGRESSION against {args.compare} (tolerance {REGRESSION_TOLERANCE:.0%}):")
            for f in flagged:
                print("  " + f)
            return 1
        print(f"\n[bench] no Veneer row more than {REGRESSION_TOLERANCE:.0%} worse than {args.compare}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
