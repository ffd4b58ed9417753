/*
 * libphonebridge — MMSC client over libcurl: GET messages, POST PDUs, with
 * the carrier's proxy, interface, headers, size limit, retries.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mmsc/mmsc-private.h"

#define DOMAIN "mmsc"
#define MMS_CONTENT_TYPE "application/vnd.wap.mms-message"
#define DEFAULT_MAX_DOWNLOAD (4u * 1024u * 1024u)

struct pb_mmsc {
	char *mmsc_url;
	char *proxy; /* with scheme, or NULL */
	char *interface;
	char *user_agent;
	char *ca_file;
	char **rules; /* NULL-terminated */
	struct curl_slist *get_headers;
	struct curl_slist *post_headers;
	size_t max_download;
	unsigned connect_timeout_ms, timeout_ms, stall_timeout_ms, max_redirects;
	pb_mmsc_retry retry;
	bool retry_send, tls_insecure;
	int report_allowed;
	pb_mmsc_progress_cb progress;
	void *progress_userdata;
	CURL *easy; /* kept between requests so connections are reused */
	char errbuf[CURL_ERROR_SIZE];
};

/* --- setup ------------------------------------------------------------- */

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src || !*src)
		return 0;
	*dst = pb_strdup(src);
	return *dst ? 0 : PB_ENOMEM;
}

static int headers_append(struct curl_slist **list, const char *fmt, ...) PB_PRINTF(2, 3);

static int headers_append(struct curl_slist **list, const char *fmt, ...)
{
	pb_buf line = PB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	int rc = pb_buf_vprintf(&line, fmt, ap);
	va_end(ap);
	if (rc == 0) {
		struct curl_slist *l = curl_slist_append(*list, pb_buf_cstr(&line));
		if (l)
			*list = l;
		else
			rc = pb_error__oom();
	}
	pb_buf_dispose(&line);
	return rc;
}

static int build_headers(pb_mmsc *m, const pb_mmsc_options *o, struct curl_slist **list, bool post)
{
	int rc = headers_append(list, "Accept: %s, */*", MMS_CONTENT_TYPE);
	/* no "Expect: 100-continue": WAP proxies and MMSCs mishandle it */
	if (rc == 0 && post)
		rc = headers_append(list, "Expect:");
	if (rc == 0 && post)
		rc = headers_append(list, "Content-Type: %s", MMS_CONTENT_TYPE);
	if (rc == 0 && o->wap_profile && *o->wap_profile)
		rc = headers_append(list, "x-wap-profile: %s", o->wap_profile);
	for (size_t i = 0; rc == 0 && o->extra_headers && o->extra_headers[i]; i++)
		rc = headers_append(list, "%s", o->extra_headers[i]);
	PB_UNUSED(m);
	return rc;
}

static int check_options(const pb_mmsc_options *o)
{
	int vrc = PB_CHECK_VERSION(o, PB_MMSC_OPTIONS, 1);
	if (vrc < 0)
		return vrc;
	for (size_t i = 0; o->extra_headers && o->extra_headers[i]; i++) {
		const char *h = o->extra_headers[i];
		const char *colon = strchr(h, ':');
		if (!colon || colon == h || strpbrk(h, "\r\n"))
			return pb_error_set(PB_EINVAL, "extra header \"%s\": expected \"Name: value\" on one line", h);
	}
	for (size_t i = 0; o->rewrite_rules && o->rewrite_rules[i]; i++) {
		int rc = pb_mmsc__rule_check(o->rewrite_rules[i], o->mmsc_url);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int copy_rules(pb_mmsc *m, const char *const *rules)
{
	size_t n = 0;
	while (rules && rules[n])
		n++;
	m->rules = pb_calloc(n + 1, sizeof(*m->rules));
	if (!m->rules)
		return PB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		m->rules[i] = pb_strdup(rules[i]);
		if (!m->rules[i])
			return PB_ENOMEM;
	}
	return 0;
}

static int copy_proxy(pb_mmsc *m, const char *proxy)
{
	if (!proxy || !*proxy)
		return 0;
	pb_buf b = PB_BUF_INIT;
	int rc = strstr(proxy, "://") ? pb_buf_puts(&b, proxy) : pb_buf_printf(&b, "http://%s", proxy);
	if (rc == 0) {
		m->proxy = (char *)pb_buf_detach(&b, NULL);
		rc = m->proxy ? 0 : PB_ENOMEM;
	}
	pb_buf_dispose(&b);
	return rc;
}

PB_API int pb_mmsc_new(pb_mmsc **out, const pb_mmsc_options *opts)
{
	static const pb_mmsc_options defaults = PB_MMSC_OPTIONS_INIT;
	if (!out)
		return pb_error_set(PB_EINVAL, "pb_mmsc_new: NULL out");
	*out = NULL;
	const pb_mmsc_options *o = opts ? opts : &defaults;
	int rc = check_options(o);
	if (rc < 0)
		return rc;
	if ((rc = pb_http__init()) < 0)
		return rc;

	pb_mmsc *m = pb_calloc(1, sizeof(*m));
	if (!m)
		return PB_ENOMEM;
	rc = dup_opt(&m->mmsc_url, o->mmsc_url);
	if (rc == 0)
		rc = copy_proxy(m, o->proxy);
	if (rc == 0)
		rc = dup_opt(&m->interface, o->interface);
	if (rc == 0)
		rc = dup_opt(&m->user_agent, o->user_agent ? o->user_agent : "libphonebridge/" PB_VERSION_STRING);
	if (rc == 0)
		rc = dup_opt(&m->ca_file, o->ca_file);
	if (rc == 0)
		rc = copy_rules(m, o->rewrite_rules);
	if (rc == 0)
		rc = build_headers(m, o, &m->get_headers, false);
	if (rc == 0)
		rc = build_headers(m, o, &m->post_headers, true);
	if (rc == 0) {
		m->easy = curl_easy_init();
		if (!m->easy)
			rc = pb_error__oom();
	}
	if (rc < 0) {
		pb_mmsc_free(m);
		return rc;
	}
	m->max_download = o->max_download ? o->max_download : DEFAULT_MAX_DOWNLOAD;
	m->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 15000;
	m->timeout_ms = o->timeout_ms ? o->timeout_ms : 300000;
	m->stall_timeout_ms = o->stall_timeout_ms ? o->stall_timeout_ms : 30000;
	m->max_redirects = o->max_redirects;
	m->retry.attempts = o->retry.attempts ? o->retry.attempts : 3;
	m->retry.initial_delay_ms = o->retry.initial_delay_ms ? o->retry.initial_delay_ms : 1000;
	m->retry.max_delay_ms = o->retry.max_delay_ms ? o->retry.max_delay_ms : 30000;
	m->retry_send = o->retry_send;
	m->tls_insecure = o->tls_insecure;
	m->progress = o->progress;
	m->report_allowed = o->report_allowed;
	m->progress_userdata = o->progress_userdata;
	*out = m;
	return 0;
}

PB_API void pb_mmsc_free(pb_mmsc *m)
{
	if (!m)
		return;
	if (m->easy)
		curl_easy_cleanup(m->easy);
	curl_slist_free_all(m->get_headers);
	curl_slist_free_all(m->post_headers);
	for (size_t i = 0; m->rules && m->rules[i]; i++)
		pb_free(m->rules[i]);
	pb_free(m->rules);
	pb_free(m->mmsc_url);
	pb_free(m->proxy);
	pb_free(m->interface);
	pb_free(m->user_agent);
	pb_free(m->ca_file);
	pb_free(m);
}

size_t pb_mmsc__max_download(const pb_mmsc *m)
{
	return m->max_download;
}

int pb_mmsc__report_allowed(const pb_mmsc *m)
{
	return m->report_allowed;
}

PB_API int pb_mmsc_rewrite(const pb_mmsc *m, const char *location, char **out)
{
	if (!m || !location || !out)
		return pb_error_set(PB_EINVAL, "pb_mmsc_rewrite: NULL argument");
	*out = NULL;
	for (size_t i = 0; m->rules[i]; i++) {
		int rc = pb_mmsc_rewrite_location(m->rules[i], m->mmsc_url, location, out);
		if (rc < 0)
			return rc;
		if (*out) {
			pb_log_debug(DOMAIN, "Content-Location %s rewritten to %s by rule %zu", location, *out, i + 1);
			return 0;
		}
	}
	pb_buf t = PB_BUF_INIT;
	int rc = pb_mmsc__trim(location, &t);
	if (rc == 0) {
		*out = (char *)pb_buf_detach(&t, NULL);
		rc = *out ? 0 : PB_ENOMEM;
	}
	pb_buf_dispose(&t);
	return rc;
}

/* --- judging answers ----------------------------------------------------- */

pb_mmsc__verdict pb_mmsc__curl_verdict(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return (pb_mmsc__verdict){ 0, false };
	case CURLE_OPERATION_TIMEDOUT:
		return (pb_mmsc__verdict){ PB_ETIMEOUT, true };
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return (pb_mmsc__verdict){ PB_EIO, true };
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return (pb_mmsc__verdict){ PB_EAGAIN, true };
	case CURLE_FILESIZE_EXCEEDED:
		return (pb_mmsc__verdict){ PB_ETOOBIG, false };
	case CURLE_ABORTED_BY_CALLBACK:
		return (pb_mmsc__verdict){ PB_ECANCELLED, false };
	case CURLE_OUT_OF_MEMORY:
		return (pb_mmsc__verdict){ PB_ENOMEM, false };
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return (pb_mmsc__verdict){ PB_EAUTH, false };
	case CURLE_TOO_MANY_REDIRECTS:
		return (pb_mmsc__verdict){ PB_EPROTO, false };
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return (pb_mmsc__verdict){ PB_EINVAL, false };
	default: /* interface binding, TLS handshake, ...: not fixed by waiting */
		return (pb_mmsc__verdict){ PB_EIO, false };
	}
}

pb_mmsc__verdict pb_mmsc__status_verdict(long status)
{
	if (status >= 200 && status < 300)
		return (pb_mmsc__verdict){ 0, false };
	switch (status) {
	case 502:
	case 503:
	case 504:
		return (pb_mmsc__verdict){ PB_EAGAIN, true };
	case 404:
	case 410:
		return (pb_mmsc__verdict){ PB_ENOTFOUND, false };
	case 401:
	case 403:
	case 407:
		return (pb_mmsc__verdict){ PB_EAUTH, false };
	case 413:
		return (pb_mmsc__verdict){ PB_ETOOBIG, false };
	default:
		return (pb_mmsc__verdict){ PB_EPROTO, false };
	}
}

unsigned pb_mmsc__backoff_ms(const pb_mmsc_retry *retry, unsigned attempt)
{
	/* attempt counts from 1 here */
	return (unsigned)pb_http__backoff_ms(retry->initial_delay_ms, retry->max_delay_ms,
					     attempt > 0 ? attempt - 1 : 0);
}

void pb_mmsc__excerpt(const uint8_t *body, size_t len, char *out, size_t size)
{
	if (size == 0)
		return;
	const char *s = (const char *)body;
	size_t from = 0, to = len;
	/* an HTML page is best told by its title */
	for (size_t i = 0; i + 7 <= len; i++) {
		if (pb_ascii_ncasecmp(s + i, "<title>", 7) == 0) {
			from = i + 7;
			for (to = from; to + 8 <= len && pb_ascii_ncasecmp(s + to, "</title>", 8) != 0; to++)
				;
			if (to + 8 > len)
				to = len;
			break;
		}
	}
	size_t n = 0;
	bool space = false;
	for (size_t i = from; i < to && n + 1 < size && n < 100; i++) {
		uint8_t c = body[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = n > 0;
			continue;
		}
		if (space && n + 2 < size)
			out[n++] = ' ';
		space = false;
		out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[n] = '\0';
}

static bool is_page_type(const char *ct)
{
	return pb_ascii_ncasecmp(ct, "text/", 5) == 0 || strstr(ct, "html") || strstr(ct, "xml") ||
	       strstr(ct, "json");
}

int pb_mmsc__check_pdu(const char *what, long status, const char *content_type,
		       const uint8_t *body, size_t len)
{
	char ex[128];
	const char *ct = content_type ? content_type : "";
	if (len == 0)
		return pb_error_set(PB_EPROTO, "%s: HTTP %ld with an empty body, expected an MMS PDU", what, status);
	if (is_page_type(ct)) {
		pb_mmsc__excerpt(body, len, ex, sizeof(ex));
		return pb_error_set(PB_EPROTO, "%s: HTTP %ld answered with a %s page, not an MMS PDU: \"%s\"",
				    what, status, ct, ex);
	}
	/* X-Mms-Message-Type (0x8C) comes first; types 0x80-0x97 (OMA-MMS-ENC 1.3 §7.3.30) */
	if (len < 2 || body[0] != 0x8C || body[1] < 0x80 || body[1] > 0x97) {
		pb_mmsc__excerpt(body, PB_MIN(len, (size_t)64), ex, sizeof(ex));
		return pb_error_set(PB_EPROTO, "%s: HTTP %ld, Content-Type \"%s\": body is not an MMS PDU "
				    "(%zu bytes, starts \"%s\")", what, status, ct, len, ex);
	}
	if (*ct && pb_ascii_ncasecmp(ct, MMS_CONTENT_TYPE, strlen(MMS_CONTENT_TYPE)) != 0)
		pb_log_debug(DOMAIN, "%s: MMS PDU served as %s", what, ct);
	return 0;
}

/* --- one exchange ------------------------------------------------------ */

typedef struct xfer {
	pb_mmsc *m;
	pb_buf *body;
	size_t start;    /* body->len before this attempt */
	size_t max;
	bool too_big;
	bool oom;
	bool progress;   /* call the progress callback */
	bool chunked;    /* the last response came in chunks (framed: curl sees a cut) */
	bool stalled;    /* no byte of the answer for stall_timeout_ms */
	bool answering;  /* the first byte of the answer (a header) arrived */
	curl_off_t seen; /* body bytes at the last move */
	struct timespec moved; /* when the answer last moved (monotonic) */
} xfer;

static void mono_now(struct timespec *t) { clock_gettime(CLOCK_MONOTONIC, t); }

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	mono_now(&now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* Response header lines: from the first byte of the answer on, the stall
 * clock runs; and they tell a chunked body from one the close ends. */
static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
	xfer *x = userdata;
	size_t len = size * n;
	static const char te[] = "transfer-encoding:";
	if (!x->answering) {
		x->answering = true;
		mono_now(&x->moved);
	}
	if (len >= 5 && !memcmp(data, "HTTP/", 5)) /* a new response (redirect, 100, the answer) */
		x->chunked = false;
	else if (len > sizeof(te) - 1 && !pb_ascii_ncasecmp(data, te, sizeof(te) - 1))
		for (size_t i = sizeof(te) - 1; i + 7 <= len; i++)
			if (!pb_ascii_ncasecmp(data + i, "chunked", 7))
				x->chunked = true;
	return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *userdata)
{
	xfer *x = userdata;
	size_t got = size * n;
	if (x->body->len - x->start + got > x->max) {
		x->too_big = true;
		return 0; /* aborts with CURLE_WRITE_ERROR */
	}
	if (pb_buf_put(x->body, data, got) < 0) {
		x->oom = true;
		return 0;
	}
	return got;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	PB_UNUSED(ultotal);
	PB_UNUSED(ulnow);
	xfer *x = userdata;
	/* A stall is an answer that stopped moving. Waiting for the MMSC to
	 * start answering is bounded by timeout_ms alone: a slow MMSC must
	 * get the whole request timeout the caller configured. */
	if (x->answering) {
		if (dlnow != x->seen) {
			x->seen = dlnow;
			mono_now(&x->moved);
		} else if (ms_since(&x->moved) >= (long)x->m->stall_timeout_ms) {
			x->stalled = true;
			return 1;
		}
	}
	if (!x->progress || !x->m->progress)
		return 0;
	return x->m->progress((uint64_t)(dlnow > 0 ? dlnow : 0), (uint64_t)(dltotal > 0 ? dltotal : 0),
			      x->m->progress_userdata) ? 1 : 0;
}

static void setup_common(pb_mmsc *m, xfer *x, const char *url)
{
	CURL *c = m->easy;
	curl_easy_reset(c);
	/* a Content-Location comes from outside: the base set-up allows only
	 * http and https, also after redirects; the proxy is always set ("" =
	 * none, not even from the environment) */
	pb_http__base base = { .user_agent = m->user_agent, .ca_file = m->ca_file,
			       .tls_insecure = m->tls_insecure, .set_proxy = true, .proxy = m->proxy,
			       .interface = m->interface, .connect_timeout_ms = (long)m->connect_timeout_ms,
			       .timeout_ms = (long)m->timeout_ms, .errbuf = m->errbuf };
	pb_http__setup(c, &base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* a stalled mobile link is caught in on_progress(), not with
	 * CURLOPT_LOW_SPEED_TIME: that one also counts the wait for the first
	 * byte and would cut a slow MMSC short of timeout_ms */
	x->stalled = x->answering = false;
	x->seen = 0;
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void fill_result(pb_mmsc *m, pb_mmsc_result *res, size_t bytes)
{
	long status = 0;
	char *ct = NULL, *redir = NULL;
	curl_easy_getinfo(m->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(m->easy, CURLINFO_CONTENT_TYPE, &ct);
	curl_easy_getinfo(m->easy, CURLINFO_REDIRECT_URL, &redir);
	res->http_status = status;
	res->bytes = bytes;
	pb_strlcpy(res->content_type, ct ? ct : "", sizeof(res->content_type));
	pb_strlcpy(res->location, redir && status >= 300 && status < 400 ? redir : "", sizeof(res->location));
}

/*
 * An HTTP/1.x body with neither a Content-Length nor chunks ends where the
 * connection closed, and a close too early looks like the end: only the
 * PDU itself can tell. One
 * that does not decode whole is a transfer cut short (retried, then the
 * message stays at the MMSC), never a shorter message.
 */
static pb_mmsc__verdict whole_pdu(pb_mmsc *m, const xfer *x, const char *what, const uint8_t *body, size_t len)
{
	curl_off_t cl = -1;
	long version = 0;
	if (x->chunked ||
	    (curl_easy_getinfo(m->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl >= 0) ||
	    (curl_easy_getinfo(m->easy, CURLINFO_HTTP_VERSION, &version) == CURLE_OK &&
	     version != CURL_HTTP_VERSION_1_0 && version != CURL_HTTP_VERSION_1_1))
		return (pb_mmsc__verdict){ 0, false }; /* framed: curl reports a cut itself */
	pb_mms_message *msg = NULL;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	int rc = pb_mms_decode(&msg, body, len, 0, &perr);
	pb_mms_message_free(msg);
	if (rc == PB_ENOMEM)
		return (pb_mmsc__verdict){ rc, false };
	if (rc < 0) {
		pb_error_set(PB_EAGAIN, "%s: the body ended after %zu bytes without a Content-Length and the PDU in it "
			     "is cut (offset %zu: %s): the connection closed early", what, len, perr.offset, perr.text);
		return (pb_mmsc__verdict){ PB_EAGAIN, true };
	}
	return (pb_mmsc__verdict){ 0, false };
}

/* Turn one finished attempt into a verdict, raising the error if any. */
static pb_mmsc__verdict judge(pb_mmsc *m, const char *what, CURLcode rc, const xfer *x,
			      const pb_mmsc_result *res, bool want_pdu)
{
	const uint8_t *body = x->body->data ? x->body->data + x->start : NULL;
	size_t len = x->body->len - x->start;
	pb_mmsc__verdict v;
	char ex[128];

	if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		v = (pb_mmsc__verdict){ PB_ETOOBIG, false };
		pb_error_set(PB_ETOOBIG, "%s: HTTP %ld: message larger than the %zu-byte limit, download aborted",
			     what, res->http_status, x->max);
		return v;
	}
	if (x->oom)
		return (pb_mmsc__verdict){ pb_error__oom(), false };
	if (x->stalled) {
		v = pb_mmsc__curl_verdict(CURLE_OPERATION_TIMEDOUT);
		pb_error_set(v.code, "%s: the answer stalled: no byte for %u s (HTTP %ld, %zu bytes)", what,
			     (m->stall_timeout_ms + 999) / 1000, res->http_status, len);
		return v;
	}
	if (rc != CURLE_OK) {
		v = pb_mmsc__curl_verdict(rc);
		pb_error_set(v.code, "%s: %s%s%s (HTTP %ld)", what, curl_easy_strerror(rc), m->errbuf[0] ? ": " : "",
			     m->errbuf, res->http_status);
		return v;
	}
	long st = res->http_status;
	if (st >= 300 && st < 400) {
		pb_error_set(PB_EPROTO, "%s: HTTP %ld redirect to %s not followed", what, st,
			     res->location[0] ? res->location : "(no Location)");
		return (pb_mmsc__verdict){ PB_EPROTO, false };
	}
	v = pb_mmsc__status_verdict(st);
	if (v.code < 0) {
		pb_mmsc__excerpt(body, len, ex, sizeof(ex));
		pb_error_set(v.code, "%s: HTTP %ld%s%s%s", what, st, ex[0] ? " \"" : "", ex, ex[0] ? "\"" : "");
		return v;
	}
	if (want_pdu)
		v.code = pb_mmsc__check_pdu(what, st, res->content_type, body, len);
	if (want_pdu && v.code == 0)
		v = whole_pdu(m, x, what, body, len);
	return v;
}

typedef struct request {
	const char *method; /* "GET" or "POST" */
	const char *url;
	const uint8_t *post;
	size_t post_len;
	bool want_pdu;
	bool retry;
} request;

static int perform(pb_mmsc *m, const request *rq, pb_buf *body, pb_mmsc_result *res)
{
	char what[1100];
	snprintf(what, sizeof(what), "%s %s", rq->method, rq->url);
	pb_strlcpy(res->url, rq->url, sizeof(res->url));
	unsigned attempts = rq->retry ? m->retry.attempts : 1;
	pb_mmsc__verdict v = { 0, false };
	xfer x = { .m = m, .body = body, .start = body->len, .max = m->max_download };

	for (unsigned a = 1; a <= attempts; a++) {
		pb_buf_truncate(body, x.start);
		x.too_big = x.oom = x.chunked = false;
		x.progress = rq->post == NULL;
		setup_common(m, &x, rq->url);
		if (rq->post) {
			curl_easy_setopt(m->easy, CURLOPT_POST, 1L);
			curl_easy_setopt(m->easy, CURLOPT_POSTFIELDS, (const char *)rq->post);
			curl_easy_setopt(m->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->post_len);
			curl_easy_setopt(m->easy, CURLOPT_HTTPHEADER, m->post_headers);
		} else {
			curl_easy_setopt(m->easy, CURLOPT_HTTPGET, 1L);
			curl_easy_setopt(m->easy, CURLOPT_HTTPHEADER, m->get_headers);
			if (m->max_redirects) {
				curl_easy_setopt(m->easy, CURLOPT_FOLLOWLOCATION, 1L);
				curl_easy_setopt(m->easy, CURLOPT_MAXREDIRS, (long)m->max_redirects);
			}
		}
		CURLcode rc = curl_easy_perform(m->easy);
		res->attempts = a;
		fill_result(m, res, body->len - x.start);
		v = judge(m, what, rc, &x, res, rq->want_pdu);
		if (v.code == 0 || !v.transient || a == attempts)
			break;
		unsigned d = pb_mmsc__backoff_ms(&m->retry, a);
		pb_log_notice(DOMAIN, "%s (attempt %u of %u); again in %u ms", pb_error_last()->message, a,
			      attempts, d);
		sleep_ms(d);
	}
	if (v.code == 0)
		pb_log_debug(DOMAIN, "%s: HTTP %ld, %zu bytes", what, res->http_status, res->bytes);
	return v.code;
}

PB_API int pb_mmsc_fetch(pb_mmsc *m, const char *location, pb_buf *body, pb_mmsc_result *res)
{
	pb_mmsc_result dummy;
	if (!res)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	if (!m || !location || !body)
		return pb_error_set(PB_EINVAL, "pb_mmsc_fetch: NULL argument");
	char *url = NULL;
	int rc = pb_mmsc_rewrite(m, location, &url);
	if (rc < 0)
		return rc;
	request rq = { "GET", url, NULL, 0, true, true };
	rc = perform(m, &rq, body, res);
	pb_free(url);
	return rc;
}

PB_API int pb_mmsc_post(pb_mmsc *m, pb_mmsc_post_kind kind, const uint8_t *pdu, size_t len,
			pb_buf *answer, pb_mmsc_result *res)
{
	pb_mmsc_result dummy;
	if (!res)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	if (!m || !pdu || len == 0)
		return pb_error_set(PB_EINVAL, "pb_mmsc_post: no PDU");
	if (!m->mmsc_url)
		return pb_error_set(PB_EINVAL, "pb_mmsc_post: no MMSC URL in the options");
	bool send = kind == PB_MMSC_POST_SEND;
	pb_buf scratch = PB_BUF_INIT;
	request rq = { "POST", m->mmsc_url, pdu, len, send, !send || m->retry_send };
	int rc = perform(m, &rq, answer ? answer : &scratch, res);
	pb_buf_dispose(&scratch);
	return rc;
}
