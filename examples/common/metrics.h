/*
 * What pb-bridged and pb-screend show of themselves (internal to the two
 * programs): a small thread-safe metrics registry written in the Prometheus
 * text exposition format, the process metrics, the heartbeats of the stage
 * threads (which the watchdog and /health read), the last error logged, and
 * the client side of "status".
 *
 * One implementation for both daemons, kept beside daemon.c rather than in
 * the library: the series and their names are the programs' policy, not a
 * library API to keep stable, and the library already gives the HTTP server
 * (pb_listener) these pages are served with.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_DAEMON_METRICS_H
#define PB_DAEMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <phonebridge/phonebridge.h>

/* --- metrics ---------------------------------------------------------------- */

typedef enum pbd_metric_type { PBD_COUNTER, PBD_GAUGE } pbd_metric_type;

/*
 * Declare a family once at start, before any thread uses it: @name (a
 * counter's ends in "_total"), its type and its help text (static strings).
 * Families are written in the order they were declared.
 */
void pbd_metric_declare(const char *name, pbd_metric_type type, const char *help);

/*
 * Add @delta to (counter) or set (gauge) the series of family @name with
 * the labels given as name, value pairs ended by NULL:
 *     pbd_metric_add("pb_bridge_messages_total", 1, "direction", "in", "kind", "sms", NULL);
 * Thread-safe and lock-free once the series exists (its value is an
 * atomic); a new series is made under a mutex. An undeclared family or more
 * than 4 labels is a programming error: ignored.
 */
void pbd_metric_add(const char *name, long long delta, ...);
void pbd_metric_set(const char *name, long long value, ...);
/* The value of a series (0 when it does not exist): for tests and status. */
long long pbd_metric_get(const char *name, ...);

/*
 * Every family in the Prometheus text exposition format 0.0.4 (# HELP,
 * # TYPE, one line per series; label values escaped), then the process
 * metrics (process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_cpu_seconds_total, process_start_time_seconds, process_open_fds,
 * process_max_fds) read from /proc. Appends to @out.
 * @return 0 or PB_ENOMEM
 */
int pbd_metrics_write(pb_buf *out);

/* Answer a /metrics request with pbd_metrics_write(). @return 0 or a negative PB_E* code */
int pbd_metrics_respond(pb_listener_request *req);

/* --- stage heartbeats --------------------------------------------------------- */

/*
 * A stage is a thread whose progress the watchdog proves. pbd_stage_add()
 * (before the threads start) names one and returns its number;
 * pbd_stage_enter() binds the calling thread to it, after which
 * pbd_stage_beat() (cheap: one atomic store) records progress. A stage that
 * has not beaten for @stall_ms is stuck. pbd_stage_leave() marks a stage
 * that ended on purpose (not stuck).
 */
int pbd_stage_add(const char *name, long stall_ms);
void pbd_stage_enter(int stage);
void pbd_stage_beat(void);
void pbd_stage_leave(void);
/* Forget every stage (a new run). */
void pbd_stages_reset(void);
/* The first stuck stage's name (static) and how long it has been quiet, or
 * NULL when every stage made progress recently. */
const char *pbd_stage_stuck(long *quiet_ms);
/* The stages as a JSON object {"name": {"last_beat_ms_ago": N, "stuck": b}, ...}
 * appended to @out. */
int pbd_stages_json(pb_buf *out);

/* --- last error, start time ----------------------------------------------------- */

/* Remember a warning or error line (called by pbd_log_write). */
void pbd_last_error_note(int level, const char *domain, const char *message);
/* The last warning or error: copied to @buf ("" when none); its wall time in
 * seconds (0 when none). */
int64_t pbd_last_error(char *buf, size_t size);
/* The last warning or error as JSON, {"at": "ISO 8601 UTC", "message": "..."},
 * or null, appended to @out. */
int pbd_last_error_json(pb_buf *out);
/*
 * End a /health document begun in @o (the members so far, ending in ','
 * after the opening '{'), unless @rc is already an error: "stages",
 * "last_error", '}'; answer 200 (@healthy) or 503; dispose of @o.
 * @return 0 or a negative PB_E* code
 */
int pbd_health_respond(pb_listener_request *req, pb_buf *o, int rc, bool healthy);
/* Seconds since the process started (monotonic). */
double pbd_uptime_s(void);

/* @s as a JSON string into @out (quotes, escapes), or null for NULL. */
int pbd_buf_json_str(pb_buf *out, const char *s);

/* --- the status page ------------------------------------------------------------- */

/* One day's counts for the status page. */
typedef struct pbd_day {
	char date[11];          /* YYYY-MM-DD, local time */
	long long a, b;         /* the two series (e.g. calls screened, messages bridged) */
} pbd_day;

/*
 * A small self-contained HTML page (no external resource): @title, the
 * health as a table of name/value rows (@rows: name, value pairs, NULL-
 * ended), and an inline SVG bar plot of @days (two series, named @a_name
 * and @b_name), with the numbers in a table as well (id="day-YYYY-MM-DD-a"
 * and "-b" on the cells, for tests). Appended to @out.
 */
int pbd_status_page(pb_buf *out, const char *title, bool healthy, const char *const *rows,
		    const pbd_day *days, size_t ndays, const char *a_name, const char *b_name);
/* The local midnight of the day @days_ago days before today, in wall ms,
 * and its date (YYYY-MM-DD) in @date. */
int64_t pbd_local_midnight_ms(int days_ago, char date[11]);
/*
 * The last @n days (today last): a = calls of the call log in @calls_st
 * (pb-bridged with [calls] store: the cluster's; else the same as @st),
 * b = from @st, messages bridged (inbound rows from a modem delivered to
 * Matrix — of the kinds text, mms, incomplete and voicemail in the bridge's
 * table bridge_msg_kind, not delivery reports or the bridge's notices — and
 * outbound rows sent).
 * @return 0, or the store's negative code (the days then hold zeros)
 */
int pbd_per_day(pb_store *st, pb_store *calls_st, pbd_day *days, int n);
/* How many days both daemons' status pages show. */
#define PBD_STATUS_DAYS 14
/*
 * Answer @req with the status page of both daemons: @title, @healthy,
 * @rows (as pbd_status_page()) and the last PBD_STATUS_DAYS days of @st
 * and @calls_st (pbd_per_day(): calls screened, messages bridged).
 * @return 0 or a negative PB_E* code
 */
int pbd_status_respond(pb_listener_request *req, const char *title, bool healthy, const char *const *rows,
		       pb_store *st, pb_store *calls_st);

/* --- "status": the client side --------------------------------------------------- */

/*
 * "PROGRAM status": GET http://ADDRESS/health from the running daemon and
 * print it (one line per fact, or the JSON document with @json, indented
 * with @pretty). @address is the [http] listen value; NULL or "" = the
 * configuration has none (exit 78 with a message).
 * @return 0 healthy, 1 running but unhealthy (503), 69 not running or
 *         unreachable (with a message saying so), 78 no address
 */
int pbd_status_main(const char *program, const char *config_path, const char *address, bool json,
		    bool pretty);

#endif
