/*
 * libphonebridge tests — store crash safety and concurrency.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Crash safety: a child process writes journal rows, state transitions,
 * attachments and multi-statement transactions (a message with its SMS
 * part), and reports each one to the parent over a pipe *after* the
 * commit returned. The parent SIGKILLs it at a random moment (also during
 * the very first open, while the schema is being created), then reopens the
 * database, runs PRAGMA integrity_check and checks that every reported
 * commit is there with its last reported state — or exactly one legal step
 * further, for the one commit that may have returned without its report
 * reaching the pipe; and that no transaction is half there. Many rounds, bounded in time (PB_STORE_CRASH_SECONDS,
 * default 12).
 *
 * Concurrency: two threads and two processes, each with its own handle,
 * write to one database at once; no call may fail (no SQLITE_BUSY reaches
 * the caller).
 *
 * Not in the valgrind run (suite "store-integration"): it forks and kills.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store-private.h"
#include "store-testutil.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- crash safety ----------------------------------------------------------- */

enum { REPORT_ROW = 1, REPORT_ATTACHMENT = 2 };

/* One report: written with one write() of less than PIPE_BUF, so atomic. */
struct report {
	int32_t kind;
	int32_t state;
	int64_t id;
	int32_t attempts;
	char sha256[PB_STORE_SHA256_HEX + 1];
};

struct row {
	int64_t id;
	int state;
	int attempts;
};

static void send_report(int fd, const struct report *r)
{
	if (write(fd, r, sizeof(*r)) != (ssize_t)sizeof(*r))
		_exit(3);
}

static void report_row(int fd, const struct row *w)
{
	struct report r = { REPORT_ROW, w->state, w->id, w->attempts, "" };
	send_report(fd, &r);
}

/* The rows a writer can move on: what it inserted and what it found queued,
 * sending or stored when it started. */
static void load_work(pb_store *st, struct row *rows, size_t *n, size_t cap)
{
	static const int dirs[] = { PB_STORE_OUTBOUND, PB_STORE_OUTBOUND, PB_STORE_INBOUND };
	static const int states[] = { PB_STORE_QUEUED, PB_STORE_SENDING, PB_STORE_STORED };
	for (int k = 0; k < 3; k++) {
		pb_store_msg_list *l;
		if (pb_store_msg_list_state(st, dirs[k], states[k], 0, 200, &l) != 0)
			_exit(4);
		for (size_t i = 0; i < l->count && *n < cap; i++)
			rows[(*n)++] = (struct row){ l->items[i]->id, l->items[i]->state, l->items[i]->attempts };
		pb_store_msg_list_free(l);
	}
}

/* Commit one legal step of @w (the writer's own chain). */
static int step_row(pb_store *st, struct row *w, unsigned *seed)
{
	int to = 0, attempts = w->attempts;
	switch (w->state) {
	case PB_STORE_QUEUED:
		to = PB_STORE_SENDING;
		attempts++;
		break;
	case PB_STORE_SENDING: {
		static const int next[] = { PB_STORE_SENT, PB_STORE_SENT, PB_STORE_FAILED, PB_STORE_QUEUED };
		to = next[rand_r(seed) % 4];
		break;
	}
	case PB_STORE_STORED:
		to = rand_r(seed) % 3 ? PB_STORE_DELIVERED : PB_STORE_STORED;
		attempts++;
		break;
	default:
		return 1; /* terminal for the writer */
	}
	int rc = pb_store_msg_transition(st, w->id, to, to == PB_STORE_DELIVERED ? "$d" : NULL,
					 to == PB_STORE_QUEUED || to == PB_STORE_STORED ? "retry" : NULL);
	if (rc != 0)
		return rc;
	w->state = to;
	w->attempts = attempts;
	return 0;
}

static void writer(const char *path, int fd, int round)
{
	unsigned seed = (unsigned)round * 7919u + 17u;
	pb_store_options o = PB_STORE_OPTIONS_INIT;
	o.synchronous = round % 2 ? PB_STORE_SYNC_NORMAL : PB_STORE_SYNC_FULL;
	pb_store *st;
	if (pb_store_open(&st, path, &o) != 0)
		_exit(2);
	enum { CAP = 4096 };
	static struct row rows[CAP];
	size_t n = 0;
	load_work(st, rows, &n, CAP);
	for (int i = 0;; i++) {
		int what = rand_r(&seed) % 10;
		if (what < 3 && n < CAP) {
			char key[48];
			pb_store_msg_in m = PB_STORE_MSG_IN_INIT;
			bool out = what < 2;
			snprintf(key, sizeof(key), "r%d-%d", round, i);
			m.dir = out ? PB_STORE_OUTBOUND : PB_STORE_INBOUND;
			m.state = out ? PB_STORE_QUEUED : PB_STORE_STORED;
			m.dedup_key = key;
			m.peer = "+4930123456";
			m.body = "a message that must survive";
			int64_t id;
			if (pb_store_msg_insert(st, &m, &id) != 0)
				_exit(5);
			rows[n] = (struct row){ id, m.state, 0 };
			report_row(fd, &rows[n++]);
		} else if (what == 4 && n < CAP) {
			/* a reassembled message and its part, one transaction */
			char key[48];
			snprintf(key, sizeof(key), "t-%d-%d", round, i);
			pb_store_msg_in m = PB_STORE_MSG_IN_INIT;
			m.dir = PB_STORE_INBOUND;
			m.state = PB_STORE_STORED;
			m.dedup_key = key;
			m.body = "joined from parts";
			pb_store_sms_part part = { key, "+4930123456", i & 0xff, 1, 1,
						   (const uint8_t *)"\x00\x01", 2, 0 };
			int64_t id;
			if (pb_store_begin(st) != 0 || pb_store_msg_insert(st, &m, &id) != 0 ||
			    pb_store_sms_part_put(st, &part) != 0 || pb_store_commit(st) != 0)
				_exit(8);
			rows[n] = (struct row){ id, m.state, 0 };
			report_row(fd, &rows[n++]);
		} else if (what == 3 && n > 0) {
			struct row *w = &rows[rand_r(&seed) % n];
			if (w->state == PB_STORE_DELIVERED || w->state == PB_STORE_STORED) {
				uint8_t data[300];
				for (size_t k = 0; k < sizeof(data); k++)
					data[k] = (uint8_t)rand_r(&seed);
				struct report r = { REPORT_ATTACHMENT, 0, w->id, 0, "" };
				if (pb_store_attachment_add(st, w->id, data, sizeof(data), "image/png", "x.png",
							    r.sha256) != 0)
					_exit(6);
				send_report(fd, &r);
			}
		} else if (n > 0) {
			struct row *w = &rows[rand_r(&seed) % n];
			int rc = step_row(st, w, &seed);
			if (rc < 0)
				_exit(7);
			if (rc == 0)
				report_row(fd, w);
		}
	}
}

/* Is @now the reported state @was, or one step of the writer's chain on? */
static bool same_or_next(const struct row *was, int state, int attempts)
{
	if (state == was->state && attempts == was->attempts)
		return true;
	switch (was->state) {
	case PB_STORE_QUEUED:
		return state == PB_STORE_SENDING && attempts == was->attempts + 1;
	case PB_STORE_SENDING:
		return (state == PB_STORE_SENT || state == PB_STORE_FAILED || state == PB_STORE_QUEUED) &&
		       attempts == was->attempts;
	case PB_STORE_STORED:
		return (state == PB_STORE_DELIVERED || state == PB_STORE_STORED) && attempts == was->attempts + 1;
	default:
		return false;
	}
}

struct model {
	struct row *rows; /* indexed by id */
	size_t cap;
	size_t count;
	char (*hashes)[PB_STORE_SHA256_HEX + 1];
	size_t nhash, caphash;
};

static struct row *model_row(struct model *m, int64_t id)
{
	assert_true(id > 0 && id < 10000000);
	if ((size_t)id >= m->cap) {
		size_t ncap = (size_t)id * 2 + 64;
		m->rows = realloc(m->rows, ncap * sizeof(*m->rows));
		assert_non_null(m->rows);
		memset(m->rows + m->cap, 0, (ncap - m->cap) * sizeof(*m->rows));
		m->cap = ncap;
	}
	return &m->rows[id];
}

static void model_apply(struct model *m, const struct report *r)
{
	if (r->kind == REPORT_ATTACHMENT) {
		if (m->nhash == m->caphash) {
			m->caphash = m->caphash ? m->caphash * 2 : 64;
			m->hashes = realloc(m->hashes, m->caphash * sizeof(*m->hashes));
			assert_non_null(m->hashes);
		}
		memcpy(m->hashes[m->nhash++], r->sha256, sizeof(r->sha256));
		return;
	}
	struct row *w = model_row(m, r->id);
	if (w->id == 0)
		m->count++;
	*w = (struct row){ r->id, r->state, r->attempts };
}

/* Check the database against the reports; then make the model what the
 * database holds (recovering rows left in "sending", as a daemon would). */
static void verify(const char *path, struct model *m, int round, int *ahead_total)
{
	pb_store *st;
	assert_pb_ok(pb_store_open(&st, path, NULL));
	assert_pb_ok(pb_store_check(st));
	int ahead = 0;
	size_t present = 0;
	for (size_t id = 1; id < m->cap; id++) {
		struct row *w = &m->rows[id];
		if (w->id == 0)
			continue;
		pb_store_msg *msg;
		int rc = pb_store_msg_get(st, w->id, &msg);
		if (rc != 0)
			fail_msg("round %d: committed row %lld is missing", round, (long long)w->id);
		present++;
		if (!same_or_next(w, msg->state, msg->attempts))
			fail_msg("round %d: row %lld is %s/%d, reported %s/%d", round, (long long)w->id,
				 pb_store_state_name(msg->state), msg->attempts, pb_store_state_name(w->state),
				 w->attempts);
		ahead += (int)msg->state != w->state || msg->attempts != w->attempts;
		pb_store_msg_free(msg);
	}
	for (size_t i = 0; i < m->nhash; i++) {
		pb_buf b = PB_BUF_INIT;
		assert_pb_ok(pb_store_attachment_read(st, m->hashes[i], &b));
		assert_int_equal(b.len, 300);
		pb_buf_dispose(&b);
	}
	/* rows the parent never heard of: at most the one unreported insert */
	int64_t total = 0;
	for (int dir = PB_STORE_INBOUND; dir <= PB_STORE_OUTBOUND; dir++)
		for (int s = 1; s <= 8; s++) {
			int64_t c;
			assert_pb_ok(pb_store_msg_count(st, dir, s, &c));
			total += c;
		}
	int unreported = (int)(total - (int64_t)present);
	if (ahead + unreported > 1)
		fail_msg("round %d: %d rows ahead of their reports and %d unreported: more than the one "
			 "commit that can lose its report", round, ahead, unreported);
	*ahead_total += ahead + unreported;

	/* multi-statement transactions are all or nothing: every "t-" row has
	 * its part and every "t-" part its row */
	static const char *const orphans[] = {
		"SELECT count(*) FROM messages m WHERE dedup_key LIKE 't-%' AND NOT EXISTS "
		"(SELECT 1 FROM sms_parts p WHERE p.group_key = m.dedup_key)",
		"SELECT count(*) FROM sms_parts p WHERE group_key LIKE 't-%' AND NOT EXISTS "
		"(SELECT 1 FROM messages m WHERE m.dedup_key = p.group_key)",
	};
	for (size_t i = 0; i < 2; i++) {
		sqlite3_stmt *q;
		assert_int_equal(sqlite3_prepare_v2(st->db, orphans[i], -1, &q, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		if (sqlite3_column_int(q, 0) != 0)
			fail_msg("round %d: %d half-committed transactions (%s)", round,
				 sqlite3_column_int(q, 0), i ? "part without row" : "row without part");
		sqlite3_finalize(q);
	}

	assert_pb_ok(pb_store_msg_recover(st, NULL));
	for (int dir = PB_STORE_INBOUND; dir <= PB_STORE_OUTBOUND; dir++)
		for (int s = 1; s <= 8; s++) {
			pb_store_msg_list *l;
			assert_pb_ok(pb_store_msg_list_state(st, dir, s, 0, 0, &l));
			for (size_t i = 0; i < l->count; i++) {
				struct report r = { REPORT_ROW, l->items[i]->state, l->items[i]->id,
						    l->items[i]->attempts, "" };
				model_apply(m, &r);
			}
			pb_store_msg_list_free(l);
		}
	pb_store_close(st);
}

static void drain(int fd, struct model *m, double until, size_t *reports)
{
	static struct report r;
	static size_t have;
	for (;;) {
		int wait_ms = until < 0 ? -1 : (int)((until - now_s()) * 1000);
		if (until >= 0 && wait_ms <= 0)
			return;
		struct pollfd p = { fd, POLLIN, 0 };
		int pr = poll(&p, 1, wait_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return;
		ssize_t n = read(fd, (char *)&r + have, sizeof(r) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			assert_int_equal(have, 0); /* reports are written whole */
			return;
		}
		have += (size_t)n;
		if (have == sizeof(r)) {
			model_apply(m, &r);
			(*reports)++;
			have = 0;
		}
	}
}

static void test_store__survives_sigkill_at_random_moments(void **state)
{
	(void)state;
	char *dir = store_scratch_dir();
	char path[512];
	snprintf(path, sizeof(path), "%s/crash.db", dir);
	double budget = getenv("PB_STORE_CRASH_SECONDS") ? atof(getenv("PB_STORE_CRASH_SECONDS")) : 12.0;
	double end = now_s() + budget;
	struct model m = { 0 };
	unsigned seed = 4242;
	int rounds = 0, ahead = 0;
	size_t reports = 0;
	while (now_s() < end && rounds < 2000) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			writer(path, p[1], rounds);
			_exit(0);
		}
		close(p[1]);
		/* mostly a few ms into the writing, sometimes at once */
		double delay = (rand_r(&seed) % 8 == 0) ? (rand_r(&seed) % 3000) / 1e6
							 : (rand_r(&seed) % 60000) / 1e6;
		drain(p[0], &m, now_s() + delay, &reports);
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
			fail_msg("round %d: writer ended by itself (status 0x%x)", rounds, status);
		drain(p[0], &m, -1, &reports);
		close(p[0]);
		verify(path, &m, rounds, &ahead);
		rounds++;
	}
	print_message("# %d kills, %zu reported commits, %zu rows, %zu attachments checked; "
		      "%d commits had returned without their report reaching the parent\n",
		      rounds, reports, m.count, m.nhash, ahead);
	assert_true(rounds >= 20);
	assert_true(m.count > 0);
	free(m.rows);
	free(m.hashes);
	store_scratch_remove(dir);
}

/* --- concurrency ------------------------------------------------------------------ */

#define OPS 150

struct worker {
	const char *path;
	const char *name;
	int failures;
	char error[256];
};

/* Every call must succeed: a PB_EBUSY here means SQLITE_BUSY escaped. */
#define MUST(w, expr)                                                                         \
	do {                                                                                  \
		int rc_ = (expr);                                                             \
		if (rc_ != 0) {                                                               \
			if ((w)->failures++ == 0)                                             \
				snprintf((w)->error, sizeof((w)->error), "%s: %s -> %s: %s", (w)->name, \
					 #expr, pb_error_name(rc_), pb_error_last()->message); \
		}                                                                             \
	} while (0)

static void *work(void *arg)
{
	struct worker *w = arg;
	pb_store *st;
	MUST(w, pb_store_open(&st, w->path, NULL));
	if (w->failures)
		return NULL;
	for (int i = 0; i < OPS; i++) {
		char key[64], num[32];
		snprintf(key, sizeof(key), "%s-%d", w->name, i);
		snprintf(num, sizeof(num), "+4930%06d", i);
		pb_store_msg_in m = PB_STORE_MSG_IN_INIT;
		m.dir = PB_STORE_OUTBOUND;
		m.state = PB_STORE_QUEUED;
		m.dedup_key = key;
		m.body = "concurrent";
		int64_t id = 0;
		MUST(w, pb_store_msg_insert(st, &m, &id));
		MUST(w, pb_store_msg_transition(st, id, PB_STORE_SENDING, NULL, NULL));
		MUST(w, pb_store_msg_transition(st, id, PB_STORE_SENT, NULL, NULL));
		MUST(w, pb_store_kv_set(st, "cursor", key));
		MUST(w, pb_store_attempt_record(st, num, 0, i % 2));
		MUST(w, pb_store_list_add(st, PB_STORE_ALLOW, num, PB_STORE_SRC_CHALLENGE, 0));
		MUST(w, pb_store_list_lookup(st, PB_STORE_ALLOW, num, 0, NULL));
		if (i % 10 == 0) {
			MUST(w, pb_store_begin(st));
			MUST(w, pb_store_kv_set(st, key, "in a transaction"));
			MUST(w, pb_store_commit(st));
		}
		pb_store_msg_list *l = NULL;
		MUST(w, pb_store_msg_list_state(st, PB_STORE_OUTBOUND, PB_STORE_QUEUED, 0, 10, &l));
		pb_store_msg_list_free(l);
	}
	pb_store_close(st);
	return NULL;
}

static void test_store__two_threads_and_two_processes_never_see_busy(void **state)
{
	(void)state;
	char *dir = store_scratch_dir();
	char path[512];
	snprintf(path, sizeof(path), "%s/shared.db", dir);
	/* the processes start first and race to create the database */
	pid_t pids[2];
	int pipes[2][2];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(pipes[i]), 0);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct worker w = { path, i ? "proc1" : "proc0", 0, "" };
			work(&w);
			if (w.failures && write(pipes[i][1], w.error, strlen(w.error)) < 0)
				_exit(2);
			_exit(w.failures ? 1 : 0);
		}
		close(pipes[i][1]);
	}
	struct worker tw[2] = { { path, "thread0", 0, "" }, { path, "thread1", 0, "" } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, work, &tw[i]), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		if (tw[i].failures)
			fail_msg("%d failures, first: %s", tw[i].failures, tw[i].error);
	}
	for (int i = 0; i < 2; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		char err[256] = "";
		ssize_t n = read(pipes[i][0], err, sizeof(err) - 1);
		err[n > 0 ? n : 0] = '\0';
		close(pipes[i][0]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("process %d failed (status 0x%x): %s", i, status, err);
	}
	pb_store *st;
	assert_pb_ok(pb_store_open(&st, path, NULL));
	assert_pb_ok(pb_store_check(st));
	int64_t sent;
	assert_pb_ok(pb_store_msg_count(st, PB_STORE_OUTBOUND, PB_STORE_SENT, &sent));
	assert_int_equal(sent, 4 * OPS);
	int64_t c;
	assert_pb_ok(pb_store_attempt_count(st, "+4930000001", 0, true, &c));
	assert_int_equal(c, 4);
	pb_store_close(st);
	store_scratch_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store__survives_sigkill_at_random_moments),
		cmocka_unit_test(test_store__two_threads_and_two_processes_never_see_busy),
	};
	return pb_test_run("store-crash", tests);
}
