/*
 * libphonebridge — WSP encoding primitives (WAP-230-WSP §8.4): decoding with
 * every bound checked, and the encoders the MMS encoder is built on.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "wap/wap-internal.h"

/* --- integers ---------------------------------------------------------------- */

int pb_wap__uintvar(pb_wap__ctx *ctx, pb_cur *c, uint32_t *v)
{
	uint64_t acc = 0;
	const uint8_t *start = c->p;
	for (int i = 0; i < 5; i++) {
		uint8_t b = 0;
		if (!pb_cur_u8(c, &b)) {
			c->p = start;
			return pb_wap__fail(ctx, c, "uintvar truncated");
		}
		acc = (acc << 7) | (b & 0x7F);
		if (!(b & 0x80)) {
			if (acc > UINT32_MAX) {
				c->p = start;
				return pb_wap__fail(ctx, c, "uintvar above 32 bits");
			}
			*v = (uint32_t)acc;
			return 0;
		}
	}
	c->p = start;
	return pb_wap__fail(ctx, c, "uintvar longer than 5 bytes");
}

PB_API int pb_wsp_uintvar_decode(const uint8_t *buf, size_t len, uint32_t *value,
				 size_t *used, pb_parse_error *perr)
{
	if (!buf && len)
		return pb_error_set(PB_EINVAL, "pb_wsp_uintvar_decode: NULL buffer");
	pb_wap__ctx ctx = { NULL, perr, 0 };
	pb_cur c = pb_wap__cur(buf, len);
	uint32_t v = 0;
	int rc = pb_wap__uintvar(&ctx, &c, &v);
	if (rc < 0)
		return rc;
	if (value)
		*value = v;
	if (used)
		*used = pb_cur_offset(&c);
	return 0;
}

PB_API int pb_wsp_uintvar_encode(pb_buf *out, uint32_t value)
{
	uint8_t tmp[5];
	int n = 0;
	do {
		tmp[n++] = value & 0x7F;
		value >>= 7;
	} while (value);
	uint8_t enc[5];
	for (int i = 0; i < n; i++)
		enc[i] = (uint8_t)(tmp[n - 1 - i] | (i < n - 1 ? 0x80 : 0));
	return pb_buf_put(out, enc, (size_t)n);
}

/* Value-length (§8.4.2.2): a short length 0-30, or 31 then a uintvar. The
 * value must fit in what is left. */
int pb_wap__value_length(pb_wap__ctx *ctx, pb_cur *c, pb_cur *value)
{
	const uint8_t *start = c->p;
	uint8_t b = 0;
	uint32_t len;
	if (!pb_cur_u8(c, &b))
		return pb_wap__fail(ctx, c, "value-length missing");
	if (b <= 30) {
		len = b;
	} else if (b == 31) {
		int rc = pb_wap__uintvar(ctx, c, &len);
		if (rc < 0)
			return rc;
	} else {
		c->p = start;
		return pb_wap__fail(ctx, c, "value-length expected, found 0x%02x", b);
	}
	if (!pb_cur_sub(c, len, value)) {
		c->p = start;
		return pb_wap__fail(ctx, c, "value-length %u beyond end of data (%zu left)",
				    (unsigned)len, pb_cur_left(c) - 1);
	}
	return 0;
}

int pb_wap__long_integer(pb_wap__ctx *ctx, pb_cur *c, uint64_t *v)
{
	const uint8_t *start = c->p;
	uint8_t n;
	const uint8_t *p;
	if (!pb_cur_u8(c, &n) || n > 30)
		return c->p = start, pb_wap__fail(ctx, c, "long-integer length expected");
	if (n == 0 || n > 8)
		return c->p = start, pb_wap__fail(ctx, c, "long-integer of %u bytes", n);
	if (!pb_cur_bytes(c, n, &p))
		return c->p = start, pb_wap__fail(ctx, c, "long-integer truncated");
	uint64_t acc = 0;
	for (unsigned i = 0; i < n; i++)
		acc = (acc << 8) | p[i];
	*v = acc;
	return 0;
}

/* Integer-value (§8.4.2.3): Short-integer or Long-integer. */
int pb_wap__integer(pb_wap__ctx *ctx, pb_cur *c, uint64_t *v)
{
	uint8_t b = 0;
	if (!pb_cur_peek(c, &b))
		return pb_wap__fail(ctx, c, "integer expected at end of data");
	if (b & 0x80) {
		c->p++;
		*v = b & 0x7F;
		return 0;
	}
	return pb_wap__long_integer(ctx, c, v);
}

/* --- text ------------------------------------------------------------------------ */

static bool all_ascii(const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) { /* a word at a time */
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w & UINT64_C(0x8080808080808080))
			return false;
	}
	for (; i < n; i++)
		if (p[i] & 0x80)
			return false;
	return true;
}

/* [p, p+n) as UTF-8: borrowed when well-formed and NUL-terminated in the
 * input (@nul), else a sanitised copy in the arena. */
static int utf8_text(pb_wap__ctx *ctx, const uint8_t *p, size_t n, bool nul, const char **s)
{
	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) /* a UTF-8 byte order mark */
		p += 3, n -= 3;
	if (all_ascii(p, n) || pb_utf8_validate((const char *)p, n, NULL) == 0) {
		if (nul) {
			*s = (const char *)p;
			return 0;
		}
		*s = pb_wap__strndup(ctx->arena, p, n);
		return *s ? 0 : PB_ENOMEM;
	}
	pb_buf b = PB_BUF_INIT;
	int rc = pb_utf8_sanitize(&b, (const char *)p, n);
	if (rc == 0) {
		*s = pb_wap__strndup(ctx->arena, b.data, b.len);
		rc = *s ? 0 : PB_ENOMEM;
	}
	pb_buf_dispose(&b);
	return rc;
}

int pb_wap__convert(pb_wap__ctx *ctx, unsigned int mib, const uint8_t *p, size_t n, const char **s)
{
	/* 0: no charset or "*"; 3 US-ASCII; 106 UTF-8: read as UTF-8 */
	const char *name = (mib == 0 || mib == 3 || mib == 106) ? NULL : pb_charset_from_mib(mib);
	if (!name)
		return utf8_text(ctx, p, n, false, s);
	pb_buf b = PB_BUF_INIT;
	int rc = pb_charset_to_utf8(&b, name, p, n);
	if (rc == PB_EUNSUPPORTED) {
		pb_buf_dispose(&b);
		return utf8_text(ctx, p, n, false, s);
	}
	if (rc == 0) {
		/* iconv can pass through what is not UTF-8 (UCS-4 above U+10FFFF):
		 * check, so that text from a message is always well-formed */
		if (pb_utf8_validate((const char *)b.data, b.len, NULL) == 0)
			*s = pb_wap__strndup(ctx->arena, b.data, b.len);
		else
			rc = utf8_text(ctx, b.data, b.len, false, s);
		if (rc == 0)
			rc = *s ? 0 : PB_ENOMEM;
	}
	pb_buf_dispose(&b);
	return rc;
}

/* Text-string, Token-text or Quoted-string (§8.4.2.1): up to a NUL, with a
 * leading quote (0x7F, or '"' of a quoted string) dropped. */
int pb_wap__text(pb_wap__ctx *ctx, pb_cur *c, const char **s)
{
	const uint8_t *start = c->p;
	const uint8_t *nul = memchr(c->p, 0, pb_cur_left(c));
	if (!nul)
		return pb_wap__fail(ctx, c, "text string without its terminating NUL");
	const uint8_t *p = start;
	if (p < nul && (*p == 0x7F || *p == '"'))
		p++;
	c->p = nul + 1;
	return utf8_text(ctx, p, (size_t)(nul - p), true, s);
}

/* Encoded-string-value (OMA-MMS-ENC §7.2.9): Text-string, or Value-length
 * Char-set Text-string. The text of the second form runs to the end of the
 * value (UTF-16 text holds NUL bytes), less its terminator. */
int pb_wap__encoded_string(pb_wap__ctx *ctx, pb_cur *c, const char **s)
{
	uint8_t b = 0;
	if (!pb_cur_peek(c, &b))
		return pb_wap__fail(ctx, c, "encoded string expected at end of data");
	if (b > 31)
		return pb_wap__text(ctx, c, s);
	pb_cur v;
	uint64_t mib = 0;
	int rc = pb_wap__value_length(ctx, c, &v);
	if (rc < 0)
		return rc;
	if (pb_cur_peek(&v, &b) && b == 0x80) { /* Any-charset */
		v.p++;
	} else if (!pb_cur_eof(&v)) {
		rc = pb_wap__integer(ctx, &v, &mib);
		if (rc < 0)
			return rc;
	}
	const uint8_t *p = v.p;
	size_t n = pb_cur_left(&v);
	if (n && *p == 0x7F)
		p++, n--;
	/* the terminator of 16- and 32-bit text is 2 or 4 NUL bytes */
	size_t unit = mib == 1000 || (mib >= 1013 && mib <= 1015) ? 2
		    : mib == 1001 || (mib >= 1017 && mib <= 1019) ? 4 : 1;
	if (n && p[n - 1] == 0)
		n--;
	while (n % unit && p[n - 1] == 0)
		n--;
	if (mib > UINT32_MAX)
		mib = 0;
	return pb_wap__convert(ctx, (unsigned int)mib, p, n, s);
}

/* --- generic values ------------------------------------------------------------------ */

/* The extent of a field value by its first octet (§8.4.1.2): 0-30 a short
 * length, 31 a uintvar length, 32-127 a text string, 128-255 one octet. */
int pb_wap__skip_value(pb_wap__ctx *ctx, pb_cur *c, pb_cur *value)
{
	uint8_t b = 0;
	const uint8_t *start = c->p;
	if (!pb_cur_peek(c, &b))
		return pb_wap__fail(ctx, c, "header value missing at end of data");
	if (b <= 31) {
		pb_cur inner;
		int rc = pb_wap__value_length(ctx, c, &inner);
		if (rc < 0)
			return rc;
	} else if (b < 128) {
		const uint8_t *nul = memchr(c->p, 0, pb_cur_left(c));
		if (!nul)
			return pb_wap__fail(ctx, c, "text value without its terminating NUL");
		c->p = nul + 1;
	} else {
		c->p++;
	}
	value->base = c->base;
	value->p = start;
	value->end = c->p;
	return 0;
}

/* --- content types -------------------------------------------------------------------- */

/* Well-known parameter names (WSP Table 38; 1.1-1.4 tokens). */
static const char *const param_names[] = {
	[0x00] = "q", [0x01] = "charset", [0x02] = "level", [0x03] = "type",
	[0x05] = "name", [0x06] = "filename", [0x07] = "differences", [0x08] = "padding",
	[0x09] = "type", [0x0A] = "start", [0x0B] = "start-info", [0x0C] = "comment",
	[0x0D] = "domain", [0x0E] = "max-age", [0x0F] = "path", [0x10] = "secure",
	[0x11] = "sec", [0x12] = "mac", [0x13] = "creation-date", [0x14] = "modification-date",
	[0x15] = "read-date", [0x16] = "size", [0x17] = "name", [0x18] = "filename",
	[0x19] = "start", [0x1A] = "start-info", [0x1B] = "comment", [0x1C] = "domain",
	[0x1D] = "path",
};

static int number_text(pb_wap__ctx *ctx, uint64_t v, const char **s)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	*s = pb_wap__strndup(ctx->arena, tmp, (size_t)n);
	return *s ? 0 : PB_ENOMEM;
}

/* Integer-value or Text-value, whichever is there; *is_num tells. */
static int any_value(pb_wap__ctx *ctx, pb_cur *c, uint64_t *num, const char **text, bool *is_num)
{
	uint8_t b = 0;
	*is_num = false;
	*text = "";
	if (!pb_cur_peek(c, &b))
		return pb_wap__fail(ctx, c, "parameter value missing");
	if (b == 0) { /* No-value */
		c->p++;
		return 0;
	}
	if (b >= 0x80 || b <= 8) { /* Short-integer, Long-integer */
		*is_num = true;
		return pb_wap__integer(ctx, c, num);
	}
	if (b <= 31) { /* a length-prefixed value we do not interpret */
		pb_cur v;
		return pb_wap__value_length(ctx, c, &v);
	}
	return pb_wap__text(ctx, c, text);
}

/* The parameters with a field of their own in pb_wsp_content_type. */
enum { P_OTHER, P_CHARSET, P_TYPE, P_START, P_START_INFO, P_NAME, P_FILENAME };

static int param_kind_by_name(const char *name)
{
	static const char *const names[] = { [P_CHARSET] = "charset", [P_TYPE] = "type", [P_START] = "start",
					     [P_START_INFO] = "start-info", [P_NAME] = "name",
					     [P_FILENAME] = "filename" };
	for (int k = P_CHARSET; k <= P_FILENAME; k++)
		if (!pb_ascii_casecmp(name, names[k]))
			return k;
	return P_OTHER;
}

/* The same by well-known parameter number (Table 38): a table lookup. */
static int param_kind(uint64_t token)
{
	switch (token) {
	case 0x01: return P_CHARSET;
	case 0x03: case 0x09: return P_TYPE;
	case 0x0A: case 0x19: return P_START;
	case 0x0B: case 0x1A: return P_START_INFO;
	case 0x05: case 0x17: return P_NAME;
	case 0x06: case 0x18: return P_FILENAME;
	default: return P_OTHER;
	}
}

static int add_param(pb_wap__ctx *ctx, pb_wsp_content_type *ct, size_t *cap, const char *name,
		     const char *value, int kind)
{
	pb_wsp_param *arr = (pb_wsp_param *)ct->params;
	int rc = pb_wap__grow(ctx->arena, (void **)&arr, cap, ct->n_params, sizeof(*arr));
	if (rc < 0)
		return rc;
	arr[ct->n_params].name = name;
	arr[ct->n_params].value = value;
	ct->params = arr;
	ct->n_params++;
	const char **field = kind == P_CHARSET ? &ct->charset : kind == P_TYPE ? &ct->type
		: kind == P_START ? &ct->start : kind == P_START_INFO ? &ct->start_info
		: kind == P_NAME ? &ct->name : kind == P_FILENAME ? &ct->filename : NULL;
	if (field && !*field)
		*field = value;
	return 0;
}

static int typed_param(pb_wap__ctx *ctx, pb_cur *c, uint64_t token, pb_wsp_content_type *ct,
		       size_t *cap)
{
	const char *name = token < PB_ARRAY_SIZE(param_names) ? param_names[token] : NULL;
	const char *text;
	uint64_t num = 0;
	bool is_num;
	int rc;
	if (!name) {
		char tmp[16];
		snprintf(tmp, sizeof(tmp), "0x%02x", (unsigned)(token & 0xFFFF));
		if (!(name = pb_wap__strndup(ctx->arena, tmp, strlen(tmp))))
			return PB_ENOMEM;
	}
	if (token == 0x00) { /* Q-value is a uintvar */
		uint32_t q;
		if ((rc = pb_wap__uintvar(ctx, c, &q)) < 0 || (rc = number_text(ctx, q, &text)) < 0)
			return rc;
		return add_param(ctx, ct, cap, name, text, P_OTHER);
	}
	if ((rc = any_value(ctx, c, &num, &text, &is_num)) < 0)
		return rc;
	if (token == 0x01) {
		if (is_num && num == 0) { /* Any-charset (0x80) */
			text = "*";
		} else if (is_num) {
			ct->charset_mib = num <= UINT32_MAX ? (unsigned int)num : 0;
			const char *cs = num == 106 ? "UTF-8" /* nearly every text part: no table scan */
				: pb_charset_from_mib(ct->charset_mib);
			if (cs)
				text = cs;
			else if ((rc = number_text(ctx, num, &text)) < 0)
				return rc;
		} else {
			int mib = pb_charset_to_mib(text);
			ct->charset_mib = mib > 0 ? (unsigned int)mib : 0;
		}
		return add_param(ctx, ct, cap, name, text, P_CHARSET);
	}
	if (is_num && (token == 0x03 || token == 0x09) && num <= UINT32_MAX &&
	    pb_wsp_content_type_name((unsigned int)num)) {
		text = pb_wsp_content_type_name((unsigned int)num);
	} else if (is_num && (rc = number_text(ctx, num, &text)) < 0) {
		return rc;
	}
	return add_param(ctx, ct, cap, name, text, param_kind(token));
}

int pb_wap__params(pb_wap__ctx *ctx, pb_cur *c, pb_wsp_content_type *ct)
{
	size_t cap = ct->n_params; /* an existing array is grown by copying */
	while (!pb_cur_eof(c)) {
		uint8_t b = 0;
		int rc;
		pb_cur_peek(c, &b);
		if (b >= 0x80 || b <= 30) {
			uint64_t token;
			if ((rc = pb_wap__integer(ctx, c, &token)) < 0)
				return rc;
			if ((rc = typed_param(ctx, c, token, ct, &cap)) < 0)
				return rc;
		} else {
			const char *name, *text;
			uint64_t num;
			bool is_num;
			if ((rc = pb_wap__text(ctx, c, &name)) < 0)
				return rc;
			if ((rc = any_value(ctx, c, &num, &text, &is_num)) < 0)
				return rc;
			if (is_num && (rc = number_text(ctx, num, &text)) < 0)
				return rc;
			int kind = param_kind_by_name(name);
			if (kind == P_CHARSET && !is_num) {
				int mib = pb_charset_to_mib(text);
				ct->charset_mib = mib > 0 ? (unsigned int)mib : 0;
			}
			if ((rc = add_param(ctx, ct, &cap, name, text, kind)) < 0)
				return rc;
		}
	}
	return 0;
}

static int media_name(pb_wap__ctx *ctx, uint64_t code, pb_wsp_content_type *ct)
{
	ct->well_known = code <= 0xFFFF ? (int)code : -1;
	const char *n = code <= 0xFFFF ? pb_wsp_content_type_name((unsigned int)code) : NULL;
	if (n) {
		ct->media_type = n;
		return 0;
	}
	char tmp[40];
	int len = snprintf(tmp, sizeof(tmp), "application/x-wsp-0x%llx", (unsigned long long)code);
	ct->media_type = pb_wap__strndup(ctx->arena, tmp, (size_t)len);
	return ct->media_type ? 0 : PB_ENOMEM;
}

/* Content-type-value (§8.4.2.24): Constrained-media, or Value-length
 * Media-type *(Parameter). */
int pb_wap__content_type(pb_wap__ctx *ctx, pb_cur *c, pb_wsp_content_type *ct)
{
	memset(ct, 0, sizeof(*ct));
	ct->media_type = "";
	ct->well_known = -1;
	uint8_t b = 0;
	int rc;
	if (!pb_cur_peek(c, &b))
		return pb_wap__fail(ctx, c, "content type missing at end of data");
	if (b >= 0x80) {
		c->p++;
		return media_name(ctx, b & 0x7F, ct);
	}
	if (b > 31)
		return pb_wap__text(ctx, c, &ct->media_type);
	pb_cur v;
	if ((rc = pb_wap__value_length(ctx, c, &v)) < 0)
		return rc;
	if (pb_cur_eof(&v))
		return 0;
	pb_cur_peek(&v, &b);
	if (b >= 0x80 || b <= 30) {
		uint64_t code;
		if ((rc = pb_wap__integer(ctx, &v, &code)) < 0 || (rc = media_name(ctx, code, ct)) < 0)
			return rc;
	} else if ((rc = pb_wap__text(ctx, &v, &ct->media_type)) < 0) {
		return rc;
	}
	return pb_wap__params(ctx, &v, ct);
}

/* --- header lists (push and multipart part headers) ------------------------------------ */

static int header_text(pb_wap__ctx *ctx, pb_wsp_header *h)
{
	if (!h->value_len || h->value[0] < 0x20 || h->value[0] >= 0x80)
		return 0;
	pb_cur v = { h->value, h->value, h->value + h->value_len };
	return pb_wap__text(ctx, &v, &h->text);
}

int pb_wap__headers(pb_wap__ctx *ctx, pb_cur *c, pb_wsp_header **out, size_t *n)
{
	pb_wsp_header *arr = NULL;
	size_t cap = 0, count = 0;
	unsigned int page = 1;
	int rc;
	while (!pb_cur_eof(c)) {
		uint8_t b = 0;
		pb_cur_peek(c, &b);
		if (b == 0x7F) { /* Shift-delimiter Page-identity */
			c->p++;
			if (!pb_cur_u8(c, &b))
				return pb_wap__fail(ctx, c, "header code page missing after shift");
			page = b;
			continue;
		}
		if (b >= 0x01 && b <= 0x1F) { /* Short-cut-shift-delimiter */
			c->p++;
			page = b;
			continue;
		}
		if (b == 0)
			return pb_wap__fail(ctx, c, "header field name expected, found 0x00");
		if ((rc = pb_wap__grow(ctx->arena, (void **)&arr, &cap, count, sizeof(*arr))) < 0)
			return rc;
		pb_wsp_header *h = &arr[count];
		memset(h, 0, sizeof(*h));
		if (b >= 0x80) {
			c->p++;
			h->field = page == 1 ? (b & 0x7F) : -1;
			h->name = page == 1 ? pb_wap__header_name(b & 0x7F) : NULL;
			if (!h->name) {
				char tmp[32];
				int len = snprintf(tmp, sizeof(tmp), "x-wsp-page%u-0x%02x", page, b & 0x7F);
				if (!(h->name = pb_wap__strndup(ctx->arena, tmp, (size_t)len)))
					return PB_ENOMEM;
			}
		} else {
			h->field = -1;
			if ((rc = pb_wap__text(ctx, c, &h->name)) < 0)
				return rc;
		}
		pb_cur v;
		if ((rc = pb_wap__skip_value(ctx, c, &v)) < 0)
			return rc;
		h->value = v.p;
		h->value_len = pb_cur_left(&v);
		if ((rc = header_text(ctx, h)) < 0)
			return rc;
		count++;
	}
	*out = arr;
	*n = count;
	return 0;
}

/* --- encoding ------------------------------------------------------------------------------ */

int pb_wap__put_value_length(pb_buf *out, size_t len)
{
	if (len > UINT32_MAX)
		return pb_error_set(PB_ETOOBIG, "value of %zu bytes is too long for WSP", len);
	if (len <= 30)
		return pb_buf_putc(out, (uint8_t)len);
	int rc = pb_buf_putc(out, 31);
	return rc ? rc : pb_wsp_uintvar_encode(out, (uint32_t)len);
}

int pb_wap__put_text(pb_buf *out, const char *s)
{
	int rc = 0;
	if ((uint8_t)s[0] >= 0x80)
		rc = pb_buf_putc(out, 0x7F);
	return rc ? rc : pb_buf_put(out, s, strlen(s) + 1);
}

int pb_wap__put_quoted(pb_buf *out, const char *s)
{
	int rc = pb_buf_putc(out, '"');
	return rc ? rc : pb_buf_put(out, s, strlen(s) + 1);
}

int pb_wap__put_long_integer(pb_buf *out, uint64_t v)
{
	uint8_t tmp[9];
	int n = 0;
	do {
		tmp[8 - n++] = v & 0xFF;
		v >>= 8;
	} while (v);
	tmp[8 - n] = (uint8_t)n;
	return pb_buf_put(out, tmp + 8 - n, (size_t)n + 1);
}

int pb_wap__put_integer(pb_buf *out, uint64_t v)
{
	return v < 0x80 ? pb_buf_putc(out, (uint8_t)(v | 0x80)) : pb_wap__put_long_integer(out, v);
}

int pb_wap__put_encoded_string(pb_buf *out, const char *s)
{
	size_t n = strlen(s);
	if (all_ascii((const uint8_t *)s, n))
		return pb_wap__put_text(out, s);
	int rc = pb_wap__put_value_length(out, 1 + ((uint8_t)s[0] >= 0x80) + n + 1);
	if (!rc)
		rc = pb_buf_putc(out, 0x80 | 106); /* UTF-8 */
	return rc ? rc : pb_wap__put_text(out, s);
}

int pb_wap__put_content_type(pb_buf *out, const char *media_type, unsigned int charset_mib,
			     const char *name, const char *type, const char *start)
{
	pb_buf v = PB_BUF_INIT;
	int code = pb_wsp_content_type_code(media_type);
	int rc = code >= 0 ? pb_wap__put_integer(&v, (uint64_t)code) : pb_wap__put_text(&v, media_type);
	if (!rc && charset_mib && !(rc = pb_buf_putc(&v, 0x81)))
		rc = pb_wap__put_integer(&v, charset_mib);
	if (!rc && type && !(rc = pb_buf_putc(&v, 0x89)))
		rc = pb_wap__put_text(&v, type);
	if (!rc && start && !(rc = pb_buf_putc(&v, 0x8A)))
		rc = pb_wap__put_text(&v, start);
	if (!rc && name && !(rc = pb_buf_putc(&v, 0x85)))
		rc = pb_wap__put_text(&v, name);
	if (!rc) {
		if (v.len == 1 && code >= 0 && code < 0x80)
			rc = pb_buf_put(out, v.data, v.len);
		else if (!(rc = pb_wap__put_value_length(out, v.len)))
			rc = pb_buf_put(out, v.data, v.len);
	}
	pb_buf_dispose(&v);
	return rc;
}
