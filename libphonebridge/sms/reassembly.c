/*
 * libphonebridge — SMS: joining the parts of concatenated messages
 * (3GPP TS 23.040 §9.2.3.24.1), with optional persistence through
 * pb_sms_reassembly_store_ops.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sms-private.h"

#include <string.h>

#include "core/internal.h"

typedef struct part {
	size_t len;
	unsigned flags;
	int64_t received;
	uint8_t pdu[]; /* the PDU as given */
} part;

typedef struct group {
	struct group *next;
	pb_sms_group_key key;
	int64_t first_received;
	unsigned received;
	part *parts[]; /* key.total slots, indexed by seq - 1 */
} group;

struct pb_sms_reassembler {
	pb_sms_reassembler_options opts;
	group *head; /* oldest first */
	bool mark_missing;
};

void pb_sms__reassembler_mark_missing(pb_sms_reassembler *r, bool on)
{
	if (r)
		r->mark_missing = on;
}

int pb_sms_reassembler_new(pb_sms_reassembler **out, const pb_sms_reassembler_options *opts)
{
	static const pb_sms_reassembler_options defaults = PB_SMS_REASSEMBLER_OPTIONS_INIT;
	if (!out)
		return pb_error_set(PB_EINVAL, "pb_sms_reassembler_new: NULL argument");
	*out = NULL;
	if (!opts)
		opts = &defaults;
	int rc = PB_CHECK_VERSION(opts, PB_SMS_REASSEMBLER_OPTIONS, 1);
	const pb_sms_reassembly_store_ops *s = opts->store;
	if (rc == 0 && s)
		rc = PB_CHECK_VERSION(s, PB_SMS_REASSEMBLY_STORE_OPS, 1);
	if (rc < 0)
		return rc;
	if (s && (!s->save_part || !s->delete_group || !s->load))
		return pb_error_set(PB_EINVAL, "reassembly store: save_part, delete_group and load are required");
	pb_sms_reassembler *r = pb_calloc(1, sizeof(*r));
	if (!r)
		return pb_error__oom();
	r->opts = *opts;
	*out = r;
	return 0;
}

static void group_free(group *g)
{
	for (unsigned i = 0; i < g->key.total; i++)
		pb_free(g->parts[i]);
	pb_free(g);
}

void pb_sms_reassembler_free(pb_sms_reassembler *r)
{
	if (!r)
		return;
	for (group *g = r->head, *next; g; g = next) {
		next = g->next;
		group_free(g);
	}
	pb_free(r);
}

size_t pb_sms_reassembler_pending(const pb_sms_reassembler *r)
{
	size_t n = 0;
	for (const group *g = r ? r->head : NULL; g; g = g->next)
		n++;
	return n;
}

void pb_sms_assembled_free(pb_sms_assembled *m)
{
	if (!m)
		return;
	pb_free(m->text);
	pb_free(m->data);
	pb_free(m);
}

static bool same_key(const pb_sms_group_key *a, const pb_sms_group_key *b)
{
	return a->ref == b->ref && a->total == b->total && a->dst_port == b->dst_port &&
	       a->src_port == b->src_port && strcmp(a->originator, b->originator) == 0;
}

static void key_of(const pb_sms_message *m, pb_sms_group_key *k)
{
	memset(k, 0, sizeof(*k));
	pb_strlcpy(k->originator, m->address.number, sizeof(k->originator));
	k->ref = m->udh.has_concat ? m->udh.concat_ref : 0;
	k->total = m->udh.has_concat ? m->udh.concat_total : 1;
	k->dst_port = m->udh.has_ports ? m->udh.dst_port : -1;
	k->src_port = m->udh.has_ports ? m->udh.src_port : -1;
}

/* The borrowed pointers of a message kept past its input. */
static void unborrow(pb_sms_message *m)
{
	m->tpdu = NULL;
	m->ud = NULL;
	for (size_t i = 0; i < m->udh.n_ies; i++)
		m->udh.ies[i].data = NULL;
}

/* UCS-2 bytes of consecutive parts are joined before decoding, so that a
 * surrogate pair split between two parts still reads as one character. */
static int flush_ucs2(pb_buf *text, pb_buf *ucs2)
{
	if (ucs2->len == 0)
		return 0;
	size_t need = ucs2->len / 2 * 3 + 4;
	if (pb_buf_reserve(text, need) < 0)
		return PB_ENOMEM;
	text->len += pb_sms__ucs2_to_utf8(ucs2->data, ucs2->len, (char *)text->data + text->len, need);
	pb_buf_clear(ucs2);
	return 0;
}

static int join_part(pb_buf *text, pb_buf *data, pb_buf *ucs2, const pb_sms_message *m)
{
	if (m->dcs.encoding == PB_SMS_ENC_UCS2 && !m->dcs.compressed)
		return pb_buf_put(ucs2, m->ud, m->ud_len);
	if (flush_ucs2(text, ucs2) < 0)
		return PB_ENOMEM;
	if (m->dcs.encoding == PB_SMS_ENC_GSM7 && !m->dcs.compressed)
		return pb_buf_put(text, m->text, m->text_len);
	return pb_buf_put(data, m->ud, m->ud_len);
}

/*
 * Build the message out of @parts (@total slots, some NULL). @msg, when not
 * NULL, is the decoded single part (saves decoding it again).
 */
static int assemble(part *const *parts, unsigned total, const pb_sms_group_key *key, const pb_sms_message *single,
		    bool mark, pb_sms_assembled **out)
{
	bool after_marker = false;
	pb_sms_assembled *a = pb_calloc(1, sizeof(*a));
	pb_sms_message *m = pb_malloc(sizeof(*m));
	pb_buf text = PB_BUF_INIT, data = PB_BUF_INIT, ucs2 = PB_BUF_INIT;
	int rc = PB_ENOMEM;
	if (!a || !m)
		goto fail;
	a->key = *key;
	a->total = (uint8_t)total;
	bool have_first = false;
	for (unsigned i = 0; i < total; i++) {
		const pb_sms_message *pm = single;
		if (!single) {
			if (!parts[i]) {
				if (flush_ucs2(&text, &ucs2) < 0)
					goto fail;
				if (mark && pb_buf_printf(&text, "%s[part %u of %u missing]", text.len ? " " : "",
							  i + 1, total) < 0)
					goto fail;
				after_marker = mark;
				continue;
			}
			if (pb_sms_decode(m, parts[i]->pdu, parts[i]->len, parts[i]->flags, NULL) < 0)
				continue; /* it decoded when it was added */
			pm = m;
			if (!have_first || parts[i]->received < a->first_received)
				a->first_received = parts[i]->received;
		}
		if (!have_first) {
			a->first = *pm;
			unborrow(&a->first);
			have_first = true;
		}
		if (after_marker && pb_buf_putc(&text, ' ') < 0)
			goto fail;
		after_marker = false;
		a->received++;
		a->have[i / 8] = (uint8_t)(a->have[i / 8] | (1u << (i % 8)));
		if (join_part(&text, &data, &ucs2, pm) < 0)
			goto fail;
	}
	if (flush_ucs2(&text, &ucs2) < 0)
		goto fail;
	a->complete = a->received == total;
	a->text = (char *)pb_buf_detach(&text, &a->text_len);
	if (!a->text)
		goto fail;
	if (data.len) {
		a->data = pb_buf_detach(&data, &a->data_len);
		if (!a->data)
			goto fail;
	}
	pb_buf_dispose(&data); /* empty: 8-bit parts without bytes */
	pb_buf_dispose(&ucs2);
	pb_free(m);
	*out = a;
	return 0;
fail:
	pb_buf_dispose(&text);
	pb_buf_dispose(&data);
	pb_buf_dispose(&ucs2);
	pb_free(m);
	pb_sms_assembled_free(a);
	return rc == PB_ENOMEM ? pb_error__oom() : rc;
}

static group *find_group(pb_sms_reassembler *r, const pb_sms_group_key *k)
{
	for (group *g = r->head; g; g = g->next)
		if (same_key(&g->key, k))
			return g;
	return NULL;
}

static void unlink_group(pb_sms_reassembler *r, group *g)
{
	for (group **pp = &r->head; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			return;
		}
	}
}

/*
 * Keep one part. @dup is set when the part was already held. With @save,
 * the store keeps it first; on a store failure nothing is kept.
 */
static int insert_part(pb_sms_reassembler *r, const pb_sms_group_key *k, uint8_t seq, const uint8_t *pdu,
		       size_t len, unsigned flags, int64_t received, bool save, group **gout, bool *dup)
{
	*dup = false;
	group *g = find_group(r, k);
	bool created = false;
	if (!g) {
		g = pb_calloc(1, sizeof(*g) + k->total * sizeof(part *));
		if (!g)
			return pb_error__oom();
		g->key = *k;
		g->first_received = received;
		created = true;
	}
	if (g->parts[seq - 1]) {
		*dup = true;
		*gout = g;
		return 0;
	}
	part *p = pb_malloc(sizeof(*p) + len);
	if (!p) {
		if (created)
			pb_free(g);
		return pb_error__oom();
	}
	p->len = len;
	p->flags = flags;
	p->received = received;
	memcpy(p->pdu, pdu, len);
	const pb_sms_reassembly_store_ops *s = r->opts.store;
	if (save && s) {
		int rc = s->save_part(k, seq, pdu, len, flags, received, r->opts.store_userdata);
		if (rc < 0) {
			pb_free(p);
			if (created)
				pb_free(g);
			return rc;
		}
	}
	g->parts[seq - 1] = p;
	g->received++;
	if (received < g->first_received)
		g->first_received = received;
	if (created) {
		/* append: the list stays oldest first */
		group **pp = &r->head;
		while (*pp)
			pp = &(*pp)->next;
		*pp = g;
	}
	*gout = g;
	return 0;
}

/* Hand out group @g as a message and forget it (here and in the store). */
static int surface(pb_sms_reassembler *r, group *g, pb_sms_assembled **out)
{
	pb_sms_assembled *a;
	int rc = assemble(g->parts, g->key.total, &g->key, NULL, r->mark_missing, &a);
	if (rc < 0)
		return rc;
	const pb_sms_reassembly_store_ops *s = r->opts.store;
	if (s) {
		rc = s->delete_group(&g->key, r->opts.store_userdata);
		if (rc < 0) {
			/* kept: pb_sms_reassembler_expire() hands it out again */
			pb_sms_assembled_free(a);
			return rc;
		}
	}
	unlink_group(r, g);
	group_free(g);
	*out = a;
	return 0;
}

int pb_sms__reassembler_drop(pb_sms_reassembler *r, const pb_sms_group_key *key)
{
	group *g = r ? find_group(r, key) : NULL;
	if (!g)
		return 0;
	const pb_sms_reassembly_store_ops *s = r->opts.store;
	int rc = s ? s->delete_group(&g->key, r->opts.store_userdata) : 0;
	if (rc < 0)
		return rc;
	unlink_group(r, g);
	group_free(g);
	return 0;
}

int pb_sms_reassembler_add(pb_sms_reassembler *r, const uint8_t *pdu, size_t len, unsigned flags, int64_t now,
			   pb_sms_assembled **out, pb_parse_error *perr)
{
	if (!r || !out || (!pdu && len))
		return pb_error_set(PB_EINVAL, "pb_sms_reassembler_add: NULL argument");
	*out = NULL;
	pb_sms_message *m = pb_malloc(sizeof(*m));
	if (!m)
		return pb_error__oom();
	int rc = pb_sms_decode(m, pdu, len, flags, perr);
	if (rc < 0)
		goto out;
	pb_sms_group_key k;
	key_of(m, &k);
	if (k.total <= 1) {
		rc = assemble(NULL, 1, &k, m, false, out);
		if (rc == 0)
			(*out)->first_received = now;
		goto out;
	}
	group *g;
	bool dup;
	rc = insert_part(r, &k, m->udh.concat_seq, pdu, len, flags, now, true, &g, &dup);
	if (rc < 0 || dup || g->received < g->key.total)
		goto out;
	/* a store failure on delete keeps the group for pb_sms_reassembler_expire() */
	rc = surface(r, g, out);
out:
	pb_free(m);
	return rc;
}

static bool due(const pb_sms_reassembler *r, const group *g, int64_t now)
{
	if (g->received >= g->key.total)
		return true; /* complete, but its deletion from the store failed, or restored */
	return r->opts.timeout_ms > 0 && now - g->first_received >= r->opts.timeout_ms;
}

int pb_sms_reassembler_expire(pb_sms_reassembler *r, int64_t now, pb_sms_assembled **out)
{
	if (!r || !out)
		return pb_error_set(PB_EINVAL, "pb_sms_reassembler_expire: NULL argument");
	*out = NULL;
	if (r->opts.max_groups && r->head && pb_sms_reassembler_pending(r) > r->opts.max_groups)
		return surface(r, r->head, out); /* the list is oldest first */
	for (group *g = r->head; g; g = g->next)
		if (due(r, g, now))
			return surface(r, g, out);
	return 0;
}

int pb_sms_reassembler_flush(pb_sms_reassembler *r, pb_sms_assembled **out)
{
	if (!r || !out)
		return pb_error_set(PB_EINVAL, "pb_sms_reassembler_flush: NULL argument");
	*out = NULL;
	return r->head ? surface(r, r->head, out) : 0;
}

static int restore_one(const pb_sms_group_key *key, uint8_t seq, const uint8_t *pdu, size_t len, unsigned flags,
		       int64_t received, void *ud)
{
	pb_sms_reassembler *r = ud;
	if (!key || key->total == 0 || seq == 0 || seq > key->total || (!pdu && len))
		return 0; /* nothing sensible to keep */
	group *g;
	bool dup;
	return insert_part(r, key, seq, pdu, len, flags, received, false, &g, &dup);
}

int pb_sms_reassembler_restore(pb_sms_reassembler *r)
{
	if (!r || !r->opts.store)
		return pb_error_set(PB_EINVAL, "pb_sms_reassembler_restore: no store");
	return r->opts.store->load(restore_one, r, r->opts.store_userdata);
}
