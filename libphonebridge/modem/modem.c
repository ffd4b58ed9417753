/*
 * libphonebridge — modem front end: backend registry, credential files,
 * message records, and the watch loop every backend shares.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "modem-internal.h"
#include "sms/sms-private.h"

#define DOMAIN "modem"
#define MAX_USER_BACKENDS 16
#define DEFAULT_POLL_MS 5000
/* An incomplete multipart entry is reported as it is after this long. */
#define INCOMPLETE_GIVE_UP_MS (10 * 60 * 1000)
/* The key of a box's own incomplete entry in the reassembly store. */
#define ENTRY_PORT (-2)
/* More incomplete groups than this (a flood of stray parts): the oldest is
 * reported at once, so that memory stays bounded. */
#define MAX_GROUPS 256
#define WAIT_SLICE_MS 250
#define BACKOFF_MAX_MS 30000
#define FULL_LIST_EVERY 12

/* The parts of one concatenated message (or WAP push) held by the watch:
 * the box's id of each part, by sequence number. */
typedef struct watch_group {
	pb_sms_group_key key;
	char *ids[256];
	uint64_t keys[256]; /* msg_key() of each part listed, 0: none */
} watch_group;

/* A box's own incomplete entry (HiLink SmsType 2, an SMSEagle group with a
 * row missing) and when it was first seen (ms since the epoch). */
typedef struct watch_pending {
	char *id;
	char *number;
	int64_t since;
} watch_pending;

/* What pb_modem_watch() remembers from one call to the next. */
typedef struct watch_state {
	int timeout_ms;
	pb_sms_reassembly_store_ops ops; /* ours: the user's, with box entries sorted out on load */
	const pb_sms_reassembly_store_ops *store;
	void *store_ud;
	pb_sms_reassembler *reasm;
	watch_group **groups;
	size_t ngroups, capgroups;
	watch_pending *pending;
	size_t npending, cappending;
	bool listed; /* a listing succeeded: the ids of the parts are known */
} watch_state;

struct pb_modem {
	const pb_modem_backend_ops *ops;
	void *state;
	int poll_ms;
	atomic_int stop;
	watch_state ws;
};

static void watch_state_dispose(watch_state *ws);

static const pb_modem_backend_ops *const builtin_backends[] = {
	&pb_modem__hilink_ops,
	&pb_modem__at_ops,
	&pb_modem__smseagle_ops,
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static const pb_modem_backend_ops *user_backends[MAX_USER_BACKENDS];
static size_t user_backend_count;

/* Room for one more element in a growable array (doubling). */
static int grow(void *items, size_t *cap, size_t count, size_t size, size_t first)
{
	if (count < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : first;
	void *n = pb_realloc(*(void **)items, ncap * size);
	if (!n)
		return PB_ENOMEM;
	*(void **)items = n;
	*cap = ncap;
	return 0;
}

static const pb_modem_backend_ops *find_backend(const char *name)
{
	for (size_t i = 0; i < PB_ARRAY_SIZE(builtin_backends); i++)
		if (strcmp(builtin_backends[i]->name, name) == 0)
			return builtin_backends[i];
	const pb_modem_backend_ops *found = NULL;
	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < user_backend_count && !found; i++)
		if (strcmp(user_backends[i]->name, name) == 0)
			found = user_backends[i];
	pthread_mutex_unlock(&registry_lock);
	return found;
}

PB_API int pb_modem_backend_register(const pb_modem_backend_ops *ops)
{
	if (!ops)
		return pb_error_set(PB_EINVAL, "modem backend: NULL ops");
	int vrc = PB_CHECK_VERSION(ops, PB_MODEM_BACKEND_OPS, 1);
	if (vrc < 0)
		return vrc;
	if (!ops->name || !ops->name[0] || !ops->open || !ops->close || !ops->list)
		return pb_error_set(PB_EINVAL, "modem backend: needs a name, open, close and list");
	if (find_backend(ops->name))
		return pb_error_set(PB_EEXISTS, "modem backend \"%s\" is already registered", ops->name);
	int rc = 0;
	pthread_mutex_lock(&registry_lock);
	if (user_backend_count >= MAX_USER_BACKENDS)
		rc = pb_error_set(PB_ETOOBIG, "modem backend: at most %d can be registered", MAX_USER_BACKENDS);
	else
		user_backends[user_backend_count++] = ops;
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

int64_t pb_modem__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

PB_API int pb_modem_open(pb_modem **out, const char *backend, const pb_modem_options *opts)
{
	if (!out || !backend)
		return pb_error_set(PB_EINVAL, "pb_modem_open: out and backend are required");
	*out = NULL;
	pb_modem_options def = PB_MODEM_OPTIONS_INIT;
	if (!opts)
		opts = &def;
	int vrc = PB_CHECK_VERSION(opts, PB_MODEM_OPTIONS, 1);
	if (vrc < 0)
		return vrc;
	/* backends see the whole current struct: of a version 1 caller's, only
	 * the members it had are read, the rest keep their defaults */
	pb_modem_options full = PB_MODEM_OPTIONS_INIT;
	memcpy(&full, opts, opts->version == 1 ? offsetof(pb_modem_options, send_timeout_ms) : sizeof(full));
	full.version = PB_MODEM_OPTIONS_VERSION;
	opts = &full;
	if ((vrc = PB_CHECK_MS(opts, pb_modem_options, timeout_ms)) < 0 ||
	    (vrc = PB_CHECK_MS(opts, pb_modem_options, poll_interval_ms)) < 0 ||
	    (vrc = PB_CHECK_MS(opts, pb_modem_options, send_timeout_ms)) < 0)
		return vrc;
	const pb_modem_backend_ops *ops = find_backend(backend);
	if (!ops)
		return pb_error_set(PB_ENOTFOUND, "no modem backend named \"%s\" (hilink, at, smseagle)", backend);
	if (!ops->open || !ops->close || !ops->list)
		return pb_error_set(PB_EUNSUPPORTED, "modem backend \"%s\" is not built", backend);

	char *password = NULL, *token = NULL;
	int rc = 0;
	if (opts->password_file && (rc = pb_secret_read(opts->password_file, &password)) < 0)
		return rc;
	if (opts->token_file && (rc = pb_secret_read(opts->token_file, &token)) < 0) {
		pb_secret_free(password);
		return rc;
	}
	pb_modem *m = pb_calloc(1, sizeof(*m));
	if (!m) {
		rc = PB_ENOMEM;
		goto out;
	}
	m->ops = ops;
	m->poll_ms = opts->poll_interval_ms ? (int)opts->poll_interval_ms : DEFAULT_POLL_MS;
	m->ws.timeout_ms = INCOMPLETE_GIVE_UP_MS;
	atomic_init(&m->stop, 0);
	pb_modem_secrets sec = { password, token };
	rc = ops->open(&m->state, opts, &sec);
	if (rc < 0) {
		pb_free(m);
		goto out;
	}
	*out = m;
out:
	pb_secret_free(password);
	pb_secret_free(token);
	return rc;
}

PB_API void pb_modem_close(pb_modem *m)
{
	if (!m)
		return;
	m->ops->close(m->state);
	watch_state_dispose(&m->ws);
	pb_free(m);
}

PB_API const char *pb_modem_backend_name(const pb_modem *m)
{
	return m ? m->ops->name : "";
}

static int unsupported(const pb_modem *m, const char *what)
{
	return pb_error_set(PB_EUNSUPPORTED, "%s: the %s backend cannot do this", what, m->ops->name);
}

/* --- status ---------------------------------------------------------------- */

PB_API int pb_modem_status_get(pb_modem *m, pb_modem_status *st)
{
	if (!m || !st)
		return pb_error_set(PB_EINVAL, "pb_modem_status_get: NULL argument");
	memset(st, 0, sizeof(*st));
	st->registration = PB_MODEM_REG_UNKNOWN;
	st->signal_dbm = PB_MODEM_SIGNAL_UNKNOWN;
	st->signal_percent = -1;
	st->sim = PB_MODEM_SIM_UNKNOWN;
	if (!m->ops->status)
		return unsupported(m, "status");
	return m->ops->status(m->state, st);
}

PB_API const char *pb_modem_reg_name(int reg)
{
	static const char *const names[] = { "not-registered", "home", "searching", "denied", "unknown", "roaming" };
	return reg >= 0 && (size_t)reg < PB_ARRAY_SIZE(names) ? names[reg] : "unknown";
}

PB_API const char *pb_modem_sim_name(int sim)
{
	static const char *const names[] = { "unknown", "ready", "pin", "puk", "absent", "error" };
	return sim >= 0 && (size_t)sim < PB_ARRAY_SIZE(names) ? names[sim] : "unknown";
}

/* --- message records ------------------------------------------------------- */

PB_API const char *pb_modem_msg_type_name(int type)
{
	static const char *const names[] = { "text", "mms", "report", "incomplete", "unknown", "garbled", "pdu" };
	return type >= 0 && (size_t)type < PB_ARRAY_SIZE(names) ? names[type] : "unknown";
}

PB_API const char *pb_modem_msg_state_name(int state)
{
	static const char *const names[] = { "unread", "read", "sent", "unsent", "unknown" };
	return state >= 0 && (size_t)state < PB_ARRAY_SIZE(names) ? names[state] : "unknown";
}

PB_API void pb_modem_msg_dispose(pb_modem_msg *msg)
{
	if (!msg)
		return;
	pb_free(msg->id);
	pb_free(msg->number);
	pb_free(msg->text);
	pb_free(msg->time);
	pb_free(msg->raw);
	pb_free(msg->content_location);
	pb_free(msg->error);
	memset(msg, 0, sizeof(*msg));
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = pb_strdup(src);
	return *dst ? 0 : PB_ENOMEM;
}

PB_API int pb_modem_msg_copy(pb_modem_msg *dst, const pb_modem_msg *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->type = src->type;
	dst->state = src->state;
	dst->box_type = src->box_type;
	dst->raw_format = src->raw_format;
	if (dup_str(&dst->id, src->id) < 0 || dup_str(&dst->number, src->number) < 0 ||
	    dup_str(&dst->text, src->text) < 0 || dup_str(&dst->time, src->time) < 0 ||
	    dup_str(&dst->content_location, src->content_location) < 0 ||
	    dup_str(&dst->error, src->error) < 0)
		goto fail;
	if (src->raw && src->raw_len > 0) {
		dst->raw = pb_malloc(src->raw_len);
		if (!dst->raw)
			goto fail;
		memcpy(dst->raw, src->raw, src->raw_len);
		dst->raw_len = src->raw_len;
	}
	return 0;
fail:
	pb_modem_msg_dispose(dst);
	return PB_ENOMEM;
}

PB_API int pb_modem_msg_list_add(pb_modem_msg_list *list, const pb_modem_msg *msg)
{
	if (grow(&list->items, &list->cap, list->count, sizeof(*list->items), 8) < 0)
		return PB_ENOMEM;
	int rc = pb_modem_msg_copy(&list->items[list->count], msg);
	if (rc < 0)
		return rc;
	list->count++;
	return 0;
}

PB_API void pb_modem_msg_list_dispose(pb_modem_msg_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		pb_modem_msg_dispose(&list->items[i]);
	pb_free(list->items);
	list->items = NULL;
	list->count = list->cap = 0;
}

/* --- message calls --------------------------------------------------------- */

PB_API int pb_modem_list(pb_modem *m, int box, pb_modem_msg_list *out)
{
	if (!m || !out)
		return pb_error_set(PB_EINVAL, "pb_modem_list: NULL argument");
	if (box != PB_MODEM_BOX_INBOX && box != PB_MODEM_BOX_SENT)
		return pb_error_set(PB_EINVAL, "pb_modem_list: unknown box %d", box);
	return m->ops->list(m->state, box, out);
}

PB_API int pb_modem_read(pb_modem *m, const char *id, pb_modem_msg *out)
{
	if (!m || !id || !out)
		return pb_error_set(PB_EINVAL, "pb_modem_read: NULL argument");
	memset(out, 0, sizeof(*out));
	if (m->ops->read)
		return m->ops->read(m->state, id, out);
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	int rc = m->ops->list(m->state, PB_MODEM_BOX_INBOX, &l);
	if (rc == 0) {
		rc = pb_error_set(PB_ENOTFOUND, "message %s: not in the inbox", id);
		for (size_t i = 0; i < l.count; i++) {
			if (l.items[i].id && strcmp(l.items[i].id, id) == 0) {
				*out = l.items[i];
				l.items[i] = l.items[--l.count];
				rc = 0;
				break;
			}
		}
	}
	pb_modem_msg_list_dispose(&l);
	return rc;
}

PB_API int pb_modem_msg_decode_sms(const pb_modem_msg *msg, pb_sms_message *out, pb_parse_error *perr)
{
	if (!msg || !out || msg->raw_format != PB_MODEM_RAW_PDU || !msg->raw)
		return pb_error_set(PB_EINVAL, "message %s carries no PDU", msg && msg->id ? msg->id : "?");
	return pb_sms_decode(out, msg->raw, msg->raw_len, PB_SMS_DECODE_SMSC, perr);
}

PB_API int pb_modem_delete(pb_modem *m, const char *id)
{
	if (!m || !id || !*id)
		return pb_error_set(PB_EINVAL, "pb_modem_delete: NULL argument");
	if (!m->ops->remove)
		return unsupported(m, "delete");
	/* "3,4,5": the parts of one concatenated message */
	int rc = 0;
	while (*id) {
		size_t n = strcspn(id, ",");
		char one[64];
		if (n == 0 || n >= sizeof(one))
			return pb_error_set(PB_EINVAL, "pb_modem_delete: bad id list");
		memcpy(one, id, n);
		one[n] = '\0';
		int r = m->ops->remove(m->state, one);
		if (r < 0 && rc == 0)
			rc = r; /* go on: delete what can be deleted */
		id += n + (id[n] == ',');
	}
	return rc;
}

PB_API int pb_modem_mark_read(pb_modem *m, const char *id)
{
	if (!m || !id)
		return pb_error_set(PB_EINVAL, "pb_modem_mark_read: NULL argument");
	return m->ops->mark_read ? m->ops->mark_read(m->state, id) : unsupported(m, "mark read");
}

PB_API int pb_modem_send_text(pb_modem *m, const char *number, const char *text, unsigned flags, int *ref)
{
	if (ref)
		*ref = -1;
	if (!m || !number || !number[0] || !text)
		return pb_error_set(PB_EINVAL, "pb_modem_send_text: number and text are required");
	if (pb_utf8_validate(text, strlen(text), NULL) < 0)
		return pb_error_set(PB_EINVAL, "pb_modem_send_text: text is not UTF-8");
	int dummy;
	return m->ops->send_text ? m->ops->send_text(m->state, number, text, flags, ref ? ref : &dummy)
				 : unsupported(m, "send text");
}

PB_API int pb_modem_send_fate(int rc)
{
	switch (rc) {
	case 0:
		return PB_MODEM_SEND_DONE;
	case PB_ETIMEOUT:
	case PB_EEXISTS:
		return PB_MODEM_SEND_UNCERTAIN;
	case PB_EPROTO:
	case PB_EINVAL:
	case PB_EUNSUPPORTED:
	case PB_ETOOBIG:
	case PB_EMALFORMED:
	case PB_ERANGE:
		return PB_MODEM_SEND_REFUSED;
	default:
		return PB_MODEM_SEND_NOT_SENT;
	}
}

PB_API const char *pb_modem_send_fate_name(int fate)
{
	switch (fate) {
	case PB_MODEM_SEND_DONE: return "done";
	case PB_MODEM_SEND_NOT_SENT: return "not sent";
	case PB_MODEM_SEND_REFUSED: return "refused";
	case PB_MODEM_SEND_UNCERTAIN: return "uncertain";
	default: return "?";
	}
}

PB_API int pb_modem_send_pdu(pb_modem *m, const uint8_t *tpdu, size_t len, int *ref)
{
	if (ref)
		*ref = -1;
	if (!m || !tpdu || len == 0 || len > 176)
		return pb_error_set(PB_EINVAL, "pb_modem_send_pdu: a TPDU of 1..176 bytes is required");
	int dummy;
	return m->ops->send_pdu ? m->ops->send_pdu(m->state, tpdu, len, ref ? ref : &dummy)
				: unsupported(m, "send PDU");
}

PB_API int pb_modem_forward_query(pb_modem *m, pb_modem_fwd_reason reason, pb_modem_forward *out)
{
	if (!m || !out || (unsigned)reason > PB_MODEM_FWD_ALL_CONDITIONAL)
		return pb_error_set(PB_EINVAL, "pb_modem_forward_query: bad argument");
	memset(out, 0, sizeof(*out));
	out->reason = reason;
	out->no_reply_s = -1;
	return m->ops->forward_query ? m->ops->forward_query(m->state, reason, out)
				     : unsupported(m, "call forwarding");
}

PB_API int pb_modem_forward_set(pb_modem *m, pb_modem_fwd_reason reason, const char *number, int no_reply_s)
{
	if (!m || (unsigned)reason > PB_MODEM_FWD_ALL_CONDITIONAL)
		return pb_error_set(PB_EINVAL, "pb_modem_forward_set: bad argument");
	if (number) {
		size_t n = strlen(number);
		if (n == 0 || n > 40 || strspn(number, "+0123456789*#") != n)
			return pb_error_set(PB_EINVAL, "pb_modem_forward_set: \"%s\" is not a phone number", number);
	}
	return m->ops->forward_set ? m->ops->forward_set(m->state, reason, number, no_reply_s)
				   : unsupported(m, "call forwarding");
}

PB_API int pb_modem_ussd(pb_modem *m, const char *code, char **reply)
{
	if (!m || !code || !reply)
		return pb_error_set(PB_EINVAL, "pb_modem_ussd: NULL argument");
	*reply = NULL;
	size_t n = strlen(code);
	if (n == 0 || n > 160 || strspn(code, "0123456789*#+") != n)
		return pb_error_set(PB_EINVAL, "pb_modem_ussd: \"%s\" is not a USSD code", code);
	return m->ops->ussd ? m->ops->ussd(m->state, code, reply) : unsupported(m, "USSD");
}

/* --- watch ----------------------------------------------------------------- */

PB_API void pb_modem_stop(pb_modem *m)
{
	if (m)
		atomic_store(&m->stop, 1);
}

/*
 * What identifies a message across listings: the box's id alone is not
 * enough (an AT modem reuses a storage index once the caller deletes the
 * entry), so the time and a hash of the content join it.
 */
static uint64_t msg_key(const pb_modem_msg *msg)
{
	uint64_t h = PB_FNV1A64_INIT;
	const char *parts[] = { msg->id, msg->time, msg->number, msg->text, msg->error };
	for (size_t i = 0; i < PB_ARRAY_SIZE(parts); i++) {
		if (parts[i])
			h = pb_fnv1a64(h, parts[i], strlen(parts[i]));
		h = pb_fnv1a64(h, "\x1f", 1);
	}
	if (msg->raw)
		h = pb_fnv1a64(h, msg->raw, msg->raw_len);
	return h;
}

int pb_modem__find_location(const uint8_t *p, size_t len, char **out)
{
	*out = NULL;
	for (size_t i = 0; p && i + 7 <= len; i++) {
		if (pb_ascii_ncasecmp((const char *)p + i, "http://", 7) == 0 ||
		    (i + 8 <= len && pb_ascii_ncasecmp((const char *)p + i, "https://", 8) == 0)) {
			size_t e = i;
			while (e < len && p[e] > 0x20 && p[e] < 0x7F)
				e++;
			*out = pb_strndup((const char *)p + i, e - i);
			return *out ? 0 : PB_ENOMEM;
		}
	}
	return 0;
}

int pb_modem__mms_location(const uint8_t *push, size_t len, char **out)
{
	*out = NULL;
	pb_mms_message *mms = NULL;
	int rc = push && len ? pb_mms_decode_push(&mms, NULL, push, len, NULL) : PB_EMALFORMED;
	if (rc == PB_ENOMEM)
		return rc;
	if (rc == 0 && mms->content_location) {
		*out = pb_strdup(mms->content_location);
		pb_mms_message_free(mms);
		return *out ? 0 : PB_ENOMEM;
	}
	pb_mms_message_free(mms);
	pb_error_clear();
	/* cut or damaged (routers truncate it): the URL text that is there */
	return pb_modem__find_location(push, len, out);
}

/* Milliseconds since the epoch: the clock of everything the watch keeps
 * across restarts (a monotonic clock starts again at boot). */
static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct watch_ctx {
	pb_modem *m;
	watch_state *ws;
	unsigned flags;
	pb_modem_event_cb cb;
	void *ud;
	uint64_t *seen;
	size_t nseen, capseen;
	bool first;
} watch_ctx;

static bool same_group(const pb_sms_group_key *a, const pb_sms_group_key *b)
{
	return a->ref == b->ref && a->total == b->total && a->dst_port == b->dst_port &&
	       a->src_port == b->src_port && strcmp(a->originator, b->originator) == 0;
}

static watch_group *group_for(watch_state *ws, const pb_sms_group_key *k, bool create)
{
	for (size_t i = 0; i < ws->ngroups; i++)
		if (same_group(&ws->groups[i]->key, k))
			return ws->groups[i];
	if (!create || grow(&ws->groups, &ws->capgroups, ws->ngroups, sizeof(*ws->groups), 4) < 0)
		return NULL;
	watch_group *g = pb_calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->key = *k;
	ws->groups[ws->ngroups++] = g;
	return g;
}

static void group_free(watch_group *g)
{
	for (size_t i = 0; i < PB_ARRAY_SIZE(g->ids); i++)
		pb_free(g->ids[i]);
	pb_free(g);
}

static void group_drop(watch_state *ws, watch_group *g)
{
	for (size_t i = 0; i < ws->ngroups; i++) {
		if (ws->groups[i] == g) {
			ws->groups[i] = ws->groups[--ws->ngroups];
			break;
		}
	}
	group_free(g);
}

/* "3,4,5": the box's ids of the parts known, in part order. */
static int group_ids(const watch_group *g, pb_buf *out)
{
	for (size_t i = 0; g && i < PB_ARRAY_SIZE(g->ids); i++) {
		if (!g->ids[i] || !g->ids[i][0])
			continue;
		if ((out->len && pb_buf_putc(out, ',') < 0) || pb_buf_puts(out, g->ids[i]) < 0)
			return PB_ENOMEM;
	}
	return pb_buf_put(out, "", 0); /* NUL-terminated even when empty */
}

/* The key pb_sms reassembly files a part under (TS 23.040 §9.2.3.24.1). */
static void key_of(const pb_sms_message *s, pb_sms_group_key *k)
{
	memset(k, 0, sizeof(*k));
	pb_strlcpy(k->originator, s->address.number, sizeof(k->originator));
	k->ref = s->udh.has_concat ? s->udh.concat_ref : 0;
	k->total = s->udh.has_concat ? s->udh.concat_total : 1;
	k->dst_port = s->udh.has_ports ? s->udh.dst_port : -1;
	k->src_port = s->udh.has_ports ? s->udh.src_port : -1;
}

static bool seen_has(const watch_ctx *w, uint64_t k)
{
	for (size_t i = 0; i < w->nseen; i++)
		if (w->seen[i] == k)
			return true;
	return false;
}

static int seen_add(watch_ctx *w, uint64_t k)
{
	if (grow(&w->seen, &w->capseen, w->nseen, sizeof(*w->seen), 64) < 0)
		return PB_ENOMEM;
	w->seen[w->nseen++] = k;
	return 0;
}

/* Forget messages that have left the box: one that comes again identical
 * (an AT storage index reused after a delete) is a new message. */
static void seen_prune(watch_ctx *w, const pb_modem_msg_list *l)
{
	for (size_t i = 0; i < w->nseen;) {
		bool still = false;
		for (size_t j = 0; j < l->count && !still; j++)
			still = msg_key(&l->items[j]) == w->seen[i];
		if (still)
			i++;
		else
			w->seen[i] = w->seen[--w->nseen];
	}
}

/*
 * Forget groups none of whose parts the listing still holds: the caller
 * deleted them after they were reported (a group taken up again because a
 * delete failed once), and what is gone must not come out a second time.
 * Groups with no part listed (pushed with +CMT, or restored from the store
 * and not on the box) are kept until they complete or time out.
 */
static void groups_prune(watch_state *ws, const pb_modem_msg_list *l)
{
	for (size_t i = 0; i < ws->ngroups;) {
		watch_group *g = ws->groups[i];
		bool listed = false, still = false;
		for (size_t p = 0; p < PB_ARRAY_SIZE(g->keys) && !still; p++) {
			if (!g->keys[p])
				continue;
			listed = true;
			for (size_t j = 0; j < l->count && !still; j++)
				still = msg_key(&l->items[j]) == g->keys[p];
		}
		if (!listed || still || pb_sms__reassembler_drop(ws->reasm, &g->key) < 0) {
			i++;
			continue;
		}
		group_drop(ws, g); /* moves the last group to i */
	}
}

/* --- a box's own incomplete entries ------------------------------------------ */

/* The reassembly store's key of a box entry: no SMS group has port -2. */
static void entry_key(const watch_pending *p, pb_sms_group_key *k)
{
	memset(k, 0, sizeof(*k));
	pb_strlcpy(k->originator, p->number ? p->number : "", sizeof(k->originator));
	k->total = 1;
	k->dst_port = ENTRY_PORT;
	k->src_port = (int32_t)(pb_fnv1a64(PB_FNV1A64_INIT, p->id, strlen(p->id)) & 0x7fffffff);
}

static watch_pending *pending_find(watch_state *ws, const char *id)
{
	for (size_t i = 0; i < ws->npending; i++)
		if (strcmp(ws->pending[i].id, id) == 0)
			return &ws->pending[i];
	return NULL;
}

static int pending_add(watch_state *ws, const char *id, const char *number, int64_t since, bool save)
{
	if (grow(&ws->pending, &ws->cappending, ws->npending, sizeof(*ws->pending), 8) < 0)
		return PB_ENOMEM;
	watch_pending p = { pb_strdup(id), number ? pb_strdup(number) : NULL, since };
	if (!p.id || (number && !p.number)) {
		pb_free(p.id);
		pb_free(p.number);
		return PB_ENOMEM;
	}
	if (save && ws->store) {
		pb_sms_group_key k;
		entry_key(&p, &k);
		if (ws->store->save_part(&k, 1, (const uint8_t *)id, strlen(id), 0, since, ws->store_ud) < 0)
			pb_log_warning(DOMAIN, "watch: entry %s: %s (its waiting time starts again after a restart)",
				       id, pb_error_last()->message);
	}
	ws->pending[ws->npending++] = p;
	return 0;
}

static void pending_forget(watch_state *ws, size_t i, bool unsave)
{
	watch_pending *p = &ws->pending[i];
	if (unsave && ws->store) {
		pb_sms_group_key k;
		entry_key(p, &k);
		if (ws->store->delete_group(&k, ws->store_ud) < 0)
			pb_log_warning(DOMAIN, "watch: entry %s: %s", p->id, pb_error_last()->message);
	}
	pb_free(p->id);
	pb_free(p->number);
	ws->pending[i] = ws->pending[--ws->npending];
}

/* When an incomplete entry was first seen (from @now when new). */
static int64_t pending_since(watch_state *ws, const pb_modem_msg *msg, int64_t now)
{
	watch_pending *p = pending_find(ws, msg->id);
	if (p)
		return p->since;
	if (pending_add(ws, msg->id, msg->number, now, true) < 0)
		pb_log_warning(DOMAIN, "watch: out of memory remembering entry %s", msg->id);
	return now;
}

/* Forget incomplete entries the listing no longer holds as incomplete (the
 * box completed them, or they were reported and deleted). */
static void pending_prune(watch_state *ws, const pb_modem_msg_list *l)
{
	for (size_t i = 0; i < ws->npending;) {
		bool still = false;
		for (size_t j = 0; j < l->count && !still; j++)
			still = l->items[j].type == PB_MODEM_MSG_INCOMPLETE && l->items[j].id &&
				strcmp(l->items[j].id, ws->pending[i].id) == 0;
		if (still)
			i++;
		else
			pending_forget(ws, i, true);
	}
}

/* --- the reassembler and its store ---------------------------------------------- */

typedef struct load_ctx {
	watch_state *ws;
	pb_sms_stored_part_cb cb;
	void *cb_ud;
} load_ctx;

/* One saved part: a box entry's first sighting, or an SMS part for the reassembler. */
static int load_one(const pb_sms_group_key *key, uint8_t seq, const uint8_t *pdu, size_t len, unsigned flags,
		    int64_t received, void *ud)
{
	load_ctx *lc = ud;
	(void)flags; /* every part the watch saves carries the SMSC field */
	if (!key || key->dst_port != ENTRY_PORT)
		return lc->cb(key, seq, pdu, len, PB_SMS_DECODE_SMSC, received, lc->cb_ud);
	char id[256];
	if (!pdu || len == 0 || len >= sizeof(id) || memchr(pdu, 0, len))
		return 0; /* not one of ours */
	memcpy(id, pdu, len);
	id[len] = '\0';
	if (pending_find(lc->ws, id))
		return 0;
	return pending_add(lc->ws, id, key->originator[0] ? key->originator : NULL, received, false);
}

static int ws_save_part(const pb_sms_group_key *key, uint8_t seq, const uint8_t *pdu, size_t len, unsigned flags,
			int64_t received, void *ud)
{
	watch_state *ws = ud;
	return ws->store->save_part(key, seq, pdu, len, flags, received, ws->store_ud);
}

static int ws_delete_group(const pb_sms_group_key *key, void *ud)
{
	watch_state *ws = ud;
	return ws->store->delete_group(key, ws->store_ud);
}

static int ws_load(pb_sms_stored_part_cb cb, void *cb_ud, void *ud)
{
	watch_state *ws = ud;
	load_ctx lc = { ws, cb, cb_ud };
	return ws->store->load(load_one, &lc, ws->store_ud);
}

/* The reassembler, with what the store holds from before. */
static int reasm_open(watch_state *ws)
{
	if (ws->reasm)
		return 0;
	pb_sms_reassembler_options o = PB_SMS_REASSEMBLER_OPTIONS_INIT;
	o.timeout_ms = ws->timeout_ms;
	o.max_groups = MAX_GROUPS;
	if (ws->store) {
		ws->ops = (pb_sms_reassembly_store_ops){ PB_SMS_REASSEMBLY_STORE_OPS_VERSION, ws_save_part,
							  ws_delete_group, ws_load };
		o.store = &ws->ops;
		o.store_userdata = ws;
	}
	int rc = pb_sms_reassembler_new(&ws->reasm, &o);
	if (rc < 0)
		return rc;
	pb_sms__reassembler_mark_missing(ws->reasm, true);
	if (ws->store && (rc = pb_sms_reassembler_restore(ws->reasm)) < 0) {
		pb_sms_reassembler_free(ws->reasm);
		ws->reasm = NULL;
	}
	return rc;
}

static void watch_state_dispose(watch_state *ws)
{
	pb_sms_reassembler_free(ws->reasm);
	ws->reasm = NULL;
	for (size_t i = 0; i < ws->ngroups; i++)
		group_free(ws->groups[i]);
	pb_free(ws->groups);
	ws->groups = NULL;
	ws->ngroups = ws->capgroups = 0;
	while (ws->npending)
		pending_forget(ws, ws->npending - 1, false);
	pb_free(ws->pending);
	ws->pending = NULL;
	ws->cappending = 0;
	ws->listed = false;
}

PB_API int pb_modem_watch_setup(pb_modem *m, const pb_modem_watch_options *opts)
{
	if (!m || !opts)
		return pb_error_set(PB_EINVAL, "pb_modem_watch_setup: NULL argument");
	int rc;
	if ((rc = PB_CHECK_VERSION(opts, PB_MODEM_WATCH_OPTIONS, 1)) < 0)
		return rc;
	if ((rc = PB_CHECK_MS(opts, pb_modem_watch_options, incomplete_timeout_ms)) < 0)
		return rc;
	const pb_sms_reassembly_store_ops *s = opts->store;
	if (s && (rc = PB_CHECK_VERSION(s, PB_SMS_REASSEMBLY_STORE_OPS, 1)) < 0)
		return rc;
	if (s && (!s->save_part || !s->delete_group || !s->load))
		return pb_error_set(PB_EINVAL, "pb_modem_watch_setup: the reassembly store lacks an operation");
	watch_state_dispose(&m->ws);
	m->ws.timeout_ms = opts->incomplete_timeout_ms ? (int)opts->incomplete_timeout_ms : INCOMPLETE_GIVE_UP_MS;
	m->ws.store = s;
	m->ws.store_ud = opts->store_userdata;
	return reasm_open(&m->ws);
}

/* --- reporting ------------------------------------------------------------------- */

static int emit(watch_ctx *w, const pb_modem_msg *msg);
static int report_part(watch_ctx *w, const pb_modem_msg *msg, const pb_sms_message *s, bool *handled);

/* Report @msg unless seen. @return 0, or the callback's non-zero value. */
static int report(watch_ctx *w, const pb_modem_msg *msg, bool silent)
{
	if (msg->type == PB_MODEM_MSG_INCOMPLETE && msg->id) {
		int64_t now = wall_ms();
		if (now - pending_since(w->ws, msg, now) < w->ws->timeout_ms)
			return 0; /* the box is still collecting the parts: look again later */
	}
	uint64_t k = msg_key(msg);
	if (seen_has(w, k))
		return 0;
	if (seen_add(w, k) < 0)
		pb_log_warning(DOMAIN, "watch: out of memory remembering a message; it may be reported again");
	if (silent)
		return 0;
	if (msg->raw_format == PB_MODEM_RAW_PDU && msg->type != PB_MODEM_MSG_GARBLED &&
	    msg->type != PB_MODEM_MSG_REPORT) {
		pb_sms_message s;
		if (pb_sms_decode(&s, msg->raw, msg->raw_len, PB_SMS_DECODE_SMSC, NULL) == 0 &&
		    s.type == PB_SMS_DELIVER && (s.udh.has_concat || pb_sms_is_wap_push(&s))) {
			bool handled;
			int r = report_part(w, msg, &s, &handled);
			if (handled || r)
				return r;
		}
	}
	return emit(w, msg);
}

static int emit(watch_ctx *w, const pb_modem_msg *msg)
{
	pb_modem_event ev = { PB_MODEM_EVENT_MESSAGE, msg, 0, NULL };
	return w->cb(&ev, w->ud);
}

/* A message the SMS reassembler gave back: one record with every part's id. */
static int emit_assembled(watch_ctx *w, pb_sms_assembled *a, const char *ids)
{
	char time[40] = "";
	pb_sms_time_iso8601(&a->first.scts, time, sizeof(time));
	bool push = pb_sms_is_wap_push(&a->first);
	pb_modem_msg m = { .id = (char *)ids, .state = PB_MODEM_STATE_UNREAD, .box_type = -1,
			   .number = a->first.address.number, .time = time[0] ? time : NULL };
	m.type = !a->complete ? PB_MODEM_MSG_INCOMPLETE : push ? PB_MODEM_MSG_MMS : PB_MODEM_MSG_TEXT;
	if (push) {
		m.raw = a->data;
		m.raw_len = a->data_len;
		m.raw_format = PB_MODEM_RAW_PUSH;
		if (pb_modem__mms_location(a->data, a->data_len, &m.content_location) < 0)
			return PB_ENOMEM;
	} else {
		m.text = a->text;
	}
	int r = emit(w, &m);
	pb_free(m.content_location);
	return r;
}

/* Emit @a with the ids of group @g (may be NULL) and forget the group. */
static int emit_group(watch_ctx *w, pb_sms_assembled *a, watch_group *g)
{
	pb_buf ids = PB_BUF_INIT;
	int r = group_ids(g, &ids);
	if (r == 0)
		r = emit_assembled(w, a, pb_buf_cstr(&ids));
	pb_buf_dispose(&ids);
	if (g)
		group_drop(w->ws, g);
	return r;
}

/*
 * Parts of a concatenated message or a WAP push go through reassembly. A
 * part the reassembler cannot keep (its store failed) stays on the box and
 * is offered again by the next watch: it is never reported on its own.
 */
static int report_part(watch_ctx *w, const pb_modem_msg *msg, const pb_sms_message *s, bool *handled)
{
	watch_state *ws = w->ws;
	*handled = false;
	if (reasm_open(ws) < 0) {
		pb_log_warning(DOMAIN, "watch: %s; part %s waits on the box", pb_error_last()->message,
			       msg->id ? msg->id : "?");
		*handled = true;
		return 0;
	}
	pb_sms_group_key k;
	key_of(s, &k);
	*handled = true;
	watch_group *g = group_for(ws, &k, true);
	unsigned seq = s->udh.has_concat ? s->udh.concat_seq : 1;
	char *id = NULL;
	if (!g || (msg->id && msg->id[0] && !(id = pb_strdup(msg->id)))) {
		pb_log_warning(DOMAIN, "watch: out of memory; part %s waits on the box", msg->id ? msg->id : "?");
		return 0;
	}
	if (id && seq >= 1 && seq <= k.total) {
		pb_free(g->ids[seq - 1]);
		g->ids[seq - 1] = id;
		g->keys[seq - 1] = msg_key(msg);
	} else {
		pb_free(id);
	}
	pb_sms_assembled *a = NULL;
	if (pb_sms_reassembler_add(ws->reasm, msg->raw, msg->raw_len, PB_SMS_DECODE_SMSC, wall_ms(), &a, NULL) < 0) {
		pb_log_warning(DOMAIN, "watch: part %s: %s; it waits on the box", msg->id ? msg->id : "?",
			       pb_error_last()->message);
		return 0;
	}
	if (!a)
		return 0;
	int r = emit_group(w, a, g);
	pb_sms_assembled_free(a);
	return r;
}

/* Groups that stayed incomplete too long come out as they are: only once a
 * listing has told the ids of their parts (after a restart), so that the
 * caller can delete them. */
static int expire_parts(watch_ctx *w)
{
	watch_state *ws = w->ws;
	pb_sms_assembled *a = NULL;
	while (ws->listed && ws->reasm && pb_sms_reassembler_expire(ws->reasm, wall_ms(), &a) == 0 && a) {
		int r = emit_group(w, a, group_for(ws, &a->key, false));
		pb_sms_assembled_free(a);
		if (r)
			return r;
	}
	return 0;
}

static int report_error(watch_ctx *w, int code)
{
	pb_modem_event ev = { PB_MODEM_EVENT_ERROR, NULL, code, pb_error_last()->message };
	pb_log_warning(DOMAIN, "%s: %s", w->m->ops->name, ev.text);
	return w->cb(&ev, w->ud);
}

static int report_list(watch_ctx *w, pb_modem_msg_list *l, bool silent)
{
	for (size_t i = 0; i < l->count; i++) {
		int r = report(w, &l->items[i], silent);
		if (r)
			return r;
	}
	return 0;
}

static bool stopped(pb_modem *m) { return atomic_load(&m->stop) != 0; }

static int watch_loop(watch_ctx *w, unsigned duration_ms)
{
	pb_modem *m = w->m;
	const pb_modem_backend_ops *ops = m->ops;
	int64_t end = duration_ms == PB_WAIT_FOREVER ? INT64_MAX : pb_modem__now_ms() + duration_ms;
	int64_t next_list = 0;
	int backoff = 0;
	unsigned polls = 0;
	bool failing = false;
	pb_modem_msg_list pushed = PB_MODEM_MSG_LIST_INIT;
	int r = 0;

	while (!stopped(m) && pb_modem__now_ms() < end) {
		if ((r = expire_parts(w)) != 0)
			break;
		int64_t now = pb_modem__now_ms();
		if (now >= next_list) {
			pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
			/* the cheap check can miss a delete and an arrival between two looks
			 * (same counts): list in full every FULL_LIST_EVERY polls anyway */
			bool cheap = !w->first && ops->changed && !failing && w->ws->npending == 0 &&
				     ++polls % FULL_LIST_EVERY != 0;
			bool listed = false;
			int rc = cheap ? ops->changed(m->state) : 1;
			if (rc > 0 || rc < 0) {
				rc = ops->list(m->state, PB_MODEM_BOX_INBOX, &l);
				listed = rc == 0;
			}
			if (rc < 0) {
				pb_modem_msg_list_dispose(&l);
				if (rc == PB_EAUTH) {
					r = rc;
					break;
				}
				if (!failing && (r = report_error(w, rc)) != 0)
					break;
				failing = true;
				backoff = backoff ? PB_MIN(backoff * 2, BACKOFF_MAX_MS) : 1000;
				next_list = pb_modem__now_ms() + backoff;
			} else {
				if (failing) {
					pb_modem_event ev = { PB_MODEM_EVENT_RECOVERED, NULL, 0, NULL };
					failing = false;
					backoff = 0;
					if ((r = w->cb(&ev, w->ud)) != 0) {
						pb_modem_msg_list_dispose(&l);
						break;
					}
				}
				r = report_list(w, &l, w->first && (w->flags & PB_MODEM_WATCH_NEW_ONLY));
				if (listed) {
					pending_prune(w->ws, &l);
					groups_prune(w->ws, &l);
					seen_prune(w, &l);
					w->ws->listed = true;
				}
				pb_modem_msg_list_dispose(&l);
				w->first = false;
				if (r)
					break;
				next_list = pb_modem__now_ms() + m->poll_ms;
			}
		}
		int64_t left = PB_MIN(next_list, end) - pb_modem__now_ms();
		unsigned slice = (unsigned)PB_MAX(0, PB_MIN(left, WAIT_SLICE_MS));
		if (ops->wait && !failing) {
			int rc = ops->wait(m->state, slice, &pushed);
			if (pushed.count) {
				r = report_list(w, &pushed, false);
				pb_modem_msg_list_dispose(&pushed);
				if (r)
					break;
			}
			if (rc > 0)
				next_list = 0;
			else if (rc < 0 && rc != PB_ETIMEOUT) {
				if (rc == PB_EAUTH) {
					r = rc;
					break;
				}
				if ((r = report_error(w, rc)) != 0)
					break;
				failing = true;
				backoff = backoff ? PB_MIN(backoff * 2, BACKOFF_MAX_MS) : 1000;
				next_list = pb_modem__now_ms() + backoff;
			}
		} else if (slice > 0) {
			struct timespec ts = { slice / 1000, (long)(slice % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	pb_modem_msg_list_dispose(&pushed);
	return r;
}

PB_API int pb_modem_watch(pb_modem *m, unsigned flags, unsigned duration_ms, pb_modem_event_cb cb, void *userdata)
{
	if (!m || !cb)
		return pb_error_set(PB_EINVAL, "pb_modem_watch: modem and callback are required");
	watch_ctx w = { .m = m, .ws = &m->ws, .flags = flags, .cb = cb, .ud = userdata, .first = true };
	int r = watch_loop(&w, duration_ms);
	/* a stop is consumed by the watch it ended; one that came before the
	 * watch started ends that watch at once instead of being forgotten */
	atomic_store(&m->stop, 0);
	pb_free(w.seen);
	return r;
}
