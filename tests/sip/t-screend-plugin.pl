#!/usr/bin/perl
# pb-screend with a C challenge module ([challenge NAME] module = PATH): the
# module built by the test build (tests/sip/challenge-plugin.c) passes a
# Net::SIP caller who presses 9 (bridged to a Net::SIP callee) and fails one
# who presses 4; a module of another ABI, one writable by others and one of
# another name are refused by check and by run with a message that says why.
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use Socket;
use PBSipTest;

alarm 150;
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $dir = "$src/tests/sip";
my $tmp = tempdir(CLEANUP => 1);
my $tport = free_port();
my $good = "$tmp/press-nine.so";
copy(build_path('tests/challenge-plugin.so'), $good) or die "copy: $!";
chmod 0755, $good;

sub write_conf {
    my ($name, $module) = @_;
    open my $f, '>', "$tmp/pb-screend.conf" or die;
    print $f join("\n",
        '[sip]', 'listen = 127.0.0.1', 'port = 0', 'allow = 127.0.0.1',
        '[forward]', 'mode = bridge', "target = sip:target\@127.0.0.1:$tport",
        '[screen]', "prompts = $src/data/prompts",
        '[store]', "path = $tmp/screen.db",
        "[challenge $name]", "module = $module",
        '[policy]', "challenge = $name", 'challenge-params = timeout=4000',
        '[log]', 'level = debug', '');
    close $f;
}

sub check {
    my $out = `$bin -c $tmp/pb-screend.conf check 2>&1`;
    return ($? >> 8, $out);
}

{   # refused modules
    my $bad = "$tmp/abi99.so";
    copy(build_path('tests/challenge-plugin-abi99.so'), $bad) or die;
    chmod 0755, $bad;
    write_conf('press-nine', $bad);
    my ($rc, $out) = check();
    isnt($rc, 0, 'a module of another ABI fails check');
    like($out, qr/abi99\.so is a challenge module of ABI 99; this libphonebridge loads ABI 1/, 'and says which ABIs') or diag $out;
    my $d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend-bad', merge => 1);
    isnt(wait_exit($d, 20), 0, 'run refuses it too');
    like(join("\n", proc_lines($d)), qr/ABI 99/, 'with the same message');

    copy($good, "$tmp/open.so") or die;
    chmod 0777, "$tmp/open.so";
    write_conf('press-nine', "$tmp/open.so");
    ($rc, $out) = check();
    like($out, qr/open\.so: writable by group or others/, 'a module writable by others is refused');

    write_conf('press-ten', $good);
    ($rc, $out) = check();
    like($out, qr/provides the challenge 'press-nine', not 'press-ten'/, 'a module of another name is refused');
}

write_conf('press-nine', $good);
my ($rc, $out) = check();
is($rc, 0, 'configuration with the module checks') or diag $out;

my $callee = start_proc(cmd => ['perl', "$dir/callee.pl", '--port', $tport], name => 'callee', merge => 1);
ok(wait_line($callee, qr/^listening/, 20), 'forward target listening');
my $d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend', merge => 1);
ok(wait_line($d, qr/challenge press-nine loaded from \Q$good\E/, 20), 'module loaded');
my ($port) = (wait_line($d, qr/pb-screend ready on 127\.0\.0\.1:\d+/, 20) // '') =~ /:(\d+)$/;
ok($port, "pb-screend ready on port $port") or BAIL_OUT('daemon did not start');

sub call {
    my (@args) = @_;
    my $c = start_proc(cmd => ['perl', "$dir/caller.pl", '--to', "sip:screen\@127.0.0.1:$port", @args],
                       name => 'caller', merge => 1);
    wait_line($c, qr/^done/, 60);
    stop_proc($c);
    return join("\n", proc_lines($c));
}

{   # the SDP that made sofia-sip's parser allocate without bound: 400, and the daemon goes on
    my $u = IO::Socket::INET->new(LocalAddr => '127.0.0.1', Proto => 'udp') or die;
    my $body = "v=0\r\nm=audio 9 R\xD0\xC5 0\r\n";
    my $lp = $u->sockport;
    my $msg = "INVITE sip:screen\@127.0.0.1:$port SIP/2.0\r\n"
        . "Via: SIP/2.0/UDP 127.0.0.1:$lp;branch=z9hG4bK-sdpguard1\r\nMax-Forwards: 70\r\n"
        . "From: <sip:+15550100077\@127.0.0.1>;tag=g1\r\nTo: <sip:screen\@127.0.0.1>\r\n"
        . "Call-ID: sdp-guard-1\@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:x\@127.0.0.1:$lp>\r\n"
        . "Content-Type: application/sdp\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    $u->send($msg, 0, Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1'))) or die;
    my $sel = IO::Select->new($u);
    my $reply = '';
    $u->recv($reply, 65535) if $sel->can_read(10);
    like($reply, qr{^SIP/2\.0 400 }, 'the malformed SDP is answered 400');
    ok(wait_line($d, qr/message from 127\.0\.0\.1 port $lp refused before the SDP parser: body .*0xd0 not allowed in a "m=" line/, 10),
       'and logged with the source and the byte');
    my ($rss) = `ps -o rss= -p $d->{pid}` =~ /(\d+)/;
    cmp_ok($rss // 1e9, '<', 200_000, "the daemon did not balloon ($rss KiB)");
}

{
    $out = call('--from', 'sip:+15550100091@127.0.0.1', '--dtmf', '9', '--wait-before-dtmf', 1.5, '--hold', 4);
    like($out, qr/^final 200/m, 'answered');
    ok(wait_line($d, qr/challenge press-nine for \+15550100091: passed/, 10), 'the module passes 9');
    ok(wait_line($callee, qr/^invite from=.*\+15550100091/, 10), 'and the call reaches the target');
}
{
    $out = call('--from', 'sip:+15550100094@127.0.0.1', '--dtmf', '4', '--wait-before-dtmf', 1.5, '--hold', 12);
    ok(wait_line($d, qr/challenge press-nine for \+15550100094: failed \(not nine\)/, 15), 'the module fails 4');
    like($out, qr/^bye-received/m, 'and the caller is hung up on');
}
# a call is logged when it has ended: the bridged one ends when both legs have hung up
for my $try (1 .. 100) {
    $out = `$bin -c $tmp/pb-screend.conf calls 2>&1`;
    last if $out =~ /press-nine:passed/ && $out =~ /press-nine:failed/;
    select(undef, undef, undef, 0.2);
}
like($out, qr/\+15550100091\s+challenge\s+press-nine:passed/, 'call log: passed');
like($out, qr/\+15550100094\s+challenge\s+press-nine:failed/, 'call log: failed');

kill 'TERM', $d->{pid};
ok(wait_line($d, qr/^<5>screend: stopped/, 20), 'stops on SIGTERM');
stop_all();
done_testing();
