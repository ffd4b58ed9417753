/*
 * libphonebridge tests — pb-bridged's stages without processes: the INI
 * configuration, transaction ids, the inbound journal key and the inbound
 * journal stage (dedup, raw bytes kept, reports not journaled).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <sqlite3.h>

#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bridge.h"
#include "bridge-unit.h"
#include "contacts.h"

#include <phonebridge/sys/modem-backend.h>

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

	/* [modem] tls_insecure, the one spelling; insecure_tls still read */
	expect_bad("[modem]\ntls_insecure = maybe\n", "tls_insecure: true or false");
	const char *const spellings[] = { "tls_insecure", "insecure_tls" };
	for (size_t i = 0; i < 2; i++) {
		assert_true(asprintf(&ini, "%s[modem]\n%s = yes\n", good_ini, spellings[i]) > 0);
		assert_int_equal(pbb_config_parse(&c, ini, err, sizeof(err)), 0);
		assert_true(c.modem_insecure_tls);
		pbb_config_free(&c);
		free(ini);
	}
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

/* [mmsc] rewrite: --check refuses what the start's pb_mmsc_new() would;
 * the example in pb-bridged(8) is accepted (read from the page itself) */
static void test_bridge__config_rewrite(void **state)
{
	(void)state;
	char ini[2048], err[256] = "";
	pbb_config c;
	snprintf(ini, sizeof(ini), "%s[mmsc]\nurl = http://m.example/mms\n"
		 "rewrite = http://10.0.0.1/ -> http://mms.example.net/\n", base_ini);
	expect_bad(ini, "[mmsc] rewrite");
	snprintf(ini, sizeof(ini), "%s[mmsc]\nurl = http://m.example/mms\nrewrite = keep=nothing\n", base_ini);
	expect_bad(ini, "[mmsc] rewrite");
	snprintf(ini, sizeof(ini), "%s[mmsc]\nurl = http://m.example/mms\n"
		 "rewrite = base=http://mms.carrier.example keep=path\n", base_ini);
	assert_int_equal(pbb_config_parse(&c, ini, err, sizeof(err)), 0);
	pbb_config_free(&c);
	const char *root = getenv("PB_SOURCE_ROOT");
	char path[1024], line[512], rule[512] = "";
	snprintf(path, sizeof(path), "%s/docs/man/pb-bridged.8", root ? root : ".");
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "rewrite = ", 10))
			snprintf(rule, sizeof(rule), "%s", line);
	fclose(f);
	assert_true(rule[0] != '\0');
	snprintf(ini, sizeof(ini), "%s[mmsc]\nurl = http://m.example/mms\n%s", base_ini, rule);
	if (pbb_config_parse(&c, ini, err, sizeof(err)) != 0)
		fail_msg("pb-bridged(8)'s \"%s\" is refused: %s", rule, err);
	pbb_config_free(&c);
}

static void test_bridge__txn_and_key(void **state)
{
	(void)state;
	char a[64], b[64];
	pbb_txn_id(a, sizeof(a), "0123456789abcdef", "in", 42);
	assert_string_equal(a, "pbin42.0123456789abcdef");
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

/* SMSC field "00" + SMS-STATUS-REPORT for +4915112345678, MR @mr, TP-ST @st */
static void status_report(uint8_t *pdu, size_t *len, uint8_t mr, uint8_t st)
{
	static const uint8_t head[] = { 0x00, 0x06 };
	static const uint8_t ra[] = { 0x0d, 0x91, 0x94, 0x51, 0x11, 0x32, 0x54, 0x76, 0xf8 };
	static const uint8_t ts[] = { 0x42, 0x50, 0x10, 0x01, 0x03, 0x00, 0x00 };
	size_t n = 0;
	memcpy(pdu + n, head, sizeof(head));
	n += sizeof(head);
	pdu[n++] = mr;
	memcpy(pdu + n, ra, sizeof(ra));
	n += sizeof(ra);
	memcpy(pdu + n, ts, sizeof(ts));
	n += sizeof(ts);
	memcpy(pdu + n, ts, sizeof(ts));
	n += sizeof(ts);
	pdu[n++] = st;
	*len = n;
}

static void test_bridge__report_read(void **state)
{
	(void)state;
	uint8_t pdu[64];
	size_t len;
	pb_modem_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PB_MODEM_MSG_REPORT;
	m.raw_format = PB_MODEM_RAW_PDU;
	m.raw = pdu;
	m.box_type = -1;
	pbb_report rep;
	static const struct {
		uint8_t st;
		int status;
	} cases[] = { { 0x00, PBB_DR_DELIVERED }, { 0x01, PBB_DR_DELIVERED }, { 0x30, PBB_DR_PENDING },
		      { 0x41, PBB_DR_FAILED }, { 0x46, PBB_DR_EXPIRED }, { 0x62, PBB_DR_FAILED } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		status_report(pdu, &len, 42, cases[i].st);
		m.raw_len = len;
		assert_int_equal(pbb_report_read(&m, &rep), 0);
		assert_int_equal(rep.ref, 42);
		assert_int_equal(rep.code, cases[i].st);
		assert_int_equal(rep.status, cases[i].status);
		/* the journal body reads back the same */
		char body[160];
		pbb_report body_rep;
		pbb_report_body(&rep, body, sizeof(body));
		assert_int_equal(pbb_report_parse(body, &body_rep), 0);
		assert_int_equal(body_rep.ref, 42);
		assert_int_equal(body_rep.code, cases[i].st);
		assert_int_equal(body_rep.status, cases[i].status);
		assert_string_equal(body_rep.text, rep.text);
	}
	/* a cut PDU is refused, not read past */
	m.raw_len = 5;
	assert_int_equal(pbb_report_read(&m, &rep), PB_EMALFORMED);
	/* HiLink: SmsType 7 / 8, no reference */
	m.raw = NULL;
	m.raw_len = 0;
	m.raw_format = PB_MODEM_RAW_NONE;
	m.box_type = 7;
	assert_int_equal(pbb_report_read(&m, &rep), 0);
	assert_int_equal(rep.ref, -1);
	assert_int_equal(rep.status, PBB_DR_DELIVERED);
	m.box_type = 8;
	assert_int_equal(pbb_report_read(&m, &rep), 0);
	assert_int_equal(rep.status, PBB_DR_FAILED);
	/* journal bodies that are not ours */
	assert_int_equal(pbb_report_parse("? unreadable", &rep), PB_EMALFORMED);
	assert_int_equal(pbb_report_parse("300 0 delivered x", &rep), PB_EMALFORMED);
	assert_int_equal(pbb_report_parse("1 0 lost x", &rep), PB_EMALFORMED);
	assert_int_equal(pbb_report_parse(NULL, &rep), PB_EMALFORMED);
}

static char *tmpdir(void);

/* A store in a new temporary directory (*dir: free with close_tmp_store()). */
static pb_store *open_tmp_store(char **dir)
{
	*dir = tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/b.db", *dir);
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.synchronous = PB_STORE_SYNC_NORMAL;
	pb_store *st;
	assert_pb_ok(pb_store_open(&st, path, &o));
	assert_pb_ok(pbb_tables_migrate(st));
	return st;
}

/* One integer from the bridge's tables (-1: no row). */
static int64_t db_int(pb_store *st, const char *sql, int64_t a, const char *b)
{
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_prepare_v2(pb_store_sqlite(st), sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_bind_parameter_count(s) >= 1)
		sqlite3_bind_int64(s, 1, a);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
	int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	sqlite3_finalize(s);
	return v;
}

/* The row ids queued to @peer, "id id" (NULL entries: "-"). */
static void queue_of(pb_store *st, const char *peer, char *out, size_t size)
{
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_prepare_v2(pb_store_sqlite(st),
					    "SELECT msg_id FROM bridge_dr_queue WHERE peer = ?1 ORDER BY seq", -1, &s,
					    NULL),
			 SQLITE_OK);
	sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
	size_t used = 0;
	out[0] = '\0';
	while (sqlite3_step(s) == SQLITE_ROW && used < size) {
		if (sqlite3_column_type(s, 0) == SQLITE_NULL)
			used += (size_t)snprintf(out + used, size - used, "%s-", used ? " " : "");
		else
			used += (size_t)snprintf(out + used, size - used, "%s%lld", used ? " " : "",
						 (long long)sqlite3_column_int64(s, 0));
	}
	sqlite3_finalize(s);
}

static void close_tmp_store(pb_store *st, char *dir)
{
	pb_store_close(st);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

/* Each journal has its own identity, kept across opens: a new journal's
 * "row 1" never repeats a transaction id of an old one (issue 16, bug 1). */
/* Run a control room command; the answer must contain @p needle. */
static void expect_cmd(pb_store *st, const char *text, const char *needle)
{
	pb_buf ans = PB_BUF_INIT;
	assert_int_equal(pbb_calls_command(st, "DE", text, &ans), 1);
	const char *got = ans.data ? (const char *)ans.data : "";
	if (!strstr(got, needle))
		fail_msg("%s: answer \"%s\" does not contain \"%s\"", text, got, needle);
	pb_buf_dispose(&ans);
}

static void test_bridge__calls_commands(void **state)
{
	(void)state;
	char *d;
	pb_store *st = open_tmp_store(&d);
	pb_buf ans = PB_BUF_INIT;
	assert_int_equal(pbb_calls_command(st, "DE", "!sms +4930 hi", &ans), 0); /* not ours */
	assert_int_equal(pbb_calls_command(st, "DE", "!allowance", &ans), 0);
	/* normalised with the region; a note kept; on one list only */
	expect_cmd(st, "!allow 030 123-4567 Grandma Erna", "+49301234567 is on the allow list (Grandma Erna)");
	assert_pb_ok(pb_store_list_lookup(st, PB_STORE_ALLOW, "+49301234567", 0, NULL));
	expect_cmd(st, "!deny +49 30 1234567 the ex", "Usage: !deny NUMBER");
	expect_cmd(st, "!deny +49 (30) 1234567", "+49301234567 is on the deny list: its calls are rejected");
	assert_pb_error(pb_store_list_lookup(st, PB_STORE_ALLOW, "+49301234567", 0, NULL), PB_ENOTFOUND);
	assert_pb_ok(pb_store_list_lookup(st, PB_STORE_DENY, "+49301234567", 0, NULL));
	/* refused with a reason */
	expect_cmd(st, "!deny Vodafone", "has letters");
	expect_cmd(st, "!deny 1-800-FLOWERS", "has letters");
	expect_cmd(st, "!deny 112", "short code");
	expect_cmd(st, "!deny", "Which number?");
	/* paged: 45 numbers, 20 a page */
	for (int i = 0; i < 45; i++) {
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "!allow +1555010%04d", i);
		expect_cmd(st, cmd, "allow list");
	}
	expect_cmd(st, "!list allow", "Allow list, page 1 of 3 (45 numbers):\n+15550100000 (manual)");
	expect_cmd(st, "!list allow", "More: !list allow 2");
	expect_cmd(st, "!list allow 3", "+15550100044");
	expect_cmd(st, "!list allow 4", "3 pages only");
	expect_cmd(st, "!list deny", "Deny list, page 1 of 1 (1 number):\n+49301234567 (manual)");
	expect_cmd(st, "!list", "Deny list");
	expect_cmd(st, "!list colours", "Usage: !list");
	expect_cmd(st, "!allow +15550100007 the plumber", "(the plumber)");
	expect_cmd(st, "!list allow", "+15550100007 (manual) the plumber");
	/* remove: off every list, its note gone */
	expect_cmd(st, "!remove +15550100007", "off the allow list");
	expect_cmd(st, "!remove +15550100007", "on no list");
	char *note = NULL;
	assert_pb_error(pb_store_kv_get(st, "bridge.note.+15550100007", &note), PB_ENOTFOUND);
	/* the call log */
	expect_cmd(st, "!calls", "No calls yet.");
	pb_store_call c = { .at = 1765000000000, .caller = "+18005550100", .verdict = "reject",
			    .rule = "deny-list", .sip_status = 603, .ended = "rejected" };
	for (int i = 0; i < 3; i++)
		assert_pb_ok(pb_store_call_log(st, &c, NULL));
	c.caller = "+49301234568";
	c.verdict = "accept";
	c.rule = "allow-list";
	c.duration_ms = 185000;
	c.ended = "forwarded";
	assert_pb_ok(pb_store_call_log(st, &c, NULL));
	expect_cmd(st, "!calls 2", "The last 2 calls, newest first:");
	expect_cmd(st, "!calls 2", "+49301234568: accept by allow-list, forwarded, talked 3:05");
	expect_cmd(st, "!calls", "+18005550100: reject by deny-list, rejected");
	expect_cmd(st, "!calls lots", "Usage: !calls");
	close_tmp_store(st, d);
}

static void test_bridge__call_kinds_and_notices(void **state)
{
	(void)state;
	char t[256];
	pb_store_call c = { .caller = "+4930123456", .verdict = "accept", .challenge = "none", .rule = "allow-list",
			    .duration_ms = 185000, .ended = "forwarded", .sip_status = 200 };
	assert_int_equal(pbb_call_kind(&c), PBB_CALL_ANSWERED);
	pbb_call_notice(&c, t, sizeof(t));
	assert_non_null(strstr(t, "Call, 3 min"));
	c.duration_ms = 44600;
	pbb_call_notice(&c, t, sizeof(t));
	assert_non_null(strstr(t, "Call, 45 s"));
	c.duration_ms = 0; /* 302: forwarded, answered or not is the target's */
	assert_int_equal(pbb_call_kind(&c), PBB_CALL_FORWARDED);
	c.ended = "forward failed (486)";
	assert_int_equal(pbb_call_kind(&c), PBB_CALL_MISSED);
	pbb_call_notice(&c, t, sizeof(t));
	assert_non_null(strstr(t, "Missed call from +4930123456 (forward failed (486))"));
	c.ended = "voicemail"; /* its m.audio says it: no notice of its own */
	c.duration_ms = 13000;  /* answered by the screener for the message */
	assert_int_equal(pbb_call_kind(&c), PBB_CALL_VOICEMAIL);
	pbb_call_notice(&c, t, sizeof(t));
	assert_non_null(strstr(t, "Missed call from +4930123456, voicemail left"));
	pbb_call_line(&c, t, sizeof(t));
	assert_non_null(strstr(t, ", voicemail"));
	assert_null(strstr(t, "talked")); /* nobody did */
	c.duration_ms = 0;
	c.ended = "voicemail: nothing said";
	assert_int_equal(pbb_call_kind(&c), PBB_CALL_MISSED);
	c.verdict = "challenge"; /* passed a challenge, then the caller gave up: missed */
	c.challenge = "press-digit:passed";
	c.ended = "caller gave up";
	assert_int_equal(pbb_call_kind(&c), PBB_CALL_MISSED);
	c.challenge = "press-digit:failed"; /* robocallers */
	assert_int_equal(pbb_call_kind(&c), PBB_CALL_SCREENED);
	c.challenge = "ring-delay:hung-up";
	assert_int_equal(pbb_call_kind(&c), PBB_CALL_SCREENED);
	c.verdict = "reject";
	c.challenge = "none";
	c.rule = "deny-list";
	assert_int_equal(pbb_call_kind(&c), PBB_CALL_SCREENED);
	pbb_call_notice(&c, t, sizeof(t));
	assert_string_equal(t, "Screened out: +4930123456, reject by deny-list");
	pb_store_call none = { 0 }; /* a row with nothing known */
	assert_int_equal(pbb_call_kind(&none), PBB_CALL_MISSED);
	pbb_call_notice(&none, t, sizeof(t));
	assert_non_null(strstr(t, "anonymous"));
	pbb_call_line(&none, t, sizeof(t));
	assert_non_null(strstr(t, "anonymous: ?"));
}

static void test_bridge__voicemail_text(void **state)
{
	(void)state;
	char *d, t[256];
	pb_store *st = open_tmp_store(&d);
	pbb_voicemail_text(st, "+4930123456", 5220, t, sizeof(t));
	assert_string_equal(t, "Voicemail from +49 30123456, 0:05"); /* pb_phone_format() */
	assert_pb_ok(pb_store_contact_set(st, "+4930123456", "Alice", NULL));
	pbb_voicemail_text(st, "+4930123456", 65600, t, sizeof(t));
	assert_string_equal(t, "Voicemail from Alice (+49 30123456), 1:06");
	pbb_voicemail_text(st, NULL, 0, t, sizeof(t));
	assert_string_equal(t, "Voicemail from an unknown caller, 0:00");
	close_tmp_store(st, d);
}

static void test_bridge__config_calls(void **state)
{
	(void)state;
	pbb_config c;
	char err[256] = "", ini[1024];
	assert_int_equal(pbb_config_parse(&c, good_ini, err, sizeof(err)), 0);
	assert_true(c.calls_follow && c.calls_answered && c.calls_missed);
	assert_int_equal(c.calls_screened, PBB_SCREENED_DIGEST);
	assert_int_equal(c.calls_digest_at, 20 * 3600);
	pbb_config_free(&c);
	snprintf(ini, sizeof(ini), "%s[calls]\nanswered = no\nscreened = live\ndigest_at = 07:30:15\n", good_ini);
	assert_int_equal(pbb_config_parse(&c, ini, err, sizeof(err)), 0);
	assert_false(c.calls_answered);
	assert_true(c.calls_missed);
	assert_int_equal(c.calls_screened, PBB_SCREENED_LIVE);
	assert_int_equal(c.calls_digest_at, 7 * 3600 + 30 * 60 + 15);
	pbb_config_free(&c);
	snprintf(ini, sizeof(ini), "%s[calls]\ndigest_at = 25:00\n", good_ini);
	expect_bad(ini, "[calls] digest_at: a local time HH:MM");
	snprintf(ini, sizeof(ini), "%s[calls]\ndigest_at = 7:30pm\n", good_ini);
	expect_bad(ini, "digest_at");
	snprintf(ini, sizeof(ini), "%s[calls]\nscreened = loud\n", good_ini);
	expect_bad(ini, "[calls] screened: digest, live or off");
}

static void test_bridge__store_identity(void **state)
{
	(void)state;
	char *d1, *d2, a[PBB_STORE_ID_SIZE], b[PBB_STORE_ID_SIZE], c[PBB_STORE_ID_SIZE];
	pb_store *s1 = open_tmp_store(&d1), *s2 = open_tmp_store(&d2);
	assert_pb_ok(pbb_store_id(s1, a));
	assert_int_equal(strlen(a), 16);
	assert_pb_ok(pbb_store_id(s1, c));
	assert_string_equal(a, c); /* kept */
	assert_pb_ok(pbb_store_id(s2, b));
	assert_string_not_equal(a, b); /* another journal, another identity */
	char ta[64], tb[64];
	pbb_txn_id(ta, sizeof(ta), a, "in", 1);
	pbb_txn_id(tb, sizeof(tb), b, "in", 1);
	assert_string_not_equal(ta, tb);
	assert_pb_ok(pb_store_kv_set(s2, "bridge.store_id", "not hex"));
	assert_pb_error(pbb_store_id(s2, b), PB_EMALFORMED);
	close_tmp_store(s1, d1);
	close_tmp_store(s2, d2);
}


static int64_t queue_out(pb_store *st, const char *event, const char *peer)
{
	pb_store_msg_in in = PB_STORE_MSG_IN_INIT;
	in.dir = PB_STORE_OUTBOUND;
	in.state = PB_STORE_QUEUED;
	in.backend = "matrix";
	in.peer = peer;
	in.room = "!r:x";
	in.event_id = event;
	in.body = "hi";
	int64_t id;
	assert_pb_ok(pb_store_msg_insert(st, &in, &id));
	assert_pb_ok(pb_store_msg_transition(st, id, PB_STORE_SENDING, NULL, NULL));
	return id;
}

static int64_t journal_report(pb_store *st, const char *backend, uint8_t mr, uint8_t code, const char *id)
{
	uint8_t pdu[64];
	size_t len;
	status_report(pdu, &len, mr, code);
	pb_modem_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PB_MODEM_MSG_REPORT;
	m.id = (char *)id;
	m.number = (char *)"+4915112345678";
	m.raw = pdu;
	m.raw_len = len;
	m.raw_format = PB_MODEM_RAW_PDU;
	m.box_type = -1;
	int64_t row;
	assert_int_equal(pbb_inbound_journal(st, backend, "DE", &m, &row), 0);
	return row;
}

/* Matching a report to its message; the paths that need no homeserver
 * (unknown reference, pending). Reactions and notices: bridge-ops-test.py. */
static void test_bridge__report_match(void **state)
{
	(void)state;
	char *dir;
	pb_store *st = open_tmp_store(&dir);
	const char *peer = "+4915112345678";
	int64_t out = queue_out(st, "$e1", peer);
	assert_pb_ok(pbb_outbound_sent(st, out, peer, "7,8,9", true));
	pb_store_msg *r;
	assert_pb_ok(pb_store_msg_get(st, out, &r));
	assert_int_equal(r->state, PB_STORE_SENT);
	assert_string_equal(r->ref, "7,8,9"); /* every part's reference */
	pb_store_msg_free(r);
	static const char by_ref[] = "SELECT msg_id FROM bridge_dr_ref WHERE ref = ?1 AND peer = ?2";
	assert_int_equal(db_int(st, by_ref, 8, peer), out);

	/* a report for a reference nobody waits for: logged and dropped */
	int64_t rep = journal_report(st, "at", 200, 0x00, "21");
	assert_pb_ok(pb_store_msg_get(st, rep, &r));
	assert_pb_ok(pbb_report_deliver(st, NULL, r));
	pb_store_msg_free(r);
	assert_pb_ok(pb_store_msg_get(st, rep, &r));
	assert_int_equal(r->state, PB_STORE_FAILED);
	assert_string_equal(r->last_error, "unknown reference");
	pb_store_msg_free(r);

	/* "still trying": no Matrix event, the message still waits */
	rep = journal_report(st, "at", 8, 0x30, "22");
	assert_pb_ok(pb_store_msg_get(st, rep, &r));
	assert_pb_ok(pbb_report_deliver(st, NULL, r));
	pb_store_msg_free(r);
	assert_pb_ok(pb_store_msg_get(st, rep, &r));
	assert_int_equal(r->state, PB_STORE_DELIVERED);
	assert_string_equal(r->ref, "pending");
	pb_store_msg_free(r);
	assert_int_equal(db_int(st, by_ref, 8, peer), out);
	/* what the report says is a row of its own; the body keeps the words */
	assert_int_equal(db_int(st, "SELECT code FROM bridge_report WHERE msg_id = ?1", rep, NULL), 0x30);
	assert_int_equal(db_int(st, "SELECT ref FROM bridge_report WHERE msg_id = ?1", rep, NULL), 8);

	/* a box without references: rows wait in order per number */
	int64_t h1 = queue_out(st, "$h1", peer), h2 = queue_out(st, "$h2", peer);
	assert_pb_ok(pbb_outbound_sent(st, h1, peer, "", true));
	assert_pb_ok(pbb_outbound_sent(st, h2, peer, "", true));
	char want[64], v[1200];
	queue_of(st, peer, v, sizeof(v));
	snprintf(want, sizeof(want), "%lld %lld", (long long)h1, (long long)h2);
	assert_string_equal(v, want);
	assert_pb_ok(pb_store_msg_get(st, h1, &r));
	assert_string_equal(r->ref, "-");
	pb_store_msg_free(r);
	/* a HiLink report whose row is gone (pruned): dropped, and the stale
	 * head leaves the queue so that it does not swallow later reports */
	assert_int_equal(sqlite3_exec(pb_store_sqlite(st), "DELETE FROM bridge_dr_queue", NULL, NULL, NULL), SQLITE_OK);
	int64_t gone = queue_out(st, "$gone", peer);
	assert_pb_ok(pbb_outbound_sent(st, gone, peer, "", true));
	assert_pb_ok(pbb_dr_queue_push(st, peer, h1));
	assert_pb_ok(pbb_dr_queue_push(st, peer, h2));
	assert_int_equal(sqlite3_exec(pb_store_sqlite(st), "DELETE FROM messages WHERE event_id = '$gone'", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	queue_of(st, peer, v, sizeof(v));
	char stale[80];
	snprintf(stale, sizeof(stale), "- %s", want);
	assert_string_equal(v, stale); /* the pruned row keeps its place */
	pb_modem_msg hm;
	memset(&hm, 0, sizeof(hm));
	hm.type = PB_MODEM_MSG_REPORT;
	hm.id = (char *)"40";
	hm.number = (char *)"+4915112345678";
	hm.box_type = 7;
	int64_t hrep;
	assert_int_equal(pbb_inbound_journal(st, "hilink", "DE", &hm, &hrep), 0);
	assert_pb_ok(pb_store_msg_get(st, hrep, &r));
	assert_pb_ok(pbb_report_deliver(st, NULL, r));
	pb_store_msg_free(r);
	assert_pb_ok(pb_store_msg_get(st, hrep, &r));
	assert_int_equal(r->state, PB_STORE_FAILED);
	pb_store_msg_free(r);
	queue_of(st, peer, v, sizeof(v));
	assert_string_equal(v, want);
	/* a box that never reports: the queue keeps the newest 64 rows only */
	int64_t last = 0;
	for (int i = 0; i < 70; i++) {
		char ev[32];
		snprintf(ev, sizeof(ev), "$f%d", i);
		last = queue_out(st, ev, "+4930222");
		assert_pb_ok(pbb_outbound_sent(st, last, "+4930222", "", true));
	}
	queue_of(st, "+4930222", v, sizeof(v));
	size_t words = 1;
	for (const char *q = v; *q; q++)
		words += *q == ' ';
	assert_int_equal(words, 64);
	assert_int_equal(strtoll(strrchr(v, ' ') + 1, NULL, 10), last);
	/* reports off: nothing to wait for */
	int64_t q = queue_out(st, "$q", "+4930111");
	assert_pb_ok(pbb_outbound_sent(st, q, "+4930111", "5", false));
	assert_int_equal(db_int(st, by_ref, 5, "+4930111"), -1);
	/* the constraints hold: a reference out of range, a row that is not there */
	assert_int_equal(pbb_dr_ref_set(st, peer, 256, q), PB_EIO);
	assert_int_equal(pbb_dr_ref_set(st, peer, 1, 999999), PB_EIO);
	close_tmp_store(st, dir);
}


/* --- a store made by the bridge before issue 18 --------------------------- */

/* tests/data/bridge/store-before-issue18.sql (how it was made: its header)
 * into a new database at @path, as that code left it. */
static void load_old_store(const char *path)
{
	size_t len;
	uint8_t *data = pb_test_read_file(pb_test_data_dir(), "bridge/store-before-issue18.sql", &len);
	char *sql = malloc(len + 1);
	memcpy(sql, data, len);
	sql[len] = '\0';
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	free(sql);
	free(data);
}

static int64_t kv_dr_entries(pb_store *st)
{
	return db_int(st, "SELECT count(*) FROM kv WHERE key LIKE 'bridge.dr.%' AND ?1 = ?1", 0, NULL);
}

/* Deliver every journaled report still waiting; how many there were. */
static int deliver_reports(pb_store *st)
{
	pb_store_msg_list *l;
	assert_pb_ok(pb_store_msg_list_state(st, PB_STORE_INBOUND, PB_STORE_STORED, 0, 0, &l));
	int n = 0;
	for (size_t i = 0; i < l->count; i++) {
		if (pbb_msg_is(st, l->items[i], "report") == 1) {
			assert_pb_ok(pbb_report_deliver(st, NULL, l->items[i]));
			n++;
		}
	}
	pb_store_msg_list_free(l);
	return n;
}

/* The kv entries and report bodies of before move into the tables in one
 * transaction; a SIGKILL in the middle leaves the store as it was and the
 * next start migrates; every waiting report is then delivered exactly once
 * (issue 18). */
static void test_bridge__migrates_a_store_of_before_issue18(void **state)
{
	(void)state;
	char *dir = tmpdir(), path[512];
	snprintf(path, sizeof(path), "%s/old.db", dir);
	load_old_store(path);
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	pb_store *st;

	/* killed during the migration: rolled back */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("PBB_TEST_KILL_IN_MIGRATION", "1", 1);
		if (pb_store_open(&st, path, &o) < 0)
			_exit(3);
		pbb_tables_migrate(st);
		_exit(4); /* not reached: the hook kills */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_pb_ok(pb_store_open(&st, path, &o));
	int v = -1;
	assert_pb_ok(pb_store_app_version(st, "bridge", &v));
	assert_int_equal(v, 0);
	assert_int_equal(kv_dr_entries(st), 5);
	assert_int_equal(db_int(st, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'bridge_%' AND ?1 = ?1", 0, NULL),
			 0);
	assert_int_equal(db_int(st, "SELECT count(*) FROM messages WHERE backend = 'at:report' AND ?1 = ?1", 0, NULL), 2);

	/* the next start migrates */
	assert_pb_ok(pbb_tables_migrate(st));
	assert_pb_ok(pb_store_app_version(st, "bridge", &v));
	assert_int_equal(v, 2);
	assert_int_equal(kv_dr_entries(st), 0);
	assert_int_equal(db_int(st, "SELECT count(*) FROM kv WHERE key = 'bridge.store_id' AND ?1 = ?1", 0, NULL), 1);
	const char *p1 = "+4915112345678", *p2 = "+4930222";
	static const char by_ref[] = "SELECT msg_id FROM bridge_dr_ref WHERE ref = ?1 AND peer = ?2";
	assert_int_equal(db_int(st, by_ref, 7, p1), 1);
	assert_int_equal(db_int(st, by_ref, 8, p1), 1);
	assert_int_equal(db_int(st, by_ref, 9, p1), 4);
	assert_int_equal(db_int(st, "SELECT count(*) FROM bridge_dr_delivered WHERE msg_id = ?1 AND ref = 7", 1, NULL),
			 1);
	char q[256];
	queue_of(st, p2, q, sizeof(q));
	assert_string_equal(q, "5 6");
	assert_int_equal(db_int(st, "SELECT count(*) FROM bridge_report WHERE ?1 = ?1", 0, NULL), 3);
	assert_int_equal(db_int(st, "SELECT ref FROM bridge_report WHERE msg_id = ?1", 7, NULL), -1);
	pb_store_msg *r;
	assert_pb_ok(pb_store_msg_get(st, 3, &r));
	assert_string_equal(r->body, "delivered");
	assert_int_equal(pbb_msg_is(st, r, "report"), 1);
	assert_string_equal(r->backend, "at"); /* the kind is no longer in the backend */
	pb_store_msg_free(r);
	assert_pb_ok(pb_store_msg_get(st, 8, &r)); /* a text: its body untouched */
	assert_string_equal(r->body, "hello from before");
	assert_string_equal(r->backend, "hilink");
	assert_int_equal(pbb_msg_is(st, r, "text"), 1);
	assert_int_equal(r->state, PB_STORE_STORED);
	pb_store_msg_free(r);
	assert_pb_ok(pb_store_msg_get(st, 1, &r)); /* an outbound text */
	assert_string_equal(r->backend, "matrix");
	assert_int_equal(pbb_msg_is(st, r, "text"), 1);
	pb_store_msg_free(r);
	assert_int_equal(db_int(st, "SELECT count(*) FROM bridge_msg_kind WHERE ?1 = ?1", 0, NULL), 8);
	assert_int_equal(db_int(st, "SELECT count(*) FROM messages WHERE instr(backend, ':') > ?1", 0, NULL), 0);

	/* the two reports that waited are delivered, once */
	assert_int_equal(deliver_reports(st), 2);
	assert_int_equal(deliver_reports(st), 0);
	for (int64_t id = 2; id <= 7; id += 5) {
		assert_pb_ok(pb_store_msg_get(st, id == 2 ? 3 : 7, &r));
		assert_int_equal(r->state, PB_STORE_DELIVERED);
		pb_store_msg_free(r);
	}
	/* out #1 had both parts reported: its bookkeeping is gone; #4 waits for
	 * its report; #5 left the queue with its report, #6 waits */
	assert_int_equal(db_int(st, "SELECT count(*) FROM bridge_dr_ref WHERE msg_id = ?1", 1, NULL), 0);
	assert_int_equal(db_int(st, "SELECT count(*) FROM bridge_dr_delivered WHERE msg_id = ?1", 1, NULL), 0);
	assert_int_equal(db_int(st, by_ref, 9, p1), 4);
	queue_of(st, p2, q, sizeof(q));
	assert_string_equal(q, "6");

	/* a row another program journals later (pb-screend's voicemail) is
	 * adopted when the bridge first reads it: its kind to the table */
	pb_store_msg_in vm = PB_STORE_MSG_IN_INIT;
	vm.dir = PB_STORE_INBOUND;
	vm.state = PB_STORE_STORED;
	vm.dedup_key = "voicemail:call-1";
	vm.backend = "screen:voicemail";
	vm.peer = p2;
	vm.body = "duration_ms=5000";
	int64_t vid, oid;
	assert_pb_ok(pb_store_msg_insert(st, &vm, &vid));
	vm.dedup_key = "odd:1";
	vm.backend = "someone:weird";
	assert_pb_ok(pb_store_msg_insert(st, &vm, &oid));
	const char *kind;
	assert_pb_ok(pb_store_msg_get(st, vid, &r));
	assert_pb_ok(pbb_msg_kind(st, r, &kind));
	assert_string_equal(kind, "voicemail");
	pb_store_msg_free(r);
	assert_pb_ok(pb_store_msg_get(st, vid, &r));
	assert_string_equal(r->backend, "screen");
	assert_pb_ok(pbb_msg_kind(st, r, &kind));
	assert_string_equal(kind, "voicemail");
	pb_store_msg_free(r);
	assert_pb_ok(pb_store_msg_get(st, oid, &r)); /* a kind the bridge does not know: left as it is */
	assert_pb_ok(pbb_msg_kind(st, r, &kind));
	assert_string_equal(kind, "other");
	pb_store_msg_free(r);
	assert_pb_ok(pb_store_msg_get(st, oid, &r));
	assert_string_equal(r->backend, "someone:weird");
	pb_store_msg_free(r);
	pb_store_close(st);

	/* a later start: nothing moves again */
	assert_pb_ok(pb_store_open(&st, path, &o));
	assert_pb_ok(pbb_tables_migrate(st));
	assert_int_equal(db_int(st, "SELECT count(*) FROM bridge_report WHERE ?1 = ?1", 0, NULL), 3);
	assert_int_equal(deliver_reports(st), 0);
	close_tmp_store(st, dir);
}

/* --- the contacts file parser --------------------------------------------- */

static pbb_contacts parse_file(const char *name, int want_rc)
{
	size_t len;
	uint8_t *data = pb_test_read_file(pb_test_data_dir(), name, &len);
	pbb_contacts c;
	pb_parse_error perr;
	int rc = pbb_contacts_parse(data, len, &c, &perr);
	if (rc != want_rc)
		fail_msg("%s: %d (%s), wanted %d", name, rc, perr.text, want_rc);
	free(data);
	return c;
}

static void expect_entry(const pbb_contacts *c, size_t i, int line, const char *name, const char *phone)
{
	assert_true(i < c->count);
	assert_int_equal(c->items[i].line, line);
	assert_string_equal(c->items[i].name, name);
	assert_string_equal(c->items[i].phone, phone);
}

static void test_bridge__contacts_vcard(void **state)
{
	(void)state;
	/* 2.1: QUOTED-PRINTABLE with a soft line break, CHARSET=ISO-8859-1 and
	 * UTF-8, N without FN, a card without TEL */
	pbb_contacts c = parse_file("bridge/contacts-21.vcf", 0);
	assert_int_equal(c.format, PBB_CONTACTS_VCARD);
	assert_int_equal(c.count, 3);
	expect_entry(&c, 0, 1, "J\xc3\xbcrgen M\xc3\xbcller vom Gro\xc3\x9fmarkt", "0151 2345 6789");
	expect_entry(&c, 1, 1, "J\xc3\xbcrgen M\xc3\xbcller vom Gro\xc3\x9fmarkt", "+49 30 1234567");
	expect_entry(&c, 2, 9, "Ann \xc5\x81ukasz", "+48 601 234 567");
	assert_int_equal(c.n_skipped, 1);
	assert_int_equal(c.skipped[0].line, 14);
	assert_string_equal(c.skipped[0].why, "No Nobody: no phone number (TEL)");
	pbb_contacts_free(&c);

	/* 3.0: escapes, groups, a folded TEL, no name, no END */
	c = parse_file("bridge/contacts-30.vcf", 0);
	assert_int_equal(c.count, 2);
	expect_entry(&c, 0, 1, "Smith, Jane", "+1 (202) 555-0143");
	expect_entry(&c, 1, 1, "Smith, Jane", "+1-202-555-0100");
	assert_int_equal(c.n_skipped, 2);
	assert_int_equal(c.skipped[0].line, 12);
	assert_non_null(strstr(c.skipped[0].why, "no name"));
	assert_int_equal(c.skipped[1].line, 16);
	assert_non_null(strstr(c.skipped[1].why, "END:VCARD"));
	pbb_contacts_free(&c);

	/* 4.0: tel: URIs with parameters; a base64 PHOTO that is no whole
	 * picture (a JPEG's first bytes) is left out with a reason */
	c = parse_file("bridge/contacts-40.vcf", 0);
	assert_int_equal(c.count, 2);
	expect_entry(&c, 0, 1, "Zo\xc3\xab Chen", "+44-20-7946-0958");
	expect_entry(&c, 1, 1, "Zo\xc3\xab Chen", "+33142685300");
	assert_int_equal(c.n_skipped, 1);
	assert_int_equal(c.skipped[0].line, 6);
	assert_non_null(strstr(c.skipped[0].why, "not a PNG, GIF or JPEG"));
	assert_int_equal(c.n_photos, 0);
	assert_int_equal(c.items[0].photo, -1);
	pbb_contacts_free(&c);
}

#define PNG_1X1 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

/* vCard pictures: inline base64 and data: URIs kept once per card; links,
 * non-pictures, bad base64 and oversized ones left out with a reason */
static void test_bridge__contacts_photo(void **state)
{
	(void)state;
	const char *vcf = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL:+4915111111111\r\nTEL:+4915111111112\r\n"
			  "PHOTO;ENCODING=b;TYPE=PNG:" PNG_1X1 "\r\nEND:VCARD\r\n"
			  "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ben\r\nTEL:+4915122222222\r\n"
			  "PHOTO:data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ\r\n"
			  " AAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\r\nEND:VCARD\r\n"
			  "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Cat\r\nTEL:+4915133333333\r\n"
			  "PHOTO:https://example.org/cat.jpg\r\nEND:VCARD\r\n"
			  "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Dan\r\nTEL:+4915144444444\r\n"
			  "PHOTO:data:image/png,notbase64\r\nEND:VCARD\r\n"
			  "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Eve\r\nTEL:+4915155555555\r\n"
			  "PHOTO;ENCODING=b:!!!!\r\nEND:VCARD\r\n"
			  "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Fay\r\nTEL:+4915166666666\r\n"
			  "PHOTO;ENCODING=b:SGVsbG8gd29ybGQ=\r\nEND:VCARD\r\n";
	pbb_contacts c;
	pb_parse_error perr;
	assert_int_equal(pbb_contacts_parse((const uint8_t *)vcf, strlen(vcf), &c, &perr), 0);
	assert_int_equal(c.count, 7);
	assert_int_equal(c.n_photos, 2);
	assert_int_equal(c.items[0].photo, 0);
	assert_int_equal(c.items[1].photo, 0); /* one picture for the card's numbers */
	assert_int_equal(c.items[2].photo, 1); /* folded data: URI */
	for (size_t i = 3; i < 7; i++)
		assert_int_equal(c.items[i].photo, -1);
	assert_string_equal(c.photos[0].mimetype, "image/png");
	assert_int_equal(c.photos[0].width, 1);
	assert_int_equal(c.photos[1].len, c.photos[0].len);
	assert_memory_equal(c.photos[0].data, c.photos[1].data, c.photos[0].len);
	assert_int_equal(c.n_skipped, 4);
	assert_non_null(strstr(c.skipped[0].why, "a link, which is never fetched"));
	assert_non_null(strstr(c.skipped[1].why, "without base64"));
	assert_non_null(strstr(c.skipped[2].why, "not base64"));
	assert_non_null(strstr(c.skipped[3].why, "not a PNG, GIF or JPEG"));
	pbb_contacts_free(&c);

	/* a picture over the cap: refused before it is decoded */
	pb_buf big = PB_BUF_INIT;
	assert_int_equal(pb_buf_puts(&big, "BEGIN:VCARD\r\nFN:Gus\r\nTEL:+4915177777777\r\nPHOTO;ENCODING=b:"), 0);
	for (size_t i = 0; i < 2 * PBB_CONTACTS_PHOTO_MAX_BYTES / 4 + 1; i++)
		assert_int_equal(pb_buf_puts(&big, "AAAA"), 0);
	assert_int_equal(pb_buf_puts(&big, "\r\nEND:VCARD\r\n"), 0);
	assert_int_equal(pbb_contacts_parse(big.data, big.len, &c, &perr), 0);
	assert_int_equal(c.count, 1);
	assert_int_equal(c.n_photos, 0);
	assert_int_equal(c.n_skipped, 1);
	assert_non_null(strstr(c.skipped[0].why, "larger than"));
	pbb_contacts_free(&c);
	pb_buf_dispose(&big);
}

static void test_bridge__contacts_csv(void **state)
{
	(void)state;
	/* Google: BOM, " ::: " lists, quoted fields with a comma and a line
	 * break, rows without number or name */
	pbb_contacts c = parse_file("bridge/google.csv", 0);
	assert_int_equal(c.format, PBB_CONTACTS_CSV);
	assert_int_equal(c.count, 4);
	expect_entry(&c, 0, 2, "Anna Schmidt", "0171 1234567");
	expect_entry(&c, 1, 2, "Anna Schmidt", "+49 30 555 666");
	expect_entry(&c, 2, 3, "Doe, John", "+1 202 555 0199");
	expect_entry(&c, 3, 4, "Multi Line Name", "+44 20 7946 0000");
	assert_int_equal(c.n_skipped, 2);
	assert_int_equal(c.skipped[0].line, 6); /* the quoted line break counts */
	assert_string_equal(c.skipped[0].why, "No Number: no phone number");
	assert_int_equal(c.skipped[1].line, 7);
	assert_non_null(strstr(c.skipped[1].why, "no name"));
	pbb_contacts_free(&c);

	/* Outlook: First/Middle/Last, several phone columns, fax left out, a
	 * quoted field never closed */
	c = parse_file("bridge/outlook.csv", 0);
	assert_int_equal(c.count, 3);
	expect_entry(&c, 0, 2, "Peter J. Kowalski", "+48 601 000 111");
	expect_entry(&c, 1, 2, "Peter J. Kowalski", "+48 22 123 4567");
	expect_entry(&c, 2, 3, "Marie Dupont", "06 12 34 56 78");
	assert_int_equal(c.n_skipped, 1);
	assert_int_equal(c.skipped[0].line, 4);
	assert_non_null(strstr(c.skipped[0].why, "not closed"));
	pbb_contacts_free(&c);

	/* neither a vCard nor a usable CSV header: a clear error */
	size_t len;
	uint8_t *data = pb_test_read_file(pb_test_data_dir(), "bridge/bad-header.csv", &len);
	pb_parse_error perr;
	assert_int_equal(pbb_contacts_parse(data, len, &c, &perr), PB_EMALFORMED);
	assert_non_null(strstr(perr.text, "line 1"));
	assert_non_null(strstr(perr.text, "no name column"));
	pbb_contacts_free(&c);
	free(data);

	static const char semi[] = "Name;Mobile\r\n\"Meier; Hans\";\"+49 171 \"\"1\"\"\"\r\n";
	assert_int_equal(pbb_contacts_parse((const uint8_t *)semi, strlen(semi), &c, &perr), 0);
	assert_int_equal(c.count, 1);
	expect_entry(&c, 0, 2, "Meier; Hans", "+49 171 \"1\"");
	pbb_contacts_free(&c);
	/* windows-1252, not UTF-8 */
	static const char latin[] = "name,phone\nJos\xe9,+34600000000\n";
	assert_int_equal(pbb_contacts_parse((const uint8_t *)latin, strlen(latin), &c, &perr), 0);
	expect_entry(&c, 0, 2, "Jos\xc3\xa9", "+34600000000");
	pbb_contacts_free(&c);
	assert_int_equal(pbb_contacts_parse((const uint8_t *)"", 0, &c, &perr), PB_EMALFORMED);
	pbb_contacts_free(&c);
}

static int contacts_alloc_run(void *ctx)
{
	const char *name = ctx;
	size_t len;
	uint8_t *data = pb_test_read_file(pb_test_data_dir(), name, &len);
	pbb_contacts c;
	int rc = pbb_contacts_parse(data, len, &c, NULL);
	pbb_contacts_free(&c);
	free(data);
	return rc;
}

static void test_bridge__contacts_alloc_fail(void **state)
{
	(void)state;
	static const char *const files[] = { "bridge/contacts-21.vcf", "bridge/contacts-30.vcf",
					     "bridge/google.csv", "bridge/outlook.csv" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		assert_true(pb_test_alloc_fail_each(contacts_alloc_run, (void *)files[i], NULL) > 10);
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
	char *dir;
	pb_store *st = open_tmp_store(&dir);

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
	assert_string_equal(r->backend, "at");
	assert_int_equal(pbb_msg_is(st, r, "text"), 1);
	pb_store_msg_free(r);

	/* the AT backend's time is the SMSC's, ISO 8601 with its zone: kept as
	 * sent_at (it used to be read as "YYYY-MM-DD HH:MM:SS" only, and lost) */
	m.id = (char *)"4";
	m.time = (char *)"2011-02-28T11:50:50-05:00";
	m.text = (char *)"from an AT modem";
	assert_int_equal(pbb_inbound_journal(st, "at", "DE", &m, &id2), 0);
	assert_pb_ok(pb_store_msg_get(st, id2, &r));
	assert_int_equal(r->sent_at, 1298911850000LL);
	pb_store_msg_free(r);
	m.id = (char *)"1,2,3";
	m.time = (char *)"2024-05-01 10:30:00";
	m.text = (char *)"three parts joined";

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

	/* a delivery report is journaled too (before it leaves the box), as a
	 * report row: a HiLink entry (SmsType 8, no reference) */
	m.type = PB_MODEM_MSG_REPORT;
	m.id = (char *)"8";
	m.box_type = 8;
	m.raw = NULL;
	m.raw_len = 0;
	assert_int_equal(pbb_inbound_journal(st, "hilink", "DE", &m, &id), 0);
	assert_pb_ok(pb_store_msg_get(st, id, &r));
	assert_string_equal(r->backend, "hilink");
	assert_int_equal(pbb_msg_is(st, r, "report"), 1);
	assert_string_equal(r->body, "delivery failed"); /* the words; what it says: bridge_report */
	pbb_report rep;
	assert_pb_ok(pbb_report_get(st, r, &rep));
	assert_int_equal(rep.ref, -1);
	assert_int_equal(rep.code, -1);
	assert_int_equal(rep.status, PBB_DR_FAILED);
	assert_string_equal(rep.text, "delivery failed");
	pb_store_msg_free(r);
	int64_t n;
	assert_pb_ok(pb_store_msg_count(st, PB_STORE_INBOUND, PB_STORE_STORED, &n));
	assert_int_equal(n, 4); /* with the AT one with a zone */
	close_tmp_store(st, dir);
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
	/* picture messages fetched off the SMS path: attempts and back-off */
	assert_int_equal(pbb_config_parse(&c, good_ini, err, sizeof(err)), 0);
	assert_int_equal(c.mmsc_fetch_attempts, 10);
	assert_int_equal(c.mmsc_fetch_retry_ms, 60000);
	pbb_config_free(&c);
	snprintf(ini, sizeof(ini), "%s[mmsc]\nfetch_attempts = 3\nfetch_retry_ms = 300\n", good_ini);
	assert_int_equal(pbb_config_parse(&c, ini, err, sizeof(err)), 0);
	assert_int_equal(c.mmsc_fetch_attempts, 3);
	assert_int_equal(c.mmsc_fetch_retry_ms, 300);
	pbb_config_free(&c);
	snprintf(ini, sizeof(ini), "%s[mmsc]\nfetch_attempts = 0\n", good_ini);
	expect_bad(ini, "fetch_attempts");
	snprintf(ini, sizeof(ini), "%s[mmsc]\nfetch_retry_ms = 5\n", good_ini);
	expect_bad(ini, "fetch_retry_ms");
}

/* --- sending part by part: a box that takes TPDUs, failing on demand ------------ */

static struct {
	int calls;          /* send_pdu calls */
	int fail_at;        /* the call that fails (1-based), 0: none */
	int fail_code;
	int udh_ref[8];     /* the concatenation reference of each PDU that went out */
	int sent;
} fake;

static int fake_open(void **state, const pb_modem_options *o, const pb_modem_secrets *sec)
{
	(void)o;
	(void)sec;
	*state = &fake;
	return 0;
}
static void fake_close(void *state) { (void)state; }
static int fake_list(void *state, int box, pb_modem_msg_list *out)
{
	(void)state;
	(void)box;
	(void)out;
	return 0;
}
static int fake_send_pdu(void *state, const uint8_t *tpdu, size_t len, int *ref)
{
	(void)state;
	fake.calls++;
	if (fake.calls == fake.fail_at)
		return pb_error_set(fake.fail_code, "fake: %s", fake.fail_code == PB_ETIMEOUT ? "no answer" : "no prompt");
	/* SMS-SUBMIT with UDHI: after FO, MR, DA, PID, DCS, UDL comes the UDH
	 * (IEI 0 concatenation: ref, total, seq) */
	size_t da = 2 + (tpdu[2] + 1) / 2;
	size_t udh = 2 + da + 2 + 1;
	assert_true(len > udh + 4 && (tpdu[0] & 0x40));
	if (fake.sent < 8)
		fake.udh_ref[fake.sent] = tpdu[udh + 3];
	fake.sent++;
	*ref = 40 + fake.sent;
	return 0;
}

static const pb_modem_backend_ops fake_ops = {
	.version = PB_MODEM_BACKEND_VERSION, .name = "bridge-unit-fake",
	.open = fake_open, .close = fake_close, .list = fake_list, .send_pdu = fake_send_pdu,
};

/* Each part's reference is committed as it is acknowledged: a send that
 * stops at part 2 goes on at part 2, with the same concatenation reference. */
static void test_bridge__send_resumes_after_the_parts_that_went_out(void **state)
{
	(void)state;
	char *dir;
	pb_store *st = open_tmp_store(&dir);
	assert_pb_ok(pb_modem_backend_register(&fake_ops));
	pb_modem *m;
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	assert_pb_ok(pb_modem_open(&m, "bridge-unit-fake", &o));
	char text[400], refs[256];
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0'; /* three parts of 153 septets */
	int done, total;
	memset(&fake, 0, sizeof(fake));
	fake.fail_at = 2;
	fake.fail_code = PB_EIO; /* part 2: nothing left */
	int rc = pbb_send_sms(m, st, 300, "+4915112345678", text, false, refs, sizeof(refs), &done, &total);
	assert_int_equal(rc, PB_EIO);
	assert_int_equal(pb_modem_send_fate(rc), PB_MODEM_SEND_NOT_SENT);
	assert_int_equal(done, 1);
	assert_int_equal(total, 3);
	assert_string_equal(refs, "41");
	int kept = 0;
	char krefs[64];
	assert_pb_ok(pbb_send_progress(st, 300, &kept, krefs, sizeof(krefs)));
	assert_int_equal(kept, 1);
	assert_string_equal(krefs, "41");
	/* the next attempt: part 2 gets no answer (uncertain), part 1 is not sent again */
	fake.fail_at = 3;
	fake.fail_code = PB_ETIMEOUT;
	rc = pbb_send_sms(m, st, 300, "+4915112345678", text, false, refs, sizeof(refs), &done, &total);
	assert_int_equal(pb_modem_send_fate(rc), PB_MODEM_SEND_UNCERTAIN);
	assert_int_equal(done, 1);
	assert_int_equal(fake.sent, 1);
	/* !resend: parts 2 and 3 only, with the row's concatenation reference */
	fake.fail_at = 0;
	assert_pb_ok(pbb_send_sms(m, st, 300, "+4915112345678", text, false, refs, sizeof(refs), &done, &total));
	assert_int_equal(done, 3);
	assert_string_equal(refs, "41,42,43");
	assert_int_equal(fake.sent, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(fake.udh_ref[i], 300 & 0xFF);
	assert_pb_ok(pbb_send_progress_clear(st, 300));
	assert_pb_ok(pbb_send_progress(st, 300, &kept, krefs, sizeof(krefs)));
	assert_int_equal(kept, 0);
	pb_modem_close(m);
	close_tmp_store(st, dir);
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
	pb_store *st = open_tmp_store(&dir);
	static const uint8_t jpeg[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0 };
	pbb_outbound_mms m = { "+4915111,+4930222", "!g:x", "$ev1", "look", "look", jpeg, sizeof(jpeg),
			       "image/jpeg", "cat.jpg", 0 };
	int64_t id = 0, id2 = 0;
	assert_int_equal(pbb_outbound_mms_journal(st, &m, &id), 0);
	assert_int_equal(pbb_outbound_mms_journal(st, &m, &id2), PB_EEXISTS); /* the same event again */
	assert_int_equal(id, id2);
	pb_store_msg *r;
	assert_pb_ok(pb_store_msg_get(st, id, &r));
	assert_int_equal(pbb_is_mms_row(st, r), 1);
	assert_string_equal(r->backend, "matrix");
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
	close_tmp_store(st, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge__config_good),
		cmocka_unit_test(test_bridge__config_bad),
		cmocka_unit_test(test_bridge__config_headers),
		cmocka_unit_test(test_bridge__config_rewrite),
		cmocka_unit_test(test_bridge__txn_and_key),
		cmocka_unit_test(test_bridge__store_identity),
		cmocka_unit_test(test_bridge__inbound_journal),
		cmocka_unit_test(test_bridge__config_mms),
		cmocka_unit_test(test_bridge__send_resumes_after_the_parts_that_went_out),
		cmocka_unit_test(test_bridge__room_keys),
		cmocka_unit_test(test_bridge__calls_commands),
		cmocka_unit_test(test_bridge__call_kinds_and_notices),
		cmocka_unit_test(test_bridge__voicemail_text),
		cmocka_unit_test(test_bridge__config_calls),
		cmocka_unit_test(test_bridge__mms_participants),
		cmocka_unit_test(test_bridge__outbound_mms),
		cmocka_unit_test(test_bridge__report_read),
		cmocka_unit_test(test_bridge__report_match),
		cmocka_unit_test(test_bridge__migrates_a_store_of_before_issue18),
		cmocka_unit_test(test_bridge__contacts_vcard),
		cmocka_unit_test(test_bridge__contacts_photo),
		cmocka_unit_test(test_bridge__contacts_csv),
		cmocka_unit_test(test_bridge__contacts_alloc_fail),
	};
	return pb_test_run("bridge", tests);
}
