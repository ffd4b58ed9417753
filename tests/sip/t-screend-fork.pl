#!/usr/bin/perl
# mode = redirect with two targets behind a forking upstream: a Net::SIP
# caller calls through kamailio (Debian's package, tests/sip/kamailio-fork.cfg.in),
# which relays to pb-screend; the allow-listed caller gets a 302 listing both
# targets, kamailio forks to them at once (uac_redirect), the desk answers
# and the caller talks to it, the quiet one gets CANCEL.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use PBSipTest;

alarm 150;
plan skip_all => 'kamailio not installed' unless -x '/usr/sbin/kamailio';
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $dir = "$src/tests/sip";
my $tmp = tempdir(CLEANUP => 1);
my ($port, $kport, $p_quiet, $p_desk) = (free_port(), free_port(), free_port(), free_port());

open my $f, '>', "$tmp/pb-screend.conf" or die;
print $f join("\n",
    '[sip]', 'listen = 127.0.0.1', "port = $port", 'allow = 127.0.0.1',
    '[forward]', 'mode = redirect', "target = sip:quiet\@127.0.0.1:$p_quiet, sip:desk\@127.0.0.1:$p_desk",
    '[screen]', "prompts = $src/data/prompts",
    '[store]', "path = $tmp/screen.db",
    '[log]', 'level = debug', '');
close $f;
my $cfg = do { local $/; open my $t, '<', "$dir/kamailio-fork.cfg.in" or die; <$t> };
$cfg =~ s/\@PORT\@/$kport/g;
$cfg =~ s/\@SCREEN\@/sip:screen\@127.0.0.1:$port/g;
open my $k, '>', "$tmp/kamailio.cfg" or die;
print $k $cfg;
close $k;

is(system("$bin -c $tmp/pb-screend.conf allow +15550100071 >/dev/null 2>&1"), 0, 'caller on the allow list');
my $kam = start_proc(cmd => ['/usr/sbin/kamailio', '-f', "$tmp/kamailio.cfg", '-DD', '-E', '-Y', $tmp,
                             '-P', "$tmp/kamailio.pid", '-w', $tmp], name => 'kamailio', merge => 1);
ok(wait_line($kam, qr/Listening on/i, 20), 'kamailio (forking proxy) started') or BAIL_OUT('no kamailio');
my $quiet = start_proc(cmd => ['perl', "$dir/callee.pl", '--port', $p_quiet, '--noanswer'], name => 'quiet', merge => 1);
my $desk = start_proc(cmd => ['perl', "$dir/callee.pl", '--port', $p_desk], name => 'desk', merge => 1);
ok(wait_line($quiet, qr/^listening/, 20) && wait_line($desk, qr/^listening/, 20), 'two targets listening');
my $d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend', merge => 1);
ok(wait_line($d, qr/pb-screend ready/, 20), 'pb-screend ready') or BAIL_OUT('daemon did not start');

my $out = run_caller('--to', "sip:screen\@127.0.0.1:$kport", '--from', 'sip:+15550100071@127.0.0.1', '--hold', 3);
like($out, qr/^final 200/m, 'the caller is answered');
ok(wait_line($d, qr/call from \+15550100071 forwarded \(redirect\)/, 10), 'pb-screend redirected the call');
ok(wait_line($kam, qr/redirected: forking to the contacts/, 10), 'kamailio followed the 302');
ok(wait_line($quiet, qr/^invite from=.*\+15550100071/, 10), 'the quiet target rang');
ok(wait_line($desk, qr/^invite from=.*\+15550100071/, 10), 'the desk rang at the same time');
ok(wait_line($desk, qr/^established/, 10), 'the desk answered');
ok(wait_line($quiet, qr/^(bye|cleanup)/, 10), 'the quiet target got CANCEL');
my ($ta) = $out =~ /target-audio (\d+)/;
cmp_ok($ta // 0, '>', 10, "the desk's audio reached the caller (" . ($ta // 0) . " packets)");

kill 'TERM', $d->{pid};
ok(wait_line($d, qr/^<5>screend: stopped/, 20), 'stops on SIGTERM');
stop_all();
done_testing();
