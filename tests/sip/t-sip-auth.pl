#!/usr/bin/perl
# Digest authentication of incoming INVITEs (sofia-sip's auth module) with
# real peers: a trunk not on the address allow list authenticates with sipp
# (-au/-ap and [authentication]) and with Net::SIP (auth => [user, pass]);
# a wrong password gets 403; no credentials at all get only the challenge;
# "address and digest" refuses an unlisted source outright and challenges a
# listed one; a nonce past its lifetime is answered stale=true; a users file readable by others is refused at start.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use PBSipTest;
use IO::Socket::INET;
use IO::Select;
use Digest::MD5 qw(md5_hex);
use Time::HiRes qw(time);

alarm 150;
my $uas_bin = $ENV{PB_SIP_UAS} or die "PB_SIP_UAS not set";
my $dir = $ENV{PB_SOURCE_ROOT} . '/tests/sip';
my $tmp = tempdir(CLEANUP => 1);
my $users = "$tmp/users";
open my $f, '>', $users or die;
print $f "# user:password:realm\ntrunk:s3cret:screen.test\n";
close $f;
chmod 0600, $users;

sub uas {
    my (@args) = @_;
    my ($p, $port) = start_uas(['--mode', 'answer', '--auth-realm', 'screen.test', '--auth-users', $users, @args],
                               stderr => "$tmp/uas.err");
    ok($port, "uas ready on port $port (@args)") or BAIL_OUT('uas did not start');
    return ($p, $port);
}

sub sipp {
    my ($port, @args) = @_;
    my $s = start_proc(cmd => ['sipp', '-sf', "$dir/uac-auth.xml", '-m', 1, '-i', '127.0.0.1', '-p', free_port(),
                               '-mp', free_port(), '-nostdin', '-timeout', 20, '-timeout_error',
                               '-s', 'screen', '-trace_err', '-error_file', "$tmp/sipp.err", @args,
                               "127.0.0.1:$port"], name => 'sipp', merge => 1);
    return wait_exit($s, 40);
}

my $have_sipp = !system('sh', '-c', 'command -v sipp >/dev/null');

{   # address or digest: the allow list holds someone else, so 127.0.0.1 must authenticate
    my ($uas, $port) = uas('--allow', '192.0.2.1');
    SKIP: {
        skip 'sipp not installed', 4 unless $have_sipp;
        is(sipp($port, '-au', 'trunk', '-ap', 's3cret'), 0,
           'sipp: 401 challenge, INVITE with sipp\'s digest answered 200, BYE');
        like(wait_line($uas, qr/^incoming/, 10) // '', qr/from=sip:\+15550107777\@.* auth=trunk$/,
             'the handler saw the call, authenticated as "trunk"');
        ok(wait_line($uas, qr/^event ended status=200/, 10), 'and its BYE');
        isnt(sipp($port, '-au', 'trunk', '-ap', 'wrong'), 0, 'sipp with a wrong password does not get through');
    }
    my $out = run_caller('--to', "sip:screen\@127.0.0.1:$port", '--hold', 1, '--auth', 'trunk:s3cret',
                   '--from', 'sip:+15550107778@127.0.0.1');
    like($out, qr/^final 200/m, 'Net::SIP answers the challenge and is answered');
    like(wait_line($uas, qr/^incoming from=sip:\+15550107778/, 10) // '', qr/auth=trunk$/,
         'authenticated as "trunk"');
    $out = run_caller('--to', "sip:screen\@127.0.0.1:$port", '--hold', 1, '--auth', 'trunk:wrong',
                '--from', 'sip:+15550107779@127.0.0.1');
    like($out, qr/^final 403/m, 'Net::SIP with a wrong password: 403 Forbidden');
    $out = run_caller('--to', "sip:screen\@127.0.0.1:$port", '--hold', 1, '--from', 'sip:+15550107780@127.0.0.1');
    like($out, qr/^final 401/m, 'no credentials: the challenge is all the caller gets');
    stop_proc($uas);
    my @seen = grep { /^incoming/ } proc_lines($uas);
    ok(!grep(/15550107779|15550107780/, @seen), 'neither reached the handler');
    my $err = do { local $/; open my $e, '<', "$tmp/uas.err"; <$e> // '' };
    like($err, qr/401 challenge/, 'the challenges are logged');
    like($err, qr/digest refused: 403/, 'the refusal is logged');
}

{   # address or digest: a listed source needs no credentials
    my ($uas, $port) = uas('--allow', '127.0.0.1');
    my $out = run_caller('--to', "sip:screen\@127.0.0.1:$port", '--hold', 1);
    like($out, qr/^final 200/m, 'listed source admitted without a challenge');
    like(wait_line($uas, qr/^incoming/, 10) // '', qr/auth=-$/, 'no authenticated user');
    stop_proc($uas);
}

{   # address and digest
    my ($uas, $port) = uas('--allow', '127.0.0.1', '--admit', 'and');
    my $out = run_caller('--to', "sip:screen\@127.0.0.1:$port", '--hold', 1);
    like($out, qr/^final 401/m, 'address and digest: a listed source is still challenged');
    $out = run_caller('--to', "sip:screen\@127.0.0.1:$port", '--hold', 1, '--auth', 'trunk:s3cret');
    like($out, qr/^final 200/m, 'and admitted with the password');
    stop_proc($uas);
    ($uas, $port) = uas('--allow', '192.0.2.1', '--admit', 'and');
    $out = run_caller('--to', "sip:screen\@127.0.0.1:$port", '--hold', 1, '--auth', 'trunk:s3cret');
    like($out, qr/^final 403/m, 'address and digest: an unlisted source gets 403 even with the password');
    stop_proc($uas);
}

{   # a nonce past its lifetime: the same credentials are answered with a new
    # challenge marked stale=true (sofia's nonce check), not admitted
    my ($uas, $port) = uas('--allow', '192.0.2.1', '--nonce-ttl', 1);
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', PeerAddr => "127.0.0.1:$port", Proto => 'udp') or die;
    my $lp = $s->sockport;
    my $n = 0;
    my $invite = sub {
        my ($extra) = @_;
        $n++;
        $s->send("INVITE sip:screen\@127.0.0.1:$port SIP/2.0\r\n"
               . "Via: SIP/2.0/UDP 127.0.0.1:$lp;branch=z9hG4bK-st$n;rport\r\nMax-Forwards: 70\r\n"
               . "From: <sip:+15550107790\@127.0.0.1>;tag=st$n\r\nTo: <sip:screen\@127.0.0.1>\r\n"
               . "Call-ID: stale-$n\@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:c\@127.0.0.1:$lp>\r\n"
               . ($extra // '') . "Content-Length: 0\r\n\r\n");
        my $sel = IO::Select->new($s);
        my $end = time + 10;
        while (time < $end) {
            last unless $sel->can_read($end - time);
            my $r = '';
            $s->recv($r, 8192);
            # answers to earlier calls (200s we never ACK) are retransmitted: skip them
            return $r if $r !~ m{^SIP/2\.0 1} && $r =~ /^Call-ID: stale-$n\@/m;
        }
        return '';
    };
    my $r = $invite->();
    my ($nonce) = $r =~ /nonce="([^"]+)"/;
    ok($nonce, 'challenged with a nonce');
    my $ha1 = md5_hex('trunk:screen.test:s3cret');
    my $ha2 = md5_hex("INVITE:sip:screen\@127.0.0.1:$port");
    my $resp = md5_hex("$ha1:$nonce:00000001:abcdef:auth:$ha2");
    my $cred = "Authorization: Digest username=\"trunk\", realm=\"screen.test\", nonce=\"$nonce\", "
             . "uri=\"sip:screen\@127.0.0.1:$port\", response=\"$resp\", algorithm=MD5, qop=auth, "
             . "nc=00000001, cnonce=\"abcdef\"\r\n";
    like($invite->($cred), qr{^SIP/2\.0 200}, 'fresh credentials (computed here with Digest::MD5) admitted');
    my ($stale, $end) = ('', time + 15);
    while (time < $end) {   # the nonce lives one second: wait for sofia to call it stale
        $stale = $invite->($cred);
        last if $stale =~ /stale=true/;
        select(undef, undef, undef, 0.3);
    }
    like($stale, qr{^SIP/2\.0 401.*stale=true}s, 'the same credentials later: 401 with stale=true');
    $r = $invite->($cred =~ s/response="[0-9a-f]+"/response="00000000000000000000000000000000"/r);
    like($r, qr{^SIP/2\.0 (401|403)}, 'a forged response is not admitted');
    stop_proc($uas);
}

{   # the users file must be private
    chmod 0644, $users;
    my $p = start_proc(cmd => [$uas_bin, '--port', 0, '--auth-realm', 'screen.test', '--auth-users', $users],
                       name => 'uas', merge => 1);
    like(wait_line($p, qr/readable by others/, 10) // '', qr/mode 0?644/, 'a users file readable by others is refused');
    stop_proc($p);
    chmod 0600, $users;
}

stop_all();
done_testing();
