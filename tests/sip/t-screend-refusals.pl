#!/usr/bin/perl
# Every call is in pb-screend's call log, refused ones included: the
# refusals the SIP agent makes before screening (403 source not allowed,
# 403 digest refused, 400 from the SDP guard, 488 no acceptable media, 503
# draining) and the screener's own (404 not our domain, 503 over max-calls)
# each get a row with the rule, the status and the source address, and a
# flood of junk is aggregated: per rule at most 10 rows a minute, the rest
# in one row with its count (written when the window ends, or at the stop).
# Callers: Net::SIP (tests/sip/caller.pl) and raw UDP where no SIP stack
# would send such a request (junk SDP, a flood).
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use PBSipTest;

alarm 200;
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $tmp = tempdir(CLEANUP => 1);
my ($port, $tport) = (free_port(), free_port());
my $users = "$tmp/users";
open my $u, '>', $users or die;
print $u "trunk:s3cret:screen.test\n";
close $u;
chmod 0600, $users;

sub write_conf {
    my (@extra) = @_;
    open my $f, '>', "$tmp/pb-screend.conf" or die;
    print $f join("\n",
        '[sip]', 'listen = 127.0.0.1', "port = $port", 'allow = 127.0.0.1', 'max-calls = 1', @extra,
        '[forward]', "target = sip:target\@127.0.0.1:$tport",
        '[screen]', "prompts = $src/data/prompts",
        '[store]', "path = $tmp/screen.db",
        '[policy]', 'challenge = press-digit', 'challenge-params = digit=6 tries=1 timeout=30',
        'own-domains = 127.0.0.1',
        '[log]', 'level = debug', '');
    close $f;
}

# One INVITE over UDP from $from (an address on lo), as written; the first answer's status.
my $seq = 0;
sub raw_invite {
    my ($from, $body, %o) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => $from, Proto => 'udp') or die "$from: $!";
    my $lp = $s->sockport;
    $seq++;
    my $msg = "INVITE sip:screen\@127.0.0.1:$port SIP/2.0\r\n"
        . "Via: SIP/2.0/UDP $from:$lp;branch=z9hG4bK-refusal$seq\r\nMax-Forwards: 70\r\n"
        . "From: <sip:+1555010$seq\@$from>;tag=r$seq\r\nTo: <sip:screen\@127.0.0.1>\r\n"
        . "Call-ID: refusal-$seq\@$from\r\nCSeq: 1 INVITE\r\nContact: <sip:x\@$from:$lp>\r\n"
        . "Content-Type: application/sdp\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    $s->send($msg, 0, Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1'))) or die;
    return $s if $o{nowait};
    my $sel = IO::Select->new($s);
    my $reply = '';
    while ($sel->can_read(10)) {
        $s->recv($reply, 65535);
        last unless $reply =~ m{^SIP/2\.0 1\d\d };
    }
    return $reply =~ m{^SIP/2\.0 (\d+)} ? $1 : 'none';
}

sub bg_call {
    my (@args) = @_;
    return start_proc(cmd => ['perl', "$src/tests/sip/caller.pl", @args], name => 'caller', merge => 1);
}

sub calls {
    my @rows;
    for (split /\n/, `$bin -c $tmp/pb-screend.conf calls --json 2>&1`) {
        push @rows, eval { decode_json($_) } // { bad => $_ };
    }
    return @rows;
}

write_conf();
my $d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend', merge => 1);
ok(wait_line($d, qr/pb-screend ready/, 20), 'pb-screend ready') or BAIL_OUT('daemon did not start');

# 403: a source not on the allow list (Net::SIP from 127.0.0.2)
my $out = run_caller('--bind', '127.0.0.2', '--to', "sip:screen\@127.0.0.1:$port", '--from',
                     'sip:+15550109001@127.0.0.2', '--hold', 1);
like($out, qr/^final 403/m, 'an unlisted source gets 403');
ok(wait_line($d, qr/INVITE from 127\.0\.0\.2 port \d+ \(From \+15550109001\): source not allowed: 403/, 10),
   'the 403 is logged with the source address');

# 404: a Request-URI host that is not ours (own-domains), sent to us as to a proxy
$out = run_caller('--to', 'sip:screen@elsewhere.example.org', '--proxy', "127.0.0.1:$port", '--from',
                  'sip:+15550109002@127.0.0.1', '--hold', 1);
like($out, qr/^final 404/m, 'a domain not ours gets 404');

# 400: the SDP guard (sofia-sip answers before the agent sees the INVITE)
is(raw_invite('127.0.0.1', "v=0\r\nm=audio 9 R\xD0\xC5 0\r\n"), 400, 'junk SDP gets 400');

# 488: an offer with no audio codec we speak
my $g729 = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
         . "m=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
is(raw_invite('127.0.0.1', $g729), 488, 'an offer without PCMU or PCMA gets 488');

# 503 overloaded: max-calls = 1 and a call in its challenge
my $a = bg_call('--to', "sip:screen\@127.0.0.1:$port", '--from', 'sip:+15550109003@127.0.0.1', '--hold', 8);
ok(wait_line($d, qr/call from \+15550109003 .*challenge press-digit/, 20), 'one call in its challenge');
$out = run_caller('--to', "sip:screen\@127.0.0.1:$port", '--from', 'sip:+15550109004@127.0.0.1', '--hold', 1);
like($out, qr/^final 503/m, 'the call over max-calls gets 503');
ok(wait_line($a, qr/^done/, 30), 'the first call ended');

# a flood of junk from one unlisted source: 25 INVITEs, as fast as they go
my @socks = map { raw_invite('127.0.0.3', $g729, nowait => 1) } 1 .. 25;
my $seen = 0;
for (1 .. 100) {
    $seen = grep { /INVITE from 127\.0\.0\.3 port \d+ .*source not allowed: 403/ } proc_lines($d);
    last if $seen >= 25;
    wait_line($d, qr/^\0never/, 0.2);
}
is($seen, 25, 'the flood reached the daemon, every INVITE refused');

# 403 digest refused: digest for everyone now (address and digest), a wrong password
write_conf('auth-realm = screen.test', "auth-users-file = $users", 'admit = address-and-digest');
kill 'HUP', $d->{pid};
ok(wait_line($d, qr/configuration reloaded/, 10), 'reloaded with digest authentication');
$out = run_caller('--to', "sip:screen\@127.0.0.1:$port", '--from', 'sip:+15550109005@127.0.0.1',
                  '--auth', 'trunk:wrong', '--hold', 1);
like($out, qr/^final 403/m, 'a wrong password gets 403');

# 503 draining: SIGTERM with a call up, then one more
$a = bg_call('--to', "sip:screen\@127.0.0.1:$port", '--from', 'sip:+15550109006@127.0.0.1',
            '--auth', 'trunk:s3cret', '--hold', 8);
ok(wait_line($d, qr/call from \+15550109006 .*challenge press-digit/, 20), 'a call in its challenge');
kill 'TERM', $d->{pid};
ok(wait_line($d, qr/stopping: no new calls/, 10), 'stopping');
$out = run_caller('--to', "sip:screen\@127.0.0.1:$port", '--from', 'sip:+15550109007@127.0.0.1',
                  '--auth', 'trunk:s3cret', '--hold', 1);
like($out, qr/^final 503/m, 'a call while draining gets 503');
ok(wait_line($d, qr/^<5>screend: stopped/, 30), 'stopped once the call ended');
is(wait_exit($d, 20), 0, 'and exited');
close $_ for @socks;

my @rows = calls();
ok(!grep({ $_->{bad} } @rows), 'calls --json: one JSON document a line') or diag explain \@rows;
sub row {
    my ($rule, $status, $caller) = @_;
    my @m = grep { ($_->{rule} // '') eq $rule && $_->{sip_status} == $status
                   && (!$caller || ($_->{caller} // '') =~ /\Q$caller\E/) } @rows;
    return $m[0];
}
my $r = row('source-not-allowed', 403, '+15550109001');
ok($r, 'call log: 403 source not allowed') and
    like($r->{source}, qr/^127\.0\.0\.2:\d+$/, '  with the source address') and
    is($r->{verdict}, 'reject', '  verdict reject') and
    like($r->{called}, qr/^sip:screen\@127\.0\.0\.1/, '  and the called URI');
ok($r = row('not-our-domain', 404, '+15550109002'), 'call log: 404 not our domain') and
    like($r->{source}, qr/^127\.0\.0\.1:\d+$/, '  with the source address');
ok($r = row('malformed-sdp', 400), 'call log: 400 from the SDP guard') and
    like($r->{source}, qr/^127\.0\.0\.1:\d+$/, '  with the source address');
ok(row('no-acceptable-media', 488), 'call log: 488 no acceptable media');
ok(row('overloaded', 503, '+15550109004'), 'call log: 503 over max-calls');
ok(row('auth-failed', 403, '+15550109005'), 'call log: 403 digest refused');
ok(row('draining', 503, '+15550109007'), 'call log: 503 while draining');
ok(grep({ ($_->{caller} // '') eq '+15550109003' && $_->{verdict} eq 'challenge' } @rows),
   'and the screened call between them');

# the flood: the Net::SIP call and 25 raw ones, 10 rows and one row for the rest
my @junk = grep { ($_->{rule} // '') eq 'source-not-allowed' } @rows;
my $total = 0;
$total += $_->{count} for @junk;
is($total, 26, 'every unlisted INVITE is counted');
# one 60 s window (two if the machine was slow): 10 rows each, the rest aggregated
my @own = grep { $_->{count} == 1 } @junk;
my @agg = grep { $_->{count} > 1 } @junk;
ok(@own >= 10 && @own <= 20 && @agg >= 1 && @agg <= 2, 'at most 10 rows a window, the rest aggregated')
    or diag explain \@junk;
my $held = 26 - @own;
my ($agg) = @agg;
ok($agg, 'the aggregated row') and
    is($agg->{count}, $held, "  stands for the $held others") and
    like($agg->{ended}, qr/$held more like this within 60 s/, '  and says so') and
    like($agg->{source}, qr/^127\.0\.0\.3:\d+$/, '  naming the last source');
ok(wait_line($d, qr/$held more INVITEs refused \(source-not-allowed, 403\) within 60 s, the last from 127\.0\.0\.3/, 1),
   'and the daemon logged it');

stop_all();
done_testing();
