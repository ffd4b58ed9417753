/*
 * libphonebridge — SIP user agent for call screening (sofia-sip nua).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One pb_sip runs one sofia-sip user agent on one su_root: signalling,
 * timers and the RTP socket of every call share that loop, so one thread
 * holds hundreds of calls. The program runs the loop (pb_sip_run(), or
 * pb_sip_step() from its own loop) and gets incoming calls through
 * pb_sip_handlers. docs/sip.md walks through a call.
 *
 *     pb_sip_options o = PB_SIP_OPTIONS_INIT;
 *     o.bind_address = "127.0.0.1"; o.port = 5060;
 *     o.allow_sources = "127.0.0.1 10.0.0.0/8";
 *     pb_sip_handlers h = { .incoming = on_call, .event = on_event, .userdata = me };
 *     pb_sip_new(&ua, &o, &h);
 *     pb_sip_run(ua);
 *
 * In on_call() the program decides: pb_sip_call_reject(), _ring(),
 * _answer(), _redirect() (302), and later _refer() or _bridge().
 *
 * RTP: the agent opens one UDP socket per call leg (media's pb_rtp_socket,
 * phonebridge/media.h), watches it on its loop and hands whole RTP packets
 * to the rtp handler; pb_sip_call_send_rtp() sends whole packets.
 * Packetizing and codecs are the media module's job. A bridged call relays
 * RTP between its legs itself (payload type numbers are rewritten from the
 * caller's negotiation to the target's).
 */
#ifndef PHONEBRIDGE_SIP_H
#define PHONEBRIDGE_SIP_H

#include <stdbool.h>
#include <stdint.h>

#include <phonebridge/common.h>
#include <phonebridge/screen.h>

PB_BEGIN_DECLS

/** Opaque user agent. */
typedef struct pb_sip pb_sip;
/** Opaque incoming call (with its optional bridged second leg). */
typedef struct pb_sip_call pb_sip_call;
/** Opaque one-shot timer on the user agent's loop. */
typedef struct pb_sip_timer pb_sip_timer;

/**
 * How the source allow list and digest authentication combine to admit an
 * INVITE (when a digest realm is configured; without one only the address
 * list counts).
 */
typedef enum pb_sip_admit {
	/** A source on the allow list, or else a caller that authenticates (the default). */
	PB_SIP_ADMIT_ADDRESS_OR_DIGEST = 0,
	/** A source on the allow list that also authenticates. */
	PB_SIP_ADMIT_ADDRESS_AND_DIGEST = 1,
} pb_sip_admit;

/** User agent options. All strings borrowed for pb_sip_new() only. */
typedef struct pb_sip_options {
	unsigned version;           /**< PB_SIP_OPTIONS_VERSION */
	const char *bind_address;   /**< IP address to listen on; NULL = "127.0.0.1" */
	unsigned port;              /**< SIP port for UDP and TCP; 0 = 5060 */
	bool udp;                   /**< listen on UDP */
	bool tcp;                   /**< listen on TCP */
	/**
	 * Who may send INVITEs: addresses or prefixes separated by spaces or
	 * commas ("127.0.0.1 192.168.1.0/24 2001:db8::/32"). Others get 403.
	 * NULL or "" = nobody (a daemon must configure its trunk or PBX).
	 */
	const char *allow_sources;
	const char *rtp_address;    /**< address for RTP sockets and SDP; NULL = bind_address */
	unsigned rtp_port_min;      /**< RTP port range; 0/0 = ephemeral ports */
	unsigned rtp_port_max;
	const char *user_agent;     /**< User-Agent header; NULL = "libphonebridge" */
	/** Registration (optional): registrar URI, e.g. "sip:127.0.0.1:5070". */
	const char *registrar;
	const char *aor;            /**< address of record, e.g. "sip:screen@example.org" */
	const char *username;       /**< digest user name; NULL = user part of @p aor */
	const char *password;       /**< digest password (read it from a 0600 file) */
	/** Deprecated since 0.2, removed in 1.0: register_expires_ms (read when
	 *  that is 0). Seconds; 0 = 600.
	 *  (Not marked PB_DEPRECATED: PB_SIP_OPTIONS_INIT sets every member by
	 *  position, and clang would warn each caller of the macro.) */
	unsigned register_expires;
	/** Deprecated since 0.2, removed in 1.0: bridge_timeout_ms (read when
	 *  that is 0). Seconds; 0 = 30. */
	unsigned bridge_timeout;
	/* --- version 2 --- */
	/**
	 * Digest authentication of incoming INVITEs, done by sofia-sip's auth
	 * module (iptsec): the realm of our 401 challenges. NULL or "" = no
	 * digest, the allow list alone decides.
	 */
	const char *auth_realm;
	/**
	 * The user file for auth_realm, in sofia-sip's format: one
	 * "user:password" or "user:password:realm" line per user, or
	 * htdigest lines "user:realm:HA1" ('#' starts a comment). It must not
	 * be readable by group or others (PB_EAUTH otherwise); checked by
	 * pb_secret_check(), so "credential:NAME" names a systemd credential.
	 * sofia-sip reads it again when it changes.
	 */
	const char *auth_users_file;
	/** How allow_sources and the digest combine (see pb_sip_admit). */
	pb_sip_admit admit;
	/**
	 * Deprecated since 0.2, removed in 1.0: auth_nonce_ttl_ms (read when
	 * that is 0).
	 * Lifetime of a challenge's nonce in seconds; 0 = 30. Older ones are
	 * answered with a new challenge marked stale. sofia-sip's nonces are
	 * stateless (an HMAC under a random per-agent key): within its
	 * lifetime a captured INVITE's credentials can be replayed, so keep
	 * it short (or use the address list too: PB_SIP_ADMIT_ADDRESS_AND_DIGEST).
	 */
	unsigned auth_nonce_ttl;
	/**
	 * SIP over TLS (sofia-sip's tport_tls, OpenSSL): a directory with
	 * agent.pem (our private key and certificate chain, PEM) and
	 * optionally cafile.pem. NULL = no TLS. Callers' certificates are not
	 * asked for (admission is by address and/or digest).
	 */
	const char *tls_cert_dir;
	/** TLS port on bind_address; 0 = 5061. */
	unsigned tls_port;
	/* --- version 3 --- */
	/**
	 * Registration lifetime asked of the registrar (the Expires of our
	 * REGISTER, whole seconds: rounded up); 0 = register_expires, and
	 * when that is 0 too, 600000 (10 minutes).
	 */
	unsigned register_expires_ms;
	/**
	 * How long a bridged target may take to answer; 0 = bridge_timeout,
	 * and when that is 0 too, 30000.
	 */
	unsigned bridge_timeout_ms;
	/**
	 * Lifetime of a challenge's nonce (see auth_nonce_ttl; whole seconds,
	 * rounded up, as sofia-sip counts them); 0 = auth_nonce_ttl, and when
	 * that is 0 too, 30000.
	 */
	unsigned auth_nonce_ttl_ms;
} pb_sip_options;

/* Versions 1 (without the auth_*, admit and tls_* fields) and 2 (without
 * the *_ms members) are still accepted. */
#define PB_SIP_OPTIONS_VERSION 3u
#define PB_SIP_OPTIONS_INIT { PB_SIP_OPTIONS_VERSION, NULL, 0, true, true, NULL, NULL, 0, 0, \
			      NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, \
			      PB_SIP_ADMIT_ADDRESS_OR_DIGEST, 0, NULL, 0, 0, 0, 0 }

/** What happened on a call (the event handler's @p ev). */
typedef enum pb_sip_event {
	/**
	 * Media negotiated: pb_sip_call_media() is valid; RTP may flow. Reported
	 * again when a re-INVITE moves the caller's media (RTP then goes to the
	 * new address; an offer that puts us on hold stops our sending).
	 */
	PB_SIP_EV_MEDIA = 1,
	/** A SIP INFO arrived: pb_sip_call_info_body() / _info_type() hold it (DTMF relay). */
	PB_SIP_EV_INFO,
	/** The caller's ACK came: the answered call is up (once per call). */
	PB_SIP_EV_ACTIVE,
	/** Forwarding succeeded (302 sent, REFER's NOTIFY said 2xx, or the target answered). */
	PB_SIP_EV_FORWARDED,
	/** Forwarding failed; pb_sip_call_status() holds the SIP status (e.g. 486). */
	PB_SIP_EV_FORWARD_FAILED,
	/**
	 * The call is over (caller hung up, cancelled, rejected, or we hung up).
	 * Last event: the call is freed when the handler returns.
	 */
	PB_SIP_EV_ENDED,
	/** Registration succeeded (call is NULL). */
	PB_SIP_EV_REGISTERED,
	/**
	 * Registration failed (call is NULL); pb_sip_last_register_status() says
	 * why. Transient failures (408, 480, 5xx, e.g. the registrar not up yet)
	 * are tried again after 2, 4, 8 ... 60 s; refusals (403, ...) are not.
	 */
	PB_SIP_EV_REGISTER_FAILED,
} pb_sip_event;

/** Name of an event, e.g. "ended". @return static */
PB_API const char *pb_sip_event_name(pb_sip_event ev);

/** Callbacks. All run on the loop's thread, from inside pb_sip_run()/_step(). */
typedef struct pb_sip_handlers {
	/**
	 * A new INVITE from an allowed source. Answer it now or later with the
	 * pb_sip_call_*() actions. If the handler does nothing, the call keeps
	 * ringing (100 Trying was sent) until the caller gives up.
	 */
	void (*incoming)(pb_sip_call *call, void *userdata);
	/** Something happened on @p call (NULL for registration events). */
	void (*event)(pb_sip_call *call, pb_sip_event ev, void *userdata);
	/**
	 * An RTP packet from the caller (whole packet, borrowed for the call
	 * only). Not called while the call is bridged: the library relays then.
	 * May be NULL.
	 */
	void (*rtp)(pb_sip_call *call, const uint8_t *packet, size_t len, void *userdata);
	void *userdata;
} pb_sip_handlers;

/**
 * Make a user agent and start listening (and registering, if configured).
 * Port 0 in @p opts means 5060; to let the system choose a free port (tests)
 * pass PB_SIP_PORT_ANY and read it back with pb_sip_port() (not with TLS:
 * PB_EINVAL).
 *
 * @param out receives the new agent (pb_sip_free())
 * @param opts, handlers borrowed for the call (handlers are copied)
 * @return 0; PB_EINVAL (bad option, e.g. an unparsable allow_sources);
 *         PB_EIO (could not bind, or the users file cannot be read);
 *         PB_EAUTH (the users file is readable by group or others); PB_ENOMEM
 */
PB_API int pb_sip_new(pb_sip **out, const pb_sip_options *opts, const pb_sip_handlers *handlers);

/**
 * Stop and free the agent: active calls are hung up (BYE, or 503 when not
 * answered) and their ENDED events delivered, registration is removed, then
 * everything is freed. Waits at most about two seconds for the goodbyes.
 * NULL is fine.
 */
PB_API void pb_sip_free(pb_sip *ua);

/** Run the loop until pb_sip_break(). @return 0 */
PB_API int pb_sip_run(pb_sip *ua);

/** Make pb_sip_run() return (from a handler or a timer). */
PB_API void pb_sip_break(pb_sip *ua);

/**
 * Run the loop once for at most @p timeout_ms (0 = do what is ready;
 * PB_WAIT_FOREVER, or any value above INT_MAX, until something happens:
 * a message, RTP, a timer, at most INT_MAX ms).
 * @return ms until the next timer is due (at most INT_MAX), or -1 if none:
 *         the timeout poll() takes
 */
PB_API int pb_sip_step(pb_sip *ua, unsigned timeout_ms);

/**
 * The descriptor of the agent's loop, for a program with an event loop of
 * its own (poll, epoll, GLib, asyncio): it polls readable whenever the
 * agent has something to do (a SIP message, RTP, a call of ours to
 * deliver). Watch it for reading and call pb_sip_step(ua, 0) when it is
 * readable or when the time pb_sip_step() returned has passed (timers do
 * not make it readable). It is sofia-sip's epoll descriptor: Linux only.
 * @return the descriptor, borrowed (valid until pb_sip_free(); do not read,
 *         close or change it); PB_EUNSUPPORTED when sofia-sip's loop has
 *         none here (drive it with pb_sip_step() and a timeout instead)
 */
PB_API int pb_sip_fd(const pb_sip *ua);

/**
 * Refuse new INVITEs from now on (503 Service Unavailable) while the calls
 * already in progress go on: for a graceful stop.
 */
PB_API void pb_sip_drain(pb_sip *ua);

/** Number of calls in progress (with their bridged legs counted once). */
PB_API size_t pb_sip_call_count(const pb_sip *ua);

/**
 * Replace the source allow list (as in pb_sip_options.allow_sources).
 * @param list borrowed
 * @return 0, PB_EINVAL (the old list stays), PB_ENOMEM
 */
PB_API int pb_sip_set_allow_sources(pb_sip *ua, const char *list);

/**
 * Replace the digest settings of incoming INVITEs (as in pb_sip_options:
 * @p realm NULL or "" turns digest off). The users file is checked and read
 * now; on an error the old settings stay. Calls in progress are not
 * affected; challenges already sent to callers stay valid.
 * @param realm, users_file borrowed
 * @return 0; PB_EINVAL; PB_ENOTFOUND (no such file); PB_EIO (cannot read it);
 *         PB_EAUTH (file mode); PB_ENOMEM
 */
PB_API int pb_sip_set_auth(pb_sip *ua, const char *realm, const char *users_file, pb_sip_admit admit);

/** Port value for pb_sip_options.port: let the system choose (see pb_sip_port()). */
#define PB_SIP_PORT_ANY 65536u

/** The SIP port the agent listens on (the one chosen when PB_SIP_PORT_ANY was asked). */
PB_API unsigned pb_sip_port(const pb_sip *ua);

/** Status of the last REGISTER answer (200, 401, 403, 408, ...), 0 before any. */
PB_API int pb_sip_last_register_status(const pb_sip *ua);

/** Timer callback. */
typedef void (*pb_sip_timer_cb)(pb_sip_timer *t, void *userdata);

/**
 * Start a one-shot timer on the agent's loop.
 * @param out receives the timer; it stays valid until it fires (after the
 *        callback returns it is freed) or pb_sip_timer_cancel()
 * @return 0 or PB_ENOMEM
 */
PB_API int pb_sip_timer_start(pb_sip *ua, unsigned ms, pb_sip_timer_cb cb, void *userdata,
			      pb_sip_timer **out);

/** Cancel and free a pending timer (not from inside its own callback). NULL is fine. */
PB_API void pb_sip_timer_cancel(pb_sip_timer *t);

/** Milliseconds on the loop's monotonic clock. */
PB_API int64_t pb_sip_now(const pb_sip *ua);

/* --- a call ------------------------------------------------------------------ */

/** Who is calling, as the INVITE said. Strings borrowed from the call. */
typedef struct pb_sip_caller {
	const char *from_uri;       /**< From URI, "sip:+15550102000@host" */
	const char *display_name;   /**< From display name without quotes, or NULL */
	const char *pai;            /**< first P-Asserted-Identity URI, or NULL */
	const char *verstat;        /**< verstat value from PAI (or From), or NULL */
	bool identity_header;       /**< an Identity header (RFC 8224) was present */
	const char *request_uri;    /**< the called URI */
	const char *to_uri;         /**< To URI */
	const char *source;         /**< source address of the INVITE, "127.0.0.1:5062" */
	const char *call_id;        /**< Call-ID */
	/** the digest user name the caller authenticated as, or NULL (admitted by address) */
	const char *auth_user;
	/* parsed once here, so that screening needs not parse the URIs again */
	/** the user part of the PAI (else From) sip:/sips: URI without its
	 *  ;parameters ("+15550102000"), or NULL (no user part, a tel: URI) */
	const char *number;
	pb_screen_verstat verstat_value; /**< verstat as an enum; PB_VERSTAT_NONE when absent */
	char attestation;                /**< 'A', 'B', 'C' for a passed validation with a level, else 0 */
} pb_sip_caller;

/** @return borrowed: valid until the call's ENDED event */
PB_API const pb_sip_caller *pb_sip_call_caller(const pb_sip_call *call);

/** The negotiated media of a call leg. */
typedef struct pb_sip_media {
	char remote_address[64];    /**< where to send RTP (from c=), numeric */
	uint16_t remote_port;       /**< 0 = not known yet, or audio refused */
	int codec_pt;               /**< 0 (PCMU) or 8 (PCMA); -1 if none */
	int dtmf_pt;                /**< telephone-event payload type, -1 if none */
	uint16_t local_port;        /**< our RTP port */
} pb_sip_media;

/**
 * @return borrowed, valid until ENDED. Filled from the caller's offer when the
 * INVITE arrives (our answer holds exactly that codec and event type), so RTP
 * can be sent as soon as the call is answered; updated at the MEDIA event.
 * remote_port is 0 when the INVITE had no offer.
 */
PB_API const pb_sip_media *pb_sip_call_media(const pb_sip_call *call);

/** Attach program data to the call. */
PB_API void pb_sip_call_set_userdata(pb_sip_call *call, void *userdata);
/** @return what pb_sip_call_set_userdata() set, or NULL */
PB_API void *pb_sip_call_get_userdata(const pb_sip_call *call);

/** True once the call was answered with 200. */
PB_API bool pb_sip_call_answered(const pb_sip_call *call);

/** Last SIP status seen for this call (reject, forward result, ...). */
PB_API int pb_sip_call_status(const pb_sip_call *call);

/** For PB_SIP_EV_INFO: the body and its content type. @return borrowed until the handler returns, or NULL */
PB_API const char *pb_sip_call_info_body(const pb_sip_call *call, size_t *len);
/** @return borrowed until the handler returns, or NULL */
PB_API const char *pb_sip_call_info_type(const pb_sip_call *call);

/** Send 180 Ringing. @return 0 or PB_ESTATE after a final answer */
PB_API int pb_sip_call_ring(pb_sip_call *call);

/** Send 183 Session Progress with our SDP answer (early media). @return 0, PB_ESTATE */
PB_API int pb_sip_call_progress(pb_sip_call *call);

/** Answer: 200 OK with our SDP answer. @return 0, PB_ESTATE */
PB_API int pb_sip_call_answer(pb_sip_call *call);

/**
 * Refuse a call not yet answered (e.g. 403, 486, 603).
 * @param reason borrowed; NULL = the standard phrase
 * @return 0, PB_ESTATE (already answered: use pb_sip_call_hangup()), PB_EINVAL
 */
PB_API int pb_sip_call_reject(pb_sip_call *call, int status, const char *reason);

/** Hang up: BYE if answered, 480 otherwise; the bridged leg too. @return 0 */
PB_API int pb_sip_call_hangup(pb_sip_call *call);

/**
 * Forward by redirect: 302 Moved Temporarily with @p target as Contact.
 * Only before answering. FORWARDED follows at once, then ENDED.
 * @param target borrowed, a SIP URI, or a Contact value listing several
 *        ("<sip:a@x>;q=1.0, <sip:b@y>;q=0.5") for an upstream that forks
 * @return 0, PB_ESTATE (already answered), PB_EINVAL
 */
PB_API int pb_sip_call_redirect(pb_sip_call *call, const char *target);

/**
 * Forward by blind transfer: REFER the caller to @p target (the call must
 * be answered). The NOTIFY sipfrag is followed: FORWARDED on 2xx (then we
 * hang up), FORWARD_FAILED on a final failure or when REFER is refused.
 * A REFER accepted (202) but not followed by a NOTIFY with a final status
 * within the refer timeout (pb_sip_set_refer_timeout()) is FORWARD_FAILED
 * too, with pb_sip_call_status() 0: no status came; a NOTIFY after that is
 * ignored.
 * @return 0, PB_ESTATE (not answered), PB_EINVAL
 */
PB_API int pb_sip_call_refer(pb_sip_call *call, const char *target);

/**
 * How long pb_sip_call_refer() waits, once the REFER was accepted, for the
 * NOTIFY with the transfer's final status (it comes when the target
 * answers: count its ringing in). Applies to REFERs sent from now on.
 * @param ms 0 = the default, 60000
 */
PB_API void pb_sip_set_refer_timeout(pb_sip *ua, unsigned ms);

/**
 * Forward by bridging: originate a second call to @p target (From is the
 * caller's identity) and relay RTP between the legs (DTMF events too).
 * If the caller is not yet answered it is answered when the target
 * answers. A hang-up on either side ends the other; a caller's CANCEL
 * cancels the target. If the target is busy, refuses, or does not answer
 * in pb_sip_options.bridge_timeout_ms, @p fallback (if not NULL, e.g. a
 * voicemail URI) is tried the same way; if that fails too,
 * FORWARD_FAILED is reported and the caller hung up (or rejected with the
 * target's status if not answered) — unless the handler starts another
 * bridge from that event, or keeps the caller (pb_sip_call_keep()).
 *
 * @p target (and @p fallback) may list several URIs, comma-separated: they
 * ring at once (parallel forking), the first to answer is bridged and the
 * others get CANCEL; the call fails over only when all have failed (busy
 * wins over no answer as the reported status).
 * @param target, fallback borrowed
 * @return 0, PB_ESTATE (already forwarding), PB_EINVAL, PB_EIO, PB_ENOMEM
 */
PB_API int pb_sip_call_bridge(pb_sip_call *call, const char *target, const char *fallback);

/**
 * From the handler of a bridge's FORWARD_FAILED event: keep the caller's
 * leg instead of hanging it up (or rejecting it when not answered), e.g.
 * to answer it and take a voicemail. The program then ends the call
 * itself (pb_sip_call_hangup()). The caller's RTP reaches the rtp handler
 * again, as before the bridge.
 * @return 0; PB_ESTATE (the call is over, or forwarding again)
 */
PB_API int pb_sip_call_keep(pb_sip_call *call);

/**
 * Send one whole RTP packet to the caller (to the negotiated address).
 * @return 0; PB_ESTATE before media is known; PB_EIO on a send error
 */
PB_API int pb_sip_call_send_rtp(pb_sip_call *call, const uint8_t *packet, size_t len);

/* --- refusals ---------------------------------------------------------------- */

/**
 * An INVITE the agent refused by itself, before the incoming handler saw it
 * (so that a program can log every call, refused ones included).
 *
 * rule (static) and status:
 * - "source-not-allowed" 403: the source is not on allow_sources (and did
 *   not authenticate where digest may stand in for it);
 * - "auth-failed" 403: the digest credentials were refused (a 401
 *   challenge on its own is no refusal: the caller may still answer it);
 * - "malformed-sdp" 400: the SDP guard refused the body (sofia-sip
 *   answered 400 before the INVITE reached the agent);
 * - "no-acceptable-media" 488: the offer had no audio with PCMU or PCMA;
 * - "draining" 503: pb_sip_drain() was called (a stop or a restart);
 * - "internal-error" 500: no memory or no free RTP port.
 */
typedef struct pb_sip_refusal {
	int status;                  /**< the final status the caller got */
	const char *rule;            /**< static: why, one of the names above */
	/**
	 * Borrowed for the callback: what the INVITE said, as far as it was
	 * read (source always; From, Request-URI, Call-ID and number when the
	 * request had them; auth_user never).
	 */
	const pb_sip_caller *caller;
	/**
	 * How many refusals this report stands for: 1, or more when reports
	 * came faster than the loop delivered them (the others are counted
	 * into the next report, so none is lost from the total).
	 */
	unsigned long count;
} pb_sip_refusal;

/** Receives refusals; runs on the loop's thread, from inside pb_sip_run()/_step(). */
typedef void (*pb_sip_refused_cb)(const pb_sip_refusal *r, void *userdata);

/**
 * Be told of every INVITE the agent refuses by itself (see pb_sip_refusal).
 * Reports are queued where the refusal happens and delivered from the
 * loop, after the step that refused, never from inside sofia-sip.
 * @param cb NULL stops the reports; @param userdata handed to @p cb
 */
PB_API void pb_sip_set_refused_handler(pb_sip *ua, pb_sip_refused_cb cb, void *userdata);

/* --- SDP ------------------------------------------------------------------- */

/**
 * Read the audio media of an SDP body (parsed with sofia-sip's SDP parser):
 * the first audio m= line with a non-zero port, its connection address,
 * the first of PCMU/PCMA in its format list and the telephone-event payload
 * type. local_port is set to 0.
 *
 * @param buf, len the SDP body (outside bytes; need not be NUL-terminated)
 * @param out  filled in
 * @param perr may be NULL; on PB_EMALFORMED gets an offset (0: sofia-sip
 *             does not report where it stopped)
 * @return 0; PB_EMALFORMED (not SDP, no address); PB_EUNSUPPORTED (no audio
 *         line with PCMU or PCMA); PB_ENOMEM
 */
PB_API int pb_sip_sdp_media(const uint8_t *buf, size_t len, pb_sip_media *out,
			    pb_parse_error *perr);

PB_END_DECLS

#endif
