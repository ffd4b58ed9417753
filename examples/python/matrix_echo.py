#!/usr/bin/python3
"""A Matrix echo bot: joins the rooms it is invited to and answers every
text message with a notice.

usage: matrix_echo.py --homeserver URL --user NAME --password-file FILE [--count N]

The password file must be readable by its owner only (chmod 600). Ctrl-C
stops it: the sync runs in a thread (the GIL is released while it waits on
the server) and the main thread cancels it. --count stops after N answers.
An answer's transaction id is made from the event it answers, so a message
seen twice (after a crash, say) is answered once.
"""

import argparse
import sys
import threading
from typing import List, Optional

import phonebridge
from phonebridge.matrix import Client


def run(client: Client, since: Optional[str], count: int, done: threading.Event) -> None:
    me = client.user_id
    answered = 0
    it = client.sync_forever(since, timeout_ms=30000)
    for ev in it:
        if ev.section == "invite" and ev.type == "m.room.member" and ev.state_key == me:
            client.join(ev.room_id)
            client.send_notice(ev.room_id, "Hello! I repeat what you write.", txn_id="hello-" + ev.room_id)
        elif (ev.section == "timeline" and ev.type == "m.room.message" and ev.sender != me
              and ev.msgtype == "m.text" and ev.body is not None and ev.event_id is not None):
            client.read_receipt(ev.room_id, ev.event_id)
            client.typing(ev.room_id, True, 2000)
            client.send_notice(ev.room_id, "echo: " + ev.body, txn_id="echo-" + ev.event_id)
            client.typing(ev.room_id, False)
            answered += 1
            if count and answered >= count:
                break
    done.set()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--homeserver", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--count", type=int, default=0, help="stop after this many answers")
    args = ap.parse_args()
    try:
        client = Client(args.homeserver, user=args.user, password_file=args.password_file)
        first = client.sync(timeout_ms=0)  # what happened before we started is not answered
        for room_id, _inviter in first.invites:
            client.join(room_id)
    except phonebridge.AuthError as e:
        sys.exit(f"login refused: {e}")
    except phonebridge.PhoneBridgeError as e:
        sys.exit(f"failed: {e} ({e.name})")
    print(f"{client.user_id}: listening", flush=True)
    done = threading.Event()
    errors: List[phonebridge.PhoneBridgeError] = []

    def worker() -> None:
        try:
            run(client, first.next_batch, args.count, done)
        except phonebridge.PhoneBridgeError as e:
            errors.append(e)
            done.set()

    t = threading.Thread(target=worker)
    t.start()
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        client.cancel()  # the long-poll ends within about a second
    t.join()
    if errors:
        sys.exit(f"failed: {errors[0]} ({errors[0].name})")


if __name__ == "__main__":
    main()
