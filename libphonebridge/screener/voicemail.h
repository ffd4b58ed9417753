/*
 * libphonebridge — the screener's voicemail (docs/screen.md "Voicemail").
 * Internal to the screener module. Not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_SCREENER_VOICEMAIL_H
#define PB_SCREENER_VOICEMAIL_H

#include <stdbool.h>
#include <stdint.h>

#include <phonebridge/media.h>
#include <phonebridge/screener.h>
#include <phonebridge/store.h>

/* One call's voicemail: greeting, then the recording. */
typedef struct pb_screener_vm pb_screener_vm;

/* Which voicemail_on bit a failed bridge's SIP status is. */
unsigned pb_screener__vm_reason(int sip_status);
/* "timeout", "busy", "unreachable" */
const char *pb_screener__vm_reason_name(unsigned reason);

/* Check the voicemail options against the prompts (greeting) and
 * libsndfile (Opus): PB_EINVAL / PB_EUNSUPPORTED with a message. */
int pb_screener__vm_check(const pb_screener_options *o, const pb_prompt_set *prompts);

/* Start a voicemail on @p mc (the call's media, borrowed; answered): the
 * greeting and a beep are queued. */
int pb_screener__vm_new(pb_screener_vm **out, const pb_screener_options *o, pb_media_call *mc, int64_t now);

/* The greeting has played: recording from now on. */
void pb_screener__vm_greeted(pb_screener_vm *vm, int64_t now);

/* An RTP datagram arrived (after pb_media_call_receive()). */
void pb_screener__vm_heard(pb_screener_vm *vm, int64_t now);

/* True when the message is over: the recorder is full or heard silence
 * long enough, no RTP came for that long, or the greeting never ended. */
bool pb_screener__vm_over(const pb_screener_vm *vm, int64_t now);

/* True once the recording started (the greeting ended). */
bool pb_screener__vm_recording(const pb_screener_vm *vm);

/*
 * Store the message durably: an inbound journal row (backend
 * "screen:voicemail", dedup key "voicemail:CALL-ID", body
 * "duration_ms=N") in state stored and the file as its attachment, in one
 * transaction. A message with nothing heard in it is not stored: 1.
 * @return 0 (stored; @p row set), 1 (silent, not stored), or an error
 */
int pb_screener__vm_store(pb_screener_vm *vm, pb_store *st, const char *caller, const char *call_id,
			  int64_t at_ms, int64_t *row, uint64_t *duration_ms);

/* Detach from the media and free. NULL is fine. */
void pb_screener__vm_free(pb_screener_vm *vm);

#endif
