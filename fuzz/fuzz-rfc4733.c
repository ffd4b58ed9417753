/*
 * libphonebridge — fuzz target for telephone events: RFC 4733 payloads
 * through the event receiver, and whole datagrams through a call's media
 * (RTP, events, G.711 audio into the in-band detector).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is datagrams, each prefixed by a one-byte length.
 */
#include <stdlib.h>

#include <phonebridge/phonebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pb_media_call_options o = PB_MEDIA_CALL_OPTIONS_INIT;
	pb_media_call *mc;
	pb_rfc4733_rx rx;
	o.random_start = false;
	if (pb_media_call_new(&mc, &o) != 0)
		abort();
	pb_rfc4733_rx_init(&rx);
	while (size > 0) {
		size_t len = data[0];
		data++;
		size--;
		if (len > size)
			len = size;
		pb_rfc4733_event ev;
		pb_parse_error perr;
		if (pb_rfc4733_parse(&ev, data, len, &perr) == 0) {
			if (len % 4 || ev.volume > 63)
				abort();
		} else if (perr.offset > len) {
			abort();
		}
		/* the same bytes as a telephone-event payload of a packet */
		pb_rtp_packet p = { 0 };
		p.payload = data;
		p.payload_len = len;
		p.timestamp = len;
		char d;
		int rc = pb_rfc4733_rx_push(&rx, &p, &d, &perr);
		if (rc == 1 && pb_dtmf_digit_event(d) < 0)
			abort();
		char digits[64];
		size_t n;
		if (pb_media_call_receive(mc, data, len, digits, sizeof(digits), &n, &perr) == 0) {
			if (n > sizeof(digits))
				abort();
		} else if (perr.offset > len) {
			abort();
		}
		data += len;
		size -= len;
	}
	pb_media_call_free(mc);
	return 0;
}
