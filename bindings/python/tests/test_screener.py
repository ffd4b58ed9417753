"""phonebridge.screen.Screener on real SIP calls: a Python challenge answers
Net::SIP callers (tests/sip/caller.pl) while run() holds the loop in another
thread (so the GIL is free while sofia-sip waits); a passing caller is
bridged to a Net::SIP callee; an exception in the challenge ends that call
only, and the next call is screened as usual."""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from phonebridge import screen

SRC = os.environ.get("PB_SOURCE_ROOT", "")
SIP = os.path.join(SRC, "tests", "sip")


def have_net_sip():
    if not shutil.which("perl"):
        return False
    return subprocess.run(["perl", "-MNet::SIP", "-e1"], capture_output=True).returncode == 0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        return u.getsockname()[1]


class PressFive(screen.Challenge):
    """press 5 (and 3 raises, to test a failing challenge)"""

    name = "press-five"

    def start(self):
        self.play("press", "digit-5", "to-continue")
        self.collect(1, 6000)

    def on_input(self, digits, timed_out):
        if digits == "3":
            raise RuntimeError("the challenge broke on 3")
        if digits == "5":
            self.pass_()
        else:
            self.fail("not five")


@unittest.skipUnless(SRC and have_net_sip(), "needs perl Net::SIP and PB_SOURCE_ROOT")
class ScreenerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.tport = free_port()
        self.callee = subprocess.Popen(["perl", os.path.join(SIP, "callee.pl"), "--port", str(self.tport)],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertTrue(self.callee.stdout.readline().startswith("listening"))
        self.events = []
        self.cond = threading.Condition()

    def tearDown(self):
        self.callee.kill()
        self.callee.wait()
        self.callee.stdout.close()
        shutil.rmtree(self.tmp)

    def on_event(self, ev):
        with self.cond:
            self.events.append(ev)
            self.cond.notify_all()

    def wait_event(self, pred, deadline=30):
        end = time.monotonic() + deadline
        with self.cond:
            while True:
                for ev in self.events:
                    if pred(ev):
                        return ev
                left = end - time.monotonic()
                if left <= 0:
                    self.fail("no such event; got %r" % self.events)
                self.cond.wait(left)

    def call(self, port, number, digit):
        r = subprocess.run(["perl", os.path.join(SIP, "caller.pl"), "--to", "sip:screen@127.0.0.1:%d" % port,
                            "--from", "sip:%s@127.0.0.1" % number, "--dtmf", digit,
                            "--wait-before-dtmf", "1.5", "--hold", "10"],
                           capture_output=True, text=True, timeout=90)
        return r.stdout

    def test_screener_answers_real_calls(self):
        s = screen.Screener({"allow": "127.0.0.1", "store": os.path.join(self.tmp, "screen.db"),
                             "prompts": os.path.join(SRC, "data", "prompts"),
                             "target": "sip:target@127.0.0.1:%d" % self.tport,
                             "policy": {"challenge": "press-five"}},
                            challenges=(PressFive,), on_event=self.on_event)
        ready = threading.Event()

        def serve():
            # sofia-sip's loop belongs to the thread that started it
            try:
                s.start()
            finally:
                ready.set()
            s.run()
            s.close()

        loop = threading.Thread(target=serve)
        loop.start()
        self.assertTrue(ready.wait(30))
        self.assertGreater(s.port, 0)
        try:
            # the main thread runs the caller while run() waits: the GIL is free
            out = self.call(s.port, "+15550100051", "5")
            self.assertIn("final 200", out)
            ev = self.wait_event(lambda e: e["type"] == "ended" and e["caller"] == "+15550100051")
            self.assertEqual(ev["outcome"], "press-five:passed")
            fw = self.wait_event(lambda e: e["type"] == "forwarded")
            self.assertEqual(fw["target"], "sip:target@127.0.0.1:%d" % self.tport)

            out = self.call(s.port, "+15550100053", "3")
            self.assertIn("bye-received", out, "the call with the broken challenge is hung up")
            ev = self.wait_event(lambda e: e["type"] == "challenge" and e["caller"] == "+15550100053")
            self.assertEqual(ev["result"], "error")
            self.assertIn("RuntimeError: the challenge broke on 3", ev["reason"])

            out = self.call(s.port, "+15550100055", "5")
            self.assertIn("final 200", out)
            ev = self.wait_event(lambda e: e["type"] == "ended" and e["caller"] == "+15550100055")
            self.assertEqual(ev["outcome"], "press-five:passed", "the next call is screened as usual")
        finally:
            s.stop()
            loop.join(60)
        self.assertFalse(loop.is_alive(), "run() returns after stop()")

    def test_screener_in_asyncio(self):
        """serve(): the screener in an asyncio loop (add_reader on fileno()),
        next to a task of the program's own; a Net::SIP caller (run as an
        asyncio subprocess) passes, and stop() ends serve()."""
        import asyncio

        s = screen.Screener({"allow": "127.0.0.1", "store": os.path.join(self.tmp, "screen.db"),
                             "prompts": os.path.join(SRC, "data", "prompts"),
                             "target": "sip:target@127.0.0.1:%d" % self.tport,
                             "policy": {"challenge": "press-five"}},
                            challenges=(PressFive,), on_event=self.on_event)

        async def main():
            s.start()
            server = asyncio.ensure_future(s.serve())
            ticks = 0

            async def ticker():  # the loop stays the program's: other tasks run too
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.05)

            other = asyncio.ensure_future(ticker())
            caller = await asyncio.create_subprocess_exec(
                "perl", os.path.join(SIP, "caller.pl"), "--to", "sip:screen@127.0.0.1:%d" % s.port,
                "--from", "sip:+15550100057@127.0.0.1", "--dtmf", "5", "--wait-before-dtmf", "1.5",
                "--hold", "6", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(caller.communicate(), 90)
            for _ in range(600):  # the call is logged when both legs have hung up
                if any(e["type"] == "ended" for e in self.events):
                    break
                await asyncio.sleep(0.05)
            s.stop()
            await asyncio.wait_for(server, 30)
            other.cancel()
            return out.decode(), ticks

        out, ticks = asyncio.run(main())
        s.close()
        self.assertIn("final 200", out)
        ev = self.wait_event(lambda e: e["type"] == "ended" and e["caller"] == "+15550100057", 1)
        self.assertEqual(ev["outcome"], "press-five:passed")
        self.wait_event(lambda e: e["type"] == "forwarded", 1)
        self.assertGreater(ticks, 20, "the program's own task ran beside the screener")

    def test_bad_options(self):
        with self.assertRaises(ValueError):
            screen.Screener({"store": "x", "prompts": "y", "target": "z", "bogus": 1})
        with self.assertRaises(TypeError):
            screen.Screener({"store": 1, "prompts": "y", "target": "z"})

    def test_voicemail_options(self):
        base = {"store": os.path.join(self.tmp, "vm.db"), "prompts": os.path.join(SRC, "data", "prompts"),
                "target": "sip:target@127.0.0.1"}
        s = screen.Screener(dict(base, voicemail=True, voicemail_format="opus", voicemail_max_seconds=60,
                                 voicemail_silence_seconds=3, voicemail_greeting="voicemail"))
        s.close()
        with self.assertRaises(Exception) as cm:
            screen.Screener(dict(base, voicemail=True, voicemail_greeting="no-such-prompt"))
        self.assertIn("no-such-prompt", str(cm.exception))
        with self.assertRaises(ValueError):
            screen.Screener(dict(base, voicemail_max_seconds=601))


if __name__ == "__main__":
    unittest.main()
