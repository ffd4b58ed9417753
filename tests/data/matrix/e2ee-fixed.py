#!/usr/bin/python3
# Makes tests/data/matrix/e2ee-fixed.json (kept in git; run again only to
# change it): an Olm account and a Megolm session pickled with a fixed key by
# python3-olm (the same libolm the library uses), and two events encrypted
# with that session, for tests/test-matrix-crypto.c.
# SPDX-License-Identifier: LGPL-2.1-or-later
import json
import os

import olm

KEY = "0123456789abcdef0123456789abcdef"
acct = olm.Account()
og = olm.OutboundGroupSession()
ig = olm.InboundGroupSession(og.session_key)


def event(room, body):
    return og.encrypt(json.dumps({"type": "m.room.message", "room_id": room,
                                  "content": {"msgtype": "m.text", "body": body}}))


out = {
    "pickle_key": KEY,
    "user_id": "@bot:example.org",
    "device_id": "BOTDEVICE",
    "account_pickle": acct.pickle(KEY).decode(),
    "curve25519": acct.identity_keys["curve25519"],
    "ed25519": acct.identity_keys["ed25519"],
    "sender_key": "SENDERCURVEKEYSENDERCURVEKEYSENDERCURVEKEY0",
    "session_id": og.id,
    "inbound_pickle": ig.pickle(KEY).decode(),
    "room_id": "!room:example.org",
    "event0": event("!room:example.org", "fixed text"),
    "event1_other_room": event("!other:example.org", "for another room"),
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2ee-fixed.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
