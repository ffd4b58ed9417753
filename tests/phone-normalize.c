/*
 * libphonebridge tests — pb_phone_normalize() as a filter, for the
 * python3-phonenumbers oracle (tests/phone-oracle.py).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Reads lines "REGION<TAB>NUMBER" on stdin and writes one line per input:
 * the kind ("e164", "short", "alnum"), a tab and the normalised number; or
 * "!" and the error name (e.g. "!PB_ERANGE").
 */
#include <stdio.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

int main(void)
{
	char line[512];
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		char *tab = strchr(line, '\t');
		if (tab == NULL) {
			puts("!bad-input-line");
			continue;
		}
		*tab = '\0';
		char out[PB_PHONE_MAX + 512];
		pb_phone_kind kind;
		int rc = pb_phone_normalize(out, sizeof(out), tab + 1, line, &kind);
		if (rc < 0)
			printf("!%s\n", pb_error_name(rc));
		else
			printf("%s\t%s\n", kind == PB_PHONE_E164 ? "e164" : kind == PB_PHONE_SHORT ? "short" : "alnum", out);
	}
	return 0;
}
