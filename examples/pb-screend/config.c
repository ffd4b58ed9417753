/*
 * pb-screend — configuration (INI, read with inih). Each key is checked as
 * it is read; the first bad one stops the load with "line N: why".
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

/* Where meson installs data/prompts (datadir/phonebridge/prompts). */
#ifndef PB_SCREEND_PROMPTS
#define PB_SCREEND_PROMPTS "/usr/share/phonebridge/prompts"
#endif

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <phonebridge/log.h>
#include <phonebridge/screener.h>

typedef struct parse_ctx {
	screend_config *c;
	char *err;
	size_t errlen;
} parse_ctx;

/* Keep the first error only; a macro so that every format is checked. */
#define fail(p, ...) \
	(((p)->err[0] == '\0' ? snprintf((p)->err, (p)->errlen, __VA_ARGS__) : 0), 0)

static int str(parse_ctx *p, char *dst, size_t cap, const char *k, const char *v)
{
	if (strlen(v) >= cap)
		return fail(p, "%s: value too long (%s)", k, "");
	memcpy(dst, v, strlen(v) + 1);
	return 1;
}

static int uint_val(parse_ctx *p, unsigned *dst, unsigned max, const char *k, const char *v)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (end == v || *end || errno || n > max || v[0] == '-')
		return fail(p, "%s: '%s' is not a number in range", k, v);
	*dst = (unsigned)n;
	return 1;
}

static int bool_val(parse_ctx *p, bool *dst, const char *k, const char *v)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on"))
		*dst = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off"))
		*dst = false;
	else
		return fail(p, "%s: '%s' is not yes or no", k, v);
	return 1;
}

/* [sip] keys of digest authentication; 0 = not one of them. */
static int auth_key(parse_ctx *p, const char *k, const char *v, int *handled)
{
	screend_config *c = p->c;
	*handled = 1;
	if (!strcmp(k, "auth-realm")) {
		if (strchr(v, '"') || strchr(v, '*'))
			return fail(p, "%s: '%s': no quotes or '*' in a realm", k, v);
		return str(p, c->auth_realm, sizeof(c->auth_realm), k, v);
	}
	if (!strcmp(k, "auth-users-file"))
		return str(p, c->auth_users_file, sizeof(c->auth_users_file), k, v);
	if (!strcmp(k, "admit")) {
		if (strcmp(v, "address-or-digest") && strcmp(v, "address-and-digest"))
			return fail(p, "%s: '%s': expected address-or-digest or address-and-digest", k, v);
		c->auth_and = !strcmp(v, "address-and-digest");
		return 1;
	}
	if (!strcmp(k, "auth-nonce-ttl"))
		return uint_val(p, &c->auth_nonce_ttl, 3600, k, v);
	*handled = 0;
	return 1;
}

/* [sip] keys of SIP over TLS; 0 = not one of them. */
static int tls_key(parse_ctx *p, const char *k, const char *v, int *handled)
{
	screend_config *c = p->c;
	*handled = 1;
	if (!strcmp(k, "tls-cert-dir"))
		return str(p, c->tls_cert_dir, sizeof(c->tls_cert_dir), k, v);
	if (!strcmp(k, "tls-port"))
		return uint_val(p, &c->tls_port, 65535, k, v);
	*handled = 0;
	return 1;
}

static int sip_key(parse_ctx *p, const char *k, const char *v)
{
	screend_config *c = p->c;
	int handled, rc = auth_key(p, k, v, &handled);
	if (!handled)
		rc = tls_key(p, k, v, &handled);
	if (handled)
		return rc;
	if (!strcmp(k, "listen"))
		return str(p, c->listen, sizeof(c->listen), k, v);
	if (!strcmp(k, "port"))
		return uint_val(p, &c->port, 65535, k, v);
	if (!strcmp(k, "transport")) {
		c->udp = strstr(v, "udp") != NULL;
		c->tcp = strstr(v, "tcp") != NULL;
		if (!c->udp && !c->tcp)
			return fail(p, "%s: '%s': expected udp, tcp or udp,tcp", k, v);
		return 1;
	}
	if (!strcmp(k, "allow"))
		return str(p, c->allow, sizeof(c->allow), k, v);
	if (!strcmp(k, "rtp-address"))
		return str(p, c->rtp_address, sizeof(c->rtp_address), k, v);
	if (!strcmp(k, "rtp-ports")) {
		unsigned a, b;
		if (sscanf(v, "%u-%u", &a, &b) != 2 || a > b || b > 65535 || a < 1024)
			return fail(p, "%s: '%s': expected LOW-HIGH within 1024-65535", k, v);
		c->rtp_port_min = a;
		c->rtp_port_max = b;
		return 1;
	}
	if (!strcmp(k, "user-agent"))
		return str(p, c->user_agent, sizeof(c->user_agent), k, v);
	if (!strcmp(k, "early-media"))
		return bool_val(p, &c->early_media, k, v);
	if (!strcmp(k, "max-calls"))
		return uint_val(p, &c->max_calls, 100000, k, v);
	return fail(p, "[sip] unknown key '%s'%s", k, "");
}

static int register_key(parse_ctx *p, const char *k, const char *v)
{
	screend_config *c = p->c;
	if (!strcmp(k, "registrar"))
		return str(p, c->registrar, sizeof(c->registrar), k, v);
	if (!strcmp(k, "aor"))
		return str(p, c->aor, sizeof(c->aor), k, v);
	if (!strcmp(k, "username"))
		return str(p, c->username, sizeof(c->username), k, v);
	if (!strcmp(k, "password-file"))
		return str(p, c->password_file, sizeof(c->password_file), k, v);
	if (!strcmp(k, "expires"))
		return uint_val(p, &c->register_expires, 86400, k, v);
	return fail(p, "[register] unknown key '%s'%s", k, "");
}

static int forward_key(parse_ctx *p, const char *k, const char *v)
{
	screend_config *c = p->c;
	if (!strcmp(k, "mode")) {
		if (strcmp(v, "bridge") && strcmp(v, "redirect") && strcmp(v, "refer"))
			return fail(p, "%s: '%s': expected bridge, redirect or refer", k, v);
		return str(p, c->mode, sizeof(c->mode), k, v);
	}
	if (!strcmp(k, "target"))
		return str(p, c->target, sizeof(c->target), k, v);
	if (!strcmp(k, "fallback"))
		return str(p, c->fallback, sizeof(c->fallback), k, v);
	if (!strcmp(k, "ring")) {
		if (strcmp(v, "parallel") && strcmp(v, "sequential"))
			return fail(p, "%s: '%s': expected parallel or sequential", k, v);
		return str(p, c->ring, sizeof(c->ring), k, v);
	}
	if (!strcmp(k, "refer-fallback")) {
		if (strcmp(v, "bridge") && strcmp(v, "goodbye"))
			return fail(p, "%s: '%s': expected bridge or goodbye", k, v);
		return str(p, c->refer_fallback, sizeof(c->refer_fallback), k, v);
	}
	if (!strcmp(k, "timeout"))
		return uint_val(p, &c->forward_timeout, 600, k, v);
	if (!strcmp(k, "refer-timeout"))
		return uint_val(p, &c->refer_timeout, 600, k, v);
	return fail(p, "[forward] unknown key '%s'%s", k, "");
}

/* [voicemail] on = timeout,busy,unreachable */
static int vm_on_val(parse_ctx *p, unsigned *dst, const char *k, const char *v)
{
	unsigned bits = 0;
	const char *q = v;
	while (*q) {
		q += strspn(q, ", \t");
		size_t n = strcspn(q, ", \t");
		if (n == 0)
			break;
		if (n == 7 && !strncmp(q, "timeout", n))
			bits |= PB_SCREENER_VOICEMAIL_TIMEOUT;
		else if (n == 4 && !strncmp(q, "busy", n))
			bits |= PB_SCREENER_VOICEMAIL_BUSY;
		else if (n == 11 && !strncmp(q, "unreachable", n))
			bits |= PB_SCREENER_VOICEMAIL_UNREACHABLE;
		else
			return fail(p, "%s: '%.*s': expected timeout, busy or unreachable (comma-separated)", k, (int)n, q);
		q += n;
	}
	if (!bits)
		return fail(p, "%s: empty: expected timeout, busy and/or unreachable%s", k, "");
	*dst = bits;
	return 1;
}

static int voicemail_key(parse_ctx *p, const char *k, const char *v)
{
	screend_config *c = p->c;
	if (!strcmp(k, "enabled"))
		return bool_val(p, &c->vm_enabled, k, v);
	if (!strcmp(k, "on"))
		return vm_on_val(p, &c->vm_on, k, v);
	if (!strcmp(k, "max-seconds")) {
		if (!uint_val(p, &c->vm_max_seconds, 600, k, v))
			return 0;
		return c->vm_max_seconds ? 1 : fail(p, "%s: 0: expected 1..600 seconds%s", k, "");
	}
	if (!strcmp(k, "silence-seconds"))
		return uint_val(p, &c->vm_silence_seconds, 600, k, v);
	if (!strcmp(k, "format")) {
		if (strcmp(v, "wav") && strcmp(v, "opus"))
			return fail(p, "%s: '%s': expected wav or opus", k, v);
		return str(p, c->vm_format, sizeof(c->vm_format), k, v);
	}
	if (!strcmp(k, "greeting")) {
		size_t n = strlen(v);
		if (n == 0 || n > 63 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-_") != n)
			return fail(p, "%s: '%s': a prompt name (a-z, 0-9, '-', '_') from prompts.txt", k, v);
		return str(p, c->vm_greeting, sizeof(c->vm_greeting), k, v);
	}
	return fail(p, "[voicemail] unknown key '%s'%s", k, "");
}

static int level_of(const char *v)
{
	static const struct { const char *name; int level; } levels[] = {
		{ "error", PB_LOG_ERROR }, { "warning", PB_LOG_WARNING }, { "notice", PB_LOG_NOTICE },
		{ "info", PB_LOG_INFO }, { "debug", PB_LOG_DEBUG },
	};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcasecmp(v, levels[i].name))
			return levels[i].level;
	return -1;
}

/* [challenge NAME] module = PATH */
static int challenge_key(parse_ctx *p, const char *name, const char *k, const char *v)
{
	screend_config *c = p->c;
	size_t n = strlen(name);
	if (n == 0 || n >= sizeof(c->module_name[0]) || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
		return fail(p, "[challenge %s]: the name must be 1-31 of a-z, 0-9, '-'%s", name, "");
	if (strcmp(k, "module"))
		return fail(p, "[challenge %s] unknown key '%s'", name, k);
	if (v[0] != '/')
		return fail(p, "[challenge %s] module = %s: an absolute path is needed", name, v);
	for (size_t i = 0; i < c->nmodules; i++)
		if (!strcmp(c->module_name[i], name))
			return fail(p, "[challenge %s]: module given twice%s", name, "");
	if (c->nmodules >= SCREEND_MAX_MODULES)
		return fail(p, "[challenge %s]: too many challenge modules%s", name, "");
	if (strlen(v) >= sizeof(c->module_path[0]))
		return fail(p, "[challenge %s] module: too long%s", name, "");
	strcpy(c->module_name[c->nmodules], name);
	strcpy(c->module_path[c->nmodules], v);
	c->nmodules++;
	return 1;
}

static int on_key(void *user, const char *section, const char *k, const char *v)
{
	parse_ctx *p = user;
	screend_config *c = p->c;
	if (!strcmp(section, "sip"))
		return sip_key(p, k, v);
	if (!strcmp(section, "register"))
		return register_key(p, k, v);
	if (!strcmp(section, "forward"))
		return forward_key(p, k, v);
	if (!strcmp(section, "screen")) {
		if (!strcmp(k, "prompts"))
			return str(p, c->prompts, sizeof(c->prompts), k, v);
		if (!strcmp(k, "max-duration"))
			return uint_val(p, &c->max_duration, 3600, k, v);
		return fail(p, "[screen] unknown key '%s'%s", k, "");
	}
	if (!strcmp(section, "store")) {
		if (!strcmp(k, "path") || !strcmp(k, "url")) {
			bool url = !strcmp(k, "url");
			if (url && strncmp(v, "postgresql://", 13) && strncmp(v, "postgres://", 11))
				return fail(p, "[store] url '%s': expected postgresql://...", v);
			if (!url && (!strncmp(v, "postgresql://", 13) || !strncmp(v, "postgres://", 11)))
				return fail(p, "[store] path '%s' is a URL: write url = %s", v, v);
			if (url ? c->store_path_set : c->store_url_set)
				return fail(p, "[store] %s: path and url exclude each other%s", k, "");
			*(url ? &c->store_url_set : &c->store_path_set) = true;
			return str(p, c->store, sizeof(c->store), k, v);
		}
		if (!strcmp(k, "password-file"))
			return str(p, c->store_password_file, sizeof(c->store_password_file), k, v);
		return fail(p, "[store] unknown key '%s'%s", k, "");
	}
	if (!strcmp(section, "http")) {
		/* the same key as pb-bridged's; the address is checked by check and run */
		if (!strcmp(k, "listen"))
			return str(p, c->http_listen, sizeof(c->http_listen), k, v);
		return fail(p, "[http] unknown key '%s'%s", k, "");
	}
	if (!strcmp(section, "voicemail"))
		return voicemail_key(p, k, v);
	if (!strcmp(section, "log")) {
		if (!strcmp(k, "level") && (c->log_level = level_of(v)) >= 0)
			return 1;
		return fail(p, "[log] %s=%s: expected level=error|warning|notice|info|debug", k, v);
	}
	if (!strcmp(section, "policy")) {
		if (c->npolicy >= SCREEND_MAX_POLICY)
			return fail(p, "[policy] too many keys (at %s)%s", k, "");
		if (strlen(k) >= sizeof(c->policy_key[0]) || strlen(v) >= sizeof(c->policy_value[0]))
			return fail(p, "[policy] %s: too long%s", k, "");
		strcpy(c->policy_key[c->npolicy], k);
		strcpy(c->policy_value[c->npolicy], v);
		c->npolicy++;
		return 1;
	}
	if (!strncmp(section, "challenge ", 10))
		return challenge_key(p, section + 10, k, v);
	return fail(p, "unknown section [%s]%s", section, "");
}

void screend_config_defaults(screend_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->listen, "127.0.0.1");
	c->port = 5060;
	c->udp = c->tcp = true;
	strcpy(c->user_agent, "pb-screend");
	strcpy(c->mode, "bridge");
	strcpy(c->refer_fallback, "bridge");
	strcpy(c->ring, "parallel");
	c->forward_timeout = 30;
	c->max_duration = 90;
	snprintf(c->prompts, sizeof(c->prompts), "%s", PB_SCREEND_PROMPTS);
	strcpy(c->store, "/var/lib/pb-screend/screen.db");
	c->vm_on = PB_SCREENER_VOICEMAIL_TIMEOUT | PB_SCREENER_VOICEMAIL_BUSY | PB_SCREENER_VOICEMAIL_UNREACHABLE;
	c->vm_max_seconds = 120;
	c->vm_silence_seconds = 5;
	strcpy(c->vm_format, "wav");
	strcpy(c->vm_greeting, "voicemail");
	c->log_level = PB_LOG_INFO;
}

static int finish(parse_ctx *p, int rc)
{
	char why[256];
	if (rc == 0 && p->c->target[0] == '\0')
		snprintf(p->err, p->errlen, "[forward] target is required");
	else if (rc == 0 && p->c->registrar[0] && !p->c->aor[0])
		snprintf(p->err, p->errlen, "[register] registrar needs aor");
	else if (rc == 0 && !!p->c->auth_realm[0] != !!p->c->auth_users_file[0])
		snprintf(p->err, p->errlen, "[sip] auth-realm and auth-users-file go together");
	else if (rc == 0 && p->c->auth_and && !p->c->auth_realm[0])
		snprintf(p->err, p->errlen, "[sip] admit = address-and-digest needs auth-realm");
	else if (rc == 0 && p->c->tls_cert_dir[0] && p->c->port == 0)
		snprintf(p->err, p->errlen, "[sip] port = 0 (any) cannot be combined with tls-cert-dir");
	else if (rc == 0 && p->c->vm_enabled && p->c->store_url_set)
		/* recordings go into the SQLite journal pb-bridged reads; PostgreSQL has none */
		snprintf(p->err, p->errlen,
			 "[voicemail] enabled = yes needs [store] path (SQLite): a PostgreSQL store has no "
			 "journal for recordings; use a voicemail server ([forward] fallback, or numbers set "
			 "--voicemail URI)");
	else if (rc == -1)
		snprintf(p->err, p->errlen, "cannot open the file");
	else if (rc == -2)
		snprintf(p->err, p->errlen, "out of memory");
	else if (rc > 0) {
		snprintf(why, sizeof(why), "%s", p->err[0] ? p->err : "syntax error");
		snprintf(p->err, p->errlen, "line %d: %s", rc, why);
	}
	return p->err[0] ? -1 : 0;
}

int screend_config_load(screend_config *c, const char *path, char *err, size_t errlen)
{
	parse_ctx p = { c, err, errlen };
	err[0] = '\0';
	screend_config_defaults(c);
	/* "-": standard input (check a file before it is installed); a reload
	 * cannot read it again (screend.c refuses one) */
	return finish(&p, strcmp(path, "-") ? ini_parse(path, on_key, &p) : ini_parse_file(stdin, on_key, &p));
}

int screend_config_parse(screend_config *c, const char *text, char *err, size_t errlen)
{
	parse_ctx p = { c, err, errlen };
	err[0] = '\0';
	screend_config_defaults(c);
	return finish(&p, ini_parse_string(text, on_key, &p));
}
