/*
 * libphonebridge — matrix: what the module's files share. Not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_MATRIX_PRIVATE_H
#define PB_MATRIX_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/internal.h"
#include "http/http-private.h"

#include <phonebridge/matrix.h>

#define PB_MATRIX_LOG "matrix"

struct pb_matrix {
	pb_http__client http; /* the transfers, their cancel flag */
	char *hs;          /* base URL, no trailing slash; NULL until set */
	char *token;
	char *user_id;
	char *device_id;
	char *user_agent;
	char *ca_file;
	int tls_insecure;
	int discovery_http;
	long connect_timeout_ms;
	long request_timeout_ms;
	unsigned attempts; /* of one request: pb_matrix_options.retry */
	long retry_base_ms;
	long retry_cap_ms;
	bool v1_media_unsupported; /* learnt from a 404/405 M_UNRECOGNIZED */
	int status;           /* HTTP status of the last answer */
	char errcode[64];     /* errcode of the last Matrix error answer */
	struct pb_matrix_crypto *crypto; /* borrowed; NULL: no encryption */
	char *as_user;        /* application service: act as this user (user_id=); NULL: not */
};

/* One HTTP request; pb_matrix__request() fills the answer fields. */
typedef struct pb_matrix__req {
	const char *method;       /* "GET", "PUT", "POST" */
	const char *url;          /* absolute */
	const void *body;         /* NULL: no body */
	size_t body_len;
	const char *content_type; /* of the body; NULL: application/json */
	bool auth;                /* send the access token */
	bool idempotent;          /* safe to repeat after an unclear failure */
	bool follow;              /* follow redirects (media download) */
	long timeout_ms;          /* 0: the handle's request timeout */
	size_t max_bytes;         /* 0: no limit on the answer */
	/* answer */
	pb_buf *out;              /* body of the answer (required) */
	char **out_content_type;  /* if not NULL: new string or NULL */
} pb_matrix__req;

/*
 * Perform @r with the retry policy. 0 for a 2xx answer; otherwise a PB_E*
 * code with the last error set ("matrix: METHOD PATH: ...") and
 * m->status/m->errcode recorded.
 */
int pb_matrix__request(pb_matrix *m, pb_matrix__req *r);

/*
 * Append the homeserver base and @fmt to @u; every %s in @fmt takes the next
 * argument percent-encoded as one path segment. No other conversions.
 */
int pb_matrix__url(pb_buf *u, const pb_matrix *m, const char *fmt, ...);

/* Append "?key=value" or "&key=value" (value percent-encoded). */
int pb_matrix__query(pb_buf *u, const char *key, const char *value);

/* Append @s percent-encoded (RFC 3986 unreserved characters kept). */
int pb_matrix__escape(pb_buf *u, const char *s);

/*
 * JSON call: @body (borrowed, may be NULL) serialised as the request body;
 * the answer, which must be a JSON object, in @answer (new, json_decref();
 * may be NULL when not wanted).
 */
int pb_matrix__call(pb_matrix *m, const char *method, const char *url, const json_t *body,
		    bool idempotent, json_t **answer);

/* Serialise @json into @out (appended). */
int pb_matrix__dump(pb_buf *out, const json_t *json);

/* Parse a JSON object from @buf for an answer of @what; PB_EPROTO if not. */
int pb_matrix__parse_object(const pb_buf *buf, const char *what, json_t **out);

/* Copy string member @key of @obj into *@out (new); PB_EPROTO when absent. */
int pb_matrix__take_string(const json_t *obj, const char *key, const char *what, char **out);

/* Replace *@slot with a copy of @s (NULL clears). */
int pb_matrix__set_string(char **slot, const char *s);

/* PUT /rooms/{roomId}/send/{type}/{txnId} with @content (borrowed). */
int pb_matrix__send_json(pb_matrix *m, const char *room_id, const char *type, const char *txn_id,
			 const json_t *content, char **event_id);

/* Read a whole regular file of at most @max bytes into @out (secrets go
 * through pb_secret_read() instead). */
int pb_matrix__read_file(const char *path, pb_buf *out, size_t max);

/* Validate and set the base URL (trailing slashes dropped). */
int pb_matrix__set_homeserver(pb_matrix *m, const char *url);

/* Sleep @ms unless cancelled first: 0 or PB_ECANCELLED. */
int pb_matrix__sleep(pb_matrix *m, long ms);

/* Map an errcode / HTTP status to a PB_E* code (no retry considered). */
int pb_matrix__map_error(const char *errcode, long status);

/* Check a string is a plausible mxc:// URI; split into server and media id. */
int pb_matrix__mxc_split(const char *mxc, const char **server, size_t *server_len,
			 const char **media_id);

#endif
