/*
 * libphonebridge bench — what the store adds to a call's verdict, SQLite
 * against PostgreSQL (docs/cluster.md, "Growing past one machine").
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A verdict is pb_screen_policy_decide() with the lookups pb_screener makes
 * (deny list, allow list, recent failures: three indexed reads); the writes
 * are what a challenged call leaves behind when it ends (the attempt, the
 * allow-list entry of a passed caller, the call-log row: three commits).
 * Both run against a store holding 20 000 list entries and 20 000 attempts.
 * SQLite: a file in $PB_BENCH_DIR (default: the current directory, keep it
 * on a real disk), synchronous FULL. PostgreSQL: when $PB_TEST_PG_HOST is
 * set, as tests/pg_server.py --fsync sets it (a server on this machine, over
 * its Unix socket, fsync on):
 *
 *     tests/pg_server.py --fsync -- build-rel/bench/bench-verdict
 *
 * Prints p50 and p99 per backend in microseconds, and PostgreSQL's extra.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <phonebridge/phonebridge.h>

#include "bench.h"

#define ENTRIES 10000
#define ROUNDS 2000

static int is_on(pb_store *st, int list, const char *e164)
{
	int rc = pb_store_list_lookup(st, list, e164, 0, NULL);
	return rc == 0 ? 1 : rc == PB_ENOTFOUND ? 0 : rc;
}
static int allowed(const char *n, void *ud) { return is_on(ud, PB_STORE_ALLOW, n); }
static int denied(const char *n, void *ud) { return is_on(ud, PB_STORE_DENY, n); }
static int failures(const char *n, int64_t since, void *ud)
{
	int64_t c = 0;
	int rc = pb_store_attempt_count(ud, n, since * 1000, true, &c);
	return rc < 0 ? rc : (int)c;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-verdict: %s: %s\n", what, pb_error_last()->message);
	exit(1);
}

static void fill(pb_store *st)
{
	char n[32];
	if (pb_store_begin(st) < 0)
		die("begin");
	for (int i = 0; i < ENTRIES; i++) {
		snprintf(n, sizeof(n), "+1555%07d", i * 2);
		if (pb_store_list_add(st, PB_STORE_ALLOW, n, PB_STORE_SRC_CHALLENGE, 0) < 0)
			die("fill allow");
		snprintf(n, sizeof(n), "+1800%07d", i);
		if (pb_store_list_add(st, PB_STORE_DENY, n, PB_STORE_SRC_MANUAL, 0) < 0)
			die("fill deny");
		snprintf(n, sizeof(n), "+1555%07d", i * 2 + 1);
		if (pb_store_attempt_record(st, n, 0, true) < 0 || pb_store_attempt_record(st, n, 0, false) < 0)
			die("fill attempts");
	}
	if (pb_store_commit(st) < 0)
		die("commit");
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

struct result {
	double verdict50, verdict99, writes50, writes99;
};

static struct result run(pb_store *st, const char *name)
{
	static double v[ROUNDS], w[ROUNDS];
	pb_screen_policy *p;
	if (pb_screen_policy_new(&p) < 0 || pb_screen_policy_set(p, "region", "US") < 0)
		die("policy");
	pb_screen_lookups lk = { allowed, denied, failures, st };
	char from[64], n[32];
	for (int i = 0; i < ROUNDS; i++) {
		/* callers: on the allow list, unknown (every lookup runs), denied */
		int kind = i % 3;
		snprintf(from, sizeof(from), "sip:%s%07d@trunk.example", kind == 2 ? "+1800" : "+1555",
			 kind == 0 ? (i * 7919) % (2 * ENTRIES) & ~1 : (i * 7919) % ENTRIES * 2 + 1);
		pb_screen_call call = PB_SCREEN_CALL_INIT;
		call.from = from;
		call.called = "sip:+15550100000@screen.example";
		call.now = (int64_t)time(NULL);
		pb_screen_decision d;
		double t0 = bench_now();
		if (pb_screen_policy_decide(p, &call, &lk, &d) < 0)
			die("decide");
		v[i] = (bench_now() - t0) * 1e6;
		bench_keep(d.verdict);
		/* the end of a challenged call */
		snprintf(n, sizeof(n), "+1666%07d", i);
		pb_store_call row = { 0 };
		row.caller = n;
		row.verdict = "challenge";
		row.challenge = "press-digit:passed";
		t0 = bench_now();
		if (pb_store_attempt_record(st, n, 0, false) < 0 ||
		    pb_store_list_add(st, PB_STORE_ALLOW, n, PB_STORE_SRC_CHALLENGE, 0) < 0 ||
		    pb_store_call_log(st, &row, NULL) < 0)
			die("writes");
		w[i] = (bench_now() - t0) * 1e6;
	}
	pb_screen_policy_free(p);
	struct result r = { pct(v, ROUNDS, 0.5), pct(v, ROUNDS, 0.99), pct(w, ROUNDS, 0.5), pct(w, ROUNDS, 0.99) };
	char fig[96];
	snprintf(fig, sizeof(fig), "verdict.%s.p50", name);
	bench_figure(fig, r.verdict50, "us");
	snprintf(fig, sizeof(fig), "verdict.%s.p99", name);
	bench_figure(fig, r.verdict99, "us");
	snprintf(fig, sizeof(fig), "call-end-writes.%s.p50", name);
	bench_figure(fig, r.writes50, "us");
	snprintf(fig, sizeof(fig), "call-end-writes.%s.p99", name);
	bench_figure(fig, r.writes99, "us");
	return r;
}

int main(void)
{
	const char *dir = getenv("PB_BENCH_DIR") ? getenv("PB_BENCH_DIR") : ".";
	char path[4096];
	snprintf(path, sizeof(path), "%s/bench-verdict-%d.db", dir, (int)getpid());
	pb_store *st;
	if (pb_store_open(&st, path, NULL) < 0)
		die(path);
	fill(st);
	struct result lite = run(st, "sqlite");
	pb_store_close(st);
	char f[4200];
	const char *tails[] = { "", "-wal", "-shm" };
	for (int i = 0; i < 3; i++) {
		snprintf(f, sizeof(f), "%s%s", path, tails[i]);
		unlink(f);
	}
	snprintf(f, sizeof(f), "%s.attachments", path);
	rmdir(f);

	const char *host = getenv("PB_TEST_PG_HOST");
	if (host == NULL) {
		fprintf(stderr, "bench-verdict: no PostgreSQL (run under tests/pg_server.py --fsync): SQLite only\n");
		return 0;
	}
	char url[4200];
	snprintf(url, sizeof(url), "postgresql://%s@/postgres?host=%s&port=%s", getenv("PB_TEST_PG_USER"), host,
		 getenv("PB_TEST_PG_PORT"));
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.password_file = getenv("PB_TEST_PG_PASSWORD_FILE");
	if (pb_store_open(&st, url, &o) < 0)
		die(url);
	fill(st);
	struct result pg = run(st, "postgresql");
	pb_store_close(st);
	bench_figure("verdict.postgresql-extra.p50", pg.verdict50 - lite.verdict50, "us");
	bench_figure("verdict.postgresql-extra.p99", pg.verdict99 - lite.verdict99, "us");
	bench_figure("call-end-writes.postgresql-extra.p50", pg.writes50 - lite.writes50, "us");
	bench_figure("call-end-writes.postgresql-extra.p99", pg.writes99 - lite.writes99, "us");
	return 0;
}
