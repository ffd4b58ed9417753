/*
 * libphonebridge — persisted SMS reassembly parts.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The SMS codec reassembles concatenated messages in memory; the bridge
 * saves every part here as it arrives, so that a restart between parts
 * loses none, and feeds them back with pb_store_sms_part_foreach().
 */
#include "store/store-private.h"

PB_API int pb_store_sms_part_put(pb_store *st, const pb_store_sms_part *part)
{
	static const char sql[] =
		"INSERT INTO sms_parts (group_key, seq, originator, reference, total, pdu, received_at) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (group_key, seq) DO NOTHING";
	if (part == NULL || part->group_key == NULL || (part->pdu == NULL && part->pdu_len > 0) ||
	    part->total < 1 || part->total > 255 || part->seq < 1 || part->seq > part->total)
		return pb_error_set(PB_EINVAL, "pb_store_sms_part_put: bad part");
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, part->group_key);
	sqlite3_bind_int(s, 2, part->seq);
	pb_store__bind_text(s, 3, part->originator);
	sqlite3_bind_int(s, 4, part->reference);
	sqlite3_bind_int(s, 5, part->total);
	sqlite3_bind_blob(s, 6, part->pdu ? (const void *)part->pdu : "", (int)part->pdu_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, part->received_at ? part->received_at : pb_store__now());
	rc = pb_store__run(st, s, "save SMS part");
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		rc = pb_error_set(PB_EEXISTS, "store: part %d of %s is already saved", part->seq,
				  part->group_key);
	return rc;
}

PB_API int pb_store_sms_part_foreach(pb_store *st,
				     int (*cb)(const pb_store_sms_part *part, void *userdata),
				     void *userdata)
{
	static const char sql[] =
		"SELECT group_key, seq, originator, reference, total, pdu, received_at FROM sms_parts "
		"ORDER BY group_key, seq";
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		pb_store_sms_part p;
		p.group_key = (const char *)sqlite3_column_text(s, 0);
		p.seq = sqlite3_column_int(s, 1);
		p.originator = (const char *)sqlite3_column_text(s, 2);
		p.reference = sqlite3_column_int(s, 3);
		p.total = sqlite3_column_int(s, 4);
		p.pdu = sqlite3_column_blob(s, 5);
		p.pdu_len = (size_t)sqlite3_column_bytes(s, 5);
		p.received_at = sqlite3_column_int64(s, 6);
		rc = cb(&p, userdata);
		if (rc != 0)
			break;
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = pb_store__error(st, r, "list SMS parts");
	sqlite3_reset(s);
	return rc;
}

PB_API int pb_store_sms_part_delete_group(pb_store *st, const char *group_key)
{
	static const char sql[] = "DELETE FROM sms_parts WHERE group_key = ?1";
	if (group_key == NULL)
		return pb_error_set(PB_EINVAL, "pb_store_sms_part_delete_group: NULL key");
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	pb_store__bind_text(s, 1, group_key);
	return pb_store__run(st, s, "delete SMS parts");
}

PB_API int pb_store_sms_part_expire(pb_store *st, int64_t before, int64_t *removed)
{
	static const char sql[] =
		"DELETE FROM sms_parts WHERE group_key IN "
		"(SELECT group_key FROM sms_parts GROUP BY group_key HAVING max(received_at) < ?1)";
	if (removed)
		*removed = 0;
	sqlite3_stmt *s = NULL;
	int rc = pb_store__stmt(st, sql, &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(s, 1, before);
	return pb_store__run_changes(st, s, "expire SMS parts", removed);
}
