/*
 * The daemons' status page (HTML with an inline SVG plot, no external
 * resource) and "PROGRAM status", the client that reads /health from the
 * running daemon (metrics.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "metrics.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <curl/curl.h>
#include <sqlite3.h>
#include <jansson.h>

/* --- the page -------------------------------------------------------------------- */

static int html_text(pb_buf *out, const char *s)
{
	int rc = 0;
	for (; s && *s && rc == 0; s++) {
		switch (*s) {
		case '<': rc = pb_buf_puts(out, "&lt;"); break;
		case '>': rc = pb_buf_puts(out, "&gt;"); break;
		case '&': rc = pb_buf_puts(out, "&amp;"); break;
		case '"': rc = pb_buf_puts(out, "&quot;"); break;
		default: rc = pb_buf_putc(out, (uint8_t)*s);
		}
	}
	return rc;
}

int64_t pbd_local_midnight_ms(int days_ago, char date[11])
{
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	tm.tm_mday -= days_ago;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	localtime_r(&t, &tm);
	if (date)
		strftime(date, 11, "%Y-%m-%d", &tm);
	return (int64_t)t * 1000;
}

/*
 * Inbound messages delivered per day: the rows pb-bridged journaled as a
 * text, a picture message, an incomplete text or a voicemail (its table
 * bridge_msg_kind, docs/bridge.md "Store layout"), not its delivery reports
 * or notices. A store without the bridge's tables (pb-screend's alone) has
 * none. Counted by the day of updated_at, as pb_store_msg_daily() does.
 */
static int inbound_daily(pb_store *st, int64_t day0, int n, int64_t *counts)
{
	for (int i = 0; i < n; i++)
		counts[i] = 0;
	sqlite3 *db = pb_store_sqlite(st);
	if (db == NULL)
		return 0;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db,
			       "SELECT (m.updated_at - ?1) / 86400000, count(*) FROM messages m "
			       "JOIN bridge_msg_kind k ON k.msg_id = m.id "
			       "WHERE m.dir = 1 AND m.state = 3 AND m.updated_at >= ?1 AND m.updated_at < ?2 "
			       "AND k.kind IN ('text', 'mms', 'incomplete', 'voicemail') GROUP BY 1",
			       -1, &s, NULL) != SQLITE_OK) {
		sqlite3_finalize(s);
		return 0; /* no bridge tables: no bridged messages */
	}
	sqlite3_bind_int64(s, 1, day0);
	sqlite3_bind_int64(s, 2, day0 + (int64_t)n * 86400000);
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t d = sqlite3_column_int64(s, 0);
		if (d >= 0 && d < n)
			counts[d] = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : pb_error_set(PB_EIO, "status: messages per day: %s", sqlite3_errmsg(db));
}

int pbd_per_day(pb_store *st, pb_store *calls_st, pbd_day *days, int n)
{
	if (n <= 0 || n > PB_STORE_DAILY_MAX)
		return PB_EINVAL;
	char date[11];
	int64_t day0 = pbd_local_midnight_ms(n - 1, date);
	int64_t calls[PB_STORE_DAILY_MAX], in[PB_STORE_DAILY_MAX], out[PB_STORE_DAILY_MAX];
	/* two stores may answer differently: each series on its own */
	int rc_calls = calls_st ? pb_store_call_daily(calls_st, day0, (unsigned)n, calls) : PB_EINVAL;
	int rc = st ? 0 : PB_EINVAL;
	if (rc == 0)
		rc = inbound_daily(st, day0, n, in);
	if (rc == 0)
		rc = pb_store_msg_daily(st, PB_STORE_OUTBOUND, PB_STORE_SENT, NULL, day0, (unsigned)n, out);
	for (int i = 0; i < n; i++) {
		pbd_local_midnight_ms(n - 1 - i, days[i].date);
		days[i].a = rc_calls == 0 ? calls[i] : 0;
		days[i].b = rc == 0 ? in[i] + out[i] : 0;
	}
	return rc_calls < 0 ? rc_calls : rc;
}

/* The plot: two bars a day, a scale, the dates under every other day. */
static int svg_plot(pb_buf *out, const pbd_day *days, size_t n, const char *a_name, const char *b_name)
{
	enum { W = 640, H = 200, LEFT = 40, BOTTOM = 30, TOP = 10 };
	long long max = 1;
	for (size_t i = 0; i < n; i++) {
		if (days[i].a > max)
			max = days[i].a;
		if (days[i].b > max)
			max = days[i].b;
	}
	double slot = n ? (double)(W - LEFT - 10) / (double)n : 0, bar = slot * 0.38;
	double plot_h = H - BOTTOM - TOP;
	int rc = pb_buf_printf(out,
		"<svg id=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"per day\">\n"
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n"
		"<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%lld</text>\n"
		"<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">0</text>\n",
		W, H, W, H, LEFT, H - BOTTOM, W - 5, H - BOTTOM, LEFT - 4, TOP + 8, max, LEFT - 4, H - BOTTOM);
	for (size_t i = 0; i < n && rc == 0; i++) {
		double x = LEFT + 4 + slot * (double)i;
		double ha = plot_h * (double)days[i].a / (double)max, hb = plot_h * (double)days[i].b / (double)max;
		rc = pb_buf_printf(out,
			"<rect class=\"a\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#3b6ea5\">"
			"<title>%s %s: %lld</title></rect>\n"
			"<rect class=\"b\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#d9822b\">"
			"<title>%s %s: %lld</title></rect>\n",
			x, H - BOTTOM - ha, bar, ha, days[i].date, a_name, days[i].a, x + bar, H - BOTTOM - hb, bar, hb,
			days[i].date, b_name, days[i].b);
		if (rc == 0 && (i % 2 == 0 || n <= 7))
			rc = pb_buf_printf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"9\">%s</text>\n", x, H - BOTTOM + 12,
					   days[i].date + 5);
	}
	if (rc == 0)
		rc = pb_buf_printf(out,
			"<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"#3b6ea5\"/>"
			"<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n"
			"<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"#d9822b\"/>"
			"<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n</svg>\n",
			LEFT, H - 12, LEFT + 14, H - 3, a_name, LEFT + 200, H - 12, LEFT + 214, H - 3, b_name);
	return rc;
}

int pbd_status_page(pb_buf *out, const char *title, bool healthy, const char *const *rows,
		    const pbd_day *days, size_t ndays, const char *a_name, const char *b_name)
{
	int rc = pb_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			     "<meta name=\"viewport\" content=\"width=device-width\"><title>");
	rc = rc ? rc : html_text(out, title);
	rc = rc ? rc : pb_buf_puts(out, "</title><style>"
		"body{font-family:sans-serif;margin:1em;background:#fff;color:#222}"
		"table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
		".ok{color:#176e2b}.bad{color:#b3261e}"
		"</style></head><body>\n<h1>");
	rc = rc ? rc : html_text(out, title);
	rc = rc ? rc : pb_buf_printf(out, "</h1>\n<p id=\"health\" class=\"%s\">%s</p>\n<table id=\"facts\">\n",
				     healthy ? "ok" : "bad", healthy ? "healthy" : "unhealthy");
	for (size_t i = 0; rows && rows[i] && rows[i + 1] && rc == 0; i += 2) {
		rc = pb_buf_puts(out, "<tr><th>");
		rc = rc ? rc : html_text(out, rows[i]);
		rc = rc ? rc : pb_buf_puts(out, "</th><td>");
		rc = rc ? rc : html_text(out, rows[i + 1]);
		rc = rc ? rc : pb_buf_puts(out, "</td></tr>\n");
	}
	rc = rc ? rc : pb_buf_printf(out, "</table>\n<h2>Per day (last %zu days)</h2>\n", ndays);
	rc = rc ? rc : svg_plot(out, days, ndays, a_name, b_name);
	rc = rc ? rc : pb_buf_puts(out, "<table id=\"days\"><tr><th>day</th><th>");
	rc = rc ? rc : html_text(out, a_name);
	rc = rc ? rc : pb_buf_puts(out, "</th><th>");
	rc = rc ? rc : html_text(out, b_name);
	rc = rc ? rc : pb_buf_puts(out, "</th></tr>\n");
	for (size_t i = 0; i < ndays && rc == 0; i++)
		rc = pb_buf_printf(out, "<tr><td>%s</td><td id=\"day-%s-a\">%lld</td><td id=\"day-%s-b\">%lld</td></tr>\n",
				   days[i].date, days[i].date, days[i].a, days[i].date, days[i].b);
	return rc ? rc : pb_buf_puts(out, "</table>\n</body></html>\n");
}

int pbd_status_respond(pb_listener_request *req, const char *title, bool healthy, const char *const *rows,
		       pb_store *st, pb_store *calls_st)
{
	pbd_day days[PBD_STATUS_DAYS];
	pbd_per_day(st, calls_st, days, PBD_STATUS_DAYS); /* a store that cannot be read: zeros */
	pb_buf o = PB_BUF_INIT;
	int rc = pbd_status_page(&o, title, healthy, rows, days, PBD_STATUS_DAYS, "calls screened",
				 "messages bridged");
	if (rc == 0)
		rc = pb_listener_respond(req, 200, "text/html; charset=utf-8", o.data, o.len);
	pb_buf_dispose(&o);
	return rc;
}

/* --- "status" ----------------------------------------------------------------------- */

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
	pb_buf *b = ud;
	return pb_buf_put(b, p, size * n) == 0 && b->len < (1u << 20) ? size * n : 0;
}

/* A JSON value as one short text. */
static void value_text(const json_t *v, char *out, size_t size)
{
	if (json_is_string(v))
		snprintf(out, size, "%s", json_string_value(v));
	else if (json_is_true(v))
		snprintf(out, size, "yes");
	else if (json_is_false(v))
		snprintf(out, size, "no");
	else if (json_is_null(v))
		snprintf(out, size, "-");
	else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(out, size, "%s", s ? s : "?");
		free(s);
	}
}

/* Print an object's members "  name: value", nested objects flattened with dots. */
static void print_facts(const char *prefix, json_t *o)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		char name[128], val[512];
		snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", k);
		if (json_is_object(v) && json_object_size(v) > 0) {
			print_facts(name, v);
			continue;
		}
		value_text(v, val, sizeof(val));
		printf("%-34s %s\n", name, val);
	}
}

int pbd_status_main(const char *program, const char *config_path, const char *address, bool json, bool pretty)
{
	if (!address || !address[0]) {
		fprintf(stderr, "%s: status: %s has no [http] listen: the daemon serves no status to ask "
			"(docs: \"Health, metrics and status\")\n", program, config_path);
		return EX_CONFIG;
	}
	char url[320];
	/* ":PORT" or "PORT" means the loopback address, as for the listener */
	if (address[0] == ':')
		snprintf(url, sizeof(url), "http://127.0.0.1%s/health", address);
	else if (!strchr(address, ':'))
		snprintf(url, sizeof(url), "http://127.0.0.1:%s/health", address);
	else if (!strncmp(address, "0.0.0.0:", 8))
		snprintf(url, sizeof(url), "http://127.0.0.1%s/health", address + 7);
	else if (!strncmp(address, "[::]:", 5))
		snprintf(url, sizeof(url), "http://[::1]%s/health", address + 4);
	else
		snprintf(url, sizeof(url), "http://%s/health", address);
	CURL *c = curl_easy_init();
	if (!c) {
		fprintf(stderr, "%s: status: cannot make an HTTP client\n", program);
		return EX_OSERR;
	}
	pb_buf body = PB_BUF_INIT;
	char err[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	CURLcode cc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK) {
		fprintf(stderr, "%s: status: the daemon is not running or not reachable at %s: %s\n", program, url,
			err[0] ? err : curl_easy_strerror(cc));
		pb_buf_dispose(&body);
		return EX_UNAVAILABLE;
	}
	json_error_t je;
	json_t *doc = body.data ? json_loadb((const char *)body.data, body.len, 0, &je) : NULL;
	pb_buf_dispose(&body);
	if (!json_is_object(doc) || (status != 200 && status != 503)) {
		fprintf(stderr, "%s: status: %s answered %ld without a health document: is another program "
			"listening there?\n", program, url, status);
		json_decref(doc);
		return EX_UNAVAILABLE;
	}
	if (json) {
		char *s = json_dumps(doc, pretty ? JSON_INDENT(2) : JSON_COMPACT);
		printf("%s\n", s ? s : "{}");
		free(s);
	} else {
		printf("%s: %s (%s)\n", program, status == 200 ? "healthy" : "UNHEALTHY", url);
		print_facts("", doc);
	}
	json_decref(doc);
	return status == 200 ? 0 : 1;
}
