/*
 * pb-bridged — the pipeline stages and their threads (see bridge.h and
 * docs/bridge.md). Threads share nothing but the store file, the stop flag
 * and a condition variable used as a doorbell; every piece of work is a
 * journal row.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bridge.h"
#include "daemon.h"
#include "http.h"
#include "metrics.h"

#include <errno.h>
#include <sys/random.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

struct pbb {
	const pbb_config *cfg;
	atomic_int stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long doorbell; /* bumped when new work is in the journal (mu) */
	pb_modem *modem;        /* the modem thread's handle, for pb_modem_stop() (mu) */
	pb_matrix *mx_sync;     /* for pb_matrix_cancel() (mu) */
	pb_matrix *mx_deliver;  /* (mu) */
	atomic_int modem_ok;    /* 1 when the modem answers (status) */
	atomic_int hs_ok;       /* 1 when the homeserver answered the last whoami or sync */
	atomic_int running;     /* every stage started (READY=1) */
	atomic_int failed;      /* a stage could not start */
	/* the store's disk is full (modem thread sets and clears it; the
	 * delivery thread posts one notice when it starts, one when it ends) */
	atomic_int disk_full;
	atomic_llong disk_full_since; /* wall ms of the start of the episode */
	atomic_llong disk_full_until; /* wall ms of its end, 0 while it lasts */
	pthread_mutex_t room_mu; /* serialises room creation (pbb_room_ensure) */
	bool scanned;           /* the delivery thread's first room scan is done (mu) */
	char store_id[PBB_STORE_ID_SIZE]; /* in every transaction id (pbb_store_id) */
	pb_matrix_crypto *crypto; /* [matrix] encryption: one Olm device for all threads (mu) */
	pb_store *crypto_st;      /* its own store handle, used under the crypto's lock */
};

/* --- logging ------------------------------------------------------------- */

/* one format for both daemons (examples/common/daemon.c): "<N>bridge: ..."
 * or a JSON line, chosen with --log-format */
void pbb_log(int level, const char *fmt, ...)
{
	if (level > pb_log_get_level())
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pbd_log_write(level, "bridge", msg);
}

static const char *last_error(void)
{
	const pb_error *e = pb_error_last();
	return e && e->message[0] ? e->message : "unknown error";
}

/* --- doorbell and interruptible waits ---------------------------------------- */

static bool stopping(pbb *b) { return atomic_load(&b->stopping) != 0; }

static void ring(pbb *b)
{
	pthread_mutex_lock(&b->mu);
	b->doorbell++;
	pthread_cond_broadcast(&b->cv);
	if (b->modem)
		pb_modem_stop(b->modem); /* leave the watch early to send */
	pthread_mutex_unlock(&b->mu);
}

/* The doorbell without leaving the modem's watch. */
static void bell(pbb *b)
{
	pthread_mutex_lock(&b->mu);
	b->doorbell++;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* Wait up to @ms or until the doorbell moves past @seen (or stop). */
static void wait_work(pbb *b, unsigned long *seen, long ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pbd_stage_beat(); /* waiting on purpose is progress (the wait is bounded) */
	pthread_mutex_lock(&b->mu);
	while (!stopping(b) && b->doorbell == *seen)
		if (pthread_cond_timedwait(&b->cv, &b->mu, &dl) == ETIMEDOUT)
			break;
	*seen = b->doorbell;
	pthread_mutex_unlock(&b->mu);
	pbd_stage_beat();
}

/*
 * Test hook (docs/bridge.md "Health, metrics and status"): with
 * PBB_TEST_STALL=NAME the stage NAME stops making progress, as a stage
 * stuck in a call that never returns would, until the daemon stops.
 */
static void stall_hook(pbb *b, const char *stage)
{
	const char *want = getenv("PBB_TEST_STALL");
	if (!want || strcmp(want, stage) != 0)
		return;
	pbb_log(PB_LOG_WARNING, "%s: stalled on purpose (PBB_TEST_STALL)", stage);
	while (!stopping(b)) {
		struct timespec ts = { 0, 50000000L };
		nanosleep(&ts, NULL);
	}
}

static void nap(pbb *b, long ms)
{
	unsigned long seen;
	pthread_mutex_lock(&b->mu);
	seen = b->doorbell;
	pthread_mutex_unlock(&b->mu);
	/* a doorbell does not cut a back-off short: wait the whole time */
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long done = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000L;
		if (stopping(b) || done >= ms)
			return;
		wait_work(b, &seen, ms - done);
	}
}

/* --- disk full ---------------------------------------------------------------- */

/* Does a store failure say the disk (or the database's quota) is full? */
static bool disk_full_error(int rc)
{
	const char *m = last_error();
	return rc == PB_ETOOBIG || strstr(m, "disk is full") || strstr(m, "No space left") ||
	       strstr(m, "Disk quota exceeded");
}

static int64_t now_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000L;
}

/* The modem thread found the disk full: log and announce it once per episode. */
static void disk_full_begin(pbb *b)
{
	if (atomic_exchange(&b->disk_full, 1))
		return;
	atomic_store(&b->disk_full_since, (long long)now_wall_ms());
	atomic_store(&b->disk_full_until, 0LL);
	pbb_log(PB_LOG_ERROR, "journal: the disk is full (%s): messages stay on the modem until there is room; "
		"checking again with a back-off", last_error());
	bell(b);
}

static void disk_full_end(pbb *b)
{
	if (!atomic_exchange(&b->disk_full, 0))
		return;
	atomic_store(&b->disk_full_until, (long long)now_wall_ms());
	pbb_log(PB_LOG_NOTICE, "journal: there is room on the disk again; taking messages off the modem");
	bell(b);
}

/* --- handles ----------------------------------------------------------------- */

static pb_store *open_store(pbb *b)
{
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	if (b->cfg->store_sync_normal)
		o.synchronous = PB_STORE_SYNC_NORMAL;
	pb_store *st = NULL;
	if (pb_store_open(&st, b->cfg->store_path, &o) < 0) {
		pbb_log(PB_LOG_ERROR, "store %s: %s", b->cfg->store_path, last_error());
		return NULL;
	}
	/* the bridge's own tables: created or migrated in place (a no-op
	 * once done; the first handle of a start does it) */
	if (pbb_tables_migrate(st) < 0) {
		pb_store_close(st);
		return NULL;
	}
	return st;
}

/* The next wait before trying the homeserver again: @first, then doubling
 * up to [matrix] retry_max_ms. */
static long matrix_backoff(const pbb *b, long cur, long first)
{
	long cap = b->cfg->retry_max_ms > 0 ? b->cfg->retry_max_ms : 30000;
	long next = cur ? cur * 2 : first;
	return next < cap ? next : cap;
}

static pb_matrix *open_matrix(pbb *b)
{
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = b->cfg->homeserver;
	o.access_token_file = b->cfg->token_file;
	/* one request's own retries wait at most 10 s each (less when
	 * retry_max_ms says so); the stages then wait up to retry_max_ms */
	o.retry.max_delay_ms =
		b->cfg->retry_max_ms > 0 && b->cfg->retry_max_ms < 10000 ? (unsigned)b->cfg->retry_max_ms : 10000;
	o.retry.initial_delay_ms = o.retry.max_delay_ms < 500 ? o.retry.max_delay_ms : 500;
	pb_matrix *mx = NULL;
	if (pb_matrix_new(&mx, &o) < 0) {
		pbb_log(PB_LOG_ERROR, "matrix: %s", last_error());
		return NULL;
	}
	return mx;
}

/* Learn the bot's user id, retrying while the homeserver is away. */
static int who_am_i(pbb *b, pb_matrix *mx)
{
	long backoff = matrix_backoff(b, 0, 1000);
	while (!stopping(b)) {
		int rc = pb_matrix_whoami(mx, NULL);
		atomic_store(&b->hs_ok, rc == 0);
		if (rc == 0)
			return 0;
		if (rc == PB_EAUTH || rc == PB_ECANCELLED) {
			if (rc == PB_EAUTH)
				pbb_log(PB_LOG_ERROR, "matrix: the access token is refused: %s", last_error());
			return rc;
		}
		pbb_log(PB_LOG_WARNING, "matrix: whoami: %s (retrying)", last_error());
		nap(b, backoff);
		backoff = matrix_backoff(b, backoff, 1000);
	}
	return PB_ECANCELLED;
}

/* --- end-to-end encryption (docs/bridge.md "Encrypted rooms") -------------------- */

static int e2ee_load(const char *key, char **value, void *ud)
{
	return pb_store_kv_get(ud, key, value);
}

static int e2ee_save(const char *key, const char *value, void *ud)
{
	return pb_store_kv_set(ud, key, value);
}

/* Make @mx encrypt and decrypt with the bridge's Olm device (made by the
 * first thread that gets here). */
static int e2ee_attach(pbb *b, pb_matrix *mx)
{
	if (b->cfg->encryption == PBB_E2EE_OFF)
		return 0;
	int rc = 0;
	pthread_mutex_lock(&b->mu);
	if (!b->crypto) {
		if (!b->crypto_st && !(b->crypto_st = open_store(b)))
			rc = -1;
		pb_matrix_crypto_options o = PB_MATRIX_CRYPTO_OPTIONS_INIT;
		o.pickle_key_file = b->cfg->pickle_key_file;
		o.storage = (pb_matrix_crypto_storage){ e2ee_load, e2ee_save, b->crypto_st };
		if (rc == 0 && (rc = pb_matrix_crypto_new(&b->crypto, mx, &o)) < 0)
			pbb_log(PB_LOG_ERROR, "matrix: encryption: %s", last_error());
		else if (rc == 0)
			pbb_log(PB_LOG_NOTICE, "encryption on: device %s, key %s", pb_matrix_device_id(mx),
				pb_matrix_crypto_identity_key(b->crypto, "ed25519"));
	}
	if (b->crypto)
		pb_matrix_set_crypto(mx, b->crypto);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

/* The store of a thread that needs nothing else (modem, fetch, mms), or
 * NULL: it could not be opened (logged), the bridge has failed and stops. */
static pb_store *thread_store(pbb *b)
{
	pb_store *st = open_store(b);
	if (!st) {
		atomic_store(&b->failed, 1);
		pbb_stop(b);
	}
	return st;
}

/* The store and the Matrix client of a thread that talks to the homeserver
 * (sync, delivery): the client knows who it is and encrypts when configured.
 * false: something could not be had (logged), nothing is left open, and
 * the bridge stops (failed, unless it was stopping already). */
static bool matrix_thread_open(pbb *b, pb_store **st, pb_matrix **mx)
{
	*st = open_store(b);
	*mx = *st ? open_matrix(b) : NULL;
	if (*mx && who_am_i(b, *mx) >= 0 && e2ee_attach(b, *mx) >= 0)
		return true;
	pb_matrix_free(*mx);
	pb_store_close(*st);
	*mx = NULL;
	*st = NULL;
	if (!stopping(b))
		atomic_store(&b->failed, 1);
	pbb_stop(b);
	return false;
}

/* Tests only: with PBB_TEST_KILL_BEFORE_DECRYPTED=FILE, the first decrypted
 * event kills the daemon (after creating FILE) before it is handled: its
 * room key was saved, its next_batch was not. */
static void e2ee_test_crash(const pb_matrix_event *ev)
{
	const char *flag = ev->decrypted ? getenv("PBB_TEST_KILL_BEFORE_DECRYPTED") : NULL;
	if (!flag || !*flag)
		return;
	FILE *f = fopen(flag, "wx");
	if (!f)
		return; /* killed once already */
	fclose(f);
	pbb_log(PB_LOG_WARNING, "test: killed before handling %s", ev->event_id);
	raise(SIGKILL);
}

/* --- modem thread: inbound journal, outbound sending ---------------------------- */

typedef struct modem_ctx {
	pbb *b;
	pb_store *st;
	pb_modem *m;
} modem_ctx;

/* What names a message on the box whatever its state (a multipart message
 * completes, a report is read): the inbound key without its content hash. */
static void preexisting_key(char *out, size_t size, const pbb *b, const pb_modem_msg *m)
{
	char key[512];
	pbb_inbound_key(key, sizeof(key), b->cfg->modem_backend, m);
	char *hash = strrchr(key, '#');
	if (hash)
		*hash = '\0';
	snprintf(out, size, "bridge.preexisting.%s", key);
}

/* A message that was on the box at the first start, left there
 * (import_existing = no): never journaled, never deleted. */
static bool preexisting(const pbb *b, pb_store *st, const pb_modem_msg *m)
{
	if (b->cfg->import_existing)
		return false;
	char key[600], *v = NULL;
	preexisting_key(key, sizeof(key), b, m);
	if (pb_store_kv_get(st, key, &v) < 0)
		return false;
	pb_free(v);
	return true;
}

/* The first start of a store ("bridge.first_listing" absent): with
 * import_existing = no, what is on the box now is remembered, in one
 * transaction with the marker, and left there untouched. @return 0 or -1 */
static int first_listing(pbb *b, pb_store *st, pb_modem *m)
{
	char *v = NULL;
	int rc = pb_store_kv_get(st, "bridge.first_listing", &v);
	pb_free(v);
	if (rc != PB_ENOTFOUND)
		return rc < 0 ? -1 : 0;
	if (b->cfg->import_existing)
		return pb_store_kv_set(st, "bridge.first_listing", "imported") < 0 ? -1 : 0;
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	rc = pb_modem_list(m, PB_MODEM_BOX_INBOX, &l);
	if (rc == 0)
		rc = pb_store_begin(st);
	for (size_t i = 0; rc == 0 && i < l.count; i++) {
		char key[600];
		preexisting_key(key, sizeof(key), b, &l.items[i]);
		rc = pb_store_kv_set(st, key, "1");
	}
	char note[40];
	snprintf(note, sizeof(note), "left %zu", l.count);
	if (rc == 0 && (rc = pb_store_kv_set(st, "bridge.first_listing", note)) == 0)
		rc = pb_store_commit(st);
	else if (rc != 0)
		pb_store_rollback(st);
	if (rc == 0)
		pbb_log(PB_LOG_NOTICE, "first start: %zu message(s) already on the modem left there untouched "
			"(import_existing = no)", l.count);
	pb_modem_msg_list_dispose(&l);
	return rc < 0 ? -1 : 0;
}

static int on_modem_event(const pb_modem_event *ev, void *ud)
{
	modem_ctx *mc = ud;
	pbb *b = mc->b;
	pbd_stage_beat();
	if (ev->type == PB_MODEM_EVENT_ERROR) {
		pbb_log(PB_LOG_WARNING, "modem: %s (retrying)", ev->text ? ev->text : "error");
		b->modem_ok = 0;
		pbd_metric_add("pb_bridge_retries_total", 1, "stage", "modem", NULL);
		return 0;
	}
	if (ev->type == PB_MODEM_EVENT_RECOVERED) {
		pbb_log(PB_LOG_NOTICE, "modem: answers again");
		b->modem_ok = 1;
		return 0;
	}
	if (ev->type != PB_MODEM_EVENT_MESSAGE || !ev->msg)
		return 0;
	const pb_modem_msg *msg = ev->msg;
	if (preexisting(b, mc->st, msg))
		return stopping(b) ? 1 : 0;
	int64_t id = 0;
	int rc = pbb_inbound_journal(mc->st, b->cfg->modem_backend, b->cfg->region, msg, &id);
	if (rc < 0 && rc != PB_EEXISTS) {
		/* not journaled: it stays on the box and comes again */
		if (disk_full_error(rc)) {
			/* logged once; the modem thread backs off (modem_main) */
			disk_full_begin(b);
			return 1;
		}
		pbb_log(PB_LOG_ERROR, "journal: %s (message %s kept on the modem)", last_error(),
			msg->id ? msg->id : "?");
		return 0;
	}
	if (rc >= 0)
		disk_full_end(b);
	if (rc == 0) {
		pbb_log(PB_LOG_INFO, "in #%lld: %s from %s", (long long)id,
			pb_modem_msg_type_name(msg->type), msg->number ? msg->number : "?");
		pbd_metric_add("pb_bridge_messages_total", 1, "direction", "in", "kind",
			       pb_modem_msg_type_name(msg->type), "outcome", "received", NULL);
	}
	else if (rc == 1)
		pbb_log(PB_LOG_INFO, "modem: %s from %s not bridged", pb_modem_msg_type_name(msg->type),
			msg->number ? msg->number : "?");
	else /* PB_EEXISTS: journaled before (a stop before its delete): only delete it */
		pbb_log(PB_LOG_DEBUG, "in #%lld: %s seen again", (long long)id, msg->id ? msg->id : "?");
	/* committed: only now may it leave the box */
	if (msg->id && msg->id[0]) {
		int d = pb_modem_delete(mc->m, msg->id);
		if (d < 0 && d != PB_ENOTFOUND)
			pbb_log(PB_LOG_WARNING, "modem: delete %s: %s", msg->id, last_error());
		/* gone from the box for sure: an identical message that comes
		 * later (the index reused) is a new one, not this row again */
		else if (id > 0 && pb_store_msg_release_key(mc->st, id) < 0)
			pbb_log(PB_LOG_WARNING, "journal: in #%lld: %s", (long long)id, last_error());
	}
	if (rc == 0) {
		bell(b);
	}
	return stopping(b) ? 1 : 0;
}

/*
 * Send every queued outbound row, oldest first. What a failed send left
 * behind decides the row's state (pb_modem_send_fate()): nothing sent ->
 * "queued" again, tried after a back-off (@p retry_at, @p retry_ms); refused ->
 * "failed" (a notice); no answer -> "unknown" (an "uncertain" notice with
 * !resend), never "not sent".
 */
static void send_outbound(pbb *b, pb_store *st, pb_modem *m, int64_t *retry_at, long *retry_ms, int64_t *settle_at)
{
	if (*retry_at && now_wall_ms() < *retry_at)
		return;
	pb_store_msg_list *l = NULL;
	if (pb_store_msg_list_state(st, PB_STORE_OUTBOUND, PB_STORE_QUEUED, 0, 16, &l) < 0) {
		pbb_log(PB_LOG_ERROR, "journal: %s", last_error());
		return;
	}
	bool changed = false;
	for (size_t i = 0; i < l->count && !stopping(b); i++) {
		const pb_store_msg *r = l->items[i];
		int mms = pbb_is_mms_row(st, r);
		if (mms < 0) {
			pbb_log(PB_LOG_ERROR, "journal: out #%lld: %s", (long long)r->id, last_error());
			break;
		}
		if (mms)
			continue; /* the MMS thread's (mms_main) */
		/* committed before the modem sees it: a crash from here on leaves
		 * "sending", which the next start turns into "unknown" */
		if (pb_store_msg_transition(st, r->id, PB_STORE_SENDING, NULL, NULL) < 0) {
			pbb_log(PB_LOG_ERROR, "journal: out #%lld: %s", (long long)r->id, last_error());
			break;
		}
		char refs[1024], err[512];
		int done = 0, total = 1;
		int rc = pbb_send_sms(m, st, r->id, r->peer, r->body ? r->body : "", b->cfg->delivery_reports, refs,
				      sizeof(refs), &done, &total);
		int fate = pb_modem_send_fate(rc);
		changed = true;
		if (rc == 0) {
			pbb_log(PB_LOG_INFO, "out #%lld: sent to %s (reference %s)", (long long)r->id, r->peer,
				refs[0] ? refs : "none");
			*retry_at = 0;
			*retry_ms = 0;
			pbd_metric_add("pb_bridge_messages_total", 1, "direction", "out", "kind", "sms", "outcome", "sent", NULL);
			/* an SMSEagle keeps its reports in its sent items, not the inbox:
			 * none will come to match (docs/bridge.md) */
			rc = pbb_outbound_sent(st, r->id, r->peer, refs,
					       b->cfg->delivery_reports && strcmp(b->cfg->modem_backend, "smseagle") != 0);
			if (rc == 0)
				pbb_send_progress_clear(st, r->id);
		} else if (fate == PB_MODEM_SEND_NOT_SENT) {
			/* nothing left the modem: keep it, in order, and try again */
			*retry_ms = *retry_ms ? (*retry_ms < 30000 ? *retry_ms * 2 : 60000) : 2000;
			*retry_at = now_wall_ms() + *retry_ms;
			snprintf(err, sizeof(err), "not sent yet (%s), trying again", last_error());
			pbd_metric_add("pb_bridge_retries_total", 1, "stage", "modem_send", NULL);
			pbb_log(PB_LOG_WARNING, "out #%lld: %s in %ld s", (long long)r->id, err, *retry_ms / 1000);
			rc = pb_store_msg_transition(st, r->id, PB_STORE_QUEUED, NULL, err);
			if (rc < 0)
				pbb_log(PB_LOG_ERROR, "journal: out #%lld: %s", (long long)r->id, last_error());
			break; /* the rows behind it wait: order */
		} else if (fate == PB_MODEM_SEND_UNCERTAIN) {
			if (total > 1)
				snprintf(err, sizeof(err), "no answer from the modem for part %d of %d (%s); parts 1-%d went out",
					 done + 1, total, last_error(), done);
			else
				snprintf(err, sizeof(err), "no answer from the modem (%s)", last_error());
			if (total > 1 && done == 0)
				snprintf(err, sizeof(err), "no answer from the modem for part 1 of %d (%s)", total, last_error());
			pbb_log(PB_LOG_WARNING, "out #%lld: uncertain: %s", (long long)r->id, err);
			pbd_metric_add("pb_bridge_messages_total", 1, "direction", "out", "kind", "sms", "outcome", "uncertain",
				       NULL);
			/* the box may show it in its sent box once it is done with it */
			*settle_at = now_wall_ms() + 10000;
			rc = pb_store_msg_transition(st, r->id, PB_STORE_UNKNOWN, refs[0] ? refs : NULL, err);
		} else {
			snprintf(err, sizeof(err), "%s", last_error());
			if (done > 0)
				snprintf(err, sizeof(err), "part %d of %d refused (%s); parts 1-%d went out", done + 1, total,
					 last_error(), done);
			pbb_log(PB_LOG_WARNING, "out #%lld: not sent: %s", (long long)r->id, err);
			pbd_metric_add("pb_bridge_messages_total", 1, "direction", "out", "kind", "sms", "outcome", "failed", NULL);
			rc = pb_store_msg_transition(st, r->id, PB_STORE_FAILED, refs[0] ? refs : NULL, err);
			if (rc == 0)
				pbb_send_progress_clear(st, r->id);
		}
		if (rc < 0)
			pbb_log(PB_LOG_ERROR, "journal: out #%lld: %s", (long long)r->id, last_error());
	}
	pb_store_msg_list_free(l);
	if (changed) {
		bell(b);
	}
}

/* A row the sent box shows went out: "sent" and a notice row, one commit. */
static int settle_sent(pbb *b, pb_store *st, const pb_store_msg *r, const pb_modem_msg *e)
{
	char text[600], key[64];
	snprintf(text, sizeof(text), "Settled: \"%.200s\" to %s went out after all (the router's sent box has "
		 "it, %s).", r->body ? r->body : "", r->peer, e->time ? e->time : "no time");
	snprintf(key, sizeof(key), "settled:%lld", (long long)r->id);
	pb_store_msg_in in = PB_STORE_MSG_IN_INIT;
	in.dir = PB_STORE_INBOUND;
	in.state = PB_STORE_STORED;
	in.dedup_key = key;
	in.backend = "bridge";
	in.peer = r->peer;
	in.body = text;
	int rc = pb_store_begin(st);
	if (rc < 0)
		return rc;
	rc = pb_store_msg_transition(st, r->id, PB_STORE_SENT, "-", "settled by the router's sent box");
	if (rc == 0 && (rc = pbb_journal_insert(st, &in, "notice", NULL)) == PB_EEXISTS)
		rc = 0;
	if (rc < 0) {
		pb_store_rollback(st);
		return rc;
	}
	if ((rc = pb_store_commit(st)) == 0) {
		pbb_log(PB_LOG_NOTICE, "out #%lld: settled: the router's sent box has it (%s)", (long long)r->id,
			e->time ? e->time : "no time");
		bell(b);
	}
	return rc;
}

/*
 * HiLink: settle outbound rows left "unknown" (no answer to send-sms, or a
 * stop while sending) by the router's sent box (sms-list BoxType 2): an
 * entry to the same number with the same text, dated no earlier than ten
 * minutes before the row was written (the clocks may differ), each entry
 * settling one row. Found: "sent", and a notice in its room (an inbound row
 * of backend "bridge" and kind "notice", journaled like a message). Not found: it stays
 * uncertain; the router may not keep sent messages, so absence proves
 * nothing and only the owner's !resend sends it again.
 */
static void settle_uncertain(pbb *b, pb_store *st, pb_modem *m)
{
	if (strcmp(b->cfg->modem_backend, "hilink") != 0)
		return;
	pb_store_msg_list *l = NULL;
	if (pb_store_msg_list_state(st, PB_STORE_OUTBOUND, PB_STORE_UNKNOWN, 0, 0, &l) < 0) {
		pbb_log(PB_LOG_ERROR, "journal: %s", last_error());
		return;
	}
	pb_modem_msg_list box = PB_MODEM_MSG_LIST_INIT;
	bool *used = NULL;
	size_t settled = 0;
	if (l->count == 0)
		goto out;
	if (pb_modem_list(m, PB_MODEM_BOX_SENT, &box) < 0) {
		pbb_log(PB_LOG_WARNING, "modem: reading the sent box to settle uncertain sends: %s", last_error());
		goto out;
	}
	if (box.count && !(used = pb_calloc(box.count, sizeof(*used))))
		goto out;
	for (size_t i = 0; i < l->count; i++) {
		const pb_store_msg *r = l->items[i];
		if (pbb_is_mms_row(st, r) != 0 || !r->peer)
			continue;
		for (size_t j = 0; j < box.count; j++) {
			const pb_modem_msg *e = &box.items[j];
			char num[PB_PHONE_MAX];
			pb_phone_kind kind;
			if (used[j] || !e->number || !e->text || strcmp(e->text, r->body ? r->body : "") != 0 ||
			    pb_phone_normalize(num, sizeof(num), e->number, b->cfg->region, &kind) < 0 ||
			    strcmp(num, r->peer) != 0 || pbb_box_time_ms(e) < r->created_at - 600000)
				continue;
			used[j] = true;
			if (settle_sent(b, st, r, e) < 0)
				pbb_log(PB_LOG_ERROR, "journal: out #%lld: %s", (long long)r->id, last_error());
			else
				settled++;
			break;
		}
	}
	if (settled < l->count)
		pbb_log(PB_LOG_NOTICE, "out: %zu message(s) still uncertain: not in the router's sent box "
			"(the owner decides: !resend)", l->count - settled);
out:
	pb_free(used);
	pb_modem_msg_list_dispose(&box);
	pb_store_msg_list_free(l);
}

int pbb_modem_open(const pbb_config *c, pb_modem **out)
{
	pb_modem_options o = PB_MODEM_OPTIONS_INIT;
	o.url = c->modem_url;
	o.device = c->modem_device;
	o.username = c->modem_username;
	o.password_file = c->modem_password_file;
	o.token_file = c->modem_token_file;
	o.login = c->modem_login;
	o.storage = c->modem_storage;
	o.poll_interval_ms = c->modem_poll_ms;
	o.timeout_ms = c->modem_timeout_ms;
	o.send_timeout_ms = c->modem_send_timeout_ms;
	o.tls_insecure = c->modem_insecure_tls;
	return pb_modem_open(out, c->modem_backend, &o);
}

static void *modem_main(void *arg)
{
	pbb *b = arg;
	pb_store *st = thread_store(b);
	if (!st)
		return NULL;
	modem_ctx mc = { b, st, NULL };
	stall_hook(b, "modem");
	long backoff = 0, disk_backoff = 0, send_retry_ms = 0;
	int64_t send_retry_at = 0, settle_at = 0;
	while (!stopping(b)) {
		pbd_stage_beat(); /* each round: a watch of at most 2 s, the sends */
		if (!mc.m) {
			pb_modem *m = NULL;
			if (pbb_modem_open(b->cfg, &m) < 0) {
				backoff = backoff ? (backoff < 30000 ? backoff * 2 : 30000) : 1000;
				pbb_log(PB_LOG_WARNING, "modem: %s (again in %ld ms)", last_error(), backoff);
				nap(b, backoff);
				continue;
			}
			if (pbb_watch_setup(m, st, b->cfg->incomplete_timeout_ms) < 0) {
				/* incomplete messages would wait again from the start */
				pbb_log(PB_LOG_WARNING, "modem: %s (again in 1000 ms)", last_error());
				pb_modem_close(m);
				nap(b, 1000);
				continue;
			}
			if (first_listing(b, st, m) < 0) {
				backoff = backoff ? (backoff < 30000 ? backoff * 2 : 30000) : 1000;
				pbb_log(PB_LOG_WARNING, "modem: first listing: %s (again in %ld ms)", last_error(),
					backoff);
				pb_modem_close(m);
				nap(b, backoff);
				continue;
			}
			pbb_log(PB_LOG_NOTICE, "modem: %s open", b->cfg->modem_backend);
			backoff = 0;
			mc.m = m;
			b->modem_ok = 1;
			settle_at = 1; /* settle what a stop or a lost answer left uncertain */
			pthread_mutex_lock(&b->mu);
			b->modem = m;
			pthread_mutex_unlock(&b->mu);
		}
		if (atomic_load(&b->disk_full)) {
			/* nothing can be journaled: leave the messages on the modem and
			 * look again after a back-off (2 s doubling to 60 s), a write
			 * test first */
			disk_backoff = disk_backoff ? (disk_backoff < 30000 ? disk_backoff * 2 : 60000) : 2000;
			nap(b, disk_backoff);
			if (stopping(b))
				break;
			char v[32];
			snprintf(v, sizeof(v), "%lld", (long long)now_wall_ms());
			if (pb_store_kv_set(st, "bridge.disk_probe", v) < 0) {
				pbb_log(PB_LOG_NOTICE, "journal: the disk is still full (%s); next check in %ld s",
					last_error(), (disk_backoff < 30000 ? disk_backoff * 2 : 60000) / 1000);
				continue;
			}
			disk_full_end(b);
		}
		disk_backoff = 0;
		send_outbound(b, st, mc.m, &send_retry_at, &send_retry_ms, &settle_at);
		if (settle_at && now_wall_ms() >= settle_at) {
			settle_at = 0;
			settle_uncertain(b, st, mc.m);
		}
		int rc = pb_modem_watch(mc.m, 0, 2000, on_modem_event, &mc);
		if (rc < 0) {
			/* a failure the watch cannot retry itself (login refused, the
			 * device gone for good): open the box again from scratch */
			pbb_log(PB_LOG_WARNING, "modem: %s (reopening)", last_error());
			pbd_metric_add("pb_bridge_retries_total", 1, "stage", "modem", NULL);
			pthread_mutex_lock(&b->mu);
			b->modem = NULL;
			pthread_mutex_unlock(&b->mu);
			pb_modem_close(mc.m);
			mc.m = NULL;
			b->modem_ok = 0;
			nap(b, 1000);
		}
	}
	pthread_mutex_lock(&b->mu);
	b->modem = NULL;
	pthread_mutex_unlock(&b->mu);
	pb_modem_close(mc.m);
	pb_store_close(st);
	return NULL;
}

/* --- delivery thread: journal -> Matrix ---------------------------------------- */

/* The room of a contact, created (a direct room with the owners) on first
 * use, once (rooms.c: serialised, marked, found again after a crash). */
static int room_for(pbb *b, pb_store *st, pb_matrix *mx, const char *peer, char **room)
{
	pbb_numbers ns = { NULL, 0 };
	int rc = pbb_numbers_add(&ns, peer);
	if (rc == 0)
		rc = pbb_room_ensure(b->cfg, &b->room_mu, st, mx, &ns, room);
	pbb_numbers_free(&ns);
	/* appservice: the contact's puppet is a member (also of a room made in
	 * bot mode before: the bot invites it, it joins) */
	char puppet[300];
	if (rc == 0 && b->cfg->mode == PBB_MODE_APPSERVICE && peer[0] == '+' &&
	    (rc = pbb_puppet_ensure(b->cfg, st, mx, *room, peer, puppet, sizeof(puppet))) < 0) {
		pb_free(*room);
		*room = NULL;
	}
	return rc;
}

/* Send as the puppet of @peer in appservice mode (a contact's own words),
 * else as the bot. */
static int send_as(pbb *b, pb_matrix *mx, const char *peer, const char *room, const char *txn,
		   const char *msgtype, const char *body, char **event)
{
	char puppet[300];
	bool as = b->cfg->mode == PBB_MODE_APPSERVICE && !strcmp(msgtype, "m.text") && peer && peer[0] == '+' &&
		  pbb_puppet_user_id(b->cfg, pbb_as_server(b->cfg, pb_matrix_user_id(mx)), peer, puppet,
				     sizeof(puppet)) == 0;
	if (as && pb_matrix_act_as(mx, puppet) < 0)
		return PB_ENOMEM;
	int rc = pb_matrix_send_message(mx, room, txn, msgtype, body, NULL, event);
	if (as)
		pb_matrix_act_as(mx, NULL);
	return rc;
}


/* --- MMS: notification -> MMSC -> Matrix media --------------------------------- */

#define RETRIEVED_CT "application/vnd.wap.mms-message; x-pb-retrieved"

void pbb_mmsc_options(const pbb_config *c, pb_mmsc_options *o, const char *rules[2])
{
	rules[0] = c->mmsc_rewrite;
	rules[1] = NULL;
	*o = (pb_mmsc_options)PB_MMSC_OPTIONS_INIT;
	o->mmsc_url = c->mmsc_url;
	o->proxy = c->mmsc_proxy;
	o->interface = c->mmsc_interface;
	o->user_agent = c->mmsc_user_agent;
	o->extra_headers = (const char *const *)c->mmsc_headers;
	o->rewrite_rules = c->mmsc_rewrite ? rules : NULL;
	o->timeout_ms = 120000;
}

static pb_mmsc *open_mmsc(pbb *b, pb_mmsc_progress_cb progress)
{
	const pbb_config *c = b->cfg;
	if (!c->mmsc_url)
		return NULL;
	pb_mmsc_options o;
	const char *rules[2];
	pbb_mmsc_options(c, &o, rules);
	if (progress) {
		/* the fetch thread: one HTTP attempt per fetch, its own back-off
		 * between them ([mmsc] fetch_retry_ms), stopped by a stop */
		o.retry.attempts = 1;
		o.progress = progress;
		o.progress_userdata = b;
	}
	pb_mmsc *m = NULL;
	if (pb_mmsc_new(&m, &o) < 0) {
		pbb_log(PB_LOG_ERROR, "mmsc: %s (picture messages will not be fetched)", last_error());
		return NULL;
	}
	return m;
}

static bool transient(int rc)
{
	return rc == PB_EIO || rc == PB_ETIMEOUT || rc == PB_EAGAIN || rc == PB_ECANCELLED || rc == PB_EBUSY;
}

/* The room of a received MMS: the sender's, or the group's when it went to
 * several people (From, To, Cc without the owner's own number). @p sender
 * receives the sender's name for the group room's text. */
static int mms_room(pbb *b, pb_store *st, pb_matrix *mx, const pb_store_msg *r, const pb_mms_message *msg,
		    char **room, bool *group, char *sender, size_t size, char from[PB_PHONE_MAX])
{
	pbb_numbers who = { NULL, 0 };
	int rc = pbb_mms_participants(msg, b->cfg->region, b->cfg->own_number, &who);
	if (rc < 0)
		return rc;
	*group = who.n >= 2;
	from[0] = '\0';
	pb_phone_kind kind;
	if (!msg->from || pb_phone_normalize(from, PB_PHONE_MAX, msg->from, b->cfg->region, &kind) < 0)
		snprintf(from, PB_PHONE_MAX, "%s", r->peer ? r->peer : "unknown");
	pb_store_contact *c = NULL;
	snprintf(sender, size, "%s", pb_store_contact_get(st, from, &c) == 0 && c->display_name ? c->display_name : from);
	pb_store_contact_free(c);
	/* one-to-one: the room of the number the notification came from, as
	 * for its SMS (the journal's peer) */
	if (*group)
		rc = pbb_room_ensure(b->cfg, &b->room_mu, st, mx, &who, room);
	else
		rc = room_for(b, st, mx, r->peer ? r->peer : from, room);
	/* appservice: every participant's puppet is a member of a group's room */
	char puppet[300];
	for (size_t i = 0; rc == 0 && *group && b->cfg->mode == PBB_MODE_APPSERVICE && i < who.n; i++)
		if (who.v[i][0] == '+')
			rc = pbb_puppet_ensure(b->cfg, st, mx, *room, who.v[i], puppet, sizeof(puppet));
	pbb_numbers_free(&who);
	return rc;
}

/* --- picture messages: fetched off the SMS path (fetch thread) ----------------- */

/*
 * A picture message is fetched by its own thread (fetch_main), never by the
 * delivery thread: an MMSC that hangs or fails must not hold up the texts.
 * Its progress is kept in kv "bridge.mms.<row>", durable across restarts:
 * "ATTEMPTS NEXT_MS" while it is being retried (NEXT_MS: wall clock of the
 * next attempt), "X ATTEMPTS\tREASON" once given up; gone once fetched (the
 * M-Retrieve.conf is then an attachment of the row).
 */
typedef struct mms_fetch {
	int attempts;
	int64_t next_ms;
	bool gave_up;
	char reason[400];
} mms_fetch;

static void mms_fetch_key(char *key, size_t size, int64_t id)
{
	snprintf(key, size, "bridge.mms.%lld", (long long)id);
}

/* @return 0 (read), PB_ENOTFOUND (no attempt yet: zeroed) or another code */
static int mms_fetch_get(pb_store *st, int64_t id, mms_fetch *f)
{
	char key[64], *v = NULL;
	memset(f, 0, sizeof(*f));
	mms_fetch_key(key, sizeof(key), id);
	int rc = pb_store_kv_get(st, key, &v);
	if (rc < 0)
		return rc;
	long long a = 0, n = 0;
	if (v[0] == 'X') {
		const char *tab = strchr(v, '\t');
		f->gave_up = true;
		f->attempts = atoi(v + 1);
		snprintf(f->reason, sizeof(f->reason), "%s", tab ? tab + 1 : "given up");
	} else if (sscanf(v, "%lld %lld", &a, &n) == 2) {
		f->attempts = (int)a;
		f->next_ms = n;
	}
	pb_free(v);
	return 0;
}

static int mms_fetch_put(pb_store *st, int64_t id, const mms_fetch *f)
{
	char key[64], v[512];
	mms_fetch_key(key, sizeof(key), id);
	if (f->gave_up)
		snprintf(v, sizeof(v), "X%d\t%s", f->attempts, f->reason);
	else
		snprintf(v, sizeof(v), "%d %lld", f->attempts, (long long)f->next_ms);
	return pb_store_kv_set(st, key, v);
}

/* The row's notification and, once fetched, its M-Retrieve.conf (hashes
 * borrowed from @p al). */
static void mms_attachments(const pb_store_attachment_list *al, const char **note, const char **got)
{
	*note = *got = NULL;
	for (size_t i = 0; i < al->count; i++) {
		const char *ct = al->items[i].content_type ? al->items[i].content_type : "";
		if (!strcmp(ct, RETRIEVED_CT))
			*got = al->items[i].sha256;
		else if (!*note)
			*note = al->items[i].sha256;
	}
}

/* What the delivery thread does with an MMS row: 0 fetched (deliver it),
 * 1 still being fetched (skip it: texts go on), 2 given up (its notice,
 * @p why says why), or a negative code. */
static int mms_fetch_status(pbb *b, pb_store *st, const pb_store_msg *r, char *why, size_t size)
{
	if (!b->cfg->mmsc_url) {
		snprintf(why, size, "no [mmsc] url is configured");
		return 2;
	}
	pb_store_attachment_list *al = NULL;
	int rc = pb_store_attachment_list_get(st, r->id, &al);
	if (rc < 0)
		return rc;
	const char *note, *got;
	mms_attachments(al, &note, &got);
	bool fetched = got != NULL;
	pb_store_attachment_list_free(al);
	if (fetched)
		return 0;
	mms_fetch f;
	rc = mms_fetch_get(st, r->id, &f);
	if (rc < 0 && rc != PB_ENOTFOUND)
		return rc;
	if (!f.gave_up)
		return 1;
	snprintf(why, size, "%s", f.reason);
	return 2;
}

/* The wait before attempt @p attempts + 1: [mmsc] fetch_retry_ms doubling, at most an hour. */
static int64_t fetch_backoff(const pbb *b, int attempts)
{
	int64_t d = b->cfg->mmsc_fetch_retry_ms > 0 ? b->cfg->mmsc_fetch_retry_ms : 60000;
	for (int i = 1; i < attempts && d < 3600000; i++)
		d *= 2;
	return d < 3600000 ? d : 3600000;
}

/*
 * One attempt at a picture message whose time has come: the M-Retrieve.conf
 * kept as an attachment (committed) before the MMSC is told "Retrieved";
 * a failure that may pass is tried again later (back-off), up to [mmsc]
 * fetch_attempts; a permanent one, or the last attempt, gives up with the
 * reason (the delivery thread posts it).
 * @param due lowered to when this row is due next (wall ms), if it waits
 * @return 0, or a negative code (journal error)
 */
static int fetch_one(pbb *b, pb_store *st, pb_mmsc *mmsc, const pb_store_msg *r, int64_t *due)
{
	pb_store_attachment_list *al = NULL;
	int rc = pb_store_attachment_list_get(st, r->id, &al);
	if (rc < 0)
		return rc;
	const char *note_sha, *got_sha;
	mms_attachments(al, &note_sha, &got_sha);
	mms_fetch f;
	pb_buf note = PB_BUF_INIT;
	pb_mms_message *n = NULL;
	if (got_sha || ((rc = mms_fetch_get(st, r->id, &f)) < 0 && rc != PB_ENOTFOUND) || f.gave_up)
		goto out;
	rc = 0;
	int64_t now = now_wall_ms();
	if (f.next_ms > now) {
		if (*due == 0 || f.next_ms < *due)
			*due = f.next_ms;
		goto out;
	}
	if (!mmsc) {
		f.gave_up = true;
		snprintf(f.reason, sizeof(f.reason), "the MMSC client could not be set up from [mmsc] (see the log)");
		rc = mms_fetch_put(st, r->id, &f);
		bell(b);
		goto out;
	}
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	if (!note_sha || pb_store_attachment_read(st, note_sha, &note) < 0 ||
	    /* salvage: routers cut the Content-Location ([mmsc] rewrite rules mend it) */
	    pb_mms_decode_push_flags(&n, NULL, note.data, note.len, PB_MMS_DECODE_SALVAGE, &perr) < 0 ||
	    n->message_type != PB_MMS_NOTIFICATION_IND) {
		f.gave_up = true;
		snprintf(f.reason, sizeof(f.reason), "its notification is not an MMS notification%s%s",
			 perr.text[0] ? ": " : "", perr.text);
		rc = mms_fetch_put(st, r->id, &f);
		bell(b);
		goto out;
	}
	pb_mmsc_retrieval rr;
	memset(&rr, 0, sizeof(rr));
	rc = pb_mmsc_retrieve(mmsc, n, r->created_at / 1000, PB_MMSC_RETRIEVE_NO_ANSWER, &rr);
	if (stopping(b) && rc < 0) {
		rc = 0; /* cut short by the stop: not an attempt */
		pb_mmsc_retrieval_dispose(&rr);
		goto out;
	}
	char reason[300];
	snprintf(reason, sizeof(reason), "%s", rc < 0 ? last_error() : "");
	if (rc == 0 && (rc = pb_store_attachment_add(st, r->id, rr.pdu.data, rr.pdu.len, RETRIEVED_CT, NULL, NULL)) < 0) {
		/* not kept (the disk?): not the MMSC's fault, not an attempt;
		 * unanswered, the MMSC keeps it */
		pb_mmsc_retrieval_dispose(&rr);
		goto out;
	}
	f.attempts++;
	if (rc == 0) {
		char key[64];
		mms_fetch_key(key, sizeof(key), r->id);
		pb_store_kv_delete(st, key);
		pbb_log(PB_LOG_INFO, "in #%lld: picture message fetched (%zu bytes)", (long long)r->id, rr.pdu.len);
	} else if (!transient(rc) || f.attempts >= b->cfg->mmsc_fetch_attempts) {
		f.gave_up = true;
		pbd_metric_add("pb_bridge_mms_fetch_failures_total", 1, "final", "true", NULL);
		snprintf(f.reason, sizeof(f.reason), "%s%s", reason,
			 transient(rc) ? " (the last of the attempts; [mmsc] fetch_attempts)" : "");
		pbb_log(PB_LOG_WARNING, "in #%lld: MMS: given up after %d attempt(s): %s", (long long)r->id,
			f.attempts, reason);
	} else {
		f.next_ms = now + fetch_backoff(b, f.attempts);
		pbd_metric_add("pb_bridge_mms_fetch_failures_total", 1, "final", "false", NULL);
		pbd_metric_add("pb_bridge_retries_total", 1, "stage", "mms_fetch", NULL);
		pbb_log(PB_LOG_WARNING, "in #%lld: MMS: attempt %d of %d: %s (again in %lld ms)", (long long)r->id,
			f.attempts, b->cfg->mmsc_fetch_attempts, reason, (long long)(f.next_ms - now));
		if (*due == 0 || f.next_ms < *due)
			*due = f.next_ms;
	}
	if (rc == 0 || f.gave_up) {
		/* kept (or given up): now the MMSC may forget it */
		if (rr.answer_status && n->transaction_id &&
		    pb_mmsc_notifyresp(mmsc, n->transaction_id, rr.answer_status, NULL) < 0)
			pbb_log(PB_LOG_WARNING, "mmsc: M-NotifyResp.ind: %s", last_error());
		bell(b);
	}
	rc = rc == 0 ? 0 : mms_fetch_put(st, r->id, &f);
	pb_mmsc_retrieval_dispose(&rr);
out:
	pb_mms_message_free(n);
	pb_buf_dispose(&note);
	pb_store_attachment_list_free(al);
	return rc;
}

/* One pass over the stored picture messages. @return when the next one is
 * due (wall ms), 0 when none waits */
static int64_t fetch_rows(pbb *b, pb_store *st, pb_mmsc *mmsc)
{
	int64_t after = 0, due = 0;
	bool more = true;
	while (more && !stopping(b)) {
		pb_store_msg_list *l = NULL;
		if (pb_store_msg_list_state(st, PB_STORE_INBOUND, PB_STORE_STORED, after, 64, &l) < 0) {
			pbb_log(PB_LOG_ERROR, "journal: %s", last_error());
			return now_wall_ms() + 5000;
		}
		more = l->count == 64;
		for (size_t i = 0; i < l->count && !stopping(b); i++) {
			const pb_store_msg *r = l->items[i];
			after = r->id;
			if (pbb_msg_is(st, r, "mms") != 0 && fetch_one(b, st, mmsc, r, &due) < 0) {
				pbb_log(PB_LOG_ERROR, "journal: in #%lld: %s", (long long)r->id, last_error());
				due = now_wall_ms() + 5000;
				more = false;
				break;
			}
		}
		pb_store_msg_list_free(l);
	}
	return due;
}

static int fetch_progress(uint64_t now, uint64_t total, void *ud)
{
	(void)now;
	(void)total;
	pbd_stage_beat(); /* a download on its way is progress: it has its own timeouts */
	return stopping(ud) ? 1 : 0; /* SIGTERM does not wait for a hung MMSC */
}

static void *fetch_main(void *arg)
{
	pbb *b = arg;
	if (!b->cfg->mmsc_url)
		return NULL; /* the delivery thread says so for each picture message */
	pb_store *st = thread_store(b);
	if (!st)
		return NULL;
	/* NULL when [mmsc] cannot be used (logged): each picture message is
	 * then given up with a notice, as without [mmsc] url */
	pb_mmsc *mmsc = open_mmsc(b, fetch_progress);
	pthread_mutex_lock(&b->mu);
	unsigned long seen = b->doorbell;
	pthread_mutex_unlock(&b->mu);
	while (!stopping(b)) {
		int64_t due = fetch_rows(b, st, mmsc);
		long wait = 5000;
		if (due) {
			int64_t d = due - now_wall_ms();
			wait = d < 10 ? 10 : d < wait ? (long)d : wait;
		}
		wait_work(b, &seen, wait);
	}
	pb_mmsc_free(mmsc);
	pb_store_close(st);
	return NULL;
}

/* Post the parts of a fetched picture message (its M-Retrieve.conf is an
 * attachment of the row).
 * @return 0 (delivered; *event set), 1 (it does not decode: caller sends
 *         its notice, @p why says why), or a negative code (retry later) */
static int deliver_mms(pbb *b, pb_store *st, pb_matrix *mx, const pb_store_msg *r, char **roomp, char **event,
		       char *why, size_t whysize)
{
	char sender[256] = "", from[PB_PHONE_MAX] = "", puppet[300] = "";
	bool group = false;
	const char *room = NULL;
	pb_store_attachment_list *al = NULL;
	int rc = pb_store_attachment_list_get(st, r->id, &al);
	if (rc < 0)
		return rc;
	const char *note_sha, *got_sha;
	mms_attachments(al, &note_sha, &got_sha);
	pb_buf got = PB_BUF_INIT, text = PB_BUF_INIT;
	pb_mms_message *msg = NULL;
	rc = 1;
	snprintf(why, whysize, "the fetched message is not readable");
	if (!got_sha || (rc = pb_store_attachment_read(st, got_sha, &got)) < 0)
		goto out;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	if (pb_mms_decode(&msg, got.data, got.len, 0, &perr) < 0) {
		snprintf(why, whysize, "the fetched message does not decode (offset %zu: %s)", perr.offset, perr.text);
		rc = 1;
		goto out;
	}
	if ((rc = mms_room(b, st, mx, r, msg, roomp, &group, sender, sizeof(sender), from)) < 0)
		goto out;
	room = *roomp;
	/* appservice: the sender's puppet posts it (in a one-to-one room the
	 * room's contact, whose number the notification came from, as for its SMS) */
	const char *by = group || !r->peer ? from : r->peer;
	if (b->cfg->mode == PBB_MODE_APPSERVICE && by[0] == '+' &&
	    (rc = pbb_puppet_ensure(b->cfg, st, mx, room, by, puppet, sizeof(puppet))) == 0)
		rc = pb_matrix_act_as(mx, puppet);
	if (rc < 0)
		goto out;
	char txn[64];
	for (size_t k = 0; k < msg->n_parts; k++) {
		const pb_mms_part *pt = &msg->parts[k];
		if (pb_mms_part_is_text(pt)) {
			if (text.len)
				pb_buf_puts(&text, "\n\n");
			pb_mms_part_text(pt, &text);
			continue;
		}
		if (!pb_mms_part_is_media(pt))
			continue;
		char *mxc = NULL, *file = NULL;
		const char *ct = pt->content_type.media_type[0] ? pt->content_type.media_type
								 : "application/octet-stream";
		/* an encrypted room gets an encrypted attachment: the homeserver
		 * keeps ciphertext, the key travels inside the encrypted event */
		if (b->crypto && (rc = pb_matrix_crypto_room_check(b->crypto, mx, room)) > 0)
			rc = pb_matrix_upload_encrypted(mx, pt->data, pt->len, &file);
		else if (rc >= 0)
			rc = pb_matrix_upload(mx, pt->data, pt->len, ct, pt->filename, &mxc);
		if (rc < 0)
			goto out;
		pb_matrix_media md = { NULL, pt->filename, NULL, mxc, ct, pt->len, 0, 0, 0, file };
		pb_matrix_image_info(pt->data, pt->len, &md.width, &md.height, NULL);
		snprintf(txn, sizeof(txn), "pbin%lldp%zu.%s", (long long)r->id, k, b->store_id);
		pb_free(*event);
		*event = NULL;
		rc = pb_matrix_send_media(mx, room, txn, &md, event);
		pb_free(mxc);
		if (file) {
			explicit_bzero(file, strlen(file));
			pb_free(file);
		}
		if (rc < 0)
			goto out;
	}
	if (msg->subject && msg->subject[0]) {
		pb_buf t2 = PB_BUF_INIT;
		pb_buf_printf(&t2, "%s%s%s", msg->subject, text.len ? "\n\n" : "", text.len ? pb_buf_cstr(&text) : "");
		pb_buf_dispose(&text);
		text = t2;
	}
	if (group && !puppet[0]) {
		/* one room for several people: say who wrote (a puppet is its own name) */
		pb_buf t2 = PB_BUF_INIT;
		if (text.len)
			pb_buf_printf(&t2, "%s: %s", sender, pb_buf_cstr(&text));
		else
			pb_buf_printf(&t2, "(from %s)", sender);
		pb_buf_dispose(&text);
		text = t2;
	}
	if (text.len) {
		snprintf(txn, sizeof(txn), "pbin%lldt.%s", (long long)r->id, b->store_id);
		pb_free(*event);
		*event = NULL;
		rc = pb_matrix_send_text(mx, room, txn, pb_buf_cstr(&text), NULL, event);
	}
	rc = rc < 0 ? rc : 0;
out:
	pb_matrix_act_as(mx, NULL);
	pb_mms_message_free(msg);
	pb_buf_dispose(&got);
	pb_buf_dispose(&text);
	pb_store_attachment_list_free(al);
	return rc;
}


/* Deliver stored inbound rows in order; stop at the first failure (order). */
static int deliver_page(pbb *b, pb_store *st, pb_matrix *mx, int64_t *after, size_t *count)
{
	pb_store_msg_list *l = NULL;
	if (pb_store_msg_list_state(st, PB_STORE_INBOUND, PB_STORE_STORED, *after, 32, &l) < 0)
		return -1;
	*count = l->count;
	int rc = 0;
	for (size_t i = 0; i < l->count && !stopping(b); i++) {
		const pb_store_msg *r = l->items[i];
		*after = r->id;
		const char *kind;
		if ((rc = pbb_msg_kind(st, r, &kind)) < 0)
			break;
		if (!strcmp(kind, "report")) { /* a delivery report: reports.c */
			if ((rc = pbb_report_deliver_cfg(b->cfg, st, mx, r)) < 0)
				break;
			continue;
		}
		char *room = NULL;
		bool mms = !strcmp(kind, "mms"); /* its room is known once it is fetched */
		if (!mms && (rc = room_for(b, st, mx, r->peer ? r->peer : "unknown", &room)) < 0) {
			pbb_log(PB_LOG_WARNING, "in #%lld: no room for %s: %s", (long long)r->id,
				r->peer ? r->peer : "?", last_error());
			break;
		}
		char txn[64], text[2048], why[400] = "", *mms_event = NULL;
		const char *error = NULL;
		pbb_txn_id(txn, sizeof(txn), b->store_id, "in", r->id);
		const char *msgtype = "m.text", *body = r->body ? r->body : "";
		if (!strcmp(kind, "incomplete")) {
			snprintf(text, sizeof(text), "%s\n(incomplete: parts of this message never arrived)", body);
			body = text;
		} else if (mms && (rc = mms_fetch_status(b, st, r, why, sizeof(why))) == 1) {
			continue; /* being fetched: off the SMS path, the texts behind it go on */
		} else if (mms && rc == 0 && (rc = deliver_mms(b, st, mx, r, &room, &mms_event, why, sizeof(why))) <= 0) {
			if (rc == 0) {
				rc = pb_store_msg_transition(st, r->id, PB_STORE_DELIVERED, mms_event, NULL);
				pbb_log(PB_LOG_INFO, "in #%lld: picture message delivered to %s", (long long)r->id, room);
				if (rc == 0)
					pbd_metric_add("pb_bridge_messages_total", 1, "direction", "in", "kind", "mms",
						       "outcome", "delivered", NULL);
			} else {
				pbb_log(PB_LOG_WARNING, "in #%lld: MMS: %s (will retry)", (long long)r->id, last_error());
			}
			pb_free(mms_event);
			pb_free(room);
			if (rc < 0)
				break;
			continue;
		} else if (mms && rc < 0) {
			pbb_log(PB_LOG_ERROR, "journal: in #%lld: %s", (long long)r->id, last_error());
			break;
		} else if (!strcmp(kind, "voicemail") &&
			   (rc = pbb_voicemail_deliver(st, mx, b->crypto, r, room, txn, &mms_event, why,
						       sizeof(why))) <= 0) {
			/* pb-screend's recording (voicemail.c): m.audio in the caller's room */
			if (rc == 0) {
				rc = pb_store_msg_transition(st, r->id, PB_STORE_DELIVERED, mms_event, NULL);
				pbb_log(PB_LOG_INFO, "in #%lld: voicemail from %s delivered to %s", (long long)r->id,
					r->peer ? r->peer : "?", room);
			} else {
				pbb_log(PB_LOG_WARNING, "in #%lld: voicemail: %s (will retry)", (long long)r->id,
					last_error());
			}
			pb_free(mms_event);
			pb_free(room);
			if (rc < 0)
				break;
			continue;
		} else if (!strcmp(kind, "voicemail")) {
			msgtype = "m.notice";
			snprintf(text, sizeof(text), "A voicemail from %s could not be posted: %s. It is kept in the "
				 "journal as row %lld.", r->peer ? r->peer : "an unknown caller", why, (long long)r->id);
			body = text;
			error = why;
		} else if (mms) {
			msgtype = "m.notice";
			snprintf(text, sizeof(text),
				 "A picture message (MMS) from %s could not be fetched: %s. Its notification is "
				 "kept in the journal as row %lld.", r->peer ? r->peer : "an unknown sender", why,
				 (long long)r->id);
			body = text;
			error = why;
		} else if (!strcmp(kind, "notice")) {
			msgtype = "m.notice"; /* the bridge's own word about a message (settle_sent) */
		} else if (strcmp(kind, "text") != 0) {
			msgtype = "m.notice";
			snprintf(text, sizeof(text), "An entry the bridge cannot read arrived (kept as row %lld).",
				 (long long)r->id);
			body = text;
		}
		if (!room && (rc = room_for(b, st, mx, r->peer ? r->peer : "unknown", &room)) < 0) {
			pbb_log(PB_LOG_WARNING, "in #%lld: no room for %s: %s", (long long)r->id,
				r->peer ? r->peer : "?", last_error());
			break;
		}
		char *event = NULL;
		rc = send_as(b, mx, r->peer, room, txn, msgtype, body, &event);
		if (rc == 0) {
			rc = pb_store_msg_transition(st, r->id, PB_STORE_DELIVERED, event, error);
			pbb_log(PB_LOG_INFO, "in #%lld: delivered to %s as %s", (long long)r->id, room, event);
			if (rc == 0)
				pbd_metric_add("pb_bridge_messages_total", 1, "direction", "in", "kind", kind,
					       "outcome", error ? "failed" : "delivered", NULL);
		} else {
			pbb_log(PB_LOG_WARNING, "in #%lld: matrix: %s (will retry)", (long long)r->id, last_error());
		}
		pb_free(event);
		pb_free(room);
		if (rc < 0)
			break;
	}
	pb_store_msg_list_free(l);
	return rc < 0 ? -1 : 0;
}

/* Every page of stored rows: picture messages still being fetched are
 * passed over, so there may be more than a page of them ahead. */
static int deliver_inbound(pbb *b, pb_store *st, pb_matrix *mx)
{
	int64_t after = 0;
	for (;;) {
		size_t n = 0;
		int rc = deliver_page(b, st, mx, &after, &n);
		if (rc < 0 || n < 32 || stopping(b))
			return rc;
	}
}

/* A notice in the room of an outbound row, once (kv "noted:<id>" + txn id). */
static int note_outbound(pbb *b, pb_store *st, pb_matrix *mx, const pb_store_msg *r, const char *kind,
			 const char *text)
{
	char key[64], *v = NULL;
	snprintf(key, sizeof(key), "bridge.noted.%lld", (long long)r->id);
	if (pb_store_kv_get(st, key, &v) == 0) {
		pb_free(v);
		return 0;
	}
	if (!r->room)
		return pb_store_kv_set(st, key, "no room");
	char txn[64], k[32];
	/* a row sent again (!resend) gets a notice of its own for each attempt */
	if (r->attempts > 1)
		snprintf(k, sizeof(k), "%sa%dx", kind, r->attempts);
	else
		snprintf(k, sizeof(k), "%s", kind);
	pbb_txn_id(txn, sizeof(txn), b->store_id, k, r->id);
	char *event = NULL;
	int rc = pb_matrix_send_message(mx, r->room, txn, "m.notice", text, NULL, &event);
	if (rc == 0 && event && r->state == PB_STORE_UNKNOWN) {
		/* a reply "!resend" to this notice names the row */
		char rkey[300], id[32];
		snprintf(rkey, sizeof(rkey), "bridge.resend.%s", event);
		snprintf(id, sizeof(id), "%lld", (long long)r->id);
		rc = pb_store_kv_set(st, rkey, id);
	}
	pb_free(event);
	if (rc == 0)
		rc = pb_store_kv_set(st, key, kind);
	return rc;
}

static int report_outbound(pbb *b, pb_store *st, pb_matrix *mx)
{
	static const struct {
		int state;
		const char *kind;
	} which[] = { { PB_STORE_UNKNOWN, "unk" }, { PB_STORE_FAILED, "fail" } };
	for (size_t w = 0; w < sizeof(which) / sizeof(which[0]); w++) {
		pb_store_msg_list *l = NULL;
		if (pb_store_msg_list_state(st, PB_STORE_OUTBOUND, which[w].state, 0, 0, &l) < 0)
			return -1;
		for (size_t i = 0; i < l->count; i++) {
			const pb_store_msg *r = l->items[i];
			char text[1024];
			if (which[w].state == PB_STORE_UNKNOWN && r->last_error &&
			    strcmp(r->last_error, "interrupted while sending") != 0)
				snprintf(text, sizeof(text),
					 "Uncertain: \"%.200s\" to %s: %.300s; it may or may not have gone out. It "
					 "will not be sent again by itself: reply !resend to this message to send it "
					 "again (or !resend %lld in the control room).",
					 r->body ? r->body : "", r->peer ? r->peer : "?", r->last_error, (long long)r->id);
			else if (which[w].state == PB_STORE_UNKNOWN)
				snprintf(text, sizeof(text),
					 "Uncertain: the bridge stopped while sending \"%.200s\" to %s; it may or "
					 "may not have gone out. It will not be sent again by itself: reply !resend to "
					 "this message to send it again (or !resend %lld in the control room).",
					 r->body ? r->body : "", r->peer ? r->peer : "?", (long long)r->id);
			else
				snprintf(text, sizeof(text), "Not sent: \"%.200s\" to %s: %s",
					 r->body ? r->body : "", r->peer ? r->peer : "?",
					 r->last_error ? r->last_error : "failed");
			if (note_outbound(b, st, mx, r, which[w].kind, text) < 0) {
				pb_store_msg_list_free(l);
				return -1;
			}
		}
		pb_store_msg_list_free(l);
	}
	return 0;
}

/* The control room: created once with the owners, its id kept in kv
 * "bridge.control_room"; marked and found again after a crash like the
 * contacts' rooms (rooms.c). */
static int ensure_control_room(pbb *b, pb_store *st, pb_matrix *mx)
{
	char *room = NULL;
	int rc = pbb_room_ensure(b->cfg, &b->room_mu, st, mx, NULL, &room);
	pb_free(room);
	return rc;
}

/* One notice in the control room when the disk fills up and one when it
 * has room again (the episode's start and end times make the transaction
 * ids; the store is not written, it may be full). */
static int disk_notices(pbb *b, pb_store *st, pb_matrix *mx, long long *noted_start, long long *noted_end)
{
	long long since = atomic_load(&b->disk_full_since), until = atomic_load(&b->disk_full_until);
	if (!since || (since == *noted_start && (!until || until == *noted_end)))
		return 0;
	char *room = NULL, txn[64], text[512];
	int rc = pb_store_kv_get(st, "bridge.control_room", &room);
	if (rc < 0)
		return rc == PB_ENOTFOUND ? 0 : rc;
	if (since != *noted_start) {
		snprintf(txn, sizeof(txn), "pbdiskfull%lld", since);
		snprintf(text, sizeof(text),
			 "The bridge's disk is full (store %s): incoming messages stay on the modem and nothing "
			 "is lost; they come as soon as there is room again. Free some space on that disk.",
			 b->cfg->store_path);
		if ((rc = pb_matrix_send_message(mx, room, txn, "m.notice", text, NULL, NULL)) == 0)
			*noted_start = since;
	}
	if (rc == 0 && until && until != *noted_end && *noted_start == since) {
		snprintf(txn, sizeof(txn), "pbdiskroom%lld", until);
		if ((rc = pb_matrix_send_message(mx, room, txn, "m.notice",
						 "There is room on the bridge's disk again: the messages kept on the "
						 "modem are coming now.", NULL, NULL)) == 0)
			*noted_end = until;
	}
	pb_free(room);
	return rc;
}

static void *deliver_main(void *arg)
{
	pbb *b = arg;
	pb_store *st;
	pb_matrix *mx;
	if (!matrix_thread_open(b, &st, &mx))
		return NULL;
	pthread_mutex_lock(&b->mu);
	b->mx_deliver = mx;
	unsigned long seen = b->doorbell;
	pthread_mutex_unlock(&b->mu);
	/* rooms made just before a crash and not saved: found again now (and
	 * again before any room is made) */
	pthread_mutex_lock(&b->room_mu);
	int adopted = 0;
	if (pbb_room_scan(b->cfg, st, mx, &adopted) < 0)
		pbb_log(PB_LOG_WARNING, "matrix: looking for the bridge's rooms: %s", last_error());
	else if (adopted)
		pbb_log(PB_LOG_NOTICE, "%d room(s) found again that the journal did not know", adopted);
	pthread_mutex_unlock(&b->room_mu);
	pthread_mutex_lock(&b->mu);
	b->scanned = true; /* the sync thread waits for this */
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	long backoff = 0;
	long long disk_start = 0, disk_end = 0;
	pbb_calls_log calls_log = { NULL, "", false, 0 }; /* [calls] store */
	stall_hook(b, "delivery");
	while (!stopping(b)) {
		int rc = ensure_control_room(b, st, mx);
		if (rc == 0)
			rc = disk_notices(b, st, mx, &disk_start, &disk_end);
		if (rc == 0)
			rc = deliver_inbound(b, st, mx);
		if (rc == 0)
			rc = report_outbound(b, st, mx);
		if (rc == 0)
			rc = pbb_calls_follow_log(b->cfg, &b->room_mu, st, &calls_log, mx, b->store_id,
						  (int64_t)time(NULL) * 1000);
		if (rc < 0 && !stopping(b)) {
			pbd_metric_add("pb_bridge_retries_total", 1, "stage", "delivery", NULL);
			backoff = matrix_backoff(b, backoff, 500);
			/* a full disk: the rows cannot be marked; do not send them
			 * again and again meanwhile */
			nap(b, atomic_load(&b->disk_full) && backoff < 5000 ? 5000 : backoff);
			pb_matrix_cancel_reset(mx);
			continue;
		}
		backoff = 0;
		wait_work(b, &seen, 5000);
	}
	pthread_mutex_lock(&b->mu);
	b->mx_deliver = NULL;
	pthread_mutex_unlock(&b->mu);
	pbb_calls_log_close(&calls_log);
	pb_matrix_free(mx);
	pb_store_close(st);
	return NULL;
}

/* --- sync thread: Matrix -> journal ---------------------------------------------- */

typedef struct sync_ctx {
	pbb *b;
	pb_store *st;
	pb_matrix *mx;
	bool initial; /* the first sync of a new store: history, not commands */
	char *since;
	/* [calls] store: the cluster's lists and call log for the control
	 * room's commands; opened on the first such command, again after a
	 * failure */
	pb_store *cluster;
} sync_ctx;

/* FNV-1a of an event id: the transaction id of a reply to it */
static unsigned long long event_hash(const char *s)
{
	return (unsigned long long)pb_fnv1a64(PB_FNV1A64_INIT, s, strlen(s));
}

static int reply(sync_ctx *sc, const pb_matrix_event *ev, const char *text)
{
	char txn[64];
	snprintf(txn, sizeof(txn), "pbcmd%016llx.%s", event_hash(ev->event_id), sc->b->store_id);
	int rc = pb_matrix_send_message(sc->mx, ev->room_id, txn, "m.notice", text, NULL, NULL);
	if (rc < 0)
		pbb_log(PB_LOG_WARNING, "matrix: reply: %s", last_error());
	return rc;
}

static int normalize(pbb *b, const char *in, char *out, size_t size)
{
	pb_phone_kind kind;
	if (pb_phone_normalize(out, size, in, b->cfg->region, &kind) < 0)
		return -1;
	return kind == PB_PHONE_E164 ? 0 : -1;
}

/* "!resend": an outbound row that is "unknown" (it may or may not have gone
 * out) back to "queued", by the owner's decision only. Parts that were
 * acknowledged are not sent again (pbb_send_sms()). */
static int resend(sync_ctx *sc, const pb_matrix_event *ev, int64_t id)
{
	char msg[512];
	pb_store_msg *r = NULL;
	int rc = id > 0 ? pb_store_msg_get(sc->st, id, &r) : PB_ENOTFOUND;
	if (rc == PB_ENOTFOUND || (rc == 0 && r->dir != PB_STORE_OUTBOUND)) {
		pb_store_msg_free(r);
		snprintf(msg, sizeof(msg), "Nothing to resend: there is no outbound message %lld.", (long long)id);
		return reply(sc, ev, msg);
	}
	if (rc < 0)
		return rc;
	if (r->state != PB_STORE_UNKNOWN) {
		snprintf(msg, sizeof(msg), "Nothing to resend: \"%.200s\" to %s is %s, not uncertain.",
			 r->body ? r->body : "", r->peer ? r->peer : "?", pb_store_state_name(r->state));
		pb_store_msg_free(r);
		return reply(sc, ev, msg);
	}
	char key[64];
	snprintf(key, sizeof(key), "bridge.noted.%lld", (long long)id);
	rc = pb_store_begin(sc->st);
	if (rc == 0)
		rc = pb_store_msg_transition(sc->st, id, PB_STORE_QUEUED, NULL, "sent again by the owner (!resend)");
	if (rc == 0 && (rc = pb_store_kv_delete(sc->st, key)) == PB_ENOTFOUND)
		rc = 0;
	if (rc == 0)
		rc = pb_store_commit(sc->st);
	else
		pb_store_rollback(sc->st);
	if (rc == 0) {
		pbb_log(PB_LOG_NOTICE, "out #%lld: sent again on the owner's !resend", (long long)id);
		ring(sc->b);
		snprintf(msg, sizeof(msg), "Sending \"%.200s\" to %s again.", r->body ? r->body : "",
			 r->peer ? r->peer : "?");
		rc = reply(sc, ev, msg);
	}
	pb_store_msg_free(r);
	return rc;
}

/* The owner's text without a reply's quoted fallback ("> ..." lines). */
static const char *reply_text(const char *body)
{
	while (body[0] == '>') {
		const char *nl = strchr(body, '\n');
		if (!nl)
			return body;
		body = nl + 1;
	}
	while (*body == '\n')
		body++;
	return body;
}

/* "!resend" in a contact or group room: a reply to an "Uncertain" notice. */
static int resend_reply(sync_ctx *sc, const pb_matrix_event *ev)
{
	json_t *rel = json_object_get(ev->content, "m.relates_to");
	const char *to = json_string_value(json_object_get(json_object_get(rel, "m.in_reply_to"), "event_id"));
	char key[300], *v = NULL;
	if (to) {
		snprintf(key, sizeof(key), "bridge.resend.%s", to);
		int rc = pb_store_kv_get(sc->st, key, &v);
		if (rc < 0 && rc != PB_ENOTFOUND)
			return rc;
	}
	if (!v)
		return reply(sc, ev, "To send an uncertain message again, reply !resend to its \"Uncertain\" notice "
				     "(or send !resend NUMBER-OF-THE-MESSAGE in the control room).");
	int64_t id = strtoll(v, NULL, 10);
	pb_free(v);
	return resend(sc, ev, id);
}

static bool is_resend(const pb_matrix_event *ev)
{
	return ev->body && (!strcmp(ev->msgtype, "m.text")) && !strncmp(reply_text(ev->body), "!resend", 7);
}

/* A command of an owner in the control room. Each is idempotent when the
 * same event comes again (the sync token is saved after the events). */
static int command(sync_ctx *sc, const pb_matrix_event *ev)
{
	pbb *b = sc->b;
	const char *t = ev->body;
	char msg[1024], num[PB_PHONE_MAX], word[64];
	pb_buf ans = PB_BUF_INIT;
	/* the lists and the call log: with [calls] store the cluster's, which
	 * its nodes screen with (the store opened on the first such command) */
	bool cluster = b->cfg->calls_store && pbb_calls_is_command(t);
	int handled = cluster && !sc->cluster ? pbb_calls_store_open(b->cfg, &sc->cluster) : 0;
	if (handled == 0)
		handled = pbb_calls_command(cluster ? sc->cluster : sc->st, b->cfg->region, t, &ans);
	if (handled < 0 && cluster) {
		/* the owner is told and the sync goes on: the command is not
		 * kept to be tried again; the next one connects again */
		snprintf(msg, sizeof(msg), "Not done: the cluster's store (%s) did not answer: %s. Try again later.",
			 b->cfg->calls_store, pb_error_last()->message);
		pbb_log(PB_LOG_ERROR, "[calls] store %s: a control room command: %s", b->cfg->calls_store,
			pb_error_last()->message);
		pb_store_close(sc->cluster);
		sc->cluster = NULL;
		pb_buf_dispose(&ans);
		return reply(sc, ev, msg);
	}
	if (handled != 0) {
		int rc = handled < 0 ? handled : reply(sc, ev, ans.data ? (const char *)ans.data : "");
		pb_buf_dispose(&ans);
		return rc;
	}
	if (!strncmp(t, "!sms ", 5)) {
		const char *p = t + 5;
		size_t n = strcspn(p, " ");
		if (n == 0 || n >= sizeof(word) || !p[n] || !p[n + 1])
			return reply(sc, ev, "Usage: !sms NUMBER TEXT");
		memcpy(word, p, n);
		word[n] = '\0';
		if (normalize(b, word, num, sizeof(num)) < 0) {
			snprintf(msg, sizeof(msg), "Not a phone number: %s", word);
			return reply(sc, ev, msg);
		}
		char *room = NULL;
		int rc = room_for(b, sc->st, sc->mx, num, &room);
		if (rc < 0)
			return rc;
		pb_store_msg_in in = PB_STORE_MSG_IN_INIT;
		in.dir = PB_STORE_OUTBOUND;
		in.state = PB_STORE_QUEUED;
		in.backend = "matrix"; /* kind "cmd": its event is in the control room */
		in.peer = num;
		in.room = room;
		in.event_id = ev->event_id;
		in.body = p + n + 1;
		in.sent_at = ev->origin_server_ts;
		int64_t id;
		if ((rc = pb_store_begin(sc->st)) == 0) {
			rc = pbb_journal_insert(sc->st, &in, "cmd", &id);
			if (rc == 0)
				rc = pb_store_commit(sc->st);
			else
				pb_store_rollback(sc->st);
		}
		pb_free(room);
		if (rc < 0 && rc != PB_EEXISTS)
			return rc;
		ring(b);
		snprintf(msg, sizeof(msg), "Sending to %s; the conversation continues in its own room.", num);
		return reply(sc, ev, msg);
	}
	if (!strcmp(t, "!status")) {
		int64_t c[5] = { 0 };
		const int which[5][2] = { { PB_STORE_INBOUND, PB_STORE_STORED },
					  { PB_STORE_OUTBOUND, PB_STORE_QUEUED },
					  { PB_STORE_OUTBOUND, PB_STORE_SENDING },
					  { PB_STORE_OUTBOUND, PB_STORE_UNKNOWN },
					  { PB_STORE_OUTBOUND, PB_STORE_FAILED } };
		for (int i = 0; i < 5; i++)
			if (pb_store_msg_count(sc->st, which[i][0], which[i][1], &c[i]) < 0)
				return -1;
		snprintf(msg, sizeof(msg),
			 "modem: %s (%s)\ninbound waiting for Matrix: %lld\noutbound queued: %lld, "
			 "sending: %lld, uncertain: %lld, failed: %lld",
			 atomic_load(&b->modem_ok) ? "ok" : "not answering", b->cfg->modem_backend,
			 (long long)c[0], (long long)c[1], (long long)c[2], (long long)c[3], (long long)c[4]);
		return reply(sc, ev, msg);
	}
	if (!strncmp(reply_text(t), "!resend", 7)) {
		const char *a = reply_text(t) + 7;
		if (*a == ' ')
			return resend(sc, ev, strtoll(a + 1, NULL, 10));
		return resend_reply(sc, ev);
	}
	if (!strncmp(t, "!contacts import", 16)) {
		/* the file comes next (or as a reply to this): remember who waits */
		char wait[1024];
		snprintf(wait, sizeof(wait), "%s\t%s\t%lld", ev->sender, ev->event_id, (long long)ev->origin_server_ts);
		int rc = pb_store_kv_set(sc->st, "bridge.import.wait", wait);
		if (rc < 0)
			return rc;
		return reply(sc, ev, "Send the contacts file (.vcf or .csv) in this room now, within 10 minutes "
				     "(or as a reply to this command, or with \"!contacts import\" as its caption).");
	}
	if (!strncmp(t, "!contacts", 9))
		return reply(sc, ev, "Usage: !contacts import, then send a .vcf or .csv file");
	if (t[0] == '!')
		return reply(sc, ev, "Commands: !sms NUMBER TEXT, !status, !allow NUMBER [note], !deny NUMBER, "
				     "!remove NUMBER, !list [allow|deny] [PAGE], !calls [N], !resend ID, !contacts import");
	return 0;
}

/* --- sync thread: the owner's media and group messages -> MMS rows ------------- */

/* An outbound row that fails at once, in one commit (never "queued" alone,
 * which the sender would take); the report stage gives its notice. */
static int queue_failed(sync_ctx *sc, const pb_matrix_event *ev, const char *peer, const char *body,
			const char *error)
{
	pb_store_msg_in in = PB_STORE_MSG_IN_INIT;
	in.dir = PB_STORE_OUTBOUND;
	in.state = PB_STORE_QUEUED;
	in.backend = "matrix";
	in.peer = peer;
	in.room = ev->room_id;
	in.event_id = ev->event_id;
	in.body = body;
	in.sent_at = ev->origin_server_ts;
	int64_t id = 0;
	int rc = pb_store_begin(sc->st);
	if (rc < 0)
		return rc;
	rc = pbb_journal_insert(sc->st, &in, "text", &id);
	if (rc == 0)
		rc = pb_store_msg_transition(sc->st, id, PB_STORE_FAILED, NULL, error);
	if (rc < 0) {
		pb_store_rollback(sc->st);
		return rc == PB_EEXISTS ? 0 : rc;
	}
	if ((rc = pb_store_commit(sc->st)) < 0)
		return rc;
	pbb_log(PB_LOG_INFO, "out #%lld: %s to %s not sent: %s", (long long)id, ev->msgtype, peer, error);
	ring(sc->b);
	return 0;
}

static bool is_media(const char *msgtype)
{
	return !strcmp(msgtype, "m.image") || !strcmp(msgtype, "m.video") || !strcmp(msgtype, "m.audio") ||
	       !strcmp(msgtype, "m.file");
}

/* The owner's picture, video, audio or file for @p peer (a number or a
 * group's key): downloaded, journaled with its bytes, sent by the MMS
 * thread. A failure that may pass (homeserver away) returns it, so that
 * the sync comes again; others fail the row with a notice. */
static int outbound_media(sync_ctx *sc, const pb_matrix_event *ev, const char *peer)
{
	const pbb_config *cfg = sc->b->cfg;
	const char *body = ev->body ? ev->body : "";
	const char *fname = json_string_value(json_object_get(ev->content, "filename"));
	const char *url = json_string_value(json_object_get(ev->content, "url"));
	const json_t *file = json_object_get(ev->content, "file"); /* encrypted attachment */
	if (!url && file)
		url = json_string_value(json_object_get(file, "url"));
	const json_t *info = json_object_get(ev->content, "info");
	const char *mime = json_string_value(json_object_get(info, "mimetype"));
	json_int_t size = json_integer_value(json_object_get(info, "size"));
	/* a caption: the body when a file name is given apart (Matrix spec 1.10) */
	const char *caption = fname && body[0] && strcmp(fname, body) ? body : NULL;
	const char *name = fname ? fname : body;
	const char *shown = caption ? caption : (name[0] ? name : ev->msgtype);
	char err[256];
	if (!cfg->mmsc_url)
		return queue_failed(sc, ev, peer, shown,
				    "sending pictures and files (MMS) needs an MMSC: no [mmsc] url is configured");
	char key[512];
	snprintf(key, sizeof(key), "event:%s", ev->event_id);
	pb_store_msg *old = NULL;
	if (pb_store_msg_find(sc->st, PB_STORE_OUTBOUND, key, &old) == 0) {
		pb_store_msg_free(old); /* the same event again: journaled already, no second download */
		return 0;
	}
	if (!url || strncmp(url, "mxc://", 6) != 0)
		return queue_failed(sc, ev, peer, shown, "encrypted media cannot be sent as MMS");
	snprintf(err, sizeof(err), "the file is larger than an MMS may carry here (%zu KB, [mmsc] max_size)",
		 cfg->mmsc_max_size / 1024);
	if (size > 0 && (uint64_t)size > cfg->mmsc_max_size)
		return queue_failed(sc, ev, peer, shown, err);
	pb_buf data = PB_BUF_INIT;
	char *ct = NULL;
	int rc;
	if (file) {
		char *fj = json_dumps(file, JSON_COMPACT);
		rc = fj ? pb_matrix_download_encrypted(sc->mx, fj, &data, cfg->mmsc_max_size) : PB_ENOMEM;
		free(fj);
	} else {
		rc = pb_matrix_download(sc->mx, url, &data, &ct, cfg->mmsc_max_size);
	}
	if (rc == PB_ETOOBIG || (rc == 0 && data.len > cfg->mmsc_max_size)) {
		rc = queue_failed(sc, ev, peer, shown, err);
	} else if (rc < 0 && (transient(rc) || rc == PB_EAGAIN)) {
		pbb_log(PB_LOG_WARNING, "matrix: download %s: %s (will retry)", url, last_error());
	} else if (rc < 0) {
		snprintf(err, sizeof(err), "the file could not be fetched from the homeserver: %.180s", last_error());
		rc = queue_failed(sc, ev, peer, shown, err);
	} else {
		const char *type = mime && mime[0] ? mime : ct && ct[0] ? ct : pb_mms_guess_content_type(name);
		pbb_outbound_mms m = { peer, ev->room_id, ev->event_id, shown, caption, data.data, data.len,
				       type, name[0] ? name : NULL, ev->origin_server_ts };
		int64_t id = 0;
		rc = pbb_outbound_mms_journal(sc->st, &m, &id);
		if (rc == 0) {
			pbb_log(PB_LOG_INFO, "out #%lld: %s (%zu bytes) to %s queued as MMS", (long long)id,
				ev->msgtype, data.len, peer);
			ring(sc->b);
			pbd_metric_add("pb_bridge_messages_total", 1, "direction", "out", "kind", "mms", "outcome",
				       "received", NULL);
		}
		rc = rc == PB_EEXISTS ? 0 : rc;
	}
	pb_free(ct);
	pb_buf_dispose(&data);
	return rc;
}

/* The owner's message in a group room: one MMS to every participant (SMS
 * cannot do groups). */
static int outbound_group(sync_ctx *sc, const pb_matrix_event *ev, const pb_store_group *g)
{
	pbb_numbers ns = { NULL, 0 };
	pb_buf key = PB_BUF_INIT;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < g->count; i++)
		rc = pbb_numbers_add(&ns, g->numbers[i]);
	if (rc == 0)
		rc = pbb_room_key(&ns, &key);
	pbb_numbers_free(&ns);
	if (rc < 0)
		return rc;
	const char *peer = pb_buf_cstr(&key);
	if (is_media(ev->msgtype)) {
		rc = outbound_media(sc, ev, peer);
	} else if (strcmp(ev->msgtype, "m.text") != 0 && strcmp(ev->msgtype, "m.emote") != 0) {
		rc = queue_failed(sc, ev, peer, ev->body ? ev->body : ev->msgtype,
				  "only text, pictures, video, audio and files can be sent");
	} else if (!sc->b->cfg->mmsc_url) {
		rc = queue_failed(sc, ev, peer, ev->body ? ev->body : "",
				  "a group conversation needs MMS: no [mmsc] url is configured");
	} else {
		pbb_outbound_mms m = { peer, ev->room_id, ev->event_id, ev->body ? ev->body : "", NULL, NULL, 0,
				       NULL, NULL, ev->origin_server_ts };
		int64_t id = 0;
		rc = pbb_outbound_mms_journal(sc->st, &m, &id);
		if (rc == 0) {
			pbb_log(PB_LOG_INFO, "out #%lld: text to the group %s queued as MMS", (long long)id, peer);
			ring(sc->b);
			pbd_metric_add("pb_bridge_messages_total", 1, "direction", "out", "kind", "mms", "outcome",
				       "received", NULL);
		}
		rc = rc == PB_EEXISTS ? 0 : rc;
	}
	pb_buf_dispose(&key);
	return rc;
}

/* A file in the control room: a contacts file when it is announced (the
 * caption, a reply to the command, or the owner's "!contacts import" less
 * than 10 minutes before); idempotent when the event comes again. */
static int contacts_file(sync_ctx *sc, const pb_matrix_event *ev)
{
	pbb_import_file f;
	if (!pbb_import_inspect(ev, &f))
		return 0;
	char *wait = NULL;
	bool announced = f.caption;
	if (!announced && pb_store_kv_get(sc->st, "bridge.import.wait", &wait) == 0) {
		char *t1 = strchr(wait, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (t2) {
			*t1 = *t2 = '\0';
			long long at = strtoll(t2 + 1, NULL, 10);
			announced = (f.reply_to && !strcmp(f.reply_to, t1 + 1)) ||
				    (!strcmp(wait, ev->sender) && ev->origin_server_ts >= at &&
				     ev->origin_server_ts - at <= 10 * 60 * 1000);
		}
	}
	pb_free(wait);
	if (!announced)
		return f.looks_like_contacts
			       ? reply(sc, ev, "To import this file as contacts, send !contacts import first "
					       "(or give the file the caption \"!contacts import\").")
			       : 0;
	pb_buf out = PB_BUF_INIT;
	int rc = pbb_import_run(sc->b->cfg, sc->st, sc->mx, &f, &out);
	if (rc == 0)
		rc = reply(sc, ev, pb_buf_cstr(&out));
	if (rc == 0)
		rc = pb_store_kv_delete(sc->st, "bridge.import.wait");
	else
		pbb_log(PB_LOG_WARNING, "contacts: %s (will retry)", last_error());
	pb_buf_dispose(&out);
	return rc;
}

/* Is @p room one of the bridge's (a contact's, a group's, the control room)? */
static bool bridge_room(pb_store *st, const char *room)
{
	pb_store_contact *c = NULL;
	pb_store_group *g = NULL;
	char *control = NULL;
	bool mine = pb_store_contact_by_room(st, room, &c) == 0 || pb_store_group_by_room(st, room, &g) == 0 ||
		    (pb_store_kv_get(st, "bridge.control_room", &control) == 0 && !strcmp(control, room));
	pb_store_contact_free(c);
	pb_store_group_free(g);
	pb_free(control);
	return mine;
}

/* An owner's m.room.encrypted event in a bridge room. The bridge has no
 * end-to-end encryption yet, so it cannot read it: nothing is sent, and
 * rather than drop it without a word the owner is told so in the room,
 * once per event (the transaction id is derived from it), and it is
 * logged. The one place to replace when encryption comes. */
static int on_encrypted(sync_ctx *sc, const pb_matrix_event *ev)
{
	if (!bridge_room(sc->st, ev->room_id))
		return 0;
	pbb_log(PB_LOG_WARNING, "encrypted message %s from %s in %s: this bridge cannot read encrypted "
		"messages; nothing was sent", ev->event_id, ev->sender, ev->room_id);
	char txn[64];
	snprintf(txn, sizeof(txn), "pbenc%016llx.%s", event_hash(ev->event_id), sc->b->store_id);
	int rc = pb_matrix_send_message(sc->mx, ev->room_id, txn, "m.notice",
					"This bridge cannot read encrypted messages; nothing was sent. "
					"Write in a room without encryption.", NULL, NULL);
	if (rc < 0)
		pbb_log(PB_LOG_WARNING, "matrix: encrypted-message notice: %s (will retry)", last_error());
	return rc == PB_ECANCELLED ? rc : (rc < 0 && rc != PB_EPROTO ? rc : 0);
}

/* --- encrypted events the bridge could not read yet -------------------------------- */

#define E2EE_PENDING "bridge.e2ee.pending"

static int on_event(const pb_matrix_event *ev, void *ud);

/* An m.room.encrypted event without its room key (the library has asked the
 * sender's devices for it): kept in the store until the key comes or the
 * wait ends in a notice (e2ee_retry) — never dropped in silence. */
static int e2ee_undecryptable(sync_ctx *sc, const pb_matrix_event *ev)
{
	const pbb_config *cfg = sc->b->cfg;
	if (cfg->encryption == PBB_E2EE_OFF || !ev->event_id || !pbb_config_is_owner(cfg, ev->sender))
		return 0;
	char *old = NULL;
	json_t *all = pb_store_kv_get(sc->st, E2EE_PENDING, &old) == 0 ? json_loads(old, 0, NULL) : json_object();
	pb_free(old);
	if (!json_is_object(all)) {
		json_decref(all);
		all = json_object();
	}
	json_object_set_new(all, ev->event_id, json_pack("{s:s, s:I, s:O}", "room", ev->room_id, "seen",
							 (json_int_t)time(NULL) * 1000, "event", ev->json));
	char *text = json_dumps(all, JSON_COMPACT);
	int rc = text ? pb_store_kv_set(sc->st, E2EE_PENDING, text) : PB_ENOMEM;
	free(text);
	json_decref(all);
	if (rc == 0)
		pbb_log(PB_LOG_WARNING, "matrix: %s in %s cannot be decrypted yet: waiting for its room key",
			ev->event_id, ev->room_id);
	return rc;
}

/* After each sync: the waiting events whose key came are handled; those
 * waited for longer than [matrix] undecryptable_timeout_ms get a notice. */
static void e2ee_retry(sync_ctx *sc)
{
	pbb *b = sc->b;
	char *old = NULL;
	if (!b->crypto || pb_store_kv_get(sc->st, E2EE_PENDING, &old) < 0)
		return;
	json_t *all = json_loads(old, 0, NULL);
	pb_free(old);
	const char *eid;
	json_t *p, *tmp;
	bool changed = false;
	json_object_foreach_safe(all, tmp, eid, p) {
		const char *room = json_string_value(json_object_get(p, "room"));
		char *ej = json_dumps(json_object_get(p, "event"), JSON_COMPACT), *pj = NULL;
		int rc = room && ej ? pb_matrix_crypto_decrypt(b->crypto, room, ej, &pj) : PB_EMALFORMED;
		free(ej);
		json_t *e = pj ? json_loads(pj, 0, NULL) : NULL;
		pb_free(pj);
		if (rc == 0 && e) {
			const json_t *ct = json_object_get(e, "content");
			pb_matrix_event ev = { .section = PB_MATRIX_TIMELINE, .room_id = room, .event_id = eid,
					       .type = json_string_value(json_object_get(e, "type")),
					       .sender = json_string_value(json_object_get(e, "sender")),
					       .origin_server_ts = json_integer_value(json_object_get(e, "origin_server_ts")),
					       .msgtype = json_string_value(json_object_get(ct, "msgtype")),
					       .body = json_string_value(json_object_get(ct, "body")),
					       .content = ct, .json = e, .decrypted = true };
			pbb_log(PB_LOG_NOTICE, "matrix: %s decrypted now that its room key came", eid);
			rc = ev.type && json_is_object(ct) ? on_event(&ev, sc) : 0;
		} else if (rc == PB_ENOTFOUND &&
			   time(NULL) * 1000 - json_integer_value(json_object_get(p, "seen")) < b->cfg->undecryptable_ms) {
			json_decref(e);
			continue; /* still waiting */
		} else {
			pb_matrix_event ev = { .room_id = room, .event_id = eid };
			char text[512];
			const char *why = rc == PB_ENOTFOUND ? "its room key never reached the bridge's device"
							     : pb_error_last()->message;
			snprintf(text, sizeof(text), "\u26a0 The bridge could not decrypt a message of yours (%s): "
				 "%s. It was NOT sent. Please send it again.", eid, why);
			pbb_log(PB_LOG_WARNING, "matrix: %s stays unreadable (%s): notice sent", eid, why);
			rc = room ? reply(sc, &ev, text) : 0;
		}
		json_decref(e);
		if (rc == 0) {
			json_object_del(all, eid);
			changed = true;
		}
	}
	char *text = changed ? json_dumps(all, JSON_COMPACT) : NULL;
	if (text && pb_store_kv_set(sc->st, E2EE_PENDING, text) < 0)
		pbb_log(PB_LOG_ERROR, "journal: %s", last_error());
	free(text);
	json_decref(all);
}

static int on_event(const pb_matrix_event *ev, void *ud)
{
	sync_ctx *sc = ud;
	pbb *b = sc->b;
	if (!sc->initial && ev->section == PB_MATRIX_TIMELINE && ev->event_id &&
	    !strcmp(ev->type, "m.room.encrypted") && pbb_config_is_owner(b->cfg, ev->sender))
		return sc->b->cfg->encryption == PBB_E2EE_OFF ? on_encrypted(sc, ev) : e2ee_undecryptable(sc, ev);
	if (sc->initial || ev->section != PB_MATRIX_TIMELINE || strcmp(ev->type, "m.room.message") != 0 ||
	    !ev->event_id || !ev->msgtype)
		return 0;
	const char *me = pb_matrix_user_id(sc->mx);
	if (ev->sender && me && !strcmp(ev->sender, me))
		return 0;
	e2ee_test_crash(ev);
	char num[PB_PHONE_MAX];
	if (b->cfg->mode == PBB_MODE_APPSERVICE && ev->sender &&
	    pbb_puppet_number(b->cfg, pbb_as_server(b->cfg, me), ev->sender, num, sizeof(num)) == 0)
		return 0; /* a contact's puppet: the bridge's own words, seen again */
	if (!pbb_config_is_owner(b->cfg, ev->sender)) {
		pbb_log(PB_LOG_NOTICE, "ignored %s from %s in %s: not an owner", ev->event_id,
			ev->sender ? ev->sender : "?", ev->room_id);
		return 0;
	}
	if (b->cfg->encryption == PBB_E2EE_REQUIRE && !ev->decrypted) {
		pbb_log(PB_LOG_NOTICE, "refused %s in %s: not encrypted (encryption = require)", ev->event_id,
			ev->room_id);
		reply(sc, ev, "\u26a0 This bridge only sends encrypted messages (encryption = require): "
		      "this one was NOT sent. Turn on encryption in the room's settings.");
		return 0;
	}
	pb_store_contact *c = NULL;
	int rc = pb_store_contact_by_room(sc->st, ev->room_id, &c);
	if (rc == PB_ENOTFOUND) {
		pb_store_group *g = NULL;
		int gr = pb_store_group_by_room(sc->st, ev->room_id, &g);
		if (gr == 0)
			gr = is_resend(ev) ? resend_reply(sc, ev) : outbound_group(sc, ev, g);
		pb_store_group_free(g);
		if (gr != PB_ENOTFOUND) {
			if (gr < 0)
				pbb_log(PB_LOG_ERROR, "journal: %s", last_error());
			return gr;
		}
		char *control = NULL;
		if (pb_store_kv_get(sc->st, "bridge.control_room", &control) == 0 &&
		    !strcmp(control, ev->room_id) && ev->body) {
			pb_free(control);
			int r = !strcmp(ev->msgtype, "m.text") ? command(sc, ev) : contacts_file(sc, ev);
			return r == PB_ECANCELLED ? r : (r < 0 && r != PB_EPROTO ? r : 0);
		}
		pb_free(control);
		return 0;
	}
	if (rc < 0)
		return rc; /* the sync is repeated: at-least-once, the journal dedups */
	if (is_resend(ev)) {
		/* a command to the bridge, never an SMS */
		pb_store_contact_free(c);
		rc = resend_reply(sc, ev);
		return rc == PB_ECANCELLED ? rc : (rc < 0 && rc != PB_EPROTO ? rc : 0);
	}
	bool text = !strcmp(ev->msgtype, "m.text") || !strcmp(ev->msgtype, "m.emote");
	if (!text) {
		rc = is_media(ev->msgtype) ? outbound_media(sc, ev, c->number)
					   : queue_failed(sc, ev, c->number, ev->body ? ev->body : ev->msgtype,
							  "only text, pictures, video, audio and files can be sent");
		pb_store_contact_free(c);
		if (rc < 0 && rc != PB_ECANCELLED)
			pbb_log(PB_LOG_WARNING, "out: %s: %s", ev->event_id, last_error());
		return rc;
	}
	pb_store_msg_in in = PB_STORE_MSG_IN_INIT;
	in.dir = PB_STORE_OUTBOUND;
	in.state = PB_STORE_QUEUED;
	in.backend = "matrix";
	in.peer = c->number;
	in.room = ev->room_id;
	in.event_id = ev->event_id;
	in.body = ev->body ? ev->body : "";
	in.sent_at = ev->origin_server_ts;
	int64_t id = 0;
	if ((rc = pb_store_begin(sc->st)) == 0) {
		rc = pbb_journal_insert(sc->st, &in, "text", &id);
		if (rc == 0)
			rc = pb_store_commit(sc->st);
		else
			pb_store_rollback(sc->st);
	}
	if (rc == 0) {
		pbb_log(PB_LOG_INFO, "out #%lld: %s to %s queued", (long long)id, ev->msgtype, c->number);
		pbd_metric_add("pb_bridge_messages_total", 1, "direction", "out", "kind", "text", "outcome", "received",
			       NULL);
	}
	pb_store_contact_free(c);
	if (rc == PB_EEXISTS)
		return 0;
	if (rc < 0) {
		pbb_log(PB_LOG_ERROR, "journal: %s", last_error());
		return rc;
	}
	ring(b);
	return 0;
}

static int on_invite(const char *room_id, const char *inviter, void *ud)
{
	sync_ctx *sc = ud;
	const pbb_config *cfg = sc->b->cfg;
	char num[PB_PHONE_MAX];
	if (cfg->mode == PBB_MODE_APPSERVICE && inviter && pb_matrix_user_id(sc->mx) &&
	    pbb_puppet_number(cfg, pbb_as_server(cfg, pb_matrix_user_id(sc->mx)), inviter, num, sizeof(num)) == 0) {
		/* a puppet making its contact's room invites the bot: the bot joins
		 * it there (rooms.c), or the room scan after a crash */
		pbb_log(PB_LOG_DEBUG, "invite to %s from %s: a room its puppet makes", room_id, inviter);
		return 0;
	}
	if (!pbb_config_is_owner(cfg, inviter)) {
		pbb_log(PB_LOG_NOTICE, "ignored an invite to %s from %s: not an owner", room_id,
			inviter ? inviter : "?");
		return 0;
	}
	if (pb_matrix_join(sc->mx, room_id, NULL) < 0)
		pbb_log(PB_LOG_WARNING, "matrix: join %s: %s", room_id, last_error());
	return 0;
}

static int on_next_batch(const char *next_batch, void *ud)
{
	sync_ctx *sc = ud;
	int rc = pb_store_kv_set(sc->st, "matrix.next_batch", next_batch);
	if (rc < 0) {
		if (disk_full_error(rc))
			disk_full_begin(sc->b); /* logged there, once; sync_main backs off */
		else
			pbb_log(PB_LOG_ERROR, "journal: %s", last_error());
		return -1;
	}
	char *s = pb_strdup(next_batch);
	if (!s)
		return -1;
	pb_free(sc->since);
	sc->since = s;
	return 0;
}

/* appservice: the transactions the listener journaled, in order, through
 * the same handlers as /sync (appservice.c); each is removed after its
 * events were handled, so a crash repeats it, never loses it */
static void as_loop(sync_ctx *sc)
{
	pbb *b = sc->b;
	pthread_mutex_lock(&b->mu);
	unsigned long seen = b->doorbell;
	pthread_mutex_unlock(&b->mu);
	pb_matrix_sync_callbacks cb = { on_event, on_invite, NULL, NULL, sc };
	long backoff = 0;
	while (!stopping(b)) {
		pbd_stage_beat();
		int64_t seq = 0;
		char *json = NULL;
		int rc = pbb_as_queue_next(sc->st, &seq, &json);
		if (rc == PB_ENOTFOUND) {
			wait_work(b, &seen, 5000);
			continue;
		}
		if (rc == 0)
			rc = pb_matrix_sync_parse((const uint8_t *)json, strlen(json), &cb, NULL, NULL);
		pb_free(json);
		if (rc == PB_EMALFORMED) /* journaled by us after a check: cannot be, but never stuck */
			pbb_log(PB_LOG_ERROR, "appservice: transaction %lld unreadable: dropped", (long long)seq);
		if (rc == 0 || rc == PB_EMALFORMED)
			rc = pbb_as_queue_done(sc->st, seq);
		if (rc == 0) {
			backoff = 0;
			continue;
		}
		if (rc == PB_ECANCELLED || stopping(b))
			break;
		pbb_log(PB_LOG_WARNING, "appservice: transaction %lld: %s (retrying)", (long long)seq, last_error());
		backoff = matrix_backoff(b, backoff, 500);
		nap(b, backoff);
	}
}

static void *sync_main(void *arg)
{
	pbb *b = arg;
	sync_ctx sc = { b, NULL, NULL, false, NULL, NULL };
	if (!matrix_thread_open(b, &sc.st, &sc.mx))
		return NULL;
	pthread_mutex_lock(&b->mu);
	b->mx_sync = sc.mx;
	pthread_mutex_unlock(&b->mu);
	if (stopping(b))
		pb_matrix_cancel(sc.mx);
	/* The owner's messages are matched to rooms through the store: wait
	 * until the rooms a crash or a new journal left unknown are found again
	 * by the delivery thread's first scan, or they would be taken for
	 * rooms of no contact and ignored. */
	pthread_mutex_lock(&b->mu);
	while (!b->scanned && !stopping(b))
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	stall_hook(b, "sync");
	if (b->cfg->mode == PBB_MODE_APPSERVICE)
		as_loop(&sc); /* no /sync: the homeserver pushes */
	else if (pb_store_kv_get(sc.st, "matrix.next_batch", &sc.since) < 0)
		sc.since = NULL;
	sc.initial = sc.since == NULL;
	pb_matrix_sync_callbacks cb = { on_event, on_invite, NULL, on_next_batch, &sc };
	long backoff = 0, disk_backoff = 0;
	while (b->cfg->mode != PBB_MODE_APPSERVICE && !stopping(b)) {
		pb_matrix_sync_options o = PB_MATRIX_SYNC_OPTIONS_INIT;
		o.since = sc.since;
		o.timeout_ms = b->cfg->sync_timeout_ms;
		char first[192], nonce[PB_MATRIX_TXN_ID_SIZE];
		if (sc.initial && pb_matrix_txn_id(nonce, sizeof(nonce)) == 0) {
			/* The first sync of a new journal only learns where "now" is.
			 * Synapse answers an identical request from a cache for 2
			 * minutes: an earlier journal's first sync with this token
			 * would give its older position, and the owner's events since
			 * then would look new. A nonce (an excluded state type nobody
			 * sends) makes the request this journal's own. */
			snprintf(first, sizeof(first),
				 "{\"room\":{\"timeline\":{\"limit\":1},"
				 "\"state\":{\"not_types\":[\"org.phonebridge.first.%s\"]}}}", nonce);
			o.filter = first;
		}
		pbd_stage_beat();
		int rc = pb_matrix_sync(sc.mx, &o, &cb, NULL);
		pbd_stage_beat();
		if (rc == PB_ECANCELLED || stopping(b))
			break;
		atomic_store(&b->hs_ok, rc == 0);
		if (rc != 0 && atomic_load(&b->disk_full)) {
			/* nothing can be journaled: the events come again later (the
			 * sync token is saved after them); quiet, with the disk's back-off */
			disk_backoff = disk_backoff ? (disk_backoff < 30000 ? disk_backoff * 2 : 60000) : 2000;
			nap(b, disk_backoff);
			continue;
		}
		disk_backoff = 0;
		if (rc != 0) {
			if (rc == PB_EAUTH)
				pbb_log(PB_LOG_ERROR, "matrix: sync: %s", last_error());
			else
				pbb_log(PB_LOG_WARNING, "matrix: sync: %s (retrying)", last_error());
			pbd_metric_add("pb_bridge_retries_total", 1, "stage", "sync", NULL);
			backoff = matrix_backoff(b, backoff, 500);
			nap(b, backoff);
			continue;
		}
		backoff = 0;
		sc.initial = false;
		e2ee_retry(&sc);
	}
	pthread_mutex_lock(&b->mu);
	b->mx_sync = NULL;
	pthread_mutex_unlock(&b->mu);
	pb_free(sc.since);
	pb_matrix_free(sc.mx);
	pb_store_close(sc.cluster);
	pb_store_close(sc.st);
	return NULL;
}

/* --- MMS thread: outbound picture messages through the MMSC ---------------------- */

/* Send every queued MMS row, oldest first (pbb_mms_send_row, mms-out.c). */
static void send_mms_rows(pbb *b, pb_store *st, pb_mmsc *mmsc)
{
	int64_t after = 0;
	bool changed = false, more = true;
	while (more && !stopping(b)) {
		pb_store_msg_list *l = NULL;
		if (pb_store_msg_list_state(st, PB_STORE_OUTBOUND, PB_STORE_QUEUED, after, 64, &l) < 0) {
			pbb_log(PB_LOG_ERROR, "journal: %s", last_error());
			break;
		}
		more = l->count == 64;
		for (size_t i = 0; i < l->count && !stopping(b); i++) {
			const pb_store_msg *r = l->items[i];
			after = r->id;
			int mms = pbb_is_mms_row(st, r);
			if (mms < 0) {
				pbb_log(PB_LOG_ERROR, "journal: out #%lld: %s", (long long)r->id, last_error());
				more = false;
				break;
			}
			if (!mms)
				continue;
			int sent = pbb_mms_send_row(st, mmsc, r);
			if (sent < 0) {
				more = false;
				break;
			}
			pbd_metric_add("pb_bridge_messages_total", 1, "direction", "out", "kind", "mms", "outcome",
				       sent == 0 ? "sent" : "failed", NULL);
			changed = true;
		}
		pb_store_msg_list_free(l);
	}
	if (changed)
		ring(b); /* the delivery thread posts the notices of failed rows */
}

static void *mms_main(void *arg)
{
	pbb *b = arg;
	pb_store *st = thread_store(b);
	if (!st)
		return NULL;
	pb_mmsc *mmsc = open_mmsc(b, NULL); /* NULL without [mmsc] url: rows fail with a notice */
	pthread_mutex_lock(&b->mu);
	unsigned long seen = b->doorbell;
	pthread_mutex_unlock(&b->mu);
	while (!stopping(b)) {
		send_mms_rows(b, st, mmsc);
		wait_work(b, &seen, 5000);
	}
	pb_mmsc_free(mmsc);
	pb_store_close(st);
	return NULL;
}

/* --- the daemon ------------------------------------------------------------------ */

int pbb_new(pbb **out, const pbb_config *cfg)
{
	pbb *b = pb_calloc(1, sizeof(*b));
	if (!b)
		return -1;
	b->cfg = cfg;
	pthread_mutex_init(&b->mu, NULL);
	pthread_mutex_init(&b->room_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = b;
	return 0;
}

void pbb_stop(pbb *b)
{
	atomic_store(&b->stopping, 1);
	pthread_mutex_lock(&b->mu);
	if (b->modem)
		pb_modem_stop(b->modem);
	if (b->mx_sync)
		pb_matrix_cancel(b->mx_sync);
	if (b->mx_deliver)
		pb_matrix_cancel(b->mx_deliver);
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* A stage thread: bound to its heartbeat while it runs, off it when it ends. */
typedef struct stage_arg {
	pbb *b;
	void *(*fn)(void *);
	int stage;
} stage_arg;

static void *stage_main(void *arg)
{
	stage_arg *a = arg;
	pbd_stage_enter(a->stage);
	void *r = a->fn(a->b);
	pbd_stage_leave();
	return r;
}

void pbb_health_get(pbb *b, pbb_health *out)
{
	out->running = atomic_load(&b->running) && !atomic_load(&b->failed) && !stopping(b);
	out->modem_ok = atomic_load(&b->modem_ok) != 0;
	out->homeserver_ok = atomic_load(&b->hs_ok) != 0;
	out->disk_full = atomic_load(&b->disk_full) != 0;
}

static void as_wake(void *ud) { bell(ud); }

/* appservice: the Application Service API on the daemon's listener, with a
 * store handle of the listener thread's own (appservice.c) */
static int as_listen(pbb *b, pb_store **st, pbb_as_ctx **x, pb_listener **l, pbb_http **h)
{
	if (!(*st = open_store(b)))
		return -1;
	int rc = pbb_as_ctx_new(x, b->cfg, *st, as_wake, b);
	if (rc == 0)
		rc = pbb_listener_new(b->cfg, l);
	if (rc == 0)
		rc = pbb_as_routes(*l, *x);
	/* one listener: /health, /metrics and the status page join it */
	if (rc == 0)
		rc = pbb_http_attach(h, b->cfg, b, *l);
	if (rc == 0)
		rc = pb_listener_start(*l);
	if (rc < 0) {
		pbb_log(PB_LOG_ERROR, "appservice: %s", last_error());
		pb_listener_free(*l);
		*l = NULL;
		return -1;
	}
	pbb_log(PB_LOG_NOTICE, "appservice: listening on %s (port %u), with /health, /metrics and the status page", pbb_as_listen(b->cfg), pb_listener_port(*l));
	return 0;
}

int pbb_run(pbb *b)
{
	/* start-up recovery before any sender runs: "sending" -> "unknown" */
	pb_store *st = open_store(b);
	if (!st)
		return -1;
	int64_t changed = 0;
	if (pb_store_msg_recover(st, &changed) < 0) {
		pbb_log(PB_LOG_ERROR, "journal: recovery: %s", last_error());
		pb_store_close(st);
		return -1;
	}
	if (changed)
		pbb_log(PB_LOG_WARNING, "%lld outbound message(s) were being sent at the last stop: "
			"reported as uncertain, not resent", (long long)changed);
	int idrc = pbb_store_id(st, b->store_id);
	pb_store_close(st);
	if (idrc < 0) {
		pbb_log(PB_LOG_ERROR, "journal: its identity: %s", last_error());
		return -1;
	}

	pb_store *lst = NULL;
	pb_listener *listener = NULL;
	pbb_as_ctx *asx = NULL;
	pbb_http *ashttp = NULL; /* /health & co. on the same listener */
	if (b->cfg->mode == PBB_MODE_APPSERVICE && as_listen(b, &lst, &asx, &listener, &ashttp) < 0) {
		pbb_http_free(ashttp);
		pbb_as_ctx_free(asx);
		pb_store_close(lst);
		return -1;
	}

	void *(*fn[])(void *) = { modem_main, deliver_main, sync_main, mms_main, fetch_main };
	enum { STAGES = sizeof(fn) / sizeof(fn[0]) };
	/* the heartbeats the watchdog and /health read (stage_main) */
	static const char *const names[STAGES] = { "modem", "delivery", "sync", "mms", "fetch" };
	stage_arg args[STAGES];
	pbd_stages_reset();
	pthread_t t[STAGES];
	size_t started = 0;
	for (; started < STAGES; started++) {
		args[started] = (stage_arg){ b, fn[started], pbd_stage_add(names[started], b->cfg->stall_timeout_ms) };
		if (pthread_create(&t[started], NULL, stage_main, &args[started]) != 0) {
			pbb_log(PB_LOG_ERROR, "cannot start a thread");
			pbb_stop(b);
			break;
		}
	}
	atomic_store(&b->running, started == STAGES);
	pbb_log(PB_LOG_NOTICE, "running");
	if (started == STAGES)
		pbd_notify("READY=1\nSTATUS=running: journal recovered, %zu stages started", started);
	for (size_t i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pb_listener_free(listener); /* stops it: requests in progress finish first */
	pbb_http_free(ashttp);
	pbb_as_ctx_free(asx);
	pb_store_close(lst);
	atomic_store(&b->running, 0);
	return started == STAGES && !atomic_load(&b->failed) ? 0 : -1;
}

void pbb_free(pbb *b)
{
	if (!b)
		return;
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	pthread_mutex_destroy(&b->room_mu);
	pb_matrix_crypto_free(b->crypto);
	pb_store_close(b->crypto_st);
	pb_free(b);
}
