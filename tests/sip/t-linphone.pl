#!/usr/bin/perl
# A real softphone as the caller: linphonec (linphone-cli) calls pb-screend,
# sends its digit as SIP INFO (application/dtmf-relay), passes, and is
# bridged to a Net::SIP target.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use PBSipTest;

alarm 100;
plan skip_all => 'linphonec not installed' unless -x '/usr/bin/linphonec';
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $tmp = tempdir(CLEANUP => 1);
my ($port, $tport, $lport, $rport) = (free_port(), free_port(), free_port(), free_port());
my $conf = screend_conf(dir => $tmp, port => $port, target => "sip:target\@127.0.0.1:$tport");
open my $rc, '>', "$tmp/linphonerc" or die;
print $rc join("\n", '[sip]', "sip_port=$lport", 'sip_tcp_port=0', 'sip_tls_port=0',
               'use_info=1', 'use_rfc2833=0', 'use_ipv6=0',
               'contact="Bob" <sip:+15550108888@127.0.0.1>',
               '[rtp]', "audio_rtp_port=$rport", '[sound]', 'echocancellation=0', '');
close $rc;

my $callee = start_proc(cmd => ['perl', "$src/tests/sip/callee.pl", '--port', $tport], name => 'callee', merge => 1);
ok(wait_line($callee, qr/^listening/, 20), 'forward target listening');
my $d = start_proc(cmd => [$bin, '-c', $conf], name => 'screend', merge => 1);
ok(wait_line($d, qr/pb-screend ready/, 20), 'pb-screend ready') or BAIL_OUT('daemon did not start');

$ENV{HOME} = $tmp;
my $l = start_proc(cmd => ['linphonec', '-c', "$tmp/linphonerc"], name => 'linphonec', merge => 1, stdin => 1);
send_line($l, 'soundcard use files');
send_line($l, 'ipv6 disable');
send_line($l, "call sip:screen\@127.0.0.1:$port");
ok(wait_line($l, qr/Media streams established|connected/, 20), 'linphonec: the challenge answered');
ok(wait_line($d, qr/call from \+15550108888 .*challenge/, 5), 'pb-screend challenges the caller');
send_line($l, '6');
ok(wait_line($d, qr/digit 6 \(SIP INFO\) from \+15550108888/, 15), 'the digit arrived as SIP INFO');
ok(wait_line($d, qr/press-digit for \+15550108888: passed/, 5), 'challenge passed');
ok(wait_line($callee, qr/^invite from=.*\+15550108888/, 10), 'the target received the call');
ok(wait_line($callee, qr/^established/, 10), 'and it is bridged');
send_line($l, 'terminate');
ok(wait_line($callee, qr/^bye/, 10), "linphonec's hang-up reached the target");
send_line($l, 'quit');
stop_all();
done_testing();
