#!/usr/bin/python3
# Makes the mmsc module's own small test PDUs (OMA-MMS-ENC 1.3), byte by
# byte, so they can be checked by eye against the specification:
#   retrieve-conf-text.mms       M-Retrieve.conf, multipart/mixed with one
#                                text/plain part, X-Mms-Retrieve-Status Ok
#   retrieve-conf-not-found.mms  M-Retrieve.conf with X-Mms-Retrieve-Status
#                                Error-permanent-message-not-found (0xE2)
# Run: /usr/bin/python3 make-data.py (in this folder).

def text(s):
    return s.encode() + b"\0"

def common(tid, status):
    out = bytearray([0x8C, 0x84])            # X-Mms-Message-Type: m-retrieve-conf
    out += b"\x98" + text(tid)               # X-Mms-Transaction-Id
    out += b"\x8D\x92"                       # X-Mms-MMS-Version 1.2
    out += b"\x8B" + text("pb-msg-" + tid)   # Message-ID
    out += b"\x85\x04\x65\x00\x00\x00"       # Date: long-integer 0x65000000
    frm = b"\x80" + text("+15551234567/TYPE=PLMN")
    out += b"\x89" + bytes([len(frm)]) + frm  # From: value-length, address-present
    out += b"\x97" + text("+15557654321/TYPE=PLMN")  # To
    out += b"\x96" + text("Hello")           # Subject
    out += b"\x99" + bytes([status])         # X-Mms-Retrieve-Status
    return out

def uintvar(n):
    b = [n & 0x7F]
    n >>= 7
    while n:
        b.insert(0, 0x80 | (n & 0x7F))
        n >>= 7
    return bytes(b)

ok = common("T-pb-1", 0x80)
ok += b"\x84\xA3"                            # Content-Type: application/vnd.wap.multipart.mixed
data = b"Hi from the test MMSC"
hdr = b"\x83"                                # text/plain
ok += uintvar(1) + uintvar(len(hdr)) + uintvar(len(data)) + hdr + data
open("retrieve-conf-text.mms", "wb").write(ok)

nf = common("T-pb-2", 0xE2)
nf += b"\x84\x83" + b"message not found"     # Content-Type: text/plain
open("retrieve-conf-not-found.mms", "wb").write(nf)

# test-server.crt / test-server.key: a self-signed certificate for 127.0.0.1
# (TEST ONLY, never trust it elsewhere), made once with:
#   openssl req -x509 -newkey rsa:2048 -nodes -keyout test-server.key \
#     -out test-server.crt -days 36500 -subj /CN=127.0.0.1 \
#     -addext subjectAltName=IP:127.0.0.1,DNS:localhost
