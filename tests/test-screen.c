/*
 * libphonebridge tests — screen: number normalisation, policy, challenge
 * registry, and every built-in challenge driven through a session with a
 * virtual clock and scripted events.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <unistd.h>

#include <phonebridge/sys/challenge.h>

/* --- a recording host with a virtual clock ------------------------------------- */

typedef struct host {
	pb_screen_session *s;
	int64_t now;
	int64_t timer;          /* armed time, -1 none */
	int rings, answers, stops, finishes, timer_sets;
	bool playing;
	char played[2048];      /* every prompt name, space-separated */
	pb_screen_result result;
	char reason[128];
	/* injected randomness: values handed out two bytes at a time */
	const uint8_t *rnd;
	size_t rnd_len, rnd_pos;
} host;

static void h_ring(void *ud) { ((host *)ud)->rings++; }
static void h_answer(void *ud) { ((host *)ud)->answers++; }

static void h_play(const char *const *names, size_t n, void *ud)
{
	host *h = ud;
	for (size_t i = 0; i < n; i++) {
		if (h->played[0])
			strcat(h->played, " ");
		strcat(h->played, names[i]);
	}
	h->playing = true;
}

static void h_stop(void *ud)
{
	host *h = ud;
	h->stops++;
	h->playing = false;
}

static void h_timer(int64_t at, void *ud)
{
	host *h = ud;
	h->timer = at;
	h->timer_sets++;
}

static void h_finish(const pb_screen_result *r, void *ud)
{
	host *h = ud;
	h->finishes++;
	h->result = *r;
	snprintf(h->reason, sizeof(h->reason), "%s", r->reason);
	h->timer = -1;
}

static const pb_screen_host_ops host_ops = {
	PB_SCREEN_HOST_OPS_VERSION, h_ring, h_answer, h_play, h_stop, h_timer, h_finish,
};

static int h_random(void *buf, size_t len, void *ud)
{
	host *h = ud;
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++) {
		/* [0, v] pairs: random_below(bound) then yields v % bound */
		p[i] = (i % 2 == 0) ? 0 : h->rnd[h->rnd_pos++ % h->rnd_len];
	}
	return 0;
}

static void host_open(host *h, const pb_screen_registry *reg, const char *name, const char *params,
		      const uint8_t *rnd, size_t rnd_len)
{
	memset(h, 0, sizeof(*h));
	h->timer = -1;
	h->rnd = rnd;
	h->rnd_len = rnd_len;
	pb_screen_session_options o = PB_SCREEN_SESSION_OPTIONS_INIT;
	if (rnd) {
		o.random = h_random;
		o.random_userdata = h;
	}
	assert_pb_ok(pb_screen_session_new(&h->s, reg, name, params, &host_ops, h, &o));
	assert_pb_ok(pb_screen_session_start(h->s, 0));
}

/* Advance the virtual clock to @t, firing the timer on the way. */
static void run_until(host *h, int64_t t)
{
	while (h->timer >= 0 && h->timer <= t && !pb_screen_session_finished(h->s)) {
		h->now = h->timer;
		h->timer = -1;
		assert_pb_ok(pb_screen_session_timer(h->s, h->now));
	}
	h->now = t;
}

/* The prompts queued so far take @ms to play. */
static void play_out(host *h, int64_t ms)
{
	run_until(h, h->now + ms);
	if (h->playing && !pb_screen_session_finished(h->s)) {
		h->playing = false;
		assert_pb_ok(pb_screen_session_prompt_done(h->s, h->now));
	}
}

static void press(host *h, const char *digits)
{
	for (const char *d = digits; *d; d++)
		assert_pb_ok(pb_screen_session_dtmf(h->s, *d, h->now));
}

static void host_close(host *h)
{
	assert_int_equal(h->finishes, pb_screen_session_finished(h->s) ? 1 : 0);
	pb_screen_session_free(h->s);
	h->s = NULL;
}

static pb_screen_registry *registry(void)
{
	pb_screen_registry *r;
	assert_pb_ok(pb_screen_registry_new(&r));
	return r;
}

/* --- numbers ----------------------------------------------------------------------- */

static void test_screen__normalize_numbers(void **state)
{
	(void)state;
	pb_screen_numbering us = PB_SCREEN_NUMBERING_INIT, de = PB_SCREEN_NUMBERING_INIT;
	strcpy(us.region, "US");
	strcpy(de.region, "DE");
	char out[40];
	const struct {
		const pb_screen_numbering *nb;
		const char *in;
		int kind;
		const char *out;
	} cases[] = {
		{ &us, "+1 (555) 010-2000", PB_SCREEN_NUMBER_E164, "+15550102000" },
		{ &us, "sip:+15550102000@trunk.example;user=phone", PB_SCREEN_NUMBER_E164, "+15550102000" },
		{ &us, "\"Bob\" <sip:15550102000@10.0.0.1>", PB_SCREEN_NUMBER_E164, "+15550102000" },
		{ &us, "5550102000", PB_SCREEN_NUMBER_E164, "+15550102000" },
		{ &us, "tel:+44-20-7946-0958;phone-context=+44", PB_SCREEN_NUMBER_E164, "+442079460958" },
		{ &us, "01144207946095", PB_SCREEN_NUMBER_E164, "+44207946095" },
		{ &us, "sip:%2B15550102000@h", PB_SCREEN_NUMBER_E164, "+15550102000" },
		{ &us, "sip:+15550102000;verstat=TN-Validation-Passed@h", PB_SCREEN_NUMBER_E164, "+15550102000" },
		{ &us, "555010200", PB_SCREEN_NUMBER_UNKNOWN, "" },
		/* shorter than NANP numbers, longer than short-max: not an extension */
		{ &us, "5550102", PB_SCREEN_NUMBER_UNKNOWN, "" },
		{ &us, "911", PB_SCREEN_NUMBER_SHORT, "911" },
		{ &de, "030 1234567", PB_SCREEN_NUMBER_E164, "+49301234567" },
		{ &de, "0049301234567", PB_SCREEN_NUMBER_E164, "+49301234567" },
		{ &de, "+49 (0)30 1234567", PB_SCREEN_NUMBER_E164, "+49301234567" },
		/* pb_phone_normalize(): a national number without its trunk prefix */
		{ &de, "301234567", PB_SCREEN_NUMBER_E164, "+49301234567" },
		{ &de, "03012345678901234", PB_SCREEN_NUMBER_UNKNOWN, "" },
		{ &de, "sip:201@pbx.local", PB_SCREEN_NUMBER_SHORT, "201" },
		{ &de, "*86", PB_SCREEN_NUMBER_SHORT, "*86" },
		{ &de, "*31#0301234567", PB_SCREEN_NUMBER_UNKNOWN, "" },
		{ &de, "+*86", PB_SCREEN_NUMBER_UNKNOWN, "" },
		{ &de, "+49 30 1234567 +1", PB_SCREEN_NUMBER_UNKNOWN, "" },
		{ &de, "sip:anonymous@anonymous.invalid", PB_SCREEN_NUMBER_ANONYMOUS, "" },
		{ &de, "\"Anonymous\" <sip:Restricted@h>", PB_SCREEN_NUMBER_ANONYMOUS, "" },
		{ &de, "", PB_SCREEN_NUMBER_ANONYMOUS, "" },
		{ &de, NULL, PB_SCREEN_NUMBER_ANONYMOUS, "" },
		{ &de, "sip:alice@example.org", PB_SCREEN_NUMBER_UNKNOWN, "" },
		{ &de, "+1234567890123456", PB_SCREEN_NUMBER_UNKNOWN, "" },
		{ NULL, "0301234567", PB_SCREEN_NUMBER_UNKNOWN, "" },
		{ NULL, "0049301234567", PB_SCREEN_NUMBER_UNKNOWN, "" }, /* "00" is a region's prefix */
		{ NULL, "+33 1 23 45 67 89", PB_SCREEN_NUMBER_E164, "+33123456789" },
		{ NULL, "sip:100@pbx", PB_SCREEN_NUMBER_SHORT, "100" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int kind = pb_screen_normalize_number(out, sizeof(out), cases[i].in, cases[i].nb);
		if (kind != cases[i].kind || strcmp(out, cases[i].out) != 0)
			print_error("case %zu '%s': kind %d '%s'\n", i, cases[i].in ? cases[i].in : "NULL",
				    kind, out);
		assert_int_equal(kind, cases[i].kind);
		assert_string_equal(out, cases[i].out);
	}
	assert_pb_error(pb_screen_normalize_number(out, 8, "+15550102000", NULL), PB_EINVAL);
	pb_screen_numbering old = PB_SCREEN_NUMBERING_INIT;
	old.version = 1;
	assert_pb_error(pb_screen_normalize_number(out, sizeof(out), "+15550102000", &old), PB_EINVAL);
}

/* Compare with python3-phonenumbers (libphonenumber's metadata) as an oracle. */
static void oracle_check(const char *region, const pb_screen_numbering *nb, const char *const *numbers, size_t n)
{
	char cmd[4096], line[64], out[40];
	const char *root = getenv("PB_SOURCE_ROOT");
	int len = snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/screen-oracle.py %s", root ? root : ".", region);
	for (size_t i = 0; i < n; i++)
		len += snprintf(cmd + len, sizeof(cmd) - (size_t)len, " '%s'", numbers[i]);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(fgets(line, sizeof(line), f));
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, "no-phonenumbers")) {
			pclose(f);
			print_message("# skipped: python3-phonenumbers missing\n");
			skip();
		}
		int kind = pb_screen_normalize_number(out, sizeof(out), numbers[i], nb);
		if (strcmp(line, "-") == 0 ? kind == PB_SCREEN_NUMBER_E164 : strcmp(line, out) != 0)
			print_error("%s %s: phonenumbers %s, we %s\n", region, numbers[i], line, out);
		if (strcmp(line, "-") != 0)
			assert_string_equal(out, line);
	}
	pclose(f);
}

static void test_screen__normalize_agrees_with_phonenumbers(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0) {
		print_message("# skipped: no /usr/bin/python3\n");
		skip();
	}
	pb_screen_numbering us = PB_SCREEN_NUMBERING_INIT, de = PB_SCREEN_NUMBERING_INIT;
	pb_screen_numbering gb = PB_SCREEN_NUMBERING_INIT, it = PB_SCREEN_NUMBERING_INIT;
	strcpy(us.region, "US");
	strcpy(de.region, "DE");
	strcpy(gb.region, "GB");
	strcpy(it.region, "IT");
	static const char *const us_numbers[] = {
		"+1 (212) 555-1234", "212-555-1234", "1 212 555 1234", "(650) 253-0000",
		"011 44 20 7946 0958", "011 49 30 1234567", "+44 20 7946 0958", "+33 1 42 68 53 00",
		"+1.415.555.0132", "+61 2 9374 4000", "+81 3-1234-5678",
		"sip:+12125551234@trunk.example;user=phone", "<tel:1-650-253-0000>",
	};
	static const char *const de_numbers[] = {
		"030 1234567", "0049 30 1234567", "+49 (0)30 1234567", "0171 1234567", "+49 171 1234567",
		"089/1234567", "0043 1 5123456", "+41 44 668 18 00", "0 40-123 456 78", "+1 212 555 1234",
		"\"Bob\" <sip:0301234567@pbx.local>", "sip:%2B4930123456@h", "sip:004930123456;verstat=No-TN-Validation@h",
	};
	static const char *const gb_numbers[] = {
		"020 7946 0958", "+44 (0)20 7946 0958", "07700 900123", "00 49 30 1234567",
		"sip:02079460958@trunk",
	};
	static const char *const it_numbers[] = {
		"06 1234 5678", "+39 06 1234 5678", "333 123 4567", "0039 02 1234 5678",
	};
	oracle_check("US", &us, us_numbers, sizeof(us_numbers) / sizeof(us_numbers[0]));
	oracle_check("DE", &de, de_numbers, sizeof(de_numbers) / sizeof(de_numbers[0]));
	oracle_check("GB", &gb, gb_numbers, sizeof(gb_numbers) / sizeof(gb_numbers[0]));
	oracle_check("IT", &it, it_numbers, sizeof(it_numbers) / sizeof(it_numbers[0]));
}

static void test_screen__verstat(void **state)
{
	(void)state;
	char att;
	assert_int_equal(pb_screen_parse_verstat("sip:+15550102000;verstat=TN-Validation-Passed-A@h", &att),
			 PB_VERSTAT_PASSED);
	assert_int_equal(att, 'A');
	assert_int_equal(pb_screen_parse_verstat("<sip:+15550102000@h;user=phone;verstat=TN-Validation-Failed>", &att),
			 PB_VERSTAT_FAILED);
	assert_int_equal(att, 0);
	assert_int_equal(pb_screen_parse_verstat("tel:+15550102000;verstat=No-TN-Validation", NULL),
			 PB_VERSTAT_NO_VALIDATION);
	assert_int_equal(pb_screen_parse_verstat("sip:+1@h;VERSTAT=tn-validation-passed", NULL), PB_VERSTAT_PASSED);
	assert_int_equal(pb_screen_parse_verstat("sip:+1@h;verstat=Something-Else", NULL), PB_VERSTAT_OTHER);
	assert_int_equal(pb_screen_parse_verstat("sip:+1@h;verstat=TN-Validation-Passed-Z", NULL), PB_VERSTAT_OTHER);
	assert_int_equal(pb_screen_parse_verstat("sip:+1@h", NULL), PB_VERSTAT_NONE);
	assert_int_equal(pb_screen_parse_verstat(NULL, NULL), PB_VERSTAT_NONE);
	assert_string_equal(pb_screen_verstat_name(PB_VERSTAT_FAILED), "TN-Validation-Failed");
}

/* --- policy ------------------------------------------------------------------------- */

typedef struct lists {
	const char *allowed[4];
	const char *denied[4];
	int failures;
	int64_t since;
	int fail_with;
} lists;

static int in(const char *const *l, const char *e164)
{
	for (int i = 0; i < 4 && l[i]; i++)
		if (!strcmp(l[i], e164))
			return 1;
	return 0;
}

static int lk_allowed(const char *e, void *ud) { lists *l = ud; return l->fail_with ? l->fail_with : in(l->allowed, e); }
static int lk_denied(const char *e, void *ud) { return in(((lists *)ud)->denied, e); }

static int lk_failures(const char *e, int64_t since, void *ud)
{
	lists *l = ud;
	(void)e;
	l->since = since;
	return l->failures;
}

static pb_screen_decision decide(const pb_screen_policy *p, lists *l, const char *from, const char *pai,
				 int minute)
{
	pb_screen_lookups lk = { lk_allowed, lk_denied, lk_failures, l };
	pb_screen_call call = PB_SCREEN_CALL_INIT;
	call.from = from;
	call.pai = pai;
	call.now = 1700000000;
	call.minute_of_day = minute;
	pb_screen_decision d;
	assert_pb_ok(pb_screen_policy_decide(p, &call, &lk, &d));
	return d;
}

static void test_screen__policy_default_rules(void **state)
{
	(void)state;
	pb_screen_policy *p;
	assert_pb_ok(pb_screen_policy_new(&p));
	assert_pb_ok(pb_screen_policy_set(p, "region", "US"));
	lists l = { { "+15550102000" }, { "+15550109999" }, 0, 0, 0 };

	pb_screen_decision d = decide(p, &l, "sip:5550102000@h", NULL, 600);
	assert_int_equal(d.verdict, PB_SCREEN_ACCEPT);
	assert_string_equal(d.rule, "allow-list");
	assert_string_equal(d.caller, "+15550102000");

	d = decide(p, &l, "sip:+15550109999@h", NULL, 600);
	assert_int_equal(d.verdict, PB_SCREEN_REJECT);
	assert_int_equal(d.sip_status, 603);
	assert_string_equal(d.rule, "deny-list");

	/* P-Asserted-Identity wins over From */
	d = decide(p, &l, "sip:+15550102000@h", "<sip:+15550109999@carrier>", 600);
	assert_string_equal(d.rule, "deny-list");

	d = decide(p, &l, "sip:anonymous@anonymous.invalid", NULL, 600);
	assert_int_equal(d.verdict, PB_SCREEN_CHALLENGE);
	assert_string_equal(d.rule, "anonymous");
	assert_string_equal(d.challenge, "press-digit");
	assert_string_equal(d.params, "digit=6");

	d = decide(p, &l, "sip:204@pbx", NULL, 600);
	assert_int_equal(d.verdict, PB_SCREEN_ACCEPT);
	assert_string_equal(d.rule, "short-number");

	d = decide(p, &l, "sip:+15550104444@h", NULL, 600);
	assert_int_equal(d.verdict, PB_SCREEN_CHALLENGE);
	assert_string_equal(d.rule, "default");

	/* a passed attestation alone is no proof of a wanted call */
	d = decide(p, &l, "sip:+15550104444@h", "<sip:+15550104444;verstat=TN-Validation-Passed-A@c>", 600);
	assert_int_equal(d.verdict, PB_SCREEN_CHALLENGE);
	assert_int_equal(d.verstat, PB_VERSTAT_PASSED);

	/* failed attestation: challenged, even when allow-listed (the number may be spoofed) */
	d = decide(p, &l, NULL, "<sip:+15550102000@c;verstat=TN-Validation-Failed>", 600);
	assert_int_equal(d.verdict, PB_SCREEN_CHALLENGE);
	assert_string_equal(d.rule, "attestation-failed");
	assert_pb_ok(pb_screen_policy_set(p, "trust-allow-list-on-failed", "yes"));
	d = decide(p, &l, NULL, "<sip:+15550102000@c;verstat=TN-Validation-Failed>", 600);
	assert_string_equal(d.rule, "allow-list");
	assert_pb_ok(pb_screen_policy_set(p, "attestation-failed", "reject"));
	d = decide(p, &l, NULL, "<sip:+15550104444@c;verstat=TN-Validation-Failed>", 600);
	assert_int_equal(d.verdict, PB_SCREEN_REJECT);
	assert_int_equal(d.sip_status, 608);
	assert_pb_ok(pb_screen_policy_set(p, "attestation-failed", "ignore"));
	d = decide(p, &l, NULL, "<sip:+15550104444@c;verstat=TN-Validation-Failed>", 600);
	assert_string_equal(d.rule, "default");

	/* too many failed challenges in the window */
	l.failures = 3;
	d = decide(p, &l, "sip:+15550104444@h", NULL, 600);
	assert_int_equal(d.verdict, PB_SCREEN_REJECT);
	assert_string_equal(d.rule, "too-many-failures");
	assert_int_equal(l.since, 1700000000 - 86400);
	l.failures = 2;
	d = decide(p, &l, "sip:+15550104444@h", NULL, 600);
	assert_int_equal(d.verdict, PB_SCREEN_CHALLENGE);

	/* a lookup error is the decision's error */
	l.fail_with = PB_EIO;
	pb_screen_lookups lk = { lk_allowed, lk_denied, lk_failures, &l };
	pb_screen_call call = PB_SCREEN_CALL_INIT;
	call.from = "+15550104444";
	pb_screen_decision dd;
	assert_pb_error(pb_screen_policy_decide(p, &call, &lk, &dd), PB_EIO);
	/* no lookups at all: everyone unknown is challenged */
	assert_pb_ok(pb_screen_policy_decide(p, &call, NULL, &dd));
	assert_int_equal(dd.verdict, PB_SCREEN_CHALLENGE);
	call.version = 99;
	assert_pb_error(pb_screen_policy_decide(p, &call, NULL, &dd), PB_EINVAL);
	pb_screen_policy_free(p);
}

/* "challenge = X" without challenge-params must not hand X press-digit's
 * default "digit=6" (a custom challenge then refused every call with 500);
 * challenge-params given before or after challenge= is kept. */
static void test_screen__policy_challenge_without_params(void **state)
{
	(void)state;
	pb_screen_policy *p;
	lists l = { { NULL }, { NULL }, 0, 0, 0 };
	assert_pb_ok(pb_screen_policy_new(&p));
	pb_screen_decision d = decide(p, &l, "+33123456789", NULL, 600);
	assert_string_equal(d.params, "digit=6");
	assert_pb_ok(pb_screen_policy_set(p, "challenge", "arithmetic"));
	d = decide(p, &l, "+33123456789", NULL, 600);
	assert_string_equal(d.challenge, "arithmetic");
	assert_string_equal(d.params, "");
	pb_screen_policy_free(p);

	assert_pb_ok(pb_screen_policy_new(&p));
	assert_pb_ok(pb_screen_policy_set(p, "challenge-params", "max=5"));
	assert_pb_ok(pb_screen_policy_set(p, "challenge", "arithmetic"));
	d = decide(p, &l, "+33123456789", NULL, 600);
	assert_string_equal(d.params, "max=5");
	pb_screen_policy_free(p);
}

/* A number's policy from the store: "key=value; key=value" (docs/cluster.md) */
static void test_screen__policy_apply_reads_pairs(void **state)
{
	(void)state;
	pb_screen_policy *p;
	lists l = { { NULL }, { NULL }, 0, 0, 0 };
	assert_pb_ok(pb_screen_policy_new(&p));
	assert_pb_ok(pb_screen_policy_apply(p, NULL));
	assert_pb_ok(pb_screen_policy_apply(p, ""));
	assert_pb_ok(pb_screen_policy_apply(p, " challenge = arithmetic ;; challenge-params=max=5 tries=2;"));
	pb_screen_decision d = decide(p, &l, "+33123456789", NULL, 600);
	assert_string_equal(d.challenge, "arithmetic");
	assert_string_equal(d.params, "max=5 tries=2");
	/* the first bad pair stops it, named */
	assert_pb_error(pb_screen_policy_apply(p, "anonymous=reject; bogus=1; region=GB"), PB_ENOTFOUND);
	assert_non_null(strstr(pb_error_last()->message, "bogus"));
	assert_pb_error(pb_screen_policy_apply(p, "region=US; challenge"), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "offset 10"));
	assert_pb_error(pb_screen_policy_apply(p, " =1"), PB_EINVAL);
	char big[700];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_pb_error(pb_screen_policy_apply(p, big), PB_EINVAL);
	assert_pb_error(pb_screen_policy_apply(NULL, "a=b"), PB_EINVAL);
	pb_screen_policy_free(p);
}

static pb_screen_decision decide_called(const pb_screen_policy *p, const char *called)
{
	pb_screen_call call = PB_SCREEN_CALL_INIT;
	call.from = "sip:+33123456789@trunk";
	call.called = called;
	call.now = 1700000000;
	pb_screen_decision d;
	assert_pb_ok(pb_screen_policy_decide(p, &call, NULL, &d));
	return d;
}

/* own-domains: INVITEs whose Request-URI host is not ours are refused
 * (404, rule not-our-domain) before any other rule. */
static void test_screen__policy_own_domains(void **state)
{
	(void)state;
	pb_screen_policy *p;
	assert_pb_ok(pb_screen_policy_new(&p));
	assert_pb_ok(pb_screen_policy_set(p, "own-domains", "Screen.Example.org, 192.0.2.10 [2001:db8::1]"));
	static const char *const ours[] = {
		"sip:+15550100000@screen.example.org", "<sips:screen@SCREEN.example.org:5061;transport=tls>",
		"sip:192.0.2.10", "sip:x@192.0.2.10:5060", "sip:x@[2001:db8::1]:5060;user=phone",
	};
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		pb_screen_decision d = decide_called(p, ours[i]);
		assert_int_equal(d.verdict, PB_SCREEN_CHALLENGE);
	}
	static const char *const theirs[] = {
		"sip:+15550100000@example.org", "sip:x@screen.example.org.evil.net", "sip:x@192.0.2.100",
		"tel:+15550100000", "sip:x@[2001:db8::2]", "", "sip:@",
	};
	for (size_t i = 0; i < sizeof(theirs) / sizeof(theirs[0]); i++) {
		pb_screen_decision d = decide_called(p, theirs[i]);
		assert_int_equal(d.verdict, PB_SCREEN_REJECT);
		assert_int_equal(d.sip_status, 404);
		assert_string_equal(d.rule, "not-our-domain");
	}
	pb_screen_decision d = decide_called(p, NULL);
	assert_string_equal(d.rule, "not-our-domain");
	assert_pb_error(pb_screen_policy_set(p, "own-domains", "a/b"), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "own-domains"));
	assert_pb_ok(pb_screen_policy_set(p, "own-domains", ""));
	d = decide_called(p, "sip:x@anywhere");
	assert_int_equal(d.verdict, PB_SCREEN_CHALLENGE);
	pb_screen_policy_free(p);
}

/* Version 2 calls: what the SIP layer parsed (number, verstat enum) is used
 * as is, not parsed again from the URIs; version 1 still works. */
static void test_screen__policy_parsed_identity(void **state)
{
	(void)state;
	pb_screen_policy *p;
	assert_pb_ok(pb_screen_policy_new(&p));
	pb_screen_call call = PB_SCREEN_CALL_INIT;
	call.from = "sip:ignored@trunk";
	call.pai = "sip:+15550100099;verstat=TN-Validation-Passed@trunk"; /* would say passed */
	call.number = "+15550100042";
	call.verstat_known = true;
	call.verstat_value = PB_VERSTAT_FAILED;
	pb_screen_decision d;
	assert_pb_ok(pb_screen_policy_decide(p, &call, NULL, &d));
	assert_string_equal(d.caller, "+15550100042");
	assert_int_equal(d.verstat, PB_VERSTAT_FAILED);
	assert_string_equal(d.rule, "attestation-failed");
	call.version = 1; /* the old layout: number and verstat_value unread */
	assert_pb_ok(pb_screen_policy_decide(p, &call, NULL, &d));
	assert_string_equal(d.caller, "+15550100099");
	assert_int_equal(d.verstat, PB_VERSTAT_PASSED);
	call.version = 3;
	assert_pb_error(pb_screen_policy_decide(p, &call, NULL, &d), PB_EINVAL);
	char att = 0;
	assert_int_equal(pb_screen_verstat_from_value("TN-Validation-Passed-B", 22, &att), PB_VERSTAT_PASSED);
	assert_int_equal(att, 'B');
	assert_int_equal(pb_screen_verstat_from_value("No-TN-Validation;x", 16, &att), PB_VERSTAT_NO_VALIDATION);
	assert_int_equal(pb_screen_verstat_from_value(NULL, 0, &att), PB_VERSTAT_NONE);
	pb_screen_policy_free(p);
}

static void test_screen__policy_configuration(void **state)
{
	(void)state;
	pb_screen_policy *p;
	assert_pb_ok(pb_screen_policy_new(&p));
	lists l = { { NULL }, { NULL }, 0, 0, 0 };
	assert_pb_ok(pb_screen_policy_set(p, "anonymous", "reject"));
	pb_screen_decision d = decide(p, &l, "sip:anonymous@h", NULL, 600);
	assert_int_equal(d.verdict, PB_SCREEN_REJECT);
	assert_int_equal(d.sip_status, 433);
	assert_pb_ok(pb_screen_policy_set(p, "anonymous", "challenge"));
	assert_pb_ok(pb_screen_policy_set(p, "anonymous-challenge", "random-code"));
	assert_pb_ok(pb_screen_policy_set(p, "anonymous-challenge-params", "\"digits=5 tries=2\""));
	d = decide(p, &l, "sip:anonymous@h", NULL, 600);
	assert_string_equal(d.challenge, "random-code");
	assert_string_equal(d.params, "digits=5 tries=2");

	assert_pb_ok(pb_screen_policy_set(p, "quiet-hours", "22:00-07:00"));
	d = decide(p, &l, "+33123456789", NULL, 23 * 60);
	assert_int_equal(d.verdict, PB_SCREEN_REJECT);
	assert_int_equal(d.sip_status, 480);
	assert_string_equal(d.rule, "quiet-hours");
	d = decide(p, &l, "+33123456789", NULL, 6 * 60 + 59);
	assert_string_equal(d.rule, "quiet-hours");
	d = decide(p, &l, "+33123456789", NULL, 7 * 60);
	assert_string_equal(d.rule, "default");
	d = decide(p, &l, "+33123456789", NULL, -1);
	assert_string_equal(d.rule, "default");
	assert_pb_ok(pb_screen_policy_set(p, "short-numbers", "ignore"));
	d = decide(p, &l, "sip:204@pbx", NULL, 600);
	assert_int_equal(d.verdict, PB_SCREEN_CHALLENGE);

	assert_pb_ok(pb_screen_policy_set(p, "challenge", "chain"));
	assert_pb_ok(pb_screen_policy_set(p, "challenge-params", "steps=ring-delay,press-digit"));
	d = decide(p, &l, "+33123456789", NULL, 600);
	assert_string_equal(d.challenge, "chain");

	/* calls to numbers that are not ours (scanners) */
	assert_pb_ok(pb_screen_policy_set(p, "own-numbers", "+15550100000, +445550100001"));
	pb_screen_call call = PB_SCREEN_CALL_INIT;
	call.from = "+33123456789";
	call.called = "sip:+15550100099@me";
	assert_pb_ok(pb_screen_policy_decide(p, &call, NULL, &d));
	assert_int_equal(d.verdict, PB_SCREEN_REJECT);
	assert_int_equal(d.sip_status, 404);
	assert_string_equal(d.rule, "not-our-number");
	call.called = "<sip:+445550100001@me;user=phone>";
	assert_pb_ok(pb_screen_policy_decide(p, &call, NULL, &d));
	assert_string_equal(d.rule, "default");
	/* unsigned calls: no Identity header, no verstat */
	assert_pb_ok(pb_screen_policy_set(p, "unsigned", "reject"));
	assert_pb_ok(pb_screen_policy_decide(p, &call, NULL, &d));
	assert_int_equal(d.verdict, PB_SCREEN_REJECT);
	assert_int_equal(d.sip_status, 428);
	assert_string_equal(d.rule, "unsigned");
	call.identity_header = true;
	assert_pb_ok(pb_screen_policy_decide(p, &call, NULL, &d));
	assert_string_equal(d.rule, "default");
	call.identity_header = false;
	call.verstat = "TN-Validation-Passed-B";
	assert_pb_ok(pb_screen_policy_decide(p, &call, NULL, &d));
	assert_string_equal(d.rule, "default");
	assert_int_equal(d.verstat, PB_VERSTAT_PASSED);
	assert_pb_error(pb_screen_policy_set(p, "own-numbers", "alice"), PB_EINVAL);
	assert_pb_ok(pb_screen_policy_set(p, "own-numbers", ""));
	assert_pb_ok(pb_screen_policy_set(p, "unsigned", "ignore"));
	call.verstat = NULL;
	assert_pb_ok(pb_screen_policy_decide(p, &call, NULL, &d));
	assert_string_equal(d.rule, "default");

	assert_pb_error(pb_screen_policy_set(p, "anonymous", "maybe"), PB_EINVAL);
	assert_string_equal(pb_error_last()->message,
			    "screen policy: anonymous=maybe: expected challenge, reject or accept");
	assert_pb_error(pb_screen_policy_set(p, "deny-status", "200"), PB_EINVAL);
	assert_pb_error(pb_screen_policy_set(p, "quiet-hours", "25:00-07:00"), PB_EINVAL);
	assert_pb_error(pb_screen_policy_set(p, "quiet-hours", "22:00-07:00x"), PB_EINVAL);
	assert_pb_error(pb_screen_policy_set(p, "country-code", "+1"), PB_EINVAL);
	assert_pb_error(pb_screen_policy_set(p, "region", "XX"), PB_EINVAL);
	assert_pb_error(pb_screen_policy_set(p, "region", "USA"), PB_EINVAL);
	assert_pb_error(pb_screen_policy_set(p, "quiet-action", "accept"), PB_EINVAL);
	assert_pb_error(pb_screen_policy_set(p, "no-such-key", "1"), PB_ENOTFOUND);
	assert_pb_ok(pb_screen_policy_set(p, "quiet-hours", "off"));
	pb_screen_policy_free(p);
	pb_screen_policy_free(NULL);
}

typedef struct warnings {
	int n;
	char last[256];
} warnings;

static void capture_warning(int level, const char *domain, const char *message, void *ud)
{
	warnings *w = ud;
	if (level == PB_LOG_WARNING && !strcmp(domain, "screen")) {
		w->n++;
		snprintf(w->last, sizeof(w->last), "%s", message);
	}
}

/* The numbering keys of before "region" keep old configurations working. */
static void test_screen__policy_region_and_old_keys(void **state)
{
	(void)state;
	pb_screen_policy *p;
	warnings w = { 0, "" };
	assert_pb_ok(pb_screen_policy_new(&p));
	assert_string_equal(pb_screen_policy_numbering(p)->region, "");
	assert_pb_ok(pb_screen_policy_set(p, "region", "gb"));
	assert_string_equal(pb_screen_policy_numbering(p)->region, "GB");
	assert_int_equal(pb_screen_policy_numbering(p)->version, PB_SCREEN_NUMBERING_VERSION);

	pb_log_set_callback(capture_warning, &w);
	assert_pb_ok(pb_screen_policy_set(p, "country-code", "1"));
	assert_int_equal(w.n, 1);
	assert_string_equal(w.last, "policy key country-code=1 is deprecated: use region=US");
	assert_string_equal(pb_screen_policy_numbering(p)->region, "US");
	assert_pb_ok(pb_screen_policy_set(p, "international-prefix", "011"));
	assert_pb_ok(pb_screen_policy_set(p, "national-prefix", "1"));
	assert_pb_ok(pb_screen_policy_set(p, "national-length", "10"));
	assert_int_equal(w.n, 4);
	assert_non_null(strstr(w.last, "national-length is deprecated and ignored"));
	/* still checked: a typo fails as before */
	assert_pb_error(pb_screen_policy_set(p, "national-length", "ten"), PB_EINVAL);
	assert_pb_error(pb_screen_policy_set(p, "international-prefix", "+"), PB_EINVAL);
	/* a code no region of the table has: the error names the new key */
	assert_pb_error(pb_screen_policy_set(p, "country-code", "7"), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "set region instead"));
	assert_pb_error(pb_screen_policy_set(p, "country-code", ""), PB_EINVAL);
	pb_log_set_callback(NULL, NULL);
	assert_int_equal(w.n, 4);
	assert_string_equal(pb_screen_policy_numbering(p)->region, "US");

	lists l = { { "+15550102000" }, { NULL }, 0, 0, 0 };
	pb_screen_decision d = decide(p, &l, "sip:15550102000@h", NULL, 600);
	assert_string_equal(d.rule, "allow-list");
	d = decide(p, &l, "sip:5550102@h", NULL, 600); /* 7 digits: no extension in NANP */
	assert_int_equal(d.kind, PB_SCREEN_NUMBER_UNKNOWN);
	assert_string_equal(d.rule, "default");
	assert_pb_ok(pb_screen_policy_set(p, "short-max", "7"));
	d = decide(p, &l, "sip:5550102@h", NULL, 600);
	assert_string_equal(d.rule, "short-number");
	assert_pb_ok(pb_screen_policy_set(p, "region", "DE"));
	d = decide(p, &l, "sip:0301234567@h", NULL, 600);
	assert_string_equal(d.caller, "+49301234567");
	pb_screen_policy_free(p);
}

/* --- registry ------------------------------------------------------------------------- */

static int nop_create(void **st, const pb_challenge_config *c, void *ud)
{
	(void)c;
	*st = ud;
	return 0;
}
static int nop_start(void *st, pb_challenge_ctx *ctx) { (void)st; return pb_challenge_answer(ctx); }
static void nop_destroy(void *st, void *ud) { (void)st; (void)ud; }

static void test_screen__registry(void **state)
{
	(void)state;
	pb_screen_registry *r = registry();
	static const char *const names[] = { "press-digit", "random-code", "arithmetic", "ring-delay", "chain" };
	for (size_t i = 0; i < 5; i++) {
		const pb_challenge_ops *ops = pb_screen_registry_find(r, names[i]);
		assert_non_null(ops);
		assert_string_equal(ops->name, names[i]);
		assert_non_null(ops->summary);
	}
	assert_null(pb_screen_registry_find(r, "captcha"));
	assert_int_equal(pb_error_last()->code, PB_ENOTFOUND);

	pb_challenge_ops mine = { PB_CHALLENGE_OPS_VERSION, "whistle", "whistle twice",
				  nop_create, nop_start, NULL, NULL, NULL, NULL, NULL, nop_destroy, NULL };
	assert_pb_ok(pb_screen_registry_add(r, &mine));
	assert_ptr_equal(pb_screen_registry_find(r, "whistle"), &mine);
	assert_pb_error(pb_screen_registry_add(r, &mine), PB_EEXISTS);
	pb_challenge_ops v2 = mine;
	v2.version = 2;
	v2.name = "whistle-2";
	assert_pb_error(pb_screen_registry_add(r, &v2), PB_EINVAL);
	pb_challenge_ops bad = mine;
	bad.name = "Bad Name";
	assert_pb_error(pb_screen_registry_add(r, &bad), PB_EINVAL);
	bad.name = "nostart";
	bad.start = NULL;
	assert_pb_error(pb_screen_registry_add(r, &bad), PB_EINVAL);
	pb_challenge_ops dup = mine;
	dup.name = "ring-delay";
	assert_pb_error(pb_screen_registry_add(r, &dup), PB_EEXISTS);

	/* parameters are checked with messages that name the problem */
	assert_pb_ok(pb_screen_registry_check(r, "press-digit", "digit=6 tries=3 timeout=8"));
	assert_pb_ok(pb_screen_registry_check(r, "random-code", "digits=4;tries=3"));
	assert_pb_ok(pb_screen_registry_check(r, "ring-delay", "seconds=8"));
	assert_pb_ok(pb_screen_registry_check(r, "arithmetic", ""));
	assert_pb_ok(pb_screen_registry_check(r, "chain", "steps=ring-delay,press-digit ring-delay.seconds=5 press-digit.digit=3"));
	assert_pb_error(pb_screen_registry_check(r, "press-digit", "digit=x"), PB_EINVAL);
	assert_string_equal(pb_error_last()->message, "press-digit: digit=x: expected one of 0-9, * or #");
	assert_pb_error(pb_screen_registry_check(r, "random-code", "digits=40"), PB_EINVAL);
	assert_string_equal(pb_error_last()->message, "random-code: digits=40: expected an integer 1..12");
	assert_pb_error(pb_screen_registry_check(r, "ring-delay", "secs=8"), PB_EINVAL);
	assert_string_equal(pb_error_last()->message, "ring-delay: unknown parameter 'secs' (known: seconds)");
	assert_pb_error(pb_screen_registry_check(r, "press-digit", "digit"), PB_EINVAL);
	assert_pb_error(pb_screen_registry_check(r, "press-digit", "digit=1 digit=2"), PB_EINVAL);
	assert_pb_error(pb_screen_registry_check(r, "press-digit", "digit=\"1"), PB_EINVAL);
	assert_pb_error(pb_screen_registry_check(r, "chain", ""), PB_EINVAL);
	assert_pb_error(pb_screen_registry_check(r, "chain", "steps=ring-delay,captcha"), PB_EINVAL);
	assert_pb_error(pb_screen_registry_check(r, "chain", "steps=chain"), PB_EINVAL);
	assert_pb_error(pb_screen_registry_check(r, "chain", "steps=ring-delay press-digit.digit=3"), PB_EINVAL);
	assert_pb_error(pb_screen_registry_check(r, "chain", "steps=ring-delay ring-delay.seconds=0"), PB_EINVAL);
	assert_pb_error(pb_screen_registry_check(r, "captcha", ""), PB_ENOTFOUND);
	assert_pb_ok(pb_screen_registry_check(r, "whistle", ""));
	pb_screen_registry_free(r);
}

/* --- press-digit ------------------------------------------------------------------------ */

static void test_screen__press_digit_right(void **state)
{
	(void)state;
	pb_screen_registry *r = registry();
	host h;
	host_open(&h, r, "press-digit", "digit=6", NULL, 0);
	assert_int_equal(h.answers, 1);
	assert_string_equal(h.played, "press digit-6 to-continue");
	play_out(&h, 3000);
	run_until(&h, 5000);
	press(&h, "6");
	assert_int_equal(h.finishes, 1);
	assert_int_equal(h.result.outcome, PB_SCREEN_PASSED);
	assert_true(h.result.answered);
	assert_string_equal(h.result.challenge, "press-digit");
	assert_int_equal(h.result.duration_ms, 5000);
	assert_int_equal(h.timer, -1);
	/* events after the end are refused, not acted on */
	assert_pb_error(pb_screen_session_dtmf(h.s, '6', 6000), PB_ESTATE);
	assert_int_equal(h.finishes, 1);
	host_close(&h);
	pb_screen_registry_free(r);
}

static void test_screen__press_digit_wrong_then_right(void **state)
{
	(void)state;
	pb_screen_registry *r = registry();
	host h;
	host_open(&h, r, "press-digit", "digit=# tries=2", NULL, 0);
	assert_string_equal(h.played, "press pound to-continue");
	play_out(&h, 2000);
	press(&h, "5");
	assert_int_equal(h.finishes, 0);
	assert_string_equal(h.played, "press pound to-continue try-again press pound to-continue");
	play_out(&h, 3000);
	press(&h, "#");
	assert_int_equal(h.result.outcome, PB_SCREEN_PASSED);
	host_close(&h);
	pb_screen_registry_free(r);
}

static void test_screen__press_digit_wrong_fails_with_goodbye(void **state)
{
	(void)state;
	pb_screen_registry *r = registry();
	host h;
	host_open(&h, r, "press-digit", "digit=6 tries=3", NULL, 0);
	for (int i = 0; i < 3; i++) {
		play_out(&h, 2000);
		press(&h, "1");
	}
	/* the goodbye plays before the hang-up */
	assert_int_equal(h.finishes, 0);
	assert_non_null(strstr(h.played, "goodbye"));
	assert_true(h.playing);
	play_out(&h, 1000);
	assert_int_equal(h.finishes, 1);
	assert_int_equal(h.result.outcome, PB_SCREEN_FAILED);
	assert_string_equal(h.reason, "wrong digits");
	host_close(&h);

	/* a host that never reports the goodbye played still gets the end */
	host_open(&h, r, "press-digit", "tries=1", NULL, 0);
	play_out(&h, 1000);
	press(&h, "2");
	assert_int_equal(h.finishes, 0);
	run_until(&h, 60000);
	assert_int_equal(h.finishes, 1);
	assert_int_equal(h.result.outcome, PB_SCREEN_FAILED);
	assert_true(h.result.duration_ms <= 1000 + 6000);
	host_close(&h);
	pb_screen_registry_free(r);
}

static void test_screen__no_digit_times_out_after_prompt(void **state)
{
	(void)state;
	pb_screen_registry *r = registry();
	host h;
	host_open(&h, r, "press-digit", "tries=2 timeout=5", NULL, 0);
	/* no timer runs while the prompt plays: a long prompt eats no answer time */
	run_until(&h, 20000);
	assert_int_equal(h.finishes, 0);
	play_out(&h, 0);
	assert_int_equal(h.timer, 25000);
	run_until(&h, 24999);
	assert_int_equal(h.finishes, 0);
	run_until(&h, 25000);
	assert_non_null(strstr(h.played, "try-again"));
	play_out(&h, 2000);
	run_until(&h, 40000);
	play_out(&h, 1000);
	assert_int_equal(h.finishes, 1);
	assert_int_equal(h.result.outcome, PB_SCREEN_FAILED);
	assert_string_equal(h.reason, "no digits");
	host_close(&h);
	pb_screen_registry_free(r);
}

static void test_screen__digits_during_prompt_barge_in(void **state)
{
	(void)state;
	pb_screen_registry *r = registry();
	host h;
	host_open(&h, r, "press-digit", "", NULL, 0);
	run_until(&h, 700);
	press(&h, "6");
	assert_int_equal(h.stops, 1);
	assert_int_equal(h.result.outcome, PB_SCREEN_PASSED);
	/* a late prompt_done from the host is harmless */
	assert_pb_error(pb_screen_session_prompt_done(h.s, 800), PB_ESTATE);
	host_close(&h);
	pb_screen_registry_free(r);
}

/* --- random-code and arithmetic ------------------------------------------------------------- */

static void test_screen__random_code(void **state)
{
	(void)state;
	static const uint8_t rnd[] = { 3, 14, 1, 25 }; /* -> 3 4 1 5 */
	pb_screen_registry *r = registry();
	host h;
	host_open(&h, r, "random-code", "digits=4 tries=2 timeout=5", rnd, sizeof(rnd));
	assert_string_equal(h.played, "enter-the-code digit-3 digit-4 digit-1 digit-5");
	play_out(&h, 4000);
	/* slow but within the inter-digit timeout */
	for (const char *d = "3415"; *d; d++) {
		run_until(&h, h.now + 4500);
		char s[2] = { *d, 0 };
		press(&h, s);
	}
	assert_int_equal(h.result.outcome, PB_SCREEN_PASSED);
	host_close(&h);

	/* too slow: the collector times out, the code is read again */
	host_open(&h, r, "random-code", "digits=4 tries=2 timeout=5", rnd, sizeof(rnd));
	play_out(&h, 4000);
	press(&h, "34");
	run_until(&h, h.now + 5000);
	assert_int_equal(h.finishes, 0);
	assert_string_equal(h.played, "enter-the-code digit-3 digit-4 digit-1 digit-5 try-again "
			    "enter-the-code digit-3 digit-4 digit-1 digit-5");
	play_out(&h, 4000);
	press(&h, "3415");
	assert_int_equal(h.result.outcome, PB_SCREEN_PASSED);
	host_close(&h);

	/* a wrong code twice fails */
	host_open(&h, r, "random-code", "digits=2 tries=2", rnd, sizeof(rnd));
	play_out(&h, 1000);
	press(&h, "99");
	play_out(&h, 1000);
	press(&h, "35"); /* the code is "34" */
	assert_int_equal(h.finishes, 0); /* the goodbye plays */
	play_out(&h, 1000);
	assert_int_equal(h.result.outcome, PB_SCREEN_FAILED);
	assert_string_equal(h.reason, "wrong digits");
	host_close(&h);
	pb_screen_registry_free(r);
}

static void test_screen__random_code_uses_csprng_by_default(void **state)
{
	(void)state;
	pb_screen_registry *r = registry();
	char codes[8][96];
	int distinct = 0;
	for (int i = 0; i < 8; i++) {
		host h;
		memset(&h, 0, sizeof(h));
		h.timer = -1;
		assert_pb_ok(pb_screen_session_new(&h.s, r, "random-code", "digits=8", &host_ops, &h, NULL));
		assert_pb_ok(pb_screen_session_start(h.s, 0));
		snprintf(codes[i], sizeof(codes[i]), "%.90s", h.played + strlen("enter-the-code "));
		bool seen = false;
		for (int j = 0; j < i; j++)
			seen |= !strcmp(codes[i], codes[j]);
		distinct += !seen;
		pb_screen_session_free(h.s);
	}
	assert_true(distinct >= 7); /* 8 draws of 10^8 codes */
	pb_screen_registry_free(r);
}

static void test_screen__arithmetic(void **state)
{
	(void)state;
	static const uint8_t rnd[] = { 2, 3 }; /* operands 3 and 4 (1 + v % 9) */
	pb_screen_registry *r = registry();
	host h;
	host_open(&h, r, "arithmetic", "", rnd, sizeof(rnd));
	assert_string_equal(h.played, "what-is digit-3 plus digit-4");
	play_out(&h, 2500);
	press(&h, "7");
	assert_int_equal(h.result.outcome, PB_SCREEN_PASSED);
	host_close(&h);

	static const uint8_t big[] = { 8, 7 }; /* 9 + 8 = 17: two digits */
	host_open(&h, r, "arithmetic", "tries=1", big, sizeof(big));
	play_out(&h, 2500);
	press(&h, "1");
	assert_int_equal(h.finishes, 0);
	press(&h, "8");
	play_out(&h, 1000);
	assert_int_equal(h.result.outcome, PB_SCREEN_FAILED);
	host_close(&h);
	pb_screen_registry_free(r);
}

/* --- ring-delay and chain -------------------------------------------------------------- */

static void test_screen__ring_delay(void **state)
{
	(void)state;
	pb_screen_registry *r = registry();
	host h;
	host_open(&h, r, "ring-delay", "seconds=8", NULL, 0);
	assert_int_equal(h.rings, 1);
	assert_int_equal(h.answers, 0);
	assert_int_equal(h.timer, 8000);
	run_until(&h, 7999);
	assert_int_equal(h.finishes, 0);
	run_until(&h, 8000);
	assert_int_equal(h.result.outcome, PB_SCREEN_PASSED);
	assert_false(h.result.answered); /* forward with a 302, no media needed */
	host_close(&h);

	/* robodialers hang up */
	host_open(&h, r, "ring-delay", "seconds=8", NULL, 0);
	run_until(&h, 4000);
	assert_pb_ok(pb_screen_session_hangup(h.s, 4000));
	assert_int_equal(h.result.outcome, PB_SCREEN_HUNG_UP);
	assert_int_equal(h.result.duration_ms, 4000);
	host_close(&h);
	pb_screen_registry_free(r);
}

static void test_screen__chain_ring_then_press(void **state)
{
	(void)state;
	pb_screen_registry *r = registry();
	host h;
	host_open(&h, r, "chain", "steps=ring-delay,press-digit ring-delay.seconds=5 press-digit.digit=3", NULL, 0);
	assert_int_equal(h.rings, 1);
	assert_int_equal(h.answers, 0);
	press(&h, "3"); /* a digit before the question is ignored */
	run_until(&h, 5000);
	assert_int_equal(h.answers, 1);
	assert_string_equal(h.played, "press digit-3 to-continue");
	play_out(&h, 2000);
	press(&h, "3");
	assert_int_equal(h.result.outcome, PB_SCREEN_PASSED);
	assert_true(h.result.answered);
	assert_int_equal(h.result.duration_ms, 7000);
	host_close(&h);

	host_open(&h, r, "chain", "steps=ring-delay,press-digit ring-delay.seconds=5 press-digit.tries=1", NULL, 0);
	run_until(&h, 5000);
	play_out(&h, 2000);
	press(&h, "1");
	play_out(&h, 1000);
	assert_int_equal(h.result.outcome, PB_SCREEN_FAILED);
	assert_string_equal(h.reason, "wrong digits");
	host_close(&h);
	pb_screen_registry_free(r);
}

/* --- hang-up at every stage ------------------------------------------------------------- */

typedef struct script {
	const char *name, *params;
	const char *steps; /* p = play out 2 s, digits = press, w = wait 10 s */
} script;

static void run_script_step(host *h, char c)
{
	if (c == 'p')
		play_out(h, 2000);
	else if (c == 'w')
		run_until(h, h->now + 10000);
	else if (!pb_screen_session_finished(h->s))
		assert_pb_ok(pb_screen_session_dtmf(h->s, c, h->now));
}

static void test_screen__hangup_at_every_stage(void **state)
{
	(void)state;
	static const uint8_t rnd[] = { 1, 2, 3, 4 };
	static const script scripts[] = {
		{ "press-digit", "tries=2", "p1p6" },
		{ "press-digit", "tries=2", "p1p1p" },
		{ "random-code", "digits=3", "p2p234" },
		{ "arithmetic", "tries=2", "pwp5" },
		{ "ring-delay", "seconds=4", "pw" },
		{ "chain", "steps=ring-delay,random-code random-code.digits=2", "wp23" },
	};
	pb_screen_registry *r = registry();
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		size_t n = strlen(scripts[i].steps);
		for (size_t cut = 0; cut <= n; cut++) {
			host h;
			host_open(&h, r, scripts[i].name, scripts[i].params, rnd, sizeof(rnd));
			for (size_t k = 0; k < cut; k++)
				run_script_step(&h, scripts[i].steps[k]);
			bool was_done = pb_screen_session_finished(h.s);
			bool in_goodbye = !was_done && strstr(h.played, "goodbye");
			int rc = pb_screen_session_hangup(h.s, h.now + 1);
			assert_int_equal(h.finishes, 1);
			if (was_done) {
				assert_int_equal(rc, PB_ESTATE);
			} else {
				assert_int_equal(rc, 0);
				assert_int_equal(h.result.outcome, in_goodbye ? PB_SCREEN_FAILED : PB_SCREEN_HUNG_UP);
			}
			host_close(&h);
		}
	}
	pb_screen_registry_free(r);
}

static void test_screen__time_limit(void **state)
{
	(void)state;
	pb_screen_registry *r = registry();
	host h;
	memset(&h, 0, sizeof(h));
	h.timer = -1;
	pb_screen_session_options o = PB_SCREEN_SESSION_OPTIONS_INIT;
	o.max_duration_ms = 30000;
	assert_pb_ok(pb_screen_session_new(&h.s, r, "ring-delay", "seconds=60", &host_ops, &h, &o));
	assert_pb_ok(pb_screen_session_start(h.s, 1000));
	assert_int_equal(h.timer, 31000);
	run_until(&h, 100000);
	assert_int_equal(h.result.outcome, PB_SCREEN_TIMED_OUT);
	assert_int_equal(h.result.duration_ms, 30000);
	host_close(&h);

	/* a version 1 struct (the limit in max_duration, an int64_t) ends before
	 * max_duration_ms: still read, no further (ASan: a block of that size) */
	pb_screen_session_options v1 = PB_SCREEN_SESSION_OPTIONS_INIT;
	v1.version = 1;
	v1.max_duration = 20000;
	size_t len = offsetof(pb_screen_session_options, max_duration_ms);
	unsigned char *old = malloc(len);
	assert_non_null(old);
	memcpy(old, &v1, len);
	memset(&h, 0, sizeof(h));
	h.timer = -1;
	assert_pb_ok(pb_screen_session_new(&h.s, r, "ring-delay", "seconds=60", &host_ops, &h,
					   (const pb_screen_session_options *)(void *)old));
	free(old);
	assert_pb_ok(pb_screen_session_start(h.s, 1000));
	assert_int_equal(h.timer, 21000);
	host_close(&h);
	/* no limit: PB_WAIT_FOREVER (the ring's own 60 s is the next timer) */
	memset(&h, 0, sizeof(h));
	h.timer = -1;
	o.max_duration_ms = PB_WAIT_FOREVER;
	assert_pb_ok(pb_screen_session_new(&h.s, r, "ring-delay", "seconds=60", &host_ops, &h, &o));
	assert_pb_ok(pb_screen_session_start(h.s, 1000));
	assert_int_equal(h.timer, 61000);
	host_close(&h);
	o.max_duration_ms = (unsigned)INT_MAX + 1u;
	assert_pb_error(pb_screen_session_new(&h.s, r, "ring-delay", "", &host_ops, &h, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "max_duration_ms"));
	o.max_duration_ms = 30000;

	o.version = 7;
	assert_pb_error(pb_screen_session_new(&h.s, r, "ring-delay", "", &host_ops, &h, &o), PB_EINVAL);
	assert_pb_error(pb_screen_session_new(&h.s, r, "nope", "", &host_ops, &h, NULL), PB_ENOTFOUND);
	assert_pb_error(pb_screen_session_new(&h.s, r, "ring-delay", "seconds=0", &host_ops, &h, NULL), PB_EINVAL);
	assert_null(h.s);
	pb_screen_registry_free(r);
}

/* --- a challenge written outside the library -------------------------------------------- */

typedef struct knock {
	int knocks;
	int want;
} knock;

static int knock_create(void **st, const pb_challenge_config *cfg, void *ud)
{
	static const char *const keys[] = { "knocks", NULL };
	long n;
	(void)ud;
	int rc = pb_challenge_config_check(cfg, keys);
	if (rc == 0)
		rc = pb_challenge_config_int(cfg, "knocks", 2, 1, 5, &n);
	if (rc < 0)
		return rc;
	knock *k = pb_calloc(1, sizeof(*k));
	if (!k)
		return PB_ENOMEM;
	k->want = (int)n;
	*st = k;
	return 0;
}

static int knock_start(void *st, pb_challenge_ctx *ctx)
{
	(void)st;
	static const char *const beep[] = { "beep" };
	pb_challenge_answer(ctx);
	pb_challenge_play(ctx, beep, 1);
	return pb_challenge_set_timer(ctx, 3000);
}

static int knock_dtmf(void *st, pb_challenge_ctx *ctx, char d)
{
	knock *k = st;
	if (d == '*' && ++k->knocks == k->want)
		return pb_challenge_pass(ctx);
	if (d == '0')
		return pb_error_set(PB_EPROTO, "knock: zero is not a knock");
	return 0;
}

static int knock_timer(void *st, pb_challenge_ctx *ctx)
{
	(void)st;
	return pb_challenge_fail(ctx, "no knock");
}

static void knock_destroy(void *st, void *ud)
{
	(void)ud;
	pb_free(st);
}

static const pb_challenge_ops knock_ops = {
	PB_CHALLENGE_OPS_VERSION, "knock", "press * twice within 3 s", knock_create, knock_start,
	knock_dtmf, NULL, knock_timer, NULL, NULL, knock_destroy, NULL,
};

static void test_screen__user_challenge(void **state)
{
	(void)state;
	pb_screen_registry *r = registry();
	assert_pb_ok(pb_screen_registry_add(r, &knock_ops));
	host h;
	host_open(&h, r, "knock", "knocks=2", NULL, 0);
	assert_string_equal(h.played, "beep");
	press(&h, "*");
	run_until(&h, 1000);
	press(&h, "*");
	assert_int_equal(h.result.outcome, PB_SCREEN_PASSED);
	host_close(&h);

	host_open(&h, r, "knock", "", NULL, 0);
	run_until(&h, 3000);
	assert_int_equal(h.finishes, 0); /* goodbye */
	play_out(&h, 500);
	assert_int_equal(h.result.outcome, PB_SCREEN_FAILED);
	assert_string_equal(h.reason, "no knock");
	host_close(&h);

	host_open(&h, r, "chain", "steps=knock,press-digit knock.knocks=1", NULL, 0);
	press(&h, "*");
	assert_string_equal(h.played, "beep press digit-6 to-continue");
	/* the knock step's timer went with it */
	run_until(&h, 3500);
	assert_int_equal(h.finishes, 0);
	press(&h, "6");
	assert_int_equal(h.result.outcome, PB_SCREEN_PASSED);
	host_close(&h);

	/* an error from the challenge ends the session with its message */
	host_open(&h, r, "knock", "", NULL, 0);
	press(&h, "0");
	assert_int_equal(h.result.outcome, PB_SCREEN_ERROR);
	assert_string_equal(h.reason, "knock: zero is not a knock");
	host_close(&h);
	assert_pb_error(pb_screen_session_dtmf(NULL, '1', 0), PB_EINVAL);
	pb_screen_registry_free(r);
}

/* --- allocation failures ----------------------------------------------------------------- */

static int alloc_scenario(void *ctx)
{
	(void)ctx;
	static const uint8_t rnd[] = { 5 };
	pb_screen_registry *r;
	pb_screen_policy *p = NULL;
	int rc = pb_screen_registry_new(&r);
	if (rc < 0)
		return rc;
	rc = pb_screen_registry_add(r, &knock_ops);
	if (rc == 0)
		rc = pb_screen_policy_new(&p);
	host h;
	memset(&h, 0, sizeof(h));
	h.rnd = rnd;
	h.rnd_len = 1;
	pb_screen_session_options o = PB_SCREEN_SESSION_OPTIONS_INIT;
	o.random = h_random;
	o.random_userdata = &h;
	if (rc == 0)
		rc = pb_screen_session_new(&h.s, r, "chain",
					   "steps=ring-delay,knock,random-code knock.knocks=1 random-code.digits=2",
					   &host_ops, &h, &o);
	if (rc == 0) {
		pb_screen_session_start(h.s, 0);
		pb_screen_session_timer(h.s, 8000);
		pb_screen_session_dtmf(h.s, '*', 8000);
		pb_screen_session_prompt_done(h.s, 9000);
		pb_screen_session_dtmf(h.s, '5', 9000);
		pb_screen_session_dtmf(h.s, '5', 9000);
		if (h.result.outcome != PB_SCREEN_PASSED || h.finishes != 1)
			rc = PB_ERROR;
	}
	pb_screen_session_free(h.s);
	pb_screen_policy_free(p);
	pb_screen_registry_free(r);
	return rc;
}

static void test_screen__allocation_failures(void **state)
{
	(void)state;
	assert_true(pb_test_alloc_fail_each(alloc_scenario, NULL, NULL) >= 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_screen__normalize_numbers),
		cmocka_unit_test(test_screen__policy_region_and_old_keys),
		cmocka_unit_test(test_screen__normalize_agrees_with_phonenumbers),
		cmocka_unit_test(test_screen__verstat),
		cmocka_unit_test(test_screen__policy_default_rules),
		cmocka_unit_test(test_screen__policy_configuration),
		cmocka_unit_test(test_screen__policy_challenge_without_params),
		cmocka_unit_test(test_screen__policy_own_domains),
		cmocka_unit_test(test_screen__policy_parsed_identity),
		cmocka_unit_test(test_screen__registry),
		cmocka_unit_test(test_screen__press_digit_right),
		cmocka_unit_test(test_screen__press_digit_wrong_then_right),
		cmocka_unit_test(test_screen__press_digit_wrong_fails_with_goodbye),
		cmocka_unit_test(test_screen__no_digit_times_out_after_prompt),
		cmocka_unit_test(test_screen__digits_during_prompt_barge_in),
		cmocka_unit_test(test_screen__random_code),
		cmocka_unit_test(test_screen__random_code_uses_csprng_by_default),
		cmocka_unit_test(test_screen__arithmetic),
		cmocka_unit_test(test_screen__ring_delay),
		cmocka_unit_test(test_screen__chain_ring_then_press),
		cmocka_unit_test(test_screen__hangup_at_every_stage),
		cmocka_unit_test(test_screen__policy_apply_reads_pairs),
		cmocka_unit_test(test_screen__time_limit),
		cmocka_unit_test(test_screen__user_challenge),
		cmocka_unit_test(test_screen__allocation_failures),
	};
	return pb_test_run("screen", tests);
}
