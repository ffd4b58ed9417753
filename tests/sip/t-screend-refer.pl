#!/usr/bin/perl
# pb-screend with mode = refer against sipp callers that answer the REFER
# with 501: with refer-fallback = bridge the caller is bridged to the target
# (a Net::SIP callee) instead of being left in dead air; after a SIGHUP to
# refer-fallback = goodbye the next such caller hears goodbye and gets a BYE.
# Both are logged. REFER watchdog: Net::SIP callers that accept the REFER
# (202) and then say nothing, or send a NOTIFY whose sipfrag says 503, are
# bridged too once refer-timeout has passed (or at the 503), and the call
# log says which.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use PBSipTest;

alarm 220;
my $pcaps = '/usr/share/sip-tester';
plan skip_all => "no sipp pcaps in $pcaps" unless -f "$pcaps/dtmf_2833_6.pcap";
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $tmp = tempdir(CLEANUP => 1);
my ($port, $tport) = (free_port(), free_port());
mkdir "$tmp/pcap";
symlink("$pcaps/dtmf_2833_6.pcap", "$tmp/pcap/dtmf_2833_6.pcap");

sub write_conf {
    my ($fallback, @extra) = @_;
    open my $f, '>', "$tmp/pb-screend.conf" or die;
    print $f join("\n",
        '[sip]', 'listen = 127.0.0.1', "port = $port", 'allow = 127.0.0.1',
        '[forward]', 'mode = refer', "target = sip:target\@127.0.0.1:$tport", "refer-fallback = $fallback", @extra,
        '[screen]', "prompts = $src/data/prompts",
        '[store]', "path = $tmp/screen.db",
        '[policy]', 'challenge = press-digit', 'challenge-params = digit=6 tries=1 timeout=20',
        '[log]', 'level = debug', '');
    close $f;
}

sub sipp {
    my ($scenario) = @_;
    my $s = start_proc(cmd => ['sipp', '-sf', "$src/tests/sip/$scenario", '-m', '1', '-i', '127.0.0.1',
                               '-p', free_port(), '-mp', free_port(), '-nostdin', '-timeout', '60',
                               '-timeout_error', '-s', 'screen', "127.0.0.1:$port"], name => 'sipp', merge => 1);
    return $s;
}

write_conf('bridge');
my $callee = start_proc(cmd => ['perl', "$src/tests/sip/callee.pl", '--port', $tport], name => 'callee', merge => 1);
ok(wait_line($callee, qr/^listening/, 20), 'forward target listening');
my $d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend', merge => 1);
ok(wait_line($d, qr/pb-screend ready/, 20), 'pb-screend ready') or BAIL_OUT('daemon did not start');
chdir $tmp;

my $s = sipp('uac-refer-501.xml');
ok(wait_line($d, qr/press-digit for \+15550107781: passed/, 30), 'the caller passed the challenge');
ok(wait_line($d, qr/REFER of \+15550107781 to sip:target\@127\.0\.0\.1:\d+ failed \(501\): bridging instead/, 15),
   'the 501 to REFER is logged, with the fallback');
ok(wait_line($callee, qr/^invite from=.*\+15550107781/, 15), 'and the call is bridged to the target');
ok(wait_line($callee, qr/^established/, 10), 'the target answered');
is(wait_exit($s, 40), 0, 'sipp: stayed on the line, then hung up normally');

write_conf('goodbye');
kill 'HUP', $d->{pid};
ok(wait_line($d, qr/configuration reloaded/, 10), 'reloaded with refer-fallback = goodbye');
$s = sipp('uac-refer-501-bye.xml');
ok(wait_line($d, qr/REFER of \+15550107782 to .* failed \(501\): goodbye and BYE/, 30), 'logged: goodbye and BYE');
is(wait_exit($s, 40), 0, 'sipp got the BYE from the screener');
unlike(join("\n", proc_lines($callee)), qr/\+15550107782/, 'the target never saw that call');

# the watchdog: accepted and then silence, or a NOTIFY saying the transfer failed
write_conf('bridge', 'refer-timeout = 3');
kill 'HUP', $d->{pid};
my $reloads = 0;
for (1 .. 100) {   # the second reload (wait_line finds the first one again)
    last if ($reloads = grep { /configuration reloaded/ } proc_lines($d)) >= 2;
    select(undef, undef, undef, 0.1);
}
is($reloads, 2, 'reloaded with refer-fallback = bridge, refer-timeout = 3');
sub net_sip_call {
    my ($from, $refer) = @_;
    return start_proc(cmd => ['perl', "$src/tests/sip/caller.pl", '--to', "sip:screen\@127.0.0.1:$port",
                              '--from', "sip:$from\@127.0.0.1", '--dtmf', '6', '--wait-before-dtmf', 1.5,
                              '--hold', 12, '--refer', $refer], name => 'caller', merge => 1);
}
my $c = net_sip_call('+15550107783', 'accept');
ok(wait_line($c, qr/^refer-received .*target\@127\.0\.0\.1/, 30), 'Net::SIP got the REFER and accepted it');
ok(wait_line($d, qr/REFER of \+15550107783 to \S+ unconfirmed \(no final NOTIFY within 3 s\): bridging instead/, 15),
   'no NOTIFY in 3 s: logged, and bridged instead');
ok(wait_line($callee, qr/^invite from=.*\+15550107783/, 15), 'the target got the call');
ok(wait_line($c, qr/^done/, 40), 'the caller hung up at its end');
unlike(join("\n", proc_lines($c)), qr/^bye-received/m, 'and was not hung up on');

$c = net_sip_call('+15550107784', 'fail');
ok(wait_line($c, qr/^notify-sent 503/, 30), 'Net::SIP accepted the REFER and said 503 in the NOTIFY');
ok(wait_line($d, qr/REFER of \+15550107784 to \S+ failed \(503\): bridging instead/, 15),
   'the failed transfer is logged, and bridged instead');
ok(wait_line($callee, qr/^invite from=.*\+15550107784/, 15), 'the target got the call');
ok(wait_line($c, qr/^done/, 40), 'the caller hung up at its end');

my $log = '';
for (1 .. 100) {
    $log = `$bin -c $tmp/pb-screend.conf calls --json 2>&1`;
    last if $log =~ /\+15550107784.*REFER failed: bridged/;
    select(undef, undef, undef, 0.2);
}
like($log, qr/^\{.*"caller":"\+15550107783".*"ended":"REFER unconfirmed: bridged".*\}$/m,
     'call log: REFER unconfirmed: bridged');
like($log, qr/^\{.*"caller":"\+15550107784".*"ended":"REFER failed: bridged".*\}$/m,
     'call log: REFER failed: bridged');

kill 'TERM', $d->{pid};
ok(wait_line($d, qr/^<5>screend: stopped/, 20), 'stops on SIGTERM');
stop_all();
done_testing();
