/*
 * libphonebridge — Content-Location rewrite rules, for routers that keep
 * only part of the URL the MMSC sent (see pb_mmsc_rewrite_location()).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "mmsc/mmsc-private.h"

typedef enum keep_what { KEEP_ALL, KEEP_PATH, KEEP_LAST, KEEP_QUERY } keep_what;

typedef struct rule {
	pb_buf match; /* empty: any */
	pb_buf base;
	pb_buf host;
	keep_what keep;
	bool has_base, has_host, has_match;
} rule;

static void rule_dispose(rule *r)
{
	pb_buf_dispose(&r->match);
	pb_buf_dispose(&r->base);
	pb_buf_dispose(&r->host);
}

static bool word_is(const char *w, size_t wlen, const char *key, const char **val, size_t *vlen)
{
	size_t k = strlen(key);
	if (wlen <= k || strncmp(w, key, k) != 0 || w[k] != '=')
		return false;
	*val = w + k + 1;
	*vlen = wlen - k - 1;
	return true;
}

static int parse_keep(const char *v, size_t n, keep_what *out)
{
	static const struct { const char *name; keep_what k; } names[] = {
		{ "all", KEEP_ALL }, { "path", KEEP_PATH }, { "last", KEEP_LAST }, { "query", KEEP_QUERY },
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(names); i++) {
		if (strlen(names[i].name) == n && strncmp(v, names[i].name, n) == 0) {
			*out = names[i].k;
			return 0;
		}
	}
	return pb_error_set(PB_EINVAL, "rewrite rule: keep=%.*s: expected all, path, last or query",
			    (int)n, v);
}

static int parse_rule(const char *text, const char *mmsc_url, rule *r)
{
	const char *p = text;
	int rc;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *w = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		size_t wlen = (size_t)(p - w);
		const char *v;
		size_t vlen;
		if (word_is(w, wlen, "match", &v, &vlen)) {
			r->has_match = true;
			rc = pb_buf_put(&r->match, v, vlen);
		} else if (word_is(w, wlen, "base", &v, &vlen)) {
			r->has_base = true;
			if (vlen == 4 && strncmp(v, "mmsc", 4) == 0) {
				if (!mmsc_url)
					return pb_error_set(PB_EINVAL, "rewrite rule: base=mmsc but no MMSC URL is set");
				rc = pb_buf_puts(&r->base, mmsc_url);
			} else {
				rc = pb_buf_put(&r->base, v, vlen);
			}
		} else if (word_is(w, wlen, "host", &v, &vlen)) {
			r->has_host = true;
			rc = pb_buf_put(&r->host, v, vlen);
		} else if (word_is(w, wlen, "keep", &v, &vlen)) {
			rc = parse_keep(v, vlen, &r->keep);
		} else {
			return pb_error_set(PB_EINVAL, "rewrite rule: unknown word \"%.*s\" (expected match=, base=, keep= or host=)",
					    (int)wlen, w);
		}
		if (rc < 0)
			return rc;
	}
	if (r->has_base == r->has_host)
		return pb_error_set(PB_EINVAL, "rewrite rule \"%s\": needs exactly one of base= and host=", text);
	return 0;
}

/* Is @url an absolute http(s) URL libcurl accepts? */
static bool is_http_url(const char *url)
{
	CURLU *u = curl_url();
	if (!u)
		return false;
	char *scheme = NULL;
	bool ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		  (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
	curl_free(scheme);
	curl_url_cleanup(u);
	return ok;
}

static bool has_scheme(const char *s)
{
	return strstr(s, "://") != NULL && strcspn(s, "/?") > strcspn(s, ":");
}

/*
 * The path-and-query part of @loc: for an absolute URL what follows the
 * authority, for anything else @loc itself.
 */
static const char *path_of(const char *loc)
{
	if (!has_scheme(loc))
		return loc;
	const char *a = strstr(loc, "://") + 3;
	return a + strcspn(a, "/?#");
}

static int kept_part(const char *loc, keep_what keep, pb_buf *out)
{
	const char *path = path_of(loc);
	const char *q = strchr(path, '?');
	switch (keep) {
	case KEEP_ALL:
		return pb_buf_puts(out, loc);
	case KEEP_PATH:
		return pb_buf_puts(out, path);
	case KEEP_LAST: {
		size_t plen = q ? (size_t)(q - path) : strlen(path);
		const char *last = path;
		for (size_t i = 0; i < plen; i++)
			if (path[i] == '/')
				last = path + i + 1;
		return pb_buf_puts(out, last);
	}
	case KEEP_QUERY:
		if (q)
			return pb_buf_puts(out, q);
		if (has_scheme(loc))
			return 0; /* a whole URL without a query */
		/* the router kept only "T=abc": that is the query */
		return pb_buf_printf(out, "?%s", loc);
	}
	return pb_error_set(PB_EINVAL, "rewrite rule: bad keep");
}

static int apply_base(const rule *r, const char *loc, pb_buf *out)
{
	pb_buf kept = PB_BUF_INIT;
	int rc = kept_part(loc, r->keep, &kept);
	if (rc < 0)
		goto out;
	const char *k = pb_buf_cstr(&kept);
	const char *b = pb_buf_cstr(&r->base);
	size_t blen = r->base.len;
	bool slash = k[0] == '/';
	while (*k == '/')
		k++;
	/* one '/' between base and a path; none before a bare query */
	slash = slash || (*k != '\0' && *k != '?');
	if (slash)
		while (blen > 0 && b[blen - 1] == '/')
			blen--;
	rc = pb_buf_put(out, b, blen);
	if (rc == 0 && slash)
		rc = pb_buf_putc(out, '/');
	if (rc == 0)
		rc = pb_buf_puts(out, k);
out:
	pb_buf_dispose(&kept);
	return rc;
}

static int apply_host(const rule *r, const char *loc, pb_buf *out)
{
	if (!has_scheme(loc))
		return pb_error_set(PB_EINVAL, "rewrite rule host=: location \"%s\" is not an absolute URL", loc);
	const char *a = strstr(loc, "://") + 3;
	const char *rest = a + strcspn(a, "/?#");
	const char *at = memchr(a, '@', (size_t)(rest - a)); /* keep user info */
	const char *host_start = at ? at + 1 : a;
	int rc = pb_buf_put(out, loc, (size_t)(host_start - loc));
	if (rc == 0)
		rc = pb_buf_put(out, r->host.data, r->host.len);
	if (rc == 0)
		rc = pb_buf_puts(out, rest);
	return rc;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int pb_mmsc__trim(const char *s, pb_buf *out)
{
	while (is_space(*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		n--;
	return pb_buf_put(out, s, n);
}

PB_API int pb_mmsc_rewrite_location(const char *rule_text, const char *mmsc_url, const char *location_in,
				    char **out)
{
	if (!rule_text || !location_in || !out)
		return pb_error_set(PB_EINVAL, "pb_mmsc_rewrite_location: NULL argument");
	*out = NULL;
	rule r = { PB_BUF_INIT, PB_BUF_INIT, PB_BUF_INIT, KEEP_ALL, false, false, false };
	pb_buf url = PB_BUF_INIT, trimmed = PB_BUF_INIT;
	/* some MMSCs pad the Content-Location with spaces */
	int rc = pb_mmsc__trim(location_in, &trimmed);
	const char *location = pb_buf_cstr(&trimmed);
	if (rc == 0)
		rc = parse_rule(rule_text, mmsc_url, &r);
	if (rc < 0)
		goto out;
	if (r.has_match && !strstr(location, pb_buf_cstr(&r.match)))
		goto out; /* not for this rule */
	rc = r.has_base ? apply_base(&r, location, &url) : apply_host(&r, location, &url);
	if (rc < 0)
		goto out;
	if (!is_http_url(pb_buf_cstr(&url))) {
		rc = pb_error_set(PB_EINVAL, "rewrite rule \"%s\" made \"%s\" from \"%s\": not an http(s) URL",
				  rule_text, pb_buf_cstr(&url), location);
		goto out;
	}
	*out = (char *)pb_buf_detach(&url, NULL);
	if (!*out)
		rc = PB_ENOMEM;
out:
	pb_buf_dispose(&url);
	pb_buf_dispose(&trimmed);
	rule_dispose(&r);
	return rc;
}

/* Check a rule's syntax at pb_mmsc_new() time, so mistakes show early. */
int pb_mmsc__rule_check(const char *rule_text, const char *mmsc_url)
{
	rule r = { PB_BUF_INIT, PB_BUF_INIT, PB_BUF_INIT, KEEP_ALL, false, false, false };
	int rc = parse_rule(rule_text, mmsc_url, &r);
	rule_dispose(&r);
	return rc;
}
