#!/usr/bin/python3
# libphonebridge tests — a Matrix homeserver emulator (client-server API v3),
# Python 3 standard library only.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# It implements, as the specification describes them, the endpoints the
# pb_matrix client uses: discovery (.well-known, /versions), login/whoami/
# logout, filters, /sync long-poll with since tokens, createRoom (is_direct,
# invite, name, preset), join/leave/invite, state, send with transaction-id
# idempotency per access token and path (remembered across restarts with
# --state, like Synapse's event_txn_id table), redact, typing, receipts, account data
# (m.direct), media upload and download (authenticated v1 and legacy v3).
#
# Test control, never used by the client: /_test/...
#   POST /_test/fault   {"kind": "429"|"500"|"slow"|"drop"|"crash", "count": N,
#                        "path": "substring", "retry_after_ms": MS,
#                        "retry_after_header": S, "delay_ms": MS,
#                        "query": "substring of the query string"}
#                       "crash": the request is carried out (and the --state
#                       file written), then the process exits without answering
#   POST /_test/revoke  {"user_id": "@a:localhost"} or {"token": T}: tokens die
#   POST /_test/config  {"v1_media": bool, "well_known": obj|null|"404",
#                        "sync_cache_ms": MS}
#   POST /_test/inject  {"room_id", "sender", "type", "content"[, "state_key"]}
#   GET  /_test/stats   request counts per route and the events of each room
#
# usage: matrix-homeserver.py [--server-name NAME] [--tls-cert PEM --tls-key PEM] [--exit-on-eof]
#                             [--port N] [--state FILE]
# Listens on 127.0.0.1, port chosen by the system (or N); prints "port N".
# With --state, everything the server knows (users, tokens, rooms, events,
# transaction ids, media) is written to FILE after every request that may
# change it, before the answer, and read back at start: the process can be
# killed at any moment and started again (same --port) as if it had been
# down for a while, the way a real homeserver keeps its database.
#
# Like Synapse (sync_response_cache_duration, 2 min by default), an identical
# /sync request (same user and device, since, filter, timeout, full_state)
# is answered from a cache for sync_cache_ms after the first answer, except
# a long-poll that timed out empty; a filter uploaded twice by one user gets
# the same id. Clients must not expect a repeated identical /sync to see new
# state. The cache lives in memory: a restart empties it.
import argparse
import json
import os
import pickle
import re
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class MatrixError(Exception):
    def __init__(self, status, errcode, error, **extra):
        super().__init__(error)
        self.status, self.errcode, self.error, self.extra = status, errcode, error, extra


class State:
    def __init__(self, server_name):
        self.name = server_name
        self.lock = threading.Condition()
        self.users = {}        # user_id -> password
        self.tokens = {}       # token -> (user_id, device_id)
        self.txns = {}         # (token, kind, room_id, txn_id) -> event_id
        self.rooms = {}        # room_id -> {"members": {uid: membership}, "state": {(t, k): ev}}
        self.stream = []       # [(pos, room_id, event)]
        self.pos = 0
        self.account_data = {}  # (user_id, type) -> content
        self.ad_pos = {}       # (user_id, type) -> pos
        self.filters = {}
        self.media = {}        # media_id -> (content_type, bytes, filename)
        self.faults = []
        self.counts = {}
        self.v1_media = True
        self.well_known = None  # None: derived from the server's own URL
        self.seq = 0
        self.sync_cache = {}   # request key -> (monotonic time, answer); not saved
        self.sync_cache_ms = 120000
        for u, pw in (("alice", "wonderland"), ("bob", "builder")):
            self.users[f"@{u}:{server_name}"] = pw

    def save(self, path):
        # called with the lock held; written aside, then renamed (atomic)
        keep = {k: v for k, v in self.__dict__.items() if k not in ("lock", "faults", "sync_cache")}
        with open(path + ".tmp", "wb") as f:
            pickle.dump(keep, f)
        os.replace(path + ".tmp", path)

    def load(self, path):
        with open(path, "rb") as f:
            self.__dict__.update(pickle.load(f))

    def new_id(self, sigil):
        self.seq += 1
        return f"{sigil}{self.seq}{secrets.token_hex(4)}:{self.name}" if sigil != "" else str(self.seq)

    def add_event(self, room_id, sender, etype, content, state_key=None, txn=None):
        ev = {
            "event_id": f"${self.seq + 1}{secrets.token_hex(6)}",
            "type": etype,
            "sender": sender,
            "content": content,
            "origin_server_ts": int(time.time() * 1000),
        }
        self.seq += 1
        if state_key is not None:
            ev["state_key"] = state_key
            self.rooms[room_id]["state"][(etype, state_key)] = ev
            if etype == "m.room.member":
                self.rooms[room_id]["members"][state_key] = content.get("membership")
        if txn is not None:
            ev["unsigned"] = {"transaction_id": txn}
        self.pos += 1
        self.stream.append((self.pos, room_id, ev))
        self.lock.notify_all()
        return ev


ROUTES = []


def route(method, pattern, auth=True):
    def deco(fn):
        ROUTES.append((method, re.compile("^" + pattern + "$"), auth, fn))
        return fn
    return deco


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pb-test-homeserver/1"
    # headers and body go out as separate writes: without TCP_NODELAY the
    # body waits for the client's delayed ACK (~40 ms per request)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    # --- plumbing ---
    def reply(self, status, obj=None, raw=None, ctype="application/json", headers=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self, method):
        st = self.server.st
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        crash = False
        if not path.startswith("/_test/"):
            with st.lock:
                st.counts[method + " " + path] = st.counts.get(method + " " + path, 0) + 1
                fault = None
                for f in st.faults:
                    if f["count"] > 0 and f.get("path", "") in path and f.get("query", "") in url.query:
                        f["count"] -= 1
                        fault = dict(f)
                        break
            if fault:
                kind = fault["kind"]
                crash = kind == "crash"
                if kind == "drop":
                    self.close_connection = True
                    return
                if kind == "slow":
                    time.sleep(fault.get("delay_ms", 2000) / 1000)
                elif kind == "429":
                    hdrs = {}
                    err = {"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests"}
                    if "retry_after_ms" in fault:
                        err["retry_after_ms"] = fault["retry_after_ms"]
                    if "retry_after_header" in fault:
                        hdrs["Retry-After"] = str(fault["retry_after_header"])
                    return self.reply(429, err, headers=hdrs)
                elif kind == "500":
                    return self.reply(500, {"errcode": "M_UNKNOWN", "error": "Internal server error"})
        for m, rx, auth, fn in ROUTES:
            mt = rx.match(path)
            if not mt or m != method:
                continue
            try:
                user = None
                if auth:
                    user = self.authenticate(query)
                if path.startswith("/_matrix/media/"):
                    data = body
                elif body:
                    try:
                        data = json.loads(body)
                    except ValueError:
                        raise MatrixError(400, "M_NOT_JSON", "Content not JSON.")
                else:
                    data = {}
                res = fn(self, st, user, data, query, *[urllib.parse.unquote(g) for g in mt.groups()])
                if method != "GET" and self.server.state_file:
                    with st.lock:
                        st.save(self.server.state_file)
                if crash:
                    os._exit(1)
                if isinstance(res, tuple):
                    return self.reply(200, raw=res[1], ctype=res[0])
                return self.reply(200, res)
            except MatrixError as e:
                return self.reply(e.status, dict(errcode=e.errcode, error=e.error, **e.extra))
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
            except Exception as e:  # a bug here must not look like a dropped connection
                print(f"homeserver: {method} {path}: {e!r}", file=sys.stderr)
                return self.reply(500, {"errcode": "M_UNKNOWN", "error": repr(e)})
        # spec: unknown endpoints answer 404 (or 405) M_UNRECOGNIZED
        self.reply(404, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})

    def authenticate(self, query):
        st = self.server.st
        h = self.headers.get("Authorization", "")
        token = h[7:] if h.startswith("Bearer ") else query.get("access_token")
        if not token:
            raise MatrixError(401, "M_MISSING_TOKEN", "Missing access token.")
        with st.lock:
            if token not in st.tokens:
                raise MatrixError(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.", soft_logout=False)
            return (st.tokens[token][0], token)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")


def need(data, key, kind=str):
    if not isinstance(data, dict) or not isinstance(data.get(key), kind):
        raise MatrixError(400, "M_MISSING_PARAM" if not isinstance(data, dict) or key not in data
                          else "M_INVALID_PARAM", f"'{key}' missing or invalid")
    return data[key]


def room_of(st, room_id):
    r = st.rooms.get(room_id)
    if r is None:
        raise MatrixError(404, "M_NOT_FOUND", "Unknown room")
    return r


def must_be_member(st, room_id, uid):
    if room_of(st, room_id)["members"].get(uid) != "join":
        raise MatrixError(403, "M_FORBIDDEN", f"User {uid} not in room {room_id}")


# --- discovery and login ---

@route("GET", r"/\.well-known/matrix/client", auth=False)
def well_known(h, st, user, data, q):
    wk = st.well_known
    if wk == "404":
        raise MatrixError(404, "M_NOT_FOUND", "No .well-known")
    if wk is None:
        wk = {"m.homeserver": {"base_url": f"http://127.0.0.1:{h.server.server_port}"}}
    return wk


@route("GET", r"/_matrix/client/versions", auth=False)
def versions(h, st, user, data, q):
    return {"versions": ["v1.1", "v1.5", "v1.11"], "unstable_features": {}}


@route("POST", r"/_matrix/client/v3/login", auth=False)
def login(h, st, user, data, q):
    if need(data, "type") != "m.login.password":
        raise MatrixError(400, "M_UNKNOWN", "Unknown login type")
    ident = need(data, "identifier", dict)
    if ident.get("type") != "m.id.user" or not isinstance(ident.get("user"), str):
        raise MatrixError(400, "M_UNKNOWN", "Unknown identifier type")
    uid = ident["user"] if ident["user"].startswith("@") else f"@{ident['user']}:{st.name}"
    # the emulator also answers to its address as a server name (for discovery tests)
    local, _, server = uid.partition(":")
    if server == f"127.0.0.1:{h.server.server_port}":
        uid = f"{local}:{st.name}"
    with st.lock:
        if st.users.get(uid) != data.get("password"):
            raise MatrixError(403, "M_FORBIDDEN", "Invalid username or password")
        token = "syt_" + secrets.token_urlsafe(24)
        device = data.get("device_id") or "DEV" + secrets.token_hex(4).upper()
        st.tokens[token] = (uid, device)
    return {"user_id": uid, "access_token": token, "device_id": device}


@route("GET", r"/_matrix/client/v3/account/whoami")
def whoami(h, st, user, data, q):
    return {"user_id": user[0], "device_id": st.tokens[user[1]][1], "is_guest": False}


@route("POST", r"/_matrix/client/v3/logout")
def logout(h, st, user, data, q):
    with st.lock:
        st.tokens.pop(user[1], None)
    return {}


@route("POST", r"/_matrix/client/v3/user/([^/]+)/filter")
def filter_upload(h, st, user, data, q, uid):
    if uid != user[0]:
        raise MatrixError(403, "M_FORBIDDEN", "Cannot create filters for other users")
    if not isinstance(data, dict):
        raise MatrixError(400, "M_BAD_JSON", "filter must be an object")
    with st.lock:
        # like Synapse: the same filter of the same user keeps its id
        fid = next((f for f, (u, d) in st.filters.items() if u == uid and d == data), None)
        if fid is None:
            fid = str(len(st.filters) + 1)
            st.filters[fid] = (uid, data)
    return {"filter_id": fid}


# --- account data ---

@route("GET", r"/_matrix/client/v3/user/([^/]+)/account_data/([^/]+)")
def get_account_data(h, st, user, data, q, uid, typ):
    if uid != user[0]:
        raise MatrixError(403, "M_FORBIDDEN", "Cannot read other users' account data")
    with st.lock:
        if (uid, typ) not in st.account_data:
            raise MatrixError(404, "M_NOT_FOUND", "Account data not found")
        return st.account_data[(uid, typ)]


@route("PUT", r"/_matrix/client/v3/user/([^/]+)/account_data/([^/]+)")
def put_account_data(h, st, user, data, q, uid, typ):
    if uid != user[0]:
        raise MatrixError(403, "M_FORBIDDEN", "Cannot set other users' account data")
    if not isinstance(data, dict):
        raise MatrixError(400, "M_BAD_JSON", "content must be an object")
    with st.lock:
        st.account_data[(uid, typ)] = data
        st.pos += 1
        st.ad_pos[(uid, typ)] = st.pos
        st.lock.notify_all()
    return {}


# --- rooms ---

@route("POST", r"/_matrix/client/v3/createRoom")
def create_room(h, st, user, data, q):
    if not isinstance(data, dict):
        raise MatrixError(400, "M_BAD_JSON", "body must be an object")
    uid = user[0]
    with st.lock:
        rid = f"!{secrets.token_urlsafe(12)}:{st.name}"
        st.rooms[rid] = {"members": {}, "state": {}}
        st.add_event(rid, uid, "m.room.create", {"creator": uid, "room_version": "10"}, "")
        st.add_event(rid, uid, "m.room.member", {"membership": "join"}, uid)
        preset = data.get("preset", "private_chat")
        if preset not in ("private_chat", "trusted_private_chat", "public_chat"):
            raise MatrixError(400, "M_INVALID_PARAM", "bad preset")
        st.add_event(rid, uid, "m.room.join_rules",
                     {"join_rule": "public" if preset == "public_chat" else "invite"}, "")
        if isinstance(data.get("name"), str):
            st.add_event(rid, uid, "m.room.name", {"name": data["name"]}, "")
        if isinstance(data.get("topic"), str):
            st.add_event(rid, uid, "m.room.topic", {"topic": data["topic"]}, "")
        for invitee in data.get("invite", []):
            content = {"membership": "invite"}
            if data.get("is_direct"):
                content["is_direct"] = True
            st.add_event(rid, uid, "m.room.member", content, invitee)
    return {"room_id": rid}


@route("POST", r"/_matrix/client/v3/join/([^/]+)")
def join(h, st, user, data, q, rid):
    with st.lock:
        r = room_of(st, rid)
        ms = r["members"].get(user[0])
        if ms != "join":
            rule = r["state"].get(("m.room.join_rules", ""), {}).get("content", {}).get("join_rule")
            if ms != "invite" and rule != "public":
                raise MatrixError(403, "M_FORBIDDEN", "You are not invited to this room.")
            st.add_event(rid, user[0], "m.room.member", {"membership": "join"}, user[0])
    return {"room_id": rid}


@route("POST", r"/_matrix/client/v3/rooms/([^/]+)/leave")
def leave(h, st, user, data, q, rid):
    with st.lock:
        r = room_of(st, rid)
        if r["members"].get(user[0]) in ("join", "invite"):
            st.add_event(rid, user[0], "m.room.member", {"membership": "leave"}, user[0])
    return {}


@route("POST", r"/_matrix/client/v3/rooms/([^/]+)/invite")
def invite(h, st, user, data, q, rid):
    target = need(data, "user_id")
    with st.lock:
        must_be_member(st, rid, user[0])
        if room_of(st, rid)["members"].get(target) == "join":
            raise MatrixError(403, "M_FORBIDDEN", f"{target} is already in the room.")
        st.add_event(rid, user[0], "m.room.member", {"membership": "invite"}, target)
    return {}


@route("PUT", r"/_matrix/client/v3/rooms/([^/]+)/state/([^/]+)/?(.*)")
def put_state(h, st, user, data, q, rid, typ, key):
    if not isinstance(data, dict):
        raise MatrixError(400, "M_BAD_JSON", "content must be an object")
    with st.lock:
        must_be_member(st, rid, user[0])
        ev = st.add_event(rid, user[0], typ, data, key)
    return {"event_id": ev["event_id"]}


@route("PUT", r"/_matrix/client/v3/rooms/([^/]+)/send/([^/]+)/([^/]+)")
def send(h, st, user, data, q, rid, typ, txn):
    if not isinstance(data, dict):
        raise MatrixError(400, "M_BAD_JSON", "content must be an object")
    with st.lock:
        key = (user[1], "send", rid, txn)
        if key in st.txns:
            return {"event_id": st.txns[key]}
        must_be_member(st, rid, user[0])
        ev = st.add_event(rid, user[0], typ, data, txn=txn)
        st.txns[key] = ev["event_id"]
    return {"event_id": ev["event_id"]}


@route("PUT", r"/_matrix/client/v3/rooms/([^/]+)/redact/([^/]+)/([^/]+)")
def redact(h, st, user, data, q, rid, target, txn):
    with st.lock:
        key = (user[1], "redact", rid, txn)
        if key in st.txns:
            return {"event_id": st.txns[key]}
        must_be_member(st, rid, user[0])
        content = {"reason": data["reason"]} if isinstance(data, dict) and "reason" in data else {}
        ev = st.add_event(rid, user[0], "m.room.redaction", content, txn=txn)
        ev["redacts"] = target
        # like a real server (the spec's redaction algorithm): the target
        # keeps its envelope, an ordinary event loses all of its content
        for _, r, old in st.stream:
            if r == rid and old["event_id"] == target and "state_key" not in old:
                old["content"] = {}
                old.setdefault("unsigned", {})["redacted_because"] = dict(ev)
        st.txns[key] = ev["event_id"]
    return {"event_id": ev["event_id"]}


@route("PUT", r"/_matrix/client/v3/rooms/([^/]+)/typing/([^/]+)")
def typing(h, st, user, data, q, rid, uid):
    if uid != user[0]:
        raise MatrixError(403, "M_FORBIDDEN", "Cannot set typing for others")
    if not isinstance(data.get("typing"), bool):
        raise MatrixError(400, "M_BAD_JSON", "typing must be a boolean")
    with st.lock:
        must_be_member(st, rid, user[0])
        room_of(st, rid).setdefault("typing", {})[uid] = data["typing"]
    return {}


@route("POST", r"/_matrix/client/v3/rooms/([^/]+)/receipt/([^/]+)/([^/]+)")
def receipt(h, st, user, data, q, rid, rtype, eid):
    if rtype not in ("m.read", "m.read.private", "m.fully_read"):
        raise MatrixError(400, "M_INVALID_PARAM", "bad receipt type")
    with st.lock:
        must_be_member(st, rid, user[0])
        room_of(st, rid).setdefault("receipts", {})[user[0]] = eid
    return {}


# --- sync ---

def build_sync(st, uid, since, full_state, initial):
    rooms = {"join": {}, "invite": {}, "leave": {}}
    for rid, r in st.rooms.items():
        ms = r["members"].get(uid)
        evs = [e for p, room, e in st.stream if room == rid and p > since]
        if ms == "join":
            if initial or full_state:
                state = [e for e in r["state"].values() if e not in evs]
            else:
                state = []
            if evs or state:
                rooms["join"][rid] = {"timeline": {"events": evs, "limited": False, "prev_batch": f"p{since}"},
                                      "state": {"events": state}, "ephemeral": {"events": []},
                                      "account_data": {"events": []},
                                      "unread_notifications": {"highlight_count": 0, "notification_count": 0}}
        elif ms == "invite":
            inv = r["state"][("m.room.member", uid)]
            if any(e is inv for e in evs) or initial:
                stripped = [{"type": e["type"], "state_key": e["state_key"], "sender": e["sender"],
                             "content": e["content"]}
                            for (t, k), e in r["state"].items() if t in ("m.room.create", "m.room.name",
                                                                        "m.room.join_rules", "m.room.member")
                            and (t != "m.room.member" or k == uid)]
                rooms["invite"][rid] = {"invite_state": {"events": stripped}}
        elif ms in ("leave", "ban") and not initial:
            mine = r["state"][("m.room.member", uid)]
            if any(e is mine for e in evs):
                rooms["leave"][rid] = {"timeline": {"events": evs, "limited": False}, "state": {"events": []}}
    ad = [{"type": t, "content": c} for (u, t), c in st.account_data.items()
          if u == uid and st.ad_pos[(u, t)] > since]
    return {"next_batch": f"s{st.pos}", "rooms": rooms, "account_data": {"events": ad},
            "presence": {"events": []}, "to_device": {"events": []}}


def sync_empty(res):
    return not any(res["rooms"][k] for k in res["rooms"]) and not res["account_data"]["events"]


@route("GET", r"/_matrix/client/v3/sync")
def sync(h, st, user, data, q):
    since = q.get("since")
    initial = since is None  # "s0" is a position like any other, not "no since"
    if since is not None:
        if not re.match(r"^s\d+$", since):
            raise MatrixError(400, "M_INVALID_PARAM", "Invalid since token")
        since = int(since[1:])
    else:
        since = 0
    try:
        timeout = max(0, int(q.get("timeout", "0")))
    except ValueError:
        raise MatrixError(400, "M_INVALID_PARAM", "timeout must be an integer")
    deadline = time.monotonic() + min(timeout, 120000) / 1000
    full_state = q.get("full_state") == "true"
    key = (user[1], timeout, q.get("since"), q.get("filter"), full_state)
    with st.lock:
        hit = st.sync_cache.get(key)
        if hit and time.monotonic() - hit[0] < st.sync_cache_ms / 1000:
            return hit[1]
        while True:
            res = build_sync(st, user[0], since, full_state, initial)
            left = deadline - time.monotonic()
            if initial or full_state or not sync_empty(res) or left <= 0:
                # Synapse does not cache a long-poll that timed out empty
                if not (not initial and timeout and not full_state and sync_empty(res)):
                    st.sync_cache[key] = (time.monotonic(), res)
                return res
            st.lock.wait(left)
            if user[1] not in st.tokens:
                raise MatrixError(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.", soft_logout=False)


# --- media ---

@route("POST", r"/_matrix/media/v3/upload")
def upload(h, st, user, data, q):
    ctype = h.headers.get("Content-Type", "application/octet-stream")
    if len(data) > 50 * 1024 * 1024:
        raise MatrixError(413, "M_TOO_LARGE", "Upload too large")
    with st.lock:
        mid = secrets.token_urlsafe(16)
        st.media[mid] = (ctype, bytes(data), q.get("filename"))
    return {"content_uri": f"mxc://{st.name}/{mid}"}


def download(st, server, mid):
    with st.lock:
        if server != st.name or mid not in st.media:
            raise MatrixError(404, "M_NOT_FOUND", "Not found")
        ctype, blob, _ = st.media[mid]
    return (ctype, blob)


@route("GET", r"/_matrix/client/v1/media/download/([^/]+)/([^/]+)(?:/[^/]+)?")
def download_v1(h, st, user, data, q, server, mid):
    if not st.v1_media:
        raise MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request")
    return download(st, server, mid)


@route("GET", r"/_matrix/media/v3/download/([^/]+)/([^/]+)(?:/[^/]+)?", auth=False)
def download_v3(h, st, user, data, q, server, mid):
    return download(st, server, mid)


# --- test control ---

@route("POST", r"/_test/fault", auth=False)
def t_fault(h, st, user, data, q):
    with st.lock:
        st.faults.append({"count": 1, **data})
    return {}


@route("POST", r"/_test/revoke", auth=False)
def t_revoke(h, st, user, data, q):
    with st.lock:
        for t in [t for t, (u, _) in st.tokens.items() if u == data.get("user_id") or t == data.get("token")]:
            del st.tokens[t]
        st.lock.notify_all()
    return {}


@route("POST", r"/_test/config", auth=False)
def t_config(h, st, user, data, q):
    with st.lock:
        if "v1_media" in data:
            st.v1_media = bool(data["v1_media"])
        if "well_known" in data:
            st.well_known = data["well_known"]
        if "sync_cache_ms" in data:
            st.sync_cache_ms = int(data["sync_cache_ms"])
            st.sync_cache.clear()
    return {}


@route("POST", r"/_test/inject", auth=False)
def t_inject(h, st, user, data, q):
    with st.lock:
        rid = data["room_id"]
        room_of(st, rid)
        if data.get("join"):
            st.add_event(rid, data["sender"], "m.room.member", {"membership": "join"}, data["sender"])
            return {}
        ev = st.add_event(rid, data["sender"], data.get("type", "m.room.message"), data["content"],
                          data.get("state_key"))
    return {"event_id": ev["event_id"]}


@route("GET", r"/_test/stats", auth=False)
def t_stats(h, st, user, data, q):
    with st.lock:
        events = {}
        for _, rid, e in st.stream:
            events.setdefault(rid, []).append(e)
        return {"counts": st.counts, "events": events,
                "account_data": {f"{u} {t}": c for (u, t), c in st.account_data.items()},
                "rooms": {rid: {"members": r["members"], "typing": r.get("typing", {}),
                                "receipts": r.get("receipts", {})} for rid, r in st.rooms.items()}}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    state_file = None

    def handle_error(self, request, client_address):
        # clients that give up (timeouts, cancelled long-polls) are expected
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server-name", default="localhost")
    ap.add_argument("--tls-cert", help="serve https with this certificate (PEM)")
    ap.add_argument("--tls-key", help="the certificate's key (PEM)")
    ap.add_argument("--exit-on-eof", action="store_true", help="exit when stdin reaches its end")
    ap.add_argument("--port", type=int, default=0, help="listen on this port (0: the system chooses)")
    ap.add_argument("--state", help="keep the server's state in this file (read at start if present)")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.st = State(args.server_name)
    srv.state_file = args.state
    if args.state and os.path.exists(args.state):
        srv.st.load(args.state)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(f"port {srv.server_port}", flush=True)
    if args.exit_on_eof:
        # the test that started us holds our stdin: when it ends, however it
        # ends (even killed or aborted by a sanitizer), so do we
        def watch():
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
