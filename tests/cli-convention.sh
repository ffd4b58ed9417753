#!/bin/sh
# libphonebridge tests — one command line convention for the six programs
# (docs/conventions.md, "Programs"): --help and -h print the usage on
# standard output and exit 0; --version prints "PROGRAM (libphonebridge)
# VERSION"; a usage error says what was wrong ("PROGRAM: ...") before the
# usage, on standard error, and exits 64 (EX_USAGE); each man page documents
# the sysexits codes; bash completion offers each program's commands.
# Prints TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: cli-convention.sh SOURCE_ROOT VERSION PROGRAM...
set -u
src=$1 version=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
check() { # check WHAT CONDITION
	n=$((n + 1))
	if eval "$2"; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		sed 's/^/# out: /' "$tmp/out"
		sed 's/^/# err: /' "$tmp/err"
		fail=1
	fi
}
for prog in "$@"; do
	name=$(basename "$prog")
	for opt in --help -h; do
		"$prog" $opt >"$tmp/out" 2>"$tmp/err"
		rc=$?
		check "$name $opt: usage on stdout, exit 0" \
			'[ $rc -eq 0 ] && head -n 1 "$tmp/out" | grep -q "^usage: $name" && [ ! -s "$tmp/err" ]'
	done
	"$prog" --version >"$tmp/out" 2>"$tmp/err"
	rc=$?
	check "$name --version: \"$name (libphonebridge) $version\", exit 0" \
		'[ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "$name (libphonebridge) $version" ]'
	"$prog" --no-such-option >"$tmp/out" 2>"$tmp/err"
	rc=$?
	check "$name --no-such-option: what was wrong, then the usage, exit 64" \
		'[ $rc -eq 64 ] && [ ! -s "$tmp/out" ] &&
		 head -n 1 "$tmp/err" | grep -q "^$name: .*--no-such-option" &&
		 sed -n 2p "$tmp/err" | grep -q "^usage: $name"'
	man=$(ls "$src/docs/man/$name".[18] 2>/dev/null | head -n 1)
	: >"$tmp/out"
	[ -n "$man" ] && awk '/^\.SH EXIT STATUS/{p=1;next} /^\.SH/{p=0} p' "$man" >"$tmp/out"
	check "$name(${man##*.}): EXIT STATUS names sysexits and 64" \
		'grep -q sysexits "$tmp/out" && grep -q "^\.B 64" "$tmp/out"'
done
# bash completion (data/completion/phonebridge): the commands of each program
# "status" of the daemons: the running daemon's /health; none running at the
# configured address is exit 69 with a message saying so
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for prog in "$@"; do
	name=$(basename "$prog")
	case $name in
	pb-bridged)
		printf '[modem]\nbackend = at\ndevice = /dev/null\n[matrix]\nhomeserver = http://127.0.0.1:9\ntoken_file = %s/t\nowners = @o:x\n[bridge]\nstore = %s/b.db\nregion = DE\n[http]\nlisten = 127.0.0.1:%s\n' \
			"$tmp" "$tmp" "$port" >"$tmp/$name.conf" ;;
	pb-screend)
		printf '[forward]\ntarget = sip:o@127.0.0.1\n[http]\nlisten = 127.0.0.1:%s\n' "$port" >"$tmp/$name.conf" ;;
	*) continue ;;
	esac
	"$prog" -c "$tmp/$name.conf" status >"$tmp/out" 2>"$tmp/err"
	rc=$?
	check "$name status with no daemon listening: exit 69, says so" \
		'[ $rc -eq 69 ] && grep -q "^$name: status: the daemon is not running" "$tmp/err"'
	"$prog" -c - check <"$tmp/$name.conf" >"$tmp/out" 2>"$tmp/err"
	check "$name -c - check: the configuration from standard input" \
		'head -n 1 "$tmp/out" | grep -q "^✓ standard input: read"'
	"$prog" -c "$tmp/$name.conf" status --bogus >"$tmp/out" 2>"$tmp/err"
	rc=$?
	check "$name status --bogus: what was wrong, then the usage, exit 64" \
		'[ $rc -eq 64 ] && head -n 1 "$tmp/err" | grep -q "^$name: .*--bogus" && sed -n 2p "$tmp/err" | grep -q "^usage: $name"'
done
bc=/usr/share/bash-completion/bash_completion
for prog in "$@"; do
	name=$(basename "$prog")
	n=$((n + 1))
	if [ ! -r "$bc" ] || ! command -v bash >/dev/null 2>&1; then
		echo "ok $n - # SKIP bash-completion is not installed (Debian package bash-completion)"
		continue
	fi
	got=$(bash -c '. "$1"; . "$2"; COMP_WORDS=("$3" ""); COMP_CWORD=1; COMP_LINE="$3 "; COMP_POINT=${#COMP_LINE}
		_pb_programs; echo "${COMPREPLY[*]}"' sh "$bc" "$src/data/completion/phonebridge" "$name" 2>&1)
	case $name in
	pb-sms | pb-mms) first=decode ;;
	pb-modem) first=status ;;
	pb-matrix) first=whoami ;;
	*) first=check ;;
	esac
	case " $got " in
	*" $first "*) echo "ok $n - bash completes $name's commands ($got)" ;;
	*) echo "not ok $n - bash completion of $name: \"$got\" lacks \"$first\""; fail=1 ;;
	esac
done
echo "1..$n"
exit $fail
