#!/usr/bin/python3
# libphonebridge tests — voicemail end to end (issue 20): a Net::SIP caller
# on the allow list calls pb-screend, the Net::SIP callee (the forward
# target) lets it ring out, pb-screend answers with the greeting and a
# beep, the caller speaks (a 440 Hz tone, 5 s) and hangs up; pb-screend
# stores the message in the store it shares with pb-bridged, which posts
# it as m.audio in the caller's room (created for it) — homeserver
# emulator, or under tests/synapse.py a real Synapse. The bytes are fetched
# back from the homeserver and decoded: WAV by Python's wave module, Ogg
# Opus by opusdec (opus-tools). pb-bridged SIGKILLed while it posts (the
# emulator holds the send), and a crash between the post and the journal's
# "delivered": the message appears once. A robocaller (a failed challenge)
# and a deny-listed caller never reach voicemail; a caller that passed its
# challenge does. '#' ends a message.
# Standard library only; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: voicemail-test.py PATH/TO/pb-bridged PATH/TO/pb-screend
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bridge_env  # noqa: E402
from bridge_env import (ROOT, AtModem, Daemon, Screend, Tap, bridge_config, finish,  # noqa: E402
                        free_udp_port, make_homeserver, need_net_sip, secret_file, shared_store, sip_call,
                        sip_perl, wait_for)

BRIDGED, SCREEND = sys.argv[1], sys.argv[2]
CALLER = "+4915177778888"
NEWCOMER = "+4915177779999"  # on no list: passes the challenge, then nobody answers
ROBOT = "+4918001234567"
DENIED = "+4915200000001"

tap = Tap()
ok = tap.ok
for need, pkg in (("sox", "sox"), ("opusdec", "opus-tools")):
    if not shutil.which(need):
        print("1..0 # SKIP %s is not installed (Debian package %s)" % (need, pkg))
        sys.exit(0)
need_net_sip()


tmp = tempfile.mkdtemp(prefix="pb-voicemail-test-")
store = shared_store(tmp)  # as /var/lib/phonebridge/phone.db: 2770, one group
tone = os.path.join(tmp, "tone.ul")  # what the caller says: 5 s of 440 Hz, raw mu-law
subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", tone, "synth", "5", "sine", "440",
                "vol", "0.5"], check=True)
homeserver = make_homeserver()
modem = AtModem(tmp, "modem")
bot_token = homeserver.login("alice", "wonderland")
token_file = secret_file(os.path.join(tmp, "matrix.token"), bot_token)
config = bridge_config(os.path.join(tmp, "bridge.ini"), modem.config(), homeserver.url, token_file, store,
                       "retry_max_ms = 250")
bridged = Daemon(BRIDGED, tmp, config)

callee_port = free_udp_port()
screend_conf = os.path.join(tmp, "pb-screend.conf")


def write_screend_conf(fmt):
    with open(screend_conf, "w") as f:
        f.write("[sip]\nlisten = 127.0.0.1\nport = 0\nallow = 127.0.0.1\n"
                "[forward]\nmode = bridge\ntarget = sip:target@127.0.0.1:%d\ntimeout = 2\n"
                "[screen]\nprompts = %s\nmax-duration = 40\n"
                "[store]\npath = %s\n"
                "[voicemail]\nenabled = yes\non = timeout,busy\nmax-seconds = 30\nsilence-seconds = 4\n"
                "format = %s\n"
                "[policy]\nregion = DE\nchallenge = press-digit\nchallenge-params = digit=6 tries=1 timeout=3\n"
                "[log]\nlevel = info\n" % (callee_port, os.path.join(ROOT, "data/prompts"), store, fmt))


write_screend_conf("wav")
screend = callee = None


def db_rows(sql, *args):
    return bridge_env.db_rows(store, sql, *args)


def room_of(name):
    for rid, evs in homeserver.stats()["events"].items():
        if any(e["type"] == "m.room.name" and e["content"].get("name") == name for e in evs):
            return rid
    return None


def audios(name):
    """The m.audio events in the room named @name (number of the caller)."""
    rid = room_of(name)
    evs = homeserver.stats()["events"].get(rid, []) if rid else []
    return [e["content"] for e in evs if e["type"] == "m.room.message" and e["content"].get("msgtype") == "m.audio"]


def download(mxc):
    server, mid = urllib.parse.urlparse(mxc).netloc, urllib.parse.urlparse(mxc).path.lstrip("/")
    req = urllib.request.Request("%s/_matrix/media/v3/download/%s/%s" % (homeserver.url, server, mid))
    req.add_header("Authorization", "Bearer " + bot_token)
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


def wav_seconds(data):
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate(), w.getframerate(), w.getnchannels()


def speak(port):
    """The allow-listed caller leaves a message after the beep: 5 s of tone."""
    return sip_call(port, CALLER, "--play", tone, "--play-after-silence", "40", "--bye-after-play", "0.2",
                "--hold", "60")


def voicemail_rows():
    # pb-screend writes "screen:voicemail"; pb-bridged, when it takes the row, keeps
    # the kind in its table and the backend "screen" (docs/bridge.md "Store layout")
    return db_rows("SELECT id, state, peer, body FROM messages WHERE backend IN ('screen:voicemail', 'screen') ORDER BY id")


try:
    bridged.start()
    callee, callee_out = sip_perl("callee.pl", "--port", str(callee_port), "--noanswer")
    ok(callee_out.get("listening", 30) is not None, "the Net::SIP callee (forward target) listens, never answers")
    screend = Screend(SCREEND, screend_conf)
    port = screend.ready()
    ok(port > 0, "pb-screend is ready on the shared store with voicemail on (port %d)" % port)
    subprocess.run([SCREEND, "-c", screend_conf, "allow", CALLER], check=True, capture_output=True)
    subprocess.run([SCREEND, "-c", screend_conf, "deny", DENIED], check=True, capture_output=True)

    # --- screened-out callers never reach voicemail ------------------------------
    out = sip_call(port, ROBOT, "--hold", "8")
    ok("bye-received" in out, "a robocaller (no digit) is hung up on after its challenge: %s" % out)
    out = sip_call(port, DENIED, "--hold", "2")
    ok("final 603" in out, "a deny-listed caller is refused (603): %s" % out)
    rows = wait_for(lambda: len(db_rows("SELECT id FROM calls")) >= 2 and
                    db_rows("SELECT caller, ended FROM calls ORDER BY id"), "both calls in the log", 30)
    ok(rows and all("voicemail" not in (r[1] or "") for r in rows) and voicemail_rows() == [],
       "neither reached voicemail: no journal row, the log says %r" % rows)

    # --- an allow-listed caller nobody answers leaves a message ------------------
    out = speak(port)
    ok("final 200" in out and "playing" in out,
       "the caller is answered by pb-screend when the target rings out, hears the greeting and the beep: %s" % out)
    ok(callee_out.get("invite from=", 30) is not None, "the forward target was rung first")
    rows = wait_for(voicemail_rows, "the voicemail in the journal", 30)
    ok(rows and rows[0][2] == CALLER and rows[0][3].startswith("duration_ms="),
       "pb-screend stored the message as an inbound journal row: %r" % rows)
    log = wait_for(lambda: [r for r in db_rows("SELECT caller, ended, sip_status FROM calls") if r[0] == CALLER],
                   "the call log")
    ok(log and log[-1][1] == "voicemail" and log[-1][2] == 200, "the call log says it ended in voicemail: %r" % log)
    got = wait_for(lambda: audios(CALLER), "the m.audio in the caller's room", 60)
    ok(got and len(got) == 1, "an m.audio in the caller's room, created for it: %r" % got)
    a = got[0] if got else {}
    info = a.get("info", {})
    ok(a.get("body", "").startswith("Voicemail from +49 15177778888,") and info.get("mimetype") == "audio/wav",
       "named after the caller, audio/wav: %r" % a.get("body"))
    ms = info.get("duration", 0)
    ok(4500 <= ms <= 7000, "its info.duration is about 5 s: %d ms" % ms)
    data = download(a["url"]) if a.get("url") else b""
    secs, rate, ch = wav_seconds(data) if data else (0, 0, 0)
    ok(len(data) == info.get("size") and rate == 8000 and ch == 1 and abs(secs * 1000 - ms) < 30,
       "its bytes decode as 8 kHz mono WAV of that length (%.2f s, %d bytes)" % (secs, len(data)))
    ok(wait_for(lambda: voicemail_rows()[0][1] == 3, "delivered"), "the journal row is delivered")
    notices = [e["content"].get("body", "") for e in homeserver.stats()["events"].get(room_of(CALLER), [])
               if e["type"] == "m.room.message" and e["content"].get("msgtype") == "m.notice"]
    ok(not any("Missed call" in n for n in notices), "no missed-call notice besides the m.audio: %r" % notices)

    # --- a crash between the post and "delivered": once ----------------------------
    bridged.kill()
    db = sqlite3.connect(store)
    db.execute("UPDATE messages SET state = 2 WHERE backend IN ('screen:voicemail', 'screen')")
    db.commit()
    db.close()
    bridged.start()
    ok(wait_for(lambda: all(r[1] == 3 for r in voicemail_rows()), "delivered again"),
       "restarted with the row not yet delivered: posted again")
    ok(len(audios(CALLER)) == 1, "the same transaction id: the m.audio once (%d)" % len(audios(CALLER)))

    # --- Ogg Opus, and pb-bridged killed while it posts it ------------------------
    write_screend_conf("opus")
    screend.proc.send_signal(signal.SIGHUP)
    line = ""
    try:
        while "configuration reloaded" not in line:
            line = screend.out.get("", 30)
    except RuntimeError:
        pass
    ok("configuration reloaded" in line, "pb-screend reloaded: format = opus")

    def posts():
        return sum(v for k, v in homeserver.stats()["counts"].items() if "/send/m.room.message/pbin" in k)

    posted_before = posts() if homeserver.faults else 0
    if homeserver.faults:
        # the emulator holds the m.audio's send for 4 s (and then carries it out)
        homeserver.http("POST", "/_test/fault", {"kind": "slow", "delay_ms": 4000, "path": "/send/m.room.message/pbin"})
    out = speak(port)
    ok("final 200" in out and "playing" in out, "a second message: %s" % out)
    if homeserver.faults:
        posting = wait_for(lambda: posts() > posted_before, "the second post", 60)
        bridged.kill()
        ok(posting and voicemail_rows()[-1][1] == 2,
           "pb-bridged SIGKILLed while the homeserver holds its post (the row not delivered)")
        # the emulator carries the held send out on its own
        ok(wait_for(lambda: len(audios(CALLER)) >= 2, "the held post carried out", 30),
           "... which the homeserver then carried out")
        bridged.start()
    got = wait_for(lambda: len(voicemail_rows()) == 2 and voicemail_rows()[1][1] == 3 and audios(CALLER),
                   "the second voicemail delivered", 90)
    got = audios(CALLER)
    ok(len(got) == 2, "two messages, each once, in the caller's room (%d)" % len(got))
    a = got[-1] if got else {}
    ok(a.get("info", {}).get("mimetype") == "audio/ogg", "the second is Ogg: %r" % a.get("info"))
    data = download(a["url"]) if a.get("url") else b""
    ogg = os.path.join(tmp, "vm.ogg")
    with open(ogg, "wb") as f:
        f.write(data)
    dec = subprocess.run(["opusdec", "--rate", "8000", ogg, os.path.join(tmp, "vm.wav")], capture_output=True)
    secs = 0
    if dec.returncode == 0:
        with open(os.path.join(tmp, "vm.wav"), "rb") as f:
            secs = wav_seconds(f.read())[0]
    ok(dec.returncode == 0 and 4.5 <= secs <= 7.0 and abs(secs * 1000 - a["info"]["duration"]) < 100,
       "opusdec decodes it: %.2f s (%s)" % (secs, (dec.stderr.decode(errors="replace").strip().splitlines()
                                                   or ["-"])[-1]))

    # --- a caller that passed its challenge reaches voicemail too ---------------
    out = sip_call(port, NEWCOMER, "--dtmf", "6", "--wait-before-dtmf", "1", "--play", tone, "--play-after-silence",
               "40", "--bye-after-play", "0.2", "--hold", "60")
    ok("final 200" in out and "playing" in out,
       "a caller on no list presses 6, rings out, hears the greeting: %s" % out)
    got = wait_for(lambda: audios(NEWCOMER), "the newcomer's voicemail", 60)
    ok(got and len(got) == 1 and got[0].get("info", {}).get("mimetype") == "audio/ogg",
       "its message in its own room, created for it: %r" % [g.get("body") for g in (got or [])])
    log = [r for r in db_rows("SELECT caller, challenge, ended FROM calls") if r[0] == NEWCOMER]
    ok(log and log[-1][1:] == ("press-digit:passed", "voicemail"), "logged: challenge passed, voicemail: %r" % log)

    # --- '#' ends a message ------------------------------------------------------
    out = sip_call(port, CALLER, "--play", tone, "--play-after-silence", "40", "--digit-while-playing", "#",
                   "--digit-after", "2", "--hold", "60")
    ok("playing" in out and "bye-received" in out, "'#' 2 s into the message: pb-screend hangs up: %s" % out)
    got = wait_for(lambda: len(audios(CALLER)) == 3 and audios(CALLER), "the third message", 60)
    ms = got[-1].get("info", {}).get("duration", 0) if got else 0
    ok(1500 <= ms <= 4000, "the message ends at the '#' (%d ms, of 5 s the caller would have said)" % ms)
except Exception as e:  # a crash of the test is a failure, with the daemons' logs
    ok(False, "test body raised %r" % e)
finally:
    if screend is not None:
        screend.stop(tap.failed)
    if callee is not None:
        callee.terminate()
        callee.wait(10)
    sys.exit(finish(tap, bridged, [modem.proc, getattr(homeserver, "proc", None)], tmp))
