/*
 * libphonebridge — MMS PDU encoding (OMA-MMS-ENC 1.3 §6-7): what a client
 * sends (M-NotifyResp.ind, M-Acknowledge.ind, M-Read-Rec.ind, M-Send.req),
 * and what an MMSC sends, for samples, tests and emulators.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "wap/wap-internal.h"

#define H(f) ((uint8_t)(0x80 | (f)))

static int put2(pb_buf *out, uint8_t a, uint8_t b)
{
	int rc = pb_buf_putc(out, a);
	return rc ? rc : pb_buf_putc(out, b);
}

static int put_text_header(pb_buf *out, uint8_t field, const char *s)
{
	int rc = pb_buf_putc(out, H(field));
	return rc ? rc : pb_wap__put_text(out, s);
}

static int put_estring_header(pb_buf *out, uint8_t field, const char *s)
{
	int rc = pb_buf_putc(out, H(field));
	return rc ? rc : pb_wap__put_encoded_string(out, s);
}

static int put_date_header(pb_buf *out, uint8_t field, int64_t t)
{
	int rc = pb_buf_putc(out, H(field));
	return rc ? rc : pb_wap__put_long_integer(out, (uint64_t)t);
}

/* Phone numbers get /TYPE=PLMN (§8); e-mail addresses go as they are. */
static int put_address(pb_buf *out, uint8_t field, const char *addr)
{
	bool number = addr[0] != '\0' && strspn(addr, "+0123456789*#") == strlen(addr);
	pb_buf a = PB_BUF_INIT;
	int rc = pb_buf_puts(&a, addr);
	if (!rc && number)
		rc = pb_buf_puts(&a, "/TYPE=PLMN");
	if (!rc)
		rc = field == 0x09 ? 0 : put_estring_header(out, field, pb_buf_cstr(&a));
	if (!rc && field == 0x09) { /* From: Value-length Address-present-token Encoded-string */
		pb_buf v = PB_BUF_INIT;
		if (!(rc = pb_buf_putc(&v, 0x80)) && !(rc = pb_wap__put_encoded_string(&v, pb_buf_cstr(&a))) &&
		    !(rc = pb_buf_putc(out, H(0x09))) && !(rc = pb_wap__put_value_length(out, v.len)))
			rc = pb_buf_put(out, v.data, v.len);
		pb_buf_dispose(&v);
	}
	pb_buf_dispose(&a);
	return rc;
}

static int put_from(pb_buf *out, const char *from)
{
	if (from)
		return put_address(out, 0x09, from);
	int rc = put2(out, H(0x09), 1);
	return rc ? rc : pb_buf_putc(out, 0x81); /* Insert-address-token */
}

static int put_relative(pb_buf *out, uint8_t field, int64_t seconds)
{
	pb_buf v = PB_BUF_INIT;
	int rc = pb_buf_putc(&v, 0x81); /* Relative-token */
	if (!rc && !(rc = pb_wap__put_long_integer(&v, (uint64_t)seconds)) && !(rc = pb_buf_putc(out, H(field))) &&
	    !(rc = pb_wap__put_value_length(out, v.len)))
		rc = pb_buf_put(out, v.data, v.len);
	pb_buf_dispose(&v);
	return rc;
}

static int start_pdu(pb_buf *out, uint8_t type, const char *tid)
{
	int rc = put2(out, H(0x0C), type);
	if (!rc && tid)
		rc = put_text_header(out, 0x18, tid);
	return rc ? rc : put2(out, H(0x0D), H(PB_MMS_VERSION_1_3));
}

static bool bad_token(int v, int lo, int hi) { return v != 0 && (v < lo || v > hi); }

PB_API int pb_mms_encode_notifyresp(pb_buf *out, const char *transaction_id, pb_mms_status status,
				    pb_mms_yes_no report_allowed)
{
	/* any Short-integer token (a status this enum does not name yet is still sent) */
	if (!out || !transaction_id || (int)status < 128 || (int)status > 255 ||
	    bad_token((int)report_allowed, 128, 129))
		return pb_error_set(PB_EINVAL, "pb_mms_encode_notifyresp: bad argument");
	size_t len0 = out->len;
	int rc = start_pdu(out, PB_MMS_NOTIFYRESP_IND, transaction_id);
	if (!rc)
		rc = put2(out, H(0x15), (uint8_t)status);
	if (!rc && report_allowed)
		rc = put2(out, H(0x11), (uint8_t)report_allowed);
	if (rc)
		pb_buf_truncate(out, len0);
	return rc;
}

PB_API int pb_mms_encode_ack(pb_buf *out, const char *transaction_id, pb_mms_yes_no report_allowed)
{
	if (!out || !transaction_id || bad_token((int)report_allowed, 128, 129))
		return pb_error_set(PB_EINVAL, "pb_mms_encode_ack: bad argument");
	size_t len0 = out->len;
	int rc = start_pdu(out, PB_MMS_ACKNOWLEDGE_IND, transaction_id);
	if (!rc && report_allowed)
		rc = put2(out, H(0x11), (uint8_t)report_allowed);
	if (rc)
		pb_buf_truncate(out, len0);
	return rc;
}

PB_API int pb_mms_encode_read_rec(pb_buf *out, const char *message_id, const char *to,
				  const char *from, int64_t date, pb_mms_read_status read_status)
{
	if (!out || !message_id || !to ||
	    (read_status != PB_MMS_READ_STATUS_READ && read_status != PB_MMS_READ_STATUS_DELETED))
		return pb_error_set(PB_EINVAL, "pb_mms_encode_read_rec: bad argument");
	size_t len0 = out->len;
	int rc = start_pdu(out, PB_MMS_READ_REC_IND, NULL);
	if (!rc)
		rc = put_text_header(out, 0x0B, message_id);
	if (!rc)
		rc = put_address(out, 0x17, to);
	if (!rc)
		rc = put_from(out, from);
	if (!rc && date > 0)
		rc = put_date_header(out, 0x05, date);
	if (!rc)
		rc = put2(out, H(0x1B), (uint8_t)read_status);
	if (rc)
		pb_buf_truncate(out, len0);
	return rc;
}

PB_API int pb_mms_encode_notification(pb_buf *out, const pb_mms_notification *n)
{
	if (!out || !n || !n->transaction_id || !n->content_location)
		return pb_error_set(PB_EINVAL, "pb_mms_encode_notification: bad argument");
	size_t len0 = out->len;
	int rc = start_pdu(out, PB_MMS_NOTIFICATION_IND, n->transaction_id);
	if (!rc && n->from)
		rc = put_address(out, 0x09, n->from);
	if (!rc && n->subject)
		rc = put_estring_header(out, 0x16, n->subject);
	if (!rc && (!n->message_class || !pb_ascii_casecmp(n->message_class, "personal")))
		rc = put2(out, H(0x0A), 0x80);
	else if (!rc)
		rc = put_text_header(out, 0x0A, n->message_class);
	if (!rc && !(rc = pb_buf_putc(out, H(0x0E))))
		rc = pb_wap__put_long_integer(out, n->message_size);
	if (!rc)
		rc = put_relative(out, 0x08, n->expiry > 0 ? n->expiry : 7 * 24 * 3600);
	if (!rc)
		rc = put_text_header(out, 0x03, n->content_location);
	if (rc)
		pb_buf_truncate(out, len0);
	return rc;
}

/* --- M-Send.req / M-Retrieve.conf body ------------------------------------------------ */

struct slide_part {
	const char *type;
	char *name;
	const uint8_t *data;
	size_t len;
	unsigned int charset;
};

static const char *smil_element(const char *type)
{
	if (!pb_ascii_ncasecmp(type, "image/", 6))
		return "img";
	if (!pb_ascii_ncasecmp(type, "audio/", 6))
		return "audio";
	if (!pb_ascii_ncasecmp(type, "video/", 6))
		return "video";
	if (!pb_ascii_ncasecmp(type, "text/", 5))
		return "text";
	return NULL;
}

static int xml_attr(pb_buf *b, const char *s)
{
	int rc = 0;
	for (; *s && !rc; s++) {
		switch (*s) {
		case '&': rc = pb_buf_puts(b, "&amp;"); break;
		case '<': rc = pb_buf_puts(b, "&lt;"); break;
		case '>': rc = pb_buf_puts(b, "&gt;"); break;
		case '"': rc = pb_buf_puts(b, "&quot;"); break;
		default: rc = pb_buf_putc(b, (uint8_t)*s);
		}
	}
	return rc;
}

/* OMA-MMS-CONF SMIL: an image/video region above a text region; one slide
 * per image/video/audio, the text on the first. */
static int make_smil(pb_buf *b, const struct slide_part *parts, size_t n)
{
	int rc = pb_buf_puts(b,
		"<smil><head><layout><root-layout width=\"320\" height=\"480\"/>"
		"<region id=\"Image\" left=\"0\" top=\"0\" width=\"320\" height=\"320\" fit=\"meet\"/>"
		"<region id=\"Text\" left=\"0\" top=\"320\" width=\"320\" height=\"160\" fit=\"meet\"/>"
		"</layout></head><body>");
	const struct slide_part *text = NULL;
	size_t slides = 0;
	for (size_t i = 0; i < n && !rc; i++)
		if (parts[i].type && !pb_ascii_ncasecmp(parts[i].type, "text/plain", 10) && !text)
			text = &parts[i];
	for (size_t i = 0; i < n && !rc; i++) {
		const char *el = smil_element(parts[i].type);
		if (!el || !strcmp(el, "text"))
			continue;
		rc = pb_buf_puts(b, "<par dur=\"5000ms\">");
		if (!rc && !(rc = pb_buf_printf(b, "<%s src=\"", el)) && !(rc = xml_attr(b, parts[i].name)))
			rc = pb_buf_printf(b, "\"%s/>", strcmp(el, "audio") ? " region=\"Image\"" : "");
		if (!rc && text && slides == 0 && !(rc = pb_buf_puts(b, "<text src=\"")) &&
		    !(rc = xml_attr(b, text->name)))
			rc = pb_buf_puts(b, "\" region=\"Text\"/>");
		if (!rc)
			rc = pb_buf_puts(b, "</par>");
		slides++;
	}
	if (!rc && slides == 0 && text && !(rc = pb_buf_puts(b, "<par dur=\"5000ms\"><text src=\"")) &&
	    !(rc = xml_attr(b, text->name)))
		rc = pb_buf_puts(b, "\" region=\"Text\"/></par>");
	return rc ? rc : pb_buf_puts(b, "</body></smil>");
}

static int put_part(pb_buf *out, const char *type, unsigned int charset, const char *name,
		    const char *cid, const uint8_t *data, size_t len)
{
	pb_buf h = PB_BUF_INIT, id = PB_BUF_INIT;
	int rc = pb_wap__put_content_type(&h, type, charset, name, NULL, NULL);
	if (!rc && !(rc = pb_buf_printf(&id, "<%s>", cid)) && !(rc = pb_buf_putc(&h, 0xC0))) /* Content-ID */
		rc = pb_wap__put_quoted(&h, pb_buf_cstr(&id));
	if (!rc && name && !(rc = pb_buf_putc(&h, 0x8E))) /* Content-Location */
		rc = pb_wap__put_text(&h, name);
	if (!rc && len > UINT32_MAX)
		rc = pb_error_set(PB_ETOOBIG, "part of %zu bytes is too big for MMS", len);
	if (!rc && !(rc = pb_wsp_uintvar_encode(out, (uint32_t)h.len)) &&
	    !(rc = pb_wsp_uintvar_encode(out, (uint32_t)len)) && !(rc = pb_buf_put(out, h.data, h.len)))
		rc = pb_buf_put(out, data, len);
	pb_buf_dispose(&h);
	pb_buf_dispose(&id);
	return rc;
}

static bool name_used(const struct slide_part *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].name && !pb_ascii_casecmp(p[i].name, name))
			return true;
	return false;
}

/* A safe, unique name with an extension for part @i. */
static int part_name(struct slide_part *p, size_t i, const char *given, const char *fallback)
{
	pb_buf b = PB_BUF_INIT, u = PB_BUF_INIT;
	int rc = pb_mms_safe_filename(&b, given, fallback);
	const char *ext = pb_mms__extension(p[i].type);
	if (!rc && ext && !strchr(pb_buf_cstr(&b), '.'))
		rc = pb_buf_printf(&b, ".%s", ext);
	const char *s = pb_buf_cstr(&b);
	const char *dot = strrchr(s, '.');
	size_t stem = dot && dot != s ? (size_t)(dot - s) : b.len;
	for (unsigned k = 2; !rc && name_used(p, i, u.len ? pb_buf_cstr(&u) : s); k++) {
		pb_buf_clear(&u);
		if (!(rc = pb_buf_put(&u, s, stem)) && !(rc = pb_buf_printf(&u, "-%u", k)))
			rc = pb_buf_puts(&u, s + stem);
	}
	if (!rc)
		p[i].name = u.len ? pb_strdup(pb_buf_cstr(&u)) : pb_strdup(s);
	if (!rc && !p[i].name)
		rc = PB_ENOMEM;
	pb_buf_dispose(&b);
	pb_buf_dispose(&u);
	return rc;
}

static int put_body(pb_buf *out, const pb_mms_send_req *req)
{
	size_t n = req->n_attachments + (req->text ? 1 : 0);
	struct slide_part *parts = pb_calloc(n ? n : 1, sizeof(*parts));
	pb_buf smil = PB_BUF_INIT;
	if (!parts)
		return PB_ENOMEM;
	int rc = 0;
	size_t k = 0;
	if (req->text) {
		parts[k] = (struct slide_part){ "text/plain", NULL, (const uint8_t *)req->text,
						strlen(req->text), 106 };
		rc = part_name(parts, k++, "text.txt", "text.txt");
	}
	for (size_t i = 0; i < req->n_attachments && !rc; i++, k++) {
		const pb_mms_attachment *a = &req->attachments[i];
		char fallback[32];
		snprintf(fallback, sizeof(fallback), "attachment-%zu", i + 1);
		if (!a->content_type || (!a->data && a->len)) {
			rc = pb_error_set(PB_EINVAL, "attachment %zu: no content type or data", i + 1);
			break;
		}
		int mib = a->charset ? pb_charset_to_mib(a->charset) : 0;
		parts[k] = (struct slide_part){ a->content_type, NULL, a->data, a->len,
						mib > 0 ? (unsigned int)mib : 0 };
		rc = part_name(parts, k, a->name, fallback);
	}
	if (!rc && n)
		rc = make_smil(&smil, parts, n);
	/* Content-Type: multipart/related, type application/smil, start <smil> (§7.3.11) */
	if (!rc && !(rc = pb_buf_putc(out, H(0x04))))
		rc = n ? pb_wap__put_content_type(out, "application/vnd.wap.multipart.related", 0, NULL,
						  "application/smil", "<smil>")
		       : pb_wap__put_content_type(out, "application/vnd.wap.multipart.mixed", 0, NULL,
						  NULL, NULL);
	if (!rc)
		rc = pb_wsp_uintvar_encode(out, (uint32_t)(n ? n + 1 : 0));
	if (!rc && n)
		rc = put_part(out, "application/smil", 106, "smil.smil", "smil", smil.data, smil.len);
	for (size_t i = 0; i < n && !rc; i++)
		rc = put_part(out, parts[i].type, parts[i].charset, parts[i].name, parts[i].name,
			      parts[i].data, parts[i].len);
	for (size_t i = 0; i < n; i++)
		pb_free(parts[i].name);
	pb_free(parts);
	pb_buf_dispose(&smil);
	return rc;
}

static int put_common(pb_buf *out, const pb_mms_send_req *req)
{
	int rc = 0;
	if (req->date > 0)
		rc = put_date_header(out, 0x05, req->date);
	if (!rc)
		rc = put_from(out, req->from);
	for (size_t i = 0; i < req->n_to && !rc; i++)
		rc = put_address(out, 0x17, req->to[i]);
	for (size_t i = 0; i < req->n_cc && !rc; i++)
		rc = put_address(out, 0x02, req->cc[i]);
	for (size_t i = 0; i < req->n_bcc && !rc; i++)
		rc = put_address(out, 0x01, req->bcc[i]);
	if (!rc && req->subject)
		rc = put_estring_header(out, 0x16, req->subject);
	if (!rc && req->message_class) {
		static const char *const classes[] = { "personal", "advertisement", "informational", "auto" };
		int t = -1;
		for (int i = 0; i < 4; i++)
			if (!pb_ascii_casecmp(req->message_class, classes[i]))
				t = i;
		rc = t >= 0 ? put2(out, H(0x0A), (uint8_t)(128 + t)) : put_text_header(out, 0x0A, req->message_class);
	}
	if (!rc && req->expiry > 0)
		rc = put_relative(out, 0x08, req->expiry);
	if (!rc && req->priority)
		rc = put2(out, H(0x0F), (uint8_t)req->priority);
	if (!rc && req->delivery_report)
		rc = put2(out, H(0x06), (uint8_t)req->delivery_report);
	if (!rc && req->read_report)
		rc = put2(out, H(0x10), (uint8_t)req->read_report);
	return rc ? rc : put_body(out, req);
}

static int check_req(const pb_mms_send_req *req, bool need_to)
{
	if (!req)
		return pb_error_set(PB_EINVAL, "pb_mms_send_req: NULL");
	int rc = PB_CHECK_VERSION(req, PB_MMS_SEND_REQ, 1);
	if (rc < 0)
		return rc;
	if (need_to && (!req->transaction_id || req->n_to + req->n_cc + req->n_bcc == 0))
		return pb_error_set(PB_EINVAL, "M-Send.req needs a transaction id and a recipient");
	if ((req->n_to && !req->to) || (req->n_cc && !req->cc) || (req->n_bcc && !req->bcc) ||
	    (req->n_attachments && !req->attachments) || bad_token(req->priority, 128, 130) ||
	    bad_token(req->delivery_report, 128, 129) || bad_token(req->read_report, 128, 129))
		return pb_error_set(PB_EINVAL, "pb_mms_send_req: inconsistent fields");
	return 0;
}

PB_API int pb_mms_encode_send_req(pb_buf *out, const pb_mms_send_req *req)
{
	int rc = out ? check_req(req, true) : pb_error_set(PB_EINVAL, "pb_mms_encode_send_req: NULL buffer");
	if (rc)
		return rc;
	size_t len0 = out->len;
	if (!(rc = start_pdu(out, PB_MMS_SEND_REQ, req->transaction_id)))
		rc = put_common(out, req);
	if (rc)
		pb_buf_truncate(out, len0);
	return rc;
}

PB_API int pb_mms_encode_retrieve_conf(pb_buf *out, const pb_mms_send_req *msg, const char *message_id)
{
	int rc = out ? check_req(msg, false) : pb_error_set(PB_EINVAL, "pb_mms_encode_retrieve_conf: NULL buffer");
	if (rc)
		return rc;
	size_t len0 = out->len;
	rc = start_pdu(out, PB_MMS_RETRIEVE_CONF, msg->transaction_id);
	if (!rc && message_id)
		rc = put_text_header(out, 0x0B, message_id);
	if (!rc)
		rc = put_common(out, msg);
	if (rc)
		pb_buf_truncate(out, len0);
	return rc;
}
