# libphonebridge tests — SMS-DELIVER PDUs as a modem lists them (SMSC field +
# TPDU), and the text of an SMS-SUBMIT, for tests/bridge-test.py,
# tools/bridge-demo and the AT modem emulator (tests/emulators/). Standard
# library only.
# SPDX-License-Identifier: LGPL-2.1-or-later

SMSC = bytes.fromhex("07911326040000F0")


def semi(digits):
    d = digits + ("F" if len(digits) % 2 else "")
    return bytes(int(d[i + 1] + d[i], 16) for i in range(0, len(d), 2))


def addr(num):
    d = num.lstrip("+")
    return bytes([len(d), 0x91 if num.startswith("+") else 0x81]) + semi(d)


def scts(n):
    # 2024-05-01 10:MM:SS +00, distinct per message
    return semi("240501%02d%02d%02d00" % (10 + n // 3600, (n // 60) % 60, n % 60))


def pack7(text):
    bits, nbits, out = 0, 0, bytearray()
    for ch in text:
        bits |= (ord(ch) & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        out.append(bits & 0xFF)
    return bytes(out)


def deliver7(oa, text, n):
    return (SMSC + bytes([0x04]) + addr(oa) + bytes([0x00, 0x00]) + scts(n) + bytes([len(text)])
            + pack7(text)).hex().upper()


def deliver_ucs2_parts(oa, text, ref, n, parts=3):
    step = -(-len(text) // parts)
    chunks = [text[i:i + step] for i in range(0, len(text), step)]
    out = []
    for i, c in enumerate(chunks):
        udh = bytes([0x00, 0x03, ref, len(chunks), i + 1])
        ud = bytes([len(udh)]) + udh + c.encode("utf-16-be")
        out.append((SMSC + bytes([0x44]) + addr(oa) + bytes([0x00, 0x08]) + scts(n) + bytes([len(ud)])
                    + ud).hex().upper())
    return out


def wap_push_parts(oa, push, ref, n):
    step = 120
    chunks = [push[i:i + step] for i in range(0, len(push), step)]
    out = []
    for i, c in enumerate(chunks):
        udh = bytes([0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, ref, len(chunks), i + 1])
        ud = bytes([len(udh)]) + udh + c
        out.append((SMSC + bytes([0x44]) + addr(oa) + bytes([0x00, 0x04]) + scts(n) + bytes([len(ud)])
                    + ud).hex().upper())
    return out


def unpack7(data, nsept, skip_bits=0):
    out = []
    for i in range(nsept):
        bit = skip_bits + i * 7
        v = (int.from_bytes(data[bit // 8:bit // 8 + 2].ljust(2, b"\0"), "little") >> (bit % 8)) & 0x7F
        out.append(chr(v))
    return "".join(out)


def submit_text(hexpdu):
    """(recipient, text) of an SMS-SUBMIT as AT+CMGS got it (SMSC field first)."""
    b = bytes.fromhex(hexpdu)
    b = b[1 + b[0]:]
    fo = b[0]
    nd = b[2]
    da = b[4:4 + (nd + 1) // 2]
    digits = "".join("%x%x" % (x & 0xF, x >> 4) for x in da)[:nd]
    p = 4 + (nd + 1) // 2
    dcs = b[p + 1]
    p += 2
    vpf = (fo >> 3) & 3
    p += {0: 0, 2: 1, 1: 7, 3: 7}[vpf]
    udl = b[p]
    ud = b[p + 1:]
    udh_len = ud[0] + 1 if fo & 0x40 else 0
    if dcs & 0x0C == 0x08:
        return "+" + digits, ud[udh_len:udl].decode("utf-16-be")
    skip = (udh_len * 8 + 6) // 7 * 7 if udh_len else 0
    return "+" + digits, unpack7(ud, udl, skip)[skip // 7:]


