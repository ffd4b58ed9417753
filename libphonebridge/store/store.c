/*
 * libphonebridge — the store: opening, pragmas, transactions, statement
 * cache, errors, key-value state.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "store/store-private.h"

int pb_store__error(pb_store *st, int rc, const char *what)
{
	int code;
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = PB_EBUSY;
		break;
	case SQLITE_NOMEM:
		code = PB_ENOMEM;
		break;
	case SQLITE_CONSTRAINT:
		code = PB_EEXISTS;
		break;
	case SQLITE_TOOBIG:
	case SQLITE_FULL:
		code = PB_ETOOBIG;
		break;
	default:
		code = PB_EIO;
		break;
	}
	const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
	return pb_error_set(code, "store: %s: %s", what, msg);
}

int64_t pb_store__now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool pb_store__is_url(const char *path)
{
	return path && (!strncmp(path, "postgresql://", 13) || !strncmp(path, "postgres://", 11));
}

int pb_store__sqlite_only(pb_store *st, const char *what)
{
	(void)st;
	return pb_error_set(PB_EUNSUPPORTED, "store: %s is kept in SQLite only; this store is PostgreSQL "
					     "(which holds the screening data and kv: docs/store.md)", what);
}

int pb_store__stmt(pb_store *st, const char *sql, sqlite3_stmt **out)
{
	*out = NULL;
	if (st->db == NULL)
		return pb_store__sqlite_only(st, "this data");
	for (size_t i = 0; i < st->ncache; i++) {
		if (st->cache[i].sql == sql) {
			*out = st->cache[i].stmt;
			sqlite3_reset(*out);
			sqlite3_clear_bindings(*out);
			return 0;
		}
	}
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc != SQLITE_OK)
		return pb_store__error(st, rc, "prepare");
	if (st->ncache < PB_STORE_STMT_CACHE) {
		st->cache[st->ncache].sql = sql;
		st->cache[st->ncache].stmt = s;
		st->ncache++;
	} else {
		/* Not expected: the store has fewer statements than the cache. */
		sqlite3_finalize(s);
		return pb_error_set(PB_ERROR, "store: statement cache full");
	}
	*out = s;
	return 0;
}

int pb_store__run(pb_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	int ret = 0;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = pb_store__error(st, rc, what);
	sqlite3_reset(s);
	return ret;
}

int pb_store__run_changes(pb_store *st, sqlite3_stmt *s, const char *what, int64_t *changes)
{
	int rc = pb_store__run(st, s, what);
	if (changes)
		*changes = rc == 0 ? sqlite3_changes(st->db) : 0;
	return rc;
}

int pb_store__count(pb_store *st, sqlite3_stmt *s, const char *what, int64_t *count)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = pb_store__error(st, rc, what);
	}
	sqlite3_reset(s);
	return rc;
}

int pb_store__exec(pb_store *st, const char *sql, const char *what)
{
	if (st->db == NULL)
		return pb_store__sqlite_only(st, what);
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : pb_store__error(st, rc, what);
}

int pb_store__bind_text(sqlite3_stmt *s, int idx, const char *text)
{
	if (text == NULL)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, text, -1, SQLITE_STATIC);
}

int pb_store__tx_begin(pb_store *st)
{
	if (st->user_txn)
		return pb_store__exec(st, "SAVEPOINT pb_op", "savepoint");
	return pb_store__exec(st, "BEGIN IMMEDIATE", "begin");
}

int pb_store__tx_end(pb_store *st, int rc)
{
	if (st->user_txn) {
		if (rc != 0)
			sqlite3_exec(st->db, "ROLLBACK TO pb_op", NULL, NULL, NULL);
		int r = sqlite3_exec(st->db, "RELEASE pb_op", NULL, NULL, NULL);
		return rc != 0 ? rc : r == SQLITE_OK ? 0 : pb_store__error(st, r, "release");
	}
	if (rc != 0) {
		if (!sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	int r = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	if (r != SQLITE_OK) {
		rc = pb_store__error(st, r, "commit");
		if (!sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}

void *pb_store__grow(void *items, size_t *cap, size_t count, size_t size)
{
	if (count < *cap)
		return items;
	size_t ncap = *cap ? *cap * 2 : 16, bytes;
	if (pb_mul_overflow(ncap, size, &bytes)) {
		pb_error__oom();
		return NULL;
	}
	void *n = pb_realloc(items, bytes);
	if (n)
		*cap = ncap;
	return n;
}

void pb_store__items_free(void *items, size_t count, size_t size, pb_store_row_release release)
{
	for (size_t i = 0; release && i < count; i++)
		release((char *)items + i * size);
	pb_free(items);
}

int pb_store__collect(pb_store *st, sqlite3_stmt *s, size_t size, pb_store_row_copy copy,
		      pb_store_row_release release, const char *what, void **items, size_t *count)
{
	char *arr = NULL;
	size_t n = 0, cap = 0;
	int rc = 0, r;
	*items = NULL;
	*count = 0;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		char *grown = pb_store__grow(arr, &cap, n, size);
		if (grown == NULL) {
			rc = pb_error__oom();
			break;
		}
		arr = grown;
		memset(arr + n * size, 0, size);
		if ((rc = copy(s, arr + n * size)) < 0)
			break;
		n++;
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = pb_store__error(st, r, what);
	sqlite3_reset(s);
	if (rc < 0) {
		pb_store__items_free(arr, n, size, release);
		return rc;
	}
	*items = arr;
	*count = n;
	return 0;
}

size_t pb_store__col_size(sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return 0;
	sqlite3_column_text(s, i);
	return (size_t)sqlite3_column_bytes(s, i) + 1;
}

const char *pb_store__col_pack(pb_store_pack *k, sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return NULL;
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t n = (size_t)sqlite3_column_bytes(s, i);
	char *r = k->p;
	if (n)
		memcpy(r, t, n);
	r[n] = '\0';
	k->p += n + 1;
	return r;
}

int pb_store__sha256_hex(const void *data, size_t len, char hex[PB_STORE_SHA256_HEX + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return pb_error_set(PB_ERROR, "store: SHA-256 failed");
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
	return 0;
}

/* --- opening -------------------------------------------------------------- */

/* The attachments directory: 0700, or 02770 for a group-shared store (the
 * setgid bit hands the group down to the files); only its owner corrects
 * the mode, the other daemon of a shared store takes what is there. */
static int make_dir(const char *dir, bool shared)
{
	mode_t want = shared ? 02770 : 0700;
	if (mkdir(dir, want) != 0 && errno != EEXIST)
		return pb_error_set(PB_EIO, "store: cannot create %s: %s", dir, strerror(errno));
	struct stat sb;
	if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return pb_error_set(PB_EIO, "store: %s is not a directory", dir);
	mode_t have = sb.st_mode & 07777;
	bool open_to_others = shared ? (have & 007) != 0 : (have & 077) != 0;
	if ((open_to_others || (shared && have != want)) && sb.st_uid == geteuid() && chmod(dir, want) != 0)
		return pb_error_set(PB_EIO, "store: cannot set the mode of %s: %s", dir, strerror(errno));
	if (open_to_others && sb.st_uid != geteuid())
		return pb_error_set(PB_EIO, "store: %s is open to others (mode %04o) and not ours to restrict",
				    dir, (unsigned)have);
	return 0;
}

/* A store in a setgid directory its group may write (and others may not)
 * is shared by that group, as if group_shared were set: the installed
 * layout (/var/lib/phonebridge, 2770 root:phonebridge, tmpfiles.d) makes
 * both daemons share it with no option in either configuration. */
static bool dir_is_shared(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return false;
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	struct stat sb;
	return stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & S_ISGID) &&
	       (sb.st_mode & 070) == 070 && (sb.st_mode & 007) == 0;
}

/* A group-shared store's new database file is created 0660 here (SQLite
 * would make it 0644 less the umask, and gives -wal/-shm the database's mode);
 * never through a symbolic link. */
static int precreate(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0660);
	if (fd < 0)
		return errno == EEXIST ? 0 : pb_error_set(PB_EIO, "store: cannot create %s: %s", path, strerror(errno));
	int r = fchmod(fd, 0660); /* the umask may have taken the group's bits */
	close(fd);
	return r == 0 ? 0 : pb_error_set(PB_EIO, "store: cannot set the mode of %s: %s", path, strerror(errno));
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Switching a database to WAL takes an exclusive lock, and SQLite answers
 * SQLITE_BUSY at once, without the busy handler, when another connection
 * holds a lock at that moment (several processes creating one new database
 * together). Retry with a growing pause until the busy timeout has passed.
 */
static int set_wal(pb_store *st, int timeout_ms)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long pause_ms = 1;; pause_ms = PB_MIN(pause_ms * 2, 50)) {
		int rc = sqlite3_exec(st->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		int primary = rc & 0xff;
		if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) || ms_since(&t0) >= timeout_ms)
			return pb_store__error(st, rc, "WAL mode");
		struct timespec d = { 0, pause_ms * 1000000L };
		nanosleep(&d, NULL);
	}
}

/* The pragmas every connection needs; journal_mode=WAL persists in the file. */
static int configure(pb_store *st, const pb_store_options *o)
{
	int rc = set_wal(st, (int)o->busy_timeout_ms);
	if (rc == 0)
		rc = pb_store__exec(st, "PRAGMA foreign_keys=ON", "foreign keys");
	if (rc == 0)
		rc = pb_store__exec(st, o->synchronous == PB_STORE_SYNC_NORMAL ? "PRAGMA synchronous=NORMAL"
									  : "PRAGMA synchronous=FULL",
				    "synchronous");
	/* A small disk: checkpoint the WAL into the database every 256 pages
	 * (1 MiB at 4 KiB pages; SQLite's default, 1000, lets it reach 4 MB)
	 * and cut the WAL file back to 1 MiB after a checkpoint (by default it
	 * keeps its largest size for ever). docs/store.md, "Disk use". */
	if (rc == 0)
		rc = pb_store__exec(st, "PRAGMA wal_autocheckpoint=256",
				    "WAL checkpoint");
	if (rc == 0)
		rc = pb_store__exec(st, "PRAGMA journal_size_limit=1048576",
				    "WAL size limit");
	return rc;
}

int pb_store__open_at(pb_store **out, const char *path, const pb_store_options *opts, int target)
{
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	if (out)
		*out = NULL;
	if (out == NULL || path == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_open: NULL argument");
	if (opts) {
		int vrc = PB_CHECK_VERSION(opts, PB_STORE_OPTIONS, 1);
		if (vrc < 0)
			return vrc;
		if (opts->version == 1) { /* a caller built before group_shared */
			o.synchronous = opts->synchronous;
			o.busy_timeout_ms = opts->busy_timeout_ms;
			o.attachments_dir = opts->attachments_dir;
		} else if (opts->version == 2) {
			o.synchronous = opts->synchronous;
			o.busy_timeout_ms = opts->busy_timeout_ms;
			o.attachments_dir = opts->attachments_dir;
			o.group_shared = opts->group_shared;
		} else {
			o = *opts;
		}
	}
	if (o.synchronous != PB_STORE_SYNC_FULL && o.synchronous != PB_STORE_SYNC_NORMAL)
		return pb_error_set(PB_EINVAL, "pb_store_open: bad synchronous value %d", o.synchronous);
	int trc = PB_CHECK_MS(&o, pb_store_options, busy_timeout_ms);
	if (trc < 0)
		return trc;
	if (o.busy_timeout_ms == 0)
		o.busy_timeout_ms = 30000;

	pb_store *st = pb_calloc(1, sizeof(*st));
	if (st == NULL)
		return PB_ENOMEM;
	if (pb_store__is_url(path)) {
		int prc = pb_store__pg_open(st, path, &o, target);
		if (prc < 0) {
			pb_store_close(st);
			return prc;
		}
		*out = st;
		return 0;
	}
	pb_buf dir = PB_BUF_INIT;
	int rc = o.attachments_dir ? pb_buf_puts(&dir, o.attachments_dir)
				   : pb_buf_printf(&dir, "%s.attachments", path);
	if (rc < 0)
		goto fail;
	st->att_dir = (char *)pb_buf_detach(&dir, NULL);
	if (st->att_dir == NULL) {
		rc = PB_ENOMEM;
		goto fail;
	}
	st->shared = o.group_shared || dir_is_shared(path);
	if (st->shared && (rc = precreate(path)) < 0)
		goto fail;
	int src = sqlite3_open_v2(path, &st->db,
				  SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
				  NULL);
	if (src != SQLITE_OK) {
		rc = st->db ? pb_store__error(st, src, path)
			    : pb_error_set(PB_ENOMEM, "store: sqlite3_open_v2: out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, (int)o.busy_timeout_ms);
	rc = configure(st, &o);
	if (rc == 0)
		rc = pb_store__migrate(st, target);
	if (rc == 0)
		rc = make_dir(st->att_dir, st->shared);
	if (rc < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	pb_buf_dispose(&dir);
	pb_store_close(st);
	return rc;
}

PB_API int pb_store_open(pb_store **out, const char *path, const pb_store_options *opts)
{
	return pb_store__open_at(out, path, opts, PB_STORE_SCHEMA_VERSION);
}

PB_API void pb_store_close(pb_store *st)
{
	if (st == NULL)
		return;
	pb_store__pg_close(st);
	for (size_t i = 0; i < st->ncache; i++)
		sqlite3_finalize(st->cache[i].stmt);
	if (st->db) {
		if (!sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(st->db);
	}
	pb_free(st->att_dir);
	pb_free(st);
}

PB_API int pb_store_schema_version(pb_store *st)
{
	return st ? st->schema_version : 0;
}

PB_API const char *pb_store_backend(pb_store *st)
{
	return st && st->pg ? "postgresql" : "sqlite";
}

PB_API int pb_store_check(pb_store *st)
{
	static const char sql[] = "PRAGMA integrity_check";
	if (st->pg)
		return pb_store__pg_check(st);
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = pb_store__error(st, rc, "integrity_check");
	} else {
		const char *r = (const char *)sqlite3_column_text(s, 0);
		rc = r && strcmp(r, "ok") == 0 ? 0 : pb_error_set(PB_EIO, "store: integrity_check: %s", r ? r : "?");
	}
	sqlite3_reset(s);
	return rc;
}

PB_API int pb_store_begin(pb_store *st)
{
	if (st->user_txn)
		return pb_error_set(PB_ESTATE, "store: a transaction is already open");
	int rc = st->pg ? pb_store__pg_txn(st, "BEGIN") : pb_store__exec(st, "BEGIN IMMEDIATE", "begin");
	if (rc == 0)
		st->user_txn = true;
	return rc;
}

PB_API int pb_store_commit(pb_store *st)
{
	if (!st->user_txn)
		return pb_error_set(PB_ESTATE, "store: no transaction is open");
	if (st->pg) {
		st->user_txn = false;
		int prc = pb_store__pg_txn(st, "COMMIT");
		if (prc < 0)
			pb_store__pg_txn(st, "ROLLBACK");
		return prc;
	}
	int rc = pb_store__exec(st, "COMMIT", "commit");
	if (rc < 0 && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->user_txn = false;
	return rc;
}

PB_API void pb_store_rollback(pb_store *st)
{
	if (st == NULL || !st->user_txn)
		return;
	if (st->pg) {
		st->user_txn = false;
		pb_store__pg_txn(st, "ROLLBACK");
		return;
	}
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->user_txn = false;
}

/* --- key-value state ------------------------------------------------------- */

PB_API int pb_store_kv_set(pb_store *st, const char *key, const char *value)
{
	static const char sql[] =
		"INSERT INTO kv (key, value, updated_at) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
	if (key == NULL || value == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_kv_set: NULL key or value");
	if (st->pg)
		return pb_store__pg_kv_set(st, key, value, pb_store__now());
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, key);
	pb_store__bind_text(s, 2, value);
	sqlite3_bind_int64(s, 3, pb_store__now());
	return pb_store__run(st, s, "kv set");
}

PB_API int pb_store_kv_get(pb_store *st, const char *key, char **value)
{
	static const char sql[] = "SELECT value FROM kv WHERE key = ?1";
	*value = NULL;
	if (st->pg)
		return pb_store__pg_kv_get(st, key, value);
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*value = pb_strdup((const char *)sqlite3_column_text(s, 0));
		rc = *value ? 0 : PB_ENOMEM;
	} else if (rc == SQLITE_DONE) {
		rc = pb_error_set(PB_ENOTFOUND, "store: no value for %s", key);
	} else {
		rc = pb_store__error(st, rc, "kv get");
	}
	sqlite3_reset(s);
	return rc;
}

PB_API int pb_store_kv_delete(pb_store *st, const char *key)
{
	static const char sql[] = "DELETE FROM kv WHERE key = ?1";
	if (st->pg)
		return pb_store__pg_kv_delete(st, key);
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, key);
	return pb_store__run(st, s, "kv delete");
}
