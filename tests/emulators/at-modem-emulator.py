#!/usr/bin/python3
# libphonebridge tests — an AT-command GSM modem on a pseudo-terminal.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Speaks TS 27.007 / TS 27.005 in PDU mode the way USB sticks do: echo on
# until ATE0, message storage with +CMGL/+CMGR/+CMGD (listing marks unread
# messages read), AT+CMGS with the "> " prompt and Ctrl-Z, +CMTI/+CMT/+CDS
# indications, +CMS ERROR codes, AT+CCFC, AT+CUSD answered unsolicited.
#
# Standard library only. Creates the pty, links it at --link, prints
# "READY <link>". Control lines on stdin (the test's side of the world):
#   deliver HEX          store a PDU (SMSC + TPDU) and say +CMTI
#   deliver-quiet HEX    store it without saying anything (a stick that never sends +CMTI)
#   deliver-inside HEX   store it; the +CMTI comes in the middle of the next command's answer
#   direct HEX           +CMT: the message is pushed, not stored
#   report HEX           +CDS: a status report is pushed
#   reports MODE         what the network answers to a submit that asks for a
#                        status report (TP-SRR): ok (default: TP-ST 0x00),
#                        fail (0x41), expired (0x46), pending (0x30, then 0x00),
#                        none (no report ever comes); sent as +CDS with
#                        AT+CNMI ds=1, else stored (as with ds=2)
#   store-garbled TEXT   store an entry whose PDU line is not hex
#   silent on|off        stop answering (a hung modem) / answer again
#   cmgs-error N         the next N AT+CMGS answer ERROR at once, before the
#                        prompt (nothing is sent)
#   cmgs-swallow N       the next N PDUs are taken and sent (they count in
#                        "sent?") but their +CMGS answer never comes, as when
#                        the answer is lost on a busy network or a flaky line;
#                        the modem is back in command mode afterwards
#   unplug / replug      the device goes away / comes back at the same path
#   sent?                print "SENT <hex>,<hex>,..." of submitted PDUs on stdout
#   storage?             print "STORAGE <index>,<index>,..." of the stored messages
#   prompt?              print "PROMPT yes" while an AT+CMGS waits for its PDU
#                        (the modem stays in that state, whoever closed the line,
#                        until Ctrl-Z or ESC), else "PROMPT no"
#   forward?             print "FORWARD <reason>=<number>,..." of active call forwards
import argparse
import os
import pty
import select
import sys
import tty

# the PDU building blocks the tests use too (semi-octets, addresses, GSM 7-bit)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bridge_pdu import SMSC, addr, pack7, semi  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--link", required=True)
ap.add_argument("--no-cnmi", action="store_true", help="refuse every AT+CNMI")
ap.add_argument("--samples", action="store_true", help="start with sample messages in storage")
ap.add_argument("--echo-always", action="store_true", help="ignore ATE0 (echo stays on, as on some sticks)")
args = ap.parse_args()

SCTS = semi("24050110300000")  # 2024-05-01 10:30:00 +00


def deliver7(oa, text):
    return SMSC + bytes([0x04]) + addr(oa) + bytes([0x00, 0x00]) + SCTS + bytes([len(text)]) + pack7(text)


def deliver_data(oa, udh, data):
    ud = bytes([len(udh)]) + udh + data
    return SMSC + bytes([0x44]) + addr(oa) + bytes([0x00, 0x04]) + SCTS + bytes([len(ud)]) + ud


def wap_push_parts(oa, ref=0x42):
    mms = (b"\x8c\x82" + b"\x98T20240501\x00" + b"\x8d\x92" + b"\x89\x15\x80+15550100/TYPE=PLMN\x00"
           + b"\x8a\x80" + b"\x8e\x02\x10\x00" + b"\x88\x05\x81\x03\x03\xf4\x80"
           + b"\x83http://mmsc.example/mms/0123456789abcdef\x00")
    push = b"\x01\x06\x03\xbe\xaf\x84" + mms
    half = len(push) // 2
    parts = [push[:half], push[half:]]
    out = []
    for i, p in enumerate(parts):
        udh = b"\x05\x04\x0b\x84\x23\xf0" + bytes([0x00, 0x03, ref, len(parts), i + 1])
        out.append(deliver_data(oa, udh, p))
    return out


storage = {}  # index -> [stat, hex]
sent = []
forwards = {}
echo = True
cnmi = False
silent = False
inside = []
pending_prompt = None  # the length AT+CMGS announced
report_mode = "ok"
cmgs_errors = [0]
cmgs_swallow = [0]


def status_report(submit_hex, mr, st):
    """The SMSC + SMS-STATUS-REPORT the network sends for a submit (TS 23.040 9.2.2.3)."""
    b = bytes.fromhex(submit_hex)
    t = b[1 + b[0]:]
    ndig = t[2]
    ra = t[2:4 + (ndig + 1) // 2]
    dt = semi("24050110310000")
    return (SMSC + bytes([0x06, mr]) + ra + SCTS + dt + bytes([st])).hex().upper()


def wants_report(submit_hex):
    b = bytes.fromhex(submit_hex)
    return bool(b[1 + b[0]] & 0x20)


def send_report(h):
    if cnmi:
        out("\r\n+CDS: %d\r\n%s\r\n" % (tpdu_len(h), h))
    else:
        store(h)


def store(pdu_hex, stat=0):
    i = 1
    while i in storage:
        i += 1
    storage[i] = [stat, pdu_hex]
    return i


if args.samples:
    store(deliver7("+15550001", "Hello from the stick").hex().upper())
    for p in wap_push_parts("+15550002"):
        store(p.hex().upper())
    store("ZZ-NOT-HEX", 0)  # a garbled entry
    store(deliver7("+15550003", "After the garbled one").hex().upper(), 1)

master = slave = None


def plug():
    global master, slave
    master, slave = pty.openpty()
    tty.setraw(slave)
    tmp = args.link + ".new"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.ttyname(slave), tmp)
    os.replace(tmp, args.link)


def unplug():
    global master, slave
    if os.path.lexists(args.link):
        os.unlink(args.link)
    os.close(master)
    os.close(slave)
    master = slave = None


def out(s):
    if master is not None:
        os.write(master, s.encode() if isinstance(s, str) else s)


def tpdu_len(h):
    b = bytes.fromhex(h)
    return len(b) - b[0] - 1


def answer(lines, final="OK"):
    body = ""
    for i, l in enumerate(lines):
        body += "\r\n" + l
        if inside and i == len(lines) // 2:
            body += "\r\n" + inside.pop(0)
    out(body + ("\r\n" if lines else "") + "\r\n" + final + "\r\n")


def command(c):
    global echo, cnmi, pending_prompt
    u = c.upper()
    if u in ("AT", "ATZ") or u.startswith("AT+CMEE") or u.startswith("AT+CMGF=0") or u.startswith("AT+CMMS") \
            or u.startswith("AT+COPS="):
        return answer([])
    if u in ("ATE0", "ATE1"):
        echo = u == "ATE1" or args.echo_always
        return answer([])
    if u.startswith("AT+CPMS="):
        return answer(["+CPMS: %d,100,%d,100,%d,100" % ((len(storage),) * 3)])
    if u.startswith("AT+CNMI="):
        if args.no_cnmi:
            return answer([], "ERROR")
        cnmi = True
        return answer([])
    if u == "AT+CMGL=4":
        lines = []
        for i in sorted(storage):
            st, h = storage[i]
            try:
                n = tpdu_len(h)
            except ValueError:
                n = len(h) // 2
            lines += ["+CMGL: %d,%d,,%d" % (i, st, n), h]
            if st == 0:
                storage[i][0] = 1  # listing marks it read, as modems do
        return answer(lines)
    if u.startswith("AT+CMGR="):
        i = int(u[8:] or "0")
        if i not in storage:
            return answer([], "+CMS ERROR: 321")
        st, h = storage[i]
        if st == 0:
            storage[i][0] = 1
        return answer(["+CMGR: %d,,%d" % (st, tpdu_len(h)), h])
    if u.startswith("AT+CMGD="):
        storage.pop(int(u[8:].split(",")[0] or "0"), None)
        return answer([])
    if u.startswith("AT+CMGS=") and cmgs_errors[0] > 0:
        cmgs_errors[0] -= 1
        return answer([], "ERROR")
    if u.startswith("AT+CMGS="):
        pending_prompt = int(u[8:])
        out("\r\n> ")
        return
    if u == "AT+CSQ":
        return answer(["+CSQ: 21,99"])
    if u == "AT+COPS?":
        return answer(['+COPS: 0,0,"Example Mobile",7'])
    if u == "AT+CREG?":
        return answer(["+CREG: 0,5"])
    if u == "AT+CPIN?":
        return answer(["+CPIN: READY"])
    if u.startswith("AT+CCFC="):
        f = c[8:].split(",")
        reason, mode = int(f[0]), int(f[1])
        if mode == 2:
            if reason in forwards:
                return answer(['+CCFC: 1,1,"%s",145' % forwards[reason], "+CCFC: 0,4"])
            return answer(["+CCFC: 0,7"])
        if mode == 3:
            forwards[reason] = f[2].strip('"')
        elif mode == 4:
            forwards.pop(reason, None)
        return answer([])
    if u.startswith("AT+CUSD=1,"):
        answer([])
        out('\r\n+CUSD: 0,"%s",72\r\n' % "Balance: 5.00 \u20ac".encode("utf-16-be").hex().upper())
        return
    answer([], "ERROR")


def control(line):
    global silent, report_mode
    w = line.split(" ", 1)
    op, arg = w[0], (w[1] if len(w) > 1 else "")
    if op == "deliver":
        i = store(arg)
        if cnmi:
            out('\r\n+CMTI: "ME",%d\r\n' % i)
    elif op == "deliver-quiet":
        store(arg)
    elif op == "deliver-inside":
        i = store(arg)
        inside.append('+CMTI: "ME",%d' % i)
    elif op == "direct":
        out("\r\n+CMT: ,%d\r\n%s\r\n" % (tpdu_len(arg), arg))
    elif op == "report":
        out("\r\n+CDS: %d\r\n%s\r\n" % (tpdu_len(arg), arg))
    elif op == "reports":
        report_mode = arg
    elif op == "store-garbled":
        store(arg)
    elif op == "silent":
        silent = arg == "on"
    elif op == "cmgs-error":
        cmgs_errors[0] = int(arg)
    elif op == "cmgs-swallow":
        cmgs_swallow[0] = int(arg)
    elif op == "unplug":
        unplug()
    elif op == "replug":
        plug()
    elif op == "sent?":
        print("SENT " + ",".join(sent), flush=True)
    elif op == "storage?":
        print("STORAGE " + ",".join(str(i) for i in sorted(storage)), flush=True)
    elif op == "prompt?":
        print("PROMPT " + ("yes" if pending_prompt is not None else "no"), flush=True)
    elif op == "forward?":
        print("FORWARD " + ",".join("%d=%s" % kv for kv in sorted(forwards.items())), flush=True)
    elif op == "samples?":
        print("SAMPLES " + ",".join(p.hex().upper() for p in wap_push_parts("+15550009", 0x77)), flush=True)


plug()
print("READY " + args.link, flush=True)
buf = b""
ctl = b""
while True:
    fds = [sys.stdin.fileno()] + ([master] if master is not None else [])
    r, _, _ = select.select(fds, [], [])
    if sys.stdin.fileno() in r:
        d = os.read(sys.stdin.fileno(), 4096)
        if not d:
            break
        ctl += d
        while b"\n" in ctl:
            line, ctl = ctl.split(b"\n", 1)
            control(line.decode().strip())
    if master is not None and master in r:
        try:
            d = os.read(master, 4096)
        except OSError:
            continue
        if silent:
            continue
        buf += d
        while True:
            if pending_prompt is not None:
                if b"\x1a" not in buf and b"\x1b" not in buf:
                    break
                cut = min(i for i in (buf.find(b"\x1a"), buf.find(b"\x1b")) if i >= 0)
                data, esc, buf = buf[:cut], buf[cut:cut + 1], buf[cut + 1:]
                if echo:
                    out(data)
                n, pending_prompt = pending_prompt, None
                if esc == b"\x1b":
                    answer([])
                    continue
                h = data.decode(errors="replace").strip()
                try:
                    ok = tpdu_len(h) == n
                except ValueError:
                    ok = False
                if not ok:
                    answer([], "+CMS ERROR: 304")
                    continue
                sent.append(h)
                mr = len(sent) % 256  # TP-MR: 1, 2, ... wrapping at 256
                if cmgs_swallow[0] > 0:
                    cmgs_swallow[0] -= 1
                    continue  # it went out; its answer is lost
                answer(["+CMGS: %d" % mr])
                if wants_report(h) and report_mode != "none":
                    if report_mode == "pending":
                        send_report(status_report(h, mr, 0x30))
                    st = {"ok": 0x00, "pending": 0x00, "fail": 0x41, "expired": 0x46}.get(report_mode, 0)
                    send_report(status_report(h, mr, st))
                continue
            if b"\r" not in buf:
                break
            line, buf = buf.split(b"\r", 1)
            line = line.strip(b"\n")
            # V.250 5.2.1: a command line starts at "AT"; what comes before
            # it (an ESC sent to leave a prompt, line noise) is ignored
            at = line.upper().find(b"AT")
            if echo:
                out(line[max(at, 0):] + b"\r")
            if at >= 0:
                command(line[at:].decode(errors="replace").strip())
