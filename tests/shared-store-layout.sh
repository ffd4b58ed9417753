#!/bin/sh
# libphonebridge tests — the installed layout of one store for both daemons
# (docs/bridge.md "Both daemons together"): sysusers.d creates the group
# phonebridge, tmpfiles.d the directory /var/lib/phonebridge (2770
# root:phonebridge), both run in a scratch root; and each daemon's unit with
# the shared-store.conf drop-in still loads silently (systemd-analyze verify
# reads the drop-in through SYSTEMD_UNIT_PATH) and keeps its exposure at
# most 1.5. Prints TAP; skips with a reason where systemd's tools are missing.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: shared-store-layout.sh SOURCE_ROOT SBINDIR PB_BRIDGED BRIDGED_UNIT PB_SCREEND SCREEND_UNIT
# (the units as meson made them from data/systemd/*.service.in)
set -u
src=$1 sbindir=$2 bridged=$(readlink -f "$3") bridged_unit=$4 screend=$(readlink -f "$5") screend_unit=$6
echo "1..6"
for tool in systemd-analyze systemd-sysusers systemd-tmpfiles; do
	if ! command -v $tool >/dev/null 2>&1; then
		for i in 1 2 3 4 5 6; do echo "ok $i # SKIP $tool is not installed (Debian package systemd)"; done
		exit 0
	fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check N COND-EXIT-STATUS TEXT
	if [ "$2" -eq 0 ]; then echo "ok $1 - $3"; else echo "not ok $1 - $3"; fail=1; fi
}

root=$tmp/root
mkdir -p "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d" "$root/etc"
cp "$src/data/systemd/phonebridge.sysusers" "$root/usr/lib/sysusers.d/phonebridge.conf"
cp "$src/data/systemd/phonebridge.tmpfiles" "$root/usr/lib/tmpfiles.d/phonebridge.conf"
systemd-sysusers --root="$root" phonebridge.conf >/dev/null 2>&1 # as docs/bridge.md says
gid=$(sed -n 's/^phonebridge:x:\([0-9]*\):.*/\1/p' "$root/etc/group")
[ -n "$gid" ]
check 1 $? "sysusers.d/phonebridge.conf creates the group phonebridge"
systemd-tmpfiles --root="$root" --create phonebridge.conf >/dev/null 2>&1
got=$(stat -c '%a %u %g' "$root/var/lib/phonebridge" 2>/dev/null)
[ "$got" = "2770 0 $gid" ]
check 2 $? "tmpfiles.d/phonebridge.conf makes /var/lib/phonebridge 2770 root:phonebridge (got: $got)"

units=$tmp/units
mkdir "$units"
n=2
for unit in pb-bridged pb-screend; do
	prog=$bridged made=$bridged_unit
	[ "$unit" = pb-screend ] && prog=$screend made=$screend_unit
	sed "s|$sbindir/$unit|$prog|g" "$made" >"$units/$unit.service"
	mkdir "$units/$unit.service.d"
	cp "$src/data/systemd/shared-store.conf" "$units/$unit.service.d/"
	n=$((n + 1))
	out=$(cd "$units" && SYSTEMD_UNIT_PATH="$units:" systemd-analyze verify --man=no "$unit.service" 2>&1)
	[ $? -eq 0 ] && [ -z "$out" ]
	check $n $? "$unit.service with shared-store.conf: systemd-analyze verify is silent"
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
	n=$((n + 1))
	out=$(cd "$units" && SYSTEMD_UNIT_PATH="$units:" systemd-analyze security --offline=yes --threshold=15 "$unit.service" 2>&1)
	rc=$?
	score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	[ $rc -eq 0 ] && [ -n "$score" ]
	check $n $? "$unit.service with shared-store.conf: exposure ${score:-?} (at most 1.5)"
done
exit $fail
