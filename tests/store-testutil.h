/*
 * libphonebridge tests — scratch directories for the store tests.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_TESTS_STORE_TESTUTIL_H
#define PB_TESTS_STORE_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int store_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A new empty directory under $TMPDIR (or /tmp); free the result with free(). */
static inline char *store_scratch_dir(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *d = malloc(strlen(base) + 32);
	if (d == NULL)
		abort();
	sprintf(d, "%s/pb-store-XXXXXX", base);
	if (mkdtemp(d) == NULL)
		abort();
	return d;
}

/* Remove a scratch directory and everything in it, and free its name. */
static inline void store_scratch_remove(char *dir)
{
	nftw(dir, store_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

#endif
