/*
 * libphonebridge benches — timing and the output convention.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every figure is printed as one line "name: value unit" (e.g.
 * "sms.decode.gsm7: 6120000 decodes/s"), nothing else on stdout, so that a
 * script can compare runs. Benches run a fixed amount of work and report a
 * rate; they never assert a speed (that is what a note on an issue is for).
 */
#ifndef PB_BENCH_H
#define PB_BENCH_H

#include <stdio.h>
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread, for per-core figures. */
static inline double bench_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void bench_figure(const char *name, double value, const char *unit)
{
	printf("%s: %.6g %s\n", name, value, unit);
	fflush(stdout);
}

/* Keep the optimiser from deleting work whose result is unused. */
#define bench_keep(x) __asm__ volatile("" : : "g"(x) : "memory")

#endif
