/*
 * libphonebridge — modem backend for SMSEagle hardware SMS gateways.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Sending and signal go through API v2 (REST, "access-token" header);
 * reading and deleting through API v1 JSON-RPC (/jsonrpc/sms), which covers
 * the inbox and MMS. The device can call a webhook on every new message:
 * with the webhook option set, this backend listens for it and reads the
 * inbox at once instead of waiting for the next poll. The webhook is a
 * doorbell only, so every message is reported with the device's own ID
 * whichever way it was noticed.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "modem-internal.h"

#include <phonebridge/listener.h>

#define DOMAIN "smseagle"
#define WEBHOOK_MAX_REQUEST 65536

typedef struct smseagle {
	pb_modem_http *http;
	char *base;
	char *token;
	char *user;
	char *password;
	int modem_no;
	pb_listener *hook; /* the webhook's listener, on its own thread */
	int bell;          /* eventfd: the hook rings it, se_wait() answers it */
} smseagle;

static void se_close(void *state)
{
	smseagle *s = state;
	if (!s)
		return;
	pb_listener_free(s->hook); /* first: its thread rings the bell */
	if (s->bell >= 0)
		close(s->bell);
	pb_modem__http_free(s->http);
	pb_free(s->base);
	pb_secret_free(s->token);
	pb_free(s->user);
	pb_secret_free(s->password);
	pb_free(s);
}

/* One webhook call (GET with a query, or a POST form), on the listener's
 * thread: 403 unless its apikey is the API token, 400 when malformed, else
 * 200 and the bell rings. It never touches the device itself. */
static int on_webhook(pb_listener_request *req, void *ud)
{
	smseagle *s = ud;
	const char *form;
	size_t len;
	if (strcmp(pb_listener_request_method(req), "POST") == 0) {
		form = (const char *)pb_listener_request_body(req, &len);
	} else {
		form = pb_listener_request_query(req);
		len = strlen(form);
	}
	pb_modem_msg m;
	char *key = NULL;
	if (pb_modem__smseagle_parse_webhook(form, len, &m, &key) < 0) {
		pb_log_info(DOMAIN, "webhook: refused: %s", pb_error_last()->message);
		return pb_listener_respond(req, 400, "text/plain", "malformed\n", 10);
	}
	bool allowed = pb_secret_equal(key, s->token);
	pb_secret_free(key);
	if (!allowed) {
		pb_log_warning(DOMAIN, "webhook: refused a call without the right apikey");
		pb_modem_msg_dispose(&m);
		return pb_listener_respond(req, 403, "text/plain", "forbidden\n", 10);
	}
	pb_log_info(DOMAIN, "webhook: message %s from %s", m.id ? m.id : "?", m.number ? m.number : "?");
	pb_modem_msg_dispose(&m);
	uint64_t one = 1;
	if (write(s->bell, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pb_log_debug(DOMAIN, "webhook: bell: %s", strerror(errno));
	return 0;
}

static int listen_on(smseagle *s, const char *address)
{
	if ((s->bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return pb_error_set(PB_EIO, "smseagle: eventfd: %s", strerror(errno));
	pb_listener_options lo = PB_LISTENER_OPTIONS_INIT;
	lo.address = address;
	lo.max_body = WEBHOOK_MAX_REQUEST;
	int rc = pb_listener_new(&s->hook, &lo);
	if (rc == 0)
		rc = pb_listener_route(s->hook, NULL, "/*", on_webhook, s);
	if (rc == 0)
		rc = pb_listener_start(s->hook);
	if (rc < 0)
		return pb_error_set(rc, "smseagle: webhook: %s", pb_error_last()->message);
	return 0;
}

static int se_open(void **state, const pb_modem_options *opts, const pb_modem_secrets *sec)
{
	*state = NULL;
	if (!opts->url || (strncmp(opts->url, "http://", 7) != 0 && strncmp(opts->url, "https://", 8) != 0))
		return pb_error_set(PB_EINVAL, "smseagle: an http:// or https:// URL is required");
	if (!sec->token)
		return pb_error_set(PB_EINVAL, "smseagle: an API access token file is required");
	smseagle *s = pb_calloc(1, sizeof(*s));
	if (!s)
		return PB_ENOMEM;
	s->bell = -1;
	s->modem_no = opts->modem_no > 0 ? opts->modem_no : 1;
	size_t ul = strlen(opts->url);
	while (ul > 0 && opts->url[ul - 1] == '/')
		ul--;
	int rc = PB_ENOMEM;
	if (!(s->base = pb_strndup(opts->url, ul)) || !(s->token = pb_strdup(sec->token)))
		goto fail;
	if (opts->username && !(s->user = pb_strdup(opts->username)))
		goto fail;
	if (sec->password && !(s->password = pb_strdup(sec->password)))
		goto fail;
	if ((rc = pb_modem__http_new(&s->http, opts)) < 0)
		goto fail;
	if (opts->webhook && (rc = listen_on(s, opts->webhook)) < 0)
		goto fail;
	*state = s;
	return 0;
fail:
	se_close(s);
	return rc;
}

/* An API v2 request; the reply body stays in @r. */
static int v2(smseagle *s, const char *method, const char *path, const char *body, pb_modem_http_reply *r)
{
	pb_buf url = PB_BUF_INIT, tok = PB_BUF_INIT;
	int rc;
	if ((rc = pb_buf_printf(&url, "%s/api/v2/%s", s->base, path)) < 0 ||
	    (rc = pb_buf_printf(&tok, "access-token: %s", s->token)) < 0)
		goto out;
	const char *hdrs[] = { pb_buf_cstr(&tok), "Content-Type: application/json", "Accept: application/json", NULL };
	rc = pb_modem__http_request(s->http, method, pb_buf_cstr(&url), hdrs, body, body ? strlen(body) : 0, r);
	if (rc == 0 && (r->status == 401 || r->status == 403))
		rc = pb_error_set(PB_EAUTH, "SMSEagle %s: HTTP %ld: access token refused", path, r->status);
	else if (rc == 0 && r->status == 404)
		rc = pb_error_set(PB_EUNSUPPORTED, "SMSEagle %s: HTTP 404 (no API v2 on this firmware?)", path);
	else if (rc == 0 && r->status == 503)
		rc = pb_error_set(PB_EBUSY, "SMSEagle %s: HTTP 503: busy, nothing done: %.200s", path, pb_buf_cstr(&r->body));
	else if (rc == 0 && r->status >= 500)
		/* the gateway failed while it handled the request: a send may or
		 * may not have been taken (pb_modem_send_fate(): uncertain) */
		rc = pb_error_set(PB_ETIMEOUT, "SMSEagle %s: HTTP %ld, the request's outcome is unknown: %.200s", path,
				  r->status, pb_buf_cstr(&r->body));
	else if (rc == 0 && (r->status < 200 || r->status > 299))
		rc = pb_error_set(PB_EPROTO, "SMSEagle %s: HTTP %ld: %.200s", path, r->status, pb_buf_cstr(&r->body));
out:
	if (tok.data)
		memset(tok.data, 0, tok.len);
	pb_buf_dispose(&url);
	pb_buf_dispose(&tok);
	return rc;
}

/* An API v1 JSON-RPC call; @params gets the credentials added (and is consumed). */
static int v1(smseagle *s, const char *method, json_t *params, pb_modem_http_reply *r)
{
	if (!params)
		return pb_error__oom();
	if (s->user && s->password) {
		json_object_set_new(params, "login", json_string(s->user));
		json_object_set_new(params, "pass", json_string(s->password));
	} else {
		json_object_set_new(params, "access_token", json_string(s->token));
	}
	json_t *req = json_pack("{s:s, s:o}", "method", method, "params", params);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return pb_error__oom();
	pb_buf url = PB_BUF_INIT;
	int rc = pb_buf_printf(&url, "%s/jsonrpc/sms", s->base);
	const char *hdrs[] = { "Content-Type: application/json", NULL };
	if (rc == 0)
		rc = pb_modem__http_request(s->http, "POST", pb_buf_cstr(&url), hdrs, body, strlen(body), r);
	if (rc == 0 && r->status != 200)
		rc = pb_error_set(r->status == 401 || r->status == 403 ? PB_EAUTH : PB_EPROTO, "SMSEagle %s: HTTP %ld",
				  method, r->status);
	memset(body, 0, strlen(body));
	free(body);
	pb_buf_dispose(&url);
	return rc;
}

static int se_status(void *state, pb_modem_status *st)
{
	smseagle *s = state;
	pb_modem_http_reply r = { 0 };
	char path[64];
	snprintf(path, sizeof(path), "modem/signal/%d", s->modem_no);
	int rc = v2(s, "GET", path, NULL, &r);
	if (rc == 0) {
		pb_parse_error perr;
		rc = pb_modem__smseagle_parse_signal((const char *)r.body.data, r.body.len, &st->signal_percent, &perr);
	}
	pb_modem__http_reply_dispose(&r);
	return rc;
}

static int se_list(void *state, int box, pb_modem_msg_list *out)
{
	smseagle *s = state;
	pb_modem_http_reply r = { 0 };
	json_t *p = json_pack("{s:s}", "folder", box == PB_MODEM_BOX_SENT ? "sentitems" : "inbox");
	int rc = v1(s, "sms.read_sms", p, &r);
	if (rc == 0) {
		pb_parse_error perr;
		rc = pb_modem__smseagle_parse_rows((const char *)r.body.data, r.body.len, out, &perr);
		if (rc == PB_EMALFORMED) {
			/* the whole reply is garbage: report it as one garbled entry */
			pb_modem_msg g = { .id = NULL, .type = PB_MODEM_MSG_GARBLED, .state = PB_MODEM_STATE_UNKNOWN,
					   .box_type = -1, .raw = r.body.data, .raw_len = r.body.len,
					   .raw_format = PB_MODEM_RAW_ENTRY, .error = (char *)pb_error_last()->message };
			rc = pb_modem_msg_list_add(out, &g);
		}
	}
	pb_modem__http_reply_dispose(&r);
	return rc;
}

static int se_remove(void *state, const char *id)
{
	smseagle *s = state;
	size_t n = strlen(id);
	if (n == 0 || n > 18 || strspn(id, "0123456789") != n)
		return pb_error_set(PB_EINVAL, "smseagle: message id \"%s\" is not a number", id);
	long long v = strtoll(id, NULL, 10);
	pb_modem_http_reply r = { 0 };
	json_t *p = json_pack("{s:s, s:I, s:I}", "folder", "inbox", "idfrom", (json_int_t)v, "idto", (json_int_t)v);
	int rc = v1(s, "sms.delete_sms", p, &r);
	if (rc == 0) {
		json_t *root = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
		const char *res = json_string_value(json_object_get(root, "result"));
		if (!res || strcmp(res, "OK") != 0)
			rc = pb_error_set(PB_EPROTO, "sms.delete_sms %s: %s", id, res ? res : "no result");
		json_decref(root);
	}
	pb_modem__http_reply_dispose(&r);
	return rc;
}

static int se_send_text(void *state, const char *number, const char *text, unsigned flags, int *ref)
{
	smseagle *s = state;
	json_t *req = json_pack("{s:[s], s:s, s:i}", "to", number, "text", text, "modem_no", s->modem_no);
	if (flags & PB_MODEM_SEND_REPORT)
		pb_log_debug(DOMAIN, "delivery reports are not requested through API v2 here");
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return pb_error__oom();
	pb_modem_http_reply r = { 0 };
	int rc = v2(s, "POST", "messages/sms", body, &r);
	free(body);
	if (rc == 0) {
		json_t *root = json_loadb((const char *)r.body.data, r.body.len, JSON_DECODE_ANY, NULL);
		json_t *first = json_is_array(root) ? json_array_get(root, 0) : root;
		json_t *id = json_object_get(first, "message_id");
		const char *status = json_string_value(json_object_get(first, "status"));
		if (json_is_integer(id))
			*ref = (int)json_integer_value(id);
		if (status && strcmp(status, "queued") != 0 && strcmp(status, "sent") != 0)
			rc = pb_error_set(PB_EPROTO, "SMSEagle refused the message: %s", status);
		json_decref(root);
	}
	pb_modem__http_reply_dispose(&r);
	return rc;
}

static int se_wait(void *state, unsigned timeout_ms, pb_modem_msg_list *pushed)
{
	smseagle *s = state;
	(void)pushed;
	if (s->bell < 0) {
		struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		return 0;
	}
	/* the listener answers calls on its own thread: here only the bell */
	struct pollfd p = { s->bell, POLLIN, 0 };
	if (poll(&p, 1, (int)PB_MIN(timeout_ms, (unsigned)INT_MAX)) <= 0)
		return 0;
	uint64_t rings;
	return read(s->bell, &rings, sizeof(rings)) == (ssize_t)sizeof(rings) ? 1 : 0;
}

const pb_modem_backend_ops pb_modem__smseagle_ops = {
	.version = PB_MODEM_BACKEND_OPS_VERSION,
	.name = "smseagle",
	.open = se_open,
	.close = se_close,
	.status = se_status,
	.list = se_list,
	.remove = se_remove,
	.send_text = se_send_text,
	.wait = se_wait,
};
