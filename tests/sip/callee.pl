#!/usr/bin/perl
# A Net::SIP callee (the forward target in the tests). Prints:
#   listening PORT | invite from=URI | established | rtp N (every second) |
#   dtmf D | bye | cancel
# Options: --port N  --busy (486)  --reject CODE (any final answer: 603, 503, ...)
#          --noanswer (180 only)  --hangup-after S
use strict;
use warnings;
use Getopt::Long;
use Net::SIP;
use IO::Socket::INET;
$| = 1;

my %o;
GetOptions(\%o, 'port=i', 'busy', 'reject=i', 'noanswer', 'hangup-after=f') or die;
my %phrase = (486 => 'Busy Here', 503 => 'Service Unavailable', 600 => 'Busy Everywhere', 603 => 'Decline');
# our own socket, without SO_REUSEADDR: a port someone else holds is an
# error here, not a port shared with them
my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $o{port}, Proto => 'udp')
    or die "callee socket on port $o{port}: $!";
my $leg = Net::SIP::Leg->new(sock => $sock);
my $ua = Net::SIP::Simple->new(from => "sip:target\@127.0.0.1:$o{port}", leg => $leg);
print "listening $o{port}\n";
my $n = 0;
my $loud = 0;
my $send_seq = 0;
$ua->listen(
    cb_create => sub {
        my ($call, $request) = @_;
        my $from = $request->get_header('from') // '-';
        print "invite from=$from\n";
        return 1;
    },
    cb_invite => sub {
        my ($call, $packet) = @_;
        return $packet->create_response('486', 'Busy Here') if $o{busy};
        return $packet->create_response($o{reject}, $phrase{$o{reject}} // 'Refused') if $o{reject};
        return $packet->create_response('180', 'Ringing') if $o{noanswer};
        return;
    },
    cb_established => sub {
        my (undef, $call) = @_;
        print "established\n";
        $ua->add_timer($o{'hangup-after'}, sub { print "hanging-up\n"; $call->bye })
            if $o{'hangup-after'};
    },
    init_media => $ua->rtp('send_recv', sub { return "\x2a" x 160 }, 0,
        sub { my ($payload) = @_; $n++; $loud++ if $payload =~ /^\x55+$/ }),
    cb_dtmf => sub { my ($ev) = @_; print "dtmf $ev\n" },
    recv_bye => sub { print "bye\n" },
    cb_cleanup => sub { print "cleanup rtp=$n loud=$loud\n" },
);
$ua->add_timer(1, sub { print "rtp $n loud $loud\n" }, 1);
$ua->loop;
