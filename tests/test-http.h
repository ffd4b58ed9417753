/*
 * libphonebridge tests — one HTTP request with libcurl to a listener on
 * 127.0.0.1, for the tests of pb_listener and of the routes served on it
 * (test-listener.c, bridge-appservice-unit.c). Include after harness.h;
 * link libcurl.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_TESTS_TEST_HTTP_H
#define PB_TESTS_TEST_HTTP_H

#include <stdio.h>

#include <curl/curl.h>

typedef struct reply {
	long status; /* 0 when no answer came */
	pb_buf body; /* pb_buf_dispose() */
} reply;

static inline size_t test_http_collect(char *p, size_t n, size_t m, void *ud)
{
	pb_buf_put(ud, p, n * m);
	return n * m;
}

/* @method @target on 127.0.0.1:@port with the header lines @headers (NULL
 * or NULL-terminated) and @len bytes of @body (NULL: none); 30 s at most. */
static inline reply test_http(unsigned port, const char *method, const char *target, const char *const *headers,
			      const char *body, size_t len)
{
	reply r = { 0, PB_BUF_INIT };
	char url[512];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, target);
	CURL *c = curl_easy_init();
	assert_non_null(c);
	struct curl_slist *h = NULL;
	for (size_t i = 0; headers && headers[i]; i++)
		h = curl_slist_append(h, headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, test_http_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r;
}

#endif
