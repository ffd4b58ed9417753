#!/usr/bin/python3
# libphonebridge tests — docs/bridge.md's "First start", run as written.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-first-start-test.py PATH/TO/pb-bridged
#
# The blocks marked <!-- first-start: settings|steps|run --> are taken from
# the guide, not copied here: the settings block is replaced by this test's
# own values (the same variables, checked), the steps and the run block are
# run by bash exactly as written, with the two passwords typed on stdin, the
# built pb-matrix and pb-bridged first on PATH, the HiLink router emulator as
# the router and the homeserver tests/synapse.py started (or the emulator).
# pb-bridged(8)'s FIRST START must give the same commands. Then: an SMS on
# the router arrives in a room named after the number, the owner's answer
# leaves through the router, and the daemon stops on SIGTERM.
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bridge_env import (BOT, OWNER, ROOT, Tap, emulator, make_homeserver, request, stop,  # noqa: E402
                        wait_for)

DAEMON = os.path.abspath(sys.argv[1])
PB_MATRIX = os.path.join(os.path.dirname(os.path.dirname(DAEMON)), "pb-matrix")
PEER = "+4915112345678"

tap = Tap()
ok = tap.ok


def doc_blocks(path):
    """{marker: text} of the fenced blocks after <!-- first-start: NAME -->."""
    text = open(path).read()
    return {m.group(1): m.group(2) for m in
            re.finditer(r"<!-- first-start: (\w+) -->\n```sh\n(.*?)```\n", text, re.S)}


def man_steps(path):
    """The commands in pb-bridged(8)'s FIRST START (.nf blocks), roff unescaped."""
    text = open(path).read()
    sec = text.split(".SH FIRST START", 1)[1].split("\n.SH ", 1)[0]
    blocks = re.findall(r"^\.nf\n(.*?)^\.fi\n", sec, re.S | re.M)
    return [b.replace("\\-", "-").replace("\\e", "\\") for b in blocks]


tmp = tempfile.mkdtemp(prefix="pb-first-start-")
hs = make_homeserver()
router, RT = emulator("hilink", "--require-login", "--password", "router-secret")
blocks = doc_blocks(os.path.join(ROOT, "docs", "bridge.md"))
ok(set(blocks) == {"settings", "steps", "run"}, "docs/bridge.md has the three first-start blocks")
names = re.findall(r"^([A-Z]+)=", blocks.get("settings", ""), re.M)
ok(names == ["HS", "BOT", "OWNER", "ROUTER", "REGION", "PBDIR"], "the settings are the six this test fills in")
pbdir = os.path.join(tmp, "pb-bridge")
settings = "HS=%s\nBOT=%s\nOWNER=%s\nROUTER=%s\nREGION=DE\nPBDIR=%s\n" % (hs.url, BOT, OWNER, RT, pbdir)
man = man_steps(os.path.join(ROOT, "docs", "man", "pb-bridged.8"))
ok(man == [blocks.get("settings"), blocks.get("steps"), blocks.get("run")],
   "pb-bridged(8)'s FIRST START gives the same commands")
env = dict(os.environ, PATH=os.path.dirname(PB_MATRIX) + os.pathsep + os.path.dirname(DAEMON) + os.pathsep
           + os.environ.get("PATH", "/usr/bin:/bin"), HOME=tmp)
daemon = None
try:
    r = subprocess.run(["bash", "-e", "-c", settings + blocks["steps"]], input="wonderland\nrouter-secret\n",
                       capture_output=True, text=True, env=env, timeout=120)
    print("# " + (r.stdout + r.stderr).strip().replace("\n", "\n# "), flush=True)
    ok(r.returncode == 0, "step 2 runs as written (login, configuration, --check)")
    tok = os.path.join(pbdir, "matrix.token")
    ok(os.path.exists(tok) and stat.S_IMODE(os.stat(tok).st_mode) == 0o600
       and os.path.exists(tok + ".device"), "the bot's token is saved, mode 0600, with its device")
    ok(sorted(os.listdir(pbdir)) == ["bridge.ini", "matrix.token", "matrix.token.device", "router.pw"],
       "the bot's password is in no file (pb-matrix read it from standard input): %r" % sorted(os.listdir(pbdir)))
    ok('"device_id"' in r.stdout and BOT in r.stdout, "pb-matrix login printed the user and the device")
    log = open(os.path.join(tmp, "daemon.log"), "w")
    daemon = subprocess.Popen(["bash", "-e", "-c", settings + blocks["run"]], stdout=log, stderr=log,
                              env=env, start_new_session=True)
    # import_existing = no (the default): what is on the router at the first
    # listing stays there; the SMS of step 3 comes after it
    def first_listing_done():
        with open(os.path.join(tmp, "daemon.log")) as f:
            return "first start:" in f.read()
    wait_for(first_listing_done, "the daemon's first listing of the router", 120)
    xml = ("<Message><Smstat>0</Smstat><Index>@INDEX@</Index><Phone>%s</Phone><Content>First SMS</Content>"
           "<Date>2024-05-01 10:00:00</Date><Sca></Sca><SaveType>4</SaveType><Priority>0</Priority>"
           "<SmsType>1</SmsType></Message>" % PEER)
    request("POST", RT + "/test/add", xml.encode())
    got = wait_for(lambda: [rid for rid, c in hs.bot_messages() if c.get("body") == "First SMS"],
                   "the SMS in Matrix", 120)
    ok(got, "step 3: an SMS on the router arrives in Matrix")
    rid = got[0] if got else None
    st = hs.stats()
    names = [e["content"].get("name") for e in st["events"].get(rid, []) if e["type"] == "m.room.name"]
    ok(names == [PEER] and st["rooms"].get(rid, {}).get("members", {}).get(OWNER) == "invite",
       "in a room named after the number, the owner invited")
    if rid:
        hs.owner_says(hs.login("bob", "builder"), rid, "fs1", "Answer from Matrix")
    ok(wait_for(lambda: any(s.get("phone") == PEER and s.get("content") == "Answer from Matrix"
                            for s in request("GET", RT + "/test/sent")), "the answer on the router", 120),
       "the owner's answer leaves through the router")
    os.killpg(daemon.pid, signal.SIGTERM)
    ok(daemon.wait(60) == 0, "SIGTERM: the daemon exits 0")
finally:
    if daemon and daemon.poll() is None:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()
    if tap.failed and os.path.exists(os.path.join(tmp, "daemon.log")):
        for line in open(os.path.join(tmp, "daemon.log")).read().splitlines()[-60:]:
            print("# " + line)
    stop(router)
    hs.stop()
    rc = tap.done()
    if not tap.failed:
        subprocess.run(["rm", "-rf", tmp])
sys.exit(rc)
