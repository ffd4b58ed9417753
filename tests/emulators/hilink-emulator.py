#!/usr/bin/python3
# libphonebridge tests — a Huawei HiLink router emulator (HTTP/XML API).
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Behaves like the routers as shared/design/protocol-notes.md describes them:
# SessionID cookie + single-use CSRF tokens (a spent or unknown token gets
# 125002), fresh tokens in reply headers, login types 0/3/4 and SCRAM,
# errors as HTTP 200 <error><code>N</code>, pretty-printed requests refused
# (100005), SmsType 5 entries with raw C0 control bytes, CESU-8 both ways,
# optional lowercase tags, a single message not wrapped as a list, SmsType 2
# entries that complete after a few reads.
#
# Standard library only. Prints "READY <port>" once listening on 127.0.0.1.
# Test control (not part of the router API):
#   POST /test/add      body: raw <Message>...</Message> bytes (added to the inbox)
#   POST /test/add-mms?phone=NUMBER&encoding=raw|latin1|hex|base64
#                       body: a WAP push (an MMS notification); added to the inbox
#                       as a SmsType 5 entry the way routers put one there: the push
#                       in <Content> as raw bytes (C0 controls and bytes above 0x7F
#                       as they are; '&' '<' '>' as entities), as each byte's
#                       Latin-1 character in UTF-8, as hex digits or as base64.
#                       Answers the entry's Index; the entry can be deleted.
#   POST /test/add-sms?phone=NUMBER[&smstype=2[&complete=never]]   body: the
#                       text (UTF-8); a deletable entry. SmsType 2: the router is
#                       still joining the parts of a long message; the entry
#                       becomes SmsType 1 --multipart-reads sms-list reads later,
#                       or never (a part the network never delivers: the entry
#                       stays SmsType 2 with the text of the parts there).
#   POST /test/expire   the next POST answers 125002 even with a good token
#   POST /test/logout   every session is logged out (the next call gets 100003)
#   GET  /test/sent     JSON list of sent messages {"phone","content"}
#   POST /test/send-fault   body hang=SECONDS: the next send-sms is carried out
#                       (sent, in the sent box) but its answer comes only after
#                       SECONDS (a lost answer); lost=SECONDS: the next
#                       send-sms is not carried out and answered only after
#                       SECONDS (the router failed before acting on it);
#                       busy: the next send-sms is answered 113053 "SMS send
#                       busy" and nothing is sent
# Sent messages are kept in the sent box as routers do (sms-list BoxType 2:
# Smstat 3 "sent", Phone = the recipient, Date = when it was sent).
#   GET  /test/state    JSON {"inbox": [indexes], "read": [indexes], "logins": n}
#   POST /test/reports  body ok|fail|off: the router's delivery-report setting
#                       (sms/config); with ok/fail every sent message is
#                       followed by an inbox entry SmsType 7 (delivered) or 8
#                       (failed) whose Phone is the recipient. The router gives
#                       no message reference: the entry names the number only.
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--password-type", type=int, default=4, help="0, 3, 4, or -1 for SCRAM firmware")
ap.add_argument("--user", default="admin")
ap.add_argument("--password", default="secret")
ap.add_argument("--require-login", action="store_true")
ap.add_argument("--lowercase", action="store_true", help="lowercase tag names in sms-list")
ap.add_argument("--no-sestokinfo", action="store_true", help="answer 100002 on SesTokInfo (old firmware)")
ap.add_argument("--no-token-api", action="store_true", help="answer 100002 on webserver/token too (tokens only in the home page)")
ap.add_argument("--delivery-reports", default="off", choices=["ok", "fail", "off"],
                help="the router's delivery-report setting (see /test/reports)")
ap.add_argument("--sms-list-file", help="serve this file verbatim as the sms-list reply")
ap.add_argument("--samples", action="store_true", help="start with the built-in sample inbox")
ap.add_argument("--multipart-reads", type=int, default=2, help="sms-list reads before a SmsType 2 entry completes")
args = ap.parse_args()

lock = threading.Lock()
valid_tokens = set()
sessions = {}  # session id -> {"logged_in": bool}
expire_next = [False]
send_fault = [None]
sent = []
sentbox = []
logins = [0]
scram = {}
next_index = [40100]
list_reads = [0]


def new_token():
    t = secrets.token_hex(16)
    valid_tokens.add(t)
    return t


class Msg:
    def __init__(self, index, phone, content, smstype=1, smstat=0, date="2024-05-01 10:00:00", raw=None,
                 completes=True):
        self.index, self.phone, self.content = index, phone, content
        self.smstype, self.smstat, self.date, self.raw = smstype, smstat, date, raw
        self.born = list_reads[0]  # a SmsType 2 entry completes --multipart-reads reads later
        self.completes = completes

    def xml(self, lower):
        if self.raw is not None:
            return self.raw
        tags = ["Smstat", "Index", "Phone", "Content", "Date", "Sca", "SaveType", "Priority", "SmsType"]
        vals = [str(self.smstat), str(self.index), esc(self.phone), self.content, self.date, "", "0", "0",
                str(self.smstype if not (self.smstype == 2 and self.completes
                                         and list_reads[0] - self.born >= args.multipart_reads)
                    else 1)]
        out = b"<Message>"
        for t, v in zip(tags, vals):
            tt = t.lower() if lower else t
            vb = v if isinstance(v, bytes) else cesu8(esc(v))
            out += b"<" + tt.encode() + b">" + vb + b"</" + tt.encode() + b">"
        out += b"</Message>"
        if lower:
            out = out.replace(b"<Message>", b"<message>").replace(b"</Message>", b"</message>")
        return out


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cesu8(s):
    out = b""
    for ch in s:
        cp = ord(ch)
        if cp >= 0x10000:
            v = cp - 0x10000
            for u in (0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)):
                out += bytes([0xE0 | (u >> 12), 0x80 | ((u >> 6) & 0x3F), 0x80 | (u & 0x3F)])
        else:
            out += ch.encode("utf-8")
    return out


def from_cesu8(b):
    # join surrogate pairs written as two 3-byte sequences
    return b.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass").decode("utf-16")


inbox = []
if args.samples:
    inbox += [
        Msg(40001, "+15550001", "Hello from the router"),
        # an MMS notification: WSP push bytes with raw C0 controls and a cut Content-Location
        Msg(40002, "+15550002", b"\x01\x06\x22application/vnd.wap.mms-message\x00\xaf\x84\x8c\x82\x98"
            b"T12\x00\x83http://mmsc.example/mms?id=4", smstype=5),
        Msg(40003, "+15550003", "Smile \U0001F600 please"),
        Msg(40004, "+15550004", "part one of two", smstype=2),
        Msg(40005, "+15550005", "odd type", smstype=9),
        # an entry the router garbled: no Index
        Msg(0, "", "", raw=b"<Message><Smstat>0</Smstat><Phone>+15550006</Phone><Content>lost</Content></Message>"),
        Msg(40007, "+15550007", "after the garbled one", smstat=1),
    ]


def err(code):
    return b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><error><code>%d</code><message></message></error>" % code


def resp(inner):
    return b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><response>" + inner + b"</response>"


OK = resp(b"OK")


def tag(body, name):
    m = re.search(rb"<" + name.encode() + rb">(.*?)</" + name.encode() + rb">", body, re.S)
    return m.group(1) if m else None


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def session(self):
        c = self.headers.get("Cookie", "")
        m = re.search(r"SessionID=([^;]+)", c)
        return m.group(1) if m else None

    def send(self, body, headers=(), ctype="text/html"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def logged_in(self):
        s = self.session()
        return s in sessions and sessions[s]["logged_in"]

    def do_GET(self):
        with lock:
            self.get()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with lock:
            self.post(body)

    def get(self):
        p = self.path
        if p == "/api/webserver/SesTokInfo":
            if args.no_sestokinfo:
                return self.send(err(100002))
            sid = secrets.token_hex(16)
            sessions[sid] = {"logged_in": False}
            return self.send(resp(b"<SesInfo>SessionID=" + sid.encode() + b"</SesInfo><TokInfo>" +
                                  new_token().encode() + b"</TokInfo>"))
        if p == "/api/webserver/token":
            if args.no_token_api:
                return self.send(err(100002))
            sid = secrets.token_hex(16)
            sessions[sid] = {"logged_in": False}
            # 32 characters of something else, then the token
            return self.send(resp(b"<token>" + b"x" * 32 + new_token().encode() + b"</token>"),
                             [("Set-Cookie", "SessionID=%s; path=/; HttpOnly" % sid)])
        if p == "/":
            sid = secrets.token_hex(16)
            sessions[sid] = {"logged_in": False}
            return self.send(b'<html><head><meta name="csrf_token" content="' + new_token().encode() + b'"/>'
                             b'<meta name="csrf_token" content="' + new_token().encode() + b'"/></head></html>',
                             [("Set-Cookie", "SessionID=%s; path=/; HttpOnly" % sid)])
        if p == "/api/user/state-login":
            st = b"0" if self.logged_in() else b"-1"
            pt = 4 if args.password_type < 0 else args.password_type
            return self.send(resp(b"<State>" + st + b"</State><Username></Username><password_type>%d</password_type>" % pt))
        if p.startswith("/api/") and args.require_login and not self.logged_in():
            return self.send(err(100003))
        if p == "/api/monitoring/status":
            return self.send(resp(b"<ConnectionStatus>901</ConnectionStatus><SignalIcon>4</SignalIcon>"
                                  b"<CurrentNetworkType>19</CurrentNetworkType><CurrentNetworkTypeEx>101</CurrentNetworkTypeEx>"
                                  b"<RoamingStatus>0</RoamingStatus><SimStatus>1</SimStatus><ServiceStatus>2</ServiceStatus>"
                                  b"<maxsignal>5</maxsignal>"))
        if p == "/api/net/current-plmn":
            return self.send(resp(b"<State>0</State><FullName>Example Mobile</FullName><ShortName>ExMo</ShortName>"
                                  b"<Numeric>00101</Numeric><Rat>7</Rat>"))
        if p == "/api/device/signal":
            return self.send(resp(b"<rsrq>-14.0dB</rsrq><rsrp>-105dBm</rsrp><rssi>-71dBm</rssi><sinr>-7dB</sinr>"))
        if p == "/api/sms/sms-count":
            unread = sum(1 for m in inbox if m.smstat == 0)
            return self.send(resp(b"<LocalUnread>%d</LocalUnread><LocalInbox>%d</LocalInbox><LocalOutbox>%d</LocalOutbox>"
                                  b"<LocalDraft>0</LocalDraft><SimUnread>0</SimUnread><SimInbox>0</SimInbox>"
                                  b"<NewMsg>0</NewMsg>" % (unread, len(inbox), len(sent))))
        if p == "/api/ussd/get":
            return self.send(resp(b"<content>Balance: 5.00 EUR \xed\xa0\xbd\xed\xb8\x80</content>"))
        if p == "/test/sent":
            return self.send(json.dumps(sent).encode(), ctype="application/json")
        if p == "/test/state":
            return self.send(json.dumps({"inbox": [m.index for m in inbox if m.raw is None],
                                         "read": [m.index for m in inbox if m.smstat == 1],
                                         "logins": logins[0],
                                         "list_reads": list_reads[0]}).encode(), ctype="application/json")
        self.send(err(100002))

    def post(self, body):
        p = self.path
        if p == "/test/add":
            next_index[0] += 1
            inbox.append(Msg(next_index[0], "", "", raw=body.replace(b"@INDEX@", str(next_index[0]).encode())))
            return self.send(str(next_index[0]).encode())
        if p.startswith("/test/add-sms"):
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(p).query))
            next_index[0] += 1
            inbox.append(Msg(next_index[0], q.get("phone", "+15550009"), body.decode("utf-8"),
                             smstype=int(q.get("smstype", "1")), date=q.get("date", "2024-05-01 10:00:00"),
                             completes=q.get("complete") != "never"))
            return self.send(str(next_index[0]).encode())
        if p.startswith("/test/add-mms"):
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(p).query))
            enc = q.get("encoding", "raw")
            if enc == "hex":
                content = body.hex().upper().encode()
            elif enc == "base64":
                content = base64.b64encode(body)
            elif enc in ("raw", "latin1"):
                content = body.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")
                if enc == "latin1":
                    content = content.decode("latin-1").encode("utf-8")
            else:
                return self.send(err(100006))
            next_index[0] += 1
            inbox.append(Msg(next_index[0], q.get("phone", "+15550009"), content, smstype=5,
                             date=q.get("date", "2024-05-01 11:00:00")))
            return self.send(str(next_index[0]).encode())
        if p == "/test/logout":
            for v in sessions.values():
                v["logged_in"] = False  # the router forgot every login (timeout, reboot)
            return self.send(b"ok")
        if p == "/test/expire":
            expire_next[0] = True
            return self.send(b"ok")
        if p == "/test/send-fault":
            send_fault[0] = body.decode().strip() or None
            return self.send(b"ok")
        if p == "/test/reports":
            args.delivery_reports = body.decode().strip()
            return self.send(b"ok")
        tok = self.headers.get("__RequestVerificationToken")
        if expire_next[0] or tok not in valid_tokens:
            expire_next[0] = False
            valid_tokens.discard(tok)
            return self.send(err(125002))
        valid_tokens.discard(tok)  # single use
        fresh = [("__RequestVerificationToken", new_token())]
        if b"\n" in body or b"  " in body:
            return self.send(err(100005), fresh)
        if p == "/api/user/login":
            if args.password_type < 0:
                return self.send(err(100002), fresh)
            user = (tag(body, "Username") or b"").decode()
            pw = (tag(body, "Password") or b"").decode()
            ptype = int(tag(body, "password_type") or b"0")
            if args.password_type == 4:
                h1 = hashlib.sha256(args.password.encode()).hexdigest()
                b1 = base64.b64encode(h1.encode()).decode()
                h2 = hashlib.sha256((args.user + b1 + tok).encode()).hexdigest()
                want = base64.b64encode(h2.encode()).decode()
            else:
                want = base64.b64encode(args.password.encode()).decode()
            if user != args.user or pw != want or ptype != args.password_type:
                return self.send(err(108006), fresh)
            return self.logged(fresh)
        if p == "/api/user/challenge_login":
            fn = (tag(body, "firstnonce") or b"").decode()
            if not re.fullmatch(r"[0-9a-f]{64}", fn) or (tag(body, "username") or b"").decode() != args.user:
                return self.send(err(100006), fresh)
            scram["first"] = fn
            scram["server"] = fn + secrets.token_hex(16)
            scram["salt"] = secrets.token_hex(32)
            return self.send(resp(b"<salt>%s</salt><iterations>100</iterations><servernonce>%s</servernonce>"
                                  b"<modeselected>1</modeselected>" % (scram["salt"].encode(), scram["server"].encode())), fresh)
        if p == "/api/user/authentication_login":
            if "server" not in scram or (tag(body, "finalnonce") or b"").decode() != scram["server"]:
                return self.send(err(100006), fresh)
            salted = hashlib.pbkdf2_hmac("sha256", args.password.encode(), bytes.fromhex(scram["salt"]), 100, 32)
            ck = hmac.new(b"Client Key", salted, hashlib.sha256).digest()
            sk = hashlib.sha256(ck).digest()
            am = (scram["first"] + "," + scram["server"] + "," + scram["server"]).encode()
            sig = hmac.new(am, sk, hashlib.sha256).digest()
            want = bytes(a ^ b for a, b in zip(ck, sig)).hex()
            if (tag(body, "clientproof") or b"").decode() != want:
                return self.send(err(108006), fresh)
            return self.logged(fresh)
        if args.require_login and not self.logged_in():
            return self.send(err(100003), fresh)
        if p == "/api/sms/sms-list":
            list_reads[0] += 1
            if args.sms_list_file:
                with open(args.sms_list_file, "rb") as f:
                    return self.send(f.read(), fresh)
            page = int(tag(body, b"PageIndex".decode()) or b"1")
            count = int(tag(body, "ReadCount") or b"20")
            if not 1 <= count <= 50:
                return self.send(err(100006), fresh)
            box = int(tag(body, "BoxType") or b"1")
            msgs = inbox if box == 1 else sentbox if box == 2 else []
            chunk = msgs[(page - 1) * count: page * count]
            lower = args.lowercase
            if len(chunk) == 1 and len(msgs) == 1:
                # the single-message quirk: one entry, no list around it
                inner = b"<Count>1</Count>" + chunk[0].xml(lower)
                if lower:
                    inner = inner.replace(b"<Count>", b"<count>").replace(b"</Count>", b"</count>")
                return self.send(resp(inner), fresh)
            inner = b"<Count>%d</Count><Messages>" % len(msgs) + b"".join(m.xml(lower) for m in chunk) + b"</Messages>"
            if lower:
                inner = inner.replace(b"Count>", b"count>").replace(b"Messages>", b"messages>")
            return self.send(resp(inner), fresh)
        if p in ("/api/sms/delete-sms", "/api/sms/set-read"):
            idx = int(tag(body, "Index") or b"-2")
            for m in inbox:
                if m.index == idx and m.raw is None:
                    if p.endswith("delete-sms"):
                        inbox.remove(m)
                    else:
                        m.smstat = 1
                    return self.send(OK, fresh)
            return self.send(err(100006), fresh)
        if p == "/api/sms/send-sms":
            phone = tag(body, "Phone")
            content = tag(body, "Content")
            if phone is None or content is None or tag(body, "Index") != b"-1":
                return self.send(err(100005), fresh)
            text = from_cesu8(content).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
            fault, send_fault[0] = send_fault[0], None
            if fault == "busy":
                return self.send(err(113053), fresh)
            if fault and fault.startswith("lost="):
                time.sleep(float(fault[5:]))
                return self.send(err(113018), fresh)
            sent.append({"phone": phone.decode(), "content": text, "length": int(tag(body, "Length") or b"0")})
            next_index[0] += 1
            sentbox.append(Msg(next_index[0], phone.decode(), text, smstat=3,
                               date=time.strftime("%Y-%m-%d %H:%M:%S")))
            if args.delivery_reports in ("ok", "fail"):
                next_index[0] += 1
                inbox.append(Msg(next_index[0], phone.decode(), "", smstype=7 if args.delivery_reports == "ok" else 8,
                                 date=time.strftime("%Y-%m-%d %H:%M:%S")))
            if fault and fault.startswith("hang="):
                time.sleep(float(fault[5:]))  # the router sent it; its answer is lost
            return self.send(OK, fresh)
        if p == "/api/ussd/send":
            return self.send(OK, fresh)
        self.send(err(100002), fresh)

    def logged(self, fresh):
        logins[0] += 1
        sid = secrets.token_hex(16)
        sessions[sid] = {"logged_in": True}
        t1, t2 = new_token(), new_token()
        self.send(OK, [("Set-Cookie", "SessionID=%s; path=/; HttpOnly" % sid),
                       ("__RequestVerificationTokenone", t1), ("__RequestVerificationTokentwo", t2)])


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print("READY %d" % srv.server_address[1], flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
