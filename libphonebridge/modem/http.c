/*
 * libphonebridge — what the HTTP modem backends share: one request at a time
 * over the library's one HTTP transport (http/), never repeated (a router
 * acts on a request once it has it: pb_modem_send_fate() decides).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "http/http-private.h"
#include "modem-internal.h"

#define MAX_BODY (8u << 20) /* a router's reply is never this large */

struct pb_modem_http {
	pb_http__client http;
	long timeout_ms;
	bool insecure;
	char *ca_file;
};

int pb_modem__http_new(pb_modem_http **out, const pb_modem_options *opts)
{
	*out = NULL;
	pb_modem_http *h = pb_calloc(1, sizeof(*h));
	if (!h)
		return PB_ENOMEM;
	h->timeout_ms = opts->timeout_ms ? (int)opts->timeout_ms : 10000;
	h->insecure = opts->tls_insecure;
	int rc = pb_http__client_init(&h->http);
	if (rc == 0 && opts->ca_file && !(h->ca_file = pb_strdup(opts->ca_file)))
		rc = PB_ENOMEM;
	if (rc < 0) {
		pb_modem__http_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void pb_modem__http_free(pb_modem_http *h)
{
	if (!h)
		return;
	pb_http__client_dispose(&h->http);
	pb_free(h->ca_file);
	pb_free(h);
}

void pb_modem__http_reply_dispose(pb_modem_http_reply *r)
{
	pb_buf_dispose(&r->body);
	pb_buf_dispose(&r->headers);
	r->status = 0;
}

/* A router's answer is the caller's to read; only the transport can fail
 * here, and whether the box got the request decides what a failed send left
 * behind (pb_modem_send_fate()): once a byte of it was written, the box may
 * have acted on it, and the failure is a lost answer. */
static pb_http__verdict judge(const pb_http__answer *a, void *ud)
{
	const pb_http__request *rq = ud;
	pb_http__verdict v = { 0, false, -1 };
	if (a->too_big || a->cc == CURLE_FILESIZE_EXCEEDED)
		v.code = pb_error_set(PB_ETOOBIG, "%s: reply larger than %u bytes", rq->url, MAX_BODY);
	else if (a->oom)
		v.code = pb_error__oom();
	else if (a->cc != CURLE_OK && a->request_sent)
		v.code = pb_error_set(PB_ETIMEOUT, "%s: no answer to the request (%s)", rq->what, a->curl_error);
	else if (a->cc != CURLE_OK)
		v.code = pb_error_set(PB_EIO, "%s: %s (the request was not sent)", rq->what, a->curl_error);
	return v;
}

int pb_modem__http_request(pb_modem_http *h, const char *method, const char *url,
			   const char *const *headers, const char *body, size_t body_len,
			   pb_modem_http_reply *reply)
{
	pb_buf_clear(&reply->body);
	pb_buf_clear(&reply->headers);
	reply->status = 0;
	pb_buf what = PB_BUF_INIT;
	int rc = pb_buf_printf(&what, "%s %s", method, url);
	if (rc < 0)
		return rc;
	pb_http__base base = { .tls_insecure = h->insecure, .ca_file = h->ca_file,
			       .connect_timeout_ms = h->timeout_ms, .timeout_ms = h->timeout_ms };
	pb_http__request rq = {
		.what = pb_buf_cstr(&what),
		.method = method,
		.url = url,
		.headers = headers,
		.body = body,
		.body_len = body ? body_len : 0,
		.out = &reply->body,
		.out_headers = &reply->headers,
		.max_bytes = MAX_BODY,
		.log_domain = "modem",
		.judge = judge,
	};
	rq.judge_userdata = &rq;
	pb_http__answer a;
	rc = pb_http__perform(&h->http, &base, &rq, &a);
	if (rc == 0)
		reply->status = a.status;
	pb_buf_dispose(&what);
	return rc;
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
