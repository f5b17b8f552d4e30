#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "raftd/peer_auth.h"

static const char key_label[] = "insidb raft peer key v1";
static const char *const side_label[] = {
	"insidb raft peer dialer v1",
	"insidb raft peer acceptor v1",
};

void
peer_auth_key(const char *secret, uint8_t key[PEER_KEY_LEN])
{
	unsigned int len = PEER_KEY_LEN;

	if (HMAC(EVP_sha256(), secret, (int)strlen(secret),
		(const uint8_t *)key_label, sizeof(key_label) - 1, key,
		&len) == NULL ||
	    len != PEER_KEY_LEN)
		fatalx("%s: HMAC failed", __func__);
}

int
peer_auth_nonce(uint8_t nonce[PEER_NONCE_LEN])
{
	return RAND_bytes(nonce, PEER_NONCE_LEN) == 1 ? 0 : -1;
}

void
peer_auth_mac(const uint8_t key[PEER_KEY_LEN], int side,
    const uint8_t other_nonce[PEER_NONCE_LEN], uint64_t own_id,
    uint8_t mac[PEER_MAC_LEN])
{
	uint8_t msg[64 + PEER_NONCE_LEN + 8];
	const char *label;
	size_t n, i;
	unsigned int len = PEER_MAC_LEN;

	if (side != PEER_SIDE_DIALER && side != PEER_SIDE_ACCEPTOR)
		fatalx("%s: bad side %d", __func__, side);
	label = side_label[side];
	n = strlen(label);
	memcpy(msg, label, n);
	memcpy(msg + n, other_nonce, PEER_NONCE_LEN);
	n += PEER_NONCE_LEN;
	for (i = 0; i < 8; i++)
		msg[n + i] = (uint8_t)(own_id >> (56 - 8 * i));
	n += 8;
	if (HMAC(EVP_sha256(), key, PEER_KEY_LEN, msg, n, mac, &len) == NULL ||
	    len != PEER_MAC_LEN)
		fatalx("%s: HMAC failed", __func__);
}

bool
peer_auth_verify(const uint8_t key[PEER_KEY_LEN], int their_side,
    const uint8_t my_nonce[PEER_NONCE_LEN], uint64_t their_id,
    const uint8_t *mac, size_t mac_len)
{
	uint8_t want[PEER_MAC_LEN];

	if (mac_len != PEER_MAC_LEN)
		return false;
	peer_auth_mac(key, their_side, my_nonce, their_id, want);
	return CRYPTO_memcmp(want, mac, PEER_MAC_LEN) == 0;
}
