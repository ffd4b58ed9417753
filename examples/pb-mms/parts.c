/*
 * pb-mms — writing decoded parts into a directory without ever writing
 * through a link (see parts.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "parts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A new file under a temporary name in @dirfd; its name in @tmp. */
static int open_temp(int dirfd, char tmp[32], mode_t mode)
{
	for (int tries = 0; tries < 100; tries++) {
		unsigned char r[6];
		if (pb_random_bytes(r, sizeof(r)) < 0)
			return -1;
		snprintf(tmp, 32, ".pb-mms-%02x%02x%02x%02x%02x%02x.tmp", r[0], r[1], r[2], r[3], r[4], r[5]);
		int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int pbm_write_part(int dirfd, const char *dir, const pb_mms_part *p, mode_t mode)
{
	const char *name = p->filename;
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		const char *why = S_ISLNK(st.st_mode) ? "is a symbolic link"
			: !S_ISREG(st.st_mode) ? "exists and is not a regular file"
			: st.st_nlink > 1 ? "has other hard links" : NULL;
		if (why) {
			fprintf(stderr, "pb-mms: %s/%s %s: not written through it (part left out)\n", dir, name, why);
			return -1;
		}
	} else if (errno != ENOENT) {
		fprintf(stderr, "pb-mms: %s/%s: %s\n", dir, name, strerror(errno));
		return -1;
	}
	char tmp[32];
	int fd = open_temp(dirfd, tmp, mode);
	if (fd < 0) {
		fprintf(stderr, "pb-mms: %s: a temporary file for %s: %s\n", dir, name, strerror(errno));
		return -1;
	}
	int rc = write_all(fd, p->data, p->len) < 0 || fsync(fd) < 0 ? -1 : 0;
	int err = errno;
	if (close(fd) < 0 && rc == 0)
		rc = -1, err = errno;
	/* rename() replaces the directory entry, never what a link points to */
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -1, err = errno;
	if (rc < 0) {
		fprintf(stderr, "pb-mms: %s/%s: %s\n", dir, name, strerror(err));
		unlinkat(dirfd, tmp, 0);
	}
	return rc;
}
