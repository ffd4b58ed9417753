#!/usr/bin/python3
# libphonebridge tests — a local MMSC for the mmsc module's tests.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Python 3 standard library only; run with Debian's /usr/bin/python3.
#
#   mmsc-server.py [--root NAME=DIR]... [--record-dir DIR] [--tls CERT KEY]
#
# Listens on 127.0.0.1, port 0 (HTTPS with --tls), and prints "PORT <n>" on stdout once ready.
# Stops on SIGTERM or when stdin closes (so a crashed test leaves nothing);
# with --detached stdin is not watched (for scripts that kill it by pid).
#
# GET paths (the body kinds an MMSC answers with):
#   /files/NAME/REL   the file REL under the --root NAME=DIR folder, as
#                     application/vnd.wap.mms-message (PDUs made by the test
#                     or the shared vectors, read in place)
#   /big/N            an MMS-looking body of N bytes (0x8C 0x84 then filler)
#   /html             an HTML error page (HTTP 200 unless status=)
#   /text             a text/plain "message not found" body
#   /empty            HTTP 200, Content-Length 0
#   /redirect?to=P    302 to P
#   /?message-id=ID   the file msg-ID.mms under the "tmp" root (an MMSC that
#                     names messages by query, as in the truncated-location
#                     notification of the shared vectors)
#   /missing          404 with an HTML page
# Every GET and POST takes these query parameters:
#   status=N          answer with HTTP status N instead of 200
#   ct=TYPE           Content-Type to send
#   chunked=1         no Content-Length (chunked transfer encoding)
#   cut=N             only the first N bytes of the body, then close: without
#                     chunked=1 no Content-Length either (the close ends the
#                     body), with it no last chunk
#   delay_ms=N        wait before answering (for timeouts)
#   stall_ms=N        send the headers and 2 bytes of the body, then wait
#                     (a stalled link), then the rest
#   fail=N&fail_code=C&key=K   the first N requests with key K get HTTP C
#                     (default 503) with an HTML page, then the real answer
#   drop=N&key=K      the first N requests with key K: close without answer
# POST (any path but /admin/...): the body is recorded (NNN.mms in
# --record-dir) and answered: an M-Send.req (0x8C 0x80) gets an M-Send.conf
# (send_status=0xNN, send_text=T, send_msgid=ID), anything else an empty 200.
# Admin:
#   GET /admin/requests   JSON list of the requests seen: method, path,
#                         client address, headers, body file
#   POST /admin/reset     forget requests and fail counters
import argparse
import http.server
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse

MMS_TYPE = "application/vnd.wap.mms-message"
HTML_PAGE = (b"<html><head><title>MMS retrieval failed: message not available</title></head>"
             b"<body><h1>Sorry</h1><p>The message could not be found.</p></body></html>")


class State:
    def __init__(self, roots, record_dir):
        self.roots = roots
        self.record_dir = record_dir
        self.lock = threading.Lock()
        self.requests = []
        self.counters = {}
        self.posts = 0

    def count(self, key):
        with self.lock:
            n = self.counters.get(key, 0)
            self.counters[key] = n + 1
            return n


def send_conf(req, q):
    """An M-Send.conf answering M-Send.req @req (OMA-MMS-ENC 1.3 §6.1.2)."""
    tid = b""
    if len(req) > 3 and req[2] == 0x98:
        end = req.find(b"\0", 3)
        if end > 0:
            tid = req[3:end]
    status = int(q.get("send_status", "0x80"), 0)
    out = bytearray([0x8C, 0x81, 0x98]) + tid + b"\0"
    out += bytes([0x8D, 0x92, 0x92, status])
    text = q.get("send_text")
    if text:
        out += b"\x93" + text.encode() + b"\0"
    msgid = q.get("send_msgid", "msg-%s" % tid.decode(errors="replace"))
    if status == 0x80 and msgid:
        out += b"\x8B" + msgid.encode() + b"\0"
    return bytes(out)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stall_ms = 0
    cut = -1
    server_version = "pb-test-mmsc/1"
    # headers and body go out as separate writes: without TCP_NODELAY the
    # body waits for the client's delayed ACK (~40 ms per request)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: the test reads /admin/requests
        pass

    def record(self, body_file=None):
        st = self.server.state
        entry = {
            "method": self.command,
            "path": self.path,
            "client": self.client_address[0],
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body_file": body_file,
        }
        with st.lock:
            st.requests.append(entry)

    def answer(self, status, ctype, body, chunked=False, extra=()):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        if self.cut >= 0:
            self.close_connection = True
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            part = body[:self.cut]
            try:
                self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n" if chunked else part)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            step = 16384
            try:
                for i in range(0, len(body), step):
                    part = body[i:i + step]
                    self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if self.stall_ms and len(body) > 2:
                    self.wfile.write(body[:2])
                    self.wfile.flush()
                    time.sleep(self.stall_ms / 1000.0)
                    body = body[2:]
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def faults(self, q):
        """Common query-parameter faults. True when the request was answered."""
        st = self.server.state
        key = q.get("key", self.path)
        self.stall_ms = int(q.get("stall_ms", "0"))
        self.cut = int(q.get("cut", "-1"))
        if "delay_ms" in q:
            time.sleep(int(q["delay_ms"]) / 1000.0)
        if "drop" in q and st.count("drop:" + key) < int(q["drop"]):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        if "fail" in q and st.count("fail:" + key) < int(q["fail"]):
            self.answer(int(q.get("fail_code", "503")), "text/html", HTML_PAGE)
            return True
        return False

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        st = self.server.state
        if url.path == "/admin/requests":
            with st.lock:
                body = json.dumps(st.requests).encode()
            self.answer(200, "application/json", body)
            return
        self.record()
        if self.faults(q):
            return
        status = int(q.get("status", "200"))
        chunked = q.get("chunked") == "1"
        parts = url.path.split("/")
        if url.path.startswith("/files/") and len(parts) >= 4:
            root = st.roots.get(parts[2])
            rel = urllib.parse.unquote("/".join(parts[3:]))
            full = os.path.realpath(os.path.join(root or "/nonexistent", rel))
            if not root or not full.startswith(os.path.realpath(root) + os.sep) or not os.path.isfile(full):
                self.answer(404, "text/html", HTML_PAGE)
                return
            with open(full, "rb") as f:
                body = f.read()
            self.answer(status, q.get("ct", MMS_TYPE), body, chunked)
        elif url.path.startswith("/big/"):
            n = int(parts[2])
            body = bytes([0x8C, 0x84]) + b"\x00" * max(0, n - 2)
            self.answer(status, q.get("ct", MMS_TYPE), body, chunked)
        elif url.path == "/html":
            self.answer(status, q.get("ct", "text/html; charset=utf-8"), HTML_PAGE, chunked)
        elif url.path == "/text":
            self.answer(status, q.get("ct", "text/plain"), b"Error: message not found\n", chunked)
        elif url.path == "/empty":
            self.answer(status, q.get("ct", MMS_TYPE), b"")
        elif url.path == "/" and "message-id" in q and "tmp" in st.roots:
            name = "msg-%s.mms" % q["message-id"]
            full = os.path.join(st.roots["tmp"], name)
            if "/" in q["message-id"] or not os.path.isfile(full):
                self.answer(404, "text/html", HTML_PAGE)
                return
            with open(full, "rb") as f:
                self.answer(status, MMS_TYPE, f.read(), chunked)
        elif url.path == "/redirect":
            self.answer(302, "text/html", HTML_PAGE, extra=[("Location", q.get("to", "/missing"))])
        else:
            self.answer(404, "text/html", HTML_PAGE)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        st = self.server.state
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n > 0 else b""
        if url.path == "/admin/reset":
            with st.lock:
                st.requests.clear()
                st.counters.clear()
            self.answer(200, "text/plain", b"ok\n")
            return
        body_file = None
        if st.record_dir:
            with st.lock:
                st.posts += 1
                body_file = os.path.join(st.record_dir, "%03d.mms" % st.posts)
            with open(body_file, "wb") as f:
                f.write(body)
        self.record(body_file)
        if self.faults(q):
            return
        status = int(q.get("status", "200"))
        if len(body) >= 2 and body[0] == 0x8C and body[1] == 0x80:
            self.answer(status, q.get("ct", MMS_TYPE), send_conf(body, q))
        else:
            self.answer(status, q.get("ct", None), b"")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", action="append", default=[], help="NAME=DIR served under /files/NAME/")
    ap.add_argument("--record-dir", help="where POSTed bodies are written")
    ap.add_argument("--detached", action="store_true", help="do not stop when stdin closes")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS")
    args = ap.parse_args()
    roots = {}
    for r in args.root:
        name, _, d = r.partition("=")
        roots[name] = d
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(roots, args.record_dir)
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))

    def watch_stdin():
        try:
            sys.stdin.buffer.read()
        finally:
            os._exit(0)

    if not args.detached:
        threading.Thread(target=watch_stdin, daemon=True).start()
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
