/*
 * libphonebridge bench — MMS decoding: how many M-Notification.ind a core
 * decodes per second (raw and inside a WAP push), how many multi-part
 * picture messages (SMIL, text, a small image), and how long an
 * M-Retrieve.conf takes with a 20 KB, 200 KB and 2 MB attachment (zero
 * copy: the time should not grow with the attachment).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

#include "bench.h"

static double rate(const uint8_t *pdu, size_t len, bool push, double *per_call_us)
{
	long n = 0;
	double t0 = bench_cpu(), t;
	do {
		for (int i = 0; i < 1000; i++) {
			pb_mms_message *m;
			int rc = push ? pb_mms_decode_push(&m, NULL, pdu, len, NULL) : pb_mms_decode(&m, pdu, len, 0, NULL);
			if (rc != 0)
				abort();
			bench_keep(m);
			pb_mms_message_free(m);
		}
		n += 1000;
	} while ((t = bench_cpu() - t0) < 1.0);
	if (per_call_us)
		*per_call_us = t / (double)n * 1e6;
	return (double)n / t;
}

/* An M-Retrieve.conf with a text and one attachment of @size bytes. The
 * attachment is returned, to be freed after measuring: freeing it before
 * changes what malloc does for every decode and so the figure. */
static uint8_t *retrieve_conf(pb_buf *pdu, const char *type, const char *name, size_t size)
{
	uint8_t *img = malloc(size);
	if (!img)
		abort();
	for (size_t k = 0; k < size; k++)
		img[k] = (uint8_t)(k * 2654435761u >> 13);
	static const char *const to[] = { "+48600654321" };
	pb_mms_attachment att = { type, name, img, size, NULL };
	pb_mms_send_req req = PB_MMS_SEND_REQ_INIT;
	req.from = "+48600123456";
	req.to = to;
	req.n_to = 1;
	req.subject = "Holiday photo";
	req.date = 1700000000;
	req.text = "Greetings from Kraków!";
	req.attachments = &att;
	req.n_attachments = 1;
	pb_buf_clear(pdu);
	if (pb_mms_encode_retrieve_conf(pdu, &req, "msg-1") != 0)
		abort();
	return img;
}

int main(void)
{
	pb_buf pdu = PB_BUF_INIT, push = PB_BUF_INIT;
	/* a notification as carriers send them */
	pb_mms_notification n = { "mavodi-7-89-1c0-7-ca-50f93843-7-13b-2eb-1-ca-361e315", "+19199033488", NULL,
				  NULL, 991647, 259200,
				  "http://atl2mosget.msg.eng.t-mobile.com/mms/wapenc?T=mavodi-7-13b-2eb-1-ca-361e315" };
	if (pb_mms_encode_notification(&pdu, &n) != 0 ||
	    pb_wsp_push_encode(&push, 1, "application/vnd.wap.mms-message", 4, pdu.data, pdu.len) != 0)
		abort();
	bench_figure("mms.decode.notification", rate(pdu.data, pdu.len, false, NULL), "decodes/s");
	bench_figure("mms.decode.push_notification", rate(push.data, push.len, true, NULL), "decodes/s");

	/* a picture message as phones send them (SMIL, text, a small image:
	 * about 700 bytes, like data/samples/picture-message.mms) */
	uint8_t *img = retrieve_conf(&pdu, "image/gif", "sunset.gif", 420);
	bench_figure("mms.decode.retrieve_conf_picture", rate(pdu.data, pdu.len, false, NULL), "decodes/s");
	free(img);

	static const struct {
		const char *name;
		size_t size;
	} sizes[] = { { "mms.decode.retrieve_conf_20k", 20 * 1024 },
		      { "mms.decode.retrieve_conf_200k", 200 * 1024 },
		      { "mms.decode.retrieve_conf_2m", 2 * 1024 * 1024 } };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		img = retrieve_conf(&pdu, "image/jpeg", "photo.jpg", sizes[i].size);
		double us;
		rate(pdu.data, pdu.len, false, &us);
		bench_figure(sizes[i].name, us, "us/decode");
		free(img);
	}
	pb_buf_dispose(&pdu);
	pb_buf_dispose(&push);
	return 0;
}
