/*
 * pb-bridged — delivery reports: ask for them when sending, remember the
 * message reference(s) of every part, and turn a report from the modem into
 * a reaction (delivered) or a notice (failed, expired) on the Matrix event
 * of the message that was sent. See docs/bridge.md, "Delivery reports".
 *
 * The state lives in the store only, in the bridge's tables (tables.c,
 * docs/bridge.md "Store layout"):
 *   outbound row ref               "12,13,14": the references of its parts
 *                                  ("-" when the box gives none)
 *   bridge_dr_ref                  (peer, reference) -> the outbound row
 *                                  (written by the modem thread when sent)
 *   bridge_dr_queue                rows sent to a number through a box
 *                                  that gives no reference (HiLink), in order
 *   bridge_dr_delivered            the parts reported delivered so far
 *   inbound row of kind "report"   the report itself, journaled before the
 *                                  modem deletes it (body: the network's
 *                                  words), with its bridge_report row
 * Every change to these is one transaction; the Matrix send before it uses
 * a transaction id derived from the outbound row, so a crash in between
 * repeats the send without doubling it.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bridge.h"
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = { "delivered", "pending", "failed", "expired" };

const char *pbb_report_status_name(int status)
{
	return status >= 0 && status <= PBB_DR_EXPIRED ? status_names[status] : "?";
}

int pbb_report_read(const pb_modem_msg *m, pbb_report *out)
{
	memset(out, 0, sizeof(*out));
	out->ref = -1;
	out->code = -1;
	if (m->raw && m->raw_format == PB_MODEM_RAW_PDU) {
		/* an AT modem: the SMS-STATUS-REPORT itself (TS 23.040 9.2.2.3) */
		pb_sms_message s;
		pb_parse_error perr = PB_PARSE_ERROR_INIT;
		if (pb_modem_msg_decode_sms(m, &s, &perr) < 0)
			return pb_error_set(PB_EMALFORMED, "status report: %s (offset %zu)", perr.text, perr.offset);
		if (s.type != PB_SMS_STATUS_REPORT || !s.has_status)
			return pb_error_set(PB_EMALFORMED, "not an SMS-STATUS-REPORT");
		out->ref = s.mr;
		out->code = s.status;
		if (pb_sms_status_delivered(s.status))
			out->status = PBB_DR_DELIVERED;
		else if (s.status < 0x40)
			out->status = PBB_DR_PENDING; /* 0x20-0x3F: the SC is still trying */
		else if (s.status == 0x46)
			out->status = PBB_DR_EXPIRED; /* validity period expired */
		else
			out->status = PBB_DR_FAILED;
		snprintf(out->text, sizeof(out->text), "%s", pb_sms_status_text(s.status));
		return 0;
	}
	/* HiLink: SmsType 7 delivered, 8 failed, no reference; others: what
	 * the backend says in error */
	if (m->box_type == 7 || (m->box_type != 8 && !m->error)) {
		out->status = PBB_DR_DELIVERED;
		snprintf(out->text, sizeof(out->text), "delivered");
	} else {
		out->status = PBB_DR_FAILED;
		snprintf(out->text, sizeof(out->text), "%s", m->error ? m->error : "delivery failed");
	}
	return 0;
}

void pbb_report_body(const pbb_report *r, char *out, size_t size)
{
	snprintf(out, size, "%d %d %s %s", r->ref, r->code, pbb_report_status_name(r->status), r->text);
}

int pbb_report_parse(const char *body, pbb_report *out)
{
	memset(out, 0, sizeof(*out));
	char status[16];
	int n = 0;
	if (!body || sscanf(body, "%d %d %15s %n", &out->ref, &out->code, status, &n) != 3 || out->ref < -1 ||
	    out->ref > 255)
		return pb_error_set(PB_EMALFORMED, "unreadable report row \"%.40s\"", body ? body : "");
	out->status = -1;
	for (int i = 0; i <= PBB_DR_EXPIRED; i++)
		if (!strcmp(status, status_names[i]))
			out->status = i;
	if (out->status < 0)
		return pb_error_set(PB_EMALFORMED, "unknown report status \"%s\"", status);
	snprintf(out->text, sizeof(out->text), "%s", body + n);
	return 0;
}

/* kv "bridge.out.<row>": "DONE REFS" once parts of the row went out. */
static void progress_key(char *key, size_t size, int64_t row)
{
	snprintf(key, size, "bridge.out.%lld", (long long)row);
}

int pbb_send_progress(pb_store *st, int64_t row, int *done, char *refs, size_t size)
{
	char key[64], *v = NULL;
	*done = 0;
	refs[0] = '\0';
	progress_key(key, sizeof(key), row);
	int rc = pb_store_kv_get(st, key, &v);
	if (rc < 0)
		return rc == PB_ENOTFOUND ? 0 : rc;
	char *sp = strchr(v, ' ');
	*done = atoi(v);
	snprintf(refs, size, "%s", sp ? sp + 1 : "");
	pb_free(v);
	return 0;
}

int pbb_send_progress_clear(pb_store *st, int64_t row)
{
	char key[64];
	progress_key(key, sizeof(key), row);
	int rc = pb_store_kv_delete(st, key);
	return rc == PB_ENOTFOUND ? 0 : rc;
}

int pbb_send_sms(pb_modem *m, pb_store *st, int64_t row, const char *number, const char *text, bool report,
		 char *refs, size_t size, int *done, int *total)
{
	int ref = -1, rc, start = 0;
	*done = 0;
	*total = 1;
	if ((rc = pbb_send_progress(st, row, &start, refs, size)) < 0)
		return rc;
	/* part by part where the box takes TPDUs (AT): each part's TP-MR is
	 * learnt and committed as it is acknowledged, so that a send that
	 * stops (not sent, no answer, a crash) resumes after the last part
	 * that went out and only the part in flight can be uncertain. The
	 * concatenation reference is the row's, the same on every attempt. */
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.status_report = report;
	o.reference = (int)(row & 0xFF);
	pb_sms_pdu *pdus = NULL;
	size_t n = 0;
	if ((rc = pb_sms_encode_text(&pdus, &n, number, text, strlen(text), &o)) < 0)
		return rc;
	*total = (int)n;
	*done = start;
	size_t used = strlen(refs);
	for (size_t i = (size_t)start; i < n; i++) {
		pbd_stage_beat(); /* each part has its own send timeout */
		rc = pb_modem_send_pdu(m, pdus[i].data, pdus[i].len, &ref);
		if (rc == PB_EUNSUPPORTED && i == 0) {
			/* a box that does not take TPDUs (HiLink, SMSEagle) splits itself:
			 * one request, one outcome */
			pb_free(pdus);
			*total = 1;
			rc = pb_modem_send_text(m, number, text, report ? PB_MODEM_SEND_REPORT : 0, &ref);
			if (rc == 0 && ref >= 0)
				snprintf(refs, size, "%d", ref);
			*done = rc == 0;
			return rc;
		}
		if (rc < 0)
			break;
		int w = snprintf(refs + used, size - used, "%s%d", used ? "," : "", ref);
		if (w > 0 && (size_t)w < size - used)
			used += (size_t)w;
		*done = (int)i + 1;
		if (i + 1 < n) {
			char key[64], v[1100];
			progress_key(key, sizeof(key), row);
			snprintf(v, sizeof(v), "%d %s", *done, refs);
			if (pb_store_kv_set(st, key, v) < 0)
				pbb_log(PB_LOG_WARNING, "out #%lld: part %d's reference not kept: %s", (long long)row,
					*done, pb_error_last()->message);
		}
	}
	pb_free(pdus);
	return rc;
}

/* Parse "12,13,14" into @p refs; @return how many (0 for "-", "", "-1"). */
static size_t split_refs(const char *s, int *refs, size_t max)
{
	size_t n = 0;
	while (s && *s && n < max) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s || v < 0 || v > 255)
			return 0;
		refs[n++] = (int)v;
		s = *end == ',' ? end + 1 : end;
		if (*end != ',' && *end)
			return 0;
	}
	return n;
}

int pbb_outbound_sent(pb_store *st, int64_t id, const char *peer, const char *refs, bool await_report)
{
	int r[255];
	size_t n = split_refs(refs, r, 255);
	int rc = pb_store_begin(st);
	if (rc < 0)
		return rc;
	rc = pb_store_msg_transition(st, id, PB_STORE_SENT, refs && refs[0] ? refs : "-", NULL);
	if (rc == 0 && await_report && peer) {
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = pbb_dr_ref_set(st, peer, r[i], id);
		if (n == 0 && rc == 0)
			rc = pbb_dr_queue_push(st, peer, id);
	}
	if (rc < 0) {
		pb_store_rollback(st);
		return rc;
	}
	return pb_store_commit(st);
}

/* The outbound row a report belongs to: by reference, or the oldest one
 * sent to the number through a box without references (*seq: its queue
 * entry; *id 0 when that row is gone). *id 0 when none. */
static int find_outbound(pb_store *st, const char *peer, const pbb_report *rep, int64_t *id, int64_t *seq)
{
	*id = 0;
	*seq = 0;
	if (rep->ref >= 0)
		return pbb_dr_ref_get(st, peer, rep->ref, id);
	return pbb_dr_queue_head(st, peer, seq, id);
}

/* Has every part been reported delivered, counting @p ref? */
static int parts_done(pb_store *st, const pb_store_msg *o, int ref, bool *all)
{
	int want[255], have[256];
	size_t nwant = split_refs(o->ref, want, 255), nhave = 0;
	int rc = pbb_dr_delivered(st, o->id, have, 255, &nhave);
	if (rc < 0)
		return rc;
	if (ref >= 0)
		have[nhave++] = ref;
	size_t got = 0;
	for (size_t i = 0; i < nwant; i++)
		for (size_t j = 0; j < nhave; j++)
			if (want[i] == have[j]) {
				got++;
				break;
			}
	*all = nwant == 0 || got == nwant;
	return 0;
}

/* Finish with the report row (and, when @p final, the outbound row's
 * bookkeeping) in one transaction. */
static int settle(pb_store *st, const pb_store_msg *rep_row, const pb_store_msg *o, bool final, int64_t seq,
		  int part, int to, const char *ref, const char *error)
{
	int rc = pb_store_begin(st);
	if (rc < 0)
		return rc;
	if (o && final) {
		rc = pbb_dr_forget(st, o->id);
		if (rc == 0 && seq > 0)
			rc = pbb_dr_queue_drop(st, seq);
	} else if (o && part >= 0) {
		rc = pbb_dr_delivered_add(st, o->id, part);
	}
	if (rc == 0)
		rc = pb_store_msg_transition(st, rep_row->id, to, ref, error);
	if (rc < 0) {
		pb_store_rollback(st);
		return rc;
	}
	return pb_store_commit(st);
}

int pbb_report_deliver(pb_store *st, pb_matrix *mx, const pb_store_msg *r)
{
	return pbb_report_deliver_cfg(NULL, st, mx, r);
}

/* [matrix] delivery for a delivered message: receipt in appservice mode
 * unless set otherwise, else a reaction */
static int delivery_kind(const pbb_config *cfg)
{
	if (!cfg)
		return PBB_DELIVERY_REACTION;
	if (cfg->delivery != PBB_DELIVERY_DEFAULT)
		return cfg->delivery;
	return cfg->mode == PBB_MODE_APPSERVICE ? PBB_DELIVERY_RECEIPT : PBB_DELIVERY_REACTION;
}

/* The contact's puppet reads @event: the read receipt a person's client
 * would send. Receipts are idempotent; the row keeps "receipt". */
static int receipt(const pbb_config *cfg, pb_store *st, pb_matrix *mx, const char *room, const char *peer,
		   const char *event, char **out)
{
	char puppet[300];
	int rc = pbb_puppet_ensure(cfg, st, mx, room, peer, puppet, sizeof(puppet));
	if (rc == 0)
		rc = pb_matrix_act_as(mx, puppet);
	if (rc == 0)
		rc = pb_matrix_read_receipt(mx, room, event);
	pb_matrix_act_as(mx, NULL);
	if (rc == 0 && !(*out = pb_strdup("receipt")))
		rc = PB_ENOMEM;
	return rc;
}

int pbb_report_deliver_cfg(const pbb_config *cfg, pb_store *st, pb_matrix *mx, const pb_store_msg *r)
{
	pbb_report rep;
	const char *peer = r->peer ? r->peer : "";
	int rc = pbb_report_get(st, r, &rep);
	if (rc == PB_EMALFORMED) {
		pbb_log(PB_LOG_WARNING, "report #%lld: %s; dropped", (long long)r->id, pb_error_last()->message);
		return settle(st, r, NULL, false, 0, -1, PB_STORE_FAILED, NULL, "unreadable report");
	}
	if (rc < 0)
		return rc;
	int64_t oid = 0, seq = 0;
	if ((rc = find_outbound(st, peer, &rep, &oid, &seq)) < 0)
		return rc;
	pb_store_msg *o = NULL;
	if (oid > 0 && (rc = pb_store_msg_get(st, oid, &o)) < 0 && rc != PB_ENOTFOUND)
		return rc;
	if (!o || o->dir != PB_STORE_OUTBOUND) {
		pbb_log(PB_LOG_NOTICE, "report #%lld: %s from %s for reference %d: no message of ours waits for it; dropped",
			(long long)r->id, pbb_report_status_name(rep.status), peer, rep.ref);
		pb_store_msg_free(o);
		/* the head of the number's queue is gone (pruned): it leaves the
		 * queue with this report, or it would swallow every later one */
		rc = pb_store_begin(st);
		if (rc == 0 && seq > 0)
			rc = pbb_dr_queue_drop(st, seq);
		if (rc == 0)
			rc = pb_store_msg_transition(st, r->id, PB_STORE_FAILED, NULL, "unknown reference");
		if (rc < 0) {
			pb_store_rollback(st);
			return rc;
		}
		return pb_store_commit(st);
	}
	bool by_fifo = rep.ref < 0;
	if (rep.status == PBB_DR_PENDING) {
		pbb_log(PB_LOG_INFO, "report #%lld: out #%lld to %s: %s (the network goes on trying)", (long long)r->id,
			(long long)o->id, peer, rep.text);
		rc = settle(st, r, o, false, 0, -1, PB_STORE_DELIVERED, "pending", NULL);
		pb_store_msg_free(o);
		return rc;
	}
	/* where the sent message's event is: its room, or the control room
	 * for a !sms command */
	char *control = NULL, *room = NULL;
	const char *okind;
	if ((rc = pbb_msg_kind(st, o, &okind)) < 0) {
		pb_store_msg_free(o);
		return rc;
	}
	if (!strcmp(okind, "cmd"))
		pb_store_kv_get(st, "bridge.control_room", &control);
	room = control ? control : (char *)o->room;
	char txn[64], *event = NULL;
	bool all = true;
	if (rep.status == PBB_DR_DELIVERED && !by_fifo && (rc = parts_done(st, o, rep.ref, &all)) < 0)
		goto out;
	char sid[PBB_STORE_ID_SIZE];
	if ((rc = pbb_store_id(st, sid)) < 0)
		goto out;
	if (!room || !o->event_id) {
		pbb_log(PB_LOG_NOTICE, "report #%lld: out #%lld has no Matrix event to mark", (long long)r->id,
			(long long)o->id);
	} else if (rep.status == PBB_DR_DELIVERED && all) {
		pbb_txn_id(txn, sizeof(txn), sid, "dr", o->id);
		int kind = delivery_kind(cfg);
		if (kind == PBB_DELIVERY_RECEIPT && !control && o->peer && o->peer[0] == '+')
			rc = receipt(cfg, st, mx, room, o->peer, o->event_id, &event);
		else if (kind == PBB_DELIVERY_NOTICE)
			rc = pb_matrix_send_message(mx, room, txn, "m.notice", "Delivered", NULL, &event);
		else
			rc = pb_matrix_send_reaction(mx, room, txn, o->event_id, PBB_DR_REACTION, &event);
	} else if (rep.status != PBB_DR_DELIVERED) {
		char text[1024];
		snprintf(text, sizeof(text), "%s: \"%.200s\" to %s: %s",
			 rep.status == PBB_DR_EXPIRED ? "Not delivered (expired)" : "Not delivered",
			 o->body ? o->body : "", o->peer ? o->peer : "?", rep.text);
		pbb_txn_id(txn, sizeof(txn), sid, "drf", o->id);
		rc = pb_matrix_send_message(mx, room, txn, "m.notice", text, NULL, &event);
	}
	if (rc == PB_EIO || rc == PB_ETIMEOUT || rc == PB_EAGAIN || rc == PB_EBUSY || rc == PB_ECANCELLED ||
	    rc == PB_ENOMEM) {
		pbb_log(PB_LOG_WARNING, "report #%lld: matrix: %s (will retry)", (long long)r->id,
			pb_error_last()->message);
		goto out;
	}
	if (rc < 0) {
		/* refused for good (the room left, the event gone): a report is
		 * not worth holding up the messages behind it */
		char err[256];
		snprintf(err, sizeof(err), "matrix: %s", pb_error_last()->message);
		pbb_log(PB_LOG_WARNING, "report #%lld: %s; dropped", (long long)r->id, err);
		rc = settle(st, r, o, true, by_fifo ? seq : 0, -1, PB_STORE_FAILED, NULL, err);
		goto out;
	}
	bool final = rep.status != PBB_DR_DELIVERED || all;
	pbb_log(PB_LOG_INFO, "report #%lld: out #%lld to %s %s%s", (long long)r->id, (long long)o->id, peer,
		pbb_report_status_name(rep.status), final ? "" : " (a part; others to come)");
	rc = settle(st, r, o, final, by_fifo ? seq : 0, by_fifo ? -1 : rep.ref, PB_STORE_DELIVERED,
		    event ? event : "-", NULL);
out:
	pb_free(event);
	pb_free(control);
	pb_store_msg_free(o);
	return rc;
}
