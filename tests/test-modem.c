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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
	int in;          /* its stdin: control lines */
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
	int fds[2], ins[2];
	memset(e, 0, sizeof(*e));
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(ins), 0);
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
		dup2(ins[0], 0);
		close(fds[0]);
		close(fds[1]);
		close(ins[0]);
		close(ins[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	close(ins[0]);
	e->pid = pid;
	e->out = fds[0];
	e->in = ins[1];
	char line[256];
	size_t len = 0;
	e->ready[0] = '\0';
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

/* Read one line of the emulator's stdout starting with @prefix (others skipped). */
static char *emu_read_line(emu *e, const char *prefix)
{
	static char line[8192];
	size_t len = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { e->out, POLLIN, 0 };
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if ((t1.tv_sec - t0.tv_sec) * 1000 > DEADLINE_MS)
			fail_msg("emulator did not answer with %s", prefix);
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		if (read(e->out, line + len, 1) <= 0)
			fail_msg("emulator exited");
		if (line[len] == '\n') {
			line[len] = '\0';
			if (strncmp(line, prefix, strlen(prefix)) == 0)
				return line + strlen(prefix);
			len = 0;
		} else if (len < sizeof(line) - 2) {
			len++;
		}
	}
}

/* Send a control line to the emulator's stdin. */
static void emu_ctl(emu *e, const char *fmt, ...) PB_PRINTF(2, 3);
static void emu_ctl(emu *e, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	assert_int_equal(write(e->in, buf, (size_t)n), n);
}

static void emu_stop(emu *e)
{
	if (e->in > 0)
		close(e->in);
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

/* Durations are unsigned ms; more than INT_MAX (a C caller's -1) is refused
 * before anything is opened, naming the member. */
static void test_modem__timeouts_out_of_range(void **state)
{
	(void)state;
	pb_modem *m = (pb_modem *)1;
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	o.url = "http://127.0.0.1:9";
	o.timeout_ms = (unsigned)-1;
	assert_pb_error(pb_modem_open(&m, "hilink", &o), PB_EINVAL);
	assert_null(m);
	assert_non_null(strstr(pb_error_last()->message, "pb_modem_options.timeout_ms"));
	o.timeout_ms = 0;
	o.send_timeout_ms = 2147483648u;
	assert_pb_error(pb_modem_open(&m, "at", &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "pb_modem_options.send_timeout_ms"));
	o.send_timeout_ms = 0;
	o.poll_interval_ms = (unsigned)-1;
	assert_pb_error(pb_modem_open(&m, "hilink", &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "pb_modem_options.poll_interval_ms"));
}

static void test_modem__credential_file_modes(void **state)
{
	(void)state;
	char *s = NULL;
	const char *p = secret_file("hunter2\n", 0640);
	assert_pb_error(pb_secret_read(p, &s), PB_EAUTH);
	assert_non_null(strstr(pb_error_last()->message, "chmod 600"));
	p = secret_file("hunter2\r\n", 0600);
	assert_pb_ok(pb_secret_read(p, &s));
	assert_string_equal(s, "hunter2");
	pb_secret_free(s);
	p = secret_file("x", 0604);
	assert_pb_error(pb_secret_read(p, &s), PB_EAUTH);
	unlink(p);
	assert_pb_error(pb_secret_read(p, &s), PB_ENOTFOUND);
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
	.version = PB_MODEM_BACKEND_OPS_VERSION, .name = "fake", .open = fake_open, .close = fake_close, .list = fake_list,
};

static int count_events(const pb_modem_event *ev, void *ud)
{
	if (ev->type == PB_MODEM_EVENT_MESSAGE)
		(*(int *)ud)++;
	return 0;
}

static int stop_at_message(const pb_modem_event *ev, void *ud)
{
	(void)ud;
	return ev->type == PB_MODEM_EVENT_MESSAGE ? 7 : 0;
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
	/* a stop that comes before the watch starts ends it at once (not lost to
	 * the race), and is consumed: the next watch runs normally */
	pb_modem_stop(m);
	n = 0;
	assert_pb_ok(pb_modem_watch(m, 0, 60000, count_events, &n));
	assert_int_equal(n, 0);
	assert_pb_ok(pb_modem_watch(m, 0, 300, count_events, &n));
	assert_int_equal(n, 1);
	/* no time limit (PB_WAIT_FOREVER, what a C caller's -1 becomes): until the callback says */
	assert_int_equal(pb_modem_watch(m, 0, PB_WAIT_FOREVER, stop_at_message, NULL), 7);
	assert_int_equal(pb_modem_watch(m, 0, (unsigned)-1, stop_at_message, NULL), 7);
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
	uint8_t *raw = pb_test_read_file(dir, "hilink/scram-clientproof-vector.txt", &len);
	char *v = calloc(1, len + 1);
	memcpy(v, raw, len);
	free(raw);
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

/* A picture message (SmsType 5) whose <Content> spells the WAP push as raw
 * bytes, as Latin-1 characters in UTF-8, as hex digits or as base64: the
 * record carries the push bytes every time. */
static void hilink_mms_entry(const pb_buf *content, const pb_buf *push)
{
	pb_buf xml = PB_BUF_INIT;
	assert_pb_ok(pb_buf_puts(&xml, "<response><Count>1</Count><Messages><Message><Smstat>0</Smstat>"
				       "<Index>40031</Index><Phone>+4915112345678</Phone><Content>"));
	assert_pb_ok(pb_buf_put(&xml, content->data, content->len));
	assert_pb_ok(pb_buf_puts(&xml, "</Content><Date>2024-05-01 10:00:00</Date><SmsType>5</SmsType>"
				       "</Message></Messages></response>"));
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	parse_list(xml.data, xml.len, &l);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.items[0].type, PB_MODEM_MSG_MMS);
	assert_int_equal(l.items[0].raw_format, PB_MODEM_RAW_CONTENT);
	assert_int_equal(l.items[0].raw_len, push->len);
	assert_memory_equal(l.items[0].raw, push->data, push->len);
	assert_string_equal(l.items[0].content_location, "http://mmsc.example/m/pic-1");
	pb_modem_msg_list_dispose(&l);
	pb_buf_dispose(&xml);
}

static void test_modem__hilink_mms_content_spellings(void **state)
{
	(void)state;
	pb_mms_notification n = { "T-1", "+4915112345678/TYPE=PLMN", NULL, NULL, 4242, 0,
				  "http://mmsc.example/m/pic-1" };
	pb_buf pdu = PB_BUF_INIT, push = PB_BUF_INIT, c = PB_BUF_INIT;
	assert_pb_ok(pb_mms_encode_notification(&pdu, &n));
	assert_pb_ok(pb_wsp_push_encode(&push, 1, "application/vnd.wap.mms-message", 4, pdu.data, pdu.len));
	assert_true(push.data[0] < 0x20 && memchr(push.data, 0x84, push.len)); /* C0 and high bytes */

	/* raw (no '<' or '&' in this push) */
	assert_null(memchr(push.data, '<', push.len));
	assert_null(memchr(push.data, '&', push.len));
	hilink_mms_entry(&push, &push);
	/* each byte as a Latin-1 character, in UTF-8 */
	for (size_t i = 0; i < push.len; i++) {
		char u[4];
		assert_pb_ok(pb_buf_put(&c, u, pb_utf8_encode(push.data[i], u)));
	}
	hilink_mms_entry(&c, &push);
	/* hex digits, upper case */
	pb_buf_clear(&c);
	assert_pb_ok(pb_hex_encode(&c, push.data, push.len, PB_HEX_UPPER));
	hilink_mms_entry(&c, &push);
	/* base64 */
	pb_buf_clear(&c);
	assert_pb_ok(pb_base64_encode(&c, push.data, push.len, 0));
	hilink_mms_entry(&c, &push);

	/* no reading decodes: the bytes as given (the location found in the text) */
	pb_buf_clear(&c);
	assert_pb_ok(pb_buf_puts(&c, "\x01\x06 cut http://mmsc.example/m/pic-1"));
	pb_buf got = PB_BUF_INIT;
	assert_pb_ok(pb_modem__hilink_push_bytes(&got, c.data, c.len));
	assert_int_equal(got.len, c.len);
	assert_memory_equal(got.data, c.data, c.len);
	pb_buf_dispose(&got);
	/* hex digits that are not a push stay text */
	assert_pb_ok(pb_modem__hilink_push_bytes(&got, (const uint8_t *)"CAFE", 4));
	assert_int_equal(got.len, 4);
	assert_memory_equal(got.data, "CAFE", 4);
	pb_buf_dispose(&got);

	pb_buf_dispose(&c);
	pb_buf_dispose(&pdu);
	pb_buf_dispose(&push);
}

static int push_bytes_scenario(void *ctx)
{
	const pb_buf *in = ctx;
	pb_buf out = PB_BUF_INIT;
	int rc = pb_modem__hilink_push_bytes(&out, in->data, in->len);
	pb_buf_dispose(&out);
	return rc;
}

static void test_modem__hilink_push_bytes_alloc_failures(void **state)
{
	(void)state;
	pb_mms_notification n = { "T-2", NULL, NULL, NULL, 1, 0, "http://mmsc.example/x" };
	pb_buf pdu = PB_BUF_INIT, push = PB_BUF_INIT, b64 = PB_BUF_INIT;
	assert_pb_ok(pb_mms_encode_notification(&pdu, &n));
	assert_pb_ok(pb_wsp_push_encode(&push, 1, "application/vnd.wap.mms-message", 4, pdu.data, pdu.len));
	assert_pb_ok(pb_base64_encode(&b64, push.data, push.len, 0));
	assert_true(pb_test_alloc_fail_each(push_bytes_scenario, &b64, NULL) > 3);
	pb_buf_dispose(&pdu);
	pb_buf_dispose(&push);
	pb_buf_dispose(&b64);
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

/* The codes a send returns, and what each says was left behind. */
static void test_modem__send_fate(void **state)
{
	(void)state;
	assert_int_equal(pb_modem_send_fate(0), PB_MODEM_SEND_DONE);
	assert_int_equal(pb_modem_send_fate(PB_ETIMEOUT), PB_MODEM_SEND_UNCERTAIN);
	assert_int_equal(pb_modem_send_fate(PB_EEXISTS), PB_MODEM_SEND_UNCERTAIN);
	assert_int_equal(pb_modem_send_fate(PB_EPROTO), PB_MODEM_SEND_REFUSED);
	assert_int_equal(pb_modem_send_fate(PB_EINVAL), PB_MODEM_SEND_REFUSED);
	assert_int_equal(pb_modem_send_fate(PB_EIO), PB_MODEM_SEND_NOT_SENT);
	assert_int_equal(pb_modem_send_fate(PB_ENOTFOUND), PB_MODEM_SEND_NOT_SENT);
	assert_int_equal(pb_modem_send_fate(PB_EBUSY), PB_MODEM_SEND_NOT_SENT);
	assert_int_equal(pb_modem_send_fate(PB_EAUTH), PB_MODEM_SEND_NOT_SENT);
	assert_string_equal(pb_modem_send_fate_name(PB_MODEM_SEND_UNCERTAIN), "uncertain");
	assert_string_equal(pb_modem_send_fate_name(99), "?");
	/* nobody listening: the request was never sent */
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	o.url = "http://127.0.0.1:9"; /* discard: nothing listens on loopback */
	o.timeout_ms = 2000;
	pb_modem *m = NULL;
	int rc = pb_modem_open(&m, "hilink", &o);
	if (rc == 0) {
		rc = pb_modem_send_text(m, "+15559999", "x", 0, NULL);
		pb_modem_close(m);
	}
	assert_int_equal(pb_modem_send_fate(rc), PB_MODEM_SEND_NOT_SENT);
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

static void hilink_login_case(const char *ptype, const char *login, const char *extra)
{
	emu e;
	const char *args[] = { "--password-type", ptype, "--require-login", "--samples", extra, extra ? "--no-token-api" : NULL,
			       NULL };
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
	/* the router forgets the login: the next call logs in again by itself */
	free(emu_http(&e, "/test/logout", ""));
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	assert_pb_ok(pb_modem_list(m, PB_MODEM_BOX_INBOX, &l));
	assert_int_equal(l.count, 7);
	pb_modem_msg_list_dispose(&l);
	s = emu_http(&e, "/test/state", NULL);
	assert_non_null(strstr(s, "\"logins\": 2"));
	free(s);
	pb_modem_close(m);
	emu_stop(&e);
}

static void test_modem__hilink_login_type4(void **state) { (void)state; hilink_login_case("4", NULL, NULL); }
/* old firmware: tokens only from the home page's csrf_token meta tags */
static void test_modem__hilink_login_type0(void **state)
{
	(void)state;
	hilink_login_case("0", NULL, "--no-sestokinfo");
}
static void test_modem__hilink_login_type3(void **state) { (void)state; hilink_login_case("3", "auto", NULL); }
static void test_modem__hilink_login_scram(void **state) { (void)state; hilink_login_case("-1", "auto", NULL); }

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

	/* what a failed send left (pb_modem_send_fate()): the router busy
	 * (113053) sent nothing; what it sent is in its sent box (BoxType 2) */
	free(emu_http(&e, "/test/send-fault", "busy"));
	int src = pb_modem_send_text(m, "+15559999", "not now", 0, NULL);
	assert_int_equal(src, PB_EBUSY);
	assert_int_equal(pb_modem_send_fate(src), PB_MODEM_SEND_NOT_SENT);
	assert_pb_ok(pb_modem_list(m, PB_MODEM_BOX_SENT, &l));
	assert_int_equal(l.count, 1);
	assert_string_equal(l.items[0].number, "+15559999");
	assert_string_equal(l.items[0].text, "a<b & \xF0\x9F\x98\x80");
	assert_int_equal(l.items[0].state, PB_MODEM_STATE_SENT);
	pb_modem_msg_list_dispose(&l);

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


/* --- AT: line parsing ------------------------------------------------------------ */

#define L(s) s, strlen(s)

static void test_modem__at_classify(void **state)
{
	(void)state;
	int code;
	assert_int_equal(pb_modem__at_classify(L("OK"), &code), PB_AT_LINE_OK);
	assert_int_equal(pb_modem__at_classify(L("ERROR"), &code), PB_AT_LINE_ERROR);
	assert_int_equal(code, -1);
	assert_int_equal(pb_modem__at_classify(L("+CMS ERROR: 321"), &code), PB_AT_LINE_ERROR);
	assert_int_equal(code, 321);
	assert_int_equal(pb_modem__at_classify(L("+CME ERROR: SIM not inserted"), &code), PB_AT_LINE_ERROR);
	assert_int_equal(code, -1);
	assert_int_equal(pb_modem__at_classify(L("> "), &code), PB_AT_LINE_PROMPT);
	assert_int_equal(pb_modem__at_classify(L("+CMTI: \"ME\",3"), &code), PB_AT_LINE_UNSOLICITED);
	assert_int_equal(pb_modem__at_classify(L("^RSSI:17"), &code), PB_AT_LINE_UNSOLICITED);
	assert_int_equal(pb_modem__at_classify(L("+CMGL: 1,0,,23"), &code), PB_AT_LINE_DATA);
	assert_true(pb_modem__at_unsolicited_has_pdu(L("+CMT: ,23")));
	assert_false(pb_modem__at_unsolicited_has_pdu(L("+CMTI: \"SM\",1")));

	char mem[8];
	int idx, stat, len, dbm, pct, act, active, cls, t, m, dcs, mr;
	assert_pb_ok(pb_modem__at_parse_cmti(L("+CMTI: \"SM\",12"), mem, &idx));
	assert_string_equal(mem, "SM");
	assert_int_equal(idx, 12);
	assert_pb_error(pb_modem__at_parse_cmti(L("+CMTI: \"SM\""), mem, &idx), PB_EMALFORMED);
	assert_pb_ok(pb_modem__at_parse_cmgl(L("+CMGL: 4,1,\"Bob, the \\\"boss\\\"\",25"), &idx, &stat, &len));
	assert_int_equal(idx, 4);
	assert_int_equal(stat, 1);
	assert_int_equal(len, 25);
	assert_pb_ok(pb_modem__at_parse_cmgl(L("+CMGR: 0,,31"), &idx, &stat, &len));
	assert_int_equal(idx, -1);
	assert_int_equal(len, 31);
	assert_pb_error(pb_modem__at_parse_cmgl(L("+CMGL: x,1,,25"), &idx, &stat, &len), PB_EMALFORMED);
	assert_pb_error(pb_modem__at_parse_cmgl(L("+CMGL: 1,9,,25"), &idx, &stat, &len), PB_EMALFORMED);
	assert_pb_ok(pb_modem__at_parse_csq(L("+CSQ: 21,99"), &dbm, &pct));
	assert_int_equal(dbm, -71);
	assert_int_equal(pct, 67);
	assert_pb_ok(pb_modem__at_parse_csq(L("+CSQ: 99,99"), &dbm, &pct));
	assert_int_equal(dbm, PB_MODEM_SIGNAL_UNKNOWN);
	char name[64];
	assert_pb_ok(pb_modem__at_parse_cops(L("+COPS: 0,0,\"T-Mobile, DE\",7"), name, sizeof(name), &act));
	assert_string_equal(name, "T-Mobile, DE");
	assert_int_equal(act, 7);
	assert_pb_ok(pb_modem__at_parse_cops(L("+COPS: 0"), name, sizeof(name), &act));
	assert_string_equal(name, "");
	assert_pb_ok(pb_modem__at_parse_creg(L("+CREG: 2,5,\"00C3\",\"0000D2E1\",7"), &stat));
	assert_int_equal(stat, 5);
	assert_pb_ok(pb_modem__at_parse_creg(L("+CREG: 1,\"00C3\",\"D2E1\""), &stat));
	assert_int_equal(stat, 1);
	assert_int_equal(pb_modem__at_parse_cpin(L("+CPIN: SIM PIN")), PB_MODEM_SIM_PIN);
	assert_int_equal(pb_modem__at_parse_cpin(L("+CPIN: READY")), PB_MODEM_SIM_READY);
	assert_pb_ok(pb_modem__at_parse_ccfc(L("+CCFC: 1,1,\"+4930123456\",145,,,20"), &active, &cls, name,
					     sizeof(name), &t));
	assert_int_equal(active, 1);
	assert_string_equal(name, "+4930123456");
	assert_int_equal(t, 20);
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_modem__at_parse_cusd(L("+CUSD: 0,\"Your balance, sir\",15"), &m, &b, &dcs));
	assert_string_equal(pb_buf_cstr(&b), "Your balance, sir");
	assert_int_equal(dcs, 15);
	pb_buf_dispose(&b);
	assert_pb_ok(pb_modem__at_parse_cmgs(L("+CMGS: 201"), &mr));
	assert_int_equal(mr, 201);
	assert_pb_error(pb_modem__at_error("AT+CMGR=9", "+CMS ERROR: 321", 321, true), PB_ENOTFOUND);
	assert_non_null(strstr(pb_error_last()->message, "invalid memory index"));
	assert_pb_error(pb_modem__at_error("AT+CPIN?", "+CME ERROR: 10", 10, false), PB_ESTATE);
	assert_pb_error(pb_modem__at_error("AT+X", "ERROR", -1, false), PB_EPROTO);
}

static int at_listing_scenario(void *ctx)
{
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	int rc = pb_modem__at_parse_listing(ctx, 0, NULL, &l);
	pb_modem_msg_list_dispose(&l);
	return rc;
}

static void test_modem__at_listing(void **state)
{
	(void)state;
	static const char listing[] =
		"+CMGL: 1,0,,31\n07911326040000F00408915155002400004250100103000007CEF21DF4769701\n"
		"+CMGL: 2,1,,5\nZZ-NOT-HEX\n"
		"+CMGL: 3,3,,9\n0011000B915155777700F7000002C834\n"
		"stray words\n"
		"+CMGL: 4,0,,31\n";
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	assert_pb_ok(pb_modem__at_parse_listing(listing, 0, NULL, &l));
	assert_int_equal(l.count, 5);
	assert_string_equal(l.items[0].text, "New one");
	assert_int_equal(l.items[1].type, PB_MODEM_MSG_GARBLED);
	assert_int_equal(l.items[2].type, PB_MODEM_MSG_GARBLED); /* a SUBMIT whose user data runs past its end */
	assert_int_equal(l.items[3].type, PB_MODEM_MSG_GARBLED);
	assert_memory_equal(l.items[3].raw, "stray words", 11);
	assert_int_equal(l.items[4].type, PB_MODEM_MSG_GARBLED);
	assert_non_null(strstr(l.items[4].error, "without its PDU"));
	pb_modem_msg_list_dispose(&l);
	assert_pb_ok(pb_modem__at_parse_listing(listing, PB_MODEM_BOX_SENT, NULL, &l));
	pb_modem_msg_list_dispose(&l);
	assert_true(pb_test_alloc_fail_each(at_listing_scenario, (void *)listing, NULL) > 5);
}

static int eagle_rows_scenario(void *ctx)
{
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	int rc = pb_modem__smseagle_parse_rows(ctx, strlen(ctx), &l, NULL);
	pb_modem_msg_list_dispose(&l);
	return rc;
}

static void test_modem__smseagle_alloc_failures(void **state)
{
	(void)state;
	static const char rows[] =
		"{\"result\":[{\"ID\":\"7\",\"SenderNumber\":\"+1555\",\"TextDecoded\":\"hi\"},{\"SenderNumber\":\"+1\"},"
		"{\"ID\":8,\"message_type\":\"mms\",\"attachments\":[{\"content_type\":\"image/png\",\"data\":\"aGk=\"}]}]}";
	assert_true(pb_test_alloc_fail_each(eagle_rows_scenario, (void *)rows, NULL) > 3);
}

/* The parts of a concatenated message are rows of their own, each with its
 * UDH in hex (as Gammu's inbox keeps them): one record, ids of every part,
 * text in order, at the place of the first part; INCOMPLETE while a part is
 * missing; a 16-bit reference; other senders' parts and broken UDHs apart. */
static void test_modem__smseagle_concatenated(void **state)
{
	(void)state;
	const char rows[] =
		"{\"result\":["
		"{\"ID\":\"20\",\"SenderNumber\":\"+1555\",\"TextDecoded\":\"two \",\"UDH\":\"050003A70302\","
		"\"ReceivingDateTime\":\"2024-05-01 10:00:05\"},"
		"{\"ID\":\"21\",\"SenderNumber\":\"+1555\",\"TextDecoded\":\"single\",\"UDH\":\"\"},"
		"{\"ID\":\"22\",\"SenderNumber\":\"+1555\",\"TextDecoded\":\"one \",\"UDH\":\"050003a70301\","
		"\"ReceivingDateTime\":\"2024-05-01 10:00:04\",\"readed\":\"true\"},"
		"{\"ID\":\"23\",\"SenderNumber\":\"+1666\",\"TextDecoded\":\"other sender\",\"UDH\":\"050003A70201\"},"
		"{\"ID\":\"24\",\"SenderNumber\":\"+1555\",\"TextDecoded\":\"three\",\"UDH\":\"050003A70303\"},"
		"{\"ID\":\"25\",\"SenderNumber\":\"+1777\",\"TextDecoded\":\"B\",\"UDH\":\"06080401020202\"},"
		"{\"ID\":\"26\",\"SenderNumber\":\"+1777\",\"TextDecoded\":\"A\",\"UDH\":\"06080401020201\"},"
		"{\"ID\":\"27\",\"SenderNumber\":\"+1888\",\"TextDecoded\":\"bad udh\",\"UDH\":\"05000\"},"
		"{\"ID\":\"28\",\"SenderNumber\":\"+1888\",\"TextDecoded\":\"cut udh\",\"UDH\":\"0900\"}"
		"]}";
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	assert_pb_ok(pb_modem__smseagle_parse_rows(rows, sizeof(rows) - 1, &l, NULL));
	assert_int_equal(l.count, 6);
	assert_int_equal(l.items[0].type, PB_MODEM_MSG_TEXT);
	assert_string_equal(l.items[0].id, "22,20,24");
	assert_string_equal(l.items[0].text, "one two three");
	assert_string_equal(l.items[0].time, "2024-05-01 10:00:04");
	assert_int_equal(l.items[0].state, PB_MODEM_STATE_UNREAD);
	assert_string_equal(l.items[1].text, "single");
	assert_int_equal(l.items[2].type, PB_MODEM_MSG_INCOMPLETE);
	assert_string_equal(l.items[2].id, "23");
	assert_string_equal(l.items[2].text, "other sender [part 2 of 2 missing]");
	assert_int_equal(l.items[3].type, PB_MODEM_MSG_TEXT);
	assert_string_equal(l.items[3].id, "26,25");
	assert_string_equal(l.items[3].text, "AB");
	assert_string_equal(l.items[4].text, "bad udh");
	assert_int_equal(l.items[4].type, PB_MODEM_MSG_TEXT);
	assert_string_equal(l.items[5].text, "cut udh");
	pb_modem_msg_list_dispose(&l);
	assert_true(pb_test_alloc_fail_each(eagle_rows_scenario, (void *)rows, NULL) > 3);
}

/* --- AT: against the modem emulator on a pseudo-terminal ---------------------- */

#define PDU_NEW "07911326040000F00408915155002400004250100103000007CEF21DF4769701"
#define PDU_DIRECT "07911326040000F0040891515500340000425010010300000FD0FA1C5D2683C86979794C67E701"
#define PDU_INSIDE "07911326040000F0040891515500440000425010010300001149F73C4D2E83E8E83228EC9EDFCB72"
#define PDU_REPLUG "07911326040000F0040891515500540000425010010300000C4133BD2C07C9CB7076FD0C"
#define PDU_QUIET "07911326040000F0040891515500640000425010010300000FCEB2BD2C0785DDEE77DD3D2E9301"
#define PDU_REPORT "07911326040000F00605089151559999425010010300004250100103000000"

static const char *tty_link(void)
{
	static char path[128];
	snprintf(path, sizeof(path), "/tmp/pb-modem-test-%d-tty", (int)getpid());
	return path;
}

static void at_start(emu *e, const char *extra)
{
	const char *args[] = { "--link", tty_link(), "--samples", extra, NULL };
	emu_start(e, "at-modem-emulator.py", args);
}

static void open_at(pb_modem **m, int timeout_ms)
{
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	o.device = tty_link();
	o.timeout_ms = timeout_ms;
	o.poll_interval_ms = 200;
	assert_pb_ok(pb_modem_open(m, "at", &o));
}

static void test_modem__at_status_and_messages(void **state)
{
	(void)state;
	emu e;
	at_start(&e, NULL);
	pb_modem *m;
	open_at(&m, 10000);
	pb_modem_status st;
	assert_pb_ok(pb_modem_status_get(m, &st));
	assert_string_equal(st.operator_name, "Example Mobile");
	assert_string_equal(st.network_type, "LTE");
	assert_int_equal(st.registration, PB_MODEM_REG_ROAMING);
	assert_int_equal(st.signal_dbm, -71);
	assert_int_equal(st.signal_percent, 67);
	assert_int_equal(st.sim, PB_MODEM_SIM_READY);

	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	assert_pb_ok(pb_modem_list(m, PB_MODEM_BOX_INBOX, &l));
	assert_int_equal(l.count, 5);
	const pb_modem_msg *t = find_msg(&l, "1");
	assert_int_equal(t->type, PB_MODEM_MSG_TEXT);
	assert_string_equal(t->text, "Hello from the stick");
	assert_string_equal(t->number, "+15550001");
	assert_string_equal(t->time, "2024-05-01T10:30:00+00:00");
	assert_int_equal(t->raw_format, PB_MODEM_RAW_PDU);
	pb_sms_message sms;
	assert_pb_ok(pb_modem_msg_decode_sms(t, &sms, NULL));
	assert_string_equal(sms.text, "Hello from the stick");
	assert_int_equal(find_msg(&l, "2")->type, PB_MODEM_MSG_MMS);
	assert_int_equal(find_msg(&l, "3")->type, PB_MODEM_MSG_MMS);
	const pb_modem_msg *g = find_msg(&l, "4");
	assert_int_equal(g->type, PB_MODEM_MSG_GARBLED);
	assert_memory_equal(g->raw, "ZZ-NOT-HEX", 10);
	assert_string_equal(find_msg(&l, "5")->text, "After the garbled one");
	pb_modem_msg_list_dispose(&l);

	pb_modem_msg one;
	assert_pb_ok(pb_modem_read(m, "5", &one));
	assert_string_equal(one.text, "After the garbled one");
	pb_modem_msg_dispose(&one);
	assert_pb_error(pb_modem_read(m, "77", &one), PB_ENOTFOUND);
	assert_pb_error(pb_modem_read(m, "1;AT+CFUN=0", &one), PB_EINVAL);
	assert_pb_ok(pb_modem_delete(m, "1"));
	assert_pb_ok(pb_modem_delete(m, "2,3"));
	assert_pb_ok(pb_modem_list(m, PB_MODEM_BOX_INBOX, &l));
	assert_int_equal(l.count, 2);
	pb_modem_msg_list_dispose(&l);

	/* sending: text split and encoded by the SMS codec, and a raw TPDU */
	int ref = -1;
	assert_pb_ok(pb_modem_send_text(m, "+15557777", "Hi there", 0, &ref));
	assert_int_equal(ref, 1);
	char long_text[400];
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	assert_pb_ok(pb_modem_send_text(m, "+15557777", long_text, PB_MODEM_SEND_REPORT, &ref));
	assert_int_equal(ref, 4); /* three parts of 153 septets */
	const uint8_t tpdu[] = { 0x01, 0x00, 0x0B, 0x91, 0x51, 0x55, 0x77, 0x77, 0xF7, 0x00, 0x00, 0x00, 0x02, 0xC8, 0x34 };
	assert_pb_ok(pb_modem_send_pdu(m, tpdu, sizeof(tpdu), &ref));
	assert_int_equal(ref, 5);
	/* ERROR before the prompt: nothing was sent (pb_modem_send_fate()) */
	emu_ctl(&e, "cmgs-error 1");
	int src = pb_modem_send_pdu(m, tpdu, sizeof(tpdu), &ref);
	assert_int_equal(pb_modem_send_fate(src), PB_MODEM_SEND_NOT_SENT);
	assert_non_null(strstr(pb_error_last()->message, "nothing was sent"));
	emu_ctl(&e, "sent?");
	char *sent = emu_read_line(&e, "SENT ");
	char *first = strtok(sent, ",");
	assert_non_null(first);
	pb_sms_message s2;
	uint8_t scratch[200];
	assert_pb_ok(pb_sms_decode_hex(&s2, first, strlen(first), PB_SMS_DECODE_SMSC, scratch, sizeof(scratch), NULL));
	assert_int_equal(s2.type, PB_SMS_SUBMIT);
	assert_string_equal(s2.text, "Hi there");
	assert_string_equal(s2.address.number, "+15557777");

	/* call forwarding to the VoIP server, and USSD */
	pb_modem_forward f;
	assert_pb_ok(pb_modem_forward_query(m, PB_MODEM_FWD_NOT_REACHABLE, &f));
	assert_false(f.active);
	assert_pb_ok(pb_modem_forward_set(m, PB_MODEM_FWD_NOT_REACHABLE, "+4930555", -1));
	assert_pb_ok(pb_modem_forward_query(m, PB_MODEM_FWD_NOT_REACHABLE, &f));
	assert_true(f.active);
	assert_string_equal(f.number, "+4930555");
	assert_pb_error(pb_modem_forward_set(m, PB_MODEM_FWD_BUSY, "\"+1\";AT", -1), PB_EINVAL);
	/* the reason is a pb_modem_fwd_reason (an unsigned enum with GCC): a
	 * value outside it, negative ones too, is refused before the modem */
	assert_pb_error(pb_modem_forward_query(m, (pb_modem_fwd_reason)-1, &f), PB_EINVAL);
	assert_pb_error(pb_modem_forward_set(m, (pb_modem_fwd_reason)6, "+4930555", -1), PB_EINVAL);
	assert_pb_ok(pb_modem_forward_set(m, PB_MODEM_FWD_NOT_REACHABLE, NULL, -1));
	assert_pb_ok(pb_modem_forward_query(m, PB_MODEM_FWD_NOT_REACHABLE, &f));
	assert_false(f.active);
	char *reply = NULL;
	assert_pb_ok(pb_modem_ussd(m, "*100#", &reply));
	assert_string_equal(reply, "Balance: 5.00 \xE2\x82\xAC");
	pb_free(reply);
	pb_modem_close(m);
	emu_stop(&e);
}

typedef struct at_watch {
	emu *e;
	int step;
	int errors, recovered;
	pb_modem_msg_list got;
} at_watch;

static bool got_text(const at_watch *w, const char *text)
{
	for (size_t i = 0; i < w->got.count; i++)
		if (w->got.items[i].text && strcmp(w->got.items[i].text, text) == 0)
			return true;
	return false;
}

static int at_watch_cb(const pb_modem_event *ev, void *ud)
{
	at_watch *w = ud;
	if (ev->type == PB_MODEM_EVENT_ERROR)
		w->errors++;
	if (ev->type == PB_MODEM_EVENT_RECOVERED)
		w->recovered++;
	if (ev->type == PB_MODEM_EVENT_MESSAGE)
		assert_pb_ok(pb_modem_msg_list_add(&w->got, ev->msg));
	/* the scenario moves on as each expectation is met */
	switch (w->step) {
	case 0: /* the four stored messages (the push parts joined as one) */
		if (w->got.count == 4) {
			emu_ctl(w->e, "deliver " PDU_NEW);
			emu_ctl(w->e, "direct " PDU_DIRECT);
			emu_ctl(w->e, "report " PDU_REPORT);
			w->step++;
		}
		break;
	case 1:
		if (got_text(w, "New one") && got_text(w, "Pushed directly") && w->got.count == 7) {
			emu_ctl(w->e, "deliver-quiet " PDU_QUIET); /* a stick that never says +CMTI */
			/* and a +CMTI in the middle of the next listing's lines */
			emu_ctl(w->e, "deliver-inside " PDU_INSIDE);
			w->step++;
		}
		break;
	case 2:
		if (got_text(w, "Inside the answer") && got_text(w, "Never announced")) {
			emu_ctl(w->e, "unplug");
			w->step++;
		}
		break;
	case 3:
		if (w->errors > 0) {
			emu_ctl(w->e, "replug");
			emu_ctl(w->e, "deliver-quiet " PDU_REPLUG);
			w->step++;
		}
		break;
	case 4:
		if (w->recovered > 0 && got_text(w, "After replug"))
			return 1;
		break;
	}
	return 0;
}

static void test_modem__at_watch(void **state)
{
	(void)state;
	emu e;
	at_start(&e, NULL);
	pb_modem *m;
	open_at(&m, 3000);
	at_watch w = { &e, 0, 0, 0, PB_MODEM_MSG_LIST_INIT };
	assert_int_equal(pb_modem_watch(m, 0, DEADLINE_MS * 2, at_watch_cb, &w), 1);
	assert_int_equal(w.step, 4);
	/* each message exactly once */
	for (size_t i = 0; i < w.got.count; i++)
		for (size_t j = i + 1; j < w.got.count; j++)
			if (w.got.items[i].id && w.got.items[j].id)
				assert_string_not_equal(w.got.items[i].id, w.got.items[j].id);
	size_t mms = 0, garbled = 0, reports = 0;
	for (size_t i = 0; i < w.got.count; i++) {
		const pb_modem_msg *x = &w.got.items[i];
		if (x->type == PB_MODEM_MSG_MMS) {
			mms++;
			assert_string_equal(x->id, "2,3");
			assert_int_equal(x->raw_format, PB_MODEM_RAW_PUSH);
			assert_int_equal(x->raw[1], 0x06); /* WSP push */
			assert_string_equal(x->content_location, "http://mmsc.example/mms/0123456789abcdef");
			/* what the WAP decoder makes of the joined push */
			pb_mms_message *n = NULL;
			assert_pb_ok(pb_mms_decode_push(&n, NULL, x->raw, x->raw_len, NULL));
			assert_string_equal(n->transaction_id, "T20240501");
			assert_string_equal(n->from, "+15550100");
			pb_mms_message_free(n);
		}
		garbled += x->type == PB_MODEM_MSG_GARBLED;
		reports += x->type == PB_MODEM_MSG_REPORT;
	}
	assert_int_equal(mms, 1);
	assert_int_equal(garbled, 1);
	assert_int_equal(reports, 1);
	pb_modem_msg_list_dispose(&w.got);
	pb_modem_close(m);
	emu_stop(&e);
}

static void test_modem__at_echo_stays_on(void **state)
{
	(void)state;
	emu e;
	at_start(&e, "--echo-always");
	pb_modem *m;
	open_at(&m, 5000);
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	assert_pb_ok(pb_modem_list(m, PB_MODEM_BOX_INBOX, &l));
	assert_int_equal(l.count, 5);
	assert_string_equal(find_msg(&l, "1")->text, "Hello from the stick");
	pb_modem_msg_list_dispose(&l);
	/* the echoed PDU after the prompt is not taken for the answer */
	int ref = -1;
	assert_pb_ok(pb_modem_send_text(m, "+15557777", "echo echo", 0, &ref));
	assert_int_equal(ref, 1);
	pb_modem_status st;
	assert_pb_ok(pb_modem_status_get(m, &st));
	assert_string_equal(st.operator_name, "Example Mobile");
	pb_modem_close(m);
	emu_stop(&e);
}

static void test_modem__at_hung_modem(void **state)
{
	(void)state;
	emu e;
	at_start(&e, "--no-cnmi");
	pb_modem *m;
	open_at(&m, 1000);
	emu_ctl(&e, "silent on");
	pb_modem_status st;
	assert_pb_error(pb_modem_status_get(m, &st), PB_ETIMEOUT);
	assert_non_null(strstr(pb_error_last()->message, "did not answer"));
	emu_ctl(&e, "silent off");
	/* the next call reopens the line and initialises the modem again */
	int rc = PB_EIO;
	for (int i = 0; i < 100 && rc != 0; i++) {
		rc = pb_modem_status_get(m, &st);
		if (rc != 0) {
			struct timespec ts = { 0, 200 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	assert_pb_ok(rc);
	assert_string_equal(st.operator_name, "Example Mobile");
	pb_modem_close(m);
	emu_stop(&e);
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	o.device = "/nonexistent/ttyUSB9";
	assert_pb_error(pb_modem_open(&m, "at", &o), PB_ENOTFOUND);
}

/* A program killed between AT+CMGS=n and the PDU leaves the modem in its
 * "> " prompt, taking every byte as PDU text: opening it again must leave
 * the prompt (ESC) before the first command, and send nothing. */
static void test_modem__at_left_in_prompt(void **state)
{
	(void)state;
	emu e;
	at_start(&e, NULL);
	int fd = open(tty_link(), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(fd >= 0);
	static const char cmgs[] = "AT+CMGS=20\r";
	assert_int_equal(write(fd, cmgs, sizeof(cmgs) - 1), (ssize_t)(sizeof(cmgs) - 1));
	bool prompt = false;
	for (int i = 0; i < 500 && !prompt; i++) { /* until the emulator has taken the command */
		emu_ctl(&e, "prompt?");
		prompt = strcmp(emu_read_line(&e, "PROMPT "), "yes") == 0;
		if (!prompt) {
			struct timespec ts = { 0, 20 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	assert_true(prompt);
	close(fd); /* killed: the modem stays in the prompt */
	pb_modem *m;
	open_at(&m, 2000);
	emu_ctl(&e, "prompt?");
	assert_string_equal(emu_read_line(&e, "PROMPT "), "no");
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	assert_pb_ok(pb_modem_list(m, PB_MODEM_BOX_INBOX, &l));
	assert_int_equal(l.count, 5);
	pb_modem_msg_list_dispose(&l);
	int ref = -1;
	assert_pb_ok(pb_modem_send_text(m, "+15557777", "after the prompt", 0, &ref));
	emu_ctl(&e, "sent?");
	const char *sent = emu_read_line(&e, "SENT ");
	assert_true(sent[0] != '\0');
	assert_null(strchr(sent, ',')); /* one PDU: the cancelled one never went out */
	pb_modem_close(m);
	emu_stop(&e);
}

/* A PDU the modem took but never answered may have gone out: the send is
 * uncertain, never "not sent", and comes back after send_timeout_ms, not
 * the default 60 s. The next send leaves any prompt (ESC) and works, and
 * the unanswered message reached the modem exactly once. */
static void test_modem__at_send_unanswered(void **state)
{
	(void)state;
	emu e;
	at_start(&e, NULL);
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	o.device = tty_link();
	o.timeout_ms = 5000;
	o.send_timeout_ms = 1500;
	pb_modem *m;
	assert_pb_ok(pb_modem_open(&m, "at", &o));
	emu_ctl(&e, "cmgs-swallow 1");
	int ref = -1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = pb_modem_send_text(m, "+15557777", "answer lost", 0, &ref);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(rc, PB_ETIMEOUT);
	assert_int_equal(pb_modem_send_fate(rc), PB_MODEM_SEND_UNCERTAIN);
	assert_non_null(strstr(pb_error_last()->message, "may have gone out"));
	assert_true(t1.tv_sec - t0.tv_sec < 30); /* the configured wait, not 60 s */
	emu_ctl(&e, "prompt?");
	assert_string_equal(emu_read_line(&e, "PROMPT "), "no");
	assert_pb_ok(pb_modem_send_text(m, "+15557777", "the next one", 0, &ref));
	pb_modem_close(m);

	emu_ctl(&e, "sent?");
	char *sent = emu_read_line(&e, "SENT ");
	const char *want[] = { "answer lost", "the next one" };
	size_t n = 0;
	for (char *save = NULL, *h = strtok_r(sent, ",", &save); h; h = strtok_r(NULL, ",", &save), n++) {
		assert_true(n < PB_ARRAY_SIZE(want));
		pb_sms_message s;
		uint8_t scratch[200];
		assert_pb_ok(pb_sms_decode_hex(&s, h, strlen(h), PB_SMS_DECODE_SMSC, scratch, sizeof(scratch), NULL));
		assert_string_equal(s.text, want[n]);
	}
	assert_int_equal(n, 2); /* the unanswered one once, never again */

	/* a caller built against version 1 of the options (no send_timeout_ms) still opens */
	o.version = 1;
	assert_pb_ok(pb_modem_open(&m, "at", &o));
	assert_pb_ok(pb_modem_send_text(m, "+15557777", "version 1", 0, &ref));
	pb_modem_close(m);
	emu_stop(&e);
}

/* --- incomplete messages across watch calls and restarts -------------------------- */

/* A reassembly store in memory, standing in for pb_store's SMS parts: it
 * outlives the modem objects, as the database outlives a daemon. */
typedef struct mem_part {
	pb_sms_group_key key;
	uint8_t seq;
	uint8_t pdu[200];
	size_t len;
	unsigned flags;
	int64_t received;
} mem_part;

typedef struct mem_store {
	mem_part parts[32];
	size_t n;
} mem_store;

static bool mem_same(const pb_sms_group_key *a, const pb_sms_group_key *b)
{
	return a->ref == b->ref && a->total == b->total && a->dst_port == b->dst_port &&
	       a->src_port == b->src_port && strcmp(a->originator, b->originator) == 0;
}

static int mem_save(const pb_sms_group_key *key, uint8_t seq, const uint8_t *pdu, size_t len, unsigned flags,
		    int64_t received, void *ud)
{
	mem_store *ms = ud;
	for (size_t i = 0; i < ms->n; i++)
		if (mem_same(&ms->parts[i].key, key) && ms->parts[i].seq == seq)
			return 0;
	assert_true(ms->n < PB_ARRAY_SIZE(ms->parts) && len <= sizeof(ms->parts[0].pdu));
	mem_part *p = &ms->parts[ms->n++];
	p->key = *key;
	p->seq = seq;
	memcpy(p->pdu, pdu, len);
	p->len = len;
	p->flags = flags;
	p->received = received;
	return 0;
}

static int mem_delete(const pb_sms_group_key *key, void *ud)
{
	mem_store *ms = ud;
	for (size_t i = 0; i < ms->n;)
		if (mem_same(&ms->parts[i].key, key))
			ms->parts[i] = ms->parts[--ms->n];
		else
			i++;
	return 0;
}

static int mem_load(pb_sms_stored_part_cb cb, void *cb_ud, void *ud)
{
	mem_store *ms = ud;
	for (size_t i = 0; i < ms->n; i++) {
		int rc = cb(&ms->parts[i].key, ms->parts[i].seq, ms->parts[i].pdu, ms->parts[i].len,
			    ms->parts[i].flags, ms->parts[i].received, cb_ud);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const pb_sms_reassembly_store_ops mem_ops = { PB_SMS_REASSEMBLY_STORE_VERSION, mem_save, mem_delete,
						     mem_load };

#define INCOMPLETE_MS 1500

static void watch_setup(pb_modem *m, mem_store *ms)
{
	pb_modem_watch_options o = PB_MODEM_WATCH_OPTIONS_INIT;
	o.incomplete_timeout_ms = (unsigned)-1; /* a C caller's -1: refused, the setup unchanged */
	assert_pb_error(pb_modem_watch_setup(m, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "pb_modem_watch_options.incomplete_timeout_ms"));
	o.incomplete_timeout_ms = INCOMPLETE_MS;
	o.store = &mem_ops;
	o.store_userdata = ms;
	assert_pb_ok(pb_modem_watch_setup(m, &o));
}

static int64_t wall_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct incomplete_log {
	pb_modem_msg_list got; /* the incomplete messages reported */
	const char *number;    /* only those from this number count */
	pb_modem *m;
} incomplete_log;

/* As the bridge does: store it (here: keep it), then delete it. */
static int incomplete_cb(const pb_modem_event *ev, void *ud)
{
	incomplete_log *w = ud;
	if (ev->type != PB_MODEM_EVENT_MESSAGE || !ev->msg->number || strcmp(ev->msg->number, w->number) != 0)
		return 0;
	assert_pb_ok(pb_modem_msg_list_add(&w->got, ev->msg));
	assert_pb_ok(pb_modem_delete(w->m, ev->msg->id));
	return 0;
}

typedef void (*reopen_fn)(pb_modem **m, const emu *e);

/*
 * The daemon's rhythm: short watch calls, one after another. Once the store
 * holds what was seen (@saved entries), the modem is closed and opened again
 * (a restart) and the store read back. The incomplete message must come out
 * once, not before the timeout counted from its first sighting.
 */
static void watch_across_restart(pb_modem **m, const emu *e, reopen_fn reopen, mem_store *ms, size_t saved,
				 incomplete_log *w)
{
	int64_t t0 = wall_now_ms();
	watch_setup(*m, ms);
	bool restarted = false;
	while (w->got.count == 0 && wall_now_ms() - t0 < DEADLINE_MS) {
		w->m = *m;
		assert_int_equal(pb_modem_watch(*m, 0, 300, incomplete_cb, w), 0);
		if (!restarted && ms->n >= saved) {
			pb_modem_close(*m);
			reopen(m, e);
			watch_setup(*m, ms);
			restarted = true;
		}
	}
	assert_true(restarted);
	assert_int_equal(w->got.count, 1);
	assert_true(wall_now_ms() - t0 >= INCOMPLETE_MS);
	assert_int_equal(w->got.items[0].type, PB_MODEM_MSG_INCOMPLETE);
	/* a few more calls: reported once, and nothing of it is left in the
	 * store once it has left the box */
	w->m = *m;
	for (int i = 0; i < 3; i++)
		assert_int_equal(pb_modem_watch(*m, 0, 300, incomplete_cb, w), 0);
	assert_int_equal(w->got.count, 1);
	assert_int_equal(ms->n, 0);
}

/* An SMS-DELIVER part in UCS-2 from +15552700, as a modem lists it. */
static void ucs2_part(char *hex, size_t size, uint8_t ref, uint8_t total, uint8_t seq, const char *ascii)
{
	size_t n = strlen(ascii);
	int k = snprintf(hex, size, "07911326040000F0440B915155720000F0000842501001030000%02X050003%02X%02X%02X",
			 (unsigned)(6 + 2 * n), ref, total, seq);
	for (size_t i = 0; i < n && (size_t)k + 4 < size; i++)
		k += snprintf(hex + k, size - (size_t)k, "00%02X", (unsigned char)ascii[i]);
}

static void reopen_at(pb_modem **m, const emu *e)
{
	(void)e;
	open_at(m, 3000);
}

static void test_modem__at_incomplete_after_timeout(void **state)
{
	(void)state;
	emu e;
	at_start(&e, NULL);
	pb_modem *m;
	open_at(&m, 3000);
	char hex[400];
	ucs2_part(hex, sizeof(hex), 0x5A, 3, 1, "one");
	emu_ctl(&e, "deliver %s", hex);
	ucs2_part(hex, sizeof(hex), 0x5A, 3, 3, "three");
	emu_ctl(&e, "deliver %s", hex);
	incomplete_log w = { PB_MODEM_MSG_LIST_INIT, "+15552700000", NULL };
	mem_store ms = { .n = 0 };
	watch_across_restart(&m, &e, reopen_at, &ms, 2, &w);
	assert_string_equal(w.got.items[0].text, "one [part 2 of 3 missing] three");
	assert_non_null(strchr(w.got.items[0].id, ','));
	/* the parts left the box only when the caller deleted them */
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	assert_pb_ok(pb_modem_list(m, PB_MODEM_BOX_INBOX, &l));
	for (size_t i = 0; i < l.count; i++)
		assert_true(!l.items[i].number || strcmp(l.items[i].number, "+15552700000") != 0);
	pb_modem_msg_list_dispose(&l);
	pb_modem_msg_list_dispose(&w.got);
	pb_modem_close(m);
	emu_stop(&e);
}

static void reopen_hilink(pb_modem **m, const emu *e)
{
	open_hilink(m, e, "none");
}

static void test_modem__hilink_incomplete_after_timeout(void **state)
{
	(void)state;
	emu e;
	const char *args[] = { NULL };
	emu_start(&e, "hilink-emulator.py", args);
	free(emu_http(&e, "/test/add-sms?phone=%2B15552700000&smstype=2&complete=never", "the parts there"));
	pb_modem *m;
	open_hilink(&m, &e, "none");
	incomplete_log w = { PB_MODEM_MSG_LIST_INIT, "+15552700000", NULL };
	mem_store ms = { .n = 0 };
	watch_across_restart(&m, &e, reopen_hilink, &ms, 1, &w);
	assert_string_equal(w.got.items[0].text, "the parts there");
	char *s = emu_http(&e, "/test/state", NULL);
	assert_non_null(strstr(s, "\"inbox\": []"));
	free(s);
	pb_modem_msg_list_dispose(&w.got);
	pb_modem_close(m);
	emu_stop(&e);
}

/* --- SMSEagle ------------------------------------------------------------------- */

static void test_modem__smseagle_json(void **state)
{
	(void)state;
	const char rows[] =
		"{\"result\":[{\"ID\":\"7\",\"SenderNumber\":\"+1555\",\"TextDecoded\":\"hi\",\"readed\":\"true\","
		"\"ReceivingDateTime\":\"2024-05-01 10:00:00\"},{\"SenderNumber\":\"+1\"},42,"
		"{\"ID\":8,\"message_type\":\"mms\",\"attachments\":[{\"content_type\":\"text/plain\",\"data\":\"aGk=\"}]},"
		"{\"ID\":\"9\",\"message_type\":\"fax\"}]}";
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	pb_parse_error perr;
	assert_pb_ok(pb_modem__smseagle_parse_rows(rows, sizeof(rows) - 1, &l, &perr));
	assert_int_equal(l.count, 5);
	assert_string_equal(l.items[0].text, "hi");
	assert_int_equal(l.items[0].state, PB_MODEM_STATE_READ);
	assert_int_equal(l.items[1].type, PB_MODEM_MSG_GARBLED);
	assert_non_null(memmem(l.items[1].raw, l.items[1].raw_len, "+1", 2));
	assert_int_equal(l.items[2].type, PB_MODEM_MSG_GARBLED);
	assert_int_equal(l.items[3].type, PB_MODEM_MSG_MMS);
	assert_string_equal(l.items[3].id, "8");
	assert_int_equal(l.items[3].raw_len, 2);
	assert_int_equal(l.items[4].type, PB_MODEM_MSG_UNKNOWN);
	pb_modem_msg_list_dispose(&l);
	assert_pb_ok(pb_modem__smseagle_parse_rows(L("{\"result\":\"No data to display\"}"), &l, NULL));
	assert_int_equal(l.count, 0);
	assert_pb_error(pb_modem__smseagle_parse_rows(L("{\"result\":\"Invalid login or password\"}"), &l, NULL), PB_EAUTH);
	assert_pb_error(pb_modem__smseagle_parse_rows(L("{\"result\": [1, 2"), &l, &perr), PB_EMALFORMED);
	assert_true(perr.offset <= strlen("{\"result\": [1, 2"));
	pb_modem_msg_list_dispose(&l);
	int pct;
	assert_pb_ok(pb_modem__smseagle_parse_signal(L("{\"signal_strength\":74}"), &pct, NULL));
	assert_int_equal(pct, 74);
	assert_pb_ok(pb_modem__smseagle_parse_signal(L("\"55\""), &pct, NULL));
	assert_int_equal(pct, 55);
	assert_pb_error(pb_modem__smseagle_parse_signal(L("{}"), &pct, NULL), PB_EMALFORMED);

	pb_modem_msg m;
	char *key;
	assert_pb_ok(pb_modem__smseagle_parse_webhook(L("sender=%2B15551234&timestamp=20240501103000&text=Hi+there%21"
						      "&msgid=55&apikey=k%3D1"), &m, &key));
	assert_string_equal(m.number, "+15551234");
	assert_string_equal(m.text, "Hi there!");
	assert_string_equal(m.time, "2024-05-01 10:30:00");
	assert_string_equal(m.id, "55");
	assert_string_equal(key, "k=1");
	pb_modem_msg_dispose(&m);
	pb_free(key);
	assert_pb_error(pb_modem__smseagle_parse_webhook(L("text=%zz%"), &m, &key), PB_EMALFORMED);
}

static void open_smseagle(pb_modem **m, const emu *e, const char *token, const char *webhook)
{
	const char *tf = secret_file(token, 0600);
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	o.url = e->url;
	o.token_file = tf;
	o.webhook = webhook;
	o.poll_interval_ms = webhook ? 600000 : 200;
	assert_pb_ok(pb_modem_open(m, "smseagle", &o));
	unlink(tf);
}

static void reopen_smseagle(pb_modem **m, const emu *e)
{
	open_smseagle(m, e, "eagle-token\n", NULL);
}

/* An SMSEagle group with a row missing: reported with a marker after the
 * timeout, counted from its first sighting across a restart. */
static void test_modem__smseagle_incomplete_after_timeout(void **state)
{
	(void)state;
	emu e;
	const char *args[] = { NULL };
	emu_start(&e, "smseagle-emulator.py", args);
	free(emu_http(&e, "/test/add", "{\"SenderNumber\":\"+15552700000\",\"TextDecoded\":\"first\","
				       "\"UDH\":\"0500030B0301\"}"));
	free(emu_http(&e, "/test/add", "{\"SenderNumber\":\"+15552700000\",\"TextDecoded\":\"second\","
				       "\"UDH\":\"0500030B0302\"}"));
	pb_modem *m;
	open_smseagle(&m, &e, "eagle-token\n", NULL);
	incomplete_log w = { PB_MODEM_MSG_LIST_INIT, "+15552700000", NULL };
	mem_store ms = { .n = 0 };
	watch_across_restart(&m, &e, reopen_smseagle, &ms, 1, &w);
	assert_string_equal(w.got.items[0].text, "firstsecond [part 3 of 3 missing]");
	char *s = emu_http(&e, "/test/inbox", NULL);
	assert_null(strstr(s, "10"));
	free(s);
	pb_modem_msg_list_dispose(&w.got);
	pb_modem_close(m);
	emu_stop(&e);
}

static void test_modem__smseagle_emulator(void **state)
{
	(void)state;
	emu e;
	const char *args[] = { "--samples", NULL };
	emu_start(&e, "smseagle-emulator.py", args);
	pb_modem *m;
	open_smseagle(&m, &e, "eagle-token\n", NULL);
	pb_modem_status st;
	assert_pb_ok(pb_modem_status_get(m, &st));
	assert_int_equal(st.signal_percent, 74);
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	assert_pb_ok(pb_modem_list(m, PB_MODEM_BOX_INBOX, &l));
	assert_int_equal(l.count, 4);
	assert_string_equal(l.items[0].text, "Hello from the eagle");
	assert_int_equal(l.items[1].type, PB_MODEM_MSG_MMS);
	assert_int_equal(l.items[1].raw_format, PB_MODEM_RAW_FILE);
	assert_memory_equal(l.items[1].raw, "\xff\xd8\xff\xe0JFIF-cat", 12);
	assert_int_equal(l.items[2].type, PB_MODEM_MSG_GARBLED);
	assert_string_equal(l.items[3].text, "After the garbled one");
	char id[32];
	pb_strlcpy(id, l.items[0].id, sizeof(id));
	pb_modem_msg_list_dispose(&l);
	assert_pb_ok(pb_modem_delete(m, id));
	char *s = emu_http(&e, "/test/inbox", NULL);
	assert_null(strstr(s, id));
	free(s);
	int ref;
	assert_pb_ok(pb_modem_send_text(m, "+15558888", "Grüße \xF0\x9F\x98\x80", 0, &ref));
	assert_int_equal(ref, 901);
	s = emu_http(&e, "/test/sent", NULL);
	assert_non_null(strstr(s, "+15558888"));
	assert_non_null(strstr(s, "\\ud83d\\ude00"));
	free(s);
	/* what a failed send left (pb_modem_send_fate()): 503 busy, nothing
	 * done; 500 failed while handling it, may have been taken; 400 refused */
	free(emu_http(&e, "/test/send-status", "503"));
	assert_int_equal(pb_modem_send_fate(pb_modem_send_text(m, "+15558888", "x", 0, &ref)), PB_MODEM_SEND_NOT_SENT);
	free(emu_http(&e, "/test/send-status", "500"));
	assert_int_equal(pb_modem_send_fate(pb_modem_send_text(m, "+15558888", "x", 0, &ref)), PB_MODEM_SEND_UNCERTAIN);
	free(emu_http(&e, "/test/send-status", "400"));
	assert_int_equal(pb_modem_send_fate(pb_modem_send_text(m, "+15558888", "x", 0, &ref)), PB_MODEM_SEND_REFUSED);
	/* a reply that is not JSON at all: one garbled entry, no failure */
	free(emu_http(&e, "/test/raw", "<html>Service Unavailable</html>"));
	assert_pb_ok(pb_modem_list(m, PB_MODEM_BOX_INBOX, &l));
	assert_int_equal(l.count, 1);
	assert_int_equal(l.items[0].type, PB_MODEM_MSG_GARBLED);
	assert_memory_equal(l.items[0].raw, "<html>", 6);
	pb_modem_msg_list_dispose(&l);
	assert_pb_error(pb_modem_forward_query(m, 0, &(pb_modem_forward){ 0 }), PB_EUNSUPPORTED);
	pb_modem_close(m);

	open_smseagle(&m, &e, "wrong-token", NULL);
	assert_pb_error(pb_modem_status_get(m, &st), PB_EAUTH);
	assert_pb_error(pb_modem_list(m, PB_MODEM_BOX_INBOX, &l), PB_EAUTH);
	pb_modem_close(m);
	emu_stop(&e);
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

typedef struct eagle_watch {
	emu *e;
	pb_modem_msg_list got;
	bool added;
} eagle_watch;

static int eagle_cb(const pb_modem_event *ev, void *ud)
{
	eagle_watch *w = ud;
	if (ev->type != PB_MODEM_EVENT_MESSAGE)
		return 0;
	assert_pb_ok(pb_modem_msg_list_add(&w->got, ev->msg));
	if (w->got.count == 4 && !w->added) {
		free(emu_http(w->e, "/test/add", "{\"SenderNumber\":\"+15550099\",\"TextDecoded\":\"rang the bell\"}"));
		w->added = true;
	}
	return ev->msg->text && strcmp(ev->msg->text, "rang the bell") == 0;
}

static void test_modem__smseagle_webhook_watch(void **state)
{
	(void)state;
	int port = free_port();
	char hook[64], listen_on[64];
	snprintf(hook, sizeof(hook), "http://127.0.0.1:%d/hook", port);
	snprintf(listen_on, sizeof(listen_on), "127.0.0.1:%d", port);
	emu e;
	const char *args[] = { "--samples", "--webhook", hook, NULL };
	emu_start(&e, "smseagle-emulator.py", args);
	pb_modem *m;
	open_smseagle(&m, &e, "eagle-token", listen_on);
	eagle_watch w = { &e, PB_MODEM_MSG_LIST_INIT, false };
	/* polling is set to 10 minutes: only the webhook can bring the new message in time */
	assert_int_equal(pb_modem_watch(m, 0, DEADLINE_MS, eagle_cb, &w), 1);
	assert_int_equal(w.got.count, 5);
	pb_modem_msg_list_dispose(&w.got);
	pb_modem_close(m);
	emu_stop(&e);
}

/* The status of one call to the webhook (GET with @query, or POST @form). */
static long hook_call(int port, const char *query, const char *form)
{
	char url[512];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook%s%s", port, query ? "?" : "", query ? query : "");
	pb_buf b = PB_BUF_INIT;
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (form)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	long status = 0;
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	pb_buf_dispose(&b);
	return status;
}

static int count_cb(const pb_modem_event *ev, void *ud)
{
	if (ev->type == PB_MODEM_EVENT_MESSAGE)
		(*(int *)ud)++;
	return 0;
}

static void test_modem__smseagle_webhook_apikey(void **state)
{
	(void)state;
	int port = free_port();
	char listen_on[64];
	snprintf(listen_on, sizeof(listen_on), "127.0.0.1:%d", port);
	emu e;
	const char *args[] = { "--samples", NULL };
	emu_start(&e, "smseagle-emulator.py", args);
	pb_modem *m;
	open_smseagle(&m, &e, "eagle-token", listen_on);
	/* the device's apikey must be the API token: without it, or wrong, 403 */
	assert_int_equal(hook_call(port, "sender=%2B1555&text=hi&msgid=7", NULL), 403);
	assert_int_equal(hook_call(port, "sender=%2B1555&text=hi&msgid=7&apikey=eagle-tokeN", NULL), 403);
	assert_int_equal(hook_call(port, "sender=%2B1555&text=hi&msgid=7&apikey=", NULL), 403);
	assert_int_equal(hook_call(port, NULL, "sender=%2B1555&text=hi&apikey=eagle-token-and-more"), 403);
	assert_int_equal(hook_call(port, "text=%zz&apikey=eagle-token", NULL), 400);
	assert_int_equal(hook_call(port, "sender=%2B1555&text=hi&msgid=7&apikey=eagle-token", NULL), 200);
	assert_int_equal(hook_call(port, NULL, "sender=%2B1555&text=hi&msgid=7&apikey=eagle-token"), 200);

	/* a client that connects and never finishes its request stalls nothing:
	 * the watch loop still ends on time (the old in-loop server waited 5 s) */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	const char *half = "GET /hook?sender=1&te";
	assert_int_equal(write(fd, half, strlen(half)), (ssize_t)strlen(half));
	struct timespec t0, t1;
	int got = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pb_modem_watch(m, 0, 1000, count_cb, &got), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(got >= 3);
	assert_true(ms < 4500);
	close(fd);
	pb_modem_close(m);
	emu_stop(&e);
}

/* pb_modem_msg.time is the box's text; pb_modem_msg_time_ms() gives every
 * form the backends produce as ms since the epoch, and says where others fail. */
static void test_modem__msg_time_in_one_type(void **state)
{
	(void)state;
	pb_modem_msg m = { .id = (char *)"1" };
	int64_t at = 1;
	assert_pb_error(pb_modem_msg_time_ms(&m, &at), PB_ENOTFOUND);
	assert_int_equal(at, 0);
	/* AT: ISO 8601 with the SMSC's zone, exact */
	m.time = (char *)"2011-02-28T11:50:50-05:00";
	assert_pb_ok(pb_modem_msg_time_ms(&m, &at));
	assert_int_equal(at, 1298911850000LL);
	m.time = (char *)"2011-02-28T16:50:50+00:00";
	assert_pb_ok(pb_modem_msg_time_ms(&m, &at));
	assert_int_equal(at, 1298911850000LL);
	m.time = (char *)"2011-02-28T16:50:50Z";
	assert_pb_ok(pb_modem_msg_time_ms(&m, &at));
	assert_int_equal(at, 1298911850000LL);
	/* HiLink, SMSEagle: the box's local time, read in this host's zone */
	char *tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	setenv("TZ", "UTC", 1);
	tzset();
	m.time = (char *)"2011-02-28 16:50:50";
	assert_pb_ok(pb_modem_msg_time_ms(&m, &at));
	assert_int_equal(at, 1298911850000LL);
	setenv("TZ", "CET-1", 1); /* POSIX form: no zone files needed */
	tzset();
	assert_pb_ok(pb_modem_msg_time_ms(&m, &at));
	assert_int_equal(at, 1298911850000LL - 3600000);
	if (tz)
		setenv("TZ", tz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(tz);
	/* anything else: where it went wrong */
	m.time = (char *)"28.02.2011 16:50";
	assert_pb_error(pb_modem_msg_time_ms(&m, &at), PB_EMALFORMED);
	assert_non_null(strstr(pb_error_last()->message, "offset 2"));
	m.time = (char *)"2011-02-28 16:50";
	assert_pb_error(pb_modem_msg_time_ms(&m, &at), PB_EMALFORMED);
	assert_non_null(strstr(pb_error_last()->message, "ends early"));
	m.time = (char *)"2011-13-28 16:50:50";
	assert_pb_error(pb_modem_msg_time_ms(&m, &at), PB_EMALFORMED);
	m.time = (char *)"2011-02-28 16:50:50 CET";
	assert_pb_error(pb_modem_msg_time_ms(&m, &at), PB_EMALFORMED);
	assert_non_null(strstr(pb_error_last()->message, "offset 19"));
}

/* The old spelling insecure_tls is the same member as tls_insecure. */
static void test_modem__deprecated_insecure_tls_is_tls_insecure(void **state)
{
	(void)state;
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	assert_false(o.tls_insecure);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	o.insecure_tls = true;
	assert_true(o.tls_insecure);
	o.tls_insecure = false;
	assert_false(o.insecure_tls);
#pragma GCC diagnostic pop
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modem__unknown_backend),
		cmocka_unit_test(test_modem__timeouts_out_of_range),
		cmocka_unit_test(test_modem__credential_file_modes),
		cmocka_unit_test(test_modem__user_backend),
		cmocka_unit_test(test_modem__msg_list_alloc_failures),
		cmocka_unit_test(test_modem__hilink_type4_vector),
		cmocka_unit_test(test_modem__hilink_scram_vector),
		cmocka_unit_test(test_modem__hilink_neutralise_roundtrip),
		cmocka_unit_test(test_modem__hilink_vectors),
		cmocka_unit_test(test_modem__hilink_garbled_entries),
		cmocka_unit_test(test_modem__hilink_mms_content_spellings),
		cmocka_unit_test(test_modem__hilink_push_bytes_alloc_failures),
		cmocka_unit_test(test_modem__hilink_parse_alloc_failures),
		cmocka_unit_test(test_modem__hilink_login_type4),
		cmocka_unit_test(test_modem__hilink_login_type0),
		cmocka_unit_test(test_modem__hilink_login_type3),
		cmocka_unit_test(test_modem__hilink_login_scram),
		cmocka_unit_test(test_modem__hilink_wrong_password),
		cmocka_unit_test(test_modem__hilink_messages),
		cmocka_unit_test(test_modem__hilink_watch),
		cmocka_unit_test(test_modem__hilink_single_message_and_fixture),
		cmocka_unit_test(test_modem__at_classify),
		cmocka_unit_test(test_modem__at_listing),
		cmocka_unit_test(test_modem__smseagle_alloc_failures),
		cmocka_unit_test(test_modem__smseagle_concatenated),
		cmocka_unit_test(test_modem__at_status_and_messages),
		cmocka_unit_test(test_modem__at_watch),
		cmocka_unit_test(test_modem__at_echo_stays_on),
		cmocka_unit_test(test_modem__at_hung_modem),
		cmocka_unit_test(test_modem__at_left_in_prompt),
		cmocka_unit_test(test_modem__at_send_unanswered),
		cmocka_unit_test(test_modem__at_incomplete_after_timeout),
		cmocka_unit_test(test_modem__hilink_incomplete_after_timeout),
		cmocka_unit_test(test_modem__smseagle_incomplete_after_timeout),
		cmocka_unit_test(test_modem__smseagle_json),
		cmocka_unit_test(test_modem__smseagle_emulator),
		cmocka_unit_test(test_modem__send_fate),
		cmocka_unit_test(test_modem__smseagle_webhook_watch),
		cmocka_unit_test(test_modem__smseagle_webhook_apikey),
		cmocka_unit_test(test_modem__msg_time_in_one_type),
		cmocka_unit_test(test_modem__deprecated_insecure_tls_is_tls_insecure),
	};
	return pb_test_run("modem", tests);
}
