/*
 * libphonebridge — fuzz target for SMSEagle replies (JSON-RPC rows, signal)
 * and its webhook's form fields.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>

#include "modem/modem-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	pb_parse_error perr;
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	if (pb_modem__smseagle_parse_rows(s, size, &l, &perr) == PB_EMALFORMED && perr.offset > size)
		abort();
	pb_modem_msg_list_dispose(&l);
	int pct;
	pb_modem__smseagle_parse_signal(s, size, &pct, NULL);
	if (pct < -1 || pct > 100)
		abort();
	pb_modem_msg m;
	char *key = NULL;
	if (pb_modem__smseagle_parse_webhook(s, size, &m, &key) == 0) {
		pb_modem_msg_dispose(&m);
		pb_free(key);
	}
	return 0;
}
