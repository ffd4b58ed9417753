/*
 * pb-bridged — fuzz target for the `!contacts import` parser (vCard and
 * CSV files uploaded to the control room).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Whatever the bytes, the parser returns 0 with every entry holding a name
 * and a number (and a picture only within the caps), or an error with a reason; never a crash or a hang.
 */
#include <stdlib.h>
#include <string.h>

#include "contacts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pbb_contacts c;
	pb_parse_error perr;
	int rc = pbb_contacts_parse(data, size, &c, &perr);
	if (rc == 0) {
		for (size_t i = 0; i < c.count; i++)
			if (!c.items[i].name[0] || !c.items[i].phone[0] || c.items[i].line < 1)
				abort();
		for (size_t i = 0; i < c.count; i++)
			if (c.items[i].photo < -1 || c.items[i].photo >= (int)c.n_photos)
				abort();
		for (size_t i = 0; i < c.n_photos; i++)
			if (!c.photos[i].len || c.photos[i].len > PBB_CONTACTS_PHOTO_MAX_BYTES || !c.photos[i].mimetype ||
			    c.photos[i].width > PBB_CONTACTS_PHOTO_MAX_SIDE || c.photos[i].height > PBB_CONTACTS_PHOTO_MAX_SIDE)
				abort();
		for (size_t i = 0; i < c.n_skipped; i++)
			if (!c.skipped[i].why || c.skipped[i].line < 1)
				abort();
	} else if (rc == PB_EMALFORMED && !perr.text[0]) {
		abort(); /* a fatal error always says why */
	}
	pbb_contacts_free(&c);
	return 0;
}
