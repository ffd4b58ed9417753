#!/bin/sh
# libphonebridge tests — pb-sms command line: decode, encode | reassemble,
# exit status 65 with the byte offset on malformed input, one JSON document
# per line (indented only with --pretty), several PDUs and "-". Prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
# usage: pb-sms-cli.sh PB-SMS SOURCE_ROOT
set -u
pb=$1 root=$2
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
echo "1..12"
out=$("$pb" decode "$(cat "$root/data/samples/gsm7-extension.sms.hex")")
check "decode prints the text with extension characters" \
	'printf "%s" "$out" | grep -q "\"text\": \"Costs {5 €} ~ \[approx\] | see ^ and \\\\\\\\ too: ÄÖÜ ß é\""'
check "decode prints the originator and ISO 8601 time" \
	'printf "%s" "$out" | grep -q "+4915112345678" && printf "%s" "$out" | grep -q "\"scts\": \"2026-11-22T09:15:00+01:00\""'
out=$("$pb" decode "$(cat "$root/data/samples/concat-3part.sms.hex")")
check "decode prints the concatenation header" 'printf "%s" "$out" | grep -q "\"seq\": 3"'
text="Grüße 😀 $(printf 'x%.0s' $(seq 1 150))"
out=$("$pb" encode --to +4915112345678 --text "$text" --ref 9 | "$pb" reassemble)
check "encode | reassemble gives the text back" 'printf "%s" "$out" | grep -q "\"text\": \"$text\""'
check "encode splits into several parts" '[ "$("$pb" encode --to +49 --text "$text" | wc -l)" -eq 3 ]'
"$pb" decode 07912143 >/dev/null 2>"${TMPDIR:-/tmp}/pb-sms-err.$$"; rc=$?
check "malformed PDU exits 65 (EX_DATAERR)" '[ "$rc" -eq 65 ]'
check "the message names the byte offset" 'grep -q "at byte 2" "${TMPDIR:-/tmp}/pb-sms-err.$$"'
rm -f "${TMPDIR:-/tmp}/pb-sms-err.$$"
"$pb" decode 0G >/dev/null 2>&1; rc=$?
check "bad hex exits 65 (EX_DATAERR)" '[ "$rc" -eq 65 ]'
a=$(cat "$root/data/samples/gsm7-extension.sms.hex") b=$(cat "$root/data/samples/ucs2-emoji.sms.hex")
out=$("$pb" decode "$a" "$b")
check "decode of two PDUs: two JSON documents, one per line" \
	'[ "$(printf "%s\n" "$out" | wc -l)" -eq 2 ] && printf "%s\n" "$out" | sed -n 2p | grep -q "\"text\": \"Happy birthday"'
check "every line is a JSON document" \
	'printf "%s\n" "$out" | /usr/bin/python3 -c "import json, sys; [json.loads(l) for l in sys.stdin]"'
out=$(printf "%s\n%s\n" "$a" "$b" | "$pb" decode -)
check "decode - reads PDUs from standard input, one per line" '[ "$(printf "%s\n" "$out" | wc -l)" -eq 2 ]'
check "--pretty indents over several lines" '[ "$("$pb" decode "$a" --pretty | wc -l)" -gt 5 ]'
[ "$fail" -eq 0 ]
