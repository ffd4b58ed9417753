/*
 * libphonebridge — reading what a Huawei HiLink router says: XML replies
 * made safe for a strict parser, CESU-8, lowercase tags, message entries.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Routers put raw C0 control bytes and WSP push bytes inside <Content> for
 * picture messages (SmsType 5), send non-BMP characters as CESU-8, and
 * sometimes spell tags in lowercase. A strict parser rejects the first two,
 * which is how a picture message once stopped every text message behind it.
 * So the bytes are first "neutralised": everything a parser would refuse is
 * written as a private-use character U+E000 + byte, which keeps the router's
 * exact bytes recoverable (pb_modem__hilink_unescape()). libxml2 then reads
 * the document with no network access and no entity substitution.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "modem-internal.h"
#include "core/dlib.h"

/* libxml2 is loaded when the HiLink backend first parses a reply, not
 * linked: a process that never talks to a HiLink router never maps it, nor
 * the ICU it brings (core/dlib.h). */
#define XML_FUNCTIONS(X) \
	X(xmlInitParser) X(xmlNewParserCtxt) X(xmlCtxtReadMemory) X(xmlFreeParserCtxt) \
	X(xmlDocGetRootElement) X(xmlFreeDoc) X(xmlNodeGetContent) X(xmlFree) \
	X(xmlBufferCreate) X(xmlNodeDump) X(xmlBufferContent) X(xmlBufferLength) X(xmlBufferFree)
XML_FUNCTIONS(PB_DLIB_DECLARE)
static const pb_dlib_sym xml_syms[] = { XML_FUNCTIONS(PB_DLIB_ENTRY) };
static pb_dlib xml_lib = PB_DLIB_INIT("libxml2.so.2", "The HiLink backend", "libxml2", xml_syms);

#define ESC_BASE 0xE000u

struct pb_hilink_doc {
	xmlDocPtr doc;
};

static int put_cp(pb_buf *out, uint32_t cp)
{
	char u[4];
	size_t n = pb_utf8_encode(cp, u);
	return pb_buf_put(out, u, n);
}

static int put_escaped(pb_buf *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (put_cp(out, ESC_BASE + p[i]) < 0)
			return PB_ENOMEM;
	return 0;
}

static bool is_c0_bad(uint32_t c) { return c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D; }

/* "&#1;" / "&#x1F;": a character reference XML 1.0 forbids. Returns its length. */
static size_t bad_char_ref(const uint8_t *p, size_t left, uint32_t *value)
{
	if (left < 4 || p[0] != '&' || p[1] != '#')
		return 0;
	size_t i = 2;
	bool hex = false;
	if (p[i] == 'x' || p[i] == 'X') {
		hex = true;
		i++;
	}
	uint32_t v = 0;
	size_t digits = 0;
	for (; i < left && digits < 8; i++, digits++) {
		uint8_t c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0'
			: hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
			: hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			break;
		v = v * (hex ? 16 : 10) + (uint32_t)d;
	}
	if (digits == 0 || i >= left || p[i] != ';' || !is_c0_bad(v))
		return 0;
	*value = v;
	return i + 1;
}

int pb_modem__hilink_neutralise(pb_buf *out, const uint8_t *in, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t b = in[i];
		uint32_t ref;
		size_t rl;
		if (b == '&' && (rl = bad_char_ref(in + i, len - i, &ref)) > 0) {
			uint8_t rb = (uint8_t)ref;
			if (put_escaped(out, &rb, 1) < 0)
				return PB_ENOMEM;
			i += rl;
			continue;
		}
		if (b < 0x80) {
			if ((is_c0_bad(b) ? put_escaped(out, &b, 1) : pb_buf_putc(out, b)) < 0)
				return PB_ENOMEM;
			i++;
			continue;
		}
		/* CESU-8: a UTF-16 surrogate pair written as two 3-byte sequences */
		if (len - i >= 6 && b == 0xED && (in[i + 1] & 0xF0) == 0xA0 && (in[i + 2] & 0xC0) == 0x80 &&
		    in[i + 3] == 0xED && (in[i + 4] & 0xF0) == 0xB0 && (in[i + 5] & 0xC0) == 0x80) {
			uint32_t hi = 0xD000u | ((uint32_t)(in[i + 1] & 0x3F) << 6) | (in[i + 2] & 0x3F);
			uint32_t lo = 0xD000u | ((uint32_t)(in[i + 4] & 0x3F) << 6) | (in[i + 5] & 0x3F);
			if (put_cp(out, 0x10000u + ((hi - 0xD800u) << 10) + (lo - 0xDC00u)) < 0)
				return PB_ENOMEM;
			i += 6;
			continue;
		}
		uint32_t cp;
		size_t n = pb_utf8_decode((const char *)in + i, len - i, &cp);
		bool real_fffd = n == 3 && in[i] == 0xEF && in[i + 1] == 0xBF && in[i + 2] == 0xBD;
		if (cp == PB_UNICODE_REPLACEMENT && !real_fffd) {
			if (put_escaped(out, &b, 1) < 0) /* not UTF-8: keep the byte, escaped */
				return PB_ENOMEM;
			i++;
			continue;
		}
		int rc = (cp >= ESC_BASE && cp <= ESC_BASE + 0xFF) || cp == 0xFFFE || cp == 0xFFFF
				 ? put_escaped(out, in + i, n)
				 : pb_buf_put(out, in + i, n);
		if (rc < 0)
			return PB_ENOMEM;
		i += n;
	}
	return pb_buf_put(out, "", 0);
}

int pb_modem__hilink_unescape(pb_buf *out, const char *in, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = pb_utf8_decode(in + i, len - i, &cp);
		int rc = cp >= ESC_BASE && cp <= ESC_BASE + 0xFF ? pb_buf_putc(out, (uint8_t)(cp - ESC_BASE))
								  : pb_buf_put(out, in + i, n);
		if (rc < 0)
			return PB_ENOMEM;
		i += n;
	}
	return pb_buf_put(out, "", 0);
}

int pb_modem__cesu8_encode(pb_buf *out, const char *utf8, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = pb_utf8_decode(utf8 + i, len - i, &cp);
		int rc;
		if (cp >= 0x10000) {
			uint32_t v = cp - 0x10000;
			uint32_t hi = 0xD800 + (v >> 10), lo = 0xDC00 + (v & 0x3FF);
			uint8_t s[6] = {
				0xED, (uint8_t)(0xA0 | ((hi >> 6) & 0x0F)), (uint8_t)(0x80 | (hi & 0x3F)),
				0xED, (uint8_t)(0xB0 | ((lo >> 6) & 0x0F)), (uint8_t)(0x80 | (lo & 0x3F)),
			};
			rc = pb_buf_put(out, s, 6);
		} else {
			rc = pb_buf_put(out, utf8 + i, n);
		}
		if (rc < 0)
			return PB_ENOMEM;
		i += n;
	}
	return pb_buf_put(out, "", 0);
}

/* --- documents --------------------------------------------------------------- */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init_once(void) { sym_xmlInitParser(); }

/* Offset in the router's bytes of line @line (1-based), column @col: line ends
 * are never changed by neutralising, so lines match. */
static size_t offset_of(const uint8_t *body, size_t len, int line, int col)
{
	size_t off = 0;
	for (int l = 1; l < line && off < len; off++)
		if (body[off] == '\n')
			l++;
	size_t c = col > 1 ? (size_t)col - 1 : 0;
	size_t lend = off;
	while (lend < len && body[lend] != '\n')
		lend++;
	return PB_MIN(off + c, lend);
}

static xmlDocPtr read_doc(const pb_buf *clean, int options, int *line, int *col, char *msg, size_t msgsize)
{
	xmlParserCtxtPtr ctxt = sym_xmlNewParserCtxt();
	if (!ctxt)
		return NULL;
	xmlDocPtr doc = sym_xmlCtxtReadMemory(ctxt, (const char *)clean->data, (int)clean->len, "hilink.xml", "UTF-8",
					  options);
	const xmlError *e = &ctxt->lastError;
	if (e->code != 0 && line) {
		*line = e->line;
		*col = e->int2;
		pb_strlcpy(msg, e->message ? e->message : "not well-formed", msgsize);
		size_t ml = strlen(msg);
		while (ml > 0 && (msg[ml - 1] == '\n' || msg[ml - 1] == ' '))
			msg[--ml] = '\0';
	}
	sym_xmlFreeParserCtxt(ctxt);
	return doc;
}

int pb_modem__hilink_parse(pb_hilink_doc **out, const uint8_t *body, size_t len, bool *recovered,
			   pb_parse_error *perr)
{
	*out = NULL;
	if (recovered)
		*recovered = false;
	int rc = pb_dlib__load(&xml_lib);
	if (rc < 0)
		return rc;
	pthread_once(&xml_once, xml_init_once);
	if (len == 0)
		return pb_error__parse(perr, 0, "empty reply where XML was expected");
	if (len > INT32_MAX / 4)
		return pb_error__parse(perr, 0, "reply too large");
	pb_buf clean = PB_BUF_INIT;
	if (pb_modem__hilink_neutralise(&clean, body, len) < 0) {
		pb_buf_dispose(&clean);
		return pb_error__oom();
	}
	/* No entity substitution (no XML_PARSE_NOENT), no DTD loading, no network. */
	const int base = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
	int line = 0, col = 0;
	char msg[120] = "not well-formed";
	xmlDocPtr doc = read_doc(&clean, base, &line, &col, msg, sizeof(msg));
	if (!doc) {
		doc = read_doc(&clean, base | XML_PARSE_RECOVER, NULL, NULL, NULL, 0);
		if (doc && recovered)
			*recovered = true;
	}
	pb_buf_dispose(&clean);
	if (!doc || !sym_xmlDocGetRootElement(doc)) {
		if (doc)
			sym_xmlFreeDoc(doc);
		return pb_error__parse(perr, offset_of(body, len, line, col), "router XML: %s", msg);
	}
	if (doc->intSubset) {
		sym_xmlFreeDoc(doc);
		return pb_error__parse(perr, 0, "router XML: a DOCTYPE is not accepted");
	}
	pb_hilink_doc *d = pb_calloc(1, sizeof(*d));
	if (!d) {
		sym_xmlFreeDoc(doc);
		return PB_ENOMEM;
	}
	d->doc = doc;
	*out = d;
	return 0;
}

void pb_modem__hilink_doc_free(pb_hilink_doc *d)
{
	if (!d)
		return;
	sym_xmlFreeDoc(d->doc);
	pb_free(d);
}

static bool name_is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && pb_ascii_casecmp((const char *)n->name, name) == 0;
}

static const xmlNode *find_elem(const xmlNode *n, const char *name)
{
	for (; n; n = n->next) {
		if (name_is(n, name))
			return n;
		const xmlNode *f = find_elem(n->children, name);
		if (f)
			return f;
	}
	return NULL;
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
	for (const xmlNode *c = n->children; c; c = c->next)
		if (name_is(c, name))
			return c;
	return NULL;
}

/* The router's bytes of an element's text (escapes undone). */
static int node_raw(const xmlNode *n, pb_buf *out)
{
	xmlChar *t = sym_xmlNodeGetContent(n);
	if (!t)
		return 0;
	int rc = pb_modem__hilink_unescape(out, (const char *)t, strlen((const char *)t));
	(*sym_xmlFree)(t);
	return rc;
}

/* Text of an element as UTF-8 (bad bytes become U+FFFD); new, or NULL. */
static char *node_text(const xmlNode *n, int *err)
{
	if (!n)
		return NULL;
	pb_buf raw = PB_BUF_INIT, text = PB_BUF_INIT;
	if (node_raw(n, &raw) < 0 || pb_utf8_sanitize(&text, pb_buf_cstr(&raw), raw.len) < 0 ||
	    pb_buf_put(&text, "", 0) < 0) {
		pb_buf_dispose(&raw);
		pb_buf_dispose(&text);
		*err = PB_ENOMEM;
		return NULL;
	}
	pb_buf_dispose(&raw);
	return (char *)pb_buf_detach(&text, NULL);
}

char *pb_modem__hilink_doc_get(const pb_hilink_doc *d, const char *name)
{
	int err = 0;
	return node_text(find_elem(sym_xmlDocGetRootElement(d->doc), name), &err);
}

long pb_modem__hilink_doc_error(const pb_hilink_doc *d)
{
	const xmlNode *root = sym_xmlDocGetRootElement(d->doc);
	if (!name_is(root, "error"))
		return 0;
	const xmlNode *c = child(root, "code");
	xmlChar *t = c ? sym_xmlNodeGetContent(c) : NULL;
	long code = t ? strtol((const char *)t, NULL, 10) : -1;
	(*sym_xmlFree)(t);
	return code ? code : -1;
}

bool pb_modem__hilink_doc_ok(const pb_hilink_doc *d)
{
	const xmlNode *root = sym_xmlDocGetRootElement(d->doc);
	if (!name_is(root, "response"))
		return false;
	xmlChar *t = sym_xmlNodeGetContent(root);
	bool ok = t && strncmp((const char *)t, "OK", 2) == 0;
	(*sym_xmlFree)(t);
	return ok;
}

static bool parse_long(const char *s, long *v)
{
	if (!s || !*s)
		return false;
	char *end;
	long x = strtol(s, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (*end)
		return false;
	*v = x;
	return true;
}

static int garbled(pb_modem_msg_list *out, const xmlNode *n, const char *id, const char *why)
{
	pb_modem_msg m = { 0 };
	pb_buf raw = PB_BUF_INIT;
	xmlBufferPtr xb = sym_xmlBufferCreate();
	if (!xb)
		return PB_ENOMEM;
	sym_xmlNodeDump(xb, n->doc, (xmlNodePtr)n, 0, 0);
	int rc = pb_modem__hilink_unescape(&raw, (const char *)sym_xmlBufferContent(xb), (size_t)sym_xmlBufferLength(xb));
	sym_xmlBufferFree(xb);
	if (rc < 0)
		return rc;
	m.id = (char *)id;
	m.type = PB_MODEM_MSG_GARBLED;
	m.state = PB_MODEM_STATE_UNKNOWN;
	m.box_type = -1;
	m.raw = raw.data;
	m.raw_len = raw.len;
	m.raw_format = PB_MODEM_RAW_ENTRY;
	m.error = (char *)why;
	rc = pb_modem_msg_list_add(out, &m);
	pb_buf_dispose(&raw);
	return rc;
}

static int one_message(const xmlNode *n, pb_modem_msg_list *out)
{
	int err = 0, rc = 0;
	char *f_index = node_text(child(n, "Index"), &err);
	char *f_stat = node_text(child(n, "Smstat"), &err);
	char *f_type = node_text(child(n, "SmsType"), &err);
	char *f_phone = node_text(child(n, "Phone"), &err);
	char *f_date = node_text(child(n, "Date"), &err);
	const xmlNode *content = child(n, "Content");
	pb_buf raw = PB_BUF_INIT, text = PB_BUF_INIT;
	char errtext[96];
	long idx, stat = -1, type = 1;
	pb_modem_msg m = { 0 };
	if (err < 0 || (content && node_raw(content, &raw) < 0)) {
		rc = PB_ENOMEM;
		goto out;
	}
	if (!parse_long(f_index, &idx) || idx < 0) {
		rc = garbled(out, n, f_index, "entry without a valid <Index>");
		goto out;
	}
	if (f_type && !parse_long(f_type, &type)) {
		snprintf(errtext, sizeof(errtext), "<SmsType> is not a number");
		rc = garbled(out, n, f_index, errtext);
		goto out;
	}
	if (f_stat)
		parse_long(f_stat, &stat);
	m.id = f_index;
	m.box_type = (int)type;
	m.number = f_phone;
	m.time = f_date;
	m.state = stat == 0 ? PB_MODEM_STATE_UNREAD : stat == 1 ? PB_MODEM_STATE_READ
		: stat == 2 ? PB_MODEM_STATE_UNSENT : stat == 3 ? PB_MODEM_STATE_SENT : PB_MODEM_STATE_UNKNOWN;
	switch (type) {
	case 1: m.type = PB_MODEM_MSG_TEXT; break;
	case 2: m.type = PB_MODEM_MSG_INCOMPLETE; break;
	case 5: m.type = PB_MODEM_MSG_MMS; break;
	case 7: case 8: m.type = PB_MODEM_MSG_REPORT; break;
	default:
		m.type = PB_MODEM_MSG_UNKNOWN;
		snprintf(errtext, sizeof(errtext), "unknown SmsType %ld", type);
		m.error = errtext;
		break;
	}
	if (m.type == PB_MODEM_MSG_REPORT)
		m.error = type == 8 ? "delivery failed" : NULL;
	if (pb_utf8_sanitize(&text, pb_buf_cstr(&raw), raw.len) < 0 || pb_buf_put(&text, "", 0) < 0) {
		rc = PB_ENOMEM;
		goto out;
	}
	if (m.type == PB_MODEM_MSG_MMS) {
		/* the push as bytes, however the firmware spelled it */
		pb_buf push = PB_BUF_INIT;
		if ((rc = pb_modem__hilink_push_bytes(&push, raw.data, raw.len)) < 0) {
			pb_buf_dispose(&push);
			goto out;
		}
		pb_buf_dispose(&raw);
		raw = push;
	}
	if (m.type == PB_MODEM_MSG_MMS || m.type == PB_MODEM_MSG_UNKNOWN) {
		m.raw = raw.data;
		m.raw_len = raw.len;
		m.raw_format = PB_MODEM_RAW_CONTENT;
		if (m.type == PB_MODEM_MSG_MMS) {
			if ((rc = pb_modem__mms_location(raw.data, raw.len, &m.content_location)) < 0)
				goto out;
		} else {
			m.text = (char *)text.data;
		}
	} else {
		m.text = (char *)pb_buf_cstr(&text);
	}
	rc = pb_modem_msg_list_add(out, &m);
out:
	pb_free(m.content_location);
	pb_free(f_index);
	pb_free(f_stat);
	pb_free(f_type);
	pb_free(f_phone);
	pb_free(f_date);
	pb_buf_dispose(&raw);
	pb_buf_dispose(&text);
	return rc;
}

/* --- picture messages: the push inside <Content> ---------------------------- */

static int is_push(const pb_buf *b)
{
	if (!b->len)
		return 0;
	pb_mms_message *mms = NULL;
	/* routers cut the notification's Content-Location: still a push */
	int rc = pb_mms_decode_push_flags(&mms, NULL, b->data, b->len, PB_MMS_DECODE_SALVAGE, NULL);
	pb_mms_message_free(mms);
	if (rc == PB_ENOMEM)
		return rc;
	pb_error_clear();
	return rc == 0;
}

/* UTF-8 whose every character is U+0000..U+00FF, some above U+007F: the
 * bytes those characters stand for; otherwise nothing is appended. */
static int latin1_bytes(pb_buf *out, const uint8_t *p, size_t len)
{
	bool high = false;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = pb_utf8_decode((const char *)p + i, len - i, &cp);
		if (cp > 0xFF) /* U+FFFD for bytes that are not UTF-8 included */
			return 0;
		high = high || cp > 0x7F;
		i += n;
	}
	if (!high)
		return 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		i += pb_utf8_decode((const char *)p + i, len - i, &cp);
		if (pb_buf_putc(out, (uint8_t)cp) < 0)
			return PB_ENOMEM;
	}
	return 0;
}

int pb_modem__hilink_push_bytes(pb_buf *out, const uint8_t *content, size_t len)
{
	pb_buf b = PB_BUF_INIT;
	int rc = 0;
	for (int reading = 0; reading < 4; reading++) {
		pb_buf_clear(&b);
		switch (reading) {
		case 0: rc = pb_buf_put(&b, content, len); break;
		case 1: rc = latin1_bytes(&b, content, len); break;
		case 2: rc = pb_hex_decode(&b, (const char *)content, len, NULL); break;
		default: rc = pb_base64_decode(&b, (const char *)content, len, 0, NULL); break;
		}
		if (rc == PB_ENOMEM)
			break;
		if (rc < 0) {
			pb_error_clear(); /* not spelled that way */
			rc = 0;
			continue;
		}
		if ((rc = is_push(&b)) < 0)
			break;
		if (rc == 1) {
			rc = pb_buf_put(out, b.data, b.len);
			pb_buf_dispose(&b);
			return rc;
		}
	}
	pb_buf_dispose(&b);
	return rc < 0 ? rc : pb_buf_put(out, content, len);
}

static bool has_element_children(const xmlNode *n)
{
	for (const xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return true;
	return false;
}

/* Every <Message> with fields, however deep (a list, a single entry not
 * wrapped as a list, or an entry as the root). */
static int walk(const xmlNode *n, pb_modem_msg_list *out)
{
	for (; n; n = n->next) {
		if (name_is(n, "message") && has_element_children(n)) {
			int rc = one_message(n, out);
			if (rc < 0)
				return rc;
			continue;
		}
		int rc = walk(n->children, out);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int pb_modem__hilink_doc_messages(const pb_hilink_doc *d, pb_modem_msg_list *out)
{
	return walk(sym_xmlDocGetRootElement(d->doc), out);
}

/* --- error codes --------------------------------------------------------- */

static const struct {
	long code;
	int pb;
	const char *text;
} hilink_errors[] = {
	{ -1, PB_EPROTO, "system not available" },
	{ 100002, PB_EUNSUPPORTED, "not supported by this firmware" },
	{ 100003, PB_EAUTH, "no rights (login required)" },
	{ 100004, PB_EBUSY, "system busy" },
	{ 100005, PB_EPROTO, "format error" },
	{ 100006, PB_EINVAL, "parameter error" },
	{ 100009, PB_EIO, "write error" },
	{ 108001, PB_EAUTH, "wrong user name" },
	{ 108002, PB_EAUTH, "wrong password" },
	{ 108003, PB_EEXISTS, "already logged in" },
	{ 108006, PB_EAUTH, "wrong user name or password" },
	{ 108007, PB_EAUTH, "too many login attempts" },
	{ 111019, PB_ETIMEOUT, "no network response" },
	{ 111020, PB_ETIMEOUT, "network timeout" },
	{ 111022, PB_EUNSUPPORTED, "network not supported" },
	{ 113018, PB_EBUSY, "system busy" },
	{ 113053, PB_EBUSY, "SMS send busy" },
	{ 113055, PB_EEXISTS, "SMS already being sent" },
	{ 120001, PB_EBUSY, "voice busy" },
	{ 125001, PB_EAUTH, "wrong token" },
	{ 125002, PB_EAUTH, "session or token expired" },
	{ 125003, PB_EAUTH, "wrong session token" },
};

int pb_modem__hilink_error(long code, const char *what)
{
	for (size_t i = 0; i < PB_ARRAY_SIZE(hilink_errors); i++)
		if (hilink_errors[i].code == code)
			return pb_error_set(hilink_errors[i].pb, "%s: router error %ld: %s", what, code,
					    hilink_errors[i].text);
	return pb_error_set(PB_EPROTO, "%s: router error %ld", what, code);
}
