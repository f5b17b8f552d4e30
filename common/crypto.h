/*
 * Root key derivation and entity/alias token encryption (API.md §3.2-3.3).
 */
#ifndef COMMON_CRYPTO_H
#define COMMON_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 88 characters + NUL */
#define CRYPTO_ROOT_KEY_LEN 88
#define CRYPTO_UUID_LEN 36

struct token_claims {
	char ds[CRYPTO_UUID_LEN + 1];
	char k[CRYPTO_UUID_LEN + 1];
	bool is_alias;
};

/* Base64(lowercase_hex(SHA-256(secret))) */
void crypto_root_key(const char *secret, char out[CRYPTO_ROOT_KEY_LEN + 1]);
/* SHA-256(secret) as 32 raw bytes: the token key */
void crypto_token_key(const char *secret, uint8_t key[32]);
/* constant-time comparison of two NUL-terminated strings */
bool crypto_str_equal(const char *a, const char *b);

/*
 * Makes a token for the claims with the given 12-byte nonce (random when
 * NULL).  Returns a malloc'd string, NULL on failure.
 */
char *crypto_token_encrypt(
    const uint8_t key[32], const struct token_claims *, const uint8_t *nonce);
/* 0 and *out filled when the token decrypts and parses; -1 otherwise */
int crypto_token_decrypt(const uint8_t key[32], const char *token, size_t len,
    struct token_claims *out);

/* random version-4 UUID, lowercase, hyphenated */
int crypto_uuid4(char out[CRYPTO_UUID_LEN + 1]);
/* lowercase hex SHA-256 of data */
void crypto_sha256_hex(const void *data, size_t len, char out[65]);
/* standard Base64 with padding; returns length written (out >= 4*ceil(n/3)+1) */
size_t crypto_b64_encode(const uint8_t *in, size_t n, char *out);
/* -1 on bad alphabet or padding; *outlen bytes written (out >= 3*n/4) */
int crypto_b64_decode(const char *in, size_t n, uint8_t *out, size_t *outlen);

#endif
