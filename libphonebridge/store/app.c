/*
 * libphonebridge — tables an application owns in the store: its own
 * versioned schema steps, its own version number (docs/store.md,
 * "Tables of an application").
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The versions live in the table pb_app_schema (one row per application),
 * created on first use with CREATE TABLE IF NOT EXISTS in the same
 * transaction as the steps: the library's own schema version is not
 * touched, so a store without applications is unchanged. SQLite only.
 */
#include <stdio.h>
#include <string.h>

#include "store/store-private.h"

static const char app_table[] =
	"CREATE TABLE IF NOT EXISTS pb_app_schema ("
	"  app TEXT PRIMARY KEY CHECK (length(app) BETWEEN 1 AND 64),"
	"  version INTEGER NOT NULL CHECK (version >= 0),"
	"  updated_at INTEGER NOT NULL);";

static int valid_name(const char *app)
{
	if (app == NULL || !app[0] || strlen(app) > 64)
		return 0;
	for (const char *p = app; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/* The version recorded for @app, 0 when none (the table may not exist). */
static int read_app_version(pb_store *st, const char *app, int *version)
{
	sqlite3_stmt *s = NULL;
	*version = 0;
	int rc = sqlite3_prepare_v2(st->db, "SELECT version FROM pb_app_schema WHERE app = ?1", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		/* no such table: nothing recorded yet */
		sqlite3_finalize(s);
		return 0;
	}
	pb_store__bind_text(s, 1, app);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : pb_store__error(st, rc, "read application version");
}

PB_API int pb_store_app_version(pb_store *st, const char *app, int *version)
{
	if (version)
		*version = 0;
	if (st == NULL || version == NULL || !valid_name(app))
		return pb_error_set(PB_EINVAL, "pb_store_app_version: bad arguments (name: [a-z0-9_-]{1,64})");
	PB_STORE_SQLITE_ONLY(st, "an application's schema");
	return read_app_version(st, app, version);
}

static int write_app_version(pb_store *st, const char *app, int version)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db,
				    "INSERT INTO pb_app_schema (app, version, updated_at) VALUES (?1, ?2, ?3) "
				    "ON CONFLICT (app) DO UPDATE SET version = excluded.version, "
				    "updated_at = excluded.updated_at",
				    -1, &s, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(s);
		return pb_store__error(st, rc, "record application version");
	}
	pb_store__bind_text(s, 1, app);
	sqlite3_bind_int(s, 2, version);
	sqlite3_bind_int64(s, 3, pb_store__now());
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : pb_store__error(st, rc, "record application version");
}

static int check_steps(const char *app, const pb_store_app_step *steps, size_t n, int *target)
{
	*target = 0;
	for (size_t i = 0; i < n; i++) {
		const pb_store_app_step *s = &steps[i];
		if (s->app_version < 1 || s->app_version < *target || s->app_version > *target + 1)
			return pb_error_set(PB_EINVAL,
					    "store: application %s: step %zu has version %d after version %d "
					    "(versions start at 1 and go up by one)",
					    app, i, s->app_version, *target);
		if (s->sql == NULL && s->migrate == NULL)
			return pb_error_set(PB_EINVAL, "store: application %s: step %zu has neither SQL nor a function",
					    app, i);
		*target = s->app_version;
	}
	return 0;
}

/* In the open transaction: bring @app from its version to @target. */
static int app_migrate_locked(pb_store *st, const char *app, const pb_store_app_step *steps, size_t n,
			      int target, void *userdata, int *reached)
{
	int version = 0;
	int rc = pb_store__exec(st, app_table, "create pb_app_schema");
	if (rc == 0)
		rc = read_app_version(st, app, &version);
	if (rc < 0)
		return rc;
	*reached = version;
	if (version > target)
		return pb_error_set(PB_EUNSUPPORTED,
				    "store: application %s: the database's tables are version %d, newer than "
				    "this program's (%d)",
				    app, version, target);
	if (version == target)
		return 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const pb_store_app_step *s = &steps[i];
		if (s->app_version <= version)
			continue;
		if (s->sql)
			rc = pb_store__exec(st, s->sql, "application schema step");
		if (rc == 0 && s->migrate)
			rc = s->migrate(st, userdata);
		if (rc < 0) {
			char why[256];
			snprintf(why, sizeof(why), "%s", pb_error_last()->message);
			pb_error_set(rc, "store: application %s, version %d: %s", app, s->app_version, why);
		}
	}
	if (rc == 0)
		rc = write_app_version(st, app, target);
	if (rc == 0) {
		*reached = target;
		pb_log_info("store", "application %s: tables migrated from version %d to %d", app, version, target);
	}
	return rc;
}

PB_API int pb_store_app_schema(pb_store *st, const char *app, const pb_store_app_step *steps, size_t n,
			       void *userdata, int *version)
{
	if (version)
		*version = 0;
	if (st == NULL || (steps == NULL && n > 0) || !valid_name(app))
		return pb_error_set(PB_EINVAL, "pb_store_app_schema: bad arguments (name: [a-z0-9_-]{1,64})");
	PB_STORE_SQLITE_ONLY(st, "an application's schema");
	if (st->user_txn)
		return pb_error_set(PB_ESTATE, "pb_store_app_schema: not inside pb_store_begin()");
	int target = 0;
	int rc = check_steps(app, steps, n, &target);
	if (rc < 0)
		return rc;
	/* Exclusive from the start: two processes starting at once must not
	 * both run the steps. The steps' own store calls join the transaction
	 * (as inside pb_store_begin()). */
	rc = pb_store__exec(st, "BEGIN IMMEDIATE", "begin application migration");
	if (rc < 0)
		return rc;
	st->user_txn = true;
	int reached = 0;
	rc = app_migrate_locked(st, app, steps, n, target, userdata, &reached);
	st->user_txn = false;
	if (rc < 0) {
		if (!sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	rc = pb_store__exec(st, "COMMIT", "commit application migration");
	if (rc < 0) {
		if (!sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	if (version)
		*version = reached;
	return 0;
}

PB_API sqlite3 *pb_store_sqlite(pb_store *st)
{
	return st ? st->db : NULL;
}
