/*
 * screen-custom — a real SIP call screener with a challenge of its own.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * usage: screen-custom STORE PROMPT-DIR TARGET-URI [ALLOWED-SOURCES]
 * Callers hear "Please enter the code four two" and pass with 42.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <phonebridge/phonebridge.h>
#include <phonebridge/sys/challenge.h>

static int create(void **state, const pb_challenge_config *config, void *userdata)
{
	static const char *const none[] = { NULL };
	*state = userdata;
	return pb_challenge_config_check(config, none);
}

static int start(void *state, pb_challenge_ctx *ctx)
{
	static const char *const p[] = { "enter-the-code", "digit-4", "digit-2" };
	pb_challenge_answer(ctx);
	pb_challenge_play(ctx, p, 3);
	return pb_challenge_collect(ctx, 2, 8000);
}

static int on_input(void *state, pb_challenge_ctx *ctx, const char *digits, bool timed_out)
{
	return !timed_out && strcmp(digits, "42") == 0 ? pb_challenge_pass(ctx)
						       : pb_challenge_fail(ctx, "wrong code");
}

static void destroy(void *state, void *userdata) {}

static const pb_challenge_ops code42 = {
	PB_CHALLENGE_OPS_VERSION, "code-42", "enter 42", create, start, NULL, on_input,
	NULL, NULL, NULL, destroy, NULL,
};

static void on_event(const pb_screener_event *ev, void *userdata)
{
	static const char *const names[] = { "started", "verdict", "challenge", "forwarded", "ended", "refused" };
	printf("call %lu %s from %s", ev->call, names[ev->type], ev->caller->from_uri);
	if (ev->type == PB_SCREENER_ENDED)
		printf(": %s", ev->outcome);
	printf("\n"), fflush(stdout);
}

static pb_screener *s;
static void on_term(int sig) { pb_screener_stop(s); }

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: screen-custom STORE PROMPT-DIR TARGET-URI [ALLOWED-SOURCES]\n");
		return 2;
	}
	const char *const policy[] = { "challenge", "code-42", NULL };
	pb_screener_options o = PB_SCREENER_OPTIONS_INIT;
	o.sip.port = PB_SIP_PORT_ANY;
	o.sip.allow_sources = argc > 4 ? argv[4] : "127.0.0.1";
	o.store = argv[1], o.prompts = argv[2], o.target = argv[3];
	o.policy = policy;
	o.on_event = on_event;
	if (pb_screener_new(&s, &o) < 0 || pb_screener_add_challenge(s, &code42) < 0 ||
	    pb_screener_start(s) < 0) {
		fprintf(stderr, "screen-custom: %s\n", pb_error_last()->message);
		pb_screener_free(s);
		return 1;
	}
	signal(SIGTERM, on_term);
	printf("ready on port %u\n", pb_screener_port(s)), fflush(stdout);
	int rc = pb_screener_run(s);
	pb_screener_free(s);
	return rc < 0 ? 1 : 0;
}
