/*
 * libphonebridge — fuzz target for HiLink router replies: neutralising
 * (control bytes, CESU-8, bad UTF-8), XML parsing, message entries.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "modem/modem-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pb_buf clean = PB_BUF_INIT, back = PB_BUF_INIT;
	if (pb_modem__hilink_neutralise(&clean, data, size) == 0) {
		if (pb_utf8_validate((const char *)clean.data, clean.len, NULL) != 0)
			abort(); /* what goes to libxml2 is always UTF-8 */
		pb_modem__hilink_unescape(&back, (const char *)clean.data, clean.len);
	}
	pb_buf_dispose(&clean);
	pb_buf_dispose(&back);

	pb_hilink_doc *d = NULL;
	pb_parse_error perr;
	if (pb_modem__hilink_parse(&d, data, size, NULL, &perr) == 0) {
		pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
		pb_modem__hilink_doc_messages(d, &l);
		for (size_t i = 0; i < l.count; i++)
			if (l.items[i].raw_len && !l.items[i].raw)
				abort();
		pb_modem_msg_list_dispose(&l);
		pb_free(pb_modem__hilink_doc_get(d, "Count"));
		pb_modem__hilink_doc_error(d);
		pb_modem__hilink_doc_ok(d);
		pb_modem__hilink_doc_free(d);
	} else if (perr.offset > size) {
		abort();
	}
	return 0;
}
