/*
 * Root key and token crypto of API.md §3.2-3.3, on OpenSSL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/crypto.h"

#define TOKEN_PREFIX "insi_"
#define TOKEN_NONCE_LEN 12
#define TOKEN_TAG_LEN 16
/* the plaintext is a small JSON object: two UUIDs and a flag */
#define TOKEN_PLAIN_MAX 256

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
crypto_b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = b64_alphabet[v >> 6 & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static int
b64_value(char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(b64_alphabet, c)) == NULL)
		return -1;
	return (int)(p - b64_alphabet);
}

int
crypto_b64_decode(const char *in, size_t n, uint8_t *out, size_t *outlen)
{
	size_t i, o = 0;

	/* padding is required, so the length is a multiple of 4 */
	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		int v[4], pad = 0;

		for (int j = 0; j < 4; j++) {
			if (in[i + j] == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (v[j] = b64_value(in[i + j])) < 0)
				return -1;
		}
		uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		out[o++] = x >> 16;
		if (pad < 2)
			out[o++] = x >> 8 & 0xff;
		if (pad < 1)
			out[o++] = x & 0xff;
	}
	*outlen = o;
	return 0;
}

void
crypto_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hexd[] = "0123456789abcdef";
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = hexd[md[i] >> 4];
		out[2 * i + 1] = hexd[md[i] & 15];
	}
	out[64] = '\0';
}

void
crypto_root_key(const char *secret, char out[CRYPTO_ROOT_KEY_LEN + 1])
{
	char hex[65];

	crypto_sha256_hex(secret, strlen(secret), hex);
	crypto_b64_encode((const uint8_t *)hex, 64, out);
}

void
crypto_token_key(const char *secret, uint8_t key[32])
{
	SHA256((const uint8_t *)secret, strlen(secret), key);
}

bool
crypto_str_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return false;
	return CRYPTO_memcmp(a, b, la) == 0;
}

int
crypto_uuid4(char out[CRYPTO_UUID_LEN + 1])
{
	uint8_t b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, CRYPTO_UUID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	    b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

static int
aes_gcm(int enc, const uint8_t key[32], const uint8_t *nonce, const uint8_t *in,
    size_t inlen, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx;
	int len, ok = 0;

	if (inlen > TOKEN_PLAIN_MAX || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) !=
		1 ||
	    EVP_CIPHER_CTX_ctrl(
		ctx, EVP_CTRL_GCM_SET_IVLEN, TOKEN_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, out, &len, in, (int)inlen) != 1)
		goto done;
	if (!enc &&
	    EVP_CIPHER_CTX_ctrl(
		ctx, EVP_CTRL_GCM_SET_TAG, TOKEN_TAG_LEN, tag) != 1)
		goto done;
	if (EVP_CipherFinal_ex(ctx, out + len, &len) != 1)
		goto done;
	if (enc &&
	    EVP_CIPHER_CTX_ctrl(
		ctx, EVP_CTRL_GCM_GET_TAG, TOKEN_TAG_LEN, tag) != 1)
		goto done;
	ok = 1;
done:
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

char *
crypto_token_encrypt(const uint8_t key[32], const struct token_claims *c,
    const uint8_t *nonce_in)
{
	uint8_t raw[TOKEN_NONCE_LEN + TOKEN_PLAIN_MAX + TOKEN_TAG_LEN];
	char plain[TOKEN_PLAIN_MAX];
	uint8_t *nonce = raw, *ct = raw + TOKEN_NONCE_LEN;
	size_t plen, rawlen;
	char *tok;
	int n;

	/* members in this exact order (API.md §3.3) */
	n = snprintf(plain, sizeof(plain),
	    c->is_alias ? "{\"ds\":\"%s\",\"k\":\"%s\",\"is_alias\":true}"
			: "{\"ds\":\"%s\",\"k\":\"%s\"}",
	    c->ds, c->k);
	if (n < 0 || (size_t)n >= sizeof(plain))
		return NULL;
	plen = (size_t)n;
	if (nonce_in != NULL)
		memcpy(nonce, nonce_in, TOKEN_NONCE_LEN);
	else if (RAND_bytes(nonce, TOKEN_NONCE_LEN) != 1)
		return NULL;
	if (aes_gcm(1, key, nonce, (const uint8_t *)plain, plen, ct,
		ct + plen) == -1)
		return NULL;
	rawlen = TOKEN_NONCE_LEN + plen + TOKEN_TAG_LEN;
	if ((tok = malloc(strlen(TOKEN_PREFIX) + 4 * (rawlen / 3 + 1) + 1)) ==
	    NULL)
		return NULL;
	strcpy(tok, TOKEN_PREFIX);
	crypto_b64_encode(raw, rawlen, tok + strlen(TOKEN_PREFIX));
	return tok;
}

static int
claims_from_json(const char *plain, size_t len, struct token_claims *out)
{
	struct json_tokener *tk;
	struct json_object *o, *ds, *k, *alias;
	int rv = -1;

	if ((tk = json_tokener_new()) == NULL)
		return -1;
	o = json_tokener_parse_ex(tk, plain, (int)len);
	if (o == NULL || json_tokener_get_error(tk) != json_tokener_success ||
	    tk->char_offset != (int)len ||
	    !json_object_is_type(o, json_type_object))
		goto done;
	if (!json_object_object_get_ex(o, "ds", &ds) ||
	    !json_object_object_get_ex(o, "k", &k) ||
	    !json_object_is_type(ds, json_type_string) ||
	    !json_object_is_type(k, json_type_string) ||
	    json_object_get_string_len(ds) != CRYPTO_UUID_LEN ||
	    json_object_get_string_len(k) != CRYPTO_UUID_LEN)
		goto done;
	memcpy(out->ds, json_object_get_string(ds), CRYPTO_UUID_LEN + 1);
	memcpy(out->k, json_object_get_string(k), CRYPTO_UUID_LEN + 1);
	out->is_alias = false;
	if (json_object_object_get_ex(o, "is_alias", &alias)) {
		if (!json_object_is_type(alias, json_type_boolean))
			goto done;
		out->is_alias = json_object_get_boolean(alias);
	}
	rv = 0;
done:
	json_object_put(o);
	json_tokener_free(tk);
	return rv;
}

int
crypto_token_decrypt(const uint8_t key[32], const char *token, size_t len,
    struct token_claims *out)
{
	uint8_t raw[TOKEN_NONCE_LEN + TOKEN_PLAIN_MAX + TOKEN_TAG_LEN + 3];
	uint8_t plain[TOKEN_PLAIN_MAX];
	size_t rawlen, plen, plen_prefix = strlen(TOKEN_PREFIX);

	if (len >= plen_prefix &&
	    memcmp(token, TOKEN_PREFIX, plen_prefix) == 0) {
		token += plen_prefix;
		len -= plen_prefix;
	}
	if (len > 4 * (sizeof(raw) / 3) ||
	    crypto_b64_decode(token, len, raw, &rawlen) == -1)
		return -1;
	if (rawlen < TOKEN_NONCE_LEN + TOKEN_TAG_LEN + 2)
		return -1;
	plen = rawlen - TOKEN_NONCE_LEN - TOKEN_TAG_LEN;
	if (plen > TOKEN_PLAIN_MAX)
		return -1;
	if (aes_gcm(0, key, raw, raw + TOKEN_NONCE_LEN, plen, plain,
		raw + TOKEN_NONCE_LEN + plen) == -1)
		return -1;
	return claims_from_json((const char *)plain, plen, out);
}
