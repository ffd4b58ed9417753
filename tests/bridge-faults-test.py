#!/usr/bin/python3
# libphonebridge tests — pb-bridged under faults (issue 17 items 1, 4, 6),
# end to end against the AT modem and HiLink router emulators,
# tests/mmsc-server.py and the homeserver emulator. Standard library only;
# prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-faults-test.py PATH/TO/pb-bridged
#
# Checks:
#  1. picture messages are fetched off the SMS path: while the MMSC holds a
#     fetch (answers after 20 s), SMS from the sender and from someone else
#     arrive at once, the picture after; an MMSC answering 503 is tried
#     [mmsc] fetch_attempts times with back-off, then a notice in the
#     contact's room names "HTTP 503"; a page instead of a PDU gives up at
#     once with "not an MMS PDU"; after a restart nothing is fetched or
#     posted again (the fetch state is durable);
#  4. honest send outcomes: an AT modem answering ERROR to AT+CMGS (before
#     the PDU): the message stays queued and goes out later, no "Not sent";
#     an AT modem that takes the PDU and never answers ([modem]
#     send_timeout_ms = 2000): "unknown" with an "Uncertain" notice offering
#     !resend, the next message goes out, the PDU reached the modem once;
#     a HiLink router that sends but whose answer is lost: "unknown", an
#     "Uncertain" notice offering !resend, then settled from the router's
#     sent box ("Settled" notice, row "sent", sent once); the same with a
#     SIGKILL while the router holds the request: settled after the
#     restart; a send the router never carried out stays uncertain and the
#     owner's reply "!resend" to its notice sends it once, "!resend ID" in
#     the control room another one; the router busy
#     (113053): queued and sent later;
#  6. a full disk (a small tmpfs in a user and mount namespace): one notice
#     in the control room when it starts, a handful of log lines instead of
#     one per second, the messages kept on the modem; one notice when there
#     is room again, and every message arrives once.
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import (ROOT, AtModem, Bridge, Homeserver, Tap, child, emulator, finish, request,  # noqa: E402
                        scratch, secret_file, stop, wait_for)
from bridge_pdu import deliver7, submit_text, wap_push_parts  # noqa: E402

DAEMON = os.path.abspath(sys.argv[1])
PB_MMS = os.path.join(os.path.dirname(os.path.dirname(DAEMON)), "pb-mms")
PEER, PEER2, PEER3 = "+4915112345678", "+4917098765432", "+4930111222333"

# The disk-full case needs a small file system of its own: run the whole
# test in a user and mount namespace, where mounting a tmpfs needs no
# privilege (unshare(1), util-linux). Without namespaces that case is skipped.
if os.environ.get("PB_FAULTS_NS") is None:
    os.environ["PB_FAULTS_NS"] = "0"
    try:
        if shutil.which("unshare") and subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                          capture_output=True).returncode == 0:
            os.environ["PB_FAULTS_NS"] = "1"
            os.execvp("unshare", ["unshare", "--user", "--map-root-user", "--mount", sys.executable,
                                  os.path.abspath(__file__)] + sys.argv[1:])
    except OSError:
        pass
IN_NS = os.environ.get("PB_FAULTS_NS") == "1"

tap = Tap()
ok = tap.ok
tmp = scratch("pb-bridge-faults-")
disk = os.path.join(tmp, "disk")
os.mkdir(disk)
mounted = IN_NS and shutil.which("mount") is not None and subprocess.run(
    ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", disk]).returncode == 0

hs = Homeserver()
owner = hs.login("bob", "builder")
mms_dir = os.path.join(tmp, "mmsc")
os.mkdir(mms_dir)
with open(os.path.join(ROOT, "data/samples/picture-message.mms"), "rb") as f:
    picture = f.read()
with open(os.path.join(mms_dir, "pic.mms"), "wb") as f:
    f.write(picture)
mmsc_proc, mmsc_out = child([os.path.join(ROOT, "tests/mmsc-server.py"), "--root", "t=" + mms_dir])
MMSC = "http://127.0.0.1:%d" % int(mmsc_out.get("PORT ").split()[1])
modem = AtModem(tmp)
store_dir = disk if mounted else tmp
bridge = Bridge(DAEMON, tmp, hs, modem.config() + "\nsend_timeout_ms = 2000",
                "retry_max_ms = 500\n[mmsc]\nurl = %s/mms\nfetch_attempts = 3\nfetch_retry_ms = 300" % MMSC)
# the store on the small file system
with open(bridge.config) as f:
    cfg = f.read().replace("store = " + bridge.store, "store = " + os.path.join(store_dir, "bridge.db"))
bridge.store = os.path.join(store_dir, "bridge.db")
with open(bridge.config, "w") as f:
    f.write(cfg)
router = rt = None
n_sms = 0


def sms_in(number, text):
    global n_sms
    n_sms += 1
    modem.ctl("deliver " + deliver7(number, text, n_sms))


def picture_in(frm, location, tid):
    global n_sms
    push = subprocess.run([PB_MMS, "encode", "notification", "--transaction-id", tid, "--location", location,
                           "--from", frm, "--size", str(len(picture)), "--push"],
                          capture_output=True, check=True).stdout
    n_sms += 1
    for p in wap_push_parts(frm, push, n_sms & 0xFF, n_sms):
        modem.ctl("deliver " + p)


def messages(msgtype=None):
    return [(r, c) for r, c in hs.bot_messages() if msgtype is None or c.get("msgtype") == msgtype]


def room_of(body):
    return next((r for r, c in hs.bot_messages() if c.get("body") == body), None)


def notices(room=None):
    return [c.get("body", "") for r, c in messages("m.notice") if room is None or r == room]


def gets(key):
    with urllib.request.urlopen(MMSC + "/admin/requests", timeout=30) as r:
        return [q for q in json.loads(r.read()) if q["method"] == "GET" and key in q["path"]]


def store_value(sql, *args):
    """The first value @sql answers in the bridge's store (None: no row),
    read on a read-only connection of its own while the bridge writes."""
    db = sqlite3.connect("file:%s?mode=ro" % bridge.store, uri=True, timeout=30)
    try:
        r = db.execute(sql, args).fetchone()
        return r[0] if r else None
    finally:
        db.close()


def row_state(body):
    return store_value("SELECT state FROM messages WHERE dir = 2 AND body = ? ORDER BY id DESC", body)


def kv(key):
    return store_value("SELECT value FROM kv WHERE key = ?", key)


def owner_reply(rid, txn, body, in_reply_to=None):
    content = {"msgtype": "m.text", "body": body}
    if in_reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": in_reply_to}}
    q = urllib.parse.quote(rid)
    hs.http("POST", "/_matrix/client/v3/join/" + q, {}, owner)
    hs.http("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/%s" % (q, txn), content, owner)


def event_of(rid, prefix):
    evs = hs.stats()["events"].get(rid, [])
    return next((e["event_id"] for e in evs if e["type"] == "m.room.message"
                 and e["content"].get("body", "").startswith(prefix)), None)


try:
    bridge.start()
    # --- 1. picture messages off the SMS path ------------------------------------------
    sms_in(PEER, "Before the pictures")
    ok(wait_for(lambda: room_of("Before the pictures"), "the first SMS"), "an SMS arrives")
    peer_room = room_of("Before the pictures")
    t0 = time.monotonic()
    picture_in(PEER, MMSC + "/files/t/pic.mms?delay_ms=20000&key=slow", "T-slow")
    ok(wait_for(lambda: gets("key=slow"), "the fetch at the MMSC"), "the picture message is being fetched")
    sms_in(PEER2, "While the MMSC hangs")
    sms_in(PEER, "From the sender too")
    ok(wait_for(lambda: room_of("While the MMSC hangs") and room_of("From the sender too"), "the texts", 15),
       "while the MMSC holds the fetch, texts from everyone arrive (%.1f s)" % (time.monotonic() - t0))
    ok(not messages("m.image"), "the picture has not arrived yet")
    ok(wait_for(lambda: messages("m.image"), "the slow picture", 90),
       "the picture arrives when the MMSC answers, in the sender's room")
    ok(messages("m.image")[0][0] == peer_room, "in the sender's room")

    picture_in(PEER, MMSC + "/files/t/pic.mms?fail=100&fail_code=503&key=k503", "T-503")
    sms_in(PEER2, "Behind the failing one")
    ok(wait_for(lambda: room_of("Behind the failing one"), "the text behind the failing MMSC", 15),
       "an MMSC answering 503: the text behind it arrives")
    ok(wait_for(lambda: any("HTTP 503" in n for n in notices(peer_room)), "the 503 notice", 60),
       "after [mmsc] fetch_attempts, a notice in the contact's room names HTTP 503")
    ok(len(gets("key=k503")) == 3, "fetched 3 times ([mmsc] fetch_attempts = 3): %d" % len(gets("key=k503")))
    picture_in(PEER3, MMSC + "/files/t/pic.mms?ct=text/html&key=page", "T-page")
    ok(wait_for(lambda: any("not an MMS PDU" in n for n in notices()), "the page notice", 60),
       "a page instead of an MMS: given up at once, the notice says \"not an MMS PDU\"")
    ok(len(gets("key=page")) == 1, "fetched once")
    before_notes, before_gets = len(notices()), len(hs.bot_messages())
    bridge.kill()
    bridge.start()
    sms_in(PEER2, "After the restart")
    ok(wait_for(lambda: room_of("After the restart"), "the SMS after the restart", 60), "restart: SMS flow")
    ok(len(gets("key=k503")) == 3 and len(gets("key=page")) == 1 and len(notices()) == before_notes,
       "after the restart nothing is fetched or announced again (the fetch state is in the journal)")

    # --- 4. AT: an error before the PDU keeps the message queued -----------------------
    modem.ctl("cmgs-error 2")
    owner_reply(peer_room, "o1", "Through a refusing modem")
    ok(wait_for(lambda: any(submit_text(h) == (PEER, "Through a refusing modem") for h in modem.sent()),
                "the SMS after the modem errors", 60),
       "AT+CMGS answered ERROR twice before the PDU: kept queued and sent on a later attempt")
    ok(row_state("Through a refusing modem") == 6 and not any("Not sent" in n for n in notices()),
       "the row is 'sent', no \"Not sent\" notice")
    ok(bridge.log_has("not sent yet"), "the log says it will be tried again")

    # --- 4. AT: a PDU whose answer never comes is uncertain ------------------------------
    modem.ctl("cmgs-swallow 1")
    owner_reply(peer_room, "o2", "Answer never came")
    ok(wait_for(lambda: any(n.startswith("Uncertain") and "Answer never came" in n and "!resend" in n
                            for n in notices(peer_room)), "the AT uncertain notice", 45),
       "AT: no +CMGS answer within [modem] send_timeout_ms: an \"Uncertain\" notice offering !resend")
    ok(row_state("Answer never came") == 7 and not any("Not sent" in n for n in notices()),
       "the row is 'unknown', no \"Not sent\" notice")
    owner_reply(peer_room, "o3", "After the lost answer")
    ok(wait_for(lambda: row_state("After the lost answer") == 6, "the next SMS through the AT modem", 60),
       "the modem left any prompt (ESC): the next message goes out")
    ok(sum(1 for h in modem.sent() if submit_text(h) == (PEER, "Answer never came")) == 1,
       "the unanswered PDU reached the modem once and was not sent again by itself")

    # --- 6. a full disk -------------------------------------------------------------------
    if not mounted:
        ok(True, "# SKIP the disk-full case: no user and mount namespace for a small tmpfs here")
    else:
        control = kv("bridge.control_room")
        db = sqlite3.connect(bridge.store, timeout=30)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the next commit must grow the WAL
        db.close()
        filler = os.path.join(disk, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        t_full = time.monotonic()
        for i in range(3):
            sms_in(PEER2, "Disk full %d" % i)
        ok(wait_for(lambda: any("disk is full" in n for n in notices(control)), "the disk-full notice", 60),
           "the disk fills up: a notice in the control room")
        wait_for(lambda: time.monotonic() - t_full > 10, "ten seconds of a full disk", 20)
        disk_lines = [ln for ln in bridge.log_lines() if "disk" in ln or "journal:" in ln]
        ok(len(disk_lines) <= 8, "a back-off, not an error every second: %d log lines in 10 s" % len(disk_lines))
        ok(not any(room_of("Disk full %d" % i) for i in range(3)), "meanwhile nothing arrives (kept on the modem)")
        os.unlink(filler)
        ok(wait_for(lambda: all(room_of("Disk full %d" % i) for i in range(3)), "the messages after the disk", 90),
           "room again: the messages kept on the modem arrive")
        ok(wait_for(lambda: any("room on the bridge's disk again" in n for n in notices(control)), "the room notice"),
           "a notice when there is room again")
        bodies = [c.get("body") for _, c in hs.bot_messages()]
        ok(sum(1 for n in notices(control) if "disk is full" in n) == 1 and
           sum(1 for n in notices(control) if "room on the bridge's disk again" in n) == 1 and
           all(bodies.count("Disk full %d" % i) == 1 for i in range(3)),
           "one notice each way; every message once")
    ok(bridge.terminate() == 0, "SIGTERM: exits 0")

    # --- 4. HiLink: lost answers, settled from the sent box; !resend --------------------
    router, rt = emulator("hilink", "--require-login")
    hbridge_tmp = os.path.join(tmp, "hilink")
    os.mkdir(hbridge_tmp)
    hbridge = Bridge(DAEMON, hbridge_tmp, hs, "backend = hilink\nurl = %s\nusername = admin\npassword_file = %s\n"
                     "poll_interval_ms = 300\ntimeout_ms = 2000"
                     % (rt, secret_file(os.path.join(hbridge_tmp, "router.pw"), "secret")), "retry_max_ms = 500")
    bridge.close(False)
    bridge = hbridge
    bridge.start()

    def router_add(text, n):
        xml = ("<Message><Smstat>0</Smstat><Index>@INDEX@</Index><Phone>%s</Phone><Content>%s</Content>"
               "<Date>2024-05-01 12:%02d:00</Date><Sca></Sca><SaveType>4</SaveType><Priority>0</Priority>"
               "<SmsType>1</SmsType></Message>" % (PEER3, text, n))
        request("POST", rt + "/test/add", xml.encode())

    def router_sent(text):
        return sum(1 for s in request("GET", rt + "/test/sent") if s.get("content") == text)

    router_add("Hello from the router side", 1)
    ok(wait_for(lambda: room_of("Hello from the router side"), "the router's SMS"), "HiLink: an SMS arrives")
    r3 = room_of("Hello from the router side")
    request("POST", rt + "/test/send-fault", b"hang=6")
    owner_reply(r3, "h1", "Answer lost")
    ok(wait_for(lambda: any(n.startswith("Uncertain") and "Answer lost" in n and "!resend" in n
                            for n in notices(r3)), "the uncertain notice", 60),
       "send-sms answered too late: an \"Uncertain\" notice offering !resend, never \"Not sent\"")
    ok(row_state("Answer lost") in (6, 7), "the row is 'unknown' (or already settled)")
    ok(wait_for(lambda: row_state("Answer lost") == 6 and any(n.startswith("Settled") and "Answer lost" in n
                                                               for n in notices(r3)), "settled", 60),
       "settled from the router's sent box: 'sent' and a \"Settled\" notice")
    ok(router_sent("Answer lost") == 1, "sent once")

    request("POST", rt + "/test/send-fault", b"hang=8")
    owner_reply(r3, "h2", "Killed while sending")
    ok(wait_for(lambda: router_sent("Killed while sending") == 1, "the router got it"), "the router sends it")
    bridge.kill()
    bridge.start()
    ok(wait_for(lambda: row_state("Killed while sending") == 6 and
                any(n.startswith("Settled") and "Killed while sending" in n for n in notices(r3)),
                "settled after the restart", 60),
       "SIGKILL while the router held the request: settled from the sent box after the restart")
    ok(router_sent("Killed while sending") == 1, "not sent again")

    request("POST", rt + "/test/send-fault", b"lost=4")
    owner_reply(r3, "h3", "Never carried out")
    ok(wait_for(lambda: any(n.startswith("Uncertain") and "Never carried out" in n for n in notices(r3)),
                "the second uncertain notice", 60), "a send the router never carried out: uncertain")
    ok(wait_for(lambda: bridge.log_has("still uncertain"), "the settle pass", 60) and
       row_state("Never carried out") == 7, "not in the router's sent box: it stays uncertain")
    ev = event_of(r3, "Uncertain: \"Never carried out\"")
    owner_reply(r3, "h4", "> <@alice:localhost> Uncertain ...\n\n!resend", ev)
    ok(wait_for(lambda: router_sent("Never carried out") == 1 and row_state("Never carried out") == 6,
                "the resent message", 60), "the owner's reply !resend sends it: once, row 'sent'")
    ok(any(n.startswith("Sending \"Never carried out\"") for n in notices(r3)), "the bridge answers the !resend")

    request("POST", rt + "/test/send-fault", b"lost=3")
    owner_reply(r3, "h6", "Resent by its number")
    ok(wait_for(lambda: row_state("Resent by its number") == 7, "the third uncertain row", 60), "uncertain again")
    row = store_value("SELECT id FROM messages WHERE dir = 2 AND body = ?", "Resent by its number")
    owner_reply(kv("bridge.control_room"), "h7", "!resend %d" % row)
    ok(wait_for(lambda: router_sent("Resent by its number") == 1 and row_state("Resent by its number") == 6,
                "the message resent from the control room", 60),
       "!resend ID in the control room sends it: once, row 'sent'")
    request("POST", rt + "/test/send-fault", b"busy")
    owner_reply(r3, "h5", "Router busy")
    ok(wait_for(lambda: router_sent("Router busy") == 1 and row_state("Router busy") == 6, "the busy one", 60),
       "the router busy (113053): kept queued, sent on the next attempt")
    ok(not any("Not sent" in n for n in notices(r3)), "no \"Not sent\" notice anywhere")
    ok(bridge.terminate() == 0, "SIGTERM: exits 0")
finally:
    procs = [mmsc_proc, modem.proc, hs.proc] + ([router] if router else [])
    rc = finish(tap, bridge, procs, tmp) if not mounted else None
    if mounted:
        bridge.close(tap.failed)
        for p in procs:
            stop(p)
        subprocess.run(["umount", "-l", disk])
        rc = tap.done()
        if not tap.failed:
            shutil.rmtree(tmp, ignore_errors=True)
sys.exit(rc)
