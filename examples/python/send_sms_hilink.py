#!/usr/bin/python3
"""Send an SMS through a Huawei HiLink router (E3372h, B525, ...).

usage: send_sms_hilink.py [--url http://192.168.8.1] [--user admin]
                          --password-file FILE NUMBER TEXT...

The password file must be readable by its owner only (chmod 600): the
library refuses it otherwise. Shows the router's status first.
"""

import argparse
import sys

import phonebridge
from phonebridge import modem


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--url", default="http://192.168.8.1")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--report", action="store_true", help="ask for a delivery report")
    ap.add_argument("number")
    ap.add_argument("text", nargs="+")
    args = ap.parse_args()
    try:
        with modem.open("hilink", url=args.url, username=args.user,
                        password_file=args.password_file) as m:
            st = m.status()
            print(f"{st.operator or '?'} {st.network_type} {st.registration}, "
                  f"signal {st.signal_percent}%, SIM {st.sim}")
            ref = m.send(args.number, " ".join(args.text), report=args.report)
            print("sent" + (f" (reference {ref})" if ref is not None else ""))
    except phonebridge.AuthError as e:
        sys.exit(f"login refused: {e}")
    except phonebridge.PhoneBridgeError as e:
        sys.exit(f"failed: {e} ({e.name})")


if __name__ == "__main__":
    main()
