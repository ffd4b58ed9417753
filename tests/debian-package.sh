#!/bin/sh
# libphonebridge tests — the Debian packages (debian/, docs/packaging.md):
# dpkg-buildpackage -us -uc -b builds them from a copy of the source tree
# (DEB_BUILD_OPTIONS=nocheck: tools/test runs the tests), lintian finds no
# error, and the packages extracted into a scratch root work there: the
# installed pb-sms decodes a PDU, python3 imports phonebridge, a program
# builds against the -dev package with nothing but pkg-config and runs, the
# packaged units verify with the packaged paths, sysusers.d makes the two
# users, the packaged default configuration is refused by "check" with
# what is left to fill in, and the packaged daemons pass
# tests/daemon-check-test.py ("check --online" against the emulators). Nothing is installed on the machine or started.
# Prints TAP; suite "once" (about 2 minutes).
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: debian-package.sh SOURCE_ROOT
set -u
src=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
check() { # check WHAT COMMAND...: ok when COMMAND succeeds, else its output
	what=$1
	shift
	if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what"; printf '%s\n' "$out" | tail -n 30 | sed 's/^/# /'; fi
}
for tool in dpkg-buildpackage dh lintian; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "1..0 # SKIP $tool is missing (tools/bootstrap installs dpkg-dev, debhelper, dh-python, lintian)"
		exit 0
	fi
done

# --- the source tree as a clean clone has it (no build directories) --------
mkdir "$tmp/src"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		xargs -0 cp --parents -t "$tmp/src")
else
	(cd "$src" && tar --exclude='./build*' --exclude=./obj-* -cf - .) | (cd "$tmp/src" && tar -xf -)
fi

# --- build ------------------------------------------------------------------
export DEB_BUILD_OPTIONS="nocheck parallel=2"
export CCACHE_BASEDIR="$tmp"
if (cd "$tmp/src" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b builds the packages"
else
	not_ok "dpkg-buildpackage -us -uc -b"
	tail -n 40 "$tmp/build.log" | sed 's/^/# /'
	echo "1..$n"
	exit 1
fi
version=$(cd "$tmp/src" && dpkg-parsechangelog -S Version)
packages="libphonebridge-codec0 libphonebridge-messaging0 libphonebridge-voice0 libphonebridge-dev python3-phonebridge phonebridge-tools pb-bridged pb-screend"
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for p in $packages; do
	[ -f "$tmp/${p}_${version}_$arch.deb" ] || { not_ok "package $p built"; }
done
ok "eight packages: $packages"

# --- lintian: no errors (accepted warnings and infos: docs/packaging.md) ----
lintian --fail-on error --tag-display-limit 0 "$tmp/libphonebridge_${version}_$arch.changes" \
	>"$tmp/lintian.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && ! grep -q '^E:' "$tmp/lintian.log"; then
	ok "lintian: no errors ($(grep -c '^W:' "$tmp/lintian.log") warnings)"
else
	not_ok "lintian: errors (rc $rc)"
fi
grep -v 'root privileges' "$tmp/lintian.log" | sed 's/^/# /'

# --- the packages in a scratch root -------------------------------------------
root=$tmp/root
mkdir "$root"
for p in $packages; do
	dpkg-deb -x "$tmp/${p}_${version}_$arch.deb" "$root"
done
export LD_LIBRARY_PATH="$root/usr/lib/$multiarch"
check "the installed pb-sms decodes a PDU" sh -c \
	"'$root/usr/bin/pb-sms' decode \$(cat '$src/data/samples/ucs2-emoji.sms.hex') | grep -q '\"text\": *\"Happy birthday'"
check "the installed pb-sms says its version" sh -c \
	"[ \"\$('$root/usr/bin/pb-sms' --version)\" = 'pb-sms (libphonebridge) $version' ]"
check "python3 -c 'import phonebridge' finds the packaged module" sh -c \
	"cd '$tmp' && PYTHONPATH='$root/usr/lib/python3/dist-packages' /usr/bin/python3 -c \
	 'import phonebridge, sys; assert phonebridge.__file__.startswith(sys.argv[1]), phonebridge.__file__' '$root'"
# the packaged .pc with its prefix moved into the scratch root; the libraries
# it requires are the machine's (what the -dev package depends on)
mkdir "$tmp/pc"
for pc in "$root/usr/lib/$multiarch/pkgconfig/"libphonebridge*.pc; do
	sed "s|^prefix=/usr\$|prefix=$root/usr|" "$pc" >"$tmp/pc/${pc##*/}"
done
check "a program builds against libphonebridge-dev with pkg-config only, and runs" sh -c "
	export PKG_CONFIG_PATH='$tmp/pc'
	cc -std=c11 -o '$tmp/hello' '$src/examples/hello.c' \$(pkg-config --cflags --libs libphonebridge) &&
	'$tmp/hello'"
# the packages' dependencies follow the components: the tools need the
# messaging library but not the voice one, pb-bridged the same
for p in phonebridge-tools pb-bridged; do
	check "$p depends on libphonebridge-messaging0, not on libphonebridge-voice0" sh -c \
		"d=\$(dpkg-deb -f '$tmp/${p}_${version}_$arch.deb' Depends); echo \"\$d\";
		 echo \"\$d\" | grep -q libphonebridge-messaging0 && ! echo \"\$d\" | grep -q -e libphonebridge-voice0 -e sofia -e spandsp -e sndfile"
done
check "a program of the codec alone builds with pkg-config libphonebridge-codec and loads the codec alone" sh -c "
	export PKG_CONFIG_PATH='$tmp/pc'
	cc -std=c11 -o '$tmp/hello-codec' '$src/examples/hello.c' \$(pkg-config --cflags --libs libphonebridge-codec) &&
	'$tmp/hello-codec' && ! readelf -d '$tmp/hello-codec' | grep -E 'NEEDED.*(messaging|voice|curl|sofia)'"
for unit in pb-bridged pb-screend; do
	u=$root/lib/systemd/system/$unit.service
	check "$unit.service runs the packaged /usr/sbin/$unit" sh -c \
		"grep -q '^ExecStart=/usr/sbin/$unit ' '$u' && [ -x '$root/usr/sbin/$unit' ]"
	if command -v systemd-analyze >/dev/null 2>&1; then
		sed "s|/usr/sbin/$unit|$root/usr/sbin/$unit|g" "$u" >"$tmp/$unit.service"
		check "systemd-analyze verify $unit.service (packaged paths) is silent" sh -c \
			"out=\$(cd '$tmp' && systemd-analyze verify --man=no '$tmp/$unit.service' 2>&1); \
			 [ -z \"\$out\" ] || { printf '%s\n' \"\$out\"; exit 1; }"
	fi
done
if command -v systemd-sysusers >/dev/null 2>&1; then
	check "sysusers.d makes the users pb-bridged and pb-screend" sh -c \
		"out=\$(systemd-sysusers --root='$root' --dry-run 2>&1); printf '%s\n' \"\$out\" |
		 grep -q \"user 'pb-bridged'\" && printf '%s\n' \"\$out\" | grep -q \"user 'pb-screend'\""
fi
"$root/usr/sbin/pb-bridged" check -c "$root/etc/phonebridge/bridge.ini" >"$tmp/check.out" 2>&1
rc=$?
if [ $rc -eq 78 ] && grep -q '^✗ \[modem\] password_file /etc/phonebridge/router.pw' "$tmp/check.out" &&
	grep -q '^✗ \[matrix\] token_file' "$tmp/check.out"; then
	ok "pb-bridged check on the packaged default configuration: exit 78, says which secrets are missing"
else
	not_ok "pb-bridged check on the packaged default configuration (rc $rc)"
fi
sed 's/^/# /' "$tmp/check.out"
# the packaged daemons and tools through the whole of tests/daemon-check-test.py:
# check and check --online against the HiLink and AT emulators, the
# homeserver emulator, the test MMSC behind tinyproxy and kamailio
if PB_TOOLS_DIR="$root/usr/bin" PB_SOURCE_ROOT="$src" /usr/bin/python3 "$src/tests/daemon-check-test.py" \
	"$root/usr/sbin/pb-bridged" "$root/usr/sbin/pb-screend" >"$tmp/online.out" 2>&1; then
	ok "the packaged pb-bridged and pb-screend pass tests/daemon-check-test.py (check --online against the emulators, $(grep -c '^ok' "$tmp/online.out") cases)"
else
	not_ok "the packaged daemons in tests/daemon-check-test.py"
	grep -E '^not ok' -A3 "$tmp/online.out" | sed 's/^/# /'
fi
echo "1..$n"
exit $fail
