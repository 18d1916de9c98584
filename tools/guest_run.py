"""What the host-side network tests and benchmarks (tests/net, tests/linux,
bench/net) share when they drive a guest: a free port on 127.0.0.1, the
guest's serial log read as it comes (a thread drains QEMU's stdout all
along, so QEMU never blocks on it, while the caller waits for the line it
needs), and the verdict they print."""
import queue
import re
import socket
import threading
import time


def free_port(kind=socket.SOCK_STREAM):
    """A port on 127.0.0.1 free at the moment (TCP, or kind=SOCK_DGRAM: UDP)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SerialLog:
    """The serial log of the QEMU process `proc` (started with stdout=PIPE)."""

    def __init__(self, proc):
        self.lines = []  # every line taken so far, in order
        self._queue = queue.Queue()
        self._ended = False
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc):
        for line in proc.stdout:
            self._queue.put(line.decode(errors="replace").rstrip())
        self._queue.put(None)

    def _take(self, timeout):
        """The next line, or None when the log ended or nothing came in time."""
        if self._ended:
            return None
        try:
            text = self._queue.get(timeout=max(0.1, timeout))
        except queue.Empty:
            return None
        if text is None:
            self._ended = True
            return None
        self.lines.append(text)
        return text

    def read_until(self, pattern, deadline):
        """The first line from here on matching `pattern`; None if the log ends
        or time.time() passes `deadline` first."""
        while time.time() < deadline:
            text = self._take(deadline - time.time())
            if text is None:
                return None
            if re.search(pattern, text):
                return text
        return None

    def drain(self, quiet=1.0):
        """Takes what QEMU still prints, until the log ends or `quiet` seconds pass without a line."""
        while self._take(quiet) is not None:
            pass

    def text(self):
        return "\n".join(self.lines)


def verdict(failures, log_tail):
    """Prints the failures (after the log's tail) and FAIL, or PASS; the exit code."""
    if failures:
        print(log_tail)
        for f in failures:
            print("FAIL:", f)
        print("FAIL")
        return 1
    print("PASS")
    return 0
