/*
 * libphonebridge — allocation hooks.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

static void *std_malloc(size_t size, void *ud) { PB_UNUSED(ud); return malloc(size); }
static void *std_realloc(void *p, size_t size, void *ud) { PB_UNUSED(ud); return realloc(p, size); }
static void std_free(void *p, void *ud) { PB_UNUSED(ud); free(p); }

/* Process-wide hook, set once at start (see alloc.h). */
static pb_allocator allocator = { std_malloc, std_realloc, std_free, NULL };

PB_API int pb_set_allocator(const pb_allocator *a)
{
	if (a == NULL) {
		allocator = (pb_allocator){ std_malloc, std_realloc, std_free, NULL };
		return 0;
	}
	if (!a->malloc || !a->realloc || !a->free)
		return pb_error_set(PB_EINVAL, "pb_set_allocator: malloc, realloc and free must all be set");
	allocator = *a;
	return 0;
}

PB_API void *pb_malloc(size_t size)
{
	void *p = allocator.malloc(size ? size : 1, allocator.userdata);
	if (p == NULL)
		pb_error__oom();
	return p;
}

PB_API void *pb_calloc(size_t n, size_t size)
{
	size_t total;
	if (pb_mul_overflow(n, size, &total)) {
		pb_error__oom();
		return NULL;
	}
	void *p = pb_malloc(total);
	if (p)
		memset(p, 0, total ? total : 1);
	return p;
}

PB_API void *pb_realloc(void *ptr, size_t size)
{
	void *p = allocator.realloc(ptr, size ? size : 1, allocator.userdata);
	if (p == NULL)
		pb_error__oom();
	return p;
}

PB_API void pb_free(void *ptr)
{
	if (ptr)
		allocator.free(ptr, allocator.userdata);
}

PB_API char *pb_strndup(const char *s, size_t n)
{
	if (s == NULL) {
		pb_error_set(PB_EINVAL, "pb_strndup: NULL string");
		return NULL;
	}
	size_t len = strnlen(s, n);
	char *d = pb_malloc(len + 1);
	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

PB_API char *pb_strdup(const char *s)
{
	if (s == NULL) {
		pb_error_set(PB_EINVAL, "pb_strdup: NULL string");
		return NULL;
	}
	return pb_strndup(s, strlen(s));
}
