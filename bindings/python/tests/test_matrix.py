"""phonebridge.matrix against the homeserver emulator tests/matrix-homeserver.py
(started like tests/test-matrix.c does: Debian's python3, port 0, "port N")."""

import json
import os
import tempfile
import threading
import time
import unittest
import urllib.request

from pbtest import SOURCE_ROOT, Server

import phonebridge
from phonebridge.matrix import Client, read_secret_file

SCRIPT = os.path.join(SOURCE_ROOT, "tests", "matrix-homeserver.py")
PNG_1x1 = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


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
            Client(self.url, token="nope", max_retries=0).whoami()
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


if __name__ == "__main__":
    unittest.main()
