/*
 * pb-bridged — `!contacts import`: a vCard or CSV file an owner uploads to
 * the control room becomes store contacts (numbers normalised with the
 * configured region); the rooms of known numbers are renamed. See
 * docs/bridge.md, "Importing contacts".
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bridge.h"
#include "contacts.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REASONS 30 /* skipped lines listed in the answer */

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static bool has_ext(const char *name, const char *ext)
{
	size_t n = name ? strlen(name) : 0, k = strlen(ext);
	if (n < k)
		return false;
	for (size_t i = 0; i < k; i++)
		if ((name[n - k + i] | 0x20) != ext[i])
			return false;
	return true;
}

int pbb_import_inspect(const pb_matrix_event *ev, pbb_import_file *f)
{
	memset(f, 0, sizeof(*f));
	if (!ev->msgtype || strcmp(ev->msgtype, "m.file") != 0 || !ev->content)
		return 0;
	const json_t *c = ev->content;
	f->url = jstr(c, "url");
	if (!f->url)
		return 0; /* an encrypted file (content.file) is not for us: the bot reads no E2EE rooms */
	const char *body = jstr(c, "body"), *filename = jstr(c, "filename");
	/* Matrix 1.10 media captions: "filename" holds the name, "body" the caption */
	f->name = filename ? filename : body;
	if (filename && body && strcmp(filename, body) != 0 && !strncmp(body, "!contacts import", 16))
		f->caption = true;
	f->mimetype = jstr(json_object_get(c, "info"), "mimetype");
	f->reply_to = jstr(json_object_get(json_object_get(c, "m.relates_to"), "m.in_reply_to"), "event_id");
	f->looks_like_contacts = has_ext(f->name, ".vcf") || has_ext(f->name, ".vcard") ||
				 has_ext(f->name, ".csv") ||
				 (f->mimetype && (strstr(f->mimetype, "vcard") || strstr(f->mimetype, "csv")));
	return 1;
}

/* Save one contact (in the caller's transaction); @return 1 new, 2 has a
 * room to rename (*room set, pb_free()), 3 updated, 0 unchanged, or a
 * negative code. */
static int save(pb_store *st, const char *num, const char *name, char **room)
{
	pb_store_contact *old = NULL;
	int rc = pb_store_contact_get(st, num, &old);
	if (rc < 0 && rc != PB_ENOTFOUND)
		return rc;
	if (old && old->display_name && !strcmp(old->display_name, name)) {
		pb_store_contact_free(old);
		return 0;
	}
	rc = pb_store_contact_set(st, num, name, old ? old->room : NULL);
	int what = !old ? 1 : old->room ? 2 : 3;
	if (rc == 0 && what == 2 && !(*room = pb_strdup(old->room)))
		rc = PB_ENOMEM;
	pb_store_contact_free(old);
	return rc < 0 ? rc : what;
}

int pbb_import_run(const pbb_config *cfg, pb_store *st, pb_matrix *mx, const pbb_import_file *f, pb_buf *out)
{
	const char *region = cfg->region;
	pb_buf data = PB_BUF_INIT;
	const char *fname = f->name ? f->name : "the file";
	int rc = pb_matrix_download(mx, f->url, &data, NULL, PBB_CONTACTS_MAX_BYTES);
	if (rc == PB_ETOOBIG) {
		pb_buf_dispose(&data);
		return pb_buf_printf(out, "Not imported: %s is larger than %u bytes.", fname, PBB_CONTACTS_MAX_BYTES);
	}
	if (rc == PB_EIO || rc == PB_ETIMEOUT || rc == PB_EAGAIN || rc == PB_EBUSY || rc == PB_ECANCELLED ||
	    rc == PB_ENOMEM) {
		pb_buf_dispose(&data);
		return rc; /* transient: the sync repeats the event */
	}
	if (rc < 0) { /* the homeserver will not give it (gone, refused): say so, once */
		pb_buf_dispose(&data);
		return pb_buf_printf(out, "Not imported: cannot download %s: %s.", fname, pb_error_last()->message);
	}
	pbb_contacts c;
	pb_parse_error perr;
	rc = pbb_contacts_parse(data.data, data.len, &c, &perr);
	pb_buf_dispose(&data);
	if (rc == PB_EMALFORMED) {
		pbb_contacts_free(&c);
		return pb_buf_printf(out, "Not imported: %s: %s.", fname, perr.text);
	}
	if (rc < 0) {
		pbb_contacts_free(&c);
		return rc;
	}
	size_t counts[4] = { 0 }, bad = 0;
	pb_buf why = PB_BUF_INIT;
	size_t reasons = 0, lines_skipped = c.n_skipped;
	for (size_t i = 0; i < c.n_skipped && rc >= 0; i++)
		if (reasons++ < MAX_REASONS)
			rc = pb_buf_printf(&why, "\nline %d: %s", c.skipped[i].line, c.skipped[i].why);
	/* one transaction for the store (one commit, not one per contact);
	 * the rooms are renamed after it, outside the write lock */
	char **rename = pb_calloc(c.count ? c.count : 1, sizeof(*rename));
	const char **rename_to = pb_calloc(c.count ? c.count : 1, sizeof(*rename_to));
	char(*named)[PB_PHONE_MAX] = pb_calloc(c.count ? c.count : 1, sizeof(*named));
	int *named_photo = pb_calloc(c.count ? c.count : 1, sizeof(*named_photo));
	size_t nrename = 0, nnamed = 0;
	if (rc >= 0 && (!rename || !rename_to || !named || !named_photo))
		rc = PB_ENOMEM;
	bool tx = rc >= 0 && (rc = pb_store_begin(st)) == 0;
	for (size_t i = 0; i < c.count && rc >= 0; i++) {
		const pbb_contact_entry *e = &c.items[i];
		char num[PB_PHONE_MAX];
		pb_phone_kind kind;
		if (pb_phone_normalize(num, sizeof(num), e->phone, region, &kind) < 0 || kind != PB_PHONE_E164) {
			bad++;
			if (reasons++ < MAX_REASONS)
				rc = pb_buf_printf(&why, "\nline %d: %s: \"%.40s\" is not a phone number (region %s)",
						   e->line, e->name, e->phone, region);
			continue;
		}
		char *room = NULL;
		int w = save(st, num, e->name, &room);
		if (w < 0) {
			rc = w;
		} else {
			counts[w]++;
			if (w || e->photo >= 0) {
				named_photo[nnamed] = e->photo;
				snprintf(named[nnamed++], sizeof(named[0]), "%s", num);
			}
			if (room) {
				rename[nrename] = room;
				rename_to[nrename++] = e->name;
			}
		}
	}
	if (tx && rc >= 0)
		rc = pb_store_commit(st);
	else if (tx)
		pb_store_rollback(st);
	for (size_t i = 0; i < nrename; i++) {
		/* the contacts are saved; a room that keeps its old name gets
		 * the new one at the next import */
		if (rc >= 0 && pb_matrix_set_name(mx, rename[i], rename_to[i]) < 0) {
			pbb_log(PB_LOG_WARNING, "contacts: rename %s: %s", rename[i], pb_error_last()->message);
			counts[2]--;
			counts[3]++;
		}
		pb_free(rename[i]);
	}
	/* appservice mode: the puppets of renamed contacts take the new name
	 * (and the card's picture) now; one that fails catches up when the
	 * puppet is next used */
	for (size_t i = 0; rc >= 0 && i < nnamed; i++) {
		const pbb_contact_photo *ph = named_photo[i] >= 0 ? &c.photos[named_photo[i]] : NULL;
		if ((ph && pbb_puppet_picture(cfg, st, mx, named[i], ph->data, ph->len, ph->mimetype) < 0) ||
		    pbb_puppet_rename(cfg, st, mx, named[i]) < 0)
			pbb_log(PB_LOG_WARNING, "contacts: the puppet of %s: %s", named[i], pb_error_last()->message);
	}
	pb_free(named);
	pb_free(named_photo);
	pb_free(rename);
	pb_free(rename_to);
	if (rc >= 0 && reasons > MAX_REASONS)
		rc = pb_buf_printf(&why, "\n... and %zu more", reasons - MAX_REASONS);
	if (rc >= 0) {
		size_t done = counts[0] + counts[1] + counts[2] + counts[3];
		rc = pb_buf_printf(out,
				   "Imported %zu number%s from %s (%s): %zu new, %zu renamed (their rooms too), "
				   "%zu updated, %zu unchanged.",
				   done, done == 1 ? "" : "s", fname, c.format == PBB_CONTACTS_VCARD ? "vCard" : "CSV",
				   counts[1], counts[2], counts[3], counts[0]);
		if (rc >= 0 && (lines_skipped || bad))
			rc = pb_buf_printf(out, " Skipped %zu:%s", lines_skipped + bad, pb_buf_cstr(&why));
		pbb_log(PB_LOG_NOTICE, "contacts: %s: %zu imported, %zu skipped", fname, done, lines_skipped + bad);
	}
	pb_buf_dispose(&why);
	pbb_contacts_free(&c);
	return rc < 0 ? rc : 0;
}
