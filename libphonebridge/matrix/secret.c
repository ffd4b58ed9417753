/*
 * libphonebridge — matrix: reading files: secrets (tokens, passwords) with
 * their mode checked, and media to upload.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "matrix/matrix-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <phonebridge/matrix.h>

#define SECRET_MAX (64 * 1024)

int pb_matrix__read_file(const char *path, pb_buf *out, size_t max, bool secret)
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
	if (secret && (st.st_mode & 077)) {
		rc = pb_error_set(PB_EAUTH,
				  "matrix: %s: mode %04o lets group or others at the secret; "
				  "refusing it (chmod 600 %s)",
				  path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = pb_error_set(PB_ETOOBIG, "matrix: %s: over %zu bytes", path, max);
		goto out;
	}
	/* all the room at once: a secret is never copied by a realloc */
	if ((rc = pb_buf_reserve(out, secret ? max + 1 : (size_t)st.st_size)) < 0)
		goto out;
	for (;;) {
		size_t chunk = secret ? max + 1 - out->len : 65536;
		if (!secret && (rc = pb_buf_reserve(out, chunk)) < 0)
			goto out;
		ssize_t n = read(fd, out->data + out->len, chunk);
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
	*secret = NULL;
	if (path == NULL)
		return pb_error_set(PB_EINVAL, "matrix: no secret file given");
	pb_buf b = PB_BUF_INIT;
	int rc = pb_matrix__read_file(path, &b, SECRET_MAX, true);
	if (rc < 0)
		goto out;
	size_t len = b.len;
	const char *s = (const char *)b.data;
	if (len > 0 && s[len - 1] == '\n')
		len--;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len == 0 || memchr(s, '\0', len) != NULL || memchr(s, '\n', len) != NULL) {
		rc = pb_error_set(PB_EMALFORMED, "matrix: %s: the secret must be one non-empty line", path);
		goto out;
	}
	if ((*secret = pb_strndup(s, len)) == NULL)
		rc = PB_ENOMEM;
out:
	if (b.data)
		explicit_bzero(b.data, b.cap);
	pb_buf_dispose(&b);
	return rc;
}
