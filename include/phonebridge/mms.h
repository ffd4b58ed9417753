/*
 * libphonebridge — MMS PDUs (OMA-MMS-ENC 1.0-1.3): decoding and encoding.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Decoding reads every message type of OMA-MMS-ENC 1.3 and every header of
 * its Table 12 into a typed value; headers it does not know are skipped and
 * listed, known headers with values it does not know are kept raw. Text is
 * converted to UTF-8 from whatever charset the sender used.
 *
 * Ownership and zero copy: a decoded pb_mms_message is one allocation family
 * freed by pb_mms_message_free(). Part bodies and raw header values point
 * into the caller's input buffer, which must stay valid and unchanged as
 * long as the message is used. Strings converted from another charset and
 * bodies decoded from base64 or quoted-printable are owned by the message.
 * Every `const char *` and array reached from a message is borrowed: valid
 * until pb_mms_message_free().
 *
 *     pb_mms_message *msg;
 *     pb_parse_error perr;
 *     if (pb_mms_decode(&msg, pdu, len, 0, &perr) < 0) {
 *         fprintf(stderr, "offset %zu: %s\n", perr.offset, perr.text);
 *     } else if (msg->message_type == PB_MMS_RETRIEVE_CONF) {
 *         pb_buf text = PB_BUF_INIT;
 *         pb_mms_message_text(msg, &text);
 *         for (size_t i = 0; i < msg->n_parts; i++)
 *             if (pb_mms_part_is_media(&msg->parts[i]))
 *                 save(msg->parts[i].filename, msg->parts[i].data, msg->parts[i].len);
 *         pb_buf_dispose(&text);
 *     }
 *     pb_mms_message_free(msg);
 */
#ifndef PHONEBRIDGE_MMS_H
#define PHONEBRIDGE_MMS_H

#include <stdbool.h>

#include <phonebridge/buffer.h>
#include <phonebridge/common.h>
#include <phonebridge/wap.h>

PB_BEGIN_DECLS

/** X-Mms-Message-Type values (OMA-MMS-ENC 1.3 §7.3.30). */
typedef enum pb_mms_message_type {
	PB_MMS_SEND_REQ = 128,
	PB_MMS_SEND_CONF = 129,
	PB_MMS_NOTIFICATION_IND = 130,
	PB_MMS_NOTIFYRESP_IND = 131,
	PB_MMS_RETRIEVE_CONF = 132,
	PB_MMS_ACKNOWLEDGE_IND = 133,
	PB_MMS_DELIVERY_IND = 134,
	PB_MMS_READ_REC_IND = 135,
	PB_MMS_READ_ORIG_IND = 136,
	PB_MMS_FORWARD_REQ = 137,
	PB_MMS_FORWARD_CONF = 138,
	PB_MMS_MBOX_STORE_REQ = 139,
	PB_MMS_MBOX_STORE_CONF = 140,
	PB_MMS_MBOX_VIEW_REQ = 141,
	PB_MMS_MBOX_VIEW_CONF = 142,
	PB_MMS_MBOX_UPLOAD_REQ = 143,
	PB_MMS_MBOX_UPLOAD_CONF = 144,
	PB_MMS_MBOX_DELETE_REQ = 145,
	PB_MMS_MBOX_DELETE_CONF = 146,
	PB_MMS_MBOX_DESCR = 147,
	PB_MMS_DELETE_REQ = 148,
	PB_MMS_DELETE_CONF = 149,
	PB_MMS_CANCEL_REQ = 150,
	PB_MMS_CANCEL_CONF = 151,
} pb_mms_message_type;

/** X-Mms-Status values (§7.3.54), for M-NotifyResp.ind and M-Delivery.ind. */
typedef enum pb_mms_status {
	PB_MMS_STATUS_EXPIRED = 128,
	PB_MMS_STATUS_RETRIEVED = 129,
	PB_MMS_STATUS_REJECTED = 130,
	PB_MMS_STATUS_DEFERRED = 131,
	PB_MMS_STATUS_UNRECOGNISED = 132,
	PB_MMS_STATUS_INDETERMINATE = 133,
	PB_MMS_STATUS_FORWARDED = 134,
	PB_MMS_STATUS_UNREACHABLE = 135,
} pb_mms_status;

/** X-Mms-Retrieve-Status values (§7.3.50). */
typedef enum pb_mms_retrieve_status {
	PB_MMS_RETRIEVE_OK = 128,
	PB_MMS_RETRIEVE_TRANSIENT_FAILURE = 192,
	PB_MMS_RETRIEVE_TRANSIENT_NOT_FOUND = 193,
	PB_MMS_RETRIEVE_TRANSIENT_NETWORK = 194,
	PB_MMS_RETRIEVE_PERMANENT_FAILURE = 224,
	PB_MMS_RETRIEVE_PERMANENT_DENIED = 225,
	PB_MMS_RETRIEVE_PERMANENT_NOT_FOUND = 226,
	PB_MMS_RETRIEVE_PERMANENT_UNSUPPORTED = 227,
} pb_mms_retrieve_status;

/** X-Mms-Response-Status: 128 is Ok (§7.3.48); others are errors. */
#define PB_MMS_RESPONSE_OK 128

/** X-Mms-Read-Status values (§7.3.40). */
typedef enum pb_mms_read_status { PB_MMS_READ_STATUS_READ = 128, PB_MMS_READ_STATUS_DELETED = 129 } pb_mms_read_status;

/** X-Mms-Priority values (§7.3.39); 0: absent, or left out. */
typedef enum pb_mms_priority {
	PB_MMS_PRIORITY_ABSENT = 0,
	PB_MMS_PRIORITY_LOW = 128,
	PB_MMS_PRIORITY_NORMAL = 129,
	PB_MMS_PRIORITY_HIGH = 130,
} pb_mms_priority;

/**
 * A Yes/No header (X-Mms-Delivery-Report, X-Mms-Read-Report,
 * X-Mms-Report-Allowed, §7.3.13, §7.3.37, §7.3.47): present and yes, present
 * and no, or absent (left out when encoding). Use the names, not 128/129.
 */
typedef enum pb_mms_yes_no {
	PB_MMS_ABSENT = 0,
	PB_MMS_YES = 128,
	PB_MMS_NO = 129,
} pb_mms_yes_no;

/** What a decoded header value is. */
typedef enum pb_mms_value_kind {
	PB_MMS_VALUE_RAW = 0,   /**< not understood: only raw/raw_len are meaningful */
	PB_MMS_VALUE_TOKEN,     /**< an enumerated token (number, with its spec name in text) */
	PB_MMS_VALUE_INTEGER,   /**< an integer (number) */
	PB_MMS_VALUE_TEXT,      /**< text (text, UTF-8) */
	PB_MMS_VALUE_DATE,      /**< seconds since 1970 UTC (number) */
	PB_MMS_VALUE_RELATIVE,  /**< seconds from now (number) */
	PB_MMS_VALUE_ADDRESS,   /**< an address (text; NULL with number 129 for insert-address-token) */
	PB_MMS_VALUE_CONTENT_TYPE, /**< the Content-Type (see pb_mms_message.content_type) */
	PB_MMS_VALUE_COUNTED,   /**< a count (number) with text or a date (date): Previously-Sent-*, Totals, Quotas, MM-Flags */
} pb_mms_value_kind;

/** One header of an MMS PDU, typed. */
typedef struct pb_mms_header {
	int field;              /**< field number (0x01-0x3F, §7.4 Table 12), or -1 for a textual header */
	const char *name;       /**< field name ("X-Mms-Expiry"); textual headers their own name */
	pb_mms_value_kind kind; /**< how to read the rest */
	bool known;             /**< false: an unknown field, or a value this decoder does not know (kept raw) */
	uint64_t number;        /**< token, integer, date, seconds, count */
	int64_t date;           /**< a date in COUNTED values (Previously-Sent-Date), else 0 */
	const char *text;       /**< text value, token name, address; may be NULL */
	const uint8_t *raw;     /**< the value bytes as they were, borrowed from the input */
	size_t raw_len;
	size_t offset;          /**< where the header's field byte is in the input */
} pb_mms_header;

/** An expiry or delivery time: absolute or relative (§7.3.20, §7.3.12). */
typedef struct pb_mms_time {
	bool present;
	bool relative;   /**< true: seconds from receipt; false: seconds since 1970 UTC */
	int64_t value;
} pb_mms_time;

/** One part of a multipart body (WSP §8.5), possibly nested. */
typedef struct pb_mms_part {
	pb_wsp_content_type content_type;
	const char *content_id;        /**< Content-ID without angle brackets, or NULL */
	const char *content_location;  /**< Content-Location, or NULL */
	const char *name;              /**< name the sender gave (name/filename parameter,
					    Content-Disposition filename, Content-Location), UTF-8, or NULL */
	const char *filename;          /**< safe file name: a basename without '/', '\\', "..",
					    control characters, at most 96 bytes, unique in the
					    message, with an extension; never NULL */
	const char *transfer_encoding; /**< Content-Transfer-Encoding if one was given, or NULL */
	const uint8_t *data;           /**< body after transfer decoding: into the input (zero copy)
					    unless base64/quoted-printable was decoded */
	size_t len;
	const uint8_t *raw;            /**< body as it was in the PDU, borrowed from the input */
	size_t raw_len;
	size_t offset;                 /**< where the part's headers start in the input */
	int parent;                    /**< index of the enclosing multipart part, or -1 */
	int depth;                     /**< 0 for top-level parts */
	bool is_multipart;             /**< a nested multipart container (its parts follow it) */
	bool is_root;                  /**< the multipart/related start part (or the first part) */
	const pb_wsp_header *headers;  /**< every part header after the content type */
	size_t n_headers;
} pb_mms_part;

/**
 * A decoded MMS PDU. Fields a PDU does not carry are NULL, 0, or
 * not present. Token fields (priority, statuses, ...) hold the spec's
 * number (>= 128), or 0 when absent.
 */
typedef struct pb_mms_message {
	pb_mms_message_type message_type;
	unsigned version;              /**< X-Mms-MMS-Version: major << 4 | minor (0x13 = 1.3) */
	const char *transaction_id;
	const char *message_id;
	const char *from;              /**< number or address (/TYPE= suffix removed), or NULL */
	bool from_insert_address;      /**< From was the insert-address-token */
	const char *const *to;         /**< addresses, /TYPE= suffixes removed */
	size_t n_to;
	const char *const *cc;
	size_t n_cc;
	const char *const *bcc;
	size_t n_bcc;
	const char *subject;
	bool has_date;
	int64_t date;                  /**< seconds since 1970 UTC */
	const char *content_location;
	bool has_message_size;
	uint64_t message_size;
	pb_mms_time expiry;
	pb_mms_time delivery_time;
	const char *message_class;     /**< "personal", "advertisement", "informational", "auto", or the text */
	pb_mms_priority priority;      /**< 0 (PB_MMS_PRIORITY_ABSENT) if absent */
	pb_mms_yes_no delivery_report;
	pb_mms_yes_no read_report;
	pb_mms_yes_no report_allowed;
	int status;                    /**< X-Mms-Status, 0 if absent */
	const char *status_text;
	int response_status;           /**< X-Mms-Response-Status, 0 if absent */
	const char *response_text;
	int retrieve_status;           /**< X-Mms-Retrieve-Status, 0 if absent */
	const char *retrieve_text;
	int read_status;               /**< X-Mms-Read-Status, 0 if absent */
	const char *content_class;     /**< X-Mms-Content-Class name, or NULL */
	bool has_content_type;
	pb_wsp_content_type content_type; /**< Content-Type of the body (send-req, retrieve-conf, ...) */
	const pb_mms_header *headers;  /**< every header, in order */
	size_t n_headers;
	const pb_mms_header *const *unknown_headers; /**< the headers this decoder did not know */
	size_t n_unknown_headers;
	const pb_mms_part *parts;      /**< multipart body parts (nested ones flattened, parent first) */
	size_t n_parts;
	int root_part;                 /**< index of the start part, or -1 */
	const uint8_t *body;           /**< the body after the headers, borrowed; NULL if none */
	size_t body_len;
	size_t body_offset;
	bool incomplete;               /**< only with PB_MMS_DECODE_SALVAGE: the PDU was cut short or
					    lacks a mandatory header, and this is what could be read
					    (see warning); never set without that flag */
	const char *warning;           /**< the first thing decoding let pass (junk after the last
					    header of a notification, what a salvage left out), or NULL */
	size_t warning_offset;         /**< where in the input that was */
} pb_mms_message;

/** pb_mms_decode() flag: decode headers only, leave the body undecoded. */
#define PB_MMS_DECODE_HEADERS_ONLY 0x1
/** pb_mms_decode() flag: salvage what can be read of a PDU that is cut short
 *  (a text without its NUL at the end, fewer parts than the multipart
 *  declares, a part running past the end, a mandatory header missing)
 *  instead of failing; the result has incomplete set and says why in
 *  warning. Never the default: without it such a PDU is PB_EMALFORMED. */
#define PB_MMS_DECODE_SALVAGE 0x2

/**
 * Decode an MMS PDU (the body of an HTTP response from the MMSC, or of a push).
 *
 * The PDU must begin with X-Mms-Message-Type. Multipart bodies are split
 * into parts (nested multiparts flattened); a single-part body becomes one
 * part. A PDU is never decoded partially: a text without its NUL, a value
 * running past the end, a multipart with fewer entries than it declares,
 * or a missing mandatory header of its type (OMA-MMS-ENC 1.3 §6) is
 * PB_EMALFORMED with the offset, unless PB_MMS_DECODE_SALVAGE asks for what
 * can be read (then msg->incomplete is set).
 *
 * @param out   receives a new message (pb_mms_message_free()); NULL on failure
 * @param buf   the PDU; must outlive *out (zero copy)
 * @param flags 0, or PB_MMS_DECODE_HEADERS_ONLY and/or PB_MMS_DECODE_SALVAGE
 * @param perr  optional; the offset (into @p buf) where decoding failed
 * @return 0, PB_EMALFORMED, PB_ENOMEM
 */
PB_API int pb_mms_decode(pb_mms_message **out, const uint8_t *buf, size_t len,
			 unsigned flags, pb_parse_error *perr);

/**
 * Decode a WAP push that carries an MMS PDU: unwrap the WSP push, check that
 * it is for the MMS user agent (content type application/vnd.wap.mms-message,
 * X-Wap-Application-Id mms.ua) and carries a PDU a push may carry
 * (M-Notification.ind, M-Delivery.ind, M-Read-Orig.ind), and decode it.
 *
 * @param out  receives a new message (pb_mms_message_free())
 * @param push optional; receives the new decoded push (pb_wsp_push_free())
 * @param buf  the push PDU from its TID byte; must outlive both (zero copy)
 * @param perr optional; offsets count from the start of @p buf
 * @return 0, PB_EMALFORMED (also for a push that is not for MMS), PB_ENOMEM
 */
PB_API int pb_mms_decode_push(pb_mms_message **out, pb_wsp_push **push,
			      const uint8_t *buf, size_t len, pb_parse_error *perr);

/**
 * pb_mms_decode_push() with decode flags: PB_MMS_DECODE_SALVAGE reads what
 * can be read of a notification that is cut short (routers that take the
 * push themselves cut its Content-Location), with msg->incomplete set.
 * The push itself must still be whole and for MMS.
 *
 * @param flags 0 or PB_MMS_DECODE_SALVAGE
 * @return as pb_mms_decode_push()
 */
PB_API int pb_mms_decode_push_flags(pb_mms_message **out, pb_wsp_push **push, const uint8_t *buf,
				    size_t len, unsigned flags, pb_parse_error *perr);

/** Free a decoded message. NULL is fine. */
PB_API void pb_mms_message_free(pb_mms_message *msg);

/** The spec's name of a message type, e.g. "m-retrieve-conf". @return static, or NULL if unknown */
PB_API const char *pb_mms_message_type_name(int type);

/** The spec's name of a header field, e.g. 0x08 -> "X-Mms-Expiry". @return static, or NULL */
PB_API const char *pb_mms_header_name(int field);

/** Text of a status token, e.g. X-Mms-Retrieve-Status 226 -> "Error-permanent-message-not-found".
 *  @param field the header the value belongs to (0x15 Status, 0x12 Response-Status,
 *               0x19 Retrieve-Status, ...) @return static, or NULL if unknown */
PB_API const char *pb_mms_token_name(int field, int value);

/** True when the message's X-Mms-Retrieve-Status (or its absence, which means
 *  success) says the retrieval succeeded. */
PB_API bool pb_mms_retrieve_ok(const pb_mms_message *msg);

/**
 * Append the message's text to @p out as UTF-8: every text part that is not
 * SMIL, in order, separated by a blank line (of a multipart/alternative only
 * its first text version); the body itself for a text/ single-part message.
 * @return 0, or PB_ENOMEM
 */
PB_API int pb_mms_message_text(const pb_mms_message *msg, pb_buf *out);

/** Append one part's body converted to UTF-8 from its charset (UTF-8 when none is given).
 *  @return 0, PB_EINVAL (not a text part), PB_ENOMEM */
PB_API int pb_mms_part_text(const pb_mms_part *part, pb_buf *out);

/** True for a text/ part other than SMIL. */
PB_API bool pb_mms_part_is_text(const pb_mms_part *part);

/** True for a part that carries media: not text, not SMIL, not a multipart container. */
PB_API bool pb_mms_part_is_media(const pb_mms_part *part);

/** True for a SMIL presentation part (application/smil). */
PB_API bool pb_mms_part_is_smil(const pb_mms_part *part);

/** SHA-256 of the part's (transfer-decoded) body.
 *  @param hex receives 64 lower-case hex digits and a NUL
 *  @return 0, or PB_ENOMEM / PB_ERROR from libcrypto */
PB_API int pb_mms_part_sha256(const pb_mms_part *part, uint8_t digest[32], char hex[65]);

/**
 * Make a name safe to use as a file name: the basename of @p name (after the
 * last '/' or '\\'), without control characters, leading dots or ".."; shell
 * and Windows-reserved characters replaced by '_'; at most 96 bytes (cut on
 * a UTF-8 character boundary, keeping a short extension). An empty result
 * becomes @p fallback.
 *
 * @return 0 or PB_ENOMEM
 */
PB_API int pb_mms_safe_filename(pb_buf *out, const char *name, const char *fallback);

/**
 * The content type a file name's extension suggests ("photo.JPG" ->
 * "image/jpeg"), for attaching files; "application/octet-stream" when the
 * extension is unknown or missing.
 * @return static storage
 */
PB_API const char *pb_mms_guess_content_type(const char *filename);

/* --- encoding ----------------------------------------------------------- */

/** Version written by the encoders: MMS 1.3. */
#define PB_MMS_VERSION_1_3 0x13

/**
 * Encode an M-NotifyResp.ind (§6.2): the answer to an M-Notification.ind.
 *
 * @param transaction_id from the notification
 * @param status         PB_MMS_STATUS_RETRIEVED, _DEFERRED, _REJECTED, ...
 * @param report_allowed PB_MMS_YES, PB_MMS_NO, or PB_MMS_ABSENT to leave out
 *                       X-Mms-Report-Allowed
 * @return 0, PB_EINVAL, PB_ENOMEM
 */
PB_API int pb_mms_encode_notifyresp(pb_buf *out, const char *transaction_id, pb_mms_status status,
				    pb_mms_yes_no report_allowed);

/** Encode an M-Acknowledge.ind (§6.4), sent after a deferred retrieval.
 *  @param report_allowed PB_MMS_YES, PB_MMS_NO, or PB_MMS_ABSENT to leave it out
 *  @return 0, PB_EINVAL, PB_ENOMEM */
PB_API int pb_mms_encode_ack(pb_buf *out, const char *transaction_id, pb_mms_yes_no report_allowed);

/**
 * Encode an M-Read-Rec.ind (§6.7.2): the read report for a received message.
 *
 * @param message_id the Message-ID of the message that was read
 * @param to         the original sender
 * @param from       our number, or NULL for the insert-address-token
 * @param date       seconds since 1970, or 0 to leave Date out
 * @param read_status PB_MMS_READ_STATUS_READ or _DELETED
 * @return 0, PB_EINVAL, PB_ENOMEM
 */
PB_API int pb_mms_encode_read_rec(pb_buf *out, const char *message_id, const char *to,
				  const char *from, int64_t date, pb_mms_read_status read_status);

/** One attachment of an outgoing message. */
typedef struct pb_mms_attachment {
	const char *content_type; /**< e.g. "image/jpeg" */
	const char *name;         /**< file name (made safe and unique); NULL for "attachment-N" */
	const uint8_t *data;      /**< borrowed for the call */
	size_t len;
	const char *charset;      /**< for text attachments; NULL for none */
} pb_mms_attachment;

/** An outgoing message for pb_mms_encode_send_req(). */
typedef struct pb_mms_send_req {
	unsigned version;             /**< PB_MMS_SEND_REQ_VERSION */
	const char *transaction_id;   /**< required */
	const char *from;             /**< NULL: insert-address-token (the MMSC fills it in) */
	const char *const *to;        /**< numbers (+E.164 gets /TYPE=PLMN) or e-mail addresses */
	size_t n_to;
	const char *const *cc;
	size_t n_cc;
	const char *const *bcc;
	size_t n_bcc;
	const char *subject;          /**< UTF-8, or NULL */
	int64_t date;                 /**< seconds since 1970, or 0 to leave Date out */
	int64_t expiry;               /**< relative seconds, or 0 to leave it out */
	pb_mms_yes_no delivery_report; /**< PB_MMS_ABSENT: left out */
	pb_mms_yes_no read_report;     /**< PB_MMS_ABSENT: left out */
	pb_mms_priority priority;     /**< PB_MMS_PRIORITY_ABSENT: left out */
	const char *message_class;    /**< "personal" etc., or NULL */
	const char *text;             /**< UTF-8 text slide, or NULL */
	const pb_mms_attachment *attachments;
	size_t n_attachments;
} pb_mms_send_req;

/** The version of pb_mms_send_req these headers describe. */
#define PB_MMS_SEND_REQ_VERSION 1u
/** Initialiser for pb_mms_send_req. */
#define PB_MMS_SEND_REQ_INIT { PB_MMS_SEND_REQ_VERSION, NULL, NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0 }

/**
 * Encode an M-Send.req (§6.1.1) with a multipart/related body: a generated
 * SMIL presentation (the root, Content-ID <smil>), the text as a UTF-8
 * text/plain part, and each attachment (images, audio and video laid out
 * in the SMIL; anything else attached as is).
 *
 * @return 0, PB_EINVAL (no transaction id, no recipient), PB_ENOMEM
 */
PB_API int pb_mms_encode_send_req(pb_buf *out, const pb_mms_send_req *req);

/**
 * Encode an M-Retrieve.conf with the same body layout as
 * pb_mms_encode_send_req() — what an MMSC would deliver; used to make
 * samples and test data and by emulators.
 *
 * @param message_id the Message-ID, or NULL
 * @param date       seconds since 1970 (0: left out)
 * @return 0, PB_EINVAL, PB_ENOMEM
 */
PB_API int pb_mms_encode_retrieve_conf(pb_buf *out, const pb_mms_send_req *msg,
				       const char *message_id);

/** An M-Notification.ind to encode (for emulators, samples and tests). */
typedef struct pb_mms_notification {
	const char *transaction_id;   /**< required */
	const char *from;             /**< or NULL */
	const char *subject;          /**< or NULL */
	const char *message_class;    /**< NULL: "personal" */
	uint64_t message_size;
	int64_t expiry;               /**< relative seconds; 0: one week */
	const char *content_location; /**< required */
} pb_mms_notification;

/** Encode an M-Notification.ind (§6.2). @return 0, PB_EINVAL, PB_ENOMEM */
PB_API int pb_mms_encode_notification(pb_buf *out, const pb_mms_notification *n);

PB_END_DECLS

#endif
