#!/usr/bin/python3
# libphonebridge tests — both daemons on one store (issue 20): pb-bridged
# (AT modem emulator, homeserver emulator or, under tests/synapse.py, a real
# Synapse) and pb-screend (real SIP: Net::SIP caller and callee) share one
# SQLite store in a setgid group directory, the installed layout in
# miniature. Changes made in Matrix decide the very next call, with no
# reload: "!deny NUMBER" in the control room -> the next call from that
# number is rejected (603, rule deny-list); "!allow NUMBER" -> the next call
# rings the forward target at once; "!calls" shows both from pb-screend's log.
# Standard library only; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: calls-test.py PATH/TO/pb-bridged PATH/TO/pb-screend
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bridge_env import (ROOT, AtModem, Daemon, Lines, Tap, bridge_config,  # noqa: E402
                        finish, make_homeserver, secret_file, wait_for)

BRIDGED, SCREEND = sys.argv[1], sys.argv[2]
CALLER = "+4915177778888"
SIP = os.path.join(ROOT, "tests/sip")

tap = Tap()
ok = tap.ok
if subprocess.run(["perl", "-MNet::SIP", "-e", "1"], capture_output=True).returncode != 0:
    print("1..0 # SKIP Net::SIP is not installed (Debian package libnet-sip-perl)")
    sys.exit(0)


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def perl(script, *args):
    p = subprocess.Popen(["perl", os.path.join(SIP, script)] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p, Lines(p.stdout)


tmp = tempfile.mkdtemp(prefix="pb-calls-test-")
shared = os.path.join(tmp, "phonebridge")  # as /var/lib/phonebridge: 2770, one group
os.mkdir(shared)
os.chmod(shared, 0o2770)
store = os.path.join(shared, "phone.db")
homeserver = make_homeserver()
modem = AtModem(tmp, "modem")
owner_token = homeserver.login("bob", "builder")
token_file = secret_file(os.path.join(tmp, "matrix.token"), homeserver.login("alice", "wonderland"))
config = bridge_config(os.path.join(tmp, "bridge.ini"), modem.config(), homeserver.url, token_file, store,
                       "retry_max_ms = 250")
bridged = Daemon(BRIDGED, tmp, config)

callee_port = free_udp_port()
screend_conf = os.path.join(tmp, "pb-screend.conf")
with open(screend_conf, "w") as f:
    f.write("[sip]\nlisten = 127.0.0.1\nport = 0\nallow = 127.0.0.1\n"
            "[forward]\nmode = bridge\ntarget = sip:target@127.0.0.1:%d\n"
            "[screen]\nprompts = %s\nmax-duration = 40\n"
            "[store]\npath = %s\n"
            "[policy]\nregion = DE\nchallenge = press-digit\nchallenge-params = digit=6 tries=1 timeout=4\n"
            "[log]\nlevel = info\n" % (callee_port, os.path.join(ROOT, "data/prompts"), store))
screend = callee = screend_out = None


def call(port, caller):
    """A Net::SIP call from @caller; its output lines."""
    p, out = perl("caller.pl", "--to", "sip:screen@127.0.0.1:%d" % port, "--from",
                  "sip:%s@127.0.0.1" % caller, "--hold", "1")
    lines = []
    try:
        while not lines or not lines[-1].startswith("done"):
            lines.append(out.get("", 60))
    except RuntimeError:
        lines.append("(no more lines within 60 s)")
    p.wait(30)
    return lines


def calls_rows():
    db = sqlite3.connect(store)
    rows = db.execute("SELECT caller, verdict, rule, sip_status FROM calls ORDER BY id").fetchall()
    db.close()
    return rows


try:
    bridged.start()
    callee, callee_out = perl("callee.pl", "--port", str(callee_port))
    ok(callee_out.get("listening", 30) is not None, "the Net::SIP callee (forward target) listens")
    screend = subprocess.Popen([SCREEND, "-c", screend_conf], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    screend_out = Lines(screend.stdout)
    ready = screend_out.get("", 30)
    while "pb-screend ready on" not in ready:
        ready = screend_out.get("", 30)
    port = int(ready.rsplit(":", 1)[1])
    ok(port > 0, "pb-screend is ready on the same store (port %d)" % port)

    ctl_room = wait_for(lambda: next((rid for rid, evs in homeserver.stats()["events"].items()
                                      if any(e["type"] == "m.room.name" and e["content"].get("name") == "Phone bridge"
                                             for e in evs)), None), "the control room")
    ok(ctl_room is not None, "the control room exists")

    def notices():
        return [c.get("body", "") for rid, c in homeserver.bot_messages()
                if rid == ctl_room and c.get("msgtype") == "m.notice"]

    def command(text, txn):
        homeserver.owner_says(owner_token, ctl_room, txn, text)

    # --- the installed layout: one store, group modes --------------------------
    mode = stat.S_IMODE(os.stat(store).st_mode)
    ok(mode == 0o660, "the shared store is mode 0660 in a 2770 directory (%o)" % mode)

    # --- !deny in Matrix: the very next call is rejected ------------------------
    command("!deny 0151 7777 8888", "d1")
    ok(wait_for(lambda: any(CALLER + " is on the deny list" in n for n in notices()), "the !deny answer"),
       "!deny 0151 7777 8888 answers with the normalised number")
    out = call(port, CALLER)
    ok("final 603" in out, "the very next call from it is rejected by pb-screend (603): %s" % out)
    rows = wait_for(lambda: [r for r in calls_rows() if r[0] == CALLER] or None, "the call in the log", 30)
    ok(rows and rows[-1][1:] == ("reject", "deny-list", 603), "logged by pb-screend: reject by deny-list")

    # --- !allow in Matrix: the next call rings the target at once ---------------
    command("!allow +49 151 7777 8888 test caller", "a1")
    ok(wait_for(lambda: any(CALLER + " is on the allow list (test caller)" in n for n in notices()),
                "the !allow answer"), "!allow NUMBER note answers")
    out = call(port, CALLER)
    ok("final 200" in out, "the next call is forwarded without a challenge: %s" % out)
    ok(callee_out.get("invite from=", 30) is not None, "the forward target got the call")
    rows = wait_for(lambda: len([r for r in calls_rows() if r[0] == CALLER]) >= 2 and calls_rows(), "the log", 30)
    ok(rows and rows[-1][:3] == (CALLER, "accept", "allow-list"), "logged: accept by allow-list")

    # --- !calls shows pb-screend's log in Matrix ---------------------------------
    command("!calls 5", "c1")
    got = wait_for(lambda: next((n for n in notices() if n.startswith("The last")), None), "the !calls answer")
    ok(got and "accept by allow-list" in got and "reject by deny-list" in got,
       "!calls lists both calls with their verdicts")
    command("!list", "l1")
    ok(wait_for(lambda: any("Allow list, page 1 of 1 (1 number):\n%s (manual) test caller" % CALLER in n
                            for n in notices()), "the !list answer"), "!list shows the number with its note")
except Exception as e:  # a crash of the test is a failure, with the daemons' logs
    ok(False, "test body raised %r" % e)
finally:
    if screend is not None:
        screend.terminate()
        try:
            screend.wait(30)
        except subprocess.TimeoutExpired:
            screend.kill()
            screend.wait()
        if tap.failed and screend_out is not None:
            while not screend_out.q.empty():
                print("# screend: " + screend_out.q.get())
    if callee is not None:
        callee.terminate()
        callee.wait(10)
    sys.exit(finish(tap, bridged, [modem.proc, getattr(homeserver, "proc", None)], tmp))
