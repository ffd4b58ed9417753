/*
 * libphonebridge — MMS client transactions (OMA-MMS-CTR) over the MMSC
 * client: answer notifications, retrieve messages, send messages.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The PDUs are made and read by the wap module (phonebridge/mms.h); this
 * file decides what to fetch and what to answer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mmsc/mmsc-private.h"

#define DOMAIN "mmsc"

/* --- answers: M-NotifyResp.ind, M-Acknowledge.ind -------------------------- */

static int post_answer(pb_mmsc *m, pb_mmsc_post_kind kind, const char *tid, pb_mms_status status,
		       pb_mmsc_result *res)
{
	pb_buf pdu = PB_BUF_INIT;
	int rc = kind == PB_MMSC_POST_ACK
			 ? pb_mms_encode_ack(&pdu, tid, pb_mmsc__report_allowed(m))
			 : pb_mms_encode_notifyresp(&pdu, tid, status, pb_mmsc__report_allowed(m));
	if (rc == 0)
		rc = pb_mmsc_post(m, kind, pdu.data, pdu.len, NULL, res);
	pb_buf_dispose(&pdu);
	return rc;
}

PB_API int pb_mmsc_notifyresp(pb_mmsc *m, const char *transaction_id, pb_mms_status status, pb_mmsc_result *res)
{
	if (!m || !transaction_id)
		return pb_error_set(PB_EINVAL, "pb_mmsc_notifyresp: NULL argument");
	return post_answer(m, PB_MMSC_POST_NOTIFYRESP, transaction_id, status, res);
}

PB_API int pb_mmsc_acknowledge(pb_mmsc *m, const char *transaction_id, pb_mmsc_result *res)
{
	if (!m || !transaction_id)
		return pb_error_set(PB_EINVAL, "pb_mmsc_acknowledge: NULL argument");
	return post_answer(m, PB_MMSC_POST_ACK, transaction_id, 0, res);
}

/* --- retrieval ---------------------------------------------------------- */

PB_API void pb_mmsc_retrieval_dispose(pb_mmsc_retrieval *r)
{
	if (!r)
		return;
	pb_mms_message_free(r->message);
	r->message = NULL;
	pb_buf_dispose(&r->pdu);
}

static bool expired(const pb_mms_message *ni, int64_t received, int64_t now)
{
	if (!ni->expiry.present)
		return false;
	int64_t at = ni->expiry.relative ? received + ni->expiry.value : ni->expiry.value;
	return at < now;
}

/*
 * The X-Mms-Status to answer after a failed fetch (the policy is documented
 * at pb_mmsc_retrieve() in the header).
 */
static int status_after_fetch_error(int code)
{
	switch (code) {
	case PB_EMALFORMED:
		return PB_MMS_STATUS_UNRECOGNISED;
	default: /* too big, network, HTTP errors, pages: keep it at the MMSC */
		return PB_MMS_STATUS_DEFERRED;
	}
}

/* Judge a decoded M-Retrieve.conf: 0, or the error with its answer. */
static int judge_retrieve_conf(const pb_mms_message *msg, int *answer)
{
	if (msg->message_type != PB_MMS_RETRIEVE_CONF) {
		const char *name = pb_mms_message_type_name((int)msg->message_type);
		*answer = PB_MMS_STATUS_UNRECOGNISED;
		return pb_error_set(PB_EPROTO, "the MMSC answered with %s (%d), not an m-retrieve-conf",
				    name ? name : "an unknown PDU type", (int)msg->message_type);
	}
	if (pb_mms_retrieve_ok(msg))
		return 0;
	int st = msg->retrieve_status;
	const char *name = pb_mms_token_name(0x19, st);
	const char *text = msg->retrieve_text ? msg->retrieve_text : "";
	if (st >= PB_MMS_RETRIEVE_TRANSIENT_FAILURE && st < PB_MMS_RETRIEVE_PERMANENT_FAILURE) {
		*answer = PB_MMS_STATUS_DEFERRED;
		return pb_error_set(PB_EAGAIN, "X-Mms-Retrieve-Status %s (0x%02X)%s%s", name ? name : "transient",
				    st, *text ? ": " : "", text);
	}
	*answer = PB_MMS_STATUS_REJECTED;
	return pb_error_set(st == PB_MMS_RETRIEVE_PERMANENT_NOT_FOUND ? PB_ENOTFOUND : PB_EPROTO,
			    "X-Mms-Retrieve-Status %s (0x%02X)%s%s", name ? name : "permanent error", st,
			    *text ? ": " : "", text);
}

static int check_notification(const pb_mms_message *ni)
{
	if (ni->message_type != PB_MMS_NOTIFICATION_IND)
		return pb_error_set(PB_EINVAL, "pb_mmsc_retrieve: %s is not an m-notification-ind",
				    pb_mms_message_type_name((int)ni->message_type)
					    ? pb_mms_message_type_name((int)ni->message_type) : "PDU");
	if (!ni->transaction_id || !*ni->transaction_id)
		return pb_error_set(PB_EINVAL, "pb_mmsc_retrieve: notification without X-Mms-Transaction-Id");
	return 0;
}

/* Fetch and decode; returns 0 or an error with *answer set. */
static int fetch_and_decode(pb_mmsc *m, const pb_mms_message *ni, int64_t received, pb_mmsc_retrieval *r,
			    int *answer)
{
	int64_t now = (int64_t)time(NULL);
	if (!ni->content_location || !*ni->content_location) {
		*answer = PB_MMS_STATUS_UNRECOGNISED;
		return pb_error_set(PB_EINVAL, "notification %s has no Content-Location", ni->transaction_id);
	}
	if (expired(ni, received ? received : now, now)) {
		*answer = PB_MMS_STATUS_REJECTED;
		return pb_error_set(PB_ENOTFOUND, "notification %s: the message expired", ni->transaction_id);
	}
	size_t limit = pb_mmsc__max_download(m);
	if (ni->has_message_size && ni->message_size > limit) {
		*answer = PB_MMS_STATUS_DEFERRED;
		return pb_error_set(PB_ETOOBIG, "notification %s: message of %" PRIu64 " bytes is over the %zu-byte limit",
				    ni->transaction_id, ni->message_size, limit);
	}
	int rc = pb_mmsc_fetch(m, ni->content_location, &r->pdu, &r->http);
	if (rc < 0) {
		*answer = status_after_fetch_error(rc);
		return rc;
	}
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	rc = pb_mms_decode(&r->message, r->pdu.data, r->pdu.len, 0, &perr);
	if (rc < 0) {
		*answer = rc == PB_ENOMEM ? 0 : PB_MMS_STATUS_UNRECOGNISED;
		if (rc != PB_ENOMEM)
			pb_error_set(rc, "M-Retrieve.conf from %s: offset %zu: %s", r->http.url, perr.offset, perr.text);
		return rc;
	}
	r->retrieve_status = r->message->retrieve_status;
	return judge_retrieve_conf(r->message, answer);
}

PB_API int pb_mmsc_retrieve(pb_mmsc *m, const pb_mms_message *ni, int64_t received, unsigned flags,
			    pb_mmsc_retrieval *r)
{
	if (!m || !ni || !r)
		return pb_error_set(PB_EINVAL, "pb_mmsc_retrieve: NULL argument");
	memset(r, 0, sizeof(*r));
	int rc = check_notification(ni);
	if (rc < 0)
		return rc;

	int answer = PB_MMS_STATUS_RETRIEVED;
	rc = fetch_and_decode(m, ni, received, r, &answer);
	if (rc < 0)
		pb_log_warning(DOMAIN, "%s", pb_error_last()->message);
	if (answer == 0)
		return rc;
	if (flags & PB_MMSC_RETRIEVE_NO_ANSWER) {
		r->answer_status = answer; /* what to answer, for the caller */
		return rc;
	}
	/* a deferred message fetched later is acknowledged, not answered again */
	if ((flags & PB_MMSC_RETRIEVE_LATER) && rc < 0)
		return rc;

	/* keep the retrieval's error as the last error; the answer's goes to the log */
	pb_error saved = *pb_error_last();
	char msg[512];
	pb_strlcpy(msg, saved.message, sizeof(msg));
	pb_mmsc_result ares;
	int arc = (flags & PB_MMSC_RETRIEVE_LATER)
			  ? pb_mmsc_acknowledge(m, ni->transaction_id, &ares)
			  : pb_mmsc_notifyresp(m, ni->transaction_id, answer, &ares);
	r->answer_status = answer;
	r->answered = arc == 0;
	if (arc < 0)
		pb_log_warning(DOMAIN, "answering notification %s: %s", ni->transaction_id, pb_error_last()->message);
	if (rc < 0)
		pb_error_set(rc, "%s", msg);
	return rc;
}

/* --- sending ------------------------------------------------------------ */

PB_API void pb_mmsc_send_conf_dispose(pb_mmsc_send_conf *c)
{
	if (!c)
		return;
	pb_free(c->response_text);
	pb_free(c->message_id);
	pb_free(c->transaction_id);
	c->response_text = c->message_id = c->transaction_id = NULL;
}

static int dup_field(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = pb_strdup(src);
	return *dst ? 0 : PB_ENOMEM;
}

static int read_send_conf(const pb_buf *answer, pb_mmsc_send_conf *c)
{
	pb_mms_message *msg = NULL;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	int rc = pb_mms_decode(&msg, answer->data, answer->len, PB_MMS_DECODE_HEADERS_ONLY, &perr);
	if (rc < 0) {
		if (rc != PB_ENOMEM)
			pb_error_set(rc, "M-Send.conf from %s: offset %zu: %s", c->http.url, perr.offset, perr.text);
		return rc;
	}
	if (msg->message_type != PB_MMS_SEND_CONF) {
		const char *name = pb_mms_message_type_name((int)msg->message_type);
		rc = pb_error_set(PB_EPROTO, "the MMSC answered M-Send.req with %s, not an m-send-conf",
				  name ? name : "an unknown PDU");
		goto out;
	}
	c->response_status = msg->response_status;
	rc = dup_field(&c->response_text, msg->response_text);
	if (rc == 0)
		rc = dup_field(&c->message_id, msg->message_id);
	if (rc == 0)
		rc = dup_field(&c->transaction_id, msg->transaction_id);
out:
	pb_mms_message_free(msg);
	return rc;
}

PB_API int pb_mmsc_send_pdu(pb_mmsc *m, const uint8_t *pdu, size_t len, pb_mmsc_send_conf *c)
{
	if (!m || !pdu || !c)
		return pb_error_set(PB_EINVAL, "pb_mmsc_send_pdu: NULL argument");
	memset(c, 0, sizeof(*c));
	pb_buf answer = PB_BUF_INIT;
	int rc = pb_mmsc_post(m, PB_MMSC_POST_SEND, pdu, len, &answer, &c->http);
	if (rc == 0)
		rc = read_send_conf(&answer, c);
	if (rc == 0 && c->response_status != PB_MMS_RESPONSE_OK) {
		const char *name = pb_mms_token_name(0x12, c->response_status);
		rc = pb_error_set(PB_EPROTO, "the MMSC refused the message: X-Mms-Response-Status %s (0x%02X)%s%s",
				  name ? name : "unknown", c->response_status, c->response_text ? ": " : "",
				  c->response_text ? c->response_text : "");
	}
	pb_buf_dispose(&answer);
	return rc;
}

PB_API int pb_mmsc_send(pb_mmsc *m, const pb_mms_send_req *req, pb_mmsc_send_conf *c)
{
	if (!m || !req || !c)
		return pb_error_set(PB_EINVAL, "pb_mmsc_send: NULL argument");
	memset(c, 0, sizeof(*c));
	pb_buf pdu = PB_BUF_INIT;
	int rc = pb_mms_encode_send_req(&pdu, req);
	if (rc == 0)
		rc = pb_mmsc_send_pdu(m, pdu.data, pdu.len, c);
	if (rc == 0 && c->transaction_id && req->transaction_id && strcmp(c->transaction_id, req->transaction_id) != 0)
		pb_log_warning(DOMAIN, "M-Send.conf transaction id %s does not match the request's %s",
			       c->transaction_id, req->transaction_id);
	pb_buf_dispose(&pdu);
	return rc;
}
