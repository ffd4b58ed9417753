/*
 * libphonebridge — several policy keys from one line of text: the policy
 * of one number in the store's per-number settings (docs/cluster.md).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "core/internal.h"

#include <phonebridge/screen.h>

#define PAIR_MAX 512

static void trim(char **s, char *end)
{
	*s += strspn(*s, " \t");
	while (end > *s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
}

PB_API int pb_screen_policy_apply(pb_screen_policy *policy, const char *text)
{
	if (policy == NULL)
		return pb_error_set(PB_EINVAL, "pb_screen_policy_apply: NULL policy");
	char pair[PAIR_MAX];
	size_t at = 0;
	for (const char *t = text; t && *t;) {
		size_t n = strcspn(t, ";");
		if (n >= sizeof(pair))
			return pb_error_set(PB_EINVAL, "policy text: the pair at offset %zu is longer than %d bytes",
					    at, PAIR_MAX - 1);
		memcpy(pair, t, n);
		pair[n] = '\0';
		char *k = pair, *eq = strchr(pair, '=');
		if (eq == NULL) {
			trim(&k, pair + n);
			if (*k == '\0') { /* an empty pair ("a=1;;b=2", a trailing ';') */
				t += n + (t[n] == ';');
				at += n + 1;
				continue;
			}
			return pb_error_set(PB_EINVAL, "policy text: '%s' at offset %zu: expected key=value", k, at);
		}
		char *v = eq + 1;
		trim(&k, eq);
		trim(&v, pair + n);
		if (*k == '\0')
			return pb_error_set(PB_EINVAL, "policy text: no key before '=' at offset %zu", at);
		int rc = pb_screen_policy_set(policy, k, v);
		if (rc < 0)
			return pb_error_set(rc, "policy %s=%s: %s", k, v, pb_error_last()->message);
		t += n + (t[n] == ';');
		at += n + 1;
	}
	return 0;
}
