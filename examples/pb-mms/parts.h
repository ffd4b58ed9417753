/*
 * pb-mms — writing decoded parts into a directory (parts.c), shared by
 * `decode --parts-dir` and `fetch --parts-dir`.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_MMS_PARTS_H
#define PB_MMS_PARTS_H

#include <sys/types.h>

#include <phonebridge/phonebridge.h>

/*
 * Write @p's body as @dirfd/<p->filename> (a safe basename), file mode
 * @mode: into a new
 * temporary file opened with O_CREAT|O_EXCL|O_NOFOLLOW, synced, then renamed
 * over the name, so that nothing is ever written through a link planted
 * there. An existing symbolic link, a file with other hard links, or
 * anything but a regular file under that name is left alone and refused.
 * Errors go to stderr naming @dir/<name>. Returns 0 or -1.
 */
int pbm_write_part(int dirfd, const char *dir, const pb_mms_part *p, mode_t mode);

#endif
