/*
 * pb-bridged — rooms: one Matrix room per set of participants (a contact,
 * or the people of a group MMS), created once even across crashes and
 * between threads (see bridge.h and docs/bridge.md, "Rooms").
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A room is saved in the store (contacts for one number, groups for
 * several) only after it was created and marked with a PBB_ROOM_MARKER
 * state event naming its key. A crash between those steps leaves a room the
 * store does not know; pbb_room_scan() finds it again among the bot's
 * joined rooms before any new room is made:
 *
 *   kv intent (key, name) -> createRoom -> marker -> invites -> store -> intent gone
 *
 * a marked room is adopted by its marker; a room made but not marked yet
 * by its intent (the same name, created by the bot, unknown to the store).
 *
 * In appservice mode a contact's room is made by the contact's puppet, the
 * marker in the createRoom's initial_state (so a room never exists
 * unmarked), the owner and the bot invited, the bot an admin:
 *
 *   kv intent -> createRoom as the puppet -> the bot joins -> store -> intent gone
 *
 * A crash after createRoom leaves a marked room the bot may not have joined
 * yet: the scan also reads the joined rooms of the puppet of each intent,
 * and a marker counts when the bot sent it or when the puppet of its one
 * number did (puppets are ours alone: the registration's namespace is
 * exclusive).
 */
#include "bridge.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define INTENTS_KV "bridge.room_intents"
#define CONTROL_KV "bridge.control_room"

static const char *last_error(void)
{
	const pb_error *e = pb_error_last();
	return e && e->message[0] ? e->message : "unknown error";
}

/* --- sets and keys --------------------------------------------------------- */

int pbb_numbers_add(pbb_numbers *ns, const char *s)
{
	size_t i = 0;
	while (i < ns->n && strcmp(ns->v[i], s) < 0)
		i++;
	if (i < ns->n && !strcmp(ns->v[i], s))
		return 0;
	char **v = pb_realloc(ns->v, (ns->n + 1) * sizeof(*v));
	if (!v)
		return PB_ENOMEM;
	ns->v = v;
	char *c = pb_strdup(s);
	if (!c)
		return PB_ENOMEM;
	memmove(v + i + 1, v + i, (ns->n - i) * sizeof(*v));
	v[i] = c;
	ns->n++;
	return 0;
}

void pbb_numbers_free(pbb_numbers *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		pb_free(ns->v[i]);
	pb_free(ns->v);
	ns->v = NULL;
	ns->n = 0;
}

int pbb_room_key(const pbb_numbers *ns, pb_buf *out)
{
	for (size_t i = 0; i < ns->n; i++)
		if ((i && pb_buf_putc(out, ',') < 0) || pb_buf_puts(out, ns->v[i]) < 0)
			return PB_ENOMEM;
	return pb_buf_cstr(out) ? 0 : PB_ENOMEM;
}

int pbb_room_key_split(const char *key, pbb_numbers *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = key;
	char part[256];
	for (;;) {
		size_t n = strcspn(p, ",");
		if (n == 0 || n >= sizeof(part)) {
			pbb_numbers_free(out);
			return PB_EINVAL;
		}
		memcpy(part, p, n);
		part[n] = '\0';
		if (pbb_numbers_add(out, part) < 0) {
			pbb_numbers_free(out);
			return PB_ENOMEM;
		}
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

/* An address of an MMS header as the set keeps it. */
static int add_address(pbb_numbers *ns, const char *addr, const char *region)
{
	if (!addr)
		return 0;
	while (*addr == ' ' || *addr == '\t')
		addr++;
	if (!*addr)
		return 0;
	char e164[PB_PHONE_MAX];
	pb_phone_kind kind;
	if (!strchr(addr, '@') && pb_phone_normalize(e164, sizeof(e164), addr, region, &kind) == 0)
		return pbb_numbers_add(ns, e164);
	/* not a number (e-mail): kept as given, unless it could not be part of
	 * a room key ("a,b") or a line (control characters) */
	for (const char *p = addr; *p; p++)
		if (*p == ',' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return strlen(addr) < 200 ? pbb_numbers_add(ns, addr) : 0;
}

static void numbers_remove(pbb_numbers *ns, const char *s)
{
	for (size_t i = 0; i < ns->n; i++)
		if (!strcmp(ns->v[i], s)) {
			pb_free(ns->v[i]);
			memmove(ns->v + i, ns->v + i + 1, (ns->n - i - 1) * sizeof(*ns->v));
			ns->n--;
			return;
		}
}

int pbb_mms_participants(const pb_mms_message *m, const char *region, const char *own_number,
			 pbb_numbers *out)
{
	memset(out, 0, sizeof(*out));
	pbb_numbers rcpt = { NULL, 0 };
	int rc = add_address(out, m->from, region);
	for (size_t i = 0; rc == 0 && i < m->n_to; i++)
		rc = add_address(&rcpt, m->to[i], region);
	for (size_t i = 0; rc == 0 && i < m->n_cc; i++)
		rc = add_address(&rcpt, m->cc[i], region);
	if (rc == 0 && (!own_number || !own_number[0]) && rcpt.n == 1)
		numbers_remove(&rcpt, rcpt.v[0]); /* a one-to-one message: the owner is its To */
	for (size_t i = 0; rc == 0 && i < rcpt.n; i++)
		rc = pbb_numbers_add(out, rcpt.v[i]);
	pbb_numbers_free(&rcpt);
	if (rc == 0 && own_number && own_number[0])
		numbers_remove(out, own_number);
	if (rc < 0)
		pbb_numbers_free(out);
	return rc;
}

char *pbb_room_marker_json(const pbb_numbers *ns)
{
	pb_buf key = PB_BUF_INIT;
	json_t *nums = NULL, *o = NULL;
	char *s = NULL;
	if (!ns) {
		o = json_pack("{s:b}", "control", 1);
	} else if ((nums = json_array()) != NULL && pbb_room_key(ns, &key) == 0) {
		bool good = true;
		for (size_t i = 0; good && i < ns->n; i++)
			good = json_array_append_new(nums, json_string(ns->v[i])) == 0;
		if (good)
			o = json_pack("{s:s, s:O}", "key", pb_buf_cstr(&key), "numbers", nums);
	}
	char *j = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (j) {
		s = pb_strdup(j);
		free(j);
	}
	json_decref(o);
	json_decref(nums);
	pb_buf_dispose(&key);
	return s;
}

/* A marker's content: the control room, or a set of numbers. */
static int marker_parse(const json_t *content, pbb_numbers *ns, bool *control)
{
	memset(ns, 0, sizeof(*ns));
	*control = json_is_true(json_object_get(content, "control"));
	if (*control)
		return 0;
	const json_t *nums = json_object_get(content, "numbers");
	size_t i;
	const json_t *v;
	json_array_foreach(nums, i, v) {
		const char *n = json_string_value(v);
		int rc = n && n[0] && strlen(n) < 256 ? pbb_numbers_add(ns, n) : PB_EINVAL;
		if (rc < 0) {
			pbb_numbers_free(ns);
			return rc;
		}
	}
	return ns->n ? 0 : PB_EINVAL;
}

int pbb_room_marker_parse(const char *json, pbb_numbers *ns, bool *control)
{
	memset(ns, 0, sizeof(*ns));
	*control = false;
	json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
	int rc = json_is_object(o) ? marker_parse(o, ns, control) : PB_EINVAL;
	json_decref(o);
	return rc;
}

/* --- the store's side -------------------------------------------------------- */

/* The saved room of a set: 0 (*room set), PB_ENOTFOUND, or an error. */
static int lookup(pb_store *st, const pbb_numbers *ns, char **room)
{
	*room = NULL;
	if (!ns)
		return pb_store_kv_get(st, CONTROL_KV, room);
	if (ns->n == 1) {
		pb_store_contact *c = NULL;
		int rc = pb_store_contact_get(st, ns->v[0], &c);
		if (rc == 0 && !c->room)
			rc = PB_ENOTFOUND;
		if (rc == 0 && !(*room = pb_strdup(c->room)))
			rc = PB_ENOMEM;
		pb_store_contact_free(c);
		return rc;
	}
	pb_store_group *g = NULL;
	int rc = pb_store_group_by_numbers(st, (const char *const *)ns->v, ns->n, &g);
	if (rc == 0 && !(*room = pb_strdup(g->room)))
		rc = PB_ENOMEM;
	pb_store_group_free(g);
	return rc;
}

/* Does the store know @p room (a contact's, a group's or the control room)? */
static int room_known(pb_store *st, const char *room)
{
	pb_store_contact *c = NULL;
	int rc = pb_store_contact_by_room(st, room, &c);
	pb_store_contact_free(c);
	if (rc != PB_ENOTFOUND)
		return rc == 0 ? 1 : rc;
	pb_store_group *g = NULL;
	rc = pb_store_group_by_room(st, room, &g);
	pb_store_group_free(g);
	if (rc != PB_ENOTFOUND)
		return rc == 0 ? 1 : rc;
	char *ctl = NULL;
	if (pb_store_kv_get(st, CONTROL_KV, &ctl) == 0) {
		bool same = !strcmp(ctl, room);
		pb_free(ctl);
		if (same)
			return 1;
	}
	return 0;
}

static int save(pb_store *st, const pbb_numbers *ns, const char *room)
{
	if (!ns)
		return pb_store_kv_set(st, CONTROL_KV, room);
	if (ns->n > 1)
		return pb_store_group_set(st, (const char *const *)ns->v, ns->n, room);
	pb_store_contact *c = NULL;
	int rc = pb_store_contact_get(st, ns->v[0], &c);
	if (rc < 0 && rc != PB_ENOTFOUND)
		return rc;
	rc = pb_store_contact_set(st, ns->v[0], c ? c->display_name : NULL, room);
	pb_store_contact_free(c);
	return rc;
}

/* The room's name: the contacts' names or numbers, ", " between them. */
static int room_name(pb_store *st, const pbb_numbers *ns, pb_buf *out)
{
	if (!ns)
		return pb_buf_puts(out, "Phone bridge") < 0 ? PB_ENOMEM : 0;
	for (size_t i = 0; i < ns->n; i++) {
		pb_store_contact *c = NULL;
		const char *name = ns->v[i];
		if (pb_store_contact_get(st, ns->v[i], &c) == 0 && c->display_name && c->display_name[0])
			name = c->display_name;
		int rc = pb_buf_printf(out, "%s%s", i ? ", " : "", name);
		pb_store_contact_free(c);
		if (rc < 0)
			return PB_ENOMEM;
		if (out->len > 200) {
			pb_buf_truncate(out, 200);
			break;
		}
	}
	/* one line: the name is also kept in an intent line */
	for (size_t i = 0; i < out->len; i++)
		if (out->data[i] < 0x20)
			out->data[i] = ' ';
	return pb_buf_cstr(out) ? 0 : PB_ENOMEM;
}

/* Intents: "MARKER\tNAME\n" lines in one kv value (MARKER the room's marker
 * as compact JSON, which holds no raw tab or newline), changed under the
 * room lock. */
static int intents_get(pb_store *st, pb_buf *out)
{
	char *v = NULL;
	int rc = pb_store_kv_get(st, INTENTS_KV, &v);
	if (rc == PB_ENOTFOUND)
		return pb_buf_cstr(out) ? 0 : PB_ENOMEM;
	if (rc < 0)
		return rc;
	rc = pb_buf_puts(out, v);
	pb_free(v);
	return rc < 0 ? PB_ENOMEM : 0;
}

/* Add (name != NULL) or drop the intent of @p key (a marker's JSON). */
static int intent_set(pb_store *st, const char *key, const char *name)
{
	pb_buf old = PB_BUF_INIT, nw = PB_BUF_INIT;
	int rc = intents_get(st, &old);
	size_t kl = strlen(key);
	for (const char *p = old.len ? pb_buf_cstr(&old) : ""; rc == 0 && *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) + 1 : strlen(p);
		if (!(n > kl && !memcmp(p, key, kl) && p[kl] == '\t') && pb_buf_put(&nw, p, n) < 0)
			rc = PB_ENOMEM;
		p += n;
	}
	if (rc == 0 && name && pb_buf_printf(&nw, "%s\t%s\n", key, name) < 0)
		rc = PB_ENOMEM;
	if (rc == 0)
		rc = nw.len ? pb_store_kv_set(st, INTENTS_KV, pb_buf_cstr(&nw)) : pb_store_kv_delete(st, INTENTS_KV);
	pb_buf_dispose(&old);
	pb_buf_dispose(&nw);
	return rc;
}

/* --- the scan of the bot's joined rooms ----------------------------------------- */

typedef struct seen_room {
	char *id;
	bool marked;     /* the bot's marker, valid */
	bool control;    /* ... of the control room */
	pbb_numbers ns;  /* ... else of this set */
	char *name;      /* m.room.name, or NULL */
	bool mine;       /* created by the bot */
	bool outside;    /* seen only among a puppet's rooms: the bot may not be in it */
} seen_room;

typedef struct scan_ctx {
	const char *me;
	const pbb_config *cfg; /* appservice mode: puppets' markers count too */
	const char *server;    /* ... the puppets' server */
	bool outside;          /* scanning a puppet's rooms */
	seen_room *rooms;
	size_t n;
} scan_ctx;

static seen_room *seen(scan_ctx *sc, const char *id)
{
	for (size_t i = 0; i < sc->n; i++)
		if (!strcmp(sc->rooms[i].id, id))
			return &sc->rooms[i];
	seen_room *r = pb_realloc(sc->rooms, (sc->n + 1) * sizeof(*r));
	if (!r)
		return NULL;
	sc->rooms = r;
	memset(&r[sc->n], 0, sizeof(*r));
	if (!(r[sc->n].id = pb_strdup(id)))
		return NULL;
	r[sc->n].outside = sc->outside;
	return &r[sc->n++];
}

static int on_scan_event(const pb_matrix_event *ev, void *ud)
{
	scan_ctx *sc = ud;
	if ((ev->section != PB_MATRIX_STATE && ev->section != PB_MATRIX_TIMELINE) || !ev->state_key ||
	    ev->state_key[0])
		return 0;
	bool by_me = ev->sender && sc->me && !strcmp(ev->sender, sc->me);
	bool marker = !strcmp(ev->type, PBB_ROOM_MARKER), create = !strcmp(ev->type, "m.room.create"),
	     name = !strcmp(ev->type, "m.room.name");
	/* a puppet's marker: only for the room of its own number (below) */
	char pnum[PB_PHONE_MAX];
	bool by_puppet = marker && !by_me && ev->sender && sc->cfg && sc->cfg->mode == PBB_MODE_APPSERVICE &&
			 sc->server && pbb_puppet_number(sc->cfg, sc->server, ev->sender, pnum, sizeof(pnum)) == 0;
	if ((marker && !by_me && !by_puppet) || (!marker && !create && !name))
		return 0; /* only our own markers count: anyone may send state */
	seen_room *r = seen(sc, ev->room_id);
	if (!r)
		return PB_ENOMEM;
	if (marker) {
		pbb_numbers_free(&r->ns);
		int rc = marker_parse(ev->content, &r->ns, &r->control);
		if (rc == PB_ENOMEM)
			return rc;
		r->marked = rc == 0 && (!by_puppet || (!r->control && r->ns.n == 1 && !strcmp(r->ns.v[0], pnum)));
	} else if (create) {
		r->mine = by_me;
	} else {
		const char *v = json_string_value(json_object_get(ev->content, "name"));
		char *c = v ? pb_strdup(v) : NULL;
		if (v && !c)
			return PB_ENOMEM;
		pb_free(r->name);
		r->name = c;
	}
	return 0;
}

/* Only what the scan reads: no timeline, the three state types. And a
 * nonce: Synapse answers an identical /sync request from a cache for up to
 * 2 minutes (sync_response_cache_duration), so a scan that repeated the
 * request of the scan before a crash would be shown the rooms as they were
 * then, miss the room made just before the crash, and make a second one.
 * The nonce is a state type nobody sends, excluded: it changes the request,
 * never the answer. */
static int scan_filter(char *out, size_t size)
{
	char nonce[PB_MATRIX_TXN_ID_SIZE];
	if (pb_matrix_txn_id(nonce, sizeof(nonce)) < 0)
		return PB_EINVAL;
	int n = snprintf(out, size,
			 "{\"presence\":{\"types\":[]},\"account_data\":{\"types\":[]},"
			 "\"room\":{\"timeline\":{\"limit\":0},\"ephemeral\":{\"types\":[]},"
			 "\"account_data\":{\"types\":[]},"
			 "\"state\":{\"types\":[\"m.room.create\",\"m.room.name\",\"" PBB_ROOM_MARKER "\"],"
			 "\"not_types\":[\"org.phonebridge.scan.%s\"]}}}",
			 nonce);
	return n > 0 && (size_t)n < size ? 0 : pb_error_set(PB_ETOOBIG, "bridge: scan filter too long");
}

/* Save @p room for @p ns (NULL: the control room) when the store has no
 * room for it and the room is not another's. */
static int adopt(pb_store *st, pb_matrix *mx, const pbb_numbers *ns, const char *room, bool outside, bool *done)
{
	*done = false;
	char *have = NULL;
	int rc = lookup(st, ns, &have);
	pb_free(have);
	if (rc != PB_ENOTFOUND)
		return rc < 0 ? rc : 0;
	rc = room_known(st, room);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	/* a puppet's room the bot was invited to at its creation */
	if (outside && (rc = pb_matrix_join(mx, room, NULL)) < 0)
		return rc;
	rc = save(st, ns, room);
	*done = rc == 0;
	return rc;
}

/* The intent @p line ("MARKER\tNAME"): its room, if the bot made it and
 * could not mark it, marked and saved. */
static int resolve_intent(pb_store *st, pb_matrix *mx, scan_ctx *sc, char *line, int *adopted)
{
	char *tab = strchr(line, '\t');
	if (!tab)
		return 0;
	*tab = '\0';
	const char *json = line, *name = tab + 1;
	pbb_numbers ns;
	bool control;
	int rc = pbb_room_marker_parse(json, &ns, &control);
	if (rc < 0)
		return rc == PB_ENOMEM ? rc : 0;
	for (size_t i = 0; rc == 0 && i < sc->n; i++) {
		seen_room *r = &sc->rooms[i];
		if (r->marked || !r->mine || !r->name || strcmp(r->name, name) != 0)
			continue;
		int known = room_known(st, r->id);
		if (known != 0) {
			rc = known < 0 ? known : 0;
			continue;
		}
		rc = pb_matrix_send_state(mx, r->id, PBB_ROOM_MARKER, "", json, NULL);
		bool done = false;
		if (rc == 0)
			rc = adopt(st, mx, control ? NULL : &ns, r->id, r->outside, &done);
		if (rc == 0 && done) {
			pbb_log(PB_LOG_NOTICE, "room %s for %s found again (created, not yet marked)", r->id,
				control ? "the control room" : json);
			r->marked = true;
			if (adopted)
				(*adopted)++;
			break;
		}
	}
	pbb_numbers_free(&ns);
	return rc;
}

/* The joined rooms of the puppet of each one-number intent in @p intents
 * whose room the store does not know, into @p sc as "outside" rooms. */
static int scan_puppets(const pbb_config *cfg, pb_store *st, pb_matrix *mx, const char *intents,
			const char *const *types, const pb_matrix_sync_callbacks *cb, scan_ctx *sc)
{
	int rc = 0;
	for (const char *p = intents; rc == 0 && *p;) {
		size_t n = strcspn(p, "\t\n");
		char *json = pb_strndup(p, n);
		p += strcspn(p, "\n");
		p += *p == '\n';
		pbb_numbers ns;
		bool control;
		if (!json)
			return PB_ENOMEM;
		int prc = pbb_room_marker_parse(json, &ns, &control);
		pb_free(json);
		if (prc == PB_ENOMEM)
			return prc;
		if (prc < 0 || control || ns.n != 1) {
			pbb_numbers_free(&ns);
			continue;
		}
		char *have = NULL, puppet[256];
		rc = lookup(st, &ns, &have);
		pb_free(have);
		if (rc == PB_ENOTFOUND) {
			/* registered here if it never was: its rooms can then be listed */
			rc = pbb_puppet_ensure(cfg, st, mx, NULL, ns.v[0], puppet, sizeof(puppet));
			if (rc == 0 && (rc = pb_matrix_act_as(mx, puppet)) == 0) {
				sc->outside = true;
				rc = pb_matrix_rooms_state(mx, types, cb);
				sc->outside = false;
			}
			pb_matrix_act_as(mx, NULL);
		}
		pbb_numbers_free(&ns);
	}
	return rc;
}

int pbb_room_scan(const pbb_config *cfg, pb_store *st, pb_matrix *mx, int *adopted)
{
	if (adopted)
		*adopted = 0;
	scan_ctx sc = { pb_matrix_user_id(mx), cfg, NULL, false, NULL, 0 };
	if (cfg && cfg->mode == PBB_MODE_APPSERVICE && sc.me)
		sc.server = pbb_as_server(cfg, sc.me);
	pb_matrix_sync_callbacks cb = { on_scan_event, NULL, NULL, NULL, &sc };
	pb_matrix_sync_options o = PB_MATRIX_SYNC_OPTIONS_INIT;
	char filter[512];
	o.filter = filter;
	o.timeout_ms = 0;
	o.full_state = true;
	pb_buf intents = PB_BUF_INIT;
	int rc = sc.me ? scan_filter(filter, sizeof(filter)) : pb_error_set(PB_ESTATE, "matrix: whoami first");
	/* an application service cannot /sync (Synapse refuses it): the rooms' state instead */
	static const char *const types[] = { "m.room.create", "m.room.name", PBB_ROOM_MARKER, NULL };
	if (rc == 0)
		rc = cfg && cfg->mode == PBB_MODE_APPSERVICE ? pb_matrix_rooms_state(mx, types, &cb)
							     : pb_matrix_sync(mx, &o, &cb, NULL);
	if (rc == 0)
		rc = intents_get(st, &intents);
	/* 0. the rooms of the puppets that were making a room (appservice) */
	if (rc == 0 && sc.server && intents.len)
		rc = scan_puppets(cfg, st, mx, pb_buf_cstr(&intents), types, &cb, &sc);
	/* 1. rooms the bot or a puppet marked that the store does not know */
	for (size_t i = 0; rc == 0 && i < sc.n; i++) {
		seen_room *r = &sc.rooms[i];
		bool done = false;
		if (r->marked)
			rc = adopt(st, mx, r->control ? NULL : &r->ns, r->id, r->outside, &done);
		if (rc == 0 && done) {
			pbb_log(PB_LOG_NOTICE, "room %s for %s found again (by its marker)", r->id,
				r->control ? "the control room" : r->ns.v[0]);
			if (adopted)
				(*adopted)++;
		}
	}
	/* 2. creations a crash interrupted before the marker; then each intent
	 * is done with, its room found or not (it was never made) */
	char *lines = rc == 0 && intents.len ? pb_strdup(pb_buf_cstr(&intents)) : NULL;
	if (rc == 0 && intents.len && !lines)
		rc = PB_ENOMEM;
	for (char *save_p = NULL, *line = lines ? strtok_r(lines, "\n", &save_p) : NULL; rc == 0 && line;
	     line = strtok_r(NULL, "\n", &save_p))
		if ((rc = resolve_intent(st, mx, &sc, line, adopted)) == 0)
			rc = intent_set(st, line, NULL); /* line ends at its tab now: the key */
	pb_free(lines);
	for (size_t i = 0; i < sc.n; i++) {
		pb_free(sc.rooms[i].id);
		pbb_numbers_free(&sc.rooms[i].ns);
		pb_free(sc.rooms[i].name);
	}
	pb_free(sc.rooms);
	pb_buf_dispose(&intents);
	return rc;
}

/* --- creation ------------------------------------------------------------------- */

/* For the tests (tests/bridge-appservice-test.py): with
 * PBB_TEST_KILL_AFTER_CREATE=FILE, the first room a puppet makes kills the
 * daemon right after createRoom, before the bot joins it and the store
 * knows it (FILE is made first, so it happens once). */
static void test_kill_after_create(void)
{
	const char *flag = getenv("PBB_TEST_KILL_AFTER_CREATE");
	if (!flag || !*flag)
		return;
	FILE *f = fopen(flag, "wx");
	if (!f)
		return;
	fclose(f);
	pbb_log(PB_LOG_WARNING, "test: killed after createRoom, before the store knows the room");
	raise(SIGKILL);
}

/* Appservice mode: @p number's puppet makes its room, marked from its first
 * event (initial_state), the owner invited as a direct room, the bot
 * invited and made an admin beside the puppet and the owners; the bot
 * joins. */
static int create_as_puppet(const pbb_config *cfg, pb_store *st, pb_matrix *mx, const char *number,
			    const char *marker, const char *name, char **room)
{
	char puppet[256];
	const char *bot = pb_matrix_user_id(mx);
	int rc = bot ? pbb_puppet_ensure(cfg, st, mx, NULL, number, puppet, sizeof(puppet))
		     : pb_error_set(PB_ESTATE, "matrix: whoami first");
	if (rc < 0)
		return rc;
	json_t *mk = json_loads(marker, 0, NULL);
	json_t *users = json_pack("{s:i, s:i}", puppet, 100, bot, 100);
	for (size_t i = 0; users && i < cfg->n_owners; i++)
		if (json_object_set_new(users, cfg->owners[i], json_integer(100)) < 0) {
			json_decref(users);
			users = NULL;
		}
	json_t *body = mk && users ? json_pack("{s:s, s:b, s:[s,s], s:s, s:[{s:s, s:s, s:O}], s:{s:O}}",
					       "preset", "trusted_private_chat", "is_direct", 1, "invite",
					       cfg->owners[0], bot, "name", name, "initial_state", "type",
					       PBB_ROOM_MARKER, "state_key", "", "content", mk,
					       "power_level_content_override", "users", users)
				   : NULL;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(mk);
	json_decref(users);
	json_decref(body);
	if (!text)
		return PB_ENOMEM;
	rc = pb_matrix_act_as(mx, puppet);
	if (rc == 0)
		rc = pb_matrix_create_room(mx, text, room);
	pb_matrix_act_as(mx, NULL);
	free(text);
	if (rc == 0) {
		test_kill_after_create();
		rc = pb_matrix_join(mx, *room, NULL);
	}
	return rc;
}

static int create(const pbb_config *cfg, pb_store *st, pb_matrix *mx, const pbb_numbers *ns, char **room)
{
	pb_buf name = PB_BUF_INIT;
	char *rid = NULL, *json = pbb_room_marker_json(ns);
	int rc = json ? room_name(st, ns, &name) : PB_ENOMEM;
	const char *what = ns ? json : "the control room";
	/* committed before the room exists: a crash from here on is found again */
	if (rc == 0)
		rc = intent_set(st, json, pb_buf_cstr(&name));
	bool puppet = ns && ns->n == 1 && cfg->mode == PBB_MODE_APPSERVICE;
	if (rc == 0 && puppet)
		rc = create_as_puppet(cfg, st, mx, ns->v[0], json, pb_buf_cstr(&name), &rid);
	else if (rc == 0)
		rc = pb_matrix_create_dm(mx, cfg->owners[0], pb_buf_cstr(&name), &rid);
	if (rc == 0 && !puppet && cfg->encryption >= PBB_E2EE_DEFAULT)
		rc = pb_matrix_send_state(mx, rid, "m.room.encryption", "",
					  "{\"algorithm\":\"m.megolm.v1.aes-sha2\"}", NULL);
	if (rc == 0 && !puppet)
		rc = pb_matrix_send_state(mx, rid, PBB_ROOM_MARKER, "", json, NULL);
	if (rc == 0) {
		for (size_t i = 1; i < cfg->n_owners; i++)
			if (pb_matrix_invite(mx, rid, cfg->owners[i]) < 0)
				pbb_log(PB_LOG_WARNING, "matrix: invite %s: %s", cfg->owners[i], last_error());
		rc = save(st, ns, rid);
	}
	if (rc == 0) {
		pbb_log(PB_LOG_NOTICE, "room %s for %s", rid, what);
		if (intent_set(st, json, NULL) < 0) /* harmless when left: the next scan drops it */
			pbb_log(PB_LOG_WARNING, "journal: %s", last_error());
		*room = rid;
		rid = NULL;
	}
	pb_free(rid);
	pb_free(json);
	pb_buf_dispose(&name);
	return rc;
}

int pbb_room_ensure(const pbb_config *cfg, pthread_mutex_t *mu, pb_store *st, pb_matrix *mx,
		    const pbb_numbers *ns, char **room)
{
	*room = NULL;
	if (ns && ns->n == 0)
		return pb_error_set(PB_EINVAL, "bridge: a room for nobody");
	int rc = lookup(st, ns, room);
	if (rc != PB_ENOTFOUND)
		return rc;
	pthread_mutex_lock(mu);
	rc = lookup(st, ns, room); /* another thread may have made it meanwhile */
	if (rc == PB_ENOTFOUND && (rc = pbb_room_scan(cfg, st, mx, NULL)) == 0)
		rc = lookup(st, ns, room);
	if (rc == PB_ENOTFOUND)
		rc = create(cfg, st, mx, ns, room);
	pthread_mutex_unlock(mu);
	return rc;
}
