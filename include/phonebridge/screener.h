/*
 * libphonebridge — a whole call screener: SIP, media, policy, challenges, store.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * pb_screener joins the parts of screen.h, media.h, sip.h and store.h into
 * the engine that answers real SIP calls: each INVITE is decided by the
 * policy, refused, forwarded, or challenged (prompts and DTMF over RTP, SIP
 * INFO or in-band); callers who pass go on the allow list and are
 * forwarded; every call is logged in the store. pb-screend is a thin program
 * over it; examples/screen-custom.c runs one with a challenge of its own.
 *
 *     pb_screener_options o = PB_SCREENER_OPTIONS_INIT;
 *     o.sip.allow_sources = "127.0.0.1";
 *     o.store = "/var/lib/phonebridge/screen.db";
 *     o.prompts = "/usr/share/phonebridge/prompts";
 *     o.target = "sip:desk@pbx.example.org";
 *     pb_screener *s;
 *     pb_screener_new(&s, &o);
 *     pb_screener_add_challenge(s, &my_challenge);    // before start
 *     pb_screener_start(s);
 *     pb_screener_run(s);                             // until pb_screener_stop()
 *     pb_screener_free(s);
 *
 * One thread: every function of one screener, and every callback it makes,
 * runs on the thread that drives it (pb_screener_run(), _step(), or
 * _dispatch() from a foreign event loop watching pb_screener_fd()).
 * docs/screen.md ("A screener") has the details.
 */
#ifndef PHONEBRIDGE_SCREENER_H
#define PHONEBRIDGE_SCREENER_H

#include <stdbool.h>

#include <phonebridge/common.h>
#include <phonebridge/screen.h>
#include <phonebridge/sip.h>
#include <phonebridge/store.h>

PB_BEGIN_DECLS

struct pb_challenge_ops; /* phonebridge/sys/challenge.h */

/** What a screener reports about a call (pb_screener_event.type). */
typedef enum pb_screener_event_type {
	PB_SCREENER_CALL_STARTED = 0, /**< an admitted INVITE arrived: caller set */
	PB_SCREENER_VERDICT,          /**< the policy decided: decision set */
	PB_SCREENER_CHALLENGE_DONE,   /**< the challenge ended: result set */
	PB_SCREENER_FORWARDED,        /**< the call was handed to target (mode says how) */
	PB_SCREENER_ENDED,            /**< the call is over and logged: outcome, duration set */
	/**
	 * Refused before screening (the user agent's own refusals: source not
	 * allowed, digest refused, malformed SDP, no acceptable media, draining;
	 * or overloaded) and logged: decision (verdict reject, rule, sip_status)
	 * and count set; caller holds what the INVITE said, as far as it was
	 * read. Not preceded by PB_SCREENER_CALL_STARTED. Aggregated like the
	 * call log's rows: count > 1 for a row standing for many refusals.
	 */
	PB_SCREENER_REFUSED,
} pb_screener_event_type;

/** One event. Every pointer is borrowed for the callback only. */
typedef struct pb_screener_event {
	pb_screener_event_type type;
	unsigned long call;                 /**< the same number in every event of one call */
	const pb_sip_caller *caller;        /**< always set */
	const pb_screen_decision *decision; /**< from PB_SCREENER_VERDICT on; else NULL */
	const pb_screen_result *result;     /**< PB_SCREENER_CHALLENGE_DONE only */
	const char *mode;                   /**< PB_SCREENER_FORWARDED: "bridge", "redirect", "refer" */
	const char *target;                 /**< PB_SCREENER_FORWARDED: where to */
	const char *outcome;                /**< PB_SCREENER_ENDED: "CHALLENGE:OUTCOME" or "none" */
	int64_t duration_ms;                /**< PB_SCREENER_ENDED: answered time, 0 if never */
	/* since 0.2 (the library fills it; callbacks built before it never read it) */
	unsigned long count;                /**< calls the event stands for: 1, more for an aggregated PB_SCREENER_REFUSED */
} pb_screener_event;

/** Receives the events of every call. */
typedef void (*pb_screener_event_cb)(const pb_screener_event *ev, void *userdata);

/**
 * How to build a screener. Strings are copied by pb_screener_new() and
 * pb_screener_reconfigure(): none needs to outlive the call.
 */
typedef struct pb_screener_options {
	unsigned version;          /**< PB_SCREENER_OPTIONS_VERSION */
	/**
	 * The user agent: listen address and port, allowed sources, RTP range,
	 * registration, digest, TLS (phonebridge/sip.h). Its password is the
	 * secret itself: read it from a 0600 file.
	 */
	pb_sip_options sip;
	const char *store;         /**< path of the store (call log, allow/deny lists), or a postgresql:// URL; required */
	const char *prompts;       /**< directory with prompts.txt and the WAV files; required */
	/** How a call leaves us: "bridge" (B2BUA, default), "redirect" (302 before
	 *  answering, else bridge) or "refer" (after answering, else bridge). */
	const char *mode;
	/** forward target URI; required. Several, comma-separated
	 *  ("sip:desk@pbx, sip:soft@pbx"), ring at once in bridge mode: the first
	 *  to answer wins, the others get CANCEL (see ring); redirect lists them
	 *  all as Contacts of the 302 (one q for parallel, falling q for
	 *  sequential, the fallback last) for an upstream that forks; refer
	 *  takes one target only (PB_EINVAL: a REFER has one Refer-To). */
	const char *target;
	const char *fallback;      /**< bridge: tried when the target does not answer; may be NULL */
	bool early_media;          /**< challenge in 183 early media instead of answering (200) */
	/** Deprecated since 0.2, removed in 1.0: max_duration_ms (read when
	 *  that is 0). Seconds a challenge may take; 0 = 120. (This and the
	 *  other seconds members are not marked PB_DEPRECATED:
	 *  PB_SCREENER_OPTIONS_INIT sets them by position.) */
	unsigned max_duration;
	/** Policy rules as key, value pairs for pb_screen_policy_set(), ended by
	 *  a NULL key: { "challenge", "arithmetic", "region", "US", NULL }. May be NULL. */
	const char *const *policy;
	pb_screener_event_cb on_event; /**< may be NULL */
	void *userdata;                /**< for on_event */
	/** mode "refer": when the caller's side refuses the REFER (e.g. 501) or
	 *  reports the transfer failed, "bridge" (default: bridge to target, with
	 *  fallback) or "goodbye" (play the goodbye prompt, then BYE). Logged either way. */
	const char *refer_fallback;
	/** Several targets: "parallel" (default, all at once) or "sequential"
	 *  (one after the other, each for the bridge timeout, then the fallback). */
	const char *ring;
	/* --- version 2 --- */
	/** store is a postgresql:// URL (a cluster's shared store,
	 *  docs/cluster.md): the file with its password (pb_store_options'
	 *  password_file); may be NULL. */
	const char *store_password_file;
	/* --- version 3 --- */
	/**
	 * Calls in progress at most; one more is refused with 503 (rule
	 * "overloaded", logged like the agent's own refusals). 0 = no limit.
	 */
	unsigned max_calls;
	/** Deprecated since 0.2, removed in 1.0: refer_timeout_ms (read when
	 *  that is 0). Seconds; 0 = 60, at most 3600. */
	unsigned refer_timeout;
	/* --- version 4 --- */
	/**
	 * Voicemail: when a bridge fails (see voicemail_on) the caller, if it
	 * passed its challenge or is on the allow list (never a screened-out
	 * one), is answered (or kept), hears the greeting and a beep and is
	 * recorded; the recording is stored in the store as an inbound journal
	 * row (backend "screen:voicemail", state stored) with the file as its
	 * attachment, which pb-bridged posts to Matrix. docs/screen.md.
	 */
	bool voicemail;
	/** Which failures lead to voicemail: PB_SCREENER_VOICEMAIL_* bits; 0 = all three. */
	unsigned voicemail_on;
	/** Deprecated since 0.2, removed in 1.0: voicemail_max_ms (read when
	 *  that is 0). Seconds; 0 = 120, at most 600. */
	unsigned voicemail_max_seconds;
	/** Deprecated since 0.2, removed in 1.0: voicemail_silence_ms (read
	 *  when that is 0). Seconds; 0 = never. */
	unsigned voicemail_silence_seconds;
	const char *voicemail_format;       /**< "wav" (default) or "opus" (Ogg Opus) */
	const char *voicemail_greeting;     /**< prompt name; NULL = "voicemail" (data/prompts) */
	/* --- version 5: the durations above in ms (conventions.md); a member
	 * left 0 takes the seconds member of versions 1-4 --- */
	/** How long a challenge may take; 0 = 120000. At most INT_MAX. */
	unsigned max_duration_ms;
	/**
	 * mode "refer": how long to wait, after the REFER was accepted (202),
	 * for the NOTIFY with the transfer's final status; none in time is
	 * treated as a failed REFER (refer_fallback). Count the target's
	 * ringing in: the final NOTIFY comes when it answers. 0 = 60000, at
	 * most 3600000.
	 */
	unsigned refer_timeout_ms;
	unsigned voicemail_max_ms;          /**< longest message; 0 = 120000, at most 600000 */
	/** A message ends after this much silence; PB_WAIT_FOREVER = never
	 *  (hang-up and the length end it); 0 = voicemail_silence_seconds, which
	 *  PB_SCREENER_OPTIONS_INIT sets to 5. Otherwise at most INT_MAX. */
	unsigned voicemail_silence_ms;
} pb_screener_options;

/** pb_screener_options.voicemail_on: the target did not answer in time (408, 480, 487). */
#define PB_SCREENER_VOICEMAIL_TIMEOUT 0x1u
/** pb_screener_options.voicemail_on: busy or declined (486, 600, 603). */
#define PB_SCREENER_VOICEMAIL_BUSY 0x2u
/** pb_screener_options.voicemail_on: no target reachable (any other failure). */
#define PB_SCREENER_VOICEMAIL_UNREACHABLE 0x4u

/* Versions 1 (without store_password_file), 2 (without max_calls and
 * refer_timeout), 3 (without the voicemail_* fields: no voicemail) and 4
 * (the durations in seconds only) are still accepted. */
#define PB_SCREENER_OPTIONS_VERSION 5u
#define PB_SCREENER_OPTIONS_INIT { PB_SCREENER_OPTIONS_VERSION, PB_SIP_OPTIONS_INIT, NULL, NULL, \
				   "bridge", NULL, NULL, false, 0, NULL, NULL, NULL, "bridge", "parallel", \
				   NULL, 0, 0, false, 0, 120, 5, "wav", "voicemail", 0, 0, 0, 0 }

/** A screener. Opaque. */
typedef struct pb_screener pb_screener;

/**
 * Make a screener: opens the store, loads the prompts, builds the policy
 * and the challenge registry (built-ins). Nothing listens yet.
 *
 * @param out  receives the new screener (pb_screener_free())
 * @param opts borrowed; copied
 * @return 0; PB_EINVAL for a missing or bad option (the message names it,
 *         e.g. "[policy] region=XX: ..."), or an options (or sip options)
 *         version this library does not read (0, newer, or too old); what
 *         pb_store_open() or pb_prompt_set_load_dir() return; PB_ENOMEM
 */
PB_API int pb_screener_new(pb_screener **out, const pb_screener_options *opts);

/**
 * Add a challenge the policy can name ("challenge = NAME"). Only before
 * pb_screener_start().
 *
 * @param ops borrowed: must stay valid as long as @p s (usually static)
 * @return what pb_screen_registry_add() returns; PB_ESTATE after start
 */
PB_API int pb_screener_add_challenge(pb_screener *s, const struct pb_challenge_ops *ops);

/**
 * Load a challenge module (a shared object exporting pb_challenge_module,
 * phonebridge/sys/challenge.h) and add its challenge. Only before
 * pb_screener_start(); the module stays loaded until pb_screener_free().
 *
 * @param name the challenge's name as configured: the module's ops->name must match
 * @param path borrowed; a regular file not writable by group or others
 * @return 0; PB_EIO when it cannot be loaded (dlerror() in the message);
 *         PB_EAUTH for a file writable by others; PB_EUNSUPPORTED for a
 *         module of another ABI or without the entry point (the message says
 *         which ABI it has and which this library loads); PB_EINVAL for
 *         another name; PB_EEXISTS; PB_ESTATE after start
 */
PB_API int pb_screener_load_challenge(pb_screener *s, const char *name, const char *path);

/**
 * Check that every challenge the policy names exists and accepts its
 * parameters (what pb_screener_start() checks first), without listening.
 * @return 0; PB_ENOTFOUND or PB_EINVAL naming the policy key and the challenge
 */
PB_API int pb_screener_check(const pb_screener *s);

/**
 * Check that every challenge the policy names exists and accepts its
 * parameters, then start listening (and registering).
 * @return 0; PB_ENOTFOUND or PB_EINVAL for a challenge; what pb_sip_new()
 *         returns; PB_ESTATE when already started
 */
PB_API int pb_screener_start(pb_screener *s);

/**
 * Run the loop once: wait up to @p timeout_ms for SIP, RTP and timers and
 * handle what came (0 = only what is ready; PB_WAIT_FOREVER, or any value
 * above INT_MAX, until something happens, at most INT_MAX ms). For a
 * program that drives its own loop.
 * @return ms until the next timer is due (at most INT_MAX; -1 for none, the
 *         timeout poll() takes), or PB_ESTATE before start, PB_EIO when a
 *         reconfiguration could not restart the agent
 */
PB_API int pb_screener_step(pb_screener *s, unsigned timeout_ms);

/**
 * For a program with an event loop of its own (poll, epoll, GLib, asyncio):
 * a descriptor that polls readable when the screener has work (SIP, RTP,
 * a pb_screener_stop()). Watch it for reading; call pb_screener_dispatch()
 * when it is readable, and when pb_screener_timeout_ms() has passed
 * (timers do not make it readable):
 *
 *     struct pollfd p = { pb_screener_fd(s), POLLIN, 0 };
 *     while (!pb_screener_stopped(s)) {
 *             poll(&p, 1, pb_screener_timeout_ms(s));  // with your own fds
 *             pb_screener_dispatch(s);
 *     }
 *
 * It stays the same for the screener's life, also when a reconfiguration
 * restarts the agent (an epoll descriptor holding sofia-sip's, Linux only).
 * Everything still runs on the thread that calls pb_screener_dispatch().
 *
 * @return the descriptor, borrowed: valid until pb_screener_free(); do not
 *         read, close or change it. PB_ESTATE before pb_screener_start();
 *         PB_EUNSUPPORTED when sofia-sip's loop has no descriptor here
 *         (drive it with pb_screener_step() instead)
 */
PB_API int pb_screener_fd(const pb_screener *s);

/**
 * Milliseconds until pb_screener_dispatch() is due even if the descriptor
 * stays quiet (the next timer: the media tick, a challenge's timeout), as
 * the poll() timeout: -1 none, 0 now (before the first dispatch, and once
 * pb_screener_stop() was called), at most INT_MAX.
 */
PB_API int pb_screener_timeout_ms(const pb_screener *s);

/**
 * Do what is ready, without waiting (SIP, RTP, timers, a stop): the
 * callbacks and challenges run inside, on the calling thread. Call it when
 * pb_screener_fd() is readable or pb_screener_timeout_ms() has passed;
 * calling it more often is harmless.
 * @return 0 (pb_screener_timeout_ms() says when to come back); PB_ESTATE
 *         before start; PB_EIO when an agent restart failed (as
 *         pb_screener_run())
 */
PB_API int pb_screener_dispatch(pb_screener *s);

/**
 * Run until pb_screener_stop() was called and the last call has ended.
 * @return 0, PB_ESTATE before start, or PB_EIO when an agent restart
 *         (pb_screener_reconfigure()) failed with both the new and the old settings
 */
PB_API int pb_screener_run(pb_screener *s);

/**
 * Stop taking calls (new INVITEs get 503); pb_screener_run() returns once
 * the calls in progress have ended. Call it from the screener's thread (an
 * event callback, a challenge) or from a signal handler.
 */
PB_API void pb_screener_stop(pb_screener *s);

/** True once pb_screener_stop() was called and no call is left. */
PB_API bool pb_screener_stopped(const pb_screener *s);

/**
 * Apply new options to a running screener: policy, prompts, targets, mode,
 * allowed sources and digest settings at once. What a running agent cannot
 * change (listen address, port, transports, RTP range, registration and
 * password, TLS, store) makes the agent restart as soon as no call is up;
 * new calls get 503 until then. @p opts's on_event is ignored.
 *
 * @param restart_pending if not NULL, set to whether a restart is pending
 * @return 0; on failure nothing changed and the old options stay
 */
PB_API int pb_screener_reconfigure(pb_screener *s, const pb_screener_options *opts,
				   bool *restart_pending);

/** The SIP port (read back when PB_SIP_PORT_ANY was asked for); 0 before start. */
PB_API unsigned pb_screener_port(const pb_screener *s);

/** Calls in progress. */
PB_API size_t pb_screener_call_count(const pb_screener *s);

/** The policy in use. @return borrowed; replaced by pb_screener_reconfigure() */
PB_API const pb_screen_policy *pb_screener_policy(const pb_screener *s);

/**
 * The policy a call to one of the numbers in the store's numbers table gets
 * (pb_store_number, docs/cluster.md): the configured policy with the
 * number's "key=value; key=value" over it. Checks a number's policy before
 * it is stored.
 *
 * @param text the number's policy text; NULL or "": the configured policy
 * @param out  new (pb_screen_policy_free()); NULL on failure
 * @return 0; PB_EINVAL or PB_ENOTFOUND (a bad pair or an unknown key; the
 *         message names it), PB_ENOMEM
 */
PB_API int pb_screener_number_policy(pb_screener *s, const char *text, pb_screen_policy **out);

/** The store in use. @return borrowed; replaced when a reconfiguration changes it */
PB_API pb_store *pb_screener_store(pb_screener *s);

/** Stop the agent (ending calls in progress), close everything. NULL is fine. */
PB_API void pb_screener_free(pb_screener *s);

/** Where a screener's registration stands (pb_screener_registration()). */
typedef enum pb_screener_reg_state {
	PB_SCREENER_REG_NONE = 0,    /**< no registrar configured */
	PB_SCREENER_REG_PENDING = 1, /**< configured, no answer yet (or not started) */
	PB_SCREENER_REG_OK = 2,      /**< the registrar accepted the last REGISTER */
	PB_SCREENER_REG_FAILED = 3,  /**< the last REGISTER failed (the agent retries) */
} pb_screener_reg_state;

/**
 * The registration's state, safe to call from any thread (a health
 * endpoint's) while the screener runs.
 * @param last_status optional: receives the status of the last REGISTER
 *        answer (200, 401, 408, ...), 0 before any
 * @return a pb_screener_reg_state
 */
PB_API int pb_screener_registration(const pb_screener *s, int *last_status);

/** "none", "pending", "registered", "failed" (static); "?" for another value. */
PB_API const char *pb_screener_reg_state_name(int state);

PB_END_DECLS

#endif
