"""phonebridge.matrix against the homeserver emulator tests/matrix-homeserver.py
(started like tests/test-matrix.c does: Debian's python3, port 0, "port N")."""

import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

from pbtest import SOURCE_ROOT, Server, assert_no_growth

import phonebridge
from phonebridge.matrix import Client, ImageInfo, image_info, parse_sync, read_secret_file

SCRIPT = os.path.join(SOURCE_ROOT, "tests", "matrix-homeserver.py")
PNG_1x1 = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


SYNC_BODY = json.dumps({
    "next_batch": "s42",
    "rooms": {
        "join": {"!r:x": {"timeline": {"events": [
            {"type": "m.room.message", "sender": "@a:x", "event_id": "$1", "origin_server_ts": 7,
             "content": {"msgtype": "m.text", "body": "hi \u00e9"}},
            "not an event", {"no": "type"}]}}},
        "invite": {"!i:x": {"invite_state": {"events": [
            {"type": "m.room.member", "sender": "@b:x", "state_key": "@me:x",
             "content": {"membership": "invite"}}]}}},
        "leave": {"!l:x": {}},
    },
}).encode()


def wait_for(cond, deadline=30.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


@unittest.skipUnless(os.path.exists(SCRIPT), "no homeserver emulator")
class TestMatrix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("tests/matrix-homeserver.py", "--exit-on-eof", ready="port")
        cls.url = cls.server.url
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.tmp.cleanup()

    def secret(self, name, text, mode=0o600):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text + "\n")
        os.chmod(path, mode)
        return path

    def stats(self):
        with urllib.request.urlopen(self.url + "/_test/stats") as r:
            return json.load(r)

    def syncs(self):
        return sum(n for k, n in self.stats()["counts"].items() if "/sync" in k)

    def alice(self):
        return Client(self.url, user="alice", password_file=self.secret("alice.pw", "wonderland"))

    def room_events(self, room):
        return self.stats()["events"].get(room, [])

    def bob(self, name="bob.pw"):
        return Client(self.url, user="bob", password_file=self.secret(name, "builder"))

    def test_room_state_invites_and_errors(self):
        a, bob = self.alice(), self.bob("bob3.pw")
        room = a.create_dm("@bob:localhost")
        a.set_room_name(room, "+15550102000")
        a.set_topic(room, "SMS with +15550102000")
        avatar = a.upload(PNG_1x1, "image/png", "a.png")
        a.set_avatar(room, avatar)
        custom = a.send_state(room, "org.example.phone", {"number": "+15550102000"}, state_key="n")
        self.assertTrue(custom.startswith("$"))
        by_type = {e["type"]: e for e in self.room_events(room)}
        self.assertEqual(by_type["m.room.name"]["content"], {"name": "+15550102000"})
        self.assertEqual(by_type["m.room.topic"]["content"]["topic"], "SMS with +15550102000")
        self.assertEqual(by_type["m.room.avatar"]["content"]["url"], avatar)
        self.assertEqual(by_type["org.example.phone"]["state_key"], "n")
        self.assertEqual(by_type["org.example.phone"]["event_id"], custom)
        # invites: bob again while invited is fine; once he joined the server refuses
        a.invite(room, "@bob:localhost")
        bob.join(room)
        with self.assertRaises(phonebridge.ForbiddenError) as cm:
            a.invite(room, "@bob:localhost")
        e = cm.exception
        self.assertIsInstance(e, phonebridge.AuthError)
        self.assertIsInstance(e, phonebridge.ProtocolError)
        self.assertEqual((e.errcode, e.http_status, e.name), ("M_FORBIDDEN", 403, "PB_EPROTO"))
        self.assertIn("already in the room", str(e))
        # unknown rooms: NotFoundError with the errcode
        with self.assertRaises(phonebridge.NotFoundError) as cm:
            a.send_text("!nowhere:localhost", "hi")
        self.assertEqual((cm.exception.errcode, cm.exception.http_status), ("M_NOT_FOUND", 404))
        # leave: then sending is forbidden
        bob.leave(room)
        self.assertEqual(self.stats()["rooms"][room]["members"]["@bob:localhost"], "leave")
        with self.assertRaises(phonebridge.ForbiddenError):
            bob.send_text(room, "still here?")
        with self.assertRaises(phonebridge.ForbiddenError):
            bob.set_topic(room, "mine now")

    def test_typing_receipts_redact_reactions(self):
        a, bob = self.alice(), self.bob("bob4.pw")
        room = a.create_dm("@bob:localhost")
        bob.join(room)
        eid = a.send_text(room, "typo")
        a.typing(room, True, timeout_ms=5000)
        self.assertEqual(self.stats()["rooms"][room]["typing"], {"@alice:localhost": True})
        a.typing(room, False)
        self.assertEqual(self.stats()["rooms"][room]["typing"], {"@alice:localhost": False})
        bob.read_receipt(room, eid)
        self.assertEqual(self.stats()["rooms"][room]["receipts"], {"@bob:localhost": eid})
        r = bob.send_reaction(room, eid, "\U0001F44D", txn_id="r1")
        evs = {e["event_id"]: e for e in self.room_events(room)}
        self.assertEqual(evs[r]["content"]["m.relates_to"],
                         {"rel_type": "m.annotation", "event_id": eid, "key": "\U0001F44D"})
        red = a.redact(room, eid, "wrong room", txn_id="x1")
        self.assertEqual(a.redact(room, eid, "wrong room", txn_id="x1"), red)  # idempotent
        a.redact(room, r)
        evs = {e["event_id"]: e for e in self.room_events(room)}
        # redacted, as on a real server: the envelope stays, the content goes
        self.assertEqual(evs[r]["content"], {})
        self.assertEqual(evs[red]["type"], "m.room.redaction")
        self.assertEqual(evs[red]["redacts"], eid)
        self.assertEqual(evs[red]["content"], {"reason": "wrong room"})
        self.assertEqual(len([e for e in evs.values() if e["type"] == "m.room.redaction"]), 2)
        emote = a.send_emote(room, "waves")
        last = self.room_events(room)[-1]
        self.assertEqual((last["event_id"], last["content"]["msgtype"]), (emote, "m.emote"))

    def test_filters_and_sync(self):
        a, bob = self.alice(), self.bob("bob5.pw")
        room = a.create_dm("@bob:localhost")
        bob.join(room)
        fid = bob.upload_filter({"room": {"timeline": {"limit": 10}}})
        self.assertTrue(fid)
        since = bob.sync(filter=fid, timeout_ms=0).next_batch
        eid = a.send_text(room, "filtered")
        got = bob.sync(since, filter={"room": {"timeline": {"limit": 10}}}, timeout_ms=0)
        self.assertIn(eid, [e.event_id for e in got.events])
        with self.assertRaises(phonebridge.InvalidArgument):
            bob.upload_filter("not json")

    def test_media(self):
        a, bob = self.alice(), self.bob("bob6.pw")
        room = a.create_dm("@bob:localhost")
        bob.join(room)
        self.assertEqual(image_info(PNG_1x1), ImageInfo(1, 1, "image/png"))
        self.assertEqual(image_info(bytearray(PNG_1x1)).mimetype, "image/png")
        with self.assertRaises(phonebridge.UnsupportedError):
            image_info(b"plain text, not an image")
        with self.assertRaises(phonebridge.MalformedPDU):
            image_info(PNG_1x1[:20])
        # bytes from an MMS part, say: uploaded and sent with their info
        img = a.send_bytes(room, PNG_1x1, "dot.png")
        doc = a.send_bytes(room, b"%PDF-1.4 ...", "bill.pdf", mimetype="application/pdf")
        guessed = a.send_bytes(room, b"#!AMR\n...", "memo.amr")  # the type from the name
        url = a.upload(b"\x00" * 1000, "audio/amr", "voice.amr")
        voice = a.send_media(room, url, "voice.amr", mimetype="audio/amr", size=1000,
                             duration_ms=2500)
        evs = {e["event_id"]: e["content"] for e in self.room_events(room)}
        self.assertEqual(evs[img]["msgtype"], "m.image")
        self.assertEqual(evs[img]["info"], {"mimetype": "image/png", "size": len(PNG_1x1), "w": 1, "h": 1})
        self.assertEqual(a.download(evs[img]["url"]), (PNG_1x1, "image/png"))
        self.assertEqual(evs[doc]["msgtype"], "m.file")
        self.assertEqual(evs[doc]["body"], "bill.pdf")
        self.assertEqual((evs[guessed]["msgtype"], evs[guessed]["info"]["mimetype"]),
                         ("m.audio", "audio/amr"))
        self.assertEqual(evs[voice]["msgtype"], "m.audio")
        self.assertEqual(evs[voice]["info"]["duration"], 2500)
        self.assertEqual(evs[voice]["url"], url)
        with self.assertRaises(phonebridge.TooBigError):
            a.download(url, max_bytes=100)
        with self.assertRaises(phonebridge.NotFoundError):
            a.download("mxc://localhost/nothing-here")

    def test_discover_login_logout(self):
        port = self.url.rsplit(":", 1)[1]
        c = Client(None, discovery_insecure_http=True)
        self.assertIsNone(c.homeserver)
        self.assertEqual(c.discover(f"@alice:127.0.0.1:{port}"), self.url)
        self.assertEqual(c.homeserver, self.url)
        c.login("alice", "wonderland", "PYDEV")
        self.assertEqual((c.user_id, c.device_id), ("@alice:localhost", "PYDEV"))
        token = c.access_token
        c.logout()
        self.assertIsNone(c.access_token)
        with self.assertRaises(phonebridge.AuthError) as cm:
            Client(self.url, token=token, retry_attempts=1).whoami()
        self.assertEqual(cm.exception.errcode, "M_UNKNOWN_TOKEN")
        self.assertEqual(cm.exception.http_status, 401)
        with self.assertRaises(phonebridge.InvalidArgument):
            c.discover("@nobody")

    def test_echo_example(self):
        example = os.path.join(SOURCE_ROOT, "examples", "python", "matrix_echo.py")
        if not os.path.exists(example):
            self.skipTest("no examples")
        proc = subprocess.Popen([sys.executable, example, "--homeserver", self.url, "--user", "bob",
                                 "--password-file", self.secret("bob-echo.pw", "builder"),
                                 "--count", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            self.assertIn("@bob:localhost: listening", proc.stdout.readline())
            a = self.alice()
            room = a.create_dm("@bob:localhost")
            # the emulator gives a room's history only from the join on
            self.assertTrue(wait_for(lambda: self.stats()["rooms"][room]["members"].get("@bob:localhost")
                                     == "join", 60), "the bot did not join")
            one = a.send_text(room, "one")
            a.send_text(room, "two")
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        evs = self.room_events(room)
        notices = [e["content"]["body"] for e in evs
                   if e["sender"] == "@bob:localhost" and e["type"] == "m.room.message"]
        self.assertEqual(notices, ["Hello! I repeat what you write.", "echo: one", "echo: two"])
        self.assertIn(self.stats()["rooms"][room]["receipts"]["@bob:localhost"],
                      [e["event_id"] for e in evs if e["content"].get("body") == "two"])
        [echo_one] = [e for e in evs if e["content"].get("body") == "echo: one"]
        self.assertEqual(echo_one["unsigned"]["transaction_id"], "echo-" + one)

    def test_login_files_and_whoami(self):
        a = self.alice()
        self.assertEqual(a.whoami(), "@alice:localhost")
        self.assertEqual(a.user_id, "@alice:localhost")
        self.assertTrue(a.access_token)
        # the same token from a file
        b = Client(self.url, token_file=self.secret("alice.token", a.access_token))
        self.assertEqual(b.whoami(), "@alice:localhost")
        self.assertEqual(read_secret_file(self.secret("x", "s3cret")), "s3cret")
        with self.assertRaises(phonebridge.AuthError):
            Client(self.url, token_file=self.secret("open.token", "t", 0o644))
        with self.assertRaises(phonebridge.AuthError):
            Client(self.url, token="nope", retry_attempts=1).whoami()
        # the old retry keywords: still taken, with a DeprecationWarning
        with self.assertWarns(DeprecationWarning):
            with self.assertRaises(phonebridge.AuthError):
                Client(self.url, token="nope", max_retries=0, retry_base_ms=1, retry_cap_ms=2).whoami()
        # durations are unsigned ms: a negative one is refused, naming the member
        with self.assertRaises(phonebridge.InvalidArgument) as cm:
            Client(self.url, token="nope", request_timeout_ms=-1)
        self.assertIn("request_timeout_ms", str(cm.exception))
        with self.assertRaises(phonebridge.AuthError):
            Client(self.url, user="alice", password_file=self.secret("bad.pw", "wrong"))

    def test_rooms_messages_files_and_sync(self):
        a = self.alice()
        bob = Client(self.url, user="bob", password_file=self.secret("bob.pw", "builder"))
        first = bob.sync(timeout_ms=0)
        self.assertIsNotNone(first.next_batch)
        room = a.create_dm("@bob:localhost", name="+15550102000")
        self.assertTrue(room.startswith("!"))
        self.assertEqual(a.direct_room("@bob:localhost"), room)
        invited = bob.sync(first.next_batch, timeout_ms=0)
        self.assertIn((room, "@alice:localhost"), invited.invites)
        self.assertEqual(bob.join(room), room)
        text_id = a.send_text(room, "hello bob", txn_id="t1")
        self.assertEqual(a.send_text(room, "hello bob", txn_id="t1"), text_id)  # idempotent
        notice_id = a.send_notice(room, "a notice")
        a.send_reaction(room, text_id, "\U0001F44D")
        path = os.path.join(self.tmp.name, "dot.png")
        with open(path, "wb") as f:
            f.write(PNG_1x1)
        file_id = a.send_file(room, path)
        self.assertTrue(file_id.startswith("$"))
        mxc = a.upload(b"raw bytes", "text/plain", "r.txt")
        self.assertEqual(a.download(mxc), (b"raw bytes", "text/plain"))

        it = bob.sync_forever(invited.next_batch, timeout_ms=1000)
        seen = {}
        deadline = time.monotonic() + 60
        for ev in it:
            self.assertLess(time.monotonic(), deadline, "events never came")
            if ev.section == "timeline":
                seen[ev.event_id] = ev
            if file_id in seen:
                break
        self.assertEqual(seen[text_id].body, "hello bob")
        self.assertEqual(seen[text_id].sender, "@alice:localhost")
        self.assertEqual(seen[notice_id].msgtype, "m.notice")
        img = seen[file_id]
        self.assertEqual(img.msgtype, "m.image")
        self.assertEqual(img.content["info"]["w"], 1)
        self.assertIsNotNone(it.next_batch)
        self.assertEqual(len([e for e in seen.values() if e.body == "hello bob"]), 1)

    def test_cancel_from_another_thread(self):
        bob = Client(self.url, user="bob", password_file=self.secret("bob2.pw", "builder"))
        since = bob.sync(timeout_ms=0).next_batch
        before = self.syncs()
        got, errors = [], []

        def run():
            try:
                for ev in bob.sync_forever(since, timeout_ms=60000):
                    got.append(ev)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        t = threading.Thread(target=run)
        t.start()
        # the worker is blocked in a long-poll inside libcurl; this thread
        # still runs (the GIL is released) and stops it
        self.assertTrue(wait_for(lambda: self.syncs() > before))
        started = time.monotonic()
        bob.cancel()
        t.join(30)
        self.assertFalse(t.is_alive())
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(errors, [])
        with self.assertRaises(phonebridge.CancelledError):
            bob.whoami()
        bob.cancel_reset()
        self.assertEqual(bob.whoami(), "@bob:localhost")


class TestSyncParse(unittest.TestCase):
    def test_parse_sync(self):
        r = parse_sync(SYNC_BODY)
        self.assertEqual(r.next_batch, "s42")
        msg = [e for e in r.events if e.section == "timeline"]
        self.assertEqual(len(msg), 1)  # what is not an event with a type is skipped
        self.assertEqual((msg[0].room_id, msg[0].sender, msg[0].body, msg[0].origin_server_ts),
                         ("!r:x", "@a:x", "hi \u00e9", 7))
        self.assertEqual(msg[0].content["msgtype"], "m.text")
        self.assertIn(("!i:x", "@b:x"), r.invites)
        self.assertEqual(r.leaves, ["!l:x"])
        with self.assertRaises(phonebridge.MalformedPDU) as cm:
            parse_sync(b'{"next_batch": "s1", "rooms": [')
        self.assertIsNotNone(cm.exception.offset)
        with self.assertRaises(phonebridge.MalformedPDU):
            parse_sync(b"[]")

    def test_parse_sync_no_leak(self):
        def one_round():
            assert parse_sync(SYNC_BODY).next_batch == "s42"
            try:
                parse_sync(SYNC_BODY[:-9])
            except phonebridge.MalformedPDU:
                pass
            assert image_info(PNG_1x1).width == 1
        assert_no_growth(self, one_round, 2000, 30000)


@unittest.skipUnless(os.path.exists(SCRIPT), "no homeserver emulator")
class TestMatrixNoLeak(unittest.TestCase):
    """Thousands of send/sync/download rounds (and the error paths) against
    a homeserver of their own: neither Python objects nor C memory grow."""

    def test_no_leak(self):
        server = Server("tests/matrix-homeserver.py", "--exit-on-eof", ready="port")
        try:
            a = Client(server.url)
            a.login("alice", "wonderland")
            room = a.create_dm("@bob:localhost", name="leak")
            mxc = a.upload(PNG_1x1 * 50, "image/png", "x.png")
            state = {"since": a.sync(timeout_ms=0).next_batch, "n": 0}

            def one_round():
                state["n"] += 1
                eid = a.send_text(room, "round %d" % state["n"])
                r = a.sync(state["since"], timeout_ms=0)
                assert [e.event_id for e in r.events if e.type == "m.room.message"] == [eid], r
                state["since"] = r.next_batch
                data, ctype = a.download(mxc)
                assert len(data) == len(PNG_1x1) * 50 and ctype == "image/png"
                a.typing(room, state["n"] & 1 == 0)
                try:
                    a.send_text("!nowhere:localhost", "x", txn_id="t%d" % state["n"])
                except phonebridge.NotFoundError as e:
                    assert e.errcode == "M_NOT_FOUND"
                else:
                    raise AssertionError("sent to a room that does not exist")

            assert_no_growth(self, one_round, 500, 5000)
        finally:
            server.close()


class _AsHomeserver(http.server.ThreadingHTTPServer):
    """A scripted homeserver for an application service: it records each
    request (method, path, query, JSON body) and answers as Synapse does."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _AsHandler)
        self.seen = []
        self.registered = set()


class _AsHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        path, _, query = self.path.partition("?")
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"null") if n else None
        path = urllib.parse.unquote(path)
        self.server.seen.append((self.command, path, urllib.parse.parse_qs(query), body))
        if path.endswith("/register"):
            if body["username"] in self.server.registered:
                return self.answer(400, {"errcode": "M_USER_IN_USE", "error": "taken"})
            self.server.registered.add(body["username"])
            return self.answer(200, {"user_id": "@%s:x" % body["username"]})
        if path.endswith("/createRoom"):
            return self.answer(200, {"room_id": "!new:x"})
        if path.endswith("/joined_rooms"):
            return self.answer(200, {"joined_rooms": ["!a:x"]})
        if path.endswith("/rooms/!a:x/state"):
            return self.answer(200, [
                {"type": "m.room.create", "state_key": "", "sender": "@sms_1:x", "event_id": "$c",
                 "content": {"creator": "@sms_1:x"}},
                {"type": "org.phonebridge.room", "state_key": "", "sender": "@sms_1:x", "event_id": "$m",
                 "content": {"key": "+1"}},
                {"type": "m.room.topic", "state_key": "", "sender": "@sms_1:x", "event_id": "$t",
                 "content": {"topic": "t"}}])
        return self.answer(200, {})

    do_GET = do_PUT = do_POST = handle_any


class TestAppservice(unittest.TestCase):
    """The application-service calls (act_as, register, profiles, createRoom as
    given, rooms_state) against a scripted homeserver: what they send."""

    @classmethod
    def setUpClass(cls):
        cls.hs = _AsHomeserver()
        cls.thread = threading.Thread(target=cls.hs.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.hs.shutdown()
        cls.hs.server_close()

    def client(self):
        self.hs.seen.clear()
        return Client("http://127.0.0.1:%d" % self.hs.server_address[1], token="as-token", max_retries=0)

    def test_act_as_register_and_profiles(self):
        c = self.client()
        self.assertIsNone(c.acting_as)
        with self.assertRaises(phonebridge.InvalidArgument):
            c.act_as("sms_1")
        c.act_as("@sms_1:x")
        self.assertEqual(c.acting_as, "@sms_1:x")
        self.assertTrue(c.register_appservice_user("sms_1"))
        self.assertFalse(c.register_appservice_user("sms_1"))  # registered before: fine
        method, path, query, body = self.hs.seen[0]
        self.assertEqual((method, body["type"]), ("POST", "m.login.application_service"))
        self.assertNotIn("user_id", query)  # registering never asserts an identity
        c.set_displayname("Alice")
        c.set_avatar_url("mxc://x/abc")
        with self.assertRaises(phonebridge.InvalidArgument):
            c.set_avatar_url("https://example.org/a.png")
        (m1, p1, q1, b1), (m2, p2, q2, b2) = self.hs.seen[2:4]
        self.assertEqual((m1, p1, q1["user_id"], b1), ("PUT", "/_matrix/client/v3/profile/@sms_1:x/displayname",
                                                       ["@sms_1:x"], {"displayname": "Alice"}))
        self.assertEqual((m2, p2, b2), ("PUT", "/_matrix/client/v3/profile/@sms_1:x/avatar_url",
                                        {"avatar_url": "mxc://x/abc"}))
        c.set_displayname("Bob", user_id="@sms_2:x")
        self.assertEqual(self.hs.seen[-1][1], "/_matrix/client/v3/profile/@sms_2:x/displayname")
        c.act_as(None)
        self.assertIsNone(c.acting_as)

    def test_create_room_and_rooms_state(self):
        c = self.client()
        c.act_as("@sms_1:x")
        body = {"preset": "trusted_private_chat", "is_direct": True, "invite": ["@owner:x"],
                "initial_state": [{"type": "org.phonebridge.room", "state_key": "", "content": {"key": "+1"}}]}
        self.assertEqual(c.create_room(body), "!new:x")
        method, path, query, sent = self.hs.seen[-1]
        self.assertEqual((method, path, query["user_id"], sent), ("POST", "/_matrix/client/v3/createRoom",
                                                                  ["@sms_1:x"], body))
        with self.assertRaises(phonebridge.InvalidArgument):
            c.create_room("[1]")
        events = c.rooms_state(["m.room.create", "org.phonebridge.room"])
        self.assertEqual([(e.section, e.room_id, e.type, e.sender) for e in events],
                         [("state", "!a:x", "m.room.create", "@sms_1:x"),
                          ("state", "!a:x", "org.phonebridge.room", "@sms_1:x")])
        self.assertEqual(events[1].content, {"key": "+1"})
        self.assertEqual(len(c.rooms_state()), 3)
        with self.assertRaises(TypeError):
            c.rooms_state("m.room.create")


if __name__ == "__main__":
    unittest.main()
