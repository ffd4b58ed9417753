#!/bin/sh
# libphonebridge tests — the pb-mms program: decode (plain, --push,
# --parts-dir with hostile names and planted links, the size cap,
# --salvage), encode, and exit status 2 with a byte offset for malformed
# input. TAP output.
# usage: test-pb-mms.sh PB_MMS SOURCE_ROOT
set -u
pbmms=$1 root=$2
py=${PB_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { # description, then a command that must succeed
	d=$1; shift
	if "$@" >"$tmp/out" 2>&1; then ok "$d"; else not_ok "$d"; sed 's/^/# /' "$tmp/out"; fi
}
# json FILE PYTHON-EXPRESSION-ON-d
json() { "$py" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"; }
unhex() { "$py" -c "import sys,binascii; sys.stdout.buffer.write(binascii.unhexlify(''.join(sys.argv[1:])))" "$@"; }

"$pbmms" decode "$root/data/samples/picture-message.mms" >"$tmp/rc.json"
check "decode retrieve-conf sample" json "$tmp/rc.json" \
	'd["message_type"]=="m-retrieve-conf" and d["mms_version"]=="1.3" and d["date"]=="2023-11-14T22:13:20Z" and len(d["parts"])==3 and d["parts"][1]["text"].startswith("Greetings") and d["parts"][2]["content_type"]=="image/gif" and len(d["parts"][2]["sha256"])==64 and d["start"]=="<smil>"'

"$pbmms" decode --push "$root/data/samples/mms-notification.push" >"$tmp/ni.json"
check "decode --push notification sample" json "$tmp/ni.json" \
	'd["message_type"]=="m-notification-ind" and d["push"]["application_id"]=="x-wap-application:mms.ua" and d["content_location"].startswith("http://") and d["expiry"]=="PT604800S"'

# an SI push is reported, not rejected
unhex 01 06 01 ae 02056a00 >"$tmp/si.push"
"$pbmms" decode --push "$tmp/si.push" >"$tmp/si.json"
check "decode --push reports a Service Indication" json "$tmp/si.json" 'd["push"]["kind"]=="si"'

# malformed: exit status 2 and the byte offset
head -c 40 "$root/data/samples/picture-message.mms" >"$tmp/cut.mms"
unhex 8c 84 96 1f >>"$tmp/cut.mms"
"$pbmms" decode "$tmp/cut.mms" >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc -eq 65 ] && grep -q 'malformed at byte [0-9]' "$tmp/err"; then ok "malformed input: exit 65 (EX_DATAERR) with an offset"; else not_ok "malformed input: exit $rc"; cat "$tmp/err"; fi
unhex 01 06 00 be >"$tmp/bad.push"
"$pbmms" decode --push "$tmp/bad.push" >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc -eq 65 ] && grep -q 'byte 2' "$tmp/err"; then ok "malformed push: exit 65, byte 2"; else not_ok "malformed push: exit $rc"; cat "$tmp/err"; fi

# --parts-dir with hostile names stays inside the directory
# parts: name="../../evil.jpg", Content-Location "/etc/passwd", name=".." text
unhex 8c84 8d93 84a3 03 1201 119e85 2e2e2f2e2e2f6576696c2e6a706700 41 0e01 9e8e 2f6574632f70617373776400 42 0601 058385 2e2e00 43 >"$tmp/hostile.mms"
mkdir "$tmp/parts" "$tmp/parts/sub"
"$pbmms" decode --parts-dir "$tmp/parts/sub" "$tmp/hostile.mms" >"$tmp/h.json"
check "hostile part names: safe files inside --parts-dir" sh -c \
	"[ -f '$tmp/parts/sub/evil.jpg' ] && [ -f '$tmp/parts/sub/passwd.jpg' ] && [ -f '$tmp/parts/sub/part-3.txt' ] && [ \$(ls '$tmp/parts' | wc -l) -eq 1 ] && [ \$(ls '$tmp/parts/sub' | wc -l) -eq 3 ]"

# links planted under a part's name are never written through (symbolic or
# hard), and say which name; the other parts are written; an existing
# plain file is replaced (by rename), and no temporary file stays behind
mkdir "$tmp/sym" "$tmp/hard"
printf keep >"$tmp/victim1"; printf keep >"$tmp/victim2"
ln -s "$tmp/victim1" "$tmp/sym/evil.jpg"
ln "$tmp/victim2" "$tmp/hard/evil.jpg"
"$pbmms" decode --parts-dir "$tmp/sym" "$tmp/hostile.mms" >/dev/null 2>"$tmp/err"; rc=$?
check "a planted symbolic link is not followed, and named" sh -c \
	"[ $rc -eq 1 ] && [ \"\$(cat '$tmp/victim1')\" = keep ] && [ -L '$tmp/sym/evil.jpg' ] && grep -q 'sym/evil.jpg is a symbolic link' '$tmp/err' && [ -f '$tmp/sym/passwd.jpg' ] && [ -f '$tmp/sym/part-3.txt' ]"
"$pbmms" decode --parts-dir "$tmp/hard" "$tmp/hostile.mms" >/dev/null 2>"$tmp/err"; rc=$?
check "a planted hard link is not written through, and named" sh -c \
	"[ $rc -eq 1 ] && [ \"\$(cat '$tmp/victim2')\" = keep ] && grep -q 'hard/evil.jpg has other hard links' '$tmp/err'"
"$pbmms" decode --parts-dir "$tmp/parts/sub" "$tmp/hostile.mms" >/dev/null 2>"$tmp/err"; rc=$?
check "decoding again replaces the plain files, leaves no temporary file" sh -c \
	"[ $rc -eq 0 ] && [ \$(ls -A '$tmp/parts/sub' | wc -l) -eq 3 ]"

# input size: capped like fetch's answers (4 MiB), and configurable
"$pbmms" decode /dev/zero >/dev/null 2>"$tmp/err"; rc=$?
check "decode /dev/zero stops at the size cap" sh -c "[ $rc -eq 1 ] && grep -q 'larger than 4194304 bytes' '$tmp/err'"
"$pbmms" decode --max-size 100 "$root/data/samples/picture-message.mms" >/dev/null 2>"$tmp/err"; rc=$?
check "--max-size 100 refuses a larger file" sh -c "[ $rc -eq 1 ] && grep -q 'larger than 100 bytes' '$tmp/err'"

# a PDU cut inside its multipart: refused; read with --salvage, marked
size=$(wc -c <"$root/data/samples/picture-message.mms")
head -c $((size - 20)) "$root/data/samples/picture-message.mms" >"$tmp/cut2.mms"
"$pbmms" decode "$tmp/cut2.mms" >/dev/null 2>"$tmp/err"; rc=$?
check "a cut multipart is refused (exit 65, data error)" sh -c "[ $rc -eq 65 ] && grep -q 'malformed at byte' '$tmp/err'"
"$pbmms" decode --salvage "$tmp/cut2.mms" >"$tmp/salv.json"
check "--salvage reads what is there, marked incomplete" json "$tmp/salv.json" \
	'd["incomplete"] is True and d["warning"]["offset"] > 0 and len(d["parts"]) == 2'

# encode, then decode what was encoded
"$pbmms" encode notifyresp --transaction-id T42 --status deferred >"$tmp/nr.mms"
"$pbmms" decode "$tmp/nr.mms" >"$tmp/nr.json"
check "encode notifyresp round trip" json "$tmp/nr.json" \
	'd["message_type"]=="m-notifyresp-ind" and d["transaction_id"]=="T42" and d["status"]=="Deferred"'
"$pbmms" encode ack --transaction-id T43 >"$tmp/ack.mms"
"$pbmms" decode "$tmp/ack.mms" >"$tmp/ack.json"
check "encode ack round trip" json "$tmp/ack.json" 'd["message_type"]=="m-acknowledge-ind" and d["transaction_id"]=="T43"'
printf '\377\330\377\331' >"$tmp/photo.jpg"
"$pbmms" encode send-req --from +48600123456 --to +48600654321 --to a@b.c --subject "Zażółć" \
	--text "Cześć" --attach "$tmp/photo.jpg" >"$tmp/sr.mms"
"$pbmms" decode "$tmp/sr.mms" >"$tmp/sr.json"
check "encode send-req round trip" json "$tmp/sr.json" \
	'd["message_type"]=="m-send-req" and d["from"]=="+48600123456" and d["to"]==["+48600654321","a@b.c"] and d["subject"]=="Zażółć" and [p["content_type"] for p in d["parts"]]==["application/smil","text/plain","image/jpeg"] and d["parts"][2]["filename"]=="photo.jpg" and d["parts"][2]["size"]==4'
# "-" reads a part from standard input; --part-type/--part-name name it
printf '\377\330\377\331' | "$pbmms" encode send-req --from +48600123456 --to +48600654321 \
	--part-type image/jpeg --part-name cam.jpg --attach - --attach "$tmp/photo.jpg" >"$tmp/sr-in.mms"
"$pbmms" decode "$tmp/sr-in.mms" >"$tmp/sr-in.json"
check "encode send-req --attach - with --part-type and --part-name" json "$tmp/sr-in.json" \
	'[(p["content_type"], p["filename"], p["size"]) for p in d["parts"][1:]]==[("image/jpeg","cam.jpg",4),("image/jpeg","photo.jpg",4)]'
printf 'hi' | "$pbmms" encode send-req --from +48600123456 --to +48600654321 --attach - >"$tmp/sr-in2.mms"
"$pbmms" decode "$tmp/sr-in2.mms" >"$tmp/sr-in2.json"
check "encode send-req --attach - alone: part \"stdin\", application/octet-stream" json "$tmp/sr-in2.json" \
	'[(p["content_type"], p["filename"]) for p in d["parts"][1:]]==[("application/octet-stream","stdin")]'
"$pbmms" encode send-req --from +1 --to +2 --part-name x.jpg >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc -eq 64 ] && grep -q "no --attach after it" "$tmp/err"; then ok "--part-name without --attach: exit 64, says why"
else not_ok "--part-name without --attach: exit $rc"; fi
echo x | "$pbmms" encode send-req --from +1 --to +2 --attach - --attach - >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc -eq 64 ] && grep -q "standard input can be attached once" "$tmp/err"; then ok "--attach - twice: exit 64, says why"
else not_ok "--attach - twice: exit $rc"; fi
"$pbmms" encode bogus >/dev/null 2>&1; rc=$?
if [ $rc -eq 64 ]; then ok "unknown command: exit 64 (EX_USAGE)"; else not_ok "unknown command: exit $rc"; fi

echo "1..$n"
[ $failed -eq 0 ]
