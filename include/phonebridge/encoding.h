/*
 * libphonebridge — hex and base64.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Written once here for every module (SMS PDUs travel as hex over AT and in
 * the CLIs; MIME parts and HiLink logins use base64).
 */
#ifndef PHONEBRIDGE_ENCODING_H
#define PHONEBRIDGE_ENCODING_H

#include <phonebridge/buffer.h>
#include <phonebridge/common.h>

PB_BEGIN_DECLS

/** pb_hex_encode() flag: upper-case digits (as AT modems print them). */
#define PB_HEX_UPPER 0x1

/**
 * Append the hex digits of @p len bytes to @p out.
 *
 * @param flags 0 or PB_HEX_UPPER
 * @return 0 or PB_ENOMEM
 */
PB_API int pb_hex_encode(pb_buf *out, const void *data, size_t len, int flags);

/**
 * Append the bytes spelled by hex digits to @p out. Upper and lower case are
 * accepted; ASCII white space between digit pairs is skipped.
 *
 * @param hex  the digits; need not be NUL-terminated
 * @param perr optional; on PB_EMALFORMED, the offset of the offending
 *             character (or of the lone last digit)
 * @return 0, PB_EMALFORMED (non-hex character, odd number of digits) or PB_ENOMEM
 */
PB_API int pb_hex_decode(pb_buf *out, const char *hex, size_t len, pb_parse_error *perr);

/** pb_base64_encode()/pb_base64_decode() flag: the URL-safe alphabet (RFC 4648 §5). */
#define PB_BASE64_URL 0x1
/** pb_base64_encode() flag: no '=' padding. */
#define PB_BASE64_NOPAD 0x2

/**
 * Append the base64 form (RFC 4648) of @p len bytes to @p out, on one line.
 *
 * @param flags 0, or PB_BASE64_URL and/or PB_BASE64_NOPAD
 * @return 0 or PB_ENOMEM
 */
PB_API int pb_base64_encode(pb_buf *out, const void *data, size_t len, int flags);

/**
 * Append the bytes that base64 text spells to @p out. White space (as in MIME
 * bodies, RFC 2045 §6.8) is skipped; padding may be absent; anything after
 * the padding other than white space is an error.
 *
 * @param flags 0 or PB_BASE64_URL
 * @param perr  optional; on PB_EMALFORMED, the offset of the offending character
 * @return 0, PB_EMALFORMED or PB_ENOMEM
 */
PB_API int pb_base64_decode(pb_buf *out, const char *s, size_t len, int flags, pb_parse_error *perr);

PB_END_DECLS

#endif
