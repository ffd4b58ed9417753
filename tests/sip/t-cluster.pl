#!/usr/bin/perl
# A screening cluster (docs/cluster.md): sipp callers -> Kamailio's
# dispatcher (examples/kamailio/pb-dispatcher.cfg, only its listen line and
# list file rewritten) -> two pb-screend nodes sharing one PostgreSQL store
# (started by tests/pg_server.py around this test) -> a sipp callee.
#   1. calls spread over both nodes;
#   2. a caller who passed the challenge on one node is let through by the
#      other at once, without a challenge;
#   3. per-number settings (numbers set on one node) apply on both nodes
#      (voicemail = record is refused: PostgreSQL has no journal);
#   4. node B is killed during a 20 calls/s run: no new call fails (the
#      failure route sends an INVITE B does not answer to A, and the OPTIONS
#      pings take B out); the calls up on B are lost, counted and reported.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use PBSipTest;
use Time::HiRes qw(time);

alarm 280;
my $kam = '/usr/sbin/kamailio';
plan skip_all => 'kamailio not installed' unless -x $kam;
plan skip_all => 'no PostgreSQL (run under tests/pg_server.py)' unless $ENV{PB_TEST_PG_HOST};
my $pcaps = '/usr/share/sip-tester';
plan skip_all => "no sipp pcaps in $pcaps" unless -f "$pcaps/dtmf_2833_6.pcap";
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $tmp = tempdir(CLEANUP => !$ENV{PB_TEST_KEEP});
note("files in $tmp") if $ENV{PB_TEST_KEEP};
mkdir "$tmp/pcap";
symlink("$pcaps/dtmf_2833_6.pcap", "$tmp/pcap/dtmf_2833_6.pcap") or die;

my $url = "postgresql://$ENV{PB_TEST_PG_USER}\@/postgres?host=$ENV{PB_TEST_PG_HOST}&port=$ENV{PB_TEST_PG_PORT}";
my $pgbin = (sort glob('/usr/lib/postgresql/*/bin'))[-1];
sub psql {
    my ($sql) = @_;
    open my $pw, '<', $ENV{PB_TEST_PG_PASSWORD_FILE} or die; chomp(my $p = <$pw>); close $pw;
    local $ENV{PGPASSWORD} = $p;
    my $out = `$pgbin/psql -X -q -A -t -h $ENV{PB_TEST_PG_HOST} -p $ENV{PB_TEST_PG_PORT} -U $ENV{PB_TEST_PG_USER} -d postgres -c "$sql"`;
    chomp $out;
    return $out;
}

my ($kport, $tport, $aport, $bport) = (free_port(), free_port(), free_port(), free_port());
my $callee = start_proc(cmd => ['sipp', '-sn', 'uas', '-i', '127.0.0.1', '-p', $tport, '-nostdin',
                                '-max_socket', 4096], name => 'target', stderr => '/dev/null');

sub node_conf {
    my ($name, $port, $store_url) = @_;
    my $file = "$tmp/$name.conf";
    open my $f, '>', $file or die;
    print $f join("\n",
        '[sip]', 'listen = 127.0.0.1', "port = $port", 'allow = 127.0.0.1',
        '[forward]', 'mode = bridge', "target = sip:target\@127.0.0.1:$tport",
        '[screen]', "prompts = $src/data/prompts",
        '[store]', 'url = ' . ($store_url // $url), "password-file = $ENV{PB_TEST_PG_PASSWORD_FILE}",
        '[policy]', 'challenge = press-digit', 'challenge-params = digit=6 tries=1 timeout=15',
        '[log]', 'level = info', '');
    close $f;
    return $file;
}

sub node {
    my ($name, $port) = @_;
    my $file = node_conf($name, $port);
    my $d = start_proc(cmd => [$bin, '-c', $file], name => $name, merge => 1);
    ok(wait_line($d, qr/pb-screend ready/, 30), "node $name ready on the shared store") or BAIL_OUT("$name did not start");
    return $d;
}
{   # check connects to the database as run would
    node_conf('C', free_port());
    my $out = `$bin -c $tmp/C.conf check 2>&1`;
    is($?, 0, 'pb-screend check with [store] url passes') or diag($out);
    like($out, qr/\[store\] password-file/, 'and checks the password file');
    (my $bad = $url) =~ s/postgres\?/no_such_db?/;
    node_conf('D', free_port(), $bad);
    $out = `$bin -c $tmp/D.conf check 2>&1`;
    isnt($?, 0, 'check fails for a database that does not exist');
    like($out, qr/no_such_db/, 'naming it');
    open my $f, '>>', "$tmp/C.conf" or die;
    print $f "path = $tmp/local.db\n";   # in [log], the last section: move it to [store]
    close $f;
    system('sed', '-i', 's/^path = /[store]\npath = /', "$tmp/C.conf");
    $out = `$bin -c $tmp/C.conf check 2>&1`;
    is($? >> 8, 78, 'path and url together are a configuration error (78)');
    like($out, qr/path and url exclude each other/, 'saying so');
}
my $A = node('A', $aport);
my $B = node('B', $bport);

(my $cfg = do { local $/; open my $t, '<', "$src/examples/kamailio/pb-dispatcher.cfg" or die; <$t> })
    =~ s/^listen=.*$/listen=udp:127.0.0.1:$kport/m or die;
$cfg =~ s#"/etc/kamailio/dispatcher.list"#"$tmp/dispatcher.list"# or die;
$cfg =~ s/^log_stderror=no/log_stderror=yes/m;
open my $kf, '>', "$tmp/kamailio.cfg" or die; print $kf $cfg; close $kf;
open my $lf, '>', "$tmp/dispatcher.list" or die;
# both nodes start inactive (flags 1): only an answered OPTIONS ping from
# Kamailio puts a node in (dst-up), which shows that pb-screend answers them
print $lf "1 sip:127.0.0.1:$aport 1\n1 sip:127.0.0.1:$bport 1\n";
close $lf;
my $k = start_proc(cmd => [$kam, '-f', "$tmp/kamailio.cfg", '-DD', '-E', '-Y', $tmp, '-P', "$tmp/kamailio.pid",
                           '-w', $tmp], name => 'kamailio', merge => 1);
ok(wait_line($k, qr/Listening on/i, 20), 'kamailio with the example dispatcher configuration started')
    or BAIL_OUT('kamailio did not start');
ok(wait_line($k, qr/node sip:127\.0\.0\.1:$aport up/, 20), "node A answers Kamailio's OPTIONS: in");
ok(wait_line($k, qr/node sip:127\.0\.0\.1:$bport up/, 20), "node B answers Kamailio's OPTIONS: in");

# the sipload caller: challenged, answers with the RFC 4733 pcap of digit 6
my $xml = do { local $/; open my $f, '<', "$src/bench/sipload-uac.xml" or die; <$f> };
$xml =~ s/\@AUDIO\@//;
sub scenario {
    my ($name, $number, $hold_ms) = @_;
    (my $x = $xml) =~ s/\@HOLD\@/$hold_ms/g;
    $x =~ s/\+1555\[call_number\]/$number/g;
    open my $f, '>', "$tmp/$name.xml" or die; print $f $x; close $f;
    return "$tmp/$name.xml";
}
chdir $tmp;
my $runs = 0;
sub sipp {
    my ($sf, %o) = @_;
    my $stat = "$tmp/stat-" . ++$runs . ".csv";
    my $s = start_proc(cmd => ['sipp', '-sf', $sf, '-i', '127.0.0.1', '-p', free_port(), '-mp', free_port(),
                               '-r', $o{rate}, '-m', $o{calls}, '-l', 1000, '-nostdin', '-max_socket', 4096,
                               '-timeout', $o{timeout} // 90, '-trace_stat', '-fd', 1, '-stf', $stat,
                               '-trace_err', '-error_file', "$stat.errors",
                               '-s', 'screen', "127.0.0.1:$kport"], name => 'sipp', stderr => "$stat.err");
    return ($s, $stat);
}
sub sipp_stats {
    my ($stat) = @_;
    open my $f, '<', $stat or return {};
    my @l = <$f>;
    my @h = split /;/, $l[0];
    my @v = split /;/, $l[-1];
    my %r; @r{@h} = @v;
    return \%r;
}
sub count_lines { my ($p, $re) = @_; return scalar grep { $_ =~ $re } proc_lines($p) }

# 1. calls spread over both nodes
my ($s, $stat) = sipp(scenario('spread', '+1555100[call_number]', 200), rate => 4, calls => 8);
is(wait_exit($s, 90), 0, 'eight challenged calls through kamailio all succeed');
my ($na, $nb) = (count_lines($A, qr/press-digit for \+1555100\d+: passed/),
                 count_lines($B, qr/press-digit for \+1555100\d+: passed/));
is($na + $nb, 8, 'every call passed its challenge on a node');
ok($na >= 2 && $nb >= 2, "calls spread over both nodes (A $na, B $nb)");

# 2. a caller passes on one node; the next call goes to the other node
# (round-robin) and is let through by the shared allow list
my $x = '+15552000001';
($s) = sipp(scenario('first', $x, 200), rate => 1, calls => 1);
is(wait_exit($s, 60), 0, "first call from $x passes its challenge");
my ($first, $other) = grep { count_lines($_, qr/press-digit for \Q$x\E: passed/) } ($A, $B);
ok($first, "one node challenged $x") or BAIL_OUT('no node saw the call');
$other = $first == $A ? $B : $A;
($s) = sipp(scenario('second', $x, 200), rate => 1, calls => 1);
is(wait_exit($s, 60), 0, "second call from $x succeeds");
ok(wait_line($other, qr/call from \Q$x\E .*: accept by rule allow/, 10),
   "the other node ($other->{name}) accepts $x by the allow list");
is(count_lines($other, qr/press-digit for \Q$x\E/), 0, "and does not challenge $x");

# 3. per-number settings from the database: set once with the CLI of one
# node, used by every node on the next call
my $t2port = free_port();
my $sales = start_proc(cmd => ['sipp', '-sn', 'uas', '-i', '127.0.0.1', '-p', $t2port, '-nostdin'],
                       name => 'sales', stderr => '/dev/null');
my $out = `$bin -c $tmp/A.conf numbers set +15550100001 --forward sip:sales\@127.0.0.1:$t2port 2>&1`;
is($?, 0, 'numbers set: a forward target of its own for +15550100001') or diag($out);
$out = `$bin -c $tmp/B.conf numbers set +15550100002 --policy 'unsigned=reject; unsigned-status=428' 2>&1`;
is($?, 0, 'numbers set: a policy of its own for +15550100002') or diag($out);
$out = `$bin -c $tmp/B.conf numbers set +15550100003 --policy 'no-such-key=1' 2>&1`;
isnt($?, 0, 'a policy with an unknown key is refused before it is stored');
like($out, qr/unknown key 'no-such-key'/, 'saying which key');
$out = `$bin -c $tmp/A.conf numbers set +15550100004 --voicemail record 2>&1`;
isnt($?, 0, 'voicemail = record is refused on a PostgreSQL store');
like($out, qr/PostgreSQL store has no journal for recordings/, 'saying why');
$out = `$bin -c $tmp/A.conf numbers set +15550100004 --voicemail off 2>&1`;
is($?, 0, 'voicemail = off is stored') or diag($out);
like(`$bin -c $tmp/A.conf numbers list`, qr/"number":"\+15550100002","policy":"unsigned=reject; unsigned-status=428"/,
     'numbers list shows what the other node stored');
sub call_to {
    my ($name, $from, $to) = @_;
    (my $x = $xml) =~ s/\@HOLD\@/200/g;
    $x =~ s/\+1555\[call_number\]/$from/g;
    open my $f, '>', "$tmp/$name.xml" or die; print $f $x; close $f;
    my $s = start_proc(cmd => ['sipp', '-sf', "$tmp/$name.xml", '-i', '127.0.0.1', '-p', free_port(), '-mp',
                               free_port(), '-m', 2, '-r', 1, '-nostdin', '-timeout', 60, '-s', $to,
                               "127.0.0.1:$kport"], name => 'sipp', stderr => '/dev/null');
    return wait_exit($s, 60);
}
# two calls each, so that both nodes take one (round-robin)
is(call_to('sales', $x, '+15550100001'), 0, "calls from $x to +15550100001 succeed");
is(count_lines($A, qr/call from \Q$x\E forwarded \(bridge\) to sip:sales\@127\.0\.0\.1:$t2port/) +
   count_lines($B, qr/call from \Q$x\E forwarded \(bridge\) to sip:sales\@127\.0\.0\.1:$t2port/), 2,
   "both went to the number's own target, one through each node");
call_to('unsigned', '+15554000001', '+15550100002');
is(count_lines($A, qr/call from \+15554000001 .*: reject by rule unsigned/) +
   count_lines($B, qr/call from \+15554000001 .*: reject by rule unsigned/), 2,
   "calls to +15550100002 are refused by the number's own policy on both nodes");
is(count_lines($A, qr/call from \+15554000001 .*: reject by rule unsigned/), 1, 'one of them on node A');
stop_proc($sales);

# 4. node B dies during a 20 calls/s run
my ($rate, $calls, $hold) = (20, 240, 2000);
($s, $stat) = sipp(scenario('load', '+1555300[call_number]', $hold), rate => $rate, calls => $calls, timeout => 150);
my $started_b = sub { count_lines($B, qr/call from \+1555300\d+ /) };
my $end = time + 60;
proc_lines($A), select(undef, undef, undef, 0.2) while $started_b->() < 40 && time < $end;
ok($started_b->() >= 40, 'node B took its share of the load');
my $killed_at = time;
stop_proc($B, 'KILL');
ok(wait_line($k, qr/node sip:127\.0\.0\.1:$bport (down|failed)/, 30), 'Kamailio notices that node B is gone');
my @b_callers = map { /call from (\+1555300\d+) / ? $1 : () } proc_lines($B);
note(sprintf 'node B killed after it had started %d calls of the run', scalar @b_callers);
$end = time + 150;
while (time < $end) { proc_lines($A); proc_lines($k); last if wait_exit($s, 0.5) != -1 }
my $r = sipp_stats($stat);
my ($ok, $failed) = ($r->{'SuccessfulCall(C)'} // 0, $r->{'FailedCall(C)'} // 0);
# which calls failed: sipp's error file names each by its Call-ID, which
# starts with the call number (the caller is +1555300<call number>)
my %failed_calls;
if (open my $e, '<', "$stat.errors") { while (<$e>) { $failed_calls{"+1555300$1"} = 1 while /\b(\d+)-\d+\@127\.0\.0\.1/g } }
my %on_b = map { $_ => 1 } @b_callers;
my $lost = grep { $on_b{$_} } keys %failed_calls;        # up on B when it died
my $new_failed = grep { !$on_b{$_} } keys %failed_calls; # never reached B
# calls B had finished whose call-log row died with it (written at the end)
my %logged = map { $_ => 1 } split /\n/, psql("SELECT caller FROM calls WHERE caller LIKE '+1555300%'");
my $unlogged = grep { !$logged{$_} && !$failed_calls{$_} } @b_callers;
my $failovers = count_lines($k, qr/node sip:\S+ failed .*: call .* to node sip:127\.0\.0\.1:$aport/);
diag("cluster: $calls calls at $rate/s, node B killed: $ok succeeded, $failed failed: " .
     "$lost were up on B (lost), $new_failed new calls failed; $failovers INVITEs failed over to A; " .
     "$unlogged calls ended on B without their call-log row");
is($ok + $failed, $calls, 'sipp accounted for every call');
is(scalar keys %failed_calls, $failed, 'every failed call is named in the error file');
# docs/cluster.md: a new call never fails for a dead node (bound: 0)
cmp_ok($new_failed, '<=', 0, 'no new call failed after node B died (documented bound: 0)');
ok(count_lines($A, qr/pb-screend ready/) == 1 && $A->{pid}, 'node A is still up');
is(count_lines($k, qr/node sip:127\.0\.0\.1:$aport (down|failed)/), 0, 'and was never taken out');
stop_proc($A);
is($A->{status}, 0, 'node A stops cleanly on SIGTERM (exit 0: nothing leaked under the sanitizers)')
    or diag(join("\n", grep { /Sanitizer|leak|ERROR/ } proc_lines($A)));
stop_all();
done_testing();
