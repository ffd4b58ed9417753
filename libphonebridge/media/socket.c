/*
 * libphonebridge — a call leg's RTP socket: bound in a port range, one
 * remote address (from the SDP), whole packets out and in, and the relay of
 * a bridged stream (payload types mapped, the receiver's stream continued).
 * The program's loop watches pb_rtp_socket_fd(); nothing here waits.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media/private.h"

#include <phonebridge/alloc.h>
#include <phonebridge/error.h>

struct pb_rtp_socket {
	int fd;
	uint16_t local_port;
	struct sockaddr_storage remote;
	socklen_t remote_len;          /* 0: nowhere to send (not known, or on hold) */
	/* what went out last, so that a relayed stream continues it (same SSRC,
	 * sequence and timestamp running on) instead of jumping */
	bool tx_known, map_valid;
	uint32_t tx_ssrc, tx_ts, map_src_ssrc, ts_delta;
	uint16_t tx_seq, seq_delta;
};

static int bind_in_range(int fd, const struct addrinfo *ai, const char *address, unsigned min, unsigned max,
			 unsigned *next)
{
	struct sockaddr_storage ss;
	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	unsigned span = max ? (max - min) / 2 + 1 : 1;
	for (unsigned i = 0; i < span; i++) {
		unsigned port = 0;
		if (max) {
			port = *next < min || *next > max ? min : *next;
			*next = port + 2 > max ? min : port + 2;
		}
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		if (bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) == 0)
			return 0;
	}
	return pb_error_set(PB_EIO, "no free RTP port on %s: %s", address, strerror(errno));
}

PB_API int pb_rtp_socket_open(pb_rtp_socket **out, const char *address, unsigned port_min, unsigned port_max,
			      unsigned *next_port)
{
	*out = NULL;
	if (!address || port_min > port_max || port_max > 65535 || (port_max && !next_port))
		return pb_error_set(PB_EINVAL, "RTP socket: bad address or port range");
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM }, *ai;
	if (getaddrinfo(address, NULL, &hints, &ai) != 0)
		return pb_error_set(PB_EINVAL, "RTP address '%s' is not numeric", address);
	pb_rtp_socket *s = pb_calloc(1, sizeof(*s));
	int rc = s ? 0 : pb_error__oom();
	int fd = -1;
	if (rc == 0 && (fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		rc = pb_error_set(PB_EIO, "RTP socket: %s", strerror(errno));
	if (rc == 0)
		rc = bind_in_range(fd, ai, address, port_min & ~1u, port_max, next_port);
	freeaddrinfo(ai);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		pb_free(s);
		return rc;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	s->local_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	s->fd = fd;
	*out = s;
	return 0;
}

PB_API void pb_rtp_socket_close(pb_rtp_socket *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	pb_free(s);
}

PB_API int pb_rtp_socket_fd(const pb_rtp_socket *s) { return s->fd; }
PB_API uint16_t pb_rtp_socket_port(const pb_rtp_socket *s) { return s->local_port; }
PB_API bool pb_rtp_socket_has_remote(const pb_rtp_socket *s) { return s->remote_len > 0; }

PB_API int pb_rtp_socket_set_remote(pb_rtp_socket *s, const char *address, unsigned port)
{
	if (!address) {
		s->remote_len = 0; /* on hold: send nothing */
		return 0;
	}
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_DGRAM }, *ai;
	char serv[8];
	snprintf(serv, sizeof(serv), "%u", port);
	if (port == 0 || port > 65535 || getaddrinfo(address, serv, &hints, &ai) != 0)
		return pb_error_set(PB_EINVAL, "RTP remote %s port %u: not a numeric address and port", address, port);
	int rc = 0;
	if (ai->ai_addrlen <= sizeof(s->remote)) {
		memcpy(&s->remote, ai->ai_addr, ai->ai_addrlen);
		s->remote_len = ai->ai_addrlen;
	} else {
		rc = pb_error_set(PB_EINVAL, "RTP remote %s: address too long", address);
	}
	freeaddrinfo(ai);
	return rc;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void note_tx(pb_rtp_socket *s, const uint8_t *p)
{
	s->tx_known = true;
	s->tx_seq = (uint16_t)(p[2] << 8 | p[3]);
	s->tx_ts = rd32(p + 4);
	s->tx_ssrc = rd32(p + 8);
}

static int raw_send(pb_rtp_socket *s, const uint8_t *p, size_t len)
{
	if (s->remote_len == 0)
		return pb_error_set(PB_ESTATE, "no RTP destination yet");
	if (sendto(s->fd, p, len, 0, (struct sockaddr *)&s->remote, s->remote_len) < 0 && errno != EAGAIN &&
	    errno != ECONNREFUSED)
		return pb_error_set(PB_EIO, "RTP send: %s", strerror(errno));
	return 0;
}

PB_API int pb_rtp_socket_send(pb_rtp_socket *s, const uint8_t *packet, size_t len)
{
	if (s->remote_len == 0)
		return pb_error_set(PB_ESTATE, "no RTP destination yet");
	if (len >= 12) {
		note_tx(s, packet);
		s->map_valid = false; /* a relayed stream must continue from here */
	}
	return raw_send(s, packet, len);
}

PB_API long pb_rtp_socket_recv(pb_rtp_socket *s, uint8_t *buf, size_t cap)
{
	ssize_t n = recv(s->fd, buf, cap, 0);
	if (n >= 0)
		return (long)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED || errno == EINTR)
		return PB_EAGAIN;
	return pb_error_set(PB_EIO, "RTP receive: %s", strerror(errno));
}

PB_API int pb_rtp_socket_relay(pb_rtp_socket *to, uint8_t *p, size_t len, const pb_rtp_relay_map *map)
{
	if (len < 12 || (p[0] >> 6) != 2)
		return pb_error_set(PB_EMALFORMED, "relay: not an RTP packet");
	int pt = p[1] & 0x7f;
	int out = pt;
	if (pt == map->from_codec_pt && map->to_codec_pt >= 0)
		out = map->to_codec_pt;
	else if (pt == map->from_event_pt && map->to_event_pt >= 0)
		out = map->to_event_pt;
	p[1] = (uint8_t)((p[1] & 0x80) | out);
	uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
	uint32_t ts = rd32(p + 4), ssrc = rd32(p + 8);
	if (!to->map_valid || to->map_src_ssrc != ssrc) {
		if (to->tx_known) {
			to->seq_delta = (uint16_t)(to->tx_seq + 1u - seq);
			to->ts_delta = to->tx_ts + 160u - ts;
		} else {
			to->seq_delta = 0;
			to->ts_delta = 0;
			to->tx_ssrc = ssrc;
		}
		to->map_src_ssrc = ssrc;
		to->map_valid = true;
	}
	seq = (uint16_t)(seq + to->seq_delta);
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	wr32(p + 4, ts + to->ts_delta);
	wr32(p + 8, to->tx_ssrc);
	note_tx(to, p);
	return to->remote_len ? raw_send(to, p, len) : 0;
}
