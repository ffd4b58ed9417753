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
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

DAEMON = sys.argv[1]
ROOT = os.environ.get("PB_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), ".."))
PY = "/usr/bin/python3"
OWNER, BOT, PEER = "@bob:localhost", "@alice:localhost", "+4915112345678"
n_test = failed = 0


def ok(cond, what):
    global n_test, failed
    n_test += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n_test, what), flush=True)
    failed += 0 if cond else 1


def wait_for(pred, what, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    print("# timed out waiting for " + what, flush=True)
    return None


def first_line(proc, prefix):
    for line in proc.stdout:
        if line.startswith(prefix):
            return line.strip()
    raise SystemExit("no " + prefix)


def req(url, method="GET", body=None, token=None, raw=False):
    data = body if raw else (None if body is None else json.dumps(body).encode())
    r = urllib.request.Request(url, method=method, data=data)
    if token:
        r.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(r, timeout=60) as a:
        out = a.read()
    return out if raw else json.loads(out or b"{}")


tmp = tempfile.mkdtemp(prefix="pb-bridge-hilink-")
hs = subprocess.Popen([PY, os.path.join(ROOT, "tests/matrix-homeserver.py"), "--exit-on-eof"],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
HS = "http://127.0.0.1:%s" % first_line(hs, "port ").split()[1]
router = subprocess.Popen([PY, os.path.join(ROOT, "tests/emulators/hilink-emulator.py"), "--require-login"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
RT = "http://127.0.0.1:%s" % first_line(router, "READY ").split()[1]


def secret(name, value):
    path = os.path.join(tmp, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, value.encode())
    os.close(fd)
    return path


def login(u, p):
    return req(HS + "/_matrix/client/v3/login", "POST", {"type": "m.login.password", "password": p,
                                                          "identifier": {"type": "m.id.user", "user": u}})["access_token"]


owner = login("bob", "builder")
store = os.path.join(tmp, "b.db")
conf = os.path.join(tmp, "b.ini")
with open(conf, "w") as f:
    f.write("[modem]\nbackend = hilink\nurl = %s\nusername = admin\npassword_file = %s\npoll_interval_ms = 300\n"
            "[matrix]\nhomeserver = %s\ntoken_file = %s\nowners = %s\nsync_timeout_ms = 1000\n"
            "[bridge]\nstore = %s\nregion = DE\n"
            % (RT, secret("router.pw", "secret"), HS, secret("token", login("alice", "wonderland")), OWNER, store))
log = open(os.path.join(tmp, "daemon.log"), "a")
daemon = None


def start():
    global daemon
    daemon = subprocess.Popen([DAEMON, "-c", conf], stdout=log, stderr=log)


def kill():
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()


def add(text, n):
    xml = ("<Message><Smstat>0</Smstat><Index>@INDEX@</Index><Phone>%s</Phone><Content>%s</Content>"
           "<Date>2024-05-01 10:%02d:00</Date><Sca></Sca><SaveType>4</SaveType><Priority>0</Priority>"
           "<SmsType>1</SmsType></Message>" % (PEER, text, n))
    return req(RT + "/test/add", "POST", xml.encode(), raw=True).decode()


def bodies():
    st = req(HS + "/_test/stats")
    return [e["content"].get("body") for evs in st["events"].values() for e in evs
            if e["type"] == "m.room.message" and e["sender"] == BOT and e["content"].get("msgtype") == "m.text"]


try:
    start()
    add("Hello through the router", 1)
    ok(wait_for(lambda: bodies() == ["Hello through the router"], "the SMS in Matrix"),
       "an SMS on the HiLink router arrives as m.text")
    st = req(HS + "/_test/stats")
    rid = next(r for r, evs in st["events"].items() for e in evs if e["content"].get("body") == "Hello through the router")
    req(HS + "/_matrix/client/v3/join/" + urllib.parse.quote(rid), "POST", {}, owner)
    req(HS + "/_matrix/client/v3/rooms/%s/send/m.room.message/h1" % urllib.parse.quote(rid), "PUT",
        {"msgtype": "m.text", "body": "Reply through the router"}, owner)
    ok(wait_for(lambda: {"phone": PEER, "content": "Reply through the router"} in
                [{"phone": s.get("phone"), "content": s.get("content")} for s in json.loads(req(RT + "/test/sent", raw=True))],
                "the reply on the router"), "the owner's reply leaves through sms/send-sms")
    req(RT + "/test/logout", "POST", b"", raw=True)
    add("After the router forgot us", 2)
    ok(wait_for(lambda: "After the router forgot us" in bodies(), "the message after the logout", 120),
       "the router forgets every login (as after a reboot): the same daemon logs in again")
    ok(daemon.poll() is None, "without a restart")
    add("Before the kill", 3)
    time.sleep(0.3)
    kill()
    start()
    ok(wait_for(lambda: "Before the kill" in bodies(), "the message around the kill", 60) and
       sorted(bodies()) == sorted(set(bodies())) and len(bodies()) == 3,
       "SIGKILL and restart, entries the router keeps: nothing lost, nothing twice")
    daemon.send_signal(signal.SIGTERM)
    ok(daemon.wait(30) == 0, "SIGTERM: exits 0")
finally:
    if daemon and daemon.poll() is None:
        kill()
    log.close()
    if failed:
        with open(os.path.join(tmp, "daemon.log")) as f:
            for line in f.read().splitlines()[-60:]:
                print("# " + line)
    for p in (router, hs):
        p.stdin.close()
        p.terminate()
        p.wait(10)
    print("1..%d" % n_test, flush=True)
sys.exit(1 if failed else 0)
