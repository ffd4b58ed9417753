/*
 * libphonebridge — the store without its PostgreSQL backend (built with
 * -Dpostgresql=disabled, or without libpq): a postgresql:// URL says so.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "store/store-private.h"

int pb_store__pg_open(pb_store *st, const char *url, const pb_store_options *o, int target)
{
	(void)st;
	(void)url;
	(void)o;
	(void)target;
	return pb_error_set(PB_EUNSUPPORTED, "store: this libphonebridge was built without PostgreSQL "
					     "(meson -Dpostgresql=enabled needs libpq-dev)");
}

/* Never reached: no PostgreSQL store can be opened. */
void pb_store__pg_close(pb_store *st) { (void)st; }
int pb_store__pg_check(pb_store *st) { (void)st; return PB_EUNSUPPORTED; }
int pb_store__pg_txn(pb_store *st, const char *sql) { (void)st; (void)sql; return PB_EUNSUPPORTED; }
int pb_store__pg_list_add(pb_store *st, int list, const char *number, int source, int64_t created,
			  int64_t expires_at)
{
	(void)st, (void)list, (void)number, (void)source, (void)created, (void)expires_at;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_list_remove(pb_store *st, int list, const char *number, int64_t *changes)
{
	(void)st, (void)list, (void)number, (void)changes;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_list_lookup(pb_store *st, int list, const char *number, int64_t now,
			     pb_store_list_entry *entry)
{
	(void)st, (void)list, (void)number, (void)now, (void)entry;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_list_foreach(pb_store *st, int list, const char *after, size_t limit, int64_t now,
			      pb_store_list_cb cb, void *userdata)
{
	(void)st, (void)list, (void)after, (void)limit, (void)now, (void)cb, (void)userdata;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_delete_before(pb_store *st, int which, int64_t t, int64_t *removed)
{
	(void)st, (void)which, (void)t, (void)removed;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_attempt_record(pb_store *st, const char *number, int64_t at, bool failed)
{
	(void)st, (void)number, (void)at, (void)failed;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_attempt_count(pb_store *st, const char *number, int64_t since, bool failed_only,
			       int64_t *count)
{
	(void)st, (void)number, (void)since, (void)failed_only, (void)count;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_call_log(pb_store *st, const pb_store_call *call, int64_t at, int64_t *id)
{
	(void)st, (void)call, (void)at, (void)id;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_call_query(pb_store *st, bool recent, int64_t after_id, size_t limit,
			    pb_store_call_list *l)
{
	(void)st, (void)recent, (void)after_id, (void)limit, (void)l;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_kv_set(pb_store *st, const char *key, const char *value, int64_t now)
{
	(void)st, (void)key, (void)value, (void)now;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_kv_get(pb_store *st, const char *key, char **value)
{
	(void)st, (void)key, (void)value;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_kv_delete(pb_store *st, const char *key)
{
	(void)st, (void)key;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_number_set(pb_store *st, const pb_store_number *n)
{
	(void)st, (void)n;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_number_walk(pb_store *st, const char *exact, const char *after, size_t limit,
			     pb_store_number_cb cb, void *userdata)
{
	(void)st, (void)exact, (void)after, (void)limit, (void)cb, (void)userdata;
	return PB_EUNSUPPORTED;
}
int pb_store__pg_number_remove(pb_store *st, const char *number, int64_t *changes)
{
	(void)st, (void)number, (void)changes;
	return PB_EUNSUPPORTED;
}

int pb_store__pg_call_daily(pb_store *st, pb_store_days *d)
{
	(void)st;
	(void)d;
	return PB_EUNSUPPORTED;
}
