/*
 * libphonebridge — call screening: policy, challenge registry, sessions.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure logic: nothing here opens a socket, reads a clock or starts a thread.
 * The program (pb-screend, a test, a bench) is the host: it feeds events in
 * with the current time and carries out what the session asks through a host
 * ops table. docs/screen.md walks through a call.
 *
 *     pb_screen_decision d;
 *     pb_screen_policy_decide(policy, &call, &lookups, &d);
 *     if (d.verdict == PB_SCREEN_CHALLENGE)
 *         pb_screen_session_new(&s, registry, d.challenge, d.params, &host, ctx, NULL);
 *
 * Times are milliseconds on any monotonic clock the host chooses (tests use
 * a virtual one); only their differences matter. Wall-clock values (unix
 * seconds, minute of the day) are passed in by the host too.
 */
#ifndef PHONEBRIDGE_SCREEN_H
#define PHONEBRIDGE_SCREEN_H

#include <stdbool.h>

#include <phonebridge/common.h>

PB_BEGIN_DECLS

/* --- numbers and identity ---------------------------------------------------- */

/**
 * How to read national numbers when normalising to E.164.
 *
 * Since version 2 the digits are read by pb_phone_normalize()
 * (phonebridge/phone.h) with @c region as its default region: the region's
 * country code, international prefixes (00, 011, 0011...), trunk prefix and
 * national number lengths come from that one table, shared with the store
 * and pb-bridged. Version 1 carried its own country code, prefixes and
 * national length; the policy keys that set them (country-code,
 * international-prefix, national-prefix, national-length) are deprecated
 * since 0.2 and removed in 1.0: see pb_screen_policy_set().
 */
typedef struct pb_screen_numbering {
	unsigned version;               /**< PB_SCREEN_NUMBERING_VERSION */
	char region[3];                 /**< ISO 3166 alpha-2 ("US", "DE") as pb_phone_normalize()
					     knows it; "" = numbers must be international ("+...") */
	unsigned short_max;             /**< a bare digit string (no "+") of at most this many
					     digits is a short/internal number (PBX extension); also
					     applies without a region */
} pb_screen_numbering;

#define PB_SCREEN_NUMBERING_VERSION 2u
/** No region: only "+" E.164 and short numbers are understood. */
#define PB_SCREEN_NUMBERING_INIT { PB_SCREEN_NUMBERING_VERSION, "", 6 }

/** What kind of number a caller identity turned out to be. */
typedef enum pb_screen_number_kind {
	PB_SCREEN_NUMBER_E164 = 0,   /**< normalised to +CCNNN... */
	PB_SCREEN_NUMBER_SHORT,      /**< a short or internal number (extension, service code) */
	PB_SCREEN_NUMBER_ANONYMOUS,  /**< withheld: empty, "anonymous", "restricted", ... */
	PB_SCREEN_NUMBER_UNKNOWN,    /**< not a number, or a national number without a region */
} pb_screen_number_kind;

/**
 * Normalise a caller identity to E.164.
 *
 * @p in may be a bare number ("+1 (555) 010-2000", "0301234567"), a tel: URI
 * or a sip:/sips: URI (the user part is used; parameters like ";verstat=" and
 * ";phone-context=" are ignored), or a name-addr ("Bob" <sip:...>). This
 * function finds the user part and withheld identities; the digits go to
 * pb_phone_normalize() with @p numbering's region, except two screening
 * rules of its own:
 *  - a bare digit string of at most short_max digits, or a service code
 *    with '*' or '#' (at most max(short_max, 8) characters, no "+"), is
 *    PB_SCREEN_NUMBER_SHORT: the policy lets short numbers through, so
 *    this stays narrower than pb_phone_normalize()'s "shorter than the
 *    region's numbers" (7-digit NANP strings are not extensions);
 *  - what pb_phone_normalize() refuses, or keeps as a short code longer
 *    than short_max, is PB_SCREEN_NUMBER_UNKNOWN, not an error.
 *
 * @param out  receives "+CC..." for E.164, the digits for a short number, ""
 *             otherwise; NUL-terminated; caller-owned, @p cap bytes
 * @param in   borrowed; NULL is taken as anonymous
 * @param numbering borrowed; NULL for PB_SCREEN_NUMBERING_INIT
 * @return a pb_screen_number_kind (>= 0), or PB_EINVAL for a too small @p out
 *         or a @p numbering of another version
 */
PB_API int pb_screen_normalize_number(char *out, size_t cap, const char *in,
				      const pb_screen_numbering *numbering);

/** STIR/SHAKEN verification status (RFC 8588 / ATIS-1000074 "verstat"). */
typedef enum pb_screen_verstat {
	PB_VERSTAT_NONE = 0,     /**< no verstat parameter */
	PB_VERSTAT_PASSED,       /**< TN-Validation-Passed (any of -A, -B, -C, or plain) */
	PB_VERSTAT_FAILED,       /**< TN-Validation-Failed */
	PB_VERSTAT_NO_VALIDATION,/**< No-TN-Validation */
	PB_VERSTAT_OTHER,        /**< a value this library does not know */
} pb_screen_verstat;

/**
 * Find the verstat parameter in a P-Asserted-Identity (or From) URI, in the
 * user part ("sip:+1555;verstat=TN-Validation-Passed@host") or after the host.
 *
 * @param uri borrowed; NULL gives PB_VERSTAT_NONE
 * @param attestation if not NULL, receives 'A', 'B', 'C' for a passed
 *        validation with a level, 0 otherwise
 */
PB_API pb_screen_verstat pb_screen_parse_verstat(const char *uri, char *attestation);

/**
 * The verstat value itself ("TN-Validation-Passed-A"), as a SIP stack that
 * has parsed the URI parameter holds it: the first @p n bytes of @p value.
 * @param attestation if not NULL, receives 'A', 'B', 'C' or 0
 * @return PB_VERSTAT_NONE for NULL, else what pb_screen_parse_verstat() would say
 */
PB_API pb_screen_verstat pb_screen_verstat_from_value(const char *value, size_t n, char *attestation);

/** Name of a verstat value, e.g. "TN-Validation-Failed". @return static */
PB_API const char *pb_screen_verstat_name(pb_screen_verstat v);

/* --- policy --------------------------------------------------------------------- */

/** The three answers of the policy. */
typedef enum pb_screen_verdict {
	PB_SCREEN_ACCEPT = 0,   /**< forward the call now */
	PB_SCREEN_REJECT,       /**< refuse with decision.sip_status */
	PB_SCREEN_CHALLENGE,    /**< run decision.challenge with decision.params */
} pb_screen_verdict;

/** What to do with a class of callers. */
typedef enum pb_screen_action {
	PB_SCREEN_DO_DEFAULT = 0, /**< no special rule: fall through to the next rule */
	PB_SCREEN_DO_ACCEPT,
	PB_SCREEN_DO_REJECT,
	PB_SCREEN_DO_CHALLENGE,
} pb_screen_action;

/** One incoming call as the SIP side saw it. All strings borrowed, may be NULL. */
typedef struct pb_screen_call {
	unsigned version;          /**< PB_SCREEN_CALL_VERSION */
	const char *from;          /**< From URI or number */
	const char *display_name;  /**< From display name */
	const char *pai;           /**< P-Asserted-Identity URI, preferred over From when set */
	const char *verstat;       /**< verstat value if the host parsed it; NULL: read from pai/from */
	bool identity_header;      /**< an Identity header (RFC 8224) was present */
	const char *called;        /**< Request-URI or To number */
	int64_t now;               /**< wall clock, unix seconds (for the failure window) */
	int minute_of_day;         /**< local time, 0..1439; -1 if unknown */
	/* --- version 2: what a SIP stack has already parsed, so nothing is parsed twice --- */
	/** the caller's number, the user part of the PAI (else From) URI without
	 *  its parameters; preferred over pai/from when set */
	const char *number;
	bool verstat_known;                /**< verstat_value holds the attestation; verstat is ignored */
	pb_screen_verstat verstat_value;
} pb_screen_call;

/* Version 1 (without number and verstat_value) is still accepted. */
#define PB_SCREEN_CALL_VERSION 2u
#define PB_SCREEN_CALL_INIT { PB_SCREEN_CALL_VERSION, NULL, NULL, NULL, NULL, false, NULL, 0, -1, \
			      NULL, false, PB_VERSTAT_NONE }

/**
 * Store lookups the policy makes, so that it needs no store: the daemon
 * wires them to pb_store, tests to arrays. Each takes the caller in E.164.
 * A callback may be NULL (treated as "no"/0). A negative return is an error:
 * the policy then fails with that code.
 */
typedef struct pb_screen_lookups {
	int (*is_allowed)(const char *e164, void *userdata);   /**< 1 yes, 0 no */
	int (*is_denied)(const char *e164, void *userdata);    /**< 1 yes, 0 no */
	/** failed challenges from @p e164 since @p since (unix seconds) */
	int (*recent_failures)(const char *e164, int64_t since, void *userdata);
	void *userdata;
} pb_screen_lookups;

/** The policy's answer. Self-contained: holds copies, no pointers into the call. */
typedef struct pb_screen_decision {
	pb_screen_verdict verdict;
	int sip_status;            /**< for PB_SCREEN_REJECT: e.g. 603, 403, 433, 486 */
	char caller[40];           /**< normalised caller (E.164, short digits) or "" */
	pb_screen_number_kind kind;/**< what the caller identity was */
	pb_screen_verstat verstat; /**< attestation seen */
	char challenge[32];        /**< for PB_SCREEN_CHALLENGE: the challenge name */
	char params[256];          /**< its parameters, "key=value key=value" */
	const char *rule;          /**< static: which rule decided, e.g. "deny-list" */
} pb_screen_decision;

/** Opaque policy (rules plus numbering plan). */
typedef struct pb_screen_policy pb_screen_policy;

/**
 * Make a policy with the default rules:
 * short numbers accepted; deny list rejected (603); allow list accepted
 * (unless the attestation failed: then challenged); anonymous callers
 * challenged; TN-Validation-Failed challenged; 3 failures in 24 h rejected
 * (603); everyone else challenged with "press-digit" "digit=6".
 *
 * @param out receives the new policy (pb_screen_policy_free())
 * @return 0 or PB_ENOMEM
 */
PB_API int pb_screen_policy_new(pb_screen_policy **out);

/** Free a policy. NULL is fine. */
PB_API void pb_screen_policy_free(pb_screen_policy *policy);

/**
 * Set one rule from configuration text. Keys and values (docs/screen.md):
 *
 *   region=US (any region pb_phone_normalize() knows)  short-max=6
 *   anonymous=challenge|reject|accept      anonymous-status=433
 *   attestation-failed=challenge|reject|ignore   attestation-failed-status=608
 *   trust-allow-list-on-failed=yes|no
 *   short-numbers=accept|ignore
 *   deny-status=603
 *   max-failures=3  failure-window=86400  failures-status=603
 *   quiet-hours=22:00-07:00|off  quiet-action=reject|challenge  quiet-status=480
 *   own-numbers=+15550100000,+15550100001  not-ours-status=404
 *   own-domains=screen.example.org,192.0.2.10,[2001:db8::1]
 *   unsigned=reject|challenge|ignore  unsigned-status=428
 *   challenge=press-digit  challenge-params="digit=6 tries=3"
 *   anonymous-challenge=random-code  anonymous-challenge-params=digits=4
 *
 * Deprecated since 0.2, removed in 1.0 (numbering version 1), still
 * accepted with a warning logged in the "screen" domain: country-code=N
 * sets the first region with that calling code (1 -> US, 44 -> GB;
 * PB_EINVAL naming "region" when no region of the table has it);
 * international-prefix, national-prefix and national-length are checked as
 * before and ignored, the region bringing its own.
 *
 * @param key, value borrowed
 * @return 0; PB_ENOTFOUND for an unknown key, PB_EINVAL for a bad value
 *         (the message names the key and what was expected)
 */
PB_API int pb_screen_policy_set(pb_screen_policy *policy, const char *key, const char *value);

/**
 * Set several keys from one line of text, "key=value; key=value" (a
 * number's policy in the store's per-number settings, docs/cluster.md):
 * pairs separated by ';', blanks around keys and values dropped, empty pairs
 * skipped; each pair goes to pb_screen_policy_set() in order. Values cannot
 * hold ';'.
 *
 * @param text borrowed; NULL or "" sets nothing
 * @return 0; the first bad pair's error (PB_EINVAL: no '=', no key, longer
 *         than 511 bytes; or what pb_screen_policy_set() returns), with its
 *         offset or its key in the message. The pairs before it are set.
 */
PB_API int pb_screen_policy_apply(pb_screen_policy *policy, const char *text);

/** The policy's numbering plan. @return borrowed; valid as long as @p policy */
PB_API const pb_screen_numbering *pb_screen_policy_numbering(const pb_screen_policy *policy);

/**
 * Decide what to do with a call. Rules in order: Request-URI host not one
 * of ours (when own-domains is set; call->called is the Request-URI),
 * called number not one of ours (when own-numbers is set), short/internal bypass, deny list,
 * attestation failed (before the allow list: a failed validation means the
 * number may be spoofed), allow list, anonymous, unsigned (no Identity
 * header and no verstat; off by default), recent failures, quiet hours,
 * default challenge.
 *
 * @param call     borrowed
 * @param lookups  borrowed; may be NULL (no lists)
 * @param out      filled in
 * @return 0, PB_EINVAL, or the negative code a lookup returned
 */
PB_API int pb_screen_policy_decide(const pb_screen_policy *policy, const pb_screen_call *call,
				   const pb_screen_lookups *lookups, pb_screen_decision *out);

/** Name of a verdict: "accept", "reject", "challenge". @return static */
PB_API const char *pb_screen_verdict_name(pb_screen_verdict v);

/* --- challenge registry --------------------------------------------------------- */

struct pb_challenge_ops; /* phonebridge/sys/challenge.h */

/** Opaque registry: built-in challenges plus the ones the program registers. */
typedef struct pb_screen_registry pb_screen_registry;

/**
 * Make a registry holding the built-in challenges: "press-digit",
 * "random-code", "arithmetic", "ring-delay", "chain".
 * @param out receives the new registry (pb_screen_registry_free())
 * @return 0 or PB_ENOMEM
 */
PB_API int pb_screen_registry_new(pb_screen_registry **out);

/** Free a registry. Sessions made from it must be freed first. NULL is fine. */
PB_API void pb_screen_registry_free(pb_screen_registry *reg);

/**
 * Add a challenge implementation.
 *
 * @param ops borrowed: must stay valid (usually static) as long as @p reg
 * @return 0; PB_EINVAL for an ops version this library does not know (the
 *         one policy of versioned structs), a missing name or required
 *         function; PB_EEXISTS when
 *         the name is taken (built-ins included); PB_ENOMEM
 */
PB_API int pb_screen_registry_add(pb_screen_registry *reg, const struct pb_challenge_ops *ops);

/**
 * Look a challenge up by name.
 * @return borrowed (as registered), or NULL with PB_ENOTFOUND raised
 */
PB_API const struct pb_challenge_ops *pb_screen_registry_find(const pb_screen_registry *reg,
							     const char *name);

/**
 * Check that @p name exists and accepts @p params (e.g. "digit=6 tries=3"),
 * by creating and destroying one instance: for checking configuration at
 * start-up rather than on the first call.
 * @return 0; PB_ENOTFOUND; PB_EINVAL with a message naming the bad parameter
 */
PB_API int pb_screen_registry_check(const pb_screen_registry *reg, const char *name,
				    const char *params);

/* --- sessions ------------------------------------------------------------------- */

/** How a session ended. */
typedef enum pb_screen_outcome {
	PB_SCREEN_PASSED = 0,   /**< the caller passed: forward the call */
	PB_SCREEN_FAILED,       /**< the caller failed: hang up (a goodbye was played) */
	PB_SCREEN_HUNG_UP,      /**< the caller hung up before the end */
	PB_SCREEN_TIMED_OUT,    /**< the session's time limit passed */
	PB_SCREEN_ERROR,        /**< the challenge failed internally (see message) */
} pb_screen_outcome;

/** Name of an outcome: "passed", "failed", "hung-up", "timed-out", "error". @return static */
PB_API const char *pb_screen_outcome_name(pb_screen_outcome o);

/** The end of a session, as handed to the host's finish(). */
typedef struct pb_screen_result {
	pb_screen_outcome outcome;
	bool answered;             /**< the call was answered: forward by REFER/bridge, not 302 */
	const char *challenge;     /**< name of the challenge; borrowed from the session */
	const char *reason;        /**< short text, e.g. "wrong digits"; borrowed from the session */
	union {
		int64_t duration_ms;       /**< from start to end */
		/** The old name of duration_ms (the same member): deprecated since 0.2, removed in 1.0. */
		PB_DEPRECATED int64_t duration;
	};
} pb_screen_result;

/** Opaque screening session: one per challenged call. */
typedef struct pb_screen_session pb_screen_session;

/**
 * What a session asks its host to do. Every function is called from inside
 * a pb_screen_session_*() call, on the host's thread; none may call back into
 * the same session except the getters. All are required unless marked.
 */
typedef struct pb_screen_host_ops {
	unsigned version; /**< PB_SCREEN_HOST_OPS_VERSION */
	/** Start ringing (180 Ringing) if not yet; the session may ring for a while. */
	void (*ring)(void *userdata);
	/** Answer the call (200 OK with SDP) and start media. */
	void (*answer)(void *userdata);
	/**
	 * Append prompts to the playout queue, by name in the prompt set
	 * (docs/screen.md lists the names: "press", "digit-6", ...). @p names
	 * is borrowed for the call only. When the queue has played out the host
	 * calls pb_screen_session_prompt_done().
	 */
	void (*play)(const char *const *names, size_t n, void *userdata);
	/** Flush the playout queue (the caller pressed a key). No prompt_done is needed. */
	void (*stop_playing)(void *userdata);
	/**
	 * Arm the session's single timer for time @p at (ms, host clock),
	 * replacing any earlier one; -1 disarms it. When it fires, the host
	 * calls pb_screen_session_timer(). Firing early or twice is harmless.
	 */
	void (*set_timer)(int64_t at, void *userdata);
	/**
	 * The session is over: forward the call (PASSED), or hang up. Called
	 * exactly once; the host may free the session after this returns, but
	 * not from inside this callback.
	 */
	void (*finish)(const pb_screen_result *result, void *userdata);
} pb_screen_host_ops;

#define PB_SCREEN_HOST_OPS_VERSION 1u

/** Random bytes for codes and operands; returns 0 or a negative code. */
typedef int (*pb_screen_random_cb)(void *buf, size_t len, void *userdata);

/** Session options. */
typedef struct pb_screen_session_options {
	unsigned version;            /**< PB_SCREEN_SESSION_OPTIONS_VERSION */
	/** Deprecated since 0.2, removed in 1.0: max_duration_ms (read when
	 *  that is 0). ms; 0 = none. (Not marked PB_DEPRECATED: the _INIT
	 *  macro sets it by position.) */
	int64_t max_duration;
	bool goodbye;                /**< play "goodbye" before hanging up on failure */
	pb_screen_random_cb random;  /**< NULL: getrandom(2), the kernel CSPRNG */
	void *random_userdata;
	/* --- version 2 --- */
	/** The session fails with TIMED_OUT after this; PB_WAIT_FOREVER = no
	 *  limit; 0 = max_duration, which PB_SCREEN_SESSION_OPTIONS_INIT sets
	 *  to 90000. Otherwise at most INT_MAX. */
	unsigned max_duration_ms;
} pb_screen_session_options;

/* Version 1 (max_duration only, an int64_t) is still accepted. */
#define PB_SCREEN_SESSION_OPTIONS_VERSION 2u
#define PB_SCREEN_SESSION_OPTIONS_INIT { PB_SCREEN_SESSION_OPTIONS_VERSION, 90000, true, NULL, NULL, 0 }

/**
 * Make a session running challenge @p name with @p params. Nothing happens
 * until pb_screen_session_start().
 *
 * @param out     receives the new session (pb_screen_session_free())
 * @param reg     borrowed: must outlive the session
 * @param name, params borrowed (params may be NULL or "")
 * @param host    borrowed: must outlive the session
 * @param userdata passed to every host function
 * @param opts    copied; NULL for defaults
 * @return 0; PB_ENOTFOUND (no such challenge); PB_EINVAL (bad parameter); PB_ENOMEM
 */
PB_API int pb_screen_session_new(pb_screen_session **out, const pb_screen_registry *reg,
				 const char *name, const char *params,
				 const pb_screen_host_ops *host, void *userdata,
				 const pb_screen_session_options *opts);

/** Free a session (not from inside its host callbacks). NULL is fine. */
PB_API void pb_screen_session_free(pb_screen_session *s);

/**
 * Events from the host. Each takes the current time @p now (ms). They
 * return 0, or PB_ESTATE after the session finished (the event is ignored).
 * Any host function may be called from inside them, finish() included.
 */
PB_API int pb_screen_session_start(pb_screen_session *s, int64_t now);
/** A DTMF digit arrived (RFC 4733, SIP INFO or in-band): 0-9, *, #, A-D. */
PB_API int pb_screen_session_dtmf(pb_screen_session *s, char digit, int64_t now);
/** The timer armed through set_timer() fired (or may have). */
PB_API int pb_screen_session_timer(pb_screen_session *s, int64_t now);
/** The playout queue ran empty. */
PB_API int pb_screen_session_prompt_done(pb_screen_session *s, int64_t now);
/** The caller hung up (BYE or CANCEL). Ends the session as HUNG_UP. */
PB_API int pb_screen_session_hangup(pb_screen_session *s, int64_t now);

/** True once finish() was called. */
PB_API bool pb_screen_session_finished(const pb_screen_session *s);

/** The result, once finished. @return borrowed (valid as long as @p s), or NULL before */
PB_API const pb_screen_result *pb_screen_session_result(const pb_screen_session *s);

/** The session's challenge name. @return borrowed; valid as long as @p s */
PB_API const char *pb_screen_session_challenge(const pb_screen_session *s);

PB_END_DECLS

#endif
