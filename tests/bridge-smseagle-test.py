#!/usr/bin/python3
# libphonebridge tests — pb-bridged with the SMSEagle backend, against
# tests/emulators/smseagle-emulator.py and the homeserver emulator. Standard
# library only; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-smseagle-test.py PATH/TO/pb-bridged
#
# Checks: an SMS in the gateway's inbox arrives as m.text and leaves the
# inbox; a 3-part message (one inbox row per part with its UDH, as Gammu
# keeps them; parts arriving out of order) arrives once, joined, and only
# when every part is there; the owner's reply leaves through the API v2
# send; with deletes failing (the rows stay and are read again and again),
# SIGKILL and restart lose nothing and double nothing; deletes working
# again, the rows the journal already holds leave the inbox.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import Bridge, Tap, emulator, finish, make_homeserver, request, scratch, wait_for  # noqa: E402

DAEMON = sys.argv[1]
PEER, PEER2 = "+4915112345678", "+4917098765432"
t = Tap()
tmp = scratch("pb-bridge-smseagle-")
hs = make_homeserver()
eagle, EG = emulator("smseagle", "--token", "eagle-token")


def eg(path, body=None):
    """GET @path on the gateway, or POST @body (JSON) to it."""
    return request("GET" if body is None else "POST", EG + path, body)


def add(sender, text, udh=""):
    return eg("/test/add", {"SenderNumber": sender, "TextDecoded": text, "UDH": udh})["ID"]


b = Bridge(DAEMON, tmp, hs, "backend = smseagle\nurl = %s\ntoken_file = %s\npoll_interval_ms = 300"
           % (EG, os.path.join(tmp, "eagle.token")))
b.secret("eagle.token", "eagle-token")
owner = hs.login("bob", "builder")
try:
    b.start()
    add(PEER, "Hello through the eagle")
    t.ok(wait_for(lambda: hs.bodies() == ["Hello through the eagle"], "the SMS in Matrix"),
         "an SMS in the SMSEagle inbox arrives as m.text")
    t.ok(wait_for(lambda: eg("/test/inbox") == [], "the inbox emptied"), "and leaves the gateway's inbox")

    # a 3-part message, parts 3 and 1 first: nothing until part 2 is there
    parts = ["The gateway keeps every part ", "of a long message as a row ", "of its own."]
    ids = [None] * 3
    ids[2] = add(PEER, parts[2], "050003C40303")
    ids[0] = add(PEER, parts[0], "050003C40301")
    add(PEER2, "Meanwhile from someone else")
    t.ok(wait_for(lambda: "Meanwhile from someone else" in hs.bodies(), "the other message"),
         "a message behind the incomplete one is not held up")
    t.ok(not any(x and x.startswith("The gateway") or x == "of its own." for x in hs.bodies())
         and set(ids[0::2]) <= set(eg("/test/inbox")),
         "two of three parts: nothing posted, the parts stay in the inbox")
    ids[1] = add(PEER, parts[1], "050003C40302")
    t.ok(wait_for(lambda: "".join(parts) in hs.bodies(), "the joined message"),
         "the third part arrives: one m.text, the parts joined in order")
    t.ok(wait_for(lambda: not set(ids) & set(eg("/test/inbox")), "the parts deleted"),
         "all three rows leave the inbox")
    t.ok(sum(1 for x in hs.bodies() if x and parts[0].strip() in x) == 1, "once")

    # the owner's reply
    rid = next(r for r, c in hs.bot_messages() if c.get("body") == "Hello through the eagle")
    hs.owner_says(owner, rid, "e1", "Reply through the eagle")
    t.ok(wait_for(lambda: {"to": [PEER], "text": "Reply through the eagle"} in
                  [{"to": s.get("to"), "text": s.get("text")} for s in eg("/test/sent")], "the reply"),
         "the owner's reply leaves through API v2 (messages/sms)")

    # deletes fail: the rows stay and are read again on every pass and after restarts
    eg("/test/keep", {"keep": True})
    kept = ["kept %d" % i for i in range(3)]
    for x in kept:
        add(PEER, x)
    wait_for(lambda: "kept 0" in hs.bodies(), "the first kept message")
    b.kill()
    b.start()
    add(PEER, "after the restart")
    want = ["Hello through the eagle", "".join(parts), "Meanwhile from someone else"] + kept + ["after the restart"]
    t.ok(wait_for(lambda: sorted(hs.bodies()) == sorted(want), "every message once after the restart"),
         "SIGKILL and restart while the rows stay in the inbox: nothing lost, nothing twice")
    eg("/test/keep", {"keep": False})
    t.ok(wait_for(lambda: eg("/test/inbox") == [], "the inbox emptied again"),
         "deletes working again: the rows journaled before the restart leave the inbox")
    t.ok(sorted(hs.bodies()) == sorted(want), "and still nothing twice")
    t.ok(b.terminate() == 0, "SIGTERM: exits 0")
finally:
    rc = finish(t, b, (eagle, hs.proc), tmp)
sys.exit(rc)
