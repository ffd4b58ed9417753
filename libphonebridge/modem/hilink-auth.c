/*
 * libphonebridge — HiLink login computations (OpenSSL libcrypto).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Password type 4 and the SCRAM exchange of newer firmware, as
 * shared/design/protocol-notes.md describes them; both are checked against
 * published vectors in tests/test-modem.c.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "modem-internal.h"

static void to_hex(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void sha256_hex(char out[65], const void *data, size_t len)
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	SHA256(data, len, md);
	to_hex(out, md, sizeof(md));
}

int pb_modem__hilink_type4(pb_buf *out, const char *user, const char *password, const char *token)
{
	char h[65];
	pb_buf s = PB_BUF_INIT;
	int rc;
	sha256_hex(h, password, strlen(password));
	/* the hex digest strings are hashed and encoded, not the raw digests */
	if ((rc = pb_buf_puts(&s, user)) < 0 || (rc = pb_base64_encode(&s, h, 64, 0)) < 0 ||
	    (rc = pb_buf_puts(&s, token)) < 0)
		goto out;
	sha256_hex(h, s.data, s.len);
	rc = pb_base64_encode(out, h, 64, 0);
out:
	OPENSSL_cleanse(h, sizeof(h));
	if (s.data)
		OPENSSL_cleanse(s.data, s.len);
	pb_buf_dispose(&s);
	return rc;
}

int pb_modem__hilink_scram_proof(pb_buf *out, const char *password, const char *salt_hex, unsigned iterations,
				 const char *firstnonce, const char *finalnonce)
{
	pb_buf salt = PB_BUF_INIT, auth = PB_BUF_INIT;
	uint8_t salted[32], client_key[32], stored_key[32], sig[32];
	unsigned int sl = 0;
	int rc = pb_hex_decode(&salt, salt_hex, strlen(salt_hex), NULL);
	if (rc < 0)
		goto out;
	if (iterations == 0 || iterations > 1000000) {
		rc = pb_error_set(PB_EPROTO, "SCRAM: iteration count %u refused", iterations);
		goto out;
	}
	if ((rc = pb_buf_printf(&auth, "%s,%s,%s", firstnonce, finalnonce, finalnonce)) < 0)
		goto out;
	if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt.data ? salt.data : (const uint8_t *)"",
			       (int)salt.len, (int)iterations, EVP_sha256(), 32, salted) ||
	    !HMAC(EVP_sha256(), "Client Key", 10, salted, 32, client_key, &sl) ||
	    !SHA256(client_key, 32, stored_key) ||
	    !HMAC(EVP_sha256(), auth.data, (int)auth.len, stored_key, 32, sig, &sl)) {
		rc = pb_error_set(PB_ERROR, "SCRAM: libcrypto failed");
		goto out;
	}
	for (size_t i = 0; i < 32; i++)
		sig[i] ^= client_key[i];
	char hex[65];
	to_hex(hex, sig, 32);
	rc = pb_buf_puts(out, hex);
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	pb_buf_dispose(&salt);
	pb_buf_dispose(&auth);
	return rc;
}

int pb_modem__random_hex(char out[65])
{
	uint8_t r[32];
	int rc = pb_random_bytes(r, sizeof(r));
	if (rc < 0)
		return rc;
	to_hex(out, r, sizeof(r));
	return 0;
}
