#!/usr/bin/perl
# pb_sip registering to a real registrar: kamailio (Debian's package) with
# digest authentication against a password fixed in its configuration
# (auth's pv_www_authenticate: no database needed); a wrong password is
# refused; a call to the registered address of record is routed by
# kamailio to pb_sip; a registrar that starts late is registered to once it
# is up (transient failures are retried).
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use PBSipTest;

alarm 160;
my $kam = -x '/usr/sbin/kamailio' ? '/usr/sbin/kamailio' : undef;
plan skip_all => 'kamailio not installed' unless $kam;
my $uas_bin = $ENV{PB_SIP_UAS} or die "PB_SIP_UAS not set";
my $src = $ENV{PB_SOURCE_ROOT};
my $tmp = tempdir(CLEANUP => 1);
my ($uport, $u2port) = (free_port(), free_port());
my ($k, $kport) = start_kamailio($tmp);
ok($k, 'kamailio started') or BAIL_OUT('kamailio did not start');

my $u = start_proc(cmd => [$uas_bin, '--port', $uport, '--mode', 'answer',
                           '--registrar', "sip:127.0.0.1:$kport", '--aor', 'sip:screen@127.0.0.1',
                           '--password', 's3cret'], name => 'uas', stderr => '/dev/null');
ok(wait_line($u, qr/^event registered status=200/, 20), 'registered with digest authentication (200)');
ok(wait_line($k, qr/challenge for sip:screen\@127\.0\.0\.1/, 5), 'kamailio challenged first');
ok(wait_line($k, qr/REGISTERED sip:screen\@127\.0\.0\.1 contact <sip:127\.0\.0\.1:$uport/, 5),
   'kamailio saved our contact');

my $bad = start_proc(cmd => [$uas_bin, '--port', $u2port, '--mode', 'answer',
                             '--registrar', "sip:127.0.0.1:$kport", '--aor', 'sip:other@127.0.0.1',
                             '--password', 'wrong'], name => 'uas-bad', stderr => '/dev/null');
like(wait_line($bad, qr/^event register-failed/, 20) // '', qr/status=40[13]/, 'a wrong password is refused (403)');
stop_proc($bad);

my $c = start_proc(cmd => ['perl', "$src/tests/sip/caller.pl", '--to', "sip:screen\@127.0.0.1:$kport",
                           '--hold', 1], name => 'caller', merge => 1);
wait_line($c, qr/^done/, 30);
stop_proc($c);
like(join("\n", proc_lines($c)), qr/^final 200/m, 'a call to the address of record reached pb_sip through kamailio');
ok(wait_line($u, qr/^incoming from=sip:\+15550102000/, 5), 'pb_sip saw the call');

stop_proc($u);
ok(wait_line($k, qr/REGISTERED sip:screen\@127\.0\.0\.1 contact <sip:127\.0\.0\.1:$uport>.* expires 0$/, 10),
   'un-registered when stopping (Expires: 0)');
stop_proc($k);

{   # a registrar that is not there yet: the transient failure is retried
    # (2 s, 4 s, ...) until it answers
    my $k2port = free_port();
    my $u3 = start_proc(cmd => [$uas_bin, '--port', free_port(), '--mode', 'answer',
                                '--registrar', "sip:127.0.0.1:$k2port", '--aor', 'sip:screen@127.0.0.1',
                                '--password', 's3cret'], name => 'uas-early', stderr => '/dev/null');
    like(wait_line($u3, qr/^event register-failed/, 40) // '', qr/status=(408|5\d\d)/,
         'registrar not there: a transient failure');
    my ($k2) = start_kamailio($tmp, $k2port);
    ok(wait_line($u3, qr/^event registered status=200/, 60), 'registered once the registrar is up');
    stop_proc($u3);
    stop_proc($k2);
}
stop_all();
done_testing();
