#!/usr/bin/python3
# libphonebridge tests — pb-bridged in end-to-end encrypted rooms (issue 24),
# against the real Synapse (../shared/peers/synapse/start-synapse) with a real
# E2EE client as the owner: matrix-nio with python3-olm (Debian packages).
#
#  1. an inbound SMS makes an encrypted contact room ([matrix] encryption =
#     default); the owner's nio device decrypts the message;
#  2. the owner's encrypted text leaves the AT modem emulator as that SMS;
#  3. the owner's encrypted picture (an encrypted attachment) leaves as an MMS
#     with the same bytes (tests/mmsc-server.py records it);
#  3b. an inbound picture message (WAP push, MMSC) reaches the owner as an
#     encrypted attachment that nio decrypts to the same bytes;
#  4. a second owner device, logged in later, reads the next inbound SMS;
#  4b. a message whose key never reaches the bridge gets a notice, not silence;
#  5. the daemon is SIGKILLed after the room key of an owner message was
#     stored and before the message was handled: after a restart it leaves
#     the modem exactly once;
#  5b. a message whose key comes late leaves when it comes;
#     encryption = allow: a new room is plain; the owner turns encryption on
#     in it and both directions go on encrypted;
#  5c. encryption = require: an unencrypted owner message gets a notice;
#  6. the Olm/Megolm state is in the store, pickled (no key material in
#     clear), and a wrong pickle key stops the daemon with a clear message;
#  7. Python: a phonebridge.matrix.Client with enable_encryption() writes to
#     and reads from an encrypted room shared with the nio owner.
#
# A body for tests/synapse.py (one real Synapse for the suite run): it reads
# PB_TEST_HOMESERVER and PB_TEST_USER_SUFFIX N, and is the bot alice N, the
# owner bob N and the Python client eve N. Skipped, saying so, without them
# or without nio.
# SPDX-License-Identifier: LGPL-2.1-or-later
import asyncio
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge_env import (ROOT, AtModem, Daemon, Mmsc, Tap, login, request, secret_file,  # noqa: E402
                        stop, wait_for)
from bridge_pdu import deliver7, submit_text, wap_push_parts  # noqa: E402

DAEMON = sys.argv[1]
PYPATH = sys.argv[2] if len(sys.argv) > 2 else ""  # the phonebridge package in the build tree
PB_MMS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(DAEMON))), "pb-mms")
HS = os.environ.get("PB_TEST_HOMESERVER", "")
SUFFIX = os.environ.get("PB_TEST_USER_SUFFIX", "")
BOT_USER, OWNER_USER, PY_USER = "alice" + SUFFIX, "bob" + SUFFIX, "eve" + SUFFIX
OWNER = "@%s:localhost" % OWNER_USER
# numbers new to the bot's account on each run (a reused Synapse keeps its rooms)
RUN = "%x" % int(time.time() * 1000)  # in the bodies the owner looks for, for the same reason
PEER, PEER2 = ("+49151%08d" % (int(time.time() * 1000 + k) % 10**8) for k in (0, 1))
t = Tap()

try:
    import nio  # noqa: E402
except ImportError:
    print("1..0 # SKIP python3-matrix-nio is not installed")
    sys.exit(0)
if not HS or not SUFFIX:
    print("1..0 # SKIP no PB_TEST_HOMESERVER: run me through tests/synapse.py")
    sys.exit(0)


class Owner:
    """An owner device: a nio client with its own Olm store, synced by hand
    (one round at a time) so the test decides when it looks."""

    def __init__(self, hs, tmp, name):
        self.store = os.path.join(tmp, name)
        os.mkdir(self.store)
        cfg = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
        self.c = nio.AsyncClient(hs, OWNER, store_path=self.store, config=cfg)
        self.texts = []    # (room, body, decrypted) of m.text/m.notice from the bot
        self.undecrypted = []
        self.c.add_event_callback(self._on_text, (nio.RoomMessageText, nio.RoomMessageNotice))
        self.c.add_event_callback(self._on_megolm, nio.MegolmEvent)
        self.images = []
        self.c.add_event_callback(self._on_image, (nio.RoomEncryptedImage, nio.RoomMessageImage))

    async def _on_text(self, room, ev):
        self.texts.append((room.room_id, ev.body, getattr(ev, "decrypted", False), ev.sender))

    async def _on_image(self, room, ev):
        if ev.sender != OWNER and getattr(ev, "body", "") != "view.png":
            self.images.append(ev)

    async def _on_megolm(self, room, ev):
        self.undecrypted.append((room.room_id, ev.session_id))

    async def login(self, device):
        r = await self.c.login("builder", device_name=device)
        assert isinstance(r, nio.LoginResponse), r

    async def round(self, timeout=500):
        r = await self.c.sync(timeout=timeout, full_state=False)
        if not isinstance(r, nio.SyncResponse):
            return
        for rid in list(self.c.invited_rooms):
            await self.c.join(rid)
        if self.c.should_upload_keys:
            await self.c.keys_upload()
        if self.c.should_query_keys:
            await self.c.keys_query()
        if self.c.should_claim_keys:
            await self.c.keys_claim(self.c.get_users_for_key_claiming())
        await self.c.send_to_device_messages()

    async def until(self, pred, what, timeout=90):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = pred()
            if v:
                return v
            await self.round()
        print("# timed out waiting for " + what, flush=True)
        return None

    async def send(self, rid, content):
        r = await self.c.room_send(rid, "m.room.message", content, ignore_unverified_devices=True)
        return getattr(r, "event_id", None)


def sends():
    """The M-Send.req the MMSC got: (decoded by pb-mms, [bytes of each part])."""
    out = []
    for i, r in enumerate(mms.requests()):
        if r["method"] != "POST" or not r["body_file"]:
            continue
        with open(r["body_file"], "rb") as f:
            if f.read(2) != b"\x8c\x80":
                continue
        parts = os.path.join(tmp, "parts%d" % i)
        shutil.rmtree(parts, ignore_errors=True)
        os.mkdir(parts)
        d = subprocess.run([PB_MMS, "decode", r["body_file"], "--parts-dir", parts], capture_output=True,
                           text=True)
        files = []
        for n in sorted(os.listdir(parts)):
            with open(os.path.join(parts, n), "rb") as f:
                files.append(f.read())
        out.append((d.stdout if d.returncode == 0 else "undecodable: " + d.stderr, files))
    return out


def sms_to(peer):
    return [txt for num, txt in (submit_text(h) for h in modem.sent()) if num == peer]


def png(seed):
    import struct
    import zlib

    def chunk(c, d):
        return struct.pack(">I", len(d)) + c + d + struct.pack(">I", zlib.crc32(c + d) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + bytes((x * 7 + y * 3 + seed) & 0xFF for x in range(24)) for y in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def contact_room(owner, body):
    for rid, b, dec, _ in owner.texts:
        if b == body:
            return rid, dec
    return None


async def main():
    global mms, modem
    owner = Owner(HS, tmp, "owner1")
    await owner.login("OWNER1")
    await owner.round(0)

    pickle = secret_file(os.path.join(tmp, "e2ee.key"), "k" * 32 + "\n")
    bot_token = login(HS, BOT_USER, "wonderland")
    token_file = secret_file(os.path.join(tmp, "matrix.token"), bot_token)
    store = os.path.join(tmp, "bridge.db")
    config = os.path.join(tmp, "bridge.ini")
    mms = Mmsc(tmp)
    modem = AtModem(tmp, "modem")

    def write_config(mode, undecryptable_ms=3000):
        with open(config, "w") as f:
            f.write("[modem]\n%s\nown_number = 0151 00000001\nimport_existing = yes\n[matrix]\nhomeserver = %s\ntoken_file = %s\n"
                    "owners = %s\nsync_timeout_ms = 1000\nretry_max_ms = 1000\n"
                    "encryption = %s\npickle_key_file = %s\nundecryptable_timeout_ms = %d\n"
                    "[mmsc]\nurl = %s/mms\nmax_size = 100K\n"
                    "[bridge]\nstore = %s\nregion = DE\nstore_sync = normal\n"
                    % (modem.config(), HS, token_file, OWNER, mode, pickle, undecryptable_ms, mms.url, store))
    write_config("default")
    bridged = Daemon(DAEMON, tmp, config)
    try:
        bridged.start()
        t.ok(wait_for(lambda: bridged.log_has("encryption on: device"), "the Olm device", 60),
             "the bridge made its Olm device and uploaded its keys")
        # 1. inbound SMS -> encrypted contact room -> the owner's device decrypts it
        modem.ctl("deliver " + deliver7(PEER, "Hello encrypted world " + RUN, 1))
        got = await owner.until(lambda: contact_room(owner, "Hello encrypted world " + RUN), "the first SMS")
        t.ok(got is not None, "the owner's nio device reads the inbound SMS")
        rid = got[0] if got else None
        t.ok(got is not None and got[1], "... and it arrived encrypted (nio decrypted it)")
        enc = None
        if rid:
            st = await owner.c.room_get_state_event(rid, "m.room.encryption")
            enc = getattr(st, "content", {}).get("algorithm")
        t.ok(enc == "m.megolm.v1.aes-sha2", "the contact room is encrypted (encryption = default)")
        if not rid:
            return

        # 2. the owner's encrypted text -> SMS
        ev = await owner.send(rid, {"msgtype": "m.text", "body": "Secret reply"})
        t.ok(ev is not None, "nio sent an encrypted text")
        t.ok(wait_for(lambda: "Secret reply" in sms_to(PEER), "the SMS on the modem", 90),
             "the owner's encrypted text left the modem as an SMS")

        # 3. the owner's encrypted picture -> MMS with the same bytes
        pic = png(5)
        up, keys = await owner.c.upload(io.BytesIO(pic), content_type="image/png", filename="view.png",
                                        encrypt=True, filesize=len(pic))
        content = {"msgtype": "m.image", "body": "view.png",
                   "info": {"mimetype": "image/png", "size": len(pic)},
                   "file": {"url": up.content_uri, "key": keys["key"], "iv": keys["iv"],
                            "hashes": keys["hashes"], "v": keys["v"]}}
        t.ok(await owner.send(rid, content) is not None, "nio sent an encrypted picture")
        mm = wait_for(lambda: [m for m in sends() if pic in m[1]], "the M-Send.req with the picture", 90)
        t.ok(mm and PEER.lstrip("+") in mm[0][0], "the owner's encrypted picture left as an MMS to the contact")
        t.ok(mm is not None, "... carrying the decrypted picture, byte for byte")
        if not mm:
            print("# sends: %s" % [m[0][:500] for m in sends()])

        # 3b. an inbound picture message reaches the owner as an encrypted attachment
        parts_dir = os.path.join(tmp, "sample-parts")
        os.mkdir(parts_dir)
        subprocess.run([PB_MMS, "decode", os.path.join(ROOT, "data/samples/picture-message.mms"), "--parts-dir",
                        parts_dir], capture_output=True, check=True)
        images = []
        for n in os.listdir(parts_dir):
            with open(os.path.join(parts_dir, n), "rb") as f:
                images.append(f.read())
        push = mms.push(PB_MMS, "T-e2ee-1", PEER)
        for p in wap_push_parts(PEER, push, 0x42, 5):
            modem.ctl("deliver " + p)
        img = await owner.until(lambda: owner.images, "the picture at the owner")
        t.ok(img and isinstance(img[0], nio.RoomEncryptedImage),
             "an inbound MMS picture reaches the owner as an encrypted attachment (file, not url)")
        if img and isinstance(img[0], nio.RoomEncryptedImage):
            dl = await owner.c.download(img[0].url)
            plain = nio.crypto.attachments.decrypt_attachment(dl.body, img[0].key["k"], img[0].hashes["sha256"],
                                                              img[0].iv)
            t.ok(plain in images, "... which nio downloads and decrypts to the picture, byte for byte")

        # 4. a second owner device joins later and reads new messages
        owner2 = Owner(HS, tmp, "owner2")
        await owner2.login("OWNER2")
        await owner2.round(0)
        await owner2.round(0)
        modem.ctl("deliver " + deliver7(PEER, "For both devices " + RUN, 2))
        got2 = await owner2.until(lambda: contact_room(owner2, "For both devices " + RUN), "the SMS on device 2")
        t.ok(got2 is not None and got2[1], "a second owner device, logged in later, decrypts a new SMS")
        got1 = await owner.until(lambda: contact_room(owner, "For both devices " + RUN), "the SMS on device 1")
        t.ok(got1 is not None, "... and the first device still reads it")

        # 4b. a message whose room key never reaches the bridge: a notice, not silence
        import olm
        lost = olm.OutboundGroupSession()
        body = {"type": "m.room.message", "room_id": rid, "content": {"msgtype": "m.text", "body": "Lost key"}}
        enc = {"algorithm": "m.megolm.v1.aes-sha2", "sender_key": owner.c.olm.account.identity_keys["curve25519"],
               "device_id": "OWNER1", "session_id": lost.id, "ciphertext": lost.encrypt(json.dumps(body))}
        request("PUT", HS + "/_matrix/client/v3/rooms/%s/send/m.room.encrypted/lost1" % rid, enc,
                owner.c.access_token)
        note = await owner.until(lambda: [b for r, b, _, snd in owner.texts if r == rid and "could not decrypt" in b
                                          and snd != OWNER], "the undecryptable notice")
        t.ok(note is not None, "an undecryptable message gets a notice after undecryptable_timeout_ms")
        t.ok(bridged.log_has("cannot be decrypted yet") and "Lost key" not in sms_to(PEER),
             "... after waiting for its key, and nothing left the modem")

        # 5. SIGKILL after the room key was stored, before the event was handled
        bridged.kill()
        flag = os.path.join(tmp, "killed")
        os.environ["PBB_TEST_KILL_BEFORE_DECRYPTED"] = flag
        bridged.start()
        await owner.c.room_send(rid, "m.room.message", {"msgtype": "m.text", "body": "warm-up"},
                                ignore_unverified_devices=True)
        # a new room session: its key travels while the daemon runs
        owner.c.olm.outbound_group_sessions.pop(rid, None)
        await owner.send(rid, {"msgtype": "m.text", "body": "Exactly once please"})
        t.ok(wait_for(lambda: os.path.exists(flag) and not bridged.running(), "the test kill", 90),
             "the daemon was killed after the room key arrived, before the message was handled")
        del os.environ["PBB_TEST_KILL_BEFORE_DECRYPTED"]
        bridged.start()
        t.ok(wait_for(lambda: "Exactly once please" in sms_to(PEER), "the SMS after the restart", 90),
             "after the restart the message left the modem")
        # a later message has left too: the one before it cannot still be on its way
        await owner.send(rid, {"msgtype": "m.text", "body": "And the next one"})
        wait_for(lambda: "And the next one" in sms_to(PEER), "the next SMS", 90)
        t.ok(sms_to(PEER).count("Exactly once please") == 1, "... exactly once")

        # 5b. encryption = allow: a new room is unencrypted; the owner turns
        # encryption on in it and both directions go on, encrypted
        bridged.kill()
        write_config("allow", 600000)
        bridged.start()
        # a message whose room key comes late: kept, then handled when the key comes
        # (a delayed m.room_key: the session as it was before the message is
        # kept, and its key at index 0 shared only after the bridge saw the message)
        owner.c.olm.create_outbound_group_session(rid)
        s0 = owner.c.olm.outbound_group_sessions[rid]
        before = s0.pickle("late")
        s0.shared = True  # nio: do not share it yet
        late = await owner.send(rid, {"msgtype": "m.text", "body": "Key comes later"})
        t.ok(wait_for(lambda: bridged.log_has(late, "cannot be decrypted yet"), "the bridge to wait", 90),
             "a message without its room key is kept, waiting for the key")
        delayed = type(s0).from_pickle(before, "late")
        # from_pickle skips nio's __init__: its fields by hand
        delayed.max_age, delayed.max_messages, delayed.creation_time = s0.max_age, 100, s0.creation_time
        delayed.message_count, delayed.users_shared_with, delayed.users_ignored = 0, set(), set()
        delayed.shared = False
        owner.c.olm.outbound_group_sessions[rid] = delayed
        await owner.c.share_group_session(rid, ignore_unverified_devices=True)
        owner.c.olm.outbound_group_sessions.pop(rid, None)  # never encrypt with index 0 again
        t.ok(wait_for(lambda: "Key comes later" in sms_to(PEER), "the late-key SMS", 90),
             "... and leaves as SMS once the key comes")
        modem.ctl("deliver " + deliver7(PEER2, "Plain hello " + RUN, 3))
        got = await owner.until(lambda: contact_room(owner, "Plain hello " + RUN), "the SMS in a plain room")
        t.ok(got is not None and not got[1], "encryption = allow: a new contact room is not encrypted")
        rid2 = got[0] if got else None
        if rid2:
            await owner.c.room_put_state(rid2, "m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"})
            await owner.round()
            await owner.send(rid2, {"msgtype": "m.text", "body": "Now encrypted"})
            t.ok(wait_for(lambda: "Now encrypted" in sms_to(PEER2), "the SMS from the newly encrypted room", 90),
                 "the owner turned encryption on in an existing room: the encrypted reply left as SMS")
            modem.ctl("deliver " + deliver7(PEER2, "Encrypted now too " + RUN, 4))
            got = await owner.until(lambda: contact_room(owner, "Encrypted now too " + RUN), "the next SMS")
            t.ok(got is not None and got[1], "... and the next inbound SMS reaches the owner encrypted")

        # 5c. encryption = require: an unencrypted owner message is refused with a notice
        bridged.kill()
        write_config("require")
        bridged.start()
        request("PUT", HS + "/_matrix/client/v3/rooms/%s/send/m.room.message/plain1" % rid,
                {"msgtype": "m.text", "body": "Unencrypted"}, owner.c.access_token)
        note = await owner.until(lambda: [b for r, b, _, snd in owner.texts if r == rid and
                                          "only sends encrypted" in b and snd != OWNER],
                                 "the require notice")
        t.ok(note is not None and "Unencrypted" not in sms_to(PEER),
             "encryption = require: an unencrypted owner message gets a notice and is not sent")

        # 6. the store holds pickles only; a wrong pickle key is refused
        db = sqlite3.connect(store)
        rows = db.execute("SELECT key, value FROM kv WHERE key LIKE 'e2ee/%'").fetchall()
        db.close()
        acct = [json.loads(v) for k, v in rows if k == "e2ee/account"]
        t.ok(acct and "pickle" in acct[0] and len(rows) >= 4, "account and sessions are in the store")
        t.ok(not any("session_key" in v or "AQ" == v[:2] for _, v in rows), "no room key in clear")
        bridged.kill()
        os.unlink(pickle)
        secret_file(pickle, "a different key of 32 bytes!!!!\n")
        bridged.start()
        t.ok(wait_for(lambda: not bridged.running(), "the daemon to stop", 60) and
             bridged.log_has("wrong pickle key"), "a wrong pickle key stops the daemon with a clear message")
        await python_client(owner)
    finally:
        bridged.close(t.failed)
        await owner.c.close()
        if "owner2" in dir():
            await owner2.c.close()


async def python_client(owner):
    """7. The same through the Python binding (phonebridge.matrix)."""
    if PYPATH:
        sys.path.insert(0, PYPATH)
    try:
        from phonebridge import matrix as pbm
    except ImportError as e:
        print("# skipped the Python part: %s" % e)
        return
    cl = pbm.Client(HS, token=login(HS, PY_USER, "evil"))
    cl.whoami()
    cl.enable_encryption(os.path.join(tmp, "py.db"), pickle_key="python pickle key, 32 bytes long")
    t.ok(cl.identity_keys is not None and len(cl.identity_keys["ed25519"]) == 43,
         "Python: enable_encryption() made an Olm device")
    rid = cl.create_dm(OWNER)
    cl.send_state(rid, "m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"})
    t.ok(cl.room_encrypted(rid), "Python: room_encrypted() sees m.room.encryption")
    await owner.until(lambda: rid in owner.c.rooms, "the owner in the Python room")
    cl.send_text(rid, "From Python, encrypted")
    got = await owner.until(lambda: [d for r, b, d, _ in owner.texts if r == rid and b == "From Python, encrypted"],
                            "the Python message at the owner")
    t.ok(got and got[0], "Python: nio decrypts what the Python client sent")
    await owner.send(rid, {"msgtype": "m.text", "body": "To Python, encrypted"})
    since, seen, end = None, None, time.monotonic() + 90
    while seen is None and time.monotonic() < end:
        r = cl.sync(since, timeout_ms=1000)
        since = r.next_batch
        seen = next((e for e in r.events if e.room_id == rid and e.body == "To Python, encrypted"), None)
    t.ok(seen is not None and seen.decrypted and seen.type == "m.room.message",
         "Python: sync() decrypts the owner's message (Event.decrypted)")
    pic = png(9)
    owner.images.clear()
    cl.send_bytes(rid, pic, "py.png")
    img = await owner.until(lambda: [e for e in owner.images if getattr(e, "body", "") == "py.png"],
                            "the Python picture")
    ok = False
    if img and isinstance(img[0], nio.RoomEncryptedImage):
        dl = await owner.c.download(img[0].url)
        ok = nio.crypto.attachments.decrypt_attachment(dl.body, img[0].key["k"], img[0].hashes["sha256"],
                                                       img[0].iv) == pic
    t.ok(ok, "Python: send_bytes() to an encrypted room sends an encrypted attachment nio decrypts")


tmp = tempfile.mkdtemp(prefix="pb-bridge-e2ee-test-")
mms = modem = None
try:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    asyncio.run(main())
except Exception as e:  # noqa: BLE001 - any failure is a failed case, then cleanup
    import traceback
    traceback.print_exc(file=sys.stdout)
    t.ok(False, "the test ran to its end (%s)" % e)
finally:
    for p in (mms.proc if mms else None, modem.proc if modem else None):
        if p:
            stop(p)
rc = t.done()
if not t.failed:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(rc)
