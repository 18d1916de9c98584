#!/usr/bin/env python3
"""An interactive busybox sh session on ExOS's terminal, driven like expect.

Boots Veneer with linux.elf as init and tty=1: busybox sh talks to COM2,
which ExOS drives through an I/O-port capability; this script is the
person at the keyboard (COM2 on QEMU's stdin/stdout; the kernel's log,
COM1, goes to a file). Each step types a line, waits for what must appear,
and the session ends with `poweroff` (QEMU's exit code says success).

  tests/linux/terminal_session.py --kernel K --init linux.elf --rootfs rootfs.cpio
"""
import argparse
import os
import re
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import qemu_args  # noqa: E402

PROMPT = "/ # "


class Session:
    def __init__(self, cmd, timeout):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.seen = ""      # everything the terminal showed, cleaned
        self.unread = ""    # what expect has not matched yet
        self.timeout = timeout
        self.checks = 0     # patterns that appeared

    def _pump(self, wait):
        ready, _, _ = select.select([self.proc.stdout], [], [], wait)
        if not ready:
            return False
        data = os.read(self.proc.stdout.fileno(), 65536)
        if not data:
            return False
        # Terminal noise: carriage returns, busybox's cursor-position query.
        # (Cleaned on the whole buffer: a sequence may span two reads.)
        text = data.decode("utf-8", "replace").replace("\r", "")
        self.seen = (self.seen + text).replace("\x1b[6n", "")
        self.unread = (self.unread + text).replace("\x1b[6n", "")
        return True

    def expect(self, pattern, what):
        deadline = time.time() + self.timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.unread)
            if m:
                self.unread = self.unread[m.end():]
                self.checks += 1
                return m
            if time.time() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"{what}: /{pattern}/ did not appear; the terminal showed, last:\n"
                                     f"{self.unread[-1500:]}")
            self._pump(0.2)

    def type(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def line(self, text):
        self.type(text + "\n")

    def quiet_for(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            self._pump(0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--timeout", type=float, default=60, help="seconds each step may take")
    args = ap.parse_args()
    log = tempfile.NamedTemporaryFile(prefix="veneer-kernel-", suffix=".log", delete=False).name
    cmd = qemu_args.veneer_command(args.kernel, [args.init, args.rootfs], "init=/bin/sh args= tty=1",
                                   serials=qemu_args.logged_serials(log))
    print("$ " + " ".join(cmd), flush=True)
    s = Session(cmd, args.timeout)
    steps = 0
    try:
        s.expect(r"built-in shell \(ash\)", "busybox sh starts on the terminal")
        s.expect(PROMPT, "the first prompt")

        def run(command, *patterns, what=None):
            nonlocal steps
            s.line(command)
            for p in patterns:
                s.expect(p, what or command)
            s.expect(PROMPT, f"the prompt after {command!r}")
            steps += 1

        # The line is echoed as typed, output follows, the prompt returns.
        run("echo hello | tr a-z A-Z", r"echo hello \| tr a-z A-Z", r"\nHELLO\n")
        # Pipelines of the text tools.
        run("printf 'b\\na\\nb\\nc\\n' | sort | uniq -c | awk '{print $2 \"=\" $1}' | sed 's/=/:/' | head -2",
            r"\na:1\nb:2\n")
        run("seq 1 50 | grep 5 | tail -2 | cut -c1 | wc -l", r"\n2\n")
        # Redirections; a file one process writes, the next reads.
        run("echo data > /tmp/x; echo more >> /tmp/x; cat /tmp/x", r"\ndata\nmore\n")
        # A here-document typed line by line at the continuation prompt.
        s.line("cat <<EOF > /tmp/h")
        s.expect(r"> $", "the here-document's continuation prompt")
        s.line("first line")
        s.expect(r"> $", "the continuation prompt again")
        s.line("EOF")
        s.expect(PROMPT, "the prompt after the here-document")
        run("wc -l < /tmp/h; cat /tmp/h", r"\n1\nfirst line\n")
        # Loops and exit statuses.
        run("for i in 1 2 3; do echo n$i; done; false; echo st=$?", r"\nn1\nn2\nn3\nst=1\n")
        # Background jobs, ps, wait.
        run("sleep 3 & sleep 1; ps", r"PID +USER +COMMAND", r"\n +\d+ 0 +sleep 3\n")
        run("wait; echo waited", r"\nwaited\n")
        # Ctrl-C stops a pipeline that would run forever.
        s.line("yes | cat > /dev/null")
        s.quiet_for(2)
        s.type("\x03")
        s.expect(r"\^C", "Ctrl-C echoed")
        s.expect(PROMPT, "the prompt after Ctrl-C stopped `yes | cat`")
        run("echo rc=$?", r"\nrc=130\n")
        # Line editing: erase, and Ctrl-C dropping a half-typed line.
        run("echo abX\x7fc", r"\nabc\n")
        s.type("echo partial")
        s.quiet_for(1)
        s.type("\x03")
        s.expect(PROMPT, "a fresh prompt after Ctrl-C on a half-typed line")
        run("echo whole", r"\nwhole\n")
        # A program reading the terminal: lines, then Ctrl-D (end of file).
        s.line("cat")
        s.quiet_for(1)
        s.line("typed line")
        s.expect(r"typed line\ntyped line\n", "cat echoes the line it read")
        s.type("\x04")
        s.expect(PROMPT, "the prompt after Ctrl-D ends cat's input")
        # The terminal's size and modes (TIOCGWINSZ, TCGETS).
        run("stty size", r"\n24 80\n")
        # A full-screen program in raw mode: vi edits a file.
        s.line("vi /tmp/v")
        s.expect(r"/tmp/v", "vi's status line")
        s.quiet_for(1)
        s.type("ihello from vi")
        s.quiet_for(1)
        s.type("\x1b")
        s.quiet_for(1)
        s.type(":wq\r")
        s.expect(PROMPT, "the prompt after vi")
        run("cat /tmp/v", r"\nhello from vi\n")
        # poweroff asks init, which powers the machine off.
        s.line("poweroff")
        code = s.proc.wait(timeout=args.timeout)
        if code != qemu_args.EXIT_SUCCESS:
            raise AssertionError(f"poweroff: QEMU exited with {code}, not {qemu_args.EXIT_SUCCESS}")
    except (AssertionError, subprocess.TimeoutExpired) as e:
        s.proc.kill()
        print(f"FAIL: {e}")
        print("---- kernel log (COM1), last lines ----")
        print("".join(open(log, errors="replace").readlines()[-15:]))
        return 1
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
    kernel_log = open(log, errors="replace").read()
    os.unlink(log)
    if "init was asked to stop the machine" not in kernel_log:
        print("FAIL: the kernel log lacks init's power-off")
        return 1
    print(s.seen[-600:])
    print(f"PASS: {steps} commands, {s.checks} expected outputs of an interactive busybox sh session "
          f"on ExOS's terminal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
