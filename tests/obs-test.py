#!/usr/bin/python3
# libphonebridge tests — what the daemons show of themselves (issue 23):
# pb-bridged's and pb-screend's /health (JSON, 200 healthy or 503),
# /metrics (parsed by python3-prometheus-client's text parser, the one
# Prometheus's own Python client uses), "status" (text, --json, exit 69
# when the daemon is not running), and the watchdog that proves progress: a
# stage stalled on purpose (PBB_TEST_STALL) stops the WATCHDOG=1 pings and
# turns /health to 503. Against the AT modem emulator and the homeserver
# emulator; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: obs-test.py PATH/TO/pb-bridged PATH/TO/pb-screend
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import (ROOT, AtModem, Daemon, Homeserver, Tap, bridge_config, finish,  # noqa: E402
                        free_port, login, secret_file, wait_for)
from bridge_pdu import deliver7  # noqa: E402
import kamailio  # noqa: E402

BRIDGED, SCREEND = sys.argv[1], sys.argv[2]
EX_UNAVAILABLE, EX_CONFIG = 69, 78

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # python3-prometheus-client (tools/bootstrap)
    text_string_to_metric_families = None

tap = Tap()
ok = tap.ok
tmp = tempfile.mkdtemp(prefix="pb-obs-")
procs = []


def get(url, timeout=30):
    """(status, content type, body text) of a GET; status 0 when unreachable."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()
    except OSError:
        return 0, "", ""


def health(base):
    st, ctype, body = get(base + "/health")
    try:
        return st, ctype, json.loads(body)
    except ValueError:
        return st, ctype, None


def families(text):
    """{name: {labels tuple: value}} from the text format; None when it does not parse."""
    if text_string_to_metric_families is None:
        return None
    try:
        out = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
        return out
    except Exception as e:  # the parser raises ValueError and others on bad input
        print("# metrics do not parse: %s" % e)
        return None


def run(*args, env=None):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, env=env)


class Notify:
    """A NOTIFY_SOCKET read all the time by a thread (a service manager never
    lets its socket fill up: a full one would block the daemon's sd_notify),
    keeping every datagram with its arrival time."""

    def __init__(self, name):
        self.path = os.path.join(tmp, name)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.msgs, self.running = [], True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                self.msgs.append((time.monotonic(), self.sock.recv(4096).decode()))
            except socket.timeout:
                pass
            except OSError:
                return

    def pings_in(self, seconds):
        """The WATCHDOG=1 pings that come in the next @seconds."""
        t0 = time.monotonic()
        time.sleep(seconds)  # counting what arrives in a window: the window is the point
        return sum(m.count("WATCHDOG=1") for t, m in list(self.msgs) if t >= t0)

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


hs = Homeserver(state=os.path.join(tmp, "hs-state.json"))  # killed and started again: same tokens
procs.append(hs.proc)
modem = AtModem(tmp)
procs.append(modem.proc)
token_file = secret_file(os.path.join(tmp, "matrix.token"), login(hs.url, "alice", "wonderland") + "\n")
store = os.path.join(tmp, "bridge.db")
port = free_port()
base = "http://127.0.0.1:%d" % port
config = bridge_config(os.path.join(tmp, "bridge.ini"), modem.config(), hs.url, token_file, store,
                       "[http]\nlisten = 127.0.0.1:%d\n" % port, "store_sync = normal")
bridge = Daemon(BRIDGED, tmp, config)

# --- 1. not running: status says so, exit 69 -----------------------------------------
r = run(BRIDGED, "-c", config, "status")
ok(r.returncode == EX_UNAVAILABLE and "not running or not reachable" in r.stderr,
   "pb-bridged status without a daemon: exit 69 and why (%d %s)" % (r.returncode, r.stderr.strip()[:120]))
noaddr = bridge_config(os.path.join(tmp, "nohttp.ini"), modem.config(), hs.url, token_file, store)
r = run(BRIDGED, "-c", noaddr, "status")
ok(r.returncode == EX_CONFIG and "has no [http] listen" in r.stderr, "status without [http] listen: exit 78 and why")
r = run(BRIDGED, "-c", config, "check")
ok(r.returncode == 0 and ("\u2713 [http] listen 127.0.0.1:%d" % port) in r.stdout, "check reads [http] listen")
bad = bridge_config(os.path.join(tmp, "bad.ini"), modem.config(), hs.url, token_file, store,
                    "[http]\nlisten = 127.0.0.1:notaport\n")
r = run(BRIDGED, "-c", bad, "check")
ok(r.returncode == EX_CONFIG and "\u2717 [http] listen 127.0.0.1:notaport" in r.stdout,
   "check refuses a listen address that is not one")

short = bridge_config(os.path.join(tmp, "short.ini"), modem.config(), hs.url, token_file, store, "",
                      "stall_timeout_ms = 5000")
r = run(BRIDGED, "-c", short, "check")
ok(r.returncode == EX_CONFIG and "\u2717 [bridge] stall_timeout_ms 5000: not longer than the longest single wait"
   in r.stdout, "check refuses a stall_timeout_ms a healthy stage's wait would exceed")

# --- 2. running: /health 200, /metrics parse, a message counted ------------------------------
notify = Notify("notify.sock")
os.environ["NOTIFY_SOCKET"] = notify.path
os.environ["WATCHDOG_USEC"] = "1000000"
bridge.start()
del os.environ["NOTIFY_SOCKET"], os.environ["WATCHDOG_USEC"]
healthy = wait_for(lambda: health(base)[0] == 200, "healthy", 60)
st, ctype, doc = health(base)
ok(healthy and ctype.startswith("application/json") and doc and doc["status"] == "ok",
   "/health answers 200 with a JSON document once modem and homeserver answer")
ok(doc is not None and doc["modem"]["reachable"] is True and doc["homeserver"]["reachable"] is True and
   doc["queues"]["to_matrix"] == 0 and isinstance(doc["uptime_s"], (int, float)) and doc["version"] and
   set(doc["stages"]) == {"modem", "delivery", "sync", "mms", "fetch"} and "last_error" in doc,
   "/health: modem, homeserver, queue depths, stages, uptime, version, last error")

modem.ctl("deliver " + deliver7("+4915112345678", "Counted", 1))
ok(wait_for(lambda: any(c.get("body") == "Counted" for _, c in hs.bot_messages()), "delivered", 60),
   "an SMS is bridged")
st, ctype, text = get(base + "/metrics")
m = families(text)
if text_string_to_metric_families is None:
    ok(True, "# SKIP python3-prometheus-client is not installed (tools/bootstrap installs it)")
else:
    ok(st == 200 and ctype.startswith("text/plain; version=0.0.4") and m is not None,
       "/metrics is the Prometheus text format (prometheus_client's parser reads it)")
    key = (("direction", "in"), ("kind", "text"), ("outcome", "delivered"))
    ok(m is not None and m.get("pb_bridge_messages_total", {}).get(key) == 1.0 and
       m.get("pb_bridge_messages_total", {}).get((("direction", "in"), ("kind", "text"),
                                                   ("outcome", "received"))) == 1.0,
       "pb_bridge_messages_total counts the SMS received and delivered (%s)" %
       (m.get("pb_bridge_messages_total") if m else None))
    ok(m is not None and m["pb_bridge_queue_depth"][(("queue", "to_matrix"),)] == 0 and
       m["pb_bridge_peer_up"][(("peer", "homeserver"),)] == 1 and
       m["process_resident_memory_bytes"][()] > 1e6 and m["process_open_fds"][()] > 3 and
       m["process_cpu_seconds_total"][()] > 0 and abs(m["process_start_time_seconds"][()] - time.time()) < 600,
       "queue depth, peers and the process metrics")
    ok("# TYPE pb_bridge_messages_total counter" in text and "# HELP pb_bridge_retries_total" in text,
       "# HELP and # TYPE lines")

# docs/bridge.md's commands as written (the port is this test's)
r = run("curl", "-s", "http://127.0.0.1:%d/health" % port)
ok(r.returncode == 0 and json.loads(r.stdout or "{}").get("status") == "ok", "curl -s .../health")
r = run("curl", "-s", "http://127.0.0.1:%d/metrics" % port)
ok(r.returncode == 0 and "pb_bridge_messages_total{" in r.stdout, "curl -s .../metrics")
r = run(BRIDGED, "-c", config, "status", "--json", "--pretty")
ok(r.returncode == 0 and r.stdout.startswith("{\n  ") and json.loads(r.stdout)["status"] == "ok",
   "pb-bridged status --json --pretty: indented")
r = run(BRIDGED, "-c", config, "status")
ok(r.returncode == 0 and "healthy" in r.stdout and "modem.reachable" in r.stdout and "queues.to_matrix" in r.stdout,
   "pb-bridged status prints the facts (exit 0)")
r = run(BRIDGED, "-c", config, "status", "--json")
try:
    sdoc = json.loads(r.stdout)
except ValueError:
    sdoc = None
ok(r.returncode == 0 and sdoc is not None and sdoc["status"] == "ok" and len(r.stdout.splitlines()) == 1,
   "pb-bridged status --json: the /health document on one line")
ok(notify.pings_in(3) >= 2, "the watchdog pings while every stage makes progress")
st, ctype, page = get(base + "/")
ok(st == 200 and ctype.startswith("text/html") and 'id="plot"' in page and "pb-bridged" in page,
   "pb-bridged's status page on /")

# --- 3. the homeserver gone: 503, status exit 1, last error ---------------------------------
hs.kill()
ok(wait_for(lambda: health(base)[0] == 503, "503", 90), "/health answers 503 once the homeserver is gone")
st, _, doc = health(base)
ok(doc is not None and doc["homeserver"]["reachable"] is False and doc["last_error"] and
   "matrix" in doc["last_error"]["message"], "/health names the homeserver and the last error (%s)" %
   (doc["last_error"] if doc else None))
r = run(BRIDGED, "-c", config, "status")
ok(r.returncode == 1 and "UNHEALTHY" in r.stdout, "pb-bridged status: exit 1 when the daemon is unhealthy")
hs.start()
procs.append(hs.proc)
ok(wait_for(lambda: health(base)[0] == 200, "healthy again", 120), "healthy again when the homeserver is back")
rc = bridge.terminate()
ok(rc == 0, "SIGTERM: pb-bridged stops (%s)" % rc)
notify.close()

# --- 4. a stuck stage: the watchdog stops pinging, /health says which -----------------------
stall_cfg = bridge_config(os.path.join(tmp, "stall.ini"), modem.config(), hs.url, token_file, store,
                          "[http]\nlisten = 127.0.0.1:%d\n" % port, "store_sync = normal\nstall_timeout_ms = 12000")
notify = Notify("notify2.sock")
env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="1000000", PBB_TEST_STALL="delivery")
stalled = subprocess.Popen([BRIDGED, "-c", stall_cfg, "run"], env=env, stdout=bridge.log, stderr=bridge.log)
procs.append(stalled)
ok(wait_for(lambda: health(base)[0] in (200, 503), "listening", 60), "a daemon with a stalled stage answers /health")
ok(notify.pings_in(3) >= 2, "pings at first: the stage is quiet for less than stall_timeout_ms")
ok(wait_for(lambda: (health(base)[2] or {}).get("stages", {}).get("delivery", {}).get("stuck") is True,
            "stuck", 60), "/health marks the stalled stage stuck after stall_timeout_ms")
st, _, doc = health(base)
ok(st == 503, "and answers 503")
ok(notify.pings_in(4) == 0, "no WATCHDOG=1 while a stage is stuck")
ok(bridge.log_has("stage delivery made no progress", "watchdog pings withheld"), "the log says which stage")
stalled.send_signal(signal.SIGTERM)
ok(stalled.wait(60) == 0, "a stalled daemon still stops on SIGTERM")
notify.close()

# --- 5. pb-screend: /health, /metrics, status -------------------------------------------------
sport = free_port()
sbase = "http://127.0.0.1:%d" % sport
sconf = os.path.join(tmp, "screend.conf")
with open(sconf, "w") as f:
    f.write("[sip]\nlisten = 127.0.0.1\nport = 0\nallow = 127.0.0.1\n"
            "[forward]\nmode = redirect\ntarget = sip:owner@127.0.0.1\n"
            "[screen]\nprompts = %s\n[store]\npath = %s\n[http]\nlisten = 127.0.0.1:%d\n"
            "[policy]\nregion = US\nchallenge = press-digit\nchallenge-params = digit=6 tries=3\n"
            % (os.path.join(ROOT, "data/prompts"), os.path.join(tmp, "screen.db"), sport))
r = run(SCREEND, "-c", sconf, "status")
ok(r.returncode == EX_UNAVAILABLE and "not running" in r.stderr, "pb-screend status without a daemon: exit 69")
slog = open(os.path.join(tmp, "screend.log"), "w")
screend = subprocess.Popen([SCREEND, "-c", sconf, "run"], stdout=slog, stderr=slog)
procs.append(screend)
ok(wait_for(lambda: health(sbase)[0] == 200, "screend healthy", 60), "pb-screend /health answers 200")
st, _, doc = health(sbase)
ok(doc is not None and doc["registration"]["state"] == "none" and doc["calls"]["active"] == 0 and
   doc["store"]["reachable"] is True and doc["program"] == "pb-screend" and doc["version"],
   "pb-screend /health: registration, active calls, store, version")
st, ctype, text = get(sbase + "/metrics")
m = families(text)
ok(text_string_to_metric_families is None or
   (m is not None and m["pb_screend_active_calls"][()] == 0 and
    m["pb_screend_registration_state"][(("state", "none"),)] == 1 and "process_open_fds" in m),
   "pb-screend /metrics parses: active calls, registration state, process metrics")
# two real calls (tests/sip/caller.pl, Net::SIP): one deny-listed, one challenged that hangs up
sip_port = doc["sip"]["port"] if doc else 0
r = run(SCREEND, "-c", sconf, "deny", "+15550109999")
ok(r.returncode == 0, "pb-screend deny +15550109999")


def call(*args):
    return run("perl", os.path.join(ROOT, "tests/sip/caller.pl"), "--to", "sip:screen@127.0.0.1:%d" % sip_port,
               "--hold", "1", *args)


r1 = call("--from", "sip:+15550109999@127.0.0.1")
r2 = call("--from", "sip:+15550102000@127.0.0.1")
ok("final 403" in r1.stdout or "final 6" in r1.stdout, "the deny-listed call is refused (%s)" % r1.stdout.split())
m = None
if wait_for(lambda: (families(get(sbase + "/metrics")[2]) or {}).get("pb_screend_calls_ended_total"), "ended", 60):
    wait_for(lambda: sum(families(get(sbase + "/metrics")[2])["pb_screend_calls_ended_total"].values()) >= 2,
             "both calls ended", 60)
    m = families(get(sbase + "/metrics")[2])
calls = m.get("pb_screend_calls_total", {}) if m else {}
chal = m.get("pb_screend_challenges_total", {}) if m else {}
ok(text_string_to_metric_families is None or
   (calls.get((("verdict", "reject"),)) == 1 and calls.get((("verdict", "challenge"),)) == 1 and
    sum(v for k, v in chal.items() if ("challenge", "press-digit") in k) == 1),
   "pb_screend_calls_total by verdict and pb_screend_challenges_total by outcome (%s %s)" % (calls, chal))
# a call from a source not allowed is refused by the sip layer: counted by rule and status
call("--bind", "127.0.0.2", "--from", "sip:+15550103000@127.0.0.2")
refused = {}
if text_string_to_metric_families is not None:
    wait_for(lambda: (families(get(sbase + "/metrics")[2]) or {}).get("pb_screend_refused_total"), "refused", 60)
    refused = (families(get(sbase + "/metrics")[2]) or {}).get("pb_screend_refused_total", {})
ok(text_string_to_metric_families is None or
   refused.get((("rule", "source-not-allowed"), ("status", "403"))) == 1,
   "pb_screend_refused_total counts the sip layer's refusal by rule and status (%s)" % refused)
r = run(SCREEND, "-c", sconf, "status", "--json")
try:
    sdoc = json.loads(r.stdout)
except ValueError:
    sdoc = None
ok(r.returncode == 0 and sdoc is not None and sdoc["program"] == "pb-screend", "pb-screend status --json")
r = run(SCREEND, "-c", sconf, "status")
ok(r.returncode == 0 and "registration.state" in r.stdout, "pb-screend status prints the facts")
r = run(SCREEND, "-c", sconf, "--pretty", "status", "--json")
ok(r.returncode == 0 and r.stdout.startswith("{\n  "), "pb-screend --pretty status --json: indented")
r = run("curl", "-s", sbase + "/")
ok(r.returncode == 0 and "<svg" in r.stdout and "calls screened" in r.stdout, "pb-screend's status page")
screend.send_signal(signal.SIGTERM)
ok(screend.wait(60) == 0, "pb-screend stops")
slog.close()

# --- 6. pb-screend registered at kamailio: /health and /metrics say so; refused: 503 -------
def screend_registered(pw_file, name):
    """pb-screend registering at kamailio; the /health document once the registration settled."""
    p2 = free_port()
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write("[sip]\nlisten = 127.0.0.1\nport = 0\nallow = 127.0.0.1\n"
                "[register]\nregistrar = %s\naor = sip:screen@127.0.0.1\nusername = screen\n"
                "password-file = %s\n[forward]\nmode = redirect\ntarget = sip:owner@127.0.0.1\n"
                "[screen]\nprompts = %s\n[store]\npath = %s\n[http]\nlisten = 127.0.0.1:%d\n"
                % (k.registrar, pw_file, os.path.join(ROOT, "data/prompts"), os.path.join(tmp, name + ".db"), p2))
    lg = open(os.path.join(tmp, name + ".log"), "w")
    p = subprocess.Popen([SCREEND, "-c", conf, "run"], stdout=lg, stderr=lg)
    procs.append(p)
    url = "http://127.0.0.1:%d" % p2
    wait_for(lambda: (health(url)[2] or {}).get("registration", {}).get("state") in ("registered", "failed"),
             "registration settled", 60)
    st, _, doc = health(url)
    m = families(get(url + "/metrics")[2])
    p.send_signal(signal.SIGTERM)
    p.wait(60)
    lg.close()
    return st, doc, m


if kamailio.installed():
    k = kamailio.Kamailio(tmp)
    procs.append(k.proc)
    ok(k.ready(), "kamailio (registrar with digest) started")
    st, doc, m = screend_registered(secret_file(os.path.join(tmp, "kam.pw"), kamailio.PASSWORD), "reg-ok")
    ok(st == 200 and doc and doc["registration"] == {"state": "registered", "last_status": 200},
       "registered at kamailio: /health says registered (200)")
    ok(m is None or (m["pb_screend_registration_state"][(("state", "registered"),)] == 1 and
                     m["pb_screend_registration_state"][(("state", "pending"),)] == 0),
       "/metrics: pb_screend_registration_state{state=\"registered\"} 1")
    st, doc, m = screend_registered(secret_file(os.path.join(tmp, "kam-bad.pw"), "wrong"), "reg-bad")
    ok(st == 503 and doc and doc["registration"]["state"] == "failed" and
       400 <= doc["registration"]["last_status"] < 500, "a refused registration: /health 503, failed (%s)" %
       (doc["registration"] if doc else None))
else:
    ok(True, kamailio.SKIP)

sys.exit(finish(tap, bridge, procs, tmp))
