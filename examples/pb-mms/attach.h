/*
 * pb-mms — the --attach files of `encode` and `send` (attach.c): a file,
 * or "-" for standard input, each part's type and name from the file name
 * or from --part-type / --part-name given before it.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_MMS_ATTACH_H
#define PB_MMS_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <phonebridge/phonebridge.h>

#define PBM_MAX_ATTACH 64

typedef struct pbm_attachments {
	size_t n;
	const char *path[PBM_MAX_ATTACH];
	const char *type[PBM_MAX_ATTACH];  /* NULL: guessed from the name */
	const char *name[PBM_MAX_ATTACH];  /* NULL: the file's base name ("stdin" for "-") */
	const char *next_type, *next_name; /* for the next --attach */
	pb_buf data[PBM_MAX_ATTACH];       /* pbm_attach_load(); zeroed before */
} pbm_attachments;

/* --part-type TYPE / --part-name NAME: for the --attach that follows.
 * Return 0, or -1 with a message on stderr (given twice before one --attach). */
int pbm_attach_type(pbm_attachments *a, const char *type);
int pbm_attach_name(pbm_attachments *a, const char *name);
/* --attach PATH ("-": standard input, once). 0, or -1 with a message. */
int pbm_attach_add(pbm_attachments *a, const char *path);
/* After the options: -1 with a message when a --part-* has no --attach after it. */
int pbm_attach_done(const pbm_attachments *a);
/* Read every file into @att (a->n entries). 0, or -1 with a message (what
 * was read is freed by pbm_attach_free()). */
int pbm_attach_load(pbm_attachments *a, pb_mms_attachment *att);
void pbm_attach_free(pbm_attachments *a);

#endif
