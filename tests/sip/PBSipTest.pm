# Helpers for the SIP integration tests: free ports, child processes whose
# output lines we wait for (with generous deadlines, never fixed sleeps), and
# cleanup of everything we started, even when a test dies.
package PBSipTest;
use strict;
use warnings;
use IO::Socket::INET;
use File::Temp ();
use POSIX ();
use Time::HiRes qw(time);
use Exporter 'import';
our @EXPORT = qw(free_port start_proc wait_line proc_lines stop_proc stop_all build_path send_line screend_conf
                 run_caller wait_exit start_uas start_kamailio);

my @procs;

# A port free for both UDP and TCP on 127.0.0.1.
sub free_port {
    for (1 .. 200) {
        my $u = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'udp') or next;
        my $p = $u->sockport;
        my $t = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $p, Proto => 'tcp',
                                      Listen => 1, ReuseAddr => 1);
        next unless $t;
        close $t; close $u;
        return $p;
    }
    die "no free port";
}

sub build_path {
    my ($rel) = @_;
    my $root = $ENV{PB_BUILD_ROOT} or die "PB_BUILD_ROOT not set";
    return "$root/$rel";
}

# Start a program; its stdout (and stderr, if merge) is read line by line.
# The output goes to a file, not a pipe: a chatty program never blocks on a
# full pipe while the test does something else, however long; the test reads
# the file as it grows.
my $outdir;
sub start_proc {
    my (%a) = @_;
    my @cmd = @{ $a{cmd} };
    $outdir //= File::Temp::tempdir('pb-sip-test-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my ($wfh, $file) = File::Temp::tempfile(DIR => $outdir);
    open my $r, '<', $file or die "$file: $!";
    my ($in_r, $in_w);
    if ($a{stdin}) { pipe($in_r, $in_w) or die "pipe: $!" }
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $r;
        if ($a{stdin}) { close $in_w; open STDIN, '<&', $in_r or die }
        POSIX::setpgid(0, 0);
        open STDOUT, '>&', $wfh or die;
        if ($a{merge}) { open STDERR, '>&', $wfh or die }
        elsif ($a{stderr}) { open STDERR, '>', $a{stderr} or die }
        open STDIN, '<', '/dev/null' unless $a{stdin};
        exec @cmd or POSIX::_exit(127);
    }
    close $wfh;
    my $p = { pid => $pid, fh => $r, buf => '', lines => [], name => $a{name} // $cmd[0] };
    if ($a{stdin}) { close $in_r; $in_w->autoflush(1); $p->{in} = $in_w }
    push @procs, $p;
    return $p;
}

# Has the process exited (a zombie not yet reaped counts)? Never reaps it:
# tests wait for some programs themselves.
sub _gone {
    my ($p) = @_;
    return 1 unless $p->{pid};
    open my $st, '<', "/proc/$p->{pid}/stat" or return 1;
    my $line = <$st> // '';
    return $line =~ /^\d+ \(.*\) Z/ ? 1 : 0;
}

# Read what the program wrote since last time: 1 if something came, 0 if
# nothing within $timeout, -1 if nothing more will come.
sub _pump {
    my ($p, $timeout) = @_;
    my $end = time + $timeout;
    while (1) {
        my $gone = _gone($p);
        my $n = sysread($p->{fh}, my $chunk, 65536);
        if ($n) {
            $p->{buf} .= $chunk;
            while ($p->{buf} =~ s/^([^\n]*)\n//) {
                push @{ $p->{lines} }, $1;
                print STDERR "# [$p->{name}] $1\n" if $ENV{PB_TEST_VERBOSE};
            }
            return 1;
        }
        return -1 if $gone;
        return 0 if time >= $end;
        select(undef, undef, undef, 0.02);
    }
}

# Wait until a line matching $re shows up (seen lines are kept); returns the
# line, or undef after $deadline seconds or at end of output.
sub wait_line {
    my ($p, $re, $deadline) = @_;
    $deadline //= 30;
    my $end = time + $deadline;
    my $i = 0;
    while (1) {
        for (; $i < @{ $p->{lines} }; $i++) {
            return $p->{lines}[$i] if $p->{lines}[$i] =~ $re;
        }
        my $left = $end - time;
        return undef if $left <= 0;
        my $r = _pump($p, $left > 0.5 ? 0.5 : $left);
        return undef if $r < 0 && $i >= @{ $p->{lines} };
    }
}

sub proc_lines {
    my ($p) = @_;
    1 while _pump($p, 0) > 0;
    return @{ $p->{lines} };
}

sub stop_proc {
    my ($p, $sig) = @_;
    return unless $p->{pid};
    kill($sig // 'TERM', -$p->{pid});
    kill($sig // 'TERM', $p->{pid});
    my $end = time + 10;
    while (time < $end) {
        my $w = waitpid($p->{pid}, POSIX::WNOHANG());
        if ($w == $p->{pid} || $w < 0) { $p->{status} = $?; $p->{pid} = 0; last }
        select(undef, undef, undef, 0.05);
    }
    if ($p->{pid}) {
        kill('KILL', -$p->{pid}); kill('KILL', $p->{pid});
        waitpid($p->{pid}, 0);
        $p->{status} = $?;
        $p->{pid} = 0;
    }
    proc_lines($p);
}

# Start tests/sip/sip-uas on a port the system chooses; returns the process
# and the port (undef if it did not come up). %o: stderr => FILE.
sub start_uas {
    my ($args, %o) = @_;
    my $bin = $ENV{PB_SIP_UAS} or die "PB_SIP_UAS not set";
    my $p = start_proc(cmd => [$bin, '--port', 0, @$args], name => 'uas', stderr => $o{stderr} // '/dev/null');
    my ($port) = (wait_line($p, qr/^ready port=\d+/, 20) // '') =~ /port=(\d+)/;
    return ($p, $port);
}

# Start Debian's kamailio with tests/sip/kamailio.cfg.in (a registrar with
# digest, password s3cret) on $port (default: a free one), files in $dir.
# Returns the process (undef unless it said it listens) and the port.
sub start_kamailio {
    my ($dir, $port) = @_;
    $port //= free_port();
    my $name = "kamailio-$port";
    my $cfg = do { local $/; open my $t, '<', "$ENV{PB_SOURCE_ROOT}/tests/sip/kamailio.cfg.in" or die; <$t> };
    $cfg =~ s/\@PORT\@/$port/g;
    open my $f, '>', "$dir/$name.cfg" or die "$dir/$name.cfg: $!";
    print $f $cfg;
    close $f;
    my $k = start_proc(cmd => ['/usr/sbin/kamailio', '-f', "$dir/$name.cfg", '-DD', '-E', '-Y', $dir,
                               '-P', "$dir/$name.pid", '-w', $dir], name => 'kamailio', merge => 1);
    return (wait_line($k, qr/Listening on/i, 20) ? $k : undef, $port);
}

# Run tests/sip/caller.pl with @args to its end; returns its output.
sub run_caller {
    my (@args) = @_;
    my $c = start_proc(cmd => ['perl', "$ENV{PB_SOURCE_ROOT}/tests/sip/caller.pl", @args],
                       name => 'caller', merge => 1);
    wait_line($c, qr/^done/, 60);
    stop_proc($c);
    return join("\n", proc_lines($c));
}

# Wait at most $secs for a program (sipp) to exit by itself; its exit
# status ($?), or -1 if it did not.
sub wait_exit {
    my ($p, $secs) = @_;
    my $end = time + $secs;
    while (time < $end && $p->{pid}) {
        if (waitpid($p->{pid}, POSIX::WNOHANG()) == $p->{pid}) { $p->{status} = $?; $p->{pid} = 0 }
        else { select(undef, undef, undef, 0.1) }
    }
    return $p->{status} // -1;
}

# Write a line to a process started with stdin => 1.
sub send_line {
    my ($p, $line) = @_;
    print STDERR "# [$p->{name}] <<< $line\n" if $ENV{PB_TEST_VERBOSE};
    print { $p->{in} } "$line\n";
}

# A pb-screend configuration for the tests: press-digit 6 for everyone,
# bridging to $target. Returns the file name.
sub screend_conf {
    my (%o) = @_;
    my $file = "$o{dir}/pb-screend.conf";
    open my $f, '>', $file or die "$file: $!";
    print $f join("\n",
        '[sip]', 'listen = 127.0.0.1', "port = $o{port}", 'allow = 127.0.0.1',
        '[forward]', 'mode = ' . ($o{mode} // 'bridge'), "target = $o{target}",
        '[screen]', "prompts = $ENV{PB_SOURCE_ROOT}/data/prompts",
        '[store]', "path = $o{dir}/screen.db",
        '[policy]', 'challenge = press-digit', 'challenge-params = digit=6 tries=1 timeout=15',
        'anonymous-challenge = press-digit', 'anonymous-challenge-params = digit=6 tries=1 timeout=15',
        '[log]', 'level = debug', '');
    close $f;
    return $file;
}

sub stop_all { stop_proc($_) for reverse @procs }

END { my $st = $?; stop_all(); $? = $st }
$SIG{ALRM} = sub { stop_all(); die "test took too long\n" };
$SIG{TERM} = $SIG{INT} = sub { stop_all(); exit 1 };

1;
