/*
 * libphonebridge — caller identities: E.164 normalisation and verstat.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input comes from SIP headers, so it is outside text: every step is
 * bounded by the buffer sizes below and never trusts a length. The digits
 * are read by pb_phone_normalize() (phone/phone.c), the one numbering table
 * of the library; this file only finds them in a URI and spots withheld
 * callers.
 */
#include <ctype.h>
#include <string.h>

#include <phonebridge/phone.h>

#include "screen/private.h"

#define USER_MAX 128

/* Words that carriers and PBXes put in the user part of a withheld caller. */
static const char *const anonymous_words[] = {
	"anonymous", "restricted", "private", "unknown", "unavailable", "withheld",
	"anonymous.invalid", "blocked", "none",
};

/*
 * The user part of @in: inside <...> if present, after a sip:/sips:/tel:
 * scheme, before '@', ';' or '?', percent-decoded, trimmed.
 */
static void user_part(char *user, size_t cap, const char *in)
{
	const char *p = in, *end;
	const char *lt = strchr(in, '<');
	if (lt) {
		p = lt + 1;
		end = strchr(p, '>');
		if (!end)
			end = p + strlen(p);
	} else {
		end = p + strlen(p);
	}
	while (p < end && isspace((unsigned char)*p))
		p++;
	if ((size_t)(end - p) >= 4 && pb_ascii_ncasecmp(p, "sip:", 4) == 0)
		p += 4;
	else if ((size_t)(end - p) >= 5 && pb_ascii_ncasecmp(p, "sips:", 5) == 0)
		p += 5;
	else if ((size_t)(end - p) >= 4 && pb_ascii_ncasecmp(p, "tel:", 4) == 0)
		p += 4;
	size_t o = 0;
	for (; p < end && o + 1 < cap; p++) {
		char c = *p;
		if (c == '@' || c == ';' || c == '?' || c == '>')
			break;
		if (c == '%' && end - p >= 3 && pb_hex_digit_value((unsigned char)p[1]) >= 0 && pb_hex_digit_value((unsigned char)p[2]) >= 0) {
			c = (char)(pb_hex_digit_value((unsigned char)p[1]) * 16 + pb_hex_digit_value((unsigned char)p[2]));
			p += 2;
		}
		user[o++] = c;
	}
	while (o > 0 && isspace((unsigned char)user[o - 1]))
		o--;
	user[o] = '\0';
}

static bool is_anonymous(const char *user)
{
	if (user[0] == '\0')
		return true;
	for (size_t i = 0; i < PB_ARRAY_SIZE(anonymous_words); i++)
		if (pb_ascii_casecmp(user, anonymous_words[i]) == 0)
			return true;
	return false;
}

static bool is_punct(char c)
{
	return c == ' ' || c == '\t' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/';
}

int pb_screen_normalize_number(char *out, size_t cap, const char *in,
			       const pb_screen_numbering *nb)
{
	static const pb_screen_numbering defaults = PB_SCREEN_NUMBERING_INIT;
	char user[USER_MAX], clean[USER_MAX];
	bool plus = false, service = false;
	size_t nd = 0, o = 0;

	if (!out || cap < 17)
		return pb_error_set(PB_EINVAL, "normalize_number: output needs at least 17 bytes");
	out[0] = '\0';
	if (!nb)
		nb = &defaults;
	/* version 1 had another layout (its own country code and prefixes) */
	int vrc = PB_CHECK_VERSION(nb, PB_SCREEN_NUMBERING, 2);
	if (vrc < 0)
		return vrc;
	if (!in)
		return PB_SCREEN_NUMBER_ANONYMOUS;
	user_part(user, sizeof(user), in);
	if (is_anonymous(user))
		return PB_SCREEN_NUMBER_ANONYMOUS;

	/* Only number characters go on: a name (alice@example.org) is not one. */
	for (const char *p = user; *p; p++) {
		char c = *p;
		if ((c >= '0' && c <= '9') || c == '*' || c == '#') {
			service |= (c == '*' || c == '#');
			clean[o++] = c;
			nd++;
		} else if (c == '+' && o == 0) {
			clean[o++] = c;
			plus = true;
		} else if (!is_punct(c)) {
			return PB_SCREEN_NUMBER_UNKNOWN;
		}
	}
	clean[o] = '\0';
	if (nd == 0)
		return PB_SCREEN_NUMBER_UNKNOWN;
	/* Short numbers bypass screening: only extensions and service codes. */
	if (!plus && (service ? nd <= PB_MAX(nb->short_max, 8u) : nd <= nb->short_max)) {
		memcpy(out, clean, o + 1);
		return PB_SCREEN_NUMBER_SHORT;
	}
	if (service)
		return PB_SCREEN_NUMBER_UNKNOWN;
	pb_phone_kind kind = PB_PHONE_SHORT;
	if (pb_phone_normalize(out, cap, clean, nb->region[0] ? nb->region : NULL, &kind) < 0 ||
	    kind != PB_PHONE_E164) {
		out[0] = '\0';
		return PB_SCREEN_NUMBER_UNKNOWN;
	}
	return PB_SCREEN_NUMBER_E164;
}

/* --- verstat ------------------------------------------------------------------ */

static const char *find_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (pb_ascii_ncasecmp(hay, needle, n) == 0)
			return hay;
	return NULL;
}

pb_screen_verstat pb_screen_parse_verstat(const char *uri, char *attestation)
{
	if (attestation)
		*attestation = 0;
	if (!uri)
		return PB_VERSTAT_NONE;
	const char *v = find_ci(uri, ";verstat=");
	if (!v)
		return PB_VERSTAT_NONE;
	v += strlen(";verstat=");
	return pb_screen_verstat_from_value(v, strcspn(v, ";@>?& \t,"), attestation);
}

pb_screen_verstat pb_screen_verstat_from_value(const char *v, size_t n, char *attestation)
{
	if (attestation)
		*attestation = 0;
	if (!v)
		return PB_VERSTAT_NONE;
	if (n == 20 && pb_ascii_ncasecmp(v, "TN-Validation-Passed", 20) == 0)
		return PB_VERSTAT_PASSED;
	if (n == 22 && pb_ascii_ncasecmp(v, "TN-Validation-Passed-", 21) == 0) {
		char level = (char)toupper((unsigned char)v[21]);
		if (level == 'A' || level == 'B' || level == 'C') {
			if (attestation)
				*attestation = level;
			return PB_VERSTAT_PASSED;
		}
		return PB_VERSTAT_OTHER;
	}
	if (n == 20 && pb_ascii_ncasecmp(v, "TN-Validation-Failed", 20) == 0)
		return PB_VERSTAT_FAILED;
	if (n == 16 && pb_ascii_ncasecmp(v, "No-TN-Validation", 16) == 0)
		return PB_VERSTAT_NO_VALIDATION;
	return PB_VERSTAT_OTHER;
}

const char *pb_screen_verstat_name(pb_screen_verstat v)
{
	switch (v) {
	case PB_VERSTAT_NONE: return "none";
	case PB_VERSTAT_PASSED: return "TN-Validation-Passed";
	case PB_VERSTAT_FAILED: return "TN-Validation-Failed";
	case PB_VERSTAT_NO_VALIDATION: return "No-TN-Validation";
	case PB_VERSTAT_OTHER: return "other";
	}
	return "other";
}
