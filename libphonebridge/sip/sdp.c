/*
 * libphonebridge — reading the audio line of an SDP body (with sofia-sip's
 * parser), writing our offers/answers, and the status of a sipfrag.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include <sofia-sip/sdp.h>

#include "core/internal.h"
#include "sip/sip-internal.h"

#include <phonebridge/error.h>

static bool is_g711(const sdp_rtpmap_t *rm)
{
	if (rm->rm_pt == 0 || rm->rm_pt == 8)
		return !rm->rm_encoding || pb_ascii_casecmp(rm->rm_encoding, "PCMU") == 0 ||
		       pb_ascii_casecmp(rm->rm_encoding, "PCMA") == 0;
	return false;
}

static const sdp_media_t *first_audio(const sdp_session_t *s)
{
	for (const sdp_media_t *m = s->sdp_media; m; m = m->m_next)
		if (m->m_type == sdp_media_audio && m->m_port != 0 && m->m_proto == sdp_proto_rtp)
			return m;
	return NULL;
}

static int fill_media(const sdp_session_t *s, const sdp_media_t *m, pb_sip_media *out)
{
	const sdp_connection_t *c = m->m_connections ? m->m_connections : s->sdp_connection;
	if (!c || !c->c_address || (c->c_addrtype != sdp_addr_ip4 && c->c_addrtype != sdp_addr_ip6))
		return pb_error_set(PB_EMALFORMED, "SDP: no IP connection address for audio");
	if (pb_strlcpy(out->remote_address, c->c_address, sizeof(out->remote_address)) >=
	    sizeof(out->remote_address))
		return pb_error_set(PB_EMALFORMED, "SDP: connection address too long");
	if (m->m_port > 65535)
		return pb_error_set(PB_EMALFORMED, "SDP: port %lu out of range", m->m_port);
	out->remote_port = (uint16_t)m->m_port;
	for (const sdp_rtpmap_t *rm = m->m_rtpmaps; rm; rm = rm->rm_next) {
		if (out->codec_pt < 0 && is_g711(rm))
			out->codec_pt = (int)rm->rm_pt;
		if (out->dtmf_pt < 0 && rm->rm_encoding &&
		    pb_ascii_casecmp(rm->rm_encoding, "telephone-event") == 0 && rm->rm_rate == 8000)
			out->dtmf_pt = (int)rm->rm_pt;
	}
	if (out->codec_pt < 0)
		return pb_error_set(PB_EUNSUPPORTED, "SDP: audio offers neither PCMU nor PCMA");
	return 0;
}

/*
 * The SDP guard. sofia-sip's sdp_parse() allocates without bound on some
 * malformed lines (e.g. "v=0\r\nm=audio 9 R\xD0\xC5 0\r\n": a non-ASCII
 * transport), so every SDP is checked against the shape of RFC 8866's
 * grammar before sofia sees it: at most PB_SIP__SDP_MAX bytes; "v=" first;
 * lines "<a-z>=<value>" ended by CRLF (or LF); the values of the lines whose
 * grammar is tokens, numbers and addresses (v, o, c, b, t, r, z, k, m) in
 * printable ASCII; the text lines (s, i, u, e, p, a: byte-string) without
 * control characters. A body that does not start with "v=" after optional
 * white space is not SDP and left alone (sofia would skip that white space).
 */
bool pb_sip__sdp_looks_like(const uint8_t *buf, size_t len)
{
	size_t i = 0;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return len - i >= 2 && buf[i] == 'v' && buf[i + 1] == '=';
}

int pb_sip__sdp_check(const uint8_t *buf, size_t len, pb_parse_error *perr)
{
	if (len > PB_SIP__SDP_MAX)
		return pb_error__parse_code(perr, PB_ETOOBIG, PB_SIP__SDP_MAX, "SDP: %zu bytes is more than %d",
					    len, PB_SIP__SDP_MAX);
	if (len < 2 || buf[0] != 'v' || buf[1] != '=')
		return pb_error__parse(perr, 0, "SDP: must start with \"v=\"");
	for (size_t at = 0; at < len;) {
		const uint8_t *nl = memchr(buf + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - buf) : len;
		size_t vend = end > at && buf[end - 1] == '\r' ? end - 1 : end;
		uint8_t type = buf[at];
		if (vend - at < 2 || type < 'a' || type > 'z' || buf[at + 1] != '=')
			return pb_error__parse(perr, at, "SDP: line %.*s is not <letter>=<value>",
					       (int)(vend - at > 12 ? 12 : vend - at), (const char *)buf + at);
		bool text = strchr("siuepa", type) != NULL;
		for (size_t i = at + 2; i < vend; i++) {
			uint8_t c = buf[i];
			if (c < 0x20 ? c != '\t' || !text : c == 0x7f || (c > 0x7e && !text))
				return pb_error__parse(perr, i, "SDP: byte 0x%02x not allowed in a \"%c=\" line "
						       "(%s)", c, type, text ? "no control characters"
								      : "printable ASCII only");
		}
		at = nl ? end + 1 : len;
	}
	return 0;
}

PB_API int pb_sip_sdp_media(const uint8_t *buf, size_t len, pb_sip_media *out,
			    pb_parse_error *perr)
{
	if (!out || (!buf && len))
		return pb_error_set(PB_EINVAL, "pb_sip_sdp_media: NULL argument");
	memset(out, 0, sizeof(*out));
	out->codec_pt = -1;
	out->dtmf_pt = -1;
	int rc = pb_sip__sdp_check(buf, len, perr);
	if (rc < 0)
		return rc;
	sdp_parser_t *p = sdp_parse(NULL, (const char *)buf, (issize_t)len, 0);
	if (!p)
		return pb_error__oom();
	const sdp_session_t *s = sdp_session(p);
	if (!s) {
		const char *why = sdp_parsing_error(p);
		rc = pb_error__parse(perr, 0, "SDP: %s", why ? why : "not SDP");
	} else {
		const sdp_media_t *m = first_audio(s);
		rc = m ? fill_media(s, m, out)
		       : pb_error_set(PB_EUNSUPPORTED, "SDP: no active RTP audio line");
		if (rc == PB_EMALFORMED && perr) {
			perr->offset = 0;
		}
	}
	sdp_parser_free(p);
	if (rc < 0) {
		out->remote_port = 0;
		out->codec_pt = -1;
		out->dtmf_pt = -1;
	}
	return rc;
}

bool pb_sip__sdp_held(const char *sdp)
{
	if (pb_sip__sdp_check((const uint8_t *)sdp, strlen(sdp), NULL) < 0)
		return false;
	sdp_parser_t *p = sdp_parse(NULL, sdp, (issize_t)strlen(sdp), 0);
	if (!p)
		return false;
	const sdp_session_t *s = sdp_session(p);
	bool held = s != NULL; /* unreadable: not a hold, leave the media alone */
	const sdp_media_t *m = s ? first_audio(s) : NULL;
	if (m) {
		const sdp_connection_t *c = m->m_connections ? m->m_connections : s->sdp_connection;
		bool null_addr = c && c->c_address &&
				 (strcmp(c->c_address, "0.0.0.0") == 0 || strcmp(c->c_address, "::") == 0);
		/* m_mode is the peer's view: we may send when it receives */
		held = null_addr || !(m->m_mode & sdp_recvonly);
	}
	sdp_parser_free(p);
	return held;
}

int pb_sip__sipfrag_status(const uint8_t *buf, size_t len, pb_parse_error *perr)
{
	static const char ver[] = "SIP/2.0 ";
	pb_cur c = pb_cur_make(buf, len);
	const uint8_t *p;
	if (!pb_cur_bytes(&c, sizeof(ver) - 1, &p) || memcmp(p, ver, sizeof(ver) - 1) != 0)
		return pb_error__parse(perr, 0, "sipfrag: no 'SIP/2.0 ' status line");
	int status = 0;
	for (int i = 0; i < 3; i++) {
		uint8_t d;
		if (!pb_cur_u8(&c, &d) || d < '0' || d > '9')
			return pb_error__parse(perr, pb_cur_offset(&c) - (pb_cur_eof(&c) ? 0 : 1),
					       "sipfrag: status is not three digits");
		status = status * 10 + (d - '0');
	}
	uint8_t next;
	if (pb_cur_peek(&c, &next) && next != ' ' && next != '\r' && next != '\n')
		return pb_error__parse(perr, pb_cur_offset(&c), "sipfrag: status is not three digits");
	if (status < 100)
		return pb_error__parse(perr, sizeof(ver) - 1, "sipfrag: status %d below 100", status);
	return status;
}

int pb_sip__sdp_make(char *out, size_t cap, const char *addr, unsigned port, int codec_pt,
		     int dtmf_pt, unsigned session_id)
{
	const char *ip = strchr(addr, ':') ? "IP6" : "IP4";
	char fmts[32], maps[160];
	if (codec_pt < 0)
		snprintf(fmts, sizeof(fmts), "0 8");
	else
		snprintf(fmts, sizeof(fmts), "%d", codec_pt);
	if (dtmf_pt < 0)
		dtmf_pt = 101;
	snprintf(maps, sizeof(maps),
		 "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
		 "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-15\r\n", dtmf_pt, dtmf_pt);
	int n = snprintf(out, cap,
			 "v=0\r\no=phonebridge %u 1 IN %s %s\r\ns=phonebridge\r\nc=IN %s %s\r\n"
			 "t=0 0\r\nm=audio %u RTP/AVP %s %d\r\n%sa=ptime:20\r\na=sendrecv\r\n",
			 session_id, ip, addr, ip, addr, port, fmts, dtmf_pt, maps);
	if (n < 0 || (size_t)n >= cap)
		return pb_error_set(PB_ETOOBIG, "SDP does not fit");
	return 0;
}
