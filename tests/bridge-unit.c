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
}

static const char *base_ini = "[modem]\nbackend = at\ndevice = d\n[matrix]\nhomeserver = h\ntoken_file = t\n"
			      "owners = @b:x\n[bridge]\nstore = s\nregion = DE\n";

/* [mmsc] headers: repeated, all kept in order; injection refused */
static void test_bridge__config_headers(void **state)
{
	(void)state;
	char ini[1024], err[256] = "";
	pbb_config c;
	snprintf(ini, sizeof(ini), "%s[mmsc]\nurl = http://m\nheaders = X-NAI: abc@example\n"
		 "headers = x-wap-profile: http://p.example/ua.xml\nheaders = X-Empty:\n", base_ini);
	assert_int_equal(pbb_config_parse(&c, ini, err, sizeof(err)), 0);
	assert_int_equal(c.n_mmsc_headers, 3);
	assert_string_equal(c.mmsc_headers[0], "X-NAI: abc@example");
	assert_string_equal(c.mmsc_headers[1], "x-wap-profile: http://p.example/ua.xml");
	assert_string_equal(c.mmsc_headers[2], "X-Empty:");
	assert_null(c.mmsc_headers[3]);
	assert_true(c.delivery_reports); /* the default */
	pbb_config_free(&c);
	assert_int_equal(pbb_config_parse(&c, base_ini, err, sizeof(err)), 0);
	assert_int_equal(c.n_mmsc_headers, 0);
	assert_null(c.mmsc_headers);
	pbb_config_free(&c);

	/* a CR in the middle of a value (inih keeps it) is header injection */
	snprintf(ini, sizeof(ini), "%s[mmsc]\nheaders = X-A: 1\rX-Evil: 2\n", base_ini);
	expect_bad(ini, "CR or LF");
	snprintf(ini, sizeof(ini), "%s[mmsc]\nheaders = no colon here\n", base_ini);
	expect_bad(ini, "Name: value");
	snprintf(ini, sizeof(ini), "%s[mmsc]\nheaders = Bad Name: 1\n", base_ini);
	expect_bad(ini, "token");
	snprintf(ini, sizeof(ini), "%s[mmsc]\nheaders = : 1\n", base_ini);
	expect_bad(ini, "Name: value");
	assert_null(pbb_header_check("X-Ok: a\tb"));
	assert_non_null(pbb_header_check("X-A: 1\nX-B: 2"));
	assert_non_null(pbb_header_check("X-A: \001"));

	snprintf(ini, sizeof(ini), "%s[bridge]\ndelivery_reports = no\n", base_ini);
	assert_int_equal(pbb_config_parse(&c, ini, err, sizeof(err)), 0);
	assert_false(c.delivery_reports);
	pbb_config_free(&c);
	snprintf(ini, sizeof(ini), "%s[bridge]\ndelivery_reports = perhaps\n", base_ini);
	expect_bad(ini, "delivery_reports");
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

static void test_bridge__inbound_journal(void **state)
{
	(void)state;
	char *dir = tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/b.db", dir);
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.synchronous = PB_STORE_SYNC_NORMAL;
	pb_store *st;
	assert_pb_ok(pb_store_open(&st, path, &o));

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

	pb_store_close(st);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge__config_good),
		cmocka_unit_test(test_bridge__config_bad),
		cmocka_unit_test(test_bridge__config_headers),
		cmocka_unit_test(test_bridge__txn_and_key),
		cmocka_unit_test(test_bridge__inbound_journal),
	};
	return pb_test_run("bridge", tests);
}
