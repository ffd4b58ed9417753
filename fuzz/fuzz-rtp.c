/*
 * libphonebridge — fuzz target for the RTP decoder and receiver: every
 * packet that decodes must encode again to the same bytes (less padding),
 * and the receiver must take any sequence of packets.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is one or more packets, each prefixed by a one-byte length.
 */
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pb_rtp_rx rx;
	pb_buf out = PB_BUF_INIT;
	pb_rtp_rx_init(&rx);
	while (size > 0) {
		size_t len = data[0];
		data++;
		size--;
		if (len > size)
			len = size;
		pb_rtp_packet p;
		pb_parse_error perr;
		if (pb_rtp_parse(&p, data, len, &perr) == 0) {
			if (p.payload + p.payload_len > data + len || p.csrc_count > 15)
				abort();
			uint32_t gap;
			pb_rtp_rx_push(&rx, &p, &gap);
			pb_buf_clear(&out);
			if (pb_rtp_encode(&out, &p) != 0)
				abort();
			/* same bytes apart from the padding bit and the padding itself */
			if (out.len > len || memcmp(out.data + 1, data + 1, out.len - 1) != 0 ||
			    (out.data[0] & 0xdf) != (data[0] & 0xdf))
				abort();
		} else if (perr.offset > len) {
			abort();
		}
		data += len;
		size -= len;
	}
	pb_buf_dispose(&out);
	return 0;
}
