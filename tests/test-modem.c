/*
 * libphonebridge tests — modem: front end, HiLink (XML, login, emulator),
 * AT (line parsing, emulator on a pseudo-terminal), SMSEagle (JSON, emulator).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The emulators are Python programs in tests/emulators/, run with Debian's
 * /usr/bin/python3 (or $PB_PYTHON). Each prints a ready line; the tests wait
 * for it (and for every later condition) with generous deadlines, and kill
 * the emulator at the end.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <phonebridge/sys/modem-backend.h>

#include "modem/modem-internal.h"

#define DEADLINE_MS 60000

/* --- emulator processes ------------------------------------------------------ */

typedef struct emu {
	pid_t pid;
	int out;         /* its stdout */
	char ready[64]; /* what followed "READY " */
	char url[128];
} emu;

static const char *python(void)
{
	const char *p = getenv("PB_PYTHON");
	return p && *p ? p : "/usr/bin/python3";
}

static const char *emulator_path(const char *name)
{
	static char path[1024];
	const char *root = getenv("PB_SOURCE_ROOT");
	snprintf(path, sizeof(path), "%s/tests/emulators/%s", root ? root : ".", name);
	return path;
}

/* Start an emulator with arguments (NULL-terminated) and wait for "READY ...". */
static void emu_start(emu *e, const char *script, const char *const *args)
{
	int fds[2];
	memset(e, 0, sizeof(*e));
	assert_int_equal(pipe(fds), 0);
	const char *argv[32];
	size_t n = 0;
	argv[n++] = python();
	argv[n++] = emulator_path(script);
	for (size_t i = 0; args && args[i] && n < 30; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	e->pid = pid;
	e->out = fds[0];
	char line[256];
	size_t len = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { e->out, POLLIN, 0 };
		int r = poll(&pfd, 1, 1000);
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if ((t1.tv_sec - t0.tv_sec) * 1000 > DEADLINE_MS)
			fail_msg("emulator %s did not get ready", script);
		if (r <= 0)
			continue;
		ssize_t k = read(e->out, line + len, 1);
		if (k <= 0)
			fail_msg("emulator %s exited before it was ready", script);
		if (line[len] == '\n') {
			line[len] = '\0';
			if (strncmp(line, "READY ", 6) == 0)
				break;
			len = 0;
			continue;
		}
		if (len < sizeof(line) - 2)
			len++;
	}
	pb_strlcpy(e->ready, line + 6, sizeof(e->ready));
	snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%s", e->ready);
}

static void emu_stop(emu *e)
{
	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		waitpid(e->pid, NULL, 0);
		e->pid = 0;
	}
	if (e->out >= 0)
		close(e->out);
}

/* A test-control request to an HTTP emulator; returns the body (free()). */
static size_t curl_sink(char *p, size_t s, size_t n, void *ud)
{
	pb_buf *b = ud;
	pb_buf_put(b, p, s * n);
	return s * n;
}

static char *emu_http(const emu *e, const char *path, const char *post)
{
	pb_buf b = PB_BUF_INIT;
	char url[256];
	snprintf(url, sizeof(url), "%s%s", e->url, path);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (post) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	}
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	char *s = strdup(pb_buf_cstr(&b));
	pb_buf_dispose(&b);
	return s;
}

/* A credential file with @mode in a fresh temporary directory. */
static const char *secret_file(const char *content, mode_t mode)
{
	static char path[256];
	snprintf(path, sizeof(path), "/tmp/pb-modem-test-%d-secret", (int)getpid());
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static const pb_modem_msg *find_msg(const pb_modem_msg_list *l, const char *id)
{
	for (size_t i = 0; i < l->count; i++)
		if (l->items[i].id && strcmp(l->items[i].id, id) == 0)
			return &l->items[i];
	return NULL;
}

/* --- front end ------------------------------------------------------------- */

static void test_modem__unknown_backend(void **state)
{
	(void)state;
	pb_modem *m = (pb_modem *)1;
	assert_pb_error(pb_modem_open(&m, "nokia-3310", NULL), PB_ENOTFOUND);
	assert_null(m);
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	o.version = 99;
	assert_pb_error(pb_modem_open(&m, "hilink", &o), PB_EINVAL);
}

static void test_modem__credential_file_modes(void **state)
{
	(void)state;
	char *s = NULL;
	const char *p = secret_file("hunter2\n", 0640);
	assert_pb_error(pb_modem__read_secret(p, &s), PB_EAUTH);
	assert_non_null(strstr(pb_error_last()->message, "chmod 600"));
	p = secret_file("hunter2\r\n", 0600);
	assert_pb_ok(pb_modem__read_secret(p, &s));
	assert_string_equal(s, "hunter2");
	pb_modem__secret_free(s);
	p = secret_file("x", 0604);
	assert_pb_error(pb_modem__read_secret(p, &s), PB_EAUTH);
	unlink(p);
	assert_pb_error(pb_modem__read_secret(p, &s), PB_ENOTFOUND);
	/* the front end refuses before it connects anywhere */
	p = secret_file("x", 0644);
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	o.url = "http://127.0.0.1:1";
	o.password_file = p;
	pb_modem *m;
	assert_pb_error(pb_modem_open(&m, "hilink", &o), PB_EAUTH);
	unlink(p);
}

/* A user backend: registered by name, opened through the same API. */
static int fake_open(void **st, const pb_modem_options *o, const pb_modem_secrets *sec)
{
	(void)o;
	(void)sec;
	*st = pb_strdup("fake");
	return *st ? 0 : PB_ENOMEM;
}
static void fake_close(void *st) { pb_free(st); }
static int fake_list(void *st, int box, pb_modem_msg_list *out)
{
	(void)st;
	(void)box;
	pb_modem_msg m = { .id = "7", .type = PB_MODEM_MSG_TEXT, .number = "+1555", .text = "hi" };
	return pb_modem_msg_list_add(out, &m);
}
static const pb_modem_backend_ops fake_ops = {
	.version = PB_MODEM_BACKEND_VERSION, .name = "fake", .open = fake_open, .close = fake_close, .list = fake_list,
};

static int count_events(const pb_modem_event *ev, void *ud)
{
	if (ev->type == PB_MODEM_EVENT_MESSAGE)
		(*(int *)ud)++;
	return 0;
}

static void test_modem__user_backend(void **state)
{
	(void)state;
	pb_modem *m;
	assert_pb_ok(pb_modem_backend_register(&fake_ops));
	assert_pb_error(pb_modem_backend_register(&fake_ops), PB_EEXISTS);
	assert_pb_ok(pb_modem_open(&m, "fake", NULL));
	assert_string_equal(pb_modem_backend_name(m), "fake");
	pb_modem_msg msg;
	assert_pb_ok(pb_modem_read(m, "7", &msg));
	assert_string_equal(msg.text, "hi");
	pb_modem_msg_dispose(&msg);
	assert_pb_error(pb_modem_read(m, "8", &msg), PB_ENOTFOUND);
	assert_pb_error(pb_modem_delete(m, "7"), PB_EUNSUPPORTED);
	pb_modem_status st;
	assert_pb_error(pb_modem_status_get(m, &st), PB_EUNSUPPORTED);
	assert_int_equal(st.signal_dbm, PB_MODEM_SIGNAL_UNKNOWN);
	/* watch reports the message once, however often it is listed */
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	(void)o;
	int n = 0;
	assert_pb_ok(pb_modem_watch(m, 0, 300, count_events, &n));
	assert_int_equal(n, 1);
	n = 0;
	assert_pb_ok(pb_modem_watch(m, PB_MODEM_WATCH_NEW_ONLY, 100, count_events, &n));
	assert_int_equal(n, 0);
	pb_modem_close(m);
}

static int copy_list_scenario(void *ctx)
{
	(void)ctx;
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	uint8_t raw[3] = { 1, 2, 3 };
	pb_modem_msg m = { .id = "1", .number = "+1", .text = "t", .time = "now", .raw = raw, .raw_len = 3,
			   .content_location = "http://x", .error = "e" };
	int rc = 0;
	for (int i = 0; i < 10 && rc == 0; i++)
		rc = pb_modem_msg_list_add(&l, &m);
	pb_modem_msg_list_dispose(&l);
	return rc;
}

static void test_modem__msg_list_alloc_failures(void **state)
{
	(void)state;
	assert_true(pb_test_alloc_fail_each(copy_list_scenario, NULL, NULL) > 5);
}

/* --- HiLink: login computations -------------------------------------------- */

static void test_modem__hilink_type4_vector(void **state)
{
	(void)state;
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_modem__hilink_type4(&b, "admin", "secret", "csrf-token"));
	/* shared/vectors/hilink/README.txt */
	assert_string_equal(pb_buf_cstr(&b),
			    "ODNiZmIxMzRiYWJjNjJlMDY3ZGE2NGJmNWRmYjg4ODllNTFiNzJmOTU3NzViMjQ4YWNiZWEzNGU3MjM1OTU0ZQ==");
	pb_buf_dispose(&b);
}

static void test_modem__hilink_scram_vector(void **state)
{
	(void)state;
	const char *dir = pb_test_vectors_dir();
	if (!dir)
		pb_test_skip_no_vectors();
	size_t len;
	char *v = (char *)pb_test_read_file(dir, "hilink/scram-clientproof-vector.txt", &len);
	char first[129] = "", final[200] = "", pw[64] = "", salt[129] = "", proof[65] = "";
	unsigned iter = 0;
	for (char *line = strtok(v, "\n"); line; line = strtok(NULL, "\n")) {
		sscanf(line, "firstnonce = %128s", first);
		sscanf(line, "finalnonce = %199s", final);
		sscanf(line, "password   = %63s", pw);
		sscanf(line, "salt       = %128s", salt);
		sscanf(line, "iterations = %u", &iter);
		sscanf(line, "clientproof= %64s", proof);
	}
	free(v);
	assert_int_equal(iter, 100);
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_modem__hilink_scram_proof(&b, pw, salt, iter, first, final));
	assert_string_equal(pb_buf_cstr(&b), proof);
	pb_buf_dispose(&b);
}

/* --- HiLink: XML --------------------------------------------------------------- */

static void test_modem__hilink_neutralise_roundtrip(void **state)
{
	(void)state;
	/* C0 controls, a stray 0xAF, a real U+E005, CESU-8 U+1F600, plain text */
	const uint8_t in[] = { 'a', 0x01, 0x06, 0xAF, 0xEE, 0x80, 0x85, 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80, '\t', 'z' };
	pb_buf clean = PB_BUF_INIT, back = PB_BUF_INIT;
	assert_pb_ok(pb_modem__hilink_neutralise(&clean, in, sizeof(in)));
	assert_pb_ok(pb_utf8_validate((const char *)clean.data, clean.len, NULL));
	for (size_t i = 0; i < clean.len; i++)
		assert_false(clean.data[i] < 0x20 && clean.data[i] != '\t');
	assert_non_null(memmem(clean.data, clean.len, "\xF0\x9F\x98\x80", 4));
	assert_pb_ok(pb_modem__hilink_unescape(&back, (const char *)clean.data, clean.len));
	/* everything comes back byte for byte, except the CESU-8 pair, now UTF-8 */
	const uint8_t want[] = { 'a', 0x01, 0x06, 0xAF, 0xEE, 0x80, 0x85, 0xF0, 0x9F, 0x98, 0x80, '\t', 'z' };
	assert_int_equal(back.len, sizeof(want));
	assert_memory_equal(back.data, want, sizeof(want));
	pb_buf_dispose(&clean);
	pb_buf_dispose(&back);
	/* and the other way: non-BMP characters go to the router as CESU-8 */
	pb_buf c = PB_BUF_INIT;
	assert_pb_ok(pb_modem__cesu8_encode(&c, "x\xF0\x9F\x98\x80y", 6));
	assert_int_equal(c.len, 8);
	assert_memory_equal(c.data, "x\xED\xA0\xBD\xED\xB8\x80y", 8);
	pb_buf_dispose(&c);
}

static void parse_list(const uint8_t *xml, size_t len, pb_modem_msg_list *l)
{
	pb_hilink_doc *d;
	bool rec;
	assert_pb_ok(pb_modem__hilink_parse(&d, xml, len, &rec, NULL));
	assert_pb_ok(pb_modem__hilink_doc_messages(d, l));
	pb_modem__hilink_doc_free(d);
}

static void test_modem__hilink_vectors(void **state)
{
	(void)state;
	const char *dir = pb_test_vectors_dir();
	if (!dir)
		pb_test_skip_no_vectors();
	size_t len;
	uint8_t *x;
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;

	/* the picture message that stopped a strict parser */
	x = pb_test_read_file(dir, "hilink/SYNTHETIC-mms-smstype5-with-control-chars.xml", &len);
	parse_list(x, len, &l);
	free(x);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.items[0].type, PB_MODEM_MSG_MMS);
	assert_string_equal(l.items[0].id, "40030");
	assert_string_equal(l.items[0].number, "+10000000000");
	assert_int_equal(l.items[0].state, PB_MODEM_STATE_UNREAD);
	assert_true(l.items[0].raw_len > 10);
	assert_int_equal(l.items[0].raw[0], 0x01); /* raw control bytes kept */
	assert_int_equal(l.items[0].raw[1], 0x06);
	assert_non_null(memmem(l.items[0].raw, l.items[0].raw_len, "application/vnd.wap.mms-message\0", 32));
	pb_modem_msg_list_dispose(&l);

	/* lowercase tags, an entry as the root */
	x = pb_test_read_file(dir, "hilink/Salamek-huawei-lte-api-PR91-mms-smstype5.xml", &len);
	parse_list(x, len, &l);
	free(x);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.items[0].type, PB_MODEM_MSG_MMS);
	assert_string_equal(l.items[0].id, "40029");
	assert_string_equal(l.items[0].number, "106550280205");
	pb_modem_msg_list_dispose(&l);

	x = pb_test_read_file(dir, "hilink/sms-list-contact.xml", &len);
	parse_list(x, len, &l);
	free(x);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.items[0].type, PB_MODEM_MSG_REPORT);
	assert_string_equal(l.items[1].text, "Test message");
	pb_modem_msg_list_dispose(&l);

	x = pb_test_read_file(dir, "hilink/sms-list-phone.xml", &len);
	parse_list(x, len, &l);
	free(x);
	assert_int_equal(l.count, 5);
	assert_string_equal(find_msg(&l, "40000")->text, "Sms");
	assert_int_equal(find_msg(&l, "40001")->state, PB_MODEM_STATE_SENT);
	pb_modem_msg_list_dispose(&l);

	/* CESU-8 text arrives as UTF-8 */
	x = pb_test_read_file(dir, "hilink/cesu8-emoji-response.xml", &len);
	pb_hilink_doc *d;
	assert_pb_ok(pb_modem__hilink_parse(&d, x, len, NULL, NULL));
	free(x);
	char *t = pb_modem__hilink_doc_get(d, "Message");
	assert_string_equal(t, "Hello \xF0\x9F\x98\x80");
	pb_free(t);
	pb_modem__hilink_doc_free(d);

	x = pb_test_read_file(dir, "hilink/error-125002.xml", &len);
	assert_pb_ok(pb_modem__hilink_parse(&d, x, len, NULL, NULL));
	free(x);
	assert_int_equal(pb_modem__hilink_doc_error(d), 125002);
	pb_modem__hilink_doc_free(d);
	assert_pb_error(pb_modem__hilink_error(125002, "sms-list"), PB_EAUTH);
	assert_non_null(strstr(pb_error_last()->message, "125002"));
	assert_pb_error(pb_modem__hilink_error(100002, "x"), PB_EUNSUPPORTED);
	assert_pb_error(pb_modem__hilink_error(999999, "x"), PB_EPROTO);
	assert_non_null(strstr(pb_error_last()->message, "999999"));
}

static void test_modem__hilink_garbled_entries(void **state)
{
	(void)state;
	const char xml[] =
		"<response><Count>4</Count><Messages>"
		"<Message><Smstat>0</Smstat><Phone>+1</Phone><Content>no index</Content></Message>"
		"<Message><Smstat>0</Smstat><Index>5</Index><Phone>+2</Phone><Content>odd</Content><SmsType>42</SmsType></Message>"
		"<Message><Smstat>0</Smstat><Index>6</Index><Phone>+3</Phone><Content>x</Content><SmsType>one</SmsType></Message>"
		"<Message><Smstat>1</Smstat><Index>7</Index><Phone>+4</Phone><Content>fine &amp; well</Content><SmsType>1</SmsType></Message>"
		"</Messages></response>";
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	parse_list((const uint8_t *)xml, sizeof(xml) - 1, &l);
	assert_int_equal(l.count, 4);
	assert_int_equal(l.items[0].type, PB_MODEM_MSG_GARBLED);
	assert_non_null(memmem(l.items[0].raw, l.items[0].raw_len, "no index", 8));
	assert_int_equal(l.items[1].type, PB_MODEM_MSG_UNKNOWN);
	assert_non_null(strstr(l.items[1].error, "42"));
	assert_int_equal(l.items[2].type, PB_MODEM_MSG_GARBLED);
	assert_int_equal(l.items[3].type, PB_MODEM_MSG_TEXT);
	assert_string_equal(l.items[3].text, "fine & well");
	pb_modem_msg_list_dispose(&l);

	/* an entity declaration is refused, never expanded */
	const char bomb[] = "<!DOCTYPE r [<!ENTITY a \"aaaa\">]><response>&a;</response>";
	pb_hilink_doc *d = NULL;
	pb_parse_error perr;
	assert_pb_error(pb_modem__hilink_parse(&d, (const uint8_t *)bomb, sizeof(bomb) - 1, NULL, &perr), PB_EMALFORMED);
	/* not XML at all: an offset inside the input */
	const char junk[] = "<response>\n<Count>1</Count\n";
	int rc = pb_modem__hilink_parse(&d, (const uint8_t *)junk, sizeof(junk) - 1, NULL, &perr);
	if (rc == 0)
		pb_modem__hilink_doc_free(d); /* recovered */
	else
		assert_true(perr.offset <= sizeof(junk) - 1);
	assert_pb_error(pb_modem__hilink_parse(&d, (const uint8_t *)"", 0, NULL, &perr), PB_EMALFORMED);
}

static int hilink_parse_scenario(void *ctx)
{
	const char *xml = ctx;
	pb_hilink_doc *d;
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	int rc = pb_modem__hilink_parse(&d, (const uint8_t *)xml, strlen(xml), NULL, NULL);
	if (rc < 0)
		return rc;
	rc = pb_modem__hilink_doc_messages(d, &l);
	pb_modem__hilink_doc_free(d);
	pb_modem_msg_list_dispose(&l);
	return rc;
}

static void test_modem__hilink_parse_alloc_failures(void **state)
{
	(void)state;
	static const char xml[] =
		"<response><Count>2</Count><Messages>"
		"<Message><Smstat>0</Smstat><Index>1</Index><Phone>+1</Phone><Content>\x01\x02http://mmsc/x\x00</Content><SmsType>5</SmsType></Message>"
		"<Message><Index>x</Index></Message></Messages></response>";
	assert_true(pb_test_alloc_fail_each(hilink_parse_scenario, (void *)xml, NULL) > 3);
}

/* --- HiLink: against the emulator --------------------------------------------- */

static void open_hilink(pb_modem **m, const emu *e, const char *login)
{
	const char *pw = secret_file("secret\n", 0600);
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	o.url = e->url;
	o.username = "admin";
	o.password_file = pw;
	o.login = login;
	o.timeout_ms = 20000;
	o.poll_interval_ms = 100;
	assert_pb_ok(pb_modem_open(m, "hilink", &o));
	unlink(pw);
}

static void hilink_login_case(const char *ptype, const char *login)
{
	emu e;
	const char *args[] = { "--password-type", ptype, "--require-login", "--samples", NULL };
	emu_start(&e, "hilink-emulator.py", args);
	pb_modem *m;
	open_hilink(&m, &e, login);
	pb_modem_status st;
	assert_pb_ok(pb_modem_status_get(m, &st));
	assert_string_equal(st.operator_name, "Example Mobile");
	assert_string_equal(st.network_type, "LTE");
	assert_int_equal(st.signal_percent, 80);
	assert_int_equal(st.signal_dbm, -71);
	assert_int_equal(st.sim, PB_MODEM_SIM_READY);
	assert_int_equal(st.registration, PB_MODEM_REG_HOME);
	char *s = emu_http(&e, "/test/state", NULL);
	assert_non_null(strstr(s, "\"logins\": 1"));
	free(s);
	pb_modem_close(m);
	emu_stop(&e);
}

static void test_modem__hilink_login_type4(void **state) { (void)state; hilink_login_case("4", NULL); }
static void test_modem__hilink_login_type0(void **state) { (void)state; hilink_login_case("0", NULL); }
static void test_modem__hilink_login_type3(void **state) { (void)state; hilink_login_case("3", "auto"); }
static void test_modem__hilink_login_scram(void **state) { (void)state; hilink_login_case("-1", "auto"); }

static void test_modem__hilink_wrong_password(void **state)
{
	(void)state;
	emu e;
	const char *args[] = { "--password-type", "4", "--password", "other", NULL };
	emu_start(&e, "hilink-emulator.py", args);
	const char *pw = secret_file("secret\n", 0600);
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	o.url = e.url;
	o.password_file = pw;
	pb_modem *m;
	assert_pb_error(pb_modem_open(&m, "hilink", &o), PB_EAUTH);
	assert_non_null(strstr(pb_error_last()->message, "108006"));
	unlink(pw);
	emu_stop(&e);
}

static void test_modem__hilink_messages(void **state)
{
	(void)state;
	emu e;
	const char *args[] = { "--samples", "--no-sestokinfo", NULL };
	emu_start(&e, "hilink-emulator.py", args);
	pb_modem *m;
	open_hilink(&m, &e, "none");
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	assert_pb_ok(pb_modem_list(m, PB_MODEM_BOX_INBOX, &l));
	assert_int_equal(l.count, 7);
	assert_string_equal(find_msg(&l, "40001")->text, "Hello from the router");
	const pb_modem_msg *mms = find_msg(&l, "40002");
	assert_int_equal(mms->type, PB_MODEM_MSG_MMS);
	assert_string_equal(mms->content_location, "http://mmsc.example/mms?id=4");
	assert_int_equal(mms->raw[0], 0x01);
	assert_string_equal(find_msg(&l, "40003")->text, "Smile \xF0\x9F\x98\x80 please");
	assert_int_equal(find_msg(&l, "40004")->type, PB_MODEM_MSG_INCOMPLETE);
	assert_int_equal(find_msg(&l, "40005")->type, PB_MODEM_MSG_UNKNOWN);
	assert_string_equal(find_msg(&l, "40007")->text, "after the garbled one");
	size_t garbled = 0;
	for (size_t i = 0; i < l.count; i++)
		garbled += l.items[i].type == PB_MODEM_MSG_GARBLED;
	assert_int_equal(garbled, 1);
	pb_modem_msg_list_dispose(&l);

	/* a spent token (125002) is refreshed and the call retried */
	free(emu_http(&e, "/test/expire", ""));
	assert_pb_ok(pb_modem_mark_read(m, "40001"));
	assert_pb_ok(pb_modem_delete(m, "40003"));
	assert_pb_error(pb_modem_delete(m, "12345"), PB_EINVAL); /* router's 100006 */
	assert_non_null(strstr(pb_error_last()->message, "100006"));
	char *s = emu_http(&e, "/test/state", NULL);
	assert_null(strstr(s, "40003"));
	assert_non_null(strstr(s, "\"read\": [40001, 40007]"));
	free(s);

	assert_pb_ok(pb_modem_send_text(m, "+15559999", "a<b & \xF0\x9F\x98\x80", 0, NULL));
	s = emu_http(&e, "/test/sent", NULL);
	assert_non_null(strstr(s, "\"phone\": \"+15559999\""));
	assert_non_null(strstr(s, "\"content\": \"a<b & \\ud83d\\ude00\""));
	assert_non_null(strstr(s, "\"length\": 8"));
	free(s);

	char *reply = NULL;
	assert_pb_ok(pb_modem_ussd(m, "*100#", &reply));
	assert_string_equal(reply, "Balance: 5.00 EUR \xF0\x9F\x98\x80");
	pb_free(reply);
	pb_modem_forward f;
	assert_pb_error(pb_modem_forward_query(m, PB_MODEM_FWD_BUSY, &f), PB_EUNSUPPORTED);
	pb_modem_close(m);
	emu_stop(&e);
}

typedef struct watch_log {
	pb_modem_msg_list got;
	const emu *e;
	int polls;
	bool added;
} watch_log;

static int watch_collect(const pb_modem_event *ev, void *ud)
{
	watch_log *w = ud;
	if (ev->type != PB_MODEM_EVENT_MESSAGE)
		return 0;
	assert_pb_ok(pb_modem_msg_list_add(&w->got, ev->msg));
	if (!w->added && w->got.count >= 6) {
		/* a new message arrives while watching */
		free(emu_http(w->e, "/test/add", "<Message><Smstat>0</Smstat><Index>@INDEX@</Index><Phone>+1777</Phone>"
					       "<Content>late arrival</Content><Date>2024-05-02 09:00:00</Date>"
					       "<SmsType>1</SmsType></Message>"));
		w->added = true;
	}
	for (size_t i = 0; i < w->got.count; i++)
		if (w->got.items[i].text && strcmp(w->got.items[i].text, "late arrival") == 0 &&
		    find_msg(&w->got, "40004") && find_msg(&w->got, "40004")->type == PB_MODEM_MSG_TEXT)
			return 1;
	return 0;
}

static void test_modem__hilink_watch(void **state)
{
	(void)state;
	emu e;
	const char *args[] = { "--samples", "--lowercase", "--multipart-reads", "3", NULL };
	emu_start(&e, "hilink-emulator.py", args);
	pb_modem *m;
	open_hilink(&m, &e, "none");
	watch_log w = { PB_MODEM_MSG_LIST_INIT, &e, 0, false };
	assert_int_equal(pb_modem_watch(m, 0, DEADLINE_MS, watch_collect, &w), 1);
	/* every message once: 7 samples (the incomplete one only once complete) + 1 late */
	assert_int_equal(w.got.count, 8);
	for (size_t i = 0; i < w.got.count; i++)
		for (size_t j = i + 1; j < w.got.count; j++)
			if (w.got.items[i].id && w.got.items[j].id)
				assert_string_not_equal(w.got.items[i].id, w.got.items[j].id);
	assert_int_equal(find_msg(&w.got, "40004")->type, PB_MODEM_MSG_TEXT);
	assert_int_equal(find_msg(&w.got, "40002")->type, PB_MODEM_MSG_MMS);
	pb_modem_msg_list_dispose(&w.got);
	pb_modem_close(m);
	emu_stop(&e);
}

static void test_modem__hilink_single_message_and_fixture(void **state)
{
	(void)state;
	emu e;
	const char *args[] = { NULL };
	emu_start(&e, "hilink-emulator.py", args);
	free(emu_http(&e, "/test/add", "<Message><Smstat>0</Smstat><Index>@INDEX@</Index><Phone>+1</Phone>"
				       "<Content>only one</Content><SmsType>1</SmsType></Message>"));
	pb_modem *m;
	open_hilink(&m, &e, "none");
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	assert_pb_ok(pb_modem_list(m, PB_MODEM_BOX_INBOX, &l));
	assert_int_equal(l.count, 1);
	assert_string_equal(l.items[0].text, "only one");
	pb_modem_msg_list_dispose(&l);
	pb_modem_close(m);
	emu_stop(&e);

	const char *dir = pb_test_vectors_dir();
	if (!dir)
		pb_test_skip_no_vectors();
	char path[1024];
	snprintf(path, sizeof(path), "%s/hilink/SYNTHETIC-mms-smstype5-with-control-chars.xml", dir);
	const char *args2[] = { "--sms-list-file", path, NULL };
	emu_start(&e, "hilink-emulator.py", args2);
	open_hilink(&m, &e, "none");
	assert_pb_ok(pb_modem_list(m, PB_MODEM_BOX_INBOX, &l));
	assert_int_equal(l.count, 1);
	assert_int_equal(l.items[0].type, PB_MODEM_MSG_MMS);
	pb_modem_msg_list_dispose(&l);
	pb_modem_close(m);
	emu_stop(&e);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modem__unknown_backend),
		cmocka_unit_test(test_modem__credential_file_modes),
		cmocka_unit_test(test_modem__user_backend),
		cmocka_unit_test(test_modem__msg_list_alloc_failures),
		cmocka_unit_test(test_modem__hilink_type4_vector),
		cmocka_unit_test(test_modem__hilink_scram_vector),
		cmocka_unit_test(test_modem__hilink_neutralise_roundtrip),
		cmocka_unit_test(test_modem__hilink_vectors),
		cmocka_unit_test(test_modem__hilink_garbled_entries),
		cmocka_unit_test(test_modem__hilink_parse_alloc_failures),
		cmocka_unit_test(test_modem__hilink_login_type4),
		cmocka_unit_test(test_modem__hilink_login_type0),
		cmocka_unit_test(test_modem__hilink_login_type3),
		cmocka_unit_test(test_modem__hilink_login_scram),
		cmocka_unit_test(test_modem__hilink_wrong_password),
		cmocka_unit_test(test_modem__hilink_messages),
		cmocka_unit_test(test_modem__hilink_watch),
		cmocka_unit_test(test_modem__hilink_single_message_and_fixture),
	};
	return pb_test_run("modem", tests);
}
