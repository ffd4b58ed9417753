/*
 * libphonebridge — numbering table internals shared with the screen module. Not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_PHONE_PRIVATE_H
#define PB_PHONE_PRIVATE_H

#include "core/internal.h"

/*
 * The first region of the numbering table with country calling code @cc
 * ("US" for 1, "GB" for 44), or NULL when no table region has it. Static.
 * Regions sharing a code (US, CA) share their dialling rules too.
 */
PB_PRIVATE_API const char *pb_phone__region_of_code(unsigned cc);

#endif
