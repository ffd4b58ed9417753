#!/usr/bin/perl
# A Net::SIP caller for the tests. Prints one line per thing that happened:
#   final STATUS | dtmf-sent | rtp-received N | bye-received | done
# Options: --to URI --from URI --pai URI --identity --dtmf DIGITS
#          --dtmf-method rfc2833|audio --wait-before-dtmf S --hold S
#          --cancel-after S (hang up while ringing) --send FILE
#          --auth USER:PASSWORD (answer digest challenges)
#          --tls CAFILE (SIP over TLS, the server's certificate checked against CAFILE)
#          --reinvite-after S (re-INVITE with new RTP sockets, i.e. a new
#          media address; prints reinvite CODE and, at the end,
#          rtp-after-reinvite N target-audio M)
#          --bind ADDR (call from this local address, default 127.0.0.1)
#          --proxy ADDR:PORT (send the INVITE there whatever the URI's host)
#          --refer accept|fail (answer a REFER 202 and then say nothing more,
#          or 202 and a NOTIFY whose sipfrag says 503; prints refer-received URI)
#          --play FILE (raw 8 kHz mu-law: sent once, silence before and after
#          it, instead of the 0x55 pattern) --play-after S (start it S
#          seconds after the call is answered) --play-after-silence N
#          (start it once N packets of silence follow what was heard: a
#          voicemail greeting and its beep have played; prints playing)
#          --bye-after-play S (hang up S seconds after the file has played,
#          whatever --hold says) --digit-while-playing D --digit-after S
#          (press D, RFC 4733, S seconds after the file started playing)
use strict;
use warnings;
use Getopt::Long;
use Net::SIP;
use IO::Socket::INET;
use Time::HiRes qw(time);
$| = 1;

my %o = (from => 'sip:+15550102000@127.0.0.1', hold => 3, 'dtmf-method' => 'rfc2833');
GetOptions(\%o, 'to=s', 'from=s', 'pai=s', 'identity', 'dtmf=s', 'dtmf-method=s',
           'wait-before-dtmf=f', 'hold=f', 'cancel-after=f', 'port=i', 'auth=s', 'reinvite-after=f', 'tls=s',
           'bind=s', 'refer=s', 'proxy=s',
           'play=s', 'play-after=f', 'play-after-silence=i', 'bye-after-play=f',
           'digit-while-playing=s', 'digit-after=f') or die;
my $bind = $o{bind} // '127.0.0.1';
my $play;
if (defined $o{play}) {
    open(my $fh, '<:raw', $o{play}) or die "$o{play}: $!";
    local $/;
    $play = <$fh>;
}
# Our own socket on a port the system chooses: Net::SIP's "port => 0" tries
# 5060 first, with SO_REUSEADDR, so concurrent callers (or anybody else on
# 5060) would share a port and get each other's answers and BYEs.
my $sock = $o{tls}
    ? IO::Socket::INET->new(LocalAddr => $bind, LocalPort => $o{port} // 0, Proto => 'tcp', Listen => 10)
    : IO::Socket::INET->new(LocalAddr => $bind, LocalPort => $o{port} // 0, Proto => 'udp');
$sock or die "caller socket: $!";
my $leg = Net::SIP::Leg->new(sock => $sock,
    $o{tls} ? (proto => 'tls', tls => { SSL_ca_file => $o{tls}, SSL_verifycn_name => '127.0.0.1' }) : ());
my $ua = Net::SIP::Simple->new(from => $o{from}, leg => $leg,
    $o{proxy} ? (outgoing_proxy => $o{proxy}) : (),
    $o{auth} ? (auth => [split /:/, $o{auth}, 2]) : ());
my %hdr;
$hdr{'P-Asserted-Identity'} = "<$o{pai}>" if $o{pai};
$hdr{'Identity'} = 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln;info=<https://cert.example.org/x.pem>;alg=ES256;ppt=shaken' if $o{identity};

# Net::SIP's calls drop an in-dialog REFER without an answer: answer it here
if ($o{refer}) {
    no warnings 'redefine';
    my $receive = \&Net::SIP::Simple::Call::receive;
    *Net::SIP::Simple::Call::receive = sub {
        my ($self, $endpoint, $ctx, $error, $code, $packet, $leg, $from) = @_;
        return $receive->(@_) unless $packet && $packet->is_request && $packet->method eq 'REFER';
        print "refer-received ", ($packet->get_header('refer-to') // ''), "\n";
        $endpoint->new_response($ctx, $packet->create_response('202', 'Accepted'), $leg, $from);
        if ($o{refer} eq 'fail') {
            $endpoint->new_request('NOTIFY', $ctx, undef, "SIP/2.0 503 Service Unavailable\r\n",
                'content-type' => 'message/sipfrag;version=2.0', event => 'refer',
                'subscription-state' => 'terminated;reason=noresource');
            print "notify-sent 503\n";
        }
    };
}

my ($received, $target_audio) = (0, 0);
my ($reinvited, $after, $target_after) = (0, 0, 0);
my ($final, $bye);
# we send a recognisable payload (0x55) and count what comes back; the
# callee sends 0x2a, so audio from the far end of a bridge is told apart
my ($t0, $heard, $quiet, $go, $played, $stop) = (undef, 0, 0, !defined $o{'play-after-silence'});
my $call;
my $media = $ua->rtp('send_recv', sub {
        return "\x55" x 160 unless defined $play;
        $t0 //= time;
        if ($go && length($play) < 160 && defined $o{'bye-after-play'}) {
            $played //= time;
            $stop = 1 if time - $played >= $o{'bye-after-play'};
        }
        return "\xff" x 160 if !$go || time - $t0 < ($o{'play-after'} // 0) || length($play) < 160;
        return substr($play, 0, 160, '');
    }, 0,
    sub {
        my ($payload) = @_;
        $received++;
        if (!$go) { # mu-law silence is 0xff (or 0x7f): count it once something was heard
            if ($payload =~ /^[\xff\x7f]+$/) { $quiet++ if $heard } else { $heard = 1; $quiet = 0 }
            if ($quiet >= $o{'play-after-silence'}) {
                $go = 1;
                print "playing\n";
                $ua->add_timer($o{'digit-after'} // 1, sub {
                    $call->dtmf($o{'digit-while-playing'}, methods => 'rfc2833', duration => 200,
                                cb_final => sub { print "digit-sent\n" });
                }) if defined $o{'digit-while-playing'};
            }
        }
        $target_audio++ if $payload =~ /^\x2a+$/;
        # after a re-INVITE only the new sockets are read (Net::SIP closes the old ones)
        if ($reinvited) { $after++; $target_after++ if $payload =~ /^\x2a+$/ }
    });
if (defined $o{'cancel-after'}) {
    $call = $ua->invite($o{to}, init_media => $media, sip_header => \%hdr,
        cb_rtp_done => sub {}, recv_bye => \$bye,
        cb_preliminary => sub { my ($self, $code) = @_; print "preliminary $code\n" },
        cb_final => sub { my ($status, $self, %info) = @_; $final = $info{code} // $status; },
        asynchronous => 1) or die "invite: " . $ua->error;
    my $stop;
    $ua->add_timer($o{'cancel-after'}, sub { $call->cancel; print "cancelled\n"; $stop = 1 });
    $ua->loop(\$stop);
    my $s2; $ua->add_timer(2, \$s2); $ua->loop(\$s2, \$final);
    print "final ", ($final // 'none'), "\n";
    print "done\n";
    exit 0;
}
$call = $ua->invite($o{to}, init_media => $media, sip_header => \%hdr,
    recv_bye => \$bye,
    cb_preliminary => sub { my ($self, $code) = @_; print "preliminary $code\n" },
    cb_final => sub { my ($status, $self, %info) = @_; $final = $status eq 'OK' ? 200 : ($info{code} // 'error') },
    rtp_param => [0, 160, 160/8000, 'PCMU/8000'],
);
$ua->loop(40, \$final) if $call && !defined $final;
if (!defined $final || $final ne '200' || !$call) {
    my $err = $call ? $call->error : $ua->error;
    print "final ", ($final // 'error'), "\n";
    print "error $err\n" if $err;
    print "done\n";
    exit 0;
}
print "final 200\n";
if (defined $o{dtmf}) {
    $ua->add_timer($o{'wait-before-dtmf'} // 1, sub {
        $call->dtmf($o{dtmf}, methods => $o{'dtmf-method'}, duration => 200,
                    cb_final => sub { print "dtmf-sent\n" });
    });
}
if (defined $o{'reinvite-after'}) {
    $ua->add_timer($o{'reinvite-after'}, sub {
        $call->reinvite(clear_sdp => 1, cb_final => sub {
            my ($status, $self, %info) = @_;
            print "reinvite ", ($status eq 'OK' ? 200 : ($info{code} // 'error')), "\n";
            $reinvited = 1 if $status eq 'OK';
        });
    });
}
$ua->add_timer($o{hold}, \$stop);
$ua->loop(\$stop, \$bye);
print "bye-received\n" if $bye;
print "rtp-received $received target-audio $target_audio\n";
print "rtp-after-reinvite $after target-audio $target_after\n" if defined $o{'reinvite-after'};
unless ($bye) { my $s; $call->bye(cb_final => \$s); $ua->loop(5, \$s) }
print "done\n";
