/*
 * A challenge module for the tests (t-screend-plugin.pl): "press-nine"
 * passes a caller who presses 9. Built like any outside module: the public
 * headers only, entry point from PB_CHALLENGE_MODULE_EXPORT(). With
 * -DPLUGIN_ABI=N it claims another module ABI, which pb-screend must refuse.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdint.h>
#include <string.h>

#include <phonebridge/sys/challenge.h>

static int create(void **state, const pb_challenge_config *config, void *userdata)
{
	static const char *const keys[] = { "timeout", NULL };
	long timeout = 8000;
	int rc = pb_challenge_config_check(config, keys);
	if (rc == 0)
		rc = pb_challenge_config_int(config, "timeout", 8000, 1000, 60000, &timeout);
	*state = (void *)(intptr_t)timeout;
	return rc;
}

static int start(void *state, pb_challenge_ctx *ctx)
{
	static const char *const p[] = { "press", "digit-9", "to-continue" };
	pb_challenge_answer(ctx);
	pb_challenge_play(ctx, p, 3);
	return pb_challenge_collect(ctx, 1, (unsigned)(intptr_t)state);
}

static int on_input(void *state, pb_challenge_ctx *ctx, const char *digits, bool timed_out)
{
	return !timed_out && strcmp(digits, "9") == 0 ? pb_challenge_pass(ctx)
						      : pb_challenge_fail(ctx, "not nine");
}

static void destroy(void *state, void *userdata) {}

static const pb_challenge_ops press_nine = {
	PB_CHALLENGE_OPS_VERSION, "press-nine", "press 9 to get through", create, start, NULL,
	on_input, NULL, NULL, NULL, destroy, NULL,
};

#ifdef PLUGIN_ABI
__attribute__((visibility("default")))
const pb_challenge_module pb_challenge_module_entry = { PLUGIN_ABI, &press_nine };
#else
PB_CHALLENGE_MODULE_EXPORT(press_nine);
#endif
