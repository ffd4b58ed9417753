/*
 * libphonebridge tests — screener: what pb_screener_new() accepts before it
 * listens (the calls themselves are tested with real SIP peers in
 * tests/sip/t-screen-custom.pl and t-screend*.pl).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <stdio.h>
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
	o = f->o;
	o.prompts = "/nonexistent/prompts";
	assert_true(pb_screener_new(&s, &o) < 0);
	assert_null(s);
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
		cmocka_unit_test_setup_teardown(test_screener__required_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_screener__voicemail_options, setup, teardown),
	};
	return pb_test_run("screener", tests);
}
