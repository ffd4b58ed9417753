/*
 * libphonebridge — hex and base64 (RFC 4648).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "core/internal.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

PB_API int pb_hex_encode(pb_buf *out, const void *data, size_t len, int flags)
{
	const char *digits = (flags & PB_HEX_UPPER) ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t need;
	if (pb_mul_overflow(len, (size_t)2, &need))
		return pb_error_set(PB_ETOOBIG, "hex: input too large");
	int rc = pb_buf_reserve(out, need);
	if (rc < 0)
		return rc;
	const uint8_t *in = data;
	uint8_t *o = out->data + out->len;
	for (size_t i = 0; i < len; i++) {
		*o++ = (uint8_t)digits[in[i] >> 4];
		*o++ = (uint8_t)digits[in[i] & 0xf];
	}
	out->len += need;
	out->data[out->len] = '\0';
	return 0;
}

PB_API int pb_hex_decode(pb_buf *out, const char *hex, size_t len, pb_parse_error *perr)
{
	size_t start = out->len;
	int rc = pb_buf_reserve(out, len / 2);
	if (rc < 0)
		return rc;
	size_t i = 0;
	while (i < len) {
		if (is_space(hex[i])) {
			i++;
			continue;
		}
		int hi = pb_hex_digit_value((unsigned char)hex[i]);
		if (hi < 0) {
			rc = pb_error__parse(perr, i, "not a hex digit: 0x%02x", (unsigned char)hex[i]);
			goto fail;
		}
		if (i + 1 >= len) {
			rc = pb_error__parse(perr, i, "odd number of hex digits");
			goto fail;
		}
		int lo = pb_hex_digit_value((unsigned char)hex[i + 1]);
		if (lo < 0) {
			rc = pb_error__parse(perr, i + 1, is_space(hex[i + 1]) ? "hex digit pair split by white space"
									    : "not a hex digit: 0x%02x",
					     (unsigned char)hex[i + 1]);
			goto fail;
		}
		/* room was reserved for len/2 bytes, which bounds the pairs */
		out->data[out->len++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	out->data[out->len] = '\0';
	return 0;
fail:
	pb_buf_truncate(out, start);
	return rc;
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

PB_API int pb_base64_encode(pb_buf *out, const void *data, size_t len, int flags)
{
	const char *alpha = (flags & PB_BASE64_URL) ? b64_url : b64_std;
	bool pad = !(flags & PB_BASE64_NOPAD);
	if (len > (SIZE_MAX / 4) * 3 - 3)
		return pb_error_set(PB_ETOOBIG, "base64: input too large");
	int rc = pb_buf_reserve(out, (len + 2) / 3 * 4);
	if (rc < 0)
		return rc;
	const uint8_t *in = data;
	uint8_t *o = out->data + out->len;
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*o++ = (uint8_t)alpha[v >> 18];
		*o++ = (uint8_t)alpha[(v >> 12) & 63];
		*o++ = (uint8_t)alpha[(v >> 6) & 63];
		*o++ = (uint8_t)alpha[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*o++ = (uint8_t)alpha[v >> 18];
		*o++ = (uint8_t)alpha[(v >> 12) & 63];
		if (pad) {
			*o++ = '=';
			*o++ = '=';
		}
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*o++ = (uint8_t)alpha[v >> 18];
		*o++ = (uint8_t)alpha[(v >> 12) & 63];
		*o++ = (uint8_t)alpha[(v >> 6) & 63];
		if (pad)
			*o++ = '=';
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	return 0;
}

static int b64_value(char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

PB_API int pb_base64_decode(pb_buf *out, const char *s, size_t len, int flags, pb_parse_error *perr)
{
	bool url = flags & PB_BASE64_URL;
	size_t start = out->len;
	int rc = pb_buf_reserve(out, len / 4 * 3 + 3);
	if (rc < 0)
		return rc;
	uint32_t acc = 0;
	unsigned n = 0;    /* sextets in acc */
	unsigned pads = 0; /* '=' seen */
	size_t i;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (is_space(c))
			continue;
		if (c == '=') {
			/* padding may only complete a group of 2 or 3 sextets */
			if ((n + pads) % 4 < 2 || pads >= 2) {
				rc = pb_error__parse(perr, i, "misplaced base64 padding");
				goto fail;
			}
			pads++;
			continue;
		}
		int v = b64_value(c, url);
		if (v < 0) {
			rc = pb_error__parse(perr, i, "not a base64 character: 0x%02x", (unsigned char)c);
			goto fail;
		}
		if (pads) {
			rc = pb_error__parse(perr, i, "base64 data after padding");
			goto fail;
		}
		acc = acc << 6 | (uint32_t)v;
		if (++n == 4) {
			out->data[out->len++] = (uint8_t)(acc >> 16);
			out->data[out->len++] = (uint8_t)(acc >> 8);
			out->data[out->len++] = (uint8_t)acc;
			acc = 0;
			n = 0;
		}
	}
	if (pads && n + pads != 4) {
		rc = pb_error__parse(perr, len, "incomplete base64 padding");
		goto fail;
	}
	switch (n) {
	case 0:
		break;
	case 1:
		rc = pb_error__parse(perr, len, "base64 data ends inside a byte");
		goto fail;
	case 2:
		out->data[out->len++] = (uint8_t)(acc >> 4);
		break;
	case 3:
		out->data[out->len++] = (uint8_t)(acc >> 10);
		out->data[out->len++] = (uint8_t)(acc >> 2);
		break;
	}
	out->data[out->len] = '\0';
	return 0;
fail:
	pb_buf_truncate(out, start);
	return rc;
}
