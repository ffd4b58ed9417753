/*
 * pb-bridged — the contacts file parser of `!contacts import`: vCard
 * 2.1/3.0/4.0 and CSV exports (Google, Outlook, anything with a header row
 * naming a name and a phone column). The file comes from outside: every
 * problem is a reason with a line number, never a crash; the parser has a
 * fuzz target (fuzz-bridge-contacts.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PBB_CONTACTS_H
#define PBB_CONTACTS_H

#include <stddef.h>
#include <stdint.h>

#include <phonebridge/phonebridge.h>

/** Largest file the parser takes (bytes). */
#define PBB_CONTACTS_MAX_BYTES (2u * 1024 * 1024)
/** Largest contact picture (a vCard PHOTO, decoded bytes) it keeps. */
#define PBB_CONTACTS_PHOTO_MAX_BYTES (256u * 1024)
/** Largest width or height of a contact picture (pixels). */
#define PBB_CONTACTS_PHOTO_MAX_SIDE 4096
/** Most entries (numbers) it returns; the rest are skipped with a reason. */
#define PBB_CONTACTS_MAX_ENTRIES 20000

typedef enum pbb_contacts_format {
	PBB_CONTACTS_VCARD = 1,
	PBB_CONTACTS_CSV = 2,
} pbb_contacts_format;

/** One number of one contact (a contact with three numbers gives three). */
typedef struct pbb_contact_entry {
	char *name;  /**< UTF-8, owned */
	char *phone; /**< as written in the file (not normalised), owned */
	int line;    /**< where the contact starts (1-based) */
	int photo;   /**< the card's picture: an index into pbb_contacts.photos, or -1 */
} pbb_contact_entry;

/** A vCard's PHOTO, checked: a PNG, GIF or JPEG of a sane size. */
typedef struct pbb_contact_photo {
	uint8_t *data;        /**< the picture's bytes, owned */
	size_t len;           /**< 1 .. PBB_CONTACTS_PHOTO_MAX_BYTES */
	const char *mimetype; /**< image/png, image/gif or image/jpeg (static) */
	unsigned width, height;
} pbb_contact_photo;

/** A line (a card, a row) that gave nothing, and why. */
typedef struct pbb_contact_skip {
	int line;
	char *why; /**< owned */
} pbb_contact_skip;

/** What a file held. Every array and string is owned (pbb_contacts_free()). */
typedef struct pbb_contacts {
	int format; /**< pbb_contacts_format */
	pbb_contact_entry *items;
	size_t count;
	pbb_contact_skip *skipped;
	size_t n_skipped;
	pbb_contact_photo *photos; /**< the cards' pictures (entries point here) */
	size_t n_photos;
} pbb_contacts;

/**
 * Parse a vCard (a file whose first non-blank line is BEGIN:VCARD) or a
 * CSV file (a header row, then one contact per row).
 *
 * vCard: folded lines (CRLF + space or tab), FN, else N (given, middle,
 * family), every TEL (4.0 "tel:" URIs too); 2.1 QUOTED-PRINTABLE values with
 * soft line breaks and CHARSET parameters; 3.0/4.0 backslash escapes.
 * CSV: RFC 4180 quoting (quotes doubled, line breaks inside quotes), ","
 * ";" or tab as separator (the header row decides), a UTF-8 or UTF-16 byte
 * order mark; columns Name / Full Name / Display Name or First / Middle /
 * Last Name (Given / Family Name), and every column whose name says phone,
 * mobile, cell, telephone or number (not fax, pager, type or label); Google's
 * "a ::: b" lists of numbers. Text that is not UTF-8 is read as windows-1252.
 *
 * @param data  the file (borrowed)
 * @param out   filled in (zeroed first; pbb_contacts_free() also on failure)
 * @param perr  optional; the offset and reason of a fatal error
 * @return 0 (entries and skipped lines filled in); PB_EMALFORMED (neither
 *         format, or a CSV header without a name or phone column: the
 *         reason says which line); PB_ETOOBIG (over PBB_CONTACTS_MAX_BYTES);
 *         PB_ENOMEM
 */
int pbb_contacts_parse(const uint8_t *data, size_t len, pbb_contacts *out, pb_parse_error *perr);

/** Free what pbb_contacts_parse() filled in and zero it. */
void pbb_contacts_free(pbb_contacts *c);

#endif
