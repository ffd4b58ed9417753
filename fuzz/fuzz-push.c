/*
 * libphonebridge — fuzz target for the connectionless WSP push PDU and the
 * MMS notification it carries.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pb_wsp_push *push;
	pb_mms_message *m;
	pb_parse_error perr;
	if (pb_wsp_push_decode(&push, data, size, &perr) == 0) {
		if (push->body_offset + push->body_len != size || push->body != data + push->body_offset)
			abort(); /* the body is the rest of the input, not a copy */
		pb_wsp_push_kind_name(push->kind);
		pb_wsp_push_free(push);
	} else if (perr.offset > size) {
		abort();
	}
	if (pb_mms_decode_push(&m, &push, data, size, &perr) == 0) {
		if (m->message_type != PB_MMS_NOTIFICATION_IND && m->message_type != PB_MMS_DELIVERY_IND &&
		    m->message_type != PB_MMS_READ_ORIG_IND)
			abort();
		pb_mms_message_free(m);
		pb_wsp_push_free(push);
	} else if (perr.offset > size) {
		abort();
	}
	return 0;
}
