/*
 * libphonebridge — fuzz target for SMS reassembly: a stream of PDUs (each
 * prefixed by its length and a control byte) through one reassembler, with
 * timeouts, duplicates and interleaved groups.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Record: [len] [ctl] [len bytes of PDU]. ctl bit 0: the PDU has an SMSC
 * field; bits 1-7: how far the virtual clock moves before the PDU.
 */
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void take(pb_sms_assembled *a)
{
	if (!a)
		return;
	if (a->received > a->total || a->received == 0 || (a->complete && a->received != a->total))
		abort();
	if (a->text[a->text_len] != '\0' || pb_utf8_validate(a->text, a->text_len, NULL) != 0)
		abort();
	pb_sms_assembled_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pb_sms_reassembler_options o = PB_SMS_REASSEMBLER_OPTIONS_INIT;
	o.timeout_ms = 100;
	o.max_groups = size > 0 && (data[0] & 0x80) ? 3 : 0;
	pb_sms_reassembler *r;
	if (pb_sms_reassembler_new(&r, &o) != 0)
		return 0;
	int64_t now = 0;
	size_t i = 0;
	while (i + 2 <= size) {
		size_t len = data[i];
		uint8_t ctl = data[i + 1];
		i += 2;
		if (len > size - i)
			len = size - i;
		now += ctl >> 1;
		pb_sms_assembled *a = NULL;
		pb_parse_error perr;
		int rc = pb_sms_reassembler_add(r, data + i, len, ctl & 1 ? PB_SMS_DECODE_SMSC : 0, now, &a, &perr);
		if (rc == PB_EMALFORMED && perr.offset > len)
			abort();
		take(a);
		while (pb_sms_reassembler_expire(r, now, &a) == 0 && a)
			take(a);
		i += len;
	}
	pb_sms_assembled *a;
	while (pb_sms_reassembler_flush(r, &a) == 0 && a)
		take(a);
	if (pb_sms_reassembler_pending(r) != 0)
		abort();
	pb_sms_reassembler_free(r);
	return 0;
}
