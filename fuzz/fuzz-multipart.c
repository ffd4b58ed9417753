/*
 * libphonebridge — fuzz target for WSP multipart bodies: the input is the
 * body of an M-Retrieve.conf whose Content-Type the first byte picks
 * (related with a start, mixed, alternative), so the fuzzer spends its time
 * in part headers, content types, dispositions, transfer encodings, nesting
 * and names.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t heads[][48] = {
	/* X-Mms-Message-Type retrieve-conf, version 1.3, Content-Type related; type; start */
	{ 0x8C, 0x84, 0x8D, 0x93, 0x84, 0x1B, 0xB3, 0x89, 'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o',
	  'n', '/', 's', 'm', 'i', 'l', 0, 0x8A, '<', 's', 'm', 'i', 'l', '>', 0 },
	{ 0x8C, 0x84, 0x8D, 0x93, 0x84, 0xA3 }, /* multipart.mixed */
	{ 0x8C, 0x84, 0x8D, 0x93, 0x84, 0xA6 }, /* multipart.alternative */
};
static const size_t head_len[] = { 33, 6, 6 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned k = data[0] % 3;
	size_t n = head_len[k] + size - 1;
	uint8_t *pdu = malloc(n);
	if (!pdu)
		return 0;
	memcpy(pdu, heads[k], head_len[k]);
	memcpy(pdu + head_len[k], data + 1, size - 1);
	pb_mms_message *m;
	pb_parse_error perr;
	if (pb_mms_decode(&m, pdu, n, 0, &perr) == 0) {
		for (size_t i = 0; i < m->n_parts; i++) {
			const pb_mms_part *p = &m->parts[i];
			if (!p->filename || strchr(p->filename, '/') || strstr(p->filename, ".."))
				abort();
			if (p->data == p->raw && (p->raw < pdu || p->raw + p->raw_len > pdu + n))
				abort(); /* untransformed bodies point into the input */
			pb_buf t = PB_BUF_INIT;
			if (pb_mms_part_is_text(p))
				pb_mms_part_text(p, &t);
			pb_buf_dispose(&t);
		}
		pb_mms_message_free(m);
	} else if (perr.offset > n) {
		abort();
	}
	free(pdu);
	return 0;
}
