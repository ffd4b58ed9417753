/*
 * libphonebridge — http: the one libcurl initialisation and the base
 * options every transfer of the library shares.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "http/http-private.h"

#include <pthread.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int pb_http__init(void)
{
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return pb_error_set(PB_ERROR, "libcurl initialisation failed: %s", curl_easy_strerror(curl_init_rc));
	return 0;
}

void pb_http__setup(CURL *c, const pb_http__base *b)
{
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (b->errbuf) {
		b->errbuf[0] = '\0';
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, b->errbuf);
	}
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the bitmask options are deprecated */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_USERAGENT, b->user_agent ? b->user_agent : "libphonebridge/" PB_VERSION_STRING);
	if (b->connect_timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, b->connect_timeout_ms);
	if (b->timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, b->timeout_ms);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, b->tls_insecure ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, b->tls_insecure ? 0L : 2L);
	if (b->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, b->ca_file);
	/* "" disables proxies from the environment too */
	if (b->set_proxy)
		curl_easy_setopt(c, CURLOPT_PROXY, b->proxy ? b->proxy : "");
	if (b->interface)
		curl_easy_setopt(c, CURLOPT_INTERFACE, b->interface);
}

long pb_http__backoff_ms(long base, long cap, unsigned n)
{
	long d = base;
	for (unsigned i = 0; i < n && d < cap; i++)
		d = d > cap / 2 ? cap : d * 2;
	return PB_MIN(d, cap);
}

long pb_http__retry_after_ms(const char *v, size_t len)
{
	long s = 0;
	size_t i = 0;
	for (; i < len && v[i] >= '0' && v[i] <= '9' && s < 100000; i++)
		s = s * 10 + (v[i] - '0');
	return i == len && len > 0 ? s * 1000 : -1;
}
