/*
 * libphonebridge — counts per day of the call log (a row of aggregated
 * refusals stands for its count of calls) and the journal, for the
 * daemons' status pages (one GROUP BY query, not a walk of every row).
 * The window and its buckets are one piece of code for both backends
 * (pb_store_days); the SQL is each backend's own (here SQLite's, pg.c's
 * Q_CALL_DAILY for PostgreSQL).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store-private.h"

#define DAY_MS 86400000LL

int pb_store__days_begin(pb_store_days *d, int64_t day0_ms, unsigned days, int64_t *counts)
{
	if (days == 0 || days > PB_STORE_DAILY_MAX)
		return pb_error_set(PB_EINVAL, "counts per day: %u days (1 to %d)", days, PB_STORE_DAILY_MAX);
	if (day0_ms < 0 || day0_ms > INT64_MAX - (int64_t)days * DAY_MS)
		return pb_error_set(PB_EINVAL, "counts per day: first day out of range");
	d->day0_ms = day0_ms;
	d->end_ms = day0_ms + (int64_t)days * DAY_MS;
	d->days = days;
	d->counts = counts;
	for (unsigned i = 0; i < days; i++)
		counts[i] = 0;
	return 0;
}

void pb_store__days_put(pb_store_days *d, int64_t day, int64_t count)
{
	if (day >= 0 && day < (int64_t)d->days)
		d->counts[day] += count;
}

/* The rows (day index, count) of @s, bound to the window, into @d's buckets. */
static int sqlite_days(pb_store *st, sqlite3_stmt *s, pb_store_days *d)
{
	sqlite3_bind_int64(s, 1, d->day0_ms);
	sqlite3_bind_int64(s, 2, d->end_ms);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		pb_store__days_put(d, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : pb_store__error(st, rc, "counts per day");
}

PB_API int pb_store_call_daily(pb_store *st, int64_t day0_ms, unsigned days, int64_t *counts)
{
	static const char sql[] = "SELECT (at - ?1) / 86400000, sum(count) FROM calls "
				  "WHERE at >= ?1 AND at < ?2 GROUP BY 1";
	pb_store_days d;
	int rc = pb_store__days_begin(&d, day0_ms, days, counts);
	if (rc == 0 && st->pg) /* a cluster's call log */
		return pb_store__pg_call_daily(st, &d);
	sqlite3_stmt *s = NULL;
	if (rc == 0)
		rc = pb_store__stmt(st, sql, &s);
	return rc < 0 ? rc : sqlite_days(st, s, &d);
}

PB_API int pb_store_msg_daily(pb_store *st, pb_store_dir dir, pb_store_state state, const char *backend_glob, int64_t day0_ms,
			      unsigned days, int64_t *counts)
{
	static const char sql[] = "SELECT (updated_at - ?1) / 86400000, count(*) FROM messages "
				  "WHERE dir = ?3 AND state = ?4 AND updated_at >= ?1 AND updated_at < ?2 "
				  "AND (?5 IS NULL OR backend GLOB ?5) GROUP BY 1";
	PB_STORE_SQLITE_ONLY(st, "pb_store_msg_daily"); /* the journal is SQLite's */
	pb_store_days d;
	int rc = pb_store__days_begin(&d, day0_ms, days, counts);
	sqlite3_stmt *s = NULL;
	if (rc == 0)
		rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 3, dir);
	sqlite3_bind_int(s, 4, state);
	pb_store__bind_text(s, 5, backend_glob);
	return sqlite_days(st, s, &d);
}
