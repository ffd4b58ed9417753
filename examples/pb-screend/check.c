/*
 * pb-screend — "check": what "run" would refuse, one ✓/✗ line per setting
 * that names something outside the file (prompts, secrets, the store).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "check.h"

#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <phonebridge/phonebridge.h>

/* A secret file as run reads it (pb_secret_check(): modes, size, credential:NAME). */
static int secret(const char *key, const char *path)
{
	char what[700];
	if (!path[0])
		return 0;
	snprintf(what, sizeof(what), "%s %s", key, path);
	int rc = pb_secret_check(path, NULL);
	return pbd_check_line(rc == 0, what, "%s", rc < 0 ? pb_error_last()->message : "") ? 0 : 1;
}

static int prompts(const char *dir)
{
	char what[700];
	snprintf(what, sizeof(what), "[screen] prompts %s", dir);
	pb_prompt_set *set = NULL;
	int rc = pb_prompt_set_new(&set);
	if (rc == 0)
		rc = pb_prompt_set_load_dir(set, dir);
	size_t n = rc == 0 ? pb_prompt_set_count(set) : 0;
	bool ok = rc == 0 && n > 0;
	if (ok)
		pbd_check_line(true, what, "%zu prompts", n);
	else
		pbd_check_line(false, what, "%s", rc < 0 ? pb_error_last()->message : "no prompts in it");
	pb_prompt_set_free(set);
	return ok ? 0 : 1;
}

/* [voicemail]: the greeting is in the prompt set, and this libsndfile writes the format */
static int voicemail(const screend_config *c)
{
	if (!c->vm_enabled)
		return 0;
	char what[200], why[700] = "";
	snprintf(what, sizeof(what), "[voicemail] greeting %s, format %s", c->vm_greeting, c->vm_format);
	pb_prompt_set *set = NULL;
	int rc = pb_prompt_set_new(&set);
	if (rc == 0 && (rc = pb_prompt_set_load_dir(set, c->prompts)) < 0)
		snprintf(why, sizeof(why), "the prompt set does not load (see [screen] prompts)");
	else if (rc == 0 && !pb_prompt_set_find(set, c->vm_greeting))
		snprintf(why, sizeof(why), "no prompt '%s' in %s/prompts.txt", c->vm_greeting, c->prompts);
	pb_prompt_set_free(set);
	pb_recorder *r = NULL;
	pb_recorder_options ro = PB_RECORDER_OPTIONS_INIT;
	ro.format = strcmp(c->vm_format, "opus") ? PB_RECORDER_WAV : PB_RECORDER_OPUS;
	if (!why[0] && pb_recorder_new(&r, &ro) < 0)
		snprintf(why, sizeof(why), "%s", pb_error_last()->message);
	pb_recorder_free(r);
	return pbd_check_line(!why[0], what, "%s", why) ? 0 : 1;
}

int screend_check(const screend_config *c)
{
	int failed = prompts(c->prompts);
	failed += voicemail(c);
	failed += secret("[register] password-file", c->password_file);
	failed += secret("[sip] auth-users-file", c->auth_users_file);
	if (c->tls_cert_dir[0]) {
		char what[700], agent[600];
		struct stat st;
		snprintf(what, sizeof(what), "[sip] tls-cert-dir %s", c->tls_cert_dir);
		snprintf(agent, sizeof(agent), "%s/agent.pem", c->tls_cert_dir);
		if (stat(agent, &st) != 0)
			failed += !pbd_check_line(false, what, "no agent.pem in it");
		else
			pbd_check_line(true, what, NULL);
	}
	char buf[300], what[700];
	if (c->store_url_set) { /* the connection itself is checked when the screener is built */
		if (c->store_password_file[0])
			failed += secret("[store] password-file", c->store_password_file);
		return failed;
	}
	const char *why = pbd_store_problem(c->store, buf, sizeof(buf));
	snprintf(what, sizeof(what), "[store] path %s", c->store);
	failed += !pbd_check_line(!why, what, "%s", why ? why : "");
	if (c->http_listen[0]) {
		why = pbd_listen_problem(c->http_listen, buf, sizeof(buf));
		snprintf(what, sizeof(what), "[http] listen %s", c->http_listen);
		failed += !pbd_check_line(!why, what, "%s", why ? why : "");
	}
	return failed;
}

int screend_check_store_begin(const char *store, char *path, size_t size)
{
	struct stat st;
	if (strstr(store, "://") || stat(store, &st) == 0 || errno != ENOENT) {
		snprintf(path, size, "%s", store);
		return 0;
	}
	char dir[560];
	snprintf(dir, sizeof(dir), "%s.check-XXXXXX", store);
	if (!mkdtemp(dir))
		return pb_error_set(PB_EIO, "%s: cannot make a folder for the check: %s", dir, strerror(errno));
	snprintf(path, size, "%s/check.db", dir);
	return 0;
}

void screend_check_store_end(const char *store, const char *path)
{
	static const char *const tails[] = { "", "-wal", "-shm", "-journal" };
	char f[700];
	if (!strcmp(store, path))
		return;
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		snprintf(f, sizeof(f), "%s%s", path, tails[i]);
		unlink(f);
	}
	snprintf(f, sizeof(f), "%s.attachments", path);
	rmdir(f);
	snprintf(f, sizeof(f), "%s", path);
	char *slash = strrchr(f, '/');
	if (slash) {
		*slash = '\0';
		rmdir(f);
	}
}
