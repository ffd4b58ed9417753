"""phonebridge.sms: decode, encode, reassembly with a Python part store."""

import datetime
import os
import re
import unittest

from phonebridge import sms
from phonebridge.errors import InvalidArgument, MalformedPDU

TO = "+4915112345678"


def vectors_file(name):
    d = os.environ.get("PB_VECTORS_DIR", "")
    path = os.path.join(d, "sms", name)
    if not d or not os.path.exists(path):
        raise unittest.SkipTest("skipped: no shared vectors")
    return path


def ofono_pdu(label):
    """A PDU of the oFono unit test list in the shared vectors, by its label."""
    with open(vectors_file("ofono_unit_test-sms.txt"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^%s \([^)]*\):\s*([0-9A-Fa-f ]+)" % re.escape(label), line)
            if m:
                return m.group(1).replace(" ", "")
    raise AssertionError(f"{label} not in the vector file")


class TestDecodeVectors(unittest.TestCase):
    def test_simple_deliver(self):
        m = sms.decode(ofono_pdu("simple_deliver"))
        self.assertEqual(m.type, "deliver")
        self.assertEqual(m.smsc.number, "+31624000000")
        self.assertEqual(m.address.number, "+31641600986")
        self.assertTrue(m.address.international)
        self.assertEqual((m.address.ton, m.address.npi), (1, 1))
        self.assertEqual(m.pid, 0)
        self.assertEqual(m.dcs, 0)
        self.assertEqual(m.encoding, "gsm7")
        self.assertIsNone(m.message_class)
        self.assertEqual(m.text, "How are you?")
        self.assertIsNone(m.data)
        self.assertIsNone(m.udh)
        # 02-08-26 19:37:41, tz -4 quarters
        self.assertEqual(m.scts, datetime.datetime(2002, 8, 26, 19, 37, 41,
                                                   tzinfo=datetime.timezone(datetime.timedelta(hours=-1))))
        self.assertIsNotNone(m.scts.tzinfo)

    def test_bytes_and_hex_agree(self):
        h = ofono_pdu("alnum_sender")
        self.assertEqual(sms.decode(h), sms.decode(bytes.fromhex(h)))
        m = sms.decode(bytearray.fromhex(h))
        self.assertTrue(m.address.alphanumeric)
        self.assertEqual(m.address.number, "sipgate")
        self.assertEqual(m.text, "Testmail")

    def test_submit_with_empty_smsc(self):
        m = sms.decode(ofono_pdu("simple_submit"))
        self.assertEqual(m.type, "submit")
        self.assertIsNone(m.smsc)
        self.assertEqual(m.address.number, "+46708251358")
        self.assertEqual(m.text, "hellohello")
        self.assertIsInstance(m.validity, int)

    def test_status_report(self):
        m = sms.decode(ofono_pdu("sr_pdu1"), smsc=False)
        self.assertEqual(m.type, "status-report")
        self.assertEqual(m.mr, 4)
        self.assertEqual(m.address.number, "+4915259911630")
        self.assertEqual(m.status, 0)
        self.assertTrue(m.delivered)
        self.assertIsInstance(m.status_text, str)
        self.assertIsInstance(m.discharge, datetime.datetime)

    def test_concatenated_ucs2_reassembles(self):
        parts = [ofono_pdu(f"part{i}") for i in (1, 2, 3)]
        m = sms.decode(parts[0])
        self.assertEqual(m.encoding, "ucs2")
        self.assertEqual(m.concat, sms.ConcatInfo(ref=0x1E, total=3, seq=1, ref16=False))
        self.assertEqual(m.udh.ies[0][0], 0)
        r = sms.Reassembler()
        self.assertIsNone(r.add(parts[2], now=1))
        self.assertIsNone(r.add(parts[0], now=2))
        self.assertEqual(r.pending, 1)
        a = r.add(parts[1], now=3)
        self.assertTrue(a.complete)
        self.assertEqual(a.parts, (1, 2, 3))
        self.assertEqual(a.text, "".join(sms.decode(p).text for p in parts))
        self.assertEqual(r.pending, 0)


class TestDecodeErrors(unittest.TestCase):
    def test_truncated_pdu_has_offset(self):
        pdu = sms.encode_text(TO, "hello there", smsc="")[0].data
        with self.assertRaises(MalformedPDU) as cm:
            sms.decode(pdu[:-3])
        self.assertIsInstance(cm.exception.offset, int)
        self.assertLessEqual(cm.exception.offset, len(pdu))

    def test_bad_hex(self):
        with self.assertRaises(MalformedPDU) as cm:
            sms.decode("0791zz")
        self.assertEqual(cm.exception.offset, 4)

    def test_empty(self):
        with self.assertRaises(MalformedPDU):
            sms.decode(b"")


class TestEncode(unittest.TestCase):
    def test_single_gsm7(self):
        pdus = sms.encode_text(TO, "Hello world")
        self.assertEqual(len(pdus), 1)
        m = sms.decode(pdus[0].data, smsc=False)
        self.assertEqual(pdus[0].tpdu_len, len(pdus[0].data))
        self.assertEqual((m.type, m.address.number, m.text, m.encoding), ("submit", TO, "Hello world", "gsm7"))
        self.assertFalse(m.status_report)

    def test_options(self):
        pdus = sms.encode_text(TO, "flash", smsc="+31624000000", message_class=0, status_report=True,
                               validity=datetime.timedelta(hours=1))
        p = pdus[0]
        self.assertEqual(p.tpdu_len, len(p.data) - 1 - p.data[0])
        m = sms.decode(p.data)
        self.assertEqual(m.smsc.number, "+31624000000")
        self.assertEqual(m.message_class, 0)
        self.assertTrue(m.status_report)
        self.assertEqual(m.validity, 3600)
        self.assertEqual(p.hex, p.data.hex().upper())

    def test_modem_smsc(self):
        p = sms.encode_text(TO, "x", smsc="")[0]
        self.assertEqual(p.data[0], 0)
        self.assertIsNone(sms.decode(p.data).smsc)

    def test_ucs2_and_emoji(self):
        text = "Grüße 😀"
        pdus = sms.encode_text(TO, text)
        m = sms.decode(pdus[0].data, smsc=False)
        self.assertEqual(m.encoding, "ucs2")
        self.assertEqual(m.text, text)
        forced = sms.decode(sms.encode_text(TO, "plain", ucs2=True)[0].data, smsc=False)
        self.assertEqual((forced.encoding, forced.text), ("ucs2", "plain"))

    def test_national_tables(self):
        text = "Çok güzel ışık şimdi"
        plain = sms.text_info(text)
        turkish = sms.text_info(text, languages=[sms.LANG_TURKISH])
        self.assertEqual(plain.encoding, "ucs2")
        self.assertEqual(turkish.encoding, "gsm7")
        pdus = sms.encode_text(TO, text, languages=[sms.LANG_TURKISH])
        m = sms.decode(pdus[0].data, smsc=False)
        self.assertEqual(m.text, text)
        self.assertTrue(m.udh.lang_locking or m.udh.lang_single)
        with self.assertRaises(ValueError):
            sms.encode_text(TO, text, languages=[9])

    def test_long_text_splits_and_reassembles(self):
        text = "The quick brown fox jumps over the lazy dog. " * 10
        plan = sms.text_info(text)
        pdus = sms.encode_text(TO, text, reference=42)
        self.assertEqual(len(pdus), plan.parts)
        self.assertGreater(len(pdus), 1)
        seen = [sms.decode(p.data, smsc=False).concat for p in pdus]
        self.assertEqual([c.seq for c in seen], list(range(1, len(pdus) + 1)))
        self.assertTrue(all(c.ref == 42 and c.total == len(pdus) for c in seen))
        r = sms.Reassembler()
        out = [r.add(p.data, now=i, smsc=False) for i, p in enumerate(reversed(pdus))]
        self.assertTrue(all(o is None for o in out[:-1]))
        self.assertEqual(out[-1].text, text)
        self.assertEqual(out[-1].address.number, TO)

    def test_binary_with_ports(self):
        data = bytes(range(200))
        pdus = sms.encode_binary(TO, data, 2948, 9200)
        self.assertEqual(len(pdus), 2)
        m = sms.decode(pdus[0].data, smsc=False)
        self.assertEqual(m.encoding, "8bit")
        self.assertEqual((m.ports.dst, m.ports.src), (2948, 9200))
        self.assertTrue(m.wap_push)
        r = sms.Reassembler()
        r.add(pdus[0].data, 0, smsc=False)
        self.assertEqual(r.add(pdus[1].data, 0, smsc=False).data, data)

    def test_bad_options(self):
        with self.assertRaises(TypeError):
            sms.encode_text(TO, "x", colour="red")
        with self.assertRaises(ValueError):
            sms.encode_text(TO, "x", message_class=7)
        with self.assertRaises(InvalidArgument):
            sms.encode_text("not a number!", "x")

    def test_messages_are_immutable(self):
        m = sms.decode(sms.encode_text(TO, "x")[0].data, smsc=False)
        with self.assertRaises(AttributeError):
            m.text = "y"


class FailingStore(sms.MemoryPartStore):
    def save(self, *args):
        raise OSError("disk full")


class TestReassemblerStore(unittest.TestCase):
    def setUp(self):
        self.pdus = sms.encode_text(TO, "part " * 60, reference=7)
        self.assertEqual(len(self.pdus), 2)

    def test_parts_survive_a_restart(self):
        store = sms.MemoryPartStore()
        r = sms.Reassembler(timeout=100, store=store)
        self.assertIsNone(r.add(self.pdus[0].data, now=10, smsc=False))
        self.assertEqual(len(store.parts), 1)
        (key, seq), (pdu, flags, received) = next(iter(store.parts.items()))
        self.assertEqual(key, (TO, 7, 2, -1, -1))
        self.assertEqual((seq, pdu, flags, received), (1, self.pdus[0].data, 0, 10))
        del r
        r2 = sms.Reassembler(timeout=100, store=store)
        r2.restore()
        self.assertEqual(r2.pending, 1)
        a = r2.add(self.pdus[1].data, now=20, smsc=False)
        self.assertTrue(a.complete)
        self.assertEqual(a.text, "part " * 60)
        self.assertEqual(store.parts, {})

    def test_expire_surfaces_incomplete(self):
        store = sms.MemoryPartStore()
        r = sms.Reassembler(timeout=100, store=store)
        r.add(self.pdus[1].data, now=10, smsc=False)
        self.assertEqual(r.expire(50), [])
        (a,) = r.expire(200)
        self.assertFalse(a.complete)
        self.assertEqual(a.parts, (2,))
        self.assertEqual(a.missing, (1,))
        self.assertEqual(a.first_received, 10)
        self.assertEqual(store.parts, {})
        self.assertEqual(r.pending, 0)

    def test_flush(self):
        r = sms.Reassembler()
        r.add(self.pdus[0].data, 1, smsc=False)
        (a,) = r.flush()
        self.assertFalse(a.complete)
        self.assertEqual(len(r), 0)

    def test_store_exception_propagates(self):
        r = sms.Reassembler(store=FailingStore())
        with self.assertRaisesRegex(OSError, "disk full"):
            r.add(self.pdus[0].data, 1, smsc=False)

    def test_bad_load_rows(self):
        class Bad(sms.MemoryPartStore):
            def load(self):
                return [("not a key", 1, b"", 0, 0)]
        r = sms.Reassembler(store=Bad())
        with self.assertRaises(TypeError):
            r.restore()

    def test_store_cannot_reenter(self):
        pdus = self.pdus

        class Reentrant(sms.MemoryPartStore):
            def save(self, *args):
                r.add(pdus[1].data, 2, smsc=False)

        r = sms.Reassembler(store=Reentrant())
        with self.assertRaisesRegex(RuntimeError, "busy"):
            r.add(pdus[0].data, 1, smsc=False)
        self.assertEqual(r.expire(0), [])

    def test_malformed_part(self):
        r = sms.Reassembler()
        with self.assertRaises(MalformedPDU) as cm:
            r.add(b"\x00\x01", 0)
        self.assertIsNotNone(cm.exception.offset)


if __name__ == "__main__":
    unittest.main()
