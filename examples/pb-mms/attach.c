/*
 * pb-mms — the --attach files of `encode` and `send` (attach.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "attach.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int pbm_attach_type(pbm_attachments *a, const char *type)
{
	if (a->next_type) {
		fprintf(stderr, "pb-mms: --part-type %s: the one before (%s) has no --attach after it\n", type,
			a->next_type);
		return -1;
	}
	if (!type[0] || !strchr(type, '/') || strpbrk(type, " \t\r\n;")) {
		fprintf(stderr, "pb-mms: --part-type %s: a media type such as image/jpeg is needed\n", type);
		return -1;
	}
	a->next_type = type;
	return 0;
}

int pbm_attach_name(pbm_attachments *a, const char *name)
{
	if (a->next_name) {
		fprintf(stderr, "pb-mms: --part-name %s: the one before (%s) has no --attach after it\n", name,
			a->next_name);
		return -1;
	}
	if (!name[0] || strchr(name, '/') || strpbrk(name, "\r\n")) {
		fprintf(stderr, "pb-mms: --part-name %s: a file name without '/' is needed\n", name);
		return -1;
	}
	a->next_name = name;
	return 0;
}

int pbm_attach_add(pbm_attachments *a, const char *path)
{
	if (a->n == PBM_MAX_ATTACH) {
		fprintf(stderr, "pb-mms: more than %d attachments\n", PBM_MAX_ATTACH);
		return -1;
	}
	for (size_t i = 0; i < a->n && !strcmp(path, "-"); i++)
		if (!strcmp(a->path[i], "-")) {
			fprintf(stderr, "pb-mms: --attach -: standard input can be attached once\n");
			return -1;
		}
	a->path[a->n] = path;
	a->type[a->n] = a->next_type;
	a->name[a->n] = a->next_name;
	a->next_type = a->next_name = NULL;
	a->n++;
	return 0;
}

int pbm_attach_done(const pbm_attachments *a)
{
	if (a->next_type || a->next_name) {
		fprintf(stderr, "pb-mms: --part-%s %s: no --attach after it\n", a->next_type ? "type" : "name",
			a->next_type ? a->next_type : a->next_name);
		return -1;
	}
	return 0;
}

/* Read @path ("-": standard input) into @b. 0 or -1 with a message. */
static int read_all(const char *path, pb_buf *b)
{
	bool in = !strcmp(path, "-");
	FILE *f = in ? stdin : fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "pb-mms: %s: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t chunk[65536];
	size_t n;
	int rc = 0;
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = pb_buf_put(b, chunk, n);
	bool bad = rc < 0 || ferror(f);
	if (bad)
		fprintf(stderr, "pb-mms: %s: %s\n", in ? "standard input" : path, rc < 0 ? "out of memory" : "read error");
	if (!in)
		fclose(f);
	return bad ? -1 : 0;
}

int pbm_attach_load(pbm_attachments *a, pb_mms_attachment *att)
{
	for (size_t i = 0; i < a->n; i++) {
		if (read_all(a->path[i], &a->data[i]) < 0)
			return -1;
		const char *name = a->name[i];
		if (!name) {
			const char *slash = strrchr(a->path[i], '/');
			name = !strcmp(a->path[i], "-") ? "stdin" : slash ? slash + 1 : a->path[i];
		}
		const char *type = a->type[i] ? a->type[i] : pb_mms_guess_content_type(name);
		static const uint8_t empty[1];
		att[i] = (pb_mms_attachment){ type, name, a->data[i].data ? a->data[i].data : empty, a->data[i].len,
					      NULL };
		att[i].charset = strncmp(type, "text/", 5) == 0 ? "utf-8" : NULL;
	}
	return 0;
}

void pbm_attach_free(pbm_attachments *a)
{
	for (size_t i = 0; i < a->n; i++)
		pb_buf_dispose(&a->data[i]);
}
