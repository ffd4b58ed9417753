/*
 * libphonebridge tests — screener: what pb_screener_new() accepts before it
 * listens (the calls themselves are tested with real SIP peers in
 * tests/sip/t-screen-custom.pl and t-screend*.pl).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <poll.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include <phonebridge/screener.h>

typedef struct fixture {
	char dir[64];
	char store[128];
	char prompts[512];
	pb_screener_options o;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pb-test-screener-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->store, sizeof(f->store), "%s/screen.db", f->dir);
	const char *src = getenv("PB_SOURCE_ROOT");
	snprintf(f->prompts, sizeof(f->prompts), "%s/data/prompts", src ? src : ".");
	f->o = (pb_screener_options)PB_SCREENER_OPTIONS_INIT;
	f->o.sip.bind_address = "127.0.0.1";
	f->o.sip.allow_sources = "127.0.0.1";
	f->o.store = f->store;
	f->o.prompts = f->prompts;
	f->o.target = "sip:desk@127.0.0.1";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char p[200];
	unlink(f->store);
	snprintf(p, sizeof(p), "%s.attachments", f->store);
	rmdir(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_screener__options_versions(void **state)
{
	fixture *f = *state;
	pb_screener *s = NULL;
	pb_screener_options o = f->o;
	o.version = 0; /* not from PB_SCREENER_OPTIONS_INIT */
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	assert_null(s);
	assert_non_null(strstr(pb_error_last()->message, "PB_SCREENER_OPTIONS"));
	o.version = PB_SCREENER_OPTIONS_VERSION + 1; /* a newer program */
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	o = f->o;
	o.sip.version = 0; /* the embedded sip options are checked too, before any listening */
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "PB_SIP_OPTIONS"));
	o.sip.version = PB_SIP_OPTIONS_VERSION + 1;
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	/* sip options version 1 (no digest or TLS members) is still read */
	o.sip.version = 1;
	assert_pb_ok(pb_screener_new(&s, &o));
	pb_screener_free(s);
	s = NULL;
	/* version 1 ends before store_password_file, version 2 before
	 * max_calls, 3 before the voicemail fields, 4 before the durations in
	 * ms: a program built then passes a shorter struct, read no further
	 * (ASan sees a heap block of exactly that size) */
	for (unsigned v = 1; v <= 4; v++) {
		size_t len = v == 1   ? offsetof(pb_screener_options, store_password_file)
			     : v == 2 ? offsetof(pb_screener_options, max_calls)
			     : v == 3 ? offsetof(pb_screener_options, voicemail)
				      : offsetof(pb_screener_options, max_duration_ms);
		pb_screener_options o1 = f->o;
		o1.version = v;
		unsigned char *old = malloc(len);
		assert_non_null(old);
		memcpy(old, &o1, len);
		assert_pb_ok(pb_screener_new(&s, (const pb_screener_options *)(void *)old));
		free(old);
		pb_screener_free(s);
		s = NULL;
	}
	assert_pb_ok(pb_screener_new(&s, &f->o));
	assert_pb_ok(pb_screener_check(s));
	pb_screener_free(s);
}

static void test_screener__required_options(void **state)
{
	fixture *f = *state;
	pb_screener *s = NULL;
	assert_pb_error(pb_screener_new(&s, NULL), PB_EINVAL);
	pb_screener_options o = f->o;
	o.target = NULL;
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "target"));
	/* a target or fallback that is no SIP URI is refused at start, saying which */
	static const char *const bad[] = { "garbage<>", "sip:", "sips:@", "tel:+4930123456", "sip:desk@",
					   "desk@127.0.0.1", "sip:a b@x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = f->o;
		o.target = bad[i];
		assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
		assert_non_null(strstr(pb_error_last()->message, "is not a SIP URI"));
		assert_null(s);
	}
	o = f->o;
	o.target = "sip:desk@127.0.0.1, sip:x@[::1";
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "'sip:x@[::1'"));
	o = f->o;
	o.fallback = "voicemail";
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "fallback 'voicemail' is not a SIP URI"));
	o = f->o;
	o.target = "SIP:desk@127.0.0.1:5062;transport=tcp, sips:[::1]:5061";
	o.fallback = "sip:+4930123456@pbx.example.org;user=phone";
	assert_pb_ok(pb_screener_new(&s, &o));
	pb_screener_free(s);
	s = NULL;
	o = f->o;
	o.refer_timeout = 3601; /* the deprecated seconds, still read while refer_timeout_ms is 0 */
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "refer_timeout 3601000 ms"));
	assert_null(s);
	/* version 5: the durations in ms, each checked and named; a set _ms
	 * member wins over its seconds one */
	o = f->o;
	o.refer_timeout = 3601;
	o.refer_timeout_ms = 3600000;
	assert_pb_ok(pb_screener_new(&s, &o));
	pb_screener_free(s);
	s = NULL;
	o.refer_timeout_ms = 3600001;
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "refer_timeout_ms"));
	o = f->o;
	o.max_duration_ms = (unsigned)-1; /* a C caller's -1 */
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "max_duration_ms"));
	o = f->o;
	o.voicemail_max_ms = 600001;
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "voicemail_max_ms"));
	o.voicemail_max_ms = 600000;
	o.voicemail_silence_ms = PB_WAIT_FOREVER; /* never on silence */
	assert_pb_ok(pb_screener_new(&s, &o));
	pb_screener_free(s);
	s = NULL;
	o.voicemail_silence_ms = (unsigned)INT_MAX + 1u;
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "voicemail_silence_ms"));
	assert_null(s);
	o = f->o;
	o.prompts = "/nonexistent/prompts";
	assert_true(pb_screener_new(&s, &o) < 0);
	assert_null(s);
}

/* The registration state, readable from any thread: none without a
 * registrar, pending with one until an answer comes. */
static void test_screener__registration_state(void **state)
{
	fixture *f = *state;
	pb_screener *s = NULL;
	int status = -1;
	assert_pb_ok(pb_screener_new(&s, &f->o));
	assert_int_equal(pb_screener_registration(s, &status), PB_SCREENER_REG_NONE);
	assert_int_equal(status, 0);
	pb_screener_free(s);
	s = NULL;
	pb_screener_options o = f->o;
	o.sip.registrar = "sip:127.0.0.1:9";
	o.sip.aor = "sip:me@127.0.0.1";
	assert_pb_ok(pb_screener_new(&s, &o));
	assert_int_equal(pb_screener_registration(s, NULL), PB_SCREENER_REG_PENDING);
	pb_screener_free(s);
	assert_int_equal(pb_screener_registration(NULL, &status), PB_SCREENER_REG_NONE);
	assert_string_equal(pb_screener_reg_state_name(PB_SCREENER_REG_OK), "registered");
	assert_string_equal(pb_screener_reg_state_name(PB_SCREENER_REG_FAILED), "failed");
	assert_string_equal(pb_screener_reg_state_name(42), "?");
}

/* A foreign loop's view: the descriptor, the timeout, dispatch, and a stop
 * that wakes the loop (the calls themselves: tests/sip/t-screen-poll.pl). */
static void test_screener__foreign_loop(void **state)
{
	fixture *f = *state;
	pb_screener *s = NULL;
	pb_screener_options o = f->o;
	o.sip.port = PB_SIP_PORT_ANY;
	o.sip.tcp = false;
	assert_pb_ok(pb_screener_new(&s, &o));
	assert_pb_error(pb_screener_fd(s), PB_ESTATE);
	assert_pb_error(pb_screener_dispatch(s), PB_ESTATE);
	assert_pb_ok(pb_screener_start(s));
	int fd = pb_screener_fd(s);
	assert_true(fd >= 0);
	assert_int_equal(pb_screener_timeout_ms(s), 0); /* dispatch first */
	/* idle (no call): no media tick; once sofia-sip's start-up work is done
	 * the loop has nothing to wake for but its descriptor (and the agent's
	 * one-minute heartbeat) */
	bool idle = false;
	for (int i = 0; i < 100000 && !idle; i++) { /* start-up work comes in many small steps */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int t = pb_screener_timeout_ms(s);
		poll(&p, 1, t < 0 || t > 50 ? 50 : t);
		assert_pb_ok(pb_screener_dispatch(s));
		t = pb_screener_timeout_ms(s);
		idle = t == -1 || t > 20;
	}
	assert_true(idle);
	assert_false(pb_screener_stopped(s));
	pb_screener_stop(s); /* as from a signal handler: the descriptor wakes up */
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(pb_screener_timeout_ms(s), 0);
	assert_pb_ok(pb_screener_dispatch(s));
	assert_true(pb_screener_stopped(s));
	assert_int_equal(pb_screener_fd(s), fd); /* the same for the screener's life */
	pb_screener_free(s);
}

static void test_screener__voicemail_options(void **state)
{
	fixture *f = *state;
	pb_screener *s = NULL;
	pb_screener_options o = f->o;
	o.voicemail = true; /* the default greeting is in data/prompts; WAV */
	assert_pb_ok(pb_screener_new(&s, &o));
	/* a reload with a greeting the prompt set lacks, or an unknown format, is refused */
	o.voicemail_greeting = "no-such-prompt";
	assert_pb_error(pb_screener_reconfigure(s, &o, NULL), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "no-such-prompt"));
	o.voicemail_greeting = NULL;
	o.voicemail_format = "mp3";
	assert_pb_error(pb_screener_reconfigure(s, &o, NULL), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "mp3"));
	o.voicemail_format = "opus"; /* bookworm's libsndfile writes Ogg Opus */
	assert_pb_ok(pb_screener_reconfigure(s, &o, NULL));
	o.voicemail_max_seconds = 601;
	assert_pb_error(pb_screener_reconfigure(s, &o, NULL), PB_EINVAL);
	o.voicemail_max_seconds = 0;
	o.voicemail_on = 0x10;
	assert_pb_error(pb_screener_reconfigure(s, &o, NULL), PB_EINVAL);
	pb_screener_free(s);
	s = NULL;
	o = f->o;
	o.voicemail = true;
	o.voicemail_greeting = "no-such-prompt";
	assert_pb_error(pb_screener_new(&s, &o), PB_EINVAL);
	assert_null(s);
	/* a version 1 struct ends before the voicemail fields: they are not read */
	o.version = 1;
	assert_pb_ok(pb_screener_new(&s, &o));
	pb_screener_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_screener__options_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_screener__foreign_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_screener__required_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_screener__registration_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_screener__voicemail_options, setup, teardown),
	};
	return pb_test_run("screener", tests);
}
