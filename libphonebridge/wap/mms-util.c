/*
 * libphonebridge — what programs want from a decoded MMS: its text, its
 * media parts, their digests.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <openssl/evp.h>

#include "wap/wap-internal.h"

PB_API bool pb_mms_retrieve_ok(const pb_mms_message *msg)
{
	return msg && (msg->retrieve_status == 0 || msg->retrieve_status == PB_MMS_RETRIEVE_OK);
}

PB_API bool pb_mms_part_is_smil(const pb_mms_part *part)
{
	return part && !pb_ascii_casecmp(part->content_type.media_type, "application/smil");
}

PB_API bool pb_mms_part_is_text(const pb_mms_part *part)
{
	return part && !part->is_multipart &&
	       !pb_ascii_ncasecmp(part->content_type.media_type, "text/", 5) &&
	       pb_ascii_casecmp(part->content_type.media_type, "text/x-vcard") != 0 &&
	       pb_ascii_casecmp(part->content_type.media_type, "text/vcard") != 0 &&
	       pb_ascii_casecmp(part->content_type.media_type, "text/x-vcalendar") != 0;
}

PB_API bool pb_mms_part_is_media(const pb_mms_part *part)
{
	return part && !part->is_multipart && !pb_mms_part_is_text(part) && !pb_mms_part_is_smil(part);
}

/* Text that starts with a UTF-16 byte order mark (FF FE or FE FF) and has
 * no charset, a Unicode one, or UTF-8/US-ASCII (which such bytes cannot
 * be): UTF-16 in the order the mark says (RFC 2781 §3.2). */
static bool utf16_bom(const char *cs, const uint8_t *p, size_t n)
{
	if (n < 2 || !((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF)))
		return false;
	return !cs || !strcmp(cs, "*") || !pb_ascii_casecmp(cs, "UTF-8") || !pb_ascii_casecmp(cs, "US-ASCII") ||
	       !pb_ascii_ncasecmp(cs, "UTF-16", 6) || !pb_ascii_ncasecmp(cs, "UCS-2", 5) ||
	       !pb_ascii_casecmp(cs, "ISO-10646-UCS-2");
}

PB_API int pb_mms_part_text(const pb_mms_part *part, pb_buf *out)
{
	if (!part || !out)
		return pb_error_set(PB_EINVAL, "pb_mms_part_text: NULL argument");
	if (part->is_multipart)
		return pb_error_set(PB_EINVAL, "pb_mms_part_text: a multipart container has no text");
	const pb_wsp_content_type *ct = &part->content_type;
	const char *cs = ct->charset_mib ? pb_charset_from_mib(ct->charset_mib) : ct->charset;
	if (utf16_bom(cs, part->data, part->len))
		cs = "UTF-16"; /* the mark decides the byte order, and is dropped */
	if (cs && strcmp(cs, "*") != 0 && pb_ascii_casecmp(cs, "UTF-8") != 0 &&
	    pb_ascii_casecmp(cs, "US-ASCII") != 0) {
		size_t start = out->len;
		int rc = pb_charset_to_utf8(out, cs, part->data, part->len);
		if (rc == 0 && pb_utf8_validate((const char *)out->data + start, out->len - start, NULL) != 0) {
			/* iconv let something ill-formed through (UCS-4 above U+10FFFF) */
			pb_buf fixed = PB_BUF_INIT;
			rc = pb_utf8_sanitize(&fixed, (const char *)out->data + start, out->len - start);
			pb_buf_truncate(out, start);
			if (rc == 0)
				rc = pb_buf_put(out, fixed.data, fixed.len);
			pb_buf_dispose(&fixed);
		}
		if (rc != PB_EUNSUPPORTED)
			return rc;
		pb_error_clear();
	}
	/* UTF-8 with a byte order mark is still UTF-8 */
	const char *s = (const char *)part->data;
	size_t n = part->len;
	if (n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
		s += 3, n -= 3;
	return pb_utf8_sanitize(out, s, n);
}

/* In a multipart/alternative only the first text version counts (the
 * others say the same in another form, e.g. text/html). */
static bool alternative_taken(const pb_mms_message *msg, size_t i)
{
	int parent = msg->parts[i].parent;
	if (parent < 0 || !strstr(msg->parts[parent].content_type.media_type, "alternative"))
		return false;
	for (size_t k = (size_t)parent + 1; k < i; k++)
		if (msg->parts[k].parent == parent && pb_mms_part_is_text(&msg->parts[k]))
			return true;
	return false;
}

PB_API int pb_mms_message_text(const pb_mms_message *msg, pb_buf *out)
{
	if (!msg || !out)
		return pb_error_set(PB_EINVAL, "pb_mms_message_text: NULL argument");
	bool first = true;
	for (size_t i = 0; i < msg->n_parts; i++) {
		const pb_mms_part *p = &msg->parts[i];
		if (!pb_mms_part_is_text(p) || alternative_taken(msg, i))
			continue;
		int rc;
		if (!first && (rc = pb_buf_puts(out, "\n\n")) < 0)
			return rc;
		if ((rc = pb_mms_part_text(p, out)) < 0)
			return rc;
		first = false;
	}
	return 0;
}

PB_API int pb_mms_part_sha256(const pb_mms_part *part, uint8_t digest[32], char hex[65])
{
	if (!part)
		return pb_error_set(PB_EINVAL, "pb_mms_part_sha256: NULL part");
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const uint8_t empty[1];
	if (!EVP_Digest(part->len ? part->data : empty, part->len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32)
		return pb_error_set(PB_ERROR, "libcrypto: SHA-256 failed");
	if (digest)
		memcpy(digest, md, 32);
	if (hex) {
		static const char digits[] = "0123456789abcdef";
		for (int i = 0; i < 32; i++) {
			hex[2 * i] = digits[md[i] >> 4];
			hex[2 * i + 1] = digits[md[i] & 15];
		}
		hex[64] = '\0';
	}
	return 0;
}
