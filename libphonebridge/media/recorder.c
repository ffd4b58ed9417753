/*
 * libphonebridge — recording a call's received audio (voicemail): a
 * consumer of decoded frames (pb_media_call_set_audio_sink()), silence
 * found with spandsp's power meter, encoded as it comes with libsndfile
 * (WAV, or Ogg Opus) into memory, so that the end of a message costs the
 * host's loop next to nothing (bench/bench-recorder).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <sndfile.h>
#include <spandsp.h>
#include <string.h>

#include "media/private.h"

#define MAX_MS_LIMIT 600000u
#define KEEP_TRAILING_MS 500u   /* of the silence at the end, this much stays */

/* --- libsndfile writing into a pb_buf (its virtual I/O) ------------------------ */

typedef struct membuf {
	pb_buf b;
	sf_count_t pos;
	bool oom;
} membuf;

static sf_count_t vio_len(void *ud)
{
	return (sf_count_t)((membuf *)ud)->b.len;
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
	memcpy(ptr, m->b.data + m->pos, (size_t)n);
	m->pos += n;
	return n;
}

static sf_count_t vio_write(const void *ptr, sf_count_t count, void *ud)
{
	membuf *m = ud;
	if (count <= 0)
		return 0;
	size_t end = (size_t)m->pos + (size_t)count;
	if (end > m->b.len) {
		if (pb_buf_reserve(&m->b, end - m->b.len) < 0) {
			m->oom = true;
			return 0;
		}
		memset(m->b.data + m->b.len, 0, end - m->b.len);
		m->b.len = end;
	}
	memcpy(m->b.data + m->pos, ptr, (size_t)count);
	m->pos += count;
	return count;
}

static sf_count_t vio_tell(void *ud)
{
	return ((membuf *)ud)->pos;
}

/* --- the recorder ------------------------------------------------------------------ */

struct pb_recorder {
	pb_recorder_options o;
	SNDFILE *f;
	membuf m;
	size_t written;             /* samples encoded */
	size_t count, max;          /* samples taken; max: samples in max_ms */
	int16_t *held;              /* the silence at the end so far, not yet encoded */
	size_t held_n, held_cap;
	size_t silence_end;         /* a silent run this long ends the recording; 0: never */
	int32_t threshold;          /* power_meter_current() below this is silence */
	power_meter_t meter;
	bool heard, failed, finished;
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
	SF_INFO info = { 0 };
	info.samplerate = PB_MEDIA_RATE;
	info.channels = 1;
	if (o->format == PB_RECORDER_WAV)
		info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	else if (o->format == PB_RECORDER_OPUS)
		info.format = SF_FORMAT_OGG | SF_FORMAT_OPUS;
	else
		return pb_error_set(PB_EINVAL, "recorder: unknown format %d", (int)o->format);
	if (!sf_format_check(&info))
		return pb_error_set(PB_EUNSUPPORTED, "this libsndfile cannot write %s at 8 kHz",
				    o->format == PB_RECORDER_OPUS ? "Ogg Opus" : "WAV");
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
	SF_VIRTUAL_IO vio = { vio_len, vio_seek, vio_read, vio_write, vio_tell };
	r->f = sf_open_virtual(&vio, SFM_WRITE, &info, &r->m);
	if (!r->f) {
		int rc = r->m.oom ? pb_error__oom() : pb_error_set(PB_EIO, "recording: %s", sf_strerror(NULL));
		pb_recorder_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void pb_recorder_free(pb_recorder *r)
{
	if (!r)
		return;
	if (r->f)
		sf_close(r->f);
	pb_buf_dispose(&r->m.b);
	pb_free(r->held);
	pb_free(r);
}

static void encode(pb_recorder *r, const int16_t *s, size_t n)
{
	if (!n || r->failed)
		return;
	if (sf_writef_short(r->f, s, (sf_count_t)n) != (sf_count_t)n || r->m.oom)
		r->failed = true; /* reported by pb_recorder_finish() */
	r->written += n;
}

/* Keep a silent sample back; false when there is no memory for it. */
static bool hold(pb_recorder *r, int16_t v)
{
	if (r->held_n == r->held_cap) {
		size_t cap = r->held_cap ? r->held_cap * 2 : PB_MEDIA_RATE;
		int16_t *p = pb_realloc(r->held, cap * sizeof(int16_t));
		if (!p)
			return false;
		r->held = p;
		r->held_cap = cap;
	}
	r->held[r->held_n++] = v;
	return true;
}

int pb_recorder_feed(pb_recorder *r, const int16_t *samples, size_t n)
{
	if (!r || (!samples && n))
		return pb_error_set(PB_EINVAL, "recorder_feed: NULL argument");
	if (r->state != PB_RECORDER_RECORDING || r->finished)
		return r->state;
	n = PB_MIN(n, r->max - r->count);
	size_t loud = 0; /* samples[from .. from + loud) are sound, to be encoded in one go */
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		int32_t level = power_meter_update(&r->meter, samples[i]);
		r->count++;
		if (level >= r->threshold) {
			if (r->held_n) { /* a pause, not the end: it goes in */
				encode(r, samples + from, loud);
				encode(r, r->held, r->held_n);
				r->held_n = 0;
				from = i;
				loud = 0;
			}
			r->heard = true;
			loud++;
			continue;
		}
		encode(r, samples + from, loud);
		from = i + 1;
		loud = 0;
		if (!hold(r, samples[i])) {
			r->count--;
			return pb_error__oom();
		}
		if (r->silence_end && r->held_n >= r->silence_end) {
			r->state = PB_RECORDER_SILENCE;
			return r->state;
		}
	}
	encode(r, samples + from, loud);
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

static size_t trailing_kept(const pb_recorder *r)
{
	return PB_MIN(r->held_n, (size_t)KEEP_TRAILING_MS * PB_MEDIA_RATE / 1000);
}

uint64_t pb_recorder_duration_ms(const pb_recorder *r)
{
	return r ? (uint64_t)(r->written + (r->finished ? 0 : trailing_kept(r))) * 1000 / PB_MEDIA_RATE : 0;
}

const char *pb_recorder_mimetype(pb_recorder_format format)
{
	switch (format) {
	case PB_RECORDER_WAV: return "audio/wav";
	case PB_RECORDER_OPUS: return "audio/ogg";
	default: return NULL;
	}
}

int pb_recorder_finish(pb_recorder *r, pb_buf *out)
{
	if (!r || !out)
		return pb_error_set(PB_EINVAL, "recorder_finish: NULL argument");
	if (r->finished)
		return pb_error_set(PB_ESTATE, "recorder_finish: finished already");
	encode(r, r->held, trailing_kept(r));
	r->held_n = 0;
	r->finished = true;
	int rc = sf_close(r->f);
	r->f = NULL;
	if (r->m.oom)
		return pb_error__oom();
	if (r->failed || rc != 0)
		return pb_error_set(PB_EIO, "recording: libsndfile could not write the file");
	return pb_buf_put(out, r->m.b.data, r->m.b.len);
}
