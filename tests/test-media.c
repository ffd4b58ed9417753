/*
 * libphonebridge tests — media: G.711, RTP, RFC 4733 (hand-built packets
 * and sipp's pcaps), SIP INFO DTMF, in-band DTMF against spandsp-generated
 * tones, prompts, playout, and a screening session driven by a call's media.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <inttypes.h>
#include <poll.h>
#include <sndfile.h>
#include <spandsp.h>
#include <unistd.h>

#include <phonebridge/sys/challenge.h>

#define SIPP_PCAPS "/usr/share/sip-tester"
#define PB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PB_MAX(a, b) ((a) > (b) ? (a) : (b))

static const char *prompts_dir(void)
{
	static char dir[4096];
	const char *root = getenv("PB_SOURCE_ROOT");
	snprintf(dir, sizeof(dir), "%s/data/prompts", root ? root : ".");
	return dir;
}

/* --- G.711 --------------------------------------------------------------------- */

static void test_media__g711_round_trip(void **state)
{
	(void)state;
	int16_t in[7] = { 0, 100, -100, 1000, -1000, 32000, -32000 }, out[7];
	uint8_t enc[7];
	assert_pb_ok(pb_g711_encode(PB_CODEC_PCMU, enc, in, 7));
	assert_int_equal(enc[0], 0xff); /* mu-law silence */
	assert_pb_ok(pb_g711_decode(PB_CODEC_PCMU, out, enc, 7));
	for (int i = 0; i < 7; i++)
		assert_true(abs(out[i] - in[i]) <= abs(in[i]) / 16 + 8);
	assert_pb_ok(pb_g711_encode(PB_CODEC_PCMA, enc, in, 7));
	assert_int_equal(enc[0], 0xd5); /* A-law silence */
	assert_pb_ok(pb_g711_decode(PB_CODEC_PCMA, out, enc, 7));
	for (int i = 0; i < 7; i++)
		assert_true(abs(out[i] - in[i]) <= abs(in[i]) / 16 + 16);
	assert_pb_error(pb_g711_encode((pb_media_codec)3, enc, in, 7), PB_EINVAL);
	assert_pb_error(pb_g711_decode((pb_media_codec)3, out, enc, 7), PB_EINVAL);
}

/* --- RTP ----------------------------------------------------------------------- */

static void test_media__rtp_parse_and_encode(void **state)
{
	(void)state;
	size_t len;
	/* V=2 P=1 X=1 CC=1, M=1 PT=0, seq 0x1234, ts, ssrc, csrc, ext (1 word), payload 3, pad 2 */
	uint8_t *pkt = pb_test_unhex("b1 80 1234 00000a00 cafebabe 11223344 bede 0001 01020304 aabbcc 0002", &len);
	pb_rtp_packet p;
	pb_parse_error perr;
	assert_pb_ok(pb_rtp_parse(&p, pkt, len, &perr));
	assert_true(p.marker);
	assert_int_equal(p.payload_type, 0);
	assert_int_equal(p.seq, 0x1234);
	assert_int_equal(p.timestamp, 0xa00);
	assert_int_equal(p.ssrc, 0xcafebabe);
	assert_int_equal(p.csrc_count, 1);
	assert_int_equal(p.csrc[0], 0x11223344);
	assert_true(p.extension);
	assert_int_equal(p.ext_profile, 0xbede);
	assert_int_equal(p.ext_len, 4);
	assert_int_equal(p.payload_len, 3);
	assert_ptr_equal(p.payload, pkt + 24);
	assert_memory_equal(p.payload, "\xaa\xbb\xcc", 3);

	/* encode gives the same bytes without the padding */
	pb_buf out = PB_BUF_INIT;
	assert_pb_ok(pb_rtp_encode(&out, &p));
	assert_int_equal(out.len, len - 2);
	assert_int_equal(out.data[0], 0x91);
	assert_memory_equal(out.data + 1, pkt + 1, len - 3);
	pb_buf_dispose(&out);
	free(pkt);

	static const struct { const char *hex; size_t offset; } bad[] = {
		{ "80 00 0001 00000000 000000", 11 },             /* short header */
		{ "40 00 0001 00000000 00000001", 0 },            /* version 1 */
		{ "82 00 0001 00000000 00000001 00000002", 16 },  /* second CSRC missing */
		{ "90 00 0001 00000000 00000001 bede", 12 },       /* extension header cut */
		{ "90 00 0001 00000000 00000001 bede 0002 00000000", 16 }, /* extension body cut */
		{ "a0 00 0001 00000000 00000001 ff 00", 13 },      /* padding 0 */
		{ "a0 00 0001 00000000 00000001 ff 05", 13 },      /* padding beyond payload */
		{ "a0 00 0001 00000000 00000001", 12 },            /* padding bit, nothing after */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pkt = pb_test_unhex(bad[i].hex, &len);
		assert_pb_error(pb_rtp_parse(&p, pkt, len, &perr), PB_EMALFORMED);
		if (perr.offset != bad[i].offset)
			print_error("case %zu: offset %zu (%s)\n", i, perr.offset, perr.text);
		assert_int_equal(perr.offset, bad[i].offset);
		free(pkt);
	}
	p.payload_type = 200;
	assert_pb_error(pb_rtp_encode(&out, &p), PB_EINVAL);
}

static void test_media__rtp_sender_counts(void **state)
{
	(void)state;
	pb_rtp_sender s;
	pb_buf out = PB_BUF_INIT;
	uint8_t payload[160] = { 0 };
	pb_rtp_sender_init(&s, PB_CODEC_PCMA, 0x01020304, 65534, 0xfffffe00);
	for (int i = 0; i < 3; i++) {
		pb_buf_clear(&out);
		assert_pb_ok(pb_rtp_sender_next(&s, &out, payload, 160, 160, false));
		pb_rtp_packet p;
		assert_pb_ok(pb_rtp_parse(&p, out.data, out.len, NULL));
		assert_int_equal(out.len, 172);
		assert_int_equal(p.seq, (uint16_t)(65534 + i));
		assert_int_equal(p.timestamp, (uint32_t)(0xfffffe00u + 160u * (unsigned)i));
		assert_int_equal(p.ssrc, 0x01020304);
		assert_int_equal(p.payload_type, 8);
		assert_int_equal(p.marker, i == 0);
	}
	pb_rtp_sender a, b;
	assert_pb_ok(pb_rtp_sender_random(&a, 0));
	assert_pb_ok(pb_rtp_sender_random(&b, 0));
	assert_true(a.ssrc != b.ssrc || a.seq != b.seq || a.timestamp != b.timestamp);
	pb_buf_dispose(&out);
}

static pb_rtp_packet pkt_of(uint32_t ssrc, uint16_t seq)
{
	pb_rtp_packet p = { 0 };
	p.ssrc = ssrc;
	p.seq = seq;
	p.timestamp = seq * 160u;
	return p;
}

static void test_media__rtp_receiver(void **state)
{
	(void)state;
	pb_rtp_rx rx;
	uint32_t gap;
	pb_rtp_rx_init(&rx);
	pb_rtp_packet p = pkt_of(7, 65533);
	assert_int_equal(pb_rtp_rx_push(&rx, &p, &gap), PB_RTP_RX_NEXT);
	p = pkt_of(7, 65534);
	assert_int_equal(pb_rtp_rx_push(&rx, &p, &gap), PB_RTP_RX_NEXT);
	assert_int_equal(gap, 0);
	p = pkt_of(7, 1); /* across the wrap, 65535 and 0 lost */
	assert_int_equal(pb_rtp_rx_push(&rx, &p, &gap), PB_RTP_RX_NEXT);
	assert_int_equal(gap, 2);
	assert_int_equal(rx.stats.lost, 2);
	p = pkt_of(7, 0); /* one of them arrives late */
	assert_int_equal(pb_rtp_rx_push(&rx, &p, &gap), PB_RTP_RX_LATE);
	assert_int_equal(rx.stats.lost, 1);
	assert_int_equal(rx.stats.reordered, 1);
	assert_int_equal(pb_rtp_rx_push(&rx, &p, &gap), PB_RTP_RX_DUPLICATE);
	p = pkt_of(7, 1);
	assert_int_equal(pb_rtp_rx_push(&rx, &p, &gap), PB_RTP_RX_DUPLICATE);
	assert_int_equal(rx.stats.duplicates, 2);
	p = pkt_of(7, 65470); /* 67 behind: beyond the window */
	assert_int_equal(pb_rtp_rx_push(&rx, &p, &gap), PB_RTP_RX_TOO_OLD);
	/* a new SSRC starts over */
	p = pkt_of(9, 40000);
	assert_int_equal(pb_rtp_rx_push(&rx, &p, &gap), PB_RTP_RX_NEXT);
	assert_int_equal(rx.stats.ssrc_changes, 1);
	p = pkt_of(9, 40001);
	assert_int_equal(pb_rtp_rx_push(&rx, &p, &gap), PB_RTP_RX_NEXT);
	/* a jump of the same source is believed after two packets in a row */
	p = pkt_of(9, 10000);
	assert_int_equal(pb_rtp_rx_push(&rx, &p, &gap), PB_RTP_RX_TOO_OLD);
	p = pkt_of(9, 10001);
	assert_int_equal(pb_rtp_rx_push(&rx, &p, &gap), PB_RTP_RX_NEXT);
	assert_int_equal(rx.stats.resyncs, 1);
	p = pkt_of(9, 10002);
	assert_int_equal(pb_rtp_rx_push(&rx, &p, &gap), PB_RTP_RX_NEXT);
	assert_int_equal(gap, 0);
}

/* --- RFC 4733 ------------------------------------------------------------------- */

static void test_media__rfc4733_payload(void **state)
{
	(void)state;
	pb_rfc4733_event ev;
	pb_parse_error perr;
	assert_pb_ok(pb_rfc4733_parse(&ev, (const uint8_t *)"\x0b\x8a\x08\xc0", 4, &perr));
	assert_int_equal(ev.event, 11);
	assert_true(ev.end);
	assert_int_equal(ev.volume, 10);
	assert_int_equal(ev.duration, 2240);
	/* redundancy: the last event is the current one */
	assert_pb_ok(pb_rfc4733_parse(&ev, (const uint8_t *)"\x01\x8a\x03\x20\x02\x0a\x01\x40", 8, NULL));
	assert_int_equal(ev.event, 2);
	assert_false(ev.end);
	assert_pb_error(pb_rfc4733_parse(&ev, (const uint8_t *)"\x01\x0a\x00", 3, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 0);
	assert_pb_error(pb_rfc4733_parse(&ev, (const uint8_t *)"\x01\x0a\x00\x00\x01", 5, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 4);
	assert_pb_error(pb_rfc4733_parse(&ev, (const uint8_t *)"", 0, &perr), PB_EMALFORMED);

	pb_buf b = PB_BUF_INIT;
	pb_rfc4733_event e2 = { 10, true, 63, 800 };
	assert_pb_ok(pb_rfc4733_encode(&b, &e2));
	assert_memory_equal(b.data, "\x0a\xbf\x03\x20", 4);
	e2.volume = 64;
	assert_pb_error(pb_rfc4733_encode(&b, &e2), PB_EINVAL);
	pb_buf_dispose(&b);
	assert_int_equal(pb_dtmf_event_digit(11), '#');
	assert_int_equal(pb_dtmf_event_digit(16), 0);
	assert_int_equal(pb_dtmf_digit_event('*'), 10);
	assert_int_equal(pb_dtmf_digit_event('d'), 15);
	assert_int_equal(pb_dtmf_digit_event('x'), -1);
}

/* An RTP packet with a telephone-event payload, built by hand. */
static size_t event_packet(uint8_t *out, uint32_t ssrc, uint16_t seq, uint32_t ts, bool marker,
			   uint8_t event, bool end, uint16_t duration)
{
	pb_buf b = PB_BUF_INIT, pl = PB_BUF_INIT;
	pb_rfc4733_event ev = { event, end, 10, duration };
	assert_pb_ok(pb_rfc4733_encode(&pl, &ev));
	pb_rtp_packet p = { 0 };
	p.marker = marker;
	p.payload_type = 101;
	p.seq = seq;
	p.timestamp = ts;
	p.ssrc = ssrc;
	p.payload = pl.data;
	p.payload_len = pl.len;
	assert_pb_ok(pb_rtp_encode(&b, &p));
	size_t n = b.len;
	memcpy(out, b.data, n);
	pb_buf_dispose(&b);
	pb_buf_dispose(&pl);
	return n;
}

/* Feed one packet to a receiver; the digit or 0. */
static char push_event(pb_rfc4733_rx *rx, const uint8_t *buf, size_t len)
{
	pb_rtp_packet p;
	char d;
	assert_pb_ok(pb_rtp_parse(&p, buf, len, NULL));
	int rc = pb_rfc4733_rx_push(rx, &p, &d, NULL);
	assert_true(rc == 0 || rc == 1);
	return rc == 1 ? d : 0;
}

static void test_media__rfc4733_receiver_hand_built(void **state)
{
	(void)state;
	uint8_t b[64];
	size_t n;
	char got[16] = "";
	size_t k = 0;
	pb_rfc4733_rx rx;
	pb_rfc4733_rx_init(&rx);
	/* digit 4: start, updates, three end packets; everything twice */
	for (int rep = 0; rep < 2; rep++) {
		for (int i = 0; i < 8; i++) {
			bool end = i >= 5;
			n = event_packet(b, 1, (uint16_t)(100 + i), 8000, i == 0 && rep == 0, 4, end,
					 (uint16_t)(end ? 800 : 160 * (i + 1)));
			char d = push_event(&rx, b, n);
			if (d)
				got[k++] = d;
			d = push_event(&rx, b, n); /* network duplicate */
			if (d)
				got[k++] = d;
		}
	}
	assert_string_equal(got, "4"); /* the second round repeats packets, without a new start */
	assert_true(rx.duplicates >= 10);
	/* the start was lost: the first packet seen still gives the digit */
	n = event_packet(b, 1, 120, 16000, false, 5, false, 480);
	got[k++] = push_event(&rx, b, n);
	/* a late middle packet after the end stays part of its event */
	n = event_packet(b, 1, 121, 16000, false, 5, true, 800);
	assert_int_equal(push_event(&rx, b, n), 0);
	n = event_packet(b, 1, 119, 16000, false, 5, false, 320);
	assert_int_equal(push_event(&rx, b, n), 0);
	/* the same digit again is a new event: a new timestamp */
	n = event_packet(b, 1, 122, 24000, true, 5, false, 0);
	got[k++] = push_event(&rx, b, n);
	/* hook flash (16) is no digit */
	n = event_packet(b, 1, 123, 32000, true, 16, false, 0);
	assert_int_equal(push_event(&rx, b, n), 0);
	assert_string_equal(got, "455");
	/* a bad payload is reported */
	pb_rtp_packet p = { 0 };
	p.payload = (const uint8_t *)"\x01\x02";
	p.payload_len = 2;
	pb_parse_error perr;
	assert_pb_error(pb_rfc4733_rx_push(&rx, &p, NULL, &perr), PB_EMALFORMED);
}

/* --- sipp's RFC 4733 pcaps -------------------------------------------------------- */

typedef struct capture {
	uint8_t *data;
	size_t len;
	size_t off[64];  /* RTP packet offsets into data */
	size_t plen[64];
	size_t n;
} capture;

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* A tiny pcap reader: Ethernet, IPv4, UDP, then RTP. */
static bool read_pcap(const char *path, capture *c)
{
	memset(c, 0, sizeof(*c));
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	fclose(f);
	c->data = pb_test_read_file(NULL, path, &c->len);
	assert_true(c->len >= 24);
	assert_int_equal(le32(c->data), 0xa1b2c3d4);
	assert_int_equal(le32(c->data + 20), 1); /* LINKTYPE_ETHERNET */
	size_t o = 24;
	while (o + 16 <= c->len && c->n < 64) {
		size_t incl = le32(c->data + o + 8);
		const uint8_t *frame = c->data + o + 16;
		assert_true(o + 16 + incl <= c->len);
		assert_true(incl > 14 + 20 + 8);
		assert_int_equal(frame[12] << 8 | frame[13], 0x0800);
		size_t ihl = (size_t)(frame[14] & 0x0f) * 4;
		assert_int_equal(frame[14 + 9], 17); /* UDP */
		c->off[c->n] = o + 16 + 14 + ihl + 8;
		c->plen[c->n++] = incl - 14 - ihl - 8;
		o += 16 + incl;
	}
	return true;
}

static const char *const pcap_names[] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "star", "pound" };

static void test_media__rfc4733_sipp_pcaps(void **state)
{
	(void)state;
	capture caps[12];
	char path[256];
	snprintf(path, sizeof(path), "%s/dtmf_2833_0.pcap", SIPP_PCAPS);
	if (access(path, R_OK) != 0) {
		print_message("# skipped: %s missing (Debian package sip-tester)\n", path);
		skip();
	}
	for (int i = 0; i < 12; i++) {
		snprintf(path, sizeof(path), "%s/dtmf_2833_%s.pcap", SIPP_PCAPS, pcap_names[i]);
		assert_true(read_pcap(path, &caps[i]));
		assert_int_equal(caps[i].n, 10);
	}
	/* each file alone: exactly its digit, although its end packet comes three times */
	for (int i = 0; i < 12; i++) {
		pb_rfc4733_rx rx;
		pb_rfc4733_rx_init(&rx);
		char got[8] = "";
		size_t k = 0;
		for (size_t j = 0; j < caps[i].n; j++) {
			char d = push_event(&rx, caps[i].data + caps[i].off[j], caps[i].plen[j]);
			if (d)
				got[k++] = d;
		}
		char want[2] = { "0123456789*#"[i], 0 };
		assert_string_equal(got, want);
		assert_int_equal(rx.duplicates, 2);
	}
	/* played one after another, as sipp does, through a whole call's media: each
	 * file brings its own sequence numbering, which must not drop its events;
	 * and "1" played twice in a row is two presses */
	static const int order[] = { 1, 2, 3, 1, 1, 10, 11, 0, 9 };
	pb_media_call_options o = PB_MEDIA_CALL_OPTIONS_INIT;
	pb_media_call *mc;
	assert_pb_ok(pb_media_call_new(&mc, &o));
	char got[32] = "";
	size_t k = 0;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		capture *c = &caps[order[i]];
		for (size_t j = 0; j < c->n; j++) {
			size_t n;
			assert_pb_ok(pb_media_call_receive(mc, c->data + c->off[j], c->plen[j], got + k,
							   sizeof(got) - 1 - k, &n, NULL));
			k += n;
		}
	}
	assert_string_equal(got, "12311*#09");
	pb_media_call_free(mc);
	for (int i = 0; i < 12; i++)
		free(caps[i].data);
}

/* --- SIP INFO ------------------------------------------------------------------- */

static void test_media__sip_info_bodies(void **state)
{
	(void)state;
	char d;
	unsigned dur;
	pb_parse_error perr;
#define BODY(s) (const uint8_t *)(s), strlen(s)
	assert_pb_ok(pb_dtmf_info_parse("application/dtmf-relay", BODY("Signal=5\r\nDuration=160\r\n"), &d, &dur, &perr));
	assert_int_equal(d, '5');
	assert_int_equal(dur, 160);
	assert_pb_ok(pb_dtmf_info_parse("Application/DTMF-Relay; charset=x", BODY("duration = 250\nsignal = #\n"), &d, &dur, NULL));
	assert_int_equal(d, '#');
	assert_int_equal(dur, 250);
	assert_pb_ok(pb_dtmf_info_parse("application/dtmf-relay", BODY("Signal=11"), &d, &dur, NULL));
	assert_int_equal(d, '#');
	assert_int_equal(dur, 0);
	assert_pb_ok(pb_dtmf_info_parse("application/dtmf-relay", BODY("Signal=*\r\nFoo=bar\r\n"), &d, NULL, NULL));
	assert_int_equal(d, '*');
	assert_pb_ok(pb_dtmf_info_parse("application/dtmf", BODY("7\r\n"), &d, NULL, NULL));
	assert_int_equal(d, '7');
	assert_pb_ok(pb_dtmf_info_parse("application/dtmf", BODY("10"), &d, NULL, NULL));
	assert_int_equal(d, '*');
	assert_pb_ok(pb_dtmf_info_parse("application/dtmf", BODY("b"), &d, NULL, NULL));
	assert_int_equal(d, 'B');

	assert_pb_error(pb_dtmf_info_parse("application/dtmf-relay", BODY("Duration=160\r\n"), &d, NULL, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 14);
	assert_pb_error(pb_dtmf_info_parse("application/dtmf-relay", BODY("Signal=5\r\nDuration=1x0"), &d, NULL, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 20);
	assert_pb_error(pb_dtmf_info_parse("application/dtmf-relay", BODY("Signal=55\r\n"), &d, NULL, &perr), PB_EUNSUPPORTED);
	assert_pb_error(pb_dtmf_info_parse("application/dtmf-relay", BODY("Signal=!\r\n"), &d, NULL, &perr), PB_EUNSUPPORTED);
	assert_pb_error(pb_dtmf_info_parse("application/dtmf-relay", BODY("Signal\r\n"), &d, NULL, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 0);
	assert_pb_error(pb_dtmf_info_parse("application/dtmf-relay", BODY("Signal=\r\n"), &d, NULL, &perr), PB_EMALFORMED);
	assert_pb_error(pb_dtmf_info_parse("application/dtmf-relay", (const uint8_t *)"Signal=1\0", 9, &d, NULL, &perr), PB_EMALFORMED);
	assert_int_equal(perr.offset, 8);
	assert_pb_error(pb_dtmf_info_parse("application/dtmf", BODY(""), &d, NULL, &perr), PB_EMALFORMED);
	assert_pb_error(pb_dtmf_info_parse("application/dtmf", BODY("12345"), &d, NULL, &perr), PB_EMALFORMED);
	assert_pb_error(pb_dtmf_info_parse("application/sdp", BODY("v=0"), &d, NULL, &perr), PB_EUNSUPPORTED);
	assert_pb_error(pb_dtmf_info_parse("application/dtmf-relayx", BODY("Signal=1"), &d, NULL, &perr), PB_EUNSUPPORTED);
#undef BODY
}

/* --- in-band DTMF ------------------------------------------------------------------ */

/* @digits as DTMF tones from spandsp's generator, with silence around. */
static int16_t *dtmf_audio(const char *digits, size_t *n)
{
	size_t cap = 8000 * (strlen(digits) + 2);
	int16_t *a = calloc(cap, sizeof(int16_t));
	dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
	assert_non_null(tx);
	dtmf_tx_put(tx, digits, -1);
	size_t len = 1600; /* 200 ms of silence first */
	int got;
	while ((got = dtmf_tx(tx, a + len, (int)PB_MIN((size_t)160, cap - len))) > 0)
		len += (size_t)got;
	dtmf_tx_free(tx);
	*n = PB_MIN(len + 1600, cap);
	return a;
}

static void test_media__inband_detector(void **state)
{
	(void)state;
	size_t n;
	int16_t *a = dtmf_audio("0123456789*#ABCD", &n);
	pb_dtmf_detector *d;
	assert_pb_ok(pb_dtmf_detector_new(&d));
	char got[32] = "";
	size_t k = 0;
	for (size_t i = 0; i < n; i += 160)
		k += pb_dtmf_detector_feed(d, a + i, PB_MIN((size_t)160, n - i), got + k, sizeof(got) - 1 - k);
	assert_string_equal(got, "0123456789*#ABCD");
	/* silence gives nothing */
	int16_t quiet[160] = { 0 };
	assert_int_equal(pb_dtmf_detector_feed(d, quiet, 160, got, sizeof(got)), 0);
	pb_dtmf_detector_skip(d, 320);
	pb_dtmf_detector_free(d);
	pb_dtmf_detector_free(NULL);
	free(a);
}

/* Send @audio as G.711 RTP packets to @mc; collect digits. Drops packets whose index is in @lose. */
static size_t send_audio(pb_media_call *mc, pb_media_codec codec, const int16_t *a, size_t n,
			 uint16_t seq, int lose_every, char *got, size_t cap)
{
	pb_rtp_sender tx;
	pb_buf b = PB_BUF_INIT;
	size_t k = 0;
	pb_rtp_sender_init(&tx, (uint8_t)codec, 0xabc, seq, 0);
	for (size_t i = 0, pkt = 0; i + 160 <= n; i += 160, pkt++) {
		uint8_t g[160];
		pb_g711_encode(codec, g, a + i, 160);
		pb_buf_clear(&b);
		assert_pb_ok(pb_rtp_sender_next(&tx, &b, g, 160, 160, false));
		if (lose_every && pkt % (size_t)lose_every == (size_t)lose_every - 1)
			continue;
		size_t nd;
		assert_pb_ok(pb_media_call_receive(mc, b.data, b.len, got + k, cap - k, &nd, NULL));
		k += nd;
	}
	pb_buf_dispose(&b);
	return k;
}

static void test_media__call_detects_inband_dtmf(void **state)
{
	(void)state;
	size_t n;
	int16_t *a = dtmf_audio("159#", &n);
	static const pb_media_codec codecs[] = { PB_CODEC_PCMU, PB_CODEC_PCMA };
	for (int c = 0; c < 2; c++) {
		pb_media_call_options o = PB_MEDIA_CALL_OPTIONS_INIT;
		pb_media_call *mc;
		assert_pb_ok(pb_media_call_new(&mc, &o));
		char got[16] = "";
		send_audio(mc, codecs[c], a, n, 65530, 0, got, sizeof(got) - 1);
		assert_string_equal(got, "159#");
		assert_int_equal(pb_media_call_stats(mc)->received, n / 160);
		pb_media_call_free(mc);
	}
	/* one packet in 25 lost: the tones (100 ms each) still come through */
	pb_media_call_options o = PB_MEDIA_CALL_OPTIONS_INIT;
	pb_media_call *mc;
	assert_pb_ok(pb_media_call_new(&mc, &o));
	char got[16] = "";
	send_audio(mc, PB_CODEC_PCMU, a, n, 100, 25, got, sizeof(got) - 1);
	assert_string_equal(got, "159#");
	assert_true(pb_media_call_stats(mc)->lost > 0);
	pb_media_call_free(mc);

	/* reordered pairs and a new SSRC halfway (a re-INVITE): the digits still come through */
	assert_pb_ok(pb_media_call_new(&mc, &o));
	memset(got, 0, sizeof(got));
	{
		pb_rtp_sender tx;
		pb_buf pk[2] = { PB_BUF_INIT, PB_BUF_INIT };
		size_t k = 0, nd;
		pb_rtp_sender_init(&tx, 0, 0x111, 500, 0);
		for (size_t i = 0, pkt = 0; i + 160 <= n; i += 160, pkt++) {
			uint8_t g[160];
			if (i == (n / 320) * 160)
				pb_rtp_sender_init(&tx, 0, 0x222, 9000, 12345);
			pb_g711_encode(PB_CODEC_PCMU, g, a + i, 160);
			pb_buf *b = &pk[pkt % 2];
			pb_buf_clear(b);
			assert_pb_ok(pb_rtp_sender_next(&tx, b, g, 160, 160, false));
			if (pkt % 2 == 0)
				continue; /* send this one after the next */
			for (int j = 1; j >= 0; j--) {
				assert_pb_ok(pb_media_call_receive(mc, pk[j].data, pk[j].len, got + k,
								   sizeof(got) - 1 - k, &nd, NULL));
				k += nd;
			}
		}
		pb_buf_dispose(&pk[0]);
		pb_buf_dispose(&pk[1]);
	}
	assert_string_equal(got, "159#");
	assert_true(pb_media_call_stats(mc)->reordered > 10);
	assert_int_equal(pb_media_call_stats(mc)->ssrc_changes, 1);
	pb_media_call_free(mc);

	/* in-band detection off: nothing */
	o.inband_dtmf = false;
	assert_pb_ok(pb_media_call_new(&mc, &o));
	memset(got, 0, sizeof(got));
	assert_int_equal(send_audio(mc, PB_CODEC_PCMU, a, n, 100, 0, got, sizeof(got) - 1), 0);
	pb_media_call_free(mc);

	/* once the caller sends RFC 4733, in-band tones are not heard twice */
	o.inband_dtmf = true;
	assert_pb_ok(pb_media_call_new(&mc, &o));
	uint8_t ev[64];
	size_t evlen = event_packet(ev, 0xabc, 50, 0, true, 1, false, 0), nd;
	assert_pb_ok(pb_media_call_receive(mc, ev, evlen, got, sizeof(got), &nd, NULL));
	assert_int_equal(nd, 1);
	assert_int_equal(got[0], '1');
	assert_int_equal(send_audio(mc, PB_CODEC_PCMU, a, n, 100, 0, got, sizeof(got) - 1), 0);
	/* a bad datagram is an error, and the call goes on */
	pb_parse_error perr;
	assert_pb_error(pb_media_call_receive(mc, (const uint8_t *)"\x80", 1, got, sizeof(got), &nd, &perr), PB_EMALFORMED);
	pb_media_call_free(mc);
	free(a);
}

/* --- prompts and playout ------------------------------------------------------------- */

static void test_media__prompt_set_loads(void **state)
{
	(void)state;
	pb_prompt_set *set;
	assert_pb_ok(pb_prompt_set_new(&set));
	assert_int_equal(pb_prompt_set_count(set), 3);
	assert_pb_ok(pb_prompt_set_load_dir(set, prompts_dir()));
	static const char *const names[] = {
		"digit-0", "digit-9", "star", "pound", "press", "to-continue", "enter-the-code",
		"what-is", "plus", "goodbye", "try-again", "beep", "sit", "silence",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const pb_prompt *p = pb_prompt_set_find(set, names[i]);
		if (!p)
			print_error("prompt %s missing\n", names[i]);
		assert_non_null(p);
		assert_true(p->count >= 1600);     /* at least 0.2 s */
		assert_true(p->count <= 8000 * 5); /* at most 5 s */
		int peak = 0;
		for (size_t j = 0; j < p->count; j++)
			peak = PB_MAX(peak, abs(p->samples[j]));
		assert_true(strcmp(names[i], "silence") == 0 ? peak == 0 : peak > 3000);
	}
	assert_null(pb_prompt_set_find(set, "nope"));
	pb_prompt_set_free(set);
}

static char tmpdir[64];

static const char *write_wav(const char *name, int rate, int channels, int format)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	SF_INFO info = { 0 };
	info.samplerate = rate;
	info.channels = channels;
	info.format = format;
	SNDFILE *f = sf_open(path, SFM_WRITE, &info);
	assert_non_null(f);
	short s[800] = { 0 };
	for (int i = 0; i < 800; i++)
		s[i] = (short)(i % 40 * 400 - 8000);
	sf_writef_short(f, s, 800 / channels);
	sf_close(f);
	return path;
}

static void test_media__prompt_load_checks_format(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pb-media-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	pb_prompt *p;
	assert_pb_ok(pb_prompt_load(&p, write_wav("ok16.wav", 8000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16)));
	assert_int_equal(p->count, 800);
	assert_int_equal(p->samples[1], 400 - 8000);
	pb_prompt_free(p);
	assert_pb_ok(pb_prompt_load(&p, write_wav("alaw.wav", 8000, 1, SF_FORMAT_WAV | SF_FORMAT_ALAW)));
	assert_int_equal(p->count, 800);
	pb_prompt_free(p);

	const char *path = write_wav("cd.wav", 44100, 2, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	assert_pb_error(pb_prompt_load(&p, path), PB_EUNSUPPORTED);
	char want[512];
	snprintf(want, sizeof(want), "%s: 44100 Hz, 2 channels, 16-bit PCM: prompts must be 8000 Hz mono "
		 "16-bit PCM, mu-law or A-law", path);
	assert_string_equal(pb_error_last()->message, want);
	assert_null(p);
	assert_pb_error(pb_prompt_load(&p, write_wav("float.wav", 8000, 1, SF_FORMAT_WAV | SF_FORMAT_FLOAT)), PB_EUNSUPPORTED);
	assert_non_null(strstr(pb_error_last()->message, "32-bit float"));
	assert_pb_error(pb_prompt_load(&p, write_wav("wb.wav", 16000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16)), PB_EUNSUPPORTED);
	assert_pb_error(pb_prompt_load(&p, "/nonexistent/x.wav"), PB_EIO);
	assert_non_null(strstr(pb_error_last()->message, "/nonexistent/x.wav"));

	/* a prompt set with one bad file loads nothing */
	char txt[256];
	snprintf(txt, sizeof(txt), "%s/prompts.txt", tmpdir);
	FILE *f = fopen(txt, "w");
	fputs("# test\nok16: fine\nwb: wrong rate\n", f);
	fclose(f);
	pb_prompt_set *set;
	assert_pb_ok(pb_prompt_set_new(&set));
	assert_pb_error(pb_prompt_set_load_dir(set, tmpdir), PB_EUNSUPPORTED);
	assert_null(pb_prompt_set_find(set, "ok16"));
	f = fopen(txt, "w");
	fputs("ok16: fine\nBad Name: x\n", f);
	fclose(f);
	assert_pb_error(pb_prompt_set_load_dir(set, tmpdir), PB_EMALFORMED);
	assert_non_null(strstr(pb_error_last()->message, "prompts.txt:2"));
	f = fopen(txt, "w");
	fputs("ok16: fine\nalaw: fine too\n", f);
	fclose(f);
	assert_pb_ok(pb_prompt_set_load_dir(set, tmpdir));
	assert_non_null(pb_prompt_set_find(set, "alaw"));
	assert_pb_error(pb_prompt_set_load_dir(set, "/nonexistent"), PB_EIO);
	pb_prompt_set_free(set);

	static const char *const files[] = { "ok16.wav", "alaw.wav", "cd.wav", "float.wav", "wb.wav", "prompts.txt" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(txt, sizeof(txt), "%s/%s", tmpdir, files[i]);
		unlink(txt);
	}
	rmdir(tmpdir);
}

static void test_media__tones(void **state)
{
	(void)state;
	pb_prompt *beep, *sit;
	assert_pb_ok(pb_prompt_tone(&beep, PB_TONE_BEEP));
	assert_int_equal(beep->count, 2000);
	/* a 1000 Hz tone crosses zero about 2000 times a second */
	int crossings = 0;
	for (size_t i = 1; i < beep->count; i++)
		crossings += (beep->samples[i - 1] < 0) != (beep->samples[i] < 0);
	assert_true(crossings > 450 && crossings < 550);
	assert_pb_ok(pb_prompt_tone(&sit, PB_TONE_SIT));
	assert_int_equal(sit->count, (274 + 274 + 380) * 8);
	assert_pb_error(pb_prompt_tone(&beep, (pb_tone)42), PB_EINVAL);
	pb_prompt_free(sit);
	pb_prompt *p;
	assert_pb_ok(pb_prompt_tone(&p, PB_TONE_BEEP));
	pb_prompt_free(p);
	pb_prompt_free(beep);
}

static void test_media__playout(void **state)
{
	(void)state;
	int16_t a[300], b[100], out[160];
	for (int i = 0; i < 300; i++)
		a[i] = (int16_t)(i + 1);
	for (int i = 0; i < 100; i++)
		b[i] = (int16_t)-(i + 1);
	pb_prompt *pa, *pb;
	assert_pb_ok(pb_prompt_from_samples(&pa, a, 300));
	assert_pb_ok(pb_prompt_from_samples(&pb, b, 100));
	pb_playout *p;
	assert_pb_ok(pb_playout_new(&p));
	assert_false(pb_playout_busy(p));
	assert_pb_ok(pb_playout_queue(p, pa));
	assert_pb_ok(pb_playout_queue(p, pb));
	assert_int_equal(pb_playout_read(p, out, 160), 160);
	assert_int_equal(out[159], 160);
	assert_int_equal(pb_playout_read(p, out, 160), 160);
	assert_int_equal(out[139], 300);
	assert_int_equal(out[140], -1);
	assert_true(pb_playout_busy(p));
	assert_int_equal(pb_playout_read(p, out, 160), 80);
	assert_int_equal(out[79], -100);
	assert_int_equal(out[80], 0);
	assert_false(pb_playout_busy(p));
	for (int i = 0; i < 64; i++)
		assert_pb_ok(pb_playout_queue(p, pb));
	assert_pb_error(pb_playout_queue(p, pb), PB_ETOOBIG);
	pb_playout_clear(p);
	assert_false(pb_playout_busy(p));
	pb_playout_free(p);
	pb_prompt_free(pa);
	pb_prompt_free(pb);
}

static void test_media__call_plays_prompts_as_rtp(void **state)
{
	(void)state;
	pb_prompt_set *set;
	assert_pb_ok(pb_prompt_set_new(&set));
	pb_media_call_options o = PB_MEDIA_CALL_OPTIONS_INIT;
	o.prompts = set;
	o.codec = PB_CODEC_PCMA;
	o.random_start = false;
	o.ssrc = 0x5eed;
	o.seq = 65535;
	o.timestamp = 1000;
	pb_media_call *mc;
	assert_pb_ok(pb_media_call_new(&mc, &o));
	static const char *const names[] = { "beep", "silence" };
	static const char *const bad[] = { "beep", "no-such" };
	assert_pb_error(pb_media_call_play(mc, bad, 2), PB_ENOTFOUND);
	assert_string_equal(pb_error_last()->message, "no prompt named 'no-such'");
	assert_false(pb_media_call_playing(mc));
	assert_pb_ok(pb_media_call_play(mc, names, 2));
	assert_true(pb_media_call_playing(mc));
	/* 2000 + 4000 samples: done during the 38th packet (6000 / 160 = 37.5) */
	pb_buf pkt = PB_BUF_INIT;
	int done_at = -1;
	for (int i = 0; i < 50; i++) {
		unsigned ev;
		pb_buf_clear(&pkt);
		assert_pb_ok(pb_media_call_tick(mc, &pkt, &ev));
		pb_rtp_packet p;
		assert_pb_ok(pb_rtp_parse(&p, pkt.data, pkt.len, NULL));
		assert_int_equal(p.payload_len, 160);
		assert_int_equal(p.payload_type, 8);
		assert_int_equal(p.ssrc, 0x5eed);
		assert_int_equal(p.seq, (uint16_t)(65535 + i));
		assert_int_equal(p.timestamp, 1000u + 160u * (unsigned)i);
		assert_int_equal(p.marker, i == 0);
		if (i == 1) {
			int16_t pcm[160];
			pb_g711_decode(PB_CODEC_PCMA, pcm, p.payload, 160);
			int peak = 0;
			for (int j = 0; j < 160; j++)
				peak = PB_MAX(peak, abs(pcm[j]));
			assert_true(peak > 3000); /* the beep */
		}
		if (ev & PB_MEDIA_PROMPT_DONE) {
			assert_int_equal(done_at, -1);
			done_at = i;
		}
	}
	assert_int_equal(done_at, 37);
	assert_pb_ok(pb_media_call_play(mc, names, 1));
	pb_media_call_stop(mc);
	assert_false(pb_media_call_playing(mc));
	pb_buf_dispose(&pkt);
	pb_media_call_free(mc);
	pb_prompt_set_free(set);

	o.version = 0;
	assert_pb_error(pb_media_call_new(&mc, &o), PB_EINVAL);
	o.version = PB_MEDIA_CALL_OPTIONS_VERSION;
	o.codec = (pb_media_codec)9;
	assert_pb_error(pb_media_call_new(&mc, &o), PB_EINVAL);
}

/* --- a screening session over a call's media ------------------------------------------ */

typedef struct wire {
	pb_media_call *mc;
	pb_screen_session *s;
	int64_t timer;
	bool answered, finished;
	pb_screen_outcome outcome;
} wire;

static void w_ring(void *ud) { (void)ud; }
static void w_answer(void *ud) { ((wire *)ud)->answered = true; }
static void w_play(const char *const *names, size_t n, void *ud)
{
	assert_pb_ok(pb_media_call_play(((wire *)ud)->mc, names, n));
}
static void w_stop(void *ud) { pb_media_call_stop(((wire *)ud)->mc); }
static void w_timer(int64_t at, void *ud) { ((wire *)ud)->timer = at; }
static void w_finish(const pb_screen_result *r, void *ud)
{
	wire *w = ud;
	w->finished = true;
	w->outcome = r->outcome;
}

static const pb_screen_host_ops wire_ops = {
	PB_SCREEN_HOST_OPS_VERSION, w_ring, w_answer, w_play, w_stop, w_timer, w_finish,
};

/* One 20 ms tick of the host loop at @now: media out, timer, prompt end. */
static void wire_tick(wire *w, int64_t now)
{
	pb_buf pkt = PB_BUF_INIT;
	unsigned ev;
	assert_pb_ok(pb_media_call_tick(w->mc, &pkt, &ev));
	pb_buf_dispose(&pkt);
	if (!w->finished && (ev & PB_MEDIA_PROMPT_DONE))
		assert_pb_ok(pb_screen_session_prompt_done(w->s, now));
	if (!w->finished && w->timer >= 0 && now >= w->timer)
		assert_pb_ok(pb_screen_session_timer(w->s, now));
}

static void wire_receive(wire *w, const uint8_t *b, size_t len, int64_t now)
{
	char d[8];
	size_t n;
	assert_pb_ok(pb_media_call_receive(w->mc, b, len, d, sizeof(d), &n, NULL));
	for (size_t i = 0; i < n && !w->finished; i++)
		assert_pb_ok(pb_screen_session_dtmf(w->s, d[i], now));
}

/* Randomness that makes the code "47": random_below(10) of bytes {0, v} is v % 10. */
static int fixed_random(void *buf, size_t len, void *ud)
{
	static const uint8_t v[] = { 0, 4, 0, 7 };
	size_t *next = ud;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = v[(*next)++ % 4];
	return 0;
}

static void test_media__session_over_media(void **state)
{
	(void)state;
	pb_prompt_set *set;
	pb_screen_registry *reg;
	assert_pb_ok(pb_prompt_set_new(&set));
	assert_pb_ok(pb_prompt_set_load_dir(set, prompts_dir()));
	assert_pb_ok(pb_screen_registry_new(&reg));
	pb_media_call_options o = PB_MEDIA_CALL_OPTIONS_INIT;
	o.prompts = set;

	/* RFC 4733 digits with every packet duplicated: the code "47" passes
	 * (a receiver that took duplicates for presses would hear "44") */
	wire w = { .timer = -1 };
	pb_screen_session_options so = PB_SCREEN_SESSION_OPTIONS_INIT;
	size_t next = 0;
	so.random = fixed_random;
	so.random_userdata = &next;
	assert_pb_ok(pb_media_call_new(&w.mc, &o));
	assert_pb_ok(pb_screen_session_new(&w.s, reg, "random-code", "digits=2", &wire_ops, &w, &so));
	assert_pb_ok(pb_screen_session_start(w.s, 0));
	assert_true(w.answered);
	assert_true(pb_media_call_playing(w.mc));
	int64_t t = 0;
	while (pb_media_call_playing(w.mc) && t < 20000)
		wire_tick(&w, t += 20);
	assert_false(pb_media_call_playing(w.mc));
	assert_int_equal(w.timer, t + 10000); /* the answer time starts after the prompt */
	uint8_t b[64];
	uint16_t seq = 1;
	static const uint8_t code[] = { 4, 7 };
	for (int digit = 0; digit < 2; digit++) {
		for (int i = 0; i < 6; i++) {
			bool end = i >= 3; /* three end packets, as senders do */
			size_t n = event_packet(b, 77, seq++, (uint32_t)(digit + 1) * 8000, i == 0,
						code[digit], end, (uint16_t)(end ? 640 : 160 * (i + 1)));
			wire_receive(&w, b, n, t);
			wire_receive(&w, b, n, t);
		}
		wire_tick(&w, t += 20);
	}
	assert_true(w.finished);
	assert_int_equal(w.outcome, PB_SCREEN_PASSED);
	pb_screen_session_free(w.s);
	pb_media_call_free(w.mc);

	/* in-band: the caller presses 6 during the prompt (barge-in) */
	memset(&w, 0, sizeof(w));
	w.timer = -1;
	assert_pb_ok(pb_media_call_new(&w.mc, &o));
	assert_pb_ok(pb_screen_session_new(&w.s, reg, "press-digit", "digit=6", &wire_ops, &w, NULL));
	assert_pb_ok(pb_screen_session_start(w.s, 0));
	size_t n;
	int16_t *a = dtmf_audio("6", &n);
	pb_rtp_sender tx;
	pb_rtp_sender_init(&tx, 0, 1, 1, 0);
	t = 0;
	for (size_t i = 0; i + 160 <= n && !w.finished; i += 160) {
		uint8_t g[160];
		pb_buf pkt = PB_BUF_INIT;
		pb_g711_encode(PB_CODEC_PCMU, g, a + i, 160);
		assert_pb_ok(pb_rtp_sender_next(&tx, &pkt, g, 160, 160, false));
		wire_receive(&w, pkt.data, pkt.len, t);
		pb_buf_dispose(&pkt);
		wire_tick(&w, t += 20);
	}
	assert_true(w.finished);
	assert_int_equal(w.outcome, PB_SCREEN_PASSED);
	assert_false(pb_media_call_playing(w.mc)); /* the prompt was cut */
	free(a);
	pb_screen_session_free(w.s);
	pb_media_call_free(w.mc);
	pb_screen_registry_free(reg);
	pb_prompt_set_free(set);
}

/* --- allocation failures --------------------------------------------------------------- */

static int alloc_scenario(void *ctx)
{
	(void)ctx;
	pb_prompt_set *set;
	pb_media_call *mc = NULL;
	int rc = pb_prompt_set_new(&set);
	if (rc < 0)
		return rc;
	rc = pb_prompt_set_load_dir(set, prompts_dir());
	pb_media_call_options o = PB_MEDIA_CALL_OPTIONS_INIT;
	o.prompts = set;
	if (rc == 0)
		rc = pb_media_call_new(&mc, &o);
	static const char *const names[] = { "press", "digit-6", "to-continue" };
	if (rc == 0)
		rc = pb_media_call_play(mc, names, 3);
	pb_buf pkt = PB_BUF_INIT;
	if (rc == 0)
		rc = pb_media_call_tick(mc, &pkt, NULL);
	pb_buf_dispose(&pkt);
	pb_media_call_free(mc);
	pb_prompt_set_free(set);
	return rc;
}

/* --- recording --------------------------------------------------------------------- */

/* Send @p n samples to @p mc as 20 ms PCMU packets; packet @p lose (0: none) is lost. */
static void send_pcm(pb_media_call *mc, pb_rtp_sender *tx, const int16_t *pcm, size_t n, size_t lose)
{
	pb_buf b = PB_BUF_INIT;
	for (size_t i = 0, pkt = 1; i + 160 <= n; i += 160, pkt++) {
		uint8_t g[160];
		char d[4];
		size_t nd;
		pb_g711_encode(PB_CODEC_PCMU, g, pcm + i, 160);
		pb_buf_clear(&b);
		assert_pb_ok(pb_rtp_sender_next(tx, &b, g, 160, 160, false));
		if (pkt != lose)
			assert_pb_ok(pb_media_call_receive(mc, b.data, b.len, d, sizeof(d), &nd, NULL));
	}
	pb_buf_dispose(&b);
}

/* Read a file libsndfile can open from @p data: its rate and frames. */
static void sound_of(const pb_buf *data, int *rate, int *channels, sf_count_t *frames)
{
	char path[] = "/tmp/pb-media-rec-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data->data, data->len), (ssize_t)data->len);
	close(fd);
	SF_INFO info = { 0 };
	SNDFILE *f = sf_open(path, SFM_READ, &info);
	unlink(path);
	assert_non_null(f);
	*rate = info.samplerate;
	*channels = info.channels;
	/* count what decodes rather than trusting the header */
	short buf[4096];
	sf_count_t got, total = 0;
	while ((got = sf_readf_short(f, buf, (sf_count_t)(sizeof(buf) / sizeof(buf[0]) / info.channels))) > 0)
		total += got;
	*frames = total;
	sf_close(f);
}

/* The sink of two recorders at once: the same audio as WAV and as Ogg Opus. */
static void tee(const int16_t *samples, size_t n, void *userdata)
{
	pb_recorder **r = userdata;
	pb_recorder_sink(samples, n, r[0]);
	if (r[1])
		pb_recorder_sink(samples, n, r[1]);
}

static void test_media__recorder_takes_call_audio(void **state)
{
	(void)state;
	pb_prompt *beep;
	assert_pb_ok(pb_prompt_tone(&beep, PB_TONE_BEEP)); /* 250 ms at -10 dBm0 */
	size_t talk = 8 * beep->count, quiet = 3 * PB_MEDIA_RATE;
	int16_t *pcm = calloc(talk + quiet, sizeof(int16_t));
	assert_non_null(pcm);
	for (size_t i = 0; i < 8; i++)
		memcpy(pcm + i * beep->count, beep->samples, beep->count * sizeof(int16_t));
	pb_prompt_free(beep);

	pb_recorder_options ro = PB_RECORDER_OPTIONS_INIT;
	ro.silence_ms = 2000;
	pb_recorder *rs[2] = { NULL, NULL }, *r;
	assert_pb_ok(pb_recorder_new(&rs[0], &ro));
	r = rs[0];
	ro.format = PB_RECORDER_OPUS;
	int orc = pb_recorder_new(&rs[1], &ro);
	if (orc == PB_EUNSUPPORTED)
		print_message("# skipped Ogg Opus: %s\n", pb_error_last()->message);
	else
		assert_pb_ok(orc);
	ro.format = PB_RECORDER_WAV;
	pb_media_call_options o = PB_MEDIA_CALL_OPTIONS_INIT;
	pb_media_call *mc;
	assert_pb_ok(pb_media_call_new(&mc, &o));
	pb_rtp_sender tx;
	pb_rtp_sender_init(&tx, 0, 0x51, 65500, 0); /* the sequence wraps on the way */
	/* before the sink is set nothing is recorded */
	send_pcm(mc, &tx, pcm + talk, 1600, 0);
	pb_media_call_set_audio_sink(mc, tee, rs);
	send_pcm(mc, &tx, pcm, talk + quiet, 30); /* one packet lost in the tone */
	assert_int_equal(pb_recorder_state(r), PB_RECORDER_SILENCE);
	assert_true(pb_recorder_heard(r));
	/* 2 s of tone and half a second of the silence that ended it */
	uint64_t ms = pb_recorder_duration_ms(r);
	assert_true(ms >= 2400 && ms <= 2600);
	/* more audio after the end is ignored */
	send_pcm(mc, &tx, pcm, 1600, 0);
	assert_int_equal(pb_recorder_duration_ms(r), ms);
	pb_media_call_set_audio_sink(mc, NULL, NULL);

	pb_buf wav = PB_BUF_INIT, opus = PB_BUF_INIT;
	assert_pb_ok(pb_buf_put(&wav, "x", 1)); /* appended after what is there */
	assert_pb_ok(pb_recorder_finish(r, &wav));
	assert_memory_equal(wav.data, "xRIFF", 5);
	memmove(wav.data, wav.data + 1, wav.len - 1);
	wav.len--;
	assert_pb_error(pb_recorder_finish(r, &wav), PB_ESTATE); /* once */
	assert_int_equal(pb_recorder_duration_ms(r), ms);
	int rate, ch;
	sf_count_t frames;
	sound_of(&wav, &rate, &ch, &frames);
	assert_int_equal(rate, 8000);
	assert_int_equal(ch, 1);
	assert_int_equal((uint64_t)frames * 1000 / 8000, ms);
	assert_string_equal(pb_recorder_mimetype(PB_RECORDER_WAV), "audio/wav");
	if (rs[1]) {
		assert_int_equal(pb_recorder_duration_ms(rs[1]), ms);
		assert_pb_ok(pb_recorder_finish(rs[1], &opus));
		assert_memory_equal(opus.data, "OggS", 4);
		assert_true(opus.len < wav.len / 4);
		sound_of(&opus, &rate, &ch, &frames);
		double secs = (double)frames / rate;
		assert_true(secs > 2.3 && secs < 2.8);
		assert_string_equal(pb_recorder_mimetype(PB_RECORDER_OPUS), "audio/ogg");
	}
	pb_buf_dispose(&wav);
	pb_buf_dispose(&opus);
	pb_recorder_free(rs[0]);
	pb_recorder_free(rs[1]);

	/* silence only: never ends on silence, nothing heard; max_ms ends it */
	ro.max_ms = 1000;
	assert_pb_ok(pb_recorder_new(&r, &ro));
	assert_int_equal(pb_recorder_feed(r, pcm + talk, 4000), PB_RECORDER_RECORDING);
	assert_int_equal(pb_recorder_feed(r, pcm + talk, 8000), PB_RECORDER_FULL);
	assert_false(pb_recorder_heard(r));
	assert_int_equal(pb_recorder_duration_ms(r), 500); /* trailing silence beyond 0.5 s goes */
	pb_recorder_free(r);

	/* options are checked */
	ro.max_ms = 600001;
	assert_pb_error(pb_recorder_new(&r, &ro), PB_EINVAL);
	ro.max_ms = 0;
	ro.silence_dbm0 = 3;
	assert_pb_error(pb_recorder_new(&r, &ro), PB_EINVAL);
	ro.silence_dbm0 = 0;
	ro.format = (pb_recorder_format)9;
	assert_pb_error(pb_recorder_new(&r, &ro), PB_EINVAL);
	ro.format = PB_RECORDER_WAV;
	ro.version = 0;
	assert_pb_error(pb_recorder_new(&r, &ro), PB_EINVAL);
	assert_null(pb_recorder_mimetype((pb_recorder_format)7));
	pb_media_call_free(mc);
	free(pcm);
}

static void test_media__allocation_failures(void **state)
{
	(void)state;
	assert_true(pb_test_alloc_fail_each(alloc_scenario, NULL, NULL) >= 10);
}

/* Wait up to 5 s for a datagram on @p s. */
static long recv_wait(pb_rtp_socket *s, uint8_t *buf, size_t cap)
{
	struct pollfd p = { .fd = pb_rtp_socket_fd(s), .events = POLLIN };
	if (poll(&p, 1, 5000) != 1)
		return PB_ETIMEOUT;
	return pb_rtp_socket_recv(s, buf, cap);
}

/* A leg's RTP socket: a port in the range, send and receive, hold, and a
 * relay that maps payload types and continues the receiver's stream. */
static void test_media__rtp_socket(void **state)
{
	(void)state;
	pb_rtp_socket *a, *b, *c;
	unsigned next = 0;
	assert_pb_error(pb_rtp_socket_open(&a, "not-numeric", 0, 0, NULL), PB_EINVAL);
	assert_pb_error(pb_rtp_socket_open(&a, "127.0.0.1", 3000, 2000, &next), PB_EINVAL);
	assert_pb_ok(pb_rtp_socket_open(&a, "127.0.0.1", 0, 0, NULL));
	assert_pb_ok(pb_rtp_socket_open(&b, "127.0.0.1", 0, 0, NULL));
	/* a range: even ports, the counter moves on (a taken port is skipped) */
	unsigned base = pb_rtp_socket_port(b) & ~1u;
	next = base;
	if (pb_rtp_socket_open(&c, "127.0.0.1", base, base + 8, &next) == 0) {
		assert_true(pb_rtp_socket_port(c) >= base && pb_rtp_socket_port(c) <= base + 8);
		assert_int_equal(pb_rtp_socket_port(c) % 2, 0);
		assert_true(next != base);
		pb_rtp_socket_close(c);
	}
	uint8_t pkt[172] = { 0x80, 0, 0, 100, 0, 0, 0x03, 0xe8, 0xaa, 0xbb, 0xcc, 0xdd };
	uint8_t got[2048];
	assert_false(pb_rtp_socket_has_remote(a));
	assert_pb_error(pb_rtp_socket_send(a, pkt, sizeof(pkt)), PB_ESTATE);
	assert_pb_error(pb_rtp_socket_set_remote(a, "127.0.0.1", 0), PB_EINVAL);
	assert_pb_ok(pb_rtp_socket_set_remote(a, "127.0.0.1", pb_rtp_socket_port(b)));
	assert_pb_ok(pb_rtp_socket_set_remote(b, "127.0.0.1", pb_rtp_socket_port(a)));
	assert_int_equal(pb_rtp_socket_recv(b, got, sizeof(got)), PB_EAGAIN);
	/* our own stream: PCMU, seq 100, ts 1000, SSRC aabbccdd */
	assert_pb_ok(pb_rtp_socket_send(a, pkt, sizeof(pkt)));
	assert_int_equal(recv_wait(b, got, sizeof(got)), sizeof(pkt));
	assert_memory_equal(got, pkt, sizeof(pkt));
	/* a relayed stream (PCMA as 8 -> 0, events 96 -> 101) continues ours */
	uint8_t in[172] = { 0x80, 8, 0x12, 0x34, 0, 0, 0, 50, 1, 2, 3, 4 };
	pb_rtp_relay_map map = { 8, 96, 0, 101 };
	assert_pb_ok(pb_rtp_socket_relay(a, in, sizeof(in), &map));
	assert_int_equal(recv_wait(b, got, sizeof(got)), sizeof(in));
	assert_int_equal(got[1] & 0x7f, 0);
	assert_int_equal(got[2] << 8 | got[3], 101);                 /* seq runs on */
	assert_int_equal(got[4] << 24 | got[5] << 16 | got[6] << 8 | got[7], 1160); /* ts: one frame on */
	assert_memory_equal(got + 8, pkt + 8, 4);                    /* our SSRC */
	uint8_t ev[16] = { 0x80, 96, 0x12, 0x35, 0, 0, 0, 50, 1, 2, 3, 4, 6, 0x0a, 0, 160 };
	assert_pb_ok(pb_rtp_socket_relay(a, ev, sizeof(ev), &map));
	assert_int_equal(recv_wait(b, got, sizeof(got)), sizeof(ev));
	assert_int_equal(got[1] & 0x7f, 101);
	assert_int_equal(got[2] << 8 | got[3], 102);
	uint8_t bad[4] = { 0x80, 0, 0, 1 };
	assert_pb_error(pb_rtp_socket_relay(a, bad, sizeof(bad), &map), PB_EMALFORMED);
	/* on hold: nothing goes out */
	assert_pb_ok(pb_rtp_socket_set_remote(a, NULL, 0));
	assert_false(pb_rtp_socket_has_remote(a));
	assert_pb_error(pb_rtp_socket_send(a, pkt, sizeof(pkt)), PB_ESTATE);
	pb_rtp_socket_close(a);
	pb_rtp_socket_close(b);
	pb_rtp_socket_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_media__g711_round_trip),
		cmocka_unit_test(test_media__rtp_socket),
		cmocka_unit_test(test_media__rtp_parse_and_encode),
		cmocka_unit_test(test_media__rtp_sender_counts),
		cmocka_unit_test(test_media__rtp_receiver),
		cmocka_unit_test(test_media__rfc4733_payload),
		cmocka_unit_test(test_media__rfc4733_receiver_hand_built),
		cmocka_unit_test(test_media__rfc4733_sipp_pcaps),
		cmocka_unit_test(test_media__sip_info_bodies),
		cmocka_unit_test(test_media__inband_detector),
		cmocka_unit_test(test_media__call_detects_inband_dtmf),
		cmocka_unit_test(test_media__prompt_set_loads),
		cmocka_unit_test(test_media__prompt_load_checks_format),
		cmocka_unit_test(test_media__tones),
		cmocka_unit_test(test_media__playout),
		cmocka_unit_test(test_media__call_plays_prompts_as_rtp),
		cmocka_unit_test(test_media__session_over_media),
		cmocka_unit_test(test_media__allocation_failures),
		cmocka_unit_test(test_media__recorder_takes_call_audio),
	};
	return pb_test_run("media", tests);
}
