/*
 * libphonebridge — modem module: what its files share. Not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_MODEM_INTERNAL_H
#define PB_MODEM_INTERNAL_H

#include <phonebridge/mms.h>
#include <phonebridge/modem.h>
#include <phonebridge/sys/modem-backend.h>

#include "core/internal.h"

extern const pb_modem_backend_ops pb_modem__hilink_ops;
extern const pb_modem_backend_ops pb_modem__at_ops;
extern const pb_modem_backend_ops pb_modem__smseagle_ops;

/* Milliseconds on the monotonic clock. */
int64_t pb_modem__now_ms(void);

/*
 * The first http:// or https:// URL in @p (an MMS notification's bytes), cut
 * where printable ASCII ends. *out: new, or NULL when there is none.
 */
int pb_modem__find_location(const uint8_t *p, size_t len, char **out);

/*
 * The Content-Location of an MMS notification in a WAP push: decoded with
 * the wap module when the push is whole, else the URL text found in the
 * bytes (a router may have cut it). *out: new, or NULL.
 */
int pb_modem__mms_location(const uint8_t *push, size_t len, char **out);

/* --- HTTP (libcurl), shared by hilink.c and smseagle.c ------------------- */

typedef struct pb_modem_http pb_modem_http;

typedef struct pb_modem_http_reply {
	long status;     /* HTTP status */
	pb_buf body;     /* response body */
	pb_buf headers;  /* response header lines, as received */
} pb_modem_http_reply;

int pb_modem__http_new(pb_modem_http **out, const pb_modem_options *opts);
void pb_modem__http_free(pb_modem_http *h);
/*
 * One request. @method "GET" or "POST"; @url absolute; @headers NULL or a
 * NULL-terminated array of "Name: value" lines; @body NULL for GET.
 * @reply is reset first. Transport failures give PB_EIO when the request
 * was not sent (connection refused, no route) and PB_ETIMEOUT once it was
 * (no answer, connection lost after it): what pb_modem_send_fate() reads.
 */
int pb_modem__http_request(pb_modem_http *h, const char *method, const char *url,
			   const char *const *headers, const char *body, size_t body_len,
			   pb_modem_http_reply *reply);
void pb_modem__http_reply_dispose(pb_modem_http_reply *r);
/*
 * Find the header @name (case-insensitive) in @r's header lines; the last
 * occurrence wins. @return a new string (pb_free()) or NULL.
 */
char *pb_modem__http_header(const pb_modem_http_reply *r, const char *name);

/* --- HiLink XML (hilink-xml.c): pure parsing, fuzzed --------------------- */

/*
 * Turn router bytes into a well-formed UTF-8 document: CESU-8 surrogate
 * pairs are joined into 4-byte UTF-8; C0 control bytes other than tab, CR,
 * LF, bytes that are not UTF-8, and characters U+E000..U+E0FF themselves are
 * written as U+E000 + byte ("escaped"), so pb_modem__hilink_unescape()
 * gives back the router's exact bytes.
 */
int pb_modem__hilink_neutralise(pb_buf *out, const uint8_t *in, size_t len);
/* Undo the escaping: U+E000+b becomes byte b; other text is copied. */
int pb_modem__hilink_unescape(pb_buf *out, const char *in, size_t len);
/* UTF-8 to what the router expects: non-BMP characters as CESU-8. */
int pb_modem__cesu8_encode(pb_buf *out, const char *utf8, size_t len);

/* A HiLink reply: error code (0 when none) and its document. */
typedef struct pb_hilink_doc pb_hilink_doc;

/*
 * Parse a reply body. @return 0 with *out set (a document, possibly an
 * <error>: see pb_modem__hilink_doc_error()), or PB_EMALFORMED with an offset.
 * A document libxml2 can only read in recovery mode is accepted with
 * *recovered set to true.
 */
int pb_modem__hilink_parse(pb_hilink_doc **out, const uint8_t *body, size_t len,
			   bool *recovered, pb_parse_error *perr);
void pb_modem__hilink_doc_free(pb_hilink_doc *d);
/* The router's error code (<error><code>N</code>), or 0. */
long pb_modem__hilink_doc_error(const pb_hilink_doc *d);
/* Text of the first element named @name (case-insensitive) anywhere in the
 * document; new (pb_free()), NULL when absent. Unescaped to UTF-8 with bad
 * bytes as U+FFFD. */
char *pb_modem__hilink_doc_get(const pb_hilink_doc *d, const char *name);
/* Whether the root element is <response>OK</response>. */
bool pb_modem__hilink_doc_ok(const pb_hilink_doc *d);
/* The <Message> entries as records (garbled ones included). */
int pb_modem__hilink_doc_messages(const pb_hilink_doc *d, pb_modem_msg_list *out);
/*
 * The WAP push of a picture-message entry (SmsType 5) from its <Content>
 * bytes. Firmware writes the push as raw bytes (C0 controls and all), as the
 * UTF-8 of each byte read as Latin-1, as hex digits or as base64: the first
 * of these readings that decodes as an MMS push is appended to @out; when
 * none does, the bytes as given.
 * @return 0 or PB_ENOMEM
 */
int pb_modem__hilink_push_bytes(pb_buf *out, const uint8_t *content, size_t len);
/* Map a router error code to a PB_E* code and set the message. */
int pb_modem__hilink_error(long code, const char *what);

/* HiLink login helpers (hilink-auth.c). */
/* Type 4: base64(sha256_hex(user + base64(sha256_hex(password)) + token)). */
int pb_modem__hilink_type4(pb_buf *out, const char *user, const char *password, const char *token);
/* SCRAM client proof as 64 hex characters. */
int pb_modem__hilink_scram_proof(pb_buf *out, const char *password, const char *salt_hex,
				 unsigned iterations, const char *firstnonce, const char *finalnonce);
/* 64 random hex characters. */
int pb_modem__random_hex(char out[65]);

/* --- AT (at-parse.c): pure line parsing, fuzzed -------------------------- */

typedef enum pb_at_line_kind {
	PB_AT_LINE_OK,
	PB_AT_LINE_ERROR,       /* ERROR, +CMS ERROR, +CME ERROR, NO CARRIER... (value = code or -1) */
	PB_AT_LINE_PROMPT,      /* "> " */
	PB_AT_LINE_UNSOLICITED, /* +CMTI, +CMT, +CDS, +CUSD, RING, ... */
	PB_AT_LINE_DATA,        /* anything else: part of a response */
} pb_at_line_kind;

/* Classify one line (without its line end). *code: +CMS/+CME error number or -1. */
int pb_modem__at_classify(const char *line, size_t len, int *code);
/* Whether an unsolicited line is followed by a PDU line (+CMT:, +CDS:). */
bool pb_modem__at_unsolicited_has_pdu(const char *line, size_t len);
/* +CMTI: "ME",3 -> storage "ME", index 3. */
int pb_modem__at_parse_cmti(const char *line, size_t len, char mem[8], int *index);
/* +CMGL: 1,0,,23 / +CMGR: 0,,23 -> index (-1 for CMGR), stat, length. */
int pb_modem__at_parse_cmgl(const char *line, size_t len, int *index, int *stat, int *pdu_len);
/* +CSQ: 21,99 -> dBm and percent (unknown values as in pb_modem_status). */
int pb_modem__at_parse_csq(const char *line, size_t len, int *dbm, int *percent);
/* +COPS: 0,0,"Operator",7 -> name and access technology (-1 when absent). */
int pb_modem__at_parse_cops(const char *line, size_t len, char *name, size_t name_size, int *act);
/* +CREG: 0,1 or +CREG: 1 (unsolicited form) -> stat. */
int pb_modem__at_parse_creg(const char *line, size_t len, int *stat);
/* +CPIN: READY -> pb_modem_sim. */
int pb_modem__at_parse_cpin(const char *line, size_t len);
/* +CCFC: 1,1,"+491234",145[,,,20] -> active, class, number, time. */
int pb_modem__at_parse_ccfc(const char *line, size_t len, int *active, int *cls,
			    char *number, size_t number_size, int *time_s);
/* +CUSD: 0,"text",15 -> m, text (as given, unquoted), dcs (-1 when absent). */
int pb_modem__at_parse_cusd(const char *line, size_t len, int *m, pb_buf *text, int *dcs);
/* +CMGS: 12 -> message reference. */
int pb_modem__at_parse_cmgs(const char *line, size_t len, int *mr);
/*
 * The data lines of a +CMGL (or +CMGR, with @read_id) answer, '\n'-joined:
 * header/PDU pairs as records of @box (0 = any); lines that do not fit are
 * reported as garbled entries.
 */
int pb_modem__at_parse_listing(const char *text, int box, const char *read_id, pb_modem_msg_list *out);
/* Map +CMS/+CME ERROR codes to a PB_E* code and set the message. */
int pb_modem__at_error(const char *cmd, const char *line, int code, bool cms);

/* --- SMSEagle JSON (smseagle-json.c): pure parsing, fuzzed --------------- */

/* Rows of a v1 sms.read_sms reply as records; garbled rows included. */
int pb_modem__smseagle_parse_rows(const char *json, size_t len, pb_modem_msg_list *out,
				  pb_parse_error *perr);
/* Signal percent from a v2 signal reply, or -1. */
int pb_modem__smseagle_parse_signal(const char *json, size_t len, int *percent, pb_parse_error *perr);
/* Webhook form fields (sender, timestamp, text, msgid) as a record; the
 * apikey field, if any, into *apikey (new, or NULL). */
int pb_modem__smseagle_parse_webhook(const char *query, size_t len, pb_modem_msg *out, char **apikey);

#endif
