#!/bin/sh
# libphonebridge tests — the library without its voice part, and with the
# codec alone (-Dvoice=disabled, -Dmessaging=disabled): each configures a
# tree of its own inside the build directory, builds it, runs its unit, abi
# and fuzz suites, installs it into a scratch directory and checks that
# nothing of the parts left out was built or installed (docs/architecture.md,
# "Components"). Prints TAP; suite "once" (a few minutes without ccache,
# seconds with a warm one).
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: build-without.sh SOURCE_ROOT BUILD_ROOT BUILDTYPE WERROR CC...
set -u
src=$1 build=$2 buildtype=$3 werror=$4
shift 4
CC="$*"
if command -v ccache >/dev/null 2>&1 && [ "${CC#ccache}" = "$CC" ]; then
	CC="ccache $CC"
fi
export CC
# the trees are throwaway: their objects may come from ccache whatever the
# directory they were compiled in
export CCACHE_NOHASHDIR=1 CCACHE_BASEDIR="$src"
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
run() { # run WHAT LOG COMMAND...: ok when COMMAND succeeds, else the log's tail
	what=$1 log=$2
	shift 2
	if "$@" >"$log" 2>&1; then ok "$what"; else not_ok "$what"; tail -n 30 "$log" | sed 's/^/# /'; fi
}

for part in voice messaging; do
	dir=$build/without-$part
	rm -rf "$dir"
	mkdir -p "$dir"
	run "-D$part=disabled: meson setup" "$dir/setup.log" \
		meson setup "$dir/tree" "$src" -Dbuildtype="$buildtype" -Dwerror="$werror" \
		-D$part=disabled -Dpython=disabled -Dbenches=false -Ddocs=disabled
	[ -f "$dir/tree/build.ninja" ] || continue
	run "-D$part=disabled: ninja builds every target" "$dir/build.log" ninja -C "$dir/tree"
	run "-D$part=disabled: the unit, abi and fuzz suites pass" "$dir/test.log" \
		meson test -C "$dir/tree" --suite unit --suite abi --suite fuzz --num-processes 2 --print-errorlogs
	run "-D$part=disabled: meson install" "$dir/install.log" meson install -C "$dir/tree" --destdir "$dir/dest"
	lib=$(find "$dir/dest" -name libphonebridge-codec.so.0 -printf '%h\n' | head -n 1)
	inc=$(find "$dir/dest" -name version.h -printf '%h\n' | head -n 1)
	case $part in
	voice) gone="libphonebridge-voice" there="libphonebridge-messaging" hdr=sip.h have="PB_HAVE_VOICE 0" ;;
	messaging) gone="libphonebridge-messaging" there="libphonebridge-codec" hdr=store.h have="PB_HAVE_MESSAGING 0" ;;
	esac
	if [ -n "$lib" ] && [ -e "$lib/$there.so.0" ] && ! ls "$lib/$gone"* >/dev/null 2>&1 &&
		[ ! -e "$inc/$hdr" ] && grep -q "$have" "$inc/version.h" &&
		! grep -q "$gone" "$lib/pkgconfig/libphonebridge.pc" &&
		[ ! -e "$dir/tree/examples/pb-screend/pb-screend" ]; then
		ok "-D$part=disabled: no $gone, no $hdr, $have, libphonebridge.pc without it, no pb-screend"
	else
		not_ok "-D$part=disabled: something of the $part part was built or installed"
		find "$dir/dest" -type f | sed 's/^/# /'
	fi
done
echo "1..$n"
exit $fail
