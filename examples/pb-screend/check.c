/*
 * pb-screend — "check": what "run" would refuse, one ✓/✗ line per setting
 * that names something outside the file (prompts, secrets, the store).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "check.h"

#include "daemon.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <phonebridge/phonebridge.h>

static int secret(const char *key, const char *path)
{
	char buf[300], what[700];
	if (!path[0])
		return 0;
	const char *why = pbd_secret_problem(path, buf, sizeof(buf));
	snprintf(what, sizeof(what), "%s %s", key, path);
	return pbd_check_line(!why, what, "%s", why ? why : "") ? 0 : 1;
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

int screend_check(const screend_config *c)
{
	int failed = prompts(c->prompts);
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
	const char *why = pbd_store_problem(c->store, buf, sizeof(buf));
	snprintf(what, sizeof(what), "[store] path %s", c->store);
	failed += !pbd_check_line(!why, what, "%s", why ? why : "");
	return failed;
}
