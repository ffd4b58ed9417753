/*
 * libphonebridge — telephone numbers to E.164 (see phonebridge/phone.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "phone/phone-private.h"

#include <phonebridge/phone.h>

#define E164_MIN_DIGITS 7
#define E164_MAX_DIGITS 15

/*
 * Country calling codes, international prefixes and national (trunk)
 * prefixes. Sources: ITU-T E.164 "List of ITU-T Recommendation E.164
 * assigned country codes" (Annex to ITU Operational Bulletin No. 1125) for
 * the codes; ITU-T "Dialling procedures (international prefix, national
 * (trunk) prefix and national (significant) number)" (Annex to ITU
 * Operational Bulletin No. 994, 2011, with later amendments) for the
 * prefixes and number lengths. Cross-checked against libphonenumber's
 * metadata (python3-phonenumbers 8.12.57) by tests/phone-oracle.py.
 *
 * min/max: length of the national significant number (without trunk
 * prefix) as people and networks use it; a bare digit string shorter than
 * min is a short code. The minimum is the shortest number of the plan that
 * a subscriber has, not service numbers (which stay short codes).
 */
typedef struct region {
	char iso[3];
	uint16_t cc;
	const char *intl;     /* '|'-separated international prefixes */
	const char *trunk;    /* national (trunk) prefix, "" for none */
	const char *carriers; /* 2-digit carrier selection codes allowed after the trunk prefix */
	uint8_t min, max;
} region;

/* Brazil dials a carrier selection code after 00 and after the trunk 0 (Anatel). */
#define BR_CARRIERS "12 14 15 21 23 24 25 31 41 43 55 65 99"

static const region regions[] = {
	{ "US", 1, "011", "1", NULL, 10, 10 },    /* NANP: 011 international, 1 trunk */
	{ "CA", 1, "011", "1", NULL, 10, 10 },
	{ "GB", 44, "00", "0", NULL, 9, 10 },
	{ "IE", 353, "00", "0", NULL, 7, 10 },
	{ "DE", 49, "00", "0", NULL, 6, 13 },
	{ "AT", 43, "00", "0", NULL, 7, 13 },
	{ "CH", 41, "00", "0", NULL, 9, 9 },
	{ "FR", 33, "00", "0", NULL, 9, 9 },
	{ "BE", 32, "00", "0", NULL, 8, 9 },
	{ "NL", 31, "00", "0", NULL, 7, 11 },
	{ "ES", 34, "00", "", NULL, 9, 9 },       /* no trunk prefix since 1998 */
	{ "PT", 351, "00", "", NULL, 9, 9 },
	{ "IT", 39, "00", "", NULL, 6, 11 },      /* the leading 0 of fixed numbers is part of the number */
	{ "PL", 48, "00", "", NULL, 9, 9 },       /* no trunk prefix since 2005 */
	{ "CZ", 420, "00", "", NULL, 9, 9 },
	{ "GR", 30, "00", "", NULL, 10, 10 },
	{ "DK", 45, "00", "", NULL, 8, 8 },
	{ "NO", 47, "00", "", NULL, 8, 8 },
	{ "SE", 46, "00", "0", NULL, 7, 10 },
	{ "TR", 90, "00", "0", NULL, 7, 10 },
	{ "ZA", 27, "00", "0", NULL, 9, 9 },
	{ "IN", 91, "00", "0", NULL, 10, 13 },
	{ "JP", 81, "010", "0", NULL, 9, 10 },
	{ "AU", 61, "0011|0014|0015|0016|0018|0019", "0", NULL, 9, 10 },
	{ "NZ", 64, "00|0161", "0", NULL, 8, 10 },
	{ "BR", 55,
	  "0012|0014|0015|0021|0023|0024|0025|0031|0041|0043|0055|0065|0099",
	  "0", BR_CARRIERS, 9, 11 },
};

static const region *region_by_iso(const char *iso)
{
	if (iso == NULL || strlen(iso) != 2)
		return NULL;
	for (size_t i = 0; i < PB_ARRAY_SIZE(regions); i++)
		if (pb_ascii_casecmp(regions[i].iso, iso) == 0)
			return &regions[i];
	return NULL;
}

/* The first region with country code @cc at the start of @digits. */
static const region *region_by_cc_prefix(const char *digits, size_t *cclen)
{
	for (size_t i = 0; i < PB_ARRAY_SIZE(regions); i++) {
		char cc[8];
		int n = snprintf(cc, sizeof(cc), "%u", (unsigned)regions[i].cc);
		if (strncmp(digits, cc, (size_t)n) == 0) {
			*cclen = (size_t)n;
			return &regions[i];
		}
	}
	return NULL;
}

PB_API int pb_phone_country_code(const char *region_code)
{
	const region *r = region_by_iso(region_code);
	if (r == NULL)
		return pb_error_set(PB_EUNSUPPORTED, "region %s is not in the numbering table",
				    region_code ? region_code : "(null)");
	return r->cc;
}

const char *pb_phone__region_of_code(unsigned cc)
{
	for (size_t i = 0; i < PB_ARRAY_SIZE(regions); i++)
		if (regions[i].cc == cc)
			return regions[i].iso;
	return NULL;
}

static bool is_punct(char c)
{
	return c == ' ' || c == '\t' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/';
}

/* Length of the prefix of @digits in the '|'-separated @list, 0 if none. */
static size_t match_prefix(const char *digits, const char *list)
{
	size_t best = 0;
	while (list && *list) {
		size_t n = strcspn(list, "|");
		if (n > best && strncmp(digits, list, n) == 0)
			best = n;
		list += n;
		if (*list == '|')
			list++;
	}
	return best;
}

static bool is_carrier(const region *r, const char *d)
{
	if (r->carriers == NULL)
		return false;
	for (const char *c = r->carriers; *c; c += (c[2] ? 3 : 2))
		if (c[0] == d[0] && c[1] == d[1])
			return true;
	return false;
}

static int put(char *out, size_t size, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la + lb + 1 > size)
		return pb_error_set(PB_ETOOBIG, "normalised number needs %zu bytes, buffer has %zu",
				    la + lb + 1, size);
	memcpy(out, a, la);
	memcpy(out + la, b, lb + 1);
	return 0;
}

/* @digits follow a "+" or an international prefix: country code and number. */
static int international(char *out, size_t size, const char *digits)
{
	size_t n = strlen(digits);
	if (n < E164_MIN_DIGITS || n > E164_MAX_DIGITS + 1)
		return pb_error_set(PB_EMALFORMED, "international number with %zu digits", n);
	if (digits[0] == '0')
		return pb_error_set(PB_EMALFORMED, "country code cannot start with 0");
	/* A trunk prefix written after a known country code: "+44 (0)20 ...". */
	size_t cclen = 0;
	const region *r = region_by_cc_prefix(digits, &cclen);
	size_t tl = r ? strlen(r->trunk) : 0;
	if (r && tl > 0 && strncmp(digits + cclen, r->trunk, tl) == 0) {
		/* No national number of a table region starts with its trunk prefix. */
		size_t rest = n - cclen - tl;
		if (rest >= 4 && cclen + rest >= E164_MIN_DIGITS && rest <= r->max) {
			char cc[8];
			snprintf(cc, sizeof(cc), "+%u", (unsigned)r->cc);
			return put(out, size, cc, digits + cclen + tl);
		}
	}
	if (n > E164_MAX_DIGITS)
		return pb_error_set(PB_EMALFORMED, "international number with %zu digits", n);
	return put(out, size, "+", digits);
}

static int national(char *out, size_t size, const char *digits, const region *r, bool *shortcode)
{
	size_t n = strlen(digits);
	size_t tl = strlen(r->trunk);
	const char *nsn = digits;
	if (tl > 0 && strncmp(digits, r->trunk, tl) == 0) {
		nsn = digits + tl;
		if (strlen(nsn) > r->max && strlen(nsn) >= 2 && is_carrier(r, nsn))
			nsn += 2;
	} else if (n > r->max) {
		/* Country code without "+", as some SIP trunks send it. */
		char cc[8];
		int l = snprintf(cc, sizeof(cc), "%u", (unsigned)r->cc);
		size_t rest = n - (size_t)l;
		if (strncmp(digits, cc, (size_t)l) == 0 && rest >= r->min && rest <= r->max)
			return put(out, size, "+", digits);
	}
	size_t len = strlen(nsn);
	if (len < r->min) {
		*shortcode = true;
		return 0;
	}
	if (len > r->max)
		return pb_error_set(PB_ERANGE, "%zu digits are too many for a national number in %s",
				    len, r->iso);
	char cc[8];
	snprintf(cc, sizeof(cc), "+%u", (unsigned)r->cc);
	return put(out, size, cc, nsn);
}

/* Sort the input into digits, or decide it is not a number to touch. */
static int scan(const char *number, char *digits, size_t dsize, bool *plus, pb_phone_kind *kind)
{
	size_t nd = 0;
	bool letters = false, service = false;
	*plus = false;
	for (const char *p = number; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 && c != '\t')
			return pb_error__parse(NULL, (size_t)(p - number), "control character 0x%02x in number", c);
		if (c == 0x7f)
			return pb_error__parse(NULL, (size_t)(p - number), "control character 0x7f in number");
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c >= 0x80)
			letters = true;
	}
	if (letters) {
		*kind = PB_PHONE_ALPHANUMERIC;
		return 0;
	}
	for (const char *p = number; *p; p++) {
		char c = *p;
		if (c >= '0' && c <= '9') {
			if (nd + 1 >= dsize)
				return pb_error_set(PB_EMALFORMED, "more than %zu digits", dsize - 2);
			digits[nd++] = c;
		} else if (c == '+') {
			if (nd > 0 || *plus)
				return pb_error__parse(NULL, (size_t)(p - number), "misplaced '+'");
			*plus = true;
		} else if (c == '*' || c == '#') {
			service = true;
		} else if (!is_punct(c)) {
			return pb_error__parse(NULL, (size_t)(p - number), "character '%c' in number", c);
		}
	}
	digits[nd] = '\0';
	if (service) {
		*kind = PB_PHONE_SHORT;
		return 0;
	}
	if (nd == 0)
		return pb_error_set(PB_EMALFORMED, "no digits in number");
	*kind = PB_PHONE_E164;
	return 0;
}

PB_API int pb_phone_normalize(char *out, size_t size, const char *number,
			      const char *default_region, pb_phone_kind *kind)
{
	if (out == NULL || size == 0 || number == NULL)
		return pb_error_set(PB_EINVAL, "pb_phone_normalize: NULL argument");
	out[0] = '\0';
	char digits[64];
	bool plus = false, shortcode = false;
	pb_phone_kind k = PB_PHONE_E164;
	int rc = scan(number, digits, sizeof(digits), &plus, &k);
	if (rc < 0)
		return rc;
	if (k == PB_PHONE_E164) {
		const region *r = region_by_iso(default_region);
		size_t il = r ? match_prefix(digits, r->intl) : 0;
		if (plus)
			rc = international(out, size, digits);
		else if (il > 0)
			rc = international(out, size, digits + il);
		else if (r == NULL)
			rc = pb_error_set(PB_EUNSUPPORTED, "national number %s needs a known region, not %s",
					  number, default_region ? default_region : "none");
		else
			rc = national(out, size, digits, r, &shortcode);
		if (rc == 0 && shortcode)
			k = PB_PHONE_SHORT;
	}
	if (rc == 0 && k != PB_PHONE_E164)
		rc = put(out, size, number, "");
	if (rc < 0) {
		out[0] = '\0';
		return rc;
	}
	if (kind)
		*kind = k;
	return 0;
}

PB_API int pb_phone_format(char *out, size_t size, const char *e164)
{
	if (out == NULL || size == 0 || e164 == NULL)
		return pb_error_set(PB_EINVAL, "pb_phone_format: NULL argument");
	out[0] = '\0';
	size_t n = strlen(e164), cclen = 0;
	bool number = e164[0] == '+' && n >= 8 && n <= 16 && strspn(e164 + 1, "0123456789") == n - 1;
	const region *r = number ? region_by_cc_prefix(e164 + 1, &cclen) : NULL;
	const char *nsn = e164 + 1 + cclen;
	int w;
	if (r == NULL)
		w = snprintf(out, size, "%s", e164);
	else if (r->cc == 1 && strlen(nsn) == 10)
		w = snprintf(out, size, "+1 %.3s %.3s %s", nsn, nsn + 3, nsn + 6);
	else
		w = snprintf(out, size, "+%.*s %s", (int)cclen, e164 + 1, nsn);
	if (w < 0 || (size_t)w >= size) {
		out[0] = '\0';
		return pb_error_set(PB_ETOOBIG, "pb_phone_format: %zu bytes are too few for %s", size, e164);
	}
	return 0;
}
