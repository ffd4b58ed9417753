/*
 * libphonebridge tests — the peers the mmsc tests talk to: the local MMSC
 * (tests/mmsc-server.py) and tinyproxy, both on 127.0.0.1 with ephemeral
 * ports, started on first use and stopped when the test program exits.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_TESTS_MMSC_PEERS_H
#define PB_TESTS_MMSC_PEERS_H

#include <stdbool.h>

#include <jansson.h>

/* Port of the running test MMSC (started on first call); fails the test if
 * it cannot start. Its folders: /files/own/ = tests/data/mmsc,
 * /files/vec/ = $PB_VECTORS_DIR/mms (when present), /files/tmp/ = scratch
 * folder, where POSTed bodies are recorded too. */
int mmsc_server_port(void);

/* Port of a second test MMSC serving HTTPS with the self-signed
 * tests/data/mmsc/test-server.crt (for 127.0.0.1). */
int mmsc_tls_server_port(void);

/* The scratch folder (files written there are served as /files/tmp/NAME). */
const char *mmsc_scratch_dir(void);

/* "http://127.0.0.1:PORT" + @path, in a static buffer (valid until the next call). */
const char *mmsc_url(const char *path);

/* Port of a running tinyproxy (started on first call), or 0 when tinyproxy
 * is not installed (the caller skips). */
int tinyproxy_port(void);

/* The requests the test MMSC saw (new reference; json_decref()). */
json_t *mmsc_server_requests(void);

/* The last request whose path contains @needle, borrowed from @requests, or NULL. */
json_t *mmsc_find_request(json_t *requests, const char *needle);

/* A header of a recorded request (lower-case name), or NULL. */
const char *mmsc_request_header(json_t *request, const char *name);

#endif
