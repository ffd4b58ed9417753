#!/usr/bin/python3
# libphonebridge tests — pb-bridged end to end against the AT modem emulator
# (tests/emulators/at-modem-emulator.py) and the homeserver emulator
# (tests/matrix-homeserver.py). Standard library only; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-test.py PATH/TO/pb-bridged
#
# Checks: a single SMS and a 3-part SMS arrive as m.text in the contact's
# direct room with the owner; SIGKILL of the daemon at random moments while
# messages arrive loses none and doubles none; the owner's reply in the room
# leaves as an SMS on the modem; an SMS interrupted while sending is reported
# as uncertain and not sent again; the homeserver away for a while: messages
# wait and arrive in order afterwards; a media message gets a clear notice.
# The same body runs against a real Synapse (tests/synapse.py sets
# PB_TEST_HOMESERVER); the homeserver failing on demand (6.) only against the
# emulator.
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DAEMON = sys.argv[1]
PEER, PEER2 = "+4915112345678", "+4917098765432"

from bridge_env import (BOT, OWNER, STRANGER, AtModem, Daemon, Mmsc, Tap, bridge_config,  # noqa: E402
                        finish, make_homeserver, secret_file, wait_for)
from bridge_pdu import (deliver7, deliver_ucs2_parts, submit_text,  # noqa: E402,F401
                        wap_push_parts)

tap = Tap()
ok = tap.ok


# --- processes ---------------------------------------------------------------


tmp = tempfile.mkdtemp(prefix="pb-bridge-test-")
homeserver = make_homeserver()
HS, http = homeserver.url, homeserver.http
mms = Mmsc(tmp)
PB_MMS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(DAEMON))), "pb-mms")
modem = AtModem(tmp, "modem")
at_ctl, at_sent = modem.ctl, modem.sent
owner_token = homeserver.login("bob", "builder")
token_file = secret_file(os.path.join(tmp, "matrix.token"), homeserver.login("alice", "wonderland"))
store = os.path.join(tmp, "bridge.db")
# small back-off caps: the 40 failed sends of case 6 take seconds, not minutes
config = bridge_config(os.path.join(tmp, "bridge.ini"), modem.config(), HS, token_file, store,
                       "retry_max_ms = 250\n[mmsc]\nurl = %s/mms" % mms.url)
bridged = Daemon(DAEMON, tmp, config)
start, kill = bridged.start, bridged.kill


stats, bodies = homeserver.stats, homeserver.bodies


def bot_messages():
    """[(room, msgtype, body)] the bot sent, in order."""
    return [(rid, c.get("msgtype"), c.get("body")) for rid, c in homeserver.bot_messages()]


def room_name(rid):
    for e in stats()["events"].get(rid, []):
        if e["type"] == "m.room.name":
            return e["content"]["name"]
    return None


try:
    # --- 1. the configuration is checked, secrets by mode ---------------------
    r = subprocess.run([DAEMON, "check", "-c", config], capture_output=True, text=True)
    ok(r.returncode == 0, "check accepts the configuration")
    os.chmod(token_file, 0o644)
    r = subprocess.run([DAEMON, "check", "-c", config], capture_output=True, text=True)
    ok(r.returncode == 78 and "\u2717 [matrix] token_file" in r.stdout and "matrix.token" in r.stdout,
       "a token file readable by others is refused (exit 78, EX_CONFIG)")
    print("# " + r.stdout.strip().replace("\n", "\n# "), flush=True)
    r = subprocess.run([DAEMON, "--check", "-c", config], capture_output=True, text=True)
    ok(r.returncode == 78, "--check, the deprecated spelling, is still check")
    os.chmod(token_file, 0o600)

    start()
    # --- 2. a single SMS and a 3-part SMS --------------------------------------
    at_ctl("deliver " + deliver7(PEER, "Hello from the phone", 1))
    long_text = ("This is a long message in three parts, sent by an old phone to a new bridge; "
                 "every part must arrive and be joined in the right order before Matrix sees it. End.")
    for p in deliver_ucs2_parts(PEER, long_text, 0x42, 2):
        at_ctl("deliver " + p)
    got = wait_for(lambda: len(bodies()) >= 2 and bodies(), "two messages in Matrix")
    ok(got == ["Hello from the phone", long_text], "a single SMS and a 3-part SMS arrive as m.text, in order")
    msgs = bot_messages()
    rooms = {rid for rid, _, _ in msgs}
    ok(len(rooms) == 1, "both in one room")
    rid = next(iter(rooms)) if rooms else None
    ok(rid and room_name(rid) == PEER, "the room is named after the number")
    members = stats()["rooms"].get(rid, {}).get("members", {}) if rid else {}
    ok(members.get(OWNER) == "invite", "the owner is invited to the direct room")

    # --- 3. the owner replies: an SMS leaves on the modem -----------------------
    http("POST", "/_matrix/client/v3/join/" + urllib.request.quote(rid), {}, owner_token)
    before = len(at_sent())
    http("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/t1" % urllib.request.quote(rid),
         {"msgtype": "m.text", "body": "Reply from Matrix"}, owner_token)
    sent = wait_for(lambda: len(at_sent()) > before and at_sent(), "the reply on the modem", 60)
    ok(sent and submit_text(sent[-1]) == (PEER, "Reply from Matrix"),
       "the owner's message leaves as an SMS to the contact")
    # a stranger in the room is ignored
    homeserver.inject(rid, STRANGER, join=True)
    homeserver.inject(rid, STRANGER, "m.room.message", {"msgtype": "m.text", "body": "not the owner"})
    # media the homeserver does not have (404): not sent, a clear notice
    # (outbound MMS itself: tests/bridge-mms-test.py)
    http("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/t2" % urllib.request.quote(rid),
         {"msgtype": "m.image", "body": "cat.jpg", "url": "mxc://localhost/x"}, owner_token)
    ok(wait_for(lambda: any(t == "m.notice" and "Not sent" in b and "cat.jpg" in b
                            for _, t, b in bot_messages()), "the media notice"),
       "a picture from the owner gets a clear notice")
    n_sent = len(at_sent())
    ok(n_sent == before + 1, "one SMS only (the stranger's message and the picture sent nothing)")

    # --- 3b. the control room: owners' commands, strangers ignored -----------
    ctl_room = wait_for(lambda: next((r_ for r_ in stats()["rooms"] if room_name(r_) == "Phone bridge"), None),
                        "the control room")
    ok(ctl_room and stats()["rooms"][ctl_room]["members"].get(OWNER) == "invite",
       "a control room is created with the owner invited")
    http("POST", "/_matrix/client/v3/join/" + urllib.request.quote(ctl_room), {}, owner_token)

    def command(text, txn):
        http("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/%s" % (urllib.request.quote(ctl_room), txn),
             {"msgtype": "m.text", "body": text}, owner_token)

    def notices(room):
        return [e["content"]["body"] for e in stats()["events"].get(room, [])
                if e["type"] == "m.room.message" and e["sender"] == BOT and e["content"].get("msgtype") == "m.notice"]

    def listed(number):
        db = sqlite3.connect(store)
        rows = db.execute("SELECT list FROM screen_list WHERE number = ?", (number,)).fetchall()
        db.close()
        return sorted(r_[0] for r_ in rows)

    homeserver.inject(ctl_room, STRANGER, join=True)
    homeserver.inject(ctl_room, STRANGER, "m.room.message", {"msgtype": "m.text", "body": "!allow +4930555666"})
    command("!allow 0151 2222 3333", "c1")
    ok(wait_for(lambda: "+4915122223333 is on the allow list: its calls ring through." in notices(ctl_room), "the !allow answer"),
       "!allow NUMBER answers")
    ok(listed("+4915122223333") == [1], "!allow put the normalised number on the allow list of the store")
    command("!deny +4915122223333", "c2")
    ok(wait_for(lambda: "+4915122223333 is on the deny list: its calls are rejected." in notices(ctl_room), "the !deny answer")
       and listed("+4915122223333") == [2], "!deny moves it to the deny list")
    ok(listed("+4930555666") == [], "a stranger's command is ignored")
    before = len(at_sent())
    command("!sms +4930111222 Hi from the control room", "c3")
    sent = wait_for(lambda: len(at_sent()) > before and at_sent(), "the !sms message on the modem")
    ok(sent and submit_text(sent[-1]) == ("+4930111222", "Hi from the control room"),
       "!sms NUMBER TEXT sends an SMS")
    ok(wait_for(lambda: any(room_name(r_) == "+4930111222" for r_ in stats()["rooms"]), "its room"),
       "!sms starts a conversation room for the number")
    command("!status", "c4")
    ok(wait_for(lambda: any(b.startswith("modem: ok (at)") for b in notices(ctl_room)), "the status"),
       "!status shows the modem and queue state")
    n_sent = len(at_sent())
    ok(len([b for b in notices(ctl_room)]) == 4, "one answer per command, none to the stranger")

    # --- 3c. a picture message: WAP push -> MMSC -> m.image + m.text ---------
    push = mms.push(PB_MMS, "T-pic-1", PEER)
    for p in wap_push_parts(PEER, push, 0x55, 50):
        at_ctl("deliver " + p)

    def picture_events():
        return [e["content"] for e in stats()["events"].get(rid, [])
                if e["type"] == "m.room.message" and e["sender"] == BOT
                and e["content"].get("msgtype") in ("m.image", "m.video", "m.audio", "m.file")]
    pics = wait_for(picture_events, "the picture in Matrix", 90)
    ok(pics and pics[0]["msgtype"] == "m.image" and pics[0]["url"].startswith("mxc://")
       and pics[0].get("info", {}).get("mimetype", "").startswith("image/"),
       "a picture message arrives as m.image in the contact's room")
    ok(wait_for(lambda: any(b and "Greetings from Krak" in b and b.startswith("Holiday photo")
                            for b in bodies()), "the MMS text"),
       "its subject and text arrive as m.text")
    reqs = mms.requests()
    ok(any(r_["method"] == "GET" for r_ in reqs) and any(r_["method"] == "POST" for r_ in reqs),
       "it was fetched from the MMSC and answered (M-NotifyResp.ind)")

    # --- 4. SIGKILL at random moments: nothing lost, nothing doubled ----------
    rnd = random.Random(int(os.environ.get("PB_BRIDGE_SEED", "0")) or None)
    expected = []
    n = 100
    for round_ in range(6):
        for k in range(4):
            n += 1
            t = "crash round %d message %d" % (round_, k)
            expected.append(t)
            at_ctl("deliver " + deliver7(PEER2 if k % 2 else PEER, t, n))
        if round_ % 2 == 0:
            n += 1
            t = "crash round %d long message " % round_ + "x" * 120
            expected.append(t)
            for p in deliver_ucs2_parts(PEER, t, round_ + 1, n):
                at_ctl("deliver " + p)
        time.sleep(rnd.uniform(0.0, 1.5))
        kill()
        start()
    want = ["Hello from the phone", long_text] + [b for b in bodies() if b.startswith("Holiday photo")] + expected
    got = wait_for(lambda: sorted(bodies()) == sorted(want) and bodies(), "every message once", 120)
    final = bodies()
    ok(sorted(final) == sorted(want),
       "after %d SIGKILLs every message arrived exactly once (%d of %d, %d duplicates)"
       % (6, len(set(final) & set(want)), len(want), len(final) - len(set(final))))
    ok(all(final.count(b) == 1 for b in want), "none twice")
    peers_rooms = {}
    for r_, t, b in bot_messages():
        if b and b.startswith("crash round") and "message" in b and "long" not in b:
            k = int(b.rsplit(" ", 1)[1])
            peers_rooms.setdefault(PEER2 if k % 2 else PEER, set()).add(r_)
    ok(len(peers_rooms.get(PEER2, ())) == 1 and peers_rooms.get(PEER2) != peers_rooms.get(PEER),
       "a second contact gets a room of its own")

    # --- 5. an SMS interrupted while sending: uncertain, never resent --------
    kill()
    db = sqlite3.connect(store)
    now = int(time.time() * 1000)
    db.execute("INSERT INTO messages (dir, state, dedup_key, backend, peer, room, event_id, body, "
               "created_at, updated_at) VALUES (2, 5, 'event:$crashed', 'matrix', ?, ?, '$crashed', "
               "'Interrupted text', ?, ?)", (PEER, rid, now, now))
    db.commit()
    db.close()
    sent_before = len(at_sent())
    start()
    ok(wait_for(lambda: any(t == "m.notice" and b.startswith("Uncertain") and "Interrupted text" in b
                            for _, t, b in bot_messages()), "the uncertain notice"),
       "a send interrupted by a crash is reported in the room as uncertain")
    time.sleep(0)  # no wait needed for the next check: the sender only reads queued rows
    db = sqlite3.connect(store)
    state = db.execute("SELECT state FROM messages WHERE event_id = '$crashed'").fetchone()[0]
    db.close()
    ok(state == 7 and len(at_sent()) == sent_before, "it is 'unknown' in the journal and was not sent again")
    kill()
    start()
    ok(wait_for(lambda: sum(1 for _, t, b in bot_messages() if b.startswith("Uncertain")) == 1, "one notice"),
       "the notice is given once, also after another restart")

    # --- 6. the homeserver away: messages wait and arrive in order ------------
    # (faults on demand: the emulator only)
    if homeserver.faults:
        def send_requests():
            return sum(c for route, c in stats()["counts"].items() if "/send/" in route)
        sends_before, rounds_before = send_requests(), bridged.failed_rounds()
        http("POST", "/_test/fault", {"kind": "500", "count": 40, "path": "/send/"})
        away = ["while away %d" % i for i in range(5)]
        for i, t in enumerate(away):
            n += 1
            at_ctl("deliver " + deliver7(PEER, t, n))
        got = wait_for(lambda: [b for b in bodies() if b.startswith("while away")] == away, "the queued ones", 180)
        # every send failed 40 times over several delivery rounds (each request
        # retries by itself, then the stage backs off), then the five went out
        print("# %d send requests, %d rounds given up" % (send_requests() - sends_before,
                                                         bridged.failed_rounds() - rounds_before), flush=True)
        ok(got is not None and send_requests() - sends_before >= 40 + len(away)
           and bridged.failed_rounds() - rounds_before >= 3,
           "after the homeserver failed 40 sends, the messages arrived in order")

    # --- 6b. the modem unplugged and plugged in again: no restart needed -------
    at_ctl("unplug")
    time.sleep(1.5)  # let the daemon notice (no assertion on time)
    n += 1
    at_ctl("deliver-quiet " + deliver7(PEER, "after the replug", n))
    at_ctl("replug")
    ok(wait_for(lambda: "after the replug" in bodies(), "the message after the replug", 120),
       "modem unplugged and plugged in again: the daemon recovers by itself")
    ok(bridged.running(), "the same daemon process is still running")

    # --- 7. SIGTERM stops it cleanly ------------------------------------------
    ok(bridged.terminate() == 0, "SIGTERM: exits 0")
finally:
    rc = finish(tap, bridged, (modem.proc, mms.proc), tmp)
    homeserver.stop()
sys.exit(rc)
