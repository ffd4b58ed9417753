/*
 * libphonebridge — growable byte buffers.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

PB_API int pb_buf_reserve(pb_buf *buf, size_t extra)
{
	size_t need;
	/* +1: the contents are always followed by a NUL */
	if (pb_add_overflow(buf->len, extra, &need) || pb_add_overflow(need, (size_t)1, &need))
		return pb_error_set(PB_ETOOBIG, "buffer size overflow");
	if (need <= buf->cap)
		return 0;
	size_t cap = buf->cap ? buf->cap : 64;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	uint8_t *data = pb_realloc(buf->data, cap);
	if (data == NULL)
		return PB_ENOMEM;
	buf->data = data;
	buf->cap = cap;
	/* keep the promise of buffer.h even before anything is added */
	buf->data[buf->len] = '\0';
	return 0;
}

PB_API int pb_buf_put(pb_buf *buf, const void *data, size_t len)
{
	int rc = pb_buf_reserve(buf, len);
	if (rc < 0)
		return rc;
	if (len)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return 0;
}

PB_API int pb_buf_putc(pb_buf *buf, uint8_t byte)
{
	return pb_buf_put(buf, &byte, 1);
}

PB_API int pb_buf_puts(pb_buf *buf, const char *s)
{
	return pb_buf_put(buf, s, strlen(s));
}

PB_API int pb_buf_vprintf(pb_buf *buf, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return pb_error_set(PB_EINVAL, "pb_buf_printf: bad format");
	int rc = pb_buf_reserve(buf, (size_t)n);
	if (rc < 0)
		return rc;
	vsnprintf((char *)buf->data + buf->len, (size_t)n + 1, fmt, ap);
	buf->len += (size_t)n;
	return 0;
}

PB_API int pb_buf_printf(pb_buf *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = pb_buf_vprintf(buf, fmt, ap);
	va_end(ap);
	return rc;
}

PB_API const char *pb_buf_cstr(const pb_buf *buf)
{
	return buf->data ? (const char *)buf->data : "";
}

PB_API void pb_buf_clear(pb_buf *buf)
{
	pb_buf_truncate(buf, 0);
}

PB_API void pb_buf_truncate(pb_buf *buf, size_t len)
{
	if (len < buf->len) {
		buf->len = len;
		buf->data[len] = '\0';
	}
}

PB_API uint8_t *pb_buf_detach(pb_buf *buf, size_t *len)
{
	if (buf->data == NULL && pb_buf_reserve(buf, 0) < 0)
		return NULL;
	if (buf->len == 0)
		buf->data[0] = '\0';
	uint8_t *data = buf->data;
	if (len)
		*len = buf->len;
	*buf = (pb_buf)PB_BUF_INIT;
	return data;
}

PB_API void pb_buf_dispose(pb_buf *buf)
{
	if (buf == NULL)
		return;
	pb_free(buf->data);
	*buf = (pb_buf)PB_BUF_INIT;
}
