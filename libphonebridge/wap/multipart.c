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
	if (pb_wap__ct_is_multipart(&ct) && depth + 1 < MAX_DEPTH) {
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

static const struct ext {
	const char *type;
	uint8_t type_len;
	const char *ext;
} extensions[] = {
#define E(t, e) { t, sizeof(t) - 1, e }
	E("image/jpeg", "jpg"), E("image/jpg", "jpg"), E("image/pjpeg", "jpg"), E("image/png", "png"),
	E("image/gif", "gif"), E("image/bmp", "bmp"), E("image/vnd.wap.wbmp", "wbmp"),
	E("image/webp", "webp"), E("image/heic", "heic"), E("image/tiff", "tif"),
	E("text/plain", "txt"), E("text/html", "html"), E("application/smil", "smil"),
	E("text/x-vcard", "vcf"), E("text/vcard", "vcf"), E("text/x-vcalendar", "vcs"),
	E("text/calendar", "ics"), E("audio/amr", "amr"), E("audio/amr-wb", "awb"),
	E("audio/mpeg", "mp3"), E("audio/mp3", "mp3"), E("audio/mp4", "m4a"), E("audio/aac", "aac"),
	E("audio/midi", "mid"), E("audio/mid", "mid"), E("audio/sp-midi", "mid"), E("audio/ogg", "ogg"),
	E("audio/wav", "wav"), E("audio/x-wav", "wav"), E("video/3gpp", "3gp"), E("audio/3gpp", "3gp"),
	E("video/3gpp2", "3g2"), E("video/mp4", "mp4"), E("video/mpeg", "mpg"), E("video/quicktime", "mov"),
	E("application/pdf", "pdf"), E("application/vnd.wap.mms-message", "mms"),
	/* more spellings, for pb_mms_guess_content_type() */
	E("image/jpeg", "jpeg"), E("text/plain", "text"), E("application/smil", "smi"),
#undef E
};

const char *pb_mms__extension(const char *media_type)
{
	size_t n = strlen(media_type);
	for (size_t i = 0; i < PB_ARRAY_SIZE(extensions); i++)
		if (extensions[i].type_len == n && !pb_ascii_casecmp(media_type, extensions[i].type))
			return extensions[i].ext;
	return NULL;
}

/* The extension of a part's content type: by its WSP number when it has
 * one (a table lookup), else by name. */
static const char *part_extension(const pb_wsp_content_type *ct)
{
	switch (ct->well_known) {
	case 0x03: return "txt";
	case 0x1D: return "gif";
	case 0x1E: return "jpg";
	case 0x20: return "png";
	case 0x21: return "wbmp";
	default: return ct->well_known >= 0 ? NULL : pb_mms__extension(ct->media_type);
	}
}

PB_API const char *pb_mms_guess_content_type(const char *filename)
{
	const char *dot = filename ? strrchr(filename, '.') : NULL;
	for (size_t i = 0; dot && i < PB_ARRAY_SIZE(extensions); i++)
		if (!pb_ascii_casecmp(dot + 1, extensions[i].ext))
			return extensions[i].type;
	return "application/octet-stream";
}

/* What becomes of an ASCII byte in a file name: kept, replaced by '_'
 * (shell and Windows-reserved characters), or dropped (controls). */
enum { KEEP, REPLACE, DROP };
static inline int ascii_class(uint8_t c)
{
	if (c < 0x20 || c == 0x7F)
		return DROP;
	switch (c) {
	case '<': case '>': case ':': case '"': case '|': case '?': case '*': case '`': case '$':
	case ';': case '&': case '\'':
		return REPLACE;
	default:
		return KEEP;
	}
}

static bool reserved(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0xFFFD ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069); /* bidi overrides */
}

/* Windows device names (CON, PRN, AUX, NUL, COM1-9, LPT1-9), reserved with
 * any extension and in any case: "con.txt" cannot be a file there. */
static bool windows_device(const char *s, size_t n)
{
	char c = (char)(s[0] | 0x20); /* most names fail at their first letter */
	if (c != 'c' && c != 'p' && c != 'a' && c != 'n' && c != 'l')
		return false;
	size_t stem = 0;
	while (stem < n && s[stem] != '.')
		stem++;
	while (stem > 0 && s[stem - 1] == ' ')
		stem--;
	if (stem == 3)
		return !pb_ascii_ncasecmp(s, "CON", 3) || !pb_ascii_ncasecmp(s, "PRN", 3) ||
		       !pb_ascii_ncasecmp(s, "AUX", 3) || !pb_ascii_ncasecmp(s, "NUL", 3);
	return stem == 4 && (!pb_ascii_ncasecmp(s, "COM", 3) || !pb_ascii_ncasecmp(s, "LPT", 3)) &&
	       s[3] >= '1' && s[3] <= '9';
}

/* The safe form of @name into out[0..cap), at most @max bytes (see
 * pb_mms_safe_filename()); cap must exceed max + 1. Returns its length. */
static size_t safe_name(char *out, size_t cap, const char *name, size_t max)
{
	const char *base = name;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	/* sanitise into out; past cap-2 only the last extension still matters */
	size_t len = 0, n = strlen(base), ext_at = 0;
	bool over = false;
	for (size_t i = 0; i < n;) {
		uint8_t c = (uint8_t)base[i];
		const char *put = base + i;
		size_t k = 1, w = 1;
		if (c < 0x80) {
			int cls = ascii_class(c);
			if (cls == DROP || (c == '.' && len && out[len - 1] == '.') ||
			    ((c == '.' || c == ' ' || c == '-') && len == 0)) {
				i++;
				continue;
			}
			if (cls == REPLACE)
				put = "_";
		} else {
			uint32_t cp;
			w = k = pb_utf8_decode(base + i, n - i, &cp);
			if (reserved(cp)) {
				i += k;
				continue;
			}
		}
		if (len + w + 13 > cap) { /* keep room for a last extension of up to 12 bytes */
			over = true;
			if (c == '.')
				ext_at = i;
			i += k;
			continue;
		}
		if (w == 1)
			out[len] = *put;
		else
			memcpy(out + len, put, w);
		len += w;
		i += k;
	}
	if (over && ext_at) { /* the extension from past the end */
		size_t e = n - ext_at;
		if (e <= 12) {
			bool clean = true;
			for (size_t j = ext_at; j < n; j++)
				clean = clean && (uint8_t)base[j] < 0x80 && ascii_class((uint8_t)base[j]) == KEEP;
			if (clean) {
				memcpy(out + len, base + ext_at, e);
				len += e;
			}
		}
	}
	while (len > 0 && (out[len - 1] == '.' || out[len - 1] == ' '))
		len--;
	if (len > max) {
		/* keep a short extension; cut the stem on a character boundary */
		size_t ext = 0;
		for (size_t j = len; j > 0; j--)
			if (out[j - 1] == '.') {
				if (len - (j - 1) <= 12)
					ext = len - (j - 1);
				break;
			}
		size_t stem = max - ext;
		while (stem > 0 && ((uint8_t)out[stem] & 0xC0) == 0x80)
			stem--;
		memmove(out + stem, out + len - ext, ext);
		len = stem + ext;
	}
	if (len && windows_device(out, len)) {
		if (len + 1 > max) { /* room for the '_', cut on a character boundary */
			len--;
			while (len > 0 && ((uint8_t)out[len] & 0xC0) == 0x80)
				len--;
		}
		memmove(out + 1, out, len);
		out[0] = '_';
		len++;
	}
	out[len] = '\0';
	return len;
}

PB_API int pb_mms_safe_filename(pb_buf *out, const char *name, const char *fallback)
{
	if (!out || !fallback)
		return pb_error_set(PB_EINVAL, "pb_mms_safe_filename: NULL argument");
	char tmp[512];
	size_t n = name ? safe_name(tmp, sizeof(tmp), name, 96) : 0;
	if (n == 0)
		n = safe_name(tmp, sizeof(tmp), fallback, 96);
	int rc = pb_buf_put(out, tmp, n);
	return rc < 0 ? rc : pb_buf_reserve(out, 0);
}

static bool name_taken(const pb_mms_message *m, size_t upto, const char *name)
{
	for (size_t i = 0; i < upto; i++)
		if (m->parts[i].filename && !pb_ascii_casecmp(m->parts[i].filename, name))
			return true;
	return false;
}

/* Decimal digits of @v at @out; returns their number. */
static size_t put_number(char *out, size_t v)
{
	char tmp[24];
	size_t n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while (v /= 10);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

/* A character that safe_name() keeps as it is anywhere in a name. */
static inline bool plain_char(uint8_t c)
{
	return (uint8_t)((c | 0x20) - 'a') < 26 || (uint8_t)(c - '0') < 10 || c == '_' || c == '-' || c == '.' ||
	       c == '+' || c == '(' || c == ')' || c == ',' || c == '=' || c == '@' || c == '#';
}

/* Is @s already what safe_name(s) would make of it, with an extension (a
 * name like "photo.jpg")? Then it can be the file name as it is. */
static bool already_safe(const char *s, size_t max)
{
	uint8_t c0 = (uint8_t)s[0];
	if (!plain_char(c0) || c0 == '.' || c0 == '-')
		return false;
	size_t i = 0;
	bool dot = false;
	for (; s[i]; i++) {
		uint8_t c = (uint8_t)s[i];
		if (!plain_char(c) || i >= max)
			return false;
		if (c == '.') {
			if (s[i - 1] == '.')
				return false;
			dot = true;
		}
	}
	return dot && s[i - 1] != '.' && !windows_device(s, i);
}

static int name_part(pb_wap__ctx *ctx, pb_mms_message *m, size_t idx)
{
	pb_mms_part *p = (pb_mms_part *)&m->parts[idx];
	char b[560]; /* the safe name (at most 80 bytes in the end), ".ext", "-N" */
	const char *src = p->name ? p->name : p->content_id;
	if (src && already_safe(src, 80) && !name_taken(m, idx, src)) {
		p->filename = src; /* borrowed like the name itself */
		return 0;
	}
	size_t len = src ? safe_name(b, sizeof(b) - 40, src, 80) : 0;
	if (len == 0) {
		memcpy(b, "part-", 5);
		len = 5 + put_number(b + 5, idx + 1);
	}
	const char *ext = memchr(b, '.', len) ? NULL : part_extension(&p->content_type);
	if (ext) {
		size_t e = strlen(ext);
		b[len++] = '.';
		memcpy(b + len, ext, e);
		len += e;
	}
	b[len] = '\0';
	if (name_taken(m, idx, b)) {
		char u[sizeof(b) + 24];
		const char *dot = strrchr(b, '.');
		size_t stem = dot && dot != b ? (size_t)(dot - b) : len;
		/* "-2" to "-10", then from the part's own number on: unique unless
		 * the sender chose such names, so the search stays short */
		for (size_t k = 2;; k = k < 10 || k > idx + 1 ? k + 1 : idx + 2) {
			size_t n = stem;
			memcpy(u, b, stem);
			u[n++] = '-';
			n += put_number(u + n, k);
			memcpy(u + n, b + stem, len - stem);
			n += len - stem;
			u[n] = '\0';
			if (!name_taken(m, idx, u)) {
				memcpy(b, u, n + 1);
				len = n;
				break;
			}
		}
	}
	p->filename = pb_wap__strndup(ctx->arena, b, len);
	return p->filename ? 0 : PB_ENOMEM;
}

int pb_mms__name_parts(pb_wap__ctx *ctx, pb_mms_message *m)
{
	int rc = 0;
	for (size_t i = 0; i < m->n_parts && rc == 0; i++)
		rc = name_part(ctx, m, i);
	return rc;
}
