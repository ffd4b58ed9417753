/*
 * libphonebridge — fuzz target for what the SIP module reads from outside:
 * SDP bodies (through sofia-sip's parser and our extraction, and hold
 * detection), REFER NOTIFY
 * sipfrag status lines, and source allow lists from configuration.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The first byte picks the parser; the rest is the input.
 */
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

#include "core/internal.h"
#include "sip/sip-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	pb_parse_error perr;
	switch (data[0] % 3) {
	case 0: {
		pb_sip_media m;
		if (pb_sip_sdp_media(in, len, &m, &perr) == 0 &&
		    (m.remote_port == 0 || (m.codec_pt != 0 && m.codec_pt != 8)))
			abort();
		/* hold detection of a re-INVITE's SDP (a C string there) */
		char *sdp = pb_strndup((const char *)in, len);
		if (sdp) {
			(void)pb_sip__sdp_held(sdp);
			pb_free(sdp);
		}
		break;
	}
	case 1: {
		int st = pb_sip__sipfrag_status(in, len, &perr);
		if (st >= 0 && (st < 100 || st > 999))
			abort();
		if (st < 0 && perr.offset > len)
			abort();
		break;
	}
	default: {
		char *s = pb_strndup((const char *)in, len);
		if (!s)
			return 0;
		pb_sip_acl acl = { NULL, 0 };
		pb_sip__acl_parse(&acl, s);
		pb_sip__acl_clear(&acl);
		pb_free(s);
		break;
	}
	}
	return 0;
}
