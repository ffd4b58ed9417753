/*
 * What pb-bridged and pb-screend do alike: see daemon.h.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *log_program = "phonebridge";
static pbd_log_format log_format = PBD_LOG_TEXT;

void pbd_log_setup(const char *program, pbd_log_format format)
{
	log_program = program;
	log_format = format;
}

bool pbd_log_format_parse(const char *s, pbd_log_format *out)
{
	if (!strcmp(s, "text"))
		*out = PBD_LOG_TEXT;
	else if (!strcmp(s, "json"))
		*out = PBD_LOG_JSON;
	else
		return false;
	return true;
}

/* A JSON string body: quotes, backslashes and control characters escaped. */
static void json_escaped(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
}

void pbd_json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	json_escaped(f, s);
	fputc('"', f);
}

void pbd_log_write(int level, const char *domain, const char *message)
{
	if (level > pb_log_get_level())
		return;
	if (!domain)
		domain = "lib";
	pthread_mutex_lock(&log_mu);
	if (log_format == PBD_LOG_JSON) {
		struct timespec ts;
		struct tm tm;
		char when[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"priority\":%d,\"program\":\"", when,
			ts.tv_nsec / 1000000L, pb_log_level_name(level), level);
		json_escaped(stderr, log_program);
		fputs("\",\"domain\":\"", stderr);
		json_escaped(stderr, domain);
		fputs("\",\"message\":\"", stderr);
		json_escaped(stderr, message);
		fputs("\"}\n", stderr);
	} else {
		/* one line per message: a newline inside would start a line
		 * without the level prefix */
		fprintf(stderr, "<%d>%s: ", level, domain);
		for (const char *p = message; *p; p++)
			fputc(*p == '\n' ? ' ' : *p, stderr);
		fputc('\n', stderr);
	}
	fflush(stderr);
	pthread_mutex_unlock(&log_mu);
}

void pbd_log_sink(int level, const char *domain, const char *message, void *userdata)
{
	(void)userdata;
	pbd_log_write(level, domain, message);
}

void pbd_notify(const char *fmt, ...)
{
	char state[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(state, sizeof(state), fmt, ap);
	va_end(ap);
	sd_notify(0, state);
}

long pbd_watchdog_interval_ms(void)
{
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	long ms = (long)(usec / 2000);
	return ms > 0 ? ms : 1;
}

bool pbd_check_vline(bool ok, const char *what, const char *why_fmt, va_list ap)
{
	char why[600] = "";
	if (why_fmt)
		vsnprintf(why, sizeof(why), why_fmt, ap);
	printf("%s %s%s%s\n", ok ? "\u2713" : "\u2717", what, why[0] ? ": " : "", why);
	fflush(stdout);
	return ok;
}

bool pbd_check_line(bool ok, const char *what, const char *why_fmt, ...)
{
	va_list ap;
	va_start(ap, why_fmt);
	pbd_check_vline(ok, what, why_fmt, ap);
	va_end(ap);
	return ok;
}

/* Levenshtein distance, for short words (names of backends, challenges) */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return SIZE_MAX;
	size_t row[64];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *pbd_did_you_mean(const char *word, const char *const *choices)
{
	const char *best = NULL;
	size_t best_d = 3;
	for (size_t i = 0; choices[i]; i++) {
		size_t d = distance(word, choices[i]);
		if (d < best_d) {
			best_d = d;
			best = choices[i];
		}
	}
	return best;
}

const char *pbd_url_problem(const char *url)
{
	const char *host;
	if (!strncmp(url, "http://", 7))
		host = url + 7;
	else if (!strncmp(url, "https://", 8))
		host = url + 8;
	else if (strstr(url, "://"))
		return "the scheme must be http:// or https://";
	else
		return "no scheme: write http:// or https:// in front";
	if (!*host || *host == '/' || *host == ':')
		return "no host after the scheme";
	return NULL;
}

const char *pbd_secret_problem(const char *path, char *buf, size_t size)
{
	/* exactly what run does with it: pb_secret_read() (modes, size, one
	 * line, credential:NAME), the secret wiped again at once */
	char *secret = NULL;
	if (pb_secret_read(path, &secret) == 0) {
		pb_secret_free(secret);
		return NULL;
	}
	snprintf(buf, size, "%s", pb_error_last()->message);
	return buf;
}

const char *pbd_store_problem(const char *path, char *buf, size_t size)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode)) {
			snprintf(buf, size, "a symbolic link: the store is never written through links");
			return buf;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(buf, size, "not a regular file");
			return buf;
		}
		if (access(path, R_OK | W_OK) != 0) {
			snprintf(buf, size, "cannot write it: %s", strerror(errno));
			return buf;
		}
	} else if (errno != ENOENT) {
		snprintf(buf, size, "%s", strerror(errno));
		return buf;
	}
	/* SQLite writes its journal (-wal, -shm) beside the file */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) != 0) {
		snprintf(buf, size, "its directory %s: %s", dir, strerror(errno));
		return buf;
	}
	if (!S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
		snprintf(buf, size, "its directory %s is not writable by this user", dir);
		return buf;
	}
	return NULL;
}
