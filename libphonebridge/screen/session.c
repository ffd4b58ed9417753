/*
 * libphonebridge — the screening session: runs one challenge over one call.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The session owns the call's timing (the challenge timer, the digit
 * collector's timeout, the overall limit, the goodbye) and folds them into
 * the single timer its host arms. It never reads a clock: every event
 * carries the host's "now".
 */
#include <string.h>

#include "screen/private.h"

#define GOODBYE_MAX_MS 6000 /* hang up even if the host never reports the goodbye played */

typedef enum phase {
	PHASE_NEW,
	PHASE_RUNNING,
	PHASE_GOODBYE,
	PHASE_DONE,
} phase;

struct pb_screen_session {
	const pb_screen_registry *reg;
	const pb_challenge_ops *ops;
	void *state;
	pb_challenge_ctx ctx;
	const pb_screen_host_ops *host;
	void *ud;
	pb_screen_session_options opts;
	int64_t max_ms;           /* the time limit, resolved from opts; 0 = none */
	char name[PB_SCREEN_NAME_MAX];
	char reason[128];
	phase phase;
	bool answered, ringing, playing;
	bool closing;           /* in on_hangup: no more actions */
	int64_t now, started;
	int64_t timer_at;       /* challenge timer; -1 off */
	int64_t goodbye_at;     /* -1 off */
	int64_t armed;          /* what the host has armed; -1 none */
	/* digit collection */
	bool collecting;
	unsigned want, timeout;
	int64_t collect_at;     /* -1 while the prompts still play */
	char digits[PB_SCREEN_MAX_DIGITS + 1];
	unsigned got;
	pb_screen_result result;
};

static int default_random(void *buf, size_t len, void *ud)
{
	(void)ud;
	return pb_random_bytes(buf, len);
}

const char *pb_screen_outcome_name(pb_screen_outcome o)
{
	switch (o) {
	case PB_SCREEN_PASSED: return "passed";
	case PB_SCREEN_FAILED: return "failed";
	case PB_SCREEN_HUNG_UP: return "hung-up";
	case PB_SCREEN_TIMED_OUT: return "timed-out";
	case PB_SCREEN_ERROR: return "error";
	}
	return "?";
}

int pb_screen_session_new(pb_screen_session **out, const pb_screen_registry *reg,
			  const char *name, const char *params,
			  const pb_screen_host_ops *host, void *userdata,
			  const pb_screen_session_options *opts)
{
	static const pb_screen_session_options defaults = PB_SCREEN_SESSION_OPTIONS_INIT;
	if (!out || !name || !host)
		return pb_error_set(PB_EINVAL, "session_new: NULL argument");
	*out = NULL;
	int vrc = PB_CHECK_VERSION(host, PB_SCREEN_HOST_OPS, 1);
	if (vrc == 0 && opts)
		vrc = PB_CHECK_VERSION(opts, PB_SCREEN_SESSION_OPTIONS, 1);
	if (vrc < 0)
		return vrc;
	/* a version 1 struct ends before max_duration_ms: read no further */
	pb_screen_session_options o = defaults;
	if (opts) {
		o.max_duration_ms = 0;
		memcpy(&o, opts, opts->version == 1 ? offsetof(pb_screen_session_options, max_duration_ms) : sizeof(o));
	}
	if (o.max_duration_ms > INT_MAX && o.max_duration_ms != PB_WAIT_FOREVER)
		return pb_error_set(PB_EINVAL, "pb_screen_session_options.max_duration_ms: %u ms: at most %d, "
				    "or PB_WAIT_FOREVER", o.max_duration_ms, INT_MAX);
	if (!host->ring || !host->answer || !host->play || !host->stop_playing || !host->set_timer ||
	    !host->finish)
		return pb_error_set(PB_EINVAL, "session_new: a host function is missing");
	const pb_challenge_ops *ops = pb_screen_registry_find(reg, name);
	if (!ops)
		return PB_ENOTFOUND;
	pb_screen_session *s = pb_calloc(1, sizeof(*s));
	if (!s)
		return PB_ENOMEM;
	int rc = pb_screen__instance_new(&s->state, ops, params, reg);
	if (rc < 0) {
		pb_free(s);
		return rc;
	}
	s->reg = reg;
	s->ops = ops;
	s->ctx.s = s;
	s->host = host;
	s->ud = userdata;
	s->opts = o;
	/* the time limit in ms, 0 for none */
	s->max_ms = o.max_duration_ms == PB_WAIT_FOREVER ? 0
		    : o.max_duration_ms				 ? (int64_t)o.max_duration_ms
		    : o.max_duration > 0			 ? o.max_duration
								 : 0;
	if (!s->opts.random)
		s->opts.random = default_random;
	pb_strlcpy(s->name, ops->name, sizeof(s->name));
	s->timer_at = s->goodbye_at = s->armed = s->collect_at = -1;
	*out = s;
	return 0;
}

void pb_screen_session_free(pb_screen_session *s)
{
	if (!s)
		return;
	if (s->state)
		s->ops->destroy(s->state, s->ops->userdata);
	pb_free(s);
}

/* --- ending ------------------------------------------------------------------- */

static void finish(pb_screen_session *s, pb_screen_outcome outcome, const char *reason)
{
	if (s->phase == PHASE_DONE)
		return;
	s->phase = PHASE_DONE;
	if (reason && reason != s->reason)
		pb_strlcpy(s->reason, reason, sizeof(s->reason));
	s->result.outcome = outcome;
	s->result.answered = s->answered;
	s->result.challenge = s->name;
	s->result.reason = s->reason;
	s->result.duration_ms = s->now - s->started;
	if (s->armed != -1) {
		s->armed = -1;
		s->host->set_timer(-1, s->ud);
	}
	s->host->finish(&s->result, s->ud);
}

static void fail(pb_screen_session *s, const char *reason)
{
	if (s->phase != PHASE_RUNNING)
		return;
	pb_strlcpy(s->reason, reason ? reason : "failed", sizeof(s->reason));
	s->collecting = false;
	s->timer_at = -1;
	if (!s->answered || !s->opts.goodbye) {
		finish(s, PB_SCREEN_FAILED, s->reason);
		return;
	}
	static const char *const bye[] = { "goodbye" };
	s->phase = PHASE_GOODBYE;
	if (s->playing)
		s->host->stop_playing(s->ud);
	s->playing = true;
	s->host->play(bye, 1, s->ud);
	s->goodbye_at = s->now + GOODBYE_MAX_MS;
}

/* A challenge op returned an error code: the session ends with it. */
static void check(pb_screen_session *s, int rc)
{
	if (rc >= 0 || s->phase == PHASE_DONE)
		return;
	const char *msg = pb_error_last()->message;
	char reason[128];
	pb_strlcpy(reason, msg[0] ? msg : pb_strerror(rc), sizeof(reason));
	finish(s, PB_SCREEN_ERROR, reason);
}

/* Fold every deadline into the host's one timer. */
static void rearm(pb_screen_session *s)
{
	if (s->phase == PHASE_DONE)
		return;
	int64_t at = -1;
	int64_t cand[4] = {
		s->timer_at,
		s->collecting ? s->collect_at : -1,
		s->goodbye_at,
		s->max_ms > 0 ? s->started + s->max_ms : -1,
	};
	for (size_t i = 0; i < PB_ARRAY_SIZE(cand); i++)
		if (cand[i] >= 0 && (at < 0 || cand[i] < at))
			at = cand[i];
	if (at != s->armed) {
		s->armed = at;
		s->host->set_timer(at, s->ud);
	}
}

static bool running(pb_screen_session *s)
{
	return s->phase == PHASE_RUNNING;
}

/* --- actions a challenge takes ---------------------------------------------------- */

static pb_screen_session *ctx_session(pb_challenge_ctx *ctx)
{
	return ctx && ctx->s && ctx->s->phase == PHASE_RUNNING && !ctx->s->closing ? ctx->s : NULL;
}

#define SESSION_OR_FAIL(s, ctx)                                                      \
	pb_screen_session *s = ctx_session(ctx);                                    \
	if (!s)                                                                      \
		return pb_error_set(PB_ESTATE, "challenge action outside a running session")

int pb_challenge_ring_ms(pb_challenge_ctx *ctx, unsigned ms)
{
	SESSION_OR_FAIL(s, ctx);
	if (ms > INT_MAX)
		return pb_error_set(PB_EINVAL, "pb_challenge_ring_ms: %u ms is above INT_MAX (a negative value?)", ms);
	if (!s->ringing && !s->answered) {
		s->ringing = true;
		s->host->ring(s->ud);
	}
	return pb_challenge_set_timer(ctx, ms ? ms : 1u); /* 0 would disarm it */
}

int pb_challenge_ring(pb_challenge_ctx *ctx, unsigned seconds)
{
	if (seconds > INT_MAX / 1000u)
		return pb_error_set(PB_EINVAL, "pb_challenge_ring: %u s is more than INT_MAX ms", seconds);
	return pb_challenge_ring_ms(ctx, seconds * 1000u);
}

int pb_challenge_answer(pb_challenge_ctx *ctx)
{
	SESSION_OR_FAIL(s, ctx);
	if (!s->answered) {
		s->answered = true;
		s->host->answer(s->ud);
	}
	return 0;
}

int pb_challenge_play(pb_challenge_ctx *ctx, const char *const *names, size_t n)
{
	SESSION_OR_FAIL(s, ctx);
	if (n == 0)
		return 0;
	if (!names)
		return pb_error_set(PB_EINVAL, "play: no names");
	for (size_t i = 0; i < n; i++)
		if (!names[i] || !names[i][0] || strlen(names[i]) >= 64)
			return pb_error_set(PB_EINVAL, "play: empty or over-long prompt name");
	pb_challenge_answer(ctx);
	s->playing = true;
	s->host->play(names, n, s->ud);
	return 0;
}

int pb_challenge_say_digits(pb_challenge_ctx *ctx, const char *digits)
{
	static const char *const names[] = {
		"digit-0", "digit-1", "digit-2", "digit-3", "digit-4",
		"digit-5", "digit-6", "digit-7", "digit-8", "digit-9",
	};
	const char *seq[PB_SCREEN_MAX_DIGITS];
	size_t n = 0;
	if (!digits)
		return pb_error_set(PB_EINVAL, "say_digits: NULL");
	for (const char *p = digits; *p; p++) {
		if (n == PB_SCREEN_MAX_DIGITS)
			return pb_error_set(PB_ETOOBIG, "say_digits: more than %d digits", PB_SCREEN_MAX_DIGITS);
		if (*p >= '0' && *p <= '9')
			seq[n++] = names[*p - '0'];
		else if (*p == '*')
			seq[n++] = "star";
		else if (*p == '#')
			seq[n++] = "pound";
		else
			return pb_error_set(PB_EINVAL, "say_digits: '%c' is not a digit", *p);
	}
	return pb_challenge_play(ctx, seq, n);
}

int pb_challenge_collect(pb_challenge_ctx *ctx, unsigned count, unsigned timeout_ms)
{
	SESSION_OR_FAIL(s, ctx);
	if (count == 0 || count > PB_SCREEN_MAX_DIGITS || timeout_ms == 0)
		return pb_error_set(PB_EINVAL, "collect: count 1..%d and a timeout are needed",
				    PB_SCREEN_MAX_DIGITS);
	s->collecting = true;
	s->want = count;
	s->timeout = timeout_ms;
	s->got = 0;
	s->digits[0] = '\0';
	s->collect_at = s->playing ? -1 : s->now + timeout_ms;
	return 0;
}

int pb_challenge_set_timer(pb_challenge_ctx *ctx, unsigned ms)
{
	SESSION_OR_FAIL(s, ctx);
	s->timer_at = ms ? s->now + ms : -1;
	return 0;
}

int pb_challenge_pass(pb_challenge_ctx *ctx)
{
	SESSION_OR_FAIL(s, ctx);
	if (ctx->done) {
		ctx->done(ctx->owner, true, NULL);
		return 0;
	}
	finish(s, PB_SCREEN_PASSED, "passed");
	return 0;
}

int pb_challenge_fail(pb_challenge_ctx *ctx, const char *reason)
{
	SESSION_OR_FAIL(s, ctx);
	if (ctx->done) {
		ctx->done(ctx->owner, false, reason);
		return 0;
	}
	fail(s, reason);
	return 0;
}

int pb_challenge_random(pb_challenge_ctx *ctx, void *buf, size_t len)
{
	if (!ctx || !ctx->s || (!buf && len))
		return pb_error_set(PB_EINVAL, "random: bad argument");
	return ctx->s->opts.random(buf, len, ctx->s->opts.random_userdata);
}

int pb_challenge_random_below(pb_challenge_ctx *ctx, unsigned bound, unsigned *out)
{
	if (bound == 0 || bound > 65536 || !out)
		return pb_error_set(PB_EINVAL, "random_below: bound 1..65536");
	/* rejection sampling: no modulo bias */
	uint32_t limit = 65536u - 65536u % bound;
	for (int i = 0; i < 1000; i++) {
		uint8_t b[2];
		int rc = pb_challenge_random(ctx, b, 2);
		if (rc < 0)
			return rc;
		uint32_t v = (uint32_t)(b[0] << 8 | b[1]);
		if (v < limit) {
			*out = v % bound;
			return 0;
		}
	}
	return pb_error_set(PB_EIO, "random source keeps returning out-of-range values");
}

int64_t pb_challenge_now(const pb_challenge_ctx *ctx)
{
	return ctx && ctx->s ? ctx->s->now : 0;
}

void pb_screen__ctx_reset(pb_challenge_ctx *ctx)
{
	pb_screen_session *s = ctx->s;
	s->timer_at = -1;
	s->collecting = false;
}

/* --- events from the host --------------------------------------------------------- */

static int enter(pb_screen_session *s, int64_t now)
{
	if (!s)
		return pb_error_set(PB_EINVAL, "session is NULL");
	if (s->phase == PHASE_DONE)
		return pb_error_set(PB_ESTATE, "session %s already finished", s->name);
	if (now > s->now)
		s->now = now;
	return 0;
}

int pb_screen_session_start(pb_screen_session *s, int64_t now)
{
	int rc = enter(s, now);
	if (rc < 0)
		return rc;
	if (s->phase != PHASE_NEW)
		return pb_error_set(PB_ESTATE, "session %s already started", s->name);
	s->phase = PHASE_RUNNING;
	s->started = s->now;
	check(s, s->ops->start(s->state, &s->ctx));
	rearm(s);
	return 0;
}

static void end_collect(pb_screen_session *s, bool timed_out)
{
	s->collecting = false;
	if (s->ops->on_input)
		check(s, s->ops->on_input(s->state, &s->ctx, s->digits, timed_out));
}

int pb_screen_session_dtmf(pb_screen_session *s, char digit, int64_t now)
{
	int rc = enter(s, now);
	if (rc < 0)
		return rc;
	if (!strchr("0123456789*#ABCD", digit) || digit == '\0')
		return pb_error_set(PB_EINVAL, "dtmf: '%c' is not a DTMF digit", digit);
	if (!running(s))
		return 0; /* before start, or during the goodbye */
	if (s->collecting) {
		if (s->playing) { /* barge-in: the caller knows what to do */
			s->playing = false;
			s->host->stop_playing(s->ud);
		}
		s->digits[s->got++] = digit;
		s->digits[s->got] = '\0';
		if (s->got == s->want)
			end_collect(s, false);
		else
			s->collect_at = s->now + s->timeout;
	} else if (s->ops->on_dtmf) {
		check(s, s->ops->on_dtmf(s->state, &s->ctx, digit));
	}
	rearm(s);
	return 0;
}

int pb_screen_session_timer(pb_screen_session *s, int64_t now)
{
	int rc = enter(s, now);
	if (rc < 0)
		return rc;
	if (s->phase == PHASE_NEW)
		return 0;
	s->armed = -1; /* the host's timer has gone off */
	if (s->max_ms > 0 && s->now >= s->started + s->max_ms) {
		if (s->phase == PHASE_GOODBYE)
			finish(s, PB_SCREEN_FAILED, s->reason);
		else
			finish(s, PB_SCREEN_TIMED_OUT, "time limit reached");
		return 0;
	}
	if (s->phase == PHASE_GOODBYE) {
		if (s->now >= s->goodbye_at)
			finish(s, PB_SCREEN_FAILED, s->reason);
		rearm(s);
		return 0;
	}
	if (s->collecting && s->collect_at >= 0 && s->now >= s->collect_at)
		end_collect(s, true);
	if (running(s) && s->timer_at >= 0 && s->now >= s->timer_at) {
		s->timer_at = -1;
		if (s->ops->on_timer)
			check(s, s->ops->on_timer(s->state, &s->ctx));
	}
	rearm(s);
	return 0;
}

int pb_screen_session_prompt_done(pb_screen_session *s, int64_t now)
{
	int rc = enter(s, now);
	if (rc < 0)
		return rc;
	if (!s->playing)
		return 0; /* stale: the prompts were stopped, or nothing played */
	s->playing = false;
	if (s->phase == PHASE_GOODBYE) {
		finish(s, PB_SCREEN_FAILED, s->reason);
		return 0;
	}
	if (!running(s))
		return 0;
	if (s->collecting && s->collect_at < 0)
		s->collect_at = s->now + s->timeout;
	if (s->ops->on_prompt_done)
		check(s, s->ops->on_prompt_done(s->state, &s->ctx));
	rearm(s);
	return 0;
}

int pb_screen_session_hangup(pb_screen_session *s, int64_t now)
{
	int rc = enter(s, now);
	if (rc < 0)
		return rc;
	if (s->phase == PHASE_GOODBYE) {
		finish(s, PB_SCREEN_FAILED, s->reason);
		return 0;
	}
	if (running(s) && s->ops->on_hangup) {
		s->closing = true;
		s->ops->on_hangup(s->state, &s->ctx);
	}
	finish(s, PB_SCREEN_HUNG_UP, "caller hung up");
	return 0;
}

bool pb_screen_session_finished(const pb_screen_session *s)
{
	return s && s->phase == PHASE_DONE;
}

const pb_screen_result *pb_screen_session_result(const pb_screen_session *s)
{
	return s && s->phase == PHASE_DONE ? &s->result : NULL;
}

const char *pb_screen_session_challenge(const pb_screen_session *s)
{
	return s ? s->name : NULL;
}
