/*
 * libphonebridge — WSP multipart bodies (WAP-230-WSP §8.5) of MMS PDUs, MIME
 * transfer encodings, and safe file names for parts.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "wap/wap-internal.h"

#define MAX_DEPTH 8
/* Real messages have a few dozen parts; the cap keeps naming (which
 * compares names) far from quadratic blow-ups on hostile input. */
#define MAX_PARTS 1000
#define WSP_CONTENT_LOCATION 0x0E
#define WSP_CONTENT_DISPOSITION 0x2E
#define WSP_CONTENT_ID 0x40
#define WSP_CONTENT_DISPOSITION_14 0x45

/* Capacity pb_wap__grow() gave an array that now holds @n elements. */
static size_t cap_of(size_t n)
{
	size_t cap = n ? 4 : 0;
	while (cap < n)
		cap *= 2;
	return cap;
}

static pb_mms_part *new_part(pb_wap__ctx *ctx, pb_mms_message *m)
{
	pb_mms_part *parts = (pb_mms_part *)m->parts;
	size_t cap = cap_of(m->n_parts);
	if (pb_wap__grow(ctx->arena, (void **)&parts, &cap, m->n_parts, sizeof(*parts)) < 0)
		return NULL;
	m->parts = parts;
	pb_mms_part *p = &parts[m->n_parts++];
	memset(p, 0, sizeof(*p));
	p->parent = -1;
	return p;
}

/* --- transfer encodings ------------------------------------------------------- */

/* Quoted-printable (RFC 2045 §6.7); a '=' that starts no valid escape is kept. */
static size_t qp_decode(uint8_t *out, const uint8_t *in, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] != '=') {
			out[o++] = in[i];
			continue;
		}
		size_t j = i + 1;
		while (j < n && (in[j] == ' ' || in[j] == '\t'))
			j++;
		if (j < n && in[j] == '\n') { /* soft line break */
			i = j;
			continue;
		}
		if (j + 1 < n && in[j] == '\r' && in[j + 1] == '\n') {
			i = j + 1;
			continue;
		}
		int hi = i + 2 < n ? pb_hex_digit_value(in[i + 1]) : -1, lo = i + 2 < n ? pb_hex_digit_value(in[i + 2]) : -1;
		if (hi >= 0 && lo >= 0) {
			out[o++] = (uint8_t)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = '=';
		}
	}
	return o;
}

/* The value of a base64 character (RFC 2045 Table 1), 64 for white space
 * and '=', 255 for anything else. */
static uint8_t b64_class(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return (uint8_t)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (uint8_t)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (uint8_t)(c - '0' + 52);
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return c == '=' || c == ' ' || c == '\t' || c == '\r' || c == '\n' ? 64 : 255;
}

/*
 * Base64 as the mainstream MIME decoders read it (RFC 2045 §6.8): white
 * space skipped, decoding ends at the padding, a last group of 2 or 3
 * characters without its padding gives its 1 or 2 bytes, and a stray last
 * character (6 bits: no whole byte) is dropped. Returns the length, or -1
 * when a byte outside the alphabet says this is not base64 at all.
 */
static long b64_decode(uint8_t *out, const uint8_t *in, size_t n)
{
	uint32_t acc = 0;
	unsigned k = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t v = b64_class(in[i]);
		if (v == 255)
			return -1;
		if (v == 64) {
			if (in[i] == '=')
				break;
			continue;
		}
		acc = acc << 6 | v;
		if (++k == 4) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
			k = 0;
		}
	}
	if (k == 2) {
		out[o++] = (uint8_t)(acc >> 4);
	} else if (k == 3) {
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
	}
	return (long)o;
}

static int transfer_decode(pb_wap__ctx *ctx, pb_mms_part *p)
{
	const char *te = p->transfer_encoding;
	if (!te)
		return 0;
	if (!pb_ascii_casecmp(te, "base64")) {
		uint8_t *d = pb_wap__alloc(ctx->arena, p->raw_len / 4 * 3 + 3);
		if (!d)
			return PB_ENOMEM;
		long n = b64_decode(d, p->raw, p->raw_len);
		if (n >= 0) { /* else not base64 after all: the bytes as they came */
			p->data = d;
			p->len = (size_t)n;
		}
		return 0;
	}
	if (!pb_ascii_casecmp(te, "quoted-printable")) {
		uint8_t *d = pb_wap__alloc(ctx->arena, p->raw_len ? p->raw_len : 1);
		if (!d)
			return PB_ENOMEM;
		p->len = qp_decode(d, p->raw, p->raw_len);
		p->data = d;
	}
	return 0;
}

/* --- part headers ---------------------------------------------------------------- */

/* filename="x" or name=x in a textual Content-Disposition. */
static int disposition_text(pb_wap__ctx *ctx, const char *s, const char **name)
{
	const char *keys[] = { "filename=", "name=" };
	for (size_t k = 0; k < 2; k++) {
		for (const char *p = s; (p = strchr(p, keys[k][0])) != NULL; p++) {
			if (pb_ascii_ncasecmp(p, keys[k], strlen(keys[k])) != 0 ||
			    (p > s && p[-1] != ';' && p[-1] != ' ' && p[-1] != '\t'))
				continue;
			p += strlen(keys[k]);
			char end = ';';
			if (*p == '"')
				end = '"', p++;
			const char *e = p;
			while (*e && *e != end)
				e++;
			*name = pb_wap__strndup(ctx->arena, p, (size_t)(e - p));
			return *name ? 0 : PB_ENOMEM;
		}
	}
	return 0;
}

/* Content-disposition-value (WSP §8.4.2.53): Value-length Disposition *(Parameter). */
static int disposition(pb_wap__ctx *ctx, const pb_wsp_header *h, const char **name)
{
	if (h->text)
		return disposition_text(ctx, h->text, name);
	pb_cur c = { h->value, h->value, h->value + h->value_len }, v;
	pb_wsp_content_type params;
	uint8_t b = 0;
	memset(&params, 0, sizeof(params));
	if (pb_wap__value_length(ctx, &c, &v) < 0 || !pb_cur_peek(&v, &b))
		return PB_EMALFORMED;
	if (b >= 0x80)
		v.p++;
	else if (pb_wap__text(ctx, &v, &params.media_type) < 0)
		return PB_EMALFORMED;
	int rc = pb_wap__params(ctx, &v, &params);
	if (rc < 0)
		return rc;
	*name = params.filename ? params.filename : params.name;
	return 0;
}

static const char *strip_angles(pb_wap__ctx *ctx, const char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
		return pb_wap__strndup(ctx->arena, s + 1, n - 2);
	return s;
}

/* Fill the part's fields from its headers. Values that do not read are
 * ignored: the part stays usable. */
static int part_headers(pb_wap__ctx *ctx, pb_mms_part *p, const char **disp_name)
{
	pb_parse_error *saved = ctx->perr, scratch;
	ctx->perr = &scratch;
	int rc = 0;
	for (size_t i = 0; i < p->n_headers && rc != PB_ENOMEM; i++) {
		const pb_wsp_header *h = &p->headers[i];
		const char *nm = h->name;
		if (h->field == WSP_CONTENT_ID || (h->field < 0 && !pb_ascii_casecmp(nm, "Content-ID"))) {
			if (h->text && !p->content_id && !(p->content_id = strip_angles(ctx, h->text)))
				rc = PB_ENOMEM;
		} else if (h->field == WSP_CONTENT_LOCATION ||
			   (h->field < 0 && !pb_ascii_casecmp(nm, "Content-Location"))) {
			if (h->text && !p->content_location)
				p->content_location = h->text;
		} else if (h->field == WSP_CONTENT_DISPOSITION || h->field == WSP_CONTENT_DISPOSITION_14 ||
			   (h->field < 0 && !pb_ascii_casecmp(nm, "Content-Disposition"))) {
			if (!*disp_name)
				rc = disposition(ctx, h, disp_name);
		} else if (h->field < 0 && !pb_ascii_casecmp(nm, "Content-Transfer-Encoding")) {
			if (h->text)
				p->transfer_encoding = h->text;
		}
	}
	ctx->perr = saved;
	if (rc == PB_ENOMEM)
		return rc;
	pb_error_clear();
	return 0;
}

static int finish_part(pb_wap__ctx *ctx, pb_mms_message *m, size_t idx, const char *disp_name)
{
	pb_mms_part *p = (pb_mms_part *)&m->parts[idx];
	const pb_wsp_content_type *ct = &p->content_type;
	p->name = ct->name ? ct->name : ct->filename ? ct->filename : disp_name ? disp_name
		: p->content_location;
	p->data = p->raw;
	p->len = p->raw_len;
	return transfer_decode(ctx, p);
}

/* One entry (§8.5.3): HeadersLen DataLen ContentType Headers Data. */
static int one_part(pb_wap__ctx *ctx, pb_cur *c, pb_mms_message *m, int parent, int depth)
{
	uint32_t hlen, dlen;
	pb_cur h, d;
	int rc;
	size_t off = pb_cur_offset(c);
	if ((rc = pb_wap__uintvar(ctx, c, &hlen)) < 0 || (rc = pb_wap__uintvar(ctx, c, &dlen)) < 0)
		return rc;
	if (!pb_cur_sub(c, hlen, &h))
		return pb_wap__fail(ctx, c, "part headers of %u bytes beyond end of data (%zu left)",
				    (unsigned)hlen, pb_cur_left(c));
	if (!pb_cur_sub(c, dlen, &d))
		return pb_wap__fail(ctx, c, "part data of %u bytes beyond end of data (%zu left)",
				    (unsigned)dlen, pb_cur_left(c));
	if (m->n_parts >= MAX_PARTS) {
		c->p = c->base + off;
		return pb_wap__fail(ctx, c, "more than %d parts", MAX_PARTS);
	}
	pb_mms_part *p = new_part(ctx, m);
	if (!p)
		return PB_ENOMEM;
	size_t idx = m->n_parts - 1;
	p->offset = off;
	p->parent = parent;
	p->depth = depth;
	p->raw = d.p;
	p->raw_len = dlen;
	pb_wsp_content_type ct;
	pb_wsp_header *hdrs;
	size_t nh;
	if ((rc = pb_wap__content_type(ctx, &h, &ct)) < 0 || (rc = pb_wap__headers(ctx, &h, &hdrs, &nh)) < 0)
		return rc;
	p = (pb_mms_part *)&m->parts[idx];
	p->content_type = ct;
	p->headers = hdrs;
	p->n_headers = nh;
	const char *disp_name = NULL;
	if ((rc = part_headers(ctx, p, &disp_name)) < 0 || (rc = finish_part(ctx, m, idx, disp_name)) < 0)
		return rc;
	if (pb_wap__is_multipart(ct.media_type) && depth + 1 < MAX_DEPTH) {
		p->is_multipart = true;
		pb_cur inner = { c->base, p->data, p->data + p->len };
		if (p->data != p->raw) /* transfer-decoded: offsets no longer map to the input */
			inner.base = p->data;
		return pb_mms__multipart(ctx, &inner, m, (int)idx, depth + 1);
	}
	return 0;
}

static void mark_root(pb_mms_message *m, const pb_wsp_content_type *ct, int parent)
{
	pb_mms_part *parts = (pb_mms_part *)m->parts;
	int first = -1, root = -1;
	const char *start = ct->start;
	size_t sl = 0;
	if (start) {
		sl = strlen(start);
		if (sl >= 2 && start[0] == '<' && start[sl - 1] == '>')
			start++, sl -= 2;
	}
	for (size_t i = 0; i < m->n_parts; i++) {
		if (parts[i].parent != parent)
			continue;
		if (first < 0)
			first = (int)i;
		if (start && root < 0 &&
		    ((parts[i].content_id && strlen(parts[i].content_id) == sl &&
		      !strncmp(parts[i].content_id, start, sl)) ||
		     (parts[i].content_location && strlen(parts[i].content_location) == sl &&
		      !strncmp(parts[i].content_location, start, sl))))
			root = (int)i;
	}
	if (root < 0)
		root = first;
	if (root >= 0) {
		parts[root].is_root = true;
		if (parent < 0)
			m->root_part = root;
	}
}

/* Drop the parts from @keep on (a salvage cut inside them). */
static void drop_parts(pb_mms_message *m, size_t keep)
{
	m->n_parts = keep;
}

int pb_mms__multipart(pb_wap__ctx *ctx, pb_cur *c, pb_mms_message *m, int parent, int depth)
{
	uint32_t n = 0;
	int rc;
	if (pb_cur_eof(c))
		rc = pb_wap__fail(ctx, c, "multipart body without its entry count");
	else
		rc = pb_wap__uintvar(ctx, c, &n);
	/* The entry count is what the sender wrote down: fewer entries in the
	 * data is a cut PDU, and bytes after the last entry do not belong to it. */
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		size_t keep = m->n_parts;
		if (pb_cur_eof(c))
			rc = pb_wap__fail(ctx, c, "multipart declares %u parts; the data ends after %u",
					  (unsigned)n, (unsigned)i);
		else if ((rc = one_part(ctx, c, m, parent, depth)) == PB_EMALFORMED)
			drop_parts(m, keep);
	}
	if (rc == 0 && !pb_cur_eof(c))
		rc = pb_wap__fail(ctx, c, "%zu bytes after the last of the %u parts the multipart declares",
				  pb_cur_left(c), (unsigned)n);
	if (rc < 0 && (rc = pb_mms__salvage(ctx, m, rc)) < 0)
		return rc;
	const pb_wsp_content_type *ct = parent < 0 ? &m->content_type : &m->parts[parent].content_type;
	mark_root(m, ct, parent);
	return 0;
}

int pb_mms__single_part(pb_wap__ctx *ctx, pb_mms_message *m, const pb_cur *body)
{
	pb_mms_part *p = new_part(ctx, m);
	if (!p)
		return PB_ENOMEM;
	p->offset = pb_cur_offset(body);
	p->raw = body->p;
	p->raw_len = pb_cur_left(body);
	p->data = p->raw;
	p->len = p->raw_len;
	p->is_root = true;
	if (m->has_content_type)
		p->content_type = m->content_type;
	else
		p->content_type.media_type = "application/octet-stream", p->content_type.well_known = -1;
	p->name = p->content_type.name ? p->content_type.name : p->content_type.filename;
	m->root_part = 0;
	return 0;
}

/* --- file names -------------------------------------------------------------------- */

static const struct {
	const char *type;
	const char *ext;
} extensions[] = {
	{ "image/jpeg", "jpg" }, { "image/jpg", "jpg" }, { "image/pjpeg", "jpg" }, { "image/png", "png" },
	{ "image/gif", "gif" }, { "image/bmp", "bmp" }, { "image/vnd.wap.wbmp", "wbmp" },
	{ "image/webp", "webp" }, { "image/heic", "heic" }, { "image/tiff", "tif" },
	{ "text/plain", "txt" }, { "text/html", "html" }, { "application/smil", "smil" },
	{ "text/x-vcard", "vcf" }, { "text/vcard", "vcf" }, { "text/x-vcalendar", "vcs" },
	{ "text/calendar", "ics" }, { "audio/amr", "amr" }, { "audio/amr-wb", "awb" },
	{ "audio/mpeg", "mp3" }, { "audio/mp3", "mp3" }, { "audio/mp4", "m4a" }, { "audio/aac", "aac" },
	{ "audio/midi", "mid" }, { "audio/mid", "mid" }, { "audio/sp-midi", "mid" }, { "audio/ogg", "ogg" },
	{ "audio/wav", "wav" }, { "audio/x-wav", "wav" }, { "video/3gpp", "3gp" }, { "audio/3gpp", "3gp" },
	{ "video/3gpp2", "3g2" }, { "video/mp4", "mp4" }, { "video/mpeg", "mpg" }, { "video/quicktime", "mov" },
	{ "application/pdf", "pdf" }, { "application/vnd.wap.mms-message", "mms" },
	/* more spellings, for pb_mms_guess_content_type() */
	{ "image/jpeg", "jpeg" }, { "text/plain", "text" }, { "application/smil", "smi" },
};

const char *pb_mms__extension(const char *media_type)
{
	for (size_t i = 0; i < PB_ARRAY_SIZE(extensions); i++)
		if (!pb_ascii_casecmp(media_type, extensions[i].type))
			return extensions[i].ext;
	return NULL;
}

PB_API const char *pb_mms_guess_content_type(const char *filename)
{
	const char *dot = filename ? strrchr(filename, '.') : NULL;
	for (size_t i = 0; dot && i < PB_ARRAY_SIZE(extensions); i++)
		if (!pb_ascii_casecmp(dot + 1, extensions[i].ext))
			return extensions[i].type;
	return "application/octet-stream";
}

static bool reserved(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0xFFFD ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069); /* bidi overrides */
}

/* The safe form of @name, at most @max bytes (see pb_mms_safe_filename()). */
static int safe_name(pb_buf *out, const char *name, size_t max)
{
	size_t start = out->len;
	const char *base = name;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	size_t n = strlen(base);
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = pb_utf8_decode(base + i, n - i, &cp);
		int rc;
		if (reserved(cp))
			rc = 0; /* dropped */
		else if (strchr("<>:\"|?*`$;&'", (int)cp) && cp < 0x80)
			rc = pb_buf_putc(out, '_');
		else if (cp == '.' && out->len > start && out->data[out->len - 1] == '.')
			rc = 0; /* no ".." */
		else if ((cp == '.' || cp == ' ' || cp == '-') && out->len == start)
			rc = 0; /* no hidden files, no option-like names */
		else
			rc = pb_buf_put(out, base + i, k);
		if (rc < 0)
			return rc;
		i += k;
	}
	while (out->len > start && (out->data[out->len - 1] == '.' || out->data[out->len - 1] == ' '))
		out->len--;
	if (out->len - start > max) {
		/* keep a short extension; cut the stem on a character boundary */
		const char *s = (const char *)out->data + start;
		size_t len = out->len - start, ext = 0;
		const char *dot = memchr(s, '.', len) ? strrchr(s, '.') : NULL;
		if (dot && (size_t)(s + len - dot) <= 12)
			ext = (size_t)(s + len - dot);
		size_t stem = max - ext;
		while (stem > 0 && ((uint8_t)s[stem] & 0xC0) == 0x80)
			stem--;
		memmove(out->data + start + stem, s + len - ext, ext);
		out->len = start + stem + ext;
	}
	out->data[out->len] = '\0';
	return 0;
}

PB_API int pb_mms_safe_filename(pb_buf *out, const char *name, const char *fallback)
{
	if (!out || !fallback)
		return pb_error_set(PB_EINVAL, "pb_mms_safe_filename: NULL argument");
	size_t start = out->len;
	int rc = pb_buf_reserve(out, 0);
	if (rc < 0 || (name && (rc = safe_name(out, name, 96)) < 0))
		return rc;
	if (out->len == start)
		rc = safe_name(out, fallback, 96);
	return rc;
}

static bool name_taken(const pb_mms_message *m, size_t upto, const char *name)
{
	for (size_t i = 0; i < upto; i++)
		if (m->parts[i].filename && !pb_ascii_casecmp(m->parts[i].filename, name))
			return true;
	return false;
}

static int name_part(pb_wap__ctx *ctx, pb_mms_message *m, size_t idx, pb_buf *b)
{
	pb_mms_part *p = (pb_mms_part *)&m->parts[idx];
	char fallback[32];
	snprintf(fallback, sizeof(fallback), "part-%zu", idx + 1);
	pb_buf_clear(b);
	const char *src = p->name ? p->name : p->content_id;
	int rc = pb_buf_reserve(b, 0);
	if (rc < 0 || (src && (rc = safe_name(b, src, 80)) < 0))
		return rc;
	if (b->len == 0 && (rc = pb_buf_puts(b, fallback)) < 0)
		return rc;
	const char *ext = pb_mms__extension(p->content_type.media_type);
	if (ext && !memchr(b->data, '.', b->len) && (rc = pb_buf_printf(b, ".%s", ext)) < 0)
		return rc;
	if (name_taken(m, idx, (const char *)b->data)) {
		const char *s = (const char *)b->data;
		const char *dot = strrchr(s, '.');
		size_t stem = dot && dot != s ? (size_t)(dot - s) : b->len;
		pb_buf u = PB_BUF_INIT;
		/* "-2" to "-10", then from the part's own number on: unique unless
		 * the sender chose such names, so the search stays short */
		for (unsigned k = 2; rc == 0; k = k < 10 || k > idx + 1 ? k + 1 : (unsigned)idx + 2) {
			pb_buf_clear(&u);
			if ((rc = pb_buf_put(&u, s, stem)) < 0 || (rc = pb_buf_printf(&u, "-%u", k)) < 0 ||
			    (rc = pb_buf_puts(&u, s + stem)) < 0)
				break;
			if (!name_taken(m, idx, (const char *)u.data))
				break;
		}
		if (rc == 0) {
			pb_buf_clear(b);
			rc = pb_buf_put(b, u.data, u.len);
		}
		pb_buf_dispose(&u);
		if (rc < 0)
			return rc;
	}
	p->filename = pb_wap__strndup(ctx->arena, b->data, b->len);
	return p->filename ? 0 : PB_ENOMEM;
}

int pb_mms__name_parts(pb_wap__ctx *ctx, pb_mms_message *m)
{
	pb_buf b = PB_BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < m->n_parts && rc == 0; i++)
		rc = name_part(ctx, m, i, &b);
	pb_buf_dispose(&b);
	return rc;
}
