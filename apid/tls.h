/*
 * Server TLS context from PEM bytes pushed by the supervisor (the jail
 * cannot read the files).  TLS 1.2 or later.
 */
#ifndef APID_TLS_H
#define APID_TLS_H

#include <openssl/ssl.h>

/* NULL (logged) when the certificate chain or key is unusable */
SSL_CTX *apid_tls_ctx(const char *cert_pem, const char *key_pem);

#endif
