#!/usr/bin/perl
# pb-screend's SIGHUP with real peers: digest settings and the allow list
# change at once; a new listen port and a new store restart the agent, but
# only once the call in progress is over (new calls get 503 meanwhile), then
# the daemon answers on the new port and logs to the new store; a port that
# cannot be bound keeps the old one; a registration change re-registers
# (against kamailio, when installed). The daemon runs with port = 0 (the
# system chooses; the log says which), so nothing collides.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use PBSipTest;

alarm 220;
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $dir = "$src/tests/sip";
my $tmp = tempdir(CLEANUP => 1);
my $tport = free_port();
open my $uf, '>', "$tmp/users" or die;
print $uf "trunk:s3cret:screen.test\n";
close $uf;
chmod 0600, "$tmp/users";

sub write_conf {
    my (%o) = @_;
    open my $f, '>', "$tmp/pb-screend.conf" or die;
    print $f join("\n",
        '[sip]', 'listen = 127.0.0.1', "port = $o{port}", "allow = $o{allow}",
        ($o{realm} ? ("auth-realm = $o{realm}", "auth-users-file = $tmp/users") : ()),
        ($o{registrar} ? ('[register]', "registrar = $o{registrar}", 'aor = sip:screen@127.0.0.1',
                          "password-file = $tmp/pw") : ()),
        '[forward]', 'mode = bridge', "target = sip:target\@127.0.0.1:$tport",
        '[screen]', "prompts = $src/data/prompts",
        '[store]', "path = $tmp/$o{store}",
        '[policy]', 'challenge = press-digit', 'challenge-params = digit=6 tries=1 timeout=8',
        'anonymous-challenge = press-digit', 'anonymous-challenge-params = digit=6 tries=1 timeout=8',
        '[log]', 'level = debug', '');
    close $f;
}

sub call {
    my ($port, @args) = @_;
    return run_caller('--to', "sip:screen\@127.0.0.1:$port", @args);
}

my $callee = start_proc(cmd => ['perl', "$dir/callee.pl", '--port', $tport], name => 'callee', merge => 1);
ok(wait_line($callee, qr/^listening/, 20), 'forward target listening');

write_conf(port => 0, allow => '127.0.0.1', store => 'one.db');
my $d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend', merge => 1);
my ($port) = (wait_line($d, qr/pb-screend ready on 127\.0\.0\.1:\d+/, 20) // '') =~ /:(\d+)$/;
ok($port, "pb-screend ready on the port the system chose ($port)") or BAIL_OUT('daemon did not start');

{   # digest and allow list: applied at once, no restart
    write_conf(port => 0, allow => '192.0.2.1', realm => 'screen.test', store => 'one.db');
    kill 'HUP', $d->{pid};
    ok(wait_line($d, qr/configuration reloaded$/, 10), 'SIGHUP: reloaded without a restart');
    my $out = call($port, '--from', 'sip:+15550108001@127.0.0.1', '--hold', 1);
    like($out, qr/^final 401/m, 'the new allow list no longer holds us: challenged');
    $out = call($port, '--from', 'sip:+15550108001@127.0.0.1', '--hold', 1, '--auth', 'trunk:s3cret');
    ok(wait_line($d, qr/INVITE .* authenticated as trunk/, 10), 'and admitted with the password');
}

my $new_port = free_port();
{   # a new port and store: the call in progress finishes first
    my $c = start_proc(cmd => ['perl', "$dir/caller.pl", '--to', "sip:screen\@127.0.0.1:$port",
                               '--from', 'sip:+15550108002@127.0.0.1', '--auth', 'trunk:s3cret',
                               '--dtmf', '6', '--wait-before-dtmf', 2.5, '--hold', 5],
                       name => 'caller', merge => 1);
    ok(wait_line($d, qr/call from \+15550108002/, 10), 'a call is in progress');
    write_conf(port => $new_port, allow => '127.0.0.1', store => 'two.db');
    kill 'HUP', $d->{pid};
    ok(wait_line($d, qr/the agent restarts when no call is up \(1 now/, 10),
       'SIGHUP with a new port and store: restart deferred while a call is up');
    my $out = call($port, '--from', 'sip:+15550108003@127.0.0.1', '--hold', 1, '--auth', 'trunk:s3cret');
    like($out, qr/^final 503/m, 'meanwhile new calls get 503');
    ok(wait_line($d, qr/press-digit for \+15550108002: passed/, 15), 'the call in progress goes on and passes');
    ok(wait_line($d, qr/agent restarted on 127\.0\.0\.1:$new_port.*store \Q$tmp\E\/two\.db/, 30),
       'the agent restarts on the new port with the new store once the call is over');
    wait_line($c, qr/^done/, 20);
    $out = call($new_port, '--from', 'sip:+15550108004@127.0.0.1', '--hold', 1);
    like($out, qr/^final (200|180)/m, 'a call on the new port is taken') or diag $out;
    ok(wait_line($d, qr/call from \+15550108004/, 10), 'and screened');
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'udp');
    ok($s, 'the old port is free again');
    close $s if $s;
    my $log = `$bin -c $tmp/pb-screend.conf calls 2>&1`;
    like($log, qr/\+15550108004/, 'the new store logs the new calls');
    unlike($log, qr/\+15550108001/, 'and not the old ones');
}

{   # a port that cannot be bound: the old one stays
    my $blocker = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'udp') or die;
    my $taken = $blocker->sockport;
    my $t2 = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $taken, Proto => 'tcp', Listen => 1);
    write_conf(port => $taken, allow => '127.0.0.1', store => 'two.db');
    kill 'HUP', $d->{pid};
    ok(wait_line($d, qr/restart with the new listen, registration or store failed.*keeping the old ones/, 20),
       'a port in use: the restart fails and says so');
    ok(wait_line($d, qr/agent restarted on 127\.0\.0\.1:$new_port/, 10), 'and the agent is back on the old port');
    my $out = call($new_port, '--from', 'sip:+15550108005@127.0.0.1', '--hold', 1);
    ok(wait_line($d, qr/call from \+15550108005/, 10), 'still taking calls');
    close $blocker; close $t2 if $t2;
    write_conf(port => $new_port, allow => '127.0.0.1', store => 'two.db');
}

SKIP: {   # registration: a new registrar re-registers
    skip 'kamailio not installed', 3 unless -x '/usr/sbin/kamailio';
    my ($k, $kport) = start_kamailio($tmp);
    ok($k, 'kamailio started');
    open my $pw, '>', "$tmp/pw" or die; print $pw "s3cret\n"; close $pw; chmod 0600, "$tmp/pw";
    write_conf(port => $new_port, allow => '127.0.0.1', store => 'two.db', registrar => "sip:127.0.0.1:$kport");
    kill 'HUP', $d->{pid};
    ok(wait_line($d, qr/registration: registered \(200\)/, 20), 'SIGHUP with a registrar: registered')
        or diag join("\n", grep { defined } '--- pb-screend:', (proc_lines($d))[-15 .. -1], '--- kamailio:', (proc_lines($k))[-15 .. -1]);
    ok(wait_line($k, qr/REGISTERED sip:screen\@127\.0\.0\.1 contact <sip:127\.0\.0\.1:$new_port/, 10),
       'kamailio saved the contact on the current port');
}

kill 'TERM', $d->{pid};
ok(wait_line($d, qr/^<5>screend: stopped/, 20), 'stops on SIGTERM');
stop_proc($d);
is($d->{status}, 0, 'exit status 0');
stop_all();
done_testing();
