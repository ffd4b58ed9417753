#!/usr/bin/python3
"""Send an MMS (text, pictures, any file) through the carrier's MMSC.

usage: send_mms.py --mmsc URL [--proxy HOST:PORT] [--interface if!wwan0]
                   [--subject TEXT] [--text TEXT] NUMBER[,NUMBER...] [FILE...]

The message is built in Python (phonebridge.mms.OutgoingMessage) and
encoded as an M-Send.req by the library; the MMSC's M-Send.conf is printed.
Behind a WAP proxy the APN's interface usually has to be given too.
"""

import argparse
import sys

import phonebridge
from phonebridge import mms, mmsc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mmsc", required=True, help="the MMSC URL, e.g. http://mms.carrier.example/mms/wapenc")
    ap.add_argument("--proxy", help="the carrier's WAP proxy, host:port")
    ap.add_argument("--interface", help="send from this interface (libcurl syntax: if!wwan0)")
    ap.add_argument("--user-agent", help="the User-Agent the carrier expects")
    ap.add_argument("--subject")
    ap.add_argument("--text")
    ap.add_argument("--delivery-report", action="store_true")
    ap.add_argument("to", help="recipients, comma-separated (+E.164 numbers or e-mail addresses)")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    msg = mms.OutgoingMessage(args.to.split(","), text=args.text, subject=args.subject,
                              delivery_report=True if args.delivery_report else None)
    for path in args.files:
        msg.attach_file(path)  # the content type is guessed from the name
    client = mmsc.Client(args.mmsc, proxy=args.proxy, interface=args.interface,
                         user_agent=args.user_agent)
    try:
        conf = client.send(msg)
    except phonebridge.ProtocolError as e:
        refused: "mmsc.SendConf | None" = getattr(e, "conf", None)
        if refused is None:
            sys.exit(f"failed: {e}")
        sys.exit(f"refused: {refused.status_name or refused.response_status} {refused.response_text or ''}".rstrip())
    except phonebridge.PhoneBridgeError as e:
        sys.exit(f"failed: {e} ({e.name})")
    print(f"sent: {conf.status_name}, message id {conf.message_id}, transaction {conf.transaction_id}")


if __name__ == "__main__":
    main()
