#!/usr/bin/perl
# sipp's own uac_pcap scenario against pb-screend: a G.711 stream then the
# RFC 4733 digit "1" from sipp's pcap; the digit must be detected and the
# call pass the press-digit challenge.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use PBSipTest;

alarm 100;
my $pcaps = '/usr/share/sip-tester';
plan skip_all => "no sipp pcaps in $pcaps" unless -f "$pcaps/dtmf_2833_1.pcap";
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $tmp = tempdir(CLEANUP => 1);
my ($port, $tport, $sport, $mport) = (free_port(), free_port(), free_port(), free_port());

# the scenario plays pcap/NAME relative to its working directory
mkdir "$tmp/pcap";
symlink("$pcaps/$_", "$tmp/pcap/$_") for qw(g711a.pcap dtmf_2833_1.pcap);
open my $f, '>', "$tmp/pb-screend.conf" or die;
print $f join("\n",
    '[sip]', 'listen = 127.0.0.1', "port = $port", 'allow = 127.0.0.1', 'early-media = no',
    '[forward]', 'mode = bridge', "target = sip:target\@127.0.0.1:$tport",
    '[screen]', "prompts = $src/data/prompts",
    '[store]', "path = $tmp/screen.db",
    '[policy]', 'challenge = press-digit', 'challenge-params = digit=1 tries=1 timeout=20',
    'anonymous-challenge = press-digit', 'anonymous-challenge-params = digit=1 tries=1 timeout=20',
    '[log]', 'level = debug', '');
close $f;

my $callee = start_proc(cmd => ['perl', "$src/tests/sip/callee.pl", '--port', $tport], name => 'callee', merge => 1);
ok(wait_line($callee, qr/^listening/, 20), 'forward target listening');
my $d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend', merge => 1);
ok(wait_line($d, qr/pb-screend ready/, 20), 'pb-screend ready') or BAIL_OUT('daemon did not start');

chdir $tmp;
my $sipp = start_proc(cmd => ['sipp', '-sn', 'uac_pcap', '-m', '1', '-i', '127.0.0.1', '-p', $sport,
                              '-mp', $mport, '-nostdin', '-timeout', '60', '-timeout_error',
                              "127.0.0.1:$port"], name => 'sipp', merge => 1);
ok(wait_line($d, qr/digit 1 \(RTP\)/, 40), "the RFC 4733 digit of sipp's pcap is detected");
ok(wait_line($d, qr/press-digit for .*: passed/, 10), 'the challenge is passed');
ok(wait_line($callee, qr/^established/, 10), 'and the call forwarded to the target');
my $end = time + 30;
while (time < $end) { last if waitpid($sipp->{pid}, 1) == $sipp->{pid} && (($sipp->{status} = $?), ($sipp->{pid} = 0), 1); select(undef, undef, undef, 0.2) }
is($sipp->{status} // -1, 0, 'sipp finished its scenario successfully');
stop_proc($d);

# early media: the challenge runs on 183 Session Progress, the 200 comes
# from the bridged target
symlink("$pcaps/dtmf_2833_6.pcap", "$tmp/pcap/dtmf_2833_6.pcap");
system('sed', '-i', 's/^early-media = no$/early-media = yes/; s/digit=1/digit=6/g', "$tmp/pb-screend.conf");
$d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend', merge => 1);
ok(wait_line($d, qr/pb-screend ready/, 20), 'pb-screend ready with early-media = yes');
$sipp = start_proc(cmd => ['sipp', '-sf', "$src/tests/sip/uac-early.xml", '-m', '1', '-i', '127.0.0.1',
                           '-p', free_port(), '-mp', free_port(), '-nostdin', '-timeout', '60',
                           '-timeout_error', '-s', 'screen', "127.0.0.1:$port"], name => 'sipp', merge => 1);
ok(wait_line($d, qr/digit 6 \(RTP\) from \+15550106666/, 30), 'digit detected during early media (183)');
ok(wait_line($d, qr/press-digit for \+15550106666: passed/, 10), 'challenge passed before any 200');
$end = time + 30;
while (time < $end && $sipp->{pid}) {
    if (waitpid($sipp->{pid}, 1) == $sipp->{pid}) { $sipp->{status} = $?; $sipp->{pid} = 0 }
    else { select(undef, undef, undef, 0.2) }
}
is($sipp->{status} // -1, 0, 'sipp got 183, then 200 from the bridged target, and hung up');
stop_all();
done_testing();
