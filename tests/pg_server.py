#!/usr/bin/python3
# libphonebridge tests — a throwaway PostgreSQL server in a temporary folder.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   tests/pg_server.py [--fsync] -- CMD [ARG...]
#
# initdb + pg_ctl in a new temporary folder (as the user postgres when run
# as root: PostgreSQL refuses to run as root), a Unix socket in that folder
# and a loopback TCP port (for the sslmode cases), password authentication
# (scram-sha-256) for everyone; runs CMD with
#   PB_TEST_PG_HOST           the socket directory
#   PB_TEST_PG_PORT           the port (socket and 127.0.0.1)
#   PB_TEST_PG_USER           the superuser
#   PB_TEST_PG_PASSWORD_FILE  its password, a 0600 file of the caller's
# and stops the server and removes the folder however CMD ends (SIGTERM from
# meson's timeout included). Without the PostgreSQL binaries it prints a TAP
# skip saying so. Other tests import PgServer.
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def pg_bindir():
    for d in sorted(glob.glob('/usr/lib/postgresql/*/bin'), reverse=True):
        if os.path.exists(os.path.join(d, 'initdb')):
            return d
    return None


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class PgServer:
    USER = 'pb'

    def __init__(self, fsync=False):
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise FileNotFoundError('PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): '
                                    'install the Debian package postgresql')
        self.fsync = fsync
        self.dir = None
        self.started = False

    def _as_owner(self):
        if os.geteuid() != 0:
            return None
        pw = pwd.getpwnam('postgres')

        def drop():
            os.setgid(pw.pw_gid)
            os.initgroups('postgres', pw.pw_gid)
            os.setuid(pw.pw_uid)
        return drop

    def _run(self, *args):
        subprocess.run([os.path.join(self.bindir, args[0])] + list(args[1:]), check=True,
                       preexec_fn=self._as_owner(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self):
        self.dir = tempfile.mkdtemp(prefix='pb-pg-')
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, 'data')
        self.sock = os.path.join(self.dir, 'sock')
        os.mkdir(self.sock)
        password = secrets.token_hex(16)
        # the server's copy for initdb, and the client's (pb_secret_read: 0600, ours)
        server_pw = os.path.join(self.dir, 'initdb-password')
        self.password_file = os.path.join(self.dir, 'password')
        for path in (server_pw, self.password_file):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, (password + '\n').encode())
            os.close(fd)
        if os.geteuid() == 0:
            pw = pwd.getpwnam('postgres')
            for p in (self.sock, server_pw):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            os.mkdir(self.data, 0o700)
            os.chown(self.data, pw.pw_uid, pw.pw_gid)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.password = password
        self._run('initdb', '-D', self.data, '-U', self.USER, '--pwfile=' + server_pw, '--auth=scram-sha-256',
                  '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync')
        os.unlink(server_pw)
        self.port = free_port()
        opts = ["-k", self.sock, "-c", "listen_addresses=127.0.0.1", "-p", str(self.port),
                "-c", "max_connections=200", "-c", "shared_buffers=32MB"]
        if not self.fsync:
            opts += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self._run('pg_ctl', '-D', self.data, '-l', os.path.join(self.dir, 'log'), '-w', '-t', '120',
                  '-o', ' '.join("'%s'" % o if ' ' in o else o for o in opts), 'start')
        self.started = True
        return self

    def url(self, db='postgres'):
        return 'postgresql://%s@/%s?host=%s&port=%d' % (self.USER, db, self.sock, self.port)

    def env(self):
        return {'PB_TEST_PG_HOST': self.sock, 'PB_TEST_PG_PORT': str(self.port),
                'PB_TEST_PG_USER': self.USER, 'PB_TEST_PG_PASSWORD_FILE': self.password_file}

    def psql(self, sql, db='postgres'):
        """Run SQL as the superuser; the output's rows, tab-separated."""
        env = dict(os.environ, PGPASSWORD=self.password)
        r = subprocess.run([os.path.join(self.bindir, 'psql'), '-X', '-q', '-A', '-t', '-F', '\t',
                            '-v', 'ON_ERROR_STOP=1', '-h', self.sock, '-p', str(self.port), '-U', self.USER,
                            '-d', db, '-c', sql], env=env, check=True, capture_output=True, text=True)
        return r.stdout

    def createdb(self, name):
        self.psql('CREATE DATABASE "%s"' % name)
        return self.url(name)

    def stop(self):
        if self.started:
            try:
                self._run('pg_ctl', '-D', self.data, '-m', 'immediate', '-w', '-t', '60', 'stop')
            except subprocess.CalledProcessError:
                pass
            self.started = False
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def main(argv):
    fsync = False
    if argv and argv[0] == '--fsync':
        fsync = True
        argv = argv[1:]
    if not argv or argv[0] != '--' or len(argv) < 2:
        sys.stderr.write('usage: pg_server.py [--fsync] -- CMD [ARG...]\n')
        return 64
    try:
        srv = PgServer(fsync)
    except FileNotFoundError as e:
        print('1..0 # SKIP %s' % e)
        return 0
    child = None

    def on_term(signum, frame):
        if child and child.poll() is None:
            child.terminate()
        srv.stop()
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        t0 = time.monotonic()
        srv.start()
        sys.stderr.write('pg_server: PostgreSQL up in %.1f s on %s\n' % (time.monotonic() - t0, srv.sock))
        child = subprocess.Popen(argv[1:], env=dict(os.environ, **srv.env()))
        return child.wait()
    except subprocess.CalledProcessError as e:
        sys.stderr.write('pg_server: %s failed: %s\n' % (' '.join(e.cmd[:2]), (e.stderr or b'').decode()))
        log = os.path.join(srv.dir or '', 'log')
        if os.path.exists(log):
            sys.stderr.write(open(log).read()[-3000:])
        return 1
    finally:
        srv.stop()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
