/*
 * libphonebridge — the store's schema and its migrations.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The schema version lives in PRAGMA user_version. Version N is reached by
 * running steps 1..N in order, so a new database and an old one brought
 * forward pass through the same SQL; a step is never edited once released,
 * a change is a new step (docs/store.md). The steps hold only constant DDL
 * (no values from outside), so they run with sqlite3_exec().
 */
#include <stdio.h>
#include <string.h>

#include "store/store-private.h"

static const char *const steps[PB_STORE_SCHEMA_VERSION] = {
	/* 1: the message journal, key-value state, SMS reassembly parts */
	("CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  dir INTEGER NOT NULL CHECK (dir IN (1, 2)),"
	"  state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 8),"
	"  dedup_key TEXT NOT NULL,"
	"  backend TEXT, backend_id TEXT, peer TEXT, room TEXT, event_id TEXT, body TEXT,"
	"  last_error TEXT,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  sent_at INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (dir, dedup_key));"
	"CREATE TABLE kv ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE sms_parts ("
	"  group_key TEXT NOT NULL,"
	"  seq INTEGER NOT NULL CHECK (seq BETWEEN 1 AND 255),"
	"  originator TEXT,"
	"  reference INTEGER NOT NULL,"
	"  total INTEGER NOT NULL CHECK (total BETWEEN 1 AND 255),"
	"  pdu BLOB NOT NULL,"
	"  received_at INTEGER NOT NULL,"
	"  PRIMARY KEY (group_key, seq));"),

	/* 2: attachments, contacts, group conversations */
	("CREATE TABLE attachments ("
	"  msg_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),"
	"  size INTEGER NOT NULL,"
	"  content_type TEXT,"
	"  name TEXT,"
	"  PRIMARY KEY (msg_id, seq));"
	"CREATE INDEX attachments_sha256 ON attachments (sha256);"
	"CREATE TABLE contacts ("
	"  number TEXT PRIMARY KEY,"
	"  display_name TEXT,"
	"  room TEXT UNIQUE,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE groups ("
	"  id INTEGER PRIMARY KEY,"
	"  members_key TEXT NOT NULL UNIQUE,"
	"  room TEXT NOT NULL UNIQUE,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE group_members ("
	"  group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,"
	"  number TEXT NOT NULL,"
	"  PRIMARY KEY (group_id, number));"),

	/* 3: screening: allow/deny lists, attempt counters, call log */
	("CREATE TABLE screen_list ("
	"  list INTEGER NOT NULL CHECK (list IN (1, 2)),"
	"  number TEXT NOT NULL,"
	"  source INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (list, number));"
	"CREATE TABLE screen_attempts ("
	"  id INTEGER PRIMARY KEY,"
	"  number TEXT NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  failed INTEGER NOT NULL);"
	"CREATE INDEX screen_attempts_number ON screen_attempts (number, at);"
	"CREATE TABLE calls ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  caller TEXT, attestation TEXT, verdict TEXT, challenge TEXT,"
	"  duration_ms INTEGER NOT NULL DEFAULT 0,"
	"  forward_target TEXT);"
	"CREATE INDEX calls_at ON calls (at);"),

	/* 4: the reference a transition records (delivered event id, sent
	 * message reference), and the index the work queues read by */
	("ALTER TABLE messages ADD COLUMN ref TEXT;"
	 "CREATE INDEX messages_queue ON messages (dir, state, id);"),

	/* 5: the call log says what was called, which rule decided, the final
	 * status and how the call ended */
	("ALTER TABLE calls ADD COLUMN called TEXT;"
	 "ALTER TABLE calls ADD COLUMN rule TEXT;"
	 "ALTER TABLE calls ADD COLUMN sip_status INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE calls ADD COLUMN ended TEXT;"),

	/* 6: where a call came from, and how many calls a row stands for
	 * (refusals of junk are aggregated) */
	("ALTER TABLE calls ADD COLUMN source TEXT;"
	 "ALTER TABLE calls ADD COLUMN count INTEGER NOT NULL DEFAULT 1;"),
};

static int read_version(pb_store *st, int *version)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return pb_store__error(st, rc, "read schema version");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : pb_store__error(st, rc, "read schema version");
}

static int migrate_locked(pb_store *st, int target)
{
	int version = 0;
	int rc = read_version(st, &version);
	if (rc < 0)
		return rc;
	if (version > PB_STORE_SCHEMA_VERSION)
		return pb_error_set(PB_EUNSUPPORTED,
				    "store: database schema %d is newer than this library's (%d)",
				    version, PB_STORE_SCHEMA_VERSION);
	if (version < 0)
		return pb_error_set(PB_EIO, "store: bad schema version %d", version);
	for (int v = version; v < target && rc == 0; v++) {
		rc = pb_store__exec(st, steps[v], "schema migration");
		if (rc == 0) {
			char sql[64];
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
			rc = pb_store__exec(st, sql, "schema version");
		}
		if (rc == 0)
			pb_log_info("store", "schema migrated to version %d", v + 1);
	}
	st->schema_version = version > target ? version : target;
	return rc;
}

int pb_store__migrate(pb_store *st, int target)
{
	if (target < 1 || target > PB_STORE_SCHEMA_VERSION)
		return pb_error_set(PB_EINVAL, "store: no schema version %d", target);
	/* Exclusive from the start: two processes opening a new database at once
	 * must not both create the tables. */
	int rc = pb_store__exec(st, "BEGIN IMMEDIATE", "begin migration");
	if (rc < 0)
		return rc;
	rc = migrate_locked(st, target);
	return pb_store__tx_end(st, rc);
}
