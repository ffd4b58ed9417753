/*
 * pb-screend — SIP call screening daemon: the screening engine on the wire.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One thread, one loop (pb_sip's su_root): signalling, the 20 ms media tick
 * of every call, session timers. Per call: policy -> accept (forward now),
 * reject, or a challenge session whose host ops are mapped to SIP (ring,
 * answer) and media (prompts, DTMF from RFC 4733, SIP INFO and in-band).
 * Callers who pass go on the allow list; every call is logged in the store.
 * Only the public API of libphonebridge is used. docs/man/pb-screend.8.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <phonebridge/phonebridge.h>

#include "check.h"
#include "config.h"
#include "daemon.h"

#define TICK_MS 20

typedef struct scall scall;

typedef struct daemon {
	screend_config conf;
	const char *conf_path;
	pb_sip *ua;
	pb_store *store;
	pb_screen_policy *policy;
	pb_screen_registry *registry;
	pb_prompt_set *prompts;
	scall *calls;
	pb_sip_timer *ticker;
	pb_buf pkt;
	/* a reload that changes the agent (listen, registration, ...) or the
	 * store waits until no call is up: new calls get 503 meanwhile */
	screend_config *pending;
	char password[256];           /* the registration password in use */
} daemon_t;

struct scall {
	daemon_t *d;
	scall *next;
	pb_sip_call *call;
	pb_screen_decision dec;
	pb_screen_session *session;
	pb_media_call *media;
	pb_sip_timer *timer;
	int64_t started;
	bool ended;             /* the SIP call is over: no more actions on it */
	bool answered;
	bool passed;
	char outcome[64];
	char target[256];
	char attestation[8];
};

static volatile sig_atomic_t got_term, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

/* one log format for both daemons (examples/common/daemon.c) */
static void log_to_stderr(int level, const char *domain, const char *msg, void *ud)
{
	pbd_log_write(level, domain, msg);
}

#define LOG(level, ...) pb_log(level, "screend", __VA_ARGS__)

/* --- store lookups for the policy -------------------------------------------------- */

static int is_on(daemon_t *d, int list, const char *e164)
{
	int rc = pb_store_list_lookup(d->store, list, e164, 0, NULL);
	return rc == 0 ? 1 : rc == PB_ENOTFOUND ? 0 : rc;
}

static int is_allowed(const char *e164, void *ud) { return is_on(ud, PB_STORE_ALLOW, e164); }
static int is_denied(const char *e164, void *ud) { return is_on(ud, PB_STORE_DENY, e164); }

static int recent_failures(const char *e164, int64_t since, void *ud)
{
	daemon_t *d = ud;
	int64_t n = 0;
	int rc = pb_store_attempt_count(d->store, e164, since * 1000, true, &n);
	return rc < 0 ? rc : (int)(n > 1000 ? 1000 : n);
}

/* --- forwarding --------------------------------------------------------------------- */

static void stop_media(scall *sc)
{
	pb_media_call_free(sc->media);
	sc->media = NULL;
}

static void forward(scall *sc)
{
	daemon_t *d = sc->d;
	const char *mode = d->conf.mode;
	int rc;
	snprintf(sc->target, sizeof(sc->target), "%s", d->conf.target);
	stop_media(sc);
	if (!strcmp(mode, "redirect") && !pb_sip_call_answered(sc->call))
		rc = pb_sip_call_redirect(sc->call, d->conf.target);
	else if (!strcmp(mode, "refer") && pb_sip_call_answered(sc->call))
		rc = pb_sip_call_refer(sc->call, d->conf.target);
	else
		/* bridge; also redirect after answering and refer before (a B2BUA works with every trunk) */
		rc = pb_sip_call_bridge(sc->call, d->conf.target, d->conf.fallback[0] ? d->conf.fallback : NULL);
	if (rc < 0) {
		LOG(PB_LOG_ERROR, "forwarding to %s failed: %s", d->conf.target, pb_error_last()->message);
		pb_sip_call_hangup(sc->call);
	} else {
		LOG(PB_LOG_INFO, "call from %s forwarded (%s) to %s", sc->dec.caller, mode, d->conf.target);
	}
}

/* --- screening host ops ------------------------------------------------------------ */

static void host_ring(void *ud)
{
	scall *sc = ud;
	if (!sc->ended)
		pb_sip_call_ring(sc->call);
}

static void host_answer(void *ud)
{
	scall *sc = ud;
	daemon_t *d = sc->d;
	if (sc->ended || sc->answered)
		return;
	sc->answered = true;
	const pb_sip_media *m = pb_sip_call_media(sc->call);
	pb_media_call_options o = PB_MEDIA_CALL_OPTIONS_INIT;
	o.codec = m->codec_pt == 8 ? PB_CODEC_PCMA : PB_CODEC_PCMU;
	o.event_payload_type = m->dtmf_pt >= 96 && m->dtmf_pt <= 127 ? (uint8_t)m->dtmf_pt : 0;
	o.prompts = d->prompts;
	if (pb_media_call_new(&sc->media, &o) < 0)
		LOG(PB_LOG_ERROR, "media: %s", pb_error_last()->message);
	if (d->conf.early_media)
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
	sc->timer = NULL;
	if (sc->session)
		pb_screen_session_timer(sc->session, pb_sip_now(sc->d->ua));
}

static void host_set_timer(int64_t at, void *ud)
{
	scall *sc = ud;
	pb_sip_timer_cancel(sc->timer);
	sc->timer = NULL;
	if (at < 0)
		return;
	int64_t now = pb_sip_now(sc->d->ua);
	unsigned ms = at > now ? (unsigned)(at - now) : 0;
	pb_sip_timer_start(sc->d->ua, ms, session_timer, sc, &sc->timer);
}

static void host_finish(const pb_screen_result *r, void *ud)
{
	scall *sc = ud;
	daemon_t *d = sc->d;
	snprintf(sc->outcome, sizeof(sc->outcome), "%s:%s", r->challenge, pb_screen_outcome_name(r->outcome));
	LOG(PB_LOG_INFO, "challenge %s for %s: %s (%s)", r->challenge, sc->dec.caller,
	    pb_screen_outcome_name(r->outcome), r->reason ? r->reason : "");
	if (sc->dec.caller[0] && sc->dec.kind == PB_SCREEN_NUMBER_E164 && r->outcome != PB_SCREEN_HUNG_UP)
		pb_store_attempt_record(d->store, sc->dec.caller, 0, r->outcome != PB_SCREEN_PASSED);
	if (r->outcome == PB_SCREEN_PASSED) {
		sc->passed = true;
		if (sc->dec.caller[0] && sc->dec.kind == PB_SCREEN_NUMBER_E164 &&
		    pb_store_list_add(d->store, PB_STORE_ALLOW, sc->dec.caller, PB_STORE_SRC_CHALLENGE, 0) < 0)
			LOG(PB_LOG_ERROR, "allow list: %s", pb_error_last()->message);
		if (!sc->ended)
			forward(sc);
	} else if (!sc->ended) {
		stop_media(sc);
		pb_sip_call_hangup(sc->call);
	}
}

static const pb_screen_host_ops host_ops = {
	PB_SCREEN_HOST_OPS_VERSION, host_ring, host_answer, host_play, host_stop_playing,
	host_set_timer, host_finish,
};

/* --- media tick: every 20 ms, one packet per answered call ------------------------- */

static void tick(pb_sip_timer *t, void *ud)
{
	daemon_t *d = ud;
	d->ticker = NULL;
	int64_t now = pb_sip_now(d->ua);
	for (scall *sc = d->calls; sc; sc = sc->next) {
		if (!sc->media || sc->ended)
			continue;
		unsigned events = 0;
		pb_buf_clear(&d->pkt);
		if (pb_media_call_tick(sc->media, &d->pkt, &events) == 0)
			pb_sip_call_send_rtp(sc->call, d->pkt.data, d->pkt.len);
		if ((events & PB_MEDIA_PROMPT_DONE) && sc->session)
			pb_screen_session_prompt_done(sc->session, now);
	}
	pb_sip_timer_start(d->ua, TICK_MS, tick, d, &d->ticker);
}

/* --- SIP events ---------------------------------------------------------------------- */

static void attestation_of(scall *sc)
{
	const char *a = "none";
	switch (sc->dec.verstat) {
	case PB_VERSTAT_PASSED: a = "passed"; break;
	case PB_VERSTAT_FAILED: a = "failed"; break;
	case PB_VERSTAT_NO_VALIDATION: a = "none"; break;
	default: break;
	}
	snprintf(sc->attestation, sizeof(sc->attestation), "%s", a);
}

static void decide(daemon_t *d, scall *sc)
{
	const pb_sip_caller *c = pb_sip_call_caller(sc->call);
	pb_screen_call call = PB_SCREEN_CALL_INIT;
	call.from = c->from_uri;
	call.display_name = c->display_name;
	call.pai = c->pai;
	call.verstat = c->verstat;
	call.identity_header = c->identity_header;
	call.called = c->request_uri;
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	call.now = (int64_t)now;
	call.minute_of_day = tm.tm_hour * 60 + tm.tm_min;
	pb_screen_lookups lk = { is_allowed, is_denied, recent_failures, d };
	if (pb_screen_policy_decide(d->policy, &call, &lk, &sc->dec) < 0) {
		LOG(PB_LOG_ERROR, "policy: %s: challenging", pb_error_last()->message);
		sc->dec.verdict = PB_SCREEN_CHALLENGE;
		snprintf(sc->dec.challenge, sizeof(sc->dec.challenge), "press-digit");
	}
	attestation_of(sc);
	LOG(PB_LOG_INFO, "call from %s (%s): %s by rule %s%s%s", sc->dec.caller[0] ? sc->dec.caller : "?",
	    c->from_uri ? c->from_uri : "-", pb_screen_verdict_name(sc->dec.verdict),
	    sc->dec.rule ? sc->dec.rule : "-", sc->dec.verdict == PB_SCREEN_CHALLENGE ? " challenge " : "",
	    sc->dec.verdict == PB_SCREEN_CHALLENGE ? sc->dec.challenge : "");
}

static void on_incoming(pb_sip_call *call, void *ud)
{
	daemon_t *d = ud;
	scall *sc = calloc(1, sizeof(*sc));
	if (!sc) {
		pb_sip_call_reject(call, 500, NULL);
		return;
	}
	sc->d = d;
	sc->call = call;
	sc->started = pb_sip_now(d->ua);
	sc->next = d->calls;
	d->calls = sc;
	pb_sip_call_set_userdata(call, sc);
	decide(d, sc);
	switch (sc->dec.verdict) {
	case PB_SCREEN_ACCEPT:
		snprintf(sc->outcome, sizeof(sc->outcome), "none");
		forward(sc);
		return;
	case PB_SCREEN_REJECT:
		snprintf(sc->outcome, sizeof(sc->outcome), "none");
		pb_sip_call_reject(call, sc->dec.sip_status ? sc->dec.sip_status : 603, NULL);
		return;
	case PB_SCREEN_CHALLENGE:
		break;
	}
	pb_screen_session_options so = PB_SCREEN_SESSION_OPTIONS_INIT;
	so.max_duration = (int64_t)d->conf.max_duration * 1000;
	if (pb_screen_session_new(&sc->session, d->registry, sc->dec.challenge, sc->dec.params,
				  &host_ops, sc, &so) < 0) {
		LOG(PB_LOG_ERROR, "challenge %s: %s", sc->dec.challenge, pb_error_last()->message);
		pb_sip_call_reject(call, 500, NULL);
		return;
	}
	pb_screen_session_start(sc->session, pb_sip_now(d->ua));
}

static void on_rtp(pb_sip_call *call, const uint8_t *p, size_t len, void *ud)
{
	scall *sc = pb_sip_call_get_userdata(call);
	if (!sc || !sc->media)
		return;
	char digits[8];
	size_t n = 0;
	if (pb_media_call_receive(sc->media, p, len, digits, sizeof(digits), &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n && sc->session; i++) {
		LOG(PB_LOG_DEBUG, "digit %c (RTP) from %s", digits[i], sc->dec.caller);
		pb_screen_session_dtmf(sc->session, digits[i], pb_sip_now(sc->d->ua));
	}
}

static void log_call(daemon_t *d, scall *sc)
{
	pb_store_call row = { 0 };
	row.caller = sc->dec.caller[0] ? sc->dec.caller : pb_sip_call_caller(sc->call)->from_uri;
	row.attestation = sc->attestation;
	row.verdict = pb_screen_verdict_name(sc->dec.verdict);
	row.challenge = sc->outcome[0] ? sc->outcome : "none";
	row.duration_ms = pb_sip_call_answered(sc->call) ? pb_sip_now(d->ua) - sc->started : 0;
	row.forward_target = sc->target[0] ? sc->target : NULL;
	if (pb_store_call_log(d->store, &row, NULL) < 0)
		LOG(PB_LOG_ERROR, "call log: %s", pb_error_last()->message);
}

static void call_ended(daemon_t *d, scall *sc)
{
	sc->ended = true;
	if (sc->session && !pb_screen_session_finished(sc->session))
		pb_screen_session_hangup(sc->session, pb_sip_now(d->ua));
	log_call(d, sc);
	pb_sip_timer_cancel(sc->timer);
	pb_screen_session_free(sc->session);
	stop_media(sc);
	for (scall **pp = &d->calls; *pp; pp = &(*pp)->next)
		if (*pp == sc) {
			*pp = sc->next;
			break;
		}
	free(sc);
}

static void on_event(pb_sip_call *call, pb_sip_event ev, void *ud)
{
	daemon_t *d = ud;
	if (!call) {
		LOG(ev == PB_SIP_EV_REGISTERED ? PB_LOG_INFO : PB_LOG_WARNING, "registration: %s (%d)",
		    pb_sip_event_name(ev), pb_sip_last_register_status(d->ua));
		return;
	}
	scall *sc = pb_sip_call_get_userdata(call);
	if (!sc)
		return;
	switch (ev) {
	case PB_SIP_EV_INFO: {
		size_t len;
		const char *body = pb_sip_call_info_body(call, &len);
		char digit;
		if (sc->session && pb_dtmf_info_parse(pb_sip_call_info_type(call), (const uint8_t *)body,
						      len, &digit, NULL, NULL) == 0) {
			LOG(PB_LOG_DEBUG, "digit %c (SIP INFO) from %s", digit, sc->dec.caller);
			pb_screen_session_dtmf(sc->session, digit, pb_sip_now(d->ua));
		}
		break;
	}
	case PB_SIP_EV_FORWARD_FAILED:
		LOG(PB_LOG_WARNING, "forwarding %s failed: %d", sc->dec.caller, pb_sip_call_status(call));
		break;
	case PB_SIP_EV_ENDED:
		call_ended(d, sc);
		break;
	default:
		break;
	}
}

/* --- set-up and reload --------------------------------------------------------------- */

/* The registration password (pb_secret_read(): modes, credentials) into @out. */
static int read_secret(const char *path, char *out, size_t cap)
{
	char *s = NULL;
	int rc = pb_secret_read(path, &s);
	if (rc < 0)
		return rc;
	if (strlen(s) >= cap)
		rc = pb_error_set(PB_ETOOBIG, "%s: the password is over %zu bytes", path, cap - 1);
	else
		memcpy(out, s, strlen(s) + 1);
	pb_secret_free(s);
	return rc;
}

static int make_policy(const screend_config *c, const pb_screen_registry *reg, pb_screen_policy **out)
{
	pb_screen_policy *p;
	int rc = pb_screen_policy_new(&p);
	for (size_t i = 0; rc == 0 && i < c->npolicy; i++) {
		rc = pb_screen_policy_set(p, c->policy_key[i], c->policy_value[i]);
		if (rc < 0)
			pb_error_set(rc, "[policy] %s=%s: %s", c->policy_key[i], c->policy_value[i],
				     pb_error_last()->message);
	}
	/* check the challenges now rather than on the first call */
	const char *names[2] = { "challenge", "anonymous-challenge" };
	for (size_t k = 0; rc == 0 && k < 2; k++) {
		const char *name = NULL, *params = "";
		char pk[64];
		snprintf(pk, sizeof(pk), "%s-params", names[k]);
		for (size_t i = 0; i < c->npolicy; i++) {
			if (!strcmp(c->policy_key[i], names[k]))
				name = c->policy_value[i];
			if (!strcmp(c->policy_key[i], pk))
				params = c->policy_value[i];
		}
		if (name)
			rc = pb_screen_registry_check(reg, name, params);
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

static int load_config(daemon_t *d, screend_config *c)
{
	char err[300];
	if (screend_config_load(c, d->conf_path, err, sizeof(err)) < 0)
		return pb_error_set(PB_EINVAL, "%s: %s", d->conf_path, err);
	return 0;
}

static void fill_sip_options(const screend_config *c, const char *password, pb_sip_options *o)
{
	*o = (pb_sip_options)PB_SIP_OPTIONS_INIT;
	o->bind_address = c->listen;
	o->port = c->port ? c->port : PB_SIP_PORT_ANY; /* port = 0: any free port (tests) */
	o->udp = c->udp;
	o->tcp = c->tcp;
	o->allow_sources = c->allow;
	o->rtp_address = c->rtp_address[0] ? c->rtp_address : NULL;
	o->rtp_port_min = c->rtp_port_min;
	o->rtp_port_max = c->rtp_port_max;
	o->user_agent = c->user_agent;
	o->registrar = c->registrar[0] ? c->registrar : NULL;
	o->aor = c->aor[0] ? c->aor : NULL;
	o->username = c->username[0] ? c->username : NULL;
	o->password = password[0] ? password : NULL;
	o->register_expires = c->register_expires;
	o->bridge_timeout = c->forward_timeout;
	o->auth_realm = c->auth_realm[0] ? c->auth_realm : NULL;
	o->auth_users_file = c->auth_users_file[0] ? c->auth_users_file : NULL;
	o->admit = c->auth_and ? PB_SIP_ADMIT_ADDRESS_AND_DIGEST : PB_SIP_ADMIT_ADDRESS_OR_DIGEST;
	o->auth_nonce_ttl = c->auth_nonce_ttl;
	o->tls_cert_dir = c->tls_cert_dir[0] ? c->tls_cert_dir : NULL;
	o->tls_port = c->tls_port;
}

/* The user agent for @p c (with @p password for registering) and its ticker. */
static int start_ua(daemon_t *d, const screend_config *c, const char *password)
{
	pb_sip_options o;
	fill_sip_options(c, password, &o);
	pb_sip_handlers h = { on_incoming, on_event, on_rtp, d };
	int rc = pb_sip_new(&d->ua, &o, &h);
	if (rc < 0)
		return rc;
	return pb_sip_timer_start(d->ua, TICK_MS, tick, d, &d->ticker);
}

static void stop_ua(daemon_t *d)
{
	if (!d->ua)
		return;
	pb_sip_timer_cancel(d->ticker);
	d->ticker = NULL;
	pb_sip_free(d->ua); /* ends the remaining calls: their ENDED events free them */
	d->ua = NULL;
}

/* What a running agent cannot change: its sockets, TLS, its registration,
 * the store it logs to. Copy those settings from @p old. */
static void keep_bound(screend_config *dst, const screend_config *old)
{
	memcpy(dst->listen, old->listen, sizeof(dst->listen));
	dst->port = old->port;
	dst->udp = old->udp;
	dst->tcp = old->tcp;
	memcpy(dst->rtp_address, old->rtp_address, sizeof(dst->rtp_address));
	dst->rtp_port_min = old->rtp_port_min;
	dst->rtp_port_max = old->rtp_port_max;
	memcpy(dst->user_agent, old->user_agent, sizeof(dst->user_agent));
	memcpy(dst->registrar, old->registrar, sizeof(dst->registrar));
	memcpy(dst->aor, old->aor, sizeof(dst->aor));
	memcpy(dst->username, old->username, sizeof(dst->username));
	memcpy(dst->password_file, old->password_file, sizeof(dst->password_file));
	dst->register_expires = old->register_expires;
	dst->forward_timeout = old->forward_timeout;
	dst->auth_nonce_ttl = old->auth_nonce_ttl;
	memcpy(dst->tls_cert_dir, old->tls_cert_dir, sizeof(dst->tls_cert_dir));
	dst->tls_port = old->tls_port;
	memcpy(dst->store, old->store, sizeof(dst->store));
}

/* Does @p b change what keep_bound() copies (or the password)? Both come
 * from screend_config_load(), which zeroes first: memcmp is exact. */
static bool needs_restart(const screend_config *a, const screend_config *b, bool password_changed)
{
	if (password_changed)
		return true;
	screend_config *t = malloc(sizeof(*t));
	if (!t)
		return true;
	*t = *b;
	keep_bound(t, a);
	bool changed = memcmp(t, b, sizeof(*t)) != 0;
	free(t);
	return changed;
}

/* The pending restart, once no call is up: a new agent (re-binding,
 * re-registering) and the new store. If the new settings cannot be used
 * (a port taken, a store that does not open) the old listen, registration
 * and store are put back with the rest of the new configuration; if even
 * that fails, -1: the daemon stops with an error (systemd restarts it). */
static int apply_restart(daemon_t *d)
{
	screend_config *c = d->pending;
	d->pending = NULL;
	char password[256] = "";
	int rc = 0;
	if (c->password_file[0])
		rc = read_secret(c->password_file, password, sizeof(password));
	pb_store *store = NULL;
	if (rc == 0 && strcmp(c->store, d->conf.store) != 0)
		rc = pb_store_open(&store, c->store, NULL);
	stop_ua(d);
	if (rc == 0 && (rc = start_ua(d, c, password)) < 0) {
		stop_ua(d);
		pb_store_close(store);
		store = NULL;
	}
	if (rc < 0) {
		LOG(PB_LOG_ERROR, "restart with the new listen, registration or store failed (%s): "
				  "keeping the old ones", pb_error_last()->message);
		keep_bound(c, &d->conf);
		if (start_ua(d, c, d->password) < 0) {
			LOG(PB_LOG_ERROR, "cannot restart with the old settings either: %s", pb_error_last()->message);
			memset(password, 0, sizeof(password));
			free(c);
			return -1;
		}
	} else {
		memcpy(d->password, password, sizeof(password));
	}
	memset(password, 0, sizeof(password));
	if (store) {
		pb_store_close(d->store);
		d->store = store;
	}
	d->conf = *c;
	free(c);
	LOG(PB_LOG_NOTICE, "agent restarted on %s:%u%s%s, store %s", d->conf.listen, pb_sip_port(d->ua),
	    d->conf.registrar[0] ? ", registering to " : "", d->conf.registrar, d->conf.store);
	return 0;
}

/* SIGHUP: a new configuration replaces policy, targets, allowed sources,
 * digest settings and prompts at once; a new listen address, port,
 * transport, RTP range, registration (or password) or store restarts the
 * agent as soon as no call is up (new calls get 503 until then). */
static void reload(daemon_t *d)
{
	screend_config *c = malloc(sizeof(*c));
	pb_screen_policy *p = NULL;
	pb_prompt_set *prompts = NULL;
	char password[256] = "";
	if (!c)
		return;
	int rc = load_config(d, c);
	if (rc == 0)
		rc = make_policy(c, d->registry, &p);
	if (rc == 0 && strcmp(c->prompts, d->conf.prompts) != 0)
		rc = load_prompts(c->prompts, &prompts);
	if (rc == 0 && c->password_file[0])
		rc = read_secret(c->password_file, password, sizeof(password));
	if (rc == 0)
		rc = pb_sip_set_auth(d->ua, c->auth_realm, c->auth_users_file,
				     c->auth_and ? PB_SIP_ADMIT_ADDRESS_AND_DIGEST : PB_SIP_ADMIT_ADDRESS_OR_DIGEST);
	if (rc == 0)
		rc = pb_sip_set_allow_sources(d->ua, c->allow);
	/* once a restart is pending the agent refuses calls: it restarts in any case */
	bool restart = rc == 0 && (d->pending || needs_restart(&d->conf, c, strcmp(password, d->password) != 0));
	memset(password, 0, sizeof(password));
	if (rc < 0) {
		LOG(PB_LOG_ERROR, "reload failed, keeping the old configuration: %s", pb_error_last()->message);
		pb_sip_set_auth(d->ua, d->conf.auth_realm, d->conf.auth_users_file,
				d->conf.auth_and ? PB_SIP_ADMIT_ADDRESS_AND_DIGEST : PB_SIP_ADMIT_ADDRESS_OR_DIGEST);
		pb_screen_policy_free(p);
		pb_prompt_set_free(prompts);
		free(c);
		return;
	}
	pb_screen_policy_free(d->policy);
	d->policy = p;
	if (prompts) {
		/* calls in progress keep playing from the old set: free it only when idle */
		if (!d->calls) {
			pb_prompt_set_free(d->prompts);
			d->prompts = prompts;
		} else {
			pb_prompt_set_free(prompts);
			LOG(PB_LOG_WARNING, "new prompt directory takes effect when no call is up");
			snprintf(c->prompts, sizeof(c->prompts), "%s", d->conf.prompts);
		}
	}
	pb_log_set_level(c->log_level);
	if (restart) {
		/* until the restart the running agent keeps the old settings (and
		 * the calls in progress the old targets); new calls get 503 */
		free(d->pending);
		d->pending = c;
		pb_sip_drain(d->ua);
		LOG(PB_LOG_NOTICE, "configuration reloaded; listen, registration or store changed: the agent "
				   "restarts when no call is up (%zu now; new calls get 503 meanwhile)",
		    pb_sip_call_count(d->ua));
		return;
	}
	d->conf = *c;
	free(c);
	LOG(PB_LOG_NOTICE, "configuration reloaded");
}

static int start(daemon_t *d)
{
	const screend_config *c = &d->conf;
	int rc = pb_store_open(&d->store, c->store, NULL);
	if (rc == 0)
		rc = pb_screen_registry_new(&d->registry);
	if (rc == 0)
		rc = make_policy(c, d->registry, &d->policy);
	if (rc == 0)
		rc = load_prompts(c->prompts, &d->prompts);
	if (rc < 0)
		return rc;
	if (c->password_file[0] && (rc = read_secret(c->password_file, d->password, sizeof(d->password))) < 0)
		return rc;
	return start_ua(d, c, d->password);
}

static void stop(daemon_t *d)
{
	stop_ua(d);
	free(d->pending);
	d->pending = NULL;
	memset(d->password, 0, sizeof(d->password));
	pb_prompt_set_free(d->prompts);
	pb_screen_policy_free(d->policy);
	pb_screen_registry_free(d->registry);
	pb_store_close(d->store);
	pb_buf_dispose(&d->pkt);
}

/* Two RTP sockets per bridged call: hundreds of calls need more than 1024 fds. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int run(daemon_t *d)
{
	raise_fd_limit();
	int rc = start(d);
	if (rc < 0) {
		fprintf(stderr, "pb-screend: %s\n", pb_error_last()->message);
		stop(d);
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	LOG(PB_LOG_NOTICE, "pb-screend ready on %s:%u", d->conf.listen, pb_sip_port(d->ua));
	pbd_notify("READY=1\nSTATUS=taking calls on %s:%u", d->conf.listen, pb_sip_port(d->ua));
	long wd = pbd_watchdog_interval_ms();
	struct timespec last_wd;
	clock_gettime(CLOCK_MONOTONIC, &last_wd);
	bool draining = false;
	int status = 0;
	while (!draining || pb_sip_call_count(d->ua) > 0) {
		pb_sip_step(d->ua, 100);
		if (wd > 0) { /* from the event loop itself: a stuck loop is restarted */
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((now.tv_sec - last_wd.tv_sec) * 1000 + (now.tv_nsec - last_wd.tv_nsec) / 1000000L >= wd) {
				pbd_notify("WATCHDOG=1");
				last_wd = now;
			}
		}
		if (got_hup) {
			got_hup = 0;
			if (!draining) {
				pbd_notify("RELOADING=1\nSTATUS=reloading the configuration");
				reload(d);
				pbd_notify("READY=1\nSTATUS=taking calls on %s:%u", d->conf.listen, pb_sip_port(d->ua));
			}
		}
		if (got_term && !draining) {
			draining = true;
			pbd_notify("STOPPING=1\nSTATUS=stopping: %zu call(s) in progress", pb_sip_call_count(d->ua));
			free(d->pending);
			d->pending = NULL;
			pb_sip_drain(d->ua);
			LOG(PB_LOG_NOTICE, "stopping: no new calls, %zu in progress", pb_sip_call_count(d->ua));
		}
		if (d->pending && pb_sip_call_count(d->ua) == 0 && apply_restart(d) < 0) {
			status = 1;
			break;
		}
	}
	LOG(PB_LOG_NOTICE, "stopped");
	stop(d);
	return status;
}

/* --- list commands ------------------------------------------------------------------- */

static int open_for_command(daemon_t *d)
{
	int rc = pb_store_open(&d->store, d->conf.store, NULL);
	if (rc == 0)
		rc = pb_screen_registry_new(&d->registry);
	if (rc == 0)
		rc = make_policy(&d->conf, d->registry, &d->policy);
	return rc;
}

static int list_of(const char *s)
{
	return !strcmp(s, "allow") ? PB_STORE_ALLOW : !strcmp(s, "deny") ? PB_STORE_DENY : 0;
}

static int normalize(daemon_t *d, const char *in, char *out, size_t cap)
{
	int kind = pb_screen_normalize_number(out, cap, in, pb_screen_policy_numbering(d->policy));
	if (kind != PB_SCREEN_NUMBER_E164 && kind != PB_SCREEN_NUMBER_SHORT)
		return pb_error_set(PB_EINVAL, "'%s' is not a number I can normalise", in);
	return 0;
}

/* machine output: one JSON document per line; indented with --pretty */
static bool pretty;

static void json_field(bool first, const char *key, const char *value)
{
	printf("%s%s\"%s\":%s", first ? "{" : ",", pretty ? "\n  " : "", key, pretty ? " " : "");
	pbd_json_str(stdout, value);
}

static void json_end(void)
{
	printf("%s}\n", pretty ? "\n" : "");
}

static int cmd_calls(daemon_t *d)
{
	pb_store_call_list *l;
	int rc = pb_store_call_recent(d->store, 50, &l);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < l->count; i++) {
		const pb_store_call *c = &l->items[i];
		time_t t = (time_t)(c->at / 1000);
		struct tm tm;
		char when[32];
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_field(true, "time", when);
		json_field(false, "caller", c->caller);
		json_field(false, "verdict", c->verdict);
		json_field(false, "challenge", c->challenge);
		json_field(false, "forward_target", c->forward_target);
		json_end();
	}
	pb_store_call_list_free(l);
	return 0;
}

static void usage(FILE *f);

static int command(daemon_t *d, int argc, char **argv)
{
	const char *cmd = argv[0];
	char num[48];
	bool usage_err = false;
	int rc = open_for_command(d);
	if (rc == 0 && !strcmp(cmd, "calls")) {
		rc = cmd_calls(d);
	} else if (rc == 0 && (!strcmp(cmd, "allow") || !strcmp(cmd, "deny")) && argc == 2) {
		rc = normalize(d, argv[1], num, sizeof(num));
		if (rc == 0)
			rc = pb_store_list_add(d->store, list_of(cmd), num, PB_STORE_SRC_MANUAL, 0);
		if (rc == 0)
			printf("%s added to the %s list\n", num, cmd);
	} else if (rc == 0 && !strcmp(cmd, "remove") && argc == 3 && list_of(argv[1])) {
		rc = normalize(d, argv[2], num, sizeof(num));
		if (rc == 0)
			rc = pb_store_list_remove(d->store, list_of(argv[1]), num);
		if (rc == 0)
			printf("%s removed from the %s list\n", num, argv[1]);
	} else if (!strcmp(cmd, "check")) {
		rc = 0; /* open_for_command() is not called for check: see main() */
	} else if (rc == 0 && !strcmp(cmd, "lookup") && argc == 2) {
		rc = normalize(d, argv[1], num, sizeof(num));
		const char *list = NULL, *source = NULL;
		for (int l = PB_STORE_ALLOW; rc == 0 && !list && l <= PB_STORE_DENY; l++) {
			pb_store_list_entry e;
			int r = pb_store_list_lookup(d->store, l, num, 0, &e);
			if (r == 0) {
				list = l == PB_STORE_ALLOW ? "allow" : "deny";
				source = pb_store_source_name(e.source);
			} else if (r != PB_ENOTFOUND) {
				rc = r;
			}
		}
		if (rc == 0) { /* one JSON document: the number and the list it is on, or null */
			json_field(true, "number", num);
			json_field(false, "list", list);
			json_field(false, "source", source);
			json_end();
		}
	} else if (rc == 0) {
		fprintf(stderr, "pb-screend: wrong arguments for %s\n", cmd);
		usage(stderr);
		rc = 0;
		usage_err = true;
	}
	if (rc < 0 && pb_error_last()->code)
		fprintf(stderr, "pb-screend: %s\n", pb_error_last()->message);
	pb_screen_policy_free(d->policy);
	pb_screen_registry_free(d->registry);
	pb_store_close(d->store);
	return usage_err ? EX_USAGE : rc < 0 ? 1 : 0;
}

/* --- check --online: REGISTER once where configured ---------------------------------- */

typedef struct online_reg {
	int done; /* 1 registered, -1 failed */
} online_reg;

static void online_incoming(pb_sip_call *call, void *ud)
{
	pb_sip_call_reject(call, 503, "Service Unavailable"); /* only checking */
}

static void online_event(pb_sip_call *call, pb_sip_event ev, void *ud)
{
	online_reg *r = ud;
	if (!call && ev == PB_SIP_EV_REGISTERED)
		r->done = 1;
	else if (!call && ev == PB_SIP_EV_REGISTER_FAILED)
		r->done = -1;
}

/* From a free port (the daemon may hold the configured one) on the listen
 * address; pb_sip_free() un-registers again. @return failed steps */
static int check_online(daemon_t *d)
{
	const screend_config *c = &d->conf;
	if (!c->registrar[0])
		return !pbd_check_line(true, "[register]", "no registrar configured: nothing to reach");
	char what[700];
	snprintf(what, sizeof(what), "[register] %s as %s", c->registrar, c->aor);
	if (c->password_file[0] && read_secret(c->password_file, d->password, sizeof(d->password)) < 0)
		return !pbd_check_line(false, what, "%s", pb_error_last()->message);
	pb_sip_options o;
	fill_sip_options(c, d->password, &o);
	o.port = PB_SIP_PORT_ANY;
	o.tls_cert_dir = NULL;
	o.tls_port = 0;
	online_reg r = { 0 };
	pb_sip_handlers h = { online_incoming, online_event, NULL, &r };
	pb_sip *ua = NULL;
	int rc = pb_sip_new(&ua, &o, &h);
	memset(d->password, 0, sizeof(d->password));
	if (rc < 0)
		return !pbd_check_line(false, what, "%s", pb_error_last()->message);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		pb_sip_step(ua, 100);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (!r.done && now.tv_sec - t0.tv_sec < 20);
	int status = pb_sip_last_register_status(ua);
	bool ok = r.done == 1;
	if (ok)
		pbd_check_line(true, what, "registered (%d)", status);
	else if (status)
		pbd_check_line(false, what, "the registrar answered %d", status);
	else
		pbd_check_line(false, what, "no answer in 20 s");
	pb_sip_free(ua);
	return ok ? 0 : 1;
}

/* "check": the configuration read (main), the policy and its challenges,
 * then what check.c looks at; one ✓/✗ line each, exit 78 on a failure */
static int cmd_check(daemon_t *d, bool online)
{
	pbd_check_line(true, d->conf_path, "read");
	pb_screen_registry *reg = NULL;
	pb_screen_policy *pol = NULL;
	int rc = pb_screen_registry_new(&reg);
	if (rc == 0)
		rc = make_policy(&d->conf, reg, &pol);
	int failed = !pbd_check_line(rc == 0, "[policy] and its challenges", "%s",
				      rc < 0 ? pb_error_last()->message : "");
	pb_screen_policy_free(pol);
	pb_screen_registry_free(reg);
	failed += screend_check(&d->conf);
	if (failed)
		return EX_CONFIG;
	return online && check_online(d) ? EX_UNAVAILABLE : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pb-screend [OPTIONS] [run]\n"
		   "       pb-screend [OPTIONS] check [--online] | calls | lookup NUMBER\n"
		   "       pb-screend [OPTIONS] allow NUMBER | deny NUMBER | remove allow|deny NUMBER\n"
		   "  -c, --config FILE      default /etc/phonebridge/pb-screend.conf\n"
		   "      --log-format FMT   text (default: \"<level>domain: message\") or json\n"
		   "      --pretty           calls, lookup: indent the JSON (default: one document a line)\n"
		   "  -h, --help             this text\n"
		   "      --version          the version\n"
		   "exit status: 0, 1 a failure at start, 64 usage, 69 check --online failed,\n"
		   "             78 configuration; see pb-screend(8)\n");
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "pb-screend: %s%s\n", what, arg);
	usage(stderr);
	return EX_USAGE;
}

static bool known_command(const char *cmd)
{
	static const char *const cmds[] = { "run", "check", "calls", "lookup", "allow", "deny", "remove", NULL };
	for (size_t i = 0; cmds[i]; i++)
		if (!strcmp(cmd, cmds[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static daemon_t d;
	d.conf_path = "/etc/phonebridge/pb-screend.conf";
	enum { OPT_VERSION = 256, OPT_LOG_FORMAT };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "pretty", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	pbd_log_format fmt = PBD_LOG_TEXT;
	int opt;
	opterr = 0;
	/* '+': options come before the command; its arguments may start with '-' */
	while ((opt = getopt_long(argc, argv, "+:c:h", longopts, NULL)) != -1) {
		if (opt == 'c')
			d.conf_path = optarg;
		else if (opt == 'P')
			pretty = true;
		else if (opt == 'h')
			return usage(stdout), 0;
		else if (opt == OPT_VERSION)
			return printf("pb-screend (libphonebridge) %s\n", pb_version_string()), 0;
		else if (opt == OPT_LOG_FORMAT && !pbd_log_format_parse(optarg, &fmt))
			return usage_error("--log-format is text or json, not ", optarg);
		else if (opt == ':')
			return usage_error("this option needs a value: ", argv[optind - 1]);
		else if (opt == '?')
			return usage_error("unknown option ", argv[optind - 1]);
	}
	if (optind < argc && !known_command(argv[optind]))
		return usage_error("unknown command ", argv[optind]);
	pbd_log_setup("pb-screend", fmt);
	pb_log_set_callback(log_to_stderr, NULL);
	bool check = optind < argc && !strcmp(argv[optind], "check");
	if (load_config(&d, &d.conf) < 0) {
		if (check)
			pbd_check_line(false, d.conf_path, "%s", pb_error_last()->message);
		else
			fprintf(stderr, "pb-screend: %s\n", pb_error_last()->message);
		return EX_CONFIG;
	}
	pb_log_set_level(d.conf.log_level);
	if (check && optind + 1 < argc && strcmp(argv[optind + 1], "--online") != 0)
		return usage_error("check takes no argument but --online: ", argv[optind + 1]);
	if (check)
		return cmd_check(&d, optind + 1 < argc);
	if (optind < argc && strcmp(argv[optind], "run") != 0)
		return command(&d, argc - optind, argv + optind);
	return run(&d);
}
