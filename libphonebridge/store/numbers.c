/*
 * libphonebridge — per-number settings: the own numbers a screener answers
 * for, each with its policy, forward target and voicemail target (a cluster
 * serving many numbers from one database, docs/cluster.md).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "store/store-private.h"

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

PB_API int pb_store_number_set(pb_store *st, const pb_store_number *n)
{
	static const char sql[] =
		"INSERT INTO numbers (number, policy, forward_target, voicemail, updated_at) "
		"VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (number) DO UPDATE SET policy = excluded.policy, "
		"forward_target = excluded.forward_target, voicemail = excluded.voicemail, "
		"updated_at = excluded.updated_at";
	if (st == NULL || n == NULL || n->number == NULL || *n->number == '\0')
		return pb_error_set(PB_EINVAL, "pb_store_number_set: no number");
	pb_store_number v = { n->number, nonempty(n->policy), nonempty(n->forward_target), nonempty(n->voicemail),
			      pb_store__now() };
	if (st->pg)
		return pb_store__pg_number_set(st, &v);
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, v.number);
	pb_store__bind_text(s, 2, v.policy);
	pb_store__bind_text(s, 3, v.forward_target);
	pb_store__bind_text(s, 4, v.voicemail);
	sqlite3_bind_int64(s, 5, v.updated_at);
	return pb_store__run(st, s, "set number");
}

/* A copy of @n in one allocation: the struct, then its strings. */
static pb_store_number *number_copy(const pb_store_number *n)
{
	const char *f[4] = { n->number, n->policy, n->forward_target, n->voicemail };
	size_t need = sizeof(pb_store_number);
	for (int i = 0; i < 4; i++)
		need += f[i] ? strlen(f[i]) + 1 : 0;
	pb_store_number *c = pb_malloc(need);
	if (c == NULL) {
		pb_error__oom();
		return NULL;
	}
	char *p = (char *)(c + 1);
	const char **dst[4] = { &c->number, &c->policy, &c->forward_target, &c->voicemail };
	for (int i = 0; i < 4; i++) {
		*dst[i] = NULL;
		if (f[i]) {
			size_t len = strlen(f[i]) + 1;
			memcpy(p, f[i], len);
			*dst[i] = p;
			p += len;
		}
	}
	c->updated_at = n->updated_at;
	return c;
}

PB_API void pb_store_number_free(pb_store_number *n)
{
	pb_free(n);
}

/* The row @s stands on, as a borrowed view. */
static pb_store_number row_view(sqlite3_stmt *s)
{
	pb_store_number n = { (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
			      (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3),
			      sqlite3_column_int64(s, 4) };
	return n;
}

static int keep_one(const pb_store_number *n, void *ud)
{
	pb_store_number **out = ud;
	*out = number_copy(n);
	return *out ? 1 : PB_ENOMEM;
}

PB_API int pb_store_number_get(pb_store *st, const char *number, pb_store_number **out)
{
	static const char sql[] =
		"SELECT number, policy, forward_target, voicemail, updated_at FROM numbers WHERE number = ?1";
	if (out)
		*out = NULL;
	if (st == NULL || number == NULL || out == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_number_get: NULL argument");
	int rc;
	if (st->pg) {
		rc = pb_store__pg_number_walk(st, number, NULL, 1, keep_one, out);
	} else {
		sqlite3_stmt *s = NULL;
		rc = pb_store__stmt(st, sql, &s);
		if (rc < 0)
			return rc;
		pb_store__bind_text(s, 1, number);
		int r = sqlite3_step(s);
		if (r == SQLITE_ROW) {
			pb_store_number v = row_view(s);
			rc = keep_one(&v, out);
		} else if (r != SQLITE_DONE) {
			rc = pb_store__error(st, r, "get number");
		}
		sqlite3_reset(s);
	}
	if (rc == 1)
		return 0;
	if (rc == 0)
		return pb_error_set(PB_ENOTFOUND, "store: no settings for %s", number);
	return rc;
}

PB_API int pb_store_number_remove(pb_store *st, const char *number)
{
	static const char sql[] = "DELETE FROM numbers WHERE number = ?1";
	if (st == NULL || number == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_number_remove: NULL argument");
	int64_t changes = 0;
	int rc;
	if (st->pg) {
		rc = pb_store__pg_number_remove(st, number, &changes);
	} else {
		sqlite3_stmt *s = NULL;
		rc = pb_store__stmt(st, sql, &s);
		if (rc < 0)
			return rc;
		pb_store__bind_text(s, 1, number);
		rc = pb_store__run_changes(st, s, "remove number", &changes);
	}
	if (rc == 0 && changes == 0)
		rc = pb_error_set(PB_ENOTFOUND, "store: no settings for %s", number);
	return rc;
}

PB_API int pb_store_number_foreach(pb_store *st, const char *after, size_t limit, pb_store_number_cb cb,
				   void *userdata)
{
	static const char sql[] =
		"SELECT number, policy, forward_target, voicemail, updated_at FROM numbers "
		"WHERE number > ?1 ORDER BY number LIMIT ?2";
	if (st == NULL || cb == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_number_foreach: NULL argument");
	if (st->pg)
		return pb_store__pg_number_walk(st, NULL, after ? after : "", limit, cb, userdata);
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, after ? after : "");
	sqlite3_bind_int64(s, 2, limit ? (int64_t)limit : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		pb_store_number v = row_view(s);
		int r = cb(&v, userdata);
		if (r != 0) {
			sqlite3_reset(s);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : pb_store__error(st, rc, "number walk");
	sqlite3_reset(s);
	return rc;
}
