/*
 * libphonebridge tests — listener: routes, size cap, loopback default,
 * handlers on the listener's thread, a stalled client not stalling others.
 * A real HTTP client (libcurl) and raw sockets talk to it.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/internal.h"

#include <phonebridge/listener.h>

#include "test-http.h"

/* One request; @body NULL = GET; @header one extra header line or NULL. */
static reply http(unsigned port, const char *method, const char *target, const char *body, size_t len,
		  const char *header)
{
	const char *headers[] = { header, NULL };
	return test_http(port, method, target, headers, body, len);
}

typedef struct seen {
	char method[16], path[64], query[128], header[64];
	size_t body_len;
	char body[64];
	int calls;
} seen;

static int echo(pb_listener_request *req, void *ud)
{
	seen *s = ud;
	s->calls++;
	pb_strlcpy(s->method, pb_listener_request_method(req), sizeof(s->method));
	pb_strlcpy(s->path, pb_listener_request_path(req), sizeof(s->path));
	pb_strlcpy(s->query, pb_listener_request_query(req), sizeof(s->query));
	const char *h = pb_listener_request_header(req, "x-test");
	pb_strlcpy(s->header, h ? h : "", sizeof(s->header));
	const uint8_t *b = pb_listener_request_body(req, &s->body_len);
	pb_strlcpy(s->body, (const char *)b, sizeof(s->body));
	return pb_listener_respond(req, 201, "application/json", "{\"ok\":true}", 11);
}

static int failing(pb_listener_request *req, void *ud)
{
	(void)req;
	(void)ud;
	return pb_error_set(PB_EIO, "the store is on fire");
}

static int silent(pb_listener_request *req, void *ud)
{
	(void)req;
	(void)ud;
	return 0;
}

static void test_listener__routes_and_requests(void **state)
{
	(void)state;
	pb_listener *l;
	seen s = { 0 };
	assert_pb_ok(pb_listener_new(&l, NULL));
	assert_int_equal(pb_listener_port(l), 0);
	assert_pb_ok(pb_listener_route(l, "POST", "/hook", echo, &s));
	assert_pb_ok(pb_listener_route(l, "GET", "/app/*", echo, &s));
	assert_pb_ok(pb_listener_route(l, NULL, "/fail", failing, NULL));
	assert_pb_ok(pb_listener_route(l, NULL, "/silent", silent, NULL));
	assert_pb_error(pb_listener_route(l, NULL, "nohead", silent, NULL), PB_EINVAL);
	assert_pb_ok(pb_listener_start(l));
	assert_pb_error(pb_listener_start(l), PB_ESTATE);
	assert_pb_error(pb_listener_route(l, NULL, "/late", silent, NULL), PB_ESTATE);
	unsigned port = pb_listener_port(l);
	assert_true(port > 0);

	reply r = http(port, "POST", "/hook?a=%41&b", "x=1&y=2", 7, "X-Test: yes");
	assert_int_equal(r.status, 201);
	assert_string_equal(pb_buf_cstr(&r.body), "{\"ok\":true}");
	assert_string_equal(s.method, "POST");
	assert_string_equal(s.path, "/hook");
	assert_string_equal(s.query, "a=%41&b"); /* as sent, not decoded */
	assert_string_equal(s.header, "yes");
	assert_int_equal(s.body_len, 7);
	assert_string_equal(s.body, "x=1&y=2");
	pb_buf_dispose(&r.body);

	r = http(port, "GET", "/app/v1/users/x", NULL, 0, NULL);
	assert_int_equal(r.status, 201);
	assert_string_equal(s.path, "/app/v1/users/x");
	assert_string_equal(s.query, "");
	assert_int_equal(s.body_len, 0);
	pb_buf_dispose(&r.body);

	r = http(port, "GET", "/hook", NULL, 0, NULL);
	assert_int_equal(r.status, 405);
	pb_buf_dispose(&r.body);
	r = http(port, "GET", "/nowhere", NULL, 0, NULL);
	assert_int_equal(r.status, 404);
	pb_buf_dispose(&r.body);
	r = http(port, "GET", "/fail", NULL, 0, NULL);
	assert_int_equal(r.status, 500);
	assert_null(strstr(pb_buf_cstr(&r.body), "fire")); /* logged, not sent */
	pb_buf_dispose(&r.body);
	r = http(port, "DELETE", "/silent", NULL, 0, NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	pb_buf_dispose(&r.body);
	assert_int_equal(s.calls, 2);
	pb_listener_free(l);
}

static void test_listener__body_cap(void **state)
{
	(void)state;
	pb_listener_options o = PB_LISTENER_OPTIONS_INIT;
	o.max_body = 100;
	pb_listener *l;
	seen s = { 0 };
	assert_pb_ok(pb_listener_new(&l, &o));
	assert_pb_ok(pb_listener_route(l, "POST", "/*", echo, &s));
	assert_pb_ok(pb_listener_start(l));
	char big[101];
	memset(big, 'a', sizeof(big));
	reply r = http(pb_listener_port(l), "POST", "/x", big, 100, NULL);
	assert_int_equal(r.status, 201);
	pb_buf_dispose(&r.body);
	r = http(pb_listener_port(l), "POST", "/x", big, 101, NULL);
	assert_int_equal(r.status, 413);
	pb_buf_dispose(&r.body);
	/* chunked: no Content-Length, the cap holds while it arrives */
	r = http(pb_listener_port(l), "POST", "/x", big, 101, "Transfer-Encoding: chunked");
	assert_int_equal(r.status, 413);
	pb_buf_dispose(&r.body);
	assert_int_equal(s.calls, 1);
	pb_listener_free(l);
}

static void test_listener__addresses(void **state)
{
	(void)state;
	pb_listener *l;
	pb_listener_options o = PB_LISTENER_OPTIONS_INIT;
	const char *bad[] = { "127.0.0.1:", "127.0.0.1:http", "[::1]", "[::1]x80", "no.such.host.invalid:80",
			      "127.0.0.1:123456" };
	for (size_t i = 0; i < PB_ARRAY_SIZE(bad); i++) {
		o.address = bad[i];
		assert_pb_error(pb_listener_new(&l, &o), PB_EINVAL);
	}
	o.version = 0;
	assert_pb_error(pb_listener_new(&l, &o), PB_EINVAL);
	/* a bare port is the loopback address */
	o = (pb_listener_options)PB_LISTENER_OPTIONS_INIT;
	o.address = "0";
	assert_pb_ok(pb_listener_new(&l, &o));
	assert_pb_ok(pb_listener_route(l, NULL, "/*", silent, NULL));
	assert_pb_ok(pb_listener_start(l));
	unsigned port = pb_listener_port(l);
	reply r = http(port, "GET", "/", NULL, 0, NULL);
	assert_int_equal(r.status, 200);
	pb_buf_dispose(&r.body);
	/* a second listener on the same port: a clear error */
	pb_listener *l2;
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	o.address = addr;
	assert_pb_ok(pb_listener_new(&l2, &o));
	assert_pb_error(pb_listener_start(l2), PB_EIO);
	assert_non_null(strstr(pb_error_last()->message, addr));
	pb_listener_free(l2);
	pb_listener_free(l);
	/* IPv6 loopback */
	o.address = "[::1]:0";
	assert_pb_ok(pb_listener_new(&l, &o));
	if (pb_listener_start(l) == 0)
		assert_true(pb_listener_port(l) > 0);
	pb_listener_free(l);
}

static void test_listener__stalled_client_blocks_nobody(void **state)
{
	(void)state;
	pb_listener *l;
	seen s = { 0 };
	assert_pb_ok(pb_listener_new(&l, NULL));
	assert_pb_ok(pb_listener_route(l, NULL, "/*", echo, &s));
	assert_pb_ok(pb_listener_start(l));
	/* half a request, never finished */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)pb_listener_port(l)) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	const char *half = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nabc";
	assert_int_equal(write(fd, half, strlen(half)), (ssize_t)strlen(half));
	reply r = http(pb_listener_port(l), "GET", "/y", NULL, 0, NULL);
	assert_int_equal(r.status, 201);
	assert_string_equal(s.path, "/y");
	pb_buf_dispose(&r.body);
	close(fd);
	pb_listener_free(l); /* does not wait for the stalled client's timeout */
}

static void test_listener__secret_equal(void **state)
{
	(void)state;
	assert_true(pb_secret_equal("eagle-token", "eagle-token"));
	assert_false(pb_secret_equal("eagle-tokeN", "eagle-token"));
	assert_false(pb_secret_equal("eagle-token-and-more", "eagle-token"));
	assert_false(pb_secret_equal("eagle", "eagle-token"));
	assert_false(pb_secret_equal("", "eagle-token"));
	assert_false(pb_secret_equal(NULL, "eagle-token"));
	assert_false(pb_secret_equal("x", NULL));
	assert_false(pb_secret_equal("", ""));
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listener__routes_and_requests),
		cmocka_unit_test(test_listener__body_cap),
		cmocka_unit_test(test_listener__addresses),
		cmocka_unit_test(test_listener__stalled_client_blocks_nobody),
		cmocka_unit_test(test_listener__secret_equal),
	};
	int rc = pb_test_run("listener", tests);
	curl_global_cleanup();
	return rc;
}
