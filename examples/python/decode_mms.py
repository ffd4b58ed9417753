#!/usr/bin/env python3
"""Decode an MMS PDU file and write its parts.

usage: decode_mms.py MESSAGE.mms [OUT_DIR]

Prints the headers and the text, and writes every media part into OUT_DIR
(default: the current directory) under its safe file name — never the name
the sender gave, which could be a path. A WAP push (starting with its TID
byte) is unwrapped first.
"""

import os
import sys
from typing import List

from phonebridge import MalformedPDU, mms


def main(argv: List[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    path, out_dir = argv[1], argv[2] if len(argv) == 3 else "."
    with open(path, "rb") as f:
        data = f.read()
    try:
        msg = mms.decode(data)
    except MalformedPDU as e:
        try:
            msg, _ = mms.decode_push(data)
        except MalformedPDU:
            print(f"{path}: not an MMS PDU: {e} (byte {e.offset})", file=sys.stderr)
            return 1

    print(f"type:    {msg.type_name} (MMS {msg.version_string})")
    for label, value in (("from", msg.from_), ("to", ", ".join(msg.to)), ("cc", ", ".join(msg.cc)),
                         ("subject", msg.subject), ("date", msg.date and msg.date.isoformat()),
                         ("location", msg.content_location)):
        if value:
            print(f"{label + ':':9}{value}")
    if msg.text:
        print()
        print(msg.text)
        print()

    os.makedirs(out_dir, exist_ok=True)
    for part in msg.media_parts:
        target = os.path.join(out_dir, part.filename)
        with open(target, "wb") as f:
            f.write(part.body)  # a memoryview into `data`: written without a copy
        print(f"wrote {target} ({part.media_type}, {len(part.body)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
