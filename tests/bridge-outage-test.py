#!/usr/bin/python3
# libphonebridge tests — the homeserver really gone: pb-bridged against the
# AT modem emulator and a homeserver emulator process that dies while
# messages arrive (in the middle of a send it has carried out but not
# answered), stays away for several retry/back-off cycles (connection
# refused), and comes back on the same port with the same state (its rooms,
# events, tokens and transaction ids, kept in a file). Standard library only;
# prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-outage-test.py PATH/TO/pb-bridged
#
# [matrix] retry_max_ms = 1000 makes one back-off cycle a few seconds, so
# several of them pass in tens of seconds; the test waits for the daemon's
# log to show them, and for conditions, never for fixed times.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import AtModem, Bridge, Homeserver, Tap, db_rows, finish, scratch, wait_for  # noqa: E402
from bridge_pdu import deliver7, deliver_ucs2_parts, submit_text  # noqa: E402

DAEMON = sys.argv[1]
PEER = "+4915112345678"
CYCLES = 3
t = Tap()
tmp = scratch("pb-bridge-outage-")
hs = Homeserver(state=os.path.join(tmp, "homeserver.state"))
at = AtModem(tmp)
n = [0]


def deliver(text):
    n[0] += 1
    if len(text) > 70:
        for p in deliver_ucs2_parts(PEER, text, 0x30 + n[0], n[0]):
            at.ctl("deliver " + p)
    else:
        at.ctl("deliver " + deliver7(PEER, text, n[0]))


def stored_rows():
    return db_rows(b.store, "SELECT COUNT(*) FROM messages WHERE dir = 1 AND state = 2")[0][0]


def sync_retries():
    return sum(1 for line in b.log_lines() if "sync again in" in line or "matrix: sync:" in line)


b = Bridge(DAEMON, tmp, hs, "backend = at\ndevice = %s\npoll_interval_ms = 500" % at.link, "retry_max_ms = 1000")
owner = hs.login("bob", "builder")
try:
    b.start()
    deliver("Before the outage")
    t.ok(wait_for(lambda: hs.bodies() == ["Before the outage"], "the first message"), "a first SMS arrives")

    # a burst; the homeserver dies while it answers the send of the burst's
    # first message: the event is in its state, the answer never left (the
    # bridge must send it again with the same transaction id, and the
    # restarted homeserver must not make a second event of it)
    hs.http("POST", "/_test/fault", {"kind": "crash", "path": "/send/m.room.message/pbin", "count": 1})
    burst = ["burst %d" % i for i in range(8)]
    for text in burst:
        deliver(text)
    t.ok(wait_for(lambda: hs.proc.poll() is not None, "the homeserver's crash"),
         "the homeserver process dies in the middle of the burst")
    during = ["while the homeserver is gone %d" % i for i in range(4)]
    during.insert(2, "a long message written while the homeserver is gone, " + "in three parts " * 8 + "end")
    for text in during:
        deliver(text)
    base = b.failed_rounds()
    t.ok(wait_for(lambda: b.failed_rounds() >= base + CYCLES, "%d failed delivery rounds" % CYCLES, 180),
         "the homeserver refuses connections for %d delivery rounds and their back-offs" % CYCLES)
    t.ok(sync_retries() > 0, "the sync thread retries too")
    t.ok(wait_for(lambda: stored_rows() >= len(during), "the messages journaled", 60),
         "meanwhile every message is taken off the modem into the journal (%d waiting)" % stored_rows())
    t.ok(b.proc.poll() is None, "the daemon keeps running")

    hs.start()  # same port, same state
    want = ["Before the outage"] + burst + during
    wait_for(lambda: len(hs.bodies()) >= len(want), "every message after the outage", 180)
    final = hs.bodies()
    t.ok(final == want, "back on the same port: every message arrived, in order, none twice (%d of %d)"
         % (len(final), len(want)))
    if final != want:
        print("# got: %r" % final)
    t.ok(wait_for(lambda: stored_rows() == 0, "the journal drained"), "nothing left waiting in the journal")

    # the other way: the sync thread is back too
    rid = next(r for r, c in hs.bot_messages() if c.get("body") == "Before the outage")
    before = len(at.sent())
    hs.owner_says(owner, rid, "after-outage", "Glad you are back")
    sent = wait_for(lambda: len(at.sent()) > before and at.sent(), "the reply on the modem", 120)
    t.ok(sent and submit_text(sent[-1]) == (PEER, "Glad you are back"),
         "the owner's reply after the outage leaves as an SMS")
    t.ok(b.terminate() == 0, "SIGTERM: exits 0")
finally:
    rc = finish(t, b, (at.proc, hs.proc), tmp)
sys.exit(rc)
