/*
 * libphonebridge — the SIP user agent: sofia-sip nua on one su_root,
 * registration with digest authentication, timers, the loop.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/internal.h"
#include "sip/sip-internal.h"

#include <sofia-sip/msg_header.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_mclass.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/tport_tag.h>

#include <phonebridge/alloc.h>
#include <phonebridge/error.h>

PB_API const char *pb_sip_event_name(pb_sip_event ev)
{
	switch (ev) {
	case PB_SIP_EV_MEDIA: return "media";
	case PB_SIP_EV_INFO: return "info";
	case PB_SIP_EV_ACTIVE: return "active";
	case PB_SIP_EV_FORWARDED: return "forwarded";
	case PB_SIP_EV_FORWARD_FAILED: return "forward-failed";
	case PB_SIP_EV_ENDED: return "ended";
	case PB_SIP_EV_REGISTERED: return "registered";
	case PB_SIP_EV_REGISTER_FAILED: return "register-failed";
	}
	return "unknown";
}

void pb_sip__event(pb_sip *ua, pb_sip_call *call, pb_sip_event ev)
{
	if (ua->h.event)
		ua->h.event(call, ev, ua->h.userdata);
}

/* --- registration ------------------------------------------------------------- */

/* A registrar that is not reachable or not ready (no answer, ICMP refused:
 * sofia's 503, a 5xx) is tried again later; refusals (403, 404, ...) are not. */
static bool register_transient(int status)
{
	return status == 408 || status == 480 || (status >= 500 && status < 600);
}

static void send_register(pb_sip *ua)
{
	ua->reg_auth_tries = 0;
	nua_register(ua->reg.nh, NUTAG_REGISTRAR(URL_STRING_MAKE(ua->reg_registrar)),
		     SIPTAG_EXPIRES_STR(ua->reg_expires),
		     TAG_IF(ua->reg_contact, SIPTAG_CONTACT_STR(ua->reg_contact)), TAG_END());
}

static void register_retry_fired(pb_sip *ua, su_timer_t *t, void *arg)
{
	(void)t;
	(void)arg;
	pb_log_info(PB_SIP_DOMAIN, "registering again");
	send_register(ua);
}

/* 2 s, 4 s, ... up to 60 s between tries. */
static void register_retry_later(pb_sip *ua)
{
	if (!ua->reg_retry) {
		ua->reg_retry = su_timer_create(su_root_task(ua->root), 0);
		if (!ua->reg_retry)
			return;
	}
	ua->reg_retry_s = ua->reg_retry_s ? PB_MIN(ua->reg_retry_s * 2, 60u) : 2;
	pb_log_info(PB_SIP_DOMAIN, "will register again in %u s", ua->reg_retry_s);
	su_timer_set_interval(ua->reg_retry, register_retry_fired, NULL, (su_duration_t)ua->reg_retry_s * 1000);
}

static void register_answer(pb_sip *ua, int status, const sip_t *sip)
{
	if (status < 200)
		return;
	/* 9xx are sofia-sip's own codes (e.g. 904: credentials refused): keep the wire status */
	if (status >= 900 && (ua->reg_status == 401 || ua->reg_status == 407))
		status = ua->reg_status == 401 ? 403 : ua->reg_status;
	ua->reg_status = status;
	if ((status == 401 || status == 407) && sip && ua->reg_password && ua->reg_auth_tries < 2) {
		const msg_auth_t *au = status == 401 ? (const msg_auth_t *)sip->sip_www_authenticate
						     : (const msg_auth_t *)sip->sip_proxy_authenticate;
		const char *realm = au ? msg_params_find(au->au_params, "realm=") : NULL;
		if (realm && au->au_scheme) {
			char auth[512];
			int n = snprintf(auth, sizeof(auth), "%s:%s:%s:%s", au->au_scheme, realm,
					 ua->reg_user, ua->reg_password);
			if (n > 0 && (size_t)n < sizeof(auth)) {
				ua->reg_auth_tries++;
				nua_authenticate(ua->reg.nh, NUTAG_AUTH(auth), TAG_END());
				memset(auth, 0, sizeof(auth));
				return;
			}
		}
	}
	bool unregistering = ua->unregistering;
	ua->unregistering = false;
	if (status >= 200 && status < 300) {
		ua->reg_auth_tries = 0;
		ua->reg_retry_s = 0;
		pb_log_info(PB_SIP_DOMAIN, "registered (%d)", status);
		pb_sip__event(ua, NULL, PB_SIP_EV_REGISTERED);
	} else {
		pb_log_warning(PB_SIP_DOMAIN, "registration failed: %d", status);
		if (!unregistering && register_transient(status))
			register_retry_later(ua);
		pb_sip__event(ua, NULL, PB_SIP_EV_REGISTER_FAILED);
	}
}

static int start_register(pb_sip *ua, const pb_sip_options *o)
{
	if (!o->aor)
		return pb_error_set(PB_EINVAL, "registrar set without aor");
	url_t *aor = url_make(ua->home, o->aor);
	if (!aor || !aor->url_host)
		return pb_error_set(PB_EINVAL, "aor '%s' is not a SIP URI", o->aor);
	const char *user = o->username ? o->username : aor->url_user;
	if (o->password && !user)
		return pb_error_set(PB_EINVAL, "no user name for digest authentication");
	ua->reg_user = user ? su_strdup(ua->home, user) : NULL;
	ua->reg_password = o->password ? su_strdup(ua->home, o->password) : NULL;
	ua->reg_registrar = su_strdup(ua->home, o->registrar);
	ua->reg_expires = su_sprintf(ua->home, "%u", o->register_expires_ms ? (o->register_expires_ms + 999) / 1000 : 600);
	if (!ua->reg_registrar || !ua->reg_expires)
		return pb_error__oom();
	ua->reg.kind = PB_LEG_REGISTER;
	ua->reg.ua = ua;
	ua->reg.nh = nua_handle(ua->nua, &ua->reg, SIPTAG_TO_STR(o->aor), SIPTAG_FROM_STR(o->aor),
				TAG_END());
	if (!ua->reg.nh)
		return pb_error__oom();
	/* with TLS on, sofia's default contact is the sips: one: register the
	 * one for the registrar's transport instead */
	if (ua->tls_port && ua->contact_host) {
		url_t *r = url_make(ua->home, o->registrar);
		if (!r)
			return pb_error_set(PB_EINVAL, "registrar '%s' is not a SIP URI", o->registrar);
		bool tls = r->url_type == url_sips || url_has_param(r, "transport=tls");
		bool tcp = url_has_param(r, "transport=tcp");
		ua->reg_contact = su_sprintf(ua->home, "<%s:%s:%u%s>", tls ? "sips" : "sip", ua->contact_host,
					     tls ? ua->tls_port : ua->port, tcp ? ";transport=tcp" : "");
	}
	send_register(ua);
	return 0;
}

PB_API int pb_sip_last_register_status(const pb_sip *ua)
{
	return ua ? ua->reg_status : 0;
}

/* --- the nua callback ------------------------------------------------------- */

static void got_params(pb_sip *ua, tagi_t tags[])
{
	const sip_from_t *from = NULL;
	tl_gets(tags, SIPTAG_FROM_REF(from), TAG_END());
	if (from && from->a_url->url_port)
		ua->port = (unsigned)atoi(from->a_url->url_port);
}


static void on_nua(nua_event_t event, int status, char const *phrase, nua_t *nua, pb_sip *ua,
		   nua_handle_t *nh, pb_sip_leg *leg, sip_t const *sip, tagi_t tags[])
{
	if (event == nua_r_get_params) {
		got_params(ua, tags);
		return;
	}
	if (event == nua_r_shutdown) {
		if (status >= 200)
			ua->shut_down = true;
		return;
	}
	if (!leg) {
		switch (event) {
		case nua_i_invite:
			pb_sip__incoming(ua, nh, sip);
			return;
		case nua_i_state: {
			int cs = -1;
			tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
			if (cs == nua_callstate_terminated)
				nua_handle_destroy(nh);
			return;
		}
		case nua_i_options:
		case nua_i_info:
		case nua_i_message:
		case nua_i_notify:
		case nua_i_subscribe:
		case nua_i_refer:
		case nua_i_register:
		case nua_i_publish:
		case nua_i_bye:
		case nua_i_cancel:
		case nua_i_ack:
		case nua_i_terminated:
			/* Answered by the stack (OPTIONS 200, others 405/481); nothing of ours. */
			if (nh)
				nua_handle_destroy(nh);
			return;
		default:
			return;
		}
	}
	if (leg->kind == PB_LEG_REGISTER) {
		if (event == nua_r_register || event == nua_r_unregister)
			register_answer(ua, status, sip);
		return;
	}
	pb_sip__leg_event(leg, event, status, phrase, sip, tags);
}

/* --- life cycle ----------------------------------------------------------- */

/* Copy the caller's options (version 1 lacks the digest fields: they stay zero). */
static int check_options(const pb_sip_options *in, pb_sip_options *o)
{
	if (!in)
		return pb_error_set(PB_EINVAL, "pb_sip_options: missing");
	int rc = PB_CHECK_VERSION(in, PB_SIP_OPTIONS, 1);
	if (rc < 0)
		return rc;
	memset(o, 0, sizeof(*o));
	memcpy(o, in, in->version == 1   ? offsetof(pb_sip_options, auth_realm)
		      : in->version == 2 ? offsetof(pb_sip_options, register_expires_ms)
					 : sizeof(*o));
	if ((rc = PB_CHECK_MS(o, pb_sip_options, register_expires_ms)) < 0 ||
	    (rc = PB_CHECK_MS(o, pb_sip_options, bridge_timeout_ms)) < 0 ||
	    (rc = PB_CHECK_MS(o, pb_sip_options, auth_nonce_ttl_ms)) < 0)
		return rc;
	/* the deprecated seconds, when the ms are not given: from here on only the ms count */
	if (!o->register_expires_ms && o->register_expires)
		o->register_expires_ms = o->register_expires > INT_MAX / 1000 ? INT_MAX : o->register_expires * 1000;
	if (!o->bridge_timeout_ms && o->bridge_timeout)
		o->bridge_timeout_ms = o->bridge_timeout > INT_MAX / 1000 ? INT_MAX : o->bridge_timeout * 1000;
	if (!o->auth_nonce_ttl_ms && o->auth_nonce_ttl)
		o->auth_nonce_ttl_ms = o->auth_nonce_ttl > INT_MAX / 1000 ? INT_MAX : o->auth_nonce_ttl * 1000;
	if ((o->port > 65535 && o->port != PB_SIP_PORT_ANY) || o->tls_port > 65535 || o->rtp_port_max > 65535 ||
	    o->rtp_port_min > o->rtp_port_max)
		return pb_error_set(PB_EINVAL, "pb_sip_options: port out of range");
	if (o->port == PB_SIP_PORT_ANY && o->tls_cert_dir)
		return pb_error_set(PB_EINVAL, "pb_sip_options: PB_SIP_PORT_ANY cannot be combined with TLS");
	if (!o->udp && !o->tcp)
		return pb_error_set(PB_EINVAL, "pb_sip_options: neither UDP nor TCP");
	return 0;
}

/* Can @p type (SOCK_DGRAM, SOCK_STREAM) bind to addr:port now? Asked before
 * nua_create(), which leaks its half-made agent when a bind fails and does
 * not say why. 0 or PB_EIO with the reason. */
static int port_free(const char *addr, unsigned port, int type)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = type }, *ai;
	char serv[8];
	snprintf(serv, sizeof(serv), "%u", port);
	if (getaddrinfo(addr, serv, &hints, &ai) != 0)
		return pb_error_set(PB_EINVAL, "listen address '%s' is not numeric", addr);
	int rc = 0, one = 1;
	int fd = socket(ai->ai_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0 || (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		rc = pb_error_set(PB_EIO, "cannot listen on %s %s:%u: %s", type == SOCK_DGRAM ? "UDP" : "TCP",
				  addr, port, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

/*
 * The SDP guard on the wire: nua hands an INVITE's body to sofia-sip's SDP
 * parser (soa) before our handler sees the request, even before admission,
 * and that parser allocates without bound on some malformed lines. So every
 * received body that is SDP-shaped goes through pb_sip__sdp_check() as soon
 * as the message's body has been read: a refused body makes the message a parse error,
 * which sofia answers with 400 (requests) or drops (responses) before nua
 * or soa look at it. Done with a copy of sofia's SIP message class whose
 * body extraction runs sofia's and then the guard.
 */
static issize_t (*sofia_extract_body)(msg_t *, msg_pub_t *, char *, isize_t, int);

/* Which agent a message class belongs to, for the guard's refusal reports:
 * sofia hands the extractor the message, not our agent. */
static struct guard_owner {
	const msg_mclass_t *mc;
	pb_sip *ua;
	struct guard_owner *next;
} *guard_owners;
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;

static pb_sip *guard_owner_of(const msg_mclass_t *mc)
{
	pb_sip *ua = NULL;
	pthread_mutex_lock(&guard_lock);
	for (struct guard_owner *o = guard_owners; o && !ua; o = o->next)
		if (o->mc == mc)
			ua = o->ua;
	pthread_mutex_unlock(&guard_lock);
	return ua;
}

static int guard_owner_add(const msg_mclass_t *mc, pb_sip *ua)
{
	struct guard_owner *o = pb_calloc(1, sizeof(*o));
	if (!o)
		return pb_error__oom();
	o->mc = mc;
	o->ua = ua;
	pthread_mutex_lock(&guard_lock);
	o->next = guard_owners;
	guard_owners = o;
	pthread_mutex_unlock(&guard_lock);
	return 0;
}

static void guard_owner_remove(const msg_mclass_t *mc)
{
	pthread_mutex_lock(&guard_lock);
	for (struct guard_owner **pp = &guard_owners; *pp; pp = &(*pp)->next)
		if ((*pp)->mc == mc) {
			struct guard_owner *o = *pp;
			*pp = o->next;
			pb_free(o);
			break;
		}
	pthread_mutex_unlock(&guard_lock);
}

static issize_t guarded_extract_body(msg_t *msg, msg_pub_t *pub, char b[], isize_t bsiz, int eos)
{
	issize_t n = sofia_extract_body(msg, pub, b, bsiz, eos);
	const sip_t *sip = (const sip_t *)pub;
	const sip_payload_t *pl = n > 0 ? sip->sip_payload : NULL;
	pb_parse_error perr;
	if (pl && pl->pl_data && pl->pl_len &&
	    pb_sip__sdp_looks_like((const uint8_t *)pl->pl_data, pl->pl_len) &&
	    pb_sip__sdp_check((const uint8_t *)pl->pl_data, pl->pl_len, &perr) < 0) {
		char host[64] = "?", port[8] = "?";
		su_addrinfo_t *ai = msg_addrinfo(msg);
		if (ai && ai->ai_addr)
			getnameinfo(ai->ai_addr, (socklen_t)ai->ai_addrlen, host, sizeof(host), port,
				    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
		pb_log_notice(PB_SIP_DOMAIN, "message from %s port %s refused before the SDP parser: "
			      "body %s", host, port, pb_error_last()->message);
		(void)perr;
		/* sofia answers a request that fails to parse with 400 */
		pb_sip *ua = sip->sip_request && sip->sip_request->rq_method == sip_method_invite
				     ? guard_owner_of(msg_mclass(msg)) : NULL;
		if (ua)
			pb_sip__refused(ua, 400, "malformed-sdp", sip, ai ? ai->ai_addr : NULL);
		return -1;
	}
	return n;
}

static msg_mclass_t *guarded_mclass(pb_sip *ua)
{
	msg_mclass_t *mc = msg_mclass_clone(sip_default_mclass(), 0, 0);
	if (!mc)
		return NULL;
	sofia_extract_body = mc->mc_extract_body;
	mc->mc_extract_body = guarded_extract_body;
	ua->mclass = mc;
	if (guard_owner_add(mc, ua) < 0)
		return NULL;
	return mc;
}

static int make_nua(pb_sip *ua, const pb_sip_options *o, const char *bind)
{
	char url[128];
	const char *transport = o->udp && o->tcp ? "" : o->udp ? ";transport=udp" : ";transport=tcp";
	bool v6 = strchr(bind, ':') != NULL;
	ua->port = o->port == PB_SIP_PORT_ANY ? 0 : o->port ? o->port : 5060;
	snprintf(url, sizeof(url), "sip:%s%s%s:%u%s", v6 ? "[" : "", bind, v6 ? "]" : "", ua->port,
		 transport);
	char sips[128] = "";
	if (o->tls_cert_dir) {
		/* sofia reads agent.pem (and cafile.pem) from the directory itself;
		 * check it first for a clear error */
		char pem[1024];
		snprintf(pem, sizeof(pem), "%s/agent.pem", o->tls_cert_dir);
		if (access(pem, R_OK) != 0)
			return pb_error_set(PB_EIO, "TLS: cannot read %s: %s", pem, strerror(errno));
		ua->tls_port = o->tls_port ? o->tls_port : 5061;
		snprintf(sips, sizeof(sips), "sips:%s%s%s:%u", v6 ? "[" : "", bind, v6 ? "]" : "", ua->tls_port);
		ua->contact_host = su_sprintf(ua->home, v6 ? "[%s]" : "%s", bind);
		if (!ua->contact_host)
			return pb_error__oom();
	}
	int rc = 0;
	if (ua->port && o->udp)
		rc = port_free(bind, ua->port, SOCK_DGRAM);
	if (rc == 0 && ua->port && o->tcp)
		rc = port_free(bind, ua->port, SOCK_STREAM);
	if (rc == 0 && sips[0])
		rc = port_free(bind, ua->tls_port, SOCK_STREAM);
	if (rc < 0)
		return rc;
	msg_mclass_t *mc = guarded_mclass(ua);
	if (!mc)
		return pb_error__oom();
	ua->nua = nua_create(ua->root, on_nua, ua, NUTAG_URL(url), NTATAG_MCLASS(mc),
			     TAG_IF(sips[0], NUTAG_SIPS_URL(sips)),
			     TAG_IF(sips[0], TPTAG_CERTIFICATE(o->tls_cert_dir)),
			     TAG_IF(sips[0], TPTAG_TLS_VERIFY_POLICY(TPTLS_VERIFY_NONE)),
			     SIPTAG_USER_AGENT_STR(o->user_agent ? o->user_agent : "libphonebridge"),
			     NUTAG_AUTOANSWER(0), NUTAG_AUTOALERT(0), NUTAG_ENABLEMESSAGE(0),
			     NUTAG_ALLOW("INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REFER, NOTIFY"),
			     NUTAG_MEDIA_ENABLE(1), SOATAG_AUDIO_AUX("telephone-event"),
			     TAG_END());
	if (!ua->nua)
		return pb_error_set(PB_EIO, "cannot listen on %s", url);
	if (ua->port == 0) {
		/* the port the system chose: the stack's own From (our contact) holds it */
		nua_get_params(ua->nua, SIPTAG_FROM(NULL), TAG_END());
		int64_t until = pb_sip_now(ua) + 5000;
		while (ua->port == 0 && pb_sip_now(ua) < until)
			su_root_step(ua->root, 50);
		if (ua->port == 0)
			return pb_error_set(PB_EIO, "cannot learn the port chosen for %s", url);
	}
	pb_log_info(PB_SIP_DOMAIN, "listening on %s (port %u)%s%s", url, ua->port, sips[0] ? " and " : "", sips);
	return 0;
}

PB_API unsigned pb_sip_port(const pb_sip *ua)
{
	return ua ? ua->port : 0;
}

static void heartbeat_fired(pb_sip *ua, su_timer_t *t, void *arg)
{
	(void)ua;
	(void)t;
	(void)arg;
}

static int ua_setup(pb_sip *ua, const pb_sip_options *o)
{
	const char *bind = o->bind_address ? o->bind_address : "127.0.0.1";
	int rc = pb_sip__acl_parse(&ua->acl, o->allow_sources);
	if (rc < 0)
		return rc;
	ua->rtp_address = su_strdup(ua->home, o->rtp_address ? o->rtp_address : bind);
	if (!ua->rtp_address)
		return pb_error__oom();
	ua->rtp_port_min = o->rtp_port_min & ~1u;
	ua->rtp_port_max = o->rtp_port_max;
	ua->rtp_next = ua->rtp_port_min;
	ua->bridge_timeout_ms = o->bridge_timeout_ms ? o->bridge_timeout_ms : 30000;
	ua->sdp_session = (unsigned)time(NULL);
	ua->root = su_root_create(ua);
	if (!ua->root)
		return pb_error__oom();
	pb_sip__loop_fd_find(ua);
	/* su_root_step() returns the time to the next timer only when there is
	 * one (with none it returns the timeout it was given: 0 from a foreign
	 * loop's pb_sip_step(ua, 0), which would then spin): one long periodic
	 * timer keeps the answer true, and wakes an idle loop once a minute */
	ua->heartbeat = su_timer_create(su_root_task(ua->root), 60000);
	if (!ua->heartbeat || su_timer_run(ua->heartbeat, heartbeat_fired, NULL) < 0)
		return pb_error__oom();
	/* sofia-sip counts whole seconds */
	ua->auth_nonce_ttl = o->auth_nonce_ttl_ms ? (o->auth_nonce_ttl_ms + 999) / 1000 : 0;
	rc = pb_sip__auth_set(ua, o->auth_realm, o->auth_users_file, o->admit, ua->auth_nonce_ttl);
	if (rc < 0)
		return rc;
	rc = make_nua(ua, o, bind);
	if (rc == 0 && o->registrar)
		rc = start_register(ua, o);
	return rc;
}

static int su_started;

PB_API int pb_sip_new(pb_sip **out, const pb_sip_options *opts, const pb_sip_handlers *handlers)
{
	if (!out)
		return pb_error_set(PB_EINVAL, "pb_sip_new: NULL out");
	*out = NULL;
	pb_sip_options o;
	int rc = check_options(opts, &o);
	if (rc < 0)
		return rc;
	if (!su_started) {
		/* sofia-sip's own state is process-wide and needs one init; keep its logs quiet */
		if (su_init() != 0)
			return pb_error_set(PB_EIO, "su_init failed");
		su_log_set_level(NULL, 0);
		/* parse P-Asserted-Identity and the other "extra" headers */
		sip_update_default_mclass(sip_extend_mclass(NULL));
		su_started = 1;
	}
	pb_sip *ua = pb_calloc(1, sizeof(*ua));
	if (!ua)
		return pb_error__oom();
	su_home_init(ua->home);
	ua->loop_fd = -1;
	if (handlers)
		ua->h = *handlers;
	rc = ua_setup(ua, &o);
	if (rc < 0) {
		pb_sip_free(ua);
		return rc;
	}
	*out = ua;
	return 0;
}

PB_API void pb_sip_free(pb_sip *ua)
{
	if (!ua)
		return;
	if (ua->nua) {
		pb_sip_drain(ua);
		for (pb_sip_call *c = ua->calls; c; c = c->next)
			pb_sip_call_hangup(c);
		if (ua->reg_retry) {
			su_timer_destroy(ua->reg_retry);
			ua->reg_retry = NULL;
		}
		if (ua->reg.nh && ua->reg_status >= 200 && ua->reg_status < 300) {
			ua->unregistering = true;
			nua_unregister(ua->reg.nh, TAG_END());
		}
		/* let BYEs and the un-REGISTER go out and be answered, at most 2 s */
		int64_t until = pb_sip_now(ua) + 2000;
		while ((ua->calls || ua->orphans || ua->unregistering) && pb_sip_now(ua) < until)
			su_root_step(ua->root, 50);
		while (ua->calls)
			pb_sip__call_shutdown(ua->calls);
		pb_sip__orphans_free(ua);
		nua_shutdown(ua->nua);
		until = pb_sip_now(ua) + 2000;
		while (!ua->shut_down && pb_sip_now(ua) < until)
			su_root_step(ua->root, 50);
		if (ua->reg.nh)
			nua_handle_destroy(ua->reg.nh);
		nua_destroy(ua->nua);
	}
	if (ua->mclass)
		guard_owner_remove(ua->mclass);
	pb_sip__refused_deliver(ua);
	pb_sip__refused_clear(ua);
	su_free(NULL, ua->mclass); /* msg_mclass_clone() allocates without a home */
	pb_sip__auth_clear(ua);
	if (ua->heartbeat)
		su_timer_destroy(ua->heartbeat);
	if (ua->root)
		su_root_destroy(ua->root);
	pb_sip__acl_clear(&ua->acl);
	su_home_deinit(ua->home);
	pb_free(ua);
}

PB_API int pb_sip_run(pb_sip *ua)
{
	ua->breaking = false;
	while (!ua->breaking) {
		su_root_step(ua->root, 1000);
		pb_sip__refused_deliver(ua);
	}
	return 0;
}

PB_API void pb_sip_break(pb_sip *ua)
{
	ua->breaking = true;
	su_root_break(ua->root);
}

PB_API int pb_sip_step(pb_sip *ua, unsigned timeout_ms)
{
	/* above INT_MAX (PB_WAIT_FOREVER among them): INT_MAX, which epoll takes */
	su_duration_t d = su_root_step(ua->root, (su_duration_t)PB_MIN(timeout_ms, (unsigned)INT_MAX));
	pb_sip__refused_deliver(ua);
	return d < 0 ? -1 : (int)PB_MIN(d, (su_duration_t)INT_MAX);
}

PB_API void pb_sip_drain(pb_sip *ua)
{
	ua->draining = true;
}

PB_API size_t pb_sip_call_count(const pb_sip *ua)
{
	return ua->ncalls;
}

PB_API int pb_sip_set_allow_sources(pb_sip *ua, const char *list)
{
	return pb_sip__acl_parse(&ua->acl, list);
}

PB_API int64_t pb_sip_now(const pb_sip *ua)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- timers --------------------------------------------------------------- */

struct pb_sip_timer {
	su_timer_t *t;
	pb_sip_timer_cb cb;
	void *userdata;
};

static void timer_fired(pb_sip *ua, su_timer_t *st, void *arg)
{
	pb_sip_timer *t = arg;
	t->cb(t, t->userdata);
	su_timer_destroy(t->t);
	pb_free(t);
}

PB_API int pb_sip_timer_start(pb_sip *ua, unsigned ms, pb_sip_timer_cb cb, void *userdata,
			      pb_sip_timer **out)
{
	if (!ua || !cb)
		return pb_error_set(PB_EINVAL, "pb_sip_timer_start: NULL argument");
	pb_sip_timer *t = pb_calloc(1, sizeof(*t));
	if (!t)
		return pb_error__oom();
	t->t = su_timer_create(su_root_task(ua->root), 0);
	if (!t->t) {
		pb_free(t);
		return pb_error__oom();
	}
	t->cb = cb;
	t->userdata = userdata;
	su_timer_set_interval(t->t, timer_fired, t, (su_duration_t)ms);
	if (out)
		*out = t;
	return 0;
}

PB_API void pb_sip_timer_cancel(pb_sip_timer *t)
{
	if (!t)
		return;
	su_timer_destroy(t->t);
	pb_free(t);
}
