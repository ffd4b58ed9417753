/*
 * libphonebridge — the modem backend interface, for people who write one.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A backend is a const table of functions registered by name. The library's
 * own ("hilink", "at", "smseagle") are built in; a program adds its own with
 * pb_modem_backend_register() before opening:
 *
 *     static const pb_modem_backend_ops my_ops = {
 *         .version = PB_MODEM_BACKEND_OPS_VERSION, .name = "mybox",
 *         .open = my_open, .close = my_close, .list = my_list, ...
 *     };
 *     pb_modem_backend_register(&my_ops);
 *
 * Every function gets the backend's own state (what open() returned) first.
 * Functions return 0 or a negative PB_E* code with the message set through
 * pb_error_set(). A NULL entry means "not supported": the front end answers
 * PB_EUNSUPPORTED for it.
 */
#ifndef PHONEBRIDGE_SYS_MODEM_BACKEND_H
#define PHONEBRIDGE_SYS_MODEM_BACKEND_H

#include <phonebridge/modem.h>

PB_BEGIN_DECLS

/** Credentials the front end read from the files named in the options. */
typedef struct pb_modem_secrets {
	const char *password; /**< borrowed during open(); NULL when no file was given */
	const char *token;    /**< borrowed during open(); NULL when no file was given */
} pb_modem_secrets;

#define PB_MODEM_BACKEND_OPS_VERSION 1u
/** Deprecated spelling of PB_MODEM_BACKEND_OPS_VERSION (since 0.2, removed in 1.0). */
#define PB_MODEM_BACKEND_VERSION PB_MODEM_BACKEND_OPS_VERSION

/** The functions of a backend. */
typedef struct pb_modem_backend_ops {
	unsigned version; /**< PB_MODEM_BACKEND_OPS_VERSION */
	const char *name; /**< registration name; static */

	/** Connect. @param state receives the backend's state (new, freed by close()).
	 *  @param opts, sec borrowed during the call: copy what is kept. */
	int (*open)(void **state, const pb_modem_options *opts, const pb_modem_secrets *sec);
	/** Disconnect and free the state. */
	void (*close)(void *state);

	/** Fill @p st (the front end set every field to "unknown" first). */
	int (*status)(void *state, pb_modem_status *st);
	/** Append the entries of @p box to @p out (pb_modem_msg_list_add()). */
	int (*list)(void *state, int box, pb_modem_msg_list *out);
	/** Read one entry into @p out (owned fields; pb_modem_msg_copy() helps). May be
	 *  NULL: the front end then lists the inbox and picks the entry. */
	int (*read)(void *state, const char *id, pb_modem_msg *out);
	int (*remove)(void *state, const char *id);
	int (*mark_read)(void *state, const char *id);
	/** Send. A failure must say what it left behind (pb_modem_send_fate() in
	 *  modem.h): PB_ETIMEOUT once the request may have reached the box
	 *  without an answer; PB_EPROTO (or another "refused" code) when the box
	 *  refused the message; any other code only when nothing can have left. */
	int (*send_text)(void *state, const char *number, const char *text, unsigned flags, int *ref);
	int (*send_pdu)(void *state, const uint8_t *tpdu, size_t len, int *ref);

	/**
	 * Wait up to @p timeout_ms for a sign that the inbox changed (the front
	 * end passes short slices, a few hundred ms, so that a stop is seen).
	 * Messages the box pushes without storing them (AT +CMT/+CDS, a webhook)
	 * are appended to @p pushed. May be NULL: the front end then polls.
	 * @return 1 when the inbox may have changed (list it again), 0 when
	 *         the time passed, or a negative code (the front end reports it
	 *         and calls again later)
	 */
	int (*wait)(void *state, unsigned timeout_ms, pb_modem_msg_list *pushed);
	/**
	 * A cheap check whether the inbox changed since the last call (HiLink
	 * sms-count). @return 1 changed (or cannot tell), 0 unchanged. May be NULL.
	 */
	int (*changed)(void *state);

	int (*forward_query)(void *state, pb_modem_fwd_reason reason, pb_modem_forward *out);
	int (*forward_set)(void *state, pb_modem_fwd_reason reason, const char *number, int no_reply_s);
	int (*ussd)(void *state, const char *code, char **reply);
} pb_modem_backend_ops;

/**
 * Register a backend by its name, for pb_modem_open().
 *
 * Call at start, before other threads open modems. A name already in use
 * (built-in or registered) is refused.
 *
 * @param ops borrowed for the life of the process (a static const table)
 * @return 0, PB_EEXISTS, PB_EINVAL (NULL, no name, wrong version, no open/close/list)
 *         or PB_ETOOBIG (too many backends)
 */
PB_API int pb_modem_backend_register(const pb_modem_backend_ops *ops);

PB_END_DECLS

#endif
