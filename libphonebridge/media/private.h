/*
 * libphonebridge — media module internals. Not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_MEDIA_PRIVATE_H
#define PB_MEDIA_PRIVATE_H

#include <phonebridge/media.h>

#include "core/internal.h"

#define PB_PLAYOUT_MAX 64

#endif
