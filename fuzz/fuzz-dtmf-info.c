/*
 * libphonebridge — fuzz target for SIP INFO DTMF bodies.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The first byte picks the content type; the rest is the body.
 */
#include <stdlib.h>

#include <phonebridge/phonebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {
		"application/dtmf-relay", "application/dtmf", "Application/DTMF-Relay;x=1", "text/plain",
	};
	if (size == 0)
		return 0;
	const char *ct = types[data[0] % 4];
	char digit = 0;
	unsigned dur = 0;
	pb_parse_error perr;
	int rc = pb_dtmf_info_parse(ct, data + 1, size - 1, &digit, &dur, &perr);
	if (rc == 0 && pb_dtmf_digit_event(digit) < 0)
		abort();
	if ((rc == PB_EMALFORMED) && perr.offset > size - 1)
		abort();
	if (rc != 0 && rc != PB_EMALFORMED && rc != PB_EUNSUPPORTED)
		abort();
	return 0;
}
