#!/usr/bin/python3
# libphonebridge tests — one real Synapse for a suite run.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: synapse.py [--users N] -- CMD [ARG...] [-- CMD [ARG...]]...
#
# Starts one Synapse (../shared/peers/synapse/start-synapse beside the
# checkout, or $PB_START_SYNAPSE) in a new temporary directory on a free
# loopback port, registers the users alice/wonderland, bob/builder and
# eve/evil once for each command (with a suffix: alice1, bob1, eve1 for the
# first, alice2... for the second, so that the bodies never see each other's
# rooms), runs the commands one after the other with
#
#   PB_TEST_HOMESERVER=http://127.0.0.1:PORT  PB_TEST_USER_SUFFIX=1 (2, ...)
#
# and stops the server at the end, however the commands end (a failure, an
# exception, SIGTERM from meson's timeout). The commands print TAP; their
# lines are numbered again into one stream (each case's name prefixed with
# the command's script), so meson counts every case. Without the shared
# directory the run is skipped, saying so.
#
# Test bodies meant for both servers read PB_TEST_HOMESERVER: unset, they
# start the homeserver emulator (tests/matrix-homeserver.py) as before
# (tests/bridge_env.py: make_homeserver()).
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = os.environ.get("PB_SOURCE_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
USERS = (("alice", "wonderland"), ("bob", "builder"), ("eve", "evil"))


def start_script():
    return os.environ.get("PB_START_SYNAPSE") or os.path.join(ROOT, "..", "shared", "peers", "synapse",
                                                              "start-synapse")


class Synapse:
    """A running Synapse in its own directory: url, pid; stop() ends it and
    removes the directory (also from a with-block or at SIGTERM)."""

    def __init__(self, users, appservices=()):
        self.script = start_script()
        self.dir = tempfile.mkdtemp(prefix="pb-synapse-")
        self.start(users, appservices)

    def restart(self, users, appservices=()):
        """Stop the server and start it again from the same directory (its
        database kept), e.g. with application-service registrations
        (@appservices: their files) that it reads only at its start."""
        subprocess.run([self.script, "stop", self.dir], capture_output=True, timeout=120)
        self.start(users, appservices)

    def start(self, users, appservices=()):
        args = [self.script, self.dir]
        for u, pw in users:
            args += ["--user", "%s:%s" % (u, pw)]
        for a in appservices:
            args += ["--appservice", a]
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError("start-synapse did not finish in 600 s")
        out = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
        if r.returncode != 0 or "url" not in out:
            log = os.path.join(self.dir, "data", "homeserver.log")
            tail = open(log).read()[-3000:] if os.path.exists(log) else ""
            self.stop()
            raise RuntimeError("start-synapse failed (%d): %s\n%s" % (r.returncode, r.stderr.strip(), tail))
        self.url, self.pid = out["url"], int(out["pid"])

    def stop(self):
        if self.dir:
            subprocess.run([self.script, "stop", self.dir], capture_output=True, timeout=120)
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def split_commands(argv):
    cmds, cur = [], None
    for a in argv:
        if a == "--":
            cur = []
            cmds.append(cur)
        elif cur is not None:
            cur.append(a)
    return [c for c in cmds if c]


def main():
    cmds = split_commands(sys.argv[1:])
    if not cmds:
        print("usage: synapse.py -- CMD [ARG...] [-- CMD [ARG...]]...", file=sys.stderr)
        return 2
    if not os.access(start_script(), os.X_OK):
        print("1..0 # SKIP no %s (../shared beside the checkout)" % start_script(), flush=True)
        return 0
    users = [("%s%d" % (u, i + 1), pw) for i in range(len(cmds)) for u, pw in USERS]
    # meson ends a test that runs too long with SIGTERM: stop Synapse then too
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    n = failed = 0
    children = []
    try:
        with Synapse(users) as hs:
            print("# Synapse at %s (pid %d)" % (hs.url, hs.pid), flush=True)
            for i, cmd in enumerate(cmds):
                env = dict(os.environ, PB_TEST_HOMESERVER=hs.url, PB_TEST_USER_SUFFIX=str(i + 1))
                name = os.path.basename(next((a for a in cmd if a.endswith((".py", ".sh"))), cmd[0]))
                p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
                children.append(p)
                plan = None
                for line in p.stdout:
                    line = line.rstrip("\n")
                    m = re.match(r"^(not ok|ok)\s+\d+\s*(?:-\s*)?(.*)$", line)
                    if m:
                        n += 1
                        # a skipped case (cmocka writes "not ok N # SKIP name"):
                        # ok, with the directive kept at the end
                        d = re.match(r"^#\s*SKIP\b\s*(.*)$", m.group(2))
                        if d:
                            print("ok %d - %s: %s # SKIP" % (n, name, d.group(1)), flush=True)
                            continue
                        failed += m.group(1) == "not ok"
                        print("%s %d - %s: %s" % (m.group(1), n, name, m.group(2)), flush=True)
                    elif re.match(r"^1\.\.\d+", line):
                        plan = line
                    else:
                        print(line, flush=True)
                rc = p.wait()
                if rc != 0 or plan is None:
                    n += 1
                    failed += 1
                    print("not ok %d - %s: exited %d%s" % (n, name, rc, "" if plan else ", no plan"), flush=True)
    except RuntimeError as e:
        print("Bail out! %s" % str(e).replace("\n", " | ")[:2000], flush=True)
        return 1
    finally:
        for p in children:  # a body still running when we were told to stop
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
    print("1..%d" % n, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
