/*
 * libphonebridge — core: random bytes (getrandom(2)) and FNV-1a.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "core/internal.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <phonebridge/random.h>

PB_API int pb_random_bytes(void *buf, size_t len)
{
	if (!buf && len)
		return pb_error_set(PB_EINVAL, "pb_random_bytes: NULL buffer");
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return pb_error_set(PB_EIO, "getrandom: %s", n < 0 ? strerror(errno) : "no bytes");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

PB_API uint64_t pb_fnv1a64(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ull; /* the 64-bit FNV prime */
	}
	return h;
}
