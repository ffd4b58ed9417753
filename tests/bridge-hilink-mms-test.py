#!/usr/bin/python3
# libphonebridge tests — picture messages through a HiLink router: pb-bridged
# against tests/emulators/hilink-emulator.py, the test MMSC and the homeserver
# emulator. Standard library only; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-hilink-mms-test.py PATH/TO/pb-bridged
#
# A HiLink router takes the WAP push of an MMS notification itself and puts
# it into the SMS inbox as a SmsType 5 entry, the push inside <Content>
# (raw bytes with C0 controls, which a strict XML parser refuses; other
# firmware spells the bytes as Latin-1 characters, hex or base64). Checks:
# each spelling ends as the picture (m.image) and its text in the contact's
# room, fetched from the MMSC and answered there; so does a push whose
# Content-Location the router cut to its path (an [mmsc] rewrite rule); the
# entries leave the router; an SMS behind them still arrives, after them;
# SIGKILL and restart fetch nothing again and post nothing twice.
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import (Bridge, Mmsc, Tap, emulator, finish, make_homeserver, request, scratch,  # noqa: E402
                        wait_for)

DAEMON = sys.argv[1]
PB_MMS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(DAEMON))), "pb-mms")
PEER = "+4915112345678"
t = Tap()
tmp = scratch("pb-bridge-hilink-mms-")
hs = make_homeserver()
mmsc = Mmsc(tmp)
router, RT = emulator("hilink", "--require-login")


def rt(path, body=b""):
    request("POST", RT + path, body)


def inbox():
    return request("GET", RT + "/test/state")["inbox"]


def pictures():
    return [c for _, c in hs.bot_messages() if c.get("msgtype") == "m.image"]


def captions():
    return [b for b in hs.bodies() if b and b.startswith("Holiday photo")]


b = Bridge(DAEMON, tmp, hs, "backend = hilink\nurl = %s\nusername = admin\npassword_file = %s\npoll_interval_ms = 300"
           % (RT, os.path.join(tmp, "router.pw")),
           "[mmsc]\nurl = %s/mms\nrewrite = base=%s keep=path" % (mmsc.url, mmsc.url))
b.secret("router.pw", "secret")
try:
    b.start()
    spellings = ["raw", "latin1", "hex", "base64"]
    for i, enc in enumerate(spellings):
        push = mmsc.push(PB_MMS, "T-hilink-%d" % i, PEER)
        rt("/test/add-mms?phone=%s&encoding=%s&date=2024-05-01+11:0%d:00" % (urllib.request.quote(PEER), enc, i),
           push)
        got = wait_for(lambda: len(pictures()) > i and pictures(), "the picture (%s)" % enc, 90)
        ok = bool(got) and got[-1]["url"].startswith("mxc://") and \
            got[-1].get("info", {}).get("mimetype", "").startswith("image/")
        t.ok(ok and wait_for(lambda: len(captions()) > i, "its text"),
             "SmsType 5 with the push as %s bytes in <Content>: m.image and its text in Matrix" % enc)
    # a router that cut the Content-Location to its path, without its NUL:
    # [mmsc] rewrite puts the MMSC's address back
    cut = subprocess.run([PB_MMS, "encode", "notification", "--transaction-id", "T-hilink-cut", "--location",
                          "/files/t/pic.mms", "--from", PEER, "--size", str(len(mmsc.picture)), "--push"],
                         capture_output=True, check=True).stdout
    assert cut.endswith(b"\x83/files/t/pic.mms\x00")
    rt("/test/add-mms?phone=%s&encoding=raw&date=2024-05-01+11:05:00" % urllib.request.quote(PEER), cut[:-1])
    t.ok(wait_for(lambda: len(pictures()) == 5 and len(captions()) == 5, "the picture with the cut location", 90),
         "the push with only the path of the Content-Location (unterminated): fetched through the rewrite rule")
    rooms = {r for r, c in hs.bot_messages() if c.get("msgtype") in ("m.image", "m.text")}
    t.ok(len(rooms) == 1, "all in the contact's one room")
    reqs = mmsc.requests()
    gets = [r for r in reqs if r["method"] == "GET" and r["path"].endswith("/pic.mms")]
    posts = [r for r in reqs if r["method"] == "POST"]
    t.ok(len(gets) == 5 and len(posts) == 5, "fetched from the MMSC once each and answered (M-NotifyResp.ind): "
         "%d GET, %d POST" % (len(gets), len(posts)))
    t.ok(wait_for(lambda: inbox() == [], "the router's inbox emptied"), "the entries left the router's inbox")

    rt("/test/add", ("<Message><Smstat>0</Smstat><Index>@INDEX@</Index><Phone>%s</Phone><Content>After the "
                     "pictures</Content><Date>2024-05-01 11:10:00</Date><Sca></Sca><SaveType>4</SaveType>"
                     "<Priority>0</Priority><SmsType>1</SmsType></Message>" % PEER).encode())
    t.ok(wait_for(lambda: hs.bodies()[-1:] == ["After the pictures"], "the SMS after the pictures"),
         "an SMS behind them arrives after them")

    b.kill()
    before = len(hs.bot_messages())
    b.start()
    rt("/test/add", ("<Message><Smstat>0</Smstat><Index>@INDEX@</Index><Phone>%s</Phone><Content>After the "
                     "restart</Content><Date>2024-05-01 11:11:00</Date><Sca></Sca><SaveType>4</SaveType>"
                     "<Priority>0</Priority><SmsType>1</SmsType></Message>" % PEER).encode())
    t.ok(wait_for(lambda: "After the restart" in hs.bodies(), "the SMS after the restart"),
         "SIGKILL and restart: the daemon goes on")
    t.ok(len(hs.bot_messages()) == before + 1 and len(pictures()) == 5 and
         len([r for r in mmsc.requests() if r["method"] == "GET"]) == 5,
         "nothing fetched again, nothing posted twice")
    t.ok(b.terminate() == 0, "SIGTERM: exits 0")
finally:
    rc = finish(t, b, (router, hs.proc, mmsc.proc), tmp)
sys.exit(rc)
