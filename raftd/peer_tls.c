#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "raftd/peer_tls.h"

static void
log_ssl_error(const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	log_warnx("raft transport: %s: %s", what, e ? buf : "unknown error");
	ERR_clear_error();
}

static SSL_CTX *
ctx_new(const SSL_METHOD *method)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(method)) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* a peer closing without close_notify is an ordinary disconnect */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

static int
load_chain(SSL_CTX *ctx, const struct transport_tls *o)
{
	BIO *bio;
	X509 *x;
	EVP_PKEY *pk;
	int rc = -1;

	if ((bio = BIO_new_mem_buf(o->cert_pem, (int)o->cert_len)) == NULL)
		return -1;
	if ((x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) == NULL)
		goto out;
	if (SSL_CTX_use_certificate(ctx, x) != 1) {
		X509_free(x);
		goto out;
	}
	X509_free(x);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			goto out;
		}
	}
	ERR_clear_error(); /* the end of the chain reads as an error */
	BIO_free(bio);
	if ((bio = BIO_new_mem_buf(o->key_pem, (int)o->key_len)) == NULL)
		return -1;
	if ((pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL)
		goto out;
	if (SSL_CTX_use_PrivateKey(ctx, pk) == 1 &&
	    SSL_CTX_check_private_key(ctx) == 1)
		rc = 0;
	EVP_PKEY_free(pk);
out:
	BIO_free(bio);
	return rc;
}

SSL_CTX *
peer_tls_server_ctx(const struct transport_tls *o)
{
	SSL_CTX *ctx;

	if (o->cert_pem == NULL || o->key_pem == NULL)
		return NULL;
	if ((ctx = ctx_new(TLS_server_method())) == NULL) {
		log_ssl_error("server context");
		return NULL;
	}
	if (load_chain(ctx, o) == -1) {
		log_ssl_error("certificate or key");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int
load_ca(SSL_CTX *ctx, const struct transport_tls *o)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	BIO *bio;
	X509 *x;
	int n = 0;

	if (o->ca_pem == NULL)
		return SSL_CTX_set_default_verify_paths(ctx) == 1 ? 0 : -1;
	if ((bio = BIO_new_mem_buf(o->ca_pem, (int)o->ca_len)) == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(bio);
	return n > 0 ? 0 : -1;
}

SSL_CTX *
peer_tls_client_ctx(const struct transport_tls *o)
{
	SSL_CTX *ctx;

	if ((ctx = ctx_new(TLS_client_method())) == NULL) {
		log_ssl_error("client context");
		return NULL;
	}
	if (o->skip_verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	if (load_ca(ctx, o) == -1) {
		log_ssl_error("CA bundle");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

static bool
is_ip_literal(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1;
}

SSL *
peer_tls_client_ssl(SSL_CTX *ctx, const char *host, bool verify)
{
	X509_VERIFY_PARAM *vp;
	SSL *ssl;
	int ok;

	if ((ssl = SSL_new(ctx)) == NULL)
		return NULL;
	if (!is_ip_literal(host))
		(void)SSL_set_tlsext_host_name(ssl, host);
	if (!verify)
		return ssl;
	vp = SSL_get0_param(ssl);
	X509_VERIFY_PARAM_set_hostflags(
	    vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (is_ip_literal(host))
		ok = X509_VERIFY_PARAM_set1_ip_asc(vp, host);
	else
		ok = X509_VERIFY_PARAM_set1_host(vp, host, 0);
	if (ok != 1) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}
