/*
 * pb-screend — the HTTP listener: /health (JSON, 200 healthy or 503),
 * /metrics (Prometheus text format), / and /status (the status page); see
 * docs/screen.md "Health, metrics and status". Handlers run on the
 * listener's thread: they read what the screener's loop publishes (atomics),
 * the registration state (pb_screener_registration(), any thread) and a
 * store handle of their own.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "http.h"
#include "daemon.h"
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* the loop publishes after every step (at most 100 ms apart): quiet for this
 * long, it is stuck (the watchdog, fed by the same loop, then stops too) */
#define LOOP_STALL_MS 30000

struct screend_http {
	pb_listener *l;
	const pb_screener *s;
	atomic_llong active;     /* calls in progress, published by the loop */
	pthread_mutex_t mu;      /* store_path */
	char store_path[512];
	char open_path[512];     /* the path st was opened with (listener thread) */
	pb_store *st;            /* the listener thread's own handle */
	int loop_stage;
};

void screend_metrics_declare(void)
{
	pbd_metric_declare("pb_screend_calls_total", PBD_COUNTER, "Calls admitted, by the policy's verdict.");
	pbd_metric_declare("pb_screend_challenges_total", PBD_COUNTER, "Challenges run, by challenge and outcome.");
	pbd_metric_declare("pb_screend_forwarded_total", PBD_COUNTER, "Calls handed to the target, by mode.");
	pbd_metric_declare("pb_screend_calls_ended_total", PBD_COUNTER, "Calls over and logged, answered or not.");
	pbd_metric_declare("pb_screend_refused_total", PBD_COUNTER,
			   "Calls refused before screening (source, authentication, SDP, overload), by rule and SIP status.");
	pbd_metric_declare("pb_screend_active_calls", PBD_GAUGE, "Calls in progress.");
	pbd_metric_declare("pb_screend_registration_state", PBD_GAUGE,
			   "1 for the registration's current state (none, pending, registered, failed).");
	pbd_metric_declare("pb_screend_registration_last_status", PBD_GAUGE,
			   "SIP status of the last REGISTER answer (0 before any).");
	pbd_metric_declare("pb_screend_store_up", PBD_GAUGE, "1 when the store answers.");
}

void screend_metrics_event(const pb_screener_event *ev, void *userdata)
{
	(void)userdata;
	switch (ev->type) {
	case PB_SCREENER_VERDICT:
		if (ev->decision)
			pbd_metric_add("pb_screend_calls_total", 1, "verdict",
				       pb_screen_verdict_name(ev->decision->verdict), NULL);
		break;
	case PB_SCREENER_CHALLENGE_DONE:
		if (ev->result)
			pbd_metric_add("pb_screend_challenges_total", 1, "challenge",
				       ev->result->challenge ? ev->result->challenge : "?", "outcome",
				       pb_screen_outcome_name(ev->result->outcome), NULL);
		break;
	case PB_SCREENER_FORWARDED:
		pbd_metric_add("pb_screend_forwarded_total", 1, "mode", ev->mode ? ev->mode : "?", NULL);
		break;
	case PB_SCREENER_ENDED:
		pbd_metric_add("pb_screend_calls_ended_total", 1, "answered", ev->duration_ms > 0 ? "yes" : "no",
			       NULL);
		break;
	case PB_SCREENER_REFUSED:
		if (ev->decision) {
			char status[8];
			snprintf(status, sizeof(status), "%d", ev->decision->sip_status);
			pbd_metric_add("pb_screend_refused_total", (long long)(ev->count ? ev->count : 1), "rule",
				       ev->decision->rule ? ev->decision->rule : "?", "status", status, NULL);
		}
		break;
	default:
		break;
	}
}

static pb_store *store(screend_http *h)
{
	char path[512];
	pthread_mutex_lock(&h->mu);
	snprintf(path, sizeof(path), "%s", h->store_path);
	pthread_mutex_unlock(&h->mu);
	if (h->st && strcmp(path, h->open_path) != 0) { /* a reload moved it */
		pb_store_close(h->st);
		h->st = NULL;
	}
	if (!h->st) {
		if (pb_store_open(&h->st, path, NULL) < 0)
			h->st = NULL;
		else
			snprintf(h->open_path, sizeof(h->open_path), "%s", path);
	}
	return h->st;
}

typedef struct facts {
	int reg, reg_status;
	long long active;
	bool store_ok;
	const char *stuck;
	long quiet_ms;
	char last_error[512];
	int64_t last_error_at;
	bool healthy;
} facts;

static void gather(screend_http *h, facts *f)
{
	memset(f, 0, sizeof(*f));
	f->reg = pb_screener_registration(h->s, &f->reg_status);
	f->active = atomic_load(&h->active);
	pb_store *st = store(h);
	int64_t n = 0;
	/* a cheap read that touches the database file */
	f->store_ok = st && pb_store_msg_count(st, PB_STORE_INBOUND, PB_STORE_STORED, &n) == 0;
	if (st && !f->store_ok) {
		pb_store_close(h->st);
		h->st = NULL;
	}
	f->stuck = pbd_stage_stuck(&f->quiet_ms);
	f->last_error_at = pbd_last_error(f->last_error, sizeof(f->last_error));
	/* a configured registration that failed means no calls come: unhealthy */
	f->healthy = f->store_ok && !f->stuck && f->reg != PB_SCREENER_REG_FAILED;
}

static int health(pb_listener_request *req, void *ud)
{
	screend_http *h = ud;
	facts f;
	gather(h, &f);
	pb_buf o = PB_BUF_INIT;
	int rc = pb_buf_printf(&o,
		"{\"status\":\"%s\",\"program\":\"pb-screend\",\"version\":\"%s\",\"uptime_s\":%.0f,"
		"\"sip\":{\"port\":%u},\"registration\":{\"state\":\"%s\",\"last_status\":%d},"
		"\"calls\":{\"active\":%lld},\"store\":{\"reachable\":%s},",
		f.healthy ? "ok" : "unhealthy", pb_version_string(), pbd_uptime_s(), pb_screener_port(h->s),
		pb_screener_reg_state_name(f.reg), f.reg_status, f.active, f.store_ok ? "true" : "false");
	return pbd_health_respond(req, &o, rc, f.healthy);
}

static int metrics(pb_listener_request *req, void *ud)
{
	screend_http *h = ud;
	facts f;
	gather(h, &f);
	pbd_metric_set("pb_screend_active_calls", f.active, NULL);
	for (int i = PB_SCREENER_REG_NONE; i <= PB_SCREENER_REG_FAILED; i++)
		pbd_metric_set("pb_screend_registration_state", i == f.reg, "state", pb_screener_reg_state_name(i), NULL);
	pbd_metric_set("pb_screend_registration_last_status", f.reg_status, NULL);
	pbd_metric_set("pb_screend_store_up", f.store_ok, NULL);
	return pbd_metrics_respond(req);
}

static int page(pb_listener_request *req, void *ud)
{
	screend_http *h = ud;
	facts f;
	gather(h, &f);
	char up[32], active[24], reg[48];
	snprintf(up, sizeof(up), "%.0f s", pbd_uptime_s());
	snprintf(active, sizeof(active), "%lld", f.active);
	snprintf(reg, sizeof(reg), "%s%s", pb_screener_reg_state_name(f.reg), f.reg == PB_SCREENER_REG_NONE ? " (no registrar)" : "");
	const char *rows[] = {
		"version", pb_version_string(), "uptime", up, "registration", reg, "active calls", active,
		"store", f.store_ok ? "ok" : "not readable", "last error", f.last_error_at ? f.last_error : "none", NULL,
	};
	pb_store *st = store(h);
	return pbd_status_respond(req, "pb-screend", f.healthy, rows, st, st);
}

int screend_http_start(screend_http **out, const screend_config *c, pb_screener *s)
{
	*out = NULL;
	if (!c->http_listen[0])
		return 0;
	screend_http *h = pb_calloc(1, sizeof(*h));
	if (!h)
		return PB_ENOMEM;
	h->s = s;
	pthread_mutex_init(&h->mu, NULL);
	snprintf(h->store_path, sizeof(h->store_path), "%s", c->store);
	pbd_stages_reset();
	h->loop_stage = pbd_stage_add("loop", LOOP_STALL_MS);
	pbd_stage_enter(h->loop_stage); /* the caller's thread is the screener's loop */
	pb_listener_options o = PB_LISTENER_OPTIONS_INIT;
	o.address = c->http_listen;
	int rc = pb_listener_new(&h->l, &o);
	rc = rc ? rc : pb_listener_route(h->l, "GET", "/health", health, h);
	rc = rc ? rc : pb_listener_route(h->l, "GET", "/metrics", metrics, h);
	rc = rc ? rc : pb_listener_route(h->l, "GET", "/status", page, h);
	rc = rc ? rc : pb_listener_route(h->l, "GET", "/", page, h);
	rc = rc ? rc : pb_listener_start(h->l);
	if (rc < 0) {
		screend_http_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void screend_http_publish(screend_http *h, pb_screener *s)
{
	if (!h)
		return;
	atomic_store(&h->active, (long long)pb_screener_call_count(s));
	pbd_stage_beat();
}

void screend_http_set_store(screend_http *h, const char *st)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	snprintf(h->store_path, sizeof(h->store_path), "%s", st);
	pthread_mutex_unlock(&h->mu);
}

void screend_http_free(screend_http *h)
{
	if (!h)
		return;
	pb_listener_free(h->l);
	pb_store_close(h->st);
	pbd_stage_leave();
	pthread_mutex_destroy(&h->mu);
	pb_free(h);
}
