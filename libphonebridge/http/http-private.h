/*
 * libphonebridge — http: the one HTTP transport of the library over libcurl
 * (the one curl_global_init, the base options of a transfer, capped sinks,
 * progress, cancel and stall detection, retries with back-off and
 * Retry-After). Not installed. Used by modem, mmsc and matrix, which keep
 * only what their protocol says about an answer (the judge of a request).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_HTTP_PRIVATE_H
#define PB_HTTP_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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


/* --- requests ------------------------------------------------------------- */

/*
 * What one user of the transport keeps between requests: a libcurl handle
 * (connections are reused) and a cancel flag that stops a running transfer
 * and any back-off wait, from any thread. Embedded in the user's object.
 */
typedef struct pb_http__client {
	CURL *curl;
	atomic_int cancelled;
	pthread_mutex_t lock; /* with cond: cancellable waits */
	pthread_cond_t cond;
	char errbuf[CURL_ERROR_SIZE];
	bool live; /* lock and cond initialised */
} pb_http__client;

/* Set up @cl (curl_global_init included): 0, PB_ENOMEM or PB_ERROR. */
int pb_http__client_init(pb_http__client *cl);

/* Release what @cl holds; idempotent, also after a failed init or on a
 * zeroed client that was never set up. */
void pb_http__client_dispose(pb_http__client *cl);

/* Cancel the running and every later request (and wait) until reset. */
void pb_http__cancel(pb_http__client *cl);
void pb_http__cancel_reset(pb_http__client *cl);

/* Wait @ms unless cancelled first: 0, or PB_ECANCELLED ("@what: cancelled"). */
int pb_http__sleep(pb_http__client *cl, long ms, const char *what);

/* One attempt's outcome, as the request's judge sees it. Borrowed strings
 * are valid during the judge call only. */
typedef struct pb_http__request pb_http__request;

typedef struct pb_http__answer {
	const pb_http__request *rq;
	unsigned attempt;         /* 1 for the first */
	CURLcode cc;              /* CURLE_OK: an HTTP answer came */
	const char *curl_error;   /* libcurl's words for cc */
	long status;              /* HTTP status; 0 when none */
	const char *content_type; /* borrowed, or NULL */
	const char *redirect_url; /* borrowed, or NULL */
	long retry_after_ms;      /* Retry-After (delta-seconds) in ms; -1: none */
	const uint8_t *body;      /* this attempt's body (in the request's out) */
	size_t body_len;
	bool too_big;             /* the body or headers passed max_bytes */
	bool oom;
	bool cancelled;           /* pb_http__cancel() or the progress callback */
	bool stalled;             /* no byte of the answer for stall_timeout_ms */
	bool request_sent;        /* a byte of the request went out */
	bool framed;              /* the body's end was announced (Content-Length,
				   * chunks, HTTP/2), not just a closed connection */
} pb_http__answer;

/* A judge's verdict on one attempt; the error message is set when code < 0. */
typedef struct pb_http__verdict {
	int code;      /* 0 or a PB_E* code */
	bool retry;    /* another attempt may succeed */
	long delay_ms; /* wait before it; -1: Retry-After, else the back-off */
} pb_http__verdict;

typedef pb_http__verdict (*pb_http__judge_fn)(const pb_http__answer *a, void *userdata);

/* Download progress; non-zero cancels the transfer. */
typedef int (*pb_http__progress_fn)(uint64_t now, uint64_t total, void *userdata);

struct pb_http__request {
	const char *what;            /* for messages, e.g. "matrix: GET /sync" */
	const char *method;          /* "GET", "POST", "PUT", "DELETE", ... */
	const char *url;
	const char *const *headers;  /* NULL-terminated "Name: value" lines, or NULL */
	const void *body;            /* sent with any method but GET (NULL: empty) */
	size_t body_len;
	pb_buf *out;                 /* the answer's body is appended (required) */
	pb_buf *out_headers;         /* if not NULL: the answer's header lines, appended */
	size_t max_bytes;            /* cap on the body and on the headers; 0: none */
	unsigned max_redirects;      /* 0: redirects are not followed */
	bool accept_encoding;        /* offer every content encoding libcurl decodes */
	long stall_timeout_ms;       /* > 0: give up once an answer stops moving this long */
	pb_http__progress_fn progress;
	void *progress_userdata;
	/* retries: another attempt when the judge says retry, up to attempts */
	unsigned attempts;           /* tries in all; 0 or 1: one */
	long backoff_base_ms;        /* doubled each retry ... */
	long backoff_cap_ms;         /* ... up to this */
	long retry_after_max_ms;     /* the longest Retry-After honoured */
	const char *log_domain;      /* where retries are logged */
	pb_http__judge_fn judge;     /* required */
	void *judge_userdata;
};

/*
 * Perform @rq on @cl with the base options @base (its errbuf is ignored: the
 * client's is used), retrying as the judge says: after its delay, after the
 * answer's Retry-After (capped by retry_after_max_ms) or after the back-off.
 * Each attempt starts the body afresh at the length rq->out had. Returns the
 * last verdict's code (0 or PB_E*, message set); PB_ECANCELLED when the wait
 * before a retry was cancelled. @last, when not NULL, receives the last
 * answer (its borrowed strings then dangle: only its scalars are for use).
 */
int pb_http__perform(pb_http__client *cl, const pb_http__base *base, const pb_http__request *rq,
		     pb_http__answer *last);

/*
 * The verdict on what the transport alone says (before any HTTP status):
 * code 0 when an answer came whole; otherwise the PB_E* code with the message
 * ("@what: ...") and whether trying again may help: always when nothing
 * reached the server (no connection), only for an @idempotent request when
 * the server may have acted (timeouts, cut connections), never for the rest
 * (TLS, size cap, cancel, a bad URL). delay_ms is -1.
 */
pb_http__verdict pb_http__transport_verdict(const pb_http__answer *a, const char *what, bool idempotent);

/* The PB_E* code of a libcurl failure (not CURLE_OK) and whether it left the
 * request unsent (retry always safe: *unsent) or the outcome unknown
 * (*unclear: retry only if idempotent); both false: retrying cannot help. */
int pb_http__curl_code(CURLcode cc, bool *unsent, bool *unclear);

#endif
