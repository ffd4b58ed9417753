/*
 * libphonebridge — the arena every decoded WAP/MMS object owns.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdalign.h>
#include <string.h>

#include "wap/wap-internal.h"

#define ALIGN ((size_t)alignof(max_align_t))
#define ROUND(n) (((n) + ALIGN - 1) & ~(ALIGN - 1))
#define CHUNK_HDR ROUND(sizeof(pb_wap__chunk))

static inline uint8_t *chunk_data(pb_wap__chunk *c) { return (uint8_t *)c + CHUNK_HDR; }

void *pb_wap__arena_object(size_t obj_size, size_t chunk, pb_wap__arena **arena)
{
	size_t obj = ROUND(obj_size), ar = ROUND(sizeof(pb_wap__arena));
	uint8_t *mem = pb_malloc(obj + ar + CHUNK_HDR + chunk);
	if (!mem)
		return NULL;
	memset(mem, 0, obj + ar + CHUNK_HDR);
	pb_wap__arena *a = (pb_wap__arena *)(mem + obj);
	pb_wap__chunk *c = (pb_wap__chunk *)(mem + obj + ar);
	c->cap = chunk;
	a->head = c;
	*arena = a;
	return mem;
}

void pb_wap__arena_release(pb_wap__arena *a)
{
	if (!a)
		return;
	pb_wap__chunk *c = a->extra;
	while (c) {
		pb_wap__chunk *next = c->next;
		pb_free(c);
		c = next;
	}
	a->extra = NULL;
}

void *pb_wap__alloc(pb_wap__arena *a, size_t n)
{
	n = n ? ROUND(n) : ALIGN;
	pb_wap__chunk *c = a->head;
	if (c->cap - c->used < n) {
		size_t cap = PB_MAX(c->cap * 2, n);
		if (cap > ((size_t)1 << 24) && n < ((size_t)1 << 24))
			cap = PB_MAX((size_t)1 << 24, n);
		size_t total;
		if (pb_add_overflow(cap, CHUNK_HDR, &total)) {
			pb_error__oom();
			return NULL;
		}
		pb_wap__chunk *nc = pb_malloc(total);
		if (!nc)
			return NULL;
		nc->cap = cap;
		nc->used = 0;
		nc->next = a->extra;
		a->extra = nc;
		a->head = nc;
		c = nc;
	}
	void *p = chunk_data(c) + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *pb_wap__strndup(pb_wap__arena *a, const void *s, size_t n)
{
	size_t total;
	if (pb_add_overflow(n, (size_t)1, &total)) {
		pb_error__oom();
		return NULL;
	}
	char *d = pb_wap__alloc(a, total);
	if (!d)
		return NULL;
	if (n)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

int pb_wap__grow(pb_wap__arena *a, void **arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 4, bytes;
	if (pb_mul_overflow(ncap, size, &bytes))
		return pb_error__oom();
	void *na = pb_wap__alloc(a, bytes);
	if (!na)
		return PB_ENOMEM;
	if (n)
		memcpy(na, *arr, n * size);
	*arr = na;
	*cap = ncap;
	return 0;
}

void pb_wap__object_free(void *obj, size_t obj_size)
{
	if (!obj)
		return;
	pb_wap__arena_release((pb_wap__arena *)((uint8_t *)obj + ROUND(obj_size)));
	pb_free(obj);
}
