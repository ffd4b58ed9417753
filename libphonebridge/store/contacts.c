/*
 * libphonebridge — contacts and group conversations, each mapped to a room.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "store/store-private.h"

PB_API int pb_store_contact_set(pb_store *st, const char *number, const char *display_name,
				const char *room)
{
	static const char sql[] =
		"INSERT INTO contacts (number, display_name, room, updated_at) VALUES (?1, ?2, ?3, ?4) "
		"ON CONFLICT (number) DO UPDATE SET display_name = excluded.display_name, "
		"room = excluded.room, updated_at = excluded.updated_at";
	if (number == NULL || *number == '\0')
		return pb_error_set(PB_EINVAL, "pb_store_contact_set: no number");
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, number);
	pb_store__bind_text(s, 2, display_name);
	pb_store__bind_text(s, 3, room);
	sqlite3_bind_int64(s, 4, pb_store__now());
	rc = pb_store__run(st, s, "set contact");
	if (rc == PB_EEXISTS)
		rc = pb_error_set(PB_EEXISTS, "store: room %s belongs to another contact", room);
	return rc;
}

static int contact_one(pb_store *st, const char *sql, const char *arg, pb_store_contact **out)
{
	*out = NULL;
	if (arg == NULL)
		return pb_error_set(PB_EINVAL, "store: NULL contact key");
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, arg);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		size_t need = sizeof(pb_store_contact) + pb_store__col_size(s, 0) +
			      pb_store__col_size(s, 1) + pb_store__col_size(s, 2);
		pb_store_contact *c = pb_malloc(need);
		if (c) {
			pb_store_pack k = { (char *)(c + 1) };
			c->number = pb_store__col_pack(&k, s, 0);
			c->display_name = pb_store__col_pack(&k, s, 1);
			c->room = pb_store__col_pack(&k, s, 2);
			c->updated_at = sqlite3_column_int64(s, 3);
		}
		*out = c;
		rc = c ? 0 : PB_ENOMEM;
	} else if (rc == SQLITE_DONE) {
		rc = pb_error_set(PB_ENOTFOUND, "store: no contact %s", arg);
	} else {
		rc = pb_store__error(st, rc, "get contact");
	}
	sqlite3_reset(s);
	return rc;
}

PB_API int pb_store_contact_get(pb_store *st, const char *number, pb_store_contact **out)
{
	static const char sql[] =
		"SELECT number, display_name, room, updated_at FROM contacts WHERE number = ?1";
	return contact_one(st, sql, number, out);
}

PB_API int pb_store_contact_by_room(pb_store *st, const char *room, pb_store_contact **out)
{
	static const char sql[] =
		"SELECT number, display_name, room, updated_at FROM contacts WHERE room = ?1";
	return contact_one(st, sql, room, out);
}

PB_API int pb_store_contact_delete(pb_store *st, const char *number)
{
	static const char sql[] = "DELETE FROM contacts WHERE number = ?1";
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, number);
	rc = pb_store__run(st, s, "delete contact");
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		rc = pb_error_set(PB_ENOTFOUND, "store: no contact %s", number);
	return rc;
}

PB_API void pb_store_contact_free(pb_store_contact *c)
{
	pb_free(c);
}

/* --- groups ------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The canonical key of a set: sorted, unique, joined by "\n". */
static int members_key(const char *const *numbers, size_t count, pb_buf *key)
{
	if (numbers == NULL || count == 0)
		return pb_error_set(PB_EINVAL, "store: a group needs at least one number");
	const char **v = pb_calloc(count, sizeof(*v));
	if (v == NULL)
		return PB_ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < count && rc == 0; i++) {
		if (numbers[i] == NULL || *numbers[i] == '\0' || strchr(numbers[i], '\n'))
			rc = pb_error_set(PB_EINVAL, "store: bad number in a group");
		v[i] = numbers[i];
	}
	if (rc == 0)
		qsort(v, count, sizeof(*v), cmp_str);
	for (size_t i = 0; i < count && rc == 0; i++) {
		if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (key->len > 0)
			rc = pb_buf_putc(key, '\n');
		if (rc == 0)
			rc = pb_buf_puts(key, v[i]);
	}
	pb_free(v);
	return rc;
}

static int group_set_locked(pb_store *st, const char *key, const char *room)
{
	static const char del[] = "DELETE FROM groups WHERE members_key = ?1";
	static const char ins[] = "INSERT INTO groups (members_key, room, updated_at) VALUES (?1, ?2, ?3)";
	static const char mem[] = "INSERT INTO group_members (group_id, number) VALUES (?1, ?2)";
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, del, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, key);
	if ((rc = pb_store__run(st, s, "replace group")) < 0)
		return rc;
	if ((rc = pb_store__stmt(st, ins, &s)) < 0)
		return rc;
	pb_store__bind_text(s, 1, key);
	pb_store__bind_text(s, 2, room);
	sqlite3_bind_int64(s, 3, pb_store__now());
	if ((rc = pb_store__run(st, s, "add group")) < 0)
		return rc == PB_EEXISTS ? pb_error_set(PB_EEXISTS, "store: room %s belongs to another group", room)
					: rc;
	int64_t id = sqlite3_last_insert_rowid(st->db);
	for (const char *p = key; rc == 0 && *p;) {
		size_t n = strcspn(p, "\n");
		if ((rc = pb_store__stmt(st, mem, &s)) < 0)
			break;
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_text(s, 2, p, (int)n, SQLITE_STATIC);
		rc = pb_store__run(st, s, "add group member");
		p += n;
		if (*p == '\n')
			p++;
	}
	return rc;
}

PB_API int pb_store_group_set(pb_store *st, const char *const *numbers, size_t count,
			      const char *room)
{
	if (room == NULL || *room == '\0')
		return pb_error_set(PB_EINVAL, "pb_store_group_set: no room");
	pb_buf key = PB_BUF_INIT;
	int rc = members_key(numbers, count, &key);
	if (rc == 0)
		rc = pb_store__tx_begin(st);
	if (rc == 0)
		rc = pb_store__tx_end(st, group_set_locked(st, pb_buf_cstr(&key), room));
	pb_buf_dispose(&key);
	return rc;
}

/* Build a group from its room and members key. */
static pb_store_group *group_make(const char *room, const char *key)
{
	size_t count = 1;
	for (const char *p = key; *p; p++)
		count += *p == '\n';
	size_t rl = strlen(room) + 1, kl = strlen(key) + 1;
	pb_store_group *g = pb_malloc(sizeof(*g) + count * sizeof(char *) + rl + kl);
	if (g == NULL)
		return NULL;
	g->numbers = (const char **)(g + 1);
	char *r = (char *)(g->numbers + count);
	char *k = r + rl;
	memcpy(r, room, rl);
	memcpy(k, key, kl);
	g->room = r;
	g->count = 0;
	for (char *p = k;;) {
		g->numbers[g->count++] = p;
		p += strcspn(p, "\n");
		if (*p == '\0')
			break;
		*p++ = '\0';
	}
	return g;
}

static int group_one(pb_store *st, const char *sql, const char *arg, pb_store_group **out)
{
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, arg);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = group_make((const char *)sqlite3_column_text(s, 0),
				  (const char *)sqlite3_column_text(s, 1));
		rc = *out ? 0 : PB_ENOMEM;
	} else if (rc == SQLITE_DONE) {
		rc = pb_error_set(PB_ENOTFOUND, "store: no such group");
	} else {
		rc = pb_store__error(st, rc, "get group");
	}
	sqlite3_reset(s);
	return rc;
}

PB_API int pb_store_group_by_numbers(pb_store *st, const char *const *numbers, size_t count,
				     pb_store_group **out)
{
	static const char sql[] = "SELECT room, members_key FROM groups WHERE members_key = ?1";
	*out = NULL;
	pb_buf key = PB_BUF_INIT;
	int rc = members_key(numbers, count, &key);
	if (rc == 0)
		rc = group_one(st, sql, pb_buf_cstr(&key), out);
	pb_buf_dispose(&key);
	return rc;
}

PB_API int pb_store_group_by_room(pb_store *st, const char *room, pb_store_group **out)
{
	static const char sql[] = "SELECT room, members_key FROM groups WHERE room = ?1";
	*out = NULL;
	if (room == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_group_by_room: NULL room");
	return group_one(st, sql, room, out);
}

PB_API void pb_store_group_free(pb_store_group *g)
{
	pb_free(g);
}
