#!/bin/sh
# libphonebridge tests — the daemons' systemd units (data/systemd/): they
# load (systemd-analyze verify, with ExecStart pointed at the built programs)
# and are hardened (systemd-analyze security --offline=yes, exposure at most
# 1.5 of 10: what is left is network access, which both daemons need, AF_UNIX
# (sofia-sip's wake-up socket pair), no IP allow list, and the serial devices
# pb-bridged may open). Prints TAP; skips with a reason where systemd-analyze is missing.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-systemd-units.sh SOURCE_ROOT PB_BRIDGED PB_SCREEND
set -u
src=$1 bridged=$(readlink -f "$2") screend=$(readlink -f "$3")
echo "1..4"
if ! command -v systemd-analyze >/dev/null 2>&1; then
	for i in 1 2 3 4; do
		echo "ok $i # SKIP systemd-analyze is not installed (Debian package systemd)"
	done
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
for unit in pb-bridged pb-screend; do
	prog=$bridged
	[ "$unit" = pb-screend ] && prog=$screend
	# the unit as installed, but running the programs of this build
	sed "s|/usr/sbin/$unit|$prog|g" "$src/data/systemd/$unit.service" >"$tmp/$unit.service"
	n=$((n + 1))
	if out=$(cd "$tmp" && systemd-analyze verify --man=no "$tmp/$unit.service" 2>&1) && [ -z "$out" ]; then
		echo "ok $n - $unit.service: systemd-analyze verify is silent"
	else
		echo "not ok $n - $unit.service: systemd-analyze verify"
		printf '%s\n' "$out" | sed 's/^/# /'
		fail=1
	fi
	n=$((n + 1))
	out=$(cd "$tmp" && systemd-analyze security --offline=yes --threshold=15 "$tmp/$unit.service" 2>&1)
	rc=$?
	score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ $rc -eq 0 ] && [ -n "$score" ]; then
		echo "ok $n - $unit.service: exposure $score (at most 1.5)"
	else
		echo "not ok $n - $unit.service: exposure ${score:-?} (rc $rc)"
		printf '%s\n' "$out" | grep '✗' | sed 's/^/# /'
		fail=1
	fi
done
exit $fail
