#!/usr/bin/python3
# libphonebridge tests — a cluster's calls in Matrix (issue 25 follow-up):
# pb-screend logs its calls in PostgreSQL ([store] url), pb-bridged follows
# that call log ([calls] store = postgresql://..., password_file) while the
# rest of its data stays in its own SQLite store. Run under
# tests/pg_server.py (a throwaway PostgreSQL); the homeserver emulator (or,
# under tests/synapse.py, a real Synapse). A call refused by the deny list
# appears in the control room once ([calls] screened = live); also after a
# SIGKILL of pb-bridged, a restart with the cursor set back (the same
# transaction ids: nothing twice), and a call logged while pb-bridged was
# down is posted after its start. A call log whose database is not there
# yet: said once, retried, followed once it exists. pb-bridged check
# connects to the log. The control room's !deny, !list, !calls and !remove
# act on the cluster's lists and log: a number denied in Matrix is refused
# by the cluster's next call.
# Standard library only; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: pg_server.py -- bridge-pg-calls-test.py PATH/TO/pb-bridged PATH/TO/pb-screend
#    or: bridge-pg-calls-test.py PATH/TO/pb-bridged PATH/TO/pb-screend (a PostgreSQL of its own)
import atexit
import glob
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bridge_env import (ROOT, AtModem, Daemon, Screend, Tap, bridge_config, control_room, finish,  # noqa: E402
                        free_port, make_homeserver, need_net_sip, room_notices, secret_file, sip_call, wait_for)

BRIDGED, SCREEND = sys.argv[1], sys.argv[2]
DENIED = ["+4915200000001", "+4915200000002", "+4915200000003", "+4915200000004"]

need_net_sip()
pg = None
if not os.environ.get("PB_TEST_PG_HOST"):
    # not under tests/pg_server.py (e.g. a body of tests/synapse.py, whose
    # "--" separates bodies): a throwaway PostgreSQL of its own
    from pg_server import PgServer  # noqa: E402
    try:
        pg = PgServer()
    except FileNotFoundError as e:
        print("1..0 # SKIP %s" % e)
        sys.exit(0)
    # stopped however the test ends (meson's timeout sends SIGTERM)
    atexit.register(pg.stop)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    pg.start()
    os.environ.update(pg.env())
tap = Tap()
ok = tap.ok
url = "postgresql://%s@/postgres?host=%s&port=%s" % (os.environ["PB_TEST_PG_USER"], os.environ["PB_TEST_PG_HOST"],
                                                     os.environ["PB_TEST_PG_PORT"])
password_file = os.environ["PB_TEST_PG_PASSWORD_FILE"]

tmp = tempfile.mkdtemp(prefix="pb-pg-calls-test-")
store = os.path.join(tmp, "bridge.db")
homeserver = make_homeserver()
http_port = free_port()
modem = AtModem(tmp, "modem")
token_file = secret_file(os.path.join(tmp, "matrix.token"), homeserver.login("alice", "wonderland"))
config = bridge_config(os.path.join(tmp, "bridge.ini"), modem.config(), homeserver.url, token_file, store,
                       "retry_max_ms = 250\n[calls]\nscreened = live\nstore = %s\npassword_file = %s\n"
                       "[http]\nlisten = 127.0.0.1:%d" % (url, password_file, http_port))
bridged = Daemon(BRIDGED, tmp, config)
screend_conf = os.path.join(tmp, "pb-screend.conf")
with open(screend_conf, "w") as f:
    f.write("[sip]\nlisten = 127.0.0.1\nport = 0\nallow = 127.0.0.1\n"
            "[forward]\nmode = bridge\ntarget = sip:target@127.0.0.1:9\n"
            "[screen]\nprompts = %s\n"
            "[store]\nurl = %s\npassword-file = %s\n"
            "[policy]\nregion = DE\n[log]\nlevel = info\n" % (os.path.join(ROOT, "data/prompts"), url, password_file))
screend = screend2 = None


def psql(sql):
    with open(password_file) as f:
        pw = f.read().strip()
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1]
    subprocess.run([bindir, "-X", "-q", "-h", os.environ["PB_TEST_PG_HOST"], "-p", os.environ["PB_TEST_PG_PORT"],
                    "-U", os.environ["PB_TEST_PG_USER"], "-d", "postgres", "-c", sql],
                   env=dict(os.environ, PGPASSWORD=pw), check=True, capture_output=True)


def daemon_log():
    with open(os.path.join(tmp, "daemon.log"), errors="replace") as f:
        return f.read()


def kv_like(pattern):
    try:  # the store is made by pb-bridged's start
        db = sqlite3.connect(store)
        rows = db.execute("SELECT key, value FROM kv WHERE key LIKE ?", (pattern,)).fetchall()
        db.close()
        return rows
    except sqlite3.OperationalError:
        return []


def pg_calls():
    r = subprocess.run([SCREEND, "-c", screend_conf, "calls"], capture_output=True, text=True)
    return [json.loads(x) for x in r.stdout.splitlines()] if r.returncode == 0 else []


def on_list(number):
    """The cluster's list @number is on (pb-screend lookup), or None."""
    r = subprocess.run([SCREEND, "-c", screend_conf, "lookup", number], capture_output=True, text=True, check=True)
    return json.loads(r.stdout).get("list")


def screened(number):
    """The notices about @number in the bot's rooms."""
    return [c.get("body", "") for _, c in homeserver.bot_messages()
            if c.get("msgtype") == "m.notice" and c.get("body", "").startswith("Screened out: " + number)]


try:
    r = subprocess.run([BRIDGED, "-c", config, "check"], capture_output=True, text=True)
    ok(r.returncode == 0 and "[calls] store" in r.stdout + r.stderr,
       "pb-bridged check connects to the PostgreSQL call log: %s"
       % next((x for x in r.stdout.splitlines() if "[calls] store" in x), r.stderr.strip()[-200:].replace("\n", " ")))
    bad = os.path.join(tmp, "bad.ini")
    with open(config) as src, open(bad, "w") as dst:
        dst.write(src.read().replace("/postgres?", "/no_such_db?"))
    r = subprocess.run([BRIDGED, "-c", bad, "check"], capture_output=True, text=True)
    ok(r.returncode != 0 and "no_such_db" in r.stdout + r.stderr, "and fails, naming it, for a missing database")

    screend = Screend(SCREEND, screend_conf)
    port = screend.ready()
    ok(port > 0, "pb-screend is ready on PostgreSQL (port %d)" % port)
    for n in DENIED:
        subprocess.run([SCREEND, "-c", screend_conf, "deny", n], check=True, capture_output=True)
    out = sip_call(port, DENIED[0], "--hold", "1")
    ok("final 603" in out, "a call before pb-bridged ever ran: refused (603): %s" % out)
    ok(wait_for(lambda: len(pg_calls()) == 1, "the call in PostgreSQL", 30), "logged in PostgreSQL")

    bridged.start()
    cursor = wait_for(lambda: kv_like("bridge.calls.%.cursor"), "the cursor", 60)
    ok(cursor and len(cursor) == 1 and cursor[0][1] == str(pg_calls()[0]["id"]),
       "pb-bridged follows the PostgreSQL log, its cursor in its own SQLite kv: %r" % cursor)
    key = cursor[0][0] if cursor else "bridge.calls.?.cursor"
    ok(screened(DENIED[0]) == [], "the call before its first start is history, not news")

    out = sip_call(port, DENIED[1], "--hold", "1")
    ok("final 603" in out, "a second denied call: %s" % out)
    got = wait_for(lambda: screened(DENIED[1]), "the notice", 60)
    ok(got and len(got) == 1 and "reject by deny-list" in got[0], "its notice in Matrix: %r" % got)
    db = sqlite3.connect(store)
    local = db.execute("SELECT count(*) FROM calls").fetchone()[0]
    db.close()
    ok(local == 0, "the bridge's SQLite store has no call log of its own (%d rows)" % local)

    # --- the control room's commands act on the cluster's lists and log --------
    ctl_room = control_room(homeserver)
    owner_token = homeserver.login("bob", "builder")

    def ctl_notices():
        return room_notices(homeserver, ctl_room)

    def answer(txn, text, expect):
        """The bot's first notice after @text that contains @expect."""
        seen = len(ctl_notices())
        homeserver.owner_says(owner_token, ctl_room, txn, text)
        return wait_for(lambda: next((b for b in ctl_notices()[seen:] if expect in b), None),
                        "the answer to " + text, 60)

    got = answer("pg1", "!deny 0152 0000 0009", "+4915200000009 is on the deny list")
    ok(got, "!deny in the control room answers: %r" % got)
    ok(on_list("+4915200000009") == "deny", "the number is on the cluster's deny list (pb-screend lookup)")
    out = sip_call(port, "+4915200000009", "--hold", "1")
    ok("final 603" in out, "and the cluster's next call from it is refused (603): %s" % out)
    got = answer("pg2", "!list deny", "Deny list")
    ok(got and DENIED[0] in got and "+4915200000009" in got, "!list deny shows the cluster's list (also numbers denied on a node): %r" % got)
    got = answer("pg3", "!calls 3", "newest first")
    ok(got and "+4915200000009" in got, "!calls shows the cluster's call log: %r" % got)
    got = answer("pg4", "!remove +4915200000009", "+4915200000009 is off")
    ok(got and "off the deny list" in got and on_list("+4915200000009") is None,
       "!remove takes it off the cluster's list: %r" % got)
    db = sqlite3.connect(store)
    local = db.execute("SELECT count(*) FROM screen_list").fetchone()[0]
    db.close()
    ok(local == 0, "the bridge's own SQLite lists are untouched (%d rows)" % local)

    # --- the status page counts the cluster's calls -----------------------------
    page = urllib.request.urlopen("http://127.0.0.1:%d/status" % http_port, timeout=30).read().decode()
    plotted = sum(int(n) for n in re.findall(r'id="day-[0-9-]+-a">(\d+)<', page))
    ok(plotted == len(pg_calls()) and "cluster's call log" in page,
       "the status page plots the cluster's calls (%d of %d) and says the log answers" % (plotted, len(pg_calls())))

    bridged.kill()
    out = sip_call(port, DENIED[2], "--hold", "1")
    ok("final 603" in out, "a third call while pb-bridged is down (SIGKILL): %s" % out)
    bridged.start()
    got = wait_for(lambda: screened(DENIED[2]), "the notice after the restart", 60)
    ok(got and len(got) == 1, "posted after the restart: %r" % got)

    # a crash between a notice and its cursor: the cursor set back, nothing twice
    bridged.kill()
    last = int(kv_like(key)[0][1])
    db = sqlite3.connect(store)
    db.execute("UPDATE kv SET value = ? WHERE key = ?", (str(pg_calls()[-1]["id"]), key))  # the oldest
    db.commit()
    db.close()
    ok(int(kv_like(key)[0][1]) < last, "pb-bridged killed, its cursor set back two calls")
    bridged.start()
    ok(wait_for(lambda: int(kv_like(key)[0][1]) >= last, "the cursor again", 60), "restarted: the log followed again")
    ok(len(screened(DENIED[1])) == 1 and len(screened(DENIED[2])) == 1,
       "each call once in Matrix (the same transaction ids): %r" % (screened(DENIED[1]) + screened(DENIED[2])))

    # --- a call log whose database is not there (yet): said once, retried -------
    bridged.kill()
    with open(config) as f:
        text = f.read()
    with open(config, "w") as f:
        f.write(text.replace("/postgres?", "/cluster?"))
    bridged.start()
    ok(wait_for(lambda: "[calls] store" in daemon_log() and "cannot open it" in daemon_log(), "the error", 60),
       "pb-bridged starts without the call log's database, and says so")
    got = answer("pg5", "!deny +4915200000008", "Not done")
    ok(got and "the cluster's store" in got and "Try again later" in got,
       "a list command while the cluster's database does not answer: the owner is told, nothing is pretended: %r"
       % got)
    psql("CREATE DATABASE cluster")
    ok(wait_for(lambda: "the call log answers again" in daemon_log(), "the retry", 60),
       "once the database exists the follower opens it (tried again every 15 s)")
    ok(daemon_log().count("cannot open it") == 1, "the outage was logged once, not every round")
    ok(wait_for(lambda: len(kv_like("bridge.calls.%.cursor")) == 2, "the new log's cursor", 30),
       "another database is another log: a cursor of its own %r" % kv_like("bridge.calls.%.cursor"))
    conf2 = os.path.join(tmp, "pb-screend-2.conf")
    with open(screend_conf) as f, open(conf2, "w") as g:
        g.write(f.read().replace("/postgres?", "/cluster?"))
    got = answer("pg6", "!deny +4915200000008", "is on the deny list")
    ok(got, "once it answers, the same command works (the connection is made again): %r" % got)
    screend2 = Screend(SCREEND, conf2)
    port2 = screend2.ready()
    subprocess.run([SCREEND, "-c", conf2, "deny", DENIED[3]], check=True, capture_output=True)
    out = sip_call(port2, DENIED[3], "--hold", "1")
    ok("final 603" in out, "a call logged in the new database: %s" % out)
    got = wait_for(lambda: screened(DENIED[3]), "its notice", 60)
    ok(got and len(got) == 1, "posted once: %r" % got)
except Exception as e:  # a crash of the test is a failure, with the daemons' logs
    ok(False, "test body raised %r" % e)
finally:
    for s in (screend, screend2):
        if s is not None:
            s.stop(tap.failed)
    sys.exit(finish(tap, bridged, [modem.proc, getattr(homeserver, "proc", None)], tmp))
