/*
 * libphonebridge tests — shared harness for the cmocka test binaries.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every test binary includes this first (it pulls in cmocka in the order
 * cmocka needs) and links tests/harness.c.
 */
#ifndef PB_TESTS_HARNESS_H
#define PB_TESTS_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <phonebridge/phonebridge.h>

/* --- allocation accounting and failure injection ------------------------- */

/*
 * Route the library's allocations through a counting allocator. With
 * fail_at = N > 0, the Nth allocation from now (1-based) and every one after
 * it fail; 0 never fails.
 */
void pb_test_alloc_install(unsigned long fail_at);
/* Restore the default allocator. */
void pb_test_alloc_uninstall(void);
/* Allocations made and not yet freed through the counting allocator. */
long pb_test_alloc_outstanding(void);
/* Allocations attempted since the last install. */
unsigned long pb_test_alloc_attempts(void);

/*
 * Run @fn with the 1st, 2nd, ... allocation failing in turn, until a run
 * makes no failing allocation. @fn must return 0 on success or a negative
 * code; every run that saw a failure must return PB_ENOMEM (or what
 * @fn turns it into: @accept lists more acceptable codes, 0-terminated, may
 * be NULL) and leave nothing allocated. @fn must undo its own successful
 * work before returning (free what it made), so the accounting is exact.
 * Returns the number of allocation sites covered.
 */
unsigned long pb_test_alloc_fail_each(int (*fn)(void *ctx), void *ctx, const int *accept);

/* --- test data -------------------------------------------------------------- */

/*
 * ../shared/vectors beside the source tree (set by meson as
 * PB_VECTORS_DIR), or NULL when it is absent: tests that need it then call
 * pb_test_skip_no_vectors().
 */
const char *pb_test_vectors_dir(void);
/* The project's own test data: tests/data (set by meson as PB_TEST_DATA). */
const char *pb_test_data_dir(void);

/* Print the reason and skip the current cmocka test. */
#define pb_test_skip_no_vectors()                                      \
	do {                                                           \
		print_message("# skipped: no shared vectors (%s)\n",     \
			      getenv("PB_VECTORS_DIR") ? getenv("PB_VECTORS_DIR") : "unset"); \
		skip();                                                \
	} while (0)

/*
 * Read a whole file into a new buffer (free with free()). @path is joined
 * to @dir when @dir is not NULL. Fails the test when the file is unreadable.
 */
uint8_t *pb_test_read_file(const char *dir, const char *path, size_t *len);

/* Path join into a static buffer (valid until the next call). */
const char *pb_test_path(const char *dir, const char *name);

/* Bytes from hex text (white space allowed); fails the test on bad hex.
 * Free with free(). */
uint8_t *pb_test_unhex(const char *hex, size_t *len);

/* --- assertions ----------------------------------------------------------- */

/* Assert a library call succeeded, printing pb_error_last() if not. */
#define assert_pb_ok(expr)                                                     \
	do {                                                                   \
		int pb_rc_ = (expr);                                           \
		if (pb_rc_ != 0)                                               \
			print_error("%s -> %d (%s): %s\n", #expr, pb_rc_,      \
				    pb_error_name(pb_rc_), pb_error_last()->message); \
		assert_int_equal(pb_rc_, 0);                                   \
	} while (0)

/* Assert a library call failed with a given code. */
#define assert_pb_error(expr, code)                                            \
	do {                                                                   \
		int pb_rc_ = (expr);                                           \
		if (pb_rc_ != (code))                                          \
			print_error("%s -> %d (%s), expected %s: %s\n", #expr, pb_rc_, \
				    pb_error_name(pb_rc_), pb_error_name(code), \
				    pb_error_last()->message);                 \
		assert_int_equal(pb_rc_, (code));                              \
	} while (0)

/*
 * Run one group of tests with the TAP output meson counts (one group per
 * binary, as the conventions say).
 */
#define pb_test_run(name, tests) _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof((tests)[0]), NULL, NULL)

#endif
