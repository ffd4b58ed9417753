/*
 * libphonebridge — G.711 mu-law and A-law, through spandsp's tables.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <inttypes.h>
#include <spandsp.h>

#include "media/private.h"

int pb_g711_encode(pb_media_codec codec, uint8_t *out, const int16_t *in, size_t n)
{
	switch (codec) {
	case PB_CODEC_PCMU:
		for (size_t i = 0; i < n; i++)
			out[i] = linear_to_ulaw(in[i]);
		return 0;
	case PB_CODEC_PCMA:
		for (size_t i = 0; i < n; i++)
			out[i] = linear_to_alaw(in[i]);
		return 0;
	}
	return pb_error_set(PB_EINVAL, "G.711: payload type %d is not PCMU or PCMA", (int)codec);
}

int pb_g711_decode(pb_media_codec codec, int16_t *out, const uint8_t *in, size_t n)
{
	switch (codec) {
	case PB_CODEC_PCMU:
		for (size_t i = 0; i < n; i++)
			out[i] = ulaw_to_linear(in[i]);
		return 0;
	case PB_CODEC_PCMA:
		for (size_t i = 0; i < n; i++)
			out[i] = alaw_to_linear(in[i]);
		return 0;
	}
	return pb_error_set(PB_EINVAL, "G.711: payload type %d is not PCMU or PCMA", (int)codec);
}
