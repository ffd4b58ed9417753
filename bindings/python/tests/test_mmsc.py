"""phonebridge.mmsc against the local MMSC tests/mmsc-server.py."""

import json
import os
import unittest
import urllib.request

from pbtest import SOURCE_ROOT, Server

import phonebridge
from phonebridge import mmsc

SCRIPT = os.path.join(SOURCE_ROOT, "tests", "mmsc-server.py")
DATA = os.path.join(SOURCE_ROOT, "tests", "data", "mmsc")


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
        cls.server = Server("tests/mmsc-server.py", "--root", f"own={DATA}", ready="PORT")
        cls.url = cls.server.url
        with open(os.path.join(DATA, "retrieve-conf-text.mms"), "rb") as f:
            cls.conf = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

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
        c = mmsc.Client(progress=lambda now, total: True, attempts=1)
        with self.assertRaises(phonebridge.CancelledError):
            c.fetch(self.url + "/big/200000")

        def boom(now, total):
            raise KeyError("stop here")
        with self.assertRaises(KeyError):
            mmsc.Client(progress=boom, attempts=1).fetch(self.url + "/big/200000")

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


if __name__ == "__main__":
    unittest.main()
