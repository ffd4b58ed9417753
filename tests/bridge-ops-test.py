#!/usr/bin/python3
# libphonebridge tests — pb-bridged's delivery reports and `!contacts
# import`, end to end against the AT modem emulator, the HiLink router
# emulator and the homeserver emulator. Standard library only; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-ops-test.py PATH/TO/pb-bridged
#
# Checks (AT): the owner's SMS asks for a status report; the report puts a
# "✓" reaction on the owner's event; a 3-part SMS keeps the three parts'
# references and gets one reaction, only after the last part's report; a
# "still trying" report changes nothing until the final one; failed and
# expired reports give notices; a report for a reference nobody waits for
# is dropped (and the modem entry is deleted); a report journaled but not
# yet shown survives SIGKILL and appears once; the same report shown again
# after a simulated crash between the Matrix send and the journal commit is
# not doubled (transaction id); `delivery_reports = no` asks for none.
# (HiLink): the router's report entries (SmsType 7/8, no reference) are
# matched to the oldest message sent to that number.
# (contacts): a vCard and a CSV file imported in the control room (file
# after the command, with the command as caption, as a reply to the command
# when the 10 minutes are past), rooms renamed, a count of imported and
# skipped lines with reasons; an unannounced file gets a hint.
import os
import sqlite3
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bridge_env  # noqa: E402
from bridge_env import (BOT, OWNER, AtModem, Daemon, Homeserver, Tap, bridge_config,  # noqa: E402
                        emulator, finish, login, request, secret_file, wait_for)
from bridge_pdu import deliver7, submit_text  # noqa: E402

DAEMON = sys.argv[1]
PEER, PEER2 = "+4915112345678", "+4917098765432"
CHECK = "\u2713"

tap = Tap()
ok = tap.ok

tmp = tempfile.mkdtemp(prefix="pb-bridge-ops-")
homeserver = Homeserver()
HS = homeserver.url
modem = AtModem(tmp, "modem")
at_ctl, at_sent = modem.ctl, modem.sent
router, RT = emulator("hilink", "--delivery-reports", "ok")


def http(method, url, body=None, token=None, raw=None, ctype="application/json"):
    """request() to @url, or to the homeserver's @url when it is a path."""
    return request(method, url if url.startswith("http") else HS + url,
                   raw if raw is not None else body, token, ctype)


def secret(name, value):
    return secret_file(os.path.join(tmp, name), value)


owner_token = login(HS, "bob", "builder")
token_file = secret("matrix.token", login(HS, "alice", "wonderland") + "\n")
store = os.path.join(tmp, "bridge.db")
config = os.path.join(tmp, "bridge.ini")


def write_config(reports=True):
    bridge_config(config, modem.config(), HS, token_file, store, "",
                  "store_sync = normal\ndelivery_reports = %s" % ("yes" if reports else "no"))


bridged = Daemon(DAEMON, tmp, config)
start, kill = bridged.start, bridged.kill


def synced(path=None):
    """The daemon has done its first sync (what comes after is news to it)."""
    def have():
        try:
            db = sqlite3.connect(path or store)
            try:
                return db.execute("SELECT 1 FROM kv WHERE key = 'matrix.next_batch'").fetchall()
            finally:
                db.close()
        except sqlite3.Error:
            return None
    return wait_for(have, "the daemon's first sync")


def stop():
    bridged.terminate()


def events(rid=None):
    st = http("GET", "/_test/stats")["events"]
    return [e for r_, evs in st.items() if rid is None or r_ == rid for e in evs]


def reactions(event_id):
    return [e for e in events() if e["type"] == "m.reaction" and e["sender"] == BOT
            and e["content"].get("m.relates_to", {}).get("event_id") == event_id]


def notices(rid):
    return [e["content"]["body"] for e in events(rid)
            if e["type"] == "m.room.message" and e["sender"] == BOT and e["content"].get("msgtype") == "m.notice"]


def room_name(rid):
    names = [e["content"]["name"] for e in events(rid) if e["type"] == "m.room.name"]
    return names[-1] if names else None


def rooms():
    return list(http("GET", "/_test/stats")["rooms"])


def send(rid, body, txn, content=None):
    return http("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/%s" % (urllib.parse.quote(rid), txn),
                content or {"msgtype": "m.text", "body": body}, owner_token)["event_id"]


# the AT modem's delivery reports in the journal (their kind: the bridge's table)
REPORTS = ("SELECT id FROM messages JOIN bridge_msg_kind k ON k.msg_id = messages.id "
           "WHERE backend = 'at' AND k.kind = 'report'")


def db_rows(sql, args=(), path=None):
    return bridge_env.db_rows(path or store, sql, *args)


def srr(hexpdu):
    b = bytes.fromhex(hexpdu)
    return bool(b[1 + b[0]] & 0x20)


def report_pdu(number, mr, st):
    """SMSC + SMS-STATUS-REPORT as a modem shows it after +CDS."""
    from bridge_pdu import addr, semi
    ts = semi("24050110300000")
    return (bytes.fromhex("07911326040000F0") + bytes([0x06, mr]) + addr(number) + ts + ts
            + bytes([st])).hex().upper()


try:
    write_config()
    start()
    # a conversation room: an SMS from the peer
    at_ctl("deliver " + deliver7(PEER, "Hi, it's me", 1))
    rid = wait_for(lambda: next((r_ for r_ in rooms() if room_name(r_) == PEER), None), "the contact's room")
    # the room is the contact's once the SMS is in it (a message written
    # before the bridge has noted the room is ignored: a race of its own)
    wait_for(lambda: [e for e in events(rid) if e["type"] == "m.room.message" and e["sender"] == BOT],
             "the first SMS in its room")
    http("POST", "/_matrix/client/v3/join/" + urllib.parse.quote(rid), {}, owner_token)
    synced()

    # --- 1. a single SMS: reported delivered -> a reaction on the event -------
    before = len(at_sent())
    ev1 = send(rid, "Did you get this?", "r1")
    sent = wait_for(lambda: len(at_sent()) > before and at_sent(), "the SMS on the modem")
    ok(sent and srr(sent[-1]) and submit_text(sent[-1]) == (PEER, "Did you get this?"),
       "the owner's SMS leaves asking for a status report (TP-SRR)")
    got = wait_for(lambda: reactions(ev1), "the reaction")
    ok(got and len(got) == 1 and got[0]["content"]["m.relates_to"] == {
        "rel_type": "m.annotation", "event_id": ev1, "key": CHECK},
       "the delivery report puts a \u2713 reaction (m.annotation) on the owner's event")
    row = db_rows("SELECT state, ref FROM messages WHERE event_id = ?", (ev1,))
    ok(row and row[0][0] == 6 and row[0][1].isdigit(), "the journal row is 'sent' with its message reference")

    # --- 2. a 3-part SMS: every part's reference, one reaction after the last --
    at_ctl("reports pending")  # each part: first "still trying", then delivered
    before = len(at_sent())
    long_text = "Three parts: " + "0123456789" * 40
    ev2 = send(rid, long_text, "r2")
    sent = wait_for(lambda: len(at_sent()) >= before + 3 and at_sent(), "three parts on the modem")
    ok(sent and len(sent) == before + 3 and all(srr(h) for h in sent[before:]), "three parts, each asking for a report")
    ok(wait_for(lambda: reactions(ev2), "the reaction on the long one"), "the 3-part SMS gets its reaction")
    row = db_rows("SELECT ref FROM messages WHERE event_id = ?", (ev2,))
    ok(row and len(row[0][0].split(",")) == 3, "the journal row keeps the three parts' references (%s)"
       % (row[0][0] if row else "?"))
    reps = db_rows(REPORTS.replace("SELECT id", "SELECT state, ref") + " ORDER BY id")
    ok(len([r_ for r_ in reps if r_[1] == "pending"]) == 3 and len(reps) == 1 + 6,
       "six reports for it (3 'still trying', 3 delivered), all journaled")
    ok(len(reactions(ev2)) == 1, "one reaction only")
    at_ctl("reports ok")

    # --- 3. failed and expired: notices ----------------------------------------
    at_ctl("reports fail")
    ev3 = send(rid, "This one fails", "r3")
    ok(wait_for(lambda: [b for b in notices(rid) if b.startswith("Not delivered:") and "This one fails" in b],
                "the failure notice"), "a failed report gives a notice in the room")
    at_ctl("reports expired")
    ev4 = send(rid, "This one expires", "r4")
    ok(wait_for(lambda: [b for b in notices(rid) if b.startswith("Not delivered (expired)")
                         and "This one expires" in b], "the expiry notice"),
       "an expired report gives a notice saying so")
    ok(not reactions(ev3) and not reactions(ev4), "no reaction on those")
    at_ctl("reports ok")

    # --- 4. a report for a reference nobody waits for: logged and dropped ------
    at_ctl("reports none")
    n_events = len(events())
    at_ctl("report " + report_pdu("+4930999888", 77, 0))
    ok(wait_for(lambda: db_rows(REPORTS.replace("SELECT id", "SELECT state, last_error")
                                + " AND peer = '+4930999888'") == [(8, "unknown reference")], "the dropped report"),
       "a report for an unknown reference is journaled, then dropped")
    ok(len(events()) == n_events, "nothing in Matrix for it")
    at_ctl("reports ok")

    # --- 5. SIGKILL with a report journaled, not yet shown: shown once ------
    http("POST", "/_test/fault", {"kind": "500", "count": 3, "path": "/send/m.reaction/"})
    ev5 = send(rid, "Crash before the reaction", "r5")
    wait_for(lambda: db_rows(REPORTS + " AND state = 2"),
             "the report in the journal")
    kill()
    ok(db_rows(REPORTS.replace("SELECT id", "SELECT count(*)") + " AND state = 2")[0][0] >= 1
       or reactions(ev5), "the report was in the journal when the daemon died")
    start()
    ok(wait_for(lambda: reactions(ev5), "the reaction after the restart"), "after the restart the reaction comes")

    # --- 6. a crash between the Matrix send and the commit: not doubled ------
    stop()
    out_id, refs = db_rows("SELECT id, ref FROM messages WHERE event_id = ?", (ev5,))[0]
    rep_id = db_rows(REPORTS + " AND state = 3 ORDER BY id DESC LIMIT 1")[0][0]
    db = sqlite3.connect(store)
    db.execute("UPDATE messages SET state = 2 WHERE id = ?", (rep_id,))
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("INSERT OR REPLACE INTO bridge_dr_ref (peer, ref, msg_id) VALUES (?, ?, ?)",
               (PEER, int(refs), out_id))
    db.commit()
    db.close()
    start()
    ok(wait_for(lambda: db_rows("SELECT state FROM messages WHERE id = ?", (rep_id,)) == [(3,)], "the replay"),
       "the report is shown again after the simulated crash")
    ok(len(reactions(ev5)) == 1, "still one reaction (the same transaction id)")

    # --- 7a. !contacts import: a vCard after the command ----------------------
    ctl0 = db_rows("SELECT value FROM kv WHERE key = 'bridge.control_room'")[0][0]
    http("POST", "/_matrix/client/v3/join/" + urllib.parse.quote(ctl0), {}, owner_token)

    def upload(data, name, ctype):
        return http("POST", "/_matrix/media/v3/upload?filename=" + name, raw=data, token=owner_token,
                    ctype=ctype)["content_uri"]

    def contact(number):
        r_ = db_rows("SELECT display_name FROM contacts WHERE number = ?", (number,))
        return r_[0][0] if r_ else None

    vcf = ("BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Beispiel;Anna=C3=\r\n=A4\r\n"
           "TEL;CELL:0151 12345678\r\nEND:VCARD\r\n"
           "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Carl\r\n  Otto\r\nTEL:+49 30 9876543\r\nTEL:12\r\nEND:VCARD\r\n"
           "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Nobody\r\nEMAIL:n@example.org\r\nEND:VCARD\r\n").encode()
    url = upload(vcf, "contacts.vcf", "text/vcard")
    send(ctl0, "!contacts import", "k1")
    ok(wait_for(lambda: [b for b in notices(ctl0) if b.startswith("Send the contacts file")], "the import prompt"),
       "!contacts import asks for the file")
    send(ctl0, None, "k2", {"msgtype": "m.file", "body": "contacts.vcf", "url": url,
                            "info": {"mimetype": "text/vcard", "size": len(vcf)}})
    summary = wait_for(lambda: [b for b in notices(ctl0) if b.startswith("Imported")], "the import answer")
    print("# " + (summary[0].replace("\n", " | ") if summary else "?"), flush=True)
    ok(summary and summary[0].startswith("Imported 2 numbers from contacts.vcf (vCard): 1 new, 1 renamed")
       and "Skipped 2:" in summary[0] and "line 14: Nobody: no phone number" in summary[0]
       and "line 7: Carl Otto: \"12\" is not a phone number" in summary[0],
       "the vCard is imported; the answer counts new and renamed numbers and gives each skipped line's reason")
    ok(contact(PEER) == "Anna\u00e4 Beispiel" and contact("+49309876543") == "Carl Otto",
       "the numbers are saved normalised with the region, with their (QUOTED-PRINTABLE, folded) names")
    ok(wait_for(lambda: room_name(rid) == contact(PEER), "the rename"), "the contact's existing room is renamed")

    # --- 7b. a CSV file with "!contacts import" as its caption ----------------
    csv = ('Name,Phone 1 - Type,Phone 1 - Value\r\n"Dora, the Explorer",Mobile,+4917011112222 ::: 0171 3334444\r\n'
           'Carl Otto,Work,+49 30 9876543\r\n').encode()
    url = upload(csv, "google.csv", "text/csv")
    send(ctl0, None, "k3", {"msgtype": "m.file", "body": "!contacts import", "filename": "google.csv", "url": url,
                            "info": {"mimetype": "text/csv"}})
    ok(wait_for(lambda: [b for b in notices(ctl0) if b.startswith("Imported 3 numbers from google.csv (CSV): "
                                                                 "2 new, 0 renamed (their rooms too), 0 updated, "
                                                                 "1 unchanged.")], "the CSV answer"),
       "a CSV file with the command as its caption is imported")
    ok(contact("+491713334444") == "Dora, the Explorer", "Google's ' ::: ' lists give every number")
    # a contacts file nobody announced: a hint, nothing imported
    send(ctl0, None, "k4", {"msgtype": "m.file", "body": "other.csv", "url": url, "info": {"mimetype": "text/csv"}})
    ok(wait_for(lambda: [b for b in notices(ctl0) if b.startswith("To import this file as contacts")], "the hint"),
       "an unannounced .csv gets a hint, not an import")
    # --- 7c. the file as a reply to the command (the 10 minutes long past) ---
    ev_k6 = send(ctl0, "!contacts import", "k6")
    wait_for(lambda: len([b for b in notices(ctl0) if b.startswith("Send the contacts file")]) == 2, "prompt 2")
    db = sqlite3.connect(store)
    db.execute("UPDATE kv SET value = ? WHERE key = 'bridge.import.wait'", ("%s\t%s\t1" % (OWNER, ev_k6),))
    db.commit()
    db.close()
    vcf2 = b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Eve Reply\r\nTEL;VALUE=uri:tel:+49-40-1234567\r\nEND:VCARD\r\n"
    url2 = upload(vcf2, "eve.vcf", "text/vcard")
    send(ctl0, None, "k7", {"msgtype": "m.file", "body": "eve.vcf", "url": url2})
    ok(wait_for(lambda: len([b for b in notices(ctl0) if b.startswith("To import this file")]) == 2, "hint 2")
       and contact("+49401234567") is None, "after 10 minutes a file is no longer taken as the import")
    send(ctl0, None, "k8", {"msgtype": "m.file", "body": "eve.vcf", "url": url2,
                            "m.relates_to": {"m.in_reply_to": {"event_id": ev_k6}}})
    ok(wait_for(lambda: contact("+49401234567") == "Eve Reply", "the reply import"),
       "a file sent as a reply to !contacts import is imported")

    # a new conversation with an imported number is named after the contact
    send(ctl0, "!sms +4917011112222 Hello Dora", "k5")
    ok(wait_for(lambda: any(room_name(r_) == "Dora, the Explorer" for r_ in rooms()), "Dora's room"),
       "a new room for an imported number carries the contact's name")

    # --- 7. delivery_reports = no: none asked for ------------------------------
    stop()
    write_config(reports=False)
    start()
    before = len(at_sent())
    send(rid, "No report wanted", "r7")
    sent = wait_for(lambda: len(at_sent()) > before and at_sent(), "the SMS without report")
    ok(sent and not srr(sent[-1]), "delivery_reports = no: the SMS does not ask for a report")
    stop()
    write_config()

    # --- 8. HiLink: report entries without a reference ----------------------
    hl_store = os.path.join(tmp, "hilink.db")
    hl_conf = os.path.join(tmp, "hilink.ini")
    bridge_config(hl_conf, "backend = hilink\nurl = %s\nusername = admin\npassword_file = %s\npoll_interval_ms = 300"
                  % (RT, secret("router.pw", "secret")), HS, token_file, hl_store, "", "store_sync = normal")
    start(hl_conf)
    # the same bot with a new store: the bot's marked control room is found
    # again (rooms.c scans its joined rooms), not made twice; !sms starts the
    # contact's conversation there
    first_ctl = db_rows("SELECT value FROM kv WHERE key = 'bridge.control_room'")[0][0]
    def control_room_noted():
        try:
            return db_rows("SELECT value FROM kv WHERE key = 'bridge.control_room'", path=hl_store)
        except sqlite3.Error:  # the daemon has not made its schema yet
            return None
    got = wait_for(control_room_noted, "the control room noted")
    ctl = got[0][0] if got else None
    ok(ctl == first_ctl, "a second store finds the bot's control room again (no second room)")
    synced(hl_store)
    ev8 = send(ctl, "!sms %s Through the router" % PEER2, "h1")
    ok(wait_for(lambda: reactions(ev8), "the HiLink reaction"),
       "HiLink: the router's SmsType 7 entry puts the reaction on the !sms command")
    http("POST", RT + "/test/reports", raw=b"fail", ctype="text/plain")
    send(ctl, "!sms %s Fails through the router" % PEER2, "h2")
    ok(wait_for(lambda: [b for b in notices(ctl) if b.startswith("Not delivered:") and "Fails through" in b],
                "the HiLink failure"), "HiLink: an SmsType 8 entry gives a notice")
    state = http("GET", RT + "/test/state")
    ok(state["inbox"] == [], "the report entries were deleted from the router after the journal")
    stop()
finally:
    rc = finish(tap, bridged, (modem.proc, homeserver.proc, router), tmp)
sys.exit(rc)
