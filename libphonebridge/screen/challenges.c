/*
 * libphonebridge — the built-in challenges: press-digit, random-code,
 * arithmetic, ring-delay and chain. Each is an ordinary ops table, written
 * only against phonebridge/sys/challenge.h (plus the chain's access to the
 * registry), as a challenge outside the library would be.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "screen/private.h"

/* --- questions: press-digit, random-code, arithmetic ---------------------------- */

typedef enum question_kind { Q_PRESS, Q_CODE, Q_ARITH } question_kind;

typedef struct question {
	question_kind kind;
	char digit[2];      /* press-digit */
	long ndigits;       /* random-code */
	long max;           /* arithmetic: operands 1..max */
	long tries, timeout;
	long left;
	unsigned a, b;      /* arithmetic operands */
	char expected[PB_SCREEN_MAX_DIGITS + 1];
} question;

static const char *const digit_names[] = {
	"digit-0", "digit-1", "digit-2", "digit-3", "digit-4",
	"digit-5", "digit-6", "digit-7", "digit-8", "digit-9",
};

static int question_create(void **state, const pb_challenge_config *cfg, question_kind kind)
{
	static const char *const press_keys[] = { "digit", "tries", "timeout", NULL };
	static const char *const code_keys[] = { "digits", "tries", "timeout", NULL };
	static const char *const arith_keys[] = { "max", "tries", "timeout", NULL };
	question q = { .kind = kind };
	int rc = pb_challenge_config_check(cfg, kind == Q_PRESS ? press_keys
					   : kind == Q_CODE ? code_keys : arith_keys);
	if (rc == 0)
		rc = pb_challenge_config_int(cfg, "tries", 3, 1, 9, &q.tries);
	if (rc == 0)
		rc = pb_challenge_config_int(cfg, "timeout", kind == Q_CODE ? 10 : 8, 1, 120, &q.timeout);
	if (rc == 0 && kind == Q_CODE)
		rc = pb_challenge_config_int(cfg, "digits", 4, 1, 12, &q.ndigits);
	if (rc == 0 && kind == Q_ARITH)
		rc = pb_challenge_config_int(cfg, "max", 9, 1, 9, &q.max);
	if (rc == 0 && kind == Q_PRESS) {
		const char *d = pb_challenge_config_get(cfg, "digit");
		if (!d)
			d = "6";
		if (strlen(d) != 1 || !strchr("0123456789*#", d[0]))
			return pb_error_set(PB_EINVAL, "%s: digit=%s: expected one of 0-9, * or #",
					    pb_challenge_config_name(cfg), d);
		q.digit[0] = d[0];
	}
	if (rc < 0)
		return rc;
	question *p = pb_malloc(sizeof(*p));
	if (!p)
		return PB_ENOMEM;
	*p = q;
	*state = p;
	return 0;
}

/* The ops tables carry the question kind in their userdata. */
static int question_create_op(void **state, const pb_challenge_config *cfg, void *ud)
{
	return question_create(state, cfg, (question_kind)(uintptr_t)ud);
}

static void question_destroy(void *state, void *ud)
{
	(void)ud;
	pb_free(state);
}

/* Draw what the caller must enter. */
static int question_draw(question *q, pb_challenge_ctx *ctx)
{
	unsigned v;
	int rc;
	switch (q->kind) {
	case Q_PRESS:
		strcpy(q->expected, q->digit);
		return 0;
	case Q_CODE:
		for (long i = 0; i < q->ndigits; i++) {
			if ((rc = pb_challenge_random_below(ctx, 10, &v)) < 0)
				return rc;
			q->expected[i] = (char)('0' + v);
		}
		q->expected[q->ndigits] = '\0';
		return 0;
	case Q_ARITH:
		if ((rc = pb_challenge_random_below(ctx, (unsigned)q->max, &q->a)) < 0 ||
		    (rc = pb_challenge_random_below(ctx, (unsigned)q->max, &q->b)) < 0)
			return rc;
		q->a++;
		q->b++;
		snprintf(q->expected, sizeof(q->expected), "%u", q->a + q->b);
		return 0;
	}
	return PB_EINVAL;
}

/* Play the question (after "try-again" on a retry) and wait for the answer. */
static int question_ask(question *q, pb_challenge_ctx *ctx, bool again)
{
	static const char *const retry[] = { "try-again" };
	int rc = pb_challenge_answer(ctx);
	if (rc == 0 && again)
		rc = pb_challenge_play(ctx, retry, 1);
	if (rc < 0)
		return rc;
	switch (q->kind) {
	case Q_PRESS: {
		const char *seq[] = { "press", "", "to-continue" };
		seq[1] = q->digit[0] == '*' ? "star" : q->digit[0] == '#' ? "pound"
			 : digit_names[q->digit[0] - '0'];
		rc = pb_challenge_play(ctx, seq, 3);
		break;
	}
	case Q_CODE: {
		static const char *const intro[] = { "enter-the-code" };
		rc = pb_challenge_play(ctx, intro, 1);
		if (rc == 0)
			rc = pb_challenge_say_digits(ctx, q->expected);
		break;
	}
	case Q_ARITH: {
		const char *seq[] = { "what-is", digit_names[q->a], "plus", digit_names[q->b] };
		rc = pb_challenge_play(ctx, seq, 4);
		break;
	}
	}
	if (rc < 0)
		return rc;
	return pb_challenge_collect(ctx, (unsigned)strlen(q->expected), (unsigned)q->timeout * 1000u);
}

static int question_start(void *state, pb_challenge_ctx *ctx)
{
	question *q = state;
	q->left = q->tries;
	int rc = question_draw(q, ctx);
	return rc < 0 ? rc : question_ask(q, ctx, false);
}

static int question_input(void *state, pb_challenge_ctx *ctx, const char *digits, bool timed_out)
{
	question *q = state;
	if (!timed_out && strcmp(digits, q->expected) == 0)
		return pb_challenge_pass(ctx);
	if (--q->left <= 0)
		return pb_challenge_fail(ctx, digits[0] ? "wrong digits" : "no digits");
	return question_ask(q, ctx, true);
}

static const pb_challenge_ops press_digit_ops = {
	.version = PB_CHALLENGE_OPS_VERSION,
	.name = "press-digit",
	.summary = "answer and ask for one fixed digit (\"press 6 to continue\")",
	.create = question_create_op,
	.start = question_start,
	.on_input = question_input,
	.destroy = question_destroy,
	.userdata = (void *)(uintptr_t)Q_PRESS,
};

static const pb_challenge_ops random_code_ops = {
	.version = PB_CHALLENGE_OPS_VERSION,
	.name = "random-code",
	.summary = "answer, read out N random digits and ask for them back",
	.create = question_create_op,
	.start = question_start,
	.on_input = question_input,
	.destroy = question_destroy,
	.userdata = (void *)(uintptr_t)Q_CODE,
};

static const pb_challenge_ops arithmetic_ops = {
	.version = PB_CHALLENGE_OPS_VERSION,
	.name = "arithmetic",
	.summary = "answer and ask for the sum of two small random numbers",
	.create = question_create_op,
	.start = question_start,
	.on_input = question_input,
	.destroy = question_destroy,
	.userdata = (void *)(uintptr_t)Q_ARITH,
};

/* --- ring-delay ------------------------------------------------------------------ */

static int ring_create(void **state, const pb_challenge_config *cfg, void *ud)
{
	static const char *const keys[] = { "seconds", NULL };
	long seconds;
	(void)ud;
	int rc = pb_challenge_config_check(cfg, keys);
	if (rc == 0)
		rc = pb_challenge_config_int(cfg, "seconds", 8, 1, 120, &seconds);
	if (rc < 0)
		return rc;
	long *p = pb_malloc(sizeof(*p));
	if (!p)
		return PB_ENOMEM;
	*p = seconds;
	*state = p;
	return 0;
}

static int ring_start(void *state, pb_challenge_ctx *ctx)
{
	return pb_challenge_ring_ms(ctx, (unsigned)*(long *)state * 1000u);
}

/* Still there after the ring: robodialers give up long before a person does. */
static int ring_timer(void *state, pb_challenge_ctx *ctx)
{
	(void)state;
	return pb_challenge_pass(ctx);
}

static void ring_destroy(void *state, void *ud)
{
	(void)ud;
	pb_free(state);
}

static const pb_challenge_ops ring_delay_ops = {
	.version = PB_CHALLENGE_OPS_VERSION,
	.name = "ring-delay",
	.summary = "ring N seconds before answering; passes if the caller is still there",
	.create = ring_create,
	.start = ring_start,
	.on_timer = ring_timer,
	.destroy = ring_destroy,
};

/* --- chain -------------------------------------------------------------------- */

#define CHAIN_MAX 8

typedef struct chain_step {
	const pb_challenge_ops *ops;
	void *state;
	pb_challenge_ctx ctx;
} chain_step;

typedef struct chain {
	chain_step step[CHAIN_MAX];
	size_t n, current;
	pb_challenge_ctx *parent;
} chain;

static void chain_destroy(void *state, void *ud)
{
	chain *c = state;
	(void)ud;
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		if (c->step[i].state)
			c->step[i].ops->destroy(c->step[i].state, c->step[i].ops->userdata);
	pb_free(c);
}

/* "press-digit.digit=6 press-digit.tries=2" -> "digit=\"6\" tries=\"2\"" for step @name. */
static int step_params(const pb_challenge_config *cfg, const char *name, pb_buf *out)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < pb_challenge_config_count(cfg); i++) {
		const char *k = pb_challenge_config_key(cfg, i);
		if (strncmp(k, name, nl) != 0 || k[nl] != '.')
			continue;
		int rc = pb_buf_printf(out, "%s%s=\"%s\"", out->len ? " " : "", k + nl + 1,
				       pb_challenge_config_value(cfg, i));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Every key is "steps" or "<step>.<key>" for a step in the chain. */
static int chain_check_keys(const pb_challenge_config *cfg, const chain *c)
{
	for (size_t i = 0; i < pb_challenge_config_count(cfg); i++) {
		const char *k = pb_challenge_config_key(cfg, i);
		if (!strcmp(k, "steps"))
			continue;
		const char *dot = strchr(k, '.');
		bool ok = false;
		for (size_t j = 0; dot && j < c->n && !ok; j++)
			ok = strlen(c->step[j].ops->name) == (size_t)(dot - k) &&
			     !strncmp(k, c->step[j].ops->name, (size_t)(dot - k));
		if (!ok)
			return pb_error_set(PB_EINVAL, "chain: unknown parameter '%s' (expected steps= "
					    "or STEP.KEY= for a step in the chain)", k);
	}
	return 0;
}

static int chain_add_steps(chain *c, const pb_challenge_config *cfg, const char *steps)
{
	const char *p = steps;
	while (*p) {
		char name[PB_SCREEN_NAME_MAX];
		size_t len = strcspn(p, ",");
		if (len == 0 || len >= sizeof(name))
			return pb_error_set(PB_EINVAL, "chain: steps=%s: empty or over-long step name", steps);
		memcpy(name, p, len);
		name[len] = '\0';
		if (c->n == CHAIN_MAX)
			return pb_error_set(PB_EINVAL, "chain: more than %d steps", CHAIN_MAX);
		if (!strcmp(name, "chain"))
			return pb_error_set(PB_EINVAL, "chain: a chain cannot contain a chain");
		const pb_challenge_ops *ops = pb_screen_registry_find(cfg->reg, name);
		if (!ops)
			return pb_error_set(PB_EINVAL, "chain: steps: no challenge named '%s'", name);
		c->step[c->n++].ops = ops;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int chain_create(void **state, const pb_challenge_config *cfg, void *ud)
{
	(void)ud;
	const char *steps = pb_challenge_config_get(cfg, "steps");
	if (!steps || !steps[0])
		return pb_error_set(PB_EINVAL, "chain: steps= is required, e.g. steps=ring-delay,press-digit");
	chain *c = pb_calloc(1, sizeof(*c));
	if (!c)
		return PB_ENOMEM;
	pb_buf params = PB_BUF_INIT;
	int rc = chain_add_steps(c, cfg, steps);
	if (rc == 0)
		rc = chain_check_keys(cfg, c);
	for (size_t i = 0; rc == 0 && i < c->n; i++) {
		pb_buf_clear(&params);
		rc = step_params(cfg, c->step[i].ops->name, &params);
		if (rc == 0)
			rc = pb_screen__instance_new(&c->step[i].state, c->step[i].ops,
						     pb_buf_cstr(&params), cfg->reg);
	}
	pb_buf_dispose(&params);
	if (rc < 0) {
		chain_destroy(c, NULL);
		return rc;
	}
	*state = c;
	return 0;
}

static void chain_step_done(void *owner, bool passed, const char *reason);

static int chain_start_step(chain *c)
{
	chain_step *st = &c->step[c->current];
	st->ctx.s = c->parent->s;
	st->ctx.done = chain_step_done;
	st->ctx.owner = c;
	return st->ops->start(st->state, &st->ctx);
}

static void chain_step_done(void *owner, bool passed, const char *reason)
{
	chain *c = owner;
	pb_screen__ctx_reset(c->parent);
	if (!passed) {
		pb_challenge_fail(c->parent, reason);
		return;
	}
	if (++c->current == c->n) {
		pb_challenge_pass(c->parent);
		return;
	}
	if (chain_start_step(c) < 0) {
		char msg[128];
		pb_strlcpy(msg, pb_error_last()->message, sizeof(msg));
		c->current = c->n; /* nothing runs any more */
		pb_challenge_fail(c->parent, msg);
	}
}

static int chain_start(void *state, pb_challenge_ctx *ctx)
{
	chain *c = state;
	c->parent = ctx;
	c->current = 0;
	return chain_start_step(c);
}

static chain_step *chain_current(chain *c)
{
	return c->current < c->n ? &c->step[c->current] : NULL;
}

static int chain_dtmf(void *state, pb_challenge_ctx *ctx, char digit)
{
	chain_step *st = chain_current(state);
	(void)ctx;
	return st && st->ops->on_dtmf ? st->ops->on_dtmf(st->state, &st->ctx, digit) : 0;
}

static int chain_input(void *state, pb_challenge_ctx *ctx, const char *digits, bool timed_out)
{
	chain_step *st = chain_current(state);
	(void)ctx;
	return st && st->ops->on_input ? st->ops->on_input(st->state, &st->ctx, digits, timed_out) : 0;
}

static int chain_timer(void *state, pb_challenge_ctx *ctx)
{
	chain_step *st = chain_current(state);
	(void)ctx;
	return st && st->ops->on_timer ? st->ops->on_timer(st->state, &st->ctx) : 0;
}

static int chain_prompt_done(void *state, pb_challenge_ctx *ctx)
{
	chain_step *st = chain_current(state);
	(void)ctx;
	return st && st->ops->on_prompt_done ? st->ops->on_prompt_done(st->state, &st->ctx) : 0;
}

static void chain_hangup(void *state, pb_challenge_ctx *ctx)
{
	chain_step *st = chain_current(state);
	(void)ctx;
	if (st && st->ops->on_hangup)
		st->ops->on_hangup(st->state, &st->ctx);
}

static const pb_challenge_ops chain_ops = {
	.version = PB_CHALLENGE_OPS_VERSION,
	.name = "chain",
	.summary = "run several challenges in order (steps=ring-delay,press-digit; STEP.KEY=VALUE)",
	.create = chain_create,
	.start = chain_start,
	.on_dtmf = chain_dtmf,
	.on_input = chain_input,
	.on_timer = chain_timer,
	.on_prompt_done = chain_prompt_done,
	.on_hangup = chain_hangup,
	.destroy = chain_destroy,
};

const pb_challenge_ops *const pb_screen__builtins[] = {
	&press_digit_ops, &random_code_ops, &arithmetic_ops, &ring_delay_ops, &chain_ops, NULL,
};
