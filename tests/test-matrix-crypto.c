/*
 * libphonebridge tests — matrix: the encryption layer's parts that need no
 * server: the Megolm rotation rules, canonical JSON, and pickles made with a
 * fixed key by python3-olm (tests/data/matrix/e2ee-fixed.json, made by
 * e2ee-fixed.py): loading, decrypting, the replay and room checks, a wrong
 * key, an account of another device. The whole exchange with a homeserver is
 * tests/bridge-e2ee-test.py against Synapse with a matrix-nio client.
 * A binary of its own beside test-matrix (same module): the two grow apart.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "harness.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "matrix-hs.h"
#include "matrix/matrix-private.h"
#include "matrix/crypto-private.h"

/* --- rotation ----------------------------------------------------------------- */

static void test_matrix__e2ee_rotation_rules(void **state)
{
	(void)state;
	uint64_t msgs;
	int64_t period;
	pb_matrix__rotation_rules(NULL, &msgs, &period);
	assert_int_equal(msgs, 100);
	assert_true(period == 604800000);
	json_t *enc = json_pack("{s:s, s:i, s:i}", "algorithm", "m.megolm.v1.aes-sha2", "rotation_period_msgs", 3,
				"rotation_period_ms", 60000);
	pb_matrix__rotation_rules(enc, &msgs, &period);
	assert_int_equal(msgs, 3);
	assert_true(period == 60000);
	json_decref(enc);
	/* zero, negative or not numbers: the defaults, never "rotate never" */
	enc = json_pack("{s:i, s:s}", "rotation_period_msgs", 0, "rotation_period_ms", "soon");
	pb_matrix__rotation_rules(enc, &msgs, &period);
	assert_int_equal(msgs, 100);
	assert_true(period == 604800000);
	json_decref(enc);

	const int64_t t0 = 1700000000000;
	pb_matrix__og_use u = { t0, 0 };
	assert_false(pb_matrix__should_rotate(&u, t0, 3, 60000, false));
	u.messages = 2;
	assert_false(pb_matrix__should_rotate(&u, t0 + 59999, 3, 60000, false));
	u.messages = 3; /* the count is reached */
	assert_true(pb_matrix__should_rotate(&u, t0, 3, 60000, false));
	u.messages = 1; /* the age is reached */
	assert_true(pb_matrix__should_rotate(&u, t0 + 60000, 3, 60000, false));
	/* a device that had the key left the room */
	assert_true(pb_matrix__should_rotate(&u, t0 + 1, 3, 60000, true));
	/* the clock went back: do not trust the session's age */
	assert_true(pb_matrix__should_rotate(&u, t0 - 1000, 3, 60000, false));
}

static void test_matrix__e2ee_canonical_json(void **state)
{
	(void)state;
	json_t *o = json_loads("{\"b\":1,\"a\":{\"z\":\"\\u00e9/\",\"y\":[1,2]},\"signatures\":{\"x\":1},"
			       "\"unsigned\":{\"age\":5}}", 0, NULL);
	assert_non_null(o);
	pb_buf b = PB_BUF_INIT;
	assert_pb_ok(pb_matrix__canonical_json(&b, o));
	assert_string_equal(pb_buf_cstr(&b), "{\"a\":{\"y\":[1,2],\"z\":\"\xc3\xa9/\"},\"b\":1}");
	/* the object itself keeps its signatures */
	assert_non_null(json_object_get(o, "signatures"));
	pb_buf_dispose(&b);
	json_decref(o);
}

/* --- fixed pickles ---------------------------------------------------------------- */

typedef struct mem_store {
	json_t *kv;
	unsigned saves;
} mem_store;

static int mem_load(const char *key, char **value, void *ud)
{
	mem_store *s = ud;
	const char *v = json_string_value(json_object_get(s->kv, key));
	if (v == NULL)
		return PB_ENOTFOUND;
	*value = pb_strdup(v);
	return *value ? 0 : PB_ENOMEM;
}

static int mem_save(const char *key, const char *value, void *ud)
{
	mem_store *s = ud;
	s->saves++;
	return json_object_set_new(s->kv, key, json_string(value)) == 0 ? 0 : PB_ENOMEM;
}

static json_t *fixed(void)
{
	size_t len;
	uint8_t *d = pb_test_read_file(pb_test_data_dir(), "matrix/e2ee-fixed.json", &len);
	assert_non_null(d);
	json_t *j = json_loadb((const char *)d, len, 0, NULL);
	pb_free(d);
	assert_non_null(j);
	return j;
}

static const char *fs(const json_t *f, const char *k)
{
	const char *v = json_string_value(json_object_get(f, k));
	assert_non_null(v);
	return v;
}

/* A handle that never reaches a server, with the ids login would give. */
static pb_matrix *offline(const json_t *f)
{
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = "http://127.0.0.1:9";
	o.retry.attempts = 1;
	o.connect_timeout_ms = 2000;
	pb_matrix *m;
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_pb_ok(pb_matrix__set_string(&m->user_id, fs(f, "user_id")));
	assert_pb_ok(pb_matrix__set_string(&m->device_id, fs(f, "device_id")));
	return m;
}

static void preload(mem_store *s, const json_t *f)
{
	s->kv = json_object();
	json_t *acct = json_pack("{s:s, s:s, s:s, s:b}", "user_id", fs(f, "user_id"), "device_id",
				 fs(f, "device_id"), "pickle", fs(f, "account_pickle"), "uploaded", 1);
	char *a = json_dumps(acct, JSON_COMPACT);
	json_object_set_new(s->kv, "e2ee/account", json_string(a));
	free(a);
	json_decref(acct);
	char key[1024];
	snprintf(key, sizeof(key), "e2ee/ig/%s/%s/%s", fs(f, "room_id"), fs(f, "sender_key"), fs(f, "session_id"));
	json_t *ig = json_pack("{s:s, s:s, s:s}", "pickle", fs(f, "inbound_pickle"), "room_id", fs(f, "room_id"),
			       "sender", "@owner:example.org");
	char *i = json_dumps(ig, JSON_COMPACT);
	json_object_set_new(s->kv, key, json_string(i));
	free(i);
	json_decref(ig);
}

static char *encrypted_event(const json_t *f, const char *which, const char *event_id)
{
	json_t *e = json_pack("{s:s, s:s, s:s, s:I, s:{s:s, s:s, s:s, s:s, s:s}}", "type", "m.room.encrypted",
			      "sender", "@owner:example.org", "event_id", event_id, "origin_server_ts",
			      (json_int_t)1700000000000, "content", "algorithm", "m.megolm.v1.aes-sha2",
			      "sender_key", fs(f, "sender_key"), "session_id", fs(f, "session_id"), "device_id",
			      "OWNERDEV", "ciphertext", fs(f, which));
	char *s = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	char *r = pb_strdup(s);
	free(s);
	return r;
}

static void test_matrix__e2ee_fixed_pickles_decrypt(void **state)
{
	(void)state;
	json_t *f = fixed();
	mem_store s = { 0 };
	preload(&s, f);
	pb_matrix *m = offline(f);
	pb_matrix_crypto_options o = PB_MATRIX_CRYPTO_OPTIONS_INIT;
	o.pickle_key = fs(f, "pickle_key");
	o.storage = (pb_matrix_crypto_storage){ mem_load, mem_save, &s };
	pb_matrix_crypto *c;
	/* the server is away: the account was uploaded before, so that can wait */
	assert_pb_ok(pb_matrix_crypto_new(&c, m, &o));
	assert_string_equal(pb_matrix_crypto_identity_key(c, "curve25519"), fs(f, "curve25519"));
	assert_string_equal(pb_matrix_crypto_identity_key(c, "ed25519"), fs(f, "ed25519"));
	assert_null(pb_matrix_crypto_identity_key(c, "rsa"));

	const char *room = fs(f, "room_id");
	char *ev = encrypted_event(f, "event0", "$one"), *plain = NULL;
	assert_pb_ok(pb_matrix_crypto_decrypt(c, room, ev, &plain));
	json_t *p = json_loads(plain, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(p, "type")), "m.room.message");
	assert_string_equal(json_string_value(json_object_get(json_object_get(p, "content"), "body")), "fixed text");
	assert_string_equal(json_string_value(json_object_get(p, "event_id")), "$one");
	json_decref(p);
	pb_free(plain);
	/* the same event again (a repeated sync) is fine ... */
	assert_pb_ok(pb_matrix_crypto_decrypt(c, room, ev, &plain));
	pb_free(plain);
	pb_free(ev);
	/* ... the same message index under another event id is a replay */
	ev = encrypted_event(f, "event0", "$two");
	assert_pb_error(pb_matrix_crypto_decrypt(c, room, ev, &plain), PB_EPROTO);
	assert_null(plain);
	assert_non_null(strstr(pb_error_last()->message, "replays"));
	pb_free(ev);
	/* a message encrypted for another room, copied here */
	ev = encrypted_event(f, "event1_other_room", "$three");
	assert_pb_error(pb_matrix_crypto_decrypt(c, room, ev, &plain), PB_EPROTO);
	assert_non_null(strstr(pb_error_last()->message, "another room"));
	pb_free(ev);
	/* another user's event with the owner's session: the key is the owner's */
	ev = encrypted_event(f, "event0", "$one");
	char *forged = pb_strdup(ev);
	memcpy(strstr(forged, "@owner:"), "@eve00:", 7);
	assert_pb_error(pb_matrix_crypto_decrypt(c, room, forged, &plain), PB_EPROTO);
	assert_non_null(strstr(pb_error_last()->message, "uses a room key that @owner:example.org sent"));
	pb_free(forged);
	pb_free(ev);
	ev = encrypted_event(f, "event1_other_room", "$three");
	/* a room with no key for that session */
	assert_pb_error(pb_matrix_crypto_decrypt(c, "!elsewhere:example.org", ev, &plain), PB_ENOTFOUND);
	pb_free(ev);
	assert_pb_error(pb_matrix_crypto_decrypt(c, room, "[1]", &plain), PB_EMALFORMED);

	/* a room's encryption is saved and found again by the next object */
	assert_int_equal(pb_matrix_crypto_room_encrypted(c, room), 0);
	assert_pb_ok(pb_matrix_crypto_set_room(c, room, "{\"algorithm\":\"m.megolm.v1.aes-sha2\",\"rotation_period_msgs\":5}"));
	assert_pb_error(pb_matrix_crypto_set_room(c, room, "not json"), PB_EINVAL);
	assert_int_equal(pb_matrix_crypto_room_encrypted(c, room), 1);
	pb_matrix_crypto_free(c);
	assert_pb_ok(pb_matrix_crypto_new(&c, m, &o));
	assert_int_equal(pb_matrix_crypto_room_encrypted(c, room), 1);
	pb_matrix_crypto_free(c);

	pb_matrix_free(m);
	json_decref(s.kv);
	json_decref(f);
}

static void test_matrix__e2ee_refuses_wrong_key_and_device(void **state)
{
	(void)state;
	json_t *f = fixed();
	mem_store s = { 0 };
	preload(&s, f);
	pb_matrix *m = offline(f);
	pb_matrix_crypto_options o = PB_MATRIX_CRYPTO_OPTIONS_INIT;
	o.storage = (pb_matrix_crypto_storage){ mem_load, mem_save, &s };
	pb_matrix_crypto *c = NULL;
	o.pickle_key = "another key, 16 bytes or more";
	assert_pb_error(pb_matrix_crypto_new(&c, m, &o), PB_EMALFORMED);
	assert_non_null(strstr(pb_error_last()->message, "wrong pickle key"));
	assert_null(c);
	o.pickle_key = "short";
	assert_pb_error(pb_matrix_crypto_new(&c, m, &o), PB_EINVAL);
	o.pickle_key = NULL;
	assert_pb_error(pb_matrix_crypto_new(&c, m, &o), PB_EINVAL);
	o.pickle_key = fs(f, "pickle_key");
	o.storage.save = NULL;
	assert_pb_error(pb_matrix_crypto_new(&c, m, &o), PB_EINVAL);
	o.storage.save = mem_save;
	/* the stored account is another device's: never used for this one */
	assert_pb_ok(pb_matrix__set_string(&m->device_id, "NEWDEVICE"));
	assert_pb_error(pb_matrix_crypto_new(&c, m, &o), PB_ESTATE);
	assert_non_null(strstr(pb_error_last()->message, "BOTDEVICE"));
	/* no ids at all */
	assert_pb_ok(pb_matrix__set_string(&m->device_id, NULL));
	assert_pb_error(pb_matrix_crypto_new(&c, m, &o), PB_ESTATE);
	/* the pickle key from a file: its mode is checked */
	char path[] = "/tmp/pb-e2ee-key-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789abcdef0123456789abcdef\n", 33), 33);
	close(fd);
	chmod(path, 0644);
	o.pickle_key = NULL;
	o.pickle_key_file = path;
	assert_pb_ok(pb_matrix__set_string(&m->device_id, fs(f, "device_id")));
	assert_pb_error(pb_matrix_crypto_new(&c, m, &o), PB_EAUTH);
	chmod(path, 0600);
	assert_pb_ok(pb_matrix_crypto_new(&c, m, &o));
	pb_matrix_crypto_free(c);
	unlink(path);
	pb_matrix_free(m);
	json_decref(s.kv);
	json_decref(f);
}

/* A new account is saved before its keys could leave: the server is away
 * here, so pb_matrix_crypto_new fails, but the account it made is stored
 * and the next attempt uses the same one (same identity). */
static void test_matrix__e2ee_new_account_saved_first(void **state)
{
	(void)state;
	json_t *f = fixed();
	mem_store s = { json_object(), 0 };
	pb_matrix *m = offline(f);
	pb_matrix_crypto_options o = PB_MATRIX_CRYPTO_OPTIONS_INIT;
	o.pickle_key = fs(f, "pickle_key");
	o.storage = (pb_matrix_crypto_storage){ mem_load, mem_save, &s };
	pb_matrix_crypto *c = NULL;
	assert_int_not_equal(pb_matrix_crypto_new(&c, m, &o), 0);
	assert_null(c);
	const char *stored = json_string_value(json_object_get(s.kv, "e2ee/account"));
	assert_non_null(stored);
	json_t *a = json_loads(stored, 0, NULL);
	assert_false(json_is_true(json_object_get(a, "uploaded")));
	char *first = pb_strdup(json_string_value(json_object_get(a, "pickle")));
	json_decref(a);
	assert_int_not_equal(pb_matrix_crypto_new(&c, m, &o), 0);
	a = json_loads(json_string_value(json_object_get(s.kv, "e2ee/account")), 0, NULL);
	/* the same account: not a second identity for the same device */
	assert_string_equal(json_string_value(json_object_get(a, "pickle")), first);
	json_decref(a);
	pb_free(first);
	pb_matrix_free(m);
	json_decref(s.kv);
	json_decref(f);
}

/* --- encrypted attachments, against the homeserver emulator ------------------------ */

static test_hs hs;

static void stop_hs(void)
{
	test_hs_stop(&hs);
}

static void test_matrix__e2ee_attachment_round_trip(void **state)
{
	(void)state;
	if (test_hs_start(&hs) != 0)
		fail_msg("cannot start tests/matrix-homeserver.py");
	atexit(stop_hs);
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = hs.url;
	pb_matrix *m;
	assert_pb_ok(pb_matrix_new(&m, &o));
	assert_pb_ok(pb_matrix_login_password(m, "alice", "wonderland", NULL));
	static const char blob[] = "a picture, or so \x00\x01\x02 it says";
	char *fj = NULL;
	assert_pb_ok(pb_matrix_upload_encrypted(m, blob, sizeof(blob), &fj));
	json_t *f = json_loads(fj, 0, NULL);
	assert_non_null(f);
	assert_string_equal(json_string_value(json_object_get(f, "v")), "v2");
	assert_string_equal(json_string_value(json_object_get(json_object_get(f, "key"), "alg")), "A256CTR");
	/* the IV's counter half starts at zero (spec): 8 random bytes, 8 zero */
	pb_buf iv = PB_BUF_INIT;
	const char *ivs = json_string_value(json_object_get(f, "iv"));
	assert_pb_ok(pb_base64_decode(&iv, ivs, strlen(ivs), 0, NULL));
	assert_int_equal(iv.len, 16);
	static const uint8_t zero[8];
	assert_memory_equal(iv.data + 8, zero, 8);
	pb_buf_dispose(&iv);

	/* the homeserver holds ciphertext only */
	pb_buf raw = PB_BUF_INIT, out = PB_BUF_INIT;
	assert_pb_ok(pb_matrix_download(m, json_string_value(json_object_get(f, "url")), &raw, NULL, 0));
	assert_int_equal(raw.len, sizeof(blob));
	assert_true(memcmp(raw.data, blob, sizeof(blob)) != 0);
	assert_pb_ok(pb_matrix_download_encrypted(m, fj, &out, 0));
	assert_int_equal(out.len, sizeof(blob));
	assert_memory_equal(out.data, blob, sizeof(blob));

	/* a file whose hash does not match is not decrypted */
	json_t *bad = json_deep_copy(f);
	json_object_set_new(json_object_get(bad, "hashes"), "sha256",
			    json_string("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"));
	char *bj = json_dumps(bad, JSON_COMPACT);
	pb_buf_clear(&out);
	assert_pb_error(pb_matrix_download_encrypted(m, bj, &out, 0), PB_EPROTO);
	assert_non_null(strstr(pb_error_last()->message, "SHA-256 does not match"));
	assert_int_equal(out.len, 0);
	free(bj);
	/* a key that is not 32 bytes */
	json_object_set_new(json_object_get(bad, "key"), "k", json_string("c2hvcnQ"));
	bj = json_dumps(bad, JSON_COMPACT);
	assert_pb_error(pb_matrix_download_encrypted(m, bj, &out, 0), PB_EMALFORMED);
	free(bj);
	json_decref(bad);
	assert_pb_error(pb_matrix_download_encrypted(m, "{\"url\":\"mxc://x/y\"}", &out, 0), PB_EMALFORMED);
	assert_pb_error(pb_matrix_download_encrypted(m, "not json", &out, 0), PB_EMALFORMED);

	/* sent as a media message: "file" instead of "url" */
	char *room = NULL, *eid = NULL;
	assert_pb_ok(pb_matrix_create_dm(m, "@bob:localhost", "Bob", &room));
	pb_matrix_media md = { .body = "pic.png", .mimetype = "image/png", .size = sizeof(blob), .file_json = fj };
	assert_pb_ok(pb_matrix_send_media(m, room, "txn-enc-1", &md, &eid));
	assert_non_null(eid);
	pb_buf st = PB_BUF_INIT;
	assert_int_equal(test_hs_call(&hs, "GET", "/_test/stats", NULL, &st), 200);
	json_t *stats = json_loadb((const char *)st.data, st.len, 0, NULL);
	json_t *evs = json_object_get(json_object_get(stats, "events"), room), *sent = NULL;
	size_t i;
	json_t *e;
	json_array_foreach(evs, i, e) {
		const char *id = json_string_value(json_object_get(e, "event_id"));
		if (id && !strcmp(id, eid))
			sent = json_object_get(e, "content");
	}
	assert_non_null(sent);
	assert_non_null(json_object_get(sent, "file"));
	assert_null(json_object_get(sent, "url"));
	json_decref(stats);
	pb_buf_dispose(&st);
	md.file_json = "{\"v\":\"v2\"}";
	assert_pb_error(pb_matrix_send_media(m, room, "txn-enc-2", &md, NULL), PB_EINVAL);
	pb_free(eid);
	pb_free(room);
	pb_buf_dispose(&raw);
	pb_buf_dispose(&out);
	json_decref(f);
	explicit_bzero(fj, strlen(fj));
	pb_free(fj);
	pb_matrix_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix__e2ee_rotation_rules),
		cmocka_unit_test(test_matrix__e2ee_canonical_json),
		cmocka_unit_test(test_matrix__e2ee_fixed_pickles_decrypt),
		cmocka_unit_test(test_matrix__e2ee_refuses_wrong_key_and_device),
		cmocka_unit_test(test_matrix__e2ee_new_account_saved_first),
		cmocka_unit_test(test_matrix__e2ee_attachment_round_trip),
	};
	return pb_test_run("matrix-crypto", tests);
}
