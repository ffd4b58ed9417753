/*
 * libphonebridge — matrix: discovery, login, rooms and sending events
 * (client-server API v3).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "matrix/matrix-private.h"
#include "matrix/crypto-private.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <phonebridge/matrix.h>

/* A request body built with json_pack_ex(): PB_ENOMEM or PB_EINVAL (e.g. text
 * that is not UTF-8) when it could not be built. */
static int pack_failed(const json_error_t *err)
{
	if (strstr(err->text, "memory") != NULL)
		return pb_error__oom();
	return pb_error_set(PB_EINVAL, "matrix: cannot build the request: %s", err->text);
}

/* --- discovery -------------------------------------------------------------- */

static int check_versions(pb_matrix *m)
{
	pb_buf u = PB_BUF_INIT;
	json_t *ans = NULL;
	int rc = pb_matrix__url(&u, m, "/_matrix/client/versions");
	if (rc == 0)
		rc = pb_matrix__call(m, "GET", pb_buf_cstr(&u), NULL, true, &ans);
	if (rc == 0 && !json_is_array(json_object_get(ans, "versions")))
		rc = pb_error_set(PB_EPROTO, "matrix: %s is not a homeserver (no versions)", m->hs);
	json_decref(ans);
	pb_buf_dispose(&u);
	return rc;
}

int pb_matrix_discover(pb_matrix *m, const char *id)
{
	const char *server = id ? strchr(id, ':') : NULL;
	if (id && id[0] != '@')
		server = id; /* a bare server name */
	else if (server)
		server++;
	if (server == NULL || *server == '\0' || strpbrk(server, "/?#@ \t\r\n") != NULL)
		return pb_error_set(PB_EINVAL, "matrix: no server name in \"%s\"", id ? id : "(null)");

	const char *scheme = m->discovery_http ? "http://" : "https://";
	pb_buf url = PB_BUF_INIT, body = PB_BUF_INIT, base = PB_BUF_INIT;
	json_t *wk = NULL;
	int rc = pb_buf_printf(&url, "%s%s/.well-known/matrix/client", scheme, server);
	if (rc < 0)
		goto out;
	pb_matrix__req r = {
		.method = "GET", .url = pb_buf_cstr(&url), .idempotent = true, .follow = true, .out = &body,
	};
	rc = pb_matrix__request(m, &r);
	if (rc == PB_ENOTFOUND && m->status == 404) {
		/* spec: IGNORE, use the server name itself */
		rc = pb_buf_printf(&base, "%s%s", scheme, server);
	} else if (rc == 0) {
		const char *b;
		if (pb_matrix__parse_object(&body, "well-known", &wk) < 0 ||
		    (b = json_string_value(json_object_get(json_object_get(wk, "m.homeserver"), "base_url"))) == NULL) {
			rc = pb_error_set(PB_EPROTO, "matrix: %s: well-known has no m.homeserver.base_url",
					  server);
			goto out;
		}
		rc = pb_buf_puts(&base, b);
	}
	if (rc < 0)
		goto out;
	char *old = m->hs;
	m->hs = NULL;
	rc = pb_matrix__set_homeserver(m, pb_buf_cstr(&base));
	if (rc == 0)
		rc = check_versions(m);
	if (rc < 0) {
		pb_free(m->hs);
		m->hs = old;
	} else {
		pb_free(old);
		pb_log_info(PB_MATRIX_LOG, "homeserver of %s is %s", server, m->hs);
	}
out:
	json_decref(wk);
	pb_buf_dispose(&url);
	pb_buf_dispose(&body);
	pb_buf_dispose(&base);
	return rc;
}

/* --- login ------------------------------------------------------------------ */

static int remember_ids(pb_matrix *m, const json_t *ans)
{
	const char *uid = json_string_value(json_object_get(ans, "user_id"));
	const char *dev = json_string_value(json_object_get(ans, "device_id"));
	int rc = 0;
	if (uid)
		rc = pb_matrix__set_string(&m->user_id, uid);
	if (rc == 0 && dev)
		rc = pb_matrix__set_string(&m->device_id, dev);
	return rc;
}

int pb_matrix_login_password(pb_matrix *m, const char *user, const char *password,
			     const char *device_id)
{
	if (user == NULL || password == NULL)
		return pb_error_set(PB_EINVAL, "matrix: login needs a user and a password");
	json_error_t err;
	json_t *body = json_pack_ex(&err, 0, "{s:s, s:{s:s, s:s}, s:s, s:s, s:s*}",
				    "type", "m.login.password",
				    "identifier", "type", "m.id.user", "user", user,
				    "password", password,
				    "initial_device_display_name", "libphonebridge",
				    "device_id", device_id);
	if (body == NULL)
		return pack_failed(&err);
	pb_buf u = PB_BUF_INIT;
	json_t *ans = NULL;
	int rc = pb_matrix__url(&u, m, "/_matrix/client/v3/login");
	if (rc == 0)
		rc = pb_matrix__call(m, "POST", pb_buf_cstr(&u), body, false, &ans);
	if (rc == PB_EPROTO && strcmp(m->errcode, "M_FORBIDDEN") == 0)
		rc = pb_error_set(PB_EAUTH, "%s", pb_error_last()->message);
	if (rc == 0) {
		const char *tok = json_string_value(json_object_get(ans, "access_token"));
		if (tok == NULL || *tok == '\0')
			rc = pb_error_set(PB_EPROTO, "matrix: login answer has no access_token");
		else
			rc = pb_matrix_set_access_token(m, tok);
	}
	if (rc == 0)
		rc = remember_ids(m, ans);
	json_decref(ans);
	/* the serialised password went through pb_buf in __call and was freed */
	json_decref(body);
	pb_buf_dispose(&u);
	return rc;
}

int pb_matrix_whoami(pb_matrix *m, char **user_id)
{
	if (user_id)
		*user_id = NULL;
	pb_buf u = PB_BUF_INIT;
	json_t *ans = NULL;
	int rc = pb_matrix__url(&u, m, "/_matrix/client/v3/account/whoami");
	if (rc == 0)
		rc = pb_matrix__call(m, "GET", pb_buf_cstr(&u), NULL, true, &ans);
	if (rc == 0 && json_string_value(json_object_get(ans, "user_id")) == NULL)
		rc = pb_error_set(PB_EPROTO, "matrix: whoami answer has no user_id");
	if (rc == 0)
		rc = remember_ids(m, ans);
	if (rc == 0 && user_id && (*user_id = pb_strdup(m->user_id)) == NULL)
		rc = PB_ENOMEM;
	json_decref(ans);
	pb_buf_dispose(&u);
	return rc;
}

int pb_matrix_logout(pb_matrix *m)
{
	pb_buf u = PB_BUF_INIT;
	json_t *empty = json_object();
	int rc = empty ? pb_matrix__url(&u, m, "/_matrix/client/v3/logout") : pb_error__oom();
	if (rc == 0)
		rc = pb_matrix__call(m, "POST", pb_buf_cstr(&u), empty, true, NULL);
	/* an unknown token is as logged out as it gets */
	if (rc == 0 || rc == PB_EAUTH)
		rc = pb_matrix_set_access_token(m, NULL);
	json_decref(empty);
	pb_buf_dispose(&u);
	return rc;
}

static int need_user_id(pb_matrix *m)
{
	return m->user_id ? 0 : pb_matrix_whoami(m, NULL);
}

int pb_matrix_filter_upload(pb_matrix *m, const char *filter_json, char **filter_id)
{
	*filter_id = NULL;
	json_error_t err;
	json_t *f = json_loads(filter_json ? filter_json : "", 0, &err);
	if (!json_is_object(f)) {
		json_decref(f);
		return pb_error_set(PB_EINVAL, "matrix: filter is not a JSON object");
	}
	pb_buf u = PB_BUF_INIT;
	json_t *ans = NULL;
	int rc = need_user_id(m);
	if (rc == 0)
		rc = pb_matrix__url(&u, m, "/_matrix/client/v3/user/%s/filter", m->user_id);
	if (rc == 0)
		rc = pb_matrix__call(m, "POST", pb_buf_cstr(&u), f, true, &ans);
	if (rc == 0)
		rc = pb_matrix__take_string(ans, "filter_id", "filter", filter_id);
	json_decref(ans);
	json_decref(f);
	pb_buf_dispose(&u);
	return rc;
}

/* --- rooms ------------------------------------------------------------------ */

static int get_direct(pb_matrix *m, json_t **direct)
{
	pb_buf u = PB_BUF_INIT;
	int rc = need_user_id(m);
	if (rc == 0)
		rc = pb_matrix__url(&u, m, "/_matrix/client/v3/user/%s/account_data/m.direct", m->user_id);
	if (rc == 0)
		rc = pb_matrix__call(m, "GET", pb_buf_cstr(&u), NULL, true, direct);
	if (rc == PB_ENOTFOUND) {
		/* no m.direct yet */
		rc = (*direct = json_object()) ? 0 : pb_error__oom();
	}
	pb_buf_dispose(&u);
	return rc;
}

static int record_direct(pb_matrix *m, const char *user_id, const char *room_id)
{
	json_t *direct = NULL;
	pb_buf u = PB_BUF_INIT;
	int rc = get_direct(m, &direct);
	if (rc < 0)
		return rc;
	json_t *list = json_object_get(direct, user_id);
	if (!json_is_array(list)) {
		list = json_array();
		if (list == NULL || json_object_set_new(direct, user_id, list) != 0) {
			rc = pb_error__oom();
			goto out;
		}
	}
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), room_id) == 0)
			goto out; /* already there */
	}
	if (json_array_append_new(list, json_string(room_id)) != 0) {
		rc = pb_error__oom();
		goto out;
	}
	rc = pb_matrix__url(&u, m, "/_matrix/client/v3/user/%s/account_data/m.direct", m->user_id);
	if (rc == 0)
		rc = pb_matrix__call(m, "PUT", pb_buf_cstr(&u), direct, true, NULL);
out:
	json_decref(direct);
	pb_buf_dispose(&u);
	return rc;
}

/* POST /createRoom with @body: the new room's id in *rid. Not idempotent:
 * a retry after an unclear failure could make two rooms, so none is made. */
static int create_room(pb_matrix *m, const json_t *body, char **rid)
{
	pb_buf u = PB_BUF_INIT;
	json_t *ans = NULL;
	int rc = pb_matrix__url(&u, m, "/_matrix/client/v3/createRoom");
	if (rc == 0)
		rc = pb_matrix__call(m, "POST", pb_buf_cstr(&u), body, false, &ans);
	if (rc == 0)
		rc = pb_matrix__take_string(ans, "room_id", "createRoom", rid);
	json_decref(ans);
	pb_buf_dispose(&u);
	return rc;
}

int pb_matrix_create_dm(pb_matrix *m, const char *user_id, const char *name, char **room_id)
{
	if (room_id)
		*room_id = NULL;
	if (user_id == NULL || user_id[0] != '@' || strchr(user_id, ':') == NULL)
		return pb_error_set(PB_EINVAL, "matrix: \"%s\" is not a user id", user_id ? user_id : "(null)");
	json_error_t err;
	json_t *body = json_pack_ex(&err, 0, "{s:b, s:[s], s:s, s:s*}",
				    "is_direct", 1, "invite", user_id,
				    "preset", "trusted_private_chat", "name", name);
	if (body == NULL)
		return pack_failed(&err);
	char *rid = NULL;
	int rc = need_user_id(m);
	if (rc == 0)
		rc = create_room(m, body, &rid);
	if (rc == 0)
		rc = record_direct(m, user_id, rid);
	if (rc == 0 && room_id) {
		*room_id = rid;
		rid = NULL;
	}
	pb_free(rid);
	json_decref(body);
	return rc;
}

int pb_matrix_create_room(pb_matrix *m, const char *body_json, char **room_id)
{
	if (room_id)
		*room_id = NULL;
	json_t *body = body_json ? json_loads(body_json, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (!json_is_object(body)) {
		json_decref(body);
		return pb_error_set(PB_EINVAL, "matrix: createRoom: the body is not a JSON object");
	}
	char *rid = NULL;
	int rc = create_room(m, body, &rid);
	if (rc == 0 && room_id) {
		*room_id = rid;
		rid = NULL;
	}
	pb_free(rid);
	json_decref(body);
	return rc;
}

int pb_matrix_direct_room(pb_matrix *m, const char *user_id, char **room_id)
{
	*room_id = NULL;
	json_t *direct = NULL;
	int rc = get_direct(m, &direct);
	if (rc < 0)
		return rc;
	json_t *list = json_object_get(direct, user_id);
	size_t n = json_array_size(list);
	const char *first = n ? json_string_value(json_array_get(list, n - 1)) : NULL;
	if (first == NULL)
		rc = pb_error_set(PB_ENOTFOUND, "matrix: no direct room with %s", user_id);
	else if ((*room_id = pb_strdup(first)) == NULL)
		rc = PB_ENOMEM;
	json_decref(direct);
	return rc;
}

int pb_matrix_join(pb_matrix *m, const char *room, char **room_id)
{
	if (room_id)
		*room_id = NULL;
	pb_buf u = PB_BUF_INIT;
	json_t *empty = json_object(), *ans = NULL;
	int rc = empty ? pb_matrix__url(&u, m, "/_matrix/client/v3/join/%s", room) : pb_error__oom();
	/* joining twice is harmless */
	if (rc == 0)
		rc = pb_matrix__call(m, "POST", pb_buf_cstr(&u), empty, true, &ans);
	if (rc == 0 && room_id)
		rc = pb_matrix__take_string(ans, "room_id", "join", room_id);
	json_decref(ans);
	json_decref(empty);
	pb_buf_dispose(&u);
	return rc;
}

int pb_matrix_leave(pb_matrix *m, const char *room_id)
{
	pb_buf u = PB_BUF_INIT;
	json_t *empty = json_object();
	int rc = empty ? pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/leave", room_id)
		       : pb_error__oom();
	if (rc == 0)
		rc = pb_matrix__call(m, "POST", pb_buf_cstr(&u), empty, true, NULL);
	json_decref(empty);
	pb_buf_dispose(&u);
	return rc;
}

int pb_matrix_invite(pb_matrix *m, const char *room_id, const char *user_id)
{
	json_error_t err;
	json_t *body = json_pack_ex(&err, 0, "{s:s}", "user_id", user_id);
	if (body == NULL)
		return pack_failed(&err);
	pb_buf u = PB_BUF_INIT;
	int rc = pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/invite", room_id);
	if (rc == 0)
		rc = pb_matrix__call(m, "POST", pb_buf_cstr(&u), body, false, NULL);
	json_decref(body);
	pb_buf_dispose(&u);
	return rc;
}

static int put_state(pb_matrix *m, const char *room_id, const char *type, const char *state_key,
		     const json_t *content, char **event_id)
{
	pb_buf u = PB_BUF_INIT;
	json_t *ans = NULL;
	int rc = state_key && *state_key
			 ? pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/state/%s/%s", room_id, type,
					  state_key)
			 : pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/state/%s/", room_id, type);
	if (rc == 0)
		rc = pb_matrix__call(m, "PUT", pb_buf_cstr(&u), content, true, &ans);
	if (rc == 0 && event_id)
		rc = pb_matrix__take_string(ans, "event_id", "state", event_id);
	json_decref(ans);
	pb_buf_dispose(&u);
	return rc;
}

static int parse_content(const char *content_json, json_t **out)
{
	json_error_t err;
	json_t *c = json_loads(content_json ? content_json : "", 0, &err);
	if (!json_is_object(c)) {
		json_decref(c);
		return pb_error_set(PB_EINVAL, "matrix: content is not a JSON object: %s",
				    c ? "not an object" : err.text);
	}
	*out = c;
	return 0;
}

int pb_matrix_send_state(pb_matrix *m, const char *room_id, const char *type, const char *state_key,
			 const char *content_json, char **event_id)
{
	if (event_id)
		*event_id = NULL;
	json_t *c = NULL;
	int rc = parse_content(content_json, &c);
	if (rc == 0)
		rc = put_state(m, room_id, type, state_key, c, event_id);
	json_decref(c);
	return rc;
}

static int set_one(pb_matrix *m, const char *room_id, const char *type, const char *key,
		   const char *value)
{
	json_error_t err;
	json_t *c = json_pack_ex(&err, 0, "{s:s}", key, value);
	if (c == NULL)
		return pack_failed(&err);
	int rc = put_state(m, room_id, type, NULL, c, NULL);
	json_decref(c);
	return rc;
}

int pb_matrix_set_name(pb_matrix *m, const char *room_id, const char *name)
{
	return set_one(m, room_id, "m.room.name", "name", name);
}

int pb_matrix_set_topic(pb_matrix *m, const char *room_id, const char *topic)
{
	return set_one(m, room_id, "m.room.topic", "topic", topic);
}

int pb_matrix_set_avatar(pb_matrix *m, const char *room_id, const char *mxc_url)
{
	if (mxc_url == NULL || strncmp(mxc_url, "mxc://", 6) != 0)
		return pb_error_set(PB_EINVAL, "matrix: avatar must be an mxc:// URI");
	return set_one(m, room_id, "m.room.avatar", "url", mxc_url);
}

/* --- sending ------------------------------------------------------------------ */

int pb_matrix_txn_id(char *buf, size_t size)
{
	static atomic_uint counter;
	if (buf == NULL || size < PB_MATRIX_TXN_ID_SIZE)
		return pb_error_set(PB_ETOOBIG, "matrix: transaction id buffer under %d bytes",
				    PB_MATRIX_TXN_ID_SIZE);
	uint64_t rnd = 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (pb_random_bytes(&rnd, sizeof(rnd)) < 0)
		rnd = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)buf;
	unsigned n = atomic_fetch_add(&counter, 1u);
	snprintf(buf, size, "pb%llx.%x.%016llx",
		 (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)(ts.tv_nsec / 1000000),
		 n & 0xffffu, (unsigned long long)rnd);
	return 0;
}

/* PUT /rooms/{roomId}/send/{type}/{txnId}: idempotent by the spec. */
static int send_json(pb_matrix *m, const char *room_id, const char *type, const char *txn_id,
		     const json_t *content, char **event_id)
{
	if (txn_id == NULL || *txn_id == '\0')
		return pb_error_set(PB_EINVAL, "matrix: a transaction id is required");
	pb_buf u = PB_BUF_INIT;
	json_t *ans = NULL, *wrapped = NULL;
	int rc = 0;
	/* encrypted rooms: the same txn id carries the encrypted event, so a
	 * retry after a crash still gives one event */
	if (m->crypto && (rc = pb_matrix__crypto_wrap(m->crypto, m, room_id, type, content, &wrapped)) < 0)
		return rc;
	if (wrapped) {
		json_t *rel = json_object_get(content, "m.relates_to");
		if (rel)
			json_object_set(wrapped, "m.relates_to", rel);
		type = "m.room.encrypted";
		content = wrapped;
	}
	rc = pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/send/%s/%s", room_id, type, txn_id);
	if (rc == 0)
		rc = pb_matrix__call(m, "PUT", pb_buf_cstr(&u), content, true, &ans);
	json_decref(wrapped);
	if (rc == 0 && event_id)
		rc = pb_matrix__take_string(ans, "event_id", "send", event_id);
	json_decref(ans);
	pb_buf_dispose(&u);
	return rc;
}

int pb_matrix__send_json(pb_matrix *m, const char *room_id, const char *type, const char *txn_id,
			 const json_t *content, char **event_id)
{
	if (event_id)
		*event_id = NULL;
	return send_json(m, room_id, type, txn_id, content, event_id);
}

int pb_matrix_send_event(pb_matrix *m, const char *room_id, const char *type, const char *txn_id,
			 const char *content_json, char **event_id)
{
	if (event_id)
		*event_id = NULL;
	json_t *c = NULL;
	int rc = parse_content(content_json, &c);
	if (rc == 0)
		rc = send_json(m, room_id, type, txn_id, c, event_id);
	json_decref(c);
	return rc;
}

int pb_matrix_send_message(pb_matrix *m, const char *room_id, const char *txn_id, const char *msgtype,
			   const char *body, const char *html, char **event_id)
{
	if (event_id)
		*event_id = NULL;
	json_error_t err;
	json_t *c = html ? json_pack_ex(&err, 0, "{s:s, s:s, s:s, s:s}", "msgtype", msgtype, "body", body,
					"format", "org.matrix.custom.html", "formatted_body", html)
			 : json_pack_ex(&err, 0, "{s:s, s:s}", "msgtype", msgtype, "body", body);
	if (c == NULL)
		return pack_failed(&err);
	int rc = send_json(m, room_id, "m.room.message", txn_id, c, event_id);
	json_decref(c);
	return rc;
}

int pb_matrix_send_text(pb_matrix *m, const char *room_id, const char *txn_id, const char *body,
			const char *html, char **event_id)
{
	return pb_matrix_send_message(m, room_id, txn_id, "m.text", body, html, event_id);
}

int pb_matrix_send_reaction(pb_matrix *m, const char *room_id, const char *txn_id,
			    const char *target_event_id, const char *key, char **event_id)
{
	if (event_id)
		*event_id = NULL;
	json_error_t err;
	json_t *c = json_pack_ex(&err, 0, "{s:{s:s, s:s, s:s}}", "m.relates_to", "rel_type", "m.annotation",
				 "event_id", target_event_id, "key", key);
	if (c == NULL)
		return pack_failed(&err);
	int rc = send_json(m, room_id, "m.reaction", txn_id, c, event_id);
	json_decref(c);
	return rc;
}

int pb_matrix_redact(pb_matrix *m, const char *room_id, const char *target_event_id,
		     const char *txn_id, const char *reason, char **event_id)
{
	if (event_id)
		*event_id = NULL;
	if (txn_id == NULL || *txn_id == '\0')
		return pb_error_set(PB_EINVAL, "matrix: a transaction id is required");
	json_error_t err;
	json_t *c = json_pack_ex(&err, 0, "{s:s*}", "reason", reason);
	if (c == NULL)
		return pack_failed(&err);
	pb_buf u = PB_BUF_INIT;
	json_t *ans = NULL;
	int rc = pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/redact/%s/%s", room_id,
				target_event_id, txn_id);
	if (rc == 0)
		rc = pb_matrix__call(m, "PUT", pb_buf_cstr(&u), c, true, &ans);
	if (rc == 0 && event_id)
		rc = pb_matrix__take_string(ans, "event_id", "redact", event_id);
	json_decref(ans);
	json_decref(c);
	pb_buf_dispose(&u);
	return rc;
}

int pb_matrix_typing(pb_matrix *m, const char *room_id, bool typing, unsigned timeout_ms)
{
	if (timeout_ms > INT_MAX)
		return pb_error_set(PB_EINVAL, "pb_matrix_typing: timeout_ms %u is above INT_MAX "
				    "(a negative value?)", timeout_ms);
	json_error_t err;
	json_t *c = typing ? json_pack_ex(&err, 0, "{s:b, s:I}", "typing", 1,
					  "timeout", (json_int_t)(timeout_ms > 0 ? timeout_ms : 30000))
			   : json_pack_ex(&err, 0, "{s:b}", "typing", 0);
	if (c == NULL)
		return pack_failed(&err);
	pb_buf u = PB_BUF_INIT;
	int rc = need_user_id(m);
	if (rc == 0)
		rc = pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/typing/%s", room_id, m->user_id);
	if (rc == 0)
		rc = pb_matrix__call(m, "PUT", pb_buf_cstr(&u), c, true, NULL);
	json_decref(c);
	pb_buf_dispose(&u);
	return rc;
}

int pb_matrix_read_receipt(pb_matrix *m, const char *room_id, const char *event_id)
{
	pb_buf u = PB_BUF_INIT;
	json_t *empty = json_object();
	int rc = empty ? pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/receipt/m.read/%s", room_id,
					event_id)
		       : pb_error__oom();
	if (rc == 0)
		rc = pb_matrix__call(m, "POST", pb_buf_cstr(&u), empty, true, NULL);
	json_decref(empty);
	pb_buf_dispose(&u);
	return rc;
}
