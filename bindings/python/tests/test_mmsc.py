"""phonebridge.mmsc against the local MMSC tests/mmsc-server.py."""

import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.request

from pbtest import SOURCE_ROOT, Server, assert_no_growth

import phonebridge
from phonebridge import mms, mmsc

SCRIPT = os.path.join(SOURCE_ROOT, "tests", "mmsc-server.py")
DATA = os.path.join(SOURCE_ROOT, "tests", "data", "mmsc")
PNG_1x1 = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def notification(tid, location, size=1024):
    """An M-Notification.ind (OMA-MMS-ENC 1.3 §6.2), by hand."""
    return (bytes([0x8C, 0x82, 0x98]) + tid.encode() + b"\0"
            + bytes([0x8D, 0x92])                       # version 1.2
            + bytes([0x8A, 0x80])                       # class personal
            + bytes([0x8E, 0x02, size >> 8, size & 0xFF])  # size
            + bytes([0x88, 0x05, 0x81, 0x03, 0x00, 0x0E, 0x10])  # expiry: relative 3600 s
            + bytes([0x83]) + location.encode() + b"\0")


def send_req(tid):
    """A small M-Send.req: headers and a text/plain body."""
    return (bytes([0x8C, 0x80, 0x98]) + tid.encode() + b"\0"
            + bytes([0x8D, 0x92])
            + bytes([0x89, 0x01, 0x81])                 # From: insert-address
            + bytes([0x97]) + b"+15550102000/TYPE=PLMN\0"
            + bytes([0x84, 0x83])                       # Content-Type: text/plain
            + b"hello")


@unittest.skipUnless(os.path.exists(SCRIPT), "no MMSC server")
class TestMmsc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.server = Server("tests/mmsc-server.py", "--root", f"own={DATA}",
                            "--record-dir", cls.tmp.name, ready="PORT")
        cls.url = cls.server.url
        with open(os.path.join(DATA, "retrieve-conf-text.mms"), "rb") as f:
            cls.conf = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.tmp.cleanup()

    def requests(self):
        with urllib.request.urlopen(self.url + "/admin/requests") as r:
            return json.load(r)

    def test_fetch(self):
        c = mmsc.Client()
        body, http = c.fetch(self.url + "/files/own/retrieve-conf-text.mms")
        self.assertEqual(body, self.conf)
        self.assertEqual((http.http_status, http.bytes), (200, len(self.conf)))
        with self.assertRaises(phonebridge.PhoneBridgeError) as cm:
            c.fetch(self.url + "/html")
        self.assertEqual(cm.exception.http.http_status, 200)
        self.assertIn("html", cm.exception.http.content_type)

    def test_progress_and_abort(self):
        seen = []
        c = mmsc.Client(progress=lambda now, total: seen.append((now, total)) or False)
        c.fetch(self.url + "/big/200000")
        self.assertTrue(seen and seen[-1][0] == 200000)
        c = mmsc.Client(progress=lambda now, total: True, retry_attempts=1)
        with self.assertRaises(phonebridge.CancelledError):
            c.fetch(self.url + "/big/200000")
        with self.assertWarns(DeprecationWarning):  # the old spelling of retry_attempts
            c = mmsc.Client(progress=lambda now, total: True, attempts=1)
        with self.assertRaises(phonebridge.CancelledError):
            c.fetch(self.url + "/big/200000")

        def boom(now, total):
            raise KeyError("stop here")
        with self.assertRaises(KeyError):
            mmsc.Client(progress=boom, retry_attempts=1).fetch(self.url + "/big/200000")

    def test_retrieve_answers_retrieved(self):
        c = mmsc.Client(self.url + "/mmsc?case=pyret")
        r = c.retrieve(notification("PY1", self.url + "/files/own/retrieve-conf-text.mms"))
        self.assertEqual(r.pdu, self.conf)
        self.assertTrue(r.answered)
        self.assertEqual(r.http.http_status, 200)
        posts = [q for q in self.requests() if q["method"] == "POST" and "pyret" in q["path"]]
        self.assertEqual(len(posts), 1)
        with self.assertRaises(phonebridge.MalformedPDU):
            c.retrieve(b"\x8c")

    def posted(self, case):
        """The bodies the MMSC recorded for POSTs to ?case=..., in order."""
        out = []
        for q in self.requests():
            if q["method"] == "POST" and f"case={case}" in q["path"]:
                with open(q["body_file"], "rb") as f:
                    out.append(f.read())
        return out

    def test_retrieve_gives_the_decoded_message(self):
        c = mmsc.Client(self.url + "/mmsc?case=pymsg")
        r = c.retrieve(notification("PY2", self.url + "/files/own/retrieve-conf-text.mms"))
        self.assertIsInstance(r.message, mms.Message)
        want = mms.decode(self.conf)
        self.assertEqual(r.message.message_type, 132)  # m-retrieve-conf
        self.assertEqual((r.message.from_, r.message.to, r.message.subject, r.message.text),
                         (want.from_, want.to, want.subject, want.text))
        self.assertEqual([bytes(p.body) for p in r.message.parts], [bytes(p.body) for p in want.parts])
        self.assertEqual(r.pdu, self.conf)  # the raw bytes stay available
        # an error status from the MMSC: refused, but its answer is decoded too
        with self.assertRaises(phonebridge.NotFoundError) as cm:
            c.retrieve(notification("PY3", self.url + "/files/own/retrieve-conf-not-found.mms"))
        gone = cm.exception.retrieval
        self.assertIsInstance(gone.message, mms.Message)
        self.assertEqual(gone.message.retrieve_status, gone.retrieve_status)
        self.assertGreaterEqual(gone.retrieve_status, 0xE0)
        # an HTML page: nothing decoded, the bytes kept for diagnostics
        with self.assertRaises(phonebridge.ProtocolError) as cm:
            c.retrieve(notification("PY4", self.url + "/html"))
        self.assertIsNone(cm.exception.retrieval.message)
        self.assertIn(b"<html>", cm.exception.retrieval.pdu)

    def test_send_message_object(self):
        c = mmsc.Client(self.url + "/mmsc?case=pyobj")
        msg = mms.OutgoingMessage(["+15550102000", "bob@example.org"], text="hello from Python",
                                  subject="Snapshot \u00e9", cc=["+15550102001"],
                                  delivery_report=True)
        msg.attach(PNG_1x1, "image/png", "dot.png").attach(b"BEGIN:VCARD\r\nEND:VCARD\r\n",
                                                            "text/x-vcard", "card.vcf")
        conf = c.send(msg)
        self.assertIsInstance(conf, mmsc.SendConf)
        self.assertTrue(conf.ok)
        self.assertEqual(conf.status_name, "Ok")
        self.assertTrue(conf.transaction_id.startswith("pb"))
        self.assertEqual(conf.message_id, "msg-" + conf.transaction_id)
        self.assertEqual(conf.http.http_status, 200)
        # what the MMSC received: the library's M-Send.req of that message
        [body] = self.posted("pyobj")
        sent = mms.decode(body)
        self.assertEqual(sent.type_name, "m-send-req")
        self.assertEqual(sent.transaction_id, conf.transaction_id)
        self.assertEqual(sent.to, ("+15550102000", "bob@example.org"))
        self.assertIn(b"+15550102000/TYPE=PLMN\0", body)
        self.assertEqual(sent.cc, ("+15550102001",))
        self.assertTrue(sent.from_insert_address)
        self.assertEqual(sent.subject, "Snapshot \u00e9")
        self.assertEqual(sent.delivery_report, 128)
        self.assertEqual(sent.text, "hello from Python")
        named = {p.name: p for p in sent.parts if p.name}
        self.assertEqual(bytes(named["dot.png"].body), PNG_1x1)
        self.assertEqual(named["dot.png"].media_type, "image/png")
        self.assertEqual(named["card.vcf"].media_type.lower(), "text/x-vcard")  # a WSP token
        self.assertTrue(any(p.is_smil for p in sent.parts))
        # the same message encoded in Python is the same PDU (same transaction id)
        self.assertEqual(msg.encode(conf.transaction_id), body)
        # a chosen transaction id is used as is
        fixed = mms.OutgoingMessage("+15550102000", text="again", transaction_id="PYTID7")
        self.assertEqual(c.send(fixed).transaction_id, "PYTID7")

    def test_send_refusals(self):
        refused = mmsc.Client(self.url + "/mmsc?case=pyref&send_status=0xE2&send_text=no+such+user")
        with self.assertRaises(phonebridge.ProtocolError) as cm:
            refused.send(mms.OutgoingMessage(["+15550109999"], text="x"))
        conf = cm.exception.conf
        self.assertFalse(conf.ok)
        self.assertEqual(conf.response_status, 0xE2)
        self.assertEqual(conf.response_text, "no such user")
        self.assertTrue(conf.status_name.startswith("Error-permanent"))
        c = mmsc.Client(self.url + "/mmsc?case=pybad")
        with self.assertRaises(phonebridge.InvalidArgument):
            c.send(mms.OutgoingMessage([], text="nobody to send to"))
        with self.assertRaises(TypeError):
            c.send("not a message")  # type: ignore[arg-type]
        self.assertEqual(self.posted("pybad"), [])
        # the raw entry point stays
        self.assertTrue(c.send_pdu(send_req("PYRAW1")).ok)

    def test_answers_post_and_rewrite(self):
        c = mmsc.Client(self.url + "/mmsc?case=pyans")
        r = c.retrieve(notification("PYANS1", self.url + "/files/own/retrieve-conf-text.mms"),
                       no_answer=True)
        self.assertFalse(r.answered)
        self.assertEqual(r.answer_status, mms.STATUS_RETRIEVED)
        self.assertEqual(self.posted("pyans"), [])
        self.assertEqual(c.notifyresp("PYANS1", r.answer_status).http_status, 200)
        self.assertEqual(c.acknowledge("PYANS1").http_status, 200)
        answer, http = c.post(mmsc.POST_SEND, send_req("PYANS2"))
        self.assertEqual(mms.decode(answer).transaction_id, "PYANS2")
        self.assertEqual(http.http_status, 200)
        resp, ack, sent = [mms.decode(b) for b in self.posted("pyans")]
        self.assertEqual((resp.type_name, resp.transaction_id, resp.status),
                         ("m-notifyresp-ind", "PYANS1", mms.STATUS_RETRIEVED))
        self.assertEqual((ack.type_name, ack.transaction_id), ("m-acknowledge-ind", "PYANS1"))
        self.assertEqual(sent.type_name, "m-send-req")
        with self.assertRaises(ValueError):
            c.post(7, send_req("PYANS3"))
        with self.assertRaises(phonebridge.InvalidArgument):
            mmsc.Client().notifyresp("PYANS1", mms.STATUS_RETRIEVED)  # no MMSC URL
        with self.assertRaises(phonebridge.NotFoundError) as cm:
            mmsc.Client(self.url + "/mmsc?case=pyans404&status=404", retry_attempts=1).acknowledge("PYANS4")
        self.assertEqual(cm.exception.http.http_status, 404)
        self.assertEqual(mmsc.rewrite_location("base=http://mms.example keep=path", "/mms/wapenc?T=a"),
                         "http://mms.example/mms/wapenc?T=a")
        self.assertEqual(mmsc.rewrite_location("base=mmsc keep=query", "T=abc", "http://m.example/w"),
                         "http://m.example/w?T=abc")
        self.assertIsNone(mmsc.rewrite_location("match=other host=h.example", "http://a/b"))
        with self.assertRaises(phonebridge.InvalidArgument):
            mmsc.rewrite_location("frobnicate=1", "http://a/b")

    def test_send_mms_example(self):
        example = os.path.join(SOURCE_ROOT, "examples", "python", "send_mms.py")
        if not os.path.exists(example):
            self.skipTest("no examples")
        png = os.path.join(self.tmp.name, "dot.png")
        with open(png, "wb") as f:
            f.write(PNG_1x1)
        r = subprocess.run([sys.executable, example, "--mmsc", self.url + "/mmsc?case=pyex",
                            "--subject", "From the example", "--text", "see the dot",
                            "+15550102000,+15550102001", png],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("sent: Ok, message id msg-pb"), r.stdout)
        [body] = self.posted("pyex")
        sent = mms.decode(body)
        self.assertEqual(sent.to, ("+15550102000", "+15550102001"))
        self.assertEqual((sent.subject, sent.text), ("From the example", "see the dot"))
        [dot] = [p for p in sent.parts if p.name == "dot.png"]
        self.assertEqual((dot.media_type, bytes(dot.body)), ("image/png", PNG_1x1))
        r = subprocess.run([sys.executable, example, "--mmsc", self.url + "/mmsc?send_status=0xE2",
                            "+15550102000", png], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 1)
        self.assertIn("refused: Error-permanent", r.stderr)

    def test_send(self):
        c = mmsc.Client(self.url + "/mmsc?case=pysend")
        conf = c.send(send_req("PYSEND1"))
        self.assertEqual(conf.response_status, 0x80)
        self.assertEqual(conf.message_id, "msg-PYSEND1")
        self.assertEqual(conf.transaction_id, "PYSEND1")
        refused = mmsc.Client(self.url + "/mmsc?send_status=0xE3&send_text=nope")
        with self.assertRaises(phonebridge.ProtocolError) as cm:
            refused.send(send_req("PYSEND2"))
        self.assertEqual(cm.exception.conf.response_status, 0xE3)


@unittest.skipUnless(os.path.exists(SCRIPT), "no MMSC server")
class TestMmscNoLeak(unittest.TestCase):
    """Thousands of fetch/retrieve/send rounds, refusals included, against an
    MMSC of their own (nothing recorded): no growth of Python objects or RSS."""

    def test_no_leak(self):
        server = Server("tests/mmsc-server.py", "--root", f"own={DATA}", ready="PORT")
        try:
            url = server.url
            with open(os.path.join(DATA, "retrieve-conf-text.mms"), "rb") as f:
                conf_pdu = f.read()
            ok = mmsc.Client(url + "/mmsc")
            refused = mmsc.Client(url + "/mmsc?send_status=0xE3&send_text=nope")
            ni = notification("LEAK", url + "/files/own/retrieve-conf-text.mms")
            msg = mms.OutgoingMessage(["+15550102000"], text="leak?", subject="s")
            msg.attach(PNG_1x1 * 20, "image/png", "dot.png")

            def one_round():
                body, http = ok.fetch(url + "/files/own/retrieve-conf-text.mms")
                assert body == conf_pdu and http.http_status == 200
                r = ok.retrieve(ni)
                assert r.message is not None and r.answered
                assert ok.send(msg).ok
                assert ok.send_pdu(send_req("LEAKPDU")).ok
                try:
                    refused.send(msg)
                except phonebridge.ProtocolError as e:
                    assert e.conf.response_status == 0xE3
                else:
                    raise AssertionError("the refusal was not raised")

            assert_no_growth(self, one_round, 300, 3000)
        finally:
            server.close()


if __name__ == "__main__":
    unittest.main()
