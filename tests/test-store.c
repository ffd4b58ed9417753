/*
 * libphonebridge tests — store: journal states and deduplication,
 * attachments, SMS parts, kv, contacts and groups, screening lists, call
 * log, schema migrations, allocation failures; E.164 normalisation.
 * (Crash safety and concurrency: tests/store-crash.c.)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store-private.h"
#include "store-testutil.h"

struct fixture {
	char *dir;
	char path[512];
	pb_store *st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = store_scratch_dir();
	snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
	if (pb_store_open(&f->st, f->path, NULL) != 0) {
		fprintf(stderr, "open: %s\n", pb_error_last()->message);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pb_store_close(f->st);
	store_scratch_remove(f->dir);
	free(f);
	return 0;
}


/* --- tables of an application ------------------------------------------------------ */

struct app_ud {
	int calls;
	bool fail;
};

/* version 2 of "demo": moves kv "demo.<n>" into its table */
static int demo_move_kv(pb_store *st, void *userdata)
{
	struct app_ud *u = userdata;
	u->calls++;
	char *v = NULL;
	int rc = pb_store_kv_get(st, "demo.1", &v);
	if (rc == 0) {
		sqlite3_stmt *s = NULL;
		assert_int_equal(sqlite3_prepare_v2(pb_store_sqlite(st), "INSERT INTO demo_items (n, text) VALUES (1, ?1)",
						    -1, &s, NULL),
				 SQLITE_OK);
		sqlite3_bind_text(s, 1, v, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(s) == SQLITE_DONE ? 0 : PB_EIO;
		sqlite3_finalize(s);
		pb_free(v);
		if (rc == 0)
			rc = pb_store_kv_delete(st, "demo.1");
	} else if (rc == PB_ENOTFOUND) {
		rc = 0;
	}
	if (rc == 0 && u->fail)
		rc = pb_error_set(PB_EIO, "injected failure after the move");
	return rc;
}

static const pb_store_app_step demo_steps[] = {
	{ 1, "CREATE TABLE demo_items (n INTEGER PRIMARY KEY CHECK (n > 0), text TEXT NOT NULL);", NULL },
	{ 2,
	  "CREATE TABLE demo_refs (msg_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,"
	  "  n INTEGER NOT NULL REFERENCES demo_items (n));",
	  demo_move_kv },
};

static int64_t count_rows(pb_store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_prepare_v2(pb_store_sqlite(st), sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void test_store__app_schema_runs_versioned_steps_once(void **state)
{
	struct fixture *f = *state;
	struct app_ud u = { 0, false };
	int v = -1;
	assert_pb_ok(pb_store_app_version(f->st, "demo", &v));
	assert_int_equal(v, 0);
	/* version 1 only, then 2: each step runs once */
	assert_pb_ok(pb_store_app_schema(f->st, "demo", demo_steps, 1, &u, &v));
	assert_int_equal(v, 1);
	assert_pb_ok(pb_store_kv_set(f->st, "demo.1", "one"));
	assert_pb_ok(pb_store_app_schema(f->st, "demo", demo_steps, 2, &u, &v));
	assert_int_equal(v, 2);
	assert_int_equal(u.calls, 1);
	assert_int_equal(count_rows(f->st, "SELECT count(*) FROM demo_items WHERE text = 'one'"), 1);
	char *x = NULL;
	assert_pb_error(pb_store_kv_get(f->st, "demo.1", &x), PB_ENOTFOUND);
	/* again, and from a second handle: nothing runs */
	assert_pb_ok(pb_store_app_schema(f->st, "demo", demo_steps, 2, &u, &v));
	pb_store *st2;
	assert_pb_ok(pb_store_open(&st2, f->path, NULL));
	assert_pb_ok(pb_store_app_schema(st2, "demo", demo_steps, 2, &u, &v));
	assert_int_equal(u.calls, 1);
	assert_pb_ok(pb_store_app_version(st2, "demo", &v));
	assert_int_equal(v, 2);
	/* a program that knows only version 1 meets version 2 tables */
	assert_pb_error(pb_store_app_schema(st2, "demo", demo_steps, 1, &u, &v), PB_EUNSUPPORTED);
	assert_non_null(strstr(pb_error_last()->message, "newer"));
	pb_store_close(st2);
	/* the constraints hold: CHECK, and the foreign key to the journal */
	sqlite3 *db = pb_store_sqlite(f->st);
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO demo_items (n, text) VALUES (0, 'x')", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO demo_refs (msg_id, n) VALUES (424242, 1)", NULL, NULL, NULL),
			     SQLITE_OK);
	/* each application has its own version */
	static const pb_store_app_step other[] = { { 1, "CREATE TABLE other_t (x INTEGER);", NULL } };
	assert_pb_ok(pb_store_app_schema(f->st, "other", other, 1, NULL, &v));
	assert_int_equal(v, 1);
	assert_int_equal(count_rows(f->st, "SELECT count(*) FROM pb_app_schema"), 2);
}

/* A step that fails rolls back every step of the call (tables, data moved,
 * the version); the next call starts over and succeeds. */
static void test_store__app_schema_failure_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct app_ud u = { 0, true };
	int v = -1;
	assert_pb_ok(pb_store_kv_set(f->st, "demo.1", "one"));
	assert_pb_error(pb_store_app_schema(f->st, "demo", demo_steps, 2, &u, &v), PB_EIO);
	assert_non_null(strstr(pb_error_last()->message, "version 2: injected failure"));
	assert_int_equal(v, 0);
	assert_pb_ok(pb_store_app_version(f->st, "demo", &v));
	assert_int_equal(v, 0);
	assert_int_equal(count_rows(f->st, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'demo_%'"), 0);
	char *x = NULL;
	assert_pb_ok(pb_store_kv_get(f->st, "demo.1", &x));
	assert_string_equal(x, "one");
	pb_free(x);
	/* the handle is usable, outside any transaction */
	assert_pb_ok(pb_store_begin(f->st));
	pb_store_rollback(f->st);
	u.fail = false;
	assert_pb_ok(pb_store_app_schema(f->st, "demo", demo_steps, 2, &u, &v));
	assert_int_equal(v, 2);
	assert_int_equal(count_rows(f->st, "SELECT count(*) FROM demo_items"), 1);
	/* bad arguments */
	assert_pb_error(pb_store_app_schema(f->st, "Demo!", demo_steps, 2, &u, &v), PB_EINVAL);
	assert_pb_error(pb_store_app_schema(f->st, "", demo_steps, 2, &u, &v), PB_EINVAL);
	static const pb_store_app_step gap[] = { { 1, "SELECT 1;", NULL }, { 3, "SELECT 1;", NULL } };
	assert_pb_error(pb_store_app_schema(f->st, "gap", gap, 2, NULL, &v), PB_EINVAL);
	static const pb_store_app_step empty[] = { { 1, NULL, NULL } };
	assert_pb_error(pb_store_app_schema(f->st, "empty", empty, 1, NULL, &v), PB_EINVAL);
	/* not inside the caller's transaction */
	assert_pb_ok(pb_store_begin(f->st));
	assert_pb_error(pb_store_app_schema(f->st, "other", demo_steps, 1, NULL, &v), PB_ESTATE);
	pb_store_rollback(f->st);
	/* bad SQL in a step: its error, naming the application and version */
	static const pb_store_app_step bad[] = { { 1, "CREATE TABLE nope (", NULL } };
	assert_int_not_equal(pb_store_app_schema(f->st, "bad", bad, 1, NULL, &v), 0);
	assert_non_null(strstr(pb_error_last()->message, "application bad, version 1"));
}

/* --- the same cases against PostgreSQL --------------------------------------------- */

/*
 * Under tests/pg_server.py (PB_TEST_PG_HOST set: test "store-pg", suites
 * once + pg) the cases of the data a PostgreSQL store holds run against a
 * new database each, created on that throwaway server; the rest are
 * SQLite's alone and are left out of that run.
 */
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#define HAVE_PG 1

static char pg_password[128];

static const char *pg_env(const char *name)
{
	const char *v = getenv(name);
	assert_non_null(v);
	return v;
}

/* Run one statement as the superuser on database @db; the first value of
 * the first row (or "") into @val when given. */
static void pg_admin(const char *db, const char *sql, char *val, size_t size)
{
	const char *kw[] = { "host", "port", "user", "dbname", "password", NULL };
	const char *v[] = { pg_env("PB_TEST_PG_HOST"), pg_env("PB_TEST_PG_PORT"), pg_env("PB_TEST_PG_USER"), db,
			    pg_password, NULL };
	PGconn *c = PQconnectdbParams(kw, v, 0);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("admin connection: %s", PQerrorMessage(c));
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	if (val)
		snprintf(val, size, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	PQfinish(c);
}

static int pg_case;

/* A URL of a new database, with the options a store opens it with. */
static void pg_new_db(char *url, size_t size, char *name, size_t nsize)
{
	snprintf(name, nsize, "t%d_%d", (int)getpid(), ++pg_case);
	char sql[128];
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	pg_admin("postgres", sql, NULL, 0);
	snprintf(url, size, "postgresql://%s@/%s?host=%s&port=%s", pg_env("PB_TEST_PG_USER"), name,
		 pg_env("PB_TEST_PG_HOST"), pg_env("PB_TEST_PG_PORT"));
}

static int setup_pg(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char name[64];
	pg_new_db(f->path, sizeof(f->path), name, sizeof(name));
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.password_file = pg_env("PB_TEST_PG_PASSWORD_FILE");
	if (pb_store_open(&f->st, f->path, &o) != 0) {
		fprintf(stderr, "open %s: %s\n", f->path, pb_error_last()->message);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown_pg(void **state)
{
	struct fixture *f = *state;
	pb_store_close(f->st);
	free(f);
	return 0;
}
#endif

static int64_t pragma_int(pb_store *st, const char *sql)
{
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(st->db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int64_t inbound(pb_store *st, const char *modem_id, int state)
{
	pb_store_msg_in m = PB_STORE_MSG_IN_INIT;
	m.dir = PB_STORE_INBOUND;
	m.state = state;
	m.backend = "hilink";
	m.backend_id = modem_id;
	m.peer = "+4930123456";
	m.body = "hello";
	int64_t id = 0;
	assert_pb_ok(pb_store_msg_insert(st, &m, &id));
	assert_true(id > 0);
	return id;
}

static int64_t outbound(pb_store *st, const char *event)
{
	pb_store_msg_in m = PB_STORE_MSG_IN_INIT;
	m.dir = PB_STORE_OUTBOUND;
	m.state = PB_STORE_QUEUED;
	m.event_id = event;
	m.room = "!room:example.org";
	m.peer = "+442079460958";
	m.body = "hi there";
	int64_t id = 0;
	assert_pb_ok(pb_store_msg_insert(st, &m, &id));
	return id;
}

static int state_of(pb_store *st, int64_t id, int *attempts)
{
	pb_store_msg *m;
	assert_pb_ok(pb_store_msg_get(st, id, &m));
	int s = m->state;
	if (attempts)
		*attempts = m->attempts;
	pb_store_msg_free(m);
	return s;
}

/* --- opening ---------------------------------------------------------------- */

static void test_store__open_sets_wal_fk_sync_and_dirs(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(f->st->db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	assert_int_equal(pragma_int(f->st, "PRAGMA foreign_keys"), 1);
	assert_int_equal(pragma_int(f->st, "PRAGMA synchronous"), 2); /* FULL */
	assert_int_equal(pragma_int(f->st, "PRAGMA busy_timeout"), 30000);
	assert_int_equal(pragma_int(f->st, "PRAGMA user_version"), PB_STORE_SCHEMA_VERSION);
	assert_int_equal(pb_store_schema_version(f->st), PB_STORE_SCHEMA_VERSION);
	assert_pb_ok(pb_store_check(f->st));

	char dir[600];
	snprintf(dir, sizeof(dir), "%s.attachments", f->path);
	struct stat sb;
	assert_int_equal(stat(dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0700);

	/* NORMAL on request; a second handle on the same file */
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.synchronous = PB_STORE_SYNC_NORMAL;
	o.busy_timeout_ms = 1234;
	pb_store *b;
	assert_pb_ok(pb_store_open(&b, f->path, &o));
	assert_int_equal(pragma_int(b, "PRAGMA synchronous"), 1);
	assert_int_equal(pragma_int(b, "PRAGMA busy_timeout"), 1234);
	pb_store_close(b);

	/* 0 is the default; more than INT_MAX (a C caller's -1) is refused, naming the member */
	o.busy_timeout_ms = 0;
	assert_pb_ok(pb_store_open(&b, f->path, &o));
	assert_int_equal(pragma_int(b, "PRAGMA busy_timeout"), 30000);
	pb_store_close(b);
	o.busy_timeout_ms = (unsigned)-1;
	assert_pb_error(pb_store_open(&b, f->path, &o), PB_EINVAL);
	assert_null(b);
	assert_non_null(strstr(pb_error_last()->message, "pb_store_options.busy_timeout_ms"));
	o.busy_timeout_ms = 1234;

	o.synchronous = 7;
	assert_pb_error(pb_store_open(&b, f->path, &o), PB_EINVAL);
	assert_null(b);
	assert_pb_error(pb_store_open(&b, NULL, NULL), PB_EINVAL);
	assert_pb_error(pb_store_open(&b, "/nonexistent-dir/x/y.db", NULL), PB_EIO);
	pb_store_close(NULL);
}

static void test_store__newer_schema_is_refused(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(sqlite3_exec(f->st->db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	pb_store *b;
	assert_pb_error(pb_store_open(&b, f->path, NULL), PB_EUNSUPPORTED);
	assert_null(b);
}

/* --- journal ---------------------------------------------------------------------- */

static void test_store__inbound_lifecycle(void **state)
{
	struct fixture *f = *state;
	int64_t id = inbound(f->st, "40001", PB_STORE_RECEIVED);
	pb_store_msg *m;
	assert_pb_ok(pb_store_msg_get(f->st, id, &m));
	assert_int_equal(m->dir, PB_STORE_INBOUND);
	assert_int_equal(m->state, PB_STORE_RECEIVED);
	assert_string_equal(m->dedup_key, "hilink:40001");
	assert_string_equal(m->peer, "+4930123456");
	assert_string_equal(m->body, "hello");
	assert_null(m->room);
	assert_null(m->ref);
	assert_int_equal(m->attempts, 0);
	assert_true(m->created_at > 1600000000000LL);
	pb_store_msg_free(m);

	assert_pb_ok(pb_store_msg_transition(f->st, id, PB_STORE_STORED, NULL, NULL));
	assert_pb_ok(pb_store_msg_transition(f->st, id, PB_STORE_STORED, NULL, "M_LIMIT_EXCEEDED"));
	int attempts;
	assert_int_equal(state_of(f->st, id, &attempts), PB_STORE_STORED);
	assert_int_equal(attempts, 1);
	assert_pb_ok(pb_store_msg_transition(f->st, id, PB_STORE_DELIVERED, "$ev1", NULL));
	assert_pb_ok(pb_store_msg_get(f->st, id, &m));
	assert_int_equal(m->state, PB_STORE_DELIVERED);
	assert_int_equal(m->attempts, 2);
	assert_string_equal(m->ref, "$ev1");
	assert_string_equal(m->last_error, "M_LIMIT_EXCEEDED");
	pb_store_msg_free(m);

	/* terminal: delivered -> queued (or anything) is refused, row unchanged */
	assert_pb_error(pb_store_msg_transition(f->st, id, PB_STORE_QUEUED, NULL, "x"), PB_ESTATE);
	assert_pb_error(pb_store_msg_transition(f->st, id, PB_STORE_STORED, NULL, "x"), PB_ESTATE);
	assert_int_equal(state_of(f->st, id, &attempts), PB_STORE_DELIVERED);
	assert_int_equal(attempts, 2);
	assert_pb_error(pb_store_msg_transition(f->st, 999999, PB_STORE_STORED, NULL, NULL), PB_ENOTFOUND);
	assert_pb_error(pb_store_msg_get(f->st, 999999, &m), PB_ENOTFOUND);
	assert_null(m);
}

static void test_store__outbound_lifecycle(void **state)
{
	struct fixture *f = *state;
	int64_t id = outbound(f->st, "$out1");
	assert_pb_ok(pb_store_msg_transition(f->st, id, PB_STORE_SENDING, NULL, NULL));
	assert_pb_ok(pb_store_msg_transition(f->st, id, PB_STORE_QUEUED, NULL, "+CMS ERROR: 38"));
	assert_pb_ok(pb_store_msg_transition(f->st, id, PB_STORE_SENDING, NULL, NULL));
	assert_pb_ok(pb_store_msg_transition(f->st, id, PB_STORE_SENT, "mr=17", NULL));
	pb_store_msg *m;
	assert_pb_ok(pb_store_msg_find(f->st, PB_STORE_OUTBOUND, "event:$out1", &m));
	assert_int_equal(m->id, id);
	assert_int_equal(m->state, PB_STORE_SENT);
	assert_int_equal(m->attempts, 2);
	assert_string_equal(m->ref, "mr=17");
	assert_string_equal(m->last_error, "+CMS ERROR: 38");
	assert_string_equal(m->room, "!room:example.org");
	pb_store_msg_free(m);
	assert_pb_error(pb_store_msg_find(f->st, PB_STORE_INBOUND, "event:$out1", &m), PB_ENOTFOUND);
	assert_pb_error(pb_store_msg_transition(f->st, id, PB_STORE_SENDING, NULL, NULL), PB_ESTATE);
}

/* An identical message after the first left the box (its AT index reused)
 * is a new row; before that (a crash before the delete) it is the same row. */
static void test_store__released_key_no_longer_dedups(void **state)
{
	struct fixture *f = *state;
	pb_store_msg_in in = PB_STORE_MSG_IN_INIT;
	in.dir = PB_STORE_INBOUND;
	in.state = PB_STORE_STORED;
	in.dedup_key = "at:1@2024-05-01T10:00:00Z/+4915112345678#0123";
	in.backend = "at:text";
	in.backend_id = "1";
	in.body = "same text";
	int64_t id1 = 0, id2 = 0, again = 0;
	assert_pb_ok(pb_store_msg_insert(f->st, &in, &id1));
	assert_pb_error(pb_store_msg_insert(f->st, &in, &again), PB_EEXISTS);
	assert_int_equal(again, id1);
	assert_pb_ok(pb_store_msg_release_key(f->st, id1));
	assert_pb_ok(pb_store_msg_release_key(f->st, id1)); /* idempotent */
	assert_pb_ok(pb_store_msg_insert(f->st, &in, &id2));
	assert_true(id2 != id1);
	assert_pb_error(pb_store_msg_insert(f->st, &in, &again), PB_EEXISTS);
	assert_int_equal(again, id2);
	pb_store_msg *m;
	assert_pb_ok(pb_store_msg_get(f->st, id1, &m));
	assert_string_equal(m->body, "same text");
	assert_non_null(strstr(m->dedup_key, "|left-box#"));
	pb_store_msg_free(m);
	assert_pb_ok(pb_store_msg_release_key(f->st, id2));
	assert_pb_ok(pb_store_msg_insert(f->st, &in, &again));
	assert_true(again != id1 && again != id2);
	assert_pb_error(pb_store_msg_release_key(f->st, 999999), PB_ENOTFOUND);
	assert_pb_error(pb_store_msg_release_key(f->st, outbound(f->st, "$rel")), PB_EINVAL);
}

/* Drive a new row of @dir to @from along legal transitions; -1 if @from is
 * not a state of that direction. */
static int64_t row_in_state(pb_store *st, int dir, int from, int n)
{
	char key[32];
	snprintf(key, sizeof(key), "k%d", n);
	pb_store_msg_in m = PB_STORE_MSG_IN_INIT;
	m.dir = dir;
	m.dedup_key = key;
	static const int in_paths[][3] = {
		[PB_STORE_RECEIVED] = { PB_STORE_RECEIVED, 0, 0 },
		[PB_STORE_STORED] = { PB_STORE_STORED, 0, 0 },
		[PB_STORE_DELIVERED] = { PB_STORE_STORED, PB_STORE_DELIVERED, 0 },
		[PB_STORE_FAILED] = { PB_STORE_RECEIVED, PB_STORE_FAILED, 0 },
	};
	static const int out_paths[][3] = {
		[PB_STORE_QUEUED] = { PB_STORE_QUEUED, 0, 0 },
		[PB_STORE_SENDING] = { PB_STORE_QUEUED, PB_STORE_SENDING, 0 },
		[PB_STORE_SENT] = { PB_STORE_QUEUED, PB_STORE_SENDING, PB_STORE_SENT },
		[PB_STORE_UNKNOWN] = { PB_STORE_QUEUED, PB_STORE_SENDING, PB_STORE_UNKNOWN },
		[PB_STORE_FAILED] = { PB_STORE_QUEUED, PB_STORE_FAILED, 0 },
	};
	const int(*path)[3] = dir == PB_STORE_INBOUND ? in_paths : out_paths;
	if (from > PB_STORE_FAILED || path[from][0] == 0)
		return -1;
	m.state = path[from][0];
	int64_t id;
	assert_pb_ok(pb_store_msg_insert(st, &m, &id));
	for (int i = 1; i < 3 && path[from][i]; i++)
		assert_pb_ok(pb_store_msg_transition(st, id, path[from][i], NULL, NULL));
	return id;
}

static void test_store__every_transition_is_checked(void **state)
{
	struct fixture *f = *state;
	enum { R = PB_STORE_RECEIVED, S = PB_STORE_STORED, D = PB_STORE_DELIVERED, Q = PB_STORE_QUEUED,
	       G = PB_STORE_SENDING, T = PB_STORE_SENT, U = PB_STORE_UNKNOWN, F = PB_STORE_FAILED };
	/* the issue's state machine, written out independently of journal.c */
	static const int legal_in[][2] = { { R, S }, { R, F }, { S, S }, { S, D }, { S, F }, { F, S } };
	static const int legal_out[][2] = { { Q, G }, { Q, F }, { G, T }, { G, F }, { G, U },
					    { G, Q }, { U, T }, { U, F }, { U, Q }, { F, Q } };
	int n = 0, legal_seen = 0;
	for (int dir = PB_STORE_INBOUND; dir <= PB_STORE_OUTBOUND; dir++) {
		for (int from = 1; from <= 8; from++) {
			for (int to = 0; to <= 9; to++) {
				int64_t id = row_in_state(f->st, dir, from, n++);
				if (id < 0)
					break;
				bool want = false;
				if (dir == PB_STORE_INBOUND) {
					for (size_t i = 0; i < PB_ARRAY_SIZE(legal_in); i++)
						want |= legal_in[i][0] == from && legal_in[i][1] == to;
				} else {
					for (size_t i = 0; i < PB_ARRAY_SIZE(legal_out); i++)
						want |= legal_out[i][0] == from && legal_out[i][1] == to;
				}
				int rc = pb_store_msg_transition(f->st, id, to, NULL, NULL);
				if (want) {
					assert_int_equal(rc, 0);
					assert_int_equal(state_of(f->st, id, NULL), to);
					legal_seen++;
				} else {
					if (rc != PB_ESTATE)
						fail_msg("dir %d: %s -> %d gave %d", dir, pb_store_state_name(from), to, rc);
					assert_int_equal(state_of(f->st, id, NULL), from);
				}
			}
		}
	}
	assert_int_equal(legal_seen, PB_ARRAY_SIZE(legal_in) + PB_ARRAY_SIZE(legal_out));
	assert_string_equal(pb_store_state_name(PB_STORE_UNKNOWN), "unknown");
	assert_string_equal(pb_store_state_name(42), "?");
}

static void test_store__dedup_returns_existing_id(void **state)
{
	struct fixture *f = *state;
	int64_t a = inbound(f->st, "7", PB_STORE_STORED);
	pb_store_msg_in m = PB_STORE_MSG_IN_INIT;
	m.dir = PB_STORE_INBOUND;
	m.state = PB_STORE_STORED;
	m.backend = "hilink";
	m.backend_id = "7";
	m.body = "a retry with other text changes nothing";
	int64_t b = 0;
	assert_pb_error(pb_store_msg_insert(f->st, &m, &b), PB_EEXISTS);
	assert_int_equal(a, b);
	pb_store_msg *r;
	assert_pb_ok(pb_store_msg_get(f->st, a, &r));
	assert_string_equal(r->body, "hello");
	pb_store_msg_free(r);

	/* no modem id: a content hash of backend, peer, time stamp, body */
	pb_store_msg_in h = PB_STORE_MSG_IN_INIT;
	h.dir = PB_STORE_INBOUND;
	h.state = PB_STORE_RECEIVED;
	h.backend = "smseagle";
	h.peer = "+33612345678";
	h.sent_at = 1700000000000LL;
	h.body = "bonjour";
	int64_t c, d;
	assert_pb_ok(pb_store_msg_insert(f->st, &h, &c));
	assert_pb_error(pb_store_msg_insert(f->st, &h, &d), PB_EEXISTS);
	assert_int_equal(c, d);
	assert_pb_ok(pb_store_msg_get(f->st, c, &r));
	assert_int_equal(strncmp(r->dedup_key, "sha256:", 7), 0);
	assert_int_equal(strlen(r->dedup_key), 7 + 64);
	pb_store_msg_free(r);
	h.sent_at++; /* the same text again later is another message */
	assert_pb_ok(pb_store_msg_insert(f->st, &h, &d));
	assert_true(d != c);

	/* outbound: the Matrix event id; the same key inbound is another row */
	int64_t o = outbound(f->st, "$e");
	pb_store_msg_in x = PB_STORE_MSG_IN_INIT;
	x.dir = PB_STORE_OUTBOUND;
	x.state = PB_STORE_QUEUED;
	x.event_id = "$e";
	assert_pb_error(pb_store_msg_insert(f->st, &x, &d), PB_EEXISTS);
	assert_int_equal(d, o);
	x.dir = PB_STORE_INBOUND;
	x.state = PB_STORE_STORED;
	x.dedup_key = "event:$e";
	assert_pb_ok(pb_store_msg_insert(f->st, &x, &d));

	/* bad input */
	x.dir = PB_STORE_OUTBOUND;
	x.state = PB_STORE_QUEUED;
	x.dedup_key = NULL;
	x.event_id = NULL;
	assert_pb_error(pb_store_msg_insert(f->st, &x, &d), PB_EINVAL);
	x.event_id = "$f";
	x.state = PB_STORE_SENT;
	assert_pb_error(pb_store_msg_insert(f->st, &x, &d), PB_EINVAL);
	x.dir = 3;
	x.state = PB_STORE_QUEUED;
	assert_pb_error(pb_store_msg_insert(f->st, &x, NULL), PB_EINVAL);
	assert_pb_error(pb_store_msg_insert(f->st, NULL, NULL), PB_EINVAL);
}

static void test_store__queues_page_in_order_and_recover(void **state)
{
	struct fixture *f = *state;
	int64_t ids[10];
	for (int i = 0; i < 10; i++) {
		char k[8];
		snprintf(k, sizeof(k), "%d", i);
		ids[i] = inbound(f->st, k, i % 2 ? PB_STORE_STORED : PB_STORE_RECEIVED);
	}
	pb_store_msg_list *l;
	assert_pb_ok(pb_store_msg_list_state(f->st, PB_STORE_INBOUND, PB_STORE_STORED, 0, 3, &l));
	assert_int_equal(l->count, 3);
	assert_int_equal(l->items[0]->id, ids[1]);
	assert_int_equal(l->items[2]->id, ids[5]);
	int64_t last = l->items[2]->id;
	pb_store_msg_list_free(l);
	assert_pb_ok(pb_store_msg_list_state(f->st, PB_STORE_INBOUND, PB_STORE_STORED, last, 0, &l));
	assert_int_equal(l->count, 2);
	assert_int_equal(l->items[0]->id, ids[7]);
	pb_store_msg_list_free(l);
	int64_t n;
	assert_pb_ok(pb_store_msg_count(f->st, PB_STORE_INBOUND, PB_STORE_RECEIVED, &n));
	assert_int_equal(n, 5);

	/* outbound rows caught in "sending" by a crash become "unknown" */
	int64_t a = outbound(f->st, "$a"), b = outbound(f->st, "$b"), c = outbound(f->st, "$c");
	assert_pb_ok(pb_store_msg_transition(f->st, a, PB_STORE_SENDING, NULL, NULL));
	assert_pb_ok(pb_store_msg_transition(f->st, b, PB_STORE_SENDING, NULL, NULL));
	assert_pb_ok(pb_store_msg_list_state(f->st, PB_STORE_OUTBOUND, PB_STORE_SENDING, 0, 0, &l));
	assert_int_equal(l->count, 2);
	pb_store_msg_list_free(l);
	assert_pb_ok(pb_store_msg_recover(f->st, &n));
	assert_int_equal(n, 2);
	pb_store_msg *m;
	assert_pb_ok(pb_store_msg_get(f->st, a, &m));
	assert_int_equal(m->state, PB_STORE_UNKNOWN);
	assert_string_equal(m->last_error, "interrupted while sending");
	pb_store_msg_free(m);
	assert_int_equal(state_of(f->st, c, NULL), PB_STORE_QUEUED);
	/* "unknown" is never sent again without a decision: it is not queued */
	assert_pb_ok(pb_store_msg_count(f->st, PB_STORE_OUTBOUND, PB_STORE_QUEUED, &n));
	assert_int_equal(n, 1);
	assert_pb_ok(pb_store_msg_recover(f->st, &n));
	assert_int_equal(n, 0);
}

static void test_store__user_transaction_is_atomic(void **state)
{
	struct fixture *f = *state;
	pb_store_sms_part p = { "g1", "+4915112345678", 42, 2, 1, (const uint8_t *)"\x01\x02", 2, 0 };
	assert_pb_ok(pb_store_sms_part_put(f->st, &p));

	assert_pb_ok(pb_store_begin(f->st));
	assert_pb_error(pb_store_begin(f->st), PB_ESTATE);
	inbound(f->st, "joined", PB_STORE_STORED);
	assert_pb_ok(pb_store_sms_part_delete_group(f->st, "g1"));
	/* a failing call inside rolls back only itself */
	assert_pb_error(pb_store_msg_transition(f->st, 424242, PB_STORE_STORED, NULL, NULL), PB_ENOTFOUND);
	pb_store_rollback(f->st);
	pb_store_msg *m;
	assert_pb_error(pb_store_msg_find(f->st, PB_STORE_INBOUND, "hilink:joined", &m), PB_ENOTFOUND);
	int64_t n;
	assert_pb_ok(pb_store_msg_count(f->st, PB_STORE_INBOUND, PB_STORE_STORED, &n));
	assert_int_equal(n, 0);

	assert_pb_ok(pb_store_begin(f->st));
	int64_t id = inbound(f->st, "joined", PB_STORE_STORED);
	assert_pb_ok(pb_store_msg_transition(f->st, id, PB_STORE_DELIVERED, "$x", NULL));
	assert_pb_ok(pb_store_sms_part_delete_group(f->st, "g1"));
	assert_pb_ok(pb_store_commit(f->st));
	assert_pb_error(pb_store_commit(f->st), PB_ESTATE);
	assert_int_equal(state_of(f->st, id, NULL), PB_STORE_DELIVERED);
	pb_store_rollback(f->st); /* none open: nothing happens */
}

/* --- attachments --------------------------------------------------------------------- */

static void test_store__attachments_are_content_addressed(void **state)
{
	struct fixture *f = *state;
	int64_t id = inbound(f->st, "mms1", PB_STORE_STORED);
	static const char jpeg[] = "\xff\xd8\xff\xe0 not really a jpeg";
	char h1[65], h2[65];
	assert_pb_ok(pb_store_attachment_add(f->st, id, jpeg, sizeof(jpeg) - 1, "image/jpeg",
					     "../../etc/passwd", h1));
	/* sha256 of the bytes, known independently */
	char want[65];
	assert_pb_ok(pb_store__sha256_hex(jpeg, sizeof(jpeg) - 1, want));
	assert_string_equal(h1, want);
	assert_pb_ok(pb_store_attachment_add(f->st, id, "text", 4, NULL, NULL, h2));
	assert_pb_ok(pb_store_attachment_add(f->st, id, jpeg, sizeof(jpeg) - 1, "image/jpeg", "again", NULL));
	assert_string_equal(h2, "982d9e3eb996f559e633f4d194def3761d909f5a3b647d1a851fead67c32c9d1");

	pb_store_attachment_list *l;
	assert_pb_ok(pb_store_attachment_list_get(f->st, id, &l));
	assert_int_equal(l->count, 3);
	assert_int_equal(l->items[0].seq, 0);
	assert_string_equal(l->items[0].sha256, h1);
	assert_string_equal(l->items[0].content_type, "image/jpeg");
	assert_string_equal(l->items[0].name, "../../etc/passwd");
	assert_int_equal(l->items[0].size, sizeof(jpeg) - 1);
	assert_null(l->items[1].content_type);
	assert_null(l->items[1].name);
	assert_int_equal(l->items[2].seq, 2);
	pb_store_attachment_list_free(l);

	/* files: named by hash, mode 0600, the network's name nowhere */
	char *path = pb_store_attachment_path(f->st, h1);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_non_null(strstr(path, ".attachments/"));
	char passwd[600];
	snprintf(passwd, sizeof(passwd), "%s.attachments/../../etc/passwd", f->path);
	assert_int_not_equal(access(passwd, F_OK), 0);

	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_store_attachment_read(f->st, h1, &b));
	assert_int_equal(b.len, sizeof(jpeg) - 1);
	assert_memory_equal(b.data, jpeg, b.len);
	pb_buf_clear(&b);

	/* a name that is not a hash never reaches the file system */
	assert_pb_error(pb_store_attachment_read(f->st, "../test.db", &b), PB_EINVAL);
	assert_null(pb_store_attachment_path(f->st, "ABCDEF"));
	assert_pb_error(pb_store_attachment_read(f->st,
		"0000000000000000000000000000000000000000000000000000000000000000", &b), PB_ENOTFOUND);

	/* corruption is noticed */
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_pb_error(pb_store_attachment_read(f->st, h1, &b), PB_EIO);
	assert_int_equal(b.len, 0);
	pb_buf_dispose(&b);
	pb_free(path);

	assert_pb_error(pb_store_attachment_add(f->st, 987654, "x", 1, NULL, NULL, NULL), PB_ENOTFOUND);
}

static void test_store__prune_drops_finished_rows_and_their_files(void **state)
{
	struct fixture *f = *state;
	int64_t done = inbound(f->st, "p1", PB_STORE_STORED);
	int64_t waiting = inbound(f->st, "p2", PB_STORE_STORED);
	int64_t sent = outbound(f->st, "$p3");
	int64_t unknown = outbound(f->st, "$p4");
	char h[65], shared[65];
	assert_pb_ok(pb_store_attachment_add(f->st, done, "only here", 9, NULL, NULL, h));
	assert_pb_ok(pb_store_attachment_add(f->st, done, "shared", 6, NULL, NULL, shared));
	assert_pb_ok(pb_store_attachment_add(f->st, waiting, "shared", 6, NULL, NULL, NULL));
	assert_pb_ok(pb_store_msg_transition(f->st, done, PB_STORE_DELIVERED, "$d", NULL));
	assert_pb_ok(pb_store_msg_transition(f->st, sent, PB_STORE_SENDING, NULL, NULL));
	assert_pb_ok(pb_store_msg_transition(f->st, sent, PB_STORE_SENT, NULL, NULL));
	assert_pb_ok(pb_store_msg_transition(f->st, unknown, PB_STORE_SENDING, NULL, NULL));
	assert_pb_ok(pb_store_msg_transition(f->st, unknown, PB_STORE_UNKNOWN, NULL, NULL));
	int64_t removed;
	assert_pb_ok(pb_store_msg_prune(f->st, 1000, &removed)); /* all changed after 1970 */
	assert_int_equal(removed, 0);
	assert_pb_ok(pb_store_msg_prune(f->st, pb_store__now() + 1000, &removed));
	assert_int_equal(removed, 2);
	pb_store_msg *m;
	assert_pb_error(pb_store_msg_get(f->st, done, &m), PB_ENOTFOUND);
	assert_pb_error(pb_store_msg_get(f->st, sent, &m), PB_ENOTFOUND);
	assert_int_equal(state_of(f->st, waiting, NULL), PB_STORE_STORED);
	assert_int_equal(state_of(f->st, unknown, NULL), PB_STORE_UNKNOWN);
	assert_pb_ok(pb_store_attachment_gc(f->st, &removed));
	assert_int_equal(removed, 1);
	pb_buf b = PB_BUF_INIT;
	assert_pb_error(pb_store_attachment_read(f->st, h, &b), PB_ENOTFOUND);
	assert_pb_ok(pb_store_attachment_read(f->st, shared, &b));
	pb_buf_dispose(&b);
}

static void test_store__attachment_gc_removes_orphans(void **state)
{
	struct fixture *f = *state;
	int64_t id = inbound(f->st, "mms2", PB_STORE_STORED);
	char kept[65];
	assert_pb_ok(pb_store_attachment_add(f->st, id, "keep me", 7, NULL, NULL, kept));
	/* what a crash can leave: a renamed file whose row never committed, and
	 * a temporary file */
	char orphan[65], p[700];
	assert_pb_ok(pb_store__sha256_hex("orphan", 6, orphan));
	snprintf(p, sizeof(p), "%s.attachments/%s", f->path, orphan);
	FILE *o = fopen(p, "w");
	fputs("orphan", o);
	fclose(o);
	snprintf(p, sizeof(p), "%s.attachments/.tmp-abc123", f->path);
	o = fopen(p, "w");
	fclose(o);
	snprintf(p, sizeof(p), "%s.attachments/README", f->path);
	o = fopen(p, "w");
	fclose(o);
	int64_t removed;
	assert_pb_ok(pb_store_attachment_gc(f->st, &removed));
	assert_int_equal(removed, 2);
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_store_attachment_read(f->st, kept, &b));
	assert_pb_error(pb_store_attachment_read(f->st, orphan, &b), PB_ENOTFOUND);
	assert_int_equal(access(p, F_OK), 0); /* not ours: left alone */
	pb_buf_dispose(&b);
}

/* --- SMS parts, kv ---------------------------------------------------------------------- */

struct part_seen {
	int n;
	char log[256];
};

static int collect_part(const pb_store_sms_part *p, void *ud)
{
	struct part_seen *s = ud;
	size_t l = strlen(s->log);
	snprintf(s->log + l, sizeof(s->log) - l, "%s/%d/%d/%d/%s/%zu;", p->group_key, p->reference,
		 p->seq, p->total, p->originator ? p->originator : "-", p->pdu_len);
	return ++s->n == 100 ? 7 : 0;
}

static void test_store__sms_parts_persist_idempotently(void **state)
{
	struct fixture *f = *state;
	const uint8_t pdu[] = { 0x07, 0x91, 0x44, 0x77 };
	pb_store_sms_part p = { "b|+44|9", "+447700900123", 9, 3, 2, pdu, sizeof(pdu), 1000 };
	assert_pb_ok(pb_store_sms_part_put(f->st, &p));
	assert_pb_error(pb_store_sms_part_put(f->st, &p), PB_EEXISTS);
	p.seq = 1;
	assert_pb_ok(pb_store_sms_part_put(f->st, &p));
	pb_store_sms_part q = { "a|+49|200", NULL, 200, 2, 2, pdu, 1, 5000 };
	assert_pb_ok(pb_store_sms_part_put(f->st, &q));
	struct part_seen seen = { 0, "" };
	assert_pb_ok(pb_store_sms_part_foreach(f->st, collect_part, &seen));
	assert_string_equal(seen.log, "a|+49|200/200/2/2/-/1;b|+44|9/9/1/3/+447700900123/4;"
				      "b|+44|9/9/2/3/+447700900123/4;");
	/* the callback's value stops the walk */
	seen.n = 99;
	assert_int_equal(pb_store_sms_part_foreach(f->st, collect_part, &seen), 7);

	int64_t removed;
	assert_pb_ok(pb_store_sms_part_expire(f->st, 2000, &removed));
	assert_int_equal(removed, 2); /* group b: newest part at 1000 */
	assert_pb_ok(pb_store_sms_part_delete_group(f->st, "a|+49|200"));
	assert_pb_ok(pb_store_sms_part_delete_group(f->st, "a|+49|200"));
	seen.n = 0;
	seen.log[0] = '\0';
	assert_pb_ok(pb_store_sms_part_foreach(f->st, collect_part, &seen));
	assert_int_equal(seen.n, 0);

	q.seq = 3;
	assert_pb_error(pb_store_sms_part_put(f->st, &q), PB_EINVAL);
	q.seq = 0;
	assert_pb_error(pb_store_sms_part_put(f->st, &q), PB_EINVAL);
	q.seq = 1;
	q.group_key = NULL;
	assert_pb_error(pb_store_sms_part_put(f->st, &q), PB_EINVAL);
}

static void test_store__kv_holds_sync_tokens(void **state)
{
	struct fixture *f = *state;
	char *v;
	assert_pb_error(pb_store_kv_get(f->st, "matrix.since", &v), PB_ENOTFOUND);
	assert_null(v);
	assert_pb_ok(pb_store_kv_set(f->st, "matrix.since", "s72594_4483_1934"));
	assert_pb_ok(pb_store_kv_set(f->st, "matrix.since", "s72595_4483_1934"));
	assert_pb_ok(pb_store_kv_get(f->st, "matrix.since", &v));
	assert_string_equal(v, "s72595_4483_1934");
	pb_free(v);
	assert_pb_ok(pb_store_kv_delete(f->st, "matrix.since"));
	assert_pb_error(pb_store_kv_get(f->st, "matrix.since", &v), PB_ENOTFOUND);
	assert_pb_error(pb_store_kv_set(f->st, NULL, "x"), PB_EINVAL);
}

/* Regression (issue 17): with SQLite's defaults the WAL grew to 4 MB and
 * kept that size; on a small disk the store checkpoints every 256 pages and
 * cuts the WAL back to 1 MiB (docs/store.md, "Disk use"). */
static void test_store__wal_stays_small(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pragma_int(f->st, "PRAGMA wal_autocheckpoint"), 256);
	assert_int_equal(pragma_int(f->st, "PRAGMA journal_size_limit"), 1048576);
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.synchronous = PB_STORE_SYNC_NORMAL; /* the fsyncs are not what is tested */
	pb_store *w;
	assert_pb_ok(pb_store_open(&w, f->path, &o));
	char value[4001], key[32];
	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	char wal[600];
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	off_t largest = 0;
	for (int i = 0; i < 2000; i++) { /* 8 MB written */
		snprintf(key, sizeof(key), "k%d", i % 100);
		assert_pb_ok(pb_store_kv_set(w, key, value));
		struct stat sb;
		if (stat(wal, &sb) == 0 && sb.st_size > largest)
			largest = sb.st_size;
	}
	pb_store_close(w);
	/* a checkpoint every 256 pages; one kv row spills over a page or two */
	assert_true(largest < 1536 * 1024);
}

/* --- contacts, groups --------------------------------------------------------------------- */

static void test_store__contacts_map_numbers_to_rooms(void **state)
{
	struct fixture *f = *state;
	assert_pb_ok(pb_store_contact_set(f->st, "+4930123456", "Anna", "!a:hs"));
	assert_pb_ok(pb_store_contact_set(f->st, "+33612345678", NULL, NULL));
	pb_store_contact *c;
	assert_pb_ok(pb_store_contact_get(f->st, "+4930123456", &c));
	assert_string_equal(c->display_name, "Anna");
	assert_string_equal(c->room, "!a:hs");
	pb_store_contact_free(c);
	assert_pb_ok(pb_store_contact_by_room(f->st, "!a:hs", &c));
	assert_string_equal(c->number, "+4930123456");
	pb_store_contact_free(c);
	assert_pb_ok(pb_store_contact_get(f->st, "+33612345678", &c));
	assert_null(c->display_name);
	assert_null(c->room);
	pb_store_contact_free(c);
	/* one room, one contact */
	assert_pb_error(pb_store_contact_set(f->st, "+33612345678", "B", "!a:hs"), PB_EEXISTS);
	assert_pb_ok(pb_store_contact_set(f->st, "+4930123456", "Anna K.", "!a2:hs"));
	assert_pb_error(pb_store_contact_by_room(f->st, "!a:hs", &c), PB_ENOTFOUND);
	assert_pb_ok(pb_store_contact_delete(f->st, "+4930123456"));
	assert_pb_error(pb_store_contact_delete(f->st, "+4930123456"), PB_ENOTFOUND);
	assert_pb_error(pb_store_contact_get(f->st, "+4930123456", &c), PB_ENOTFOUND);
	assert_pb_error(pb_store_contact_set(f->st, "", NULL, NULL), PB_EINVAL);
}

static void test_store__groups_are_sets_of_numbers(void **state)
{
	struct fixture *f = *state;
	const char *abc[] = { "+3", "+1", "+2", "+1" };
	const char *cba[] = { "+2", "+3", "+1" };
	const char *ab[] = { "+1", "+2" };
	assert_pb_ok(pb_store_group_set(f->st, abc, 4, "!g:hs"));
	pb_store_group *g;
	assert_pb_ok(pb_store_group_by_numbers(f->st, cba, 3, &g));
	assert_string_equal(g->room, "!g:hs");
	assert_int_equal(g->count, 3);
	assert_string_equal(g->numbers[0], "+1");
	assert_string_equal(g->numbers[2], "+3");
	pb_store_group_free(g);
	assert_pb_ok(pb_store_group_by_room(f->st, "!g:hs", &g));
	assert_int_equal(g->count, 3);
	pb_store_group_free(g);
	assert_pb_error(pb_store_group_by_numbers(f->st, ab, 2, &g), PB_ENOTFOUND);
	assert_null(g);
	assert_pb_error(pb_store_group_set(f->st, ab, 2, "!g:hs"), PB_EEXISTS);
	assert_pb_ok(pb_store_group_set(f->st, ab, 2, "!h:hs"));
	/* the same set again moves to a new room */
	assert_pb_ok(pb_store_group_set(f->st, cba, 3, "!g2:hs"));
	assert_pb_error(pb_store_group_by_room(f->st, "!g:hs", &g), PB_ENOTFOUND);
	assert_pb_ok(pb_store_group_by_numbers(f->st, abc, 4, &g));
	assert_string_equal(g->room, "!g2:hs");
	pb_store_group_free(g);
	assert_int_equal(pragma_int(f->st, "SELECT count(*) FROM group_members"), 5);
	assert_pb_error(pb_store_group_set(f->st, ab, 0, "!x:hs"), PB_EINVAL);
	const char *bad[] = { "+1", "" };
	assert_pb_error(pb_store_group_set(f->st, bad, 2, "!x:hs"), PB_EINVAL);
}

/* --- screening ------------------------------------------------------------------------------ */

static void test_store__lists_honour_expiry_and_source(void **state)
{
	struct fixture *f = *state;
	pb_store_list_entry e;
	assert_pb_error(pb_store_list_lookup(f->st, PB_STORE_ALLOW, "+15551234567", 0, &e), PB_ENOTFOUND);
	assert_pb_ok(pb_store_list_add(f->st, PB_STORE_ALLOW, "+15551234567", PB_STORE_SRC_CHALLENGE, 5000));
	assert_pb_ok(pb_store_list_add(f->st, PB_STORE_DENY, "+18005550000", PB_STORE_SRC_MANUAL, 0));
	assert_pb_ok(pb_store_list_lookup(f->st, PB_STORE_ALLOW, "+15551234567", 4999, &e));
	assert_int_equal(e.source, PB_STORE_SRC_CHALLENGE);
	assert_int_equal(e.expires_at, 5000);
	assert_int_equal(e.list, PB_STORE_ALLOW);
	assert_string_equal(pb_store_source_name(e.source), "challenge");
	assert_pb_error(pb_store_list_lookup(f->st, PB_STORE_ALLOW, "+15551234567", 5000, &e), PB_ENOTFOUND);
	assert_pb_error(pb_store_list_lookup(f->st, PB_STORE_DENY, "+15551234567", 1, NULL), PB_ENOTFOUND);
	assert_pb_ok(pb_store_list_lookup(f->st, PB_STORE_DENY, "+18005550000", 0, NULL));
	/* re-adding replaces: a passed challenge made permanent by hand */
	assert_pb_ok(pb_store_list_add(f->st, PB_STORE_ALLOW, "+15551234567", PB_STORE_SRC_MANUAL, 0));
	assert_pb_ok(pb_store_list_lookup(f->st, PB_STORE_ALLOW, "+15551234567", 9999999, &e));
	assert_int_equal(e.source, PB_STORE_SRC_MANUAL);
	assert_pb_ok(pb_store_list_add(f->st, PB_STORE_ALLOW, "+4930", PB_STORE_SRC_OUTGOING, 100));
	int64_t removed;
	assert_pb_ok(pb_store_list_expire(f->st, 200, &removed));
	assert_int_equal(removed, 1);
	assert_pb_ok(pb_store_list_remove(f->st, PB_STORE_DENY, "+18005550000"));
	assert_pb_error(pb_store_list_remove(f->st, PB_STORE_DENY, "+18005550000"), PB_ENOTFOUND);
	assert_pb_error(pb_store_list_add(f->st, 3, "+1", PB_STORE_SRC_MANUAL, 0), PB_EINVAL);
	assert_pb_error(pb_store_list_add(f->st, PB_STORE_DENY, "+1", 0, 0), PB_EINVAL);
}

struct page {
	char numbers[8][32];
	int n;
	int stop_at;
};

static int collect_page(const char *number, const pb_store_list_entry *e, void *ud)
{
	struct page *p = ud;
	assert_int_equal(e->list, PB_STORE_DENY);
	snprintf(p->numbers[p->n++], sizeof(p->numbers[0]), "%s", number);
	return p->n == p->stop_at ? 42 : 0;
}

static void test_store__list_pages_in_number_order(void **state)
{
	struct fixture *f = *state;
	const char *nums[] = { "+4930123456", "+15551234567", "+18005550000", "+33123456789" };
	for (int i = 0; i < 4; i++)
		assert_pb_ok(pb_store_list_add(f->st, PB_STORE_DENY, nums[i], PB_STORE_SRC_MANUAL, i == 3 ? 10 : 0));
	assert_pb_ok(pb_store_list_add(f->st, PB_STORE_ALLOW, "+1000000000", PB_STORE_SRC_MANUAL, 0));
	struct page p = { .stop_at = -1 };
	assert_pb_ok(pb_store_list_foreach(f->st, PB_STORE_DENY, NULL, 2, 100, collect_page, &p));
	assert_int_equal(p.n, 2);
	assert_string_equal(p.numbers[0], "+15551234567");
	assert_string_equal(p.numbers[1], "+18005550000");
	/* the next page after the last number seen; the expired entry is left out */
	assert_pb_ok(pb_store_list_foreach(f->st, PB_STORE_DENY, p.numbers[1], 2, 100, collect_page, &p));
	assert_int_equal(p.n, 3);
	assert_string_equal(p.numbers[2], "+4930123456");
	/* a callback stops the walk with its value */
	struct page q = { .stop_at = 1 };
	assert_int_equal(pb_store_list_foreach(f->st, PB_STORE_DENY, "", 0, 5, collect_page, &q), 42);
	assert_int_equal(q.n, 1);
	assert_pb_error(pb_store_list_foreach(f->st, 9, NULL, 0, 0, collect_page, &q), PB_EINVAL);
	assert_pb_error(pb_store_list_foreach(f->st, PB_STORE_DENY, NULL, 0, 0, NULL, NULL), PB_EINVAL);
}

/* Two daemons, two users, one group: the modes that let both in (docs/store.md) */
static void test_store__group_shared_modes(void **state)
{
	struct fixture *f = *state;
	char path[600], dir[700];
	snprintf(path, sizeof(path), "%s/shared.db", f->dir);
	snprintf(dir, sizeof(dir), "%s.attachments", path);
	mode_t old = umask(077); /* the group's bits are set all the same */
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.group_shared = true;
	pb_store *st;
	assert_pb_ok(pb_store_open(&st, path, &o));
	umask(old);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0660);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 02770);
	char hash[65];
	int64_t id = inbound(st, "1", PB_STORE_STORED);
	assert_pb_ok(pb_store_attachment_add(st, id, "voice", 5, "audio/wav", "vm.wav", hash));
	char file[800];
	snprintf(file, sizeof(file), "%s/%s", dir, hash);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	char wal[700];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(stat(wal, &sb), 0); /* SQLite gives it the database's mode */
	assert_int_equal(sb.st_mode & 0777, 0660);
	pb_store_close(st);
	/* no option: a store in a 2770 directory is shared all the same */
	char sdir[600], spath[700];
	snprintf(sdir, sizeof(sdir), "%s/phonebridge", f->dir);
	assert_int_equal(mkdir(sdir, 0700), 0);
	assert_int_equal(chmod(sdir, 02770), 0);
	snprintf(spath, sizeof(spath), "%s/phone.db", sdir);
	old = umask(077);
	assert_pb_ok(pb_store_open(&st, spath, NULL));
	umask(old);
	assert_int_equal(stat(spath, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0660);
	pb_store_close(st);
	/* a version 1 options struct (a caller built before group_shared) still opens */
	struct { int version, synchronous, busy; const char *att; } v1 = { 1, PB_STORE_SYNC_NORMAL, 500, NULL };
	assert_pb_ok(pb_store_open(&st, path, (const pb_store_options *)(void *)&v1));
	pb_store_close(st);
	/* never through a symbolic link */
	char link[700];
	snprintf(link, sizeof(link), "%s/link.db", f->dir);
	assert_int_equal(symlink(path, link), 0);
	assert_pb_error(pb_store_open(&st, link, &o), PB_EIO);
	assert_pb_error(pb_store_open(&st, link, NULL), PB_EIO);
}

static void test_store__attempts_count_in_a_window(void **state)
{
	struct fixture *f = *state;
	const char *n = "+12025550123";
	assert_pb_ok(pb_store_attempt_record(f->st, n, 1000, true));
	assert_pb_ok(pb_store_attempt_record(f->st, n, 2000, false));
	assert_pb_ok(pb_store_attempt_record(f->st, n, 3000, true));
	assert_pb_ok(pb_store_attempt_record(f->st, "+1999", 3000, true));
	int64_t c;
	assert_pb_ok(pb_store_attempt_count(f->st, n, 0, false, &c));
	assert_int_equal(c, 3);
	assert_pb_ok(pb_store_attempt_count(f->st, n, 0, true, &c));
	assert_int_equal(c, 2);
	assert_pb_ok(pb_store_attempt_count(f->st, n, 2000, true, &c));
	assert_int_equal(c, 1);
	assert_pb_ok(pb_store_attempt_count(f->st, n, 3001, false, &c));
	assert_int_equal(c, 0);
	int64_t removed;
	assert_pb_ok(pb_store_attempt_prune(f->st, 2500, &removed));
	assert_int_equal(removed, 2);
	assert_pb_ok(pb_store_attempt_count(f->st, n, 0, false, &c));
	assert_int_equal(c, 1);
	assert_pb_error(pb_store_attempt_record(f->st, NULL, 0, false), PB_EINVAL);
}

static void test_store__call_log_keeps_calls(void **state)
{
	struct fixture *f = *state;
	pb_store_call c = { 0, 1000, "+12025550123", "A", "accept", NULL, 65000, "sip:me@pbx",
			    "sip:+15550100000@screen", "allow-list", 200, "forwarded", NULL, 0 };
	int64_t id1, id2;
	assert_pb_ok(pb_store_call_log(f->st, &c, &id1));
	pb_store_call d = { 0, 2000, NULL, "none", "challenge", "dtmf:failed", 0, NULL, NULL, NULL, 0, NULL, NULL, 0 };
	assert_pb_ok(pb_store_call_log(f->st, &d, &id2));
	pb_store_call e = { 0 }; /* now, all unknown */
	assert_pb_ok(pb_store_call_log(f->st, &e, NULL));
	pb_store_call_list *l;
	assert_pb_ok(pb_store_call_recent(f->st, 2, &l));
	assert_int_equal(l->count, 2);
	assert_true(l->items[0].at > 1600000000000LL);
	assert_null(l->items[0].caller);
	assert_null(l->items[0].verdict);
	assert_int_equal(l->items[1].id, id2);
	assert_null(l->items[1].caller);
	assert_string_equal(l->items[1].challenge, "dtmf:failed");
	pb_store_call_list_free(l);
	/* a follower's queue: oldest first, after the last id seen */
	assert_pb_ok(pb_store_call_after(f->st, 0, 2, &l));
	assert_int_equal(l->count, 2);
	assert_int_equal(l->items[0].id, id1);
	assert_int_equal(l->items[1].id, id2);
	pb_store_call_list_free(l);
	assert_pb_ok(pb_store_call_after(f->st, id2, 0, &l));
	assert_int_equal(l->count, 1);
	assert_true(l->items[0].id > id2);
	pb_store_call_list_free(l);
	assert_pb_ok(pb_store_call_recent(f->st, 0, &l));
	assert_int_equal(l->count, 3);
	assert_int_equal(l->items[2].id, id1);
	assert_string_equal(l->items[2].caller, "+12025550123");
	assert_string_equal(l->items[2].attestation, "A");
	assert_string_equal(l->items[2].forward_target, "sip:me@pbx");
	assert_int_equal(l->items[2].duration_ms, 65000);
	assert_string_equal(l->items[2].called, "sip:+15550100000@screen");
	assert_string_equal(l->items[2].rule, "allow-list");
	assert_int_equal(l->items[2].sip_status, 200);
	assert_string_equal(l->items[2].ended, "forwarded");
	assert_null(l->items[1].rule);
	assert_int_equal(l->items[1].sip_status, 0);
	assert_null(l->items[2].source);
	assert_int_equal(l->items[2].count, 1); /* 0 when logged means one call */
	pb_store_call_list_free(l);
	/* schema 6: the source address, and a row standing for many refusals */
	pb_store_call g = { .verdict = "reject", .rule = "source-not-allowed", .sip_status = 403,
			    .source = "192.0.2.7:5060", .count = 41 };
	assert_pb_ok(pb_store_call_log(f->st, &g, &id1));
	assert_pb_ok(pb_store_call_recent(f->st, 1, &l));
	assert_int_equal(l->items[0].id, id1);
	assert_string_equal(l->items[0].source, "192.0.2.7:5060");
	assert_string_equal(l->items[0].rule, "source-not-allowed");
	assert_int_equal(l->items[0].count, 41);
	pb_store_call_list_free(l);
	g.count = -1;
	assert_pb_error(pb_store_call_log(f->st, &g, NULL), PB_EINVAL);
	c.duration_ms = -1;
	assert_pb_error(pb_store_call_log(f->st, &c, NULL), PB_EINVAL);
}

/* Counts per day, the part both backends share: the window's checks, the
 * counts zeroed, each row into its day's bucket, rows outside ignored. */
static void test_store__days_bucket_rows(void **state)
{
	(void)state;
	const int64_t day = 86400000LL;
	int64_t c[4] = { 7, 7, 7, 7 };
	pb_store_days d;
	assert_pb_ok(pb_store__days_begin(&d, 5 * day, 3, c));
	assert_true(d.day0_ms == 5 * day && d.end_ms == 8 * day && d.days == 3);
	assert_true(c[0] == 0 && c[1] == 0 && c[2] == 0 && c[3] == 7); /* only the window's days */
	pb_store__days_put(&d, 0, 2);
	pb_store__days_put(&d, 2, 5);
	pb_store__days_put(&d, -1, 9); /* before the window */
	pb_store__days_put(&d, 3, 9);  /* after it */
	assert_true(c[0] == 2 && c[1] == 0 && c[2] == 5 && c[3] == 7);
	assert_pb_error(pb_store__days_begin(&d, 0, 0, c), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "0 days (1 to 366)"));
	assert_pb_error(pb_store__days_begin(&d, 0, PB_STORE_DAILY_MAX + 1, c), PB_EINVAL);
	assert_pb_error(pb_store__days_begin(&d, -1, 1, c), PB_EINVAL);
	assert_pb_error(pb_store__days_begin(&d, INT64_MAX - day + 1, 1, c), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "first day out of range"));
	assert_pb_ok(pb_store__days_begin(&d, INT64_MAX - day, 1, c));
}

/* Calls per day for the status pages, on either backend: by the time they
 * began, a row of aggregated refusals counting as its calls, the edges of
 * the window and of its days, the window's checks. */
static void test_store__call_daily_counts(void **state)
{
	struct fixture *f = *state;
	const int64_t day = 86400000LL, day0 = 1000 * day;
	int64_t at[] = { day0 - 1, day0, day0 + 5, day0 + day, day0 + 2 * day + 7, day0 + 3 * day - 1, day0 + 3 * day };
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		pb_store_call c = { 0 };
		c.at = at[i];
		c.count = i == 4 ? 3 : 0;
		assert_pb_ok(pb_store_call_log(f->st, &c, NULL));
	}
	int64_t n[4] = { -1, -1, -1, 42 };
	assert_pb_ok(pb_store_call_daily(f->st, day0, 3, n));
	assert_int_equal(n[0], 2);
	assert_int_equal(n[1], 1);
	assert_int_equal(n[2], 4);
	assert_int_equal(n[3], 42);
	assert_pb_ok(pb_store_call_daily(f->st, day0 + 4 * day, 2, n)); /* no call: zeroes */
	assert_true(n[0] == 0 && n[1] == 0);
	assert_pb_error(pb_store_call_daily(f->st, day0, 0, n), PB_EINVAL);
	assert_pb_error(pb_store_call_daily(f->st, day0, PB_STORE_DAILY_MAX + 1, n), PB_EINVAL);
	assert_pb_error(pb_store_call_daily(f->st, INT64_MAX - 5, 1, n), PB_EINVAL);
}

/* Journal rows per day (SQLite): by the time they reached a state, by
 * direction, state and backend pattern. */
static void test_store__msg_daily_counts(void **state)
{
	struct fixture *f = *state;
	const int64_t day = 86400000LL;
	/* journal rows: today (updated now), by direction, state and backend */
	const char *backends[] = { "hilink", "hilink:report", "hilink" };
	for (int i = 0; i < 3; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		pb_store_msg_in in = PB_STORE_MSG_IN_INIT;
		in.dir = PB_STORE_INBOUND;
		in.state = PB_STORE_STORED;
		in.dedup_key = key;
		in.backend = backends[i];
		int64_t id;
		assert_pb_ok(pb_store_msg_insert(f->st, &in, &id));
		if (i < 2)
			assert_pb_ok(pb_store_msg_transition(f->st, id, PB_STORE_DELIVERED, NULL, NULL));
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t today = ((int64_t)ts.tv_sec * 1000 / day) * day, m[2];
	assert_pb_ok(pb_store_msg_daily(f->st, PB_STORE_INBOUND, PB_STORE_DELIVERED, NULL, today - day, 2, m));
	assert_int_equal(m[0], 0);
	assert_int_equal(m[1], 2);
	assert_pb_ok(pb_store_msg_daily(f->st, PB_STORE_INBOUND, PB_STORE_DELIVERED, "hilink", today, 1, m));
	assert_int_equal(m[0], 1);
	assert_pb_ok(pb_store_msg_daily(f->st, PB_STORE_INBOUND, PB_STORE_STORED, "*", today, 1, m));
	assert_int_equal(m[0], 1);
	assert_pb_ok(pb_store_msg_daily(f->st, PB_STORE_OUTBOUND, PB_STORE_SENT, NULL, today, 1, m));
	assert_int_equal(m[0], 0);
	assert_pb_error(pb_store_msg_daily(f->st, 1, 3, NULL, INT64_MAX - 5, 1, m), PB_EINVAL);
}

struct numbers_seen {
	char list[256];
};

static int see_number(const pb_store_number *n, void *ud)
{
	struct numbers_seen *w = ud;
	size_t len = strlen(w->list);
	snprintf(w->list + len, sizeof(w->list) - len, "%s%s", len ? "," : "", n->number);
	return 0;
}

static void test_store__numbers_hold_per_number_settings(void **state)
{
	struct fixture *f = *state;
	pb_store_number *n;
	assert_pb_error(pb_store_number_get(f->st, "+15550100001", &n), PB_ENOTFOUND);
	assert_null(n);
	pb_store_number a = { "+15550100001", "challenge=arithmetic; region=US", "sip:sales@pbx", "sip:vm@pbx", 0 };
	assert_pb_ok(pb_store_number_set(f->st, &a));
	pb_store_number b = { "+15550100000", NULL, "sip:desk@pbx, sip:mobile@pbx", "", 0 };
	assert_pb_ok(pb_store_number_set(f->st, &b));
	assert_pb_ok(pb_store_number_get(f->st, "+15550100001", &n));
	assert_string_equal(n->number, "+15550100001");
	assert_string_equal(n->policy, "challenge=arithmetic; region=US");
	assert_string_equal(n->forward_target, "sip:sales@pbx");
	assert_string_equal(n->voicemail, "sip:vm@pbx");
	assert_true(n->updated_at > 1600000000000LL);
	pb_store_number_free(n);
	/* "" keeps the default: stored as nothing */
	assert_pb_ok(pb_store_number_get(f->st, "+15550100000", &n));
	assert_null(n->policy);
	assert_null(n->voicemail);
	assert_string_equal(n->forward_target, "sip:desk@pbx, sip:mobile@pbx");
	pb_store_number_free(n);
	/* setting again replaces every field */
	a.policy = NULL;
	assert_pb_ok(pb_store_number_set(f->st, &a));
	assert_pb_ok(pb_store_number_get(f->st, "+15550100001", &n));
	assert_null(n->policy);
	pb_store_number_free(n);
	struct numbers_seen w = { "" };
	assert_pb_ok(pb_store_number_foreach(f->st, NULL, 0, see_number, &w));
	assert_string_equal(w.list, "+15550100000,+15550100001");
	struct numbers_seen w2 = { "" };
	assert_pb_ok(pb_store_number_foreach(f->st, "+15550100000", 5, see_number, &w2));
	assert_string_equal(w2.list, "+15550100001");
	assert_pb_ok(pb_store_number_remove(f->st, "+15550100001"));
	assert_pb_error(pb_store_number_remove(f->st, "+15550100001"), PB_ENOTFOUND);
	assert_pb_error(pb_store_number_get(f->st, "+15550100001", &n), PB_ENOTFOUND);
	pb_store_number bad = { "", NULL, NULL, NULL, 0 };
	assert_pb_error(pb_store_number_set(f->st, &bad), PB_EINVAL);
}

/* --- migrations -------------------------------------------------------------------------- */

/* Columns and indexes of every table, as text, to compare two schemas. */
static void schema_text(pb_store *st, pb_buf *out)
{
	sqlite3_stmt *t;
	assert_int_equal(sqlite3_prepare_v2(st->db,
		"SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1, &t, NULL), SQLITE_OK);
	while (sqlite3_step(t) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(t, 0);
		pb_buf_printf(out, "table %s:", name);
		char sql[256];
		snprintf(sql, sizeof(sql), "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('%s') ORDER BY name", name);
		sqlite3_stmt *c;
		assert_int_equal(sqlite3_prepare_v2(st->db, sql, -1, &c, NULL), SQLITE_OK);
		while (sqlite3_step(c) == SQLITE_ROW)
			pb_buf_printf(out, " %s %s %d %s %d;", sqlite3_column_text(c, 0), sqlite3_column_text(c, 1),
				      sqlite3_column_int(c, 2),
				      sqlite3_column_text(c, 3) ? (const char *)sqlite3_column_text(c, 3) : "-",
				      sqlite3_column_int(c, 4));
		sqlite3_finalize(c);
		pb_buf_puts(out, "\n");
	}
	sqlite3_finalize(t);
	assert_int_equal(sqlite3_prepare_v2(st->db,
		"SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name", -1, &t, NULL), SQLITE_OK);
	while (sqlite3_step(t) == SQLITE_ROW)
		pb_buf_printf(out, "index %s on %s: %s\n", sqlite3_column_text(t, 0), sqlite3_column_text(t, 1),
			      sqlite3_column_text(t, 2) ? (const char *)sqlite3_column_text(t, 2) : "(auto)");
	sqlite3_finalize(t);
}

/* Rows that schema version @v can hold, written with plain SQL as an old
 * release would have. */
static void fill_version(pb_store *st, int v)
{
	const char *sql[] = {
		NULL,
		"INSERT INTO messages (dir, state, dedup_key, peer, body, attempts, created_at, updated_at) "
		"VALUES (2, 5, 'event:$old', '+4930123', 'old body', 1, 1, 2);"
		"INSERT INTO kv VALUES ('since', 's1', 1);"
		"INSERT INTO sms_parts VALUES ('g', 1, '+49', 7, 2, x'0102', 1);",
		"INSERT INTO contacts VALUES ('+4930123', 'Old', '!old:hs', 1);"
		"INSERT INTO attachments VALUES (1, 0, '982d9e3eb996f559e633f4d194def3761d909f5a3b647d1a851fead67c32c9d1', 4, 'text/plain', NULL);",
		"INSERT INTO screen_list VALUES (1, '+4930123', 3, 1, 0);"
		"INSERT INTO calls (at, caller, verdict) VALUES (5, '+4930123', 'accept');",
	};
	for (int i = 1; i <= v && i < (int)PB_ARRAY_SIZE(sql); i++)
		assert_int_equal(sqlite3_exec(st->db, sql[i], NULL, NULL, NULL), SQLITE_OK);
}

static void test_store__migrates_from_every_earlier_version(void **state)
{
	struct fixture *f = *state;
	pb_buf want = PB_BUF_INIT;
	schema_text(f->st, &want);
	for (int v = 1; v < PB_STORE_SCHEMA_VERSION; v++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/v%d.db", f->dir, v);
		pb_store *old;
		assert_pb_ok(pb_store__open_at(&old, path, NULL, v));
		assert_int_equal(pragma_int(old, "PRAGMA user_version"), v);
		fill_version(old, v);
		pb_store_close(old);

		pb_store *st;
		assert_pb_ok(pb_store_open(&st, path, NULL));
		assert_int_equal(pb_store_schema_version(st), PB_STORE_SCHEMA_VERSION);
		assert_pb_ok(pb_store_check(st));
		pb_buf got = PB_BUF_INIT;
		schema_text(st, &got);
		if (strcmp(pb_buf_cstr(&got), pb_buf_cstr(&want)) != 0)
			fail_msg("schema migrated from %d differs:\n%s\nwanted:\n%s", v, pb_buf_cstr(&got),
				 pb_buf_cstr(&want));
		pb_buf_dispose(&got);
		/* the old rows survived and work with today's API */
		pb_store_msg *m;
		assert_pb_ok(pb_store_msg_find(st, PB_STORE_OUTBOUND, "event:$old", &m));
		assert_string_equal(m->body, "old body");
		assert_null(m->ref);
		int64_t id = m->id;
		pb_store_msg_free(m);
		int64_t n;
		assert_pb_ok(pb_store_msg_recover(st, &n));
		assert_int_equal(n, 1);
		assert_pb_ok(pb_store_msg_transition(st, id, PB_STORE_SENT, "mr=1", NULL));
		char *val;
		assert_pb_ok(pb_store_kv_get(st, "since", &val));
		assert_string_equal(val, "s1");
		pb_free(val);
		if (v >= 2) {
			pb_store_contact *c;
			assert_pb_ok(pb_store_contact_by_room(st, "!old:hs", &c));
			pb_store_contact_free(c);
		}
		if (v >= 3)
			assert_pb_ok(pb_store_list_lookup(st, PB_STORE_ALLOW, "+4930123", 0, NULL));
		pb_store_close(st);
	}
	pb_buf_dispose(&want);
}

/* --- allocation failures ------------------------------------------------------------------- */

static int alloc_scenario(void *ctx)
{
	struct fixture *f = ctx;
	pb_store *st = NULL;
	pb_store_msg *m = NULL;
	pb_store_msg_list *l = NULL;
	pb_store_contact *c = NULL;
	pb_store_group *g = NULL;
	pb_store_attachment_list *al = NULL;
	pb_store_call_list *cl = NULL;
	char *v = NULL;
	const char *nums[] = { "+1", "+2" };
	pb_buf b = PB_BUF_INIT;
	int rc = pb_store_open(&st, f->path, NULL);
	if (rc == 0)
		rc = pb_store_msg_find(st, PB_STORE_INBOUND, "hilink:a1", &m);
	if (rc == 0)
		rc = pb_store_msg_list_state(st, PB_STORE_INBOUND, PB_STORE_STORED, 0, 0, &l);
	if (rc == 0)
		rc = pb_store_contact_get(st, "+1", &c);
	if (rc == 0)
		rc = pb_store_group_by_numbers(st, nums, 2, &g);
	if (rc == 0)
		rc = pb_store_attachment_list_get(st, m->id, &al);
	if (rc == 0)
		rc = pb_store_attachment_read(st, al->items[0].sha256, &b);
	if (rc == 0)
		rc = pb_store_call_recent(st, 0, &cl);
	if (rc == 0)
		rc = pb_store_kv_get(st, "k", &v);
	pb_free(v);
	pb_buf_dispose(&b);
	pb_store_call_list_free(cl);
	pb_store_attachment_list_free(al);
	pb_store_group_free(g);
	pb_store_contact_free(c);
	pb_store_msg_list_free(l);
	pb_store_msg_free(m);
	pb_store_close(st);
	return rc;
}

static void test_store__allocation_failures_are_clean(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 20; i++) {
		char k[8];
		snprintf(k, sizeof(k), "a%d", i);
		inbound(f->st, k, PB_STORE_STORED);
	}
	pb_store_msg *m;
	assert_pb_ok(pb_store_msg_find(f->st, PB_STORE_INBOUND, "hilink:a1", &m));
	assert_pb_ok(pb_store_attachment_add(f->st, m->id, "abc", 3, "text/plain", "a.txt", NULL));
	assert_pb_ok(pb_store_attachment_add(f->st, m->id, "def", 3, NULL, NULL, NULL));
	pb_store_msg_free(m);
	assert_pb_ok(pb_store_contact_set(f->st, "+1", "One", "!1:hs"));
	const char *nums[] = { "+2", "+1" };
	assert_pb_ok(pb_store_group_set(f->st, nums, 2, "!12:hs"));
	pb_store_call c = { 0, 1, "+1", "A", "accept", NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, 0 };
	for (int i = 0; i < 20; i++)
		assert_pb_ok(pb_store_call_log(f->st, &c, NULL));
	assert_pb_ok(pb_store_kv_set(f->st, "k", "v"));
	unsigned long sites = pb_test_alloc_fail_each(alloc_scenario, f, NULL);
	assert_true(sites >= 10);

	/* writes too: keys and the group's member list are built in memory */
	pb_store_msg_in in = PB_STORE_MSG_IN_INIT;
	in.dir = PB_STORE_INBOUND;
	in.state = PB_STORE_STORED;
	in.body = "content hashed";
	for (unsigned long n = 1;; n++) {
		pb_test_alloc_install(n);
		int rc = pb_store_msg_insert(f->st, &in, NULL);
		if (rc == 0 || rc == PB_EEXISTS)
			rc = pb_store_group_set(f->st, nums, 2, "!12:hs");
		bool failed = pb_test_alloc_attempts() >= n;
		long left = pb_test_alloc_outstanding();
		pb_test_alloc_uninstall();
		assert_int_equal(left, 0);
		if (!failed) {
			assert_int_equal(rc, 0);
			break;
		}
		assert_int_equal(rc, PB_ENOMEM);
	}
}

/* --- E.164 normalisation ------------------------------------------------------------------- */

static void expect_phone(const char *in, const char *region, const char *want, int kind)
{
	char out[PB_PHONE_MAX];
	pb_phone_kind k;
	int rc = pb_phone_normalize(out, sizeof(out), in, region, &k);
	if (rc != 0 || strcmp(out, want) != 0 || (int)k != kind)
		fail_msg("%s in %s: got %s (%s, kind %d), want %s kind %d", in, region ? region : "-", out,
			 pb_error_name(rc), (int)k, want, kind);
}

static void test_store__phone_normalises_to_e164(void **state)
{
	(void)state;
	const int E = PB_PHONE_E164, S = PB_PHONE_SHORT, A = PB_PHONE_ALPHANUMERIC;
	/* NANP: 011 international, 1 trunk prefix */
	expect_phone("(202) 555-0123", "US", "+12025550123", E);
	expect_phone("1-202-555-0123", "us", "+12025550123", E);
	expect_phone("011 44 20 7946 0958", "US", "+442079460958", E);
	expect_phone("+1 (416) 555-0199", "CA", "+14165550199", E);
	/* trunk prefix 0 */
	expect_phone("020 7946 0958", "GB", "+442079460958", E);
	expect_phone("0044 (0)20 7946 0958", "DE", "+442079460958", E);
	expect_phone("+44 (0) 20 7946 0958", NULL, "+442079460958", E);
	expect_phone("030/1234567", "DE", "+49301234567", E);
	expect_phone("0151 12345678", "DE", "+4915112345678", E);
	expect_phone("06 12 34 56 78", "FR", "+33612345678", E);
	expect_phone("612345678", "FR", "+33612345678", E);
	expect_phone("03-1234-5678", "JP", "+81312345678", E);
	expect_phone("010 49 30 1234567", "JP", "+49301234567", E);
	expect_phone("0412 345 678", "AU", "+61412345678", E);
	expect_phone("0011 1 202 555 0123", "AU", "+12025550123", E);
	expect_phone("098765 43210", "IN", "+919876543210", E);
	/* Brazil: carrier selection codes after 0 and after 00 */
	expect_phone("0 15 11 96123-4567", "BR", "+5511961234567", E);
	expect_phone("(11) 96123-4567", "BR", "+5511961234567", E);
	expect_phone("0021 49 30 1234567", "BR", "+49301234567", E);
	/* no trunk prefix: Italy keeps its 0, Poland has none */
	expect_phone("06 1234 5678", "IT", "+390612345678", E);
	expect_phone("+39 06 1234 5678", "DE", "+390612345678", E);
	expect_phone("312 345 6789", "IT", "+393123456789", E);
	expect_phone("512 345 678", "PL", "+48512345678", E);
	expect_phone("0048 512 345 678", "PL", "+48512345678", E);
	/* country code without "+", as SIP trunks send it */
	expect_phone("33612345678", "FR", "+33612345678", E);
	expect_phone("44 20 7946 0958", "GB", "+442079460958", E);
	/* short codes and sender names stay as they are */
	expect_phone("72404", "GB", "72404", S);
	expect_phone("112", "DE", "112", S);
	expect_phone("*100#", "DE", "*100#", S);
	expect_phone("Vodafone", "DE", "Vodafone", A);
	expect_phone("1-800-FLOWERS", "US", "1-800-FLOWERS", A);
	expect_phone("Müller", NULL, "Müller", A);
	expect_phone("+49 30 1234567", "ZZ", "+49301234567", E);

	char out[PB_PHONE_MAX];
	assert_pb_error(pb_phone_normalize(out, sizeof(out), "", "DE", NULL), PB_EMALFORMED);
	assert_pb_error(pb_phone_normalize(out, sizeof(out), " - ", "DE", NULL), PB_EMALFORMED);
	assert_pb_error(pb_phone_normalize(out, sizeof(out), "++49301234567", "DE", NULL), PB_EMALFORMED);
	assert_pb_error(pb_phone_normalize(out, sizeof(out), "030+1234567", "DE", NULL), PB_EMALFORMED);
	assert_pb_error(pb_phone_normalize(out, sizeof(out), "+0301234567", "DE", NULL), PB_EMALFORMED);
	assert_pb_error(pb_phone_normalize(out, sizeof(out), "+1234", "DE", NULL), PB_EMALFORMED);
	assert_pb_error(pb_phone_normalize(out, sizeof(out), "+1234567890123456", "DE", NULL), PB_EMALFORMED);
	assert_pb_error(pb_phone_normalize(out, sizeof(out), "030;1234567", "DE", NULL), PB_EMALFORMED);
	assert_pb_error(pb_phone_normalize(out, sizeof(out), "030\n1234567", "DE", NULL), PB_EMALFORMED);
	assert_string_equal(out, "");
	assert_pb_error(pb_phone_normalize(out, sizeof(out), "0301234567", "ZZ", NULL), PB_EUNSUPPORTED);
	assert_pb_error(pb_phone_normalize(out, sizeof(out), "0301234567", NULL, NULL), PB_EUNSUPPORTED);
	assert_pb_error(pb_phone_normalize(out, sizeof(out), "0612345678901", "FR", NULL), PB_ERANGE);
	assert_pb_error(pb_phone_normalize(out, 8, "+49301234567", "DE", NULL), PB_ETOOBIG);
	assert_pb_error(pb_phone_normalize(out, 4, "Vodafone", "DE", NULL), PB_ETOOBIG);
	assert_pb_error(pb_phone_normalize(NULL, 4, "1", "DE", NULL), PB_EINVAL);
	assert_pb_error(pb_phone_normalize(out, sizeof(out), NULL, "DE", NULL), PB_EINVAL);
	assert_int_equal(pb_phone_country_code("it"), 39);
	assert_int_equal(pb_phone_country_code("CA"), 1);
	assert_int_equal(pb_phone_country_code("XX"), PB_EUNSUPPORTED);

	/* for display: the country code apart, NANP in its 3-3-4 groups */
	char pretty[PB_PHONE_MAX];
	static const char *const fmt[][2] = {
		{ "+4915177778888", "+49 15177778888" }, { "+14155550123", "+1 415 555 0123" },
		{ "+442079460958", "+44 2079460958" },   { "+353861234567", "+353 861234567" },
		{ "+420601123456", "+420 601123456" },   { "+79161234567", "+79161234567" }, /* not in the table */
		{ "+1555012", "+1 555012" },             /* NANP, but not 10 digits: no groups */
		{ "33123", "33123" },                    { "Vodafone", "Vodafone" },
		{ "+49", "+49" },                        { "+4915177778888x", "+4915177778888x" },
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		assert_pb_ok(pb_phone_format(pretty, sizeof(pretty), fmt[i][0]));
		assert_string_equal(pretty, fmt[i][1]);
	}
	assert_pb_error(pb_phone_format(pretty, 15, "+4915177778888"), PB_ETOOBIG);
	assert_string_equal(pretty, "");
	assert_pb_ok(pb_phone_format(pretty, 16, "+4915177778888"));
	assert_pb_error(pb_phone_format(NULL, 16, "+49"), PB_EINVAL);
	assert_pb_error(pb_phone_format(pretty, 16, NULL), PB_EINVAL);
	assert_int_equal(pb_phone_country_code(NULL), PB_EUNSUPPORTED);
}

/* --- backup --------------------------------------------------------------------- */

static void test_store__backup_is_a_consistent_copy_with_attachments(void **state)
{
	struct fixture *f = *state;
	int64_t a = inbound(f->st, "1", PB_STORE_STORED);
	char h[65];
	assert_pb_ok(pb_store_attachment_add(f->st, a, "picture bytes", 13, "image/jpeg", "p.jpg", h));
	assert_pb_ok(pb_store_kv_set(f->st, "k", "v"));
	/* another handle is in the middle of a write: the copy has what was committed */
	pb_store *w;
	assert_pb_ok(pb_store_open(&w, f->path, NULL));
	assert_pb_ok(pb_store_begin(w));
	int64_t b = inbound(w, "2", PB_STORE_STORED);
	char dest[600], path[700];
	snprintf(dest, sizeof(dest), "%s/copy.db", f->dir);
	size_t n = 99;
	assert_pb_ok(pb_store_backup(f->st, dest, &n));
	assert_pb_ok(pb_store_commit(w));
	pb_store_close(w);
	assert_int_equal(n, 1);
	struct stat sb;
	assert_int_equal(stat(dest, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s-wal", dest);
	assert_int_equal(stat(path, &sb), -1); /* one file: its WAL folded in */
	snprintf(path, sizeof(path), "%s.attachments/%s", dest, h);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	pb_store *c;
	assert_pb_ok(pb_store_open(&c, dest, NULL));
	assert_pb_ok(pb_store_check(c));
	pb_store_msg *m;
	assert_pb_ok(pb_store_msg_get(c, a, &m));
	pb_store_msg_free(m);
	assert_pb_error(pb_store_msg_get(c, b, &m), PB_ENOTFOUND);
	pb_buf data = PB_BUF_INIT;
	assert_pb_ok(pb_store_attachment_read(c, h, &data));
	assert_int_equal(data.len, 13);
	assert_memory_equal(data.data, "picture bytes", 13);
	pb_buf_dispose(&data);
	char *v;
	assert_pb_ok(pb_store_kv_get(c, "k", &v));
	assert_string_equal(v, "v");
	pb_free(v);
	pb_store_close(c);

	/* never over what exists, never through a link */
	assert_pb_error(pb_store_backup(f->st, dest, NULL), PB_EEXISTS);
	snprintf(path, sizeof(path), "%s/link.db", f->dir);
	assert_int_equal(symlink("/nonexistent/pb-backup-target", path), 0);
	assert_pb_error(pb_store_backup(f->st, path, NULL), PB_EEXISTS);
	assert_int_equal(lstat("/nonexistent/pb-backup-target", &sb), -1);
	/* a directory that is not there: an I/O error, nothing left behind */
	snprintf(path, sizeof(path), "%s/no-such-dir/copy.db", f->dir);
	assert_pb_error(pb_store_backup(f->st, path, NULL), PB_EIO);
}

/* --- PostgreSQL only ---------------------------------------------------------------------- */
#ifdef HAVE_PG

static void test_store__pg_opens_migrates_and_refuses_sqlite_only_calls(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(pb_store_backend(f->st), "postgresql");
	assert_int_equal(pb_store_schema_version(f->st), PB_STORE_SCHEMA_VERSION);
	assert_pb_ok(pb_store_check(f->st));
	/* a second node opens the migrated database as it is */
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.password_file = pg_env("PB_TEST_PG_PASSWORD_FILE");
	pb_store *st2;
	assert_pb_ok(pb_store_open(&st2, f->path, &o));
	assert_pb_ok(pb_store_list_add(st2, PB_STORE_ALLOW, "+4930123456", PB_STORE_SRC_CHALLENGE, 0));
	/* what one node adds, the other sees at once */
	assert_pb_ok(pb_store_list_lookup(f->st, PB_STORE_ALLOW, "+4930123456", 0, NULL));
	pb_store_close(st2);
	/* the journal, attachments and backups are SQLite's */
	pb_store_msg_in m = PB_STORE_MSG_IN_INIT;
	m.dir = PB_STORE_INBOUND;
	m.state = PB_STORE_STORED;
	m.backend = "hilink";
	m.backend_id = "1";
	int64_t id;
	assert_pb_error(pb_store_msg_insert(f->st, &m, &id), PB_EUNSUPPORTED);
	assert_non_null(strstr(pb_error_last()->message, "SQLite only"));
	char hash[65];
	assert_pb_error(pb_store_attachment_add(f->st, 1, "x", 1, NULL, NULL, hash), PB_EUNSUPPORTED);
	assert_null(pb_store_attachment_path(f->st, "982d9e3eb996f559e633f4d194def3761d909f5a3b647d1a851fead67c32c9d1"));
	assert_pb_error(pb_store_backup(f->st, "/nonexistent/x.db", NULL), PB_EUNSUPPORTED);
	static const pb_store_app_step app[] = { { 1, "CREATE TABLE t (x INTEGER);", NULL } };
	assert_pb_error(pb_store_app_schema(f->st, "demo", app, 1, NULL, NULL), PB_EUNSUPPORTED);
	assert_null(pb_store_sqlite(f->st));
	assert_pb_error(pb_store_contact_set(f->st, "+4930123456", "A", NULL), PB_EUNSUPPORTED);
	int64_t per_day[2];
	assert_pb_error(pb_store_msg_daily(f->st, PB_STORE_INBOUND, PB_STORE_DELIVERED, NULL, 0, 2, per_day),
			PB_EUNSUPPORTED);
	/* the call log's counts per day come from PostgreSQL: test_store__call_daily_counts */
	/* a database written by a newer schema is refused */
	const char *db = strstr(f->path, "@/") + 2;
	char name[64];
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(db, "?"), db);
	pg_admin(name, "UPDATE pb_schema SET version = 99", NULL, 0);
	assert_pb_error(pb_store_open(&st2, f->path, &o), PB_EUNSUPPORTED);
	assert_null(st2);
}

/* Several nodes starting at once on a new database: one migrates, the
 * others wait for its lock and find the tables (no "relation exists"). */
static void test_store__pg_nodes_migrate_a_new_database_together(void **state)
{
	(void)state;
	char url[512], name[64];
	pg_new_db(url, sizeof(url), name, sizeof(name));
	pid_t kids[4];
	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			pb_store_options o = PB_STORE_OPTIONS_INIT;
			o.password_file = getenv("PB_TEST_PG_PASSWORD_FILE");
			pb_store *st;
			int rc = pb_store_open(&st, url, &o);
			if (rc != 0)
				fprintf(stderr, "child %d: %s\n", i, pb_error_last()->message);
			else
				rc = pb_store_list_add(st, PB_STORE_DENY, "+18005550000", PB_STORE_SRC_MANUAL, 0);
			pb_store_close(st);
			_exit(rc == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++) {
		int status;
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	char v[32];
	pg_admin(name, "SELECT count(*) || ':' || max(version) FROM pb_schema", v, sizeof(v));
	char want[32];
	snprintf(want, sizeof(want), "1:%d", PB_STORE_SCHEMA_VERSION);
	assert_string_equal(v, want);
}

static void test_store__pg_secrets_and_tls(void **state)
{
	struct fixture *f = *state;
	pb_store *st = NULL;
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	char url[700];
	/* a password in the URL is a secret in a configuration file */
	snprintf(url, sizeof(url), "postgresql://pb:secret@/x?host=%s", pg_env("PB_TEST_PG_HOST"));
	assert_pb_error(pb_store_open(&st, url, &o), PB_EINVAL);
	assert_non_null(strstr(pb_error_last()->message, "password"));
	assert_pb_error(pb_store_open(&st, "postgresql://[::1/x", &o), PB_EINVAL);
	/* no password: the server says no, and the error says why */
	assert_pb_error(pb_store_open(&st, f->path, &o), PB_EAUTH);
	/* a wrong one */
	char wrong[600];
	snprintf(wrong, sizeof(wrong), "%s.wrong", pg_env("PB_TEST_PG_PASSWORD_FILE"));
	int fd = open(wrong, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "nope\n", 5), 5);
	close(fd);
	o.password_file = wrong;
	assert_pb_error(pb_store_open(&st, f->path, &o), PB_EAUTH);
	/* a password file others may read is refused before it is used */
	assert_int_equal(chmod(wrong, 0644), 0);
	assert_true(pb_store_open(&st, f->path, &o) < 0);
	assert_non_null(strstr(pb_error_last()->message, wrong));
	unlink(wrong);
	/* TCP: TLS is verified by default (this server has none: refused) ... */
	o.password_file = pg_env("PB_TEST_PG_PASSWORD_FILE");
	const char *db = strstr(f->path, "@/") + 2;
	snprintf(url, sizeof(url), "postgresql://pb@127.0.0.1:%s/%.*s", pg_env("PB_TEST_PG_PORT"),
		 (int)strcspn(db, "?"), db);
	assert_pb_error(pb_store_open(&st, url, &o), PB_EIO);
	assert_non_null(strstr(pb_error_last()->message, "SSL"));
	/* ... and the URL's sslmode is honoured */
	strcat(url, "?sslmode=disable");
	assert_pb_ok(pb_store_open(&st, url, &o));
	assert_pb_ok(pb_store_list_add(st, PB_STORE_ALLOW, "+15551234567", PB_STORE_SRC_MANUAL, 0));
	pb_store_close(st);
}

/* Cut the store's connection from the server's side. */
static void pg_kill_store_connections(const char *path)
{
	const char *db = strstr(path, "@/") + 2;
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
		 "WHERE application_name = 'libphonebridge' AND datname = '%.*s'",
		 (int)strcspn(db, "?"), db);
	char n[16];
	pg_admin("postgres", sql, n, sizeof(n));
	assert_string_equal(n, "1");
}

static void test_store__pg_reconnects_after_a_drop(void **state)
{
	struct fixture *f = *state;
	assert_pb_ok(pb_store_list_add(f->st, PB_STORE_ALLOW, "+15551234567", PB_STORE_SRC_CHALLENGE, 0));
	/* a read (or an upsert) is sent again on a new connection */
	pg_kill_store_connections(f->path);
	assert_pb_ok(pb_store_list_lookup(f->st, PB_STORE_ALLOW, "+15551234567", 0, NULL));
	pg_kill_store_connections(f->path);
	assert_pb_ok(pb_store_list_add(f->st, PB_STORE_DENY, "+18005550000", PB_STORE_SRC_MANUAL, 0));
	/* a drop found while preparing: nothing was executed, so it goes on */
	pg_kill_store_connections(f->path);
	assert_pb_ok(pb_store_attempt_record(f->st, "+15551234567", 500, true));
	/* an insert whose outcome the drop hid is not repeated: it says so */
	pg_kill_store_connections(f->path);
	assert_pb_error(pb_store_attempt_record(f->st, "+15551234567", 1000, true), PB_EIO);
	assert_non_null(strstr(pb_error_last()->message, "unknown"));
	/* and the next call has a connection again */
	assert_pb_ok(pb_store_attempt_record(f->st, "+15551234567", 2000, true));
	int64_t n;
	assert_pb_ok(pb_store_attempt_count(f->st, "+15551234567", 0, true, &n));
	assert_int_equal(n, 2);
	/* inside a transaction nothing is sent again: the transaction is gone */
	assert_pb_ok(pb_store_begin(f->st));
	assert_pb_ok(pb_store_list_add(f->st, PB_STORE_ALLOW, "+4930123456", PB_STORE_SRC_MANUAL, 0));
	pg_kill_store_connections(f->path);
	assert_true(pb_store_list_add(f->st, PB_STORE_ALLOW, "+4930999999", PB_STORE_SRC_MANUAL, 0) < 0);
	assert_true(pb_store_commit(f->st) < 0);
	assert_pb_error(pb_store_list_lookup(f->st, PB_STORE_ALLOW, "+4930123456", 0, NULL), PB_ENOTFOUND);
	/* a transaction that commits */
	assert_pb_ok(pb_store_begin(f->st));
	assert_pb_ok(pb_store_list_add(f->st, PB_STORE_ALLOW, "+4930123456", PB_STORE_SRC_MANUAL, 0));
	pb_store_rollback(f->st);
	assert_pb_error(pb_store_list_lookup(f->st, PB_STORE_ALLOW, "+4930123456", 0, NULL), PB_ENOTFOUND);
	assert_pb_ok(pb_store_begin(f->st));
	assert_pb_ok(pb_store_list_add(f->st, PB_STORE_ALLOW, "+4930123456", PB_STORE_SRC_MANUAL, 0));
	assert_pb_ok(pb_store_commit(f->st));
	assert_pb_ok(pb_store_list_lookup(f->st, PB_STORE_ALLOW, "+4930123456", 0, NULL));
	/* a database that stays away: a clear error on every call, until it is back */
	const char *db = strstr(f->path, "@/") + 2;
	char name[64], sql[160];
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(db, "?"), db);
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS false", name);
	pg_admin("postgres", sql, NULL, 0);
	pg_kill_store_connections(f->path);
	for (int i = 0; i < 2; i++) {
		assert_pb_error(pb_store_list_lookup(f->st, PB_STORE_ALLOW, "+4930123456", 0, NULL), PB_EIO);
		assert_non_null(strstr(pb_error_last()->message, "reconnecting failed"));
	}
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS true", name);
	pg_admin("postgres", sql, NULL, 0);
	assert_pb_ok(pb_store_list_lookup(f->st, PB_STORE_ALLOW, "+4930123456", 0, NULL));
}

/* One schema description: the tables a PostgreSQL store holds have the
 * columns of SQLite's, in both after every migration. */
static void test_store__pg_schema_matches_sqlite(void **state)
{
	struct fixture *f = *state;
	char *dir = store_scratch_dir();
	char path[512];
	snprintf(path, sizeof(path), "%s/s.db", dir);
	pb_store *lite;
	assert_pb_ok(pb_store_open(&lite, path, NULL));
	const char *tables[] = { "kv", "screen_list", "screen_attempts", "calls", "numbers" };
	const char *db = strstr(f->path, "@/") + 2;
	char name[64];
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(db, "?"), db);
	for (size_t i = 0; i < PB_ARRAY_SIZE(tables); i++) {
		char sql[300], pg[512];
		snprintf(sql, sizeof(sql),
			 "SELECT string_agg(column_name || ':' || is_nullable, ',' ORDER BY column_name) "
			 "FROM information_schema.columns WHERE table_name = '%s'", tables[i]);
		pg_admin(name, sql, pg, sizeof(pg));
		snprintf(sql, sizeof(sql),
			 "SELECT group_concat(name || ':' || CASE WHEN \"notnull\" OR pk THEN 'NO' ELSE 'YES' END, ',') "
			 "FROM (SELECT * FROM pragma_table_info('%s') ORDER BY name)", tables[i]);
		sqlite3_stmt *q;
		assert_int_equal(sqlite3_prepare_v2(lite->db, sql, -1, &q, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(q, 0), pg);
		sqlite3_finalize(q);
	}
	pb_store_close(lite);
	store_scratch_remove(dir);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store__open_sets_wal_fk_sync_and_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__newer_schema_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__inbound_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__outbound_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__released_key_no_longer_dedups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__every_transition_is_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__dedup_returns_existing_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__queues_page_in_order_and_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__user_transaction_is_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__attachments_are_content_addressed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__attachment_gc_removes_orphans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__prune_drops_finished_rows_and_their_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__sms_parts_persist_idempotently, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__wal_stays_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__kv_holds_sync_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__contacts_map_numbers_to_rooms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__groups_are_sets_of_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__lists_honour_expiry_and_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__list_pages_in_number_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__group_shared_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__attempts_count_in_a_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__call_log_keeps_calls, setup, teardown),
		cmocka_unit_test(test_store__days_bucket_rows),
		cmocka_unit_test_setup_teardown(test_store__call_daily_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__msg_daily_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__numbers_hold_per_number_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__migrates_from_every_earlier_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__allocation_failures_are_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__backup_is_a_consistent_copy_with_attachments, setup, teardown),
		cmocka_unit_test(test_store__phone_normalises_to_e164),
		cmocka_unit_test_setup_teardown(test_store__app_schema_runs_versioned_steps_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__app_schema_failure_rolls_back, setup, teardown),
	};
#ifdef HAVE_PG
	if (getenv("PB_TEST_PG_HOST")) {
		FILE *pw = fopen(getenv("PB_TEST_PG_PASSWORD_FILE"), "r");
		if (pw == NULL || fgets(pg_password, sizeof(pg_password), pw) == NULL)
			return 1;
		fclose(pw);
		pg_password[strcspn(pg_password, "\n")] = '\0';
		const struct CMUnitTest pg_tests[] = {
			cmocka_unit_test_setup_teardown(test_store__kv_holds_sync_tokens, setup_pg, teardown_pg),
			cmocka_unit_test_setup_teardown(test_store__lists_honour_expiry_and_source, setup_pg, teardown_pg),
			cmocka_unit_test_setup_teardown(test_store__list_pages_in_number_order, setup_pg, teardown_pg),
			cmocka_unit_test_setup_teardown(test_store__attempts_count_in_a_window, setup_pg, teardown_pg),
			cmocka_unit_test_setup_teardown(test_store__call_log_keeps_calls, setup_pg, teardown_pg),
			cmocka_unit_test_setup_teardown(test_store__call_daily_counts, setup_pg, teardown_pg),
			cmocka_unit_test_setup_teardown(test_store__numbers_hold_per_number_settings, setup_pg,
							teardown_pg),
			cmocka_unit_test_setup_teardown(test_store__pg_opens_migrates_and_refuses_sqlite_only_calls,
							setup_pg, teardown_pg),
			cmocka_unit_test(test_store__pg_nodes_migrate_a_new_database_together),
			cmocka_unit_test_setup_teardown(test_store__pg_secrets_and_tls, setup_pg, teardown_pg),
			cmocka_unit_test_setup_teardown(test_store__pg_reconnects_after_a_drop, setup_pg, teardown_pg),
			cmocka_unit_test_setup_teardown(test_store__pg_schema_matches_sqlite, setup_pg, teardown_pg),
		};
		return pb_test_run("store-pg", pg_tests);
	}
#endif
	return pb_test_run("store", tests);
}
