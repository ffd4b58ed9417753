/*
 * libphonebridge — modem: the time of a pb_modem_msg as one documented type
 * (ms since the Unix epoch), whatever form its box gave it in.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <time.h>

#include "modem-internal.h"

/* @n digits at @s, or -1 */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int malformed(const char *t, size_t at, const char *what)
{
	return pb_error_set(PB_EMALFORMED, "modem message time \"%.40s\": offset %zu: %s", t, at, what);
}

PB_API int pb_modem_msg_time_ms(const pb_modem_msg *msg, int64_t *unix_ms)
{
	if (!msg || !unix_ms)
		return pb_error_set(PB_EINVAL, "pb_modem_msg_time_ms: NULL argument");
	*unix_ms = 0;
	const char *t = msg->time;
	if (!t || !*t)
		return pb_error_set(PB_ENOTFOUND, "modem message %s: the box gave no time", msg->id ? msg->id : "");
	/* "YYYY-MM-DD HH:MM:SS" (HiLink, SMSEagle: the box's local time) or
	 * "YYYY-MM-DDTHH:MM:SS+hh:mm" (AT: the SMSC's time stamp with its zone) */
	static const char shape[] = "dddd-dd-dd?dd:dd:dd";
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (!t[i])
			return malformed(t, i, "ends early");
		bool ok = shape[i] == 'd' ? (t[i] >= '0' && t[i] <= '9')
			: shape[i] == '?' ? (t[i] == ' ' || t[i] == 'T') : t[i] == shape[i];
		if (!ok)
			return malformed(t, i, "expected YYYY-MM-DD HH:MM:SS");
	}
	struct tm tm = { .tm_year = digits(t, 4) - 1900, .tm_mon = digits(t + 5, 2) - 1, .tm_mday = digits(t + 8, 2),
			 .tm_hour = digits(t + 11, 2), .tm_min = digits(t + 14, 2), .tm_sec = digits(t + 17, 2),
			 .tm_isdst = -1 };
	if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return malformed(t, 5, "a field is out of range");
	const char *z = t + sizeof(shape) - 1;
	time_t s;
	if (*z == '\0') {
		s = mktime(&tm); /* no zone: the box's local time, taken as this host's */
	} else if ((z[0] == '+' || z[0] == '-') && digits(z + 1, 2) >= 0 && z[3] == ':' && digits(z + 4, 2) >= 0 &&
		   z[6] == '\0') {
		long off = (digits(z + 1, 2) * 60L + digits(z + 4, 2)) * 60L;
		s = timegm(&tm) - (z[0] == '+' ? off : -off);
	} else if (z[0] == 'Z' && z[1] == '\0') {
		s = timegm(&tm);
	} else {
		return malformed(t, (size_t)(z - t), "expected the end, Z or a +hh:mm offset");
	}
	if (s == (time_t)-1)
		return malformed(t, 0, "not a time this host can represent");
	*unix_ms = (int64_t)s * 1000;
	return 0;
}
