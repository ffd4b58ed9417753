#!/usr/bin/python3
# libphonebridge tests — the components' and programs' NEEDED entries
# (readelf -d): what each shared object loads is what its component is for
# (docs/architecture.md, "Components"). The codec loads no transport and no
# voice library; messaging no voice library; no component loads one above
# it; pb-sms loads the codec component only; pb-bridged, pb-mms, pb-modem and
# pb-matrix no voice; pb-screend the voice component.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: components-needed.py NAME FILE [NAME FILE ...]    (prints TAP)
#   NAME is codec, messaging, voice or a program's name
import re
import subprocess
import sys

VOICE = ["sofia-sip", "spandsp", "sndfile", "phonebridge-voice"]
MESSAGING = ["curl", "jansson", "sqlite3", "xml2", "microhttpd", "olm", "phonebridge-messaging"]
FORBIDDEN = {
    "codec": VOICE + MESSAGING,
    "messaging": VOICE,
    "voice": [],
    # the program writes its JSON with jansson itself
    "pb-sms": VOICE + [m for m in MESSAGING if m != "jansson"],
    "pb-bridged": VOICE,
    "pb-mms": VOICE,
    "pb-modem": VOICE,
    "pb-matrix": VOICE,
}
REQUIRED = {
    "messaging": ["phonebridge-codec"],
    "voice": ["phonebridge-messaging", "phonebridge-codec"],
    "pb-sms": ["phonebridge-codec"],
    # linked to the shared component, not to a static copy of the library
    "pb-bridged": ["phonebridge-messaging", "phonebridge-codec"],
    "pb-screend": ["phonebridge-voice"],
}

args = sys.argv[1:]
if len(args) % 2:
    raise SystemExit("usage: components-needed.py NAME FILE [NAME FILE ...]")
n = 0
failed = False
for name, path in zip(args[::2], args[1::2]):
    out = subprocess.run(["readelf", "-d", "-W", path], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    soname = re.findall(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", out)
    problems = []
    for bad in FORBIDDEN.get(name, []):
        problems += [f"{lib} (matches {bad})" for lib in needed if bad in lib]
    for want in REQUIRED.get(name, []):
        if not any(want in lib for lib in needed):
            problems.append(f"no NEEDED entry for lib{want}")
    if name in ("codec", "messaging", "voice") and soname != [f"libphonebridge-{name}.so.0"]:
        problems.append(f"soname {soname}, not libphonebridge-{name}.so.0")
    n += 1
    if problems:
        failed = True
        print(f"not ok {n} - {name}: {path}")
        for p in problems:
            print(f"# unwanted or missing: {p}")
    else:
        print(f"ok {n} - {name} needs {', '.join(needed)}")
print(f"1..{n}")
sys.exit(1 if failed else 0)
