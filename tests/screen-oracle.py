#!/usr/bin/python3
# Oracle for the screen tests: normalise phone numbers with python3-phonenumbers
# (Google's libphonenumber metadata), one line per argument after the region:
# the E.164 form, or "-" when the library cannot parse it as a possible number.
#
# usage: screen-oracle.py REGION NUMBER...
import sys

try:
    import phonenumbers
except ImportError:
    print("no-phonenumbers")
    sys.exit(0)

region = sys.argv[1]
for text in sys.argv[2:]:
    try:
        n = phonenumbers.parse(text, region)
        ok = phonenumbers.is_possible_number(n)
    except phonenumbers.NumberParseException:
        ok = False
    print(phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164) if ok else "-")
