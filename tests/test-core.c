/*
 * libphonebridge tests — core: errors, logging, allocation, buffers, hex,
 * base64, UTF-8 and charsets.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"

/* --- errors ---------------------------------------------------------------- */

static void test_core__error_codes_have_names_and_texts(void **state)
{
	(void)state;
	for (int code = PB_OK; code >= PB_ERANGE; code--) {
		assert_string_not_equal(pb_error_name(code), "PB_E?");
		assert_string_not_equal(pb_strerror(code), "unknown error");
	}
	assert_string_equal(pb_error_name(PB_EMALFORMED), "PB_EMALFORMED");
	assert_string_equal(pb_strerror(12345), "unknown error");
	assert_string_equal(pb_error_name(12345), "PB_E?");
}

static void test_core__error_last_is_set_and_cleared(void **state)
{
	(void)state;
	pb_error_clear();
	assert_int_equal(pb_error_last()->code, PB_OK);
	assert_string_equal(pb_error_last()->message, "");
	assert_int_equal(pb_error_set(PB_EIO, "reading %s failed", "/dev/ttyUSB2"), PB_EIO);
	assert_int_equal(pb_error_last()->code, PB_EIO);
	assert_string_equal(pb_error_last()->message, "reading /dev/ttyUSB2 failed");
	assert_int_equal(pb_error_set(PB_ETIMEOUT, NULL), PB_ETIMEOUT);
	assert_string_equal(pb_error_last()->message, "timed out");
	/* re-raising with the current message as an argument is safe */
	pb_error_set(PB_EPROTO, "router: %s", pb_error_last()->message);
	assert_string_equal(pb_error_last()->message, "router: timed out");
	pb_error_clear();
	assert_int_equal(pb_error_last()->code, PB_OK);
}

static void test_core__error_long_message_is_cut(void **state)
{
	(void)state;
	char big[2000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pb_error_set(PB_EINVAL, "%s", big);
	assert_true(strlen(pb_error_last()->message) < sizeof(big));
	assert_true(strlen(pb_error_last()->message) > 100);
}

static void *thread_sets_error(void *arg)
{
	(void)arg;
	pb_error_set(PB_EAUTH, "other thread");
	return (void *)(intptr_t)(strcmp(pb_error_last()->message, "other thread") == 0);
}

static void test_core__error_is_per_thread(void **state)
{
	(void)state;
	pb_error_set(PB_EBUSY, "main thread");
	pthread_t t;
	void *ok;
	assert_int_equal(pthread_create(&t, NULL, thread_sets_error, NULL), 0);
	assert_int_equal(pthread_join(t, &ok), 0);
	assert_true((intptr_t)ok);
	assert_int_equal(pb_error_last()->code, PB_EBUSY);
	assert_string_equal(pb_error_last()->message, "main thread");
}

static void test_core__parse_error_names_offset(void **state)
{
	(void)state;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	assert_int_equal(pb_error__parse(&perr, 17, "value-length %d beyond end", 300), PB_EMALFORMED);
	assert_int_equal(perr.offset, 17);
	assert_string_equal(perr.text, "value-length 300 beyond end");
	assert_string_equal(pb_error_last()->message, "offset 17: value-length 300 beyond end");
	/* a NULL pb_parse_error is allowed */
	assert_int_equal(pb_error__parse_code(NULL, PB_EUNSUPPORTED, 3, "compressed"), PB_EUNSUPPORTED);
	assert_string_equal(pb_error_last()->message, "offset 3: compressed");
}

/* --- logging ---------------------------------------------------------------- */

struct log_capture {
	int calls;
	int level;
	char domain[32];
	char message[64];
};

static void capture_log(int level, const char *domain, const char *message, void *userdata)
{
	struct log_capture *c = userdata;
	c->calls++;
	c->level = level;
	snprintf(c->domain, sizeof(c->domain), "%s", domain);
	snprintf(c->message, sizeof(c->message), "%s", message);
}

static void test_core__log_goes_to_callback_by_level(void **state)
{
	(void)state;
	struct log_capture c = { 0 };
	pb_log(PB_LOG_ERROR, "test", "dropped: no sink");
	pb_log_set_callback(capture_log, &c);
	pb_log_set_level(PB_LOG_INFO);
	pb_log(PB_LOG_WARNING, "hilink", "token %d refused", 125002);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.level, PB_LOG_WARNING);
	assert_string_equal(c.domain, "hilink");
	assert_string_equal(c.message, "token 125002 refused");
	pb_log_debug("at", "below the level");
	assert_int_equal(c.calls, 1);
	pb_log_set_level(PB_LOG_DEBUG);
	pb_log_debug("at", "now shown");
	assert_int_equal(c.calls, 2);
	assert_int_equal(pb_log_get_level(), PB_LOG_DEBUG);
	pb_log_set_level(99);
	assert_int_equal(pb_log_get_level(), PB_LOG_DEBUG);
	assert_string_equal(pb_log_level_name(PB_LOG_NOTICE), "notice");
	pb_log_set_callback(NULL, NULL);
	pb_log_set_level(PB_LOG_INFO);
	pb_log(PB_LOG_ERROR, "test", "dropped again");
	assert_int_equal(c.calls, 2);
}

/* --- allocation ------------------------------------------------------------- */

static void test_core__allocator_must_be_complete(void **state)
{
	(void)state;
	pb_allocator a = { NULL, NULL, NULL, NULL };
	assert_pb_error(pb_set_allocator(&a), PB_EINVAL);
	assert_pb_ok(pb_set_allocator(NULL));
}

static void test_core__allocator_routes_every_call(void **state)
{
	(void)state;
	pb_test_alloc_install(0);
	char *s = pb_strdup("hello");
	assert_string_equal(s, "hello");
	char *t = pb_strndup("hello", 3);
	assert_string_equal(t, "hel");
	int *z = pb_calloc(4, sizeof(int));
	assert_int_equal(z[3], 0);
	z = pb_realloc(z, 100 * sizeof(int));
	assert_non_null(z);
	assert_int_equal(pb_test_alloc_outstanding(), 3);
	pb_free(s);
	pb_free(t);
	pb_free(z);
	pb_free(NULL);
	assert_int_equal(pb_test_alloc_outstanding(), 0);
	pb_test_alloc_uninstall();
}

static void test_core__calloc_overflow_fails_cleanly(void **state)
{
	(void)state;
	assert_null(pb_calloc(SIZE_MAX / 2, 4));
	assert_int_equal(pb_error_last()->code, PB_ENOMEM);
	assert_null(pb_strdup(NULL));
	assert_int_equal(pb_error_last()->code, PB_EINVAL);
}

/* --- buffers ---------------------------------------------------------------- */

static void test_core__buf_grows_and_stays_terminated(void **state)
{
	(void)state;
	pb_buf b = PB_BUF_INIT;
	assert_string_equal(pb_buf_cstr(&b), "");
	assert_pb_ok(pb_buf_puts(&b, "abc"));
	assert_pb_ok(pb_buf_putc(&b, 'd'));
	assert_pb_ok(pb_buf_printf(&b, "-%d-%s", 42, "x"));
	assert_string_equal(pb_buf_cstr(&b), "abcd-42-x");
	assert_int_equal(b.len, 9);
	for (int i = 0; i < 10000; i++)
		assert_pb_ok(pb_buf_putc(&b, 'z'));
	assert_int_equal(b.len, 10009);
	assert_int_equal(b.data[b.len], 0);
	pb_buf_truncate(&b, 4);
	assert_string_equal(pb_buf_cstr(&b), "abcd");
	pb_buf_truncate(&b, 100);
	assert_int_equal(b.len, 4);
	pb_buf_clear(&b);
	assert_string_equal(pb_buf_cstr(&b), "");
	assert_pb_ok(pb_buf_put(&b, NULL, 0));
	assert_pb_ok(pb_buf_puts(&b, "kept"));
	size_t len;
	uint8_t *d = pb_buf_detach(&b, &len);
	assert_int_equal(len, 4);
	assert_string_equal((char *)d, "kept");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	pb_free(d);
	d = pb_buf_detach(&b, &len);
	assert_non_null(d);
	assert_int_equal(len, 0);
	assert_string_equal((char *)d, "");
	pb_free(d);
	pb_buf_dispose(&b);
	pb_buf_dispose(NULL);
}

static void test_core__buf_reserve_overflow(void **state)
{
	(void)state;
	pb_buf b = PB_BUF_INIT;
	/* reserving alone already gives a terminated (empty) string */
	assert_pb_ok(pb_buf_reserve(&b, 10));
	assert_non_null(b.data);
	assert_int_equal(b.data[0], 0);
	assert_string_equal(pb_buf_cstr(&b), "");
	assert_pb_ok(pb_buf_puts(&b, "x"));
	assert_pb_error(pb_buf_reserve(&b, SIZE_MAX), PB_ETOOBIG);
	assert_string_equal(pb_buf_cstr(&b), "x");
	pb_buf_dispose(&b);
}

/* --- hex -------------------------------------------------------------------- */

static void test_core__hex_round_trip(void **state)
{
	(void)state;
	const uint8_t bytes[] = { 0x00, 0x07, 0x91, 0xab, 0xff };
	pb_buf h = PB_BUF_INIT, b = PB_BUF_INIT;
	assert_pb_ok(pb_hex_encode(&h, bytes, sizeof(bytes), 0));
	assert_string_equal(pb_buf_cstr(&h), "000791abff");
	pb_buf_clear(&h);
	assert_pb_ok(pb_hex_encode(&h, bytes, sizeof(bytes), PB_HEX_UPPER));
	assert_string_equal(pb_buf_cstr(&h), "000791ABFF");
	assert_pb_ok(pb_hex_decode(&b, "00 07\n91aB\tfF", 13, NULL));
	assert_int_equal(b.len, sizeof(bytes));
	assert_memory_equal(b.data, bytes, sizeof(bytes));
	pb_buf_dispose(&h);
	pb_buf_dispose(&b);
}

static void test_core__hex_errors_name_offset(void **state)
{
	(void)state;
	pb_buf b = PB_BUF_INIT;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	assert_pb_ok(pb_buf_puts(&b, "keep"));
	assert_pb_error(pb_hex_decode(&b, "0791zz", 6, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 4);
	assert_string_equal(pb_buf_cstr(&b), "keep"); /* untouched on failure */
	assert_pb_error(pb_hex_decode(&b, "07910", 5, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 4);
	assert_string_equal(perr.text, "odd number of hex digits");
	assert_pb_error(pb_hex_decode(&b, "0 791", 5, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 1);
	assert_pb_ok(pb_hex_decode(&b, "", 0, &perr));
	assert_int_equal(b.len, 4);
	pb_buf_dispose(&b);
}

/* --- base64 (RFC 4648 §10 test vectors) --------------------------------------- */

static void test_core__base64_rfc4648_vectors(void **state)
{
	(void)state;
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (size_t i = 0; i < PB_ARRAY_SIZE(plain); i++) {
		pb_buf e = PB_BUF_INIT, d = PB_BUF_INIT, n = PB_BUF_INIT;
		assert_pb_ok(pb_base64_encode(&e, plain[i], strlen(plain[i]), 0));
		assert_string_equal(pb_buf_cstr(&e), coded[i]);
		assert_pb_ok(pb_base64_decode(&d, coded[i], strlen(coded[i]), 0, NULL));
		assert_string_equal(pb_buf_cstr(&d), plain[i]);
		/* without padding, both ways */
		assert_pb_ok(pb_base64_encode(&n, plain[i], strlen(plain[i]), PB_BASE64_NOPAD));
		assert_null(strchr(pb_buf_cstr(&n), '='));
		pb_buf_clear(&d);
		assert_pb_ok(pb_base64_decode(&d, (char *)n.data, n.len, 0, NULL));
		assert_string_equal(pb_buf_cstr(&d), plain[i]);
		pb_buf_dispose(&e);
		pb_buf_dispose(&d);
		pb_buf_dispose(&n);
	}
}

static void test_core__base64_mime_whitespace_and_url(void **state)
{
	(void)state;
	pb_buf d = PB_BUF_INIT, e = PB_BUF_INIT;
	assert_pb_ok(pb_base64_decode(&d, "Zm9v\r\nYmFy\r\n", 12, 0, NULL));
	assert_string_equal(pb_buf_cstr(&d), "foobar");
	const uint8_t bin[] = { 0xfb, 0xff, 0xbf };
	assert_pb_ok(pb_base64_encode(&e, bin, 3, PB_BASE64_URL));
	assert_string_equal(pb_buf_cstr(&e), "-_-_");
	pb_buf_clear(&d);
	assert_pb_ok(pb_base64_decode(&d, "-_-_", 4, PB_BASE64_URL, NULL));
	assert_memory_equal(d.data, bin, 3);
	pb_buf_dispose(&d);
	pb_buf_dispose(&e);
}

static void test_core__base64_errors_name_offset(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t offset;
	} bad[] = {
		{ "Zm9v!", 4 },     /* not in the alphabet */
		{ "Z===", 1 },      /* padding after one sextet */
		{ "Zm9vYg==Zg", 8 }, /* data after padding */
		{ "Zm9vY", 5 },     /* ends inside a byte */
		{ "Zg=", 3 },       /* incomplete padding */
		{ "-_", 0 },        /* URL alphabet without the flag */
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(bad); i++) {
		pb_buf d = PB_BUF_INIT;
		pb_parse_error perr = PB_PARSE_ERROR_INIT;
		assert_pb_error(pb_base64_decode(&d, bad[i].in, strlen(bad[i].in), 0, &perr), PB_EMALFORMED);
		assert_int_equal(perr.offset, bad[i].offset);
		assert_int_equal(d.len, 0);
		pb_buf_dispose(&d);
	}
}

/* --- UTF-8 ------------------------------------------------------------------ */

static void test_core__utf8_validate(void **state)
{
	(void)state;
	size_t off = 99;
	assert_pb_ok(pb_utf8_validate("plain ascii", 11, &off));
	assert_pb_ok(pb_utf8_validate("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9, &off)); /* é € 😀 */
	assert_pb_ok(pb_utf8_validate("\xEF\xBF\xBD", 3, &off)); /* U+FFFD itself */
	static const struct {
		const char *s;
		size_t len, off;
	} bad[] = {
		{ "ab\xC0\xAF", 4, 2 },          /* overlong '/' */
		{ "\xE0\x80\xAF", 3, 0 },        /* overlong, 3 bytes */
		{ "x\xED\xA0\x80", 4, 1 },       /* surrogate U+D800 (CESU-8) */
		{ "\xF4\x90\x80\x80", 4, 0 },    /* above U+10FFFF */
		{ "ok\xE2\x82", 4, 2 },          /* truncated */
		{ "\x80", 1, 0 },                /* lone continuation */
		{ "\xFF", 1, 0 },
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(bad); i++) {
		assert_pb_error(pb_utf8_validate(bad[i].s, bad[i].len, &off), PB_EMALFORMED);
		assert_int_equal(off, bad[i].off);
	}
}

static void test_core__utf8_encode_decode(void **state)
{
	(void)state;
	static const uint32_t cps[] = { 0, 0x41, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFD, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF };
	for (size_t i = 0; i < PB_ARRAY_SIZE(cps); i++) {
		char b[4];
		size_t n = pb_utf8_encode(cps[i], b);
		uint32_t cp;
		assert_int_equal(pb_utf8_decode(b, n, &cp), n);
		assert_int_equal(cp, cps[i]);
	}
	char b[4];
	assert_int_equal(pb_utf8_encode(0xD800, b), 3);
	assert_memory_equal(b, "\xEF\xBF\xBD", 3);
	assert_int_equal(pb_utf8_encode(0x110000, b), 3);
	uint32_t cp;
	assert_int_equal(pb_utf8_decode("", 0, &cp), 0);
	/* a broken 3-byte sequence is consumed up to where it broke */
	assert_int_equal(pb_utf8_decode("\xE2\x82x", 3, &cp), 2);
	assert_int_equal(cp, PB_UNICODE_REPLACEMENT);
}

static void test_core__utf8_sanitize(void **state)
{
	(void)state;
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_utf8_sanitize(&b, "a\xFF" "b\xE2\x82" "c\xF0\x9F\x98\x80", 10));
	assert_string_equal(pb_buf_cstr(&b), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xF0\x9F\x98\x80");
	pb_buf_clear(&b);
	assert_pb_ok(pb_utf8_sanitize(&b, NULL, 0));
	assert_int_equal(b.len, 0);
	pb_buf_dispose(&b);
}

/* --- charsets --------------------------------------------------------------- */

static void expect_utf8(const char *charset, const void *in, size_t len, const char *want)
{
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_charset_to_utf8(&b, charset, in, len));
	assert_string_equal(pb_buf_cstr(&b), want);
	pb_buf_dispose(&b);
}

static void test_core__charset_to_utf8(void **state)
{
	(void)state;
	expect_utf8("utf-8", "\xEF\xBB\xBFh\xC3\xA9", 6, "h\xC3\xA9");             /* BOM dropped */
	expect_utf8(NULL, "h\xC3\xA9", 3, "h\xC3\xA9");
	expect_utf8("us-ascii", "a\xE9z", 3, "a\xEF\xBF\xBDz");
	expect_utf8("ISO-8859-1", "caf\xE9", 4, "caf\xC3\xA9");
	expect_utf8("iso-8859-2", "\xB1", 1, "\xC4\x85");                          /* ą */
	expect_utf8("windows-1251", "\xCF\xF0\xE8", 3, "\xD0\x9F\xD1\x80\xD0\xB8"); /* При */
	expect_utf8("UTF-16", "\xFF\xFEh\x00i\x00", 6, "hi");                       /* LE BOM */
	expect_utf8("UTF-16", "\xFE\xFF\x00h\x00i", 6, "hi");                       /* BE BOM */
	expect_utf8("utf-16", "\x00h\x00i", 4, "hi");                               /* no BOM: BE */
	expect_utf8("UTF-16BE", "\xD8\x3D\xDE\x00", 4, "\xF0\x9F\x98\x80");          /* surrogate pair */
	expect_utf8("ISO-10646-UCS-2", "\xD8\x3D\x00x", 4, "\xEF\xBF\xBDx");         /* lone surrogate */
	expect_utf8("UTF-16LE", "h\x00i", 3, "h\xEF\xBF\xBD");                        /* odd length */
	expect_utf8("Shift_JIS", "\x93\xFA\x96\x7B", 4, "\xE6\x97\xA5\xE6\x9C\xAC");  /* 日本 */
	expect_utf8("Big5", "\xA4\xA4\xA4\xE5", 4, "\xE4\xB8\xAD\xE6\x96\x87");       /* 中文 */
	/* UCS-4 beyond U+10FFFF: glibc's iconv passes it through as F4 90 80 80;
	 * we must not. Each byte of that is its own ill-formed subpart (Unicode
	 * §3.9), so four U+FFFD. */
	expect_utf8("ISO-10646-UCS-4", "\x00\x11\x00\x00\x00\x00\x00" "A", 8,
		    "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "A");
	/* an invalid byte in a multi-byte charset becomes U+FFFD and decoding goes on */
	expect_utf8("Shift_JIS", "a\xFF" "b", 3, "a\xEF\xBF\xBD" "b");
}

static void test_core__charset_unknown_is_unsupported(void **state)
{
	(void)state;
	pb_buf b = PB_BUF_INIT;
	assert_pb_error(pb_charset_to_utf8(&b, "x-no-such-charset", "a", 1), PB_EUNSUPPORTED);
	assert_non_null(strstr(pb_error_last()->message, "x-no-such-charset"));
	assert_pb_error(pb_charset_from_utf8(&b, "x-no-such-charset", "a", 1), PB_EUNSUPPORTED);
	pb_buf_dispose(&b);
}

static void test_core__charset_from_utf8(void **state)
{
	(void)state;
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_charset_from_utf8(&b, "ISO-8859-1", "caf\xC3\xA9", 5));
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "caf\xE9", 4);
	pb_buf_clear(&b);
	assert_pb_ok(pb_charset_from_utf8(&b, "UTF-16", "h\xF0\x9F\x98\x80", 5));
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "\x00h\xD8\x3D\xDE\x00", 6);
	pb_buf_clear(&b);
	assert_pb_error(pb_charset_from_utf8(&b, "ISO-8859-1", "ok \xE2\x82\xAC", 6), PB_ERANGE);
	assert_non_null(strstr(pb_error_last()->message, "offset 3"));
	assert_int_equal(b.len, 0);
	assert_pb_error(pb_charset_from_utf8(&b, "ISO-8859-1", "\xFF", 1), PB_EMALFORMED);
	assert_pb_ok(pb_charset_from_utf8(&b, "ISO-2022-JP", "\xE6\x97\xA5", 3));
	/* stateful charset: the shift back to ASCII is flushed at the end */
	assert_memory_equal(b.data + b.len - 3, "\x1B(B", 3);
	pb_buf_dispose(&b);
}

static void test_core__charset_mib_table(void **state)
{
	(void)state;
	assert_string_equal(pb_charset_from_mib(106), "UTF-8");
	assert_string_equal(pb_charset_from_mib(4), "ISO-8859-1");
	assert_string_equal(pb_charset_from_mib(1015), "UTF-16");
	assert_string_equal(pb_charset_from_mib(2026), "Big5");
	assert_null(pb_charset_from_mib(0));
	assert_null(pb_charset_from_mib(99999));
	assert_int_equal(pb_charset_to_mib("utf-8"), 106);
	assert_int_equal(pb_charset_to_mib("UTF8"), 106);
	assert_int_equal(pb_charset_to_mib("shift_jis"), 17);
	assert_int_equal(pb_charset_to_mib("ucs-2"), 1000);
	assert_pb_error(pb_charset_to_mib("klingon"), PB_ENOTFOUND);
	/* every table name converts through pb_charset_to_utf8 on this system */
	for (unsigned mib = 0; mib < 3000; mib++) {
		const char *name = pb_charset_from_mib(mib);
		if (!name)
			continue;
		assert_int_equal(pb_charset_to_mib(name), (int)mib);
		pb_buf b = PB_BUF_INIT;
		int rc = pb_charset_to_utf8(&b, name, "A", 1);
		if (rc != 0)
			fail_msg("charset %s (MIB %u): %s", name, mib, pb_error_last()->message);
		pb_buf_dispose(&b);
	}
}

/* --- allocation failure: every site reports PB_ENOMEM and leaks nothing ------ */

static int alloc_scenario(void *ctx)
{
	(void)ctx;
	pb_buf a = PB_BUF_INIT, b = PB_BUF_INIT, c = PB_BUF_INIT, d = PB_BUF_INIT;
	int rc;
	char *s = NULL;
	if ((rc = pb_buf_printf(&a, "%0500d", 7)) < 0)
		goto out;
	if ((rc = pb_hex_encode(&b, a.data, a.len, 0)) < 0)
		goto out;
	if ((rc = pb_hex_decode(&c, (char *)b.data, b.len, NULL)) < 0)
		goto out;
	if ((rc = pb_base64_encode(&d, c.data, c.len, 0)) < 0)
		goto out;
	pb_buf_clear(&c);
	if ((rc = pb_base64_decode(&c, (char *)d.data, d.len, 0, NULL)) < 0)
		goto out;
	if ((rc = pb_charset_to_utf8(&d, "ISO-8859-2", "\xB1\xB1", 2)) < 0)
		goto out;
	if ((rc = pb_charset_to_utf8(&d, "UTF-16", "\xFF\xFEh\x00", 4)) < 0)
		goto out;
	if ((rc = pb_charset_from_utf8(&d, "ISO-8859-1", "caf\xC3\xA9", 5)) < 0)
		goto out;
	if ((rc = pb_utf8_sanitize(&d, "a\xFF", 2)) < 0)
		goto out;
	if ((s = pb_strdup("x")) == NULL) {
		rc = pb_error_last()->code;
		goto out;
	}
	uint8_t *det = pb_buf_detach(&a, NULL);
	if (det == NULL) {
		rc = pb_error_last()->code;
		goto out;
	}
	pb_free(det);
	rc = 0;
out:
	pb_free(s);
	pb_buf_dispose(&a);
	pb_buf_dispose(&b);
	pb_buf_dispose(&c);
	pb_buf_dispose(&d);
	return rc;
}

static void test_core__alloc_failure_each_site(void **state)
{
	(void)state;
	unsigned long sites = pb_test_alloc_fail_each(alloc_scenario, NULL, NULL);
	assert_true(sites >= 5);
	print_message("# %lu allocation sites failed in turn\n", sites);
}

/* --- version ---------------------------------------------------------------- */

static void test_core__version_matches_headers(void **state)
{
	(void)state;
	int maj, min, pat;
	assert_int_equal(pb_version(&maj, &min, &pat), PB_VERSION_NUMBER);
	assert_int_equal(maj, PB_VERSION_MAJOR);
	assert_int_equal(min, PB_VERSION_MINOR);
	assert_int_equal(pat, PB_VERSION_PATCH);
	assert_string_equal(pb_version_string(), PB_VERSION_STRING);
	assert_int_equal(pb_version(NULL, NULL, NULL), PB_VERSION_NUMBER);
}

/* --- cursor ----------------------------------------------------------------- */

static void test_core__cursor_checks_bounds(void **state)
{
	(void)state;
	const uint8_t buf[] = { 1, 2, 3, 4, 5 };
	pb_cur c = pb_cur_make(buf, sizeof(buf));
	uint8_t v;
	uint16_t w;
	uint32_t d;
	assert_true(pb_cur_u32be(&c, &d));
	assert_int_equal(d, 0x01020304);
	assert_false(pb_cur_u32be(&c, &d));
	assert_int_equal(pb_cur_offset(&c), 4);
	c = pb_cur_make(buf, sizeof(buf));
	const uint8_t *p;
	assert_true(pb_cur_u8(&c, &v));
	assert_int_equal(v, 1);
	assert_true(pb_cur_u16be(&c, &w));
	assert_int_equal(w, 0x0203);
	pb_cur sub;
	assert_false(pb_cur_sub(&c, 3, &sub));
	assert_true(pb_cur_sub(&c, 2, &sub));
	assert_int_equal(pb_cur_offset(&sub), 3);
	assert_true(pb_cur_eof(&c));
	assert_false(pb_cur_u8(&c, &v));
	assert_false(pb_cur_bytes(&sub, 3, &p));
	assert_true(pb_cur_bytes(&sub, 2, &p));
	assert_int_equal(p[1], 5);
	assert_false(pb_cur_skip(&sub, 1));
	assert_false(pb_cur_peek(&sub, &v));
}

/* --- secrets --------------------------------------------------------------- */

static void put_file(const char *path, const char *content, size_t len, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_core__secret_file_rules(void **state)
{
	(void)state;
	char dir[] = "/tmp/pb-core-secret-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/pw", dir);
	char *s = NULL;
	put_file(path, "hunter2\r\n", 9, 0600);
	assert_pb_ok(pb_secret_read(path, &s));
	assert_string_equal(s, "hunter2");
	pb_secret_free(s);
	put_file(path, "hunter2", 7, 0400);
	assert_pb_ok(pb_secret_read(path, &s));
	assert_string_equal(s, "hunter2");
	pb_secret_free(s);
	put_file(path, "hunter2\n", 8, 0640);
	assert_pb_error(pb_secret_read(path, &s), PB_EAUTH);
	assert_null(s);
	assert_non_null(strstr(pb_error_last()->message, "0640"));
	assert_non_null(strstr(pb_error_last()->message, "chmod 600"));
	assert_null(strstr(pb_error_last()->message, "hunter2"));
	put_file(path, "x", 1, 0602);
	assert_pb_error(pb_secret_read(path, &s), PB_EAUTH);
	const char *bad[] = { "\n", "", "two\nlines\n", "a\rb", "nul\0byte" };
	const size_t badlen[] = { 1, 0, 10, 3, 8 };
	for (size_t i = 0; i < 5; i++) {
		put_file(path, bad[i], badlen[i], 0600);
		assert_pb_error(pb_secret_read(path, &s), PB_EMALFORMED);
		assert_non_null(strstr(pb_error_last()->message, path));
	}
	/* the size cap, with and without a size the file system can tell */
	char *big = calloc(1, PB_SECRET_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', PB_SECRET_MAX + 1);
	put_file(path, big, PB_SECRET_MAX, 0600);
	assert_pb_ok(pb_secret_read(path, &s));
	assert_int_equal(strlen(s), PB_SECRET_MAX);
	pb_secret_free(s);
	put_file(path, big, PB_SECRET_MAX + 1, 0600);
	assert_pb_error(pb_secret_read(path, &s), PB_ETOOBIG);
	free(big);
	unlink(path);
	assert_pb_error(pb_secret_read(path, &s), PB_ENOTFOUND);
	assert_pb_error(pb_secret_read(dir, &s), PB_EIO);
	assert_pb_error(pb_secret_read(NULL, &s), PB_EINVAL);
	/* a file read by someone else: only the checks */
	put_file(path, "alice:secret\nbob:x\n", 19, 0600);
	char *checked = NULL;
	assert_pb_ok(pb_secret_check(path, &checked));
	assert_string_equal(checked, path);
	pb_free(checked);
	assert_pb_ok(pb_secret_check(path, NULL));
	chmod(path, 0644);
	assert_pb_error(pb_secret_check(path, &checked), PB_EAUTH);
	assert_null(checked);
	unlink(path);
	rmdir(dir);
}

static void test_core__secret_systemd_credentials(void **state)
{
	(void)state;
	char dir[] = "/tmp/pb-core-cred-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/modem-password", dir);
	/* systemd makes credential files 0400, owned by the service's user */
	put_file(path, "s3cret\n", 7, 0400);
	char *s = NULL;
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_pb_error(pb_secret_read("credential:modem-password", &s), PB_EIO);
	assert_non_null(strstr(pb_error_last()->message, "LoadCredential=modem-password:"));
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	assert_pb_ok(pb_secret_read("credential:modem-password", &s));
	assert_string_equal(s, "s3cret");
	pb_secret_free(s);
	char *checked = NULL;
	assert_pb_ok(pb_secret_check("credential:modem-password", &checked));
	assert_string_equal(checked, path);
	pb_free(checked);
	assert_pb_error(pb_secret_read("credential:other", &s), PB_ENOTFOUND);
	assert_pb_error(pb_secret_read("credential:../etc/shadow", &s), PB_EINVAL);
	assert_pb_error(pb_secret_read("credential:..", &s), PB_EINVAL);
	assert_pb_error(pb_secret_read("credential:", &s), PB_EINVAL);
	setenv("CREDENTIALS_DIRECTORY", "relative", 1);
	assert_pb_error(pb_secret_read("credential:modem-password", &s), PB_EIO);
	unsetenv("CREDENTIALS_DIRECTORY");
	unlink(path);
	rmdir(dir);
}

/* --- randomness and hashing ------------------------------------------------ */

static void test_core__random_bytes(void **state)
{
	(void)state;
	uint8_t a[64] = { 0 }, b[64] = { 0 };
	assert_pb_ok(pb_random_bytes(a, sizeof(a)));
	assert_pb_ok(pb_random_bytes(b, sizeof(b)));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_pb_ok(pb_random_bytes(NULL, 0));
	assert_pb_error(pb_random_bytes(NULL, 1), PB_EINVAL);
}

static void test_core__fnv1a64_vectors(void **state)
{
	(void)state;
	/* the FNV reference test suite (draft-eastlake-fnv, isthe.com/chongo/tech/comp/fnv) */
	assert_true(pb_fnv1a64(PB_FNV1A64_INIT, NULL, 0) == 0xcbf29ce484222325ull);
	assert_true(pb_fnv1a64(PB_FNV1A64_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
	assert_true(pb_fnv1a64(PB_FNV1A64_INIT, "foobar", 6) == 0x85944171f73967e8ull);
	/* chained over parts = over the whole */
	uint64_t h = pb_fnv1a64(PB_FNV1A64_INIT, "foo", 3);
	assert_true(pb_fnv1a64(h, "bar", 3) == 0x85944171f73967e8ull);
}

/* --- versioned structs ----------------------------------------------------- */

typedef struct { unsigned version; } fake_opts;
#define PB_FAKE_OPTS_VERSION 3u

static void test_core__check_version_one_policy(void **state)
{
	(void)state;
	fake_opts o = { 3 };
	assert_pb_ok(PB_CHECK_VERSION(&o, PB_FAKE_OPTS, 1));
	o.version = 2;
	assert_pb_ok(PB_CHECK_VERSION(&o, PB_FAKE_OPTS, 2));
	assert_pb_error(PB_CHECK_VERSION(&o, PB_FAKE_OPTS, 3), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "no longer supported"));
	o.version = 0;
	assert_pb_error(PB_CHECK_VERSION(&o, PB_FAKE_OPTS, 1), PB_EINVAL);
	assert_string_equal(pb_error_last()->message,
			    "PB_FAKE_OPTS: version 0: initialise the struct with PB_FAKE_OPTS_INIT");
	o.version = 4;
	assert_pb_error(PB_CHECK_VERSION(&o, PB_FAKE_OPTS, 1), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "newer libphonebridge"));
	o.version = (unsigned)-1; /* what a C caller's -1 becomes */
	assert_pb_error(PB_CHECK_VERSION(&o, PB_FAKE_OPTS, 1), PB_EINVAL);
	assert_string_equal(pb_error_last()->message,
			    "PB_FAKE_OPTS: version 4294967295 is no version: "
			    "initialise the struct with PB_FAKE_OPTS_INIT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core__error_codes_have_names_and_texts),
		cmocka_unit_test(test_core__error_last_is_set_and_cleared),
		cmocka_unit_test(test_core__error_long_message_is_cut),
		cmocka_unit_test(test_core__error_is_per_thread),
		cmocka_unit_test(test_core__parse_error_names_offset),
		cmocka_unit_test(test_core__log_goes_to_callback_by_level),
		cmocka_unit_test(test_core__allocator_must_be_complete),
		cmocka_unit_test(test_core__allocator_routes_every_call),
		cmocka_unit_test(test_core__calloc_overflow_fails_cleanly),
		cmocka_unit_test(test_core__buf_grows_and_stays_terminated),
		cmocka_unit_test(test_core__buf_reserve_overflow),
		cmocka_unit_test(test_core__hex_round_trip),
		cmocka_unit_test(test_core__hex_errors_name_offset),
		cmocka_unit_test(test_core__base64_rfc4648_vectors),
		cmocka_unit_test(test_core__base64_mime_whitespace_and_url),
		cmocka_unit_test(test_core__base64_errors_name_offset),
		cmocka_unit_test(test_core__utf8_validate),
		cmocka_unit_test(test_core__utf8_encode_decode),
		cmocka_unit_test(test_core__utf8_sanitize),
		cmocka_unit_test(test_core__charset_to_utf8),
		cmocka_unit_test(test_core__charset_unknown_is_unsupported),
		cmocka_unit_test(test_core__charset_from_utf8),
		cmocka_unit_test(test_core__charset_mib_table),
		cmocka_unit_test(test_core__alloc_failure_each_site),
		cmocka_unit_test(test_core__version_matches_headers),
		cmocka_unit_test(test_core__cursor_checks_bounds),
		cmocka_unit_test(test_core__secret_file_rules),
		cmocka_unit_test(test_core__secret_systemd_credentials),
		cmocka_unit_test(test_core__random_bytes),
		cmocka_unit_test(test_core__fnv1a64_vectors),
		cmocka_unit_test(test_core__check_version_one_policy),
	};
	return pb_test_run("core", tests);
}
