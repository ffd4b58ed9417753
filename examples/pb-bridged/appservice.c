/*
 * pb-bridged — the bridge as a Matrix application service (docs/bridge.md
 * "Application service"): the registration file, the Application Service
 * API on a pb_listener (transactions journaled before they are answered),
 * and the contacts' puppets.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A transaction the homeserver pushes is checked (hs_token), parsed, turned
 * into the shape of a /sync answer and kept in the store's kv table, in ONE
 * store transaction with its transaction id, before the 200: a transaction
 * seen before is answered 200 and does nothing. The sync thread then takes
 * the kept transactions in order through the same event handlers as /sync
 * in bot mode (bridge.c), so every command, medium and guarantee is one
 * code path; a crash between handling and removing repeats the handling,
 * which the journal's dedup on event ids makes harmless.
 */
#include "bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define QUEUE_HEAD "bridge.as.head"
#define QUEUE_TAIL "bridge.as.tail"
#define QUEUE_ITEM "bridge.as.q."
#define TXN_SEEN "bridge.as.txn."
#define TXN_BY_SEQ "bridge.as.seq." /* + seq: the transaction id kept as seq */
/* Transaction ids remembered: a homeserver sends again only the transaction
 * it has no 200 for (it sends them one at a time, in order), so the last few
 * would do; older ids are forgotten and the kv table stays small. */
#define TXN_REMEMBERED 1024
#define PUPPET_NAME "bridge.puppet."      /* + number: the display name set */
#define PUPPET_ROOM "bridge.puppet.room." /* + room + " " + number: joined */
#define PUPPET_AVATAR "bridge.puppet.avatar."           /* + number: the avatar set (mxc) */
#define PUPPET_AVATAR_WANT "bridge.puppet.avatar_want." /* + number: the contact's picture (mxc) */
#define AVATAR_UPLOADED "bridge.avatar.sha256."         /* + hex: a picture uploaded before (mxc) */

/* --- configuration --------------------------------------------------------------- */

const char *pbb_as_listen(const pbb_config *c) { return c->listen ? c->listen : "127.0.0.1:29331"; }
static const char *as_id(const pbb_config *c) { return c->appservice_id ? c->appservice_id : "phonebridge"; }
static const char *sender(const pbb_config *c) { return c->sender_localpart ? c->sender_localpart : "phonebridge"; }
static const char *tmpl(const pbb_config *c) { return c->puppet_template ? c->puppet_template : "sms_{number}"; }

/* the characters of a user id's localpart (Matrix spec "User Identifiers") */
static bool localpart_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || strchr("._=-/", s[i])))
			return false;
	return true;
}

const char *pbb_as_config_check(const pbb_config *c)
{
	if (!c->homeserver)
		return "homeserver is required";
	if (!c->as_token_file || !c->hs_token_file)
		return "mode = appservice needs as_token_file and hs_token_file (pb-bridged generate-registration)";
	if (c->token_file)
		return "mode = appservice takes its access token from as_token_file: leave token_file out";
	if (c->encryption != PBB_E2EE_OFF)
		return "mode = appservice does not do end-to-end encryption yet: encryption = off";
	const char *t = tmpl(c), *n = strstr(t, "{number}");
	if (!n || strstr(n + 1, "{number}"))
		return "puppet_template must hold {number} once (e.g. sms_{number})";
	if ((n > t && !localpart_ok(t, (size_t)(n - t))) || (n[8] && !localpart_ok(n + 8, strlen(n + 8))))
		return "puppet_template: a localpart has only a-z, 0-9 and ._=-/";
	if (!localpart_ok(sender(c), strlen(sender(c))))
		return "sender_localpart: a localpart has only a-z, 0-9 and ._=-/";
	if (!localpart_ok(as_id(c), strlen(as_id(c))))
		return "appservice_id: use a-z, 0-9 and ._=-/";
	return NULL;
}

const char *pbb_as_server(const pbb_config *c, const char *bot_user_id)
{
	if (c->server_name)
		return c->server_name;
	const char *colon = bot_user_id ? strchr(bot_user_id, ':') : NULL;
	if (colon)
		return colon + 1;
	return c->n_owners ? strchr(c->owners[0], ':') + 1 : "localhost";
}

int pbb_as_bot_id(const pbb_config *c, char *out, size_t size)
{
	int n = snprintf(out, size, "@%s:%s", sender(c), pbb_as_server(c, NULL));
	return n < 0 || (size_t)n >= size ? pb_error_set(PB_ETOOBIG, "appservice: bot user id too long") : 0;
}

/* --- puppets ----------------------------------------------------------------------- */

int pbb_puppet_user_id(const pbb_config *c, const char *server, const char *number, char *out, size_t size)
{
	if (!number || number[0] != '+' || !number[1] || strspn(number + 1, "0123456789") != strlen(number + 1))
		return pb_error_set(PB_EINVAL, "appservice: %s is not an E.164 number: no puppet", number ? number : "?");
	const char *t = tmpl(c), *n = strstr(t, "{number}");
	int w = snprintf(out, size, "@%.*s%s%s:%s", (int)(n - t), t, number + 1, n + 8, server);
	return w < 0 || (size_t)w >= size ? pb_error_set(PB_ETOOBIG, "appservice: puppet id too long") : 0;
}

int pbb_puppet_number(const pbb_config *c, const char *server, const char *user_id, char *number, size_t size)
{
	const char *t = tmpl(c), *n = strstr(t, "{number}");
	size_t pre = (size_t)(n - t), suf = strlen(n + 8), sl = strlen(server), ul = user_id ? strlen(user_id) : 0;
	if (ul < 1 + pre + 1 + suf + 1 + sl || user_id[0] != '@' || strncmp(user_id + 1, t, pre) != 0 ||
	    strcmp(user_id + ul - sl, server) != 0 || user_id[ul - sl - 1] != ':' ||
	    strncmp(user_id + ul - sl - 1 - suf, n + 8, suf) != 0)
		return PB_ENOTFOUND;
	const char *d = user_id + 1 + pre;
	size_t dl = ul - sl - 1 - suf - 1 - pre;
	if (dl == 0 || dl > 15 || dl + 2 > size) /* E.164: at most 15 digits */
		return PB_ENOTFOUND;
	for (size_t i = 0; i < dl; i++)
		if (d[i] < '0' || d[i] > '9')
			return PB_ENOTFOUND;
	number[0] = '+';
	memcpy(number + 1, d, dl);
	number[dl + 1] = '\0';
	return 0;
}

/* The contact's name, else its number (new, pb_free()). */
static char *puppet_name(pb_store *st, const char *number)
{
	pb_store_contact *k = NULL;
	char *name = NULL;
	if (pb_store_contact_get(st, number, &k) == 0 && k->display_name && k->display_name[0])
		name = pb_strdup(k->display_name);
	pb_store_contact_free(k);
	return name ? name : pb_strdup(number);
}

/* The contact's picture (from a vCard, pbb_puppet_picture()) as the
 * puppet's avatar, when it is not set yet. */
static int puppet_avatar(pb_store *st, pb_matrix *mx, const char *number, const char *puppet)
{
	char key[512], *want = NULL, *have = NULL;
	snprintf(key, sizeof(key), PUPPET_AVATAR_WANT "%s", number);
	int rc = pb_store_kv_get(st, key, &want);
	if (rc == PB_ENOTFOUND)
		return 0;
	snprintf(key, sizeof(key), PUPPET_AVATAR "%s", number);
	if (rc == 0 && (rc = pb_store_kv_get(st, key, &have)) == PB_ENOTFOUND)
		rc = 0;
	if (rc == 0 && (!have || strcmp(have, want) != 0)) {
		rc = pb_matrix_act_as(mx, puppet);
		if (rc == 0)
			rc = pb_matrix_set_avatar_url(mx, puppet, want);
		pb_matrix_act_as(mx, NULL);
		if (rc == 0)
			rc = pb_store_kv_set(st, key, want);
		if (rc == 0)
			pbb_log(PB_LOG_INFO, "appservice: %s has the contact's picture %s", puppet, want);
	}
	pb_free(want);
	pb_free(have);
	return rc;
}

int pbb_puppet_picture(const pbb_config *c, pb_store *st, pb_matrix *mx, const char *number, const uint8_t *data,
		       size_t len, const char *mimetype)
{
	if (c->mode != PBB_MODE_APPSERVICE)
		return 0;
	/* the same picture is uploaded once: its SHA-256 names the upload */
	pb_mms_part part;
	memset(&part, 0, sizeof(part));
	part.data = data;
	part.len = len;
	uint8_t digest[32];
	char hex[65], key[512], *mxc = NULL;
	int rc = pb_mms_part_sha256(&part, digest, hex);
	if (rc < 0)
		return rc;
	snprintf(key, sizeof(key), AVATAR_UPLOADED "%s", hex);
	rc = pb_store_kv_get(st, key, &mxc);
	if (rc == PB_ENOTFOUND) {
		rc = pb_matrix_upload(mx, data, len, mimetype, NULL, &mxc);
		if (rc == 0)
			rc = pb_store_kv_set(st, key, mxc);
		if (rc == 0)
			pbb_log(PB_LOG_INFO, "appservice: a contact's picture uploaded as %s", mxc);
	}
	snprintf(key, sizeof(key), PUPPET_AVATAR_WANT "%s", number);
	if (rc == 0)
		rc = pb_store_kv_set(st, key, mxc);
	pb_free(mxc);
	return rc;
}

int pbb_puppet_ensure(const pbb_config *c, pb_store *st, pb_matrix *mx, const char *room, const char *number,
		      char *puppet, size_t size)
{
	int rc = pbb_puppet_user_id(c, pbb_as_server(c, pb_matrix_user_id(mx)), number, puppet, size);
	if (rc < 0)
		return rc;
	char key[512], *have = NULL, *want = puppet_name(st, number);
	if (!want)
		return PB_ENOMEM;
	snprintf(key, sizeof(key), PUPPET_NAME "%s", number);
	rc = pb_store_kv_get(st, key, &have);
	if (rc == PB_ENOTFOUND) {
		/* registered on first use; registered before (a lost kv row) is fine */
		const char *lp = puppet + 1;
		char local[256];
		snprintf(local, sizeof(local), "%.*s", (int)(strchr(lp, ':') - lp), lp);
		rc = pb_matrix_register_appservice_user(mx, local);
		if (rc == 0 || rc == PB_EEXISTS)
			pbb_log(PB_LOG_INFO, "appservice: puppet %s for %s", puppet, number);
		rc = rc == PB_EEXISTS ? 0 : rc;
	}
	if (rc == 0 && (!have || strcmp(have, want) != 0)) {
		/* a contact renamed or imported since: the puppet follows */
		rc = pb_matrix_act_as(mx, puppet);
		if (rc == 0)
			rc = pb_matrix_set_displayname(mx, puppet, want);
		pb_matrix_act_as(mx, NULL);
		if (rc == 0)
			rc = pb_store_kv_set(st, key, want);
	}
	pb_free(have);
	pb_free(want);
	if (rc == 0)
		rc = puppet_avatar(st, mx, number, puppet);
	if (rc < 0 || !room)
		return rc;
	snprintf(key, sizeof(key), PUPPET_ROOM "%s %s", room, number);
	char *joined = NULL;
	if (pb_store_kv_get(st, key, &joined) == 0) {
		pb_free(joined);
		return 0;
	}
	/* the bot invites (it created the room, or it is a bot-mode room being
	 * taken over); an invite refused because the puppet is in already is fine */
	if (pb_matrix_invite(mx, room, puppet) < 0)
		pbb_log(PB_LOG_DEBUG, "appservice: invite %s to %s: %s", puppet, room, pb_error_last()->message);
	rc = pb_matrix_act_as(mx, puppet);
	if (rc == 0)
		rc = pb_matrix_join(mx, room, NULL);
	pb_matrix_act_as(mx, NULL);
	if (rc == 0)
		rc = pb_store_kv_set(st, key, "joined");
	if (rc == 0)
		pbb_log(PB_LOG_INFO, "appservice: %s joined %s", puppet, room);
	return rc;
}

int pbb_puppet_rename(const pbb_config *c, pb_store *st, pb_matrix *mx, const char *number)
{
	if (c->mode != PBB_MODE_APPSERVICE)
		return 0;
	char key[512], *have = NULL, puppet[256];
	snprintf(key, sizeof(key), PUPPET_NAME "%s", number);
	int rc = pb_store_kv_get(st, key, &have);
	pb_free(have);
	if (rc == PB_ENOTFOUND)
		return 0; /* no puppet yet: it is named when it is made */
	return rc < 0 ? rc : pbb_puppet_ensure(c, st, mx, NULL, number, puppet, sizeof(puppet));
}

/* --- the registration ---------------------------------------------------------------- */

/* a YAML single-quoted scalar */
static int yq(pb_buf *b, const char *s)
{
	int rc = pb_buf_putc(b, '\'');
	for (; rc == 0 && *s; s++)
		rc = *s == '\'' ? pb_buf_puts(b, "''") : pb_buf_putc(b, (uint8_t)*s);
	return rc == 0 ? pb_buf_putc(b, '\'') : rc;
}

/* a POSIX ERE / Python regex matching @s literally */
static int re_lit(pb_buf *b, const char *s, size_t n)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (strchr(".^$*+?()[]{}|\\/", s[i]))
			rc = pb_buf_putc(b, '\\');
		if (rc == 0)
			rc = pb_buf_putc(b, (uint8_t)s[i]);
	}
	return rc;
}

int pbb_as_url(const pbb_config *c, char *out, size_t size)
{
	int n = c->appservice_url ? snprintf(out, size, "%s", c->appservice_url)
				  : snprintf(out, size, "http://%s", pbb_as_listen(c));
	return n < 0 || (size_t)n >= size ? pb_error_set(PB_ETOOBIG, "appservice: url too long") : 0;
}

int pbb_as_registration(const pbb_config *c, const char *as_token, const char *hs_token, pb_buf *out)
{
	char url[512];
	pb_buf re = PB_BUF_INIT;
	const char *t = tmpl(c), *n = strstr(t, "{number}"), *server = pbb_as_server(c, NULL);
	int rc = pbb_as_url(c, url, sizeof(url));
	if (rc < 0)
		return rc;
	rc = pb_buf_putc(&re, '@');
	if (rc == 0)
		rc = re_lit(&re, t, (size_t)(n - t));
	if (rc == 0)
		rc = pb_buf_puts(&re, "[0-9]+");
	if (rc == 0)
		rc = re_lit(&re, n + 8, strlen(n + 8));
	if (rc == 0)
		rc = pb_buf_putc(&re, ':');
	if (rc == 0)
		rc = re_lit(&re, server, strlen(server));
	if (rc == 0)
		rc = pb_buf_printf(out, "# pb-bridged application service (docs/bridge.md \"Application service\")\n"
					"# secrets: keep this file readable by the homeserver only\nid: ");
	if (rc == 0)
		rc = yq(out, as_id(c));
	if (rc == 0)
		rc = pb_buf_puts(out, "\nurl: ");
	if (rc == 0)
		rc = yq(out, url);
	if (rc == 0)
		rc = pb_buf_puts(out, "\nas_token: ");
	if (rc == 0)
		rc = yq(out, as_token);
	if (rc == 0)
		rc = pb_buf_puts(out, "\nhs_token: ");
	if (rc == 0)
		rc = yq(out, hs_token);
	if (rc == 0)
		rc = pb_buf_puts(out, "\nsender_localpart: ");
	if (rc == 0)
		rc = yq(out, sender(c));
	if (rc == 0)
		rc = pb_buf_puts(out, "\nrate_limited: false\nnamespaces:\n  users:\n    - exclusive: true\n      regex: ");
	if (rc == 0)
		rc = yq(out, pb_buf_cstr(&re));
	if (rc == 0)
		rc = pb_buf_puts(out, "\n  aliases: []\n  rooms: []\n");
	pb_buf_dispose(&re);
	return rc;
}

/* The secret in @path, or a new one written there (0600, never through a
 * link, never over a file). @return 0 (*made says which) or a PB_E* code */
static int token_file(const char *path, char **tok, bool *made)
{
	*made = false;
	if (access(path, F_OK) == 0)
		return pb_secret_read(path, tok);
	uint8_t raw[32];
	int rc = pb_random_bytes(raw, sizeof(raw));
	if (rc < 0)
		return rc;
	char *hex = pb_malloc(2 * sizeof(raw) + 2);
	if (!hex)
		return PB_ENOMEM;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		pb_free(hex);
		return pb_error_set(PB_EIO, "%s: %s", path, strerror(errno));
	}
	size_t len = strlen(hex);
	hex[len] = '\n';
	bool ok = write(fd, hex, len + 1) == (ssize_t)(len + 1) && fsync(fd) == 0;
	hex[len] = '\0';
	if (close(fd) != 0 || !ok) {
		unlink(path);
		pb_secret_free(hex);
		return pb_error_set(PB_EIO, "%s: cannot write", path);
	}
	*tok = hex;
	*made = true;
	return 0;
}

int pbb_as_generate(const pbb_config *c, const char *file, FILE *say)
{
	char *as = NULL, *hs = NULL;
	bool as_made = false, hs_made = false;
	pb_buf y = PB_BUF_INIT;
	int rc = token_file(c->as_token_file, &as, &as_made);
	if (rc == 0)
		rc = token_file(c->hs_token_file, &hs, &hs_made);
	if (rc == 0 && as && hs && strcmp(as, hs) == 0)
		rc = pb_error_set(PB_EINVAL, "as_token and hs_token must differ");
	if (rc == 0)
		rc = pbb_as_registration(c, as, hs, &y);
	int fd = -1;
	if (rc == 0 && (fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		rc = pb_error_set(errno == EEXIST ? PB_EEXISTS : PB_EIO, "%s: %s%s", file, strerror(errno),
				  errno == EEXIST ? " (remove it to make a new one; the tokens are kept)" : "");
	if (fd >= 0) {
		bool ok = write(fd, y.data, y.len) == (ssize_t)y.len && fsync(fd) == 0;
		if (close(fd) != 0 || !ok) {
			unlink(file);
			rc = pb_error_set(PB_EIO, "%s: cannot write", file);
		}
	}
	if (rc == 0 && say) {
		char url[512];
		pbb_as_url(c, url, sizeof(url));
		fprintf(say, "%s: the registration of application service %s (%s)\n", file, as_id(c), url);
		fprintf(say, "%s: as_token %s\n", c->as_token_file, as_made ? "made (0600)" : "kept");
		fprintf(say, "%s: hs_token %s\n", c->hs_token_file, hs_made ? "made (0600)" : "kept");
		fprintf(say, "the homeserver reads it; with Synapse, in homeserver.yaml:\n"
		       "  app_service_config_files:\n    - %s\n"
		       "then restart Synapse. The matching [matrix] keys of this configuration:\n"
		       "  mode = appservice\n  as_token_file = %s\n  hs_token_file = %s\n  listen = %s\n",
		       file, c->as_token_file, c->hs_token_file, pbb_as_listen(c));
	}
	pb_secret_free(as);
	pb_secret_free(hs);
	pb_buf_dispose(&y);
	return rc;
}

/* --- receiving: token, transactions -------------------------------------------------- */

int pbb_as_auth(const char *hs_token, const char *authorization, const char *query)
{
	const char *presented = NULL;
	char from_query[512];
	if (authorization && strncmp(authorization, "Bearer ", 7) == 0) {
		presented = authorization + 7;
	} else if (query) {
		/* the legacy ?access_token= (Synapse 1.67 sends it so) */
		for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
			if (strncmp(p, "access_token=", 13) == 0) {
				size_t n = strcspn(p + 13, "&");
				if (n >= sizeof(from_query))
					n = sizeof(from_query) - 1;
				memcpy(from_query, p + 13, n);
				from_query[n] = '\0';
				presented = from_query;
				break;
			}
		}
	}
	if (!presented)
		return 401;
	return pb_secret_equal(presented, hs_token) ? 0 : 403;
}

static int add_event(json_t *rooms, const char *section, const char *room, const char *list, json_t *ev)
{
	json_t *sec = json_object_get(rooms, section);
	if (!sec) {
		sec = json_object();
		if (!sec || json_object_set_new(rooms, section, sec) < 0)
			return PB_ENOMEM;
	}
	json_t *r = json_object_get(sec, room);
	if (!r) {
		r = json_pack("{s:{s:[]}}", list, "events");
		if (!r || json_object_set_new(sec, room, r) < 0)
			return PB_ENOMEM;
	}
	json_t *arr = json_object_get(json_object_get(r, list), "events");
	return json_array_append(arr, ev) < 0 ? PB_ENOMEM : 0;
}

int pbb_as_txn_parse(const uint8_t *buf, size_t len, const char *bot, pb_buf *out, size_t *count,
		     pb_parse_error *perr)
{
	*count = 0;
	json_error_t je;
	json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je), *events;
	int rc = 0;
	if (!root) {
		size_t at = je.position > 0 ? (size_t)je.position : 0;
		rc = pb_error_set(PB_EMALFORMED, "transaction: not JSON at byte %zu: %s", at, je.text);
		if (perr) {
			perr->offset = at;
			snprintf(perr->text, sizeof(perr->text), "not JSON: %.140s", je.text);
		}
		return rc;
	}
	if (!json_is_object(root) || !json_is_array(events = json_object_get(root, "events"))) {
		json_decref(root);
		if (perr) {
			perr->offset = 0;
			snprintf(perr->text, sizeof(perr->text), "no \"events\" array");
		}
		return pb_error_set(PB_EMALFORMED, "transaction: no \"events\" array");
	}
	json_t *sync = json_pack("{s:s, s:{}}", "next_batch", "appservice", "rooms");
	json_t *rooms = json_object_get(sync, "rooms");
	if (!rooms)
		rc = PB_ENOMEM;
	size_t i;
	json_t *ev;
	json_array_foreach(events, i, ev) {
		if (rc < 0)
			break;
		const char *type = json_string_value(json_object_get(ev, "type"));
		const char *room = json_string_value(json_object_get(ev, "room_id"));
		if (!type || !room || !room[0]) {
			rc = pb_error_set(PB_EMALFORMED, "transaction: events[%zu]: no type or room_id", i);
			if (perr) {
				perr->offset = 0;
				snprintf(perr->text, sizeof(perr->text), "events[%zu]: no type or room_id", i);
			}
			break;
		}
		const char *sk = json_string_value(json_object_get(ev, "state_key"));
		const char *ms = json_string_value(json_object_get(json_object_get(ev, "content"), "membership"));
		bool invite = !strcmp(type, "m.room.member") && sk && bot && !strcmp(sk, bot) && ms &&
			      !strcmp(ms, "invite");
		/* an invite of the bot is what /sync gives under rooms.invite */
		rc = invite ? add_event(rooms, "invite", room, "invite_state", ev)
			    : add_event(rooms, "join", room, "timeline", ev);
		if (rc < 0)
			break;
		(*count)++;
	}
	if (rc == 0) {
		char *s = json_dumps(sync, JSON_COMPACT);
		rc = s && pb_buf_puts(out, s) == 0 ? 0 : PB_ENOMEM;
		free(s);
	}
	json_decref(sync);
	json_decref(root);
	return rc;
}

static int kv_int(pb_store *st, const char *key, int64_t *v)
{
	char *s = NULL;
	int rc = pb_store_kv_get(st, key, &s);
	*v = 0;
	if (rc == PB_ENOTFOUND)
		return 0;
	if (rc == 0)
		*v = strtoll(s, NULL, 10);
	pb_free(s);
	return rc;
}

static int kv_set_int(pb_store *st, const char *key, int64_t v)
{
	char s[32];
	snprintf(s, sizeof(s), "%" PRId64, v);
	return pb_store_kv_set(st, key, s);
}

int pbb_as_txn_journal(pb_store *st, const char *txn_id, const char *sync_json)
{
	char key[600], *seen = NULL;
	if (!txn_id[0] || strlen(txn_id) > 255)
		return pb_error_set(PB_EINVAL, "transaction id empty or over 255 bytes");
	snprintf(key, sizeof(key), TXN_SEEN "%s", txn_id);
	int rc = pb_store_begin(st);
	if (rc < 0)
		return rc;
	rc = pb_store_kv_get(st, key, &seen);
	pb_free(seen);
	if (rc == 0) {
		pb_store_rollback(st);
		return PB_EEXISTS; /* redelivered: handled already */
	}
	int64_t tail = 0;
	char item[64];
	if (rc == PB_ENOTFOUND)
		rc = kv_int(st, QUEUE_TAIL, &tail);
	snprintf(item, sizeof(item), QUEUE_ITEM "%" PRId64, tail);
	if (rc == 0)
		rc = pb_store_kv_set(st, item, sync_json);
	if (rc == 0)
		rc = kv_set_int(st, QUEUE_TAIL, tail + 1);
	if (rc == 0)
		rc = kv_set_int(st, key, tail);
	char by_seq[64], *old = NULL;
	snprintf(by_seq, sizeof(by_seq), TXN_BY_SEQ "%" PRId64, tail);
	if (rc == 0)
		rc = pb_store_kv_set(st, by_seq, txn_id);
	/* forget the id kept TXN_REMEMBERED transactions ago */
	snprintf(by_seq, sizeof(by_seq), TXN_BY_SEQ "%" PRId64, tail - TXN_REMEMBERED);
	int orc = rc == 0 && tail >= TXN_REMEMBERED ? pb_store_kv_get(st, by_seq, &old) : PB_ENOTFOUND;
	if (orc == 0) {
		snprintf(key, sizeof(key), TXN_SEEN "%s", old);
		rc = pb_store_kv_delete(st, key);
		if (rc == 0 || rc == PB_ENOTFOUND)
			rc = pb_store_kv_delete(st, by_seq);
	} else if (orc != PB_ENOTFOUND) {
		rc = orc;
	}
	pb_free(old);
	if (rc < 0) {
		pb_store_rollback(st);
		return rc;
	}
	return pb_store_commit(st);
}

int pbb_as_queue_next(pb_store *st, int64_t *seq, char **json)
{
	int64_t head = 0, tail = 0;
	int rc = kv_int(st, QUEUE_HEAD, &head);
	if (rc == 0)
		rc = kv_int(st, QUEUE_TAIL, &tail);
	if (rc < 0)
		return rc;
	if (head >= tail)
		return PB_ENOTFOUND;
	char item[64];
	snprintf(item, sizeof(item), QUEUE_ITEM "%" PRId64, head);
	*seq = head;
	return pb_store_kv_get(st, item, json);
}

int pbb_as_queue_done(pb_store *st, int64_t seq)
{
	char item[64];
	snprintf(item, sizeof(item), QUEUE_ITEM "%" PRId64, seq);
	int rc = pb_store_begin(st);
	if (rc < 0)
		return rc;
	rc = pb_store_kv_delete(st, item);
	if (rc == 0 || rc == PB_ENOTFOUND)
		rc = kv_set_int(st, QUEUE_HEAD, seq + 1);
	if (rc < 0) {
		pb_store_rollback(st);
		return rc;
	}
	return pb_store_commit(st);
}

/* --- the listener's routes ------------------------------------------------------------- */

struct pbb_as_ctx {
	const pbb_config *cfg;
	char *hs_token;
	pb_store *st;     /* the listener thread's */
	pb_matrix *mx;    /* as the bot, for GET /users (made on first use) */
	char bot[256];
	void (*wake)(void *);
	void *wake_ud;
};

int pbb_as_ctx_new(pbb_as_ctx **out, const pbb_config *cfg, pb_store *st, void (*wake)(void *), void *ud)
{
	pbb_as_ctx *x = pb_calloc(1, sizeof(*x));
	if (!x)
		return PB_ENOMEM;
	x->cfg = cfg;
	x->st = st;
	x->wake = wake;
	x->wake_ud = ud;
	int rc = pb_secret_read(cfg->hs_token_file, &x->hs_token);
	if (rc == 0)
		rc = pbb_as_bot_id(cfg, x->bot, sizeof(x->bot));
	if (rc < 0) {
		pbb_as_ctx_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

void pbb_as_ctx_free(pbb_as_ctx *x)
{
	if (!x)
		return;
	pb_secret_free(x->hs_token);
	pb_matrix_free(x->mx);
	pb_free(x);
}

static int answer(pb_listener_request *req, unsigned status, const char *errcode, const char *error)
{
	char body[512];
	if (errcode)
		snprintf(body, sizeof(body), "{\"errcode\":\"%s\",\"error\":\"%s\"}", errcode, error);
	else
		snprintf(body, sizeof(body), "{}");
	return pb_listener_respond(req, status, "application/json", body, strlen(body));
}

/* the hs_token check of every route: 0 when the request may go on */
static int authorised(pbb_as_ctx *x, pb_listener_request *req)
{
	int st = pbb_as_auth(x->hs_token, pb_listener_request_header(req, "Authorization"),
			     pb_listener_request_query(req));
	if (st == 401)
		answer(req, 401, "M_UNAUTHORIZED", "no hs_token");
	else if (st == 403)
		answer(req, 403, "M_FORBIDDEN", "wrong hs_token");
	if (st)
		pbb_log(PB_LOG_WARNING, "appservice: %s %s refused (%d)", pb_listener_request_method(req),
			pb_listener_request_path(req), st);
	return st;
}

/* The last path segment, percent-decoded into @out; NULL when empty or bad. */
static const char *last_segment(const char *path, char *out, size_t size)
{
	const char *s = strrchr(path, '/');
	if (!s || !s[1])
		return NULL;
	size_t n = 0;
	for (s++; *s; s++) {
		unsigned v;
		char c = *s;
		if (c == '%') {
			if (sscanf(s + 1, "%2x", &v) != 1 || !s[1] || !s[2] || v == 0)
				return NULL;
			c = (char)v;
			s += 2;
		}
		if (n + 1 >= size)
			return NULL;
		out[n++] = c;
	}
	out[n] = '\0';
	return out;
}

/* For the tests (tests/bridge-appservice-test.py): with
 * PBB_TEST_AS_KILL_AFTER_JOURNAL=FILE, the first transaction holding a
 * message kills the daemon after it is journaled, before its 200 (FILE is
 * made first, so it happens once): the homeserver sends it again. */
static void test_kill(const char *sync_json)
{
	const char *flag = getenv("PBB_TEST_AS_KILL_AFTER_JOURNAL");
	if (!flag || !*flag || !strstr(sync_json, "\"m.room.message\""))
		return;
	FILE *f = fopen(flag, "wx");
	if (!f)
		return;
	fclose(f);
	pbb_log(PB_LOG_WARNING, "test: killed after journaling a transaction, before answering it");
	raise(SIGKILL);
}

static int on_transaction(pb_listener_request *req, void *ud)
{
	pbb_as_ctx *x = ud;
	if (authorised(x, req))
		return 0;
	char txn[300];
	if (!last_segment(pb_listener_request_path(req), txn, sizeof(txn)))
		return answer(req, 400, "M_INVALID_PARAM", "no transaction id");
	size_t len, n;
	const uint8_t *body = pb_listener_request_body(req, &len);
	pb_buf sync = PB_BUF_INIT;
	int rc = pbb_as_txn_parse(body, len, x->bot, &sync, &n, NULL);
	if (rc == PB_EMALFORMED) {
		pbb_log(PB_LOG_WARNING, "appservice: transaction %s: %s", txn, pb_error_last()->message);
		pb_buf_dispose(&sync);
		return answer(req, 400, "M_BAD_JSON", "not a transaction");
	}
	if (rc == 0)
		rc = pbb_as_txn_journal(x->st, txn, pb_buf_cstr(&sync));
	if (rc == 0)
		test_kill(pb_buf_cstr(&sync));
	pb_buf_dispose(&sync);
	if (rc == PB_EEXISTS) {
		pbb_log(PB_LOG_INFO, "appservice: transaction %s again: done before", txn);
		return answer(req, 200, NULL, NULL);
	}
	if (rc < 0) {
		/* not kept: the homeserver sends it again */
		pbb_log(PB_LOG_ERROR, "appservice: transaction %s: %s", txn, pb_error_last()->message);
		return answer(req, 500, "M_UNKNOWN", "cannot journal the transaction");
	}
	pbb_log(PB_LOG_DEBUG, "appservice: transaction %s: %zu event(s) journaled", txn, n);
	if (x->wake)
		x->wake(x->wake_ud);
	return answer(req, 200, NULL, NULL);
}

static int on_user(pb_listener_request *req, void *ud)
{
	pbb_as_ctx *x = ud;
	if (authorised(x, req))
		return 0;
	char uid[300], number[PB_PHONE_MAX], puppet[300];
	if (!last_segment(pb_listener_request_path(req), uid, sizeof(uid)) ||
	    pbb_puppet_number(x->cfg, pbb_as_server(x->cfg, x->bot), uid, number, sizeof(number)) != 0)
		return answer(req, 404, "M_NOT_FOUND", "not a user of this bridge");
	if (!x->mx) {
		pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
		o.homeserver = x->cfg->homeserver;
		o.access_token_file = x->cfg->as_token_file;
		/* on the listener's thread: a slow homeserver must not hold the
		 * transactions behind this request for long */
		o.retry.attempts = 2;
		o.request_timeout_ms = 10000;
		if (pb_matrix_new(&x->mx, &o) < 0)
			return answer(req, 500, "M_UNKNOWN", "no homeserver client");
	}
	/* the homeserver asks before it lets anyone invite the user: make it */
	int rc = pbb_puppet_ensure(x->cfg, x->st, x->mx, NULL, number, puppet, sizeof(puppet));
	if (rc < 0) {
		pbb_log(PB_LOG_WARNING, "appservice: user %s: %s", uid, pb_error_last()->message);
		return answer(req, 500, "M_UNKNOWN", "cannot register the user");
	}
	return answer(req, 200, NULL, NULL);
}

static int on_room(pb_listener_request *req, void *ud)
{
	if (authorised(ud, req))
		return 0;
	/* the registration claims no alias namespace */
	return answer(req, 404, "M_NOT_FOUND", "no such alias here");
}

static int on_ping(pb_listener_request *req, void *ud)
{
	if (authorised(ud, req))
		return 0;
	return answer(req, 200, NULL, NULL);
}

int pbb_as_routes(pb_listener *l, pbb_as_ctx *x)
{
	static const struct {
		const char *method, *path;
		pb_listener_handler fn;
	} routes[] = {
		{ "PUT", "/_matrix/app/v1/transactions/*", on_transaction },
		{ "GET", "/_matrix/app/v1/users/*", on_user },
		{ "GET", "/_matrix/app/v1/rooms/*", on_room },
		{ "POST", "/_matrix/app/v1/ping", on_ping },
		/* the legacy unprefixed paths (homeservers before spec 1.1) */
		{ "PUT", "/transactions/*", on_transaction },
		{ "GET", "/users/*", on_user },
		{ "GET", "/rooms/*", on_room },
	};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		int rc = pb_listener_route(l, routes[i].method, routes[i].path, routes[i].fn, x);
		if (rc < 0)
			return rc;
	}
	return 0;
}
