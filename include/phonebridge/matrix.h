/*
 * libphonebridge — Matrix client-server API client (libcurl + jansson).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A pb_matrix handle talks to one homeserver as one user, following the
 * client-server specification (v3 paths, v1 authenticated media):
 *
 *     pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
 *     o.homeserver = "https://matrix.example.org";
 *     o.access_token_file = "/etc/phonebridge/matrix.token";
 *     pb_matrix *m;
 *     if (pb_matrix_new(&m, &o) < 0) ...
 *     char txn[PB_MATRIX_TXN_ID_SIZE];
 *     pb_matrix_txn_id(txn, sizeof(txn));
 *     pb_matrix_send_text(m, "!room:example.org", txn, "hello", NULL, NULL);
 *     pb_matrix_free(m);
 *
 * Threads: one handle belongs to one thread at a time; any number of handles
 * may be used at once in one process. pb_matrix_cancel() is the only
 * function that may be called on a handle from another thread.
 *
 * Calls block, with the timeouts of the options. Requests that the
 * specification makes idempotent (every send is a PUT with a caller-chosen
 * transaction id) are retried: 429 M_LIMIT_EXCEEDED after the server's
 * retry_after_ms (or Retry-After), 5xx answers, timeouts and dropped
 * connections with exponential back-off up to a cap. Requests that are not
 * idempotent (login, createRoom, join) are retried only when the server
 * certainly did not act (429, connection refused).
 *
 * Errors: PB_EAUTH for M_UNKNOWN_TOKEN / M_MISSING_TOKEN / M_USER_DEACTIVATED
 * (and a refused login), PB_ENOTFOUND for M_NOT_FOUND and 404, PB_EAGAIN when
 * retries ran out (429, 5xx), PB_ETIMEOUT, PB_EIO for transport failures,
 * PB_ECANCELLED after pb_matrix_cancel(), PB_EPROTO for other refusals (e.g.
 * M_FORBIDDEN) and answers that break the specification. The message of
 * pb_error_last() names the request, the HTTP status, the errcode and the
 * server's error text; pb_matrix_last_errcode() gives the errcode alone.
 * Access tokens and passwords are never logged nor put in messages.
 */
#ifndef PHONEBRIDGE_MATRIX_H
#define PHONEBRIDGE_MATRIX_H

#include <stdbool.h>
#include <stdint.h>

#include <phonebridge/buffer.h>
#include <phonebridge/common.h>

PB_BEGIN_DECLS

/* jansson's JSON value; include <jansson.h> to look inside. */
struct json_t;

/** A client of one homeserver (opaque). */
typedef struct pb_matrix pb_matrix;

/** Current version of pb_matrix_options (version 1 lacks retry). */
#define PB_MATRIX_OPTIONS_VERSION 2u

/** How to reach the homeserver. Start from PB_MATRIX_OPTIONS_INIT. */
typedef struct pb_matrix_options {
	unsigned version;              /**< PB_MATRIX_OPTIONS_VERSION */
	/** Base URL, e.g. "https://matrix.example.org" (no trailing path).
	 *  NULL: call pb_matrix_discover() before anything else. */
	const char *homeserver;
	/** Access token; NULL for none (then log in, or use the file). */
	const char *access_token;
	/** File holding the access token (mode 0600 or stricter; a trailing
	 *  newline is ignored). Used when access_token is NULL. */
	const char *access_token_file;
	const char *user_agent;        /**< NULL: "libphonebridge/VERSION" */
	const char *ca_file;           /**< CA bundle (PEM); NULL: the system's */
	/** true turns TLS certificate and host name checks OFF. For tests only. */
	bool tls_insecure;
	/** true: discovery fetches http:// (not https://) well-known. Tests only. */
	bool discovery_insecure_http;
	unsigned connect_timeout_ms;   /**< TCP+TLS connection; 0 = 10000 (the default) */
	unsigned request_timeout_ms;   /**< whole request (not sync); 0 = 60000 (the default) */
	/** Deprecated since 0.2, removed in 1.0: retry.attempts (which counts
	 *  attempts: max_retries + 1). Read when retry.attempts is 0; default 5.
	 *  (Not marked PB_DEPRECATED: PB_MATRIX_OPTIONS_INIT sets it by position,
	 *  and clang would warn each caller of the macro.) This and the next two
	 *  keep their place and type until then (the ABI), long as they were. */
	unsigned max_retries;
	/** Deprecated since 0.2, removed in 1.0: retry.initial_delay_ms, read
	 *  when that is 0; default 500. */
	long retry_base_ms;
	/** Deprecated since 0.2, removed in 1.0: retry.max_delay_ms, read when
	 *  that is 0; default 30000. */
	long retry_cap_ms;
	/* --- version 2 --- */
	/** Requests retried: idempotent ones after 429 (Retry-After), 5xx,
	 *  timeouts and dropped connections; the sync loop's back-off too.
	 *  0s: 6 attempts, 500 ms doubling up to 30000 ms (or the deprecated
	 *  members above, when set). */
	pb_retry_policy retry;
} pb_matrix_options;

/** Defaults: spec-safe timeouts, TLS verification on. */
#define PB_MATRIX_OPTIONS_INIT                                                   \
	{ PB_MATRIX_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, 0, 10000, 60000, \
	  5, 500, 30000, { 0, 0, 0 } }

/**
 * Make a handle. curl is initialised once per process on first use.
 *
 * @param out  receives the new handle (pb_matrix_free())
 * @param opts borrowed during the call; its strings are copied
 * @return 0, PB_EINVAL (bad options, e.g. a URL that is not http(s)),
 *         PB_EAUTH (token file unreadable or readable by group/others),
 *         PB_ENOMEM
 */
PB_API int pb_matrix_new(pb_matrix **out, const pb_matrix_options *opts);

/** Free a handle (NULL is fine). Does not log out. */
PB_API void pb_matrix_free(pb_matrix *m);

/**
 * Find the homeserver of a user id ("@alice:example.org") or a server name
 * through https://SERVER/.well-known/matrix/client (spec "Server
 * Discovery"), check it answers /_matrix/client/versions, and make it the
 * handle's homeserver. A 404 well-known falls back to https://SERVER.
 *
 * @param user_id_or_server borrowed
 * @return 0, PB_EINVAL (no server name), PB_EPROTO (invalid well-known or
 *         base URL not a homeserver), transport errors
 */
PB_API int pb_matrix_discover(pb_matrix *m, const char *user_id_or_server);

/** The homeserver base URL. @return borrowed (valid until the handle
 *  changes it), or NULL when none is set */
PB_API const char *pb_matrix_homeserver(const pb_matrix *m);

/**
 * Log in with m.login.password and identifier m.id.user; on success the
 * handle uses the new access token.
 *
 * @param user      localpart or full user id; borrowed
 * @param password  borrowed; never logged
 * @param device_id NULL to let the server choose one; borrowed
 * @return 0, PB_EAUTH (M_FORBIDDEN: wrong user or password), ...
 */
PB_API int pb_matrix_login_password(pb_matrix *m, const char *user, const char *password,
				    const char *device_id);

/** Use @p token (copied; NULL forgets the token). @return 0 or PB_ENOMEM */
PB_API int pb_matrix_set_access_token(pb_matrix *m, const char *token);

/** The access token in use. @return borrowed (until it changes), or NULL */
PB_API const char *pb_matrix_access_token(const pb_matrix *m);

/** The user id learnt from login or whoami. @return borrowed, or NULL */
PB_API const char *pb_matrix_user_id(const pb_matrix *m);

/** The device id learnt from login or whoami. @return borrowed, or NULL */
PB_API const char *pb_matrix_device_id(const pb_matrix *m);

/**
 * GET /account/whoami; remembers the user and device ids.
 *
 * @param user_id if not NULL, receives a new string (pb_free())
 * @return 0, PB_EAUTH (M_UNKNOWN_TOKEN, M_MISSING_TOKEN), ...
 */
PB_API int pb_matrix_whoami(pb_matrix *m, char **user_id);

/** POST /logout: the token stops working; the handle forgets it. */
PB_API int pb_matrix_logout(pb_matrix *m);

/**
 * The errcode of the last Matrix error answer on this handle (e.g.
 * "M_FORBIDDEN"). @return borrowed (until the next call); "" when the last
 * request did not fail with a Matrix error
 */
PB_API const char *pb_matrix_last_errcode(const pb_matrix *m);

/** The HTTP status of the last answer (0 when there was none). */
PB_API int pb_matrix_last_status(const pb_matrix *m);

/**
 * Ask a call running on @p m in another thread (typically a long-poll
 * sync) to stop: it returns PB_ECANCELLED within about a second, and every
 * later call does too until pb_matrix_cancel_reset(). Async-signal-unsafe
 * but thread-safe.
 */
PB_API void pb_matrix_cancel(pb_matrix *m);

/** Allow calls on @p m again after pb_matrix_cancel(). */
PB_API void pb_matrix_cancel_reset(pb_matrix *m);

/* --- sync --------------------------------------------------------------- */

/** Where an event came from in the /sync answer. */
typedef enum pb_matrix_section {
	PB_MATRIX_TIMELINE = 0,  /**< rooms.join.ROOM.timeline.events */
	PB_MATRIX_STATE = 1,     /**< rooms.join.ROOM.state.events (before the timeline) */
	PB_MATRIX_INVITE = 2,    /**< rooms.invite.ROOM.invite_state.events (stripped) */
	PB_MATRIX_LEAVE = 3,     /**< rooms.leave.ROOM.timeline.events */
} pb_matrix_section;

/**
 * One event of a /sync answer. Every pointer is borrowed and valid only
 * during the callback. Fields the event lacks are NULL (strings) or 0.
 */
typedef struct pb_matrix_event {
	pb_matrix_section section;
	const char *room_id;     /**< never NULL */
	const char *type;        /**< never NULL, e.g. "m.room.message" */
	const char *sender;      /**< may be NULL for hostile input */
	const char *event_id;    /**< NULL in stripped invite state */
	const char *state_key;   /**< NULL unless a state event */
	int64_t origin_server_ts; /**< milliseconds since 1970, 0 if absent */
	const char *msgtype;     /**< m.room.message: content.msgtype */
	const char *body;        /**< m.room.message: content.body */
	const char *membership;  /**< m.room.member: content.membership */
	const struct json_t *content; /**< the content object, never NULL */
	const struct json_t *json;    /**< the whole event object */
	/** true: the event arrived as m.room.encrypted and was decrypted (json
	 *  is then the original with type and content replaced); see
	 *  <phonebridge/matrix-crypto.h> */
	bool decrypted;
} pb_matrix_event;

/**
 * What a sync delivers, and to whom. Every callback may be NULL. A callback
 * that returns non-zero stops the delivery; that value is returned by the
 * sync call and the next_batch token is NOT saved, so the same events come
 * again on the next sync (at-least-once delivery).
 */
typedef struct pb_matrix_sync_callbacks {
	/** Each event, in order: state, then timeline, per room. */
	int (*event)(const pb_matrix_event *ev, void *userdata);
	/** An invite to @p room_id by @p inviter (may be NULL); called after
	 *  the room's PB_MATRIX_INVITE events. Strings borrowed. */
	int (*invite)(const char *room_id, const char *inviter, void *userdata);
	/** The user left or was kicked/banned from @p room_id (borrowed). */
	int (*leave)(const char *room_id, void *userdata);
	/** Save @p next_batch (borrowed) after every event was delivered:
	 *  give it back as `since` after a restart. */
	int (*next_batch)(const char *next_batch, void *userdata);
	void *userdata;
} pb_matrix_sync_callbacks;

/** Current version of pb_matrix_sync_options. */
#define PB_MATRIX_SYNC_OPTIONS_VERSION 1u

/** How to sync. Start from PB_MATRIX_SYNC_OPTIONS_INIT. */
typedef struct pb_matrix_sync_options {
	unsigned version;        /**< PB_MATRIX_SYNC_OPTIONS_VERSION */
	const char *since;       /**< NULL for an initial sync; borrowed */
	/** A filter id from pb_matrix_filter_upload() or inline filter JSON
	 *  (starting with '{'); NULL for none. Borrowed. */
	const char *filter;
	unsigned timeout_ms;     /**< long-poll wait on the server (0: answer at once); default 30000 */
	bool full_state;         /**< true: full_state=true */
} pb_matrix_sync_options;

#define PB_MATRIX_SYNC_OPTIONS_INIT { PB_MATRIX_SYNC_OPTIONS_VERSION, NULL, NULL, 30000, false }

/**
 * Upload a filter (POST /user/{userId}/filter).
 *
 * @param filter_json borrowed; a JSON object
 * @param filter_id   receives a new string (pb_free())
 */
PB_API int pb_matrix_filter_upload(pb_matrix *m, const char *filter_json, char **filter_id);

/**
 * Parse one /sync answer and deliver it through @p cb. This is the parser
 * of the homeserver's bytes that pb_matrix_sync() uses; hostile input gives
 * PB_EMALFORMED (with an offset), never a crash. Events that are not
 * objects or lack a string type are skipped.
 *
 * @param buf,len    the response body; borrowed
 * @param next_batch if not NULL, receives the new token (new, pb_free())
 * @param perr       may be NULL
 * @return 0, PB_EMALFORMED, PB_ENOMEM, or a callback's non-zero value
 */
PB_API int pb_matrix_sync_parse(const uint8_t *buf, size_t len, const pb_matrix_sync_callbacks *cb,
				char **next_batch, pb_parse_error *perr);

/**
 * One GET /sync (long-polls up to opts->timeout_ms for new events) and
 * deliver what it returns.
 *
 * @param opts       NULL for the defaults
 * @param next_batch if not NULL, receives the new token (new, pb_free())
 * @return 0, a callback's value, PB_ECANCELLED, errors as above
 */
PB_API int pb_matrix_sync(pb_matrix *m, const pb_matrix_sync_options *opts,
			  const pb_matrix_sync_callbacks *cb, char **next_batch);

/**
 * Sync in a loop from opts->since, each round with the previous round's
 * next_batch, until pb_matrix_cancel() (returns PB_ECANCELLED), a callback
 * returns non-zero, or an error that retrying cannot cure (PB_EAUTH, ...).
 * Transient failures are retried with back-off, without end.
 */
PB_API int pb_matrix_sync_loop(pb_matrix *m, const pb_matrix_sync_options *opts,
			       const pb_matrix_sync_callbacks *cb);

/* --- rooms -------------------------------------------------------------- */

/**
 * Create a direct room with @p user_id (is_direct, invite, preset
 * trusted_private_chat) and record it in the m.direct account data.
 *
 * @param name    room name, or NULL; borrowed
 * @param room_id if not NULL, receives a new string (pb_free())
 */
PB_API int pb_matrix_create_dm(pb_matrix *m, const char *user_id, const char *name, char **room_id);

/**
 * Create a room from a createRoom request body as given (POST
 * /_matrix/client/v3/createRoom): name, invite, is_direct, preset,
 * initial_state, power_level_content_override, ... Sent once, never
 * retried (a repeat could make a second room): an unclear failure is an
 * error and the caller must find out whether the room exists. Acts as the
 * user of pb_matrix_act_as() if any; records nothing in m.direct.
 *
 * @param body_json a JSON object as text; borrowed
 * @param room_id   if not NULL, receives a new string (pb_free())
 * @return 0, PB_EINVAL (not a JSON object), errors as for every request
 */
PB_API int pb_matrix_create_room(pb_matrix *m, const char *body_json, char **room_id);

/**
 * The room m.direct lists last (the most recently added) for @p user_id.
 *
 * @param room_id receives a new string (pb_free())
 * @return 0, PB_ENOTFOUND when there is none, ...
 */
PB_API int pb_matrix_direct_room(pb_matrix *m, const char *user_id, char **room_id);

/** Join a room by id or alias. @param room_id if not NULL, receives the
 *  joined room's id (new, pb_free()) */
PB_API int pb_matrix_join(pb_matrix *m, const char *room_id_or_alias, char **room_id);

/** Leave a room. */
PB_API int pb_matrix_leave(pb_matrix *m, const char *room_id);

/** Invite @p user_id to a room. */
PB_API int pb_matrix_invite(pb_matrix *m, const char *room_id, const char *user_id);

/** Set the room name (m.room.name). */
PB_API int pb_matrix_set_name(pb_matrix *m, const char *room_id, const char *name);

/** Set the room topic (m.room.topic). */
PB_API int pb_matrix_set_topic(pb_matrix *m, const char *room_id, const char *topic);

/** Set the room avatar (m.room.avatar) to an mxc:// URI. */
PB_API int pb_matrix_set_avatar(pb_matrix *m, const char *room_id, const char *mxc_url);

/**
 * Send any state event (PUT /rooms/{roomId}/state/{type}/{stateKey}).
 *
 * @param content_json a JSON object as text; borrowed
 * @param event_id     if not NULL, receives a new string (pb_free())
 */
PB_API int pb_matrix_send_state(pb_matrix *m, const char *room_id, const char *type,
				const char *state_key, const char *content_json, char **event_id);

/* --- sending ------------------------------------------------------------ */

/** Room for a transaction id and its NUL. */
#define PB_MATRIX_TXN_ID_SIZE 40

/**
 * Write a new unique transaction id ("pb" + time + random, URL-safe) into
 * @p buf. @return 0, or PB_ETOOBIG when @p size < PB_MATRIX_TXN_ID_SIZE
 */
PB_API int pb_matrix_txn_id(char *buf, size_t size);

/**
 * Send a room event: PUT /rooms/{roomId}/send/{type}/{txnId}. Sending again
 * with the same @p txn_id (e.g. after a crash) gives the same event id and
 * no second event.
 *
 * @param content_json a JSON object as text; borrowed
 * @param txn_id       caller-chosen, unique per access token; borrowed
 * @param event_id     if not NULL, receives a new string (pb_free())
 */
PB_API int pb_matrix_send_event(pb_matrix *m, const char *room_id, const char *type,
				const char *txn_id, const char *content_json, char **event_id);

/**
 * Send an m.room.message of @p msgtype "m.text", "m.notice" or "m.emote".
 *
 * @param html formatted body (org.matrix.custom.html), or NULL
 */
PB_API int pb_matrix_send_message(pb_matrix *m, const char *room_id, const char *txn_id,
				  const char *msgtype, const char *body, const char *html,
				  char **event_id);

/** pb_matrix_send_message() with m.text. */
PB_API int pb_matrix_send_text(pb_matrix *m, const char *room_id, const char *txn_id,
			       const char *body, const char *html, char **event_id);

/** React to @p target_event_id with @p key (m.reaction, m.annotation). */
PB_API int pb_matrix_send_reaction(pb_matrix *m, const char *room_id, const char *txn_id,
				   const char *target_event_id, const char *key, char **event_id);

/** Redact an event (PUT /rooms/{roomId}/redact/{eventId}/{txnId}).
 *  @param reason NULL for none */
PB_API int pb_matrix_redact(pb_matrix *m, const char *room_id, const char *target_event_id,
			    const char *txn_id, const char *reason, char **event_id);

/**
 * Send a typing notice; @p timeout_ms is how long it lasts when @p typing
 * (0 = 30000; unused when not typing).
 * @return 0; PB_EINVAL for a @p timeout_ms above INT_MAX (a C caller's -1);
 *         what the homeserver call returns
 */
PB_API int pb_matrix_typing(pb_matrix *m, const char *room_id, bool typing, unsigned timeout_ms);

/** Mark @p event_id read (m.read receipt). */
PB_API int pb_matrix_read_receipt(pb_matrix *m, const char *room_id, const char *event_id);

/* --- media -------------------------------------------------------------- */

/**
 * Upload bytes (POST /_matrix/media/v3/upload).
 *
 * @param content_type e.g. "image/jpeg"; NULL: application/octet-stream
 * @param filename     NULL for none; borrowed
 * @param mxc_url      receives the content URI (new, pb_free())
 */
PB_API int pb_matrix_upload(pb_matrix *m, const void *data, size_t len, const char *content_type,
			    const char *filename, char **mxc_url);

/** What a media message says about its file. */
typedef struct pb_matrix_media {
	const char *msgtype;   /**< m.image, m.video, m.audio, m.file; NULL: from mimetype */
	const char *body;      /**< shown text, usually the file name; never NULL */
	const char *filename;  /**< NULL: same as body */
	const char *url;       /**< mxc:// URI of the upload */
	const char *mimetype;  /**< NULL to leave out */
	uint64_t size;         /**< bytes; 0 to leave out */
	unsigned width, height; /**< pixels (images, videos); 0 to leave out */
	uint64_t duration_ms;  /**< audio/video; 0 to leave out */
	/** An encrypted attachment's "file" object as JSON text (from
	 *  pb_matrix_upload_encrypted(), <phonebridge/matrix-crypto.h>): sent
	 *  instead of url, which may then be NULL. NULL for a plain upload. */
	const char *file_json;
} pb_matrix_media;

/** Send a media message with its info object. */
PB_API int pb_matrix_send_media(pb_matrix *m, const char *room_id, const char *txn_id,
				const pb_matrix_media *media, char **event_id);

/**
 * Read a file, upload it and send it: msgtype from @p mimetype (image/..,
 * video/.., audio/.., else m.file); width and height filled in for PNG, GIF
 * and JPEG.
 *
 * @param mimetype NULL: guessed from the file's first bytes, else
 *                 application/octet-stream
 */
PB_API int pb_matrix_send_file(pb_matrix *m, const char *room_id, const char *txn_id,
			       const char *path, const char *mimetype, char **event_id);

/**
 * Download media by mxc:// URI through the authenticated
 * /_matrix/client/v1/media/download path, falling back to the legacy
 * /_matrix/media/v3/download path when the server does not know the new one
 * (remembered for the handle's later downloads).
 *
 * @param out          receives the bytes (appended; caller-owned)
 * @param content_type if not NULL, receives the Content-Type (new, pb_free())
 * @param max_bytes    refuse bigger answers with PB_ETOOBIG; 0: no limit
 */
PB_API int pb_matrix_download(pb_matrix *m, const char *mxc_url, pb_buf *out, char **content_type,
			      size_t max_bytes);

/**
 * The pixel size of a PNG, GIF or JPEG image from its first bytes, and its
 * MIME type. Parses outside bytes; never reads past @p len.
 *
 * @param mimetype if not NULL, receives a static string
 * @return 0, PB_EUNSUPPORTED (another format), PB_EMALFORMED
 */
PB_API int pb_matrix_image_info(const uint8_t *buf, size_t len, unsigned *width, unsigned *height,
				const char **mimetype);

/* --- secrets ------------------------------------------------------------ */

/**
 * Deprecated since 0.2, removed in 1.0: use pb_secret_read()
 * (phonebridge/secret.h), which this calls.
 * Read a secret (token, password) from a file, refusing it when it is not a
 * regular file or when group or others may read it. One trailing newline
 * (LF or CRLF) is removed.
 *
 * @param secret receives a new string (pb_free(); the caller should wipe it)
 * @return 0, PB_EAUTH (mode too open: the message says so), PB_EIO (also for
 *         a missing file), PB_EMALFORMED (empty, NUL bytes), PB_ETOOBIG (over
 *         64 KiB)
 */
PB_API int pb_matrix_read_secret_file(const char *path, char **secret);

/* --- application services ------------------------------------------------ */

/**
 * Act as @p user_id on every later authenticated request of @p m: the
 * Application Service API's identity assertion (`user_id=` on each request;
 * the handle's access token must be the service's as_token and the user in
 * its namespace). NULL acts as the service's own user again.
 *
 * @param user_id borrowed, copied; NULL to stop
 * @return 0, PB_EINVAL (not a user id), PB_ENOMEM
 */
PB_API int pb_matrix_act_as(pb_matrix *m, const char *user_id);

/** Whom @p m acts as (pb_matrix_act_as()). @return borrowed, or NULL */
PB_API const char *pb_matrix_acting_as(const pb_matrix *m);

/**
 * Register the user @p localpart of an application service (POST /register,
 * type m.login.application_service, inhibit_login; the handle's token is the
 * as_token). Sent without user_id= even while acting as someone.
 *
 * @param localpart borrowed
 * @return 0, PB_EEXISTS (M_USER_IN_USE: registered before, which is fine),
 *         PB_EPROTO (e.g. M_EXCLUSIVE: outside the namespace), transport errors
 */
PB_API int pb_matrix_register_appservice_user(pb_matrix *m, const char *localpart);

/**
 * Set a user's display name (PUT /profile/{userId}/displayname).
 *
 * @param user_id borrowed; NULL: the user acted as, else the handle's user
 * @param name    borrowed
 * @return 0, PB_EINVAL (no user known), errors as for every request
 */
PB_API int pb_matrix_set_displayname(pb_matrix *m, const char *user_id, const char *name);

/**
 * Set a user's avatar (PUT /profile/{userId}/avatar_url).
 *
 * @param user_id borrowed; NULL: the user acted as, else the handle's user
 * @param mxc_url an mxc:// URI (pb_matrix_upload()); borrowed
 * @return 0, PB_EINVAL (no user known, not an mxc:// URI), errors as for
 *         every request
 */
PB_API int pb_matrix_set_avatar_url(pb_matrix *m, const char *user_id, const char *mxc_url);

/**
 * The current state of every joined room (GET /joined_rooms, then GET
 * /rooms/{roomId}/state of each), delivered through @p cb as the state
 * events of a full-state /sync would be (section PB_MATRIX_STATE), for a
 * user that cannot /sync: Synapse refuses /sync to an application service.
 * One request per room: for scans, not for a loop.
 *
 * @param types NULL-terminated event types to deliver (borrowed); NULL: all
 * @param cb    borrowed; only @c event is called
 * @return 0, a callback's non-zero value, errors as for every request
 */
PB_API int pb_matrix_rooms_state(pb_matrix *m, const char *const *types, const pb_matrix_sync_callbacks *cb);

PB_END_DECLS

#endif
