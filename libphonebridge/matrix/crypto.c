/*
 * libphonebridge — matrix: end-to-end encryption with libolm (Olm for
 * to-device messages, Megolm for rooms), following the client-server
 * specification's "End-to-End Encryption" module.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Storage keys (values are JSON text; "pickle" members are libolm pickles
 * encrypted with the pickle key):
 *   e2ee/account                       the Olm account of this device
 *   e2ee/olm/CURVE25519                Olm sessions with one device, newest first
 *   e2ee/ig/ROOM/SENDERKEY/SESSION     an inbound Megolm session
 *   e2ee/og/ROOM                       the room's outbound Megolm session
 *   e2ee/room/ROOM                     the room's m.room.encryption content
 */
#include "matrix/matrix-private.h"
#include "matrix/crypto-private.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <olm/olm.h>
#include <olm/inbound_group_session.h>
#include <olm/outbound_group_session.h>

#include <phonebridge/encoding.h>
#include <phonebridge/matrix-crypto.h>

#include "core/dlib.h"

/* libolm is loaded when the first encryption object is made, not linked:
 * a bridge without encryption never maps it, nor the libstdc++ it brings
 * (core/dlib.h). Every use of libolm below goes through a crypto object. */
#define OLM_FUNCTIONS(X) \
	X(olm_account) X(olm_account_generate_one_time_keys) \
	X(olm_account_generate_one_time_keys_random_length) X(olm_account_identity_keys) \
	X(olm_account_identity_keys_length) X(olm_account_last_error) \
	X(olm_account_mark_keys_as_published) X(olm_account_max_number_of_one_time_keys) \
	X(olm_account_one_time_keys) X(olm_account_one_time_keys_length) X(olm_account_sign) \
	X(olm_account_signature_length) X(olm_account_size) X(olm_clear_account) \
	X(olm_clear_inbound_group_session) X(olm_clear_outbound_group_session) X(olm_clear_session) \
	X(olm_clear_utility) X(olm_create_account) X(olm_create_account_random_length) \
	X(olm_create_inbound_session_from) X(olm_create_outbound_session) \
	X(olm_create_outbound_session_random_length) X(olm_decrypt) \
	X(olm_decrypt_max_plaintext_length) X(olm_ed25519_verify) X(olm_encrypt) \
	X(olm_encrypt_message_length) X(olm_encrypt_message_type) X(olm_encrypt_random_length) \
	X(olm_error) X(olm_group_decrypt) X(olm_group_decrypt_max_plaintext_length) \
	X(olm_group_encrypt) X(olm_group_encrypt_message_length) \
	X(olm_import_inbound_group_session) X(olm_inbound_group_session) \
	X(olm_inbound_group_session_last_error) X(olm_inbound_group_session_size) \
	X(olm_init_inbound_group_session) X(olm_init_outbound_group_session) \
	X(olm_init_outbound_group_session_random_length) X(olm_matches_inbound_session_from) \
	X(olm_outbound_group_session) X(olm_outbound_group_session_id) \
	X(olm_outbound_group_session_id_length) X(olm_outbound_group_session_key) \
	X(olm_outbound_group_session_key_length) X(olm_outbound_group_session_last_error) \
	X(olm_outbound_group_session_size) X(olm_pickle_account) X(olm_pickle_account_length) \
	X(olm_pickle_inbound_group_session) X(olm_pickle_inbound_group_session_length) \
	X(olm_pickle_outbound_group_session) X(olm_pickle_outbound_group_session_length) \
	X(olm_pickle_session) X(olm_pickle_session_length) X(olm_remove_one_time_keys) \
	X(olm_session) X(olm_session_last_error) X(olm_session_size) X(olm_unpickle_account) \
	X(olm_unpickle_inbound_group_session) X(olm_unpickle_outbound_group_session) \
	X(olm_unpickle_session) X(olm_utility) X(olm_utility_size)
OLM_FUNCTIONS(PB_DLIB_DECLARE)
static const pb_dlib_sym olm_syms[] = { OLM_FUNCTIONS(PB_DLIB_ENTRY) };
static pb_dlib olm_lib = PB_DLIB_INIT("libolm.so.3", "Matrix encryption", "libolm3", olm_syms);

#define OLM_ALG "m.olm.v1.curve25519-aes-sha2"
#define MEGOLM_ALG "m.megolm.v1.aes-sha2"
#define OTK "signed_curve25519"
#define PICKLE_KEY_MIN 16
#define OLM_SESSIONS_KEPT 5
#define SEEN_MAX 20000

struct pb_matrix_crypto {
	pthread_mutex_t lock;
	pb_matrix_crypto_storage st;
	char *pkey;
	size_t pkey_len;
	OlmAccount *acct;
	char *user_id;
	char *device_id;
	char *curve;          /* identity keys (base64) */
	char *ed;
	bool uploaded;        /* the server has our device keys */
	int key_requests;
	json_t *rooms;        /* room id -> m.room.encryption content, or false */
	json_t *devices;      /* user -> { device -> {curve25519, ed25519} } */
	json_t *seen;         /* "session|index" -> event id (replay check) */
	unsigned inbound;
};

/* --- small helpers -------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A buffer of @n random bytes (pb_free() after wiping), or NULL. */
static uint8_t *random_bytes(size_t n)
{
	uint8_t *b = pb_malloc(n ? n : 1);
	if (b == NULL) {
		pb_error__oom();
		return NULL;
	}
	if (pb_random_bytes(b, n) < 0) {
		pb_free(b);
		return NULL;
	}
	return b;
}

static void wipe_free(void *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		pb_free(p);
	}
}

static int olm_failed(const char *what, const char *err)
{
	return pb_error_set(PB_EPROTO, "matrix: e2ee: %s: %s", what, err);
}

static int dump_flags_cb(const char *buf, size_t size, void *data)
{
	return pb_buf_put(data, buf, size) == 0 ? 0 : -1;
}

static char *dump_string(const json_t *j)
{
	pb_buf b = PB_BUF_INIT;
	if (json_dump_callback(j, dump_flags_cb, &b, JSON_COMPACT | JSON_SORT_KEYS) != 0 ||
	    pb_buf_puts(&b, "") < 0) {
		pb_buf_dispose(&b);
		pb_error__oom();
		return NULL;
	}
	char *s = pb_strdup(pb_buf_cstr(&b));
	pb_buf_dispose(&b);
	if (s == NULL)
		pb_error__oom();
	return s;
}

int pb_matrix__canonical_json(pb_buf *out, const json_t *obj)
{
	json_t *copy = json_copy((json_t *)obj);
	if (copy == NULL)
		return pb_error__oom();
	json_object_del(copy, "signatures");
	json_object_del(copy, "unsigned");
	int rc = json_dump_callback(copy, dump_flags_cb, out, JSON_COMPACT | JSON_SORT_KEYS) == 0
			 ? 0 : pb_error__oom();
	json_decref(copy);
	return rc;
}

/* --- the rotation rule ---------------------------------------------------- */

void pb_matrix__rotation_rules(const json_t *enc, uint64_t *msgs, int64_t *period_ms)
{
	json_t *n = json_object_get(enc, "rotation_period_msgs");
	json_t *p = json_object_get(enc, "rotation_period_ms");
	*msgs = json_is_integer(n) && json_integer_value(n) > 0 ? (uint64_t)json_integer_value(n)
								 : PB_MEGOLM_ROTATION_MSGS;
	*period_ms = json_is_integer(p) && json_integer_value(p) > 0 ? (int64_t)json_integer_value(p)
								     : PB_MEGOLM_ROTATION_MS;
}

bool pb_matrix__should_rotate(const pb_matrix__og_use *use, int64_t now, uint64_t msgs, int64_t period_ms,
			      bool device_left)
{
	if (device_left)
		return true;
	if (use->messages >= msgs)
		return true;
	/* a clock set back counts as expired: never trust an age below zero */
	return now < use->created_ms || now - use->created_ms >= period_ms;
}

/* --- storage ---------------------------------------------------------------- */

static int st_load(pb_matrix_crypto *c, const char *key, json_t **out)
{
	char *v = NULL;
	*out = NULL;
	int rc = c->st.load(key, &v, c->st.userdata);
	if (rc < 0)
		return rc == PB_ENOTFOUND ? PB_ENOTFOUND : rc;
	json_error_t err;
	*out = json_loads(v ? v : "", 0, &err);
	pb_free(v);
	if (*out == NULL)
		return pb_error_set(PB_EMALFORMED, "matrix: e2ee: stored %s is not JSON (%s)", key, err.text);
	return 0;
}

static int st_save(pb_matrix_crypto *c, const char *key, const json_t *v)
{
	char *s = dump_string(v);
	if (s == NULL)
		return PB_ENOMEM;
	int rc = c->st.save(key, s, c->st.userdata);
	explicit_bzero(s, strlen(s));
	pb_free(s);
	if (rc < 0)
		pb_log_error(PB_MATRIX_LOG, "e2ee: cannot save %s: %s", key, pb_error_last()->message);
	return rc;
}

static int key_of(pb_buf *k, const char *a, const char *b, const char *c2, const char *d)
{
	pb_buf_clear(k);
	int rc = pb_buf_printf(k, "e2ee/%s", a);
	if (rc == 0 && b)
		rc = pb_buf_printf(k, "/%s", b);
	if (rc == 0 && c2)
		rc = pb_buf_printf(k, "/%s", c2);
	if (rc == 0 && d)
		rc = pb_buf_printf(k, "/%s", d);
	return rc;
}

/* --- pickles ---------------------------------------------------------------- */

#define DEFINE_PICKLE(name, type, lenf, picklef, errf)                                   \
	static json_t *name(pb_matrix_crypto *c, type *o)                                 \
	{                                                                                 \
		size_t n = lenf(o);                                                       \
		char *b = pb_malloc(n + 1);                                               \
		if (b == NULL)                                                            \
			return NULL;                                                      \
		if (picklef(o, c->pkey, c->pkey_len, b, n) == sym_olm_error()) {              \
			pb_error_set(PB_EPROTO, "matrix: e2ee: pickle: %s", errf(o));     \
			pb_free(b);                                                       \
			return NULL;                                                      \
		}                                                                         \
		json_t *j = json_stringn(b, n);                                           \
		wipe_free(b, n);                                                          \
		return j;                                                                 \
	}

DEFINE_PICKLE(pickle_account, OlmAccount, sym_olm_pickle_account_length, sym_olm_pickle_account,
	      sym_olm_account_last_error)
DEFINE_PICKLE(pickle_session, OlmSession, sym_olm_pickle_session_length, sym_olm_pickle_session,
	      sym_olm_session_last_error)
DEFINE_PICKLE(pickle_og, OlmOutboundGroupSession, sym_olm_pickle_outbound_group_session_length,
	      sym_olm_pickle_outbound_group_session, sym_olm_outbound_group_session_last_error)
DEFINE_PICKLE(pickle_ig, OlmInboundGroupSession, sym_olm_pickle_inbound_group_session_length,
	      sym_olm_pickle_inbound_group_session, sym_olm_inbound_group_session_last_error)

#define DEFINE_OBJ(name, type, sizef, initf, clearf)                 \
	static type *name##_new(void)                                 \
	{                                                             \
		void *mem = pb_malloc(sizef());                       \
		if (mem == NULL) {                                    \
			pb_error__oom();                              \
			return NULL;                                  \
		}                                                     \
		return initf(mem);                                    \
	}                                                             \
	static void name##_free(type *o)                              \
	{                                                             \
		if (o) {                                              \
			clearf(o);                                    \
			pb_free(o);                                   \
		}                                                     \
	}

DEFINE_OBJ(account, OlmAccount, sym_olm_account_size, sym_olm_account, sym_olm_clear_account)
DEFINE_OBJ(session, OlmSession, sym_olm_session_size, sym_olm_session, sym_olm_clear_session)
DEFINE_OBJ(og, OlmOutboundGroupSession, sym_olm_outbound_group_session_size, sym_olm_outbound_group_session,
	   sym_olm_clear_outbound_group_session)
DEFINE_OBJ(ig, OlmInboundGroupSession, sym_olm_inbound_group_session_size, sym_olm_inbound_group_session,
	   sym_olm_clear_inbound_group_session)

#define DEFINE_UNPICKLE(name, type, unpicklef, errf)                                      \
	static type *name(pb_matrix_crypto *c, const char *what, const char *pickle)      \
	{                                                                                  \
		type *o = name##_obj();                                                    \
		char *copy = pickle ? pb_strdup(pickle) : NULL;                           \
		if (o == NULL || copy == NULL) {                                           \
			name##_drop(o);                                                   \
			pb_free(copy);                                                     \
			if (pickle)                                                        \
				pb_error__oom();                                           \
			else                                                               \
				pb_error_set(PB_EMALFORMED, "matrix: e2ee: %s: no pickle", what); \
			return NULL;                                                       \
		}                                                                          \
		size_t n = strlen(copy);                                                   \
		if (unpicklef(o, c->pkey, c->pkey_len, copy, n) == sym_olm_error()) {          \
			pb_error_set(PB_EMALFORMED,                                        \
				     "matrix: e2ee: cannot read the stored %s (%s): wrong pickle key?", \
				     what, errf(o));                                       \
			name##_drop(o);                                                   \
			o = NULL;                                                          \
		}                                                                          \
		wipe_free(copy, n);                                                        \
		return o;                                                                  \
	}

#define unpickle_session_obj session_new
#define unpickle_session_drop session_free
#define unpickle_og_obj og_new
#define unpickle_og_drop og_free
#define unpickle_ig_obj ig_new
#define unpickle_ig_drop ig_free
#define unpickle_account_obj account_new
#define unpickle_account_drop account_free
DEFINE_UNPICKLE(unpickle_session, OlmSession, sym_olm_unpickle_session, sym_olm_session_last_error)
DEFINE_UNPICKLE(unpickle_og, OlmOutboundGroupSession, sym_olm_unpickle_outbound_group_session,
		sym_olm_outbound_group_session_last_error)
DEFINE_UNPICKLE(unpickle_ig, OlmInboundGroupSession, sym_olm_unpickle_inbound_group_session,
		sym_olm_inbound_group_session_last_error)
DEFINE_UNPICKLE(unpickle_account, OlmAccount, sym_olm_unpickle_account, sym_olm_account_last_error)

/* --- the account ---------------------------------------------------------- */

static int account_save(pb_matrix_crypto *c)
{
	json_t *p = pickle_account(c, c->acct);
	if (p == NULL)
		return pb_error_last()->code ? pb_error_last()->code : PB_ENOMEM;
	json_t *v = json_pack("{s:s, s:s, s:o, s:b}", "user_id", c->user_id, "device_id", c->device_id,
			      "pickle", p, "uploaded", c->uploaded);
	int rc = v ? st_save(c, "e2ee/account", v) : pb_error__oom();
	json_decref(v);
	return rc;
}

static int read_identity(pb_matrix_crypto *c)
{
	size_t n = sym_olm_account_identity_keys_length(c->acct);
	char *b = pb_malloc(n + 1);
	if (b == NULL)
		return pb_error__oom();
	if (sym_olm_account_identity_keys(c->acct, b, n) == sym_olm_error()) {
		pb_free(b);
		return olm_failed("identity keys", sym_olm_account_last_error(c->acct));
	}
	json_t *j = json_loadb(b, n, 0, NULL);
	pb_free(b);
	const char *cu = json_string_value(json_object_get(j, "curve25519"));
	const char *ed = json_string_value(json_object_get(j, "ed25519"));
	int rc = 0;
	if (cu == NULL || ed == NULL)
		rc = olm_failed("identity keys", "unreadable");
	else if ((c->curve = pb_strdup(cu)) == NULL || (c->ed = pb_strdup(ed)) == NULL)
		rc = pb_error__oom();
	json_decref(j);
	return rc;
}

static int account_load_or_create(pb_matrix_crypto *c)
{
	json_t *v = NULL;
	int rc = st_load(c, "e2ee/account", &v);
	if (rc == 0) {
		const char *u = json_string_value(json_object_get(v, "user_id"));
		const char *d = json_string_value(json_object_get(v, "device_id"));
		if (u == NULL || d == NULL || strcmp(u, c->user_id) != 0 || strcmp(d, c->device_id) != 0) {
			rc = pb_error_set(PB_ESTATE,
					  "matrix: e2ee: the stored account belongs to %s device %s, not %s device %s",
					  u ? u : "?", d ? d : "?", c->user_id, c->device_id);
		} else if ((c->acct = unpickle_account(c, "account",
						       json_string_value(json_object_get(v, "pickle")))) == NULL) {
			rc = pb_error_last()->code;
		} else {
			c->uploaded = json_is_true(json_object_get(v, "uploaded"));
		}
		json_decref(v);
		return rc < 0 ? rc : read_identity(c);
	}
	if (rc != PB_ENOTFOUND)
		return rc;
	if ((c->acct = account_new()) == NULL)
		return PB_ENOMEM;
	size_t n = sym_olm_create_account_random_length(c->acct);
	uint8_t *r = random_bytes(n);
	if (r == NULL)
		return pb_error_last()->code;
	size_t res = sym_olm_create_account(c->acct, r, n);
	wipe_free(r, n);
	if (res == sym_olm_error())
		return olm_failed("new account", sym_olm_account_last_error(c->acct));
	if ((rc = read_identity(c)) < 0)
		return rc;
	pb_log_info(PB_MATRIX_LOG, "e2ee: new Olm account for %s device %s (%s)", c->user_id,
		    c->device_id, c->ed);
	return account_save(c);
}

/* Sign @obj (canonical JSON) with the account: adds signatures.USER.ed25519:DEVICE. */
static int sign_object(pb_matrix_crypto *c, json_t *obj)
{
	pb_buf msg = PB_BUF_INIT, kid = PB_BUF_INIT;
	int rc = pb_matrix__canonical_json(&msg, obj);
	size_t n = sym_olm_account_signature_length(c->acct);
	char *sig = rc == 0 ? pb_malloc(n + 1) : NULL;
	if (rc == 0 && sig == NULL)
		rc = pb_error__oom();
	if (rc == 0 && sym_olm_account_sign(c->acct, msg.data, msg.len, sig, n) == sym_olm_error())
		rc = olm_failed("sign", sym_olm_account_last_error(c->acct));
	if (rc == 0)
		rc = pb_buf_printf(&kid, "ed25519:%s", c->device_id);
	if (rc == 0) {
		json_t *sigs = json_object_get(obj, "signatures");
		if (sigs == NULL) {
			sigs = json_object();
			json_object_set_new(obj, "signatures", sigs);
		}
		json_t *mine = json_object();
		json_object_set_new(mine, pb_buf_cstr(&kid), json_stringn(sig, n));
		if (sigs == NULL || json_object_set_new(sigs, c->user_id, mine) < 0)
			rc = pb_error__oom();
	}
	pb_free(sig);
	pb_buf_dispose(&msg);
	pb_buf_dispose(&kid);
	return rc;
}

static json_t *device_keys_object(pb_matrix_crypto *c)
{
	char ck[256], ek[256];
	snprintf(ck, sizeof(ck), "curve25519:%s", c->device_id);
	snprintf(ek, sizeof(ek), "ed25519:%s", c->device_id);
	json_t *d = json_pack("{s:s, s:s, s:[s,s], s:{s:s, s:s}}", "user_id", c->user_id, "device_id",
			      c->device_id, "algorithms", OLM_ALG, MEGOLM_ALG, "keys", ck, c->curve, ek, c->ed);
	if (d && sign_object(c, d) < 0) {
		json_decref(d);
		return NULL;
	}
	return d;
}

/* The unpublished one-time keys of the account, signed, as /keys/upload wants them. */
static int one_time_keys_object(pb_matrix_crypto *c, json_t **out)
{
	size_t n = sym_olm_account_one_time_keys_length(c->acct);
	char *b = pb_malloc(n + 1);
	if (b == NULL)
		return pb_error__oom();
	if (sym_olm_account_one_time_keys(c->acct, b, n) == sym_olm_error()) {
		pb_free(b);
		return olm_failed("one-time keys", sym_olm_account_last_error(c->acct));
	}
	json_t *j = json_loadb(b, n, 0, NULL);
	pb_free(b);
	json_t *res = json_object();
	const char *id;
	json_t *k;
	int rc = res ? 0 : pb_error__oom();
	json_object_foreach(json_object_get(j, "curve25519"), id, k) {
		if (rc < 0)
			break;
		json_t *o = json_pack("{s:O}", "key", k);
		char name[128];
		snprintf(name, sizeof(name), OTK ":%s", id);
		if (o == NULL || (rc = sign_object(c, o)) < 0 || json_object_set_new(res, name, o) < 0) {
			rc = rc < 0 ? rc : pb_error__oom();
			break;
		}
	}
	json_decref(j);
	if (rc < 0) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return 0;
}

/*
 * POST /keys/upload: the device keys when the server lacks them, @more new
 * one-time keys (saved in the account before they leave), and any still
 * unpublished ones. *@count receives the server's signed_curve25519 count.
 */
static int upload_keys(pb_matrix_crypto *c, pb_matrix *m, size_t more, long *count)
{
	int rc = 0;
	if (more > 0) {
		size_t n = sym_olm_account_generate_one_time_keys_random_length(c->acct, more);
		uint8_t *r = random_bytes(n);
		if (r == NULL)
			return pb_error_last()->code;
		size_t res = sym_olm_account_generate_one_time_keys(c->acct, more, r, n);
		wipe_free(r, n);
		if (res == sym_olm_error())
			return olm_failed("new one-time keys", sym_olm_account_last_error(c->acct));
		if ((rc = account_save(c)) < 0)
			return rc;
	}
	json_t *body = json_object(), *otks = NULL, *ans = NULL;
	pb_buf u = PB_BUF_INIT;
	if (body == NULL)
		return pb_error__oom();
	if (!c->uploaded) {
		json_t *d = device_keys_object(c);
		if (d == NULL) {
			rc = PB_ENOMEM;
			goto out;
		}
		json_object_set_new(body, "device_keys", d);
	}
	if ((rc = one_time_keys_object(c, &otks)) < 0)
		goto out;
	size_t sent = json_object_size(otks);
	json_object_set_new(body, "one_time_keys", otks);
	if ((rc = pb_matrix__url(&u, m, "/_matrix/client/v3/keys/upload")) < 0 ||
	    (rc = pb_matrix__call(m, "POST", pb_buf_cstr(&u), body, true, &ans)) < 0)
		goto out;
	json_t *cnt = json_object_get(json_object_get(ans, "one_time_key_counts"), OTK);
	*count = json_is_integer(cnt) ? (long)json_integer_value(cnt) : 0;
	sym_olm_account_mark_keys_as_published(c->acct);
	bool was = c->uploaded;
	c->uploaded = true;
	if (sent > 0 || !was)
		rc = account_save(c);
	if (sent > 0 || !was)
		pb_log_info(PB_MATRIX_LOG, "e2ee: uploaded %s%zu one-time keys (server has %ld)",
			    was ? "" : "device keys and ", sent, *count);
out:
	json_decref(body);
	json_decref(ans);
	pb_buf_dispose(&u);
	return rc;
}

static size_t otk_target(const pb_matrix_crypto *c)
{
	return sym_olm_account_max_number_of_one_time_keys(c->acct) / 2;
}

/* Top the server's one-time keys up to half what the account can hold. */
static int replenish(pb_matrix_crypto *c, pb_matrix *m, long have)
{
	size_t target = otk_target(c);
	if (have >= 0 && (size_t)have >= target)
		return 0;
	long now = have;
	int rc = 0;
	if (have < 0 && (rc = upload_keys(c, m, 0, &now)) < 0)
		return rc;
	if (now >= 0 && (size_t)now < target)
		rc = upload_keys(c, m, target - (size_t)now, &now);
	return rc;
}

/* --- public: life cycle ------------------------------------------------------ */

static int read_pickle_key(pb_matrix_crypto *c, const pb_matrix_crypto_options *o)
{
	char *k = NULL;
	if (o->pickle_key) {
		if ((k = pb_strdup(o->pickle_key)) == NULL)
			return pb_error__oom();
	} else if (o->pickle_key_file) {
		int rc = pb_secret_read(o->pickle_key_file, &k); /* modes, credential:NAME */
		if (rc < 0)
			return rc;
	} else {
		return pb_error_set(PB_EINVAL, "matrix: e2ee: no pickle key (pickle_key_file)");
	}
	c->pkey = k;
	c->pkey_len = strlen(k);
	if (c->pkey_len < PICKLE_KEY_MIN)
		return pb_error_set(PB_EINVAL, "matrix: e2ee: the pickle key is shorter than %d bytes",
				    PICKLE_KEY_MIN);
	return 0;
}

int pb_matrix_crypto_new(pb_matrix_crypto **out, pb_matrix *m, const pb_matrix_crypto_options *o)
{
	*out = NULL;
	if (o == NULL)
		return pb_error_set(PB_EINVAL, "matrix: e2ee: no options");
	int vrc = PB_CHECK_VERSION(o, PB_MATRIX_CRYPTO_OPTIONS, 1);
	if (vrc < 0)
		return vrc;
	if (o->storage.load == NULL || o->storage.save == NULL)
		return pb_error_set(PB_EINVAL, "matrix: e2ee: storage callbacks are required");
	if (m->user_id == NULL || m->device_id == NULL)
		return pb_error_set(PB_ESTATE, "matrix: e2ee: the handle knows no user/device id (whoami first)");
	int lrc = pb_dlib__load(&olm_lib);
	if (lrc < 0)
		return lrc;
	pb_matrix_crypto *c = pb_calloc(1, sizeof(*c));
	if (c == NULL)
		return pb_error__oom();
	pthread_mutex_init(&c->lock, NULL);
	c->st = o->storage;
	c->key_requests = o->key_requests;
	c->rooms = json_object();
	c->devices = json_object();
	c->seen = json_object();
	int rc = (c->rooms && c->devices && c->seen) ? 0 : pb_error__oom();
	if (rc == 0)
		rc = read_pickle_key(c, o);
	if (rc == 0 && ((c->user_id = pb_strdup(m->user_id)) == NULL ||
			(c->device_id = pb_strdup(m->device_id)) == NULL))
		rc = pb_error__oom();
	if (rc == 0)
		rc = account_load_or_create(c);
	if (rc == 0 && (rc = replenish(c, m, -1)) < 0 && c->uploaded && rc != PB_ENOMEM && rc != PB_EAUTH) {
		/* the server has the device keys: one-time keys can wait for a sync */
		pb_log_warning(PB_MATRIX_LOG, "e2ee: cannot top up one-time keys now: %s", pb_error_last()->message);
		rc = 0;
	}
	if (rc < 0) {
		pb_matrix_crypto_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void pb_matrix_crypto_free(pb_matrix_crypto *c)
{
	if (c == NULL)
		return;
	account_free(c->acct);
	wipe_free(c->pkey, c->pkey_len);
	pb_free(c->user_id);
	pb_free(c->device_id);
	pb_free(c->curve);
	pb_free(c->ed);
	json_decref(c->rooms);
	json_decref(c->devices);
	json_decref(c->seen);
	pthread_mutex_destroy(&c->lock);
	pb_free(c);
}

void pb_matrix_set_crypto(pb_matrix *m, pb_matrix_crypto *c)
{
	m->crypto = c;
}

const char *pb_matrix_crypto_identity_key(const pb_matrix_crypto *c, const char *alg)
{
	if (alg && strcmp(alg, "curve25519") == 0)
		return c->curve;
	if (alg && strcmp(alg, "ed25519") == 0)
		return c->ed;
	return NULL;
}

unsigned pb_matrix_crypto_inbound_count(pb_matrix_crypto *c)
{
	pthread_mutex_lock(&c->lock);
	unsigned n = c->inbound;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* --- rooms ------------------------------------------------------------------ */

static int room_set(pb_matrix_crypto *c, const char *room_id, const json_t *content)
{
	pb_buf k = PB_BUF_INIT;
	json_t *old = json_object_get(c->rooms, room_id);
	if (json_is_object(old) && json_equal(old, (json_t *)content))
		return 0;
	int rc = key_of(&k, "room", room_id, NULL, NULL);
	if (rc == 0)
		rc = st_save(c, pb_buf_cstr(&k), content);
	if (rc == 0 && json_object_set(c->rooms, room_id, (json_t *)content) < 0)
		rc = pb_error__oom();
	if (rc == 0 && !json_is_object(old))
		pb_log_info(PB_MATRIX_LOG, "e2ee: room %s is encrypted", room_id);
	pb_buf_dispose(&k);
	return rc;
}

/* The room's m.room.encryption content (borrowed from c->rooms) or NULL. */
static const json_t *room_get(pb_matrix_crypto *c, const char *room_id)
{
	json_t *v = json_object_get(c->rooms, room_id);
	if (v)
		return json_is_object(v) ? v : NULL;
	pb_buf k = PB_BUF_INIT;
	json_t *s = NULL;
	if (key_of(&k, "room", room_id, NULL, NULL) == 0 && st_load(c, pb_buf_cstr(&k), &s) == 0 &&
	    json_is_object(s)) {
		json_object_set_new(c->rooms, room_id, s);
		s = NULL;
	}
	json_decref(s);
	pb_buf_dispose(&k);
	v = json_object_get(c->rooms, room_id);
	return json_is_object(v) ? v : NULL;
}

int pb_matrix_crypto_room_encrypted(pb_matrix_crypto *c, const char *room_id)
{
	pthread_mutex_lock(&c->lock);
	int r = room_get(c, room_id) != NULL;
	pthread_mutex_unlock(&c->lock);
	return r;
}

int pb_matrix_crypto_set_room(pb_matrix_crypto *c, const char *room_id, const char *content_json)
{
	json_t *j = content_json ? json_loads(content_json, 0, NULL)
				 : json_pack("{s:s}", "algorithm", MEGOLM_ALG);
	if (!json_is_object(j)) {
		json_decref(j);
		return pb_error_set(PB_EINVAL, "matrix: e2ee: m.room.encryption content is not a JSON object");
	}
	pthread_mutex_lock(&c->lock);
	int rc = room_set(c, room_id, j);
	pthread_mutex_unlock(&c->lock);
	json_decref(j);
	return rc;
}

static int room_check_locked(pb_matrix_crypto *c, pb_matrix *m, const char *room_id)
{
	if (room_get(c, room_id))
		return 1;
	pb_buf u = PB_BUF_INIT;
	json_t *ans = NULL;
	int rc = pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/state/m.room.encryption/", room_id);
	if (rc == 0)
		rc = pb_matrix__call(m, "GET", pb_buf_cstr(&u), NULL, true, &ans);
	if (rc == PB_ENOTFOUND) {
		json_object_set_new(c->rooms, room_id, json_false()); /* until a sync says otherwise */
		rc = 0;
	} else if (rc == 0) {
		rc = json_is_string(json_object_get(ans, "algorithm")) ? room_set(c, room_id, ans) : 0;
		if (rc == 0)
			rc = room_get(c, room_id) ? 1 : 0;
	}
	json_decref(ans);
	pb_buf_dispose(&u);
	return rc;
}

int pb_matrix_crypto_room_check(pb_matrix_crypto *c, pb_matrix *m, const char *room_id)
{
	pthread_mutex_lock(&c->lock);
	json_object_del(c->rooms, room_id); /* ask the server, whatever was cached */
	int rc = room_check_locked(c, m, room_id);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* --- devices ----------------------------------------------------------------- */

static bool verify_signed(const json_t *obj, const char *user, const char *device, const char *ed)
{
	char kid[256];
	snprintf(kid, sizeof(kid), "ed25519:%s", device);
	const char *sig = json_string_value(json_object_get(json_object_get(json_object_get(obj, "signatures"), user), kid));
	if (sig == NULL)
		return false;
	pb_buf msg = PB_BUF_INIT;
	bool ok = false;
	OlmUtility *u = NULL;
	void *mem = pb_malloc(sym_olm_utility_size());
	char *sigc = pb_strdup(sig);
	if (mem && sigc && pb_matrix__canonical_json(&msg, obj) == 0) {
		u = sym_olm_utility(mem);
		ok = sym_olm_ed25519_verify(u, ed, strlen(ed), msg.data, msg.len, sigc, strlen(sigc)) != sym_olm_error();
		sym_olm_clear_utility(u);
	}
	pb_free(mem);
	pb_free(sigc);
	pb_buf_dispose(&msg);
	return ok;
}

/* POST /keys/query for @users (array): their self-signed devices into c->devices. */
static int query_devices(pb_matrix_crypto *c, pb_matrix *m, const json_t *users)
{
	if (json_array_size(users) == 0)
		return 0;
	json_t *want = json_object(), *ans = NULL;
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u)
		json_object_set_new(want, json_string_value(u), json_array());
	json_t *body = json_pack("{s:o, s:i}", "device_keys", want, "timeout", 10000);
	pb_buf url = PB_BUF_INIT;
	int rc = body ? pb_matrix__url(&url, m, "/_matrix/client/v3/keys/query") : pb_error__oom();
	if (rc == 0)
		rc = pb_matrix__call(m, "POST", pb_buf_cstr(&url), body, true, &ans);
	const char *user;
	json_t *devs;
	json_object_foreach(rc == 0 ? json_object_get(ans, "device_keys") : NULL, user, devs) {
		json_t *mine = json_object();
		const char *dev;
		json_t *d;
		json_object_foreach(devs, dev, d) {
			char ck[256], ek[256];
			snprintf(ck, sizeof(ck), "curve25519:%s", dev);
			snprintf(ek, sizeof(ek), "ed25519:%s", dev);
			const char *cu = json_string_value(json_object_get(json_object_get(d, "keys"), ck));
			const char *ed = json_string_value(json_object_get(json_object_get(d, "keys"), ek));
			const char *du = json_string_value(json_object_get(d, "user_id"));
			const char *dd = json_string_value(json_object_get(d, "device_id"));
			if (strcmp(user, c->user_id) == 0 && strcmp(dev, c->device_id) == 0)
				continue;
			if (cu == NULL || ed == NULL || du == NULL || dd == NULL || strcmp(du, user) != 0 ||
			    strcmp(dd, dev) != 0 || !verify_signed(d, user, dev, ed)) {
				pb_log_warning(PB_MATRIX_LOG, "e2ee: device %s of %s has keys that are not "
					       "self-signed: ignored", dev, user);
				continue;
			}
			json_object_set_new(mine, dev, json_pack("{s:s, s:s}", "curve25519", cu, "ed25519", ed));
		}
		json_object_set_new(c->devices, user, mine);
	}
	json_decref(body);
	json_decref(ans);
	pb_buf_dispose(&url);
	return rc;
}

/* Joined and invited members of @room_id (new array). */
static int room_members(pb_matrix *m, const char *room_id, json_t **out)
{
	pb_buf u = PB_BUF_INIT;
	json_t *ans = NULL;
	*out = NULL;
	int rc = pb_matrix__url(&u, m, "/_matrix/client/v3/rooms/%s/members", room_id);
	if (rc == 0)
		rc = pb_matrix__call(m, "GET", pb_buf_cstr(&u), NULL, true, &ans);
	json_t *users = rc == 0 ? json_array() : NULL;
	size_t i;
	json_t *e;
	json_array_foreach(rc == 0 ? json_object_get(ans, "chunk") : NULL, i, e) {
		const char *who = json_string_value(json_object_get(e, "state_key"));
		const char *mem = json_string_value(json_object_get(json_object_get(e, "content"), "membership"));
		if (who && mem && (strcmp(mem, "join") == 0 || strcmp(mem, "invite") == 0))
			json_array_append_new(users, json_string(who));
	}
	json_decref(ans);
	pb_buf_dispose(&u);
	if (rc == 0 && users == NULL)
		rc = pb_error__oom();
	*out = users;
	return rc;
}

/* --- Olm sessions --------------------------------------------------------------- */

static int olm_sessions_load(pb_matrix_crypto *c, const char *curve, json_t **arr)
{
	pb_buf k = PB_BUF_INIT;
	int rc = key_of(&k, "olm", curve, NULL, NULL);
	if (rc == 0)
		rc = st_load(c, pb_buf_cstr(&k), arr);
	pb_buf_dispose(&k);
	if (rc == PB_ENOTFOUND) {
		*arr = json_array();
		rc = *arr ? 0 : pb_error__oom();
	}
	if (rc == 0 && !json_is_array(*arr)) {
		json_decref(*arr);
		*arr = NULL;
		rc = pb_error_set(PB_EMALFORMED, "matrix: e2ee: stored Olm sessions of %s are not a list", curve);
	}
	return rc;
}

/* Put session @s first in the stored list of @curve (replacing index @at, or
 * new when @at < 0) and save the list. */
static int olm_session_store(pb_matrix_crypto *c, const char *curve, json_t *arr, long at, OlmSession *s)
{
	json_t *p = pickle_session(c, s);
	if (p == NULL)
		return PB_ENOMEM;
	if (at >= 0)
		json_array_remove(arr, (size_t)at);
	json_array_insert_new(arr, 0, p);
	while (json_array_size(arr) > OLM_SESSIONS_KEPT)
		json_array_remove(arr, json_array_size(arr) - 1);
	pb_buf k = PB_BUF_INIT;
	int rc = key_of(&k, "olm", curve, NULL, NULL);
	if (rc == 0)
		rc = st_save(c, pb_buf_cstr(&k), arr);
	pb_buf_dispose(&k);
	return rc;
}

/* A to-device message decrypted but not yet committed (see olm_commit()). */
typedef struct olm_pending {
	OlmSession *s;
	json_t *arr;     /* stored sessions of the sender */
	long at;         /* index of s in arr, or -1 for a new one */
	bool used_otk;   /* a one-time key must go from the account */
} olm_pending;

static void olm_pending_clear(olm_pending *p)
{
	session_free(p->s);
	json_decref(p->arr);
	memset(p, 0, sizeof(*p));
}

static char *olm_try(OlmSession *s, size_t type, const char *body, size_t *len)
{
	char *copy = pb_strdup(body);
	if (copy == NULL)
		return NULL;
	size_t blen = strlen(copy);
	size_t max = sym_olm_decrypt_max_plaintext_length(s, type, copy, blen);
	char *out = NULL;
	if (max != sym_olm_error()) {
		pb_free(copy);
		copy = pb_strdup(body);
		out = copy ? pb_malloc(max + 1) : NULL;
		size_t n = out ? sym_olm_decrypt(s, type, copy, blen, out, max) : sym_olm_error();
		if (n == sym_olm_error()) {
			pb_free(out);
			out = NULL;
		} else {
			out[n] = '\0';
			*len = n;
		}
	}
	pb_free(copy);
	return out;
}

/* Decrypt an Olm message from @sender_key; nothing is saved yet: handle the
 * plaintext, then olm_commit(). */
static int olm_decrypt_msg(pb_matrix_crypto *c, const char *sender_key, size_t type, const char *body,
			   char **plain, olm_pending *p)
{
	memset(p, 0, sizeof(*p));
	p->at = -1;
	int rc = olm_sessions_load(c, sender_key, &p->arr);
	if (rc < 0)
		return rc;
	size_t i, n;
	json_t *pk;
	json_array_foreach(p->arr, i, pk) {
		OlmSession *s = unpickle_session(c, "Olm session", json_string_value(pk));
		if (s == NULL)
			continue;
		if (type == OLM_MESSAGE_TYPE_PRE_KEY) {
			char *copy = pb_strdup(body);
			bool match = copy && sym_olm_matches_inbound_session_from(s, sender_key, strlen(sender_key), copy,
									       strlen(copy)) == 1;
			pb_free(copy);
			if (!match) {
				session_free(s);
				continue;
			}
		}
		if ((*plain = olm_try(s, type, body, &n)) != NULL) {
			p->s = s;
			p->at = (long)i;
			return 0;
		}
		session_free(s);
	}
	if (type != OLM_MESSAGE_TYPE_PRE_KEY)
		return pb_error_set(PB_ENOTFOUND, "matrix: e2ee: no Olm session with %s decrypts it", sender_key);
	OlmSession *s = session_new();
	char *copy = pb_strdup(body);
	if (s == NULL || copy == NULL) {
		session_free(s);
		pb_free(copy);
		return pb_error__oom();
	}
	size_t r = sym_olm_create_inbound_session_from(s, c->acct, sender_key, strlen(sender_key), copy, strlen(copy));
	pb_free(copy);
	if (r == sym_olm_error()) {
		rc = olm_failed("new inbound Olm session", sym_olm_session_last_error(s));
		session_free(s);
		return rc;
	}
	if ((*plain = olm_try(s, type, body, &n)) == NULL) {
		rc = olm_failed("Olm decrypt", sym_olm_session_last_error(s));
		session_free(s);
		return rc;
	}
	p->s = s;
	p->used_otk = true;
	return 0;
}

/*
 * Save what decrypting changed: the session first, then the account without
 * the used one-time key. A crash before the session is saved leaves the
 * stored state as it was, so the message decrypts again when the server
 * sends it again; the key it carried was saved before this call.
 */
static int olm_commit(pb_matrix_crypto *c, const char *sender_key, olm_pending *p)
{
	int rc = olm_session_store(c, sender_key, p->arr, p->at, p->s);
	if (rc == 0 && p->used_otk) {
		if (sym_olm_remove_one_time_keys(c->acct, p->s) == sym_olm_error())
			pb_log_warning(PB_MATRIX_LOG, "e2ee: one-time key already gone: %s",
				       sym_olm_account_last_error(c->acct));
		rc = account_save(c);
	}
	return rc;
}

/* --- inbound Megolm sessions -------------------------------------------------- */

static int ig_key(pb_buf *k, const char *room, const char *sender_key, const char *sid)
{
	return key_of(k, "ig", room, sender_key, sid);
}

static int ig_add(pb_matrix_crypto *c, const char *room, const char *sender, const char *sender_key,
		  const char *sid, const char *session_key, const char *claimed_ed, bool exported)
{
	pb_buf k = PB_BUF_INIT;
	json_t *have = NULL;
	int rc = ig_key(&k, room, sender_key, sid);
	if (rc < 0)
		goto out;
	rc = st_load(c, pb_buf_cstr(&k), &have);
	if (rc == 0)
		goto out; /* known already: keep the first (it may reach further back) */
	if (rc != PB_ENOTFOUND)
		goto out;
	OlmInboundGroupSession *s = ig_new();
	char *copy = pb_strdup(session_key);
	if (s == NULL || copy == NULL) {
		ig_free(s);
		pb_free(copy);
		rc = pb_error__oom();
		goto out;
	}
	size_t r = exported ? sym_olm_import_inbound_group_session(s, (uint8_t *)copy, strlen(copy))
			    : sym_olm_init_inbound_group_session(s, (uint8_t *)copy, strlen(copy));
	wipe_free(copy, strlen(session_key));
	if (r == sym_olm_error()) {
		rc = olm_failed("room key", sym_olm_inbound_group_session_last_error(s));
		ig_free(s);
		goto out;
	}
	json_t *p = pickle_ig(c, s);
	ig_free(s);
	json_t *v = p ? json_pack("{s:o, s:s, s:s, s:s?}", "pickle", p, "room_id", room, "sender", sender,
				  "ed25519", claimed_ed)
		      : NULL;
	rc = v ? st_save(c, pb_buf_cstr(&k), v) : pb_error__oom();
	json_decref(v);
	if (rc == 0) {
		c->inbound++;
		pb_log_info(PB_MATRIX_LOG, "e2ee: room key %s for %s from %s", sid, room, sender_key);
	}
out:
	json_decref(have);
	pb_buf_dispose(&k);
	return rc;
}

/* Decrypt a Megolm event; *@plain: the payload object (new). */
static int megolm_decrypt(pb_matrix_crypto *c, const char *room, const json_t *event, json_t **plain)
{
	const json_t *ct = json_object_get(event, "content");
	const char *sk = json_string_value(json_object_get(ct, "sender_key"));
	const char *sid = json_string_value(json_object_get(ct, "session_id"));
	const char *text = json_string_value(json_object_get(ct, "ciphertext"));
	const char *eid = json_string_value(json_object_get(event, "event_id"));
	*plain = NULL;
	if (sk == NULL || sid == NULL || text == NULL)
		return pb_error_set(PB_EMALFORMED, "matrix: e2ee: event %s lacks sender_key, session_id or "
				    "ciphertext", eid ? eid : "?");
	pb_buf k = PB_BUF_INIT;
	json_t *v = NULL;
	OlmInboundGroupSession *s = NULL;
	char *copy = NULL, *out = NULL;
	int rc = ig_key(&k, room, sk, sid);
	if (rc == 0)
		rc = st_load(c, pb_buf_cstr(&k), &v);
	if (rc == PB_ENOTFOUND)
		rc = pb_error_set(PB_ENOTFOUND, "matrix: e2ee: no room key %s for event %s", sid, eid ? eid : "?");
	if (rc < 0)
		goto out;
	/* the key came over Olm from one user: only that user's events open with it */
	const char *owner = json_string_value(json_object_get(v, "sender"));
	const char *esender = json_string_value(json_object_get(event, "sender"));
	if (owner && (esender == NULL || strcmp(owner, esender) != 0)) {
		rc = pb_error_set(PB_EPROTO, "matrix: e2ee: event %s from %s uses a room key that %s sent",
				  eid ? eid : "?", esender ? esender : "?", owner);
		goto out;
	}
	if ((s = unpickle_ig(c, "room key", json_string_value(json_object_get(v, "pickle")))) == NULL) {
		rc = pb_error_last()->code;
		goto out;
	}
	size_t n = strlen(text);
	if ((copy = pb_strdup(text)) == NULL) {
		rc = pb_error__oom();
		goto out;
	}
	size_t max = sym_olm_group_decrypt_max_plaintext_length(s, (uint8_t *)copy, n);
	if (max == sym_olm_error()) {
		rc = olm_failed("Megolm decrypt", sym_olm_inbound_group_session_last_error(s));
		goto out;
	}
	memcpy(copy, text, n);
	uint32_t index = 0;
	out = pb_malloc(max + 1);
	size_t len = out ? sym_olm_group_decrypt(s, (uint8_t *)copy, n, (uint8_t *)out, max, &index) : sym_olm_error();
	if (out == NULL) {
		rc = pb_error__oom();
		goto out;
	}
	if (len == sym_olm_error()) {
		rc = olm_failed("Megolm decrypt", sym_olm_inbound_group_session_last_error(s));
		goto out;
	}
	/* replay: one message index belongs to one event */
	char idx[600];
	snprintf(idx, sizeof(idx), "%s|%s|%" PRIu32, sk, sid, index);
	const char *before = json_string_value(json_object_get(c->seen, idx));
	if (before && eid && strcmp(before, eid) != 0) {
		rc = pb_error_set(PB_EPROTO, "matrix: e2ee: event %s replays message %" PRIu32 " of session %s "
				  "(first seen in %s)", eid, index, sid, before);
		goto out;
	}
	/* bounded memory for a daemon that runs for months: a replay of a
	 * message older than the last SEEN_MAX is not caught */
	if (json_object_size(c->seen) >= SEEN_MAX)
		json_object_clear(c->seen);
	if (eid)
		json_object_set_new(c->seen, idx, json_string(eid));
	json_t *p = json_loadb(out, len, 0, NULL);
	const char *proom = json_string_value(json_object_get(p, "room_id"));
	if (!json_is_object(p) || !json_is_string(json_object_get(p, "type")) ||
	    !json_is_object(json_object_get(p, "content"))) {
		json_decref(p);
		rc = pb_error_set(PB_EMALFORMED, "matrix: e2ee: event %s decrypts to no event", eid ? eid : "?");
	} else if (proom == NULL || strcmp(proom, room) != 0) {
		json_decref(p);
		rc = pb_error_set(PB_EPROTO, "matrix: e2ee: event %s was encrypted for another room", eid ? eid : "?");
	} else {
		*plain = p;
	}
out:
	if (out)
		wipe_free(out, max + 1);
	pb_free(copy);
	ig_free(s);
	json_decref(v);
	pb_buf_dispose(&k);
	return rc;
}

/* --- to-device ------------------------------------------------------------------- */

static int send_to_device(pb_matrix *m, const char *type, json_t *messages)
{
	char txn[PB_MATRIX_TXN_ID_SIZE];
	pb_buf u = PB_BUF_INIT;
	json_t *body = json_pack("{s:O}", "messages", messages);
	int rc = body ? pb_matrix_txn_id(txn, sizeof(txn)) : pb_error__oom();
	if (rc == 0)
		rc = pb_matrix__url(&u, m, "/_matrix/client/v3/sendToDevice/%s/%s", type, txn);
	if (rc == 0)
		rc = pb_matrix__call(m, "PUT", pb_buf_cstr(&u), body, true, NULL);
	json_decref(body);
	pb_buf_dispose(&u);
	return rc;
}

/* Handle one decrypted to-device payload from @sender (@sender_key). */
static int to_device_payload(pb_matrix_crypto *c, const char *sender, const char *sender_key, const json_t *p)
{
	const char *type = json_string_value(json_object_get(p, "type"));
	const char *psender = json_string_value(json_object_get(p, "sender"));
	const char *recipient = json_string_value(json_object_get(p, "recipient"));
	const char *red = json_string_value(json_object_get(json_object_get(p, "recipient_keys"), "ed25519"));
	const char *claimed = json_string_value(json_object_get(json_object_get(p, "keys"), "ed25519"));
	const json_t *ct = json_object_get(p, "content");
	if (type == NULL || psender == NULL || strcmp(psender, sender) != 0 || recipient == NULL ||
	    strcmp(recipient, c->user_id) != 0 || red == NULL || strcmp(red, c->ed) != 0) {
		pb_log_warning(PB_MATRIX_LOG, "e2ee: to-device message from %s with wrong sender or recipient: "
			       "dropped", sender);
		return 0;
	}
	if (strcmp(type, "m.room_key") == 0) {
		const char *alg = json_string_value(json_object_get(ct, "algorithm"));
		const char *room = json_string_value(json_object_get(ct, "room_id"));
		const char *sid = json_string_value(json_object_get(ct, "session_id"));
		const char *skey = json_string_value(json_object_get(ct, "session_key"));
		if (alg == NULL || strcmp(alg, MEGOLM_ALG) != 0 || room == NULL || sid == NULL || skey == NULL) {
			pb_log_warning(PB_MATRIX_LOG, "e2ee: room key from %s is incomplete: dropped", sender);
			return 0;
		}
		int rc = ig_add(c, room, sender, sender_key, sid, skey, claimed, false);
		return rc == PB_ENOMEM || rc == PB_EIO || rc == PB_EBUSY ? rc : 0;
	}
	pb_log_debug(PB_MATRIX_LOG, "e2ee: to-device %s from %s ignored", type, sender);
	return 0;
}

static int to_device_event(pb_matrix_crypto *c, const json_t *e)
{
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *sender = json_string_value(json_object_get(e, "sender"));
	const json_t *ct = json_object_get(e, "content");
	if (type == NULL || sender == NULL || strcmp(type, "m.room.encrypted") != 0)
		return 0;
	const char *alg = json_string_value(json_object_get(ct, "algorithm"));
	const char *sk = json_string_value(json_object_get(ct, "sender_key"));
	const json_t *mine = json_object_get(json_object_get(ct, "ciphertext"), c->curve);
	const char *body = json_string_value(json_object_get(mine, "body"));
	json_t *t = json_object_get(mine, "type");
	if (alg == NULL || strcmp(alg, OLM_ALG) != 0 || sk == NULL || body == NULL || !json_is_integer(t) ||
	    (json_integer_value(t) != 0 && json_integer_value(t) != 1)) {
		pb_log_warning(PB_MATRIX_LOG, "e2ee: to-device message from %s is not Olm for this device: "
			       "ignored", sender);
		return 0;
	}
	char *plain = NULL;
	olm_pending pend;
	int rc = olm_decrypt_msg(c, sk, (size_t)json_integer_value(t), body, &plain, &pend);
	if (rc < 0) {
		pb_log_warning(PB_MATRIX_LOG, "e2ee: cannot decrypt a to-device message from %s: %s", sender,
			       pb_error_last()->message);
		olm_pending_clear(&pend);
		return rc == PB_ENOMEM || rc == PB_EIO || rc == PB_EBUSY ? rc : 0;
	}
	json_t *p = json_loads(plain, 0, NULL);
	wipe_free(plain, strlen(plain));
	rc = p ? to_device_payload(c, sender, sk, p) : 0;
	json_decref(p);
	if (rc == 0)
		rc = olm_commit(c, sk, &pend);
	olm_pending_clear(&pend);
	return rc;
}

int pb_matrix__crypto_sync(pb_matrix_crypto *c, pb_matrix *m, const json_t *root)
{
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(json_object_get(root, "to_device"), "events"), i, e) {
		if ((rc = to_device_event(c, e)) < 0)
			goto out;
	}
	json_t *dl = json_object_get(root, "device_lists");
	json_array_foreach(json_object_get(dl, "changed"), i, e) {
		if (json_is_string(e))
			json_object_del(c->devices, json_string_value(e)); /* query again when needed */
	}
	json_array_foreach(json_object_get(dl, "left"), i, e) {
		if (json_is_string(e))
			json_object_del(c->devices, json_string_value(e));
	}
	json_t *cnt = json_object_get(json_object_get(root, "device_one_time_keys_count"), OTK);
	if (json_is_integer(cnt) && (rc = replenish(c, m, (long)json_integer_value(cnt))) < 0)
		pb_log_warning(PB_MATRIX_LOG, "e2ee: cannot upload one-time keys now: %s", pb_error_last()->message);
	rc = 0; /* a failed top-up is tried again at the next sync */
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Ask the sender's devices for a missing room key (m.room_key_request). */
static void request_key(pb_matrix_crypto *c, pb_matrix *m, const char *room, const json_t *event)
{
	const json_t *ct = json_object_get(event, "content");
	const char *sender = json_string_value(json_object_get(event, "sender"));
	const char *sk = json_string_value(json_object_get(ct, "sender_key"));
	const char *sid = json_string_value(json_object_get(ct, "session_id"));
	if (!c->key_requests || sender == NULL || sk == NULL || sid == NULL)
		return;
	char rid[PB_MATRIX_TXN_ID_SIZE];
	pb_matrix_txn_id(rid, sizeof(rid));
	json_t *msg = json_pack("{s:s, s:{s:s, s:s, s:s, s:s}, s:s, s:s}", "action", "request", "body",
				"algorithm", MEGOLM_ALG, "room_id", room, "sender_key", sk, "session_id", sid,
				"request_id", rid, "requesting_device_id", c->device_id);
	json_t *all = msg ? json_pack("{s:{s:o}}", sender, "*", msg) : NULL;
	if (all && send_to_device(m, "m.room_key_request", all) == 0)
		pb_log_info(PB_MATRIX_LOG, "e2ee: asked %s for room key %s", sender, sid);
	json_decref(all);
}

int pb_matrix__crypto_room_event(pb_matrix_crypto *c, pb_matrix *m, const char *room_id, const json_t *ev,
				 bool ask, json_t **plain)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const json_t *ct = json_object_get(ev, "content");
	int rc = 0;
	*plain = NULL;
	if (type == NULL)
		return 0;
	if (strcmp(type, "m.room.encryption") == 0) {
		const char *sk = json_string_value(json_object_get(ev, "state_key"));
		if (sk && *sk == '\0' && json_is_string(json_object_get(ct, "algorithm"))) {
			pthread_mutex_lock(&c->lock);
			rc = room_set(c, room_id, ct);
			pthread_mutex_unlock(&c->lock);
		}
		return rc;
	}
	if (strcmp(type, "m.room.encrypted") != 0 || json_object_get(ev, "state_key"))
		return 0;
	const char *alg = json_string_value(json_object_get(ct, "algorithm"));
	if (alg == NULL || strcmp(alg, MEGOLM_ALG) != 0)
		return 0; /* delivered as it came */
	json_t *p = NULL;
	pthread_mutex_lock(&c->lock);
	rc = megolm_decrypt(c, room_id, ev, &p);
	if (rc == PB_ENOTFOUND) {
		const char *sender = json_string_value(json_object_get(ev, "sender"));
		pb_log_warning(PB_MATRIX_LOG, "%s", pb_error_last()->message);
		if (ask && sender && strcmp(sender, c->user_id) != 0)
			request_key(c, m, room_id, ev);
	} else if (rc < 0) {
		pb_log_warning(PB_MATRIX_LOG, "%s", pb_error_last()->message);
	}
	pthread_mutex_unlock(&c->lock);
	if (rc == PB_ENOMEM || rc == PB_EIO || rc == PB_EBUSY)
		return rc;
	if (p == NULL)
		return 0;
	json_t *out = json_copy((json_t *)ev);
	if (out == NULL || json_object_set(out, "type", json_object_get(p, "type")) < 0 ||
	    json_object_set(out, "content", json_object_get(p, "content")) < 0) {
		json_decref(out);
		json_decref(p);
		return pb_error__oom();
	}
	json_decref(p);
	*plain = out;
	return 0;
}

int pb_matrix_crypto_decrypt(pb_matrix_crypto *c, const char *room_id, const char *event_json,
			     char **plain_json)
{
	*plain_json = NULL;
	json_t *ev = event_json ? json_loads(event_json, 0, NULL) : NULL, *p = NULL;
	if (!json_is_object(ev)) {
		json_decref(ev);
		return pb_error_set(PB_EMALFORMED, "matrix: e2ee: the event is not a JSON object");
	}
	pthread_mutex_lock(&c->lock);
	int rc = megolm_decrypt(c, room_id, ev, &p);
	pthread_mutex_unlock(&c->lock);
	if (rc == 0) {
		json_object_set(ev, "type", json_object_get(p, "type"));
		json_object_set(ev, "content", json_object_get(p, "content"));
		if ((*plain_json = dump_string(ev)) == NULL)
			rc = PB_ENOMEM;
	}
	json_decref(p);
	json_decref(ev);
	return rc;
}

/* --- outbound Megolm ------------------------------------------------------------ */

/* The devices of @users: a new object "USER DEVICE" -> {user, device, curve25519, ed25519}. */
static int room_devices(pb_matrix_crypto *c, pb_matrix *m, const json_t *users, json_t **out)
{
	json_t *ask = json_array();
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u) {
		if (json_object_get(c->devices, json_string_value(u)) == NULL)
			json_array_append(ask, u);
	}
	int rc = ask ? query_devices(c, m, ask) : pb_error__oom();
	json_decref(ask);
	json_t *all = rc == 0 ? json_object() : NULL;
	json_array_foreach(rc == 0 ? users : NULL, i, u) {
		const char *dev;
		json_t *d;
		json_object_foreach(json_object_get(c->devices, json_string_value(u)), dev, d) {
			char id[512];
			snprintf(id, sizeof(id), "%s %s", json_string_value(u), dev);
			json_object_set_new(all, id, json_pack("{s:O, s:s, s:O, s:O}", "user", u, "device", dev,
							       "curve25519", json_object_get(d, "curve25519"),
							       "ed25519", json_object_get(d, "ed25519")));
		}
	}
	*out = all;
	return rc;
}

/* An outbound Olm session with device @d: a stored one, or one from a
 * claimed one-time key (in @claimed, from /keys/claim). */
static OlmSession *olm_outbound(pb_matrix_crypto *c, const json_t *d, const json_t *claimed, json_t **arr)
{
	const char *curve = json_string_value(json_object_get(d, "curve25519"));
	if (olm_sessions_load(c, curve, arr) < 0)
		return NULL;
	if (json_array_size(*arr) > 0)
		return unpickle_session(c, "Olm session", json_string_value(json_array_get(*arr, 0)));
	const char *user = json_string_value(json_object_get(d, "user"));
	const char *dev = json_string_value(json_object_get(d, "device"));
	const char *kid;
	json_t *ko;
	json_object_foreach(json_object_get(json_object_get(claimed, user), dev), kid, ko) {
		const char *key = json_string_value(json_object_get(ko, "key"));
		const char *ed = json_string_value(json_object_get(d, "ed25519"));
		if (key == NULL || !verify_signed(ko, user, dev, ed)) {
			pb_log_warning(PB_MATRIX_LOG, "e2ee: one-time key of %s %s is not signed by it", user, dev);
			return NULL;
		}
		OlmSession *s = session_new();
		if (s == NULL)
			return NULL;
		size_t n = sym_olm_create_outbound_session_random_length(s);
		uint8_t *r = random_bytes(n);
		size_t res = r ? sym_olm_create_outbound_session(s, c->acct, curve, strlen(curve), key, strlen(key), r, n)
			       : sym_olm_error();
		wipe_free(r, n);
		if (res == sym_olm_error()) {
			pb_log_warning(PB_MATRIX_LOG, "e2ee: no Olm session with %s %s: %s", user, dev,
				       sym_olm_session_last_error(s));
			session_free(s);
			return NULL;
		}
		return s;
	}
	pb_log_warning(PB_MATRIX_LOG, "e2ee: %s %s has no one-time key left: it gets the room key later", user, dev);
	return NULL;
}

/* POST /keys/claim for the devices of @want that have no Olm session yet. */
static int claim_keys(pb_matrix_crypto *c, pb_matrix *m, const json_t *want, json_t **claimed)
{
	json_t *ask = json_object();
	const char *id;
	json_t *d;
	size_t n = 0;
	*claimed = NULL;
	json_object_foreach((json_t *)want, id, d) {
		json_t *arr = NULL;
		const char *curve = json_string_value(json_object_get(d, "curve25519"));
		if (olm_sessions_load(c, curve, &arr) == 0 && json_array_size(arr) == 0) {
			const char *user = json_string_value(json_object_get(d, "user"));
			json_t *per = json_object_get(ask, user);
			if (per == NULL) {
				per = json_object();
				json_object_set_new(ask, user, per);
			}
			json_object_set_new(per, json_string_value(json_object_get(d, "device")), json_string(OTK));
			n++;
		}
		json_decref(arr);
	}
	if (n == 0) {
		json_decref(ask);
		return 0;
	}
	json_t *body = json_pack("{s:o, s:i}", "one_time_keys", ask, "timeout", 10000), *ans = NULL;
	pb_buf u = PB_BUF_INIT;
	int rc = body ? pb_matrix__url(&u, m, "/_matrix/client/v3/keys/claim") : pb_error__oom();
	if (rc == 0)
		rc = pb_matrix__call(m, "POST", pb_buf_cstr(&u), body, false, &ans);
	if (rc == 0)
		*claimed = json_incref(json_object_get(ans, "one_time_keys"));
	json_decref(ans);
	json_decref(body);
	pb_buf_dispose(&u);
	return rc;
}

/* Olm-encrypt the room key for every device in @to and send it; the devices
 * reached are added to @shared. */
static int send_room_key(pb_matrix_crypto *c, pb_matrix *m, const char *room, OlmOutboundGroupSession *og,
			 const json_t *to, json_t *shared)
{
	size_t idn = sym_olm_outbound_group_session_id_length(og), kn = sym_olm_outbound_group_session_key_length(og);
	char *sid = pb_malloc(idn + 1), *skey = pb_malloc(kn + 1);
	json_t *claimed = NULL, *messages = json_object(), *reached = json_object();
	int rc = (sid && skey && messages && reached) ? 0 : pb_error__oom();
	if (rc == 0 && (sym_olm_outbound_group_session_id(og, (uint8_t *)sid, idn) == sym_olm_error() ||
			sym_olm_outbound_group_session_key(og, (uint8_t *)skey, kn) == sym_olm_error()))
		rc = olm_failed("room key", sym_olm_outbound_group_session_last_error(og));
	if (rc == 0) {
		sid[idn] = skey[kn] = '\0';
		rc = claim_keys(c, m, to, &claimed);
	}
	const char *id;
	json_t *d;
	json_object_foreach(rc == 0 ? (json_t *)to : NULL, id, d) {
		json_t *arr = NULL;
		OlmSession *s = olm_outbound(c, d, claimed, &arr);
		if (s == NULL) {
			json_decref(arr);
			continue;
		}
		const char *user = json_string_value(json_object_get(d, "user"));
		const char *dev = json_string_value(json_object_get(d, "device"));
		const char *curve = json_string_value(json_object_get(d, "curve25519"));
		json_t *payload = json_pack("{s:s, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:{s:s}, s:s, s:{s:O}}",
					    "type", "m.room_key", "content", "algorithm", MEGOLM_ALG, "room_id",
					    room, "session_id", sid, "session_key", skey, "sender", c->user_id,
					    "sender_device", c->device_id, "keys", "ed25519", c->ed, "recipient",
					    user, "recipient_keys", "ed25519", json_object_get(d, "ed25519"));
		char *pt = payload ? dump_string(payload) : NULL;
		json_decref(payload);
		size_t mt = sym_olm_encrypt_message_type(s);
		size_t rl = sym_olm_encrypt_random_length(s);
		size_t cl = pt ? sym_olm_encrypt_message_length(s, strlen(pt)) : 0;
		uint8_t *r = pt ? random_bytes(rl) : NULL;
		char *cipher = r ? pb_malloc(cl + 1) : NULL;
		if (cipher && sym_olm_encrypt(s, pt, strlen(pt), r, rl, cipher, cl) != sym_olm_error() &&
		    olm_session_store(c, curve, arr, json_array_size(arr) ? 0 : -1, s) == 0) {
			json_t *per = json_object_get(messages, user);
			if (per == NULL) {
				per = json_object();
				json_object_set_new(messages, user, per);
			}
			json_object_set_new(per, dev, json_pack("{s:s, s:s, s:{s:{s:I, s:s%}}}", "algorithm", OLM_ALG,
								"sender_key", c->curve, "ciphertext", curve, "type",
								(json_int_t)mt, "body", cipher, cl));
			json_object_set(reached, id, d);
		}
		if (pt)
			wipe_free(pt, strlen(pt));
		wipe_free(r, rl);
		pb_free(cipher);
		session_free(s);
		json_decref(arr);
	}
	if (rc == 0 && json_object_size(messages) > 0)
		rc = send_to_device(m, "m.room.encrypted", messages);
	if (rc == 0) {
		json_object_foreach(reached, id, d)
			json_object_set_new(shared, id, json_string(json_string_value(json_object_get(d, "curve25519"))));
		if (json_object_size(reached) > 0)
			pb_log_info(PB_MATRIX_LOG, "e2ee: room key %s of %s sent to %zu devices", sid, room,
				    json_object_size(reached));
	}
	if (skey)
		wipe_free(skey, kn + 1);
	pb_free(sid);
	json_decref(claimed);
	json_decref(messages);
	json_decref(reached);
	return rc;
}

static int og_save(pb_matrix_crypto *c, const char *room, OlmOutboundGroupSession *og, const json_t *state)
{
	json_t *p = pickle_og(c, og);
	if (p == NULL)
		return PB_ENOMEM;
	json_t *v = json_copy((json_t *)state);
	json_object_set_new(v, "pickle", p);
	pb_buf k = PB_BUF_INIT;
	int rc = key_of(&k, "og", room, NULL, NULL);
	if (rc == 0)
		rc = st_save(c, pb_buf_cstr(&k), v);
	json_decref(v);
	pb_buf_dispose(&k);
	return rc;
}

/* A new outbound session for @room; its inbound twin is stored too, so that
 * the bridge reads its own messages. */
static OlmOutboundGroupSession *og_create(pb_matrix_crypto *c, const char *room, json_t **state)
{
	OlmOutboundGroupSession *og = og_new();
	if (og == NULL)
		return NULL;
	size_t n = sym_olm_init_outbound_group_session_random_length(og);
	uint8_t *r = random_bytes(n);
	size_t res = r ? sym_olm_init_outbound_group_session(og, r, n) : sym_olm_error();
	wipe_free(r, n);
	if (res == sym_olm_error()) {
		og_free(og);
		return NULL;
	}
	size_t idn = sym_olm_outbound_group_session_id_length(og), kn = sym_olm_outbound_group_session_key_length(og);
	char *sid = pb_malloc(idn + 1), *skey = pb_malloc(kn + 1);
	int rc = sid && skey ? 0 : PB_ENOMEM;
	if (rc == 0) {
		sym_olm_outbound_group_session_id(og, (uint8_t *)sid, idn);
		sym_olm_outbound_group_session_key(og, (uint8_t *)skey, kn);
		sid[idn] = skey[kn] = '\0';
		rc = ig_add(c, room, c->user_id, c->curve, sid, skey, c->ed, false);
	}
	*state = json_pack("{s:I, s:I, s:{}}", "created", (json_int_t)now_ms(), "messages", (json_int_t)0, "shared");
	if (rc == 0 && *state)
		rc = og_save(c, room, og, *state);
	if (rc == 0 && *state)
		pb_log_info(PB_MATRIX_LOG, "e2ee: new room session %s for %s", sid, room);
	pb_free(sid);
	if (skey)
		wipe_free(skey, kn + 1);
	if (rc < 0 || *state == NULL) {
		json_decref(*state);
		*state = NULL;
		og_free(og);
		return NULL;
	}
	return og;
}

/* The room's outbound session, made anew when due, shared with every device
 * of the room. */
static int og_ready(pb_matrix_crypto *c, pb_matrix *m, const char *room, OlmOutboundGroupSession **out,
		    json_t **state)
{
	json_t *users = NULL, *devs = NULL, *v = NULL;
	OlmOutboundGroupSession *og = NULL;
	pb_buf k = PB_BUF_INIT;
	*out = NULL;
	*state = NULL;
	int rc = room_members(m, room, &users);
	if (rc == 0)
		rc = room_devices(c, m, users, &devs);
	if (rc == 0)
		rc = key_of(&k, "og", room, NULL, NULL);
	if (rc == 0) {
		rc = st_load(c, pb_buf_cstr(&k), &v);
		if (rc == PB_ENOTFOUND)
			rc = 0;
	}
	if (rc < 0)
		goto out;
	if (v) {
		bool left = false;
		const char *id;
		json_t *x;
		json_object_foreach(json_object_get(v, "shared"), id, x) {
			json_t *now = json_object_get(devs, id);
			if (now == NULL || !json_equal(json_object_get(now, "curve25519"), x))
				left = true;
		}
		uint64_t msgs;
		int64_t period;
		pb_matrix__rotation_rules(room_get(c, room), &msgs, &period);
		pb_matrix__og_use use = { json_integer_value(json_object_get(v, "created")),
					  (uint64_t)json_integer_value(json_object_get(v, "messages")) };
		if (!pb_matrix__should_rotate(&use, now_ms(), msgs, period, left))
			og = unpickle_og(c, "room session", json_string_value(json_object_get(v, "pickle")));
		else
			pb_log_info(PB_MATRIX_LOG, "e2ee: room session of %s rotated (%s)", room,
				    left ? "a device left" : "message count or age");
		if (og) {
			*state = v;
			v = NULL;
		}
	}
	if (og == NULL && (og = og_create(c, room, state)) == NULL) {
		rc = pb_error_last()->code ? pb_error_last()->code : PB_ENOMEM;
		goto out;
	}
	json_t *shared = json_object_get(*state, "shared");
	json_t *missing = json_object();
	const char *id;
	json_t *d;
	json_object_foreach(devs, id, d) {
		if (json_object_get(shared, id) == NULL)
			json_object_set(missing, id, d);
	}
	if (json_object_size(missing) > 0) {
		rc = send_room_key(c, m, room, og, missing, shared);
		if (rc == 0)
			rc = og_save(c, room, og, *state);
	}
	json_decref(missing);
out:
	if (rc < 0) {
		og_free(og);
		json_decref(*state);
		*state = NULL;
	} else {
		*out = og;
	}
	json_decref(users);
	json_decref(devs);
	json_decref(v);
	pb_buf_dispose(&k);
	return rc;
}

int pb_matrix_crypto_share_room_key(pb_matrix_crypto *c, pb_matrix *m, const char *room_id)
{
	OlmOutboundGroupSession *og = NULL;
	json_t *state = NULL;
	pthread_mutex_lock(&c->lock);
	int rc = og_ready(c, m, room_id, &og, &state);
	pthread_mutex_unlock(&c->lock);
	og_free(og);
	json_decref(state);
	return rc;
}

int pb_matrix__crypto_wrap(pb_matrix_crypto *c, pb_matrix *m, const char *room_id, const char *type,
			   const json_t *content, json_t **wrapped)
{
	*wrapped = NULL;
	pthread_mutex_lock(&c->lock);
	OlmOutboundGroupSession *og = NULL;
	json_t *state = NULL, *plain = NULL;
	char *pt = NULL, *cipher = NULL, *sid = NULL;
	int rc = room_check_locked(c, m, room_id);
	if (rc <= 0)
		goto out;
	if ((rc = og_ready(c, m, room_id, &og, &state)) < 0)
		goto out;
	plain = json_pack("{s:s, s:O, s:s}", "type", type, "content", content, "room_id", room_id);
	if (plain == NULL || (pt = dump_string(plain)) == NULL) {
		rc = pb_error__oom();
		goto out;
	}
	size_t cl = sym_olm_group_encrypt_message_length(og, strlen(pt));
	size_t idn = sym_olm_outbound_group_session_id_length(og);
	cipher = pb_malloc(cl + 1);
	sid = pb_malloc(idn + 1);
	if (cipher == NULL || sid == NULL) {
		rc = pb_error__oom();
		goto out;
	}
	if (sym_olm_group_encrypt(og, (uint8_t *)pt, strlen(pt), (uint8_t *)cipher, cl) == sym_olm_error() ||
	    sym_olm_outbound_group_session_id(og, (uint8_t *)sid, idn) == sym_olm_error()) {
		rc = olm_failed("Megolm encrypt", sym_olm_outbound_group_session_last_error(og));
		goto out;
	}
	sid[idn] = '\0';
	/* the advanced index is saved before the message can leave */
	json_object_set_new(state, "messages",
			    json_integer(json_integer_value(json_object_get(state, "messages")) + 1));
	if ((rc = og_save(c, room_id, og, state)) < 0)
		goto out;
	*wrapped = json_pack("{s:s, s:s, s:s%, s:s, s:s}", "algorithm", MEGOLM_ALG, "sender_key", c->curve,
			     "ciphertext", cipher, cl, "session_id", sid, "device_id", c->device_id);
	rc = *wrapped ? 0 : pb_error__oom();
out:
	pthread_mutex_unlock(&c->lock);
	og_free(og);
	json_decref(state);
	json_decref(plain);
	if (pt)
		wipe_free(pt, strlen(pt));
	pb_free(cipher);
	pb_free(sid);
	return rc < 0 ? rc : 0;
}
