# libphonebridge tests — Debian's kamailio as the registrar of the Python
# tests (tests/obs-test.py, tests/daemon-check-test.py): the configuration
# tests/sip/kamailio.cfg.in (digest against the password PASSWORD fixed
# there, no database) on a free loopback port, written with its pid file
# into a folder of the caller's scratch directory, started in the
# foreground, waited for until it says it listens, and stopped. The Perl
# tests start the same configuration with tests/sip/PBSipTest.pm's
# start_kamailio. Standard library only.
# SPDX-License-Identifier: LGPL-2.1-or-later
import os
import queue
import subprocess
import time

from bridge_env import ROOT, Lines, free_port, stop

KAMAILIO = "/usr/sbin/kamailio"
PASSWORD = "s3cret"  # what tests/sip/kamailio.cfg.in accepts
SKIP = "# SKIP kamailio is not installed (Debian package kamailio)"


def installed():
    return os.access(KAMAILIO, os.X_OK)


class Kamailio:
    """kamailio with tests/sip/kamailio.cfg.in on 127.0.0.1:port (UDP and
    TCP), its files in @tmp/kamailio-PORT. ready() waits until it listens;
    stop() ends it (bridge_env.finish() does too, given .proc)."""

    def __init__(self, tmp, port=None):
        self.port = port or free_port()
        self.registrar = "sip:127.0.0.1:%d" % self.port
        self.dir = os.path.join(tmp, "kamailio-%d" % self.port)
        os.mkdir(self.dir)
        with open(os.path.join(ROOT, "tests/sip/kamailio.cfg.in")) as f:
            cfg = f.read().replace("@PORT@", str(self.port))
        conf = os.path.join(self.dir, "kamailio.cfg")
        with open(conf, "w") as f:
            f.write(cfg)
        self.proc = subprocess.Popen([KAMAILIO, "-f", conf, "-DD", "-E", "-Y", self.dir,
                                      "-P", os.path.join(self.dir, "kamailio.pid"), "-w", self.dir],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines = Lines(self.proc.stdout)

    def ready(self, timeout=60.0):
        """True once kamailio said "Listening on"; False when it exited or
        the deadline passed first (its last lines printed as TAP comments)."""
        seen = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.q.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if "Listening on" in line:
                return True
            seen.append(line)
        for line in seen[-15:]:
            print("# kamailio: " + line, flush=True)
        return False

    def stop(self):
        stop(self.proc)
