/*
 * libphonebridge — SIP calls: the caller's leg, its RTP socket (media's) on the su_root,
 * answers with SDP, and forwarding by redirect, REFER or bridge (B2BUA).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "sip/sip-internal.h"

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/su_string.h>

#include <phonebridge/alloc.h>
#include <phonebridge/error.h>
#include <phonebridge/media.h>

/* --- RTP: the legs' sockets (media's pb_rtp_socket) on the su_root ---------------- */

static int rtp_readable(pb_sip *ua, su_wait_t *w, pb_sip_leg *leg);

static int leg_open_rtp(pb_sip_leg *leg)
{
	pb_sip *ua = leg->ua;
	int rc = pb_rtp_socket_open(&leg->rtp, ua->rtp_address, ua->rtp_port_min, ua->rtp_port_max, &ua->rtp_next);
	if (rc < 0)
		return rc;
	leg->media.local_port = pb_rtp_socket_port(leg->rtp);
	if (su_wait_create(&leg->wait, pb_rtp_socket_fd(leg->rtp), SU_WAIT_IN) != 0 ||
	    su_root_register(ua->root, &leg->wait, rtp_readable, leg, 0) < 0) {
		pb_rtp_socket_close(leg->rtp);
		leg->rtp = NULL;
		return pb_error_set(PB_EIO, "cannot watch the RTP socket");
	}
	leg->registered = true;
	return 0;
}

static void leg_close_rtp(pb_sip_leg *leg)
{
	if (leg->registered) {
		su_root_unregister(leg->ua->root, &leg->wait, rtp_readable, leg);
		leg->registered = false;
	}
	pb_rtp_socket_close(leg->rtp);
	leg->rtp = NULL;
}

/* Relay a packet to the other leg, with the payload types of this leg's
 * negotiation mapped to the other's (pb_rtp_socket_relay() continues the
 * stream the other leg already receives). */
static void relay(const pb_sip_leg *from, pb_sip_leg *to, uint8_t *p, size_t len)
{
	if (!to->rtp)
		return;
	pb_rtp_relay_map map = { from->media.codec_pt, from->media.dtmf_pt, to->media.codec_pt, to->media.dtmf_pt };
	pb_rtp_socket_relay(to->rtp, p, len, &map);
}

static int rtp_readable(pb_sip *ua, su_wait_t *w, pb_sip_leg *leg)
{
	uint8_t buf[2048];
	for (int i = 0; i < 16 && leg->rtp; i++) {
		long n = pb_rtp_socket_recv(leg->rtp, buf, sizeof(buf));
		if (n < 0)
			break;
		pb_sip_call *call = leg->call;
		if (!call || call->ended)
			continue;
		if (call->bridged && call->b) {
			if (leg->kind == PB_LEG_CALLER)
				relay(leg, call->b, buf, (size_t)n);
			else if (leg == call->b) /* not a fork that lost */
				relay(leg, &call->a, buf, (size_t)n);
		} else if (leg->kind == PB_LEG_CALLER && ua->h.rtp) {
			ua->h.rtp(call, buf, (size_t)n, ua->h.userdata);
		}
	}
	return 0;
}

static void leg_set_media(pb_sip_leg *leg, const pb_sip_media *m)
{
	if (!leg->rtp || pb_rtp_socket_set_remote(leg->rtp, m->remote_address, m->remote_port) < 0)
		return;
	uint16_t local = leg->media.local_port;
	leg->media = *m;
	leg->media.local_port = local;
}

static void leg_set_remote(pb_sip_leg *leg, const char *remote_sdp, const char *local_sdp)
{
	pb_sip_media m, l;
	if (!remote_sdp)
		return;
	if (pb_sip__sdp_held(remote_sdp)) {
		/* on hold (a re-INVITE with sendonly, inactive or a null address):
		 * send nothing until an offer takes us off hold */
		if (leg->rtp)
			pb_rtp_socket_set_remote(leg->rtp, NULL, 0);
		pb_log_debug(PB_SIP_DOMAIN, "RTP leg on hold");
		return;
	}
	if (pb_sip_sdp_media((const uint8_t *)remote_sdp, strlen(remote_sdp), &m, NULL) < 0)
		return;
	/* the codec and event types we use are those of our side of the negotiation */
	if (local_sdp && pb_sip_sdp_media((const uint8_t *)local_sdp, strlen(local_sdp), &l, NULL) == 0) {
		m.codec_pt = l.codec_pt;
		if (l.dtmf_pt < 0 || m.dtmf_pt < 0)
			m.dtmf_pt = -1;
	}
	leg_set_media(leg, &m);
}

/* --- the call list ------------------------------------------------------------ */

static pb_sip_leg *leg_new_target(pb_sip_call *call)
{
	pb_sip_leg *b = pb_calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->kind = PB_LEG_TARGET;
	b->ua = call->ua;
	b->call = call;
	b->media.codec_pt = b->media.dtmf_pt = -1;
	return b;
}

static void leg_free_target(pb_sip_leg *b)
{
	for (pb_sip_leg **pp = &b->ua->orphans; *pp; pp = &(*pp)->next_orphan)
		if (*pp == b) {
			*pp = b->next_orphan;
			break;
		}
	leg_close_rtp(b);
	if (b->nh) {
		nua_handle_bind(b->nh, NULL);
		nua_handle_destroy(b->nh);
	}
	pb_free(b);
}

/* Detach a target leg from its call: hang it up (BYE or CANCEL); it frees
 * itself when it terminates. */
static void leg_release(pb_sip_leg *b)
{
	b->call = NULL;
	leg_close_rtp(b);
	if (b->terminated || !b->nh) {
		leg_free_target(b);
		return;
	}
	if (b->answered)
		nua_bye(b->nh, TAG_END());
	else
		nua_cancel(b->nh, TAG_END());
	b->next_orphan = b->ua->orphans;
	b->ua->orphans = b;
}

/* Take @p b out of the call's ringing forks (if it is there). */
static void fork_unlink(pb_sip_call *call, pb_sip_leg *b)
{
	for (pb_sip_leg **pp = &call->forks; *pp; pp = &(*pp)->next_fork)
		if (*pp == b) {
			*pp = b->next_fork;
			b->next_fork = NULL;
			return;
		}
}

/* CANCEL every fork still ringing. */
static void forks_release(pb_sip_call *call)
{
	while (call->forks) {
		pb_sip_leg *f = call->forks;
		call->forks = f->next_fork;
		f->next_fork = NULL;
		leg_release(f);
	}
}

/* Detach the target legs: the bridged one and those still ringing. */
static void target_release(pb_sip_call *call)
{
	forks_release(call);
	pb_sip_leg *b = call->b;
	if (!b)
		return;
	call->b = NULL;
	call->bridged = false;
	leg_release(b);
}

void pb_sip__orphans_free(pb_sip *ua)
{
	while (ua->orphans)
		leg_free_target(ua->orphans);
}

/* --- the REFER watchdog ---------------------------------------------------------------- */

static void refer_watch_stop(pb_sip_call *call)
{
	if (call->refer_watch) {
		su_timer_destroy(call->refer_watch);
		call->refer_watch = NULL;
	}
}

/* Accepted, but the final NOTIFY did not come: the transfer's fate is
 * unknown, and the caller must not wait in dead air for it. */
static void refer_watch_fired(pb_sip *ua, su_timer_t *t, void *arg)
{
	pb_sip_call *call = arg;
	refer_watch_stop(call);
	if (!call->referring || call->ended)
		return;
	pb_log_notice(PB_SIP_DOMAIN, "call %s: REFER accepted but no final NOTIFY within %u ms",
		      call->caller.call_id ? call->caller.call_id : "-",
		      ua->refer_timeout_ms ? ua->refer_timeout_ms : 60000);
	call->referring = false;
	call->forwarding = false;
	call->status = 0;
	pb_sip__event(ua, call, PB_SIP_EV_FORWARD_FAILED);
}

static void refer_watch_start(pb_sip_call *call)
{
	pb_sip *ua = call->ua;
	if (call->refer_watch)
		return;
	call->refer_watch = su_timer_create(su_root_task(ua->root), 0);
	if (call->refer_watch)
		su_timer_set_interval(call->refer_watch, refer_watch_fired, call,
				      (su_duration_t)(ua->refer_timeout_ms ? ua->refer_timeout_ms : 60000));
}

PB_API void pb_sip_set_refer_timeout(pb_sip *ua, unsigned ms)
{
	if (ua)
		ua->refer_timeout_ms = ms;
}

void pb_sip__call_shutdown(pb_sip_call *call)
{
	pb_sip *ua = call->ua;
	if (call->no_answer) {
		su_timer_destroy(call->no_answer);
		call->no_answer = NULL;
	}
	refer_watch_stop(call);
	target_release(call);
	leg_close_rtp(&call->a);
	if (call->a.nh) {
		nua_handle_bind(call->a.nh, NULL);
		nua_handle_destroy(call->a.nh);
	}
	if (call->prev)
		call->prev->next = call->next;
	else
		ua->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	ua->ncalls--;
	su_home_unref(call->home);
	pb_free(call);
}

static void call_end(pb_sip_call *call)
{
	if (call->ended)
		return;
	call->ended = true;
	if (call->handed)   /* a call refused before the program saw it ends silently */
		pb_sip__event(call->ua, call, PB_SIP_EV_ENDED);
	pb_sip__call_shutdown(call);
}

/* --- caller identity ------------------------------------------------------------ */

static const char *find_verstat(su_home_t *home, const url_t *u)
{
	char buf[64];
	if (!u)
		return NULL;
	if (u->url_params && url_param(u->url_params, "verstat", buf, sizeof(buf)) > 0)
		return su_strdup(home, buf);
	const char *p = u->url_user ? su_strcasestr(u->url_user, ";verstat=") : NULL;
	if (!p)
		return NULL;
	p += strlen(";verstat=");
	return su_strndup(home, p, strcspn(p, ";"));
}

static bool has_identity(const sip_t *sip)
{
	for (const sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next)
		if (u->un_name && (su_casematch(u->un_name, "Identity") || su_casematch(u->un_name, "y")))
			return true;
	return false;
}

void pb_sip__caller_read(su_home_t *home, pb_sip_caller *c, const sip_t *sip, const struct sockaddr *sa)
{
	if (sip->sip_from) {
		c->from_uri = url_as_string(home, sip->sip_from->a_url);
		if (sip->sip_from->a_display && *sip->sip_from->a_display) {
			char *d = su_strdup(home, sip->sip_from->a_display);
			if (d && d[0] == '"') {
				size_t n = strlen(d);
				if (n >= 2 && d[n - 1] == '"') {
					d[n - 1] = '\0';
					d++;
				}
			}
			c->display_name = d;
		}
	}
	const sip_p_asserted_identity_t *pai = sip_p_asserted_identity(sip);
	if (pai)
		c->pai = url_as_string(home, pai->paid_url);
	c->verstat = find_verstat(home, pai ? pai->paid_url : NULL);
	if (!c->verstat && sip->sip_from)
		c->verstat = find_verstat(home, sip->sip_from->a_url);
	c->verstat_value = c->verstat ? pb_screen_verstat_from_value(c->verstat, strlen(c->verstat), &c->attestation)
				      : PB_VERSTAT_NONE;
	const url_t *who = pai ? pai->paid_url : sip->sip_from ? sip->sip_from->a_url : NULL;
	if (who && (who->url_type == url_sip || who->url_type == url_sips) && who->url_user && *who->url_user)
		c->number = su_strndup(home, who->url_user, (isize_t)strcspn(who->url_user, ";"));
	c->identity_header = has_identity(sip);
	if (sip->sip_request)
		c->request_uri = url_as_string(home, sip->sip_request->rq_url);
	if (sip->sip_to)
		c->to_uri = url_as_string(home, sip->sip_to->a_url);
	if (sip->sip_call_id)
		c->call_id = su_strdup(home, sip->sip_call_id->i_id);
	if (sa) {
		char host[INET6_ADDRSTRLEN], serv[8];
		socklen_t sl = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		if (getnameinfo(sa, sl, host, sizeof(host), serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
			c->source = su_sprintf(home, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, serv);
	}
}

/* --- incoming INVITE ------------------------------------------------------------ */

static void refuse(nua_handle_t *nh, int status, const char *phrase)
{
	nua_respond(nh, status, phrase, TAG_END());
	nua_handle_destroy(nh);
}

static int leg_sdp(pb_sip_leg *leg, char *sdp, size_t cap, int codec_pt, int dtmf_pt)
{
	return pb_sip__sdp_make(sdp, cap, leg->ua->rtp_address, leg->media.local_port, codec_pt,
				dtmf_pt, leg->ua->sdp_session++);
}

/* With TLS on, sofia puts its sips: contact in every answer, which a caller
 * over UDP or TCP cannot reach: give ours for the transport the INVITE came
 * on. NULL (sofia's choice) without TLS. */
static char *contact_for(pb_sip *ua, su_home_t *home, const sip_t *sip)
{
	if (!ua->tls_port || !ua->contact_host)
		return NULL;
	const char *proto = sip->sip_via ? sip->sip_via->v_protocol : NULL;
	if (proto && su_casenmatch(proto, "SIP/2.0/TLS", 11))
		return su_sprintf(home, "<sips:%s:%u>", ua->contact_host, ua->tls_port);
	if (proto && su_casenmatch(proto, "SIP/2.0/TCP", 11))
		return su_sprintf(home, "<sip:%s:%u;transport=tcp>", ua->contact_host, ua->port);
	return su_sprintf(home, "<sip:%s:%u>", ua->contact_host, ua->port);
}

static int call_setup(pb_sip_call *call, nua_handle_t *nh, const sip_t *sip, const struct sockaddr *sa)
{
	call->home = su_home_new(sizeof(su_home_t));
	if (!call->home)
		return pb_error__oom();
	call->a.kind = PB_LEG_CALLER;
	call->a.ua = call->ua;
	call->a.call = call;
	call->a.media.codec_pt = call->a.media.dtmf_pt = -1;
	pb_sip__caller_read(call->home, &call->caller, sip, sa);
	call->contact = contact_for(call->ua, call->home, sip);
	/* Answer with the caller's preferred G.711 and its telephone-event number, so that
	 * the negotiation has exactly one outcome (and a bridge can offer the same). */
	pb_sip_media offer = { .codec_pt = -1, .dtmf_pt = -1 };
	if (sip->sip_payload && sip->sip_payload->pl_len &&
	    pb_sip_sdp_media((const uint8_t *)sip->sip_payload->pl_data, sip->sip_payload->pl_len,
			     &offer, NULL) < 0)
		return PB_EUNSUPPORTED;
	int rc = leg_open_rtp(&call->a);
	if (rc < 0)
		return rc;
	/* our answer will hold exactly this codec and event type: RTP can be sent
	 * as soon as we answer, before the negotiation is reported */
	if (offer.remote_port)
		leg_set_media(&call->a, &offer);
	char sdp[600];
	rc = leg_sdp(&call->a, sdp, sizeof(sdp), offer.codec_pt, offer.dtmf_pt);
	if (rc < 0)
		return rc;
	call->a.nh = nh;
	nua_handle_bind(nh, &call->a);
	nua_set_hparams(nh, SOATAG_USER_SDP_STR(sdp), SOATAG_RTP_SELECT(SOA_RTP_SELECT_COMMON),
			TAG_END());
	return 0;
}

void pb_sip__incoming(pb_sip *ua, nua_handle_t *nh, const sip_t *sip)
{
	msg_t *msg = nua_current_request(ua->nua);
	su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;
	const struct sockaddr *sa = ai ? ai->ai_addr : NULL;
	char user[128];
	int st = pb_sip__admit(ua, nh, sip, ai, user, sizeof(user));
	if (st == 401) {   /* the challenge went out */
		nua_handle_destroy(nh);
		return;
	}
	if (st != 0) {
		/* the address list refused it unless digest had a say and refused it */
		bool addr_ok = pb_sip__acl_match(&ua->acl, sa);
		const char *rule = ua->auth && (addr_ok || ua->admit == PB_SIP_ADMIT_ADDRESS_OR_DIGEST)
					   ? "auth-failed" : "source-not-allowed";
		char host[64] = "?", port[8] = "?";
		if (sa)
			getnameinfo(sa, (socklen_t)ai->ai_addrlen, host, sizeof(host), port, sizeof(port),
				    NI_NUMERICHOST | NI_NUMERICSERV);
		pb_log_notice(PB_SIP_DOMAIN, "INVITE from %s port %s (From %s): %s: %d", host, port,
			      sip && sip->sip_from && sip->sip_from->a_url->url_user
				      ? sip->sip_from->a_url->url_user : "-",
			      !strcmp(rule, "auth-failed") ? "authentication failed" : "source not allowed", st);
		refuse(nh, st, sip_status_phrase(st));
		pb_sip__refused(ua, st, rule, sip, sa);
		return;
	}
	if (ua->draining) {
		refuse(nh, SIP_503_SERVICE_UNAVAILABLE);
		pb_sip__refused(ua, 503, "draining", sip, sa);
		return;
	}
	pb_sip_call *call = pb_calloc(1, sizeof(*call));
	if (!call) {
		refuse(nh, SIP_500_INTERNAL_SERVER_ERROR);
		pb_sip__refused(ua, 500, "internal-error", sip, sa);
		return;
	}
	call->ua = ua;
	call->next = ua->calls;
	if (ua->calls)
		ua->calls->prev = call;
	ua->calls = call;
	ua->ncalls++;
	int rc = call_setup(call, nh, sip, sa);
	if (rc == 0 && user[0] && !(call->caller.auth_user = su_strdup(call->home, user)))
		rc = pb_error__oom();
	if (rc < 0) {
		if (rc == PB_EUNSUPPORTED) {
			pb_log_notice(PB_SIP_DOMAIN, "INVITE %s from %s: no audio with PCMU or PCMA: 488",
				      call->caller.call_id ? call->caller.call_id : "-",
				      call->caller.source ? call->caller.source : "?");
			nua_respond(nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
			pb_sip__refused(ua, 488, "no-acceptable-media", sip, sa);
		} else {
			nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
			pb_sip__refused(ua, 500, "internal-error", sip, sa);
		}
		call->a.final_sent = true;
		call->a.nh = nh;
		nua_handle_bind(nh, &call->a);
		return; /* ends with the terminated state */
	}
	pb_log_info(PB_SIP_DOMAIN, "INVITE %s from %s (pai %s)%s%s", call->caller.call_id,
		    call->caller.from_uri ? call->caller.from_uri : "-",
		    call->caller.pai ? call->caller.pai : "-",
		    user[0] ? " authenticated as " : "", user);
	call->handed = true;
	if (ua->h.incoming)
		ua->h.incoming(call, ua->h.userdata);
}

/* --- bridge ------------------------------------------------------------------------- */

static int target_start(pb_sip_call *call, const char *target, bool fallback);
static int targets_start(pb_sip_call *call, const char *list, bool fallback);

static void bridge_failed(pb_sip_call *call, int status)
{
	call->status = status;
	call->forwarding = false;
	call->kept = false;
	pb_sip__event(call->ua, call, PB_SIP_EV_FORWARD_FAILED);
	/* ended, or the handler forwards elsewhere, or keeps the caller (voicemail) */
	if (call->ended || call->forwarding || call->kept)
		return;
	if (call->a.answered)
		pb_sip_call_hangup(call);
	else if (!call->a.final_sent)
		pb_sip_call_reject(call, status == 486 || status == 600 ? 486 : 480, NULL);
}

static void no_answer(pb_sip *ua, su_timer_t *t, void *arg)
{
	pb_sip_call *call = arg;
	su_timer_destroy(call->no_answer);
	call->no_answer = NULL;
	for (pb_sip_leg *f = call->forks; f; f = f->next_fork)
		if (f->nh && !f->answered) {
			f->status = 408;
			nua_cancel(f->nh, TAG_END());
		}
}

static void target_answered(pb_sip_call *call, pb_sip_leg *b)
{
	if (call->no_answer) {
		su_timer_destroy(call->no_answer);
		call->no_answer = NULL;
	}
	b->answered = true;
	fork_unlink(call, b);
	forks_release(call); /* first answer wins: the others get CANCEL */
	call->b = b;
	call->bridged = true;
	call->forwarding = false;
	if (!call->a.answered && !call->a.final_sent)
		pb_sip_call_answer(call);
	pb_sip__event(call->ua, call, PB_SIP_EV_FORWARDED);
}

static void target_final(pb_sip_leg *b, int status)
{
	pb_sip_call *call = b->call;
	if (!call || status < 200)
		return;
	if (status < 300) {
		target_answered(call, b);
		return;
	}
	int why = b->status ? b->status : status; /* 408 after our CANCEL on no answer */
	bool was_fallback = b->fallback;
	fork_unlink(call, b);
	leg_release(b);
	/* busy anywhere says more than no answer elsewhere */
	if (!call->fork_status || why == 486 || why == 600)
		call->fork_status = why;
	if (call->forks)
		return; /* others still ring */
	why = call->fork_status;
	call->fork_status = 0;
	if (!was_fallback && call->fallback && !call->ended) {
		pb_log_info(PB_SIP_DOMAIN, "target answered %d: trying fallback %s", why, call->fallback);
		if (targets_start(call, call->fallback, true) == 0)
			return;
	}
	bridge_failed(call, why);
}

static void target_event(pb_sip_leg *b, nua_event_t event, int status, const sip_t *sip, tagi_t tags[])
{
	pb_sip_call *call = b->call;
	switch (event) {
	case nua_r_invite:
		if (!call && status >= 200 && status < 300 && b->nh && !b->answered) {
			/* answered after another fork won (the 200 crossed our CANCEL): hang it up */
			b->answered = true;
			nua_bye(b->nh, TAG_END());
			break;
		}
		if (call && status >= 180 && status < 200 && !call->a.answered && !call->a.final_sent)
			pb_sip_call_ring(call);
		if (status >= 200)
			target_final(b, status);
		break;
	case nua_i_state: {
		int cs = -1;
		const char *l = NULL, *r = NULL;
		tl_gets(tags, NUTAG_CALLSTATE_REF(cs), SOATAG_LOCAL_SDP_STR_REF(l),
			SOATAG_REMOTE_SDP_STR_REF(r), TAG_END());
		if (r)
			leg_set_remote(b, r, l);
		if (cs == nua_callstate_terminated) {
			b->terminated = true;
			if (!call) {
				leg_free_target(b);
			} else if (b->answered) {
				/* the target hung up: hang up the caller */
				target_release(call);
				pb_sip_call_hangup(call);
			}
		}
		break;
	}
	default:
		break;
	}
}

static int target_start(pb_sip_call *call, const char *target, bool fallback)
{
	pb_sip *ua = call->ua;
	/* a target sofia cannot parse would fail nua_handle() below, which
	 * reads as "out of memory": say what is wrong (a number's own target
	 * from the store is only seen here) */
	url_t *parsed = url_make(call->home, target);
	bool sip = parsed && (parsed->url_type == url_sip || parsed->url_type == url_sips) && parsed->url_host &&
		   *parsed->url_host;
	su_free(call->home, parsed);
	if (!sip)
		return pb_error_set(PB_EINVAL, "bridge: target '%s' is not a SIP URI", target);
	pb_sip_leg *b = leg_new_target(call);
	if (!b)
		return pb_error__oom();
	b->fallback = fallback;
	int rc = leg_open_rtp(b);
	char sdp[600];
	if (rc == 0)
		rc = leg_sdp(b, sdp, sizeof(sdp), call->a.media.codec_pt >= 0 ? call->a.media.codec_pt : -1,
			     call->a.media.dtmf_pt >= 0 ? call->a.media.dtmf_pt : 101);
	if (rc == 0) {
		b->nh = nua_handle(ua->nua, b, SIPTAG_TO_STR(target), TAG_END());
		if (!b->nh)
			rc = pb_error__oom();
	}
	if (rc < 0) {
		leg_free_target(b);
		return rc;
	}
	b->next_fork = call->forks;
	call->forks = b;
	const char *from = call->caller.pai ? call->caller.pai : call->caller.from_uri;
	/* with TLS on, a Contact for the target's transport (see contact_for()) */
	char *contact = NULL;
	if (ua->tls_port && ua->contact_host) {
		url_t *u = url_make(call->home, target);
		bool tls = u && (u->url_type == url_sips || url_has_param(u, "transport=tls"));
		contact = su_sprintf(call->home, "<%s:%s:%u>", tls ? "sips" : "sip", ua->contact_host,
				     tls ? ua->tls_port : ua->port);
	}
	nua_invite(b->nh, NUTAG_URL(target), TAG_IF(from, SIPTAG_FROM_STR(from)),
		   TAG_IF(contact, SIPTAG_CONTACT_STR(contact)),
		   SOATAG_USER_SDP_STR(sdp), SOATAG_RTP_SELECT(SOA_RTP_SELECT_COMMON), TAG_END());
	if (!call->no_answer) {
		call->no_answer = su_timer_create(su_root_task(ua->root), 0);
		if (call->no_answer)
			su_timer_set_interval(call->no_answer, no_answer, call,
					      (su_duration_t)ua->bridge_timeout_ms);
	}
	return 0;
}

/* Ring every target of @p list ("sip:a@x, sip:b@y": comma-separated) at
 * once; the first to answer wins. 0 if at least one leg went out. */
static int targets_start(pb_sip_call *call, const char *list, bool fallback)
{
	int rc = 0, started = 0, seen = 0;
	const char *p = list;
	while (*p) {
		p += strspn(p, ", \t");
		size_t n = strcspn(p, ", \t");
		if (n == 0)
			break;
		seen++;
		char *one = su_strndup(call->home, p, (isize_t)n);
		if (!one)
			return started ? 0 : pb_error__oom();
		if ((rc = target_start(call, one, fallback)) == 0)
			started++;
		else
			pb_log_warning(PB_SIP_DOMAIN, "bridge: target %s: %s", one, pb_error_last()->message);
		p += n;
	}
	if (seen == 0)
		return pb_error_set(PB_EINVAL, "bridge: no target");
	return started ? 0 : rc;
}

/* --- the caller leg's events ------------------------------------------------------------ */

static void refer_notify(pb_sip_call *call, const sip_t *sip)
{
	if (!call->referring || !sip || !sip->sip_payload)
		return;
	int st = pb_sip__sipfrag_status((const uint8_t *)sip->sip_payload->pl_data,
					sip->sip_payload->pl_len, NULL);
	if (st < 200)
		return;
	refer_watch_stop(call);
	call->referring = false;
	call->status = st;
	call->forwarding = false;
	if (st < 300) {
		pb_sip__event(call->ua, call, PB_SIP_EV_FORWARDED);
		pb_sip_call_hangup(call);
	} else {
		pb_sip__event(call->ua, call, PB_SIP_EV_FORWARD_FAILED);
	}
}

static void caller_state(pb_sip_call *call, tagi_t tags[])
{
	int cs = -1;
	const char *l = NULL, *r = NULL;
	tl_gets(tags, NUTAG_CALLSTATE_REF(cs), SOATAG_LOCAL_SDP_STR_REF(l),
		SOATAG_REMOTE_SDP_STR_REF(r), TAG_END());
	bool changed = false;
	if (l && (!call->local_sdp || strcmp(l, call->local_sdp) != 0)) {
		su_free(call->home, call->local_sdp);
		call->local_sdp = su_strdup(call->home, l);
		changed = true;
	}
	if (r && (!call->remote_sdp || strcmp(r, call->remote_sdp) != 0)) {
		su_free(call->home, call->remote_sdp);
		call->remote_sdp = su_strdup(call->home, r);
		changed = true;
	}
	/* the first negotiation, and every later one (a re-INVITE: hold, or the
	 * caller's media moving): RTP goes where the newest SDP says */
	if (call->local_sdp && call->remote_sdp && (changed || !call->media_reported)) {
		pb_log_debug(PB_SIP_DOMAIN, "%s SDP: local %s remote %s", call->media_reported ? "new" : "negotiated",
			     call->local_sdp, call->remote_sdp);
		leg_set_remote(&call->a, call->remote_sdp, call->local_sdp);
		call->media_reported = true;
		if (call->a.rtp && pb_rtp_socket_has_remote(call->a.rtp))
			pb_sip__event(call->ua, call, PB_SIP_EV_MEDIA);
	}
	if (cs == nua_callstate_ready && call->a.answered && !call->active_reported) {
		call->active_reported = true;
		pb_sip__event(call->ua, call, PB_SIP_EV_ACTIVE);
	}
	if (cs == nua_callstate_terminated) {
		call->a.terminated = true;
		call_end(call);
	}
}

void pb_sip__leg_event(pb_sip_leg *leg, nua_event_t event, int status, const char *phrase,
		       const sip_t *sip, tagi_t tags[])
{
	if (leg->kind == PB_LEG_TARGET) {
		target_event(leg, event, status, sip, tags);
		return;
	}
	pb_sip_call *call = leg->call;
	switch (event) {
	case nua_i_state:
		caller_state(call, tags);
		break;
	case nua_i_info:
		if (sip && sip->sip_payload) {
			call->info_body = sip->sip_payload->pl_data;
			call->info_len = sip->sip_payload->pl_len;
			call->info_type = sip->sip_content_type ? sip->sip_content_type->c_type : NULL;
			pb_sip__event(call->ua, call, PB_SIP_EV_INFO);
			call->info_body = call->info_type = NULL;
			call->info_len = 0;
		}
		break;
	case nua_r_refer:
		if (status >= 200 && status < 300 && call->referring)
			refer_watch_start(call);
		if (status >= 300 && call->referring) {
			call->referring = false;
			call->forwarding = false;
			call->status = status;
			pb_sip__event(call->ua, call, PB_SIP_EV_FORWARD_FAILED);
		}
		break;
	case nua_i_notify:
		refer_notify(call, sip);
		break;
	case nua_i_cancel:
	case nua_i_bye:
		call->status = event == nua_i_cancel ? 487 : 200;
		break;
	default:
		break;
	}
}

/* --- actions ---------------------------------------------------------------------------- */

PB_API const pb_sip_caller *pb_sip_call_caller(const pb_sip_call *call) { return &call->caller; }
PB_API const pb_sip_media *pb_sip_call_media(const pb_sip_call *call) { return &call->a.media; }
PB_API void pb_sip_call_set_userdata(pb_sip_call *call, void *userdata) { call->userdata = userdata; }
PB_API void *pb_sip_call_get_userdata(const pb_sip_call *call) { return call->userdata; }
PB_API bool pb_sip_call_answered(const pb_sip_call *call) { return call->a.answered; }
PB_API int pb_sip_call_status(const pb_sip_call *call) { return call->status; }

PB_API const char *pb_sip_call_info_body(const pb_sip_call *call, size_t *len)
{
	if (len)
		*len = call->info_len;
	return call->info_body;
}

PB_API const char *pb_sip_call_info_type(const pb_sip_call *call)
{
	return call->info_type;
}

static int can_respond(const pb_sip_call *call)
{
	if (call->ended || call->a.final_sent)
		return pb_error_set(PB_ESTATE, "the call already has a final answer");
	return 0;
}

PB_API int pb_sip_call_ring(pb_sip_call *call)
{
	int rc = can_respond(call);
	if (rc == 0)
		nua_respond(call->a.nh, SIP_180_RINGING, NUTAG_EARLY_ANSWER(0),
			    TAG_IF(call->contact, SIPTAG_CONTACT_STR(call->contact)), TAG_END());
	return rc;
}

PB_API int pb_sip_call_progress(pb_sip_call *call)
{
	int rc = can_respond(call);
	if (rc == 0)
		nua_respond(call->a.nh, SIP_183_SESSION_PROGRESS, NUTAG_EARLY_ANSWER(1),
			    TAG_IF(call->contact, SIPTAG_CONTACT_STR(call->contact)), TAG_END());
	return rc;
}

PB_API int pb_sip_call_answer(pb_sip_call *call)
{
	int rc = can_respond(call);
	if (rc == 0) {
		call->a.answered = true;
		call->a.final_sent = true;
		nua_respond(call->a.nh, SIP_200_OK, TAG_IF(call->contact, SIPTAG_CONTACT_STR(call->contact)),
			    TAG_END());
	}
	return rc;
}

PB_API int pb_sip_call_reject(pb_sip_call *call, int status, const char *reason)
{
	if (status < 300 || status > 699)
		return pb_error_set(PB_EINVAL, "reject: status %d is not a failure", status);
	int rc = can_respond(call);
	if (rc == 0) {
		call->a.final_sent = true;
		call->status = status;
		nua_respond(call->a.nh, status, reason ? reason : sip_status_phrase(status), TAG_END());
	}
	return rc;
}

PB_API int pb_sip_call_hangup(pb_sip_call *call)
{
	if (call->ended)
		return 0;
	target_release(call);
	if (call->a.answered)
		nua_bye(call->a.nh, TAG_END());
	else if (!call->a.final_sent)
		pb_sip_call_reject(call, 480, NULL);
	return 0;
}

PB_API int pb_sip_call_redirect(pb_sip_call *call, const char *target)
{
	if (!target || !*target)
		return pb_error_set(PB_EINVAL, "redirect: no target");
	int rc = can_respond(call);
	if (rc < 0)
		return rc;
	call->a.final_sent = true;
	call->status = 302;
	nua_respond(call->a.nh, SIP_302_MOVED_TEMPORARILY, SIPTAG_CONTACT_STR(target), TAG_END());
	pb_sip__event(call->ua, call, PB_SIP_EV_FORWARDED);
	return 0;
}

PB_API int pb_sip_call_refer(pb_sip_call *call, const char *target)
{
	if (!target || !*target)
		return pb_error_set(PB_EINVAL, "refer: no target");
	if (!call->a.answered || call->ended || call->forwarding)
		return pb_error_set(PB_ESTATE, "refer: the call is not answered, or already forwarding");
	call->forwarding = true;
	call->referring = true;
	nua_refer(call->a.nh, SIPTAG_REFER_TO_STR(target), TAG_END());
	return 0;
}

PB_API int pb_sip_call_bridge(pb_sip_call *call, const char *target, const char *fallback)
{
	if (!target || !*target)
		return pb_error_set(PB_EINVAL, "bridge: no target");
	if (call->ended || call->forwarding || call->b || call->forks || (call->a.final_sent && !call->a.answered))
		return pb_error_set(PB_ESTATE, "bridge: the call is over or already forwarding");
	if (fallback && *fallback) {
		call->fallback = su_strdup(call->home, fallback);
		if (!call->fallback)
			return pb_error__oom();
	}
	int rc = targets_start(call, target, false);
	if (rc == 0)
		call->forwarding = true;
	return rc;
}

PB_API int pb_sip_call_keep(pb_sip_call *call)
{
	if (call->ended || call->forwarding)
		return pb_error_set(PB_ESTATE, "keep: the call is over or forwarding");
	call->kept = true;
	return 0;
}

PB_API int pb_sip_call_send_rtp(pb_sip_call *call, const uint8_t *packet, size_t len)
{
	if (!call->a.rtp)
		return pb_error_set(PB_ESTATE, "no RTP destination yet");
	return pb_rtp_socket_send(call->a.rtp, packet, len);
}
