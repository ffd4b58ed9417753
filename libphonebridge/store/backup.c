/*
 * libphonebridge — a consistent copy of a store in use: the database through
 * SQLite's online backup API, then the attachments the copy refers to.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-private.h"

/* Attempts when an attachment vanished between the snapshot and its copy
 * (pb_store_attachment_gc() in another process removed it with its rows). */
#define BACKUP_ATTEMPTS 3

/* Copy @src to the new file @dst (0600, O_EXCL, never through a link), fsync'd.
 * @return 0, PB_ENOTFOUND (no @src), PB_EIO */
static int copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? PB_ENOTFOUND
				       : pb_error_set(PB_EIO, "store: backup: %s: %s", src, strerror(errno));
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		int e = errno;
		close(in);
		return pb_error_set(PB_EIO, "store: backup: %s: %s", dst, strerror(e));
	}
	int rc = 0;
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pb_error_set(PB_EIO, "store: backup: read %s: %s", src, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = pb_error_set(PB_EIO, "store: backup: write %s: %s", dst, strerror(errno));
				break;
			}
			off += w;
		}
		if (rc)
			break;
	}
	if (rc == 0 && fsync(out) != 0)
		rc = pb_error_set(PB_EIO, "store: backup: fsync %s: %s", dst, strerror(errno));
	close(in);
	if (close(out) != 0 && rc == 0)
		rc = pb_error_set(PB_EIO, "store: backup: close %s: %s", dst, strerror(errno));
	return rc;
}

/* The database: a new file @dest (0600), filled by one sqlite3_backup_step(-1),
 * which reads one snapshot of the source however much others write. */
static int copy_db(pb_store *st, const char *dest, sqlite3 **out)
{
	int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? pb_error_set(PB_EEXISTS, "store: backup: %s exists", dest)
				       : pb_error_set(PB_EIO, "store: backup: %s: %s", dest, strerror(errno));
	close(fd);
	sqlite3 *db = NULL;
	int src = sqlite3_open_v2(dest, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
	if (src != SQLITE_OK) {
		sqlite3_close(db);
		return pb_error_set(PB_EIO, "store: backup: %s: %s", dest, sqlite3_errstr(src));
	}
	sqlite3_busy_timeout(db, 30000);
	sqlite3_backup *bk = sqlite3_backup_init(db, "main", st->db, "main");
	if (bk == NULL) {
		int rc = pb_error_set(PB_EIO, "store: backup: %s", sqlite3_errmsg(db));
		sqlite3_close(db);
		return rc;
	}
	int step = sqlite3_backup_step(bk, -1);
	int fin = sqlite3_backup_finish(bk);
	if (step != SQLITE_DONE || fin != SQLITE_OK) {
		int rc = pb_error_set(step == SQLITE_BUSY || step == SQLITE_LOCKED ? PB_EBUSY : PB_EIO,
				      "store: backup: %s", sqlite3_errstr(step != SQLITE_DONE ? step : fin));
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

/* Every attachment the copy @db refers to, from the store into @dir. */
static int copy_attachments(pb_store *st, sqlite3 *db, const char *dir, size_t *copied)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "SELECT DISTINCT sha256 FROM attachments", -1, &s, NULL) != SQLITE_OK)
		return pb_error_set(PB_EIO, "store: backup: %s", sqlite3_errmsg(db));
	int rc = 0, r;
	while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(s, 0);
		/* names are checked as the store writes them: 64 hex digits */
		if (!h || strlen(h) != PB_STORE_SHA256_HEX || strspn(h, "0123456789abcdef") != PB_STORE_SHA256_HEX) {
			rc = pb_error_set(PB_EIO, "store: backup: an attachment row without a SHA-256 name");
			break;
		}
		pb_buf a = PB_BUF_INIT, b = PB_BUF_INIT;
		if (pb_buf_printf(&a, "%s/%s", st->att_dir, h) < 0 || pb_buf_printf(&b, "%s/%s", dir, h) < 0)
			rc = PB_ENOMEM;
		else if ((rc = copy_file(pb_buf_cstr(&a), pb_buf_cstr(&b))) == 0)
			(*copied)++;
		pb_buf_dispose(&a);
		pb_buf_dispose(&b);
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = pb_error_set(PB_EIO, "store: backup: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	if (rc == 0) {
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0)
			rc = pb_error_set(PB_EIO, "store: backup: fsync %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return rc;
}

/* Remove a failed attempt: the copied attachments, their directory, the file. */
static void discard(const char *dest, const char *dir, sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	if (db && sqlite3_prepare_v2(db, "SELECT DISTINCT sha256 FROM attachments", -1, &s, NULL) == SQLITE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *h = (const char *)sqlite3_column_text(s, 0);
			pb_buf p = PB_BUF_INIT;
			if (h && !strchr(h, '/') && pb_buf_printf(&p, "%s/%s", dir, h) == 0)
				unlink(pb_buf_cstr(&p));
			pb_buf_dispose(&p);
		}
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	rmdir(dir);
	unlink(dest);
	pb_buf w = PB_BUF_INIT;
	if (pb_buf_printf(&w, "%s-wal", dest) == 0)
		unlink(pb_buf_cstr(&w));
	pb_buf_dispose(&w);
}

PB_API int pb_store_backup(pb_store *st, const char *dest_path, size_t *attachments)
{
	if (st == NULL || dest_path == NULL || !*dest_path)
		return pb_error_set(PB_EINVAL, "pb_store_backup: NULL argument");
	PB_STORE_SQLITE_ONLY(st, "pb_store_backup() (use pg_dump)");
	if (st->user_txn)
		return pb_error_set(PB_ESTATE, "pb_store_backup: inside pb_store_begin()");
	pb_buf dir = PB_BUF_INIT;
	if (pb_buf_printf(&dir, "%s.attachments", dest_path) < 0)
		return PB_ENOMEM;
	struct stat sb;
	int rc = 0;
	if (lstat(dest_path, &sb) == 0 || lstat(pb_buf_cstr(&dir), &sb) == 0) {
		rc = pb_error_set(PB_EEXISTS, "store: backup: %s or its .attachments exists", dest_path);
		goto out;
	}
	for (int attempt = 1;; attempt++) {
		sqlite3 *db = NULL;
		size_t copied = 0;
		if ((rc = copy_db(st, dest_path, &db)) < 0)
			goto out;
		if (mkdir(pb_buf_cstr(&dir), 0700) != 0) {
			rc = pb_error_set(PB_EIO, "store: backup: %s: %s", pb_buf_cstr(&dir), strerror(errno));
			sqlite3_close(db);
			unlink(dest_path);
			goto out;
		}
		rc = copy_attachments(st, db, pb_buf_cstr(&dir), &copied);
		if (rc == 0) {
			/* closing the only connection folds its WAL into the file */
			if (sqlite3_close(db) != SQLITE_OK)
				rc = pb_error_set(PB_EIO, "store: backup: closing %s", dest_path);
			else if (attachments)
				*attachments = copied;
			goto out;
		}
		discard(dest_path, pb_buf_cstr(&dir), db);
		if (rc != PB_ENOTFOUND)
			goto out;
		if (attempt == BACKUP_ATTEMPTS) {
			rc = pb_error_set(PB_EBUSY, "store: backup: attachments kept vanishing while copied "
				"(%d attempts)", attempt);
			goto out;
		}
	}
out:
	pb_buf_dispose(&dir);
	return rc;
}
