#!/usr/bin/python3
"""A modem backend written in Python: a spool directory as the "box".

usage: spool_backend.py SPOOL_DIR [--send NUMBER TEXT] [--watch SECONDS]

Lists the inbox, sends a message, or (--watch) reports each message in the
inbox and each that arrives, deleting it once printed, for SECONDS.

Incoming messages are files SPOOL_DIR/inbox/<id>.txt (written elsewhere and
renamed into place) whose first line is the sender's number and the rest
the text; sending writes SPOOL_DIR/outbox/<n>.txt the same way. Another
program (a gateway script, a test) fills and empties the spool. The backend is registered under
"spool", so the C library's modem front end drives it like a built-in
one: modem.open("spool", url=SPOOL_DIR), list(), send(), delete() and the
watch, which polls changed() and lists the inbox when it says so.
"""

import argparse
import os
import sys
from typing import List, Optional

import phonebridge
from phonebridge import modem


@modem.register_backend
class SpoolBackend(modem.Backend):
    name = "spool"

    def __init__(self, options: modem.BackendOptions) -> None:
        super().__init__(options)
        if not options.url or not os.path.isdir(options.url):
            raise phonebridge.NotFoundError(f"no spool directory {options.url!r}")
        self.inbox = os.path.join(options.url, "inbox")
        self.outbox = os.path.join(options.url, "outbox")
        os.makedirs(self.inbox, exist_ok=True)
        os.makedirs(self.outbox, exist_ok=True)
        self.seen: Optional[List[str]] = None

    def _read(self, id: str) -> modem.Message:
        if not id.isalnum():
            raise phonebridge.InvalidArgument(f"bad message id {id!r}")
        try:
            with open(os.path.join(self.inbox, id + ".txt"), encoding="utf-8") as f:
                number, _, text = f.read().partition("\n")
        except FileNotFoundError:
            raise phonebridge.NotFoundError(f"message {id}: not in the spool") from None
        return modem.Message(id, number=number.strip(), text=text.rstrip("\n"))

    def list(self, box: int) -> List[modem.Message]:
        if box != modem.INBOX:
            return []
        ids = sorted(f[:-4] for f in os.listdir(self.inbox) if f.endswith(".txt"))
        return [self._read(i) for i in ids]

    def read(self, id: str) -> modem.Message:
        return self._read(id)

    def delete(self, id: str) -> None:
        self._read(id)  # checks the id and that it is there
        os.unlink(os.path.join(self.inbox, id + ".txt"))

    def send(self, number: str, text: str, report: bool) -> Optional[int]:
        ref = len(os.listdir(self.outbox)) + 1
        tmp = os.path.join(self.outbox, f".{ref}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{number}\n{text}\n")
        os.replace(tmp, os.path.join(self.outbox, f"{ref}.txt"))
        return ref

    def changed(self) -> bool:
        now = sorted(os.listdir(self.inbox))
        was, self.seen = self.seen, now
        return now != was


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("spool")
    ap.add_argument("--send", nargs=2, metavar=("NUMBER", "TEXT"))
    ap.add_argument("--watch", type=float, metavar="SECONDS",
                    help="report and delete messages this long")
    args = ap.parse_args()
    try:
        with modem.open("spool", url=args.spool, poll_interval_ms=200) as m:
            if args.send:
                print("sent, reference", m.send(args.send[0], args.send[1]))
            if not args.watch:
                for msg in m.list():
                    print(f"{msg.id}: {msg.number}: {msg.text}")
                return 0
            with m.watch(duration_ms=int(args.watch * 1000)) as w:
                for ev in w:
                    if ev.message and ev.message.id:
                        print(f"{ev.message.id}: {ev.message.number}: {ev.message.text}", flush=True)
                        m.delete(ev.message.id)  # the watch waits for this loop
                    elif ev.event == "error":
                        print(f"spool: {ev.text}", file=sys.stderr, flush=True)
    except phonebridge.PhoneBridgeError as e:
        print(f"spool: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
