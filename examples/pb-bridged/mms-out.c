/*
 * pb-bridged — outbound MMS: the owner's media (or a group's text) as a
 * journal row with its attachments, and the M-Send.req that sends it
 * (see bridge.h and docs/bridge.md).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   sync thread  media downloaded -> row "queued" (kind "mms")
 *                + attachments (media, caption as text/plain), one commit
 *   MMS thread   "sending" (committed) -> M-Send.req -> M-Send.conf
 *                -> "sent" (Message-ID) | "failed" (the MMSC's reason)
 *
 * pb_mmsc_send() is not retried (retry_send off): an answer lost after the
 * MMSC took the message would deliver it twice. A crash while sending
 * leaves "sending", which pbb_run() turns into "unknown" (reported, never
 * resent), as for SMS.
 */
#include "bridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAPTION_CT "text/plain; charset=utf-8"

static const char *last_error(void)
{
	const pb_error *e = pb_error_last();
	return e && e->message[0] ? e->message : "unknown error";
}

int pbb_is_mms_row(pb_store *st, const pb_store_msg *r)
{
	return r->dir == PB_STORE_OUTBOUND ? pbb_msg_is(st, r, "mms") : 0;
}

int pbb_outbound_mms_journal(pb_store *st, const pbb_outbound_mms *in, int64_t *id)
{
	pb_store_msg_in m = PB_STORE_MSG_IN_INIT;
	m.dir = PB_STORE_OUTBOUND;
	m.state = PB_STORE_QUEUED;
	m.backend = PBB_MMS_BACKEND;
	m.peer = in->peer;
	m.room = in->room;
	m.event_id = in->event_id;
	m.body = in->body ? in->body : "";
	m.sent_at = in->sent_at;
	int rc = pb_store_begin(st);
	if (rc < 0)
		return rc;
	rc = pbb_journal_insert(st, &m, "mms", id);
	if (rc == 0 && in->data)
		rc = pb_store_attachment_add(st, *id, in->data, in->len,
					     in->content_type ? in->content_type : "application/octet-stream",
					     in->filename, NULL);
	if (rc == 0 && in->caption && in->caption[0])
		rc = pb_store_attachment_add(st, *id, in->caption, strlen(in->caption), CAPTION_CT, NULL, NULL);
	if (rc < 0 && rc != PB_EEXISTS) {
		pb_store_rollback(st);
		return rc;
	}
	int c = pb_store_commit(st);
	return c < 0 ? c : rc;
}

/* Move @p r to @p to; a journal error is logged and returned. */
static int move(pb_store *st, const pb_store_msg *r, int to, const char *ref, const char *err)
{
	int rc = pb_store_msg_transition(st, r->id, to, ref, err);
	if (rc < 0)
		pbb_log(PB_LOG_ERROR, "journal: out #%lld: %s", (long long)r->id, last_error());
	return rc;
}

int pbb_mms_send_row(pb_store *st, pb_mmsc *mmsc, const pb_store_msg *r)
{
	char err[512] = "";
	pbb_numbers to = { NULL, 0 };
	pb_store_attachment_list *al = NULL;
	pb_buf *bytes = NULL;
	pb_mms_attachment *att = NULL;
	pb_buf text = PB_BUF_INIT;
	int rc;
	if (!mmsc) {
		rc = move(st, r, PB_STORE_FAILED, NULL,
			  "sending pictures and files (MMS) needs an MMSC: no usable [mmsc] url is configured");
		return rc < 0 ? rc : 1;
	}
	/* everything read before "sending": a row we cannot even build fails
	 * without touching the network */
	if (!r->peer || pbb_room_key_split(r->peer, &to) < 0)
		snprintf(err, sizeof(err), "no recipient");
	else if ((rc = pb_store_attachment_list_get(st, r->id, &al)) < 0)
		goto out;
	size_t n_att = 0;
	if (!err[0] && al->count) {
		bytes = pb_calloc(al->count, sizeof(*bytes));
		att = pb_calloc(al->count, sizeof(*att));
		if (!bytes || !att) {
			rc = PB_ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; !err[0] && al && i < al->count; i++) {
		const pb_store_attachment *a = &al->items[i];
		if (pb_store_attachment_read(st, a->sha256, &bytes[i]) < 0) {
			snprintf(err, sizeof(err), "the journal lost the attachment: %s", last_error());
			break;
		}
		if (a->content_type && !strcmp(a->content_type, CAPTION_CT)) {
			if (pb_buf_put(&text, bytes[i].data, bytes[i].len) < 0) {
				rc = PB_ENOMEM;
				goto out;
			}
			continue;
		}
		pb_mms_attachment *m = &att[n_att++];
		m->content_type = a->content_type ? a->content_type : "application/octet-stream";
		m->name = a->name;
		m->data = bytes[i].data;
		m->len = bytes[i].len;
	}
	if (!err[0] && n_att == 0 && text.len == 0 && r->body && pb_buf_puts(&text, r->body) < 0) {
		rc = PB_ENOMEM;
		goto out;
	}
	if (err[0]) {
		pbb_log(PB_LOG_WARNING, "out #%lld: MMS not sent: %s", (long long)r->id, err);
		rc = move(st, r, PB_STORE_FAILED, NULL, err);
		rc = rc < 0 ? rc : 1;
		goto out;
	}
	char tid[64];
	snprintf(tid, sizeof(tid), "pb%lld-%lld", (long long)r->id, (long long)time(NULL));
	pb_mms_send_req req = PB_MMS_SEND_REQ_INIT;
	req.transaction_id = tid;
	req.to = (const char *const *)to.v;
	req.n_to = to.n;
	req.date = (int64_t)time(NULL);
	req.text = text.len ? pb_buf_cstr(&text) : NULL;
	req.attachments = att;
	req.n_attachments = n_att;
	/* committed before the MMSC sees it: a crash from here on leaves
	 * "sending", which the next start turns into "unknown" */
	if ((rc = move(st, r, PB_STORE_SENDING, NULL, NULL)) < 0)
		goto out;
	pb_mmsc_send_conf conf;
	memset(&conf, 0, sizeof(conf));
	rc = pb_mmsc_send(mmsc, &req, &conf);
	if (rc == 0) {
		pbb_log(PB_LOG_INFO, "out #%lld: MMS sent to %s (%s)", (long long)r->id, r->peer,
			conf.message_id ? conf.message_id : "no Message-ID");
		rc = move(st, r, PB_STORE_SENT, conf.message_id ? conf.message_id : tid, NULL);
	} else {
		if (conf.response_status && conf.response_status != PB_MMS_RESPONSE_OK)
			snprintf(err, sizeof(err), "the MMSC refused the message (status 0x%02X%s%s)",
				 (unsigned)conf.response_status, conf.response_text ? ": " : "",
				 conf.response_text ? conf.response_text : "");
		else
			snprintf(err, sizeof(err), "the MMSC could not be reached or did not answer: %s",
				 last_error());
		pbb_log(PB_LOG_WARNING, "out #%lld: MMS not sent: %s", (long long)r->id, err);
		rc = move(st, r, PB_STORE_FAILED, NULL, err);
		rc = rc < 0 ? rc : 1;
	}
	pb_mmsc_send_conf_dispose(&conf);
out:
	for (size_t i = 0; bytes && al && i < al->count; i++)
		pb_buf_dispose(&bytes[i]);
	pb_free(bytes);
	pb_free(att);
	pb_buf_dispose(&text);
	pb_store_attachment_list_free(al);
	pbb_numbers_free(&to);
	return rc;
}
