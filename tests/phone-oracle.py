#!/usr/bin/python3
"""pb_phone_normalize() against python3-phonenumbers (libphonenumber's
metadata) as an oracle.

For each region it generates valid numbers (mutating libphonenumber's
example numbers of every type, keeping those phonenumbers calls valid),
writes each in many shapes (E.164, international, national, national digits
only, without trunk prefix, "+CC (0)...", dialled from another region
through that region's international prefix, random punctuation, Brazil's
carrier codes), and asks both phonenumbers and the C filter
(tests/phone-normalize) for the E.164 form.

Criterion: a case is compared when phonenumbers parses the input with the
default region and calls the result *valid* (is_valid_number); the E.164
strings must then be equal. Service numbers shorter than the region's
subscriber numbers that pb_phone_normalize() keeps as short codes by design
(NANP 310-XXXX, NL 14xxx, BR 4004-XXXX) are counted apart and reported. Inputs phonenumbers rejects or calls invalid
are not compared (what the C code does with them is covered by the unit
tests). Prints TAP, one line per region with its agreement figure, and fails
a region below 99.5 % agreement.

usage: phone-oracle.py PHONE-NORMALIZE-BINARY [NUMBERS-PER-REGION]
"""
import random
import subprocess
import sys

try:
    import phonenumbers
    from phonenumbers import PhoneNumberFormat as F, PhoneNumberType as T
except ImportError:
    print("1..0 # SKIP python3-phonenumbers is not installed (apt-get install python3-phonenumbers)")
    sys.exit(0)

REGIONS = "US CA GB IE DE AT CH FR BE NL ES PT IT PL CZ GR DK NO SE TR ZA IN JP AU NZ BR".split()
TYPES = [T.FIXED_LINE, T.MOBILE, T.FIXED_LINE_OR_MOBILE, T.TOLL_FREE, T.PREMIUM_RATE,
         T.SHARED_COST, T.VOIP, T.PERSONAL_NUMBER, T.UAN]
BR_CARRIERS = "12 14 15 21 23 24 25 31 41 43 55 65 99".split()
THRESHOLD = 99.5

rng = random.Random(20261122)


def valid_numbers(region, count):
    seeds = [n for n in (phonenumbers.example_number_for_type(region, t) for t in TYPES) if n]
    out, seen, tries = [], set(), 0
    while len(out) < count and tries < count * 60:
        tries += 1
        seed = rng.choice(seeds)
        base = str(seed.national_number)
        k = rng.randint(1, min(5, len(base) - 1))
        nsn = base[:-k] + "".join(rng.choice("0123456789") for _ in range(k))
        try:
            n = phonenumbers.parse("+%d%s" % (seed.country_code, nsn))
        except phonenumbers.NumberParseException:
            continue
        e = phonenumbers.format_number(n, F.E164)
        if e in seen or not phonenumbers.is_valid_number(n) or \
                phonenumbers.region_code_for_number(n) != region:
            continue
        seen.add(e)
        out.append(n)
    return out


def punctuate(s):
    seps = rng.choice([" ", "-", ".", "/", "  ", " - "])
    s = s.replace(" ", seps)
    if rng.random() < 0.3:
        digits = [i for i, c in enumerate(s) if c.isdigit()]
        if len(digits) > 6:
            a = digits[rng.randint(1, 3)]
            b = digits[rng.randint(4, 6)]
            s = s[:a] + "(" + s[a:b] + ")" + s[b:]
    return s


def shapes(n, region):
    e164 = phonenumbers.format_number(n, F.E164)
    intl = phonenumbers.format_number(n, F.INTERNATIONAL)
    nat = phonenumbers.format_number(n, F.NATIONAL)
    nsn = phonenumbers.national_significant_number(n)
    cc = str(n.country_code)
    yield region, e164
    yield region, intl
    yield region, punctuate(intl)
    yield region, nat
    yield region, punctuate(nat)
    yield region, "".join(c for c in nat if c.isdigit())
    yield region, nsn
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta.national_prefix:
        yield region, "+%s (%s) %s" % (cc, meta.national_prefix, nsn)
    if region == "BR":
        yield region, phonenumbers.format_national_number_with_carrier_code(n, rng.choice(BR_CARRIERS))
    other = rng.choice(REGIONS)
    yield other, phonenumbers.format_out_of_country_calling_number(n, other)
    other = rng.choice(REGIONS)
    yield other, punctuate(phonenumbers.format_out_of_country_calling_number(n, other))


def main():
    binary = sys.argv[1]
    per_region = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    cases = []  # (region-of-number, default region, input, expected)
    for region in REGIONS:
        for n in valid_numbers(region, per_region):
            for default, text in shapes(n, region):
                try:
                    p = phonenumbers.parse(text, default)
                except phonenumbers.NumberParseException:
                    continue
                if not phonenumbers.is_valid_number(p):
                    continue
                cases.append((region, default, text, phonenumbers.format_number(p, F.E164)))
    feed = "".join("%s\t%s\n" % (c[1], c[2]) for c in cases)
    got = subprocess.run([binary], input=feed, capture_output=True, text=True, check=True).stdout.splitlines()
    if len(got) != len(cases):
        print("Bail out! filter answered %d lines for %d inputs" % (len(got), len(cases)))
        return 1
    print("1..%d" % len(REGIONS))
    total = agree = kept = 0
    failed = 0
    for i, region in enumerate(REGIONS, 1):
        mine = [(c, g) for c, g in zip(cases, got) if c[0] == region]
        # By design a digit string shorter than the region's subscriber
        # numbers stays a short code; phonenumbers knows some such service
        # numbers (NANP 310-XXXX, NL 14xxx, BR 400X-XXXX) and calls them valid.
        short = [(c, g) for c, g in mine if g.startswith("short\t") and len(c[3]) <= 12]
        rest = [(c, g) for c, g in mine if not (g.startswith("short\t") and len(c[3]) <= 12)]
        bad = [(c, g) for c, g in rest if g != "e164\t" + c[3]]
        good = len(rest) - len(bad)
        pct = 100.0 * good / len(rest) if rest else 0.0
        total += len(mine)
        agree += good
        kept += len(short)
        ok = rest and pct >= THRESHOLD
        failed += not ok
        print("%s %d - %s: %d of %d agree (%.2f %%), %d more kept as short codes" % (
            "ok" if ok else "not ok", i, region, good, len(rest), pct, len(short)))
        for c, g in bad[:8]:
            print("#   default %s, input %r: phonenumbers %s, pb %s" % (c[1], c[2], c[3], g))
        for c, g in short[:2]:
            print("#   kept as short code: default %s, input %r (phonenumbers %s)" % (c[1], c[2], c[3]))
    print("# total: %d of %d agree (%.3f %%); %d more kept as short codes by design; "
          "agreement over all %d: %.3f %%" % (agree, total - kept, 100.0 * agree / (total - kept),
                                               kept, total, 100.0 * agree / total))
    return 1 if failed else 0


sys.exit(main())
