/*
 * libphonebridge — fuzz target for the encryption layer's reading of
 * homeserver bytes: a /sync answer's to-device events (Olm), device lists and
 * one-time key counts, then every timeline event (m.room.encryption,
 * m.room.encrypted with Megolm), and the same events through
 * pb_matrix_crypto_decrypt(). The device is offline: a handle on a closed
 * port with no retries, an account and one inbound Megolm session made once
 * from fixed "random" bytes.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <olm/olm.h>
#include <olm/inbound_group_session.h>
#include <olm/outbound_group_session.h>
#include <phonebridge/phonebridge.h>

#include "matrix/matrix-private.h"
#include "matrix/crypto-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY "fuzzing pickle key, 32 bytes...."

static json_t *kv;
static pb_matrix *mx;
static pb_matrix_crypto *crypto;

static int load(const char *key, char **value, void *ud)
{
	const char *v = json_string_value(json_object_get(kv, key));
	if (!v)
		return PB_ENOTFOUND;
	*value = pb_strdup(v);
	return *value ? 0 : PB_ENOMEM;
}

static int save(const char *key, const char *value, void *ud)
{
	return json_object_set_new(kv, key, json_string(value)) == 0 ? 0 : PB_ENOMEM;
}

static void put(const char *key, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);
	json_object_set_new(kv, key, json_string(s));
	free(s);
	json_decref(v);
}

/* An account and a Megolm session for "!room:fuzz" from sender key "SENDER". */
static void setup(void)
{
	uint8_t rnd[256];
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)(i * 7 + 3);
	kv = json_object();
	void *am = malloc(olm_account_size()), *om = malloc(olm_outbound_group_session_size()),
	     *im = malloc(olm_inbound_group_session_size());
	OlmAccount *a = olm_account(am);
	olm_create_account(a, rnd, olm_create_account_random_length(a));
	size_t n = olm_pickle_account_length(a);
	char *p = calloc(1, n + 1);
	olm_pickle_account(a, KEY, strlen(KEY), p, n);
	put("e2ee/account", json_pack("{s:s, s:s, s:s, s:b}", "user_id", "@bot:fuzz", "device_id", "FUZZDEV",
				      "pickle", p, "uploaded", 1));
	free(p);
	OlmOutboundGroupSession *og = olm_outbound_group_session(om);
	olm_init_outbound_group_session(og, rnd, olm_init_outbound_group_session_random_length(og));
	size_t kn = olm_outbound_group_session_key_length(og), idn = olm_outbound_group_session_id_length(og);
	uint8_t *k = calloc(1, kn + 1), *id = calloc(1, idn + 1);
	olm_outbound_group_session_key(og, k, kn);
	olm_outbound_group_session_id(og, id, idn);
	OlmInboundGroupSession *ig = olm_inbound_group_session(im);
	olm_init_inbound_group_session(ig, k, kn);
	n = olm_pickle_inbound_group_session_length(ig);
	p = calloc(1, n + 1);
	olm_pickle_inbound_group_session(ig, KEY, strlen(KEY), p, n);
	char name[256];
	snprintf(name, sizeof(name), "e2ee/ig/!room:fuzz/SENDER/%s", (char *)id);
	put(name, json_pack("{s:s, s:s}", "pickle", p, "room_id", "!room:fuzz"));
	free(p);
	free(k);
	free(id);
	olm_clear_account(a);
	olm_clear_outbound_group_session(og);
	olm_clear_inbound_group_session(ig);
	free(am);
	free(om);
	free(im);

	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = "http://127.0.0.1:9";
	o.retry.attempts = 1;
	o.connect_timeout_ms = 200;
	if (pb_matrix_new(&mx, &o) < 0 || pb_matrix__set_string(&mx->user_id, "@bot:fuzz") < 0 ||
	    pb_matrix__set_string(&mx->device_id, "FUZZDEV") < 0)
		abort();
	pb_matrix_crypto_options co = PB_MATRIX_CRYPTO_OPTIONS_INIT;
	co.pickle_key = KEY;
	co.key_requests = false;
	co.storage = (pb_matrix_crypto_storage){ load, save, NULL };
	if (pb_matrix_crypto_new(&crypto, mx, &co) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!crypto)
		setup();
	json_t *root = json_loadb((const char *)data, size, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return 0;
	}
	/* the device_one_time_keys_count top-up would try the (closed) port */
	json_object_del(root, "device_one_time_keys_count");
	if (pb_matrix__crypto_sync(crypto, mx, root) < 0 && pb_error_last()->code == PB_ENOMEM)
		abort();
	const char *rid;
	json_t *r;
	json_object_foreach(json_object_get(json_object_get(root, "rooms"), "join"), rid, r) {
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(json_object_get(r, "timeline"), "events"), i, e) {
			json_t *plain = NULL;
			pb_matrix__crypto_room_event(crypto, mx, rid, e, true, &plain);
			if (plain && !json_is_object(json_object_get(plain, "content")))
				abort();
			json_decref(plain);
			char *ej = json_dumps(e, JSON_COMPACT), *pj = NULL;
			if (ej && pb_matrix_crypto_decrypt(crypto, rid, ej, &pj) == 0 && pj == NULL)
				abort();
			free(ej);
			pb_free(pj);
		}
	}
	json_decref(root);
	return 0;
}
