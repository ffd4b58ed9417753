/*
 * libphonebridge — fuzz target for pb_phone_normalize(): caller identities
 * and SMS originators come from the network.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The first byte picks the default region; the rest is the number. A
 * result must be E.164 ("+" and 7..15 digits) or the input unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const regions[] = {
	"US", "CA", "GB", "DE", "FR", "PL", "IT", "AU", "IN", "BR", "JP", "NZ", "ZZ", NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 4096)
		return 0;
	const char *region = regions[data[0] % (sizeof(regions) / sizeof(regions[0]))];
	char *in = malloc(size);
	if (in == NULL)
		return 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	char out[PB_PHONE_MAX];
	pb_phone_kind kind;
	if (pb_phone_normalize(out, sizeof(out), in, region, &kind) == 0) {
		if (kind == PB_PHONE_E164) {
			size_t n = strlen(out);
			if (out[0] != '+' || n < 8 || n > 16 || out[1] == '0' ||
			    strspn(out + 1, "0123456789") != n - 1)
				abort();
		} else if (strcmp(out, in) != 0) {
			abort();
		}
	}
	free(in);
	return 0;
}
