#!/usr/bin/python3
# libphonebridge tests — pb-mms fetch / pb-mms send against the test MMSC
# (tests/mmsc-server.py), directly and through tinyproxy. Prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   mmsc-cli-test.py PB_MMS_BINARY
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import start_tinyproxy  # noqa: E402

pb_mms = sys.argv[1]
src = os.environ["PB_SOURCE_ROOT"]
data = os.path.join(src, "tests", "data", "mmsc")
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print("%s %d - %s" % ("ok" if ok else "not ok", len(results), name))
    if not ok and detail:
        for line in str(detail).splitlines():
            print("# " + line)


def start_server(tmp):
    p = subprocess.Popen([sys.executable, os.path.join(src, "tests", "mmsc-server.py"),
                          "--root", "own=" + data, "--root", "tmp=" + tmp, "--record-dir", tmp],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = p.stdout.readline().decode()
    return p, int(line.split()[1])


def run(*args):
    return subprocess.run([pb_mms, *args], capture_output=True, text=True, timeout=120)


def run_on_pty(*args):
    """Run with stdout on a pseudo-terminal: the progress bar shows."""
    master, slave = pty.openpty()
    p = subprocess.Popen([pb_mms, *args], stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    err = p.stderr.read().decode(errors="replace")
    p.wait(timeout=120)
    os.close(master)
    return p.returncode, out.decode(errors="replace"), err


def requests(port):
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open("http://127.0.0.1:%d/admin/requests" % port, timeout=30) as r:
        return json.load(r)


def main():
    tmp = tempfile.mkdtemp(prefix="pb-mmsc-cli-")
    server, port = start_server(tmp)
    proxy, pport = start_tinyproxy(tmp)
    base = "http://127.0.0.1:%d" % port
    try:
        parts = os.path.join(tmp, "parts")
        r = run("fetch", base + "/files/own/retrieve-conf-text.mms", "--parts-dir", parts)
        check("fetch decodes and prints the message", r.returncode == 0 and "subject: Hello" in r.stdout
              and "Hi from the test MMSC" in r.stdout, r.stdout + r.stderr)
        saved = os.listdir(parts) if os.path.isdir(parts) else []
        check("fetch saves the parts", len(saved) == 1 and
              open(os.path.join(parts, saved[0]), "rb").read() == b"Hi from the test MMSC", saved)
        check("no progress bar when stdout is not a terminal", "\r[" not in r.stderr, r.stderr)

        code, out, err = run_on_pty("fetch", base + "/big/200000", "--max-size", "300000")
        check("progress bar on a terminal", "\r[" in err and "100%" in err, repr(err[-300:]))

        r = run("fetch", base + "/html")
        check("fetch of an HTML page fails clearly", r.returncode == 1 and "HTTP 200" in r.stderr
              and "message not available" in r.stderr, r.stderr)
        r = run("fetch", base + "/missing")
        check("fetch of a 404 names the status", r.returncode == 1 and "HTTP 404" in r.stderr, r.stderr)
        r = run("fetch", base + "/big/500000", "--max-size", "1000")
        check("fetch over --max-size fails", r.returncode == 1 and "limit" in r.stderr, r.stderr)
        r = run("fetch", "/mms/wapenc?x=1", "--rewrite",
                "base=%s/files/own/retrieve-conf-text.mms keep=query" % base)
        check("fetch with a rewrite rule", r.returncode == 0 and "retrieve-conf-text.mms?x=1" in r.stdout,
              r.stdout + r.stderr)
        r = run("fetch", base + "/files/own/retrieve-conf-text.mms?case=cli-if", "--interface", "host!127.0.0.1",
                "--user-agent", "TestPhone/1.0", "--wap-profile", "http://uaprof.example/t.xml",
                "--header", "X-Test: 1")
        seen = [q for q in requests(port) if "case=cli-if" in q["path"]]
        check("fetch sends the headers and binds the address", r.returncode == 0 and seen and
              seen[-1]["headers"].get("user-agent") == "TestPhone/1.0" and
              seen[-1]["headers"].get("x-wap-profile") == "http://uaprof.example/t.xml" and
              seen[-1]["headers"].get("x-test") == "1", r.stderr + json.dumps(seen))

        attach = os.path.join(tmp, "pic.png")
        with open(attach, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
        r = run("send", "--mmsc", base + "/mmsc?case=cli-send", "--from", "+15551234567",
                "--to", "+15557654321", "+15550000000", "--text", "hello", "--attach", attach)
        try:
            conf = json.loads(r.stdout)
        except ValueError:
            conf = {}
        check("send prints the M-Send.conf as JSON", r.returncode == 0 and conf.get("ok") is True and
              conf.get("response_status") == 128 and conf.get("message_id", "").startswith("msg-"),
              r.stdout + r.stderr)
        posted = [q for q in requests(port) if "case=cli-send" in q["path"]]
        body = open(posted[-1]["body_file"], "rb").read() if posted else b""
        check("send posts an M-Send.req with both recipients and the picture",
              body[:2] == b"\x8c\x80" and b"+15550000000" in body and b"\x89PNG" in body, body[:64])

        r = run("send", "--mmsc", base + "/mmsc?send_status=0xE3&send_text=No+way",
                "--from", "+1555", "--to", "+1556", "--text", "x")
        try:
            conf = json.loads(r.stdout)
        except ValueError:
            conf = {}
        check("a refused send exits 1 with the status in JSON", r.returncode == 1 and
              conf.get("response_status") == 0xE3 and conf.get("response_text") == "No way", r.stdout)
        r = run("send", "--from", "+1555", "--to", "+1556")
        check("send without --mmsc is a usage error", r.returncode == 1 and "usage" in r.stderr, r.stderr)
        r = run("fetch", base + "/big/64")
        check("fetch of a PDU that does not decode exits 65 (EX_DATAERR) with the offset", r.returncode == 65 and
              "malformed at byte" in r.stderr, r.stderr)

        if pport:
            r = run("fetch", base + "/files/own/retrieve-conf-text.mms?case=cli-proxy",
                    "--proxy", "127.0.0.1:%d" % pport)
            seen = [q for q in requests(port) if "case=cli-proxy" in q["path"]]
            check("fetch through tinyproxy", r.returncode == 0 and seen and
                  "tinyproxy" in seen[-1]["headers"].get("via", ""), r.stderr + json.dumps(seen))
            r = run("send", "--mmsc", base + "/mmsc?case=cli-proxy-send", "--proxy", "127.0.0.1:%d" % pport,
                    "--from", "+1555", "--to", "+1556", "--text", "via proxy")
            seen = [q for q in requests(port) if "case=cli-proxy-send" in q["path"]]
            check("send through tinyproxy", r.returncode == 0 and seen and
                  "tinyproxy" in seen[-1]["headers"].get("via", ""), r.stderr)
        else:
            print("ok %d # SKIP tinyproxy not installed" % (len(results) + 1))
            results.append(True)
    finally:
        if proxy:
            proxy.terminate()
            proxy.wait()
        server.stdin.close()
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % len(results))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
