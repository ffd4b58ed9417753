/*
 * libphonebridge — the screening policy: who is forwarded, refused or challenged.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phone.h>

#include "screen/private.h"
#include "store/phone-private.h"

struct pb_screen_policy {
	pb_screen_numbering nb;
	bool short_accept;
	int deny_status;
	pb_screen_action anonymous;
	int anonymous_status;
	char anon_challenge[PB_SCREEN_NAME_MAX];
	char anon_params[256];
	pb_screen_action failed;
	int failed_status;
	bool trust_allow_on_failed;
	long max_failures;
	long failure_window;
	int failures_status;
	int quiet_from, quiet_to; /* minutes of the day; -1 off */
	pb_screen_action quiet;
	int quiet_status;
	char challenge[PB_SCREEN_NAME_MAX];
	char params[256];
	bool params_set;   /* challenge-params was given: a later challenge= keeps them */
	char own[8][20];          /* our numbers, E.164; none: any called number */
	size_t n_own;
	int not_ours_status;
	char domains[8][64];      /* our Request-URI hosts, lower case; none: any */
	size_t n_domains;
	pb_screen_action unsigned_action; /* no Identity header and no verstat */
	int unsigned_status;
};

int pb_screen_policy_new(pb_screen_policy **out)
{
	static const pb_screen_numbering nb = PB_SCREEN_NUMBERING_INIT;
	if (!out)
		return pb_error_set(PB_EINVAL, "policy_new: out is NULL");
	pb_screen_policy *p = pb_calloc(1, sizeof(*p));
	if (!p)
		return PB_ENOMEM;
	p->nb = nb;
	p->short_accept = true;
	p->deny_status = 603;
	p->anonymous = PB_SCREEN_DO_CHALLENGE;
	p->anonymous_status = 433; /* Anonymity Disallowed, RFC 5079 */
	p->failed = PB_SCREEN_DO_CHALLENGE;
	p->failed_status = 608;    /* Rejected, RFC 8688 */
	p->trust_allow_on_failed = false;
	p->max_failures = 3;
	p->failure_window = 86400;
	p->failures_status = 603;
	p->quiet_from = p->quiet_to = -1;
	p->quiet = PB_SCREEN_DO_REJECT;
	p->quiet_status = 480;
	p->not_ours_status = 404;
	p->unsigned_action = PB_SCREEN_DO_DEFAULT;
	p->unsigned_status = 428; /* Use Identity Header, RFC 8224 */
	strcpy(p->challenge, "press-digit");
	strcpy(p->params, "digit=6");
	*out = p;
	return 0;
}

void pb_screen_policy_free(pb_screen_policy *policy)
{
	pb_free(policy);
}

const pb_screen_numbering *pb_screen_policy_numbering(const pb_screen_policy *policy)
{
	return &policy->nb;
}

/* --- configuration ------------------------------------------------------------ */

static int bad(const char *key, const char *value, const char *expected)
{
	return pb_error_set(PB_EINVAL, "screen policy: %s=%s: expected %s", key, value, expected);
}

static int set_long(const char *key, const char *value, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno || end == value || *end != '\0' || v < min || v > max) {
		char what[64];
		snprintf(what, sizeof(what), "an integer %ld..%ld", min, max);
		return bad(key, value, what);
	}
	*out = v;
	return 0;
}

static int set_status(const char *key, const char *value, int *out)
{
	long v = 0;
	int rc = set_long(key, value, 400, 699, &v);
	if (rc == 0)
		*out = (int)v;
	return rc;
}

static int set_digits(const char *key, const char *value, char *out, size_t cap)
{
	size_t n = strlen(value);
	if (n >= cap || strspn(value, "0123456789") != n)
		return bad(key, value, "digits");
	memcpy(out, value, n + 1);
	return 0;
}

static int set_text(const char *key, const char *value, char *out, size_t cap)
{
	size_t n = strlen(value);
	if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
		value++;
		n -= 2;
	}
	if (n >= cap) {
		char what[48];
		snprintf(what, sizeof(what), "at most %zu characters", cap - 1);
		return bad(key, value, what);
	}
	memcpy(out, value, n);
	out[n] = '\0';
	return 0;
}

static int set_bool(const char *key, const char *value, bool *out)
{
	if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "on"))
		*out = true;
	else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "off"))
		*out = false;
	else
		return bad(key, value, "yes or no");
	return 0;
}

static int set_action(const char *key, const char *value, bool allow_ignore, pb_screen_action *out)
{
	if (!strcmp(value, "challenge"))
		*out = PB_SCREEN_DO_CHALLENGE;
	else if (!strcmp(value, "reject"))
		*out = PB_SCREEN_DO_REJECT;
	else if (!strcmp(value, "accept") && !allow_ignore)
		*out = PB_SCREEN_DO_ACCEPT;
	else if (!strcmp(value, "ignore") && allow_ignore)
		*out = PB_SCREEN_DO_DEFAULT;
	else
		return bad(key, value, allow_ignore ? "challenge, reject or ignore"
						    : "challenge, reject or accept");
	return 0;
}

static int parse_hhmm(const char *s, int *out)
{
	int h, m, n = 0;
	if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2 || h < 0 || h > 23 || m < 0 || m > 59)
		return -1;
	*out = h * 60 + m;
	return n;
}

static int set_quiet(pb_screen_policy *p, const char *key, const char *value)
{
	if (!strcmp(value, "off")) {
		p->quiet_from = p->quiet_to = -1;
		return 0;
	}
	int a, b, n = parse_hhmm(value, &a), n2 = -1;
	if (n > 0 && value[n] == '-')
		n2 = parse_hhmm(value + n + 1, &b);
	if (n2 <= 0 || value[n + 1 + n2] != '\0')
		return bad(key, value, "HH:MM-HH:MM or off");
	p->quiet_from = a;
	p->quiet_to = b;
	return 0;
}

/* "+15550100000,+15550100001": the numbers this screen answers for. */
static int set_own(pb_screen_policy *p, const char *key, const char *value)
{
	char own[8][20] = { { 0 } };
	size_t n = 0;
	const char *v = value;
	while (*v) {
		size_t len = strcspn(v, ", ");
		char num[40], norm[40];
		if (len > 0) {
			if (n == PB_ARRAY_SIZE(own) || len >= sizeof(num))
				return bad(key, value, "at most 8 numbers, comma-separated");
			memcpy(num, v, len);
			num[len] = '\0';
			if (pb_screen_normalize_number(norm, sizeof(norm), num, &p->nb) != PB_SCREEN_NUMBER_E164)
				return bad(key, value, "E.164 numbers (+CC...), comma-separated");
			strcpy(own[n++], norm);
		}
		v += len;
		while (*v == ',' || *v == ' ')
			v++;
	}
	memcpy(p->own, own, sizeof(own));
	p->n_own = n;
	return 0;
}

/* "example.org, 192.0.2.10, [2001:db8::1]": the Request-URI hosts we answer for. */
static int set_domains(pb_screen_policy *p, const char *key, const char *value)
{
	char dom[8][64] = { { 0 } };
	size_t n = 0;
	const char *v = value;
	while (*v) {
		size_t len = strcspn(v, ", ");
		if (len > 0) {
			if (n == PB_ARRAY_SIZE(dom) || len >= sizeof(dom[0]))
				return bad(key, value, "at most 8 host names or addresses, comma-separated");
			for (size_t i = 0; i < len; i++) {
				char c = v[i];
				if (!(isalnum((unsigned char)c) || strchr(".-:[]", c)))
					return bad(key, value, "host names or addresses (letters, digits, '.', '-', ':', [])");
				dom[n][i] = (char)tolower((unsigned char)c);
			}
			n++;
		}
		v += len;
		while (*v == ',' || *v == ' ')
			v++;
	}
	memcpy(p->domains, dom, sizeof(dom));
	p->n_domains = n;
	return 0;
}

/* "DE": the region pb_phone_normalize() reads national numbers with. */
static int set_region(pb_screen_policy *p, const char *key, const char *value)
{
	if (strlen(value) != 2 || pb_phone_country_code(value) < 0)
		return bad(key, value, "a region of the numbering table, e.g. US, GB, DE (docs/store.md)");
	p->nb.region[0] = (char)toupper((unsigned char)value[0]);
	p->nb.region[1] = (char)toupper((unsigned char)value[1]);
	p->nb.region[2] = '\0';
	return 0;
}

/*
 * The numbering keys before "region" (PB_SCREEN_NUMBERING_VERSION 1): the
 * country code picks its region, the rest come with the region. Checked as
 * they were, so a typo still fails, then only warned about.
 */
static int set_old_numbering(pb_screen_policy *p, const char *key, const char *value)
{
	char digits[8];
	long v = 0;
	int rc;
	if (!strcmp(key, "national-length"))
		rc = set_long(key, value, 0, 14, &v);
	else
		rc = set_digits(key, value, digits, !strcmp(key, "country-code") ? 4
					 : !strcmp(key, "national-prefix") ? 3 : 5);
	if (rc < 0)
		return rc;
	if (strcmp(key, "country-code") != 0) {
		if (p->nb.region[0])
			pb_log_warning("screen", "policy key %s is deprecated and ignored: "
				       "region=%s brings the prefixes and number lengths", key, p->nb.region);
		else
			pb_log_warning("screen", "policy key %s is deprecated and ignored: "
				       "set region (e.g. region=DE), which brings the prefixes and number lengths", key);
		return 0;
	}
	const char *region = digits[0] ? pb_phone__region_of_code((unsigned)atoi(digits)) : NULL;
	if (!region)
		return pb_error_set(PB_EINVAL, "screen policy: %s=%s: no region of the numbering table "
				    "has this code; set region instead (docs/store.md)", key, value);
	pb_log_warning("screen", "policy key %s=%s is deprecated: use region=%s", key, value, region);
	memcpy(p->nb.region, region, 3);
	return 0;
}

int pb_screen_policy_set(pb_screen_policy *p, const char *key, const char *value)
{
	long v = 0;
	int rc;
	if (!p || !key || !value)
		return pb_error_set(PB_EINVAL, "policy_set: NULL argument");
	if (!strcmp(key, "region"))
		return set_region(p, key, value);
	if (!strcmp(key, "country-code") || !strcmp(key, "international-prefix") ||
	    !strcmp(key, "national-prefix") || !strcmp(key, "national-length"))
		return set_old_numbering(p, key, value);
	if (!strcmp(key, "short-max")) {
		if ((rc = set_long(key, value, 0, 8, &v)) == 0)
			p->nb.short_max = (unsigned)v;
		return rc;
	}
	if (!strcmp(key, "short-numbers")) {
		if (!strcmp(value, "accept") || !strcmp(value, "ignore")) {
			p->short_accept = !strcmp(value, "accept");
			return 0;
		}
		return bad(key, value, "accept or ignore");
	}
	if (!strcmp(key, "deny-status"))
		return set_status(key, value, &p->deny_status);
	if (!strcmp(key, "anonymous"))
		return set_action(key, value, false, &p->anonymous);
	if (!strcmp(key, "anonymous-status"))
		return set_status(key, value, &p->anonymous_status);
	if (!strcmp(key, "anonymous-challenge"))
		return set_text(key, value, p->anon_challenge, sizeof(p->anon_challenge));
	if (!strcmp(key, "anonymous-challenge-params"))
		return set_text(key, value, p->anon_params, sizeof(p->anon_params));
	if (!strcmp(key, "attestation-failed"))
		return set_action(key, value, true, &p->failed);
	if (!strcmp(key, "attestation-failed-status"))
		return set_status(key, value, &p->failed_status);
	if (!strcmp(key, "trust-allow-list-on-failed"))
		return set_bool(key, value, &p->trust_allow_on_failed);
	if (!strcmp(key, "max-failures"))
		return set_long(key, value, 0, 1000, &p->max_failures);
	if (!strcmp(key, "failure-window"))
		return set_long(key, value, 1, 365L * 86400, &p->failure_window);
	if (!strcmp(key, "failures-status"))
		return set_status(key, value, &p->failures_status);
	if (!strcmp(key, "quiet-hours"))
		return set_quiet(p, key, value);
	if (!strcmp(key, "quiet-action")) {
		if ((rc = set_action(key, value, false, &p->quiet)) == 0 && p->quiet == PB_SCREEN_DO_ACCEPT)
			return bad(key, value, "challenge or reject");
		return rc;
	}
	if (!strcmp(key, "quiet-status"))
		return set_status(key, value, &p->quiet_status);
	if (!strcmp(key, "challenge")) {
		/* the default "digit=6" belongs to press-digit: another challenge
		 * named without challenge-params gets none */
		if ((rc = set_text(key, value, p->challenge, sizeof(p->challenge))) == 0 && !p->params_set)
			p->params[0] = '\0';
		return rc;
	}
	if (!strcmp(key, "challenge-params")) {
		if ((rc = set_text(key, value, p->params, sizeof(p->params))) == 0)
			p->params_set = true;
		return rc;
	}
	if (!strcmp(key, "own-numbers"))
		return set_own(p, key, value);
	if (!strcmp(key, "own-domains"))
		return set_domains(p, key, value);
	if (!strcmp(key, "not-ours-status"))
		return set_status(key, value, &p->not_ours_status);
	if (!strcmp(key, "unsigned"))
		return set_action(key, value, true, &p->unsigned_action);
	if (!strcmp(key, "unsigned-status"))
		return set_status(key, value, &p->unsigned_status);
	return pb_error_set(PB_ENOTFOUND, "screen policy: unknown key '%s'", key);
}

/* --- deciding ----------------------------------------------------------------- */

static void set_verdict(pb_screen_decision *d, pb_screen_verdict v, int status, const char *rule)
{
	d->verdict = v;
	d->sip_status = v == PB_SCREEN_REJECT ? status : 0;
	d->rule = rule;
}

static void set_challenge(pb_screen_decision *d, const char *name, const char *params, const char *rule)
{
	set_verdict(d, PB_SCREEN_CHALLENGE, 0, rule);
	pb_strlcpy(d->challenge, name, sizeof(d->challenge));
	pb_strlcpy(d->params, params, sizeof(d->params));
}

/* Apply a configured action; false when it says "no special rule". */
static bool apply(const pb_screen_policy *p, pb_screen_decision *d, pb_screen_action a,
		  int status, const char *rule)
{
	switch (a) {
	case PB_SCREEN_DO_ACCEPT:
		set_verdict(d, PB_SCREEN_ACCEPT, 0, rule);
		return true;
	case PB_SCREEN_DO_REJECT:
		set_verdict(d, PB_SCREEN_REJECT, status, rule);
		return true;
	case PB_SCREEN_DO_CHALLENGE:
		set_challenge(d, p->challenge, p->params, rule);
		return true;
	case PB_SCREEN_DO_DEFAULT:
		break;
	}
	return false;
}

static bool in_quiet_hours(const pb_screen_policy *p, int minute)
{
	if (p->quiet_from < 0 || minute < 0 || minute > 1439)
		return false;
	if (p->quiet_from <= p->quiet_to)
		return minute >= p->quiet_from && minute < p->quiet_to;
	return minute >= p->quiet_from || minute < p->quiet_to; /* across midnight */
}

/* Is the called number one of ours? (Scanners ring numbers at random.) */
static bool is_own(const pb_screen_policy *p, const char *called)
{
	char norm[40];
	if (pb_screen_normalize_number(norm, sizeof(norm), called, &p->nb) != PB_SCREEN_NUMBER_E164)
		return false;
	for (size_t i = 0; i < p->n_own; i++)
		if (!strcmp(p->own[i], norm))
			return true;
	return false;
}

/* Is the host of the called sip:/sips: URI one of ours? A tel: URI or no
 * host is not (a scanner aiming at another domain through us is refused). */
static bool is_own_domain(const pb_screen_policy *p, const char *called)
{
	if (!called)
		return false;
	const char *u = called + strspn(called, " <");
	if (!pb_ascii_ncasecmp(u, "sip:", 4))
		u += 4;
	else if (!pb_ascii_ncasecmp(u, "sips:", 5))
		u += 5;
	else
		return false;
	size_t ulen = strcspn(u, ";?> ");
	const char *at = memchr(u, '@', ulen);
	const char *host = at ? at + 1 : u;
	size_t hlen = ulen - (size_t)(host - u);
	if (hlen > 0 && host[0] == '[') {
		const char *close = memchr(host, ']', hlen);
		if (!close)
			return false;
		hlen = (size_t)(close - host) + 1;
	} else {
		const char *colon = memchr(host, ':', hlen);
		if (colon)
			hlen = (size_t)(colon - host);
	}
	for (size_t i = 0; i < p->n_domains; i++)
		if (strlen(p->domains[i]) == hlen && !pb_ascii_ncasecmp(p->domains[i], host, hlen))
			return true;
	return false;
}

static int lookup(int (*fn)(const char *, void *), const char *e164, void *ud)
{
	return fn ? fn(e164, ud) : 0;
}

int pb_screen_policy_decide(const pb_screen_policy *p, const pb_screen_call *call,
			    const pb_screen_lookups *lk, pb_screen_decision *d)
{
	static const pb_screen_lookups none = { NULL, NULL, NULL, NULL };
	if (!p || !call || !d)
		return pb_error_set(PB_EINVAL, "policy_decide: NULL argument");
	if (call->version != PB_SCREEN_CALL_VERSION)
		return pb_error_set(PB_EINVAL, "policy_decide: call version %d, expected %d",
				    call->version, PB_SCREEN_CALL_VERSION);
	if (!lk)
		lk = &none;
	memset(d, 0, sizeof(*d));

	const char *who = call->pai && call->pai[0] ? call->pai : call->from;
	int kind = pb_screen_normalize_number(d->caller, sizeof(d->caller), who, &p->nb);
	if (kind < 0)
		return kind;
	d->kind = (pb_screen_number_kind)kind;
	if (call->verstat) {
		char buf[64];
		snprintf(buf, sizeof(buf), ";verstat=%s", call->verstat);
		d->verstat = pb_screen_parse_verstat(buf, NULL);
	} else {
		d->verstat = pb_screen_parse_verstat(call->pai, NULL);
		if (d->verstat == PB_VERSTAT_NONE)
			d->verstat = pb_screen_parse_verstat(call->from, NULL);
	}

	if (p->n_domains > 0 && !is_own_domain(p, call->called)) {
		set_verdict(d, PB_SCREEN_REJECT, p->not_ours_status, "not-our-domain");
		return 0;
	}
	if (p->n_own > 0 && !is_own(p, call->called)) {
		set_verdict(d, PB_SCREEN_REJECT, p->not_ours_status, "not-our-number");
		return 0;
	}
	if (d->kind == PB_SCREEN_NUMBER_SHORT && p->short_accept) {
		set_verdict(d, PB_SCREEN_ACCEPT, 0, "short-number");
		return 0;
	}
	int allowed = 0;
	if (d->kind == PB_SCREEN_NUMBER_E164) {
		int rc = lookup(lk->is_denied, d->caller, lk->userdata);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			set_verdict(d, PB_SCREEN_REJECT, p->deny_status, "deny-list");
			return 0;
		}
		if ((allowed = lookup(lk->is_allowed, d->caller, lk->userdata)) < 0)
			return allowed;
	}
	if (d->verstat == PB_VERSTAT_FAILED && !(allowed && p->trust_allow_on_failed) &&
	    apply(p, d, p->failed, p->failed_status, "attestation-failed"))
		return 0;
	if (allowed) {
		set_verdict(d, PB_SCREEN_ACCEPT, 0, "allow-list");
		return 0;
	}
	if (d->kind == PB_SCREEN_NUMBER_ANONYMOUS) {
		if (p->anonymous == PB_SCREEN_DO_CHALLENGE && p->anon_challenge[0]) {
			set_challenge(d, p->anon_challenge, p->anon_params, "anonymous");
			return 0;
		}
		if (apply(p, d, p->anonymous, p->anonymous_status, "anonymous"))
			return 0;
	}
	if (d->kind == PB_SCREEN_NUMBER_E164 && !call->identity_header && d->verstat == PB_VERSTAT_NONE &&
	    apply(p, d, p->unsigned_action, p->unsigned_status, "unsigned"))
		return 0;
	if (d->kind == PB_SCREEN_NUMBER_E164 && p->max_failures > 0 && lk->recent_failures) {
		int n = lk->recent_failures(d->caller, call->now - p->failure_window, lk->userdata);
		if (n < 0)
			return n;
		if (n >= p->max_failures) {
			set_verdict(d, PB_SCREEN_REJECT, p->failures_status, "too-many-failures");
			return 0;
		}
	}
	if (in_quiet_hours(p, call->minute_of_day) &&
	    apply(p, d, p->quiet, p->quiet_status, "quiet-hours"))
		return 0;
	set_challenge(d, p->challenge, p->params, "default");
	return 0;
}

const char *pb_screen_verdict_name(pb_screen_verdict v)
{
	switch (v) {
	case PB_SCREEN_ACCEPT: return "accept";
	case PB_SCREEN_REJECT: return "reject";
	case PB_SCREEN_CHALLENGE: return "challenge";
	}
	return "?";
}
