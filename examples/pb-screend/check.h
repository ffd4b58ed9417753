/*
 * pb-screend — "check" (check.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_SCREEND_CHECK_H
#define PB_SCREEND_CHECK_H

#include "config.h"

/* The prompts load, secret files are private, the store's directory is
 * writable: one ✓/✗ line each on stdout. @return the number of failures */
int screend_check(const screend_config *c);

#endif
