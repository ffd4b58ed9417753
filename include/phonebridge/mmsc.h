/*
 * libphonebridge — MMS over HTTP: fetch from the MMSC, acknowledge, send.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A pb_mmsc is one carrier's MMSC reached the way the carrier wants it:
 * through its WAP proxy, from the APN's network interface, with the
 * User-Agent and x-wap-profile it expects. Calls block, with the timeouts
 * given in the options; one pb_mmsc must not be used by two threads at once
 * (make one per thread).
 *
 *     pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
 *     o.mmsc_url = "http://mms.carrier.example/mms/wapenc";
 *     o.proxy = "10.0.0.10:8080";
 *     o.interface = "if!wwan0";
 *     pb_mmsc *m;
 *     if (pb_mmsc_new(&m, &o) < 0) ...
 *     pb_buf pdu = PB_BUF_INIT;
 *     pb_mmsc_result r;
 *     if (pb_mmsc_fetch(m, location, &pdu, &r) < 0)
 *         fprintf(stderr, "HTTP %ld: %s\n", r.http_status, pb_error_last()->message);
 *
 * Errors (the code; the message says more and names the HTTP status):
 *   PB_EPROTO      the MMSC answered with something that is not an MMS PDU
 *                  (HTML or text page, empty body), a redirect that was not
 *                  followed, or an HTTP error status without a better code
 *   PB_ENOTFOUND   HTTP 404 or 410 (message expired or already fetched)
 *   PB_EAUTH       HTTP 401, 403 or 407, or the TLS peer failed verification
 *   PB_EAGAIN      a transient failure (502/503/504, connection reset) that
 *                  outlasted the retry policy
 *   PB_ETIMEOUT    a timeout that outlasted the retry policy
 *   PB_EIO         connect, resolve or interface-binding failure
 *   PB_ETOOBIG     the body exceeded max_download (download aborted)
 *   PB_ECANCELLED  the progress callback asked to stop
 */
#ifndef PHONEBRIDGE_MMSC_H
#define PHONEBRIDGE_MMSC_H

#include <stdbool.h>

#include <phonebridge/common.h>
#include <phonebridge/buffer.h>

PB_BEGIN_DECLS

/** A configured MMSC client. */
typedef struct pb_mmsc pb_mmsc;

/**
 * Download progress: @p now bytes received of @p total (0 when the MMSC did
 * not say). Return 0 to go on, anything else to abort (PB_ECANCELLED).
 */
typedef int (*pb_mmsc_progress_cb)(uint64_t now, uint64_t total, void *userdata);

/**
 * When to try again. Only transient failures are retried: connect and
 * resolve failures, timeouts, connections dropped mid-answer, and HTTP 502,
 * 503 and 504. Never 4xx, never a body that is not an MMS PDU, never an
 * oversize message. The delay before attempt n+1 is
 * min(initial_delay_ms * 2^(n-1), max_delay_ms).
 */
typedef struct pb_mmsc_retry {
	unsigned attempts;         /**< total attempts, 1 = no retry (default 3) */
	unsigned initial_delay_ms; /**< first back-off (default 1000) */
	unsigned max_delay_ms;     /**< cap of the back-off (default 30000) */
} pb_mmsc_retry;

/** Options of pb_mmsc_new(). Strings are copied; NULL means "not set". */
typedef struct pb_mmsc_options {
	int version; /**< PB_MMSC_OPTIONS_VERSION */
	/** Where M-Send.req, M-NotifyResp.ind and M-Acknowledge.ind are POSTed,
	 *  e.g. "http://mms.carrier.example/mms/wapenc". Needed for posting
	 *  and for rewrite rules that say base=mmsc. */
	const char *mmsc_url;
	/** The carrier's WAP proxy as "host:port" (or "http://host:port").
	 *  NULL: no proxy; proxy environment variables are ignored, so
	 *  behaviour does not depend on the caller's shell. */
	const char *proxy;
	/** Interface or source address to send from (the APN's interface), in
	 *  libcurl's CURLOPT_INTERFACE syntax: "if!wwan0" (interface only),
	 *  "host!10.64.1.2" (source address only), or a bare name/address. */
	const char *interface;
	/** User-Agent header (default "libphonebridge/VERSION"). Carriers
	 *  often accept only a phone's string. */
	const char *user_agent;
	/** x-wap-profile header: the UAProf URL the carrier expects. */
	const char *wap_profile;
	/** More headers, "Name: value" each, NULL-terminated array (e.g. a CDMA
	 *  carrier's NAI header). The array and strings are copied. */
	const char *const *extra_headers;
	/** Largest body accepted, in bytes (default 1 MiB, 0 = default). A
	 *  larger declared Content-Length fails before the body is read; an
	 *  undeclared one is cut off as it arrives. */
	size_t max_download;
	unsigned connect_timeout_ms; /**< default 15000 */
	unsigned timeout_ms;         /**< whole request, default 120000 */
	pb_mmsc_retry retry;         /**< see pb_mmsc_retry */
	/** Retry M-Send.req after a transient failure. Off by default: the
	 *  MMSC may have accepted the first attempt before the connection
	 *  dropped, and a retry would deliver the message twice.
	 *  M-NotifyResp.ind and M-Acknowledge.ind are always retried (they
	 *  are idempotent per transaction id). */
	bool retry_send;
	/** Redirects to follow on GET (default 0: a 3xx is an error that names
	 *  the Location). Only http and https targets are followed. */
	unsigned max_redirects;
	/** TLS: CA bundle file instead of the system store. */
	const char *ca_file;
	/** TLS: skip certificate verification. Dangerous; for lab MMSCs with
	 *  self-signed certificates only. Off by default. */
	bool tls_insecure;
	/** Content-Location rewrite rules, NULL-terminated array, first match
	 *  wins; see pb_mmsc_rewrite_location(). Copied. */
	const char *const *rewrite_rules;
	/** Called during downloads; may be NULL. */
	pb_mmsc_progress_cb progress;
	void *progress_userdata; /**< passed to progress; not owned */
	/** X-Mms-Report-Allowed in the M-NotifyResp.ind and M-Acknowledge.ind
	 *  this client sends: 128 yes, 129 no, 0 left out (default). */
	int report_allowed;
} pb_mmsc_options;

#define PB_MMSC_OPTIONS_VERSION 1
#define PB_MMSC_OPTIONS_INIT { PB_MMSC_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, \
	0, 0, 0, { 0, 0, 0 }, false, 0, NULL, false, NULL, NULL, NULL, 0 }

/** What an HTTP exchange gave, filled in whether it succeeded or not. */
typedef struct pb_mmsc_result {
	long http_status;       /**< last HTTP status, 0 when none arrived */
	unsigned attempts;      /**< attempts made */
	size_t bytes;           /**< body bytes received on the last attempt */
	char content_type[128]; /**< Content-Type of the answer, "" when absent */
	char location[512];     /**< Location of a redirect not followed, else "" */
	char url[1024];         /**< the URL finally requested (after rewrite) */
} pb_mmsc_result;

/**
 * Make an MMSC client.
 *
 * @param out  receives the new client (free with pb_mmsc_free())
 * @param opts options, copied; NULL for the defaults
 * @return 0, PB_EINVAL (bad option: version, a rewrite rule, a header
 *         without ':'), or PB_ENOMEM
 */
PB_API int pb_mmsc_new(pb_mmsc **out, const pb_mmsc_options *opts);

/** Free a client. NULL is fine. */
PB_API void pb_mmsc_free(pb_mmsc *mmsc);

/**
 * Fetch a message: GET @p location (after the rewrite rules) and check that
 * the answer is an MMS PDU (status 2xx, not empty, not an HTML or text
 * page, first byte X-Mms-Message-Type).
 *
 * @param mmsc     the client
 * @param location the Content-Location of an M-Notification.ind; borrowed
 * @param body     caller-owned buffer the PDU is appended to (on failure it
 *                 holds what was received, for diagnostics)
 * @param res      filled in; may be NULL
 * @return 0 or a code listed at the top of this header
 */
PB_API int pb_mmsc_fetch(pb_mmsc *mmsc, const char *location, pb_buf *body, pb_mmsc_result *res);

/** What is POSTed, which decides whether a failure is retried. */
typedef enum pb_mmsc_post_kind {
	PB_MMSC_POST_NOTIFYRESP = 0, /**< M-NotifyResp.ind: always retried */
	PB_MMSC_POST_ACK = 1,        /**< M-Acknowledge.ind: always retried */
	PB_MMSC_POST_SEND = 2,       /**< M-Send.req: retried only with retry_send */
} pb_mmsc_post_kind;

/**
 * POST an encoded PDU to the MMSC URL as application/vnd.wap.mms-message.
 * The answer is appended to @p answer; for PB_MMSC_POST_SEND it must be an
 * MMS PDU (checked as in pb_mmsc_fetch()); for the others any 2xx answer,
 * empty included, is success.
 *
 * @param pdu    borrowed, @p len bytes
 * @param answer caller-owned; may be NULL when the answer is not wanted
 * @param res    filled in; may be NULL
 * @return 0, PB_EINVAL (no mmsc_url), or a code listed at the top
 */
PB_API int pb_mmsc_post(pb_mmsc *mmsc, pb_mmsc_post_kind kind, const uint8_t *pdu, size_t len,
			pb_buf *answer, pb_mmsc_result *res);

/**
 * Rebuild a Content-Location with the client's rewrite rules (the same
 * rewrite pb_mmsc_fetch() applies).
 *
 * @param out receives a new string (pb_free()): the rewritten URL, or a copy
 *            of @p location when no rule matched
 * @return 0, PB_EINVAL (the result is not a valid URL), or PB_ENOMEM
 */
PB_API int pb_mmsc_rewrite(const pb_mmsc *mmsc, const char *location, char **out);

/**
 * Apply one rewrite rule to a Content-Location, without a client.
 *
 * A rule is space-separated key=value words:
 *
 *   match=TEXT   apply only when the location contains TEXT (default: any)
 *   base=URL     the URL to build on; "base=mmsc" means the client's
 *                mmsc_url (then @p mmsc_url is used)
 *   keep=WHAT    what to take from the location and append to base:
 *                  all    the location as given (the router kept only the
 *                         tail: "wapenc?T=abc" -> base + "wapenc?T=abc")
 *                  path   its path and query (host dropped)
 *                  last   its last path segment and query
 *                  query  its query only ("?..." appended to base as is)
 *                default: all
 *   host=HOST[:PORT]  instead of base/keep: replace the host (and port) of
 *                an absolute location, keeping scheme, path and query
 *
 * Base and the kept part are joined with exactly one '/' (none before a
 * query). The result must parse as an http(s) URL.
 *
 * Examples, for "http://10.1.1.1/mms/wapenc?T=abc" kept by a router as
 * "/mms/wapenc?T=abc":
 *   "base=http://mms.carrier.example keep=path" -> http://mms.carrier.example/mms/wapenc?T=abc
 *   "host=mms.carrier.example:8002"  on the full URL -> http://mms.carrier.example:8002/mms/wapenc?T=abc
 *
 * @param rule      the rule; borrowed
 * @param mmsc_url  used for base=mmsc; may be NULL
 * @param location  the Content-Location; borrowed
 * @param out       receives a new string (pb_free()), or NULL when the rule's
 *                  match= did not match (return value 0)
 * @return 0, PB_EINVAL (bad rule, or the result is not an http(s) URL),
 *         PB_ENOMEM
 */
PB_API int pb_mmsc_rewrite_location(const char *rule, const char *mmsc_url, const char *location,
				    char **out);

PB_END_DECLS

#endif
