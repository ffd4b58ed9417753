#!/bin/sh
# libphonebridge tests — pb-matrix against the homeserver emulator: every
# command, password and token logins, refusal of a readable secret file,
# a sync loop stopped by SIGTERM, login --save-token (mode 0600, never
# through a link, one device across runs) and logout. Prints TAP.
# With PB_TEST_HOMESERVER set (tests/synapse.py) the same cases run against
# that real homeserver, as the users alice$PB_TEST_USER_SUFFIX and
# bob$PB_TEST_USER_SUFFIX; discovery through .well-known is the emulator's.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: matrix-cli.sh PB_MATRIX_BINARY
set -u
bin=$1
root=${PB_SOURCE_ROOT:-$(dirname "$0")/..}
py=${PB_PYTHON:-/usr/bin/python3}
[ -x "$py" ] || py=/usr/bin/python3
tmp=$(mktemp -d)
hs_pid=
cleanup() {
	[ -n "$hs_pid" ] && kill "$hs_pid" 2>/dev/null && wait "$hs_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$tmp/err" 2>/dev/null; }
check() { # description, then a command that must succeed
	d=$1; shift
	if "$@" 2>"$tmp/err"; then ok "$d"; else not_ok "$d"; fi
}

echo "1..22"
sfx=${PB_TEST_USER_SUFFIX:-}
alice=alice$sfx bob=bob$sfx
if [ -n "${PB_TEST_HOMESERVER:-}" ]; then
	url=$PB_TEST_HOMESERVER
else
	"$py" "$root/tests/matrix-homeserver.py" >"$tmp/port" 2>"$tmp/hs.log" &
	hs_pid=$!
	# wait for the "port N" line (generous deadline; polls a condition)
	i=0
	while ! grep -q '^port ' "$tmp/port" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 600 ]; then echo "Bail out! homeserver emulator did not start"; exit 1; fi
		sleep 0.1
	done
	url="http://127.0.0.1:$(sed -n 's/^port //p' "$tmp/port")"
fi

printf 'wonderland\n' >"$tmp/pw"
chmod 600 "$tmp/pw"
login="--homeserver $url --user $alice --password-file $tmp/pw"

check "whoami with a password" sh -c "'$bin' $login whoami >'$tmp/who' && grep -q '\"user_id\":\"@$alice:localhost\"' '$tmp/who'"

chmod 644 "$tmp/pw"
if "$bin" $login whoami >/dev/null 2>"$tmp/err"; then not_ok "a world-readable password file is refused"
elif grep -q 'chmod 600' "$tmp/err"; then ok "a world-readable password file is refused"
else not_ok "a world-readable password file is refused"; fi
chmod 600 "$tmp/pw"

# --password-file -: one line of standard input, and no more of it
stdin_login="--homeserver $url --user $alice --password-file -"
check "--password-file - reads the password from standard input" sh -c "printf 'wonderland\\n' | '$bin' $stdin_login whoami | grep -q '\"user_id\":\"@$alice:localhost\"'"
check "--password-file - leaves what follows the line for the next reader" sh -c "printf 'wonderland\\nnext line\\n' | { '$bin' $stdin_login whoami >/dev/null && IFS= read -r rest && [ \"\$rest\" = 'next line' ]; }"
check "--password-file - with nothing on standard input is refused, saying so" sh -c "! '$bin' $stdin_login whoami </dev/null 2>'$tmp/err-stdin' && grep -q 'no password on standard input' '$tmp/err-stdin'"
check "--password-file - and send-file ROOM - together: a usage error (64)" sh -c "'$bin' $stdin_login send-file '!r:localhost' - </dev/null 2>/dev/null; [ \$? -eq 64 ]"

check "create-dm" sh -c "'$bin' $login create-dm @$bob:localhost --name Bob >'$tmp/dm' && grep -q '\"room_id\":\"!' '$tmp/dm'"
room=$(sed -n 's/.*"room_id":"\([^"]*\)".*/\1/p' "$tmp/dm")

# a token file: log in once through the API to get a token
curl -s -X POST "$url/_matrix/client/v3/login" \
	-d '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"'$alice'"},"password":"wonderland"}' |
	sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p' >"$tmp/token"
chmod 600 "$tmp/token"
check "whoami with a token file" sh -c "'$bin' --homeserver $url --token-file '$tmp/token' whoami | grep -q '@$alice:localhost'"

check "send" sh -c "'$bin' --homeserver $url --token-file '$tmp/token' send '$room' 'hello from the CLI' --txn cli-1 >'$tmp/sent' && grep -q '\"event_id\":\"\\$' '$tmp/sent'"
check "send again with the same txn id (same token) gives the same event" sh -c "'$bin' --homeserver $url --token-file '$tmp/token' send '$room' 'hello from the CLI' --txn cli-1 >'$tmp/sent2' && cmp -s '$tmp/sent' '$tmp/sent2'"


printf 'GIF89a\040\003\130\002\000' >"$tmp/pic.gif"
check "send-file" sh -c "'$bin' $login send-file '$room' '$tmp/pic.gif' >'$tmp/file' && grep -q event_id '$tmp/file'"

check "send-file - reads standard input (type probed, --name shown)" sh -c "'$bin' $login send-file '$room' - --name piped.gif <'$tmp/pic.gif' >'$tmp/file2' && grep -q event_id '$tmp/file2'"
check "sync --once shows the messages" sh -c "'$bin' $login sync --once >'$tmp/sync' && grep -q 'hello from the CLI' '$tmp/sync' && grep -q '\"msgtype\":\"m.image\"' '$tmp/sync' && grep -q '\"body\":\"piped.gif\"' '$tmp/sync' && grep -q next_batch '$tmp/sync'"

# discovery through .well-known when no --homeserver is given
if [ -n "${PB_TEST_HOMESERVER:-}" ]; then
	n=$((n + 1)); echo "ok $n - discovery # SKIP the emulator's (a real server serves .well-known at its public name)"
else
port=$(sed -n 's/^port //p' "$tmp/port")
check "discovery" sh -c "'$bin' --insecure --user @alice:127.0.0.1:$port --password-file '$tmp/pw' whoami | grep -q '\"homeserver\":\"$url\"'"
fi

# a long-poll sync loop stops cleanly on SIGTERM
"$bin" --homeserver "$url" --token-file "$tmp/token" sync --timeout 30000 >"$tmp/loop" 2>"$tmp/err" &
loop=$!
i=0
while ! grep -q next_batch "$tmp/loop" 2>/dev/null && [ $i -lt 600 ]; do i=$((i + 1)); sleep 0.1; done
kill -TERM $loop
wait $loop
if [ $? -eq 0 ] && grep -q 'hello from the CLI' "$tmp/loop"; then ok "sync loop shows the messages and stops on SIGTERM"
else not_ok "sync loop shows the messages and stops on SIGTERM"; fi

printf 'builder\n' >"$tmp/pw2"
chmod 600 "$tmp/pw2"
check "the invited user's sync shows the invite" sh -c "'$bin' --homeserver $url --user $bob --password-file '$tmp/pw2' sync --once | grep -q '\"invite\":\"$room\"'"

# login --save-token: the token (0600) and the device id saved; a second
# login reuses the device; never written through a symbolic link
check "login --save-token prints the user and the device" sh -c "'$bin' $login login --save-token '$tmp/bot.token' >'$tmp/li' && grep -q '\"user_id\":\"@$alice:localhost\"' '$tmp/li' && grep -q '\"device_id\":\"' '$tmp/li'"
dev=$(sed -n 's/.*"device_id":"\([^"]*\)".*/\1/p' "$tmp/li")
check "the token file is mode 0600 and works; the device id is saved beside it" sh -c "[ \"\$(stat -c %a '$tmp/bot.token')\" = 600 ] && [ \"\$(cat '$tmp/bot.token.device')\" = '$dev' ] && '$bin' --homeserver $url --token-file '$tmp/bot.token' whoami | grep -q '\"device_id\":\"$dev\"'"
echo decoy >"$tmp/decoy"
ln -s "$tmp/decoy" "$tmp/link.token"
check "a second login reuses the saved device" sh -c "cp '$tmp/bot.token.device' '$tmp/link.token.device' && '$bin' $login login --save-token '$tmp/link.token' | grep -q '\"device_id\":\"$dev\"'"
check "a symbolic link at the token path is replaced, its target untouched" sh -c "[ ! -L '$tmp/link.token' ] && [ \"\$(cat '$tmp/decoy')\" = decoy ] && [ \"\$(stat -c %a '$tmp/link.token')\" = 600 ]"
check "logout ends the session: the token no longer works" sh -c "'$bin' --homeserver $url --token-file '$tmp/link.token' logout | grep -q '\"logged_out\":\"@$alice:localhost\"' && ! '$bin' --homeserver $url --token-file '$tmp/link.token' whoami 2>/dev/null"
check "login without a password file is a usage error" sh -c "'$bin' --homeserver $url --user $alice login 2>/dev/null; [ \$? -eq 64 ]"

[ $failed -eq 0 ]
