/*
 * pb-screend — SIP call screening daemon: a thin program over pb_screener.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The screener (phonebridge/screener.h) does the work: policy, challenges,
 * media, forwarding, allow list and call log on one loop. This program reads
 * the INI file and the password file, handles signals (SIGHUP reconfigures,
 * SIGTERM drains) and the list commands. Only the public API of
 * libphonebridge is used. docs/man/pb-screend.8.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <phonebridge/phonebridge.h>

#include "config.h"

typedef struct daemon {
	screend_config conf;
	const char *conf_path;
	pb_screener *screener;
	/* for the list commands */
	pb_store *store;
	const pb_screen_policy *policy;
} daemon_t;

static pb_screener *volatile running;
static volatile sig_atomic_t got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (running)
		pb_screener_stop(running);
}

static void log_to_stderr(int level, const char *domain, const char *msg, void *ud)
{
	(void)ud;
	fprintf(stderr, "<%d>%s: %s\n", level, domain, msg);
}

#define LOG(level, ...) pb_log(level, "screend", __VA_ARGS__)

static int read_secret(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return pb_error_set(PB_EIO, "%s: %s", path, strerror(errno));
	}
	if (st.st_mode & 077) {
		close(fd);
		return pb_error_set(PB_EAUTH, "%s: readable by others (mode %o): chmod 600 it", path,
				    (unsigned)(st.st_mode & 0777));
	}
	ssize_t n = read(fd, out, cap - 1);
	close(fd);
	if (n < 0)
		return pb_error_set(PB_EIO, "%s: %s", path, strerror(errno));
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

static int load_config(daemon_t *d, screend_config *c)
{
	char err[300];
	if (screend_config_load(c, d->conf_path, err, sizeof(err)) < 0)
		return pb_error_set(PB_EINVAL, "%s: %s", d->conf_path, err);
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
	so->password = opt_str(password);
	so->register_expires = c->register_expires;
	so->bridge_timeout = c->forward_timeout;
	so->auth_realm = opt_str(c->auth_realm);
	so->auth_users_file = opt_str(c->auth_users_file);
	so->admit = c->auth_and ? PB_SIP_ADMIT_ADDRESS_AND_DIGEST : PB_SIP_ADMIT_ADDRESS_OR_DIGEST;
	so->auth_nonce_ttl = c->auth_nonce_ttl;
	so->tls_cert_dir = opt_str(c->tls_cert_dir);
	so->tls_port = c->tls_port;
	o->store = c->store;
	o->prompts = c->prompts;
	o->mode = c->mode;
	o->target = c->target;
	o->fallback = opt_str(c->fallback);
	o->refer_fallback = c->refer_fallback;
	o->ring = c->ring;
	o->early_media = c->early_media;
	o->max_duration = c->max_duration;
	size_t k = 0;
	for (size_t i = 0; i < c->npolicy; i++) {
		policy[k++] = c->policy_key[i];
		policy[k++] = c->policy_value[i];
	}
	policy[k] = NULL;
	o->policy = policy;
}

/* A screener for @p c (not started). */
static int make_screener(const screend_config *c, pb_screener **out)
{
	char password[256] = "";
	const char *policy[2 * SCREEND_MAX_POLICY + 1];
	pb_screener_options o;
	int rc = 0;
	if (c->password_file[0])
		rc = read_secret(c->password_file, password, sizeof(password));
	fill_options(c, password, policy, &o);
	if (rc == 0)
		rc = pb_screener_new(out, &o);
	explicit_bzero(password, sizeof(password));
	for (size_t i = 0; rc == 0 && i < c->nmodules; i++)
		rc = pb_screener_load_challenge(*out, c->module_name[i], c->module_path[i]);
	if (rc < 0 && *out) {
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
	screend_config *c = malloc(sizeof(*c));
	char password[256] = "";
	const char *policy[2 * SCREEND_MAX_POLICY + 1];
	pb_screener_options o;
	bool restart = false;
	if (!c)
		return;
	int rc = load_config(d, c);
	if (rc == 0 && c->password_file[0])
		rc = read_secret(c->password_file, password, sizeof(password));
	if (rc == 0 && (c->nmodules != d->conf.nmodules ||
			memcmp(c->module_path, d->conf.module_path, sizeof(c->module_path)) ||
			memcmp(c->module_name, d->conf.module_name, sizeof(c->module_name))))
		rc = pb_error_set(PB_EINVAL, "[challenge NAME] modules are loaded at start: restart "
					     "pb-screend to change them");
	if (rc == 0) {
		fill_options(c, password, policy, &o);
		rc = pb_screener_reconfigure(d->screener, &o, &restart);
	}
	explicit_bzero(password, sizeof(password));
	if (rc < 0) {
		LOG(PB_LOG_ERROR, "reload failed, keeping the old configuration: %s", pb_error_last()->message);
	} else {
		pb_log_set_level(c->log_level);
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

static int run(daemon_t *d)
{
	raise_fd_limit();
	int rc = make_screener(&d->conf, &d->screener);
	if (rc == 0)
		rc = pb_screener_start(d->screener);
	if (rc < 0) {
		fprintf(stderr, "pb-screend: %s\n", pb_error_last()->message);
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
	int status = 0;
	while (!pb_screener_stopped(d->screener)) {
		if (pb_screener_step(d->screener, 100) == PB_EIO) {
			LOG(PB_LOG_ERROR, "%s", pb_error_last()->message);
			status = 1;
			break;
		}
		if (got_hup) {
			got_hup = 0;
			reload(d);
		}
	}
	running = NULL;
	LOG(PB_LOG_NOTICE, "stopped");
	pb_screener_free(d->screener);
	return status;
}

/* --- list commands ------------------------------------------------------------------- */

/* The commands open what run would (so check fails where run would) and use its store and policy. */
static int open_for_command(daemon_t *d, bool check)
{
	int rc = make_screener(&d->conf, &d->screener);
	if (rc == 0 && check)
		rc = pb_screener_check(d->screener);
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

/* One JSON object per line (jansson does the escaping), newest first. */
static int print_call_json(const pb_store_call *c)
{
	json_t *o = json_pack("{s:I,s:I,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:i,s:I,s:s?,s:s?}",
			      "id", (json_int_t)c->id, "at_ms", (json_int_t)c->at, "caller", c->caller,
			      "called", c->called, "attestation", c->attestation, "verdict", c->verdict,
			      "rule", c->rule, "challenge", c->challenge, "sip_status", c->sip_status,
			      "duration_ms", (json_int_t)c->duration_ms, "forward_target", c->forward_target,
			      "ended", c->ended);
	if (!o)
		return pb_error_set(PB_ENOMEM, "cannot build a JSON line");
	int rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) == 0 ? 0 : PB_EIO;
	json_decref(o);
	putchar('\n');
	return rc < 0 ? pb_error_set(rc, "cannot write a JSON line") : 0;
}

static int cmd_calls(daemon_t *d, bool json)
{
	pb_store_call_list *l;
	int rc = pb_store_call_recent(d->store, json ? 0 : 50, &l);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < l->count; i++) {
		const pb_store_call *c = &l->items[i];
		if (json) {
			rc = print_call_json(c);
			continue;
		}
		time_t t = (time_t)(c->at / 1000);
		struct tm tm;
		char when[32];
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%s  %-16s %-9s %-24s %-28s %-16s %3d  %s\n", when, c->caller ? c->caller : "-",
		       c->verdict ? c->verdict : "-", c->challenge ? c->challenge : "-",
		       c->forward_target ? c->forward_target : "-", c->rule ? c->rule : "-", c->sip_status,
		       c->ended ? c->ended : "-");
	}
	pb_store_call_list_free(l);
	return rc;
}

static int command(daemon_t *d, int argc, char **argv)
{
	const char *cmd = argv[0];
	char num[48];
	int rc = open_for_command(d, !strcmp(cmd, "check"));
	if (rc == 0 && !strcmp(cmd, "calls") && (argc == 1 || (argc == 2 && !strcmp(argv[1], "--json")))) {
		rc = cmd_calls(d, argc == 2);
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
	} else if (rc == 0 && !strcmp(cmd, "check")) {
		printf("%s: configuration is valid\n", d->conf_path);
	} else if (rc == 0 && !strcmp(cmd, "lookup") && argc == 2) {
		rc = normalize(d, argv[1], num, sizeof(num));
		bool listed = false;
		for (int l = PB_STORE_ALLOW; rc == 0 && l <= PB_STORE_DENY; l++) {
			pb_store_list_entry e;
			int r = pb_store_list_lookup(d->store, l, num, 0, &e);
			if (r == 0)
				printf("%s: on the %s list (%s)\n", num, l == PB_STORE_ALLOW ? "allow" : "deny",
				       pb_store_source_name(e.source));
			else if (r != PB_ENOTFOUND)
				rc = r;
			listed |= r == 0;
		}
		if (rc == 0 && !listed)
			printf("%s: on no list\n", num);
	} else if (rc == 0) {
		fprintf(stderr, "pb-screend: unknown command or wrong arguments: %s (see pb-screend(8))\n", cmd);
		rc = PB_EINVAL;
	}
	if (rc < 0 && pb_error_last()->code)
		fprintf(stderr, "pb-screend: %s\n", pb_error_last()->message);
	pb_screener_free(d->screener);
	return rc < 0 ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pb-screend [-c CONFIG] [run]\n"
		   "       pb-screend [-c CONFIG] check | calls [--json] | lookup NUMBER\n"
		   "       pb-screend [-c CONFIG] allow NUMBER | deny NUMBER | remove allow|deny NUMBER\n"
		   "default CONFIG: /etc/phonebridge/pb-screend.conf; see pb-screend(8)\n");
}

int main(int argc, char **argv)
{
	static daemon_t d;
	d.conf_path = "/etc/phonebridge/pb-screend.conf";
	int opt;
	while ((opt = getopt(argc, argv, "+c:h")) != -1) {
		if (opt == 'c') {
			d.conf_path = optarg;
		} else {
			usage(opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	pb_log_set_callback(log_to_stderr, NULL);
	if (load_config(&d, &d.conf) < 0) {
		fprintf(stderr, "pb-screend: %s\n", pb_error_last()->message);
		return 1;
	}
	pb_log_set_level(d.conf.log_level);
	if (optind < argc && strcmp(argv[optind], "run") != 0)
		return command(&d, argc - optind, argv + optind);
	return run(&d);
}
