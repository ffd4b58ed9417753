/*
 * libphonebridge — fuzz target for the SMS TPDU decoder (pb_sms_decode,
 * pb_sms_decode_hex), with a round trip through the encoder for every text
 * it decodes.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The first byte picks the decode flags; the rest is the PDU.
 */
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
	return n == 0 || (p >= base && p + n <= base + size);
}

static void check(const pb_sms_message *m, const uint8_t *pdu, size_t len)
{
	if (m->text_len >= PB_SMS_TEXT_MAX || m->text[m->text_len] != '\0')
		abort();
	if (pb_utf8_validate(m->text, m->text_len, NULL) != 0)
		abort();
	if (!inside(m->ud, m->ud_len, pdu, len) || !inside(m->tpdu, m->tpdu_len, pdu, len))
		abort();
	if (m->udh.n_ies > PB_SMS_UDH_MAX_IES)
		abort();
	for (size_t i = 0; i < m->udh.n_ies; i++)
		if (!inside(m->udh.ies[i].data, m->udh.ies[i].len, pdu, len))
			abort();
	if (memchr(m->address.number, 0, sizeof(m->address.number)) == NULL)
		abort();
	char iso[40];
	pb_sms_time_iso8601(&m->scts, iso, sizeof(iso));
	pb_sms_time_epoch(&m->scts);
	pb_sms_status_text(m->status);
}

/* decode(encode(text)) == text, for whatever text came out of a decode. */
static void round_trip(const pb_sms_message *m)
{
	if (m->text_len == 0)
		return;
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.languages = 0xE;
	o.reference = 1;
	pb_sms_pdu *p;
	size_t n;
	if (pb_sms_encode_text(&p, &n, "+1", m->text, m->text_len, &o) != 0)
		abort();
	pb_sms_reassembler *r;
	if (pb_sms_reassembler_new(&r, NULL) != 0)
		abort();
	pb_sms_assembled *a = NULL;
	for (size_t i = 0; i < n; i++) {
		pb_sms_assembled *x = NULL;
		if (pb_sms_reassembler_add(r, p[i].data, p[i].len, 0, 0, &x, NULL) != 0)
			abort();
		if (x)
			a = x;
	}
	if (!a || a->text_len != m->text_len || memcmp(a->text, m->text, m->text_len) != 0)
		abort();
	pb_sms_assembled_free(a);
	pb_sms_reassembler_free(r);
	pb_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned flags = data[0] & 3;
	const uint8_t *pdu = data + 1;
	size_t len = size - 1;
	pb_sms_message m;
	pb_parse_error perr;
	if (pb_sms_decode(&m, pdu, len, flags, &perr) == 0) {
		check(&m, pdu, len);
		round_trip(&m);
	} else if (perr.offset > len) {
		abort();
	}
	/* the same bytes read as hex text */
	uint8_t scratch[256];
	if (pb_sms_decode_hex(&m, (const char *)pdu, len, flags, scratch, sizeof(scratch), &perr) == 0)
		check(&m, scratch, sizeof(scratch));
	else if (perr.offset > len)
		abort();
	return 0;
}
