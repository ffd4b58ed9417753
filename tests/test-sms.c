/*
 * libphonebridge tests — sms: TPDU decoding, alphabets, UDH, encoding,
 * reassembly and persistence, and the shared conformance vectors.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <ctype.h>

#include "core/internal.h"
#include "sms/sms-private.h"

/* --- helpers ----------------------------------------------------------------- */

static int decode_hex(pb_sms_message *m, const char *hex, unsigned flags)
{
	static uint8_t scratch[512];
	return pb_sms_decode_hex(m, hex, strlen(hex), flags, scratch, sizeof(scratch), NULL);
}

static char *to_hex(const uint8_t *p, size_t n)
{
	static char out[1024];
	for (size_t i = 0; i < n && i * 2 + 2 < sizeof(out); i++)
		snprintf(out + i * 2, 3, "%02X", p[i]);
	out[n * 2 < sizeof(out) ? n * 2 : sizeof(out) - 1] = '\0';
	return out;
}

/* Build SMS-DELIVER hex (no SMSC) from originator "+1234" with @dcs and UD. */
static size_t make_deliver(uint8_t *out, uint8_t fo, uint8_t dcs, uint8_t udl, const uint8_t *ud, size_t ud_len)
{
	static const uint8_t head[] = { 0x04, 0x91, 0x21, 0x43 };
	static const uint8_t scts[] = { 0x11, 0x10, 0x10, 0x21, 0x43, 0x65, 0x00 };
	size_t n = 0;
	out[n++] = fo;
	memcpy(out + n, head, sizeof(head));
	n += sizeof(head);
	out[n++] = 0x00; /* PID */
	out[n++] = dcs;
	memcpy(out + n, scts, sizeof(scts));
	n += sizeof(scts);
	out[n++] = udl;
	if (ud_len)
		memcpy(out + n, ud, ud_len);
	return n + ud_len;
}

/* Every part of @pdus through a fresh reassembler; the one message out. */
static pb_sms_assembled *join(const pb_sms_pdu *pdus, size_t n, unsigned flags)
{
	pb_sms_reassembler *r;
	pb_sms_assembled *a = NULL, *got = NULL;
	assert_pb_ok(pb_sms_reassembler_new(&r, NULL));
	for (size_t i = 0; i < n; i++) {
		assert_pb_ok(pb_sms_reassembler_add(r, pdus[i].data, pdus[i].len, flags, (int64_t)i, &a, NULL));
		if (a) {
			assert_null(got);
			got = a;
		}
	}
	assert_int_equal(pb_sms_reassembler_pending(r), 0);
	pb_sms_reassembler_free(r);
	assert_non_null(got);
	return got;
}

/* --- decoding ------------------------------------------------------------------ */

static void test_sms__decode_deliver_gsm7_extension(void **state)
{
	(void)state;
	pb_sms_message m;
	assert_pb_ok(decode_hex(&m,
		"07912104442961F4040B916171957291F800001120821105050A6AC8B2BC7C9A83C220F6DB7D2ECB41EDF27C1E3E"
		"97411BDE06754FD3D1A0F9BB5D0695F1F4B29B5C2683C6E8B03C3CA697E5F34D6AE303D1D1F2F7DD0D4ABB59A0797D"
		"8C0685E7A00028EC26832A960B28EC2683BE6050780EBA97D96C17", PB_SMS_DECODE_SMSC));
	assert_int_equal(m.type, PB_SMS_DELIVER);
	assert_string_equal(m.smsc.number, "+12404492164");
	assert_string_equal(m.address.number, "+16175927198");
	assert_int_equal(m.address.ton, 1);
	assert_int_equal(m.dcs.encoding, PB_SMS_ENC_GSM7);
	assert_int_equal(m.dcs.msg_class, -1);
	assert_string_equal(m.text, "Here's a longer message [{with some extended characters}] thrown in, such as "
				    "£ and ΩΠΨ and §¿ as well.");
	assert_int_equal(m.text_len, strlen(m.text));
	char iso[40];
	assert_int_equal(pb_sms_time_iso8601(&m.scts, iso, sizeof(iso)), 25);
	assert_string_equal(iso, "2011-02-28T11:50:50-05:00");
	assert_int_equal(pb_sms_time_epoch(&m.scts), 1298911850);
	assert_true(m.more_messages == false);
}

static void test_sms__decode_ucs2_alphanumeric_sender(void **state)
{
	(void)state;
	pb_sms_message m;
	assert_pb_ok(decode_hex(&m, "07919730071111F10414D04937BD2C7797E9D3E614000811309291024061080442043504410442",
				PB_SMS_DECODE_SMSC));
	assert_string_equal(m.address.number, "InternetSMS");
	assert_int_equal(m.address.ton, 5);
	assert_int_equal(m.dcs.encoding, PB_SMS_ENC_UCS2);
	assert_string_equal(m.text, "тест");
	assert_int_equal(m.scts.tz_quarters, 16);
}

static void test_sms__decode_without_smsc_and_hex_offsets(void **state)
{
	(void)state;
	pb_sms_message m;
	pb_parse_error perr;
	uint8_t scratch[64];
	const char *hex = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37";
	assert_pb_ok(pb_sms_decode_hex(&m, hex, strlen(hex), PB_SMS_DECODE_SMSC, scratch, sizeof(scratch), &perr));
	assert_int_equal(m.type, PB_SMS_SUBMIT);
	assert_false(m.smsc.present);
	assert_string_equal(m.address.number, "+46708251358");
	assert_int_equal(m.validity.format, PB_SMS_VP_RELATIVE);
	assert_int_equal(m.validity.relative, 0xAA);
	assert_int_equal(m.validity.seconds, 4 * 86400);
	assert_string_equal(m.text, "hellohello");
	assert_int_equal(m.tpdu_len, strlen(hex) / 2 - 1);
	/* a bad digit is reported at its character */
	const char *bad = "00 11 0X";
	assert_pb_error(pb_sms_decode_hex(&m, bad, strlen(bad), 0, scratch, sizeof(scratch), &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 7);
	/* a short PDU is reported at the character of the missing byte */
	const char *cut = "0011000B91";
	assert_pb_error(pb_sms_decode_hex(&m, cut, strlen(cut), PB_SMS_DECODE_SMSC, scratch, sizeof(scratch), &perr),
			PB_EMALFORMED);
	assert_int_equal(perr.offset, strlen(cut));
	assert_non_null(strstr(pb_error_last()->message, "offset 10"));
}

static void test_sms__decode_status_report(void **state)
{
	(void)state;
	pb_sms_message m;
	assert_pb_ok(decode_hex(&m, "06040D91945152991136F00160124130340A0160124130940A00", 0));
	assert_int_equal(m.type, PB_SMS_STATUS_REPORT);
	assert_int_equal(m.mr, 4);
	assert_string_equal(m.address.number, "+4915259911630");
	assert_true(m.has_status);
	assert_int_equal(m.status, 0);
	assert_true(pb_sms_status_delivered(m.status));
	assert_string_equal(pb_sms_status_text(m.status), "delivered");
	assert_true(m.scts.present && m.discharge.present);
	assert_int_equal(m.discharge.second, 49);
	/* with the optional PI, PID, DCS and user data */
	assert_pb_ok(decode_hex(&m, "0006" "0A" "0481" "2143" "11101021436500" "11101021436500" "41" "07" "00" "00"
				    "05" "E8329BFD06", PB_SMS_DECODE_SMSC));
	assert_int_equal(m.status, 0x41);
	assert_false(pb_sms_status_delivered(m.status));
	assert_string_equal(pb_sms_status_text(0x41), "permanent error: incompatible destination");
	assert_string_equal(m.text, "hello");
	assert_string_equal(pb_sms_status_text(0x62), "temporary error, SC gave up: no response from SME");
	assert_string_equal(pb_sms_status_text(0x21), "temporary error, SC still trying: SME busy");
	assert_non_null(strstr(pb_sms_status_text(0xFF), "reserved"));
	/* as a SIM stores it: padded with 0xFF to the end of the record. TP-PI
	 * 0xFF has reserved bits set: ignored (TS 23.040 §9.2.3.27), as Android does */
	char padded[400];
	int n = snprintf(padded, sizeof(padded), "%s", "06040D91945152991136F00160124130340A0160124130940A00");
	for (int i = 0; i < 40; i++)
		n += snprintf(padded + n, sizeof(padded) - (size_t)n, "FF");
	assert_pb_ok(decode_hex(&m, padded, 0));
	assert_int_equal(m.type, PB_SMS_STATUS_REPORT);
	assert_int_equal(m.mr, 4);
	assert_int_equal(m.status, 0);
	assert_int_equal(m.pi, 0xFF);
	assert_false(m.has_pid || m.has_dcs);
	assert_int_equal(m.text_len, 0);
	/* one 0xFF only (a TP-PI whose extension bit has nothing after it) */
	assert_pb_ok(decode_hex(&m, "06040D91945152991136F00160124130340A0160124130940A00FF", 0));
	assert_int_equal(m.status, 0);
}

static void test_sms__decode_reports_and_command(void **state)
{
	(void)state;
	pb_sms_message m;
	/* SUBMIT-REPORT for RP-ERROR: FCS 0xC4, PI 0, SCTS */
	assert_pb_ok(decode_hex(&m, "01C40011101021436500", PB_SMS_DECODE_REVERSE));
	assert_int_equal(m.type, PB_SMS_SUBMIT_REPORT);
	assert_true(m.has_fcs);
	assert_int_equal(m.fcs, 0xC4);
	assert_true(m.scts.present);
	/* DELIVER-REPORT for RP-ACK with user data */
	assert_pb_ok(decode_hex(&m, "0004" "02" "6834", PB_SMS_DECODE_REVERSE));
	assert_int_equal(m.type, PB_SMS_DELIVER_REPORT);
	assert_false(m.has_fcs);
	assert_string_equal(m.text, "hh");
	/* COMMAND: enquiry about message 5 */
	assert_pb_ok(decode_hex(&m, "02" "07" "00" "00" "05" "0481" "2143" "00", PB_SMS_DECODE_REVERSE));
	assert_int_equal(m.type, PB_SMS_COMMAND);
	assert_int_equal(m.mr, 7);
	assert_int_equal(m.message_number, 5);
	assert_string_equal(m.address.number, "1234");
	assert_string_equal(pb_sms_type_name(m.type), "command");
}

static void test_sms__decode_dcs_groups(void **state)
{
	(void)state;
	static const struct {
		uint8_t dcs;
		pb_sms_encoding enc;
		int cls;
		bool compressed, mwi, store, active;
	} cases[] = {
		{ 0x00, PB_SMS_ENC_GSM7, -1, false, false, false, false },
		{ 0x04, PB_SMS_ENC_8BIT, -1, false, false, false, false },
		{ 0x08, PB_SMS_ENC_UCS2, -1, false, false, false, false },
		{ 0x10, PB_SMS_ENC_GSM7, 0, false, false, false, false },
		{ 0x19, PB_SMS_ENC_UCS2, 1, false, false, false, false },
		{ 0x16, PB_SMS_ENC_8BIT, 2, false, false, false, false },
		{ 0x20, PB_SMS_ENC_GSM7, -1, true, false, false, false },
		{ 0x48, PB_SMS_ENC_UCS2, -1, false, false, false, false },
		{ 0x80, PB_SMS_ENC_GSM7, -1, false, false, false, false },
		{ 0xC0, PB_SMS_ENC_GSM7, -1, false, true, false, false },
		{ 0xC8, PB_SMS_ENC_GSM7, -1, false, true, false, true },
		{ 0xD9, PB_SMS_ENC_GSM7, -1, false, true, true, true },
		{ 0xE8, PB_SMS_ENC_UCS2, -1, false, true, true, true },
		{ 0xF0, PB_SMS_ENC_GSM7, 0, false, false, false, false },
		{ 0xF1, PB_SMS_ENC_GSM7, 1, false, false, false, false },
		{ 0xF6, PB_SMS_ENC_8BIT, 2, false, false, false, false },
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(cases); i++) {
		uint8_t pdu[64];
		pb_sms_message m;
		size_t n = make_deliver(pdu, 0x04, cases[i].dcs, 0, NULL, 0);
		assert_pb_ok(pb_sms_decode(&m, pdu, n, 0, NULL));
		assert_int_equal(m.dcs.raw, cases[i].dcs);
		assert_int_equal(m.dcs.encoding, cases[i].enc);
		assert_int_equal(m.dcs.msg_class, cases[i].cls);
		assert_int_equal(m.dcs.compressed, cases[i].compressed);
		assert_int_equal(m.dcs.mwi, cases[i].mwi);
		if (cases[i].mwi) {
			assert_int_equal(m.dcs.mwi_store, cases[i].store);
			assert_int_equal(m.dcs.mwi_active, cases[i].active);
		}
	}
	/* compressed user data is kept as bytes and not decoded as text */
	uint8_t pdu[64], ud[] = { 1, 2, 3 };
	pb_sms_message m;
	size_t n = make_deliver(pdu, 0x04, 0x20, 3, ud, 3);
	assert_pb_ok(pb_sms_decode(&m, pdu, n, 0, NULL));
	assert_true(m.dcs.compressed);
	assert_int_equal(m.text_len, 0);
	assert_int_equal(m.ud_len, 3);
}

static void test_sms__decode_udh_keeps_every_ie(void **state)
{
	(void)state;
	/* 8-bit data with concat8, ports16, a 16-bit concat, ports8, language shifts and
	 * an unknown (EMS text formatting) element */
	static const uint8_t ud[] = {
		29, 0x00, 3, 0x42, 3, 2, 0x05, 4, 0x0B, 0x84, 0x23, 0xF0, 0x0A, 3, 0, 4, 1,
		0x08, 4, 0x12, 0x34, 5, 5, 0x04, 2, 0x10, 0x20, 0x24, 1, 1, /* data: */ 0xAA, 0xBB,
	};
	uint8_t pdu[80];
	size_t n = make_deliver(pdu, 0x44, 0x04, sizeof(ud), ud, sizeof(ud));
	pb_sms_message m;
	assert_pb_ok(pb_sms_decode(&m, pdu, n, 0, NULL));
	assert_true(m.udh.present);
	assert_int_equal(m.udh.len, 29);
	assert_int_equal(m.udh.n_ies, 6);
	assert_int_equal(m.udh.ies[2].iei, 0x0A);
	assert_int_equal(m.udh.ies[2].len, 3);
	assert_memory_equal(m.udh.ies[2].data, "\x00\x04\x01", 3);
	/* repeated elements: the last one counts */
	assert_true(m.udh.has_concat && m.udh.concat_ref16);
	assert_int_equal(m.udh.concat_ref, 0x1234);
	assert_int_equal(m.udh.concat_total, 5);
	assert_int_equal(m.udh.concat_seq, 5);
	assert_true(m.udh.has_ports && !m.udh.ports16);
	assert_int_equal(m.udh.dst_port, 0x10);
	assert_int_equal(m.udh.src_port, 0x20);
	assert_int_equal(m.udh.lang_locking, 1);
	assert_int_equal(m.ud_len, 2);
	assert_memory_equal(m.ud, "\xAA\xBB", 2);
	/* a concatenation element with seq 0 is ignored but kept */
	static const uint8_t bad_seq[] = { 5, 0x00, 3, 1, 2, 0, 0x55 };
	n = make_deliver(pdu, 0x44, 0x04, sizeof(bad_seq), bad_seq, sizeof(bad_seq));
	assert_pb_ok(pb_sms_decode(&m, pdu, n, 0, NULL));
	assert_false(m.udh.has_concat);
	assert_int_equal(m.udh.n_ies, 1);
	/* an element running past the header is malformed, at its offset */
	static const uint8_t over[] = { 3, 0x00, 3, 1, 0x55 };
	n = make_deliver(pdu, 0x44, 0x04, sizeof(over), over, sizeof(over));
	pb_parse_error perr;
	assert_pb_error(pb_sms_decode(&m, pdu, n, 0, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 17); /* the element's length octet */
}

static void test_sms__decode_septet_padding_after_udh(void **state)
{
	(void)state;
	/* every header length from 3 to 12 octets, so every fill from 0 to 6 bits */
	const char *text = "Fill bits: {exactly} right";
	for (size_t udhl = 2; udhl <= 11; udhl++) {
		uint8_t ud[140] = { 0 }, sept[64];
		ud[0] = (uint8_t)udhl;
		ud[1] = 0x70; /* an unknown element */
		ud[2] = (uint8_t)(udhl - 2);
		size_t ns = 0;
		for (const char *p = text; *p;) {
			uint32_t cp;
			p += pb_utf8_decode(p, strlen(p), &cp);
			ns += (size_t)pb_sms__gsm_encode_char(cp, 0, 0, sept + ns);
		}
		size_t hs = ((udhl + 1) * 8 + 6) / 7;
		pb_sms__gsm_pack(sept, ns, hs, ud);
		size_t udl = hs + ns;
		uint8_t pdu[200];
		size_t n = make_deliver(pdu, 0x44, 0x00, (uint8_t)udl, ud, (udl * 7 + 7) / 8);
		pb_sms_message m;
		assert_pb_ok(pb_sms_decode(&m, pdu, n, 0, NULL));
		assert_string_equal(m.text, text);
	}
}

static void test_sms__unpack_fast_path_matches_plain_path(void **state)
{
	(void)state;
	/* random septets (escapes and all), at every alignment, in every table:
	 * the word-at-a-time path and the septet-at-a-time path agree */
	unsigned seed = 7;
	for (int iter = 0; iter < 3000; iter++) {
		uint8_t sept[200], packed[256] = { 0 };
		size_t n = (size_t)rand_r(&seed) % 180, first = (size_t)rand_r(&seed) % 16;
		bool ascii = iter % 2;
		for (size_t i = 0; i < n; i++) {
			unsigned r = (unsigned)rand_r(&seed);
			sept[i] = (uint8_t)(ascii && r % 13 ? 0x20 + r % 0x5B : r % 128);
		}
		pb_sms__gsm_pack(sept, n, first, packed);
		unsigned lang = (unsigned)iter % 4;
		char fast[1024], plain[1024];
		size_t a = pb_sms__gsm_unpack(packed, first, n, lang, lang, fast, sizeof(fast));
		size_t b = pb_sms__gsm_unpack(packed, first, n, lang, lang, plain, n * 3 + 1);
		assert_int_equal(a, b);
		assert_memory_equal(fast, plain, a + 1);
		assert_pb_ok(pb_utf8_validate(fast, a, NULL));
	}
}

static void test_sms__decode_national_shift_tables_via_udh(void **state)
{
	(void)state;
	static const struct {
		unsigned lang;
		const char *text;
	} cases[] = {
		{ PB_SMS_LANG_TURKISH, "Çığlık atan şoför: Ğğİış € ÇçŞş" },
		{ PB_SMS_LANG_SPANISH, "¿Qué tal? Él está aquí: Á Í Ó Ú á í ó ú ç" },
		{ PB_SMS_LANG_PORTUGUESE, "Não é fácil: ação, côr, avô, ÊÔÃÕ âêô ª º ∞" },
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(cases); i++) {
		pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
		o.languages = 1u << cases[i].lang;
		pb_sms_pdu *pdus;
		size_t n;
		assert_pb_ok(pb_sms_encode_text(&pdus, &n, "+123", cases[i].text, strlen(cases[i].text), &o));
		assert_int_equal(n, 1);
		pb_sms_message m;
		assert_pb_ok(pb_sms_decode(&m, pdus[0].data, pdus[0].len, 0, NULL));
		assert_int_equal(m.dcs.encoding, PB_SMS_ENC_GSM7);
		assert_true(m.udh.lang_single == cases[i].lang || m.udh.lang_locking == cases[i].lang);
		assert_string_equal(m.text, cases[i].text);
		pb_free(pdus);
	}
	/* without the tables those texts go out as UCS-2 */
	pb_sms_text_plan plan;
	assert_pb_ok(pb_sms_text_info(&plan, cases[0].text, strlen(cases[0].text), NULL));
	assert_int_equal(plan.encoding, PB_SMS_ENC_UCS2);
	/* a hand-made Turkish locking shift message: "ı" is 0x07, "ş" 0x1D */
	uint8_t sept[] = { 0x07, 0x1D }, ud[16] = { 3, 0x24, 1, 1 };
	pb_sms__gsm_pack(sept, 2, 5, ud);
	uint8_t pdu[64];
	size_t n = make_deliver(pdu, 0x44, 0x00, 7, ud, 7);
	pb_sms_message m;
	assert_pb_ok(pb_sms_decode(&m, pdu, n, 0, NULL));
	assert_string_equal(m.text, "ış");
	/* an unknown language falls back to the default tables */
	ud[3] = 13;
	n = make_deliver(pdu, 0x44, 0x00, 7, ud, 7);
	assert_pb_ok(pb_sms_decode(&m, pdu, n, 0, NULL));
	assert_string_equal(m.text, "ìæ");
	assert_int_equal(m.udh.lang_locking, 13);
}

static void test_sms__decode_ucs2_surrogates(void **state)
{
	(void)state;
	/* a pair, then a lone high surrogate, a lone low one, and an odd byte */
	static const uint8_t ud[] = { 0xD8, 0x3D, 0xDE, 0x18, 0x00, 0x41, 0xD8, 0x3D, 0x00, 0x42, 0xDC, 0x00, 0x00 };
	uint8_t pdu[64];
	size_t n = make_deliver(pdu, 0x04, 0x08, sizeof(ud), ud, sizeof(ud));
	pb_sms_message m;
	assert_pb_ok(pb_sms_decode(&m, pdu, n, 0, NULL));
	assert_string_equal(m.text, "\xF0\x9F\x98\x98" "A\xEF\xBF\xBD" "B\xEF\xBF\xBD\xEF\xBF\xBD");
	assert_pb_ok(pb_utf8_validate(m.text, m.text_len, NULL));
}

static void test_sms__decode_8bit_and_wap_push(void **state)
{
	(void)state;
	pb_sms_message m;
	assert_pb_ok(decode_hex(&m, "07912143658709F1040B918100551512F20004111010214365000AE8329BFD4697D9EC37DE",
				PB_SMS_DECODE_SMSC));
	assert_int_equal(m.dcs.encoding, PB_SMS_ENC_8BIT);
	assert_int_equal(m.text_len, 0);
	assert_string_equal(to_hex(m.ud, m.ud_len), "E8329BFD4697D9EC37DE");
	assert_false(pb_sms_is_wap_push(&m));
	uint8_t pdu[64], ud[] = { 6, 0x05, 4, 0x0B, 0x84, 0x23, 0xF0, 0x01, 0x06 };
	size_t n = make_deliver(pdu, 0x44, 0xF5, sizeof(ud), ud, sizeof(ud));
	assert_pb_ok(pb_sms_decode(&m, pdu, n, 0, NULL));
	assert_true(pb_sms_is_wap_push(&m));
	assert_int_equal(m.udh.dst_port, 2948);
	assert_int_equal(m.udh.src_port, 9200);
	ud[3] = 0x23, ud[4] = 0xF1; /* 9201 */
	n = make_deliver(pdu, 0x44, 0xF5, sizeof(ud), ud, sizeof(ud));
	assert_pb_ok(pb_sms_decode(&m, pdu, n, 0, NULL));
	assert_true(pb_sms_is_wap_push(&m));
}

static void test_sms__decode_rejects_malformed_at_offset(void **state)
{
	(void)state;
	static const struct {
		const char *hex;
		unsigned flags;
		size_t offset;
	} cases[] = {
		{ "", PB_SMS_DECODE_SMSC, 0 },
		{ "0C91", PB_SMS_DECODE_SMSC, 0 },                   /* SMSC too long */
		{ "0791214365", PB_SMS_DECODE_SMSC, 2 },             /* SMSC cut short */
		{ "00", PB_SMS_DECODE_SMSC, 1 },                     /* no first octet */
		{ "04", 0, 1 },                                       /* no originator */
		{ "041591", 0, 1 },                                   /* address too long */
		{ "040491", 0, 3 },                                   /* digits missing */
		{ "04049121430000111010214365", 0, 7 },               /* SCTS cut short */
		{ "0404912143000011101021436500", 0, 14 },            /* no UDL */
		{ "040491214300001110102143650005E832", 0, 14 },      /* user data cut short */
		{ "440491214300041110102143650002070001", 0, 15 },    /* UDH longer than UD */
		{ "44049121430000111010214365000101", 0, 15 },        /* UDH longer than septets */
		{ "0100", 0, 2 },                                     /* SUBMIT without DA */
		{ "0A00", 0, 2 },                                     /* STATUS-REPORT without RA */
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(cases); i++) {
		size_t len;
		uint8_t *pdu = pb_test_unhex(cases[i].hex, &len);
		pb_sms_message m;
		pb_parse_error perr;
		int rc = pb_sms_decode(&m, pdu, len, cases[i].flags, &perr);
		if (rc != PB_EMALFORMED || perr.offset != cases[i].offset)
			print_error("case %zu (%s): rc %d offset %zu (%s)\n", i, cases[i].hex, rc, perr.offset, perr.text);
		assert_int_equal(rc, PB_EMALFORMED);
		assert_int_equal(perr.offset, cases[i].offset);
		free(pdu);
	}
	/* every truncation of a good PDU fails cleanly, inside the input */
	size_t len;
	uint8_t *pdu = pb_test_unhex("07911326040000F0040B911346610089F60000208062917314480CC8F71D14969741F977FD07",
				     &len);
	for (size_t cut = 0; cut < len; cut++) {
		pb_sms_message m;
		pb_parse_error perr;
		uint8_t *copy = malloc(cut + 1);
		memcpy(copy, pdu, cut);
		assert_pb_error(pb_sms_decode(&m, copy, cut, PB_SMS_DECODE_SMSC, &perr), PB_EMALFORMED);
		assert_true(perr.offset <= cut);
		free(copy);
	}
	free(pdu);
}

static void test_sms__time_formats(void **state)
{
	(void)state;
	pb_sms_time t = { true, 2002, 8, 26, 19, 37, 41, -4 };
	char iso[40];
	pb_sms_time_iso8601(&t, iso, sizeof(iso));
	assert_string_equal(iso, "2002-08-26T19:37:41-01:00");
	assert_int_equal(pb_sms_time_epoch(&t), 1030394261);
	t.tz_quarters = 22;
	pb_sms_time_iso8601(&t, iso, sizeof(iso));
	assert_string_equal(iso, "2002-08-26T19:37:41+05:30");
	t.present = false;
	assert_int_equal(pb_sms_time_iso8601(&t, iso, sizeof(iso)), 0);
	assert_string_equal(iso, "");
	assert_int_equal(pb_sms_time_epoch(&t), -1);
	/* absolute validity in a SUBMIT */
	pb_sms_message m;
	assert_pb_ok(decode_hex(&m, "1900" "0481" "2143" "0000" "11101021436589" "00", 0));
	assert_int_equal(m.validity.format, PB_SMS_VP_ABSOLUTE);
	assert_int_equal(m.validity.absolute.tz_quarters, -18);
	/* enhanced validity, relative seconds */
	assert_pb_ok(decode_hex(&m, "0900" "0481" "2143" "0000" "021E0000000000" "00", 0));
	assert_int_equal(m.validity.format, PB_SMS_VP_ENHANCED);
	assert_int_equal(m.validity.seconds, 30);
}

/* --- encoding ------------------------------------------------------------------ */

static void test_sms__encode_known_pdus(void **state)
{
	(void)state;
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.include_smsc = true;
	o.smsc = "+19037029920";
	o.validity = pb_sms_validity_relative(300);
	pb_sms_pdu *p;
	size_t n;
	const char *text = "Да здравствует король, детка!";
	assert_pb_ok(pb_sms_encode_text(&p, &n, "+15555551234", text, strlen(text), &o));
	assert_int_equal(n, 1);
	assert_string_equal(to_hex(p[0].data, p[0].len),
			    "07919130079229F011000B915155551532F40008003A041404300020043704340440043004320441044204"
			    "320443043504420020043A043E0440043E043B044C002C0020043404350442043A04300021");
	assert_int_equal(p[0].tpdu_len, p[0].len - 8);
	pb_free(p);
	/* no validity, an empty SMSC field */
	o.smsc = NULL;
	o.validity = -1;
	text = "This is really cool ΔΔΔΔΔ";
	assert_pb_ok(pb_sms_encode_text(&p, &n, "+15556661234", text, strlen(text), &o));
	assert_string_equal(to_hex(p[0].data, p[0].len),
			    "0001000B915155661632F400001954747A0E4ACF41F27298CDCE83C6EF371B0481402010");
	assert_int_equal(p[0].tpdu_len, p[0].len - 1);
	pb_free(p);
	/* no SMSC field at all */
	o.include_smsc = false;
	assert_pb_ok(pb_sms_encode_text(&p, &n, "+15556661234", text, strlen(text), &o));
	assert_int_equal(p[0].tpdu_len, p[0].len);
	assert_int_equal(p[0].data[0], 0x01);
	pb_free(p);
}

static void test_sms__encode_options_set_bits(void **state)
{
	(void)state;
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.status_report = true;
	o.reject_duplicates = true;
	o.reply_path = true;
	o.msg_class = 0;
	o.validity = 0xA7;
	o.mr = 9;
	pb_sms_pdu *p;
	size_t n;
	assert_pb_ok(pb_sms_encode_text(&p, &n, "0123", "flash", 5, &o));
	pb_sms_message m;
	assert_pb_ok(pb_sms_decode(&m, p[0].data, p[0].len, 0, NULL));
	assert_int_equal(m.type, PB_SMS_SUBMIT);
	assert_true(m.status_report && m.reject_duplicates && m.reply_path);
	assert_int_equal(m.dcs.msg_class, 0);
	assert_int_equal(m.dcs.raw, 0x10);
	assert_int_equal(m.validity.relative, 0xA7);
	assert_int_equal(m.mr, 9);
	assert_string_equal(m.address.number, "0123");
	assert_int_equal(m.address.toa, 0x81);
	pb_free(p);
	/* alphanumeric destination */
	assert_pb_ok(pb_sms_encode_text(&p, &n, "Info@Shop", "x", 1, NULL));
	assert_pb_ok(pb_sms_decode(&m, p[0].data, p[0].len, 0, NULL));
	assert_string_equal(m.address.number, "Info@Shop");
	assert_int_equal(m.address.ton, 5);
	pb_free(p);
	/* bad arguments */
	assert_pb_error(pb_sms_encode_text(&p, &n, "TooLongASenderName", "x", 1, NULL), PB_EINVAL);
	assert_pb_error(pb_sms_encode_text(&p, &n, "+123", "\xC3", 1, NULL), PB_EMALFORMED);
	o.msg_class = 4;
	assert_pb_error(pb_sms_encode_text(&p, &n, "+123", "x", 1, &o), PB_EINVAL);
	o.msg_class = -1;
	o.version = 99;
	assert_pb_error(pb_sms_encode_text(&p, &n, "+123", "x", 1, &o), PB_EINVAL);
	o = (pb_sms_submit_options)PB_SMS_SUBMIT_OPTIONS_INIT;
	o.include_smsc = true;
	o.smsc = "+12ab34x";
	assert_pb_error(pb_sms_encode_text(&p, &n, "+123", "x", 1, &o), PB_EINVAL);
	/* validity conversions (§9.2.3.12.1) */
	assert_int_equal(pb_sms_validity_relative(0), 0);
	assert_int_equal(pb_sms_validity_relative(300), 0);
	assert_int_equal(pb_sms_validity_relative(301), 1);
	assert_int_equal(pb_sms_validity_relative(12 * 3600), 143);
	assert_int_equal(pb_sms_validity_relative(86400), 167);
	assert_int_equal(pb_sms_validity_relative(2 * 86400), 168);
	assert_int_equal(pb_sms_validity_relative(7 * 86400 * 5), 197);
	assert_int_equal(pb_sms_validity_relative(UINT32_MAX), 255);
}

static void fill(char *buf, const char *unit, size_t count)
{
	buf[0] = '\0';
	for (size_t i = 0; i < count; i++)
		strcat(buf, unit);
}

static void test_sms__encode_part_limits(void **state)
{
	(void)state;
	static const struct {
		const char *unit;
		size_t count, parts;
		pb_sms_encoding enc;
	} cases[] = {
		{ "a", 160, 1, PB_SMS_ENC_GSM7 },  { "a", 161, 2, PB_SMS_ENC_GSM7 },
		{ "a", 306, 2, PB_SMS_ENC_GSM7 },  { "a", 307, 3, PB_SMS_ENC_GSM7 },
		{ "€", 80, 1, PB_SMS_ENC_GSM7 },   { "€", 81, 2, PB_SMS_ENC_GSM7 },
		{ "€", 76, 1, PB_SMS_ENC_GSM7 },   { "€", 153, 3, PB_SMS_ENC_GSM7 },
		{ "я", 70, 1, PB_SMS_ENC_UCS2 },   { "я", 71, 2, PB_SMS_ENC_UCS2 },
		{ "я", 134, 2, PB_SMS_ENC_UCS2 },  { "я", 135, 3, PB_SMS_ENC_UCS2 },
		{ "😀", 35, 1, PB_SMS_ENC_UCS2 },  { "😀", 36, 2, PB_SMS_ENC_UCS2 },
		{ "😀", 67, 3, PB_SMS_ENC_UCS2 },
	};
	static char text[2000];
	for (size_t i = 0; i < PB_ARRAY_SIZE(cases); i++) {
		fill(text, cases[i].unit, cases[i].count);
		pb_sms_text_plan plan;
		assert_pb_ok(pb_sms_text_info(&plan, text, strlen(text), NULL));
		if (plan.parts != cases[i].parts)
			print_error("case %zu: %zu x %s -> %zu parts\n", i, cases[i].count, cases[i].unit, plan.parts);
		assert_int_equal(plan.parts, cases[i].parts);
		assert_int_equal(plan.encoding, cases[i].enc);
		pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
		o.reference = 0x5A;
		pb_sms_pdu *p;
		size_t n;
		assert_pb_ok(pb_sms_encode_text(&p, &n, "+4912345", text, strlen(text), &o));
		assert_int_equal(n, cases[i].parts);
		for (size_t k = 0; k < n; k++) {
			pb_sms_message m;
			assert_pb_ok(pb_sms_decode(&m, p[k].data, p[k].len, 0, NULL));
			assert_true(m.udl <= (m.dcs.encoding == PB_SMS_ENC_GSM7 ? 160 : 140));
			if (n > 1) {
				assert_true(m.udh.has_concat);
				assert_int_equal(m.udh.concat_ref, 0x5A);
				assert_int_equal(m.udh.concat_total, n);
				assert_int_equal(m.udh.concat_seq, k + 1);
			}
		}
		pb_sms_assembled *a = join(p, n, 0);
		assert_string_equal(a->text, text);
		pb_sms_assembled_free(a);
		pb_free(p);
	}
	/* 255 parts at most */
	static char big[153 * 256 + 1];
	memset(big, 'x', sizeof(big) - 1);
	pb_sms_pdu *p;
	size_t n;
	assert_pb_error(pb_sms_encode_text(&p, &n, "+1", big, strlen(big), NULL), PB_ETOOBIG);
}

static void test_sms__encode_fresh_and_16bit_references(void **state)
{
	(void)state;
	static char text[400];
	fill(text, "ab", 150);
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.ref16 = true;
	o.reference = 0xBEEF;
	pb_sms_pdu *p;
	size_t n;
	assert_pb_ok(pb_sms_encode_text(&p, &n, "+1", text, strlen(text), &o));
	assert_int_equal(n, 2);
	pb_sms_message m;
	assert_pb_ok(pb_sms_decode(&m, p[1].data, p[1].len, 0, NULL));
	assert_true(m.udh.concat_ref16);
	assert_int_equal(m.udh.concat_ref, 0xBEEF);
	pb_sms_assembled *a = join(p, n, 0);
	assert_string_equal(a->text, text);
	pb_sms_assembled_free(a);
	pb_free(p);
	/* random references differ between messages (at least once in 8 tries) */
	unsigned seen[8];
	bool differ = false;
	for (int i = 0; i < 8; i++) {
		assert_pb_ok(pb_sms_encode_text(&p, &n, "+1", text, strlen(text), NULL));
		assert_pb_ok(pb_sms_decode(&m, p[0].data, p[0].len, 0, NULL));
		seen[i] = m.udh.concat_ref;
		differ |= i > 0 && seen[i] != seen[0];
		pb_free(p);
	}
	assert_true(differ);
}

static void test_sms__encode_binary_ports(void **state)
{
	(void)state;
	uint8_t data[300];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.include_smsc = true;
	pb_sms_pdu *p;
	size_t n;
	assert_pb_ok(pb_sms_encode_binary(&p, &n, "+4917", data, sizeof(data), 2948, 9200, &o));
	assert_int_equal(n, 3);
	pb_sms_message m;
	assert_pb_ok(pb_sms_decode(&m, p[0].data, p[0].len, PB_SMS_DECODE_SMSC, NULL));
	assert_true(pb_sms_is_wap_push(&m));
	assert_true(m.udh.ports16);
	assert_int_equal(m.dcs.encoding, PB_SMS_ENC_8BIT);
	pb_sms_assembled *a = join(p, n, PB_SMS_DECODE_SMSC);
	assert_true(a->complete);
	assert_int_equal(a->data_len, sizeof(data));
	assert_memory_equal(a->data, data, sizeof(data));
	assert_int_equal(a->key.dst_port, 2948);
	pb_sms_assembled_free(a);
	pb_free(p);
	/* 8-bit ports, one part */
	assert_pb_ok(pb_sms_encode_binary(&p, &n, "+4917", data, 10, 16, -1, NULL));
	assert_int_equal(n, 1);
	assert_pb_ok(pb_sms_decode(&m, p[0].data, p[0].len, 0, NULL));
	assert_false(m.udh.ports16);
	assert_int_equal(m.udh.dst_port, 16);
	assert_int_equal(m.udh.src_port, 16);
	pb_free(p);
	/* no ports: 140 octets fit one part */
	assert_pb_ok(pb_sms_encode_binary(&p, &n, "+4917", data, 140, -1, -1, NULL));
	assert_int_equal(n, 1);
	pb_free(p);
	assert_pb_error(pb_sms_encode_binary(&p, &n, "+4917", data, 10, 70000, -1, NULL), PB_EINVAL);
}

/* A random code point from a mix that exercises every path. */
static uint32_t random_cp(unsigned *seed)
{
	static const uint32_t ext[] = { '^', '{', '}', '\\', '[', '~', ']', '|', 0x20AC, 0x0C };
	static const uint32_t nat[] = { 0x011E, 0x011F, 0x0130, 0x0131, 0x015E, 0x015F, 0x00E7, 0x00C1, 0x00E1,
					0x00CD, 0x00ED, 0x00D3, 0x00F3, 0x00DA, 0x00FA, 0x00EA, 0x00E3, 0x00F5 };
	unsigned r = (unsigned)rand_r(seed);
	switch (r % 10) {
	case 0: return ext[(r / 10) % PB_ARRAY_SIZE(ext)];
	case 1: {
		uint16_t u = pb_sms__locking(0, (uint8_t)((r / 10) % 128));
		return u ? u : 'E';
	}
	case 2: return nat[(r / 10) % PB_ARRAY_SIZE(nat)];
	case 3: return 0x1F600 + (r / 10) % 80; /* emoji */
	case 4: return 0x10000 + (r / 10) % 0xFFFF0; /* any supplementary */
	case 5: {
		uint32_t cp = 0x80 + (r / 10) % (0xFFFE - 0x80);
		return (cp >= 0xD800 && cp <= 0xDFFF) ? 0x4E2D : cp;
	}
	default: return 0x20 + (r / 10) % 0x5F; /* printable ASCII */
	}
}

static void test_sms__randomized_round_trips(void **state)
{
	(void)state;
	unsigned seed = 20261122;
	static char text[4000];
	for (int iter = 0; iter < 400; iter++) {
		size_t n = (size_t)rand_r(&seed) % 400, len = 0;
		bool gsm_only = iter % 3 == 0;
		for (size_t i = 0; i < n; i++) {
			uint32_t cp = random_cp(&seed);
			if (gsm_only && !pb_sms__gsm_encode_char(cp, 0, 0, (uint8_t[2]){ 0 }))
				cp = 'g';
			len += pb_utf8_encode(cp, text + len);
		}
		text[len] = '\0';
		pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
		o.include_smsc = iter % 2;
		o.languages = iter % 4 == 1 ? 0xE : 0;
		o.ref16 = iter % 5 == 0;
		pb_sms_pdu *p;
		size_t parts;
		assert_pb_ok(pb_sms_encode_text(&p, &parts, "+4930123456", text, len, &o));
		pb_sms_text_plan plan;
		assert_pb_ok(pb_sms_text_info(&plan, text, len, &o));
		assert_int_equal(plan.parts, parts);
		if (gsm_only)
			assert_int_equal(plan.encoding, PB_SMS_ENC_GSM7);
		pb_sms_assembled *a = join(p, parts, o.include_smsc ? PB_SMS_DECODE_SMSC : 0);
		if (a->text_len != len || memcmp(a->text, text, len) != 0)
			print_error("iteration %d: \"%s\" came back as \"%s\"\n", iter, text, a->text);
		assert_int_equal(a->text_len, len);
		assert_memory_equal(a->text, text, len);
		pb_sms_assembled_free(a);
		pb_free(p);
	}
}

static void test_sms__every_extension_character_round_trips(void **state)
{
	(void)state;
	/* the whole default alphabet and every extension character */
	char text[600];
	size_t len = 0;
	for (unsigned c = 0; c < 128; c++)
		if (c != PB_SMS__ESC)
			len += pb_utf8_encode(pb_sms__locking(0, (uint8_t)c), text + len);
	for (unsigned c = 0; c < 128; c++) {
		uint16_t u = pb_sms__single(0, (uint8_t)c);
		if (u && c != PB_SMS__ESC)
			len += pb_utf8_encode(u, text + len);
	}
	text[len] = '\0';
	pb_sms_text_plan plan;
	assert_pb_ok(pb_sms_text_info(&plan, text, len, NULL));
	assert_int_equal(plan.encoding, PB_SMS_ENC_GSM7);
	assert_int_equal(plan.units, 127 + 2 * 10);
	pb_sms_pdu *p;
	size_t n;
	assert_pb_ok(pb_sms_encode_text(&p, &n, "+1", text, len, NULL));
	assert_int_equal(n, 1);
	pb_sms_assembled *a = join(p, n, 0);
	assert_string_equal(a->text, text);
	pb_sms_assembled_free(a);
	pb_free(p);
	/* an extension pair is never split across parts: 152 'a' + 5 '€' */
	static char t2[200];
	memset(t2, 'a', 152);
	strcpy(t2 + 152, "€€€€€");
	assert_pb_ok(pb_sms_encode_text(&p, &n, "+1", t2, strlen(t2), NULL));
	assert_int_equal(n, 2);
	pb_sms_message m;
	assert_pb_ok(pb_sms_decode(&m, p[0].data, p[0].len, 0, NULL));
	assert_int_equal(m.text_len, 152);
	a = join(p, n, 0);
	assert_string_equal(a->text, t2);
	pb_sms_assembled_free(a);
	pb_free(p);
}

/* --- reassembly ---------------------------------------------------------------- */

typedef struct saved_part {
	pb_sms_group_key key;
	uint8_t seq;
	uint8_t pdu[PB_SMS_PDU_MAX];
	size_t len;
	unsigned flags;
	int64_t received;
	bool live;
} saved_part;

/* A test store: an array standing in for the SQLite table. */
typedef struct test_store {
	saved_part parts[64];
	int saves, deletes, fail_next_save, fail_next_delete;
} test_store;

static int ts_save(const pb_sms_group_key *key, uint8_t seq, const uint8_t *pdu, size_t len, unsigned flags,
		   int64_t received, void *ud)
{
	test_store *s = ud;
	if (s->fail_next_save) {
		s->fail_next_save = 0;
		return pb_error_set(PB_EIO, "disk full");
	}
	for (size_t i = 0; i < PB_ARRAY_SIZE(s->parts); i++) {
		saved_part *p = &s->parts[i];
		if (!p->live) {
			p->live = true;
			p->key = *key;
			p->seq = seq;
			memcpy(p->pdu, pdu, len);
			p->len = len;
			p->flags = flags;
			p->received = received;
			s->saves++;
			return 0;
		}
	}
	return pb_error_set(PB_ETOOBIG, "test store full");
}

static int ts_delete(const pb_sms_group_key *key, void *ud)
{
	test_store *s = ud;
	if (s->fail_next_delete) {
		s->fail_next_delete = 0;
		return pb_error_set(PB_EIO, "database locked");
	}
	for (size_t i = 0; i < PB_ARRAY_SIZE(s->parts); i++) {
		saved_part *p = &s->parts[i];
		if (p->live && p->key.ref == key->ref && p->key.total == key->total &&
		    !strcmp(p->key.originator, key->originator))
			p->live = false;
	}
	s->deletes++;
	return 0;
}

static int ts_load(pb_sms_stored_part_cb cb, void *cb_ud, void *ud)
{
	test_store *s = ud;
	for (size_t i = 0; i < PB_ARRAY_SIZE(s->parts); i++) {
		saved_part *p = &s->parts[i];
		if (p->live) {
			int rc = cb(&p->key, p->seq, p->pdu, p->len, p->flags, p->received, cb_ud);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static size_t ts_live(const test_store *s)
{
	size_t n = 0;
	for (size_t i = 0; i < PB_ARRAY_SIZE(s->parts); i++)
		n += s->parts[i].live;
	return n;
}

static const pb_sms_reassembly_store_ops test_store_ops = {
	PB_SMS_REASSEMBLY_STORE_OPS_VERSION, ts_save, ts_delete, ts_load,
};

/* Four parts of a text to @to, reference @ref. */
static pb_sms_pdu *four_parts(int ref, const char *to, const char **text_out)
{
	static char text[600];
	fill(text, "0123456789", 50);
	strcat(text, " {end}");
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.reference = ref;
	pb_sms_pdu *p;
	size_t n;
	assert_pb_ok(pb_sms_encode_text(&p, &n, to, text, strlen(text), &o));
	assert_int_equal(n, 4);
	*text_out = text;
	return p;
}

static void test_sms__reassembly_out_of_order_and_duplicates(void **state)
{
	(void)state;
	const char *text;
	pb_sms_pdu *a = four_parts(7, "+491", &text);
	pb_sms_pdu *b = four_parts(7, "+492", &text); /* same reference, other sender */
	pb_sms_reassembler *r;
	assert_pb_ok(pb_sms_reassembler_new(&r, NULL));
	static const int order[] = { 3, 0, 3, 2 };
	pb_sms_assembled *out;
	for (size_t i = 0; i < PB_ARRAY_SIZE(order); i++) {
		assert_pb_ok(pb_sms_reassembler_add(r, a[order[i]].data, a[order[i]].len, 0, 10, &out, NULL));
		assert_null(out);
		assert_pb_ok(pb_sms_reassembler_add(r, b[order[i]].data, b[order[i]].len, 0, 10, &out, NULL));
		assert_null(out);
	}
	assert_int_equal(pb_sms_reassembler_pending(r), 2);
	assert_pb_ok(pb_sms_reassembler_add(r, b[1].data, b[1].len, 0, 11, &out, NULL));
	assert_non_null(out);
	assert_true(out->complete);
	assert_int_equal(out->total, 4);
	assert_int_equal(out->received, 4);
	assert_string_equal(out->first.address.number, "+492");
	assert_string_equal(out->text, text);
	pb_sms_assembled_free(out);
	assert_int_equal(pb_sms_reassembler_pending(r), 1);
	/* nothing is due before the timeout (none set) */
	assert_pb_ok(pb_sms_reassembler_expire(r, 1000000, &out));
	assert_null(out);
	assert_pb_ok(pb_sms_reassembler_flush(r, &out));
	assert_non_null(out);
	assert_false(out->complete);
	assert_int_equal(out->received, 3);
	assert_int_equal(out->have[0], 0x0D);
	pb_sms_assembled_free(out);
	assert_int_equal(pb_sms_reassembler_pending(r), 0);
	pb_sms_reassembler_free(r);
	pb_free(a);
	pb_free(b);
}

static void test_sms__reassembly_timeout_surfaces_incomplete(void **state)
{
	(void)state;
	const char *text;
	pb_sms_pdu *a = four_parts(9, "+491", &text);
	pb_sms_reassembler_options ro = PB_SMS_REASSEMBLER_OPTIONS_INIT;
	ro.timeout_ms = 100;
	pb_sms_reassembler *r;
	assert_pb_ok(pb_sms_reassembler_new(&r, &ro));
	pb_sms_assembled *out;
	assert_pb_ok(pb_sms_reassembler_add(r, a[0].data, a[0].len, 0, 1000, &out, NULL));
	assert_pb_ok(pb_sms_reassembler_add(r, a[2].data, a[2].len, 0, 1050, &out, NULL));
	assert_pb_ok(pb_sms_reassembler_expire(r, 1099, &out));
	assert_null(out);
	assert_pb_ok(pb_sms_reassembler_expire(r, 1100, &out));
	assert_non_null(out);
	assert_false(out->complete);
	assert_int_equal(out->received, 2);
	assert_int_equal(out->first_received, 1000);
	assert_true(strncmp(out->text, text, 153) == 0);
	pb_sms_assembled_free(out);
	assert_pb_ok(pb_sms_reassembler_expire(r, 5000, &out));
	assert_null(out);
	/* a bound on groups held: the oldest comes out first */
	pb_sms_reassembler *b;
	ro.timeout_ms = 0;
	ro.max_groups = 1;
	assert_pb_ok(pb_sms_reassembler_new(&b, &ro));
	const char *t2;
	pb_sms_pdu *c = four_parts(10, "+492", &t2);
	assert_pb_ok(pb_sms_reassembler_add(b, a[0].data, a[0].len, 0, 1, &out, NULL));
	assert_pb_ok(pb_sms_reassembler_expire(b, 1, &out));
	assert_null(out);
	assert_pb_ok(pb_sms_reassembler_add(b, c[0].data, c[0].len, 0, 2, &out, NULL));
	assert_pb_ok(pb_sms_reassembler_expire(b, 2, &out));
	assert_non_null(out);
	assert_false(out->complete);
	assert_string_equal(out->first.address.number, "+491");
	pb_sms_assembled_free(out);
	assert_pb_ok(pb_sms_reassembler_expire(b, 2, &out));
	assert_null(out);
	assert_int_equal(pb_sms_reassembler_pending(b), 1);
	pb_sms_reassembler_free(b);
	pb_free(c);
	/* a late part starts a new group, not a lost one */
	assert_pb_ok(pb_sms_reassembler_add(r, a[1].data, a[1].len, 0, 6000, &out, NULL));
	assert_null(out);
	assert_int_equal(pb_sms_reassembler_pending(r), 1);
	pb_sms_reassembler_free(r);
	pb_free(a);
}

static void test_sms__reassembly_save_and_restore(void **state)
{
	(void)state;
	const char *text;
	pb_sms_pdu *a = four_parts(11, "+491", &text);
	test_store *s = calloc(1, sizeof(*s));
	pb_sms_reassembler_options ro = PB_SMS_REASSEMBLER_OPTIONS_INIT;
	ro.store = &test_store_ops;
	ro.store_userdata = s;
	ro.timeout_ms = 1000;
	/* the deprecated name is the same member */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	assert_int_equal(ro.timeout, 1000);
#pragma GCC diagnostic pop
	pb_sms_reassembler *r;
	pb_sms_assembled *out;
	assert_pb_ok(pb_sms_reassembler_new(&r, &ro));
	assert_pb_ok(pb_sms_reassembler_add(r, a[1].data, a[1].len, 0, 5, &out, NULL));
	assert_pb_ok(pb_sms_reassembler_add(r, a[0].data, a[0].len, 0, 6, &out, NULL));
	/* a failing store keeps nothing and says so */
	s->fail_next_save = 1;
	assert_pb_error(pb_sms_reassembler_add(r, a[2].data, a[2].len, 0, 7, &out, NULL), PB_EIO);
	assert_null(out);
	assert_int_equal(ts_live(s), 2);
	/* "restart": a new reassembler over the same store */
	pb_sms_reassembler_free(r);
	assert_pb_ok(pb_sms_reassembler_new(&r, &ro));
	assert_pb_ok(pb_sms_reassembler_restore(r));
	assert_int_equal(pb_sms_reassembler_pending(r), 1);
	assert_int_equal(s->saves, 2); /* restoring saves nothing back */
	assert_pb_ok(pb_sms_reassembler_add(r, a[2].data, a[2].len, 0, 8, &out, NULL));
	assert_null(out);
	/* the last part completes it; the delete fails, the group stays for expire() */
	s->fail_next_delete = 1;
	assert_pb_error(pb_sms_reassembler_add(r, a[3].data, a[3].len, 0, 9, &out, NULL), PB_EIO);
	assert_null(out);
	assert_pb_ok(pb_sms_reassembler_expire(r, 10, &out));
	assert_non_null(out);
	assert_true(out->complete);
	assert_string_equal(out->text, text);
	assert_int_equal(out->first_received, 5);
	pb_sms_assembled_free(out);
	assert_int_equal(ts_live(s), 0);
	/* a restore of a group whose parts are all saved surfaces it at once */
	assert_pb_ok(pb_sms_reassembler_add(r, a[0].data, a[0].len, 0, 20, &out, NULL));
	pb_sms_reassembler_free(r);
	for (int i = 1; i < 4; i++)
		ts_save(&s->parts[0].key, (uint8_t)(i + 1), a[i].data, a[i].len, 0, 21, s);
	assert_pb_ok(pb_sms_reassembler_new(&r, &ro));
	assert_pb_ok(pb_sms_reassembler_restore(r));
	assert_pb_ok(pb_sms_reassembler_expire(r, 22, &out));
	assert_non_null(out);
	assert_true(out->complete);
	assert_string_equal(out->text, text);
	pb_sms_assembled_free(out);
	pb_sms_reassembler_free(r);
	/* bad store tables are refused */
	pb_sms_reassembly_store_ops bad = test_store_ops;
	bad.version = 2;
	ro.store = &bad;
	assert_pb_error(pb_sms_reassembler_new(&r, &ro), PB_EINVAL);
	assert_pb_error(pb_sms_reassembler_restore(NULL), PB_EINVAL);
	free(s);
	pb_free(a);
}

static void test_sms__reassembly_groups_by_ports_and_single_parts(void **state)
{
	(void)state;
	uint8_t data[200];
	memset(data, 0x42, sizeof(data));
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.reference = 3;
	pb_sms_pdu *w, *t;
	size_t nw, nt;
	assert_pb_ok(pb_sms_encode_binary(&w, &nw, "+1", data, sizeof(data), 2948, 9200, &o));
	static char text[300];
	fill(text, "x", 200);
	assert_pb_ok(pb_sms_encode_text(&t, &nt, "+1", text, strlen(text), &o));
	assert_int_equal(nw, 2);
	assert_int_equal(nt, 2);
	pb_sms_reassembler *r;
	pb_sms_assembled *out;
	assert_pb_ok(pb_sms_reassembler_new(&r, NULL));
	assert_pb_ok(pb_sms_reassembler_add(r, w[0].data, w[0].len, 0, 1, &out, NULL));
	assert_pb_ok(pb_sms_reassembler_add(r, t[1].data, t[1].len, 0, 1, &out, NULL));
	assert_null(out);
	assert_int_equal(pb_sms_reassembler_pending(r), 2); /* same sender and ref, other ports */
	assert_pb_ok(pb_sms_reassembler_add(r, w[1].data, w[1].len, 0, 2, &out, NULL));
	assert_non_null(out);
	assert_int_equal(out->data_len, sizeof(data));
	assert_int_equal(out->key.dst_port, 2948);
	pb_sms_assembled_free(out);
	/* a single-part message comes straight back */
	pb_sms_pdu *s;
	size_t ns;
	assert_pb_ok(pb_sms_encode_text(&s, &ns, "+1", "hi", 2, NULL));
	assert_pb_ok(pb_sms_reassembler_add(r, s[0].data, s[0].len, 0, 3, &out, NULL));
	assert_non_null(out);
	assert_true(out->complete);
	assert_int_equal(out->total, 1);
	assert_string_equal(out->text, "hi");
	pb_sms_assembled_free(out);
	/* malformed input is reported, nothing kept */
	pb_parse_error perr;
	assert_pb_error(pb_sms_reassembler_add(r, s[0].data, 5, 0, 4, &out, &perr), PB_EMALFORMED);
	assert_null(out);
	pb_sms_reassembler_free(r);
	pb_free(w);
	pb_free(t);
	pb_free(s);
}

static void test_sms__reassembly_joins_split_surrogate_pair(void **state)
{
	(void)state;
	/* part 1 ends with a high surrogate, part 2 starts with the low one */
	uint8_t ud1[] = { 5, 0, 3, 0x33, 2, 1, 0x00, 0x41, 0xD8, 0x3D };
	uint8_t ud2[] = { 5, 0, 3, 0x33, 2, 2, 0xDE, 0x18, 0x00, 0x42 };
	uint8_t p1[64], p2[64];
	size_t n1 = make_deliver(p1, 0x44, 0x08, sizeof(ud1), ud1, sizeof(ud1));
	size_t n2 = make_deliver(p2, 0x44, 0x08, sizeof(ud2), ud2, sizeof(ud2));
	pb_sms_reassembler *r;
	pb_sms_assembled *out;
	assert_pb_ok(pb_sms_reassembler_new(&r, NULL));
	assert_pb_ok(pb_sms_reassembler_add(r, p2, n2, 0, 1, &out, NULL));
	assert_pb_ok(pb_sms_reassembler_add(r, p1, n1, 0, 1, &out, NULL));
	assert_non_null(out);
	assert_string_equal(out->text, "A\xF0\x9F\x98\x98" "B");
	pb_sms_assembled_free(out);
	pb_sms_reassembler_free(r);
}

/* --- allocation failures ---------------------------------------------------------- */

static int alloc_encode(void *ctx)
{
	(void)ctx;
	static char text[500];
	fill(text, "Grüße ", 50);
	pb_sms_pdu *p;
	size_t n;
	int rc = pb_sms_encode_text(&p, &n, "+1", text, strlen(text), NULL);
	if (rc == 0)
		pb_free(p);
	if (rc == 0) {
		uint8_t data[300] = { 0 };
		rc = pb_sms_encode_binary(&p, &n, "+1", data, sizeof(data), 2948, -1, NULL);
		if (rc == 0)
			pb_free(p);
	}
	return rc;
}

static pb_sms_pdu reasm_parts[3];
static char reasm_text[600];

static int alloc_reassemble(void *ctx)
{
	(void)ctx;
	pb_sms_reassembler *r;
	int rc = pb_sms_reassembler_new(&r, NULL);
	if (rc < 0)
		return rc;
	pb_sms_assembled *out = NULL;
	for (int i = 0; i < 3 && rc == 0; i++)
		rc = pb_sms_reassembler_add(r, reasm_parts[i].data, reasm_parts[i].len, 0, i, &out, NULL);
	if (rc == 0 && (!out || strcmp(out->text, reasm_text) != 0))
		rc = PB_ERROR;
	pb_sms_assembled_free(out);
	pb_sms_reassembler_free(r);
	return rc;
}

static void test_sms__allocation_failures(void **state)
{
	(void)state;
	unsigned long sites = pb_test_alloc_fail_each(alloc_encode, NULL, NULL);
	assert_true(sites >= 2);
	fill(reasm_text, "0123456789", 40);
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.reference = 1;
	pb_sms_pdu *q;
	size_t n;
	assert_pb_ok(pb_sms_encode_text(&q, &n, "+1", reasm_text, strlen(reasm_text), &o));
	assert_int_equal(n, 3);
	memcpy(reasm_parts, q, sizeof(reasm_parts));
	pb_free(q);
	sites = pb_test_alloc_fail_each(alloc_reassemble, NULL, NULL);
	assert_true(sites >= 6);
	print_message("# reassembly: %lu allocation sites failed in turn\n", sites);
}

static void test_sms__decode_allocates_nothing(void **state)
{
	(void)state;
	size_t len;
	uint8_t *pdu = pb_test_unhex("07919730071111F10414D04937BD2C7797E9D3E614000811309291024061080442043504410442",
				     &len);
	pb_test_alloc_install(1); /* every allocation would fail */
	pb_sms_message m;
	assert_pb_ok(pb_sms_decode(&m, pdu, len, PB_SMS_DECODE_SMSC, NULL));
	assert_int_equal(pb_test_alloc_attempts(), 0);
	pb_test_alloc_uninstall();
	free(pdu);
}

/* --- own samples ------------------------------------------------------------------- */

/* tests/data/sms/deliver.txt: "flags|hex|expected text" lines (flags: s = SMSC). */
static void test_sms__samples_decode(void **state)
{
	(void)state;
	size_t len;
	char *buf = (char *)pb_test_read_file(pb_test_data_dir(), "sms/deliver.txt", &len);
	buf = realloc(buf, len + 1);
	buf[len] = '\0';
	int checked = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#' || !strchr(line, '|'))
			continue;
		char *hex = strchr(line, '|') + 1;
		char *text = strchr(hex, '|');
		assert_non_null(text);
		*text++ = '\0';
		pb_sms_message m;
		assert_pb_ok(decode_hex(&m, hex, line[0] == 's' ? PB_SMS_DECODE_SMSC : 0));
		if (strcmp(m.text, text) != 0)
			print_error("%s: got \"%s\", want \"%s\"\n", hex, m.text, text);
		assert_string_equal(m.text, text);
		checked++;
	}
	free(buf);
	assert_true(checked >= 4);
	/* and the demo samples decode */
	const char *root = getenv("PB_SOURCE_ROOT");
	assert_non_null(root);
	static const char *const samples[] = { "gsm7-extension.sms.hex", "ucs2-emoji.sms.hex", "concat-3part.sms.hex",
					       "status-report.sms.hex" };
	for (size_t i = 0; i < PB_ARRAY_SIZE(samples); i++) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/data/samples", root);
		char *s = (char *)pb_test_read_file(dir, samples[i], &len);
		s = realloc(s, len + 1);
		s[len] = '\0';
		for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
			pb_sms_message m;
			assert_pb_ok(decode_hex(&m, line, PB_SMS_DECODE_SMSC));
		}
		free(s);
	}
}

/* --- shared conformance vectors ------------------------------------------------------ */

static char *read_vector_file(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/sms/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fclose(f);
	size_t len;
	char *s = (char *)pb_test_read_file(NULL, path, &len);
	s = realloc(s, len + 1);
	s[len] = '\0';
	return s;
}

/* Hex digits at @p (stops at the first non-hex character). */
static void copy_hex(char *out, size_t size, const char *p)
{
	size_t n = 0;
	while (*p && n + 1 < size) {
		if (isxdigit((unsigned char)*p))
			out[n++] = *p;
		else if (*p != ' ')
			break;
		p++;
	}
	out[n] = '\0';
}

/* "2011-02-28T11:50:50-05", "...Z", "...+05:30" against a decoded time. */
static bool same_time(const char *iso, const pb_sms_time *t)
{
	int y, mo, d, h, mi, s, n = 0;
	if (sscanf(iso, "%d-%d-%dT%d:%d:%d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6)
		return false;
	const char *z = iso + n;
	int q = 0;
	if (*z == '+' || *z == '-') {
		int hh = 0, mm = 0;
		sscanf(z + 1, "%d:%d", &hh, &mm);
		q = (hh * 60 + mm) / 15 * (*z == '-' ? -1 : 1);
	}
	return t->present && t->year == y && t->month == mo && t->day == d && t->hour == h && t->minute == mi &&
	       t->second == s && t->tz_quarters == q;
}

/* One argument of a C call copied from a test suite: a string literal (adjacent
 * ones joined), NULL, or other tokens kept as text. */
typedef struct c_arg {
	bool is_string, is_null;
	char text[600];
} c_arg;

static size_t parse_c_args(const char *p, c_arg *args, size_t max)
{
	size_t n = 0;
	p = strchr(p, '(');
	if (!p)
		return 0;
	p++;
	int depth = 0;
	c_arg *a = &args[0];
	memset(a, 0, sizeof(*a));
	size_t tl = 0;
	while (*p) {
		if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			p = e ? e + 2 : p + strlen(p);
			continue;
		}
		if (*p == '"') {
			a->is_string = true;
			for (p++; *p && *p != '"'; p++) {
				char c = *p;
				if (c == '\\' && p[1]) {
					p++;
					c = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == 't' ? '\t' : *p;
				}
				if (tl + 1 < sizeof(a->text))
					a->text[tl++] = c;
			}
			a->text[tl] = '\0';
			if (*p)
				p++;
			continue;
		}
		if (*p == '(')
			depth++;
		if ((*p == ')' && depth == 0) || (*p == ',' && depth == 0)) {
			if (!a->is_string) {
				while (tl > 0 && a->text[tl - 1] == ' ')
					a->text[--tl] = '\0';
				a->is_null = strcmp(a->text, "NULL") == 0;
			}
			n++;
			if (*p == ')' || n == max)
				break;
			a = &args[n];
			memset(a, 0, sizeof(*a));
			tl = 0;
			p++;
			continue;
		}
		if (*p == ')')
			depth--;
		if (!a->is_string && !(tl == 0 && *p == ' ') && tl + 1 < sizeof(a->text)) {
			a->text[tl++] = *p;
			a->text[tl] = '\0';
		}
		p++;
	}
	return n;
}

typedef struct mm_block {
	char pdu[1024], hexpdu[3][1024], expected_data[512], addr[64], expected[1024], smsc[64], number[64],
		text[512];
} mm_block;

static const char *mm_pdu(const mm_block *b, const char *name)
{
	if (!strcmp(name, "pdu"))
		return b->pdu;
	if (!strcmp(name, "hexpdu") || !strcmp(name, "hexpdu1"))
		return b->hexpdu[1];
	if (!strcmp(name, "hexpdu2"))
		return b->hexpdu[2];
	return "";
}

static void mm_part(const mm_block *b, c_arg *args, size_t n)
{
	/* src, smsc, number, timestamp, multipart, text, data, datalen */
	assert_true(n >= 8);
	pb_sms_message m;
	const char *hex = mm_pdu(b, args[0].text);
	assert_pb_ok(decode_hex(&m, hex, PB_SMS_DECODE_SMSC));
	if (args[1].is_null)
		assert_false(m.smsc.present);
	else
		assert_string_equal(m.smsc.number, args[1].text);
	assert_string_equal(m.address.number, args[2].text);
	if (!args[3].is_null && !same_time(args[3].text, &m.scts)) {
		char iso[40];
		pb_sms_time_iso8601(&m.scts, iso, sizeof(iso));
		fail_msg("%s: time %s, expected %s", hex, iso, args[3].text);
	}
	assert_int_equal(m.udh.has_concat, strcmp(args[4].text, "TRUE") == 0);
	if (args[5].is_string)
		assert_string_equal(m.text, args[5].text);
	if (!args[6].is_null) {
		assert_int_equal(m.dcs.encoding, PB_SMS_ENC_8BIT);
		assert_string_equal(to_hex(m.ud, m.ud_len), b->expected_data);
	}
}

static void mm_create(const mm_block *b, c_arg *args, size_t n)
{
	/* smsc, number, text, validity (minutes), class, expected, sizeof, msgstart */
	assert_true(n >= 8);
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.include_smsc = true;
	o.smsc = args[0].is_null ? NULL : b->smsc;
	int minutes = atoi(args[3].text);
	o.validity = minutes > 0 ? pb_sms_validity_relative((uint32_t)minutes * 60u) : -1;
	o.msg_class = atoi(args[4].text);
	pb_sms_pdu *p;
	size_t parts;
	assert_pb_ok(pb_sms_encode_text(&p, &parts, b->number, b->text, strlen(b->text), &o));
	assert_int_equal(parts, 1);
	assert_string_equal(to_hex(p[0].data, p[0].len), b->expected);
	assert_int_equal(p[0].len - p[0].tpdu_len, (size_t)atoi(args[7].text));
	pb_free(p);
}

static void mm_address(const mm_block *b, c_arg *args, size_t n)
{
	assert_true(n >= 3);
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	pb_sms_pdu *p;
	size_t parts;
	if (!strcmp(args[1].text, "TRUE")) {
		o.include_smsc = true;
		o.smsc = b->addr;
		assert_pb_ok(pb_sms_encode_text(&p, &parts, "1", "x", 1, &o));
		assert_string_equal(to_hex(p[0].data, p[0].len - p[0].tpdu_len), b->expected);
	} else {
		assert_pb_ok(pb_sms_encode_text(&p, &parts, b->addr, "x", 1, &o));
		/* TP-DA follows the first octet and TP-MR */
		assert_string_equal(to_hex(p[0].data + 2, strlen(b->expected) / 2), b->expected);
	}
	pb_free(p);
}

static int check_modemmanager(const char *dir)
{
	char *s = read_vector_file(dir, "ModemManager_test-sms-part-3gpp.txt");
	if (!s)
		return -1;
	mm_block *b = calloc(1, sizeof(*b));
	int checked = 0;
	char *save;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *v;
		if (!strncmp(line, "## ", 3)) {
			memset(b, 0, sizeof(*b));
		} else if (!strncmp(line, "pdu (hex", 8) && (v = strstr(line, "): "))) {
			copy_hex(b->pdu, sizeof(b->pdu), v + 3);
		} else if (!strncmp(line, "hexpdu", 6) && (v = strchr(line, ':'))) {
			int k = isdigit((unsigned char)line[6]) ? line[6] - '0' : 1;
			copy_hex(b->hexpdu[k < 3 ? k : 1], sizeof(b->hexpdu[0]), v + 2);
		} else if (!strncmp(line, "expected_data (hex", 18) && (v = strstr(line, "): "))) {
			copy_hex(b->expected_data, sizeof(b->expected_data), v + 3);
		} else if (!strncmp(line, "expected (hex", 13) && (v = strstr(line, "): "))) {
			copy_hex(b->expected, sizeof(b->expected), v + 3);
		} else if (!strncmp(line, "addr: ", 6)) {
			pb_strlcpy(b->addr, line + 6, sizeof(b->addr));
		} else if (!strncmp(line, "smsc: ", 6)) {
			pb_strlcpy(b->smsc, line + 6, sizeof(b->smsc));
		} else if (!strncmp(line, "number: ", 8)) {
			pb_strlcpy(b->number, line + 8, sizeof(b->number));
		} else if (!strncmp(line, "text: ", 6)) {
			pb_strlcpy(b->text, line + 6, sizeof(b->text));
		} else if (!strncmp(line, "expect: ", 8)) {
			c_arg args[12];
			size_t n = parse_c_args(line, args, 12);
			if (strstr(line, "common_test_part_from_pdu")) {
				memmove(&args[1], &args[2], (n - 2) * sizeof(args[0])); /* drop sizeof (pdu) */
				mm_part(b, args, n - 1);
			} else if (strstr(line, "common_test_part_from_hexpdu")) {
				mm_part(b, args, n);
			} else if (strstr(line, "common_test_invalid_pdu")) {
				pb_sms_message m;
				assert_pb_error(decode_hex(&m, b->pdu, PB_SMS_DECODE_SMSC), PB_EMALFORMED);
			} else if (strstr(line, "common_test_create_pdu")) {
				mm_create(b, args, n);
			} else if (strstr(line, "common_test_address_encode")) {
				mm_address(b, args, n);
			} else {
				fail_msg("unknown expectation: %s", line);
			}
			checked++;
		} else if (!strncmp(line, "+CDS sample", 11) && (v = strstr(line, "then "))) {
			char hex[256];
			copy_hex(hex, sizeof(hex), v + 5);
			pb_sms_message m;
			assert_pb_ok(decode_hex(&m, hex, PB_SMS_DECODE_SMSC));
			assert_int_equal(m.type, PB_SMS_STATUS_REPORT);
			assert_int_equal(m.mr, 0x59);
			checked++;
		}
	}
	free(b);
	free(s);
	return checked;
}

/* The value after @key in @s ("MR 4" -> "4"), or NULL. */
static const char *after(const char *s, const char *key)
{
	const char *p = strstr(s, key);
	return p ? p + strlen(key) : NULL;
}

/* "text" "a...b" expectations: the fragments around "..." appear in order. */
static void check_fragments(const char *got, const char *want)
{
	const char *p = got;
	char frag[600];
	while (*want) {
		const char *e = strstr(want, "...");
		size_t n = e ? (size_t)(e - want) : strlen(want);
		memcpy(frag, want, n);
		frag[n] = '\0';
		const char *f = strstr(p, frag);
		if (!f) {
			/* the elided form writes "...Z ÄÖ..." for "...ZÄÖ...": try without its spaces */
			char *w = frag;
			for (char *r = frag; *r; r++)
				if (*r != ' ')
					*w++ = *r;
			*w = '\0';
			n = strlen(frag);
			f = strstr(p, frag);
		}
		if (!f)
			fail_msg("\"%s\" not found in \"%s\"", frag, got);
		p = f + n;
		want = e ? e + 3 : want + strlen(want);
	}
}

/* A quoted string in @s after @from; NULL when none. */
static bool quoted(const char *from, char *out, size_t size)
{
	const char *q = from ? strchr(from, '"') : NULL;
	if (!q)
		return false;
	size_t n = 0;
	for (q++; *q && n + 1 < size; q++) {
		if (*q == '\\' && q[1]) {
			q++;
			out[n++] = *q == 'n' ? '\n' : *q == 'r' ? '\r' : *q;
			continue;
		}
		if (*q == '"' && (q[1] == ' ' || q[1] == ',' || q[1] == '\0' || q[1] == '(' || q[1] == ')'))
			break;
		out[n++] = *q;
	}
	out[n] = '\0';
	return true;
}

static void check_number(const char *got, const char *spec)
{
	char want[64];
	sscanf(spec, "%63[+0-9]", want);
	/* the vectors write international numbers with or without the '+' */
	const char *g = got[0] == '+' && want[0] != '+' ? got + 1 : got;
	assert_string_equal(g, want);
}

typedef struct ofono_entry {
	char name[128];
	char hex[1024];
	size_t declared; /* the (len N) / (tpdu_len N) value */
	char notes[2048]; /* the rest of the line and the "->" lines */
} ofono_entry;

static void ofono_check(ofono_entry *e, pb_sms_reassembler *r, int *assembled_parts)
{
	pb_sms_message m;
	size_t octets = strlen(e->hex) / 2;
	/* an SMSC field is there when the hex is longer than the declared TPDU */
	unsigned flags = octets > e->declared && !strstr(e->name, "data_len") ? PB_SMS_DECODE_SMSC : 0;
	if (strstr(e->name, "data_len") || strstr(e->name, "shift"))
		flags = PB_SMS_DECODE_SMSC; /* these start with an empty SMSC field */
	assert_pb_ok(decode_hex(&m, e->hex, flags));
	if (!strstr(e->name, "data_len") && !strstr(e->name, "shift") && !strstr(e->name, "SUBMIT ("))
		assert_int_equal(m.tpdu_len, e->declared);
	const char *n = e->notes, *v;
	char buf[600];
	if ((v = after(n, "SMSC ")) && isdigit((unsigned char)*v))
		check_number(m.smsc.number, v);
	if ((v = after(n, "OA alphanumeric ")) && quoted(v, buf, sizeof(buf)))
		assert_string_equal(m.address.number, buf);
	else if ((v = after(n, "OA ")))
		check_number(m.address.number, v);
	if ((v = after(n, "DA ")) && m.type == PB_SMS_SUBMIT)
		check_number(m.address.number, v);
	if ((v = after(n, "RA ")))
		check_number(m.address.number, v);
	if ((v = after(n, "(MR ")) || (v = after(n, ", MR ")))
		assert_int_equal(m.mr, atoi(v));
	if ((v = after(n, "status ")))
		assert_int_equal(m.status, (int)strtol(v, NULL, 16));
	if ((v = after(n, "PID ")))
		assert_int_equal(m.pid, atoi(v));
	if ((v = after(n, "DCS ")))
		assert_int_equal(m.dcs.raw, atoi(v));
	if ((v = after(n, "UDL ")) || (v = after(n, "udl ")))
		assert_int_equal(m.udl, atoi(v));
	if ((v = after(n, "udhl ")))
		assert_int_equal(m.udh.len, atoi(v));
	if ((v = after(n, "VPF relative 0x")))
		assert_int_equal(m.validity.relative, (int)strtol(v, NULL, 16));
	if ((v = after(n, "tz=")))
		assert_int_equal(m.scts.tz_quarters, atoi(v));
	if ((v = after(n, "SCTS ")) && isdigit((unsigned char)*v)) {
		int y, mo, d, h, mi, s;
		assert_int_equal(sscanf(v, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &s), 6);
		assert_int_equal(m.scts.year % 100, y);
		assert_int_equal(m.scts.month, mo);
		assert_int_equal(m.scts.day, d);
		assert_int_equal(m.scts.second, s);
	}
	if ((v = after(n, "dst_port "))) {
		assert_int_equal(m.udh.dst_port, atoi(v));
		assert_true(pb_sms_is_wap_push(&m));
		if (strstr(n, "is_8bit FALSE"))
			assert_true(m.udh.ports16);
		if ((v = after(n, "content-type ")) && quoted(v, buf, sizeof(buf)))
			assert_non_null(memmem(m.ud, m.ud_len, buf, strlen(buf)));
		if ((v = after(n, "Content-Location ")) && quoted(v, buf, sizeof(buf)))
			assert_non_null(memmem(m.ud, m.ud_len, buf, strlen(buf)));
		if (strstr(n, "TID 01, PDU type 06"))
			assert_memory_equal(m.ud, "\x01\x06", 2);
	}
	if (strstr(n, "message-waiting")) {
		assert_true(m.dcs.mwi);
		assert_int_equal(m.dcs.mwi_store, !strstr(n, "discard"));
	}
	if ((v = after(n, "bytes "))) {
		char hex[128];
		copy_hex(hex, sizeof(hex), v);
		assert_string_equal(to_hex((const uint8_t *)m.text, m.text_len), hex);
	} else if ((v = after(n, "-> \"")) || (v = after(n, "text \"")) || (v = after(n, "-> sms_"))) {
		if (quoted(v - 1, buf, sizeof(buf)) && !strstr(n, "dst_port"))
			check_fragments(m.text, buf);
	}
	if (strstr(n, "round-trip encode")) {
		/* the UCS-2 user data comes back the same from the encoder */
		pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
		o.force_ucs2 = true;
		pb_sms_pdu *p;
		size_t parts;
		assert_pb_ok(pb_sms_encode_text(&p, &parts, "1", m.text, m.text_len, &o));
		assert_int_equal(parts, 1);
		assert_memory_equal(p[0].data + p[0].len - m.ud_len, m.ud, m.ud_len);
		pb_free(p);
	}
	if (strstr(e->name, "shift")) {
		/* language given out of band in that suite: decode with the table and
		 * check that every septet reads back through the same table */
		unsigned lang = strstr(e->name, "Turkish") ? 1 : strstr(e->name, "Spanish") ? 2 : 3;
		bool locking = strstr(e->name, "locking") != NULL;
		char text[PB_SMS_TEXT_MAX], plain[PB_SMS_TEXT_MAX];
		size_t len = pb_sms__gsm_unpack(m.ud, 0, m.udl, locking ? lang : 0, lang, text, sizeof(text));
		pb_sms__gsm_unpack(m.ud, 0, m.udl, 0, 0, plain, sizeof(plain));
		assert_string_not_equal(text, plain);
		size_t ns = 0;
		uint8_t sept[2];
		for (size_t i = 0; i < len;) {
			uint32_t cp;
			i += pb_utf8_decode(text + i, len - i, &cp);
			int k = pb_sms__gsm_encode_char(cp, locking ? lang : 0, lang, sept);
			assert_true(k > 0);
			ns += (size_t)k;
		}
		assert_true(ns <= m.udl);
	}
	if (!strncmp(e->name, "part", 4)) {
		pb_sms_assembled *a = NULL;
		uint8_t raw[512];
		size_t rn;
		uint8_t *bytes = pb_test_unhex(e->hex, &rn);
		memcpy(raw, bytes, rn);
		free(bytes);
		assert_pb_ok(pb_sms_reassembler_add(r, raw, rn, flags, 0, &a, NULL));
		(*assembled_parts)++;
		if (a) {
			assert_true(a->complete);
			assert_int_equal(a->total, 3);
			/* it re-encodes to exactly 3 segments */
			pb_sms_text_plan plan;
			assert_pb_ok(pb_sms_text_info(&plan, a->text, a->text_len, NULL));
			assert_int_equal(plan.encoding, PB_SMS_ENC_UCS2);
			assert_int_equal(plan.parts, 3);
			pb_sms_assembled_free(a);
			*assembled_parts = 100;
		}
	}
}

static int check_ofono(const char *dir)
{
	char *s = read_vector_file(dir, "ofono_unit_test-sms.txt");
	if (!s)
		return -1;
	int checked = 0, parts = 0;
	ofono_entry *e = calloc(1, sizeof(*e));
	bool open = false;
	pb_sms_reassembler *r;
	assert_pb_ok(pb_sms_reassembler_new(&r, NULL));
	char *save;
	for (char *line = strtok_r(s, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
		const char *lp = line ? strstr(line, "len ") : NULL;
		const char *colon = lp ? strstr(lp, "): ") : NULL;
		const char *hx = colon ? colon + 3 : NULL;
		while (hx && *hx == ' ')
			hx++;
		bool entry = line && line[0] != '#' && line[0] != ' ' && hx && isxdigit((unsigned char)*hx);
		bool note = line && open && !entry && (line[0] == ' ' || line[0] == '(');
		if (note) {
			strncat(e->notes, line, sizeof(e->notes) - strlen(e->notes) - 1);
			continue;
		}
		if (open && (entry || !line || !note)) {
			ofono_check(e, r, &parts);
			checked++;
			open = false;
		}
		if (!line)
			break;
		if (entry) {
			memset(e, 0, sizeof(*e));
			size_t nl = (size_t)(strchr(line, '(') - line);
			snprintf(e->name, sizeof(e->name), "%.*s", (int)(colon - line), line);
			(void)nl;
			e->declared = (size_t)atoi(lp + 4);
			copy_hex(e->hex, sizeof(e->hex), hx);
			pb_strlcpy(e->notes, hx + strlen(e->hex), sizeof(e->notes));
			open = true;
			if (strstr(e->name, "prepare_7bit")) {
				/* an expected SUBMIT: encode the same and compare */
				char smsc[32], da[32], text[128];
				const char *v = after(e->name, "SMSC ");
				sscanf(v, "%31[+0-9]", smsc);
				sscanf(after(e->name, "DA "), "%31[+0-9]", da);
				assert_true(quoted(after(e->name, da), text, sizeof(text)));
				pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
				o.include_smsc = true;
				o.smsc = smsc;
				o.validity = pb_sms_validity_relative(86400); /* oFono's default: one day */
				pb_sms_pdu *p;
				size_t np;
				assert_pb_ok(pb_sms_encode_text(&p, &np, da, text, strlen(text), &o));
				assert_string_equal(to_hex(p[0].data, p[0].len), e->hex);
				pb_free(p);
				checked++;
				open = false;
			}
		}
	}
	assert_int_equal(parts, 100); /* the 3-part message came out whole */
	pb_sms_reassembler_free(r);
	free(e);
	free(s);
	return checked;
}

/* "\"prefix\" + 7 x U+1F618 (...) + U+FFFD (...)" to UTF-8. */
static size_t build_expected(const char *spec, char *out)
{
	size_t n = 0;
	for (const char *p = spec; *p;) {
		while (*p == ' ' || *p == '+')
			p++;
		if (*p == '"') {
			const char *e = strchr(p + 1, '"');
			memcpy(out + n, p + 1, (size_t)(e - p - 1));
			n += (size_t)(e - p - 1);
			p = e + 1;
		} else if (isdigit((unsigned char)*p) || !strncmp(p, "U+", 2)) {
			int times = 1;
			if (isdigit((unsigned char)*p))
				times = (int)strtol(p, (char **)&p, 10), p = strstr(p, "U+");
			uint32_t cp = (uint32_t)strtoul(p + 2, (char **)&p, 16);
			for (int i = 0; i < times; i++)
				n += pb_utf8_encode(cp, out + n);
			const char *close = *p == ' ' && p[1] == '(' ? strchr(p, ')') : NULL;
			if (close)
				p = close + 1;
		} else {
			break;
		}
	}
	out[n] = '\0';
	return n;
}

static int check_gammu(const char *dir)
{
	char *s = read_vector_file(dir, "gammu_tests_utf-8_surrogates.txt");
	if (!s)
		return -1;
	int checked = 0;
	static char hex[2048], got[2048], want[2048];
	char *save;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *v;
		if ((v = after(line, "input_ucs2_hex: "))) {
			copy_hex(hex, sizeof(hex), v);
		} else if ((v = after(line, "expected_utf8: "))) {
			size_t len;
			uint8_t *b = pb_test_unhex(hex, &len);
			size_t n = pb_sms__ucs2_to_utf8(b, len, got, sizeof(got));
			size_t wn = build_expected(v, want);
			assert_int_equal(n, wn);
			assert_memory_equal(got, want, n);
			free(b);
			checked++;
		} else if ((v = after(line, "<-> UTF-16BE "))) {
			/* U+1F44D <-> UTF-16BE D83D DC4D <-> UTF-8 F0 9F 91 8D */
			char h16[64], h8[64];
			copy_hex(h16, sizeof(h16), v);
			copy_hex(h8, sizeof(h8), after(line, "UTF-8 "));
			size_t len;
			uint8_t *b = pb_test_unhex(h16, &len);
			size_t n = pb_sms__ucs2_to_utf8(b, len, got, sizeof(got));
			assert_string_equal(to_hex((uint8_t *)got, n), h8);
			free(b);
			/* and the encoder writes the same pair */
			pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
			pb_sms_pdu *p;
			size_t parts;
			assert_pb_ok(pb_sms_encode_text(&p, &parts, "1", got, n, &o));
			assert_string_equal(to_hex(p[0].data + p[0].len - len, len), h16);
			pb_free(p);
			checked++;
		}
	}
	free(s);
	return checked;
}

static void test_sms__shared_vectors(void **state)
{
	(void)state;
	const char *dir = pb_test_vectors_dir();
	if (!dir)
		pb_test_skip_no_vectors();
	int mm = check_modemmanager(dir), of = check_ofono(dir), ga = check_gammu(dir);
	if (mm < 0 && of < 0 && ga < 0)
		pb_test_skip_no_vectors();
	print_message("# sms vectors checked: ModemManager %d, oFono %d, gammu %d\n", mm, of, ga);
	assert_true(mm >= 30);
	assert_true(of >= 15);
	assert_true(ga >= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sms__decode_deliver_gsm7_extension),
		cmocka_unit_test(test_sms__decode_ucs2_alphanumeric_sender),
		cmocka_unit_test(test_sms__decode_without_smsc_and_hex_offsets),
		cmocka_unit_test(test_sms__decode_status_report),
		cmocka_unit_test(test_sms__decode_reports_and_command),
		cmocka_unit_test(test_sms__decode_dcs_groups),
		cmocka_unit_test(test_sms__decode_udh_keeps_every_ie),
		cmocka_unit_test(test_sms__decode_septet_padding_after_udh),
		cmocka_unit_test(test_sms__unpack_fast_path_matches_plain_path),
		cmocka_unit_test(test_sms__decode_national_shift_tables_via_udh),
		cmocka_unit_test(test_sms__decode_ucs2_surrogates),
		cmocka_unit_test(test_sms__decode_8bit_and_wap_push),
		cmocka_unit_test(test_sms__decode_rejects_malformed_at_offset),
		cmocka_unit_test(test_sms__decode_allocates_nothing),
		cmocka_unit_test(test_sms__time_formats),
		cmocka_unit_test(test_sms__encode_known_pdus),
		cmocka_unit_test(test_sms__encode_options_set_bits),
		cmocka_unit_test(test_sms__encode_part_limits),
		cmocka_unit_test(test_sms__encode_fresh_and_16bit_references),
		cmocka_unit_test(test_sms__encode_binary_ports),
		cmocka_unit_test(test_sms__randomized_round_trips),
		cmocka_unit_test(test_sms__every_extension_character_round_trips),
		cmocka_unit_test(test_sms__reassembly_out_of_order_and_duplicates),
		cmocka_unit_test(test_sms__reassembly_timeout_surfaces_incomplete),
		cmocka_unit_test(test_sms__reassembly_save_and_restore),
		cmocka_unit_test(test_sms__reassembly_groups_by_ports_and_single_parts),
		cmocka_unit_test(test_sms__reassembly_joins_split_surrogate_pair),
		cmocka_unit_test(test_sms__allocation_failures),
		cmocka_unit_test(test_sms__samples_decode),
		cmocka_unit_test(test_sms__shared_vectors),
	};
	return pb_test_run("sms", tests);
}
