#!/usr/bin/python3
# Oracle for the screen tests: normalise caller identities with
# python3-phonenumbers (Google's libphonenumber metadata), one line per
# argument after the region: the E.164 form, or "-" when the library cannot
# parse it as a possible number.
#
# pb_screen_normalize_number() finds the number in a SIP/tel URI or a
# name-addr and hands the digits to pb_phone_normalize() with the policy's
# region; this script does the same with a crude URI split, so that the test
# checks both steps together. (tests/phone-oracle.py checks
# pb_phone_normalize() alone, on thousands of numbers per region.)
#
# usage: screen-oracle.py REGION IDENTITY...
import re
import sys
import urllib.parse

try:
    import phonenumbers
except ImportError:
    print("no-phonenumbers")
    sys.exit(0)


def user_part(identity):
    m = re.search(r"<([^>]*)>", identity)
    uri = (m.group(1) if m else identity).strip()
    uri = re.sub(r"^(sips?|tel):", "", uri, flags=re.I)
    return urllib.parse.unquote(re.split(r"[@;?]", uri, 1)[0]).strip()


region = sys.argv[1]
for text in sys.argv[2:]:
    try:
        n = phonenumbers.parse(user_part(text), region)
        ok = phonenumbers.is_possible_number(n)
    except phonenumbers.NumberParseException:
        ok = False
    print(phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164) if ok else "-")
