/*
 * libphonebridge tests — mmsc: the MMSC client against a local MMSC
 * (tests/mmsc-server.py), directly and through tinyproxy.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

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
		o->retry = (pb_mmsc_retry)FAST_RETRY;
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

	assert_true(pb_mmsc__curl_verdict(CURLE_COULDNT_CONNECT).transient);
	assert_true(pb_mmsc__curl_verdict(CURLE_OPERATION_TIMEDOUT).transient);
	assert_int_equal(pb_mmsc__curl_verdict(CURLE_OPERATION_TIMEDOUT).code, PB_ETIMEOUT);
	assert_true(pb_mmsc__curl_verdict(CURLE_GOT_NOTHING).transient);
	assert_false(pb_mmsc__curl_verdict(CURLE_INTERFACE_FAILED).transient);
	assert_false(pb_mmsc__curl_verdict(CURLE_PEER_FAILED_VERIFICATION).transient);
	assert_int_equal(pb_mmsc__curl_verdict(CURLE_PEER_FAILED_VERIFICATION).code, PB_EAUTH);
	assert_int_equal(pb_mmsc__curl_verdict(CURLE_FILESIZE_EXCEEDED).code, PB_ETOOBIG);
	assert_int_equal(pb_mmsc__curl_verdict(CURLE_ABORTED_BY_CALLBACK).code, PB_ECANCELLED);
}

static void test_mmsc__backoff_doubles_up_to_cap(void **state)
{
	(void)state;
	pb_mmsc_retry r = { 6, 100, 500 };
	assert_int_equal(pb_mmsc__backoff_ms(&r, 1), 100);
	assert_int_equal(pb_mmsc__backoff_ms(&r, 2), 200);
	assert_int_equal(pb_mmsc__backoff_ms(&r, 3), 400);
	assert_int_equal(pb_mmsc__backoff_ms(&r, 4), 500);
	assert_int_equal(pb_mmsc__backoff_ms(&r, 40), 500);
	pb_mmsc_retry big = { 6, 3000000000u, 4000000000u };
	assert_int_equal(pb_mmsc__backoff_ms(&big, 5), 4000000000u);
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

	/* a self-signed certificate is refused, and that is not retried */
	pb_mmsc *m = client();
	assert_pb_error(pb_mmsc_fetch(m, url, &body, &r), PB_EAUTH);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmsc__options_are_checked),
		cmocka_unit_test(test_mmsc__new_survives_allocation_failures),
		cmocka_unit_test(test_mmsc__rewrite_rules),
		cmocka_unit_test(test_mmsc__rewrite_rejects_bad_rules_and_results),
		cmocka_unit_test(test_mmsc__client_applies_first_matching_rule),
		cmocka_unit_test(test_mmsc__retry_only_transient_failures),
		cmocka_unit_test(test_mmsc__backoff_doubles_up_to_cap),
		cmocka_unit_test(test_mmsc__pdu_check_explains_pages),
		cmocka_unit_test(test_mmsc__fetch_own_pdu_with_headers),
		cmocka_unit_test(test_mmsc__fetch_shared_vectors),
		cmocka_unit_test(test_mmsc__fetch_through_tinyproxy),
		cmocka_unit_test(test_mmsc__fetch_reports_clear_errors),
		cmocka_unit_test(test_mmsc__fetch_follows_redirects_when_allowed),
		cmocka_unit_test(test_mmsc__fetch_enforces_size_limit),
		cmocka_unit_test(test_mmsc__fetch_retries_transient_failures),
		cmocka_unit_test(test_mmsc__fetch_times_out),
		cmocka_unit_test(test_mmsc__fetch_connection_refused),
		cmocka_unit_test(test_mmsc__fetch_reports_progress_and_cancels),
		cmocka_unit_test(test_mmsc__fetch_binds_interface),
		cmocka_unit_test(test_mmsc__tls_verified_by_default),
		cmocka_unit_test(test_mmsc__post_retry_policy),
	};
	return pb_test_run("mmsc", tests);
}
