/*
 * screen-poll — a call screener living in a poll() loop of the program's own.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * usage: screen-poll STORE PROMPT-DIR TARGET-URI [ALLOWED-SOURCES]
 * Callers press 6 to pass (the built-in press-digit challenge, one try). The same
 * loop reads standard input: "calls" prints the calls in progress, "quit"
 * (or end of input, or SIGTERM) stops once the calls have ended.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <phonebridge/phonebridge.h>

static void on_event(const pb_screener_event *ev, void *userdata)
{
	static const char *const names[] = { "started", "verdict", "challenge", "forwarded", "ended", "refused" };
	printf("call %lu %s from %s\n", ev->call, names[ev->type], ev->caller->from_uri);
	fflush(stdout);
}

static pb_screener *s;
static void on_term(int sig) { pb_screener_stop(s); }

/* A line from standard input; false at its end. */
static bool read_command(void)
{
	char line[64];
	ssize_t n = read(STDIN_FILENO, line, sizeof(line) - 1);
	if (n <= 0)
		return false;
	line[n] = '\0';
	if (!strncmp(line, "calls", 5))
		printf("%zu calls in progress\n", pb_screener_call_count(s)), fflush(stdout);
	return strncmp(line, "quit", 4) != 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: screen-poll STORE PROMPT-DIR TARGET-URI [ALLOWED-SOURCES]\n");
		return 2;
	}
	const char *const policy[] = { "challenge", "press-digit", "challenge-params", "digit=6 tries=1", NULL };
	pb_screener_options o = PB_SCREENER_OPTIONS_INIT;
	o.sip.port = PB_SIP_PORT_ANY;
	o.sip.allow_sources = argc > 4 ? argv[4] : "127.0.0.1";
	o.store = argv[1], o.prompts = argv[2], o.target = argv[3];
	o.policy = policy;
	o.on_event = on_event;
	int fd = -1;
	if (pb_screener_new(&s, &o) < 0 || pb_screener_start(s) < 0 || (fd = pb_screener_fd(s)) < 0) {
		fprintf(stderr, "screen-poll: %s\n", pb_error_last()->message);
		pb_screener_free(s);
		return 1;
	}
	signal(SIGTERM, on_term);
	printf("ready on port %u\n", pb_screener_port(s)), fflush(stdout);
	struct pollfd p[2] = { { fd, POLLIN, 0 }, { STDIN_FILENO, POLLIN, 0 } };
	int rc = 0;
	while (!pb_screener_stopped(s) && rc == 0) {
		if (poll(p, p[1].fd >= 0 ? 2 : 1, pb_screener_timeout_ms(s)) > 0 && p[1].revents &&
		    !read_command()) {
			p[1].fd = -1; /* no more input: stop */
			pb_screener_stop(s);
		}
		rc = pb_screener_dispatch(s);
	}
	pb_screener_free(s);
	if (rc < 0)
		fprintf(stderr, "screen-poll: %s\n", pb_error_last()->message);
	return rc < 0 ? 1 : 0;
}
