/*
 * libphonebridge — fuzz target for MMS PDU decoding (headers, encoded
 * strings, multipart bodies, transfer encodings, part names) and the helpers
 * programs call on a decoded message.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <phonebridge/phonebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const pb_mms_message *m)
{
	pb_buf t = PB_BUF_INIT;
	if (pb_mms_message_text(m, &t) == 0 && pb_utf8_validate((const char *)t.data, t.len, NULL) != 0)
		abort(); /* text is always UTF-8 */
	pb_buf_dispose(&t);
	for (size_t i = 0; i < m->n_parts; i++) {
		const pb_mms_part *p = &m->parts[i];
		char hex[65];
		if (!p->filename || strchr(p->filename, '/') || strstr(p->filename, "..") ||
		    strlen(p->filename) > 100 || p->filename[0] == '.')
			abort(); /* names are always safe */
		for (size_t k = 0; k < i; k++)
			if (!strcasecmp(m->parts[k].filename, p->filename))
				abort(); /* and unique */
		if (pb_mms_part_sha256(p, NULL, hex) != 0)
			abort();
		pb_mms_part_is_media(p);
	}
	for (size_t i = 0; i < m->n_headers; i++)
		if (m->headers[i].text && pb_utf8_validate(m->headers[i].text, strlen(m->headers[i].text), NULL))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pb_mms_message *m;
	pb_parse_error perr;
	int rc = pb_mms_decode(&m, data, size, 0, &perr);
	if (rc == 0) {
		if (m->incomplete)
			abort(); /* never partial without asking */
		check_message(m);
		pb_mms_message_free(m);
	} else if (perr.offset > size) {
		abort();
	}
	/* salvage: whatever could be read, marked; a whole PDU decodes alike */
	if (pb_mms_decode(&m, data, size, PB_MMS_DECODE_SALVAGE, &perr) == 0) {
		if ((rc == 0 && m->incomplete) || (m->incomplete && !m->warning))
			abort();
		check_message(m);
		pb_mms_message_free(m);
	}
	if (pb_mms_decode(&m, data, size, PB_MMS_DECODE_HEADERS_ONLY, &perr) == 0)
		pb_mms_message_free(m);
	return 0;
}
