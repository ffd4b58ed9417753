/*
 * libphonebridge bench — screening calls one core keeps in real time.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * N calls, each with a screening session (press-digit) and its media: every
 * 20 ms tick each call plays its prompt (playout, G.711 encoding, an RTP
 * packet built) and takes one received RTP packet of caller audio (parsed,
 * sequence-checked, G.711 decoded, run through spandsp's in-band DTMF
 * detector), and the session's timer is checked. One thread, as in
 * pb-screend. The largest N whose CPU time per tick stays under 20 ms is the
 * figure. Also checks that a digit in the caller audio still gets through
 * at that load.
 *
 * usage: bench-screen [PROMPTS_DIR]   (default: data/prompts)
 */
#include <inttypes.h>
#include <spandsp.h>
#include <stdlib.h>
#include <string.h>

#include <phonebridge/phonebridge.h>

#include "bench.h"

#define TICK_MS 20
#define CALLER_PACKETS 250 /* 5 s of caller audio, looped */

typedef struct call {
	pb_media_call *mc;
	pb_screen_session *s;
	int64_t timer;
	bool finished;
	pb_screen_outcome outcome;
	uint16_t rx_seq;
} call;

static void h_ring(void *ud) { (void)ud; }
static void h_answer(void *ud) { (void)ud; }
static void h_play(const char *const *names, size_t n, void *ud)
{
	if (pb_media_call_play(((call *)ud)->mc, names, n) != 0)
		abort();
}
static void h_stop(void *ud) { pb_media_call_stop(((call *)ud)->mc); }
static void h_timer(int64_t at, void *ud) { ((call *)ud)->timer = at; }
static void h_finish(const pb_screen_result *r, void *ud)
{
	call *c = ud;
	c->finished = true;
	c->outcome = r->outcome;
}

static const pb_screen_host_ops host = {
	PB_SCREEN_HOST_OPS_VERSION, h_ring, h_answer, h_play, h_stop, h_timer, h_finish,
};

static pb_prompt_set *prompts;
static pb_screen_registry *reg;
static uint8_t caller[CALLER_PACKETS][12 + PB_MEDIA_FRAME]; /* RTP packets of caller audio */
static int digit_packet = -1; /* where a '6' tone starts in the caller audio, or -1 */

/* Caller audio: a spoken prompt, looped, as PCMU RTP; with a DTMF 6 in it if @with_digit. */
static void make_caller_audio(bool with_digit)
{
	const pb_prompt *voice = pb_prompt_set_find(prompts, "try-again");
	int16_t pcm[CALLER_PACKETS * PB_MEDIA_FRAME];
	for (size_t i = 0; i < sizeof(pcm) / sizeof(pcm[0]); i++)
		pcm[i] = (int16_t)(voice->samples[i % voice->count] / 2);
	if (with_digit) {
		dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
		int16_t tone[8000];
		dtmf_tx_put(tx, "6", 1);
		int n = dtmf_tx(tx, tone, 8000);
		dtmf_tx_free(tx);
		digit_packet = 150;
		for (int i = 0; i < n; i++)
			pcm[digit_packet * PB_MEDIA_FRAME + i] = tone[i];
	}
	pb_rtp_sender tx;
	pb_rtp_sender_init(&tx, PB_CODEC_PCMU, 0x1234, 0, 0);
	for (int p = 0; p < CALLER_PACKETS; p++) {
		uint8_t g[PB_MEDIA_FRAME];
		pb_buf b = PB_BUF_INIT;
		pb_g711_encode(PB_CODEC_PCMU, g, pcm + p * PB_MEDIA_FRAME, PB_MEDIA_FRAME);
		if (pb_rtp_sender_next(&tx, &b, g, PB_MEDIA_FRAME, PB_MEDIA_FRAME, false) != 0 ||
		    b.len != sizeof(caller[p]))
			abort();
		memcpy(caller[p], b.data, b.len);
		pb_buf_dispose(&b);
	}
}

static call *open_calls(size_t n)
{
	call *calls = calloc(n, sizeof(*calls));
	pb_media_call_options o = PB_MEDIA_CALL_OPTIONS_INIT;
	o.prompts = prompts;
	for (size_t i = 0; i < n; i++) {
		calls[i].timer = -1;
		if (pb_media_call_new(&calls[i].mc, &o) != 0 ||
		    pb_screen_session_new(&calls[i].s, reg, "press-digit", "digit=6 timeout=120 tries=9",
					  &host, &calls[i], NULL) != 0 ||
		    pb_screen_session_start(calls[i].s, 0) != 0)
			abort();
	}
	return calls;
}

static void close_calls(call *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pb_screen_session_free(calls[i].s);
		pb_media_call_free(calls[i].mc);
	}
	free(calls);
}

/* One 20 ms tick of the host loop for every call. */
static void tick(call *calls, size_t n, int t, pb_buf *out)
{
	int64_t now = (int64_t)t * TICK_MS;
	uint8_t pkt[sizeof(caller[0])];
	const uint8_t *src = caller[t % CALLER_PACKETS];
	for (size_t i = 0; i < n; i++) {
		call *c = &calls[i];
		unsigned ev;
		pb_buf_clear(out);
		if (pb_media_call_tick(c->mc, out, &ev) != 0)
			abort();
		bench_keep(out->data);
		if (c->finished)
			continue;
		if (ev & PB_MEDIA_PROMPT_DONE) {
			pb_screen_session_prompt_done(c->s, now);
			/* keep the call busy: play the question again */
			static const char *const again[] = { "press", "digit-6", "to-continue" };
			pb_media_call_play(c->mc, again, 3);
		}
		/* the caller's packet: our own sequence number per call */
		memcpy(pkt, src, sizeof(pkt));
		pkt[2] = (uint8_t)(c->rx_seq >> 8);
		pkt[3] = (uint8_t)c->rx_seq;
		c->rx_seq++;
		char digits[4];
		size_t nd;
		if (pb_media_call_receive(c->mc, pkt, sizeof(pkt), digits, sizeof(digits), &nd, NULL) != 0)
			abort();
		for (size_t k = 0; k < nd && !c->finished; k++)
			pb_screen_session_dtmf(c->s, digits[k], now);
		if (!c->finished && c->timer >= 0 && now >= c->timer)
			pb_screen_session_timer(c->s, now);
	}
}

/* CPU ms per tick with @n calls, over @ticks ticks (after 10 to warm up). */
static double measure(size_t n, int ticks)
{
	call *calls = open_calls(n);
	pb_buf out = PB_BUF_INIT;
	for (int t = 0; t < 10; t++)
		tick(calls, n, t, &out);
	double t0 = bench_cpu();
	for (int t = 10; t < 10 + ticks; t++)
		tick(calls, n, t, &out);
	double ms = (bench_cpu() - t0) * 1000 / ticks;
	pb_buf_dispose(&out);
	close_calls(calls, n);
	return ms;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "data/prompts";
	if (pb_prompt_set_new(&prompts) != 0 || pb_prompt_set_load_dir(prompts, dir) != 0 ||
	    pb_screen_registry_new(&reg) != 0) {
		fprintf(stderr, "bench-screen: %s\n", pb_error_last()->message);
		return 1;
	}
	make_caller_audio(false);

	/* grow N until a tick costs more than 20 ms of CPU, then bisect */
	size_t lo = 0, hi = 0, n = 250;
	for (;;) {
		double ms = measure(n, 25);
		if (ms >= TICK_MS) {
			hi = n;
			break;
		}
		lo = n;
		n *= 2;
		if (n > 200000)
			break;
	}
	while (hi && hi - lo > lo / 50 + 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (measure(mid, 25) < TICK_MS)
			lo = mid;
		else
			hi = mid;
	}
	/* confirm over a longer run (250 ticks = 5 s of calls) */
	double ms = measure(lo, 250);
	while (ms >= TICK_MS && lo > 1) {
		lo = lo * 95 / 100;
		ms = measure(lo, 250);
	}
	bench_figure("screen.sessions_per_core", (double)lo, "sessions");
	bench_figure("screen.tick_cpu_at_max", ms, "ms");
	bench_figure("screen.cpu_per_session_tick", ms * 1000 / (double)lo, "us");

	/* at that load, a DTMF 6 in every caller's audio passes every session */
	make_caller_audio(true);
	call *calls = open_calls(lo);
	pb_buf out = PB_BUF_INIT;
	for (int t = 0; t < digit_packet + 50; t++)
		tick(calls, lo, t, &out);
	size_t passed = 0;
	for (size_t i = 0; i < lo; i++)
		passed += calls[i].finished && calls[i].outcome == PB_SCREEN_PASSED;
	bench_figure("screen.sessions_passed_by_inband_digit", 100.0 * (double)passed / (double)lo, "%");
	pb_buf_dispose(&out);
	close_calls(calls, lo);
	pb_screen_registry_free(reg);
	pb_prompt_set_free(prompts);
	return 0;
}
