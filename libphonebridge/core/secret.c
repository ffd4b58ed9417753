/*
 * libphonebridge — core: the one reader of secret files (passwords, tokens),
 * with mode checks, a size cap and systemd credentials.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <phonebridge/secret.h>

/* "credential:NAME" -> $CREDENTIALS_DIRECTORY/NAME (new), a path -> a copy. */
static int resolve(const char *name, char **path)
{
	static const char prefix[] = PB_SECRET_CREDENTIAL_PREFIX;
	*path = NULL;
	if (strncmp(name, prefix, sizeof(prefix) - 1) != 0) {
		if (!*name)
			return pb_error_set(PB_EINVAL, "secret file: empty path");
		*path = pb_strdup(name);
		return *path ? 0 : pb_error__oom();
	}
	const char *cred = name + sizeof(prefix) - 1;
	if (!*cred || strchr(cred, '/') || strcmp(cred, ".") == 0 || strcmp(cred, "..") == 0)
		return pb_error_set(PB_EINVAL, "secret %s: a credential name is one file name", name);
	const char *dir = secure_getenv("CREDENTIALS_DIRECTORY");
	if (!dir || dir[0] != '/')
		return pb_error_set(PB_EIO,
				    "secret %s: $CREDENTIALS_DIRECTORY is not set: the unit needs "
				    "LoadCredential=%s:/path/to/file", name, cred);
	size_t n = strlen(dir) + 1 + strlen(cred) + 1;
	if (!(*path = pb_malloc(n)))
		return pb_error__oom();
	snprintf(*path, n, "%s/%s", dir, cred);
	return 0;
}

/* Open @path and check that it is a private regular file of at most
 * PB_SECRET_MAX bytes; returns the descriptor or a negative code. */
static int open_checked(const char *name, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pb_error_set(errno == ENOENT ? PB_ENOTFOUND : PB_EIO, "secret file %s: %s", name,
				    strerror(errno));
	struct stat st;
	int rc;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		rc = pb_error_set(PB_EIO, "secret file %s: not a readable regular file", name);
	else if (st.st_mode & (S_IRWXG | S_IRWXO))
		rc = pb_error_set(PB_EAUTH,
				  "secret file %s: mode %04o: readable by others or its group; "
				  "refusing it (chmod 600 %s)",
				  name, (unsigned)(st.st_mode & 07777), path);
	else if (st.st_size > PB_SECRET_MAX)
		rc = pb_error_set(PB_ETOOBIG, "secret file %s: over %d bytes", name, PB_SECRET_MAX);
	else
		return fd;
	close(fd);
	return rc;
}

PB_API int pb_secret_check(const char *name, char **path)
{
	if (path)
		*path = NULL;
	if (!name)
		return pb_error_set(PB_EINVAL, "pb_secret_check: no file given");
	char *p;
	int rc = resolve(name, &p);
	if (rc < 0)
		return rc;
	int fd = open_checked(name, p);
	if (fd < 0) {
		pb_free(p);
		return fd;
	}
	close(fd);
	if (path)
		*path = p;
	else
		pb_free(p);
	return 0;
}

/* Read all of @fd into @buf (PB_SECRET_MAX + 1 bytes); the length or a code. */
static int read_all(int fd, const char *name, char *buf, size_t *len)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, PB_SECRET_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return pb_error_set(PB_EIO, "secret file %s: %s", name, strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > PB_SECRET_MAX)
			return pb_error_set(PB_ETOOBIG, "secret file %s: over %d bytes", name, PB_SECRET_MAX);
	}
	*len = n;
	return 0;
}

PB_API int pb_secret_read(const char *name, char **secret)
{
	if (!secret)
		return pb_error_set(PB_EINVAL, "pb_secret_read: secret is required");
	*secret = NULL;
	if (!name)
		return pb_error_set(PB_EINVAL, "pb_secret_read: no file given");
	char *path = NULL;
	int rc = resolve(name, &path);
	if (rc < 0)
		return rc;
	int fd = open_checked(name, path);
	pb_free(path);
	if (fd < 0)
		return fd;
	/* all the room at once: a secret is never copied by a realloc */
	char *buf = pb_malloc(PB_SECRET_MAX + 1);
	if (!buf) {
		close(fd);
		return pb_error__oom();
	}
	size_t len = 0;
	rc = read_all(fd, name, buf, &len);
	close(fd);
	if (rc < 0)
		goto out;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || memchr(buf, '\0', len) || memchr(buf, '\n', len) || memchr(buf, '\r', len)) {
		rc = pb_error_set(PB_EMALFORMED, "secret file %s: the secret must be one non-empty line", name);
		goto out;
	}
	if (!(*secret = pb_strndup(buf, len)))
		rc = pb_error__oom();
out:
	explicit_bzero(buf, PB_SECRET_MAX + 1);
	pb_free(buf);
	return rc;
}

PB_API bool pb_secret_equal(const char *presented, const char *expected)
{
	if (!presented || !expected || !*expected)
		return false;
	/* walk the presented length (the peer's to choose), never stop early;
	 * the expected one is read cyclically, so its length does not show */
	size_t lp = strlen(presented), le = strlen(expected);
	volatile unsigned char diff = (unsigned char)(lp != le);
	for (size_t i = 0; i < lp; i++)
		diff |= (unsigned char)(presented[i] ^ expected[i % le]);
	return diff == 0;
}

PB_API void pb_secret_free(char *secret)
{
	if (!secret)
		return;
	explicit_bzero(secret, strlen(secret));
	pb_free(secret);
}
