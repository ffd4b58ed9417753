#!/usr/bin/perl
# Forwarding with real peers: 302 redirect, bridge (B2BUA) to a Net::SIP
# callee with audio and RFC 4733 DTMF relayed both ways, hang-up propagated
# both ways, busy target -> fallback, no answer -> failure.
use strict;
use warnings;
use Test::More;
use PBSipTest;

alarm 110;
my $uas_bin = $ENV{PB_SIP_UAS} or die "PB_SIP_UAS not set";
my $dir = $ENV{PB_SOURCE_ROOT} . '/tests/sip';

sub uas {
    my (@args) = @_;
    my ($p, $port) = start_uas([@args]);
    ok($port, "uas ready on $port (@args)") or BAIL_OUT('uas did not start');
    return ($p, $port);
}

sub callee {
    my (@args) = @_;
    my $port = free_port();
    my $p = start_proc(cmd => ['perl', "$dir/callee.pl", '--port', $port, @args], name => 'callee', merge => 1);
    ok(wait_line($p, qr/^listening/, 20), "callee listening (@args)");
    return ($p, $port);
}

sub call {
    my (@args) = @_;
    my $c = start_proc(cmd => ['perl', "$dir/caller.pl", @args], name => 'caller', merge => 1);
    wait_line($c, qr/^done/, 40);
    stop_proc($c);
    return join("\n", proc_lines($c));
}

{   # redirect: Net::SIP follows the 302 to the target, which takes the call
    my ($t, $tport) = callee();
    my ($uas, $port) = uas('--mode', 'redirect', '--target', "sip:target\@127.0.0.1:$tport");
    my $out = call('--to', "sip:screen\@127.0.0.1:$port", '--hold', 1);
    ok(wait_line($uas, qr/^event forwarded status=302/, 10), 'forwarded by redirect (302)');
    ok(wait_line($t, qr/^established/, 10), 'the target got the redirected call');
    like($out, qr/^final 200/m, 'the caller reached the target');
    stop_proc($uas); stop_proc($t);
}

{   # bridge: the target really gets the call, the audio and the digit
    my ($t, $tport) = callee();
    my ($uas, $port) = uas('--mode', 'bridge', '--target', "sip:target\@127.0.0.1:$tport");
    my $out = call('--to', "sip:screen\@127.0.0.1:$port", '--hold', 3, '--dtmf', '6',
                   '--pai', 'sip:+15550102000@carrier.example');
    like($out, qr/^preliminary 180/m, 'caller heard ringing while the target rang');
    like($out, qr/^final 200/m, 'caller answered when the target answered');
    my ($n, $ta) = $out =~ /^rtp-received (\d+) target-audio (\d+)/m;
    cmp_ok($ta // 0, '>', 10, "the target's audio reached the caller ($ta packets)");
    like(wait_line($t, qr/^invite/, 5) // '', qr/\+15550102000/, 'the target saw the caller identity');
    ok(wait_line($t, qr/^dtmf 6/, 10), 'the RFC 4733 digit crossed the bridge');
    like(wait_line($t, qr/^cleanup/, 15) // '', qr/loud=([1-9]\d+)/, "the caller's audio reached the target");
    ok(grep(/^bye/, proc_lines($t)), "the caller's BYE reached the target");
    ok(wait_line($uas, qr/^event forwarded/, 5), 'forwarded event');
    ok(wait_line($uas, qr/^event ended/, 10), 'call ended');
    stop_proc($uas); stop_proc($t);
}

{   # bridge: the target hangs up, the caller gets a BYE
    my ($t, $tport) = callee('--hangup-after', 1.5);
    my ($uas, $port) = uas('--mode', 'bridge', '--target', "sip:target\@127.0.0.1:$tport");
    my $out = call('--to', "sip:screen\@127.0.0.1:$port", '--hold', 8);
    like($out, qr/^bye-received/m, "the target's hang-up reached the caller");
    stop_proc($uas); stop_proc($t);
}

{   # busy target -> fallback (voicemail)
    my ($busy, $bport) = callee('--busy');
    my ($vm, $vport) = callee();
    my ($uas, $port) = uas('--mode', 'bridge', '--target', "sip:target\@127.0.0.1:$bport",
                           '--fallback', "sip:voicemail\@127.0.0.1:$vport");
    my $out = call('--to', "sip:screen\@127.0.0.1:$port", '--hold', 2);
    like($out, qr/^final 200/m, 'answered by the fallback');
    ok(wait_line($busy, qr/^invite/, 5), 'the busy target was tried first');
    ok(wait_line($vm, qr/^established/, 5), 'the fallback took the call');
    stop_proc($uas); stop_proc($busy); stop_proc($vm);
}

{   # no answer, no fallback: the caller gets 480, the target a CANCEL
    my ($t, $tport) = callee('--noanswer');
    my ($uas, $port) = uas('--mode', 'bridge', '--bridge-timeout', 2,
                           '--target', "sip:target\@127.0.0.1:$tport");
    my $out = call('--to', "sip:screen\@127.0.0.1:$port", '--hold', 1);
    like($out, qr/^final 480/m, 'caller got 480 after the no-answer time');
    ok(wait_line($uas, qr/^event forward-failed status=408/, 10), 'forward failed: no answer (408)');
    stop_proc($uas); stop_proc($t);
}

{   # the caller cancels while the target rings: the target is cancelled
    my ($t, $tport) = callee('--noanswer');
    my ($uas, $port) = uas('--mode', 'bridge', '--target', "sip:target\@127.0.0.1:$tport");
    my $out = call('--to', "sip:screen\@127.0.0.1:$port", '--cancel-after', 1.5);
    ok(wait_line($uas, qr/^event ended status=487/, 10), 'caller CANCEL ends the call');
    stop_proc($uas); stop_proc($t);
}

{   # REFER: a sipp caller that honours transfers accepts it and NOTIFYs 200
    my ($uas, $port) = uas('--mode', 'refer', '--target', 'sip:alice@127.0.0.1:5999');
    my ($sport, $mport) = (free_port(), free_port());
    my $s = start_proc(cmd => ['sipp', '-sf', "$dir/uac-refer.xml", '-m', 1, '-i', '127.0.0.1', '-p', $sport,
                               '-mp', $mport, '-nostdin', '-timeout', 20, '-timeout_error', '-s', 'screen',
                               "127.0.0.1:$port"], name => 'sipp', merge => 1);
    ok(wait_line($uas, qr/^event forwarded status=200/, 20), 'REFER accepted and NOTIFY sipfrag 200 followed');
    ok(wait_line($uas, qr/^event ended/, 10), 'then we hang up');
    my $end = time + 20;
    while (time < $end && $s->{pid}) {
        if (waitpid($s->{pid}, 1) == $s->{pid}) { $s->{status} = $?; $s->{pid} = 0 }
        else { select(undef, undef, undef, 0.2) }
    }
    is($s->{status} // -1, 0, 'sipp saw REFER to the target, then our BYE');
    stop_proc($uas);
}

stop_all();
done_testing();
