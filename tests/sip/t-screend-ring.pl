#!/usr/bin/perl
# Several forward targets (pb-screend [forward] target = A, B): ring =
# parallel rings two Net::SIP callees at once, the one that answers gets the
# call and the other one a CANCEL; ring = sequential (after SIGHUP) rings a
# target that does not answer first, cancels it after the forward timeout
# and then rings the next, which answers.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use PBSipTest;

alarm 150;
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $dir = "$src/tests/sip";
my $tmp = tempdir(CLEANUP => 1);
my ($p_quiet, $p_desk) = (free_port(), free_port());

sub write_conf {
    my ($ring) = @_;
    open my $f, '>', "$tmp/pb-screend.conf" or die;
    print $f join("\n",
        '[sip]', 'listen = 127.0.0.1', 'port = 0', 'allow = 127.0.0.1',
        '[forward]', 'mode = bridge', "target = sip:quiet\@127.0.0.1:$p_quiet, sip:desk\@127.0.0.1:$p_desk",
        "ring = $ring", 'timeout = 3',
        '[screen]', "prompts = $src/data/prompts",
        '[store]', "path = $tmp/screen.db",
        '[log]', 'level = debug', '');
    close $f;
}

sub call {
    my ($port, @args) = @_;
    my $c = start_proc(cmd => ['perl', "$dir/caller.pl", '--to', "sip:screen\@127.0.0.1:$port", @args],
                       name => 'caller', merge => 1);
    wait_line($c, qr/^done/, 60);
    stop_proc($c);
    return join("\n", proc_lines($c));
}

write_conf('parallel');
is(system("$bin -c $tmp/pb-screend.conf allow +15550100061 >/dev/null 2>&1"), 0, 'caller on the allow list');
my $quiet = start_proc(cmd => ['perl', "$dir/callee.pl", '--port', $p_quiet, '--noanswer'], name => 'quiet', merge => 1);
my $desk = start_proc(cmd => ['perl', "$dir/callee.pl", '--port', $p_desk], name => 'desk', merge => 1);
ok(wait_line($quiet, qr/^listening/, 20) && wait_line($desk, qr/^listening/, 20), 'two targets listening');
my $d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend', merge => 1);
my ($port) = (wait_line($d, qr/pb-screend ready on 127\.0\.0\.1:\d+/, 20) // '') =~ /:(\d+)$/;
ok($port, "pb-screend ready on port $port") or BAIL_OUT('daemon did not start');

{   # parallel: both ring, the desk answers, the quiet one is cancelled
    my $out = call($port, '--from', 'sip:+15550100061@127.0.0.1', '--hold', 3);
    like($out, qr/^final 200/m, 'the caller is answered (by the desk)');
    ok(wait_line($quiet, qr/^invite from=.*\+15550100061/, 10), 'the quiet target rang');
    ok(wait_line($desk, qr/^invite from=.*\+15550100061/, 10), 'the desk rang at the same time');
    ok(wait_line($desk, qr/^established/, 10), 'the desk answered');
    ok(wait_line($quiet, qr/^(bye|cleanup)/, 10), 'the quiet target got CANCEL');
    my ($n, $ta) = $out =~ /^rtp-received (\d+) target-audio (\d+)/m;
    cmp_ok($ta // 0, '>', 10, "the desk's audio reached the caller ($ta packets)");
}

write_conf('sequential');
kill 'HUP', $d->{pid};
ok(wait_line($d, qr/configuration reloaded/, 10), 'reloaded with ring = sequential');
{   # sequential: the quiet one first, then after 3 s the desk
    my $t0 = time;
    my $out = call($port, '--from', 'sip:+15550100061@127.0.0.1', '--hold', 2);
    like($out, qr/^final 200/m, 'answered in the end');
    ok(wait_line($d, qr/no answer \(408\), ringing the next target/, 10), 'no answer from the first: the next rings');
    my @q = grep { /^invite from=/ } proc_lines($quiet);
    my @k = grep { /^invite from=/ } proc_lines($desk);
    is(scalar @q, 2, 'the quiet target rang again');
    is(scalar @k, 2, 'and the desk after it');
    cmp_ok(time - $t0, '>=', 3, 'not before the forward timeout');
}

kill 'TERM', $d->{pid};
ok(wait_line($d, qr/^<5>screend: stopped/, 20), 'stops on SIGTERM');
stop_all();
done_testing();
