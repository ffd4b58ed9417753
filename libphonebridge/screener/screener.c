/*
 * libphonebridge — the screener: policy, challenges, media and store on a SIP agent.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One loop (the agent's su_root): signalling, the 20 ms media tick of every
 * call, session timers. Per call: policy -> accept (forward now), reject,
 * or a challenge session whose host ops are mapped to SIP (ring, answer)
 * and media (prompts, DTMF from RFC 4733, SIP INFO and in-band). Callers
 * who pass go on the allow list; every call is logged in the store.
 */
#include <dlfcn.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "screener/voicemail.h"
#include <phonebridge/alloc.h>
#include <phonebridge/error.h>
#include <phonebridge/media.h>
#include <phonebridge/screener.h>
#include <phonebridge/sys/challenge.h>

#define TICK_MS 20
#define DOMAIN "screener"
#define LOG(level, ...) pb_log(level, DOMAIN, __VA_ARGS__)

typedef struct scall scall;

/*
 * Refusals made before screening (a scanner's INVITEs from anywhere, junk
 * SDP, a flood while draining) are logged like calls, but must not let a
 * flood grow the store without bound: per rule, the first JUNK_ROWS in a
 * JUNK_WINDOW_MS window get a row (and an event) each; the rest of that
 * window are counted and written as one row with their count when the
 * window ends. At most (JUNK_ROWS + 1) rows a minute per rule, however fast
 * the junk comes.
 */
#define JUNK_WINDOW_MS 60000
#define JUNK_ROWS 10
#define JUNK_RULES 8

typedef struct junk {
	const char *rule;        /* static; NULL: a free slot */
	int status;
	int64_t window_start;    /* ms, the agent's clock */
	unsigned rows;           /* rows written in this window */
	unsigned long held;      /* refusals counted, not yet written */
	char caller[96], called[160], source[64]; /* of the last one held */
} junk;

/* pb_screener_options with every string owned (pb_free) */
typedef struct conf {
	pb_screener_options o;
	char **policy;          /* key, value, ..., NULL */
} conf;

struct pb_screener {
	conf conf;
	pb_sip *ua;
	pb_store *store;
	pb_screen_policy *policy;
	pb_screen_registry *registry;
	pb_prompt_set *prompts;
	scall *calls;
	pb_sip_timer *ticker;
	pb_buf pkt;
	unsigned long next_call;
	bool started;
	atomic_int stop_asked;   /* set by pb_screener_stop() from a signal handler or another thread */
	bool draining;
	/* a reconfiguration that changes the agent or the store waits until
	 * no call is up: new calls get 503 meanwhile */
	conf *pending;
	pb_store *pending_store;
	void **modules;         /* dlopen() handles of challenge modules */
	size_t nmodules;
	atomic_int reg_state;    /* pb_screener_reg_state, read from any thread */
	atomic_int reg_status;   /* status of the last REGISTER answer */
	junk junk[JUNK_RULES];
	/* a foreign event loop watches epfd: sofia's loop descriptor (the
	 * current agent's, swapped at a restart) and stopfd inside it */
	int epfd, stopfd, sofia_fd;
	int64_t next_due;        /* when the next timer is due (agent's clock); -1 none */
};

struct scall {
	pb_screener *s;
	scall *next;
	unsigned long id;
	pb_sip_call *call;
	pb_screen_decision dec;
	bool decided;
	pb_screen_session *session;
	pb_media_call *media;
	pb_sip_timer *timer;
	int64_t started;
	bool ended;             /* the SIP call is over: no more actions on it */
	bool answered;
	bool referring;         /* a REFER is out: its failure falls back (refer_fallback) */
	bool bye_after_prompt;  /* the goodbye after a failed REFER: BYE when it has played */
	int final_status;       /* what we answered when we refused or redirected; 0 otherwise */
	unsigned next_target;   /* ring = sequential: the target to try next */
	bool tried_fallback;
	char how[48];           /* how the call ended, for the call log */
	pb_store_number *num;   /* the settings of the number called, if the store has any */
	pb_screen_policy *num_policy; /* the defaults with num->policy over them; NULL: s->policy */
	char outcome[64];
	char target[256];
	char attestation[8];
	bool passed;            /* passed its challenge, or accepted by the allow list: may leave a voicemail */
	pb_screener_vm *vm;     /* taking a voicemail (docs/screen.md "Voicemail") */
	int64_t at_wall_ms;     /* when the INVITE came, wall clock (the voicemail's time) */
	/* the last RTP packet we sent the caller: new media (voicemail after a
	 * challenge, the goodbye after a failed REFER) continues its stream */
	bool tx_known;
	uint32_t tx_ssrc, tx_ts;
	uint16_t tx_seq;
	int64_t tx_at;
};

/* --- options ------------------------------------------------------------------------ */

static void conf_dispose(conf *c)
{
	pb_sip_options *so = &c->o.sip;
	const char **strs[] = { &so->bind_address, &so->allow_sources, &so->rtp_address,
				&so->user_agent, &so->registrar, &so->aor, &so->username,
				&so->password, &so->auth_realm, &so->auth_users_file,
				&so->tls_cert_dir, &c->o.store, &c->o.prompts, &c->o.mode,
				&c->o.target, &c->o.fallback, &c->o.refer_fallback, &c->o.ring,
				&c->o.store_password_file, &c->o.voicemail_format, &c->o.voicemail_greeting };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (*strs[i] && strs[i] == &so->password)
			explicit_bzero((char *)so->password, strlen(so->password));
		pb_free((char *)*strs[i]);
		*strs[i] = NULL;
	}
	for (size_t i = 0; c->policy && c->policy[i]; i++)
		pb_free(c->policy[i]);
	pb_free(c->policy);
	c->policy = NULL;
}

static int dup_str(const char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = pb_strdup(src);
	return *dst ? 0 : pb_error__oom();
}

/* URIs in a comma-separated target list. */
static unsigned count_targets(const char *list)
{
	unsigned n = 0;
	for (const char *p = list;;) {
		p += strspn(p, ", \t");
		size_t len = strcspn(p, ", \t");
		if (len == 0)
			return n;
		n++;
		p += len;
	}
}

/* A bridge, redirect or refer target: sip: or sips: (any case) with a host
 * (RFC 3261 19.1.1), and nothing a URI never holds (space, <, >, ", ...).
 * The SIP stack parses it fully; this catches at start-up what would
 * otherwise only fail, or go nowhere, at the first call. */
static bool sip_uri_ok(const char *uri, size_t n)
{
	size_t scheme = n >= 4 && !pb_ascii_ncasecmp(uri, "sip:", 4) ? 4
		      : n >= 5 && !pb_ascii_ncasecmp(uri, "sips:", 5) ? 5 : 0;
	if (!scheme)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)uri[i] <= ' ' || (unsigned char)uri[i] >= 0x7f || strchr("<>\"{}|\\^`", uri[i]))
			return false;
	const char *host = uri + scheme, *end = uri + n;
	const char *at = memchr(host, '@', (size_t)(end - host));
	if (at)
		host = at + 1;
	size_t hl = strcspn(host, ";?");
	if (host + hl > end)
		hl = (size_t)(end - host);
	if (hl == 0 || host[0] == ':')
		return false;
	if (host[0] == '[') { /* an IPv6 reference needs its closing bracket */
		const char *rb = memchr(host, ']', hl);
		return rb != NULL;
	}
	return true;
}

/* Every comma-separated URI of @p list is a SIP URI; else PB_EINVAL naming it. */
static int check_uris(const char *what, const char *list)
{
	for (const char *p = list; p;) {
		p += strspn(p, ", \t");
		size_t n = strcspn(p, ", \t");
		if (n == 0)
			return 0;
		if (!sip_uri_ok(p, n))
			return pb_error_set(PB_EINVAL, "screener options: %s '%.*s' is not a SIP URI (sip:user@host or "
					    "sips:user@host)", what, (int)n, p);
		p += n;
	}
	return 0;
}

/*
 * Version 5 spells the four durations in ms. After conf_copy() the _ms
 * members hold what applies (a _ms member left 0, as in the copy of an
 * older struct, takes the deprecated seconds member or its default), and
 * only they are read; voicemail_silence_ms 0 then means never.
 */
static int duration_ms(unsigned *out, const char *name, unsigned ms, const char *old_name, unsigned old_s,
		       unsigned dflt_ms, unsigned max_ms)
{
	unsigned long long v = ms ? ms : old_s ? old_s * 1000ULL : dflt_ms;
	if (v > max_ms)
		return pb_error_set(PB_EINVAL, "screener options: %s %llu ms: at most %u", ms ? name : old_name, v,
				    max_ms);
	*out = (unsigned)v;
	return 0;
}

/* @o is the copy: what its version lacks is 0 */
static int conf_durations(pb_screener_options *o)
{
	int rc = duration_ms(&o->max_duration_ms, "max_duration_ms", o->max_duration_ms, "max_duration",
			     o->max_duration, 120000, INT_MAX);
	if (rc == 0)
		rc = duration_ms(&o->refer_timeout_ms, "refer_timeout_ms", o->refer_timeout_ms, "refer_timeout",
				 o->refer_timeout, 60000, 3600000);
	if (rc == 0)
		rc = duration_ms(&o->voicemail_max_ms, "voicemail_max_ms", o->voicemail_max_ms,
				 "voicemail_max_seconds", o->voicemail_max_seconds, 120000, 600000);
	if (rc == 0 && o->voicemail_silence_ms == PB_WAIT_FOREVER)
		o->voicemail_silence_ms = 0; /* never */
	else if (rc == 0)
		rc = duration_ms(&o->voicemail_silence_ms, "voicemail_silence_ms", o->voicemail_silence_ms,
				 "voicemail_silence_seconds", o->voicemail_silence_seconds, 0, INT_MAX);
	return rc;
}

static int conf_copy(conf *c, const pb_screener_options *o)
{
	memset(c, 0, sizeof(*c));
	if (!o)
		return pb_error_set(PB_EINVAL, "screener options: NULL");
	int vrc = PB_CHECK_VERSION(o, PB_SCREENER_OPTIONS, 1);
	if (vrc == 0)
		vrc = PB_CHECK_VERSION(&o->sip, PB_SIP_OPTIONS, 1);
	if (vrc < 0)
		return vrc;
	if (!o->store || !*o->store)
		return pb_error_set(PB_EINVAL, "screener options: no store path");
	if (!o->prompts || !*o->prompts)
		return pb_error_set(PB_EINVAL, "screener options: no prompt directory");
	if (!o->target || !*o->target)
		return pb_error_set(PB_EINVAL, "screener options: no forward target");
	int urc = check_uris("target", o->target);
	if (urc == 0 && o->fallback && *o->fallback)
		urc = check_uris("fallback", o->fallback);
	if (urc < 0)
		return urc;
	const char *mode = o->mode && *o->mode ? o->mode : "bridge";
	if (strcmp(mode, "bridge") && strcmp(mode, "redirect") && strcmp(mode, "refer"))
		return pb_error_set(PB_EINVAL, "screener options: mode '%s': expected bridge, redirect or refer", mode);
	const char *rfb = o->refer_fallback && *o->refer_fallback ? o->refer_fallback : "bridge";
	if (strcmp(rfb, "bridge") && strcmp(rfb, "goodbye"))
		return pb_error_set(PB_EINVAL, "screener options: refer-fallback '%s': expected bridge or goodbye", rfb);
	const char *ring = o->ring && *o->ring ? o->ring : "parallel";
	if (strcmp(ring, "parallel") && strcmp(ring, "sequential"))
		return pb_error_set(PB_EINVAL, "screener options: ring '%s': expected parallel or sequential", ring);
	if (!strcmp(mode, "refer") && count_targets(o->target) > 1)
		return pb_error_set(PB_EINVAL, "screener options: mode 'refer' transfers the caller to one target "
				    "(a REFER has exactly one Refer-To, RFC 3515), but target lists several: '%s'; "
				    "ring several with mode 'bridge' or 'redirect'", o->target);
	/* an older caller's struct ends earlier: read only what it has
	 * (1: before store_password_file, 2: before max_calls, 3: before the
	 * voicemail fields, 4: before the durations in ms) */
	size_t have = o->version == 1 ? offsetof(pb_screener_options, store_password_file)
		    : o->version == 2 ? offsetof(pb_screener_options, max_calls)
		    : o->version == 3 ? offsetof(pb_screener_options, voicemail)
		    : o->version == 4 ? offsetof(pb_screener_options, max_duration_ms)
		    : sizeof(c->o);
	memcpy(&c->o, o, have);
	bool no_vm = have <= offsetof(pb_screener_options, voicemail); /* no voicemail fields: no voicemail */
	int drc = conf_durations(&c->o);
	if (drc < 0) {
		memset(c, 0, sizeof(*c)); /* the strings are the caller's yet */
		return drc;
	}
	const pb_sip_options *so = &o->sip;
	pb_sip_options *d = &c->o.sip;
	size_t np = 0;
	while (o->policy && o->policy[np])
		np += o->policy[np + 1] ? 2 : 1;
	if (np % 2)
		return pb_error_set(PB_EINVAL, "screener options: policy key '%s' has no value", o->policy[np - 1]);
	int rc = 0;
	rc = rc ? rc : dup_str(&d->bind_address, so->bind_address);
	rc = rc ? rc : dup_str(&d->allow_sources, so->allow_sources);
	rc = rc ? rc : dup_str(&d->rtp_address, so->rtp_address);
	rc = rc ? rc : dup_str(&d->user_agent, so->user_agent);
	rc = rc ? rc : dup_str(&d->registrar, so->registrar);
	rc = rc ? rc : dup_str(&d->aor, so->aor);
	rc = rc ? rc : dup_str(&d->username, so->username);
	rc = rc ? rc : dup_str(&d->password, so->password);
	bool sip_v1 = so->version == 1; /* no digest or TLS settings in version 1 */
	rc = rc ? rc : dup_str(&d->auth_realm, sip_v1 ? NULL : so->auth_realm);
	rc = rc ? rc : dup_str(&d->auth_users_file, sip_v1 ? NULL : so->auth_users_file);
	rc = rc ? rc : dup_str(&d->tls_cert_dir, sip_v1 ? NULL : so->tls_cert_dir);
	rc = rc ? rc : dup_str(&c->o.store, o->store);
	rc = rc ? rc : dup_str(&c->o.prompts, o->prompts);
	rc = rc ? rc : dup_str(&c->o.mode, mode);
	rc = rc ? rc : dup_str(&c->o.target, o->target);
	rc = rc ? rc : dup_str(&c->o.fallback, o->fallback && *o->fallback ? o->fallback : NULL);
	rc = rc ? rc : dup_str(&c->o.refer_fallback, rfb);
	rc = rc ? rc : dup_str(&c->o.ring, ring);
	rc = rc ? rc : dup_str(&c->o.store_password_file, o->version == 1 ? NULL : o->store_password_file);
	const char *vf = !no_vm && o->voicemail_format && *o->voicemail_format ? o->voicemail_format : "wav";
	const char *vg = !no_vm && o->voicemail_greeting && *o->voicemail_greeting ? o->voicemail_greeting : "voicemail";
	c->o.voicemail_format = c->o.voicemail_greeting = NULL; /* copies follow */
	rc = rc ? rc : dup_str(&c->o.voicemail_format, vf);
	rc = rc ? rc : dup_str(&c->o.voicemail_greeting, vg);
	if (rc == 0 && !(c->policy = pb_calloc(np + 1, sizeof(char *))))
		rc = pb_error__oom();
	for (size_t i = 0; rc == 0 && i < np; i++)
		rc = dup_str((const char **)&c->policy[i], o->policy[i]);
	c->o.policy = NULL;
	if (rc < 0)
		conf_dispose(c);
	return rc;
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* The registration lifetime, bridge timeout and nonce lifetime as pb_sip_new() takes them:
 * the _ms member, or the deprecated seconds one when that is 0. */
static unsigned long long sip_expires_ms(const pb_sip_options *o)
{
	return o->register_expires_ms ? o->register_expires_ms : o->register_expires * 1000ULL;
}

static unsigned long long sip_bridge_ms(const pb_sip_options *o)
{
	return o->bridge_timeout_ms ? o->bridge_timeout_ms : o->bridge_timeout * 1000ULL;
}

static unsigned long long sip_nonce_ms(const pb_sip_options *o)
{
	return o->auth_nonce_ttl_ms ? o->auth_nonce_ttl_ms : o->auth_nonce_ttl * 1000ULL;
}

/* Does @p b change what a running agent cannot: its sockets, TLS, its
 * registration, the store it logs to? */
static bool needs_restart(const conf *a, const conf *b)
{
	const pb_sip_options *x = &a->o.sip, *y = &b->o.sip;
	return !str_eq(x->bind_address, y->bind_address) || x->port != y->port || x->udp != y->udp ||
	       x->tcp != y->tcp || !str_eq(x->rtp_address, y->rtp_address) ||
	       x->rtp_port_min != y->rtp_port_min || x->rtp_port_max != y->rtp_port_max ||
	       !str_eq(x->user_agent, y->user_agent) || !str_eq(x->registrar, y->registrar) ||
	       !str_eq(x->aor, y->aor) || !str_eq(x->username, y->username) ||
	       !str_eq(x->password, y->password) || sip_expires_ms(x) != sip_expires_ms(y) ||
	       sip_bridge_ms(x) != sip_bridge_ms(y) || sip_nonce_ms(x) != sip_nonce_ms(y) ||
	       !str_eq(x->tls_cert_dir, y->tls_cert_dir) || x->tls_port != y->tls_port ||
	       !str_eq(a->o.store, b->o.store) || !str_eq(a->o.store_password_file, b->o.store_password_file);
}

/* The store of these settings: a SQLite file, or a PostgreSQL URL with its
 * password file. */
static int open_store(const conf *c, pb_store **out)
{
	pb_store_options so = PB_STORE_OPTIONS_INIT;
	so.password_file = c->o.store_password_file;
	return pb_store_open(out, c->o.store, &so);
}

/* --- events --------------------------------------------------------------------------- */

static void emit(scall *sc, pb_screener_event_type type, const pb_screen_result *r)
{
	pb_screener *s = sc->s;
	if (!s->conf.o.on_event)
		return;
	pb_screener_event ev = { 0 };
	ev.type = type;
	ev.call = sc->id;
	ev.caller = pb_sip_call_caller(sc->call);
	ev.decision = sc->decided ? &sc->dec : NULL;
	ev.result = r;
	ev.count = 1;
	if (type == PB_SCREENER_FORWARDED) {
		ev.mode = s->conf.o.mode;
		ev.target = sc->target;
	}
	if (type == PB_SCREENER_ENDED) {
		ev.outcome = sc->outcome[0] ? sc->outcome : "none";
		ev.duration_ms = sc->answered || pb_sip_call_answered(sc->call) ? pb_sip_now(s->ua) - sc->started : 0;
	}
	s->conf.o.on_event(&ev, s->conf.o.userdata);
}

/* --- store lookups for the policy -------------------------------------------------- */

static int is_on(pb_screener *s, int list, const char *e164)
{
	int rc = pb_store_list_lookup(s->store, list, e164, 0, NULL);
	return rc == 0 ? 1 : rc == PB_ENOTFOUND ? 0 : rc;
}

static int is_allowed(const char *e164, void *ud) { return is_on(ud, PB_STORE_ALLOW, e164); }
static int is_denied(const char *e164, void *ud) { return is_on(ud, PB_STORE_DENY, e164); }

static int recent_failures(const char *e164, int64_t since, void *ud)
{
	pb_screener *s = ud;
	int64_t n = 0;
	int rc = pb_store_attempt_count(s->store, e164, since * 1000, true, &n);
	return rc < 0 ? rc : (int)(n > 1000 ? 1000 : n);
}

/* --- forwarding --------------------------------------------------------------------- */

static void set_how(scall *sc, const char *how)
{
	snprintf(sc->how, sizeof(sc->how), "%s", how);
}

static void stop_media(scall *sc)
{
	pb_screener__vm_free(sc->vm); /* it feeds on the media */
	sc->vm = NULL;
	pb_media_call_free(sc->media);
	sc->media = NULL;
}

static void start_media(scall *sc);
static void ticker_ensure(pb_screener *s);
static bool start_voicemail(scall *sc, int status);

/* Target @p i of the comma-separated list into @p out; false past the end. */
static bool nth_target(const char *list, unsigned i, char *out, size_t cap)
{
	const char *p = list;
	for (unsigned k = 0;; k++) {
		p += strspn(p, ", \t");
		size_t n = strcspn(p, ", \t");
		if (n == 0)
			return false;
		if (k == i) {
			snprintf(out, cap, "%.*s", (int)n, p);
			return true;
		}
		p += n;
	}
}

/* Where this call goes: the called number's own settings (the store's
 * numbers table), or the configured ones. */
static const char *target_of(const scall *sc)
{
	return sc->num && sc->num->forward_target ? sc->num->forward_target : sc->s->conf.o.target;
}

/* What the number called says about voicemail (its numbers.voicemail,
 * docs/cluster.md): nothing (the configuration's [forward] fallback and
 * [voicemail]), "record" (the local recorder, no fallback URI), "off" (no
 * voicemail at all), or a voicemail server's URI (the fallback target, no
 * local recording). */
enum { VM_DEFAULT, VM_RECORD, VM_OFF, VM_URI };

static int vm_mode(const scall *sc)
{
	const char *v = sc->num ? sc->num->voicemail : NULL;
	if (!v || !*v)
		return VM_DEFAULT;
	return !strcmp(v, "record") ? VM_RECORD : !strcmp(v, "off") ? VM_OFF : VM_URI;
}

static const char *fallback_of(const scall *sc)
{
	int m = vm_mode(sc);
	return m == VM_URI ? sc->num->voicemail : m == VM_DEFAULT ? sc->s->conf.o.fallback : NULL;
}

/* ring = sequential: bridge to the next target, then to the fallback. */
static int bridge_next(scall *sc)
{
	char one[256];
	if (nth_target(target_of(sc), sc->next_target, one, sizeof(one))) {
		sc->next_target++;
		return pb_sip_call_bridge(sc->call, one, NULL);
	}
	if (fallback_of(sc) && !sc->tried_fallback) {
		sc->tried_fallback = true;
		return pb_sip_call_bridge(sc->call, fallback_of(sc), NULL);
	}
	return pb_error_set(PB_ENOTFOUND, "no more targets");
}

/*
 * The 302's Contact for every target (RFC 3261 8.1.3.4, 16.7: the upstream
 * may try several Contacts; q orders them, equal q may be forked at once):
 * ring = parallel gives the targets one q, sequential a falling one; the
 * fallback comes last. One target: just its URI.
 */
static void redirect_contacts(const scall *sc, char *out, size_t cap)
{
	char one[256];
	/* the number called may have a target and a voicemail of its own */
	const char *targets = target_of(sc), *fallback = fallback_of(sc);
	unsigned n = count_targets(targets);
	bool seq = !strcmp(sc->s->conf.o.ring, "sequential");
	size_t len = 0;
	out[0] = '\0';
	if (n <= 1 && !fallback) {
		nth_target(targets, 0, out, cap);
		return;
	}
	for (unsigned i = 0; i <= n; i++) {
		const char *uri = one;
		if (i < n)
			nth_target(targets, i, one, sizeof(one));
		else if (fallback)
			uri = fallback;
		else
			break;
		/* q in thousandths: 1.000, then 0.900, 0.800 ... down to 0.100; the fallback below */
		unsigned q = i == n ? 50 : seq ? 1000 - 100 * PB_MIN(i, 9u) : 1000;
		int w = snprintf(out + len, cap - len, "%s<%s>;q=%u.%03u", len ? ", " : "", uri, q / 1000, q % 1000);
		if (w < 0 || (size_t)w >= cap - len) {
			out[len] = '\0'; /* keep the Contacts that fit */
			break;
		}
		len += (size_t)w;
	}
}

static void forward(scall *sc)
{
	const pb_screener_options *o = &sc->s->conf.o;
	const char *mode = o->mode;
	const char *target = target_of(sc);
	int rc;
	snprintf(sc->target, sizeof(sc->target), "%s", target);
	stop_media(sc);
	char first[256] = "";
	nth_target(target, 0, first, sizeof(first));
	if (!strcmp(mode, "redirect") && !pb_sip_call_answered(sc->call)) {
		char contacts[1400];
		redirect_contacts(sc, contacts, sizeof(contacts));
		rc = pb_sip_call_redirect(sc->call, contacts);
		sc->final_status = rc == 0 ? 302 : 0;
	} else if (!strcmp(mode, "refer") && pb_sip_call_answered(sc->call)) {
		sc->referring = (rc = pb_sip_call_refer(sc->call, first)) == 0;
	} else if (!strcmp(o->ring, "sequential")) {
		rc = bridge_next(sc);
	} else {
		/* bridge; also redirect after answering and refer before (a B2BUA works with every
		 * trunk); several targets ring at once */
		rc = pb_sip_call_bridge(sc->call, target, fallback_of(sc));
	}
	if (rc < 0) {
		LOG(PB_LOG_ERROR, "forwarding to %s failed: %s", target, pb_error_last()->message);
		set_how(sc, "forward failed");
		if (!start_voicemail(sc, 503))
			pb_sip_call_hangup(sc->call);
		return;
	}
	set_how(sc, "forwarded");
	if (sc->referring) {
		LOG(PB_LOG_INFO, "call from %s: REFER to %s sent", sc->dec.caller, target);
		return; /* FORWARDED once the transfer is reported done */
	}
	LOG(PB_LOG_INFO, "call from %s forwarded (%s) to %s", sc->dec.caller, mode, target);
	emit(sc, PB_SCREENER_FORWARDED, NULL);
}

/* The caller's side refused the REFER (501, 405, a timeout) or reported the
 * transfer failed: the caller must not be left in dead air. */
static void refer_failed(scall *sc, int status)
{
	const pb_screener_options *o = &sc->s->conf.o;
	sc->referring = false;
	if (sc->ended)
		return;
	/* status 0: accepted, but no final NOTIFY within refer_timeout_ms */
	char why[64];
	if (status)
		snprintf(why, sizeof(why), "failed (%d)", status);
	else if (o->refer_timeout_ms % 1000 == 0) /* as a person set it: seconds */
		snprintf(why, sizeof(why), "unconfirmed (no final NOTIFY within %u s)", o->refer_timeout_ms / 1000);
	else
		snprintf(why, sizeof(why), "unconfirmed (no final NOTIFY within %u ms)", o->refer_timeout_ms);
	const char *word = status ? "failed" : "unconfirmed";
	char how[48];
	if (!strcmp(o->refer_fallback, "goodbye")) {
		LOG(PB_LOG_WARNING, "REFER of %s to %s %s: goodbye and BYE", sc->dec.caller, target_of(sc), why);
		snprintf(how, sizeof(how), "REFER %s: goodbye", word);
		set_how(sc, how);
		sc->target[0] = '\0';
		start_media(sc);
		static const char *const bye[] = { "goodbye" };
		if (!sc->media || pb_media_call_play(sc->media, bye, 1) < 0) {
			stop_media(sc);
			pb_sip_call_hangup(sc->call);
			return;
		}
		sc->bye_after_prompt = true;
		return;
	}
	LOG(PB_LOG_WARNING, "REFER of %s to %s %s: bridging instead", sc->dec.caller, target_of(sc), why);
	snprintf(how, sizeof(how), "REFER %s: bridged", word);
	set_how(sc, how);
	if (pb_sip_call_bridge(sc->call, target_of(sc), fallback_of(sc)) < 0) {
		LOG(PB_LOG_ERROR, "bridging to %s failed: %s", target_of(sc), pb_error_last()->message);
		pb_sip_call_hangup(sc->call);
		return;
	}
	LOG(PB_LOG_INFO, "call from %s forwarded (bridge after REFER failed) to %s", sc->dec.caller,
	    target_of(sc));
	emit(sc, PB_SCREENER_FORWARDED, NULL);
}

/* --- screening host ops ------------------------------------------------------------ */

static void start_media(scall *sc)
{
	const pb_sip_media *m = pb_sip_call_media(sc->call);
	pb_media_call_options o = PB_MEDIA_CALL_OPTIONS_INIT;
	o.codec = m->codec_pt == 8 ? PB_CODEC_PCMA : PB_CODEC_PCMU;
	o.event_payload_type = m->dtmf_pt >= 96 && m->dtmf_pt <= 127 ? (uint8_t)m->dtmf_pt : 0;
	o.prompts = sc->s->prompts;
	if (sc->tx_known) {
		/* the caller has heard us already: the same stream goes on (same SSRC,
		 * the next sequence number, the timestamp advanced by the time since);
		 * a new random sequence would go back half of the time, and receivers
		 * (Net::SIP, many phones) drop packets whose sequence numbers go back */
		int64_t gap = pb_sip_now(sc->s->ua) - sc->tx_at;
		o.random_start = false;
		o.ssrc = sc->tx_ssrc;
		o.seq = (uint16_t)(sc->tx_seq + 1u);
		o.timestamp = sc->tx_ts + PB_MEDIA_FRAME + (uint32_t)(gap > 0 ? gap * (PB_MEDIA_RATE / 1000) : 0);
	}
	if (pb_media_call_new(&sc->media, &o) < 0)
		LOG(PB_LOG_ERROR, "media: %s", pb_error_last()->message);
	else
		ticker_ensure(sc->s);
}

static void host_ring(void *ud)
{
	scall *sc = ud;
	if (!sc->ended)
		pb_sip_call_ring(sc->call);
}

static void host_answer(void *ud)
{
	scall *sc = ud;
	pb_screener *s = sc->s;
	if (sc->ended || sc->answered)
		return;
	sc->answered = true;
	start_media(sc);
	if (s->conf.o.early_media)
		pb_sip_call_progress(sc->call);
	else
		pb_sip_call_answer(sc->call);
}

static void host_play(const char *const *names, size_t n, void *ud)
{
	scall *sc = ud;
	if (sc->media && pb_media_call_play(sc->media, names, n) < 0)
		LOG(PB_LOG_WARNING, "prompts: %s", pb_error_last()->message);
}

static void host_stop_playing(void *ud)
{
	scall *sc = ud;
	if (sc->media)
		pb_media_call_stop(sc->media);
}

static void session_timer(pb_sip_timer *t, void *ud)
{
	scall *sc = ud;
	(void)t;
	sc->timer = NULL;
	if (sc->session)
		pb_screen_session_timer(sc->session, pb_sip_now(sc->s->ua));
}

static void host_set_timer(int64_t at, void *ud)
{
	scall *sc = ud;
	pb_sip_timer_cancel(sc->timer);
	sc->timer = NULL;
	if (at < 0)
		return;
	int64_t now = pb_sip_now(sc->s->ua);
	unsigned ms = at > now ? (unsigned)(at - now) : 0;
	pb_sip_timer_start(sc->s->ua, ms, session_timer, sc, &sc->timer);
}

static void host_finish(const pb_screen_result *r, void *ud)
{
	scall *sc = ud;
	pb_screener *s = sc->s;
	snprintf(sc->outcome, sizeof(sc->outcome), "%s:%s", r->challenge, pb_screen_outcome_name(r->outcome));
	LOG(PB_LOG_INFO, "challenge %s for %s: %s (%s)", r->challenge, sc->dec.caller,
	    pb_screen_outcome_name(r->outcome), r->reason ? r->reason : "");
	bool e164 = sc->dec.caller[0] && sc->dec.kind == PB_SCREEN_NUMBER_E164;
	if (e164 && r->outcome != PB_SCREEN_HUNG_UP &&
	    pb_store_attempt_record(s->store, sc->dec.caller, 0, r->outcome != PB_SCREEN_PASSED) < 0)
		LOG(PB_LOG_ERROR, "attempts: %s", pb_error_last()->message);
	if (r->outcome == PB_SCREEN_PASSED && e164 &&
	    pb_store_list_add(s->store, PB_STORE_ALLOW, sc->dec.caller, PB_STORE_SRC_CHALLENGE, 0) < 0)
		LOG(PB_LOG_ERROR, "allow list: %s", pb_error_last()->message);
	emit(sc, PB_SCREENER_CHALLENGE_DONE, r);
	sc->passed = r->outcome == PB_SCREEN_PASSED;
	if (r->outcome != PB_SCREEN_PASSED)
		set_how(sc, r->outcome == PB_SCREEN_FAILED ? "challenge failed"
			    : r->outcome == PB_SCREEN_HUNG_UP ? "caller hung up during the challenge"
			    : r->outcome == PB_SCREEN_TIMED_OUT ? "challenge timed out" : "challenge error");
	if (sc->ended)
		return;
	if (r->outcome == PB_SCREEN_PASSED) {
		forward(sc);
	} else {
		pb_sip_call_hangup(sc->call);
	}
}

static const pb_screen_host_ops host_ops = {
	PB_SCREEN_HOST_OPS_VERSION, host_ring, host_answer, host_play, host_stop_playing,
	host_set_timer, host_finish,
};

/* --- voicemail: after a failed bridge (docs/screen.md "Voicemail") --------------- */

/* Answer (or keep) the caller whose bridge failed with @p status, play the
 * greeting, then record. Only for callers who passed their challenge or
 * are on the allow list, and only for the failures configured.
 * @return false when voicemail does not apply (the caller is hung up as before) */
static bool start_voicemail(scall *sc, int status)
{
	pb_screener *s = sc->s;
	const pb_screener_options *o = &s->conf.o;
	unsigned reason = pb_screener__vm_reason(status);
	unsigned on = o->voicemail_on ? o->voicemail_on : ~0u;
	int mode = vm_mode(sc);
	if (mode == VM_OFF || mode == VM_URI) /* none for this number, or its server's */
		return false;
	if (mode == VM_RECORD && !o->voicemail) {
		LOG(PB_LOG_WARNING, "call from %s: its number says voicemail = record, but [voicemail] is not enabled here",
		    sc->dec.caller);
		return false;
	}
	if (!o->voicemail || !sc->passed || sc->ended || sc->vm || !(on & reason))
		return false;
	if (pb_sip_call_keep(sc->call) < 0)
		return false;
	int64_t now = pb_sip_now(s->ua);
	sc->answered = true;
	int rc = pb_sip_call_answered(sc->call) ? 0 : pb_sip_call_answer(sc->call);
	if (rc == 0) {
		start_media(sc);
		rc = sc->media ? pb_screener__vm_new(&sc->vm, o, sc->media, now) : PB_ENOMEM;
	}
	if (rc < 0) {
		LOG(PB_LOG_ERROR, "voicemail for %s: %s", sc->dec.caller, pb_error_last()->message);
		set_how(sc, "voicemail failed");
		stop_media(sc);
		pb_sip_call_hangup(sc->call);
		return true;
	}
	LOG(PB_LOG_INFO, "call from %s: forward failed (%d, %s): voicemail", sc->dec.caller, status,
	    pb_screener__vm_reason_name(reason));
	set_how(sc, "voicemail: hung up during the greeting");
	return true;
}

/* The message is over (hang-up, silence, length): store it, then (@p hang) BYE. */
static void end_voicemail(scall *sc, bool hang)
{
	pb_screener *s = sc->s;
	if (!sc->vm)
		return;
	if (pb_screener__vm_recording(sc->vm)) {
		const pb_sip_caller *c = pb_sip_call_caller(sc->call);
		const char *who = sc->dec.caller[0] ? sc->dec.caller : c->from_uri;
		int64_t row = 0;
		uint64_t ms = 0;
		int rc = pb_screener__vm_store(sc->vm, s->store, who, c->call_id, sc->at_wall_ms, &row, &ms);
		if (rc == 0) {
			LOG(PB_LOG_INFO, "voicemail from %s stored (%" PRIu64 " ms, journal row %lld)", who, ms,
			    (long long)row);
			set_how(sc, "voicemail");
		} else if (rc == 1) {
			LOG(PB_LOG_INFO, "voicemail from %s: nothing said, not kept", who);
			set_how(sc, "voicemail: nothing said");
		} else {
			LOG(PB_LOG_ERROR, "voicemail from %s NOT stored: %s", who, pb_error_last()->message);
			set_how(sc, "voicemail: not stored");
		}
	}
	stop_media(sc);
	if (hang && !sc->ended)
		pb_sip_call_hangup(sc->call);
}

/* --- media tick: every 20 ms, one packet per answered call ------------------------- */

static void junk_flush_due(pb_screener *s, int64_t now, bool all);

static bool tick_needed(const pb_screener *s)
{
	for (const scall *sc = s->calls; sc; sc = sc->next)
		if (sc->media && !sc->ended)
			return true;
	for (size_t i = 0; i < JUNK_RULES; i++)
		if (s->junk[i].held)
			return true;
	return false;
}

static void tick(pb_sip_timer *t, void *ud)
{
	pb_screener *s = ud;
	(void)t;
	s->ticker = NULL;
	int64_t now = pb_sip_now(s->ua);
	junk_flush_due(s, now, false);
	for (scall *sc = s->calls; sc; sc = sc->next) {
		if (!sc->media || sc->ended)
			continue;
		unsigned events = 0;
		pb_buf_clear(&s->pkt);
		if (pb_media_call_tick(sc->media, &s->pkt, &events) == 0 && s->pkt.len >= 12 &&
		    pb_sip_call_send_rtp(sc->call, s->pkt.data, s->pkt.len) == 0) {
			const uint8_t *h = s->pkt.data;
			sc->tx_known = true;
			sc->tx_seq = (uint16_t)(h[2] << 8 | h[3]);
			sc->tx_ts = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
			sc->tx_ssrc = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
			sc->tx_at = now;
		}
		if (sc->vm) {
			if (events & PB_MEDIA_PROMPT_DONE)
				pb_screener__vm_greeted(sc->vm, now);
			if (pb_screener__vm_over(sc->vm, now))
				end_voicemail(sc, true);
			continue;
		}
		if ((events & PB_MEDIA_PROMPT_DONE) && sc->bye_after_prompt) {
			sc->bye_after_prompt = false;
			stop_media(sc);
			pb_sip_call_hangup(sc->call);
		} else if ((events & PB_MEDIA_PROMPT_DONE) && sc->session) {
			pb_screen_session_prompt_done(sc->session, now);
		}
	}
	if (tick_needed(s))
		pb_sip_timer_start(s->ua, TICK_MS, tick, s, &s->ticker);
}

/* The tick runs while a call has media or refusals are held back for a
 * window's row: an idle screener has no timer (a foreign loop sleeps). */
static void ticker_ensure(pb_screener *s)
{
	if (!s->ticker && s->ua)
		pb_sip_timer_start(s->ua, TICK_MS, tick, s, &s->ticker);
}

/* --- SIP events ---------------------------------------------------------------------- */

static void attestation_of(scall *sc)
{
	const char *a = "none";
	if (sc->dec.verstat == PB_VERSTAT_PASSED)
		a = "passed";
	else if (sc->dec.verstat == PB_VERSTAT_FAILED)
		a = "failed";
	snprintf(sc->attestation, sizeof(sc->attestation), "%s", a);
}

/* The defaults with a number's "key=value; key=value" over them. */
static int number_policy(const char *const *defaults, const char *text, pb_screen_policy **out)
{
	pb_screen_policy *p;
	int rc = pb_screen_policy_new(&p);
	for (size_t i = 0; rc == 0 && defaults && defaults[i]; i += 2)
		rc = pb_screen_policy_set(p, defaults[i], defaults[i + 1]);
	if (rc == 0)
		rc = pb_screen_policy_apply(p, text);
	if (rc < 0) {
		pb_screen_policy_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

/* The called number's own settings, when the store has some: looked up on
 * every call, so a change made with "pb-screend numbers set" on any node of
 * a cluster applies to the next call everywhere. A failure leaves the call
 * with the defaults, logged. */
static void number_settings(pb_screener *s, scall *sc, const pb_sip_caller *c)
{
	char called[64];
	if (!c->request_uri ||
	    pb_screen_normalize_number(called, sizeof(called), c->request_uri, pb_screen_policy_numbering(s->policy)) !=
		    PB_SCREEN_NUMBER_E164)
		return;
	int rc = pb_store_number_get(s->store, called, &sc->num);
	if (rc == PB_ENOTFOUND)
		return;
	if (rc < 0) {
		LOG(PB_LOG_ERROR, "settings of %s: %s: using the defaults", called, pb_error_last()->message);
		return;
	}
	if (sc->num->policy &&
	    number_policy((const char *const *)s->conf.policy, sc->num->policy, &sc->num_policy) < 0)
		LOG(PB_LOG_ERROR, "settings of %s: %s: using the default policy", called, pb_error_last()->message);
	LOG(PB_LOG_DEBUG, "call to %s: its own settings (policy %s, forward %s, voicemail %s)", called,
	    sc->num->policy ? sc->num->policy : "-", sc->num->forward_target ? sc->num->forward_target : "-",
	    sc->num->voicemail ? sc->num->voicemail : "-");
}

static void decide(pb_screener *s, scall *sc)
{
	const pb_sip_caller *c = pb_sip_call_caller(sc->call);
	pb_screen_call call = PB_SCREEN_CALL_INIT;
	call.from = c->from_uri;
	call.display_name = c->display_name;
	call.pai = c->pai;
	call.verstat = c->verstat;
	call.number = c->number;             /* parsed by sip: not parsed again */
	call.verstat_known = true;
	call.verstat_value = c->verstat_value;
	call.identity_header = c->identity_header;
	call.called = c->request_uri;
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	call.now = (int64_t)now;
	call.minute_of_day = tm.tm_hour * 60 + tm.tm_min;
	pb_screen_lookups lk = { is_allowed, is_denied, recent_failures, s };
	number_settings(s, sc, c);
	if (pb_screen_policy_decide(sc->num_policy ? sc->num_policy : s->policy, &call, &lk, &sc->dec) < 0) {
		LOG(PB_LOG_ERROR, "policy: %s: challenging", pb_error_last()->message);
		sc->dec.verdict = PB_SCREEN_CHALLENGE;
		snprintf(sc->dec.challenge, sizeof(sc->dec.challenge), "press-digit");
	}
	sc->decided = true;
	attestation_of(sc);
	LOG(PB_LOG_INFO, "call from %s (%s): %s by rule %s%s%s", sc->dec.caller[0] ? sc->dec.caller : "?",
	    c->from_uri ? c->from_uri : "-", pb_screen_verdict_name(sc->dec.verdict),
	    sc->dec.rule ? sc->dec.rule : "-", sc->dec.verdict == PB_SCREEN_CHALLENGE ? " challenge " : "",
	    sc->dec.verdict == PB_SCREEN_CHALLENGE ? sc->dec.challenge : "");
	emit(sc, PB_SCREENER_VERDICT, NULL);
}

static void refused(pb_screener *s, const char *rule, int status, const pb_sip_caller *c, unsigned long n);

static void on_incoming(pb_sip_call *call, void *ud)
{
	pb_screener *s = ud;
	if (s->conf.o.max_calls && pb_sip_call_count(s->ua) > s->conf.o.max_calls) {
		/* this call is counted already: one more than the limit */
		const pb_sip_caller *c = pb_sip_call_caller(call);
		LOG(PB_LOG_WARNING, "INVITE from %s refused: %u calls in progress already (max-calls): 503",
		    c->source ? c->source : "?", s->conf.o.max_calls);
		pb_sip_call_reject(call, 503, NULL);
		refused(s, "overloaded", 503, c, 1);
		return;
	}
	scall *sc = pb_calloc(1, sizeof(*sc));
	if (!sc) {
		pb_sip_call_reject(call, 500, NULL);
		return;
	}
	sc->s = s;
	sc->id = ++s->next_call;
	sc->call = call;
	sc->started = pb_sip_now(s->ua);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	sc->at_wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	sc->next = s->calls;
	s->calls = sc;
	pb_sip_call_set_userdata(call, sc);
	emit(sc, PB_SCREENER_CALL_STARTED, NULL);
	decide(s, sc);
	switch (sc->dec.verdict) {
	case PB_SCREEN_ACCEPT:
		snprintf(sc->outcome, sizeof(sc->outcome), "none");
		/* the allow list vouches for the caller; short numbers and the like do not */
		sc->passed = sc->dec.rule && !strcmp(sc->dec.rule, "allow-list");
		forward(sc);
		return;
	case PB_SCREEN_REJECT:
		snprintf(sc->outcome, sizeof(sc->outcome), "none");
		sc->final_status = sc->dec.sip_status ? sc->dec.sip_status : 603;
		set_how(sc, "refused");
		pb_sip_call_reject(call, sc->final_status, NULL);
		return;
	case PB_SCREEN_CHALLENGE:
		break;
	}
	pb_screen_session_options so = PB_SCREEN_SESSION_OPTIONS_INIT;
	so.max_duration_ms = s->conf.o.max_duration_ms;
	if (pb_screen_session_new(&sc->session, s->registry, sc->dec.challenge, sc->dec.params,
				  &host_ops, sc, &so) < 0) {
		LOG(PB_LOG_ERROR, "challenge %s: %s", sc->dec.challenge, pb_error_last()->message);
		sc->final_status = 500;
		set_how(sc, "challenge error");
		pb_sip_call_reject(call, 500, NULL);
		return;
	}
	pb_screen_session_start(sc->session, pb_sip_now(s->ua));
}

static void on_rtp(pb_sip_call *call, const uint8_t *p, size_t len, void *ud)
{
	scall *sc = pb_sip_call_get_userdata(call);
	(void)ud;
	if (!sc || !sc->media)
		return;
	char digits[8];
	size_t n = 0;
	int rc = pb_media_call_receive(sc->media, p, len, digits, sizeof(digits), &n, NULL);
	if (sc->vm) {
		int64_t now = pb_sip_now(sc->s->ua);
		pb_screener__vm_heard(sc->vm, now);
		/* '#' ends a message, as voicemail systems do */
		if (pb_screener__vm_over(sc->vm, now) ||
		    (rc == 0 && n > 0 && memchr(digits, '#', n) && pb_screener__vm_recording(sc->vm)))
			end_voicemail(sc, true);
		return;
	}
	if (rc < 0)
		return;
	for (size_t i = 0; i < n && sc->session; i++) {
		pb_log_debug(DOMAIN, "digit %c (RTP) from %s", digits[i], sc->dec.caller);
		pb_screen_session_dtmf(sc->session, digits[i], pb_sip_now(sc->s->ua));
	}
}

/* --- refusals before screening: logged, junk aggregated ------------------------------ */

/* One row and one event for @p n refusals like @p c. */
static void refusal_log(pb_screener *s, const char *rule, int status, const pb_sip_caller *c, unsigned long n,
			const char *ended)
{
	pb_store_call row = { 0 };
	row.caller = c->number ? c->number : c->from_uri;
	row.called = c->request_uri;
	row.source = c->source;
	row.attestation = "none";
	row.verdict = pb_screen_verdict_name(PB_SCREEN_REJECT);
	row.challenge = "none";
	row.rule = rule;
	row.sip_status = status;
	row.ended = ended;
	row.count = (int64_t)n;
	if (pb_store_call_log(s->store, &row, NULL) < 0)
		LOG(PB_LOG_ERROR, "call log: %s", pb_error_last()->message);
	if (!s->conf.o.on_event)
		return;
	pb_screen_decision d = { 0 };
	d.verdict = PB_SCREEN_REJECT;
	d.sip_status = status;
	d.rule = rule;
	pb_screener_event ev = { 0 };
	ev.type = PB_SCREENER_REFUSED;
	ev.call = ++s->next_call;
	ev.caller = c;
	ev.decision = &d;
	ev.outcome = "none";
	ev.count = n;
	s->conf.o.on_event(&ev, s->conf.o.userdata);
}

/* Write what a rule's window held back, and start a new window. */
static void junk_flush(pb_screener *s, junk *j, int64_t now)
{
	if (j->held) {
		char ended[96];
		snprintf(ended, sizeof(ended), "refused: %lu more like this within %d s, not logged one by one",
			 j->held, JUNK_WINDOW_MS / 1000);
		pb_sip_caller c = { 0 };
		c.from_uri = j->caller[0] ? j->caller : NULL;
		c.request_uri = j->called[0] ? j->called : NULL;
		c.source = j->source[0] ? j->source : NULL;
		LOG(PB_LOG_NOTICE, "%lu more INVITEs refused (%s, %d) within %d s, the last from %s", j->held,
		    j->rule, j->status, JUNK_WINDOW_MS / 1000, j->source[0] ? j->source : "?");
		refusal_log(s, j->rule, j->status, &c, j->held, ended);
	}
	j->held = 0;
	j->rows = 0;
	j->window_start = now;
}

static void junk_flush_due(pb_screener *s, int64_t now, bool all)
{
	for (size_t i = 0; i < JUNK_RULES; i++) {
		junk *j = &s->junk[i];
		if (j->rule && (all || now - j->window_start >= JUNK_WINDOW_MS))
			junk_flush(s, j, now);
	}
}

static junk *junk_slot(pb_screener *s, const char *rule, int status)
{
	junk *free_slot = NULL;
	for (size_t i = 0; i < JUNK_RULES; i++) {
		junk *j = &s->junk[i];
		if (j->rule && j->status == status && !strcmp(j->rule, rule))
			return j;
		if (!j->rule && !free_slot)
			free_slot = j;
	}
	return free_slot;
}

/* A refusal: its own row while the rule's window has room, else counted. */
static void refused(pb_screener *s, const char *rule, int status, const pb_sip_caller *c, unsigned long n)
{
	int64_t now = s->ua ? pb_sip_now(s->ua) : 0;
	junk *j = junk_slot(s, rule, status);
	if (j && j->rule && now - j->window_start >= JUNK_WINDOW_MS)
		junk_flush(s, j, now);
	if (j && !j->rule) {
		j->rule = rule;
		j->status = status;
		j->window_start = now;
	}
	if (!j || j->rows < JUNK_ROWS) {
		if (j)
			j->rows++;
		refusal_log(s, rule, status, c, n, "refused");
		return;
	}
	j->held += n;
	ticker_ensure(s); /* to write the window's row when it ends */
	snprintf(j->caller, sizeof(j->caller), "%s", c->number ? c->number : c->from_uri ? c->from_uri : "");
	snprintf(j->called, sizeof(j->called), "%s", c->request_uri ? c->request_uri : "");
	snprintf(j->source, sizeof(j->source), "%s", c->source ? c->source : "");
}

static void on_refused(const pb_sip_refusal *r, void *ud)
{
	refused(ud, r->rule, r->status, r->caller, r->count ? r->count : 1);
}

static void log_call(pb_screener *s, scall *sc)
{
	pb_store_call row = { 0 };
	row.caller = sc->dec.caller[0] ? sc->dec.caller : pb_sip_call_caller(sc->call)->from_uri;
	row.attestation = sc->attestation;
	row.verdict = pb_screen_verdict_name(sc->dec.verdict);
	row.challenge = sc->outcome[0] ? sc->outcome : "none";
	row.duration_ms = pb_sip_call_answered(sc->call) ? pb_sip_now(s->ua) - sc->started : 0;
	row.forward_target = sc->target[0] ? sc->target : NULL;
	const pb_sip_caller *c = pb_sip_call_caller(sc->call);
	row.called = c->request_uri;
	row.source = c->source;
	row.rule = sc->dec.rule;
	bool answered = pb_sip_call_answered(sc->call);
	row.sip_status = answered ? 200 : sc->final_status ? sc->final_status : pb_sip_call_status(sc->call);
	if (!sc->how[0])
		set_how(sc, answered ? "hung up" : "caller gave up");
	row.ended = sc->how;
	if (pb_store_call_log(s->store, &row, NULL) < 0)
		LOG(PB_LOG_ERROR, "call log: %s", pb_error_last()->message);
}

static void call_ended(pb_screener *s, scall *sc)
{
	sc->ended = true;
	end_voicemail(sc, false); /* the caller hung up: what was said is kept */
	if (sc->session && !pb_screen_session_finished(sc->session))
		pb_screen_session_hangup(sc->session, pb_sip_now(s->ua));
	log_call(s, sc);
	emit(sc, PB_SCREENER_ENDED, NULL);
	pb_sip_timer_cancel(sc->timer);
	pb_screen_session_free(sc->session);
	stop_media(sc);
	pb_screen_policy_free(sc->num_policy);
	pb_store_number_free(sc->num);
	for (scall **pp = &s->calls; *pp; pp = &(*pp)->next)
		if (*pp == sc) {
			*pp = sc->next;
			break;
		}
	pb_free(sc);
}

static void on_event(pb_sip_call *call, pb_sip_event ev, void *ud)
{
	pb_screener *s = ud;
	if (!call) {
		LOG(ev == PB_SIP_EV_REGISTERED ? PB_LOG_INFO : PB_LOG_WARNING, "registration: %s (%d)",
		    pb_sip_event_name(ev), pb_sip_last_register_status(s->ua));
		if (ev == PB_SIP_EV_REGISTERED || ev == PB_SIP_EV_REGISTER_FAILED) {
			atomic_store(&s->reg_status, pb_sip_last_register_status(s->ua));
			atomic_store(&s->reg_state, ev == PB_SIP_EV_REGISTERED ? PB_SCREENER_REG_OK
									  : PB_SCREENER_REG_FAILED);
		}
		return;
	}
	scall *sc = pb_sip_call_get_userdata(call);
	if (!sc)
		return;
	if (ev == PB_SIP_EV_INFO) {
		size_t len;
		const char *body = pb_sip_call_info_body(call, &len);
		char digit;
		if (sc->vm && pb_screener__vm_recording(sc->vm) &&
		    pb_dtmf_info_parse(pb_sip_call_info_type(call), (const uint8_t *)body, len, &digit, NULL,
				       NULL) == 0 && digit == '#') {
			end_voicemail(sc, true); /* '#' ends a message */
		} else if (sc->session && pb_dtmf_info_parse(pb_sip_call_info_type(call), (const uint8_t *)body,
						      len, &digit, NULL, NULL) == 0) {
			pb_log_debug(DOMAIN, "digit %c (SIP INFO) from %s", digit, sc->dec.caller);
			pb_screen_session_dtmf(sc->session, digit, pb_sip_now(s->ua));
		}
	} else if (ev == PB_SIP_EV_FORWARD_FAILED && sc->referring) {
		refer_failed(sc, pb_sip_call_status(call));
	} else if (ev == PB_SIP_EV_FORWARDED && sc->referring) {
		sc->referring = false;
		LOG(PB_LOG_INFO, "call from %s forwarded (refer) to %s", sc->dec.caller, sc->target);
		emit(sc, PB_SCREENER_FORWARDED, NULL);
	} else if (ev == PB_SIP_EV_FORWARD_FAILED && !strcmp(s->conf.o.ring, "sequential") && !sc->ended &&
		   !sc->referring && sc->how[0] && !strcmp(sc->how, "forwarded") && bridge_next(sc) == 0) {
		LOG(PB_LOG_INFO, "call from %s: no answer (%d), ringing the next target", sc->dec.caller,
		    pb_sip_call_status(call));
	} else if (ev == PB_SIP_EV_FORWARD_FAILED) {
		LOG(PB_LOG_WARNING, "forwarding %s failed: %d", sc->dec.caller, pb_sip_call_status(call));
		snprintf(sc->how, sizeof(sc->how), "forward failed (%d)", pb_sip_call_status(call));
		start_voicemail(sc, pb_sip_call_status(call));
	} else if (ev == PB_SIP_EV_ENDED) {
		call_ended(s, sc);
	}
}

/* --- set-up --------------------------------------------------------------------------- */

static int make_policy(const conf *c, const pb_screen_registry *reg, bool check, pb_screen_policy **out)
{
	pb_screen_policy *p;
	int rc = pb_screen_policy_new(&p);
	for (size_t i = 0; rc == 0 && c->policy[i]; i += 2) {
		rc = pb_screen_policy_set(p, c->policy[i], c->policy[i + 1]);
		if (rc < 0)
			pb_error_set(rc, "[policy] %s=%s: %s", c->policy[i], c->policy[i + 1],
				     pb_error_last()->message);
	}
	/* check the challenges now rather than on the first call */
	static const char *const names[2] = { "challenge", "anonymous-challenge" };
	for (size_t k = 0; check && rc == 0 && k < 2; k++) {
		const char *name = NULL, *params = "";
		char pk[64];
		snprintf(pk, sizeof(pk), "%s-params", names[k]);
		for (size_t i = 0; c->policy[i]; i += 2) {
			if (!strcmp(c->policy[i], names[k]))
				name = c->policy[i + 1];
			if (!strcmp(c->policy[i], pk))
				params = c->policy[i + 1];
		}
		if (name && (rc = pb_screen_registry_check(reg, name, params)) < 0)
			pb_error_set(rc, "[policy] %s=%s: %s", names[k], name, pb_error_last()->message);
	}
	if (rc < 0) {
		pb_screen_policy_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static int load_prompts(const char *dir, pb_prompt_set **out)
{
	pb_prompt_set *set;
	int rc = pb_prompt_set_new(&set);
	if (rc == 0 && (rc = pb_prompt_set_load_dir(set, dir)) < 0)
		pb_prompt_set_free(set);
	if (rc == 0)
		*out = set;
	return rc;
}

/* --- a foreign event loop ------------------------------------------------------------- */

/* The new agent's loop descriptor into epfd (none: pb_screener_fd() says so). */
static void loop_fd_attach(pb_screener *s)
{
	int fd = pb_sip_fd(s->ua);
	struct epoll_event ev = { .events = EPOLLIN };
	s->sofia_fd = -1;
	if (fd < 0 || s->epfd < 0)
		return;
	ev.data.fd = fd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		s->sofia_fd = fd;
	else
		LOG(PB_LOG_WARNING, "cannot watch the agent's loop descriptor: %s", strerror(errno));
}

static int loop_fd_open(pb_screener *s)
{
	s->sofia_fd = -1;
	s->next_due = 0;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	ev.data.fd = s->stopfd;
	if (s->epfd < 0 || s->stopfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stopfd, &ev) < 0)
		return pb_error_set(PB_EIO, "screener: epoll descriptor: %s", strerror(errno));
	return 0;
}

PB_API int pb_screener_fd(const pb_screener *s)
{
	if (!s->started || !s->ua)
		return pb_error_set(PB_ESTATE, "screener not started");
	if (s->sofia_fd < 0)
		return pb_error_set(PB_EUNSUPPORTED, "sofia-sip's loop has no descriptor here: "
				    "drive the screener with pb_screener_step()");
	return s->epfd;
}

PB_API int pb_screener_timeout_ms(const pb_screener *s)
{
	if (!s->started || !s->ua || s->stop_asked)
		return 0;
	if (s->next_due < 0)
		return -1;
	int64_t left = s->next_due - pb_sip_now(s->ua);
	return left > 0 ? (int)PB_MIN(left, (int64_t)INT_MAX) : 0;
}

PB_API int pb_screener_dispatch(pb_screener *s)
{
	uint64_t n;
	if (s->stopfd >= 0)
		while (read(s->stopfd, &n, sizeof(n)) == (ssize_t)sizeof(n))
			;
	if (!s->started || !s->ua)
		return pb_error_set(PB_ESTATE, "screener not started");
	int next = pb_screener_step(s, 0);
	if (next == PB_EIO)
		return PB_EIO;
	s->next_due = next >= 0 && s->ua ? pb_sip_now(s->ua) + next : -1;
	return 0;
}

static int start_ua(pb_screener *s, const conf *c)
{
	pb_sip_handlers h = { on_incoming, on_event, on_rtp, s };
	atomic_store(&s->reg_state, c->o.sip.registrar && c->o.sip.registrar[0] ? PB_SCREENER_REG_PENDING
									      : PB_SCREENER_REG_NONE);
	atomic_store(&s->reg_status, 0);
	int rc = pb_sip_new(&s->ua, &c->o.sip, &h);
	if (rc < 0)
		return rc;
	pb_sip_set_refused_handler(s->ua, on_refused, s);
	loop_fd_attach(s);
	pb_sip_set_refer_timeout(s->ua, c->o.refer_timeout_ms);
	return pb_sip_timer_start(s->ua, TICK_MS, tick, s, &s->ticker);
}

static void stop_ua(pb_screener *s)
{
	if (!s->ua)
		return;
	pb_sip_timer_cancel(s->ticker);
	s->ticker = NULL;
	if (s->sofia_fd >= 0)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->sofia_fd, NULL);
	s->sofia_fd = -1;
	pb_sip_free(s->ua); /* ends the remaining calls: their ENDED events free them */
	s->ua = NULL;
	junk_flush_due(s, 0, true); /* what the windows held back, before the store may change */
}

PB_API int pb_screener_new(pb_screener **out, const pb_screener_options *opts)
{
	pb_screener *s = pb_calloc(1, sizeof(*s));
	if (!s)
		return pb_error__oom();
	s->epfd = s->stopfd = s->sofia_fd = -1;
	int rc = conf_copy(&s->conf, opts);
	if (rc == 0)
		rc = loop_fd_open(s);
	if (rc == 0)
		rc = pb_screen_registry_new(&s->registry);
	if (rc == 0)
		rc = make_policy(&s->conf, s->registry, false, &s->policy);
	if (rc == 0)
		rc = load_prompts(s->conf.o.prompts, &s->prompts);
	if (rc == 0)
		rc = pb_screener__vm_check(&s->conf.o, s->prompts);
	if (rc == 0)
		rc = open_store(&s->conf, &s->store);
	if (rc < 0) {
		pb_screener_free(s);
		return rc;
	}
	atomic_store(&s->reg_state, s->conf.o.sip.registrar && s->conf.o.sip.registrar[0] ? PB_SCREENER_REG_PENDING
											   : PB_SCREENER_REG_NONE);
	*out = s;
	return 0;
}

PB_API int pb_screener_add_challenge(pb_screener *s, const struct pb_challenge_ops *ops)
{
	if (s->started)
		return pb_error_set(PB_ESTATE, "challenges are added before pb_screener_start()");
	return pb_screen_registry_add(s->registry, ops);
}

PB_API int pb_screener_load_challenge(pb_screener *s, const char *name, const char *path)
{
	if (s->started)
		return pb_error_set(PB_ESTATE, "challenge modules are loaded before pb_screener_start()");
	if (!name || !path)
		return pb_error_set(PB_EINVAL, "challenge module: NULL name or path");
	struct stat st;
	if (stat(path, &st) < 0)
		return pb_error_set(PB_EIO, "challenge %s: %s: %s", name, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pb_error_set(PB_EIO, "challenge %s: %s: not a regular file", name, path);
	if (st.st_mode & 022)
		return pb_error_set(PB_EAUTH, "challenge %s: %s: writable by group or others (mode %o): "
				    "anyone who can write it runs code in this process", name, path,
				    (unsigned)(st.st_mode & 0777));
	void **grown = pb_realloc(s->modules, (s->nmodules + 1) * sizeof(void *));
	if (!grown)
		return pb_error__oom();
	s->modules = grown;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return pb_error_set(PB_EIO, "challenge %s: %s", name, dlerror());
	const pb_challenge_module *m = dlsym(h, "pb_challenge_module_entry");
	int rc = 0;
	if (!m)
		rc = pb_error_set(PB_EUNSUPPORTED, "challenge %s: %s has no pb_challenge_module_entry: "
				  "not a libphonebridge challenge module", name, path);
	else if (m->abi != PB_CHALLENGE_MODULE_ABI)
		rc = pb_error_set(PB_EUNSUPPORTED, "challenge %s: %s is a challenge module of ABI %d; "
				  "this libphonebridge loads ABI %d: rebuild the module against its headers",
				  name, path, m->abi, PB_CHALLENGE_MODULE_ABI);
	else if (!m->ops || !m->ops->name || strcmp(m->ops->name, name) != 0)
		rc = pb_error_set(PB_EINVAL, "challenge %s: %s provides the challenge '%s', not '%s'", name,
				  path, m->ops && m->ops->name ? m->ops->name : "", name);
	else if ((rc = pb_screen_registry_add(s->registry, m->ops)) < 0)
		pb_error_set(rc, "challenge %s: %s: %s", name, path, pb_error_last()->message);
	if (rc < 0) {
		dlclose(h);
		return rc;
	}
	s->modules[s->nmodules++] = h;
	pb_log_info(DOMAIN, "challenge %s loaded from %s", name, path);
	return 0;
}

PB_API int pb_screener_check(const pb_screener *s)
{
	pb_screen_policy *p;
	int rc = make_policy(&s->conf, s->registry, true, &p);
	pb_screen_policy_free(rc == 0 ? p : NULL);
	return rc;
}

PB_API int pb_screener_start(pb_screener *s)
{
	if (s->started)
		return pb_error_set(PB_ESTATE, "screener already started");
	pb_screen_policy *p;
	int rc = make_policy(&s->conf, s->registry, true, &p);
	if (rc < 0)
		return rc;
	pb_screen_policy_free(s->policy);
	s->policy = p;
	if ((rc = start_ua(s, &s->conf)) < 0) {
		stop_ua(s);
		return rc;
	}
	s->started = true;
	return 0;
}

/* The pending restart, once no call is up: a new agent (re-binding,
 * re-registering) and the new store. If the new settings cannot be used
 * (a port taken) the old listen and registration are put back with the
 * rest of the new configuration; if even that fails, PB_EIO. */
static int apply_restart(pb_screener *s)
{
	conf *c = s->pending;
	s->pending = NULL;
	stop_ua(s);
	int rc = start_ua(s, c);
	if (rc < 0) {
		LOG(PB_LOG_ERROR, "restart with the new listen, registration or store failed (%s): "
				  "keeping the old ones", pb_error_last()->message);
		stop_ua(s);
		pb_store_close(s->pending_store);
		s->pending_store = NULL;
		if (start_ua(s, &s->conf) < 0) {
			LOG(PB_LOG_ERROR, "cannot restart with the old settings either: %s", pb_error_last()->message);
			conf_dispose(c);
			pb_free(c);
			return pb_error_set(PB_EIO, "the agent could not be restarted");
		}
		/* the new policy, prompts and targets stay; the agent's settings and the store are the old ones */
		pb_sip_options t = c->o.sip;
		c->o.sip = s->conf.o.sip;
		s->conf.o.sip = t;
		const char *st = c->o.store;
		c->o.store = s->conf.o.store;
		s->conf.o.store = st;
		st = c->o.store_password_file;
		c->o.store_password_file = s->conf.o.store_password_file;
		s->conf.o.store_password_file = st;
	} else if (s->pending_store) {
		pb_store_close(s->store);
		s->store = s->pending_store;
		s->pending_store = NULL;
	}
	conf t = s->conf;
	s->conf = *c;
	*c = t;
	conf_dispose(c);
	pb_free(c);
	LOG(PB_LOG_NOTICE, "agent restarted on %s:%u%s%s, store %s",
	    s->conf.o.sip.bind_address ? s->conf.o.sip.bind_address : "127.0.0.1", pb_sip_port(s->ua),
	    s->conf.o.sip.registrar ? ", registering to " : "",
	    s->conf.o.sip.registrar ? s->conf.o.sip.registrar : "", s->conf.o.store);
	return 0;
}

PB_API int pb_screener_reconfigure(pb_screener *s, const pb_screener_options *opts, bool *restart_pending)
{
	conf *c = pb_calloc(1, sizeof(*c));
	if (!c)
		return pb_error__oom();
	pb_screen_policy *p = NULL;
	pb_prompt_set *prompts = NULL;
	pb_store *store = NULL;
	int rc = conf_copy(c, opts);
	if (rc == 0)
		rc = make_policy(c, s->registry, true, &p);
	if (rc == 0 && strcmp(c->o.prompts, s->conf.o.prompts) != 0)
		rc = load_prompts(c->o.prompts, &prompts);
	if (rc == 0)
		rc = pb_screener__vm_check(&c->o, prompts ? prompts : s->prompts);
	bool restart = rc == 0 && (s->pending || needs_restart(&s->conf, c));
	if (rc == 0 && restart && (strcmp(c->o.store, s->conf.o.store) != 0 ||
				   !str_eq(c->o.store_password_file, s->conf.o.store_password_file)))
		rc = open_store(c, &store);
	if (rc == 0 && s->ua)
		rc = pb_sip_set_auth(s->ua, c->o.sip.auth_realm, c->o.sip.auth_users_file, c->o.sip.admit);
	if (rc == 0 && s->ua && (rc = pb_sip_set_allow_sources(s->ua, c->o.sip.allow_sources)) < 0)
		pb_sip_set_auth(s->ua, s->conf.o.sip.auth_realm, s->conf.o.sip.auth_users_file, s->conf.o.sip.admit);
	if (rc == 0 && s->ua)
		pb_sip_set_refer_timeout(s->ua, c->o.refer_timeout_ms);
	if (rc < 0) {
		pb_screen_policy_free(p);
		pb_prompt_set_free(prompts);
		pb_store_close(store);
		conf_dispose(c);
		pb_free(c);
		return rc;
	}
	c->o.on_event = s->conf.o.on_event;
	c->o.userdata = s->conf.o.userdata;
	pb_screen_policy_free(s->policy);
	s->policy = p;
	if (prompts) {
		/* calls in progress keep playing from the old set: swap it only when idle */
		if (!s->calls) {
			pb_prompt_set_free(s->prompts);
			s->prompts = prompts;
		} else {
			pb_prompt_set_free(prompts);
			LOG(PB_LOG_WARNING, "new prompt directory takes effect when no call is up");
			pb_free((char *)c->o.prompts);
			c->o.prompts = pb_strdup(s->conf.o.prompts);
		}
	}
	if (restart_pending)
		*restart_pending = restart;
	if (restart && s->ua) {
		/* until the restart the running agent keeps the old settings (and
		 * the calls in progress the old targets); new calls get 503 */
		if (s->pending) {
			conf_dispose(s->pending);
			pb_free(s->pending);
		}
		pb_store_close(s->pending_store);
		s->pending = c;
		s->pending_store = store;
		pb_sip_drain(s->ua);
		return 0;
	}
	if (store) { /* not started yet: nothing to wait for */
		pb_store_close(s->store);
		s->store = store;
	}
	conf t = s->conf;
	s->conf = *c;
	*c = t;
	conf_dispose(c);
	pb_free(c);
	return 0;
}

PB_API int pb_screener_step(pb_screener *s, unsigned timeout_ms)
{
	if (!s->started || !s->ua)
		return pb_error_set(PB_ESTATE, "screener not started");
	int next = pb_sip_step(s->ua, timeout_ms);
	if (s->stop_asked && !s->draining) {
		s->draining = true;
		if (s->pending) {
			conf_dispose(s->pending);
			pb_free(s->pending);
			s->pending = NULL;
		}
		pb_store_close(s->pending_store);
		s->pending_store = NULL;
		pb_sip_drain(s->ua);
		LOG(PB_LOG_NOTICE, "stopping: no new calls, %zu in progress", pb_sip_call_count(s->ua));
	}
	if (s->pending && pb_sip_call_count(s->ua) == 0 && apply_restart(s) < 0)
		return PB_EIO;
	if (pb_screener_stopped(s)) /* what the junk windows held back is logged before run() returns */
		junk_flush_due(s, pb_sip_now(s->ua), true);
	return next;
}

PB_API int pb_screener_run(pb_screener *s)
{
	if (!s->started)
		return pb_error_set(PB_ESTATE, "screener not started");
	while (!pb_screener_stopped(s)) {
		int rc = pb_screener_step(s, 100);
		if (rc == PB_EIO)
			return PB_EIO;
	}
	return 0;
}

PB_API void pb_screener_stop(pb_screener *s)
{
	s->stop_asked = 1;
	if (s->stopfd >= 0) { /* wakes a foreign loop watching pb_screener_fd(); async-signal-safe */
		uint64_t one = 1;
		ssize_t w = write(s->stopfd, &one, sizeof(one));
		(void)w;
	}
}

PB_API bool pb_screener_stopped(const pb_screener *s)
{
	return s->draining && (!s->ua || pb_sip_call_count(s->ua) == 0);
}

PB_API unsigned pb_screener_port(const pb_screener *s)
{
	return s->ua ? pb_sip_port(s->ua) : 0;
}

PB_API size_t pb_screener_call_count(const pb_screener *s)
{
	return s->ua ? pb_sip_call_count(s->ua) : 0;
}

PB_API const pb_screen_policy *pb_screener_policy(const pb_screener *s)
{
	return s->policy;
}

PB_API int pb_screener_number_policy(pb_screener *s, const char *text, pb_screen_policy **out)
{
	if (out)
		*out = NULL;
	if (s == NULL || out == NULL)
		return pb_error_set(PB_EINVAL, "pb_screener_number_policy: NULL argument");
	return number_policy((const char *const *)s->conf.policy, text, out);
}

PB_API pb_store *pb_screener_store(pb_screener *s)
{
	return s->store;
}

PB_API void pb_screener_free(pb_screener *s)
{
	if (!s)
		return;
	stop_ua(s);
	if (s->pending) {
		conf_dispose(s->pending);
		pb_free(s->pending);
	}
	pb_store_close(s->pending_store);
	pb_prompt_set_free(s->prompts);
	pb_screen_policy_free(s->policy);
	pb_screen_registry_free(s->registry);
	for (size_t i = 0; i < s->nmodules; i++)
		dlclose(s->modules[i]);
	pb_free(s->modules);
	pb_store_close(s->store);
	pb_buf_dispose(&s->pkt);
	conf_dispose(&s->conf);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->stopfd >= 0)
		close(s->stopfd);
	pb_free(s);
}

PB_API int pb_screener_registration(const pb_screener *s, int *last_status)
{
	if (last_status)
		*last_status = s ? atomic_load(&s->reg_status) : 0;
	return s ? atomic_load(&s->reg_state) : PB_SCREENER_REG_NONE;
}

PB_API const char *pb_screener_reg_state_name(int state)
{
	static const char *const names[] = { "none", "pending", "registered", "failed" };
	return state >= 0 && state < 4 ? names[state] : "?";
}
