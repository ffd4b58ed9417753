/*
 * libphonebridge — SMS: encoding SMS-SUBMIT TPDUs (3GPP TS 23.040 §9.2.2.2):
 * text split into the fewest parts, binary and port-addressed data.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sms-private.h"

#include <string.h>
#include <time.h>

#include "core/internal.h"

#define UD_MAX 140 /* octets of user data in one TPDU */

static const pb_sms_submit_options default_options = PB_SMS_SUBMIT_OPTIONS_INIT;

uint8_t pb_sms_validity_relative(uint32_t s)
{
	/* TS 23.040 §9.2.3.12.1, each range rounded up */
	if (s <= 12u * 3600u)
		return (uint8_t)(s <= 300u ? 0 : (s + 299u) / 300u - 1u);
	if (s <= 24u * 3600u)
		return (uint8_t)(143u + (s - 12u * 3600u + 1799u) / 1800u);
	if (s <= 30u * 86400u)
		return (uint8_t)(166u + (s + 86399u) / 86400u);
	if (s <= 63u * 604800u)
		return (uint8_t)(192u + (s + 604799u) / 604800u);
	return 255;
}

/* --- planning ----------------------------------------------------------- */

typedef struct plan_ctx {
	const char *text;
	size_t len;
} plan_ctx;

/* The code point at text[*i] (well-formed UTF-8, checked before); ASCII inline. */
static inline uint32_t next_cp(const char *text, size_t len, size_t *i)
{
	unsigned char c = (unsigned char)text[*i];
	if (c < 0x80) {
		(*i)++;
		return c;
	}
	uint32_t cp;
	*i += pb_utf8_decode(text + *i, len - *i, &cp);
	return cp;
}

/* Units of one code point: septets in the given tables (0: not there), or
 * UTF-16 code units for UCS-2 (lock == -1). */
static unsigned char_units(uint32_t cp, int lock, unsigned single)
{
	if (lock < 0)
		return cp > 0xFFFF ? 2 : 1;
	uint8_t sept[2];
	return (unsigned)pb_sms__gsm_encode_char(cp, (unsigned)lock, single, sept);
}

/* Octets of the UDH (with UDHL) for the shift tables and concatenation. */
static size_t udh_octets(int lock, unsigned single, bool concat, bool ref16, size_t extra)
{
	size_t n = extra;
	if (lock > 0)
		n += 3;
	if (single > 0)
		n += 3;
	if (concat)
		n += ref16 ? 6 : 5;
	return n ? n + 1 : 0;
}

static size_t capacity(int lock, size_t udh)
{
	if (lock < 0)
		return (UD_MAX - udh) / 2;
	return (UD_MAX * 8 - udh * 8) / 7;
}

/*
 * Count parts for one choice of tables; false when the text does not fit
 * them. Characters are never split between parts (escape pairs, surrogate
 * pairs).
 */
static bool count_parts(const plan_ctx *pc, int lock, unsigned single, bool ref16, pb_sms_text_plan *out)
{
	size_t total = 0;
	for (size_t i = 0; i < pc->len;) {
		unsigned u = char_units(next_cp(pc->text, pc->len, &i), lock, single);
		if (u == 0)
			return false;
		total += u;
	}
	out->units = total;
	out->lang_locking = (uint8_t)(lock > 0 ? lock : 0);
	out->lang_single = (uint8_t)single;
	out->encoding = lock < 0 ? PB_SMS_ENC_UCS2 : PB_SMS_ENC_GSM7;
	size_t one = capacity(lock, udh_octets(lock, single, false, ref16, 0));
	if (total <= one) {
		out->parts = 1;
		out->per_part = one;
		return true;
	}
	size_t cap = capacity(lock, udh_octets(lock, single, true, ref16, 0));
	size_t parts = 1, fill = 0;
	for (size_t i = 0; i < pc->len;) {
		unsigned u = char_units(next_cp(pc->text, pc->len, &i), lock, single);
		if (fill + u > cap) {
			parts++;
			fill = 0;
		}
		fill += u;
	}
	out->parts = parts;
	out->per_part = cap;
	return true;
}

static bool better(const pb_sms_text_plan *a, const pb_sms_text_plan *b)
{
	if (a->parts != b->parts)
		return a->parts < b->parts;
	return a->units < b->units;
}

static int make_plan(pb_sms_text_plan *plan, const char *text, size_t len, const pb_sms_submit_options *o)
{
	size_t bad;
	if (pb_utf8_validate(text, len, &bad) < 0)
		return pb_error_set(PB_EMALFORMED, "offset %zu: text is not UTF-8", bad);
	plan_ctx pc = { text, len };
	bool found = false;
	if (!o->force_ucs2) {
		found = count_parts(&pc, 0, 0, o->ref16, plan);
		if (o->languages && (!found || plan->parts > 1)) {
			for (unsigned l = 0; l <= PB_SMS__LANG_MAX; l++) {
				if (l && (!(o->languages & (1u << l)) || !pb_sms__has_locking(l)))
					continue;
				for (unsigned s = 0; s <= PB_SMS__LANG_MAX; s++) {
					if ((l == 0 && s == 0) || (s && (!(o->languages & (1u << s)) || !pb_sms__has_single(s))))
						continue;
					pb_sms_text_plan p;
					if (count_parts(&pc, (int)l, s, o->ref16, &p) && (!found || better(&p, plan))) {
						*plan = p;
						found = true;
					}
				}
			}
		}
	}
	if (!found)
		count_parts(&pc, -1, 0, o->ref16, plan);
	if (plan->parts > 255)
		return pb_error_set(PB_ETOOBIG, "text needs %zu parts, at most 255 can be joined", plan->parts);
	return 0;
}

/* The options to use (@o or the defaults) in *@use; 0 or PB_EINVAL (message set). */
static int check_options(const pb_sms_submit_options *o, const pb_sms_submit_options **use)
{
	*use = NULL;
	if (!o)
		o = &default_options;
	int rc = PB_CHECK_VERSION(o, PB_SMS_SUBMIT_OPTIONS, 1);
	if (rc < 0)
		return rc;
	if (o->msg_class < -1 || o->msg_class > 3 || o->validity < -1 || o->validity > 255 ||
	    o->reference < -1 || o->reference > 65535)
		return pb_error_set(PB_EINVAL, "pb_sms_submit_options: msg_class, validity or reference "
				    "out of range");
	*use = o;
	return 0;
}

int pb_sms_text_info(pb_sms_text_plan *plan, const char *text, size_t len, const pb_sms_submit_options *opts)
{
	if (!plan || (!text && len))
		return pb_error_set(PB_EINVAL, "pb_sms_text_info: bad argument");
	const pb_sms_submit_options *o;
	int rc = check_options(opts, &o);
	if (rc < 0)
		return rc;
	return make_plan(plan, text ? text : "", len, o);
}

/* --- writing ------------------------------------------------------------ */

typedef struct writer {
	uint8_t *p;
	size_t len;
	size_t cap;
} writer;

static void put(writer *w, uint8_t b)
{
	if (w->len < w->cap)
		w->p[w->len++] = b;
}

static void put_bcd(writer *w, const char *digits, size_t n)
{
	static const char map[] = "0123456789*#abc";
	for (size_t i = 0; i < n; i += 2) {
		uint8_t lo = (uint8_t)(strchr(map, digits[i]) - map);
		uint8_t hi = i + 1 < n ? (uint8_t)(strchr(map, digits[i + 1]) - map) : 0x0F;
		put(w, (uint8_t)(hi << 4 | lo));
	}
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr("0123456789*#abc", s[i]))
			return false;
	return n > 0;
}

/* The SMSC field (TS 24.011 §8.2.5.1). */
static int put_smsc(writer *w, const char *smsc)
{
	if (!smsc || !*smsc) {
		put(w, 0);
		return 0;
	}
	bool intl = smsc[0] == '+';
	const char *d = smsc + intl;
	size_t n = strlen(d);
	if (n > 20 || !all_digits(d, n))
		return pb_error_set(PB_EINVAL, "SMSC address \"%s\" is not a number of up to 20 digits", smsc);
	put(w, (uint8_t)(1 + (n + 1) / 2));
	put(w, intl ? 0x91 : 0x81);
	put_bcd(w, d, n);
	return 0;
}

/* TP-DA (§9.1.2.5): digits, or an alphanumeric name of up to 11 characters. */
static int put_address(writer *w, const char *to)
{
	bool intl = to[0] == '+';
	const char *d = to + intl;
	size_t n = strlen(d);
	if (all_digits(d, n)) {
		if (n > 20)
			return pb_error_set(PB_EINVAL, "destination \"%s\" has more than 20 digits", to);
		put(w, (uint8_t)n);
		put(w, intl ? 0x91 : 0x81);
		put_bcd(w, d, n);
		return 0;
	}
	uint8_t sept[22];
	size_t ns = 0;
	for (size_t i = 0; to[i];) {
		uint32_t cp;
		uint8_t s2[2];
		i += pb_utf8_decode(to + i, strlen(to + i), &cp);
		int k = pb_sms__gsm_encode_char(cp, 0, 0, s2);
		if (k == 0 || ns + (size_t)k > 11)
			return pb_error_set(PB_EINVAL, "destination \"%s\" is neither a number nor an alphanumeric "
				"name of up to 11 GSM characters", to);
		memcpy(sept + ns, s2, (size_t)k);
		ns += (size_t)k;
	}
	if (ns == 0)
		return pb_error_set(PB_EINVAL, "empty destination");
	uint8_t packed[10] = { 0 };
	pb_sms__gsm_pack(sept, ns, 0, packed);
	size_t octets = (ns * 7 + 7) / 8;
	put(w, (uint8_t)((ns * 7 + 3) / 4));
	put(w, 0xD0);
	for (size_t i = 0; i < octets; i++)
		put(w, packed[i]);
	return 0;
}

/* Everything of a SUBMIT before TP-UDL. */
static int put_header(pb_sms_pdu *pdu, writer *w, const char *to, const pb_sms_submit_options *o, uint8_t dcs,
		      bool udhi)
{
	if (o->include_smsc) {
		int rc = put_smsc(w, o->smsc);
		if (rc < 0)
			return rc;
	}
	size_t tpdu_start = w->len;
	uint8_t fo = 0x01;
	if (o->reject_duplicates)
		fo |= 0x04;
	if (o->validity >= 0)
		fo |= 0x10; /* relative format */
	if (o->status_report)
		fo |= 0x20;
	if (udhi)
		fo |= 0x40;
	if (o->reply_path)
		fo |= 0x80;
	put(w, fo);
	put(w, o->mr);
	int rc = put_address(w, to);
	if (rc < 0)
		return rc;
	put(w, o->pid);
	put(w, o->msg_class >= 0 ? (uint8_t)(dcs | 0x10 | o->msg_class) : dcs);
	if (o->validity >= 0)
		put(w, (uint8_t)o->validity);
	pdu->tpdu_len = tpdu_start; /* completed by finish() */
	return 0;
}

static void finish(pb_sms_pdu *pdu, writer *w)
{
	pdu->len = w->len;
	pdu->tpdu_len = w->len - pdu->tpdu_len;
}

static uint16_t fresh_reference(const pb_sms_submit_options *o)
{
	if (o->reference >= 0)
		return (uint16_t)o->reference;
	uint16_t r = 0;
	if (pb_random_bytes(&r, sizeof(r)) < 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (uint16_t)(ts.tv_nsec ^ (ts.tv_nsec >> 16) ^ ts.tv_sec);
	}
	return r;
}

/* The UDH: concatenation, ports, shift tables. Returns its length with UDHL. */
static size_t build_udh(uint8_t *h, size_t parts, size_t seq, uint16_t ref, bool ref16, int dst, int src,
			unsigned lock, unsigned single)
{
	size_t n = 1;
	if (parts > 1) {
		if (ref16) {
			h[n++] = 0x08, h[n++] = 4, h[n++] = (uint8_t)(ref >> 8), h[n++] = (uint8_t)ref;
		} else {
			h[n++] = 0x00, h[n++] = 3, h[n++] = (uint8_t)ref;
		}
		h[n++] = (uint8_t)parts, h[n++] = (uint8_t)seq;
	}
	if (dst >= 0) {
		if (dst < 256 && src < 256) {
			h[n++] = 0x04, h[n++] = 2, h[n++] = (uint8_t)dst, h[n++] = (uint8_t)src;
		} else {
			h[n++] = 0x05, h[n++] = 4;
			h[n++] = (uint8_t)(dst >> 8), h[n++] = (uint8_t)dst;
			h[n++] = (uint8_t)(src >> 8), h[n++] = (uint8_t)src;
		}
	}
	if (lock)
		h[n++] = 0x24, h[n++] = 1, h[n++] = (uint8_t)lock;
	if (single)
		h[n++] = 0x25, h[n++] = 1, h[n++] = (uint8_t)single;
	if (n == 1)
		return 0;
	h[0] = (uint8_t)(n - 1);
	return n;
}

/* Take characters from @text (at *pos) for one part; writes its user data. */
static void fill_text_part(writer *w, const char *text, size_t len, size_t *pos, const pb_sms_text_plan *plan,
			   const uint8_t *udh, size_t udh_len)
{
	uint8_t ud[UD_MAX] = { 0 };
	size_t cap = plan->per_part;
	memcpy(ud, udh, udh_len);
	if (plan->encoding == PB_SMS_ENC_UCS2) {
		size_t n = udh_len;
		while (*pos < len) {
			uint32_t cp;
			size_t k = pb_utf8_decode(text + *pos, len - *pos, &cp);
			size_t units = cp > 0xFFFF ? 2 : 1;
			if ((n - udh_len) / 2 + units > cap)
				break;
			if (cp > 0xFFFF) {
				uint32_t v = cp - 0x10000;
				uint16_t hi = (uint16_t)(0xD800 + (v >> 10)), lo = (uint16_t)(0xDC00 + (v & 0x3FF));
				ud[n++] = (uint8_t)(hi >> 8), ud[n++] = (uint8_t)hi;
				ud[n++] = (uint8_t)(lo >> 8), ud[n++] = (uint8_t)lo;
			} else {
				ud[n++] = (uint8_t)(cp >> 8), ud[n++] = (uint8_t)cp;
			}
			*pos += k;
		}
		put(w, (uint8_t)n);
		for (size_t i = 0; i < n; i++)
			put(w, ud[i]);
		return;
	}
	uint8_t sept[160];
	size_t ns = 0;
	while (*pos < len) {
		uint8_t s2[2];
		size_t next = *pos;
		uint32_t cp = next_cp(text, len, &next);
		int u = pb_sms__gsm_encode_char(cp, plan->lang_locking, plan->lang_single, s2);
		if (ns + (size_t)u > cap)
			break;
		memcpy(sept + ns, s2, (size_t)u);
		ns += (size_t)u;
		*pos = next;
	}
	size_t hs = (udh_len * 8 + 6) / 7;
	pb_sms__gsm_pack(sept, ns, hs, ud);
	size_t udl = hs + ns;
	put(w, (uint8_t)udl);
	for (size_t i = 0; i < (udl * 7 + 7) / 8; i++)
		put(w, ud[i]);
}

static int check_args(pb_sms_pdu **out, size_t *n_out, const char *to, const void *data, size_t len,
		      const pb_sms_submit_options **o)
{
	if (!out || !n_out || !to || (!data && len))
		return pb_error_set(PB_EINVAL, "pb_sms_encode: NULL argument");
	*out = NULL;
	*n_out = 0;
	return check_options(*o, o);
}

int pb_sms_encode_text(pb_sms_pdu **out, size_t *n_out, const char *to, const char *text, size_t len,
		       const pb_sms_submit_options *opts)
{
	const pb_sms_submit_options *o = opts;
	int rc = check_args(out, n_out, to, text, len, &o);
	if (rc < 0)
		return rc;
	if (!text)
		text = "";
	pb_sms_text_plan plan;
	rc = make_plan(&plan, text, len, o);
	if (rc < 0)
		return rc;
	pb_sms_pdu *pdus = pb_malloc(plan.parts * sizeof(*pdus));
	if (!pdus)
		return pb_error__oom();
	uint16_t ref = plan.parts > 1 ? fresh_reference(o) : 0;
	if (!o->ref16)
		ref &= 0xFF;
	uint8_t dcs = plan.encoding == PB_SMS_ENC_UCS2 ? 0x08 : 0x00;
	size_t pos = 0;
	for (size_t i = 0; i < plan.parts; i++) {
		uint8_t udh[24];
		size_t udh_len = build_udh(udh, plan.parts, i + 1, ref, o->ref16, -1, -1, plan.lang_locking,
					   plan.lang_single);
		writer w = { pdus[i].data, 0, sizeof(pdus[i].data) };
		rc = put_header(&pdus[i], &w, to, o, dcs, udh_len > 0);
		if (rc < 0) {
			pb_free(pdus);
			return rc;
		}
		fill_text_part(&w, text, len, &pos, &plan, udh, udh_len);
		finish(&pdus[i], &w);
	}
	*out = pdus;
	*n_out = plan.parts;
	return 0;
}

int pb_sms_encode_binary(pb_sms_pdu **out, size_t *n_out, const char *to, const uint8_t *data, size_t len,
			 int dst_port, int src_port, const pb_sms_submit_options *opts)
{
	const pb_sms_submit_options *o = opts;
	int rc = check_args(out, n_out, to, data, len, &o);
	if (rc < 0)
		return rc;
	if (dst_port > 65535 || src_port > 65535 || src_port < -1)
		return pb_error_set(PB_EINVAL, "port out of range");
	if (dst_port < 0)
		src_port = -1;
	else if (src_port < 0)
		src_port = dst_port;
	uint8_t udh[24];
	size_t one = UD_MAX - build_udh(udh, 1, 1, 0, o->ref16, dst_port, src_port, 0, 0);
	size_t cap = UD_MAX - build_udh(udh, 2, 1, 0, o->ref16, dst_port, src_port, 0, 0);
	size_t parts = len <= one ? 1 : (len + cap - 1) / cap;
	if (parts > 255)
		return pb_error_set(PB_ETOOBIG, "%zu octets need %zu parts, at most 255 can be joined", len, parts);
	pb_sms_pdu *pdus = pb_malloc(parts * sizeof(*pdus));
	if (!pdus)
		return pb_error__oom();
	uint16_t ref = parts > 1 ? fresh_reference(o) : 0;
	if (!o->ref16)
		ref &= 0xFF;
	size_t per = parts == 1 ? one : cap;
	for (size_t i = 0; i < parts; i++) {
		size_t udh_len = build_udh(udh, parts, i + 1, ref, o->ref16, dst_port, src_port, 0, 0);
		writer w = { pdus[i].data, 0, sizeof(pdus[i].data) };
		rc = put_header(&pdus[i], &w, to, o, 0x04, udh_len > 0);
		if (rc < 0) {
			pb_free(pdus);
			return rc;
		}
		size_t n = PB_MIN(per, len - i * per);
		put(&w, (uint8_t)(udh_len + n));
		for (size_t k = 0; k < udh_len; k++)
			put(&w, udh[k]);
		for (size_t k = 0; k < n; k++)
			put(&w, data[i * per + k]);
		finish(&pdus[i], &w);
	}
	*out = pdus;
	*n_out = parts;
	return 0;
}
