/*
 * libphonebridge — telephone numbers to E.164.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Caller identities (SIP From, P-Asserted-Identity), SMS originators and
 * numbers typed by people come in many shapes: "+44 20 7946 0958",
 * "0044 (0)20-7946-0958", "(202) 555-0123", "011 49 30 1234567". The store
 * keys contacts and allow/deny lists by E.164 ("+4930123456"), so every
 * number goes through pb_phone_normalize() first:
 *
 *     char e164[PB_PHONE_MAX];
 *     pb_phone_kind kind;
 *     if (pb_phone_normalize(e164, sizeof(e164), from_user, "DE", &kind) == 0)
 *         ... e164 is "+49..." (kind PB_PHONE_E164), or the short code or
 *             alphanumeric sender as it came (PB_PHONE_SHORT, _ALPHANUMERIC)
 *
 * This is a small table-driven normaliser, not libphonenumber: it knows each
 * supported region's country calling code, international and trunk prefixes
 * and national number lengths (docs/store.md lists what it does not handle).
 * It does not decide whether a number is in service or valid in its plan.
 */
#ifndef PHONEBRIDGE_PHONE_H
#define PHONEBRIDGE_PHONE_H

#include <phonebridge/common.h>

PB_BEGIN_DECLS

/** A buffer of this size holds any E.164 result ("+" and 15 digits). */
#define PB_PHONE_MAX 32

/** What pb_phone_normalize() made of its input. */
typedef enum pb_phone_kind {
	PB_PHONE_E164 = 0,         /**< "+" and 7 to 15 digits */
	PB_PHONE_SHORT = 1,        /**< a short code or service number, copied unchanged */
	PB_PHONE_ALPHANUMERIC = 2, /**< a sender name with letters ("Vodafone", "1-800-FLOWERS"), copied unchanged */
} pb_phone_kind;

/**
 * Normalise a telephone number to E.164.
 *
 * Spaces, tabs and the punctuation `-` `.` `(` `)` `/` are removed. Then:
 *  - "+CC..." is taken as international; a trunk prefix written after a
 *    known country code ("+44 (0)20...") is dropped;
 *  - a number starting with one of @p default_region's international
 *    prefixes (00, 011 in NANP, 0011 in AU, 010 in JP, ...) is
 *    international too;
 *  - a number starting with the region's trunk prefix (0; 1 in NANP) has it
 *    replaced by the country code (not in IT, where the 0 belongs to the
 *    number, nor in regions without a trunk prefix such as PL and ES);
 *  - any other digit string long enough to be a national number of the
 *    region gets the country code in front; shorter ones are short codes.
 *
 * @param out            receives the NUL-terminated result; caller-owned
 * @param size           size of @p out; PB_PHONE_MAX is enough for E.164
 *                       results, a short code or sender name needs its own
 *                       length plus one
 * @param number         NUL-terminated input; borrowed
 * @param default_region ISO 3166 alpha-2 code ("DE", "us") of the region the
 *                       number was dialled or received in; borrowed; may be
 *                       NULL when the number is known to be international
 *                       (then national forms give PB_EUNSUPPORTED)
 * @param kind           optional; receives what the result is
 * @return 0; PB_EINVAL (NULL @p out or @p number); PB_EMALFORMED (empty,
 *         a misplaced "+", a character that belongs in no number, an
 *         international number outside 7..15 digits or starting with 0);
 *         PB_EUNSUPPORTED (a region not in the table, when the number needs
 *         one); PB_ERANGE (a national number too long for its region);
 *         PB_ETOOBIG (the result does not fit @p out). On failure @p out
 *         holds "".
 */
PB_API int pb_phone_normalize(char *out, size_t size, const char *number,
			      const char *default_region, pb_phone_kind *kind);

/**
 * The country calling code of a region, e.g. 49 for "DE", 1 for "CA".
 *
 * @param region ISO 3166 alpha-2 code, any case; borrowed
 * @return the code (1..999), or PB_EUNSUPPORTED for a region not in the table
 */
PB_API int pb_phone_country_code(const char *region);

/**
 * An E.164 number for people to read: the country calling code set apart
 * ("+4915177778888" -> "+49 15177778888"), and the North American plan's
 * fixed 3-3-4 groups ("+14155550123" -> "+1 415 555 0123"). The numbering
 * table has no area codes or grouping of other plans, so their national
 * number stays in one piece; a country code not in the table, or anything
 * that is not "+" and 7 to 15 digits (a short code, a sender name), is
 * copied unchanged. For display only: keys stay E.164.
 *
 * @param out    receives the NUL-terminated result; caller-owned
 * @param size   size of @p out; PB_PHONE_MAX is enough for an E.164 input
 * @param e164   NUL-terminated input; borrowed
 * @return 0; PB_EINVAL (NULL @p out or @p e164, or @p size 0); PB_ETOOBIG
 *         (the result does not fit @p out, which then holds "")
 */
PB_API int pb_phone_format(char *out, size_t size, const char *e164);

PB_END_DECLS

#endif
