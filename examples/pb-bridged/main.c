/*
 * pb-bridged — the phone number inside Matrix (see docs/bridge.md and
 * pb-bridged(8)).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bridge.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: pb-bridged [-v] [-q] -c CONFIG\n"
		   "       pb-bridged --check -c CONFIG\n"
		   "  -c, --config FILE  the INI configuration (see pb-bridged(8))\n"
		   "      --check        read the configuration, say what is wrong, exit\n"
		   "  -v, --verbose      log debug lines too\n"
		   "  -q, --quiet        log warnings and errors only\n"
		   "      --version      print the library version\n");
}

static void log_sink(int level, const char *domain, const char *message, void *ud)
{
	(void)ud;
	pbb_log(level, "[%s] %s", domain ? domain : "lib", message);
}

typedef struct sig_ctx {
	pbb *b;
	sigset_t set;
} sig_ctx;

static void *signal_main(void *arg)
{
	sig_ctx *s = arg;
	int sig = 0;
	for (;;) {
		if (sigwait(&s->set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) /* pbb_run finished: the main thread wakes us to leave */
			return NULL;
		pbb_log(PB_LOG_NOTICE, "signal %d: stopping", sig);
		pbb_stop(s->b);
	}
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	bool check = false;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
			config = argv[++i];
		else if (!strcmp(argv[i], "--check"))
			check = true;
		else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			pb_log_set_level(PB_LOG_DEBUG);
		else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			pb_log_set_level(PB_LOG_WARNING);
		else if (!strcmp(argv[i], "--version")) {
			printf("pb-bridged %s\n", pb_version_string());
			return 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!config) {
		usage(stderr);
		return 2;
	}
	pb_log_set_callback(log_sink, NULL);
#ifdef __GLIBC__
	/*
	 * One malloc arena for every thread. The threads (sync, modem watch,
	 * delivery, signals) hand work to each other through the journal at
	 * SMS rates, so they never contend for the allocator; an arena each
	 * kept ~0.4 MiB more resident (docs/bridge.md, Figures).
	 */
	mallopt(M_ARENA_MAX, 1);
#endif
	pbb_config cfg;
	char err[512] = "";
	if (pbb_config_load(&cfg, config, err, sizeof(err)) < 0) {
		fprintf(stderr, "pb-bridged: %s: %s\n", config, err);
		pbb_config_free(&cfg);
		return 1;
	}
	/* the secrets' modes, checked now rather than at first use */
	const char *secrets[] = { cfg.token_file, cfg.modem_password_file, cfg.modem_token_file };
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		char *s = NULL;
		if (secrets[i] && pb_matrix_read_secret_file(secrets[i], &s) < 0) {
			fprintf(stderr, "pb-bridged: %s: %s\n", secrets[i], pb_error_last()->message);
			pbb_config_free(&cfg);
			return 1;
		}
		if (s) {
			memset(s, 0, strlen(s));
			pb_free(s);
		}
	}
	if (check) {
		printf("%s: ok\n", config);
		pbb_config_free(&cfg);
		return 0;
	}

	sig_ctx sc;
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGHUP);
	sigaddset(&sc.set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
	signal(SIGPIPE, SIG_IGN);

	pbb *b = NULL;
	if (pbb_new(&b, &cfg) < 0) {
		pbb_config_free(&cfg);
		return 1;
	}
	sc.b = b;
	pthread_t st;
	if (pthread_create(&st, NULL, signal_main, &sc) != 0) {
		pbb_free(b);
		pbb_config_free(&cfg);
		return 1;
	}
	int rc = pbb_run(b);
	pthread_kill(st, SIGUSR1);
	pthread_join(st, NULL);
	pbb_log(PB_LOG_NOTICE, "stopped");
	pbb_free(b);
	pbb_config_free(&cfg);
	return rc == 0 ? 0 : 1;
}
