#!/usr/bin/python3
# libphonebridge bench — the Python bindings over a million decodes: a
# million SMS and a million MMS decoded through the extension, and how much
# the process (RSS) and Python's allocator (sys.getallocatedblocks()) grew.
# Prints "name: value unit" lines like the C benches.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bench/python-leak.py BUILD_DIR [N]      (N decodes of each; default 1000000)
#
# The python suite's leak tests (bindings/python/tests/test_mms.py,
# test_modem.py) run the same loops shorter, under tracemalloc, which makes
# each decode about twenty times slower; this runs the full count with the
# cheap counters only. Run it with the interpreter the extension was built
# for (Debian's /usr/bin/python3).
import gc
import os
import resource
import sys
import time

if len(sys.argv) not in (2, 3):
    sys.exit("usage: bench/python-leak.py BUILD_DIR [N]")
sys.path.insert(0, os.path.join(os.path.abspath(sys.argv[1]), "bindings", "python"))
N = int(sys.argv[2]) if len(sys.argv) == 3 else 1000000

from phonebridge import _phonebridge, mms, sms  # noqa: E402
from phonebridge.errors import MalformedPDU  # noqa: E402


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


SMS = sms.encode_text("+4915112345678", "Grüße " * 40, smsc="")[0].data
MMS = mms.encode_retrieve_conf(
    "T1", ["+4915112345678", "bob@example.org"], "Hello from Python \u2713",
    [mms.Attachment(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9", "image/jpeg", "photo.jpg")],
    from_="+4930123456", subject="Leak check", date=1714557600)


def run(name, fn, n):
    for _ in range(min(n, 10000)):  # warm up allocator pools and caches
        fn()
    gc.collect()
    rss0, blocks0 = rss_kib(), sys.getallocatedblocks()
    t = time.monotonic()
    for _ in range(n):
        fn()
    dt = time.monotonic() - t
    gc.collect()
    print(f"{name}_decodes: {n} count")
    print(f"{name}_time: {dt:.1f} s")
    print(f"{name}_per_decode: {dt / n * 1e6:.1f} us")
    print(f"{name}_rss_growth: {rss_kib() - rss0} KiB")
    print(f"{name}_py_blocks_growth: {sys.getallocatedblocks() - blocks0} blocks", flush=True)


def bad_mms():
    try:
        _phonebridge.mms_decode(MMS[:50])
    except MalformedPDU:
        pass


print(f"sms_pdu_size: {len(SMS)} bytes")
print(f"mms_pdu_size: {len(MMS)} bytes")
run("sms", lambda: _phonebridge.sms_decode(SMS), N)
run("mms", lambda: _phonebridge.mms_decode(MMS), N)
# the idiomatic layer (dataclasses, zero-copy memoryviews) and the error path, a tenth as often
run("sms_package", lambda: sms.decode(SMS), N // 10)
run("mms_package", lambda: mms.decode(MMS).media_parts[0].body.tobytes(), N // 10)
run("mms_malformed", bad_mms, N // 10)
print(f"rss_end: {rss_kib()} KiB")
