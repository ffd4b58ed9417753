/*
 * libphonebridge — matrix: what the encryption layer shares with sync.c and
 * client.c, and its pure rules (unit-tested). Not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_MATRIX_CRYPTO_PRIVATE_H
#define PB_MATRIX_CRYPTO_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <phonebridge/matrix-crypto.h>

/* Megolm defaults of the specification (m.room.encryption). */
#define PB_MEGOLM_ROTATION_MSGS 100
#define PB_MEGOLM_ROTATION_MS ((int64_t)604800000)

/* What an outbound session has done so far, for the rotation rule. */
typedef struct pb_matrix__og_use {
	int64_t created_ms;   /* when the session was made */
	uint64_t messages;    /* messages encrypted with it */
} pb_matrix__og_use;

/* The room's rules, read from its m.room.encryption content (borrowed; NULL
 * or missing members: the defaults; zero or negative values: defaults). */
void pb_matrix__rotation_rules(const json_t *encryption, uint64_t *msgs, int64_t *period_ms);

/*
 * Whether an outbound session must be replaced before its next message:
 * after @msgs messages, after @period_ms, or when a device it was shared
 * with is no longer among the room's devices (@device_left).
 */
bool pb_matrix__should_rotate(const pb_matrix__og_use *use, int64_t now_ms, uint64_t msgs,
			      int64_t period_ms, bool device_left);

/* Canonical JSON (spec appendix): sorted keys, no white space, UTF-8
 * unescaped; @obj without its "signatures" and "unsigned" members. */
int pb_matrix__canonical_json(pb_buf *out, const json_t *obj);

/* Called by sync.c for one /sync answer before its rooms are delivered:
 * to-device events, device lists, one-time key counts. */
int pb_matrix__crypto_sync(pb_matrix_crypto *c, pb_matrix *m, const json_t *root);

/* Called by sync.c for every room event: remembers m.room.encryption;
 * for m.room.encrypted, *@plain receives the decrypted event (new
 * reference; the original's fields with type and content replaced) or NULL.
 * @ask: request a missing key (not for the history of an initial sync). */
int pb_matrix__crypto_room_event(pb_matrix_crypto *c, pb_matrix *m, const char *room_id,
				 const json_t *event, bool ask, json_t **plain);

/* Called by client.c before a room event is sent: *@wrapped receives the
 * m.room.encrypted content (new) when the room is encrypted, else NULL. */
int pb_matrix__crypto_wrap(pb_matrix_crypto *c, pb_matrix *m, const char *room_id, const char *type,
			   const json_t *content, json_t **wrapped);

#endif
