/*
 * pb-screend — the HTTP listener ([http] listen): /health, /metrics and the
 * status page (http.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_SCREEND_HTTP_H
#define PB_SCREEND_HTTP_H

#include <phonebridge/phonebridge.h>

#include "config.h"

typedef struct screend_http screend_http;

/* Declare the metric families and make the screener's event callback count
 * calls by verdict and challenge outcome (set it as on_event). */
void screend_metrics_declare(void);
void screend_metrics_event(const pb_screener_event *ev, void *userdata);

/* The listener of @c's [http] listen, started, reading @s (which must
 * outlive it): *out NULL when [http] listen is not set.
 * @return 0, or a negative PB_E* code with pb_error_last() set */
int screend_http_start(screend_http **out, const screend_config *c, pb_screener *s);
/* From the screener's loop after each step: the facts the handlers read
 * (the loop's own, published as atomics), and the store path after a reload. */
void screend_http_publish(screend_http *h, pb_screener *s);
void screend_http_set_store(screend_http *h, const char *store);
void screend_http_free(screend_http *h);

#endif
