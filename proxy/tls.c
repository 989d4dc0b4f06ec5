#include "proxy/tls.h"

#include <arpa/inet.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "filters/base/log.h"

static void
tls_log_errors(const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0) {
		log_warnx("%s", what);
		return;
	}
	ERR_error_string_n(e, buf, sizeof(buf));
	log_warnx("%s: %s", what, buf);
	ERR_clear_error();
}

void
tls_init(void)
{
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
}

/* ALPN: we only speak HTTP/1.1; refusing h2 here beats a confused client later. */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
    unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, http11, sizeof(http11) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* What every server context shares: TLS 1.2+, no renegotiation or compression, ALPN http/1.1. */
static SSL_CTX *
tls_server_ctx_base(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		tls_log_errors("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				     SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
	return ctx;
}

SSL_CTX *
tls_server_ctx_bare(void)
{
	return tls_server_ctx_base();
}

SSL_CTX *
tls_server_ctx_from(X509 *cert, EVP_PKEY *key)
{
	SSL_CTX *ctx = tls_server_ctx_base();

	if (ctx == NULL)
		return NULL;
	if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		tls_log_errors("minted certificate");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL_CTX *
tls_server_ctx_new(const char *cert_file, const char *key_file)
{
	SSL_CTX *ctx = tls_server_ctx_base();

	if (ctx == NULL)
		return NULL;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		tls_log_errors(cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		tls_log_errors(key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_log_errors("certificate and key do not match");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx_new(const char *ca_file)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		tls_log_errors("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			tls_log_errors(ca_file);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_log_errors("system trust store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Resume sessions with the same upstream: saves a full handshake per new pooled connection. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
	return ctx;
}

SSL *
tls_client_new(SSL_CTX *ctx, const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];
	bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	if (is_ip) {
		/* RFC 6066 3: SNI carries host names only; IP literals are checked against IP SANs. */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1)
			goto fail;
	} else {
		if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1)
			goto fail;
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

void
tls_describe_error(SSL *ssl, unsigned long err, char *buf, size_t len)
{
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (vr != X509_V_OK) {
		snprintf(buf, len, "certificate verification failed: %s", X509_verify_cert_error_string(vr));
		return;
	}
	if (err != 0) {
		char tmp[200];

		ERR_error_string_n(err, tmp, sizeof(tmp));
		snprintf(buf, len, "TLS error: %s", tmp);
		return;
	}
	snprintf(buf, len, "connection failed");
}

bool
tls_server_verify_clients(SSL_CTX *ctx, const char *ca_file, bool required)
{
	STACK_OF(X509_NAME) *names;
	static const unsigned char sid_ctx[] = "ddbguard-client-cert";

	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		tls_log_errors(ca_file);
		return false;
	}
	/* The CA names sent in CertificateRequest, so clients pick the right certificate. */
	if ((names = SSL_load_client_CA_file(ca_file)) == NULL) {
		tls_log_errors(ca_file);
		return false;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	SSL_CTX_set_verify_depth(ctx, 8);
	/* Resumed sessions keep the verified peer; the context id scopes them to this listener's rules. */
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	return true;
}

/* Copies an ASN1 string into dst when it is printable ASCII and fits; false otherwise. */
static bool
tls_copy_ia5(char *dst, const ASN1_STRING *s)
{
	int n = ASN1_STRING_length(s);
	const unsigned char *p = ASN1_STRING_get0_data(s);

	if (n <= 0 || n >= TLS_PEER_NAME_LEN)
		return false;
	for (int i = 0; i < n; i++) {
		if (p[i] <= ' ' || p[i] >= 0x7f)
			return false;
	}
	memcpy(dst, p, (size_t)n);
	dst[n] = '\0';
	return true;
}

bool
tls_peer_names(SSL *ssl, struct tls_peer *out)
{
	X509 *cert;
	GENERAL_NAMES *sans;
	BIO *bio;
	int n;

	memset(out, 0, sizeof(*out));
	if (ssl == NULL || (cert = SSL_get0_peer_certificate(ssl)) == NULL ||
	    SSL_get_verify_result(ssl) != X509_V_OK)
		return false;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return false;
	n = X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
	if (n < 0 || n >= (int)sizeof(out->subject))
		out->truncated = true;
	else
		out->subject[BIO_read(bio, out->subject, n) > 0 ? n : 0] = '\0';
	BIO_free(bio);
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

		if (g->type == GEN_DNS) {
			if (out->ndns == TLS_PEER_NAMES_MAX || !tls_copy_ia5(out->dns[out->ndns], g->d.dNSName))
				out->truncated = true;
			else
				out->ndns++;
		} else if (g->type == GEN_URI) {
			if (out->nuris == TLS_PEER_NAMES_MAX ||
			    !tls_copy_ia5(out->uris[out->nuris], g->d.uniformResourceIdentifier))
				out->truncated = true;
			else
				out->nuris++;
		}
	}
	GENERAL_NAMES_free(sans);
	for (size_t i = 0; i < out->ndns; i++)
		out->dns_p[i] = out->dns[i];
	for (size_t i = 0; i < out->nuris; i++)
		out->uris_p[i] = out->uris[i];
	return true;
}
