/*
 * libphonebridge bench — SMS codec: decodes per second of a single-part
 * GSM 7-bit, a single-part UCS-2 and a 3-part message (decoded and
 * reassembled), and encodes per second. Per core (thread CPU time).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

#include "bench.h"

#define SECONDS 0.7

static unsigned long allocations;

static void *count_malloc(size_t n, void *ud) { (void)ud; allocations++; return malloc(n); }
static void *count_realloc(void *p, size_t n, void *ud) { (void)ud; allocations++; return realloc(p, n); }
static void count_free(void *p, void *ud) { (void)ud; free(p); }

/* Encode @text to DELIVER-like input: SUBMIT PDUs are decoded the same way
 * (same user data work); a real DELIVER is built for the single parts. */
static pb_sms_pdu *encode(const char *text, size_t *n)
{
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.include_smsc = true;
	o.smsc = "+491722270000";
	o.reference = 0x42;
	pb_sms_pdu *p;
	if (pb_sms_encode_text(&p, n, "+4915112345678", text, strlen(text), &o) != 0)
		abort();
	return p;
}

static void bench_decode(const char *name, const pb_sms_pdu *p)
{
	pb_sms_message m;
	unsigned long rounds = 0, before = allocations;
	double t0 = bench_cpu(), t;
	do {
		for (int i = 0; i < 1000; i++) {
			if (pb_sms_decode(&m, p->data, p->len, PB_SMS_DECODE_SMSC, NULL) != 0)
				abort();
			bench_keep(m.text_len);
		}
		rounds += 1000;
	} while ((t = bench_cpu() - t0) < SECONDS);
	bench_figure(name, (double)rounds / t, "decodes/s");
	if (allocations != before)
		bench_figure("sms.decode.allocations", (double)(allocations - before), "(expected 0)");
}

static void bench_3part(const pb_sms_pdu *p, size_t n)
{
	pb_sms_message m;
	unsigned long rounds = 0;
	double t0 = bench_cpu(), t;
	do {
		for (int i = 0; i < 300; i++)
			for (size_t k = 0; k < n; k++)
				if (pb_sms_decode(&m, p[k].data, p[k].len, PB_SMS_DECODE_SMSC, NULL) != 0)
					abort();
		rounds += 300;
	} while ((t = bench_cpu() - t0) < SECONDS);
	bench_figure("sms.decode.3part", (double)rounds / t, "messages/s");

	pb_sms_reassembler *r;
	if (pb_sms_reassembler_new(&r, NULL) != 0)
		abort();
	rounds = 0;
	t0 = bench_cpu();
	do {
		for (int i = 0; i < 300; i++) {
			pb_sms_assembled *a = NULL;
			for (size_t k = 0; k < n; k++)
				if (pb_sms_reassembler_add(r, p[k].data, p[k].len, PB_SMS_DECODE_SMSC, 0, &a, NULL) != 0)
					abort();
			if (!a)
				abort();
			pb_sms_assembled_free(a);
		}
		rounds += 300;
	} while ((t = bench_cpu() - t0) < SECONDS);
	bench_figure("sms.reassemble.3part", (double)rounds / t, "messages/s");
	pb_sms_reassembler_free(r);
}

static void bench_encode(const char *name, const char *text)
{
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.include_smsc = true;
	o.reference = 1;
	size_t len = strlen(text);
	unsigned long rounds = 0;
	double t0 = bench_cpu(), t;
	do {
		for (int i = 0; i < 300; i++) {
			pb_sms_pdu *p;
			size_t n;
			if (pb_sms_encode_text(&p, &n, "+4915112345678", text, len, &o) != 0)
				abort();
			pb_free(p);
		}
		rounds += 300;
	} while ((t = bench_cpu() - t0) < SECONDS);
	bench_figure(name, (double)rounds / t, "encodes/s");
}

int main(void)
{
	static const pb_allocator counting = { count_malloc, count_realloc, count_free, NULL };
	pb_set_allocator(&counting);

	/* 160 septets, with two extension characters */
	const char *gsm = "Your parcel 4711 {DHL} arrives today between 10:00 and 12:00. Track it at "
			  "example.com/t/4711 or reply STOP to opt out. Cost: 0 EUR. Thank you! ABCDEFGHIJK";
	const char *ucs2 = "Привет! Посылка 4711 прибудет сегодня с 10:00 до 12:00. Спасибо 😀";
	char long_text[500];
	memset(long_text, 0, sizeof(long_text));
	for (int i = 0; i < 44; i++)
		strcat(long_text, "ten chars ");
	size_t n1, n2, n3;
	pb_sms_pdu *p1 = encode(gsm, &n1), *p2 = encode(ucs2, &n2), *p3 = encode(long_text, &n3);
	if (n1 != 1 || n2 != 1 || n3 != 3)
		abort();

	bench_decode("sms.decode.gsm7", p1);
	bench_decode("sms.decode.ucs2", p2);
	bench_3part(p3, n3);
	bench_encode("sms.encode.gsm7", gsm);
	bench_encode("sms.encode.ucs2", ucs2);
	bench_encode("sms.encode.3part", long_text);

	pb_free(p1);
	pb_free(p2);
	pb_free(p3);
	return 0;
}
