#!/usr/bin/env python3
"""Decode an MMS PDU file and write its parts.

usage: decode_mms.py MESSAGE.mms [OUT_DIR]

Prints the headers and the text, and writes every media part into OUT_DIR
(default: the current directory) under its safe file name — never the name
the sender gave, which could be a path — and never through a link planted
under that name. A WAP push (starting with its TID byte) is unwrapped first.
"""

import os
import stat
import sys
import tempfile
from typing import List, Union

from phonebridge import MalformedPDU, mms


def write_part(directory: str, name: str, body: Union[bytes, memoryview]) -> str:
    """Write ``body`` as directory/name: into a new temporary file (O_EXCL,
    no links followed), then renamed over the name, so nothing is written
    through a symbolic or hard link someone put there; such a name is refused."""
    path = os.path.join(directory, name)
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
            raise FileExistsError(f"{path} is a link or not a plain file: not written through it")
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


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
    status = 0
    for part in msg.media_parts:
        try:
            target = write_part(out_dir, part.filename, part.body)  # a memoryview into `data`: no copy
        except OSError as e:
            print(f"{e}", file=sys.stderr)
            status = 1
            continue
        print(f"wrote {target} ({part.media_type}, {len(part.body)} bytes)")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
