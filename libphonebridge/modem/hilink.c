/*
 * libphonebridge — modem backend for Huawei HiLink routers and sticks
 * (B315, B525, E3372h, E5785, ...) over their HTTP/XML API.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Session: a SessionID cookie and single-use CSRF tokens. Tokens come from
 * /api/webserver/SesTokInfo (or /api/webserver/token, or the csrf_token meta
 * tags of the home page) and from reply headers; each POST spends one. When
 * the router says 125001/125002/125003 the session is refreshed and the
 * request retried once; 100003 (login required) logs in and retries once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "modem-internal.h"

#define DOMAIN "hilink"
#define MAX_TOKENS 32
#define PAGE 50
#define MAX_PAGES 100

typedef struct hilink {
	pb_modem_http *http;
	char *base;
	char *user;
	char *password;
	char login[16];
	char *cookie;              /* "SessionID=..." */
	char *tokens[MAX_TOKENS];  /* queue, oldest first */
	size_t ntokens;
	uint64_t count_sig;        /* last sms-count seen (hash); 0 = none yet */
	pb_buf bad_body;           /* the last reply that was not XML at all */
	int timeout_ms;
} hilink;

/* --- session and tokens -------------------------------------------------- */

static void tokens_clear(hilink *h)
{
	for (size_t i = 0; i < h->ntokens; i++)
		pb_free(h->tokens[i]);
	h->ntokens = 0;
}

static int token_push(hilink *h, const char *t, size_t len)
{
	while (len > 0 && (*t == ' ' || *t == '\t')) {
		t++;
		len--;
	}
	if (len == 0 || len > 256)
		return 0;
	if (h->ntokens == MAX_TOKENS) {
		pb_free(h->tokens[0]);
		memmove(h->tokens, h->tokens + 1, (MAX_TOKENS - 1) * sizeof(h->tokens[0]));
		h->ntokens--;
	}
	char *c = pb_strndup(t, len);
	if (!c)
		return PB_ENOMEM;
	h->tokens[h->ntokens++] = c;
	return 0;
}

/* Tokens joined by '#' (some firmware hands out several at once). */
static int token_push_list(hilink *h, const char *list)
{
	while (*list) {
		const char *e = strchr(list, '#');
		size_t n = e ? (size_t)(e - list) : strlen(list);
		int rc = token_push(h, list, n);
		if (rc < 0)
			return rc;
		list += n + (e ? 1 : 0);
	}
	return 0;
}

static char *token_pop(hilink *h)
{
	if (h->ntokens == 0)
		return NULL;
	char *t = h->tokens[0];
	memmove(h->tokens, h->tokens + 1, (h->ntokens - 1) * sizeof(h->tokens[0]));
	h->ntokens--;
	return t;
}

static int set_cookie(hilink *h, const char *v, size_t n)
{
	char *c = pb_strndup(v, n);
	if (!c)
		return PB_ENOMEM;
	pb_free(h->cookie);
	h->cookie = c;
	return 0;
}

/* Take what the reply's headers carry: a new session cookie and tokens. */
static int harvest(hilink *h, const pb_modem_http_reply *r)
{
	int rc = 0;
	char *sc = pb_modem__http_header(r, "Set-Cookie");
	if (sc) {
		char *p = strstr(sc, "SessionID=");
		if (p)
			rc = set_cookie(h, p, strcspn(p, ";"));
		pb_free(sc);
		if (rc < 0)
			return rc;
	}
	char *one = pb_modem__http_header(r, "__RequestVerificationTokenone");
	char *two = pb_modem__http_header(r, "__RequestVerificationTokentwo");
	char *plain = pb_modem__http_header(r, "__RequestVerificationToken");
	if (one || two)
		tokens_clear(h); /* after a login, only the new pair is good */
	if (one)
		rc = token_push_list(h, one);
	if (rc == 0 && two)
		rc = token_push_list(h, two);
	if (rc == 0 && plain)
		rc = token_push_list(h, plain);
	pb_free(one);
	pb_free(two);
	pb_free(plain);
	return rc;
}

static int do_http(hilink *h, const char *method, const char *path, const char *token, const char *body,
		   pb_modem_http_reply *r)
{
	pb_buf url = PB_BUF_INIT, cookie = PB_BUF_INIT, tok = PB_BUF_INIT;
	const char *hdrs[6];
	size_t nh = 0;
	int rc;
	if ((rc = pb_buf_printf(&url, "%s%s", h->base, path)) < 0)
		goto out;
	if (h->cookie) {
		if ((rc = pb_buf_printf(&cookie, "Cookie: %s", h->cookie)) < 0)
			goto out;
		hdrs[nh++] = pb_buf_cstr(&cookie);
	}
	if (token) {
		if ((rc = pb_buf_printf(&tok, "__RequestVerificationToken: %s", token)) < 0)
			goto out;
		hdrs[nh++] = pb_buf_cstr(&tok);
	}
	hdrs[nh++] = "X-Requested-With: XMLHttpRequest";
	if (body)
		hdrs[nh++] = "Content-Type: application/x-www-form-urlencoded; charset=UTF-8";
	hdrs[nh] = NULL;
	rc = pb_modem__http_request(h->http, method, pb_buf_cstr(&url), hdrs, body, body ? strlen(body) : 0, r);
	if (rc == 0)
		rc = harvest(h, r);
	if (rc == 0 && r->status != 200)
		rc = pb_error_set(r->status == 404 ? PB_EUNSUPPORTED : PB_EPROTO, "%s %s: HTTP status %ld", method,
				  path, r->status);
out:
	pb_buf_dispose(&url);
	pb_buf_dispose(&cookie);
	pb_buf_dispose(&tok);
	return rc;
}

/* Parse a reply; a router error becomes *code (the document is still returned). */
static int parse_reply(const pb_modem_http_reply *r, const char *path, pb_hilink_doc **doc, long *code)
{
	bool recovered = false;
	pb_parse_error perr;
	int rc = pb_modem__hilink_parse(doc, r->body.data, r->body.len, &recovered, &perr);
	if (rc < 0)
		return pb_error_set(rc, "%s: offset %zu: %s", path, perr.offset, perr.text);
	if (recovered)
		pb_log_warning(DOMAIN, "%s: the router's XML was broken; read what could be read", path);
	*code = pb_modem__hilink_doc_error(*doc);
	return 0;
}

/* A fresh session cookie and token: SesTokInfo, else token, else the home page. */
static int refresh_session(hilink *h)
{
	pb_modem_http_reply r = { 0 };
	pb_hilink_doc *doc = NULL;
	long code = 0;
	tokens_clear(h);
	int rc = do_http(h, "GET", "/api/webserver/SesTokInfo", NULL, NULL, &r);
	if (rc == 0 && (rc = parse_reply(&r, "SesTokInfo", &doc, &code)) == 0 && code == 0) {
		char *ses = pb_modem__hilink_doc_get(doc, "SesInfo");
		char *tok = pb_modem__hilink_doc_get(doc, "TokInfo");
		if (ses && *ses)
			rc = set_cookie(h, ses, strlen(ses));
		if (rc == 0 && tok && *tok)
			rc = token_push(h, tok, strlen(tok));
		pb_free(ses);
		pb_free(tok);
		if (rc < 0 || h->ntokens > 0)
			goto out;
	}
	pb_modem__hilink_doc_free(doc);
	doc = NULL;
	if (rc == PB_ENOMEM || rc == PB_EIO || rc == PB_ETIMEOUT)
		goto out;
	rc = do_http(h, "GET", "/api/webserver/token", NULL, NULL, &r);
	if (rc == 0 && (rc = parse_reply(&r, "token", &doc, &code)) == 0 && code == 0) {
		char *tok = pb_modem__hilink_doc_get(doc, "token");
		if (tok && *tok) {
			size_t n = strlen(tok);
			/* some firmware prefixes the token with 32 other characters */
			rc = n > 32 ? token_push(h, tok + n - 32, 32) : token_push(h, tok, n);
		}
		pb_free(tok);
		if (rc < 0 || h->ntokens > 0)
			goto out;
	}
	if (rc == PB_ENOMEM || rc == PB_EIO || rc == PB_ETIMEOUT)
		goto out;
	rc = do_http(h, "GET", "/", NULL, NULL, &r);
	if (rc == 0) {
		const char *p = pb_buf_cstr(&r.body);
		while ((p = strstr(p, "name=\"csrf_token\"")) != NULL) {
			const char *c = strstr(p, "content=\"");
			if (!c)
				break;
			c += 9;
			const char *e = strchr(c, '"');
			if (!e)
				break;
			if ((rc = token_push(h, c, (size_t)(e - c))) < 0)
				goto out;
			p = e;
		}
		if (h->ntokens == 0)
			rc = pb_error_set(PB_EPROTO, "router gave no session token (SesTokInfo, token, csrf_token)");
	}
out:
	pb_modem__hilink_doc_free(doc);
	pb_modem__http_reply_dispose(&r);
	return rc;
}

static int login(hilink *h);

static bool is_token_error(long code) { return code == 125001 || code == 125002 || code == 125003; }

/*
 * One API call. @body NULL for GET. On success *doc is the reply (never an
 * <error>). Token errors refresh the session and retry once; "login
 * required" logs in and retries once.
 */
static int call(hilink *h, const char *path, const char *body, pb_hilink_doc **doc, bool may_login)
{
	*doc = NULL;
	pb_modem_http_reply r = { 0 };
	int rc = 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		char *token = NULL;
		if (body) {
			if (h->ntokens == 0 && (rc = refresh_session(h)) < 0)
				break;
			token = token_pop(h);
		}
		rc = do_http(h, body ? "POST" : "GET", path, token, body, &r);
		pb_free(token);
		long code = 0;
		if (rc == 0)
			rc = parse_reply(&r, path, doc, &code);
		if (rc == PB_EMALFORMED) {
			pb_buf_clear(&h->bad_body);
			if (pb_buf_put(&h->bad_body, r.body.data, r.body.len) < 0)
				rc = PB_ENOMEM;
		}
		if (rc < 0 || code == 0)
			break;
		pb_modem__hilink_doc_free(*doc);
		*doc = NULL;
		if (is_token_error(code) && attempt == 0) {
			pb_log_info(DOMAIN, "%s: router error %ld; new session token, retrying", path, code);
			if ((rc = refresh_session(h)) < 0)
				break;
			continue;
		}
		if (code == 100003 && may_login && h->password && attempt < 2) {
			pb_log_info(DOMAIN, "%s: login required; logging in", path);
			if ((rc = login(h)) < 0)
				break;
			continue;
		}
		rc = pb_modem__hilink_error(code, path);
		break;
	}
	pb_modem__http_reply_dispose(&r);
	return rc;
}

static int call_ok(hilink *h, const char *path, const char *body)
{
	pb_hilink_doc *doc;
	int rc = call(h, path, body, &doc, true);
	if (rc == 0 && !pb_modem__hilink_doc_ok(doc))
		pb_log_debug(DOMAIN, "%s: reply was not <response>OK</response>", path);
	pb_modem__hilink_doc_free(doc);
	return rc;
}

static int xml_escape(pb_buf *b, const char *s)
{
	for (; *s; s++) {
		int rc;
		switch (*s) {
		case '&': rc = pb_buf_puts(b, "&amp;"); break;
		case '<': rc = pb_buf_puts(b, "&lt;"); break;
		case '>': rc = pb_buf_puts(b, "&gt;"); break;
		case '"': rc = pb_buf_puts(b, "&quot;"); break;
		case '\'': rc = pb_buf_puts(b, "&apos;"); break;
		default: rc = pb_buf_putc(b, (uint8_t)*s); break;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

#define XML_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request>"

/* --- login ---------------------------------------------------------------- */

static int login_scram(hilink *h)
{
	char nonce[65];
	pb_buf body = PB_BUF_INIT, proof = PB_BUF_INIT;
	pb_hilink_doc *doc = NULL;
	char *snonce = NULL, *salt = NULL, *iter = NULL;
	int rc = pb_modem__random_hex(nonce);
	if (rc < 0)
		return rc;
	if ((rc = pb_buf_puts(&body, XML_HEAD "<username>")) < 0 || (rc = xml_escape(&body, h->user)) < 0 ||
	    (rc = pb_buf_printf(&body, "</username><firstnonce>%s</firstnonce><mode>1</mode></request>", nonce)) < 0)
		goto out;
	if ((rc = call(h, "/api/user/challenge_login", pb_buf_cstr(&body), &doc, false)) < 0)
		goto out;
	snonce = pb_modem__hilink_doc_get(doc, "servernonce");
	salt = pb_modem__hilink_doc_get(doc, "salt");
	iter = pb_modem__hilink_doc_get(doc, "iterations");
	if (!snonce || !salt || !iter) {
		rc = pb_error_set(PB_EPROTO, "challenge_login: reply without servernonce, salt or iterations");
		goto out;
	}
	rc = pb_modem__hilink_scram_proof(&proof, h->password, salt, (unsigned)strtoul(iter, NULL, 10), nonce, snonce);
	if (rc < 0)
		goto out;
	pb_buf_clear(&body);
	if ((rc = pb_buf_printf(&body, XML_HEAD "<clientproof>%s</clientproof><finalnonce>", pb_buf_cstr(&proof))) < 0 ||
	    (rc = xml_escape(&body, snonce)) < 0 || (rc = pb_buf_puts(&body, "</finalnonce></request>")) < 0)
		goto out;
	pb_modem__hilink_doc_free(doc);
	doc = NULL;
	rc = call(h, "/api/user/authentication_login", pb_buf_cstr(&body), &doc, false);
out:
	pb_free(snonce);
	pb_free(salt);
	pb_free(iter);
	pb_modem__hilink_doc_free(doc);
	pb_buf_dispose(&body);
	pb_buf_dispose(&proof);
	return rc;
}

static int login_plain(hilink *h, int type)
{
	pb_buf body = PB_BUF_INIT, pw = PB_BUF_INIT;
	int rc = 0;
	if (type == 4) {
		/* a fresh token: the password is bound to the one the request spends */
		if ((rc = refresh_session(h)) < 0)
			goto out;
		rc = pb_modem__hilink_type4(&pw, h->user, h->password, h->tokens[0]);
	} else {
		rc = pb_base64_encode(&pw, h->password, strlen(h->password), 0);
	}
	if (rc < 0)
		goto out;
	if ((rc = pb_buf_puts(&body, XML_HEAD "<Username>")) < 0 || (rc = xml_escape(&body, h->user)) < 0 ||
	    (rc = pb_buf_printf(&body, "</Username><Password>%s</Password><password_type>%d</password_type></request>",
				pb_buf_cstr(&pw), type)) < 0)
		goto out;
	pb_hilink_doc *doc = NULL;
	rc = call(h, "/api/user/login", pb_buf_cstr(&body), &doc, false);
	pb_modem__hilink_doc_free(doc);
out:
	if (pw.data)
		memset(pw.data, 0, pw.len);
	if (body.data)
		memset(body.data, 0, body.len);
	pb_buf_dispose(&pw);
	pb_buf_dispose(&body);
	return rc;
}

static int login(hilink *h)
{
	if (strcmp(h->login, "none") == 0 || !h->password)
		return pb_error_set(PB_EAUTH, "the router wants a login: give a user and a password file");
	if (strcmp(h->login, "scram") == 0)
		return login_scram(h);
	if (strcmp(h->login, "type4") == 0)
		return login_plain(h, 4);
	if (strcmp(h->login, "base64") == 0)
		return login_plain(h, 0);
	pb_hilink_doc *doc;
	int rc = call(h, "/api/user/state-login", NULL, &doc, false);
	if (rc < 0)
		return rc;
	char *state = pb_modem__hilink_doc_get(doc, "State");
	char *ptype = pb_modem__hilink_doc_get(doc, "password_type");
	pb_modem__hilink_doc_free(doc);
	bool logged_in = state && strcmp(state, "0") == 0;
	int type = ptype ? atoi(ptype) : 0;
	pb_free(state);
	pb_free(ptype);
	if (logged_in)
		return 0;
	rc = login_plain(h, type);
	if (rc == PB_EUNSUPPORTED) {
		/* firmware without user/login speaks SCRAM */
		pb_log_info(DOMAIN, "user/login not supported; trying the SCRAM login");
		rc = login_scram(h);
	}
	return rc;
}

/* --- ops --------------------------------------------------------------------- */

static void hl_close(void *state)
{
	hilink *h = state;
	if (!h)
		return;
	pb_modem__http_free(h->http);
	tokens_clear(h);
	pb_free(h->base);
	pb_free(h->user);
	pb_secret_free(h->password);
	pb_free(h->cookie);
	pb_buf_dispose(&h->bad_body);
	pb_free(h);
}

static int hl_open(void **state, const pb_modem_options *opts, const pb_modem_secrets *sec)
{
	*state = NULL;
	const char *url = opts->url ? opts->url : "http://192.168.8.1";
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return pb_error_set(PB_EINVAL, "hilink: URL must start with http:// or https://: %s", url);
	const char *mode = opts->login ? opts->login : "auto";
	if (strcmp(mode, "auto") && strcmp(mode, "type4") && strcmp(mode, "base64") && strcmp(mode, "scram") &&
	    strcmp(mode, "none"))
		return pb_error_set(PB_EINVAL, "hilink: unknown login \"%s\" (auto, type4, base64, scram, none)", mode);
	hilink *h = pb_calloc(1, sizeof(*h));
	if (!h)
		return PB_ENOMEM;
	int rc = pb_modem__http_new(&h->http, opts);
	if (rc < 0)
		goto fail;
	pb_strlcpy(h->login, mode, sizeof(h->login));
	h->timeout_ms = opts->timeout_ms ? (int)opts->timeout_ms : 10000;
	size_t ul = strlen(url);
	while (ul > 0 && url[ul - 1] == '/')
		ul--;
	rc = PB_ENOMEM;
	if (!(h->base = pb_strndup(url, ul)) || !(h->user = pb_strdup(opts->username ? opts->username : "admin")))
		goto fail;
	if (sec->password && !(h->password = pb_strdup(sec->password)))
		goto fail;
	if ((rc = refresh_session(h)) < 0)
		goto fail;
	if (h->password && strcmp(h->login, "none") != 0 && (rc = login(h)) < 0)
		goto fail;
	*state = h;
	return 0;
fail:
	hl_close(h);
	return rc;
}

static void copy_field(char *dst, size_t size, const char *src)
{
	if (src)
		pb_strlcpy(dst, src, size);
}

static const char *net_type_name(long t, bool ex)
{
	if (ex) {
		if (t == 1 || t == 2 || t == 3) return "GSM";
		if (t >= 41 && t <= 65) return "UMTS";
		if (t >= 101 && t <= 1019) return "LTE";
		if (t >= 111 && t <= 112) return "NR";
		return "";
	}
	if (t >= 1 && t <= 3) return "GSM";
	if (t >= 4 && t <= 18) return "UMTS";
	if (t == 19) return "LTE";
	if (t >= 20) return "NR";
	return "";
}

static int hl_status(void *state, pb_modem_status *st)
{
	hilink *h = state;
	pb_hilink_doc *doc;
	int rc = call(h, "/api/monitoring/status", NULL, &doc, true);
	if (rc < 0)
		return rc;
	char *icon = pb_modem__hilink_doc_get(doc, "SignalIcon");
	char *maxs = pb_modem__hilink_doc_get(doc, "maxsignal");
	char *nt = pb_modem__hilink_doc_get(doc, "CurrentNetworkTypeEx");
	char *nt_old = pb_modem__hilink_doc_get(doc, "CurrentNetworkType");
	char *sim = pb_modem__hilink_doc_get(doc, "SimStatus");
	char *svc = pb_modem__hilink_doc_get(doc, "ServiceStatus");
	char *roam = pb_modem__hilink_doc_get(doc, "RoamingStatus");
	pb_modem__hilink_doc_free(doc);
	int mx = maxs && atoi(maxs) > 0 ? atoi(maxs) : 5;
	if (icon && *icon)
		st->signal_percent = PB_MAX(0, PB_MIN(100, atoi(icon) * 100 / mx));
	if (nt && *nt && atol(nt) > 0)
		copy_field(st->network_type, sizeof(st->network_type), net_type_name(atol(nt), true));
	else if (nt_old && *nt_old)
		copy_field(st->network_type, sizeof(st->network_type), net_type_name(atol(nt_old), false));
	if (sim && *sim) {
		int s = atoi(sim);
		st->sim = s == 1 ? PB_MODEM_SIM_READY : s == 255 ? PB_MODEM_SIM_ABSENT : s == 0 ? PB_MODEM_SIM_ERROR
			: PB_MODEM_SIM_UNKNOWN;
	}
	if (svc && *svc)
		st->registration = atoi(svc) == 2 ? (roam && atoi(roam) == 1 ? PB_MODEM_REG_ROAMING : PB_MODEM_REG_HOME)
						  : PB_MODEM_REG_SEARCHING;
	pb_free(icon);
	pb_free(maxs);
	pb_free(nt);
	pb_free(nt_old);
	pb_free(sim);
	pb_free(svc);
	pb_free(roam);
	/* the rest is best effort: not every firmware has these */
	if (call(h, "/api/net/current-plmn", NULL, &doc, true) == 0) {
		char *name = pb_modem__hilink_doc_get(doc, "FullName");
		if (!name || !*name) {
			pb_free(name);
			name = pb_modem__hilink_doc_get(doc, "ShortName");
		}
		copy_field(st->operator_name, sizeof(st->operator_name), name);
		pb_free(name);
		pb_modem__hilink_doc_free(doc);
	}
	if (call(h, "/api/device/signal", NULL, &doc, true) == 0) {
		char *rssi = pb_modem__hilink_doc_get(doc, "rssi");
		if (rssi && (rssi[0] == '-' || (rssi[0] >= '0' && rssi[0] <= '9'))) {
			const char *p = rssi[0] == '>' || rssi[0] == '<' ? rssi + 1 : rssi;
			st->signal_dbm = atoi(p);
		}
		pb_free(rssi);
		pb_modem__hilink_doc_free(doc);
	}
	pb_error_clear();
	return 0;
}

static int hl_list(void *state, int box, pb_modem_msg_list *out)
{
	hilink *h = state;
	pb_buf body = PB_BUF_INIT;
	int rc = 0;
	for (int page = 1; page <= MAX_PAGES; page++) {
		pb_buf_clear(&body);
		/* field order matters to some firmware */
		if ((rc = pb_buf_printf(&body, XML_HEAD "<PageIndex>%d</PageIndex><ReadCount>%d</ReadCount>"
					"<BoxType>%d</BoxType><SortType>0</SortType><Ascending>0</Ascending>"
					"<UnreadPreferred>0</UnreadPreferred></request>", page, PAGE, box)) < 0)
			break;
		pb_hilink_doc *doc;
		size_t before = out->count;
		rc = call(h, "/api/sms/sms-list", pb_buf_cstr(&body), &doc, true);
		if (rc == PB_EMALFORMED) {
			/* not even recoverable: report the page's bytes, keep what we have */
			pb_log_warning(DOMAIN, "sms-list page %d unreadable: %s", page, pb_error_last()->message);
			pb_modem_msg g = { .type = PB_MODEM_MSG_GARBLED, .state = PB_MODEM_STATE_UNKNOWN, .box_type = -1,
					   .raw = h->bad_body.data, .raw_len = h->bad_body.len,
					   .raw_format = PB_MODEM_RAW_ENTRY,
					   .error = (char *)pb_error_last()->message };
			char id[32];
			snprintf(id, sizeof(id), "page-%d", page);
			g.id = id;
			rc = pb_modem_msg_list_add(out, &g);
			break;
		}
		if (rc < 0)
			break;
		char *count = pb_modem__hilink_doc_get(doc, "Count");
		rc = pb_modem__hilink_doc_messages(doc, out);
		pb_modem__hilink_doc_free(doc);
		long total = count ? atol(count) : 0;
		pb_free(count);
		if (rc < 0)
			break;
		size_t got = out->count - before;
		if (got < PAGE || (total > 0 && (long)(page * PAGE) >= total))
			break;
	}
	pb_buf_dispose(&body);
	return rc;
}

static int index_call(hilink *h, const char *path, const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 12 || strspn(id, "0123456789") != n)
		return pb_error_set(PB_EINVAL, "hilink: message id \"%s\" is not an index", id);
	char body[128];
	snprintf(body, sizeof(body), XML_HEAD "<Index>%s</Index></request>", id);
	return call_ok(h, path, body);
}

static int hl_remove(void *state, const char *id) { return index_call(state, "/api/sms/delete-sms", id); }
static int hl_mark_read(void *state, const char *id) { return index_call(state, "/api/sms/set-read", id); }

static size_t utf16_units(const char *s)
{
	size_t n = 0, len = strlen(s), i = 0;
	while (i < len) {
		uint32_t cp;
		i += pb_utf8_decode(s + i, len - i, &cp);
		n += cp >= 0x10000 ? 2 : 1;
	}
	return n;
}

static int hl_send_text(void *state, const char *number, const char *text, unsigned flags, int *ref)
{
	hilink *h = state;
	pb_buf body = PB_BUF_INIT, esc = PB_BUF_INIT;
	char date[32];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
	*ref = -1;
	if (flags & PB_MODEM_SEND_REPORT)
		pb_log_debug(DOMAIN, "delivery reports are a router setting (sms/config), not per message");
	int rc;
	if ((rc = xml_escape(&esc, text)) < 0 || (rc = pb_buf_puts(&body, XML_HEAD "<Index>-1</Index><Phones><Phone>")) < 0 ||
	    (rc = xml_escape(&body, number)) < 0 || (rc = pb_buf_puts(&body, "</Phone></Phones><Sca></Sca><Content>")) < 0 ||
	    (rc = pb_modem__cesu8_encode(&body, (const char *)esc.data, esc.len)) < 0 ||
	    (rc = pb_buf_printf(&body, "</Content><Length>%zu</Length><Reserved>1</Reserved><Date>%s</Date></request>",
				utf16_units(text), date)) < 0)
		goto out;
	rc = call_ok(h, "/api/sms/send-sms", pb_buf_cstr(&body));
out:
	pb_buf_dispose(&body);
	pb_buf_dispose(&esc);
	return rc;
}

static int hl_changed(void *state)
{
	hilink *h = state;
	pb_hilink_doc *doc;
	if (call(h, "/api/sms/sms-count", NULL, &doc, true) < 0)
		return 1; /* cannot tell: list */
	static const char *const fields[] = { "LocalUnread", "LocalInbox", "SimUnread", "SimInbox", "NewMsg" };
	uint64_t sig = PB_FNV1A64_INIT;
	for (size_t i = 0; i < PB_ARRAY_SIZE(fields); i++) {
		char *v = pb_modem__hilink_doc_get(doc, fields[i]);
		const char *t = v ? v : "-";
		sig = pb_fnv1a64(sig, t, strlen(t));
		sig = pb_fnv1a64(sig, "\x1f", 1);
		pb_free(v);
	}
	pb_modem__hilink_doc_free(doc);
	bool changed = sig != h->count_sig;
	h->count_sig = sig;
	return changed;
}

static int hl_ussd(void *state, const char *code, char **reply)
{
	hilink *h = state;
	char body[256];
	snprintf(body, sizeof(body), XML_HEAD "<content>%s</content><codeType>CodeType</codeType><timeout></timeout></request>",
		 code);
	int rc = call_ok(h, "/api/ussd/send", body);
	if (rc < 0)
		return rc;
	int64_t end = pb_modem__now_ms() + h->timeout_ms * 3;
	while (pb_modem__now_ms() < end) {
		pb_hilink_doc *doc;
		rc = call(h, "/api/ussd/get", NULL, &doc, true);
		if (rc == 0) {
			*reply = pb_modem__hilink_doc_get(doc, "content");
			pb_modem__hilink_doc_free(doc);
			return *reply ? 0 : pb_error_set(PB_EPROTO, "ussd/get: no <content>");
		}
		if (rc != PB_ETIMEOUT && rc != PB_EBUSY)
			return rc;
		struct timespec ts = { 0, 500 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return pb_error_set(PB_ETIMEOUT, "USSD %s: no answer from the network", code);
}

const pb_modem_backend_ops pb_modem__hilink_ops = {
	.version = PB_MODEM_BACKEND_OPS_VERSION,
	.name = "hilink",
	.open = hl_open,
	.close = hl_close,
	.status = hl_status,
	.list = hl_list,
	.remove = hl_remove,
	.mark_read = hl_mark_read,
	.send_text = hl_send_text,
	.changed = hl_changed,
	.ussd = hl_ussd,
};
