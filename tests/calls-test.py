#!/usr/bin/python3
# libphonebridge tests — both daemons on one store (issue 20): pb-bridged
# (AT modem emulator, homeserver emulator or, under tests/synapse.py, a real
# Synapse) and pb-screend (real SIP: Net::SIP caller and callee) share one
# SQLite store in a setgid group directory, the installed layout in
# miniature. Changes made in Matrix decide the very next call, with no
# reload: "!deny NUMBER" in the control room -> the next call from that
# number is rejected (603, rule deny-list); "!allow NUMBER" -> the next call
# rings the forward target at once; "!calls" shows both from pb-screend's log.
# pb-bridged follows the call log: a robocaller (a failed challenge) lands in
# the daily digest in the control room, an answered call is "Call, N s" and
# a missed one "Missed call" in the caller's room (created for it); a
# crash between a notice and its cursor, and SIGKILLs of pb-bridged, post
# nothing twice.
# Standard library only; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: calls-test.py PATH/TO/pb-bridged PATH/TO/pb-screend
import os
import sqlite3
import stat
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bridge_env import (ROOT, AtModem, Daemon, Screend, Tap, bridge_config, control_room, db_rows,  # noqa: E402
                        finish, free_udp_port, make_homeserver, need_net_sip, room_notices, secret_file,
                        shared_store, sip_call, sip_perl, wait_for)

BRIDGED, SCREEND = sys.argv[1], sys.argv[2]
CALLER = "+4915177778888"
ROBOT = "+4918001234567"

tap = Tap()
ok = tap.ok
need_net_sip()


tmp = tempfile.mkdtemp(prefix="pb-calls-test-")
store = shared_store(tmp)  # as /var/lib/phonebridge/phone.db: 2770, one group
homeserver = make_homeserver()
modem = AtModem(tmp, "modem")
owner_token = homeserver.login("bob", "builder")
token_file = secret_file(os.path.join(tmp, "matrix.token"), homeserver.login("alice", "wonderland"))
config = bridge_config(os.path.join(tmp, "bridge.ini"), modem.config(), homeserver.url, token_file, store,
                       "retry_max_ms = 250\n[calls]\ndigest_at = 00:00")
bridged = Daemon(BRIDGED, tmp, config)

callee_port = free_udp_port()
screend_conf = os.path.join(tmp, "pb-screend.conf")
with open(screend_conf, "w") as f:
    f.write("[sip]\nlisten = 127.0.0.1\nport = 0\nallow = 127.0.0.1\n"
            "[forward]\nmode = bridge\ntarget = sip:target@127.0.0.1:%d\ntimeout = 3\n"
            "[screen]\nprompts = %s\nmax-duration = 40\n"
            "[store]\npath = %s\n"
            "[policy]\nregion = DE\nchallenge = press-digit\nchallenge-params = digit=6 tries=1 timeout=4\n"
            "[log]\nlevel = info\n" % (callee_port, os.path.join(ROOT, "data/prompts"), store))
screend = callee = None


def call(port, caller, hold="1"):
    """A Net::SIP call from @caller; its output lines."""
    return sip_call(port, caller, "--hold", hold)


def kv(key):
    rows = db_rows(store, "SELECT value FROM kv WHERE key = ?", key)
    return rows[0][0] if rows else None


def room_events(name):
    """The bot's notices in the room named @name."""
    st = homeserver.stats()
    for rid, evs in st["events"].items():
        if any(e["type"] == "m.room.name" and e["content"].get("name") == name for e in evs):
            return [e["content"].get("body", "") for e in evs if e["type"] == "m.room.message"
                    and e["content"].get("msgtype") == "m.notice"]
    return []


def calls_rows():
    return db_rows(store, "SELECT caller, verdict, rule, sip_status FROM calls ORDER BY id")


try:
    bridged.start()
    callee, callee_out = sip_perl("callee.pl", "--port", str(callee_port))
    ok(callee_out.get("listening", 30) is not None, "the Net::SIP callee (forward target) listens")
    screend = Screend(SCREEND, screend_conf)
    port = screend.ready()
    ok(port > 0, "pb-screend is ready on the same store (port %d)" % port)

    ctl_room = control_room(homeserver)
    ok(ctl_room is not None, "the control room exists")

    def notices():
        return room_notices(homeserver, ctl_room)

    def command(text, txn):
        homeserver.owner_says(owner_token, ctl_room, txn, text)

    # --- the installed layout: one store, group modes --------------------------
    mode = stat.S_IMODE(os.stat(store).st_mode)
    ok(mode == 0o660, "the shared store is mode 0660 in a 2770 directory (%o)" % mode)

    ok(wait_for(lambda: kv("bridge.calls.cursor") is not None, "the call log followed"),
       "pb-bridged follows the call log (its cursor is in the store)")
    digest_from = kv("bridge.calls.digest_id")

    # --- a robocaller fails the challenge: the daily digest --------------------
    # the caller holds until pb-screend hangs up (its BYE ends the wait early):
    # prompt + 4 s digit timeout + call set-up on a loaded machine can pass 7 s
    out = call(port, ROBOT, "60")
    ok("bye-received" in out, "a robocaller (no digit) is hung up on: %s" % out)
    digest = wait_for(lambda: next((n for n in notices() if "screened out since the last digest" in n), None),
                      "the digest")
    ok(digest and digest.startswith("1 call screened out") and ROBOT in digest and "press-digit" in digest,
       "the daily digest in the control room names the robocaller and its outcome: %r" % digest)
    ok(room_events(ROBOT) == [], "a screened-out caller gets no room of its own")

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
    answered = wait_for(lambda: [n for n in room_events(CALLER) if "Call, " in n] or None, "the call notice")
    ok(answered and len(answered) == 1 and answered[0].endswith(" s"),
       "an answered call is \"Call, N s\" in the caller's room, created for it: %r" % answered)

    # --- nobody answers: a missed call ------------------------------------------
    callee.terminate()
    callee.wait(10)
    callee = None
    bridged.kill()  # and pb-bridged is gone while it happens
    out = call(port, CALLER)
    ok("final 200" not in out, "with the target gone the call is not answered: %s" % out)
    bridged.start()
    missed = wait_for(lambda: [n for n in room_events(CALLER) if "Missed call" in n] or None, "the missed call")
    ok(missed and len(missed) == 1 and CALLER in missed[0], "a missed call notice in the caller's room: %r" % missed)

    # --- a crash between a notice and its cursor: nothing twice ------------------
    bridged.kill()
    db = sqlite3.connect(store)
    db.execute("UPDATE kv SET value = '0' WHERE key = 'bridge.calls.cursor'")
    db.commit()
    db.close()
    bridged.start()
    ok(wait_for(lambda: int(kv("bridge.calls.cursor") or 0) >= max(r[0] for r in
                                                                  db_rows(store, "SELECT id FROM calls")),
                "the log followed again"), "restarted with the cursor behind: the log is followed again")
    notes = room_events(CALLER)
    ok(len([n for n in notes if "Call, " in n]) == 1 and len([n for n in notes if "Missed call" in n]) == 1,
       "each call once in Matrix (the same transaction ids): %r" % notes)
    ok(len([n for n in notices() if "screened out since the last digest" in n]) == 1, "the digest once")

    # --- a crash after the digest was sent, before its kv: the same digest -------
    # (since then the !deny call was screened out too: a new digest would hold two)
    bridged.kill()
    db = sqlite3.connect(store)
    sent_to = db.execute("SELECT value FROM kv WHERE key = 'bridge.calls.digest_id'").fetchone()[0]
    db.execute("DELETE FROM kv WHERE key = 'bridge.calls.digest_day'")
    db.execute("UPDATE kv SET value = ? WHERE key = 'bridge.calls.digest_id'", (digest_from,))
    db.execute("INSERT OR REPLACE INTO kv (key, value, updated_at) VALUES ('bridge.calls.digest_pending', ?, 0)",
               ("%s %s" % (time.strftime("%Y-%m-%d"), sent_to),))
    db.commit()
    db.close()
    bridged.start()
    ok(wait_for(lambda: kv("bridge.calls.digest_pending") is None and kv("bridge.calls.digest_day"),
                "the digest's kv after the restart"), "restarted with the digest sent but not recorded")
    digests = [n for n in notices() if "screened out since the last digest" in n]
    ok(len(digests) == 1 and digests[0].startswith("1 call"),
       "the digest once: the same calls, the same transaction id (%d digests)" % len(digests))

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
        screend.stop(tap.failed)
    if callee is not None:
        callee.terminate()
        callee.wait(10)
    sys.exit(finish(tap, bridged, [modem.proc, getattr(homeserver, "proc", None)], tmp))
