/*
 * libphonebridge — challenge parameters ("digit=6 tries=3") and the registry.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "screen/private.h"

struct pb_screen_registry {
	const pb_challenge_ops **user;
	size_t n_user;
};

/* --- parameters --------------------------------------------------------------- */

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';';
}

/*
 * Split "k=v k2=v2" (separated by white space or ';') in place. Values may
 * be double-quoted to hold spaces.
 */
static int split(pb_challenge_config *cfg)
{
	char *p = cfg->text;
	for (;;) {
		while (is_sep(*p))
			p++;
		if (*p == '\0')
			return 0;
		char *key = p;
		while (key_char(*p))
			p++;
		if (p == key || *p != '=')
			return pb_error_set(PB_EINVAL, "%s: bad parameter near '%.20s': expected key=value",
					    cfg->name, key);
		*p++ = '\0';
		char *value = p;
		if (*p == '"') {
			value = ++p;
			while (*p && *p != '"')
				p++;
			if (*p != '"')
				return pb_error_set(PB_EINVAL, "%s: %s: unterminated quote", cfg->name, key);
		} else {
			while (*p && !is_sep(*p))
				p++;
		}
		bool last = *p == '\0';
		*p = '\0';
		if (cfg->n == PB_SCREEN_MAX_PARAMS)
			return pb_error_set(PB_ETOOBIG, "%s: more than %d parameters", cfg->name,
					    PB_SCREEN_MAX_PARAMS);
		for (size_t i = 0; i < cfg->n; i++)
			if (!strcmp(cfg->keys[i], key))
				return pb_error_set(PB_EINVAL, "%s: parameter %s given twice", cfg->name, key);
		cfg->keys[cfg->n] = key;
		cfg->values[cfg->n++] = value;
		if (last)
			return 0;
		p++;
	}
}

int pb_screen__config_parse(pb_challenge_config *cfg, const char *name, const char *params,
			    const pb_screen_registry *reg)
{
	memset(cfg, 0, sizeof(*cfg));
	pb_strlcpy(cfg->name, name, sizeof(cfg->name));
	cfg->reg = reg;
	cfg->text = pb_strdup(params ? params : "");
	if (!cfg->text)
		return PB_ENOMEM;
	int rc = split(cfg);
	if (rc < 0)
		pb_screen__config_dispose(cfg);
	return rc;
}

void pb_screen__config_dispose(pb_challenge_config *cfg)
{
	pb_free(cfg->text);
	cfg->text = NULL;
	cfg->n = 0;
}

const char *pb_challenge_config_get(const pb_challenge_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (!strcmp(cfg->keys[i], key))
			return cfg->values[i];
	return NULL;
}

int pb_challenge_config_int(const pb_challenge_config *cfg, const char *key,
			    long def, long min, long max, long *out)
{
	const char *v = pb_challenge_config_get(cfg, key);
	if (!v) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end != '\0' || n < min || n > max)
		return pb_error_set(PB_EINVAL, "%s: %s=%s: expected an integer %ld..%ld",
				    cfg->name, key, v, min, max);
	*out = n;
	return 0;
}

int pb_challenge_config_check(const pb_challenge_config *cfg, const char *const *allowed)
{
	for (size_t i = 0; i < cfg->n; i++) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = !strcmp(*a, cfg->keys[i]);
		if (ok)
			continue;
		char known[160] = "";
		for (const char *const *a = allowed; *a; a++) {
			if (known[0])
				strncat(known, ", ", sizeof(known) - strlen(known) - 1);
			strncat(known, *a, sizeof(known) - strlen(known) - 1);
		}
		return pb_error_set(PB_EINVAL, "%s: unknown parameter '%s' (known: %s)", cfg->name,
				    cfg->keys[i], known[0] ? known : "none");
	}
	return 0;
}

const char *pb_challenge_config_name(const pb_challenge_config *cfg) { return cfg->name; }
size_t pb_challenge_config_count(const pb_challenge_config *cfg) { return cfg->n; }

const char *pb_challenge_config_key(const pb_challenge_config *cfg, size_t i)
{
	return i < cfg->n ? cfg->keys[i] : NULL;
}

const char *pb_challenge_config_value(const pb_challenge_config *cfg, size_t i)
{
	return i < cfg->n ? cfg->values[i] : NULL;
}

int pb_screen__instance_new(void **state, const pb_challenge_ops *ops, const char *params,
			    const pb_screen_registry *reg)
{
	pb_challenge_config cfg;
	*state = NULL;
	int rc = pb_screen__config_parse(&cfg, ops->name, params, reg);
	if (rc < 0)
		return rc;
	rc = ops->create(state, &cfg, ops->userdata);
	if (rc > 0)
		rc = pb_error_set(PB_ERROR, "%s: create() returned %d", ops->name, rc);
	pb_screen__config_dispose(&cfg);
	return rc;
}

/* --- registry ----------------------------------------------------------------- */

int pb_screen_registry_new(pb_screen_registry **out)
{
	if (!out)
		return pb_error_set(PB_EINVAL, "registry_new: out is NULL");
	*out = pb_calloc(1, sizeof(**out));
	return *out ? 0 : PB_ENOMEM;
}

void pb_screen_registry_free(pb_screen_registry *reg)
{
	if (!reg)
		return;
	pb_free(reg->user);
	pb_free(reg);
}

static bool valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n >= PB_SCREEN_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return false;
	return true;
}

static const pb_challenge_ops *find(const pb_screen_registry *reg, const char *name)
{
	for (const pb_challenge_ops *const *b = pb_screen__builtins; *b; b++)
		if (!strcmp((*b)->name, name))
			return *b;
	for (size_t i = 0; reg && i < reg->n_user; i++)
		if (!strcmp(reg->user[i]->name, name))
			return reg->user[i];
	return NULL;
}

int pb_screen_registry_add(pb_screen_registry *reg, const pb_challenge_ops *ops)
{
	if (!reg || !ops)
		return pb_error_set(PB_EINVAL, "registry_add: NULL argument");
	int vrc = PB_CHECK_VERSION(ops, PB_CHALLENGE_OPS, 1);
	if (vrc < 0)
		return vrc;
	if (!valid_name(ops->name))
		return pb_error_set(PB_EINVAL, "challenge name '%s': expected 1-%d of [a-z0-9-]",
				    ops->name ? ops->name : "(null)", PB_SCREEN_NAME_MAX - 1);
	if (!ops->create || !ops->start || !ops->destroy)
		return pb_error_set(PB_EINVAL, "challenge %s: create, start and destroy are required",
				    ops->name);
	if (find(reg, ops->name))
		return pb_error_set(PB_EEXISTS, "challenge %s is already registered", ops->name);
	const pb_challenge_ops **n = pb_realloc(reg->user, (reg->n_user + 1) * sizeof(*n));
	if (!n)
		return PB_ENOMEM;
	n[reg->n_user++] = ops;
	reg->user = n;
	return 0;
}

const pb_challenge_ops *pb_screen_registry_find(const pb_screen_registry *reg, const char *name)
{
	const pb_challenge_ops *ops = name ? find(reg, name) : NULL;
	if (!ops)
		pb_error_set(PB_ENOTFOUND, "no challenge named '%s'", name ? name : "(null)");
	return ops;
}

int pb_screen_registry_check(const pb_screen_registry *reg, const char *name, const char *params)
{
	const pb_challenge_ops *ops = pb_screen_registry_find(reg, name);
	if (!ops)
		return PB_ENOTFOUND;
	void *state;
	int rc = pb_screen__instance_new(&state, ops, params, reg);
	if (rc == 0)
		ops->destroy(state, ops->userdata);
	return rc;
}
