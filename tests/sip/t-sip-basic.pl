#!/usr/bin/perl
# pb_sip against a real Net::SIP caller: source allow list (403), OPTIONS,
# caller identity (PAI with verstat, Identity header), SDP negotiation, RTP
# both ways, hang-up, CANCEL while ringing, rejection, re-INVITE to a new
# media address, hold and unhold (sipp), SIP over TCP (sipp).
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use IO::Select;
use PBSipTest;

alarm 100;
my $uas_bin = $ENV{PB_SIP_UAS} or die "PB_SIP_UAS not set";
my $dir = $ENV{PB_SOURCE_ROOT} . '/tests/sip';
my $caller = "$dir/caller.pl";

sub uas {
    my (@args) = @_;
    my ($p, $port) = start_uas([@args]);
    ok($port, "uas ready on $port (@args)") or BAIL_OUT('uas did not start');
    return ($p, $port);
}

sub call {
    my (@args) = @_;
    my $c = start_proc(cmd => ['perl', $caller, @args], name => 'caller', merge => 1);
    wait_line($c, qr/^done/, 40);
    stop_proc($c);
    return join("\n", proc_lines($c));
}

{   # a source not in the allow list gets 403, logged with its address
    my $log = "$ENV{PB_BUILD_ROOT}/meson-logs/t-sip-basic-uas-403.log";
    my ($p, $port) = start_uas(['--allow', '127.0.0.2', '--mode', 'answer'], stderr => $log);
    ok($port, "uas ready on $port") or BAIL_OUT('uas did not start');
    my $out = call('--to', "sip:screen\@127.0.0.1:$port", '--from', 'sip:+15550103403@127.0.0.1', '--hold', 1);
    like($out, qr/^final 403/m, 'INVITE from a source not allowed: 403 Forbidden');
    stop_proc($p);
    ok(!grep(/^incoming/, proc_lines($p)), 'the handler never saw it');
    open my $f, '<', $log or die "$log: $!";
    my $text = do { local $/; <$f> };
    like($text, qr/INVITE from 127\.0\.0\.1 port \d+ \(From \+15550103403\): source not allowed: 403/,
         'the 403 is logged with the source address');
    unlink $log;
}

{   # OPTIONS answered 200 by the stack, whoever asks
    my ($uas, $port) = uas('--mode', 'answer');
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'udp') or die;
    my $lp = $s->sockport;
    $s->send("OPTIONS sip:screen\@127.0.0.1:$port SIP/2.0\r\n"
           . "Via: SIP/2.0/UDP 127.0.0.1:$lp;branch=z9hG4bK-opt1;rport\r\n"
           . "Max-Forwards: 70\r\nFrom: <sip:probe\@127.0.0.1>;tag=1\r\nTo: <sip:screen\@127.0.0.1>\r\n"
           . "Call-ID: opt-1\@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
    my $sel = IO::Select->new($s);
    my $reply = '';
    $s->recv($reply, 4096) if $sel->can_read(10);
    like($reply, qr{^SIP/2\.0 200}, 'OPTIONS answered 200 OK');
    like($reply, qr/^Allow:.*INVITE/mi, 'with an Allow header');
    stop_proc($uas);
}

{   # answered call: identity, SDP, RTP echo, BYE
    my ($uas, $port) = uas('--mode', 'answer');
    my $out = call('--to', "sip:screen\@127.0.0.1:$port", '--hold', 2, '--identity',
                   '--pai', 'sip:+15550102000;verstat=TN-Validation-Passed@carrier.example');
    like($out, qr/^final 200/m, 'call answered');
    my ($n) = $out =~ /^rtp-received (\d+)/m;
    cmp_ok($n // 0, '>', 10, "caller got its RTP echoed back through pb_sip ($n packets)");
    my $inc = wait_line($uas, qr/^incoming/, 5) // '';
    like($inc, qr/pai=sip:\+15550102000;verstat=TN-Validation-Passed\@carrier\.example/, 'P-Asserted-Identity read');
    like($inc, qr/verstat=TN-Validation-Passed /, 'verstat found in the user part');
    like($inc, qr/identity=1/, 'Identity header seen');
    like($inc, qr/from=sip:\+15550102000\@127\.0\.0\.1/, 'From read');
    like($inc, qr/source=127\.0\.0\.1:\d+/, 'source address known');
    like(wait_line($uas, qr/^event media/, 5) // '', qr/codec=0 dtmf=101 local=\d+/,
         'negotiated PCMU and telephone-event 101');
    ok(wait_line($uas, qr/^event ended status=200/, 10), 'BYE from the caller ends the call');
    stop_proc($uas);
}

{   # verstat after the host, no Identity header
    my ($uas, $port) = uas('--mode', 'reject');
    my $out = call('--to', "sip:screen\@127.0.0.1:$port", '--hold', 1,
                   '--pai', 'sip:+15550102000@carrier.example;verstat=TN-Validation-Failed');
    like($out, qr/^final 486/m, 'rejected with 486');
    my $inc = wait_line($uas, qr/^incoming/, 5) // '';
    like($inc, qr/verstat=TN-Validation-Failed /, 'verstat found after the host');
    like($inc, qr/identity=0/, 'no Identity header');
    ok(wait_line($uas, qr/^event ended status=486/, 10), 'rejected call ends');
    stop_proc($uas);
}

{   # CANCEL while ringing
    my ($uas, $port) = uas('--mode', 'ring');
    my $out = call('--to', "sip:screen\@127.0.0.1:$port", '--cancel-after', 1.5);
    like($out, qr/^preliminary 180/m, 'caller heard ringing');
    like($out, qr/^cancelled/m, 'caller cancelled');
    ok(wait_line($uas, qr/^event ended status=487/, 10), 'CANCEL ends the call (487)');
    stop_proc($uas);
}

{   # re-INVITE from the caller with a new media address (Net::SIP opens new
    # RTP sockets): the call survives and the echo goes to the new address
    my ($uas, $port) = uas('--mode', 'answer');
    my $out = call('--to', "sip:screen\@127.0.0.1:$port", '--hold', 4, '--reinvite-after', 1.5);
    like($out, qr/^reinvite 200/m, 're-INVITE answered 200');
    my ($n) = $out =~ /^rtp-after-reinvite (\d+)/m;
    cmp_ok($n // 0, '>', 20, "the echo follows the new media address ($n packets)");
    wait_line($uas, qr/^event ended/, 10);
    my @media = grep { /^event media/ } proc_lines($uas);
    is(scalar @media, 2, 'MEDIA reported again for the new negotiation');
    isnt(($media[0] =~ /remote=(\S+)/)[0], ($media[1] // '') =~ /remote=(\S+)/ ? $1 : '', 'with the new address');
    is(scalar(grep { /^event active/ } proc_lines($uas)), 1, 'ACTIVE only once');
    stop_proc($uas);
}

{   # hold and unhold (sipp: re-INVITEs with a=sendonly, then a=sendrecv)
    my ($uas, $port) = uas('--mode', 'answer');
    my $s = start_proc(cmd => ['sipp', '-sf', "$dir/uac-hold.xml", '-m', 1, '-i', '127.0.0.1', '-p', free_port(),
                               '-mp', free_port(), '-nostdin', '-timeout', 20, '-timeout_error', '-s', 'screen',
                               "127.0.0.1:$port"], name => 'sipp', merge => 1);
    is(wait_exit($s, 30), 0, 'hold answered recvonly, unhold answered sendrecv, BYE answered: the call survived');
    ok(wait_line($uas, qr/^event ended status=200/, 10), 'ended by the BYE');
    stop_proc($uas);
}

{   # SIP over TCP: sipp's built-in uac scenario (-t t1)
    my ($uas, $port) = uas('--mode', 'answer');
    my $sport = free_port();
    my $s = start_proc(cmd => ['sipp', '-sn', 'uac', '-t', 't1', '-m', 1, '-i', '127.0.0.1', '-p', $sport,
                               '-mp', free_port(), '-nostdin', '-timeout', 20, '-timeout_error', '-s', 'screen',
                               "127.0.0.1:$port"], name => 'sipp', merge => 1);
    like(wait_line($uas, qr/^incoming/, 20) // '', qr/source=127\.0\.0\.1:\d+/, 'INVITE over TCP reached the handler');
    my $end = time + 30;
    while (time < $end && $s->{pid}) {
        if (waitpid($s->{pid}, 1) == $s->{pid}) { $s->{status} = $?; $s->{pid} = 0 }
        else { select(undef, undef, undef, 0.2) }
    }
    is($s->{status} // -1, 0, 'sipp over TCP: answered, ACKed, BYE answered');
    ok(wait_line($uas, qr/^event ended status=200/, 10), 'call over TCP ended by BYE');
    stop_proc($uas);
}

stop_all();
done_testing();
