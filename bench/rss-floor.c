/*
 * libphonebridge bench — the floor under pb-bridged's idle RSS: a program
 * that links nothing but libcurl (Debian's, with its TLS, Kerberos, LDAP,
 * SSH and RTMP dependencies), initialises it and makes one HTTP request.
 * pb-bridged cannot idle below this while it talks HTTP through libcurl;
 * bench/bridge.py runs it against the same homeserver and prints the
 * figures next to the daemon's.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * usage: bench-rss-floor URL
 * Prints "name: value unit" lines like the other benches.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

static size_t discard(char *p, size_t size, size_t n, void *data)
{
	(void)p;
	(void)data;
	return size * n;
}

/* a line "Key:   123 kB" of /proc/self/status, in KiB; -1 when absent */
static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			sscanf(line + kl + 1, "%ld", &v);
			break;
		}
	fclose(f);
	return v;
}

/* distinct shared objects mapped (the loader's list, without the vDSO) */
static int libraries(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	char line[4096], seen[128][256];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *path = strchr(line, '/');
		if (!path || !strstr(path, ".so"))
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%s", path);
		name[strcspn(name, "\n")] = '\0';
		int i = 0;
		while (i < n && strcmp(seen[i], name) != 0)
			i++;
		if (i == n && n < 128)
			snprintf(seen[n++], sizeof(seen[0]), "%s", name);
	}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: bench-rss-floor URL\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	CURL *c = curl_easy_init();
	if (!c)
		return 1;
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		fprintf(stderr, "bench-rss-floor: %s: %s\n", argv[1], curl_easy_strerror(rc));
		return 1;
	}
	/* the handle stays, like the daemon's */
	printf("floor.rss: %.1f MiB\n", status_kib("VmRSS") / 1024.0);
	printf("floor.rss_anon: %.1f MiB\n", status_kib("RssAnon") / 1024.0);
	printf("floor.rss_file: %.1f MiB\n", status_kib("RssFile") / 1024.0);
	printf("floor.libraries: %d libraries\n", libraries());
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return 0;
}
