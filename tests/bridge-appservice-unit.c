/*
 * libphonebridge tests — pb-bridged's application-service parts without a
 * homeserver (appservice.c): the [matrix] keys, the registration writer,
 * puppet ids, the hs_token check, the transaction parser, the kept
 * transactions (once per id, in order) and the routes on a real listener
 * (libcurl as the homeserver).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bridge.h"
#include "bridge-unit.h"
#include "test-http.h"

#define INI_HEAD "[modem]\nbackend = at\ndevice = /dev/ttyUSB2\n[bridge]\nstore = /tmp/x.db\nregion = DE\n"
#define INI_AS INI_HEAD "[matrix]\nhomeserver = https://m.example.org\nowners = @me:example.org\n" \
		"mode = appservice\nas_token_file = /etc/pb/as.token\nhs_token_file = /etc/pb/hs.token\n"

static char *tmpdir(void)
{
	char *d = strdup("/tmp/pb-bridge-as-unit-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void parse_ok(pbb_config *c, const char *ini)
{
	char err[256] = "";
	if (pbb_config_parse(c, ini, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static void test_appservice__config(void **state)
{
	(void)state;
	pbb_config c;
	parse_ok(&c, INI_AS);
	assert_int_equal(c.mode, PBB_MODE_APPSERVICE);
	assert_string_equal(c.token_file, "/etc/pb/as.token"); /* the bridge's requests carry the as_token */
	assert_string_equal(pbb_as_listen(&c), "127.0.0.1:29331");
	assert_string_equal(pbb_as_server(&c, NULL), "example.org");
	assert_string_equal(pbb_as_server(&c, "@bot:hs.example"), "hs.example");
	char bot[128];
	assert_pb_ok(pbb_as_bot_id(&c, bot, sizeof(bot)));
	assert_string_equal(bot, "@phonebridge:example.org");
	pbb_config_free(&c);
	parse_ok(&c, INI_HEAD "[matrix]\nhomeserver = https://m\ntoken_file = /t\nowners = @me:x\n");
	assert_int_equal(c.mode, PBB_MODE_BOT); /* the default */
	pbb_config_free(&c);

	expect_bad(INI_AS "token_file = /t\n", "leave token_file out");
	expect_bad(INI_HEAD "[matrix]\nhomeserver = https://m\nowners = @me:x\nmode = appservice\n",
		   "as_token_file and hs_token_file");
	expect_bad(INI_AS "encryption = allow\npickle_key_file = /k\n", "encryption = off");
	expect_bad(INI_AS "puppet_template = sms_\n", "{number} once");
	expect_bad(INI_AS "puppet_template = {number}_{number}\n", "{number} once");
	expect_bad(INI_AS "puppet_template = SMS_{number}\n", "a-z, 0-9");
	expect_bad(INI_AS "sender_localpart = Bridge Bot\n", "sender_localpart");
	expect_bad(INI_AS "mode = daemon\n", "mode: bot or appservice");
	expect_bad(INI_AS "delivery = smoke\n", "delivery: receipt, reaction or notice");
	expect_bad(INI_HEAD "[matrix]\nhomeserver = https://m\ntoken_file = /t\nowners = @me:x\ndelivery = receipt\n",
		   "needs mode = appservice");
}

static void test_appservice__puppets(void **state)
{
	(void)state;
	pbb_config c;
	parse_ok(&c, INI_AS "puppet_template = tel.{number}.sms\n");
	char id[128], num[32];
	assert_pb_ok(pbb_puppet_user_id(&c, "example.org", "+4915112345678", id, sizeof(id)));
	assert_string_equal(id, "@tel.4915112345678.sms:example.org");
	assert_int_equal(pbb_puppet_number(&c, "example.org", id, num, sizeof(num)), 0);
	assert_string_equal(num, "+4915112345678");
	/* what is not one of ours */
	assert_pb_error(pbb_puppet_user_id(&c, "example.org", "SHOP", id, sizeof(id)), PB_EINVAL);
	assert_pb_error(pbb_puppet_user_id(&c, "example.org", "+49 151", id, sizeof(id)), PB_EINVAL);
	assert_pb_error(pbb_puppet_user_id(&c, "example.org", "+4915112345678", id, 12), PB_ETOOBIG);
	static const char *const not_ours[] = {
		"@tel.4915112345678.sms:other.org", "@tel.49151x2345678.sms:example.org",
		"@tel..sms:example.org", "@sms_4915112345678:example.org", "tel.49.sms:example.org",
		"@tel.4915112345678.sm:example.org", "@tel.1234567890123456.sms:example.org", "", "@:",
	};
	for (size_t i = 0; i < sizeof(not_ours) / sizeof(not_ours[0]); i++)
		if (pbb_puppet_number(&c, "example.org", not_ours[i], num, sizeof(num)) != PB_ENOTFOUND)
			fail_msg("%s taken for a puppet", not_ours[i]);
	pbb_config_free(&c);
}

static void test_appservice__registration(void **state)
{
	(void)state;
	pbb_config c;
	pb_buf y = PB_BUF_INIT;
	/* quoted; the regex escapes what is literal */
	parse_ok(&c, INI_AS "puppet_template = sms.{number}\nserver_name = ex.example\nlisten = 10.0.0.2:9000\n");
	assert_pb_ok(pbb_as_registration(&c, "AS", "HS", &y));
	const char *t = pb_buf_cstr(&y);
	static const char *const lines[] = {
		"\nid: 'phonebridge'\n", "\nurl: 'http://10.0.0.2:9000'\n", "\nas_token: 'AS'\n", "\nhs_token: 'HS'\n",
		"\nsender_localpart: 'phonebridge'\n", "\nrate_limited: false\n", "    - exclusive: true\n",
		"      regex: '@sms\\.[0-9]+:ex\\.example'\n", "  aliases: []\n",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (!strstr(t, lines[i]))
			fail_msg("no \"%s\" in:\n%s", lines[i], t);
	pb_buf_dispose(&y);
	pbb_config_free(&c);
}

static void test_appservice__generate(void **state)
{
	(void)state;
	char *d = tmpdir(), ini[2048], reg[512], ast[512], hst[512];
	snprintf(ast, sizeof(ast), "%s/as.token", d);
	snprintf(hst, sizeof(hst), "%s/hs.token", d);
	snprintf(reg, sizeof(reg), "%s/reg.yaml", d);
	snprintf(ini, sizeof(ini), INI_HEAD "[matrix]\nhomeserver = https://m\nowners = @me:x.org\nmode = appservice\n"
				   "as_token_file = %s\nhs_token_file = %s\n", ast, hst);
	pbb_config c;
	parse_ok(&c, ini);
	assert_pb_ok(pbb_as_generate(&c, reg, NULL));
	struct stat sb;
	const char *files[] = { ast, hst, reg };
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(lstat(files[i], &sb), 0);
		assert_int_equal(sb.st_mode & 07777, 0600);
	}
	char *as = NULL, *hs = NULL;
	assert_pb_ok(pb_secret_read(ast, &as));
	assert_pb_ok(pb_secret_read(hst, &hs));
	assert_int_equal(strlen(as), 64);
	assert_string_not_equal(as, hs);
	/* never over a file; the tokens stay */
	assert_pb_error(pbb_as_generate(&c, reg, NULL), PB_EEXISTS);
	char *as2 = NULL;
	assert_pb_ok(pb_secret_read(ast, &as2));
	assert_string_equal(as, as2);
	/* never through a link */
	unlink(reg);
	char target[600];
	snprintf(target, sizeof(target), "%s/elsewhere", d);
	assert_int_equal(symlink(target, reg), 0);
	assert_pb_error(pbb_as_generate(&c, reg, NULL), PB_EEXISTS);
	assert_int_equal(access(target, F_OK), -1);
	pb_secret_free(as);
	pb_secret_free(as2);
	pb_secret_free(hs);
	pbb_config_free(&c);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
	free(d);
}

static void test_appservice__token(void **state)
{
	(void)state;
	const char *tok = "0123456789abcdef";
	assert_int_equal(pbb_as_auth(tok, "Bearer 0123456789abcdef", ""), 0);
	assert_int_equal(pbb_as_auth(tok, NULL, "access_token=0123456789abcdef"), 0);
	assert_int_equal(pbb_as_auth(tok, NULL, "x=1&access_token=0123456789abcdef&y=2"), 0);
	assert_int_equal(pbb_as_auth(tok, "Bearer 0123456789abcdeF", ""), 403);
	assert_int_equal(pbb_as_auth(tok, "Bearer 0123456789abcde", ""), 403);   /* a prefix */
	assert_int_equal(pbb_as_auth(tok, "Bearer 0123456789abcdef0", ""), 403); /* longer */
	assert_int_equal(pbb_as_auth(tok, "Bearer ", ""), 403);
	assert_int_equal(pbb_as_auth(tok, NULL, "access_token="), 403);
	assert_int_equal(pbb_as_auth(tok, NULL, "access_token=wrong"), 403);
	assert_int_equal(pbb_as_auth(tok, NULL, NULL), 401);
	assert_int_equal(pbb_as_auth(tok, NULL, "my_access_token=0123456789abcdef"), 401);
	assert_int_equal(pbb_as_auth(tok, "Basic YTpi", ""), 401);
}

typedef struct seen {
	int messages, invites;
	char last_body[64];
} seen;

static int on_ev(const pb_matrix_event *ev, void *ud)
{
	seen *s = ud;
	if (ev->section == PB_MATRIX_TIMELINE && !strcmp(ev->type, "m.room.message")) {
		s->messages++;
		snprintf(s->last_body, sizeof(s->last_body), "%s", ev->body ? ev->body : "");
	}
	return 0;
}

static int on_inv(const char *room, const char *inviter, void *ud)
{
	seen *s = ud;
	assert_string_equal(room, "!b:x.org");
	assert_string_equal(inviter, "@me:x.org");
	s->invites++;
	return 0;
}

static void test_appservice__transaction(void **state)
{
	(void)state;
	const char *txn =
		"{\"events\":["
		"{\"type\":\"m.room.message\",\"room_id\":\"!a:x.org\",\"sender\":\"@me:x.org\",\"event_id\":\"$1\","
		"\"content\":{\"msgtype\":\"m.text\",\"body\":\"one\"}},"
		"{\"type\":\"m.room.member\",\"room_id\":\"!b:x.org\",\"sender\":\"@me:x.org\",\"event_id\":\"$2\","
		"\"state_key\":\"@bot:x.org\",\"content\":{\"membership\":\"invite\"}},"
		"{\"type\":\"m.room.message\",\"room_id\":\"!a:x.org\",\"sender\":\"@me:x.org\",\"event_id\":\"$3\","
		"\"content\":{\"msgtype\":\"m.text\",\"body\":\"two\"}}],\"ephemeral\":[]}";
	pb_buf out = PB_BUF_INIT;
	size_t n = 0;
	assert_pb_ok(pbb_as_txn_parse((const uint8_t *)txn, strlen(txn), "@bot:x.org", &out, &n, NULL));
	assert_int_equal(n, 3);
	seen s = { 0, 0, "" };
	pb_matrix_sync_callbacks cb = { on_ev, on_inv, NULL, NULL, &s };
	assert_pb_ok(pb_matrix_sync_parse(out.data, out.len, &cb, NULL, NULL));
	assert_int_equal(s.messages, 2);
	assert_string_equal(s.last_body, "two"); /* in order */
	assert_int_equal(s.invites, 1);
	pb_buf_dispose(&out);

	/* bad ones say where */
	static const struct {
		const char *body, *why;
		size_t offset;
	} bad[] = {
		{ "{\"events\":[", "not JSON", 11 },
		{ "", "not JSON", 0 },
		{ "[]", "no \"events\"", 0 },
		{ "{\"events\":{}}", "no \"events\"", 0 },
		{ "{\"events\":[{\"type\":\"m.room.message\"}]}", "events[0]: no type or room_id", 0 },
		{ "{\"events\":[{\"type\":\"t\",\"room_id\":\"!r\"},7]}", "events[1]", 0 },
		{ "{\"events\":[],\"events\":[]}", "duplicate", 21 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pb_parse_error pe = PB_PARSE_ERROR_INIT;
		assert_int_equal(pbb_as_txn_parse((const uint8_t *)bad[i].body, strlen(bad[i].body), NULL, &out, &n, &pe),
				 PB_EMALFORMED);
		if (!strstr(pe.text, bad[i].why) || pe.offset != bad[i].offset)
			fail_msg("%s: \"%s\" at %zu", bad[i].body, pe.text, pe.offset);
		pb_buf_dispose(&out);
	}
}

static void test_appservice__kept_once_in_order(void **state)
{
	(void)state;
	char *d = tmpdir(), path[512];
	snprintf(path, sizeof(path), "%s/b.db", d);
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.synchronous = PB_STORE_SYNC_NORMAL;
	pb_store *st;
	assert_pb_ok(pb_store_open(&st, path, &o));
	int64_t seq;
	char *json = NULL;
	assert_pb_error(pbb_as_queue_next(st, &seq, &json), PB_ENOTFOUND);
	assert_pb_ok(pbb_as_txn_journal(st, "17", "{\"a\":1}"));
	assert_pb_error(pbb_as_txn_journal(st, "17", "{\"a\":1}"), PB_EEXISTS); /* redelivered */
	assert_pb_ok(pbb_as_txn_journal(st, "18", "{\"b\":2}"));
	assert_pb_error(pbb_as_txn_journal(st, "", "{}"), PB_EINVAL);
	/* a restart: another handle finds them */
	pb_store_close(st);
	assert_pb_ok(pb_store_open(&st, path, &o));
	assert_pb_ok(pbb_as_queue_next(st, &seq, &json));
	assert_int_equal(seq, 0);
	assert_string_equal(json, "{\"a\":1}");
	pb_free(json);
	/* not done yet (a crash while handling): the same again */
	assert_pb_ok(pbb_as_queue_next(st, &seq, &json));
	assert_int_equal(seq, 0);
	pb_free(json);
	assert_pb_ok(pbb_as_queue_done(st, 0));
	assert_pb_ok(pbb_as_queue_next(st, &seq, &json));
	assert_int_equal(seq, 1);
	assert_string_equal(json, "{\"b\":2}");
	pb_free(json);
	assert_pb_ok(pbb_as_queue_done(st, 1));
	assert_pb_error(pbb_as_queue_next(st, &seq, &json), PB_ENOTFOUND);
	/* a done transaction sent again is still known */
	assert_pb_error(pbb_as_txn_journal(st, "17", "{\"a\":1}"), PB_EEXISTS);
	/* ... until it is 1024 transactions back: the kv table stays small */
	char id[32];
	for (int i = 0; i < 1022; i++) {
		snprintf(id, sizeof(id), "n%d", i);
		assert_pb_ok(pbb_as_txn_journal(st, id, "{}"));
		assert_pb_ok(pbb_as_queue_next(st, &seq, &json));
		pb_free(json);
		assert_pb_ok(pbb_as_queue_done(st, seq));
	}
	assert_pb_error(pbb_as_txn_journal(st, "17", "{\"a\":1}"), PB_EEXISTS); /* 1023 back: remembered */
	assert_pb_error(pbb_as_txn_journal(st, "18", "{}"), PB_EEXISTS);
	assert_pb_ok(pbb_as_txn_journal(st, "n1022", "{}"));                  /* pushes "17" out */
	char *v = NULL;
	assert_pb_error(pb_store_kv_get(st, "bridge.as.txn.17", &v), PB_ENOTFOUND);
	assert_pb_error(pb_store_kv_get(st, "bridge.as.seq.0", &v), PB_ENOTFOUND);
	assert_pb_error(pbb_as_txn_journal(st, "18", "{}"), PB_EEXISTS);      /* still remembered */
	pb_store_close(st);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
	free(d);
}

/* --- the routes, through a real listener and a real HTTP client ------------------- */

/* One request as the homeserver makes it: JSON, the hs_token @auth as a
 * bearer token (NULL: none). */
static reply http(unsigned port, const char *method, const char *target, const char *body, const char *auth)
{
	char bearer[256];
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", auth ? auth : "");
	const char *headers[] = { "Content-Type: application/json", auth ? bearer : NULL, NULL };
	return test_http(port, method, target, headers, body, body ? strlen(body) : 0);
}

/* the answer's status and errcode ("" for none) */
static void expect(reply r, long status, const char *errcode)
{
	const char *b = pb_buf_cstr(&r.body);
	char want[96] = "";
	if (errcode[0])
		snprintf(want, sizeof(want), "\"errcode\":\"%s\"", errcode);
	if (r.status != status || (errcode[0] && !strstr(b, want)))
		fail_msg("HTTP %ld %s, not %ld %s", r.status, b, status, errcode);
	pb_buf_dispose(&r.body);
}

static void wake(void *ud) { (*(int *)ud)++; }

static void test_appservice__routes(void **state)
{
	(void)state;
	char *d = tmpdir(), ini[2048], hst[512], db[512];
	snprintf(hst, sizeof(hst), "%s/hs.token", d);
	snprintf(db, sizeof(db), "%s/b.db", d);
	FILE *f = fopen(hst, "w");
	assert_non_null(f);
	fputs("the-hs-token\n", f);
	fclose(f);
	assert_int_equal(chmod(hst, 0600), 0);
	snprintf(ini, sizeof(ini), INI_HEAD "[matrix]\nhomeserver = http://127.0.0.1:1\nowners = @me:x.org\n"
				   "mode = appservice\nas_token_file = %s/as.token\nhs_token_file = %s\n"
				   "listen = 127.0.0.1:0\nsender_localpart = bot\n", d, hst);
	pbb_config c;
	parse_ok(&c, ini);
	pb_store_options so = PB_STORE_OPTIONS_INIT;
	so.synchronous = PB_STORE_SYNC_NORMAL;
	pb_store *st;
	assert_pb_ok(pb_store_open(&st, db, &so));
	int woken = 0;
	pbb_as_ctx *x = NULL;
	pb_listener *l = NULL;
	assert_pb_ok(pbb_as_ctx_new(&x, &c, st, wake, &woken));
	assert_pb_ok(pbb_listener_new(&c, &l));
	assert_pb_ok(pbb_as_routes(l, x));
	assert_pb_ok(pb_listener_start(l));
	unsigned port = pb_listener_port(l);
	const char *txn = "{\"events\":[{\"type\":\"m.room.message\",\"room_id\":\"!a:x.org\",\"sender\":\"@me:x.org\","
			  "\"event_id\":\"$1\",\"content\":{\"msgtype\":\"m.text\",\"body\":\"hi\"}}]}";

	/* the hs_token: none 401, a wrong one 403, nothing kept */
	expect(http(port, "PUT", "/_matrix/app/v1/transactions/1", txn, NULL), 401, "M_UNAUTHORIZED");
	expect(http(port, "PUT", "/_matrix/app/v1/transactions/1", txn, "the-hs-tokeN"), 403, "M_FORBIDDEN");
	expect(http(port, "PUT", "/transactions/1?access_token=wrong", txn, NULL), 403, "M_FORBIDDEN");
	expect(http(port, "GET", "/_matrix/app/v1/users/%40sms_49151%3Ax.org", NULL, "x"), 403, "M_FORBIDDEN");
	expect(http(port, "POST", "/_matrix/app/v1/ping", "{}", NULL), 401, "M_UNAUTHORIZED");
	int64_t seq;
	char *json = NULL;
	assert_pb_error(pbb_as_queue_next(st, &seq, &json), PB_ENOTFOUND);
	assert_int_equal(woken, 0);

	/* kept, then answered; sent again: answered, not kept twice */
	expect(http(port, "PUT", "/_matrix/app/v1/transactions/1", txn, "the-hs-token"), 200, "");
	assert_int_equal(woken, 1);
	expect(http(port, "PUT", "/transactions/1?access_token=the-hs-token", txn, NULL), 200, "");
	assert_int_equal(woken, 1);
	assert_pb_ok(pbb_as_queue_next(st, &seq, &json));
	assert_non_null(strstr(json, "\"body\":\"hi\""));
	pb_free(json);
	assert_pb_ok(pbb_as_queue_done(st, seq));
	assert_pb_error(pbb_as_queue_next(st, &seq, &json), PB_ENOTFOUND);

	/* not a transaction: 400, nothing kept, its id still free */
	expect(http(port, "PUT", "/_matrix/app/v1/transactions/2", "{\"events\":", "the-hs-token"), 400, "M_BAD_JSON");
	expect(http(port, "PUT", "/_matrix/app/v1/transactions/2", txn, "the-hs-token"), 200, "");
	assert_int_equal(woken, 2);

	/* users outside the namespace and aliases are not ours; ping */
	expect(http(port, "GET", "/_matrix/app/v1/users/%40eve%3Ax.org", NULL, "the-hs-token"), 404, "M_NOT_FOUND");
	expect(http(port, "GET", "/users/%40sms_49151%3Aother.org", NULL, "the-hs-token"), 404, "M_NOT_FOUND");
	expect(http(port, "GET", "/_matrix/app/v1/rooms/%23sms%3Ax.org", NULL, "the-hs-token"), 404, "M_NOT_FOUND");
	expect(http(port, "POST", "/_matrix/app/v1/ping", "{\"transaction_id\":\"p\"}", "the-hs-token"), 200, "");
	/* a puppet the homeserver asks about is registered: the homeserver is away here */
	expect(http(port, "GET", "/_matrix/app/v1/users/%40sms_49151%3Ax.org", NULL, "the-hs-token"), 500, "M_UNKNOWN");

	pb_listener_free(l);
	pbb_as_ctx_free(x);
	pb_store_close(st);
	pbb_config_free(&c);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appservice__config),
		cmocka_unit_test(test_appservice__puppets),
		cmocka_unit_test(test_appservice__registration),
		cmocka_unit_test(test_appservice__generate),
		cmocka_unit_test(test_appservice__token),
		cmocka_unit_test(test_appservice__transaction),
		cmocka_unit_test(test_appservice__kept_once_in_order),
		cmocka_unit_test(test_appservice__routes),
	};
	return pb_test_run("appservice", tests);
}
