/*
 * libphonebridge — matrix: reading secrets (tokens, passwords) from files.
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

int pb_matrix_read_secret_file(const char *path, char **secret)
{
	*secret = NULL;
	if (path == NULL)
		return pb_error_set(PB_EINVAL, "matrix: no secret file given");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pb_error_set(PB_EIO, "matrix: %s: %s", path, strerror(errno));
	struct stat st;
	int rc = 0;
	char *buf = NULL;
	if (fstat(fd, &st) != 0) {
		rc = pb_error_set(PB_EIO, "matrix: %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = pb_error_set(PB_EIO, "matrix: %s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		rc = pb_error_set(PB_EAUTH,
				  "matrix: %s: mode %04o lets group or others at the secret; "
				  "refusing it (chmod 600 %s)",
				  path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_size > SECRET_MAX) {
		rc = pb_error_set(PB_ETOOBIG, "matrix: %s: over %d bytes", path, SECRET_MAX);
		goto out;
	}
	if ((buf = pb_malloc(SECRET_MAX + 1)) == NULL) {
		rc = PB_ENOMEM;
		goto out;
	}
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, SECRET_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pb_error_set(PB_EIO, "matrix: %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SECRET_MAX) {
			rc = pb_error_set(PB_ETOOBIG, "matrix: %s: over %d bytes", path, SECRET_MAX);
			goto out;
		}
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || memchr(buf, '\0', len) != NULL || memchr(buf, '\n', len) != NULL) {
		rc = pb_error_set(PB_EMALFORMED, "matrix: %s: the secret must be one non-empty line", path);
		goto out;
	}
	buf[len] = '\0';
	if ((*secret = pb_strndup(buf, len)) == NULL)
		rc = PB_ENOMEM;
out:
	if (buf) {
		explicit_bzero(buf, SECRET_MAX + 1);
		pb_free(buf);
	}
	close(fd);
	return rc;
}
