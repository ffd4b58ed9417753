/*
 * libphonebridge — RTP packets (RFC 3550 section 5.1), sender and receiver.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "media/private.h"

/* RFC 3550 appendix A.1: beyond these the source is taken to have restarted. */
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
#define WINDOW 64

int pb_rtp_parse(pb_rtp_packet *out, const uint8_t *buf, size_t len, pb_parse_error *perr)
{
	pb_cur c = pb_cur_make(buf, len);
	uint8_t b0 = 0, b1 = 0;
	if (!out || (!buf && len))
		return pb_error_set(PB_EINVAL, "rtp_parse: NULL argument");
	memset(out, 0, sizeof(*out));
	if (len < 12)
		return pb_error__parse(perr, len, "RTP packet of %zu bytes: the header needs 12", len);
	pb_cur_u8(&c, &b0);
	if (b0 >> 6 != 2)
		return pb_error__parse(perr, 0, "RTP version %d, expected 2", b0 >> 6);
	pb_cur_u8(&c, &b1);
	out->marker = b1 & 0x80;
	out->payload_type = b1 & 0x7f;
	pb_cur_u16be(&c, &out->seq);
	pb_cur_u32be(&c, &out->timestamp);
	pb_cur_u32be(&c, &out->ssrc);
	out->csrc_count = b0 & 0x0f;
	for (unsigned i = 0; i < out->csrc_count; i++)
		if (!pb_cur_u32be(&c, &out->csrc[i]))
			return pb_error__parse(perr, pb_cur_offset(&c), "CSRC %u of %u beyond the end",
					       i + 1, out->csrc_count);
	if (b0 & 0x10) {
		uint16_t words = 0;
		out->extension = true;
		if (pb_cur_left(&c) < 4)
			return pb_error__parse(perr, pb_cur_offset(&c), "header extension cut short");
		pb_cur_u16be(&c, &out->ext_profile);
		pb_cur_u16be(&c, &words);
		out->ext_len = (size_t)words * 4;
		if (!pb_cur_bytes(&c, out->ext_len, &out->ext_data))
			return pb_error__parse(perr, pb_cur_offset(&c),
					       "header extension of %zu bytes beyond the end", out->ext_len);
	}
	size_t payload_len = pb_cur_left(&c);
	if (b0 & 0x20) {
		uint8_t pad = payload_len ? buf[len - 1] : 0;
		if (pad == 0 || pad > payload_len)
			return pb_error__parse(perr, payload_len ? len - 1 : len,
					       "padding count %u with %zu bytes after the header", pad,
					       payload_len);
		payload_len -= pad;
	}
	out->payload = c.p;
	out->payload_len = payload_len;
	return 0;
}

static int put_u32(pb_buf *out, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	return pb_buf_put(out, b, 4);
}

int pb_rtp_encode(pb_buf *out, const pb_rtp_packet *p)
{
	if (!out || !p || p->payload_type > 127 || p->csrc_count > 15 ||
	    (p->extension && (p->ext_len % 4 || p->ext_len > 4 * 65535)) ||
	    (!p->payload && p->payload_len))
		return pb_error_set(PB_EINVAL, "rtp_encode: bad payload type, CSRC count or extension");
	size_t need = 12 + 4u * p->csrc_count + (p->extension ? 4 + p->ext_len : 0) + p->payload_len;
	int rc = pb_buf_reserve(out, need);
	if (rc < 0)
		return rc;
	uint8_t h[4] = {
		(uint8_t)(0x80 | (p->extension ? 0x10 : 0) | p->csrc_count),
		(uint8_t)((p->marker ? 0x80 : 0) | p->payload_type),
		(uint8_t)(p->seq >> 8), (uint8_t)p->seq,
	};
	/* room was reserved: the puts below cannot fail */
	pb_buf_put(out, h, 4);
	put_u32(out, p->timestamp);
	put_u32(out, p->ssrc);
	for (unsigned i = 0; i < p->csrc_count; i++)
		put_u32(out, p->csrc[i]);
	if (p->extension) {
		uint8_t e[4] = { (uint8_t)(p->ext_profile >> 8), (uint8_t)p->ext_profile,
				 (uint8_t)(p->ext_len / 4 >> 8), (uint8_t)(p->ext_len / 4) };
		pb_buf_put(out, e, 4);
		pb_buf_put(out, p->ext_data, p->ext_len);
	}
	return pb_buf_put(out, p->payload, p->payload_len);
}

/* --- sender ------------------------------------------------------------------ */

void pb_rtp_sender_init(pb_rtp_sender *s, uint8_t payload_type, uint32_t ssrc,
			uint16_t seq, uint32_t timestamp)
{
	s->ssrc = ssrc;
	s->seq = seq;
	s->timestamp = timestamp;
	s->payload_type = payload_type & 0x7f;
	s->started = false;
}

int pb_rtp_sender_random(pb_rtp_sender *s, uint8_t payload_type)
{
	uint8_t r[10];
	int rc = pb_random_bytes(r, sizeof(r));
	if (rc < 0)
		return rc;
	pb_rtp_sender_init(s, payload_type,
			   (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3],
			   (uint16_t)(r[4] << 8 | r[5]),
			   (uint32_t)r[6] << 24 | (uint32_t)r[7] << 16 | (uint32_t)r[8] << 8 | r[9]);
	return 0;
}

int pb_rtp_sender_next(pb_rtp_sender *s, pb_buf *out, const uint8_t *payload, size_t len,
		       uint32_t samples, bool marker)
{
	pb_rtp_packet p = { 0 };
	p.marker = marker || !s->started;
	p.payload_type = s->payload_type;
	p.seq = s->seq;
	p.timestamp = s->timestamp;
	p.ssrc = s->ssrc;
	p.payload = payload;
	p.payload_len = len;
	int rc = pb_rtp_encode(out, &p);
	if (rc < 0)
		return rc;
	s->started = true;
	s->seq++;
	s->timestamp += samples;
	return 0;
}

/* --- receiver ------------------------------------------------------------------ */

void pb_rtp_rx_init(pb_rtp_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	rx->probation = -1;
}

static void restart(pb_rtp_rx *rx, const pb_rtp_packet *pkt)
{
	rx->have = true;
	rx->ssrc = pkt->ssrc;
	rx->max_seq = (1u << 16) | pkt->seq; /* one cycle in hand, so late packets stay positive */
	rx->window = 1;
	rx->probation = -1;
	rx->stats.received++;
}

pb_rtp_rx_class pb_rtp_rx_push(pb_rtp_rx *rx, const pb_rtp_packet *pkt, uint32_t *gap)
{
	if (gap)
		*gap = 0;
	if (!rx->have || pkt->ssrc != rx->ssrc) {
		if (rx->have)
			rx->stats.ssrc_changes++;
		restart(rx, pkt);
		return PB_RTP_RX_NEXT;
	}
	int32_t delta = (int16_t)(uint16_t)(pkt->seq - (uint16_t)rx->max_seq);
	if (delta > 0 && delta <= MAX_DROPOUT) {
		rx->max_seq += (uint32_t)delta;
		rx->window = delta >= WINDOW ? 1 : (rx->window << delta) | 1;
		rx->stats.lost += (uint32_t)delta - 1;
		rx->stats.received++;
		rx->probation = -1;
		if (gap)
			*gap = (uint32_t)delta - 1;
		return PB_RTP_RX_NEXT;
	}
	if (delta == 0) {
		rx->stats.duplicates++;
		return PB_RTP_RX_DUPLICATE;
	}
	if (delta < 0 && -delta < WINDOW) {
		uint64_t bit = (uint64_t)1 << -delta;
		if (rx->window & bit) {
			rx->stats.duplicates++;
			return PB_RTP_RX_DUPLICATE;
		}
		rx->window |= bit;
		if (rx->stats.lost)
			rx->stats.lost--;
		rx->stats.reordered++;
		rx->stats.received++;
		return PB_RTP_RX_LATE;
	}
	if (delta < 0 && -delta <= MAX_MISORDER) {
		rx->stats.too_old++;
		return PB_RTP_RX_TOO_OLD;
	}
	/* A big jump: believe it once two packets in a row agree (RFC 3550 A.1). */
	if (rx->probation == (int32_t)pkt->seq) {
		restart(rx, pkt);
		rx->stats.resyncs++;
		return PB_RTP_RX_NEXT;
	}
	rx->probation = (uint16_t)(pkt->seq + 1);
	rx->stats.too_old++;
	return PB_RTP_RX_TOO_OLD;
}
