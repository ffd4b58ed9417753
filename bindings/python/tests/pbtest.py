"""Helpers shared by the package's tests (not a test module itself)."""

import gc
import os
import resource
import subprocess
import tracemalloc

SOURCE_ROOT = os.environ.get("PB_SOURCE_ROOT",
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def assert_no_growth(case, one_round, warmup, rounds, max_py=64 * 1024, max_rss_kib=4 * 1024):
    """Run one_round() warmup times, then rounds times, and fail @case when
    traced Python memory or the process RSS grew by more than the limits."""
    tracemalloc.start()  # before the warm-up: tracing itself caches some objects
    try:
        for _ in range(warmup):
            one_round()
        gc.collect()
        before_py = tracemalloc.get_traced_memory()[0]
        before_rss = rss_kib()
        for _ in range(rounds):
            one_round()
        gc.collect()
        grown_py = tracemalloc.get_traced_memory()[0] - before_py
    finally:
        tracemalloc.stop()
    grown_rss = rss_kib() - before_rss
    case.assertLess(grown_py, max_py, "Python objects leaked")
    case.assertLess(grown_rss, max_rss_kib, "C memory leaked (RSS grew %d KiB)" % grown_rss)


class Server:
    """A test server script run with Debian's python3; it prints
    "<ready> <port>" once listening on 127.0.0.1. Stops when closed."""

    def __init__(self, script, *args, ready="port"):
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(SOURCE_ROOT, script), *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for line in self.proc.stdout:
            if line.startswith(ready + " "):
                self.url = f"http://127.0.0.1:{int(line.split()[1])}"
                break
        else:
            self.close()
            raise RuntimeError(f"{script} exited before it was ready")

    def close(self):
        self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(30)
        self.proc.stdout.close()
