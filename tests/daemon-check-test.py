#!/usr/bin/python3
# libphonebridge tests — "pb-bridged check" refuses what "run" would refuse
# (unknown backend with a suggestion, URLs without a scheme, secret files with
# loose modes, an unwritable store), "run" refuses the same, and
# "check --online" reaches the HiLink router emulator (login), the AT modem
# emulator (AT+CPIN?, AT+CSQ), the homeserver emulator (whoami) and the test
# MMSC through tinyproxy, one ✓/✗ line each. pb-screend's "check" refuses a
# missing prompt folder, a loose secret and an unwritable store, and registers
# at kamailio with --online. Under a NOTIFY_SOCKET (a path for pb-bridged, an
# abstract name for pb-screend) both daemons send READY=1,
# WATCHDOG=1 and STOPPING=1, and --log-format=json gives JSON lines. Prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: daemon-check-test.py PATH/TO/pb-bridged PATH/TO/pb-screend
# (PB_TOOLS_DIR: where pb-sms and pb-modem are, when not beside a build's
# daemons: tests/debian-package.sh runs this against the packaged programs)
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import (ROOT, AtModem, Homeserver, Mmsc, Tap, bridge_config, emulator,  # noqa: E402
                        login, scratch, secret_file, start_tinyproxy, stop)
import kamailio  # noqa: E402

BRIDGED, SCREEND = sys.argv[1], sys.argv[2]
EX_CONFIG, EX_UNAVAILABLE = 78, 69
tap = Tap()
ok = tap.ok
tmp = scratch("pb-check-")
procs = []


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120)


def show(r):
    for line in (r.stdout + r.stderr).strip().splitlines():
        print("# " + line, flush=True)


homeserver = Homeserver()
procs.append(homeserver.proc)
router, RT = emulator("hilink", "--require-login")
procs.append(router)
mmsc = Mmsc(tmp)
procs.append(mmsc.proc)
token = secret_file(os.path.join(tmp, "matrix.token"), login(homeserver.url, "alice", "wonderland"))
router_pw = secret_file(os.path.join(tmp, "router.pw"), "secret")
store = os.path.join(tmp, "bridge.db")
hilink = "backend = hilink\nurl = %s\nusername = admin\npassword_file = %s" % (RT, router_pw)


def config(name, modem=hilink, hs=None, tok=token, st=store, extra=""):
    return bridge_config(os.path.join(tmp, name), modem, hs or homeserver.url, tok, st, extra)


try:
    # --- 1. what run would refuse, check refuses: one ✗ line each, exit 78 ----
    loose = os.path.join(tmp, "loose.token")
    with open(loose, "w") as f:
        f.write("x")
    os.chmod(loose, 0o644)
    bad = {
        "backend": (config("b1.ini", modem=hilink.replace("hilink", "hilnk", 1)),
                    "\u2717 [modem] backend hilnk: unknown backend (did you mean hilink?)"),
        "router url": (config("b2.ini", modem=hilink.replace(RT, RT[len("http://"):])),
                       "\u2717 [modem] url 127.0.0.1:"),
        "homeserver": (config("b3.ini", hs="matrix.example.org"),
                       "\u2717 [matrix] homeserver matrix.example.org: no scheme"),
        "mmsc url": (config("b4.ini", extra="[mmsc]\nurl = ftp://mms.example.net/"),
                     "\u2717 [mmsc] url ftp://mms.example.net/: the scheme must be http:// or https://"),
        "secret mode": (config("b5.ini", tok=loose),
                        "\u2717 [matrix] token_file %s: secret file %s: mode 0644: readable by others" % (loose, loose)),
        "missing secret": (config("b6.ini", tok=os.path.join(tmp, "none.token")),
                           "\u2717 [matrix] token_file %s: secret file %s: No such file" % ((os.path.join(tmp, "none.token"),) * 2)),
        "store": (config("b7.ini", st=os.path.join(tmp, "no-such-dir", "bridge.db")),
                  "\u2717 [bridge] store %s" % os.path.join(tmp, "no-such-dir", "bridge.db")),
        "call log's password mode": (
            config("b9.ini", extra="[calls]\nstore = postgresql://bridge@127.0.0.1:1/pb\npassword_file = %s" % loose),
            "\u2717 [calls] password_file %s: secret file %s: mode 0644: readable by others" % (loose, loose)),
    }
    for what, (path, line) in bad.items():
        r = run(BRIDGED, "check", "-c", path)
        ok(r.returncode == EX_CONFIG and line in r.stdout, "check refuses the %s (exit 78): %s" % (what, line))
        if r.returncode != EX_CONFIG or line not in r.stdout:
            show(r)
        r = run(BRIDGED, "run", "-c", path)
        ok(r.returncode == EX_CONFIG and line[2:] in r.stderr, "run refuses the %s too, before it starts" % what)
        if r.returncode != EX_CONFIG:
            show(r)
    link = os.path.join(tmp, "link.db")
    os.symlink(os.path.join(tmp, "elsewhere.db"), link)
    r = run(BRIDGED, "check", "-c", config("b8.ini", st=link))
    ok(r.returncode == EX_CONFIG and "never written through links" in r.stdout, "a store that is a symbolic link is refused")

    # --- 2. --online: router login, whoami, the MMSC through the proxy --------
    tp, tport = start_tinyproxy(tmp)
    if tp:
        procs.append(tp)
    proxy = "127.0.0.1:%d" % tport if tp else None
    good = config("good.ini", extra="[mmsc]\nurl = %s/mms\n%s" % (mmsc.url, "proxy = " + proxy if proxy else ""))
    r = run(BRIDGED, "check", "-c", good)
    ok(r.returncode == 0 and "\u2717" not in r.stdout, "a good configuration passes check (offline)")
    r = run(BRIDGED, "check", "--online", "-c", good)
    show(r)
    ok(r.returncode == 0, "check --online passes against the emulators")
    ok("\u2713 modem hilink at %s: SIM ready" % RT in r.stdout, "the router: logged in, its status read")
    ok("\u2713 homeserver %s: whoami: @alice:localhost" % homeserver.url in r.stdout, "the homeserver: whoami")
    if proxy:
        ok(("\u2713 MMSC %s/mms through proxy %s: answers (HTTP" % (mmsc.url, proxy)) in r.stdout,
           "the MMSC answers through tinyproxy")
    else:
        ok(True, "# SKIP tinyproxy is not installed (Debian package tinyproxy)")

    wrong_pw = os.path.join(tmp, "wrong.pw")
    secret_file(wrong_pw, "not the password")
    r = run(BRIDGED, "check", "--online", "-c", config("wrongpw.ini", modem=hilink.replace(router_pw, wrong_pw)))
    show(r)
    ok(r.returncode == EX_UNAVAILABLE and "\u2717 modem hilink" in r.stdout and
       "\u2713 homeserver" in r.stdout, "a wrong router password: the modem step fails, exit 69")

    at = AtModem(tmp)
    procs.append(at.proc)
    r = run(BRIDGED, "check", "--online", "-c", config("at.ini", modem=at.config()))
    show(r)
    ok(r.returncode == 0 and ("\u2713 modem at at %s: SIM ready" % at.link) in r.stdout,
       "an AT modem: opened, AT+CPIN? and AT+CSQ answered")

    # the CLI convention on the same modem: "-" reads the PDU, list is one JSON a line
    # pb-sms and pb-modem: beside the build's daemons, or PB_TOOLS_DIR (installed)
    tools = os.environ.get("PB_TOOLS_DIR") or os.path.dirname(os.path.dirname(os.path.abspath(BRIDGED)))
    pdu = run(os.path.join(tools, "pb-sms"), "encode", "--to", "+4915112345678", "--text", "hi", "--no-smsc").stdout
    r = subprocess.run([os.path.join(tools, "pb-modem"), "--backend", "at", "--device", at.link, "send-pdu", "-"],
                       input=pdu, capture_output=True, text=True, timeout=120)
    ok(r.returncode == 0 and r.stdout.startswith('{"sent":true') and
       any(h.upper().endswith(pdu.strip().upper()) for h in at.sent()),
       "pb-modem send-pdu - reads the PDU from standard input")
    r = run(os.path.join(tools, "pb-modem"), "--backend", "at", "--device", at.link, "list", "--sent")
    try:
        listed = [json.loads(line) for line in r.stdout.splitlines()]
    except ValueError:
        listed = None
    ok(r.returncode == 0 and listed is not None, "pb-modem list: one JSON document per line (%s)" %
       (len(listed) if listed is not None else r.stdout[:80]))

    homeserver.kill()
    r = run(BRIDGED, "check", "--online", "-c", good)
    show(r)
    ok(r.returncode == EX_UNAVAILABLE and ("\u2717 homeserver %s" % homeserver.url) in r.stdout,
       "the homeserver gone: its step fails with the reason, exit 69")

    # --- 3. pb-screend check: prompts, secrets, store -------------------------
    def screend_conf(name, prompts=os.path.join(ROOT, "data/prompts"), pw="", st=os.path.join(tmp, "screen.db")):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write("[sip]\nlisten = 127.0.0.1\nport = 0\nallow = 127.0.0.1\n"
                    "[forward]\nmode = redirect\ntarget = sip:owner@127.0.0.1\n"
                    "[screen]\nprompts = %s\n[store]\npath = %s\n%s" % (prompts, st, pw))
        return path

    r = run(SCREEND, "-c", screend_conf("s0.conf"), "check")
    show(r)
    ok(r.returncode == 0 and "\u2717" not in r.stdout, "pb-screend check passes a good configuration")
    r = run(SCREEND, "-c", screend_conf("s1.conf", prompts=os.path.join(tmp, "no-prompts")), "check")
    ok(r.returncode == EX_CONFIG and "\u2717 [screen] prompts" in r.stdout, "pb-screend check refuses missing prompts")
    show(r)
    sip_pw = os.path.join(tmp, "sip.pw")
    with open(sip_pw, "w") as f:
        f.write("pw")
    os.chmod(sip_pw, 0o640)
    r = run(SCREEND, "-c", screend_conf("s2.conf", pw="[register]\nregistrar = sip:127.0.0.1\n"
                                        "aor = sip:me@127.0.0.1\nusername = me\npassword-file = %s\n" % sip_pw),
            "check")
    ok(r.returncode == EX_CONFIG and "\u2717 [register] password-file" in r.stdout and "mode 0640" in r.stdout,
       "pb-screend check refuses a registration password others may read")
    show(r)
    r = run(SCREEND, "-c", screend_conf("s3.conf", st=os.path.join(tmp, "nowhere", "s.db")), "check")
    ok(r.returncode == EX_CONFIG and "\u2717 [store] path" in r.stdout, "pb-screend check refuses an unwritable store")
    show(r)
    r = run(SCREEND, "-c", screend_conf("s3v.conf", pw="[voicemail]\nenabled = yes\ngreeting = no-such-prompt\n"),
            "check")
    ok(r.returncode == EX_CONFIG and "\u2717 [voicemail] greeting no-such-prompt" in r.stdout,
       "pb-screend check refuses a voicemail greeting the prompt set lacks")
    show(r)
    r = run(SCREEND, "-c", screend_conf("s3o.conf", pw="[voicemail]\nenabled = yes\nformat = opus\n"), "check")
    ok(r.returncode == 0 and "\u2713 [voicemail] greeting voicemail, format opus" in r.stdout,
       "pb-screend check passes voicemail with the default greeting, in Ogg Opus")
    show(r)

    # --- 4. pb-screend check --online: REGISTER with digest at kamailio --------
    if kamailio.installed():
        k = kamailio.Kamailio(tmp)
        procs.append(k.proc)
        ok(k.ready(), "kamailio (registrar with digest) started")
        good_pw = secret_file(os.path.join(tmp, "kam.pw"), kamailio.PASSWORD)
        bad_pw = secret_file(os.path.join(tmp, "kam-bad.pw"), "wrong")
        reg = ("[register]\nregistrar = %s\naor = sip:screen@127.0.0.1\nusername = screen\n"
               "password-file = %%s\n" % k.registrar)
        r = run(SCREEND, "-c", screend_conf("s4.conf", pw=reg % good_pw), "check", "--online")
        show(r)
        ok(r.returncode == 0 and ("\u2713 [register] %s as sip:screen@127.0.0.1: registered (200)"
                                  % k.registrar) in r.stdout, "pb-screend check --online registers at kamailio (200)")
        r = run(SCREEND, "-c", screend_conf("s5.conf", pw=reg % bad_pw), "check", "--online")
        show(r)
        ok(r.returncode == EX_UNAVAILABLE and "\u2717 [register]" in r.stdout and
           "the registrar answered 40" in r.stdout, "a wrong password: refused by the registrar, exit 69")
    else:
        ok(True, kamailio.SKIP)
    r = run(SCREEND, "-c", screend_conf("s6.conf"), "check", "--online")
    ok(r.returncode == 0 and "no registrar configured" in r.stdout, "check --online without [register]: nothing to reach")

    # --- 5. systemd notification and the JSON log, as a service manager sees them
    def notified(args, config_path, what):
        """Run a daemon with NOTIFY_SOCKET and a 400 ms watchdog; after READY=1
        and two WATCHDOG=1, SIGTERM: the messages and the log lines."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if what == "pb-screend":
            # an abstract socket ("@name"), which service managers may use too
            name = "pb-test-notify-%d-%s" % (os.getpid(), what)
            sock.bind("\0" + name)
            sock_path = "@" + name
        else:
            sock_path = os.path.join(tmp, "notify-%s.sock" % what)
            sock.bind(sock_path)
        sock.settimeout(1)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="400000")
        log = open(os.path.join(tmp, "notify-%s.log" % what), "w+")
        p = subprocess.Popen(args + ["-c", config_path, "run"], env=env, stdout=log, stderr=log)
        procs.append(p)
        msgs, end = [], time.monotonic() + 60
        # READY=1 may come after the first pings on a loaded machine (the
        # watchdog runs from the start, READY once the stages run): wait for
        # it, then for two pings
        def enough():
            r = next((i for i, m in enumerate(msgs) if m.startswith("READY=1")), None)
            return r is not None and sum("WATCHDOG=1" in m for m in msgs[r:]) >= 2
        while time.monotonic() < end and not enough() and p.poll() is None:
            try:
                msgs.append(sock.recv(4096).decode())
            except socket.timeout:
                continue
        p.send_signal(signal.SIGTERM)
        end = time.monotonic() + 60
        while time.monotonic() < end and not any("STOPPING=1" in m for m in msgs):
            try:
                msgs.append(sock.recv(4096).decode())
            except socket.timeout:
                continue
        rc = p.wait(60)
        sock.close()
        log.seek(0)
        return rc, msgs, log.read().splitlines()

    for name, args, conf in (("pb-screend", [SCREEND, "--log-format=json"], screend_conf("s7.conf")),
                             ("pb-bridged", [BRIDGED, "--log-format=json"], None)):
        if name == "pb-bridged":  # the homeserver killed above: a new one, a new token
            homeserver.start()
            procs.append(homeserver.proc)
            tok2 = secret_file(os.path.join(tmp, "matrix2.token"), login(homeserver.url, "alice", "wonderland"))
            conf = config("notify.ini", hs=homeserver.url, tok=tok2)
        rc, msgs, lines = notified(args, conf, name)
        for m in msgs:
            print("# notify: " + m.replace("\n", " | "), flush=True)
        ready = [m for m in msgs if m.startswith("READY=1")]
        ok(rc == 0 and ready and "STATUS=" in ready[0], "%s: READY=1 with a STATUS, exit 0 after SIGTERM (%s)" % (name, rc))
        ok(sum(m == "WATCHDOG=1" for m in msgs) >= 2, "%s: WATCHDOG=1 within the watchdog interval" % name)
        ok(any(m.startswith("STOPPING=1") for m in msgs), "%s: STOPPING=1 on SIGTERM" % name)
        try:
            docs = [json.loads(line) for line in lines]
            good = all({"time", "level", "priority", "program", "domain", "message"} <= d.keys() for d in docs)
        except ValueError:
            docs, good = [], False
        ok(docs and good and docs[0]["program"] == name, "%s --log-format=json: every line one JSON object" % name)
        if not good:
            for line in lines[:10]:
                print("# " + line, flush=True)
finally:
    for p in procs:
        stop(p)
rc = tap.done()
if not tap.failed:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(rc)
