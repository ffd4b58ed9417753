/*
 * libphonebridge — digest authentication of incoming INVITEs with sofia-sip's
 * own auth module (iptsec auth_mod_*): challenges, nonces (stale, expiry),
 * and the user file are all sofia's; this file decides who is admitted.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "sip/sip-internal.h"

#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/auth_module.h>

#include <phonebridge/buffer.h>
#include <phonebridge/encoding.h>
#include <phonebridge/error.h>
#include <phonebridge/secret.h>

/* Nonces are HMACs under this key: random per agent, so that nobody can mint
 * them (sofia's default key is a constant), and kept across pb_sip_set_auth()
 * so that challenges already sent stay valid. */
static int master_key(pb_sip *ua)
{
	if (ua->auth_key)
		return 0;
	uint8_t raw[24];
	int rc = pb_random_bytes(raw, sizeof(raw));
	if (rc < 0)
		return rc;
	pb_buf b = PB_BUF_INIT;
	rc = pb_hex_encode(&b, raw, sizeof(raw), 0);
	memset(raw, 0, sizeof(raw));
	if (rc == 0 && !(ua->auth_key = su_strndup(ua->home, (const char *)b.data, b.len)))
		rc = pb_error__oom();
	pb_buf_dispose(&b);
	return rc;
}

int pb_sip__auth_set(pb_sip *ua, const char *realm, const char *users_file, pb_sip_admit admit,
		     unsigned nonce_ttl)
{
	if (admit != PB_SIP_ADMIT_ADDRESS_OR_DIGEST && admit != PB_SIP_ADMIT_ADDRESS_AND_DIGEST)
		return pb_error_set(PB_EINVAL, "auth: unknown admit mode %d", (int)admit);
	if (!realm || !*realm) {
		pb_sip__auth_clear(ua);
		ua->admit = admit;
		return 0;
	}
	if (strchr(realm, '"') || strchr(realm, '*'))
		return pb_error_set(PB_EINVAL, "auth realm '%s': no quotes or '*'", realm);
	if (!users_file || !*users_file)
		return pb_error_set(PB_EINVAL, "auth realm '%s' set without a users file", realm);
	char *checked = NULL;
	int rc = pb_secret_check(users_file, &checked);
	if (rc == 0)
		rc = master_key(ua);
	/* sofia reads the file again when it changes: the path lives as long as the agent */
	const char *db = checked ? su_strdup(ua->home, checked) : NULL;
	pb_free(checked);
	if (rc == 0 && !db)
		rc = pb_error__oom();
	if (rc < 0)
		return rc;
	/* qop=auth (the client's cnonce enters each response; sofia does not
	 * track nonce counts); no nextnonce (we send no Authentication-Info);
	 * a wrong password is 403, not a new challenge; no blacklist delay
	 * (one thread serves every call: we never sleep). */
	auth_mod_t *am = auth_mod_create(ua->root, AUTHTAG_METHOD("Digest"), AUTHTAG_REALM(realm),
					 AUTHTAG_DB(db), AUTHTAG_QOP("auth"),
					 AUTHTAG_ALGORITHM("MD5"),
					 AUTHTAG_EXPIRES(nonce_ttl ? nonce_ttl : 30),
					 AUTHTAG_NEXT_EXPIRES(0), AUTHTAG_FORBIDDEN(1), AUTHTAG_BLACKLIST(0),
					 AUTHTAG_ALLOW("ACK, BYE, CANCEL"), AUTHTAG_MASTER_KEY(ua->auth_key),
					 TAG_END());
	if (!am)
		return pb_error_set(PB_EIO, "auth users file %s: cannot be read", users_file);
	pb_sip__auth_clear(ua);
	ua->auth = am;
	ua->admit = admit;
	pb_log_info(PB_SIP_DOMAIN, "digest authentication of INVITEs: realm \"%s\", %s", realm,
		    admit == PB_SIP_ADMIT_ADDRESS_AND_DIGEST ? "address and digest" : "address or digest");
	return 0;
}

void pb_sip__auth_clear(pb_sip *ua)
{
	if (ua->auth)
		auth_mod_destroy(ua->auth);
	ua->auth = NULL;
}

PB_API int pb_sip_set_auth(pb_sip *ua, const char *realm, const char *users_file, pb_sip_admit admit)
{
	if (!ua)
		return pb_error_set(PB_EINVAL, "pb_sip_set_auth: NULL agent");
	return pb_sip__auth_set(ua, realm, users_file, admit, ua->auth_nonce_ttl);
}

/* An admission decision for one INVITE: 0 = admitted (with *user set when the
 * caller authenticated, "" otherwise), or a status to answer with; a 401 carries the
 * challenge, which is sent here. */
int pb_sip__admit(pb_sip *ua, nua_handle_t *nh, const sip_t *sip, const su_addrinfo_t *ai,
		  char *user, size_t cap)
{
	user[0] = '\0';
	bool addr_ok = pb_sip__acl_match(&ua->acl, ai ? ai->ai_addr : NULL);
	if (!ua->auth)
		return addr_ok ? 0 : 403;
	if (ua->admit == PB_SIP_ADMIT_ADDRESS_OR_DIGEST && addr_ok)
		return 0;
	if (ua->admit == PB_SIP_ADMIT_ADDRESS_AND_DIGEST && !addr_ok)
		return 403;
	auth_status_t as[1];
	auth_status_init(as, sizeof(as));
	as->as_source = (su_addrinfo_t *)ai;
	auth_mod_check(ua->auth, as, sip, auth_server);
	int status = as->as_status;
	if (status == 0) {
		if (as->as_user)
			snprintf(user, cap, "%s", as->as_user);
	} else if (status == 401 && as->as_response) {
		pb_log_info(PB_SIP_DOMAIN, "INVITE %s: 401 challenge%s",
			    sip->sip_call_id ? sip->sip_call_id->i_id : "-", as->as_stale ? " (stale nonce)" : "");
		nua_respond(nh, SIP_401_UNAUTHORIZED,
			    SIPTAG_WWW_AUTHENTICATE((sip_www_authenticate_t *)as->as_response), TAG_END());
	} else {
		pb_log_notice(PB_SIP_DOMAIN, "INVITE %s: digest refused: %d %s",
			      sip->sip_call_id ? sip->sip_call_id->i_id : "-", status,
			      as->as_phrase ? as->as_phrase : "");
		if (status < 400 || status > 699 || status == 401)
			status = 403;
	}
	AUTH_STATUS_DEINIT(as);
	return status;
}
