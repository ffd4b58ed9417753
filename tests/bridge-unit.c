/*
 * libphonebridge tests — pb-bridged's stages without processes: the INI
 * configuration, transaction ids, the inbound journal key and the inbound
 * journal stage (dedup, raw bytes kept, reports not journaled).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"

static const char *good_ini = "[modem]\nbackend = at\ndevice = /dev/ttyUSB2\n"
			      "[matrix]\nhomeserver = https://m.example\ntoken_file = /etc/pb/token\n"
			      "owners = @a:example.org, @b:example.org\n"
			      "[mmsc]\nurl = http://mmsc.example/mms\nproxy = 10.0.0.1:8080\n"
			      "[bridge]\nstore = /var/lib/pb/bridge.db\nregion = de\n";

static void test_bridge__config_good(void **state)
{
	(void)state;
	pbb_config c;
	char err[256] = "";
	assert_int_equal(pbb_config_parse(&c, good_ini, err, sizeof(err)), 0);
	assert_string_equal(c.modem_backend, "at");
	assert_string_equal(c.modem_device, "/dev/ttyUSB2");
	assert_int_equal(c.n_owners, 2);
	assert_string_equal(c.owners[1], "@b:example.org");
	assert_string_equal(c.region, "DE");
	assert_string_equal(c.mmsc_proxy, "10.0.0.1:8080");
	assert_int_equal(c.sync_timeout_ms, 30000);
	assert_int_equal(c.retry_max_ms, 30000); /* the default back-off cap */
	assert_true(pbb_config_is_owner(&c, "@a:example.org"));
	assert_false(pbb_config_is_owner(&c, "@eve:example.org"));
	assert_false(pbb_config_is_owner(&c, NULL));
	pbb_config_free(&c);
}

static void expect_bad(const char *ini, const char *needle)
{
	pbb_config c;
	char err[256] = "";
	assert_int_equal(pbb_config_parse(&c, ini, err, sizeof(err)), -1);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
	pbb_config_free(&c);
}

static void test_bridge__config_bad(void **state)
{
	(void)state;
	expect_bad("[modem]\nbackend = at\n", "device");
	expect_bad("[modem]\nbackend = hilink\ndevice = x\n", "url");
	expect_bad("[modem]\nfrobnicate = 1\n", "line 2: unknown setting [modem] frobnicate");
	expect_bad("[modem]\npoll_interval_ms = soon\n", "poll_interval_ms");
	expect_bad("[modem]\nbackend = at\ndevice = d\n[matrix]\nhomeserver = h\ntoken_file = t\n"
		   "owners = bob\n[bridge]\nstore = s\nregion = DE\n",
		   "not a user id");
	expect_bad("[modem]\nbackend = at\ndevice = d\n[matrix]\nhomeserver = h\ntoken_file = t\n"
		   "owners = @b:x\n[bridge]\nstore = s\nregion = XX\n",
		   "region XX");
	expect_bad("[modem]\nbackend = at\ndevice = d\n[matrix]\nhomeserver = h\ntoken_file = t\n"
		   "[bridge]\nstore = s\nregion = DE\n",
		   "owners");
	expect_bad("this is not ini\n", "line 1");
	expect_bad("[matrix]\nretry_max_ms = 5\n", "retry_max_ms: a number of milliseconds");

	pbb_config c;
	char err[256] = "";
	char *ini = NULL;
	assert_true(asprintf(&ini, "%s[matrix]\nretry_max_ms = 2000\n", good_ini) > 0);
	assert_int_equal(pbb_config_parse(&c, ini, err, sizeof(err)), 0);
	assert_int_equal(c.retry_max_ms, 2000);
	pbb_config_free(&c);
	free(ini);
}

static void test_bridge__txn_and_key(void **state)
{
	(void)state;
	char a[64], b[64];
	pbb_txn_id(a, sizeof(a), "in", 42);
	assert_string_equal(a, "pbin42");
	pb_modem_msg m;
	memset(&m, 0, sizeof(m));
	m.id = (char *)"3";
	m.number = (char *)"+4930123";
	m.time = (char *)"2024-05-01 10:30:00";
	m.text = (char *)"hello";
	pbb_inbound_key(a, sizeof(a), "at", &m);
	pbb_inbound_key(b, sizeof(b), "at", &m);
	assert_string_equal(a, b); /* the same entry again: the same key */
	m.text = (char *)"hellp";
	pbb_inbound_key(b, sizeof(b), "at", &m);
	assert_string_not_equal(a, b); /* a reused index with other content: a new key */
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/pb-bridge-unit-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static pb_store *unit_store(char **dir)
{
	*dir = tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/b.db", *dir);
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.synchronous = PB_STORE_SYNC_NORMAL;
	pb_store *st;
	assert_pb_ok(pb_store_open(&st, path, &o));
	return st;
}

static void drop_store(pb_store *st, char *dir)
{
	pb_store_close(st);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

static void test_bridge__inbound_journal(void **state)
{
	(void)state;
	char *dir;
	pb_store *st = unit_store(&dir);

	pb_modem_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PB_MODEM_MSG_TEXT;
	m.id = (char *)"1,2,3";
	m.number = (char *)"0151 1234 5678";
	m.time = (char *)"2024-05-01 10:30:00";
	m.text = (char *)"three parts joined";
	int64_t id = 0, id2 = 0;
	assert_int_equal(pbb_inbound_journal(st, "at", "DE", &m, &id), 0);
	assert_int_equal(pbb_inbound_journal(st, "at", "DE", &m, &id2), PB_EEXISTS);
	assert_int_equal(id, id2);
	pb_store_msg *r;
	assert_pb_ok(pb_store_msg_get(st, id, &r));
	assert_int_equal(r->state, PB_STORE_STORED);
	assert_string_equal(r->peer, "+4915112345678");
	assert_string_equal(r->body, "three parts joined");
	assert_string_equal(r->backend, "at:text");
	pb_store_msg_free(r);

	/* an MMS notification: its raw bytes are kept before it leaves the box */
	static const uint8_t push[] = { 0x01, 0x06, 0x03, 0xbe, 0xaf, 0x84, 0x8c, 0x82 };
	m.type = PB_MODEM_MSG_MMS;
	m.id = (char *)"7";
	m.text = NULL;
	m.raw = (uint8_t *)push;
	m.raw_len = sizeof(push);
	assert_int_equal(pbb_inbound_journal(st, "at", "DE", &m, &id), 0);
	pb_store_attachment_list *al;
	assert_pb_ok(pb_store_attachment_list_get(st, id, &al));
	assert_int_equal(al->count, 1);
	assert_string_equal(al->items[0].content_type, "application/vnd.wap.mms-message");
	pb_buf bytes = PB_BUF_INIT;
	assert_pb_ok(pb_store_attachment_read(st, al->items[0].sha256, &bytes));
	assert_memory_equal(bytes.data, push, sizeof(push));
	pb_buf_dispose(&bytes);
	pb_store_attachment_list_free(al);

	/* a delivery report is not a message */
	m.type = PB_MODEM_MSG_REPORT;
	m.id = (char *)"8";
	assert_int_equal(pbb_inbound_journal(st, "at", "DE", &m, &id), 1);
	int64_t n;
	assert_pb_ok(pb_store_msg_count(st, PB_STORE_INBOUND, PB_STORE_STORED, &n));
	assert_int_equal(n, 2);
	drop_store(st, dir);
}

/* --- issue 11: outbound MMS, group rooms, room keys (bmms) ------------------- */

static void test_bridge__config_mms(void **state)
{
	(void)state;
	pbb_config c;
	char err[256] = "";
	assert_int_equal(pbb_config_parse(&c, good_ini, err, sizeof(err)), 0);
	assert_int_equal(c.mmsc_max_size, 300 * 1024); /* the default: a typical carrier's limit */
	assert_string_equal(c.own_number, "");
	pbb_config_free(&c);
	char ini[1024];
	snprintf(ini, sizeof(ini), "%s[mmsc]\nmax_size = 1M\n[modem]\nown_number = 0151 1111 2222\n", good_ini);
	assert_int_equal(pbb_config_parse(&c, ini, err, sizeof(err)), 0);
	assert_int_equal(c.mmsc_max_size, 1024 * 1024);
	assert_string_equal(c.own_number, "+4915111112222"); /* normalised with [bridge] region */
	pbb_config_free(&c);
	snprintf(ini, sizeof(ini), "%s[mmsc]\nmax_size = 600000\n", good_ini);
	assert_int_equal(pbb_config_parse(&c, ini, err, sizeof(err)), 0);
	assert_int_equal(c.mmsc_max_size, 600000);
	pbb_config_free(&c);
	snprintf(ini, sizeof(ini), "%s[mmsc]\nmax_size = big\n", good_ini);
	expect_bad(ini, "max_size");
	snprintf(ini, sizeof(ini), "%s[mmsc]\nmax_size = 10\n", good_ini);
	expect_bad(ini, "max_size");
	snprintf(ini, sizeof(ini), "%s[modem]\nown_number = Vodafone\n", good_ini);
	expect_bad(ini, "own_number");
}

static void test_bridge__room_keys(void **state)
{
	(void)state;
	pbb_numbers ns = { NULL, 0 };
	assert_pb_ok(pbb_numbers_add(&ns, "+4930222"));
	assert_pb_ok(pbb_numbers_add(&ns, "+4915111"));
	assert_pb_ok(pbb_numbers_add(&ns, "+4930222")); /* a set: once */
	assert_int_equal(ns.n, 2);
	pb_buf key = PB_BUF_INIT;
	assert_pb_ok(pbb_room_key(&ns, &key));
	assert_string_equal(pb_buf_cstr(&key), "+4915111,+4930222"); /* sorted */
	pbb_numbers back;
	assert_pb_ok(pbb_room_key_split(pb_buf_cstr(&key), &back));
	assert_int_equal(back.n, 2);
	assert_string_equal(back.v[0], "+4915111");
	assert_string_equal(back.v[1], "+4930222");
	pbb_numbers_free(&back);
	assert_int_equal(pbb_room_key_split("", &back), PB_EINVAL);
	assert_int_equal(pbb_room_key_split("+491,,+492", &back), PB_EINVAL);
	assert_int_equal(pbb_room_key_split("+491,", &back), PB_EINVAL);
	char *json = pbb_room_marker_json(&ns);
	assert_non_null(json);
	assert_string_equal(json, "{\"key\":\"+4915111,+4930222\",\"numbers\":[\"+4915111\",\"+4930222\"]}");
	pb_free(json);
	json = pbb_room_marker_json(NULL);
	assert_string_equal(json, "{\"control\":true}");
	pb_free(json);

	/* markers read back; anything else is not a marker */
	bool control = true;
	assert_pb_ok(pbb_room_marker_parse("{\"key\":\"x\",\"numbers\":[\"+4930222\",\"+4915111\"]}", &back,
					   &control));
	assert_false(control);
	assert_int_equal(back.n, 2);
	assert_string_equal(back.v[0], "+4915111"); /* the numbers count, not the key */
	pbb_numbers_free(&back);
	assert_pb_ok(pbb_room_marker_parse("{\"control\":true}", &back, &control));
	assert_true(control);
	assert_int_equal(back.n, 0);
	static const char *const bad[] = { "", "[]", "{}", "{\"numbers\":[]}", "{\"numbers\":[\"\"]}",
					   "{\"numbers\":[1]}", "{\"numbers\":\"+49\"}", "{\"control\":1}",
					   "{\"numbers\":[\"a\"],\"numbers\":[\"b\"]}", "{\"numbers\":[\"a\"" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pbb_room_marker_parse(bad[i], &back, &control), PB_EINVAL);
		assert_int_equal(back.n, 0);
	}
	pb_buf_dispose(&key);
	pbb_numbers_free(&ns);
}

/* An M-Retrieve.conf from @p from to @p to and @p cc, decoded into *msg. */
static void retrieve_conf(pb_buf *pdu, pb_mms_message **msg, const char *from, const char *const *to,
			  size_t n_to, const char *const *cc, size_t n_cc)
{
	pb_mms_send_req r = PB_MMS_SEND_REQ_INIT;
	r.transaction_id = "T1";
	r.from = from;
	r.to = to;
	r.n_to = n_to;
	r.cc = cc;
	r.n_cc = n_cc;
	r.text = "hi all";
	assert_pb_ok(pb_mms_encode_retrieve_conf(pdu, &r, "M1"));
	assert_pb_ok(pb_mms_decode(msg, pdu->data, pdu->len, 0, NULL));
}

typedef struct participants_ctx {
	const pb_mms_message *msg;
	const char *own;
} participants_ctx;

static int participants_once(void *ud)
{
	participants_ctx *p = ud;
	pbb_numbers ns;
	int rc = pbb_mms_participants(p->msg, "DE", p->own, &ns);
	pbb_numbers_free(&ns);
	return rc;
}

static void test_bridge__mms_participants(void **state)
{
	(void)state;
	static const char *const to[] = { "+4915111112222", "030 1234567" };
	static const char *const cc[] = { "+4917033334444", "friend@example.org", "a,b@example.org" };
	pb_buf pdu = PB_BUF_INIT;
	pb_mms_message *msg = NULL;
	retrieve_conf(&pdu, &msg, "0160 5555666", to, 2, cc, 3);
	pbb_numbers ns;
	/* the owner's own number left out, national numbers normalised, e-mail
	 * kept (not one that cannot be part of a room key) */
	assert_pb_ok(pbb_mms_participants(msg, "DE", "+4915111112222", &ns));
	assert_int_equal(ns.n, 4);
	assert_string_equal(ns.v[0], "+491605555666");
	assert_string_equal(ns.v[1], "+4917033334444");
	assert_string_equal(ns.v[2], "+49301234567");
	assert_string_equal(ns.v[3], "friend@example.org");
	pbb_numbers_free(&ns);
	/* without own_number nothing can be left out of a real group */
	assert_pb_ok(pbb_mms_participants(msg, "DE", "", &ns));
	assert_int_equal(ns.n, 5);
	pbb_numbers_free(&ns);
	participants_ctx pc = { msg, "+4915111112222" };
	assert_true(pb_test_alloc_fail_each(participants_once, &pc, NULL) > 0);
	pb_mms_message_free(msg);
	pb_buf_clear(&pdu);

	/* one-to-one: the sender alone, with or without own_number */
	retrieve_conf(&pdu, &msg, "+4916055556666", to, 1, NULL, 0);
	assert_pb_ok(pbb_mms_participants(msg, "DE", "", &ns));
	assert_int_equal(ns.n, 1);
	assert_string_equal(ns.v[0], "+4916055556666");
	pbb_numbers_free(&ns);
	assert_pb_ok(pbb_mms_participants(msg, "DE", "+4915111112222", &ns));
	assert_int_equal(ns.n, 1);
	pbb_numbers_free(&ns);
	pb_mms_message_free(msg);
	pb_buf_dispose(&pdu);
}

static void test_bridge__outbound_mms(void **state)
{
	(void)state;
	char *dir;
	pb_store *st = unit_store(&dir);
	static const uint8_t jpeg[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0 };
	pbb_outbound_mms m = { "+4915111,+4930222", "!g:x", "$ev1", "look", "look", jpeg, sizeof(jpeg),
			       "image/jpeg", "cat.jpg", 0 };
	int64_t id = 0, id2 = 0;
	assert_int_equal(pbb_outbound_mms_journal(st, &m, &id), 0);
	assert_int_equal(pbb_outbound_mms_journal(st, &m, &id2), PB_EEXISTS); /* the same event again */
	assert_int_equal(id, id2);
	pb_store_msg *r;
	assert_pb_ok(pb_store_msg_get(st, id, &r));
	assert_true(pbb_is_mms_row(r));
	assert_int_equal(r->state, PB_STORE_QUEUED);
	pb_store_attachment_list *al;
	assert_pb_ok(pb_store_attachment_list_get(st, id, &al));
	assert_int_equal(al->count, 2); /* the picture, then its caption */
	assert_string_equal(al->items[0].content_type, "image/jpeg");
	assert_string_equal(al->items[0].name, "cat.jpg");
	assert_int_equal(al->items[1].size, 4);
	pb_store_attachment_list_free(al);

	/* no MMSC: failed, with the reason for the notice, never "sending" */
	assert_int_equal(pbb_mms_send_row(st, NULL, r), 1);
	pb_store_msg_free(r);
	assert_pb_ok(pb_store_msg_get(st, id, &r));
	assert_int_equal(r->state, PB_STORE_FAILED);
	assert_non_null(strstr(r->last_error, "[mmsc] url"));
	assert_int_equal(r->attempts, 0);
	pb_store_msg_free(r);

	/* an MMSC that cannot be reached: one attempt, then failed (not retried) */
	m.event_id = "$ev2";
	m.caption = NULL;
	assert_int_equal(pbb_outbound_mms_journal(st, &m, &id), 0);
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.mmsc_url = "http://127.0.0.1:1/mms";
	o.connect_timeout_ms = 5000;
	o.retry.attempts = 3; /* M-Send.req is still sent once: retry_send is off */
	o.retry.initial_delay_ms = 10;
	pb_mmsc *mmsc;
	assert_pb_ok(pb_mmsc_new(&mmsc, &o));
	assert_pb_ok(pb_store_msg_get(st, id, &r));
	assert_int_equal(pbb_mms_send_row(st, mmsc, r), 1);
	pb_store_msg_free(r);
	assert_pb_ok(pb_store_msg_get(st, id, &r));
	assert_int_equal(r->state, PB_STORE_FAILED);
	assert_int_equal(r->attempts, 1);
	assert_non_null(strstr(r->last_error, "could not be reached"));
	pb_store_msg_free(r);
	pb_mmsc_free(mmsc);

	/* a text-only row (a group message) keeps no attachment */
	pbb_outbound_mms t = { "+4915111,+4930222", "!g:x", "$ev3", "hello group", NULL, NULL, 0,
			       NULL, NULL, 0 };
	assert_int_equal(pbb_outbound_mms_journal(st, &t, &id), 0);
	assert_pb_ok(pb_store_attachment_list_get(st, id, &al));
	assert_int_equal(al->count, 0);
	pb_store_attachment_list_free(al);
	drop_store(st, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge__config_good),
		cmocka_unit_test(test_bridge__config_bad),
		cmocka_unit_test(test_bridge__txn_and_key),
		cmocka_unit_test(test_bridge__inbound_journal),
		cmocka_unit_test(test_bridge__config_mms),
		cmocka_unit_test(test_bridge__room_keys),
		cmocka_unit_test(test_bridge__mms_participants),
		cmocka_unit_test(test_bridge__outbound_mms),
	};
	return pb_test_run("bridge", tests);
}
