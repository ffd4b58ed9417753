/*
 * libphonebridge — http: one request over libcurl with the library's retry
 * policy: capped sinks, progress, cancel, stall detection, back-off and
 * Retry-After. What an answer means is the caller's judge.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "http/http-private.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* --- the client --------------------------------------------------------- */

int pb_http__client_init(pb_http__client *cl)
{
	memset(cl, 0, sizeof(*cl));
	atomic_init(&cl->cancelled, 0);
	pthread_mutex_init(&cl->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cl->cond, &ca);
	pthread_condattr_destroy(&ca);
	cl->live = true;
	int rc = pb_http__init();
	if (rc < 0)
		return rc;
	if ((cl->curl = curl_easy_init()) == NULL)
		return pb_error_set(PB_ENOMEM, "curl_easy_init failed");
	return 0;
}

void pb_http__client_dispose(pb_http__client *cl)
{
	if (cl->curl) {
		curl_easy_cleanup(cl->curl);
		cl->curl = NULL;
	}
	if (cl->live) {
		pthread_cond_destroy(&cl->cond);
		pthread_mutex_destroy(&cl->lock);
		cl->live = false;
	}
}

void pb_http__cancel(pb_http__client *cl)
{
	pthread_mutex_lock(&cl->lock);
	atomic_store(&cl->cancelled, 1);
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
}

void pb_http__cancel_reset(pb_http__client *cl)
{
	atomic_store(&cl->cancelled, 0);
}

int pb_http__sleep(pb_http__client *cl, long ms, const char *what)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	int rc = 0;
	pthread_mutex_lock(&cl->lock);
	while (!atomic_load(&cl->cancelled) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&cl->cond, &cl->lock, &until);
	pthread_mutex_unlock(&cl->lock);
	return atomic_load(&cl->cancelled) ? pb_error_set(PB_ECANCELLED, "%s: cancelled", what) : 0;
}

/* --- judging the transport --------------------------------------------- */

int pb_http__curl_code(CURLcode cc, bool *unsent, bool *unclear)
{
	*unsent = *unclear = false;
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		*unsent = true; /* nothing reached the server */
		return PB_EIO;
	case CURLE_OPERATION_TIMEDOUT:
		*unclear = true;
		return PB_ETIMEOUT;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		*unclear = true; /* the server may have acted on it */
		return PB_EAGAIN;
	case CURLE_FILESIZE_EXCEEDED:
		return PB_ETOOBIG;
	case CURLE_ABORTED_BY_CALLBACK:
		return PB_ECANCELLED;
	case CURLE_OUT_OF_MEMORY:
		return PB_ENOMEM;
	case CURLE_TOO_MANY_REDIRECTS:
		return PB_EPROTO;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return PB_EINVAL;
	default: /* interface binding, TLS handshake or verification, ...: not
		  * fixed by waiting (PB_EAUTH is for refused credentials) */
		return PB_EIO;
	}
}

pb_http__verdict pb_http__transport_verdict(const pb_http__answer *a, const char *what, bool idempotent)
{
	pb_http__verdict v = { 0, false, -1 };
	if (a->oom) {
		v.code = pb_error__oom();
	} else if (a->cancelled) {
		v.code = pb_error_set(PB_ECANCELLED, "%s: cancelled", what);
	} else if (a->too_big || a->cc == CURLE_FILESIZE_EXCEEDED) {
		v.code = pb_error_set(PB_ETOOBIG, "%s: HTTP %ld: answer larger than the %zu-byte limit, transfer aborted",
				      what, a->status, a->rq->max_bytes);
	} else if (a->stalled) {
		v.code = pb_error_set(PB_ETIMEOUT, "%s: the answer stalled: no byte for %ld s (HTTP %ld, %zu bytes)", what,
				      (a->rq->stall_timeout_ms + 999) / 1000, a->status, a->body_len);
		v.retry = idempotent;
	} else if (a->cc != CURLE_OK) {
		bool unsent, unclear;
		int code = pb_http__curl_code(a->cc, &unsent, &unclear);
		v.code = pb_error_set(code, "%s: %s", what, a->curl_error);
		v.retry = unsent || (unclear && idempotent);
	}
	return v;
}

/* --- one attempt ---------------------------------------------------------- */

typedef struct xfer {
	pb_http__client *cl;
	const pb_http__request *rq;
	size_t start;     /* rq->out->len before the request */
	size_t hstart;    /* rq->out_headers->len before the request */
	size_t max;       /* cap, SIZE_MAX when none */
	bool too_big, oom, cancelled, stalled, chunked;
	bool answering;   /* the first byte of the answer (a header) arrived */
	long retry_after_ms;
	curl_off_t seen;  /* body bytes at the last move */
	struct timespec moved; /* when the answer last moved (monotonic) */
} xfer;

static void mono_now(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	mono_now(&now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

static bool header_is(const char *line, size_t n, const char *name, const char **value, size_t *vlen)
{
	size_t l = strlen(name);
	if (n <= l || pb_ascii_ncasecmp(line, name, l) != 0 || line[l] != ':')
		return false;
	const char *v = line + l + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*value = v;
	*vlen = (size_t)(end - v);
	return true;
}

static size_t append_capped(xfer *x, pb_buf *b, size_t from, const char *data, size_t len)
{
	if (b->len - from + len > x->max) {
		x->too_big = true;
		return 0; /* aborts the transfer */
	}
	if (pb_buf_put(b, data, len) < 0) {
		x->oom = true;
		return 0;
	}
	return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
	xfer *x = ud;
	return append_capped(x, x->rq->out, x->start, data, size * n);
}

/* From the first byte of the answer on, the stall clock runs; the lines
 * tell a chunked body and a Retry-After. */
static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
	xfer *x = ud;
	size_t len = size * n;
	const char *v;
	size_t vl;
	if (!x->answering) {
		x->answering = true;
		mono_now(&x->moved);
	}
	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		/* a new answer (after a redirect or 100-continue): forget the old one's */
		x->chunked = false;
		x->retry_after_ms = -1;
	} else if (header_is(line, len, "Retry-After", &v, &vl)) {
		/* delta-seconds only; an HTTP date is left to the back-off */
		x->retry_after_ms = pb_http__retry_after_ms(v, vl);
	} else if (header_is(line, len, "Transfer-Encoding", &v, &vl)) {
		for (size_t i = 0; i + 7 <= vl; i++)
			if (pb_ascii_ncasecmp(v + i, "chunked", 7) == 0)
				x->chunked = true;
	}
	if (x->rq->out_headers)
		return append_capped(x, x->rq->out_headers, x->hstart, line, len);
	return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	PB_UNUSED(ultotal);
	PB_UNUSED(ulnow);
	xfer *x = ud;
	const pb_http__request *rq = x->rq;
	if (atomic_load(&x->cl->cancelled)) {
		x->cancelled = true;
		return 1;
	}
	/* A stall is an answer that stopped moving. Waiting for the server to
	 * start answering is bounded by the timeout alone (CURLOPT_LOW_SPEED_TIME
	 * would count that wait too and cut a slow server short). */
	if (rq->stall_timeout_ms > 0 && x->answering) {
		if (dlnow != x->seen) {
			x->seen = dlnow;
			mono_now(&x->moved);
		} else if (ms_since(&x->moved) >= rq->stall_timeout_ms) {
			x->stalled = true;
			return 1;
		}
	}
	if (rq->progress && rq->progress((uint64_t)(dlnow > 0 ? dlnow : 0), (uint64_t)(dltotal > 0 ? dltotal : 0),
					 rq->progress_userdata)) {
		x->cancelled = true;
		return 1;
	}
	return 0;
}

static int header_list(const char *const *headers, struct curl_slist **out)
{
	*out = NULL;
	for (size_t i = 0; headers && headers[i]; i++) {
		struct curl_slist *n = curl_slist_append(*out, headers[i]);
		if (!n) {
			curl_slist_free_all(*out);
			*out = NULL;
			return pb_error__oom();
		}
		*out = n;
	}
	return 0;
}

static void set_method(CURL *c, const pb_http__request *rq)
{
	if (strcmp(rq->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (strcmp(rq->method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POST, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->body_len : 0));
}

static void read_answer(CURL *c, const xfer *x, pb_http__answer *a)
{
	long status = 0, version = 0, sent = 0;
	char *ct = NULL, *redir = NULL;
	curl_off_t cl = -1;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redir);
	curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
	a->status = status;
	a->content_type = ct;
	a->redirect_url = redir;
	a->request_sent = sent > 0;
	a->framed = x->chunked ||
		    (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl >= 0) ||
		    (curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &version) == CURLE_OK &&
		     version != CURL_HTTP_VERSION_1_0 && version != CURL_HTTP_VERSION_1_1);
}

static int attempt(pb_http__client *cl, const pb_http__base *base, const pb_http__request *rq, xfer *x,
		   pb_http__answer *a)
{
	CURL *c = cl->curl;
	struct curl_slist *hl;
	int rc = header_list(rq->headers, &hl);
	if (rc < 0)
		return rc;
	curl_easy_reset(c);
	pb_http__base b = *base;
	b.errbuf = cl->errbuf;
	pb_http__setup(c, &b);
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	if (hl)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (rq->accept_encoding)
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (rq->max_bytes)
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->max_bytes);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, rq->max_redirects ? 1L : 0L);
	if (rq->max_redirects)
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)rq->max_redirects);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	set_method(c, rq);

	if (atomic_load(&cl->cancelled)) {
		x->cancelled = true;
		a->cc = CURLE_ABORTED_BY_CALLBACK;
	} else {
		a->cc = curl_easy_perform(c);
	}
	read_answer(c, x, a);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	a->curl_error = cl->errbuf[0] ? cl->errbuf : curl_easy_strerror(a->cc);
	a->retry_after_ms = x->retry_after_ms;
	a->body = rq->out->data ? rq->out->data + x->start : NULL;
	a->body_len = rq->out->len - x->start;
	a->too_big = x->too_big;
	a->oom = x->oom;
	a->cancelled = x->cancelled;
	a->stalled = x->stalled;
	return 0;
}

int pb_http__perform(pb_http__client *cl, const pb_http__base *base, const pb_http__request *rq,
		     pb_http__answer *last)
{
	unsigned attempts = rq->attempts ? rq->attempts : 1;
	xfer x = { .cl = cl, .rq = rq, .start = rq->out->len, .max = rq->max_bytes ? rq->max_bytes : SIZE_MAX };
	if (rq->out_headers)
		x.hstart = rq->out_headers->len;
	pb_http__answer a;
	int rc = 0;
	for (unsigned n = 1;; n++) {
		pb_buf_truncate(rq->out, x.start);
		if (rq->out_headers)
			pb_buf_truncate(rq->out_headers, x.hstart);
		x.too_big = x.oom = x.cancelled = x.stalled = x.chunked = x.answering = false;
		x.retry_after_ms = -1;
		x.seen = 0;
		memset(&a, 0, sizeof(a));
		a.rq = rq;
		a.attempt = n;
		if ((rc = attempt(cl, base, rq, &x, &a)) < 0)
			break;
		pb_http__verdict v = rq->judge(&a, rq->judge_userdata);
		rc = v.code;
		if (rc == 0 || !v.retry || n >= attempts)
			break;
		long delay = v.delay_ms >= 0 ? v.delay_ms
			   : a.retry_after_ms >= 0 ? PB_MIN(a.retry_after_ms, rq->retry_after_max_ms)
						   : pb_http__backoff_ms(rq->backoff_base_ms, rq->backoff_cap_ms, n - 1);
		pb_log_notice(rq->log_domain, "%s (attempt %u of %u); again in %ld ms", pb_error_last()->message, n,
			      attempts, delay);
		if ((rc = pb_http__sleep(cl, delay, rq->what)) < 0)
			break;
	}
	if (last)
		*last = a;
	return rc;
}
