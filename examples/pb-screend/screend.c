/*
 * pb-screend — SIP call screening daemon: a thin program over pb_screener.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The screener (phonebridge/screener.h) does the work: policy, challenges,
 * media, forwarding, allow list and call log on one loop. This program reads
 * the INI file and the password file, handles signals (SIGHUP reconfigures,
 * SIGTERM drains), talks to systemd (sd_notify, the watchdog from the loop),
 * and has the check and list commands. Only the public API of
 * libphonebridge is used. docs/man/pb-screend.8.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>
#include <phonebridge/phonebridge.h>

#include "check.h"
#include "config.h"
#include "daemon.h"
#include "http.h"
#include "metrics.h"

typedef struct daemon {
	screend_config conf;
	const char *conf_path;
	pb_screener *screener;
	/* for the list commands */
	pb_store *store;
	const pb_screen_policy *policy;
	screend_http *http; /* [http] listen (http.c) */
} daemon_t;

static pb_screener *volatile running;
static volatile sig_atomic_t got_hup, got_term;

static void on_signal(int sig)
{
	if (sig == SIGHUP) {
		got_hup = 1;
	} else {
		got_term = 1;
		if (running)
			pb_screener_stop(running);
	}
}

/* one log format for both daemons (examples/common/daemon.c) */
static void log_to_stderr(int level, const char *domain, const char *msg, void *ud)
{
	(void)ud;
	pbd_log_write(level, domain, msg);
}

#define LOG(level, ...) pb_log(level, "screend", __VA_ARGS__)

static int load_config(daemon_t *d, screend_config *c)
{
	char err[300];
	if (screend_config_load(c, d->conf_path, err, sizeof(err)) < 0)
		return pb_error_set(PB_EINVAL, "%s: %s", strcmp(d->conf_path, "-") ? d->conf_path : "standard input",
				    err);
	return 0;
}

static const char *opt_str(const char *s)
{
	return s[0] ? s : NULL;
}

/* The screener's options for @p c; @p policy holds 2 * SCREEND_MAX_POLICY + 1 pointers. */
static void fill_options(const screend_config *c, const char *password, const char **policy,
			 pb_screener_options *o)
{
	*o = (pb_screener_options)PB_SCREENER_OPTIONS_INIT;
	pb_sip_options *so = &o->sip;
	so->bind_address = c->listen;
	so->port = c->port ? c->port : PB_SIP_PORT_ANY; /* port = 0: any free port (tests) */
	so->udp = c->udp;
	so->tcp = c->tcp;
	so->allow_sources = c->allow;
	so->rtp_address = opt_str(c->rtp_address);
	so->rtp_port_min = c->rtp_port_min;
	so->rtp_port_max = c->rtp_port_max;
	so->user_agent = c->user_agent;
	so->registrar = opt_str(c->registrar);
	so->aor = opt_str(c->aor);
	so->username = opt_str(c->username);
	so->password = password;
	so->register_expires_ms = c->register_expires * 1000;
	so->bridge_timeout_ms = c->forward_timeout * 1000;
	so->auth_realm = opt_str(c->auth_realm);
	so->auth_users_file = opt_str(c->auth_users_file);
	so->admit = c->auth_and ? PB_SIP_ADMIT_ADDRESS_AND_DIGEST : PB_SIP_ADMIT_ADDRESS_OR_DIGEST;
	so->auth_nonce_ttl_ms = c->auth_nonce_ttl * 1000;
	so->tls_cert_dir = opt_str(c->tls_cert_dir);
	so->tls_port = c->tls_port;
	o->store = c->store;
	o->store_password_file = opt_str(c->store_password_file);
	o->prompts = c->prompts;
	o->mode = c->mode;
	o->target = c->target;
	o->fallback = opt_str(c->fallback);
	o->refer_fallback = c->refer_fallback;
	o->ring = c->ring;
	o->early_media = c->early_media;
	o->max_duration_ms = c->max_duration * 1000u; /* the configuration counts seconds */
	o->on_event = screend_metrics_event; /* /metrics: calls by verdict, challenge outcomes */
	o->max_calls = c->max_calls;
	o->refer_timeout_ms = c->refer_timeout * 1000u;
	o->voicemail = c->vm_enabled;
	o->voicemail_on = c->vm_on;
	o->voicemail_max_ms = c->vm_max_seconds * 1000u;
	o->voicemail_silence_ms = c->vm_silence_seconds ? c->vm_silence_seconds * 1000u : PB_WAIT_FOREVER;
	o->voicemail_format = c->vm_format;
	o->voicemail_greeting = c->vm_greeting;
	size_t k = 0;
	for (size_t i = 0; i < c->npolicy; i++) {
		policy[k++] = c->policy_key[i];
		policy[k++] = c->policy_value[i];
	}
	policy[k] = NULL;
	o->policy = policy;
}

/* The registration password, if one is configured (pb_secret_read(): file
 * modes, systemd credentials); *out NULL without one. */
static int read_password(const screend_config *c, char **out)
{
	*out = NULL;
	return c->password_file[0] ? pb_secret_read(c->password_file, out) : 0;
}

/* A screener for @p c (not started), as run builds it. With @p lines (check),
 * the challenge modules get a ✓/✗ line each, and @p store replaces the
 * configured store. */
static int make_screener(const screend_config *c, const char *store, bool lines, pb_screener **out)
{
	const char *policy[2 * SCREEND_MAX_POLICY + 1];
	pb_screener_options o;
	char *password = NULL;
	*out = NULL;
	int rc = read_password(c, &password);
	fill_options(c, password, policy, &o);
	if (store)
		o.store = store;
	if (rc == 0)
		rc = pb_screener_new(out, &o);
	pb_secret_free(password);
	if (rc < 0 && lines)
		pbd_check_line(false, "the screener (store, prompts, password)", "%s", pb_error_last()->message);
	for (size_t i = 0; rc == 0 && i < c->nmodules; i++) {
		rc = pb_screener_load_challenge(*out, c->module_name[i], c->module_path[i]);
		if (lines) {
			char what[600];
			snprintf(what, sizeof(what), "[challenge %s] module %s", c->module_name[i], c->module_path[i]);
			pbd_check_line(rc == 0, what, "%s", rc < 0 ? pb_error_last()->message : "");
		}
	}
	if (rc < 0) {
		pb_screener_free(*out);
		*out = NULL;
	}
	return rc;
}

/* SIGHUP: a new configuration replaces policy, targets, allowed sources,
 * digest settings and prompts at once; a new listen address, port,
 * transport, RTP range, registration (or password) or store restarts the
 * agent as soon as no call is up (new calls get 503 until then). */
static void reload(daemon_t *d)
{
	if (!strcmp(d->conf_path, "-")) {
		LOG(PB_LOG_WARNING, "reload: the configuration came from standard input, which cannot be read "
				    "again: restart pb-screend with -c FILE to change it");
		return;
	}
	screend_config *c = malloc(sizeof(*c));
	char *password = NULL;
	const char *policy[2 * SCREEND_MAX_POLICY + 1];
	pb_screener_options o;
	bool restart = false;
	if (!c)
		return;
	int rc = load_config(d, c);
	if (rc == 0)
		rc = read_password(c, &password);
	if (rc == 0 && (c->nmodules != d->conf.nmodules ||
			memcmp(c->module_path, d->conf.module_path, sizeof(c->module_path)) ||
			memcmp(c->module_name, d->conf.module_name, sizeof(c->module_name))))
		rc = pb_error_set(PB_EINVAL, "[challenge NAME] modules are loaded at start: restart "
					     "pb-screend to change them");
	if (rc == 0) {
		fill_options(c, password, policy, &o);
		rc = pb_screener_reconfigure(d->screener, &o, &restart);
	}
	pb_secret_free(password);
	if (rc < 0) {
		LOG(PB_LOG_ERROR, "reload failed, keeping the old configuration: %s", pb_error_last()->message);
	} else {
		pb_log_set_level(c->log_level);
		if (strcmp(c->http_listen, d->conf.http_listen) != 0)
			LOG(PB_LOG_NOTICE, "[http] listen changed: it is read at start (restart pb-screend to move it)");
		snprintf(c->http_listen, sizeof(c->http_listen), "%s", d->conf.http_listen);
		screend_http_set_store(d->http, c->store);
		d->conf = *c;
		if (restart)
			LOG(PB_LOG_NOTICE, "configuration reloaded; listen, registration or store changed: the agent "
					   "restarts when no call is up (%zu now; new calls get 503 meanwhile)",
			    pb_screener_call_count(d->screener));
		else
			LOG(PB_LOG_NOTICE, "configuration reloaded");
	}
	free(c);
}

/* Two RTP sockets per bridged call: hundreds of calls need more than 1024 fds. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000L;
}

static int run(daemon_t *d)
{
	raise_fd_limit();
	int rc = make_screener(&d->conf, NULL, false, &d->screener);
	if (rc == 0)
		rc = pb_screener_start(d->screener);
	if (rc < 0) {
		fprintf(stderr, "pb-screend: %s\n", pb_error_last()->message);
		pb_screener_free(d->screener);
		return 1;
	}
	screend_metrics_declare();
	if ((rc = screend_http_start(&d->http, &d->conf, d->screener)) < 0) {
		fprintf(stderr, "pb-screend: [http] listen %s: %s\n", d->conf.http_listen, pb_error_last()->message);
		pb_screener_free(d->screener);
		return 1;
	}
	running = d->screener;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	LOG(PB_LOG_NOTICE, "pb-screend ready on %s:%u", d->conf.listen, pb_screener_port(d->screener));
	pbd_notify("READY=1\nSTATUS=taking calls on %s:%u", d->conf.listen, pb_screener_port(d->screener));
	long wd = pbd_watchdog_interval_ms();
	struct timespec last_wd;
	clock_gettime(CLOCK_MONOTONIC, &last_wd);
	bool stopping = false;
	int status = 0;
	while (!pb_screener_stopped(d->screener)) {
		if (pb_screener_step(d->screener, 100) == PB_EIO) {
			LOG(PB_LOG_ERROR, "%s", pb_error_last()->message);
			status = 1;
			break;
		}
		screend_http_publish(d->http, d->screener); /* /health's facts, the loop's heartbeat */
		if (wd > 0 && ms_since(&last_wd) >= wd) { /* from the loop itself: a stuck loop is restarted */
			pbd_notify("WATCHDOG=1");
			clock_gettime(CLOCK_MONOTONIC, &last_wd);
		}
		if (got_term && !stopping) {
			stopping = true;
			pbd_notify("STOPPING=1\nSTATUS=stopping: %zu call(s) in progress",
				   pb_screener_call_count(d->screener));
		}
		if (got_hup) {
			got_hup = 0;
			if (!stopping) {
				pbd_notify("RELOADING=1\nSTATUS=reloading the configuration");
				reload(d);
				pbd_notify("READY=1\nSTATUS=taking calls on %s:%u", d->conf.listen,
					   pb_screener_port(d->screener));
			}
		}
	}
	running = NULL;
	LOG(PB_LOG_NOTICE, "stopped");
	screend_http_free(d->http); /* its handlers read the screener: stop them first */
	d->http = NULL;
	pb_screener_free(d->screener);
	return status;
}

/* --- check --------------------------------------------------------------------------- */

typedef struct online_reg {
	int done; /* 1 registered, -1 failed */
} online_reg;

static void online_incoming(pb_sip_call *call, void *ud)
{
	(void)ud;
	pb_sip_call_reject(call, 503, "Service Unavailable"); /* only checking */
}

static void online_event(pb_sip_call *call, pb_sip_event ev, void *ud)
{
	online_reg *r = ud;
	if (!call && ev == PB_SIP_EV_REGISTERED)
		r->done = 1;
	else if (!call && ev == PB_SIP_EV_REGISTER_FAILED)
		r->done = -1;
}

/* check --online: REGISTER once where configured, from a free port (the
 * daemon may hold the configured one) on the listen address; pb_sip_free()
 * un-registers again. @return failed steps */
static int check_online(const screend_config *c)
{
	if (!c->registrar[0])
		return !pbd_check_line(true, "[register]", "no registrar configured: nothing to reach");
	char what[700];
	snprintf(what, sizeof(what), "[register] %s as %s", c->registrar, c->aor);
	char *password = NULL;
	if (read_password(c, &password) < 0)
		return !pbd_check_line(false, what, "%s", pb_error_last()->message);
	const char *policy[2 * SCREEND_MAX_POLICY + 1];
	pb_screener_options so;
	fill_options(c, password, policy, &so);
	pb_sip_options o = so.sip;
	o.port = PB_SIP_PORT_ANY;
	o.tls_cert_dir = NULL;
	o.tls_port = 0;
	online_reg r = { 0 };
	pb_sip_handlers h = { online_incoming, online_event, NULL, &r };
	pb_sip *ua = NULL;
	int rc = pb_sip_new(&ua, &o, &h);
	pb_secret_free(password);
	if (rc < 0)
		return !pbd_check_line(false, what, "%s", pb_error_last()->message);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!r.done && ms_since(&t0) < 20000)
		pb_sip_step(ua, 100);
	int status = pb_sip_last_register_status(ua);
	bool ok = r.done == 1;
	if (ok)
		pbd_check_line(true, what, "registered (%d)", status);
	else if (status)
		pbd_check_line(false, what, "the registrar answered %d", status);
	else
		pbd_check_line(false, what, "no answer in 20 s");
	pb_sip_free(ua);
	return ok ? 0 : 1;
}

/* "check": what run would refuse, one ✓/✗ line per step, exit 78 on a
 * failure. The files (check.c) first, then the screener built as run builds
 * it (password, store, prompts, challenge modules) and its policy checked
 * (pb_screener_check()) — without listening. */
static int cmd_check(daemon_t *d, bool online)
{
	pbd_check_line(true, strcmp(d->conf_path, "-") ? d->conf_path : "standard input", "read");
	int failed = screend_check(&d->conf);
	const char *what = "[policy] and its challenges";
	if (failed) {
		failed += !pbd_check_line(false, what, "not checked until the lines above pass");
	} else {
		char store[600];
		int rc = screend_check_store_begin(d->conf.store, store, sizeof(store));
		if (rc == 0)
			rc = make_screener(&d->conf, store, true, &d->screener);
		else
			pbd_check_line(false, d->conf.store_url_set ? "[store] url" : "[store] path", "%s",
				       pb_error_last()->message);
		if (rc == 0) {
			rc = pb_screener_check(d->screener);
			pbd_check_line(rc == 0, what, "%s", rc < 0 ? pb_error_last()->message : "");
		}
		pb_screener_free(d->screener);
		d->screener = NULL;
		screend_check_store_end(d->conf.store, store);
		failed += rc < 0;
	}
	if (failed)
		return EX_CONFIG;
	return online && check_online(&d->conf) ? EX_UNAVAILABLE : 0;
}

/* --- list commands ------------------------------------------------------------------- */

/* The commands open what run would and use its store and policy. */
static int open_for_command(daemon_t *d)
{
	int rc = make_screener(&d->conf, NULL, false, &d->screener);
	if (rc == 0) {
		d->store = pb_screener_store(d->screener);
		d->policy = pb_screener_policy(d->screener);
	}
	return rc;
}

static int list_of(const char *s)
{
	return !strcmp(s, "allow") ? PB_STORE_ALLOW : !strcmp(s, "deny") ? PB_STORE_DENY : 0;
}

static int normalize(daemon_t *d, const char *in, char *out, size_t cap)
{
	int kind = pb_screen_normalize_number(out, cap, in, pb_screen_policy_numbering(d->policy));
	if (kind != PB_SCREEN_NUMBER_E164 && kind != PB_SCREEN_NUMBER_SHORT)
		return pb_error_set(PB_EINVAL, "'%s' is not a number I can normalise", in);
	return 0;
}

/* machine output: one JSON document per line (jansson does the escaping);
 * indented with --pretty */
static bool pretty;

static int print_json(json_t *o)
{
	if (!o)
		return pb_error_set(PB_ENOMEM, "cannot build a JSON document");
	size_t flags = JSON_ENSURE_ASCII | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
	int rc = json_dumpf(o, stdout, flags) == 0 ? 0 : PB_EIO;
	json_decref(o);
	putchar('\n');
	return rc < 0 ? pb_error_set(rc, "cannot write a JSON document") : 0;
}

/* One call of the log: its time in UTC first, then every field of the row. */
static int print_call(const pb_store_call *c)
{
	time_t t = (time_t)(c->at / 1000);
	struct tm tm;
	char when[32];
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return print_json(json_pack("{s:s,s:I,s:I,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:i,s:I,s:s?,s:s?,s:s?,s:I}",
				    "time", when, "id", (json_int_t)c->id, "at_ms", (json_int_t)c->at,
				    "caller", c->caller, "called", c->called, "attestation", c->attestation,
				    "verdict", c->verdict, "rule", c->rule, "challenge", c->challenge,
				    "sip_status", c->sip_status, "duration_ms", (json_int_t)c->duration_ms,
				    "forward_target", c->forward_target, "ended", c->ended,
				    "source", c->source, "count", (json_int_t)(c->count ? c->count : 1)));
}

/* Every call logged, newest first, one JSON document each. */
static int cmd_calls(daemon_t *d)
{
	pb_store_call_list *l;
	int rc = pb_store_call_recent(d->store, 0, &l);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < l->count; i++)
		rc = print_call(&l->items[i]);
	pb_store_call_list_free(l);
	return rc;
}

/* One JSON document: the number and the list it is on, or null for "on no list". */
static int cmd_lookup(daemon_t *d, const char *number)
{
	char num[48];
	const char *list = NULL, *source = NULL;
	int rc = normalize(d, number, num, sizeof(num));
	for (int l = PB_STORE_ALLOW; rc == 0 && !list && l <= PB_STORE_DENY; l++) {
		pb_store_list_entry e;
		int r = pb_store_list_lookup(d->store, l, num, 0, &e);
		if (r == 0) {
			list = l == PB_STORE_ALLOW ? "allow" : "deny";
			source = pb_store_source_name(e.source);
		} else if (r != PB_ENOTFOUND) {
			rc = r;
		}
	}
	if (rc == 0)
		rc = print_json(json_pack("{s:s,s:s?,s:s?}", "number", num, "list", list, "source", source));
	return rc;
}

/* --- numbers: per-number settings in the store (docs/cluster.md) --- */

static int print_number(const pb_store_number *n, void *ud)
{
	(void)ud;
	return print_json(json_pack("{s:s,s:s?,s:s?,s:s?,s:I}", "number", n->number, "policy", n->policy,
				    "forward_target", n->forward_target, "voicemail", n->voicemail, "updated_at_ms",
				    (json_int_t)n->updated_at));
}

/* --voicemail: "record" (this node's recorder: [voicemail] enabled, which a
 * PostgreSQL store refuses), "off", or a SIP URI (a voicemail server).
 * @return 0 or PB_EINVAL saying why */
static int voicemail_value(const daemon_t *d, const char *v)
{
	if (!strcmp(v, "off"))
		return 0;
	if (!strcmp(v, "record")) {
		if (d->conf.store_url_set)
			return pb_error_set(PB_EINVAL,
					    "--voicemail record: a PostgreSQL store has no journal for recordings "
					    "(docs/cluster.md): give a voicemail server's URI, or off");
		if (!d->conf.vm_enabled)
			return pb_error_set(PB_EINVAL,
					    "--voicemail record: [voicemail] enabled is not yes in %s: nothing would record",
					    d->conf_path);
		return 0;
	}
	bool sip = !strncmp(v, "sip:", 4) || !strncmp(v, "sips:", 5);
	size_t host = strcspn(v, ":") + 1;
	if (!sip || !v[host] || strpbrk(v, " \t\r\n,<>\""))
		return pb_error_set(PB_EINVAL, "--voicemail '%s': expected record, off or a SIP URI (sip:user@host)", v);
	return 0;
}

/* numbers set NUMBER [--policy TEXT] [--forward URI] [--voicemail record|off|URI]:
 * the policy is checked (as a call would build it) and the voicemail value
 * read before they are stored. */
static int numbers_set(daemon_t *d, int argc, char **argv, bool *usage_err)
{
	char num[48];
	pb_store_number n = { NULL, NULL, NULL, NULL, 0 };
	for (int i = 1; i < argc; i += 2) {
		const char **dst = !strcmp(argv[i], "--policy") ? &n.policy
				   : !strcmp(argv[i], "--forward") ? &n.forward_target
				   : !strcmp(argv[i], "--voicemail") ? &n.voicemail : NULL;
		if (dst == NULL || i + 1 >= argc) {
			fprintf(stderr, "pb-screend: numbers set: %s %s\n",
				dst ? "this option needs a value:" : "unknown option", argv[i]);
			*usage_err = true;
			return PB_EINVAL;
		}
		*dst = argv[i + 1];
	}
	int rc = normalize(d, argv[0], num, sizeof(num));
	n.number = num;
	pb_screen_policy *p = NULL;
	if (rc == 0 && (rc = pb_screener_number_policy(d->screener, n.policy, &p)) == 0)
		pb_screen_policy_free(p);
	if (rc == 0 && n.voicemail && *n.voicemail)
		rc = voicemail_value(d, n.voicemail);
	if (rc == 0)
		rc = pb_store_number_set(d->store, &n);
	if (rc == 0)
		printf("%s: settings stored\n", num);
	return rc;
}

static int cmd_numbers(daemon_t *d, int argc, char **argv, bool *usage_err)
{
	char num[48];
	int rc;
	if (argc == 1 && !strcmp(argv[0], "list"))
		return pb_store_number_foreach(d->store, NULL, 0, print_number, NULL);
	if (argc >= 2 && !strcmp(argv[0], "set"))
		return numbers_set(d, argc - 1, argv + 1, usage_err);
	if (argc == 2 && !strcmp(argv[0], "show")) {
		pb_store_number *n;
		if ((rc = normalize(d, argv[1], num, sizeof(num))) == 0 && (rc = pb_store_number_get(d->store, num, &n)) == 0) {
			rc = print_number(n, NULL);
			pb_store_number_free(n);
		}
		return rc;
	}
	if (argc == 2 && !strcmp(argv[0], "remove")) {
		if ((rc = normalize(d, argv[1], num, sizeof(num))) == 0 && (rc = pb_store_number_remove(d->store, num)) == 0)
			printf("%s: settings removed (the defaults apply)\n", num);
		return rc;
	}
	fprintf(stderr, "pb-screend: wrong arguments for numbers\n");
	*usage_err = true;
	return PB_EINVAL;
}

static void usage(FILE *f);

static int command(daemon_t *d, int argc, char **argv)
{
	const char *cmd = argv[0];
	char num[48];
	bool usage_err = false;
	int rc = open_for_command(d);
	/* calls: JSON lines is the one output; --json is accepted as its explicit spelling */
	if (rc == 0 && !strcmp(cmd, "calls") && (argc == 1 || (argc == 2 && !strcmp(argv[1], "--json")))) {
		rc = cmd_calls(d);
	} else if (rc == 0 && (!strcmp(cmd, "allow") || !strcmp(cmd, "deny")) && argc == 2) {
		rc = normalize(d, argv[1], num, sizeof(num));
		if (rc == 0)
			rc = pb_store_list_add(d->store, list_of(cmd), num, PB_STORE_SRC_MANUAL, 0);
		if (rc == 0)
			printf("%s added to the %s list\n", num, cmd);
	} else if (rc == 0 && !strcmp(cmd, "remove") && argc == 3 && list_of(argv[1])) {
		rc = normalize(d, argv[2], num, sizeof(num));
		if (rc == 0)
			rc = pb_store_list_remove(d->store, list_of(argv[1]), num);
		if (rc == 0)
			printf("%s removed from the %s list\n", num, argv[1]);
	} else if (rc == 0 && !strcmp(cmd, "lookup") && argc == 2) {
		rc = cmd_lookup(d, argv[1]);
	} else if (rc == 0 && !strcmp(cmd, "numbers") && argc >= 2) {
		rc = cmd_numbers(d, argc - 1, argv + 1, &usage_err);
		if (usage_err) {
			usage(stderr);
			rc = 0;
		}
	} else if (rc == 0) {
		fprintf(stderr, "pb-screend: wrong arguments for %s\n", cmd);
		usage(stderr);
		usage_err = true;
	}
	if (rc < 0 && pb_error_last()->code)
		fprintf(stderr, "pb-screend: %s\n", pb_error_last()->message);
	pb_screener_free(d->screener);
	return usage_err ? EX_USAGE : rc < 0 ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pb-screend [OPTIONS] [run]\n"
		   "       pb-screend [OPTIONS] check [--online] | calls [--json] | lookup NUMBER\n"
		   "       pb-screend [OPTIONS] allow NUMBER | deny NUMBER | remove allow|deny NUMBER\n"
		   "       pb-screend [OPTIONS] status [--json]   the running daemon's /health\n"
		   "       pb-screend [OPTIONS] numbers list | show NUMBER | remove NUMBER\n"
		   "       pb-screend [OPTIONS] numbers set NUMBER [--policy 'KEY=VALUE; ...'] [--forward URI]\n"
		   "                                       [--voicemail record|off|URI]\n"
		   "  -c, --config FILE      default /etc/phonebridge/pb-screend.conf\n"
		   "      --log-format FMT   text (default: \"<level>domain: message\") or json\n"
		   "      --pretty           calls, lookup, status --json: indent the JSON (default: one document a line)\n"
		   "  -h, --help             this text\n"
		   "      --version          the version\n"
		   "exit status: 0, 1 a failure at start (status: running but unhealthy), 64 usage,\n"
		   "             69 check --online failed (status: the daemon not running), 78 configuration;\n"
		   "             see pb-screend(8)\n");
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "pb-screend: %s%s\n", what, arg);
	usage(stderr);
	return EX_USAGE;
}

static bool known_command(const char *cmd)
{
	static const char *const cmds[] = { "run", "check", "calls", "lookup", "allow", "deny", "remove", "status", "numbers", NULL };
	for (size_t i = 0; cmds[i]; i++)
		if (!strcmp(cmd, cmds[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static daemon_t d;
	d.conf_path = "/etc/phonebridge/pb-screend.conf";
	enum { OPT_VERSION = 256, OPT_LOG_FORMAT };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "pretty", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	pbd_log_format fmt = PBD_LOG_TEXT;
	int opt;
	opterr = 0;
	/* '+': options come before the command; its arguments may start with '-' */
	while ((opt = getopt_long(argc, argv, "+:c:h", longopts, NULL)) != -1) {
		if (opt == 'c')
			d.conf_path = optarg;
		else if (opt == 'P')
			pretty = true;
		else if (opt == 'h')
			return usage(stdout), 0;
		else if (opt == OPT_VERSION)
			return printf("pb-screend (libphonebridge) %s\n", pb_version_string()), 0;
		else if (opt == OPT_LOG_FORMAT && !pbd_log_format_parse(optarg, &fmt))
			return usage_error("--log-format is text or json, not ", optarg);
		else if (opt == ':')
			return usage_error("this option needs a value: ", argv[optind - 1]);
		else if (opt == '?')
			return usage_error("unknown option ", argv[optind - 1]);
	}
	if (optind < argc && !known_command(argv[optind]))
		return usage_error("unknown command ", argv[optind]);
	pbd_log_setup("pb-screend", fmt);
	pb_log_set_callback(log_to_stderr, NULL);
	bool check = optind < argc && !strcmp(argv[optind], "check");
	if (load_config(&d, &d.conf) < 0) {
		if (check)
			pbd_check_line(false, strcmp(d.conf_path, "-") ? d.conf_path : "standard input", "%s", pb_error_last()->message);
		else
			fprintf(stderr, "pb-screend: %s\n", pb_error_last()->message);
		return EX_CONFIG;
	}
	pb_log_set_level(d.conf.log_level);
	if (check && optind + 1 < argc && (strcmp(argv[optind + 1], "--online") != 0 || optind + 2 < argc))
		return usage_error("check takes no argument but --online: ", argv[argc - 1]);
	if (check)
		return cmd_check(&d, optind + 1 < argc);
	if (optind < argc && !strcmp(argv[optind], "status")) {
		bool json = false;
		for (int i = optind + 1; i < argc; i++) {
			if (!strcmp(argv[i], "--json"))
				json = true;
			else if (!strcmp(argv[i], "--pretty"))
				pretty = true;
			else
				return usage_error("status takes --json and --pretty, not ", argv[i]);
		}
		if (pretty && !json)
			return usage_error("status: --pretty goes with --json", "");
		return pbd_status_main("pb-screend", d.conf_path, d.conf.http_listen, json, pretty);
	}
	if (optind < argc && strcmp(argv[optind], "run") != 0)
		return command(&d, argc - optind, argv + optind);
	return run(&d);
}
