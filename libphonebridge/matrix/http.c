/*
 * libphonebridge — matrix: the handle, HTTP requests with the retry policy,
 * URLs and the mapping of Matrix errors.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "matrix/matrix-private.h"

#include <errno.h>
#include <stdarg.h>
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
	if ((vrc = pb_http__init()) < 0)
		return vrc;

	pb_matrix *m = pb_calloc(1, sizeof(*m));
	if (m == NULL)
		return PB_ENOMEM;
	atomic_init(&m->cancelled, 0);
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	m->tls_insecure = opts->tls_insecure;
	m->discovery_http = opts->discovery_insecure_http;
	m->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
	m->request_timeout_ms = opts->request_timeout_ms > 0 ? opts->request_timeout_ms : 60000;
	m->max_retries = opts->max_retries;
	m->retry_base_ms = opts->retry_base_ms > 0 ? opts->retry_base_ms : 500;
	m->retry_cap_ms = opts->retry_cap_ms > 0 ? opts->retry_cap_ms : 30000;

	int rc = 0;
	if (opts->homeserver)
		rc = pb_matrix__set_homeserver(m, opts->homeserver);
	if (rc == 0 && opts->user_agent)
		rc = pb_matrix__set_string(&m->user_agent, opts->user_agent);
	if (rc == 0 && opts->ca_file)
		rc = pb_matrix__set_string(&m->ca_file, opts->ca_file);
	if (rc == 0 && opts->access_token)
		rc = pb_matrix__set_string(&m->token, opts->access_token);
	else if (rc == 0 && opts->access_token_file)
		rc = pb_matrix_read_secret_file(opts->access_token_file, &m->token);
	if (rc == 0 && (m->curl = curl_easy_init()) == NULL)
		rc = pb_error_set(PB_ENOMEM, "matrix: curl_easy_init failed");
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
	if (m->curl)
		curl_easy_cleanup(m->curl);
	pb_free(m->hs);
	wipe_free(m->token);
	pb_free(m->user_id);
	pb_free(m->device_id);
	pb_free(m->as_user);
	pb_free(m->user_agent);
	pb_free(m->ca_file);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
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
	pthread_mutex_lock(&m->lock);
	atomic_store(&m->cancelled, 1);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

void pb_matrix_cancel_reset(pb_matrix *m)
{
	atomic_store(&m->cancelled, 0);
}

int pb_matrix__sleep(pb_matrix *m, long ms)
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
	pthread_mutex_lock(&m->lock);
	while (!atomic_load(&m->cancelled) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&m->cond, &m->lock, &until);
	pthread_mutex_unlock(&m->lock);
	return atomic_load(&m->cancelled) ? pb_error_set(PB_ECANCELLED, "matrix: cancelled") : 0;
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

typedef struct xfer {
	pb_matrix *m;
	pb_matrix__req *r;
	bool too_big;
	bool oom;
	long retry_after_hdr_ms; /* -1: none */
	char *content_type;
} xfer;

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t n = size * nmemb;
	if (x->r->max_bytes && x->r->out->len + n > x->r->max_bytes) {
		x->too_big = true;
		return 0;
	}
	if (pb_buf_put(x->r->out, ptr, n) < 0) {
		x->oom = true;
		return 0;
	}
	return n;
}

static bool header_is(const char *line, size_t n, const char *name, const char **value, size_t *vlen)
{
	size_t l = strlen(name);
	if (n <= l || pb_ascii_ncasecmp(line, name, l) != 0 || line[l] != ':')
		return false;
	const char *v = line + l + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	*value = v;
	*vlen = (size_t)(end - v);
	return true;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t n = size * nmemb;
	const char *v;
	size_t vl;
	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new answer (after a redirect or 100-continue): forget the old one's headers */
		pb_free(x->content_type);
		x->content_type = NULL;
		x->retry_after_hdr_ms = -1;
	} else if (header_is(line, n, "Content-Type", &v, &vl)) {
		pb_free(x->content_type);
		if ((x->content_type = pb_strndup(v, vl)) == NULL)
			x->oom = true;
	} else if (header_is(line, n, "Retry-After", &v, &vl)) {
		/* delta-seconds only; an HTTP date is ignored (back-off applies) */
		long ra = pb_http__retry_after_ms(v, vl);
		if (ra >= 0)
			x->retry_after_hdr_ms = ra;
	}
	return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	xfer *x = ud;
	return atomic_load(&x->m->cancelled) ? 1 : 0;
}

/* Path and query of the URL, for messages (never holds a token). */
static const char *what_of(const pb_matrix *m, const char *url)
{
	if (m->hs && strncmp(url, m->hs, strlen(m->hs)) == 0)
		return url + strlen(m->hs);
	return url;
}

static int perform_once(pb_matrix *m, pb_matrix__req *r, xfer *x, CURLcode *cc, char *curl_err)
{
	CURL *c = m->curl;
	struct curl_slist *hdrs = NULL, *h;
	pb_buf auth = PB_BUF_INIT, ctype = PB_BUF_INIT;
	int rc = 0;

	curl_easy_reset(c);
	pb_buf_clear(r->out);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (hdrs && r->body) {
		if (pb_buf_printf(&ctype, "Content-Type: %s",
				  r->content_type ? r->content_type : "application/json") < 0) {
			rc = PB_ENOMEM;
			goto out;
		}
		h = curl_slist_append(hdrs, pb_buf_cstr(&ctype));
		hdrs = h ? h : (curl_slist_free_all(hdrs), NULL);
		/* no "Expect: 100-continue" round trip before big uploads */
		h = hdrs ? curl_slist_append(hdrs, "Expect:") : NULL;
		hdrs = h ? h : (curl_slist_free_all(hdrs), NULL);
	}
	if (hdrs && r->auth && m->token) {
		if (pb_buf_printf(&auth, "Authorization: Bearer %s", m->token) < 0) {
			rc = PB_ENOMEM;
			goto out;
		}
		h = curl_slist_append(hdrs, pb_buf_cstr(&auth));
		hdrs = h ? h : (curl_slist_free_all(hdrs), NULL);
	}
	if (hdrs == NULL) {
		rc = pb_error_set(PB_ENOMEM, "matrix: out of memory for headers");
		goto out;
	}

	pb_http__base base = { .user_agent = m->user_agent, .ca_file = m->ca_file,
			       .tls_insecure = m->tls_insecure, .connect_timeout_ms = m->connect_timeout_ms,
			       .timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : m->request_timeout_ms,
			       .errbuf = curl_err };
	pb_http__setup(c, &base);
	curl_easy_setopt(c, CURLOPT_URL, r->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	if (r->follow) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	}
	if (strcmp(r->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
	}
	curl_err[0] = '\0';
	*cc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	m->status = (int)status;
out:
	curl_slist_free_all(hdrs);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	if (auth.data)
		memset(auth.data, 0, auth.len);
	pb_buf_dispose(&auth);
	pb_buf_dispose(&ctype);
	return rc;
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

static long backoff_ms(const pb_matrix *m, unsigned attempt)
{
	return pb_http__backoff_ms(m->retry_base_ms, m->retry_cap_ms, attempt);
}

static int request_url(pb_matrix *m, pb_matrix__req *r)
{
	char curl_err[CURL_ERROR_SIZE];
	const char *what = what_of(m, r->url);
	pb_buf text = PB_BUF_INIT;
	int rc = 0;

	if (r->out_content_type)
		*r->out_content_type = NULL;
	for (unsigned attempt = 0;; attempt++) {
		xfer x = { .m = m, .r = r, .retry_after_hdr_ms = -1 };
		CURLcode cc = CURLE_OK;
		bool retry = false;
		long delay = backoff_ms(m, attempt);

		m->errcode[0] = '\0';
		m->status = 0;
		if (atomic_load(&m->cancelled)) {
			rc = pb_error_set(PB_ECANCELLED, "matrix: %s %s: cancelled", r->method, what);
			break;
		}
		rc = perform_once(m, r, &x, &cc, curl_err);
		if (rc == 0 && x.oom)
			rc = pb_error__oom();
		if (rc < 0) {
			pb_free(x.content_type);
			break;
		}
		if (cc != CURLE_OK) {
			switch (cc) {
			case CURLE_ABORTED_BY_CALLBACK:
				rc = pb_error_set(PB_ECANCELLED, "matrix: %s %s: cancelled", r->method, what);
				break;
			case CURLE_WRITE_ERROR:
				rc = x.too_big ? pb_error_set(PB_ETOOBIG, "matrix: %s %s: answer over %zu bytes",
							      r->method, what, r->max_bytes)
					       : pb_error_set(PB_EIO, "matrix: %s %s: write error", r->method, what);
				break;
			case CURLE_COULDNT_CONNECT:
			case CURLE_COULDNT_RESOLVE_HOST:
				/* nothing was sent: always safe to try again */
				retry = true;
				rc = pb_error_set(PB_EIO, "matrix: %s %s: %s", r->method, what,
						  curl_err[0] ? curl_err : curl_easy_strerror(cc));
				break;
			case CURLE_OPERATION_TIMEDOUT:
				retry = r->idempotent;
				rc = pb_error_set(PB_ETIMEOUT, "matrix: %s %s: timed out", r->method, what);
				break;
			case CURLE_GOT_NOTHING:
			case CURLE_RECV_ERROR:
			case CURLE_SEND_ERROR:
			case CURLE_PARTIAL_FILE:
			case CURLE_HTTP2:
			case CURLE_HTTP2_STREAM:
				retry = r->idempotent;
				/* fall through */
			default:
				rc = pb_error_set(PB_EIO, "matrix: %s %s: %s", r->method, what,
						  curl_err[0] ? curl_err : curl_easy_strerror(cc));
				break;
			}
		} else if (m->status >= 200 && m->status < 300) {
			if (r->out_content_type) {
				*r->out_content_type = x.content_type;
				x.content_type = NULL;
			}
			rc = 0;
		} else {
			long retry_after = -1;
			read_error_body(m, r->out, &text, &retry_after);
			if (m->status == 429 || strcmp(m->errcode, "M_LIMIT_EXCEEDED") == 0) {
				retry = true; /* the server refused without acting */
				if (retry_after < 0)
					retry_after = x.retry_after_hdr_ms;
				/* honoured, but a hostile server cannot park us for days */
				if (retry_after >= 0)
					delay = PB_MIN(retry_after, RETRY_AFTER_MAX_MS);
			} else if (m->status >= 500) {
				retry = r->idempotent;
			}
			int code = pb_matrix__map_error(m->errcode, m->status);
			rc = pb_error_set(code, "matrix: %s %s: HTTP %d%s%s%s%s", r->method, what, m->status,
					  m->errcode[0] ? " " : "", m->errcode, text.len ? ": " : "",
					  pb_buf_cstr(&text));
		}
		pb_free(x.content_type);
		if (rc == 0 || !retry || attempt >= m->max_retries)
			break;
		pb_log_info(PB_MATRIX_LOG, "%s; retry %u/%u in %ld ms", pb_error_last()->message,
			    attempt + 1, m->max_retries, delay);
		int src = pb_matrix__sleep(m, delay);
		if (src < 0) {
			rc = src;
			break;
		}
	}
	pb_buf_dispose(&text);
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
