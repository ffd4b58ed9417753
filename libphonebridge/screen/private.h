/*
 * libphonebridge — screen module internals. Not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_SCREEN_PRIVATE_H
#define PB_SCREEN_PRIVATE_H

#include <phonebridge/screen.h>
#include <phonebridge/sys/challenge.h>

#include "core/internal.h"

#define PB_SCREEN_MAX_PARAMS 32
#define PB_SCREEN_MAX_DIGITS 32
#define PB_SCREEN_NAME_MAX 32

struct pb_challenge_config {
	char name[PB_SCREEN_NAME_MAX];
	size_t n;
	char *keys[PB_SCREEN_MAX_PARAMS];
	char *values[PB_SCREEN_MAX_PARAMS];
	char *text; /* one allocation holding every key and value */
	const pb_screen_registry *reg;
};

/*
 * What a challenge talks to. The session's own ctx ends the session on
 * pass/fail; a chain gives each step a ctx whose @done routes the end of
 * the step back to the chain.
 */
struct pb_challenge_ctx {
	pb_screen_session *s;
	void (*done)(void *owner, bool passed, const char *reason);
	void *owner;
};

/* config.c */
int pb_screen__config_parse(pb_challenge_config *cfg, const char *name, const char *params,
			    const pb_screen_registry *reg);
void pb_screen__config_dispose(pb_challenge_config *cfg);
/* Make an instance of @ops from @params text (create() with parsed config). */
int pb_screen__instance_new(void **state, const pb_challenge_ops *ops, const char *params,
			    const pb_screen_registry *reg);

/* challenges.c: the built-in ops tables, NULL-terminated. */
extern const pb_challenge_ops *const pb_screen__builtins[];


/* session.c: forget a step's timer and collect when a chain moves on. */
void pb_screen__ctx_reset(pb_challenge_ctx *ctx);

#endif
