/*
 * libphonebridge — helpers shared by the library's own sources. Not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Naming: functions shared across files of the library but not exported are
 * pb_<module>__<verb>() (double underscore); the export check fails if one
 * of them leaks into the shared library's symbol table.
 */
#ifndef PB_CORE_INTERNAL_H
#define PB_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* core's own headers only: a module includes the headers of the modules it
 * uses itself, so that tools/check-layers sees every arrow */
#include <phonebridge/common.h>
#include <phonebridge/version.h>
#include <phonebridge/library.h>
#include <phonebridge/error.h>
#include <phonebridge/alloc.h>
#include <phonebridge/log.h>
#include <phonebridge/buffer.h>
#include <phonebridge/encoding.h>
#include <phonebridge/charset.h>
#include <phonebridge/random.h>
#include <phonebridge/secret.h>

#define PB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PB_MAX(a, b) ((a) > (b) ? (a) : (b))
#define PB_UNUSED(x) ((void)(x))

/* Overflow-checked size arithmetic: true when the result does not fit. */
#define pb_add_overflow(a, b, res) __builtin_add_overflow(a, b, res)
#define pb_mul_overflow(a, b, res) __builtin_mul_overflow(a, b, res)

/*
 * An internal function the messaging or voice component calls: exported by
 * libphonebridge-codec.so under the version PHONEBRIDGE_PRIVATE_0 (listed in
 * libphonebridge/private.map), never API (docs/conventions.md, "Components").
 */
#define PB_PRIVATE_API __attribute__((visibility("default")))

/* --- errors ------------------------------------------------------------ */

/* Set the thread's last error with a va_list; returns code. */
int pb_error__vset(int code, const char *fmt, va_list ap) PB_PRINTF(2, 0);

/* Raise PB_ENOMEM with a fixed message (formats nothing, allocates nothing). */
PB_PRIVATE_API int pb_error__oom(void);

/*
 * A decoder failed at @offset: fill @perr (may be NULL), set the last error
 * to "offset N: text", and return PB_EMALFORMED.
 */
PB_PRIVATE_API int pb_error__parse(pb_parse_error *perr, size_t offset, const char *fmt, ...) PB_PRINTF(3, 4);

/* Same with an explicit code, for decoders that report PB_EUNSUPPORTED etc. */
PB_PRIVATE_API int pb_error__parse_code(pb_parse_error *perr, int code, size_t offset,
			 const char *fmt, ...) PB_PRINTF(4, 5);

/* --- versioned structs -------------------------------------------------- */

/*
 * The one check of a versioned struct (options, ops tables) a caller hands
 * in, with one policy everywhere (docs/conventions.md): versions @oldest to
 * NAME_VERSION are accepted, the module reading an older one only reads the
 * members that version had; 0 (not set from NAME_INIT), a newer version
 * than this library knows, or one older than @oldest is PB_EINVAL with a
 * message naming the struct. @ptr must not be NULL.
 *
 *     if ((rc = PB_CHECK_VERSION(opts, PB_MODEM_OPTIONS, 1)) < 0)
 *             return rc;
 *
 * The member is `unsigned version` and NAME_VERSION an unsigned constant
 * (`3u`) in every public header: anything else does not compile here (the
 * _Generic selections have no other case), and tools/check-versions refuses
 * an `int version` member in a header.
 */
#define PB_CHECK_VERSION(ptr, NAME, oldest) \
	pb_core__check_version(#NAME, _Generic((ptr)->version, unsigned: (ptr)->version), (oldest), \
			       _Generic(NAME##_VERSION, unsigned: NAME##_VERSION))
PB_PRIVATE_API int pb_core__check_version(const char *name, unsigned got, unsigned oldest, unsigned current);

/*
 * Durations in options structs are `unsigned ..._ms` (conventions.md, "One
 * spelling per idea"), 0 meaning the default. What the library does with them
 * (int for sqlite3_busy_timeout and poll(), long for curl) holds INT_MAX, so a
 * larger value, which is also what a C caller's -1 becomes, is PB_EINVAL,
 * with a message naming the struct and member ("pb_store_options.busy_timeout_ms").
 */
#define PB_CHECK_MS(ptr, STRUCT, member) \
	pb_core__check_ms(#STRUCT "." #member, (ptr)->member)
PB_PRIVATE_API int pb_core__check_ms(const char *name, unsigned ms);

/* --- logging ----------------------------------------------------------- */

/* True when a line at @level would reach a sink: test before costly formatting. */
PB_PRIVATE_API bool pb_log__enabled(int level);

#define pb_log_error(domain, ...) pb_log(PB_LOG_ERROR, domain, __VA_ARGS__)
#define pb_log_warning(domain, ...) pb_log(PB_LOG_WARNING, domain, __VA_ARGS__)
#define pb_log_notice(domain, ...) pb_log(PB_LOG_NOTICE, domain, __VA_ARGS__)
#define pb_log_info(domain, ...) pb_log(PB_LOG_INFO, domain, __VA_ARGS__)
#define pb_log_debug(domain, ...)                                   \
	do {                                                        \
		if (pb_log__enabled(PB_LOG_DEBUG))                  \
			pb_log(PB_LOG_DEBUG, domain, __VA_ARGS__);  \
	} while (0)

/* --- strings ----------------------------------------------------------- */

/* Copy @src into @dst of @size bytes, always NUL-terminated; returns strlen(src). */
PB_PRIVATE_API size_t pb_strlcpy(char *dst, const char *src, size_t size);

/* The value of an ASCII hex digit (either case), or -1. */
static inline int pb_hex_digit_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ASCII-only case-insensitive comparison (locale-independent). */
PB_PRIVATE_API int pb_ascii_casecmp(const char *a, const char *b);
PB_PRIVATE_API int pb_ascii_ncasecmp(const char *a, const char *b, size_t n);

/* --- bounds-checked reading of outside bytes -----------------------------
 *
 * Decoders walk their input with a cursor. Every read checks the bounds
 * and returns false past the end, leaving the cursor where it was; the
 * decoder then reports pb_cur_offset() as where decoding failed. Offsets are
 * relative to the buffer the cursor was opened on (the decoder's input).
 */
typedef struct pb_cur {
	const uint8_t *base; /* start of the decoder's input (offsets count from here) */
	const uint8_t *p;    /* next byte */
	const uint8_t *end;  /* one past the last readable byte */
} pb_cur;

static inline pb_cur pb_cur_make(const uint8_t *buf, size_t len)
{
	pb_cur c = { buf, buf, buf + len };
	return c;
}

/* A cursor over the next @len bytes of @c (same base, so offsets stay global). */
static inline bool pb_cur_sub(pb_cur *c, size_t len, pb_cur *sub)
{
	if ((size_t)(c->end - c->p) < len)
		return false;
	sub->base = c->base;
	sub->p = c->p;
	sub->end = c->p + len;
	c->p += len;
	return true;
}

static inline size_t pb_cur_left(const pb_cur *c) { return (size_t)(c->end - c->p); }
static inline size_t pb_cur_offset(const pb_cur *c) { return (size_t)(c->p - c->base); }
static inline bool pb_cur_eof(const pb_cur *c) { return c->p >= c->end; }

static inline bool pb_cur_peek(const pb_cur *c, uint8_t *v)
{
	if (c->p >= c->end)
		return false;
	*v = *c->p;
	return true;
}

static inline bool pb_cur_u8(pb_cur *c, uint8_t *v)
{
	if (c->p >= c->end)
		return false;
	*v = *c->p++;
	return true;
}

static inline bool pb_cur_u16be(pb_cur *c, uint16_t *v)
{
	if (pb_cur_left(c) < 2)
		return false;
	*v = (uint16_t)((c->p[0] << 8) | c->p[1]);
	c->p += 2;
	return true;
}

static inline bool pb_cur_u32be(pb_cur *c, uint32_t *v)
{
	if (pb_cur_left(c) < 4)
		return false;
	*v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 | c->p[3];
	c->p += 4;
	return true;
}

/* Borrow the next @n bytes without copying them. */
static inline bool pb_cur_bytes(pb_cur *c, size_t n, const uint8_t **out)
{
	if (pb_cur_left(c) < n)
		return false;
	*out = c->p;
	c->p += n;
	return true;
}

static inline bool pb_cur_skip(pb_cur *c, size_t n)
{
	if (pb_cur_left(c) < n)
		return false;
	c->p += n;
	return true;
}

#endif
