/*
 * pb-bridged — configuration (INI, read with inih) and the small pure
 * helpers of the journal stages.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bridge.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ini.h>

typedef struct parse_ctx {
	pbb_config *c;
	char *err;
	size_t errlen;
	bool failed;
} parse_ctx;

static int fail(parse_ctx *p, int line, const char *fmt, ...) PB_PRINTF(3, 4);
static int fail(parse_ctx *p, int line, const char *fmt, ...)
{
	if (p->failed)
		return 0;
	p->failed = true;
	int n = line > 0 ? snprintf(p->err, p->errlen, "line %d: ", line) : 0;
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return 0;
}

static int set_str(char **dst, const char *v)
{
	char *s = pb_strdup(v);
	if (!s)
		return -1;
	pb_free(*dst);
	*dst = s;
	return 0;
}

static bool parse_int(const char *v, int lo, int hi, int *out)
{
	char *end;
	long x = strtol(v, &end, 10);
	if (end == v || *end || x < lo || x > hi)
		return false;
	*out = (int)x;
	return true;
}

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "off"))
		*out = false;
	else
		return false;
	return true;
}

/* "307200", "300K", "1M" (K and M are 1024 and 1024*1024), at least 1 KiB */
static bool parse_size(const char *v, size_t *out)
{
	char *end;
	unsigned long long x = strtoull(v, &end, 10);
	if (end == v || v[0] == '-')
		return false;
	unsigned long long mul = 1;
	if (*end == 'K' || *end == 'k')
		mul = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mul = 1024 * 1024, end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || x == 0 || x > (1ULL << 32) / mul || x * mul < 1024)
		return false;
	*out = (size_t)(x * mul);
	return true;
}

/* owners = @a:example.org, @b:example.org */
static int set_owners(pbb_config *c, const char *v)
{
	for (size_t i = 0; i < c->n_owners; i++)
		pb_free(c->owners[i]);
	pb_free(c->owners);
	c->owners = NULL;
	c->n_owners = 0;
	const char *p = v;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',' && *e != ' ' && *e != '\t')
			e++;
		if (e == p)
			break;
		char **n = pb_realloc(c->owners, (c->n_owners + 1) * sizeof(*n));
		if (!n)
			return -1;
		c->owners = n;
		char *s = pb_malloc((size_t)(e - p) + 1);
		if (!s)
			return -1;
		memcpy(s, p, (size_t)(e - p));
		s[e - p] = '\0';
		c->owners[c->n_owners++] = s;
		p = e;
	}
	return 0;
}

const char *pbb_header_check(const char *h)
{
	if (strpbrk(h, "\r\n"))
		return "a header must not hold CR or LF (header injection)";
	const char *colon = strchr(h, ':');
	if (!colon || colon == h)
		return "\"Name: value\" expected";
	/* the name is an RFC 9110 token */
	for (const char *q = h; q < colon; q++)
		if (!isalnum((unsigned char)*q) && !strchr("!#$%&'*+-.^_`|~", *q))
			return "the header name is not a token (letters, digits, -)";
	for (const char *q = colon + 1; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t')
			return "a control character in the header value";
	return NULL;
}

static int add_header(pbb_config *c, const char *v)
{
	char **n = pb_realloc(c->mmsc_headers, (c->n_mmsc_headers + 2) * sizeof(*n));
	if (!n)
		return -1;
	c->mmsc_headers = n;
	if (!(n[c->n_mmsc_headers] = pb_strdup(v)))
		return -1;
	n[++c->n_mmsc_headers] = NULL;
	return 0;
}

#define KEY(sec, k) (!strcmp(section, sec) && !strcmp(name, k))

static int handler(void *ud, const char *section, const char *name, const char *value)
{
	const int line = 0; /* inih as Debian builds it does not pass line numbers */
	parse_ctx *p = ud;
	pbb_config *c = p->c;
	int r = 0;
	if (KEY("modem", "backend"))
		r = set_str(&c->modem_backend, value);
	else if (KEY("modem", "url"))
		r = set_str(&c->modem_url, value);
	else if (KEY("modem", "device"))
		r = set_str(&c->modem_device, value);
	else if (KEY("modem", "username"))
		r = set_str(&c->modem_username, value);
	else if (KEY("modem", "password_file"))
		r = set_str(&c->modem_password_file, value);
	else if (KEY("modem", "token_file"))
		r = set_str(&c->modem_token_file, value);
	else if (KEY("modem", "login"))
		r = set_str(&c->modem_login, value);
	else if (KEY("modem", "storage"))
		r = set_str(&c->modem_storage, value);
	else if (KEY("modem", "poll_interval_ms")) {
		if (!parse_int(value, 100, 3600000, &c->modem_poll_ms))
			return fail(p, line, "poll_interval_ms: a number of milliseconds (100-3600000)");
	} else if (KEY("modem", "timeout_ms")) {
		if (!parse_int(value, 100, 600000, &c->modem_timeout_ms))
			return fail(p, line, "timeout_ms: a number of milliseconds (100-600000)");
	} else if (KEY("modem", "send_timeout_ms")) {
		if (!parse_int(value, 100, 600000, &c->modem_send_timeout_ms))
			return fail(p, line, "send_timeout_ms: a number of milliseconds (100-600000)");
	} else if (KEY("modem", "incomplete_timeout_ms")) {
		if (!parse_int(value, 1000, 86400000, &c->incomplete_timeout_ms))
			return fail(p, line, "incomplete_timeout_ms: a number of milliseconds (1000-86400000)");
	} else if (KEY("modem", "tls_insecure") || KEY("modem", "insecure_tls")) {
		/* insecure_tls: the old spelling, still read (docs/abi.md) */
		if (!parse_bool(value, &c->modem_insecure_tls))
			return fail(p, line, "tls_insecure: true or false");
	} else if (KEY("modem", "import_existing")) {
		if (!parse_bool(value, &c->import_existing))
			return fail(p, line, "import_existing: yes or no");
	} else if (KEY("modem", "own_number")) {
		if (strlen(value) >= sizeof(c->own_number))
			return fail(p, line, "own_number: too long");
		snprintf(c->own_number, sizeof(c->own_number), "%s", value); /* normalised in finish() */
	} else if (KEY("mmsc", "max_size")) {
		if (!parse_size(value, &c->mmsc_max_size))
			return fail(p, line, "max_size: a size in bytes, or with K or M (e.g. 300K)");
	} else if (KEY("mmsc", "fetch_attempts")) {
		if (!parse_int(value, 1, 1000, &c->mmsc_fetch_attempts))
			return fail(p, line, "fetch_attempts: a number of attempts (1-1000)");
	} else if (KEY("mmsc", "fetch_retry_ms")) {
		if (!parse_int(value, 100, 86400000, &c->mmsc_fetch_retry_ms))
			return fail(p, line, "fetch_retry_ms: a number of milliseconds (100-86400000)");
	} else if (KEY("mmsc", "url"))
		r = set_str(&c->mmsc_url, value);
	else if (KEY("mmsc", "proxy"))
		r = set_str(&c->mmsc_proxy, value);
	else if (KEY("mmsc", "interface"))
		r = set_str(&c->mmsc_interface, value);
	else if (KEY("mmsc", "rewrite"))
		r = set_str(&c->mmsc_rewrite, value);
	else if (KEY("mmsc", "user_agent"))
		r = set_str(&c->mmsc_user_agent, value);
	else if (KEY("mmsc", "headers")) {
		/* the key may be repeated: inih calls us once per occurrence */
		const char *why = pbb_header_check(value);
		if (why)
			return fail(p, line, "[mmsc] headers: %s", why);
		r = add_header(c, value);
	}
	else if (KEY("matrix", "homeserver"))
		r = set_str(&c->homeserver, value);
	else if (KEY("matrix", "token_file"))
		r = set_str(&c->token_file, value);
	else if (KEY("matrix", "owners"))
		r = set_owners(c, value);
	else if (KEY("matrix", "sync_timeout_ms")) {
		if (!parse_int(value, 0, 600000, &c->sync_timeout_ms))
			return fail(p, line, "sync_timeout_ms: a number of milliseconds (0-600000)");
	} else if (KEY("matrix", "encryption")) {
		static const char *const modes[] = { "off", "allow", "default", "require" };
		c->encryption = -1;
		for (int i = 0; i < 4; i++)
			if (!strcmp(value, modes[i]))
				c->encryption = i;
		if (c->encryption < 0)
			return fail(p, line, "encryption: off, allow, default or require");
	} else if (KEY("matrix", "pickle_key_file"))
		r = set_str(&c->pickle_key_file, value);
	else if (KEY("matrix", "undecryptable_timeout_ms")) {
		if (!parse_int(value, 0, 86400000, &c->undecryptable_ms))
			return fail(p, line, "undecryptable_timeout_ms: a number of milliseconds (0-86400000)");
	} else if (KEY("matrix", "retry_max_ms")) {
		if (!parse_int(value, 100, 3600000, &c->retry_max_ms))
			return fail(p, line, "retry_max_ms: a number of milliseconds (100-3600000)");
	} else if (KEY("matrix", "mode")) {
		if (!strcmp(value, "bot"))
			c->mode = PBB_MODE_BOT;
		else if (!strcmp(value, "appservice"))
			c->mode = PBB_MODE_APPSERVICE;
		else
			return fail(p, line, "mode: bot or appservice");
	} else if (KEY("matrix", "delivery")) {
		static const char *const kinds[] = { "", "receipt", "reaction", "notice" };
		c->delivery = -1;
		for (int i = 1; i < 4; i++)
			if (!strcmp(value, kinds[i]))
				c->delivery = i;
		if (c->delivery < 0)
			return fail(p, line, "delivery: receipt, reaction or notice");
	} else if (KEY("matrix", "as_token_file"))
		r = set_str(&c->as_token_file, value);
	else if (KEY("matrix", "hs_token_file"))
		r = set_str(&c->hs_token_file, value);
	else if (KEY("matrix", "listen"))
		r = set_str(&c->listen, value);
	else if (KEY("matrix", "appservice_url"))
		r = set_str(&c->appservice_url, value);
	else if (KEY("matrix", "appservice_id"))
		r = set_str(&c->appservice_id, value);
	else if (KEY("matrix", "sender_localpart"))
		r = set_str(&c->sender_localpart, value);
	else if (KEY("matrix", "puppet_template"))
		r = set_str(&c->puppet_template, value);
	else if (KEY("matrix", "server_name"))
		r = set_str(&c->server_name, value);
	else if (KEY("bridge", "store")) {
		r = set_str(&c->store_path, value);
	} else if (KEY("bridge", "region")) {
		size_t n = strlen(value);
		if (n != 2 || !isalpha((unsigned char)value[0]) || !isalpha((unsigned char)value[1]))
			return fail(p, line, "region: a two-letter country code such as DE");
		c->region[0] = (char)toupper((unsigned char)value[0]);
		c->region[1] = (char)toupper((unsigned char)value[1]);
		c->region[2] = '\0';
	} else if (KEY("bridge", "store_sync")) {
		if (!strcmp(value, "normal"))
			c->store_sync_normal = true;
		else if (!strcmp(value, "full"))
			c->store_sync_normal = false;
		else
			return fail(p, line, "store_sync: full or normal");
	} else if (KEY("bridge", "delivery_reports")) {
		if (!parse_bool(value, &c->delivery_reports))
			return fail(p, line, "delivery_reports: yes or no");
	} else if (KEY("calls", "follow")) {
		if (!parse_bool(value, &c->calls_follow))
			return fail(p, line, "[calls] follow: yes or no");
	} else if (KEY("calls", "answered")) {
		if (!parse_bool(value, &c->calls_answered))
			return fail(p, line, "[calls] answered: yes or no");
	} else if (KEY("calls", "store")) {
		if (strncmp(value, "postgresql://", 13) && strncmp(value, "postgres://", 11))
			return fail(p, line, "[calls] store: a PostgreSQL URL, postgresql://... (without it: "
					     "the call log of [bridge] store)");
		r = set_str(&c->calls_store, value);
	} else if (KEY("calls", "password_file")) {
		r = set_str(&c->calls_password_file, value);
	} else if (KEY("calls", "missed")) {
		if (!parse_bool(value, &c->calls_missed))
			return fail(p, line, "[calls] missed: yes or no");
	} else if (KEY("calls", "screened")) {
		if (!strcmp(value, "digest"))
			c->calls_screened = PBB_SCREENED_DIGEST;
		else if (!strcmp(value, "live"))
			c->calls_screened = PBB_SCREENED_LIVE;
		else if (!strcmp(value, "off"))
			c->calls_screened = PBB_SCREENED_OFF;
		else
			return fail(p, line, "[calls] screened: digest, live or off");
	} else if (KEY("calls", "digest_at")) {
		unsigned h = 99, m = 99, sec = 0;
		int used = -1, used3 = -1;
		sscanf(value, "%2u:%2u%n:%2u%n", &h, &m, &used, &sec, &used3);
		size_t len = strlen(value);
		bool whole = (used3 > 0 && (size_t)used3 == len) || (used > 0 && (size_t)used == len);
		if (!whole || !isdigit((unsigned char)value[0]) || h > 23 || m > 59 || sec > 59)
			return fail(p, line, "[calls] digest_at: a local time HH:MM or HH:MM:SS");
		c->calls_digest_at = (int)(h * 3600 + m * 60 + sec);
	} else if (KEY("http", "listen")) {
		/* the address is checked by pb_listener_new() in check and run */
		r = set_str(&c->http_listen, value);
	} else if (KEY("bridge", "stall_timeout_ms")) {
		if (!parse_int(value, 1000, 86400000, &c->stall_timeout_ms))
			return fail(p, line, "stall_timeout_ms: a number of milliseconds (1000-86400000)");
	} else
		return fail(p, line, "unknown setting [%s] %s", section, name);
	if (r < 0)
		return fail(p, line, "out of memory");
	return 1;
}

static int finish(parse_ctx *p, int rc)
{
	pbb_config *c = p->c;
	if (rc > 0 && !p->failed)
		fail(p, rc, "not an INI line");
	if (rc > 0 && p->failed && p->err[0] && strncmp(p->err, "line ", 5) != 0) {
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s", p->err);
		snprintf(p->err, p->errlen, "line %d: %s", rc, tmp);
	}
	if (rc < 0 && !p->failed)
		fail(p, 0, "cannot read the file");
	if (p->failed)
		return -1;
	if (!c->modem_backend)
		return fail(p, 0, "[modem] backend is required"), -1;
	if (!strcmp(c->modem_backend, "at") ? !c->modem_device : !c->modem_url)
		return fail(p, 0, "[modem] %s is required for backend %s",
			    strcmp(c->modem_backend, "at") ? "url" : "device", c->modem_backend), -1;
	if (c->mode == PBB_MODE_APPSERVICE) {
		const char *why = pbb_as_config_check(c);
		if (why)
			return fail(p, 0, "[matrix] %s", why), -1;
		/* the bridge's own requests carry the as_token */
		if (set_str(&c->token_file, c->as_token_file) < 0)
			return fail(p, 0, "out of memory"), -1;
		/* one listener: /health, /metrics and the status page are served
		 * on the application service's */
		if (c->http_listen && strcmp(c->http_listen, pbb_as_listen(c)) != 0)
			return fail(p, 0, "[http] listen %s: in appservice mode /health and /metrics are served on "
				    "[matrix] listen (%s); leave [http] listen out or give the same address",
				    c->http_listen, pbb_as_listen(c)), -1;
	} else if (!c->homeserver || !c->token_file)
		return fail(p, 0, "[matrix] homeserver and token_file are required"), -1;
	else if (c->delivery == PBB_DELIVERY_RECEIPT)
		return fail(p, 0, "[matrix] delivery = receipt needs mode = appservice (a contact's puppet reads)"), -1;
	if (c->encryption != PBB_E2EE_OFF && !c->pickle_key_file)
		return fail(p, 0, "[matrix] encryption needs pickle_key_file (a secret of 16 bytes or more)"), -1;
	if (c->n_owners == 0)
		return fail(p, 0, "[matrix] owners: at least one Matrix user id"), -1;
	for (size_t i = 0; i < c->n_owners; i++)
		if (c->owners[i][0] != '@' || !strchr(c->owners[i], ':'))
			return fail(p, 0, "[matrix] owners: %s is not a user id (@user:server)", c->owners[i]), -1;
	if (!c->store_path)
		return fail(p, 0, "[bridge] store is required"), -1;
	if (c->calls_password_file && !c->calls_store)
		return fail(p, 0, "[calls] password_file needs [calls] store (a PostgreSQL URL)"), -1;
	if (!c->region[0])
		return fail(p, 0, "[bridge] region is required (e.g. DE)"), -1;
	if (pb_phone_country_code(c->region) <= 0)
		return fail(p, 0, "[bridge] region %s is not one the number normaliser knows", c->region), -1;
	if (c->mmsc_rewrite) {
		/* the check the daemon's pb_mmsc_new() makes, so that --check
		 * refuses what a start would (docs/mmsc.md has the syntax) */
		const char *rules[2] = { c->mmsc_rewrite, NULL };
		pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
		o.mmsc_url = c->mmsc_url;
		o.rewrite_rules = rules;
		pb_mmsc *m = NULL;
		if (pb_mmsc_new(&m, &o) < 0)
			return fail(p, 0, "[mmsc] rewrite: %s", pb_error_last()->message), -1;
		pb_mmsc_free(m);
	}
	if (c->own_number[0]) {
		char e164[PB_PHONE_MAX];
		pb_phone_kind kind;
		if (pb_phone_normalize(e164, sizeof(e164), c->own_number, c->region, &kind) < 0 ||
		    kind != PB_PHONE_E164)
			return fail(p, 0, "[modem] own_number %s is not a phone number", c->own_number), -1;
		snprintf(c->own_number, sizeof(c->own_number), "%s", e164);
	}
	return 0;
}

static void defaults(pbb_config *c)
{
	memset(c, 0, sizeof(*c));
	c->sync_timeout_ms = 30000;
	c->retry_max_ms = 30000;
	c->incomplete_timeout_ms = 600000;
	c->undecryptable_ms = 60000;
	c->mmsc_max_size = 300 * 1024;
	c->mmsc_fetch_attempts = 10;
	c->mmsc_fetch_retry_ms = 60000;
	c->delivery_reports = true;
	c->calls_follow = c->calls_answered = c->calls_missed = true;
	c->calls_screened = PBB_SCREENED_DIGEST;
	c->calls_digest_at = 20 * 3600;
	c->stall_timeout_ms = 900000;
}

int pbb_config_parse(pbb_config *c, const char *text, char *err, size_t errlen)
{
	defaults(c);
	parse_ctx p = { c, err, errlen, false };
	return finish(&p, ini_parse_string(text, handler, &p));
}

int pbb_config_load(pbb_config *c, const char *path, char *err, size_t errlen)
{
	defaults(c);
	parse_ctx p = { c, err, errlen, false };
	/* "-": standard input (check a file before it is installed) */
	return finish(&p, strcmp(path, "-") ? ini_parse(path, handler, &p) : ini_parse_file(stdin, handler, &p));
}

void pbb_config_free(pbb_config *c)
{
	char **strs[] = { &c->modem_backend, &c->modem_url, &c->modem_device, &c->modem_username,
			  &c->modem_password_file, &c->modem_token_file, &c->modem_login,
			  &c->modem_storage, &c->mmsc_url, &c->mmsc_proxy, &c->mmsc_interface,
			  &c->mmsc_rewrite, &c->mmsc_user_agent, &c->homeserver,
			  &c->token_file, &c->store_path, &c->pickle_key_file, &c->http_listen,
			  &c->as_token_file, &c->hs_token_file, &c->listen, &c->appservice_url,
			  &c->appservice_id, &c->sender_localpart, &c->puppet_template, &c->server_name,
			  &c->calls_store, &c->calls_password_file };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		pb_free(*strs[i]);
		*strs[i] = NULL;
	}
	for (size_t i = 0; i < c->n_owners; i++)
		pb_free(c->owners[i]);
	pb_free(c->owners);
	c->owners = NULL;
	c->n_owners = 0;
	for (size_t i = 0; i < c->n_mmsc_headers; i++)
		pb_free(c->mmsc_headers[i]);
	pb_free(c->mmsc_headers);
	c->mmsc_headers = NULL;
	c->n_mmsc_headers = 0;
}

bool pbb_config_is_owner(const pbb_config *c, const char *user_id)
{
	if (!user_id)
		return false;
	for (size_t i = 0; i < c->n_owners; i++)
		if (!strcmp(c->owners[i], user_id))
			return true;
	return false;
}

void pbb_txn_id(char *out, size_t size, const char *store_id, const char *kind, int64_t id)
{
	snprintf(out, size, "pb%s%lld.%s", kind, (long long)id, store_id);
}

#define STORE_ID_KV "bridge.store_id"

static int store_id_read(pb_store *st, char out[PBB_STORE_ID_SIZE])
{
	char *v = NULL;
	int rc = pb_store_kv_get(st, STORE_ID_KV, &v);
	if (rc == 0) {
		if (strlen(v) != PBB_STORE_ID_SIZE - 1 || strspn(v, "0123456789abcdef") != PBB_STORE_ID_SIZE - 1)
			rc = pb_error_set(PB_EMALFORMED, "journal: %s is not 16 hex digits", STORE_ID_KV);
		else
			memcpy(out, v, PBB_STORE_ID_SIZE);
	}
	pb_free(v);
	return rc;
}

int pbb_store_id(pb_store *st, char out[PBB_STORE_ID_SIZE])
{
	int rc = store_id_read(st, out);
	if (rc != PB_ENOTFOUND)
		return rc;
	uint64_t r;
	int rrc = pb_random_bytes(&r, sizeof(r));
	if (rrc < 0)
		return rrc;
	char made[PBB_STORE_ID_SIZE];
	snprintf(made, sizeof(made), "%016llx", (unsigned long long)r);
	/* made once: another thread or process may have been first */
	if ((rc = pb_store_begin(st)) < 0)
		return rc;
	rc = store_id_read(st, out);
	if (rc == PB_ENOTFOUND && (rc = pb_store_kv_set(st, STORE_ID_KV, made)) == 0)
		memcpy(out, made, sizeof(made));
	if (rc == 0)
		return pb_store_commit(st);
	pb_store_rollback(st);
	return rc;
}

void pbb_inbound_key(char *out, size_t size, const char *backend, const pb_modem_msg *m)
{
	/* FNV-1a tells entries apart inside one key; not a security hash */
	uint64_t h = PB_FNV1A64_INIT;
	if (m->text)
		h = pb_fnv1a64(h, m->text, strlen(m->text));
	h = pb_fnv1a64(h, "\0", 1);
	if (m->raw)
		h = pb_fnv1a64(h, m->raw, m->raw_len);
	snprintf(out, size, "%s:%s@%s/%s#%016llx", backend, m->id ? m->id : "",
		 m->time ? m->time : "", m->number ? m->number : "", (unsigned long long)h);
}

/* The message's time in ms (every backend's form: pb_modem_msg_time_ms()),
 * 0 when the box gave none or nothing readable. */
int64_t pbb_box_time_ms(const pb_modem_msg *m)
{
	int64_t ms = 0;
	return pb_modem_msg_time_ms(m, &ms) == 0 ? ms : 0;
}

int pbb_inbound_journal(pb_store *st, const char *backend, const char *region,
			const pb_modem_msg *m, int64_t *id)
{
	const char *kind;
	switch (m->type) {
	case PB_MODEM_MSG_TEXT:
		kind = "text";
		break;
	case PB_MODEM_MSG_INCOMPLETE:
		kind = "incomplete";
		break;
	case PB_MODEM_MSG_MMS:
		kind = "mms";
		break;
	case PB_MODEM_MSG_REPORT:
		kind = "report";
		break;
	default:
		kind = "other";
		break;
	}
	char key[512], peer[PB_PHONE_MAX], report[160] = "";
	pbb_report rep;
	bool readable = false;
	if (m->type == PB_MODEM_MSG_REPORT) {
		/* what it says goes to the table bridge_report; the body keeps
		 * the network's words (or why it could not be read) */
		if (pbb_report_read(m, &rep) < 0)
			snprintf(report, sizeof(report), "? unreadable: %s", pb_error_last()->message);
		else if ((readable = true))
			snprintf(report, sizeof(report), "%s", rep.text[0] ? rep.text : pbb_report_status_name(rep.status));
	}
	pbb_inbound_key(key, sizeof(key), backend, m);
	pb_phone_kind pk;
	const char *number = m->number ? m->number : "unknown";
	if (pb_phone_normalize(peer, sizeof(peer), number, region, &pk) < 0)
		snprintf(peer, sizeof(peer), "%s", number);

	pb_store_msg_in in = PB_STORE_MSG_IN_INIT;
	in.dir = PB_STORE_INBOUND;
	in.state = PB_STORE_STORED;
	in.dedup_key = key;
	in.backend = backend;
	in.backend_id = m->id;
	in.peer = peer;
	in.body = report[0] ? report : m->text ? m->text : "";
	in.sent_at = pbb_box_time_ms(m);

	int rc = pb_store_begin(st);
	if (rc < 0)
		return rc;
	rc = pbb_journal_insert(st, &in, kind, id);
	if (rc == 0 && readable)
		rc = pbb_report_put(st, *id, &rep);
	if (rc == 0 && m->raw && m->raw_len && m->type != PB_MODEM_MSG_TEXT) {
		/* the bytes the box gave, so that nothing is lost when the entry goes */
		const char *ct = m->type == PB_MODEM_MSG_MMS ? "application/vnd.wap.mms-message"
							     : "application/octet-stream";
		rc = pb_store_attachment_add(st, *id, m->raw, m->raw_len, ct, NULL, NULL);
	}
	if (rc < 0 && rc != PB_EEXISTS) {
		pb_store_rollback(st);
		return rc;
	}
	int c = pb_store_commit(st);
	return c < 0 ? c : rc;
}
