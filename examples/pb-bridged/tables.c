/*
 * pb-bridged — the bridge's own tables in the store (docs/bridge.md,
 * "Store layout"): delivery-report bookkeeping and the reports themselves
 * as rows with constraints and foreign keys to the journal, instead of kv
 * strings and encoded journal bodies. The schema is the application
 * "bridge" of pb_store_app_schema(): versioned steps, one transaction, and
 * the data earlier versions of the bridge kept in kv moved in the same
 * transaction (a crash in between rolls everything back; the next start
 * migrates again).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bridge.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DR_QUEUE_MAX 64 /* rows kept waiting per number on a box without references */

/* Version 1 (issue 18). Released steps are never edited: a change is a new
 * version. */
static const char v1_tables[] =
	/* (peer, reference) -> the outbound row that part belongs to */
	"CREATE TABLE bridge_dr_ref ("
	"  peer TEXT NOT NULL,"
	"  ref INTEGER NOT NULL CHECK (ref BETWEEN 0 AND 255),"
	"  msg_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,"
	"  PRIMARY KEY (peer, ref));"
	"CREATE INDEX bridge_dr_ref_msg ON bridge_dr_ref (msg_id);"
	/* rows sent to a number through a box that gives no reference, oldest
	 * first; a row pruned from the journal leaves its place (msg_id NULL)
	 * so that its report does not land on the next one */
	"CREATE TABLE bridge_dr_queue ("
	"  seq INTEGER PRIMARY KEY,"
	"  peer TEXT NOT NULL,"
	"  msg_id INTEGER REFERENCES messages (id) ON DELETE SET NULL);"
	"CREATE INDEX bridge_dr_queue_peer ON bridge_dr_queue (peer, seq);"
	/* the parts of an outbound row reported delivered so far */
	"CREATE TABLE bridge_dr_delivered ("
	"  msg_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,"
	"  ref INTEGER NOT NULL CHECK (ref BETWEEN 0 AND 255),"
	"  PRIMARY KEY (msg_id, ref));"
	/* a journaled delivery report: what it says (its row's body keeps the
	 * network's words for people) */
	"CREATE TABLE bridge_report ("
	"  msg_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,"
	"  ref INTEGER NOT NULL CHECK (ref BETWEEN -1 AND 255),"
	"  code INTEGER NOT NULL CHECK (code BETWEEN -1 AND 255),"
	"  status TEXT NOT NULL CHECK (status IN ('delivered', 'pending', 'failed', 'expired')));";

/* --- statements -------------------------------------------------------------- */

static int db_error(pb_store *st, const char *what)
{
	sqlite3 *db = pb_store_sqlite(st);
	return pb_error_set(PB_EIO, "bridge tables: %s: %s", what, db ? sqlite3_errmsg(db) : "not a SQLite store");
}

static int prepare(pb_store *st, const char *sql, sqlite3_stmt **s)
{
	sqlite3 *db = pb_store_sqlite(st);
	*s = NULL;
	if (db == NULL)
		return pb_error_set(PB_EUNSUPPORTED, "bridge tables: the store is not SQLite");
	if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK) {
		int rc = db_error(st, "prepare");
		sqlite3_finalize(*s);
		*s = NULL;
		return rc;
	}
	return 0;
}

/* Step a statement that returns no row, and finalize it. */
static int run(pb_store *st, sqlite3_stmt *s, const char *what)
{
	int r = sqlite3_step(s);
	int rc = r == SQLITE_DONE || r == SQLITE_ROW ? 0 : db_error(st, what);
	sqlite3_finalize(s);
	return rc;
}

static void bind_peer(sqlite3_stmt *s, int i, const char *peer)
{
	sqlite3_bind_text(s, i, peer ? peer : "", -1, SQLITE_STATIC);
}

/* --- delivery-report bookkeeping ------------------------------------------- */

int pbb_dr_ref_set(pb_store *st, const char *peer, int ref, int64_t id)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "INSERT INTO bridge_dr_ref (peer, ref, msg_id) VALUES (?1, ?2, ?3) "
			     "ON CONFLICT (peer, ref) DO UPDATE SET msg_id = excluded.msg_id", &s);
	if (rc < 0)
		return rc;
	bind_peer(s, 1, peer);
	sqlite3_bind_int(s, 2, ref);
	sqlite3_bind_int64(s, 3, id);
	return run(st, s, "remember a reference");
}

int pbb_dr_ref_get(pb_store *st, const char *peer, int ref, int64_t *id)
{
	sqlite3_stmt *s;
	*id = 0;
	int rc = prepare(st, "SELECT msg_id FROM bridge_dr_ref WHERE peer = ?1 AND ref = ?2", &s);
	if (rc < 0)
		return rc;
	bind_peer(s, 1, peer);
	sqlite3_bind_int(s, 2, ref);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0);
	rc = r == SQLITE_ROW || r == SQLITE_DONE ? 0 : db_error(st, "find a reference");
	sqlite3_finalize(s);
	return rc;
}

int pbb_dr_forget(pb_store *st, int64_t id)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "DELETE FROM bridge_dr_ref WHERE msg_id = ?1", &s);
	if (rc == 0) {
		sqlite3_bind_int64(s, 1, id);
		rc = run(st, s, "forget references");
	}
	if (rc == 0 && (rc = prepare(st, "DELETE FROM bridge_dr_delivered WHERE msg_id = ?1", &s)) == 0) {
		sqlite3_bind_int64(s, 1, id);
		rc = run(st, s, "forget delivered parts");
	}
	return rc;
}

int pbb_dr_queue_push(pb_store *st, const char *peer, int64_t id)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "INSERT INTO bridge_dr_queue (peer, msg_id) VALUES (?1, ?2)", &s);
	if (rc < 0)
		return rc;
	bind_peer(s, 1, peer);
	sqlite3_bind_int64(s, 2, id);
	if ((rc = run(st, s, "queue a row")) < 0)
		return rc;
	/* a box that never reports (its setting off) must not grow the queue
	 * for ever: keep the newest DR_QUEUE_MAX of the number */
	rc = prepare(st, "DELETE FROM bridge_dr_queue WHERE peer = ?1 AND seq NOT IN "
			 "(SELECT seq FROM bridge_dr_queue WHERE peer = ?1 ORDER BY seq DESC LIMIT ?2)", &s);
	if (rc < 0)
		return rc;
	bind_peer(s, 1, peer);
	sqlite3_bind_int(s, 2, DR_QUEUE_MAX);
	return run(st, s, "trim the queue");
}

int pbb_dr_queue_head(pb_store *st, const char *peer, int64_t *seq, int64_t *id)
{
	sqlite3_stmt *s;
	*seq = 0;
	*id = 0;
	int rc = prepare(st, "SELECT seq, msg_id FROM bridge_dr_queue WHERE peer = ?1 ORDER BY seq LIMIT 1", &s);
	if (rc < 0)
		return rc;
	bind_peer(s, 1, peer);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		*seq = sqlite3_column_int64(s, 0);
		*id = sqlite3_column_type(s, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 1);
	}
	rc = r == SQLITE_ROW || r == SQLITE_DONE ? 0 : db_error(st, "read the queue");
	sqlite3_finalize(s);
	return rc;
}

int pbb_dr_queue_drop(pb_store *st, int64_t seq)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "DELETE FROM bridge_dr_queue WHERE seq = ?1", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, seq);
	return run(st, s, "leave the queue");
}

int pbb_dr_delivered_add(pb_store *st, int64_t id, int ref)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "INSERT OR IGNORE INTO bridge_dr_delivered (msg_id, ref) VALUES (?1, ?2)", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, ref);
	return run(st, s, "a part delivered");
}

int pbb_dr_delivered(pb_store *st, int64_t id, int *refs, size_t max, size_t *n)
{
	sqlite3_stmt *s;
	*n = 0;
	int rc = prepare(st, "SELECT ref FROM bridge_dr_delivered WHERE msg_id = ?1 ORDER BY ref", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW)
		if (*n < max)
			refs[(*n)++] = sqlite3_column_int(s, 0);
	rc = r == SQLITE_DONE ? 0 : db_error(st, "read delivered parts");
	sqlite3_finalize(s);
	return rc;
}

/* --- the reports ------------------------------------------------------------ */

int pbb_report_put(pb_store *st, int64_t msg_id, const pbb_report *rep)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "INSERT OR IGNORE INTO bridge_report (msg_id, ref, code, status) VALUES (?1, ?2, ?3, ?4)",
			 &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, msg_id);
	sqlite3_bind_int(s, 2, rep->ref);
	sqlite3_bind_int(s, 3, rep->code);
	sqlite3_bind_text(s, 4, pbb_report_status_name(rep->status), -1, SQLITE_STATIC);
	return run(st, s, "journal a report");
}

int pbb_report_get(pb_store *st, const pb_store_msg *row, pbb_report *rep)
{
	sqlite3_stmt *s;
	memset(rep, 0, sizeof(*rep));
	int rc = prepare(st, "SELECT ref, code, status FROM bridge_report WHERE msg_id = ?1", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, row->id);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		rep->ref = sqlite3_column_int(s, 0);
		rep->code = sqlite3_column_int(s, 1);
		const char *status = (const char *)sqlite3_column_text(s, 2);
		rep->status = -1;
		for (int i = 0; i <= PBB_DR_EXPIRED; i++)
			if (status && !strcmp(status, pbb_report_status_name(i)))
				rep->status = i;
		snprintf(rep->text, sizeof(rep->text), "%s", row->body ? row->body : "");
		rc = rep->status >= 0 ? 0 : pb_error_set(PB_EMALFORMED, "report #%lld: status %s", (long long)row->id,
							   status ? status : "NULL");
	} else if (r == SQLITE_DONE) {
		rc = pb_error_set(PB_EMALFORMED, "report #%lld: %.60s", (long long)row->id,
				  row->body ? row->body : "not journaled as a report");
	} else {
		rc = db_error(st, "read a report");
	}
	sqlite3_finalize(s);
	return rc;
}

/* --- the migration from kv (the bridge before issue 18) ------------------ */

/* Parse "12" or "12,13" lists and "id id" queues: strtoll in [lo, hi]. */
static bool number_at(const char **p, long long lo, long long hi, long long *v)
{
	char *end;
	while (**p == ' ' || **p == ',')
		(*p)++;
	if (!**p)
		return false;
	*v = strtoll(*p, &end, 10);
	if (end == *p || *v < lo || *v > hi) {
		*p += strlen(*p);
		return false;
	}
	*p = end;
	return true;
}

/* Does outbound row @id exist (a foreign key target)? */
static int row_exists(pb_store *st, int64_t id, bool *yes)
{
	sqlite3_stmt *s;
	*yes = false;
	int rc = prepare(st, "SELECT 1 FROM messages WHERE id = ?1", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	int r = sqlite3_step(s);
	*yes = r == SQLITE_ROW;
	rc = r == SQLITE_ROW || r == SQLITE_DONE ? 0 : db_error(st, "find a row");
	sqlite3_finalize(s);
	return rc;
}

/* One kv entry "bridge.dr.<rest>" = @value into the tables. */
static int move_one(pb_store *st, const char *rest, const char *value, int64_t *moved)
{
	const char *dot = strrchr(rest, '.');
	if (!dot || dot == rest)
		return 0; /* not ours: left alone */
	char peer[256];
	snprintf(peer, sizeof(peer), "%.*s", (int)(dot - rest), rest);
	const char *tail = dot + 1;
	long long v;
	bool yes;
	int rc = 0;
	if (!strcmp(tail, "fifo")) {
		/* "id id ...", oldest first; a row already gone keeps its place */
		const char *p = value;
		while (rc == 0 && number_at(&p, 1, INT64_MAX, &v)) {
			sqlite3_stmt *s;
			if ((rc = row_exists(st, v, &yes)) < 0 ||
			    (rc = prepare(st, "INSERT INTO bridge_dr_queue (peer, msg_id) VALUES (?1, ?2)", &s)) < 0)
				break;
			bind_peer(s, 1, peer);
			if (yes)
				sqlite3_bind_int64(s, 2, v);
			else
				sqlite3_bind_null(s, 2);
			rc = run(st, s, "move a queue");
		}
	} else if (!strcmp(tail, "ok")) {
		/* "bridge.dr.<row>.ok" = "12,13" */
		long long id;
		const char *q = peer;
		if (!number_at(&q, 1, INT64_MAX, &id) || *q)
			return 0;
		if ((rc = row_exists(st, id, &yes)) < 0 || !yes)
			return rc;
		const char *p = value;
		while (rc == 0 && number_at(&p, 0, 255, &v))
			rc = pbb_dr_delivered_add(st, id, (int)v);
	} else {
		/* "bridge.dr.<peer>.<ref>" = "<row>" */
		const char *q = tail, *p = value;
		long long id;
		if (!number_at(&q, 0, 255, &v) || *q || !number_at(&p, 1, INT64_MAX, &id))
			return 0;
		if ((rc = row_exists(st, id, &yes)) == 0 && yes)
			rc = pbb_dr_ref_set(st, peer, (int)v, id);
	}
	if (rc == 0)
		(*moved)++;
	return rc;
}

/* Test hook: SIGKILL in the middle of the migration (after the data moved,
 * before the commit), to show that it is rolled back (bridge-unit). */
static void kill_point(void)
{
	const char *flag = getenv("PBB_TEST_KILL_IN_MIGRATION");
	if (flag && flag[0] == '1')
		raise(SIGKILL);
}

static int v1_move(pb_store *st, void *userdata)
{
	(void)userdata;
	sqlite3_stmt *s;
	int64_t moved = 0, reports = 0;
	int r = SQLITE_DONE;
	/* the delivery-report bookkeeping of kv */
	int rc = prepare(st, "SELECT key, value FROM kv WHERE key >= 'bridge.dr.' AND key < 'bridge.dr/' ORDER BY key",
			 &s);
	if (rc < 0)
		return rc;
	while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW)
		rc = move_one(st, (const char *)sqlite3_column_text(s, 0) + strlen("bridge.dr."),
			      (const char *)sqlite3_column_text(s, 1), &moved);
	if (rc == 0 && r != SQLITE_DONE)
		rc = db_error(st, "read kv");
	sqlite3_finalize(s);
	if (rc == 0 && (rc = prepare(st, "DELETE FROM kv WHERE key >= 'bridge.dr.' AND key < 'bridge.dr/'", &s)) == 0)
		rc = run(st, s, "clear kv");
	/* the reports: "REF CODE STATUS TEXT" in the body -> a bridge_report
	 * row, and the body keeps TEXT */
	if (rc == 0)
		rc = prepare(st, "SELECT id, body FROM messages WHERE dir = 1 AND backend LIKE '%:report'", &s);
	while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		pbb_report rep;
		if (pbb_report_parse((const char *)sqlite3_column_text(s, 1), &rep) < 0)
			continue; /* unreadable then, unreadable now: it fails as before */
		if ((rc = pbb_report_put(st, id, &rep)) < 0)
			break;
		sqlite3_stmt *u;
		if ((rc = prepare(st, "UPDATE messages SET body = ?2 WHERE id = ?1", &u)) < 0)
			break;
		sqlite3_bind_int64(u, 1, id);
		sqlite3_bind_text(u, 2, rep.text, -1, SQLITE_TRANSIENT);
		rc = run(st, u, "move a report");
		reports++;
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = db_error(st, "read reports");
	sqlite3_finalize(s);
	if (rc == 0) {
		if (moved || reports)
			pbb_log(PB_LOG_NOTICE, "store: moved %lld delivery-report entries from kv and %lld reports into "
					       "the bridge's tables", (long long)moved, (long long)reports);
		kill_point();
	}
	return rc;
}

/* Version 2: the kind of a journal row in its own table, no longer after a
 * colon in messages.backend ("hilink:report" -> backend "hilink", kind
 * "report"; the outbound "matrix" rows are texts). Rows of others (no
 * kind the bridge knows) get none and keep their backend. */
#define KINDS "'text', 'incomplete', 'mms', 'report', 'other', 'notice', 'cmd', 'voicemail'"
static const char v2_kinds[] =
	"CREATE TABLE bridge_msg_kind ("
	"  msg_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK (kind IN (" KINDS ")));"
	"INSERT INTO bridge_msg_kind (msg_id, kind)"
	"  SELECT id, CASE WHEN instr(backend, ':') > 0 THEN substr(backend, instr(backend, ':') + 1)"
	"                  ELSE 'text' END"
	"  FROM messages"
	"  WHERE (instr(backend, ':') > 0 AND substr(backend, instr(backend, ':') + 1) IN (" KINDS "))"
	"     OR (backend = 'matrix' AND dir = 2);"
	"UPDATE messages SET backend = substr(backend, 1, instr(backend, ':') - 1)"
	"  WHERE instr(backend, ':') > 0 AND id IN (SELECT msg_id FROM bridge_msg_kind);";

static const pb_store_app_step bridge_steps[] = {
	{ 1, v1_tables, v1_move },
	{ 2, v2_kinds, NULL },
};

/* --- the kind of a journal row ----------------------------------------------- */

static const char *const kinds[] = { "text", "incomplete", "mms", "report", "other", "notice", "cmd", "voicemail" };

int pbb_journal_insert(pb_store *st, const pb_store_msg_in *in, const char *kind, int64_t *id)
{
	int64_t row = 0;
	int rc = pb_store_msg_insert(st, in, &row);
	if (id)
		*id = row;
	if (rc < 0)
		return rc;
	sqlite3_stmt *s;
	if ((rc = prepare(st, "INSERT INTO bridge_msg_kind (msg_id, kind) VALUES (?1, ?2)", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, row);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	return run(st, s, "the kind of a row");
}

/*
 * A row another program journaled in the shared store with its kind after
 * a colon (pb-screend's voicemail: "screen:voicemail"): the kind goes to
 * the table and the backend keeps the writer's name, in one commit, as the
 * migration does for the rows of before. 1 when adopted.
 */
static int adopt(pb_store *st, int64_t id)
{
	static const char *const sql[] = {
		"INSERT OR IGNORE INTO bridge_msg_kind (msg_id, kind)"
		"  SELECT id, substr(backend, instr(backend, ':') + 1) FROM messages"
		"  WHERE id = ?1 AND instr(backend, ':') > 0"
		"    AND substr(backend, instr(backend, ':') + 1) IN (" KINDS ")",
		"UPDATE messages SET backend = substr(backend, 1, instr(backend, ':') - 1)"
		"  WHERE id = ?1 AND instr(backend, ':') > 0 AND id IN (SELECT msg_id FROM bridge_msg_kind)",
	};
	int rc = pb_store_begin(st);
	if (rc < 0)
		return rc;
	int64_t changed = 0;
	for (size_t i = 0; rc == 0 && i < 2; i++) {
		sqlite3_stmt *s;
		if ((rc = prepare(st, sql[i], &s)) < 0)
			break;
		sqlite3_bind_int64(s, 1, id);
		if ((rc = run(st, s, "adopt a row")) == 0 && i == 0)
			changed = sqlite3_changes(pb_store_sqlite(st));
	}
	if (rc < 0) {
		pb_store_rollback(st);
		return rc;
	}
	rc = pb_store_commit(st);
	return rc < 0 ? rc : changed > 0;
}

static int lookup_kind(pb_store *st, int64_t id, const char **kind, bool *found)
{
	sqlite3_stmt *s;
	*kind = "other";
	*found = false;
	int rc = prepare(st, "SELECT kind FROM bridge_msg_kind WHERE msg_id = ?1", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	int x = sqlite3_step(s);
	if (x == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);
		*found = true;
		for (size_t i = 0; k && i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (!strcmp(k, kinds[i]))
				*kind = kinds[i];
	}
	rc = x == SQLITE_ROW || x == SQLITE_DONE ? 0 : db_error(st, "read the kind of a row");
	sqlite3_finalize(s);
	return rc;
}

int pbb_msg_kind(pb_store *st, const pb_store_msg *r, const char **kind)
{
	bool found;
	int rc = lookup_kind(st, r->id, kind, &found);
	if (rc < 0 || found || !r->backend || !strchr(r->backend, ':'))
		return rc;
	/* not the bridge's own: another writer's row, adopted once */
	if ((rc = adopt(st, r->id)) <= 0)
		return rc;
	return lookup_kind(st, r->id, kind, &found);
}

int pbb_msg_is(pb_store *st, const pb_store_msg *r, const char *kind)
{
	const char *k;
	int rc = pbb_msg_kind(st, r, &k);
	return rc < 0 ? rc : !strcmp(k, kind);
}

int pbb_tables_migrate(pb_store *st)
{
	int version = 0;
	int rc = pb_store_app_schema(st, "bridge", bridge_steps, sizeof(bridge_steps) / sizeof(bridge_steps[0]), NULL, &version);
	if (rc < 0)
		pbb_log(PB_LOG_ERROR, "store: the bridge's tables: %s", pb_error_last()->message);
	return rc;
}
