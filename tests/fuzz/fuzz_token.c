/*
 * Entity/alias tokens with a fixed key.  The first byte picks the input:
 * even, the rest is a token as a client sends it (this also drives the
 * Base64 decoder); odd, the rest is a plaintext the target seals with the
 * key, so the claims parser behind the tag check sees hostile JSON too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/crypto.h"

#define FUZZ_NONCE_LEN 12
#define FUZZ_TAG_LEN 16
#define FUZZ_PLAIN_MAX 300

static uint8_t fuzz_key[32];

static void
check_claims(const struct token_claims *c)
{
	uint8_t nonce[FUZZ_NONCE_LEN] = { 7 };
	struct token_claims again;
	char *tok;

	if (strnlen(c->ds, sizeof(c->ds)) != CRYPTO_UUID_LEN ||
	    strnlen(c->k, sizeof(c->k)) != CRYPTO_UUID_LEN)
		abort();
	/* what was accepted must survive a fresh token of its own */
	tok = crypto_token_encrypt(fuzz_key, c, nonce);
	if (tok == NULL ||
	    crypto_token_decrypt(fuzz_key, tok, strlen(tok), &again) != 0 ||
	    strcmp(again.ds, c->ds) != 0 || strcmp(again.k, c->k) != 0 ||
	    again.is_alias != c->is_alias)
		abort();
	free(tok);
}

static void
fuzz_b64(const char *in, size_t len)
{
	size_t cap = 3 * len / 4, outlen = 0, n, len2 = 0;
	uint8_t *out = malloc(cap ? cap : 1), *out2;
	char *again;

	if (out == NULL)
		abort();
	if (crypto_b64_decode(in, len, out, &outlen) != 0) {
		free(out);
		return;
	}
	if (outlen > cap)
		abort();
	/* what decodes encodes again, and that decodes to the same bytes */
	again = malloc(4 * ((outlen + 2) / 3) + 1);
	out2 = malloc(outlen + 1);
	if (again == NULL || out2 == NULL)
		abort();
	n = crypto_b64_encode(out, outlen, again);
	if (n != 4 * ((outlen + 2) / 3) ||
	    crypto_b64_decode(again, n, out2, &len2) != 0 || len2 != outlen ||
	    memcmp(out, out2, outlen) != 0)
		abort();
	free(again);
	free(out2);
	free(out);
}

static void
fuzz_raw_token(const char *tok, size_t len)
{
	struct token_claims c;

	if (crypto_token_decrypt(fuzz_key, tok, len, &c) == 0)
		check_claims(&c);
	fuzz_b64(tok, len);
}

/* the token layout: "insi_" Base64(nonce | ciphertext | tag) */
static void
fuzz_sealed_plain(const uint8_t *plain, size_t len)
{
	uint8_t raw[FUZZ_NONCE_LEN + FUZZ_PLAIN_MAX + FUZZ_TAG_LEN] = { 1, 2,
		3 };
	char tok[5 + 4 * (sizeof(raw) + 2) / 3 + 1] = "insi_";
	struct token_claims c;
	EVP_CIPHER_CTX *ctx;
	int n, fin;
	size_t toklen;

	if (len > FUZZ_PLAIN_MAX || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		return;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(
		ctx, EVP_CTRL_GCM_SET_IVLEN, FUZZ_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, fuzz_key, raw) != 1 ||
	    EVP_EncryptUpdate(ctx, raw + FUZZ_NONCE_LEN, &n, plain, (int)len) !=
		1 ||
	    EVP_EncryptFinal_ex(ctx, raw + FUZZ_NONCE_LEN + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, FUZZ_TAG_LEN,
		raw + FUZZ_NONCE_LEN + len) != 1)
		abort();
	EVP_CIPHER_CTX_free(ctx);
	toklen = 5 +
	    crypto_b64_encode(
		raw, FUZZ_NONCE_LEN + len + FUZZ_TAG_LEN, tok + 5);
	if (crypto_token_decrypt(fuzz_key, tok, toklen, &c) == 0)
		check_claims(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int have_key;
	char *buf;

	if (!have_key) {
		crypto_token_key("fuzz-secret", fuzz_key);
		have_key = 1;
	}
	if (size < 1)
		return 0;
	/* exact-length copy: the decoders take a length, not a string */
	buf = malloc(size > 1 ? size - 1 : 1);
	if (buf == NULL)
		abort();
	if (size > 1)
		memcpy(buf, data + 1, size - 1);
	if (data[0] % 2 == 0)
		fuzz_raw_token(buf, size - 1);
	else
		fuzz_sealed_plain((const uint8_t *)buf, size - 1);
	free(buf);
	return 0;
}
