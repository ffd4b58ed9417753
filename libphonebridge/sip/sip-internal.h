/*
 * libphonebridge — SIP module internals shared between its files.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_SIP_INTERNAL_H
#define PB_SIP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct pb_sip;
struct pb_sip_leg;
struct pb_sip_timer;

/* The sofia-sip "magic" types: every callback gets ours, no casts. */
#define SU_ROOT_MAGIC_T struct pb_sip
#define NUA_MAGIC_T struct pb_sip
#define NUA_HMAGIC_T struct pb_sip_leg
#define SU_WAKEUP_ARG_T struct pb_sip_leg
#define SU_TIMER_ARG_T void

#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/soa_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/su_tag_io.h>

#include <phonebridge/sip.h>

#define PB_SIP_DOMAIN "sip"

/* --- source allow list (acl.c) --- */

typedef struct pb_sip_acl_entry {
	int family;            /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;       /* bits */
} pb_sip_acl_entry;

typedef struct pb_sip_acl {
	pb_sip_acl_entry *v;
	size_t n;
} pb_sip_acl;

/* Parse "a.b.c.d[/n] x::y[/n] ..." (spaces or commas). 0, PB_EINVAL, PB_ENOMEM. */
int pb_sip__acl_parse(pb_sip_acl *acl, const char *list);
void pb_sip__acl_clear(pb_sip_acl *acl);
bool pb_sip__acl_match(const pb_sip_acl *acl, const struct sockaddr *sa);

/* --- digest authentication of INVITEs (auth.c) --- */

/* Replace the auth module (realm NULL/"" = none). 0, PB_EINVAL, PB_EIO, PB_EAUTH, PB_ENOMEM. */
int pb_sip__auth_set(struct pb_sip *ua, const char *realm, const char *users_file,
		     pb_sip_admit admit, unsigned nonce_ttl);
void pb_sip__auth_clear(struct pb_sip *ua);
/* 0 = admit (@p user gets the authenticated name, or ""); otherwise the
 * status to refuse with (a 401 challenge is already sent). */
int pb_sip__admit(struct pb_sip *ua, nua_handle_t *nh, const sip_t *sip, const su_addrinfo_t *ai,
		  char *user, size_t cap);

/* --- SDP and sipfrag (sdp.c) --- */

/* The SDP guard run before sofia-sip's sdp_parse() (see sdp.c): 0, or
 * PB_EMALFORMED / PB_ETOOBIG with the offset of the first refused byte. */
#define PB_SIP__SDP_MAX 16384
int pb_sip__sdp_check(const uint8_t *buf, size_t len, pb_parse_error *perr);
/* Does a message body start (after white space) with "v=", as sofia's SDP parser accepts? */
bool pb_sip__sdp_looks_like(const uint8_t *buf, size_t len);


/* Does this (remote) SDP put us on hold: its audio line sendonly or
 * inactive, a null connection address (RFC 2543 hold), port 0, or no audio?
 * (Not for an SDP that does not parse.) */
bool pb_sip__sdp_held(const char *sdp);

/* Status code of a message/sipfrag body "SIP/2.0 200 OK", or PB_EMALFORMED. */
int pb_sip__sipfrag_status(const uint8_t *buf, size_t len, pb_parse_error *perr);

/* Our SDP for a leg: one codec (or PCMU+PCMA when codec_pt < 0) and telephone-event. */
int pb_sip__sdp_make(char *out, size_t cap, const char *addr, unsigned port, int codec_pt,
		     int dtmf_pt, unsigned session_id);

/* --- refusals made by the agent itself (refuse.c) --- */

#define PB_SIP__REFUSALS 32     /* queued between two deliveries; more are counted */

typedef struct pb_sip_refused_item {
	su_home_t *home;        /* holds the caller's strings */
	pb_sip_caller caller;
	int status;
	const char *rule;       /* static */
} pb_sip_refused_item;

/* Read what an INVITE says about its caller into @p c (strings on @p home). */
void pb_sip__caller_read(su_home_t *home, pb_sip_caller *c, const sip_t *sip, const struct sockaddr *sa);
/* Queue a refusal report (any thread that steps the agent's loop: its own). */
void pb_sip__refused(struct pb_sip *ua, int status, const char *rule, const sip_t *sip,
		     const struct sockaddr *sa);
/* Hand the queued reports to the program's handler. */
void pb_sip__refused_deliver(struct pb_sip *ua);
void pb_sip__refused_clear(struct pb_sip *ua);

/* --- the loop's descriptor (loopfd.c) --- */

/* Find the root's epoll descriptor into ua->loop_fd (-1 when there is none). */
void pb_sip__loop_fd_find(struct pb_sip *ua);

/* --- legs and calls (call.c) --- */

enum pb_sip_leg_kind { PB_LEG_CALLER = 1, PB_LEG_TARGET, PB_LEG_REGISTER };

typedef struct pb_sip_leg {
	enum pb_sip_leg_kind kind;
	struct pb_sip *ua;
	struct pb_sip_call *call;      /* NULL once the call is gone (a target leg ending late) */
	nua_handle_t *nh;
	struct pb_rtp_socket *rtp;     /* media's RTP socket, NULL if none */
	su_wait_t wait;
	bool registered;
	pb_sip_media media;
	bool answered;                 /* 200 sent (caller) or received (target) */
	bool final_sent;               /* a final response was sent (caller leg) */
	bool terminated;
	bool fallback;                 /* this target leg is the fallback */
	struct pb_sip_leg *next_orphan; /* in pb_sip.orphans once its call is gone */
	struct pb_sip_leg *next_fork;   /* in pb_sip_call.forks while it rings */
	int status;
} pb_sip_leg;

struct pb_sip_call {
	struct pb_sip *ua;
	struct pb_sip_call *prev, *next;
	su_home_t *home;
	pb_sip_leg a;
	pb_sip_leg *b;                 /* bridged target leg, or NULL */
	pb_sip_leg *forks;             /* target legs ringing at once; the first to answer becomes b */
	int fork_status;               /* the failure to report when every fork has failed */
	pb_sip_caller caller;
	void *userdata;
	int status;
	bool forwarding;               /* redirect/refer/bridge started */
	bool bridged;                  /* both legs up: relay RTP */
	bool referring;
	bool kept;                     /* pb_sip_call_keep() from FORWARD_FAILED: no hang-up */
	bool ended;
	bool media_reported;
	bool active_reported;
	bool handed;                   /* the incoming handler saw it */
	char *fallback;
	char *local_sdp, *remote_sdp; /* caller leg, as negotiated */
	char *contact;                 /* our Contact for the caller's transport (TLS on), or NULL */
	su_timer_t *no_answer;
	su_timer_t *refer_watch;       /* a REFER accepted: its final NOTIFY is due by then */
	const char *info_body;
	size_t info_len;
	const char *info_type;
};

struct pb_sip {
	su_home_t home[1];
	su_root_t *root;
	nua_t *nua;
	struct msg_mclass_s *mclass; /* the SDP-guarded message class (ua.c); freed after nua */
	pb_sip_handlers h;
	pb_sip_acl acl;
	struct auth_mod_t *auth;       /* sofia-sip auth module, NULL = no digest */
	char *auth_key;                /* its nonce HMAC key, random */
	pb_sip_admit admit;
	unsigned auth_nonce_ttl;
	unsigned port;                 /* the SIP port we listen on */
	unsigned tls_port;             /* 0 = no TLS */
	char *contact_host;            /* bind address, bracketed if IPv6 */
	char *rtp_address;
	unsigned rtp_port_min, rtp_port_max, rtp_next;
	unsigned bridge_timeout_ms;
	struct pb_sip_call *calls;
	pb_sip_leg *orphans;           /* target legs hanging up after their call ended */
	size_t ncalls;
	bool draining;
	bool shut_down;
	bool breaking;
	pb_sip_leg reg;
	char *reg_user, *reg_password;
	int reg_status;
	int reg_auth_tries;
	char *reg_registrar, *reg_expires, *reg_contact;
	su_timer_t *reg_retry;         /* registering again after a transient failure */
	unsigned reg_retry_s;
	bool unregistering;
	unsigned sdp_session;
	/* refusals made before the program saw the INVITE (refuse.c) */
	pb_sip_refused_cb refused_cb;
	void *refused_ud;
	pb_sip_refused_item refusals[PB_SIP__REFUSALS];
	size_t nrefusals;
	unsigned long refusals_dropped;
	bool delivering;
	unsigned refer_timeout_ms;     /* 0 = 60000 */
	int loop_fd;                   /* sofia's epoll descriptor (loopfd.c), -1 = none */
	su_timer_t *heartbeat;         /* always armed: see ua_setup() */
};

void pb_sip__event(struct pb_sip *ua, struct pb_sip_call *call, pb_sip_event ev);
void pb_sip__incoming(struct pb_sip *ua, nua_handle_t *nh, const sip_t *sip);
void pb_sip__leg_event(pb_sip_leg *leg, nua_event_t event, int status, const char *phrase,
		       const sip_t *sip, tagi_t tags[]);
void pb_sip__call_shutdown(struct pb_sip_call *call);
/* Free the target legs still hanging up (before the stack goes away). */
void pb_sip__orphans_free(struct pb_sip *ua);

#endif
