/*
 * libphonebridge — logging.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The library never prints. It hands log lines to a callback the program sets
 * and drops them when none is set; the daemons route them to stderr or the
 * journal.
 */
#ifndef PHONEBRIDGE_LOG_H
#define PHONEBRIDGE_LOG_H

#include <phonebridge/common.h>

PB_BEGIN_DECLS

/** Log levels, most severe first (same order and values as syslog's). */
typedef enum pb_log_level {
	PB_LOG_ERROR = 3,
	PB_LOG_WARNING = 4,
	PB_LOG_NOTICE = 5,
	PB_LOG_INFO = 6,
	PB_LOG_DEBUG = 7,
} pb_log_level;

/**
 * A log sink.
 *
 * @param level    a pb_log_level
 * @param domain   the module that logs, e.g. "hilink", "sip"; borrowed, static
 * @param message  one line without a trailing newline; borrowed, valid only
 *                 during the call
 * @param userdata as given to pb_log_set_callback()
 *
 * It may be called from any thread the library runs on.
 */
typedef void (*pb_log_cb)(int level, const char *domain, const char *message, void *userdata);

/**
 * Set the sink for log lines, or NULL to drop them (the default).
 * Call at start, before other threads use the library.
 */
PB_API void pb_log_set_callback(pb_log_cb cb, void *userdata);

/** Pass only lines at @p level or more severe to the sink (default PB_LOG_INFO). */
PB_API void pb_log_set_level(int level);

/** The current level set by pb_log_set_level(). */
PB_API int pb_log_get_level(void);

/** The name of a level: "error", "warning", "notice", "info" or "debug".
 *  @return static storage; never NULL */
PB_API const char *pb_log_level_name(int level);

/**
 * Log a line through the sink, for backends and challenges written outside the
 * library that want to use the same sink. Lines longer than 1 KiB are cut.
 *
 * @param domain borrowed; short module name
 */
PB_API void pb_log(int level, const char *domain, const char *fmt, ...) PB_PRINTF(3, 4);

PB_END_DECLS

#endif
