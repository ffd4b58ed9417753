#!/usr/bin/python3
# libphonebridge tests — pb-bridged with the HiLink backend, against
# tests/emulators/hilink-emulator.py (login required) and the homeserver
# emulator. Standard library only; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-hilink-test.py PATH/TO/pb-bridged
#
# Checks: an SMS on the router arrives as m.text and leaves the router's
# inbox; the owner's reply goes out through sms/send-sms; the router forgets
# every login (as after a reboot) and the same daemon logs in again by itself;
# SIGKILL and restart doubles nothing. (The emulator refuses to delete the
# entries /test/add makes, so the watch reports every one of them again on
# each pass and after each restart: the journal's dedup is under test the
# whole time.)
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import (Bridge, Tap, emulator, finish, make_homeserver, request,  # noqa: E402
                        secret_file, wait_for)

DAEMON = sys.argv[1]
PEER = "+4915112345678"

tap = Tap()
ok = tap.ok

tmp = tempfile.mkdtemp(prefix="pb-bridge-hilink-")
homeserver = make_homeserver()
HS = homeserver.url
router, RT = emulator("hilink", "--require-login")
owner = homeserver.login("bob", "builder")
bridged = Bridge(DAEMON, tmp, homeserver, "backend = hilink\nurl = %s\nusername = admin\npassword_file = %s\n"
                 "poll_interval_ms = 300" % (RT, secret_file(os.path.join(tmp, "router.pw"), "secret")))
start, kill, bodies = bridged.start, bridged.kill, homeserver.bodies


def add(text, n):
    xml = ("<Message><Smstat>0</Smstat><Index>@INDEX@</Index><Phone>%s</Phone><Content>%s</Content>"
           "<Date>2024-05-01 10:%02d:00</Date><Sca></Sca><SaveType>4</SaveType><Priority>0</Priority>"
           "<SmsType>1</SmsType></Message>" % (PEER, text, n))
    request("POST", RT + "/test/add", xml.encode())


try:
    start()
    add("Hello through the router", 1)
    ok(wait_for(lambda: bodies() == ["Hello through the router"], "the SMS in Matrix"),
       "an SMS on the HiLink router arrives as m.text")
    st = homeserver.stats()
    rid = next(r for r, evs in st["events"].items() for e in evs if e["content"].get("body") == "Hello through the router")
    homeserver.owner_says(owner, rid, "h1", "Reply through the router")
    ok(wait_for(lambda: {"phone": PEER, "content": "Reply through the router"} in
                [{"phone": s.get("phone"), "content": s.get("content")} for s in request("GET", RT + "/test/sent")],
                "the reply on the router"), "the owner's reply leaves through sms/send-sms")
    request("POST", RT + "/test/logout", b"")
    add("After the router forgot us", 2)
    ok(wait_for(lambda: "After the router forgot us" in bodies(), "the message after the logout", 120),
       "the router forgets every login (as after a reboot): the same daemon logs in again")
    ok(bridged.running(), "without a restart")
    add("Before the kill", 3)
    time.sleep(0.3)
    kill()
    start()
    ok(wait_for(lambda: "Before the kill" in bodies(), "the message around the kill", 60) and
       sorted(bodies()) == sorted(set(bodies())) and len(bodies()) == 3,
       "SIGKILL and restart, entries the router keeps: nothing lost, nothing twice")
    ok(bridged.terminate() == 0, "SIGTERM: exits 0")
finally:
    rc = finish(tap, bridged, (router, homeserver.proc), tmp)
sys.exit(rc)
