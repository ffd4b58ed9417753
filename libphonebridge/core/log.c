/*
 * libphonebridge — logging through the program's callback.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdatomic.h>
#include <stdio.h>

#include "core/internal.h"

/* Process-wide hooks, set once at start (see log.h). The level may be
 * changed later (a daemon's SIGHUP), hence atomic. */
static pb_log_cb log_cb;
static void *log_userdata;
static atomic_int log_level = PB_LOG_INFO;

PB_API void pb_log_set_callback(pb_log_cb cb, void *userdata)
{
	log_cb = cb;
	log_userdata = userdata;
}

PB_API void pb_log_set_level(int level)
{
	if (level < PB_LOG_ERROR)
		level = PB_LOG_ERROR;
	if (level > PB_LOG_DEBUG)
		level = PB_LOG_DEBUG;
	atomic_store(&log_level, level);
}

PB_API int pb_log_get_level(void)
{
	return atomic_load(&log_level);
}

PB_API const char *pb_log_level_name(int level)
{
	switch (level) {
	case PB_LOG_ERROR: return "error";
	case PB_LOG_WARNING: return "warning";
	case PB_LOG_NOTICE: return "notice";
	case PB_LOG_INFO: return "info";
	case PB_LOG_DEBUG: return "debug";
	default: return level < PB_LOG_ERROR ? "error" : "debug";
	}
}

bool pb_log__enabled(int level)
{
	return log_cb != NULL && level <= atomic_load(&log_level);
}

PB_API void pb_log(int level, const char *domain, const char *fmt, ...)
{
	if (!pb_log__enabled(level))
		return;
	/* A fixed stack buffer: logging must work when memory has run out. */
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_cb(level, domain ? domain : "phonebridge", line, log_userdata);
}
