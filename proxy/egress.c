#include "proxy/egress.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "filters/dynamodb/arn.h"
#include "filters/base/log.h"
#include "proxy/runtime.h"
#include "proxy/tls.h"
#include "proxy/upstream.h"

#define EGRESS_HOST_MAX 253
/* Re-mint when less than this share of a certificate's lifetime is left. */
#define EGRESS_RENEW_DIVISOR 10
/* Minted certificates start a little in the past: client clocks drift. */
#define EGRESS_BACKDATE_S 300

enum egress_service { EGRESS_SVC_DYNAMODB, EGRESS_SVC_STREAMS };

/* One allowed endpoint name, its route and its current minted certificate. */
struct egress_entry {
	char host[EGRESS_HOST_MAX + 1];
	char region[33];
	char account[13];
	char upstream_addr[300];
	struct upstream_url url;
	struct route route;
	X509 *cert;	     /* minted certificate; NULL until the first tunnel */
	time_t cert_renew_at;
	unsigned refs;	     /* tunnels using the route: an entry is evicted only at 0 */
	bool reserved;	     /* a regional, FIPS, Streams or account-based name: never evicted, not counted */
	uint64_t last_used;  /* egress.use_clock when last resolved, for LRU eviction */
};

struct egress {
	struct runtime *rt;
	const struct egress_config *cfg;
	const char *default_account;
	SSL_CTX *upstream_tls;
	X509 *ca;
	EVP_PKEY *ca_key;
	EVP_PKEY *leaf_key; /* one key for every minted certificate: minting stays a signature, not a keygen */
	SSL_CTX *tls;	    /* one server context; each tunnel's SSL gets its name's certificate */
	int sni_index;	    /* SSL ex_data slot holding the name a tunnel was opened to */
	struct egress_entry **entries;
	size_t nentries;
	size_t nvpce; /* entries that are not reserved: VPC endpoint names, bounded by max_cached_certs */
	uint64_t use_clock;
};

/* --- CA and minting -------------------------------------------------- */

static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL) {
		log_warn("egress CA certificate %s", path);
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		log_warnx("egress CA certificate %s: not a PEM certificate", path);
	return x;
}

static EVP_PKEY *
load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL) {
		log_warn("egress CA key %s", path);
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		log_warnx("egress CA key %s: not a PEM private key", path);
	return k;
}

static bool
add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	bool ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;

	X509_EXTENSION_free(ext);
	return ok;
}

/* A leaf for `host`: SAN DNS:host only, serverAuth, short-lived, random serial. */
static X509 *
egress_mint(struct egress *e, const char *host)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *bn = BN_new();
	char san[EGRESS_HOST_MAX + 8];
	X509V3_CTX v3;
	bool ok;

	if (x == NULL || name == NULL || bn == NULL)
		goto fail;
	snprintf(san, sizeof(san), "DNS:%s", host);
	X509V3_set_ctx(&v3, e->ca, x, NULL, NULL, 0);
	ok = X509_set_version(x, 2) == 1 && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -EGRESS_BACKDATE_S) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), (long)e->cfg->cert_validity_s) != NULL &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1, 0) == 1 &&
	    X509_set_subject_name(x, name) == 1 && X509_set_issuer_name(x, X509_get_subject_name(e->ca)) == 1 &&
	    X509_set_pubkey(x, e->leaf_key) == 1 &&
	    add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") &&
	    add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") &&
	    add_ext(x, &v3, NID_ext_key_usage, "serverAuth") && add_ext(x, &v3, NID_subject_alt_name, san) &&
	    add_ext(x, &v3, NID_subject_key_identifier, "hash") &&
	    add_ext(x, &v3, NID_authority_key_identifier, "keyid:always") &&
	    X509_sign(x, e->ca_key, EVP_sha256()) > 0;
	X509_NAME_free(name);
	BN_free(bn);
	if (ok)
		return x;
fail:
	X509_free(x);
	return NULL;
}

/* RFC 6066 3: the name the client asks for must be the name it CONNECTed to. */
static int
egress_sni_cb(SSL *ssl, int *alert, void *arg)
{
	const struct egress *e = arg;
	const char *want = SSL_get_ex_data(ssl, e->sni_index);
	const char *got = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	if (want != NULL && got != NULL && strcasecmp(got, want) == 0)
		return SSL_TLSEXT_ERR_OK;
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static X509 *
egress_entry_cert(struct egress *e, struct egress_entry *en)
{
	time_t now = time(NULL);
	X509 *cert;

	if (en->cert != NULL && now < en->cert_renew_at)
		return en->cert;
	if ((cert = egress_mint(e, en->host)) == NULL) {
		log_warnx("egress: cannot mint a certificate for %s", en->host);
		ERR_clear_error();
		return NULL;
	}
	X509_free(en->cert); /* tunnels already open hold their own reference */
	en->cert = cert;
	en->cert_renew_at =
	    now + (time_t)(e->cfg->cert_validity_s - e->cfg->cert_validity_s / EGRESS_RENEW_DIVISOR);
	log_debug("egress: minted a certificate for %s", en->host);
	return cert;
}

static struct egress_entry *
entry_of(const struct route *route)
{
	return (struct egress_entry *)((char *)route - offsetof(struct egress_entry, route));
}

SSL *
egress_tunnel_ssl(struct egress *e, const struct route *route)
{
	struct egress_entry *en = entry_of(route);
	X509 *cert = egress_entry_cert(e, en);
	SSL *ssl;

	if (cert == NULL || (ssl = SSL_new(e->tls)) == NULL)
		return NULL;
	if (SSL_use_certificate(ssl, cert) != 1 || SSL_use_PrivateKey(ssl, e->leaf_key) != 1 ||
	    SSL_set_ex_data(ssl, e->sni_index, en->host) != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

/* --- which names are DynamoDB endpoints ------------------------------ */

struct egress_target {
	enum egress_service service;
	bool vpce; /* a VPC endpoint name: tunnelled only when the config lists it */
	char region[33];
	char account[13]; /* "" unless an account-based endpoint */
};

static bool
label_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool
label_all(const char *s, size_t n, int (*pred)(int))
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!pred((unsigned char)s[i]))
			return false;
	return n > 0;
}

static int
is_region_char(int c)
{
	return islower(c) || isdigit(c) || c == '-';
}

static int
is_label_char(int c)
{
	return islower(c) || isdigit(c) || c == '-';
}

/*
 * Classifies a lower-case host name. Splits off the suffix, then matches the
 * label pattern; the region must be one of ours and its partition must fit
 * the suffix (cn- regions live under amazonaws.com.cn).
 */
static bool
egress_classify(const char *host, struct egress_target *t, char *why, size_t why_len)
{
	static const char com[] = ".amazonaws.com", cn_com[] = ".amazonaws.com.cn";
	const char *labels[6];
	size_t lens[6], n = 0, hlen = strlen(host), rest;
	const char *p, *dot;
	bool cn = false;

	if (hlen > sizeof(cn_com) - 1 && strcmp(host + hlen - (sizeof(cn_com) - 1), cn_com) == 0) {
		rest = hlen - (sizeof(cn_com) - 1);
		cn = true;
	} else if (hlen > sizeof(com) - 1 && strcmp(host + hlen - (sizeof(com) - 1), com) == 0) {
		rest = hlen - (sizeof(com) - 1);
	} else {
		snprintf(why, why_len, "%s is not an AWS endpoint name", host);
		return false;
	}
	for (p = host; p <= host + rest && n < 6; p = dot + 1) {
		dot = memchr(p, '.', (size_t)(host + rest - p));
		if (dot == NULL)
			dot = host + rest;
		labels[n] = p;
		lens[n++] = (size_t)(dot - p);
	}
	if (p <= host + rest) { /* more labels than any endpoint form has */
		snprintf(why, why_len, "%s is not a DynamoDB endpoint name", host);
		return false;
	}
	memset(t, 0, sizeof(*t));
	t->service = EGRESS_SVC_DYNAMODB;
	if (n == 2 && (label_is(labels[0], lens[0], "dynamodb") || label_is(labels[0], lens[0], "dynamodb-fips"))) {
		/* regional or FIPS: region is labels[1] */
	} else if (n == 3 && label_is(labels[0], lens[0], "streams") && label_is(labels[1], lens[1], "dynamodb")) {
		t->service = EGRESS_SVC_STREAMS;
		labels[1] = labels[2];
		lens[1] = lens[2];
	} else if (n == 3 && lens[0] == 12 && label_all(labels[0], 12, isdigit) && label_is(labels[1], lens[1], "ddb")) {
		memcpy(t->account, labels[0], 12);
		labels[1] = labels[2];
		lens[1] = lens[2];
	} else if (n == 4 && lens[0] > 5 && memcmp(labels[0], "vpce-", 5) == 0 &&
		   label_all(labels[0], lens[0], is_label_char) && label_is(labels[1], lens[1], "dynamodb") &&
		   label_is(labels[3], lens[3], "vpce")) {
		t->vpce = true;
		labels[1] = labels[2];
		lens[1] = lens[2];
	} else {
		snprintf(why, why_len, "%s is not a DynamoDB endpoint name", host);
		return false;
	}
	if (lens[1] == 0 || lens[1] >= sizeof(t->region) || !label_all(labels[1], lens[1], is_region_char)) {
		snprintf(why, why_len, "%s does not name a region", host);
		return false;
	}
	memcpy(t->region, labels[1], lens[1]);
	if (cn != (strncmp(t->region, "cn-", 3) == 0)) {
		snprintf(why, why_len, "%s: region %s does not belong under this domain", host, t->region);
		return false;
	}
	return true;
}

/* Labels of 1..63 octets, not starting or ending with '-' (the name is already LDH and dots, <= 253). */
static bool
egress_dns_name_ok(const char *name, char *why, size_t why_len)
{
	const char *p = name, *dot;
	size_t n;

	for (;;) {
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-') {
			snprintf(why, why_len, "CONNECT target %.120s%s is not a valid DNS name (%s)", name,
			    strlen(name) > 120 ? "..." : "",
			    n == 0 ? "empty label" : n > 63 ? "a label is longer than 63 octets" : "a label starts or ends with '-'");
			return false;
		}
		if (dot == NULL)
			return true;
		p = dot + 1;
	}
}

static bool
in_list(char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* --- routes ---------------------------------------------------------- */

static const struct egress_route_config *
egress_route_override(const struct egress *e, const char *host)
{
	size_t i;

	for (i = 0; i < e->cfg->nroutes; i++)
		if (strcmp(e->cfg->routes[i].host, host) == 0)
			return &e->cfg->routes[i];
	return NULL;
}

static void
egress_entry_free(struct egress_entry *en)
{
	if (en == NULL)
		return;
	upstream_pool_free(en->route.dynamodb);
	upstream_pool_free(en->route.streams);
	X509_free(en->cert);
	free(en->url.host);
	free(en->url.tls_name);
	free(en->url.text);
	free(en);
}

static struct egress_entry *
egress_entry_new(struct egress *e, const char *host, const struct egress_target *t)
{
	const struct egress_route_config *rc = egress_route_override(e, host);
	struct egress_entry *en = calloc(1, sizeof(*en));
	struct upstream_pool *pool;

	if (en == NULL)
		return NULL;
	snprintf(en->host, sizeof(en->host), "%s", host);
	snprintf(en->region, sizeof(en->region), "%s", t->region);
	snprintf(en->account, sizeof(en->account), "%s", t->account[0] ? t->account : e->default_account);
	en->url.tls = true;
	en->url.host = strdup(rc ? rc->to_host : host);
	en->url.port = rc ? rc->to_port : 443;
	en->url.tls_name = rc ? strdup(host) : NULL;
	if (asprintf(&en->url.text, "https://%s", host) < 0)
		en->url.text = NULL;
	snprintf(en->upstream_addr, sizeof(en->upstream_addr), "%s:%u", en->url.host ? en->url.host : "?",
	    en->url.port);
	if (en->url.host == NULL || en->url.text == NULL || (rc && en->url.tls_name == NULL))
		goto fail;
	pool = upstream_pool_new(e->rt->base, e->rt->dns, e->upstream_tls, &en->url, &e->rt->cfg->upstream,
	    &e->rt->response_limits);
	if (pool == NULL)
		goto fail;
	/* A name serves one service: a Streams call to dynamodb.* (or the reverse) is refused, not rerouted. */
	if (t->service == EGRESS_SVC_STREAMS)
		en->route.streams = pool;
	else
		en->route.dynamodb = pool;
	en->route.scope.partition = arn_partition_for_region(en->region);
	en->route.scope.region = en->region;
	en->route.scope.account = en->account;
	en->route.connect_host = en->host;
	en->route.upstream_addr = en->upstream_addr;
	return en;
fail:
	egress_entry_free(en);
	return NULL;
}

static enum egress_verdict
egress_hold(struct egress *e, struct egress_entry *en, const struct route **out)
{
	en->refs++;
	en->last_used = ++e->use_clock;
	*out = &en->route;
	return EGRESS_ALLOWED;
}

/*
 * Frees the least recently used VPC endpoint entry no tunnel holds. Only the
 * VPC endpoint names the config lists can be tunnelled, and only they share
 * the max_cached_certs slots: the regional, FIPS, Streams and account-based
 * names of the configured regions and accounts (a set the config bounds) are
 * reserved, never evicted, so no name a client picks can push them out. An
 * entry at refs 0 has no call in flight (a call belongs to a tunnel), so its
 * pool can go.
 */
static bool
egress_evict(struct egress *e)
{
	size_t i, victim = e->nentries;

	for (i = 0; i < e->nentries; i++)
		if (e->entries[i]->refs == 0 && !e->entries[i]->reserved &&
		    (victim == e->nentries || e->entries[i]->last_used < e->entries[victim]->last_used))
			victim = i;
	if (victim == e->nentries)
		return false;
	log_debug("egress: evicting %s", e->entries[victim]->host);
	e->nvpce--;
	egress_entry_free(e->entries[victim]);
	e->entries[victim] = e->entries[--e->nentries];
	return true;
}

enum egress_verdict
egress_resolve(struct egress *e, const char *host, size_t host_len, uint16_t port, const struct route **out,
    char *why, size_t why_len)
{
	char name[EGRESS_HOST_MAX + 1];
	struct egress_target t;
	struct egress_entry *en, **grown;
	size_t i;

	if (host_len > 0 && host[0] == '[') { /* the HTTP parser passes only well-formed IPv6 literals */
		snprintf(why, why_len, "CONNECT to %.*s refused: an IP address, not a DynamoDB endpoint name",
		    (int)(host_len > 48 ? 48 : host_len), host);
		return EGRESS_REFUSED;
	}
	if (host_len == 0 || host_len > EGRESS_HOST_MAX) {
		snprintf(why, why_len, "CONNECT target is not a DNS name (empty or longer than %d octets)", EGRESS_HOST_MAX);
		return EGRESS_REFUSED;
	}
	for (i = 0; i < host_len; i++) {
		name[i] = (char)tolower((unsigned char)host[i]);
		/* Only LDH and dots: a NUL would end the name early for the checks below, but not for the log. */
		if (!is_label_char((unsigned char)name[i]) && name[i] != '.') {
			snprintf(why, why_len, "CONNECT target is not a host name");
			return EGRESS_REFUSED;
		}
	}
	name[host_len] = '\0';
	/* RFC 1035 2.3.4 / RFC 1123 2.1: a certificate cannot be minted for anything else, so refuse it here. */
	if (!egress_dns_name_ok(name, why, why_len))
		return EGRESS_REFUSED;
	if (port != 443) {
		snprintf(why, why_len, "CONNECT to %s port %u refused: only port 443 is tunnelled", name, port);
		return EGRESS_REFUSED;
	}
	for (i = 0; i < e->nentries; i++)
		if (strcmp(e->entries[i]->host, name) == 0)
			return egress_hold(e, e->entries[i], out);
	if (!egress_classify(name, &t, why, why_len))
		return EGRESS_REFUSED;
	if (!in_list(e->cfg->regions, e->cfg->nregions, t.region)) {
		snprintf(why, why_len, "CONNECT to %s refused: region %s is not in egress.regions", name, t.region);
		return EGRESS_REFUSED;
	}
	if (t.account[0] && !in_list(e->cfg->account_ids, e->cfg->naccount_ids, t.account)) {
		snprintf(why, why_len, "CONNECT to %s refused: account %s is not in egress.account_ids", name,
		    t.account);
		return EGRESS_REFUSED;
	}
	/* A VPC endpoint's id is not ours to guess: any made-up one would mint a certificate and take a slot. */
	if (t.vpce && !in_list(e->cfg->vpc_endpoints, e->cfg->nvpc_endpoints, name) &&
	    egress_route_override(e, name) == NULL) {
		snprintf(why, why_len,
		    "CONNECT to %s refused: VPC endpoint names are tunnelled only when egress.vpc_endpoints or "
		    "egress.routes lists them",
		    name);
		return EGRESS_REFUSED;
	}
	if (t.vpce && e->nvpce >= e->cfg->max_cached_certs && !egress_evict(e)) {
		snprintf(why, why_len, "all egress.max_cached_certs (%u) endpoint names have open tunnels",
		    e->cfg->max_cached_certs);
		return EGRESS_FAILED;
	}
	if ((en = egress_entry_new(e, name, &t)) == NULL ||
	    (grown = realloc(e->entries, (e->nentries + 1) * sizeof(*grown))) == NULL) {
		egress_entry_free(en);
		snprintf(why, why_len, "out of memory setting up the route for %s", name);
		return EGRESS_FAILED;
	}
	e->entries = grown;
	e->entries[e->nentries++] = en;
	en->reserved = !t.vpce;
	if (t.vpce)
		e->nvpce++;
	return egress_hold(e, en, out);
}

void
egress_release(struct egress *e, const struct route *route)
{
	struct egress_entry *en = entry_of(route);

	if (en->refs > 0)
		en->refs--;
}

/* --- lifecycle ------------------------------------------------------- */

struct egress *
egress_new(struct runtime *rt, const struct config *cfg, SSL_CTX *upstream_tls)
{
	struct egress *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->rt = rt;
	e->cfg = &cfg->egress;
	e->default_account = cfg->account_id;
	e->upstream_tls = upstream_tls;
	if ((e->ca = load_cert(cfg->egress.ca_cert)) == NULL || (e->ca_key = load_key(cfg->egress.ca_key)) == NULL)
		goto fail;
	if (X509_check_private_key(e->ca, e->ca_key) != 1) {
		log_warnx("egress: %s and %s do not match", cfg->egress.ca_cert, cfg->egress.ca_key);
		goto fail;
	}
	if (X509_check_ca(e->ca) == 0) {
		log_warnx("egress: %s is not a CA certificate", cfg->egress.ca_cert);
		goto fail;
	}
	if ((e->leaf_key = EVP_EC_gen("P-256")) == NULL) {
		log_warnx("egress: cannot generate the certificate key");
		goto fail;
	}
	/* No certificate on the context: every tunnel's SSL carries the one minted for its name. */
	if ((e->tls = tls_server_ctx_bare()) == NULL ||
	    (e->sni_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL)) < 0)
		goto fail;
	SSL_CTX_set_tlsext_servername_callback(e->tls, egress_sni_cb);
	SSL_CTX_set_tlsext_servername_arg(e->tls, e);
	return e;
fail:
	ERR_clear_error();
	egress_free(e);
	return NULL;
}

void
egress_free(struct egress *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->nentries; i++)
		egress_entry_free(e->entries[i]);
	free(e->entries);
	SSL_CTX_free(e->tls);
	X509_free(e->ca);
	EVP_PKEY_free(e->ca_key);
	EVP_PKEY_free(e->leaf_key);
	free(e);
}
