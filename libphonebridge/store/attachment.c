/*
 * libphonebridge — attachments: content-addressed files beside the database.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A file is named by the SHA-256 of its bytes, never by anything the network
 * sent, so a hostile part name cannot reach the file system. It is written
 * to a temporary name, fsynced, renamed and the directory fsynced before the
 * row that references it commits: a committed row always has its file. A
 * crash in between leaves at most an unreferenced file, which
 * pb_store_attachment_gc() removes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-private.h"

#define TMP_PREFIX ".tmp-"

static bool valid_hash(const char *h)
{
	if (h == NULL || strlen(h) != PB_STORE_SHA256_HEX)
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

PB_API char *pb_store_attachment_path(pb_store *st, const char *sha256)
{
	if (st->pg) {
		pb_store__sqlite_only(st, "an attachment");
		return NULL;
	}
	if (!valid_hash(sha256)) {
		pb_error_set(PB_EINVAL, "store: not a SHA-256 name");
		return NULL;
	}
	pb_buf b = PB_BUF_INIT;
	if (pb_buf_printf(&b, "%s/%s", st->att_dir, sha256) < 0)
		return NULL;
	return (char *)pb_buf_detach(&b, NULL);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
}

/* Put the bytes at @path (their hash name) durably, unless already there. */
static int write_file(pb_store *st, const char *path, const void *data, size_t len)
{
	struct stat sb;
	if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (size_t)sb.st_size == len)
		return 0; /* same name, same size: same content (it is a SHA-256) */
	pb_buf tmp = PB_BUF_INIT;
	if (pb_buf_printf(&tmp, "%s/" TMP_PREFIX "XXXXXX", st->att_dir) < 0)
		return PB_ENOMEM;
	char *t = (char *)tmp.data;
	int rc = 0;
	int fd = mkostemp(t, O_CLOEXEC);
	if (fd < 0) {
		rc = pb_error_set(PB_EIO, "store: cannot create %s: %s", t, strerror(errno));
		goto out;
	}
	if (fchmod(fd, st->shared ? 0640 : 0600) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		rc = pb_error_set(PB_EIO, "store: cannot write %s: %s", t, strerror(errno));
		close(fd);
		unlink(t);
		goto out;
	}
	if (close(fd) != 0 || rename(t, path) != 0) {
		rc = pb_error_set(PB_EIO, "store: cannot rename %s: %s", t, strerror(errno));
		unlink(t);
		goto out;
	}
	if (fsync_dir(st->att_dir) != 0)
		rc = pb_error_set(PB_EIO, "store: cannot fsync %s: %s", st->att_dir, strerror(errno));
out:
	pb_buf_dispose(&tmp);
	return rc;
}

static int add_row(pb_store *st, int64_t msg_id, const char *hash, size_t len,
		   const char *content_type, const char *name)
{
	static const char sql[] =
		"INSERT INTO attachments (msg_id, seq, sha256, size, content_type, name) "
		"SELECT ?1, coalesce(max(seq) + 1, 0), ?2, ?3, ?4, ?5 FROM attachments WHERE msg_id = ?1";
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, msg_id);
	pb_store__bind_text(s, 2, hash);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)len);
	pb_store__bind_text(s, 4, content_type);
	pb_store__bind_text(s, 5, name);
	rc = pb_store__run(st, s, "add attachment");
	if (rc == PB_EEXISTS) /* the foreign key: no such message */
		rc = pb_error_set(PB_ENOTFOUND, "store: no message %lld for the attachment", (long long)msg_id);
	return rc;
}

PB_API int pb_store_attachment_add(pb_store *st, int64_t msg_id, const void *data, size_t len,
				   const char *content_type, const char *name,
				   char sha256[PB_STORE_SHA256_HEX + 1])
{
	char hash[PB_STORE_SHA256_HEX + 1];
	PB_STORE_SQLITE_ONLY(st, "an attachment");
	if (data == NULL && len > 0)
		return pb_error_set(PB_EINVAL, "pb_store_attachment_add: NULL data");
	int rc = pb_store__sha256_hex(data ? data : "", len, hash);
	if (rc < 0)
		return rc;
	char *path = pb_store_attachment_path(st, hash);
	if (path == NULL)
		return PB_ENOMEM;
	rc = write_file(st, path, data ? data : "", len);
	pb_free(path);
	if (rc == 0)
		rc = pb_store__tx_begin(st);
	if (rc == 0)
		rc = pb_store__tx_end(st, add_row(st, msg_id, hash, len, content_type, name));
	if (rc == 0 && sha256)
		memcpy(sha256, hash, sizeof(hash));
	return rc;
}

static void release_attachment(void *item)
{
	pb_store_attachment *a = item;
	pb_free((void *)a->content_type);
	pb_free((void *)a->name);
}

PB_API void pb_store_attachment_list_free(pb_store_attachment_list *list)
{
	if (list == NULL)
		return;
	pb_store__items_free(list->items, list->count, sizeof(*list->items), release_attachment);
	pb_free(list);
}

static int dup_col(sqlite3_stmt *s, int i, const char **out)
{
	*out = NULL;
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return 0;
	*out = pb_strdup((const char *)sqlite3_column_text(s, i));
	return *out ? 0 : PB_ENOMEM;
}

static int copy_attachment(sqlite3_stmt *s, void *item)
{
	pb_store_attachment *a = item;
	a->msg_id = sqlite3_column_int64(s, 0);
	a->seq = sqlite3_column_int(s, 1);
	const char *h = (const char *)sqlite3_column_text(s, 2);
	pb_strlcpy(a->sha256, h ? h : "", sizeof(a->sha256));
	a->size = sqlite3_column_int64(s, 3);
	a->name = NULL;
	int rc = dup_col(s, 4, &a->content_type);
	if (rc == 0)
		rc = dup_col(s, 5, &a->name);
	if (rc < 0) {
		pb_free((void *)a->content_type);
		a->content_type = NULL;
	}
	return rc;
}

PB_API int pb_store_attachment_list_get(pb_store *st, int64_t msg_id, pb_store_attachment_list **out)
{
	static const char sql[] = "SELECT msg_id, seq, sha256, size, content_type, name FROM attachments "
				  "WHERE msg_id = ?1 ORDER BY seq";
	*out = NULL;
	pb_store_attachment_list *l = pb_calloc(1, sizeof(*l));
	if (l == NULL)
		return PB_ENOMEM;
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc == 0) {
		sqlite3_bind_int64(s, 1, msg_id);
		void *items;
		rc = pb_store__collect(st, s, sizeof(*l->items), copy_attachment, release_attachment,
				       "list attachments", &items, &l->count);
		l->items = items;
	}
	if (rc < 0) {
		pb_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

PB_API int pb_store_attachment_read(pb_store *st, const char *sha256, pb_buf *out)
{
	char *path = pb_store_attachment_path(st, sha256);
	if (path == NULL)
		return pb_error_last()->code;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		int rc = pb_error_set(e == ENOENT ? PB_ENOTFOUND : PB_EIO, "store: cannot open %s: %s",
				      path, strerror(e));
		pb_free(path);
		return rc;
	}
	size_t start = out->len;
	int rc = 0;
	for (;;) {
		rc = pb_buf_reserve(out, 65536);
		if (rc < 0)
			break;
		ssize_t n = read(fd, out->data + out->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pb_error_set(PB_EIO, "store: cannot read %s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
	}
	close(fd);
	char hash[PB_STORE_SHA256_HEX + 1];
	if (rc == 0)
		rc = pb_store__sha256_hex(out->data ? out->data + start : (const uint8_t *)"",
					  out->len - start, hash);
	if (rc == 0 && strcmp(hash, sha256) != 0)
		rc = pb_error_set(PB_EIO, "store: %s does not match its hash (corrupted)", path);
	if (rc < 0)
		pb_buf_truncate(out, start);
	pb_free(path);
	return rc;
}

static int referenced(pb_store *st, const char *hash, bool *yes)
{
	static const char sql[] = "SELECT 1 FROM attachments WHERE sha256 = ?1 LIMIT 1";
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, hash);
	rc = sqlite3_step(s);
	*yes = rc == SQLITE_ROW;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : pb_store__error(st, rc, "attachment gc");
	sqlite3_reset(s);
	return rc;
}

PB_API int pb_store_attachment_gc(pb_store *st, int64_t *removed)
{
	if (removed)
		*removed = 0;
	PB_STORE_SQLITE_ONLY(st, "an attachment");
	DIR *d = opendir(st->att_dir);
	if (d == NULL)
		return pb_error_set(PB_EIO, "store: cannot read %s: %s", st->att_dir, strerror(errno));
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		bool tmp = strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0;
		bool used = true;
		if (!tmp && valid_hash(e->d_name))
			rc = referenced(st, e->d_name, &used);
		if (rc < 0 || (!tmp && used))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0) {
			if (removed)
				(*removed)++;
		} else if (errno != ENOENT) {
			rc = pb_error_set(PB_EIO, "store: cannot remove %s/%s: %s", st->att_dir, e->d_name,
					  strerror(errno));
		}
	}
	closedir(d);
	return rc;
}
