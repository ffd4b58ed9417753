/*
 * libphonebridge bench — the store's message journal: committed inserts and
 * state transitions per second, with synchronous=NORMAL and FULL (WAL).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every insert and every transition is its own commit, as the daemons do
 * them (plus one figure for inserts batched 100 to a transaction). The
 * database lives in $PB_BENCH_DIR (default: the current directory), so the
 * figures are those of a real file system's fsync; a tmpfs would hide the
 * difference between the two levels. Each figure runs about a second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <phonebridge/phonebridge.h>

#include "bench.h"

#define SECONDS 1.0

static void die(const char *what)
{
	fprintf(stderr, "bench-store: %s: %s\n", what, pb_error_last()->message);
	exit(1);
}

static int64_t insert(pb_store *st, const char *tag, long i)
{
	char key[64];
	snprintf(key, sizeof(key), "%s-%ld", tag, i);
	pb_store_msg_in m = PB_STORE_MSG_IN_INIT;
	m.dir = PB_STORE_OUTBOUND;
	m.state = PB_STORE_QUEUED;
	m.dedup_key = key;
	m.peer = "+4930123456";
	m.room = "!room:example.org";
	m.body = "Are we still on for dinner tonight? I can bring dessert.";
	int64_t id;
	if (pb_store_msg_insert(st, &m, &id) != 0)
		die("insert");
	return id;
}

static void run(const char *dir, int sync, const char *label)
{
	char path[1024], name[128];
	snprintf(path, sizeof(path), "%s/bench-store-%d-%ld.db", dir, sync, (long)getpid());
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.synchronous = sync;
	pb_store *st;
	if (pb_store_open(&st, path, &o) != 0)
		die("open");

	long n = 0;
	int64_t first = 0;
	double t0 = bench_now(), t;
	do {
		int64_t id = insert(st, "i", n++);
		if (first == 0)
			first = id;
	} while ((t = bench_now() - t0) < SECONDS);
	snprintf(name, sizeof(name), "store.insert.%s", label);
	bench_figure(name, n / t, "commits/s");

	/* queued -> sending -> sent on the rows just inserted */
	long k = 0;
	t0 = bench_now();
	for (int64_t id = first; id < first + n && (t = bench_now() - t0) < SECONDS; id++) {
		if (pb_store_msg_transition(st, id, PB_STORE_SENDING, NULL, NULL) != 0 ||
		    pb_store_msg_transition(st, id, PB_STORE_SENT, "mr", NULL) != 0)
			die("transition");
		k += 2;
	}
	t = bench_now() - t0;
	snprintf(name, sizeof(name), "store.transition.%s", label);
	bench_figure(name, k / t, "commits/s");

	/* a whole outbound message: insert + 2 transitions, 3 commits */
	long m = 0;
	t0 = bench_now();
	do {
		int64_t id = insert(st, "m", m++);
		if (pb_store_msg_transition(st, id, PB_STORE_SENDING, NULL, NULL) != 0 ||
		    pb_store_msg_transition(st, id, PB_STORE_SENT, NULL, NULL) != 0)
			die("transition");
	} while ((t = bench_now() - t0) < SECONDS);
	snprintf(name, sizeof(name), "store.message_lifecycle.%s", label);
	bench_figure(name, m / t, "messages/s");

	/* the same inserts batched 100 to a transaction */
	long b = 0;
	t0 = bench_now();
	do {
		if (pb_store_begin(st) != 0)
			die("begin");
		for (int j = 0; j < 100; j++)
			insert(st, "b", b++);
		if (pb_store_commit(st) != 0)
			die("commit");
	} while ((t = bench_now() - t0) < SECONDS);
	snprintf(name, sizeof(name), "store.insert_batched100.%s", label);
	bench_figure(name, b / t, "rows/s");

	pb_store_close(st);
	char f[1100];
	static const char *const suffix[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(f, sizeof(f), "%s%s", path, suffix[i]);
		unlink(f);
	}
	snprintf(f, sizeof(f), "%s.attachments", path);
	rmdir(f);
}

int main(void)
{
	const char *dir = getenv("PB_BENCH_DIR") ? getenv("PB_BENCH_DIR") : ".";
	run(dir, PB_STORE_SYNC_NORMAL, "normal");
	run(dir, PB_STORE_SYNC_FULL, "full");
	return 0;
}
