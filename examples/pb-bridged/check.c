/*
 * pb-bridged — "check": everything "run" would refuse, found before it
 * starts; "check --online": each peer reached once (docs/bridge.md).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bridge.h"
#include "daemon.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* the backends pb-bridged can open (it loads no others) */
static const char *const backends[] = { "hilink", "at", "smseagle", NULL };

typedef struct report {
	bool lines; /* "check": a ✓/✗ line for every step on stdout */
	int failed;
} report;

static void step(report *r, bool ok, const char *what, const char *why_fmt, ...) PB_PRINTF(4, 5);
static void step(report *r, bool ok, const char *what, const char *why_fmt, ...)
{
	va_list ap;
	va_start(ap, why_fmt);
	if (!ok)
		r->failed++;
	if (r->lines) {
		pbd_check_vline(ok, what, why_fmt, ap);
	} else if (!ok) { /* run: only the refusals, on stderr */
		fprintf(stderr, "pb-bridged: %s: ", what);
		vfprintf(stderr, why_fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

static void url_step(report *r, const char *key, const char *url)
{
	const char *why = pbd_url_problem(url);
	char what[600];
	snprintf(what, sizeof(what), "%s %s", key, url);
	step(r, !why, what, "%s", why ? why : "");
}

static void secret_step(report *r, const char *key, const char *path)
{
	char buf[300];
	const char *why = pbd_secret_problem(path, buf, sizeof(buf));
	char what[600];
	snprintf(what, sizeof(what), "%s %s", key, path);
	step(r, !why, what, "%s", why ? why : "");
}

int pbb_check_config(const pbb_config *c, bool lines)
{
	report r = { lines, 0 };
	char what[600], buf[300];
	bool known = false;
	for (size_t i = 0; backends[i]; i++)
		known |= !strcmp(c->modem_backend, backends[i]);
	snprintf(what, sizeof(what), "[modem] backend %s", c->modem_backend);
	if (known) {
		step(&r, true, what, NULL);
	} else {
		const char *near = pbd_did_you_mean(c->modem_backend, backends);
		if (near)
			step(&r, false, what, "unknown backend (did you mean %s?)", near);
		else
			step(&r, false, what, "unknown backend (hilink, at or smseagle)");
	}
	if (c->modem_url && strcmp(c->modem_backend, "at") != 0)
		url_step(&r, "[modem] url", c->modem_url);
	if (c->modem_password_file)
		secret_step(&r, "[modem] password_file", c->modem_password_file);
	if (c->modem_token_file)
		secret_step(&r, "[modem] token_file", c->modem_token_file);
	url_step(&r, "[matrix] homeserver", c->homeserver);
	if (c->mode == PBB_MODE_APPSERVICE) {
		secret_step(&r, "[matrix] as_token_file", c->as_token_file);
		secret_step(&r, "[matrix] hs_token_file", c->hs_token_file);
		pb_listener *l = NULL;
		snprintf(what, sizeof(what), "[matrix] listen %s", pbb_as_listen(c));
		step(&r, pbb_listener_new(c, &l) == 0, what, "%s", pb_error_last()->message);
		pb_listener_free(l);
	} else {
		secret_step(&r, "[matrix] token_file", c->token_file);
	}
	if (c->pickle_key_file)
		secret_step(&r, "[matrix] pickle_key_file", c->pickle_key_file);
	if (c->mmsc_url)
		url_step(&r, "[mmsc] url", c->mmsc_url);
	const char *why = pbd_store_problem(c->store_path, buf, sizeof(buf));
	snprintf(what, sizeof(what), "[bridge] store %s", c->store_path);
	step(&r, !why, what, "%s", why ? why : "");
	if (c->calls_store) { /* pb-screend's call log on a cluster: connected as the daemon would */
		if (c->calls_password_file)
			secret_step(&r, "[calls] password_file", c->calls_password_file);
		/* check only: run starts without it (the call log is followed once it answers) */
		if (lines) {
			pb_store *log = NULL;
			snprintf(what, sizeof(what), "[calls] store %s", c->calls_store);
			bool up = pbb_calls_store_open(c, &log) == 0;
			step(&r, up, what, "%s", up ? "" : pb_error_last()->message);
			pb_store_close(log);
		}
	}
	if (c->http_listen) {
		why = pbd_listen_problem(c->http_listen, buf, sizeof(buf));
		snprintf(what, sizeof(what), "[http] listen %s", c->http_listen);
		step(&r, !why, what, "%s", why ? why : "");
	}
	/* a stage waits this long at most in one request: it must not look stuck meanwhile */
	long longest = c->sync_timeout_ms + 10000L;
	if (c->modem_send_timeout_ms > longest)
		longest = c->modem_send_timeout_ms;
	if (c->modem_timeout_ms > longest)
		longest = c->modem_timeout_ms;
	snprintf(what, sizeof(what), "[bridge] stall_timeout_ms %d", c->stall_timeout_ms);
	bool long_enough = c->stall_timeout_ms > longest;
	snprintf(buf, sizeof(buf), "not longer than the longest single wait of a stage (%ld ms: "
		 "sync_timeout_ms + 10 s, send_timeout_ms, timeout_ms): a healthy stage would look stuck", longest);
	step(&r, long_enough, what, "%s", long_enough ? "" : buf);
	return r.failed;
}

static void online_modem(report *r, const pbb_config *c)
{
	char what[600];
	snprintf(what, sizeof(what), "modem %s at %s", c->modem_backend,
		 c->modem_url ? c->modem_url : c->modem_device);
	pb_modem *m = NULL;
	if (pbb_modem_open(c, &m) < 0) {
		step(r, false, what, "%s", pb_error_last()->message);
		return;
	}
	pb_modem_status st;
	if (pb_modem_status_get(m, &st) < 0) {
		step(r, false, what, "opened, but the status: %s", pb_error_last()->message);
	} else if (st.sim != PB_MODEM_SIM_READY && st.sim != PB_MODEM_SIM_UNKNOWN) {
		step(r, false, what, "SIM %s", pb_modem_sim_name(st.sim));
	} else {
		char sig[32] = "unknown";
		if (st.signal_percent >= 0)
			snprintf(sig, sizeof(sig), "%d%%", st.signal_percent);
		else if (st.signal_dbm != PB_MODEM_SIGNAL_UNKNOWN)
			snprintf(sig, sizeof(sig), "%d dBm", st.signal_dbm);
		step(r, true, what, "SIM %s, network %s (%s%s%s), signal %s", pb_modem_sim_name(st.sim),
		     pb_modem_reg_name(st.registration), st.operator_name[0] ? st.operator_name : "operator unknown",
		     st.network_type[0] ? " " : "", st.network_type, sig);
	}
	pb_modem_close(m);
}

static void online_matrix(report *r, const pbb_config *c)
{
	char what[600];
	snprintf(what, sizeof(what), "homeserver %s", c->homeserver);
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = c->homeserver;
	o.access_token_file = c->token_file;
	o.retry = (pb_retry_policy){ .attempts = 2, .initial_delay_ms = 500, .max_delay_ms = 1000 };
	o.request_timeout_ms = 20000;
	pb_matrix *mx = NULL;
	char *user = NULL;
	if (pb_matrix_new(&mx, &o) < 0 || pb_matrix_whoami(mx, &user) < 0)
		step(r, false, what, "%s", pb_error_last()->message);
	else
		step(r, true, what, "whoami: %s", user);
	pb_free(user);
	pb_matrix_free(mx);
}

static void online_mmsc(report *r, const pbb_config *c)
{
	char what[600];
	snprintf(what, sizeof(what), "MMSC %s%s%s", c->mmsc_url, c->mmsc_proxy ? " through proxy " : "",
		 c->mmsc_proxy ? c->mmsc_proxy : "");
	pb_mmsc_options o;
	const char *rules[2];
	pbb_mmsc_options(c, &o, rules);
	o.timeout_ms = 20000;
	o.retry.attempts = 1;
	pb_mmsc *m = NULL;
	if (pb_mmsc_new(&m, &o) < 0) {
		step(r, false, what, "%s", pb_error_last()->message);
		return;
	}
	/* a harmless GET of the MMSC's own address: any HTTP answer (an
	 * MMSC says 4xx to a GET without a message) proves the way there */
	pb_buf body = PB_BUF_INIT;
	pb_mmsc_result res;
	memset(&res, 0, sizeof(res));
	pb_mmsc_fetch(m, c->mmsc_url, &body, &res);
	if (res.http_status > 0)
		step(r, true, what, "answers (HTTP %ld)", res.http_status);
	else
		step(r, false, what, "%s", pb_error_last()->message);
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

int pbb_check_online(const pbb_config *c)
{
	report r = { true, 0 };
	online_modem(&r, c);
	online_matrix(&r, c);
	if (c->mmsc_url)
		online_mmsc(&r, c);
	return r.failed;
}
