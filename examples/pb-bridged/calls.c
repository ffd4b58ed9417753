/*
 * pb-bridged — the control room's commands for calls: the allow and deny
 * lists pb-screend reads from the same store, and the call log it writes
 * (docs/bridge.md "Both daemons together").
 *
 * The screener looks each caller up in the store when the call comes, so a
 * change made here counts for the very next call: no reload, no message
 * between the daemons.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"

#define NOTE_MAX 200
#define LIST_PAGE 20
#define CALLS_DEFAULT 10
#define CALLS_MAX 50

/* The kv key of a number's note ("!allow NUMBER note"). */
static void note_key(char *out, size_t size, const char *number)
{
	snprintf(out, size, "bridge.note.%s", number);
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* The next word of @p p into @p word; @return what follows it. */
static const char *next_word(const char *p, char *word, size_t size)
{
	p = skip_space(p);
	size_t n = strcspn(p, " \t\r\n");
	snprintf(word, size, "%.*s", (int)(n < size ? n : size - 1), p);
	return skip_space(p + n);
}

/* The number at the start of @p p as people write it ("+49 30 123-4567"):
 * digits and what pb_phone_normalize() drops, else the first word.
 * @return what follows it. */
static const char *number_word(const char *p, char *word, size_t size)
{
	p = skip_space(p);
	size_t n = strspn(p, "+0123456789 \t()-./");
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0 || (p[n] && p[n] != ' ' && p[n] != '\t' && p[n] != '\r' && p[n] != '\n'))
		return next_word(p, word, size); /* "1-800-FLOWERS": a word with letters */
	snprintf(word, size, "%.*s", (int)(n < size ? n : size - 1), p);
	return skip_space(p + n);
}

/* Normalise a number from an owner; on refusal @p ans says why. @return 0 or 1 (refused) */
static int number_of(const char *word, const char *region, char num[PB_PHONE_MAX], pb_buf *ans)
{
	pb_phone_kind kind = PB_PHONE_E164;
	if (!*word)
		return pb_buf_puts(ans, "Which number? e.g. !deny +15551234567") < 0 ? PB_ENOMEM : 1;
	if (pb_phone_normalize(num, PB_PHONE_MAX, word, region, &kind) < 0)
		return pb_buf_printf(ans, "Not a phone number: %s (%s)", word, pb_error_last()->message) < 0
			       ? PB_ENOMEM
			       : 1;
	if (kind == PB_PHONE_SHORT)
		return pb_buf_printf(ans, "Not a phone number: %s is a short code; calls come from full numbers",
				     word) < 0
			       ? PB_ENOMEM
			       : 1;
	if (kind == PB_PHONE_ALPHANUMERIC)
		return pb_buf_printf(ans, "Not a phone number: %s has letters in it", word) < 0 ? PB_ENOMEM : 1;
	return 0;
}

static int cmd_put(pb_store *st, const char *region, bool allow, const char *args, pb_buf *ans)
{
	/* !deny takes no note: anything after the number is a mistake */
	char word[64], num[PB_PHONE_MAX], key[PB_PHONE_MAX + 16], note[NOTE_MAX + 1];
	const char *rest = number_word(args, word, sizeof(word));
	if (!allow && *rest)
		return pb_buf_printf(ans, "Usage: !deny NUMBER (\"%s\" is not part of a number)", rest) < 0
			       ? PB_ENOMEM
			       : 1;
	int rc = number_of(word, region, num, ans);
	if (rc != 0)
		return rc < 0 ? rc : 1;
	size_t n = strcspn(rest, "\r\n");
	while (n > 0 && isspace((unsigned char)rest[n - 1]))
		n--;
	if (n > NOTE_MAX)
		n = NOTE_MAX;
	snprintf(note, sizeof(note), "%.*s", (int)n, rest);
	note_key(key, sizeof(key), num);
	/* one commit: on one list only, with its note */
	if ((rc = pb_store_begin(st)) < 0)
		return rc;
	rc = pb_store_list_add(st, allow ? PB_STORE_ALLOW : PB_STORE_DENY, num, PB_STORE_SRC_MANUAL, 0);
	if (rc == 0 && (rc = pb_store_list_remove(st, allow ? PB_STORE_DENY : PB_STORE_ALLOW, num)) == PB_ENOTFOUND)
		rc = 0;
	if (rc == 0 && *note)
		rc = pb_store_kv_set(st, key, note);
	else if (rc == 0 && (rc = pb_store_kv_delete(st, key)) == PB_ENOTFOUND)
		rc = 0;
	if (rc < 0) {
		pb_store_rollback(st);
		return rc;
	}
	if ((rc = pb_store_commit(st)) < 0)
		return rc;
	rc = pb_buf_printf(ans, "%s is on the %s list%s%s%s: %s.", num, allow ? "allow" : "deny",
			   *note ? " (" : "", note, *note ? ")" : "",
			   allow ? "its calls ring through" : "its calls are rejected");
	return rc < 0 ? rc : 1;
}

static int cmd_remove(pb_store *st, const char *region, const char *args, pb_buf *ans)
{
	char word[64], num[PB_PHONE_MAX], key[PB_PHONE_MAX + 16];
	const char *rest = number_word(args, word, sizeof(word));
	if (*rest)
		return pb_buf_printf(ans, "Usage: !remove NUMBER (\"%s\" is not part of a number)", rest) < 0
			       ? PB_ENOMEM
			       : 1;
	int rc = number_of(word, region, num, ans);
	if (rc != 0)
		return rc < 0 ? rc : 1;
	note_key(key, sizeof(key), num);
	if ((rc = pb_store_begin(st)) < 0)
		return rc;
	int a = pb_store_list_remove(st, PB_STORE_ALLOW, num);
	int d = a < 0 && a != PB_ENOTFOUND ? a : pb_store_list_remove(st, PB_STORE_DENY, num);
	int k = d < 0 && d != PB_ENOTFOUND ? d : pb_store_kv_delete(st, key);
	rc = a < 0 && a != PB_ENOTFOUND ? a : d < 0 && d != PB_ENOTFOUND ? d : k < 0 && k != PB_ENOTFOUND ? k : 0;
	if (rc < 0) {
		pb_store_rollback(st);
		return rc;
	}
	if ((rc = pb_store_commit(st)) < 0)
		return rc;
	if (a == PB_ENOTFOUND && d == PB_ENOTFOUND)
		rc = pb_buf_printf(ans, "%s is on no list.", num);
	else
		rc = pb_buf_printf(ans, "%s is off the %s list: its calls are screened again.", num,
				   a == 0 ? "allow" : "deny");
	return rc < 0 ? rc : 1;
}

typedef struct list_walk {
	size_t skip, seen, shown;
	char last[PB_PHONE_MAX];
	char (*numbers)[PB_PHONE_MAX];
	int *sources;
} list_walk;

static int walk_one(const char *number, const pb_store_list_entry *e, void *ud)
{
	list_walk *w = ud;
	if (w->seen++ >= w->skip && w->shown < LIST_PAGE) {
		snprintf(w->numbers[w->shown], PB_PHONE_MAX, "%s", number);
		w->sources[w->shown++] = e->source;
	}
	return 0;
}

static int list_one(pb_store *st, int list, size_t page, pb_buf *ans)
{
	char numbers[LIST_PAGE][PB_PHONE_MAX];
	int sources[LIST_PAGE];
	list_walk w = { .skip = (page - 1) * LIST_PAGE, .numbers = numbers, .sources = sources };
	int rc = pb_store_list_foreach(st, list, NULL, 0, 0, walk_one, &w);
	if (rc < 0)
		return rc;
	const char *name = list == PB_STORE_ALLOW ? "allow" : "deny";
	size_t pages = (w.seen + LIST_PAGE - 1) / LIST_PAGE;
	if (w.seen == 0)
		return pb_buf_printf(ans, "The %s list is empty.\n", name);
	if (w.shown == 0)
		return pb_buf_printf(ans, "The %s list has %zu page%s only.\n", name, pages, pages == 1 ? "" : "s");
	if (pb_buf_printf(ans, "%s list, page %zu of %zu (%zu number%s):\n", list == PB_STORE_ALLOW ? "Allow" : "Deny",
			  page, pages, w.seen, w.seen == 1 ? "" : "s") < 0)
		return PB_ENOMEM;
	for (size_t i = 0; i < w.shown; i++) {
		char key[PB_PHONE_MAX + 16];
		char *note = NULL;
		note_key(key, sizeof(key), numbers[i]);
		rc = pb_store_kv_get(st, key, &note);
		if (rc < 0 && rc != PB_ENOTFOUND)
			return rc;
		rc = pb_buf_printf(ans, "%s (%s)%s%s\n", numbers[i], pb_store_source_name(sources[i]),
				   note ? " " : "", note ? note : "");
		pb_free(note);
		if (rc < 0)
			return PB_ENOMEM;
	}
	if (page < pages && pb_buf_printf(ans, "More: !list %s %zu\n", name, page + 1) < 0)
		return PB_ENOMEM;
	return 0;
}

static int cmd_list(pb_store *st, const char *args, pb_buf *ans)
{
	char word[32], num[32];
	const char *rest = next_word(args, word, sizeof(word));
	int which = 0;
	if (!strcmp(word, "allow"))
		which = PB_STORE_ALLOW;
	else if (!strcmp(word, "deny"))
		which = PB_STORE_DENY;
	else
		rest = args;
	next_word(rest, num, sizeof(num));
	char *end = NULL;
	unsigned long page = *num ? strtoul(num, &end, 10) : 1;
	if ((*word && !which && !isdigit((unsigned char)*word)) || (*num && (*end || page == 0 || page > 100000)))
		return pb_buf_puts(ans, "Usage: !list [allow|deny] [PAGE]") < 0 ? PB_ENOMEM : 1;
	int rc = 0;
	if (which != PB_STORE_DENY)
		rc = list_one(st, PB_STORE_ALLOW, page, ans);
	if (rc == 0 && which != PB_STORE_ALLOW)
		rc = list_one(st, PB_STORE_DENY, page, ans);
	if (rc < 0)
		return rc;
	if (ans->len > 0 && ans->data[ans->len - 1] == '\n')
		ans->data[--ans->len] = '\0';
	return 1;
}

void pbb_call_line(const pb_store_call *c, char *out, size_t size)
{
	time_t t = (time_t)(c->at / 1000);
	struct tm tm;
	char when[32] = "?";
	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	char how[64] = "";
	bool has_challenge = c->challenge && *c->challenge && strcmp(c->challenge, "none") != 0;
	/* a voicemail's time is the caller's alone: nobody talked */
	bool voicemail = c->ended && !strncmp(c->ended, "voicemail", 9);
	if (c->duration_ms > 0 && !voicemail)
		snprintf(how, sizeof(how), ", talked %" PRId64 ":%02d", c->duration_ms / 60000,
			 (int)(c->duration_ms / 1000 % 60));
	snprintf(out, size, "%s %s: %s%s%s%s%s%s%s", when, c->caller && *c->caller ? c->caller : "anonymous",
		 c->verdict ? c->verdict : "?", c->rule && *c->rule ? " by " : "", c->rule ? c->rule : "",
		 has_challenge ? ", challenge " : "", has_challenge ? c->challenge : "",
		 c->ended && *c->ended ? ", " : "", c->ended ? c->ended : "");
	size_t len = strlen(out);
	snprintf(out + len, size - len, "%s", how);
}

static int cmd_calls(pb_store *st, const char *args, pb_buf *ans)
{
	char num[32];
	next_word(args, num, sizeof(num));
	char *end = NULL;
	unsigned long n = *num ? strtoul(num, &end, 10) : CALLS_DEFAULT;
	if (*num && (*end || n == 0))
		return pb_buf_puts(ans, "Usage: !calls [N] (the last N calls, at most 50)") < 0 ? PB_ENOMEM : 1;
	if (n > CALLS_MAX)
		n = CALLS_MAX;
	pb_store_call_list *l = NULL;
	int rc = pb_store_call_recent(st, n, &l);
	if (rc < 0)
		return rc;
	if (l->count == 0)
		rc = pb_buf_puts(ans, "No calls yet.");
	else
		rc = pb_buf_printf(ans, "The last %zu call%s, newest first:", l->count, l->count == 1 ? "" : "s");
	for (size_t i = 0; rc >= 0 && i < l->count; i++) {
		char line[512];
		pbb_call_line(&l->items[i], line, sizeof(line));
		rc = pb_buf_printf(ans, "\n%s", line);
	}
	pb_store_call_list_free(l);
	return rc < 0 ? rc : 1;
}

enum { CMD_ALLOW, CMD_DENY, CMD_REMOVE, CMD_LIST, CMD_CALLS, CMD_COUNT };
static const char *const commands[CMD_COUNT] = {
	[CMD_ALLOW] = "!allow", [CMD_DENY] = "!deny", [CMD_REMOVE] = "!remove", [CMD_LIST] = "!list",
	[CMD_CALLS] = "!calls",
};

/* Which of commands[] @p text starts with, or -1; @p args receives what
 * follows the command word. */
static int which(const char *text, const char **args)
{
	char cmd[16];
	*args = next_word(text, cmd, sizeof(cmd));
	for (int i = 0; i < CMD_COUNT; i++)
		if (!strcmp(cmd, commands[i]))
			return i;
	return -1;
}

bool pbb_calls_is_command(const char *text)
{
	const char *args;
	return which(text, &args) >= 0;
}

int pbb_calls_command(pb_store *st, const char *region, const char *text, pb_buf *ans)
{
	const char *args;
	switch (which(text, &args)) {
	case CMD_ALLOW:
		return cmd_put(st, region, true, args, ans);
	case CMD_DENY:
		return cmd_put(st, region, false, args, ans);
	case CMD_REMOVE:
		return cmd_remove(st, region, args, ans);
	case CMD_LIST:
		return cmd_list(st, args, ans);
	case CMD_CALLS:
		return cmd_calls(st, args, ans);
	default:
		return 0;
	}
}

