/*
 * pb-bridged — the phone number inside Matrix (see docs/bridge.md and
 * pb-bridged(8)).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bridge.h"
#include "daemon.h"
#include "http.h"
#include "metrics.h"

#include <errno.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_CONFIG "/etc/phonebridge/bridge.ini"

static void usage(FILE *f)
{
	fprintf(f, "usage: pb-bridged [OPTIONS] run\n"
		   "       pb-bridged [OPTIONS] check [--online]\n"
		   "       pb-bridged [OPTIONS] backup FILE\n"
		   "       pb-bridged [OPTIONS] status [--json [--pretty]]\n"
		   "       pb-bridged [OPTIONS] generate-registration FILE\n"
		   "  -c, --config FILE      the INI configuration (default " DEFAULT_CONFIG ")\n"
		   "      --online           check: also reach the modem, the homeserver and the MMSC\n"
		   "      --json             status: the running daemon's /health document\n"
		   "      --pretty           status --json: indented\n"
		   "      --generate-registration FILE\n"
		   "                         the same as the command generate-registration FILE\n"
		   "  -v, --verbose          log debug lines too\n"
		   "  -q, --quiet            log warnings and errors only\n"
		   "      --log-format FMT   text (default: \"<level>domain: message\") or json\n"
		   "  -h, --help             this text\n"
		   "      --version          the version\n"
		   "exit status: 0, 1 status: running but unhealthy, 64 usage, 66 no store,\n"
		   "             69 a peer unavailable (status: the daemon not running), 73 the backup or\n"
		   "             registration exists,\n"
		   "             74 I/O, 78 configuration\n"
		   "(\"--check\" is a deprecated spelling of \"check\"); see pb-bridged(8)\n");
}

/* what was wrong, then the usage: exit status 64 */
static int usage_error(const char *fmt, ...) PB_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pb-bridged: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return EX_USAGE;
}

typedef struct sig_ctx {
	pbb *b;
	sigset_t set;
} sig_ctx;

/*
 * The watchdog proves progress, not only that this thread lives: WATCHDOG=1
 * only while every stage has beaten within [bridge] stall_timeout_ms. A
 * stuck stage stops the pings (said once, in the log and STATUS=), and
 * systemd restarts the daemon after WatchdogSec=.
 */
static void watchdog_ping(bool *stuck_said)
{
	long quiet = 0;
	const char *stuck = pbd_stage_stuck(&quiet);
	if (!stuck) {
		if (*stuck_said) {
			pbb_log(PB_LOG_NOTICE, "every stage makes progress again: watchdog pings resumed");
			pbd_notify("STATUS=running");
		}
		*stuck_said = false;
		pbd_notify("WATCHDOG=1");
		return;
	}
	if (!*stuck_said) {
		pbb_log(PB_LOG_ERROR, "stage %s made no progress for %ld s: watchdog pings withheld", stuck,
			quiet / 1000);
		pbd_notify("STATUS=stage %s stuck for %ld s", stuck, quiet / 1000);
	}
	*stuck_said = true;
}

/* Signals, and the watchdog: WATCHDOG=1 every half of WatchdogSec=. */
static void *signal_main(void *arg)
{
	sig_ctx *s = arg;
	long wd = pbd_watchdog_interval_ms();
	bool stuck_said = false;
	for (;;) {
		int sig;
		if (wd > 0) {
			struct timespec ts = { wd / 1000, (wd % 1000) * 1000000L };
			sig = sigtimedwait(&s->set, NULL, &ts);
			if (sig < 0) {
				if (errno == EAGAIN)
					watchdog_ping(&stuck_said);
				continue;
			}
		} else if (sigwait(&s->set, &sig) != 0) {
			continue;
		}
		if (sig == SIGUSR1) /* pbb_run finished: the main thread wakes us to leave */
			return NULL;
		pbb_log(PB_LOG_NOTICE, "signal %d: stopping", sig);
		pbd_notify("STOPPING=1\nSTATUS=stopping (signal %d)", sig);
		pbb_stop(s->b);
	}
}

/* "backup FILE": the journal (SQLite online backup, consistent while the
 * daemon runs) and its attachments beside FILE; the copy leaves out the
 * journal's identity (bridge.store_id), so that a restored store makes a new one. */
static int backup(const pbb_config *cfg, const char *file)
{
	struct stat sb;
	if (stat(cfg->store_path, &sb) != 0) {
		fprintf(stderr, "pb-bridged: backup: no store at %s: %s\n", cfg->store_path, strerror(errno));
		return EX_NOINPUT;
	}
	pb_store *st = NULL, *copy = NULL;
	size_t n = 0;
	int rc = pb_store_open(&st, cfg->store_path, NULL);
	if (rc == 0)
		rc = pb_store_backup(st, file, &n);
	pb_store_close(st);
	if (rc == 0)
		rc = pb_store_open(&copy, file, NULL);
	if (rc == 0)
		rc = pb_store_kv_delete(copy, "bridge.store_id");
	pb_store_close(copy);
	if (rc < 0) {
		fprintf(stderr, "pb-bridged: backup: %s\n", pb_error_last()->message);
		return rc == PB_EEXISTS ? EX_CANTCREAT : EX_IOERR;
	}
	printf("%s: the journal of %s and %zu attachment(s) in %s.attachments\n", file, cfg->store_path, n, file);
	return 0;
}

static int run(pbb_config *cfg)
{
#ifdef __GLIBC__
	/*
	 * One malloc arena for every thread. The threads (sync, modem watch,
	 * delivery, signals) hand work to each other through the journal at
	 * SMS rates, so they never contend for the allocator; an arena each
	 * kept ~0.4 MiB more resident (docs/bridge.md, Figures).
	 */
	mallopt(M_ARENA_MAX, 1);
#endif
	sig_ctx sc;
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGHUP);
	sigaddset(&sc.set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
	signal(SIGPIPE, SIG_IGN);

	pbb *b = NULL;
	if (pbb_new(&b, cfg) < 0)
		return EX_UNAVAILABLE;
	sc.b = b;
	/* [http] listen: /health, /metrics, the status page (http.c); a
	 * configured address that cannot be had is a reason not to start */
	pbb_metrics_declare();
	pbb_http *http = NULL;
	if (pbb_http_new(&http, cfg, b) < 0 || (http && pbb_http_start(http) < 0)) {
		pbb_http_free(http);
		pbb_free(b);
		return EX_UNAVAILABLE;
	}
	pthread_t st;
	if (pthread_create(&st, NULL, signal_main, &sc) != 0) {
		pbb_http_free(http);
		pbb_free(b);
		return EX_OSERR;
	}
	int rc = pbb_run(b);
	pthread_kill(st, SIGUSR1);
	pthread_join(st, NULL);
	pbb_log(PB_LOG_NOTICE, "stopped");
	pbb_http_free(http);
	pbb_free(b);
	return rc == 0 ? 0 : EX_UNAVAILABLE;
}

int main(int argc, char **argv)
{
	enum { OPT_ONLINE = 256, OPT_CHECK, OPT_VERSION, OPT_LOG_FORMAT, OPT_JSON, OPT_PRETTY, OPT_GENREG };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "online", no_argument, NULL, OPT_ONLINE },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "pretty", no_argument, NULL, OPT_PRETTY },
		{ "generate-registration", required_argument, NULL, OPT_GENREG },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = DEFAULT_CONFIG;
	bool check = false, online = false, status = false, json = false, pretty = false;
	const char *registration = NULL;
	pbd_log_format fmt = PBD_LOG_TEXT;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'v': pb_log_set_level(PB_LOG_DEBUG); break;
		case 'q': pb_log_set_level(PB_LOG_WARNING); break;
		case 'h': usage(stdout); return 0;
		case OPT_ONLINE: online = true; break;
		case OPT_CHECK: check = true; break; /* deprecated spelling of "check" */
		case OPT_JSON: json = true; break;
		case OPT_PRETTY: pretty = true; break;
		case OPT_GENREG: registration = optarg; break;
		case OPT_VERSION: printf("pb-bridged (libphonebridge) %s\n", pb_version_string()); return 0;
		case OPT_LOG_FORMAT:
			if (!pbd_log_format_parse(optarg, &fmt))
				return usage_error("--log-format: \"%s\" is neither text nor json", optarg);
			break;
		case ':': return usage_error("%s needs a value", argv[optind - 1]);
		default: return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	const char *backup_file = NULL;
	if (optind < argc) {
		const char *cmd = argv[optind++];
		if (!strcmp(cmd, "check"))
			check = true;
		else if (!strcmp(cmd, "status"))
			status = true;
		else if (!strcmp(cmd, "backup") && optind < argc)
			backup_file = argv[optind++];
		else if (!strcmp(cmd, "backup"))
			return usage_error("%s", "backup: the file to write is needed");
		else if (!strcmp(cmd, "generate-registration") && optind < argc)
			registration = argv[optind++];
		else if (!strcmp(cmd, "generate-registration"))
			return usage_error("%s", "generate-registration: the file to write is needed");
		else if (strcmp(cmd, "run") != 0)
			return usage_error("unknown command \"%s\" (run, check, status, backup or generate-registration)", cmd);
		if (optind < argc)
			return usage_error("unexpected argument \"%s\"", argv[optind]);
	}
	if (online && !check)
		return usage_error("%s: --online goes with check", "run");
	if ((json || pretty) && !status)
		return usage_error("%s", "--json and --pretty go with status");
	if (pretty && !json)
		return usage_error("%s", "status: --pretty goes with --json");
	pbd_log_setup("pb-bridged", fmt);
	pb_log_set_callback(pbd_log_sink, NULL);

	pbb_config cfg;
	char err[512] = "";
	if (pbb_config_load(&cfg, config, err, sizeof(err)) < 0) {
		if (check)
			pbd_check_line(false, strcmp(config, "-") ? config : "standard input", "%s", err);
		else
			fprintf(stderr, "pb-bridged: %s: %s\n", config, err);
		pbb_config_free(&cfg);
		return EX_CONFIG;
	}
	int rc;
	if (status) {
		/* appservice mode: /health is on the application service's listener */
		const char *at = cfg.http_listen ? cfg.http_listen
			       : cfg.mode == PBB_MODE_APPSERVICE ? pbb_as_listen(&cfg) : NULL;
		rc = pbd_status_main("pb-bridged", config, at, json, pretty);
	} else if (registration && cfg.mode != PBB_MODE_APPSERVICE) {
		fprintf(stderr, "pb-bridged: %s: generate-registration needs [matrix] mode = appservice\n", config);
		rc = EX_CONFIG;
	} else if (registration) {
		int g = pbb_as_generate(&cfg, registration, stdout);
		if (g < 0)
			fprintf(stderr, "pb-bridged: generate-registration: %s\n", pb_error_last()->message);
		rc = g == 0 ? 0 : g == PB_EEXISTS ? EX_CANTCREAT : g == PB_EINVAL ? EX_CONFIG : EX_IOERR;
	} else if (backup_file) {
		rc = backup(&cfg, backup_file);
	} else if (check) {
		pbd_check_line(true, strcmp(config, "-") ? config : "standard input", "read");
		rc = pbb_check_config(&cfg, true) ? EX_CONFIG : 0;
		if (rc == 0 && online)
			rc = pbb_check_online(&cfg) ? EX_UNAVAILABLE : 0;
	} else {
		/* what "check" refuses, "run" refuses too, before it starts */
		rc = pbb_check_config(&cfg, false) ? EX_CONFIG : run(&cfg);
	}
	pbb_config_free(&cfg);
	return rc;
}
