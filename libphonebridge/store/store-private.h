/*
 * libphonebridge — store internals shared by the files of store/.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_STORE_PRIVATE_H
#define PB_STORE_PRIVATE_H

#include <sqlite3.h>

#include "core/internal.h"

#include <phonebridge/store.h>

#define PB_STORE_STMT_CACHE 64

struct pb_store {
	sqlite3 *db;
	char *att_dir;     /* attachments directory, no trailing slash */
	bool user_txn;     /* pb_store_begin() is open */
	bool shared;       /* group_shared: group modes on new files */
	int schema_version;
	size_t ncache;
	struct {
		const char *sql; /* a static string: the key is its address */
		sqlite3_stmt *stmt;
	} cache[PB_STORE_STMT_CACHE];
	/* A PostgreSQL store (pb_store_open() of a postgresql:// URL): db is
	 * NULL, att_dir too, and the screening data and kv go to pg.c. */
	struct pb_store_pg *pg;
};

/* --- the one schema of both backends (schema.c) --- */
typedef struct pb_store_schema_stmt {
	int version;        /* the schema version this statement belongs to */
	const char *sqlite; /* its SQLite spelling; NULL: not in SQLite */
	const char *pg;     /* its PostgreSQL spelling; NULL: not in PostgreSQL;
			     * (const char *)1: the same as SQLite's */
} pb_store_schema_stmt;
extern const pb_store_schema_stmt pb_store__schema[];
extern const size_t pb_store__schema_len;
/* The statement's text in one dialect, or NULL when it has none there. */
const char *pb_store__schema_sql(const pb_store_schema_stmt *s, bool pg);

/* Does @path name a PostgreSQL store (postgresql:// or postgres://)? */
bool pb_store__is_url(const char *path);

/* A function of a SQLite store called on a PostgreSQL one: PB_EUNSUPPORTED. */
int pb_store__sqlite_only(pb_store *st, const char *what);
#define PB_STORE_SQLITE_ONLY(st, what) \
	do { \
		if ((st) && (st)->pg) \
			return pb_store__sqlite_only((st), (what)); \
	} while (0)

/* --- the PostgreSQL backend (pg.c; pg-none.c without libpq) --- */
int pb_store__pg_open(pb_store *st, const char *url, const pb_store_options *o, int target);
void pb_store__pg_close(pb_store *st);
int pb_store__pg_check(pb_store *st);
/*
 * Counts per day (stats.c) for both backends: the window of
 * pb_store_call_daily() and pb_store_msg_daily(), @days days of 24 hours
 * from @day0_ms to @end_ms, and the caller's counts[@days]. Each backend
 * asks in its own SQL for rows of (day index, count) and puts each row into
 * its bucket with pb_store__days_put().
 */
typedef struct pb_store_days {
	int64_t day0_ms, end_ms;
	unsigned days;
	int64_t *counts;
} pb_store_days;
/* Check the window (PB_EINVAL: days 0 or over PB_STORE_DAILY_MAX, a first
 * day below 0 or too late for the window to end) and zero the counts. */
int pb_store__days_begin(pb_store_days *d, int64_t day0_ms, unsigned days, int64_t *counts);
/* Add @count to day @day; a day outside the window is ignored. */
void pb_store__days_put(pb_store_days *d, int64_t day, int64_t count);
/* Calls per day of a PostgreSQL call log (pb_store_call_daily()). */
int pb_store__pg_call_daily(pb_store *st, pb_store_days *d);
int pb_store__pg_txn(pb_store *st, const char *sql);
int pb_store__pg_list_add(pb_store *st, int list, const char *number, int source, int64_t created,
			  int64_t expires_at);
int pb_store__pg_list_remove(pb_store *st, int list, const char *number, int64_t *changes);
int pb_store__pg_list_lookup(pb_store *st, int list, const char *number, int64_t now,
			     pb_store_list_entry *entry);
int pb_store__pg_list_foreach(pb_store *st, int list, const char *after, size_t limit, int64_t now,
			      pb_store_list_cb cb, void *userdata);
int pb_store__pg_delete_before(pb_store *st, int which, int64_t t, int64_t *removed);
int pb_store__pg_attempt_record(pb_store *st, const char *number, int64_t at, bool failed);
int pb_store__pg_attempt_count(pb_store *st, const char *number, int64_t since, bool failed_only,
			       int64_t *count);
int pb_store__pg_call_log(pb_store *st, const pb_store_call *call, int64_t at, int64_t *id);
int pb_store__pg_call_query(pb_store *st, bool recent, int64_t after_id, size_t limit,
			    pb_store_call_list *l);
int pb_store__pg_kv_set(pb_store *st, const char *key, const char *value, int64_t now);
int pb_store__pg_kv_get(pb_store *st, const char *key, char **value);
int pb_store__pg_kv_delete(pb_store *st, const char *key);
int pb_store__pg_number_set(pb_store *st, const pb_store_number *n);
/* @exact: that number only; else the numbers after @after in order. */
int pb_store__pg_number_walk(pb_store *st, const char *exact, const char *after, size_t limit,
			     pb_store_number_cb cb, void *userdata);
int pb_store__pg_number_remove(pb_store *st, const char *number, int64_t *changes);
/* which for pb_store__pg_delete_before() */
enum { PB_STORE_PG_LIST_EXPIRE = 0, PB_STORE_PG_ATTEMPT_PRUNE = 1 };
/* The packed strings of a call row (screen.c): what the list frees. */
void pb_store__call_release(void *item);

/* Raise the pb error for SQLite result @rc (what: the operation) and return it. */
int pb_store__error(pb_store *st, int rc, const char *what);

/* The cached prepared statement for @sql (a static string), reset and unbound. */
int pb_store__stmt(pb_store *st, const char *sql, sqlite3_stmt **out);

/* Step a statement that returns no row, then reset it. */
int pb_store__run(pb_store *st, sqlite3_stmt *s, const char *what);

/* The same; *changes (may be NULL) receives how many rows the statement changed. */
int pb_store__run_changes(pb_store *st, sqlite3_stmt *s, const char *what, int64_t *changes);

/* Step a statement that answers one row with a number (count(*) ...) into
 * *count (left alone on an error), then reset it. */
int pb_store__count(pb_store *st, sqlite3_stmt *s, const char *what, int64_t *count);

/* Run SQL without parameters (transaction control, DDL). */
int pb_store__exec(pb_store *st, const char *sql, const char *what);

/*
 * A write transaction for one store call: BEGIN IMMEDIATE (so that a writer
 * waits for the lock up front instead of failing with SQLITE_BUSY when it
 * upgrades), or a savepoint inside the caller's pb_store_begin().
 * pb_store__tx_end() commits when @rc is 0, rolls back otherwise, and
 * returns @rc or the commit's error.
 */
int pb_store__tx_begin(pb_store *st);
int pb_store__tx_end(pb_store *st, int rc);

/* Bind a string that may be NULL. */
int pb_store__bind_text(sqlite3_stmt *s, int idx, const char *text);

/*
 * Make room for one more element in an array of @count elements of @size
 * bytes with capacity *@cap: returns the array (moved, perhaps) or NULL with
 * PB_ENOMEM raised, the old array untouched.
 */
void *pb_store__grow(void *items, size_t *cap, size_t count, size_t size);

/*
 * Reading a list: step @s (prepared and bound by the caller) to its last
 * row, copying each row with @copy into a new array of @size-byte items.
 * @copy fills the zeroed item and, when it fails, leaves nothing in it to
 * free. On success *items (a new array, pb_free(); NULL when there is no
 * row) and *count hold the rows. On an error (of @copy, PB_ENOMEM, or
 * SQLite's, reported with @what) every row already copied goes to @release
 * (may be NULL), the array is freed, *items is NULL, *count 0, and the
 * error is returned. The statement is reset either way.
 */
typedef int (*pb_store_row_copy)(sqlite3_stmt *s, void *item);
typedef void (*pb_store_row_release)(void *item);
int pb_store__collect(pb_store *st, sqlite3_stmt *s, size_t size, pb_store_row_copy copy,
		      pb_store_row_release release, const char *what, void **items, size_t *count);
/* Give each of @count items to @release (may be NULL), then free the array. */
void pb_store__items_free(void *items, size_t count, size_t size, pb_store_row_release release);

/* Milliseconds since the epoch. */
int64_t pb_store__now(void);

/* Bring the schema to @target (tests create older versions with it). */
int pb_store__migrate(pb_store *st, int target);

/* Open with the schema brought to @target only (tests of migrations). */
int pb_store__open_at(pb_store **out, const char *path, const pb_store_options *opts, int target);

/* SHA-256 of @data as 64 lowercase hex digits and a NUL. */
int pb_store__sha256_hex(const void *data, size_t len, char hex[PB_STORE_SHA256_HEX + 1]);

/* Copying text columns into one allocation with the struct that points to them. */
typedef struct pb_store_pack {
	char *p;
} pb_store_pack;

/* Bytes needed for column @i as a string (0 for NULL). */
size_t pb_store__col_size(sqlite3_stmt *s, int i);
/* Copy column @i into the pack; NULL for a NULL column. */
const char *pb_store__col_pack(pb_store_pack *k, sqlite3_stmt *s, int i);

#endif
