"""phonebridge.store and phonebridge.phone."""

import os
import shutil
import tempfile
import threading
import unittest

from phonebridge import phone, sms, store
from phonebridge.errors import (MalformedPDU, NotFoundError, PhoneBridgeError, StateError, TransportError,
                               UnsupportedError)
from phonebridge.store import (ALLOW, DELIVERED, DENY, INBOUND, OUTBOUND, QUEUED, SENDING, STORED,
                               UNKNOWN, SmsPartStore, Store)


class StoreCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pb-py-store-")
        self.path = os.path.join(self.dir, "state.db")
        self.st = Store(self.path, synchronous=store.SYNC_NORMAL)

    def tearDown(self):
        self.st.close()
        shutil.rmtree(self.dir)


class TestOpen(StoreCase):
    def test_context_manager_closes(self):
        with Store(os.path.join(self.dir, "b.db")) as st:
            self.assertEqual(st.schema_version, store.SCHEMA_VERSION)
            st.check()
            self.assertFalse(st.closed)
        self.assertTrue(st.closed)
        with self.assertRaises(ValueError):
            st.kv["x"] = "y"
        st.close()  # idempotent

    def test_backup_copies_rows_and_attachments(self):
        mid, _ = self.st.journal.insert(INBOUND, STORED, peer="+4930123456", body="hello", dedup_key="k1")
        h = self.st.attachments.add(mid, b"picture bytes", "image/jpeg", "p.jpg")
        dest = os.path.join(self.dir, "copy.db")
        self.assertEqual(self.st.backup(dest), 1)
        with Store(dest) as c:
            self.assertEqual(c.journal.get(mid).body, "hello")
            self.assertEqual(c.attachments.read(h), b"picture bytes")
        from phonebridge.errors import ExistsError
        with self.assertRaises(ExistsError):
            self.st.backup(dest)

    def test_unopenable_path(self):
        with self.assertRaises(TransportError):
            Store(os.path.join(self.dir, "missing", "dir", "x.db"))

    def test_pathlike(self):
        import pathlib
        with Store(pathlib.Path(self.dir) / "p.db") as st:
            st.kv["a"] = "b"


class TestJournal(StoreCase):
    def test_insert_dedup_transition(self):
        j = self.st.journal
        i, new = j.insert(INBOUND, STORED, dedup_key="modem:1", backend="at", peer="+4930123456", body="hi",
                          sent_at=1234)
        self.assertTrue(new)
        self.assertEqual(j.insert(INBOUND, STORED, dedup_key="modem:1"), (i, False))
        row = j.get(i)
        self.assertEqual((row.peer, row.body, row.backend, row.sent_at, row.state_name),
                         ("+4930123456", "hi", "at", 1234, "stored"))
        j.transition(i, DELIVERED, ref="$event")
        self.assertEqual(j.find(INBOUND, "modem:1").ref, "$event")
        self.assertIsNone(j.find(INBOUND, "nope"))
        with self.assertRaises(StateError):
            j.transition(i, SENDING)
        with self.assertRaises(NotFoundError):
            j.get(999)
        self.assertEqual(j.count(INBOUND, DELIVERED), 1)

    def test_release_key(self):
        j = self.st.journal
        i, _ = j.insert(INBOUND, STORED, dedup_key="at:1@t", body="same")
        self.assertEqual(j.insert(INBOUND, STORED, dedup_key="at:1@t"), (i, False))
        j.release_key(i)
        j.release_key(i)
        i2, new = j.insert(INBOUND, STORED, dedup_key="at:1@t", body="same")
        self.assertTrue(new)
        self.assertNotEqual(i2, i)
        self.assertEqual(j.find(INBOUND, "at:1@t").id, i2)
        with self.assertRaises(NotFoundError):
            j.release_key(999)

    def test_outbound_recover(self):
        j = self.st.journal
        ids = [j.insert(OUTBOUND, QUEUED, event_id=f"$e{n}", body=str(n))[0] for n in range(3)]
        self.assertEqual([r.id for r in j.in_state(OUTBOUND, QUEUED)], ids)
        self.assertEqual([r.id for r in j.in_state(OUTBOUND, QUEUED, after_id=ids[0], limit=1)], [ids[1]])
        j.transition(ids[0], SENDING)
        self.assertEqual(j.recover(), 1)
        self.assertEqual(j.get(ids[0]).state, UNKNOWN)

    def test_transaction_rolls_back(self):
        with self.assertRaises(KeyError):
            with self.st.transaction():
                self.st.journal.insert(INBOUND, STORED, dedup_key="t1")
                raise KeyError("boom")
        self.assertIsNone(self.st.journal.find(INBOUND, "t1"))
        with self.st.transaction():
            self.st.journal.insert(INBOUND, STORED, dedup_key="t2")
        self.assertIsNotNone(self.st.journal.find(INBOUND, "t2"))


class TestAttachments(StoreCase):
    def test_add_list_read(self):
        i, _ = self.st.journal.insert(INBOUND, STORED, body="photo")
        data = b"\xff\xd8" + os.urandom(1000)
        sha = self.st.attachments.add(i, memoryview(data), "image/jpeg", "cat.jpg")
        self.assertEqual(len(sha), 64)
        (a,) = self.st.attachments.list(i)
        self.assertEqual((a.sha256, a.size, a.content_type, a.name, a.seq), (sha, len(data), "image/jpeg", "cat.jpg", 0))
        self.assertEqual(self.st.attachments.read(sha), data)
        with open(self.st.attachments.path(sha), "rb") as f:
            self.assertEqual(f.read(), data)
        with self.assertRaises(ValueError):
            self.st.attachments.read("not-a-hash")


class TestKvContactsGroups(StoreCase):
    def test_kv_mapping(self):
        kv = self.st.kv
        self.assertNotIn("since", kv)
        kv["since"] = "s1"
        self.assertEqual(kv["since"], "s1")
        self.assertEqual(kv.get("nope", "d"), "d")
        del kv["since"]
        with self.assertRaises(KeyError):
            kv["since"]
        with self.assertRaises(KeyError):
            del kv["since"]

    def test_contacts_and_groups(self):
        c = self.st.contacts
        c.set("+4930123456", "Alice", "!a:x")
        self.assertEqual(c.get("+4930123456").display_name, "Alice")
        self.assertEqual(c.by_room("!a:x").number, "+4930123456")
        self.assertIsNone(c.get("+1"))
        c.delete("+4930123456")
        self.assertIsNone(c.get("+4930123456"))
        c.set_group(["+3", "+1", "+2"], "!g:x")
        self.assertEqual(c.group(["+2", "+3", "+1"]), store.Group("!g:x", ("+1", "+2", "+3")))
        self.assertEqual(c.group_by_room("!g:x").numbers, ("+1", "+2", "+3"))
        self.assertIsNone(c.group(["+1"]))


class TestScreening(StoreCase):
    def test_lists_attempts_calls(self):
        L = self.st.lists
        L.add(ALLOW, "+4930123456", store.SRC_CHALLENGE, expires_at=10_000)
        e = L.lookup(ALLOW, "+4930123456", now=5_000)
        self.assertEqual((e.source_name, e.expires_at), ("challenge", 10_000))
        self.assertIsNone(L.lookup(ALLOW, "+4930123456", now=20_000))
        self.assertIsNone(L.lookup(DENY, "+4930123456"))
        L.add(DENY, "+1900555")
        L.remove(DENY, "+1900555")
        self.assertIsNone(L.lookup(DENY, "+1900555"))
        for t in (100, 200, 300):
            L.record_attempt("+1900555", at=t, failed=(t != 200))
        self.assertEqual(L.attempts("+1900555", since=150), 2)
        self.assertEqual(L.attempts("+1900555", since=0, failed_only=True), 2)
        c = self.st.calls
        first = c.log("+4930123456", at=1000, attestation="A", verdict="accept", duration_ms=5000)
        second = c.log("+1900555", at=2000, verdict="reject", challenge="dtmf:failed")
        calls = c.recent()
        self.assertEqual([x.id for x in calls], [second, first])
        self.assertEqual((calls[1].attestation, calls[1].duration_ms), ("A", 5000))
        self.assertEqual(len(c.recent(1)), 1)

    def test_numbers_have_settings_of_their_own(self):
        N = self.st.numbers
        self.assertIsNone(N.get("+15550100001"))
        N.set("+15550100001", policy="challenge=arithmetic", forward_target="sip:sales@pbx",
              voicemail="sip:vm@pbx")
        N.set("+15550100000", forward_target="sip:desk@pbx")
        n = N.get("+15550100001")
        self.assertEqual((n.policy, n.forward_target, n.voicemail),
                         ("challenge=arithmetic", "sip:sales@pbx", "sip:vm@pbx"))
        self.assertEqual([x.number for x in N], ["+15550100000", "+15550100001"])
        self.assertIsNone(next(iter(N)).policy)
        N.remove("+15550100000")
        with self.assertRaises(NotFoundError):
            N.remove("+15550100000")
        self.assertEqual(len(list(N)), 1)

    def test_a_postgresql_url_without_a_server_says_why(self):
        with self.assertRaises(PhoneBridgeError) as cm:
            Store("postgresql://pb@/x?host=%s&connect_timeout=2" % self.dir,
                  password_file=os.path.join(self.dir, "no-such-file"))
        self.assertIn("no-such-file", str(cm.exception))


class TestSmsParts(StoreCase):
    def test_reassembler_survives_restart_in_the_store(self):
        pdus = [p.data for p in sms.encode_text("+4915112345678", "restart " * 30, smsc="", reference=9)]
        self.assertEqual(len(pdus), 2)
        r = sms.Reassembler(store=SmsPartStore(self.st))
        self.assertIsNone(r.add(pdus[0], now=1000))
        (part,) = list(self.st.sms_parts)
        self.assertEqual((part.originator, part.reference, part.total, part.seq, part.pdu),
                         ("+4915112345678", 9, 2, 1, pdus[0]))
        self.st.close()
        with Store(self.path) as st2:
            r2 = sms.Reassembler(store=SmsPartStore(st2))
            r2.restore()
            self.assertEqual(r2.pending, 1)
            a = r2.add(pdus[1], now=2000)
            self.assertEqual(a.text, "restart " * 30)
            self.assertEqual(list(st2.sms_parts), [])

    def test_flags_must_match(self):
        pdus = [p.data for p in sms.encode_text("+4915112345678", "x" * 300)]
        r = sms.Reassembler(store=SmsPartStore(self.st))
        with self.assertRaises(ValueError):
            r.add(pdus[0], now=1, smsc=False)


class TestThreads(StoreCase):
    def test_threads_share_a_handle(self):
        errors = []

        def work(n):
            try:
                for k in range(50):
                    self.st.kv[f"t{n}.{k}"] = str(k)
                    self.assertEqual(self.st.kv[f"t{n}.{k}"], str(k))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(self.st.kv["t3.49"], "49")


class TestGilReleased(StoreCase):
    def test_a_writer_waiting_for_the_lock_lets_python_run(self):
        # The main thread holds the write lock; a second handle's write waits
        # in SQLite's busy handler. Were the GIL held there, the main thread
        # could not commit and the writer would fail with BusyError when its
        # timeout ran out.
        other = Store(self.path, busy_timeout_ms=60000)
        started, result = threading.Event(), []

        def writer():
            started.set()
            try:
                other.kv["waiter"] = "thread"
                result.append("ok")
            except Exception as e:  # reported below
                result.append(e)

        t = threading.Thread(target=writer)
        with self.st.transaction():
            self.st.kv["holder"] = "main"
            t.start()
            self.assertTrue(started.wait(60))
        t.join(120)
        other.close()
        self.assertEqual(result, ["ok"])
        self.assertEqual(self.st.kv["waiter"], "thread")


class TestPhone(unittest.TestCase):
    def test_normalize(self):
        self.assertEqual(phone.normalize("0044 (0)20-7946-0958", "DE"), ("+442079460958", phone.E164))
        self.assertEqual(phone.normalize("030 1234567", "DE"), ("+49301234567", phone.E164))
        self.assertEqual(phone.normalize("(202) 555-0123", "US"), ("+12025550123", phone.E164))
        self.assertEqual(phone.normalize("Vodafone"), ("Vodafone", phone.ALPHANUMERIC))
        self.assertEqual(phone.normalize("22222", "DE"), ("22222", phone.SHORT))

    def test_errors(self):
        with self.assertRaises(MalformedPDU):
            phone.normalize("")
        with self.assertRaises(UnsupportedError):
            phone.normalize("030 1234567", "XX")
        with self.assertRaises(UnsupportedError):
            phone.country_code("XX")
        self.assertEqual(phone.country_code("de"), 49)


if __name__ == "__main__":
    unittest.main()
