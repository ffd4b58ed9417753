/*
 * libphonebridge — matrix: the handle, HTTP requests with the retry policy,
 * URLs and the mapping of Matrix errors.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "matrix/matrix-private.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <phonebridge/matrix.h>

/* The longest wait a 429 answer can ask for (retry_after_ms, Retry-After). */
#define RETRY_AFTER_MAX_MS 3600000L

/* --- small helpers ------------------------------------------------------- */

int pb_matrix__set_string(char **slot, const char *s)
{
	char *copy = NULL;
	if (s != NULL && (copy = pb_strdup(s)) == NULL)
		return PB_ENOMEM;
	pb_free(*slot);
	*slot = copy;
	return 0;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int pb_matrix__escape(pb_buf *u, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int rc;
		if (unreserved(*p)) {
			rc = pb_buf_putc(u, *p);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			rc = pb_buf_put(u, e, 3);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int pb_matrix__url(pb_buf *u, const pb_matrix *m, const char *fmt, ...)
{
	if (m->hs == NULL)
		return pb_error_set(PB_ESTATE, "matrix: no homeserver set (use pb_matrix_discover())");
	int rc = pb_buf_puts(u, m->hs);
	va_list ap;
	va_start(ap, fmt);
	for (const char *p = fmt; rc == 0 && *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			const char *seg = va_arg(ap, const char *);
			if (seg == NULL || *seg == '\0')
				rc = pb_error_set(PB_EINVAL, "matrix: empty path segment");
			else
				rc = pb_matrix__escape(u, seg);
			p++;
		} else {
			rc = pb_buf_putc(u, (uint8_t)*p);
		}
	}
	va_end(ap);
	return rc;
}

int pb_matrix__query(pb_buf *u, const char *key, const char *value)
{
	int rc = pb_buf_putc(u, memchr(u->data, '?', u->len) ? '&' : '?');
	if (rc == 0)
		rc = pb_buf_puts(u, key);
	if (rc == 0)
		rc = pb_buf_putc(u, '=');
	if (rc == 0)
		rc = pb_matrix__escape(u, value);
	return rc;
}

static int dump_cb(const char *buf, size_t size, void *data)
{
	return pb_buf_put(data, buf, size) == 0 ? 0 : -1;
}

int pb_matrix__dump(pb_buf *out, const json_t *json)
{
	if (json_dump_callback(json, dump_cb, out, JSON_COMPACT) != 0)
		return pb_error_last()->code == PB_ENOMEM ? PB_ENOMEM
							  : pb_error_set(PB_EINVAL, "matrix: cannot serialise JSON");
	return 0;
}

int pb_matrix__parse_object(const pb_buf *buf, const char *what, json_t **out)
{
	json_error_t err;
	json_t *j = json_loadb(pb_buf_cstr(buf), buf->len, 0, &err);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return pb_error_set(PB_EPROTO, "matrix: %s: answer is not a JSON object (offset %d: %s)",
				    what, j ? 0 : err.position, j ? "not an object" : err.text);
	}
	*out = j;
	return 0;
}

int pb_matrix__take_string(const json_t *obj, const char *key, const char *what, char **out)
{
	const char *s = json_string_value(json_object_get(obj, key));
	if (s == NULL || *s == '\0')
		return pb_error_set(PB_EPROTO, "matrix: %s: answer lacks \"%s\"", what, key);
	return (*out = pb_strdup(s)) ? 0 : PB_ENOMEM;
}

/* --- the handle ----------------------------------------------------------- */

static bool is_http_url(const char *s)
{
	return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

int pb_matrix__set_homeserver(pb_matrix *m, const char *url)
{
	if (url == NULL || !is_http_url(url) || strpbrk(url, " \t\r\n?#") != NULL)
		return pb_error_set(PB_EINVAL, "matrix: homeserver must be an http(s) URL without query: %s",
				    url ? url : "(null)");
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	char *copy = pb_strndup(url, n);
	if (copy == NULL)
		return PB_ENOMEM;
	pb_free(m->hs);
	m->hs = copy;
	return 0;
}

const char *pb_matrix_homeserver(const pb_matrix *m)
{
	return m->hs;
}

int pb_matrix_new(pb_matrix **out, const pb_matrix_options *opts)
{
	pb_matrix_options defaults = PB_MATRIX_OPTIONS_INIT;
	if (out == NULL)
		return pb_error_set(PB_EINVAL, "matrix: out is NULL");
	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	int vrc = PB_CHECK_VERSION(opts, PB_MATRIX_OPTIONS, 1);
	if (vrc < 0)
		return vrc;

	/* of a version 1 caller's struct only the members it had; retry stays 0s */
	pb_matrix_options full = PB_MATRIX_OPTIONS_INIT;
	memcpy(&full, opts, opts->version == 1 ? offsetof(pb_matrix_options, retry) : sizeof(full));
	opts = &full;
	if ((vrc = PB_CHECK_MS(opts, pb_matrix_options, connect_timeout_ms)) < 0 ||
	    (vrc = PB_CHECK_MS(opts, pb_matrix_options, request_timeout_ms)) < 0 ||
	    (vrc = PB_CHECK_MS(opts, pb_matrix_options, retry.initial_delay_ms)) < 0 ||
	    (vrc = PB_CHECK_MS(opts, pb_matrix_options, retry.max_delay_ms)) < 0)
		return vrc;

	pb_matrix *m = pb_calloc(1, sizeof(*m));
	if (m == NULL)
		return PB_ENOMEM;
	m->tls_insecure = opts->tls_insecure;
	m->discovery_http = opts->discovery_insecure_http;
	m->connect_timeout_ms = opts->connect_timeout_ms ? (long)opts->connect_timeout_ms : 10000;
	m->request_timeout_ms = opts->request_timeout_ms ? (long)opts->request_timeout_ms : 60000;
	/* retry, or the deprecated members it replaces when its own are 0 */
	m->attempts = opts->retry.attempts ? opts->retry.attempts
		      : opts->max_retries < UINT_MAX ? opts->max_retries + 1 : UINT_MAX;
	m->retry_base_ms = opts->retry.initial_delay_ms ? (long)opts->retry.initial_delay_ms
			   : opts->retry_base_ms > 0   ? opts->retry_base_ms
						       : 500;
	m->retry_cap_ms = opts->retry.max_delay_ms ? (long)opts->retry.max_delay_ms
			  : opts->retry_cap_ms > 0   ? opts->retry_cap_ms
						     : 30000;

	int rc = pb_http__client_init(&m->http);
	if (rc == 0 && opts->homeserver)
		rc = pb_matrix__set_homeserver(m, opts->homeserver);
	if (rc == 0 && opts->user_agent)
		rc = pb_matrix__set_string(&m->user_agent, opts->user_agent);
	if (rc == 0 && opts->ca_file)
		rc = pb_matrix__set_string(&m->ca_file, opts->ca_file);
	if (rc == 0 && opts->access_token)
		rc = pb_matrix__set_string(&m->token, opts->access_token);
	else if (rc == 0 && opts->access_token_file)
		rc = pb_matrix_read_secret_file(opts->access_token_file, &m->token);
	if (rc < 0) {
		pb_matrix_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

static void wipe_free(char *s)
{
	if (s) {
		volatile char *v = s;
		while (*v)
			*v++ = 0;
		pb_free(s);
	}
}

void pb_matrix_free(pb_matrix *m)
{
	if (m == NULL)
		return;
	pb_http__client_dispose(&m->http);
	pb_free(m->hs);
	wipe_free(m->token);
	pb_free(m->user_id);
	pb_free(m->device_id);
	pb_free(m->as_user);
	pb_free(m->user_agent);
	pb_free(m->ca_file);
	pb_free(m);
}

int pb_matrix_set_access_token(pb_matrix *m, const char *token)
{
	char *copy = NULL;
	if (token != NULL && (copy = pb_strdup(token)) == NULL)
		return PB_ENOMEM;
	wipe_free(m->token);
	m->token = copy;
	return 0;
}

const char *pb_matrix_access_token(const pb_matrix *m) { return m->token; }
const char *pb_matrix_user_id(const pb_matrix *m) { return m->user_id; }
const char *pb_matrix_device_id(const pb_matrix *m) { return m->device_id; }
const char *pb_matrix_last_errcode(const pb_matrix *m) { return m->errcode; }
int pb_matrix_last_status(const pb_matrix *m) { return m->status; }

void pb_matrix_cancel(pb_matrix *m)
{
	pb_http__cancel(&m->http);
}

void pb_matrix_cancel_reset(pb_matrix *m)
{
	pb_http__cancel_reset(&m->http);
}

int pb_matrix__sleep(pb_matrix *m, long ms)
{
	return pb_http__sleep(&m->http, ms, "matrix");
}

/* --- errors ---------------------------------------------------------------- */

int pb_matrix__map_error(const char *errcode, long status)
{
	static const struct {
		const char *errcode;
		int code;
	} table[] = {
		/* client-server API, "Standard error response" / "Common error codes" */
		{ "M_UNKNOWN_TOKEN", PB_EAUTH },
		{ "M_MISSING_TOKEN", PB_EAUTH },
		{ "M_USER_DEACTIVATED", PB_EAUTH },
		{ "M_NOT_FOUND", PB_ENOTFOUND },
		{ "M_LIMIT_EXCEEDED", PB_EAGAIN },
		{ "M_TOO_LARGE", PB_ETOOBIG },
		{ "M_UNRECOGNIZED", PB_EUNSUPPORTED },
		{ "M_BAD_JSON", PB_EINVAL },
		{ "M_NOT_JSON", PB_EINVAL },
		{ "M_INVALID_PARAM", PB_EINVAL },
		{ "M_MISSING_PARAM", PB_EINVAL },
		{ "M_INVALID_ROOM_STATE", PB_EINVAL },
		{ "M_ROOM_IN_USE", PB_EEXISTS },
		{ "M_USER_IN_USE", PB_EEXISTS },
		{ "M_EXCLUSIVE", PB_EEXISTS },
		{ "M_FORBIDDEN", PB_EPROTO },
		{ "M_GUEST_ACCESS_FORBIDDEN", PB_EPROTO },
		{ "M_RESOURCE_LIMIT_EXCEEDED", PB_EAGAIN },
		{ "M_NOT_YET_UPLOADED", PB_EAGAIN },
	};
	if (errcode && *errcode) {
		for (size_t i = 0; i < PB_ARRAY_SIZE(table); i++)
			if (strcmp(table[i].errcode, errcode) == 0)
				return table[i].code;
	}
	if (status == 401)
		return PB_EAUTH;
	if (status == 404)
		return PB_ENOTFOUND;
	if (status == 413)
		return PB_ETOOBIG;
	if (status == 429 || status >= 500)
		return PB_EAGAIN;
	return PB_EPROTO;
}

/* --- performing a request ---------------------------------------------------- */

/* Path and query of the URL, for messages (never holds a token). */
static const char *what_of(const pb_matrix *m, const char *url)
{
	if (m->hs && strncmp(url, m->hs, strlen(m->hs)) == 0)
		return url + strlen(m->hs);
	return url;
}

/* What an answer says: errcode, error text, retry_after_ms. */
static void read_error_body(pb_matrix *m, const pb_buf *body, pb_buf *text, long *retry_after_ms)
{
	json_t *j = json_loadb(pb_buf_cstr(body), body->len, 0, NULL);
	const char *ec = json_string_value(json_object_get(j, "errcode"));
	const char *err = json_string_value(json_object_get(j, "error"));
	json_t *ra = json_object_get(j, "retry_after_ms");
	pb_strlcpy(m->errcode, ec ? ec : "", sizeof(m->errcode));
	pb_buf_clear(text);
	if (err)
		pb_buf_printf(text, "%.300s", err);
	if (json_is_integer(ra) && json_integer_value(ra) >= 0)
		*retry_after_ms = (long)PB_MIN(json_integer_value(ra), (json_int_t)RETRY_AFTER_MAX_MS);
	json_decref(j);
}

typedef struct judge_ctx {
	pb_matrix *m;
	pb_matrix__req *r;
	const char *what; /* "matrix: METHOD PATH" */
	pb_buf text;      /* the error text of the last answer */
} judge_ctx;

/* What an answer means in Matrix: 2xx done; 429 (M_LIMIT_EXCEEDED) always
 * again after the time the server asks for; 5xx again when idempotent. */
static pb_http__verdict judge(const pb_http__answer *a, void *ud)
{
	judge_ctx *j = ud;
	pb_matrix *m = j->m;
	pb_matrix__req *r = j->r;
	m->errcode[0] = '\0';
	m->status = (int)a->status;
	pb_http__verdict v = pb_http__transport_verdict(a, j->what, r->idempotent);
	if (v.code < 0)
		return v;
	if (m->status >= 200 && m->status < 300) {
		if (r->out_content_type && a->content_type &&
		    (*r->out_content_type = pb_strdup(a->content_type)) == NULL)
			v.code = pb_error__oom();
		return v;
	}
	long retry_after = -1;
	read_error_body(m, r->out, &j->text, &retry_after);
	if (m->status == 429 || strcmp(m->errcode, "M_LIMIT_EXCEEDED") == 0) {
		v.retry = true; /* the server refused without acting */
		/* honoured (else the Retry-After header), but a hostile server
		 * cannot park us for days */
		if (retry_after >= 0)
			v.delay_ms = PB_MIN(retry_after, RETRY_AFTER_MAX_MS);
	} else if (m->status >= 500) {
		v.retry = r->idempotent;
	}
	int code = pb_matrix__map_error(m->errcode, m->status);
	v.code = pb_error_set(code, "%s: HTTP %d%s%s%s%s", j->what, m->status, m->errcode[0] ? " " : "",
			      m->errcode, j->text.len ? ": " : "", pb_buf_cstr(&j->text));
	return v;
}

static int request_url(pb_matrix *m, pb_matrix__req *r)
{
	pb_buf what = PB_BUF_INIT, ctype = PB_BUF_INIT, auth = PB_BUF_INIT;
	const char *headers[5];
	size_t nh = 0;
	int rc = pb_buf_printf(&what, "matrix: %s %s", r->method, what_of(m, r->url));

	if (r->out_content_type)
		*r->out_content_type = NULL;
	headers[nh++] = "Accept: application/json";
	if (rc == 0 && r->body) {
		rc = pb_buf_printf(&ctype, "Content-Type: %s", r->content_type ? r->content_type : "application/json");
		headers[nh++] = pb_buf_cstr(&ctype);
		/* no "Expect: 100-continue" round trip before big uploads */
		headers[nh++] = "Expect:";
	}
	if (rc == 0 && r->auth && m->token) {
		rc = pb_buf_printf(&auth, "Authorization: Bearer %s", m->token);
		headers[nh++] = pb_buf_cstr(&auth);
	}
	headers[nh] = NULL;
	if (rc < 0)
		goto out;

	judge_ctx j = { .m = m, .r = r, .what = pb_buf_cstr(&what), .text = PB_BUF_INIT };
	pb_http__base base = { .user_agent = m->user_agent, .ca_file = m->ca_file,
			       .tls_insecure = m->tls_insecure, .connect_timeout_ms = m->connect_timeout_ms,
			       .timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : m->request_timeout_ms };
	pb_http__request rq = {
		.what = j.what,
		.method = r->method,
		.url = r->url,
		.headers = headers,
		.body = r->body,
		.body_len = r->body_len,
		.out = r->out,
		.max_bytes = r->max_bytes,
		.max_redirects = r->follow ? 5 : 0,
		.accept_encoding = true,
		.attempts = m->attempts,
		.backoff_base_ms = m->retry_base_ms,
		.backoff_cap_ms = m->retry_cap_ms,
		.retry_after_max_ms = RETRY_AFTER_MAX_MS,
		.log_domain = PB_MATRIX_LOG,
		.judge = judge,
		.judge_userdata = &j,
	};
	m->errcode[0] = '\0';
	m->status = 0;
	pb_buf_clear(r->out);
	rc = pb_http__perform(&m->http, &base, &rq, NULL);
	pb_buf_dispose(&j.text);
out:
	if (auth.data)
		memset(auth.data, 0, auth.len);
	pb_buf_dispose(&auth);
	pb_buf_dispose(&ctype);
	pb_buf_dispose(&what);
	return rc;
}

/* An application service acts as one of its users by adding user_id= to
 * every authenticated request (Application Service API, "Identity
 * assertion"); a request's URL is built before, so the parameter joins here. */
int pb_matrix__request(pb_matrix *m, pb_matrix__req *r)
{
	if (!r->auth || m->as_user == NULL)
		return request_url(m, r);
	pb_buf u = PB_BUF_INIT;
	const char *url = r->url;
	int rc = pb_buf_puts(&u, url);
	if (rc == 0)
		rc = pb_matrix__query(&u, "user_id", m->as_user);
	if (rc < 0) {
		pb_buf_dispose(&u);
		return pb_error__oom();
	}
	r->url = pb_buf_cstr(&u);
	rc = request_url(m, r);
	r->url = url;
	pb_buf_dispose(&u);
	return rc;
}

int pb_matrix__call(pb_matrix *m, const char *method, const char *url, const json_t *body,
		    bool idempotent, json_t **answer)
{
	pb_buf req = PB_BUF_INIT, res = PB_BUF_INIT;
	int rc = 0;
	if (answer)
		*answer = NULL;
	if (body && (rc = pb_matrix__dump(&req, body)) < 0)
		goto out;
	pb_matrix__req r = {
		.method = method,
		.url = url,
		.body = body ? req.data : NULL,
		.body_len = req.len,
		.auth = true,
		.idempotent = idempotent,
		.out = &res,
	};
	rc = pb_matrix__request(m, &r);
	if (rc == 0 && answer)
		rc = pb_matrix__parse_object(&res, what_of(m, url), answer);
out:
	pb_buf_dispose(&req);
	pb_buf_dispose(&res);
	return rc;
}
