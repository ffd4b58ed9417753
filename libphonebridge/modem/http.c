/*
 * libphonebridge — the small libcurl wrapper the HTTP modem backends share,
 * on the library's common transfer set-up (http/http-private.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "http/http-private.h"
#include "modem-internal.h"

#define MAX_BODY (8u << 20) /* a router's reply is never this large */

struct pb_modem_http {
	CURL *curl;
	long timeout_ms;
	bool insecure;
	char *ca_file;
};

int pb_modem__http_new(pb_modem_http **out, const pb_modem_options *opts)
{
	*out = NULL;
	int rc = pb_http__init();
	if (rc < 0)
		return rc;
	pb_modem_http *h = pb_calloc(1, sizeof(*h));
	if (!h)
		return PB_ENOMEM;
	h->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
	h->insecure = opts->insecure_tls;
	if (opts->ca_file && !(h->ca_file = pb_strdup(opts->ca_file))) {
		pb_free(h);
		return PB_ENOMEM;
	}
	h->curl = curl_easy_init();
	if (!h->curl) {
		pb_free(h->ca_file);
		pb_free(h);
		return pb_error_set(PB_ENOMEM, "curl_easy_init failed");
	}
	*out = h;
	return 0;
}

void pb_modem__http_free(pb_modem_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	pb_free(h->ca_file);
	pb_free(h);
}

void pb_modem__http_reply_dispose(pb_modem_http_reply *r)
{
	pb_buf_dispose(&r->body);
	pb_buf_dispose(&r->headers);
	r->status = 0;
}

int pb_modem__http_request(pb_modem_http *h, const char *method, const char *url,
			   const char *const *headers, const char *body, size_t body_len,
			   pb_modem_http_reply *reply)
{
	pb_buf_clear(&reply->body);
	pb_buf_clear(&reply->headers);
	reply->status = 0;
	CURL *c = h->curl;
	curl_easy_reset(c);
	struct curl_slist *hl = NULL;
	for (size_t i = 0; headers && headers[i]; i++) {
		struct curl_slist *n = curl_slist_append(hl, headers[i]);
		if (!n) {
			curl_slist_free_all(hl);
			return pb_error__oom();
		}
		hl = n;
	}
	pb_http__sink bs = { &reply->body, MAX_BODY, false, false }, hs = { &reply->headers, MAX_BODY, false, false };
	pb_http__base base = { .tls_insecure = h->insecure, .ca_file = h->ca_file,
			       .connect_timeout_ms = h->timeout_ms, .timeout_ms = h->timeout_ms };
	pb_http__setup(c, &base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, pb_http__sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &bs);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, pb_http__sink_write);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &hs);
	if (hl)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? body_len : 0));
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	CURLcode cc = curl_easy_perform(c);
	curl_slist_free_all(hl);
	if (bs.too_big || hs.too_big)
		return pb_error_set(PB_ETOOBIG, "%s: reply larger than %u bytes", url, MAX_BODY);
	if (bs.oom || hs.oom)
		return pb_error__oom();
	if (cc != CURLE_OK) {
		/* Whether the box got the request decides what a failed send left
		 * behind (pb_modem_send_fate()): once a byte of it was written, the
		 * box may have acted on it, and the failure is a lost answer. */
		long sent = 0;
		curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
		if (sent > 0)
			return pb_error_set(PB_ETIMEOUT, "%s %s: no answer to the request (%s)", method, url,
					    curl_easy_strerror(cc));
		return pb_error_set(PB_EIO, "%s %s: %s (the request was not sent)", method, url, curl_easy_strerror(cc));
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
	return 0;
}

char *pb_modem__http_header(const pb_modem_http_reply *r, const char *name)
{
	const char *p = pb_buf_cstr(&r->headers), *found = NULL;
	size_t nlen = strlen(name), flen = 0;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);
		if (ll > nlen && p[nlen] == ':' && pb_ascii_ncasecmp(p, name, nlen) == 0) {
			const char *v = p + nlen + 1;
			const char *e = p + ll;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			found = v;
			flen = (size_t)(e - v);
		}
		p += ll + (eol ? 1 : 0);
	}
	return found ? pb_strndup(found, flen) : NULL;
}
