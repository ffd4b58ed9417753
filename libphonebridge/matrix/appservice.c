/*
 * libphonebridge — matrix: what an application service does as a client
 * (Application Service API: identity assertion with user_id=, registering
 * its users, their profiles).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "matrix-private.h"

#include <string.h>

int pb_matrix_act_as(pb_matrix *m, const char *user_id)
{
	if (user_id && (user_id[0] != '@' || !strchr(user_id, ':')))
		return pb_error_set(PB_EINVAL, "matrix: act as: \"%s\" is not a user id", user_id);
	return pb_matrix__set_string(&m->as_user, user_id);
}

const char *pb_matrix_acting_as(const pb_matrix *m) { return m->as_user; }

int pb_matrix_register_appservice_user(pb_matrix *m, const char *localpart)
{
	if (localpart == NULL || *localpart == '\0')
		return pb_error_set(PB_EINVAL, "matrix: register: no localpart");
	pb_buf u = PB_BUF_INIT;
	/* the registering request carries the as_token only: no user_id= */
	char *as = m->as_user;
	m->as_user = NULL;
	json_t *body = json_pack("{s:s, s:s, s:b}", "type", "m.login.application_service", "username",
				 localpart, "inhibit_login", 1);
	int rc = body ? pb_matrix__url(&u, m, "/_matrix/client/v3/register") : pb_error__oom();
	/* not idempotent in general, but a repeat only meets M_USER_IN_USE */
	if (rc == 0)
		rc = pb_matrix__call(m, "POST", pb_buf_cstr(&u), body, true, NULL);
	if (rc < 0 && strcmp(m->errcode, "M_USER_IN_USE") == 0)
		rc = pb_error_set(PB_EEXISTS, "matrix: register: @%s exists already", localpart);
	m->as_user = as;
	json_decref(body);
	pb_buf_dispose(&u);
	return rc;
}

/* PUT /profile/{userId}/{field} with {field: value}: as the user acted as,
 * else the handle's user, when @user_id is NULL */
static int profile_put(pb_matrix *m, const char *user_id, const char *field, const char *value)
{
	if (user_id == NULL)
		user_id = m->as_user ? m->as_user : m->user_id;
	if (user_id == NULL || value == NULL)
		return pb_error_set(PB_EINVAL, "matrix: %s: no user id (whoami first) or no value", field);
	pb_buf u = PB_BUF_INIT;
	json_t *body = json_pack("{s:s}", field, value);
	int rc = body ? pb_matrix__url(&u, m, "/_matrix/client/v3/profile/%s/%s", user_id, field) : pb_error__oom();
	if (rc == 0)
		rc = pb_matrix__call(m, "PUT", pb_buf_cstr(&u), body, true, NULL);
	json_decref(body);
	pb_buf_dispose(&u);
	return rc;
}

int pb_matrix_set_displayname(pb_matrix *m, const char *user_id, const char *name)
{
	return profile_put(m, user_id, "displayname", name);
}

int pb_matrix_set_avatar_url(pb_matrix *m, const char *user_id, const char *mxc_url)
{
	if (mxc_url && strncmp(mxc_url, "mxc://", 6) != 0)
		return pb_error_set(PB_EINVAL, "matrix: avatar_url: \"%.80s\" is not an mxc:// URI", mxc_url);
	return profile_put(m, user_id, "avatar_url", mxc_url);
}

/* One room's current state (GET /rooms/{roomId}/state) as a /sync answer's
 * rooms.join.ROOM.state, only the events of @types (NULL: all). */
static int room_state(pb_matrix *m, const char *room, const char *const *types, json_t *join)
{
	pb_buf u = PB_BUF_INIT, res = PB_BUF_INIT;
	int rc = pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/state", room);
	pb_matrix__req r = { .method = "GET", .url = pb_buf_cstr(&u), .auth = true, .idempotent = true,
			     .out = &res };
	if (rc == 0)
		rc = pb_matrix__request(m, &r);
	json_t *all = NULL, *keep = NULL;
	if (rc == 0) {
		json_error_t je;
		all = json_loadb((const char *)res.data, res.len, 0, &je);
		if (!json_is_array(all))
			rc = pb_error_set(PB_EPROTO, "matrix: GET /rooms/%s/state: not an array of events", room);
	}
	if (rc == 0 && !(keep = json_array()))
		rc = pb_error__oom();
	size_t i;
	json_t *ev;
	json_array_foreach(all, i, ev) {
		if (rc < 0)
			break;
		const char *type = json_string_value(json_object_get(ev, "type"));
		bool wanted = types == NULL;
		for (size_t k = 0; !wanted && type && types[k]; k++)
			wanted = strcmp(type, types[k]) == 0;
		if (wanted && json_array_append(keep, ev) < 0)
			rc = pb_error__oom();
	}
	if (rc == 0 && json_object_set_new(join, room, json_pack("{s:{s:O}}", "state", "events", keep)) < 0)
		rc = pb_error__oom();
	json_decref(keep);
	json_decref(all);
	pb_buf_dispose(&u);
	pb_buf_dispose(&res);
	return rc;
}

int pb_matrix_rooms_state(pb_matrix *m, const char *const *types, const pb_matrix_sync_callbacks *cb)
{
	pb_buf u = PB_BUF_INIT;
	json_t *ans = NULL, *sync = json_pack("{s:s, s:{s:{}}}", "next_batch", "rooms_state", "rooms", "join");
	int rc = sync ? pb_matrix__url(&u, m, "/_matrix/client/v3/joined_rooms") : pb_error__oom();
	if (rc == 0)
		rc = pb_matrix__call(m, "GET", pb_buf_cstr(&u), NULL, true, &ans);
	json_t *rooms = json_object_get(ans, "joined_rooms");
	if (rc == 0 && !json_is_array(rooms))
		rc = pb_error_set(PB_EPROTO, "matrix: joined_rooms: no joined_rooms array");
	json_t *join = json_object_get(json_object_get(sync, "rooms"), "join");
	size_t i;
	json_t *room;
	json_array_foreach(rooms, i, room) {
		if (rc < 0)
			break;
		if (json_string_value(room))
			rc = room_state(m, json_string_value(room), types, join);
	}
	char *text = rc == 0 ? json_dumps(sync, JSON_COMPACT) : NULL;
	if (rc == 0 && !text)
		rc = pb_error__oom();
	if (rc == 0)
		rc = pb_matrix_sync_parse((const uint8_t *)text, strlen(text), cb, NULL, NULL);
	free(text);
	json_decref(ans);
	json_decref(sync);
	pb_buf_dispose(&u);
	return rc;
}
