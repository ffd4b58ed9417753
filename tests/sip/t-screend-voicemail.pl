#!/usr/bin/perl
# Voicemail after each kind of forward failure, and each way a message
# ends (docs/screen.md "Voicemail"), with pb-screend alone: Net::SIP
# callers on the allow list, Net::SIP callees as the forward target that
# answer 486 Busy Here or 603 Decline, and a target whose port is closed
# (ICMP port unreachable). What counts is in the store: the call log
# (`pb-screend calls`), the journal row (backend screen:voicemail) and
# the length of the recording, read from its WAV header in the
# attachments directory. bridge-voicemail (tests/voicemail-test.py) runs
# the timeout case with pb-bridged and Matrix.
#
#   on = busy          486 -> voicemail, silence ends the message
#                      603 -> voicemail, '#' ends the message
#   on = unreachable   closed port -> voicemail, max-seconds = 2 ends it
#   on = timeout       486 -> no voicemail: the caller gets 486, the log
#                      says "forward failed (486)"; closed port -> none
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP qw(decode_json);
use PBSipTest;

alarm 200;
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $tmp = tempdir(CLEANUP => 1);
my $db = "$tmp/screen.db";
my ($p_busy, $p_decline, $p_closed) = (free_port(), free_port(), free_port());

# What the callers say: 440 Hz, half scale, raw 8 kHz mu-law (G.711).
sub ulaw {
    my ($s) = @_;
    my $sign = $s < 0 ? 0x80 : 0;
    $s = -$s if $s < 0;
    $s = 32635 if $s > 32635;
    $s += 0x84;
    my $exp = 7;
    for (my $m = 0x4000; !($s & $m) && $exp > 0; $m >>= 1) { $exp-- }
    return ~($sign | ($exp << 4) | (($s >> ($exp + 3)) & 0x0f)) & 0xff;
}
sub tone_file {
    my ($name, $secs) = @_;
    open my $f, '>:raw', "$tmp/$name" or die "$tmp/$name: $!";
    print $f pack('C*', map { ulaw(int(16000 * sin(2 * 3.14159265358979 * 440 * $_ / 8000))) } 0 .. 8000 * $secs - 1);
    close $f;
    return "$tmp/$name";
}
my $tone3 = tone_file('tone3.ul', 3);
my $tone5 = tone_file('tone5.ul', 5);

sub write_conf {
    my (%o) = @_;
    open my $f, '>', "$tmp/pb-screend.conf" or die;
    print $f join("\n",
        '[sip]', 'listen = 127.0.0.1', 'port = 0', 'allow = 127.0.0.1',
        '[forward]', 'mode = bridge', "target = $o{target}", 'timeout = 10',
        '[screen]', "prompts = $src/data/prompts", 'max-duration = 60',
        '[store]', "path = $db",
        '[voicemail]', 'enabled = yes', "on = $o{on}", "max-seconds = " . ($o{max} // 30),
        'silence-seconds = ' . ($o{silence} // 10), 'format = wav',
        '[policy]', 'region = DE',
        '[log]', 'level = info', '');
    close $f;
}

sub call {
    my ($port, $from, @args) = @_;
    my $c = start_proc(cmd => ['perl', "$src/tests/sip/caller.pl", '--to', "sip:screen\@127.0.0.1:$port",
                               '--from', "sip:$from\@127.0.0.1", @args], name => 'caller', merge => 1);
    wait_line($c, qr/^done/, 60);
    stop_proc($c);
    return join("\n", proc_lines($c));
}

sub sql {
    my ($q) = @_;
    my $out = `sqlite3 -readonly -separator '|' '$db' "$q" 2>&1`;
    die "sqlite3: $out" if $?;
    return map { [split /\|/, $_, -1] } split /\n/, $out;
}

# The call log's row for a caller (the newest), as pb-screend prints it.
sub logged {
    my ($caller) = @_;
    for (split /\n/, `$bin -c $tmp/pb-screend.conf calls --json 2>/dev/null`) {
        my $r = eval { decode_json($_) } or next;
        return $r if ($r->{caller} // '') eq $caller; # newest first
    }
    return undef;
}

sub wait_for {
    my ($what, $secs) = @_;
    my $end = time + $secs;
    while (time < $end) {
        my $v = $what->();
        return $v if $v;
        select(undef, undef, undef, 0.1);
    }
    return undef;
}

# The journal rows of the voicemails: [id, peer, body, sha256, content_type].
sub voicemails {
    return sql("SELECT m.id, m.peer, m.body, a.sha256, a.content_type FROM messages m "
             . "LEFT JOIN attachments a ON a.msg_id = m.id WHERE m.backend = 'screen:voicemail' ORDER BY m.id");
}

# A WAV file's length in seconds from its header (RIFF chunks: fmt gives
# the format and byte rate, data the number of bytes), and from its
# samples where the caller's tone starts and ends (seconds; a sample
# above -30 dBFS is the tone): (length, tone_from, tone_to), or () if it
# is not 8 kHz mono 16-bit PCM.
sub wav_info {
    my ($file) = @_;
    open my $f, '<:raw', $file or return ();
    local $/;
    my $b = <$f>;
    return () unless length($b) >= 12 && substr($b, 0, 4) eq 'RIFF' && substr($b, 8, 4) eq 'WAVE';
    my ($pos, $byte_rate, $data_at, $data_len) = (12);
    while ($pos + 8 <= length $b) {
        my ($id, $len) = unpack('a4 V', substr($b, $pos, 8));
        if ($id eq 'fmt ') {
            my ($fmt, $ch, $rate, $br, $align, $bits) = unpack('v v V V v v', substr($b, $pos + 8, 16));
            return () unless $fmt == 1 && $ch == 1 && $rate == 8000 && $bits == 16;
            $byte_rate = $br;
        }
        ($data_at, $data_len) = ($pos + 8, $len) if $id eq 'data';
        $pos += 8 + $len + ($len & 1);
    }
    return () unless $byte_rate && defined $data_len && $data_at + $data_len <= length $b;
    my @s = unpack('s<*', substr($b, $data_at, $data_len));
    my ($first, $last);
    for my $i (0 .. $#s) {
        next unless abs($s[$i]) > 1000;
        $first //= $i;
        $last = $i;
    }
    return ($data_len / $byte_rate, ($first // 0) / 8000, ($last // 0) / 8000);
}

# A new voicemail for $caller (after $before rows): its row and length.
sub new_message {
    my ($before, $caller) = @_;
    my $rows = wait_for(sub { my @v = voicemails(); @v > $before ? \@v : undef }, 30) // [];
    my $m = $rows->[-1] // [];
    my @wav = $m->[3] ? wav_info("$db.attachments/$m->[3]") : ();
    return ($m, scalar @$rows, @wav);
}

# --- the forward targets ----------------------------------------------------------
my $busy = start_proc(cmd => ['perl', "$src/tests/sip/callee.pl", '--port', $p_busy, '--busy'],
                      name => 'busy', merge => 1);
my $decline = start_proc(cmd => ['perl', "$src/tests/sip/callee.pl", '--port', $p_decline, '--reject', 603],
                         name => 'decline', merge => 1);
ok(wait_line($busy, qr/^listening/, 20) && wait_line($decline, qr/^listening/, 20),
   'two Net::SIP targets: one answers 486 Busy Here, one 603 Decline');

write_conf(on => 'busy', target => "sip:busy\@127.0.0.1:$p_busy", silence => 2);
for my $n (map { "+491511000000$_" } 1 .. 6) {
    system("$bin -c $tmp/pb-screend.conf allow $n >/dev/null 2>&1") == 0 or BAIL_OUT("allow $n");
}
my $d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend', merge => 1);
my ($port) = (wait_line($d, qr/pb-screend ready on 127\.0\.0\.1:\d+/, 20) // '') =~ /:(\d+)$/;
ok($port, "pb-screend ready, on = busy, silence-seconds = 2") or BAIL_OUT('daemon did not start');
my $reloads = 0;
sub reload {
    my ($what) = @_;
    kill 'HUP', $d->{pid};
    $reloads++;
    ok(wait_for(sub { grep({ /configuration reloaded/ } proc_lines($d)) >= $reloads }, 20), "reloaded: $what");
}

# --- busy (486) -> voicemail; 2 s of silence end it --------------------------------
my $out = call($port, '+4915110000001', '--play', $tone3, '--play-after-silence', 40, '--hold', 40);
like($out, qr/^final 200/m, '486 from the target: pb-screend answers the caller itself');
like($out, qr/^playing/m, '... plays the greeting and the beep, then the caller speaks 3 s');
like($out, qr/^bye-received/m, '... and hangs up after 2 s of silence');
ok(wait_line($busy, qr/^invite from=.*\+4915110000001/, 5), 'the target was rung first');
ok(wait_line($d, qr/forward failed \(486, busy\): voicemail/, 5), 'the log says why: 486, busy');
my ($m, $count, $secs, $from, $to) = new_message(0, '+4915110000001');
is($m->[1], '+4915110000001', 'a journal row for the caller, backend screen:voicemail');
is($m->[4], 'audio/wav', 'its attachment is audio/wav');
ok(defined $secs && $to - $from >= 2.9 && $to - $from <= 3.1,
   sprintf('the WAV holds the 3 s said (the tone from %.2f s to %.2f s)', $from // -1, $to // -1));
ok(defined $secs && $secs - $to >= 0.4 && $secs - $to <= 0.55,
   sprintf('silence ended it, cut to half a second after the tone (%.2f s of %.2f s)',
           defined $secs ? $secs - $to : -1, $secs // -1));
like($m->[2] // '', qr/^duration_ms=(\d+)$/, 'the row says its length');
my ($ms) = ($m->[2] // '') =~ /(\d+)/;
ok(defined $secs && defined $ms && abs($ms - $secs * 1000) < 30, "which is the WAV's ($ms ms)");
my $r = wait_for(sub { my $x = logged('+4915110000001'); $x && $x->{ended} eq 'voicemail' ? $x : undef }, 10);
ok($r && $r->{sip_status} == 200, 'the call log: ended voicemail, 200') or diag explain logged('+4915110000001');

# --- 603 Decline is busy too; '#' ends the message ----------------------------------
write_conf(on => 'busy', target => "sip:decline\@127.0.0.1:$p_decline");
reload('on = busy, the target declines');
$out = call($port, '+4915110000002', '--play', $tone5, '--play-after-silence', 40, '--digit-while-playing', '#',
            '--digit-after', 2, '--hold', 40);
like($out, qr/^final 200.*^playing.*^bye-received/ms, '603 from the target: voicemail; the caller presses # after 2 s');
ok(wait_line($d, qr/forward failed \(603, busy\): voicemail/, 5), 'the log says: 603, busy');
($m, $count, $secs, $from, $to) = new_message($count, '+4915110000002');
is($m->[1], '+4915110000002', "a journal row for the second caller");
ok(defined $secs && $to - $from >= 1.5 && $to - $from <= 2.6 && $secs - $to < 0.3,
   sprintf("'#' ended it: the WAV holds about the 2 s of tone before it, of the 5 s (%.2f s to %.2f s of %.2f s)",
           $from // -1, $to // -1, $secs // -1));

# --- unreachable: the target's port is closed; max-seconds = 2 ----------------------
write_conf(on => 'unreachable', target => "sip:gone\@127.0.0.1:$p_closed", max => 2);
reload('on = unreachable, a target whose port is closed, max-seconds = 2');
$out = call($port, '+4915110000003', '--play', $tone5, '--play-after-silence', 40, '--hold', 40);
like($out, qr/^final 200.*^playing.*^bye-received/ms, 'no target reachable: voicemail, hung up at the limit');
my $why = wait_line($d, qr/forward failed \(\d+, unreachable\): voicemail/, 5);
ok($why, 'the log says: unreachable') or diag join("\n", grep { /forward/ } proc_lines($d));
note $why // '-';
($m, $count, $secs, $from, $to) = new_message($count, '+4915110000003');
is($m->[1], '+4915110000003', 'a journal row for the third caller');
ok(defined $secs && abs($secs - 2) <= 0.02 && $secs - $to < 0.05,
   sprintf('max-seconds = 2 ended it: the WAV is 2 s long, the tone to its end (%.2f s, tone from %.2f s to %.2f s)',
           $secs // -1, $from // -1, $to // -1));

# --- the forward fails at once: the called number's own target is no SIP URI -------
# (pb-screend numbers set; the configured targets are checked at start-up)
is(system("$bin -c $tmp/pb-screend.conf numbers set +4930555000 --forward 'garbage<>' >/dev/null 2>&1"), 0,
   'the called number +4930555000 forwards to "garbage<>"');
$out = call($port, '+4915110000006', '--to', 'sip:+4930555000@127.0.0.1:' . $port, '--play', $tone5,
            '--play-after-silence', 40, '--hold', 40);
like($out, qr/^final 200.*^playing.*^bye-received/ms, 'the bridge cannot start: voicemail (unreachable)');
$why = wait_line($d, qr/forwarding to garbage<> failed/, 5);
like($why // '', qr/forwarding to garbage<> failed: bridge: target 'garbage<>' is not a SIP URI$/,
     'the log names the bad target, not "out of memory"') or diag $why;
ok(wait_line($d, qr/\+4915110000006: forward failed \(503, unreachable\): voicemail/, 5), '... and voicemail follows');
($m, $count) = new_message($count, '+4915110000006');
is($m->[1], '+4915110000006', 'a journal row for that caller');

# --- on = timeout alone: busy and unreachable give no voicemail ---------------------
write_conf(on => 'timeout', target => "sip:busy\@127.0.0.1:$p_busy");
reload('on = timeout, the busy target');
$out = call($port, '+4915110000004', '--hold', 5);
like($out, qr/^final 486/m, 'busy with on = timeout: the caller gets 486, no voicemail');
$r = wait_for(sub { logged('+4915110000004') }, 10);
is($r && $r->{ended}, 'forward failed (486)', 'the call log says the forward failed with 486');
is($r && $r->{sip_status}, 486, '... and the caller got 486');

write_conf(on => 'timeout', target => "sip:gone\@127.0.0.1:$p_closed");
reload('on = timeout, the closed port');
$out = call($port, '+4915110000005', '--hold', 5);
like($out, qr/^final 4\d\d|^final 5\d\d/m, 'unreachable with on = timeout: the caller gets a failure, no voicemail');
$r = wait_for(sub { logged('+4915110000005') }, 10);
like($r ? $r->{ended} : '', qr/^forward failed \(\d+\)$/,
     'the call log says the forward failed: ' . ($r ? "$r->{ended}, caller got $r->{sip_status}" : '-'));
is(scalar(voicemails()), $count, 'no journal row for either');

kill 'TERM', $d->{pid};
ok(wait_line($d, qr/stopped/, 20), 'pb-screend stops');
stop_all();
done_testing();
