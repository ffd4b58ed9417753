/*
 * libphonebridge — the media of one call: prompts out as G.711 RTP every
 * 20 ms, digits in from RFC 4733 events and in-band tones.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "media/private.h"

/*
 * Received audio goes to the detector in sequence order through a small
 * reorder buffer: a packet may wait for up to REORDER - 1 newer ones to
 * arrive before the hole before it is given up (60 ms at 20 ms packets).
 */
#define REORDER 4
#define SLOT_BYTES 480            /* 60 ms of G.711: longer packets are cut */
#define MAX_CONCEAL_PACKETS 50    /* a longer gap is a pause, not loss */

typedef struct slot {
	bool full;
	uint32_t ext;                 /* extended sequence number */
	uint8_t payload_type;
	uint16_t len;
	uint8_t data[SLOT_BYTES];
} slot;

struct pb_media_call {
	pb_media_call_options o;
	pb_rtp_sender tx;
	pb_rtp_rx rx;
	pb_rfc4733_rx events;
	pb_dtmf_detector *detector; /* NULL when in-band detection is off */
	pb_playout *playout;
	bool heard_events;          /* the caller sends RFC 4733: stop listening in-band */
	/* reorder buffer in front of the detector */
	slot slots[REORDER];
	bool in_order;              /* next_ext is set */
	uint32_t next_ext;          /* the next packet the detector wants */
	uint64_t epoch;             /* rx restarts seen (SSRC changes, resyncs) */
	pb_media_audio_cb sink;     /* the caller's audio, decoded, in order (a recorder) */
	void *sink_ud;
};

int pb_media_call_new(pb_media_call **out, const pb_media_call_options *o)
{
	if (!out || !o)
		return pb_error_set(PB_EINVAL, "media_call_new: NULL argument");
	*out = NULL;
	int vrc = PB_CHECK_VERSION(o, PB_MEDIA_CALL_OPTIONS, 1);
	if (vrc < 0)
		return vrc;
	if (o->codec != PB_CODEC_PCMU && o->codec != PB_CODEC_PCMA)
		return pb_error_set(PB_EINVAL, "media_call_new: codec %d is not PCMU (0) or PCMA (8)",
				    (int)o->codec);
	if (o->event_payload_type > 127)
		return pb_error_set(PB_EINVAL, "media_call_new: telephone-event payload type %u > 127",
				    o->event_payload_type);
	pb_media_call *c = pb_calloc(1, sizeof(*c));
	if (!c)
		return PB_ENOMEM;
	c->o = *o;
	int rc = 0;
	if (o->random_start)
		rc = pb_rtp_sender_random(&c->tx, (uint8_t)o->codec);
	else
		pb_rtp_sender_init(&c->tx, (uint8_t)o->codec, o->ssrc, o->seq, o->timestamp);
	pb_rtp_rx_init(&c->rx);
	pb_rfc4733_rx_init(&c->events);
	if (rc == 0)
		rc = pb_playout_new(&c->playout);
	if (rc == 0 && o->inband_dtmf)
		rc = pb_dtmf_detector_new(&c->detector);
	if (rc < 0) {
		pb_media_call_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void pb_media_call_free(pb_media_call *c)
{
	if (!c)
		return;
	pb_dtmf_detector_free(c->detector);
	pb_playout_free(c->playout);
	pb_free(c);
}

int pb_media_call_play(pb_media_call *c, const char *const *names, size_t n)
{
	const pb_prompt *found[PB_PLAYOUT_MAX];
	if (!c || (!names && n))
		return pb_error_set(PB_EINVAL, "media_call_play: NULL argument");
	if (n > PB_PLAYOUT_MAX)
		return pb_error_set(PB_ETOOBIG, "media_call_play: %zu prompts at once", n);
	for (size_t i = 0; i < n; i++) {
		found[i] = pb_prompt_set_find(c->o.prompts, names[i]);
		if (!found[i])
			return pb_error_set(PB_ENOTFOUND, "no prompt named '%s'", names[i] ? names[i] : "(null)");
	}
	for (size_t i = 0; i < n; i++) {
		int rc = pb_playout_queue(c->playout, found[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void pb_media_call_stop(pb_media_call *c)
{
	if (c)
		pb_playout_clear(c->playout);
}

bool pb_media_call_playing(const pb_media_call *c)
{
	return c && pb_playout_busy(c->playout);
}

int pb_media_call_tick(pb_media_call *c, pb_buf *packet, unsigned *events)
{
	int16_t pcm[PB_MEDIA_FRAME];
	uint8_t g711[PB_MEDIA_FRAME];
	bool was_busy = pb_playout_busy(c->playout);
	if (events)
		*events = 0;
	pb_playout_read(c->playout, pcm, PB_MEDIA_FRAME);
	pb_g711_encode(c->o.codec, g711, pcm, PB_MEDIA_FRAME);
	int rc = pb_rtp_sender_next(&c->tx, packet, g711, sizeof(g711), PB_MEDIA_FRAME, false);
	if (rc == 0 && was_busy && !pb_playout_busy(c->playout) && events)
		*events |= PB_MEDIA_PROMPT_DONE;
	return rc;
}

/* The detector listens until the caller sends RFC 4733 events. */
static bool detecting(const pb_media_call *c)
{
	return c->detector && !c->heard_events;
}

/* Run one held packet, or a hole of 20 ms, through the detector and to the sink. */
static size_t advance(pb_media_call *c, char *digits, size_t cap)
{
	int16_t pcm[PB_MEDIA_FRAME];
	slot *s = &c->slots[c->next_ext % REORDER];
	size_t k = 0;
	if (s->full && s->ext == c->next_ext) {
		for (size_t o = 0; o < s->len; o += PB_MEDIA_FRAME) {
			size_t n = PB_MIN((size_t)s->len - o, (size_t)PB_MEDIA_FRAME);
			pb_g711_decode((pb_media_codec)s->payload_type, pcm, s->data + o, n);
			if (detecting(c))
				k += pb_dtmf_detector_feed(c->detector, pcm, n, digits + k, cap - k);
			if (c->sink)
				c->sink(pcm, n, c->sink_ud);
		}
		s->full = false;
	} else {
		if (detecting(c))
			pb_dtmf_detector_skip(c->detector, PB_MEDIA_FRAME);
		if (c->sink) { /* a lost packet: silence in its place keeps the time */
			memset(pcm, 0, sizeof(pcm));
			c->sink(pcm, PB_MEDIA_FRAME, c->sink_ud);
		}
	}
	c->next_ext++;
	return k;
}

/* Everything held goes through, in order. */
static size_t flush(pb_media_call *c, char *digits, size_t cap)
{
	size_t k = 0;
	for (int i = 0; i < REORDER; i++) {
		bool any = false;
		for (int j = 0; j < REORDER; j++)
			any |= c->slots[j].full;
		if (!any)
			break;
		k += advance(c, digits + k, cap - k);
	}
	return k;
}

static size_t audio_in(pb_media_call *c, const pb_rtp_packet *p, char *digits, size_t cap)
{
	pb_rtp_rx_class cls = pb_rtp_rx_push(&c->rx, p, NULL);
	if ((!detecting(c) && !c->sink) || cls == PB_RTP_RX_DUPLICATE || cls == PB_RTP_RX_TOO_OLD)
		return 0;
	uint32_t ext = c->rx.max_seq - (uint16_t)((uint16_t)c->rx.max_seq - p->seq);
	uint64_t epoch = c->rx.stats.ssrc_changes + c->rx.stats.resyncs;
	size_t k = 0;
	if (!c->in_order || epoch != c->epoch ||
	    (int32_t)(ext - c->next_ext) > MAX_CONCEAL_PACKETS) {
		k += flush(c, digits, cap);
		for (int j = 0; j < REORDER; j++)
			c->slots[j].full = false;
		c->in_order = true;
		c->epoch = epoch;
		c->next_ext = ext;
	}
	if ((int32_t)(ext - c->next_ext) < 0)
		return k; /* its time was already given up */
	while ((int32_t)(ext - c->next_ext) >= REORDER)
		k += advance(c, digits + k, cap - k);
	slot *s = &c->slots[ext % REORDER];
	s->full = true;
	s->ext = ext;
	s->payload_type = p->payload_type;
	s->len = (uint16_t)PB_MIN(p->payload_len, (size_t)SLOT_BYTES);
	memcpy(s->data, p->payload, s->len);
	for (;;) {
		const slot *n = &c->slots[c->next_ext % REORDER];
		if ((n->full && n->ext == c->next_ext) || (int32_t)(ext - c->next_ext) >= REORDER - 1)
			k += advance(c, digits + k, cap - k);
		else
			break;
	}
	return k;
}

int pb_media_call_receive(pb_media_call *c, const uint8_t *buf, size_t len,
			  char *digits, size_t cap, size_t *n, pb_parse_error *perr)
{
	pb_rtp_packet p;
	if (!c || !n || (!digits && cap))
		return pb_error_set(PB_EINVAL, "media_call_receive: NULL argument");
	*n = 0;
	int rc = pb_rtp_parse(&p, buf, len, perr);
	if (rc < 0)
		return rc;
	if (c->o.event_payload_type && p.payload_type == c->o.event_payload_type) {
		char d;
		rc = pb_rfc4733_rx_push(&c->events, &p, &d, perr);
		if (rc < 0)
			return rc;
		c->heard_events = true;
		if (rc == 1 && cap > 0)
			digits[(*n)++] = d;
		return 0;
	}
	if (p.payload_type == PB_CODEC_PCMU || p.payload_type == PB_CODEC_PCMA)
		*n = audio_in(c, &p, digits, cap);
	return 0;
}

void pb_media_call_set_audio_sink(pb_media_call *c, pb_media_audio_cb cb, void *userdata)
{
	if (!c)
		return;
	c->sink = cb;
	c->sink_ud = userdata;
}

const pb_rtp_rx_stats *pb_media_call_stats(const pb_media_call *c)
{
	return &c->rx.stats;
}
