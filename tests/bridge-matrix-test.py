#!/usr/bin/python3
# libphonebridge tests — pb-bridged and the homeserver: the three bugs a real
# Synapse showed (issue 16), against the homeserver emulator, or against a
# real Synapse when tests/synapse.py runs it (the same body). Prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-matrix-test.py PATH/TO/pb-bridged
#
# 1. A room found again after a crash: the daemon stopped after the room was
#    made and before the store kept it (the store's room taken away while it
#    is down), restarted within the homeserver's 2-minute /sync cache: the
#    next message goes to the same room, no second room is made.
# 2. An owner's encrypted message in a contact room: a notice in the room,
#    a log line, no SMS.
# 3. A new journal with the old access token (the homeserver restarted in
#    between, where the emulator can be): the new journal's first message
#    arrives; its transaction id does not repeat the old journal's; its first
#    sync, not answered from the cache, does not replay the owner's events.
import os
import sqlite3
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bridge_env import AtModem, Bridge, Tap, finish, make_homeserver, wait_for  # noqa: E402
from bridge_pdu import deliver7, submit_text  # noqa: E402

DAEMON = sys.argv[1]
PEER = "+4915112345678"

tap = Tap()
ok = tap.ok
tmp = tempfile.mkdtemp(prefix="pb-bridge-matrix-")
hs = make_homeserver(state=os.path.join(tmp, "hs.state"))
print("# homeserver: %s" % ("emulator" if hs.faults else "real, " + hs.url), flush=True)
modem = AtModem(tmp)
bridged = Bridge(DAEMON, tmp, hs, modem.config())
owner = hs.login("bob", "builder")
n = 0


def sms(text):
    global n
    n += 1
    modem.ctl("deliver " + deliver7(PEER, text, n))


def rooms_with(text):
    return [rid for rid, c in hs.bot_messages() if c.get("body") == text]


def arrives(text):
    """An SMS with @text on the modem: the rooms it arrives in (None: it did not)."""
    sms(text)
    return wait_for(lambda: rooms_with(text), "%r in Matrix" % text, 90)


def peer_rooms():
    """The rooms named after PEER."""
    return sorted({rid for rid, evs in hs.stats()["events"].items() for e in evs
                   if e["type"] == "m.room.name" and e["content"].get("name") == PEER})


try:
    # --- 1. the room found again after a crash --------------------------------
    bridged.start()
    first = arrives("first")
    ok(first and len(first) == 1, "the first SMS arrives in a room")
    room = first[0] if first else None
    bridged.kill()
    db = sqlite3.connect(bridged.store)
    db.execute("UPDATE contacts SET room = NULL WHERE number = ?", (PEER,))
    db.commit()
    db.close()
    bridged.start()
    ok(arrives("second") == [room], "after the restart the next SMS goes to the same room (found by its marker)")
    ok(peer_rooms() == [room], "one room for the number, not two")

    # --- 2. an owner's encrypted message --------------------------------------
    q = urllib.parse.quote(room)
    hs.http("POST", "/_matrix/client/v3/join/" + q, {}, owner)
    sent_before = len(modem.sent())
    hs.http("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.encrypted/enc1" % q,
            {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEnAcsN6Fk0tJdhRz", "device_id": "OWNERDEV",
             "sender_key": "Q2FzZTogbm90IGEgcmVhbCBrZXk", "session_id": "c2Vzc2lvbg"}, owner)

    def notices():
        return [c.get("body", "") for rid, c in hs.bot_messages() if rid == room and c.get("msgtype") == "m.notice"]
    got = wait_for(lambda: [b for b in notices() if "cannot read encrypted messages" in b], "the notice", 60)
    ok(got and "nothing was sent" in got[0], "an encrypted message gets a notice in the room")
    ok(wait_for(lambda: bridged.log_has("encrypted message", "nothing was sent"), "the log line", 30),
       "and a log line")
    ok(len(modem.sent()) == sent_before, "no SMS leaves")

    # --- 3. a new journal with the old token ----------------------------------
    def new_journal(name):
        bridged.kill()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(bridged.store + suffix):
                os.rename(bridged.store + suffix, bridged.store + "." + name + suffix)

    def synced():
        """Has the journal's sync thread finished its first sync (history)?"""
        try:
            db = sqlite3.connect(bridged.store)
            row = db.execute("SELECT value FROM kv WHERE key = 'matrix.next_batch'").fetchone()
            db.close()
            return row is not None
        except sqlite3.Error:
            return False

    new_journal("old")
    if hs.faults:  # the emulator keeps its transaction ids across a restart, as Synapse does
        hs.kill()
        hs.start()
    bridged.start()
    ok(arrives("third") == [room], "a new journal's first message arrives (in the contact's room)")
    ok(rooms_with("first") == [room], "the old journal's first message is still there once")
    ok(wait_for(lambda: sorted(b for b in hs.bodies() if b in ("first", "second", "third")) ==
                ["first", "second", "third"], "three messages", 10),
       "every message once")
    # and once more, within the 2 minutes of Synapse's /sync cache: the newer
    # journal's first sync must not be answered with the older one's first
    # position, or the owner's events since then would be new to it (the
    # encrypted message answered twice, the owner's text sent again)
    wait_for(synced, "the journal's first sync", 60)
    sent_before = len(modem.sent())
    hs.owner_says(owner, room, "o1", "an answer from Matrix")
    ok(wait_for(lambda: len(modem.sent()) == sent_before + 1, "the answer as an SMS", 60),
       "the owner's answer leaves as an SMS")
    new_journal("older")
    if hs.faults:
        # the delivery thread's room scan answered late: the sync thread
        # must not take the owner's message in a room not yet found again
        # for a stranger's room (it waits for the scan)
        hs.http("POST", "/_test/fault", {"kind": "slow", "delay_ms": 1500, "count": 1, "path": "/sync",
                                         "query": "full_state=true"})
    bridged.start()
    wait_for(synced, "the newest journal's first sync", 60)
    # a barrier: the sync thread handles events in order and the modem sends
    # the oldest first, so once this one is out, a replayed one would be too
    hs.owner_says(owner, room, "o2", "a barrier")
    barrier = wait_for(lambda: [p for p in modem.sent() if submit_text(p)[1] == "a barrier"], "the barrier", 60)
    texts = [submit_text(p)[1] for p in modem.sent()]
    print("# SMS sent: %r" % texts, flush=True)
    ok(barrier and texts.count("an answer from Matrix") == 1
       and len([b for b in notices() if "cannot read encrypted messages" in b]) == 1,
       "a newer journal does not take the owner's old events for new ones")
    ok(bridged.terminate() == 0, "SIGTERM: exit 0")
finally:
    rc = finish(tap, bridged, (modem.proc,), tmp)
    hs.stop()
sys.exit(rc)
