/*
 * libphonebridge tests — start and stop the mmsc tests' peers.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "mmsc-peers.h"

#define DEADLINE_MS 30000 /* generous: valgrind and sanitizers are slow */

typedef struct server {
	pid_t pid;
	int port;
	int stdin_fd; /* closing it stops the server */
} server;

static server plain = { 0, 0, -1 }, tls = { 0, 0, -1 };
static pid_t proxy_pid;
static int proxy_port;
static char scratch[64];

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
		*pid = 0;
	}
}

static void remove_scratch(void)
{
	DIR *d = opendir(scratch);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", scratch, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(scratch);
}

static void stop_server(server *s)
{
	if (s->stdin_fd >= 0)
		close(s->stdin_fd);
	s->stdin_fd = -1;
	stop(&s->pid);
}

static void stop_all(void)
{
	stop(&proxy_pid);
	stop_server(&plain);
	stop_server(&tls);
	remove_scratch();
}

const char *mmsc_scratch_dir(void)
{
	if (!scratch[0]) {
		snprintf(scratch, sizeof(scratch), "/tmp/pb-test-mmsc-XXXXXX");
		assert_non_null(mkdtemp(scratch));
		atexit(stop_all);
	}
	return scratch;
}

/* fork + exec @argv with stdin/stdout as given (-1: /dev/null), stderr to
 * @errlog; the child dies with us (PR_SET_PDEATHSIG). */
static pid_t spawn(char *const argv[], int in, int out, const char *errlog)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int null = open("/dev/null", O_RDWR);
		int err = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(in >= 0 ? in : null, 0);
		dup2(out >= 0 ? out : null, 1);
		dup2(err >= 0 ? err : null, 2);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void start_server(server *s, bool with_tls)
{
	const char *dir = mmsc_scratch_dir();
	const char *src = getenv("PB_SOURCE_ROOT");
	const char *py = getenv("PB_PYTHON") ? getenv("PB_PYTHON") : "/usr/bin/python3";
	assert_non_null(src);
	char script[512], own[512], vec[512], tmp[512], rec[512], errlog[512], crt[512], key[512];
	snprintf(script, sizeof(script), "%s/tests/mmsc-server.py", src);
	snprintf(own, sizeof(own), "own=%s/mmsc", pb_test_data_dir());
	snprintf(vec, sizeof(vec), "vec=%s/mms", pb_test_vectors_dir() ? pb_test_vectors_dir() : "/nonexistent");
	snprintf(tmp, sizeof(tmp), "tmp=%s", dir);
	snprintf(rec, sizeof(rec), "%s", dir);
	snprintf(errlog, sizeof(errlog), "%s/server%s.log", dir, with_tls ? "-tls" : "");
	snprintf(crt, sizeof(crt), "%s/mmsc/test-server.crt", pb_test_data_dir());
	snprintf(key, sizeof(key), "%s/mmsc/test-server.key", pb_test_data_dir());
	char *argv[] = { (char *)py, script, "--root", own, "--root", vec, "--root", tmp,
			 "--record-dir", rec, with_tls ? "--tls" : NULL, crt, key, NULL };
	int in[2], out[2];
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	s->pid = spawn(argv, in[0], out[1], errlog);
	close(in[0]);
	close(out[1]);
	s->stdin_fd = in[1];

	/* wait for "PORT n" */
	char line[64] = "";
	size_t n = 0;
	long deadline = now_ms() + DEADLINE_MS;
	while (n + 1 < sizeof(line) && !strchr(line, '\n') && now_ms() < deadline) {
		struct pollfd p = { out[0], POLLIN, 0 };
		if (poll(&p, 1, 200) <= 0)
			continue;
		ssize_t r = read(out[0], line + n, sizeof(line) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		line[n] = '\0';
	}
	close(out[0]);
	if (sscanf(line, "PORT %d", &s->port) != 1)
		fail_msg("test MMSC did not start (see %s): \"%s\"", errlog, line);
}

int mmsc_server_port(void)
{
	if (!plain.port)
		start_server(&plain, false);
	return plain.port;
}

int mmsc_tls_server_port(void)
{
	if (!tls.port)
		start_server(&tls, true);
	return tls.port;
}

const char *mmsc_url(const char *path)
{
	static char url[1024];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", mmsc_server_port(), path);
	return url;
}

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

static bool port_accepts(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

int tinyproxy_port(void)
{
	if (proxy_port)
		return proxy_port;
	const char *bin = "/usr/bin/tinyproxy";
	if (access(bin, X_OK) != 0)
		return 0;
	const char *dir = mmsc_scratch_dir();
	char conf[512], log[512];
	snprintf(conf, sizeof(conf), "%s/tinyproxy.conf", dir);
	snprintf(log, sizeof(log), "%s/tinyproxy.log", dir);
	int port = free_port();
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	/* foreground (-d), loopback only, no upstream: a carrier WAP proxy stand-in */
	fprintf(f, "Port %d\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 60\nMaxClients 20\nLogLevel Info\n", port);
	fclose(f);
	char *argv[] = { (char *)bin, "-d", "-c", conf, NULL };
	proxy_pid = spawn(argv, -1, -1, log);
	long deadline = now_ms() + DEADLINE_MS;
	while (!port_accepts(port)) {
		if (now_ms() > deadline || waitpid(proxy_pid, NULL, WNOHANG) == proxy_pid)
			fail_msg("tinyproxy did not start listening on port %d (see %s)", port, log);
		struct timespec ts = { 0, 20 * 1000000L }; /* poll interval, not a wait for an outcome */
		nanosleep(&ts, NULL);
	}
	proxy_port = port;
	return port;
}

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
	return pb_buf_put(userdata, data, size * n) == 0 ? size * n : 0;
}

json_t *mmsc_server_requests(void)
{
	pb_buf body = PB_BUF_INIT;
	CURL *c = curl_easy_init();
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, mmsc_url("/admin/requests"));
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	json_error_t err;
	json_t *j = json_loadb((const char *)body.data, body.len, 0, &err);
	pb_buf_dispose(&body);
	assert_non_null(j);
	return j;
}

json_t *mmsc_find_request(json_t *requests, const char *needle)
{
	for (size_t i = json_array_size(requests); i > 0; i--) {
		json_t *r = json_array_get(requests, i - 1);
		const char *path = json_string_value(json_object_get(r, "path"));
		if (path && strstr(path, needle))
			return r;
	}
	return NULL;
}

const char *mmsc_request_header(json_t *request, const char *name)
{
	return json_string_value(json_object_get(json_object_get(request, "headers"), name));
}
