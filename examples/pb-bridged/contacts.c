/*
 * pb-bridged — the contacts file parser of `!contacts import` (vCard and
 * CSV; see contacts.h). Outside bytes: every loop is bounded by the input,
 * every problem becomes a reason with a line number.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "contacts.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_SKIPPED 1000  /* reasons kept (the rest are counted in the last one) */
#define MAX_TELS 64       /* numbers of one card or row */
#define MAX_FIELDS 512    /* columns of a CSV row */

typedef struct parser {
	pbb_contacts *out;
	size_t cap_items, cap_skipped;
	size_t more_skipped; /* beyond MAX_SKIPPED */
} parser;

static int add_skip(parser *p, int line, const char *fmt, ...) PB_PRINTF(3, 4);
static int add_skip(parser *p, int line, const char *fmt, ...)
{
	pbb_contacts *c = p->out;
	if (c->n_skipped >= MAX_SKIPPED) {
		p->more_skipped++;
		return 0;
	}
	if (c->n_skipped == p->cap_skipped) {
		size_t n = p->cap_skipped ? p->cap_skipped * 2 : 16;
		pbb_contact_skip *s = pb_realloc(c->skipped, n * sizeof(*s));
		if (!s)
			return PB_ENOMEM;
		c->skipped = s;
		p->cap_skipped = n;
	}
	char why[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	char *w = pb_strdup(why);
	if (!w)
		return PB_ENOMEM;
	c->skipped[c->n_skipped].line = line;
	c->skipped[c->n_skipped].why = w;
	c->n_skipped++;
	return 0;
}

/* A name or number for people: trimmed, control characters and runs of
 * blanks as one space. */
static char *clean(const char *s, size_t n)
{
	while (n && (unsigned char)*s <= ' ') {
		s++;
		n--;
	}
	while (n && (unsigned char)s[n - 1] <= ' ')
		n--;
	char *d = pb_malloc(n + 1);
	if (!d)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == 0)
			break;
		if (ch <= ' ' || ch == 0x7f) { /* runs of blanks and line breaks: one space */
			if (k && d[k - 1] != ' ')
				d[k++] = ' ';
			continue;
		}
		d[k++] = (char)ch;
	}
	d[k] = '\0';
	return d;
}

static int add_entry(parser *p, int line, const char *name, const char *phone, size_t plen)
{
	pbb_contacts *c = p->out;
	char *ph = clean(phone, plen);
	if (!ph)
		return PB_ENOMEM;
	if (!ph[0]) {
		pb_free(ph);
		return 0;
	}
	if (c->count >= PBB_CONTACTS_MAX_ENTRIES) {
		int rc = add_skip(p, line, "%s: more than %d numbers in the file", ph, PBB_CONTACTS_MAX_ENTRIES);
		pb_free(ph);
		return rc;
	}
	if (c->count == p->cap_items) {
		size_t n = p->cap_items ? p->cap_items * 2 : 32;
		pbb_contact_entry *e = pb_realloc(c->items, n * sizeof(*e));
		if (!e) {
			pb_free(ph);
			return PB_ENOMEM;
		}
		c->items = e;
		p->cap_items = n;
	}
	char *nm = pb_strdup(name);
	if (!nm) {
		pb_free(ph);
		return PB_ENOMEM;
	}
	c->items[c->count].name = nm;
	c->items[c->count].phone = ph;
	c->items[c->count].line = line;
	c->items[c->count].photo = -1;
	c->count++;
	return 0;
}

static bool ieq(const char *a, size_t n, const char *b)
{
	size_t k = strlen(b);
	if (n != k)
		return false;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
			return false;
	return true;
}

static bool iprefix(const char *a, size_t n, const char *b)
{
	size_t k = strlen(b);
	return n >= k && ieq(a, k, b);
}

/* Text in @in that is not UTF-8 is read as windows-1252 (old exports). */
static int to_utf8(pb_buf *out, const char *charset, const char *in, size_t n)
{
	if (charset)
		return pb_charset_to_utf8(out, charset, in, n);
	if (pb_utf8_validate(in, n, NULL) == 0)
		return pb_buf_put(out, in, n);
	return pb_charset_to_utf8(out, "windows-1252", in, n);
}

/* --- vCard ------------------------------------------------------------------- */

typedef struct card {
	bool open;
	int line;
	pb_buf fn, n;
	pb_buf tels[MAX_TELS];
	size_t ntels;
	bool too_many;
	pb_buf photo;             /* PHOTO, decoded and checked */
	const char *photo_type;   /* ... its type: NULL when none */
	unsigned photo_w, photo_h;
} card;

static void card_reset(card *k)
{
	pb_buf_clear(&k->fn);
	pb_buf_clear(&k->n);
	for (size_t i = 0; i < k->ntels; i++)
		pb_buf_clear(&k->tels[i]);
	k->ntels = 0;
	k->open = false;
	k->too_many = false;
	pb_buf_clear(&k->photo);
	k->photo_type = NULL;
}

static void card_dispose(card *k)
{
	pb_buf_dispose(&k->fn);
	pb_buf_dispose(&k->n);
	pb_buf_dispose(&k->photo);
	for (size_t i = 0; i < MAX_TELS; i++)
		pb_buf_dispose(&k->tels[i]);
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* QUOTED-PRINTABLE (RFC 2045 6.7): =XX, anything else kept as it is. */
static int qp_decode(pb_buf *out, const char *s, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		int hi, lo;
		if (s[i] == '=' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			rc = pb_buf_putc(out, (uint8_t)(hi * 16 + lo));
			i += 2;
		} else {
			rc = pb_buf_putc(out, (uint8_t)s[i]);
		}
	}
	return rc;
}

/* 3.0/4.0 escapes: \n \N -> space, \, \; \\ -> the character. */
static int unescape(pb_buf *out, const char *s, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			char e = s[++i];
			rc = pb_buf_putc(out, (uint8_t)(e == 'n' || e == 'N' ? ' ' : e));
		} else {
			rc = pb_buf_putc(out, (uint8_t)s[i]);
		}
	}
	return rc;
}

/* The first ':' outside double quotes, or @n. */
static size_t find_colon(const char *s, size_t n)
{
	bool q = false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			q = !q;
		else if (s[i] == ':' && !q)
			return i;
	}
	return n;
}

typedef struct prop {
	const char *name;
	size_t name_len;
	bool qp, b64, uri;
	char charset[48];
} prop;

static void read_params(prop *pr, const char *s, size_t n)
{
	/* NAME;PARAM;PARAM=VALUE;... (the group "item1." is dropped) */
	size_t i = 0;
	while (i < n && s[i] != ';')
		i++;
	pr->name = s;
	pr->name_len = i;
	for (size_t d = 0; d < pr->name_len; d++)
		if (s[d] == '.') {
			pr->name = s + d + 1;
			pr->name_len = i - d - 1;
		}
	while (i < n) {
		size_t st = ++i;
		bool q = false;
		while (i < n && (q || s[i] != ';')) {
			if (s[i] == '"')
				q = !q;
			i++;
		}
		const char *p = s + st;
		size_t len = i - st;
		const char *eq = memchr(p, '=', len);
		const char *v = eq ? eq + 1 : p;
		size_t vlen = eq ? len - (size_t)(eq + 1 - p) : len;
		size_t klen = eq ? (size_t)(eq - p) : 0;
		if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
			v++;
			vlen -= 2;
		}
		if (!eq || ieq(p, klen, "ENCODING")) {
			if (ieq(v, vlen, "QUOTED-PRINTABLE"))
				pr->qp = true;
			else if (ieq(v, vlen, "B") || ieq(v, vlen, "BASE64"))
				pr->b64 = true;
		}
		if (eq && ieq(p, klen, "CHARSET") && vlen < sizeof(pr->charset)) {
			memcpy(pr->charset, v, vlen);
			pr->charset[vlen] = '\0';
		}
		if (eq && ieq(p, klen, "VALUE") && ieq(v, vlen, "uri"))
			pr->uri = true;
	}
}

static bool line_is_qp(const char *s, size_t n)
{
	size_t c = find_colon(s, n);
	for (size_t i = 0; i + 16 <= c; i++)
		if (ieq(s + i, 16, "QUOTED-PRINTABLE"))
			return true;
	return false;
}

/* The card's picture, kept once for the entries from @p first on. */
static int add_photo(parser *p, card *k, size_t first)
{
	pbb_contacts *c = p->out;
	pbb_contact_photo *ph = pb_realloc(c->photos, (c->n_photos + 1) * sizeof(*ph));
	if (!ph)
		return PB_ENOMEM;
	c->photos = ph;
	ph = &c->photos[c->n_photos];
	if (!(ph->data = pb_malloc(k->photo.len)))
		return PB_ENOMEM;
	memcpy(ph->data, k->photo.data, k->photo.len);
	ph->len = k->photo.len;
	ph->mimetype = k->photo_type;
	ph->width = k->photo_w;
	ph->height = k->photo_h;
	for (size_t i = first; i < c->count; i++)
		c->items[i].photo = (int)c->n_photos;
	c->n_photos++;
	return 0;
}

/* PHOTO: base64 inline (2.1 ENCODING=BASE64, 3.0 ENCODING=b) or a base64
 * data: URI (4.0). A link is never fetched; anything that is not a PNG, GIF
 * or JPEG within the caps is left out with a reason. Hostile bytes: the
 * encoded text is bounded before it is decoded. */
static int card_photo(parser *p, card *k, const prop *pr, const char *v, size_t vlen, int line)
{
	pb_buf_clear(&k->photo);
	k->photo_type = NULL;
	const char *b = v;
	size_t bl = vlen;
	if (!pr->b64) {
		const char *comma = iprefix(v, vlen, "data:") ? memchr(v, ',', vlen) : NULL;
		if (!iprefix(v, vlen, "data:"))
			return add_skip(p, line, "PHOTO is a link, which is never fetched; no picture");
		if (!comma || (size_t)(comma - v) < 12 || !ieq(comma - 7, 7, ";base64"))
			return add_skip(p, line, "PHOTO is a data: URI without base64; no picture");
		b = comma + 1;
		bl = vlen - (size_t)(comma + 1 - v);
	}
	if (bl > 2 * (size_t)PBB_CONTACTS_PHOTO_MAX_BYTES)
		return add_skip(p, line, "PHOTO is larger than %u bytes; no picture", PBB_CONTACTS_PHOTO_MAX_BYTES);
	pb_parse_error perr;
	int rc = pb_base64_decode(&k->photo, b, bl, 0, &perr);
	if (rc == PB_ENOMEM)
		return rc;
	if (rc < 0) {
		pb_buf_clear(&k->photo);
		return add_skip(p, line, "PHOTO is not base64 (at byte %zu); no picture", perr.offset);
	}
	if (k->photo.len == 0 || k->photo.len > PBB_CONTACTS_PHOTO_MAX_BYTES) {
		size_t n = k->photo.len;
		pb_buf_clear(&k->photo);
		return n ? add_skip(p, line, "PHOTO is larger than %u bytes; no picture", PBB_CONTACTS_PHOTO_MAX_BYTES)
			 : add_skip(p, line, "PHOTO is empty; no picture");
	}
	unsigned w = 0, h = 0;
	const char *type = NULL;
	if (pb_matrix_image_info(k->photo.data, k->photo.len, &w, &h, &type) < 0 || !type) {
		pb_buf_clear(&k->photo);
		return add_skip(p, line, "PHOTO is not a PNG, GIF or JPEG picture; no picture");
	}
	if (w == 0 || h == 0 || w > PBB_CONTACTS_PHOTO_MAX_SIDE || h > PBB_CONTACTS_PHOTO_MAX_SIDE) {
		pb_buf_clear(&k->photo);
		return add_skip(p, line, "PHOTO is %ux%u pixels (at most %dx%d); no picture", w, h,
				PBB_CONTACTS_PHOTO_MAX_SIDE, PBB_CONTACTS_PHOTO_MAX_SIDE);
	}
	k->photo_type = type;
	k->photo_w = w;
	k->photo_h = h;
	return 0;
}

static int finish_card(parser *p, card *k)
{
	pb_buf name = PB_BUF_INIT;
	int rc = 0;
	char *fn = clean((const char *)k->fn.data, k->fn.len);
	if (!fn)
		return PB_ENOMEM;
	if (fn[0]) {
		rc = pb_buf_puts(&name, fn);
	} else if (k->n.len) {
		/* N: family;given;middle;prefix;suffix -> "given middle family" */
		const char *s = (const char *)k->n.data;
		size_t n = k->n.len, start[5] = { 0 }, end[5] = { 0 }, f = 0, i = 0;
		start[0] = 0;
		for (; i < n && f < 5; i++)
			if (s[i] == '\\' && i + 1 < n)
				i++;
			else if (s[i] == ';') {
				end[f++] = i;
				if (f < 5)
					start[f] = i + 1;
			}
		if (f < 5)
			end[f++] = n;
		static const int order[] = { 3, 1, 2, 0, 4 };
		for (size_t o = 0; o < 5 && rc == 0; o++) {
			size_t x = (size_t)order[o];
			if (x >= f || end[x] <= start[x])
				continue;
			pb_buf part = PB_BUF_INIT;
			rc = unescape(&part, s + start[x], end[x] - start[x]);
			char *c = rc == 0 ? clean((const char *)part.data, part.len) : NULL;
			if (rc == 0 && !c)
				rc = PB_ENOMEM;
			if (c && c[0])
				rc = pb_buf_printf(&name, "%s%s", name.len ? " " : "", c);
			pb_free(c);
			pb_buf_dispose(&part);
		}
	}
	pb_free(fn);
	if (rc == 0 && name.len == 0)
		rc = add_skip(p, k->line, "a card with %zu number(s) but no name (FN or N)", k->ntels);
	else if (rc == 0 && k->ntels == 0)
		rc = add_skip(p, k->line, "%s: no phone number (TEL)", pb_buf_cstr(&name));
	else if (rc == 0) {
		if (k->too_many)
			rc = add_skip(p, k->line, "%s: more than %d numbers; the rest are left out", pb_buf_cstr(&name),
				      MAX_TELS);
		size_t first = p->out->count;
		for (size_t i = 0; i < k->ntels && rc == 0; i++)
			rc = add_entry(p, k->line, pb_buf_cstr(&name), (const char *)k->tels[i].data, k->tels[i].len);
		if (rc == 0 && k->photo_type && p->out->count > first)
			rc = add_photo(p, k, first);
	}
	pb_buf_dispose(&name);
	card_reset(k);
	return rc;
}

static int vcard_line(parser *p, card *k, const char *s, size_t n, int line)
{
	size_t colon = find_colon(s, n);
	if (colon == n)
		return 0; /* not a property (blank, or noise between cards) */
	prop pr;
	memset(&pr, 0, sizeof(pr));
	read_params(&pr, s, colon);
	const char *v = s + colon + 1;
	size_t vlen = n - colon - 1;
	if (ieq(pr.name, pr.name_len, "BEGIN")) {
		if (!ieq(v, vlen, "VCARD"))
			return 0;
		int rc = 0;
		if (k->open) {
			rc = add_skip(p, k->line, "the card is not ended before the next BEGIN:VCARD (line %d); skipped", line);
			card_reset(k);
		}
		k->open = true;
		k->line = line;
		return rc;
	}
	if (!k->open)
		return 0;
	if (ieq(pr.name, pr.name_len, "END"))
		return ieq(v, vlen, "VCARD") ? finish_card(p, k) : 0;
	if (ieq(pr.name, pr.name_len, "PHOTO"))
		return card_photo(p, k, &pr, v, vlen, line);
	bool fn = ieq(pr.name, pr.name_len, "FN"), nn = ieq(pr.name, pr.name_len, "N"),
	     tel = ieq(pr.name, pr.name_len, "TEL");
	if (!fn && !nn && !tel)
		return 0;
	if (pr.b64)
		return add_skip(p, line, "%.*s in base64 is not read", (int)pr.name_len, pr.name);
	pb_buf raw = PB_BUF_INIT, text = PB_BUF_INIT;
	int rc = pr.qp ? qp_decode(&raw, v, vlen) : pb_buf_put(&raw, v, vlen);
	if (rc == 0) {
		rc = to_utf8(&text, pr.charset[0] ? pr.charset : NULL, (const char *)raw.data, raw.len);
		if (rc == PB_EUNSUPPORTED)
			rc = add_skip(p, line, "CHARSET=%s is unknown here; %.*s left out", pr.charset,
				      (int)pr.name_len, pr.name);
		else if (rc == 0 && nn) {
			rc = pb_buf_put(&k->n, text.data, text.len); /* split in finish_card() */
		} else if (rc == 0 && fn) {
			pb_buf_clear(&k->fn);
			rc = unescape(&k->fn, (const char *)text.data, text.len);
		} else if (rc == 0 && tel) {
			const char *t = (const char *)text.data;
			size_t tl = text.len;
			if (iprefix(t, tl, "tel:")) { /* 4.0: a tel: URI, parameters after ';' */
				t += 4;
				tl -= 4;
				const char *semi = memchr(t, ';', tl);
				if (semi)
					tl = (size_t)(semi - t);
			}
			if (k->ntels == MAX_TELS)
				k->too_many = true;
			else
				rc = unescape(&k->tels[k->ntels++], t, tl);
		}
	}
	pb_buf_dispose(&raw);
	pb_buf_dispose(&text);
	return rc;
}

static int parse_vcard(parser *p, const char *s, size_t n)
{
	card k;
	memset(&k, 0, sizeof(k));
	pb_buf cur = PB_BUF_INIT;
	bool have = false, qp = false;
	int cur_line = 0, line = 0, rc = 0;
	size_t i = 0;
	while (i < n && rc == 0) {
		size_t e = i;
		while (e < n && s[e] != '\n')
			e++;
		size_t l = e - i;
		if (l && s[i + l - 1] == '\r')
			l--;
		line++;
		const char *L = s + i;
		i = e < n ? e + 1 : n;
		if (have && qp && cur.len && cur.data[cur.len - 1] == '=') {
			/* 2.1 QUOTED-PRINTABLE soft line break: "=" CRLF */
			pb_buf_truncate(&cur, cur.len - 1);
			rc = pb_buf_put(&cur, L, l);
			continue;
		}
		if (have && l && (L[0] == ' ' || L[0] == '\t')) { /* folded (RFC 6350 3.2) */
			rc = pb_buf_put(&cur, L + 1, l - 1);
			continue;
		}
		if (have)
			rc = vcard_line(p, &k, (const char *)cur.data, cur.len, cur_line);
		pb_buf_clear(&cur);
		if (rc == 0)
			rc = pb_buf_put(&cur, L, l);
		have = true;
		cur_line = line;
		qp = line_is_qp(L, l);
	}
	if (rc == 0 && have)
		rc = vcard_line(p, &k, (const char *)cur.data, cur.len, cur_line);
	if (rc == 0 && k.open)
		rc = add_skip(p, k.line, "the card is not ended (no END:VCARD before the end of the file); skipped");
	pb_buf_dispose(&cur);
	card_dispose(&k);
	return rc;
}

/* --- CSV ---------------------------------------------------------------------- */

typedef struct record {
	pb_buf text;                 /* the fields, each NUL-terminated */
	size_t off[MAX_FIELDS];
	size_t len[MAX_FIELDS];
	size_t n;
	bool too_many;
} record;

/* Read one record from @s at *@pos. @return 1 (a record), 0 (end of
 * input), PB_EMALFORMED (a quoted field not closed), PB_ENOMEM. */
static int csv_record(const char *s, size_t n, size_t *pos, char delim, int *line, record *r)
{
	size_t i = *pos;
	if (i >= n)
		return 0;
	pb_buf_clear(&r->text);
	r->n = 0;
	r->too_many = false;
	for (;;) {
		size_t start = r->text.len;
		int rc = 0;
		if (i < n && s[i] == '"') {
			i++;
			for (;;) {
				if (i >= n)
					return PB_EMALFORMED;
				if (s[i] == '"' && i + 1 < n && s[i + 1] == '"') {
					rc = pb_buf_putc(&r->text, '"');
					i += 2;
				} else if (s[i] == '"') {
					i++;
					break;
				} else {
					if (s[i] == '\n')
						(*line)++;
					rc = pb_buf_putc(&r->text, (uint8_t)s[i++]);
				}
				if (rc < 0)
					return rc;
			}
		}
		/* unquoted (or what follows a closing quote, kept as it is) */
		while (i < n && s[i] != delim && s[i] != '\n' && rc == 0)
			rc = pb_buf_putc(&r->text, (uint8_t)s[i++]);
		if (rc < 0)
			return rc;
		size_t flen = r->text.len - start;
		if (flen && r->text.data[start + flen - 1] == '\r' && (i >= n || s[i] == '\n'))
			flen--;
		pb_buf_truncate(&r->text, start + flen);
		if ((rc = pb_buf_putc(&r->text, 0)) < 0)
			return rc;
		if (r->n < MAX_FIELDS) {
			r->off[r->n] = start;
			r->len[r->n] = flen;
			r->n++;
		} else {
			r->too_many = true;
		}
		if (i < n && s[i] == delim) {
			i++;
			continue;
		}
		if (i < n) { /* '\n' */
			i++;
			(*line)++;
		}
		*pos = i;
		return 1;
	}
}

static const char *field(const record *r, size_t k, size_t *len)
{
	if (k >= r->n) {
		*len = 0;
		return "";
	}
	*len = r->len[k];
	return (const char *)r->text.data + r->off[k];
}

enum { COL_NONE, COL_NAME, COL_FIRST, COL_MIDDLE, COL_LAST, COL_PHONE };

static bool icontains(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);
	for (size_t i = 0; i + k <= n; i++)
		if (ieq(s + i, k, w))
			return true;
	return false;
}

static int column_kind(const char *h, size_t n)
{
	while (n && (unsigned char)*h <= ' ') {
		h++;
		n--;
	}
	while (n && (unsigned char)h[n - 1] <= ' ')
		n--;
	static const struct {
		int kind;
		const char *name;
	} names[] = {
		{ COL_NAME, "name" }, { COL_NAME, "full name" }, { COL_NAME, "fullname" }, { COL_NAME, "full_name" },
		{ COL_NAME, "display name" }, { COL_NAME, "displayname" }, { COL_NAME, "display_name" },
		{ COL_NAME, "formatted name" }, { COL_NAME, "fn" }, { COL_NAME, "contact name" },
		{ COL_FIRST, "first name" }, { COL_FIRST, "firstname" }, { COL_FIRST, "first_name" },
		{ COL_FIRST, "given name" }, { COL_FIRST, "givenname" }, { COL_FIRST, "given_name" },
		{ COL_FIRST, "vorname" }, { COL_FIRST, "pr\xc3\xa9nom" }, { COL_FIRST, "prenom" },
		{ COL_MIDDLE, "middle name" }, { COL_MIDDLE, "middlename" }, { COL_MIDDLE, "middle_name" },
		{ COL_MIDDLE, "additional name" },
		{ COL_LAST, "last name" }, { COL_LAST, "lastname" }, { COL_LAST, "last_name" },
		{ COL_LAST, "family name" }, { COL_LAST, "familyname" }, { COL_LAST, "family_name" },
		{ COL_LAST, "surname" }, { COL_LAST, "nachname" }, { COL_LAST, "nom" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ieq(h, n, names[i].name))
			return names[i].kind;
	if (icontains(h, n, "fax") || icontains(h, n, "pager") || icontains(h, n, "type") ||
	    icontains(h, n, "label"))
		return COL_NONE;
	if (icontains(h, n, "phone") || icontains(h, n, "mobil") || icontains(h, n, "cell") ||
	    icontains(h, n, "telefon") || icontains(h, n, "handy") ||
	    ieq(h, n, "tel") || ieq(h, n, "number") || ieq(h, n, "msisdn"))
		return COL_PHONE;
	return COL_NONE;
}

/* The separator the header line uses most, outside quotes. */
static char csv_delim(const char *s, size_t n)
{
	size_t comma = 0, semi = 0, tab = 0;
	bool q = false;
	for (size_t i = 0; i < n && (q || s[i] != '\n'); i++) {
		if (s[i] == '"')
			q = !q;
		else if (!q && s[i] == ',')
			comma++;
		else if (!q && s[i] == ';')
			semi++;
		else if (!q && s[i] == '\t')
			tab++;
	}
	return tab > comma && tab > semi ? '\t' : semi > comma ? ';' : ',';
}

static int csv_row(parser *p, const record *r, const int *kind, size_t ncols, int line)
{
	pb_buf name = PB_BUF_INIT;
	int rc = 0;
	bool any = false;
	for (size_t k = 0; k < r->n; k++)
		if (r->len[k])
			for (size_t j = 0; j < r->len[k]; j++)
				any |= (unsigned char)r->text.data[r->off[k] + j] > ' ';
	if (!any)
		return 0; /* a blank row */
	for (size_t k = 0; k < ncols && rc == 0 && name.len == 0; k++)
		if (kind[k] == COL_NAME) {
			size_t l;
			const char *f = field(r, k, &l);
			char *c = clean(f, l);
			if (!c)
				rc = PB_ENOMEM;
			else if (c[0])
				rc = pb_buf_puts(&name, c);
			pb_free(c);
		}
	static const int parts[] = { COL_FIRST, COL_MIDDLE, COL_LAST };
	for (size_t o = 0; o < 3 && rc == 0 && !(name.len && o == 0); o++)
		for (size_t k = 0; k < ncols && rc == 0; k++)
			if (kind[k] == parts[o]) {
				size_t l;
				const char *f = field(r, k, &l);
				char *c = clean(f, l);
				if (!c)
					rc = PB_ENOMEM;
				else if (c[0])
					rc = pb_buf_printf(&name, "%s%s", name.len ? " " : "", c);
				pb_free(c);
				break;
			}
	/* numbers: every phone column; Google joins several with " ::: " */
	size_t nphones = 0;
	for (size_t k = 0; k < ncols && rc == 0; k++) {
		if (kind[k] != COL_PHONE)
			continue;
		size_t l;
		const char *f = field(r, k, &l);
		while (l && rc == 0) {
			const char *sep = NULL;
			for (size_t j = 0; j + 3 <= l; j++)
				if (!memcmp(f + j, ":::", 3)) {
					sep = f + j;
					break;
				}
			size_t one = sep ? (size_t)(sep - f) : l;
			char *c = clean(f, one);
			if (!c)
				rc = PB_ENOMEM;
			else if (c[0] && name.len) {
				rc = add_entry(p, line, pb_buf_cstr(&name), c, strlen(c));
				nphones++;
			} else if (c[0])
				nphones++;
			pb_free(c);
			if (!sep)
				break;
			l -= one + 3;
			f = sep + 3;
		}
	}
	if (rc == 0 && name.len == 0)
		rc = add_skip(p, line, "a row with %zu number(s) but no name", nphones);
	else if (rc == 0 && nphones == 0)
		rc = add_skip(p, line, "%s: no phone number", pb_buf_cstr(&name));
	else if (rc == 0 && r->too_many)
		rc = add_skip(p, line, "more than %d columns; the rest are left out", MAX_FIELDS);
	pb_buf_dispose(&name);
	return rc;
}

static int parse_csv(parser *p, const char *s, size_t n, pb_parse_error *perr)
{
	record *r = pb_calloc(1, sizeof(*r));
	int *kind = pb_calloc(MAX_FIELDS, sizeof(int));
	int rc = r && kind ? 0 : PB_ENOMEM;
	size_t pos = 0, ncols = 0, hdr_at = 0;
	int line = 1, hdr_line = 0;
	/* the header: the first row that is not blank */
	while (rc == 0) {
		hdr_at = pos;
		hdr_line = line;
		rc = csv_record(s, n, &pos, csv_delim(s + pos, n - pos), &line, r);
		if (rc == 0) {
			rc = pb_error_set(PB_EMALFORMED, "the file holds no contacts (empty)");
			if (perr) {
				perr->offset = n;
				snprintf(perr->text, sizeof(perr->text), "the file holds no contacts (empty)");
			}
			goto out;
		}
		if (rc < 0)
			break;
		rc = 0;
		if (r->n > 1 || (r->n == 1 && r->len[0]))
			break;
	}
	char delim = csv_delim(s + hdr_at, n - hdr_at);
	if (rc == PB_EMALFORMED) {
		rc = pb_error_set(PB_EMALFORMED, "line %d: a quoted field of the header row is not closed", hdr_line);
		if (perr) {
			perr->offset = hdr_at;
			snprintf(perr->text, sizeof(perr->text), "line %d: a quoted field of the header row is not closed",
				 hdr_line);
		}
		goto out;
	}
	if (rc < 0)
		goto out;
	bool has_name = false, has_phone = false;
	ncols = r->n;
	for (size_t k = 0; k < ncols; k++) {
		size_t l;
		const char *h = field(r, k, &l);
		kind[k] = column_kind(h, l);
		has_name |= kind[k] == COL_NAME || kind[k] == COL_FIRST || kind[k] == COL_LAST || kind[k] == COL_MIDDLE;
		has_phone |= kind[k] == COL_PHONE;
	}
	if (!has_name || !has_phone) {
		const char *what = !has_name ? "no name column (Name, Full Name, First Name, Last Name, ...)"
					     : "no phone column (Phone, Mobile Phone, Phone 1 - Value, ...)";
		rc = pb_error_set(PB_EMALFORMED, "line %d: neither a vCard nor a CSV header row: %s", hdr_line, what);
		if (perr) {
			perr->offset = hdr_at;
			snprintf(perr->text, sizeof(perr->text), "line %d: neither a vCard nor a CSV header row: %s",
				 hdr_line, what);
		}
		goto out;
	}
	for (;;) {
		int row_line = line;
		size_t at = pos;
		rc = csv_record(s, n, &pos, delim, &line, r);
		if (rc == 0)
			break;
		if (rc == PB_EMALFORMED) {
			rc = add_skip(p, row_line, "a quoted field is not closed before the end of the file; "
				      "the rest of the file (%zu bytes) is left out", n - at);
			break;
		}
		if (rc < 0 || (rc = csv_row(p, r, kind, ncols, row_line)) < 0)
			break;
	}
out:
	if (r)
		pb_buf_dispose(&r->text);
	pb_free(r);
	pb_free(kind);
	return rc;
}

/* --- entry ---------------------------------------------------------------------- */

static bool starts_vcard(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	return iprefix(s + i, n - i, "BEGIN:VCARD");
}

int pbb_contacts_parse(const uint8_t *data, size_t len, pbb_contacts *out, pb_parse_error *perr)
{
	memset(out, 0, sizeof(*out));
	if (perr) {
		perr->offset = 0;
		perr->text[0] = '\0';
	}
	if (len > PBB_CONTACTS_MAX_BYTES)
		return pb_error_set(PB_ETOOBIG, "the file is %zu bytes; at most %u are read", len,
				    PBB_CONTACTS_MAX_BYTES);
	parser p = { out, 0, 0, 0 };
	pb_buf conv = PB_BUF_INIT;
	const char *s = (const char *)data;
	size_t n = len;
	int rc = 0;
	/* byte order marks: UTF-8 dropped, UTF-16 (Outlook) converted */
	if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
		s += 3;
		n -= 3;
	} else if (n >= 2 && (!memcmp(s, "\xff\xfe", 2) || !memcmp(s, "\xfe\xff", 2))) {
		if ((rc = pb_charset_to_utf8(&conv, "UTF-16", s, n)) < 0)
			goto out;
		s = conv.data ? (const char *)conv.data : ""; /* "FF FE" alone converts to nothing */
		n = conv.len;
	}
	if (starts_vcard(s, n)) {
		out->format = PBB_CONTACTS_VCARD;
		rc = parse_vcard(&p, s, n); /* charsets per value */
	} else {
		out->format = PBB_CONTACTS_CSV;
		if (!conv.data && pb_utf8_validate(s, n, NULL) < 0) {
			if ((rc = pb_charset_to_utf8(&conv, "windows-1252", s, n)) < 0)
				goto out;
			s = conv.data ? (const char *)conv.data : "";
			n = conv.len;
		}
		rc = parse_csv(&p, s, n, perr);
	}
	if (rc == 0 && p.more_skipped && out->n_skipped) {
		pbb_contact_skip *last = &out->skipped[out->n_skipped - 1];
		char why[400];
		snprintf(why, sizeof(why), "%s (and %zu more lines skipped)", last->why, p.more_skipped);
		char *w = pb_strdup(why);
		if (!w) {
			rc = PB_ENOMEM;
		} else {
			pb_free(last->why);
			last->why = w;
		}
	}
out:
	pb_buf_dispose(&conv);
	if (rc == PB_ENOMEM)
		pb_error_set(PB_ENOMEM, "out of memory reading contacts");
	return rc;
}

void pbb_contacts_free(pbb_contacts *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->count; i++) {
		pb_free(c->items[i].name);
		pb_free(c->items[i].phone);
	}
	for (size_t i = 0; i < c->n_skipped; i++)
		pb_free(c->skipped[i].why);
	for (size_t i = 0; i < c->n_photos; i++)
		pb_free(c->photos[i].data);
	pb_free(c->photos);
	pb_free(c->items);
	pb_free(c->skipped);
	memset(c, 0, sizeof(*c));
}
