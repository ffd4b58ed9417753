/*
 * libphonebridge — listener: an embedded HTTP server over libmicrohttpd,
 * with routes, a request size cap and the loopback address by default.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libmicrohttpd parses HTTP (request line, headers, chunked bodies) and runs
 * one internal thread that polls every connection; this file only routes
 * finished requests to handlers and caps what it buffers.
 */
#include "core/internal.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include <phonebridge/listener.h>

#define DOMAIN "listener"
#define DEFAULT_MAX_BODY (64 * 1024)
#define DEFAULT_MAX_CONNECTIONS 32
#define DEFAULT_TIMEOUT_MS 10000

typedef struct route {
	char *method; /* NULL = any */
	char *path;
	size_t prefix; /* > 0: match the first @prefix bytes */
	pb_listener_handler handler;
	void *userdata;
} route;

struct pb_listener {
	pb_listener_options opts;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char *address; /* for messages */
	route *routes;
	size_t nroutes;
	struct MHD_Daemon *mhd;
	unsigned port;
};

struct pb_listener_request {
	struct MHD_Connection *conn;
	const char *method;
	char *target;  /* as sent: path?query */
	char *path;
	const char *query;
	pb_buf body;
	bool too_big;
	bool started;
	/* the answer */
	unsigned status;
	char *content_type;
	pb_buf answer;
};

/* --- address ---------------------------------------------------------------- */

static int parse_address(pb_listener *l, const char *address)
{
	char host[256] = "127.0.0.1";
	const char *port = "0";
	if (address && *address) {
		const char *colon = strrchr(address, ':');
		if (address[0] == '[') {
			const char *close = strchr(address, ']');
			if (!close || close[1] != ':' || !close[2])
				return pb_error_set(PB_EINVAL, "listener: \"%s\": expected [IPv6]:PORT", address);
			snprintf(host, sizeof(host), "%.*s", (int)(close - address - 1), address + 1);
			port = close + 2;
		} else if (!colon) {
			port = address;
		} else {
			if (colon > address)
				snprintf(host, sizeof(host), "%.*s", (int)(colon - address), address);
			port = colon + 1;
		}
		if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
			return pb_error_set(PB_EINVAL, "listener: \"%s\": the port must be a number", address);
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai = NULL;
	int e = getaddrinfo(host, port, &hints, &ai);
	if (e != 0)
		return pb_error_set(PB_EINVAL, "listener: cannot resolve \"%s\": %s", host, gai_strerror(e));
	memcpy(&l->addr, ai->ai_addr, ai->ai_addrlen);
	l->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

PB_API int pb_listener_new(pb_listener **out, const pb_listener_options *opts)
{
	if (!out)
		return pb_error_set(PB_EINVAL, "pb_listener_new: out is NULL");
	*out = NULL;
	pb_listener_options def = PB_LISTENER_OPTIONS_INIT;
	if (!opts)
		opts = &def;
	int rc = PB_CHECK_VERSION(opts, PB_LISTENER_OPTIONS, 1);
	if (rc < 0)
		return rc;
	pb_listener *l = pb_calloc(1, sizeof(*l));
	if (!l)
		return pb_error__oom();
	l->opts = *opts;
	if (!l->opts.max_body)
		l->opts.max_body = DEFAULT_MAX_BODY;
	if (!l->opts.max_connections)
		l->opts.max_connections = DEFAULT_MAX_CONNECTIONS;
	if (!l->opts.timeout_ms)
		l->opts.timeout_ms = DEFAULT_TIMEOUT_MS;
	l->opts.address = NULL;
	if ((rc = parse_address(l, opts->address)) < 0 ||
	    !(l->address = pb_strdup(opts->address ? opts->address : "127.0.0.1:0"))) {
		pb_listener_free(l);
		return rc < 0 ? rc : pb_error__oom();
	}
	*out = l;
	return 0;
}

PB_API int pb_listener_route(pb_listener *l, const char *method, const char *path,
			     pb_listener_handler handler, void *userdata)
{
	if (!l || !path || path[0] != '/' || !handler)
		return pb_error_set(PB_EINVAL, "pb_listener_route: a path starting with '/' and a handler are required");
	if (l->mhd)
		return pb_error_set(PB_ESTATE, "pb_listener_route: the listener is already started");
	route *r = pb_realloc(l->routes, (l->nroutes + 1) * sizeof(*r));
	if (!r)
		return pb_error__oom();
	l->routes = r;
	r = &l->routes[l->nroutes];
	memset(r, 0, sizeof(*r));
	size_t len = strlen(path);
	if (!(r->path = pb_strdup(path)) || (method && !(r->method = pb_strdup(method)))) {
		pb_free(r->path);
		return pb_error__oom();
	}
	if (path[len - 1] == '*')
		r->prefix = len - 1;
	r->handler = handler;
	r->userdata = userdata;
	l->nroutes++;
	return 0;
}

/* --- requests --------------------------------------------------------------- */

/* libmicrohttpd hands the request target here before it decodes it: the
 * per-request state starts with the target as sent. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	pb_listener_request *r = pb_calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->conn = conn;
	r->target = pb_strdup(uri ? uri : "");
	if (!r->target) {
		pb_free(r);
		return NULL;
	}
	char *q = strchr(r->target, '?');
	r->path = pb_strndup(r->target, q ? (size_t)(q - r->target) : strlen(r->target));
	r->query = q ? q + 1 : "";
	if (!r->path) {
		pb_free(r->target);
		pb_free(r);
		return NULL;
	}
	return r;
}

static void request_free(pb_listener_request *r)
{
	if (!r)
		return;
	pb_free(r->target);
	pb_free(r->path);
	pb_buf_dispose(&r->body);
	pb_free(r->content_type);
	pb_buf_dispose(&r->answer);
	pb_free(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	request_free(*con_cls);
	*con_cls = NULL;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *ctype,
			      const void *body, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	enum MHD_Result ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result plain(struct MHD_Connection *conn, unsigned status, const char *text)
{
	return answer(conn, status, "text/plain; charset=utf-8", text, strlen(text));
}

static bool path_matches(const route *rt, const char *path)
{
	return rt->prefix ? strncmp(path, rt->path, rt->prefix) == 0 : strcmp(path, rt->path) == 0;
}

static enum MHD_Result dispatch(pb_listener *l, pb_listener_request *r)
{
	const route *hit = NULL;
	bool path_known = false;
	for (size_t i = 0; i < l->nroutes && !hit; i++) {
		if (!path_matches(&l->routes[i], r->path))
			continue;
		path_known = true;
		if (!l->routes[i].method || strcmp(l->routes[i].method, r->method) == 0)
			hit = &l->routes[i];
	}
	if (!hit)
		return path_known ? plain(r->conn, 405, "method not allowed\n") : plain(r->conn, 404, "not found\n");
	r->status = 200;
	int rc = hit->handler(r, hit->userdata);
	if (rc < 0) {
		pb_log_warning(DOMAIN, "%s %s: handler failed: %s", r->method, r->path, pb_error_last()->message);
		return plain(r->conn, 500, "internal error\n");
	}
	return answer(r->conn, r->status, r->content_type, r->answer.data, r->answer.len);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	(void)url;
	(void)version;
	pb_listener *l = cls;
	pb_listener_request *r = *con_cls;
	if (!r)
		return MHD_NO; /* out of memory in on_uri: drop the connection */
	if (!r->started) {
		r->started = true;
		r->method = method;
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > l->opts.max_body)
			r->too_big = true; /* answered once the body is drained */
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_big && r->body.len + *upload_size > l->opts.max_body)
			r->too_big = true;
		if (!r->too_big && pb_buf_put(&r->body, upload, *upload_size) < 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big) {
		char msg[96];
		snprintf(msg, sizeof(msg), "request body over %zu bytes\n", l->opts.max_body);
		return plain(conn, 413, msg);
	}
	return dispatch(l, r);
}

/* --- life cycle ------------------------------------------------------------- */

PB_API int pb_listener_start(pb_listener *l)
{
	if (!l)
		return pb_error_set(PB_EINVAL, "pb_listener_start: NULL listener");
	if (l->mhd)
		return pb_error_set(PB_ESTATE, "pb_listener_start: already started");
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	if (l->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	unsigned timeout_s = (l->opts.timeout_ms + 999) / 1000;
	l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&l->addr,
				  MHD_OPTION_URI_LOG_CALLBACK, on_uri, (void *)l,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)l,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)l->opts.max_connections,
				  MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
				  MHD_OPTION_END);
	if (!l->mhd)
		return pb_error_set(PB_EIO, "listener: cannot listen on %s (address in use or not ours?)",
				    l->address);
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_BIND_PORT);
	l->port = info ? info->port : 0;
	pb_log_info(DOMAIN, "listening on %s (port %u)", l->address, l->port);
	return 0;
}

PB_API unsigned pb_listener_port(const pb_listener *l)
{
	return l ? l->port : 0;
}

PB_API void pb_listener_free(pb_listener *l)
{
	if (!l)
		return;
	if (l->mhd)
		MHD_stop_daemon(l->mhd);
	for (size_t i = 0; i < l->nroutes; i++) {
		pb_free(l->routes[i].method);
		pb_free(l->routes[i].path);
	}
	pb_free(l->routes);
	pb_free(l->address);
	pb_free(l);
}

/* --- request accessors ------------------------------------------------------- */

PB_API const char *pb_listener_request_method(const pb_listener_request *req)
{
	return req ? req->method : NULL;
}

PB_API const char *pb_listener_request_path(const pb_listener_request *req)
{
	return req ? req->path : NULL;
}

PB_API const char *pb_listener_request_query(const pb_listener_request *req)
{
	return req ? req->query : NULL;
}

PB_API const char *pb_listener_request_header(const pb_listener_request *req, const char *name)
{
	if (!req || !name)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

PB_API const uint8_t *pb_listener_request_body(const pb_listener_request *req, size_t *len)
{
	if (len)
		*len = req ? req->body.len : 0;
	if (!req)
		return NULL;
	return req->body.data ? req->body.data : (const uint8_t *)"";
}

PB_API int pb_listener_respond(pb_listener_request *req, unsigned status, const char *content_type,
			       const void *body, size_t len)
{
	if (!req || status < 100 || status > 599 || (!body && len))
		return pb_error_set(PB_EINVAL, "pb_listener_respond: bad status or body");
	char *ct = NULL;
	if (content_type && !(ct = pb_strdup(content_type)))
		return pb_error__oom();
	pb_buf_clear(&req->answer);
	if (len && pb_buf_put(&req->answer, body, len) < 0) {
		pb_free(ct);
		return pb_error__oom();
	}
	pb_free(req->content_type);
	req->content_type = ct;
	req->status = status;
	return 0;
}
