/*
 * libphonebridge — prompts: loading (libsndfile), tones (spandsp), named
 * sets, and the playout queue.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <sndfile.h>
#include <spandsp.h>
#include <stdio.h>
#include <string.h>

#include "media/private.h"

#define PROMPT_MAX_SECONDS 600

/* --- prompts ------------------------------------------------------------------- */

static int prompt_alloc(pb_prompt **out, size_t n)
{
	pb_prompt *p = pb_calloc(1, sizeof(*p));
	if (!p)
		return PB_ENOMEM;
	p->samples = pb_calloc(n ? n : 1, sizeof(int16_t));
	if (!p->samples) {
		pb_free(p);
		return PB_ENOMEM;
	}
	p->count = n;
	*out = p;
	return 0;
}

void pb_prompt_free(pb_prompt *p)
{
	if (!p)
		return;
	pb_free(p->samples);
	pb_free(p);
}

int pb_prompt_from_samples(pb_prompt **out, const int16_t *samples, size_t n)
{
	if (!out || (!samples && n))
		return pb_error_set(PB_EINVAL, "prompt_from_samples: NULL argument");
	if (n > (size_t)PROMPT_MAX_SECONDS * PB_MEDIA_RATE)
		return pb_error_set(PB_ETOOBIG, "prompt of %zu samples: at most %d s", n, PROMPT_MAX_SECONDS);
	int rc = prompt_alloc(out, n);
	if (rc == 0 && n)
		memcpy((*out)->samples, samples, n * sizeof(int16_t));
	return rc;
}

static const char *encoding_name(int format)
{
	switch (format & SF_FORMAT_SUBMASK) {
	case SF_FORMAT_PCM_16: return "16-bit PCM";
	case SF_FORMAT_ULAW: return "mu-law";
	case SF_FORMAT_ALAW: return "A-law";
	case SF_FORMAT_PCM_U8: return "8-bit PCM";
	case SF_FORMAT_PCM_S8: return "8-bit PCM";
	case SF_FORMAT_PCM_24: return "24-bit PCM";
	case SF_FORMAT_PCM_32: return "32-bit PCM";
	case SF_FORMAT_FLOAT: return "32-bit float";
	case SF_FORMAT_DOUBLE: return "64-bit float";
	default: return "an unsupported encoding";
	}
}

int pb_prompt_load(pb_prompt **out, const char *path)
{
	SF_INFO info;
	int rc;
	if (!out || !path)
		return pb_error_set(PB_EINVAL, "prompt_load: NULL argument");
	*out = NULL;
	memset(&info, 0, sizeof(info));
	SNDFILE *f = sf_open(path, SFM_READ, &info);
	if (!f)
		return pb_error_set(PB_EIO, "%s: %s", path, sf_strerror(NULL));
	int sub = info.format & SF_FORMAT_SUBMASK;
	if (info.samplerate != PB_MEDIA_RATE || info.channels != 1 ||
	    (sub != SF_FORMAT_PCM_16 && sub != SF_FORMAT_ULAW && sub != SF_FORMAT_ALAW)) {
		rc = pb_error_set(PB_EUNSUPPORTED,
				  "%s: %d Hz, %d channel%s, %s: prompts must be 8000 Hz mono "
				  "16-bit PCM, mu-law or A-law",
				  path, info.samplerate, info.channels, info.channels == 1 ? "" : "s",
				  encoding_name(info.format));
		goto out;
	}
	if (info.frames < 0 || info.frames > (sf_count_t)PROMPT_MAX_SECONDS * PB_MEDIA_RATE) {
		rc = pb_error_set(PB_ETOOBIG, "%s: longer than %d s", path, PROMPT_MAX_SECONDS);
		goto out;
	}
	rc = prompt_alloc(out, (size_t)info.frames);
	if (rc < 0)
		goto out;
	sf_count_t got = sf_readf_short(f, (*out)->samples, info.frames);
	if (got != info.frames) {
		rc = pb_error_set(PB_EIO, "%s: read %lld of %lld frames: %s", path, (long long)got,
				  (long long)info.frames, sf_strerror(f));
		pb_prompt_free(*out);
		*out = NULL;
	}
out:
	sf_close(f);
	return rc;
}

/* --- tones ---------------------------------------------------------------------- */

/* @ms of a @freq Hz tone at @level dBm0 from spandsp's generator, appended at @at. */
static size_t tone(int16_t *at, size_t room, int freq, int level, int ms)
{
	tone_gen_descriptor_t *desc = tone_gen_descriptor_init(NULL, freq, level, 0, 0, ms, 0, 0, 0, 0);
	if (!desc)
		return 0;
	tone_gen_state_t *gen = tone_gen_init(NULL, desc);
	size_t n = 0;
	if (gen) {
		int want = ms * PB_MEDIA_RATE / 1000;
		n = (size_t)tone_gen(gen, at, (int)PB_MIN((size_t)want, room));
		tone_gen_free(gen);
	}
	tone_gen_descriptor_free(desc);
	return n;
}

int pb_prompt_tone(pb_prompt **out, pb_tone kind)
{
	/* ITU-T E.180 / Q.35: SIT segments are 913.8, 1370.6 and 1776.7 Hz,
	 * 274, 274 and 380 ms; spandsp takes whole hertz. */
	static const struct { int freq, ms; } sit[] = { { 914, 274 }, { 1371, 274 }, { 1777, 380 } };
	size_t total;
	if (!out)
		return pb_error_set(PB_EINVAL, "prompt_tone: out is NULL");
	switch (kind) {
	case PB_TONE_BEEP: total = 250 * 8; break;
	case PB_TONE_SIT: total = (274 + 274 + 380) * 8; break;
	case PB_TONE_SILENCE: total = 500 * 8; break;
	default: return pb_error_set(PB_EINVAL, "prompt_tone: unknown tone %d", (int)kind);
	}
	int rc = prompt_alloc(out, total);
	if (rc < 0)
		return rc;
	int16_t *s = (*out)->samples;
	size_t n = 0;
	if (kind == PB_TONE_BEEP)
		n = tone(s, total, 1000, -10, 250);
	else if (kind == PB_TONE_SIT)
		for (size_t i = 0; i < PB_ARRAY_SIZE(sit); i++)
			n += tone(s + n, total - n, sit[i].freq, -13, sit[i].ms);
	else
		n = total;
	if (n != total) {
		pb_prompt_free(*out);
		*out = NULL;
		return pb_error_set(PB_ENOMEM, "spandsp could not make tone %d", (int)kind);
	}
	return 0;
}

/* --- sets ----------------------------------------------------------------------- */

typedef struct entry {
	char *name;
	pb_prompt *prompt;
} entry;

struct pb_prompt_set {
	entry *e;
	size_t n, cap;
};

static bool valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 63)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

int pb_prompt_set_add(pb_prompt_set *set, const char *name, pb_prompt *prompt)
{
	if (!set || !name || !prompt || !valid_name(name)) {
		pb_prompt_free(prompt);
		return pb_error_set(PB_EINVAL, "prompt_set_add: bad name '%s' (expected [a-z0-9_-]{1,63})",
				    name ? name : "(null)");
	}
	for (size_t i = 0; i < set->n; i++) {
		if (!strcmp(set->e[i].name, name)) {
			pb_prompt_free(set->e[i].prompt);
			set->e[i].prompt = prompt;
			return 0;
		}
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		entry *e = pb_realloc(set->e, cap * sizeof(*e));
		if (!e) {
			pb_prompt_free(prompt);
			return PB_ENOMEM;
		}
		set->e = e;
		set->cap = cap;
	}
	char *copy = pb_strdup(name);
	if (!copy) {
		pb_prompt_free(prompt);
		return PB_ENOMEM;
	}
	set->e[set->n].name = copy;
	set->e[set->n++].prompt = prompt;
	return 0;
}

void pb_prompt_set_free(pb_prompt_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		pb_free(set->e[i].name);
		pb_prompt_free(set->e[i].prompt);
	}
	pb_free(set->e);
	pb_free(set);
}

int pb_prompt_set_new(pb_prompt_set **out)
{
	static const struct { const char *name; pb_tone tone; } tones[] = {
		{ "beep", PB_TONE_BEEP }, { "sit", PB_TONE_SIT }, { "silence", PB_TONE_SILENCE },
	};
	if (!out)
		return pb_error_set(PB_EINVAL, "prompt_set_new: out is NULL");
	pb_prompt_set *set = pb_calloc(1, sizeof(*set));
	if (!set)
		return PB_ENOMEM;
	for (size_t i = 0; i < PB_ARRAY_SIZE(tones); i++) {
		pb_prompt *p;
		int rc = pb_prompt_tone(&p, tones[i].tone);
		if (rc == 0)
			rc = pb_prompt_set_add(set, tones[i].name, p);
		if (rc < 0) {
			pb_prompt_set_free(set);
			return rc;
		}
	}
	*out = set;
	return 0;
}

const pb_prompt *pb_prompt_set_find(const pb_prompt_set *set, const char *name)
{
	for (size_t i = 0; set && name && i < set->n; i++)
		if (!strcmp(set->e[i].name, name))
			return set->e[i].prompt;
	return NULL;
}

size_t pb_prompt_set_count(const pb_prompt_set *set)
{
	return set ? set->n : 0;
}

/* One line of prompts.txt: "name: text". Fills @name; false if malformed. */
static bool index_line(const char *line, char *name, size_t cap)
{
	size_t n = strcspn(line, ":");
	if (line[n] != ':' || n == 0 || n >= cap)
		return false;
	memcpy(name, line, n);
	name[n] = '\0';
	return valid_name(name);
}

int pb_prompt_set_load_dir(pb_prompt_set *set, const char *dir)
{
	char path[4096], line[1024], name[64];
	if (!set || !dir)
		return pb_error_set(PB_EINVAL, "prompt_set_load_dir: NULL argument");
	snprintf(path, sizeof(path), "%s/prompts.txt", dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return pb_error_set(PB_EIO, "%s: %s", path, strerror(errno));
	pb_prompt_set staged = { NULL, 0, 0 };
	int rc = 0;
	unsigned lineno = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n' || line[0] == '\0')
			continue;
		if (!index_line(line, name, sizeof(name))) {
			rc = pb_error_set(PB_EMALFORMED, "%s:%u: expected 'name: text' with a name of [a-z0-9_-]",
					  path, lineno);
			break;
		}
		pb_prompt *p;
		snprintf(path, sizeof(path), "%s/%s.wav", dir, name);
		rc = pb_prompt_load(&p, path);
		if (rc == 0)
			rc = pb_prompt_set_add(&staged, name, p);
		snprintf(path, sizeof(path), "%s/prompts.txt", dir);
	}
	fclose(f);
	/* all or nothing: move the staged prompts over only when every one loaded */
	for (size_t i = 0; i < staged.n; i++) {
		if (rc == 0)
			rc = pb_prompt_set_add(set, staged.e[i].name, staged.e[i].prompt);
		else
			pb_prompt_free(staged.e[i].prompt);
		pb_free(staged.e[i].name);
	}
	pb_free(staged.e);
	return rc;
}

/* --- playout -------------------------------------------------------------------- */

struct pb_playout {
	const pb_prompt *q[PB_PLAYOUT_MAX];
	size_t head, count;
	size_t pos; /* in q[head] */
};

int pb_playout_new(pb_playout **out)
{
	if (!out)
		return pb_error_set(PB_EINVAL, "playout_new: out is NULL");
	*out = pb_calloc(1, sizeof(**out));
	return *out ? 0 : PB_ENOMEM;
}

void pb_playout_free(pb_playout *p)
{
	pb_free(p);
}

int pb_playout_queue(pb_playout *p, const pb_prompt *prompt)
{
	if (!p || !prompt)
		return pb_error_set(PB_EINVAL, "playout_queue: NULL argument");
	if (p->count == PB_PLAYOUT_MAX)
		return pb_error_set(PB_ETOOBIG, "playout queue full (%d prompts)", PB_PLAYOUT_MAX);
	p->q[(p->head + p->count++) % PB_PLAYOUT_MAX] = prompt;
	return 0;
}

void pb_playout_clear(pb_playout *p)
{
	p->head = p->count = p->pos = 0;
}

bool pb_playout_busy(const pb_playout *p)
{
	return p->count > 0;
}

size_t pb_playout_read(pb_playout *p, int16_t *out, size_t n)
{
	size_t done = 0;
	while (done < n && p->count > 0) {
		const pb_prompt *cur = p->q[p->head];
		size_t take = PB_MIN(n - done, cur->count - p->pos);
		memcpy(out + done, cur->samples + p->pos, take * sizeof(int16_t));
		done += take;
		p->pos += take;
		if (p->pos == cur->count) {
			p->head = (p->head + 1) % PB_PLAYOUT_MAX;
			p->count--;
			p->pos = 0;
		}
	}
	memset(out + done, 0, (n - done) * sizeof(int16_t));
	return done;
}
