/*
 * libphonebridge — in-band DTMF detection with spandsp's dtmf_rx.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * spandsp allocates its receiver state itself (with malloc): it is one of
 * the dependency allocations the allocator hooks do not see.
 */
#include <inttypes.h>
#include <spandsp.h>

#include "media/private.h"

#define QUEUE 32

struct pb_dtmf_detector {
	dtmf_rx_state_t *rx;
	char queue[QUEUE];
	size_t head, count;
};

/* spandsp reports digits as they are recognised, from inside dtmf_rx(). */
static void on_digits(void *ud, const char *digits, int len)
{
	pb_dtmf_detector *d = ud;
	for (int i = 0; i < len; i++) {
		if (d->count == QUEUE)
			return; /* nobody reads: drop, do not grow */
		d->queue[(d->head + d->count++) % QUEUE] = digits[i];
	}
}

int pb_dtmf_detector_new(pb_dtmf_detector **out)
{
	if (!out)
		return pb_error_set(PB_EINVAL, "dtmf_detector_new: out is NULL");
	pb_dtmf_detector *d = pb_calloc(1, sizeof(*d));
	if (!d)
		return PB_ENOMEM;
	d->rx = dtmf_rx_init(NULL, on_digits, d);
	if (!d->rx) {
		pb_free(d);
		return pb_error__oom();
	}
	*out = d;
	return 0;
}

void pb_dtmf_detector_free(pb_dtmf_detector *d)
{
	if (!d)
		return;
	dtmf_rx_free(d->rx);
	pb_free(d);
}

size_t pb_dtmf_detector_feed(pb_dtmf_detector *d, const int16_t *samples, size_t n,
			     char *digits, size_t cap)
{
	while (n > 0) {
		int chunk = n > 8000 ? 8000 : (int)n;
		dtmf_rx(d->rx, samples, chunk);
		samples += chunk;
		n -= (size_t)chunk;
	}
	size_t k = 0;
	while (k < cap && d->count > 0) {
		digits[k++] = d->queue[d->head];
		d->head = (d->head + 1) % QUEUE;
		d->count--;
	}
	return k;
}

void pb_dtmf_detector_skip(pb_dtmf_detector *d, size_t n)
{
	while (n > 0) {
		int chunk = n > 8000 ? 8000 : (int)n;
		dtmf_rx_fillin(d->rx, chunk);
		n -= (size_t)chunk;
	}
}
