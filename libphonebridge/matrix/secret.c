/*
 * libphonebridge — matrix: reading files (media to upload) and the deprecated
 * secret reader, now a shim over pb_secret_read().
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "matrix/matrix-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <phonebridge/matrix.h>
#include <phonebridge/secret.h>

int pb_matrix__read_file(const char *path, pb_buf *out, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pb_error_set(PB_EIO, "matrix: %s: %s", path, strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = pb_error_set(PB_EIO, "matrix: %s: not a readable regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = pb_error_set(PB_ETOOBIG, "matrix: %s: over %zu bytes", path, max);
		goto out;
	}
	if ((rc = pb_buf_reserve(out, (size_t)st.st_size)) < 0)
		goto out;
	for (;;) {
		if ((rc = pb_buf_reserve(out, 65536)) < 0)
			goto out;
		ssize_t n = read(fd, out->data + out->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pb_error_set(PB_EIO, "matrix: %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		if (out->len > max) {
			rc = pb_error_set(PB_ETOOBIG, "matrix: %s: over %zu bytes", path, max);
			goto out;
		}
	}
out:
	close(fd);
	return rc;
}

int pb_matrix_read_secret_file(const char *path, char **secret)
{
	int rc = pb_secret_read(path, secret);
	/* this name always said PB_EIO for a missing file */
	if (rc == PB_ENOTFOUND)
		rc = PB_EIO;
	return rc;
}
