#!/usr/bin/python3
# libphonebridge tests — per-number voicemail (issue 25 follow-up): the
# numbers table's voicemail column is "record" (the local recorder, not
# the configured [forward] fallback), "off" (neither) or a voicemail
# server's SIP URI (that server instead of the fallback, no local
# recording); a number without a row keeps the configuration. An
# allow-listed Net::SIP caller calls each own number; the forward target
# (a Net::SIP callee) never answers; the fallback and the voicemail server
# are two answering callees. `numbers set` refuses a value that is none of
# these, "record" on a screener without [voicemail] enabled, and check
# refuses [voicemail] enabled with a PostgreSQL store (exit 78).
# Standard library only; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: voicemail-numbers-test.py PATH/TO/pb-screend
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bridge_env import (ROOT, Screend, Tap, db_rows, free_udp_port, need_net_sip, sip_call, sip_perl, stop,  # noqa: E402
                        wait_for)

SCREEND = sys.argv[1]
CALLER = "+4915177778888"
OWN_DEFAULT, OWN_RECORD, OWN_OFF, OWN_SERVER = "+493011110001", "+493011110002", "+493011110003", "+493011110004"

tap = Tap()
ok = tap.ok
if not shutil.which("sox"):
    print("1..0 # SKIP sox is not installed (Debian package sox)")
    sys.exit(0)
need_net_sip()

tmp = tempfile.mkdtemp(prefix="pb-vm-numbers-test-")
store = os.path.join(tmp, "screen.db")
tone = os.path.join(tmp, "tone.ul")
subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", tone, "synth", "3", "sine", "440",
                "vol", "0.5"], check=True)
target_port, fallback_port, server_port = free_udp_port(), free_udp_port(), free_udp_port()


def conf(name, voicemail=True, store_line="path = %s" % store):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("[sip]\nlisten = 127.0.0.1\nport = 0\nallow = 127.0.0.1\n"
                "[forward]\nmode = bridge\ntarget = sip:target@127.0.0.1:%d\n"
                "fallback = sip:fallback@127.0.0.1:%d\ntimeout = 2\n"
                "[screen]\nprompts = %s\nmax-duration = 40\n"
                "[store]\n%s\n"
                "[voicemail]\nenabled = %s\nmax-seconds = 30\nsilence-seconds = 3\n"
                "[policy]\nregion = DE\nchallenge = press-digit\nchallenge-params = digit=6 tries=1 timeout=3\n"
                "[log]\nlevel = info\n" % (target_port, fallback_port, os.path.join(ROOT, "data/prompts"),
                                           store_line, "yes" if voicemail else "no"))
    return path


screend_conf = conf("pb-screend.conf")


def cli(*args, config=screend_conf):
    return subprocess.run([SCREEND, "-c", config] + list(args), capture_output=True, text=True)


def said(r):
    """The last line a command printed (a TAP description is one line)."""
    lines = ((r.stderr + r.stdout) if r.returncode == 0 else (r.stdout + r.stderr)).strip().splitlines()
    return lines[-1] if lines else ""


def call(own, *args):
    return sip_call(port, CALLER, *args, to=own)


def journal():
    # pb-screend writes "screen:voicemail"; pb-bridged, when it takes the row, keeps
    # the kind in its table and the backend "screen" (docs/bridge.md "Store layout")
    return db_rows(store, "SELECT peer FROM messages WHERE backend IN ('screen:voicemail', 'screen')")


def invites(lines):
    """How many INVITEs a callee has printed so far (its Lines drained)."""
    n = 0
    try:
        while True:
            if lines.get("", 0.2).startswith("invite from="):
                n += 1
    except RuntimeError:
        return n


def log_of():
    return db_rows(store, "SELECT called, ended FROM calls ORDER BY id")


screend = None
procs = []
try:
    # --- what numbers set accepts ---------------------------------------------
    r = cli("numbers", "set", OWN_RECORD, "--voicemail", "record")
    ok(r.returncode == 0, "numbers set --voicemail record with [voicemail] enabled: %s" % said(r))
    r = cli("numbers", "set", OWN_OFF, "--voicemail", "off")
    ok(r.returncode == 0, "numbers set --voicemail off: %s" % said(r))
    r = cli("numbers", "set", OWN_SERVER, "--voicemail", "sip:vm@127.0.0.1:%d" % server_port)
    ok(r.returncode == 0, "numbers set --voicemail sip:...: %s" % said(r))
    for bad in ("recorded", "ftp://vm.example.org", "sip:", "sip:a@b, sip:c@d"):
        r = cli("numbers", "set", "+493011119999", "--voicemail", bad)
        ok(r.returncode == 1 and "expected record, off or a SIP URI" in r.stderr,
           "--voicemail %r is refused, saying what is expected: %s" % (bad, r.stderr.strip()))
    r = cli("numbers", "set", "+493011119999", "--voicemail", "record", config=conf("novm.conf", voicemail=False))
    ok(r.returncode == 1 and "[voicemail] enabled is not yes" in r.stderr,
       "record on a screener without [voicemail] enabled is refused: %s" % r.stderr.strip())
    r = cli("numbers", "show", "+493011119999")
    ok(r.returncode != 0 and "+493011119999" not in r.stdout, "nothing refused was stored")
    pg = conf("pg.conf", store_line="url = postgresql://screen@127.0.0.1/phonebridge")
    r = cli("check", config=pg)
    ok(r.returncode == 78 and "PostgreSQL store has no journal for recordings" in r.stderr + r.stdout,
       "[voicemail] enabled with a PostgreSQL store: check refuses it (78): %s" % said(r))
    r = subprocess.run([SCREEND, "-c", pg], capture_output=True, text=True, timeout=60)
    ok(r.returncode == 78 and "PostgreSQL store has no journal" in r.stderr + r.stdout,
       "and so does run (78), before it connects")

    # --- the calls -----------------------------------------------------------
    target, target_out = sip_perl("callee.pl", "--port", str(target_port), "--noanswer")
    fallback, fallback_out = sip_perl("callee.pl", "--port", str(fallback_port), "--hangup-after", "1")
    server, server_out = sip_perl("callee.pl", "--port", str(server_port), "--hangup-after", "1")
    procs = [target, fallback, server]
    ok(all(o.get("listening", 30) is not None for o in (target_out, fallback_out, server_out)),
       "the target (never answers), the fallback and the voicemail server listen")
    screend = Screend(SCREEND, screend_conf)
    port = screend.ready()
    ok(port > 0, "pb-screend is ready (port %d)" % port)
    ok(cli("allow", CALLER).returncode == 0, "the caller is on the allow list")

    out = call(OWN_DEFAULT, "--hold", "5")
    ok("final 200" in out and invites(fallback_out) == 1 and invites(server_out) == 0,
       "a number without a row: the configured fallback answers: %s" % out)
    out = call(OWN_RECORD, "--play", tone, "--play-after-silence", "40", "--bye-after-play", "0.2", "--hold", "60")
    ok("final 200" in out and "playing" in out, "voicemail = record: greeting and beep from pb-screend: %s" % out)
    ok(wait_for(lambda: len(journal()) == 1, "the recording", 30) and invites(fallback_out) == 0,
       "recorded into the journal, the fallback not rung: %r" % journal())
    out = call(OWN_OFF, "--hold", "5")
    ok("final 200" not in out and any(x.startswith("final ") for x in out),
       "voicemail = off: the caller gets the failure: %s" % out)
    ok(invites(fallback_out) == 0 and invites(server_out) == 0 and len(journal()) == 1,
       "neither the fallback nor a recording")
    out = call(OWN_SERVER, "--hold", "5")
    ok("final 200" in out and invites(server_out) == 1 and invites(fallback_out) == 0,
       "voicemail = a SIP URI: that server answers, not the fallback: %s" % out)
    ok(len(journal()) == 1, "and nothing is recorded locally")
    ok(invites(target_out) == 4, "the forward target was rung for every call")
    log = wait_for(lambda: len(log_of()) >= 4 and log_of(), "the call log", 30) or []
    ended = [e or "" for _, e in log]
    ok(len(ended) == 4 and ended[0] == "forwarded" and ended[1] == "voicemail" and
       ended[2].startswith("forward failed") and ended[3] == "forwarded", "the call log says so: %r" % log)
except Exception as e:  # a crash of the test is a failure, with the daemon's log
    ok(False, "test body raised %r" % e)
finally:
    if screend is not None:
        screend.stop(tap.failed)
    for p in procs:
        stop(p)
status = tap.done()
if status == 0:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(status)
