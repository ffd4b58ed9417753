/*
 * libphonebridge — fuzz target for what AT modems print: every line through
 * the classifier and each response parser, and the whole input as a +CMGL
 * listing (header/PDU pairs, PDUs decoded by the SMS codec).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "modem/modem-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	const char *p = text, *end = text + size;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t len = e ? (size_t)(e - p) : (size_t)(end - p);
		int code, a, b, c, d;
		char name[64], mem[8];
		pb_buf buf = PB_BUF_INIT;
		pb_modem__at_classify(p, len, &code);
		pb_modem__at_unsolicited_has_pdu(p, len);
		pb_modem__at_parse_cmti(p, len, mem, &a);
		pb_modem__at_parse_cmgl(p, len, &a, &b, &c);
		pb_modem__at_parse_csq(p, len, &a, &b);
		pb_modem__at_parse_cops(p, len, name, sizeof(name), &a);
		pb_modem__at_parse_creg(p, len, &a);
		pb_modem__at_parse_cpin(p, len);
		pb_modem__at_parse_ccfc(p, len, &a, &b, name, sizeof(name), &d);
		pb_modem__at_parse_cusd(p, len, &a, &buf, &b);
		pb_modem__at_parse_cmgs(p, len, &a);
		pb_buf_dispose(&buf);
		p += len + 1;
	}
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	pb_modem__at_parse_listing(text, 0, NULL, &l);
	pb_modem_msg_list_dispose(&l);
	free(text);
	return 0;
}
