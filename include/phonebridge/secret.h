/*
 * libphonebridge — secrets (passwords, tokens, user files) read from files.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every module and program reads its secrets through these functions, so that
 * the same rules hold everywhere:
 *
 * - the file is a regular file that neither group nor others may read or
 *   write (mode 0600, 0400 or stricter): anything else is refused with
 *   PB_EAUTH and a message naming the mode and the chmod that fixes it;
 * - a secret is one non-empty line of at most PB_SECRET_MAX bytes; the line
 *   end (LF or CRLF) is cut;
 * - a name written "credential:NAME" is a systemd credential: the file NAME
 *   in $CREDENTIALS_DIRECTORY, which systemd fills from the unit's
 *   LoadCredential=NAME:/path (or SetCredential=, LoadCredentialEncrypted=).
 *   The service then needs no read access to the original file.
 */
#ifndef PHONEBRIDGE_SECRET_H
#define PHONEBRIDGE_SECRET_H

#include <stdbool.h>

#include <phonebridge/common.h>

PB_BEGIN_DECLS

/** The largest secret file pb_secret_read() accepts, in bytes. */
#define PB_SECRET_MAX (64 * 1024)

/** The prefix that names a systemd credential instead of a path. */
#define PB_SECRET_CREDENTIAL_PREFIX "credential:"

/**
 * Read a secret from a file (or a systemd credential, see above).
 *
 * @param name path of the file, or "credential:NAME"; borrowed
 * @param secret receives the secret as a NUL-terminated string: new, free it
 *        with pb_secret_free() (which wipes it); NULL on failure
 * @return 0; PB_ENOTFOUND (no such file or credential), PB_EAUTH (group or
 *         others may read it), PB_EIO (not a regular file, unreadable, or
 *         "credential:" without $CREDENTIALS_DIRECTORY), PB_ETOOBIG (over
 *         PB_SECRET_MAX), PB_EMALFORMED (empty, several lines or a NUL byte),
 *         PB_EINVAL (a NULL argument or a bad credential name), PB_ENOMEM.
 *         The message names the file, never the secret.
 */
PB_API int pb_secret_read(const char *name, char **secret);

/**
 * Check a secret file that another component reads itself (e.g. a digest
 * users file read by sofia-sip), with the same rules as pb_secret_read()
 * except the one-line format, and give back the path to open.
 *
 * @param name path of the file, or "credential:NAME"; borrowed
 * @param path receives the path of the checked file: new (pb_free()); may be
 *        NULL when only the check is wanted
 * @return 0 or the codes of pb_secret_read() (not PB_EMALFORMED)
 */
PB_API int pb_secret_check(const char *name, char **path);

/**
 * Compare a presented token with the expected secret in time that does not
 * depend on where they differ, for checking
 * API keys and bearer tokens that arrive over the network.
 *
 * @param presented what the peer sent; NULL never matches
 * @param expected the secret; NULL or "" never matches
 * @return true when both are equal
 */
PB_API bool pb_secret_equal(const char *presented, const char *expected);

/**
 * Wipe and free a secret returned by pb_secret_read().
 *
 * @param secret owned; may be NULL
 */
PB_API void pb_secret_free(char *secret);

PB_END_DECLS

#endif
