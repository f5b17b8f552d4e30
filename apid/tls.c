#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "apid/tls.h"
#include "common/log.h"

/* the leaf certificate, then every further one as the chain */
static int
tls_load_chain(SSL_CTX *ctx, const char *pem)
{
	BIO *bio;
	X509 *x;
	int rc = -1;

	if ((bio = BIO_new_mem_buf(pem, (int)strlen(pem))) == NULL)
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
	rc = 0;
out:
	BIO_free(bio);
	return rc;
}

static int
tls_load_key(SSL_CTX *ctx, const char *pem)
{
	EVP_PKEY *key;
	BIO *bio;
	int rc;

	if ((bio = BIO_new_mem_buf(pem, (int)strlen(pem))) == NULL)
		return -1;
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (key == NULL)
		return -1;
	rc = SSL_CTX_use_PrivateKey(ctx, key) == 1 ? 0 : -1;
	EVP_PKEY_free(key);
	return rc;
}

SSL_CTX *
apid_tls_ctx(const char *cert_pem, const char *key_pem)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* a client closing without close_notify is not an error for us */
	SSL_CTX_set_options(ctx,
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
		SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (tls_load_chain(ctx, cert_pem) == -1) {
		log_warnx("tls: cannot load the certificate");
		goto fail;
	}
	if (tls_load_key(ctx, key_pem) == -1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_warnx("tls: key unusable or not matching the certificate");
		goto fail;
	}
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}
