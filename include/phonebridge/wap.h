/*
 * libphonebridge — WSP encoding primitives and the connectionless WAP push PDU.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * WAP-230-WSP: the binary header encoding MMS is built on (§8.4), the push
 * PDU (§8.2.4.1) and the assigned numbers of its Appendix A. Everything here
 * decodes bytes from outside: every length is checked against what is there,
 * and failures are PB_EMALFORMED with the offset of the first byte that could
 * not be accepted (pb_parse_error).
 *
 * Zero copy: decoded values point into the caller's input buffer, which must
 * stay valid and unchanged as long as the decoded object is used. Strings that
 * had to be converted (a charset other than UTF-8, a text that was not
 * well-formed) are owned by the decoded object and freed with it.
 *
 *     pb_wsp_push *push;
 *     pb_parse_error perr;
 *     if (pb_wsp_push_decode(&push, sms_user_data, len, &perr) < 0)
 *         fprintf(stderr, "bad push at byte %zu: %s\n", perr.offset, perr.text);
 *     else if (pb_wsp_push_kind(push) == PB_WSP_PUSH_MMS)
 *         ... pb_mms_decode(&msg, push->body, push->body_len, 0, &perr) ...
 *     pb_wsp_push_free(push);
 */
#ifndef PHONEBRIDGE_WAP_H
#define PHONEBRIDGE_WAP_H

#include <stdbool.h>

#include <phonebridge/buffer.h>
#include <phonebridge/common.h>

PB_BEGIN_DECLS

/** The WDP port WSP connectionless push arrives on (WAP-259-WDP). */
#define PB_WAP_PUSH_PORT 2948

/** One content-type parameter, as decoded (both WSP 1.2 and 1.4 tokens). */
typedef struct pb_wsp_param {
	const char *name;  /**< well-known parameters by their lower-case name ("charset", "start");
			        textual ones as the sender wrote them */
	const char *value; /**< the value as UTF-8 text ("" for a parameter without value) */
} pb_wsp_param;

/**
 * A decoded WSP content type (Content-type-value, WSP §8.4.2.24) with its
 * parameters. The well-known parameters have their own fields as well.
 * Every string is borrowed from the object that holds the content type.
 */
typedef struct pb_wsp_content_type {
	const char *media_type;  /**< e.g. "application/vnd.wap.multipart.related"; never NULL ("" if absent) */
	int well_known;          /**< the WSP assigned number, or -1 when given as text */
	const char *charset;     /**< charset parameter as a name ("UTF-8"), or NULL */
	unsigned charset_mib;/**< its IANA MIBenum; 0 when absent or given by name only */
	const char *type;        /**< multipart/related "type" parameter, or NULL */
	const char *start;       /**< multipart/related "start" parameter (root Content-ID), or NULL */
	const char *start_info;  /**< "start-info" parameter, or NULL */
	const char *name;        /**< "name" parameter, or NULL */
	const char *filename;    /**< "filename" parameter, or NULL */
	const pb_wsp_param *params; /**< every parameter, in order */
	size_t n_params;
} pb_wsp_content_type;

/**
 * The name of a WSP well-known content type (WSP Table 40 and the OMNA
 * registry), e.g. 0x3E -> "application/vnd.wap.mms-message".
 * @return static storage, or NULL for an unassigned number
 */
PB_API const char *pb_wsp_content_type_name(unsigned code);

/** The WSP assigned number of a content type name (case-insensitive).
 *  @return the number (>= 0), or PB_ENOTFOUND */
PB_API int pb_wsp_content_type_code(const char *name);

/**
 * Decode a uintvar (WSP §8.1.2) at the start of @p buf.
 *
 * @param value receives the value (at most 32 bits)
 * @param used  receives the bytes read (1-5)
 * @return 0, or PB_EMALFORMED (truncated, longer than 5 bytes, or more than 32 bits)
 */
PB_API int pb_wsp_uintvar_decode(const uint8_t *buf, size_t len, uint32_t *value,
				 size_t *used, pb_parse_error *perr);

/** Append a uintvar (WSP §8.1.2). @return 0 or PB_ENOMEM */
PB_API int pb_wsp_uintvar_encode(pb_buf *out, uint32_t value);

/** Kinds of push content this library recognises (by content type). */
typedef enum pb_wsp_push_kind {
	PB_WSP_PUSH_OTHER = 0,        /**< anything else: look at content_type */
	PB_WSP_PUSH_MMS,              /**< application/vnd.wap.mms-message (M-Notification.ind etc.) */
	PB_WSP_PUSH_SI,               /**< Service Indication (text/vnd.wap.si, application/vnd.wap.sic) */
	PB_WSP_PUSH_SL,               /**< Service Loading (text/vnd.wap.sl, application/vnd.wap.slc) */
	PB_WSP_PUSH_PROVISIONING,     /**< OMA client provisioning (application/vnd.wap.connectivity-wbxml/-xml) */
	PB_WSP_PUSH_SYNCML,           /**< SyncML DS/DM notification or device management */
	PB_WSP_PUSH_DRM,              /**< OMA DRM rights objects and messages */
	PB_WSP_PUSH_CO,               /**< Cache Operation (text/vnd.wap.co, application/vnd.wap.coc) */
	PB_WSP_PUSH_EMN,              /**< E-mail notification (application/vnd.wap.emn+wbxml) */
} pb_wsp_push_kind;

/** One header of a push, as it was in the PDU. */
typedef struct pb_wsp_header {
	int field;             /**< WSP well-known field number (Table 39), or -1 for a textual header */
	const char *name;      /**< field name ("X-Wap-Application-Id", or the textual name) */
	const uint8_t *value;  /**< the encoded value bytes, borrowed from the input */
	size_t value_len;
	const char *text;      /**< the value as text when it is a text string, else NULL */
} pb_wsp_header;

/**
 * A decoded connectionless WSP push PDU (WSP §8.2.4.1, WAP-235 Push OTA).
 * Free with pb_wsp_push_free(). @p body and header values point into the
 * decoder's input, which must outlive this object.
 */
typedef struct pb_wsp_push {
	uint8_t tid;                      /**< transaction id */
	uint8_t pdu_type;                 /**< 0x06 (Push) */
	pb_wsp_push_kind kind;            /**< what the content type says it carries */
	pb_wsp_content_type content_type; /**< content type of the body */
	int app_id;                       /**< X-Wap-Application-Id number (0x04 = mms.ua), -1 if absent or textual */
	const char *app_id_name;          /**< X-Wap-Application-Id as text ("x-wap-application:mms.ua"), NULL if absent */
	const pb_wsp_header *headers;     /**< every header after the content type, in order */
	size_t n_headers;
	const uint8_t *body;              /**< the pushed content, borrowed from the input */
	size_t body_len;
	size_t body_offset;               /**< where the body starts in the input */
} pb_wsp_push;

/**
 * Decode a connectionless WSP push PDU, as carried in the user data of an SMS
 * to port 2948 (starting at the TID byte) or a UDP datagram.
 *
 * Any content type is accepted; kind and content_type say what it is.
 *
 * @param out  receives a new push (pb_wsp_push_free()); NULL on failure
 * @param buf  the PDU; must outlive *out (zero copy)
 * @param perr optional; where decoding failed
 * @return 0, PB_EMALFORMED (not a push PDU, or not well-formed), PB_ENOMEM
 */
PB_API int pb_wsp_push_decode(pb_wsp_push **out, const uint8_t *buf, size_t len,
			      pb_parse_error *perr);

/** Free a push from pb_wsp_push_decode(). NULL is fine. */
PB_API void pb_wsp_push_free(pb_wsp_push *push);

/** A short name for a push kind, e.g. "mms", "si", "provisioning". @return static */
PB_API const char *pb_wsp_push_kind_name(pb_wsp_push_kind kind);

/**
 * Build a connectionless push PDU carrying @p body, as a carrier would (for
 * tests, samples and emulators): TID, PDU type Push, headers length, the
 * content type, X-Wap-Application-Id, then the body.
 *
 * @param content_type a content type name; a well-known one is written as its number
 * @param app_id       X-Wap-Application-Id number (0x04 for MMS), or -1 for none
 * @return 0, PB_EINVAL or PB_ENOMEM
 */
PB_API int pb_wsp_push_encode(pb_buf *out, uint8_t tid, const char *content_type,
			      int app_id, const uint8_t *body, size_t body_len);

PB_END_DECLS

#endif
