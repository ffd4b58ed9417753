/*
 * libphonebridge — SMS: decoding TPDUs (3GPP TS 23.040 §9.2) into a
 * caller-provided pb_sms_message, without allocating.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sms-private.h"

#include <string.h>
#include <stdio.h>

#include "core/internal.h"

/* Read one octet or fail with the offset where it was missing. */
#define NEED_U8(cur, v, perr, what)                                                        \
	do {                                                                               \
		if (!pb_cur_u8(cur, v))                                                    \
			return pb_error__parse(perr, pb_cur_offset(cur), "%s missing", what); \
	} while (0)

/* TS 23.040 §9.1.2.3: semi-octet digits; a..c are the spare values C-E, F is the filler. */
static const char bcd_digits[16] = "0123456789*#abc";

/* The two digits of every octet, low semi-octet first (both spelled, even F). */
#define BCD_CHAR(x) ((x) < 10 ? '0' + (x) : (x) == 10 ? '*' : (x) == 11 ? '#' : 'a' + (x) - 12)
#define BCD_PAIR(o) (uint16_t)(BCD_CHAR((o) & 15) | BCD_CHAR((o) >> 4) << 8),
#define BCD_ROW(r) BCD_PAIR(r) BCD_PAIR(r + 1) BCD_PAIR(r + 2) BCD_PAIR(r + 3) BCD_PAIR(r + 4) \
	BCD_PAIR(r + 5) BCD_PAIR(r + 6) BCD_PAIR(r + 7) BCD_PAIR(r + 8) BCD_PAIR(r + 9) BCD_PAIR(r + 10) \
	BCD_PAIR(r + 11) BCD_PAIR(r + 12) BCD_PAIR(r + 13) BCD_PAIR(r + 14) BCD_PAIR(r + 15)
static const uint16_t bcd_pairs[256] = {
	BCD_ROW(0x00) BCD_ROW(0x10) BCD_ROW(0x20) BCD_ROW(0x30) BCD_ROW(0x40) BCD_ROW(0x50)
	BCD_ROW(0x60) BCD_ROW(0x70) BCD_ROW(0x80) BCD_ROW(0x90) BCD_ROW(0xA0) BCD_ROW(0xB0)
	BCD_ROW(0xC0) BCD_ROW(0xD0) BCD_ROW(0xE0) BCD_ROW(0xF0)
};

static void bcd_to_text(const uint8_t *p, size_t digits, pb_sms_address *a)
{
	char *o = a->number;
	if (a->ton == 1)
		*o++ = '+';
	/* at most 20 digits (checked by the callers): they fit */
	size_t i = 0;
	for (; i + 1 < digits && (p[i / 2] & 0xF0) != 0xF0 && (p[i / 2] & 0x0F) != 0x0F; i += 2) {
		uint16_t two = bcd_pairs[p[i / 2]];
		memcpy(o, &two, 2);
		o += 2;
	}
	for (; i < digits; i++) { /* a filler, or the odd last digit */
		unsigned d = (i & 1) ? p[i / 2] >> 4 : p[i / 2] & 0x0F;
		if (d != 0x0F)
			*o++ = bcd_digits[d];
	}
	*o = '\0';
}

static void set_toa(pb_sms_address *a, uint8_t toa)
{
	a->toa = toa;
	a->ton = (uint8_t)((toa >> 4) & 0x07);
	a->npi = (uint8_t)(toa & 0x0F);
}

/* TP-OA/TP-DA/TP-RA (§9.1.2.5): the length counts useful semi-octets. */
static int decode_address(pb_cur *c, pb_sms_address *a, pb_parse_error *perr)
{
	uint8_t digits, toa;
	size_t at = pb_cur_offset(c);
	memset(a, 0, sizeof(*a));
	NEED_U8(c, &digits, perr, "address length");
	if (digits > 20)
		return pb_error__parse(perr, at, "address length %u beyond 20 semi-octets", digits);
	NEED_U8(c, &toa, perr, "type of address");
	set_toa(a, toa);
	const uint8_t *p;
	size_t octets = (digits + 1u) / 2;
	if (!pb_cur_bytes(c, octets, &p))
		return pb_error__parse(perr, pb_cur_offset(c), "address of %u semi-octets beyond end of data",
				       digits);
	a->present = digits > 0;
	if (a->ton == 5) {
		/* alphanumeric (§9.1.2.5): GSM 7-bit packed in the semi-octets */
		pb_sms__gsm_unpack(p, 0, digits * 4u / 7u, 0, 0, a->number, sizeof(a->number));
	} else {
		bcd_to_text(p, digits, a);
	}
	return 0;
}

/* The SMSC field (TS 24.011 §8.2.5.1): the length counts octets with the TOA. */
static int decode_smsc(pb_cur *c, pb_sms_address *a, pb_parse_error *perr)
{
	uint8_t len, toa;
	size_t at = pb_cur_offset(c);
	memset(a, 0, sizeof(*a));
	NEED_U8(c, &len, perr, "SMSC length");
	if (len == 0)
		return 0;
	if (len > 11)
		return pb_error__parse(perr, at, "SMSC length %u beyond 11 octets", len);
	NEED_U8(c, &toa, perr, "SMSC type of address");
	set_toa(a, toa);
	const uint8_t *p;
	if (!pb_cur_bytes(c, len - 1u, &p))
		return pb_error__parse(perr, pb_cur_offset(c), "SMSC address of %u octets beyond end of data", len);
	a->present = true;
	bcd_to_text(p, (len - 1u) * 2u, a);
	return 0;
}

static int swapped(uint8_t b)
{
	return (b & 0x0F) * 10 + (b >> 4);
}

/* §9.2.3.11: seven octets of swapped semi-octets; the zone in quarters. */
static int decode_time(pb_cur *c, pb_sms_time *t, pb_parse_error *perr, const char *what)
{
	const uint8_t *p;
	if (!pb_cur_bytes(c, 7, &p))
		return pb_error__parse(perr, pb_cur_offset(c), "%s beyond end of data", what);
	int yy = swapped(p[0]);
	t->present = true;
	t->year = yy < 90 ? 2000 + yy : 1900 + yy;
	t->month = swapped(p[1]);
	t->day = swapped(p[2]);
	t->hour = swapped(p[3]);
	t->minute = swapped(p[4]);
	t->second = swapped(p[5]);
	int q = (p[6] & 0x07) * 10 + (p[6] >> 4);
	t->tz_quarters = (p[6] & 0x08) ? -q : q;
	return 0;
}

/* §9.2.3.12.1 */
static uint32_t relative_seconds(uint8_t v)
{
	if (v <= 143)
		return (v + 1u) * 300u;
	if (v <= 167)
		return 43200u + (v - 143u) * 1800u;
	if (v <= 196)
		return (v - 166u) * 86400u;
	return (v - 192u) * 604800u;
}

/* §9.2.3.12.3 enhanced format: the first octet says how to read the rest. */
static uint32_t enhanced_seconds(const uint8_t *e)
{
	switch (e[0] & 0x07) {
	case 1: return relative_seconds(e[1]);
	case 2: return e[1];
	case 3: return (uint32_t)(swapped(e[1]) * 3600 + swapped(e[2]) * 60 + swapped(e[3]));
	default: return 0;
	}
}

static int decode_validity(pb_cur *c, unsigned vpf, pb_sms_validity *v, pb_parse_error *perr)
{
	const uint8_t *p;
	v->format = (pb_sms_vpf)vpf;
	switch (vpf) {
	case PB_SMS_VP_RELATIVE:
		NEED_U8(c, &v->relative, perr, "validity period");
		v->seconds = relative_seconds(v->relative);
		return 0;
	case PB_SMS_VP_ABSOLUTE:
		return decode_time(c, &v->absolute, perr, "validity period");
	case PB_SMS_VP_ENHANCED:
		if (!pb_cur_bytes(c, 7, &p))
			return pb_error__parse(perr, pb_cur_offset(c), "validity period beyond end of data");
		memcpy(v->enhanced, p, 7);
		v->seconds = enhanced_seconds(p);
		return 0;
	default:
		return 0;
	}
}

/* TS 23.038 §4: the coding groups. */
static void decode_dcs(uint8_t raw, pb_sms_dcs *d)
{
	memset(d, 0, sizeof(*d));
	d->raw = raw;
	d->group = raw >> 4;
	d->msg_class = -1;
	d->encoding = PB_SMS_ENC_GSM7;
	if ((raw & 0x80) == 0) {
		/* 00xx general data coding, 01xx the same marked for automatic deletion */
		d->auto_delete = (raw & 0x40) != 0;
		d->compressed = (raw & 0x20) != 0;
		if (raw & 0x10)
			d->msg_class = raw & 0x03;
		switch ((raw >> 2) & 0x03) {
		case 0: d->encoding = PB_SMS_ENC_GSM7; break;
		case 2: d->encoding = PB_SMS_ENC_UCS2; break;
		default: d->encoding = PB_SMS_ENC_8BIT; break; /* 01, and reserved 11 kept as bytes */
		}
		return;
	}
	switch (d->group) {
	case 0xC: case 0xD: case 0xE:
		/* message waiting indication groups */
		d->mwi = true;
		d->mwi_store = d->group != 0xC;
		d->mwi_active = (raw & 0x08) != 0;
		d->mwi_kind = raw & 0x03;
		d->encoding = d->group == 0xE ? PB_SMS_ENC_UCS2 : PB_SMS_ENC_GSM7;
		return;
	case 0xF:
		/* data coding / message class */
		d->encoding = (raw & 0x04) ? PB_SMS_ENC_8BIT : PB_SMS_ENC_GSM7;
		d->msg_class = raw & 0x03;
		return;
	default:
		/* 1000-1011 reserved: read as the default alphabet (§4) */
		return;
	}
}

static void interpret_ie(pb_sms_udh *h, uint8_t iei, uint8_t len, const uint8_t *d)
{
	switch (iei) {
	case 0x00: /* §9.2.3.24.1 concatenation, 8-bit reference */
	case 0x08: /* §9.2.3.24.8 concatenation, 16-bit reference */
		if (len != (iei == 0x00 ? 3 : 4))
			return;
		{
			size_t o = iei == 0x00 ? 1 : 2;
			uint8_t total = d[o], seq = d[o + 1];
			if (total == 0 || seq == 0 || seq > total)
				return; /* "ignore the information element" */
			h->has_concat = true;
			h->concat_ref16 = iei == 0x08;
			h->concat_ref = iei == 0x00 ? d[0] : (uint16_t)(d[0] << 8 | d[1]);
			h->concat_total = total;
			h->concat_seq = seq;
		}
		return;
	case 0x04: /* §9.2.3.24.3 application ports, 8-bit */
		if (len != 2)
			return;
		h->has_ports = true;
		h->ports16 = false;
		h->dst_port = d[0];
		h->src_port = d[1];
		return;
	case 0x05: /* §9.2.3.24.4 application ports, 16-bit */
		if (len != 4)
			return;
		h->has_ports = true;
		h->ports16 = true;
		h->dst_port = (uint16_t)(d[0] << 8 | d[1]);
		h->src_port = (uint16_t)(d[2] << 8 | d[3]);
		return;
	case 0x24: /* §9.2.3.24.15 national language locking shift */
		if (len == 1)
			h->lang_locking = d[0];
		return;
	case 0x25: /* §9.2.3.24.16 national language single shift */
		if (len == 1)
			h->lang_single = d[0];
		return;
	default:
		return;
	}
}

/* §9.2.3.24: @p points at UDHL; the caller checked that UDHL octets follow. */
static int decode_udh(const uint8_t *base, const uint8_t *p, pb_sms_udh *h, pb_parse_error *perr)
{
	h->present = true;
	h->len = p[0];
	pb_cur c = { base, p + 1, p + 1 + p[0] };
	while (!pb_cur_eof(&c)) {
		uint8_t iei, len;
		const uint8_t *d;
		size_t at = pb_cur_offset(&c);
		pb_cur_u8(&c, &iei);
		if (!pb_cur_u8(&c, &len))
			return pb_error__parse(perr, at, "UDH element 0x%02x without a length", iei);
		if (!pb_cur_bytes(&c, len, &d))
			return pb_error__parse(perr, at + 1, "UDH element 0x%02x of %u octets beyond the header",
					       iei, len);
		if (h->n_ies < PB_SMS_UDH_MAX_IES)
			h->ies[h->n_ies++] = (pb_sms_ie){ iei, len, d };
		else
			h->ies_truncated = true;
		interpret_ie(h, iei, len, d);
	}
	return 0;
}

int pb_sms__udh_decode(const uint8_t *udh, size_t len, pb_sms_udh *h, pb_parse_error *perr)
{
	memset(h, 0, sizeof(*h));
	if (len == 0 || (size_t)udh[0] + 1 > len)
		return pb_error__parse(perr, 0, "UDH of %zu octets shorter than its length octet says", len);
	return decode_udh(udh, udh, h, perr);
}

static unsigned known_lang(uint8_t lang)
{
	return lang <= PB_SMS__LANG_MAX ? lang : 0;
}

/* TP-UDL and TP-UD (§9.2.3.16, §9.2.3.24), with or without a header. */
static int decode_ud(pb_cur *c, pb_sms_message *m, bool udhi, pb_parse_error *perr)
{
	size_t at = pb_cur_offset(c);
	NEED_U8(c, &m->udl, perr, "user data length");
	bool septets = m->dcs.encoding == PB_SMS_ENC_GSM7 && !m->dcs.compressed;
	size_t octets = septets ? (m->udl * 7u + 7u) / 8u : m->udl;
	const uint8_t *ud;
	if (!pb_cur_bytes(c, octets, &ud))
		return pb_error__parse(perr, at, "user data length %u needs %zu octets, %zu left", m->udl, octets,
				       pb_cur_left(c));
	size_t skip = 0;
	if (udhi) {
		if (octets == 0 || ud[0] + 1u > octets)
			return pb_error__parse(perr, at + 1, "user data header longer than the user data");
		int rc = decode_udh(c->base, ud, &m->udh, perr);
		if (rc < 0)
			return rc;
		skip = ud[0] + 1u;
	}
	m->ud = ud + skip;
	m->ud_len = octets - skip;
	if (m->dcs.compressed)
		return 0; /* TS 23.042 compression: flagged, not decoded */
	switch (m->dcs.encoding) {
	case PB_SMS_ENC_GSM7: {
		size_t hs = (skip * 8u + 6u) / 7u; /* header septets, fill bits included */
		if (hs > m->udl)
			return pb_error__parse(perr, at, "user data header longer than %u septets", m->udl);
		m->text_len = pb_sms__gsm_unpack(ud, hs, m->udl - hs, known_lang(m->udh.lang_locking),
						 known_lang(m->udh.lang_single), m->text, sizeof(m->text));
		return 0;
	}
	case PB_SMS_ENC_UCS2:
		m->text_len = pb_sms__ucs2_to_utf8(m->ud, m->ud_len, m->text, sizeof(m->text));
		return 0;
	default:
		return 0;
	}
}

static int decode_pid_dcs(pb_cur *c, pb_sms_message *m, pb_parse_error *perr)
{
	uint8_t dcs;
	NEED_U8(c, &m->pid, perr, "protocol identifier");
	m->has_pid = true;
	NEED_U8(c, &dcs, perr, "data coding scheme");
	m->has_dcs = true;
	decode_dcs(dcs, &m->dcs);
	return 0;
}

static int decode_deliver(pb_cur *c, pb_sms_message *m, pb_parse_error *perr)
{
	uint8_t fo = m->first_octet;
	m->more_messages = (fo & 0x04) == 0;
	m->loop_prevention = (fo & 0x08) != 0;
	m->status_report = (fo & 0x20) != 0;
	m->reply_path = (fo & 0x80) != 0;
	int rc = decode_address(c, &m->address, perr);
	if (rc == 0)
		rc = decode_pid_dcs(c, m, perr);
	if (rc == 0)
		rc = decode_time(c, &m->scts, perr, "service centre time stamp");
	if (rc == 0)
		rc = decode_ud(c, m, (fo & 0x40) != 0, perr);
	return rc;
}

static int decode_submit(pb_cur *c, pb_sms_message *m, pb_parse_error *perr)
{
	uint8_t fo = m->first_octet;
	m->reject_duplicates = (fo & 0x04) != 0;
	m->status_report = (fo & 0x20) != 0;
	m->reply_path = (fo & 0x80) != 0;
	NEED_U8(c, &m->mr, perr, "message reference");
	int rc = decode_address(c, &m->address, perr);
	if (rc == 0)
		rc = decode_pid_dcs(c, m, perr);
	if (rc == 0)
		rc = decode_validity(c, (fo >> 3) & 0x03, &m->validity, perr);
	if (rc == 0)
		rc = decode_ud(c, m, (fo & 0x40) != 0, perr);
	return rc;
}

/* The optional fields TP-PI (§9.2.3.27) announces. */
static int decode_pi_fields(pb_cur *c, pb_sms_message *m, uint8_t pi, pb_parse_error *perr)
{
	m->pi = pi;
	for (uint8_t ext = pi; ext & 0x80;) /* extension octets: nothing defined in them yet */
		NEED_U8(c, &ext, perr, "parameter indicator extension");
	if (pi & 0x01) {
		NEED_U8(c, &m->pid, perr, "protocol identifier");
		m->has_pid = true;
	}
	if (pi & 0x02) {
		uint8_t dcs;
		NEED_U8(c, &dcs, perr, "data coding scheme");
		m->has_dcs = true;
		decode_dcs(dcs, &m->dcs);
	}
	if (pi & 0x04)
		return decode_ud(c, m, (m->first_octet & 0x40) != 0, perr);
	return 0;
}

static int decode_status_report(pb_cur *c, pb_sms_message *m, pb_parse_error *perr)
{
	uint8_t fo = m->first_octet;
	m->more_messages = (fo & 0x04) == 0;
	m->loop_prevention = (fo & 0x08) != 0;
	m->status_report = (fo & 0x20) != 0;
	NEED_U8(c, &m->mr, perr, "message reference");
	int rc = decode_address(c, &m->address, perr);
	if (rc == 0)
		rc = decode_time(c, &m->scts, perr, "service centre time stamp");
	if (rc == 0)
		rc = decode_time(c, &m->discharge, perr, "discharge time");
	if (rc < 0)
		return rc;
	NEED_U8(c, &m->status, perr, "status");
	m->has_status = true;
	uint8_t pi;
	if (!pb_cur_u8(c, &pi))
		return 0; /* TP-PI and what follows are optional */
	if (pi & 0x78) {
		/* Reserved bits set: a receiver ignores them (§9.2.3.27). SIMs pad
		 * stored reports with 0xFF; like Android, read none of the optional
		 * fields of such a TP-PI, and nothing after it. */
		m->pi = pi;
		c->p = c->end;
		return 0;
	}
	return decode_pi_fields(c, m, pi, perr);
}

/* DELIVER-REPORT and SUBMIT-REPORT (§9.2.2.1a, §9.2.2.2a): RP-ACK has no
 * TP-FCS, RP-ERROR has one; FCS values are 0x80-0xFF while TP-PI's
 * extension bit is practically never set, so a high first octet is the FCS. */
static int decode_report(pb_cur *c, pb_sms_message *m, pb_parse_error *perr)
{
	uint8_t b;
	if (pb_cur_peek(c, &b) && (b & 0x80)) {
		pb_cur_u8(c, &m->fcs);
		m->has_fcs = true;
	}
	uint8_t pi;
	NEED_U8(c, &pi, perr, "parameter indicator");
	if (m->type == PB_SMS_SUBMIT_REPORT) {
		int rc = decode_time(c, &m->scts, perr, "service centre time stamp");
		if (rc < 0)
			return rc;
	}
	return decode_pi_fields(c, m, pi, perr);
}

static int decode_command(pb_cur *c, pb_sms_message *m, pb_parse_error *perr)
{
	uint8_t cdl;
	m->status_report = (m->first_octet & 0x20) != 0;
	NEED_U8(c, &m->mr, perr, "message reference");
	NEED_U8(c, &m->pid, perr, "protocol identifier");
	m->has_pid = true;
	NEED_U8(c, &m->command_type, perr, "command type");
	NEED_U8(c, &m->message_number, perr, "message number");
	int rc = decode_address(c, &m->address, perr);
	if (rc < 0)
		return rc;
	size_t at = pb_cur_offset(c);
	NEED_U8(c, &cdl, perr, "command data length");
	m->udl = cdl;
	if (!pb_cur_bytes(c, cdl, &m->ud))
		return pb_error__parse(perr, at, "command data of %u octets beyond end of data", cdl);
	m->ud_len = cdl;
	m->dcs.encoding = PB_SMS_ENC_8BIT;
	return 0;
}

int pb_sms_decode(pb_sms_message *msg, const uint8_t *pdu, size_t len, unsigned flags, pb_parse_error *perr)
{
	if (!msg || (!pdu && len > 0))
		return pb_error_set(PB_EINVAL, "pb_sms_decode: NULL argument");
	/* Only the header is cleared: the UDH elements and the text are
	 * written as they are used (the struct ends with them). */
	memset(msg, 0, offsetof(pb_sms_message, udh.ies));
	msg->text[0] = '\0';
	msg->dcs.msg_class = -1;
	pb_cur c = pb_cur_make(pdu, len);
	int rc;
	if (flags & PB_SMS_DECODE_SMSC) {
		rc = decode_smsc(&c, &msg->smsc, perr);
		if (rc < 0)
			return rc;
	}
	msg->tpdu = c.p;
	msg->tpdu_len = pb_cur_left(&c);
	NEED_U8(&c, &msg->first_octet, perr, "first octet");
	unsigned mti = msg->first_octet & 0x03;
	bool reverse = (flags & PB_SMS_DECODE_REVERSE) != 0;
	switch (mti) {
	case 1:
		msg->type = reverse ? PB_SMS_SUBMIT_REPORT : PB_SMS_SUBMIT;
		return reverse ? decode_report(&c, msg, perr) : decode_submit(&c, msg, perr);
	case 2:
		msg->type = reverse ? PB_SMS_COMMAND : PB_SMS_STATUS_REPORT;
		return reverse ? decode_command(&c, msg, perr) : decode_status_report(&c, msg, perr);
	default: /* 00, and the reserved 11 read as DELIVER (§9.2.3.1) */
		msg->type = reverse ? PB_SMS_DELIVER_REPORT : PB_SMS_DELIVER;
		return reverse ? decode_report(&c, msg, perr) : decode_deliver(&c, msg, perr);
	}
}

int pb_sms_decode_hex(pb_sms_message *msg, const char *hex, size_t hex_len, unsigned flags, uint8_t *scratch,
		      size_t scratch_len, pb_parse_error *perr)
{
	if (!msg || !hex || !scratch)
		return pb_error_set(PB_EINVAL, "pb_sms_decode_hex: NULL argument");
	/* hex digit pairs, white space allowed between them; offsets map back */
	size_t n = 0, i = 0;
	size_t where[PB_SMS_PDU_MAX * 3];
	while (i < hex_len) {
		char ch = hex[i];
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			i++;
			continue;
		}
		int hi = pb_hex_digit_value((unsigned char)ch);
		int lo = i + 1 < hex_len ? pb_hex_digit_value((unsigned char)hex[i + 1]) : -1;
		if (hi < 0)
			return pb_error__parse(perr, i, "not a hex digit: 0x%02x", (unsigned char)ch);
		if (i + 1 >= hex_len)
			return pb_error__parse(perr, i, "hex digit pair cut short");
		if (lo < 0)
			return pb_error__parse(perr, i + 1, "not a hex digit: 0x%02x", (unsigned char)hex[i + 1]);
		if (n >= scratch_len || n >= PB_ARRAY_SIZE(where))
			return pb_error__parse(perr, i, "PDU longer than %zu octets",
					       PB_MIN(scratch_len, PB_ARRAY_SIZE(where)));
		where[n] = i;
		scratch[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	pb_parse_error inner;
	int rc = pb_sms_decode(msg, scratch, n, flags, &inner);
	if (rc == PB_EMALFORMED) {
		size_t off = inner.offset < n ? where[inner.offset] : hex_len;
		return pb_error__parse(perr, off, "%s", inner.text);
	}
	return rc;
}

const char *pb_sms_type_name(pb_sms_type type)
{
	switch (type) {
	case PB_SMS_DELIVER: return "deliver";
	case PB_SMS_SUBMIT: return "submit";
	case PB_SMS_STATUS_REPORT: return "status-report";
	case PB_SMS_DELIVER_REPORT: return "deliver-report";
	case PB_SMS_SUBMIT_REPORT: return "submit-report";
	case PB_SMS_COMMAND: return "command";
	}
	return "unknown";
}

const char *pb_sms_encoding_name(pb_sms_encoding enc)
{
	switch (enc) {
	case PB_SMS_ENC_GSM7: return "gsm7";
	case PB_SMS_ENC_8BIT: return "8bit";
	case PB_SMS_ENC_UCS2: return "ucs2";
	}
	return "unknown";
}

/* TS 23.040 §9.2.3.15, TP-Status, range by range. */
static const char *const st_permanent[10] = {
	"permanent error: remote procedure error",
	"permanent error: incompatible destination",
	"permanent error: connection rejected by SME",
	"permanent error: not obtainable",
	"permanent error: quality of service not available",
	"permanent error: no interworking available",
	"permanent error: validity period expired",
	"permanent error: deleted by originating SME",
	"permanent error: deleted by SC administration",
	"permanent error: message does not exist",
};

static const char *const st_trying[6] = {
	"temporary error, SC still trying: congestion",
	"temporary error, SC still trying: SME busy",
	"temporary error, SC still trying: no response from SME",
	"temporary error, SC still trying: service rejected",
	"temporary error, SC still trying: quality of service not available",
	"temporary error, SC still trying: error in SME",
};

static const char *const st_given_up[6] = {
	"temporary error, SC gave up: congestion",
	"temporary error, SC gave up: SME busy",
	"temporary error, SC gave up: no response from SME",
	"temporary error, SC gave up: service rejected",
	"temporary error, SC gave up: quality of service not available",
	"temporary error, SC gave up: error in SME",
};

const char *pb_sms_status_text(uint8_t st)
{
	if (st == 0x00)
		return "delivered";
	if (st == 0x01)
		return "forwarded, delivery not confirmed";
	if (st == 0x02)
		return "replaced by the SC";
	if (st < 0x20)
		return st < 0x10 ? "delivered (reserved value)" : "delivered (SC-specific value)";
	if (st < 0x40) {
		if (st < 0x26)
			return st_trying[st - 0x20];
		return st < 0x30 ? "temporary error, SC still trying (reserved value)"
				 : "temporary error, SC still trying (SC-specific value)";
	}
	if (st < 0x60) {
		if (st < 0x4A)
			return st_permanent[st - 0x40];
		return st < 0x50 ? "permanent error (reserved value)" : "permanent error (SC-specific value)";
	}
	if (st < 0x80) {
		if (st < 0x66)
			return st_given_up[st - 0x60];
		return st < 0x70 ? "temporary error, SC gave up (reserved value)"
				 : "temporary error, SC gave up (SC-specific value)";
	}
	/* reserved: "shall be treated as 'service rejected'" */
	return "permanent error: service rejected (reserved value)";
}

bool pb_sms_status_delivered(uint8_t status)
{
	return status < 0x20;
}

size_t pb_sms_time_iso8601(const pb_sms_time *t, char *out, size_t size)
{
	if (!t || !t->present || !out || size == 0) {
		if (out && size > 0)
			out[0] = '\0';
		return 0;
	}
	int q = t->tz_quarters < 0 ? -t->tz_quarters : t->tz_quarters;
	int n = snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", t->year % 10000, t->month % 100,
			 t->day % 100, t->hour % 100, t->minute % 100, t->second % 100, t->tz_quarters < 0 ? '-' : '+',
			 (q / 4) % 100, (q % 4) * 15);
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

int64_t pb_sms_time_epoch(const pb_sms_time *t)
{
	if (!t || !t->present || t->month < 1 || t->month > 12 || t->day < 1 || t->day > 31 || t->hour > 23 ||
	    t->minute > 59 || t->second > 60)
		return -1;
	/* days from civil (Howard Hinnant's algorithm): no time zone database needed */
	int y = t->year - (t->month <= 2);
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int mp = (t->month + 9) % 12;
	int doy = (153 * mp + 2) / 5 + t->day - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = (int64_t)era * 146097 + doe - 719468;
	return days * 86400 + t->hour * 3600 + t->minute * 60 + t->second - (int64_t)t->tz_quarters * 900;
}

bool pb_sms_is_wap_push(const pb_sms_message *msg)
{
	if (!msg || !msg->udh.has_ports)
		return false;
	uint16_t p = msg->udh.dst_port;
	return p == 2948 || p == 2949 || (p >= 9200 && p <= 9203);
}
