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
	bool modem_insecure_tls;
	/* [mmsc] */
	char *mmsc_url;
	char *mmsc_proxy;
	char *mmsc_interface;
	char *mmsc_rewrite;
	char *mmsc_user_agent;
	char **mmsc_headers;       /**< "Name: value" each (the key repeated), checked; NULL-terminated */
	size_t n_mmsc_headers;
	/* [matrix] */
	char *homeserver;
	char *token_file;
	char **owners;             /**< at least one */
	size_t n_owners;
	int sync_timeout_ms;
	/* [bridge] */
	char *store_path;
	char region[8];            /**< default region for national numbers, e.g. "DE" */
	bool store_sync_normal;    /**< tests only: synchronous=NORMAL */
	bool delivery_reports;     /**< ask for delivery reports (default yes) */
} pbb_config;

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

/** Transaction id of a journal row's Matrix send: "pb<kind><id>" (stable across restarts). */
void pbb_txn_id(char *out, size_t size, const char *kind, int64_t id);

/**
 * The journal key of a message from the modem: backend, the box's ids, its
 * time, number and a hash of its content. The same entry seen again (after
 * a crash before it was deleted) gives the same key.
 */
void pbb_inbound_key(char *out, size_t size, const char *backend, const pb_modem_msg *m);

/**
 * Journal one message the modem reported: a row in state "stored" (text
 * messages), with the raw bytes as an attachment for other kinds.
 * @param id receives the row id (also for a known message)
 * @return 0 (new row), PB_EEXISTS (already journaled), 1 (nothing to
 *         journal: e.g. a delivery report), or a negative PB_E* code
 */
int pbb_inbound_journal(pb_store *st, const char *backend, const char *region,
			const pb_modem_msg *m, int64_t *id);

/** The running daemon. */
typedef struct pbb pbb;

/** @return 0 or -1 (logged) */
int pbb_new(pbb **out, const pbb_config *cfg);
/** Run the stages until pbb_stop(); @return 0 or -1 (logged) */
int pbb_run(pbb *b);
/** Ask pbb_run() to return (thread-safe; not async-signal-safe). */
void pbb_stop(pbb *b);
void pbb_free(pbb *b);

/** Log a line of the daemon (to stderr, with level name). */
void pbb_log(int level, const char *fmt, ...) PB_PRINTF(2, 3);

#endif
