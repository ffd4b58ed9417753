/*
 * libphonebridge — an embedded HTTP listener (libmicrohttpd) for what calls
 * in: gateway webhooks, a homeserver's application-service transactions,
 * health and metrics endpoints.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *     pb_listener_options o = PB_LISTENER_OPTIONS_INIT;   // 127.0.0.1, any port
 *     pb_listener *l;
 *     pb_listener_new(&l, &o);
 *     pb_listener_route(l, "GET", "/health", health, NULL);
 *     pb_listener_start(l);
 *     ... pb_listener_port(l) ...
 *     pb_listener_free(l);                                // stops it
 *
 * Handlers run on the listener's own thread (one for all connections), never
 * on the caller's: keep them short and hand work on (a flag, a pipe, the
 * store). Requests over the size cap are answered 413 without reaching a
 * handler; an unknown path 404, a known path with another method 405.
 */
#ifndef PHONEBRIDGE_LISTENER_H
#define PHONEBRIDGE_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include <phonebridge/common.h>

PB_BEGIN_DECLS

typedef struct pb_listener pb_listener;
typedef struct pb_listener_request pb_listener_request;

/** Options of pb_listener_new(). */
typedef struct pb_listener_options {
	unsigned version;          /**< PB_LISTENER_OPTIONS_VERSION */
	/**
	 * Where to listen: "HOST:PORT", "[IPv6]:PORT", or ":PORT" / "PORT"
	 * for the loopback address; NULL = 127.0.0.1 on a port the system
	 * chooses (see pb_listener_port()). Port 0 = any free port.
	 * Loopback is the default on purpose: a wider address is a choice.
	 */
	const char *address;
	size_t max_body;           /**< request body cap in bytes; 0 = 64 KiB (larger: 413) */
	unsigned max_connections;  /**< connections at once; 0 = 32 */
	unsigned timeout_ms;       /**< an idle connection is closed after this; 0 = 10000 */
} pb_listener_options;

#define PB_LISTENER_OPTIONS_VERSION 1u
#define PB_LISTENER_OPTIONS_INIT { PB_LISTENER_OPTIONS_VERSION, NULL, 0, 0, 0 }

/**
 * A route's handler. Set the answer with pb_listener_respond(); without
 * one, the answer is 200 with an empty body.
 *
 * @param req borrowed, valid during the call
 * @return 0; a negative PB_E* code answers 500 (the handler's message is
 *         logged, not sent)
 */
typedef int (*pb_listener_handler)(pb_listener_request *req, void *userdata);

/**
 * Create a listener (not yet listening).
 *
 * @param out receives the listener: new, pb_listener_free()
 * @param opts borrowed; NULL = PB_LISTENER_OPTIONS_INIT
 * @return 0; PB_EINVAL (bad address or options version), PB_ENOMEM
 */
PB_API int pb_listener_new(pb_listener **out, const pb_listener_options *opts);

/**
 * Add a route, before pb_listener_start().
 *
 * @param method "GET", "POST", ...; NULL = any method
 * @param path an exact path ("/health"), or a prefix followed by one '*'
 *        (the prefix "/_matrix/app/v1/" then '*' for everything under it,
 *        "/" then '*' for every path); borrowed, copied
 * @param handler called for each matching request, with @p userdata
 * @return 0; PB_EINVAL (path not starting with '/'), PB_ESTATE (already
 *         started), PB_ENOMEM. The first matching route wins.
 */
PB_API int pb_listener_route(pb_listener *l, const char *method, const char *path,
			     pb_listener_handler handler, void *userdata);

/**
 * Bind the address and start answering on the listener's thread.
 *
 * @return 0; PB_EIO (cannot listen: the message says why), PB_ESTATE
 *         (already started)
 */
PB_API int pb_listener_start(pb_listener *l);

/** The port listened on (useful with port 0), or 0 before pb_listener_start(). */
PB_API unsigned pb_listener_port(const pb_listener *l);

/**
 * Stop listening (requests in progress finish first) and free.
 * @param l owned; may be NULL
 */
PB_API void pb_listener_free(pb_listener *l);

/** The request's method ("GET"). @return borrowed from @p req */
PB_API const char *pb_listener_request_method(const pb_listener_request *req);

/** The path of the request target as sent, without the query ("/hook"). @return borrowed */
PB_API const char *pb_listener_request_path(const pb_listener_request *req);

/** The query string as sent, after '?', still percent-encoded; "" when none. @return borrowed */
PB_API const char *pb_listener_request_query(const pb_listener_request *req);

/**
 * A request header (case-insensitive name), or NULL when absent.
 * @return borrowed from @p req
 */
PB_API const char *pb_listener_request_header(const pb_listener_request *req, const char *name);

/**
 * The request body (at most the listener's max_body bytes).
 * @param len receives its length
 * @return borrowed from @p req; NUL-terminated after @p len bytes
 */
PB_API const uint8_t *pb_listener_request_body(const pb_listener_request *req, size_t *len);

/**
 * Set the answer to a request (the last call wins).
 *
 * @param status HTTP status, 100..599
 * @param content_type e.g. "application/json"; NULL = none; copied
 * @param body borrowed, @p len bytes, copied; may be NULL when @p len is 0
 * @return 0; PB_EINVAL (status out of range), PB_ENOMEM
 */
PB_API int pb_listener_respond(pb_listener_request *req, unsigned status, const char *content_type,
			       const void *body, size_t len);

PB_END_DECLS

#endif
