/*
 * pb-bridged — fuzz target for the transactions a homeserver pushes to the
 * application service (appservice.c: pbb_as_txn_parse()), bytes from the
 * network.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Whatever the bytes: PB_EMALFORMED (with a reason) or a /sync-shaped
 * document that the library's own /sync parser takes whole, with as many
 * events as were counted; never a crash or a hang.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* appservice.c logs through the daemon; nothing to log here */
void pbb_log(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

static int count(const pb_matrix_event *ev, void *ud)
{
	(void)ev;
	(*(size_t *)ud)++;
	return 0;
}

static int count_invite(const char *room, const char *inviter, void *ud)
{
	(void)room;
	(void)inviter;
	(void)ud;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	pb_buf out = PB_BUF_INIT;
	pb_parse_error pe = PB_PARSE_ERROR_INIT;
	size_t n = 0, seen = 0;
	int rc = pbb_as_txn_parse(data, size, "@bot:example.org", &out, &n, &pe);
	if (rc == PB_EMALFORMED) {
		if (pe.text[0] == '\0' || pe.offset > size)
			abort();
	} else if (rc == 0) {
		pb_matrix_sync_callbacks cb = { count, count_invite, NULL, NULL, &seen };
		if (pb_matrix_sync_parse(out.data, out.len, &cb, NULL, NULL) != 0 || seen > n)
			abort();
	} else if (rc != PB_ENOMEM) {
		abort();
	}
	pb_buf_dispose(&out);
	return 0;
}
