/*
 * libphonebridge bench — the voicemail recorder: what a message costs the
 * screener's loop thread (which records and, at the end of a message,
 * finishes the file and hands it to the store): feeding 20 ms frames of
 * caller audio (the power meter and the encoder, per packet, on average and
 * the worst frame) and finishing a message of the longest default length,
 * 120 s, as WAV and as Ogg Opus.
 *
 *     bench/bench-recorder [SECONDS]        (default 120)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdlib.h>

#include <phonebridge/phonebridge.h>

#include "bench.h"

int main(int argc, char **argv)
{
	unsigned secs = argc > 1 ? (unsigned)atoi(argv[1]) : 120;
	if (secs == 0 || secs > 600) {
		fprintf(stderr, "usage: bench-recorder [SECONDS 1..600]\n");
		return 64;
	}
	size_t n = (size_t)secs * PB_MEDIA_RATE;
	int16_t *pcm = malloc(n * sizeof(int16_t));
	if (!pcm)
		return 1;
	/* speech-like: a 300 Hz tone whose loudness comes and goes every second */
	for (size_t i = 0; i < n; i++)
		pcm[i] = (int16_t)(8000.0 * (0.5 + 0.5 * sin(2 * M_PI * (double)i / 8000.0)) *
				   sin(2 * M_PI * 300.0 * (double)i / 8000.0));
	static const struct { pb_recorder_format f; const char *name; } fmts[] = {
		{ PB_RECORDER_WAV, "wav" }, { PB_RECORDER_OPUS, "opus" },
	};
	for (size_t k = 0; k < 2; k++) {
		pb_recorder_options ro = PB_RECORDER_OPTIONS_INIT;
		ro.max_ms = secs * 1000;
		ro.silence_ms = 0;
		ro.format = fmts[k].f;
		pb_recorder *r;
		if (pb_recorder_new(&r, &ro) < 0) {
			fprintf(stderr, "bench-recorder: %s: %s\n", fmts[k].name, pb_error_last()->message);
			return 1;
		}
		/* what each 20 ms packet costs while a message is taken */
		double t0 = bench_cpu(), worst = 0;
		for (size_t i = 0; i + PB_MEDIA_FRAME <= n; i += PB_MEDIA_FRAME) {
			double t1 = bench_cpu();
			pb_recorder_feed(r, pcm + i, PB_MEDIA_FRAME);
			double d = bench_cpu() - t1;
			worst = d > worst ? d : worst;
		}
		double feed = bench_cpu() - t0;
		/* and the end of the message, on the loop, before it is stored */
		pb_buf out = PB_BUF_INIT;
		t0 = bench_cpu();
		int rc = pb_recorder_finish(r, &out);
		double fin = bench_cpu() - t0;
		if (rc < 0) {
			fprintf(stderr, "bench-recorder: %s: %s\n", fmts[k].name, pb_error_last()->message);
			return 1;
		}
		char name[64];
		snprintf(name, sizeof(name), "recorder.%s.feed_per_frame", fmts[k].name);
		bench_figure(name, feed * 1e6 / (double)(n / PB_MEDIA_FRAME), "us");
		snprintf(name, sizeof(name), "recorder.%s.feed_worst_frame", fmts[k].name);
		bench_figure(name, worst * 1e6, "us");
		snprintf(name, sizeof(name), "recorder.%s.finish_%us", fmts[k].name, secs);
		bench_figure(name, fin * 1000, "ms");
		snprintf(name, sizeof(name), "recorder.%s.size_%us", fmts[k].name, secs);
		bench_figure(name, (double)out.len / 1024, "KiB");
		pb_buf_dispose(&out);
		pb_recorder_free(r);
	}
	free(pcm);
	return 0;
}
