#!/usr/bin/perl
# examples/screen-custom: a pb_screener with a challenge of its own
# ("code-42") answers real Net::SIP calls: 42 passes (bridged to a Net::SIP
# callee), 7 fails; the screener's events arrive in order; SIGTERM stops it.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use PBSipTest;

alarm 150;
my $bin = build_path('examples/screen-custom');
my $src = $ENV{PB_SOURCE_ROOT};
my $dir = "$src/tests/sip";
my $tmp = tempdir(CLEANUP => 1);
my $tport = free_port();

my $callee = start_proc(cmd => ['perl', "$dir/callee.pl", '--port', $tport], name => 'callee', merge => 1);
ok(wait_line($callee, qr/^listening/, 20), 'forward target listening');
my $s = start_proc(cmd => [$bin, "$tmp/screen.db", "$src/data/prompts", "sip:target\@127.0.0.1:$tport"],
                   name => 'screen-custom', merge => 1);
my ($port) = (wait_line($s, qr/^ready on port \d+/, 20) // '') =~ /(\d+)$/;
ok($port, "screen-custom ready on port $port") or BAIL_OUT('screener did not start');

sub call {
    my (@args) = @_;
    my $c = start_proc(cmd => ['perl', "$dir/caller.pl", '--to', "sip:screen\@127.0.0.1:$port", @args],
                       name => 'caller', merge => 1);
    wait_line($c, qr/^done/, 60);
    stop_proc($c);
    return join("\n", proc_lines($c));
}

{   # the right code: passed, forwarded to the target
    my $out = call('--from', 'sip:+15550100042@127.0.0.1', '--dtmf', '42', '--wait-before-dtmf', 1.5, '--hold', 4);
    like($out, qr/^final 200/m, 'answered by the screener');
    ok(wait_line($s, qr/^call 1 started from sip:\+15550100042/, 5), 'event: call started');
    ok(wait_line($s, qr/^call 1 verdict/, 5), 'event: verdict');
    ok(wait_line($s, qr/^call 1 challenge/, 10), 'event: challenge done');
    ok(wait_line($s, qr/^call 1 forwarded/, 5), 'event: forwarded');
    ok(wait_line($callee, qr/^invite from=.*\+15550100042/, 10), 'the target received the call');
    ok(wait_line($s, qr/^call 1 ended .*: code-42:passed/, 20), 'event: ended, code-42 passed');
}

{   # a wrong code: failed and hung up on, not forwarded
    my $out = call('--from', 'sip:+15550100043@127.0.0.1', '--dtmf', '7', '--wait-before-dtmf', 1.5, '--hold', 15);
    like($out, qr/^bye-received/m, 'the caller is hung up on');
    ok(wait_line($s, qr/^call 2 ended .*: code-42:failed/, 20), 'event: ended, code-42 failed');
}

kill 'TERM', $s->{pid};
is(wait_exit($s, 20), 0, 'stops on SIGTERM with status 0');
stop_all();
done_testing();
