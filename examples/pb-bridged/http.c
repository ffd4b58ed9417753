/*
 * pb-bridged — the HTTP listener: /health (JSON, 200 healthy or 503),
 * /metrics (Prometheus text format), / and /status (the status page); see
 * docs/bridge.md "Health, metrics and status". Handlers run on the
 * listener's thread: they read atomics and a store handle of their own.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "http.h"
#include "daemon.h"
#include "metrics.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct pbb_http {
	const pbb_config *cfg;
	pbb *b;
	pb_listener *l;
	pb_store *st; /* the listener thread's own handle, opened on first use */
	bool owns;    /* the listener is ours (not the application service's) */
	/* [calls] store: the cluster's call log for the status page's plot,
	 * opened on first use; after a failure not again before retry_at (a
	 * connection attempt holds this thread, /health included, for up to
	 * libpq's connect_timeout). Once open, the store reconnects itself. */
	pb_store *cluster;
	int64_t cluster_retry_at;
};

void pbb_metrics_declare(void)
{
	pbd_metric_declare("pb_bridge_messages_total", PBD_COUNTER,
			   "Messages by direction (in: phone to Matrix, out: Matrix to phone), kind and outcome.");
	pbd_metric_declare("pb_bridge_retries_total", PBD_COUNTER,
			   "Attempts made again after a failure, by stage.");
	pbd_metric_declare("pb_bridge_mms_fetch_failures_total", PBD_COUNTER,
			   "Picture message downloads from the MMSC that failed (final: given up).");
	pbd_metric_declare("pb_bridge_queue_depth", PBD_GAUGE, "Journal rows waiting, by queue.");
	pbd_metric_declare("pb_bridge_peer_up", PBD_GAUGE, "1 when the peer answered the last request.");
	pbd_metric_declare("pb_bridge_disk_full", PBD_GAUGE, "1 while the store's disk is full.");
	pbd_metric_declare("pb_bridge_stage_stuck", PBD_GAUGE, "1 when a stage thread made no progress for too long.");
}

static pb_store *store(pbb_http *h)
{
	if (!h->st) {
		pb_store_options o = PB_STORE_OPTIONS_INIT;
		if (pb_store_open(&h->st, h->cfg->store_path, &o) < 0)
			h->st = NULL;
	}
	return h->st;
}

#define CLUSTER_RETRY_MS 15000

/* The store whose call log the status page counts: the cluster's with
 * [calls] store (NULL while it does not answer), else the bridge's own. */
static pb_store *calls_store(pbb_http *h, const char **state)
{
	*state = NULL;
	if (!h->cfg->calls_store)
		return store(h);
	int64_t now = (int64_t)time(NULL) * 1000;
	if (!h->cluster && now >= h->cluster_retry_at && pbb_calls_store_open(h->cfg, &h->cluster) < 0)
		h->cluster_retry_at = now + CLUSTER_RETRY_MS; /* h->cluster stays NULL */
	*state = h->cluster ? "ok" : "not answering";
	return h->cluster;
}

/* The queue depths; false when the store cannot be read. */
typedef struct depths {
	int64_t inbound, outbound, sending, uncertain;
} depths;

static bool read_depths(pbb_http *h, depths *d)
{
	memset(d, 0, sizeof(*d));
	pb_store *st = store(h);
	if (!st)
		return false;
	if (pb_store_msg_count(st, PB_STORE_INBOUND, PB_STORE_STORED, &d->inbound) < 0 ||
	    pb_store_msg_count(st, PB_STORE_OUTBOUND, PB_STORE_QUEUED, &d->outbound) < 0 ||
	    pb_store_msg_count(st, PB_STORE_OUTBOUND, PB_STORE_SENDING, &d->sending) < 0 ||
	    pb_store_msg_count(st, PB_STORE_OUTBOUND, PB_STORE_UNKNOWN, &d->uncertain) < 0) {
		pb_store_close(h->st); /* open again next time */
		h->st = NULL;
		return false;
	}
	return true;
}

typedef struct facts {
	pbb_health hl;
	depths q;
	bool store_ok;
	const char *stuck; /* a stuck stage, or NULL */
	long quiet_ms;
	char last_error[512];
	int64_t last_error_at;
	bool healthy;
} facts;

static void gather(pbb_http *h, facts *f)
{
	memset(f, 0, sizeof(*f));
	if (h->b)
		pbb_health_get(h->b, &f->hl);
	f->store_ok = read_depths(h, &f->q);
	f->stuck = pbd_stage_stuck(&f->quiet_ms);
	f->last_error_at = pbd_last_error(f->last_error, sizeof(f->last_error));
	f->healthy = f->hl.running && f->hl.modem_ok && f->hl.homeserver_ok && !f->hl.disk_full && f->store_ok &&
		     !f->stuck;
}

static int health(pb_listener_request *req, void *ud)
{
	pbb_http *h = ud;
	facts f;
	gather(h, &f);
	pb_buf o = PB_BUF_INIT;
	int rc = pb_buf_printf(&o,
		"{\"status\":\"%s\",\"program\":\"pb-bridged\",\"version\":\"%s\",\"uptime_s\":%.0f,"
		"\"running\":%s,\"modem\":{\"backend\":",
		f.healthy ? "ok" : "unhealthy", pb_version_string(), pbd_uptime_s(), f.hl.running ? "true" : "false");
	rc = rc ? rc : pbd_buf_json_str(&o, h->cfg->modem_backend);
	rc = rc ? rc : pb_buf_printf(&o, ",\"reachable\":%s},\"homeserver\":{\"url\":", f.hl.modem_ok ? "true" : "false");
	rc = rc ? rc : pbd_buf_json_str(&o, h->cfg->homeserver);
	rc = rc ? rc : pb_buf_printf(&o, ",\"reachable\":%s},\"store\":{\"reachable\":%s,\"disk_full\":%s},",
				     f.hl.homeserver_ok ? "true" : "false", f.store_ok ? "true" : "false",
				     f.hl.disk_full ? "true" : "false");
	if (rc == 0 && f.store_ok)
		rc = pb_buf_printf(&o,
			"\"queues\":{\"to_matrix\":%lld,\"to_phone\":%lld,\"sending\":%lld,\"uncertain\":%lld},",
			(long long)f.q.inbound, (long long)f.q.outbound, (long long)f.q.sending, (long long)f.q.uncertain);
	else if (rc == 0)
		rc = pb_buf_puts(&o, "\"queues\":null,");
	return pbd_health_respond(req, &o, rc, f.healthy);
}

static int metrics(pb_listener_request *req, void *ud)
{
	pbb_http *h = ud;
	facts f;
	gather(h, &f);
	pbd_metric_set("pb_bridge_peer_up", f.hl.modem_ok, "peer", "modem", NULL);
	pbd_metric_set("pb_bridge_peer_up", f.hl.homeserver_ok, "peer", "homeserver", NULL);
	pbd_metric_set("pb_bridge_peer_up", f.store_ok, "peer", "store", NULL);
	pbd_metric_set("pb_bridge_disk_full", f.hl.disk_full, NULL);
	pbd_metric_set("pb_bridge_stage_stuck", f.stuck != NULL, NULL);
	if (f.store_ok) {
		pbd_metric_set("pb_bridge_queue_depth", f.q.inbound, "queue", "to_matrix", NULL);
		pbd_metric_set("pb_bridge_queue_depth", f.q.outbound, "queue", "to_phone", NULL);
		pbd_metric_set("pb_bridge_queue_depth", f.q.sending, "queue", "sending", NULL);
		pbd_metric_set("pb_bridge_queue_depth", f.q.uncertain, "queue", "uncertain", NULL);
	}
	return pbd_metrics_respond(req);
}

static int page(pb_listener_request *req, void *ud)
{
	pbb_http *h = ud;
	facts f;
	gather(h, &f);
	const char *cluster = NULL;
	pb_store *calls = calls_store(h, &cluster);
	char up[32], q1[24], q2[24], q3[24];
	snprintf(up, sizeof(up), "%.0f s", pbd_uptime_s());
	snprintf(q1, sizeof(q1), "%lld", (long long)f.q.inbound);
	snprintf(q2, sizeof(q2), "%lld", (long long)f.q.outbound);
	snprintf(q3, sizeof(q3), "%lld", (long long)f.q.uncertain);
	const char *rows[] = {
		"version", pb_version_string(), "uptime", up,
		"modem", f.hl.modem_ok ? "reachable" : "not reachable",
		"homeserver", f.hl.homeserver_ok ? "reachable" : "not reachable",
		"store", !f.store_ok ? "not readable" : f.hl.disk_full ? "disk full" : "ok",
		"waiting for Matrix", q1, "waiting for the phone", q2, "uncertain sends", q3,
		"stuck stage", f.stuck ? f.stuck : "none",
		"last error", f.last_error_at ? f.last_error : "none",
		cluster ? "cluster's call log" : NULL, cluster,
		NULL,
	};
	return pbd_status_respond(req, "pb-bridged", f.healthy, rows, store(h), calls);
}

static int add_routes(pbb_http *h)
{
	int rc = pb_listener_route(h->l, "GET", "/health", health, h);
	if (rc == 0)
		rc = pb_listener_route(h->l, "GET", "/metrics", metrics, h);
	if (rc == 0)
		rc = pb_listener_route(h->l, "GET", "/status", page, h);
	if (rc == 0)
		rc = pb_listener_route(h->l, "GET", "/", page, h);
	return rc;
}

int pbb_http_new(pbb_http **out, const pbb_config *cfg, pbb *b)
{
	*out = NULL;
	/* appservice mode: the same routes join the application service's
	 * listener instead (pbb_http_attach(), called by pbb_run()) */
	if (!cfg->http_listen || !cfg->http_listen[0] || cfg->mode == PBB_MODE_APPSERVICE)
		return 0;
	pbb_http *h = pb_calloc(1, sizeof(*h));
	if (!h)
		return -1;
	h->cfg = cfg;
	h->b = b;
	h->owns = true;
	pb_listener_options o = PB_LISTENER_OPTIONS_INIT;
	o.address = cfg->http_listen;
	int rc = pb_listener_new(&h->l, &o);
	if (rc == 0)
		rc = add_routes(h);
	if (rc < 0) {
		pbb_log(PB_LOG_ERROR, "[http] listen %s: %s", cfg->http_listen, pb_error_last()->message);
		pbb_http_free(h);
		return -1;
	}
	*out = h;
	return 0;
}

int pbb_http_attach(pbb_http **out, const pbb_config *cfg, pbb *b, pb_listener *l)
{
	*out = NULL;
	pbb_http *h = pb_calloc(1, sizeof(*h));
	if (!h)
		return PB_ENOMEM;
	h->cfg = cfg;
	h->b = b;
	h->l = l;
	int rc = add_routes(h);
	if (rc < 0) {
		pbb_http_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

int pbb_http_route(pbb_http *h, const char *method, const char *path, pb_listener_handler handler, void *userdata)
{
	return pb_listener_route(h->l, method, path, handler, userdata);
}

int pbb_http_start(pbb_http *h)
{
	if (pb_listener_start(h->l) < 0) {
		pbb_log(PB_LOG_ERROR, "[http] listen %s: %s", h->cfg->http_listen, pb_error_last()->message);
		return -1;
	}
	pbb_log(PB_LOG_NOTICE, "http: /health, /metrics and the status page on %s (port %u)", h->cfg->http_listen,
		pb_listener_port(h->l));
	return 0;
}

unsigned pbb_http_port(const pbb_http *h)
{
	return h ? pb_listener_port(h->l) : 0;
}

void pbb_http_free(pbb_http *h)
{
	if (!h)
		return;
	if (h->owns)
		pb_listener_free(h->l); /* stops the handlers before the store goes */
	pb_store_close(h->cluster);
	pb_store_close(h->st);
	pb_free(h);
}
