/*
 * Root key and token crypto against the test vector of API.md §3.3.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

#define VEC_SECRET "insidb-example-secret"
#define VEC_ROOT \
	"OTFkMGVjYThhMDVmOWU4ODU4NzRhOWE2ODZlOWEwZDFkYTMyMjcxNjM4ZGU3NDMyM2Fj" \
	"Y2E5ZmY3M2NhYWI5Yw=="
#define VEC_DS "1b4e28ba-2fa1-4d2b-883f-0016d3cca427"
#define VEC_K "6fa459ea-ee8a-4ca4-894e-db77e160355e"
#define VEC_TOKEN \
	"insi_AAECAwQFBgcICQoLd/" \
	"MoMF8VRPWCJKpwwaQbKjcGrouAyStb2kQ7sliIiU9f+2kq" \
	"BDYun7aHeatIUMa6TkCYiSqFFoX4fduq+utrMngeXPgKm+dJakV+mfDTboLtLxxuCXrs" \
	"xLLmTqZNV6s8yE7Qjx2rN6g="

static const uint8_t vec_nonce[12] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

START_TEST(root_key_vector)
{
	char root[CRYPTO_ROOT_KEY_LEN + 1];

	crypto_root_key(VEC_SECRET, root);
	ck_assert_str_eq(root, VEC_ROOT);
	ck_assert_uint_eq(strlen(root), 88);
}
END_TEST

START_TEST(token_vector_encrypt)
{
	struct token_claims c = { VEC_DS, VEC_K, false };
	uint8_t key[32];
	char *tok;

	crypto_token_key(VEC_SECRET, key);
	tok = crypto_token_encrypt(key, &c, vec_nonce);
	ck_assert_ptr_nonnull(tok);
	ck_assert_str_eq(tok, VEC_TOKEN);
	free(tok);
}
END_TEST

START_TEST(token_vector_decrypt)
{
	struct token_claims c;
	uint8_t key[32];

	crypto_token_key(VEC_SECRET, key);
	ck_assert_int_eq(
	    crypto_token_decrypt(key, VEC_TOKEN, strlen(VEC_TOKEN), &c), 0);
	ck_assert_str_eq(c.ds, VEC_DS);
	ck_assert_str_eq(c.k, VEC_K);
	ck_assert(!c.is_alias);
	/* the prefix is optional when reading */
	ck_assert_int_eq(
	    crypto_token_decrypt(key, VEC_TOKEN + 5, strlen(VEC_TOKEN) - 5, &c),
	    0);
}
END_TEST

START_TEST(alias_roundtrip_random_nonce)
{
	struct token_claims c = { VEC_DS, VEC_K, true }, out;
	uint8_t key[32];
	char *a, *b;

	crypto_token_key(VEC_SECRET, key);
	a = crypto_token_encrypt(key, &c, NULL);
	b = crypto_token_encrypt(key, &c, NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(crypto_token_decrypt(key, a, strlen(a), &out), 0);
	ck_assert(out.is_alias);
	ck_assert_str_eq(out.k, VEC_K);
	free(a);
	free(b);
}
END_TEST

START_TEST(tampered_and_malformed_tokens)
{
	struct token_claims c;
	uint8_t key[32], other[32];
	char tok[] = VEC_TOKEN;

	crypto_token_key(VEC_SECRET, key);
	crypto_token_key("another-secret-value", other);
	/* another secret */
	ck_assert_int_eq(crypto_token_decrypt(other, tok, strlen(tok), &c), -1);
	/* one flipped character in the ciphertext */
	tok[30] = tok[30] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(crypto_token_decrypt(key, tok, strlen(tok), &c), -1);
	/* missing padding, bad alphabet, too short, empty */
	ck_assert_int_eq(
	    crypto_token_decrypt(key, VEC_TOKEN, strlen(VEC_TOKEN) - 1, &c),
	    -1);
	ck_assert_int_eq(crypto_token_decrypt(key, "insi_!!!!", 9, &c), -1);
	ck_assert_int_eq(crypto_token_decrypt(key, "insi_AAAA", 9, &c), -1);
	ck_assert_int_eq(crypto_token_decrypt(key, "", 0, &c), -1);
	ck_assert_int_eq(
	    crypto_token_decrypt(key, VEC_ROOT, strlen(VEC_ROOT), &c), -1);
}
END_TEST

START_TEST(base64_edges)
{
	uint8_t out[8];
	size_t n;
	char enc[16];

	ck_assert_uint_eq(crypto_b64_encode((const uint8_t *)"f", 1, enc), 4);
	ck_assert_str_eq(enc, "Zg==");
	crypto_b64_encode((const uint8_t *)"fo", 2, enc);
	ck_assert_str_eq(enc, "Zm8=");
	crypto_b64_encode((const uint8_t *)"foo", 3, enc);
	ck_assert_str_eq(enc, "Zm9v");
	ck_assert_int_eq(crypto_b64_decode("Zm8=", 4, out, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(memcmp(out, "fo", 2), 0);
	/* padding only at the end, required */
	ck_assert_int_eq(crypto_b64_decode("Zg==Zg==", 8, out, &n), -1);
	ck_assert_int_eq(crypto_b64_decode("Zm8", 3, out, &n), -1);
	ck_assert_int_eq(crypto_b64_decode("Z===", 4, out, &n), -1);
}
END_TEST

START_TEST(uuid_shape)
{
	char u[CRYPTO_UUID_LEN + 1];

	ck_assert_int_eq(crypto_uuid4(u), 0);
	ck_assert_uint_eq(strlen(u), 36);
	ck_assert_int_eq(u[8], '-');
	ck_assert_int_eq(u[14], '4');
	ck_assert(strchr("89ab", u[19]) != NULL);
}
END_TEST

START_TEST(constant_time_equal)
{
	ck_assert(crypto_str_equal("abc", "abc"));
	ck_assert(!crypto_str_equal("abc", "abd"));
	ck_assert(!crypto_str_equal("abc", "abcd"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("crypto");
	TCase *tc = tcase_create("crypto");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, root_key_vector);
	tcase_add_test(tc, token_vector_encrypt);
	tcase_add_test(tc, token_vector_decrypt);
	tcase_add_test(tc, alias_roundtrip_random_nonce);
	tcase_add_test(tc, tampered_and_malformed_tokens);
	tcase_add_test(tc, base64_edges);
	tcase_add_test(tc, uuid_shape);
	tcase_add_test(tc, constant_time_equal);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
