/*
 * libphonebridge — end-to-end encryption for the Matrix client (libolm).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A pb_matrix_crypto is the Olm account of one device (the user and device
 * of a logged-in pb_matrix handle) with its sessions:
 *
 *     pb_matrix_crypto_options o = PB_MATRIX_CRYPTO_OPTIONS_INIT;
 *     o.pickle_key_file = "/etc/phonebridge/e2ee.key";   (mode 0600)
 *     o.storage = (pb_matrix_crypto_storage){ my_load, my_save, my_store };
 *     pb_matrix_crypto *c;
 *     pb_matrix_whoami(m, NULL);
 *     pb_matrix_crypto_new(&c, m, &o);   (keys made or loaded, uploaded)
 *     pb_matrix_set_crypto(m, c);        (this handle now encrypts/decrypts)
 *
 * With a crypto object set on a handle:
 *  - pb_matrix_sync() handles the to-device events (Olm-encrypted
 *    m.room_key → inbound Megolm sessions), device_lists.changed and
 *    device_one_time_keys_count (one-time keys replenished), remembers
 *    every room's m.room.encryption, and delivers each m.room.encrypted
 *    timeline event it can decrypt as the event inside (with
 *    pb_matrix_event.decrypted = 1). One it cannot decrypt is delivered as
 *    it came (type "m.room.encrypted") after a room key request went to
 *    the sender's devices (not during an initial sync: that is history).
 *  - every room event sent to a room known to be encrypted (pb_matrix_send_*
 *    and pb_matrix_send_event) is Megolm-encrypted; the room key is first
 *    shared over Olm with every device of every joined or invited member.
 *    The outbound session is replaced after the room's rotation_period_msgs
 *    messages or rotation_period_ms (defaults 100 and one week), and when a
 *    device it was shared with is no longer in the room.
 *
 * Durability: every key is saved through the storage callbacks before the
 * call that made it returns, and the sync's next_batch is passed on only
 * after the to-device events were handled and saved. The Olm account is
 * saved after a one-time key is used and before any message it decrypted
 * is delivered, so a crash never reuses a one-time key; a Megolm message
 * index is saved before the message it encrypts is sent.
 *
 * Device verification and cross-signing are NOT implemented: keys of other
 * devices are checked only for a valid self-signature (Ed25519 over the
 * canonical JSON), i.e. trust on first use by the homeserver's word.
 *
 * Threads: one pb_matrix_crypto may be set on several handles used by
 * different threads; its calls are serialised by an internal lock. The
 * storage callbacks are called with that lock held.
 */
#ifndef PHONEBRIDGE_MATRIX_CRYPTO_H
#define PHONEBRIDGE_MATRIX_CRYPTO_H

#include <stdbool.h>
#include <stdint.h>

#include <phonebridge/common.h>
#include <phonebridge/matrix.h>

PB_BEGIN_DECLS

/** The Olm account of one device and its sessions (opaque). */
typedef struct pb_matrix_crypto pb_matrix_crypto;

/** Where keys and sessions live. Values are text (base64 pickles inside
 *  JSON), encrypted with the pickle key where they hold secrets. */
typedef struct pb_matrix_crypto_storage {
	/** Read @p key (borrowed): *value receives a new string (pb_malloc'd;
	 *  the library pb_free()s it). @return 0, PB_ENOTFOUND, or an error */
	int (*load)(const char *key, char **value, void *userdata);
	/** Write @p key = @p value (both borrowed), durably (committed) before
	 *  returning. @return 0 or an error */
	int (*save)(const char *key, const char *value, void *userdata);
	void *userdata;
} pb_matrix_crypto_storage;

/** Current version of pb_matrix_crypto_options. */
#define PB_MATRIX_CRYPTO_OPTIONS_VERSION 1u

/** How to keep the keys. Start from PB_MATRIX_CRYPTO_OPTIONS_INIT. */
typedef struct pb_matrix_crypto_options {
	unsigned version;          /**< PB_MATRIX_CRYPTO_OPTIONS_VERSION */
	/** File holding the pickle key (mode 0600 or stricter, at least 16
	 *  bytes). Used when pickle_key is NULL. */
	const char *pickle_key_file;
	/** The pickle key itself (tests, Python); NULL: read the file. */
	const char *pickle_key;
	pb_matrix_crypto_storage storage; /**< required */
	/** Key requests for undecryptable events: true (default) sends them. */
	bool key_requests;
} pb_matrix_crypto_options;

#define PB_MATRIX_CRYPTO_OPTIONS_INIT { PB_MATRIX_CRYPTO_OPTIONS_VERSION, NULL, NULL, { NULL, NULL, NULL }, true }

/**
 * Load this device's Olm account from the storage, or make a new one, and
 * upload its device keys and signed one-time keys (POST /keys/upload) when
 * the server lacks them. The handle must know its user and device ids
 * (login or pb_matrix_whoami()); an account stored for another user or
 * device is refused.
 *
 * @param out  receives the new object (pb_matrix_crypto_free())
 * @param m    used during the call only (not kept)
 * @param opts borrowed; the storage callbacks are copied and kept
 * @return 0, PB_EINVAL (no storage, no key, key too short), PB_ESTATE (no
 *         user/device id; stored account of another device), PB_EAUTH (key
 *         file mode), PB_EMALFORMED (stored data unreadable: wrong pickle
 *         key?), HTTP errors, PB_ENOMEM
 */
PB_API int pb_matrix_crypto_new(pb_matrix_crypto **out, pb_matrix *m,
				const pb_matrix_crypto_options *opts);

/** Free the object (NULL is fine); unset it from handles first. */
PB_API void pb_matrix_crypto_free(pb_matrix_crypto *c);

/**
 * Make @p m encrypt and decrypt with @p c (borrowed; must outlive its use
 * on @p m). NULL turns encryption off on the handle.
 */
PB_API void pb_matrix_set_crypto(pb_matrix *m, pb_matrix_crypto *c);

/** This device's identity key: @p algorithm "curve25519" or "ed25519".
 *  @return borrowed (valid as long as @p c), or NULL for another name */
PB_API const char *pb_matrix_crypto_identity_key(const pb_matrix_crypto *c, const char *algorithm);

/**
 * Whether @p room_id is encrypted as far as @p c knows (an m.room.encryption
 * seen by a sync, set with pb_matrix_crypto_set_room(), or read from the
 * room's state by pb_matrix_crypto_room_check()).
 * @return 1 encrypted, 0 not (or not known)
 */
PB_API int pb_matrix_crypto_room_encrypted(pb_matrix_crypto *c, const char *room_id);

/**
 * Remember that @p room_id is encrypted with @p content_json (the content
 * of its m.room.encryption, borrowed; NULL: the Megolm defaults). Saved.
 */
PB_API int pb_matrix_crypto_set_room(pb_matrix_crypto *c, const char *room_id,
				     const char *content_json);

/**
 * Read the room's m.room.encryption state through @p m and remember it.
 * @return 1 encrypted, 0 not, or an error
 */
PB_API int pb_matrix_crypto_room_check(pb_matrix_crypto *c, pb_matrix *m, const char *room_id);

/**
 * Make the room key of @p room_id's current outbound session (a new one if
 * due) known to every device of every joined or invited member that lacks
 * it. Sending does this by itself; call it to share before a send.
 */
PB_API int pb_matrix_crypto_share_room_key(pb_matrix_crypto *c, pb_matrix *m, const char *room_id);

/**
 * Decrypt one m.room.encrypted event of @p room_id again (e.g. one a sync
 * could not decrypt, once its key may have come). Asks no one for keys.
 *
 * @param event_json the whole event as JSON text; borrowed
 * @param plain_json receives the event with type and content replaced by
 *                   the decrypted ones (new, pb_free())
 * @return 0, PB_ENOTFOUND (no room key yet), PB_EMALFORMED, PB_EPROTO
 *         (replayed index, wrong room, cannot decrypt)
 */
PB_API int pb_matrix_crypto_decrypt(pb_matrix_crypto *c, const char *room_id, const char *event_json,
				    char **plain_json);

/** The number of inbound Megolm sessions this object stored since it was
 *  made (for tests and status). */
PB_API unsigned pb_matrix_crypto_inbound_count(pb_matrix_crypto *c);

/** The mxc file of an encrypted attachment (content.file of an encrypted
 *  m.image etc.): download, check its SHA-256 and decrypt (AES-256-CTR).
 *
 * @param file_json the "file" object as JSON text; borrowed
 * @param out       receives the plaintext (appended; caller-owned)
 * @return 0, PB_EMALFORMED (bad file object), PB_EPROTO (hash mismatch),
 *         download errors
 */
PB_API int pb_matrix_download_encrypted(pb_matrix *m, const char *file_json, pb_buf *out,
					size_t max_bytes);

/**
 * Encrypt bytes as an attachment for an encrypted room (AES-256-CTR with a
 * new random key and IV, SHA-256 of the ciphertext) and upload the
 * ciphertext as application/octet-stream. Give the result to
 * pb_matrix_send_media() in pb_matrix_media.file_json: the key travels
 * only inside the (Megolm-encrypted) event.
 *
 * @param file_json receives the "file" object as JSON text (new, pb_free();
 *                  it holds the key: wipe it)
 * @return 0, PB_ENOMEM, upload errors
 */
PB_API int pb_matrix_upload_encrypted(pb_matrix *m, const void *data, size_t len, char **file_json);

PB_END_DECLS

#endif
