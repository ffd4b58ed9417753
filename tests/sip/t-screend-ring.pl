#!/usr/bin/perl
# Several forward targets (pb-screend [forward] target = A, B): ring =
# parallel rings two Net::SIP callees at once, the one that answers gets the
# call and the other one a CANCEL; ring = sequential (after SIGHUP) rings a
# target that does not answer first, cancels it after the forward timeout
# and then rings the next, which answers. mode = redirect lists every
# target as a Contact of the 302 (one q for parallel, falling q for
# sequential) for an upstream that forks, a called number's own target and
# voicemail server instead of the defaults; mode = refer with several targets
# is refused by check (a REFER has one Refer-To).
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Select;
use PBSipTest;

alarm 150;
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $dir = "$src/tests/sip";
my $tmp = tempdir(CLEANUP => 1);
my ($p_quiet, $p_desk) = (free_port(), free_port());

sub write_conf {
    my ($ring, $mode) = @_;
    $mode //= 'bridge';
    open my $f, '>', "$tmp/pb-screend.conf" or die;
    print $f join("\n",
        '[sip]', 'listen = 127.0.0.1', 'port = 0', 'allow = 127.0.0.1',
        '[forward]', "mode = $mode", "target = sip:quiet\@127.0.0.1:$p_quiet, sip:desk\@127.0.0.1:$p_desk",
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

# A 302 as an allow-listed caller's UA sees it (raw UDP: the whole answer is read)
sub redirect_answer {
    my ($port, $n, $user) = @_;
    $user //= 'screen';
    my $u = IO::Socket::INET->new(LocalAddr => '127.0.0.1', Proto => 'udp') or die;
    my $lp = $u->sockport;
    my $sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            . "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    my $msg = "INVITE sip:$user\@127.0.0.1:$port SIP/2.0\r\n"
        . "Via: SIP/2.0/UDP 127.0.0.1:$lp;branch=z9hG4bK-redir$n\r\nMax-Forwards: 70\r\n"
        . "From: <sip:+15550100061\@127.0.0.1>;tag=rd$n\r\nTo: <sip:screen\@127.0.0.1>\r\n"
        . "Call-ID: redirect-$n\@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:c\@127.0.0.1:$lp>\r\n"
        . "Content-Type: application/sdp\r\nContent-Length: " . length($sdp) . "\r\n\r\n$sdp";
    $u->send($msg, 0, Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1'))) or die;
    my $sel = IO::Select->new($u);
    my $reply = '';
    while ($sel->can_read(10)) {
        $u->recv($reply, 65535);
        last unless $reply =~ m{^SIP/2\.0 1\d\d };
    }
    my $ack = "ACK sip:screen\@127.0.0.1:$port SIP/2.0\r\n"
        . "Via: SIP/2.0/UDP 127.0.0.1:$lp;branch=z9hG4bK-redir$n\r\nMax-Forwards: 70\r\n"
        . "From: <sip:+15550100061\@127.0.0.1>;tag=rd$n\r\n"
        . "To: " . (($reply =~ /^To:\s*(.*?)\r$/mi)[0] // '<sip:screen@127.0.0.1>') . "\r\n"
        . "Call-ID: redirect-$n\@127.0.0.1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
    $u->send($ack, 0, Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1')));
    return $reply;
}
sub contacts { my ($r) = @_; return join(', ', map { s/\s+$//r } $r =~ /^(?:Contact|m):\s*(.*)$/mig) }

write_conf('sequential', 'redirect');
kill 'HUP', $d->{pid};
my $reloads = 0;
for (1 .. 100) {
    last if ($reloads = grep { /configuration reloaded/ } proc_lines($d)) >= 2;
    select(undef, undef, undef, 0.1);
}
is($reloads, 2, 'reloaded with mode = redirect, ring = sequential');
my $r = redirect_answer($port, 1);
like($r, qr{^SIP/2\.0 302 }, 'an allow-listed caller is redirected');
like(contacts($r), qr{<sip:quiet\@127\.0\.0\.1:$p_quiet>;q=1(?:\.0+)?\s*,\s*<sip:desk\@127\.0\.0\.1:$p_desk>;q=0\.9}i,
     'sequential: both targets in the Contact, the second with a lower q') or diag $r;

write_conf('parallel', 'redirect');
kill 'HUP', $d->{pid};
for (1 .. 100) {
    last if ($reloads = grep { /configuration reloaded/ } proc_lines($d)) >= 3;
    select(undef, undef, undef, 0.1);
}
$r = redirect_answer($port, 2);
like(contacts($r), qr{<sip:quiet\@127\.0\.0\.1:$p_quiet>;q=1(?:\.0+)?\s*,\s*<sip:desk\@127\.0\.0\.1:$p_desk>;q=1(?:\.0+)?}i,
     'parallel: both targets in the Contact with one q (an upstream may fork to them at once)') or diag $r;

# the number called has a target and a voicemail server of its own: the
# 302 lists those (the voicemail last, as the fallback), not the defaults;
# voicemail = off lists no fallback
my $set = `$bin -c $tmp/pb-screend.conf numbers set +15550100062 --forward sip:own\@127.0.0.1:$p_desk --voicemail sip:vm\@127.0.0.1:$p_quiet 2>&1`;
is($?, 0, "numbers set: a target and a voicemail server of its own") or diag $set;
$r = redirect_answer($port, 3, '+15550100062');
is(contacts($r), "<sip:own\@127.0.0.1:$p_desk>;q=1.000, <sip:vm\@127.0.0.1:$p_quiet>;q=0.050",
   "a number's own target and voicemail server are the 302's Contacts") or diag $r;
$set = `$bin -c $tmp/pb-screend.conf numbers set +15550100062 --forward sip:own\@127.0.0.1:$p_desk --voicemail off 2>&1`;
is($?, 0, "numbers set: voicemail = off") or diag $set;
$r = redirect_answer($port, 4, '+15550100062');
is(contacts($r), "<sip:own\@127.0.0.1:$p_desk>", 'voicemail = off: its target alone') or diag $r;

# refer transfers to one target only: check refuses several, with the reason
write_conf('parallel', 'refer');
my $check = `$bin -c $tmp/pb-screend.conf check 2>&1`;
is($? >> 8, 78, 'check refuses mode = refer with several targets (exit 78)');
like($check, qr/mode 'refer' transfers the caller to one target \(a REFER has exactly one Refer-To, RFC 3515\)/,
     'and says why');

kill 'TERM', $d->{pid};
ok(wait_line($d, qr/^<5>screend: stopped/, 20), 'stops on SIGTERM');
stop_all();
done_testing();
