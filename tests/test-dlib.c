/*
 * libphonebridge tests — dependencies loaded on demand (core/dlib.h): a
 * process maps libxml2 only once the HiLink backend parses a reply, and
 * libolm only once an encryption object is made; when the library cannot
 * be loaded, the feature fails with PB_EUNSUPPORTED and an error that names
 * the library and the Debian package, and nothing else is harmed.
 *
 * Run twice (tests/meson.build): as is, and with LD_LIBRARY_PATH on a
 * folder whose libxml2.so.2 and libolm.so.3 are not ELF files (the dynamic
 * loader finds them first) and PB_TEST_BROKEN_LIBS=1, which turns the
 * expectations to the failure.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <phonebridge/matrix.h>
#include <phonebridge/matrix-crypto.h>

#include "matrix/matrix-private.h"
#include "modem/modem-internal.h"

static bool broken(void)
{
	const char *b = getenv("PB_TEST_BROKEN_LIBS");
	return b && strcmp(b, "1") == 0;
}

/* Is a shared object whose file name starts with @p prefix mapped? */
static bool mapped(const char *prefix)
{
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *slash = strrchr(line, '/');
		found = slash && strncmp(slash + 1, prefix, strlen(prefix)) == 0;
	}
	fclose(f);
	return found;
}

static void test_dlib__nothing_loaded_at_start(void **state)
{
	(void)state;
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = "http://127.0.0.1:9";
	pb_matrix *m;
	assert_pb_ok(pb_matrix_new(&m, &o));
	/* a Matrix client and everything linked: neither is mapped yet, nor
	 * what they bring */
	assert_false(mapped("libxml2.so"));
	assert_false(mapped("libolm.so"));
	assert_false(mapped("libstdc++.so"));
	assert_false(mapped("libicuuc.so"));
	pb_matrix_free(m);
}

static const char reply[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			    "<response><Count>1</Count></response>\n";

static void test_dlib__libxml2_with_the_first_hilink_reply(void **state)
{
	(void)state;
	pb_hilink_doc *d = NULL;
	int rc = pb_modem__hilink_parse(&d, (const uint8_t *)reply, sizeof(reply) - 1, NULL, NULL);
	if (broken()) {
		assert_int_equal(rc, PB_EUNSUPPORTED);
		assert_null(d);
		const char *msg = pb_error_last()->message;
		assert_non_null(strstr(msg, "The HiLink backend needs libxml2.so.2"));
		assert_non_null(strstr(msg, "install the Debian package libxml2"));
		/* the same answer the second time, without a second try */
		assert_int_equal(pb_modem__hilink_parse(&d, (const uint8_t *)reply, sizeof(reply) - 1, NULL, NULL),
				 PB_EUNSUPPORTED);
		return;
	}
	assert_pb_ok(rc);
	assert_true(mapped("libxml2.so"));
	char *count = pb_modem__hilink_doc_get(d, "Count");
	assert_string_equal(count, "1");
	pb_free(count);
	pb_modem__hilink_doc_free(d);
	assert_false(mapped("libolm.so"));
}

static int no_load(const char *key, char **value, void *ud)
{
	(void)key, (void)value, (void)ud;
	return PB_ENOTFOUND;
}

static int no_save(const char *key, const char *value, void *ud)
{
	(void)key, (void)value;
	++*(int *)ud;
	return 0;
}

static void test_dlib__libolm_with_the_first_crypto_object(void **state)
{
	(void)state;
	pb_matrix_options mo = PB_MATRIX_OPTIONS_INIT;
	mo.homeserver = "http://127.0.0.1:9"; /* nothing listens: the key upload fails */
	mo.retry.attempts = 1;
	mo.connect_timeout_ms = 2000;
	pb_matrix *m;
	assert_pb_ok(pb_matrix_new(&m, &mo));
	assert_pb_ok(pb_matrix__set_string(&m->user_id, "@bridge:localhost"));
	assert_pb_ok(pb_matrix__set_string(&m->device_id, "DLIBTEST"));
	int saves = 0;
	pb_matrix_crypto_options o = PB_MATRIX_CRYPTO_OPTIONS_INIT;
	o.pickle_key = "a pickle key of sixteen bytes or more";
	o.storage = (pb_matrix_crypto_storage){ no_load, no_save, &saves };
	pb_matrix_crypto *c = NULL;
	int rc = pb_matrix_crypto_new(&c, m, &o);
	assert_int_not_equal(rc, 0);
	assert_null(c);
	if (broken()) {
		assert_int_equal(rc, PB_EUNSUPPORTED);
		const char *msg = pb_error_last()->message;
		assert_non_null(strstr(msg, "Matrix encryption needs libolm.so.3"));
		assert_non_null(strstr(msg, "install the Debian package libolm3"));
		/* refused before anything was made or stored */
		assert_int_equal(saves, 0);
	} else {
		/* loaded, an account made and stored first; then the server is away */
		assert_int_not_equal(rc, PB_EUNSUPPORTED);
		assert_true(mapped("libolm.so"));
		assert_true(saves > 0);
	}
	pb_matrix_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlib__nothing_loaded_at_start),
		cmocka_unit_test(test_dlib__libxml2_with_the_first_hilink_reply),
		cmocka_unit_test(test_dlib__libolm_with_the_first_crypto_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
