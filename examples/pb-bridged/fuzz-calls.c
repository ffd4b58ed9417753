/*
 * pb-bridged — fuzz target for the control room's call commands (calls.c:
 * !allow, !deny, !remove, !list, !calls), text an owner types.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Whatever the text, the command is not ours (0) or answered (1, with an
 * answer); never a crash, a hang or a store error. One store for the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pb_store *st;
static char dir[] = "/tmp/pb-fuzz-calls-XXXXXX";

/* the scratch store goes when the run ends */
static void cleanup(void)
{
	static const char *const names[] = { "s.db", "s.db-wal", "s.db-shm", "s.db.attachments" };
	char path[96];
	pb_store_close(st);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		remove(path);
	}
	remove(dir);
}

static pb_store *store(void)
{
	if (st == NULL) {
		char path[64];
		if (mkdtemp(dir) == NULL)
			abort();
		atexit(cleanup);
		snprintf(path, sizeof(path), "%s/s.db", dir);
		pb_store_options o = PB_STORE_OPTIONS_INIT;
		o.synchronous = PB_STORE_SYNC_NORMAL;
		if (pb_store_open(&st, path, &o) < 0)
			abort();
	}
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	pb_buf ans = PB_BUF_INIT;
	int rc = pbb_calls_command(store(), "DE", text, &ans);
	if (rc < 0 || rc > 1 || (rc == 1 && ans.len == 0))
		abort();
	pb_buf_dispose(&ans);
	free(text);
	return 0;
}
