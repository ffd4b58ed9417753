/*
 * libphonebridge — SMS codec: 3GPP TS 23.040 TPDUs, TS 23.038 alphabets,
 * user data headers, concatenation and reassembly.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Decoding never allocates: it fills a caller-provided pb_sms_message whose
 * text and addresses live in fixed arrays inside the struct, and whose raw
 * user data and UDH information elements point into the caller's input
 * (borrowed: valid while that input is).
 *
 *     pb_sms_message msg;
 *     pb_parse_error perr;
 *     if (pb_sms_decode(&msg, pdu, len, PB_SMS_DECODE_SMSC, &perr) < 0)
 *         fprintf(stderr, "bad PDU at byte %zu: %s\n", perr.offset, perr.text);
 *     else
 *         printf("%s: %s\n", msg.address.number, msg.text);
 *
 * Encoding splits text into the fewest SUBMIT PDUs (GSM 7-bit, optionally
 * with national language shift tables, else UCS-2) and returns them in a new
 * array. The reassembler joins the parts of concatenated messages; its state
 * can be persisted through pb_sms_reassembly_store_ops.
 *
 * The codec does no I/O and never logs.
 */
#ifndef PHONEBRIDGE_SMS_H
#define PHONEBRIDGE_SMS_H

#include <stdbool.h>

#include <phonebridge/buffer.h>
#include <phonebridge/common.h>

PB_BEGIN_DECLS

/* --- decoded message ------------------------------------------------------ */

/** TPDU types (TS 23.040 §9.2.3.1, TP-MTI together with the direction). */
typedef enum pb_sms_type {
	PB_SMS_DELIVER = 0,        /**< SC -> MS, MTI 00 */
	PB_SMS_SUBMIT = 1,         /**< MS -> SC, MTI 01 */
	PB_SMS_STATUS_REPORT = 2,  /**< SC -> MS, MTI 10 */
	PB_SMS_DELIVER_REPORT = 3, /**< MS -> SC, MTI 00 (with PB_SMS_DECODE_REVERSE) */
	PB_SMS_SUBMIT_REPORT = 4,  /**< SC -> MS, MTI 01 (with PB_SMS_DECODE_REVERSE) */
	PB_SMS_COMMAND = 5,        /**< MS -> SC, MTI 10 (with PB_SMS_DECODE_REVERSE) */
} pb_sms_type;

/** User data encodings (TS 23.038 §4). */
typedef enum pb_sms_encoding {
	PB_SMS_ENC_GSM7 = 0, /**< GSM 7-bit default alphabet (+ national shift tables) */
	PB_SMS_ENC_8BIT = 1, /**< 8-bit data: no text, see pb_sms_message.ud */
	PB_SMS_ENC_UCS2 = 2, /**< UCS-2, read as UTF-16BE (surrogate pairs joined) */
} pb_sms_encoding;

/** National language identifiers (TS 23.038 §6.2.1.2.4), as in UDH IEI 0x24/0x25. */
enum {
	PB_SMS_LANG_DEFAULT = 0,
	PB_SMS_LANG_TURKISH = 1,
	PB_SMS_LANG_SPANISH = 2,
	PB_SMS_LANG_PORTUGUESE = 3,
};

/** Largest address text (UTF-8, NUL included): 20 digits plus '+', or an
 *  11-character alphanumeric name of up to 3 UTF-8 bytes per character. */
#define PB_SMS_ADDRESS_MAX 48

/** An address field (TS 23.040 §9.1.2.5) or the SMSC address (TS 24.011). */
typedef struct pb_sms_address {
	bool present;                    /**< false: field absent or of length 0 */
	uint8_t toa;                     /**< type-of-address octet as received */
	uint8_t ton;                     /**< type of number, bits 6-4 of toa (1 international, 2 national, 5 alphanumeric) */
	uint8_t npi;                     /**< numbering plan, bits 3-0 of toa */
	char number[PB_SMS_ADDRESS_MAX]; /**< UTF-8, NUL-terminated; "+" prefixed when international;
	                                      digits 0-9 * # a b c; alphanumeric names decoded from GSM 7-bit */
} pb_sms_address;

/** A time stamp (TS 23.040 §9.2.3.11): SCTS, discharge time, absolute validity. */
typedef struct pb_sms_time {
	bool present;
	int year;       /**< four digits (00-89 -> 20xx, 90-99 -> 19xx) */
	int month, day, hour, minute, second;
	int tz_quarters; /**< offset from UTC in quarters of an hour, -79..+79 */
} pb_sms_time;

/** Validity period formats (TS 23.040 §9.2.3.3, TP-VPF). */
typedef enum pb_sms_vpf {
	PB_SMS_VP_NONE = 0,
	PB_SMS_VP_ENHANCED = 1,
	PB_SMS_VP_RELATIVE = 2,
	PB_SMS_VP_ABSOLUTE = 3,
} pb_sms_vpf;

/** A validity period (SUBMIT only). */
typedef struct pb_sms_validity {
	pb_sms_vpf format;
	uint8_t relative;      /**< TP-VP octet (PB_SMS_VP_RELATIVE) */
	uint32_t seconds;      /**< relative or enhanced relative period in seconds; 0 if not known */
	pb_sms_time absolute;  /**< PB_SMS_VP_ABSOLUTE */
	uint8_t enhanced[7];   /**< PB_SMS_VP_ENHANCED, the raw octets */
} pb_sms_validity;

/** A decoded TP-DCS (TS 23.038 §4). */
typedef struct pb_sms_dcs {
	uint8_t raw;               /**< the octet */
	uint8_t group;             /**< coding group: bits 7-4 of raw */
	pb_sms_encoding encoding;
	int msg_class;             /**< 0-3, or -1 for none */
	bool compressed;           /**< TS 23.042 compression: not supported, text left empty */
	bool auto_delete;          /**< marked for automatic deletion (groups 01xx) */
	bool mwi;                  /**< message waiting indication group (1100-1110) */
	bool mwi_store;            /**< store the message (1101, 1110) or discard (1100) */
	bool mwi_active;           /**< indication set (true) or cleared */
	uint8_t mwi_kind;          /**< 0 voicemail, 1 fax, 2 e-mail, 3 other */
} pb_sms_dcs;

/** Most information elements kept per message; a UDH holds at most 69. */
#define PB_SMS_UDH_MAX_IES 24

/** One UDH information element (TS 23.040 §9.2.3.24). */
typedef struct pb_sms_ie {
	uint8_t iei;          /**< element identifier */
	uint8_t len;          /**< length of data */
	const uint8_t *data;  /**< borrowed: points into the decoded input */
} pb_sms_ie;

/** A decoded user data header. Interpreted elements are also kept in ies[]. */
typedef struct pb_sms_udh {
	bool present;                      /**< TP-UDHI was set and a header decoded */
	uint8_t len;                       /**< UDHL: octets after the length octet */
	size_t n_ies;                      /**< elements in ies[] */
	bool ies_truncated;                /**< more than PB_SMS_UDH_MAX_IES elements: rest not listed */

	bool has_concat;        /**< IEI 0x00 or 0x08 with valid values */
	bool concat_ref16;      /**< 16-bit reference (IEI 0x08) */
	uint16_t concat_ref;
	uint8_t concat_total;   /**< 1-255 */
	uint8_t concat_seq;     /**< 1..concat_total */

	bool has_ports;         /**< IEI 0x04 or 0x05 */
	bool ports16;           /**< 16-bit ports (IEI 0x05) */
	uint16_t dst_port;
	uint16_t src_port;

	uint8_t lang_locking;   /**< IEI 0x24, 0 when absent */
	uint8_t lang_single;    /**< IEI 0x25, 0 when absent */

	/** every element in order, known or not; only the first n_ies are set */
	pb_sms_ie ies[PB_SMS_UDH_MAX_IES];
} pb_sms_udh;

/** Room for the text of one part: 255 septets of up to 3 UTF-8 bytes, + NUL. */
#define PB_SMS_TEXT_MAX 768

/**
 * One decoded TPDU. Fields that the TPDU type does not carry are zero /
 * absent. Everything is inside the struct except ud, tpdu and the
 * udh.ies[].data pointers, which point into the input given to
 * pb_sms_decode() (borrowed: valid while that input is).
 */
typedef struct pb_sms_message {
	pb_sms_type type;
	pb_sms_address smsc;        /**< present when decoded with PB_SMS_DECODE_SMSC and non-empty */
	const uint8_t *tpdu;        /**< borrowed: the TPDU (input after the SMSC field) */
	size_t tpdu_len;

	uint8_t first_octet;
	bool more_messages;         /**< DELIVER/STATUS-REPORT: TP-MMS clear, more messages waiting */
	bool reply_path;            /**< TP-RP */
	bool status_report;         /**< TP-SRI (DELIVER), TP-SRR (SUBMIT, COMMAND), TP-SRQ (STATUS-REPORT) */
	bool reject_duplicates;     /**< SUBMIT: TP-RD */
	bool loop_prevention;       /**< DELIVER/STATUS-REPORT: TP-LP */

	uint8_t mr;                 /**< message reference (SUBMIT, STATUS-REPORT, COMMAND) */
	pb_sms_address address;     /**< originator (DELIVER), destination (SUBMIT, COMMAND),
	                                 recipient (STATUS-REPORT) */
	bool has_pid;
	uint8_t pid;                /**< TP-PID */
	bool has_dcs;
	pb_sms_dcs dcs;
	pb_sms_time scts;           /**< service centre time stamp (DELIVER, STATUS-REPORT, SUBMIT-REPORT) */
	pb_sms_time discharge;      /**< STATUS-REPORT discharge time */
	pb_sms_validity validity;   /**< SUBMIT */
	bool has_status;
	uint8_t status;             /**< STATUS-REPORT TP-ST; see pb_sms_status_text() */
	bool has_fcs;
	uint8_t fcs;                /**< reports: TP-FCS (RP-ERROR) */
	uint8_t pi;                 /**< reports: TP-PI as received (0 when absent) */
	uint8_t command_type;       /**< COMMAND: TP-CT */
	uint8_t message_number;     /**< COMMAND: TP-MN */

	uint8_t udl;                /**< TP-UDL as received (septets for GSM 7-bit, else octets) */
	const uint8_t *ud;          /**< borrowed: user data after the UDH (for 8-bit: the data;
	                                 for GSM 7-bit: packed septets starting with fill bits) */
	size_t ud_len;              /**< octets at ud */
	size_t text_len;            /**< bytes of text, without the NUL */
	pb_sms_udh udh;             /**< present when TP-UDHI was set */
	char text[PB_SMS_TEXT_MAX]; /**< UTF-8, NUL-terminated; empty for 8-bit and compressed data */
} pb_sms_message;

/** pb_sms_decode() flag: the input starts with the SMSC address field
 *  (as AT+CMGL/+CMGR/+CMT/+CDS print it). */
#define PB_SMS_DECODE_SMSC 0x1u
/** pb_sms_decode() flag: the TPDU goes the other way (MS -> SC for MTI 00
 *  and 10, SC -> MS for MTI 01): decode DELIVER-REPORT, COMMAND or
 *  SUBMIT-REPORT instead of DELIVER, STATUS-REPORT or SUBMIT. */
#define PB_SMS_DECODE_REVERSE 0x2u

/**
 * Decode one TPDU (optionally preceded by the SMSC address) into @p msg.
 *
 * Allocates nothing. Bytes after the user data are ignored (some modems pad).
 * The reserved MTI 11 is decoded as SMS-DELIVER (TS 23.040 §9.2.3.1).
 *
 * @param msg   caller-owned, fully overwritten; its pointers borrow from @p pdu
 * @param pdu   the bytes; borrowed for as long as @p msg is used
 * @param flags PB_SMS_DECODE_SMSC and/or PB_SMS_DECODE_REVERSE
 * @param perr  optional; on failure, the offset (into @p pdu) of the first bad byte
 * @return 0, PB_EMALFORMED (offset in @p perr and pb_error_last()) or PB_EINVAL
 */
PB_API int pb_sms_decode(pb_sms_message *msg, const uint8_t *pdu, size_t len, unsigned flags,
			 pb_parse_error *perr);

/**
 * Same as pb_sms_decode() from hex text (as AT commands print PDUs; white
 * space between pairs allowed). Allocates nothing: the octets (up to 528) are
 * decoded into @p scratch, which @p msg then borrows from.
 *
 * @param scratch caller-owned, at least (hex_len / 2) bytes; must outlive @p msg
 * @return as pb_sms_decode(); offsets in @p perr count hex characters
 */
PB_API int pb_sms_decode_hex(pb_sms_message *msg, const char *hex, size_t hex_len, unsigned flags,
			     uint8_t *scratch, size_t scratch_len, pb_parse_error *perr);

/** "deliver", "submit", "status-report", "deliver-report", "submit-report", "command".
 *  @return static storage */
PB_API const char *pb_sms_type_name(pb_sms_type type);

/** "gsm7", "8bit", "ucs2". @return static storage */
PB_API const char *pb_sms_encoding_name(pb_sms_encoding enc);

/**
 * What a STATUS-REPORT TP-ST value means (TS 23.040 §9.2.3.15), e.g.
 * "delivered", "temporary error, SC still trying: congestion".
 * @return static storage; never NULL
 */
PB_API const char *pb_sms_status_text(uint8_t status);

/** True when TP-ST says the message reached the recipient (0x00-0x1F). */
PB_API bool pb_sms_status_delivered(uint8_t status);

/**
 * Write @p t as ISO 8601 with its offset, e.g. "2011-02-28T11:50:50-05:00".
 * @param out receives the NUL-terminated text; 32 bytes are enough
 * @return the length written, 0 when @p t is not present
 */
PB_API size_t pb_sms_time_iso8601(const pb_sms_time *t, char *out, size_t size);

/** Seconds since the epoch (UTC) of @p t, or -1 when not present or invalid. */
PB_API int64_t pb_sms_time_epoch(const pb_sms_time *t);

/** True when the message is addressed to a WAP push port (WDP: 2948 WSP
 *  connectionless push, 2949 secure; 9200-9203 WAP gateway ports). */
PB_API bool pb_sms_is_wap_push(const pb_sms_message *msg);

/* --- encoding ------------------------------------------------------------- */

/** Largest PDU: SMSC field (12) + SUBMIT TPDU (164). */
#define PB_SMS_PDU_MAX 176

/** One encoded PDU, ready for AT+CMGS. */
typedef struct pb_sms_pdu {
	uint8_t data[PB_SMS_PDU_MAX]; /**< SMSC field (when asked for) followed by the TPDU */
	size_t len;                    /**< bytes in data */
	size_t tpdu_len;               /**< bytes of TPDU: the length AT+CMGS wants */
} pb_sms_pdu;

/** Options of pb_sms_encode_text() and pb_sms_encode_binary(). */
typedef struct pb_sms_submit_options {
	unsigned version;       /**< PB_SMS_SUBMIT_OPTIONS_VERSION */
	bool include_smsc;      /**< start each PDU with the SMSC field (AT modems want it) */
	const char *smsc;       /**< borrowed; NULL or "" writes 00: the modem's configured SMSC */
	bool status_report;     /**< TP-SRR */
	bool reject_duplicates; /**< TP-RD */
	bool reply_path;        /**< TP-RP */
	int msg_class;          /**< -1 none; 0 (flash), 1, 2, 3 */
	int validity;           /**< -1 none, else the relative TP-VP octet 0-255
	                             (pb_sms_validity_relative() converts seconds) */
	uint8_t mr;             /**< TP-MR (AT modems replace it) */
	uint8_t pid;            /**< TP-PID, normally 0 */
	int reference;          /**< concatenation reference; -1 picks a random one */
	bool ref16;             /**< 16-bit concatenation reference (IEI 0x08) */
	unsigned languages;     /**< national shift tables allowed: bit (1 << PB_SMS_LANG_x) */
	bool force_ucs2;        /**< UCS-2 even when GSM 7-bit would do */
} pb_sms_submit_options;

#define PB_SMS_SUBMIT_OPTIONS_VERSION 1u
#define PB_SMS_SUBMIT_OPTIONS_INIT \
	{ PB_SMS_SUBMIT_OPTIONS_VERSION, false, NULL, false, false, false, -1, -1, 0, 0, -1, false, 0, false }

/**
 * The TP-VP relative octet for a period (TS 23.040 §9.2.3.12.1), rounded up
 * to the next value it can express (5 minutes to 63 weeks).
 */
PB_API uint8_t pb_sms_validity_relative(uint32_t seconds);

/** How text would be sent: see pb_sms_text_info(). */
typedef struct pb_sms_text_plan {
	pb_sms_encoding encoding; /**< PB_SMS_ENC_GSM7 or PB_SMS_ENC_UCS2 */
	uint8_t lang_locking;     /**< national locking shift used, 0 none */
	uint8_t lang_single;      /**< national single shift used, 0 none */
	size_t parts;             /**< number of PDUs */
	size_t units;             /**< septets (GSM 7-bit) or UTF-16 code units (UCS-2) in total */
	size_t per_part;          /**< capacity of each part in the same units */
} pb_sms_text_plan;

/**
 * Plan the encoding of UTF-8 @p text without encoding it (for a "characters
 * left" counter): encoding, shift tables, number of parts.
 * @param opts NULL for defaults
 * @return 0, PB_EMALFORMED (text not UTF-8), PB_ETOOBIG (more than 255 parts)
 */
PB_API int pb_sms_text_info(pb_sms_text_plan *plan, const char *text, size_t len,
			    const pb_sms_submit_options *opts);

/**
 * Encode UTF-8 text to SMS-SUBMIT PDUs, split into the fewest parts with a
 * concatenation header when it does not fit one.
 *
 * @param out   receives a new array of *n_out PDUs (free with pb_free())
 * @param to    destination: "+" and digits (international), digits, or an
 *              alphanumeric name
 * @param opts  NULL for defaults
 * @return 0, PB_EINVAL (bad destination, options), PB_EMALFORMED (text not
 *         UTF-8), PB_ETOOBIG (more than 255 parts), PB_ENOMEM
 */
PB_API int pb_sms_encode_text(pb_sms_pdu **out, size_t *n_out, const char *to, const char *text,
			      size_t len, const pb_sms_submit_options *opts);

/**
 * Encode 8-bit data to SMS-SUBMIT PDUs (DCS 8-bit), with application port
 * addressing when @p dst_port >= 0, split with concatenation when needed.
 *
 * @param dst_port -1 for none, else 0-65535 (16-bit port IE; 8-bit when
 *                 both ports are below 256 and @p src_port >= 0)
 * @param src_port -1 to use @p dst_port's value, else 0-65535
 * @return as pb_sms_encode_text()
 */
PB_API int pb_sms_encode_binary(pb_sms_pdu **out, size_t *n_out, const char *to, const uint8_t *data,
				size_t len, int dst_port, int src_port, const pb_sms_submit_options *opts);

/* --- reassembly ----------------------------------------------------------- */

/**
 * What identifies the parts of one concatenated message: originator,
 * reference, total and ports (TS 23.040 §9.2.3.24.1).
 */
typedef struct pb_sms_group_key {
	char originator[PB_SMS_ADDRESS_MAX]; /**< as pb_sms_address.number */
	uint16_t ref;
	uint8_t total;
	int32_t dst_port;                    /**< -1 when not port addressed */
	int32_t src_port;                    /**< -1 when not port addressed */
} pb_sms_group_key;

/** Callback of pb_sms_reassembly_store_ops.load: one saved part.
 *  @return 0 to go on, a negative code to stop loading with that code */
typedef int (*pb_sms_stored_part_cb)(const pb_sms_group_key *key, uint8_t seq, const uint8_t *pdu,
				     size_t len, unsigned decode_flags, int64_t received, void *cb_userdata);

/**
 * Where a reassembler keeps parts so that a restart loses none (the store
 * module implements it with SQLite). Every pointer passed to these functions
 * is borrowed for the duration of the call. Functions return 0 or a
 * negative pb_error_code, which the reassembler passes on.
 */
typedef struct pb_sms_reassembly_store_ops {
	unsigned version; /**< PB_SMS_REASSEMBLY_STORE_OPS_VERSION */
	/** Keep one part: the PDU exactly as given to pb_sms_reassembler_add(),
	 *  its decode flags and receive time (the caller's clock). */
	int (*save_part)(const pb_sms_group_key *key, uint8_t seq, const uint8_t *pdu, size_t len,
			 unsigned decode_flags, int64_t received, void *userdata);
	/** Forget every part of a group (it was completed or surfaced as incomplete). */
	int (*delete_group)(const pb_sms_group_key *key, void *userdata);
	/** Call @p cb for every saved part, in any order. */
	int (*load)(pb_sms_stored_part_cb cb, void *cb_userdata, void *userdata);
} pb_sms_reassembly_store_ops;

#define PB_SMS_REASSEMBLY_STORE_OPS_VERSION 1u
/** Deprecated spelling of PB_SMS_REASSEMBLY_STORE_OPS_VERSION (since 0.2, removed in 1.0). */
#define PB_SMS_REASSEMBLY_STORE_VERSION PB_SMS_REASSEMBLY_STORE_OPS_VERSION

/** Options of pb_sms_reassembler_new(). */
typedef struct pb_sms_reassembler_options {
	unsigned version;                          /**< PB_SMS_REASSEMBLER_OPTIONS_VERSION */
	union {
		/** A group incomplete this long is surfaced by
		 *  pb_sms_reassembler_expire(); <= 0: never. In ms, the unit of
		 *  the `now` the functions take (int64_t, as those instants). */
		int64_t timeout_ms;
		/** The old name of timeout_ms (the same member): deprecated since 0.2, removed in 1.0. */
		PB_DEPRECATED int64_t timeout;
	};
	const pb_sms_reassembly_store_ops *store;  /**< borrowed, NULL: parts kept in memory only */
	void *store_userdata;                      /**< passed to the store functions */
	size_t max_groups;                         /**< more incomplete groups than this: the oldest
	                                                are surfaced by pb_sms_reassembler_expire()
	                                                at once (a bound on memory); 0: no bound */
} pb_sms_reassembler_options;

#define PB_SMS_REASSEMBLER_OPTIONS_VERSION 1u
#define PB_SMS_REASSEMBLER_OPTIONS_INIT { PB_SMS_REASSEMBLER_OPTIONS_VERSION, { 0 }, NULL, NULL, 0 }

typedef struct pb_sms_reassembler pb_sms_reassembler;

/** A whole message out of the reassembler. */
typedef struct pb_sms_assembled {
	bool complete;          /**< false: surfaced by pb_sms_reassembler_expire() with parts missing */
	pb_sms_message first;   /**< header fields of the lowest-numbered part received; its
	                             pointers (ud, tpdu, udh.ies) are not valid: use text/data */
	pb_sms_group_key key;
	uint8_t total;          /**< parts the message has (1 when not concatenated) */
	uint8_t received;       /**< parts received */
	uint8_t have[32];       /**< bit (seq - 1) set for each part received */
	int64_t first_received; /**< clock value of the earliest part */
	char *text;             /**< UTF-8 text of the parts received, in order, NUL-terminated
	                             ("" for 8-bit data); owned by this struct */
	size_t text_len;
	uint8_t *data;          /**< 8-bit user data of the parts received, joined (for WAP push
	                             payloads); NULL when none; owned by this struct */
	size_t data_len;
} pb_sms_assembled;

/**
 * A new reassembler.
 * @param out  receives it (free with pb_sms_reassembler_free())
 * @param opts NULL for defaults (memory only, no timeout); copied
 * @return 0, PB_EINVAL (unknown options or store version), PB_ENOMEM
 */
PB_API int pb_sms_reassembler_new(pb_sms_reassembler **out, const pb_sms_reassembler_options *opts);

/** Free a reassembler and the parts it holds (not the ones in the store). NULL is fine. */
PB_API void pb_sms_reassembler_free(pb_sms_reassembler *r);

/**
 * Reload the parts saved in the store (after a restart). Parts already held
 * are kept; saved duplicates are skipped. Nothing is saved back.
 * @return 0, PB_EINVAL (no store), the store's error, PB_ENOMEM
 */
PB_API int pb_sms_reassembler_restore(pb_sms_reassembler *r);

/**
 * Add one received PDU.
 *
 * A message that is not concatenated comes straight back in *out. A part of
 * a concatenated message is kept (and saved to the store before this
 * returns); when it completes its group, the whole message comes back in
 * *out and the group is deleted from the store. A part already held is
 * ignored (*out NULL).
 *
 * @param pdu   borrowed for the call; copied when kept
 * @param flags decode flags, as pb_sms_decode()
 * @param now   the caller's clock in ms (wall or monotonic, the same in every call)
 * @param out   receives a new pb_sms_assembled (pb_sms_assembled_free()) or NULL
 * @param perr  optional, for PB_EMALFORMED
 * @return 0, PB_EMALFORMED, a store error (the part is not kept), PB_ENOMEM
 */
PB_API int pb_sms_reassembler_add(pb_sms_reassembler *r, const uint8_t *pdu, size_t len, unsigned flags,
				  int64_t now, pb_sms_assembled **out, pb_parse_error *perr);

/**
 * Surface one group whose first part arrived more than the timeout before
 * @p now (or the oldest, while more than max_groups are held), as an
 * incomplete message, and forget it (also in the store). Call until *out is
 * NULL, after each pb_sms_reassembler_add() and from time to time.
 *
 * @param out receives a new pb_sms_assembled with complete == false, or NULL
 * @return 0, a store error, PB_ENOMEM
 */
PB_API int pb_sms_reassembler_expire(pb_sms_reassembler *r, int64_t now, pb_sms_assembled **out);

/**
 * Surface every group held, complete or not, oldest first, and forget them
 * (for a program that exits without a store).
 * @return as pb_sms_reassembler_expire()
 */
PB_API int pb_sms_reassembler_flush(pb_sms_reassembler *r, pb_sms_assembled **out);

/** Number of incomplete groups held. */
PB_API size_t pb_sms_reassembler_pending(const pb_sms_reassembler *r);

/** Free an assembled message. NULL is fine. */
PB_API void pb_sms_assembled_free(pb_sms_assembled *m);

PB_END_DECLS

#endif
