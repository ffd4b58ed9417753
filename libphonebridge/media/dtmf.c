/*
 * libphonebridge — DTMF that arrives as data: RFC 4733 telephone events and
 * SIP INFO bodies (application/dtmf-relay, application/dtmf).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "media/private.h"

/* RFC 4733 section 3.2, table 7: DTMF named events 0-15. */
static const char event_digits[16] = {
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
};

char pb_dtmf_event_digit(unsigned event)
{
	return event < 16 ? event_digits[event] : 0;
}

int pb_dtmf_digit_event(char digit)
{
	if (digit >= 'a' && digit <= 'd')
		digit = (char)(digit - 'a' + 'A');
	for (int i = 0; i < 16; i++)
		if (event_digits[i] == digit && digit)
			return i;
	return -1;
}

/* --- RFC 4733 ------------------------------------------------------------------ */

int pb_rfc4733_parse(pb_rfc4733_event *out, const uint8_t *buf, size_t len, pb_parse_error *perr)
{
	if (!out || (!buf && len))
		return pb_error_set(PB_EINVAL, "rfc4733_parse: NULL argument");
	if (len == 0 || len % 4 != 0)
		return pb_error__parse(perr, len - len % 4,
				       "telephone-event payload of %zu bytes: expected a multiple of 4", len);
	/* redundant events (2.5.1.5) come oldest first: the last one is current */
	const uint8_t *p = buf + len - 4;
	out->event = p[0];
	out->end = p[1] & 0x80;
	out->volume = p[1] & 0x3f;
	out->duration = (uint16_t)(p[2] << 8 | p[3]);
	return 0;
}

int pb_rfc4733_encode(pb_buf *out, const pb_rfc4733_event *ev)
{
	if (!out || !ev || ev->volume > 63)
		return pb_error_set(PB_EINVAL, "rfc4733_encode: volume 0..63");
	uint8_t b[4] = { ev->event, (uint8_t)((ev->end ? 0x80 : 0) | ev->volume),
			 (uint8_t)(ev->duration >> 8), (uint8_t)ev->duration };
	return pb_buf_put(out, b, 4);
}

void pb_rfc4733_rx_init(pb_rfc4733_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

/*
 * Is this packet part of the event we already know? Same source, same
 * timestamp and code -- unless that event ended and this packet starts it
 * over (the marker bit of a first packet, without the E bit): the same event
 * played again, as a replayed pcap does. A late middle packet has no marker
 * and stays part of the old event.
 */
static bool same_event(const pb_rfc4733_rx *rx, const pb_rtp_packet *pkt, const pb_rfc4733_event *ev)
{
	if (!rx->have || rx->ssrc != pkt->ssrc || rx->timestamp != pkt->timestamp || rx->event != ev->event)
		return false;
	if (rx->ended && !ev->end && pkt->marker)
		return false;
	return true;
}

int pb_rfc4733_rx_push(pb_rfc4733_rx *rx, const pb_rtp_packet *pkt, char *digit, pb_parse_error *perr)
{
	pb_rfc4733_event ev;
	if (digit)
		*digit = 0;
	int rc = pb_rfc4733_parse(&ev, pkt->payload, pkt->payload_len, perr);
	if (rc < 0)
		return rc;
	if (same_event(rx, pkt, &ev)) {
		rx->duplicates += rx->ended; /* repeats of the end packet */
		rx->ended |= ev.end;
		if (ev.duration > rx->duration)
			rx->duration = ev.duration;
		return 0;
	}
	rx->have = true;
	rx->ssrc = pkt->ssrc;
	rx->timestamp = pkt->timestamp;
	rx->event = ev.event;
	rx->ended = ev.end;
	rx->duration = ev.duration;
	char d = pb_dtmf_event_digit(ev.event);
	if (!d)
		return 0; /* flash, tones: not DTMF */
	if (digit)
		*digit = d;
	return 1;
}

/* --- SIP INFO ----------------------------------------------------------------- */

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static bool media_type_is(const char *ct, const char *type)
{
	size_t n = strlen(type);
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (pb_ascii_ncasecmp(ct, type, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/*
 * A signal: one character 0-9 * # A-D, or an RFC 4733 event code (10 is
 * '*', 11 '#', 16 hook flash). @p s .. @p e is trimmed.
 */
static int parse_signal(const uint8_t *buf, size_t s, size_t e, char *digit, pb_parse_error *perr)
{
	if (s == e)
		return pb_error__parse(perr, s, "empty DTMF signal");
	if (e - s == 1) {
		char c = (char)buf[s];
		if (pb_dtmf_digit_event(c) >= 0) {
			*digit = pb_dtmf_event_digit((unsigned)pb_dtmf_digit_event(c));
			return 0;
		}
		if (c == '!')
			return pb_error__parse_code(perr, PB_EUNSUPPORTED, s, "hook flash is not a digit");
	}
	unsigned v = 0;
	for (size_t i = s; i < e; i++) {
		if (buf[i] < '0' || buf[i] > '9' || i - s >= 3)
			return pb_error__parse(perr, i, "bad DTMF signal");
		v = v * 10 + (unsigned)(buf[i] - '0');
	}
	if (v < 16) {
		*digit = pb_dtmf_event_digit(v);
		return 0;
	}
	return pb_error__parse_code(perr, PB_EUNSUPPORTED, s, "event %u is not a DTMF digit", v);
}

static int parse_number(const uint8_t *buf, size_t s, size_t e, unsigned *out, pb_parse_error *perr)
{
	unsigned long v = 0;
	if (s == e)
		return pb_error__parse(perr, s, "empty Duration");
	for (size_t i = s; i < e; i++) {
		if (buf[i] < '0' || buf[i] > '9' || i - s >= 7)
			return pb_error__parse(perr, i, "bad Duration");
		v = v * 10 + (unsigned long)(buf[i] - '0');
	}
	*out = (unsigned)v;
	return 0;
}

/* application/dtmf-relay: "Signal=5\r\nDuration=160\r\n", any order, other keys ignored. */
static int parse_relay(const uint8_t *buf, size_t len, char *digit, unsigned *dur, pb_parse_error *perr)
{
	bool have_signal = false;
	size_t i = 0;
	while (i < len) {
		size_t ls = i, le = i;
		while (le < len && buf[le] != '\n' && buf[le] != '\r')
			le++;
		i = le;
		while (i < len && (buf[i] == '\n' || buf[i] == '\r'))
			i++;
		while (ls < le && is_space(buf[ls]))
			ls++;
		while (le > ls && is_space(buf[le - 1]))
			le--;
		if (ls == le)
			continue;
		size_t eq = ls;
		while (eq < le && buf[eq] != '=')
			eq++;
		if (eq == le)
			return pb_error__parse(perr, ls, "dtmf-relay line without '='");
		size_t ke = eq, vs = eq + 1;
		while (ke > ls && is_space(buf[ke - 1]))
			ke--;
		while (vs < le && is_space(buf[vs]))
			vs++;
		size_t klen = ke - ls;
		if (klen == 6 && pb_ascii_ncasecmp((const char *)buf + ls, "Signal", 6) == 0) {
			int rc = parse_signal(buf, vs, le, digit, perr);
			if (rc < 0)
				return rc;
			have_signal = true;
		} else if (klen == 8 && pb_ascii_ncasecmp((const char *)buf + ls, "Duration", 8) == 0) {
			int rc = parse_number(buf, vs, le, dur, perr);
			if (rc < 0)
				return rc;
		}
	}
	if (!have_signal)
		return pb_error__parse(perr, len, "dtmf-relay body without Signal=");
	return 0;
}

int pb_dtmf_info_parse(const char *content_type, const uint8_t *body, size_t len,
		       char *digit, unsigned *duration_ms, pb_parse_error *perr)
{
	unsigned dur = 0;
	char d = 0;
	int rc;
	if (!content_type || !digit || (!body && len))
		return pb_error_set(PB_EINVAL, "dtmf_info_parse: NULL argument");
	/* a NUL inside the body is not text */
	const uint8_t *nul = len ? memchr(body, 0, len) : NULL;
	if (nul)
		return pb_error__parse(perr, (size_t)(nul - body), "NUL byte in a DTMF body");
	if (media_type_is(content_type, "application/dtmf-relay")) {
		rc = parse_relay(body, len, &d, &dur, perr);
	} else if (media_type_is(content_type, "application/dtmf")) {
		size_t s = 0, e = len;
		while (s < e && (is_space(body[s]) || body[s] == '\r' || body[s] == '\n'))
			s++;
		while (e > s && (is_space(body[e - 1]) || body[e - 1] == '\r' || body[e - 1] == '\n'))
			e--;
		rc = parse_signal(body, s, e, &d, perr);
	} else {
		return pb_error_set(PB_EUNSUPPORTED, "INFO body of type '%s' carries no DTMF", content_type);
	}
	if (rc < 0)
		return rc;
	*digit = d;
	if (duration_ms)
		*duration_ms = dur;
	return 0;
}
