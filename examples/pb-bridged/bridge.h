/*
 * pb-bridged — the bridge between one phone number and Matrix (internal).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The daemon is a few pipeline stages that hand work to each other only
 * through the store journal (docs/bridge.md):
 *
 *   modem thread    pb_modem_watch -> pbb_inbound_journal() (row "stored",
 *                   committed) -> only then pb_modem_delete();
 *                   outbound rows "queued" -> "sending" -> SMS -> "sent"|"failed"
 *   delivery thread inbound "stored" rows, oldest first -> contact room
 *                   (created on first use) -> send with transaction id
 *                   pbb_txn_id("in", row id) -> "delivered"; notices for
 *                   outbound rows that failed or are "unknown" after a crash
 *   sync thread     /sync -> owner's m.text in a contact room -> outbound row
 *                   unique on the event id ("queued")
 *
 * Everything here uses only the public libphonebridge API; it is a static
 * library of its own (libpbbridge) so that the tests can call the stages.
 */
#ifndef PBB_BRIDGE_H
#define PBB_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <pthread.h>

#include <phonebridge/phonebridge.h>

/** The daemon's configuration (pbb_config_load()); every string is owned. */
typedef struct pbb_config {
	/* [modem] */
	char *modem_backend;       /**< "hilink", "at", "smseagle" */
	char *modem_url;
	char *modem_device;
	char *modem_username;
	char *modem_password_file;
	char *modem_token_file;
	char *modem_login;
	char *modem_storage;
	int modem_poll_ms;
	int modem_timeout_ms;
	int modem_send_timeout_ms; /**< at: wait for the answer to a sent PDU; 0 = the library's 60 s */
	int incomplete_timeout_ms; /**< report a multipart SMS still incomplete after this long */
	bool modem_insecure_tls;
	bool import_existing;      /**< bridge what is on the modem at the first start (default no) */
	char own_number[PB_PHONE_MAX]; /**< E.164 of the SIM, normalised; "" when not configured */
	/* [mmsc] */
	char *mmsc_url;
	char *mmsc_proxy;
	char *mmsc_interface;
	char *mmsc_rewrite;
	char *mmsc_user_agent;
	char **mmsc_headers;       /**< "Name: value" each (the key repeated), checked; NULL-terminated */
	size_t n_mmsc_headers;
	size_t mmsc_max_size;      /**< largest outbound media, bytes (default 300 KiB) */
	int mmsc_fetch_attempts;   /**< fetches of a picture message before giving up (default 10) */
	int mmsc_fetch_retry_ms;   /**< first wait between fetches, doubling up to 1 h (default 60000) */
	/* [matrix] */
	char *homeserver;
	char *token_file;
	char **owners;             /**< at least one */
	size_t n_owners;
	int sync_timeout_ms;
	int retry_max_ms;          /**< longest wait between attempts to reach the homeserver */
	int encryption;            /**< PBB_E2EE_* */
	char *pickle_key_file;     /**< [matrix] pickle_key_file: the key of the stored Olm/Megolm state */
	int undecryptable_ms;      /**< wait for a missing room key before the notice */
	/* [bridge] */
	char *store_path;
	char region[8];            /**< default region for national numbers, e.g. "DE" */
	bool store_sync_normal;    /**< tests only: synchronous=NORMAL */
	bool delivery_reports;     /**< ask for delivery reports (default yes) */
	/* [calls]: pb-screend's call log in Matrix (calls.c) */
	bool calls_follow;         /**< follow the call log at all (default yes) */
	bool calls_answered;       /**< "Call, 3 min" in the caller's room (default yes) */
	bool calls_missed;         /**< "Missed call" in the caller's room (default yes) */
	int calls_screened;        /**< pbb_screened: screened-out calls (default digest) */
	int calls_digest_at;       /**< the daily digest's local time, seconds after midnight (default 20:00) */
	/* [http]: /health, /metrics, the status page (http.c) */
	char *http_listen;         /**< "127.0.0.1:9750"; NULL: no listener */
	int stall_timeout_ms;      /**< [bridge]: a stage quiet this long is stuck (default 900000: 15 min) */
	/* [matrix] application service (appservice.c) */
	int mode;                  /**< PBB_MODE_*: bot (default) or appservice */
	char *as_token_file;       /**< the registration's as_token (the bridge's access token) */
	char *hs_token_file;       /**< the registration's hs_token (the homeserver's, checked) */
	char *listen;              /**< the Application Service API listener ("127.0.0.1:29331") */
	char *appservice_url;      /**< how the homeserver reaches it (default http://LISTEN) */
	char *appservice_id;       /**< the registration's id (default "phonebridge") */
	char *sender_localpart;    /**< the bridge's own user (default "phonebridge") */
	char *puppet_template;     /**< a contact's localpart, "{number}" = its digits (default sms_{number}) */
	char *server_name;         /**< the homeserver's name (default: the first owner's) */
	int delivery;              /**< PBB_DELIVERY_*: how a delivered SMS shows */
	/* [calls] store: a PostgreSQL call log (a screening cluster's, docs/cluster.md) */
	char *calls_store;         /**< "postgresql://..."; NULL: the call log of [bridge] store */
	char *calls_password_file; /**< its password (mode 0600 or a credential); NULL: none */
} pbb_config;

/** [matrix] mode */
enum {
	PBB_MODE_BOT = 0,        /**< one bot account, /sync */
	PBB_MODE_APPSERVICE = 1, /**< an application service: a puppet per contact, transactions pushed */
};
/** [matrix] delivery: how a delivery report shows on the sent message. */
enum {
	PBB_DELIVERY_DEFAULT = 0,  /**< receipt in appservice mode, reaction in bot mode */
	PBB_DELIVERY_RECEIPT = 1,  /**< the contact's puppet reads the message (appservice only) */
	PBB_DELIVERY_REACTION = 2, /**< a check mark reaction */
	PBB_DELIVERY_NOTICE = 3,   /**< a notice in the room */
};

/** [matrix] encryption: what the bridge does with end-to-end encryption. */
enum {
	PBB_E2EE_OFF = 0,     /**< no Olm device: encrypted rooms cannot be read */
	PBB_E2EE_ALLOW = 1,   /**< reads and writes rooms that the owner encrypts */
	PBB_E2EE_DEFAULT = 2, /**< and rooms it creates are encrypted */
	PBB_E2EE_REQUIRE = 3, /**< and unencrypted messages from owners are refused */
};
/** Where screened-out calls go. */
typedef enum pbb_screened {
	PBB_SCREENED_DIGEST = 0, /**< one digest a day in the control room */
	PBB_SCREENED_LIVE = 1,   /**< each at once in the control room */
	PBB_SCREENED_OFF = 2,    /**< not at all (they stay in !calls) */
} pbb_screened;

/**
 * Read an INI file into @p c (zeroed first; pbb_config_free() afterwards,
 * also on failure). Secrets are not read here: only their file names, which
 * the modules open with their mode checks.
 * @param err receives a message on failure
 * @return 0, or -1 with @p err set
 */
int pbb_config_load(pbb_config *c, const char *path, char *err, size_t errlen);
/** Parse INI text (the same as pbb_config_load(), for tests). */
int pbb_config_parse(pbb_config *c, const char *text, char *err, size_t errlen);
void pbb_config_free(pbb_config *c);
/** Is @p user_id one of the owners? */
bool pbb_config_is_owner(const pbb_config *c, const char *user_id);
/**
 * Check one [mmsc] headers value ("Name: value"): no CR or LF (header
 * injection), a token as name, no control characters.
 * @return NULL when good, else a static reason
 */
const char *pbb_header_check(const char *header);

/** Size of a journal's identity: 16 hex digits and a NUL. */
#define PBB_STORE_ID_SIZE 17

/**
 * The journal's identity (kv "bridge.store_id"): 16 hex digits drawn at
 * random by the first call on a new journal, then kept. Transaction ids
 * carry it because the homeserver remembers them per access token, not per
 * journal: a new journal counts its rows from 1 again, and with the old
 * token "pbin1" would be answered with the OLD event (docs/bridge.md).
 * @param out receives the identity
 * @return 0 or a negative PB_E* code (store)
 */
int pbb_store_id(pb_store *st, char out[PBB_STORE_ID_SIZE]);

/** Transaction id of a journal row's Matrix send: "pb<kind><id>.<store id>"
 *  (stable across restarts, unique per access token across journals). */
void pbb_txn_id(char *out, size_t size, const char *store_id, const char *kind, int64_t id);

/**
 * The journal key of a message from the modem: backend, the box's ids, its
 * time, number and a hash of its content. The same entry seen again (after
 * a crash before it was deleted) gives the same key.
 */
void pbb_inbound_key(char *out, size_t size, const char *backend, const pb_modem_msg *m);

/*
 * Make the watch of @m keep incomplete messages in @st (its SMS part rows):
 * parts of a concatenated SMS and the first sighting of a box's own
 * incomplete entry survive a restart, and a message still incomplete
 * @incomplete_timeout_ms after it was first seen is reported with what
 * arrived (parts.c). Loads what @st holds from before.
 * @return 0 or the store's error
 */
int pbb_watch_setup(pb_modem *m, pb_store *st, int incomplete_timeout_ms);

/* A modem message's time in ms since the epoch (pb_modem_msg_time_ms():
 * the box's local time, or the SMSC's with its zone), 0 when unreadable. */
int64_t pbb_box_time_ms(const pb_modem_msg *m);

/**
 * Journal one message the modem reported: a row in state "stored" (text
 * messages), with the raw bytes as an attachment for other kinds.
 * @param id receives the row id (also for a known message)
 * The row's backend is @p backend, its kind ("text", "incomplete", "mms",
 * "report", "other") a row of bridge_msg_kind. Delivery reports' body is
 * what the network said; the rest is in the table bridge_report
 * (pbb_report_put()).
 * @return 0 (new row), PB_EEXISTS (already journaled), or a negative PB_E* code
 */
int pbb_inbound_journal(pb_store *st, const char *backend, const char *region,
			const pb_modem_msg *m, int64_t *id);

/* --- the bridge's tables in the store (tables.c) --------------------------- */

/**
 * Bring the bridge's own tables (application "bridge" of
 * pb_store_app_schema()) to this program's version, moving what earlier
 * versions kept in kv and journal bodies, in one transaction. Run at every
 * open of the store; a no-op once done. @return 0 or a negative code (logged)
 */
int pbb_tables_migrate(pb_store *st);
/**
 * Journal a row (pb_store_msg_insert()) and its kind (table
 * bridge_msg_kind: "text", "incomplete", "mms", "report", "other",
 * "notice", "cmd", "voicemail"), in the caller's transaction.
 * @return 0, PB_EEXISTS (the row was journaled before: *id is its id), or a negative code
 */
int pbb_journal_insert(pb_store *st, const pb_store_msg_in *in, const char *kind, int64_t *id);
/** The kind of row @p r (static): "other" for a row without one. A row of
 *  another writer with its kind after a colon in the backend (pb-screend's
 *  "screen:voicemail") is adopted first: the kind to the table, the backend
 *  cut at the colon, one commit; not inside the caller's transaction.
 *  @return 0 or a negative code */
int pbb_msg_kind(pb_store *st, const pb_store_msg *r, const char **kind);
/** Is row @p r of @p kind? @return 1, 0, or a negative code */
int pbb_msg_is(pb_store *st, const pb_store_msg *r, const char *kind);

/* --- delivery reports (reports.c) ---------------------------------------- */

/** What a delivery report says. */
typedef enum pbb_dr_status {
	PBB_DR_DELIVERED = 0,
	PBB_DR_PENDING = 1, /**< the network is still trying (TP-ST 0x20-0x3F): not final */
	PBB_DR_FAILED = 2,
	PBB_DR_EXPIRED = 3, /**< the validity period ran out (TP-ST 0x46) */
} pbb_dr_status;

/** The reaction key put on a delivered message. */
#define PBB_DR_REACTION "\xe2\x9c\x93" /* U+2713 CHECK MARK */

/** A delivery report, as the journal keeps it. */
typedef struct pbb_report {
	int ref;        /**< the message reference (TP-MR) it is for, -1 when the box gives none */
	int code;       /**< TP-ST, -1 when the box gives none */
	int status;     /**< pbb_dr_status */
	char text[96];  /**< what the network said, for people */
} pbb_report;

/** "delivered", "pending", "failed", "expired" (static). */
const char *pbb_report_status_name(int status);
/**
 * Read a PB_MODEM_MSG_REPORT entry: the SMS-STATUS-REPORT PDU of an AT
 * modem (reference, TP-ST), or a HiLink entry (SmsType 7 delivered, 8
 * failed; no reference). @return 0 or PB_EMALFORMED (an undecodable PDU)
 */
int pbb_report_read(const pb_modem_msg *m, pbb_report *out);
/** The journal body of a report: "REF CODE STATUS TEXT". */
void pbb_report_body(const pbb_report *r, char *out, size_t size);
/** Read a journal body back. @return 0 or PB_EMALFORMED */
int pbb_report_parse(const char *body, pbb_report *out);
/**
 * Send the SMS of outbound row @p row. Where the box takes TPDUs (AT) every
 * part is submitted on its own (TP-SRR set with @p report; the row's
 * concatenation reference, row & 0xFF, on every attempt) and, as each part
 * is acknowledged, its reference is committed to kv "bridge.out.<row>"
 * ("DONE REFS"): a send that stopped (nothing sent, no answer, a crash)
 * goes on after the last part that went out, so only the part in flight can
 * be uncertain. Other boxes get the whole text (pb_modem_send_text()).
 * @param refs  receives the references of the parts that went out, "12,13" ("" when none)
 * @param done  receives how many parts went out (this and earlier attempts)
 * @param total receives how many parts the message has (1 for a box that splits itself)
 * @return 0, or the failing send's negative code: pb_modem_send_fate() says
 *         whether the part in flight may have gone out
 */
int pbb_send_sms(pb_modem *m, pb_store *st, int64_t row, const char *number, const char *text, bool report,
		 char *refs, size_t size, int *done, int *total);
/** The parts of @p row that went out so far (kv "bridge.out.<row>"). @return 0 or a negative code */
int pbb_send_progress(pb_store *st, int64_t row, int *done, char *refs, size_t size);
/** Forget the parts' progress of @p row (sent, failed, or to be sent again from the start). */
int pbb_send_progress_clear(pb_store *st, int64_t row);
/**
 * An outbound row went out: "sent" with its references, and, when
 * @p await_report, an index from (peer, reference) to the row (or the
 * row queued behind earlier ones to @p peer when the box gives no
 * reference), all in one transaction.
 */
int pbb_outbound_sent(pb_store *st, int64_t id, const char *peer, const char *refs, bool await_report);
/* The bookkeeping of delivery reports, rows of the bridge's tables (in the
 * caller's transaction; docs/bridge.md, "Store layout"). */
/** (peer, reference) -> outbound row @p id. */
int pbb_dr_ref_set(pb_store *st, const char *peer, int ref, int64_t id);
/** The row waiting for (peer, reference): *id 0 when none. */
int pbb_dr_ref_get(pb_store *st, const char *peer, int ref, int64_t *id);
/** Forget the references and delivered parts of row @p id. */
int pbb_dr_forget(pb_store *st, int64_t id);
/** Queue row @p id behind the earlier ones to @p peer (box without references); keeps the newest 64. */
int pbb_dr_queue_push(pb_store *st, const char *peer, int64_t id);
/** The oldest queued entry of @p peer: *seq 0 when none, *id 0 when its row is gone. */
int pbb_dr_queue_head(pb_store *st, const char *peer, int64_t *seq, int64_t *id);
/** Remove queue entry @p seq. */
int pbb_dr_queue_drop(pb_store *st, int64_t seq);
/** Part @p ref of row @p id was reported delivered (idempotent). */
int pbb_dr_delivered_add(pb_store *st, int64_t id, int ref);
/** The parts of row @p id reported delivered, up to @p max into @p refs. */
int pbb_dr_delivered(pb_store *st, int64_t id, int *refs, size_t max, size_t *n);
/** Journal what report row @p msg_id says (in the transaction that inserts the row). */
int pbb_report_put(pb_store *st, int64_t msg_id, const pbb_report *rep);
/** What report row @p row says (text: its body). @return 0, PB_EMALFORMED (not a readable report), PB_EIO */
int pbb_report_get(pb_store *st, const pb_store_msg *row, pbb_report *rep);
/**
 * Show one journaled report (an inbound row of kind "report") in Matrix:
 * the reaction PBB_DR_REACTION on the sent message's event once every part
 * is delivered, or a notice when one failed or expired; then the row is
 * "delivered". A report for no message of ours is logged and dropped
 * (row "failed", "unknown reference"). Sends are idempotent by
 * transaction id ("pbdr<id>", "pbdrf<id>").
 * @return 0 or a negative code (retry later)
 */
int pbb_report_deliver(pb_store *st, pb_matrix *mx, const pb_store_msg *report_row);

/* --- !contacts import (import.c; the parser is contacts.h) ------------------ */

/** A file message in the control room, as `!contacts import` sees it. */
typedef struct pbb_import_file {
	const char *url;       /**< mxc:// URI (borrowed from the event) */
	const char *name;      /**< the file name, may be NULL */
	const char *mimetype;  /**< may be NULL */
	const char *reply_to;  /**< the event it replies to (m.in_reply_to), may be NULL */
	bool caption;          /**< its caption (Matrix 1.10) is "!contacts import" */
	bool looks_like_contacts; /**< .vcf/.vcard/.csv or a vCard/CSV MIME type */
} pbb_import_file;

/** @return 1 when @p ev is an unencrypted m.file (fills @p f, borrowing from @p ev), else 0 */
int pbb_import_inspect(const pb_matrix_event *ev, pbb_import_file *f);
/**
 * Download the file, parse it (vCard or CSV), save every number
 * normalised with @p region as a store contact in one transaction, then
 * rename the rooms of numbers whose name changed.
 * @param out receives the answer for the owner (counts, skipped lines and why)
 * @return 0 (also for a file that is not a contacts file: @p out says so)
 *         or a negative code (download or store failure: retry)
 */
int pbb_import_run(const pbb_config *cfg, pb_store *st, pb_matrix *mx, const pbb_import_file *f, pb_buf *out);

/* --- calls: the control room's list and call commands (calls.c) ------------ */

/**
 * A control room command about calls: "!allow NUMBER [note]", "!deny
 * NUMBER", "!remove NUMBER", "!list [allow|deny] [PAGE]", "!calls [N]".
 * Numbers are normalised with @p region; one that is not a full number is
 * refused with the reason. The lists are pb-screend's (one store for both
 * daemons), so a change counts for the next call. Idempotent: the same
 * command twice leaves the same state.
 * @param ans receives the answer for the owner
 * @return 1 (handled: @p ans set), 0 (not such a command), or a negative
 *         PB_E* code (store error: retry)
 */
int pbb_calls_command(pb_store *st, const char *region, const char *text, pb_buf *ans);
/** @return whether @p text is one of pbb_calls_command()'s commands */
bool pbb_calls_is_command(const char *text);
/**
 * Open [calls] store (@p cfg calls_store, its password file): the cluster's
 * PostgreSQL store, whose lists and call log pb-screend's nodes use. The
 * follower reads the log through it; the control room's list commands act
 * on it, so that "!deny" counts for the cluster's next call.
 * @param out receives the store (pb_store_close())
 * @return 0 or a negative code (pb_error_last() says why)
 */
int pbb_calls_store_open(const pbb_config *cfg, pb_store **out);

/** What a logged call was, for Matrix. */
typedef enum pbb_call_kinds {
	PBB_CALL_ANSWERED = 0,  /**< passed and forwarded, talked (duration > 0) */
	PBB_CALL_FORWARDED = 1, /**< passed and redirected (302): whether it was answered is not ours to know */
	PBB_CALL_MISSED = 2,    /**< passed screening (or allow-listed), nobody answered */
	PBB_CALL_SCREENED = 3,  /**< rejected or failed its challenge */
	PBB_CALL_VOICEMAIL = 4, /**< nobody answered, a voicemail was stored: its m.audio is the notice */
} pbb_call_kinds;

/** @return the pbb_call_kinds of a logged call */
int pbb_call_kind(const pb_store_call *c);
/** The notice of a call in its room: "Call, 3 min", "Missed call from ...". */
void pbb_call_notice(const pb_store_call *c, char *out, size_t size);

/**
 * Follow pb-screend's call log in the shared store (no protocol between the
 * daemons): every call after kv "bridge.calls.cursor" is posted (answered,
 * missed: in the caller's room, created like for an SMS; screened out: live
 * in the control room, or counted for the daily digest) with the
 * transaction id "pbcall<call id>", then the cursor moves: exactly once
 * across crashes. A new follower takes the log so far as history. Past
 * @p cfg calls_digest_at (local time) the day's digest of screened-out
 * calls goes to the control room once.
 * @return 0 or a negative code (retry later)
 */
int pbb_calls_follow(const pbb_config *cfg, pthread_mutex_t *mu, pb_store *st, pb_matrix *mx,
		     const char *store_id, int64_t now_ms);

/** The call log pbb_calls_follow_log() reads: the bridge's own store, or
 *  [calls] store (a PostgreSQL database) when configured. */
typedef struct pbb_calls_log {
	pb_store *st;                /**< the PostgreSQL store; NULL until opened */
	char id[PBB_STORE_ID_SIZE];  /**< its identity (its kv "bridge.store_id") */
	bool down;                   /**< the last attempt failed (logged once) */
	int64_t retry_at_ms;         /**< while down: not before this (wall clock) */
} pbb_calls_log;

/**
 * pbb_calls_follow() over @p log (opened here the first time, again after a
 * failure) when @p cfg has [calls] store, else over @p st. With a
 * PostgreSQL log the cursor and digest state stay in @p st's kv under
 * keys named after the log's identity ("bridge.calls.ID.cursor"), and the
 * transaction ids carry that identity: another database is a new log
 * (its calls so far are history), a restart continues where it stopped.
 * A log that cannot be read is logged (once per outage) and tried again
 * 15 s later at the earliest (a connection attempt can take libpq's
 * connect_timeout, 10 s, of the delivery thread's time).
 * @return 0 or a negative code from the homeserver or @p st (retry later)
 */
int pbb_calls_follow_log(const pbb_config *cfg, pthread_mutex_t *mu, pb_store *st, pbb_calls_log *log,
			 pb_matrix *mx, const char *store_id, int64_t now_ms);
/** Close what pbb_calls_follow_log() opened. */
void pbb_calls_log_close(pbb_calls_log *log);

/**
 * Post a voicemail row of pb-screend (kind "voicemail") in
 * @p room: its recording read from the store (a regular file of the size
 * its row says, at most 16 MiB, hash checked), uploaded (encrypted when
 * the room is, @p crypto may be NULL), then one m.audio with duration,
 * mimetype and size, named after the caller, with transaction id @p txn.
 * @param event receives the event id (new, pb_free())
 * @return 0 sent; 1 the row cannot be posted (@p why says why: a notice
 *         instead); a negative code (retry later)
 */
int pbb_voicemail_deliver(pb_store *st, pb_matrix *mx, pb_matrix_crypto *crypto, const pb_store_msg *r,
			  const char *room, const char *txn, char **event, char *why, size_t whysize);
/** "Voicemail from Alice (+4930...), 0:05": the contact's name when the store has one. */
void pbb_voicemail_text(pb_store *st, const char *peer, uint64_t ms, char *out, size_t size);

/** One call of the log for people: "2026-12-06 16:30 +4930...: reject by deny-list, ..." */
void pbb_call_line(const pb_store_call *c, char *out, size_t size);

/** The running daemon. */
typedef struct pbb pbb;

/** @return 0 or -1 (logged) */
int pbb_new(pbb **out, const pbb_config *cfg);

/** What /health reports of the running daemon (a snapshot of atomics: any thread). */
typedef struct pbb_health {
	bool running;        /**< every stage started and none has failed */
	bool modem_ok;       /**< the modem answered the last request */
	bool homeserver_ok;  /**< the homeserver answered the last request */
	bool disk_full;      /**< the store's disk is full */
} pbb_health;
void pbb_health_get(pbb *b, pbb_health *out);
/** Run the stages until pbb_stop(); @return 0 or -1 (logged) */
int pbb_run(pbb *b);
/** Ask pbb_run() to return (thread-safe; not async-signal-safe). */
void pbb_stop(pbb *b);
void pbb_free(pbb *b);

/** Open the configured modem (pb_modem_open() with [modem]'s settings). */
int pbb_modem_open(const pbb_config *c, pb_modem **out);
/** The MMSC client's options from [mmsc]; @p rules must outlive @p o's use. */
void pbb_mmsc_options(const pbb_config *c, pb_mmsc_options *o, const char *rules[2]);

/** "check": what "run" would refuse, found before it starts (check.c): the
 *  backend name, URLs, secret files' modes, the store's directory. With
 *  @p lines one ✓/✗ line per step on stdout, else the failures on stderr.
 *  @return the number of failed steps */
int pbb_check_config(const pbb_config *c, bool lines);
/** "check --online": the modem (log in, status), whoami on the homeserver,
 *  the MMSC through its proxy; one ✓/✗ line each. @return failed steps */
int pbb_check_online(const pbb_config *c);

/** Log a line of the daemon (to stderr, with level name). */
void pbb_log(int level, const char *fmt, ...) PB_PRINTF(2, 3);

/* --- rooms: one per set of participants (rooms.c) ------------------------- */

/** A sorted set of participants (E.164 numbers, or sender names as given). */
typedef struct pbb_numbers {
	char **v;  /**< owned, sorted (strcmp), no duplicates */
	size_t n;
} pbb_numbers;

/** Add @p s (copied) keeping the set sorted; a duplicate is ignored. @return 0 or PB_ENOMEM */
int pbb_numbers_add(pbb_numbers *ns, const char *s);
void pbb_numbers_free(pbb_numbers *ns);

/** The room key of a set: its numbers joined by ',' (the set is sorted). */
int pbb_room_key(const pbb_numbers *ns, pb_buf *out);
/** A room key back into its set. @return 0, PB_EINVAL (empty key or part), PB_ENOMEM */
int pbb_room_key_split(const char *key, pbb_numbers *out);

/**
 * The participants of a received MMS: From, To and Cc, each normalised with
 * @p region (an address that is not a number, e.g. e-mail, kept as given),
 * without @p own_number. When @p own_number is "" and To plus Cc name one
 * address only, that address is taken to be the owner's (a one-to-one
 * message); with more, nothing can be left out (docs/bridge.md).
 * @param out filled in (pbb_numbers_free()); may end up empty
 */
int pbb_mms_participants(const pb_mms_message *m, const char *region, const char *own_number,
			 pbb_numbers *out);

/** State event type that marks a bridge room; content {"key": KEY, "numbers": [...]},
 *  or {"control": true} for the control room. */
#define PBB_ROOM_MARKER "org.phonebridge.room"

/** The marker's content for @p ns (NULL: the control room), as compact JSON
 *  (new, pb_free()), or NULL (out of memory). */
char *pbb_room_marker_json(const pbb_numbers *ns);

/**
 * Read a marker's content (outside bytes: any room member could have sent
 * one; the scan only reads the bot's).
 * @param ns      receives the set (pbb_numbers_free()); empty for the control room
 * @param control receives whether it marks the control room
 * @return 0, PB_EINVAL (not a marker: no object, no or empty numbers, a
 *         number that is not a non-empty string), PB_ENOMEM
 */
int pbb_room_marker_parse(const char *json, pbb_numbers *ns, bool *control);

/**
 * The room of a set of participants: a contact's room (one number) or a
 * group room (several); @p ns NULL: the control room (kv
 * "bridge.control_room", named "Phone bridge"). From the store; else one found among the bot's
 * joined rooms by its marker (a room created just before a crash), else a
 * new direct room with the first owner, named after the contacts, marked,
 * the other owners invited, then saved. Creation is serialised by @p mu
 * (one per process), so two threads never make two rooms for one set.
 * @param room receives the room id (new, pb_free())
 * @return 0 or a negative PB_E* code (logged by the caller)
 */
int pbb_room_ensure(const pbb_config *cfg, pthread_mutex_t *mu, pb_store *st, pb_matrix *mx,
		    const pbb_numbers *ns, char **room);

/**
 * Look through the bot's joined rooms (a full-state /sync with a filter)
 * and save every marked room the store does not know; a room created but
 * not yet marked when the daemon stopped is recognised by the creation
 * intent kept in kv "bridge.room_intents" and its name. Call with @p mu
 * held or before other threads run.
 * @param adopted optional: how many rooms were saved
 */
int pbb_room_scan(const pbb_config *cfg, pb_store *st, pb_matrix *mx, int *adopted);

/* --- outbound MMS (mms-out.c) ------------------------------------------------ */

/** Journal backend of an outbound row that leaves as an MMS. */
#define PBB_MMS_BACKEND "matrix" /* kind "mms" */

/** Is @p r an outbound row for the MMSC (not the modem)? @return 1, 0, or a negative code */
int pbb_is_mms_row(pb_store *st, const pb_store_msg *r);

/** An outbound MMS to journal (every pointer borrowed). */
typedef struct pbb_outbound_mms {
	const char *peer;         /**< a number, or a group's room key */
	const char *room;
	const char *event_id;     /**< the Matrix event (the row's dedup key) */
	const char *body;         /**< what notices quote: caption or file name */
	const char *caption;      /**< text part, or NULL */
	const uint8_t *data;      /**< the media, or NULL (text only) */
	size_t len;
	const char *content_type; /**< of the media */
	const char *filename;     /**< of the media */
	int64_t sent_at;
} pbb_outbound_mms;

/**
 * One outbound row (backend PBB_MMS_BACKEND, "queued") and its attachments
 * (the media, then the caption as text/plain) in one commit.
 * @return 0, PB_EEXISTS (the event is journaled already; @p id set), or a negative code
 */
int pbb_outbound_mms_journal(pb_store *st, const pbb_outbound_mms *in, int64_t *id);

/**
 * Send one queued MMS row: "sending" (committed), M-Send.req to every
 * number of the row's peer through @p mmsc, then "sent" (ref: the MMSC's
 * Message-ID) or "failed" (the error for the notice). Never retried: a
 * crash while sending leaves "sending", which start-up turns into "unknown".
 * @param mmsc NULL: the row fails ("no MMSC")
 * @return 0 (sent), 1 (failed, journaled), or a negative code (journal error)
 */
int pbb_mms_send_row(pb_store *st, pb_mmsc *mmsc, const pb_store_msg *r);

/* --- application service (appservice.c, listener.c) ------------------------- */

/** [matrix] listen, or its default "127.0.0.1:29331" (static or borrowed). */
const char *pbb_as_listen(const pbb_config *c);
/** What is wrong with the appservice keys of @p c (a static reason), or NULL. */
const char *pbb_as_config_check(const pbb_config *c);
/** The homeserver's name: [matrix] server_name, else the server of
 *  @p bot_user_id (may be NULL), else the first owner's. @return borrowed */
const char *pbb_as_server(const pbb_config *c, const char *bot_user_id);
/** The bridge's own user, "@SENDER_LOCALPART:SERVER". */
int pbb_as_bot_id(const pbb_config *c, char *out, size_t size);
/** The registration's url: [matrix] appservice_url, else http://LISTEN. */
int pbb_as_url(const pbb_config *c, char *out, size_t size);
/** The puppet of an E.164 @p number: "@" template with the digits ":" @p server.
 *  @return 0, PB_EINVAL (not E.164), PB_ETOOBIG */
int pbb_puppet_user_id(const pbb_config *c, const char *server, const char *number, char *out, size_t size);
/** The number of a puppet's user id. @return 0, or PB_ENOTFOUND (not one of ours) */
int pbb_puppet_number(const pbb_config *c, const char *server, const char *user_id, char *number, size_t size);
/**
 * Make @p number's puppet ready, through @p mx (the as_token, acting as
 * nobody): registered on first use, its display name the contact's name or
 * the number (set again when the contact was renamed or imported since),
 * and, when @p room is not NULL, invited by the bot and joined. Each step
 * is remembered in kv "bridge.puppet.*", so it is done once.
 * @param puppet receives the puppet's user id
 * @return 0 or a negative PB_E* code (retry later)
 */
int pbb_puppet_ensure(const pbb_config *c, pb_store *st, pb_matrix *mx, const char *room, const char *number,
		      char *puppet, size_t size);
/**
 * In appservice mode, give @p number's puppet, if it exists, the contact's
 * current name now (after an import or a rename), not only when it is next
 * used. @return 0 (also in bot mode and without a puppet), or an error
 */
int pbb_puppet_rename(const pbb_config *c, pb_store *st, pb_matrix *mx, const char *number);
/**
 * In appservice mode, make a contact's picture (a checked vCard PHOTO) the
 * avatar of @p number's puppet: uploaded once per content (its SHA-256 in
 * kv "bridge.avatar.sha256.*"), set on the puppet by pbb_puppet_ensure()
 * (now through pbb_puppet_rename(), or when the puppet is made). 0 in bot mode.
 */
int pbb_puppet_picture(const pbb_config *c, pb_store *st, pb_matrix *mx, const char *number, const uint8_t *data,
		       size_t len, const char *mimetype);
/** The registration YAML for the tokens (appended to @p out). */
int pbb_as_registration(const pbb_config *c, const char *as_token, const char *hs_token, pb_buf *out);
/**
 * "generate-registration FILE": the tokens from [matrix] as_token_file and
 * hs_token_file (made, 0600, when absent), the registration in @p file
 * (0600, never over a file or through a link), and on stdout what the
 * homeserver and this configuration need said on @p say (NULL: nothing).
 * @return 0 or a PB_E* code (PB_EEXISTS: @p file exists)
 */
int pbb_as_generate(const pbb_config *c, const char *file, FILE *say);
/**
 * Check the homeserver's hs_token: "Authorization: Bearer" or the legacy
 * access_token query parameter, compared in constant time.
 * @return 0 (good), 401 (none presented), 403 (a wrong one)
 */
int pbb_as_auth(const char *hs_token, const char *authorization, const char *query);
/**
 * Parse a transaction's body (outside bytes) into the shape of a /sync
 * answer for pb_matrix_sync_parse(): each event under rooms.join.ROOM.
 * timeline, an invite of @p bot under rooms.invite.
 * @param out   receives the JSON text (appended)
 * @param count receives the number of events
 * @return 0, PB_EMALFORMED (not JSON, no events array, an event without
 *         type or room_id: @p perr says where), PB_ENOMEM
 */
int pbb_as_txn_parse(const uint8_t *buf, size_t len, const char *bot, pb_buf *out, size_t *count,
		     pb_parse_error *perr);
/** Keep a transaction (its id and its events) in one store transaction.
 *  @return 0 (new), PB_EEXISTS (seen before: nothing done), or a store error */
int pbb_as_txn_journal(pb_store *st, const char *txn_id, const char *sync_json);
/** The oldest kept transaction. @return 0, PB_ENOTFOUND (none), or a store error */
int pbb_as_queue_next(pb_store *st, int64_t *seq, char **json);
/** Forget kept transaction @p seq once its events were handled. */
int pbb_as_queue_done(pb_store *st, int64_t seq);

/** The routes' state (the hs_token, the listener thread's store handle). */
typedef struct pbb_as_ctx pbb_as_ctx;
/** @param st borrowed, used from the listener's thread only; @p wake is
 *  called after a transaction was kept */
int pbb_as_ctx_new(pbb_as_ctx **out, const pbb_config *cfg, pb_store *st, void (*wake)(void *), void *ud);
void pbb_as_ctx_free(pbb_as_ctx *x);
/** Add the Application Service API routes (v1 and legacy paths) to @p l. */
int pbb_as_routes(pb_listener *l, pbb_as_ctx *x);
/** The daemon's listener (not started), on [matrix] listen. */
int pbb_listener_new(const pbb_config *c, pb_listener **out);
/** pbb_report_deliver() with [matrix] delivery: the puppet's read receipt,
 *  a reaction or a notice for a delivered message. @p cfg NULL: reaction. */
int pbb_report_deliver_cfg(const pbb_config *cfg, pb_store *st, pb_matrix *mx, const pb_store_msg *report_row);

#endif
