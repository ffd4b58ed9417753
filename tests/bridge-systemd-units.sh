#!/bin/sh
# libphonebridge tests — the daemons' systemd units as meson made them from
# data/systemd/*.service.in with this build's paths: they load
# (systemd-analyze verify, with the installed programs' path pointed at the
# built programs), are Type=notify with a watchdog
# and are hardened (systemd-analyze security --offline=yes, exposure at most
# 1.5 of 10: what is left is network access, which both daemons need, AF_UNIX
# (sofia-sip's wake-up socket pair), no IP allow list, and the serial devices
# pb-bridged may open). Prints TAP; skips with a reason where systemd-analyze is missing.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: bridge-systemd-units.sh SBINDIR BRIDGED_UNIT PB_BRIDGED SCREEND_UNIT PB_SCREEND
set -u
sbindir=$1
bridged_unit=$2 bridged=$(readlink -f "$3") screend_unit=$4 screend=$(readlink -f "$5")
echo "1..6"
if ! command -v systemd-analyze >/dev/null 2>&1; then
	for i in 1 2 3 4 5 6; do
		echo "ok $i # SKIP systemd-analyze is not installed (Debian package systemd)"
	done
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
for unit in pb-bridged pb-screend; do
	prog=$bridged made=$bridged_unit
	[ "$unit" = pb-screend ] && prog=$screend made=$screend_unit
	n=$((n + 1))
	# the same conventions for both: notify, watchdog, a sysusers.d user,
	# the one "check" spelling before the start
	missing=""
	for key in Type=notify WatchdogSec=60s "User=$unit" "StateDirectory=$unit" \
		"ExecStartPre=$sbindir/$unit" "ExecStart=$sbindir/$unit"; do
		grep -q "^$key" "$made" || missing="$missing $key"
	done
	grep -q "^ExecStartPre=$sbindir/$unit .*check\( \|$\)" "$made" || missing="$missing check"
	if [ -z "$missing" ]; then
		echo "ok $n - $unit.service: notify, watchdog, user $unit, paths of this installation ($sbindir)"
	else
		echo "not ok $n - $unit.service lacks:$missing"
		fail=1
	fi
	# the unit as installed, but running the programs of this build
	sed "s|$sbindir/$unit|$prog|g" "$made" >"$tmp/$unit.service"
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
