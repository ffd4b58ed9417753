#!/usr/bin/python3
# pb-modem against the HiLink emulator: every line it prints is JSON (jansson),
# with text that needs escaping (quotes, controls, emoji) intact.
# usage: pb-modem-cli.py PB_MODEM EMULATOR          (prints TAP)
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

pb_modem, emulator = sys.argv[1], sys.argv[2]
n = 0
failed = 0


def ok(cond, what):
    global n, failed
    n += 1
    if not cond:
        failed += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {what}", flush=True)


def parse(text, default):
    try:
        return json.loads(text)
    except ValueError:
        return default


emu = subprocess.Popen(["/usr/bin/python3", emulator, "--samples"], stdout=subprocess.PIPE, text=True)
try:
    line = emu.stdout.readline()
    port = int(line.split()[1])
    url = f"http://127.0.0.1:{port}"
    tricky = 'say "hi"\\ \x01 tab\there \U0001F600'
    req = urllib.request.Request(url + "/test/add-sms?phone=%2B15550009", data=tricky.encode(), method="POST")
    urllib.request.urlopen(req, timeout=30).read()
    with tempfile.TemporaryDirectory() as d:
        pw = os.path.join(d, "pw")
        with open(pw, "w") as f:
            f.write("secret\n")
        os.chmod(pw, 0o600)
        base = [pb_modem, "--backend", "hilink", "--url", url, "--user", "admin", "--password-file", pw]

        def run(*args):
            return subprocess.run(base + list(args), capture_output=True, text=True, timeout=120)

        r = run("status")
        st = parse(r.stdout, {})
        ok(r.returncode == 0 and st.get("backend") == "hilink" and "signal_dbm" in st, "status is one JSON object")
        r = run("list")
        msgs = [parse(l, None) for l in r.stdout.splitlines()]
        ok(r.returncode == 0 and len(msgs) >= 6 and all(isinstance(m, dict) for m in msgs),
           "list is one JSON document a line")
        texts = {m.get("number"): m.get("text") for m in msgs}
        ok(texts.get("+15550009") == tricky, "quotes, backslashes, controls and emoji survive")
        ok(texts.get("+15550003") == "Smile \U0001F600 please", "a non-BMP character survives")
        mms = [m for m in msgs if m.get("type") == "mms"]
        ok(bool(mms) and "mms" in mms[0] and "decoded" in mms[0]["mms"], "an MMS notification carries its headers")
        r = run("read", "40001")
        one = parse(r.stdout, {})
        ok(one.get("id") == "40001" and one.get("text") == "Hello from the router", "read prints one message")
        r = run("send", "+15550100", 'a "quoted" text')
        sent = parse(r.stdout, {})
        ok(sent.get("sent") is True and isinstance(sent.get("reference"), int), "send prints {sent, reference}")
        r = run("delete", '40005"x')
        ok(r.returncode != 0 or parse(r.stdout, {}).get("deleted") == '40005"x', "an odd id is escaped, never raw")
        r = run("watch", "--duration", "1500")
        lines = [l for l in r.stdout.splitlines() if l.strip()]
        events = [parse(l, {}) for l in lines]
        ok(r.returncode == 0 and events and all(e.get("event") in ("message", "error", "recovered") for e in events),
           "watch prints one JSON event a line")
        r = run("watch", "--duration", "-1")
        ok(r.returncode == 64 and "--duration takes ms" in r.stderr and not r.stdout,
           "watch refuses a --duration that is not ms (usage, exit 64), before watching")
finally:
    emu.kill()
    emu.wait()
print(f"1..{n}")
sys.exit(1 if failed else 0)
