/*
 * libphonebridge — the screener's voicemail: after a failed bridge, a
 * greeting and a beep, then the caller's audio into a pb_recorder until
 * hang-up, silence or the length limit; the message is stored durably in
 * the store (journal row + attachment) before it counts as taken, and
 * pb-bridged posts it to Matrix from there (docs/screen.md "Voicemail").
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "screener/voicemail.h"

#include <phonebridge/alloc.h>
#include <phonebridge/error.h>

#define GREETING_LIMIT_MS 120000  /* a greeting that never ends (a broken prompt) */
#define NO_AUDIO_MS 10000         /* no RTP at all for this long ends a message */

struct pb_screener_vm {
	pb_media_call *mc;          /* borrowed: the call's media */
	pb_recorder *rec;           /* while recording */
	pb_recorder_options ro;
	int64_t started, recording_since, last_rtp;
	unsigned silence_ms;
};

unsigned pb_screener__vm_reason(int st)
{
	if (st == 486 || st == 600 || st == 603)
		return PB_SCREENER_VOICEMAIL_BUSY;
	if (st == 408 || st == 480 || st == 487)
		return PB_SCREENER_VOICEMAIL_TIMEOUT;
	return PB_SCREENER_VOICEMAIL_UNREACHABLE;
}

const char *pb_screener__vm_reason_name(unsigned reason)
{
	return reason == PB_SCREENER_VOICEMAIL_BUSY ? "busy"
	       : reason == PB_SCREENER_VOICEMAIL_TIMEOUT ? "timeout" : "unreachable";
}

static int format_of(const char *name, pb_recorder_format *out)
{
	if (!name || !*name || !strcmp(name, "wav"))
		*out = PB_RECORDER_WAV;
	else if (!strcmp(name, "opus"))
		*out = PB_RECORDER_OPUS;
	else
		return pb_error_set(PB_EINVAL, "voicemail format '%s': expected wav or opus", name);
	return 0;
}

static const char *greeting_of(const pb_screener_options *o)
{
	return o->voicemail_greeting && *o->voicemail_greeting ? o->voicemail_greeting : "voicemail";
}

int pb_screener__vm_check(const pb_screener_options *o, const pb_prompt_set *prompts)
{
	pb_recorder_format f;
	int rc = format_of(o->voicemail_format, &f);
	if (rc < 0 || !o->voicemail)
		return rc;
	if (o->voicemail_on & ~(PB_SCREENER_VOICEMAIL_TIMEOUT | PB_SCREENER_VOICEMAIL_BUSY |
				PB_SCREENER_VOICEMAIL_UNREACHABLE))
		return pb_error_set(PB_EINVAL, "voicemail_on 0x%x: unknown bits", o->voicemail_on);
	if (!pb_prompt_set_find(prompts, greeting_of(o)))
		return pb_error_set(PB_EINVAL, "voicemail greeting '%s': no such prompt in %s (prompts.txt)",
				    greeting_of(o), o->prompts);
	/* Opus: this libsndfile must be able to write it, known now rather than at the first message */
	pb_recorder_options ro = PB_RECORDER_OPTIONS_INIT;
	ro.format = f;
	pb_recorder *r = NULL;
	rc = pb_recorder_new(&r, &ro);
	pb_recorder_free(r);
	if (rc < 0)
		pb_error_set(rc, "voicemail format %s: %s", o->voicemail_format, pb_error_last()->message);
	return rc;
}

int pb_screener__vm_new(pb_screener_vm **out, const pb_screener_options *o, pb_media_call *mc, int64_t now)
{
	pb_screener_vm *vm = pb_calloc(1, sizeof(*vm));
	if (!vm)
		return pb_error__oom();
	vm->ro = (pb_recorder_options)PB_RECORDER_OPTIONS_INIT;
	int rc = format_of(o->voicemail_format, &vm->ro.format);
	vm->mc = mc;
	vm->started = now;
	vm->ro.max_ms = o->voicemail_max_ms; /* resolved by the screener's conf_copy() */
	vm->ro.silence_ms = vm->silence_ms = o->voicemail_silence_ms;
	const char *play[2] = { greeting_of(o), "beep" };
	if (rc == 0 && (rc = pb_media_call_play(mc, play, 2)) < 0)
		rc = pb_media_call_play(mc, play + 1, 1); /* the greeting went: the beep at least */
	if (rc < 0) {
		pb_free(vm);
		return rc;
	}
	*out = vm;
	return 0;
}

void pb_screener__vm_greeted(pb_screener_vm *vm, int64_t now)
{
	if (!vm || vm->rec)
		return;
	if (pb_recorder_new(&vm->rec, &vm->ro) < 0) {
		pb_log(PB_LOG_ERROR, "screener", "voicemail: %s", pb_error_last()->message);
		return;
	}
	vm->recording_since = vm->last_rtp = now;
	pb_media_call_set_audio_sink(vm->mc, pb_recorder_sink, vm->rec);
}

void pb_screener__vm_heard(pb_screener_vm *vm, int64_t now)
{
	if (vm)
		vm->last_rtp = now;
}

bool pb_screener__vm_recording(const pb_screener_vm *vm)
{
	return vm && vm->rec;
}

bool pb_screener__vm_over(const pb_screener_vm *vm, int64_t now)
{
	if (!vm->rec)
		return now - vm->started > GREETING_LIMIT_MS;
	if (pb_recorder_state(vm->rec) != PB_RECORDER_RECORDING)
		return true;
	/* no RTP at all (a phone that sends nothing in silence): the recorder hears nothing */
	int64_t quiet = vm->silence_ms ? vm->silence_ms : NO_AUDIO_MS;
	if (now - vm->last_rtp > quiet)
		return true;
	return now - vm->recording_since > (int64_t)vm->ro.max_ms + 2000;
}

int pb_screener__vm_store(pb_screener_vm *vm, pb_store *st, const char *caller, const char *call_id,
			  int64_t at_ms, int64_t *row, uint64_t *duration_ms)
{
	pb_media_call_set_audio_sink(vm->mc, NULL, NULL);
	*duration_ms = pb_recorder_duration_ms(vm->rec);
	if (!vm->rec || !pb_recorder_heard(vm->rec))
		return 1;
	pb_buf file = PB_BUF_INIT;
	int rc = pb_recorder_finish(vm->rec, &file); /* encoded as it came: only the end is left */
	if (rc < 0) {
		pb_buf_dispose(&file);
		return rc;
	}
	char key[320], body[64], name[64], when[32] = "message";
	snprintf(key, sizeof(key), "voicemail:%s", call_id && *call_id ? call_id : "?");
	snprintf(body, sizeof(body), "duration_ms=%" PRIu64, *duration_ms);
	time_t t = (time_t)(at_ms / 1000);
	struct tm tm;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
	snprintf(name, sizeof(name), "voicemail-%s.%s", when, vm->ro.format == PB_RECORDER_OPUS ? "ogg" : "wav");
	pb_store_msg_in in = PB_STORE_MSG_IN_INIT;
	in.dir = PB_STORE_INBOUND;
	in.state = PB_STORE_STORED;
	in.dedup_key = key;
	in.backend = "screen:voicemail";
	in.backend_id = call_id;
	in.peer = caller;
	in.body = body;
	in.sent_at = at_ms;
	/* one transaction: pb-bridged sees the row with its file or nothing (a
	 * crash in between leaves an unreferenced file, for pb_store_attachment_gc()) */
	rc = pb_store_begin(st);
	if (rc == 0 && (rc = pb_store_msg_insert(st, &in, row)) == 0)
		rc = pb_store_attachment_add(st, *row, file.data, file.len, pb_recorder_mimetype(vm->ro.format), name,
					     NULL);
	if (rc == 0)
		rc = pb_store_commit(st);
	else
		pb_store_rollback(st);
	if (rc == PB_EEXISTS) /* stored already (the same Call-ID): once is enough */
		rc = 0;
	pb_buf_dispose(&file);
	return rc;
}

void pb_screener__vm_free(pb_screener_vm *vm)
{
	if (!vm)
		return;
	pb_media_call_set_audio_sink(vm->mc, NULL, NULL);
	pb_recorder_free(vm->rec);
	pb_free(vm);
}
