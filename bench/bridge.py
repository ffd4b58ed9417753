#!/usr/bin/python3
# libphonebridge bench — pb-bridged end to end: latency from the emulated
# modem's new message to the Matrix event, sustained messages per second,
# and the daemon's RSS idle and under load. Prints "name: value unit" lines
# like the C benches.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bench/bridge.py BUILD_DIR [N_LATENCY] [N_BURST] [MMSC]
#
# MMSC (issue 17: SMS latency must not depend on the MMSC): "none" (the
# default: no [mmsc] section), "up" (tests/mmsc-server.py answers), "down"
# (nothing listens: every fetch is refused), "hang" (the MMSC holds every
# fetch). With up, down and hang a picture message is put on the modem
# before the latency run, and another one every 20 messages, so that the
# fetch thread is busy (down: retried every 200 ms) while the SMS are
# measured. The figures are then named bridge.mmsc_<MMSC>.latency_p50/p99.
#
# The modem is tests/emulators/at-modem-emulator.py, which announces each
# message with +CMTI, so no poll interval is involved. The Matrix event is
# seen by the owner's /sync long-poll on tests/matrix-homeserver.py. Both
# emulators are Python: their time is inside the figures. The store runs
# with synchronous=FULL (the default); put TMPDIR on a real disk.
# RSS comes from /proc/PID/status, PSS from smaps_rollup, the libraries
# mapped from /proc/PID/maps; bridge.floor_libcurl_* are the same figures of
# bench-rss-floor (libcurl alone, one request to the same homeserver: the
# floor under the daemon's). PB_BENCH_SMAPS=DIR
# keeps the daemon's /proc/PID/smaps (idle, after the burst) for a
# per-mapping look.
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from bridge_pdu import deliver7, wap_push_parts  # noqa: E402

BUILD = sys.argv[1]
N_LAT = int(sys.argv[2]) if len(sys.argv) > 2 else 200
N_BURST = int(sys.argv[3]) if len(sys.argv) > 3 else 300
MMSC_MODE = sys.argv[4] if len(sys.argv) > 4 else "none"
if MMSC_MODE not in ("none", "up", "down", "hang"):
    raise SystemExit("bench: MMSC is none, up, down or hang")
PREFIX = "bridge." if MMSC_MODE == "none" else "bridge.mmsc_%s." % MMSC_MODE
PY = "/usr/bin/python3"
PEER = "+4915112345678"


def first_line(proc, prefix):
    for line in proc.stdout:
        if line.startswith(prefix):
            return line.strip()
    raise SystemExit("no " + prefix)


def rss_kib(pid, key="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def pss_kib(pid):
    """Proportional set size: shared library pages divided among their users."""
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def libraries(pid):
    """Distinct shared objects mapped by the process (the vDSO is not a file)."""
    with open("/proc/%d/maps" % pid) as f:
        return len({line.split(None, 5)[5].strip() for line in f
                    if len(line.split(None, 5)) == 6 and ".so" in line.split(None, 5)[5]})


def keep_smaps(pid, name):
    """With PB_BENCH_SMAPS=DIR, copy /proc/PID/smaps there (per-mapping RSS/PSS)."""
    d = os.environ.get("PB_BENCH_SMAPS")
    if d:
        os.makedirs(d, exist_ok=True)
        shutil.copyfile("/proc/%d/smaps" % pid, os.path.join(d, name))


tmp = tempfile.mkdtemp(prefix="pb-bridge-bench-")
procs = []
try:
    hs = subprocess.Popen([PY, os.path.join(ROOT, "tests/matrix-homeserver.py"), "--exit-on-eof"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs.append(hs)
    HS = "http://127.0.0.1:%s" % first_line(hs, "port ").split()[1]
    link = os.path.join(tmp, "tty")
    at = subprocess.Popen([PY, os.path.join(ROOT, "tests/emulators/at-modem-emulator.py"), "--link", link],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs.append(at)
    first_line(at, "READY ")

    def http(method, path, body=None, token=None, timeout=60):
        req = urllib.request.Request(HS + path, method=method, data=None if body is None else json.dumps(body).encode())
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"{}")

    def login(u, p):
        return http("POST", "/_matrix/client/v3/login", {"type": "m.login.password", "password": p,
                                                          "identifier": {"type": "m.id.user", "user": u}})["access_token"]

    tok = os.path.join(tmp, "token")
    fd = os.open(tok, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, login("alice", "wonderland").encode())
    os.close(fd)
    owner = login("bob", "builder")
    mmsc_conf, pic_url = "", None
    if MMSC_MODE != "none":
        mdir = os.path.join(tmp, "mmsc")
        os.mkdir(mdir)
        shutil.copyfile(os.path.join(ROOT, "data/samples/picture-message.mms"), os.path.join(mdir, "pic.mms"))
        mm = subprocess.Popen([PY, os.path.join(ROOT, "tests/mmsc-server.py"), "--root", "t=" + mdir],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(mm)
        mport = int(first_line(mm, "PORT ").split()[1])
        if MMSC_MODE == "down":
            import socket
            s0 = socket.socket()
            s0.bind(("127.0.0.1", 0))
            mport = s0.getsockname()[1]
            s0.close()  # nothing listens there: connection refused
        pic_url = "http://127.0.0.1:%d/files/t/pic.mms%s" % (mport, "?delay_ms=600000" if MMSC_MODE == "hang" else "")
        mmsc_conf = ("[mmsc]\nurl = http://127.0.0.1:%d/mms\nfetch_attempts = 1000\nfetch_retry_ms = 200\n"
                     % mport)
    conf = os.path.join(tmp, "b.ini")
    with open(conf, "w") as f:
        # import_existing: the warm-up message may reach the modem before the
        # daemon's first look at it, which would otherwise leave it there
        f.write("[modem]\nbackend = at\ndevice = %s\nimport_existing = yes\n[matrix]\nhomeserver = %s\ntoken_file = %s\n"
                "owners = @bob:localhost\nsync_timeout_ms = 30000\n%s[bridge]\nstore = %s\nregion = DE\n"
                % (link, HS, tok, mmsc_conf, os.path.join(tmp, "b.db")))
    daemon = subprocess.Popen([os.path.join(BUILD, "examples/pb-bridged/pb-bridged"), "-q", "-c", conf])
    procs.append(daemon)

    arrived = queue.Queue()
    since = [http("GET", "/_matrix/client/v3/sync?timeout=0", token=owner)["next_batch"]]

    def syncer():
        while True:
            try:
                r = http("GET", "/_matrix/client/v3/sync?timeout=10000&since=" + urllib.parse.quote(since[0]),
                         token=owner, timeout=30)
            except Exception:
                return
            now = time.monotonic()
            since[0] = r["next_batch"]
            for sect in ("join", "invite"):
                for rid, room in r.get("rooms", {}).get(sect, {}).items():
                    evs = room.get("timeline", {}).get("events", []) + room.get("invite_state", {}).get("events", [])
                    for e in evs:
                        if e.get("type") == "m.room.message":
                            arrived.put((e["content"].get("body"), now))
                        if sect == "invite" and e.get("type") == "m.room.member" and e.get("state_key") == "@bob:localhost":
                            try:
                                http("POST", "/_matrix/client/v3/join/" + urllib.parse.quote(rid), {}, owner)
                            except Exception:
                                pass
    threading.Thread(target=syncer, daemon=True).start()

    def deliver(text, n):
        at.stdin.write("deliver " + deliver7(PEER, text, n) + "\n")
        at.stdin.flush()

    def wait_body(body, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                b, t = arrived.get(timeout=1)
            except queue.Empty:
                continue
            if b == body:
                return t
        raise SystemExit("bench: %r never arrived" % body)

    n_pic = [0]

    def picture():
        """A picture message on the modem (its WAP push in SMS parts)."""
        n_pic[0] += 1
        push = subprocess.run([os.path.join(BUILD, "examples/pb-mms"), "encode", "notification", "--transaction-id",
                               "B%d" % n_pic[0], "--location", pic_url, "--from", PEER, "--size", "30000", "--push"],
                              capture_output=True, check=True).stdout
        for p in wap_push_parts(PEER, push, n_pic[0] & 0xFF, 90000 + n_pic[0]):
            at.stdin.write("deliver " + p + "\n")
        at.stdin.flush()

    # warm-up: the room gets created, the owner joins
    deliver("warm up", 1)
    wait_body("warm up")
    if pic_url:
        picture()
    time.sleep(1.0)
    idle = rss_kib(daemon.pid)
    idle_anon, idle_file, idle_pss = rss_kib(daemon.pid, "RssAnon"), rss_kib(daemon.pid, "RssFile"), pss_kib(daemon.pid)
    idle_libs = libraries(daemon.pid)
    keep_smaps(daemon.pid, "idle")
    lat = []
    for i in range(N_LAT):
        body = "latency %d" % i
        if pic_url and i and i % 20 == 0:
            picture()
        t0 = time.monotonic()
        deliver(body, 10 + i)
        lat.append((wait_body(body) - t0) * 1000)
    lat.sort()
    t0 = time.monotonic()
    peak = idle
    for i in range(N_BURST):
        deliver("burst %d" % i, 5000 + i)
    got = 0
    while got < N_BURST:
        b, t = arrived.get(timeout=120)
        if b and b.startswith("burst "):
            got += 1
        peak = max(peak, rss_kib(daemon.pid))
    rate = N_BURST / max(time.monotonic() - t0, 1e-6)
    hwm = rss_kib(daemon.pid, "VmHWM")
    load_pss = pss_kib(daemon.pid)
    keep_smaps(daemon.pid, "load")
    print(PREFIX + "latency_p50: %.1f ms" % lat[len(lat) // 2])
    print(PREFIX + "latency_p99: %.1f ms" % lat[min(len(lat) - 1, int(len(lat) * 0.99))])
    if MMSC_MODE != "none":
        print(PREFIX + "pictures_put: %d" % n_pic[0])
        sys.exit(0)
    print("bridge.burst_rate: %.1f messages/s" % rate)
    print("bridge.rss_idle: %.1f MiB" % (idle / 1024))
    print("bridge.rss_idle_anon: %.1f MiB" % (idle_anon / 1024))
    print("bridge.rss_idle_file: %.1f MiB" % (idle_file / 1024))
    print("bridge.pss_idle: %.1f MiB" % (idle_pss / 1024))
    print("bridge.libraries_idle: %d libraries" % idle_libs)
    # the floor: libcurl alone, one request to the same homeserver
    floor = os.path.join(BUILD, "bench", "bench-rss-floor")
    if os.path.exists(floor):
        out = subprocess.run([floor, HS + "/_matrix/client/versions"], capture_output=True, text=True,
                             check=True).stdout
        sys.stdout.write(out.replace("floor.", "bridge.floor_libcurl_"))
    print("bridge.rss_load_peak: %.1f MiB" % (max(peak, hwm) / 1024))
    print("bridge.pss_after_load: %.1f MiB" % (load_pss / 1024))
finally:
    for p in reversed(procs):
        if p.poll() is None:
            if p.stdin:
                p.stdin.close()
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    shutil.rmtree(tmp, ignore_errors=True)
