/*
 * libphonebridge tests — what pb-bridged's two unit tests (bridge-unit.c,
 * bridge-appservice-unit.c) both need. Include after harness.h and bridge.h.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_TESTS_BRIDGE_UNIT_H
#define PB_TESTS_BRIDGE_UNIT_H

#include <string.h>

/* @p ini is refused by the configuration parser, with an error that
 * mentions @p needle. */
static inline void expect_bad(const char *ini, const char *needle)
{
	pbb_config c;
	char err[256] = "";
	assert_int_equal(pbb_config_parse(&c, ini, err, sizeof(err)), -1);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
	pbb_config_free(&c);
}

#endif
