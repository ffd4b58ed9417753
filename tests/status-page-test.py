#!/usr/bin/python3
# libphonebridge tests — the daemons' status page in a real browser (issue
# 23): pb-screend with a store shared with the bridge (calls in its log,
# messages in the journal on known days) serves its page; headless Chromium
# takes a screenshot (a valid PNG of the window's size) and dumps the DOM
# it built (the counts per day in their cells, the inline SVG plot with a
# bar per day and series, no external resource). Skips, saying why, only
# when chromium is not installed. Prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: status-page-test.py PATH/TO/pb-screend
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import ROOT, Tap, free_port, wait_for  # noqa: E402

SCREEND = sys.argv[1]
W, H = 900, 700
tap = Tap()
ok = tap.ok

chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if not chromium:
    print("1..0 # SKIP chromium is not installed (Debian package chromium; tools/bootstrap installs it)")
    sys.exit(0)

tmp = tempfile.mkdtemp(prefix="pb-status-page-")
port = free_port()
base = "http://127.0.0.1:%d" % port
store = os.path.join(tmp, "shared.db")
conf = os.path.join(tmp, "screend.conf")
with open(conf, "w") as f:
    f.write("[sip]\nlisten = 127.0.0.1\nport = 0\nallow = 127.0.0.1\n"
            "[forward]\nmode = redirect\ntarget = sip:owner@127.0.0.1\n"
            "[screen]\nprompts = %s\n[store]\npath = %s\n[http]\nlisten = 127.0.0.1:%d\n"
            % (os.path.join(ROOT, "data/prompts"), store, port))
log = open(os.path.join(tmp, "screend.log"), "w")
screend = subprocess.Popen([SCREEND, "-c", conf, "run"], stdout=log, stderr=log)


def answers():
    try:
        with urllib.request.urlopen(base + "/health", timeout=10):
            return True
    except OSError as e:
        return getattr(e, "code", None) == 503


ok(wait_for(answers, "pb-screend's endpoint", 60), "pb-screend serves its endpoint")


def midnight(days_ago):
    """Local midnight @days_ago days before today, in ms, and its date."""
    t = time.localtime()
    m = time.mktime((t.tm_year, t.tm_mon, t.tm_mday - days_ago, 0, 0, 0, 0, 0, -1))
    return int(m * 1000), time.strftime("%Y-%m-%d", time.localtime(m))


# the store the screener made: calls as it logs them, messages as the bridge journals them
# (the journal row, and its kind in the bridge's table: docs/bridge.md "Store layout")
calls = {1: 3, 5: 1, 0: 2}          # days ago -> calls
msgs_in = {1: 2, 3: 4}              # inbound rows delivered (a modem's texts)
msgs_out = {1: 1}                   # outbound rows sent
db = sqlite3.connect(store, timeout=30)
with db:
    db.execute("CREATE TABLE IF NOT EXISTS bridge_msg_kind (msg_id INTEGER PRIMARY KEY "
               "REFERENCES messages (id) ON DELETE CASCADE, kind TEXT NOT NULL)")

    def journal(dir_, state, key, backend, kind, t):
        c = db.execute("INSERT INTO messages (dir, state, dedup_key, backend, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (dir_, state, key, backend, t, t))
        db.execute("INSERT INTO bridge_msg_kind (msg_id, kind) VALUES (?, ?)", (c.lastrowid, kind))

    for ago, n in calls.items():
        t0, _ = midnight(ago)
        for i in range(n):
            db.execute("INSERT INTO calls (at, caller, verdict) VALUES (?, ?, ?)",
                       (t0 + 3600000 * (i + 1), "+4930123456%d" % i, "challenge"))
    k = 0
    for ago, n in msgs_in.items():
        t0, _ = midnight(ago)
        for i in range(n):
            k += 1
            journal(1, 3, "k%d" % k, "at", "text", t0 + 60000)
    # a delivery report and a notice delivered the same day do not count as messages
    t0, _ = midnight(1)
    journal(1, 3, "r1", "at", "report", t0 + 1)
    journal(1, 3, "n1", "bridge", "notice", t0 + 1)
    for ago, n in msgs_out.items():
        t0, _ = midnight(ago)
        for i in range(n):
            k += 1
            journal(2, 6, "o%d" % k, "matrix", "text", t0 + 7200000)
db.close()


def browser(*args):
    # as root (CI's containers) Chromium refuses its sandbox
    sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []
    return subprocess.run([chromium, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                           "--user-data-dir=" + os.path.join(tmp, "profile")] + sandbox + list(args),
                          capture_output=True, timeout=180)


shot = os.path.join(tmp, "status.png")
r = browser("--screenshot=" + shot, "--window-size=%d,%d" % (W, H), base + "/")
png = open(shot, "rb").read() if os.path.exists(shot) else b""
valid = png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
size = struct.unpack(">II", png[16:24]) if valid else None
ok(valid and size == (W, H), "chromium --screenshot: a valid PNG of %dx%d (%s, %d bytes)" % (W, H, size, len(png)))
if not valid:
    print("# " + r.stderr.decode(errors="replace")[-800:].replace("\n", "\n# "))

r = browser("--dump-dom", base + "/")
dom = r.stdout.decode(errors="replace")
ok(r.returncode == 0 and "<svg" in dom and 'id="plot"' in dom, "chromium --dump-dom: the page with its inline SVG plot")


def cell(date, series):
    m = re.search(r'id="day-%s-%s">(\d+)<' % (date, series), dom)
    return int(m.group(1)) if m else None


want = True
for ago in range(0, 7):
    _, date = midnight(ago)
    a, b = calls.get(ago, 0), msgs_in.get(ago, 0) + msgs_out.get(ago, 0)
    if cell(date, "a") != a or cell(date, "b") != b:
        want = False
        print("# %s: calls %s (want %d), messages %s (want %d)" % (date, cell(date, "a"), a, cell(date, "b"), b))
ok(want, "the DOM has the calls screened and messages bridged of each day")
_, date = midnight(1)
ok(re.search(r"<title>%s calls screened: 3</title>" % date, dom) is not None and
   re.search(r"<title>%s messages bridged: 3</title>" % date, dom) is not None,
   "the plot's bars carry the same numbers")
ok(len(re.findall(r'<rect class="a"', dom)) == 14 and len(re.findall(r'<rect class="b"', dom)) == 14,
   "a bar per day and series, 14 days")
ok(not re.search(r'(src|href)="(https?:)?//', dom), "no external resource")
ok('id="health" class="ok"' in dom and "registration" in dom, "the current health is on the page")

screend.terminate()
screend.wait(60)
log.close()
if tap.failed:
    with open(os.path.join(tmp, "screend.log")) as f:
        print("# " + f.read()[-2000:].replace("\n", "\n# "))
else:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(tap.done())
