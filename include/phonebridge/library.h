/*
 * libphonebridge — the library as a whole: run-time version.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PHONEBRIDGE_LIBRARY_H
#define PHONEBRIDGE_LIBRARY_H

#include <phonebridge/common.h>

PB_BEGIN_DECLS

/**
 * The version of the library loaded at run time (PB_VERSION_* give the
 * version of the headers compiled against).
 *
 * @param major, minor, patch optional; receive the parts
 * @return PB_VERSION_NUMBER of the loaded library
 */
PB_API int pb_version(int *major, int *minor, int *patch);

/** The loaded library's version as text, e.g. "0.1.0". @return static storage */
PB_API const char *pb_version_string(void);

PB_END_DECLS

#endif
