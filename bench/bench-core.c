/*
 * libphonebridge bench — core text helpers: hex and base64 decoding, UTF-8
 * validation, charset conversion (the per-byte work under every codec).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

#include "bench.h"

#define SIZE (1 << 20)

static void run(const char *name, int (*fn)(pb_buf *, const char *, size_t), const char *in, size_t len)
{
	pb_buf out = PB_BUF_INIT;
	int rounds = 0;
	double t0 = bench_cpu(), t;
	do {
		pb_buf_clear(&out);
		if (fn(&out, in, len) != 0)
			abort();
		rounds++;
	} while ((t = bench_cpu() - t0) < 0.5);
	bench_figure(name, (double)len * rounds / t / 1e6, "MB/s");
	pb_buf_dispose(&out);
}

static int do_hex(pb_buf *o, const char *s, size_t n) { return pb_hex_decode(o, s, n, NULL); }
static int do_b64(pb_buf *o, const char *s, size_t n) { return pb_base64_decode(o, s, n, 0, NULL); }
static int do_utf8(pb_buf *o, const char *s, size_t n) { (void)o; return pb_utf8_validate(s, n, NULL); }
static int do_latin1(pb_buf *o, const char *s, size_t n) { return pb_charset_to_utf8(o, "ISO-8859-1", s, n); }
static int do_utf16(pb_buf *o, const char *s, size_t n) { return pb_charset_to_utf8(o, "UTF-16BE", s, n); }

int main(void)
{
	char *raw = malloc(SIZE);
	for (size_t i = 0; i < SIZE; i++)
		raw[i] = (char)(' ' + (i * 7) % 90);
	pb_buf hex = PB_BUF_INIT, b64 = PB_BUF_INIT, text = PB_BUF_INIT;
	pb_hex_encode(&hex, raw, SIZE, 0);
	pb_base64_encode(&b64, raw, SIZE, 0);
	while (text.len < SIZE)
		pb_buf_puts(&text, "Zażółć gęślą jaźń — 😀 plain ascii text ");
	run("core.hex_decode", do_hex, (char *)hex.data, hex.len);
	run("core.base64_decode", do_b64, (char *)b64.data, b64.len);
	run("core.utf8_validate", do_utf8, (char *)text.data, text.len);
	run("core.latin1_to_utf8", do_latin1, raw, SIZE);
	run("core.utf16_to_utf8", do_utf16, raw, SIZE);
	pb_buf_dispose(&hex);
	pb_buf_dispose(&b64);
	pb_buf_dispose(&text);
	free(raw);
	return 0;
}
