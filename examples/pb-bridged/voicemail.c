/*
 * pb-bridged — voicemail in Matrix (docs/bridge.md "Voicemail"). pb-screend
 * stores each message in the shared store as an inbound journal row
 * (backend "screen:voicemail", body "duration_ms=N"; the bridge adopts it:
 * kind "voicemail" in its table, backend "screen") with the recording as
 * its attachment; the delivery thread posts it here like an MMS part:
 * upload, then m.audio with the row's transaction id, then the row is
 * delivered. A crash anywhere sends it again with the same transaction id,
 * which the homeserver answers with the first event: once in the room.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge.h"


/* 600 s (pb-screend's longest message) of 16-bit WAV is 9.6 MB */
#define VOICEMAIL_MAX_BYTES (16u * 1024 * 1024)

/* "duration_ms=N" from the row's body (pb-screend wrote it; checked all the same). */
static uint64_t duration_of(const char *body)
{
	const char *p = body ? strstr(body, "duration_ms=") : NULL;
	if (!p)
		return 0;
	char *end = NULL;
	errno = 0;
	unsigned long long ms = strtoull(p + strlen("duration_ms="), &end, 10);
	if (errno || end == p + strlen("duration_ms=") || ms > 3600000ull)
		return 0;
	return ms;
}

void pbb_voicemail_text(pb_store *st, const char *peer, uint64_t ms, char *out, size_t size)
{
	pb_store_contact *c = NULL;
	char pretty[PB_PHONE_MAX + 8];
	/* "+49 15177778888", "+1 415 555 0123": the number for people (pb_phone_format) */
	const char *who = !peer || !*peer ? "an unknown caller"
			  : pb_phone_format(pretty, sizeof(pretty), peer) == 0 ? pretty : peer;
	if (peer && pb_store_contact_get(st, peer, &c) == 0 && c->display_name && *c->display_name)
		snprintf(out, size, "Voicemail from %s (%s), %" PRIu64 ":%02u", c->display_name, who,
			 ms / 60000, (unsigned)((ms + 500) / 1000 % 60));
	else
		snprintf(out, size, "Voicemail from %s, %" PRIu64 ":%02u", who, ms / 60000,
			 (unsigned)((ms + 500) / 1000 % 60));
	pb_store_contact_free(c);
}

/* The file must be a regular file (not a link: pb-screend writes by rename,
 * nobody else writes there), of the size its row says, within the cap;
 * pb_store_attachment_read() then opens it with O_NOFOLLOW and checks its
 * hash. @return 0, 1 with @p why (permanent), or an error */
static int read_capped(pb_store *st, const pb_store_attachment *a, pb_buf *out, char *why, size_t whysize)
{
	if (a->size < 0 || (uint64_t)a->size > VOICEMAIL_MAX_BYTES) {
		snprintf(why, whysize, "the recording is %" PRId64 " bytes, over the %u MiB cap", a->size,
			 VOICEMAIL_MAX_BYTES >> 20);
		return 1;
	}
	char *path = pb_store_attachment_path(st, a->sha256);
	if (!path) {
		snprintf(why, whysize, "the recording's name in the store is not valid");
		return 1;
	}
	struct stat sb;
	int rc = 0;
	if (lstat(path, &sb) < 0) {
		snprintf(why, whysize, "the recording is not in the store: %s", strerror(errno));
		rc = 1;
	} else if (!S_ISREG(sb.st_mode) || sb.st_size != a->size) {
		snprintf(why, whysize, "the recording's file is not what its row says (a link, or another size)");
		rc = 1;
	}
	pb_free(path);
	if (rc == 0 && (rc = pb_store_attachment_read(st, a->sha256, out)) < 0) {
		snprintf(why, whysize, "the recording cannot be read: %s", pb_error_last()->message);
		rc = rc == PB_ENOMEM ? rc : 1;
	}
	return rc;
}

int pbb_voicemail_deliver(pb_store *st, pb_matrix *mx, pb_matrix_crypto *crypto, const pb_store_msg *r,
			  const char *room, const char *txn, char **event, char *why, size_t whysize)
{
	pb_store_attachment_list *al = NULL;
	int rc = pb_store_attachment_list_get(st, r->id, &al);
	if (rc < 0)
		return rc;
	pb_buf data = PB_BUF_INIT;
	const pb_store_attachment *a = al->count ? &al->items[0] : NULL;
	if (!a) {
		snprintf(why, whysize, "the message has no recording");
		rc = 1;
	} else {
		rc = read_capped(st, a, &data, why, whysize);
	}
	char *mxc = NULL, *file = NULL, text[400];
	const char *ct = a && a->content_type ? a->content_type : "audio/wav";
	if (rc == 0 && crypto && (rc = pb_matrix_crypto_room_check(crypto, mx, room)) > 0)
		rc = pb_matrix_upload_encrypted(mx, data.data, data.len, &file);
	else if (rc == 0)
		rc = pb_matrix_upload(mx, data.data, data.len, ct, a->name, &mxc);
	if (rc == 0) {
		uint64_t ms = duration_of(r->body);
		pbb_voicemail_text(st, r->peer, ms, text, sizeof(text));
		pb_matrix_media md = { "m.audio", text, a->name, mxc, ct, data.len, 0, 0, ms, file };
		rc = pb_matrix_send_media(mx, room, txn, &md, event);
	}
	pb_free(mxc);
	if (file) {
		explicit_bzero(file, strlen(file));
		pb_free(file);
	}
	pb_buf_dispose(&data);
	pb_store_attachment_list_free(al);
	return rc;
}
