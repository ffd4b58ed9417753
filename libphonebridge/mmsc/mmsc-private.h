/*
 * libphonebridge — MMSC client: functions shared by the module's files.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_MMSC_PRIVATE_H
#define PB_MMSC_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "core/internal.h"
#include "http/http-private.h"
#include <phonebridge/mmsc.h>

/*
 * What an HTTP status means from an MMSC: the pb error code, and whether
 * trying again may help (transient). The transport's own failures are
 * judged by the http module (pb_http__transport_verdict()).
 */
typedef struct pb_mmsc__verdict {
	int code;       /* 0 or a PB_E* code */
	bool transient; /* retrying may succeed */
} pb_mmsc__verdict;

/* Classify an HTTP status (0 for 2xx). */
pb_mmsc__verdict pb_mmsc__status_verdict(long status);

/*
 * Check a 2xx answer that must be an MMS PDU: not empty, not a text/HTML
 * page, first byte X-Mms-Message-Type with a known message type. Returns 0,
 * or PB_EPROTO with the last error set (prefixed by @what, e.g. "GET url").
 */
int pb_mmsc__check_pdu(const char *what, long status, const char *content_type,
		       const uint8_t *body, size_t len);

/* A short printable excerpt of a page body (the HTML <title>, or the first
 * characters of text) into @out of @size bytes. */
void pb_mmsc__excerpt(const uint8_t *body, size_t len, char *out, size_t size);

/* Option values the transaction layer needs (client.c). */
size_t pb_mmsc__max_download(const pb_mmsc *mmsc);
pb_mms_yes_no pb_mmsc__report_allowed(const pb_mmsc *mmsc);

/* Append @s without leading and trailing white space (rewrite.c). */
int pb_mmsc__trim(const char *s, pb_buf *out);

/* Check a rewrite rule's syntax: 0 or PB_EINVAL/PB_ENOMEM (rewrite.c). */
int pb_mmsc__rule_check(const char *rule_text, const char *mmsc_url);

#endif
