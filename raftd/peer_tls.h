/*
 * TLS contexts of the Raft peer transport, built from PEM bytes (the
 * supervisor pushes the files' contents; a jailed raftd cannot read them).
 */
#ifndef RAFTD_PEER_TLS_H
#define RAFTD_PEER_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct transport_tls {
	const char *cert_pem; /* certificate chain, leaf first */
	size_t cert_len;
	const char *key_pem;
	size_t key_len;
	const char *ca_pem; /* NULL: the system trust store */
	size_t ca_len;
	bool skip_verify; /* client_skip_verify: trust any certificate */
};

/* NULL (and a log line) when the PEM material does not load */
SSL_CTX *peer_tls_server_ctx(const struct transport_tls *);
SSL_CTX *peer_tls_client_ctx(const struct transport_tls *);
/*
 * a client session that checks the server's certificate against host (a
 * name or an IP literal) unless the context was made with skip_verify
 */
SSL *peer_tls_client_ssl(SSL_CTX *, const char *host, bool verify);

#endif
