/*
 * pb-screend — fuzz target for its configuration parser (inih + our checks).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	static screend_config c;
	char err[300];
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (screend_config_parse(&c, text, err, sizeof(err)) == 0) {
		if (c.target[0] == '\0' || c.npolicy > SCREEND_MAX_POLICY || !(c.udp || c.tcp))
			abort();
	} else if (err[0] == '\0' || strlen(err) >= sizeof(err)) {
		abort();
	}
	free(text);
	return 0;
}
