/*
 * libphonebridge — fuzz target for the text screening takes from outside:
 * caller identities (From / P-Asserted-Identity), verstat, policy settings
 * (one pair, and "key=value; ..." lines of per-number settings) and
 * challenge parameters.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is text; the first byte picks what reads it.
 */
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const challenges[] = { "press-digit", "random-code", "arithmetic", "ring-delay", "chain" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 4096)
		return 0;
	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	char out[40];
	/* no region, or one of pb_phone_normalize()'s (NANP, a variable-length plan, BR's carrier codes) */
	static const char *const regions[] = { "US", "DE", "BR" };
	pb_screen_numbering nb = PB_SCREEN_NUMBERING_INIT;
	strcpy(nb.region, regions[(data[0] >> 1) % 3]);
	int kind = pb_screen_normalize_number(out, sizeof(out), text, (data[0] & 1) ? &nb : NULL);
	if (kind < 0 || kind > PB_SCREEN_NUMBER_UNKNOWN || strlen(out) > 16)
		abort();
	if (kind == PB_SCREEN_NUMBER_E164 && (out[0] != '+' || strspn(out + 1, "0123456789") != strlen(out) - 1))
		abort();
	char att;
	pb_screen_parse_verstat(text, &att);

	pb_screen_registry *reg;
	pb_screen_policy *pol;
	if (pb_screen_registry_new(&reg) != 0 || pb_screen_policy_new(&pol) != 0)
		abort();
	pb_screen_registry_check(reg, challenges[data[0] % 5], text);
	pb_screen_policy_apply(pol, text); /* a number's policy from the store */
	char *eq = strchr(text, '=');
	if (eq) {
		*eq = '\0';
		pb_screen_policy_set(pol, text, eq + 1);
	}
	pb_screen_call call = PB_SCREEN_CALL_INIT;
	call.from = text;
	pb_screen_decision d;
	if (pb_screen_policy_decide(pol, &call, NULL, &d) != 0)
		abort();
	pb_screen_policy_free(pol);
	pb_screen_registry_free(reg);
	free(text);
	return 0;
}
