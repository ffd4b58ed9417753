/*
 * libphonebridge benches — modem: reading a full page of messages as each
 * box sends it (HiLink sms-list XML, AT +CMGL listing with PDUs, SMSEagle
 * JSON-RPC rows).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "modem/modem-internal.h"

#define PAGE 50

static void hilink_page(pb_buf *b)
{
	pb_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><Count>50</Count><Messages>");
	for (int i = 0; i < PAGE; i++) {
		pb_buf_printf(b, "<Message><Smstat>0</Smstat><Index>%d</Index><Phone>+1555000%04d</Phone><Content>", 40000 + i, i);
		if (i % 10 == 9)
			pb_buf_put(b, "\x01\x06\"application/vnd.wap.mms-message\x00\xaf\x84http://mmsc.example/x", 63);
		else
			pb_buf_puts(b, "A text message of ordinary length, with an emoji \xed\xa0\xbd\xed\xb8\x80 in it.");
		pb_buf_printf(b, "</Content><Date>2024-05-01 10:00:00</Date><Sca></Sca><SaveType>0</SaveType>"
				 "<Priority>0</Priority><SmsType>%d</SmsType></Message>", i % 10 == 9 ? 5 : 1);
	}
	pb_buf_puts(b, "</Messages></response>");
}

static void at_listing(pb_buf *b)
{
	static const char pdu[] = "07911326040000F0040891515500440000425010010300001149F73C4D2E83E8E83228EC9EDFCB72";
	for (int i = 0; i < PAGE; i++)
		pb_buf_printf(b, "+CMGL: %d,0,,%zu\n%s\n", i, (sizeof(pdu) - 1) / 2 - 8, pdu);
}

static void eagle_rows(pb_buf *b)
{
	pb_buf_puts(b, "{\"result\":[");
	for (int i = 0; i < PAGE; i++)
		pb_buf_printf(b, "%s{\"ID\":\"%d\",\"SenderNumber\":\"+1555000%04d\",\"TextDecoded\":\"A text message of "
				 "ordinary length\",\"ReceivingDateTime\":\"2024-05-01 10:00:00\",\"readed\":\"false\","
				 "\"message_type\":\"sms\"}", i ? "," : "", 100 + i, i);
	pb_buf_puts(b, "]}");
}

int main(void)
{
	pb_buf x = PB_BUF_INIT, a = PB_BUF_INIT, j = PB_BUF_INIT;
	hilink_page(&x);
	at_listing(&a);
	eagle_rows(&j);
	int n = 2000;
	double t0 = bench_now();
	for (int i = 0; i < n; i++) {
		pb_hilink_doc *d;
		pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
		if (pb_modem__hilink_parse(&d, x.data, x.len, NULL, NULL) < 0 || pb_modem__hilink_doc_messages(d, &l) < 0 ||
		    l.count != PAGE || l.items[0].type != PB_MODEM_MSG_TEXT || l.items[9].type != PB_MODEM_MSG_MMS)
			abort();
		pb_modem__hilink_doc_free(d);
		pb_modem_msg_list_dispose(&l);
	}
	bench_figure("modem.hilink.sms_list_page", n / (bench_now() - t0), "pages/s");
	t0 = bench_now();
	for (int i = 0; i < n; i++) {
		pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
		if (pb_modem__at_parse_listing(pb_buf_cstr(&a), 0, NULL, &l) < 0 || l.count != PAGE ||
		    l.items[PAGE - 1].type != PB_MODEM_MSG_TEXT)
			abort();
		pb_modem_msg_list_dispose(&l);
	}
	bench_figure("modem.at.cmgl_listing", n / (bench_now() - t0), "pages/s");
	t0 = bench_now();
	for (int i = 0; i < n; i++) {
		pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
		if (pb_modem__smseagle_parse_rows(pb_buf_cstr(&j), j.len, &l, NULL) < 0 || l.count != PAGE ||
		    l.items[0].type != PB_MODEM_MSG_TEXT)
			abort();
		pb_modem_msg_list_dispose(&l);
	}
	bench_figure("modem.smseagle.read_sms_rows", n / (bench_now() - t0), "pages/s");
	pb_buf_dispose(&x);
	pb_buf_dispose(&a);
	pb_buf_dispose(&j);
	return 0;
}
