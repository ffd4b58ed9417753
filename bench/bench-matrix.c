/*
 * libphonebridge bench — matrix: events per second parsed from a large /sync
 * answer (10,000 events over 100 rooms, like a busy bridge's catch-up sync)
 * through pb_matrix_sync_parse() and the event callback, and the peak memory
 * while doing it.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <phonebridge/phonebridge.h>

#include "bench.h"

enum { EVENTS = 10000, ROOMS = 100, ROUNDS = 20 };

static void build(pb_buf *b)
{
	pb_buf_puts(b, "{\"next_batch\":\"s123456_7890\",\"account_data\":{\"events\":[]},\"rooms\":{\"join\":{");
	int n = 0;
	for (int r = 0; r < ROOMS; r++) {
		pb_buf_printf(b, "%s\"!room%05d:example.org\":{\"state\":{\"events\":[]},\"timeline\":"
				 "{\"limited\":false,\"prev_batch\":\"t%d\",\"events\":[",
			      r ? "," : "", r, r);
		for (int e = 0; e < EVENTS / ROOMS; e++, n++) {
			pb_buf_printf(b,
				      "%s{\"type\":\"m.room.message\",\"sender\":\"@sms_%05d:example.org\","
				      "\"event_id\":\"$%08dabcdefghijklmnopqrstuvwxyz01234\","
				      "\"origin_server_ts\":%lld,\"unsigned\":{\"age\":%d},"
				      "\"content\":{\"msgtype\":\"m.text\",\"body\":\"Message %d: see you at "
				      "the station at 7, don't be late \\u263a\"}}",
				      e ? "," : "", r, n, 1700000000000LL + n, n % 5000, n);
		}
		pb_buf_puts(b, "]},\"ephemeral\":{\"events\":[]}}");
	}
	pb_buf_puts(b, "}}}");
}

static int on_event(const pb_matrix_event *ev, void *ud)
{
	size_t *n = ud;
	if (ev->body && ev->msgtype && ev->sender && ev->event_id)
		(*n)++;
	bench_keep(ev->origin_server_ts);
	return 0;
}

static long max_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

int main(void)
{
	pb_buf b = PB_BUF_INIT;
	build(&b);
	long rss_before = max_rss_kib();
	size_t seen = 0;
	pb_matrix_sync_callbacks cb = { on_event, NULL, NULL, NULL, &seen };
	double best = 1e9, best_cpu = 1e9;
	for (int i = 0; i < ROUNDS; i++) {
		double t0 = bench_now(), c0 = bench_cpu();
		if (pb_matrix_sync_parse(b.data, b.len, &cb, NULL, NULL) != 0) {
			fprintf(stderr, "bench-matrix: %s\n", pb_error_last()->message);
			return 1;
		}
		double t = bench_now() - t0, c = bench_cpu() - c0;
		if (t < best)
			best = t;
		if (c < best_cpu)
			best_cpu = c;
	}
	if (seen != (size_t)EVENTS * ROUNDS) {
		fprintf(stderr, "bench-matrix: %zu events seen, expected %d\n", seen, EVENTS * ROUNDS);
		return 1;
	}
	bench_figure("matrix.sync.response_size", (double)b.len / 1024.0, "KiB");
	/* best of ROUNDS; CPU time too, as the machine may be shared */
	bench_figure("matrix.sync.parse", EVENTS / best, "events/s");
	bench_figure("matrix.sync.parse_cpu", EVENTS / best_cpu, "events/cpu-s");
	bench_figure("matrix.sync.parse_throughput", (double)b.len / best / 1e6, "MB/s");
	bench_figure("matrix.sync.peak_rss", (double)max_rss_kib(), "KiB");
	bench_figure("matrix.sync.rss_growth_while_parsing", (double)(max_rss_kib() - rss_before), "KiB");
	pb_buf_dispose(&b);
	return 0;
}
