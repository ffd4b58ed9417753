/*
 * libphonebridge — MMSC client: GET messages, POST PDUs, with the carrier's
 * proxy, interface, headers, size limit, retries, over the library's one
 * HTTP transport (http/); what an MMSC's answer means is judged here.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

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
	char **get_headers;  /* NULL-terminated "Name: value" lines */
	char **post_headers;
	size_t max_download;
	unsigned connect_timeout_ms, timeout_ms, stall_timeout_ms, max_redirects;
	pb_retry_policy retry;
	bool retry_send, tls_insecure;
	pb_mms_yes_no report_allowed;
	pb_mmsc_progress_cb progress;
	void *progress_userdata;
	pb_http__client http; /* kept between requests so connections are reused */
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

static int headers_append(char **list, const char *fmt, ...) PB_PRINTF(2, 3);

/* Append a line to the NULL-terminated @list, which has room for it. */
static int headers_append(char **list, const char *fmt, ...)
{
	pb_buf line = PB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	int rc = pb_buf_vprintf(&line, fmt, ap);
	va_end(ap);
	if (rc == 0) {
		while (*list)
			list++;
		*list = (char *)pb_buf_detach(&line, NULL);
		rc = *list ? 0 : PB_ENOMEM;
	}
	pb_buf_dispose(&line);
	return rc;
}

static void headers_free(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		pb_free(list[i]);
	pb_free(list);
}

static int build_headers(const pb_mmsc_options *o, char ***out, bool post)
{
	size_t n = 0;
	while (o->extra_headers && o->extra_headers[n])
		n++;
	char **list = *out = pb_calloc(n + 5, sizeof(*list));
	if (!list)
		return PB_ENOMEM;
	int rc = headers_append(list, "Accept: %s, */*", MMS_CONTENT_TYPE);
	/* no "Expect: 100-continue": WAP proxies and MMSCs mishandle it */
	if (rc == 0 && post)
		rc = headers_append(list, "Expect:");
	if (rc == 0 && post)
		rc = headers_append(list, "Content-Type: %s", MMS_CONTENT_TYPE);
	if (rc == 0 && o->wap_profile && *o->wap_profile)
		rc = headers_append(list, "x-wap-profile: %s", o->wap_profile);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = headers_append(list, "%s", o->extra_headers[i]);
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
	pb_mmsc *m = pb_calloc(1, sizeof(*m));
	if (!m)
		return PB_ENOMEM;
	rc = pb_http__client_init(&m->http);
	if (rc == 0)
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
		rc = build_headers(o, &m->get_headers, false);
	if (rc == 0)
		rc = build_headers(o, &m->post_headers, true);
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
	pb_http__client_dispose(&m->http);
	headers_free(m->get_headers);
	headers_free(m->post_headers);
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

pb_mms_yes_no pb_mmsc__report_allowed(const pb_mmsc *m)
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

typedef struct judge_ctx {
	pb_mmsc_result *res;
	const char *what; /* "METHOD url" */
	bool want_pdu;
} judge_ctx;

static void fill_result(pb_mmsc_result *res, const pb_http__answer *a)
{
	res->attempts = a->attempt;
	res->http_status = a->status;
	res->bytes = a->body_len;
	pb_strlcpy(res->content_type, a->content_type ? a->content_type : "", sizeof(res->content_type));
	pb_strlcpy(res->location, a->redirect_url && a->status >= 300 && a->status < 400 ? a->redirect_url : "",
		   sizeof(res->location));
}

/*
 * An HTTP/1.x body with neither a Content-Length nor chunks ends where the
 * connection closed, and a close too early looks like the end: only the
 * PDU itself can tell. One that does not decode whole is a transfer cut
 * short (retried, then the message stays at the MMSC), never a shorter
 * message.
 */
static pb_http__verdict whole_pdu(const pb_http__answer *a, const char *what)
{
	pb_http__verdict v = { 0, false, -1 };
	if (a->framed)
		return v; /* curl reports a cut itself */
	pb_mms_message *msg = NULL;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	int rc = pb_mms_decode(&msg, a->body, a->body_len, 0, &perr);
	pb_mms_message_free(msg);
	if (rc == PB_ENOMEM) {
		v.code = rc;
	} else if (rc < 0) {
		v.code = pb_error_set(PB_EAGAIN, "%s: the body ended after %zu bytes without a Content-Length and the "
				      "PDU in it is cut (offset %zu: %s): the connection closed early", what,
				      a->body_len, perr.offset, perr.text);
		v.retry = true;
	}
	return v;
}

/* What an MMSC's answer means (docs/mmsc.md, "Errors"). */
static pb_http__verdict judge(const pb_http__answer *a, void *ud)
{
	judge_ctx *j = ud;
	char ex[128];
	fill_result(j->res, a);
	/* requests that must not be repeated get one attempt (pb_mmsc_post) */
	pb_http__verdict v = pb_http__transport_verdict(a, j->what, true);
	if (v.code < 0)
		return v;
	long st = a->status;
	if (st >= 300 && st < 400) {
		v.code = pb_error_set(PB_EPROTO, "%s: HTTP %ld redirect to %s not followed", j->what, st,
				      j->res->location[0] ? j->res->location : "(no Location)");
		return v;
	}
	pb_mmsc__verdict sv = pb_mmsc__status_verdict(st);
	if (sv.code < 0) {
		pb_mmsc__excerpt(a->body, a->body_len, ex, sizeof(ex));
		v.code = pb_error_set(sv.code, "%s: HTTP %ld%s%s%s", j->what, st, ex[0] ? " \"" : "", ex,
				      ex[0] ? "\"" : "");
		v.retry = sv.transient;
		return v;
	}
	if (j->want_pdu && (v.code = pb_mmsc__check_pdu(j->what, st, j->res->content_type, a->body, a->body_len)) == 0)
		v = whole_pdu(a, j->what);
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
	judge_ctx j = { res, what, rq->want_pdu };
	/* a Content-Location comes from outside: the base set-up allows only
	 * http and https, also after redirects; the proxy is always set ("" =
	 * none, not even from the environment) */
	pb_http__base base = { .user_agent = m->user_agent, .ca_file = m->ca_file,
			       .tls_insecure = m->tls_insecure, .set_proxy = true, .proxy = m->proxy,
			       .interface = m->interface, .connect_timeout_ms = (long)m->connect_timeout_ms,
			       .timeout_ms = (long)m->timeout_ms };
	pb_http__request hr = {
		.what = what,
		.method = rq->method,
		.url = rq->url,
		.headers = (const char *const *)(rq->post ? m->post_headers : m->get_headers),
		.body = rq->post,
		.body_len = rq->post_len,
		.out = body,
		.max_bytes = m->max_download,
		.max_redirects = rq->post ? 0 : m->max_redirects,
		/* a stalled mobile link: no byte of an answer for this long */
		.stall_timeout_ms = (long)m->stall_timeout_ms,
		.progress = rq->post ? NULL : m->progress,
		.progress_userdata = m->progress_userdata,
		.attempts = rq->retry ? m->retry.attempts : 1,
		.backoff_base_ms = (long)m->retry.initial_delay_ms,
		.backoff_cap_ms = (long)m->retry.max_delay_ms,
		.retry_after_max_ms = (long)m->retry.max_delay_ms,
		.log_domain = DOMAIN,
		.judge = judge,
		.judge_userdata = &j,
	};
	int rc = pb_http__perform(&m->http, &base, &hr, NULL);
	if (rc == 0)
		pb_log_debug(DOMAIN, "%s: HTTP %ld, %zu bytes", what, res->http_status, res->bytes);
	return rc;
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
