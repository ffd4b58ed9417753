/*
 * libphonebridge — fuzz target for what the mmsc module reads from outside:
 * Content-Locations (from notifications) run through rewrite rules, and
 * MMSC answers judged as MMS PDU or error page.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Input: "RULE\nLOCATION" for the rewrite (the first byte even), or
 * "CONTENT-TYPE\nBODY" for the answer check (the first byte odd); the
 * first byte is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "mmsc/mmsc-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of @n bytes (strndup() would read the source as a
 * C string, which fuzz input is not). */
static char *copy(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		if (n)
			memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool rewrite = (data[0] & 1) == 0;
	data++;
	size--;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t first = nl ? (size_t)(nl - data) : size;
	char *head = copy(data, first);
	const uint8_t *rest = nl ? nl + 1 : data + size;
	size_t rest_len = (size_t)(data + size - rest);
	if (!head)
		return 0;
	if (rewrite) {
		char *loc = copy(rest, rest_len);
		char *out = NULL;
		if (loc && pb_mmsc_rewrite_location(head, "http://mmsc.example/mms", loc, &out) == 0 && out) {
			if (pb_ascii_ncasecmp(out, "http:", 5) != 0 && pb_ascii_ncasecmp(out, "https:", 6) != 0)
				abort(); /* only http(s) may come out */
		}
		pb_free(out);
		free(loc);
	} else {
		int rc = pb_mmsc__check_pdu("GET fuzz", 200, head, rest, rest_len);
		if (rc == 0 && (rest_len < 2 || rest[0] != 0x8C))
			abort();
		char ex[64];
		pb_mmsc__excerpt(rest, rest_len, ex, sizeof(ex));
		if (strlen(ex) >= sizeof(ex))
			abort();
	}
	free(head);
	return 0;
}
