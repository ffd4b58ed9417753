#!/usr/bin/perl
# pb-screend end to end with real peers: Net::SIP callers pass the
# press-digit challenge with an RFC 4733 digit and with an in-band digit,
# fail with a wrong digit and with silence, hang up during a ring delay; the
# forward target (a Net::SIP callee) really receives the call and the
# bridged audio; a caller who passed is forwarded without a challenge on the
# second call; re-INVITEs (new media address) during a bridge and during a
# challenge; deny list; list commands; SIGHUP reload; SIGTERM drain.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use PBSipTest;

alarm 200;
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $dir = "$src/tests/sip";
my $tmp = tempdir(CLEANUP => 1);
my $port = 0; # the system chooses; read back from the daemon's log
my ($callee, $tport) = (undef, free_port());

sub write_conf {
    my (%o) = @_;
    open my $f, '>', "$tmp/pb-screend.conf" or die;
    print $f join("\n",
        '[sip]', 'listen = 127.0.0.1', 'port = 0', 'allow = 127.0.0.1',
        '[forward]', 'mode = bridge', "target = sip:target\@127.0.0.1:$tport",
        '[screen]', "prompts = $src/data/prompts", 'max-duration = 40',
        '[store]', "path = $tmp/screen.db",
        '[policy]', 'challenge = press-digit', "challenge-params = digit=6 tries=1 timeout=$o{timeout}",
        'anonymous-challenge = ring-delay', 'anonymous-challenge-params = seconds=20',
        '[log]', 'level = debug', '');
    close $f;
}

sub cmd {
    my (@args) = @_;
    my $out = `$bin -c $tmp/pb-screend.conf @args 2>&1`;
    return ($? >> 8, $out);
}

sub call {
    my (@args) = @_;
    my $c = start_proc(cmd => ['perl', "$dir/caller.pl", '--to', "sip:screen\@127.0.0.1:$port", @args],
                       name => 'caller', merge => 1);
    wait_line($c, qr/^done/, 60);
    stop_proc($c);
    return join("\n", proc_lines($c));
}

write_conf(timeout => 4);
my ($rc, $out);
{   # check refuses what run would: a missing prompt folder, a password file others can read
    my $good = do { local (@ARGV, $/) = "$tmp/pb-screend.conf"; <> };
    open my $f, '>', "$tmp/pb-screend.conf" or die;
    print $f $good =~ s{^prompts = .*$}{prompts = $tmp/no-such-prompts}mr;
    close $f;
    ($rc, $out) = cmd('check');
    isnt($rc, 0, 'check fails on a missing prompt folder');
    like($out, qr/no-such-prompts/, '... and names it');
    open my $pw, '>', "$tmp/password" or die; print $pw "secret\n"; close $pw;
    chmod 0644, "$tmp/password";
    open $f, '>', "$tmp/pb-screend.conf" or die;
    print $f $good, "[register]\nregistrar = sip:127.0.0.1:9\naor = sip:screen\@127.0.0.1\npassword-file = $tmp/password\n";
    close $f;
    ($rc, $out) = cmd('check');
    isnt($rc, 0, 'check fails on a password file others can read');
    like($out, qr/password: readable by others \(mode 644\)/, '... and says so');
    write_conf(timeout => 4);
}
($rc, $out) = cmd('check');
is($rc, 0, 'configuration checks') or diag $out;

$callee = start_proc(cmd => ['perl', "$dir/callee.pl", '--port', $tport], name => 'callee', merge => 1);
ok(wait_line($callee, qr/^listening/, 20), 'forward target listening');
my $d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend', merge => 1);
($port) = (wait_line($d, qr/pb-screend ready on 127\.0\.0\.1:\d+/, 20) // '') =~ /:(\d+)$/;
ok($port, "pb-screend ready on port $port") or BAIL_OUT('daemon did not start');

{   # RFC 4733 digit: passes, forwarded by bridge, audio both ways
    $out = call('--from', 'sip:+15550100001@127.0.0.1', '--dtmf', '6', '--wait-before-dtmf', 1.5, '--hold', 7);
    like($out, qr/^final 200/m, 'challenge answered');
    ok(wait_line($d, qr/digit 6 \(RTP\) from \+15550100001/, 5), 'RFC 4733 digit detected');
    ok(wait_line($d, qr/press-digit for \+15550100001: passed/, 5), 'challenge passed');
    ok(wait_line($callee, qr/^invite from=.*\+15550100001/, 5), 'the target received the call');
    my ($n, $ta) = $out =~ /^rtp-received (\d+) target-audio (\d+)/m;
    cmp_ok($n // 0, '>', 20, "caller heard the prompts ($n packets)");
    cmp_ok($ta // 0, '>', 10, "the target's audio reached the caller through the bridge ($ta packets)");
    like(wait_line($callee, qr/^cleanup/, 15) // '', qr/loud=[1-9]/, "the caller's audio reached the target");
    ($rc, $out) = cmd('lookup', '+15550100001');
    like($out, qr/on the allow list \(challenge\)/, 'the caller is on the allow list (source: challenge)');
}

{   # second call from the same number: no challenge
    $out = call('--from', 'sip:+15550100001@127.0.0.1', '--hold', 3);
    ok(wait_line($d, qr/\+15550100001.*accept by rule allow/, 10), 'second call accepted by the allow list');
    like($out, qr/^final 200/m, 'answered (by the target)');
    my ($n, $ta) = $out =~ /^rtp-received (\d+) target-audio (\d+)/m;
    cmp_ok($ta // 0, '>', 10, 'and the caller hears the target straight away');
}

{   # re-INVITE with a new media address during a bridged call: the call
    # survives and the relay follows (the caller still hears the target)
    $out = call('--from', 'sip:+15550100001@127.0.0.1', '--hold', 5, '--reinvite-after', 2);
    like($out, qr/^final 200/m, 'allow-listed call bridged');
    like($out, qr/^reinvite 200/m, 're-INVITE during the bridge answered 200');
    my ($n, $ta) = $out =~ /^rtp-after-reinvite (\d+) target-audio (\d+)/m;
    cmp_ok($ta // 0, '>', 10, "the target's audio reaches the caller's new address ($ta packets)");
    unlike($out, qr/^bye-received/m, 'the call was not dropped');
}

{   # re-INVITE during the challenge: prompts go to the new address, the
    # digit still passes
    $out = call('--from', 'sip:+15550100011@127.0.0.1', '--dtmf', '6', '--wait-before-dtmf', 2.5,
                '--reinvite-after', 1, '--hold', 6);
    like($out, qr/^reinvite 200/m, 're-INVITE during the challenge answered 200');
    ok(wait_line($d, qr/press-digit for \+15550100011: passed/, 10), 'the challenge passes after the re-INVITE');
    my ($n, $ta) = $out =~ /^rtp-after-reinvite (\d+) target-audio (\d+)/m;
    cmp_ok(($n // 0) - ($ta // 0), '>', 5, 'prompts reached the new address (' . (($n // 0) - ($ta // 0)) . ' packets)');
    cmp_ok($ta // 0, '>', 5, 'and after passing, the bridged target too');
}

{   # in-band digit
    $out = call('--from', 'sip:+15550100002@127.0.0.1', '--dtmf', '6', '--dtmf-method', 'audio',
                '--wait-before-dtmf', 1.5, '--hold', 5);
    ok(wait_line($d, qr/press-digit for \+15550100002: passed/, 10), 'in-band digit passes');
}

{   # wrong digit
    $out = call('--from', 'sip:+15550100003@127.0.0.1', '--dtmf', '5', '--wait-before-dtmf', 1.5, '--hold', 12);
    ok(wait_line($d, qr/press-digit for \+15550100003: failed/, 10), 'wrong digit fails');
    like($out, qr/^bye-received/m, 'and the caller is hung up on');
    ($rc, $out) = cmd('lookup', '+15550100003');
    unlike($out, qr/allow list/, 'not on the allow list');
}

{   # silence
    $out = call('--from', 'sip:+15550100004@127.0.0.1', '--hold', 20);
    ok(wait_line($d, qr/press-digit for \+15550100004: (failed|timed-out)/, 10), 'silence fails');
    like($out, qr/^bye-received/m, 'and the caller is hung up on');
}

{   # anonymous caller hangs up during the ring delay
    $out = call('--from', 'sip:anonymous@anonymous.invalid', '--cancel-after', 2);
    like($out, qr/^preliminary 180/m, 'ringing during the ring delay');
    ok(wait_line($d, qr/ring-delay for .*hung-up/, 10), 'hang-up during the ring delay ends the session');
}

{   # deny list via the command, then a call from it
    ($rc, $out) = cmd('deny', '+15550100009');
    is($rc, 0, 'deny command') or diag $out;
    $out = call('--from', 'sip:+15550100009@127.0.0.1', '--hold', 1);
    like($out, qr/^final 603/m, 'denied caller gets 603');
    ($rc, $out) = cmd('remove', 'deny', '+15550100009');
    like($out, qr/removed from the deny list/, 'remove command');
    ($rc, $out) = cmd('allow', '+15550100010');
    like($out, qr/\+15550100010 added to the allow list/, 'allow command');
}

{   # every call logged
    ($rc, $out) = cmd('calls');
    like($out, qr/\+15550100001\s+challenge\s+press-digit:passed\s+sip:target/, 'call log: passed and forwarded');
    like($out, qr/\+15550100003\s+challenge\s+press-digit:failed/, 'call log: failed');
    like($out, qr/\+15550100009\s+reject/, 'call log: rejected');
    ($rc, $out) = cmd('calls', '--json');
    is($rc, 0, 'calls --json');
    my @rows = map { JSON::PP::decode_json($_) } grep { /^\{/ } split /\n/, $out;
    my ($passed) = grep { ($_->{challenge} // '') eq 'press-digit:passed' && $_->{caller} eq '+15550100001' } @rows;
    ok($passed, 'calls --json: the passed call is a JSON line') or diag $out;
    is($passed->{ended}, 'forwarded', '... ended: forwarded');
    is($passed->{sip_status}, 200, '... final status 200');
    like($passed->{called} // '', qr/^sip:screen\@127\.0\.0\.1/, '... the called Request-URI');
    is($passed->{rule}, 'default', '... the rule that decided');
    my ($denied) = grep { $_->{caller} eq '+15550100009' } @rows;
    is($denied->{sip_status}, 603, 'the denied call: 603 in the log');
    is($denied->{rule}, 'deny-list', '... by the deny list');
    is($denied->{ended}, 'refused', '... refused');
    my ($failed) = grep { ($_->{challenge} // '') eq 'press-digit:failed' } @rows;
    is($failed->{ended}, 'challenge failed', 'the failed call: challenge failed');
    ($rc, $out) = cmd('lookup', '+15550100077');
    like($out, qr/^\+15550100077: on no list$/m, 'lookup of an unknown number says so');
}

{   # SIGHUP reloads; a bad file keeps the old configuration
    write_conf(timeout => 5);
    kill 'HUP', $d->{pid};
    ok(wait_line($d, qr/configuration reloaded/, 10), 'SIGHUP reloads');
    open my $f, '>>', "$tmp/pb-screend.conf"; print $f "[bogus]\nx=1\n"; close $f;
    kill 'HUP', $d->{pid};
    ok(wait_line($d, qr/reload failed, keeping the old configuration: .*line \d+: unknown section \[bogus\]/, 10),
       'a bad configuration is refused with its line');
    write_conf(timeout => 5);
}

{   # SIGTERM: the call in progress finishes, new ones get 503
    my $c = start_proc(cmd => ['perl', "$dir/caller.pl", '--to', "sip:screen\@127.0.0.1:$port",
                               '--from', 'sip:+15550100005@127.0.0.1', '--dtmf', '6',
                               '--wait-before-dtmf', 2.5, '--hold', 5], name => 'caller', merge => 1);
    ok(wait_line($d, qr/call from \+15550100005/, 10), 'a call is in progress');
    kill 'TERM', $d->{pid};
    ok(wait_line($d, qr/stopping: no new calls, 1 in progress/, 10), 'SIGTERM: draining');
    $out = call('--from', 'sip:+15550100006@127.0.0.1', '--hold', 1);
    like($out, qr/^final 503/m, 'new calls refused with 503 while draining');
    ok(wait_line($d, qr/press-digit for \+15550100005: passed/, 15), 'the call in progress still finishes');
    ok(wait_line($d, qr/^<5>screend: stopped/, 20), 'the daemon stops when the last call ends');
    wait_line($c, qr/^done/, 20);
    stop_proc($d);
    is($d->{status}, 0, 'exit status 0');
}

stop_all();
done_testing();
