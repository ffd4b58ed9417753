/*
 * libphonebridge tests — matrix: the client against the homeserver emulator
 * (tests/matrix-homeserver.py, with fault injection), plus the parts that
 * need no server: /sync parsing, errors, secrets, image info.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#include <jansson.h>

#include "matrix-hs.h"
#include "matrix/matrix-private.h"

#include <phonebridge/listener.h>

static test_hs hs;
/* With PB_TEST_HOMESERVER set (tests/synapse.py), the server cases run
 * against that real server instead of the emulator: the users are alice,
 * bob, eve with PB_TEST_USER_SUFFIX, what the emulator's /_test routes
 * would show is read through the client API, and the cases that need the
 * emulator's faults are skipped, saying so. */
static bool real_hs;

static void stop_hs(void)
{
	test_hs_stop(&hs);
}

/* The server: the emulator, started once for the binary and stopped at
 * exit, or the one PB_TEST_HOMESERVER names. */
static const test_hs *need_hs(void)
{
	const char *url = getenv("PB_TEST_HOMESERVER");
	if (hs.pid == 0 && url && *url) {
		real_hs = true;
		hs.pid = -1;
		pb_strlcpy(hs.url, url, sizeof(hs.url));
		const char *colon = strrchr(url, ':');
		hs.port = colon ? atoi(colon + 1) : 0;
	} else if (hs.pid == 0) {
		if (test_hs_start(&hs) != 0)
			fail_msg("cannot start tests/matrix-homeserver.py");
		atexit(stop_hs);
	}
	return &hs;
}

/* Skip the current case on a real server: it needs the emulator. */
#define skip_on_real_hs(why)                                             \
	do {                                                             \
		need_hs();                                               \
		if (real_hs) {                                           \
			print_message("# skipped on a real server: %s\n", why); \
			skip();                                          \
		}                                                        \
	} while (0)

/* @name (alice, bob, carol...) as the server knows it: with the suffix
 * tests/synapse.py gives this run's users. */
static const char *user(const char *name)
{
	static __thread char buf[4][64];
	static __thread int next;
	const char *sfx = real_hs ? getenv("PB_TEST_USER_SUFFIX") : NULL;
	char *b = buf[next++ % 4];
	snprintf(b, sizeof(buf[0]), "%s%s", name, sfx ? sfx : "");
	return b;
}

/* @name's Matrix user id. */
static const char *mxid(const char *name)
{
	static __thread char buf[4][80];
	static __thread int next;
	char *b = buf[next++ % 4];
	snprintf(b, sizeof(buf[0]), "@%s:localhost", user(name));
	return b;
}

/* alice's access token, to read rooms through the client API on a real
 * server (set by connect_as) */
static char observer_token[512];

static void hs_ctl(const char *path, const char *body)
{
	assert_int_equal(test_hs_call(need_hs(), "POST", path, body, NULL), 200);
}

/* GET @head, @room escaped, @tail with the observer's token on the real
 * server (@tail has a query already): the JSON answer. */
static json_t *hs_get(const char *head, const char *room, const char *tail)
{
	char path[2048], esc[512];
	const char *arg = room;
	size_t k = 0;
	for (const char *p = arg; p && *p && k + 4 < sizeof(esc); p++) {
		if (strchr("!:@$#/?&", *p))
			k += (size_t)snprintf(esc + k, sizeof(esc) - k, "%%%02X", (unsigned char)*p);
		else
			esc[k++] = *p;
	}
	esc[k] = '\0';
	snprintf(path, sizeof(path), "%s%s%s%caccess_token=%s", head, esc, tail, strchr(tail, '?') ? '&' : '?',
		 observer_token);
	pb_buf b = PB_BUF_INIT;
	assert_int_equal(test_hs_call(need_hs(), "GET", path, NULL, &b), 200);
	json_t *j = json_loadb((const char *)b.data, b.len, 0, NULL);
	assert_non_null(j);
	pb_buf_dispose(&b);
	return j;
}

static json_t *hs_stats(void)
{
	pb_buf b = PB_BUF_INIT;
	assert_int_equal(test_hs_call(need_hs(), "GET", "/_test/stats", NULL, &b), 200);
	json_t *j = json_loadb((const char *)b.data, b.len, 0, NULL);
	assert_non_null(j);
	pb_buf_dispose(&b);
	return j;
}

static long hs_count(const char *route)
{
	json_t *s = hs_stats();
	long n = (long)json_integer_value(json_object_get(json_object_get(s, "counts"), route));
	json_decref(s);
	return n;
}

/* The events of @room (a new reference): the emulator's record, or the
 * room's timeline as /messages gives it to alice. */
static json_t *hs_room_events(const char *room)
{
	json_t *s, *ev;
	if (real_hs) {
		s = hs_get("/_matrix/client/v3/rooms/", room, "/messages?dir=b&limit=1000");
		ev = json_object_get(s, "chunk");
	} else {
		s = hs_stats();
		ev = json_object_get(json_object_get(s, "events"), room);
	}
	assert_true(json_is_array(ev));
	json_incref(ev);
	json_decref(s);
	return ev;
}

/* Events of @room with @type (and body, when not NULL) on the server. */
static size_t hs_events(const char *room, const char *type, const char *body)
{
	json_t *all = hs_room_events(room), *e;
	size_t i, n = 0;
	json_array_foreach(all, i, e) {
		const char *b = json_string_value(json_object_get(json_object_get(e, "content"), "body"));
		if (strcmp(json_string_value(json_object_get(e, "type")), type) == 0 &&
		    (body == NULL || (b && strcmp(b, body) == 0)))
			n++;
	}
	json_decref(all);
	return n;
}

/* Make @token invalid: the emulator's /_test/revoke, or a logout. */
static void hs_revoke(const char *token)
{
	if (!real_hs) {
		char revoke[600];
		snprintf(revoke, sizeof(revoke), "{\"token\":\"%s\"}", token);
		hs_ctl("/_test/revoke", revoke);
		return;
	}
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = need_hs()->url;
	o.access_token = token;
	pb_matrix *m;
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_pb_ok(pb_matrix_logout(m));
	pb_matrix_free(m);
}

static pb_matrix *connect_as(const char *name, const char *password)
{
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = need_hs()->url;
	o.retry.initial_delay_ms = 20;
	o.retry.max_delay_ms = 200;
	pb_matrix *m;
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_pb_ok(pb_matrix_login_password(m, user(name), password, NULL));
	if (strcmp(name, "alice") == 0)
		pb_strlcpy(observer_token, pb_matrix_access_token(m), sizeof(observer_token));
	return m;
}

static char *make_dm(pb_matrix *m)
{
	char *room;
	assert_pb_ok(pb_matrix_create_dm(m, mxid("bob"), "Bob", &room));
	return room;
}

/* --- no server ---------------------------------------------------------------- */

typedef struct seen {
	int events, invites, leaves, state, stop_at;
	char next[64];
	char inviter[64];
	char bodies[8][64];
	int nbodies;
	char last_event_id[128];
	pthread_mutex_t lock;
} seen;

static int on_event(const pb_matrix_event *ev, void *ud)
{
	seen *s = ud;
	pthread_mutex_lock(&s->lock);
	s->events++;
	if (ev->section == PB_MATRIX_STATE)
		s->state++;
	if (ev->body && s->nbodies < 8)
		pb_strlcpy(s->bodies[s->nbodies++], ev->body, sizeof(s->bodies[0]));
	if (ev->event_id)
		pb_strlcpy(s->last_event_id, ev->event_id, sizeof(s->last_event_id));
	int stop = s->stop_at && s->events == s->stop_at;
	pthread_mutex_unlock(&s->lock);
	assert_non_null(ev->content);
	assert_non_null(ev->room_id);
	return stop ? 42 : 0;
}

static int on_invite(const char *room, const char *inviter, void *ud)
{
	seen *s = ud;
	s->invites++;
	pb_strlcpy(s->inviter, inviter ? inviter : "", sizeof(s->inviter));
	return 0;
}

static int on_leave(const char *room, void *ud)
{
	((seen *)ud)->leaves++;
	return 0;
}

static int on_next(const char *nb, void *ud)
{
	seen *s = ud;
	pthread_mutex_lock(&s->lock);
	pb_strlcpy(s->next, nb, sizeof(s->next));
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static pb_matrix_sync_callbacks callbacks(seen *s)
{
	pb_matrix_sync_callbacks cb = { on_event, on_invite, on_leave, on_next, s };
	return cb;
}

static int typed_event(const pb_matrix_event *ev, void *ud)
{
	if (ev->event_id && strcmp(ev->event_id, "$text") == 0) {
		assert_string_equal(ev->room_id, "!dm:example.org");
		assert_string_equal(ev->sender, "@bob:example.org");
		assert_string_equal(ev->type, "m.room.message");
		assert_string_equal(ev->msgtype, "m.text");
		assert_string_equal(ev->body, "h\xc3\xa9llo \xe2\x98\xba");
		assert_int_equal(ev->origin_server_ts, 1432735824653LL);
		assert_int_equal(ev->section, PB_MATRIX_TIMELINE);
		assert_true(json_is_object(json_object_get(ev->json, "unsigned")));
	} else if (ev->event_id && strcmp(ev->event_id, "$join") == 0) {
		assert_string_equal(ev->membership, "join");
		assert_string_equal(ev->state_key, "@bob:example.org");
	} else if (ev->event_id && strcmp(ev->event_id, "$nocontent") == 0) {
		assert_int_equal(ev->origin_server_ts, 0);
		assert_int_equal(json_object_size(ev->content), 0);
	} else if (ev->event_id && strcmp(ev->event_id, "$kick") == 0) {
		assert_int_equal(ev->section, PB_MATRIX_LEAVE);
	}
	return on_event(ev, ud);
}

static void test_matrix__sync_parse_delivers_everything(void **state)
{
	size_t len;
	uint8_t *data = pb_test_read_file(pb_test_data_dir(), "matrix/sync-basic.json", &len);
	seen s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pb_matrix_sync_callbacks cb = callbacks(&s);
	cb.event = typed_event;
	char *next = NULL;
	assert_pb_ok(pb_matrix_sync_parse(data, len, &cb, &next, NULL));
	assert_string_equal(next, "s72595_4483_1934");
	assert_string_equal(s.next, "s72595_4483_1934");
	/* 1 state + 5 usable timeline (2 skipped) + 2 invite state + 1 leave */
	assert_int_equal(s.events, 9);
	assert_int_equal(s.state, 1);
	assert_int_equal(s.invites, 1);
	assert_string_equal(s.inviter, "@carol:example.org");
	assert_int_equal(s.leaves, 1);
	assert_int_equal(s.nbodies, 2);
	assert_string_equal(s.bodies[1], "cat.png");
	pb_free(next);

	/* a callback that stops: its value comes back, next_batch is not saved */
	seen s2 = { .stop_at = 3, .lock = PTHREAD_MUTEX_INITIALIZER };
	pb_matrix_sync_callbacks cb2 = callbacks(&s2);
	assert_int_equal(pb_matrix_sync_parse(data, len, &cb2, &next, NULL), 42);
	assert_null(next);
	assert_string_equal(s2.next, "");
	free(data);
}

static void test_matrix__sync_parse_rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"", "{", "[]", "null", "{\"rooms\":{}}", "{\"next_batch\":5}", "{\"next_batch\":\"\"}",
		"{\"next_batch\":\"x\",\"rooms\":[]}", "{\"next_batch\":\"x\"} trailing",
		"{\"next_batch\":\"a\\u0000b\"}",
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(bad); i++) {
		pb_parse_error perr = PB_PARSE_ERROR_INIT;
		char *next = (char *)"untouched";
		assert_int_equal(pb_matrix_sync_parse((const uint8_t *)bad[i], strlen(bad[i]), NULL, &next, &perr),
				 PB_EMALFORMED);
		assert_null(next);
		assert_true(perr.offset <= strlen(bad[i]));
	}
	/* odd shapes inside are skipped, not fatal */
	const char *odd = "{\"next_batch\":\"n\",\"rooms\":{\"join\":{\"!a:b\":5,\"!c:d\":{\"timeline\":"
			  "{\"events\":{}}},\"!e:f\":{\"timeline\":{\"events\":[1,[],{\"type\":7}]}}},"
			  "\"invite\":[],\"leave\":\"x\"}}";
	seen s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pb_matrix_sync_callbacks cb = callbacks(&s);
	assert_pb_ok(pb_matrix_sync_parse((const uint8_t *)odd, strlen(odd), &cb, NULL, NULL));
	assert_int_equal(s.events, 0);
	assert_string_equal(s.next, "n");
	/* deep nesting is refused by jansson's depth limit, not a stack overflow */
	size_t n = 100000;
	char *deep = malloc(2 * n + 1);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	assert_int_equal(pb_matrix_sync_parse((uint8_t *)deep, 2 * n, NULL, NULL, NULL), PB_EMALFORMED);
	free(deep);
}

static int parse_once(void *ctx)
{
	size_t len = strlen(ctx);
	char *next = NULL;
	int rc = pb_matrix_sync_parse(ctx, len, NULL, &next, NULL);
	pb_free(next);
	return rc;
}

static int new_handle(void *ctx)
{
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = "https://matrix.example.org/";
	o.access_token = "secret";
	o.user_agent = "test";
	pb_matrix *m;
	int rc = pb_matrix_new(&m, &o);
	if (rc < 0)
		return rc;
	pb_buf u = PB_BUF_INIT;
	rc = pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/send/%s", "!r:x", "t 1");
	pb_buf_dispose(&u);
	pb_matrix_free(m);
	return rc;
}

static void test_matrix__allocation_failures(void **state)
{
	static const int accept[] = { PB_ENOMEM, 0 };
	assert_true(pb_test_alloc_fail_each(parse_once, (void *)"{\"next_batch\":\"s1\"}", accept) >= 1);
	assert_true(pb_test_alloc_fail_each(new_handle, NULL, accept) >= 4);
}

static void test_matrix__urls_escape_path_segments(void **state)
{
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = "https://matrix.example.org//";
	pb_matrix *m;
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_string_equal(pb_matrix_homeserver(m), "https://matrix.example.org");
	pb_buf u = PB_BUF_INIT;
	assert_pb_ok(pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/send/%s/%s", "!abc:example.org",
				    "m.room.message", "a/b?c#d e"));
	assert_pb_ok(pb_matrix__query(&u, "since", "s1&x=2"));
	assert_pb_ok(pb_matrix__query(&u, "timeout", "0"));
	assert_string_equal(pb_buf_cstr(&u), "https://matrix.example.org/_matrix/client/v3/rooms/"
					     "%21abc%3Aexample.org/send/m.room.message/a%2Fb%3Fc%23d%20e"
					     "?since=s1%26x%3D2&timeout=0");
	pb_buf_clear(&u);
	assert_pb_error(pb_matrix__url(&u, m, "/rooms/%s", ""), PB_EINVAL);
	pb_buf_dispose(&u);
	pb_matrix_free(m);

	o.homeserver = "ftp://example.org";
	assert_pb_error(pb_matrix_new(&m, &o), PB_EINVAL);
	/* the retry policy: its defaults, its own members, the deprecated ones
	 * it replaces (read when its own are 0), and a version 1 caller's struct */
	o.homeserver = "https://example.org";
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_int_equal(m->attempts, 6);
	assert_int_equal(m->retry_base_ms, 500);
	assert_int_equal(m->retry_cap_ms, 30000);
	pb_matrix_free(m);
	o.retry = (pb_retry_policy){ 2, 40, 400 };
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_int_equal(m->attempts, 2);
	assert_int_equal(m->retry_base_ms, 40);
	assert_int_equal(m->retry_cap_ms, 400);
	pb_matrix_free(m);
	o.retry = (pb_retry_policy){ 0, 0, 0 };
	o.max_retries = 0;
	o.retry_base_ms = 7;
	o.retry_cap_ms = 70;
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_int_equal(m->attempts, 1);
	assert_int_equal(m->retry_base_ms, 7);
	assert_int_equal(m->retry_cap_ms, 70);
	pb_matrix_free(m);
	pb_matrix_options v1 = o;
	v1.version = 1;
	v1.retry = (pb_retry_policy){ 9, 9, 9 }; /* not there in version 1 */
	assert_pb_ok(pb_matrix_new(&m, &v1));
	assert_int_equal(m->attempts, 1);
	assert_int_equal(m->retry_base_ms, 7);
	pb_matrix_free(m);
	o.retry.max_delay_ms = (unsigned)-1;
	assert_pb_error(pb_matrix_new(&m, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "pb_matrix_options.retry.max_delay_ms"));
	o.retry.max_delay_ms = 0;
	/* durations are unsigned ms: more than INT_MAX (a C caller's -1) is refused */
	o.homeserver = "https://example.org";
	o.request_timeout_ms = (unsigned)-1;
	assert_pb_error(pb_matrix_new(&m, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "pb_matrix_options.request_timeout_ms"));
	o.request_timeout_ms = 0;
	o.homeserver = "https://example.org/?x";
	assert_pb_error(pb_matrix_new(&m, &o), PB_EINVAL);
	o.homeserver = NULL;
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_pb_error(pb_matrix_whoami(m, NULL), PB_ESTATE);
	assert_pb_error(pb_matrix_discover(m, "@nobody"), PB_EINVAL);
	pb_matrix_free(m);
}

static void test_matrix__errcodes_map_to_codes(void **state)
{
	assert_int_equal(pb_matrix__map_error("M_UNKNOWN_TOKEN", 401), PB_EAUTH);
	assert_int_equal(pb_matrix__map_error("M_MISSING_TOKEN", 401), PB_EAUTH);
	assert_int_equal(pb_matrix__map_error("M_NOT_FOUND", 404), PB_ENOTFOUND);
	assert_int_equal(pb_matrix__map_error("M_FORBIDDEN", 403), PB_EPROTO);
	assert_int_equal(pb_matrix__map_error("M_LIMIT_EXCEEDED", 429), PB_EAGAIN);
	assert_int_equal(pb_matrix__map_error("M_TOO_LARGE", 413), PB_ETOOBIG);
	assert_int_equal(pb_matrix__map_error("M_UNRECOGNIZED", 404), PB_EUNSUPPORTED);
	assert_int_equal(pb_matrix__map_error("", 502), PB_EAGAIN);
	assert_int_equal(pb_matrix__map_error("", 404), PB_ENOTFOUND);
	assert_int_equal(pb_matrix__map_error("M_WHATEVER", 400), PB_EPROTO);
}

static bool unreserved_test_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

static void test_matrix__txn_ids_are_unique_and_url_safe(void **state)
{
	char a[PB_MATRIX_TXN_ID_SIZE], b[PB_MATRIX_TXN_ID_SIZE], small[8];
	assert_pb_ok(pb_matrix_txn_id(a, sizeof(a)));
	assert_pb_ok(pb_matrix_txn_id(b, sizeof(b)));
	assert_string_not_equal(a, b);
	for (const char *p = a; *p; p++)
		assert_true(unreserved_test_char(*p));
	assert_pb_error(pb_matrix_txn_id(small, sizeof(small)), PB_ETOOBIG);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static void test_matrix__secret_files_must_be_private(void **state)
{
	char path[] = "/tmp/pb-matrix-secret-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char *s = NULL;
	write_file(path, "syt_token\r\n", 0600);
	assert_pb_ok(pb_matrix_read_secret_file(path, &s));
	assert_string_equal(s, "syt_token");
	pb_free(s);
	write_file(path, "syt_token\n", 0644);
	assert_pb_error(pb_matrix_read_secret_file(path, &s), PB_EAUTH);
	assert_non_null(strstr(pb_error_last()->message, "0644"));
	assert_null(strstr(pb_error_last()->message, "syt_token"));
	write_file(path, "syt_token\n", 0640);
	assert_pb_error(pb_matrix_read_secret_file(path, &s), PB_EAUTH);
	write_file(path, "\n", 0400);
	assert_pb_error(pb_matrix_read_secret_file(path, &s), PB_EMALFORMED);
	write_file(path, "two\nlines\n", 0600);
	assert_pb_error(pb_matrix_read_secret_file(path, &s), PB_EMALFORMED);
	/* the token file of the options goes through the same checks */
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	pb_matrix *m;
	o.homeserver = "https://example.org";
	o.access_token_file = path;
	write_file(path, "tok\n", 0604);
	assert_pb_error(pb_matrix_new(&m, &o), PB_EAUTH);
	write_file(path, "tok\n", 0600);
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_string_equal(pb_matrix_access_token(m), "tok");
	pb_matrix_free(m);
	unlink(path);
	assert_pb_error(pb_matrix_read_secret_file(path, &s), PB_EIO);
	assert_pb_error(pb_matrix_read_secret_file("/tmp", &s), PB_EIO);
}

static void test_matrix__image_info_reads_sizes(void **state)
{
	static const uint8_t png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
				       0, 0, 0x01, 0x40, 0, 0, 0, 0xF0, 8, 2, 0, 0, 0 };
	static const uint8_t gif[] = { 'G', 'I', 'F', '8', '9', 'a', 0x20, 0x03, 0x58, 0x02, 0 };
	static const uint8_t jpg[] = { 0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 'J', 'F', 0xFF, 0xFF, 0xC2, 0, 11, 8,
				       0x01, 0xE0, 0x02, 0x80, 3 };
	unsigned w, h;
	const char *mt;
	assert_pb_ok(pb_matrix_image_info(png, sizeof(png), &w, &h, &mt));
	assert_int_equal(w, 320);
	assert_int_equal(h, 240);
	assert_string_equal(mt, "image/png");
	assert_pb_ok(pb_matrix_image_info(gif, sizeof(gif), &w, &h, &mt));
	assert_int_equal(w, 800);
	assert_int_equal(h, 600);
	assert_pb_ok(pb_matrix_image_info(jpg, sizeof(jpg), &w, &h, &mt));
	assert_int_equal(w, 640);
	assert_int_equal(h, 480);
	assert_string_equal(mt, "image/jpeg");
	for (size_t n = 3; n < sizeof(jpg) - 4; n++)
		assert_pb_error(pb_matrix_image_info(jpg, n, &w, &h, NULL), PB_EMALFORMED);
	assert_pb_error(pb_matrix_image_info(png, 20, &w, &h, NULL), PB_EMALFORMED);
	assert_pb_error(pb_matrix_image_info((const uint8_t *)"hello", 5, &w, &h, NULL), PB_EUNSUPPORTED);

	const char *srv, *id;
	size_t sl;
	assert_pb_ok(pb_matrix__mxc_split("mxc://example.org:8448/AbC_-1", &srv, &sl, &id));
	assert_int_equal(sl, strlen("example.org:8448"));
	assert_string_equal(id, "AbC_-1");
	assert_pb_error(pb_matrix__mxc_split("mxc://example.org/../x", &srv, &sl, &id), PB_EINVAL);
	assert_pb_error(pb_matrix__mxc_split("mxc:///x", &srv, &sl, &id), PB_EINVAL);
	assert_pb_error(pb_matrix__mxc_split("https://e/x", &srv, &sl, &id), PB_EINVAL);
}

/* --- against the emulator -------------------------------------------------------- */

static void test_matrix__login_whoami_logout(void **state)
{
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = need_hs()->url;
	pb_matrix *m;
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_pb_error(pb_matrix_whoami(m, NULL), PB_EAUTH);
	assert_string_equal(pb_matrix_last_errcode(m), "M_MISSING_TOKEN");
	assert_pb_error(pb_matrix_login_password(m, user("alice"), "wrong", NULL), PB_EAUTH);
	assert_string_equal(pb_matrix_last_errcode(m), "M_FORBIDDEN");
	assert_null(strstr(pb_error_last()->message, "wrong"));
	assert_pb_ok(pb_matrix_login_password(m, user("alice"), "wonderland", "PBDEV"));
	assert_string_equal(pb_matrix_device_id(m), "PBDEV");
	char *uid;
	assert_pb_ok(pb_matrix_whoami(m, &uid));
	assert_string_equal(uid, mxid("alice"));
	pb_free(uid);
	char *token = pb_strdup(pb_matrix_access_token(m));
	assert_pb_ok(pb_matrix_logout(m));
	assert_null(pb_matrix_access_token(m));
	assert_pb_ok(pb_matrix_set_access_token(m, token));
	assert_pb_error(pb_matrix_whoami(m, NULL), PB_EAUTH);
	assert_string_equal(pb_matrix_last_errcode(m), "M_UNKNOWN_TOKEN");
	assert_int_equal(pb_matrix_last_status(m), 401);
	pb_free(token);
	pb_matrix_free(m);
}

static void test_matrix__discovery_through_well_known(void **state)
{
	skip_on_real_hs("needs the emulator's /_test/config for .well-known");
	const test_hs *h = need_hs();
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.discovery_insecure_http = 1;
	pb_matrix *m;
	char id[128];
	snprintf(id, sizeof(id), "@alice:127.0.0.1:%d", h->port);
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_pb_ok(pb_matrix_discover(m, id));
	assert_string_equal(pb_matrix_homeserver(m), h->url);
	/* no well-known: the server name itself */
	hs_ctl("/_test/config", "{\"well_known\":\"404\"}");
	assert_pb_ok(pb_matrix_discover(m, id + 7));
	assert_string_equal(pb_matrix_homeserver(m), h->url);
	/* a broken one is an error and leaves the homeserver alone */
	hs_ctl("/_test/config", "{\"well_known\":{\"m.homeserver\":{}}}");
	assert_pb_error(pb_matrix_discover(m, id), PB_EPROTO);
	assert_string_equal(pb_matrix_homeserver(m), h->url);
	hs_ctl("/_test/config", "{\"well_known\":null}");
	pb_matrix_free(m);
}

static void test_matrix__send_is_idempotent_per_txn(void **state)
{
	pb_matrix *m = connect_as("alice", "wonderland");
	char *room = make_dm(m);
	char *e1, *e2, *e3;
	assert_pb_ok(pb_matrix_send_text(m, room, "journal-1", "once", NULL, &e1));
	assert_pb_ok(pb_matrix_send_text(m, room, "journal-1", "once", NULL, &e2));
	assert_string_equal(e1, e2);
	assert_int_equal(hs_events(room, "m.room.message", "once"), 1);
	char txn[PB_MATRIX_TXN_ID_SIZE];
	assert_pb_ok(pb_matrix_txn_id(txn, sizeof(txn)));
	assert_pb_ok(pb_matrix_send_message(m, room, txn, "m.notice", "note", "<b>note</b>", &e3));
	assert_string_not_equal(e1, e3);
	assert_int_equal(hs_events(room, "m.room.message", "note"), 1);
	pb_free(e2);
	assert_pb_ok(pb_matrix_send_message(m, room, "t-emote", "m.emote", "waves", NULL, NULL));
	assert_pb_ok(pb_matrix_send_reaction(m, room, "t-react", e1, "\xf0\x9f\x91\x8d", &e2));
	pb_free(e2);
	assert_pb_ok(pb_matrix_redact(m, room, e3, "t-redact", "oops", &e2));
	pb_free(e2);
	assert_pb_ok(pb_matrix_send_event(m, room, "org.example.custom", "t-custom", "{\"a\":1}", NULL));
	assert_pb_error(pb_matrix_send_event(m, room, "x", "t-bad", "[1]", NULL), PB_EINVAL);
	assert_pb_error(pb_matrix_send_text(m, room, "", "x", NULL, NULL), PB_EINVAL);
	assert_pb_error(pb_matrix_send_text(m, room, "t-utf8", "\xff", NULL, NULL), PB_EINVAL);
	/* redacted: the server keeps the event without its body */
	assert_int_equal(hs_events(room, "m.room.message", "note"), 0);
	assert_int_equal(hs_events(room, "m.reaction", NULL), 1);
	assert_int_equal(hs_events(room, "m.room.redaction", NULL), 1);
	assert_pb_ok(pb_matrix_typing(m, room, true, 5000));
	/* durations are unsigned ms: a C caller's -1 is refused, not a 49-day notice */
	assert_pb_error(pb_matrix_typing(m, room, true, (unsigned)-1), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "timeout_ms"));
	assert_pb_ok(pb_matrix_read_receipt(m, room, e1));
	if (!real_hs) {
		json_t *s = hs_stats();
		json_t *r = json_object_get(json_object_get(s, "rooms"), room);
		assert_true(json_is_true(json_object_get(json_object_get(r, "typing"), "@alice:localhost")));
		assert_string_equal(json_string_value(json_object_get(json_object_get(r, "receipts"), "@alice:localhost")), e1);
		json_decref(s);
	}
	/* not a member: M_FORBIDDEN */
	pb_matrix *bob = connect_as("bob", "builder");
	assert_pb_error(pb_matrix_send_text(bob, room, "t-bob", "hi", NULL, NULL), PB_EPROTO);
	assert_string_equal(pb_matrix_last_errcode(bob), "M_FORBIDDEN");
	assert_non_null(strstr(pb_error_last()->message, "M_FORBIDDEN"));
	assert_pb_error(pb_matrix_send_text(bob, "!nope:localhost", "t-bob2", "hi", NULL, NULL),
			real_hs ? PB_EPROTO : PB_ENOTFOUND);
	pb_matrix_free(bob);
	pb_free(e1);
	pb_free(e3);
	pb_free(room);
	pb_matrix_free(m);
}

static void test_matrix__direct_rooms_and_membership(void **state)
{
	pb_matrix *m = connect_as("alice", "wonderland");
	pb_matrix *bob = connect_as("bob", "builder");
	char *room = make_dm(m), *found, *joined;
	/* m.direct account data records it */
	assert_pb_ok(pb_matrix_direct_room(m, mxid("bob"), &found));
	assert_string_equal(found, room);
	pb_free(found);
	assert_pb_error(pb_matrix_direct_room(m, mxid("carol"), &found), PB_ENOTFOUND);
	char path[256];
	snprintf(path, sizeof(path), "/state/m.room.member/%%40%s%%3Alocalhost", user("bob"));
	json_t *st = real_hs ? hs_get("/_matrix/client/v3/rooms/", room, path) : hs_stats();
	json_t *members = json_object_get(json_object_get(json_object_get(st, "rooms"), room), "members");
	assert_string_equal(real_hs ? json_string_value(json_object_get(st, "membership"))
				    : json_string_value(json_object_get(members, "@bob:localhost")),
			    "invite");
	json_decref(st);
	/* bob sees the invite in his sync, and who sent it */
	seen s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pb_matrix_sync_callbacks cb = callbacks(&s);
	char *next;
	assert_pb_ok(pb_matrix_sync(bob, NULL, &cb, &next));
	assert_true(s.invites >= 1);
	assert_string_equal(s.inviter, mxid("alice"));
	assert_pb_ok(pb_matrix_join(bob, room, &joined));
	assert_string_equal(joined, room);
	pb_free(joined);
	assert_pb_ok(pb_matrix_set_name(m, room, "Bob (SMS)"));
	assert_pb_ok(pb_matrix_set_topic(m, room, "+15551234567"));
	assert_pb_ok(pb_matrix_set_avatar(m, room, "mxc://localhost/avatar"));
	assert_pb_error(pb_matrix_set_avatar(m, room, "https://x/y.png"), PB_EINVAL);
	assert_int_equal(hs_events(room, "m.room.topic", NULL), 1);
	/* bob leaves: his next sync reports it */
	assert_pb_ok(pb_matrix_leave(bob, room));
	pb_matrix_sync_options so = PB_MATRIX_SYNC_OPTIONS_INIT;
	so.since = next;
	so.timeout_ms = 0;
	memset(&s, 0, sizeof(s));
	assert_pb_ok(pb_matrix_sync(bob, &so, &cb, NULL));
	assert_int_equal(s.leaves, 1);
	assert_pb_ok(pb_matrix_invite(m, room, mxid("bob")));
	pb_free(next);
	pb_free(room);
	pb_matrix_free(bob);
	pb_matrix_free(m);
}

static void test_matrix__media_upload_download_and_fallback(void **state)
{
	pb_matrix *m = connect_as("alice", "wonderland");
	char *room = make_dm(m), *mxc, *ctype;
	static const char blob[] = "\x01\x02 not text \x00\xff";
	assert_pb_ok(pb_matrix_upload(m, blob, sizeof(blob), "application/x-test", "a b.bin", &mxc));
	pb_buf out = PB_BUF_INIT;
	assert_pb_ok(pb_matrix_download(m, mxc, &out, &ctype, 0));
	assert_int_equal(out.len, sizeof(blob));
	assert_memory_equal(out.data, blob, sizeof(blob));
	assert_string_equal(ctype, "application/x-test");
	pb_free(ctype);
	pb_buf_clear(&out);
	assert_pb_error(pb_matrix_download(m, mxc, &out, NULL, 4), PB_ETOOBIG);
	assert_pb_error(pb_matrix_download(m, "mxc://localhost/missing", &out, NULL, 0), PB_ENOTFOUND);
	/* an older server without authenticated media */
	if (!real_hs) {
		hs_ctl("/_test/config", "{\"v1_media\":false}");
		pb_buf_clear(&out);
		assert_pb_ok(pb_matrix_download(m, mxc, &out, NULL, 0));
		assert_memory_equal(out.data, blob, sizeof(blob));
		hs_ctl("/_test/config", "{\"v1_media\":true}");
	}
	pb_buf_dispose(&out);
	pb_free(mxc);

	/* a bigger file, byte for byte */
	size_t big_len = 3 * 1024 * 1024 + 17;
	uint8_t *big = malloc(big_len);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_pb_ok(pb_matrix_upload(m, big, big_len, "video/mp4", "clip.mp4", &mxc));
	assert_pb_ok(pb_matrix_download(m, mxc, &out, NULL, 0));
	assert_int_equal(out.len, big_len);
	assert_memory_equal(out.data, big, big_len);
	pb_buf_dispose(&out);
	pb_free(mxc);
	free(big);

	/* a picture: uploaded, sent as m.image with its size */
	static const uint8_t png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
				       0, 0, 0, 16, 0, 0, 0, 9, 8, 2, 0, 0, 0 };
	char path[] = "/tmp/pb-matrix-pic-XXXXXX";
	int fd = mkstemp(path);
	assert_int_equal(write(fd, png, sizeof(png)), (ssize_t)sizeof(png));
	close(fd);
	assert_pb_ok(pb_matrix_send_file(m, room, "t-file", path, NULL, NULL));
	unlink(path);
	json_t *s = hs_room_events(room), *e, *img = NULL;
	size_t i;
	json_array_foreach(s, i, e) {
		if (json_is_string(json_object_get(json_object_get(e, "content"), "url")))
			img = json_object_get(e, "content");
	}
	assert_non_null(img);
	assert_string_equal(json_string_value(json_object_get(img, "msgtype")), "m.image");
	json_t *info = json_object_get(img, "info");
	assert_string_equal(json_string_value(json_object_get(info, "mimetype")), "image/png");
	assert_int_equal(json_integer_value(json_object_get(info, "w")), 16);
	assert_int_equal(json_integer_value(json_object_get(info, "h")), 9);
	assert_int_equal(json_integer_value(json_object_get(info, "size")), sizeof(png));
	json_decref(s);
	pb_matrix_media audio = { .body = "voice.amr", .url = "mxc://localhost/x", .mimetype = "audio/amr",
				  .size = 10, .duration_ms = 1500 };
	assert_pb_ok(pb_matrix_send_media(m, room, "t-audio", &audio, NULL));
	pb_free(room);
	pb_matrix_free(m);
}

static void test_matrix__retries_429_500_drops_and_slowness(void **state)
{
	skip_on_real_hs("needs the emulator's faults");
	pb_matrix *m = connect_as("alice", "wonderland");
	char *room = make_dm(m);
	char fault[512];
	/* 429 with retry_after_ms, and with a Retry-After header */
	snprintf(fault, sizeof(fault), "{\"kind\":\"429\",\"count\":2,\"retry_after_ms\":50,\"path\":\"/send/m.room.message/t-429\"}");
	hs_ctl("/_test/fault", fault);
	assert_pb_ok(pb_matrix_send_text(m, room, "t-429", "after 429", NULL, NULL));
	assert_int_equal(hs_events(room, "m.room.message", "after 429"), 1);
	/* 500 and a dropped connection on an idempotent PUT */
	hs_ctl("/_test/fault", "{\"kind\":\"500\",\"path\":\"/send/m.room.message/t-500\"}");
	hs_ctl("/_test/fault", "{\"kind\":\"drop\",\"path\":\"/send/m.room.message/t-500\"}");
	assert_pb_ok(pb_matrix_send_text(m, room, "t-500", "after 500", NULL, NULL));
	assert_int_equal(hs_events(room, "m.room.message", "after 500"), 1);
	/* a timeout, then the answer: same txn id, one event */
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = need_hs()->url;
	o.access_token = pb_matrix_access_token(m);
	o.request_timeout_ms = 300;
	o.retry.initial_delay_ms = 10;
	pb_matrix *quick;
	assert_pb_ok(pb_matrix_new(&quick, &o));
	hs_ctl("/_test/fault", "{\"kind\":\"slow\",\"delay_ms\":1500,\"path\":\"/send/m.room.message/t-slow\"}");
	assert_pb_ok(pb_matrix_send_text(quick, room, "t-slow", "slow", NULL, NULL));
	pb_matrix_free(quick);
	assert_int_equal(hs_events(room, "m.room.message", "slow"), 1);
	/* retries run out: PB_EAGAIN, the errcode is kept */
	hs_ctl("/_test/fault", "{\"kind\":\"429\",\"count\":10,\"retry_after_header\":0,\"path\":\"/send/m.room.message/t-busy\"}");
	assert_pb_error(pb_matrix_send_text(m, room, "t-busy", "busy", NULL, NULL), PB_EAGAIN);
	assert_string_equal(pb_matrix_last_errcode(m), "M_LIMIT_EXCEEDED");
	assert_int_equal(pb_matrix_last_status(m), 429);
	/* createRoom is not repeated after a 500: the server may have acted */
	long before = hs_count("POST /_matrix/client/v3/createRoom");
	hs_ctl("/_test/fault", "{\"kind\":\"500\",\"path\":\"/createRoom\"}");
	assert_pb_error(pb_matrix_create_dm(m, "@bob:localhost", NULL, NULL), PB_EAGAIN);
	assert_int_equal(hs_count("POST /_matrix/client/v3/createRoom"), before + 1);
	/* the busy send got through on a later attempt after all */
	assert_pb_ok(pb_matrix_send_text(m, room, "t-busy", "busy", NULL, NULL));
	assert_int_equal(hs_events(room, "m.room.message", "busy"), 1);
	/* a revoked token is an auth error at once */
	char revoke[256];
	snprintf(revoke, sizeof(revoke), "{\"token\":\"%s\"}", pb_matrix_access_token(m));
	hs_ctl("/_test/revoke", revoke);
	assert_pb_error(pb_matrix_send_text(m, room, "t-revoked", "x", NULL, NULL), PB_EAUTH);
	assert_string_equal(pb_matrix_last_errcode(m), "M_UNKNOWN_TOKEN");
	pb_free(room);
	pb_matrix_free(m);
}

typedef struct loop_ctx {
	pb_matrix *m;
	const char *since;
	seen *s;
	int rc;
} loop_ctx;

static void *sync_thread(void *arg)
{
	loop_ctx *c = arg;
	pb_matrix_sync_options o = PB_MATRIX_SYNC_OPTIONS_INIT;
	pb_matrix_sync_callbacks cb = callbacks(c->s);
	o.since = c->since;
	o.timeout_ms = 20000;
	o.filter = "{\"room\":{\"timeline\":{\"limit\":50}}}";
	c->rc = pb_matrix_sync_loop(c->m, &o, &cb);
	return NULL;
}

static bool wait_for_body(seen *s, const char *body)
{
	for (int i = 0; i < 6000; i++) { /* up to a minute */
		pthread_mutex_lock(&s->lock);
		bool found = false;
		for (int j = 0; j < s->nbodies; j++)
			found = found || strcmp(s->bodies[j], body) == 0;
		pthread_mutex_unlock(&s->lock);
		if (found)
			return true;
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

static void test_matrix__sync_long_poll_resume_and_cancel(void **state)
{
	pb_matrix *m = connect_as("alice", "wonderland");
	char *room = make_dm(m), *fid, *next;
	assert_pb_ok(pb_matrix_filter_upload(m, "{\"room\":{\"timeline\":{\"limit\":10}}}", &fid));
	pb_matrix_sync_options so = PB_MATRIX_SYNC_OPTIONS_INIT;
	so.filter = fid;
	assert_pb_ok(pb_matrix_sync(m, &so, NULL, &next));
	pb_free(fid);

	/* a sync loop in a thread, long-polling; bob writes; the event arrives */
	seen s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	loop_ctx c = { .m = m, .since = next, .s = &s };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, sync_thread, &c), 0);
	pb_matrix *bob = connect_as("bob", "builder");
	assert_pb_ok(pb_matrix_join(bob, room, NULL));
	assert_pb_ok(pb_matrix_send_text(bob, room, "b-1", "from bob", NULL, NULL));
	assert_true(wait_for_body(&s, "from bob"));
	/* a server hiccup inside the loop is ridden out (the emulator's faults) */
	if (!real_hs)
		hs_ctl("/_test/fault", "{\"kind\":\"500\",\"count\":2,\"path\":\"/sync\"}");
	assert_pb_ok(pb_matrix_send_text(bob, room, "b-2", "second", NULL, NULL));
	assert_true(wait_for_body(&s, "second"));
	pb_matrix_cancel(m);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(c.rc, PB_ECANCELLED);
	assert_pb_error(pb_matrix_whoami(m, NULL), PB_ECANCELLED);
	pb_matrix_cancel_reset(m);

	/* restart from the saved token: nothing old comes again */
	seen again = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pb_matrix_sync_callbacks cb = callbacks(&again);
	so.since = s.next;
	so.timeout_ms = 0;
	so.filter = NULL;
	assert_pb_ok(pb_matrix_sync(m, &so, &cb, NULL));
	assert_int_equal(again.nbodies, 0);
	/* a new message after the saved token does come, to a request that is
	 * not the same again: like Synapse, the emulator answers an identical
	 * /sync from its cache (a long-poll is another request) */
	assert_pb_ok(pb_matrix_send_text(bob, room, "b-3", "third", NULL, NULL));
	so.timeout_ms = 10000;
	assert_pb_ok(pb_matrix_sync(m, &so, &cb, NULL));
	assert_int_equal(again.nbodies, 1);
	assert_string_equal(again.bodies[0], "third");

	/* a revoked token ends the loop with PB_EAUTH */
	hs_revoke(pb_matrix_access_token(m));
	c.since = s.next;
	sync_thread(&c);
	assert_int_equal(c.rc, PB_EAUTH);
	pb_free(next);
	pb_free(room);
	pb_matrix_free(bob);
	pb_matrix_free(m);
}

struct job {
	pb_matrix *m;
	const char *room;
	int i, rc;
	char *event_id;
};

static void *thread_send(void *arg)
{
	struct job *j = arg;
	char txn[PB_MATRIX_TXN_ID_SIZE];
	j->rc = pb_matrix_txn_id(txn, sizeof(txn));
	for (int k = 0; j->rc == 0 && k < 3; k++)
		j->rc = pb_matrix_whoami(j->m, NULL);
	/* a body of its own: on a real server two identical events sent in
	 * the same millisecond on the same prev_events have the same event id
	 * (room versions 3+: the id is the event's hash) and are one event */
	char body[32];
	snprintf(body, sizeof(body), "parallel %d", j->i);
	if (j->rc == 0)
		j->rc = pb_matrix_send_text(j->m, j->room, txn, body, NULL, &j->event_id);
	return NULL;
}

static void test_matrix__tls_is_verified_by_default(void **state)
{
	skip_on_real_hs("needs the emulator with TLS (runs in the emulator run)");
	test_hs tls = { 0 };
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/matrix", pb_test_data_dir());
	if (test_hs_start_tls(&tls, dir) != 0)
		fail_msg("cannot start the emulator with TLS");
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = tls.url;
	o.retry.attempts = 1;
	pb_matrix *m;
	/* a certificate no system CA signed: refused */
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_pb_error(pb_matrix_login_password(m, "alice", "wonderland", NULL), PB_EIO);
	assert_non_null(strstr(pb_error_last()->message, "certificate"));
	pb_matrix_free(m);
	/* trusted through ca_file */
	char ca[4200];
	snprintf(ca, sizeof(ca), "%s/tls-cert.pem", dir);
	o.ca_file = ca;
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_pb_ok(pb_matrix_login_password(m, "alice", "wonderland", NULL));
	assert_pb_ok(pb_matrix_whoami(m, NULL));
	pb_matrix_free(m);
	/* or with the checks turned off */
	o.ca_file = NULL;
	o.tls_insecure = 1;
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_pb_ok(pb_matrix_login_password(m, "alice", "wonderland", NULL));
	pb_matrix_free(m);
	test_hs_stop(&tls);
}

typedef struct alloc_ctx {
	const char *token;
	const char *room;
} alloc_ctx;

/* A bridge's usual round: a handle, a send, a sync, a download. */
static int live_round(void *arg)
{
	alloc_ctx *c = arg;
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = need_hs()->url;
	o.access_token = c->token;
	pb_matrix *m;
	char *event_id = NULL, *next = NULL, *mxc = NULL;
	pb_buf media = PB_BUF_INIT;
	int rc = pb_matrix_new(&m, &o);
	if (rc < 0)
		return rc;
	rc = pb_matrix_send_text(m, c->room, "alloc-1", "alloc", "<i>alloc</i>", &event_id);
	if (rc == 0)
		rc = pb_matrix_sync(m, NULL, NULL, &next);
	if (rc == 0)
		rc = pb_matrix_upload(m, "abc", 3, "text/plain", "a.txt", &mxc);
	if (rc == 0)
		rc = pb_matrix_download(m, mxc, &media, NULL, 0);
	pb_buf_dispose(&media);
	pb_free(mxc);
	pb_free(next);
	pb_free(event_id);
	pb_matrix_free(m);
	return rc;
}

static void test_matrix__allocation_failures_against_the_server(void **state)
{
	static const int accept[] = { PB_ENOMEM, 0 };
	pb_matrix *m = connect_as("alice", "wonderland");
	char *room = make_dm(m);
	alloc_ctx c = { pb_matrix_access_token(m), room };
	assert_true(pb_test_alloc_fail_each(live_round, &c, accept) >= 10);
	assert_int_equal(hs_events(room, "m.room.message", "alloc"), 1);
	pb_free(room);
	pb_matrix_free(m);
}

static void test_matrix__many_handles_in_threads(void **state)
{
	enum { N = 4 };
	pb_matrix *h[N];
	pthread_t t[N];
	char *room;
	pb_matrix *m = connect_as("alice", "wonderland");
	room = make_dm(m);
	for (int i = 0; i < N; i++) {
		pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
		o.homeserver = need_hs()->url;
		o.access_token = pb_matrix_access_token(m);
		assert_pb_ok(pb_matrix_new(&h[i], &o));
	}
	struct job jobs[N];
	for (int i = 0; i < N; i++)
		jobs[i] = (struct job){ h[i], room, i, -1, NULL };
	for (int i = 0; i < N; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_send, &jobs[i]), 0);
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(jobs[i].rc, 0);
		pb_matrix_free(h[i]);
	}
	/* N events, each its own */
	for (int i = 0; i < N; i++) {
		char body[32];
		snprintf(body, sizeof(body), "parallel %d", i);
		assert_int_equal(hs_events(room, "m.room.message", body), 1);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(jobs[i].event_id, jobs[k].event_id);
	}
	for (int i = 0; i < N; i++)
		pb_free(jobs[i].event_id);
	pb_free(room);
	pb_matrix_free(m);
}

/* --- application services: a scripted homeserver on a pb_listener ---------------- */

typedef struct as_seen {
	char q[8][160];  /* the query of each request, in order */
	char path[8][160];
	int n, registers;
	bool user_id_on_register;
	bool created; /* a createRoom with the body as given, as @sms_1:x */
	bool avatar;  /* PUT .../profile/@sms_1:x/avatar_url with the URI */
} as_seen;

static int as_hs(pb_listener_request *req, void *ud)
{
	as_seen *s = ud;
	const char *path = pb_listener_request_path(req), *q = pb_listener_request_query(req);
	if (s->n < 8) {
		pb_strlcpy(s->q[s->n], q, sizeof(s->q[0]));
		pb_strlcpy(s->path[s->n], path, sizeof(s->path[0]));
	}
	s->n++;
	const char *ans = "{}";
	unsigned status = 200;
	if (strstr(path, "/register")) {
		size_t len;
		const char *body = (const char *)pb_listener_request_body(req, &len);
		assert_non_null(strstr(body, "\"m.login.application_service\""));
		s->user_id_on_register |= strstr(q, "user_id") != NULL;
		if (s->registers++) {
			status = 400;
			ans = "{\"errcode\":\"M_USER_IN_USE\",\"error\":\"taken\"}";
		}
	} else if (strstr(path, "/profile/%40sms_1%3Ax/avatar_url")) {
		size_t len;
		const char *body = (const char *)pb_listener_request_body(req, &len);
		s->avatar = strstr(body, "\"mxc://x/abc\"") != NULL;
	} else if (strstr(path, "/createRoom")) {
		size_t len;
		const char *body = (const char *)pb_listener_request_body(req, &len);
		s->created = strstr(body, "\"initial_state\"") && strstr(q, "user_id=%40sms_1%3Ax");
		ans = "{\"room_id\":\"!new:x\"}";
	} else if (strstr(path, "/send/")) {
		ans = "{\"event_id\":\"$e\"}";
	} else if (strstr(path, "/joined_rooms")) {
		ans = "{\"joined_rooms\":[\"!a:x\",\"!b:x\"]}";
	} else if (strstr(path, "/rooms/%21a%3Ax/state")) {
		ans = "[{\"type\":\"m.room.create\",\"state_key\":\"\",\"sender\":\"@bot:x\",\"content\":{}},"
		      "{\"type\":\"m.room.topic\",\"state_key\":\"\",\"sender\":\"@bot:x\",\"content\":{\"topic\":\"t\"}}]";
	} else if (strstr(path, "/rooms/%21b%3Ax/state")) {
		ans = "[{\"type\":\"m.room.name\",\"state_key\":\"\",\"sender\":\"@bot:x\",\"content\":{\"name\":\"n\"}}]";
	}
	return pb_listener_respond(req, status, "application/json", ans, strlen(ans));
}

static int count_state(const pb_matrix_event *ev, void *ud)
{
	assert_int_equal(ev->section, PB_MATRIX_STATE);
	assert_true(!strcmp(ev->type, "m.room.create") || !strcmp(ev->type, "m.room.name"));
	(*(int *)ud)++;
	return 0;
}

static void test_matrix__appservice_acts_as_its_users(void **state)
{
	(void)state;
	as_seen s;
	memset(&s, 0, sizeof(s));
	pb_listener *l;
	assert_pb_ok(pb_listener_new(&l, NULL));
	assert_pb_ok(pb_listener_route(l, NULL, "/*", as_hs, &s));
	assert_pb_ok(pb_listener_start(l));
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", pb_listener_port(l));
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = url;
	o.access_token = "as-token";
	pb_matrix *m;
	assert_pb_ok(pb_matrix_new(&m, &o));

	assert_pb_error(pb_matrix_act_as(m, "sms_1"), PB_EINVAL);
	assert_pb_ok(pb_matrix_act_as(m, "@sms_1:x"));
	assert_string_equal(pb_matrix_acting_as(m), "@sms_1:x");
	/* registered once; again is PB_EEXISTS; never with user_id= */
	assert_pb_ok(pb_matrix_register_appservice_user(m, "sms_1"));
	assert_pb_error(pb_matrix_register_appservice_user(m, "sms_1"), PB_EEXISTS);
	assert_false(s.user_id_on_register);
	assert_string_equal(pb_matrix_acting_as(m), "@sms_1:x"); /* kept */
	/* every other request carries it, also after a query of its own */
	assert_pb_ok(pb_matrix_set_displayname(m, NULL, "Alice"));
	assert_non_null(strstr(s.path[2], "/profile/%40sms_1%3Ax/displayname"));
	assert_string_equal(s.q[2], "user_id=%40sms_1%3Ax");
	assert_pb_ok(pb_matrix_send_text(m, "!a:x", "t1", "hi", NULL, NULL));
	assert_string_equal(s.q[3], "user_id=%40sms_1%3Ax");
	/* acting as nobody again */
	assert_pb_ok(pb_matrix_act_as(m, NULL));
	assert_null(pb_matrix_acting_as(m));
	assert_pb_ok(pb_matrix_send_text(m, "!a:x", "t2", "hi", NULL, NULL));
	assert_string_equal(s.q[4], "");
	/* the joined rooms' state through the sync callbacks, filtered by type */
	static const char *const types[] = { "m.room.create", "m.room.name", NULL };
	int n = 0;
	pb_matrix_sync_callbacks cb = { count_state, NULL, NULL, NULL, &n };
	assert_pb_ok(pb_matrix_rooms_state(m, types, &cb));
	assert_int_equal(n, 2);
	/* a room made as a user, from a body as given; not JSON: refused before sending */
	char *room = NULL;
	assert_pb_ok(pb_matrix_act_as(m, "@sms_1:x"));
	assert_pb_error(pb_matrix_create_room(m, "[1]", &room), PB_EINVAL);
	assert_pb_error(pb_matrix_create_room(m, "{", &room), PB_EINVAL);
	assert_null(room);
	assert_false(s.created);
	assert_pb_ok(pb_matrix_create_room(m, "{\"preset\":\"private_chat\",\"initial_state\":[]}", &room));
	assert_string_equal(room, "!new:x");
	assert_true(s.created);
	pb_free(room);
	/* a user's avatar: an mxc:// URI only */
	assert_pb_error(pb_matrix_set_avatar_url(m, NULL, "https://example.org/a.png"), PB_EINVAL);
	assert_pb_ok(pb_matrix_set_avatar_url(m, NULL, "mxc://x/abc"));
	assert_true(s.avatar);
	pb_matrix_free(m);
	pb_listener_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix__sync_parse_delivers_everything),
		cmocka_unit_test(test_matrix__sync_parse_rejects_malformed),
		cmocka_unit_test(test_matrix__allocation_failures),
		cmocka_unit_test(test_matrix__urls_escape_path_segments),
		cmocka_unit_test(test_matrix__errcodes_map_to_codes),
		cmocka_unit_test(test_matrix__txn_ids_are_unique_and_url_safe),
		cmocka_unit_test(test_matrix__secret_files_must_be_private),
		cmocka_unit_test(test_matrix__image_info_reads_sizes),
		cmocka_unit_test(test_matrix__login_whoami_logout),
		cmocka_unit_test(test_matrix__discovery_through_well_known),
		cmocka_unit_test(test_matrix__send_is_idempotent_per_txn),
		cmocka_unit_test(test_matrix__direct_rooms_and_membership),
		cmocka_unit_test(test_matrix__media_upload_download_and_fallback),
		cmocka_unit_test(test_matrix__retries_429_500_drops_and_slowness),
		cmocka_unit_test(test_matrix__sync_long_poll_resume_and_cancel),
		cmocka_unit_test(test_matrix__tls_is_verified_by_default),
		cmocka_unit_test(test_matrix__allocation_failures_against_the_server),
		cmocka_unit_test(test_matrix__many_handles_in_threads),
		cmocka_unit_test(test_matrix__appservice_acts_as_its_users),
	};
	return pb_test_run("matrix", tests);
}
