#!/usr/bin/python3
# libphonebridge tests — pb-bridged's first start with messages already on
# the modem ([modem] import_existing, docs/bridge.md): by default (no) they
# stay on the HiLink router untouched, not bridged, also after a restart,
# while a message that arrives later is bridged and deleted; with yes, a
# fresh store bridges them all. Against the HiLink emulator with its sample
# inbox and the homeserver emulator. "pb-bridged backup FILE" while the
# daemon runs, and the documented restore. Prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-import-test.py PATH/TO/pb-bridged
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import Bridge, Homeserver, Tap, emulator, finish, request, secret_file, wait_for  # noqa: E402

DAEMON = sys.argv[1]
tap = Tap()
ok = tap.ok
tmp = tempfile.mkdtemp(prefix="pb-bridge-import-")
homeserver = Homeserver()
router, RT = emulator("hilink", "--require-login", "--samples")
pw = secret_file(os.path.join(tmp, "router.pw"), "secret")
hilink = "backend = hilink\nurl = %s\nusername = admin\npassword_file = %s\npoll_interval_ms = 300\n" % (RT, pw)
bridged = Bridge(DAEMON, tmp, homeserver, hilink + "import_existing = no")
bodies = homeserver.bodies


def inbox():
    return sorted(request("GET", RT + "/test/state")["inbox"])


first = inbox()
try:
    ok(len(first) >= 5, "the router starts with %d messages in its inbox" % len(first))
    bridged.start()
    ok(wait_for(lambda: bridged.log_has("first start:", "left there untouched"), "the first listing"),
       "first start: the messages on the router are listed and left there")
    request("POST", RT + "/test/add-sms?phone=%2B4915112345678", "Arrived after the start".encode())
    ok(wait_for(lambda: "Arrived after the start" in bodies(), "the new message in Matrix"),
       "a message that arrives after the first start is bridged")
    ok(bodies() == ["Arrived after the start"], "none of the old messages reached Matrix")
    ok(wait_for(lambda: inbox() == first, "the new message deleted"),
       "the new message is deleted from the router, the old ones are all still there")
    ok(bridged.terminate() == 0, "SIGTERM: exits 0")
    bridged.start()
    request("POST", RT + "/test/add-sms?phone=%2B4915112345678", "After the restart".encode())
    ok(wait_for(lambda: "After the restart" in bodies(), "the message after the restart"),
       "after a restart new messages still arrive")
    ok(bodies() == ["Arrived after the start", "After the restart"] and inbox() == first,
       "and the old ones are still neither bridged nor deleted (not a first start any more)")
    ok(bridged.log_lines().count(next(l for l in bridged.log_lines() if "first start:" in l)) == 1,
       "the first listing happened once")

    # pb-bridged backup while it runs, then the documented restore (docs/bridge.md)
    backup = os.path.join(tmp, "backup.db")
    r = subprocess.run([DAEMON, "-c", bridged.config, "backup", backup], capture_output=True, text=True)
    print("# " + (r.stdout + r.stderr).strip(), flush=True)
    ok(r.returncode == 0 and os.path.isfile(backup) and os.path.isdir(backup + ".attachments"),
       "pb-bridged backup FILE while the daemon runs: the journal and its attachments")
    r = subprocess.run([DAEMON, "-c", bridged.config, "backup", backup], capture_output=True, text=True)
    ok(r.returncode == 73, "a backup never overwrites a file (exit 73, EX_CANTCREAT)")
    request("POST", RT + "/test/add-sms?phone=%2B4915112345678", "After the backup".encode())
    ok(wait_for(lambda: "After the backup" in bodies(), "the message after the backup"),
       "a message after the backup is bridged (it takes a row id the backup does not know)")
    ok(bridged.terminate() == 0, "SIGTERM: exits 0")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(bridged.store + suffix):
            os.rename(bridged.store + suffix, bridged.store + suffix + ".old")
    shutil.move(bridged.store + ".attachments", bridged.store + ".attachments.old")
    shutil.copy2(backup, bridged.store)
    shutil.copytree(backup + ".attachments", bridged.store + ".attachments")
    bridged.start()
    request("POST", RT + "/test/add-sms?phone=%2B4915112345678", "After the restore".encode())
    ok(wait_for(lambda: "After the restore" in bodies(), "the message after the restore"),
       "restored: a new message reusing that row id is bridged (a new journal identity)")
    ok(bodies() == ["Arrived after the start", "After the restart", "After the backup", "After the restore"]
       and inbox() == first, "nothing was sent twice, and the old messages are still on the router")
    ok(bridged.terminate() == 0, "SIGTERM: exits 0")

    # import_existing = yes with a fresh store: everything on the router is bridged
    store2 = os.path.join(tmp, "second.db")
    with open(bridged.config) as f:
        conf = f.read().replace("import_existing = no", "import_existing = yes").replace(bridged.store, store2)
    conf2 = os.path.join(tmp, "second.ini")
    with open(conf2, "w") as f:
        f.write(conf)
    bridged.start(conf2)
    ok(wait_for(lambda: "Hello from the router" in bodies() and "Smile \U0001F600 please" in bodies(),
                "the old messages in Matrix"),
       "import_existing = yes: the messages already on the router are bridged")
    ok(bridged.terminate() == 0, "SIGTERM: exits 0")
finally:
    rc = finish(tap, bridged, (router, homeserver.proc), tmp)
sys.exit(rc)
