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

/*
 * Asks clients for a certificate chaining to a CA in `ca_file` (chain
 * verified by OpenSSL, depth 8); `required`: a handshake without one fails.
 */
bool tls_server_verify_clients(SSL_CTX *ctx, const char *ca_file, bool required);

#define TLS_PEER_NAMES_MAX 8
#define TLS_PEER_NAME_LEN 256

/* The verified client certificate's names, for identity matching (proxy/conn.c keeps one per connection). */
struct tls_peer {
	char subject[TLS_PEER_NAME_LEN]; /* RFC 2253 */
	char dns[TLS_PEER_NAMES_MAX][TLS_PEER_NAME_LEN];
	char uris[TLS_PEER_NAMES_MAX][TLS_PEER_NAME_LEN];
	const char *dns_p[TLS_PEER_NAMES_MAX];
	const char *uris_p[TLS_PEER_NAMES_MAX];
	size_t ndns, nuris;
	bool truncated; /* more names than fit, or a name too long: such a certificate matches nothing */
};

/* Fills `out` from the peer certificate if one was presented and verified; false otherwise. */
bool tls_peer_names(SSL *ssl, struct tls_peer *out);

/* A new client SSL for `host` (DNS name or IP literal): SNI (names only) and identity check set. */
SSL *tls_client_new(SSL_CTX *ctx, const char *host);

/* Describes why a handshake or read failed, for logs: verify result or OpenSSL error text. */
void tls_describe_error(SSL *ssl, unsigned long err, char *buf, size_t len);

#endif
