/*
 * libphonebridge — recording a call's received audio (voicemail): a
 * consumer of decoded frames (pb_media_call_set_audio_sink()), silence
 * found with spandsp's power meter, files written with libsndfile (WAV,
 * or Ogg Opus) into memory.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <sndfile.h>
#include <spandsp.h>
#include <string.h>

#include "media/private.h"

#define MAX_MS_LIMIT 600000u
#define KEEP_TRAILING_MS 500u   /* of the silence at the end, this much stays */

struct pb_recorder {
	pb_recorder_options o;
	int16_t *samples;
	size_t count, cap, max;     /* max: samples in max_ms */
	size_t silent_run;          /* samples of silence at the end so far */
	size_t silence_end;         /* silent_run that ends the recording; 0: never */
	int32_t threshold;          /* power_meter_current() below this is silence */
	power_meter_t meter;
	bool heard;
	int state;
};

int pb_recorder_new(pb_recorder **out, const pb_recorder_options *o)
{
	if (!out || !o)
		return pb_error_set(PB_EINVAL, "recorder_new: NULL argument");
	*out = NULL;
	int vrc = PB_CHECK_VERSION(o, PB_RECORDER_OPTIONS, 1);
	if (vrc < 0)
		return vrc;
	unsigned max_ms = o->max_ms ? o->max_ms : 120000;
	if (max_ms > MAX_MS_LIMIT)
		return pb_error_set(PB_EINVAL, "recorder: max_ms %u: at most %u (10 minutes)", max_ms, MAX_MS_LIMIT);
	if (o->silence_dbm0 > 0 || o->silence_dbm0 < -90)
		return pb_error_set(PB_EINVAL, "recorder: silence level %d dBm0: expected -90..-1 (0: -40)",
				    o->silence_dbm0);
	pb_recorder *r = pb_calloc(1, sizeof(*r));
	if (!r)
		return pb_error__oom();
	r->o = *o;
	r->o.max_ms = max_ms;
	r->o.silence_dbm0 = o->silence_dbm0 ? o->silence_dbm0 : -40;
	r->max = (size_t)max_ms * PB_MEDIA_RATE / 1000;
	r->silence_end = (size_t)o->silence_ms * PB_MEDIA_RATE / 1000;
	/* a 4-sample time constant follows the envelope of speech, not its waveform */
	power_meter_init(&r->meter, 4);
	r->threshold = power_meter_level_dbm0((float)r->o.silence_dbm0);
	*out = r;
	return 0;
}

void pb_recorder_free(pb_recorder *r)
{
	if (!r)
		return;
	pb_free(r->samples);
	pb_free(r);
}

static int grow(pb_recorder *r, size_t need)
{
	if (need <= r->cap)
		return 0;
	size_t cap = r->cap ? r->cap : PB_MEDIA_RATE * 8;
	while (cap < need)
		cap *= 2;
	if (cap > r->max)
		cap = r->max;
	int16_t *p = pb_realloc(r->samples, cap * sizeof(int16_t));
	if (!p)
		return pb_error__oom();
	r->samples = p;
	r->cap = cap;
	return 0;
}

int pb_recorder_feed(pb_recorder *r, const int16_t *samples, size_t n)
{
	if (!r || (!samples && n))
		return pb_error_set(PB_EINVAL, "recorder_feed: NULL argument");
	if (r->state != PB_RECORDER_RECORDING)
		return r->state;
	n = PB_MIN(n, r->max - r->count);
	int rc = grow(r, r->count + n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		int32_t level = power_meter_update(&r->meter, samples[i]);
		r->samples[r->count++] = samples[i];
		if (level >= r->threshold) {
			r->heard = true;
			r->silent_run = 0;
		} else {
			r->silent_run++;
		}
		if (r->silence_end && r->silent_run >= r->silence_end) {
			r->state = PB_RECORDER_SILENCE;
			return r->state;
		}
	}
	if (r->count >= r->max)
		r->state = PB_RECORDER_FULL;
	return r->state;
}

void pb_recorder_sink(const int16_t *samples, size_t n, void *userdata)
{
	pb_recorder_feed(userdata, samples, n);
}

int pb_recorder_state(const pb_recorder *r)
{
	return r ? r->state : PB_RECORDER_RECORDING;
}

bool pb_recorder_heard(const pb_recorder *r)
{
	return r && r->heard;
}

/* The samples worth keeping: the trailing silence beyond KEEP_TRAILING_MS goes. */
static size_t kept(const pb_recorder *r)
{
	size_t keep = (size_t)KEEP_TRAILING_MS * PB_MEDIA_RATE / 1000;
	size_t run = PB_MIN(r->silent_run, r->count);
	return run > keep ? r->count - (run - keep) : r->count;
}

uint64_t pb_recorder_duration_ms(const pb_recorder *r)
{
	return r ? (uint64_t)kept(r) * 1000 / PB_MEDIA_RATE : 0;
}

const char *pb_recorder_mimetype(pb_recorder_format format)
{
	switch (format) {
	case PB_RECORDER_WAV: return "audio/wav";
	case PB_RECORDER_OPUS: return "audio/ogg";
	default: return NULL;
	}
}

/* --- libsndfile writing into a pb_buf (its virtual I/O) ------------------------ */

typedef struct membuf {
	pb_buf *b;
	size_t base;        /* where the file starts in b */
	sf_count_t pos;
	bool oom;
} membuf;

static sf_count_t vio_len(void *ud)
{
	membuf *m = ud;
	return (sf_count_t)(m->b->len - m->base);
}

static sf_count_t vio_seek(sf_count_t off, int whence, void *ud)
{
	membuf *m = ud;
	sf_count_t to = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->pos + off : vio_len(ud) + off;
	if (to < 0)
		return -1;
	m->pos = to;
	return to;
}

static sf_count_t vio_read(void *ptr, sf_count_t count, void *ud)
{
	membuf *m = ud;
	sf_count_t len = vio_len(ud);
	if (m->pos >= len || count <= 0)
		return 0;
	sf_count_t n = PB_MIN(count, len - m->pos);
	memcpy(ptr, m->b->data + m->base + m->pos, (size_t)n);
	m->pos += n;
	return n;
}

static sf_count_t vio_write(const void *ptr, sf_count_t count, void *ud)
{
	membuf *m = ud;
	if (count <= 0)
		return 0;
	size_t end = m->base + (size_t)m->pos + (size_t)count;
	if (end > m->b->len) {
		if (pb_buf_reserve(m->b, end - m->b->len) < 0) {
			m->oom = true;
			return 0;
		}
		memset(m->b->data + m->b->len, 0, end - m->b->len);
		m->b->len = end;
	}
	memcpy(m->b->data + m->base + m->pos, ptr, (size_t)count);
	m->pos += count;
	return count;
}

static sf_count_t vio_tell(void *ud)
{
	return ((membuf *)ud)->pos;
}

int pb_recorder_encode(const pb_recorder *r, pb_recorder_format format, pb_buf *out)
{
	if (!r || !out)
		return pb_error_set(PB_EINVAL, "recorder_encode: NULL argument");
	SF_INFO info = { 0 };
	info.samplerate = PB_MEDIA_RATE;
	info.channels = 1;
	if (format == PB_RECORDER_WAV)
		info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	else if (format == PB_RECORDER_OPUS)
		info.format = SF_FORMAT_OGG | SF_FORMAT_OPUS;
	else
		return pb_error_set(PB_EINVAL, "recorder_encode: unknown format %d", (int)format);
	if (!sf_format_check(&info))
		return pb_error_set(PB_EUNSUPPORTED, "this libsndfile cannot write %s at 8 kHz",
				    format == PB_RECORDER_OPUS ? "Ogg Opus" : "WAV");
	SF_VIRTUAL_IO vio = { vio_len, vio_seek, vio_read, vio_write, vio_tell };
	membuf m = { out, out->len, 0, false };
	SNDFILE *f = sf_open_virtual(&vio, SFM_WRITE, &info, &m);
	if (!f) {
		pb_buf_truncate(out, m.base);
		return m.oom ? pb_error__oom() : pb_error_set(PB_EIO, "recording: %s", sf_strerror(NULL));
	}
	size_t n = kept(r);
	sf_count_t wrote = n ? sf_writef_short(f, r->samples, (sf_count_t)n) : 0;
	int rc = 0;
	if (wrote != (sf_count_t)n)
		rc = m.oom ? pb_error__oom()
			   : pb_error_set(PB_EIO, "recording: wrote %lld of %zu samples: %s", (long long)wrote, n,
					  sf_strerror(f));
	if (sf_close(f) != 0 && rc == 0)
		rc = pb_error_set(PB_EIO, "recording: closing the file failed");
	if (rc == 0 && m.oom)
		rc = pb_error__oom();
	if (rc < 0)
		pb_buf_truncate(out, m.base);
	return rc;
}
