/*
 * libphonebridge — matrix: encrypted attachments (client-server spec,
 * "Sending encrypted attachments"): AES-256-CTR with a JWK key, the SHA-256
 * of the ciphertext checked before anything is decrypted (OpenSSL).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "matrix/matrix-private.h"

#include <limits.h>
#include <string.h>

#include <openssl/evp.h>

#include <phonebridge/encoding.h>
#include <phonebridge/matrix-crypto.h>

static int b64(pb_buf *out, const char *s, int flags, size_t want, const char *what)
{
	if (s == NULL || pb_base64_decode(out, s, strlen(s), flags, NULL) < 0 || (want && out->len != want))
		return pb_error_set(PB_EMALFORMED, "matrix: encrypted file: bad %s", what);
	return 0;
}

int pb_matrix_download_encrypted(pb_matrix *m, const char *file_json, pb_buf *out, size_t max_bytes)
{
	json_t *f = file_json ? json_loads(file_json, 0, NULL) : NULL;
	pb_buf key = PB_BUF_INIT, iv = PB_BUF_INIT, hash = PB_BUF_INIT, data = PB_BUF_INIT;
	EVP_CIPHER_CTX *ctx = NULL;
	int rc = 0;
	const char *url = json_string_value(json_object_get(f, "url"));
	const json_t *jwk = json_object_get(f, "key");
	const char *alg = json_string_value(json_object_get(jwk, "alg"));
	if (!json_is_object(f) || url == NULL || alg == NULL || strcmp(alg, "A256CTR") != 0) {
		rc = pb_error_set(PB_EMALFORMED, "matrix: encrypted file: no url or no A256CTR key");
		goto out;
	}
	if ((rc = b64(&key, json_string_value(json_object_get(jwk, "k")), PB_BASE64_URL, 32, "key")) < 0 ||
	    (rc = b64(&iv, json_string_value(json_object_get(f, "iv")), 0, 16, "iv")) < 0 ||
	    (rc = b64(&hash, json_string_value(json_object_get(json_object_get(f, "hashes"), "sha256")), 0, 32,
		      "hashes.sha256")) < 0)
		goto out;
	if ((rc = pb_matrix_download(m, url, &data, NULL, max_bytes)) < 0)
		goto out;
	if (data.len > INT_MAX - 16) {
		rc = pb_error_set(PB_ETOOBIG, "matrix: encrypted file %s: too big", url);
		goto out;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (EVP_Digest(data.data, data.len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32 ||
	    memcmp(md, hash.data, 32) != 0) {
		rc = pb_error_set(PB_EPROTO, "matrix: encrypted file %s: SHA-256 does not match", url);
		goto out;
	}
	size_t base = out->len;
	if ((rc = pb_buf_reserve(out, data.len + 16)) < 0)
		goto out;
	int n1 = 0, n2 = 0;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key.data, iv.data) != 1 ||
	    EVP_DecryptUpdate(ctx, out->data + base, &n1, data.data, (int)data.len) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out->data + base + n1, &n2) != 1) {
		rc = pb_error_set(PB_EPROTO, "matrix: encrypted file %s: cannot decrypt", url);
		goto out;
	}
	out->len = base + (size_t)n1 + (size_t)n2;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (key.data)
		explicit_bzero(key.data, key.len);
	pb_buf_dispose(&key);
	pb_buf_dispose(&iv);
	pb_buf_dispose(&hash);
	pb_buf_dispose(&data);
	json_decref(f);
	return rc;
}

int pb_matrix_upload_encrypted(pb_matrix *m, const void *data, size_t len, char **file_json)
{
	*file_json = NULL;
	if (len > INT_MAX - 16)
		return pb_error_set(PB_ETOOBIG, "matrix: encrypted upload: too big");
	uint8_t key[32], iv[16];
	/* spec: the counter's low 64 bits start at zero, the high 64 are random */
	memset(iv, 0, sizeof(iv));
	int rrc = pb_random_bytes(key, sizeof(key));
	if (rrc < 0 || (rrc = pb_random_bytes(iv, 8)) < 0)
		return rrc;
	pb_buf ct = PB_BUF_INIT, k = PB_BUF_INIT, ivb = PB_BUF_INIT, hb = PB_BUF_INIT;
	EVP_CIPHER_CTX *ctx = NULL;
	json_t *f = NULL;
	char *mxc = NULL;
	int n1 = 0, n2 = 0, rc = pb_buf_reserve(&ct, len + 16);
	if (rc < 0)
		goto out;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key, iv) != 1 ||
	    EVP_EncryptUpdate(ctx, ct.data, &n1, data, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, ct.data + n1, &n2) != 1) {
		rc = pb_error_set(PB_EPROTO, "matrix: encrypted upload: cannot encrypt");
		goto out;
	}
	ct.len = (size_t)n1 + (size_t)n2;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (EVP_Digest(ct.data, ct.len, md, &mdlen, EVP_sha256(), NULL) != 1) {
		rc = pb_error_set(PB_EPROTO, "matrix: encrypted upload: no SHA-256");
		goto out;
	}
	if ((rc = pb_base64_encode(&k, key, sizeof(key), PB_BASE64_URL | PB_BASE64_NOPAD)) < 0 ||
	    (rc = pb_base64_encode(&ivb, iv, sizeof(iv), PB_BASE64_NOPAD)) < 0 ||
	    (rc = pb_base64_encode(&hb, md, mdlen, PB_BASE64_NOPAD)) < 0 ||
	    (rc = pb_matrix_upload(m, ct.data, ct.len, "application/octet-stream", NULL, &mxc)) < 0)
		goto out;
	f = json_pack("{s:s, s:s, s:{s:s, s:[s,s], s:s, s:s, s:b}, s:s, s:{s:s}}", "v", "v2", "url", mxc, "key",
		      "kty", "oct", "key_ops", "encrypt", "decrypt", "alg", "A256CTR", "k", pb_buf_cstr(&k), "ext", 1,
		      "iv", pb_buf_cstr(&ivb), "hashes", "sha256", pb_buf_cstr(&hb));
	char *s = f ? json_dumps(f, JSON_COMPACT) : NULL;
	if (s) {
		*file_json = pb_strdup(s);
		explicit_bzero(s, strlen(s));
		free(s);
	}
	rc = *file_json ? 0 : pb_error__oom();
out:
	EVP_CIPHER_CTX_free(ctx);
	explicit_bzero(key, sizeof(key));
	if (k.data)
		explicit_bzero(k.data, k.len);
	json_decref(f);
	pb_free(mxc);
	pb_buf_dispose(&ct);
	pb_buf_dispose(&k);
	pb_buf_dispose(&ivb);
	pb_buf_dispose(&hb);
	return rc;
}
