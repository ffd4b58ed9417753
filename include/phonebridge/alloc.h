/*
 * libphonebridge — memory allocation hooks.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every allocation the library makes itself goes through these functions, so
 * a program (or a test) can route them to its own allocator, count them, or
 * make the Nth one fail. Memory the library hands to the caller ("new" in a
 * function's documentation) is released with pb_free() unless the function
 * names a specific destructor.
 *
 * Allocations made inside other libraries (libcurl, SQLite, libxml2, ...) use
 * those libraries' own allocators and are not routed here.
 */
#ifndef PHONEBRIDGE_ALLOC_H
#define PHONEBRIDGE_ALLOC_H

#include <phonebridge/common.h>

PB_BEGIN_DECLS

/** An allocator. All three functions must be set. */
typedef struct pb_allocator {
	/** like malloc(size); size is never 0 */
	void *(*malloc)(size_t size, void *userdata);
	/** like realloc(ptr, size); ptr may be NULL, size is never 0 */
	void *(*realloc)(void *ptr, size_t size, void *userdata);
	/** like free(ptr); ptr is never NULL */
	void (*free)(void *ptr, void *userdata);
	void *userdata;
} pb_allocator;

/**
 * Route the library's allocations through @p allocator.
 *
 * Call it once at start, before any other library call and before other
 * threads run: memory allocated with one allocator must not be freed with
 * another.
 *
 * @param allocator copied; NULL restores the C library's malloc/realloc/free
 * @return 0, or PB_EINVAL if a function pointer is missing
 */
PB_API int pb_set_allocator(const pb_allocator *allocator);

/** Allocate @p size bytes. @return new (pb_free()), or NULL with PB_ENOMEM raised */
PB_API void *pb_malloc(size_t size);

/** Allocate @p n * @p size zeroed bytes, checking the product for overflow.
 *  @return new (pb_free()), or NULL with PB_ENOMEM raised */
PB_API void *pb_calloc(size_t n, size_t size);

/** Resize @p ptr (which may be NULL). On failure @p ptr is left untouched.
 *  @return new (pb_free()), or NULL with PB_ENOMEM raised */
PB_API void *pb_realloc(void *ptr, size_t size);

/** Release memory from the functions above, or "new" memory the library
 *  returned. NULL is ignored. */
PB_API void pb_free(void *ptr);

/** Copy a NUL-terminated string. @return new (pb_free()), or NULL with
 *  PB_ENOMEM raised (or PB_EINVAL when @p s is NULL) */
PB_API char *pb_strdup(const char *s);

/** Copy at most @p n bytes of @p s and add a NUL. @return new (pb_free()),
 *  or NULL with PB_ENOMEM raised */
PB_API char *pb_strndup(const char *s, size_t n);

PB_END_DECLS

#endif
