/*
 * libphonebridge — screening data: allow/deny lists, attempt counters,
 * call log.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "store/store-private.h"

PB_API const char *pb_store_source_name(int source)
{
	switch (source) {
	case PB_STORE_SRC_MANUAL: return "manual";
	case PB_STORE_SRC_CHALLENGE: return "challenge";
	case PB_STORE_SRC_CONTACTS: return "contacts";
	case PB_STORE_SRC_OUTGOING: return "outgoing";
	default: return "?";
	}
}

static bool good_list(int list)
{
	return list == PB_STORE_ALLOW || list == PB_STORE_DENY;
}

PB_API int pb_store_list_add(pb_store *st, pb_store_list list, const char *number, pb_store_source source,
			     int64_t expires_at)
{
	static const char sql[] =
		"INSERT INTO screen_list (list, number, source, created_at, expires_at) "
		"VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (list, number) DO UPDATE SET "
		"source = excluded.source, created_at = excluded.created_at, expires_at = excluded.expires_at";
	if (!good_list(list) || number == NULL || *number == '\0' ||
	    source < PB_STORE_SRC_MANUAL || source > PB_STORE_SRC_OUTGOING || expires_at < 0)
		return pb_error_set(PB_EINVAL, "pb_store_list_add: bad argument");
	if (st->pg)
		return pb_store__pg_list_add(st, list, number, source, pb_store__now(), expires_at);
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 1, list);
	pb_store__bind_text(s, 2, number);
	sqlite3_bind_int(s, 3, source);
	sqlite3_bind_int64(s, 4, pb_store__now());
	sqlite3_bind_int64(s, 5, expires_at);
	return pb_store__run(st, s, "add to list");
}

PB_API int pb_store_list_remove(pb_store *st, pb_store_list list, const char *number)
{
	static const char sql[] = "DELETE FROM screen_list WHERE list = ?1 AND number = ?2";
	if (number == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_list_remove: no number");
	int64_t changes = 0;
	int rc;
	if (st->pg) {
		rc = pb_store__pg_list_remove(st, list, number, &changes);
	} else {
		sqlite3_stmt *s = NULL;
		rc = pb_store__stmt(st, sql, &s);
		if (rc < 0)
			return rc;
		sqlite3_bind_int(s, 1, list);
		pb_store__bind_text(s, 2, number);
		rc = pb_store__run_changes(st, s, "remove from list", &changes);
	}
	if (rc == 0 && changes == 0)
		rc = pb_error_set(PB_ENOTFOUND, "store: %s is not on the list", number ? number : "(null)");
	return rc;
}

PB_API int pb_store_list_lookup(pb_store *st, pb_store_list list, const char *number, int64_t now,
				pb_store_list_entry *entry)
{
	static const char sql[] =
		"SELECT source, created_at, expires_at FROM screen_list "
		"WHERE list = ?1 AND number = ?2 AND (expires_at = 0 OR expires_at > ?3)";
	if (!good_list(list) || number == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_list_lookup: bad argument");
	if (st->pg)
		return pb_store__pg_list_lookup(st, list, number, now ? now : pb_store__now(), entry);
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 1, list);
	pb_store__bind_text(s, 2, number);
	sqlite3_bind_int64(s, 3, now ? now : pb_store__now());
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (entry) {
			entry->list = list;
			entry->source = sqlite3_column_int(s, 0);
			entry->created_at = sqlite3_column_int64(s, 1);
			entry->expires_at = sqlite3_column_int64(s, 2);
		}
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = pb_error_set(PB_ENOTFOUND, "store: %s is not on the %s list", number,
				  list == PB_STORE_ALLOW ? "allow" : "deny");
	} else {
		rc = pb_store__error(st, rc, "list lookup");
	}
	sqlite3_reset(s);
	return rc;
}

PB_API int pb_store_list_foreach(pb_store *st, pb_store_list list, const char *after, size_t limit, int64_t now,
				 pb_store_list_cb cb, void *userdata)
{
	static const char sql[] =
		"SELECT number, source, created_at, expires_at FROM screen_list "
		"WHERE list = ?1 AND number > ?2 AND (expires_at = 0 OR expires_at > ?3) "
		"ORDER BY number LIMIT ?4";
	if (st == NULL || !good_list(list) || cb == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_list_foreach: bad argument");
	if (st->pg)
		return pb_store__pg_list_foreach(st, list, after, limit, now ? now : pb_store__now(), cb, userdata);
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 1, list);
	pb_store__bind_text(s, 2, after ? after : "");
	sqlite3_bind_int64(s, 3, now ? now : pb_store__now());
	sqlite3_bind_int64(s, 4, limit ? (int64_t)limit : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		pb_store_list_entry e = { list, sqlite3_column_int(s, 1), sqlite3_column_int64(s, 2),
					  sqlite3_column_int64(s, 3) };
		const char *number = (const char *)sqlite3_column_text(s, 0);
		int r = number ? cb(number, &e, userdata) : 0;
		if (r != 0) {
			sqlite3_reset(s);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : pb_store__error(st, rc, "list walk");
	sqlite3_reset(s);
	return rc;
}

/* Run a DELETE with one int64 parameter and report how many rows went. */
static int delete_before(pb_store *st, const char *sql, int64_t t, int64_t *removed, const char *what)
{
	if (removed)
		*removed = 0;
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, t);
	return pb_store__run_changes(st, s, what, removed);
}

PB_API int pb_store_list_expire(pb_store *st, int64_t now, int64_t *removed)
{
	static const char sql[] = "DELETE FROM screen_list WHERE expires_at != 0 AND expires_at <= ?1";
	if (st->pg)
		return pb_store__pg_delete_before(st, PB_STORE_PG_LIST_EXPIRE, now ? now : pb_store__now(), removed);
	return delete_before(st, sql, now ? now : pb_store__now(), removed, "expire list entries");
}

PB_API int pb_store_attempt_record(pb_store *st, const char *number, int64_t at, bool failed)
{
	static const char sql[] = "INSERT INTO screen_attempts (number, at, failed) VALUES (?1, ?2, ?3)";
	if (number == NULL || *number == '\0')
		return pb_error_set(PB_EINVAL, "pb_store_attempt_record: no number");
	if (st->pg)
		return pb_store__pg_attempt_record(st, number, at ? at : pb_store__now(), failed);
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, number);
	sqlite3_bind_int64(s, 2, at ? at : pb_store__now());
	sqlite3_bind_int(s, 3, failed ? 1 : 0);
	return pb_store__run(st, s, "record attempt");
}

PB_API int pb_store_attempt_count(pb_store *st, const char *number, int64_t since,
				  bool failed_only, int64_t *count)
{
	static const char sql[] =
		"SELECT count(*) FROM screen_attempts WHERE number = ?1 AND at >= ?2 AND failed >= ?3";
	*count = 0;
	if (number == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_attempt_count: no number");
	if (st->pg)
		return pb_store__pg_attempt_count(st, number, since, failed_only, count);
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, number);
	sqlite3_bind_int64(s, 2, since);
	sqlite3_bind_int(s, 3, failed_only ? 1 : 0);
	return pb_store__count(st, s, "count attempts", count);
}

PB_API int pb_store_attempt_prune(pb_store *st, int64_t before, int64_t *removed)
{
	static const char sql[] = "DELETE FROM screen_attempts WHERE at < ?1";
	if (st->pg)
		return pb_store__pg_delete_before(st, PB_STORE_PG_ATTEMPT_PRUNE, before, removed);
	return delete_before(st, sql, before, removed, "prune attempts");
}

PB_API int pb_store_call_log(pb_store *st, const pb_store_call *call, int64_t *id)
{
	static const char sql[] =
		"INSERT INTO calls (at, caller, attestation, verdict, challenge, duration_ms, forward_target, "
		"called, rule, sip_status, ended, source, count) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
	if (call == NULL || call->duration_ms < 0 || call->count < 0)
		return pb_error_set(PB_EINVAL, "pb_store_call_log: bad call");
	if (st->pg)
		return pb_store__pg_call_log(st, call, call->at ? call->at : pb_store__now(), id);
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, call->at ? call->at : pb_store__now());
	pb_store__bind_text(s, 2, call->caller);
	pb_store__bind_text(s, 3, call->attestation);
	pb_store__bind_text(s, 4, call->verdict);
	pb_store__bind_text(s, 5, call->challenge);
	sqlite3_bind_int64(s, 6, call->duration_ms);
	pb_store__bind_text(s, 7, call->forward_target);
	pb_store__bind_text(s, 8, call->called);
	pb_store__bind_text(s, 9, call->rule);
	sqlite3_bind_int(s, 10, call->sip_status);
	pb_store__bind_text(s, 11, call->ended);
	pb_store__bind_text(s, 12, call->source);
	sqlite3_bind_int64(s, 13, call->count ? call->count : 1);
	rc = pb_store__run(st, s, "log call");
	if (rc == 0 && id)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

/* A call's strings share one block, packed in this order: the first one
 * that is not NULL is the start of the block. */
static void *call_block(const pb_store_call *c)
{
	const char *order[] = { c->caller, c->attestation, c->verdict, c->challenge, c->forward_target,
				c->called, c->rule, c->ended, c->source };
	for (size_t i = 0; i < PB_ARRAY_SIZE(order); i++)
		if (order[i])
			return (void *)order[i];
	return NULL;
}

void pb_store__call_release(void *item)
{
	pb_free(call_block(item));
}

PB_API void pb_store_call_list_free(pb_store_call_list *list)
{
	if (list == NULL)
		return;
	pb_store__items_free(list->items, list->count, sizeof(*list->items), pb_store__call_release);
	pb_free(list);
}

static int copy_call(sqlite3_stmt *s, void *item)
{
	pb_store_call *c = item;
	size_t need = 0;
	for (int i = 2; i <= 5; i++)
		need += pb_store__col_size(s, i);
	need += pb_store__col_size(s, 7);
	need += pb_store__col_size(s, 8) + pb_store__col_size(s, 9) + pb_store__col_size(s, 11);
	need += pb_store__col_size(s, 12);
	char *mem = NULL;
	if (need > 0 && (mem = pb_malloc(need)) == NULL)
		return PB_ENOMEM;
	pb_store_pack k = { mem };
	c->id = sqlite3_column_int64(s, 0);
	c->at = sqlite3_column_int64(s, 1);
	c->caller = pb_store__col_pack(&k, s, 2);
	c->attestation = pb_store__col_pack(&k, s, 3);
	c->verdict = pb_store__col_pack(&k, s, 4);
	c->challenge = pb_store__col_pack(&k, s, 5);
	c->duration_ms = sqlite3_column_int64(s, 6);
	c->forward_target = pb_store__col_pack(&k, s, 7);
	c->called = pb_store__col_pack(&k, s, 8);
	c->rule = pb_store__col_pack(&k, s, 9);
	c->sip_status = sqlite3_column_int(s, 10);
	c->ended = pb_store__col_pack(&k, s, 11);
	c->source = pb_store__col_pack(&k, s, 12);
	c->count = sqlite3_column_int64(s, 13);
	return 0;
}

static int call_query(pb_store *st, const char *sql, bool recent, int64_t after_id, size_t limit,
		      pb_store_call_list **out);

PB_API int pb_store_call_recent(pb_store *st, size_t limit, pb_store_call_list **out)
{
	static const char sql[] =
		"SELECT id, at, caller, attestation, verdict, challenge, duration_ms, forward_target, "
		"called, rule, sip_status, ended, source, count FROM calls WHERE id > ?2 ORDER BY at DESC, id DESC LIMIT ?1";
	return call_query(st, sql, true, -1, limit, out);
}

PB_API int pb_store_call_after(pb_store *st, int64_t after_id, size_t limit, pb_store_call_list **out)
{
	static const char sql[] =
		"SELECT id, at, caller, attestation, verdict, challenge, duration_ms, forward_target, "
		"called, rule, sip_status, ended, source, count FROM calls WHERE id > ?2 ORDER BY id LIMIT ?1";
	return call_query(st, sql, false, after_id, limit, out);
}

static int call_query(pb_store *st, const char *sql, bool recent, int64_t after_id, size_t limit,
		      pb_store_call_list **out)
{
	*out = NULL;
	pb_store_call_list *l = pb_calloc(1, sizeof(*l));
	if (l == NULL)
		return PB_ENOMEM;
	sqlite3_stmt *s = NULL;
	int rc = 0;
	if (st->pg)
		rc = pb_store__pg_call_query(st, recent, after_id, limit, l);
	else
		rc = pb_store__stmt(st, sql, &s);
	if (rc == 0 && !st->pg) {
		sqlite3_bind_int64(s, 1, limit ? (int64_t)limit : -1);
		sqlite3_bind_int64(s, 2, after_id);
		void *items;
		rc = pb_store__collect(st, s, sizeof(*l->items), copy_call, pb_store__call_release, "calls",
				       &items, &l->count);
		l->items = items;
	}
	if (rc < 0) {
		pb_free(l);
		return rc;
	}
	*out = l;
	return 0;
}
