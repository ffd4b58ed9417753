/*
 * pb-bridged — where the modem watch keeps incomplete messages: the parts
 * of a concatenated SMS and the first sighting of a box's own incomplete
 * entry, as rows of the store's SMS part table, so that the incomplete
 * timeout counts across restarts and no part is lost between them.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bridge.h"

/* The whole group key in the row's group_key ("w1:" ports, reference,
 * total, originator), so that a load gives back exactly what was saved. */
#define KEY_PREFIX "w1:"

static void key_text(char *out, size_t size, const pb_sms_group_key *k)
{
	snprintf(out, size, KEY_PREFIX "%" PRId32 ":%" PRId32 ":%u:%u:%s", k->dst_port, k->src_port, (unsigned)k->ref,
		 (unsigned)k->total, k->originator);
}

static int save_part(const pb_sms_group_key *key, uint8_t seq, const uint8_t *pdu, size_t len, unsigned flags,
		     int64_t received, void *ud)
{
	(void)flags; /* the watch's parts always carry the SMSC field */
	char gk[128];
	key_text(gk, sizeof(gk), key);
	pb_store_sms_part p = { 0 };
	p.group_key = gk;
	p.seq = seq;
	p.originator = key->originator;
	p.reference = key->ref;
	p.total = key->total;
	p.pdu = pdu;
	p.pdu_len = len;
	p.received_at = received;
	int rc = pb_store_sms_part_put(ud, &p);
	return rc == PB_EEXISTS ? 0 : rc; /* kept before: saving again is idempotent */
}

static int delete_group(const pb_sms_group_key *key, void *ud)
{
	char gk[128];
	key_text(gk, sizeof(gk), key);
	return pb_store_sms_part_delete_group(ud, gk);
}

typedef struct load_ctx {
	pb_sms_stored_part_cb cb;
	void *cb_ud;
} load_ctx;

static int load_one(const pb_store_sms_part *p, void *ud)
{
	load_ctx *lc = ud;
	pb_sms_group_key k;
	memset(&k, 0, sizeof(k));
	int32_t dst, src;
	unsigned ref, total;
	int off = 0;
	if (!p->group_key || strncmp(p->group_key, KEY_PREFIX, strlen(KEY_PREFIX)) != 0 ||
	    sscanf(p->group_key + strlen(KEY_PREFIX), "%" SCNd32 ":%" SCNd32 ":%u:%u:%n", &dst, &src, &ref, &total,
		   &off) != 4 ||
	    off == 0 || ref > 0xFFFF || total < 1 || total > 255 || p->seq < 1 || p->seq > (int)total)
		return 0; /* not the watch's */
	k.dst_port = dst;
	k.src_port = src;
	k.ref = (uint16_t)ref;
	k.total = (uint8_t)total;
	snprintf(k.originator, sizeof(k.originator), "%s", p->group_key + strlen(KEY_PREFIX) + off);
	return lc->cb(&k, (uint8_t)p->seq, p->pdu, p->pdu_len, PB_SMS_DECODE_SMSC, p->received_at, lc->cb_ud);
}

static int load(pb_sms_stored_part_cb cb, void *cb_ud, void *ud)
{
	load_ctx lc = { cb, cb_ud };
	return pb_store_sms_part_foreach(ud, load_one, &lc);
}

static const pb_sms_reassembly_store_ops parts_ops = { PB_SMS_REASSEMBLY_STORE_VERSION, save_part, delete_group,
						       load };

int pbb_watch_setup(pb_modem *m, pb_store *st, int incomplete_timeout_ms)
{
	pb_modem_watch_options o = PB_MODEM_WATCH_OPTIONS_INIT;
	o.incomplete_timeout_ms = incomplete_timeout_ms;
	o.store = &parts_ops;
	o.store_userdata = st;
	return pb_modem_watch_setup(m, &o);
}
