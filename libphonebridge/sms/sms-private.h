/*
 * libphonebridge — SMS codec internals shared by its source files. Not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_SMS_PRIVATE_H
#define PB_SMS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <phonebridge/sms.h>

#include "core/internal.h"

/* Highest national language identifier with tables here (TS 23.038 §6.2.1.2.4). */
#define PB_SMS__LANG_MAX 3

/* The escape septet to the single shift table. */
#define PB_SMS__ESC 0x1B

/*
 * Unicode of septet @c (0-127) in the locking shift table of @lang (unknown
 * languages use the default alphabet). 0x1B gives 0 (the escape).
 */
uint16_t pb_sms__locking(unsigned lang, uint8_t c);

/* Unicode of "ESC @c" in the single shift table of @lang, or 0 when the
 * table has nothing at @c. */
uint16_t pb_sms__single(unsigned lang, uint8_t c);

/* Whether @lang has a locking / single shift table of its own. */
bool pb_sms__has_locking(unsigned lang);
bool pb_sms__has_single(unsigned lang);

/*
 * Septet(s) for code point @cp with locking table @lock and single shift
 * table @single: returns 1 (out[0]) or 2 (ESC, out[1]) septets, or 0 when
 * the tables cannot hold it.
 */
int pb_sms__gsm_encode_char(uint32_t cp, unsigned lock, unsigned single, uint8_t out[2]);

/*
 * Decode @n septets starting at septet index @first of the packed data
 * @ud (@ud_len octets, enough for them: checked by the caller) into UTF-8
 * @out of @size bytes (NUL-terminated). Returns the length written.
 */
size_t pb_sms__gsm_unpack(const uint8_t *ud, size_t first, size_t n, unsigned lock, unsigned single,
			  char *out, size_t size);

/* Pack septets: write @n septets into @out starting at septet index @first
 * (bits below are left as they are: the UDH and fill bits). */
void pb_sms__gsm_pack(const uint8_t *septets, size_t n, size_t first, uint8_t *out);

/* UTF-16BE @len octets to UTF-8 into @out of @size (NUL-terminated): pairs
 * joined, lone surrogates and an odd last octet become U+FFFD. */
size_t pb_sms__ucs2_to_utf8(const uint8_t *in, size_t len, char *out, size_t size);

/*
 * Decode a user data header given on its own, starting at its UDHL octet
 * (as gateways such as Gammu/SMSEagle store it beside the text): *h is
 * zeroed, then filled as pb_sms_decode() fills pb_sms_message.udh;
 * h->ies[].data point into @p udh. PB_EMALFORMED (with the offset) when the
 * header is shorter than its UDHL or an element overruns it; *h then keeps
 * what was read before the fault.
 */
PB_PRIVATE_API int pb_sms__udh_decode(const uint8_t *udh, size_t len, pb_sms_udh *h, pb_parse_error *perr);

/*
 * From now on, the text of a group surfaced with parts missing carries a
 * marker where each missing part's text would be ("[part 2 of 3 missing]"),
 * so that a reader sees what is not there (the modem watch turns this on).
 */
PB_PRIVATE_API void pb_sms__reassembler_mark_missing(pb_sms_reassembler *r, bool on);

/* Forget the group @key without surfacing it (here and in the store): its
 * parts were dealt with elsewhere. 0 also when no such group is held. */
PB_PRIVATE_API int pb_sms__reassembler_drop(pb_sms_reassembler *r, const pb_sms_group_key *key);

#endif
