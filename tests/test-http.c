/*
 * libphonebridge tests — http: the one HTTP transport modem, mmsc and matrix
 * use: back-off, Retry-After, the size cap, cancel (of a transfer and of a
 * wait), the libcurl error table. The server is libmicrohttpd on 127.0.0.1.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/http-private.h"

/* --- a small server ------------------------------------------------------ */

typedef struct server {
	struct MHD_Daemon *d;
	unsigned port;
	atomic_int busy_left; /* /busy answers 503 this many times more */
	atomic_int hits;
} server;

static ssize_t slow_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (pos >= 100000 || max == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	usleep(20000); /* one byte every 20 ms: a transfer long enough to cancel */
	buf[0] = 'x';
	return 1;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	server *srv = cls;
	(void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
	static char big[4096];
	struct MHD_Response *r;
	unsigned status = 200;
	atomic_fetch_add(&srv->hits, 1);
	if (strcmp(url, "/big") == 0) {
		memset(big, 'b', sizeof(big));
		r = MHD_create_response_from_buffer(sizeof(big), big, MHD_RESPMEM_PERSISTENT);
	} else if (strncmp(url, "/busy/", 6) == 0) {
		/* /busy/<Retry-After value> */
		bool busy = atomic_fetch_sub(&srv->busy_left, 1) > 0;
		r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
		if (busy) {
			status = 503;
			MHD_add_response_header(r, "Retry-After", url + 6);
		}
	} else if (strcmp(url, "/slow") == 0) {
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1, slow_reader, NULL, NULL);
	} else {
		r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
	}
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static void server_start(server *srv)
{
	memset(srv, 0, sizeof(*srv));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	srv->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
				  answer, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
	assert_non_null(srv->d);
	srv->port = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT)->port;
	assert_true(srv->port > 0);
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A judge like the modules': the transport's verdict, then 503 retried. */
static pb_http__verdict judge_503(const pb_http__answer *a, void *ud)
{
	pb_http__answer *last = ud;
	*last = *a;
	pb_http__verdict v = pb_http__transport_verdict(a, a->rq->what, true);
	if (v.code == 0 && a->status == 503) {
		v.code = pb_error_set(PB_EAGAIN, "%s: HTTP 503", a->rq->what);
		v.retry = true;
	}
	return v;
}

typedef struct fixture {
	server srv;
	pb_http__client cl;
	pb_http__base base;
	pb_buf out;
	char url[128];
	pb_http__answer last;
	pb_http__request rq;
} fixture;

static fixture *fixture_new(const char *path)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	server_start(&f->srv);
	assert_pb_ok(pb_http__client_init(&f->cl));
	f->base.connect_timeout_ms = 30000;
	f->base.timeout_ms = 60000;
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u%s", f->srv.port, path);
	f->rq = (pb_http__request){ .what = "test: GET", .method = "GET", .url = f->url, .out = &f->out,
				    .attempts = 3, .backoff_base_ms = 5, .backoff_cap_ms = 10,
				    .retry_after_max_ms = 60000, .log_domain = "test", .judge = judge_503,
				    .judge_userdata = &f->last };
	return f;
}

static void fixture_free(fixture *f)
{
	pb_http__client_dispose(&f->cl);
	pb_http__client_dispose(&f->cl); /* idempotent */
	MHD_stop_daemon(f->srv.d);
	pb_buf_dispose(&f->out);
	free(f);
}

static void test_http__backoff_doubles_up_to_cap(void **state)
{
	(void)state;
	assert_int_equal(pb_http__backoff_ms(500, 30000, 0), 500);
	assert_int_equal(pb_http__backoff_ms(500, 30000, 1), 1000);
	assert_int_equal(pb_http__backoff_ms(500, 30000, 5), 16000);
	assert_int_equal(pb_http__backoff_ms(500, 30000, 6), 30000);
	assert_int_equal(pb_http__backoff_ms(500, 30000, 4000000000u), 30000);
	assert_true(pb_http__backoff_ms(LONG_MAX / 2 + 1, LONG_MAX, 3) == LONG_MAX);
	assert_int_equal(pb_http__backoff_ms(900, 100, 0), 100);
	/* the MMSC's unsigned delays fit */
	assert_int_equal(pb_http__backoff_ms(3000000000L, 4000000000L, 4), 4000000000L);
}

static void test_http__retry_after(void **state)
{
	(void)state;
	assert_int_equal(pb_http__retry_after_ms("7", 1), 7000);
	assert_int_equal(pb_http__retry_after_ms("0", 1), 0);
	assert_int_equal(pb_http__retry_after_ms("", 0), -1);
	assert_int_equal(pb_http__retry_after_ms("Fri, 31 Dec 1999 23:59:59 GMT", 29), -1);
	assert_int_equal(pb_http__retry_after_ms("12x", 3), -1);
	assert_int_equal(pb_http__retry_after_ms("99999999999", 11), -1); /* over the cap: ignored */
}

static void test_http__answer_over_the_cap_stops_the_transfer(void **state)
{
	(void)state;
	fixture *f = fixture_new("/big");
	f->rq.max_bytes = 1000;
	assert_pb_error(pb_http__perform(&f->cl, &f->base, &f->rq, NULL), PB_ETOOBIG);
	assert_non_null(strstr(pb_error_last()->message, "1000-byte limit"));
	assert_int_equal(f->last.attempt, 1); /* never retried: it would fail the same way */
	assert_true(f->out.len <= 1000);
	/* at the cap exactly it passes; the body is appended after what was there */
	pb_buf_puts(&f->out, "head:");
	f->rq.max_bytes = 4096;
	assert_pb_ok(pb_http__perform(&f->cl, &f->base, &f->rq, NULL));
	assert_int_equal(f->out.len, 5 + 4096);
	assert_memory_equal(f->out.data, "head:bbb", 8);
	fixture_free(f);
}

static void test_http__retry_after_is_honoured_and_capped(void **state)
{
	(void)state;
	fixture *f = fixture_new("/busy/1");
	atomic_store(&f->srv.busy_left, 1);
	long t0 = now_ms();
	assert_pb_ok(pb_http__perform(&f->cl, &f->base, &f->rq, NULL));
	long waited = now_ms() - t0;
	assert_int_equal(f->last.attempt, 2);
	assert_int_equal(f->last.status, 200);
	assert_true(waited >= 950); /* Retry-After: 1, not the 5 ms back-off */
	assert_memory_equal(f->out.data, "ok", 2);
	assert_int_equal(f->out.len, 2); /* the 503's body is gone */
	fixture_free(f);

	/* a server asking for a day waits no longer than retry_after_max_ms */
	f = fixture_new("/busy/86400");
	atomic_store(&f->srv.busy_left, 1);
	f->rq.retry_after_max_ms = 50;
	t0 = now_ms();
	assert_pb_ok(pb_http__perform(&f->cl, &f->base, &f->rq, NULL));
	assert_true(now_ms() - t0 < 30000);
	assert_int_equal(f->last.attempt, 2);
	fixture_free(f);

	/* attempts run out: the last verdict's code */
	f = fixture_new("/busy/0");
	atomic_store(&f->srv.busy_left, 100);
	assert_pb_error(pb_http__perform(&f->cl, &f->base, &f->rq, NULL), PB_EAGAIN);
	assert_int_equal(f->last.attempt, 3);
	assert_int_equal(atomic_load(&f->srv.hits), 3);
	fixture_free(f);
}

static void *cancel_when_asked(void *ud)
{
	fixture *f = ud;
	/* once the server has been asked, the client waits out Retry-After: 3600 */
	for (int i = 0; i < 6000 && atomic_load(&f->srv.hits) == 0; i++)
		usleep(10000);
	usleep(100000);
	pb_http__cancel(&f->cl);
	return NULL;
}

static int stop_after_bytes(uint64_t now, uint64_t total, void *ud)
{
	(void)total, (void)ud;
	return now >= 3;
}

static void test_http__cancel_stops_waits_and_transfers(void **state)
{
	(void)state;
	/* a back-off wait of an hour ends at pb_http__cancel() */
	fixture *f = fixture_new("/busy/3600");
	atomic_store(&f->srv.busy_left, 1);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, cancel_when_asked, f), 0);
	long t0 = now_ms();
	assert_pb_error(pb_http__perform(&f->cl, &f->base, &f->rq, NULL), PB_ECANCELLED);
	assert_true(now_ms() - t0 < 60000);
	pthread_join(t, NULL);
	/* and every later request, until reset, without a byte sent */
	int hits = atomic_load(&f->srv.hits);
	assert_pb_error(pb_http__perform(&f->cl, &f->base, &f->rq, NULL), PB_ECANCELLED);
	assert_int_equal(atomic_load(&f->srv.hits), hits);
	assert_int_equal(f->last.attempt, 1);
	pb_http__cancel_reset(&f->cl);
	assert_pb_ok(pb_http__perform(&f->cl, &f->base, &f->rq, NULL));
	fixture_free(f);

	/* the progress callback stops a running transfer: not retried */
	f = fixture_new("/slow");
	f->rq.progress = stop_after_bytes;
	assert_pb_error(pb_http__perform(&f->cl, &f->base, &f->rq, NULL), PB_ECANCELLED);
	assert_int_equal(f->last.attempt, 1);
	assert_true(f->out.len >= 3 && f->out.len < 100000);
	fixture_free(f);
}

static void test_http__curl_codes(void **state)
{
	(void)state;
	bool unsent, unclear;
	assert_int_equal(pb_http__curl_code(CURLE_COULDNT_CONNECT, &unsent, &unclear), PB_EIO);
	assert_true(unsent);
	assert_int_equal(pb_http__curl_code(CURLE_COULDNT_RESOLVE_PROXY, &unsent, &unclear), PB_EIO);
	assert_true(unsent);
	assert_int_equal(pb_http__curl_code(CURLE_OPERATION_TIMEDOUT, &unsent, &unclear), PB_ETIMEOUT);
	assert_true(unclear && !unsent);
	assert_int_equal(pb_http__curl_code(CURLE_GOT_NOTHING, &unsent, &unclear), PB_EAGAIN);
	assert_true(unclear);
	assert_int_equal(pb_http__curl_code(CURLE_INTERFACE_FAILED, &unsent, &unclear), PB_EIO);
	assert_false(unsent || unclear);
	/* a certificate refused is a transport failure, not refused credentials */
	assert_int_equal(pb_http__curl_code(CURLE_PEER_FAILED_VERIFICATION, &unsent, &unclear), PB_EIO);
	assert_false(unsent || unclear);
	assert_int_equal(pb_http__curl_code(CURLE_FILESIZE_EXCEEDED, &unsent, &unclear), PB_ETOOBIG);
	assert_int_equal(pb_http__curl_code(CURLE_ABORTED_BY_CALLBACK, &unsent, &unclear), PB_ECANCELLED);
	assert_int_equal(pb_http__curl_code(CURLE_OK, &unsent, &unclear), 0);

	/* what the transport's verdict makes of them, idempotent or not */
	pb_http__request rq = { .what = "x" };
	pb_http__answer a = { .rq = &rq, .cc = CURLE_OPERATION_TIMEDOUT, .curl_error = "timed out" };
	assert_true(pb_http__transport_verdict(&a, "x", true).retry);
	assert_false(pb_http__transport_verdict(&a, "x", false).retry);
	a.cc = CURLE_COULDNT_CONNECT;
	assert_true(pb_http__transport_verdict(&a, "x", false).retry);
	assert_int_equal(pb_http__transport_verdict(&a, "x", false).delay_ms, -1);
	a.cc = CURLE_OK;
	assert_int_equal(pb_http__transport_verdict(&a, "x", false).code, 0);
	assert_pb_ok(pb_http__init());
	assert_pb_ok(pb_http__init());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http__backoff_doubles_up_to_cap),
		cmocka_unit_test(test_http__retry_after),
		cmocka_unit_test(test_http__answer_over_the_cap_stops_the_transfer),
		cmocka_unit_test(test_http__retry_after_is_honoured_and_capped),
		cmocka_unit_test(test_http__cancel_stops_waits_and_transfers),
		cmocka_unit_test(test_http__curl_codes),
	};
	return pb_test_run("http", tests);
}
