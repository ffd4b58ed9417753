/*
 * libphonebridge benches — mmsc: Content-Location rewrites, and fetches
 * from a minimal in-process HTTP responder on 127.0.0.1 (what the client
 * itself costs: libcurl, the size-checked write callback, the PDU check).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <phonebridge/phonebridge.h>

#include "bench.h"

typedef struct responder {
	int listen_fd;
	int port;
	uint8_t *small, *large;
	size_t small_len, large_len;
} responder;

/* Serve keep-alive connections: "GET /s" gets the small body, anything
 * else the large one. Enough HTTP for libcurl, nothing more. */
static void *serve(void *arg)
{
	responder *r = arg;
	for (;;) {
		int c = accept(r->listen_fd, NULL, NULL);
		if (c < 0)
			return NULL;
		/* head and body are two writes: no Nagle delay between them */
		int one = 1;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		char req[4096];
		size_t have = 0;
		for (;;) {
			ssize_t n = read(c, req + have, sizeof(req) - 1 - have);
			if (n <= 0)
				break;
			have += (size_t)n;
			req[have] = '\0';
			char *end = strstr(req, "\r\n\r\n");
			if (!end)
				continue;
			bool small = strncmp(req, "GET /s", 6) == 0;
			const uint8_t *body = small ? r->small : r->large;
			size_t len = small ? r->small_len : r->large_len;
			char head[256];
			int hl = snprintf(head, sizeof(head),
					  "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.wap.mms-message\r\n"
					  "Content-Length: %zu\r\n\r\n", len);
			if (write(c, head, (size_t)hl) != hl)
				break;
			size_t off = 0;
			while (off < len) {
				ssize_t w = write(c, body + off, len - off);
				if (w <= 0)
					break;
				off += (size_t)w;
			}
			size_t used = (size_t)(end + 4 - req);
			memmove(req, req + used, have - used);
			have -= used;
		}
		close(c);
	}
}

static void start(responder *r)
{
	r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (bind(r->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(r->listen_fd, 8) < 0 ||
	    getsockname(r->listen_fd, (struct sockaddr *)&a, &len) < 0) {
		perror("bench-mmsc: listen");
		exit(1);
	}
	r->port = ntohs(a.sin_port);
	pthread_t t;
	pthread_create(&t, NULL, serve, r);
	pthread_detach(t);
}

static void bench_rewrite(void)
{
	const int n = 200000;
	double t0 = bench_cpu();
	for (int i = 0; i < n; i++) {
		char *out = NULL;
		pb_mmsc_rewrite_location("match=/mms/ base=http://mms.carrier.example:8002 keep=path", NULL,
					 "/mms/wapenc?T=m-7-112-3-cef7ef-b9-51-2", &out);
		bench_keep(out);
		pb_free(out);
	}
	bench_figure("mmsc.rewrite", n / (bench_cpu() - t0), "rewrites/s");
}

static void bench_fetch(responder *r, const char *path, int n, const char *name, bool mbps)
{
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", r->port, path);
	pb_mmsc_options o = PB_MMSC_OPTIONS_INIT;
	o.max_download = 4 * 1024 * 1024;
	pb_mmsc *m;
	if (pb_mmsc_new(&m, &o) < 0) {
		fprintf(stderr, "bench-mmsc: %s\n", pb_error_last()->message);
		exit(1);
	}
	pb_buf body = PB_BUF_INIT;
	size_t bytes = 0;
	double t0 = bench_now();
	for (int i = 0; i < n; i++) {
		pb_buf_clear(&body);
		if (pb_mmsc_fetch(m, url, &body, NULL) < 0) {
			fprintf(stderr, "bench-mmsc: %s\n", pb_error_last()->message);
			exit(1);
		}
		bytes += body.len;
	}
	double dt = bench_now() - t0;
	if (mbps)
		bench_figure(name, (double)bytes / dt / 1e6, "MB/s");
	else
		bench_figure(name, n / dt, "fetches/s");
	pb_buf_dispose(&body);
	pb_mmsc_free(m);
}

int main(void)
{
	responder r = { 0 };
	r.small_len = 2048;
	r.large_len = 1024 * 1024;
	r.small = calloc(1, r.small_len);
	r.large = calloc(1, r.large_len);
	r.small[0] = r.large[0] = 0x8C;
	r.small[1] = r.large[1] = 0x84;
	start(&r);
	bench_rewrite();
	bench_fetch(&r, "/s", 2000, "mmsc.fetch.2k", false);
	bench_fetch(&r, "/l", 200, "mmsc.fetch.1m", true);
	free(r.small);
	free(r.large);
	return 0;
}
