/*
 * libphonebridge — reading what an SMSEagle gateway says (jansson), and the
 * form fields of its webhook. Pure functions over outside bytes: fuzzed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * API v1 JSON-RPC rows use Gammu's SQL column names (ID, SenderNumber,
 * TextDecoded, ReceivingDateTime, UDH, readed). Rows of MMS carry
 * message_type "mms" and base64 attachments (as SMSEagle documents them; not
 * verified against a device). The parts of a concatenated message are rows of
 * their own, as in Gammu's inbox table, each with its UDH in hex: they come
 * out as one record whose id lists every part ("7,8,9"), text joined in
 * order; while parts are missing, as one PB_MODEM_MSG_INCOMPLETE record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "modem-internal.h"
#include "sms/sms-private.h"

static const char *str_field(json_t *o, const char *name, char *num, size_t numsize)
{
	json_t *v = json_object_get(o, name);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(num, numsize, "%lld", (long long)json_integer_value(v));
		return num;
	}
	return NULL;
}

static bool truthy(json_t *v)
{
	if (json_is_true(v))
		return true;
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		return strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
	}
	return false;
}

static int garbled_row(pb_modem_msg_list *out, json_t *row, const char *why)
{
	char *dump = json_dumps(row, JSON_COMPACT | JSON_ENCODE_ANY);
	pb_modem_msg m = { .type = PB_MODEM_MSG_GARBLED, .state = PB_MODEM_STATE_UNKNOWN, .box_type = -1,
			   .raw = (uint8_t *)dump, .raw_len = dump ? strlen(dump) : 0,
			   .raw_format = PB_MODEM_RAW_ENTRY, .error = (char *)why };
	int rc = pb_modem_msg_list_add(out, &m);
	free(dump);
	return rc;
}

/* The first attachment that is not the SMIL layout, decoded. */
static int mms_attachment(json_t *row, pb_buf *out, const char **ctype)
{
	json_t *atts = json_object_get(row, "attachments");
	size_t i;
	json_t *a;
	*ctype = NULL;
	json_array_foreach(atts, i, a) {
		const char *ct = json_string_value(json_object_get(a, "content_type"));
		const char *data = json_string_value(json_object_get(a, "data"));
		if (!data || (ct && strstr(ct, "smil")))
			continue;
		pb_buf_clear(out);
		int rc = pb_base64_decode(out, data, strlen(data), 0, NULL);
		if (rc == PB_ENOMEM)
			return rc;
		if (rc == 0) {
			*ctype = ct;
			return 0;
		}
	}
	return 0;
}

static int one_row(json_t *row, pb_modem_msg_list *out)
{
	char idbuf[24], numbuf[24];
	if (!json_is_object(row))
		return garbled_row(out, row, "row is not an object");
	const char *id = str_field(row, "ID", idbuf, sizeof(idbuf));
	if (!id || !*id || strlen(id) > 20)
		return garbled_row(out, row, "row without an ID");
	const char *text = str_field(row, "TextDecoded", numbuf, sizeof(numbuf));
	const char *number = json_string_value(json_object_get(row, "SenderNumber"));
	const char *time = json_string_value(json_object_get(row, "ReceivingDateTime"));
	const char *type = json_string_value(json_object_get(row, "message_type"));
	pb_buf text_ok = PB_BUF_INIT, att = PB_BUF_INIT;
	int rc = 0;
	if (text && (rc = pb_utf8_sanitize(&text_ok, text, strlen(text))) < 0)
		goto out;
	pb_modem_msg m = { .id = (char *)id, .type = PB_MODEM_MSG_TEXT, .box_type = -1, .number = (char *)number,
			   .time = (char *)time, .text = text ? (char *)pb_buf_cstr(&text_ok) : NULL };
	m.state = truthy(json_object_get(row, "readed")) ? PB_MODEM_STATE_READ : PB_MODEM_STATE_UNREAD;
	if (type && strcmp(type, "mms") == 0) {
		const char *ct;
		m.type = PB_MODEM_MSG_MMS;
		if ((rc = mms_attachment(row, &att, &ct)) < 0)
			goto out;
		if (att.len) {
			m.raw = att.data;
			m.raw_len = att.len;
			m.raw_format = PB_MODEM_RAW_FILE;
		}
	} else if (type && strcmp(type, "sms") != 0) {
		m.type = PB_MODEM_MSG_UNKNOWN;
		m.error = "unknown message_type";
	}
	rc = pb_modem_msg_list_add(out, &m);
out:
	pb_buf_dispose(&text_ok);
	pb_buf_dispose(&att);
	return rc;
}

/* --- concatenated messages: one row per part ------------------------------ */

typedef struct concat_key {
	bool ok;
	uint16_t ref;
	uint8_t total, seq;
} concat_key;

/* The concatenation IE (0x00 or 0x08) of a UDH given in hex, if any: the
 * sms module reads the header; what it read before a fault still counts. */
static concat_key row_concat(json_t *row)
{
	concat_key k = { false, 0, 0, 0 };
	const char *hex = json_string_value(json_object_get(row, "UDH"));
	if (!hex || !*hex)
		return k;
	uint8_t b[140];
	size_t n = 0, len = strlen(hex);
	for (size_t i = 0; i + 1 < len && n < sizeof(b); i += 2) {
		int hi = pb_hex_digit_value(hex[i]), lo = pb_hex_digit_value(hex[i + 1]);
		if (hi < 0 || lo < 0)
			return k;
		b[n++] = (uint8_t)(hi << 4 | lo);
	}
	pb_sms_udh h;
	(void)pb_sms__udh_decode(b, n, &h, NULL);
	if (h.has_concat && h.concat_total >= 2)
		k = (concat_key){ true, h.concat_ref, h.concat_total, h.concat_seq };
	return k;
}

static bool same_message(json_t *a, const concat_key *ka, json_t *b, const concat_key *kb)
{
	const char *na = json_string_value(json_object_get(a, "SenderNumber"));
	const char *nb = json_string_value(json_object_get(b, "SenderNumber"));
	return kb->ok && ka->ref == kb->ref && ka->total == kb->total && na && nb && !strcmp(na, nb);
}

/* The parts of the message whose first row in the reply is @first, joined.
 * Marks the rows used in @used. */
static int joined_parts(json_t *rows, size_t first, const concat_key *keys, bool *used, pb_modem_msg_list *out)
{
	json_t *f = json_array_get(rows, first);
	const concat_key *kf = &keys[first];
	pb_buf ids = PB_BUF_INIT, text = PB_BUF_INIT, t = PB_BUF_INIT;
	const char *time = NULL;
	bool unread = false;
	unsigned have = 0;
	int rc = 0;
	char num[24], tnum[24];
	bool gap = false; /* the part before was missing: a space before the next text */
	for (unsigned seq = 1; seq <= kf->total && rc == 0; seq++) {
		unsigned had = have;
		for (size_t i = first; i < json_array_size(rows); i++) {
			json_t *r = json_array_get(rows, i);
			if (used[i] || keys[i].seq != seq || !same_message(f, kf, r, &keys[i]))
				continue;
			used[i] = true;
			have++;
			const char *id = str_field(r, "ID", num, sizeof(num));
			const char *tx = str_field(r, "TextDecoded", tnum, sizeof(tnum));
			if (seq == 1 || !time)
				time = json_string_value(json_object_get(r, "ReceivingDateTime"));
			unread = unread || !truthy(json_object_get(r, "readed"));
			if ((ids.len && (rc = pb_buf_putc(&ids, ',')) < 0) || (rc = pb_buf_puts(&ids, id ? id : "")) < 0)
				break;
			pb_buf_clear(&t);
			if (gap && (rc = pb_buf_putc(&text, ' ')) < 0)
				break;
			gap = false;
			if (tx && ((rc = pb_utf8_sanitize(&t, tx, strlen(tx))) < 0 ||
				   (rc = pb_buf_put(&text, t.data, t.len)) < 0))
				break;
			break; /* one row per part (a part seen twice is left as it is) */
		}
		/* a part not there: a marker where its text would be */
		if (rc == 0 && had == have) {
			rc = pb_buf_printf(&text, "%s[part %u of %u missing]", text.len ? " " : "", seq,
					   (unsigned)kf->total);
			gap = true;
		}
	}
	if (rc == 0) {
		pb_modem_msg m = { .id = (char *)pb_buf_cstr(&ids),
				   .type = have == kf->total ? PB_MODEM_MSG_TEXT : PB_MODEM_MSG_INCOMPLETE,
				   .state = unread ? PB_MODEM_STATE_UNREAD : PB_MODEM_STATE_READ, .box_type = -1,
				   .number = (char *)json_string_value(json_object_get(f, "SenderNumber")),
				   .time = (char *)time, .text = (char *)pb_buf_cstr(&text) };
		rc = pb_modem_msg_list_add(out, &m);
	}
	pb_buf_dispose(&ids);
	pb_buf_dispose(&text);
	pb_buf_dispose(&t);
	return rc;
}

static int rows_to_list(json_t *rows, pb_modem_msg_list *out)
{
	size_t n = json_array_size(rows);
	concat_key *keys = n ? pb_calloc(n, sizeof(*keys)) : NULL;
	bool *used = n ? pb_calloc(n, sizeof(*used)) : NULL;
	int rc = n && (!keys || !used) ? PB_ENOMEM : 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_t *r = json_array_get(rows, i);
		const char *type = json_is_object(r) ? json_string_value(json_object_get(r, "message_type")) : NULL;
		char num[24];
		const char *id = json_is_object(r) ? str_field(r, "ID", num, sizeof(num)) : NULL;
		if (id && *id && strlen(id) <= 20 && (!type || !strcmp(type, "sms")))
			keys[i] = row_concat(r);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (used[i])
			continue;
		if (keys[i].ok)
			rc = joined_parts(rows, i, keys, used, out);
		else
			rc = one_row(json_array_get(rows, i), out);
	}
	pb_free(keys);
	pb_free(used);
	return rc;
}

static int load(json_t **out, const char *json, size_t len, pb_parse_error *perr)
{
	json_error_t e;
	*out = json_loadb(json, len, JSON_DECODE_ANY, &e);
	if (!*out)
		return pb_error__parse(perr, e.position > 0 && (size_t)e.position <= len ? (size_t)e.position : 0,
				       "SMSEagle JSON: %s", e.text);
	return 0;
}

int pb_modem__smseagle_parse_rows(const char *json, size_t len, pb_modem_msg_list *out, pb_parse_error *perr)
{
	json_t *root;
	int rc = load(&root, json, len, perr);
	if (rc < 0)
		return rc;
	json_t *res = json_is_object(root) ? json_object_get(root, "result") : NULL;
	json_t *err = json_is_object(root) ? json_object_get(root, "error") : NULL;
	if (json_is_array(res)) {
		rc = rows_to_list(res, out);
	} else if (json_is_string(res)) {
		const char *s = json_string_value(res);
		if (strstr(s, "No data"))
			rc = 0;
		else if (strstr(s, "Invalid") || strstr(s, "login") || strstr(s, "token"))
			rc = pb_error_set(PB_EAUTH, "SMSEagle: %s", s);
		else
			rc = pb_error_set(PB_EPROTO, "SMSEagle: %s", s);
	} else if (err) {
		const char *s = json_is_string(err) ? json_string_value(err)
						    : json_string_value(json_object_get(err, "message"));
		rc = pb_error_set(PB_EPROTO, "SMSEagle error: %s", s ? s : "(no message)");
	} else {
		rc = pb_error__parse(perr, 0, "SMSEagle JSON: no \"result\"");
	}
	json_decref(root);
	return rc;
}

int pb_modem__smseagle_parse_signal(const char *json, size_t len, int *percent, pb_parse_error *perr)
{
	json_t *root;
	*percent = -1;
	int rc = load(&root, json, len, perr);
	if (rc < 0)
		return rc;
	json_t *v = root;
	if (json_is_object(root)) {
		static const char *const names[] = { "signal_strength", "signal", "strength", "result" };
		v = NULL;
		for (size_t i = 0; i < PB_ARRAY_SIZE(names) && !v; i++)
			v = json_object_get(root, names[i]);
	}
	if (json_is_string(v))
		*percent = atoi(json_string_value(v));
	else if (json_is_integer(v))
		*percent = (int)json_integer_value(v);
	else
		rc = pb_error__parse(perr, 0, "SMSEagle JSON: no signal value");
	if (*percent < 0 || *percent > 100)
		*percent = -1;
	json_decref(root);
	return rc;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* application/x-www-form-urlencoded value, decoded. */
static int url_decode(pb_buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int rc;
		if (s[i] == '+') {
			rc = pb_buf_putc(out, ' ');
		} else if (s[i] == '%' && i + 2 < len + 0 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			rc = pb_buf_putc(out, (uint8_t)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else {
			rc = pb_buf_putc(out, (uint8_t)s[i]);
		}
		if (rc < 0)
			return rc;
	}
	return pb_buf_put(out, "", 0);
}

int pb_modem__smseagle_parse_webhook(const char *query, size_t len, pb_modem_msg *out, char **apikey)
{
	*apikey = NULL;
	static const char *const keys[] = { "sender", "timestamp", "text", "msgid", "apikey" };
	pb_buf val[5] = { PB_BUF_INIT, PB_BUF_INIT, PB_BUF_INIT, PB_BUF_INIT, PB_BUF_INIT };
	bool have[5] = { false };
	pb_buf text = PB_BUF_INIT;
	int rc = 0;
	memset(out, 0, sizeof(*out));
	const char *p = query, *end = query + len;
	while (p < end && rc == 0) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		if (eq) {
			for (size_t k = 0; k < PB_ARRAY_SIZE(keys); k++) {
				if ((size_t)(eq - p) == strlen(keys[k]) && memcmp(p, keys[k], (size_t)(eq - p)) == 0 &&
				    !have[k]) {
					have[k] = true;
					rc = url_decode(&val[k], eq + 1, (size_t)(e - eq - 1));
				}
			}
		}
		p = e + 1;
	}
	if (rc == 0 && (!have[0] || !have[2])) {
		rc = pb_error_set(PB_EMALFORMED, "SMSEagle webhook: sender or text missing");
		goto out;
	}
	if (rc < 0)
		goto out;
	/* YYYYmmddHHiiss -> YYYY-MM-DD HH:MM:SS, as the inbox shows it */
	char time[32] = "";
	const char *ts = pb_buf_cstr(&val[1]);
	if (val[1].len == 14 && strspn(ts, "0123456789") == 14)
		snprintf(time, sizeof(time), "%.4s-%.2s-%.2s %.2s:%.2s:%.2s", ts, ts + 4, ts + 6, ts + 8, ts + 10, ts + 12);
	if ((rc = pb_utf8_sanitize(&text, pb_buf_cstr(&val[2]), val[2].len)) < 0 ||
	    (rc = pb_buf_put(&text, "", 0)) < 0)
		goto out;
	pb_modem_msg m = { .id = have[3] ? (char *)pb_buf_cstr(&val[3]) : NULL, .type = PB_MODEM_MSG_TEXT,
			   .state = PB_MODEM_STATE_UNREAD, .box_type = -1, .number = (char *)pb_buf_cstr(&val[0]),
			   .text = (char *)pb_buf_cstr(&text), .time = time[0] ? time : NULL };
	if ((rc = pb_modem_msg_copy(out, &m)) < 0)
		goto out;
	if (have[4] && !(*apikey = pb_strdup(pb_buf_cstr(&val[4])))) {
		pb_modem_msg_dispose(out);
		rc = PB_ENOMEM;
	}
out:
	for (size_t k = 0; k < PB_ARRAY_SIZE(val); k++)
		pb_buf_dispose(&val[k]);
	pb_buf_dispose(&text);
	return rc;
}
