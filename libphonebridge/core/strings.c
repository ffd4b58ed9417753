/*
 * libphonebridge — small string helpers for the library's own use.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "core/internal.h"

size_t pb_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);
	if (size) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int pb_ascii_ncasecmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ca = ascii_lower((unsigned char)a[i]);
		int cb = ascii_lower((unsigned char)b[i]);
		if (ca != cb || ca == 0)
			return ca - cb;
	}
	return 0;
}

int pb_ascii_casecmp(const char *a, const char *b)
{
	return pb_ascii_ncasecmp(a, b, SIZE_MAX);
}
