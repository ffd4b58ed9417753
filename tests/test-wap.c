/*
 * libphonebridge tests — wap: WSP primitives, WAP push, MMS decoding and
 * encoding, multipart, safe part names, and the shared conformance vectors.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <ftw.h>
#include <sys/stat.h>

#include "wap/wap-internal.h"

static uint8_t *unhex(const char *hex, size_t *len) { return pb_test_unhex(hex, len); }

static pb_mms_message *decode_ok(const uint8_t *buf, size_t len)
{
	pb_mms_message *m = NULL;
	pb_parse_error perr;
	assert_pb_ok(pb_mms_decode(&m, buf, len, 0, &perr));
	assert_non_null(m);
	return m;
}

static pb_mms_message *decode_hex(const char *hex, uint8_t **keep)
{
	size_t len;
	*keep = unhex(hex, &len);
	return decode_ok(*keep, len);
}

static void expect_malformed(const uint8_t *buf, size_t len, size_t offset)
{
	pb_mms_message *m = (pb_mms_message *)1;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	assert_pb_error(pb_mms_decode(&m, buf, len, 0, &perr), PB_EMALFORMED);
	assert_null(m);
	assert_int_equal(perr.offset, offset);
	assert_true(strstr(pb_error_last()->message, "offset") != NULL);
}

/* --- WSP primitives ----------------------------------------------------------- */

static void test_wap__uintvar_round_trip(void **state)
{
	(void)state;
	static const uint32_t values[] = { 0, 1, 127, 128, 16383, 16384, 2097151, 268435455, 268435456, UINT32_MAX };
	for (size_t i = 0; i < PB_ARRAY_SIZE(values); i++) {
		pb_buf b = PB_BUF_INIT;
		assert_pb_ok(pb_wsp_uintvar_encode(&b, values[i]));
		uint32_t v;
		size_t used;
		assert_pb_ok(pb_wsp_uintvar_decode(b.data, b.len, &v, &used, NULL));
		assert_int_equal(v, values[i]);
		assert_int_equal(used, b.len);
		pb_buf_dispose(&b);
	}
	/* 0x81 0x00 = 128 from the spec's example */
	uint32_t v;
	size_t used;
	assert_pb_ok(pb_wsp_uintvar_decode((const uint8_t *)"\x81\x00", 2, &v, &used, NULL));
	assert_int_equal(v, 128);
}

static void test_wap__uintvar_rejects_bad(void **state)
{
	(void)state;
	pb_parse_error perr;
	uint32_t v;
	assert_pb_error(pb_wsp_uintvar_decode((const uint8_t *)"\x81\x82", 2, &v, NULL, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 0);
	assert_pb_error(pb_wsp_uintvar_decode((const uint8_t *)"\x81\x81\x81\x81\x81\x01", 6, &v, NULL, &perr),
			PB_EMALFORMED);
	/* five bytes, but above 32 bits */
	assert_pb_error(pb_wsp_uintvar_decode((const uint8_t *)"\xff\xff\xff\xff\x7f", 5, &v, NULL, &perr),
			PB_EMALFORMED);
	assert_pb_error(pb_wsp_uintvar_decode(NULL, 0, &v, NULL, &perr), PB_EMALFORMED);
}

/* Decode a content type with the internal decoder on a scratch arena. */
static void with_content_type(const char *hex, void (*check)(const pb_wsp_content_type *))
{
	size_t len;
	uint8_t *buf = unhex(hex, &len);
	pb_wap__arena *arena;
	void *obj = pb_wap__arena_object(8, 256, &arena);
	assert_non_null(obj);
	pb_parse_error perr;
	pb_wap__ctx ctx = { arena, &perr, 0 };
	pb_cur c = pb_cur_make(buf, len);
	pb_wsp_content_type ct;
	assert_pb_ok(pb_wap__content_type(&ctx, &c, &ct));
	if (!pb_cur_eof(&c))
		fail_msg("%s: %zu bytes left", hex, pb_cur_left(&c));
	check(&ct);
	pb_wap__object_free(obj, 8);
	free(buf);
}

static void check_related_old(const pb_wsp_content_type *ct)
{
	assert_string_equal(ct->media_type, "application/vnd.wap.multipart.related");
	assert_int_equal(ct->well_known, 0x33);
	assert_string_equal(ct->type, "application/smil");
	assert_string_equal(ct->start, "<smil>");
	assert_int_equal(ct->n_params, 2);
}

static void check_related_new(const pb_wsp_content_type *ct)
{
	assert_string_equal(ct->media_type, "application/vnd.wap.multipart.related");
	assert_string_equal(ct->start, "<s>");
	assert_string_equal(ct->name, "n.jpg");
	assert_string_equal(ct->filename, "f.jpg");
	assert_string_equal(ct->type, "application/smil"); /* type as a short integer? no: text */
}

static void check_text_charset(const pb_wsp_content_type *ct)
{
	assert_string_equal(ct->media_type, "text/plain");
	assert_string_equal(ct->charset, "UTF-8");
	assert_int_equal(ct->charset_mib, 106);
	assert_string_equal(ct->name, "a.txt");
}

static void check_untyped(const pb_wsp_content_type *ct)
{
	assert_string_equal(ct->media_type, "image/x-custom");
	assert_int_equal(ct->well_known, -1);
	assert_string_equal(ct->charset, "iso-8859-1");
	assert_int_equal(ct->charset_mib, 4);
	assert_string_equal(ct->params[1].name, "x-size");
	assert_string_equal(ct->params[1].value, "300");
}

static void check_long_code(const pb_wsp_content_type *ct)
{
	assert_string_equal(ct->media_type, "application/vnd.wap.emn+wbxml");
	assert_int_equal(ct->well_known, 0x030A);
}

static void test_wap__content_type_old_and_new_tokens(void **state)
{
	(void)state;
	/* WSP 1.2: Type 0x89 (text), Start 0x8A */
	with_content_type("1b b3 89 6170706c69636174696f6e2f736d696c00 8a 3c736d696c3e00", check_related_old);
	/* WSP 1.4: Start 0x99, Name 0x97, Filename 0x98 (Text-value) */
	with_content_type("1f 26 b3 89 6170706c69636174696f6e2f736d696c00 99 3c733e00 97 6e2e6a706700 98 662e6a706700",
			  check_related_new);
	/* text/plain; charset=utf-8 (0x81 0xEA); name (0x85) */
	with_content_type("0a 83 81 ea 85 612e74787400", check_text_charset);
	/* textual media type and untyped parameters: charset=iso-8859-1, x-size=300 */
	with_content_type("1f 2c 696d6167652f782d637573746f6d00 636861727365740069736f2d383835392d3100"
			  " 782d73697a6500 02 012c", check_untyped);
	/* a registry number above 0x7F as a long integer */
	with_content_type("03 02 030a", check_long_code);
}

/* --- WAP push -------------------------------------------------------------- */

static void test_wap__push_round_trip_and_kind(void **state)
{
	(void)state;
	pb_buf pdu = PB_BUF_INIT, push = PB_BUF_INIT;
	pb_mms_notification n = { "T1", "+15551234", "Hi", NULL, 1234, 3600, "http://mmsc/x" };
	assert_pb_ok(pb_mms_encode_notification(&pdu, &n));
	assert_pb_ok(pb_wsp_push_encode(&push, 7, "application/vnd.wap.mms-message", 4, pdu.data, pdu.len));
	pb_wsp_push *p;
	assert_pb_ok(pb_wsp_push_decode(&p, push.data, push.len, NULL));
	assert_int_equal(p->tid, 7);
	assert_int_equal(p->pdu_type, 6);
	assert_int_equal(p->kind, PB_WSP_PUSH_MMS);
	assert_string_equal(pb_wsp_push_kind_name(p->kind), "mms");
	assert_int_equal(p->app_id, 4);
	assert_string_equal(p->app_id_name, "x-wap-application:mms.ua");
	assert_int_equal(p->body_len, pdu.len);
	assert_memory_equal(p->body, pdu.data, pdu.len);
	assert_ptr_equal(p->body, push.data + p->body_offset); /* zero copy */
	pb_wsp_push_free(p);

	pb_mms_message *m;
	pb_wsp_push *p2;
	assert_pb_ok(pb_mms_decode_push(&m, &p2, push.data, push.len, NULL));
	assert_int_equal(m->message_type, PB_MMS_NOTIFICATION_IND);
	assert_string_equal(m->transaction_id, "T1");
	assert_string_equal(m->from, "+15551234");
	assert_string_equal(m->subject, "Hi");
	assert_string_equal(m->content_location, "http://mmsc/x");
	assert_true(m->has_message_size);
	assert_int_equal(m->message_size, 1234);
	assert_true(m->expiry.present && m->expiry.relative);
	assert_int_equal(m->expiry.value, 3600);
	assert_string_equal(m->message_class, "personal");
	assert_int_equal(m->version, 0x13);
	assert_non_null(p2);
	pb_mms_message_free(m);
	pb_wsp_push_free(p2);
	pb_buf_dispose(&pdu);
	pb_buf_dispose(&push);
}

static void test_wap__push_other_kinds_reported(void **state)
{
	(void)state;
	static const struct {
		const char *hex;
		pb_wsp_push_kind kind;
		const char *type;
	} cases[] = {
		{ "01 06 01 ae 02056a00", PB_WSP_PUSH_SI, "application/vnd.wap.sic" },
		{ "01 06 01 b0 0203", PB_WSP_PUSH_SL, "application/vnd.wap.slc" },
		{ "01 06 03 b6 af 81 00", PB_WSP_PUSH_PROVISIONING, "application/vnd.wap.connectivity-wbxml" },
		{ "01 06 01 cb", PB_WSP_PUSH_DRM, "application/vnd.oma.drm.rights+wbxml" },
		{ "01 06 01 c4 aa", PB_WSP_PUSH_SYNCML, "application/vnd.syncml.notification" },
		{ "01 06 0b 746578742f782d666f6f00 00", PB_WSP_PUSH_OTHER, "text/x-foo" },
	};
	/* X-Wap-Application-Id as text is the same application */
	size_t tlen;
	uint8_t *tbuf = unhex("01 06 1b be af 782d7761702d6170706c69636174696f6e3a6d6d732e756100"
			      " 8c 82 98 5400 8d 93 8a 80 8e 01 05 88 02 81 81 83 687474703a2f2f6100", &tlen);
	pb_mms_message *tm;
	pb_wsp_push *tp;
	assert_pb_ok(pb_mms_decode_push(&tm, &tp, tbuf, tlen, NULL));
	assert_int_equal(tp->app_id, 4);
	assert_string_equal(tm->content_location, "http://a");
	pb_mms_message_free(tm);
	pb_wsp_push_free(tp);
	free(tbuf);
	for (size_t i = 0; i < PB_ARRAY_SIZE(cases); i++) {
		size_t len;
		uint8_t *buf = unhex(cases[i].hex, &len);
		pb_wsp_push *p;
		assert_pb_ok(pb_wsp_push_decode(&p, buf, len, NULL));
		assert_int_equal(p->kind, cases[i].kind);
		assert_string_equal(p->content_type.media_type, cases[i].type);
		/* and pb_mms_decode_push() says it is not MMS */
		pb_mms_message *m;
		pb_parse_error perr;
		assert_pb_error(pb_mms_decode_push(&m, NULL, buf, len, &perr), PB_EMALFORMED);
		assert_true(strstr(perr.text, "not an MMS PDU") != NULL);
		pb_wsp_push_free(p);
		free(buf);
	}
}

static void test_wap__push_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *hex;
		size_t offset;
	} cases[] = {
		{ "", 0 },                   /* nothing */
		{ "01", 1 },                 /* TID only */
		{ "01 07 01 be", 1 },        /* ConfirmedPush is not connectionless */
		{ "01 06 00 be", 2 },        /* header length 0 */
		{ "01 06 05 be af 84", 2 },  /* headers beyond the end */
		{ "01 06 8f", 2 },           /* header length truncated */
		{ "01 06 02 1f 05", 3 },     /* content type value-length beyond headers */
		{ "01 06 02 be af", 5 },     /* header without its value */
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(cases); i++) {
		size_t len;
		uint8_t *buf = unhex(cases[i].hex, &len);
		pb_wsp_push *p = (pb_wsp_push *)1;
		pb_parse_error perr = PB_PARSE_ERROR_INIT;
		assert_pb_error(pb_wsp_push_decode(&p, buf, len, &perr), PB_EMALFORMED);
		assert_null(p);
		if (perr.offset != cases[i].offset)
			fail_msg("case %zu: offset %zu, expected %zu (%s)", i, perr.offset, cases[i].offset, perr.text);
		free(buf);
	}
}

/* --- MMS decoding ------------------------------------------------------------------ */

static void test_wap__every_message_type(void **state)
{
	(void)state;
	/* every header some type must carry (OMA-MMS-ENC 1.3 §6): Message-Class,
	 * Message-Size, Expiry, Content-Location, Response-Status, Status,
	 * Message-ID, To, Date, From, Read-Status, then Content-Type */
	static const uint8_t all[] = { 0x8A, 0x80, 0x8E, 0x01, 0x05, 0x88, 0x02, 0x81, 0x81, 0x83, 'a', 0,
				       0x92, 0x80, 0x95, 0x81, 0x8B, 'm', 0, 0x97, 'a', 0, 0x85, 0x01, 0x01,
				       0x89, 0x01, 0x81, 0x9B, 0x80, 0x84, 0x83 };
	for (int t = 128; t <= 151; t++) {
		uint8_t pdu[7 + sizeof(all)] = { 0x8C, (uint8_t)t, 0x98, 'T', 0, 0x8D, 0x93 };
		memcpy(pdu + 7, all, sizeof(all));
		pb_mms_message *m = decode_ok(pdu, sizeof(pdu));
		assert_int_equal(m->message_type, t);
		assert_non_null(pb_mms_message_type_name(t));
		assert_string_equal(m->transaction_id, "T");
		assert_int_equal(m->n_headers, 15);
		pb_mms_message_free(m);
	}
	assert_string_equal(pb_mms_message_type_name(132), "m-retrieve-conf");
	assert_string_equal(pb_mms_message_type_name(151), "m-cancel-conf");
	uint8_t bad[] = { 0x8C, 0x98 };
	expect_malformed(bad, sizeof(bad), 1);
	uint8_t notype[] = { 0x98, 'T', 0 };
	expect_malformed(notype, sizeof(notype), 0);
}

static void test_wap__headers_typed(void **state)
{
	(void)state;
	uint8_t *buf;
	/* M-Delivery.ind: Message-ID, To, Date, Status; then M-Read-Orig.ind fields */
	pb_mms_message *m = decode_hex(
		"8c 86 8d 92 8b 6d696400 97 2b3132332f545950453d504c4d4e00 85 04 4de4a9f6 95 81"
		" 9b 80 86 80 90 81 91 80 8f 82 92 c4 93 0b ea 4b6f6d756e696b617400"
		" 99 e2 9a 6e6f7420666f756e6400 b6 4f4b00 ba 81 a5 e4 a8 96 a3 80"
		" a0 12 81 2b34343132332f545950453d504c4d4e00 a1 06 82 04 4de4a9f6"
		" a4 05 80 466c6700 a9 04 80 02 03e8 87 06 80 04 4de4a9f6",
		&buf);
	assert_int_equal(m->message_type, PB_MMS_DELIVERY_IND);
	assert_int_equal(m->version, 0x12);
	assert_string_equal(m->message_id, "mid");
	assert_int_equal(m->n_to, 1);
	assert_string_equal(m->to[0], "+123"); /* /TYPE=PLMN removed */
	assert_true(m->has_date);
	assert_int_equal(m->date, 0x4de4a9f6);
	assert_int_equal(m->status, PB_MMS_STATUS_RETRIEVED);
	assert_int_equal(m->read_status, PB_MMS_READ_STATUS_READ);
	assert_int_equal(m->delivery_report, 128);
	assert_int_equal(m->read_report, 129);
	assert_int_equal(m->report_allowed, 128);
	assert_int_equal(m->priority, PB_MMS_PRIORITY_HIGH);
	assert_int_equal(m->response_status, 0xC4);
	assert_string_equal(m->response_text, "Komunikat");
	assert_int_equal(m->retrieve_status, PB_MMS_RETRIEVE_PERMANENT_NOT_FOUND);
	assert_string_equal(m->retrieve_text, "not found");
	assert_false(pb_mms_retrieve_ok(m));
	assert_string_equal(m->status_text, "OK");
	assert_string_equal(m->content_class, "image-basic");
	assert_true(m->delivery_time.present);
	assert_false(m->delivery_time.relative);
	assert_int_equal(m->delivery_time.value, 0x4de4a9f6);
	assert_int_equal(m->n_unknown_headers, 0);
	/* the counted and token values */
	bool seen_prev_by = false, seen_prev_date = false, seen_flags = false, seen_totals = false;
	for (size_t i = 0; i < m->n_headers; i++) {
		const pb_mms_header *h = &m->headers[i];
		assert_true(h->known);
		if (h->field == 0x20) {
			seen_prev_by = true;
			assert_int_equal(h->number, 1);
			assert_string_equal(h->text, "+44123");
		} else if (h->field == 0x21) {
			seen_prev_date = true;
			assert_int_equal(h->number, 2);
			assert_int_equal(h->date, 0x4de4a9f6);
		} else if (h->field == 0x24) {
			seen_flags = true;
			assert_string_equal(h->text, "Flg");
		} else if (h->field == 0x29) {
			seen_totals = true;
			assert_int_equal(h->number, 1000);
		} else if (h->field == 0x25) {
			assert_string_equal(h->text, "Error-permanent-mmbox-full");
		} else if (h->field == 0x23) {
			assert_string_equal(h->text, "Draft");
		}
	}
	assert_true(seen_prev_by && seen_prev_date && seen_flags && seen_totals);
	pb_mms_message_free(m);
	free(buf);
}

static void test_wap__unknown_headers_listed_and_raw_values_kept(void **state)
{
	(void)state;
	uint8_t *buf;
	/* an unassigned field 0x4A, a textual X-Custom header, a Priority with
	 * an unknown token, a Message-Class as text, a From with an unknown token */
	pb_mms_message *m = decode_hex(
		"8c 82 98 5400 8d 93 ca 03 010203 582d437573746f6d0076616c756500 8f 85"
		" 8a 782d6f776e00 89 02 83 00 8e 01 05 88 02 81 81 83 687474703a2f2f6100",
		&buf);
	assert_int_equal(m->n_unknown_headers, 2);
	assert_string_equal(m->unknown_headers[0]->name, "0x4a");
	assert_int_equal(m->unknown_headers[0]->raw_len, 4);
	assert_string_equal(m->unknown_headers[1]->name, "X-Custom");
	assert_string_equal(m->unknown_headers[1]->text, "value");
	assert_int_equal(m->priority, 0x85);
	const pb_mms_header *prio = &m->headers[5];
	assert_int_equal(prio->field, 0x0F);
	assert_false(prio->known);
	assert_int_equal(prio->raw_len, 1);
	assert_string_equal(m->message_class, "x-own");
	assert_null(m->from);
	assert_false(m->headers[7].known);
	assert_int_equal(m->headers[7].kind, PB_MMS_VALUE_RAW);
	assert_string_equal(m->content_location, "http://a");
	pb_mms_message_free(m);
	free(buf);
}

static void test_wap__insert_address_and_expiry_absolute(void **state)
{
	(void)state;
	uint8_t *buf;
	pb_mms_message *m = decode_hex("8c 80 98 5400 8d 90 89 01 81 97 6140622e6300 88 06 80 04 4de4a9f6 84 83", &buf);
	assert_true(m->from_insert_address);
	assert_null(m->from);
	assert_string_equal(m->to[0], "a@b.c");
	assert_true(m->expiry.present);
	assert_false(m->expiry.relative);
	assert_int_equal(m->expiry.value, 0x4de4a9f6);
	assert_int_equal(m->version, 0x10);
	pb_mms_message_free(m);
	free(buf);
}

static void check_subject(const char *hex_value, const char *expected)
{
	pb_buf hex = PB_BUF_INIT;
	pb_buf_printf(&hex, "8c 84 8d 93 96 %s 84 83", hex_value);
	uint8_t *buf;
	pb_mms_message *m = decode_hex(pb_buf_cstr(&hex), &buf);
	if (!m->subject || strcmp(m->subject, expected) != 0)
		fail_msg("subject %s: got \"%s\", expected \"%s\"", hex_value, m->subject ? m->subject : "(null)", expected);
	pb_mms_message_free(m);
	free(buf);
	pb_buf_dispose(&hex);
}

static void test_wap__encoded_strings_to_utf8(void **state)
{
	(void)state;
	check_subject("4869 00", "Hi");                                    /* plain text */
	check_subject("7f c3a9 00", "é");                                  /* quoted UTF-8 text */
	check_subject("05 ea 5a c3b3 00", "Zó");                           /* UTF-8 (106) */
	check_subject("03 83 41 00", "A");                                 /* US-ASCII (3) */
	check_subject("05 84 e9 74 e9 00", "été");                         /* ISO-8859-1 (4) */
	check_subject("05 85 b1 e9 e1 00", "ąéá");                         /* ISO-8859-2 (5) */
	check_subject("09 02 03f7 feff 00e9 0000", "é");                   /* UTF-16 (1015) with BOM */
	check_subject("09 02 03f7 fffe e900 0000", "é");                   /* UTF-16 LE BOM */
	check_subject("07 02 03e8 0041 00e9", "Aé");                       /* UCS-2 (1000), no NUL */
	check_subject("06 91 82 a0 82 a2 00", "あい");                     /* Shift_JIS (17) */
	check_subject("06 02 07ea a4a4 00", "中");                          /* Big5 (2026) */
	check_subject("04 80 4f 4b 00", "OK");                             /* any charset */
	check_subject("04 ea ff fe 00", "\xef\xbf\xbd\xef\xbf\xbd");       /* bad UTF-8 -> U+FFFD */
	check_subject("06 ea efbbbf 41 00", "A");                          /* UTF-8 BOM dropped */
	check_subject("0f 02 03e9 00000041 000000e9 00000000", "Aé");      /* UCS-4 (1001) */
	/* UCS-4 beyond Unicode: iconv lets it through, the text stays UTF-8 */
	uint8_t *buf;
	pb_mms_message *m = decode_hex("8c 84 8d 93 96 0b 02 03e9 00000041 7fffffff 84 83", &buf);
	assert_int_equal(m->subject[0], 'A');
	assert_pb_ok(pb_utf8_validate(m->subject, strlen(m->subject), NULL));
	assert_true(strstr(m->subject, "\xef\xbf\xbd") != NULL);
	pb_mms_message_free(m);
	free(buf);
}

static void test_wap__malformed_headers_report_offsets(void **state)
{
	(void)state;
	static const struct {
		const char *hex;
		size_t offset;
	} cases[] = {
		{ "8c", 0 },                          /* message type value missing */
		{ "8c 84 98 41 42", 3 },              /* text without NUL: cut there, refused */
		{ "8c 84 96 1f", 4 },                 /* value-length uintvar missing */
		{ "8c 84 96 05 ea 41", 3 },           /* value-length beyond end */
		{ "8c 84 96 1f 9f ff ff ff 7f", 4 },  /* uintvar above 32 bits */
		{ "8c 84 00 00", 2 },                 /* NUL where a field belongs */
		{ "8c 84 05 41", 2 },                 /* control byte as a field */
		{ "8c 84 85 04 01", 3 },              /* Date value-length 4 beyond end */
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(cases); i++) {
		size_t len;
		uint8_t *buf = unhex(cases[i].hex, &len);
		pb_mms_message *m = NULL;
		pb_parse_error perr = PB_PARSE_ERROR_INIT;
		int rc = pb_mms_decode(&m, buf, len, 0, &perr);
		if (rc != PB_EMALFORMED || perr.offset != cases[i].offset)
			fail_msg("case %zu: rc %d offset %zu, expected offset %zu (%s)", i, rc, perr.offset,
				 cases[i].offset, perr.text);
		assert_null(m);
		free(buf);
	}
}

/* --- multipart ------------------------------------------------------------------ */

/* One multipart entry: headers (content type + more) and data. */
static void put_entry(pb_buf *b, const char *headers_hex, const void *data, size_t len)
{
	pb_buf h = PB_BUF_INIT;
	assert_pb_ok(pb_hex_decode(&h, headers_hex, strlen(headers_hex), NULL));
	pb_wsp_uintvar_encode(b, (uint32_t)h.len);
	pb_wsp_uintvar_encode(b, (uint32_t)len);
	pb_buf_put(b, h.data, h.len);
	pb_buf_put(b, data, len);
	pb_buf_dispose(&h);
}

static void test_wap__multipart_transfer_encodings_root_nested(void **state)
{
	(void)state;
	pb_buf pdu = PB_BUF_INIT, inner = PB_BUF_INIT;
	const char *head = "8c 84 8d 93 84 1b b3 8a 3c726f6f743e00 89 6170706c69636174696f6e2f736d696c00";
	pb_hex_decode(&pdu, head, strlen(head), NULL);
	pb_wsp_uintvar_encode(&pdu, 4);
	/* 1: base64 text, textual Content-Transfer-Encoding header */
	put_entry(&pdu, "83 436f6e74656e742d5472616e736665722d456e636f64696e670062617365363400"
			"8e 612e74787400", "SGVsbG8=\r\n", 10);
	/* 2: quoted-printable text with a soft line break */
	put_entry(&pdu, "83 436f6e74656e742d5472616e736665722d456e636f64696e670071756f7465642d7072696e7461626c6500",
		  "Caf=C3=A9 =\r\nau lait", strlen("Caf=C3=A9 =\r\nau lait"));
	/* 3: the root, by Content-ID */
	put_entry(&pdu, "9e c0 223c726f6f743e00 ae 08 81 86 702e6a706700", "\xff\xd8jpeg", 6);
	/* 4: a nested multipart/alternative with two text parts */
	pb_wsp_uintvar_encode(&inner, 2);
	put_entry(&inner, "83", "plain", 5);
	put_entry(&inner, "82", "<b>html</b>", 11);
	put_entry(&pdu, "a6", inner.data, inner.len);

	pb_mms_message *m = decode_ok(pdu.data, pdu.len);
	assert_int_equal(m->n_parts, 6);
	assert_string_equal(m->content_type.start, "<root>");
	/* 1 */
	assert_string_equal(m->parts[0].transfer_encoding, "base64");
	assert_int_equal(m->parts[0].len, 5);
	assert_memory_equal(m->parts[0].data, "Hello", 5);
	assert_string_equal(m->parts[0].content_location, "a.txt");
	assert_string_equal(m->parts[0].filename, "a.txt");
	/* 2 */
	pb_buf t = PB_BUF_INIT;
	assert_pb_ok(pb_mms_part_text(&m->parts[1], &t));
	assert_string_equal(pb_buf_cstr(&t), "Café au lait");
	assert_string_equal(m->parts[1].filename, "part-2.txt");
	/* 3: root, zero copy, name from Content-Disposition filename */
	assert_true(m->parts[2].is_root);
	assert_int_equal(m->root_part, 2);
	assert_false(m->parts[0].is_root);
	assert_string_equal(m->parts[2].content_id, "root");
	assert_string_equal(m->parts[2].name, "p.jpg");
	assert_string_equal(m->parts[2].filename, "p.jpg");
	assert_true(m->parts[2].data >= pdu.data && m->parts[2].data + 6 <= pdu.data + pdu.len);
	assert_ptr_equal(m->parts[2].data, m->parts[2].raw);
	assert_true(pb_mms_part_is_media(&m->parts[2]));
	/* 4: container, then its children */
	assert_true(m->parts[3].is_multipart);
	assert_string_equal(m->parts[3].content_type.media_type, "application/vnd.wap.multipart.alternative");
	assert_false(pb_mms_part_is_media(&m->parts[3]));
	assert_int_equal(m->parts[4].parent, 3);
	assert_int_equal(m->parts[4].depth, 1);
	assert_true(m->parts[4].is_root);
	assert_string_equal(m->parts[5].content_type.media_type, "text/html");
	/* the message text: every text part, in order */
	pb_buf_clear(&t);
	assert_pb_ok(pb_mms_message_text(m, &t));
	/* of the alternative, only its first text version */
	assert_string_equal(pb_buf_cstr(&t), "Hello\n\nCafé au lait\n\nplain");
	pb_buf_dispose(&t);
	pb_mms_message_free(m);

	/* a part whose data runs past the end */
	pb_buf_truncate(&pdu, pdu.len - 3);
	pb_mms_message *bad;
	pb_parse_error perr;
	assert_pb_error(pb_mms_decode(&bad, pdu.data, pdu.len, 0, &perr), PB_EMALFORMED);
	assert_true(strstr(perr.text, "beyond end") != NULL);
	assert_true(perr.offset < pdu.len);
	pb_buf_dispose(&pdu);
	pb_buf_dispose(&inner);
}

static void test_wap__headers_only_flag(void **state)
{
	(void)state;
	uint8_t *buf;
	size_t len;
	buf = unhex("8c 84 8d 93 84 a3 01 02 83 41", &len);
	pb_mms_message *m;
	assert_pb_ok(pb_mms_decode(&m, buf, len, PB_MMS_DECODE_HEADERS_ONLY, NULL));
	assert_int_equal(m->n_parts, 0);
	assert_int_equal(m->body_len, 4);
	pb_mms_message_free(m);
	/* and a broken body then does fail without the flag */
	pb_parse_error perr;
	assert_pb_error(pb_mms_decode(&m, buf, len, 0, &perr), PB_EMALFORMED);
	free(buf);
}

/* --- safe file names --------------------------------------------------------------- */

static void safe(const char *name, const char *expected)
{
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_mms_safe_filename(&b, name, "fallback"));
	if (strcmp(pb_buf_cstr(&b), expected) != 0)
		fail_msg("safe(\"%s\") = \"%s\", expected \"%s\"", name ? name : "(null)", pb_buf_cstr(&b), expected);
	pb_buf_dispose(&b);
}

static void test_wap__safe_filenames_hostile(void **state)
{
	(void)state;
	safe("../../etc/passwd", "passwd");
	safe("..", "fallback");
	safe("...", "fallback");
	safe("/", "fallback");
	safe("", "fallback");
	safe(NULL, "fallback");
	safe("a/b\\c.jpg", "c.jpg");
	safe("C:\\Windows\\system32\\evil.exe", "evil.exe");
	safe(".bashrc", "bashrc");
	safe("-rf", "rf");
	safe("a..b...c", "a.b.c");
	safe("tab\there\nnew\x7f" "del.txt", "tabherenewdel.txt");
	safe("name.txt.", "name.txt");
	safe("x<y>z:\"|?*.png", "x_y_z_____.png");
	safe("rm $(id) `id`;&.gif", "rm _(id) _id___.gif");
	safe("zdj\xc4\x99" "cie.jpg", "zdjęcie.jpg");
	safe("\xe2\x80\xae" "gpj.exe", "gpj.exe");       /* U+202E RIGHT-TO-LEFT OVERRIDE */
	safe("bad\xff\xfeutf8.txt", "badutf8.txt");
	/* Windows device names, with any extension and in any case */
	safe("CON", "_CON");
	safe("nul.txt", "_nul.txt");
	safe("Com1.jpg", "_Com1.jpg");
	safe("LPT9", "_LPT9");
	safe("aux .txt", "_aux .txt");
	safe("prn.tar.gz", "_prn.tar.gz");
	safe("COM0.jpg", "COM0.jpg");
	safe("CONSOLE.txt", "CONSOLE.txt");
	safe("x/CON", "_CON");
	/* a device name at the length limit: the '_' still fits, UTF-8 stays whole */
	char dev[200] = "CON.";
	for (int i = 0; i < 46; i++)
		strcat(dev, "\xc4\x85"); /* 4 + 92 bytes */
	pb_buf db = PB_BUF_INIT;
	assert_pb_ok(pb_mms_safe_filename(&db, dev, "x"));
	assert_true(db.len <= 96);
	assert_memory_equal(db.data, "_CON.", 5);
	assert_pb_ok(pb_utf8_validate(pb_buf_cstr(&db), db.len, NULL));
	pb_buf_dispose(&db);
	/* a long name: the extension from its very end */
	char far[3000];
	memset(far, 'b', sizeof(far));
	strcpy(far + sizeof(far) - 6, ".png");
	pb_buf fb = PB_BUF_INIT;
	assert_pb_ok(pb_mms_safe_filename(&fb, far, "x"));
	assert_int_equal(fb.len, 96);
	assert_string_equal(pb_buf_cstr(&fb) + 92, ".png");
	pb_buf_dispose(&fb);
	/* bounded length, extension kept, cut on a character boundary */
	char lng[400];
	memset(lng, 'a', sizeof(lng));
	memcpy(lng + 300, "\xc4\x85\xc4\x85\xc4\x85", 6);
	strcpy(lng + 390, ".jpeg");
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_mms_safe_filename(&b, lng, "x"));
	assert_true(b.len <= 96);
	assert_true(b.len >= 90);
	assert_string_equal(pb_buf_cstr(&b) + b.len - 5, ".jpeg");
	assert_pb_ok(pb_utf8_validate(pb_buf_cstr(&b), b.len, NULL));
	pb_buf_clear(&b);
	char multi[200] = "";
	for (int i = 0; i < 60; i++)
		strcat(multi, "\xc4\x85"); /* 120 bytes of 2-byte characters */
	assert_pb_ok(pb_mms_safe_filename(&b, multi, "x"));
	assert_true(b.len <= 96);
	assert_pb_ok(pb_utf8_validate(pb_buf_cstr(&b), b.len, NULL));
	pb_buf_dispose(&b);
}

static void test_wap__part_names_unique_within_message(void **state)
{
	(void)state;
	pb_buf pdu = PB_BUF_INIT;
	const char *head = "8c 84 8d 93 84 a3";
	pb_hex_decode(&pdu, head, strlen(head), NULL);
	pb_wsp_uintvar_encode(&pdu, 6);
	put_entry(&pdu, "0b 9e 85 2e2e2f782e6a706700", "1", 1);   /* name="../x.jpg" */
	put_entry(&pdu, "08 9e 85 782e4a504700", "2", 1);         /* name="x.JPG" */
	put_entry(&pdu, "9e 8e 2f746d702f782e6a706700", "3", 1);  /* Content-Location /tmp/x.jpg */
	put_entry(&pdu, "9e", "4", 1);                            /* no name */
	put_entry(&pdu, "9e c0 223c2e2e3e00", "5", 1);            /* Content-ID <..> */
	put_entry(&pdu, "05 83 85 2e2e00", "6", 1);               /* name=".." text */
	pb_mms_message *m = decode_ok(pdu.data, pdu.len);
	assert_int_equal(m->n_parts, 6);
	const char *expect[] = { "x.jpg", "x-2.JPG", "x-3.jpg", "part-4.jpg", "part-5.jpg", "part-6.txt" };
	for (size_t i = 0; i < 6; i++) {
		assert_string_equal(m->parts[i].filename, expect[i]);
		assert_null(strchr(m->parts[i].filename, '/'));
		assert_null(strstr(m->parts[i].filename, ".."));
	}
	assert_string_equal(m->parts[0].name, "../x.jpg"); /* what the sender said, for display */
	pb_mms_message_free(m);
	pb_buf_dispose(&pdu);
}

static void test_wap__many_parts_same_name_and_the_cap(void **state)
{
	(void)state;
	for (int n = 1000; n <= 1001; n++) {
		pb_buf pdu = PB_BUF_INIT;
		const char *head = "8c 84 8d 93 84 a3";
		pb_hex_decode(&pdu, head, strlen(head), NULL);
		pb_wsp_uintvar_encode(&pdu, (uint32_t)n);
		for (int i = 0; i < n; i++)
			put_entry(&pdu, "08 9e 85 612e6a706700", "x", 1); /* name="a.jpg" */
		pb_mms_message *m;
		pb_parse_error perr;
		if (n == 1000) {
			assert_pb_ok(pb_mms_decode(&m, pdu.data, pdu.len, 0, &perr));
			assert_int_equal(m->n_parts, 1000);
			assert_string_equal(m->parts[0].filename, "a.jpg");
			assert_string_equal(m->parts[1].filename, "a-2.jpg");
			assert_string_equal(m->parts[999].filename, "a-1001.jpg");
			for (size_t i = 1; i < m->n_parts; i++)
				assert_string_not_equal(m->parts[i].filename, m->parts[i - 1].filename);
			pb_mms_message_free(m);
		} else {
			assert_pb_error(pb_mms_decode(&m, pdu.data, pdu.len, 0, &perr), PB_EMALFORMED);
			assert_true(strstr(perr.text, "more than 1000 parts") != NULL);
		}
		pb_buf_dispose(&pdu);
	}
}

/* --- encoding ----------------------------------------------------------------------- */

static void test_wap__encode_notifyresp_ack_read_rec(void **state)
{
	(void)state;
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_mms_encode_notifyresp(&b, "TID-1", PB_MMS_STATUS_DEFERRED, 129));
	/* exact bytes from OMA-MMS-ENC §7: type, transaction id, version, status, report-allowed */
	static const uint8_t expect[] = { 0x8C, 0x83, 0x98, 'T', 'I', 'D', '-', '1', 0, 0x8D, 0x93, 0x95, 0x83, 0x91, 0x81 };
	assert_int_equal(b.len, sizeof(expect));
	assert_memory_equal(b.data, expect, sizeof(expect));
	pb_mms_message *m = decode_ok(b.data, b.len);
	assert_int_equal(m->message_type, PB_MMS_NOTIFYRESP_IND);
	assert_string_equal(m->transaction_id, "TID-1");
	assert_int_equal(m->status, PB_MMS_STATUS_DEFERRED);
	assert_int_equal(m->report_allowed, 129);
	pb_mms_message_free(m);

	pb_buf_clear(&b);
	assert_pb_ok(pb_mms_encode_ack(&b, "TID-2", 0));
	m = decode_ok(b.data, b.len);
	assert_int_equal(m->message_type, PB_MMS_ACKNOWLEDGE_IND);
	assert_string_equal(m->transaction_id, "TID-2");
	assert_int_equal(m->report_allowed, 0);
	pb_mms_message_free(m);

	pb_buf_clear(&b);
	assert_pb_ok(pb_mms_encode_read_rec(&b, "msg-9", "+4912345", NULL, 1700000000, PB_MMS_READ_STATUS_READ));
	m = decode_ok(b.data, b.len);
	assert_int_equal(m->message_type, PB_MMS_READ_REC_IND);
	assert_string_equal(m->message_id, "msg-9");
	assert_string_equal(m->to[0], "+4912345");
	assert_true(m->from_insert_address);
	assert_int_equal(m->date, 1700000000);
	assert_int_equal(m->read_status, PB_MMS_READ_STATUS_READ);
	pb_mms_message_free(m);

	assert_pb_error(pb_mms_encode_notifyresp(&b, NULL, 129, 0), PB_EINVAL);
	assert_pb_error(pb_mms_encode_notifyresp(&b, "x", 12, 0), PB_EINVAL);
	assert_pb_error(pb_mms_encode_read_rec(&b, "m", "t", NULL, 0, 7), PB_EINVAL);
	pb_buf_dispose(&b);
}

static const uint8_t jpeg[] = { 0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0, 1, 0xFF, 0xD9 };
static const uint8_t amr[] = "#!AMR\n\x3c\x00\x00";
static const uint8_t mp4[] = { 0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'm', 'p', '4', '2' };

static void make_req(pb_mms_send_req *req, pb_mms_attachment att[3])
{
	static const char *const to[] = { "+48123456789", "someone@example.org" };
	static const char *const cc[] = { "+15550001" };
	att[0] = (pb_mms_attachment){ "image/jpeg", "../holiday photo.jpg", jpeg, sizeof(jpeg), NULL };
	att[1] = (pb_mms_attachment){ "audio/amr", "voice", amr, sizeof(amr) - 1, NULL };
	att[2] = (pb_mms_attachment){ "video/mp4", "holiday photo.jpg", mp4, sizeof(mp4), NULL };
	*req = (pb_mms_send_req)PB_MMS_SEND_REQ_INIT;
	req->transaction_id = "tx-42";
	req->from = "+4911122233";
	req->to = to;
	req->n_to = 2;
	req->cc = cc;
	req->n_cc = 1;
	req->subject = "Zażółć gęślą jaźń";
	req->date = 1700000000;
	req->expiry = 86400;
	req->delivery_report = 128;
	req->read_report = 129;
	req->priority = PB_MMS_PRIORITY_HIGH;
	req->message_class = "personal";
	req->text = "Greetings from Kraków 😀";
	req->attachments = att;
	req->n_attachments = 3;
}

static void check_decoded_req(const pb_mms_send_req *req, const pb_mms_message *m)
{
	assert_string_equal(m->transaction_id, req->transaction_id);
	assert_string_equal(m->from, req->from);
	assert_int_equal(m->n_to, req->n_to);
	for (size_t i = 0; i < req->n_to; i++)
		assert_string_equal(m->to[i], req->to[i]);
	assert_int_equal(m->n_cc, 1);
	assert_string_equal(m->cc[0], req->cc[0]);
	assert_string_equal(m->subject, req->subject);
	assert_int_equal(m->date, req->date);
	assert_true(m->expiry.relative);
	assert_int_equal(m->expiry.value, req->expiry);
	assert_int_equal(m->priority, req->priority);
	assert_int_equal(m->delivery_report, 128);
	assert_int_equal(m->read_report, 129);
	assert_string_equal(m->message_class, "personal");
	assert_string_equal(m->content_type.media_type, "application/vnd.wap.multipart.related");
	assert_string_equal(m->content_type.type, "application/smil");
	assert_int_equal(m->n_parts, 5);
	/* SMIL is the root and references every media part */
	assert_int_equal(m->root_part, 0);
	assert_true(pb_mms_part_is_smil(&m->parts[0]));
	pb_buf smil = PB_BUF_INIT;
	pb_buf_put(&smil, m->parts[0].data, m->parts[0].len);
	assert_non_null(strstr(pb_buf_cstr(&smil), "<img src=\"holiday photo.jpg\" region=\"Image\"/>"));
	assert_non_null(strstr(pb_buf_cstr(&smil), "<audio src=\"voice.amr\"/>"));
	assert_non_null(strstr(pb_buf_cstr(&smil), "<video src=\"holiday photo.mp4\""));
	assert_non_null(strstr(pb_buf_cstr(&smil), "<text src=\"text.txt\" region=\"Text\"/>"));
	pb_buf_dispose(&smil);
	pb_buf text = PB_BUF_INIT;
	assert_pb_ok(pb_mms_message_text(m, &text));
	assert_string_equal(pb_buf_cstr(&text), req->text);
	pb_buf_dispose(&text);
	for (size_t i = 0; i < req->n_attachments; i++) {
		const pb_mms_part *p = &m->parts[2 + i];
		assert_string_equal(p->content_type.media_type, req->attachments[i].content_type);
		assert_int_equal(p->len, req->attachments[i].len);
		assert_memory_equal(p->data, req->attachments[i].data, p->len);
		assert_true(pb_mms_part_is_media(p));
	}
	assert_string_equal(m->parts[2].filename, "holiday photo.jpg");
	assert_string_equal(m->parts[3].filename, "voice.amr");
	assert_string_equal(m->parts[4].filename, "holiday photo.mp4");
}

static void test_wap__send_req_round_trip(void **state)
{
	(void)state;
	pb_mms_send_req req;
	pb_mms_attachment att[3];
	make_req(&req, att);
	att[2].name = "holiday photo.mp4";
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_mms_encode_send_req(&b, &req));
	pb_mms_message *m = decode_ok(b.data, b.len);
	assert_int_equal(m->message_type, PB_MMS_SEND_REQ);
	check_decoded_req(&req, m);
	pb_mms_message_free(m);

	/* the same body as an M-Retrieve.conf */
	pb_buf_clear(&b);
	assert_pb_ok(pb_mms_encode_retrieve_conf(&b, &req, "mid-1"));
	m = decode_ok(b.data, b.len);
	assert_int_equal(m->message_type, PB_MMS_RETRIEVE_CONF);
	assert_string_equal(m->message_id, "mid-1");
	assert_true(pb_mms_retrieve_ok(m));
	check_decoded_req(&req, m);
	pb_mms_message_free(m);

	/* no recipient, no transaction id */
	pb_mms_send_req empty = PB_MMS_SEND_REQ_INIT;
	empty.transaction_id = "x";
	assert_pb_error(pb_mms_encode_send_req(&b, &empty), PB_EINVAL);
	pb_buf_dispose(&b);
}

static void test_wap__send_req_duplicate_names_made_unique(void **state)
{
	(void)state;
	pb_mms_send_req req;
	pb_mms_attachment att[3];
	make_req(&req, att); /* attachments 0 and 2 are both "holiday photo" */
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_mms_encode_send_req(&b, &req));
	pb_mms_message *m = decode_ok(b.data, b.len);
	assert_string_equal(m->parts[2].filename, "holiday photo.jpg");
	assert_string_equal(m->parts[4].filename, "holiday photo-2.jpg");
	pb_mms_message_free(m);
	pb_buf_dispose(&b);
}

static void test_wap__guess_content_type(void **state)
{
	(void)state;
	assert_string_equal(pb_mms_guess_content_type("a/photo.JPG"), "image/jpeg");
	assert_string_equal(pb_mms_guess_content_type("x.jpeg"), "image/jpeg");
	assert_string_equal(pb_mms_guess_content_type("clip.3gp"), "video/3gpp");
	assert_string_equal(pb_mms_guess_content_type("voice.amr"), "audio/amr");
	assert_string_equal(pb_mms_guess_content_type("noext"), "application/octet-stream");
	assert_string_equal(pb_mms_guess_content_type(NULL), "application/octet-stream");
}

static void test_wap__sha256_of_part(void **state)
{
	(void)state;
	pb_mms_part p;
	memset(&p, 0, sizeof(p));
	p.data = (const uint8_t *)"abc";
	p.len = 3;
	char hex[65];
	uint8_t d[32];
	assert_pb_ok(pb_mms_part_sha256(&p, d, hex));
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(d[0], 0xba);
}

/* --- robustness -------------------------------------------------------------------------- */

/* Is @pre (a decode of a prefix of @full's input) a complete PDU of its
 * own, nothing in it cut short: the same type, headers that are the first
 * of @full's with the very same values, and, for a multipart body, every
 * part whole. (A single-part body has no length of its own: the HTTP
 * layer's Content-Length guards it.) Returns NULL or what differs. */
static const char *prefix_differs(const pb_mms_message *full, const pb_mms_message *pre)
{
	if (pre->message_type != full->message_type)
		return "message type";
	if (pre->incomplete)
		return "marked incomplete without PB_MMS_DECODE_SALVAGE";
	if (pre->n_headers > full->n_headers)
		return "more headers than the whole";
	for (size_t i = 0; i < pre->n_headers; i++) {
		const pb_mms_header *a = &pre->headers[i], *b = &full->headers[i];
		if (a->offset != b->offset || a->raw_len != b->raw_len || a->known != b->known ||
		    a->number != b->number || !a->text != !b->text || (a->text && strcmp(a->text, b->text)))
			return "a header value";
	}
	bool multipart = full->has_content_type && pb_wap__is_multipart(full->content_type.media_type);
	if (multipart && pre->n_headers == full->n_headers) {
		if (pre->n_parts != full->n_parts)
			return "number of parts";
		for (size_t i = 0; i < pre->n_parts; i++)
			if (pre->parts[i].raw_len != full->parts[i].raw_len || pre->parts[i].len != full->parts[i].len)
				return "a part's length";
	}
	return NULL;
}

/* Every prefix of a valid PDU fails cleanly with an offset inside the input
 * (ASan checks the reads), or is itself a complete PDU (prefix_differs()).
 * Returns how many prefixes decoded. */
static size_t every_prefix_of(const char *what, const uint8_t *pdu, size_t len, bool push)
{
	pb_mms_message *full = NULL;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	int rc = push ? pb_mms_decode_push(&full, NULL, pdu, len, &perr) : pb_mms_decode(&full, pdu, len, 0, &perr);
	if (rc != 0)
		fail_msg("%s: the whole PDU: %s", what, pb_error_last()->message);
	size_t decoded = 0;
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees overreads */
		memcpy(copy, pdu, n);
		pb_mms_message *m = NULL;
		perr = (pb_parse_error)PB_PARSE_ERROR_INIT;
		rc = push ? pb_mms_decode_push(&m, NULL, copy, n, &perr) : pb_mms_decode(&m, copy, n, 0, &perr);
		if (rc == 0) {
			const char *why = prefix_differs(full, m);
			if (why)
				fail_msg("%s: its first %zu of %zu bytes decode as a whole PDU (%s differs)", what, n,
					 len, why);
			decoded++;
			pb_mms_message_free(m);
		} else if (rc != PB_EMALFORMED || perr.offset > n || !perr.text[0]) {
			fail_msg("%s: prefix %zu: rc %d offset %zu", what, n, rc, perr.offset);
		}
		free(copy);
	}
	pb_mms_message_free(full);
	return decoded;
}

static void every_prefix(const uint8_t *pdu, size_t len, bool push)
{
	every_prefix_of(push ? "push" : "PDU", pdu, len, push);
}

static void test_wap__truncations_fail_cleanly(void **state)
{
	(void)state;
	pb_mms_send_req req;
	pb_mms_attachment att[3];
	make_req(&req, att);
	pb_buf b = PB_BUF_INIT, push = PB_BUF_INIT;
	assert_pb_ok(pb_mms_encode_retrieve_conf(&b, &req, "mid"));
	every_prefix(b.data, b.len, false);
	pb_buf_clear(&b);
	pb_mms_notification n = { "T", "+1555", "subject", NULL, 99, 0, "http://x/y" };
	assert_pb_ok(pb_mms_encode_notification(&b, &n));
	assert_pb_ok(pb_wsp_push_encode(&push, 1, "application/vnd.wap.mms-message", 4, b.data, b.len));
	every_prefix(push.data, push.len, true);
	pb_buf_dispose(&b);
	pb_buf_dispose(&push);
}

/* --- never silently partial ----------------------------------------------------------------- */

/* A retrieve-conf (Type, TID, Version, Date, Content-Type multipart/mixed)
 * whose multipart declares @count entries, followed by @parts text parts. */
static void partial_retrieve_conf(pb_buf *b, uint32_t count, int parts)
{
	const char *head = "8c 84 98 543100 8d 93 85 04 4de4a9f6 84 a3";
	pb_buf_clear(b);
	assert_pb_ok(pb_hex_decode(b, head, strlen(head), NULL));
	pb_wsp_uintvar_encode(b, count);
	for (int i = 0; i < parts; i++)
		put_entry(b, "83", "hello", 5);
}

static void expect_refused(const uint8_t *buf, size_t len, size_t offset, const char *says)
{
	pb_mms_message *m = (pb_mms_message *)1;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	assert_pb_error(pb_mms_decode(&m, buf, len, 0, &perr), PB_EMALFORMED);
	assert_null(m);
	if (perr.offset != offset || !strstr(perr.text, says))
		fail_msg("refused at %zu (%s), expected %zu (%s)", perr.offset, perr.text, offset, says);
}

static void test_wap__never_silently_partial(void **state)
{
	(void)state;
	pb_buf b = PB_BUF_INIT;
	partial_retrieve_conf(&b, 5, 5);
	pb_mms_message *m = decode_ok(b.data, b.len);
	assert_int_equal(m->n_parts, 5);
	assert_false(m->incomplete);
	assert_null(m->warning);
	pb_mms_message_free(m);
	/* the first 5 bytes: a transaction id without its NUL */
	expect_refused(b.data, 5, 3, "without its terminating NUL");
	/* 5 entries declared, 1 present */
	partial_retrieve_conf(&b, 5, 1);
	expect_refused(b.data, b.len, b.len, "declares 5 parts; the data ends after 1");
	/* a billion declared, one present */
	partial_retrieve_conf(&b, 1000000000, 1);
	expect_refused(b.data, b.len, b.len, "declares 1000000000 parts");
	/* bytes after the last declared entry */
	partial_retrieve_conf(&b, 1, 2);
	expect_refused(b.data, b.len, b.len - 8, "8 bytes after the last of the 1 parts");
	/* a multipart Content-Type and no body at all */
	partial_retrieve_conf(&b, 0, 0);
	expect_refused(b.data, b.len - 1, b.len - 1, "without its entry count");
	/* mandatory headers per type, named */
	static const struct {
		const char *hex;
		const char *missing;
	} cases[] = {
		{ "8c 82 98 5400 8d 93", "X-Mms-Content-Location" },
		{ "8c 82 98 5400 8d 93 83 6100 8a 80 8e 01 05", "X-Mms-Expiry" },
		{ "8c 84 98 5400 8d 93", "Content-Type" },
		{ "8c 84 98 5400 84 83", "X-Mms-MMS-Version" },
		{ "8c 81 8d 93 92 80", "X-Mms-Transaction-Id" },
		{ "8c 86 8d 93 8b 6d00 97 6100 85 01 01", "X-Mms-Status" },
		{ "8c 88 8d 93 8b 6d00 97 6100 89 01 81 85 01 01", "X-Mms-Read-Status" },
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(cases); i++) {
		size_t len;
		uint8_t *buf = unhex(cases[i].hex, &len);
		expect_refused(buf, len, len, cases[i].missing);
		free(buf);
	}
	pb_buf_dispose(&b);
}

static void test_wap__salvage_is_explicit_and_marked(void **state)
{
	(void)state;
	pb_buf b = PB_BUF_INIT;
	partial_retrieve_conf(&b, 5, 2);
	size_t cut = b.len - 3; /* inside the second part's data */
	pb_mms_message *m = NULL;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	assert_pb_error(pb_mms_decode(&m, b.data, cut, 0, &perr), PB_EMALFORMED);
	assert_pb_ok(pb_mms_decode(&m, b.data, cut, PB_MMS_DECODE_SALVAGE, &perr));
	assert_true(m->incomplete);
	assert_int_equal(m->n_parts, 1);
	assert_int_equal(m->parts[0].len, 5);
	assert_non_null(m->warning);
	assert_true(strstr(m->warning, "beyond end of data") != NULL);
	pb_mms_message_free(m);
	/* all entries present: salvage changes nothing */
	partial_retrieve_conf(&b, 2, 2);
	assert_pb_ok(pb_mms_decode(&m, b.data, b.len, PB_MMS_DECODE_SALVAGE, NULL));
	assert_false(m->incomplete);
	assert_int_equal(m->n_parts, 2);
	pb_mms_message_free(m);
	/* cut inside the headers: what was read, marked */
	partial_retrieve_conf(&b, 2, 2);
	assert_pb_ok(pb_mms_decode(&m, b.data, 4, PB_MMS_DECODE_SALVAGE, NULL));
	assert_true(m->incomplete);
	assert_string_equal(m->transaction_id, "T"); /* the unterminated text, kept */
	assert_int_equal(m->warning_offset, 3);
	pb_mms_message_free(m);
	/* a notification whose Content-Location lost its NUL */
	const char *dir = pb_test_vectors_dir();
	if (dir) {
		size_t len;
		uint8_t *buf = pb_test_read_file(dir, "mms/android-sms-gateway/inline-from-MMSParserTest/"
					       "notification_ind_simpleTest_unterminated_location.bin", &len);
		assert_pb_error(pb_mms_decode(&m, buf, len, 0, NULL), PB_EMALFORMED);
		assert_pb_ok(pb_mms_decode(&m, buf, len, PB_MMS_DECODE_SALVAGE, NULL));
		assert_true(m->incomplete);
		assert_string_equal(m->content_location, "http://10.47.133.35/?message-id=1563948840&id=1");
		assert_true(strstr(m->warning, "NUL") != NULL);
		pb_mms_message_free(m);
		free(buf);
	}
	pb_buf_dispose(&b);
}

static void test_wap__notification_junk_after_last_header(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"8c 82 98 5400 8d 93 8a 80 8e 01 05 88 02 81 81 83 6100 00",
		"8c 82 98 5400 8d 93 8a 80 8e 01 05 88 02 81 81 83 6100 0a",
		"8c 82 98 5400 8d 93 8a 80 8e 01 05 88 02 81 81 83 6100 0d 0a",
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(ok); i++) {
		uint8_t *buf;
		pb_mms_message *m = decode_hex(ok[i], &buf);
		assert_string_equal(m->content_location, "a");
		assert_false(m->incomplete);
		assert_non_null(m->warning);
		assert_true(strstr(m->warning, "junk after the last header") != NULL);
		assert_int_equal(m->warning_offset, 19);
		pb_mms_message_free(m);
		free(buf);
	}
	/* junk before every mandatory header was read stays an error, there */
	size_t len;
	uint8_t *buf = unhex("8c 82 98 5400 8d 93 8a 80 8e 01 05 83 6100 00", &len);
	expect_refused(buf, len, len - 1, "header field expected, found 0x00");
	free(buf);
}

/* --- forgiving where practice says so ---------------------------------------------------------- */

/* A retrieve-conf with one part: @headers_hex (content type + more), @data. */
static pb_mms_message *one_part_message(pb_buf *pdu, const char *headers_hex, const void *data, size_t len)
{
	const char *head = "8c 84 8d 93 84 a3";
	pb_buf_clear(pdu);
	assert_pb_ok(pb_hex_decode(pdu, head, strlen(head), NULL));
	pb_wsp_uintvar_encode(pdu, 1);
	put_entry(pdu, headers_hex, data, len);
	return decode_ok(pdu->data, pdu->len);
}

static void test_wap__utf16_text_parts_by_their_mark(void **state)
{
	(void)state;
	static const struct {
		const char *headers; /* text/plain, maybe a charset */
		const char *data;
		size_t len;
	} cases[] = {
		{ "83", "\xff\xfe" "Z\0\xf3\0\x0a\x04", 8 },                  /* no charset, LE mark */
		{ "83", "\xfe\xff" "\0Z\0\xf3\x04\x0a", 8 },                  /* no charset, BE mark */
		{ "03 83 81 ea", "\xff\xfe" "Z\0\xf3\0\x0a\x04", 8 },         /* says UTF-8: the mark wins */
		{ "05 83 81 02 03f6", "\xff\xfe" "Z\0\xf3\0\x0a\x04", 8 },    /* UTF-16LE (1014), with the mark */
		{ "05 83 81 02 03f7", "\xfe\xff" "\0Z\0\xf3\x04\x0a", 8 },    /* UTF-16 (1015) */
	};
	pb_buf pdu = PB_BUF_INIT, t = PB_BUF_INIT;
	for (size_t i = 0; i < PB_ARRAY_SIZE(cases); i++) {
		pb_mms_message *m = one_part_message(&pdu, cases[i].headers, cases[i].data, cases[i].len);
		pb_buf_clear(&t);
		assert_pb_ok(pb_mms_part_text(&m->parts[0], &t));
		if (strcmp(pb_buf_cstr(&t), "Z\xc3\xb3\xd0\x8a"))
			fail_msg("case %zu: \"%s\"", i, pb_buf_cstr(&t));
		pb_mms_message_free(m);
	}
	/* an 8-bit charset keeps its bytes: ISO-8859-1 "\xff\xfe" is "\xc3\xbf\xc3\xbe" */
	pb_mms_message *m = one_part_message(&pdu, "03 83 81 84", "\xff\xfe" "A", 3);
	pb_buf_clear(&t);
	assert_pb_ok(pb_mms_part_text(&m->parts[0], &t));
	assert_string_equal(pb_buf_cstr(&t), "\xc3\xbf\xc3\xbe" "A");
	pb_mms_message_free(m);
	pb_buf_dispose(&t);
	pb_buf_dispose(&pdu);
}

static void test_wap__base64_parts_like_mime_decoders(void **state)
{
	(void)state;
	/* text/plain, Content-Transfer-Encoding: base64 */
	const char *te = "83 436f6e74656e742d5472616e736665722d456e636f64696e670062617365363400";
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "SGVsbG8=", "Hello" },
		{ "SGVsbG8", "Hello" },          /* padding missing */
		{ "SGVsbG8h", "Hello!" },
		{ "SGVsbG8hI", "Hello!" },       /* a stray last sextet: no whole byte */
		{ "SGVs\r\nbG8=\r\n", "Hello" }, /* line breaks */
		{ "SGVsbA", "Hell" },
		{ "SGVsbG8=junk", "Hello" },     /* decoding ends at the padding */
	};
	pb_buf pdu = PB_BUF_INIT;
	for (size_t i = 0; i < PB_ARRAY_SIZE(cases); i++) {
		pb_mms_message *m = one_part_message(&pdu, te, cases[i].in, strlen(cases[i].in));
		if (m->parts[0].len != strlen(cases[i].out) ||
		    memcmp(m->parts[0].data, cases[i].out, m->parts[0].len))
			fail_msg("\"%s\": got %zu bytes \"%.*s\"", cases[i].in, m->parts[0].len, (int)m->parts[0].len,
				 (const char *)m->parts[0].data);
		pb_mms_message_free(m);
	}
	/* not base64 at all (binary declared base64): the bytes as they came */
	pb_mms_message *m = one_part_message(&pdu, te, "\xff\xd8\x01", 3);
	assert_int_equal(m->parts[0].len, 3);
	assert_ptr_equal(m->parts[0].data, m->parts[0].raw);
	pb_mms_message_free(m);
	pb_buf_dispose(&pdu);
}

/* --- allocation failures -------------------------------------------------------------------- */

struct alloc_ctx {
	const uint8_t *buf;
	size_t len;
	bool push;
};

static int decode_scenario(void *arg)
{
	struct alloc_ctx *c = arg;
	pb_mms_message *m;
	int rc = c->push ? pb_mms_decode_push(&m, NULL, c->buf, c->len, NULL) : pb_mms_decode(&m, c->buf, c->len, 0, NULL);
	if (rc == 0) {
		pb_buf t = PB_BUF_INIT;
		rc = pb_mms_message_text(m, &t);
		pb_buf_dispose(&t);
		pb_mms_message_free(m);
	}
	return rc;
}

static int encode_scenario(void *arg)
{
	(void)arg;
	pb_mms_send_req req;
	pb_mms_attachment att[3];
	make_req(&req, att);
	pb_buf b = PB_BUF_INIT;
	int rc = pb_mms_encode_send_req(&b, &req);
	if (rc == 0)
		rc = pb_mms_encode_notifyresp(&b, "t", 129, 128);
	if (rc == 0)
		rc = pb_mms_encode_read_rec(&b, "m", "+1", NULL, 1, 128);
	pb_buf_dispose(&b);
	return rc;
}

static void test_wap__allocation_failures(void **state)
{
	(void)state;
	pb_mms_send_req req;
	pb_mms_attachment att[3];
	make_req(&req, att);
	pb_buf b = PB_BUF_INIT, push = PB_BUF_INIT;
	assert_pb_ok(pb_mms_encode_retrieve_conf(&b, &req, "mid"));
	struct alloc_ctx c = { b.data, b.len, false };
	assert_true(pb_test_alloc_fail_each(decode_scenario, &c, NULL) > 0);

	/* base64 and charset conversion paths */
	pb_buf q = PB_BUF_INIT;
	const char *head = "8c 84 8d 93 96 05 84 e9 74 e9 00 84 a3";
	pb_hex_decode(&q, head, strlen(head), NULL);
	pb_wsp_uintvar_encode(&q, 1);
	put_entry(&q, "83 436f6e74656e742d5472616e736665722d456e636f64696e670062617365363400", "SGVsbG8=", 8);
	c = (struct alloc_ctx){ q.data, q.len, false };
	assert_true(pb_test_alloc_fail_each(decode_scenario, &c, NULL) > 0);

	pb_mms_notification n = { "T", "+1555", "s", NULL, 99, 0, "http://x/y" };
	pb_buf_clear(&b);
	assert_pb_ok(pb_mms_encode_notification(&b, &n));
	assert_pb_ok(pb_wsp_push_encode(&push, 1, "application/vnd.wap.mms-message", 4, b.data, b.len));
	c = (struct alloc_ctx){ push.data, push.len, true };
	assert_true(pb_test_alloc_fail_each(decode_scenario, &c, NULL) > 0);

	assert_true(pb_test_alloc_fail_each(encode_scenario, NULL, NULL) > 0);
	pb_buf_dispose(&b);
	pb_buf_dispose(&push);
	pb_buf_dispose(&q);
}

/* Decoding only, for counting its allocations. */
static int decode_only(void *arg)
{
	struct alloc_ctx *c = arg;
	pb_mms_message *m;
	int rc = c->push ? pb_mms_decode_push(&m, NULL, c->buf, c->len, NULL) : pb_mms_decode(&m, c->buf, c->len, 0, NULL);
	if (rc == 0)
		pb_mms_message_free(m);
	return rc;
}

/* At most 2 allocations per decode: the message with its arena's first
 * chunk, and one more chunk for big messages (names are made in place). */
static void test_wap__two_allocations_per_decode(void **state)
{
	(void)state;
	pb_mms_send_req req;
	pb_mms_attachment att[3];
	make_req(&req, att);
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_mms_encode_retrieve_conf(&b, &req, "mid"));
	struct alloc_ctx c = { b.data, b.len, false };
	assert_in_range(pb_test_alloc_fail_each(decode_only, &c, NULL), 1, 2);
	pb_buf_clear(&b);
	pb_mms_notification n = { "mavodi-7-89-1c0-7-ca-50f93843", "+19199033488", "s", NULL, 991647, 259200,
				  "http://atl2mosget.msg.eng.t-mobile.com/mms/wapenc?T=mavodi-7-13b" };
	assert_pb_ok(pb_mms_encode_notification(&b, &n));
	c = (struct alloc_ctx){ b.data, b.len, false };
	assert_int_equal(pb_test_alloc_fail_each(decode_only, &c, NULL), 1);
	const char *root = getenv("PB_SOURCE_ROOT");
	if (root) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/data/samples", root);
		size_t len;
		uint8_t *buf = pb_test_read_file(dir, "picture-message.mms", &len);
		c = (struct alloc_ctx){ buf, len, false };
		assert_int_equal(pb_test_alloc_fail_each(decode_only, &c, NULL), 1);
		free(buf);
	}
	pb_buf_dispose(&b);
}

/* --- the shared conformance vectors ---------------------------------------------------------- */

enum { RAW, PUSH };

/*
 * What each file under vectors/mms holds, written from OMA-MMS-ENC and by
 * reading the files. ok = false: must be rejected with PB_EMALFORMED and an
 * offset. For pushes that are not MMS, type is 0 and kind says what they are.
 */
static const struct vector {
	const char *path;
	int mode;
	bool ok;
	int type;
	const char *tid;
	const char *from;
	const char *subject;
	const char *location;
	long size;      /* X-Mms-Message-Size, -1 not checked */
	int n_parts;    /* -1 not checked */
	const char *part_type; /* content type of a media part it must hold, or NULL */
	pb_wsp_push_kind kind;
} vectors[] = {
	{ "android-sms-gateway/inline-from-MMSParserTest/notification_ind_1.bin", RAW, true, 130, "t1-PZJKnDo7r", "19162255887", NULL, "http://xxx.xxxxxxxx.xxx/mmsc?xx-xxxxxxxxx", 1337, 0, NULL, 0 },
	{ "android-sms-gateway/inline-from-MMSParserTest/notification_ind_2.bin", RAW, true, 130, "m-7-112-3-cef7ef-b9-51-2", "19162255887", NULL, "http://xx.x-xxxxxx.xxx/mm?T=m-x-xx-x-xxxxxx-xx", 643, 0, NULL, 0 },
	{ "android-sms-gateway/inline-from-MMSParserTest/notification_ind_3.bin", RAW, true, 130, "m-6-4c-6-ae44fa-9f-73-1", "19162255887", NULL, "http://xx.x-xxxxxx.xxx/mm?T=x-x-xx-x-xxxxxx-xx", 643, 0, NULL, 0 },
	{ "android-sms-gateway/inline-from-MMSParserTest/notification_ind_4.bin", RAW, true, 130, "m-7-4f-7-8ddf15-7d-11-3", "19162255887", NULL, NULL, 658, 0, NULL, 0 },
	{ "android-sms-gateway/inline-from-MMSParserTest/notification_ind_5.bin", RAW, true, 130, "m-1-44-8-d0e2d8-bb-6-5", "19162255887", NULL, NULL, 670, 0, NULL, 0 },
	/* Content-Location without its NUL at the end: it may have been cut
	 * anywhere, so refused (PB_MMS_DECODE_SALVAGE reads it, marked incomplete) */
	{ "android-sms-gateway/inline-from-MMSParserTest/notification_ind_simpleTest_unterminated_location.bin", RAW, false, 130, "id1_1563948840", "+19162255887", NULL, "http://10.47.133.35/?message-id=1563948840&id=1", 101336, 0, NULL, 0 },
	{ "aosp-telephony/inline-from-WapPushOverSmsTest/blocked_number_push_malformed.wsp-push.bin", PUSH, false, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, 0 },
	{ "muditaos/inline-from-pdu-test/bad_appid_not_mms_ua.wsp-push.bin", PUSH, false, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, 0 },
	{ "muditaos/inline-from-pdu-test/bad_header_length.wsp-push.bin", PUSH, false, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, 0 },
	{ "muditaos/inline-from-pdu-test/bad_missing_appid.wsp-push.bin", PUSH, false, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, 0 },
	{ "muditaos/inline-from-pdu-test/bad_missing_body.wsp-push.bin", PUSH, false, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, 0 },
	{ "muditaos/inline-from-pdu-test/bad_msgtype_not_notification.wsp-push.bin", PUSH, false, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, 0 },
	{ "muditaos/inline-from-pdu-test/bad_pdutype_not_push.wsp-push.bin", PUSH, false, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, 0 },
	{ "muditaos/inline-from-pdu-test/orange_pl_notification.wsp-push.bin", PUSH, true, 130, "Abcdefghi", "+48123456789", NULL, "http://geom2:8002/mmsc/c?Abcdefghi", 34222, 0, NULL, 0 },
	{ "muditaos/inline-from-pdu-test/orange_pl_notification_no_from.wsp-push.bin", PUSH, true, 130, "Abcdefghi", NULL, NULL, "http://geom2:8002/mmsc/c?Abcdefghi", 34222, 0, NULL, 0 },
	{ "muditaos/inline-from-pdu-test/play_pl_notification.wsp-push.bin", PUSH, true, 130, "12345678", "+48987654321", NULL, "http://mmsc.play.pl/mms/wapenc/12345678", 180063, 0, NULL, 0 },
	{ "muditaos/inline-from-pdu-test/plus_pl_notification.wsp-push.bin", PUSH, true, 130, "0102-gak24n2nd6y920", "+48782782782", NULL, "http://mms3rx:8002/0102-gak24n2nd6y920", 139548, 0, NULL, 0 },
	{ "muditaos/inline-from-pdu-test/tmobile_pl_notification.wsp-push.bin", PUSH, true, 130, "182a1b7291d85f20d@p2.mmsc.t-mobile.pl", "+48505050505", "", "http://10.242.243.40:9800/mm1?id=220815182a1b7281926f05bb", 34242, 0, NULL, 0 },
	{ "muditaos/inline-from-pdu-test/tmobile_pl_notification_2.wsp-push.bin", PUSH, true, 130, "182a571c7d252e803d@p1.mmsc.t-mobile.pl", "+48287287287", "", "http://10.205.43.40:9800/mm1?id=220816182a571c5462d688bf", 139548, 0, NULL, 0 },
	/* From's value-length runs 24 bytes past the end */
	{ "muditaos/inline-from-pdu-test/tmobile_pl_notification_truncated_from.wsp-push.bin", PUSH, false, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, 0 },
	{ "nuntium/inline-from-push_decode_test/TestDecodeATTUSA.bin", PUSH, true, 130, "D20407165624600004000000000", "+17742700659", "", "http://166.216.166.67:8004/0407165624600004000000000", 32768, 0, NULL, 0 },
	/* PDU type 0x07 (ConfirmedPush), truncated */
	{ "nuntium/inline-from-push_decode_test/TestDecodeNonPushPDU.bin", PUSH, false, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, 0 },
	{ "nuntium/inline-from-push_decode_test/TestDecodePlayPoland.bin", PUSH, true, 130, "1442401318@mms2", "+48882040225", NULL, "http://mmsc.play.pl/?id=1442401318B", 240929, 0, NULL, 0 },
	{ "nuntium/inline-from-push_decode_test/TestDecodeSoneraFinland.bin", PUSH, true, 130, "ABsTLNALAmmN3wr82", "+358407694484", NULL, "http://mmsc61:10021/mmsc/6_1?ABsTLNALAmmN3wr82", 202117, 0, NULL, 0 },
	{ "nuntium/inline-from-push_decode_test/TestDecodeTMobileUSA.bin", PUSH, true, 130, "mavodi-7-89-1c0-7-ca-50f93843-7-13b-2eb-1-ca-361e315", "+19199033488", NULL, "http://atl2mosget.msg.eng.t-mobile.com/mms/wapenc?T=mavodi-7-13b-2eb-1-ca-361e315", 991647, 0, NULL, 0 },
	{ "nuntium/inline-from-push_decode_test/TestDecodeTelecomPersonal.bin", PUSH, true, 130, "m04BKksim05@mms.personal.com.ar", "+543515924906", NULL, "http://172.25.7.131/?message-id=m04BKh43e03", 29696, 0, NULL, 0 },
	{ "nuntium/inline-from-push_decode_test/TestDecodeVodaphoneSpain.bin", PUSH, true, 130, "NOK5Cdz08BAswabwUH", "+34600944463", NULL, "http://mm1fe1/servlets/NOK5Cdz08BAswabwUH", 29696, 0, NULL, 0 },
	{ "nuntium/inline-from-push_decode_test/TestOperatorWithContentLength.bin", PUSH, true, 130, "AxgAjEsIGFWETESvA", "+31655584425", NULL, "http://mp.mobiel.kpn/mmsc/01?AxgAjEsIGFWETESvA", 115981, 0, NULL, 0 },
	{ "nuntium/test_payloads/m-notification.ind_success", PUSH, true, 130, "m04BKksim05@mms.personal.com.ar", "+543515924906", NULL, "http://localhost:9191/mms", 29696, 0, NULL, 0 },
	/* an M-Retrieve.conf cut just before its Content-Type (nuntium's test
	 * keeps the headers only): a PDU without its mandatory body, refused */
	{ "nuntium/test_payloads/m-retrieve.conf_success", RAW, false, 132, NULL, "11111111111", "NoSubject", NULL, -1, 0, NULL, 0 },
	{ "nuntium/test_payloads/m-send.conf_success", RAW, true, 129, "ad6babe2628710c443cdeb3ff39679ac", NULL, NULL, NULL, -1, 0, NULL, 0 },
	{ "ofono-mmsd/inline-from-test-mmsutil/mms_m_notify_ind_1.bin", RAW, true, 130, "OgQKKB", "Erotik", "Pin-Ups", "http://eps3.de/O/Z9IZO", 16384, 0, NULL, 0 },
	{ "ofono-mmsd/inline-from-test-mmsutil/mms_m_notify_ind_2.bin", RAW, true, 130, "wLJeT7THu", "15551230000", NULL, "http://mmsc11:10021/mmsc/1_1?wLJeT7THu", 23069, 0, NULL, 0 },
	{ "ofono-mmsd/inline-from-test-mmsutil/mms_m_retrieve_conf_1.bin", RAW, true, 132, "1201657238", "+49891000", "MMS-1.3-con-212", NULL, -1, 1, NULL, 0 },
	{ "ofono-mmsd/inline-from-test-mmsutil/mms_m_retrieve_conf_2.bin", RAW, true, 132, "1201657238", "+1234567890", "multito", NULL, -1, 1, NULL, 0 },
	{ "ofono-mmsd/inline-from-test-mmsutil/mms_m_retrieve_conf_3.bin", RAW, true, 132, NULL, "+1234567890", "test without transaction ID", NULL, -1, 1, NULL, 0 },
	{ "ofono-mmsd/inline-from-test-mmsutil/mms_m_send_conf_1.bin", RAW, true, 129, "31887", NULL, NULL, NULL, -1, 0, NULL, 0 },
	{ "ofono-mmsd/inline-from-test-mmsutil/mms_m_send_conf_2.bin", RAW, true, 129, "31888", NULL, NULL, NULL, -1, 0, NULL, 0 },
	{ "ofono-mmsd/inline-from-test-wsputil/push1.bin", PUSH, true, 130, "OgQKKB", "Erotik", "Pin-Ups", "http://eps3.de/O/Z9IZO", 16384, 0, NULL, 0 },
	{ "ofono-mmsd/inline-from-test-wsputil/push2.bin", PUSH, true, 130, "wLJeT7THu", "15551230000", NULL, NULL, 23069, 0, NULL, 0 },
	{ "ofono-mmsd/inline-from-test-wsputil/push3.bin", PUSH, true, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, PB_WSP_PUSH_DRM },
	{ "ofono-mmsd/inline-from-test-wsputil/push4.bin", PUSH, true, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, PB_WSP_PUSH_SYNCML },
	{ "ofono-mmsd/inline-from-test-wsputil/push5.bin", PUSH, true, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, PB_WSP_PUSH_PROVISIONING },
	{ "ofono-mmsd/ni-mms-1-3-con-271.mms", RAW, true, 130, "OgQKKB", "+44123989100", "abcdefghijklmnopqrstuvwxyz0123456789/-+@", "http://eps3.de/O/Z9IZO", 23069, 0, NULL, 0 },
	{ "ofono-mmsd/ni-mms-1-3-con-272.mms", RAW, true, 130, "OgQKKB", "+44123989100", "MMS-1.3-con-272", "http://abcdefghi/abcdefghi/abcdefghi/abcdefghi/abcdefghi/abcdefghi/abcdefghi/abcdefghi/abcdefghi.mms", 23069, 0, NULL, 0 },
	{ "ofono-mmsd/rc-mms-1-3-con-210.mms", RAW, true, 132, "00000000210", "+33611111111", "MMS-1.3-con-210", NULL, -1, 2, "image/gif", 0 },
	{ "ofono-mmsd/rc-mms-1-3-con-211.mms", RAW, true, 132, "00000000211", "+33622222222", "Sh\xc3\xb5rt T\xc3\xa9xt - \xc2\xa5\xc3\xbc\xc3\xab\xc3\xa4\xc3\xbf", NULL, -1, 2, NULL, 0 },
	{ "ofono-mmsd/rc-mms-1-3-con-212.mms", RAW, true, 132, "00000000212", "+33622222222", "MMS-1.3-con-212", NULL, -1, 1, NULL, 0 },
	{ "ofono-mmsd/rc-mms-1-3-con-213.mms", RAW, true, 132, "00000000213", "+33622222222", "MMS-1.3-con-213", NULL, -1, 1, NULL, 0 },
	{ "ofono-mmsd/rc-mms-1-3-con-214.mms", RAW, true, 132, "00000000214", "+33622222222", "MMS-1.3-con-214", NULL, -1, 1, NULL, 0 },
	{ "ofono-mmsd/rc-mms-1-3-con-216.mms", RAW, true, 132, "00000000216", "+33622222222", "MMS-1.3-con-216", NULL, -1, 2, "image/jpeg", 0 },
	{ "ofono-mmsd/rc-mms-1-3-con-220.mms", RAW, true, 132, "00000000220", "+33622222222", "MMS-1.3-con-220", NULL, -1, 2, "image/gif", 0 },
	{ "ofono-mmsd/rc-mms-1-3-con-224.mms", RAW, true, 132, "00000000224", "+33622222222", "MMS-1.3-con-224", NULL, -1, 2, "image/gif", 0 },
	{ "ofono-mmsd/rc-mms-1-3-con-228.mms", RAW, true, 132, "00000000228", "+33622222222", "MMS-1.3-con-228", NULL, -1, 2, "image/vnd.wap.wbmp", 0 },
	{ "ofono-mmsd/rc-mms-1-3-con-271.mms", RAW, true, 132, "00000000271", "+33622222222", "abcdefghijklmnopqrstuvwxyz0123456789/-+@", NULL, -1, 2, NULL, 0 },
	{ "ofono-mmsd/rc-mms-1-3-con-281.mms", RAW, true, 132, "00000000281", "+33622222222", "MMS-1.3-con-281", NULL, -1, 2, "image/jpeg", 0 },
	{ "ofono-mmsd/rc-mms-1-3-con-282.mms", RAW, true, 132, "00000000282", "+33622222222", "MMS-1.3-con-282", NULL, -1, 2, "image/jpeg", 0 },
	{ "ofono-mmsd/sr-mms-mixed.mms", RAW, true, 128, "000000000001", NULL, NULL, NULL, -1, 1, NULL, 0 },
	{ "ofono-mmsd/sr-mms-related-multi-to.mms", RAW, true, 128, "000000000002", NULL, NULL, NULL, -1, 2, NULL, 0 },
	{ "python-messaging/27d0a048cd79555de05283a22372b0eb.mms", RAW, true, 128, "3-31cb", NULL, "Ang\xc3\xa5" "ende art-tillh\xc3\xb6righet", NULL, -1, 3, "image/vnd.wap.wbmp", 0 },
	{ "python-messaging/BTMMS.MMS", RAW, true, 132, NULL, NULL, "BT Ignite MMS", NULL, -1, 4, "audio/amr", 0 },
	{ "python-messaging/NOWMMS.MMS", RAW, true, 132, NULL, "NowMMS <nowsms@now.co.uk>", "NowMMS Test Message", NULL, -1, 5, "image/gif", 0 },
	{ "python-messaging/SEC-SGHS300M.mms", RAW, true, 128, "31887", NULL, "IL", NULL, -1, 1, NULL, 0 },
	{ "python-messaging/SIMPLE.MMS", RAW, true, 132, NULL, NULL, "Simple message", NULL, -1, 1, NULL, 0 },
	{ "python-messaging/SonyEricssonT310-R201.mms", RAW, true, 128, "1-8db", NULL, NULL, NULL, -1, 4, "audio/midi", 0 },
	{ "python-messaging/TOMSLOT.MMS", RAW, true, 132, NULL, "allan@tomslot.com", "Tom Slot Band", NULL, -1, 8, "image/jpeg", 0 },
	{ "python-messaging/gallery2test.mms", RAW, true, 128, "1118775337", "+16505550000", "Jgj", NULL, -1, 3, "image/jpeg", 0 },
	{ "python-messaging/iPhone.mms", RAW, true, 128, "1262957356-3", NULL, NULL, NULL, -1, 2, "image/jpeg", 0 },
	{ "python-messaging/images_are_cut_off_debug.mms", RAW, true, 128, "2112410527", NULL, "Picture3", NULL, -1, 2, "image/jpeg", 0 },
	{ "python-messaging/inline-from-test_wap/o2uk_notification_1.wsp-push.bin", PUSH, true, 130, "NOK5CiKcoTMYSG4MBSwAAsKv14FUHAAAAAAAA", "+447785342749", NULL, "http://promms/servlets/NOK5CiKcoTMYSG4MBSwAAsKv14FUHAAAAAAAA", 29696, 0, NULL, 0 },
	{ "python-messaging/inline-from-test_wap/o2uk_notification_2.wsp-push.bin", PUSH, true, 130, "NOK5A1ZdFTMYSG4O3VQAAsJv94GoNAAAAAAAA", "+447717275049", NULL, "http://promms/servlets/NOK5A1ZdFTMYSG4O3VQAAsJv94GoNAAAAAAAA", 29696, 0, NULL, 0 },
	{ "python-messaging/inline-from-test_wap/vodafone_de_si_push.wsp-push.bin", PUSH, true, 0, NULL, NULL, NULL, NULL, -1, -1, NULL, PB_WSP_PUSH_SI },
	{ "python-messaging/m.mms", RAW, true, 132, "0000000001", "goldpost@hotmail.com", "GOLD", NULL, -1, -1, "audio/amr", 0 },
	{ "python-messaging/openwave.mms", RAW, true, 128, "1067263672", "+16505550000", "rubrik", NULL, -1, 2, NULL, 0 },
	{ "python-messaging/projekt_exempel.mms", RAW, true, 128, "4-fc60", NULL, "Hej", NULL, -1, 3, "image/gif", 0 },
};

static const struct vector *find_vector(const char *rel)
{
	for (size_t i = 0; i < PB_ARRAY_SIZE(vectors); i++)
		if (!strcmp(vectors[i].path, rel))
			return &vectors[i];
	return NULL;
}

static void check_fields(const struct vector *v, const pb_mms_message *m)
{
#define STR(field, want)                                                                        \
	do {                                                                                    \
		if ((want) && (!(field) || strcmp((field), (want))))                            \
			fail_msg("%s: " #field " \"%s\", expected \"%s\"", v->path,             \
				 (field) ? (field) : "(null)", (want));                         \
	} while (0)
	if ((int)m->message_type != v->type)
		fail_msg("%s: type %d, expected %d", v->path, m->message_type, v->type);
	STR(m->transaction_id, v->tid);
	STR(m->from, v->from);
	STR(m->subject, v->subject);
	STR(m->content_location, v->location);
	if (v->size >= 0 && (!m->has_message_size || (long)m->message_size != v->size))
		fail_msg("%s: size %llu, expected %ld", v->path, (unsigned long long)m->message_size, v->size);
	if (v->n_parts >= 0 && (int)m->n_parts != v->n_parts)
		fail_msg("%s: %zu parts, expected %d", v->path, m->n_parts, v->n_parts);
	bool found = v->part_type == NULL;
	for (size_t i = 0; i < m->n_parts; i++) {
		const pb_mms_part *p = &m->parts[i];
		if (v->part_type && !strcmp(p->content_type.media_type, v->part_type) && pb_mms_part_is_media(p))
			found = true;
		/* part bodies point into the input; names are safe */
		assert_non_null(p->filename);
		assert_null(strchr(p->filename, '/'));
		assert_null(strstr(p->filename, ".."));
	}
	if (!found)
		fail_msg("%s: no %s part", v->path, v->part_type);
	if (m->message_type == PB_MMS_RETRIEVE_CONF)
		assert_true(pb_mms_retrieve_ok(m));
#undef STR
}

static struct {
	const char *root;
	int decoded, rejected, bad_rejected, sms_wrapped, unlisted;
} run;

/*
 * A WAP push carried in SMS-DELIVER segments (one hex PDU with its SMSC
 * field per line): the sms module joins the segments, whose 8-bit data on
 * port 2948 must be exactly the push of the .wsp-push.bin twin, and decode
 * as an MMS notification.
 */
static void check_sms_wrapped_push(const char *path)
{
	size_t flen;
	char *text = (char *)pb_test_read_file(NULL, path, &flen);
	text = realloc(text, flen + 1);
	assert_non_null(text);
	text[flen] = '\0';
	pb_sms_reassembler *r;
	assert_pb_ok(pb_sms_reassembler_new(&r, NULL));
	pb_sms_assembled *done = NULL;
	for (char *line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
		size_t len;
		uint8_t *pdu = pb_test_unhex(line, &len);
		pb_sms_assembled *a = NULL;
		pb_parse_error perr = PB_PARSE_ERROR_INIT;
		if (pb_sms_reassembler_add(r, pdu, len, PB_SMS_DECODE_SMSC, 0, &a, &perr) != 0)
			fail_msg("%s: %s", path, pb_error_last()->message);
		free(pdu);
		if (a) {
			assert_null(done);
			done = a;
		}
	}
	if (!done)
		fail_msg("%s: the segments did not make a whole message", path);
	assert_true(done->complete);
	assert_int_equal(done->key.dst_port, 2948);
	assert_true(done->total >= 2);

	char twin[4096];
	snprintf(twin, sizeof(twin), "%.*s.wsp-push.bin", (int)(strlen(path) - strlen(".sms-deliver.hex")), path);
	size_t tlen;
	uint8_t *want = pb_test_read_file(NULL, twin, &tlen);
	assert_int_equal(done->data_len, tlen);
	assert_memory_equal(done->data, want, tlen);

	pb_wsp_push *p = NULL;
	assert_pb_ok(pb_wsp_push_decode(&p, done->data, done->data_len, NULL));
	pb_wsp_push_free(p);
	free(want);
	pb_sms_assembled_free(done);
	pb_sms_reassembler_free(r);
	free(text);
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type != FTW_F)
		return 0;
	const char *rel = path + strlen(run.root) + 1;
	size_t rl = strlen(rel);
	if (rl > 16 && !strcmp(rel + rl - 16, ".sms-deliver.hex")) {
		check_sms_wrapped_push(path);
		run.sms_wrapped++;
		return 0;
	}
	const struct vector *v = find_vector(rel);
	if (!v) {
		print_message("# vector not in the table: %s\n", rel);
		run.unlisted++;
		return 0;
	}
	size_t len;
	uint8_t *buf = pb_test_read_file(NULL, path, &len);
	pb_mms_message *m = NULL;
	pb_wsp_push *p = NULL;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	int rc;
	if (v->mode == PUSH && v->ok && v->type == 0) {
		rc = pb_wsp_push_decode(&p, buf, len, &perr);
		if (rc == 0 && p->kind != v->kind)
			fail_msg("%s: push kind %s", rel, pb_wsp_push_kind_name(p->kind));
	} else if (v->mode == PUSH) {
		rc = pb_mms_decode_push(&m, &p, buf, len, &perr);
	} else {
		rc = pb_mms_decode(&m, buf, len, 0, &perr);
	}
	if (v->ok) {
		if (rc != 0)
			fail_msg("%s: %s", rel, pb_error_last()->message);
		if (m)
			check_fields(v, m);
		run.decoded++;
	} else {
		if (rc != PB_EMALFORMED || perr.offset > len || !perr.text[0])
			fail_msg("%s: rc %d, expected PB_EMALFORMED with an offset", rel, rc);
		run.rejected++;
		if (strstr(rel, "/bad_"))
			run.bad_rejected++;
	}
	pb_mms_message_free(m);
	pb_wsp_push_free(p);
	free(buf);
	return 0;
}

static void test_wap__shared_vectors(void **state)
{
	(void)state;
	const char *dir = pb_test_vectors_dir();
	if (!dir)
		pb_test_skip_no_vectors();
	static char root[4096];
	snprintf(root, sizeof(root), "%s/mms", dir);
	memset(&run, 0, sizeof(run));
	run.root = root;
	assert_int_equal(nftw(root, visit, 16, FTW_PHYS), 0);
	print_message("# vectors/mms: %d decoded, %d rejected (%d of them bad_*), %d SMS-wrapped pushes joined\n",
		      run.decoded, run.rejected, run.bad_rejected, run.sms_wrapped);
	assert_int_equal(run.sms_wrapped, 3);
	assert_int_equal(run.unlisted, 0);
	assert_int_equal(run.decoded + run.rejected, (int)PB_ARRAY_SIZE(vectors));
	assert_int_equal(run.bad_rejected, 6);
}

/*
 * Never silently partial: every prefix of every MMS PDU among the shared
 * vectors, the project's samples and its test data is refused with an
 * offset, or is itself a complete PDU (every_prefix_of()).
 */
static struct {
	const char *root;
	size_t files, prefixes, decoded;
} prefix_run;

static void prefixes_of_file(const char *path, const char *name, bool push)
{
	size_t len;
	uint8_t *buf = pb_test_read_file(NULL, path, &len);
	prefix_run.decoded += every_prefix_of(name, buf, len, push);
	prefix_run.prefixes += len;
	prefix_run.files++;
	free(buf);
}

static int visit_prefixes(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type != FTW_F)
		return 0;
	const struct vector *v = find_vector(path + strlen(prefix_run.root) + 1);
	if (v && v->ok && v->type != 0)
		prefixes_of_file(path, v->path, v->mode == PUSH);
	return 0;
}

static void test_wap__no_prefix_decodes_as_partial(void **state)
{
	(void)state;
	memset(&prefix_run, 0, sizeof(prefix_run));
	const char *src = getenv("PB_SOURCE_ROOT");
	if (src) {
		static const struct {
			const char *path;
			bool push;
		} own[] = { { "data/samples/mms-notification.push", true }, { "data/samples/picture-message.mms", false },
			    { "tests/data/mmsc/retrieve-conf-text.mms", false },
			    { "tests/data/mmsc/retrieve-conf-not-found.mms", false } };
		for (size_t i = 0; i < PB_ARRAY_SIZE(own); i++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", src, own[i].path);
			prefixes_of_file(path, own[i].path, own[i].push);
		}
	}
	const char *dir = pb_test_vectors_dir();
	if (dir) {
		static char root[4096];
		snprintf(root, sizeof(root), "%s/mms", dir);
		prefix_run.root = root;
		assert_int_equal(nftw(root, visit_prefixes, 16, FTW_PHYS), 0);
	}
	print_message("# %zu PDUs, %zu prefixes: %zu refused with an offset, %zu complete PDUs of their own\n",
		      prefix_run.files, prefix_run.prefixes, prefix_run.prefixes - prefix_run.decoded,
		      prefix_run.decoded);
	if (!src && !dir)
		skip();
}

/* The project's own samples (data/samples) and test data decode. */
static void test_wap__own_samples(void **state)
{
	(void)state;
	const char *root = getenv("PB_SOURCE_ROOT");
	if (!root)
		skip();
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/data/samples", root);
	static const char *const pushes[] = { "mms-notification.push" };
	static const char *const mms[] = { "picture-message.mms" };
	for (size_t i = 0; i < PB_ARRAY_SIZE(pushes); i++) {
		size_t len;
		uint8_t *buf = pb_test_read_file(dir, pushes[i], &len);
		pb_mms_message *m;
		assert_pb_ok(pb_mms_decode_push(&m, NULL, buf, len, NULL));
		assert_int_equal(m->message_type, PB_MMS_NOTIFICATION_IND);
		assert_non_null(m->content_location);
		pb_mms_message_free(m);
		free(buf);
	}
	for (size_t i = 0; i < PB_ARRAY_SIZE(mms); i++) {
		size_t len;
		uint8_t *buf = pb_test_read_file(dir, mms[i], &len);
		pb_mms_message *m = decode_ok(buf, len);
		assert_int_equal(m->message_type, PB_MMS_RETRIEVE_CONF);
		int media = 0, text = 0;
		for (size_t k = 0; k < m->n_parts; k++) {
			media += pb_mms_part_is_media(&m->parts[k]);
			text += pb_mms_part_is_text(&m->parts[k]);
		}
		assert_true(media >= 1 && text >= 1);
		pb_mms_message_free(m);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wap__uintvar_round_trip),
		cmocka_unit_test(test_wap__uintvar_rejects_bad),
		cmocka_unit_test(test_wap__content_type_old_and_new_tokens),
		cmocka_unit_test(test_wap__push_round_trip_and_kind),
		cmocka_unit_test(test_wap__push_other_kinds_reported),
		cmocka_unit_test(test_wap__push_malformed),
		cmocka_unit_test(test_wap__every_message_type),
		cmocka_unit_test(test_wap__headers_typed),
		cmocka_unit_test(test_wap__unknown_headers_listed_and_raw_values_kept),
		cmocka_unit_test(test_wap__insert_address_and_expiry_absolute),
		cmocka_unit_test(test_wap__encoded_strings_to_utf8),
		cmocka_unit_test(test_wap__malformed_headers_report_offsets),
		cmocka_unit_test(test_wap__multipart_transfer_encodings_root_nested),
		cmocka_unit_test(test_wap__headers_only_flag),
		cmocka_unit_test(test_wap__safe_filenames_hostile),
		cmocka_unit_test(test_wap__part_names_unique_within_message),
		cmocka_unit_test(test_wap__many_parts_same_name_and_the_cap),
		cmocka_unit_test(test_wap__encode_notifyresp_ack_read_rec),
		cmocka_unit_test(test_wap__send_req_round_trip),
		cmocka_unit_test(test_wap__send_req_duplicate_names_made_unique),
		cmocka_unit_test(test_wap__guess_content_type),
		cmocka_unit_test(test_wap__sha256_of_part),
		cmocka_unit_test(test_wap__truncations_fail_cleanly),
		cmocka_unit_test(test_wap__never_silently_partial),
		cmocka_unit_test(test_wap__salvage_is_explicit_and_marked),
		cmocka_unit_test(test_wap__notification_junk_after_last_header),
		cmocka_unit_test(test_wap__utf16_text_parts_by_their_mark),
		cmocka_unit_test(test_wap__base64_parts_like_mime_decoders),
		cmocka_unit_test(test_wap__allocation_failures),
		cmocka_unit_test(test_wap__two_allocations_per_decode),
		cmocka_unit_test(test_wap__shared_vectors),
		cmocka_unit_test(test_wap__own_samples),
		cmocka_unit_test(test_wap__no_prefix_decodes_as_partial),
	};
	return pb_test_run("wap", tests);
}
