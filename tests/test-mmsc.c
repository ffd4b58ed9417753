/*
 * libphonebridge tests — mmsc: the MMSC client against a local MMSC
 * (tests/mmsc-server.py), directly and through tinyproxy.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <time.h>

#include "mmsc/mmsc-private.h"

/* The peers' code is one translation unit with the tests: the test binary
 * is built from test-mmsc.c alone (tests/meson.build). */
#include "mmsc-peers.c"

/* Fast retries: the tests check which failures are retried, not the delay. */
#define FAST_RETRY { 3, 1, 4 }

static pb_mmsc *client_with(pb_mmsc_options *o)
{
	pb_mmsc *m = NULL;
	if (o->retry.attempts == 0)
		o->retry = (pb_retry_policy)FAST_RETRY;
	assert_pb_ok(pb_mmsc_new(&m, o));
	return m;
}

static pb_mmsc *client(void)
{
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	return client_with(&o);
}

static bool bytes_equal_file(const pb_buf *b, const char *dir, const char *name)
{
	size_t len;
	uint8_t *want = pb_test_read_file(dir, name, &len);
	bool eq = len == b->len && memcmp(want, b->data, len) == 0;
	free(want);
	return eq;
}

/* --- options ------------------------------------------------------------- */

static void test_mmsc__options_are_checked(void **state)
{
	(void)state;
	pb_mmsc *m = NULL;
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.version = 99;
	assert_pb_error(pb_mmsc_new(&m, &o), PB_EINVAL);
	assert_null(m);

	const char *bad_header[] = { "X-Nai no colon", NULL };
	o = (pb_mmsc_options)PB_MMSC_OPTIONS_INIT;
	o.extra_headers = bad_header;
	assert_pb_error(pb_mmsc_new(&m, &o), PB_EINVAL);
	const char *split[] = { "X-A: 1\r\nX-B: 2", NULL };
	o.extra_headers = split;
	assert_pb_error(pb_mmsc_new(&m, &o), PB_EINVAL);

	const char *bad_rule[] = { "base=http://x/ keep=everything", NULL };
	o = (pb_mmsc_options)PB_MMSC_OPTIONS_INIT;
	o.rewrite_rules = bad_rule;
	assert_pb_error(pb_mmsc_new(&m, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "keep="));

	const char *needs_mmsc[] = { "base=mmsc keep=last", NULL };
	o.rewrite_rules = needs_mmsc;
	assert_pb_error(pb_mmsc_new(&m, &o), PB_EINVAL);

	assert_pb_ok(pb_mmsc_new(&m, NULL));
	/* POST needs an MMSC URL */
	uint8_t pdu[] = { 0x8C, 0x83 };
	assert_pb_error(pb_mmsc_post(m, PB_MMSC_POST_ACK, pdu, sizeof(pdu), NULL, NULL), PB_EINVAL);
	pb_mmsc_free(m);
	pb_mmsc_free(NULL);
}

static int new_and_free(void *ctx)
{
	const pb_mmsc_options *o = ctx;
	pb_mmsc *m = NULL;
	int rc = pb_mmsc_new(&m, o);
	if (rc < 0)
		return rc;
	char *url = NULL;
	rc = pb_mmsc_rewrite(m, "/mms/wapenc?T=1", &url);
	pb_free(url);
	pb_mmsc_free(m);
	return rc;
}

static void test_mmsc__new_survives_allocation_failures(void **state)
{
	(void)state;
	const char *rules[] = { "match=10.1.1.1 host=mms.example", "base=mmsc keep=path", NULL };
	const char *hdrs[] = { "X-Nai: 123", NULL };
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.mmsc_url = "http://mms.example/mms";
	o.proxy = "10.0.0.10:8080";
	o.interface = "if!lo";
	o.wap_profile = "http://uaprof.example/p.xml";
	o.extra_headers = hdrs;
	o.rewrite_rules = rules;
	o.ca_file = "/etc/ssl/certs/ca-certificates.crt";
	assert_true(pb_test_alloc_fail_each(new_and_free, &o, NULL) > 5);
}

/* --- Content-Location rewrite ----------------------------------------------- */

static void test_mmsc__rewrite_rules(void **state)
{
	(void)state;
	static const struct {
		const char *rule, *location, *want; /* want NULL: no match */
	} cases[] = {
		/* the router kept only the path: base URL + the path it kept */
		{ "base=http://mms.carrier.example keep=path", "/mms/wapenc?T=abc",
		  "http://mms.carrier.example/mms/wapenc?T=abc" },
		{ "base=http://mms.carrier.example/ keep=path", "mms/wapenc?T=abc",
		  "http://mms.carrier.example/mms/wapenc?T=abc" },
		/* a full URL with an unreachable host: keep its path */
		{ "base=http://mms.carrier.example:8002 keep=path", "http://10.1.1.1/mms/wapenc?T=abc",
		  "http://mms.carrier.example:8002/mms/wapenc?T=abc" },
		/* the android-sms-gateway vector: only "/?message-id=...&id=1" survived */
		{ "base=http://10.47.133.35 keep=path", "/?message-id=1563948840&id=1",
		  "http://10.47.133.35/?message-id=1563948840&id=1" },
		{ "base=http://mms.carrier.example/mms/ keep=all", "wapenc?T=abc",
		  "http://mms.carrier.example/mms/wapenc?T=abc" },
		{ "base=http://mms.carrier.example/mms/wapenc keep=query", "T=abc",
		  "http://mms.carrier.example/mms/wapenc?T=abc" },
		{ "base=http://mms.carrier.example/mms/wapenc keep=query", "http://x/y?T=abc",
		  "http://mms.carrier.example/mms/wapenc?T=abc" },
		{ "base=http://mms.carrier.example/get/ keep=last", "http://10.1.1.1/a/b/msg42?x=1",
		  "http://mms.carrier.example/get/msg42?x=1" },
		{ "host=mms.carrier.example:8002", "http://10.1.1.1:80/mms/wapenc?T=abc",
		  "http://mms.carrier.example:8002/mms/wapenc?T=abc" },
		{ "host=mms.carrier.example", "https://user@10.1.1.1/m", "https://user@mms.carrier.example/m" },
		{ "match=10.1.1.1 host=mms.carrier.example", "http://10.1.1.1/m", "http://mms.carrier.example/m" },
		{ "match=10.1.1.1 host=mms.carrier.example", "http://192.0.2.1/m", NULL },
		{ "  base=http://b.example   keep=path  ", "/x", "http://b.example/x" },
		/* padded with spaces, as in an OMA conformance notification */
		{ "host=mms.carrier.example", " http://eps3.de/O/Z9IZO ", "http://mms.carrier.example/O/Z9IZO" },
		{ "base=http://b.example/get keep=query", "http://eps3.de/O/Z9IZO", "http://b.example/get" },
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(cases); i++) {
		char *out = (char *)"unset";
		assert_pb_ok(pb_mmsc_rewrite_location(cases[i].rule, NULL, cases[i].location, &out));
		if (!cases[i].want) {
			assert_null(out);
			continue;
		}
		if (!out || strcmp(out, cases[i].want) != 0)
			fail_msg("rule \"%s\" on \"%s\": got \"%s\", want \"%s\"", cases[i].rule,
				 cases[i].location, out ? out : "(null)", cases[i].want);
		pb_free(out);
	}
}

static void test_mmsc__rewrite_rejects_bad_rules_and_results(void **state)
{
	(void)state;
	char *out = NULL;
	static const char *const bad_rules[] = {
		"", "keep=path", "base=http://a host=b", "base=http://a keep=nope", "bogus=1",
		"base=mmsc",
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(bad_rules); i++) {
		assert_pb_error(pb_mmsc_rewrite_location(bad_rules[i], NULL, "/x", &out), PB_EINVAL);
		assert_null(out);
	}
	/* a Content-Location from outside must not become a file:// or other URL */
	assert_pb_error(pb_mmsc_rewrite_location("base=file:///etc keep=path", NULL, "/passwd", &out),
			PB_EINVAL);
	assert_pb_error(pb_mmsc_rewrite_location("host=evil", NULL, "/relative", &out), PB_EINVAL);
	assert_pb_error(pb_mmsc_rewrite_location("host=a b", NULL, "http://x/y", &out), PB_EINVAL);
	/* base=mmsc takes the client's MMSC URL */
	assert_pb_ok(pb_mmsc_rewrite_location("base=mmsc keep=query", "http://m.example/wap", "T=1", &out));
	assert_string_equal(out, "http://m.example/wap?T=1");
	pb_free(out);
}

static void test_mmsc__client_applies_first_matching_rule(void **state)
{
	(void)state;
	const char *rules[] = { "match=10.9. host=wrong.example", "match=10.1.1.1 host=mms.example",
				"base=mmsc keep=path", NULL };
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.mmsc_url = "http://mmsc.example:8080/";
	o.rewrite_rules = rules;
	pb_mmsc *m = client_with(&o);
	char *out;
	assert_pb_ok(pb_mmsc_rewrite(m, "http://10.1.1.1/a?T=1", &out));
	assert_string_equal(out, "http://mms.example/a?T=1");
	pb_free(out);
	assert_pb_ok(pb_mmsc_rewrite(m, "/b?T=2", &out));
	assert_string_equal(out, "http://mmsc.example:8080/b?T=2");
	pb_free(out);
	pb_mmsc_free(m);

	m = client();
	assert_pb_ok(pb_mmsc_rewrite(m, "http://unchanged.example/x", &out));
	assert_string_equal(out, "http://unchanged.example/x");
	pb_free(out);
	pb_mmsc_free(m);
}

/* --- judging answers ----------------------------------------------------- */

static void test_mmsc__retry_only_transient_failures(void **state)
{
	(void)state;
	assert_true(pb_mmsc__status_verdict(503).transient);
	assert_true(pb_mmsc__status_verdict(502).transient);
	assert_true(pb_mmsc__status_verdict(504).transient);
	assert_int_equal(pb_mmsc__status_verdict(503).code, PB_EAGAIN);
	assert_false(pb_mmsc__status_verdict(500).transient);
	assert_false(pb_mmsc__status_verdict(404).transient);
	assert_int_equal(pb_mmsc__status_verdict(404).code, PB_ENOTFOUND);
	assert_int_equal(pb_mmsc__status_verdict(403).code, PB_EAUTH);
	assert_int_equal(pb_mmsc__status_verdict(400).code, PB_EPROTO);
	assert_int_equal(pb_mmsc__status_verdict(200).code, 0);
	assert_int_equal(pb_mmsc__status_verdict(204).code, 0);
	/* the transport's own failures: test-http.c, test_http__curl_codes */
}

static void test_mmsc__pdu_check_explains_pages(void **state)
{
	(void)state;
	const char *html = "<html><head><TITLE>\n  Service   unavailable</TITLE></head><body>x</body></html>";
	assert_pb_error(pb_mmsc__check_pdu("GET u", 200, "text/html", (const uint8_t *)html, strlen(html)),
			PB_EPROTO);
	assert_non_null(strstr(pb_error_last()->message, "\"Service unavailable\""));
	assert_non_null(strstr(pb_error_last()->message, "HTTP 200"));
	assert_pb_error(pb_mmsc__check_pdu("GET u", 200, "", (const uint8_t *)"", 0), PB_EPROTO);
	assert_non_null(strstr(pb_error_last()->message, "empty"));
	/* no Content-Type and not a PDU */
	assert_pb_error(pb_mmsc__check_pdu("GET u", 200, "", (const uint8_t *)"GIF89a", 6), PB_EPROTO);
	const uint8_t one[] = { 0x8C };
	assert_pb_error(pb_mmsc__check_pdu("GET u", 200, "", one, 1), PB_EPROTO);
	const uint8_t pdu[] = { 0x8C, 0x84, 0x98, 'T', 0 };
	assert_pb_ok(pb_mmsc__check_pdu("GET u", 200, "application/vnd.wap.mms-message", pdu, sizeof(pdu)));
	assert_pb_ok(pb_mmsc__check_pdu("GET u", 200, "application/octet-stream", pdu, sizeof(pdu)));
	char ex[8];
	pb_mmsc__excerpt((const uint8_t *)"abcdefghijkl", 12, ex, sizeof(ex));
	assert_string_equal(ex, "abcdefg");
}

/* --- fetching over HTTP -------------------------------------------------- */

static void test_mmsc__fetch_own_pdu_with_headers(void **state)
{
	(void)state;
	const char *hdrs[] = { "X-Nai: 0123456789@carrier.example", NULL };
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.user_agent = "Nokia6230/2.0 (04.44) Profile/MIDP-2.0";
	o.wap_profile = "http://nds1.nds.nokia.com/uaprof/N6230r200.xml";
	o.extra_headers = hdrs;
	pb_mmsc *m = client_with(&o);
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	assert_pb_ok(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?case=headers"), &body, &r));
	assert_true(bytes_equal_file(&body, pb_test_data_dir(), "mmsc/retrieve-conf-text.mms"));
	assert_int_equal(r.http_status, 200);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.bytes, body.len);
	assert_string_equal(r.content_type, "application/vnd.wap.mms-message");

	json_t *reqs = mmsc_server_requests();
	json_t *rq = mmsc_find_request(reqs, "case=headers");
	assert_non_null(rq);
	assert_string_equal(mmsc_request_header(rq, "user-agent"), o.user_agent);
	assert_string_equal(mmsc_request_header(rq, "x-wap-profile"), o.wap_profile);
	assert_string_equal(mmsc_request_header(rq, "x-nai"), "0123456789@carrier.example");
	assert_non_null(strstr(mmsc_request_header(rq, "accept"), "application/vnd.wap.mms-message"));
	assert_null(mmsc_request_header(rq, "via")); /* direct */
	json_decref(reqs);
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

static void test_mmsc__fetch_shared_vectors(void **state)
{
	(void)state;
	if (!pb_test_vectors_dir())
		pb_test_skip_no_vectors();
	static const char *const files[] = {
		"ofono-mmsd/rc-mms-1-3-con-210.mms", "ofono-mmsd/rc-mms-1-3-con-216.mms",
		"python-messaging/iPhone.mms", "nuntium/test_payloads/m-retrieve.conf_success",
	};
	pb_mmsc *m = client();
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/mms", pb_test_vectors_dir());
	for (size_t i = 0; i < PB_ARRAY_SIZE(files); i++) {
		char path[512];
		pb_buf body = PB_BUF_INIT;
		/* chunked as well as with Content-Length */
		snprintf(path, sizeof(path), "/files/vec/%s%s", files[i], i % 2 ? "?chunked=1" : "");
		assert_pb_ok(pb_mmsc_fetch(m, mmsc_url(path), &body, NULL));
		assert_true(bytes_equal_file(&body, dir, files[i]));
		pb_buf_dispose(&body);
	}
	pb_mmsc_free(m);
}

static void test_mmsc__fetch_through_tinyproxy(void **state)
{
	(void)state;
	int port = tinyproxy_port();
	if (!port) {
		print_message("# skipped: /usr/bin/tinyproxy not installed\n");
		skip();
	}
	char proxy[64];
	snprintf(proxy, sizeof(proxy), "127.0.0.1:%d", port);
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.proxy = proxy;
	o.wap_profile = "http://uaprof.example/phone.xml";
	pb_mmsc *m = client_with(&o);
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	assert_pb_ok(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?case=proxy"), &body, &r));
	assert_true(bytes_equal_file(&body, pb_test_data_dir(), "mmsc/retrieve-conf-text.mms"));

	/* the MMSC saw it arrive through tinyproxy, with our headers intact */
	json_t *reqs = mmsc_server_requests();
	json_t *rq = mmsc_find_request(reqs, "case=proxy");
	assert_non_null(rq);
	const char *via = mmsc_request_header(rq, "via");
	assert_non_null(via);
	assert_non_null(strstr(via, "tinyproxy"));
	assert_string_equal(mmsc_request_header(rq, "x-wap-profile"), o.wap_profile);
	json_decref(reqs);

	/* errors come back through the proxy with the MMSC's status */
	pb_buf_clear(&body);
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/missing?case=proxy404"), &body, &r), PB_ENOTFOUND);
	assert_int_equal(r.http_status, 404);
	pb_buf_clear(&body);
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/html?case=proxyhtml"), &body, &r), PB_EPROTO);
	assert_non_null(strstr(pb_error_last()->message, "message not available"));

	/* a POST too */
	pb_mmsc_free(m);
	o.mmsc_url = mmsc_url("/mmsc?case=proxypost");
	m = client_with(&o);
	const uint8_t ack[] = { 0x8C, 0x85, 0x98, 'T', '1', 0, 0x8D, 0x92 };
	assert_pb_ok(pb_mmsc_post(m, PB_MMSC_POST_ACK, ack, sizeof(ack), NULL, &r));
	reqs = mmsc_server_requests();
	rq = mmsc_find_request(reqs, "case=proxypost");
	assert_non_null(rq);
	assert_non_null(strstr(mmsc_request_header(rq, "via"), "tinyproxy"));
	json_decref(reqs);

	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

static void expect_fetch_error(pb_mmsc *m, const char *path, int code, long status, const char *in_message)
{
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	int rc = pb_mmsc_fetch(m, mmsc_url(path), &body, &r);
	if (rc != code || r.http_status != status || (in_message && !strstr(pb_error_last()->message, in_message)))
		fail_msg("%s: got %s, HTTP %ld, \"%s\"; want %s, HTTP %ld, \"%s\"", path, pb_error_name(rc),
			 r.http_status, pb_error_last()->message, pb_error_name(code), status,
			 in_message ? in_message : "");
	/* the message names the HTTP status */
	if (status) {
		char st[32];
		snprintf(st, sizeof(st), "HTTP %ld", status);
		assert_non_null(strstr(pb_error_last()->message, st));
	}
	assert_int_equal(r.attempts, 1); /* none of these is retried */
	pb_buf_dispose(&body);
}

static void test_mmsc__fetch_reports_clear_errors(void **state)
{
	(void)state;
	pb_mmsc *m = client();
	expect_fetch_error(m, "/html", PB_EPROTO, 200, "text/html");
	expect_fetch_error(m, "/html", PB_EPROTO, 200, "message not available");
	expect_fetch_error(m, "/text", PB_EPROTO, 200, "message not found");
	expect_fetch_error(m, "/empty", PB_EPROTO, 200, "empty body");
	expect_fetch_error(m, "/missing", PB_ENOTFOUND, 404, "message not available");
	expect_fetch_error(m, "/html?status=500", PB_EPROTO, 500, NULL);
	expect_fetch_error(m, "/html?status=403", PB_EAUTH, 403, NULL);
	expect_fetch_error(m, "/redirect?to=/files/own/retrieve-conf-text.mms", PB_EPROTO, 302,
			   "/files/own/retrieve-conf-text.mms not followed");
	/* an MMS content type on something that is not a PDU */
	expect_fetch_error(m, "/files/own/make-data.py", PB_EPROTO, 200, "not an MMS PDU");
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/redirect?to=/elsewhere"), &body, &r), PB_EPROTO);
	assert_string_equal(r.location, mmsc_url("/elsewhere"));
	/* only http and https, whatever the notification says */
	pb_buf_clear(&body);
	assert_pb_error(pb_mmsc_fetch(m, "file:///etc/passwd", &body, &r), PB_EINVAL);
	assert_int_equal(body.len, 0);
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

static void test_mmsc__fetch_follows_redirects_when_allowed(void **state)
{
	(void)state;
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.max_redirects = 2;
	pb_mmsc *m = client_with(&o);
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	assert_pb_ok(pb_mmsc_fetch(m, mmsc_url("/redirect?to=/files/own/retrieve-conf-text.mms"), &body, &r));
	assert_int_equal(r.http_status, 200);
	assert_true(bytes_equal_file(&body, pb_test_data_dir(), "mmsc/retrieve-conf-text.mms"));
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

static void test_mmsc__fetch_enforces_size_limit(void **state)
{
	(void)state;
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.max_download = 100000;
	pb_mmsc *m = client_with(&o);
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	/* declared by Content-Length */
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/big/3000000"), &body, &r), PB_ETOOBIG);
	assert_int_equal(r.attempts, 1);
	assert_true(body.len <= o.max_download);
	/* undeclared (chunked): cut off while downloading */
	pb_buf_clear(&body);
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/big/3000000?chunked=1"), &body, &r), PB_ETOOBIG);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.http_status, 200);
	assert_true(body.len <= o.max_download);
	assert_non_null(strstr(pb_error_last()->message, "100000-byte limit"));
	/* just under the limit is fine */
	pb_buf_clear(&body);
	assert_pb_ok(pb_mmsc_fetch(m, mmsc_url("/big/100000?chunked=1"), &body, &r));
	assert_int_equal(body.len, 100000);
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

/* A body the connection's close cut short (no Content-Length, or chunked
 * without its last chunk) is a failed transfer, never a shorter PDU; a
 * close-delimited body that holds the whole PDU is fine, and so is a
 * chunked body (whatever it holds: checked when decoded). */
static void test_mmsc__fetch_cut_body_is_an_error(void **state)
{
	(void)state;
	pb_mmsc *m = client(); /* 3 attempts */
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?cut=100"), &body, &r),
			PB_EAGAIN);
	assert_int_equal(r.attempts, 3);
	assert_non_null(strstr(pb_error_last()->message, "ended after 100 bytes without a Content-Length"));
	pb_buf_clear(&body);
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?cut=100&chunked=1"), &body, &r),
			PB_EAGAIN);
	pb_buf_clear(&body);
	assert_pb_ok(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?cut=100000"), &body, &r));
	assert_true(bytes_equal_file(&body, pb_test_data_dir(), "mmsc/retrieve-conf-text.mms"));
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

static void test_mmsc__fetch_retries_transient_failures(void **state)
{
	(void)state;
	pb_mmsc *m = client(); /* 3 attempts */
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	assert_pb_ok(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?fail=2&key=r1"), &body, &r));
	assert_int_equal(r.attempts, 3);
	assert_true(bytes_equal_file(&body, pb_test_data_dir(), "mmsc/retrieve-conf-text.mms"));

	pb_buf_clear(&body);
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?fail=5&key=r2"), &body, &r),
			PB_EAGAIN);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.http_status, 503);

	pb_buf_clear(&body);
	assert_pb_ok(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?fail=1&fail_code=502&key=r3"),
				   &body, &r));
	assert_int_equal(r.attempts, 2);

	/* connection closed without an answer (on a fresh connection: libcurl
	 * itself retries a request whose reused connection was closed) */
	pb_mmsc_free(m);
	m = client();
	pb_buf_clear(&body);
	assert_pb_ok(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?drop=1&key=r4"), &body, &r));
	assert_int_equal(r.attempts, 2);

	/* 4xx is never retried */
	pb_buf_clear(&body);
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?fail=1&fail_code=404&key=r5"),
				      &body, &r), PB_ENOTFOUND);
	assert_int_equal(r.attempts, 1);
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

static void test_mmsc__fetch_times_out(void **state)
{
	(void)state;
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.timeout_ms = 300;
	o.retry.attempts = 2;
	o.retry.initial_delay_ms = 1;
	pb_mmsc *m = client_with(&o);
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?delay_ms=5000"), &body, &r),
			PB_ETIMEOUT);
	assert_int_equal(r.attempts, 2);
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

static void test_mmsc__fetch_stops_on_a_stalled_link(void **state)
{
	(void)state;
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.stall_timeout_ms = 1000;
	o.retry.attempts = 1;
	pb_mmsc *m = client_with(&o);
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	/* headers and 2 bytes, then nothing for 20 s: stopped long before */
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?stall_ms=20000&case=stall"),
				      &body, &r), PB_ETIMEOUT);
	assert_int_equal(r.http_status, 200);
	assert_int_equal(r.bytes, 2);
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

/* Regression (issue 17): the stall timeout counted the wait for the first
 * byte too (CURLOPT_LOW_SPEED_TIME), so an MMSC slower to answer than
 * stall_timeout_ms was cut off long before the request timeout. */
static void test_mmsc__slow_answer_gets_the_request_timeout(void **state)
{
	(void)state;
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.stall_timeout_ms = 1000;
	o.timeout_ms = 20000;
	o.retry.attempts = 1;
	pb_mmsc *m = client_with(&o);
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	assert_pb_ok(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms?delay_ms=2500"), &body, &r));
	assert_int_equal(r.http_status, 200);
	assert_true(body.len > 2);
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

static void test_mmsc__fetch_connection_refused(void **state)
{
	(void)state;
	pb_mmsc *m = client();
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/m", free_port()); /* nobody listens */
	assert_pb_error(pb_mmsc_fetch(m, url, &body, &r), PB_EIO);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.http_status, 0);
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

typedef struct progress_log {
	unsigned calls;
	uint64_t last_now, last_total;
	uint64_t cancel_after; /* 0: never */
} progress_log;

static int on_progress_cb(uint64_t now, uint64_t total, void *userdata)
{
	progress_log *p = userdata;
	p->calls++;
	p->last_now = now;
	p->last_total = total;
	return p->cancel_after && now >= p->cancel_after;
}

static void test_mmsc__fetch_reports_progress_and_cancels(void **state)
{
	(void)state;
	progress_log log = { 0, 0, 0, 0 };
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.progress = on_progress_cb;
	o.progress_userdata = &log;
	o.max_download = 4000000;
	pb_mmsc *m = client_with(&o);
	pb_buf body = PB_BUF_INIT;
	assert_pb_ok(pb_mmsc_fetch(m, mmsc_url("/big/300000"), &body, NULL));
	assert_true(log.calls > 0);
	assert_int_equal(log.last_now, 300000);
	assert_int_equal(log.last_total, 300000);

	log = (progress_log){ 0, 0, 0, 1 };
	pb_buf_clear(&body);
	pb_mmsc_result r;
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/big/3000000?chunked=1"), &body, &r), PB_ECANCELLED);
	assert_int_equal(r.attempts, 1);
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

static void test_mmsc__fetch_binds_interface(void **state)
{
	(void)state;
	static const char *const ifs[] = { "host!127.0.0.1", "if!lo", "127.0.0.1" };
	for (size_t i = 0; i < PB_ARRAY_SIZE(ifs); i++) {
		pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
		o.interface = ifs[i];
		pb_mmsc *m = client_with(&o);
		pb_buf body = PB_BUF_INIT;
		char path[128];
		snprintf(path, sizeof(path), "/files/own/retrieve-conf-text.mms?case=bind%zu", i);
		assert_pb_ok(pb_mmsc_fetch(m, mmsc_url(path), &body, NULL));
		json_t *reqs = mmsc_server_requests();
		json_t *rq = mmsc_find_request(reqs, strstr(path, "case="));
		assert_non_null(rq);
		assert_string_equal(json_string_value(json_object_get(rq, "client")), "127.0.0.1");
		json_decref(reqs);
		pb_buf_dispose(&body);
		pb_mmsc_free(m);
	}
	/* an interface that does not exist: a clear error, not retried */
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.interface = "if!pbnosuch0";
	pb_mmsc *m = client_with(&o);
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;
	assert_pb_error(pb_mmsc_fetch(m, mmsc_url("/files/own/retrieve-conf-text.mms"), &body, &r), PB_EIO);
	assert_int_equal(r.attempts, 1);
	assert_non_null(strstr(pb_error_last()->message, "pbnosuch0"));
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

static void test_mmsc__tls_verified_by_default(void **state)
{
	(void)state;
	char url[128], ca[512];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/files/own/retrieve-conf-text.mms", mmsc_tls_server_port());
	snprintf(ca, sizeof(ca), "%s/mmsc/test-server.crt", pb_test_data_dir());
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result r;

	/* a self-signed certificate is refused, and that is not retried; the
	 * one transport says PB_EIO for it everywhere (PB_EAUTH is for refused
	 * credentials: 401, 403, 407) */
	pb_mmsc *m = client();
	assert_pb_error(pb_mmsc_fetch(m, url, &body, &r), PB_EIO);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(body.len, 0);
	pb_mmsc_free(m);

	/* accepted with its CA given */
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.ca_file = ca;
	m = client_with(&o);
	assert_pb_ok(pb_mmsc_fetch(m, url, &body, &r));
	assert_true(bytes_equal_file(&body, pb_test_data_dir(), "mmsc/retrieve-conf-text.mms"));
	pb_mmsc_free(m);

	/* or with verification turned off explicitly */
	o = (pb_mmsc_options)PB_MMSC_OPTIONS_INIT;
	o.tls_insecure = true;
	m = client_with(&o);
	pb_buf_clear(&body);
	assert_pb_ok(pb_mmsc_fetch(m, url, &body, &r));
	pb_mmsc_free(m);
	pb_buf_dispose(&body);
}

/* --- POSTing -------------------------------------------------------------- */

static void test_mmsc__post_retry_policy(void **state)
{
	(void)state;
	const uint8_t resp[] = { 0x8C, 0x83, 0x98, 'T', '9', 0, 0x8D, 0x92, 0x95, 0x81 };
	const uint8_t send[] = { 0x8C, 0x80, 0x98, 'S', '1', 0, 0x8D, 0x92, 0x84, 0x83, 'h', 'i' };
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.mmsc_url = mmsc_url("/mmsc?fail=1&key=p1");
	pb_mmsc *m = client_with(&o);
	pb_mmsc_result r;
	/* NotifyResp: retried, recorded as sent */
	assert_pb_ok(pb_mmsc_post(m, PB_MMSC_POST_NOTIFYRESP, resp, sizeof(resp), NULL, &r));
	assert_int_equal(r.attempts, 2);
	json_t *reqs = mmsc_server_requests();
	json_t *rq = mmsc_find_request(reqs, "key=p1");
	assert_string_equal(mmsc_request_header(rq, "content-type"), "application/vnd.wap.mms-message");
	assert_null(mmsc_request_header(rq, "expect"));
	const char *file = json_string_value(json_object_get(rq, "body_file"));
	assert_non_null(file);
	pb_buf got = PB_BUF_INIT;
	size_t len;
	uint8_t *rec = pb_test_read_file(NULL, file, &len);
	assert_int_equal(len, sizeof(resp));
	assert_memory_equal(rec, resp, len);
	free(rec);
	json_decref(reqs);
	pb_mmsc_free(m);

	/* M-Send.req: not retried by default ... */
	o.mmsc_url = mmsc_url("/mmsc?fail=1&key=p2");
	m = client_with(&o);
	assert_pb_error(pb_mmsc_post(m, PB_MMSC_POST_SEND, send, sizeof(send), &got, &r), PB_EAGAIN);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.http_status, 503);
	pb_mmsc_free(m);
	/* ... only when asked to; the answer must be a PDU (the M-Send.conf) */
	o.mmsc_url = mmsc_url("/mmsc?fail=1&key=p3");
	o.retry_send = true;
	m = client_with(&o);
	pb_buf_clear(&got);
	assert_pb_ok(pb_mmsc_post(m, PB_MMSC_POST_SEND, send, sizeof(send), &got, &r));
	assert_int_equal(r.attempts, 2);
	assert_true(got.len > 4);
	assert_int_equal(got.data[0], 0x8C);
	assert_int_equal(got.data[1], 0x81);
	pb_mmsc_free(m);
	/* an HTML answer to M-Send.req is an error */
	o.mmsc_url = mmsc_url("/mmsc?ct=text/html");
	m = client_with(&o);
	pb_buf_clear(&got);
	assert_pb_error(pb_mmsc_post(m, PB_MMSC_POST_SEND, send, sizeof(send), &got, &r), PB_EPROTO);
	pb_mmsc_free(m);
	pb_buf_dispose(&got);
}

/* --- MMS transactions --------------------------------------------------------- */

/* Write @pdu to the scratch folder as @name (served as /files/tmp/NAME). */
static void put_scratch(const char *name, const pb_buf *pdu)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", mmsc_scratch_dir(), name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(pdu->data, 1, pdu->len, f), pdu->len);
	assert_int_equal(fclose(f), 0);
}

/* An M-Retrieve.conf made by the wap encoder, served as /files/tmp/NAME. */
static void make_retrieve_conf(const char *name, const char *text)
{
	static const uint8_t jpeg[] = { 0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 0xFF, 0xD9 };
	const char *to[] = { "+15557654321" };
	pb_mms_attachment att = { "image/jpeg", "cat.jpg", jpeg, sizeof(jpeg), NULL };
	pb_mms_send_req msg = PB_MMS_SEND_REQ_INIT;
	msg.transaction_id = "T-enc-1";
	msg.from = "+15551234567";
	msg.to = to;
	msg.n_to = 1;
	msg.subject = "Encoded";
	msg.date = 1700000000;
	msg.text = text;
	msg.attachments = &att;
	msg.n_attachments = 1;
	pb_buf pdu = PB_BUF_INIT;
	assert_pb_ok(pb_mms_encode_retrieve_conf(&pdu, &msg, "msg-enc-1"));
	put_scratch(name, &pdu);
	pb_buf_dispose(&pdu);
}

/* A decoded M-Notification.ind made by the wap encoder. @pdu keeps the
 * bytes the message points into. */
static pb_mms_message *make_notification(pb_buf *pdu, const char *tid, const char *location, uint64_t size)
{
	pb_mms_notification n = { tid, "+15551234567", "Hi", NULL, size, 3600, location };
	pb_mms_message *ni = NULL;
	assert_pb_ok(pb_mms_encode_notification(pdu, &n));
	assert_pb_ok(pb_mms_decode(&ni, pdu->data, pdu->len, 0, NULL));
	return ni;
}

/* The PDU the test MMSC recorded for the last POST whose path has @needle,
 * decoded; NULL when there was none. Frees with pb_mms_message_free();
 * *bytes must be free()d after it. */
static pb_mms_message *recorded_post(const char *needle, uint8_t **bytes)
{
	json_t *reqs = mmsc_server_requests();
	json_t *rq = mmsc_find_request(reqs, needle);
	pb_mms_message *msg = NULL;
	*bytes = NULL;
	if (rq && json_string_value(json_object_get(rq, "body_file"))) {
		size_t len;
		*bytes = pb_test_read_file(NULL, json_string_value(json_object_get(rq, "body_file")), &len);
		assert_pb_ok(pb_mms_decode(&msg, *bytes, len, 0, NULL));
	}
	json_decref(reqs);
	return msg;
}

static void expect_answer(const char *needle, int type, const char *tid, int status)
{
	uint8_t *bytes;
	pb_mms_message *a = recorded_post(needle, &bytes);
	if (!a)
		fail_msg("no answer POSTed to a URL with %s", needle);
	assert_int_equal(a->message_type, type);
	assert_string_equal(a->transaction_id, tid);
	if (status)
		assert_int_equal(a->status, status);
	pb_mms_message_free(a);
	free(bytes);
}

static pb_mmsc *answering_client(const char *case_name)
{
	char path[128];
	snprintf(path, sizeof(path), "/mmsc?case=%s", case_name);
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.mmsc_url = mmsc_url(path);
	o.report_allowed = 129;
	return client_with(&o);
}

static void test_mmsc__retrieve_encoded_message(void **state)
{
	(void)state;
	make_retrieve_conf("rc-enc.mms", "Hello from the encoder");
	pb_buf npdu = PB_BUF_INIT;
	pb_mms_message *ni = make_notification(&npdu, "T-ret-1", mmsc_url("/files/tmp/rc-enc.mms"), 2000);
	pb_mmsc *m = answering_client("ret1");
	pb_mmsc_retrieval r;
	assert_pb_ok(pb_mmsc_retrieve(m, ni, 0, 0, &r));
	assert_non_null(r.message);
	assert_int_equal(r.message->message_type, PB_MMS_RETRIEVE_CONF);
	assert_string_equal(r.message->subject, "Encoded");
	pb_buf text = PB_BUF_INIT;
	assert_pb_ok(pb_mms_message_text(r.message, &text));
	assert_non_null(strstr(pb_buf_cstr(&text), "Hello from the encoder"));
	pb_buf_dispose(&text);
	bool jpeg = false;
	for (size_t i = 0; i < r.message->n_parts; i++)
		jpeg |= pb_mms_part_is_media(&r.message->parts[i]) && r.message->parts[i].len == 14;
	assert_true(jpeg);
	assert_int_equal(r.answer_status, PB_MMS_STATUS_RETRIEVED);
	assert_true(r.answered);
	assert_int_equal(r.http.http_status, 200);
	expect_answer("case=ret1", PB_MMS_NOTIFYRESP_IND, "T-ret-1", PB_MMS_STATUS_RETRIEVED);
	/* with the options' X-Mms-Report-Allowed */
	uint8_t *bytes;
	pb_mms_message *a = recorded_post("case=ret1", &bytes);
	assert_int_equal(a->report_allowed, 129);
	pb_mms_message_free(a);
	free(bytes);
	pb_mmsc_retrieval_dispose(&r);
	pb_mmsc_retrieval_dispose(&r); /* twice is harmless */
	pb_mms_message_free(ni);
	pb_buf_dispose(&npdu);
	pb_mmsc_free(m);
}

static void test_mmsc__retrieve_through_tinyproxy_later_acknowledges(void **state)
{
	(void)state;
	int port = tinyproxy_port();
	if (!port) {
		print_message("# skipped: /usr/bin/tinyproxy not installed\n");
		skip();
	}
	make_retrieve_conf("rc-later.mms", "fetched later");
	pb_buf npdu = PB_BUF_INIT;
	pb_mms_message *ni = make_notification(&npdu, "T-later", mmsc_url("/files/tmp/rc-later.mms"), 0);
	char proxy[64];
	snprintf(proxy, sizeof(proxy), "127.0.0.1:%d", port);
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.mmsc_url = mmsc_url("/mmsc?case=later");
	o.proxy = proxy;
	pb_mmsc *m = client_with(&o);
	pb_mmsc_retrieval r;
	assert_pb_ok(pb_mmsc_retrieve(m, ni, 0, PB_MMSC_RETRIEVE_LATER, &r));
	assert_true(r.answered);
	expect_answer("case=later", PB_MMS_ACKNOWLEDGE_IND, "T-later", 0);
	json_t *reqs = mmsc_server_requests();
	assert_non_null(strstr(mmsc_request_header(mmsc_find_request(reqs, "rc-later.mms"), "via"), "tinyproxy"));
	assert_non_null(strstr(mmsc_request_header(mmsc_find_request(reqs, "case=later"), "via"), "tinyproxy"));
	json_decref(reqs);
	pb_mmsc_retrieval_dispose(&r);
	pb_mms_message_free(ni);
	pb_buf_dispose(&npdu);
	pb_mmsc_free(m);
}

/* Retrieve @location announced in notification @tid; check the result
 * code and the answer the MMSC got. */
static void expect_retrieve(const char *tid, const char *location, uint64_t size, int64_t received,
			    unsigned flags, int code, int answer, bool posted)
{
	pb_buf npdu = PB_BUF_INIT;
	pb_mms_message *ni = make_notification(&npdu, tid, location, size);
	pb_mmsc *m = answering_client(tid);
	pb_mmsc_retrieval r;
	int rc = pb_mmsc_retrieve(m, ni, received, flags, &r);
	if (rc != code || r.answer_status != answer)
		fail_msg("%s: got %s answered %d (%s); want %s answered %d", tid, pb_error_name(rc), r.answer_status,
			 pb_error_last()->message, pb_error_name(code), answer);
	char needle[64];
	snprintf(needle, sizeof(needle), "case=%s", tid);
	if (posted) {
		assert_true(r.answered);
		expect_answer(needle, PB_MMS_NOTIFYRESP_IND, tid, answer);
	} else {
		assert_false(r.answered);
		uint8_t *bytes;
		assert_null(recorded_post(needle, &bytes));
	}
	pb_mmsc_retrieval_dispose(&r);
	pb_mms_message_free(ni);
	pb_buf_dispose(&npdu);
	pb_mmsc_free(m);
}

static void test_mmsc__retrieve_answers_each_outcome(void **state)
{
	(void)state;
	/* expired: relative expiry of an hour, received a day ago; nothing fetched */
	expect_retrieve("T-expired", mmsc_url("/files/own/retrieve-conf-text.mms?case=expired-get"), 100,
			(int64_t)time(NULL) - 86400, 0, PB_ENOTFOUND, PB_MMS_STATUS_REJECTED, true);
	json_t *reqs = mmsc_server_requests();
	assert_null(mmsc_find_request(reqs, "case=expired-get"));
	json_decref(reqs);
	/* announced larger than the limit: deferred, nothing fetched */
	expect_retrieve("T-huge", mmsc_url("/big/5000000?case=huge-get"), 5000000, 0, 0, PB_ETOOBIG,
			PB_MMS_STATUS_DEFERRED, true);
	reqs = mmsc_server_requests();
	assert_null(mmsc_find_request(reqs, "case=huge-get"));
	json_decref(reqs);
	/* announced small, turns out larger while downloading */
	expect_retrieve("T-liar", mmsc_url("/big/5000000?chunked=1"), 1000, 0, 0, PB_ETOOBIG,
			PB_MMS_STATUS_DEFERRED, true);
	/* pages, errors and redirects keep the message at the MMSC */
	expect_retrieve("T-html", mmsc_url("/html"), 0, 0, 0, PB_EPROTO, PB_MMS_STATUS_DEFERRED, true);
	expect_retrieve("T-404", mmsc_url("/missing"), 0, 0, 0, PB_ENOTFOUND, PB_MMS_STATUS_DEFERRED, true);
	expect_retrieve("T-302", mmsc_url("/redirect?to=/x"), 0, 0, 0, PB_EPROTO, PB_MMS_STATUS_DEFERRED, true);
	/* the MMSC says the message is gone */
	expect_retrieve("T-gone", mmsc_url("/files/own/retrieve-conf-not-found.mms"), 0, 0, 0, PB_ENOTFOUND,
			PB_MMS_STATUS_REJECTED, true);
	/* an MMS PDU that does not decode */
	expect_retrieve("T-junk", mmsc_url("/big/40"), 0, 0, 0, PB_EMALFORMED, PB_MMS_STATUS_UNRECOGNISED, true);
	/* no answer when asked not to */
	expect_retrieve("T-quiet", mmsc_url("/html"), 0, 0, PB_MMSC_RETRIEVE_NO_ANSWER, PB_EPROTO,
			PB_MMS_STATUS_DEFERRED, false);
	/* a later fetch that fails answers nothing (Deferred was answered before) */
	expect_retrieve("T-later-fail", mmsc_url("/html"), 0, 0, PB_MMSC_RETRIEVE_LATER, PB_EPROTO, 0, false);
}

static void test_mmsc__retrieve_keeps_not_found_text_and_rejects_other_pdus(void **state)
{
	(void)state;
	pb_buf npdu = PB_BUF_INIT;
	pb_mms_message *ni = make_notification(&npdu, "T-nf", mmsc_url("/files/own/retrieve-conf-not-found.mms"), 0);
	pb_mmsc *m = answering_client("T-nf");
	pb_mmsc_retrieval r;
	assert_pb_error(pb_mmsc_retrieve(m, ni, 0, 0, &r), PB_ENOTFOUND);
	assert_int_equal(r.retrieve_status, PB_MMS_RETRIEVE_PERMANENT_NOT_FOUND);
	assert_non_null(r.message);
	assert_non_null(strstr(pb_error_last()->message, "0xE2"));
	/* an M-Retrieve.conf is not a notification to act on */
	pb_mmsc_retrieval r2;
	assert_pb_error(pb_mmsc_retrieve(m, r.message, 0, 0, &r2), PB_EINVAL);
	pb_mmsc_retrieval_dispose(&r2);
	pb_mmsc_retrieval_dispose(&r);
	pb_mms_message_free(ni);
	pb_buf_dispose(&npdu);

	/* the MMSC answers the GET with some other PDU: unrecognised */
	if (pb_test_vectors_dir()) {
		ni = make_notification(&npdu, "T-other", mmsc_url("/files/vec/ofono-mmsd/sr-mms-mixed.mms"), 0);
		pb_mmsc_free(m);
		m = answering_client("T-other");
		assert_pb_error(pb_mmsc_retrieve(m, ni, 0, 0, &r), PB_EPROTO);
		assert_int_equal(r.answer_status, PB_MMS_STATUS_UNRECOGNISED);
		pb_mmsc_retrieval_dispose(&r);
		pb_mms_message_free(ni);
	}
	pb_buf_dispose(&npdu);
	pb_mmsc_free(m);
}

static void test_mmsc__retrieve_answer_failure_keeps_message(void **state)
{
	(void)state;
	pb_buf npdu = PB_BUF_INIT;
	pb_mms_message *ni = make_notification(&npdu, "T-noanswer", mmsc_url("/files/own/retrieve-conf-text.mms"), 0);
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.mmsc_url = mmsc_url("/mmsc?status=500");
	pb_mmsc *m = client_with(&o);
	pb_mmsc_retrieval r;
	assert_pb_ok(pb_mmsc_retrieve(m, ni, 0, 0, &r));
	assert_non_null(r.message);
	assert_false(r.answered);
	assert_int_equal(r.answer_status, PB_MMS_STATUS_RETRIEVED);
	pb_mmsc_retrieval_dispose(&r);
	pb_mms_message_free(ni);
	pb_buf_dispose(&npdu);
	pb_mmsc_free(m);
}

/* Real notifications from the shared vectors, with the Content-Location
 * rebuilt by a rewrite rule to point at the test MMSC. */
static void test_mmsc__retrieve_vector_notifications_with_rewrite(void **state)
{
	(void)state;
	if (!pb_test_vectors_dir())
		pb_test_skip_no_vectors();
	static const char *const files[] = {
		"android-sms-gateway/inline-from-MMSParserTest/notification_ind_2.bin",
		"android-sms-gateway/inline-from-MMSParserTest/notification_ind_1.bin",
		"ofono-mmsd/ni-mms-1-3-con-271.mms",
	};
	char base[1024], rule[1100];
	snprintf(base, sizeof(base), "%s", mmsc_url("/files/own/retrieve-conf-text.mms"));
	/* the location's own host is unreachable: keep only its query */
	snprintf(rule, sizeof(rule), "base=%s keep=query", base);
	const char *rules[] = { rule, NULL };
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.mmsc_url = mmsc_url("/mmsc?case=vecni");
	o.rewrite_rules = rules;
	pb_mmsc *m = client_with(&o);
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/mms", pb_test_vectors_dir());
	for (size_t i = 0; i < PB_ARRAY_SIZE(files); i++) {
		size_t len;
		uint8_t *pdu = pb_test_read_file(dir, files[i], &len);
		pb_mms_message *ni = NULL;
		assert_pb_ok(pb_mms_decode(&ni, pdu, len, 0, NULL));
		pb_mmsc_retrieval r;
		/* received now: their relative expiries have not passed */
		int rc = pb_mmsc_retrieve(m, ni, 0, 0, &r);
		if (rc != 0)
			fail_msg("%s: %s", files[i], pb_error_last()->message);
		assert_true(strncmp(r.http.url, base, strlen(base)) == 0);
		assert_string_equal(r.message->transaction_id, "T-pb-1");
		expect_answer("case=vecni", PB_MMS_NOTIFYRESP_IND, ni->transaction_id, PB_MMS_STATUS_RETRIEVED);
		pb_mmsc_retrieval_dispose(&r);
		pb_mms_message_free(ni);
		free(pdu);
	}
	pb_mmsc_free(m);
}

/* The case from the protocol notes: a router consumed the push and exposed
 * only part of the Content-Location. The notification is the shared
 * vector whose location is http://10.47.133.35/?message-id=1563948840&id=1
 * (itself unterminated in the PDU); the router kept only its path. */
static void test_mmsc__retrieve_truncated_location_rebuilt(void **state)
{
	(void)state;
	if (!pb_test_vectors_dir())
		pb_test_skip_no_vectors();
	make_retrieve_conf("msg-1563948840.mms", "truncated location, rebuilt");
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/mms/android-sms-gateway/inline-from-MMSParserTest", pb_test_vectors_dir());
	size_t len;
	uint8_t *pdu = pb_test_read_file(dir, "notification_ind_simpleTest_unterminated_location.bin", &len);
	pb_mms_message *ni = NULL;
	/* its location may have been cut anywhere: read only when salvaging */
	assert_pb_ok(pb_mms_decode(&ni, pdu, len, PB_MMS_DECODE_SALVAGE, NULL));
	assert_true(ni->incomplete);
	assert_string_equal(ni->content_location, "http://10.47.133.35/?message-id=1563948840&id=1");

	char base[1100], host[64], rule_base[1200], rule_host[128];
	snprintf(base, sizeof(base), "%s", mmsc_url(""));
	snprintf(host, sizeof(host), "127.0.0.1:%d", mmsc_server_port());
	snprintf(rule_base, sizeof(rule_base), "base=%s keep=path", base);
	snprintf(rule_host, sizeof(rule_host), "match=10.47.133.35 host=%s", host);
	const char *rules[] = { rule_host, rule_base, NULL };
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.mmsc_url = mmsc_url("/mmsc?case=truncated");
	o.rewrite_rules = rules;
	pb_mmsc *m = client_with(&o);

	/* what the router handed out: the path only */
	pb_mms_message cut = *ni;
	cut.content_location = "/?message-id=1563948840&id=1";
	const pb_mms_message *const variants[] = { &cut, ni };
	for (size_t i = 0; i < PB_ARRAY_SIZE(variants); i++) {
		pb_mmsc_retrieval r;
		if (pb_mmsc_retrieve(m, variants[i], 0, 0, &r) != 0)
			fail_msg("%s: %s", variants[i]->content_location, pb_error_last()->message);
		char want[1200];
		snprintf(want, sizeof(want), "%s/?message-id=1563948840&id=1", base);
		assert_string_equal(r.http.url, want);
		pb_buf text = PB_BUF_INIT;
		assert_pb_ok(pb_mms_message_text(r.message, &text));
		assert_non_null(strstr(pb_buf_cstr(&text), "truncated location, rebuilt"));
		pb_buf_dispose(&text);
		expect_answer("case=truncated", PB_MMS_NOTIFYRESP_IND, "id1_1563948840", PB_MMS_STATUS_RETRIEVED);
		pb_mmsc_retrieval_dispose(&r);
	}
	/* without the rules the router's path is not a URL */
	pb_mmsc_free(m);
	m = answering_client("truncated-norule");
	pb_mmsc_retrieval r;
	assert_pb_error(pb_mmsc_retrieve(m, &cut, 0, 0, &r), PB_EINVAL);
	assert_int_equal(r.answer_status, PB_MMS_STATUS_DEFERRED);
	pb_mmsc_retrieval_dispose(&r);
	pb_mmsc_free(m);
	pb_mms_message_free(ni);
	free(pdu);
}

static int retrieve_once(void *ctx)
{
	const pb_mms_message *ni = ctx;
	pb_mmsc *m = NULL;
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.mmsc_url = mmsc_url("/mmsc?case=allocfail");
	int rc = pb_mmsc_new(&m, &o);
	if (rc < 0)
		return rc;
	pb_mmsc_retrieval r;
	rc = pb_mmsc_retrieve(m, ni, 0, 0, &r);
	if (rc == 0 && !r.answered)
		rc = PB_ENOMEM; /* the answer's encoding ran out of memory */
	pb_mmsc_retrieval_dispose(&r);
	pb_mmsc_free(m);
	return rc;
}

static void test_mmsc__retrieve_survives_allocation_failures(void **state)
{
	(void)state;
	make_retrieve_conf("rc-alloc.mms", "alloc");
	pb_buf npdu = PB_BUF_INIT;
	pb_mms_message *ni = make_notification(&npdu, "T-alloc", mmsc_url("/files/tmp/rc-alloc.mms"), 0);
	assert_true(pb_test_alloc_fail_each(retrieve_once, ni, NULL) > 10);
	pb_mms_message_free(ni);
	pb_buf_dispose(&npdu);
}

static void test_mmsc__send_returns_send_conf(void **state)
{
	(void)state;
	static const uint8_t png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 0 };
	const char *to[] = { "+15557654321", "+15550000000" };
	pb_mms_attachment att = { "image/png", "dot.png", png, sizeof(png), NULL };
	pb_mms_send_req req = PB_MMS_SEND_REQ_INIT;
	req.transaction_id = "S-1";
	req.from = "+15551234567";
	req.to = to;
	req.n_to = 2;
	req.text = "look";
	req.attachments = &att;
	req.n_attachments = 1;

	pb_mmsc *m = answering_client("send1");
	pb_mmsc_send_conf conf;
	assert_pb_ok(pb_mmsc_send(m, &req, &conf));
	assert_int_equal(conf.response_status, PB_MMS_RESPONSE_OK);
	assert_string_equal(conf.message_id, "msg-S-1");
	assert_string_equal(conf.transaction_id, "S-1");
	assert_int_equal(conf.http.http_status, 200);
	pb_mmsc_send_conf_dispose(&conf);
	/* what the MMSC got decodes as the M-Send.req we meant */
	uint8_t *bytes;
	pb_mms_message *got = recorded_post("case=send1", &bytes);
	assert_non_null(got);
	assert_int_equal(got->message_type, PB_MMS_SEND_REQ);
	assert_string_equal(got->transaction_id, "S-1");
	assert_int_equal(got->n_to, 2);
	assert_string_equal(got->to[1], "+15550000000");
	bool found = false;
	for (size_t i = 0; i < got->n_parts; i++)
		found |= got->parts[i].len == sizeof(png) && memcmp(got->parts[i].data, png, sizeof(png)) == 0;
	assert_true(found);
	pb_mms_message_free(got);
	free(bytes);
	pb_mmsc_free(m);

	/* refused: the status and text come back */
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.mmsc_url = mmsc_url("/mmsc?send_status=0xE2&send_text=Content+not+accepted");
	m = client_with(&o);
	assert_pb_error(pb_mmsc_send(m, &req, &conf), PB_EPROTO);
	assert_int_equal(conf.response_status, 0xE2);
	assert_string_equal(conf.response_text, "Content not accepted");
	assert_null(conf.message_id);
	assert_non_null(strstr(pb_error_last()->message, "Content not accepted"));
	pb_mmsc_send_conf_dispose(&conf);
	pb_mmsc_free(m);

	/* an encoder refusal comes back as is: no recipient */
	m = answering_client("send-none");
	req.n_to = 0;
	assert_pb_error(pb_mmsc_send(m, &req, &conf), PB_EINVAL);
	pb_mmsc_send_conf_dispose(&conf);
	/* an answer that is not an M-Send.conf */
	const uint8_t ack[] = { 0x8C, 0x85, 0x98, 'X', 0, 0x8D, 0x92 };
	pb_mmsc_free(m);
	o.mmsc_url = mmsc_url("/mmsc?case=send-ack");
	m = client_with(&o);
	assert_pb_error(pb_mmsc_send_pdu(m, ack, sizeof(ack), &conf), PB_EPROTO);
	pb_mmsc_send_conf_dispose(&conf);
	pb_mmsc_free(m);
}

static int send_once(void *ctx)
{
	(void)ctx;
	const char *to[] = { "+15557654321" };
	pb_mms_send_req req = PB_MMS_SEND_REQ_INIT;
	req.transaction_id = "S-alloc";
	req.to = to;
	req.n_to = 1;
	req.subject = "s";
	req.text = "allocation failures";
	pb_mmsc *m = NULL;
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.mmsc_url = mmsc_url("/mmsc?case=send-alloc&send_text=fine");
	int rc = pb_mmsc_new(&m, &o);
	if (rc < 0)
		return rc;
	pb_mmsc_send_conf conf;
	rc = pb_mmsc_send(m, &req, &conf);
	pb_mmsc_send_conf_dispose(&conf);
	pb_mmsc_free(m);
	return rc;
}

static void test_mmsc__send_survives_allocation_failures(void **state)
{
	(void)state;
	mmsc_server_port();
	assert_true(pb_test_alloc_fail_each(send_once, NULL, NULL) > 10);
}

static void test_mmsc__answers_decode(void **state)
{
	(void)state;
	pb_mmsc *m = answering_client("answers");
	assert_pb_ok(pb_mmsc_notifyresp(m, "T-a1", PB_MMS_STATUS_DEFERRED, NULL));
	expect_answer("case=answers", PB_MMS_NOTIFYRESP_IND, "T-a1", PB_MMS_STATUS_DEFERRED);
	assert_pb_ok(pb_mmsc_acknowledge(m, "T-a2", NULL));
	expect_answer("case=answers", PB_MMS_ACKNOWLEDGE_IND, "T-a2", 0);
	assert_pb_error(pb_mmsc_notifyresp(m, NULL, PB_MMS_STATUS_DEFERRED, NULL), PB_EINVAL);
	pb_mmsc_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmsc__options_are_checked),
		cmocka_unit_test(test_mmsc__new_survives_allocation_failures),
		cmocka_unit_test(test_mmsc__rewrite_rules),
		cmocka_unit_test(test_mmsc__rewrite_rejects_bad_rules_and_results),
		cmocka_unit_test(test_mmsc__client_applies_first_matching_rule),
		cmocka_unit_test(test_mmsc__retry_only_transient_failures),
		cmocka_unit_test(test_mmsc__pdu_check_explains_pages),
		cmocka_unit_test(test_mmsc__fetch_own_pdu_with_headers),
		cmocka_unit_test(test_mmsc__fetch_shared_vectors),
		cmocka_unit_test(test_mmsc__fetch_through_tinyproxy),
		cmocka_unit_test(test_mmsc__fetch_reports_clear_errors),
		cmocka_unit_test(test_mmsc__fetch_follows_redirects_when_allowed),
		cmocka_unit_test(test_mmsc__fetch_enforces_size_limit),
		cmocka_unit_test(test_mmsc__fetch_retries_transient_failures),
		cmocka_unit_test(test_mmsc__fetch_cut_body_is_an_error),
		cmocka_unit_test(test_mmsc__fetch_times_out),
		cmocka_unit_test(test_mmsc__fetch_stops_on_a_stalled_link),
		cmocka_unit_test(test_mmsc__slow_answer_gets_the_request_timeout),
		cmocka_unit_test(test_mmsc__fetch_connection_refused),
		cmocka_unit_test(test_mmsc__fetch_reports_progress_and_cancels),
		cmocka_unit_test(test_mmsc__fetch_binds_interface),
		cmocka_unit_test(test_mmsc__tls_verified_by_default),
		cmocka_unit_test(test_mmsc__post_retry_policy),
		cmocka_unit_test(test_mmsc__retrieve_encoded_message),
		cmocka_unit_test(test_mmsc__retrieve_through_tinyproxy_later_acknowledges),
		cmocka_unit_test(test_mmsc__retrieve_answers_each_outcome),
		cmocka_unit_test(test_mmsc__retrieve_keeps_not_found_text_and_rejects_other_pdus),
		cmocka_unit_test(test_mmsc__retrieve_answer_failure_keeps_message),
		cmocka_unit_test(test_mmsc__retrieve_vector_notifications_with_rewrite),
		cmocka_unit_test(test_mmsc__retrieve_truncated_location_rebuilt),
		cmocka_unit_test(test_mmsc__retrieve_survives_allocation_failures),
		cmocka_unit_test(test_mmsc__send_returns_send_conf),
		cmocka_unit_test(test_mmsc__send_survives_allocation_failures),
		cmocka_unit_test(test_mmsc__answers_decode),
	};
	return pb_test_run("mmsc", tests);
}
