/*
 * libphonebridge — UTF-8 and character set conversion.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Text inside the library is UTF-8. Text from outside (MMS encoded strings,
 * MIME parts, router XML) is converted with these functions, which never
 * fail on bad bytes: what cannot be decoded becomes U+FFFD, so a garbled
 * message still arrives, readably marked.
 */
#ifndef PHONEBRIDGE_CHARSET_H
#define PHONEBRIDGE_CHARSET_H

#include <phonebridge/buffer.h>
#include <phonebridge/common.h>

PB_BEGIN_DECLS

/** U+FFFD REPLACEMENT CHARACTER, what undecodable input becomes. */
#define PB_UNICODE_REPLACEMENT 0xFFFDu

/**
 * Check that @p s holds well-formed UTF-8 (RFC 3629): no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence.
 *
 * @param bad_offset optional; receives the offset of the first bad byte
 * @return 0 or PB_EMALFORMED
 */
PB_API int pb_utf8_validate(const char *s, size_t len, size_t *bad_offset);

/**
 * Decode the code point at the start of @p s.
 *
 * @param cp receives the code point, or U+FFFD for an ill-formed sequence
 * @return bytes consumed: 1-4, at least 1 whenever len > 0 (so a loop always
 *         advances); 0 only when len is 0
 */
PB_API size_t pb_utf8_decode(const char *s, size_t len, uint32_t *cp);

/**
 * Encode one code point as UTF-8. Surrogates and values above U+10FFFF
 * are encoded as U+FFFD.
 *
 * @param out receives 1-4 bytes, not NUL-terminated
 * @return the number of bytes written
 */
PB_API size_t pb_utf8_encode(uint32_t cp, char out[4]);

/** Append @p s to @p out with every ill-formed sequence replaced by U+FFFD.
 *  @return 0 or PB_ENOMEM */
PB_API int pb_utf8_sanitize(pb_buf *out, const char *s, size_t len);

/**
 * Append @p len bytes of text in @p charset to @p out as UTF-8.
 *
 * Names are those iconv and the IANA registry know ("UTF-8", "ISO-8859-2",
 * "Shift_JIS", "Big5", "windows-1251", ...), case-insensitively. "UTF-16"
 * honours a byte order mark and means big-endian without one (RFC 2781);
 * "ISO-10646-UCS-2" is read as UTF-16BE. Bytes that are not valid in the
 * charset become U+FFFD.
 *
 * @return 0, PB_EUNSUPPORTED (charset unknown to this system) or PB_ENOMEM
 */
PB_API int pb_charset_to_utf8(pb_buf *out, const char *charset, const void *in, size_t len);

/**
 * Append UTF-8 text converted to @p charset to @p out.
 *
 * @return 0, PB_EMALFORMED (input not UTF-8), PB_ERANGE (a character the
 *         charset cannot represent; pb_error_last() names its offset),
 *         PB_EUNSUPPORTED or PB_ENOMEM
 */
PB_API int pb_charset_from_utf8(pb_buf *out, const char *charset, const char *in, size_t len);

/**
 * The charset name for an IANA MIBenum (as WSP and MMS encode charsets),
 * e.g. 106 -> "UTF-8", 4 -> "ISO-8859-1", 1015 -> "UTF-16".
 *
 * @return static storage, or NULL for an unknown number
 */
PB_API const char *pb_charset_from_mib(unsigned mib);

/** The IANA MIBenum of a charset name (case-insensitive, aliases accepted).
 *  @return the number, or PB_ENOTFOUND */
PB_API int pb_charset_to_mib(const char *name);

PB_END_DECLS

#endif
