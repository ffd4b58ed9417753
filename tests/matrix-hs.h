/*
 * libphonebridge tests — start and drive the homeserver emulator
 * (tests/matrix-homeserver.py) from a C test. Header-only: static functions.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_TESTS_MATRIX_HS_H
#define PB_TESTS_MATRIX_HS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

extern char **environ;

typedef struct test_hs {
	pid_t pid;
	int port;
	int life; /* write end of the emulator's stdin */
	char url[64];
} test_hs;

/* Start the emulator and wait (up to 60 s) for its "port N" line. With
 * @tls_dir, it serves https with tls-cert.pem/tls-key.pem from there. */
static int test_hs_start_tls(test_hs *hs, const char *tls_dir)
{
	const char *root = getenv("PB_SOURCE_ROOT");
	const char *py = getenv("PB_PYTHON");
	char script[4096];
	snprintf(script, sizeof(script), "%s/tests/matrix-homeserver.py", root ? root : ".");
	if (py == NULL || access(py, X_OK) != 0)
		py = "/usr/bin/python3";
	int fds[2], life[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	/* the emulator's stdin: it exits when this end closes, so a test that
	 * crashes never leaves it running */
	if (pipe2(life, O_CLOEXEC) != 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_adddup2(&fa, life[0], 0);
	char cert[4096], key[4096];
	snprintf(cert, sizeof(cert), "%s/tls-cert.pem", tls_dir ? tls_dir : "");
	snprintf(key, sizeof(key), "%s/tls-key.pem", tls_dir ? tls_dir : "");
	char *argv[] = { (char *)py, script, (char *)"--exit-on-eof", (char *)"--tls-cert", cert,
			 (char *)"--tls-key", key, NULL };
	if (tls_dir == NULL)
		argv[3] = NULL;
	int rc = posix_spawn(&hs->pid, py, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	close(life[0]);
	hs->life = life[1];
	if (rc != 0) {
		close(fds[0]);
		close(life[1]);
		return -1;
	}
	char line[128];
	size_t n = 0;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	hs->port = 0;
	while (hs->port == 0) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 60 || poll(&p, 1, 1000) < 0)
			break;
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		ssize_t r = read(fds[0], line + n, sizeof(line) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		line[n] = '\0';
		if (strchr(line, '\n'))
			sscanf(line, "port %d", &hs->port);
		if (n >= sizeof(line) - 1)
			break;
	}
	close(fds[0]);
	if (hs->port == 0) {
		close(hs->life);
		kill(hs->pid, SIGKILL);
		waitpid(hs->pid, NULL, 0);
		return -1;
	}
	snprintf(hs->url, sizeof(hs->url), "%s://127.0.0.1:%d", tls_dir ? "https" : "http", hs->port);
	return 0;
}

static int test_hs_start(test_hs *hs)
{
	return test_hs_start_tls(hs, NULL);
}

static void test_hs_stop(test_hs *hs)
{
	if (hs->pid > 0) {
		close(hs->life);
		kill(hs->pid, SIGTERM);
		waitpid(hs->pid, NULL, 0);
		hs->pid = 0;
	}
}

static size_t test_hs_write(char *p, size_t s, size_t n, void *ud)
{
	pb_buf_put(ud, p, s * n);
	return s * n;
}

/* A control request (/_test/...) or a plain one; returns the HTTP status,
 * the answer body in @out (may be NULL). */
static long test_hs_call(const test_hs *hs, const char *method, const char *path, const char *body,
			 pb_buf *out)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s", hs->url, path);
	CURL *c = curl_easy_init();
	pb_buf sink = PB_BUF_INIT;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, test_hs_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out ? out : &sink);
	long status = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	pb_buf_dispose(&sink);
	return status;
}

#endif
