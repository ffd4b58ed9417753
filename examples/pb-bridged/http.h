/*
 * pb-bridged — the daemon's one HTTP listener ([http] listen): /health,
 * /metrics and the status page (http.c), and the routes other parts add to
 * the same listener (pbb_http_route(), e.g. an application service's).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PBB_HTTP_H
#define PBB_HTTP_H

#include <phonebridge/phonebridge.h>

#include "bridge.h"

typedef struct pbb_http pbb_http;

/**
 * The listener of [http] listen with /health, /metrics, / and /status
 * routed, not yet started. @p b may be NULL (no daemon: the bridge's facts
 * read "not running").
 * @param out receives the listener, or NULL when [http] listen is not set
 *        or in appservice mode (then pbb_run() serves the same routes on
 *        the application service's listener)
 * @return 0, or -1 (logged: a bad address)
 */
int pbb_http_new(pbb_http **out, const pbb_config *cfg, pbb *b);
/**
 * Appservice mode: route /health, /metrics, / and /status on the
 * application service's listener @p l (borrowed: free the result with
 * pbb_http_free() only after pb_listener_free(l) stopped the handlers).
 * @return 0 or a negative PB_E* code
 */
int pbb_http_attach(pbb_http **out, const pbb_config *cfg, pbb *b, pb_listener *l);
/** Add a route (pb_listener_route()) before pbb_http_start(). @return 0 or a negative PB_E* code */
int pbb_http_route(pbb_http *h, const char *method, const char *path, pb_listener_handler handler,
		   void *userdata);
/** Listen. @return 0, or -1 (logged: the address is in use, ...) */
int pbb_http_start(pbb_http *h);
/** The port listened on (0 before start). */
unsigned pbb_http_port(const pbb_http *h);
/** Stop listening and free; NULL is fine. */
void pbb_http_free(pbb_http *h);

/** Declare the bridge's metric families (once, before the threads start). */
void pbb_metrics_declare(void);

#endif
