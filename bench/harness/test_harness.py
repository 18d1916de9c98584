#!/usr/bin/env python3
"""Unit tests for bench/harness/run.py. Boots nothing: a fake QEMU replays canned
serial logs. Run: python3 bench/harness/test_harness.py"""

import contextlib
import io
import json
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run  # noqa: E402

# What a real boot looks like: SeaBIOS clears the screen right before the guest's
# first line, lines end in \r\n, kernel chatter and info lines are mixed in.
GOOD_LOG = (
    "SeaBIOS (version 1.16.2)\r\n"
    "Booting from ROM..\x1bc\x1b[?7l\x1b[2JBENCH null_syscall 326.0\r\n"
    "# kernel: Linux 6.1.0-56-amd64\r\n"
    "[    5.123] random: crng init done\r\n"
    "BENCH exception_roundtrip 3656.7\r\n"
    "BENCH-ERROR dirty pagemap has no soft-dirty bit\r\n"
    "BENCH map100_batch 812\r\n"
    "BENCH-DONE\r\n"
)

FAKE_QEMU = textwrap.dedent("""\
    #!{python}
    # Replays <kernel>.serial and exits with the code in <kernel>.rc; hangs if asked.
    import sys, time
    args = sys.argv[1:]
    if args == ["--version"]:
        sys.exit(print("QEMU emulator version 0.0 (fake)"))
    kernel = args[args.index("-kernel") + 1]
    mode = "icount" if "-icount" in args else "wallclock"
    with open(kernel + ".rc") as f:
        rc = f.read().strip()
    if rc == "hang":
        time.sleep(30)
    try:
        with open(kernel + "." + mode + ".serial") as f:
            sys.stdout.write(f.read())
    except FileNotFoundError:
        with open(kernel + ".serial") as f:
            sys.stdout.write(f.read())
    sys.stdout.flush()
    sys.exit(int(rc))
""")


class ParseTest(unittest.TestCase):
    def test_good_log(self):
        p = run.parse_serial(GOOD_LOG)
        self.assertTrue(p.done)
        self.assertEqual(p.values, {"null_syscall": 326.0, "exception_roundtrip": 3656.7,
                                    "map100_batch": 812.0})
        self.assertEqual(list(p.values), ["null_syscall", "exception_roundtrip", "map100_batch"])
        self.assertEqual(p.errors, {"dirty": "pagemap has no soft-dirty bit"})
        self.assertEqual(p.info["kernel"], "Linux 6.1.0-56-amd64")
        self.assertEqual(p.problems, [])

    def test_bad_values_are_refused(self):
        p = run.parse_serial("BENCH a -3.0\nBENCH b nan\nBENCH c 0\nBENCH d 1e5\nBENCH e 12.5\nBENCH-DONE\n")
        self.assertEqual(p.values, {"e": 12.5})
        self.assertEqual(set(p.errors), {"a", "b", "c", "d"})
        self.assertEqual(len(p.problems), 4)

    def test_interleaved_and_duplicate_lines(self):
        log = ("BENCH trap 10[  3.1] kernel says hi\n"    # printk broke the line: not a number
               "BENCH prot1 5.0\nBENCH prot1 6.0\n"       # twice: trust neither
               "BENCH-DONE\nBENCH late 1.0\n")
        p = run.parse_serial(log)
        self.assertEqual(p.values, {})
        self.assertIn("prot1", p.errors)
        self.assertTrue(any("malformed" in x for x in p.problems))
        self.assertTrue(any("late" in x for x in p.problems))

    def test_missing_done(self):
        self.assertFalse(run.parse_serial("BENCH a 1.0\n").done)


class JudgeTest(unittest.TestCase):
    def setUp(self):
        self.good = run.parse_serial(GOOD_LOG)

    def test_success(self):
        self.assertIsNone(run.judge(self.good, 33, False, 60))

    def test_failures(self):
        self.assertIn("exit code 0", run.judge(self.good, 0, False, 60))
        self.assertIn("exit code 3", run.judge(self.good, 3, False, 60))
        self.assertIn("timed out after 60", run.judge(self.good, 33, True, 60))
        self.assertIn("BENCH-DONE", run.judge(run.parse_serial("BENCH a 1.0\n"), 33, False, 60))
        self.assertIn("no BENCH lines", run.judge(run.parse_serial("BENCH-DONE\n"), 33, False, 60))


class QemuCommandTest(unittest.TestCase):
    def strip_side(self, cmd):
        out, skip = [], False
        for a in cmd:
            if skip:
                skip = False
            elif a in ("-kernel", "-initrd", "-append"):
                skip = True
            else:
                out.append(a)
        return out

    def test_both_sides_identical_settings(self):
        b = Path("/b")
        for icount in (True, False):
            v = run.qemu_command(run.SIDES["veneer"], b, icount)
            lx = run.qemu_command(run.SIDES["linux"], b, icount)
            self.assertEqual(self.strip_side(v), self.strip_side(lx))
            self.assertEqual("-icount" in v, icount)
        cmd = run.qemu_command(run.SIDES["veneer"], b, True)
        self.assertEqual(cmd[cmd.index("-icount") + 1], "shift=0")
        self.assertEqual(cmd[cmd.index("-kernel") + 1], "/b/kernel/veneer.elf")
        self.assertEqual(cmd[cmd.index("-initrd") + 1], "/b/bench/veneer/bench_veneer.elf")
        self.assertIn("isa-debug-exit,iobase=0xf4,iosize=0x04", cmd)
        self.assertNotIn("-append", cmd)
        lx = run.qemu_command(run.SIDES["linux"], b, True)
        self.assertEqual(lx[lx.index("-append") + 1], "console=ttyS0 quiet panic=-1")


class FakeQemuMixin:
    """A temporary build dir whose 'kernels' tell the fake QEMU what to print."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.build = self.tmp / "build"
        self.qemu = self.tmp / "fake-qemu"
        self.qemu.write_text(FAKE_QEMU.format(python=sys.executable))
        self.qemu.chmod(self.qemu.stat().st_mode | stat.S_IEXEC)

    def tearDown(self):
        self._tmp.cleanup()

    def make_side(self, key, serial, rc="33", wall_serial=None):
        side = run.SIDES[key]
        for rel in (side.kernel, side.initrd):
            (self.build / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.build / rel).write_text("x")
        k = self.build / side.kernel
        Path(str(k) + ".serial").write_text(serial)
        Path(str(k) + ".rc").write_text(rc)
        if wall_serial is not None:
            Path(str(k) + ".wallclock.serial").write_text(wall_serial)

    def guest(self, key, timeout=20):
        return run.run_guest(run.SIDES[key], "icount", self.build, self.tmp / "logs", timeout, str(self.qemu))


class RunGuestTest(FakeQemuMixin, unittest.TestCase):
    def test_accepts_exit_33(self):
        self.make_side("veneer", GOOD_LOG)
        r = self.guest("veneer")
        self.assertTrue(r.ok, r.reason)
        self.assertEqual(r.values["null_syscall"], 326.0)
        self.assertEqual(r.exit_code, 33)
        self.assertIn("BENCH-DONE", (self.tmp / "logs" / "veneer-icount.log").read_text())

    def test_rejects_bad_exit_even_with_numbers(self):
        self.make_side("veneer", GOOD_LOG, rc="1")
        r = self.guest("veneer")
        self.assertFalse(r.ok)
        self.assertIn("exit code 1", r.reason)
        self.assertEqual(r.values, {})   # printed numbers are not reported

    def test_timeout(self):
        self.make_side("linux", GOOD_LOG, rc="hang")
        r = self.guest("linux", timeout=0.5)
        self.assertFalse(r.ok)
        self.assertIn("timed out", r.reason)

    def test_not_built(self):
        r = self.guest("veneer")
        self.assertFalse(r.ok)
        self.assertIn("not built", r.reason)
        self.assertIn("veneer.elf", r.reason)


class RowsTest(unittest.TestCase):
    def fake_run(self, side, log, ok=True, reason=None):
        return run.GuestRun(side, "icount", ok, reason, run.parse_serial(log), 33 if ok else 1)

    def test_rows_ratios_and_extras(self):
        ven = self.fake_run("veneer", "BENCH null_syscall 50.0\nBENCH map100_batch 900\nBENCH-DONE\n")
        lin = self.fake_run("linux", "BENCH null_syscall 325.0\nBENCH-ERROR dirty no bit\n"
                                     "BENCH linux_only 7.0\nBENCH-DONE\n")
        wv = self.fake_run("veneer", "BENCH null_syscall 100\nBENCH-DONE\n")
        wl = self.fake_run("linux", "BENCH null_syscall 300\nBENCH-DONE\n")
        rows = run.build_rows({"veneer": ven, "linux": lin}, {"veneer": wv, "linux": wl})
        names = [r.name for r in rows]
        self.assertEqual(names[:len(run.OPERATIONS)], run.OPERATIONS)
        self.assertEqual(names[len(run.OPERATIONS):], ["map100_batch", "linux_only"])
        by = {r.name: r for r in rows}
        self.assertAlmostEqual(by["null_syscall"].ratio, 6.5)
        self.assertAlmostEqual(by["null_syscall"].wall_ratio, 3.0)
        self.assertIsNone(by["map100_batch"].ratio)
        self.assertEqual(by["dirty"].notes["linux"], "no bit")
        self.assertIn("protected control transfer", by["pct_roundtrip"].notes["linux"])
        self.assertEqual(by["prot1"].notes["linux"], "not printed by this side")

    def test_failed_side_reports_nothing(self):
        lin = self.fake_run("linux", "BENCH null_syscall 325.0\nBENCH-DONE\n", ok=False, reason="timed out")
        rows = run.build_rows({"veneer": None, "linux": lin}, {})
        self.assertTrue(all(r.linux is None and r.veneer is None for r in rows))
        notes = run.missing_notes(rows, {"veneer": None, "linux": lin})
        self.assertEqual(notes, ["Veneer: all n/a: not run", "Linux: all n/a: timed out"])

    def test_json_shape(self):
        rows = [run.Row("null_syscall", 50.0, None), run.Row("x", None, 3.0)]
        j = run.to_json(rows, {"date": "d"})
        self.assertEqual(j["operations"][0], {"name": "null_syscall", "veneer": 50.0, "linux": None,
                                              "unit": "instructions"})
        json.dumps(j)  # serialisable, nulls and all

    def test_text_table(self):
        t = run.text_table([run.Row("null_syscall", 50.0, 325.0)])
        self.assertIn("Linux/Veneer", t.splitlines()[0])
        self.assertRegex(t.splitlines()[2], r"^null_syscall\s+50\.0\s+325\.0\s+6\.50\s+n/a$")


class CompareTest(unittest.TestCase):
    base = {"operations": [
        {"name": "a", "veneer": 100.0, "linux": 1.0, "unit": "instructions"},
        {"name": "b", "veneer": 100.0, "linux": None, "unit": "instructions"},
        {"name": "c", "veneer": None, "linux": None, "unit": "instructions"},
        {"name": "d", "veneer": 100.0, "linux": None, "unit": "instructions"},
    ]}

    def test_threshold(self):
        rows = [run.Row("a", 110.0, None), run.Row("b", 50.0, None), run.Row("c", 999.0, None),
                run.Row("d", 110.1, None)]
        flagged = run.compare(rows, self.base)
        self.assertEqual(len(flagged), 1)
        self.assertTrue(flagged[0].startswith("d: 100.0 -> 110.1"))

    def test_lost_number_is_flagged(self):
        flagged = run.compare([run.Row("a", None, 5.0)], self.base)
        self.assertIn("a: was 100.0, now n/a", flagged)
        self.assertEqual(len(flagged), 3)  # a lost, b and d missing entirely


class MarkdownTest(unittest.TestCase):
    def test_section_replaced_in_place(self):
        doc = f"# T\n\nhand text\n\n{run.MD_BEGIN}\nold table\n{run.MD_END}\n\ntail text\n"
        out = run.replace_section(doc, "NEW")
        self.assertIn("hand text", out)
        self.assertIn("tail text", out)
        self.assertIn("NEW", out)
        self.assertNotIn("old table", out)
        self.assertEqual(run.replace_section(out, "NEW"), out)  # idempotent

    def test_section_appended_without_markers(self):
        out = run.replace_section("# T\nhand\n", "NEW")
        self.assertTrue(out.startswith("# T\nhand\n"))
        self.assertIn(run.MD_BEGIN + "\nNEW\n" + run.MD_END, out)


class CliTest(FakeQemuMixin, unittest.TestCase):
    def test_parse_only(self):
        good = self.tmp / "good.log"
        good.write_text(GOOD_LOG)
        bad = self.tmp / "bad.log"
        bad.write_text("BENCH a 1.0\n")
        script = str(HERE / "run.py")
        r = subprocess.run([sys.executable, script, "--parse-only", str(good), "--exit-code", "33"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["values"]["exception_roundtrip"], 3656.7)
        r = subprocess.run([sys.executable, script, "--parse-only", str(good), "--exit-code", "0"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        r = subprocess.run([sys.executable, script, "--parse-only", str(bad)], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertFalse(json.loads(r.stdout)["accepted"])

    def main(self, *extra):
        argv = ["--skip-build", "--build-dir", str(self.build), "--out-dir", str(self.tmp / "docs"),
                "--qemu", str(self.qemu), "--timeout", "20", *extra]
        with contextlib.redirect_stdout(io.StringIO()) as out:
            rc = run.main(argv)
        return rc, out.getvalue()

    def test_end_to_end_and_regression_guard(self):
        self.make_side("veneer", "BENCH null_syscall 50.0\nBENCH trap 400.0\nBENCH-DONE\n",
                       wall_serial="BENCH null_syscall 1000\nBENCH trap 2000\nBENCH-DONE\n")
        self.make_side("linux", GOOD_LOG, rc="1")   # a failed Linux boot
        docs = self.tmp / "docs"
        docs.mkdir()
        (docs / "benchmarks.md").write_text(f"# B\nhand\n{run.MD_BEGIN}\n{run.MD_END}\n")
        rc, out = self.main()
        self.assertEqual(rc, 0, out)
        self.assertIn("Linux: all n/a: QEMU exit code 1", out)
        data = json.loads((docs / "benchmarks.json").read_text())
        ops = {o["name"]: o for o in data["operations"]}
        self.assertEqual(ops["null_syscall"]["veneer"], 50.0)
        self.assertIsNone(ops["null_syscall"]["linux"])
        self.assertEqual([o["name"] for o in data["operations"]], run.OPERATIONS)
        md = (docs / "benchmarks.md").read_text()
        self.assertIn("| null_syscall | 50.0 | n/a | n/a | n/a |", md)
        self.assertIn("hand", md)

        # Veneer gets 20% slower on trap: the guard trips and leaves docs/ alone.
        self.make_side("veneer", "BENCH null_syscall 50.0\nBENCH trap 480.0\nBENCH-DONE\n")
        before = (docs / "benchmarks.json").read_text()
        rc, out = self.main("--no-wallclock", "--compare", str(docs / "benchmarks.json"))
        self.assertEqual(rc, 1, out)
        self.assertIn("trap: 400.0 -> 480.0", out)
        self.assertEqual((docs / "benchmarks.json").read_text(), before)

        # Within 10%: passes.
        self.make_side("veneer", "BENCH null_syscall 54.0\nBENCH trap 430.0\nBENCH-DONE\n")
        rc, out = self.main("--no-wallclock", "--compare", str(docs / "benchmarks.json"))
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=1)
