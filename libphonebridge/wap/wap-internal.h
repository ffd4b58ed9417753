/*
 * libphonebridge — wap module internals shared by its files. Not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_WAP_INTERNAL_H
#define PB_WAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <phonebridge/mms.h>
#include <phonebridge/wap.h>

#include "core/internal.h"

/* --- arena --------------------------------------------------------------
 *
 * Everything a decoded object owns lives in one arena, freed at once. The
 * first chunk is allocated together with the object itself, so decoding a
 * notification costs one malloc and one free (the 2 M decodes/s goal).
 */
typedef struct pb_wap__chunk {
	struct pb_wap__chunk *next;
	size_t cap;
	size_t used;
	/* data follows, max_align_t aligned */
} pb_wap__chunk;

typedef struct pb_wap__arena {
	pb_wap__chunk *head;   /* chunk being filled */
	pb_wap__chunk *extra;  /* chunks allocated on their own (freed with the arena) */
} pb_wap__arena;

/* Make an object of @obj_size bytes followed by an arena whose first chunk
 * has @chunk bytes, in one allocation. Returns the zeroed object (NULL on
 * ENOMEM); *arena points inside it. */
void *pb_wap__arena_object(size_t obj_size, size_t chunk, pb_wap__arena **arena);
/* Free the arena's extra chunks (not the object holding it). */
void pb_wap__arena_release(pb_wap__arena *a);
/* Free an object from pb_wap__arena_object() with its arena. NULL is fine. */
void pb_wap__object_free(void *obj, size_t obj_size);
/* Allocate zeroed memory (NULL with PB_ENOMEM raised). */
void *pb_wap__alloc(pb_wap__arena *a, size_t n);
/* Copy @n bytes and add a NUL. */
char *pb_wap__strndup(pb_wap__arena *a, const void *s, size_t n);
/* Grow an array kept in the arena: *arr has *cap elements of @size bytes;
 * make room for one more. Returns 0 or PB_ENOMEM. */
int pb_wap__grow(pb_wap__arena *a, void **arr, size_t *cap, size_t n, size_t size);

/* --- decoding context ------------------------------------------------------ */

typedef struct pb_wap__ctx {
	pb_wap__arena *arena;
	pb_parse_error *perr;
	unsigned int flags;  /* PB_MMS_DECODE_* */
} pb_wap__ctx;

/* A cursor over the caller's input; NULL with length 0 is an empty input
 * (pointer arithmetic on NULL is undefined). */
static inline pb_cur pb_wap__cur(const uint8_t *buf, size_t len)
{
	static const uint8_t empty[1];
	return buf ? pb_cur_make(buf, len) : pb_cur_make(empty, 0);
}

/* Report a decode failure at the cursor (returns PB_EMALFORMED). */
#define pb_wap__fail(ctx, cur, ...) pb_error__parse((ctx)->perr, pb_cur_offset(cur), __VA_ARGS__)

/* --- WSP primitives (wsp.c), WAP-230-WSP §8.4 ------------------------------
 * Each returns 0, PB_EMALFORMED (cursor left at the offending byte) or
 * PB_ENOMEM. Text results are UTF-8, borrowed from the input when they were
 * well-formed there, else copied into the arena. */
int pb_wap__uintvar(pb_wap__ctx *ctx, pb_cur *c, uint32_t *v);
int pb_wap__value_length(pb_wap__ctx *ctx, pb_cur *c, pb_cur *value);
int pb_wap__long_integer(pb_wap__ctx *ctx, pb_cur *c, uint64_t *v);
int pb_wap__integer(pb_wap__ctx *ctx, pb_cur *c, uint64_t *v);
int pb_wap__text(pb_wap__ctx *ctx, pb_cur *c, const char **s);
int pb_wap__encoded_string(pb_wap__ctx *ctx, pb_cur *c, const char **s);
/* Bytes [p, p+n) of text in charset @mib (0: unknown/any) as UTF-8. */
int pb_wap__convert(pb_wap__ctx *ctx, unsigned int mib, const uint8_t *p, size_t n, const char **s);
/* The extent of one header value by its first byte (§8.4.1.2). */
int pb_wap__skip_value(pb_wap__ctx *ctx, pb_cur *c, pb_cur *value);
int pb_wap__content_type(pb_wap__ctx *ctx, pb_cur *c, pb_wsp_content_type *ct);
/* Parameters until the end of @c, appended to @ct (Content-Type, Content-Disposition). */
int pb_wap__params(pb_wap__ctx *ctx, pb_cur *c, pb_wsp_content_type *ct);
/* A WSP header list until the end of @c. */
int pb_wap__headers(pb_wap__ctx *ctx, pb_cur *c, pb_wsp_header **out, size_t *n);
/* The name of a WSP well-known header field (Table 39). */
const char *pb_wap__header_name(unsigned int field);
/* Is this a multipart content type (multipart/... or application/vnd.wap.multipart....)? */
bool pb_wap__is_multipart(const char *media_type);
/* The same for a decoded content type, by its WSP number when it has one. */
bool pb_wap__ct_is_multipart(const pb_wsp_content_type *ct);

/* Internal variant of pb_wsp_push_decode on an existing arena. */
int pb_wap__push_decode(pb_wap__ctx *ctx, pb_cur *c, pb_wsp_push *push);

/* --- encoding (wsp.c) ------------------------------------------------------ */
int pb_wap__put_value_length(pb_buf *out, size_t len);
int pb_wap__put_text(pb_buf *out, const char *s);
int pb_wap__put_quoted(pb_buf *out, const char *s);
int pb_wap__put_long_integer(pb_buf *out, uint64_t v);
int pb_wap__put_integer(pb_buf *out, uint64_t v);
int pb_wap__put_encoded_string(pb_buf *out, const char *s);
/* Content-type-value in the general form with charset, name and (for
 * multipart/related) type and start, written with the WSP 1.2 tokens. */
int pb_wap__put_content_type(pb_buf *out, const char *media_type, unsigned int charset_mib,
			     const char *name, const char *type, const char *start);

/* --- MMS (mms-decode.c, multipart.c) ---------------------------------------- */
int pb_mms__decode_cur(pb_wap__ctx *ctx, pb_cur *c, unsigned int flags, pb_mms_message *msg);
int pb_mms__multipart(pb_wap__ctx *ctx, pb_cur *c, pb_mms_message *msg, int parent, int depth);
int pb_mms__single_part(pb_wap__ctx *ctx, pb_mms_message *msg, const pb_cur *body);
/* With PB_MMS_DECODE_SALVAGE and @err PB_EMALFORMED (just raised into
 * ctx->perr, never NULL while decoding MMS): note it as the warning, mark
 * the message incomplete, return 0. Otherwise return @err. */
int pb_mms__salvage(pb_wap__ctx *ctx, pb_mms_message *msg, int err);
/* Note a warning (the first one is kept): @text copied into the arena. */
int pb_mms__warn(pb_wap__ctx *ctx, pb_mms_message *msg, size_t offset, const char *text);
/* Give every part a safe, unique filename (multipart.c). */
int pb_mms__name_parts(pb_wap__ctx *ctx, pb_mms_message *msg);
/* A file name extension for a media type ("jpg"), or NULL. */
const char *pb_mms__extension(const char *media_type);

#endif
