"""phonebridge.modem against the HiLink router emulator
tests/emulators/hilink-emulator.py and the AT modem emulator
tests/emulators/at-modem-emulator.py (started like tests/test-modem.c does),
and backends written in Python driven through the C front end."""

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

from pbtest import SOURCE_ROOT, Server, assert_no_growth

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
        reads = json.loads(self.emu.http("/test/state"))["list_reads"]
        w = m.watch(new_only=True)
        # new_only: what the watch's first listing sees is old, so the message
        # must come after it (the C watch starts in the iterator's thread)
        deadline = time.monotonic() + 60
        while json.loads(self.emu.http("/test/state"))["list_reads"] <= reads:
            self.assertLess(time.monotonic(), deadline, "the watch never listed the inbox")
            time.sleep(0.02)
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


AT_SCRIPT = os.path.join(ROOT, "tests", "emulators", "at-modem-emulator.py")


class AtEmulator(Server):
    """tests/emulators/at-modem-emulator.py on a pseudo-terminal linked at a
    path; control lines go to its stdin, answers come on its stdout."""

    def __init__(self, *args):  # not Server.__init__: it waits for a port
        self.tmp = tempfile.TemporaryDirectory()
        self.link = os.path.join(self.tmp.name, "tty")
        self.proc = subprocess.Popen(["/usr/bin/python3", AT_SCRIPT, "--link", self.link, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if not self.proc.stdout.readline().startswith("READY "):
            self.close()
            raise RuntimeError("at-modem-emulator.py exited before it was ready")

    def ask(self, command, answer):
        """Send a control line and return the rest of the answer line."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith(answer + " ") or line.rstrip("\n") == answer:
                return line[len(answer):].strip()
        raise RuntimeError("at-modem-emulator.py ended")

    def close(self):
        super().close()
        self.tmp.cleanup()


@unittest.skipUnless(os.path.exists(AT_SCRIPT), "no AT modem emulator")
class TestAt(unittest.TestCase):
    def setUp(self):
        self.emu = AtEmulator("--samples")

    def tearDown(self):
        self.emu.close()

    def open(self):
        return modem.open("at", device=self.emu.link, timeout_ms=10000, poll_interval_ms=200)

    def test_forwarding_and_ussd(self):
        with self.open() as m:
            nr = modem.ForwardReason.NOT_REACHABLE
            f = m.forward_query(nr)
            self.assertEqual((f.reason, f.active, f.number), (nr, False, None))
            self.assertIs(f.reason, modem.ForwardReason.NOT_REACHABLE)
            m.forward_set(nr, "+4930555")
            f = m.forward_query(nr)
            self.assertEqual((f.active, f.number), (True, "+4930555"))
            self.assertEqual(self.emu.ask("forward?", "FORWARD"), "3=+4930555")
            with self.assertRaises(phonebridge.InvalidArgument):
                m.forward_set(modem.ForwardReason.BUSY, '"+1";AT')
            with self.assertRaises(phonebridge.InvalidArgument):
                m.forward_query(9)
            m.forward_set(nr, None)
            self.assertFalse(m.forward_query(nr).active)
            self.assertEqual(self.emu.ask("forward?", "FORWARD"), "")
            self.assertEqual(m.ussd("*100#"), "Balance: 5.00 \u20ac")
            with self.assertRaises(phonebridge.InvalidArgument):
                m.ussd("*100#; AT+CFUN=0")

    def test_messages_read_mark_delete(self):
        with self.open() as m:
            self.assertEqual(m.backend, "at")
            st = m.status()
            self.assertEqual((st.operator, st.registration, st.sim), ("Example Mobile", "roaming", "ready"))
            inbox = m.list()
            texts = [x for x in inbox if x.type == "text"]
            self.assertEqual([x.text for x in texts], ["Hello from the stick", "After the garbled one"])
            self.assertTrue(any(x.type == "garbled" for x in inbox))
            first = texts[0]
            self.assertEqual(first.raw_format, 1)  # the PDU
            self.assertEqual(m.read(first.id).text, "Hello from the stick")
            try:
                m.mark_read(first.id)
            except phonebridge.UnsupportedError:
                pass
            m.delete(first.id)
            with self.assertRaises(phonebridge.NotFoundError):
                m.read(first.id)
            self.assertEqual(len(m.list()), len(inbox) - 1)


# --- backends written in Python -------------------------------------------------

class FakeBox(modem.Backend):
    """A box in memory. Boxes are shared by url, so a test reaches the one
    its modem opened; wait() wakes when the test pokes it."""

    name = "pytest-box"
    boxes = {}

    def __init__(self, options):
        super().__init__(options)
        if options.password != "s3cret":
            raise phonebridge.AuthError("wrong password")
        self.box = FakeBox.boxes.setdefault(options.url, {
            "inbox": {}, "sent": [], "forwards": {}, "poke": queue.Queue(), "fail": None,
            "closed": 0, "pushed": []})
        self.box["closed"] = 0

    def _maybe_fail(self, op):
        f = self.box["fail"]  # (op, exception, times; 0: every time)
        if f and f[0] == op:
            if f[2] == 1:
                self.box["fail"] = None
            elif f[2]:
                self.box["fail"] = (op, f[1], f[2] - 1)
            raise f[1]

    def close(self):
        self.box["closed"] += 1

    def status(self):
        return modem.Status(operator="Fake", registration="home", network_type="LTE",
                            signal_dbm=-60, signal_percent=90, sim="ready")

    def list(self, box):
        self._maybe_fail("list")
        if box == modem.SENT:
            return [modem.Message(str(i), state="sent", number=n, text=t)
                    for i, (n, t) in enumerate(self.box["sent"])]
        return list(self.box["inbox"].values())

    def read(self, id):
        self._maybe_fail("read")
        try:
            return self.box["inbox"][id]
        except KeyError:
            raise phonebridge.NotFoundError("no message " + id) from None

    def delete(self, id):
        if self.box["inbox"].pop(id, None) is None:
            raise phonebridge.NotFoundError("no message " + id)

    def mark_read(self, id):
        m = self.box["inbox"][id]
        self.box["inbox"][id] = modem.Message(m.id, m.type, "read", m.box_type, m.number, m.text,
                                              m.time, m.raw, m.raw_format)

    def send(self, number, text, report):
        self._maybe_fail("send")
        self.box["sent"].append((number, text))
        return len(self.box["sent"]) if report else None

    def wait(self, timeout_ms, pushed):
        self._maybe_fail("wait")
        try:
            self.box["poke"].get(timeout=timeout_ms / 1000)
        except queue.Empty:
            return False
        pushed.extend(self.box["pushed"])
        self.box["pushed"].clear()
        return True

    def forward_query(self, reason):
        n = self.box["forwards"].get(reason)
        return modem.Forward(reason, n is not None, n)

    def forward_set(self, reason, number, no_reply_s):
        if number is None:
            self.box["forwards"].pop(reason, None)
        else:
            self.box["forwards"][reason] = number

    def ussd(self, code):
        return "You said " + code


class PollBox(modem.Backend):
    """Only list(): the C front end polls it; everything else unsupported."""

    name = "pytest-poll"
    inbox = []

    def list(self, box):
        return list(PollBox.inbox)


modem.register_backend(FakeBox)
modem.register_backend(PollBox)


def add(url, id, text, **kw):
    box = FakeBox.boxes[url]
    box["inbox"][id] = modem.Message(id, number="+15550001", text=text, time="2024-05-01 10:00:00", **kw)
    box["poke"].put(1)


class TestPythonBackend(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.pw = os.path.join(self.tmp.name, "pw")
        with open(self.pw, "w") as f:
            f.write("s3cret\n")
        os.chmod(self.pw, 0o600)

    def tearDown(self):
        self.tmp.cleanup()

    def open(self, url, **kw):
        m = modem.open("pytest-box", url=url, password_file=self.pw, poll_interval_ms=100, **kw)
        return m

    def test_every_operation_through_the_c_front_end(self):
        with self.open("box-ops") as m:
            box = FakeBox.boxes["box-ops"]
            self.assertEqual(m.backend, "pytest-box")
            self.assertEqual(m.status(), modem.Status("Fake", "home", "LTE", -60, 90, "ready"))
            add("box-ops", "1", "hello \u20ac")
            add("box-ops", "2", None, type="mms", raw=b"\x8c\x82", raw_format=2,
                content_location="http://mmsc/1")
            inbox = m.list()
            self.assertEqual([(x.id, x.text) for x in inbox], [("1", "hello \u20ac"), ("2", None)])
            self.assertEqual((inbox[1].type, inbox[1].raw, inbox[1].raw_format, inbox[1].content_location),
                             ("mms", b"\x8c\x82", 2, "http://mmsc/1"))
            self.assertEqual(inbox[0].box_type, -1)
            self.assertEqual(m.read("1").text, "hello \u20ac")
            m.mark_read("1")
            self.assertEqual(m.read("1").state, "read")
            with self.assertRaises(phonebridge.NotFoundError):
                m.read("9")
            m.delete("1,2")  # the front end splits joined ids
            self.assertEqual(m.list(), [])
            self.assertIsNone(m.send("+15550002", "hi"))
            self.assertEqual(m.send("+15550003", "with report", report=True), 2)
            sent = m.list(modem.SENT)
            self.assertEqual([(x.number, x.text, x.state) for x in sent],
                             [("+15550002", "hi", "sent"), ("+15550003", "with report", "sent")])
            with self.assertRaises(phonebridge.UnsupportedError):
                m.send_pdu(b"\x01\x00")
            m.forward_set(modem.ForwardReason.BUSY, "+4930555")
            self.assertEqual(m.forward_query(modem.ForwardReason.BUSY),
                             modem.Forward(modem.ForwardReason.BUSY, True, "+4930555", None))
            m.forward_set(modem.ForwardReason.BUSY, None)
            self.assertFalse(m.forward_query(modem.ForwardReason.BUSY).active)
            self.assertEqual(m.ussd("*100#"), "You said *100#")
        self.assertEqual(box["closed"], 1)

    def test_options_reach_the_backend_and_open_errors(self):
        seen = []

        class Opts(modem.Backend):
            def __init__(self, options):
                super().__init__(options)
                seen.append(options)

            def list(self, box):
                return []
        modem.register_backend(Opts, "pytest-opts")
        with modem.open("pytest-opts", url="u", device="/dev/x", username="me", timeout_ms=5,
                        poll_interval_ms=6, tls_insecure=True, storage="SM", baud=9600,
                        modem_no=2, password_file=self.pw) as m:
            self.assertEqual(m.backend, "pytest-opts")
            with self.assertRaises(phonebridge.UnsupportedError):
                m.status()
        o = seen[0]
        self.assertEqual((o.url, o.device, o.username, o.password, o.token, o.timeout_ms,
                          o.poll_interval_ms, o.tls_insecure, o.storage, o.baud, o.modem_no),
                         ("u", "/dev/x", "me", "s3cret", None, 5, 6, True, "SM", 9600, 2))
        # the old spelling: still taken and read, with a DeprecationWarning
        with self.assertWarns(DeprecationWarning):
            self.assertTrue(o.insecure_tls)
        with self.assertWarns(DeprecationWarning):
            modem.open("pytest-opts", insecure_tls=True, password_file=self.pw).close()
        self.assertTrue(seen[-1].tls_insecure)
        # a PhoneBridgeError from the constructor keeps its class
        with open(self.pw, "w") as f:
            f.write("wrong\n")
        with self.assertRaises(phonebridge.AuthError) as cm:
            self.open("box-auth")
        self.assertIsInstance(cm.exception.__cause__, phonebridge.AuthError)
        # the front end's own checks still apply
        os.chmod(self.pw, 0o644)
        with self.assertRaises(phonebridge.AuthError):
            self.open("box-auth")
        # names are unique, built-in ones included; classes only
        with self.assertRaises(phonebridge.ExistsError):
            modem.register_backend(PollBox)
        with self.assertRaises(phonebridge.ExistsError):
            modem.register_backend(PollBox, "hilink")
        with self.assertRaises(TypeError):
            modem.register_backend(object)  # type: ignore[type-var]

    def test_exceptions_become_errors_never_crashes(self):
        with self.open("box-exc") as m:
            box = FakeBox.boxes["box-exc"]
            box["fail"] = ("list", RuntimeError("disk on fire"), 0)
            with self.assertRaises(phonebridge.PhoneBridgeError) as cm:
                m.list()
            self.assertIs(type(cm.exception), phonebridge.PhoneBridgeError)
            self.assertIn("pytest-box backend: list: RuntimeError: disk on fire", str(cm.exception))
            self.assertIsInstance(cm.exception.__cause__, RuntimeError)
            for exc, cls in ((TimeoutError("slow"), phonebridge.TimeoutError),
                             (ConnectionResetError("gone"), phonebridge.TransportError),
                             (NotImplementedError(), phonebridge.UnsupportedError),
                             (phonebridge.ProtocolError("box said no"), phonebridge.ProtocolError)):
                box["fail"] = ("send", exc, 0)
                with self.assertRaises(cls) as cm:
                    m.send("+1555", "x")
                self.assertIs(cm.exception.__cause__, exc)
            box["fail"] = None
            # wrong shapes from the backend
            box["inbox"]["x"] = 42
            with self.assertRaises(phonebridge.PhoneBridgeError) as cm:
                m.list()
            self.assertIsInstance(cm.exception.__cause__, AttributeError)
            box["inbox"]["x"] = modem.Message("x", type="telegram")
            with self.assertRaises(phonebridge.PhoneBridgeError) as cm:
                m.list()
            self.assertIsInstance(cm.exception.__cause__, ValueError)
            box["inbox"]["x"] = modem.Message("x", text=b"bytes")  # type: ignore[arg-type]
            with self.assertRaises(phonebridge.PhoneBridgeError):
                m.list()
            del box["inbox"]["x"]
            self.assertEqual(m.list(), [])
            # the cause is the exception of this call, not an older one
            with self.assertRaises(phonebridge.NotFoundError) as cm:
                m.delete("nope")
            self.assertIsInstance(cm.exception.__cause__, phonebridge.NotFoundError)

    def test_ctrl_c_in_a_backend_comes_out_as_itself(self):
        with self.open("box-int") as m:
            box = FakeBox.boxes["box-int"]
            box["fail"] = ("list", KeyboardInterrupt(), 1)
            with self.assertRaises(KeyboardInterrupt):
                m.list()
            box["fail"] = ("send", SystemExit(3), 1)
            with self.assertRaises(SystemExit):
                m.send("+1555", "x")
            # in a watch: it ends the watch (no error event) and is raised by it
            add("box-int", "1", "one")
            box["fail"] = ("wait", KeyboardInterrupt(), 1)
            events = []
            with self.assertRaises(KeyboardInterrupt):
                m.watch_with(events.append, duration_ms=60000)
            self.assertEqual([e.event for e in events], ["message"])
            self.assertEqual(m.list()[0].text, "one")  # and the modem goes on

    def test_watch_reports_listed_and_pushed_messages(self):
        m = self.open("box-watch")
        add("box-watch", "1", "there before")
        w = m.watch()
        got = []
        for ev in w:
            self.assertEqual(ev.event, "message")
            got.append(ev.message)
            if len(got) == 1:
                add("box-watch", "2", "arrived")
            if len(got) == 2:
                box = FakeBox.boxes["box-watch"]
                box["pushed"].append(modem.Message(None, type="report", number="+1999", text="delivered"))
                box["poke"].put(1)
            if len(got) == 3:
                break
        w.close()
        self.assertEqual([(x.id, x.text) for x in got[:2]], [("1", "there before"), ("2", "arrived")])
        self.assertEqual((got[2].type, got[2].text), ("report", "delivered"))
        # errors of wait() and list() are events; watching goes on
        box = FakeBox.boxes["box-watch"]
        box["fail"] = ("wait", OSError("unplugged"), 1)
        events = []

        def cb(ev):
            events.append(ev)
            if ev.event == "recovered":
                add("box-watch", "3", "after the error")
            return ev.message is not None and ev.message.id == "3"
        self.assertTrue(m.watch_with(cb, new_only=True, duration_ms=60000))
        self.assertEqual([e.event for e in events], ["error", "recovered", "message"])
        self.assertEqual(events[0].name, "PB_EIO")
        self.assertIn("OSError: unplugged", events[0].text)
        m.close()

    def test_an_event_there_before_the_first_next_still_pauses_the_watch(self):
        # the helper thread may hand over the first event before the loop
        # asks for it; asking must not count as having handled it, or the
        # watch runs on (holding the modem) while the body uses the modem
        m = self.open("box-early")
        add("box-early", "1", "one")
        w = m.watch()
        deadline = time.monotonic() + 30
        while w._q.qsize() == 0 and time.monotonic() < deadline:  # the event handed over, nobody asked yet
            time.sleep(0.01)
        self.assertEqual(w._q.qsize(), 1)
        ev = next(w)
        self.assertEqual(ev.message.id, "1")
        lister = threading.Thread(target=m.list, daemon=True)
        lister.start()
        lister.join(30)  # at once while the watch is paused; never while it runs
        stuck = lister.is_alive()
        w.close()
        lister.join(30)
        self.assertFalse(stuck, "the watch ran on after the first event, before it was handled")
        m.close()

    def test_the_modem_is_usable_while_a_watch_waits_for_its_consumer(self):
        m = self.open("box-inloop")
        box = FakeBox.boxes["box-inloop"]
        add("box-inloop", "1", "one")
        add("box-inloop", "2", "two")
        # the iterator: store, then delete from the loop body (the watch waits)
        w = m.watch()
        handled = []
        for ev in w:
            handled.append(ev.message.id)
            m.delete(ev.message.id)
            m.send("+1555", "got " + ev.message.id)
            if len(handled) == 2:
                break
        self.assertEqual(handled, ["1", "2"])
        self.assertEqual(m.list(), [])  # while the watch is still paused
        w.close()
        self.assertEqual(box["sent"][-2:], [("+1555", "got 1"), ("+1555", "got 2")])
        # the callback: the same from inside it; a watch in a watch is refused
        add("box-inloop", "3", "three")
        errors = []

        def cb(ev):
            m.delete(ev.message.id)
            try:
                m.watch_with(lambda e: True)
            except phonebridge.StateError as e:
                errors.append(e)
            return True
        self.assertTrue(m.watch_with(cb))
        self.assertEqual((m.list(), len(errors)), ([], 1))
        # close() from the callback: the watch ends, then the handle is closed
        add("box-inloop", "4", "four")

        def closer(ev):
            m.close()
            with self.assertRaises(phonebridge.StateError):
                m.list()
            return False
        self.assertFalse(m.watch_with(closer))
        self.assertEqual(box["closed"], 1)
        with self.assertRaises(phonebridge.StateError):
            m.list()
        # closing the modem releases an iterator paused on an event nobody takes
        m = self.open("box-inloop")
        w = m.watch()
        self.assertEqual(next(w).message.id, "4")
        m.close()
        self.assertEqual(list(w), [])
        self.assertEqual(box["closed"], 1)

    def test_polled_backend_watch_and_unsupported(self):
        PollBox.inbox = [modem.Message("a", text="one")]
        with modem.open("pytest-poll", poll_interval_ms=50) as m:
            for op in (lambda: m.send("+1", "x"), lambda: m.delete("a"), lambda: m.mark_read("a"),
                       lambda: m.ussd("*1#"), lambda: m.forward_query(0)):
                with self.assertRaises(phonebridge.UnsupportedError):
                    op()
            self.assertEqual(m.read("a").text, "one")  # the front end lists instead
            seen = []

            def cb(ev):
                seen.append(ev.message.text)
                if len(seen) == 1:
                    PollBox.inbox = PollBox.inbox + [modem.Message("b", text="two")]
                return len(seen) == 2
            self.assertTrue(m.watch_with(cb, duration_ms=60000))
            self.assertEqual(seen, ["one", "two"])

    def test_spool_backend_example(self):
        example = os.path.join(ROOT, "examples", "python", "spool_backend.py")
        if not os.path.exists(example):
            self.skipTest("no examples")
        spool = os.path.join(self.tmp.name, "spool")
        os.makedirs(os.path.join(spool, "inbox"))
        with open(os.path.join(spool, "inbox", "a1.txt"), "w") as f:
            f.write("+15550001\nhello\n")
        r = subprocess.run([sys.executable, example, spool, "--send", "+15550002", "hi there"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "sent, reference 1\na1: +15550001: hello\n")
        with open(os.path.join(spool, "outbox", "1.txt")) as f:
            self.assertEqual(f.read(), "+15550002\nhi there\n")
        # --watch reports and deletes what is there and what arrives
        p = subprocess.Popen([sys.executable, example, spool, "--watch", "120"],
                             stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(p.stdout.readline(), "a1: +15550001: hello\n")
            with open(os.path.join(spool, "inbox", "b2.tmp"), "w") as f:
                f.write("+15550003\nlater\n")
            os.replace(os.path.join(spool, "inbox", "b2.tmp"), os.path.join(spool, "inbox", "b2.txt"))
            self.assertEqual(p.stdout.readline(), "b2: +15550003: later\n")
        finally:
            p.terminate()
            p.wait(30)
            p.stdout.close()
        self.assertFalse(os.path.exists(os.path.join(spool, "inbox", "a1.txt")))

    def test_many_list_read_rounds_do_not_grow_memory(self):
        with self.open("box-leak") as m:
            for i in range(20):
                add("box-leak", str(i), "message %d \u20ac" % i, raw=b"\x00" * 40, raw_format=4)
            box = FakeBox.boxes["box-leak"]

            def one_round():
                m.list()
                m.read("7")
                m.send("+1555", "x")
                box["sent"].clear()
                try:
                    m.read("nope")
                except phonebridge.NotFoundError:
                    pass
            assert_no_growth(self, one_round, 500, 5000)


if __name__ == "__main__":
    unittest.main()
