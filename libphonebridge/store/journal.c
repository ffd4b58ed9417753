/*
 * libphonebridge — the message journal: rows, states, deduplication.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "store/store-private.h"

PB_API const char *pb_store_state_name(int state)
{
	static const char *const names[] = {
		NULL, "received", "stored", "delivered", "queued", "sending", "sent", "unknown", "failed",
	};
	return state >= 1 && state <= 8 ? names[state] : "?";
}

/* The transition table of store.h, as (from, to) per direction. */
static bool legal(int dir, int from, int to)
{
	static const struct {
		int dir, from, to;
	} t[] = {
		{ PB_STORE_INBOUND, PB_STORE_RECEIVED, PB_STORE_STORED },
		{ PB_STORE_INBOUND, PB_STORE_RECEIVED, PB_STORE_FAILED },
		{ PB_STORE_INBOUND, PB_STORE_STORED, PB_STORE_STORED },
		{ PB_STORE_INBOUND, PB_STORE_STORED, PB_STORE_DELIVERED },
		{ PB_STORE_INBOUND, PB_STORE_STORED, PB_STORE_FAILED },
		{ PB_STORE_INBOUND, PB_STORE_FAILED, PB_STORE_STORED },
		{ PB_STORE_OUTBOUND, PB_STORE_QUEUED, PB_STORE_SENDING },
		{ PB_STORE_OUTBOUND, PB_STORE_QUEUED, PB_STORE_FAILED },
		{ PB_STORE_OUTBOUND, PB_STORE_SENDING, PB_STORE_SENT },
		{ PB_STORE_OUTBOUND, PB_STORE_SENDING, PB_STORE_FAILED },
		{ PB_STORE_OUTBOUND, PB_STORE_SENDING, PB_STORE_UNKNOWN },
		{ PB_STORE_OUTBOUND, PB_STORE_SENDING, PB_STORE_QUEUED },
		{ PB_STORE_OUTBOUND, PB_STORE_UNKNOWN, PB_STORE_SENT },
		{ PB_STORE_OUTBOUND, PB_STORE_UNKNOWN, PB_STORE_FAILED },
		{ PB_STORE_OUTBOUND, PB_STORE_UNKNOWN, PB_STORE_QUEUED },
		{ PB_STORE_OUTBOUND, PB_STORE_FAILED, PB_STORE_QUEUED },
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(t); i++)
		if (t[i].dir == dir && t[i].from == from && t[i].to == to)
			return true;
	return false;
}

static bool counts_attempt(int from, int to)
{
	return (from == PB_STORE_QUEUED && to == PB_STORE_SENDING) || from == PB_STORE_STORED;
}

/* --- reading rows ------------------------------------------------------------ */

#define MSG_COLUMNS                                                                    \
	"id, dir, state, dedup_key, backend, backend_id, peer, room, event_id, body, ref, " \
	"last_error, attempts, sent_at, created_at, updated_at"

static pb_store_msg *row_copy(sqlite3_stmt *s)
{
	size_t need = sizeof(pb_store_msg);
	for (int i = 3; i <= 11; i++)
		need += pb_store__col_size(s, i);
	pb_store_msg *m = pb_malloc(need);
	if (m == NULL)
		return NULL;
	pb_store_pack k = { (char *)(m + 1) };
	m->id = sqlite3_column_int64(s, 0);
	m->dir = sqlite3_column_int(s, 1);
	m->state = sqlite3_column_int(s, 2);
	m->dedup_key = pb_store__col_pack(&k, s, 3);
	m->backend = pb_store__col_pack(&k, s, 4);
	m->backend_id = pb_store__col_pack(&k, s, 5);
	m->peer = pb_store__col_pack(&k, s, 6);
	m->room = pb_store__col_pack(&k, s, 7);
	m->event_id = pb_store__col_pack(&k, s, 8);
	m->body = pb_store__col_pack(&k, s, 9);
	m->ref = pb_store__col_pack(&k, s, 10);
	m->last_error = pb_store__col_pack(&k, s, 11);
	m->attempts = sqlite3_column_int(s, 12);
	m->sent_at = sqlite3_column_int64(s, 13);
	m->created_at = sqlite3_column_int64(s, 14);
	m->updated_at = sqlite3_column_int64(s, 15);
	return m;
}

/* Step @s (bound, one row expected) into *out. */
static int get_one(pb_store *st, sqlite3_stmt *s, pb_store_msg **out, const char *what)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = row_copy(s);
		rc = *out ? 0 : PB_ENOMEM;
	} else if (rc == SQLITE_DONE) {
		rc = pb_error_set(PB_ENOTFOUND, "store: %s: no such message", what);
	} else {
		rc = pb_store__error(st, rc, what);
	}
	sqlite3_reset(s);
	return rc;
}

PB_API int pb_store_msg_get(pb_store *st, int64_t id, pb_store_msg **out)
{
	static const char sql[] = "SELECT " MSG_COLUMNS " FROM messages WHERE id = ?1";
	*out = NULL;
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	return get_one(st, s, out, "get message");
}

PB_API int pb_store_msg_find(pb_store *st, pb_store_dir dir, const char *dedup_key, pb_store_msg **out)
{
	static const char sql[] = "SELECT " MSG_COLUMNS " FROM messages WHERE dir = ?1 AND dedup_key = ?2";
	*out = NULL;
	if (dedup_key == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_msg_find: NULL key");
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 1, dir);
	pb_store__bind_text(s, 2, dedup_key);
	return get_one(st, s, out, "find message");
}

PB_API void pb_store_msg_free(pb_store_msg *msg)
{
	pb_free(msg);
}

/* A list item is a pointer to a message of its own allocation. */
static int copy_msg_item(sqlite3_stmt *s, void *item)
{
	pb_store_msg *m = row_copy(s);
	if (m == NULL)
		return pb_error__oom();
	*(pb_store_msg **)item = m;
	return 0;
}

static void release_msg_item(void *item)
{
	pb_free(*(pb_store_msg **)item);
}

PB_API void pb_store_msg_list_free(pb_store_msg_list *list)
{
	if (list == NULL)
		return;
	pb_store__items_free(list->items, list->count, sizeof(*list->items), release_msg_item);
	pb_free(list);
}

PB_API int pb_store_msg_list_state(pb_store *st, pb_store_dir dir, pb_store_state state, int64_t after_id,
				   size_t limit, pb_store_msg_list **out)
{
	static const char sql[] = "SELECT " MSG_COLUMNS " FROM messages "
				  "WHERE dir = ?1 AND state = ?2 AND id > ?3 ORDER BY id LIMIT ?4";
	*out = NULL;
	pb_store_msg_list *l = pb_calloc(1, sizeof(*l));
	if (l == NULL)
		return PB_ENOMEM;
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc == 0) {
		sqlite3_bind_int(s, 1, dir);
		sqlite3_bind_int(s, 2, state);
		sqlite3_bind_int64(s, 3, after_id);
		sqlite3_bind_int64(s, 4, limit ? (int64_t)limit : -1);
		void *items;
		rc = pb_store__collect(st, s, sizeof(*l->items), copy_msg_item, release_msg_item,
				       "list messages", &items, &l->count);
		l->items = items;
	}
	if (rc < 0) {
		pb_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

PB_API int pb_store_msg_count(pb_store *st, pb_store_dir dir, pb_store_state state, int64_t *count)
{
	static const char sql[] = "SELECT count(*) FROM messages WHERE dir = ?1 AND state = ?2";
	*count = 0;
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 1, dir);
	sqlite3_bind_int(s, 2, state);
	return pb_store__count(st, s, "count messages", count);
}

/* --- writing rows ------------------------------------------------------------- */

static int derive_key(const pb_store_msg_in *in, pb_buf *key)
{
	if (in->dedup_key)
		return pb_buf_puts(key, in->dedup_key);
	if (in->dir == PB_STORE_OUTBOUND) {
		if (in->event_id == NULL)
			return pb_error_set(PB_EINVAL, "store: an outbound message needs dedup_key or event_id");
		return pb_buf_printf(key, "event:%s", in->event_id);
	}
	if (in->backend_id)
		return pb_buf_printf(key, "%s:%s", in->backend ? in->backend : "", in->backend_id);
	/* Fields joined with NUL separators, so "ab"+"c" and "a"+"bc" differ. */
	pb_buf content = PB_BUF_INIT;
	char ts[24];
	snprintf(ts, sizeof(ts), "%lld", (long long)in->sent_at);
	const char *fields[] = { in->backend, in->peer, ts, in->body };
	int rc = 0;
	for (size_t i = 0; i < PB_ARRAY_SIZE(fields) && rc == 0; i++) {
		rc = pb_buf_puts(&content, fields[i] ? fields[i] : "");
		if (rc == 0)
			rc = pb_buf_putc(&content, 0);
	}
	char hex[PB_STORE_SHA256_HEX + 1];
	if (rc == 0)
		rc = pb_store__sha256_hex(content.data, content.len, hex);
	if (rc == 0)
		rc = pb_buf_printf(key, "sha256:%s", hex);
	pb_buf_dispose(&content);
	return rc;
}

/*
 * The key of a row whose message left the box is renamed rather than kept:
 * the same box id, time, sender and text can come again as a new message (an
 * AT storage index is reused once freed), and only a row whose deletion was
 * never confirmed may swallow it. The id in the suffix keeps the key unique.
 */
#define RELEASED_MARK "|left-box#"

PB_API int pb_store_msg_release_key(pb_store *st, int64_t id)
{
	static const char sql[] =
		"UPDATE messages SET dedup_key = dedup_key || '" RELEASED_MARK "' || id "
		"WHERE id = ?1 AND dir = 1 AND instr(dedup_key, '" RELEASED_MARK "') = 0";
	static const char chk[] = "SELECT dir FROM messages WHERE id = ?1";
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	int64_t changed = 0;
	rc = pb_store__run_changes(st, s, "release dedup key", &changed);
	if (rc < 0 || changed == 1)
		return rc;
	/* nothing changed: released before (fine), or no such inbound row */
	if ((rc = pb_store__stmt(st, chk, &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		rc = sqlite3_column_int(s, 0) == PB_STORE_INBOUND
			     ? 0
			     : pb_error_set(PB_EINVAL, "store: message %lld is outbound", (long long)id);
	else if (r == SQLITE_DONE)
		rc = pb_error_set(PB_ENOTFOUND, "store: no message %lld", (long long)id);
	else
		rc = pb_store__error(st, r, "find message");
	sqlite3_reset(s);
	return rc;
}

static int check_initial(const pb_store_msg_in *in)
{
	int vrc = PB_CHECK_VERSION(in, PB_STORE_MSG_IN, 1);
	if (vrc < 0)
		return vrc;
	if (in->dir == PB_STORE_INBOUND &&
	    (in->state == PB_STORE_RECEIVED || in->state == PB_STORE_STORED))
		return 0;
	if (in->dir == PB_STORE_OUTBOUND && in->state == PB_STORE_QUEUED)
		return 0;
	return pb_error_set(PB_EINVAL, "store: %s is not an initial state of an %s message",
			    pb_store_state_name(in->state),
			    in->dir == PB_STORE_OUTBOUND ? "outbound" : "inbound");
}

static int insert_locked(pb_store *st, const pb_store_msg_in *in, const char *key, int64_t *id)
{
	static const char ins[] =
		"INSERT INTO messages (dir, state, dedup_key, backend, backend_id, peer, room, "
		"event_id, body, sent_at, created_at, updated_at) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) "
		"ON CONFLICT (dir, dedup_key) DO NOTHING";
	static const char sel[] = "SELECT id FROM messages WHERE dir = ?1 AND dedup_key = ?2";
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, ins, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 1, in->dir);
	sqlite3_bind_int(s, 2, in->state);
	pb_store__bind_text(s, 3, key);
	pb_store__bind_text(s, 4, in->backend);
	pb_store__bind_text(s, 5, in->backend_id);
	pb_store__bind_text(s, 6, in->peer);
	pb_store__bind_text(s, 7, in->room);
	pb_store__bind_text(s, 8, in->event_id);
	pb_store__bind_text(s, 9, in->body);
	sqlite3_bind_int64(s, 10, in->sent_at);
	sqlite3_bind_int64(s, 11, pb_store__now());
	rc = pb_store__run(st, s, "insert message");
	if (rc < 0)
		return rc;
	if (sqlite3_changes(st->db) == 1) {
		*id = sqlite3_last_insert_rowid(st->db);
		return 0;
	}
	rc = pb_store__stmt(st, sel, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 1, in->dir);
	pb_store__bind_text(s, 2, key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		rc = pb_error_set(PB_EEXISTS, "store: message %s is already in the journal as %lld", key,
				  (long long)*id);
	} else {
		rc = pb_store__error(st, rc, "find duplicate");
	}
	sqlite3_reset(s);
	return rc;
}

PB_API int pb_store_msg_insert(pb_store *st, const pb_store_msg_in *in, int64_t *id)
{
	int64_t dummy;
	if (id == NULL)
		id = &dummy;
	*id = 0;
	if (st == NULL || in == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_msg_insert: NULL argument");
	int rc = check_initial(in);
	if (rc < 0)
		return rc;
	pb_buf key = PB_BUF_INIT;
	rc = derive_key(in, &key);
	if (rc == 0)
		rc = pb_store__tx_begin(st);
	if (rc == 0) {
		rc = insert_locked(st, in, pb_buf_cstr(&key), id);
		if (rc == PB_EEXISTS) {
			/* A duplicate changed nothing; the transaction ends quietly
			 * and the error set by insert_locked() stays. */
			int end = pb_store__tx_end(st, 0);
			if (end < 0)
				rc = end;
		} else {
			rc = pb_store__tx_end(st, rc);
		}
	}
	pb_buf_dispose(&key);
	return rc;
}

static int transition_locked(pb_store *st, int64_t id, int to, const char *ref, const char *error)
{
	static const char sel[] = "SELECT dir, state FROM messages WHERE id = ?1";
	static const char upd[] =
		"UPDATE messages SET state = ?2, attempts = attempts + ?3, "
		"ref = coalesce(?4, ref), last_error = coalesce(?5, last_error), updated_at = ?6 "
		"WHERE id = ?1";
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sel, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? pb_error_set(PB_ENOTFOUND, "store: no message %lld", (long long)id)
				       : pb_store__error(st, rc, "read state");
		sqlite3_reset(s);
		return rc;
	}
	int dir = sqlite3_column_int(s, 0), from = sqlite3_column_int(s, 1);
	sqlite3_reset(s);
	if (!legal(dir, from, to))
		return pb_error_set(PB_ESTATE, "store: message %lld: %s -> %s is not allowed",
				    (long long)id, pb_store_state_name(from), pb_store_state_name(to));
	rc = pb_store__stmt(st, upd, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, to);
	sqlite3_bind_int(s, 3, counts_attempt(from, to) ? 1 : 0);
	pb_store__bind_text(s, 4, ref);
	pb_store__bind_text(s, 5, error);
	sqlite3_bind_int64(s, 6, pb_store__now());
	return pb_store__run(st, s, "update state");
}

PB_API int pb_store_msg_transition(pb_store *st, int64_t id, int to, const char *ref,
				   const char *error)
{
	int rc = pb_store__tx_begin(st);
	if (rc < 0)
		return rc;
	return pb_store__tx_end(st, transition_locked(st, id, to, ref, error));
}

PB_API int pb_store_msg_recover(pb_store *st, int64_t *changed)
{
	static const char sql[] =
		"UPDATE messages SET state = ?2, last_error = 'interrupted while sending', updated_at = ?3 "
		"WHERE dir = ?4 AND state = ?1";
	int64_t n = 0;
	if (changed)
		*changed = 0;
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(s, 1, PB_STORE_SENDING);
	sqlite3_bind_int(s, 2, PB_STORE_UNKNOWN);
	sqlite3_bind_int64(s, 3, pb_store__now());
	sqlite3_bind_int(s, 4, PB_STORE_OUTBOUND);
	rc = pb_store__run_changes(st, s, "recover sending messages", &n);
	if (n > 0)
		pb_log_warning("store", "%lld outbound message(s) interrupted while sending are now unknown",
			       (long long)n);
	if (changed)
		*changed = n;
	return rc;
}

PB_API int pb_store_msg_prune(pb_store *st, int64_t before, int64_t *removed)
{
	static const char sql[] =
		"DELETE FROM messages WHERE state IN (?2, ?3) AND updated_at < ?1";
	if (removed)
		*removed = 0;
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, before);
	sqlite3_bind_int(s, 2, PB_STORE_DELIVERED);
	sqlite3_bind_int(s, 3, PB_STORE_SENT);
	return pb_store__run_changes(st, s, "prune messages", removed);
}
