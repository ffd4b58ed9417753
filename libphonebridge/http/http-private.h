/*
 * libphonebridge — http: what every libcurl user of the library shares (the
 * one curl_global_init, the base options of a transfer, a capped body sink).
 * Not installed. Used by modem, mmsc and matrix.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_HTTP_PRIVATE_H
#define PB_HTTP_PRIVATE_H

#include <stdbool.h>

#include <curl/curl.h>

#include "core/internal.h"

/* curl_global_init(), once per process, for every module: 0, or PB_ERROR
 * (message set) when libcurl cannot initialise. Thread-safe. */
int pb_http__init(void);

/* The options every transfer of the library sets the same way. */
typedef struct pb_http__base {
	const char *user_agent;   /* NULL = "libphonebridge/VERSION" */
	const char *ca_file;      /* NULL = the system's CAs */
	bool tls_insecure;        /* true = no peer/host verification (tests, self-signed boxes) */
	bool set_proxy;           /* false = libcurl's default (the environment) */
	const char *proxy;        /* with set_proxy: NULL or "" = no proxy at all */
	const char *interface;    /* NULL = any */
	long connect_timeout_ms;  /* 0 = libcurl's default */
	long timeout_ms;          /* whole transfer; 0 = none */
	char *errbuf;             /* CURL_ERROR_SIZE bytes, or NULL */
} pb_http__base;

/*
 * Set on @c: no signals, http/https only (also after redirects: a URL from
 * outside is never file:// or ftp://), the user agent, timeouts, TLS
 * verification and CA file, proxy and interface. Callers add their URL,
 * method, headers, body and sinks.
 */
void pb_http__setup(CURL *c, const pb_http__base *b);

/* A body/header sink that stops the transfer at @max bytes (too_big) or
 * when memory runs out (oom); for CURLOPT_WRITEFUNCTION/HEADERFUNCTION. */
typedef struct pb_http__sink {
	pb_buf *buf;
	size_t max;
	bool too_big;
	bool oom;
} pb_http__sink;

size_t pb_http__sink_write(char *ptr, size_t size, size_t n, void *sink);

/*
 * The wait before retry number @n + 1 (n = retries already made, 0 for the
 * first): @base doubled n times, never over @cap. No overflow for any n.
 */
long pb_http__backoff_ms(long base, long cap, unsigned n);

/*
 * An HTTP Retry-After value (RFC 9110, 10.2.3) of @len bytes in ms, or -1
 * when it is not delta-seconds (an HTTP date is left to the back-off);
 * values are capped at 100000 s.
 */
long pb_http__retry_after_ms(const char *v, size_t len);

#endif
