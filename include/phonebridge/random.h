/*
 * libphonebridge — random bytes and a non-cryptographic hash, the one place
 * every module takes them from.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PHONEBRIDGE_RANDOM_H
#define PHONEBRIDGE_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#include <phonebridge/common.h>

PB_BEGIN_DECLS

/**
 * Fill @p buf with @p len bytes from the kernel's CSPRNG (getrandom(2)):
 * good for keys, nonces, challenge digits and RTP SSRCs. It blocks only
 * while the kernel's pool is not yet initialised, early in boot.
 *
 * @param buf borrowed; @p len bytes are written
 * @return 0; PB_EIO when the kernel gives none (the message says why);
 *         PB_EINVAL for a NULL @p buf with a non-zero @p len
 */
PB_API int pb_random_bytes(void *buf, size_t len);

/** The FNV-1a 64-bit offset basis: the @p h to start pb_fnv1a64() with. */
#define PB_FNV1A64_INIT 14695981039346656037ull

/**
 * FNV-1a, 64 bits (Fowler/Noll/Vo; draft-eastlake-fnv): a fast hash that
 * tells values apart (dedup keys, transaction ids), NOT a cryptographic one.
 * Chain it over several fields by passing the previous result as @p h.
 *
 * @param h PB_FNV1A64_INIT, or the hash so far
 * @param data borrowed, @p len bytes (may be NULL when @p len is 0)
 * @return the new hash
 */
PB_API uint64_t pb_fnv1a64(uint64_t h, const void *data, size_t len);

PB_END_DECLS

#endif
