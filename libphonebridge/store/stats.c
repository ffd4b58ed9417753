/*
 * libphonebridge — counts per day of the call log (a row of aggregated
 * refusals stands for its count of calls) and the journal, for the
 * daemons' status pages (one GROUP BY query, not a walk of every row).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store-private.h"

#define DAY_MS 86400000LL

static int daily(pb_store *st, sqlite3_stmt *s, unsigned days, int64_t *counts)
{
	for (unsigned i = 0; i < days; i++)
		counts[i] = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t day = sqlite3_column_int64(s, 0);
		if (day >= 0 && day < (int64_t)days)
			counts[day] = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : pb_store__error(st, rc, "counts per day");
}

static int check_days(unsigned days, int64_t day0_ms)
{
	if (days == 0 || days > PB_STORE_DAILY_MAX)
		return pb_error_set(PB_EINVAL, "counts per day: %u days (1 to %d)", days, PB_STORE_DAILY_MAX);
	if (day0_ms < 0 || day0_ms > INT64_MAX - (int64_t)days * DAY_MS)
		return pb_error_set(PB_EINVAL, "counts per day: first day out of range");
	return 0;
}

PB_API int pb_store_call_daily(pb_store *st, int64_t day0_ms, unsigned days, int64_t *counts)
{
	static const char sql[] = "SELECT (at - ?1) / 86400000, sum(count) FROM calls "
				  "WHERE at >= ?1 AND at < ?2 GROUP BY 1";
	int rc = check_days(days, day0_ms);
	if (rc == 0 && st->pg) /* a cluster's call log */
		return pb_store__pg_call_daily(st, day0_ms, day0_ms + (int64_t)days * DAY_MS, days, counts);
	sqlite3_stmt *s = NULL;
	if (rc == 0)
		rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, day0_ms);
	sqlite3_bind_int64(s, 2, day0_ms + (int64_t)days * DAY_MS);
	return daily(st, s, days, counts);
}

PB_API int pb_store_msg_daily(pb_store *st, pb_store_dir dir, pb_store_state state, const char *backend_glob, int64_t day0_ms,
			      unsigned days, int64_t *counts)
{
	static const char sql[] = "SELECT (updated_at - ?1) / 86400000, count(*) FROM messages "
				  "WHERE dir = ?3 AND state = ?4 AND updated_at >= ?1 AND updated_at < ?2 "
				  "AND (?5 IS NULL OR backend GLOB ?5) GROUP BY 1";
	PB_STORE_SQLITE_ONLY(st, "pb_store_msg_daily"); /* the journal is SQLite's */
	int rc = check_days(days, day0_ms);
	sqlite3_stmt *s = NULL;
	if (rc == 0)
		rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, day0_ms);
	sqlite3_bind_int64(s, 2, day0_ms + (int64_t)days * DAY_MS);
	sqlite3_bind_int(s, 3, dir);
	sqlite3_bind_int(s, 4, state);
	pb_store__bind_text(s, 5, backend_glob);
	return daily(st, s, days, counts);
}
