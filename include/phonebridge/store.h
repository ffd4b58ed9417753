/*
 * libphonebridge — the durable store (SQLite): message journal,
 * attachments, SMS reassembly parts, key-value state, contacts and rooms,
 * allow/deny lists, attempt counters and the call log.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *     pb_store *st;
 *     pb_store_options o = PB_STORE_OPTIONS_INIT;
 *     if (pb_store_open(&st, "/var/lib/pb/bridge.db", &o) < 0)
 *         die(pb_error_last()->message);
 *     pb_store_msg_in m = PB_STORE_MSG_IN_INIT;
 *     m.dir = PB_STORE_INBOUND; m.state = PB_STORE_STORED;
 *     m.backend = "hilink"; m.backend_id = "40001"; m.peer = "+4930123456";
 *     m.body = "hello";
 *     int64_t id;
 *     int rc = pb_store_msg_insert(st, &m, &id);  // 0, or PB_EEXISTS with the old id
 *     ... delete the SMS on the modem only now ...
 *     pb_store_msg_transition(st, id, PB_STORE_DELIVERED, "$event", NULL);
 *     pb_store_close(st);
 *
 * Every function that changes the database commits before it returns (or
 * joins the caller's pb_store_begin() transaction): when it returns 0 the
 * change survives a crash of the process (and, with PB_STORE_SYNC_FULL, of
 * the machine).
 *
 * Threads and processes: a pb_store handle is one SQLite connection; use it
 * from one thread at a time and open one handle per thread. Any number of
 * handles in any number of processes may share a database: writers wait
 * for each other (busy_timeout_ms) and SQLITE_BUSY does not reach the caller
 * unless that wait runs out (then PB_EBUSY).
 *
 * Times are milliseconds since the Unix epoch (int64_t); 0 in an input means
 * "now" where the parameter says so.
 */
#ifndef PHONEBRIDGE_STORE_H
#define PHONEBRIDGE_STORE_H

#include <stdbool.h>

#include <phonebridge/common.h>
#include <phonebridge/buffer.h>

PB_BEGIN_DECLS

/** The schema version this library creates and migrates to. */
#define PB_STORE_SCHEMA_VERSION 7

typedef struct pb_store pb_store;

/** How hard a commit waits for the disk (SQLite's PRAGMA synchronous in WAL mode). */
typedef enum pb_store_sync {
	/** fsync the WAL on every commit: a commit that returned survives a power
	 *  loss. The default (docs/store.md says why). */
	PB_STORE_SYNC_FULL = 0,
	/** fsync only at checkpoints: a commit survives a crash of the process but
	 *  the last ones may be lost to a power loss or kernel crash. */
	PB_STORE_SYNC_NORMAL = 1,
} pb_store_sync;

/** Options for pb_store_open(). */
typedef struct pb_store_options {
	unsigned version;            /**< PB_STORE_OPTIONS_VERSION */
	pb_store_sync synchronous;   /**< PB_STORE_SYNC_FULL (the default) or _NORMAL */
	unsigned busy_timeout_ms;    /**< how long to wait for another writer; 0 = 30000; at most INT_MAX */
	const char *attachments_dir; /**< borrowed during the call; NULL: "<path>.attachments" beside the database */
	/** (version 2) The store is shared by the members of its directory's group
	 *  (both daemons, each its own user, docs/store.md "One store for both
	 *  daemons"): a new database is created mode 0660 (SQLite gives its -wal
	 *  and -shm files the same mode), the attachments directory 02770 and
	 *  attachment files 0640. false: 0600/0700/0600, only the owner, unless
	 *  the database's directory is setgid, group-writable and closed to
	 *  others (mode 2770): a store there is group-shared all the same. */
	bool group_shared;
	/** (version 3) A PostgreSQL store (a postgresql:// URL): the file with
	 *  the password, read with pb_secret_read() (mode 0600 or stricter, or
	 *  "credential:NAME"); borrowed during the call. NULL: no password (peer
	 *  or certificate authentication, or libpq's own ~/.pgpass). */
	const char *password_file;
} pb_store_options;

#define PB_STORE_OPTIONS_VERSION 3u
#define PB_STORE_OPTIONS_INIT { PB_STORE_OPTIONS_VERSION, PB_STORE_SYNC_FULL, 30000, NULL, false, NULL }

/**
 * Open (creating if needed) a store and bring its schema to
 * PB_STORE_SCHEMA_VERSION, migrating older databases in one transaction.
 *
 * Sets WAL mode, foreign keys, the busy timeout and the synchronous level,
 * and creates the attachments directory (mode 0700, or 02770 with
 * group_shared). A database file that is a symbolic link is refused.
 *
 * A path that starts with "postgresql://" or "postgres://" opens a
 * PostgreSQL store instead (libpq's connection URL, e.g.
 * "postgresql://screen@db.example.org/phonebridge?sslmode=verify-full"):
 * it holds the data the screeners of a cluster share (allow/deny lists,
 * attempt counters, the call log, kv); the message journal, attachments,
 * SMS parts and contacts stay SQLite-only (PB_EUNSUPPORTED there). TLS is
 * verified (sslmode=verify-full) unless the URL's sslmode says otherwise;
 * a password is read from opts->password_file, never from the URL
 * (refused: PB_EINVAL); busy_timeout_ms becomes the statement timeout; a
 * dropped connection is re-established on the next call (docs/store.md).
 *
 * @param out  receives the new handle (pb_store_close()); NULL on failure
 * @param path database file, or a PostgreSQL URL; borrowed
 * @param opts options (borrowed) or NULL for PB_STORE_OPTIONS_INIT
 * @return 0; PB_EIO (cannot open or create, cannot connect), PB_EAUTH (the
 *         server refused the password), PB_EUNSUPPORTED (a database written
 *         by a newer schema; a URL and a library built without PostgreSQL),
 *         PB_EBUSY, PB_ENOMEM, PB_EINVAL; what pb_secret_read() returns
 */
PB_API int pb_store_open(pb_store **out, const char *path, const pb_store_options *opts);

/** Which backend a store is: "sqlite" or "postgresql" (static strings). */
PB_API const char *pb_store_backend(pb_store *st);

/** Close a handle (an open pb_store_begin() transaction is rolled back). NULL is fine. */
PB_API void pb_store_close(pb_store *st);

/** The schema version of the open database. */
PB_API int pb_store_schema_version(pb_store *st);

/**
 * Run SQLite's PRAGMA integrity_check (PostgreSQL: check that the server
 * answers, reconnecting once if the connection had dropped).
 * @return 0 when the database is sound; PB_EIO with the first problem in
 *         pb_error_last() otherwise
 */
PB_API int pb_store_check(pb_store *st);

/**
 * Copy the store while it is in use (by this handle, other handles or other
 * processes): the database through SQLite's online backup API in one step,
 * a consistent snapshot however much others write meanwhile, then every
 * attachment the snapshot refers to into "<dest_path>.attachments/".
 * Attachment files never change once written (their name is their
 * SHA-256), so the copy matches the snapshot; when one vanishes before it is
 * copied (removed by pb_store_attachment_gc() with its rows) the whole copy
 * is made again, up to 3 times. The files are new (mode 0600, the directory
 * 0700), never written through symbolic links, and fsync'd; a failed
 * attempt leaves nothing behind. Restoring is putting both in place of the
 * store's, with no process using it.
 *
 * @param st          the store; not inside pb_store_begin()
 * @param dest_path   the new database file; borrowed
 * @param attachments optional: receives the number of attachment files copied
 * @return 0; PB_EEXISTS (dest_path or its .attachments exists), PB_ESTATE,
 *         PB_EBUSY, PB_EIO, PB_ENOMEM, PB_EINVAL
 */
PB_API int pb_store_backup(pb_store *st, const char *dest_path, size_t *attachments);

/**
 * Group several changes into one atomic commit: every store function called
 * between pb_store_begin() and pb_store_commit() joins it (e.g. insert the
 * reassembled message and delete its parts). Transactions do not nest.
 * @return 0; PB_ESTATE when one is already open; PB_EBUSY; PB_EIO
 */
PB_API int pb_store_begin(pb_store *st);
/** Commit the transaction pb_store_begin() opened. @return 0, PB_ESTATE (none open), PB_EBUSY, PB_EIO */
PB_API int pb_store_commit(pb_store *st);
/** Undo the open transaction; nothing happens when none is open. */
PB_API void pb_store_rollback(pb_store *st);

/* --- tables of an application ------------------------------------------------ */

/*
 * An application (pb-bridged, say) keeps its own data in its own tables of
 * the store, with constraints and foreign keys to the library's tables
 * (e.g. REFERENCES messages (id)), and its own schema version beside the
 * library's: pb_store_app_schema() runs its versioned steps, and
 * pb_store_sqlite() gives it the connection to prepare its statements on.
 * SQLite stores only (PB_EUNSUPPORTED on a PostgreSQL one). docs/store.md,
 * "Tables of an application".
 */

/** The SQLite connection type (sqlite3.h), for pb_store_sqlite(). */
typedef struct sqlite3 sqlite3;

/** One step of an application's schema: version N is reached by running
 *  every step of versions 1..N in order. A released step is never edited:
 *  a change is a new version. */
typedef struct pb_store_app_step {
	/** the application's schema version this step belongs to: 1, 2, ...;
	 *  steps in order, a version may have several steps */
	int app_version;
	/** constant SQL (DDL, or DML moving data: no values from outside),
	 *  run with sqlite3_exec(); static, may be NULL */
	const char *sql;
	/** run after @c sql, in the same transaction; may be NULL. It may use
	 *  every store function (they join the transaction) and
	 *  pb_store_sqlite(), but not pb_store_begin()/_commit()/_rollback().
	 *  @return 0, or a negative pb error that rolls the whole migration back */
	int (*migrate)(pb_store *st, void *userdata);
} pb_store_app_step;

/**
 * Bring the tables of application @p app to the last version of @p steps,
 * in one transaction taken before anything is read (BEGIN IMMEDIATE: two
 * processes starting at once do not both run the steps): the steps after
 * the version recorded for @p app run in order, then the new version is
 * recorded in the table pb_app_schema (app, version, updated_at), which
 * is created on first use. Any error rolls everything back (the tables,
 * the data moved, the version): the next call starts over. A version
 * already reached runs nothing.
 *
 * @param st       an open SQLite store; not inside pb_store_begin()
 * @param app      the application's name, [a-z0-9_-]{1,64}; borrowed
 * @param steps    the steps, versions 1.. in order (borrowed during the call)
 * @param n        how many
 * @param userdata given to each step's migrate()
 * @param version  optional: receives the version the tables are at
 * @return 0; PB_EINVAL (bad name, steps out of order), PB_EUNSUPPORTED (a
 *         PostgreSQL store; the database's tables are newer than @p steps),
 *         PB_ESTATE (inside pb_store_begin()), PB_EBUSY, PB_EIO, or what a
 *         step's migrate() returned (pb_error_last() names the version)
 */
PB_API int pb_store_app_schema(pb_store *st, const char *app, const pb_store_app_step *steps, size_t n,
			       void *userdata, int *version);

/**
 * The version recorded for @p app's tables: 0 when none.
 * @return 0; PB_EINVAL; PB_EUNSUPPORTED (a PostgreSQL store); PB_EIO
 */
PB_API int pb_store_app_version(pb_store *st, const char *app, int *version);

/**
 * The store's SQLite connection, for an application's statements on its
 * own tables (prepare them with sqlite3_prepare_v2(), bind every value).
 * Borrowed: it belongs to @p st; finalize every statement prepared on it
 * before pb_store_close(). Use it from the thread that uses @p st, and
 * change data only inside pb_store_begin()/pb_store_commit() or a
 * pb_store_app_step's migrate(), so that a change commits with the
 * journal rows it belongs to. Do not close it, change its pragmas or run
 * BEGIN/COMMIT on it.
 * @return the connection; NULL for NULL or a PostgreSQL store
 */
PB_API sqlite3 *pb_store_sqlite(pb_store *st);

/* --- message journal -------------------------------------------------------- */

typedef enum pb_store_dir {
	PB_STORE_INBOUND = 1,  /**< from the phone network to Matrix */
	PB_STORE_OUTBOUND = 2, /**< from Matrix to the phone network */
} pb_store_dir;

/**
 * Message states. Inbound: RECEIVED -> STORED -> DELIVERED | FAILED.
 * Outbound: QUEUED -> SENDING -> SENT | FAILED | UNKNOWN. The legal
 * transitions are listed at pb_store_msg_transition().
 */
typedef enum pb_store_state {
	PB_STORE_RECEIVED = 1,  /**< inbound: seen on the modem, not yet complete */
	PB_STORE_STORED = 2,    /**< inbound: complete and durable; may be removed from the modem */
	PB_STORE_DELIVERED = 3, /**< inbound: in its Matrix room (terminal) */
	PB_STORE_QUEUED = 4,    /**< outbound: waiting to be sent */
	PB_STORE_SENDING = 5,   /**< outbound: handed to the modem, answer not yet seen */
	PB_STORE_SENT = 6,      /**< outbound: the network accepted it (terminal) */
	PB_STORE_UNKNOWN = 7,   /**< outbound: interrupted while sending; may or may not have gone out */
	PB_STORE_FAILED = 8,    /**< either direction: given up */
} pb_store_state;

/** "received", "stored", ...: static storage; "?" for an unknown value. */
PB_API const char *pb_store_state_name(int state);

/** A new journal row: every pointer is borrowed for the duration of the call. */
typedef struct pb_store_msg_in {
	unsigned version;       /**< PB_STORE_MSG_IN_VERSION */
	pb_store_dir dir;       /**< inbound or outbound */
	pb_store_state state;   /**< initial state: RECEIVED or STORED (inbound), QUEUED (outbound) */
	const char *dedup_key;  /**< NULL: derived, see pb_store_msg_insert() */
	const char *backend;    /**< "hilink", "at", "smseagle", "matrix"...; may be NULL */
	const char *backend_id; /**< the modem's id of an inbound message; may be NULL */
	const char *peer;       /**< the other party: E.164 number or sender name; may be NULL */
	const char *room;       /**< Matrix room id; may be NULL */
	const char *event_id;   /**< Matrix event id (outbound: the event to send); may be NULL */
	const char *body;       /**< text, UTF-8; may be NULL */
	int64_t sent_at;        /**< time stamped by the sender (SMSC time stamp, event origin_server_ts); 0: unknown */
} pb_store_msg_in;

#define PB_STORE_MSG_IN_VERSION 1u
#define PB_STORE_MSG_IN_INIT { PB_STORE_MSG_IN_VERSION, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0 }

/** A journal row as read back. Strings are NULL when unset. */
typedef struct pb_store_msg {
	int64_t id;
	pb_store_dir dir;
	pb_store_state state;
	const char *dedup_key;
	const char *backend;
	const char *backend_id;
	const char *peer;
	const char *room;
	const char *event_id;
	const char *body;
	const char *ref;        /**< set by transitions: Matrix event id when delivered, message reference when sent */
	const char *last_error; /**< the error of the last failed attempt */
	int attempts;
	int64_t sent_at;
	int64_t created_at;
	int64_t updated_at;
} pb_store_msg;

/** A list of journal rows (pb_store_msg_list_free()). */
typedef struct pb_store_msg_list {
	size_t count;
	pb_store_msg **items; /**< owned by the list */
} pb_store_msg_list;

/**
 * Add a row to the journal, or find it there already.
 *
 * The row is unique on (dir, dedup_key). When dedup_key is NULL it is
 * derived: inbound "<backend>:<backend_id>" when backend_id is set, else
 * "sha256:<hex>" of backend, peer, sent_at and body; outbound
 * "event:<event_id>" (an outbound row without either is PB_EINVAL).
 *
 * @param st  the store
 * @param in  the row (borrowed)
 * @param id  receives the new row's id, or the existing row's id with
 *            PB_EEXISTS (so that a retried insert is idempotent); may be NULL
 * A row whose key was released (pb_store_msg_release_key()) no longer
 * matches.
 *
 * @return 0; PB_EEXISTS (already there, nothing changed); PB_EINVAL (bad
 *         direction, initial state or missing key); PB_EBUSY; PB_EIO
 */
PB_API int pb_store_msg_insert(pb_store *st, const pb_store_msg_in *in, int64_t *id);

/**
 * Say that the box no longer holds inbound row @p id's message: its deletion
 * from the modem was confirmed (or the box answered that it has no such
 * entry). From then on the row's dedup key no longer matches: the same
 * key inserted again (an identical message whose box id was reused) is a
 * new row. Only rows whose deletion was never confirmed deduplicate, which
 * is what protects a message seen again after a crash between its journal
 * commit and its deletion. The key is renamed ("<key>|left-box#<id>"), so
 * pb_store_msg_find() with the old key no longer finds the row.
 * Idempotent.
 * @return 0; PB_ENOTFOUND (no such row); PB_EINVAL (an outbound row);
 *         PB_EBUSY; PB_EIO
 */
PB_API int pb_store_msg_release_key(pb_store *st, int64_t id);

/**
 * Move a row to state @p to, checked and committed atomically with its
 * attempt count and last error.
 *
 * Legal transitions (anything else is PB_ESTATE, nothing changed):
 *
 *     inbound   received -> stored | failed
 *               stored   -> stored (a delivery attempt failed, will retry)
 *                        | delivered | failed
 *               failed   -> stored (retry by hand)
 *     outbound  queued   -> sending | failed
 *               sending  -> sent | failed | unknown
 *                        | queued (refused before the network took it: retry)
 *               unknown  -> sent | failed | queued (resend by decision only)
 *               failed   -> queued (retry by hand)
 *
 * attempts grows by one on queued -> sending and on every transition out of
 * stored (each is the end of one delivery attempt).
 *
 * @param id    the row
 * @param to    the new pb_store_state
 * @param ref   borrowed; stored with the row when not NULL (the Matrix event
 *              id of the delivered message, the modem's message reference)
 * @param error borrowed; the row's last_error when not NULL (kept otherwise)
 * @return 0; PB_ENOTFOUND; PB_ESTATE (illegal transition); PB_EBUSY; PB_EIO
 */
PB_API int pb_store_msg_transition(pb_store *st, int64_t id, int to, const char *ref,
				   const char *error);

/**
 * Read a row. @param out receives a new row (pb_store_msg_free())
 * @return 0, PB_ENOTFOUND, PB_ENOMEM, PB_EIO
 */
PB_API int pb_store_msg_get(pb_store *st, int64_t id, pb_store_msg **out);

/** Find a row by direction and dedup key. @param out new (pb_store_msg_free())
 *  @return 0, PB_ENOTFOUND, PB_ENOMEM, PB_EIO */
PB_API int pb_store_msg_find(pb_store *st, pb_store_dir dir, const char *dedup_key, pb_store_msg **out);

/**
 * Rows of one direction in one state, oldest first (by id), after
 * @p after_id: the daemons' work queues ("next inbound rows in state
 * stored"; page by passing the last id seen).
 *
 * @param limit at most this many rows (0: no limit)
 * @param out   receives a new list (pb_store_msg_list_free()), possibly empty
 * @return 0, PB_ENOMEM, PB_EIO
 */
PB_API int pb_store_msg_list_state(pb_store *st, pb_store_dir dir, pb_store_state state, int64_t after_id,
				   size_t limit, pb_store_msg_list **out);

/** Count the rows of one direction in one state. @return 0, PB_EIO */
PB_API int pb_store_msg_count(pb_store *st, pb_store_dir dir, pb_store_state state, int64_t *count);

/**
 * Start-up recovery: every outbound row left in SENDING by a crash becomes
 * UNKNOWN (last_error "interrupted while sending"), so that it is never
 * sent a second time without a decision. Call once when a daemon starts,
 * before its sender runs.
 *
 * @param changed optional; receives how many rows changed
 * @return 0, PB_EBUSY, PB_EIO
 */
PB_API int pb_store_msg_recover(pb_store *st, int64_t *changed);

/**
 * Delete finished rows (delivered, sent) last changed before @p before (ms),
 * with their attachment rows; pb_store_attachment_gc() then removes the
 * files no row references any more. Deduplication only remembers what is
 * kept: prune well after a modem could deliver the same message again.
 *
 * @param removed optional; receives how many rows went
 * @return 0, PB_EBUSY, PB_EIO
 */
PB_API int pb_store_msg_prune(pb_store *st, int64_t before, int64_t *removed);

/** Free a row from pb_store_msg_get()/_find(). NULL is fine. */
PB_API void pb_store_msg_free(pb_store_msg *msg);
/** Free a list and its rows. NULL is fine. */
PB_API void pb_store_msg_list_free(pb_store_msg_list *list);

/* --- attachments -------------------------------------------------------------- */

/** Length of a SHA-256 name in hex, without the NUL. */
#define PB_STORE_SHA256_HEX 64

/** An attachment of a journal row. */
typedef struct pb_store_attachment {
	int64_t msg_id;
	int seq;                  /**< 0, 1, ... in the order they were added */
	char sha256[PB_STORE_SHA256_HEX + 1]; /**< the file's name in the attachments directory */
	int64_t size;
	const char *content_type; /**< may be NULL */
	const char *name;         /**< the name the network gave (display only, never a path); may be NULL */
} pb_store_attachment;

/** The attachments of a row (pb_store_attachment_list_free()). */
typedef struct pb_store_attachment_list {
	size_t count;
	pb_store_attachment *items; /**< owned by the list */
} pb_store_attachment_list;

/**
 * Store attachment bytes for a journal row.
 *
 * The bytes go to a file named by their SHA-256 in the attachments
 * directory (written to a temporary name, fsynced, renamed, directory
 * fsynced; mode 0600, 0640 in a group-shared store; identical content is stored once), then the row that
 * references it is committed. The name the network gave is kept as data
 * only and never touches the file system.
 *
 * @param msg_id       the journal row (must exist: PB_ENOTFOUND)
 * @param data, len    the bytes (borrowed)
 * @param content_type borrowed; may be NULL
 * @param name         borrowed; may be NULL
 * @param sha256       optional; receives the hex name (65 bytes)
 * @return 0, PB_ENOTFOUND, PB_EIO, PB_EBUSY, PB_ENOMEM
 */
PB_API int pb_store_attachment_add(pb_store *st, int64_t msg_id, const void *data, size_t len,
				   const char *content_type, const char *name,
				   char sha256[PB_STORE_SHA256_HEX + 1]);

/** The attachments of a row, in order. @param out new (pb_store_attachment_list_free())
 *  @return 0, PB_ENOMEM, PB_EIO */
PB_API int pb_store_attachment_list_get(pb_store *st, int64_t msg_id, pb_store_attachment_list **out);

/**
 * Read an attachment's bytes by hash (checking they still hash to it).
 * @param sha256 64 lowercase hex digits (anything else: PB_EINVAL); borrowed
 * @param out    the bytes are appended (caller-owned)
 * @return 0, PB_EINVAL, PB_ENOTFOUND, PB_EIO (unreadable or corrupted), PB_ENOMEM
 */
PB_API int pb_store_attachment_read(pb_store *st, const char *sha256, pb_buf *out);

/**
 * The file name of an attachment, for handing to an uploader.
 * @return new (pb_free()), or NULL with PB_EINVAL (a bad hash) or PB_ENOMEM raised
 */
PB_API char *pb_store_attachment_path(pb_store *st, const char *sha256);

/**
 * Remove files of the attachments directory that no row references
 * (left by a crash between writing a file and committing its row) and
 * temporary files. Run it when no other process is adding attachments.
 * @param removed optional; receives how many files went
 * @return 0, PB_EIO
 */
PB_API int pb_store_attachment_gc(pb_store *st, int64_t *removed);

/** Free a list from pb_store_attachment_list_get() and its strings. NULL is fine. */
PB_API void pb_store_attachment_list_free(pb_store_attachment_list *list);

/* --- SMS reassembly parts ------------------------------------------------------ */

/** One stored part of a concatenated SMS. */
typedef struct pb_store_sms_part {
	const char *group_key;  /**< identifies the message the part belongs to */
	const char *originator;
	int reference;          /**< concatenation reference number */
	int total;              /**< parts in the message */
	int seq;                /**< 1-based */
	const uint8_t *pdu;     /**< the part as received */
	size_t pdu_len;
	int64_t received_at;
} pb_store_sms_part;

/**
 * Keep one part until its message is complete. Idempotent: the same
 * (group_key, seq) again changes nothing and returns PB_EEXISTS.
 * @param part borrowed; group_key and pdu required, 1 <= seq <= total <= 255
 * @return 0, PB_EEXISTS, PB_EINVAL, PB_EBUSY, PB_EIO
 */
PB_API int pb_store_sms_part_put(pb_store *st, const pb_store_sms_part *part);

/**
 * Call @p cb for every stored part, ordered by group key then seq (a
 * restarted daemon feeds them back to its reassembler). The part and its
 * pointers are borrowed for the duration of the call; a callback returning
 * non-zero stops the walk and that value is returned. Do not call other
 * store functions on @p st from the callback.
 * @return 0, the callback's value, PB_EIO
 */
PB_API int pb_store_sms_part_foreach(pb_store *st,
				     int (*cb)(const pb_store_sms_part *part, void *userdata),
				     void *userdata);

/** Delete every part of a group (its message is complete, or given up).
 *  @return 0 (also when there was none), PB_EBUSY, PB_EIO */
PB_API int pb_store_sms_part_delete_group(pb_store *st, const char *group_key);

/** Delete groups whose newest part was received before @p before (ms).
 *  @param removed optional: parts removed. @return 0, PB_EBUSY, PB_EIO */
PB_API int pb_store_sms_part_expire(pb_store *st, int64_t before, int64_t *removed);

/* --- key-value state (sync tokens, cursors) ------------------------------------- */

/** Set @p key to @p value (both borrowed, NUL-terminated). @return 0, PB_EINVAL, PB_EBUSY, PB_EIO */
PB_API int pb_store_kv_set(pb_store *st, const char *key, const char *value);
/** @param value receives a new string (pb_free()). @return 0, PB_ENOTFOUND, PB_ENOMEM, PB_EIO */
PB_API int pb_store_kv_get(pb_store *st, const char *key, char **value);
/** @return 0 (also when absent), PB_EBUSY, PB_EIO */
PB_API int pb_store_kv_delete(pb_store *st, const char *key);

/* --- contacts and rooms ------------------------------------------------------------ */

/** A contact as read back; the strings belong to it. */
typedef struct pb_store_contact {
	const char *number;       /**< E.164 (or a sender name) */
	const char *display_name; /**< may be NULL */
	const char *room;         /**< Matrix room id; may be NULL */
	int64_t updated_at;
} pb_store_contact;

/**
 * Create or replace a contact. Every string is borrowed.
 * @param number       E.164 number (normalise with pb_phone_normalize() first)
 * @param display_name may be NULL
 * @param room         may be NULL; a room belongs to one contact (PB_EEXISTS)
 * @return 0, PB_EEXISTS, PB_EINVAL, PB_EBUSY, PB_EIO
 */
PB_API int pb_store_contact_set(pb_store *st, const char *number, const char *display_name,
				const char *room);
/** @param out new (pb_store_contact_free()). @return 0, PB_ENOTFOUND, PB_ENOMEM, PB_EIO */
PB_API int pb_store_contact_get(pb_store *st, const char *number, pb_store_contact **out);
/** The contact whose room is @p room. @return 0, PB_ENOTFOUND, PB_ENOMEM, PB_EIO */
PB_API int pb_store_contact_by_room(pb_store *st, const char *room, pb_store_contact **out);
/** @return 0, PB_ENOTFOUND, PB_EBUSY, PB_EIO */
PB_API int pb_store_contact_delete(pb_store *st, const char *number);
/** Free a contact from pb_store_contact_get()/_by_room(). NULL is fine. */
PB_API void pb_store_contact_free(pb_store_contact *c);

/** A group conversation: a set of numbers that shares one room. */
typedef struct pb_store_group {
	const char *room;
	size_t count;
	const char **numbers; /**< sorted, no duplicates; owned by the group */
} pb_store_group;

/**
 * Map a set of numbers (order and duplicates do not matter) to a room,
 * replacing the room of the same set.
 * @param numbers borrowed array of @p count borrowed strings, count >= 1
 * @return 0, PB_EEXISTS (the room belongs to another set), PB_EINVAL, PB_EBUSY, PB_EIO
 */
PB_API int pb_store_group_set(pb_store *st, const char *const *numbers, size_t count,
			      const char *room);
/** The group of exactly this set of numbers. @param out new (pb_store_group_free())
 *  @return 0, PB_ENOTFOUND, PB_ENOMEM, PB_EIO */
PB_API int pb_store_group_by_numbers(pb_store *st, const char *const *numbers, size_t count,
				     pb_store_group **out);
/** The group of a room. @return 0, PB_ENOTFOUND, PB_ENOMEM, PB_EIO */
PB_API int pb_store_group_by_room(pb_store *st, const char *room, pb_store_group **out);
/** Free a group from pb_store_group_by_numbers()/_by_room(). NULL is fine. */
PB_API void pb_store_group_free(pb_store_group *g);

/* --- screening: allow and deny lists, attempts, call log ----------------------------- */

typedef enum pb_store_list {
	PB_STORE_ALLOW = 1,
	PB_STORE_DENY = 2,
} pb_store_list;

/** Why a number is on a list. */
typedef enum pb_store_source {
	PB_STORE_SRC_MANUAL = 1,    /**< a person put it there */
	PB_STORE_SRC_CHALLENGE = 2, /**< the caller passed a challenge */
	PB_STORE_SRC_CONTACTS = 3,  /**< imported from contacts */
	PB_STORE_SRC_OUTGOING = 4,  /**< the owner called or texted it */
} pb_store_source;

/** "manual", "challenge", "contacts", "outgoing": static; "?" for others. */
PB_API const char *pb_store_source_name(int source);

/** An allow or deny list entry. */
typedef struct pb_store_list_entry {
	pb_store_list list;
	pb_store_source source;
	int64_t created_at;
	int64_t expires_at; /**< 0: never */
} pb_store_list_entry;

/**
 * Put a number on a list, replacing an entry already there.
 * @param number     borrowed, E.164
 * @param expires_at ms since the epoch, 0 for never
 * @return 0, PB_EINVAL, PB_EBUSY, PB_EIO
 */
PB_API int pb_store_list_add(pb_store *st, pb_store_list list, const char *number, pb_store_source source,
			     int64_t expires_at);
/** @return 0, PB_ENOTFOUND, PB_EBUSY, PB_EIO */
PB_API int pb_store_list_remove(pb_store *st, pb_store_list list, const char *number);

/**
 * Is @p number on @p list at time @p now (ms; 0 for the current time)?
 * Expired entries do not count.
 * @param entry optional; receives the entry (its source, expiry)
 * @return 0 (listed), PB_ENOTFOUND (not listed or expired), PB_EIO
 */
PB_API int pb_store_list_lookup(pb_store *st, pb_store_list list, const char *number, int64_t now,
				pb_store_list_entry *entry);

/** A callback of pb_store_list_foreach(): @p number and @p entry are borrowed
 *  for the call. Return non-zero to stop. */
typedef int (*pb_store_list_cb)(const char *number, const pb_store_list_entry *entry, void *userdata);

/**
 * Walk one page of a list in number order (strcmp): the entries after
 * @p after (NULL or "": from the first), at most @p limit of them (0: all),
 * expired ones left out. Page on by passing the last number seen. Do not
 * call other store functions on @p st from the callback.
 * @param after borrowed
 * @return 0, the callback's non-zero value, PB_EINVAL, PB_EIO
 */
PB_API int pb_store_list_foreach(pb_store *st, pb_store_list list, const char *after, size_t limit, int64_t now,
				 pb_store_list_cb cb, void *userdata);

/** Delete expired entries of both lists. @param removed optional. @return 0, PB_EBUSY, PB_EIO */
PB_API int pb_store_list_expire(pb_store *st, int64_t now, int64_t *removed);

/**
 * Record a call attempt of @p number for rate limiting.
 * @param at     ms, 0 for now
 * @param failed true when the attempt failed (challenge failed, rejected)
 * @return 0, PB_EINVAL, PB_EBUSY, PB_EIO
 */
PB_API int pb_store_attempt_record(pb_store *st, const char *number, int64_t at, bool failed);

/**
 * Count the attempts of @p number at or after @p since (ms).
 * @param failed_only count only failed attempts
 * @return 0, PB_EIO
 */
PB_API int pb_store_attempt_count(pb_store *st, const char *number, int64_t since,
				  bool failed_only, int64_t *count);

/** Forget attempts before @p before (ms). @return 0, PB_EBUSY, PB_EIO */
PB_API int pb_store_attempt_prune(pb_store *st, int64_t before, int64_t *removed);

/** One screened call; every string borrowed, may be NULL. */
typedef struct pb_store_call {
	int64_t id;                 /**< set when read back */
	int64_t at;                 /**< ms; 0 for now */
	const char *caller;         /**< E.164 or what the network sent */
	const char *attestation;    /**< STIR/SHAKEN: "A", "B", "C", "failed", "none" */
	const char *verdict;        /**< the screening verdict, e.g. "accept", "reject", "challenge" */
	const char *challenge;      /**< the challenge run, and how it ended, e.g. "dtmf:passed" */
	int64_t duration_ms;        /**< length of the call; 0 when not answered */
	const char *forward_target; /**< where it was forwarded */
	/* since schema 5 */
	const char *called;         /**< the called number or Request-URI */
	const char *rule;           /**< the policy rule that decided, e.g. "allow-list", "not-our-domain" */
	int sip_status;             /**< the SIP final status the caller got (200, 403, 404, 487, ...); 0 unknown */
	const char *ended;          /**< how it ended: "forwarded", "refused", "hung-up", "failed", ... */
	/* since schema 6 */
	const char *source;         /**< the address the INVITE came from, "192.0.2.7:5060" */
	/** how many calls the row stands for: 1 (0 when logging means 1); more for
	 *  refusals aggregated into one row (pb_screener: a flood of junk) */
	int64_t count;
} pb_store_call;

/** Log a call. @param id optional: the new row's id. @return 0, PB_EBUSY, PB_EIO */
PB_API int pb_store_call_log(pb_store *st, const pb_store_call *call, int64_t *id);

/** Logged calls (pb_store_call_list_free()). */
typedef struct pb_store_call_list {
	size_t count;
	pb_store_call *items; /**< owned by the list, newest first */
} pb_store_call_list;

/** The most recent calls, newest first. @param limit 0: all
 *  @param out new (pb_store_call_list_free()). @return 0, PB_ENOMEM, PB_EIO */
PB_API int pb_store_call_recent(pb_store *st, size_t limit, pb_store_call_list **out);
/** Logged calls with an id above @p after_id, oldest first (a follower's
 *  work queue: page with the last id seen). @param limit 0: all
 *  @param out new (pb_store_call_list_free()). @return 0, PB_ENOMEM, PB_EIO */
PB_API int pb_store_call_after(pb_store *st, int64_t after_id, size_t limit, pb_store_call_list **out);
/** Free a list from pb_store_call_recent() and its strings. NULL is fine. */
PB_API void pb_store_call_list_free(pb_store_call_list *list);

/* --- counts per day (status pages) -------------------------------------------- */

/** The most days pb_store_call_daily() and pb_store_msg_daily() count at once. */
#define PB_STORE_DAILY_MAX 366

/**
 * Calls logged per day: @p counts[i] receives how many calls of the log
 * began in [@p day0_ms + i days, @p day0_ms + (i + 1) days), for i below
 * @p days (days of 24 hours from @p day0_ms, e.g. a local midnight).
 * @param counts caller-owned, @p days elements, overwritten
 * @return 0; PB_EINVAL (days 0 or over PB_STORE_DAILY_MAX), PB_EIO
 */
PB_API int pb_store_call_daily(pb_store *st, int64_t day0_ms, unsigned days, int64_t *counts);

/**
 * Journal rows per day that are now in @p state of direction @p dir, by the
 * time they reached it (updated_at; terminal states do not change again),
 * counted as pb_store_call_daily() does.
 * @param backend_glob only rows whose backend matches this SQLite GLOB
 *        pattern ("matrix*"); NULL = every row
 * @return 0; PB_EINVAL (days 0 or over PB_STORE_DAILY_MAX), PB_EIO
 */
PB_API int pb_store_msg_daily(pb_store *st, pb_store_dir dir, pb_store_state state, const char *backend_glob, int64_t day0_ms,
			      unsigned days, int64_t *counts);
/* --- per-number settings (both backends) ------------------------------------ */

/**
 * What one of the numbers a screener answers for does differently from the
 * configured defaults (a cluster serving many numbers, docs/cluster.md).
 * NULL members (and "") keep the default.
 */
typedef struct pb_store_number {
	const char *number;         /**< the own number called, E.164 */
	/** policy keys over the defaults, "key=value" pairs separated by ';'
	 *  ("challenge=arithmetic; region=GB"; pb_screen_policy_set() keys) */
	const char *policy;
	const char *forward_target; /**< where its calls go (one URI or several, comma-separated) */
	/** when the forward target does not answer: a voicemail server's SIP URI
	 *  (tried instead of the screener's fallback), "record" (the screener's
	 *  own recorder, docs/screen.md "Voicemail") or "off" (neither) */
	const char *voicemail;
	int64_t updated_at;         /**< when it was last set (ms); set by the store */
} pb_store_number;

/** Set (insert or replace) a number's settings. @return 0, PB_EINVAL, PB_EIO, PB_EBUSY */
PB_API int pb_store_number_set(pb_store *st, const pb_store_number *n);
/**
 * A number's settings.
 * @param out new (pb_store_number_free()); NULL when not found
 * @return 0; PB_ENOTFOUND (no settings: the defaults apply), PB_ENOMEM, PB_EIO
 */
PB_API int pb_store_number_get(pb_store *st, const char *number, pb_store_number **out);
/** Free what pb_store_number_get() returned. NULL is fine. */
PB_API void pb_store_number_free(pb_store_number *n);
/** Remove a number's settings. @return 0, PB_ENOTFOUND, PB_EIO */
PB_API int pb_store_number_remove(pb_store *st, const char *number);
/** A callback of pb_store_number_foreach(): @p n is borrowed for the call;
 *  a non-zero return stops the walk and is returned. */
typedef int (*pb_store_number_cb)(const pb_store_number *n, void *userdata);
/**
 * Walk the numbers with settings in number order, after @p after (NULL or
 * "": from the start), at most @p limit (0: all).
 * @return 0, the callback's non-zero value, PB_EIO
 */
PB_API int pb_store_number_foreach(pb_store *st, const char *after, size_t limit, pb_store_number_cb cb,
				   void *userdata);

PB_END_DECLS

#endif
