/*
 * pb-screend — configuration (INI, read with inih).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_SCREEND_CONFIG_H
#define PB_SCREEND_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define SCREEND_MAX_POLICY 48
#define SCREEND_MAX_MODULES 16

typedef struct screend_config {
	/* [sip] */
	char listen[64];
	unsigned port;
	bool udp, tcp;
	char allow[1024];
	char rtp_address[64];
	unsigned rtp_port_min, rtp_port_max;
	char user_agent[128];
	bool early_media;             /* answer challenges with 183 instead of 200 */
	unsigned max_calls;           /* calls in progress at most (503 beyond); 0 = no limit */
	/* [sip] digest authentication of INVITEs (auth_key() in config.c) */
	char auth_realm[128], auth_users_file[512];
	bool auth_and;                /* admit = address-and-digest (else address-or-digest) */
	unsigned auth_nonce_ttl;      /* seconds, 0 = the library's default */
	/* [sip] SIP over TLS (tls_key() in config.c) */
	char tls_cert_dir[512];
	unsigned tls_port;
	/* [register] */
	char registrar[256], aor[256], username[128], password_file[512];
	unsigned register_expires;
	/* [forward] */
	char mode[16];                /* bridge | redirect | refer */
	char target[1024], fallback[256]; /* target: one URI, or several comma-separated */
	char refer_fallback[16];      /* bridge | goodbye */
	char ring[16];                /* parallel | sequential (several targets) */
	unsigned forward_timeout;
	unsigned refer_timeout;       /* seconds to wait for the REFER's final NOTIFY; 0 = the library's 60 */
	/* [screen] */
	char prompts[512];
	unsigned max_duration;        /* seconds */
	/* [store] path, or url = postgresql://... (a cluster's shared store) */
	char store[512];
	char store_password_file[512]; /* [store] password-file: the PostgreSQL password */
	bool store_path_set, store_url_set;
	/* [voicemail] (voicemail_key() in config.c) */
	bool vm_enabled;
	unsigned vm_on;               /* PB_SCREENER_VOICEMAIL_* bits */
	unsigned vm_max_seconds, vm_silence_seconds;
	char vm_format[8];            /* wav | opus */
	char vm_greeting[64];         /* a prompt name */
	/* [log] */
	int log_level;
	/* [policy]: handed to pb_screen_policy_set() one by one */
	size_t npolicy;
	char policy_key[SCREEND_MAX_POLICY][48];
	char policy_value[SCREEND_MAX_POLICY][256];
	/* [challenge NAME] module = PATH: challenges loaded from shared objects */
	size_t nmodules;
	char module_name[SCREEND_MAX_MODULES][32];
	char module_path[SCREEND_MAX_MODULES][512];
	/* [http] listen: /health, /metrics, the status page (http.c); "" = none */
	char http_listen[128];
} screend_config;

/* Defaults, then the file. 0 or -1 with a message in err ("file:line: ..."). */
int screend_config_load(screend_config *c, const char *path, char *err, size_t errlen);
/* The same from text (for the fuzz target and tests). */
int screend_config_parse(screend_config *c, const char *text, char *err, size_t errlen);
void screend_config_defaults(screend_config *c);

#endif
