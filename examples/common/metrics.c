/*
 * The daemons' metrics registry, process metrics, stage heartbeats and last
 * error (metrics.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_FAMILIES 48
#define MAX_LABELS 4

typedef struct series {
	struct series *_Atomic next; /* of every series, newest first */
	int family;
	char labels[256];            /* rendered: name="value",... (escaped) */
	atomic_llong value;
} series;

typedef struct family {
	const char *name, *help;
	pbd_metric_type type;
} family;

static family families[MAX_FAMILIES];
static atomic_int nfamilies;
static series *_Atomic all_series;
static pthread_mutex_t series_mu = PTHREAD_MUTEX_INITIALIZER;

void pbd_metric_declare(const char *name, pbd_metric_type type, const char *help)
{
	int n = atomic_load(&nfamilies);
	for (int i = 0; i < n; i++)
		if (!strcmp(families[i].name, name))
			return;
	if (n == MAX_FAMILIES)
		return;
	families[n] = (family){ name, help, type };
	atomic_store(&nfamilies, n + 1);
}

static int family_of(const char *name)
{
	int n = atomic_load(&nfamilies);
	for (int i = 0; i < n; i++)
		if (!strcmp(families[i].name, name))
			return i;
	return -1;
}

/* A label value in the exposition format: \\, \" and \n escaped. */
static void escape_into(char *out, size_t size, size_t *len, const char *s)
{
	for (; *s && *len + 3 < size; s++) {
		if (*s == '\\' || *s == '"') {
			out[(*len)++] = '\\';
			out[(*len)++] = *s;
		} else if (*s == '\n') {
			out[(*len)++] = '\\';
			out[(*len)++] = 'n';
		} else {
			out[(*len)++] = *s;
		}
	}
	out[*len] = '\0';
}

/* Render the label pairs of @ap; false when there are too many. */
static bool render_labels(char *out, size_t size, va_list ap)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0;; i++) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			return true;
		const char *v = va_arg(ap, const char *);
		if (i == MAX_LABELS)
			return false;
		int w = snprintf(out + len, size - len, "%s%s=\"", i ? "," : "", k);
		if (w < 0 || (size_t)w >= size - len)
			return false;
		len += (size_t)w;
		escape_into(out, size, &len, v ? v : "");
		if (len + 2 >= size)
			return false;
		out[len++] = '"';
		out[len] = '\0';
	}
}

static series *find(int fam, const char *labels)
{
	for (series *s = atomic_load(&all_series); s; s = atomic_load(&s->next))
		if (s->family == fam && !strcmp(s->labels, labels))
			return s;
	return NULL;
}

static series *lookup(const char *name, va_list ap, bool create)
{
	int fam = family_of(name);
	char labels[256];
	if (fam < 0 || !render_labels(labels, sizeof(labels), ap))
		return NULL;
	series *s = find(fam, labels);
	if (s || !create)
		return s;
	pthread_mutex_lock(&series_mu);
	s = find(fam, labels); /* made meanwhile by another thread? */
	if (!s && (s = calloc(1, sizeof(*s)))) {
		s->family = fam;
		memcpy(s->labels, labels, sizeof(labels));
		atomic_store(&s->next, atomic_load(&all_series));
		atomic_store(&all_series, s);
	}
	pthread_mutex_unlock(&series_mu);
	return s;
}

void pbd_metric_add(const char *name, long long delta, ...)
{
	va_list ap;
	va_start(ap, delta);
	series *s = lookup(name, ap, true);
	va_end(ap);
	if (s)
		atomic_fetch_add(&s->value, delta);
}

void pbd_metric_set(const char *name, long long value, ...)
{
	va_list ap;
	va_start(ap, value);
	series *s = lookup(name, ap, true);
	va_end(ap);
	if (s)
		atomic_store(&s->value, value);
}

long long pbd_metric_get(const char *name, ...)
{
	va_list ap;
	va_start(ap, name);
	series *s = lookup(name, ap, false);
	va_end(ap);
	return s ? atomic_load(&s->value) : 0;
}

/* --- process metrics ----------------------------------------------------------- */

static long long count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	long long n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/* /proc/self/stat's start time (clock ticks after boot) and /proc/stat's btime */
static double started_after_boot_s(void)
{
	static double cached = -1;
	if (cached >= 0)
		return cached;
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long long ticks = 0;
	for (int field = 2; p && *p && field < 22; p++)
		if (*p == ' ' && ++field == 22)
			ticks = strtoull(p + 1, NULL, 10);
	long hz = sysconf(_SC_CLK_TCK);
	cached = (double)ticks / (double)(hz > 0 ? hz : 100);
	return cached;
}

static double start_time_s(void)
{
	static double cached;
	if (cached > 0)
		return cached;
	unsigned long long btime = 0;
	FILE *f;
	if ((f = fopen("/proc/stat", "r"))) {
		char line[256];
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "btime %llu", &btime) == 1)
				break;
		fclose(f);
	}
	cached = (double)btime + started_after_boot_s();
	return cached;
}

static int process_metrics(pb_buf *out)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long vsz = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%llu %llu", &vsz, &rss) != 2)
			vsz = rss = 0;
		fclose(f);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		     (double)ru.ru_stime.tv_usec / 1e6;
	struct rlimit rl;
	long long maxfds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long long)rl.rlim_cur : -1;
	return pb_buf_printf(out,
		"# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
		"# TYPE process_resident_memory_bytes gauge\n"
		"process_resident_memory_bytes %llu\n"
		"# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
		"# TYPE process_virtual_memory_bytes gauge\n"
		"process_virtual_memory_bytes %llu\n"
		"# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
		"# TYPE process_cpu_seconds_total counter\n"
		"process_cpu_seconds_total %.3f\n"
		"# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
		"# TYPE process_start_time_seconds gauge\n"
		"process_start_time_seconds %.2f\n"
		"# HELP process_open_fds Number of open file descriptors.\n"
		"# TYPE process_open_fds gauge\n"
		"process_open_fds %lld\n"
		"# HELP process_max_fds Maximum number of open file descriptors.\n"
		"# TYPE process_max_fds gauge\n"
		"process_max_fds %lld\n",
		rss * (unsigned long long)page, vsz * (unsigned long long)page, cpu, start_time_s(), count_fds(),
		maxfds);
}

int pbd_metrics_write(pb_buf *out)
{
	int n = atomic_load(&nfamilies);
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		const family *fm = &families[i];
		rc = pb_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fm->name, fm->help, fm->name,
				    fm->type == PBD_COUNTER ? "counter" : "gauge");
		/* oldest first: the list is newest first, so collect, then walk back */
		series *v[256];
		size_t k = 0;
		for (series *s = atomic_load(&all_series); s && k < 256; s = atomic_load(&s->next))
			if (s->family == i)
				v[k++] = s;
		while (rc == 0 && k-- > 0)
			rc = pb_buf_printf(out, "%s%s%s%s %lld\n", fm->name, v[k]->labels[0] ? "{" : "", v[k]->labels,
					    v[k]->labels[0] ? "}" : "", (long long)atomic_load(&v[k]->value));
	}
	return rc == 0 ? process_metrics(out) : rc;
}

/* --- stages --------------------------------------------------------------------------- */

#define MAX_STAGES 16

typedef struct stage {
	const char *name;
	long stall_ms;
	atomic_llong beat;   /* monotonic ms of the last heartbeat */
	atomic_int left;     /* ended on purpose */
} stage;

static stage stages[MAX_STAGES];
static atomic_int nstages;
static _Thread_local int my_stage = -1;

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000L;
}

int pbd_stage_add(const char *name, long stall_ms)
{
	int n = atomic_load(&nstages);
	if (n == MAX_STAGES)
		return -1;
	stages[n].name = name;
	stages[n].stall_ms = stall_ms;
	atomic_store(&stages[n].beat, mono_ms());
	atomic_store(&stages[n].left, 0);
	atomic_store(&nstages, n + 1);
	return n;
}

void pbd_stages_reset(void)
{
	atomic_store(&nstages, 0);
}

void pbd_stage_enter(int st)
{
	my_stage = st >= 0 && st < atomic_load(&nstages) ? st : -1;
	pbd_stage_beat();
}

void pbd_stage_beat(void)
{
	if (my_stage >= 0)
		atomic_store(&stages[my_stage].beat, mono_ms());
}

void pbd_stage_leave(void)
{
	if (my_stage >= 0)
		atomic_store(&stages[my_stage].left, 1);
	my_stage = -1;
}

const char *pbd_stage_stuck(long *quiet_ms)
{
	long long now = mono_ms();
	int n = atomic_load(&nstages);
	for (int i = 0; i < n; i++) {
		long long q = now - atomic_load(&stages[i].beat);
		if (!atomic_load(&stages[i].left) && q > stages[i].stall_ms) {
			if (quiet_ms)
				*quiet_ms = (long)q;
			return stages[i].name;
		}
	}
	return NULL;
}

int pbd_stages_json(pb_buf *out)
{
	long long now = mono_ms();
	int n = atomic_load(&nstages);
	int rc = pb_buf_puts(out, "{");
	for (int i = 0; i < n && rc == 0; i++) {
		long long q = now - atomic_load(&stages[i].beat);
		bool left = atomic_load(&stages[i].left);
		rc = pb_buf_printf(out, "%s\"%s\":{\"last_beat_ms_ago\":%lld,\"stall_ms\":%ld,\"stuck\":%s%s}",
				    i ? "," : "", stages[i].name, q, stages[i].stall_ms,
				    !left && q > stages[i].stall_ms ? "true" : "false", left ? ",\"ended\":true" : "");
	}
	return rc ? rc : pb_buf_puts(out, "}");
}

/* --- last error ------------------------------------------------------------------------- */

static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
static char err_text[512];
static int64_t err_at;

void pbd_last_error_note(int level, const char *domain, const char *message)
{
	if (level > PB_LOG_WARNING)
		return;
	pthread_mutex_lock(&err_mu);
	snprintf(err_text, sizeof(err_text), "%s: %s", domain ? domain : "?", message ? message : "");
	err_at = (int64_t)time(NULL);
	pthread_mutex_unlock(&err_mu);
}

int64_t pbd_last_error(char *buf, size_t size)
{
	pthread_mutex_lock(&err_mu);
	snprintf(buf, size, "%s", err_text);
	int64_t at = err_at;
	pthread_mutex_unlock(&err_mu);
	return at;
}

int pbd_last_error_json(pb_buf *out)
{
	char msg[512];
	int64_t at = pbd_last_error(msg, sizeof(msg));
	if (!at)
		return pb_buf_puts(out, "null");
	char when[32];
	time_t t = (time_t)at;
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	int rc = pb_buf_printf(out, "{\"at\":\"%s\",\"message\":", when);
	rc = rc ? rc : pbd_buf_json_str(out, msg);
	return rc ? rc : pb_buf_puts(out, "}");
}

int pbd_health_respond(pb_listener_request *req, pb_buf *o, int rc, bool healthy)
{
	rc = rc ? rc : pb_buf_puts(o, "\"stages\":");
	rc = rc ? rc : pbd_stages_json(o);
	rc = rc ? rc : pb_buf_puts(o, ",\"last_error\":");
	rc = rc ? rc : pbd_last_error_json(o);
	rc = rc ? rc : pb_buf_puts(o, "}\n");
	if (rc == 0)
		rc = pb_listener_respond(req, healthy ? 200 : 503, "application/json", o->data, o->len);
	pb_buf_dispose(o);
	return rc;
}

int pbd_metrics_respond(pb_listener_request *req)
{
	pb_buf o = PB_BUF_INIT;
	int rc = pbd_metrics_write(&o);
	if (rc == 0)
		rc = pb_listener_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", o.data, o.len);
	pb_buf_dispose(&o);
	return rc;
}

double pbd_uptime_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts); /* the clock /proc's start time counts in */
	double up = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - started_after_boot_s();
	return up > 0 ? up : 0;
}

int pbd_buf_json_str(pb_buf *out, const char *s)
{
	if (!s)
		return pb_buf_puts(out, "null");
	int rc = pb_buf_puts(out, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
		if (*p == '"' || *p == '\\')
			rc = pb_buf_printf(out, "\\%c", *p);
		else if (*p < 0x20)
			rc = pb_buf_printf(out, "\\u%04x", *p);
		else
			rc = pb_buf_put(out, p, 1);
	}
	return rc ? rc : pb_buf_puts(out, "\"");
}
