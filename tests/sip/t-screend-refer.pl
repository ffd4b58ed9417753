#!/usr/bin/perl
# pb-screend with mode = refer against sipp callers that answer the REFER
# with 501: with refer-fallback = bridge the caller is bridged to the target
# (a Net::SIP callee) instead of being left in dead air; after a SIGHUP to
# refer-fallback = goodbye the next such caller hears goodbye and gets a BYE.
# Both are logged.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use PBSipTest;

alarm 150;
my $pcaps = '/usr/share/sip-tester';
plan skip_all => "no sipp pcaps in $pcaps" unless -f "$pcaps/dtmf_2833_6.pcap";
my $bin = build_path('examples/pb-screend/pb-screend');
my $src = $ENV{PB_SOURCE_ROOT};
my $tmp = tempdir(CLEANUP => 1);
my ($port, $tport) = (free_port(), free_port());
mkdir "$tmp/pcap";
symlink("$pcaps/dtmf_2833_6.pcap", "$tmp/pcap/dtmf_2833_6.pcap");

sub write_conf {
    my ($fallback) = @_;
    open my $f, '>', "$tmp/pb-screend.conf" or die;
    print $f join("\n",
        '[sip]', 'listen = 127.0.0.1', "port = $port", 'allow = 127.0.0.1',
        '[forward]', 'mode = refer', "target = sip:target\@127.0.0.1:$tport", "refer-fallback = $fallback",
        '[screen]', "prompts = $src/data/prompts",
        '[store]', "path = $tmp/screen.db",
        '[policy]', 'challenge = press-digit', 'challenge-params = digit=6 tries=1 timeout=20',
        '[log]', 'level = debug', '');
    close $f;
}

sub sipp {
    my ($scenario) = @_;
    my $s = start_proc(cmd => ['sipp', '-sf', "$src/tests/sip/$scenario", '-m', '1', '-i', '127.0.0.1',
                               '-p', free_port(), '-mp', free_port(), '-nostdin', '-timeout', '60',
                               '-timeout_error', '-s', 'screen', "127.0.0.1:$port"], name => 'sipp', merge => 1);
    return $s;
}

write_conf('bridge');
my $callee = start_proc(cmd => ['perl', "$src/tests/sip/callee.pl", '--port', $tport], name => 'callee', merge => 1);
ok(wait_line($callee, qr/^listening/, 20), 'forward target listening');
my $d = start_proc(cmd => [$bin, '-c', "$tmp/pb-screend.conf"], name => 'screend', merge => 1);
ok(wait_line($d, qr/pb-screend ready/, 20), 'pb-screend ready') or BAIL_OUT('daemon did not start');
chdir $tmp;

my $s = sipp('uac-refer-501.xml');
ok(wait_line($d, qr/press-digit for \+15550107781: passed/, 30), 'the caller passed the challenge');
ok(wait_line($d, qr/REFER of \+15550107781 to sip:target\@127\.0\.0\.1:\d+ failed \(501\): bridging instead/, 15),
   'the 501 to REFER is logged, with the fallback');
ok(wait_line($callee, qr/^invite from=.*\+15550107781/, 15), 'and the call is bridged to the target');
ok(wait_line($callee, qr/^established/, 10), 'the target answered');
is(wait_exit($s, 40), 0, 'sipp: stayed on the line, then hung up normally');

write_conf('goodbye');
kill 'HUP', $d->{pid};
ok(wait_line($d, qr/configuration reloaded/, 10), 'reloaded with refer-fallback = goodbye');
$s = sipp('uac-refer-501-bye.xml');
ok(wait_line($d, qr/REFER of \+15550107782 to .* failed \(501\): goodbye and BYE/, 30), 'logged: goodbye and BYE');
is(wait_exit($s, 40), 0, 'sipp got the BYE from the screener');
unlike(join("\n", proc_lines($callee)), qr/\+15550107782/, 'the target never saw that call');

kill 'TERM', $d->{pid};
ok(wait_line($d, qr/^<5>screend: stopped/, 20), 'stops on SIGTERM');
stop_all();
done_testing();
