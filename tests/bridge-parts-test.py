#!/usr/bin/python3
# libphonebridge tests — pb-bridged and messages that are not whole, or that
# come twice for real, against the AT modem emulator and the homeserver
# emulator. Standard library only; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-parts-test.py PATH/TO/pb-bridged
#
# Checks: a genuine identical second SMS (same sender, text and time stamp,
# the AT index reused after the first was deleted) arrives as a second
# message; a 3-part SMS whose part 2 never comes is delivered after
# [modem] incomplete_timeout_ms with "[part 2 of 3 missing]" where the part
# would be, its parts staying on the modem until then, the timeout counted
# from the first sighting across a SIGKILL; SIGKILLs at random moments while
# incomplete messages wait and come out lose none and double none; the same
# through a HiLink router (a SmsType 2 entry that never completes) and an
# SMSEagle (a group with a row missing), each with a SIGKILL while waiting.
import os
import random
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import (AtModem, Bridge, Homeserver, Tap, db_rows, emulator, finish, request, scratch,  # noqa: E402
                        secret_file, stop, wait_for)
from bridge_pdu import deliver7, deliver_ucs2_parts  # noqa: E402

DAEMON = sys.argv[1]
PEER = "+4915112345678"
TIMEOUT_S = 4
t = Tap()
tmp = scratch("pb-bridge-parts-")
hs = Homeserver()
at = AtModem(tmp)
b = Bridge(DAEMON, tmp, hs, "backend = at\ndevice = %s\npoll_interval_ms = 500\nincomplete_timeout_ms = %d"
           % (at.link, TIMEOUT_S * 1000))


def storage():
    """The indexes the modem holds."""
    at.ctl("storage?")
    return [i for i in at.out.get("STORAGE", 30)[8:].split(",") if i]


def db_count_at(path, sql):
    try:
        return db_rows(path, sql)[0][0]
    except sqlite3.OperationalError:
        return -1  # not created yet


def db_count(sql):
    return db_count_at(b.store, sql)


procs, nonlocal_b = [], [None]


def saved_parts():
    return db_count("SELECT COUNT(*) FROM sms_parts WHERE group_key LIKE 'w1:%'")


def settled():
    """Nothing on the modem, no part waiting, the journal drained."""
    return (not storage() and saved_parts() == 0
            and db_count("SELECT COUNT(*) FROM messages WHERE dir = 1 AND state = 2") == 0)


def long_text(tag):
    return ("%s: a long message in three parts, sent by an old phone to a new bridge, whose middle "
            "part the network never delivers; the rest must still arrive, once. End." % tag)


def chunks(text):
    step = -(-len(text) // 3)
    return [text[i:i + step] for i in range(0, len(text), step)]


try:
    b.start()
    # --- 1. the same SMS twice, the index reused --------------------------------
    pdu = deliver7(PEER, "Same text again", 1)
    at.ctl("deliver " + pdu)
    t.ok(wait_for(lambda: hs.bodies() == ["Same text again"], "the first one"), "an SMS arrives")
    t.ok(wait_for(lambda: not storage(), "the modem emptied"), "and leaves the modem")
    at.ctl("deliver " + pdu)  # index 1 again: the same key as the first
    t.ok(wait_for(lambda: len(hs.bodies()) == 2, "the second one", 60),
         "a genuine identical second SMS (same index, text, time stamp) arrives too")
    t.ok(wait_for(settled, "settled") and hs.bodies() == ["Same text again"] * 2, "exactly twice")

    # --- 2. a part that never comes, and a SIGKILL while waiting ----------------
    text = long_text("A")
    parts = deliver_ucs2_parts(PEER, text, 0x61, 2)
    t0 = time.monotonic()
    at.ctl("deliver " + parts[0])
    at.ctl("deliver " + parts[2])
    t.ok(wait_for(lambda: saved_parts() == 2, "the parts saved"), "the parts seen are saved in the store")
    b.kill()
    t.ok(len(storage()) == 2, "killed while waiting: the parts are still on the modem")
    b.start()
    marker = "[part 2 of 3 missing]"
    got = wait_for(lambda: next((x for x in hs.bodies() if marker in x), None), "the incomplete message", 90)
    t1 = time.monotonic()
    c = chunks(text)
    t.ok(got and got.startswith(c[0] + " " + marker + " " + c[2]),
         "delivered with what arrived and a marker where part 2 belongs")
    if got:
        print("# " + got.replace("\n", " / "))
    t.ok(t1 - t0 >= TIMEOUT_S, "not before the timeout (%.1f s after the parts came)" % (t1 - t0))
    t.ok(t1 - t0 < TIMEOUT_S + 45, "the timeout counted from the first sighting, across the kill")
    t.ok(wait_for(settled, "settled"), "then its parts leave the modem and the store")
    t.ok(sum(1 for x in hs.bodies() if marker in x) == 1, "delivered once")

    # --- 3. SIGKILL at random moments while incomplete messages come out --------
    rnd = random.Random(17)
    texts = [long_text("K%d" % i) for i in range(3)]
    for i, tx in enumerate(texts):
        p = deliver_ucs2_parts(PEER, tx, 0x70 + i, 10 + i)
        at.ctl("deliver " + p[0])
        at.ctl("deliver " + p[2])
    end = time.monotonic() + TIMEOUT_S + 6
    kills = 0
    while time.monotonic() < end or kills < 3:
        time.sleep(rnd.uniform(0.3, 2.5))  # a random moment, not a wait for a condition
        b.kill()
        kills += 1
        last_start = len(b.log_lines())
        b.start()
    want = [tx.split(":")[0] for tx in texts]
    wait_for(lambda: all(any(x.startswith(w + ":") for x in hs.bodies()) for w in want), "every message", 120)
    t.ok(wait_for(settled, "settled", 120), "after %d SIGKILLs: nothing left on the modem or in the store" % kills)
    got = [w for w in want for x in hs.bodies() if x.startswith(w + ":")]
    t.ok(got == want, "each incomplete message delivered exactly once (%r)" % got)
    # the last start has come up whole (its modem open) before the SIGTERM
    wait_for(lambda: any("modem: at open" in x for x in b.log_lines()[last_start:]), "the last start up")
    st = b.terminate()
    t.ok(st == 0, "SIGTERM: exits 0 (%r)" % st)
    b.close(False)

    # --- 4. a HiLink SmsType 2 entry and an SMSEagle group that never complete --
    def box_case(name, modem, add, inbox, text, marker):
        nonlocal_b[0] = Bridge(DAEMON, os.path.join(tmp, name), hs, modem + "\npoll_interval_ms = 300\n"
                               "incomplete_timeout_ms = %d" % (TIMEOUT_S * 1000))
        bb = nonlocal_b[0]
        bb.start()
        t0 = time.monotonic()
        add()
        t.ok(wait_for(lambda: bb.store and db_count_at(bb.store, "SELECT COUNT(*) FROM sms_parts") == 1,
                      "the entry's sighting saved"), "%s: the incomplete entry's first sighting is saved" % name)
        bb.kill()
        bb.start()
        got = wait_for(lambda: next((x for x in hs.bodies() if x.startswith(text)), None), name, 90)
        t.ok(got and (marker is None or marker in got) and "(incomplete:" in got,
             "%s: delivered with what arrived, marked, %.1f s after it came" % (name, time.monotonic() - t0))
        t.ok(time.monotonic() - t0 >= TIMEOUT_S, "%s: not before the timeout" % name)
        t.ok(wait_for(lambda: inbox() == [] and db_count_at(bb.store, "SELECT COUNT(*) FROM sms_parts") == 0,
                      "%s emptied" % name), "%s: then it leaves the box and the store" % name)
        t.ok(sum(1 for x in hs.bodies() if x.startswith(text)) == 1, "%s: once" % name)
        t.ok(bb.terminate() == 0, "%s: SIGTERM: exits 0" % name)
        bb.close(t.failed)
        nonlocal_b[0] = None

    router, RT = emulator("hilink")
    procs.append(router)
    os.makedirs(os.path.join(tmp, "hilink"))
    box_case("hilink", "backend = hilink\nurl = %s\nlogin = none" % RT,
             lambda: request("POST", RT + "/test/add-sms?phone=%2B4915112345678&smstype=2&complete=never",
                             b"Router joined part one and three", ctype="text/plain"),
             lambda: request("GET", RT + "/test/state")["inbox"], "Router joined part one", None)

    eagle, EG = emulator("smseagle", "--token", "eagle-token")
    procs.append(eagle)
    os.makedirs(os.path.join(tmp, "eagle"))
    tok = secret_file(os.path.join(tmp, "eagle", "eagle.token"), "eagle-token")

    def eagle_add():
        for seq, tx in ((1, "Eagle part one, "), (3, "part three.")):
            request("POST", EG + "/test/add", {"SenderNumber": PEER, "TextDecoded": tx,
                                               "UDH": "05000327030%d" % seq})

    box_case("eagle", "backend = smseagle\nurl = %s\ntoken_file = %s" % (EG, tok), eagle_add,
             lambda: request("GET", EG + "/test/inbox"), "Eagle part one,", "[part 2 of 3 missing]")
finally:
    for p in procs:
        stop(p)
    if nonlocal_b[0] is not None:
        nonlocal_b[0].close(t.failed)
    rc = finish(t, b, (at.proc, hs.proc), tmp)
sys.exit(rc)
