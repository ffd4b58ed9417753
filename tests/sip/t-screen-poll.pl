#!/usr/bin/perl
# examples/screen-poll: a pb_screener inside a poll() loop of the program's
# own (pb_screener_fd(), _timeout_ms(), _dispatch()), which also reads its
# standard input, answers real Net::SIP calls: 6 passes (bridged to a
# Net::SIP callee), 3 fails; a command on stdin is answered between calls
# and during one; a source not allowed makes a "refused" event; "quit"
# stops it once the calls have ended.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use PBSipTest;

alarm 150;
my $bin = build_path('examples/screen-poll');
my $src = $ENV{PB_SOURCE_ROOT};
my $dir = "$src/tests/sip";
my $tmp = tempdir(CLEANUP => 1);
my $tport = free_port();

my $callee = start_proc(cmd => ['perl', "$dir/callee.pl", '--port', $tport], name => 'callee', merge => 1);
ok(wait_line($callee, qr/^listening/, 20), 'forward target listening');
my $s = start_proc(cmd => [$bin, "$tmp/screen.db", "$src/data/prompts", "sip:target\@127.0.0.1:$tport"],
                   name => 'screen-poll', merge => 1, stdin => 1);
my ($port) = (wait_line($s, qr/^ready on port \d+/, 20) // '') =~ /(\d+)$/;
ok($port, "screen-poll ready on port $port") or BAIL_OUT('screener did not start');
send_line($s, 'calls');
ok(wait_line($s, qr/^0 calls in progress/, 10), 'the loop reads its own input too');

sub call {
    my (@args) = @_;
    return start_proc(cmd => ['perl', "$dir/caller.pl", '--to', "sip:screen\@127.0.0.1:$port", @args],
                      name => 'caller', merge => 1);
}

{   # the right digit: passed, forwarded to the target
    my $c = call('--from', 'sip:+15550100061@127.0.0.1', '--dtmf', '6', '--wait-before-dtmf', 1.5, '--hold', 5);
    ok(wait_line($s, qr/^call 1 challenge from sip:\+15550100061/, 20), 'the digit reached the challenge');
    send_line($s, 'calls');
    ok(wait_line($s, qr/^1 calls in progress/, 10), 'a command during the call');
    ok(wait_line($s, qr/^call 1 forwarded/, 10), 'passed and forwarded');
    ok(wait_line($callee, qr/^invite from=.*\+15550100061/, 10), 'the target received the call');
    ok(wait_line($c, qr/^done/, 30), 'the caller hung up');
    like(join("\n", proc_lines($c)), qr/^final 200/m, 'answered by the screener');
    ok(wait_line($s, qr/^call 1 ended/, 20), 'the call ended');
}

{   # a wrong digit: failed and hung up on, not forwarded
    my $c = call('--from', 'sip:+15550100062@127.0.0.1', '--dtmf', '3', '--wait-before-dtmf', 1.5, '--hold', 15);
    ok(wait_line($c, qr/^done/, 40), 'the caller is done');
    like(join("\n", proc_lines($c)), qr/^bye-received/m, 'the caller is hung up on');
    ok(wait_line($s, qr/^call 2 ended/, 20), 'the call ended');
    unlike(join("\n", proc_lines($callee)), qr/\+15550100062/, 'the target never saw it');
}

{   # a source not allowed: 403, and the screener's "refused" event
    my $out = run_caller('--bind', '127.0.0.2', '--to', "sip:screen\@127.0.0.1:$port",
                         '--from', 'sip:+15550100063@127.0.0.2', '--hold', 1);
    like($out, qr/^final 403/m, 'an unlisted source gets 403');
    ok(wait_line($s, qr/^call \d+ refused from sip:\+15550100063\@127\.0\.0\.2/, 10),
       'event: refused, with what the INVITE said');
}

send_line($s, 'quit');
is(wait_exit($s, 20), 0, 'quits with status 0');
stop_all();
done_testing();
