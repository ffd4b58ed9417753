/*
 * libphonebridge — MMS PDU decoding (OMA-MMS-ENC 1.0-1.3 §7).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every header value is first delimited by the generic WSP rule (its first
 * octet says how long it is, WAP-230-WSP §8.4.1.2), then read as the type
 * the field's row of Table 12 gives it. A value that does not read as its
 * type is kept raw (known = false) instead of failing the message: the
 * message stays readable, and only bytes that break the framing itself are
 * malformed.
 */
#include <stdio.h>
#include <string.h>

#include "wap/wap-internal.h"

/* How a field's value is encoded. */
enum vtype {
	V_RAW,        /* known field, value not interpreted */
	V_TEXT,       /* Text-string */
	V_URI,        /* Uri-value (Content-Location; also Value-length Status-count Uri) */
	V_ESTRING,    /* Encoded-string-value */
	V_ADDRESS,    /* Encoded-string-value address (To, Cc, Bcc) */
	V_FROM,       /* Value-length (Address-present-token Encoded-string | Insert-address-token) */
	V_TOKEN,      /* one octet from a table */
	V_CLASS,      /* Message-class: token or Token-text */
	V_VERSION,    /* Short-integer major/minor */
	V_DATE,       /* Long-integer seconds */
	V_LONG,       /* Long-integer */
	V_INTEGER,    /* Integer-value */
	V_TIME,       /* Value-length (Absolute-token Date | Relative-token Delta-seconds) */
	V_COUNT_STR,  /* Value-length Integer Encoded-string (Previously-sent-by) */
	V_COUNT_DATE, /* Value-length Integer Date (Previously-sent-date) */
	V_TOKEN_STR,  /* Value-length token Encoded-string (MM-Flags) */
	V_TOKEN_INT,  /* Value-length token Integer (Totals, Quotas) */
	V_CTYPE,      /* Content-type-value */
	V_FIELD,      /* Short-integer naming a field (Attributes) */
	V_ELEMENT,    /* Value-length Text-string *(Parameter) (Element-Descriptor) */
};

struct token {
	uint8_t value;
	const char *name;
};

#define TOKENS(name, ...) static const struct token name[] = { __VA_ARGS__, { 0, NULL } }

/* §7.3.30 X-Mms-Message-Type */
TOKENS(t_message_type, { 128, "m-send-req" }, { 129, "m-send-conf" }, { 130, "m-notification-ind" },
       { 131, "m-notifyresp-ind" }, { 132, "m-retrieve-conf" }, { 133, "m-acknowledge-ind" },
       { 134, "m-delivery-ind" }, { 135, "m-read-rec-ind" }, { 136, "m-read-orig-ind" },
       { 137, "m-forward-req" }, { 138, "m-forward-conf" }, { 139, "m-mbox-store-req" },
       { 140, "m-mbox-store-conf" }, { 141, "m-mbox-view-req" }, { 142, "m-mbox-view-conf" },
       { 143, "m-mbox-upload-req" }, { 144, "m-mbox-upload-conf" }, { 145, "m-mbox-delete-req" },
       { 146, "m-mbox-delete-conf" }, { 147, "m-mbox-descr" }, { 148, "m-delete-req" },
       { 149, "m-delete-conf" }, { 150, "m-cancel-req" }, { 151, "m-cancel-conf" });
/* Yes/No fields: Delivery-Report, Read-Report, Report-Allowed, Store, Stored, ... */
TOKENS(t_yes_no, { 128, "Yes" }, { 129, "No" });
/* §7.3.39 */
TOKENS(t_priority, { 128, "Low" }, { 129, "Normal" }, { 130, "High" });
/* §7.3.29 */
TOKENS(t_class, { 128, "personal" }, { 129, "advertisement" }, { 130, "informational" }, { 131, "auto" });
/* §7.3.48 X-Mms-Response-Status */
TOKENS(t_response_status, { 128, "Ok" }, { 129, "Error-unspecified" }, { 130, "Error-service-denied" },
       { 131, "Error-message-format-corrupt" }, { 132, "Error-sending-address-unresolved" },
       { 133, "Error-message-not-found" }, { 134, "Error-network-problem" },
       { 135, "Error-content-not-accepted" }, { 136, "Error-unsupported-message" },
       { 192, "Error-transient-failure" }, { 193, "Error-transient-sending-address-unresolved" },
       { 194, "Error-transient-message-not-found" }, { 195, "Error-transient-network-problem" },
       { 196, "Error-transient-partial-success" }, { 224, "Error-permanent-failure" },
       { 225, "Error-permanent-service-denied" }, { 226, "Error-permanent-message-format-corrupt" },
       { 227, "Error-permanent-sending-address-unresolved" },
       { 228, "Error-permanent-message-not-found" }, { 229, "Error-permanent-content-not-accepted" },
       { 230, "Error-permanent-reply-charging-limitations-not-met" },
       { 231, "Error-permanent-reply-charging-request-not-accepted" },
       { 232, "Error-permanent-reply-charging-forwarding-denied" },
       { 233, "Error-permanent-reply-charging-not-supported" },
       { 234, "Error-permanent-address-hiding-not-supported" },
       { 235, "Error-permanent-lack-of-prepaid" });
/* §7.3.52 */
TOKENS(t_sender_visibility, { 128, "Hide" }, { 129, "Show" });
/* §7.3.54 X-Mms-Status */
TOKENS(t_status, { 128, "Expired" }, { 129, "Retrieved" }, { 130, "Rejected" }, { 131, "Deferred" },
       { 132, "Unrecognised" }, { 133, "Indeterminate" }, { 134, "Forwarded" }, { 135, "Unreachable" });
/* §7.3.50 X-Mms-Retrieve-Status */
TOKENS(t_retrieve_status, { 128, "Ok" }, { 192, "Error-transient-failure" },
       { 193, "Error-transient-message-not-found" }, { 194, "Error-transient-network-problem" },
       { 224, "Error-permanent-failure" }, { 225, "Error-permanent-service-denied" },
       { 226, "Error-permanent-message-not-found" }, { 227, "Error-permanent-content-unsupported" });
/* §7.3.40 */
TOKENS(t_read_status, { 128, "Read" }, { 129, "Deleted without being read" });
/* §7.3.43 */
TOKENS(t_reply_charging, { 128, "Requested" }, { 129, "Requested text only" }, { 130, "Accepted" },
       { 131, "Accepted text only" });
/* §7.3.33 */
TOKENS(t_mm_state, { 128, "Draft" }, { 129, "Sent" }, { 130, "New" }, { 131, "Retrieved" },
       { 132, "Forwarded" });
/* §7.3.58 */
TOKENS(t_store_status, { 128, "Success" }, { 192, "Error-transient-failure" },
       { 193, "Error-transient-network-problem" },
       { 224, "Error-permanent-failure" }, { 225, "Error-permanent-service-denied" },
       { 226, "Error-permanent-message-format-corrupt" }, { 227, "Error-permanent-message-not-found" },
       { 228, "Error-permanent-mmbox-full" });
/* §7.3.47 (1.3) */
TOKENS(t_retrieval_mode, { 128, "Manual" });
/* §7.3.9 (1.3) */
TOKENS(t_content_class, { 128, "text" }, { 129, "image-basic" }, { 130, "image-rich" },
       { 131, "video-basic" }, { 132, "video-rich" }, { 133, "megapixel" }, { 134, "content-basic" },
       { 135, "content-rich" });
/* §7.3.7 (1.3) */
TOKENS(t_cancel_status, { 128, "Cancel request successfully received" },
       { 129, "Cancel request corrupted" });
/* MM-Flags, Totals, Quotas tokens */
TOKENS(t_flags, { 128, "Add" }, { 129, "Remove" }, { 130, "Filter" });
TOKENS(t_totals, { 128, "Messages" }, { 129, "Bytes" });

/* OMA-MMS-ENC 1.3 §7.4 Table 12: field names and assigned numbers. */
static const struct field {
	const char *name;
	enum vtype type;
	const struct token *tokens;
} fields[] = {
	[0x01] = { "Bcc", V_ADDRESS, NULL },
	[0x02] = { "Cc", V_ADDRESS, NULL },
	[0x03] = { "X-Mms-Content-Location", V_URI, NULL },
	[0x04] = { "Content-Type", V_CTYPE, NULL },
	[0x05] = { "Date", V_DATE, NULL },
	[0x06] = { "X-Mms-Delivery-Report", V_TOKEN, t_yes_no },
	[0x07] = { "X-Mms-Delivery-Time", V_TIME, NULL },
	[0x08] = { "X-Mms-Expiry", V_TIME, NULL },
	[0x09] = { "From", V_FROM, NULL },
	[0x0A] = { "X-Mms-Message-Class", V_CLASS, t_class },
	[0x0B] = { "Message-ID", V_TEXT, NULL },
	[0x0C] = { "X-Mms-Message-Type", V_TOKEN, t_message_type },
	[0x0D] = { "X-Mms-MMS-Version", V_VERSION, NULL },
	[0x0E] = { "X-Mms-Message-Size", V_LONG, NULL },
	[0x0F] = { "X-Mms-Priority", V_TOKEN, t_priority },
	[0x10] = { "X-Mms-Read-Report", V_TOKEN, t_yes_no },
	[0x11] = { "X-Mms-Report-Allowed", V_TOKEN, t_yes_no },
	[0x12] = { "X-Mms-Response-Status", V_TOKEN, t_response_status },
	[0x13] = { "X-Mms-Response-Text", V_ESTRING, NULL },
	[0x14] = { "X-Mms-Sender-Visibility", V_TOKEN, t_sender_visibility },
	[0x15] = { "X-Mms-Status", V_TOKEN, t_status },
	[0x16] = { "Subject", V_ESTRING, NULL },
	[0x17] = { "To", V_ADDRESS, NULL },
	[0x18] = { "X-Mms-Transaction-Id", V_TEXT, NULL },
	[0x19] = { "X-Mms-Retrieve-Status", V_TOKEN, t_retrieve_status },
	[0x1A] = { "X-Mms-Retrieve-Text", V_ESTRING, NULL },
	[0x1B] = { "X-Mms-Read-Status", V_TOKEN, t_read_status },
	[0x1C] = { "X-Mms-Reply-Charging", V_TOKEN, t_reply_charging },
	[0x1D] = { "X-Mms-Reply-Charging-Deadline", V_TIME, NULL },
	[0x1E] = { "X-Mms-Reply-Charging-ID", V_TEXT, NULL },
	[0x1F] = { "X-Mms-Reply-Charging-Size", V_LONG, NULL },
	[0x20] = { "X-Mms-Previously-Sent-By", V_COUNT_STR, NULL },
	[0x21] = { "X-Mms-Previously-Sent-Date", V_COUNT_DATE, NULL },
	[0x22] = { "X-Mms-Store", V_TOKEN, t_yes_no },
	[0x23] = { "X-Mms-MM-State", V_TOKEN, t_mm_state },
	[0x24] = { "X-Mms-MM-Flags", V_TOKEN_STR, t_flags },
	[0x25] = { "X-Mms-Store-Status", V_TOKEN, t_store_status },
	[0x26] = { "X-Mms-Store-Status-Text", V_ESTRING, NULL },
	[0x27] = { "X-Mms-Stored", V_TOKEN, t_yes_no },
	[0x28] = { "X-Mms-Attributes", V_FIELD, NULL },
	[0x29] = { "X-Mms-Totals", V_TOKEN_INT, t_totals },
	[0x2A] = { "X-Mms-Mbox-Totals", V_TOKEN_INT, t_totals },
	[0x2B] = { "X-Mms-Quotas", V_TOKEN_INT, t_totals },
	[0x2C] = { "X-Mms-Mbox-Quotas", V_TOKEN_INT, t_totals },
	[0x2D] = { "X-Mms-Message-Count", V_INTEGER, NULL },
	[0x2E] = { "Content", V_RAW, NULL },
	[0x2F] = { "X-Mms-Start", V_INTEGER, NULL },
	[0x30] = { "Additional-headers", V_RAW, NULL },
	[0x31] = { "X-Mms-Distribution-Indicator", V_TOKEN, t_yes_no },
	[0x32] = { "X-Mms-Element-Descriptor", V_ELEMENT, NULL },
	[0x33] = { "X-Mms-Limit", V_INTEGER, NULL },
	[0x34] = { "X-Mms-Recommended-Retrieval-Mode", V_TOKEN, t_retrieval_mode },
	[0x35] = { "X-Mms-Recommended-Retrieval-Mode-Text", V_ESTRING, NULL },
	[0x36] = { "X-Mms-Status-Text", V_ESTRING, NULL },
	[0x37] = { "X-Mms-Applic-ID", V_TEXT, NULL },
	[0x38] = { "X-Mms-Reply-Applic-ID", V_TEXT, NULL },
	[0x39] = { "X-Mms-Aux-Applic-Info", V_TEXT, NULL },
	[0x3A] = { "X-Mms-Content-Class", V_TOKEN, t_content_class },
	[0x3B] = { "X-Mms-DRM-Content", V_TOKEN, t_yes_no },
	[0x3C] = { "X-Mms-Adaptation-Allowed", V_TOKEN, t_yes_no },
	[0x3D] = { "X-Mms-Replace-ID", V_TEXT, NULL },
	[0x3E] = { "X-Mms-Cancel-ID", V_TEXT, NULL },
	[0x3F] = { "X-Mms-Cancel-Status", V_TOKEN, t_cancel_status },
};

enum {
	F_BCC = 0x01, F_CC = 0x02, F_CONTENT_LOCATION = 0x03, F_CONTENT_TYPE = 0x04, F_DATE = 0x05,
	F_DELIVERY_REPORT = 0x06, F_DELIVERY_TIME = 0x07, F_EXPIRY = 0x08, F_FROM = 0x09,
	F_MESSAGE_CLASS = 0x0A, F_MESSAGE_ID = 0x0B, F_MESSAGE_TYPE = 0x0C, F_VERSION = 0x0D,
	F_MESSAGE_SIZE = 0x0E, F_PRIORITY = 0x0F, F_READ_REPORT = 0x10, F_REPORT_ALLOWED = 0x11,
	F_RESPONSE_STATUS = 0x12, F_RESPONSE_TEXT = 0x13, F_STATUS = 0x15, F_SUBJECT = 0x16,
	F_TO = 0x17, F_TRANSACTION_ID = 0x18, F_RETRIEVE_STATUS = 0x19, F_RETRIEVE_TEXT = 0x1A,
	F_READ_STATUS = 0x1B, F_STATUS_TEXT = 0x36, F_CONTENT_CLASS = 0x3A,
};

static const char *token_name(const struct token *t, unsigned int v)
{
	for (; t && t->name; t++)
		if (t->value == v)
			return t->name;
	return NULL;
}

PB_API const char *pb_mms_message_type_name(int type)
{
	return type >= 0 && type < 256 ? token_name(t_message_type, (unsigned int)type) : NULL;
}

PB_API const char *pb_mms_header_name(int field)
{
	return field >= 0 && (size_t)field < PB_ARRAY_SIZE(fields) ? fields[field].name : NULL;
}

PB_API const char *pb_mms_token_name(int field, int value)
{
	if (field < 0 || (size_t)field >= PB_ARRAY_SIZE(fields) || value < 0 || value > 255)
		return NULL;
	return token_name(fields[field].tokens, (unsigned int)value);
}

/* --- addresses ------------------------------------------------------------------ */

/* "+48123456789/TYPE=PLMN" -> "+48123456789" (OMA-MMS-ENC §8): the /TYPE=
 * suffix only says what kind of address it is. */
static int strip_type(pb_wap__ctx *ctx, const char **s)
{
	const char *slash = strrchr(*s, '/');
	static const char type[] = "type=";
	if (!slash)
		return 0;
	for (int i = 0; i < 5; i++) /* "/TYPE=" in any case, without a call per letter */
		if (((uint8_t)slash[i + 1] | (i < 4 ? 0x20 : 0)) != (uint8_t)type[i])
			return 0;
	*s = pb_wap__strndup(ctx->arena, *s, (size_t)(slash - *s));
	return *s ? 0 : PB_ENOMEM;
}

/* URIs with white space around them (seen in conformance PDUs) are
 * trimmed, so that they can be fetched as they are. */
static int trim_uri(pb_wap__ctx *ctx, const char **s)
{
	const char *p = *s;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	size_t n = strlen(p);
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	*s = p[n] ? pb_wap__strndup(ctx->arena, p, n) : p;
	return *s ? 0 : PB_ENOMEM;
}

/* --- one header --------------------------------------------------------------------- */

static bool read_token(pb_cur *v, const struct token *t, pb_mms_header *h)
{
	uint8_t b = 0;
	if (!pb_cur_u8(v, &b) || b < 0x80)
		return false;
	h->kind = PB_MMS_VALUE_TOKEN;
	h->number = b;
	h->text = token_name(t, b);
	return h->text != NULL;
}

/* Read the value in @v as @type. Returns 1 when it read as its type, 0 when
 * not (the header is kept raw), or a negative error (PB_ENOMEM). Format
 * errors inside the value are not fatal: the caller restores the error. */
static int typed_value(pb_wap__ctx *ctx, enum vtype type, const struct token *tokens, pb_cur *v,
		       pb_mms_header *h, pb_wsp_content_type *ct)
{
	uint8_t b = 0;
	uint64_t n;
	pb_cur in;
	int rc;
#define TRY(expr)                                         \
	do {                                              \
		rc = (expr);                              \
		if (rc == PB_ENOMEM)                      \
			return rc;                        \
		if (rc < 0)                               \
			return 0;                         \
	} while (0)
	switch (type) {
	case V_RAW:
		return 1;
	case V_TEXT:
		h->kind = PB_MMS_VALUE_TEXT;
		TRY(pb_wap__text(ctx, v, &h->text));
		return 1;
	case V_URI:
		h->kind = PB_MMS_VALUE_TEXT;
		if (pb_cur_peek(v, &b) && b <= 31) { /* M-Mbox-Delete.conf: Status-count-value first */
			TRY(pb_wap__value_length(ctx, v, &in));
			TRY(pb_wap__integer(ctx, &in, &h->number));
			TRY(pb_wap__text(ctx, &in, &h->text));
			return 1;
		}
		TRY(pb_wap__text(ctx, v, &h->text));
		TRY(trim_uri(ctx, &h->text));
		return 1;
	case V_ESTRING:
		h->kind = PB_MMS_VALUE_TEXT;
		TRY(pb_wap__encoded_string(ctx, v, &h->text));
		return 1;
	case V_ADDRESS:
		h->kind = PB_MMS_VALUE_ADDRESS;
		TRY(pb_wap__encoded_string(ctx, v, &h->text));
		TRY(strip_type(ctx, &h->text));
		return 1;
	case V_FROM:
		h->kind = PB_MMS_VALUE_ADDRESS;
		TRY(pb_wap__value_length(ctx, v, &in));
		if (!pb_cur_u8(&in, &b))
			return 0;
		h->number = b;
		if (b == 0x81) /* Insert-address-token */
			return pb_cur_eof(&in);
		if (b != 0x80)
			return 0;
		TRY(pb_wap__encoded_string(ctx, &in, &h->text));
		TRY(strip_type(ctx, &h->text));
		return 1;
	case V_TOKEN:
		return read_token(v, tokens, h);
	case V_FIELD:
		h->kind = PB_MMS_VALUE_TOKEN;
		if (!pb_cur_u8(v, &b) || b < 0x80)
			return 0;
		h->number = b & 0x7F;
		h->text = pb_mms_header_name(b & 0x7F);
		return h->text != NULL;
	case V_CLASS:
		if (pb_cur_peek(v, &b) && b >= 0x80)
			return read_token(v, tokens, h);
		h->kind = PB_MMS_VALUE_TEXT;
		TRY(pb_wap__text(ctx, v, &h->text));
		return 1;
	case V_VERSION:
		h->kind = PB_MMS_VALUE_INTEGER;
		if (!pb_cur_u8(v, &b) || b < 0x80)
			return 0;
		h->number = b & 0x7F;
		return 1;
	case V_DATE:
		h->kind = PB_MMS_VALUE_DATE;
		TRY(pb_wap__long_integer(ctx, v, &h->number));
		return 1;
	case V_LONG:
	case V_INTEGER:
		h->kind = PB_MMS_VALUE_INTEGER;
		TRY(pb_wap__integer(ctx, v, &h->number));
		return 1;
	case V_TIME:
		TRY(pb_wap__value_length(ctx, v, &in));
		if (!pb_cur_u8(&in, &b) || (b != 0x80 && b != 0x81))
			return 0;
		h->kind = b == 0x80 ? PB_MMS_VALUE_DATE : PB_MMS_VALUE_RELATIVE;
		TRY(pb_wap__integer(ctx, &in, &h->number));
		return pb_cur_eof(&in);
	case V_COUNT_STR:
	case V_COUNT_DATE:
		h->kind = PB_MMS_VALUE_COUNTED;
		TRY(pb_wap__value_length(ctx, v, &in));
		TRY(pb_wap__integer(ctx, &in, &h->number));
		if (type == V_COUNT_DATE) {
			TRY(pb_wap__long_integer(ctx, &in, &n));
			h->date = n <= INT64_MAX ? (int64_t)n : 0;
			return 1;
		}
		TRY(pb_wap__encoded_string(ctx, &in, &h->text));
		TRY(strip_type(ctx, &h->text));
		return 1;
	case V_TOKEN_STR:
	case V_TOKEN_INT:
		TRY(pb_wap__value_length(ctx, v, &in));
		if (!read_token(&in, tokens, h))
			return 0;
		h->kind = PB_MMS_VALUE_COUNTED;
		if (type == V_TOKEN_STR) {
			TRY(pb_wap__encoded_string(ctx, &in, &h->text));
		} else {
			TRY(pb_wap__integer(ctx, &in, &n));
			h->date = 0;
			h->number = n; /* the token stays in text */
		}
		return 1;
	case V_CTYPE:
		h->kind = PB_MMS_VALUE_CONTENT_TYPE;
		TRY(pb_wap__content_type(ctx, v, ct));
		h->text = ct->media_type;
		return 1;
	case V_ELEMENT:
		h->kind = PB_MMS_VALUE_TEXT;
		TRY(pb_wap__value_length(ctx, v, &in));
		TRY(pb_wap__text(ctx, &in, &h->text));
		return 1;
	}
#undef TRY
	return 0;
}

/* --- the message ------------------------------------------------------------------------ */

struct builder {
	pb_mms_header *headers;
	size_t cap_headers;
	const char **to, **cc, **bcc;
	size_t cap_to, cap_cc, cap_bcc;
	size_t n_unknown;
	uint64_t seen;  /* fields read with a known value, by number */
};

static int add_address(pb_wap__ctx *ctx, const char ***arr, size_t *cap, size_t *n, const char *s)
{
	int rc = pb_wap__grow(ctx->arena, (void **)arr, cap, *n, sizeof(**arr));
	if (rc < 0)
		return rc;
	(*arr)[(*n)++] = s;
	return 0;
}

static int token_field(const pb_mms_header *h)
{
	return h->kind == PB_MMS_VALUE_TOKEN || !h->known ? (int)(h->number & 0xFF) : 0;
}

/* Copy a typed header into the message's convenience fields. */
static int apply(pb_wap__ctx *ctx, struct builder *b, pb_mms_message *m, const pb_mms_header *h)
{
	bool ok = h->known;
	switch (h->field) {
	case F_TO:
	case F_CC:
	case F_BCC:
		if (!ok || !h->text)
			return 0;
		if (h->field == F_TO)
			return add_address(ctx, &b->to, &b->cap_to, &m->n_to, h->text);
		if (h->field == F_CC)
			return add_address(ctx, &b->cc, &b->cap_cc, &m->n_cc, h->text);
		return add_address(ctx, &b->bcc, &b->cap_bcc, &m->n_bcc, h->text);
	case F_FROM:
		if (ok) {
			m->from = h->text;
			m->from_insert_address = h->number == 0x81;
		}
		return 0;
	case F_CONTENT_LOCATION: if (ok) m->content_location = h->text; return 0;
	case F_DATE:
		if (ok && h->number <= INT64_MAX) {
			m->has_date = true;
			m->date = (int64_t)h->number;
		}
		return 0;
	case F_EXPIRY:
	case F_DELIVERY_TIME:
		if (ok && h->number <= INT64_MAX) {
			pb_mms_time *t = h->field == F_EXPIRY ? &m->expiry : &m->delivery_time;
			t->present = true;
			t->relative = h->kind == PB_MMS_VALUE_RELATIVE;
			t->value = (int64_t)h->number;
		}
		return 0;
	case F_MESSAGE_CLASS: if (ok) m->message_class = h->text; return 0;
	case F_MESSAGE_ID: if (ok) m->message_id = h->text; return 0;
	case F_VERSION: if (ok) m->version = (unsigned int)h->number; return 0;
	case F_MESSAGE_SIZE:
		if (ok) {
			m->has_message_size = true;
			m->message_size = h->number;
		}
		return 0;
	case F_PRIORITY: m->priority = token_field(h); return 0;
	case F_DELIVERY_REPORT: m->delivery_report = token_field(h); return 0;
	case F_READ_REPORT: m->read_report = token_field(h); return 0;
	case F_REPORT_ALLOWED: m->report_allowed = token_field(h); return 0;
	case F_STATUS: m->status = token_field(h); return 0;
	case F_RESPONSE_STATUS: m->response_status = token_field(h); return 0;
	case F_RETRIEVE_STATUS: m->retrieve_status = token_field(h); return 0;
	case F_READ_STATUS: m->read_status = token_field(h); return 0;
	case F_STATUS_TEXT: if (ok) m->status_text = h->text; return 0;
	case F_RESPONSE_TEXT: if (ok) m->response_text = h->text; return 0;
	case F_RETRIEVE_TEXT: if (ok) m->retrieve_text = h->text; return 0;
	case F_SUBJECT: if (ok) m->subject = h->text; return 0;
	case F_TRANSACTION_ID: if (ok) m->transaction_id = h->text; return 0;
	case F_CONTENT_CLASS: if (ok) m->content_class = h->text; return 0;
	default:
		return 0;
	}
}

/* A text value that runs to the end of the PDU without its NUL (seen in
 * notifications whose Content-Location lost its terminator, and in every
 * PDU cut inside a text): kept only when salvaging. */
static bool unterminated_text(const pb_cur *c)
{
	uint8_t b = 0;
	return pb_cur_peek(c, &b) && b >= 0x20 && b < 0x80 && !memchr(c->p, 0, pb_cur_left(c));
}

static int last_text(pb_wap__ctx *ctx, pb_cur *c, struct builder *b, pb_mms_message *m, pb_mms_header *h)
{
	h->raw = c->p;
	h->raw_len = pb_cur_left(c);
	c->p = c->end;
	enum vtype t = h->field >= 0 && h->name && (size_t)h->field < PB_ARRAY_SIZE(fields)
		? fields[h->field].type : V_RAW;
	if (h->field >= 0 && !(t == V_TEXT || t == V_URI || t == V_ESTRING || t == V_ADDRESS || t == V_CLASS))
		return pb_wap__fail(ctx, c, "value of %s runs past the end of data", h->name ? h->name : "header");
	size_t n = h->raw_len - (h->raw[0] == 0x7F);
	int rc = pb_wap__convert(ctx, 106, h->raw + (h->raw[0] == 0x7F), n, &h->text);
	if (rc < 0)
		return rc;
	h->kind = t == V_ADDRESS ? PB_MMS_VALUE_ADDRESS : PB_MMS_VALUE_TEXT;
	h->known = true;
	if (h->field < 0 || !h->name)
		b->n_unknown++;
	else if ((rc = apply(ctx, b, m, h)) < 0)
		return rc;
	m->n_headers++;
	return 0;
}

/* One header at the cursor. *last is set after Content-Type, which ends the headers. */
static int one_header(pb_wap__ctx *ctx, pb_cur *c, struct builder *b, pb_mms_message *m, bool *last)
{
	int rc;
	uint8_t f = 0;
	pb_cur v;
	size_t n = m->n_headers;
	if ((rc = pb_wap__grow(ctx->arena, (void **)&b->headers, &b->cap_headers, n, sizeof(*b->headers))) < 0)
		return rc;
	pb_mms_header *h = &b->headers[n];
	memset(h, 0, sizeof(*h));
	h->offset = pb_cur_offset(c);
	pb_cur_peek(c, &f);
	if (f < 0x80) {
		/* Application-header (§7.3.3): Token-text Application-specific-value */
		if (f < 0x20 && f != 0) /* WSP code page shifts do not occur in MMS headers */
			return pb_wap__fail(ctx, c, "header field expected, found 0x%02x", f);
		if (f == 0)
			return pb_wap__fail(ctx, c, "header field expected, found 0x00");
		if ((rc = pb_wap__text(ctx, c, &h->name)) < 0)
			return rc;
		h->field = -1;
	} else {
		c->p++;
		h->field = f & 0x7F;
		h->name = (size_t)h->field < PB_ARRAY_SIZE(fields) ? fields[h->field].name : NULL;
	}
	if ((ctx->flags & PB_MMS_DECODE_SALVAGE) && unterminated_text(c)) {
		/* the last header, its NUL missing: keep what is there, marked */
		size_t at = pb_cur_offset(c);
		if ((rc = last_text(ctx, c, b, m, h)) < 0)
			return rc;
		m->incomplete = true;
		return pb_mms__warn(ctx, m, at, "text value without its terminating NUL at the end of the PDU");
	}
	if ((rc = pb_wap__skip_value(ctx, c, &v)) < 0)
		return rc;
	h->raw = v.p;
	h->raw_len = pb_cur_left(&v);
	if (h->field < 0) {
		h->kind = PB_MMS_VALUE_TEXT;
		pb_cur tv = v;
		if (pb_cur_peek(&tv, &f) && f >= 0x20 && f < 0x80) {
			if ((rc = pb_wap__text(ctx, &tv, &h->text)) == PB_ENOMEM)
				return rc;
			h->known = rc == 0;
		}
		b->n_unknown++;
	} else if (!h->name) {
		char tmp[16];
		int len = snprintf(tmp, sizeof(tmp), "0x%02x", (unsigned)h->field);
		if (!(h->name = pb_wap__strndup(ctx->arena, tmp, (size_t)len)))
			return PB_ENOMEM;
		b->n_unknown++;
	} else {
		const struct field *fd = &fields[h->field];
		pb_wsp_content_type ct;
		pb_parse_error *saved = ctx->perr;
		pb_parse_error scratch;
		ctx->perr = &scratch;
		rc = typed_value(ctx, fd->type, fd->tokens, &v, h, &ct);
		ctx->perr = saved;
		if (rc < 0)
			return rc;
		h->known = rc == 1 && pb_cur_eof(&v);
		if (!h->known && h->kind != PB_MMS_VALUE_TOKEN) {
			h->kind = PB_MMS_VALUE_RAW;
			h->text = NULL;
		}
		if (!h->known)
			pb_error_clear(); /* what made it raw is not the message's error */
		else if (h->field < 64)
			b->seen |= (uint64_t)1 << h->field;
		if (h->field == F_CONTENT_TYPE) {
			*last = true;
			if (h->known && !m->has_content_type) {
				m->has_content_type = true;
				m->content_type = ct;
			}
		}
		if ((rc = apply(ctx, b, m, h)) < 0)
			return rc;
	}
	m->n_headers++;
	return 0;
}

static int list_unknown(pb_wap__ctx *ctx, struct builder *b, pb_mms_message *m)
{
	if (!b->n_unknown)
		return 0;
	const pb_mms_header **u = pb_wap__alloc(ctx->arena, b->n_unknown * sizeof(*u));
	if (!u)
		return PB_ENOMEM;
	for (size_t i = 0; i < m->n_headers; i++)
		if (b->headers[i].field < 0 || !b->headers[i].name ||
		    (size_t)b->headers[i].field >= PB_ARRAY_SIZE(fields) || !fields[b->headers[i].field].name)
			u[m->n_unknown_headers++] = &b->headers[i];
	m->unknown_headers = u;
	return 0;
}

/* OMA-MMS-ENC 1.3 §6 (Tables 1-24): the header fields each PDU must carry
 * besides X-Mms-Message-Type, as a bit set of field numbers. (From of an
 * M-Send.req and Date of an M-Retrieve.conf are mandatory too, but real
 * phones and MMSCs leave them out: the MMSC fills in both.) */
#define B(f) ((uint64_t)1 << (f))
static uint64_t mandatory(pb_mms_message_type type)
{
	const uint64_t v = B(F_VERSION), tid = B(F_TRANSACTION_ID);
	switch ((int)type) {
	case PB_MMS_SEND_REQ: return v | tid | B(F_CONTENT_TYPE);
	case PB_MMS_SEND_CONF: return v | tid | B(F_RESPONSE_STATUS);
	case PB_MMS_NOTIFICATION_IND:
		return v | tid | B(F_MESSAGE_CLASS) | B(F_MESSAGE_SIZE) | B(F_EXPIRY) | B(F_CONTENT_LOCATION);
	case PB_MMS_NOTIFYRESP_IND: return v | tid | B(F_STATUS);
	case PB_MMS_RETRIEVE_CONF: return v | B(F_CONTENT_TYPE);
	case PB_MMS_ACKNOWLEDGE_IND: return v | tid;
	case PB_MMS_DELIVERY_IND: return v | B(F_MESSAGE_ID) | B(F_TO) | B(F_DATE) | B(F_STATUS);
	case PB_MMS_READ_REC_IND: return v | B(F_MESSAGE_ID) | B(F_TO) | B(F_FROM) | B(F_READ_STATUS);
	case PB_MMS_READ_ORIG_IND:
		return v | B(F_MESSAGE_ID) | B(F_TO) | B(F_FROM) | B(F_DATE) | B(F_READ_STATUS);
	default: return v;
	}
}

/* The first mandatory field missing from those @seen, or 0. */
static int missing_field(pb_mms_message_type type, uint64_t seen)
{
	uint64_t missing = mandatory(type) & ~seen;
	int f = 0;
	while (missing && !(missing & B(f)))
		f++;
	return f;
}

static int check_mandatory(pb_wap__ctx *ctx, pb_cur *c, pb_mms_message *m, uint64_t seen)
{
	int f = missing_field(m->message_type, seen);
	if (!f)
		return 0;
	return pb_wap__fail(ctx, c, "%s without %s, which it must carry (OMA-MMS-ENC 1.3 §6)",
			    pb_mms_message_type_name((int)m->message_type), fields[f].name);
}
#undef B

/* Bytes after the last header of a PDU without a body that are only NULs,
 * CRs and LFs (some operators end notifications with one). Ignored, with
 * a warning, once every mandatory header has been read. */
static size_t trailing_junk(const pb_cur *c)
{
	size_t n = pb_cur_left(c);
	if (n > 4)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (c->p[i] != 0 && c->p[i] != '\n' && c->p[i] != '\r')
			return 0;
	return n;
}

int pb_mms__warn(pb_wap__ctx *ctx, pb_mms_message *m, size_t offset, const char *text)
{
	if (m->warning)
		return 0;
	if (!(m->warning = pb_wap__strndup(ctx->arena, text, strlen(text))))
		return PB_ENOMEM;
	m->warning_offset = offset;
	return 0;
}

int pb_mms__salvage(pb_wap__ctx *ctx, pb_mms_message *m, int err)
{
	if (err != PB_EMALFORMED || !(ctx->flags & PB_MMS_DECODE_SALVAGE))
		return err;
	m->incomplete = true;
	int rc = pb_mms__warn(ctx, m, ctx->perr->offset, ctx->perr->text);
	pb_error_clear();
	return rc;
}

int pb_mms__decode_cur(pb_wap__ctx *ctx, pb_cur *c, unsigned int flags, pb_mms_message *m)
{
	struct builder b = { 0 };
	int rc;
	uint8_t f = 0;
	m->root_part = -1;
	if (!pb_cur_peek(c, &f))
		return pb_wap__fail(ctx, c, "MMS PDU is empty");
	if (f != (0x80 | F_MESSAGE_TYPE))
		return pb_wap__fail(ctx, c, "MMS PDU must begin with X-Mms-Message-Type (0x8c), found 0x%02x", f);
	if (pb_cur_left(c) < 2)
		return pb_wap__fail(ctx, c, "MMS PDU truncated after its first byte");
	if (!pb_mms_message_type_name(c->p[1])) {
		c->p++;
		return pb_wap__fail(ctx, c, "unknown X-Mms-Message-Type 0x%02x", c->p[0]);
	}
	m->message_type = (pb_mms_message_type)c->p[1];
	/* room for the headers of most PDUs at once (no copies as they grow) */
	b.cap_headers = 16;
	if (!(b.headers = pb_wap__alloc(ctx->arena, b.cap_headers * sizeof(*b.headers))))
		return PB_ENOMEM;
	bool last = false, cut = false;
	size_t junk;
	while (!pb_cur_eof(c) && !last) {
		if ((junk = trailing_junk(c)) > 0 && !missing_field(m->message_type, b.seen)) {
			char text[64];
			snprintf(text, sizeof(text), "%zu byte%s of junk after the last header ignored", junk,
				 junk == 1 ? "" : "s");
			if ((rc = pb_mms__warn(ctx, m, pb_cur_offset(c), text)) < 0)
				return rc;
			c->p = c->end;
			break;
		}
		if ((rc = one_header(ctx, c, &b, m, &last)) < 0) {
			if ((rc = pb_mms__salvage(ctx, m, rc)) < 0)
				return rc;
			cut = true;
			c->p = c->end;
			break;
		}
	}
	m->headers = b.headers;
	m->to = b.to;
	m->cc = b.cc;
	m->bcc = b.bcc;
	if ((rc = list_unknown(ctx, &b, m)) < 0)
		return rc;
	if (!cut && !m->incomplete && (rc = pb_mms__salvage(ctx, m, check_mandatory(ctx, c, m, b.seen))) < 0)
		return rc;
	if (!last)
		return 0;
	m->body = c->p;
	m->body_len = pb_cur_left(c);
	m->body_offset = pb_cur_offset(c);
	if (flags & PB_MMS_DECODE_HEADERS_ONLY)
		return 0;
	if (m->has_content_type && pb_wap__ct_is_multipart(&m->content_type)) {
		pb_cur body = *c;
		if ((rc = pb_mms__multipart(ctx, &body, m, -1, 0)) < 0)
			return rc;
	} else if (pb_cur_eof(c)) {
		return 0;
	} else {
		if ((rc = pb_mms__single_part(ctx, m, c)) < 0)
			return rc;
	}
	c->p = c->end;
	return pb_mms__name_parts(ctx, m);
}

PB_API int pb_mms_decode(pb_mms_message **out, const uint8_t *buf, size_t len,
			 unsigned flags, pb_parse_error *perr)
{
	if (!out || (!buf && len))
		return pb_error_set(PB_EINVAL, "pb_mms_decode: NULL argument");
	*out = NULL;
	pb_wap__arena *arena;
	/* one allocation holds most messages whole (the bench's picture message
	 * uses 3 KB of it); bigger ones take one more chunk */
	pb_mms_message *m = pb_wap__arena_object(sizeof(*m), 4096, &arena);
	if (!m)
		return PB_ENOMEM;
	pb_parse_error local;
	pb_wap__ctx ctx = { arena, perr ? perr : &local, flags };
	pb_cur c = pb_wap__cur(buf, len);
	int rc = pb_mms__decode_cur(&ctx, &c, flags, m);
	if (rc < 0) {
		pb_wap__object_free(m, sizeof(*m));
		return rc;
	}
	*out = m;
	return 0;
}

PB_API void pb_mms_message_free(pb_mms_message *msg)
{
	pb_wap__object_free(msg, sizeof(*msg));
}

PB_API int pb_mms_decode_push(pb_mms_message **out, pb_wsp_push **push_out,
			      const uint8_t *buf, size_t len, pb_parse_error *perr)
{
	return pb_mms_decode_push_flags(out, push_out, buf, len, 0, perr);
}

PB_API int pb_mms_decode_push_flags(pb_mms_message **out, pb_wsp_push **push_out, const uint8_t *buf,
				    size_t len, unsigned flags, pb_parse_error *perr)
{
	if (!out || (!buf && len))
		return pb_error_set(PB_EINVAL, "pb_mms_decode_push: NULL argument");
	*out = NULL;
	if (push_out)
		*push_out = NULL;
	pb_wsp_push *push;
	int rc = pb_wsp_push_decode(&push, buf, len, perr);
	if (rc < 0)
		return rc;
	pb_wap__arena *arena;
	pb_mms_message *m = pb_wap__arena_object(sizeof(*m), 1536, &arena);
	if (!m) {
		pb_wsp_push_free(push);
		return PB_ENOMEM;
	}
	pb_parse_error local;
	flags &= ~(unsigned int)PB_MMS_DECODE_HEADERS_ONLY; /* a notification is all headers anyway */
	pb_wap__ctx ctx = { arena, perr ? perr : &local, flags };
	pb_cur c = pb_wap__cur(buf, len);
	c.p += push->body_offset;
	if (push->kind != PB_WSP_PUSH_MMS) {
		rc = pb_error__parse(perr, 2, "push carries %s, not an MMS PDU",
				     push->content_type.media_type[0] ? push->content_type.media_type : "no content type");
	} else if (push->app_id != 0x04) {
		rc = pb_error__parse(perr, 2, "MMS push for application %s, not x-wap-application:mms.ua",
				     push->app_id_name ? push->app_id_name : "(no X-Wap-Application-Id)");
	} else if ((rc = pb_mms__decode_cur(&ctx, &c, flags, m)) == 0 &&
		   m->message_type != PB_MMS_NOTIFICATION_IND && m->message_type != PB_MMS_DELIVERY_IND &&
		   m->message_type != PB_MMS_READ_ORIG_IND) {
		rc = pb_error__parse(perr, push->body_offset + 1, "%s cannot arrive in a push",
				     pb_mms_message_type_name((int)m->message_type));
	}
	if (rc < 0) {
		pb_wap__object_free(m, sizeof(*m));
		pb_wsp_push_free(push);
		return rc;
	}
	*out = m;
	if (push_out)
		*push_out = push;
	else
		pb_wsp_push_free(push);
	return 0;
}
