/*
 * libphonebridge — the store's PostgreSQL backend (libpq): what the
 * screeners of a cluster share (allow/deny lists, attempt counters, the call
 * log, kv), selected by a postgresql:// URL (docs/store.md, "PostgreSQL").
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every statement with values is a named prepared statement, prepared once
 * per connection (again after a reconnect). A connection found dropped is
 * reset before the next statement; a statement that the drop interrupted is
 * sent again only when sending it twice changes nothing (reads, upserts,
 * deletes); an insert whose outcome is unknown says so (PB_EIO) and is not
 * repeated.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/store-private.h"

#include <phonebridge/secret.h>

struct pb_store_pg {
	PGconn *conn;
	uint64_t prepared; /* bit i: statement i is prepared on this connection */
	int timeout_ms;    /* statement_timeout */
};

enum {
	Q_LIST_ADD,
	Q_LIST_REMOVE,
	Q_LIST_LOOKUP,
	Q_LIST_WALK,
	Q_LIST_EXPIRE,
	Q_ATT_RECORD,
	Q_ATT_COUNT,
	Q_ATT_PRUNE,
	Q_CALL_LOG,
	Q_CALL_RECENT,
	Q_CALL_DAILY,
	Q_CALL_AFTER,
	Q_KV_SET,
	Q_KV_GET,
	Q_KV_DELETE,
	Q_PING,
	Q_NUM_SET,
	Q_NUM_GET,
	Q_NUM_WALK,
	Q_NUM_REMOVE,
	Q_COUNT
};

#define CALL_COLUMNS \
	"id, at, caller, attestation, verdict, challenge, duration_ms, forward_target, called, rule, sip_status, ended, " \
	"source, count"

static const struct {
	const char *sql;
	int nparams;
	bool idempotent; /* may be sent again after a drop left its outcome unknown */
} queries[Q_COUNT] = {
	[Q_LIST_ADD] = { "INSERT INTO screen_list (list, number, source, created_at, expires_at) "
			 "VALUES ($1::int, $2, $3::int, $4::bigint, $5::bigint) ON CONFLICT (list, number) DO UPDATE SET "
			 "source = excluded.source, created_at = excluded.created_at, expires_at = excluded.expires_at",
			 5, true },
	[Q_LIST_REMOVE] = { "DELETE FROM screen_list WHERE list = $1::int AND number = $2", 2, true },
	[Q_LIST_LOOKUP] = { "SELECT source, created_at, expires_at FROM screen_list "
			    "WHERE list = $1::int AND number = $2 AND (expires_at = 0 OR expires_at > $3::bigint)",
			    3, true },
	[Q_LIST_WALK] = { "SELECT number, source, created_at, expires_at FROM screen_list "
			  "WHERE list = $1::int AND number > $2 AND (expires_at = 0 OR expires_at > $3::bigint) "
			  "ORDER BY number LIMIT $4::bigint",
			  4, true },
	[Q_LIST_EXPIRE] = { "DELETE FROM screen_list WHERE expires_at != 0 AND expires_at <= $1::bigint", 1, true },
	[Q_ATT_RECORD] = { "INSERT INTO screen_attempts (number, at, failed) VALUES ($1, $2::bigint, $3::int)", 3,
			   false },
	[Q_ATT_COUNT] = { "SELECT count(*) FROM screen_attempts WHERE number = $1 AND at >= $2::bigint "
			  "AND failed >= $3::int",
			  3, true },
	[Q_ATT_PRUNE] = { "DELETE FROM screen_attempts WHERE at < $1::bigint", 1, true },
	[Q_CALL_LOG] = { "INSERT INTO calls (at, caller, attestation, verdict, challenge, duration_ms, forward_target, "
			 "called, rule, sip_status, ended, source, count) VALUES ($1::bigint, $2, $3, $4, $5, $6::bigint, "
			 "$7, $8, $9, $10::int, $11, $12, $13::int) RETURNING id",
			 13, false },
	[Q_CALL_RECENT] = { "SELECT " CALL_COLUMNS " FROM calls WHERE id > $2::bigint "
			    "ORDER BY at DESC, id DESC LIMIT $1::bigint",
			    2, true },
	[Q_CALL_DAILY] = { "SELECT (at - $1::bigint) / 86400000, sum(count) FROM calls "
			   "WHERE at >= $1::bigint AND at < $2::bigint GROUP BY 1",
			   2, true },
	[Q_CALL_AFTER] = { "SELECT " CALL_COLUMNS " FROM calls WHERE id > $2::bigint ORDER BY id LIMIT $1::bigint", 2,
			   true },
	[Q_KV_SET] = { "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3::bigint) "
		       "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
		       3, true },
	[Q_KV_GET] = { "SELECT value FROM kv WHERE key = $1", 1, true },
	[Q_KV_DELETE] = { "DELETE FROM kv WHERE key = $1", 1, true },
	[Q_PING] = { "SELECT 1", 0, true },
	[Q_NUM_SET] = { "INSERT INTO numbers (number, policy, forward_target, voicemail, updated_at) "
			"VALUES ($1, $2, $3, $4, $5::bigint) ON CONFLICT (number) DO UPDATE SET policy = excluded.policy, "
			"forward_target = excluded.forward_target, voicemail = excluded.voicemail, "
			"updated_at = excluded.updated_at",
			5, true },
	[Q_NUM_GET] = { "SELECT number, policy, forward_target, voicemail, updated_at FROM numbers WHERE number = $1", 1,
			true },
	[Q_NUM_WALK] = { "SELECT number, policy, forward_target, voicemail, updated_at FROM numbers "
			 "WHERE number > $1 ORDER BY number LIMIT $2::bigint",
			 2, true },
	[Q_NUM_REMOVE] = { "DELETE FROM numbers WHERE number = $1", 1, true },
};

/* --- errors ------------------------------------------------------------------------- */

/* libpq's messages end with a newline (or two lines for a detail). */
static const char *first_line(const char *msg, char *buf, size_t size)
{
	snprintf(buf, size, "%s", msg && *msg ? msg : "(no message)");
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static int conn_error(pb_store *st, int code, const char *what)
{
	char line[512];
	return pb_error_set(code, "store: PostgreSQL: %s: %s", what,
			    first_line(PQerrorMessage(st->pg->conn), line, sizeof(line)));
}

/* The pb code of a failed statement, from its SQLSTATE (PostgreSQL
 * documentation, appendix A "PostgreSQL Error Codes"). */
static int result_error(pb_store *st, const PGresult *res, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	int code = PB_EIO;
	if (res == NULL) /* libpq's own failure: out of memory, unless the connection is gone */
		code = PQstatus(st->pg->conn) == CONNECTION_OK ? PB_ENOMEM : PB_EIO;
	else if (state && !strcmp(state, "23505"))
		code = PB_EEXISTS; /* unique_violation */
	else if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03") ||
			   !strcmp(state, "57014")))
		code = PB_EBUSY; /* serialization, deadlock, lock timeout, statement timeout */
	else if (state && (!strcmp(state, "53100") || !strcmp(state, "54000")))
		code = PB_ETOOBIG; /* disk full, program limit */
	else if (state && !strcmp(state, "53200"))
		code = PB_ENOMEM;
	char line[512];
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(st->pg->conn);
	return pb_error_set(code, "store: PostgreSQL: %s: %s", what, first_line(msg, line, sizeof(line)));
}

/* --- connection ----------------------------------------------------------------------- */

/* A new connection (or a reset one) has no prepared statements, and the
 * session settings the store relies on. */
static int session_setup(pb_store *st)
{
	st->pg->prepared = 0;
	char sql[96];
	snprintf(sql, sizeof(sql), "SET statement_timeout = %d; SET client_min_messages = warning",
		 st->pg->timeout_ms);
	PGresult *r = PQexec(st->pg->conn, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : result_error(st, r, "statement_timeout");
	PQclear(r);
	return rc;
}

static bool dropped(pb_store *st)
{
	return PQstatus(st->pg->conn) != CONNECTION_OK;
}

static int reconnect(pb_store *st)
{
	pb_log_warning("store", "PostgreSQL connection lost; reconnecting");
	PQreset(st->pg->conn);
	if (dropped(st))
		return conn_error(st, PB_EIO, "the connection was lost and reconnecting failed");
	pb_log_notice("store", "PostgreSQL connection re-established");
	return session_setup(st);
}

static int prepare(pb_store *st, int q)
{
	if (st->pg->prepared & (UINT64_C(1) << q))
		return 0;
	char name[16];
	snprintf(name, sizeof(name), "pb%d", q);
	PGresult *r = PQprepare(st->pg->conn, name, queries[q].sql, queries[q].nparams, NULL);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : result_error(st, r, "prepare");
	PQclear(r);
	if (rc == 0)
		st->pg->prepared |= UINT64_C(1) << q;
	return rc;
}

/*
 * Run prepared statement @q with text parameters @v (NULL: SQL NULL). On
 * success *out holds the result (PQclear()). A connection found dropped
 * before anything was sent is reset first; one that drops during the
 * statement is reset and the statement sent once more only when it is
 * idempotent and no user transaction is open; otherwise the caller learns
 * that the outcome is unknown.
 */
static int run(pb_store *st, int q, const char *const *v, const char *what, PGresult **out)
{
	*out = NULL;
	for (int attempt = 0;; attempt++) {
		if (dropped(st)) {
			if (st->user_txn)
				return conn_error(st, PB_EIO, "the connection was lost inside a transaction");
			int rc = reconnect(st);
			if (rc < 0)
				return rc;
		}
		int rc = prepare(st, q);
		if (rc == 0) {
			char name[16];
			snprintf(name, sizeof(name), "pb%d", q);
			PGresult *r = PQexecPrepared(st->pg->conn, name, queries[q].nparams, v, NULL, NULL, 0);
			ExecStatusType s = PQresultStatus(r);
			if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
				*out = r;
				return 0;
			}
			if (!dropped(st)) {
				rc = result_error(st, r, what);
				PQclear(r);
				return rc;
			}
			PQclear(r);
			if (!queries[q].idempotent || st->user_txn || attempt > 0)
				return conn_error(st, PB_EIO, queries[q].idempotent
					? "the connection was lost during the statement"
					: "the connection was lost during the statement; whether it took effect is unknown");
			continue; /* idempotent: reconnect and send it again */
		}
		if (!dropped(st) || st->user_txn || attempt > 0)
			return rc; /* nothing was executed */
	}
}

static int64_t int_at(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Decimal text of a number, in a caller's buffer. */
#define NUM(buf, x) (snprintf((buf), sizeof(buf), "%" PRId64, (int64_t)(x)), (const char *)(buf))

/* --- opening and the schema -------------------------------------------------------------- */

static int exec_simple(pb_store *st, const char *sql, const char *what)
{
	PGresult *r = PQexec(st->pg->conn, sql);
	ExecStatusType s = PQresultStatus(r);
	int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : result_error(st, r, what);
	PQclear(r);
	return rc;
}

/* The key of the advisory lock that serialises migrations of one database
 * by several nodes starting at once ("pbschema" in ASCII). */
#define SCHEMA_LOCK "7062736368656d61"

static int migrate_locked(pb_store *st, int target)
{
	int rc = exec_simple(st, "CREATE TABLE IF NOT EXISTS pb_schema (version INTEGER NOT NULL)", "schema table");
	if (rc < 0)
		return rc;
	PGresult *r = PQexec(st->pg->conn, "SELECT max(version) FROM pb_schema");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = result_error(st, r, "read schema version");
		PQclear(r);
		return rc;
	}
	int version = (int)int_at(r, 0, 0);
	PQclear(r);
	if (version > PB_STORE_SCHEMA_VERSION)
		return pb_error_set(PB_EUNSUPPORTED, "store: database schema %d is newer than this library's (%d)",
				    version, PB_STORE_SCHEMA_VERSION);
	for (int v = version + 1; v <= target && rc == 0; v++) {
		for (size_t i = 0; rc == 0 && i < pb_store__schema_len; i++) {
			const char *sql = pb_store__schema_sql(&pb_store__schema[i], true);
			if (pb_store__schema[i].version == v && sql)
				rc = exec_simple(st, sql, "schema migration");
		}
		char sql[80];
		snprintf(sql, sizeof(sql), "DELETE FROM pb_schema; INSERT INTO pb_schema VALUES (%d)", v);
		if (rc == 0)
			rc = exec_simple(st, sql, "schema version");
		if (rc == 0)
			pb_log_info("store", "PostgreSQL schema migrated to version %d", v);
	}
	st->schema_version = version > target ? version : target;
	return rc;
}

static int migrate(pb_store *st, int target)
{
	int rc = exec_simple(st, "BEGIN", "begin migration");
	if (rc == 0)
		rc = exec_simple(st, "SELECT pg_advisory_xact_lock(x'" SCHEMA_LOCK "'::bigint)", "schema lock");
	if (rc == 0)
		rc = migrate_locked(st, target);
	if (rc == 0)
		return exec_simple(st, "COMMIT", "commit migration");
	PGresult *r = PQexec(st->pg->conn, "ROLLBACK");
	PQclear(r);
	return rc;
}

/* A password in the URL would be a secret in a configuration file. */
static int check_url(const char *url)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	if (opts == NULL) {
		char line[256];
		int rc = pb_error_set(err ? PB_EINVAL : PB_ENOMEM, "store: bad PostgreSQL URL: %s",
				      err ? first_line(err, line, sizeof(line)) : "out of memory");
		PQfreemem(err);
		return rc;
	}
	int rc = 0;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val && *o->val)
			rc = pb_error_set(PB_EINVAL, "store: the PostgreSQL URL holds a password: "
						     "put it in a file of its own (password_file) instead");
	PQconninfoFree(opts);
	return rc;
}

int pb_store__pg_open(pb_store *st, const char *url, const pb_store_options *o, int target)
{
	int rc = check_url(url);
	if (rc < 0)
		return rc;
	char *password = NULL;
	if (o->password_file && *o->password_file &&
	    (rc = pb_secret_read(o->password_file, &password)) < 0)
		return rc;
	st->pg = pb_calloc(1, sizeof(*st->pg));
	if (st->pg == NULL) {
		pb_secret_free(password);
		return PB_ENOMEM;
	}
	st->pg->timeout_ms = (int)o->busy_timeout_ms;
	/* Later keywords win over earlier ones, and the URL (dbname, expanded)
	 * over the defaults before it: TLS is verified unless the URL says
	 * otherwise (sslmode; a socket directory as host uses no TLS). The
	 * store's calls block their thread (the screener's event loop): a
	 * server that vanishes without closing the connection must not hold it
	 * for the kernel's retransmission timeout (minutes), so TCP gives up
	 * after 10 s of unacknowledged data (tcp_user_timeout) and an idle
	 * connection is probed (keepalives). */
	const char *kw[] = { "sslmode", "connect_timeout", "tcp_user_timeout", "keepalives_idle",
			     "keepalives_interval", "keepalives_count", "application_name", "dbname", "password",
			     NULL };
	const char *val[] = { "verify-full", "10", "10000", "30", "5", "3", "libphonebridge", url, password, NULL };
	if (password == NULL)
		kw[8] = NULL;
	st->pg->conn = PQconnectdbParams(kw, val, 1);
	pb_secret_free(password);
	if (st->pg->conn == NULL)
		return pb_error_set(PB_ENOMEM, "store: PostgreSQL: out of memory");
	if (PQstatus(st->pg->conn) != CONNECTION_OK) {
		const char *m = PQerrorMessage(st->pg->conn);
		int code = strstr(m, "password") || strstr(m, "authentication") ? PB_EAUTH : PB_EIO;
		return conn_error(st, code, "cannot connect");
	}
	rc = session_setup(st);
	if (rc == 0)
		rc = migrate(st, target);
	return rc;
}

void pb_store__pg_close(pb_store *st)
{
	if (st->pg == NULL)
		return;
	PQfinish(st->pg->conn);
	pb_free(st->pg);
	st->pg = NULL;
}

int pb_store__pg_check(pb_store *st)
{
	PGresult *r;
	int rc = run(st, Q_PING, NULL, "check", &r);
	PQclear(r);
	return rc;
}

int pb_store__pg_txn(pb_store *st, const char *sql)
{
	if (dropped(st) && !strcmp(sql, "BEGIN") && reconnect(st) < 0)
		return PB_EIO;
	return exec_simple(st, sql, sql);
}

/* --- screening data ---------------------------------------------------------------------- */

int pb_store__pg_list_add(pb_store *st, int list, const char *number, int source, int64_t created,
			  int64_t expires_at)
{
	char a[24], b[24], c[24], d[24];
	const char *v[] = { NUM(a, list), number, NUM(b, source), NUM(c, created), NUM(d, expires_at) };
	PGresult *r;
	int rc = run(st, Q_LIST_ADD, v, "add to list", &r);
	PQclear(r);
	return rc;
}

static int64_t changes_of(const PGresult *r)
{
	const char *n = PQcmdTuples((PGresult *)r);
	return n && *n ? strtoll(n, NULL, 10) : 0;
}

int pb_store__pg_list_remove(pb_store *st, int list, const char *number, int64_t *changes)
{
	char a[24];
	const char *v[] = { NUM(a, list), number };
	PGresult *r;
	int rc = run(st, Q_LIST_REMOVE, v, "remove from list", &r);
	*changes = rc == 0 ? changes_of(r) : 0;
	PQclear(r);
	return rc;
}

int pb_store__pg_list_lookup(pb_store *st, int list, const char *number, int64_t now,
			     pb_store_list_entry *entry)
{
	char a[24], b[24];
	const char *v[] = { NUM(a, list), number, NUM(b, now) };
	PGresult *r;
	int rc = run(st, Q_LIST_LOOKUP, v, "list lookup", &r);
	if (rc < 0)
		return rc;
	if (PQntuples(r) == 0) {
		rc = pb_error_set(PB_ENOTFOUND, "store: %s is not on the %s list", number,
				  list == PB_STORE_ALLOW ? "allow" : "deny");
	} else if (entry) {
		entry->list = list;
		entry->source = (int)int_at(r, 0, 0);
		entry->created_at = int_at(r, 0, 1);
		entry->expires_at = int_at(r, 0, 2);
	}
	PQclear(r);
	return rc;
}

int pb_store__pg_list_foreach(pb_store *st, int list, const char *after, size_t limit, int64_t now,
			      pb_store_list_cb cb, void *userdata)
{
	char a[24], b[24], c[24];
	const char *v[] = { NUM(a, list), after ? after : "", NUM(b, now), limit ? NUM(c, limit) : NULL };
	PGresult *r;
	int rc = run(st, Q_LIST_WALK, v, "list walk", &r);
	if (rc < 0)
		return rc;
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		pb_store_list_entry e = { list, (int)int_at(r, i, 1), int_at(r, i, 2), int_at(r, i, 3) };
		rc = cb(PQgetvalue(r, i, 0), &e, userdata);
	}
	PQclear(r);
	return rc;
}

int pb_store__pg_delete_before(pb_store *st, int which, int64_t t, int64_t *removed)
{
	char a[24];
	const char *v[] = { NUM(a, t) };
	PGresult *r;
	int q = which == PB_STORE_PG_LIST_EXPIRE ? Q_LIST_EXPIRE : Q_ATT_PRUNE;
	int rc = run(st, q, v, which == PB_STORE_PG_LIST_EXPIRE ? "expire list entries" : "prune attempts", &r);
	if (removed)
		*removed = rc == 0 ? changes_of(r) : 0;
	PQclear(r);
	return rc;
}

int pb_store__pg_attempt_record(pb_store *st, const char *number, int64_t at, bool failed)
{
	char a[24];
	const char *v[] = { number, NUM(a, at), failed ? "1" : "0" };
	PGresult *r;
	int rc = run(st, Q_ATT_RECORD, v, "record attempt", &r);
	PQclear(r);
	return rc;
}

int pb_store__pg_attempt_count(pb_store *st, const char *number, int64_t since, bool failed_only,
			       int64_t *count)
{
	char a[24];
	const char *v[] = { number, NUM(a, since), failed_only ? "1" : "0" };
	PGresult *r;
	int rc = run(st, Q_ATT_COUNT, v, "count attempts", &r);
	if (rc == 0)
		*count = int_at(r, 0, 0);
	PQclear(r);
	return rc;
}

int pb_store__pg_call_log(pb_store *st, const pb_store_call *c, int64_t at, int64_t *id)
{
	char a[24], b[24], d[24], e[24];
	const char *v[] = { NUM(a, at), c->caller, c->attestation, c->verdict, c->challenge,
			    NUM(b, c->duration_ms), c->forward_target, c->called, c->rule,
			    NUM(d, c->sip_status), c->ended, c->source, NUM(e, c->count ? c->count : 1) };
	PGresult *r;
	int rc = run(st, Q_CALL_LOG, v, "log call", &r);
	if (rc == 0 && id)
		*id = int_at(r, 0, 0);
	PQclear(r);
	return rc;
}

static const char *col_pack(pb_store_pack *k, const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	size_t n = (size_t)PQgetlength(r, row, col);
	char *s = k->p;
	memcpy(s, PQgetvalue(r, row, col), n);
	s[n] = '\0';
	k->p += n + 1;
	return s;
}

/* One row into a call whose strings share one block (the order
 * pb_store__call_release() expects: caller first). */
static int copy_call(const PGresult *r, int i, pb_store_call *c)
{
	static const int text_cols[] = { 2, 3, 4, 5, 7, 8, 9, 11, 12 };
	size_t need = 0;
	for (size_t j = 0; j < PB_ARRAY_SIZE(text_cols); j++)
		if (!PQgetisnull(r, i, text_cols[j]))
			need += (size_t)PQgetlength(r, i, text_cols[j]) + 1;
	char *mem = NULL;
	if (need > 0 && (mem = pb_malloc(need)) == NULL)
		return pb_error__oom();
	pb_store_pack k = { mem };
	c->id = int_at(r, i, 0);
	c->at = int_at(r, i, 1);
	c->caller = col_pack(&k, r, i, 2);
	c->attestation = col_pack(&k, r, i, 3);
	c->verdict = col_pack(&k, r, i, 4);
	c->challenge = col_pack(&k, r, i, 5);
	c->duration_ms = int_at(r, i, 6);
	c->forward_target = col_pack(&k, r, i, 7);
	c->called = col_pack(&k, r, i, 8);
	c->rule = col_pack(&k, r, i, 9);
	c->sip_status = (int)int_at(r, i, 10);
	c->ended = col_pack(&k, r, i, 11);
	c->source = col_pack(&k, r, i, 12);
	c->count = int_at(r, i, 13);
	return 0;
}

int pb_store__pg_call_query(pb_store *st, bool recent, int64_t after_id, size_t limit, pb_store_call_list *l)
{
	char a[24], b[24];
	const char *v[] = { limit ? NUM(a, limit) : NULL, NUM(b, after_id) };
	PGresult *r;
	int rc = run(st, recent ? Q_CALL_RECENT : Q_CALL_AFTER, v, "calls", &r);
	if (rc < 0)
		return rc;
	size_t n = (size_t)PQntuples(r);
	if (n > 0 && (l->items = pb_calloc(n, sizeof(*l->items))) == NULL)
		rc = pb_error__oom();
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = copy_call(r, (int)i, &l->items[i]);
		if (rc == 0)
			l->count++;
	}
	PQclear(r);
	if (rc < 0) {
		pb_store__items_free(l->items, l->count, sizeof(*l->items), pb_store__call_release);
		l->items = NULL;
		l->count = 0;
	}
	return rc;
}

int pb_store__pg_call_daily(pb_store *st, pb_store_days *d)
{
	char a[24], b[24];
	const char *v[] = { NUM(a, d->day0_ms), NUM(b, d->end_ms) };
	PGresult *r;
	int rc = run(st, Q_CALL_DAILY, v, "counts per day", &r);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(r); i++)
		pb_store__days_put(d, int_at(r, i, 0), int_at(r, i, 1));
	PQclear(r);
	return 0;
}

/* --- kv ------------------------------------------------------------------------------------- */

int pb_store__pg_kv_set(pb_store *st, const char *key, const char *value, int64_t now)
{
	char a[24];
	const char *v[] = { key, value, NUM(a, now) };
	PGresult *r;
	int rc = run(st, Q_KV_SET, v, "kv set", &r);
	PQclear(r);
	return rc;
}

int pb_store__pg_kv_get(pb_store *st, const char *key, char **value)
{
	const char *v[] = { key };
	PGresult *r;
	int rc = run(st, Q_KV_GET, v, "kv get", &r);
	if (rc < 0)
		return rc;
	if (PQntuples(r) == 0) {
		rc = pb_error_set(PB_ENOTFOUND, "store: no value for %s", key);
	} else {
		*value = pb_strdup(PQgetvalue(r, 0, 0));
		rc = *value ? 0 : pb_error__oom();
	}
	PQclear(r);
	return rc;
}

int pb_store__pg_kv_delete(pb_store *st, const char *key)
{
	const char *v[] = { key };
	PGresult *r;
	int rc = run(st, Q_KV_DELETE, v, "kv delete", &r);
	PQclear(r);
	return rc;
}

/* --- per-number settings ------------------------------------------------------------------ */

int pb_store__pg_number_set(pb_store *st, const pb_store_number *n)
{
	char a[24];
	const char *v[] = { n->number, n->policy, n->forward_target, n->voicemail, NUM(a, n->updated_at) };
	PGresult *r;
	int rc = run(st, Q_NUM_SET, v, "set number", &r);
	PQclear(r);
	return rc;
}

static const char *text_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

int pb_store__pg_number_walk(pb_store *st, const char *exact, const char *after, size_t limit,
			     pb_store_number_cb cb, void *userdata)
{
	char a[24];
	const char *v[] = { exact ? exact : after, limit ? NUM(a, limit) : NULL };
	PGresult *r;
	int rc = exact ? run(st, Q_NUM_GET, v, "get number", &r) : run(st, Q_NUM_WALK, v, "number walk", &r);
	if (rc < 0)
		return rc;
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		pb_store_number n = { PQgetvalue(r, i, 0), text_or_null(r, i, 1), text_or_null(r, i, 2),
				      text_or_null(r, i, 3), int_at(r, i, 4) };
		rc = cb(&n, userdata);
	}
	PQclear(r);
	return rc;
}

int pb_store__pg_number_remove(pb_store *st, const char *number, int64_t *changes)
{
	const char *v[] = { number };
	PGresult *r;
	int rc = run(st, Q_NUM_REMOVE, v, "remove number", &r);
	*changes = rc == 0 ? changes_of(r) : 0;
	PQclear(r);
	return rc;
}
