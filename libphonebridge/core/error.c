/*
 * libphonebridge — error codes and the per-thread last error.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

/*
 * One record per thread, in static storage: raising an error never allocates,
 * so running out of memory can itself be reported.
 */
static _Thread_local struct {
	pb_error pub;
	char text[512];
} last_error = { { PB_OK, "" }, { 0 } };

static const struct {
	int code;
	const char *name;
	const char *text;
} error_table[] = {
	{ PB_OK, "PB_OK", "success" },
	{ PB_ERROR, "PB_ERROR", "error" },
	{ PB_ENOMEM, "PB_ENOMEM", "out of memory" },
	{ PB_EINVAL, "PB_EINVAL", "invalid argument" },
	{ PB_EMALFORMED, "PB_EMALFORMED", "malformed input" },
	{ PB_ENOTFOUND, "PB_ENOTFOUND", "not found" },
	{ PB_ETIMEOUT, "PB_ETIMEOUT", "timed out" },
	{ PB_EIO, "PB_EIO", "input/output error" },
	{ PB_EPROTO, "PB_EPROTO", "protocol error" },
	{ PB_EAUTH, "PB_EAUTH", "authentication failed" },
	{ PB_EUNSUPPORTED, "PB_EUNSUPPORTED", "not supported" },
	{ PB_EBUSY, "PB_EBUSY", "resource busy" },
	{ PB_EEXISTS, "PB_EEXISTS", "already exists" },
	{ PB_ETOOBIG, "PB_ETOOBIG", "too big" },
	{ PB_EAGAIN, "PB_EAGAIN", "temporary failure, try again" },
	{ PB_ECANCELLED, "PB_ECANCELLED", "cancelled" },
	{ PB_ESTATE, "PB_ESTATE", "not allowed in the current state" },
	{ PB_EINCOMPLETE, "PB_EINCOMPLETE", "incomplete" },
	{ PB_ERANGE, "PB_ERANGE", "value out of range" },
};

PB_API const char *pb_strerror(int code)
{
	for (size_t i = 0; i < PB_ARRAY_SIZE(error_table); i++)
		if (error_table[i].code == code)
			return error_table[i].text;
	return "unknown error";
}

PB_API const char *pb_error_name(int code)
{
	for (size_t i = 0; i < PB_ARRAY_SIZE(error_table); i++)
		if (error_table[i].code == code)
			return error_table[i].name;
	return "PB_E?";
}

PB_API const pb_error *pb_error_last(void)
{
	last_error.pub.message = last_error.text;
	return &last_error.pub;
}

PB_API void pb_error_clear(void)
{
	last_error.pub.code = PB_OK;
	last_error.text[0] = '\0';
}

int pb_error__vset(int code, const char *fmt, va_list ap)
{
	last_error.pub.code = code;
	if (fmt == NULL) {
		pb_strlcpy(last_error.text, pb_strerror(code), sizeof(last_error.text));
		return code;
	}
	/* The message may be built from an argument that is itself the
	 * current message (re-raising with context): format into a copy. */
	char tmp[sizeof(last_error.text)];
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	memcpy(last_error.text, tmp, sizeof(tmp));
	return code;
}

PB_API int pb_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pb_error__vset(code, fmt, ap);
	va_end(ap);
	return code;
}

int pb_error__oom(void)
{
	last_error.pub.code = PB_ENOMEM;
	pb_strlcpy(last_error.text, "out of memory", sizeof(last_error.text));
	return PB_ENOMEM;
}

PB_PRINTF(4, 0)
static int parse_fail(pb_parse_error *perr, int code, size_t offset, const char *fmt, va_list ap)
{
	char text[sizeof(((pb_parse_error *)0)->text)];
	vsnprintf(text, sizeof(text), fmt, ap);
	if (perr) {
		perr->offset = offset;
		memcpy(perr->text, text, sizeof(text));
	}
	return pb_error_set(code, "offset %zu: %s", offset, text);
}

int pb_error__parse(pb_parse_error *perr, size_t offset, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = parse_fail(perr, PB_EMALFORMED, offset, fmt, ap);
	va_end(ap);
	return rc;
}

int pb_error__parse_code(pb_parse_error *perr, int code, size_t offset, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = parse_fail(perr, code, offset, fmt, ap);
	va_end(ap);
	return rc;
}

int pb_core__check_version(const char *name, unsigned got, unsigned oldest, unsigned current)
{
	if (got >= oldest && got <= current)
		return 0;
	if (got == 0)
		return pb_error_set(PB_EINVAL, "%s: version 0: initialise the struct with %s_INIT", name,
				    name);
	if (got > INT_MAX) /* a C caller's -1 */
		return pb_error_set(PB_EINVAL, "%s: version %u is no version: initialise the struct with %s_INIT",
				    name, got, name);
	if (got > current)
		return pb_error_set(PB_EINVAL,
				    "%s: version %u is newer than this library's %u: the program was "
				    "built against a newer libphonebridge", name, got, current);
	return pb_error_set(PB_EINVAL, "%s: version %u is no longer supported (%u to %u are)", name, got,
			    oldest, current);
}

int pb_core__check_ms(const char *name, unsigned ms)
{
	if (ms <= INT_MAX)
		return 0;
	return pb_error_set(PB_EINVAL, "%s: %u ms is out of range (0 for the default, at most %d)", name, ms,
			    INT_MAX);
}
