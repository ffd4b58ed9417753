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
 *   PB_ETOOBIG     the body exceeded max_download (download aborted), or
 *                  HTTP 413
 *   PB_ECANCELLED  the progress callback asked to stop
 *   PB_EINVAL      the URL (after the rewrite rules) is not an http(s) URL
 */
#ifndef PHONEBRIDGE_MMSC_H
#define PHONEBRIDGE_MMSC_H

#include <stdbool.h>

#include <phonebridge/common.h>
#include <phonebridge/buffer.h>
#include <phonebridge/mms.h>

PB_BEGIN_DECLS

/** A configured MMSC client. */
typedef struct pb_mmsc pb_mmsc;

/**
 * Download progress: @p now bytes received of @p total (0 when the MMSC did
 * not say). Return 0 to go on, anything else to abort (PB_ECANCELLED).
 */
typedef int (*pb_mmsc_progress_cb)(uint64_t now, uint64_t total, void *userdata);

/**
 * Deprecated since 0.2, removed in 1.0: the old name of pb_retry_policy
 * (phonebridge/common.h), the same type. pb_mmsc_options.retry: only transient failures are retried
 * (connect and resolve failures, timeouts, connections dropped mid-answer,
 * HTTP 502, 503 and 504), never 4xx, a body that is not an MMS PDU or an
 * oversize message; defaults 3 attempts, 1000 ms doubling up to 30000 ms.
 */
typedef pb_retry_policy pb_mmsc_retry PB_DEPRECATED;

/** Options of pb_mmsc_new(). Strings are copied; NULL means "not set". */
typedef struct pb_mmsc_options {
	unsigned version; /**< PB_MMSC_OPTIONS_VERSION */
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
	/** Largest body accepted, in bytes (default 4 MiB, 0 = default). A
	 *  larger declared Content-Length fails before the body is read; an
	 *  undeclared one is cut off as it arrives. */
	size_t max_download;
	unsigned connect_timeout_ms; /**< default 15000 */
	unsigned timeout_ms;         /**< whole request, default 300000 */
	/** Transient failures only (see pb_mmsc_post_kind and retry_send);
	 *  0s: 3 attempts, 1000 ms doubling up to 30000 ms. */
	pb_retry_policy retry;
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
	 *  this client sends: PB_MMS_YES, PB_MMS_NO, or PB_MMS_ABSENT to leave
	 *  it out (default). */
	pb_mms_yes_no report_allowed;
	/** Give up when the answer started but no byte of it arrived for this
	 *  long (a stalled link), in ms; default 30000. The wait for the
	 *  answer's first byte is bounded by timeout_ms only, so that a slow
	 *  MMSC gets the whole request timeout. A slow download that still
	 *  moves is not stopped (only timeout_ms stops it). */
	unsigned stall_timeout_ms;
} pb_mmsc_options;

#define PB_MMSC_OPTIONS_VERSION 1u
#define PB_MMSC_OPTIONS_INIT { PB_MMSC_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, \
	0, 0, 0, { 0, 0, 0 }, false, 0, NULL, false, NULL, NULL, NULL, 0, 0 }

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
 *            of @p location (white space around it dropped) when no rule
 *            matched
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
 *                  query  its query only ("?..." appended to base as is;
 *                         a location without '?' and without a scheme is
 *                         taken as the query, "T=abc" -> base + "?T=abc")
 *                default: all
 *   host=HOST[:PORT]  instead of base/keep: replace the host (and port) of
 *                an absolute location, keeping scheme, path and query
 *
 * Base and the kept part are joined with exactly one '/' (none before a
 * query). White space around the location is dropped first (some MMSCs
 * pad it). The result must parse as an http(s) URL.
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

/* --- MMS transactions (OMA-MMS-CTR) ----------------------------------------- */

/**
 * Send an M-NotifyResp.ind (encoded by pb_mms_encode_notifyresp()), with the
 * options' report_allowed. Retried like any answer (idempotent per
 * transaction id).
 *
 * @param transaction_id the notification's X-Mms-Transaction-Id; borrowed
 * @param status         PB_MMS_STATUS_RETRIEVED, _DEFERRED, _REJECTED,
 *                       _UNRECOGNISED
 * @param res            filled in; may be NULL
 * @return 0, PB_EINVAL, or a code listed at the top
 */
PB_API int pb_mmsc_notifyresp(pb_mmsc *mmsc, const char *transaction_id, pb_mms_status status,
			      pb_mmsc_result *res);

/**
 * Send an M-Acknowledge.ind: the answer after fetching a message whose
 * notification was answered Deferred earlier.
 *
 * @return 0, PB_EINVAL, or a code listed at the top
 */
PB_API int pb_mmsc_acknowledge(pb_mmsc *mmsc, const char *transaction_id, pb_mmsc_result *res);

/** pb_mmsc_retrieve() flag: this is the later fetch of a message answered
 *  Deferred before; on success answer with M-Acknowledge.ind, on failure
 *  answer nothing. */
#define PB_MMSC_RETRIEVE_LATER 0x1u
/** pb_mmsc_retrieve() flag: send no answer at all (the caller will). */
#define PB_MMSC_RETRIEVE_NO_ANSWER 0x2u

/** What pb_mmsc_retrieve() did. Caller-owned; release with
 *  pb_mmsc_retrieval_dispose(). */
typedef struct pb_mmsc_retrieval {
	/** The decoded M-Retrieve.conf, or NULL. Owned by this struct; its
	 *  parts point into pdu (zero copy). Also set when the MMSC answered
	 *  with an error X-Mms-Retrieve-Status (its text may explain). */
	pb_mms_message *message;
	pb_buf pdu;           /**< the body as downloaded (also on failure, for diagnostics) */
	int retrieve_status;  /**< X-Mms-Retrieve-Status, 0 when absent (absent means Ok) */
	/** X-Mms-Status answered (PB_MMS_STATUS_*); with PB_MMSC_RETRIEVE_NO_ANSWER
	 *  the status the caller should answer; 0 when there is nothing to answer */
	int answer_status;
	bool answered;        /**< the answer reached the MMSC */
	pb_mmsc_result http;  /**< the GET */
} pb_mmsc_retrieval;

/**
 * Retrieve the message an M-Notification.ind announces, and answer the
 * MMSC, as OMA-MMS-CTR says:
 *
 *  - expired (X-Mms-Expiry passed): not fetched; answered Rejected;
 *    returns PB_ENOTFOUND
 *  - X-Mms-Message-Size over max_download: not fetched; answered Deferred
 *    (it stays at the MMSC: fetch it later with a larger limit and
 *    PB_MMSC_RETRIEVE_LATER); returns PB_ETOOBIG. The same when the body
 *    turns out larger while downloading.
 *  - transport failures, HTTP errors, HTML or text pages, redirects,
 *    cancellation: answered Deferred (a wrong URL or APN set-up must not
 *    lose the message); returns the fetch's code
 *  - the body does not decode, or is not an M-Retrieve.conf, or the
 *    notification has no Content-Location: answered Unrecognised;
 *    returns PB_EMALFORMED, PB_EPROTO or PB_EINVAL
 *  - X-Mms-Retrieve-Status transient (0xC0-0xDF): answered Deferred,
 *    returns PB_EAGAIN; permanent (0xE0-0xFF): answered Rejected, returns
 *    PB_ENOTFOUND for message-not-found, else PB_EPROTO
 *  - success: answered Retrieved (or M-Acknowledge.ind with
 *    PB_MMSC_RETRIEVE_LATER); returns 0.
 *
 * A failed answer does not change the result (answered is false, and a
 * warning is logged): the MMSC will send the notification again, which the
 * caller recognises by its transaction id.
 *
 * @param notification a decoded M-Notification.ind; borrowed
 * @param received     when the notification arrived, seconds since 1970
 *                     (for a relative X-Mms-Expiry); 0 for now
 * @param flags        0, PB_MMSC_RETRIEVE_LATER, PB_MMSC_RETRIEVE_NO_ANSWER
 * @param out          filled in, whatever the result; dispose with
 *                     pb_mmsc_retrieval_dispose()
 * @return 0 or a code as above; PB_EINVAL for a PDU that is not a
 *         notification or has no transaction id (nothing answered)
 */
PB_API int pb_mmsc_retrieve(pb_mmsc *mmsc, const pb_mms_message *notification, int64_t received,
			    unsigned flags, pb_mmsc_retrieval *out);

/** Free what a pb_mmsc_retrieval holds (not the struct). NULL is fine. */
PB_API void pb_mmsc_retrieval_dispose(pb_mmsc_retrieval *r);

/** The MMSC's answer to an M-Send.req. Caller-owned; release with
 *  pb_mmsc_send_conf_dispose(). */
typedef struct pb_mmsc_send_conf {
	int response_status;  /**< X-Mms-Response-Status (PB_MMS_RESPONSE_OK = 128), 0 when absent */
	char *response_text;  /**< X-Mms-Response-Text, UTF-8, or NULL; owned */
	char *message_id;     /**< Message-ID the MMSC gave the message, or NULL; owned */
	char *transaction_id; /**< X-Mms-Transaction-Id of the answer, or NULL; owned */
	pb_mmsc_result http;  /**< the POST */
} pb_mmsc_send_conf;

/**
 * Send a message: encode @p req as an M-Send.req (pb_mms_encode_send_req()),
 * POST it, and decode the M-Send.conf.
 *
 * Not retried unless the options' retry_send is true: a send whose answer
 * was lost may have reached the MMSC, and a retry would deliver it twice.
 *
 * @param req  borrowed
 * @param conf filled in whatever the result (response status and text
 *             when the MMSC refused); dispose with pb_mmsc_send_conf_dispose()
 * @return 0 when the MMSC accepted the message (response status Ok);
 *         PB_EPROTO when it refused it (the message names the status and
 *         text) or did not answer with an M-Send.conf; PB_EMALFORMED for an
 *         undecodable answer; PB_EINVAL for a request the encoder refuses;
 *         or a code listed at the top
 */
PB_API int pb_mmsc_send(pb_mmsc *mmsc, const pb_mms_send_req *req, pb_mmsc_send_conf *conf);

/** Same as pb_mmsc_send() with an already encoded M-Send.req (@p pdu borrowed). */
PB_API int pb_mmsc_send_pdu(pb_mmsc *mmsc, const uint8_t *pdu, size_t len, pb_mmsc_send_conf *conf);

/** Free what a pb_mmsc_send_conf holds (not the struct). NULL is fine. */
PB_API void pb_mmsc_send_conf_dispose(pb_mmsc_send_conf *conf);

PB_END_DECLS

#endif
