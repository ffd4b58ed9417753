/*
 * libphonebridge — matrix: /sync, its parser, and the sync loop.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "matrix/matrix-private.h"
#include "matrix/crypto-private.h"

#include <stdio.h>
#include <string.h>

#include <phonebridge/matrix.h>

typedef struct deliver_ctx {
	const pb_matrix_sync_callbacks *cb;
	pb_matrix *m;   /* NULL when only parsing; m->crypto decrypts */
	bool initial;   /* a sync without since: no key requests for its history */
	json_t *empty;  /* content of events that have none (made on demand) */
	bool by_callback;
} deliver_ctx;

static const char *str_member(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Fill @ev from @e; false when @e is not an event we can describe. */
static bool fill_event(deliver_ctx *d, pb_matrix_event *ev, json_t *e)
{
	const char *type = str_member(e, "type");
	if (type == NULL)
		return false; /* not an object, or no string type */
	json_t *content = json_object_get(e, "content");
	if (!json_is_object(content)) {
		if (d->empty == NULL && (d->empty = json_object()) == NULL)
			return false;
		content = d->empty;
	}
	json_t *ts = json_object_get(e, "origin_server_ts");
	ev->type = type;
	ev->sender = str_member(e, "sender");
	ev->event_id = str_member(e, "event_id");
	ev->state_key = str_member(e, "state_key");
	ev->origin_server_ts = json_is_integer(ts) ? (int64_t)json_integer_value(ts) : 0;
	ev->msgtype = NULL;
	ev->body = NULL;
	ev->membership = NULL;
	if (strcmp(type, "m.room.message") == 0) {
		ev->msgtype = str_member(content, "msgtype");
		ev->body = str_member(content, "body");
	} else if (strcmp(type, "m.room.member") == 0) {
		ev->membership = str_member(content, "membership");
	}
	ev->content = content;
	ev->json = e;
	return true;
}

/* Deliver every event of the array at @container.@key (either may be absent). */
static int deliver_events(deliver_ctx *d, const char *room_id, pb_matrix_section section,
			  const json_t *container, const char *key, const char **inviter)
{
	json_t *events = json_object_get(json_object_get(container, key), "events");
	size_t i;
	json_t *e;
	pb_matrix_event ev = { .section = section, .room_id = room_id };
	json_array_foreach(events, i, e) {
		json_t *plain = NULL;
		if (d->m && d->m->crypto && section != PB_MATRIX_INVITE) {
			int rc = pb_matrix__crypto_room_event(d->m->crypto, d->m, room_id, e, !d->initial, &plain);
			if (rc < 0)
				return rc;
		}
		bool ok = fill_event(d, &ev, plain ? plain : e);
		ev.decrypted = plain != NULL;
		if (!ok) {
			json_decref(plain);
			continue;
		}
		if (inviter && ev.membership && strcmp(ev.membership, "invite") == 0)
			*inviter = ev.sender;
		if (d->cb->event) {
			int rc = d->cb->event(&ev, d->cb->userdata);
			if (rc != 0) {
				json_decref(plain);
				d->by_callback = true;
				return rc;
			}
		}
		json_decref(plain);
	}
	return 0;
}

static int call(deliver_ctx *d, int rc)
{
	if (rc != 0)
		d->by_callback = true;
	return rc;
}

static int deliver(deliver_ctx *d, const json_t *root, char **next_batch, pb_parse_error *perr)
{
	const pb_matrix_sync_callbacks *cb = d->cb;
	const char *nb = str_member(root, "next_batch");
	json_t *rooms = json_object_get(root, "rooms");
	const char *room_id;
	json_t *r;
	int rc = 0;

	if (!json_is_object(root))
		return pb_error__parse(perr, 0, "sync: answer is not a JSON object");
	if (nb == NULL || *nb == '\0')
		return pb_error__parse(perr, 0, "sync: answer lacks next_batch");
	if (rooms != NULL && !json_is_object(rooms))
		return pb_error__parse(perr, 0, "sync: rooms is not an object");

	/* to-device first: a room key must be stored before the events it opens */
	if (d->m && d->m->crypto && (rc = pb_matrix__crypto_sync(d->m->crypto, d->m, root)) < 0)
		return rc;
	json_object_foreach(json_object_get(rooms, "join"), room_id, r) {
		if ((rc = deliver_events(d, room_id, PB_MATRIX_STATE, r, "state", NULL)) != 0 ||
		    (rc = deliver_events(d, room_id, PB_MATRIX_TIMELINE, r, "timeline", NULL)) != 0)
			return rc;
	}
	json_object_foreach(json_object_get(rooms, "invite"), room_id, r) {
		const char *inviter = NULL;
		if ((rc = deliver_events(d, room_id, PB_MATRIX_INVITE, r, "invite_state", &inviter)) != 0)
			return rc;
		if (cb->invite && (rc = call(d, cb->invite(room_id, inviter, cb->userdata))) != 0)
			return rc;
	}
	json_object_foreach(json_object_get(rooms, "leave"), room_id, r) {
		if ((rc = deliver_events(d, room_id, PB_MATRIX_LEAVE, r, "timeline", NULL)) != 0)
			return rc;
		if (cb->leave && (rc = call(d, cb->leave(room_id, cb->userdata))) != 0)
			return rc;
	}
	if (cb->next_batch && (rc = call(d, cb->next_batch(nb, cb->userdata))) != 0)
		return rc;
	if (next_batch && (*next_batch = pb_strdup(nb)) == NULL)
		return PB_ENOMEM;
	return 0;
}

static int parse_and_deliver(pb_matrix *m, bool initial, const uint8_t *buf, size_t len,
			     const pb_matrix_sync_callbacks *cb, char **next_batch, pb_parse_error *perr,
			     bool *by_callback)
{
	static const pb_matrix_sync_callbacks none = { 0 };
	deliver_ctx d = { .cb = cb ? cb : &none, .m = m, .initial = initial };
	json_error_t err;

	if (next_batch)
		*next_batch = NULL;
	json_t *root = json_loadb(buf ? (const char *)buf : "", len, 0, &err);
	if (root == NULL) {
		size_t off = err.position > 0 ? PB_MIN((size_t)err.position, len) : 0;
		return pb_error__parse(perr, off, "sync: %s", err.text);
	}
	int rc = deliver(&d, root, next_batch, perr);
	json_decref(d.empty);
	json_decref(root);
	if (by_callback)
		*by_callback = d.by_callback;
	return rc;
}

int pb_matrix_sync_parse(const uint8_t *buf, size_t len, const pb_matrix_sync_callbacks *cb,
			 char **next_batch, pb_parse_error *perr)
{
	return parse_and_deliver(NULL, false, buf, len, cb, next_batch, perr, NULL);
}

static int sync_round(pb_matrix *m, const pb_matrix_sync_options *o, const pb_matrix_sync_callbacks *cb,
		      char **next_batch, bool *by_callback)
{
	pb_buf u = PB_BUF_INIT, body = PB_BUF_INIT;
	char tmo[32];
	long timeout = (long)o->timeout_ms;

	*by_callback = false;
	if (next_batch)
		*next_batch = NULL;
	snprintf(tmo, sizeof(tmo), "%ld", timeout);
	int rc = pb_matrix__url(&u, m, "/_matrix/client/v3/sync");
	if (rc == 0)
		rc = pb_matrix__query(&u, "timeout", tmo);
	if (rc == 0 && o->since)
		rc = pb_matrix__query(&u, "since", o->since);
	if (rc == 0 && o->filter)
		rc = pb_matrix__query(&u, "filter", o->filter);
	if (rc == 0 && o->full_state)
		rc = pb_matrix__query(&u, "full_state", "true");
	if (rc < 0)
		goto out;
	pb_matrix__req r = {
		.method = "GET",
		.url = pb_buf_cstr(&u),
		.auth = true,
		.idempotent = true,
		/* the server may hold the request for the whole long-poll */
		.timeout_ms = timeout + m->request_timeout_ms,
		.out = &body,
	};
	rc = pb_matrix__request(m, &r);
	if (rc == 0) {
		rc = parse_and_deliver(m, o->since == NULL, body.data, body.len, cb, next_batch, NULL, by_callback);
		if (rc == PB_EMALFORMED)
			pb_error_set(rc, "matrix: GET /sync: %s", pb_error_last()->message);
	}
out:
	pb_buf_dispose(&u);
	pb_buf_dispose(&body);
	return rc;
}

int pb_matrix_sync(pb_matrix *m, const pb_matrix_sync_options *opts, const pb_matrix_sync_callbacks *cb,
		   char **next_batch)
{
	pb_matrix_sync_options defaults = PB_MATRIX_SYNC_OPTIONS_INIT;
	bool by_cb;
	int rc = opts ? PB_CHECK_VERSION(opts, PB_MATRIX_SYNC_OPTIONS, 1) : 0;
	if (rc == 0 && opts)
		rc = PB_CHECK_MS(opts, pb_matrix_sync_options, timeout_ms);
	if (rc < 0)
		return rc;
	return sync_round(m, opts ? opts : &defaults, cb, next_batch, &by_cb);
}

static bool transient(int rc)
{
	return rc == PB_EAGAIN || rc == PB_ETIMEOUT || rc == PB_EIO || rc == PB_EMALFORMED;
}

int pb_matrix_sync_loop(pb_matrix *m, const pb_matrix_sync_options *opts,
			const pb_matrix_sync_callbacks *cb)
{
	pb_matrix_sync_options o = PB_MATRIX_SYNC_OPTIONS_INIT;
	if (opts) {
		int vrc = PB_CHECK_VERSION(opts, PB_MATRIX_SYNC_OPTIONS, 1);
		if (vrc == 0)
			vrc = PB_CHECK_MS(opts, pb_matrix_sync_options, timeout_ms);
		if (vrc < 0)
			return vrc;
		o = *opts;
	}
	char *since = NULL;
	if (o.since && (since = pb_strdup(o.since)) == NULL)
		return PB_ENOMEM;
	unsigned failures = 0;
	int rc;
	for (;;) {
		char *next = NULL;
		bool by_cb = false;
		o.since = since;
		rc = sync_round(m, &o, cb, &next, &by_cb);
		if (rc == 0) {
			pb_free(since);
			since = next;
			failures = 0;
			continue;
		}
		if (by_cb || !transient(rc))
			break;
		long delay = m->retry_base_ms;
		for (unsigned i = 0; i < failures && delay < m->retry_cap_ms; i++)
			delay *= 2;
		delay = PB_MIN(delay, m->retry_cap_ms);
		failures++;
		pb_log_warning(PB_MATRIX_LOG, "%s; sync again in %ld ms", pb_error_last()->message, delay);
		if ((rc = pb_matrix__sleep(m, delay)) < 0)
			break;
	}
	pb_free(since);
	return rc;
}
