# libphonebridge tests — what the pb-bridged end-to-end scripts share: TAP
# output, waiting for a condition, reading an emulator's stdout by line, and
# the homeserver emulator's client API. Standard library only.
# SPDX-License-Identifier: LGPL-2.1-or-later
import json
import os
import queue
import subprocess
import threading
import time
import urllib.request


class Tap:
    """TAP lines: ok(cond, what) prints one and counts the failures."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, what):
        self.n += 1
        print(("ok %d - %s" if cond else "not ok %d - %s") % (self.n, what), flush=True)
        if not cond:
            self.failed += 1
        return cond


def wait_for(pred, what, timeout=60.0):
    """pred()'s first true value, asked every 50 ms; None after @timeout s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    print("# timed out waiting for " + what, flush=True)
    return None


class Lines:
    """The lines of a stream, read by a thread; get() the next one with a prefix."""

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
    """A JSON request (bytes are sent as they are, with @ctype); the JSON answer."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, method=method, data=data)
    req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def login(hs, user, pw):
    """An access token of @user on the homeserver at base URL @hs."""
    return request("POST", hs + "/_matrix/client/v3/login",
                   {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
                    "password": pw})["access_token"]


PY = "/usr/bin/python3"


def start_homeserver(root):
    """tests/matrix-homeserver.py (stops when its stdin closes): (process, base URL)."""
    p = subprocess.Popen([PY, os.path.join(root, "tests/matrix-homeserver.py"), "--exit-on-eof"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return p, "http://127.0.0.1:%d" % int(Lines(p.stdout).get("port ").split()[1])


def start_mmsc(root, mms_dir):
    """tests/mmsc-server.py serving and recording in @mms_dir: (process, base URL)."""
    p = subprocess.Popen([PY, os.path.join(root, "tests/mmsc-server.py"), "--root", "t=" + mms_dir,
                          "--record-dir", mms_dir], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return p, "http://127.0.0.1:%d" % int(Lines(p.stdout).get("PORT ").split()[1])


class AtModem:
    """tests/emulators/at-modem-emulator.py on a pseudo-terminal linked at @link."""

    def __init__(self, root, link):
        self.proc = subprocess.Popen([PY, os.path.join(root, "tests/emulators/at-modem-emulator.py"),
                                      "--link", link], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.out = Lines(self.proc.stdout)
        self.out.get("READY ")

    def ctl(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def sent(self):
        """The SMS-SUBMIT PDUs (hex) the modem was given, in order."""
        self.ctl("sent?")
        line = self.out.get("SENT", 30)[5:]
        return [h for h in line.split(",") if h]


def secret_file(path, text):
    """Write @text (and a newline) to a new file of mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (text + "\n").encode())
    os.close(fd)
    return path
