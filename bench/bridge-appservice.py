#!/usr/bin/python3
# libphonebridge bench — how long an owner's message takes from Matrix to the
# modem: pb-bridged in bot mode (/sync long-poll) against appservice mode
# (the homeserver pushes a transaction), one real Synapse
# (../shared/peers/synapse/start-synapse), the AT modem emulator.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bench/bridge-appservice.py BUILD/examples/pb-bridged/pb-bridged [N]
#
# For each mode, N owner messages one after the other (default 100), each
# timed from just before the owner's PUT /send to the moment the emulator
# reports the SMS-SUBMIT, and to the moment its outbound journal row exists
# (the Matrix side alone: /sync or the pushed transaction, then the journal).
# Both polled every 2 ms, between the emulator's round trips: the figures
# carry a few ms of polling. Both modes use the same store,
# room and Synapse (bot mode first, then the store moved over as
# docs/bridge.md says), with the daemon's defaults (sync_timeout_ms 30 s).
# Prints one line per figure, "name: value unit".
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import synapse  # noqa: E402
from bridge_env import AtModem, Daemon, free_port, login, request, secret_file, wait_for  # noqa: E402
from bridge_pdu import deliver7  # noqa: E402

DAEMON = os.path.abspath(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 100
PEER = "+4915112345678"
USERS = [("pbbot", "botpass"), ("owner", "ownerpass")]


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def main():
    if not os.access(synapse.start_script(), os.X_OK):
        print("no %s" % synapse.start_script(), file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="pb-bench-as-")
    port = free_port()
    cfg = os.path.join(tmp, "bridge.ini")
    modem = AtModem(tmp, "modem")
    daemon = Daemon(DAEMON, tmp, cfg)
    hs = synapse.Synapse(USERS)
    try:
        bot = login(hs.url, "pbbot", "botpass")
        owner = login(hs.url, "owner", "ownerpass")
        with open(cfg, "w") as f:
            f.write("[modem]\n%s\nimport_existing = yes\n[matrix]\nhomeserver = %s\ntoken_file = %s\n"
                    "owners = @owner:localhost\n[bridge]\nstore = %s/bridge.db\nregion = DE\n"
                    "delivery_reports = no\n"
                    % (modem.config(), hs.url, secret_file(os.path.join(tmp, "bot.token"), bot), tmp))
        daemon.start()
        modem.ctl("deliver " + deliver7(PEER, "hello", 1))

        def room():
            for r in request("GET", hs.url + "/_matrix/client/v3/joined_rooms", token=bot)["joined_rooms"]:
                try:
                    name = request("GET", hs.url + "/_matrix/client/v3/rooms/%s/state/m.room.name/" %
                                   urllib.parse.quote(r, safe=""), token=bot)
                except urllib.error.HTTPError:
                    continue  # a room without a name yet
                if name.get("name") == PEER:
                    return r
            return None
        rid = wait_for(room, "the contact's room", 120)
        q = urllib.parse.quote(rid, safe="")
        request("POST", hs.url + "/_matrix/client/v3/join/" + q, {}, owner)
        wait_for(lambda: daemon.log_has("in #1: delivered"), "the first SMS in Matrix", 120)

        db = sqlite3.connect(os.path.join(tmp, "bridge.db"))

        def outbound_rows():
            return db.execute("SELECT count(*) FROM messages WHERE dir = 2").fetchone()[0]

        def run(mode):
            times, journal = [], []
            for i in range(N + 3):  # the first three warm up, not counted
                before, rows = len(modem.sent()), outbound_rows()
                t0 = time.monotonic()
                request("PUT", hs.url + "/_matrix/client/v3/rooms/%s/send/m.room.message/%s%d" % (q, mode, i),
                        {"msgtype": "m.text", "body": "%s %d" % (mode, i)}, owner)
                tj = None
                while len(modem.sent()) <= before:
                    if tj is None and outbound_rows() > rows:
                        tj = time.monotonic()
                    if time.monotonic() - t0 > 120:
                        raise RuntimeError("%s: message %d never reached the modem" % (mode, i))
                    time.sleep(0.002)
                t1 = time.monotonic()
                if i >= 3:
                    times.append((t1 - t0) * 1000)
                    journal.append(((tj or t1) - t0) * 1000)
            return times, journal

        res = {"bot": run("bot")}
        daemon.terminate()
        with open(cfg) as f:
            ini = re.sub(r"^token_file = .*\n", "", f.read(), flags=re.M)
        with open(cfg, "w") as f:
            f.write(ini + "[matrix]\nmode = appservice\nas_token_file = %s/as.token\nhs_token_file = %s/hs.token\n"
                    "listen = 127.0.0.1:%d\nsender_localpart = pbbot\n" % (tmp, tmp, port))
        reg = os.path.join(tmp, "appservice.yaml")
        subprocess.run([DAEMON, "-c", cfg, "generate-registration", reg], capture_output=True, check=True)
        hs.restart(USERS, [reg])
        with open(cfg) as f:
            ini = re.sub(r"^homeserver = .*$", "homeserver = " + hs.url, f.read(), flags=re.M)
        with open(cfg, "w") as f:
            f.write(ini)
        daemon.start()
        wait_for(lambda: daemon.log_has("appservice: listening"), "the listener", 60)
        res["appservice"] = run("as")
        for mode in ("bot", "appservice"):
            t, j = res[mode]
            print("owner-message-to-sms-%s-p50: %.1f ms" % (mode, pct(t, 50)))
            print("owner-message-to-sms-%s-p99: %.1f ms" % (mode, pct(t, 99)))
            print("owner-message-to-journal-%s-p50: %.1f ms" % (mode, pct(j, 50)))
            print("owner-message-to-journal-%s-p99: %.1f ms" % (mode, pct(j, 99)))
            print("owner-message-%s-n: %d messages" % (mode, len(t)))
        db.close()
        return 0
    finally:
        daemon.close(False)
        modem.proc.stdin.close()
        modem.proc.wait(30)
        hs.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
