/*
 * libphonebridge tests — shared harness.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <errno.h>
#include <sys/stat.h>

static long outstanding;
static unsigned long attempts;
static unsigned long fail_at;

static bool should_fail(void)
{
	attempts++;
	return fail_at != 0 && attempts >= fail_at;
}

/* Each block carries its size in a header so realloc can be accounted. */
typedef union {
	size_t size;
	max_align_t align;
} header;

static void *t_malloc(size_t size, void *ud)
{
	(void)ud;
	if (should_fail())
		return NULL;
	header *h = malloc(sizeof(header) + size);
	if (!h)
		return NULL;
	h->size = size;
	outstanding++;
	return h + 1;
}

static void *t_realloc(void *p, size_t size, void *ud)
{
	if (p == NULL)
		return t_malloc(size, ud);
	if (should_fail())
		return NULL;
	header *h = realloc((header *)p - 1, sizeof(header) + size);
	if (!h)
		return NULL;
	h->size = size;
	return h + 1;
}

static void t_free(void *p, void *ud)
{
	(void)ud;
	outstanding--;
	free((header *)p - 1);
}

void pb_test_alloc_install(unsigned long n)
{
	static const pb_allocator a = { t_malloc, t_realloc, t_free, NULL };
	outstanding = 0;
	attempts = 0;
	fail_at = n;
	assert_int_equal(pb_set_allocator(&a), 0);
}

void pb_test_alloc_uninstall(void)
{
	assert_int_equal(pb_set_allocator(NULL), 0);
}

long pb_test_alloc_outstanding(void)
{
	return outstanding;
}

unsigned long pb_test_alloc_attempts(void)
{
	return attempts;
}

unsigned long pb_test_alloc_fail_each(int (*fn)(void *ctx), void *ctx, const int *accept)
{
	for (unsigned long n = 1;; n++) {
		pb_test_alloc_install(n);
		int rc = fn(ctx);
		bool failed_one = attempts >= n;
		long left = outstanding;
		pb_test_alloc_uninstall();
		if (left != 0)
			fail_msg("allocation %lu failed: %ld block(s) leaked (rc %d)", n, left, rc);
		if (!failed_one) {
			if (rc != 0)
				fail_msg("no allocation failed but fn returned %d: %s", rc, pb_error_last()->message);
			return n - 1;
		}
		bool ok = rc == PB_ENOMEM;
		for (const int *a = accept; !ok && a && *a; a++)
			ok = rc == *a;
		if (!ok)
			fail_msg("allocation %lu failed but fn returned %d (%s), not PB_ENOMEM", n, rc,
				 pb_error_name(rc));
		if (n > 100000)
			fail_msg("more than 100000 allocations: runaway test");
	}
}

const char *pb_test_vectors_dir(void)
{
	const char *d = getenv("PB_VECTORS_DIR");
	struct stat st;
	if (d == NULL || stat(d, &st) != 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return d;
}

const char *pb_test_data_dir(void)
{
	const char *d = getenv("PB_TEST_DATA");
	return d ? d : "tests/data";
}

const char *pb_test_path(const char *dir, const char *name)
{
	static char path[4096];
	if (dir)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	return path;
}

uint8_t *pb_test_read_file(const char *dir, const char *name, size_t *len)
{
	const char *path = pb_test_path(dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	uint8_t *data = malloc(cap);
	assert_non_null(data);
	size_t r;
	while ((r = fread(data + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			data = realloc(data, cap);
			assert_non_null(data);
		}
	}
	fclose(f);
	*len = n;
	return data;
}

uint8_t *pb_test_unhex(const char *hex, size_t *len)
{
	pb_buf b = PB_BUF_INIT;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	if (pb_hex_decode(&b, hex, strlen(hex), &perr) < 0)
		fail_msg("bad hex in test at %zu: %s", perr.offset, perr.text);
	uint8_t *out = malloc(b.len ? b.len : 1);
	assert_non_null(out);
	if (b.len)
		memcpy(out, b.data, b.len);
	*len = b.len;
	pb_buf_dispose(&b);
	return out;
}
