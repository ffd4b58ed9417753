/*
 * libphonebridge — writing a call-screening challenge.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A challenge is a small state machine with no I/O. The session calls its
 * ops on events; the challenge answers through the pb_challenge_ctx it is
 * given (ring, answer, play, collect digits, pass, fail). One instance
 * serves one call. Register an ops table with pb_screen_registry_add().
 *
 *     static int start(void *st, pb_challenge_ctx *ctx)
 *     {
 *         static const char *const p[] = { "press", "digit-6", "to-continue" };
 *         pb_challenge_answer(ctx);
 *         pb_challenge_play(ctx, p, 3);
 *         return pb_challenge_collect(ctx, 1, 8000);
 *     }
 *     static int on_input(void *st, pb_challenge_ctx *ctx, const char *d, bool timed_out)
 *     {
 *         return strcmp(d, "6") == 0 ? pb_challenge_pass(ctx) : pb_challenge_fail(ctx, "wrong digit");
 *     }
 *
 * A function that returns an error code ends the session with
 * PB_SCREEN_ERROR and pb_error_last()'s message as the reason.
 */
#ifndef PHONEBRIDGE_SYS_CHALLENGE_H
#define PHONEBRIDGE_SYS_CHALLENGE_H

#include <stdbool.h>

#include <phonebridge/common.h>
#include <phonebridge/screen.h>

PB_BEGIN_DECLS

/** The ops version this header describes. Tables of another version are refused. */
#define PB_CHALLENGE_OPS_VERSION 1u

/** What the session offers a running challenge. Opaque. */
typedef struct pb_challenge_ctx pb_challenge_ctx;

/** Parameters of a challenge ("digit=6 tries=3"), parsed. Opaque. */
typedef struct pb_challenge_config pb_challenge_config;

/**
 * A challenge implementation. Ops other than name, create, start and
 * destroy may be NULL (the event is then ignored). Every @p state is what
 * create() made.
 */
typedef struct pb_challenge_ops {
	unsigned version;       /**< PB_CHALLENGE_OPS_VERSION */
	const char *name;       /**< registry key, e.g. "press-digit"; [a-z0-9-]+ */
	const char *summary;    /**< one line for people */
	/**
	 * Parse @p config into a new instance. Reject unknown keys and bad
	 * values with PB_EINVAL and a message that names them
	 * (pb_challenge_config_check() helps).
	 */
	int (*create)(void **state, const pb_challenge_config *config, void *userdata);
	/** The call has been offered to the challenge: ring or answer, play, collect. */
	int (*start)(void *state, pb_challenge_ctx *ctx);
	/** A digit, when no pb_challenge_collect() is running. */
	int (*on_dtmf)(void *state, pb_challenge_ctx *ctx, char digit);
	/**
	 * A pb_challenge_collect() ended: @p digits (borrowed, NUL-terminated)
	 * holds what was collected; @p timed_out when fewer than asked came in time.
	 */
	int (*on_input)(void *state, pb_challenge_ctx *ctx, const char *digits, bool timed_out);
	/** The timer from pb_challenge_set_timer() or pb_challenge_ring() expired. */
	int (*on_timer)(void *state, pb_challenge_ctx *ctx);
	/** The playout queue ran empty. */
	int (*on_prompt_done)(void *state, pb_challenge_ctx *ctx);
	/** The caller hung up; the session ends as HUNG_UP after this. No actions allowed. */
	void (*on_hangup)(void *state, pb_challenge_ctx *ctx);
	/** Free the instance. */
	void (*destroy)(void *state, void *userdata);
	/** Passed to create() and destroy(): lets one ops table serve many
	 *  challenges (the Python bindings use it). */
	void *userdata;
} pb_challenge_ops;

/* --- challenge modules: a challenge in a shared object ------------------------- */

/** The module ABI this header describes (pb_challenge_module.abi). */
#define PB_CHALLENGE_MODULE_ABI 1

/**
 * What a challenge module exports, under the symbol name
 * "pb_challenge_module_entry", for pb_screener_load_challenge() (pb-screend's
 * "[challenge NAME] module = /path/x.so"). Define it with
 * PB_CHALLENGE_MODULE_EXPORT(my_ops) in the module's source; a module whose
 * abi differs from the loading library's PB_CHALLENGE_MODULE_ABI is refused.
 * docs/screen.md ("Challenge modules") shows how to build one with pkg-config.
 */
typedef struct pb_challenge_module {
	int abi;                       /**< PB_CHALLENGE_MODULE_ABI */
	const pb_challenge_ops *ops;   /**< the challenge (static); ops->name is its name */
} pb_challenge_module;

#ifdef __cplusplus
#define PB_CHALLENGE_MODULE_LINKAGE_ extern "C"
#else
#define PB_CHALLENGE_MODULE_LINKAGE_
#endif
/** Define the module's entry point for the static ops table @p ops. */
#define PB_CHALLENGE_MODULE_EXPORT(ops)                                            \
	PB_CHALLENGE_MODULE_LINKAGE_ __attribute__((visibility("default")))        \
	const pb_challenge_module pb_challenge_module_entry = { PB_CHALLENGE_MODULE_ABI, &(ops) }

/* --- actions: call them from the ops above, with the ctx you were given --- */

/**
 * Ring for @p ms without answering (180 Ringing); on_timer() follows (it
 * replaces any timer; 0 = at once).
 * @return 0; PB_EINVAL for @p ms above INT_MAX (a C caller's -1);
 *         PB_ESTATE outside a running session
 */
PB_API int pb_challenge_ring_ms(pb_challenge_ctx *ctx, unsigned ms);

/**
 * Deprecated since 0.2, removed in 1.0: pb_challenge_ring_ms(ctx, seconds *
 * 1000), every duration of the API being ms. Ring for @p seconds without
 * answering; on_timer() follows.
 * @return what pb_challenge_ring_ms() returns; PB_EINVAL for more seconds
 *         than INT_MAX ms hold
 */
PB_API int pb_challenge_ring(pb_challenge_ctx *ctx, unsigned seconds);

/** Answer the call (once; later calls do nothing). */
PB_API int pb_challenge_answer(pb_challenge_ctx *ctx);

/**
 * Queue prompts by name (answers first if needed).
 * @param names borrowed for the call only
 * @return 0, PB_EINVAL for an empty or over-long name
 */
PB_API int pb_challenge_play(pb_challenge_ctx *ctx, const char *const *names, size_t n);

/** Queue the prompts "digit-0".."digit-9", "star", "pound" for @p digits. */
PB_API int pb_challenge_say_digits(pb_challenge_ctx *ctx, const char *digits);

/**
 * Collect @p count digits (1..32). The timeout runs from the end of the
 * queued prompts (or from now if none play) and starts again at each
 * digit; digits pressed during the prompts count and stop them. on_input()
 * follows. A new collect replaces a running one.
 */
PB_API int pb_challenge_collect(pb_challenge_ctx *ctx, unsigned count, unsigned timeout_ms);

/** Call on_timer() after @p ms; 0 disarms. One timer per challenge. */
PB_API int pb_challenge_set_timer(pb_challenge_ctx *ctx, unsigned ms);

/** The caller passed. Ends the challenge: return right after. */
PB_API int pb_challenge_pass(pb_challenge_ctx *ctx);

/** The caller failed; @p reason (borrowed, static preferred) is reported. Return right after. */
PB_API int pb_challenge_fail(pb_challenge_ctx *ctx, const char *reason);

/** Fill @p buf with cryptographically random bytes (or the test's injected ones). */
PB_API int pb_challenge_random(pb_challenge_ctx *ctx, void *buf, size_t len);

/** A uniformly random number in [0, @p bound) (bound 1..65536), from pb_challenge_random(). */
PB_API int pb_challenge_random_below(pb_challenge_ctx *ctx, unsigned bound, unsigned *out);

/** The current time in ms, as the host passed it with the event. */
PB_API int64_t pb_challenge_now(const pb_challenge_ctx *ctx);

/* --- reading parameters ----------------------------------------------------- */

/** The value of @p key, or NULL. @return borrowed; valid during create() */
PB_API const char *pb_challenge_config_get(const pb_challenge_config *config, const char *key);

/**
 * An integer parameter in [@p min, @p max], or @p def when absent.
 * @return 0, or PB_EINVAL with "NAME: KEY=VALUE: ..." as the message
 */
PB_API int pb_challenge_config_int(const pb_challenge_config *config, const char *key,
				   long def, long min, long max, long *out);

/**
 * Refuse keys not in @p allowed (NULL-terminated).
 * @return 0, or PB_EINVAL naming the first unknown key and the known ones
 */
PB_API int pb_challenge_config_check(const pb_challenge_config *config, const char *const *allowed);

/** The challenge name the config is for (for messages). @return borrowed */
PB_API const char *pb_challenge_config_name(const pb_challenge_config *config);

/** Number of parameters; pb_challenge_config_key()/_value() read them by index. */
PB_API size_t pb_challenge_config_count(const pb_challenge_config *config);
/** @return borrowed, or NULL past the end */
PB_API const char *pb_challenge_config_key(const pb_challenge_config *config, size_t i);
/** @return borrowed, or NULL past the end */
PB_API const char *pb_challenge_config_value(const pb_challenge_config *config, size_t i);

PB_END_DECLS

#endif
