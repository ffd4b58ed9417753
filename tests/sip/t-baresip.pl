#!/usr/bin/perl
# A real softphone as the caller: baresip (baresip-core), headless with an
# aufile audio source, driven through ctrl_tcp netstring JSON commands
# (dial, sndcode, hangup). It passes the challenge with its RFC 4733 digit
# and is bridged to a Net::SIP target; its hang-up reaches the target.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Select;
use PBSipTest;

alarm 100;
plan skip_all => 'baresip not installed' unless -x '/usr/bin/baresip';
my $mods = '/usr/lib/baresip/modules';
plan skip_all => "no baresip modules in $mods" unless -f "$mods/ctrl_tcp.so" && -f "$mods/aufile.so";
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $tmp = tempdir(CLEANUP => 1);
my ($port, $tport, $cport) = (free_port(), free_port(), free_port());
my $bport;   # baresip also listens for TLS on its SIP port + 1
for (1 .. 50) {
    $bport = free_port();
    my $t = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $bport + 1, Proto => 'tcp', Listen => 1);
    last if $t;
}
my $conf = screend_conf(dir => $tmp, port => $port, target => "sip:target\@127.0.0.1:$tport");

# 10 s of 8 kHz silence as the microphone
open my $w, '>:raw', "$tmp/mic.wav" or die;
my $n = 80000 * 2;
print $w 'RIFF', pack('V', 36 + $n), 'WAVEfmt ', pack('VvvVVvv', 16, 1, 1, 8000, 16000, 2, 16),
         'data', pack('V', $n), "\0" x $n;
close $w;
open my $c, '>', "$tmp/config" or die;
print $c join("\n", 'poll_method epoll', "sip_listen 127.0.0.1:$bport",
              "audio_source aufile,$tmp/mic.wav", "audio_player aufile,$tmp/out.wav",
              "module_path $mods", 'module g711.so', 'module aufile.so',
              'module_app account.so', 'module_app menu.so', 'module_app ctrl_tcp.so',
              "ctrl_tcp_listen 127.0.0.1:$cport", '');
close $c;
open my $a, '>', "$tmp/accounts" or die;
print $a "<sip:+15550109999\@127.0.0.1>;regint=0\n";
close $a;
open my $ct, '>', "$tmp/contacts"; close $ct;

my $callee = start_proc(cmd => ['perl', "$src/tests/sip/callee.pl", '--port', $tport], name => 'callee', merge => 1);
ok(wait_line($callee, qr/^listening/, 20), 'forward target listening');
my $d = start_proc(cmd => [$bin, '-c', $conf], name => 'screend', merge => 1);
ok(wait_line($d, qr/pb-screend ready/, 20), 'pb-screend ready') or BAIL_OUT('daemon did not start');
my $b = start_proc(cmd => ['baresip', '-4', '-f', $tmp], name => 'baresip', merge => 1);
ok(wait_line($b, qr/baresip is ready/, 20), 'baresip ready') or BAIL_OUT('baresip did not start');

my $ctl;
for (1 .. 50) { $ctl = IO::Socket::INET->new("127.0.0.1:$cport") and last; select(undef, undef, undef, 0.1) }
ok($ctl, 'connected to ctrl_tcp') or BAIL_OUT('no ctrl_tcp');
my $events = '';
sub command {
    my ($cmd, $params, $tok) = @_;
    my $j = qq({"command":"$cmd","params":"$params","token":"$tok"});
    print $ctl length($j) . ":$j,";
}
sub wait_event {
    my ($re, $deadline) = @_;
    my $end = time + $deadline;
    my $sel = IO::Select->new($ctl);
    while (time < $end) {
        return 1 if $events =~ $re;
        if ($sel->can_read(0.5)) { my $buf; sysread($ctl, $buf, 65536) or last; $events .= $buf }
    }
    return $events =~ $re;
}
command('dial', "sip:screen\@127.0.0.1:$port", 1);
ok(wait_event(qr/"type":"CALL_ESTABLISHED"/, 20), 'baresip: the challenge answered');
ok(wait_line($d, qr/call from \+15550109999 .*challenge/, 5), 'pb-screend challenges the caller');
command('sndcode', '6', 2);
ok(wait_line($d, qr/digit 6 \(RTP\) from \+15550109999/, 15), "baresip's RFC 4733 digit detected");
ok(wait_line($d, qr/press-digit for \+15550109999: passed/, 5), 'challenge passed');
ok(wait_line($callee, qr/^established/, 10), 'the target received the bridged call');
command('hangup', '', 3);
ok(wait_event(qr/"type":"CALL_CLOSED"/, 10), 'baresip hung up');
ok(wait_line($callee, qr/^bye/, 10), "baresip's hang-up reached the target");
close $ctl;
stop_all();
done_testing();
