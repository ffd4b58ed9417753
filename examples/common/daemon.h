/*
 * What pb-bridged and pb-screend do alike (internal to the two programs):
 * one log format (text or JSON), the systemd notification protocol, the
 * lines of "check", and the small checks both make of their configuration.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_DAEMON_COMMON_H
#define PB_DAEMON_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <phonebridge/phonebridge.h>

/* sysexits(3): the exit codes of every program (documented in each man page) */
#include <sysexits.h>

typedef enum pbd_log_format {
	PBD_LOG_TEXT, /* "<N>domain: message": sd-daemon(3) level prefixes, which journald reads */
	PBD_LOG_JSON, /* one JSON object a line: time, level, priority, program, domain, message */
} pbd_log_format;

/* Set the program name (static string) and format of every later line. */
void pbd_log_setup(const char *program, pbd_log_format format);
/* "text" or "json"; false for anything else. */
bool pbd_log_format_parse(const char *s, pbd_log_format *out);
/* Write one line to stderr (thread-safe); levels are PB_LOG_* (syslog's). */
void pbd_log_write(int level, const char *domain, const char *message);
/* A pb_log_cb that writes library lines with pbd_log_write(). */
void pbd_log_sink(int level, const char *domain, const char *message, void *userdata);

/* @s as a JSON string (quotes, escapes), or null for NULL. */
void pbd_json_str(FILE *f, const char *s);

/* sd_notify(3) with a formatted state ("READY=1\nSTATUS=..."); nothing
 * outside systemd. */
void pbd_notify(const char *fmt, ...) PB_PRINTF(1, 2);
/* The interval at which WATCHDOG=1 is due (half of WatchdogSec=), in ms;
 * 0 when the service manager asked for no watchdog. */
long pbd_watchdog_interval_ms(void);

/* One line of "check": "✓ what" or "✗ what: why" on stdout. Returns ok. */
bool pbd_check_line(bool ok, const char *what, const char *why_fmt, ...) PB_PRINTF(3, 4);
bool pbd_check_vline(bool ok, const char *what, const char *why_fmt, va_list ap) PB_PRINTF(3, 0);

/* The choice closest to @word (edit distance at most 2), or NULL. */
const char *pbd_did_you_mean(const char *word, const char *const *choices);
/* A URL with an http or https scheme and a host; NULL when it is one,
 * else why not (static text). */
const char *pbd_url_problem(const char *url);
/* A secret file, read as run reads it (pb_secret_read(): modes, size, one line, credential:NAME).
 * NULL when fine, else why not, written to @buf. */
const char *pbd_secret_problem(const char *path, char *buf, size_t size);
/* An [http] listen address as run reads it (pb_listener_new(); binding it is
 * run's: the port may be the running daemon's). NULL when fine, else why
 * not, written to @buf. */
const char *pbd_listen_problem(const char *address, char *buf, size_t size);
/* A database file the daemon must write: the file writable when it exists,
 * else its directory. NULL when fine, else why not, written to @buf. */
const char *pbd_store_problem(const char *path, char *buf, size_t size);

#endif
