/*
 * libphonebridge — error codes and the per-thread last error.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Functions that can fail return an int: 0 on success, one of the negative
 * PB_E* codes below for an expected failure. The code says what kind of
 * failure it was (for a program to act on); pb_error_last() says what exactly
 * went wrong (for a person to read):
 *
 *     if (pb_sms_decode(&msg, pdu, len, 0, &perr) < 0)
 *         fprintf(stderr, "pb-sms: %s\n", pb_error_last()->message);
 */
#ifndef PHONEBRIDGE_ERROR_H
#define PHONEBRIDGE_ERROR_H

#include <phonebridge/common.h>

PB_BEGIN_DECLS

/** The error codes. Values are stable across releases; new ones are appended. */
typedef enum pb_error_code {
	PB_OK = 0,              /**< success */
	PB_ERROR = -1,          /**< failure that fits no other code */
	PB_ENOMEM = -2,         /**< an allocation failed */
	PB_EINVAL = -3,         /**< an argument was invalid (a bug in the caller) */
	PB_EMALFORMED = -4,     /**< input bytes do not follow their format; see pb_parse_error */
	PB_ENOTFOUND = -5,      /**< the thing asked for does not exist */
	PB_ETIMEOUT = -6,       /**< a deadline passed */
	PB_EIO = -7,            /**< an I/O or transport failure (socket, serial line, file) */
	PB_EPROTO = -8,         /**< the peer broke its protocol or answered with an error */
	PB_EAUTH = -9,          /**< authentication failed or credentials were refused */
	PB_EUNSUPPORTED = -10,  /**< valid input or request this library or peer does not support */
	PB_EBUSY = -11,         /**< the resource is busy; try again later */
	PB_EEXISTS = -12,       /**< the thing already exists (a duplicate) */
	PB_ETOOBIG = -13,       /**< a size limit was exceeded */
	PB_EAGAIN = -14,        /**< a transient failure; the same call may succeed later */
	PB_ECANCELLED = -15,    /**< the operation was cancelled by the caller */
	PB_ESTATE = -16,        /**< the call is not allowed in the object's current state */
	PB_EINCOMPLETE = -17,   /**< more data is needed (e.g. a message part is missing) */
	PB_ERANGE = -18,        /**< a value is outside its allowed range */
} pb_error_code;

/** The last error raised on the calling thread. */
typedef struct pb_error {
	pb_error_code code;  /**< negative; 0 when no error was raised */
	const char *message; /**< NUL-terminated, never NULL */
} pb_error;

/**
 * The last error raised on the calling thread.
 *
 * @return borrowed; never NULL. Valid until the next library call on this
 *         thread. When no error was raised since the last pb_error_clear(),
 *         code is PB_OK and the message is empty.
 */
PB_API const pb_error *pb_error_last(void);

/** Forget the calling thread's last error. */
PB_API void pb_error_clear(void);

/**
 * Set the calling thread's last error, for code outside the library that
 * implements a backend or a challenge and wants its failures reported the
 * same way.
 *
 * @param code a negative pb_error_code
 * @param fmt  printf-style format of the message; NULL for pb_strerror(code)
 * @return code, so that `return pb_error_set(PB_EIO, "...")` works
 */
PB_API int pb_error_set(int code, const char *fmt, ...) PB_PRINTF(2, 3);

/**
 * A short, constant description of an error code, e.g. "malformed input".
 *
 * @return static storage; never NULL (unknown codes give "unknown error")
 */
PB_API const char *pb_strerror(int code);

/**
 * The symbolic name of an error code, e.g. "PB_EMALFORMED".
 *
 * @return static storage; never NULL (unknown codes give "PB_E?")
 */
PB_API const char *pb_error_name(int code);

PB_END_DECLS

#endif
