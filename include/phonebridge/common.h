/*
 * libphonebridge — definitions every public header shares.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PHONEBRIDGE_COMMON_H
#define PHONEBRIDGE_COMMON_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <phonebridge/version.h>

#ifdef __cplusplus
#define PB_BEGIN_DECLS extern "C" {
#define PB_END_DECLS }
#else
#define PB_BEGIN_DECLS
#define PB_END_DECLS
#endif

/*
 * PB_API marks the functions the shared library exports; everything else is
 * built with hidden visibility and stays internal.
 */
#if defined(PB_BUILDING_LIBRARY) && defined(__GNUC__)
#define PB_API __attribute__((visibility("default")))
#else
#define PB_API
#endif

#if defined(__GNUC__)
#define PB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define PB_WARN_UNUSED __attribute__((warn_unused_result))
#define PB_DEPRECATED __attribute__((deprecated))
#else
#define PB_PRINTF(fmt, args)
#define PB_WARN_UNUSED
#define PB_DEPRECATED
#endif

/*
 * Durations (docs/conventions.md, "One spelling per idea"): a duration a
 * caller passes, in an options struct or as a parameter, is `unsigned` ms
 * (`..._ms`); one the library returns is `int` ms, -1 for "none", as poll()
 * takes it, with negative PB_E* codes below -1 where the function can fail.
 * A wait that can last until something happens takes PB_WAIT_FOREVER, which
 * is also what a C caller's -1 becomes.
 */
#define PB_WAIT_FOREVER UINT_MAX

PB_BEGIN_DECLS

/**
 * When to try a failed request again: the one retry policy of the options
 * structs (pb_matrix_options.retry, pb_mmsc_options.retry). Which failures
 * are retried is the module's to say (transient ones only: connection
 * failures, timeouts, 429 and 5xx where the request is idempotent). The
 * delay before attempt n+1 is min(initial_delay_ms * 2^(n-1), max_delay_ms),
 * or the server's Retry-After where it gives one. A member left 0 takes
 * the module's default.
 */
typedef struct pb_retry_policy {
	unsigned attempts;         /**< total attempts, 1 = no retry; 0 = the module's default */
	unsigned initial_delay_ms; /**< first back-off; 0 = the module's default */
	unsigned max_delay_ms;     /**< longest back-off; 0 = the module's default */
} pb_retry_policy;

/**
 * Where a decoder of outside bytes stopped, and why.
 *
 * Every decoder takes an optional `pb_parse_error *` (NULL is fine). On
 * failure it fills in the byte offset of the first byte it could not accept,
 * relative to the start of the buffer it was given, and a short description.
 * The same text, prefixed with the offset, is also available from
 * pb_error_last().
 */
typedef struct pb_parse_error {
	size_t offset;  /**< byte offset into the input where decoding failed */
	char text[160]; /**< NUL-terminated description, e.g. "value-length 300 beyond end of data" */
} pb_parse_error;

/** Static initialiser for a pb_parse_error. */
#define PB_PARSE_ERROR_INIT { 0, { 0 } }

PB_END_DECLS

#endif
