#!/bin/sh
# The pb-screend systemd unit: `systemd-analyze verify` accepts it (with
# ExecStart pointing at the built daemon), and its offline security review
# keeps the exposure level at or below 1.5 (it is 1.1: the remaining points
# are network access, which a SIP daemon needs, AF_UNIX for sofia-sip's
# wake-up socket pair, no IP allow list, and the host's root directory).
# Usage: t-screend-unit.sh UNIT PB_SCREEND_BINARY. TAP output.
unit=$1
bin=$2
echo "1..3"
if ! command -v systemd-analyze >/dev/null 2>&1; then
	for i in 1 2 3; do echo "ok $i # SKIP systemd-analyze not installed"; done
	exit 0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/sbin/pb-screend|$bin|g" "$unit" > "$tmp/pb-screend.service"
if out=$(systemd-analyze verify --man=no "$tmp/pb-screend.service" 2>&1) && [ -z "$out" ]; then
	echo "ok 1 - systemd-analyze verify: no complaints"
else
	echo "not ok 1 - systemd-analyze verify"
	echo "$out" | sed 's/^/# /'
fi
sec=$(systemd-analyze security --offline=yes "$tmp/pb-screend.service" 2>&1)
rc=$?
level=$(echo "$sec" | sed -n 's/.*Overall exposure level for pb-screend.service: \([0-9.]*\).*/\1/p')
if [ $rc -ne 0 ] || [ -z "$level" ]; then
	# an older systemd-analyze without --offline
	echo "ok 2 # SKIP systemd-analyze security --offline=yes unavailable"
	echo "ok 3 # SKIP systemd-analyze security --offline=yes unavailable"
	exit 0
fi
echo "ok 2 - offline security review ran: exposure level $level"
# --threshold is in tenths
if systemd-analyze security --offline=yes --threshold=15 "$tmp/pb-screend.service" >/dev/null 2>&1; then
	echo "ok 3 - exposure level $level is at most 1.5"
else
	echo "not ok 3 - exposure level $level is above 1.5"
	echo "$sec" | grep '✗' | sed 's/^/# /'
fi
