/*
 * libphonebridge — modem control: one API for the box that holds the SIM.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A pb_modem drives a Huawei HiLink router ("hilink"), a serial AT-command
 * modem ("at") or an SMSEagle gateway ("smseagle") through the same calls:
 *
 *     pb_modem_options o = PB_MODEM_OPTIONS_INIT;
 *     o.url = "http://192.168.8.1";
 *     o.username = "admin";
 *     o.password_file = "/etc/phonebridge/router.pw";   (mode 0600 or stricter)
 *     pb_modem *m;
 *     if (pb_modem_open(&m, "hilink", &o) < 0)
 *         fprintf(stderr, "%s\n", pb_error_last()->message);
 *
 * Messages come out as pb_modem_msg records: number, text, time, type, and
 * the raw bytes the box gave (a TPDU for AT modems, the <Content> bytes of a
 * HiLink picture-message entry, or the unparsable entry itself for a garbled
 * one). Nothing is ever deleted from the box except by pb_modem_delete(): a
 * caller stores a message first, then deletes it.
 *
 * A pb_modem is not thread-safe: use it from one thread at a time, except
 * pb_modem_stop(), which any thread (or a signal handler) may call.
 */
#ifndef PHONEBRIDGE_MODEM_H
#define PHONEBRIDGE_MODEM_H

#include <stdbool.h>

#include <phonebridge/common.h>
#include <phonebridge/sms.h>

PB_BEGIN_DECLS

/** An open modem. */
typedef struct pb_modem pb_modem;

/** How to reach the box. Strings are borrowed for the duration of pb_modem_open() only. */
typedef struct pb_modem_options {
	unsigned version;          /**< PB_MODEM_OPTIONS_VERSION */
	const char *url;           /**< hilink, smseagle: base URL, e.g. "http://192.168.8.1" */
	const char *device;        /**< at: serial device, e.g. "/dev/ttyUSB2" */
	const char *username;      /**< hilink: login name ("admin"); smseagle v1: login */
	const char *password_file; /**< hilink, smseagle v1: file holding the password (mode 0600 or stricter) */
	const char *token_file;    /**< smseagle: file holding the API access token (mode 0600 or stricter) */
	unsigned timeout_ms;       /**< per request or AT command; 0 = 10000 */
	unsigned poll_interval_ms; /**< watch: how often to look when the box does not tell; 0 = 5000 */
	union {
		bool tls_insecure; /**< true turns TLS verification off (off by default: verification on) */
		/** The old spelling of tls_insecure (the same member): deprecated since 0.2, removed in 1.0. */
		PB_DEPRECATED bool insecure_tls;
	};
	const char *ca_file;       /**< optional CA bundle for TLS */
	const char *login;         /**< hilink: "auto" (default), "type4", "base64", "scram", "none" */
	const char *storage;       /**< at: message storage for AT+CPMS, "ME" (default) or "SM" */
	int baud;                  /**< at: line speed; 0 = 115200 */
	const char *webhook;       /**< smseagle: "HOST:PORT" (a bare port: 127.0.0.1) to receive the device's webhook on, apikey = the token; NULL = poll */
	int modem_no;              /**< smseagle: modem number for multi-modem devices; 0 = 1 */
	/* version 2 */
	unsigned send_timeout_ms;  /**< at: how long to wait for the modem's answer to a sent PDU
				    *   (after it, the send's fate is uncertain); 0 = 60000, as a
				    *   busy network can take that long */
} pb_modem_options;

/* Version 1 lacks send_timeout_ms; pb_modem_open() still takes it (as 0). */
#define PB_MODEM_OPTIONS_VERSION 2u
#define PB_MODEM_OPTIONS_INIT { PB_MODEM_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, 0, \
				{ false }, NULL, NULL, NULL, 0, NULL, 0, 0 }

/**
 * Open the backend registered as @p backend ("hilink", "at", "smseagle", or
 * one added with pb_modem_backend_register()) and connect (log in, set PDU
 * mode, ...).
 *
 * Credential files are refused (PB_EAUTH) when group or others can read them.
 *
 * @param out  receives a new modem (pb_modem_close())
 * @param opts borrowed during the call
 * @return 0, PB_ENOTFOUND (no such backend), PB_EINVAL, PB_EAUTH, PB_EIO,
 *         PB_ETIMEOUT, PB_EPROTO or PB_ENOMEM
 */
PB_API int pb_modem_open(pb_modem **out, const char *backend, const pb_modem_options *opts);

/** Close and free; NULL is fine. */
PB_API void pb_modem_close(pb_modem *m);

/** The backend's name. @return borrowed from the backend (static) */
PB_API const char *pb_modem_backend_name(const pb_modem *m);

/* --- status ---------------------------------------------------------------- */

/** Network registration (values of 3GPP TS 27.007 +CREG <stat>). */
typedef enum pb_modem_reg {
	PB_MODEM_REG_NOT_REGISTERED = 0,
	PB_MODEM_REG_HOME = 1,
	PB_MODEM_REG_SEARCHING = 2,
	PB_MODEM_REG_DENIED = 3,
	PB_MODEM_REG_UNKNOWN = 4,
	PB_MODEM_REG_ROAMING = 5,
} pb_modem_reg;

/** SIM state. */
typedef enum pb_modem_sim {
	PB_MODEM_SIM_UNKNOWN = 0,
	PB_MODEM_SIM_READY = 1,
	PB_MODEM_SIM_PIN = 2,     /**< waiting for the PIN */
	PB_MODEM_SIM_PUK = 3,     /**< blocked, waiting for the PUK */
	PB_MODEM_SIM_ABSENT = 4,
	PB_MODEM_SIM_ERROR = 5,
} pb_modem_sim;

/** Signal value when the box does not know it. */
#define PB_MODEM_SIGNAL_UNKNOWN (-1000)

/** What the box says about its network. Every field has an "unknown" value. */
typedef struct pb_modem_status {
	char operator_name[64]; /**< "" when unknown */
	pb_modem_reg registration;
	char network_type[16];  /**< "GSM", "UMTS", "LTE", "NR", ... or "" */
	int signal_dbm;         /**< RSSI in dBm, or PB_MODEM_SIGNAL_UNKNOWN */
	int signal_percent;     /**< 0..100, or -1 */
	pb_modem_sim sim;
} pb_modem_status;

/**
 * Ask for network and SIM state.
 * @param st filled in (unknown fields set to their unknown values)
 * @return 0 or a negative PB_E* code
 */
PB_API int pb_modem_status_get(pb_modem *m, pb_modem_status *st);

/** Name of a registration value ("home", "roaming", ...). @return static */
PB_API const char *pb_modem_reg_name(int reg);
/** Name of a SIM state ("ready", "pin", ...). @return static */
PB_API const char *pb_modem_sim_name(int sim);

/* --- messages -------------------------------------------------------------- */

/** What kind of entry a message is. */
typedef enum pb_modem_msg_type {
	PB_MODEM_MSG_TEXT = 0,          /**< an ordinary text message */
	PB_MODEM_MSG_MMS = 1,           /**< an MMS notification: raw push bytes and/or content_location */
	PB_MODEM_MSG_REPORT = 2,        /**< a delivery (status) report */
	PB_MODEM_MSG_INCOMPLETE = 3,    /**< part of a concatenated message the box is still collecting */
	PB_MODEM_MSG_UNKNOWN = 4,       /**< a kind the backend does not know; raw holds what came */
	PB_MODEM_MSG_GARBLED = 5,       /**< an entry the box garbled; raw holds its bytes, error says why */
	PB_MODEM_MSG_PDU = 6,           /**< a TPDU (raw) the library could not decode into text here */
} pb_modem_msg_type;

/** What pb_modem_msg.raw holds. */
typedef enum pb_modem_raw_format {
	PB_MODEM_RAW_NONE = 0,
	PB_MODEM_RAW_PDU = 1,     /**< SMSC address field + TPDU, as TS 27.005 PDU mode shows it
				       (pb_modem_msg_decode_sms() decodes it) */
	PB_MODEM_RAW_PUSH = 2,    /**< a WAP push (WSP) PDU, reassembled from the SMS parts (WAP decoder) */
	PB_MODEM_RAW_CONTENT = 3, /**< the bytes a router gave as the entry's content (HiLink SmsType 5) */
	PB_MODEM_RAW_ENTRY = 4,   /**< the whole entry as the box sent it (garbled entries) */
	PB_MODEM_RAW_FILE = 5,    /**< an MMS attachment or message file (SMSEagle) */
} pb_modem_raw_format;

/** Read state of a message. */
typedef enum pb_modem_msg_state {
	PB_MODEM_STATE_UNREAD = 0,
	PB_MODEM_STATE_READ = 1,
	PB_MODEM_STATE_SENT = 2,
	PB_MODEM_STATE_UNSENT = 3,
	PB_MODEM_STATE_UNKNOWN = 4,
} pb_modem_msg_state;

/**
 * One message entry. Every pointer is owned by the list (or message) that
 * holds the record and may be NULL when the box does not give the item.
 */
typedef struct pb_modem_msg {
	char *id;               /**< the box's identifier (storage index, HiLink Index, SMSEagle ID) */
	pb_modem_msg_type type;
	pb_modem_msg_state state;
	int box_type;           /**< the box's own kind code (HiLink SmsType, AT <stat>), or -1 */
	char *number;           /**< sender (inbox) or recipient (sent), as the box gives it */
	char *text;             /**< UTF-8 text (NUL-terminated) */
	char *time;             /**< the box's text: "YYYY-MM-DD HH:MM:SS" (local time of the box) or ISO 8601
				     with a zone (AT); pb_modem_msg_time_ms() reads it as ms since the epoch */
	uint8_t *raw;           /**< raw bytes: TPDU (AT), <Content> bytes (HiLink MMS), the entry (garbled) */
	size_t raw_len;
	pb_modem_raw_format raw_format; /**< what raw holds */
	char *content_location; /**< MMS: the Content-Location found in the entry (may be truncated by the box) */
	char *error;            /**< GARBLED/UNKNOWN: what was wrong */
} pb_modem_msg;

/** A list of messages (owned arrays; pb_modem_msg_list_dispose()). */
typedef struct pb_modem_msg_list {
	pb_modem_msg *items;
	size_t count;
	size_t cap;
} pb_modem_msg_list;

#define PB_MODEM_MSG_LIST_INIT { NULL, 0, 0 }

/** Free every message in @p list and leave it empty. NULL is fine. */
PB_API void pb_modem_msg_list_dispose(pb_modem_msg_list *list);
/** Free what @p msg owns and zero it. NULL is fine. */
PB_API void pb_modem_msg_dispose(pb_modem_msg *msg);

/**
 * The time of @p msg in the one type the library uses for instants: ms since
 * the Unix epoch (UTC). pb_modem_msg.time keeps the text the box gave; this
 * reads it: "YYYY-MM-DD HH:MM:SS" (HiLink, SMSEagle: the box's local time,
 * taken as this host's time zone) or ISO 8601 with a zone (AT: the SMSC's
 * time stamp, "2011-02-28T11:50:50-05:00", exact).
 *
 *     int64_t at;
 *     if (pb_modem_msg_time_ms(msg, &at) == 0)
 *         printf("%lld\n", (long long)(at / 1000));
 *
 * @param msg borrowed
 * @param unix_ms receives the time; 0 on failure
 * @return 0; PB_ENOTFOUND when the box gave no time; PB_EMALFORMED (the
 *         message says at which offset) for any other text; PB_EINVAL
 */
PB_API int pb_modem_msg_time_ms(const pb_modem_msg *msg, int64_t *unix_ms);
/**
 * Append a deep copy of @p msg to @p list (for backend authors).
 * @param msg borrowed; its strings and bytes are copied
 * @return 0 or PB_ENOMEM
 */
PB_API int pb_modem_msg_list_add(pb_modem_msg_list *list, const pb_modem_msg *msg);
/** Deep copy of @p src into @p dst. @return 0 or PB_ENOMEM (dst left zeroed) */
PB_API int pb_modem_msg_copy(pb_modem_msg *dst, const pb_modem_msg *src);

/**
 * Decode a message's PDU (raw_format PB_MODEM_RAW_PDU) with the SMS codec.
 * @param out  overwritten; its pointers borrow from @p msg->raw
 * @return 0, PB_EINVAL (the message carries no PDU), PB_EMALFORMED (perr)
 */
PB_API int pb_modem_msg_decode_sms(const pb_modem_msg *msg, pb_sms_message *out, pb_parse_error *perr);

/** Name of a message type ("text", "mms", "report", ...). @return static */
PB_API const char *pb_modem_msg_type_name(int type);
/** Name of a message state ("unread", "read", ...). @return static */
PB_API const char *pb_modem_msg_state_name(int state);

/** Which box to list. */
typedef enum pb_modem_box {
	PB_MODEM_BOX_INBOX = 1,
	PB_MODEM_BOX_SENT = 2,
} pb_modem_box;

/**
 * List the messages in a box. A garbled entry is reported as
 * PB_MODEM_MSG_GARBLED with its raw bytes and the rest of the listing goes on.
 * Nothing is deleted or marked read.
 *
 * @param out appended to; the caller disposes it
 * @return 0 or a negative PB_E* code (then @p out holds what was read so far)
 */
PB_API int pb_modem_list(pb_modem *m, int box, pb_modem_msg_list *out);

/**
 * Read one message by id (does not mark it read on boxes that allow that).
 * @param out filled with owned fields (pb_modem_msg_dispose())
 * @return 0, PB_ENOTFOUND or another negative code
 */
PB_API int pb_modem_read(pb_modem *m, const char *id, pb_modem_msg *out);

/**
 * Delete a message from the box. An id of several entries joined by ','
 * (a concatenated message watch reported as one) deletes each of them.
 * @return 0, PB_ENOTFOUND, PB_EUNSUPPORTED or another code
 */
PB_API int pb_modem_delete(pb_modem *m, const char *id);

/** Mark a message read. @return 0, PB_EUNSUPPORTED (the box cannot) or another code */
PB_API int pb_modem_mark_read(pb_modem *m, const char *id);

/** pb_modem_send_text() flag: ask for a delivery report where the backend can. */
#define PB_MODEM_SEND_REPORT 0x1

/**
 * What a failed send left behind. Every backend reports a send failure
 * with a code that says which case it was, and pb_modem_send_fate() reads
 * it (docs/modems.md, "Send outcomes"):
 *
 *  - PB_ETIMEOUT (also PB_EEXISTS: "already being sent"): the request
 *    reached the box (the PDU was written to the modem, the HTTP request
 *    was sent) but no answer came: the message **may have gone out**;
 *  - PB_EPROTO, PB_EINVAL, PB_EUNSUPPORTED, PB_ETOOBIG, PB_EMALFORMED,
 *    PB_ERANGE: the box or the network refused this message (+CMS ERROR
 *    after the PDU, a router's or gateway's error answer): nothing left,
 *    and sending the same again would fail again;
 *  - any other code (PB_EIO: connection refused, device gone, no prompt;
 *    PB_ENOTFOUND: no such device; PB_EBUSY, PB_EAGAIN: a modem error
 *    before the PDU, the box busy; PB_EAUTH: login refused): nothing left
 *    the box and it cannot have; try again later.
 */
typedef enum pb_modem_fate {
	PB_MODEM_SEND_DONE = 0,      /**< rc 0: the box took the message */
	PB_MODEM_SEND_NOT_SENT = 1,  /**< nothing left: keep it and try again later */
	PB_MODEM_SEND_REFUSED = 2,   /**< refused: nothing left, the same send would fail again */
	PB_MODEM_SEND_UNCERTAIN = 3, /**< no answer to a request the box got: it may have gone out */
} pb_modem_fate;

/**
 * What the code a send returned means for the message (see
 * pb_modem_fate). @param rc what pb_modem_send_text() or
 * pb_modem_send_pdu() returned. @return a pb_modem_fate
 */
PB_API int pb_modem_send_fate(int rc);

/** Name of a send fate ("done", "not sent", "refused", "uncertain"). @return static */
PB_API const char *pb_modem_send_fate_name(int fate);

/**
 * Send a text; the backend or the library splits and encodes it as needed.
 * A box that takes one part at a time (AT) may have sent the first parts
 * when a later one fails: such a failure is reported as PB_ETIMEOUT
 * (uncertain as a whole); send part by part with pb_modem_send_pdu() to
 * know each part's outcome.
 *
 * @param number borrowed; the recipient
 * @param text   borrowed; UTF-8
 * @param ref    optional; receives the box's reference for the (last) part,
 *               or -1 when it gives none
 * @return 0 or a negative code whose pb_modem_send_fate() says whether the
 *         message may have gone out (PB_EUNSUPPORTED, PB_EPROTO: the box
 *         refused, with its code in the message)
 */
PB_API int pb_modem_send_text(pb_modem *m, const char *number, const char *text,
			      unsigned flags, int *ref);

/**
 * Send a raw SMS-SUBMIT TPDU (without SMSC prefix), where the backend can
 * (AT modems). @param ref optional; receives the message reference.
 * @return 0, PB_EUNSUPPORTED or another negative code (pb_modem_send_fate())
 */
PB_API int pb_modem_send_pdu(pb_modem *m, const uint8_t *tpdu, size_t len, int *ref);

/* --- watching -------------------------------------------------------------- */

/** Events pb_modem_watch() reports. */
typedef enum pb_modem_event_type {
	PB_MODEM_EVENT_MESSAGE = 1,   /**< a new message (msg->type says which kind) */
	PB_MODEM_EVENT_ERROR = 2,     /**< a recoverable problem (box unplugged, login lost); watch goes on */
	PB_MODEM_EVENT_RECOVERED = 3, /**< the box answers again after an error */
} pb_modem_event_type;

/** One event. Everything is borrowed, valid during the callback only. */
typedef struct pb_modem_event {
	pb_modem_event_type type;
	const pb_modem_msg *msg; /**< MESSAGE: the message */
	int error;               /**< ERROR: a negative PB_E* code */
	const char *text;        /**< ERROR: the error text */
} pb_modem_event;

/**
 * Watch callback. @return 0 to go on, non-zero to stop watching (that value
 * is then what pb_modem_watch() returns).
 */
typedef int (*pb_modem_event_cb)(const pb_modem_event *ev, void *userdata);

/** pb_modem_watch() flag: do not report messages already in the box when watching starts. */
#define PB_MODEM_WATCH_NEW_ONLY 0x1

/**
 * Watch for new messages until the callback returns non-zero,
 * pb_modem_stop() is called, or @p duration_ms passes (PB_WAIT_FOREVER =
 * until one of the other two; a C caller's -1 is that too).
 *
 * Every message in the inbox is reported exactly once per call (those
 * already there at the start too, unless PB_MODEM_WATCH_NEW_ONLY); one
 * that leaves the inbox and comes again identical (an AT index reused) is
 * reported again. The box tells where it can (AT +CMTI/+CMT/+CDS, SMSEagle
 * webhook) and is polled otherwise. Transport failures are reported as
 * ERROR events and retried with backoff; watching never stops because of
 * one bad entry.
 *
 * Parts of a concatenated SMS (and of a WAP push) are joined and reported
 * once, with every part's id ("3,4,5"), when the last one is there. The
 * parts seen and when each group (or a box's own incomplete entry: HiLink
 * SmsType 2, an SMSEagle group with a row missing) was first seen are kept
 * in the modem object across calls, and in the store of
 * pb_modem_watch_setup() across restarts. A group still incomplete after
 * the timeout is reported as PB_MODEM_MSG_INCOMPLETE with what arrived and
 * a marker for each missing part ("[part 2 of 3 missing]") where the part
 * is known; the caller stores it and then deletes it with its ids, as any
 * message. No incomplete group is reported before one listing of the
 * inbox has succeeded in this modem object (so its part ids are known).
 *
 * @return 0 when the time passed or pb_modem_stop() was called, the
 *         callback's non-zero value, or a negative code for a failure that
 *         cannot be retried (PB_EAUTH)
 */
PB_API int pb_modem_watch(pb_modem *m, unsigned flags, unsigned duration_ms,
			  pb_modem_event_cb cb, void *userdata);

/** How pb_modem_watch() keeps incomplete messages: see pb_modem_watch_setup(). */
typedef struct pb_modem_watch_options {
	unsigned version;                         /**< PB_MODEM_WATCH_OPTIONS_VERSION */
	unsigned incomplete_timeout_ms;           /**< report a group still incomplete after this long;
	                                               0 = 600000 (10 minutes); at most INT_MAX */
	const pb_sms_reassembly_store_ops *store; /**< borrowed until pb_modem_close() or the next
	                                               setup; NULL: kept in memory only */
	void *store_userdata;                     /**< passed to the store functions */
} pb_modem_watch_options;

#define PB_MODEM_WATCH_OPTIONS_VERSION 1u
#define PB_MODEM_WATCH_OPTIONS_INIT { PB_MODEM_WATCH_OPTIONS_VERSION, 0, NULL, NULL }

/**
 * Set how pb_modem_watch() keeps incomplete messages, and load what the
 * store holds from before (a restart). Call before watching; calling it
 * again drops what is held in memory and loads from the (new) store.
 *
 * The store keeps each part of a concatenated SMS as pb_sms_reassembler
 * does, with its receive time (milliseconds since the epoch, so that the
 * timeout counts across restarts), and each box-side incomplete entry as
 * one saved "part" whose key has dst_port -2 and whose bytes are the
 * entry's id. Every part is saved with decode flags PB_SMS_DECODE_SMSC,
 * so a store need not keep the flags. pb_store's SMS part functions can
 * back it (pb-bridged's parts.c does).
 *
 * @param opts borrowed for the call (the store until pb_modem_close())
 * @return 0, PB_EINVAL (unknown version, incomplete store), the store's
 *         load error, PB_ENOMEM
 */
PB_API int pb_modem_watch_setup(pb_modem *m, const pb_modem_watch_options *opts);

/**
 * Make the running pb_modem_watch() return soon, or, when none is running,
 * the next one return at once (a stop is never lost to a race with the
 * watch starting). Async-signal-safe; callable from any thread.
 */
PB_API void pb_modem_stop(pb_modem *m);

/* --- calls and services ---------------------------------------------------- */

/** Call-forwarding reasons (TS 27.007 +CCFC <reason>). */
typedef enum pb_modem_fwd_reason {
	PB_MODEM_FWD_UNCONDITIONAL = 0,
	PB_MODEM_FWD_BUSY = 1,
	PB_MODEM_FWD_NO_REPLY = 2,
	PB_MODEM_FWD_NOT_REACHABLE = 3,
	PB_MODEM_FWD_ALL = 4,
	PB_MODEM_FWD_ALL_CONDITIONAL = 5,
} pb_modem_fwd_reason;

/** State of one call-forwarding rule. */
typedef struct pb_modem_forward {
	pb_modem_fwd_reason reason;
	bool active;
	char number[64];  /**< target, "" when none */
	int no_reply_s;   /**< NO_REPLY: seconds before forwarding, or -1 */
} pb_modem_forward;

/**
 * Query call forwarding (AT+CCFC).
 * @param out filled in for the voice class
 * @return 0, PB_EUNSUPPORTED (the backend cannot) or another negative code
 */
PB_API int pb_modem_forward_query(pb_modem *m, pb_modem_fwd_reason reason, pb_modem_forward *out);

/**
 * Set call forwarding: register and enable forwarding to @p number, or erase
 * it when @p number is NULL.
 * @param no_reply_s NO_REPLY only: seconds before forwarding (5-30), or -1
 *        for the network's default. Seconds, not ms, on purpose: the one
 *        duration of the API in seconds, as 3GPP TS 27.007 +CCFC's <time>
 *        counts it (in 5 s steps), so the value goes to the network as given
 * @return 0, PB_EUNSUPPORTED or another negative code
 */
PB_API int pb_modem_forward_set(pb_modem *m, pb_modem_fwd_reason reason, const char *number, int no_reply_s);

/**
 * Send a USSD code ("*100#") and wait for the network's answer.
 * @param reply receives new UTF-8 text (pb_free())
 * @return 0, PB_EUNSUPPORTED, PB_ETIMEOUT or another negative code
 */
PB_API int pb_modem_ussd(pb_modem *m, const char *code, char **reply);

PB_END_DECLS

#endif
