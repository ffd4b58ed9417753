#!/usr/bin/python3
# libphonebridge tests — pb-bridged as a Matrix application service, against
# one real Synapse (../shared/peers/synapse/start-synapse, started here with
# --appservice: tests/synapse.py's Synapse) and the AT modem emulator.
# Standard library only; prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-appservice-test.py PATH/TO/pb-bridged
#
# Checks, in one Synapse: a bot-mode bridge makes a contact's room; then
# docs/bridge.md's "Application service" steps (the blocks marked
# <!-- appservice: settings|steps -->, run by bash as written, this test's
# values in the settings) turn the configuration over and write the
# registration and the token files (0600; never overwritten); Synapse is
# restarted with the registration (the bot account becomes the service's
# sender) and the same store runs in appservice mode: the wrong hs_token is refused with 403
# M_FORBIDDEN (none: 401 M_UNAUTHORIZED), a contact's SMS appears in the SAME
# room from @sms_<number>:localhost with the contact's display name, the
# owner's reply leaves as an SMS, its delivery report becomes the puppet's
# read receipt, a SIGKILL after a transaction was journaled but before its
# 200 makes Synapse send it again and its message leaves once, a new
# contact gets a new room made by its puppet (is_direct for the owner, the bot
# an admin), and a SIGKILL between that createRoom and the store leaves
# exactly one room for the contact after the restart; !contacts import of a
# vCard renames the puppets at once and makes the cards' pictures their
# avatars (uploaded once); a group MMS room has every participant's puppet as
# a member and each message comes from its sender's puppet.
import base64
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import synapse  # noqa: E402
from bridge_env import ROOT, AtModem, Daemon, Mmsc, Tap, free_port, login, request, secret_file, wait_for  # noqa: E402
from bridge_pdu import deliver7, submit_text, wap_push_parts  # noqa: E402

DAEMON = sys.argv[1]
PEER, PEER2 = "+4915112345678", "+4917098765432"
USERS = [("pbbot", "botpass"), ("owner", "ownerpass")]
OWNER = "@owner:localhost"
PUPPET, PUPPET2 = "@sms_4915112345678:localhost", "@sms_4917098765432:localhost"

if not os.access(synapse.start_script(), os.X_OK):
    print("1..0 # SKIP no %s (../shared beside the checkout)" % synapse.start_script(), flush=True)
    sys.exit(0)

tap = Tap()
ok = tap.ok
tmp = tempfile.mkdtemp(prefix="pb-bridge-as-")
port = free_port()
store = os.path.join(tmp, "bridge.db")
config = os.path.join(tmp, "bridge.ini")
reg = os.path.join(tmp, "appservice.yaml")
as_token_file, hs_token_file = os.path.join(tmp, "as.token"), os.path.join(tmp, "hs.token")
modem = AtModem(tmp, "modem")
mms = Mmsc(tmp)
PB_MMS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(DAEMON))), "pb-mms")
bridged = Daemon(DAEMON, tmp, config)
hs = None


def write_config(hs_url, token_file):
    """A bot-mode configuration, as "First start" in docs/bridge.md leaves it."""
    with open(config, "w") as f:
        f.write("[modem]\n%s\nimport_existing = yes\n[matrix]\nhomeserver = %s\ntoken_file = %s\nowners = %s\n"
                "sync_timeout_ms = 1000\nretry_max_ms = 1000\n[mmsc]\nurl = %s/mms\n[bridge]\nstore = %s\nregion = DE\n"
                "store_sync = normal\n" % (modem.config(), hs_url, token_file, OWNER, mms.url, store))


def api(method, path, body=None, token=None):
    return request(method, hs.url + path, body, token)


def q(s):
    return urllib.parse.quote(s, safe="")


def messages(room, token):
    """The room's m.room.message events, oldest first (/messages: no /sync cache)."""
    res = api("GET", "/_matrix/client/v3/rooms/%s/messages?dir=b&limit=200" % q(room), token=token)
    return [e for e in reversed(res.get("chunk", [])) if e["type"] == "m.room.message"]


def joined(token):
    return api("GET", "/_matrix/client/v3/joined_rooms", token=token)["joined_rooms"]


def find_message(token, body):
    for r in joined(token):
        for e in messages(r, token):
            if e["content"].get("body") == body:
                return r, e
    return None


def as_put(path, token=None, query=""):
    """PUT an empty transaction to the bridge's listener: (status, JSON answer)."""
    url = "http://127.0.0.1:%d%s%s" % (port, path, query)
    try:
        return 200, request("PUT", url, {"events": []}, token)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def sent_texts():
    return [submit_text(h) for h in modem.sent()]




def doc_blocks(path):
    """{marker: text} of the fenced blocks after <!-- appservice: NAME -->."""
    text = open(path).read()
    return {m.group(1): m.group(2) for m in
            re.finditer(r"<!-- appservice: (\w+) -->\n```sh\n(.*?)```\n", text, re.S)}


blocks = doc_blocks(os.path.join(ROOT, "docs", "bridge.md"))
ok(set(blocks) == {"settings", "steps"}, "docs/bridge.md has the two appservice blocks")
names = re.findall(r"^([A-Z_]+)=", blocks.get("settings", ""), re.M)
ok(names == ["PBDIR", "BOT_LOCALPART", "LISTEN"], "the settings are the three this test fills in")
settings = "PBDIR=%s\nBOT_LOCALPART=pbbot\nLISTEN=127.0.0.1:%d\n" % (tmp, port)
env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(DAEMON)) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"))

try:
    # --- 2. bot mode first: a contact's room ------------------------------------------
    hs = synapse.Synapse(USERS)
    print("# Synapse at %s" % hs.url, flush=True)
    bot_token = login(hs.url, "pbbot", "botpass")
    owner_token = login(hs.url, "owner", "ownerpass")
    write_config(hs.url, secret_file(os.path.join(tmp, "bot.token"), bot_token))
    bridged.start()
    modem.ctl("deliver " + deliver7(PEER, "Before the move", 1))
    got = wait_for(lambda: find_message(bot_token, "Before the move"), "the bot-mode message", 120)
    ok(got and got[1]["sender"] == "@pbbot:localhost", "bot mode: the SMS comes from the bot")
    room = got[0] if got else None
    rooms_before = len(joined(bot_token))
    ok(bridged.terminate() == 0, "the bot-mode bridge stops")
    db = sqlite3.connect(store)
    db.execute("UPDATE contacts SET display_name = 'Alice Phone' WHERE number = ?", (PEER,))
    db.commit()
    db.close()

    # --- 3. the guide's steps turn it into an application service ----------------------
    r = subprocess.run(["bash", "-e", "-c", settings + blocks.get("steps", "false")], capture_output=True,
                       text=True, env=env, timeout=120)
    print("# " + (r.stdout + r.stderr).strip().replace("\n", "\n# "), flush=True)
    ok(r.returncode == 0 and "app_service_config_files" in r.stdout, "the guide's step 2 runs as written")
    text = open(reg).read() if os.path.exists(reg) else ""
    as_tok = open(as_token_file).read().strip() if os.path.exists(as_token_file) else ""
    ok(all(os.path.exists(p) and stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in (reg, as_token_file, hs_token_file)),
       "the registration and both token files are mode 0600")
    ok("regex: '@sms_[0-9]+:localhost'" in text and "exclusive: true" in text and "rate_limited: false" in text
       and "url: 'http://127.0.0.1:%d'" % port in text and "sender_localpart: 'pbbot'" in text
       and as_tok and as_tok in text,
       "it has the exclusive puppet namespace, the url, the bot as sender, the tokens, no rate limit")
    r = subprocess.run([DAEMON, "-c", config, "--generate-registration", reg], capture_output=True, text=True)
    ok(r.returncode == 73 and open(as_token_file).read().strip() == as_tok,
       "a second run refuses to overwrite (exit 73), the tokens stay")

    # --- 4. the same store in appservice mode ------------------------------------------
    hs.restart(USERS, [reg])
    print("# Synapse again at %s, with the registration" % hs.url, flush=True)
    with open(config) as f:
        ini = f.read()
    with open(config, "w") as f:  # the restarted Synapse has another port
        f.write(re.sub(r"^homeserver = .*$", "homeserver = " + hs.url, ini, flags=re.M))
    bridged.start()
    up = wait_for(lambda: bridged.log_has("appservice: listening"), "the listener", 60)
    st, ans = as_put("/_matrix/app/v1/transactions/t0", "wrong-token")
    ok(up and st == 403 and ans.get("errcode") == "M_FORBIDDEN", "a wrong hs_token: 403 M_FORBIDDEN")
    st, ans = as_put("/_matrix/app/v1/transactions/t0")
    ok(st == 401 and ans.get("errcode") == "M_UNAUTHORIZED", "no hs_token: 401 M_UNAUTHORIZED")
    st, ans = as_put("/transactions/t0", query="?access_token=wrong")
    ok(st == 403, "the legacy path and ?access_token= are checked the same way")
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=30) as r:
            health = json.loads(r.read())
    except urllib.error.HTTPError as e:  # 503 while a peer is down: still the document
        health = json.loads(e.read() or b"{}")
    ok(health.get("program") == "pb-bridged", "/health is served on the same listener (one listener per daemon)")

    modem.ctl("deliver " + deliver7(PEER, "After the move", 2))
    got = wait_for(lambda: find_message(bot_token, "After the move"), "the appservice-mode message", 120)
    ok(got and got[1]["sender"] == PUPPET, "the contact's SMS comes from its puppet %s" % PUPPET)
    ok(got and got[0] == room and len(joined(bot_token)) == rooms_before,
       "in the bot-mode room: kept, not doubled")
    name = api("GET", "/_matrix/client/v3/profile/%s/displayname" % q(PUPPET), token=owner_token)
    ok(name.get("displayname") == "Alice Phone", "the puppet has the contact's display name")

    # --- 5. the owner's reply leaves as an SMS; its report is the puppet's receipt --------
    api("POST", "/_matrix/client/v3/join/" + q(room), {}, owner_token)
    before = len(modem.sent())
    ev = api("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/as1" % q(room),
             {"msgtype": "m.text", "body": "Reply through the service"}, owner_token)["event_id"]
    sent = wait_for(lambda: len(modem.sent()) > before and sent_texts(), "the reply on the modem", 120)
    ok(sent and sent[-1] == (PEER, "Reply through the service"), "the owner's reply leaves as an SMS")

    def receipt():
        f = json.dumps({"room": {"timeline": {"limit": 50},
                                 "state": {"not_types": ["x.nonce.%d" % time.monotonic_ns()]}}})
        res = api("GET", "/_matrix/client/v3/sync?timeout=0&filter=" + q(f), token=owner_token)
        eph = res.get("rooms", {}).get("join", {}).get(room, {}).get("ephemeral", {}).get("events", [])
        receipt.last = eph
        return any(e["type"] == "m.receipt" and PUPPET in e["content"].get(ev, {}).get("m.read", {}) for e in eph)
    receipt.last = None
    if not ok(wait_for(receipt, "the puppet's read receipt", 120), "the delivery report is the puppet's read receipt"):
        print("# ephemeral: %s; event %s" % (json.dumps(receipt.last), ev), flush=True)

    # --- 6. SIGKILL after a transaction is journaled, before its 200 -------------------
    ok(bridged.terminate() == 0, "the bridge stops")
    flag = os.path.join(tmp, "killed")
    os.environ["PBB_TEST_AS_KILL_AFTER_JOURNAL"] = flag
    bridged.start()
    del os.environ["PBB_TEST_AS_KILL_AFTER_JOURNAL"]
    wait_for(lambda: bridged.log_has("appservice: listening"), "the listener", 60)
    api("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/as2" % q(room),
        {"msgtype": "m.text", "body": "Exactly once"}, owner_token)
    ok(wait_for(lambda: os.path.exists(flag) and not bridged.running(), "the kill", 120),
       "killed after journaling the transaction, before answering it")
    bridged.start()
    ok(wait_for(lambda: bridged.log_has("again: done before"), "Synapse's redelivery", 180),
       "Synapse sends the transaction again: answered 200, nothing done")
    ok(wait_for(lambda: (PEER, "Exactly once") in sent_texts(), "the SMS", 120), "its message leaves as an SMS")
    ok(sent_texts().count((PEER, "Exactly once")) == 1, "once")

    # --- 7. a new contact: its puppet makes the room; SIGKILL right after createRoom ------
    ok(bridged.terminate() == 0, "the bridge stops")
    flag = os.path.join(tmp, "killed-create")
    os.environ["PBB_TEST_KILL_AFTER_CREATE"] = flag
    bridged.start()
    del os.environ["PBB_TEST_KILL_AFTER_CREATE"]
    wait_for(lambda: bridged.log_has("appservice: listening"), "the listener", 60)
    modem.ctl("deliver " + deliver7(PEER2, "I am new here", 3))
    ok(wait_for(lambda: os.path.exists(flag) and not bridged.running(), "the kill", 120),
       "killed between the puppet's createRoom and the store")
    bridged.start()
    got = wait_for(lambda: find_message(bot_token, "I am new here"), "the new contact's message", 120)
    ok(got and got[1]["sender"] == PUPPET2 and got[0] != room, "a new contact writes from its puppet in a new room")
    puppet_rooms = api("GET", "/_matrix/client/v3/joined_rooms?user_id=" + q(PUPPET2), token=as_tok)["joined_rooms"]
    ok(got and puppet_rooms == [got[0]], "after the restart: exactly one room for the contact (%d)" % len(puppet_rooms))
    ok(bridged.log_has("found again (by its marker)"), "the room made before the crash was found by its marker")
    ok(not bridged.log_has("ignored an invite", "@sms_"), "the puppet's invite of the bot is not logged as a stranger's")
    if got:
        state = api("GET", "/_matrix/client/v3/rooms/%s/state" % q(got[0]), token=bot_token)
        ok(any(e["type"] == "m.room.create" and e["sender"] == PUPPET2 for e in state) and
           any(e["type"] == "org.phonebridge.room" and e["sender"] == PUPPET2 for e in state),
           "the room was created by the contact's puppet")
        st_ = api("GET", "/_matrix/client/v3/rooms/%s/state/m.room.member/%s" % (q(got[0]), q(OWNER)),
                  token=bot_token)
        ok(st_.get("membership") == "invite" and st_.get("is_direct") is True,
           "the owner is invited to it as a direct room")
        pl = api("GET", "/_matrix/client/v3/rooms/%s/state/m.room.power_levels/" % q(got[0]), token=bot_token)
        ok(pl.get("users", {}).get("@pbbot:localhost") == 100 and pl["users"].get(PUPPET2) == 100
           and pl["users"].get(OWNER) == 100, "the bot, the puppet and the owner are its admins")
    name = api("GET", "/_matrix/client/v3/profile/%s/displayname" % q(PUPPET2), token=owner_token)
    ok(name.get("displayname") == PEER2, "an unknown contact's puppet is named by its number")
    # the contact gets a name (as !contacts import gives one): the puppet follows
    db = sqlite3.connect(store)
    db.execute("UPDATE contacts SET display_name = 'Bob Mobile' WHERE number = ?", (PEER2,))
    db.commit()
    db.close()
    modem.ctl("deliver " + deliver7(PEER2, "Named now", 4))
    ok(wait_for(lambda: find_message(bot_token, "Named now"), "the second message", 120) and
       api("GET", "/_matrix/client/v3/profile/%s/displayname" % q(PUPPET2), token=owner_token).get("displayname")
       == "Bob Mobile", "a contact renamed: its puppet's display name follows with its next message")

    # --- 8. the control room works the same: !status, !sms -------------------------------
    def control_room():
        for r in joined(bot_token):
            try:
                if api("GET", "/_matrix/client/v3/rooms/%s/state/m.room.name/" % q(r), token=bot_token).get("name") \
                        == "Phone bridge":
                    return r
            except urllib.error.HTTPError:
                pass
        return None
    ctl = wait_for(control_room, "the control room", 60)
    if ctl:
        api("POST", "/_matrix/client/v3/join/" + q(ctl), {}, owner_token)
        api("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/c1" % q(ctl),
            {"msgtype": "m.text", "body": "!status"}, owner_token)
    ok(ctl and wait_for(lambda: any(e["sender"] == "@pbbot:localhost" and e["content"].get("msgtype") == "m.notice"
                                    and "ueue" in e["content"].get("body", "") for e in messages(ctl, bot_token)),
                        "the !status answer", 60), "!status in the control room is answered by the bot")
    before = len(modem.sent())
    if ctl:
        api("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/c2" % q(ctl),
            {"msgtype": "m.text", "body": "!sms +4930111222 From the control room"}, owner_token)
    ok(wait_for(lambda: ("+4930111222", "From the control room") in sent_texts(), "the !sms message", 120),
       "!sms NUMBER TEXT sends an SMS")

    # --- 8b. !contacts import: display names and vCard pictures at once ---------------
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5E"
                           "rkJggg==")
    b64 = base64.b64encode(png).decode()
    vcf = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Robert Mobile\r\nTEL:%s\r\nPHOTO;ENCODING=b;TYPE=PNG:%s\r\n"
           "END:VCARD\r\nBEGIN:VCARD\r\nVERSION:4.0\r\nFN:Alice Phone\r\nTEL:%s\r\n"
           "PHOTO:data:image/png;base64,%s\r\nEND:VCARD\r\n" % (PEER2, b64, PEER, b64)).encode()

    def import_vcf(txn):
        url = api("POST", "/_matrix/media/v3/upload?filename=contacts.vcf", vcf, owner_token)["content_uri"]
        api("PUT", "/_matrix/client/v3/rooms/%s/send/m.room.message/%s" % (q(ctl), txn),
            {"msgtype": "m.file", "body": "!contacts import", "filename": "contacts.vcf", "url": url,
             "info": {"mimetype": "text/vcard"}}, owner_token)
        return wait_for(lambda: [e["content"]["body"] for e in messages(ctl, bot_token)
                                 if e["content"].get("body", "").startswith("Imported")], "the import answer", 120)

    def profile(user):
        return api("GET", "/_matrix/client/v3/profile/" + q(user), token=owner_token)
    answers = import_vcf("c3") if ctl else None
    print("# %s" % answers, flush=True)
    ok(answers and wait_for(lambda: profile(PUPPET2).get("displayname") == "Robert Mobile", "the new name", 60),
       "!contacts import renames the puppet at once, not at its next message")
    av = profile(PUPPET2).get("avatar_url", "")
    ok(av.startswith("mxc://") and profile(PUPPET).get("avatar_url") == av,
       "the vCard pictures (base64, data: URI) are the puppets' avatars, the same picture uploaded once")
    server, media = av[6:].split("/", 1) if av.startswith("mxc://") else ("x", "x")
    # (the legacy path: the Synapse of ../shared predates authenticated media)
    ok(av.startswith("mxc://") and api("GET", "/_matrix/media/v3/download/%s/%s" % (server, media),
                                       token=owner_token) == png,
       "the avatar is the card's picture")
    if ctl:
        import_vcf("c4")
        wait_for(lambda: len([e for e in messages(ctl, bot_token)
                              if e["content"].get("body", "").startswith("Imported")]) == 2, "the second answer", 120)
    ok(len([l for l in bridged.log_lines() if "picture uploaded" in l]) == 1,
       "imported again: the picture is not uploaded again")

    # --- 9. a picture message: its contact's puppet posts the picture and the text ----
    for p in wap_push_parts(PEER, mms.push(PB_MMS, "T-as-pic", PEER), 0x56, 60):
        modem.ctl("deliver " + p)
    pic = wait_for(lambda: next((e for e in messages(room, bot_token) if e["content"].get("msgtype") == "m.image"),
                                None), "the picture", 120)
    ok(pic and pic["sender"] == PUPPET and pic["content"].get("url", "").startswith("mxc://"),
       "a picture message arrives as m.image from the contact's puppet")
    ok(wait_for(lambda: any(e["sender"] == PUPPET and e["content"].get("body", "").startswith("Holiday photo")
                            for e in messages(room, bot_token)), "the MMS text", 60),
       "its subject and text too")

    # --- 10. a group MMS: every participant's puppet a member, each sender's puppet posts --
    PEER3, PUPPET3 = "+4916012345678", "@sms_4916012345678:localhost"

    def group_message(tid, frm, to, text, n):
        cmd = [PB_MMS, "encode", "retrieve-conf", "--from", frm, "--text", text, "--message-id", "M-" + tid]
        for t in to:
            cmd += ["--to", t]
        with open(os.path.join(tmp, "mmsc", tid + ".mms"), "wb") as f:
            f.write(subprocess.run(cmd, capture_output=True, check=True).stdout)
        size = os.path.getsize(os.path.join(tmp, "mmsc", tid + ".mms"))
        push = subprocess.run([PB_MMS, "encode", "notification", "--transaction-id", tid, "--location",
                               "%s/files/t/%s.mms" % (mms.url, tid), "--from", frm, "--size", str(size), "--push"],
                              capture_output=True, check=True).stdout
        for p in wap_push_parts(frm, push, n, n):
            modem.ctl("deliver " + p)

    group_message("T-as-group-1", PEER3, [PEER, PEER2], "Party at 8", 0x61)
    got = wait_for(lambda: find_message(bot_token, "Party at 8"), "the group message", 120)
    grp = got[0] if got else None
    ok(got and got[1]["sender"] == PUPPET3 and grp not in (room,), "a group MMS is posted by its sender's puppet")
    members = api("GET", "/_matrix/client/v3/rooms/%s/joined_members" % q(grp), token=bot_token)["joined"] \
        if grp else {}
    ok(all(p in members for p in (PUPPET, PUPPET2, PUPPET3)), "every participant's puppet is a member of the group room")
    group_message("T-as-group-2", PEER2, [PEER, PEER3], "I'll bring cake", 0x62)
    got2 = wait_for(lambda: find_message(bot_token, "I'll bring cake"), "the second group message", 120)
    ok(got2 and got2[0] == grp and got2[1]["sender"] == PUPPET2,
       "the next one, from another participant, in the same room from that one's puppet")

except Exception as e:  # a failure of the harness itself is a failed case, with its reason
    ok(False, "the test ran to its end: %r" % e)
finally:
    failed = tap.failed
    bridged.close(failed)
    modem.proc.stdin.close()
    modem.proc.wait(30)
    mms.proc.stdin.close()
    mms.proc.wait(30)
    if hs:
        hs.stop()
    rc = tap.done()
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(rc)
