# libphonebridge tests — what the pb-bridged integration tests share: the
# homeserver emulator and its client API, the test MMSC, the AT modem
# emulator, the daemon with its configuration, and small helpers (TAP lines,
# waiting for a condition with a deadline, reading a child's stdout by line,
# secret files). Every tests/bridge-*-test.py uses this module; standard
# library only.
#
# Two servers, one test body: make_homeserver() gives the homeserver
# emulator (Homeserver), or, when tests/synapse.py runs the test with
# PB_TEST_HOMESERVER set, the real Synapse it started (RealHomeserver), with
# the same methods. Only the emulator has faults on demand (hs.faults, the
# /_test/ routes); bodies skip those cases on a real server.
# SPDX-License-Identifier: LGPL-2.1-or-later
import json
import os
import queue
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.environ.get("PB_SOURCE_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PY = "/usr/bin/python3"
# tests/synapse.py gives each test body its own users (alice1, bob1, eve1)
SUFFIX = os.environ.get("PB_TEST_USER_SUFFIX", "")


def user(name):
    """The full user id of the test user @name ("alice", "bob", "eve")."""
    return "@%s%s:localhost" % (name, SUFFIX)


OWNER, BOT, STRANGER = user("bob"), user("alice"), user("eve")


class Tap:
    """TAP lines: ok(cond, what) prints one and counts the failures; done()
    prints the plan and returns the exit status."""

    def __init__(self):
        self.n = self.failed = 0

    def ok(self, cond, what):
        self.n += 1
        print(("ok %d - %s" if cond else "not ok %d - %s") % (self.n, what), flush=True)
        self.failed += 0 if cond else 1
        return cond

    def done(self):
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0


def wait_for(pred, what, timeout=60.0):
    """pred() until it is true (returned) or the deadline (None)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    print("# timed out waiting for " + what, flush=True)
    return None


class Lines:
    """The lines of a child's stdout, read by a thread."""

    def __init__(self, stream):
        self.q = queue.Queue()
        threading.Thread(target=self._run, args=(stream,), daemon=True).start()

    def _run(self, stream):
        for line in stream:
            self.q.put(line.rstrip("\n"))

    def get(self, prefix, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.q.get(timeout=0.5)
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line
        raise RuntimeError("no line starting with " + prefix)


def request(method, url, body=None, token=None, ctype="application/json"):
    """A request with a JSON body (bytes are sent as they are, with @ctype):
    the JSON answer, or the answer's bytes when it is not JSON."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, method=method, data=data)
    req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=60) as r:
        out = r.read()
    try:
        return json.loads(out or b"{}")
    except ValueError:
        return out


def login(hs, user, pw):
    """An access token of @user on the homeserver at base URL @hs."""
    return request("POST", hs + "/_matrix/client/v3/login",
                   {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
                    "password": pw})["access_token"]


def secret_file(path, text):
    """Write @text to a new file of mode 0600: @path."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, text.encode())
    os.close(fd)
    return path


def db_rows(path, sql, *args):
    """The rows of @sql (with the parameters @args) in the SQLite store at
    @path, read on a connection of its own while the daemons use the store."""
    db = sqlite3.connect(path, timeout=30)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_tinyproxy(tmp):
    """tinyproxy on 127.0.0.1 (its configuration and log in @tmp):
    (process, port), or (None, 0) when it is not installed or did not start."""
    if not shutil.which("tinyproxy"):
        return None, 0
    port = free_port()
    conf = os.path.join(tmp, "tinyproxy.conf")
    with open(conf, "w") as f:
        f.write("Port %d\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 60\nLogLevel Info\n" % port)
    log = open(os.path.join(tmp, "tinyproxy.log"), "w")
    p = subprocess.Popen(["tinyproxy", "-d", "-c", conf], stdout=log, stderr=log)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            if p.poll() is not None:
                break
            time.sleep(0.02)  # poll interval
    p.kill()
    return None, 0


def child(args):
    """A helper process that stops when our end of its stdin closes."""
    p = subprocess.Popen([PY] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return p, Lines(p.stdout)


def emulator(name, *args):
    """tests/emulators/@name-emulator.py, which prints "READY <port>" (and
    stops when its stdin closes): (process, base URL)."""
    p, out = child([os.path.join(ROOT, "tests/emulators", name + "-emulator.py")] + list(args))
    return p, "http://127.0.0.1:%s" % out.get("READY ").split()[1]


def stop(p):
    if p.poll() is None:
        if p.stdin:
            p.stdin.close()
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# --- SIP: pb-screend and the Net::SIP phones of tests/sip/ (calls-test.py,
# voicemail-test.py) ---

SIP = os.path.join(ROOT, "tests/sip")


def need_net_sip():
    """Skip the whole test (TAP) without Net::SIP."""
    if subprocess.run(["perl", "-MNet::SIP", "-e", "1"], capture_output=True).returncode != 0:
        print("1..0 # SKIP Net::SIP is not installed (Debian package libnet-sip-perl)")
        raise SystemExit(0)


def shared_store(tmp):
    """The store of both daemons in tmp/phonebridge, a 2770 directory as
    /var/lib/phonebridge is installed (docs/bridge.md "Both daemons together")."""
    shared = os.path.join(tmp, "phonebridge")
    os.mkdir(shared)
    os.chmod(shared, 0o2770)
    return os.path.join(shared, "phone.db")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sip_perl(script, *args):
    """tests/sip/@script with @args: (process, its output Lines)."""
    p = subprocess.Popen(["perl", os.path.join(SIP, script)] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p, Lines(p.stdout)


def sip_call(port, caller, *args, to="screen"):
    """A Net::SIP call (tests/sip/caller.pl @args) from @caller to the user
    @to of pb-screend on @port: its output lines, up to "done"."""
    p, out = sip_perl("caller.pl", "--to", "sip:%s@127.0.0.1:%d" % (to, port), "--from",
                      "sip:%s@127.0.0.1" % caller, *args)
    lines = []
    try:
        while not lines or not lines[-1].startswith("done"):
            lines.append(out.get("", 90))
    except RuntimeError:
        lines.append("(no more lines within 90 s)")
    p.wait(30)
    return lines


class Screend:
    """pb-screend -c @conf, its output read by line (self.out)."""

    def __init__(self, exe, conf):
        self.proc = subprocess.Popen([exe, "-c", conf], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.out = Lines(self.proc.stdout)

    def ready(self):
        """The SIP port once it says "pb-screend ready on ADDRESS:PORT"."""
        line = self.out.get("", 30)
        while "pb-screend ready on" not in line:
            line = self.out.get("", 30)
        return int(line.rsplit(":", 1)[1])

    def stop(self, failed):
        """SIGTERM (SIGKILL after 30 s); its output printed when @failed."""
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        while failed and not self.out.q.empty():
            print("# screend: " + self.out.q.get())


class Homeserver:
    """tests/matrix-homeserver.py; with state=FILE it can be killed and come
    back on the same port with the same rooms, events and tokens."""

    faults = True  # /_test/fault, /_test/inject, kill() and start()

    def __init__(self, state=None):
        self.state, self.port, self.proc = state, 0, None
        self.start()

    def start(self):
        args = [os.path.join(ROOT, "tests/matrix-homeserver.py"), "--exit-on-eof"]
        if self.state:
            args += ["--state", self.state]
        if self.port:
            args += ["--port", str(self.port)]
        self.proc, out = child(args)
        self.port = int(out.get("port ").split()[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def http(self, method, path, body=None, token=None):
        return request(method, self.url + path, body, token)

    def login(self, user, pw):
        return login(self.url, user, pw)

    def stats(self):
        return self.http("GET", "/_test/stats")

    def bot_messages(self):
        """[(room, content)] of the bot's m.room.message events, in order."""
        return [(rid, e["content"]) for rid, evs in self.stats()["events"].items() for e in evs
                if e["type"] == "m.room.message" and e["sender"] == BOT]

    def bodies(self, msgtype="m.text"):
        return [c.get("body") for _, c in self.bot_messages() if c.get("msgtype") == msgtype]

    def owner_says(self, token, rid, txn, body):
        q = urllib.parse.quote(rid)
        self.http("POST", "/_matrix/client/v3/join/" + q, {}, token)
        self.http("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/%s" % (q, txn),
                  {"msgtype": "m.text", "body": body}, token)

    def inject(self, rid, sender, etype=None, content=None, join=False):
        """@sender (a test user id) joins room @rid, or sends an event there."""
        body = {"room_id": rid, "sender": sender}
        if join:
            body["join"] = True
        else:
            body.update(type=etype, content=content)
        return self.http("POST", "/_test/inject", body)

    def stop(self):
        stop(self.proc)


class RealHomeserver:
    """A real homeserver someone else started (tests/synapse.py): the
    emulator's client side without its /_test/ routes. stats() is built from
    the client API as the bot sees it: its joined rooms, their events (from
    an incremental /sync, never repeated identically: Synapse would answer
    from its cache) and their members; "counts" is empty."""

    faults = False

    def __init__(self, url):
        self.url, self.proc = url.rstrip("/"), None
        self.tokens = {}
        self.since, self.events, self.members = None, {}, {}
        self.filter = json.dumps({"room": {"timeline": {"limit": 1000}, "state": {"lazy_load_members": False}},
                                  "presence": {"types": []}, "account_data": {"types": []}})

    def http(self, method, path, body=None, token=None):
        return request(method, self.url + path, body, token)

    def login(self, name, pw):
        """A new access token of the test user @name (suffixed as tests/synapse.py registered it)."""
        return login(self.url, name if name.startswith("@") else name + SUFFIX, pw)

    def token(self, name):
        if name not in self.tokens:
            self.tokens[name] = self.login(name, {"alice": "wonderland", "bob": "builder", "eve": "evil"}[name])
        return self.tokens[name]

    def stats(self):
        q = {"filter": self.filter, "timeout": "1"}
        if self.since:
            q["since"] = self.since
        else:
            q["timeout"] = "0"
        res = self.http("GET", "/_matrix/client/v3/sync?" + urllib.parse.urlencode(q), token=self.token("alice"))
        self.since = res["next_batch"]
        for rid, r in res.get("rooms", {}).get("join", {}).items():
            evs = self.events.setdefault(rid, [])
            seen = {e["event_id"] for e in evs}
            for e in r.get("state", {}).get("events", []) + r.get("timeline", {}).get("events", []):
                if e["event_id"] in seen:
                    continue
                seen.add(e["event_id"])
                evs.append(e)
                if e["type"] == "m.room.member":
                    self.members.setdefault(rid, {})[e["state_key"]] = e["content"].get("membership")
        return {"counts": {}, "events": self.events,
                "rooms": {rid: {"members": self.members.get(rid, {})} for rid in self.events}}

    bot_messages = Homeserver.bot_messages
    bodies = Homeserver.bodies
    owner_says = Homeserver.owner_says

    def inject(self, rid, sender, etype=None, content=None, join=False):
        name = sender[1:].split(":")[0][:-len(SUFFIX) or None]
        q = urllib.parse.quote(rid)
        if join:
            self.http("POST", "/_matrix/client/v3/rooms/%s/invite" % q, {"user_id": sender}, self.token("alice"))
            return self.http("POST", "/_matrix/client/v3/join/" + q, {}, self.token(name))
        txn = "inject%d" % int(time.time() * 1e6)
        return self.http("PUT", "/_matrix/client/v3/rooms/%s/send/%s/%s" % (q, etype, txn), content,
                         self.token(name))

    def stop(self):
        pass


def control_room(hs):
    """The bridge's control room (the room named "Phone bridge") on @hs, once it exists."""
    return wait_for(lambda: next((rid for rid, evs in hs.stats()["events"].items()
                                  if any(e["type"] == "m.room.name" and e["content"].get("name") == "Phone bridge"
                                         for e in evs)), None), "the control room")


def room_notices(hs, rid):
    """The bodies of the bot's m.notice events in room @rid on @hs, in order."""
    return [c.get("body", "") for r, c in hs.bot_messages() if r == rid and c.get("msgtype") == "m.notice"]


def make_homeserver(state=None):
    """The real homeserver tests/synapse.py started, or the emulator."""
    url = os.environ.get("PB_TEST_HOMESERVER")
    return RealHomeserver(url) if url else Homeserver(state)


class Mmsc:
    """tests/mmsc-server.py serving the sample picture message at self.pic_url."""

    def __init__(self, tmp):
        d = os.path.join(tmp, "mmsc")
        os.mkdir(d)
        with open(os.path.join(ROOT, "data/samples/picture-message.mms"), "rb") as f:
            self.picture = f.read()
        with open(os.path.join(d, "pic.mms"), "wb") as f:
            f.write(self.picture)
        self.proc, out = child([os.path.join(ROOT, "tests/mmsc-server.py"), "--root", "t=" + d, "--record-dir", d])
        self.url = "http://127.0.0.1:%d" % int(out.get("PORT ").split()[1])
        self.pic_url = self.url + "/files/t/pic.mms"

    def requests(self):
        with urllib.request.urlopen(self.url + "/admin/requests", timeout=30) as r:
            return json.loads(r.read())

    def push(self, pb_mms, tid, sender):
        """The WAP push of an M-Notification.ind for the picture (pb-mms encode)."""
        return subprocess.run([pb_mms, "encode", "notification", "--transaction-id", tid, "--location",
                               self.pic_url, "--from", sender, "--size", str(len(self.picture)), "--push"],
                              capture_output=True, check=True).stdout


class AtModem:
    """tests/emulators/at-modem-emulator.py on a pseudo-terminal linked at tmp/name."""

    def __init__(self, tmp, name="ttyUSB2"):
        self.link = os.path.join(tmp, name)
        self.proc, self.out = child([os.path.join(ROOT, "tests/emulators/at-modem-emulator.py"), "--link", self.link])
        self.out.get("READY ")

    def ctl(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def sent(self):
        """The hex PDUs the modem got with AT+CMGS, oldest first."""
        self.ctl("sent?")
        return [h for h in self.out.get("SENT", 30)[5:].split(",") if h]

    def config(self):
        """The [modem] lines for this modem."""
        return "backend = at\ndevice = %s\npoll_interval_ms = 500\ntimeout_ms = 3000" % self.link


def bridge_config(path, modem, hs_url, token_file, store, extra="", bridge=""):
    """Write pb-bridged's configuration to @path: the [modem] lines @modem
    (import_existing = yes unless @modem says otherwise: the tests put
    messages on the modem right after the start, which a first start with
    import_existing = no would leave there);
    [matrix] with the homeserver at @hs_url, @token_file, the owner and a 1 s
    sync timeout, then @extra (more [matrix] lines, other sections); [bridge]
    with @store, region DE and the lines @bridge. @return @path."""
    if "import_existing" not in modem:
        modem += "\nimport_existing = yes"
    with open(path, "w") as f:
        f.write("[modem]\n%s\n[matrix]\nhomeserver = %s\ntoken_file = %s\nowners = %s\n"
                "sync_timeout_ms = 1000\n%s\n[bridge]\nstore = %s\nregion = DE\n%s\n"
                % (modem, hs_url, token_file, OWNER, extra, store, bridge))
    return path


class Daemon:
    """pb-bridged run with the configuration file @config (default
    tmp/bridge.ini), its output appended to tmp/daemon.log; -v when the
    environment has PB_BRIDGE_VERBOSE."""

    def __init__(self, daemon, tmp, config=None):
        self.daemon, self.tmp = daemon, tmp
        self.config = config or os.path.join(tmp, "bridge.ini")
        self.log_path = os.path.join(tmp, "daemon.log")
        self.log = open(self.log_path, "a")
        self.proc = None

    def secret(self, name, value):
        return secret_file(os.path.join(self.tmp, name), value)

    def start(self, config=None):
        verbose = ["-v"] if os.environ.get("PB_BRIDGE_VERBOSE") else []
        self.proc = subprocess.Popen([self.daemon] + verbose + ["-c", config or self.config],
                                     stdout=self.log, stderr=self.log)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def terminate(self, timeout=30):
        """SIGTERM: the exit status, or None (and SIGKILL) after @timeout s."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def log_lines(self):
        """The lines the daemon has logged so far."""
        self.log.flush()
        with open(self.log_path) as f:
            return f.read().splitlines()

    def log_has(self, *needles):
        """Has the daemon logged a line with every one of @needles?"""
        return any(all(n in line for n in needles) for line in self.log_lines())

    def failed_rounds(self):
        """Delivery rounds that gave up on the homeserver (each is followed by a back-off)."""
        return sum(1 for line in self.log_lines() if "matrix:" in line and "(will retry)" in line)

    def close(self, failed):
        self.kill()
        self.log.close()
        if failed:
            with open(self.log_path) as f:
                for line in f.read().splitlines()[-80:]:
                    print("# " + line)


class Bridge(Daemon):
    """pb-bridged with a configuration written from [modem] lines and the
    homeserver; the bot's token and the store live in tmp."""

    def __init__(self, daemon, tmp, hs, modem, extra=""):
        super().__init__(daemon, tmp)
        self.token_file = self.secret("matrix.token", hs.login("alice", "wonderland"))
        self.store = os.path.join(tmp, "bridge.db")
        bridge_config(self.config, modem, hs.url, self.token_file, self.store, extra)


def scratch(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def finish(t, bridge, procs, tmp):
    """The end of a test: the daemon's log on failure, helpers stopped, the
    plan printed, tmp removed when all passed. @return the exit status."""
    bridge.close(t.failed)
    for p in procs:
        if p is not None:  # a RealHomeserver has no process of ours
            stop(p)
    rc = t.done()
    if not t.failed:
        shutil.rmtree(tmp, ignore_errors=True)
    return rc
