/*
 * libphonebridge — UTF-8 and character set conversion.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <iconv.h>
#include <string.h>

#include "core/internal.h"

/* --- UTF-8 (RFC 3629 §4: the well-formed byte sequences) ------------------ */

PB_API size_t pb_utf8_decode(const char *str, size_t len, uint32_t *cp)
{
	const uint8_t *s = (const uint8_t *)str;
	if (len == 0) {
		*cp = PB_UNICODE_REPLACEMENT;
		return 0;
	}
	uint8_t b0 = s[0];
	if (b0 < 0x80) {
		*cp = b0;
		return 1;
	}
	size_t n;
	uint32_t c;
	uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
	if (b0 >= 0xC2 && b0 <= 0xDF) {
		n = 2;
		c = b0 & 0x1F;
	} else if (b0 >= 0xE0 && b0 <= 0xEF) {
		n = 3;
		c = b0 & 0x0F;
		if (b0 == 0xE0)
			lo = 0xA0; /* no overlong forms */
		else if (b0 == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (b0 >= 0xF0 && b0 <= 0xF4) {
		n = 4;
		c = b0 & 0x07;
		if (b0 == 0xF0)
			lo = 0x90;
		else if (b0 == 0xF4)
			hi = 0x8F; /* nothing above U+10FFFF */
	} else {
		*cp = PB_UNICODE_REPLACEMENT;
		return 1;
	}
	/* Consume the longest well-formed prefix as one U+FFFD ("maximal
	 * subpart" practice of Unicode §3.9), so a loop over broken text
	 * produces one replacement per broken sequence. */
	for (size_t i = 1; i < n; i++) {
		if (i >= len || s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xBF)) {
			*cp = PB_UNICODE_REPLACEMENT;
			return i;
		}
		c = c << 6 | (s[i] & 0x3F);
	}
	*cp = c;
	return n;
}

PB_API size_t pb_utf8_encode(uint32_t cp, char out[4])
{
	if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		cp = PB_UNICODE_REPLACEMENT;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* A well-formed sequence decodes to something other than U+FFFD, or to
 * U+FFFD spelled as its own three bytes. */
static bool utf8_ok(const char *s, size_t n, uint32_t cp)
{
	return cp != PB_UNICODE_REPLACEMENT || (n == 3 && memcmp(s, "\xEF\xBF\xBD", 3) == 0);
}

PB_API int pb_utf8_validate(const char *s, size_t len, size_t *bad_offset)
{
	size_t i = 0;
	while (i < len) {
		/* fast path over ASCII */
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		uint32_t cp;
		size_t n = pb_utf8_decode(s + i, len - i, &cp);
		if (!utf8_ok(s + i, n, cp)) {
			if (bad_offset)
				*bad_offset = i;
			return pb_error_set(PB_EMALFORMED, "offset %zu: ill-formed UTF-8", i);
		}
		i += n;
	}
	return 0;
}

PB_API int pb_utf8_sanitize(pb_buf *out, const char *s, size_t len)
{
	int rc = pb_buf_reserve(out, len);
	if (rc < 0 || len == 0) /* s may be NULL when len is 0 */
		return rc;
	size_t i = 0, run = 0; /* run: start of the pending well-formed span */
	while (i < len) {
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		uint32_t cp;
		size_t n = pb_utf8_decode(s + i, len - i, &cp);
		if (utf8_ok(s + i, n, cp)) {
			i += n;
			continue;
		}
		if ((rc = pb_buf_put(out, s + run, i - run)) < 0 ||
		    (rc = pb_buf_put(out, "\xEF\xBF\xBD", 3)) < 0)
			return rc;
		i += n;
		run = i;
	}
	return pb_buf_put(out, s + run, len - run);
}

/* --- UTF-16 without iconv: exact surrogate handling ---------------------- */

static int utf16_to_utf8(pb_buf *out, const uint8_t *in, size_t len, bool big_endian)
{
	int rc;
	size_t i = 0;
	while (i + 1 < len) {
		uint32_t u = big_endian ? (uint32_t)(in[i] << 8 | in[i + 1]) : (uint32_t)(in[i + 1] << 8 | in[i]);
		i += 2;
		if (u >= 0xD800 && u <= 0xDBFF && i + 1 < len) {
			uint32_t l = big_endian ? (uint32_t)(in[i] << 8 | in[i + 1])
						: (uint32_t)(in[i + 1] << 8 | in[i]);
			if (l >= 0xDC00 && l <= 0xDFFF) {
				u = 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00);
				i += 2;
			}
		}
		char tmp[4];
		/* a lone surrogate is encoded as U+FFFD by pb_utf8_encode */
		if ((rc = pb_buf_put(out, tmp, pb_utf8_encode(u, tmp))) < 0)
			return rc;
	}
	if (i < len) /* odd trailing byte */
		return pb_buf_put(out, "\xEF\xBF\xBD", 3);
	return 0;
}

static bool name_is(const char *name, const char *const *aliases)
{
	for (; *aliases; aliases++)
		if (pb_ascii_casecmp(name, *aliases) == 0)
			return true;
	return false;
}

static const char *const utf8_names[] = { "UTF-8", "UTF8", NULL };
static const char *const ascii_names[] = { "US-ASCII", "ASCII", "ANSI_X3.4-1968", "us", NULL };
static const char *const utf16_names[] = { "UTF-16", "UTF16", NULL };
static const char *const utf16be_names[] = { "UTF-16BE", "ISO-10646-UCS-2", "UCS-2", "UCS2", "csUnicode", NULL };
static const char *const utf16le_names[] = { "UTF-16LE", NULL };

/* Registry names that iconv knows under another name. */
static const struct {
	const char *name, *iconv_name;
} iconv_aliases[] = {
	/* what MIME labels KS_C_5601-1987 is in practice Windows' superset of EUC-KR */
	{ "KS_C_5601-1987", "CP949" },
	{ "ISO-10646-UCS-4", "UCS-4" },
};

static iconv_t open_iconv(const char *to, const char *from)
{
	iconv_t cd = iconv_open(to, from);
	for (size_t i = 0; cd == (iconv_t)-1 && i < PB_ARRAY_SIZE(iconv_aliases); i++) {
		if (pb_ascii_casecmp(from, iconv_aliases[i].name) == 0)
			cd = iconv_open(to, iconv_aliases[i].iconv_name);
		else if (pb_ascii_casecmp(to, iconv_aliases[i].name) == 0)
			cd = iconv_open(iconv_aliases[i].iconv_name, from);
	}
	return cd;
}

/*
 * iconv is trusted to convert, not to produce valid UTF-8: glibc passes
 * UCS-4 values above U+10FFFF through as 4-byte sequences. Replace whatever
 * is ill-formed in what it appended after @start.
 */
static int resanitize(pb_buf *out, size_t start)
{
	if (out->len == start ||
	    pb_utf8_validate((const char *)out->data + start, out->len - start, NULL) == 0) {
		pb_error_clear();
		return 0;
	}
	pb_buf raw = PB_BUF_INIT;
	int rc = pb_buf_put(&raw, out->data + start, out->len - start);
	if (rc == 0) {
		pb_buf_truncate(out, start);
		rc = pb_utf8_sanitize(out, (const char *)raw.data, raw.len);
	}
	pb_buf_dispose(&raw);
	return rc;
}

static int iconv_to_utf8(pb_buf *out, const char *charset, const uint8_t *in, size_t len)
{
	iconv_t cd = open_iconv("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return pb_error_set(PB_EUNSUPPORTED, "charset \"%s\" is not supported", charset);
	int rc = 0;
	size_t start = out->len;
	char *ip = (char *)(uintptr_t)in; /* iconv's prototype lacks const */
	size_t ileft = len;
	while (ileft > 0) {
		if ((rc = pb_buf_reserve(out, ileft * 4 + 16)) < 0)
			break;
		char *op = (char *)out->data + out->len;
		size_t oleft = out->cap - out->len - 1;
		size_t r = iconv(cd, &ip, &ileft, &op, &oleft);
		out->len = (size_t)((uint8_t *)op - out->data);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		/* EILSEQ or EINVAL (truncated at the end): mark and skip a byte */
		if ((rc = pb_buf_put(out, "\xEF\xBF\xBD", 3)) < 0)
			break;
		ip++;
		ileft--;
		iconv(cd, NULL, NULL, NULL, NULL); /* reset shift state */
	}
	iconv_close(cd);
	if (out->data)
		out->data[out->len] = '\0';
	if (rc == 0)
		rc = resanitize(out, start);
	return rc;
}

PB_API int pb_charset_to_utf8(pb_buf *out, const char *charset, const void *in, size_t len)
{
	const uint8_t *b = in;
	if (charset == NULL || name_is(charset, utf8_names)) {
		/* a UTF-8 byte order mark carries no text */
		if (len >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) {
			b += 3;
			len -= 3;
		}
		return pb_utf8_sanitize(out, (const char *)b, len);
	}
	if (name_is(charset, ascii_names)) {
		int rc = pb_buf_reserve(out, len);
		for (size_t i = 0; rc == 0 && i < len; i++)
			rc = b[i] < 0x80 ? pb_buf_putc(out, b[i]) : pb_buf_put(out, "\xEF\xBF\xBD", 3);
		return rc;
	}
	if (name_is(charset, utf16_names)) {
		if (len >= 2 && b[0] == 0xFF && b[1] == 0xFE)
			return utf16_to_utf8(out, b + 2, len - 2, false);
		if (len >= 2 && b[0] == 0xFE && b[1] == 0xFF)
			return utf16_to_utf8(out, b + 2, len - 2, true);
		return utf16_to_utf8(out, b, len, true);
	}
	if (name_is(charset, utf16be_names))
		return utf16_to_utf8(out, b, len, true);
	if (name_is(charset, utf16le_names))
		return utf16_to_utf8(out, b, len, false);
	return iconv_to_utf8(out, charset, b, len);
}

PB_API int pb_charset_from_utf8(pb_buf *out, const char *charset, const char *in, size_t len)
{
	size_t bad;
	if (pb_utf8_validate(in, len, &bad) < 0)
		return pb_error_set(PB_EMALFORMED, "offset %zu: input is not UTF-8", bad);
	if (charset == NULL || name_is(charset, utf8_names))
		return pb_buf_put(out, in, len);
	/* UTF-16 output is big-endian without a byte order mark (RFC 2781) */
	const char *target = name_is(charset, utf16_names) ? "UTF-16BE" : charset;
	iconv_t cd = open_iconv(target, "UTF-8");
	if (cd == (iconv_t)-1)
		return pb_error_set(PB_EUNSUPPORTED, "charset \"%s\" is not supported", charset);
	size_t start = out->len;
	int rc = 0;
	char *ip = (char *)(uintptr_t)in;
	size_t ileft = len;
	bool flushed = false;
	/* convert, then flush the shift state (stateful charsets such as
	 * ISO-2022-JP end with an escape back to ASCII) */
	while (!flushed) {
		if ((rc = pb_buf_reserve(out, ileft * 4 + 16)) < 0)
			break;
		char *op = (char *)out->data + out->len;
		size_t oleft = out->cap - out->len - 1;
		bool flushing = ileft == 0;
		size_t r = flushing ? iconv(cd, NULL, NULL, &op, &oleft) : iconv(cd, &ip, &ileft, &op, &oleft);
		out->len = (size_t)((uint8_t *)op - out->data);
		if (r != (size_t)-1) {
			flushed = flushing;
			continue;
		}
		if (errno == E2BIG)
			continue;
		rc = pb_error_set(PB_ERANGE, "offset %zu: character cannot be written in %s",
				  (size_t)(ip - in), charset);
		break;
	}
	iconv_close(cd);
	if (rc < 0)
		pb_buf_truncate(out, start);
	else if (out->data)
		out->data[out->len] = '\0';
	return rc;
}

/* --- IANA MIBenum numbers (iana.org/assignments/character-sets), the ones
 * WSP/MMS encoders are seen to use (WAP-230-WSP Appendix A, Table 42). ---- */

static const struct {
	unsigned int mib;
	const char *name;
} mib_table[] = {
	{ 3, "US-ASCII" },
	{ 4, "ISO-8859-1" },
	{ 5, "ISO-8859-2" },
	{ 6, "ISO-8859-3" },
	{ 7, "ISO-8859-4" },
	{ 8, "ISO-8859-5" },
	{ 9, "ISO-8859-6" },
	{ 10, "ISO-8859-7" },
	{ 11, "ISO-8859-8" },
	{ 12, "ISO-8859-9" },
	{ 13, "ISO-8859-10" },
	{ 17, "Shift_JIS" },
	{ 18, "EUC-JP" },
	{ 36, "KS_C_5601-1987" },
	{ 37, "ISO-2022-KR" },
	{ 38, "EUC-KR" },
	{ 39, "ISO-2022-JP" },
	{ 40, "ISO-2022-JP-2" },
	{ 104, "ISO-2022-CN" },
	{ 105, "ISO-2022-CN-EXT" },
	{ 106, "UTF-8" },
	{ 109, "ISO-8859-13" },
	{ 110, "ISO-8859-14" },
	{ 111, "ISO-8859-15" },
	{ 112, "ISO-8859-16" },
	{ 113, "GBK" },
	{ 114, "GB18030" },
	{ 1000, "ISO-10646-UCS-2" },
	{ 1001, "ISO-10646-UCS-4" },
	{ 1013, "UTF-16BE" },
	{ 1014, "UTF-16LE" },
	{ 1015, "UTF-16" },
	{ 1017, "UTF-32" },
	{ 1018, "UTF-32BE" },
	{ 1019, "UTF-32LE" },
	{ 2025, "GB2312" },
	{ 2026, "Big5" },
	{ 2084, "KOI8-R" },
	{ 2088, "KOI8-U" },
	{ 2250, "windows-1250" },
	{ 2251, "windows-1251" },
	{ 2252, "windows-1252" },
	{ 2253, "windows-1253" },
	{ 2254, "windows-1254" },
	{ 2255, "windows-1255" },
	{ 2256, "windows-1256" },
	{ 2257, "windows-1257" },
	{ 2258, "windows-1258" },
	{ 2259, "TIS-620" },
};

static const struct {
	const char *alias;
	unsigned int mib;
} mib_aliases[] = {
	{ "ASCII", 3 }, { "us", 3 }, { "ANSI_X3.4-1968", 3 }, { "latin1", 4 }, { "latin2", 5 },
	{ "UTF8", 106 }, { "SJIS", 17 }, { "UCS-2", 1000 }, { "UCS2", 1000 }, { "csUnicode", 1000 },
	{ "UTF16", 1015 }, { "BIG-5", 2026 }, { "cp1251", 2251 }, { "cp1252", 2252 },
};

PB_API const char *pb_charset_from_mib(unsigned mib)
{
	for (size_t i = 0; i < PB_ARRAY_SIZE(mib_table); i++)
		if (mib_table[i].mib == mib)
			return mib_table[i].name;
	return NULL;
}

PB_API int pb_charset_to_mib(const char *name)
{
	if (name == NULL)
		return pb_error_set(PB_EINVAL, "pb_charset_to_mib: NULL name");
	for (size_t i = 0; i < PB_ARRAY_SIZE(mib_table); i++)
		if (pb_ascii_casecmp(mib_table[i].name, name) == 0)
			return (int)mib_table[i].mib;
	for (size_t i = 0; i < PB_ARRAY_SIZE(mib_aliases); i++)
		if (pb_ascii_casecmp(mib_aliases[i].alias, name) == 0)
			return (int)mib_aliases[i].mib;
	return pb_error_set(PB_ENOTFOUND, "charset \"%s\" has no MIBenum here", name);
}
