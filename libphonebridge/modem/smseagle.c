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
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "modem-internal.h"

#define DOMAIN "smseagle"
#define WEBHOOK_MAX_REQUEST 65536

typedef struct smseagle {
	pb_modem_http *http;
	char *base;
	char *token;
	char *user;
	char *password;
	int modem_no;
	int listen_fd;
} smseagle;

static void se_close(void *state)
{
	smseagle *s = state;
	if (!s)
		return;
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	pb_modem__http_free(s->http);
	pb_free(s->base);
	pb_modem__secret_free(s->token);
	pb_free(s->user);
	pb_modem__secret_free(s->password);
	pb_free(s);
}

static int listen_on(smseagle *s, const char *hostport)
{
	const char *colon = strrchr(hostport, ':');
	if (!colon || colon == hostport || !colon[1])
		return pb_error_set(PB_EINVAL, "smseagle: webhook must be HOST:PORT, not \"%s\"", hostport);
	char host[256];
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return pb_error_set(PB_EINVAL, "smseagle: cannot resolve webhook address %s", hostport);
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 8) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return pb_error_set(PB_EIO, "smseagle: cannot listen on %s: %s", hostport, strerror(e));
	}
	freeaddrinfo(ai);
	s->listen_fd = fd;
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
	s->listen_fd = -1;
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

/* Answer one webhook call. @return 1 when it announced a message. */
static int webhook_one(smseagle *s, int fd)
{
	pb_buf req = PB_BUF_INIT;
	int64_t end = pb_modem__now_ms() + 5000;
	int announced = 0;
	size_t head_end = 0, need = 0;
	while (pb_modem__now_ms() < end && req.len < WEBHOOK_MAX_REQUEST) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 500) <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0 || pb_buf_put(&req, buf, (size_t)n) < 0)
			break;
		const char *h = strstr(pb_buf_cstr(&req), "\r\n\r\n");
		if (h && !head_end) {
			head_end = (size_t)(h - (const char *)req.data) + 4;
			const char *cl = strcasestr(pb_buf_cstr(&req), "\r\nContent-Length:");
			need = head_end + (cl && cl < h ? (size_t)strtoul(cl + 17, NULL, 10) : 0);
		}
		if (head_end && req.len >= need)
			break;
	}
	const char *text = pb_buf_cstr(&req);
	const char *status = "400 Bad Request";
	if (head_end) {
		const char *q = NULL;
		size_t ql = 0;
		if (strncmp(text, "GET ", 4) == 0 && (q = memchr(text, '?', head_end)) != NULL) {
			q++;
			ql = strcspn(q, " \r\n");
		} else if (strncmp(text, "POST ", 5) == 0) {
			q = text + head_end;
			ql = PB_MIN(req.len, need) - head_end;
		}
		pb_modem_msg m;
		char *key = NULL;
		if (q && pb_modem__smseagle_parse_webhook(q, ql, &m, &key) == 0) {
			if (key && strcmp(key, s->token) != 0) {
				status = "403 Forbidden";
			} else {
				status = "200 OK";
				announced = 1;
				pb_log_info(DOMAIN, "webhook: message %s from %s", m.id ? m.id : "?",
					    m.number ? m.number : "?");
			}
			pb_modem_msg_dispose(&m);
			pb_modem__secret_free(key);
		}
	}
	char resp[128];
	int n = snprintf(resp, sizeof(resp), "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
	if (write(fd, resp, (size_t)n) < 0)
		pb_log_debug(DOMAIN, "webhook: answer not written: %s", strerror(errno));
	pb_buf_dispose(&req);
	return announced;
}

static int se_wait(void *state, int timeout_ms, pb_modem_msg_list *pushed)
{
	smseagle *s = state;
	(void)pushed;
	if (s->listen_fd < 0) {
		struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		return 0;
	}
	struct pollfd p = { s->listen_fd, POLLIN, 0 };
	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return 0;
	int r = webhook_one(s, fd);
	close(fd);
	return r;
}

const pb_modem_backend_ops pb_modem__smseagle_ops = {
	.version = PB_MODEM_BACKEND_VERSION,
	.name = "smseagle",
	.open = se_open,
	.close = se_close,
	.status = se_status,
	.list = se_list,
	.remove = se_remove,
	.send_text = se_send_text,
	.wait = se_wait,
};
