/*
 * pb-bridged — pb-screend's call log in Matrix (docs/bridge.md "Calls in
 * Matrix"): the delivery thread follows the call log in the shared store
 * (no protocol between the daemons) and posts answered and missed calls in
 * the caller's room, screened-out ones live or as a daily digest in the
 * control room; exactly once across crashes (transaction ids from the
 * call's id, then a cursor in kv).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"

#define DIGEST_LINES 40

/* Where the calls come from and where their state goes: the kv keys (in
 * the bridge's own store) and the transaction ids. The bridge's own call
 * log keeps the historic names; a PostgreSQL log ([calls] store) has keys
 * and ids of its own identity, so that its call ids never meet another
 * log's cursor. */
typedef struct source {
	pb_store *log;     /* the call log */
	const char *id;    /* in transaction ids */
	char cursor[64];   /* kv: the last call id handled */
	char day[64];      /* kv: "YYYY-MM-DD" of the last digest */
	char digest[64];   /* kv: the last call id a digest covered */
	char pending[64];  /* kv: "YYYY-MM-DD LAST_ID": a digest being sent */
	const char *kind;  /* of a call's transaction id: "call" or "pgcall" */
	const char *dg;    /* of a digest's: "dg" or "pgdg" */
} source;

static void source_init(source *src, pb_store *log, const char *id, const char *log_id)
{
	char pre[48] = "bridge.calls";
	if (log_id)
		snprintf(pre, sizeof(pre), "bridge.calls.%s", log_id);
	src->log = log;
	src->id = id;
	snprintf(src->cursor, sizeof(src->cursor), "%s.cursor", pre);
	snprintf(src->day, sizeof(src->day), "%s.digest_day", pre);
	snprintf(src->digest, sizeof(src->digest), "%s.digest_id", pre);
	snprintf(src->pending, sizeof(src->pending), "%s.digest_pending", pre);
	src->kind = log_id ? "pgcall" : "call";
	src->dg = log_id ? "pgdg" : "dg";
}

int pbb_call_kind(const pb_store_call *c)
{
	const char *v = c->verdict ? c->verdict : "";
	const char *ch = c->challenge ? c->challenge : "none";
	const char *colon = strrchr(ch, ':');
	if (!strcmp(v, "reject") || (colon && strcmp(colon + 1, "passed") != 0))
		return PBB_CALL_SCREENED;
	if (c->ended && !strcmp(c->ended, "forwarded"))
		return c->duration_ms > 0 ? PBB_CALL_ANSWERED : PBB_CALL_FORWARDED;
	/* "voicemail: nothing said" and the like stay missed calls */
	if (c->ended && !strcmp(c->ended, "voicemail"))
		return PBB_CALL_VOICEMAIL;
	return PBB_CALL_MISSED;
}

/* "3 min", "45 s" */
static void duration_text(int64_t ms, char *out, size_t size)
{
	int64_t s = (ms + 500) / 1000;
	if (s < 60)
		snprintf(out, size, "%" PRId64 " s", s);
	else
		snprintf(out, size, "%" PRId64 " min", (s + 30) / 60);
}

void pbb_call_notice(const pb_store_call *c, char *out, size_t size)
{
	char d[32];
	const char *who = c->caller && *c->caller ? c->caller : "anonymous";
	switch (pbb_call_kind(c)) {
	case PBB_CALL_ANSWERED:
		duration_text(c->duration_ms, d, sizeof(d));
		snprintf(out, size, "\xf0\x9f\x93\x9e Call, %s", d); /* U+1F4DE */
		break;
	case PBB_CALL_FORWARDED:
		snprintf(out, size, "\xf0\x9f\x93\x9e Call, forwarded to %s",
			 c->forward_target ? c->forward_target : "the phone");
		break;
	case PBB_CALL_VOICEMAIL:
		snprintf(out, size, "\xe2\x9c\x86 Missed call from %s, voicemail left", who);
		break;
	case PBB_CALL_MISSED:
		snprintf(out, size, "\xe2\x9c\x86 Missed call from %s%s%s%s", who, /* U+2706 */
			 c->ended && *c->ended ? " (" : "", c->ended ? c->ended : "", c->ended && *c->ended ? ")" : "");
		break;
	default:
		snprintf(out, size, "Screened out: %s, %s%s%s", who, c->verdict ? c->verdict : "?",
			 c->rule && *c->rule ? " by " : "", c->rule ? c->rule : "");
		if (c->challenge && strcmp(c->challenge, "none") != 0) {
			size_t len = strlen(out);
			snprintf(out + len, size - len, ", %s", c->challenge);
		}
		break;
	}
}

static int kv_int(pb_store *st, const char *key, int64_t *v)
{
	char *s = NULL;
	int rc = pb_store_kv_get(st, key, &s);
	if (rc < 0)
		return rc;
	char *end = NULL;
	long long x = strtoll(s, &end, 10);
	rc = *s && !*end && x >= 0 ? 0 : pb_error_set(PB_EMALFORMED, "kv %s: not a call id: %s", key, s);
	pb_free(s);
	if (rc == 0)
		*v = x;
	return rc;
}

static int kv_set_int(pb_store *st, const char *key, int64_t v)
{
	char s[32];
	snprintf(s, sizeof(s), "%" PRId64, v);
	return pb_store_kv_set(st, key, s);
}

/* The room a call's notice goes to: the caller's (created like for an SMS),
 * or the control room for a caller without a number. */
static int call_room(const pbb_config *cfg, pthread_mutex_t *mu, pb_store *st, pb_matrix *mx,
		     const pb_store_call *c, char **room)
{
	char num[PB_PHONE_MAX];
	pb_phone_kind kind = PB_PHONE_SHORT;
	bool number = c->caller && *c->caller &&
		      pb_phone_normalize(num, sizeof(num), c->caller, cfg->region, &kind) == 0 &&
		      kind == PB_PHONE_E164;
	if (!number)
		return pbb_room_ensure(cfg, mu, st, mx, NULL, room);
	pbb_numbers ns = { NULL, 0 };
	int rc = pbb_numbers_add(&ns, num);
	if (rc == 0)
		rc = pbb_room_ensure(cfg, mu, st, mx, &ns, room);
	pbb_numbers_free(&ns);
	return rc;
}

/* One call: its notice where it belongs (or nothing), then the cursor. The
 * transaction id comes from the call's id: a crash between the send and
 * the cursor sends it again, and the homeserver answers with the first event. */
static int follow_one(const pbb_config *cfg, pthread_mutex_t *mu, pb_store *st, pb_matrix *mx,
		      const source *src, const pb_store_call *c)
{
	int kind = pbb_call_kind(c);
	/* a voicemail is posted as its m.audio (voicemail.c), not again as a notice */
	bool post = kind == PBB_CALL_ANSWERED || kind == PBB_CALL_FORWARDED ? cfg->calls_answered
		    : kind == PBB_CALL_MISSED				     ? cfg->calls_missed
		    : kind == PBB_CALL_VOICEMAIL				     ? false
									     : cfg->calls_screened == PBB_SCREENED_LIVE;
	int rc = 0;
	if (post) {
		char *room = NULL, text[512], txn[PB_MATRIX_TXN_ID_SIZE];
		rc = kind == PBB_CALL_SCREENED ? pbb_room_ensure(cfg, mu, st, mx, NULL, &room)
					       : call_room(cfg, mu, st, mx, c, &room);
		if (rc < 0)
			return rc;
		pbb_call_notice(c, text, sizeof(text));
		pbb_txn_id(txn, sizeof(txn), src->id, src->kind, c->id);
		rc = pb_matrix_send_message(mx, room, txn, "m.notice", text, NULL, NULL);
		pb_free(room);
		if (rc < 0)
			return rc;
		pbb_log(PB_LOG_INFO, "call #%lld from %s in Matrix: %s", (long long)c->id,
			c->caller ? c->caller : "anonymous", text);
	}
	return kv_set_int(st, src->cursor, c->id);
}

/* Local date and seconds since midnight of @p now_ms. */
static void local_day(int64_t now_ms, char day[11], int *sec_of_day)
{
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(day, 11, "%Y-%m-%d", &tm);
	*sec_of_day = tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

typedef struct digest {
	pb_buf lines;
	size_t count, shown;
} digest;

static int digest_add(digest *d, const pb_store_call *c)
{
	if (pbb_call_kind(c) != PBB_CALL_SCREENED)
		return 0;
	d->count++;
	if (d->shown >= DIGEST_LINES)
		return 0;
	d->shown++;
	char line[512];
	pbb_call_line(c, line, sizeof(line));
	return pb_buf_printf(&d->lines, "\n%s", line);
}

/* The daily digest of screened-out calls in the control room, once the
 * day's digest time has passed: the calls since the last digest up to the
 * cursor. Its transaction id is the day's, so a crash before the kv update
 * posts it once. */
static int digest_due(const pbb_config *cfg, pthread_mutex_t *mu, pb_store *st, pb_matrix *mx,
		      const source *src, int64_t now_ms)
{
	char day[11], *last = NULL;
	int sec = 0;
	local_day(now_ms, day, &sec);
	if (sec < cfg->calls_digest_at)
		return 0;
	int rc = pb_store_kv_get(st, src->day, &last);
	if (rc < 0 && rc != PB_ENOTFOUND)
		return rc;
	bool done = rc == 0 && !strcmp(last, day);
	pb_free(last);
	if (done)
		return 0;
	int64_t from = 0, to = 0;
	if ((rc = kv_int(st, src->cursor, &to)) < 0)
		return rc == PB_ENOTFOUND ? 0 : rc;
	if ((rc = kv_int(st, src->digest, &from)) < 0 && rc != PB_ENOTFOUND)
		return rc;
	/* a digest sent before a crash, its kv not updated: the same calls and
	 * the same transaction id again, not a second digest with more calls */
	char *pending = NULL, pday[11];
	long long pto = 0;
	if ((rc = pb_store_kv_get(st, src->pending, &pending)) < 0 && rc != PB_ENOTFOUND)
		return rc;
	if (rc == 0 && sscanf(pending, "%10s %lld", pday, &pto) == 2 && !strcmp(pday, day) && pto >= from)
		to = pto;
	pb_free(pending);
	rc = 0;
	digest d = { PB_BUF_INIT, 0, 0 };
	for (int64_t after = from; after < to && rc >= 0;) {
		pb_store_call_list *l = NULL;
		if ((rc = pb_store_call_after(src->log, after, 200, &l)) < 0)
			break;
		if (l->count == 0)
			after = to;
		for (size_t i = 0; i < l->count && rc >= 0; i++) {
			after = l->items[i].id;
			if (after <= to)
				rc = digest_add(&d, &l->items[i]);
			else
				after = to;
		}
		pb_store_call_list_free(l);
	}
	if (rc >= 0 && d.count > 0) {
		pb_buf text = PB_BUF_INIT;
		char *room = NULL, txn[PB_MATRIX_TXN_ID_SIZE], kind[24];
		rc = pb_buf_printf(&text, "%zu call%s screened out since the last digest:%s%s", d.count,
				   d.count == 1 ? "" : "s", d.lines.data ? (const char *)d.lines.data : "",
				   d.count > d.shown ? "\n..." : "");
		char intent[48];
		snprintf(intent, sizeof(intent), "%s %" PRId64, day, to);
		if (rc >= 0)
			rc = pb_store_kv_set(st, src->pending, intent);
		if (rc >= 0)
			rc = pbb_room_ensure(cfg, mu, st, mx, NULL, &room);
		snprintf(kind, sizeof(kind), "%s%.4s%.2s%.2s", src->dg, day, day + 5, day + 8);
		pbb_txn_id(txn, sizeof(txn), src->id, kind, to);
		if (rc >= 0)
			rc = pb_matrix_send_message(mx, room, txn, "m.notice", (const char *)text.data, NULL, NULL);
		if (rc >= 0)
			pbb_log(PB_LOG_INFO, "digest of %zu screened-out call(s) in the control room", d.count);
		pb_free(room);
		pb_buf_dispose(&text);
	}
	pb_buf_dispose(&d.lines);
	if (rc < 0 || d.count == 0)
		return rc; /* an empty digest is not posted: the day's goes with the next screened-out call */
	if ((rc = pb_store_begin(st)) < 0)
		return rc;
	rc = pb_store_kv_set(st, src->day, day);
	if (rc == 0)
		rc = kv_set_int(st, src->digest, to);
	if (rc == 0 && (rc = pb_store_kv_delete(st, src->pending)) == PB_ENOTFOUND)
		rc = 0;
	if (rc < 0) {
		pb_store_rollback(st);
		return rc;
	}
	return pb_store_commit(st);
}

/* The follower over @p src. @return 0, 1 (the log could not be read: the
 * error is pb_error_last()), or a negative code (the homeserver or @p st) */
static int follow(const pbb_config *cfg, pthread_mutex_t *mu, pb_store *st, pb_matrix *mx, const source *src,
		  int64_t now_ms)
{
	int64_t cursor = 0;
	int rc = kv_int(st, src->cursor, &cursor);
	if (rc == PB_ENOTFOUND) {
		/* a new follower: the log so far is history, not news */
		pb_store_call_list *l = NULL;
		if (pb_store_call_recent(src->log, 1, &l) < 0)
			return 1;
		cursor = l->count ? l->items[0].id : 0;
		pb_store_call_list_free(l);
		if ((rc = kv_set_int(st, src->cursor, cursor)) < 0 || (rc = kv_set_int(st, src->digest, cursor)) < 0)
			return rc;
	} else if (rc < 0) {
		return rc;
	}
	for (;;) {
		pb_store_call_list *l = NULL;
		if (pb_store_call_after(src->log, cursor, 50, &l) < 0)
			return 1;
		size_t n = l->count;
		for (size_t i = 0; i < n && rc >= 0; i++) {
			rc = follow_one(cfg, mu, st, mx, src, &l->items[i]);
			cursor = l->items[i].id;
		}
		pb_store_call_list_free(l);
		if (rc < 0)
			return rc;
		if (n < 50)
			break;
	}
	return cfg->calls_screened == PBB_SCREENED_DIGEST ? digest_due(cfg, mu, st, mx, src, now_ms) : 0;
}

int pbb_calls_follow(const pbb_config *cfg, pthread_mutex_t *mu, pb_store *st, pb_matrix *mx,
		     const char *store_id, int64_t now_ms)
{
	if (!cfg->calls_follow)
		return 0;
	source src;
	source_init(&src, st, store_id, NULL);
	int rc = follow(cfg, mu, st, mx, &src, now_ms);
	return rc == 1 ? pb_error_last()->code ? pb_error_last()->code : PB_EIO : rc;
}

void pbb_calls_log_close(pbb_calls_log *log)
{
	pb_store_close(log->st);
	log->st = NULL;
}

int pbb_calls_store_open(const pbb_config *cfg, pb_store **out)
{
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.password_file = cfg->calls_password_file;
	return pb_store_open(out, cfg->calls_store, &o);
}

#define LOG_RETRY_MS 15000

/* A PostgreSQL call log that cannot be opened or read: said once per
 * outage, tried again LOG_RETRY_MS later (an attempt may block the
 * delivery thread for libpq's connect_timeout). */
static void log_down(const pbb_config *cfg, pbb_calls_log *log, const char *what, int64_t now_ms)
{
	if (!log->down)
		pbb_log(PB_LOG_ERROR, "[calls] store %s: %s: %s (calls are posted once it answers again)",
			cfg->calls_store, what, pb_error_last()->message);
	log->down = true;
	log->retry_at_ms = now_ms + LOG_RETRY_MS;
}

int pbb_calls_follow_log(const pbb_config *cfg, pthread_mutex_t *mu, pb_store *st, pbb_calls_log *log,
			 pb_matrix *mx, const char *store_id, int64_t now_ms)
{
	if (!cfg->calls_store)
		return pbb_calls_follow(cfg, mu, st, mx, store_id, now_ms);
	if (!cfg->calls_follow || (log->down && now_ms < log->retry_at_ms))
		return 0;
	if (!log->st) {
		if (pbb_calls_store_open(cfg, &log->st) < 0) {
			log_down(cfg, log, "cannot open it", now_ms);
			return 0;
		}
		/* the log's identity: made once by the first bridge that follows it */
		if (pbb_store_id(log->st, log->id) < 0) {
			log_down(cfg, log, "its identity (kv bridge.store_id)", now_ms);
			pbb_calls_log_close(log);
			return 0;
		}
	}
	source src;
	source_init(&src, log->st, log->id, log->id);
	int rc = follow(cfg, mu, st, mx, &src, now_ms);
	if (rc == 1) {
		log_down(cfg, log, "reading the call log", now_ms);
		return 0;
	}
	if (log->down && rc == 0)
		pbb_log(PB_LOG_NOTICE, "[calls] store %s: the call log answers again", cfg->calls_store);
	if (rc == 0)
		log->down = false;
	return rc;
}
