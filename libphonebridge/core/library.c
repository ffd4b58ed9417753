/*
 * libphonebridge — run-time version.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "core/internal.h"

PB_API int pb_version(int *major, int *minor, int *patch)
{
	if (major)
		*major = PB_VERSION_MAJOR;
	if (minor)
		*minor = PB_VERSION_MINOR;
	if (patch)
		*patch = PB_VERSION_PATCH;
	return PB_VERSION_NUMBER;
}

PB_API const char *pb_version_string(void)
{
	return PB_VERSION_STRING;
}
