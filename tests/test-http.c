/*
 * libphonebridge tests — http: the shared back-off, Retry-After and the
 * capped sink that modem, mmsc and matrix use.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <limits.h>
#include <string.h>

#include "http/http-private.h"

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

static void test_http__sink_caps(void **state)
{
	(void)state;
	pb_buf b = PB_BUF_INIT;
	pb_http__sink s = { &b, 8, false, false };
	char data[] = "0123456789";
	assert_int_equal(pb_http__sink_write(data, 1, 5, &s), 5);
	assert_int_equal(pb_http__sink_write(data, 1, 3, &s), 3);
	assert_int_equal(pb_http__sink_write(data, 1, 1, &s), 0);
	assert_true(s.too_big);
	assert_false(s.oom);
	assert_int_equal(b.len, 8);
	pb_buf_dispose(&b);
	assert_pb_ok(pb_http__init());
	assert_pb_ok(pb_http__init());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http__backoff_doubles_up_to_cap),
		cmocka_unit_test(test_http__retry_after),
		cmocka_unit_test(test_http__sink_caps),
	};
	return pb_test_run("http", tests);
}
