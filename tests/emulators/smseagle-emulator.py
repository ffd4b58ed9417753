#!/usr/bin/python3
# libphonebridge tests — an SMSEagle gateway emulator.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# API v2 (REST, "access-token" header): POST /api/v2/messages/sms,
# GET /api/v2/modem/signal/<n>. API v1 JSON-RPC (POST /jsonrpc/sms):
# sms.read_sms (rows with Gammu column names; MMS rows with message_type
# "mms" and base64 attachments), sms.delete_sms. Optionally calls a webhook
# (GET with sender, timestamp, text, msgid, apikey) for every new message and
# retries until it answers 200, as the device does.
#
# Standard library only. Prints "READY <port>". Test control:
#   POST /test/add   JSON row fields {"SenderNumber","TextDecoded"[,"UDH"]} -> new inbox row (and
#                    webhook call); the parts of a concatenated message are rows of their own,
#                    each with its UDH in hex, as in Gammu's inbox table
#   POST /test/raw   the next sms.read_sms reply is this body, verbatim
#   POST /test/keep  {"keep": true|false}: sms.delete_sms fails (the rows stay) / works again
#   POST /test/send-status  body N: the next v2 send is answered HTTP N and not
#                    carried out (503: the gateway busy; 500: a server error)
#   GET  /test/sent  JSON list of v2 send requests
#   GET  /test/inbox JSON list of inbox IDs
import argparse
import base64
import json
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--token", default="eagle-token")
ap.add_argument("--webhook", help="URL the device calls for every new message")
ap.add_argument("--samples", action="store_true")
args = ap.parse_args()

lock = threading.Lock()
inbox = []
sent = []
raw_next = []
keep = [False]
send_status = [0]
next_id = [100]


def row(sender, text, mms=False, udh=""):
    next_id[0] += 1
    r = {"ID": str(next_id[0]), "SenderNumber": sender, "TextDecoded": text, "UDH": udh,
         "ReceivingDateTime": time.strftime("%Y-%m-%d %H:%M:%S"), "readed": "false", "message_type": "sms"}
    if mms:
        r["message_type"] = "mms"
        r["attachments"] = [
            {"content_type": "application/smil", "filename": "smil.xml", "data": base64.b64encode(b"<smil/>").decode()},
            {"content_type": "image/jpeg", "filename": "cat.jpg", "data": base64.b64encode(b"\xff\xd8\xff\xe0JFIF-cat").decode()},
        ]
    return r


if args.samples:
    inbox.append(row("+15550001", "Hello from the eagle"))
    inbox.append(row("+15550002", "A picture", mms=True))
    inbox.append({"SenderNumber": "+15550003", "TextDecoded": "no id here"})  # garbled
    inbox.append(row("+15550004", "After the garbled one"))


def call_webhook(r):
    q = urllib.parse.urlencode({"sender": r["SenderNumber"], "timestamp": time.strftime("%Y%m%d%H%M%S"),
                                "text": r["TextDecoded"], "msgid": r["ID"], "apikey": args.token})
    for _ in range(600):  # the device retries (for 24 h; here for a minute)
        try:
            with urllib.request.urlopen(args.webhook + "?" + q, timeout=5) as resp:
                if resp.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.1)


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, obj, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            if self.path.startswith("/api/v2/modem/signal/"):
                if self.headers.get("access-token") != args.token:
                    return self.send(401, {"error": "Unauthorized"})
                return self.send(200, {"signal_strength": 74})
            if self.path == "/test/sent":
                return self.send(200, sent)
            if self.path == "/test/inbox":
                return self.send(200, [r.get("ID") for r in inbox])
            self.send(404, {"error": "not found"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        hook = None
        with lock:
            if self.path == "/api/v2/messages/sms":
                if self.headers.get("access-token") != args.token:
                    return self.send(401, {"error": "Unauthorized"})
                if send_status[0]:
                    code, send_status[0] = send_status[0], 0
                    return self.send(code, {"error": "HTTP %d" % code})
                try:
                    req = json.loads(body)
                    to, text = req["to"], req["text"]
                except Exception:
                    return self.send(400, {"error": "bad request"})
                sent.append(req)
                return self.send(200, [{"message_id": 900 + len(sent), "to": t, "status": "queued"} for t in to])
            if self.path == "/jsonrpc/sms":
                try:
                    req = json.loads(body)
                    m, p = req["method"], req["params"]
                except Exception:
                    return self.send(200, {"result": "Wrong JSON-RPC request"})
                if p.get("access_token") != args.token:
                    return self.send(200, {"result": "Invalid login or password"})
                if m == "sms.read_sms":
                    if raw_next:
                        return self.send(200, None, raw_next.pop(0))
                    rows = inbox if p.get("folder") == "inbox" else []
                    return self.send(200, {"result": rows} if rows else {"result": "No data to display"})
                if m == "sms.delete_sms":
                    if keep[0]:
                        return self.send(200, {"result": "Delete failed"})
                    lo, hi = int(p["idfrom"]), int(p["idto"])
                    inbox[:] = [r for r in inbox if not ("ID" in r and lo <= int(r["ID"]) <= hi)]
                    return self.send(200, {"result": "OK"})
                return self.send(200, {"result": "Unknown method"})
            if self.path == "/test/add":
                r = json.loads(body)
                r = row(r["SenderNumber"], r["TextDecoded"], udh=r.get("UDH", ""))
                inbox.append(r)
                hook = r
                self.send(200, {"ID": r["ID"]})
            elif self.path == "/test/send-status":
                send_status[0] = int(body.decode().strip())
                return self.send(200, {"ok": True})
            elif self.path == "/test/keep":
                keep[0] = bool(json.loads(body).get("keep"))
                return self.send(200, {})
            elif self.path == "/test/raw":
                raw_next.append(body)
                return self.send(200, {})
            else:
                return self.send(404, {"error": "not found"})
        if hook and args.webhook:
            threading.Thread(target=call_webhook, args=(hook,), daemon=True).start()


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print("READY %d" % srv.server_address[1], flush=True)
srv.serve_forever()
