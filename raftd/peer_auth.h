/*
 * Mutual authentication of a Raft peer connection by proof of knowledge of
 * the instance secret.  Each end sends a random nonce in its HELLO; each
 * proves itself with
 *
 *   mac = HMAC-SHA256(key, label || nonce of the other end || own node id)
 *
 * where key = HMAC-SHA256(instance secret, "insidb raft peer key v1") and
 * the label differs for the dialing and the accepting end, so a proof can
 * neither be replayed on another connection (fresh nonce) nor reflected
 * back at its maker (other label, other id).
 */
#ifndef RAFTD_PEER_AUTH_H
#define RAFTD_PEER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEER_KEY_LEN 32
#define PEER_NONCE_LEN 32
#define PEER_MAC_LEN 32

enum peer_side {
	PEER_SIDE_DIALER = 0,
	PEER_SIDE_ACCEPTOR = 1,
};

/* derives the peer key from the instance secret */
void peer_auth_key(const char *secret, uint8_t key[PEER_KEY_LEN]);
/* 0 and a fresh random nonce, -1 when the random generator fails */
int peer_auth_nonce(uint8_t nonce[PEER_NONCE_LEN]);
/* the proof `side` sends for the other end's nonce */
void peer_auth_mac(const uint8_t key[PEER_KEY_LEN], int side,
    const uint8_t other_nonce[PEER_NONCE_LEN], uint64_t own_id,
    uint8_t mac[PEER_MAC_LEN]);
/* checks, in constant time, a proof sent by the end on `their_side` */
bool peer_auth_verify(const uint8_t key[PEER_KEY_LEN], int their_side,
    const uint8_t my_nonce[PEER_NONCE_LEN], uint64_t their_id,
    const uint8_t *mac, size_t mac_len);

#endif
