/*
 * libphonebridge — SMS: the GSM 7-bit default alphabet, its extension table
 * and the national language shift tables (3GPP TS 23.038 §6.2.1 and Annex
 * A), septet packing and UCS-2 decoding.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sms-private.h"

#include <string.h>

#include "core/internal.h"

/*
 * Each locking shift table is listed once (an X-macro) and expanded twice:
 * as code points, and as their UTF-8 bytes packed little-endian with the
 * length in the top octet, computed by the compiler, so that decoding a
 * septet is one load and one store.
 */
#define CP_ENTRY(c) (c),
#define UTF8_LEN(c) ((c) < 0x80 ? 1u : (c) < 0x800 ? 2u : 3u)
#define UTF8_PACK(c)                                                                              \
	((c) < 0x80 ? (uint32_t)(c)                                                                 \
	 : (c) < 0x800 ? (uint32_t)(0xC0 | ((c) >> 6)) | (uint32_t)(0x80 | ((c) & 0x3F)) << 8 \
		       : (uint32_t)(0xE0 | ((c) >> 12)) | (uint32_t)(0x80 | (((c) >> 6) & 0x3F)) << 8 | \
			 (uint32_t)(0x80 | ((c) & 0x3F)) << 16)
#define UTF8_ENTRY(c) (UTF8_LEN(c) << 24 | UTF8_PACK(c)),

/* TS 23.038 §6.2.1, the default alphabet. 0x1B is the escape (0 here). */
#define GSM_DEFAULT(X) \
	X(0x0040) X(0x00A3) X(0x0024) X(0x00A5) X(0x00E8) X(0x00E9) X(0x00F9) X(0x00EC) \
	X(0x00F2) X(0x00C7) X(0x000A) X(0x00D8) X(0x00F8) X(0x000D) X(0x00C5) X(0x00E5) \
	X(0x0394) X(0x005F) X(0x03A6) X(0x0393) X(0x039B) X(0x03A9) X(0x03A0) X(0x03A8) \
	X(0x03A3) X(0x0398) X(0x039E) X(0x0000) X(0x00C6) X(0x00E6) X(0x00DF) X(0x00C9) \
	X(0x0020) X(0x0021) X(0x0022) X(0x0023) X(0x00A4) X(0x0025) X(0x0026) X(0x0027) \
	X(0x0028) X(0x0029) X(0x002A) X(0x002B) X(0x002C) X(0x002D) X(0x002E) X(0x002F) \
	X(0x0030) X(0x0031) X(0x0032) X(0x0033) X(0x0034) X(0x0035) X(0x0036) X(0x0037) \
	X(0x0038) X(0x0039) X(0x003A) X(0x003B) X(0x003C) X(0x003D) X(0x003E) X(0x003F) \
	X(0x00A1) X(0x0041) X(0x0042) X(0x0043) X(0x0044) X(0x0045) X(0x0046) X(0x0047) \
	X(0x0048) X(0x0049) X(0x004A) X(0x004B) X(0x004C) X(0x004D) X(0x004E) X(0x004F) \
	X(0x0050) X(0x0051) X(0x0052) X(0x0053) X(0x0054) X(0x0055) X(0x0056) X(0x0057) \
	X(0x0058) X(0x0059) X(0x005A) X(0x00C4) X(0x00D6) X(0x00D1) X(0x00DC) X(0x00A7) \
	X(0x00BF) X(0x0061) X(0x0062) X(0x0063) X(0x0064) X(0x0065) X(0x0066) X(0x0067) \
	X(0x0068) X(0x0069) X(0x006A) X(0x006B) X(0x006C) X(0x006D) X(0x006E) X(0x006F) \
	X(0x0070) X(0x0071) X(0x0072) X(0x0073) X(0x0074) X(0x0075) X(0x0076) X(0x0077) \
	X(0x0078) X(0x0079) X(0x007A) X(0x00E4) X(0x00F6) X(0x00F1) X(0x00FC) X(0x00E0)
static const uint16_t gsm_default[128] = { GSM_DEFAULT(CP_ENTRY) };
static const uint32_t gsm_default_utf8[128] = { GSM_DEFAULT(UTF8_ENTRY) };

/* TS 23.038 Annex A.3.1, Turkish locking shift table. */
#define GSM_TURKISH(X) \
	X(0x0040) X(0x00A3) X(0x0024) X(0x00A5) X(0x20AC) X(0x00E9) X(0x00F9) X(0x0131) \
	X(0x00F2) X(0x00C7) X(0x000A) X(0x011E) X(0x011F) X(0x000D) X(0x00C5) X(0x00E5) \
	X(0x0394) X(0x005F) X(0x03A6) X(0x0393) X(0x039B) X(0x03A9) X(0x03A0) X(0x03A8) \
	X(0x03A3) X(0x0398) X(0x039E) X(0x0000) X(0x015E) X(0x015F) X(0x00DF) X(0x00C9) \
	X(0x0020) X(0x0021) X(0x0022) X(0x0023) X(0x00A4) X(0x0025) X(0x0026) X(0x0027) \
	X(0x0028) X(0x0029) X(0x002A) X(0x002B) X(0x002C) X(0x002D) X(0x002E) X(0x002F) \
	X(0x0030) X(0x0031) X(0x0032) X(0x0033) X(0x0034) X(0x0035) X(0x0036) X(0x0037) \
	X(0x0038) X(0x0039) X(0x003A) X(0x003B) X(0x003C) X(0x003D) X(0x003E) X(0x003F) \
	X(0x0130) X(0x0041) X(0x0042) X(0x0043) X(0x0044) X(0x0045) X(0x0046) X(0x0047) \
	X(0x0048) X(0x0049) X(0x004A) X(0x004B) X(0x004C) X(0x004D) X(0x004E) X(0x004F) \
	X(0x0050) X(0x0051) X(0x0052) X(0x0053) X(0x0054) X(0x0055) X(0x0056) X(0x0057) \
	X(0x0058) X(0x0059) X(0x005A) X(0x00C4) X(0x00D6) X(0x00D1) X(0x00DC) X(0x00A7) \
	X(0x00E7) X(0x0061) X(0x0062) X(0x0063) X(0x0064) X(0x0065) X(0x0066) X(0x0067) \
	X(0x0068) X(0x0069) X(0x006A) X(0x006B) X(0x006C) X(0x006D) X(0x006E) X(0x006F) \
	X(0x0070) X(0x0071) X(0x0072) X(0x0073) X(0x0074) X(0x0075) X(0x0076) X(0x0077) \
	X(0x0078) X(0x0079) X(0x007A) X(0x00E4) X(0x00F6) X(0x00F1) X(0x00FC) X(0x00E0)
static const uint16_t gsm_turkish[128] = { GSM_TURKISH(CP_ENTRY) };
static const uint32_t gsm_turkish_utf8[128] = { GSM_TURKISH(UTF8_ENTRY) };

/* TS 23.038 Annex A.3.3, Portuguese locking shift table. */
#define GSM_PORTUGUESE(X) \
	X(0x0040) X(0x00A3) X(0x0024) X(0x00A5) X(0x00EA) X(0x00E9) X(0x00FA) X(0x00ED) \
	X(0x00F3) X(0x00E7) X(0x000A) X(0x00D4) X(0x00F4) X(0x000D) X(0x00C1) X(0x00E1) \
	X(0x0394) X(0x005F) X(0x00AA) X(0x00C7) X(0x00C0) X(0x221E) X(0x005E) X(0x005C) \
	X(0x20AC) X(0x00D3) X(0x007C) X(0x0000) X(0x00C2) X(0x00E2) X(0x00CA) X(0x00C9) \
	X(0x0020) X(0x0021) X(0x0022) X(0x0023) X(0x00BA) X(0x0025) X(0x0026) X(0x0027) \
	X(0x0028) X(0x0029) X(0x002A) X(0x002B) X(0x002C) X(0x002D) X(0x002E) X(0x002F) \
	X(0x0030) X(0x0031) X(0x0032) X(0x0033) X(0x0034) X(0x0035) X(0x0036) X(0x0037) \
	X(0x0038) X(0x0039) X(0x003A) X(0x003B) X(0x003C) X(0x003D) X(0x003E) X(0x003F) \
	X(0x00CD) X(0x0041) X(0x0042) X(0x0043) X(0x0044) X(0x0045) X(0x0046) X(0x0047) \
	X(0x0048) X(0x0049) X(0x004A) X(0x004B) X(0x004C) X(0x004D) X(0x004E) X(0x004F) \
	X(0x0050) X(0x0051) X(0x0052) X(0x0053) X(0x0054) X(0x0055) X(0x0056) X(0x0057) \
	X(0x0058) X(0x0059) X(0x005A) X(0x00C3) X(0x00D5) X(0x00DA) X(0x00DC) X(0x00A7) \
	X(0x007E) X(0x0061) X(0x0062) X(0x0063) X(0x0064) X(0x0065) X(0x0066) X(0x0067) \
	X(0x0068) X(0x0069) X(0x006A) X(0x006B) X(0x006C) X(0x006D) X(0x006E) X(0x006F) \
	X(0x0070) X(0x0071) X(0x0072) X(0x0073) X(0x0074) X(0x0075) X(0x0076) X(0x0077) \
	X(0x0078) X(0x0079) X(0x007A) X(0x00E3) X(0x00F5) X(0x0060) X(0x00FC) X(0x00E0)
static const uint16_t gsm_portuguese[128] = { GSM_PORTUGUESE(CP_ENTRY) };
static const uint32_t gsm_portuguese_utf8[128] = { GSM_PORTUGUESE(UTF8_ENTRY) };

/*
 * Single shift tables. The entries every table shares (TS 23.038 §6.2.1.1:
 * form feed, ^ { } \ [ ~ ] | and €) are listed in each, as the spec does.
 * 0x1B (escape to a further table) reads as a space, NOTE 1.
 */
#define GSM_EXT_COMMON                                                    \
	[0x0A] = 0x000C, [0x14] = 0x005E, [0x1B] = 0x0020, [0x28] = 0x007B, \
	[0x29] = 0x007D, [0x2F] = 0x005C, [0x3C] = 0x005B, [0x3D] = 0x007E, \
	[0x3E] = 0x005D, [0x40] = 0x007C, [0x65] = 0x20AC

/* TS 23.038 §6.2.1.1, the default extension table. */
static const uint16_t ext_default[128] = { GSM_EXT_COMMON };

/* Annex A.2.1, Turkish single shift table. */
static const uint16_t ext_turkish[128] = {
	GSM_EXT_COMMON,
	[0x47] = 0x011E, [0x49] = 0x0130, [0x53] = 0x015E, [0x63] = 0x00E7,
	[0x67] = 0x011F, [0x69] = 0x0131, [0x73] = 0x015F,
};

/* Annex A.2.2, Spanish single shift table (Spanish has no locking table). */
static const uint16_t ext_spanish[128] = {
	GSM_EXT_COMMON,
	[0x09] = 0x00E7, [0x41] = 0x00C1, [0x49] = 0x00CD, [0x4F] = 0x00D3,
	[0x55] = 0x00DA, [0x61] = 0x00E1, [0x69] = 0x00ED, [0x6F] = 0x00F3,
	[0x75] = 0x00FA,
};

/* Annex A.2.3, Portuguese single shift table. */
static const uint16_t ext_portuguese[128] = {
	GSM_EXT_COMMON,
	[0x05] = 0x00EA, [0x09] = 0x00E7, [0x0B] = 0x00D4, [0x0C] = 0x00F4,
	[0x0E] = 0x00C1, [0x0F] = 0x00E1, [0x12] = 0x03A6, [0x13] = 0x0393,
	[0x15] = 0x03A9, [0x16] = 0x03A0, [0x17] = 0x03A8, [0x18] = 0x03A3,
	[0x19] = 0x0398, [0x1F] = 0x00CA, [0x41] = 0x00C0, [0x49] = 0x00CD,
	[0x4F] = 0x00D3, [0x55] = 0x00DA, [0x5B] = 0x00C3, [0x5C] = 0x00D5,
	[0x61] = 0x00C2, [0x69] = 0x00ED, [0x6F] = 0x00F3, [0x75] = 0x00FA,
	[0x7B] = 0x00E3, [0x7C] = 0x00F5, [0x7F] = 0x00E2,
};

static const uint16_t *locking_table(unsigned lang)
{
	switch (lang) {
	case PB_SMS_LANG_TURKISH: return gsm_turkish;
	case PB_SMS_LANG_PORTUGUESE: return gsm_portuguese;
	default: return gsm_default;
	}
}

static const uint32_t *locking_utf8(unsigned lang)
{
	switch (lang) {
	case PB_SMS_LANG_TURKISH: return gsm_turkish_utf8;
	case PB_SMS_LANG_PORTUGUESE: return gsm_portuguese_utf8;
	default: return gsm_default_utf8;
	}
}

static const uint16_t *single_table(unsigned lang)
{
	switch (lang) {
	case PB_SMS_LANG_TURKISH: return ext_turkish;
	case PB_SMS_LANG_SPANISH: return ext_spanish;
	case PB_SMS_LANG_PORTUGUESE: return ext_portuguese;
	default: return ext_default;
	}
}

uint16_t pb_sms__locking(unsigned lang, uint8_t c)
{
	return locking_table(lang)[c & 0x7F];
}

uint16_t pb_sms__single(unsigned lang, uint8_t c)
{
	return single_table(lang)[c & 0x7F];
}

bool pb_sms__has_locking(unsigned lang)
{
	return lang == PB_SMS_LANG_TURKISH || lang == PB_SMS_LANG_PORTUGUESE;
}

bool pb_sms__has_single(unsigned lang)
{
	return lang >= PB_SMS_LANG_TURKISH && lang <= PB_SMS_LANG_PORTUGUESE;
}

/*
 * The default alphabet's septet for each code point below 0x80 (0xFF: not
 * there), so that plain ASCII text is encoded without searching.
 */
static const uint8_t ascii_to_gsm[128] = {
	0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0A, 0xFF, 0xFF, 0x0D, 0xFF, 0xFF,
	0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	0x20, 0x21, 0x22, 0x23, 0x02, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
	0x00, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F,
	0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0xFF, 0xFF, 0xFF, 0xFF, 0x11,
	0xFF, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F,
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
};

static int find_in(const uint16_t *table, uint32_t cp)
{
	for (int i = 0; i < 128; i++)
		if (table[i] == cp && i != PB_SMS__ESC)
			return i;
	return -1;
}

int pb_sms__gsm_encode_char(uint32_t cp, unsigned lock, unsigned single, uint8_t out[2])
{
	if (cp == 0)
		return 0; /* 0 marks empty table slots */
	if (cp < 0x80 && !pb_sms__has_locking(lock)) {
		if (ascii_to_gsm[cp] != 0xFF) {
			out[0] = ascii_to_gsm[cp];
			return 1;
		}
	} else if (cp <= 0xFFFF) {
		int c = find_in(locking_table(lock), cp);
		if (c >= 0) {
			out[0] = (uint8_t)c;
			return 1;
		}
	}
	if (cp > 0xFFFF || cp == 0x20)
		return 0; /* the single shift tables' 0x1B reads as a space; never write it */
	int c = find_in(single_table(single), cp);
	if (c < 0)
		return 0;
	out[0] = PB_SMS__ESC;
	out[1] = (uint8_t)c;
	return 2;
}

/* UTF-8 of one code point (no surrogates reach here); room checked by the caller. */
static inline size_t utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static inline size_t put_cp(char *out, size_t pos, size_t size, uint32_t cp)
{
	if (pos + 4 < size)
		return pos + utf8_put(out + pos, cp);
	char tmp[4];
	size_t n = utf8_put(tmp, cp);
	if (pos + n < size) {
		memcpy(out + pos, tmp, n);
		pos += n;
	}
	return pos;
}

static inline uint8_t septet_at(const uint8_t *ud, size_t idx)
{
	size_t bit = idx * 7;
	size_t byte = bit >> 3;
	unsigned shift = (unsigned)(bit & 7);
	unsigned v = ud[byte] >> shift;
	if (shift > 1)
		v |= (unsigned)ud[byte + 1] << (8 - shift);
	return (uint8_t)(v & 0x7F);
}

/* 0x80 in each octet of @b (all below 0x80) that lies in [lo, hi]. */
static inline uint64_t in_range(uint64_t b, uint8_t lo, uint8_t hi)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t ge = b + (0x80u - lo) * ones;   /* top bit set: octet >= lo */
	uint64_t gt = b + (0x7Fu - hi) * ones;   /* top bit set: octet > hi */
	return ge & ~gt & 0x8080808080808080ull;
}

size_t pb_sms__gsm_unpack(const uint8_t *ud, size_t first, size_t n, unsigned lock, unsigned single,
			  char *out, size_t size)
{
	const uint16_t *lt = locking_table(lock);
	const uint16_t *st = single_table(single);
	const uint32_t *lu = locking_utf8(lock);
	/* Every table maps to the BMP: 3 octets per septet at most. The fast
	 * path stores 4 octets at a time, so it needs one more. */
	bool fast = size >= n * 3 + 2 && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
	size_t pos = 0, i = 0;
	size_t avail = ((first + n) * 7 + 7) / 8; /* octets the caller vouches for */
	while (i < n) {
		size_t bit = (first + i) * 7;
		if (fast && i + 8 <= n && bit / 8 + 8 <= avail) {
			/* Eight septets out of the next eight octets, spread one per
			 * octet; host order is little-endian on this path. */
			uint64_t v;
			memcpy(&v, ud + bit / 8, 8);
			v >>= bit & 7;
			/* halves of 28 bits to 32-bit lanes, then 14 to 16, then 7 to 8 */
			uint64_t b = (v & 0xFFFFFFFull) | (v & 0xFFFFFFF0000000ull) << 4;
			b = (b & 0x00003FFF00003FFFull) | (b & 0x0FFFC0000FFFC000ull) << 2;
			b = (b & 0x007F007F007F007Full) | (b & 0x3F803F803F803F80ull) << 1;
			/* The septets 0x20-0x3F (but 0x24), 0x41-0x5A and 0x61-0x7A are
			 * their ASCII selves in every locking table here: eight of them
			 * are the output as they stand. */
			uint64_t asis = (in_range(b, 0x20, 0x3F) & ~in_range(b, 0x24, 0x24)) | in_range(b, 0x41, 0x5A) |
					in_range(b, 0x61, 0x7A);
			if (asis == 0x8080808080808080ull) {
				memcpy(out + pos, &b, 8);
				pos += 8;
				i += 8;
				continue;
			}
			/* where is the first escape? (the "has a zero byte" test) */
			uint64_t x = b ^ 0x1B1B1B1B1B1B1B1Bull;
			uint64_t esc = (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
			unsigned plain = esc ? (unsigned)__builtin_ctzll(esc) / 8 : 8;
			uint8_t s8[8];
			memcpy(s8, &b, 8);
			if (plain == 8) {
				for (unsigned k = 0; k < 8; k++) {
					uint32_t u = lu[s8[k]];
					memcpy(out + pos, &u, 4);
					pos += u >> 24;
				}
			} else {
				for (unsigned k = 0; k < plain; k++) {
					uint32_t u = lu[s8[k]];
					memcpy(out + pos, &u, 4);
					pos += u >> 24;
				}
			}
			i += plain;
			if (plain == 8)
				continue;
		}
		/* one character: a septet, or an escape and the septet after it */
		uint8_t c = septet_at(ud, first + i++);
		uint32_t cp;
		if (c != PB_SMS__ESC) {
			cp = lt[c];
		} else if (i < n) {
			uint8_t e = septet_at(ud, first + i++);
			cp = st[e];
			/* §6.2.1.1: a code the table lacks shows the main table's character */
			if (cp == 0)
				cp = e == PB_SMS__ESC ? 0x20 : lt[e];
		} else {
			cp = 0x20; /* a trailing escape, NOTE 1 */
		}
		if (fast)
			pos += utf8_put(out + pos, cp);
		else
			pos = put_cp(out, pos, size, cp);
	}
	if (size > 0)
		out[pos < size ? pos : size - 1] = '\0';
	return pos;
}

void pb_sms__gsm_pack(const uint8_t *septets, size_t n, size_t first, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		size_t bit = (first + i) * 7;
		size_t byte = bit >> 3;
		unsigned shift = (unsigned)(bit & 7);
		unsigned v = (unsigned)(septets[i] & 0x7F) << shift;
		out[byte] = (uint8_t)(out[byte] | (v & 0xFF));
		if (shift > 1)
			out[byte + 1] = (uint8_t)(out[byte + 1] | (v >> 8));
	}
}

size_t pb_sms__ucs2_to_utf8(const uint8_t *in, size_t len, char *out, size_t size)
{
	size_t pos = 0;
	size_t i = 0;
	while (i + 1 < len) {
		uint32_t u = (uint32_t)in[i] << 8 | in[i + 1];
		i += 2;
		if (u >= 0xD800 && u <= 0xDBFF && i + 1 < len) {
			uint32_t l = (uint32_t)in[i] << 8 | in[i + 1];
			if (l >= 0xDC00 && l <= 0xDFFF) {
				i += 2;
				u = 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00);
			}
		}
		if (u >= 0xD800 && u <= 0xDFFF)
			u = PB_UNICODE_REPLACEMENT;
		pos = put_cp(out, pos, size, u);
	}
	if (i < len)
		pos = put_cp(out, pos, size, PB_UNICODE_REPLACEMENT);
	if (size > 0)
		out[pos < size ? pos : size - 1] = '\0';
	return pos;
}
