"""phonebridge.modem against the HiLink router emulator
tests/emulators/hilink-emulator.py (started like tests/test-modem.c does)."""

import json
import os
import subprocess
import tempfile
import threading
import unittest
import urllib.request

from pbtest import SOURCE_ROOT, Server

import phonebridge
from phonebridge import modem

ROOT = SOURCE_ROOT
SCRIPT = os.path.join(ROOT, "tests", "emulators", "hilink-emulator.py")


class Emulator(Server):
    def __init__(self, *args):
        super().__init__("tests/emulators/hilink-emulator.py", *args, ready="READY")

    def http(self, path, body=None):
        req = urllib.request.Request(self.url + path, data=body.encode() if body is not None else None)
        with urllib.request.urlopen(req) as r:
            return r.read().decode()

    def stop(self):
        self.close()


@unittest.skipUnless(os.path.exists(SCRIPT), "no HiLink emulator")
class TestHiLink(unittest.TestCase):
    def setUp(self):
        self.emu = Emulator("--require-login", "--samples")
        self.tmp = tempfile.TemporaryDirectory()
        self.pw = os.path.join(self.tmp.name, "router.pw")
        with open(self.pw, "w") as f:
            f.write("secret\n")
        os.chmod(self.pw, 0o600)

    def tearDown(self):
        self.emu.stop()
        self.tmp.cleanup()

    def open(self, **kw):
        return modem.open("hilink", url=self.emu.url, username="admin", password_file=self.pw,
                          timeout_ms=20000, poll_interval_ms=100, **kw)

    def test_status_list_send_delete(self):
        with self.open() as m:
            self.assertEqual(m.backend, "hilink")
            st = m.status()
            self.assertEqual((st.operator, st.network_type, st.signal_percent, st.signal_dbm),
                             ("Example Mobile", "LTE", 80, -71))
            self.assertEqual((st.sim, st.registration), ("ready", "home"))
            inbox = m.list()
            self.assertEqual(len(inbox), 7)
            self.assertTrue(all(isinstance(x, modem.Message) for x in inbox))
            texts = [x for x in inbox if x.type == "text" and x.text]
            self.assertTrue(texts)
            one = m.read(texts[0].id)
            self.assertEqual(one.text, texts[0].text)
            m.delete(texts[0].id)
            self.assertEqual(len(m.list()), 6)
            with self.assertRaises(phonebridge.PhoneBridgeError):
                m.read(texts[0].id)
            m.send("+15550102000", "hello from Python \u20ac")
            sent = json.loads(self.emu.http("/test/sent"))
            self.assertEqual(sent[-1]["phone"], "+15550102000")
            self.assertEqual(sent[-1]["content"], "hello from Python \u20ac")
        with self.assertRaises(phonebridge.StateError):
            m.status()

    def test_send_sms_hilink_example(self):
        import sys
        example = os.path.join(ROOT, "examples", "python", "send_sms_hilink.py")
        if not os.path.exists(example):
            self.skipTest("no examples")
        r = subprocess.run([sys.executable, example, "--url", self.emu.url, "--password-file", self.pw,
                            "+15550100001", "hi", "there"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Example Mobile LTE", r.stdout)
        sent = json.loads(self.emu.http("/test/sent"))
        self.assertEqual((sent[-1]["phone"], sent[-1]["content"]), ("+15550100001", "hi there"))

    def test_bad_credentials(self):
        os.chmod(self.pw, 0o644)
        with self.assertRaises(phonebridge.AuthError):
            self.open()
        with self.assertRaises(phonebridge.NotFoundError):
            modem.open("no-such-backend", url=self.emu.url)

    def test_watch_iterator_new_message_and_stop(self):
        m = self.open()
        w = m.watch(new_only=True)
        self.emu.http("/test/add", "<Message><Smstat>0</Smstat><Index>@INDEX@</Index>"
                      "<Phone>+1777</Phone><Content>late arrival</Content>"
                      "<Date>2024-05-02 09:00:00</Date><SmsType>1</SmsType></Message>")
        got = None
        for ev in w:
            if ev.message and ev.message.text == "late arrival":
                got = ev.message
                break
        self.assertIsNotNone(got)
        self.assertEqual(got.number, "+1777")
        # stop from this thread while the helper thread is blocked in the C watch
        w.close()
        self.assertEqual(list(w), [])
        # the handle works again afterwards
        self.assertEqual(len(m.list()), 8)
        # closing the modem ends a watch running in another thread
        w2 = m.watch(new_only=True)
        m.close()
        try:
            self.assertEqual(list(w2), [])
        except phonebridge.StateError:
            pass  # the close came before the watch thread reached the handle
        with self.assertRaises(phonebridge.StateError):
            m.list()

    def test_watch_with_callback_exception_and_stop_from_thread(self):
        with self.open() as m:
            seen = []

            def cb(ev):
                seen.append(ev)
                if len(seen) == 3:
                    raise RuntimeError("enough")
                return False
            with self.assertRaises(RuntimeError):
                m.watch_with(cb)
            self.assertEqual(len(seen), 3)
            self.assertEqual(seen[0].event, "message")

            # stop() from another thread ends a watch that reports nothing new
            # (repeated: a stop before the watch starts is forgotten by it)
            done = threading.Event()

            def stopper():
                while not done.wait(0.05):
                    m.stop()
            t = threading.Thread(target=stopper)
            t.start()
            try:
                self.assertFalse(m.watch_with(lambda ev: False, new_only=True))
            finally:
                done.set()
                t.join(30)
            # a callback returning True stops the watch with True
            self.assertTrue(m.watch_with(lambda ev: True))


if __name__ == "__main__":
    unittest.main()
