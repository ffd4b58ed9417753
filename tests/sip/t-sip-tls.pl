#!/usr/bin/perl
# SIP over TLS (sofia-sip's tport_tls): a certificate made here with the
# openssl command; a Net::SIP caller over TLS that checks our certificate
# reaches pb_sip (sips: Request-URI, answered, RTP both ways); one that
# trusts another CA refuses the handshake; digest over TLS; plain UDP still
# works beside it; a missing agent.pem is refused at start; registering over
# UDP with TLS on registers the UDP contact (kamailio); pb-screend with
# tls-cert-dir screens a caller over TLS (RFC 4733 digit) and bridges it.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use PBSipTest;

alarm 150;
plan skip_all => 'no openssl command' if system('sh', '-c', 'command -v openssl >/dev/null');
plan skip_all => 'no IO::Socket::SSL' unless eval { require IO::Socket::SSL; 1 };
my $uas_bin = $ENV{PB_SIP_UAS} or die "PB_SIP_UAS not set";
my $src = $ENV{PB_SOURCE_ROOT};
my $dir = "$src/tests/sip";
my $tmp = tempdir(CLEANUP => 1);

sub cert {
    my ($d) = @_;
    mkdir $d;
    system('sh', '-c', 'openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/key.pem" -out "$1/cert.pem" '
           . '-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null', 'sh', $d) == 0
        or die 'openssl req failed';
    open my $a, '>', "$d/agent.pem" or die;
    for my $f ("$d/key.pem", "$d/cert.pem") { open my $i, "<", $f or die; local $/; print {$a} scalar <$i> }
    close $a;
    chmod 0600, "$d/agent.pem", "$d/key.pem";
}
cert("$tmp/tls");
cert("$tmp/other");

{
    open my $uf, '>', "$tmp/users" or die; print $uf "trunk:s3cret:screen.test\n"; close $uf;
    chmod 0600, "$tmp/users";
    my ($port, $tport) = (free_port(), free_port());
    my $uas = start_proc(cmd => [$uas_bin, '--port', $port, '--mode', 'answer', '--tls-dir', "$tmp/tls",
                                 '--tls-port', $tport, '--allow', '127.0.0.1'],
                         name => 'uas', stderr => "$tmp/uas.err");
    ok(wait_line($uas, qr/^ready/, 20), 'agent with TLS ready') or BAIL_OUT('uas did not start');
    my $out = run_caller('--to', "sips:screen\@127.0.0.1:$tport", '--hold', 2, '--tls', "$tmp/tls/cert.pem");
    like($out, qr/^final 200/m, 'a caller over TLS that checks our certificate is answered');
    my ($n) = $out =~ /^rtp-received (\d+)/m;
    cmp_ok($n // 0, '>', 10, "RTP both ways ($n packets echoed)");
    like(wait_line($uas, qr/^incoming/, 10) // '', qr/ruri=sips:screen\@127\.0\.0\.1:$tport/, 'the sips: request reached the handler');
    ok(wait_line($uas, qr/^event ended status=200/, 10), 'BYE over TLS');
    $out = run_caller('--to', "sips:screen\@127.0.0.1:$tport", '--hold', 1, '--tls', "$tmp/other/cert.pem");
    unlike($out, qr/^final 200/m, 'a caller trusting another CA does not get through (handshake refused)');
    $out = run_caller('--to', "sip:screen\@127.0.0.1:$port", '--hold', 1);
    like($out, qr/^final 200/m, 'plain UDP still answered beside TLS');
    stop_proc($uas);

    $uas = start_proc(cmd => [$uas_bin, '--port', free_port(), '--mode', 'answer', '--tls-dir', "$tmp/tls",
                              '--tls-port', $tport, '--allow', '192.0.2.1', '--auth-realm', 'screen.test',
                              '--auth-users', "$tmp/users"], name => 'uas', stderr => "$tmp/uas.err");
    ok(wait_line($uas, qr/^ready/, 20), 'agent with TLS and digest ready');
    $out = run_caller('--to', "sips:screen\@127.0.0.1:$tport", '--hold', 1, '--tls', "$tmp/tls/cert.pem",
                '--auth', 'trunk:s3cret');
    like($out, qr/^final 200/m, 'digest over TLS');
    like(wait_line($uas, qr/^incoming/, 10) // '', qr/auth=trunk$/, 'authenticated as "trunk"');
    stop_proc($uas);

    my $p = start_proc(cmd => [$uas_bin, '--port', free_port(), '--tls-dir', "$tmp/nowhere", '--tls-port', free_port()],
                       name => 'uas', merge => 1);
    like(wait_line($p, qr/sip-uas:/, 10) // '', qr/TLS: cannot read .*agent\.pem/, 'a missing agent.pem is refused at start');
    stop_proc($p);
}

SKIP: {   # registering (over UDP) while TLS is on: the contact is the UDP one, not sips:
    skip 'kamailio not installed', 3 unless -x '/usr/sbin/kamailio';
    my ($k, $kport) = start_kamailio($tmp);
    ok($k, 'kamailio started');
    my ($port, $tport) = (free_port(), free_port());
    my $uas = start_proc(cmd => [$uas_bin, '--port', $port, '--mode', 'answer', '--tls-dir', "$tmp/tls",
                                 '--tls-port', $tport, '--registrar', "sip:127.0.0.1:$kport",
                                 '--aor', 'sip:screen@127.0.0.1', '--password', 's3cret'],
                         name => 'uas', stderr => '/dev/null');
    ok(wait_line($uas, qr/^event registered status=200/, 20), 'registered with TLS on');
    ok(wait_line($k, qr/REGISTERED sip:screen\@127\.0\.0\.1 contact <sip:127\.0\.0\.1:$port>/, 10),
       'with the UDP contact');
    stop_proc($uas);
    stop_proc($k);
}

{   # pb-screend over TLS
    my $bin = build_path('examples/pb-screend/pb-screend');
    my ($port, $tlsport, $target) = (free_port(), free_port(), free_port());
    open my $f, '>', "$tmp/pb-screend.conf" or die;
    print $f join("\n",
        '[sip]', 'listen = 127.0.0.1', "port = $port", 'allow = 127.0.0.1',
        "tls-cert-dir = $tmp/tls", "tls-port = $tlsport",
        '[forward]', 'mode = bridge', "target = sip:target\@127.0.0.1:$target",
        '[screen]', "prompts = $src/data/prompts",
        '[store]', "path = $tmp/screen.db",
        '[policy]', 'challenge = press-digit', 'challenge-params = digit=6 tries=1 timeout=10',
        'anonymous-challenge = press-digit', 'anonymous-challenge-params = digit=6 tries=1 timeout=10',
        '[log]', 'level = debug', '');
    close $f;
    my $callee = start_proc(cmd => ['perl', "$dir/callee.pl", '--port', $target], name => 'callee', merge => 1);
    ok(wait_line($callee, qr/^listening/, 20), 'forward target listening');
    my $d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend', merge => 1);
    ok(wait_line($d, qr/pb-screend ready/, 20), 'pb-screend ready with TLS') or BAIL_OUT('daemon did not start');
    my $out = run_caller('--to', "sips:screen\@127.0.0.1:$tlsport", '--tls', "$tmp/tls/cert.pem",
                   '--from', 'sip:+15550109001@127.0.0.1', '--dtmf', '6', '--wait-before-dtmf', 1.5, '--hold', 5);
    like($out, qr/^final 200/m, 'challenge answered over TLS');
    ok(wait_line($d, qr/press-digit for \+15550109001: passed/, 10), 'the caller over TLS passes');
    ok(wait_line($callee, qr/^invite from=.*\+15550109001/, 10), 'and is bridged to the target');
    my ($n, $ta) = $out =~ /^rtp-received (\d+) target-audio (\d+)/m;
    cmp_ok($ta // 0, '>', 10, "the target's audio reaches the caller over the bridge ($ta packets)");
    like(wait_line($callee, qr/^cleanup/, 15) // '', qr/loud=[1-9]/, "and the caller's audio the target (its BYE came back)");
    stop_proc($d);
}

stop_all();
done_testing();
