"""phonebridge.mms: WAP push and MMS decode (zero copy), encoders, and no
leaks when decoding SMS and MMS many times."""

import datetime
import gc
import os
import resource
import sys
import tempfile
import tracemalloc
import unittest

from phonebridge import _phonebridge, mms, sms
from phonebridge.errors import InvalidArgument, MalformedPDU

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"


def vector(*path):
    d = os.environ.get("PB_VECTORS_DIR", "")
    p = os.path.join(d, "mms", *path)
    if not d or not os.path.exists(p):
        raise unittest.SkipTest("skipped: no shared vectors")
    with open(p, "rb") as f:
        return f.read()


def retrieve_conf():
    return mms.encode_retrieve_conf(
        "T1", ["+4915112345678", "bob@example.org"], "Hello from Python ✓",
        [mms.Attachment(JPEG, "image/jpeg", "../../etc/photo.jpg")],
        message_id="M1", from_="+4930123456", subject="Grüße",
        date=datetime.datetime(2026, 11, 22, 6, 0, tzinfo=datetime.timezone.utc), cc=["+4930999"])


class TestDecode(unittest.TestCase):
    def test_retrieve_conf_fields(self):
        m = mms.decode(retrieve_conf())
        self.assertEqual(m.type_name, "m-retrieve-conf")
        self.assertEqual(m.message_type, 132)
        self.assertEqual(m.version_string, "1.3")
        self.assertEqual(m.message_id, "M1")
        self.assertEqual(m.from_, "+4930123456")
        self.assertEqual(m.to, ("+4915112345678", "bob@example.org"))
        self.assertEqual(m.cc, ("+4930999",))
        self.assertEqual(m.subject, "Grüße")
        self.assertEqual(m.date, datetime.datetime(2026, 11, 22, 6, 0, tzinfo=datetime.timezone.utc))
        self.assertTrue(m.retrieve_ok)
        self.assertEqual(m.text, "Hello from Python ✓")
        self.assertEqual(m.content_type.media_type, "application/vnd.wap.multipart.related")
        self.assertTrue(any(h.name == "Message-ID" and h.value == "M1" for h in m.headers))

    def test_parts(self):
        m = mms.decode(retrieve_conf())
        kinds = [(p.media_type, p.is_smil, p.is_text, p.is_media) for p in m.parts]
        self.assertIn(("application/smil", True, False, False), kinds)
        (text,) = m.text_parts
        self.assertEqual(text.text, "Hello from Python ✓")
        self.assertEqual(text.charset.lower(), "utf-8")
        (photo,) = m.media_parts
        self.assertEqual(photo.media_type, "image/jpeg")
        self.assertEqual(bytes(photo.body), JPEG)
        self.assertEqual(bytes(photo), JPEG)
        import hashlib
        self.assertEqual(photo.sha256, hashlib.sha256(JPEG).hexdigest())
        self.assertNotIn("/", photo.filename)
        self.assertNotIn("..", photo.filename)
        self.assertTrue(photo.filename.endswith(".jpg"))
        self.assertIsNotNone(photo.content_id)

    def test_bodies_are_zero_copy_views_that_keep_the_input_alive(self):
        data = bytearray(retrieve_conf())
        m = mms.decode(data)
        (photo,) = m.media_parts
        self.assertIsInstance(photo.body, memoryview)
        self.assertTrue(photo.body.readonly)
        self.assertIs(photo.body.obj, data)
        start = data.find(JPEG)
        self.assertEqual(photo.body.tobytes(), bytes(data[start:start + len(JPEG)]))
        # the view exports the input: it cannot be resized under the message
        with self.assertRaises(BufferError):
            data.extend(b"x")
        del m, data
        gc.collect()
        self.assertEqual(photo.body.tobytes(), JPEG)  # the view keeps the buffer alive

    def test_copy_gives_bytes(self):
        m = mms.decode(retrieve_conf(), copy=True)
        self.assertTrue(all(isinstance(p.body, bytes) for p in m.parts))

    def test_headers_only(self):
        m = mms.decode(retrieve_conf(), headers_only=True)
        self.assertEqual(m.parts, ())
        self.assertEqual(m.subject, "Grüße")

    def test_malformed_has_offset(self):
        data = retrieve_conf()
        with self.assertRaises(MalformedPDU) as cm:
            mms.decode(data[:40])
        self.assertIsInstance(cm.exception.offset, int)
        with self.assertRaises(MalformedPDU) as cm:
            mms.decode(b"\x8c\x84\x98")
        self.assertEqual(cm.exception.offset, 3)

    def test_cut_pdu_refused_unless_salvaged(self):
        data = retrieve_conf()
        cut = data[:len(data) - 3]  # inside the last part
        with self.assertRaises(MalformedPDU):
            mms.decode(cut)
        m = mms.decode(cut, salvage=True)
        self.assertTrue(m.incomplete)
        self.assertIsNotNone(m.warning)
        self.assertGreater(m.warning_offset, 0)
        self.assertLess(len(m.parts), len(mms.decode(data).parts))
        whole = mms.decode(data, salvage=True)
        self.assertFalse(whole.incomplete)
        self.assertIsNone(whole.warning)
        # a notification whose Content-Location a router cut, in a push
        ni = mms.encode_notification("T1", "http://mmsc.example/m/1", from_="+15550100")
        push = mms.encode_wap_push(ni[:-1])
        with self.assertRaises(MalformedPDU):
            mms.decode_push(push)
        m, _ = mms.decode_push(push, salvage=True)
        self.assertTrue(m.incomplete)
        self.assertEqual(m.content_location, "http://mmsc.example/m/1")

    def test_not_a_buffer(self):
        with self.assertRaises(TypeError):
            mms.decode("text")


class TestVectors(unittest.TestCase):
    def test_ofono_retrieve_conf(self):
        m = mms.decode(vector("ofono-mmsd", "rc-mms-1-3-con-212.mms"))
        self.assertEqual(m.type_name, "m-retrieve-conf")
        self.assertEqual(m.from_, "+33622222222")
        self.assertEqual(m.to, ("+33666565565",))
        self.assertTrue(m.text.startswith("The quick brown fox"))
        self.assertIsNotNone(m.date.tzinfo)

    def test_python_messaging_media(self):
        m = mms.decode(vector("python-messaging", "BTMMS.MMS"))
        self.assertEqual(m.subject, "BT Ignite MMS")
        media = {p.media_type: p for p in m.media_parts}
        self.assertIn("image/gif", media)
        self.assertTrue(bytes(media["image/gif"].body).startswith(b"GIF8"))
        self.assertIn("audio/amr", media)
        self.assertTrue(bytes(media["audio/amr"].body).startswith(b"#!AMR"))

    def test_push_notification(self):
        m, push = mms.decode_push(vector("nuntium", "inline-from-push_decode_test", "TestDecodePlayPoland.bin"))
        self.assertEqual(m.type_name, "m-notification-ind")
        self.assertEqual(m.from_, "+48882040225")
        self.assertEqual(m.message_size, 240929)
        self.assertTrue(m.content_location.startswith("http://mmsc.play.pl/"))
        self.assertEqual(push.kind, "mms")
        self.assertEqual(push.app_id, 4)

    def test_not_a_push(self):
        with self.assertRaises(MalformedPDU) as cm:
            mms.decode_push(vector("nuntium", "inline-from-push_decode_test", "TestDecodeNonPushPDU.bin"))
        self.assertEqual(cm.exception.offset, 1)


class TestEncode(unittest.TestCase):
    def test_notification_in_a_push_round_trip(self):
        n = mms.encode_notification("tid-1", "http://mmsc/x1", from_="+4930123456", subject="hi",
                                    message_size=1234, expiry=3600)
        push = mms.encode_wap_push(n, tid=5)
        p = mms.decode_wap_push(push)
        self.assertEqual((p.tid, p.kind, p.content_type.media_type),
                         (5, "mms", "application/vnd.wap.mms-message"))
        self.assertEqual(bytes(p.body), n)
        m, _ = mms.decode_push(push)
        self.assertEqual((m.transaction_id, m.content_location, m.message_size), ("tid-1", "http://mmsc/x1", 1234))
        self.assertEqual(m.expiry, datetime.timedelta(hours=1))

    def test_notifyresp_ack_read_rec(self):
        r = mms.decode(mms.encode_notifyresp("tid-1", mms.STATUS_DEFERRED, report_allowed=False))
        self.assertEqual((r.type_name, r.transaction_id, r.status, r.report_allowed),
                         ("m-notifyresp-ind", "tid-1", mms.STATUS_DEFERRED, 129))
        a = mms.decode(mms.encode_ack("tid-2"))
        self.assertEqual((a.type_name, a.transaction_id, a.report_allowed), ("m-acknowledge-ind", "tid-2", 0))
        when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        rr = mms.decode(mms.encode_read_rec("MID", "+4930123456", date=when))
        self.assertEqual((rr.type_name, rr.message_id, rr.to, rr.date, rr.read_status),
                         ("m-read-rec-ind", "MID", ("+4930123456",), when, mms.READ_STATUS_READ))
        self.assertTrue(rr.from_insert_address)
        with self.assertRaises(ValueError):
            mms.encode_read_rec("MID", "+49", date=datetime.datetime(2026, 1, 1))

    def test_send_req_with_file_and_bytes(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "cat.png")
            with open(path, "wb") as f:
                f.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
            pdu = mms.encode_send_req("T9", "+4915112345678", "caption", [path, b"\x01\x02"],
                                      subject="s", delivery_report=True, priority=mms.PRIORITY_HIGH,
                                      expiry=datetime.timedelta(days=1))
        m = mms.decode(pdu)
        self.assertEqual((m.type_name, m.transaction_id, m.to, m.subject), ("m-send-req", "T9", ("+4915112345678",), "s"))
        self.assertEqual((m.delivery_report, m.priority), (128, mms.PRIORITY_HIGH))
        self.assertTrue(m.from_insert_address)
        self.assertEqual(m.text, "caption")
        types = {p.media_type: p for p in m.parts}
        self.assertEqual(types["image/png"].filename, "cat.png")
        self.assertTrue(bytes(types["image/png"].body).startswith(b"\x89PNG"))
        self.assertEqual(bytes(types["application/octet-stream"].body), b"\x01\x02")

    def test_send_req_needs_a_recipient(self):
        with self.assertRaises(InvalidArgument):
            mms.encode_send_req("T", [], "x")

    def test_helpers(self):
        self.assertEqual(mms.guess_content_type("photo.JPG"), "image/jpeg")
        self.assertNotIn("/", mms.safe_filename("../../etc/passwd"))
        self.assertEqual(mms.safe_filename("", "fallback.bin"), "fallback.bin")
        self.assertEqual(mms.token_name(0x19, 226), "Error-permanent-message-not-found")
        self.assertIsNone(mms.token_name(0x19, 7))


class TestExample(unittest.TestCase):
    def test_decode_mms_writes_the_media_parts(self):
        import subprocess
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                              "examples", "python", "decode_mms.py")
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "in.mms")
            with open(src, "wb") as f:
                f.write(retrieve_conf())
            out = os.path.join(d, "parts")
            r = subprocess.run([sys.executable, script, src, out], capture_output=True, text=True,
                               env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("subject: Grüße", r.stdout)
            self.assertIn("Hello from Python ✓", r.stdout)
            (name,) = os.listdir(out)
            self.assertTrue(name.endswith(".jpg"))
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(f.read(), JPEG)
            # a link planted under the part's name is not written through
            victim = os.path.join(d, "victim")
            with open(victim, "wb") as f:
                f.write(b"keep")
            os.unlink(os.path.join(out, name))
            os.symlink(victim, os.path.join(out, name))
            r = subprocess.run([sys.executable, script, src, out], capture_output=True, text=True,
                               env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
            self.assertEqual(r.returncode, 1)
            self.assertIn("not written through it", r.stderr)
            with open(victim, "rb") as f:
                self.assertEqual(f.read(), b"keep")
            self.assertEqual(sorted(os.listdir(out)), [name])  # no temporary file left
            bad = os.path.join(d, "bad.mms")
            with open(bad, "wb") as f:
                f.write(b"\x8c\x84\x98")
            r = subprocess.run([sys.executable, script, bad], capture_output=True, text=True,
                               env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
            self.assertEqual(r.returncode, 1)
            self.assertIn("not an MMS PDU", r.stderr)


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


class TestNoLeaks(unittest.TestCase):
    """Decoded objects own their C counterparts and free them."""

    def test_a_million_sms_and_mms_decodes_do_not_grow_memory(self):
        sms_pdus = [p.data for p in sms.encode_text("+4915112345678", "Grüße " * 40, smsc="")]
        mms_pdu = retrieve_conf()
        store = sms.MemoryPartStore()

        def round_(i):
            for p in sms_pdus:
                sms.decode(p)
            m = mms.decode(mms_pdu)
            m.media_parts[0].body.tobytes()
            if i % 10 == 0:  # the reassembler (with a Python store) and errors
                r = sms.Reassembler(store=store)
                for j, p in enumerate(sms_pdus):
                    r.add(p, j)
                try:
                    mms.decode(mms_pdu[:50])
                except MalformedPDU:
                    pass

        for i in range(1000):  # warm up allocator pools and caches
            round_(i)
        gc.collect()
        # the idiomatic layer under tracemalloc (which slows each call ~20x)
        tracemalloc.start()
        before_py = tracemalloc.get_traced_memory()[0]
        before_rss = rss_kib()
        n = 10000
        for i in range(n):
            round_(i)
        gc.collect()
        grown_py = tracemalloc.get_traced_memory()[0] - before_py
        tracemalloc.stop()
        # each round allocates several KiB: a leak of one object per round shows
        self.assertLess(grown_py, 64 * 1024, "Python objects leaked")
        # then a million decodes of each through the C layer, watched by the
        # allocator's block count and RSS (bench/python-leak.py times them)
        raw = int(os.environ.get("PB_LEAK_DECODES", "1000000"))
        gc.collect()
        before_blocks = sys.getallocatedblocks()
        for _ in range(raw):
            _phonebridge.sms_decode(sms_pdus[0])
        for _ in range(raw):
            _phonebridge.mms_decode(mms_pdu)
        gc.collect()
        grown_blocks = sys.getallocatedblocks() - before_blocks
        grown_rss = rss_kib() - before_rss
        # one leaked object (or 16 C bytes) per decode would be 1M blocks (16 MiB)
        self.assertLess(grown_blocks, 1000, "Python objects leaked")
        self.assertLess(grown_rss, 4 * 1024, "C memory leaked (RSS grew %d KiB)" % grown_rss)
        print(f"# {n * (len(sms_pdus) + 1)} package decodes: python +{grown_py} B; "
              f"{raw} SMS + {raw} MMS C-layer decodes: python +{grown_blocks} blocks; "
              f"rss +{grown_rss} KiB", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
