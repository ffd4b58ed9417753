/*
 * libphonebridge — growable byte buffers.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Encoders write into a pb_buf the caller owns:
 *
 *     pb_buf pdu = PB_BUF_INIT;
 *     if (pb_mms_encode_ack(&pdu, "T123", 1) == 0)
 *         fwrite(pdu.data, 1, pdu.len, stdout);
 *     pb_buf_dispose(&pdu);
 *
 * The contents are always followed by a NUL byte (not counted in len), so a
 * buffer that holds text can be used as a C string.
 */
#ifndef PHONEBRIDGE_BUFFER_H
#define PHONEBRIDGE_BUFFER_H

#include <stdarg.h>

#include <phonebridge/common.h>

PB_BEGIN_DECLS

typedef struct pb_buf {
	uint8_t *data; /**< the bytes; NULL until something is added */
	size_t len;    /**< bytes in use */
	size_t cap;    /**< bytes allocated */
} pb_buf;

#define PB_BUF_INIT { NULL, 0, 0 }

/** Make room for at least @p extra more bytes (plus the NUL).
 *  @return 0, PB_ENOMEM, or PB_ETOOBIG on size overflow */
PB_API int pb_buf_reserve(pb_buf *buf, size_t extra);

/** Append @p len bytes from @p data (may be NULL when len is 0). @return 0 or PB_ENOMEM */
PB_API int pb_buf_put(pb_buf *buf, const void *data, size_t len);

/** Append one byte. @return 0 or PB_ENOMEM */
PB_API int pb_buf_putc(pb_buf *buf, uint8_t byte);

/** Append a NUL-terminated string (without its NUL). @return 0 or PB_ENOMEM */
PB_API int pb_buf_puts(pb_buf *buf, const char *s);

/** Append printf-style formatted text. @return 0 or PB_ENOMEM */
PB_API int pb_buf_printf(pb_buf *buf, const char *fmt, ...) PB_PRINTF(2, 3);

/** Same as pb_buf_printf() with a va_list. */
PB_API int pb_buf_vprintf(pb_buf *buf, const char *fmt, va_list ap) PB_PRINTF(2, 0);

/** The contents as a C string: "" when empty. @return borrowed; valid until the buffer changes */
PB_API const char *pb_buf_cstr(const pb_buf *buf);

/** Drop the contents, keep the memory. */
PB_API void pb_buf_clear(pb_buf *buf);

/** Shorten the contents to @p len bytes (no-op if already shorter). */
PB_API void pb_buf_truncate(pb_buf *buf, size_t len);

/**
 * Take the memory out of the buffer; the buffer is left empty.
 *
 * @param len if not NULL, receives the length
 * @return new, NUL-terminated (pb_free()); an empty buffer gives a newly
 *         allocated "" (NULL only with PB_ENOMEM raised)
 */
PB_API uint8_t *pb_buf_detach(pb_buf *buf, size_t *len);

/** Free the memory and leave the buffer empty (as PB_BUF_INIT). NULL is fine. */
PB_API void pb_buf_dispose(pb_buf *buf);

PB_END_DECLS

#endif
