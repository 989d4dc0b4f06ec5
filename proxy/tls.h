/*
 * tls: OpenSSL contexts for both sides.
 *
 * Server side (listeners): TLS 1.2+, certificate chain and key from config,
 * ALPN answers only http/1.1, renegotiation off.
 * Client side (upstreams): TLS 1.2+, chain verified against ca_file or the
 * system store, host name checked per connection (tls_client_prepare), SNI
 * sent, and a truncated stream (no close_notify) is an error, never EOF.
 */
#ifndef DDBGUARD_PROXY_TLS_H
#define DDBGUARD_PROXY_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

void tls_init(void);

/* NULL on failure, with the OpenSSL reason logged. */
SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file);
SSL_CTX *tls_client_ctx_new(const char *ca_file);
/* A server context with no certificate: each SSL gets its own (egress tunnels). */
SSL_CTX *tls_server_ctx_bare(void);
/* A server context for a certificate and key already in memory; takes references. */
SSL_CTX *tls_server_ctx_from(X509 *cert, EVP_PKEY *key);

/* A new client SSL for `host` (DNS name or IP literal): SNI (names only) and identity check set. */
SSL *tls_client_new(SSL_CTX *ctx, const char *host);

/* Describes why a handshake or read failed, for logs: verify result or OpenSSL error text. */
void tls_describe_error(SSL *ssl, unsigned long err, char *buf, size_t len);

#endif
