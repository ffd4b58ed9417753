/*
 * pb-screend — "check" (check.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_SCREEND_CHECK_H
#define PB_SCREEND_CHECK_H

#include <stddef.h>

#include "config.h"

/* The prompts load, secret files are private (pb_secret_check(), the
 * reader run uses), the TLS folder has agent.pem, the store's directory is
 * writable: one ✓/✗ line each on stdout. @return the number of failures */
int screend_check(const screend_config *c);

/* The store "check" builds its screener with, into @path: the configured
 * @store when it exists (opened as run opens it), else one in a new folder
 * next to it, so that a check run by hand (as root) never creates the
 * daemon's store. 0, or a code with pb_error_last() set. */
int screend_check_store_begin(const char *store, char *path, size_t size);
/* Remove what screend_check_store_begin() made, if anything. */
void screend_check_store_end(const char *store, const char *path);

#endif
