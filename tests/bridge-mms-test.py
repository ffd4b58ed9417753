#!/usr/bin/python3
# libphonebridge tests — pb-bridged: outbound MMS, group MMS rooms and room
# creation that survives crashes and races, end to end against the AT modem
# emulator, tests/mmsc-server.py (records every POST) and
# tests/matrix-homeserver.py (media upload/download). Standard library only;
# prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-mms-test.py PATH/TO/pb-bridged
#
# Checks:
#  1. the owner's picture with a caption in a contact room leaves as one
#     M-Send.req (the picture's bytes, the caption as text) to the contact;
#     the row is "sent" with the MMSC's Message-ID; a file over [mmsc]
#     max_size is refused with a notice and not sent;
#  2. the MMSC refuses (M-Send.conf status): "failed" and a notice naming it;
#  3. SIGKILL while the M-Send.req is at the MMSC: "unknown" after the
#     restart, an "Uncertain" notice, never posted again;
#  4. a group MMS (From, To without the owner's own number) gets one room
#     for the set, named after the numbers, the text says who wrote; a
#     second message of the same set goes to the same room; the owner's
#     text and picture there leave as one M-Send.req each to all of them;
#  5. rooms: SIGKILL after createRoom and before the room is marked, and
#     after it is marked but before it is saved: the room is found again,
#     no second room; `!sms` to a new number racing an inbound SMS from it
#     (createRoom slowed down): one room;
#  6. without [mmsc] url the owner's picture gets the "needs an MMSC" notice;
#  0. (first) SIGKILL after the control room is created, before it is marked:
#     found again, one control room.
import json
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import urllib.parse
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import (BOT, OWNER, AtModem, Daemon, Homeserver, Mmsc, Tap, bridge_config,  # noqa: E402
                        finish, login, request, secret_file, wait_for)
from bridge_pdu import deliver7, submit_text, wap_push_parts  # noqa: E402

DAEMON = sys.argv[1]
PB_MMS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(DAEMON))), "pb-mms")
OWN = "+4915100000001"
PEER, PEER2, PEER3 = "+4915112345678", "+4917098765432", "+49301112223"
NEW1, NEW2, NEW3 = "+4915700000011", "+4915700000022", "+4915700000033"
MARKER = "org.phonebridge.room"

tap = Tap()
ok = tap.ok


def png(w, h, seed):
    """A real PNG of w x h pixels (RGB), different for each seed."""
    def chunk(t, d):
        c = t + d
        return struct.pack(">I", len(d)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + bytes((x * 7 + y * 3 + seed) & 0xFF for x in range(w * 3)) for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


tmp = tempfile.mkdtemp(prefix="pb-bridge-mms-test-")
homeserver = Homeserver()
HS, http = homeserver.url, homeserver.http
mms = Mmsc(tmp)
MMSC, mms_dir = mms.url, os.path.join(tmp, "mmsc")
modem = AtModem(tmp, "modem")
at_ctl, at_sent = modem.ctl, modem.sent
owner_token = login(HS, "bob", "builder")
token_file = secret_file(os.path.join(tmp, "matrix.token"), login(HS, "alice", "wonderland"))
store = os.path.join(tmp, "bridge.db")
config = os.path.join(tmp, "bridge.ini")
bridged = Daemon(DAEMON, tmp, config)
start, kill, log_has = bridged.start, bridged.kill, bridged.log_has


def write_config(mmsc_url):
    bridge_config(config, modem.config() + "\nown_number = 0151 00000001", HS, token_file, store,
                  "[mmsc]\nurl = %s\nmax_size = 100K" % mmsc_url if mmsc_url else "", "store_sync = normal")


def restart(mmsc_url=MMSC + "/mms"):
    kill()
    write_config(mmsc_url)
    start()


stats = homeserver.stats


def events(room):
    return stats()["events"].get(room, [])


def bot_messages(room=None):
    """[(room, msgtype, body, content)] the bot sent (in @room), in order."""
    return [(rid, c.get("msgtype"), c.get("body"), c) for rid, c in homeserver.bot_messages()
            if not room or rid == room]


def notices(room=None):
    return [b for _, t, b, _ in bot_messages(room) if t == "m.notice"]


def room_name(rid):
    name = None
    for e in events(rid):
        if e["type"] == "m.room.name":
            name = e["content"]["name"]
    return name


def rooms_named(name):
    return [r for r in stats()["rooms"] if room_name(r) == name]


def marker(rid):
    m = None
    for e in events(rid):
        if e["type"] == MARKER and e["sender"] == BOT:
            m = e["content"].get("key")
    return m


def marker_control(rid):
    return any(e["type"] == MARKER and e["sender"] == BOT and e["content"].get("control") is True
               for e in events(rid))


def marker_puts(rid):
    """How many times the bot has tried to set the marker of @rid."""
    return stats()["counts"].get("PUT /_matrix/client/v3/rooms/%s/state/%s/" % (rid, MARKER), 0)


def sends():
    """The M-Send.req the MMSC got, decoded by pb-mms, in order."""
    reqs = mms.requests()
    out = []
    for r in reqs:
        if r["method"] != "POST" or not r["body_file"]:
            continue
        with open(r["body_file"], "rb") as f:
            if f.read(2) != b"\x8c\x80":
                continue
        d = subprocess.run([PB_MMS, "decode", r["body_file"]], capture_output=True, text=True)
        out.append(json.loads(d.stdout) if d.returncode == 0 else {"undecodable": d.stderr})
    return out


def row(event_id):
    db = sqlite3.connect(store)
    r = db.execute("SELECT state, ref, last_error, backend || ':' || (SELECT kind FROM bridge_msg_kind "
                   "WHERE msg_id = messages.id) FROM messages WHERE event_id = ?",
                   (event_id,)).fetchone()
    db.close()
    return r


def upload(data, ctype):
    return request("POST", HS + "/_matrix/media/v3/upload", data, owner_token, ctype)["content_uri"]


def owner_send(room, content, txn):
    return http("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/%s" % (urllib.parse.quote(room), txn),
                content, owner_token)["event_id"]


def join(room):
    http("POST", "/_matrix/client/v3/join/" + urllib.parse.quote(room), {}, owner_token)


n_sms = 0


def sms_in(number, text):
    global n_sms
    n_sms += 1
    at_ctl("deliver " + deliver7(number, text, n_sms))


def picture_message(tid, frm, to, text, attach=None):
    """Put an M-Retrieve.conf on the MMSC and its notification (WAP push) on the modem."""
    global n_sms
    conf = os.path.join(mms_dir, tid + ".mms")
    cmd = [PB_MMS, "encode", "retrieve-conf", "--from", frm, "--text", text, "--message-id", "M-" + tid]
    for t in to:
        cmd += ["--to", t]
    if attach:
        cmd += ["--attach", attach]
    with open(conf, "wb") as f:
        f.write(subprocess.run(cmd, capture_output=True, check=True).stdout)
    push = subprocess.run([PB_MMS, "encode", "notification", "--transaction-id", tid, "--location",
                           MMSC + "/files/t/" + tid + ".mms", "--from", frm, "--size",
                           str(os.path.getsize(conf)), "--push"], capture_output=True, check=True).stdout
    n_sms += 1
    for p in wap_push_parts(frm, push, n_sms & 0xFF, n_sms):
        at_ctl("deliver " + p)


try:
    # --- 0. the control room: SIGKILL after createRoom, before its marker -------
    write_config(MMSC + "/mms")
    http("POST", "/_test/fault", {"kind": "drop", "count": 5, "path": "/state/" + MARKER})
    start()
    ok(wait_for(lambda: rooms_named("Phone bridge") and marker_puts(rooms_named("Phone bridge")[0]),
                "the control room being marked"), "the control room is created")
    restart()
    ok(wait_for(lambda: log_has("found again (created, not yet marked)", "the control room"), "the control room"),
       "after the crash the control room made before it is found again")
    # --- 1. the owner's picture leaves as an M-Send.req ------------------------
    sms_in(PEER, "hello, send me a picture")
    rid = wait_for(lambda: next((r for r, t, b, _ in bot_messages() if b == "hello, send me a picture"), None),
                   "the first SMS in Matrix")
    ok(rid and marker(rid) == PEER, "the contact's room carries the bridge's marker with its key")
    join(rid)
    pic = png(40, 30, 1)
    mxc = upload(pic, "image/png")
    ev = owner_send(rid, {"msgtype": "m.image", "body": "The view from here", "filename": "view.png",
                          "url": mxc, "info": {"mimetype": "image/png", "size": len(pic)}}, "p1")
    got = wait_for(lambda: len(sends()) >= 1 and sends(), "the M-Send.req")
    s = got[0] if got else {}
    ok(s.get("to") == [PEER], "one M-Send.req to the contact (%s)" % s.get("to"))
    parts = s.get("parts", [])
    ok(any(p["content_type"] == "image/png" and p["size"] == len(pic) for p in parts),
       "it carries the picture (image/png, %d bytes)" % len(pic))
    ok(s.get("text") == "The view from here", "and the caption as its text")
    r = wait_for(lambda: row(ev) and row(ev)[0] == 6 and row(ev), "the row sent")
    ok(r and r[3] == "matrix:mms" and r[1] and r[1].startswith("msg-"),
       "the journal row is an MMS, 'sent', with the MMSC's Message-ID (%s)" % (r,))
    big = bytes(range(256)) * 600  # 150 KiB > max_size 100K
    mxc_big = upload(big, "application/octet-stream")
    ev_big = owner_send(rid, {"msgtype": "m.file", "body": "big.bin", "url": mxc_big,
                              "info": {"mimetype": "application/octet-stream"}}, "p2")
    ok(wait_for(lambda: any("big.bin" in n and "larger than" in n and "max_size" in n for n in notices(rid)),
                "the size notice"), "a file over [mmsc] max_size gets a notice")
    ok(row(ev_big)[0] == 8 and len(sends()) == 1, "it is 'failed' and nothing was posted")
    # a text reply in the contact's room is still an SMS
    before = len(at_sent())
    owner_send(rid, {"msgtype": "m.text", "body": "text stays SMS"}, "t1")
    sent = wait_for(lambda: len(at_sent()) > before and at_sent(), "the SMS")
    ok(sent and submit_text(sent[-1]) == (PEER, "text stays SMS") and len(sends()) == 1,
       "text in a contact room still leaves as an SMS")

    # --- 2. the MMSC refuses ------------------------------------------------------
    restart(MMSC + "/mms?send_status=0xE2&send_text=Content%20not%20accepted")
    mxc2 = upload(png(8, 8, 2), "image/png")
    ev2 = owner_send(rid, {"msgtype": "m.image", "body": "refused.png", "url": mxc2,
                           "info": {"mimetype": "image/png"}}, "p3")
    ok(wait_for(lambda: any("refused.png" in n and "0xE2" in n and "Content not accepted" in n
                            for n in notices(rid)), "the refusal notice"),
       "a refusal by the MMSC (M-Send.conf status) is a notice naming it")
    ok(row(ev2)[0] == 8 and len(sends()) == 2, "the row is 'failed'; posted once")

    # --- 3. SIGKILL while the MMSC holds the M-Send.req --------------------------
    restart(MMSC + "/mms?delay_ms=15000")
    mxc3 = upload(png(8, 8, 3), "image/png")
    ev3 = owner_send(rid, {"msgtype": "m.image", "body": "interrupted.png", "url": mxc3,
                           "info": {"mimetype": "image/png"}}, "p4")
    ok(wait_for(lambda: row(ev3) and row(ev3)[0] == 5 and len(sends()) == 3, "the send under way"),
       "the row is 'sending' while the MMSC has it")
    restart()
    ok(wait_for(lambda: any(n.startswith("Uncertain") and "interrupted.png" in n for n in notices(rid)),
                "the uncertain notice"), "after the crash: reported in the room as uncertain")
    before = len(at_sent())
    owner_send(rid, {"msgtype": "m.text", "body": "after the crash"}, "t2")
    wait_for(lambda: len(at_sent()) > before, "a later SMS")
    ok(row(ev3)[0] == 7 and len(sends()) == 3, "it is 'unknown' and was not posted again")

    # --- 4. a group MMS: one room per set of participants --------------------------
    with open(os.path.join(tmp, "group.png"), "wb") as f:
        f.write(png(16, 16, 4))
    picture_message("T-group-1", PEER, [OWN, PEER2, PEER3], "Party at 8", os.path.join(tmp, "group.png"))
    key = ",".join(sorted([PEER, PEER2, PEER3]))
    grp = wait_for(lambda: next((r for r in stats()["rooms"] if marker(r) == key), None), "the group room")
    ok(grp and room_name(grp) == ", ".join(sorted([PEER, PEER2, PEER3])),
       "a group MMS gets a room for its participants, named after them, the owner's number left out")
    ok(grp and stats()["rooms"][grp]["members"].get(OWNER) == "invite", "the owner is invited to it")
    ok(wait_for(lambda: any(b == PEER + ": Party at 8" for _, t, b, _ in bot_messages(grp) if t == "m.text"),
                "the group text"), "its text says who wrote")
    ok(any(t == "m.image" for _, t, _, _ in bot_messages(grp)), "its picture is in the group room")
    picture_message("T-group-2", PEER2, [PEER, OWN, PEER3], "I'll bring cake")
    ok(wait_for(lambda: any(b == PEER2 + ": I'll bring cake" for _, t, b, _ in bot_messages(grp)),
                "the second group message"), "another member's message of the same set: the same room")
    ok(len([r for r in stats()["rooms"] if marker(r) == key]) == 1, "one room for the set")
    join(grp)
    n_before = len(sends())
    ev4 = owner_send(grp, {"msgtype": "m.text", "body": "See you there"}, "g1")
    got = wait_for(lambda: len(sends()) > n_before and sends(), "the group M-Send.req")
    s = got[-1] if got else {}
    ok(sorted(s.get("to", [])) == sorted([PEER, PEER2, PEER3]) and s.get("text") == "See you there",
       "the owner's text in the group room leaves as one MMS to all (%s)" % s.get("to"))
    ok(wait_for(lambda: row(ev4) and row(ev4)[0] == 6, "the group row sent"), "and is 'sent'")
    gpic = png(12, 12, 5)
    ev5 = owner_send(grp, {"msgtype": "m.image", "body": "map.png", "url": upload(gpic, "image/png"),
                           "info": {"mimetype": "image/png"}}, "g2")
    got = wait_for(lambda: len(sends()) > n_before + 1 and sends(), "the group picture")
    s = got[-1] if got else {}
    ok(sorted(s.get("to", [])) == sorted([PEER, PEER2, PEER3])
       and any(p["size"] == len(gpic) for p in s.get("parts", [])) and row(ev5)[0] == 6,
       "the owner's picture in the group room: one MMS to all")

    # --- 5. rooms: crashes between creating and saving, and a race ---------------
    # 5a. createRoom done, the marker not yet set (its PUTs dropped): kill
    http("POST", "/_test/fault", {"kind": "drop", "count": 5, "path": "/state/" + MARKER})
    sms_in(NEW1, "first words of new one")
    ok(wait_for(lambda: rooms_named(NEW1) and marker_puts(rooms_named(NEW1)[0]), "the marker being set"),
       "a room is created")
    restart()
    ok(wait_for(lambda: any(b == "first words of new one" for _, _, b, _ in bot_messages()), "the message",
                120), "after the crash the message arrives")
    ok(len(rooms_named(NEW1)) == 1 and marker(rooms_named(NEW1)[0]) == NEW1,
       "in the room made before the crash (found again and marked), no second room")
    ok(log_has("found again (created, not yet marked)", '"key":"%s"' % NEW1),
       "the room was recognised by the creation intent")
    # 5b. marked, not yet saved: the marker PUT is answered late, after the kill
    http("POST", "/_test/fault", {"kind": "slow", "count": 1, "delay_ms": 8000, "path": "/state/" + MARKER})
    sms_in(NEW2, "first words of new two")
    ok(wait_for(lambda: rooms_named(NEW2) and marker_puts(rooms_named(NEW2)[0]), "the marker being set"),
       "a room is created")
    kill()
    wait_for(lambda: marker(rooms_named(NEW2)[0]) == NEW2, "the late marker", 30)
    write_config(MMSC + "/mms")
    start()
    ok(wait_for(lambda: any(b == "first words of new two" for _, _, b, _ in bot_messages()), "the message",
                120), "after the crash the message arrives")
    ok(len(rooms_named(NEW2)) == 1, "in the marked room, no second room")
    ok(log_has("found again (by its marker)", NEW2), "the room was recognised by its marker")
    # 5c. !sms to a new number while an SMS from it comes in (createRoom slow)
    ctl = wait_for(lambda: next(iter(rooms_named("Phone bridge")), None), "the control room")
    ok(len(rooms_named("Phone bridge")) == 1 and marker_control(ctl), "one control room, marked")
    join(ctl)
    http("POST", "/_test/fault", {"kind": "slow", "count": 2, "delay_ms": 1500, "path": "/createRoom"})
    before = len(at_sent())
    owner_send(ctl, {"msgtype": "m.text", "body": "!sms %s Are you new?" % NEW3}, "c1")
    sms_in(NEW3, "yes I am new")
    ok(wait_for(lambda: any(b == "yes I am new" for _, _, b, _ in bot_messages()), "the inbound SMS", 120),
       "the inbound SMS arrives")
    sent = wait_for(lambda: len(at_sent()) > before and at_sent(), "the !sms")
    ok(sent and submit_text(sent[-1]) == (NEW3, "Are you new?"), "the !sms is sent")
    ok(len(rooms_named(NEW3)) == 1, "one room for the number (%d)" % len(rooms_named(NEW3)))

    # --- 6. no MMSC: the clear notice ------------------------------------------------
    restart(None)
    ev6 = owner_send(rid, {"msgtype": "m.image", "body": "nommsc.png", "url": upload(png(4, 4, 6), "image/png"),
                           "info": {"mimetype": "image/png"}}, "p6")
    ok(wait_for(lambda: any("nommsc.png" in n and "needs an MMSC" in n for n in notices(rid)), "the notice"),
       "without [mmsc] url a picture gets a notice saying so")
    ok(row(ev6)[0] == 8, "and its row is 'failed'")

    ok(bridged.terminate(60) == 0, "SIGTERM: exits 0")
finally:
    rc = finish(tap, bridged, (modem.proc, homeserver.proc, mms.proc), tmp)
sys.exit(rc)
