/*
 * libphonebridge — fuzz target for the Matrix parsers of homeserver bytes:
 * /sync answers (pb_matrix_sync_parse with every callback reading every
 * field), the image-size probe and mxc:// URIs.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Inputs starting with '{' or any byte but 0x01/0x02 go to the sync parser;
 * 0x01 + bytes: image info; 0x02 + text: mxc split.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <phonebridge/phonebridge.h>

#include "matrix/matrix-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t touch(const char *s)
{
	return s ? strlen(s) : 0;
}

static int on_event(const pb_matrix_event *ev, void *ud)
{
	size_t *n = ud;
	if (ev->room_id == NULL || ev->type == NULL || ev->content == NULL || ev->json == NULL ||
	    !json_is_object(ev->content) || ev->section > PB_MATRIX_LEAVE)
		abort();
	*n += touch(ev->room_id) + touch(ev->type) + touch(ev->sender) + touch(ev->event_id) +
	      touch(ev->state_key) + touch(ev->msgtype) + touch(ev->body) + touch(ev->membership) +
	      (size_t)(ev->origin_server_ts & 1);
	return 0;
}

static int on_invite(const char *room, const char *inviter, void *ud)
{
	*(size_t *)ud += touch(room) + touch(inviter);
	return 0;
}

static int on_leave(const char *room, void *ud)
{
	*(size_t *)ud += touch(room);
	return 0;
}

static int on_next(const char *nb, void *ud)
{
	if (nb == NULL || *nb == '\0')
		abort();
	*(size_t *)ud += touch(nb);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == 0x01) {
		unsigned w, h;
		const char *mt;
		pb_matrix_image_info(data + 1, size - 1, &w, &h, &mt);
		return 0;
	}
	if (size > 0 && data[0] == 0x02) {
		char *s = malloc(size);
		if (!s)
			return 0;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		const char *srv, *id;
		size_t sl;
		if (pb_matrix__mxc_split(s, &srv, &sl, &id) == 0 && (srv + sl > s + size || srv[sl] != '/'))
			abort();
		free(s);
		return 0;
	}
	size_t n = 0;
	pb_matrix_sync_callbacks cb = { on_event, on_invite, on_leave, on_next, &n };
	pb_parse_error perr;
	char *next = NULL;
	int rc = pb_matrix_sync_parse(data, size, &cb, &next, &perr);
	if (rc == 0 && next == NULL)
		abort();
	if (rc == PB_EMALFORMED && perr.offset > size)
		abort();
	pb_free(next);
	return 0;
}
