/*
 * Tests for proxy/egress.c: which CONNECT targets are tunnelled, the route
 * each gets (region, account, partition, service, routed address), and the
 * certificate minted for it (names, issuer, lifetime, usage, SNI check).
 *
 * The gateway CA is made here with the extensions certs/mkgatewayca.sh gives
 * it (name constraints included) and written to a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config/config.h"
#include "filters/dynamodb/json.h"
#include "proxy/egress.h"
#include "proxy/runtime.h"
#include "proxy/tls.h"
#include "proxy/upstream.h"

#define ACCOUNT       "123456789012"
#define OTHER_ACCOUNT "210987654321"
#define VALIDITY_S    7200
#define BACKDATE_S    300 /* egress.c EGRESS_BACKDATE_S */

static char tmpdir[64];
static char ca_crt_path[128], ca_key_path[128], leaf_crt_path[128], leaf_key_path[128];
static X509 *ca_cert;
static EVP_PKEY *ca_key;

/* ------------------------------------------------------------------------
 * Fixture: CA files, config, event base, runtime, egress
 */

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static X509 *
new_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, long days)
{
	X509 *x = X509_new();

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), days * 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	X509_set_pubkey(x, key);
	if (issuer == NULL) {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
		add_ext(x, x, NID_subject_key_identifier, "hash");
		add_ext(x, x, NID_name_constraints,
		        "critical,permitted;DNS:amazonaws.com,permitted;DNS:amazonaws.com.cn");
	} else {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
	}
	assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

static void
write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	if (x != NULL)
		assert_int_equal(PEM_write_X509(f, x), 1);
	if (k != NULL)
		assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static int
make_ca(void **state)
{
	EVP_PKEY *leaf_key;
	X509 *leaf;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ddbguard-test-egress-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(ca_crt_path, sizeof(ca_crt_path), "%s/gateway-ca.crt", tmpdir);
	snprintf(ca_key_path, sizeof(ca_key_path), "%s/gateway-ca.key", tmpdir);
	snprintf(leaf_crt_path, sizeof(leaf_crt_path), "%s/leaf.crt", tmpdir);
	snprintf(leaf_key_path, sizeof(leaf_key_path), "%s/leaf.key", tmpdir);
	ca_key = EVP_EC_gen("P-256");
	ca_cert = new_cert(ca_key, "ddbguard egress test CA", NULL, NULL, 30);
	write_pem(ca_crt_path, ca_cert, NULL);
	write_pem(ca_key_path, NULL, ca_key);
	/* Not a CA: egress_new must refuse to mint from it. */
	leaf_key = EVP_EC_gen("P-256");
	leaf = new_cert(leaf_key, "dynamodb.us-east-1.amazonaws.com", ca_cert, ca_key, 30);
	write_pem(leaf_crt_path, leaf, NULL);
	write_pem(leaf_key_path, NULL, leaf_key);
	X509_free(leaf);
	EVP_PKEY_free(leaf_key);
	return 0;
}

static int
remove_ca(void **state)
{
	unlink(ca_crt_path);
	unlink(ca_key_path);
	unlink(leaf_crt_path);
	unlink(leaf_key_path);
	rmdir(tmpdir);
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	return 0;
}

struct fixture {
	struct config *cfg;
	struct event_base *base;
	struct evdns_base *dns;
	SSL_CTX *upstream_tls;
	struct runtime rt;
	struct egress *e;
};

/* An egress config: `egress_extra` goes inside "egress", after the CA paths. */
static struct config *
load_config(const char *cert_path, const char *key_path, const char *egress_extra)
{
	char text[4096];
	struct diag *d = diag_new("egress.json");
	struct config *c;
	size_t i;

	snprintf(text, sizeof(text),
	         "{\"account_id\":\"" ACCOUNT "\","
	         "\"listeners\":[{\"name\":\"egress\",\"kind\":\"egress\",\"address\":\"127.0.0.1\",\"port\":3128}],"
	         "\"upstream\":{},"
	         "\"egress\":{\"ca_cert\":\"%s\",\"ca_key\":\"%s\",%s},"
	         "\"policies\":{\"p\":{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"dynamodb:GetItem\","
	         "\"Resource\":\"*\"}}},"
	         "\"identities\":[{\"name\":\"default\",\"policies\":[\"p\"]}]}",
	         cert_path, key_path, egress_extra);
	c = config_load_buffer("egress.json", text, strlen(text), tmpdir, d);
	for (i = 0; i < diag_count(d); i++)
		fprintf(stderr, "config: %s\n", diag_message(d, i));
	diag_free(d);
	return c;
}

/* What proxy/main.c (daemon_start) and runtime_prepare set up, as far as egress uses it. */
static struct fixture *
fixture_new(const char *cert_path, const char *key_path, const char *egress_extra)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->cfg = load_config(cert_path, key_path, egress_extra);
	assert_non_null(f->cfg);
	assert_true(f->cfg->egress.enabled);
	f->base = event_base_new();
	assert_non_null(f->base);
	f->dns = evdns_base_new(f->base, 0);
	assert_non_null(f->dns);
	f->upstream_tls = tls_client_ctx_new(NULL);
	assert_non_null(f->upstream_tls);
	f->rt.base = f->base;
	f->rt.dns = f->dns;
	f->rt.cfg = f->cfg;
	f->rt.request_limits.max_header_bytes = f->cfg->limits.max_header_bytes;
	f->rt.request_limits.max_headers = f->cfg->limits.max_headers;
	f->rt.request_limits.max_body_bytes = f->cfg->limits.max_body_bytes;
	f->rt.response_limits.max_header_bytes = 16384;
	f->rt.response_limits.max_headers = HTTP_MAX_HEADERS_HARD;
	f->rt.response_limits.max_body_bytes = f->cfg->limits.max_response_bytes;
	f->e = egress_new(&f->rt, f->cfg, f->upstream_tls);
	return f;
}

static void
fixture_free(struct fixture *f)
{
	egress_free(f->e);
	SSL_CTX_free(f->upstream_tls);
	evdns_base_free(f->dns, 0);
	event_base_free(f->base);
	config_free(f->cfg);
	free(f);
}

#define STD_EGRESS                                                                                                     \
	"\"regions\":[\"us-east-1\",\"cn-north-1\",\"us-gov-west-1\"],"                                                \
	"\"account_ids\":[\"" ACCOUNT "\",\"" OTHER_ACCOUNT "\"],"                                                     \
	"\"routes\":[{\"host\":\"dynamodb.us-east-1.amazonaws.com\",\"to\":\"127.0.0.1:8000\"},"                       \
	"{\"host\":\"DYNAMODB-FIPS.us-east-1.amazonaws.com\",\"to\":\"localhost:9000\"},"                              \
	"{\"host\":\"" OTHER_ACCOUNT ".ddb.us-east-1.amazonaws.com\",\"to\":\"10.1.2.3:8443\"}],"                      \
	"\"vpc_endpoints\":[\"vpce-0a1b2c3d4e5f-abcdefgh.dynamodb.us-east-1.vpce.amazonaws.com\","                       \
	"\"VPCE-X1.DYNAMODB.US-EAST-1.VPCE.AMAZONAWS.COM\"],"                                                            \
	"\"cert_validity_s\":7200"

static int
setup_std(void **state)
{
	struct fixture *f = fixture_new(ca_crt_path, ca_key_path, STD_EGRESS);

	assert_non_null(f->e);
	*state = f;
	return 0;
}

static int
teardown_std(void **state)
{
	fixture_free(*state);
	return 0;
}

/* ------------------------------------------------------------------------
 * Which names are tunnelled, and the route each gets
 */

/* egress_resolve for a NUL-terminated host on port 443; `why` has 200 bytes. */
static enum egress_verdict
resolve(struct fixture *f, const char *host, const struct route **r, char *why)
{
	return egress_resolve(f->e, host, strlen(host), 443, r, why, 200);
}

enum svc { NONE, DDB, STREAMS };

#define REFUSE(h, p)                                                                                                   \
	{                                                                                                              \
		.host = (h), .port = (p), .want = EGRESS_REFUSED                                                       \
	}
/* An allowed name; ALLOW_AS: one whose canonical (lower-case) name is `canon`. */
#define ALLOW_AS(h, canon, r, a, part, s, addr)                                                                        \
	{                                                                                                              \
		.host = (h), .port = 443, .want = EGRESS_ALLOWED, .region = (r), .account = (a), .partition = (part),  \
		.svc = (s), .upstream_addr = (addr), .connect_host = (canon)                                           \
	}
#define ALLOW(h, r, a, part, s, addr) ALLOW_AS(h, h, r, a, part, s, addr)

static const struct resolve_case {
	const char *host;
	uint16_t port;
	enum egress_verdict want;
	/* for EGRESS_ALLOWED: */
	const char *region, *account, *partition;
	enum svc svc;
	const char *upstream_addr, *connect_host;
} resolve_cases[] = {
    /* the five endpoint forms */
    ALLOW("dynamodb.us-east-1.amazonaws.com", "us-east-1", ACCOUNT, "aws", DDB, "127.0.0.1:8000"),
    ALLOW("dynamodb-fips.us-east-1.amazonaws.com", "us-east-1", ACCOUNT, "aws", DDB, "localhost:9000"),
    ALLOW("streams.dynamodb.us-east-1.amazonaws.com", "us-east-1", ACCOUNT, "aws", STREAMS,
          "streams.dynamodb.us-east-1.amazonaws.com:443"),
    ALLOW(ACCOUNT ".ddb.us-east-1.amazonaws.com", "us-east-1", ACCOUNT, "aws", DDB,
          ACCOUNT ".ddb.us-east-1.amazonaws.com:443"),
    ALLOW(OTHER_ACCOUNT ".ddb.us-east-1.amazonaws.com", "us-east-1", OTHER_ACCOUNT, "aws", DDB, "10.1.2.3:8443"),
    ALLOW("vpce-0a1b2c3d4e5f-abcdefgh.dynamodb.us-east-1.vpce.amazonaws.com", "us-east-1", ACCOUNT, "aws", DDB,
          "vpce-0a1b2c3d4e5f-abcdefgh.dynamodb.us-east-1.vpce.amazonaws.com:443"),
    /* other partitions */
    ALLOW("dynamodb.cn-north-1.amazonaws.com.cn", "cn-north-1", ACCOUNT, "aws-cn", DDB,
          "dynamodb.cn-north-1.amazonaws.com.cn:443"),
    ALLOW("streams.dynamodb.cn-north-1.amazonaws.com.cn", "cn-north-1", ACCOUNT, "aws-cn", STREAMS,
          "streams.dynamodb.cn-north-1.amazonaws.com.cn:443"),
    ALLOW("dynamodb.us-gov-west-1.amazonaws.com", "us-gov-west-1", ACCOUNT, "aws-us-gov", DDB,
          "dynamodb.us-gov-west-1.amazonaws.com:443"),
    /* names are case-insensitive and normalised to lower case (the route of the first row) */
    ALLOW_AS("DynamoDB.US-EAST-1.AmazonAWS.com", "dynamodb.us-east-1.amazonaws.com", "us-east-1", ACCOUNT, "aws", DDB,
             "127.0.0.1:8000"),
    ALLOW_AS("VPCE-X1.DYNAMODB.US-EAST-1.VPCE.AMAZONAWS.COM", "vpce-x1.dynamodb.us-east-1.vpce.amazonaws.com",
             "us-east-1", ACCOUNT, "aws", DDB, "vpce-x1.dynamodb.us-east-1.vpce.amazonaws.com:443"),

    /* ports */
    REFUSE("dynamodb.us-east-1.amazonaws.com", 80),
    REFUSE("dynamodb.us-east-1.amazonaws.com", 8443),
    REFUSE("dynamodb.us-east-1.amazonaws.com", 444),
    /* regions and accounts not configured */
    REFUSE("dynamodb.eu-west-1.amazonaws.com", 443),
    REFUSE("streams.dynamodb.eu-west-1.amazonaws.com", 443),
    REFUSE("999999999999.ddb.us-east-1.amazonaws.com", 443),
    REFUSE(ACCOUNT ".ddb.eu-west-1.amazonaws.com", 443),
    REFUSE("vpce-abc.dynamodb.eu-west-1.vpce.amazonaws.com", 443),
    /* partition mismatch */
    REFUSE("dynamodb.cn-north-1.amazonaws.com", 443),
    REFUSE("dynamodb.us-east-1.amazonaws.com.cn", 443),
    REFUSE("vpce-abc.dynamodb.cn-north-1.vpce.amazonaws.com", 443),
    /* not DynamoDB, or not AWS */
    REFUSE("s3.amazonaws.com", 443),
    REFUSE("s3.us-east-1.amazonaws.com", 443),
    REFUSE("sts.us-east-1.amazonaws.com", 443),
    REFUSE("dynamodb.amazonaws.com", 443),
    REFUSE("amazonaws.com", 443),
    REFUSE(".amazonaws.com", 443),
    REFUSE("example.com", 443),
    REFUSE("evilamazonaws.com", 443),
    REFUSE("dynamodb.us-east-1.evilamazonaws.com", 443),
    REFUSE("dynamodb.us-east-1.amazonaws.com.evil.example", 443),
    REFUSE("dynamodb.us-east-1.amazonaws.com.", 443),
    /* wrong shapes: prefixes, too many labels, empty labels, bad characters */
    REFUSE("x.dynamodb.us-east-1.amazonaws.com", 443),
    REFUSE("ddb.us-east-1.amazonaws.com", 443),
    REFUSE("dynamodb.dynamodb.us-east-1.amazonaws.com", 443),
    REFUSE("a.b.c.d.e.f.g.h.amazonaws.com", 443),
    REFUSE("vpce-a.b.dynamodb.us-east-1.vpce.amazonaws.com", 443),
    REFUSE("dynamodb..amazonaws.com", 443),
    REFUSE("dynamodb.us-east-1..amazonaws.com", 443),
    REFUSE(".dynamodb.us-east-1.amazonaws.com", 443),
    REFUSE("dynamodb.us_east_1.amazonaws.com", 443),
    REFUSE("12345678901.ddb.us-east-1.amazonaws.com", 443),
    REFUSE("1234567890123.ddb.us-east-1.amazonaws.com", 443),
    REFUSE("12345678901x.ddb.us-east-1.amazonaws.com", 443),
    REFUSE("vpce-.dynamodb.us-east-1.vpce.amazonaws.com", 443),
    REFUSE("vpce_abc.dynamodb.us-east-1.vpce.amazonaws.com", 443),
    REFUSE("vpce-abc.dynamodb.us-east-1.amazonaws.com", 443),
    REFUSE("vpce-abc.streams.us-east-1.vpce.amazonaws.com", 443),
    REFUSE("endpoint-abc.dynamodb.us-east-1.vpce.amazonaws.com", 443),
    /* VPC endpoint names the config does not list: made up, or another id in a configured region */
    REFUSE("vpce-made-up.dynamodb.us-east-1.vpce.amazonaws.com", 443),
    REFUSE("vpce-0a1b2c3d4e5f-abcdefgi.dynamodb.us-east-1.vpce.amazonaws.com", 443),
    /* not valid DNS names: a label over 63 octets, a label starting or ending with '-' */
    REFUSE("vpce-0123456789012345678901234567890123456789012345678901234567.dynamodb.us-east-1.vpce.amazonaws.com",
           443),
    REFUSE("dynamodb.us-east-1-.amazonaws.com", 443),
    REFUSE("dynamodb.-us-east-1.amazonaws.com", 443),
    /* IP literals */
    REFUSE("127.0.0.1", 443),
    REFUSE("169.254.169.254", 443),
    REFUSE("::1", 443),
    REFUSE("[::1]", 443),
    /* empty */
    REFUSE("", 443),
};

static void
check_case(struct fixture *f, const struct resolve_case *c)
{
	const struct route *r = NULL;
	char why[200] = "", url[300];
	enum egress_verdict v = egress_resolve(f->e, c->host, strlen(c->host), c->port, &r, why, sizeof(why));

	if (v != c->want)
		fail_msg("%s:%u: got verdict %d (%s), want %d", c->host, c->port, (int)v, why, (int)c->want);
	if (v != EGRESS_ALLOWED) {
		assert_true(why[0] != '\0'); /* every refusal says why */
		return;
	}
	assert_non_null(r);
	assert_string_equal(r->connect_host, c->connect_host);
	assert_string_equal(r->scope.region, c->region);
	assert_string_equal(r->scope.account, c->account);
	assert_string_equal(r->scope.partition, c->partition);
	assert_string_equal(r->upstream_addr, c->upstream_addr);
	/* A name serves one service, and its pool is named after the endpoint, wherever the route goes. */
	snprintf(url, sizeof(url), "https://%s", r->connect_host);
	if (c->svc == STREAMS) {
		assert_null(r->dynamodb);
		assert_non_null(r->streams);
		assert_string_equal(upstream_pool_url(r->streams), url);
	} else {
		assert_non_null(r->dynamodb);
		assert_null(r->streams);
		assert_string_equal(upstream_pool_url(r->dynamodb), url);
	}
}

static void
test_resolve_table(void **state)
{
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]); i++)
		check_case(f, &resolve_cases[i]);
	/* and again: cached routes answer the same */
	for (i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]); i++)
		check_case(f, &resolve_cases[i]);
}

static void
test_routes_are_created_once_per_name(void **state)
{
	struct fixture *f = *state;
	const struct route *a = NULL, *b = NULL, *c = NULL;
	char why[200];

	assert_int_equal(resolve(f, "dynamodb.us-east-1.amazonaws.com", &a, why), EGRESS_ALLOWED);
	assert_int_equal(resolve(f, "DYNAMODB.us-east-1.amazonaws.com", &b, why), EGRESS_ALLOWED);
	assert_ptr_equal(a, b);
	assert_int_equal(resolve(f, "dynamodb-fips.us-east-1.amazonaws.com", &c, why), EGRESS_ALLOWED);
	assert_ptr_not_equal(a, c);
	assert_ptr_not_equal(a->dynamodb, c->dynamodb);
	/* The pool's URL is the endpoint name, whatever address the route sends it to. */
	assert_string_equal(upstream_pool_url(a->dynamodb), "https://dynamodb.us-east-1.amazonaws.com");
	/* A cached name is still refused on another port. */
	assert_int_equal(egress_resolve(f->e, "dynamodb.us-east-1.amazonaws.com", 32, 8443, &b, why, sizeof(why)),
	                 EGRESS_REFUSED);
}

/* host_len counts, not NUL: the name is exactly the bytes given. */
static void
test_resolve_uses_host_len(void **state)
{
	struct fixture *f = *state;
	const struct route *r = NULL;
	static const char buf[] = "dynamodb.us-east-1.amazonaws.com:443";
	static const char nul[] = "dynamodb.us-east-1.amazonaws.com\0.evil.example";
	char why[200], big[300];

	assert_int_equal(egress_resolve(f->e, buf, 32, 443, &r, why, sizeof(why)), EGRESS_ALLOWED);
	assert_string_equal(r->connect_host, "dynamodb.us-east-1.amazonaws.com");
	assert_int_equal(egress_resolve(f->e, buf, 31, 443, &r, why, sizeof(why)), EGRESS_REFUSED);
	assert_int_equal(egress_resolve(f->e, buf, 36, 443, &r, why, sizeof(why)), EGRESS_REFUSED);
	/* An embedded NUL is not a name (the HTTP parser never passes one; the resolver must not either). */
	assert_int_equal(egress_resolve(f->e, nul, sizeof(nul) - 1, 443, &r, why, sizeof(why)), EGRESS_REFUSED);
	assert_int_equal(resolve(f, "dynamodb.us-east-1.amazonaws.com/x", &r, why), EGRESS_REFUSED);
	assert_int_equal(resolve(f, "dynamodb.us-east-1.amazonaws.com:443", &r, why), EGRESS_REFUSED);
	assert_int_equal(resolve(f, "dynamodb.us-east-1.amazonaws.com ", &r, why), EGRESS_REFUSED);
	/* Longer than a DNS name can be. */
	memset(big, 'a', sizeof(big));
	memcpy(big + sizeof(big) - 33, ".dynamodb.us-east-1.amazonaws.com", 33);
	assert_int_equal(egress_resolve(f->e, big, sizeof(big), 443, &r, why, sizeof(why)), EGRESS_REFUSED);
}

static void
test_account_ids_default_to_account_id(void **state)
{
	struct fixture *f = fixture_new(ca_crt_path, ca_key_path, "\"regions\":[\"eu-west-1\"]");
	const struct route *r = NULL;
	char why[200];

	assert_non_null(f->e);
	assert_int_equal(f->cfg->egress.cert_validity_s, 86400);
	assert_int_equal(f->cfg->egress.max_cached_certs, 1024);
	assert_int_equal(resolve(f, ACCOUNT ".ddb.eu-west-1.amazonaws.com", &r, why), EGRESS_ALLOWED);
	assert_string_equal(r->scope.account, ACCOUNT);
	assert_string_equal(r->scope.region, "eu-west-1");
	assert_string_equal(r->upstream_addr, ACCOUNT ".ddb.eu-west-1.amazonaws.com:443");
	assert_int_equal(resolve(f, OTHER_ACCOUNT ".ddb.eu-west-1.amazonaws.com", &r, why), EGRESS_REFUSED);
	assert_non_null(strstr(why, "account"));
	assert_int_equal(resolve(f, "dynamodb.us-east-1.amazonaws.com", &r, why), EGRESS_REFUSED);
	assert_non_null(strstr(why, "region"));
	fixture_free(f);
}

static void
test_max_cached_certs(void **state)
{
	struct fixture *f = fixture_new(ca_crt_path, ca_key_path,
	    "\"regions\":[\"us-east-1\"],\"max_cached_certs\":2,\"vpc_endpoints\":["
	    "\"vpce-1.dynamodb.us-east-1.vpce.amazonaws.com\",\"vpce-2.dynamodb.us-east-1.vpce.amazonaws.com\","
	    "\"vpce-3.dynamodb.us-east-1.vpce.amazonaws.com\"]");
	const struct route *ddb = NULL, *v1 = NULL, *v2 = NULL, *r = NULL;
	char why[200];

	assert_non_null(f->e);
	assert_int_equal(resolve(f, "vpce-1.dynamodb.us-east-1.vpce.amazonaws.com", &v1, why), EGRESS_ALLOWED);
	assert_int_equal(resolve(f, "vpce-2.dynamodb.us-east-1.vpce.amazonaws.com", &v2, why), EGRESS_ALLOWED);
	/* both VPC endpoint slots are held by open tunnels: a third cannot evict them */
	assert_int_equal(resolve(f, "vpce-3.dynamodb.us-east-1.vpce.amazonaws.com", &r, why), EGRESS_FAILED);
	assert_non_null(strstr(why, "max_cached_certs"));
	/* the regional, FIPS, Streams and account-based names have reserved slots: always served */
	assert_int_equal(resolve(f, "dynamodb.us-east-1.amazonaws.com", &ddb, why), EGRESS_ALLOWED);
	assert_int_equal(resolve(f, "dynamodb-fips.us-east-1.amazonaws.com", &r, why), EGRESS_ALLOWED);
	egress_release(f->e, r);
	assert_int_equal(resolve(f, "streams.dynamodb.us-east-1.amazonaws.com", &r, why), EGRESS_ALLOWED);
	egress_release(f->e, r);
	assert_int_equal(resolve(f, ACCOUNT ".ddb.us-east-1.amazonaws.com", &r, why), EGRESS_ALLOWED);
	egress_release(f->e, r);
	/* names not listed are refused, never FAILED, and take nothing */
	assert_int_equal(resolve(f, "vpce-4.dynamodb.us-east-1.vpce.amazonaws.com", &r, why), EGRESS_REFUSED);
	assert_int_equal(resolve(f, "example.com", &r, why), EGRESS_REFUSED);
	/* once vpce-1's tunnel closes it is the least recently used free VPC entry, and makes room */
	egress_release(f->e, v1);
	assert_int_equal(resolve(f, "vpce-3.dynamodb.us-east-1.vpce.amazonaws.com", &r, why), EGRESS_ALLOWED);
	egress_release(f->e, r);
	egress_release(f->e, v2);
	/* everything free now: churning VPC endpoint names never evicts the regional name's route */
	egress_release(f->e, ddb);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(resolve(f, i % 2 ? "vpce-1.dynamodb.us-east-1.vpce.amazonaws.com"
						  : "vpce-2.dynamodb.us-east-1.vpce.amazonaws.com", &r, why), EGRESS_ALLOWED);
		egress_release(f->e, r);
	}
	assert_int_equal(resolve(f, "dynamodb.us-east-1.amazonaws.com", &r, why), EGRESS_ALLOWED);
	assert_ptr_equal(r, ddb);
	egress_release(f->e, r);
	fixture_free(f);
}

/* A route naming a VPC endpoint lists it; the config refuses what is not a VPC endpoint name. */
static void
test_vpc_endpoints_config(void **state)
{
	struct fixture *f = fixture_new(ca_crt_path, ca_key_path,
	    "\"regions\":[\"us-east-1\"],\"routes\":[{\"host\":\"vpce-r.dynamodb.us-east-1.vpce.amazonaws.com\","
	    "\"to\":\"127.0.0.1:9\"}]");
	const struct route *r = NULL;
	char why[200];

	assert_non_null(f->e);
	assert_int_equal(resolve(f, "vpce-r.dynamodb.us-east-1.vpce.amazonaws.com", &r, why), EGRESS_ALLOWED);
	assert_string_equal(r->upstream_addr, "127.0.0.1:9");
	egress_release(f->e, r);
	assert_int_equal(resolve(f, "vpce-s.dynamodb.us-east-1.vpce.amazonaws.com", &r, why), EGRESS_REFUSED);
	assert_non_null(strstr(why, "egress.vpc_endpoints"));
	fixture_free(f);
	assert_null(load_config(ca_crt_path, ca_key_path,
	    "\"regions\":[\"us-east-1\"],\"vpc_endpoints\":[\"dynamodb.us-east-1.amazonaws.com\"]"));
	assert_null(load_config(ca_crt_path, ca_key_path, "\"regions\":[\"us-east-1\"],\"vpc_endpoints\":[]"));
}

static void
test_egress_new_refuses_bad_ca(void **state)
{
	struct fixture *f;

	/* a leaf certificate is not a CA, even with its own key */
	f = fixture_new(leaf_crt_path, leaf_key_path, "\"regions\":[\"us-east-1\"]");
	assert_null(f->e);
	fixture_free(f);
	/* a certificate and someone else's key */
	f = fixture_new(ca_crt_path, leaf_key_path, "\"regions\":[\"us-east-1\"]");
	assert_null(f->e);
	fixture_free(f);
	/* a missing file; a key file that is a certificate */
	f = fixture_new("/nonexistent/gateway-ca.crt", ca_key_path, "\"regions\":[\"us-east-1\"]");
	assert_null(f->e);
	fixture_free(f);
	f = fixture_new(ca_crt_path, ca_crt_path, "\"regions\":[\"us-east-1\"]");
	assert_null(f->e);
	fixture_free(f);
}

/* ------------------------------------------------------------------------
 * Minted certificates
 */

static X509 *
tunnel_cert(struct fixture *f, const char *host, SSL **out_ssl)
{
	const struct route *r = NULL;
	char why[200];
	SSL *ssl;

	assert_int_equal(resolve(f, host, &r, why), EGRESS_ALLOWED);
	ssl = egress_tunnel_ssl(f->e, r);
	assert_non_null(ssl);
	*out_ssl = ssl;
	return SSL_get_certificate(ssl);
}

static void
check_minted(X509 *cert, const char *host)
{
	GENERAL_NAMES *san;
	const GENERAL_NAME *gn;
	const ASN1_STRING *dns;
	BASIC_CONSTRAINTS *bc;
	EXTENDED_KEY_USAGE *eku;
	char cn[256];
	int diff_days, diff_secs, crit = 0;
	time_t now = time(NULL);

	/* SAN: exactly one DNS name, the host */
	san = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	assert_non_null(san);
	assert_int_equal(sk_GENERAL_NAME_num(san), 1);
	gn = sk_GENERAL_NAME_value(san, 0);
	assert_int_equal(gn->type, GEN_DNS);
	dns = gn->d.dNSName;
	assert_int_equal(ASN1_STRING_length(dns), (int)strlen(host));
	assert_memory_equal(ASN1_STRING_get0_data(dns), host, strlen(host));
	GENERAL_NAMES_free(san);
	assert_int_equal(X509_check_host(cert, host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL), 1);
	assert_int_equal(X509_check_host(cert, "dynamodb.eu-west-1.amazonaws.com", 0, 0, NULL), 0);
	/* CN */
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, host);
	/* issuer and signature */
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca_cert)), 0);
	assert_int_equal(X509_verify(cert, ca_key), 1);
	assert_int_equal(X509_check_issued(ca_cert, cert), X509_V_OK);
	/* lifetime: cert_validity_s from now, started BACKDATE_S ago */
	assert_int_equal(ASN1_TIME_diff(&diff_days, &diff_secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)),
	                 1);
	assert_int_equal(diff_days * 86400 + diff_secs, VALIDITY_S + BACKDATE_S);
	assert_true(X509_cmp_time(X509_get0_notBefore(cert), &now) < 0);
	now += VALIDITY_S - 60;
	assert_true(X509_cmp_time(X509_get0_notAfter(cert), &now) > 0);
	/* not a CA; digitalSignature only; serverAuth */
	bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_false(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_check_ca(cert), 0);
	assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_SERVER);
	eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, NULL);
	assert_non_null(eku);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
	EXTENDED_KEY_USAGE_free(eku);
	/* authority key id points at the CA */
	assert_non_null(X509_get0_authority_key_id(cert));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert), X509_get0_subject_key_id(ca_cert)), 0);
}

/* The chain verifies against the CA alone, name constraints included, for the TLS server purpose. */
static void
check_chain(X509 *cert, const char *host)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();

	assert_int_equal(X509_STORE_add_cert(store, ca_cert), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0);
	if (X509_verify_cert(ctx) != 1)
		fail_msg("%s: %s", host, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
}

static void
test_minted_certificate(void **state)
{
	static const char *const hosts[] = {
	    "dynamodb.us-east-1.amazonaws.com",
	    ACCOUNT ".ddb.us-east-1.amazonaws.com",
	    "streams.dynamodb.cn-north-1.amazonaws.com.cn",
	    "vpce-0a1b2c3d4e5f-abcdefgh.dynamodb.us-east-1.vpce.amazonaws.com",
	};
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		SSL *ssl;
		X509 *cert = tunnel_cert(f, hosts[i], &ssl);

		assert_non_null(cert);
		check_minted(cert, hosts[i]);
		check_chain(cert, hosts[i]);
		SSL_free(ssl);
	}
}

static void
test_minted_certificate_is_cached_per_name(void **state)
{
	struct fixture *f = *state;
	SSL *a, *b, *c;
	X509 *ca_ = tunnel_cert(f, "dynamodb.us-east-1.amazonaws.com", &a);
	X509 *cb = tunnel_cert(f, "DYNAMODB.US-EAST-1.AMAZONAWS.COM", &b);
	X509 *cc = tunnel_cert(f, "dynamodb-fips.us-east-1.amazonaws.com", &c);

	/* one shared server context; the cached certificate object itself is reused per name */
	assert_ptr_equal(SSL_get_SSL_CTX(a), SSL_get_SSL_CTX(c));
	assert_ptr_equal(ca_, cb);
	assert_int_equal(X509_cmp(ca_, cb), 0);
	assert_ptr_not_equal(ca_, cc);
	assert_int_not_equal(X509_cmp(ca_, cc), 0);
	/* distinct random serials */
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca_), X509_get0_serialNumber(cc)), 0);
	SSL_free(a);
	SSL_free(b);
	SSL_free(c);
}

/*
 * A handshake in memory between a client (trusting only the test CA,
 * checking `verify_name`, sending `sni` or none) and the tunnel's SSL.
 * Returns true if both sides completed.
 */
static bool
handshake(SSL *server, const char *sni, const char *verify_name)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	X509_STORE *store = SSL_CTX_get_cert_store(cctx);
	SSL *client;
	BIO *cbio, *sbio;
	int i, cr = 0, sr = 0;

	X509_STORE_add_cert(store, ca_cert);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	client = SSL_new(cctx);
	if (sni != NULL)
		SSL_set_tlsext_host_name(client, sni);
	SSL_set1_host(client, verify_name);
	assert_int_equal(BIO_new_bio_pair(&cbio, 0, &sbio, 0), 1);
	SSL_set_bio(client, cbio, cbio);
	SSL_set_bio(server, sbio, sbio);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);
	for (i = 0; i < 20 && (cr != 1 || sr != 1); i++) {
		if (cr != 1)
			cr = SSL_do_handshake(client);
		if (sr != 1)
			sr = SSL_do_handshake(server);
		if ((cr <= 0 && SSL_get_error(client, cr) != SSL_ERROR_WANT_READ) ||
		    (sr <= 0 && SSL_get_error(server, sr) != SSL_ERROR_WANT_READ))
			break;
	}
	ERR_clear_error();
	SSL_free(client);
	SSL_CTX_free(cctx);
	return cr == 1 && sr == 1;
}

static void
test_tunnel_handshake_checks_sni(void **state)
{
	static const char host[] = "dynamodb.us-east-1.amazonaws.com";
	struct fixture *f = *state;
	SSL *ssl;

	tunnel_cert(f, host, &ssl);
	assert_true(handshake(ssl, host, host));
	SSL_free(ssl);
	tunnel_cert(f, host, &ssl);
	assert_true(handshake(ssl, "DynamoDB.US-East-1.amazonaws.com", host)); /* SNI is case-insensitive */
	SSL_free(ssl);
	tunnel_cert(f, host, &ssl);
	assert_false(handshake(ssl, "dynamodb-fips.us-east-1.amazonaws.com", host));
	SSL_free(ssl);
	tunnel_cert(f, host, &ssl);
	assert_false(handshake(ssl, "example.com", host));
	SSL_free(ssl);
	tunnel_cert(f, host, &ssl);
	assert_false(handshake(ssl, NULL, host)); /* no SNI at all */
	SSL_free(ssl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_resolve_table, setup_std, teardown_std),
	    cmocka_unit_test_setup_teardown(test_routes_are_created_once_per_name, setup_std, teardown_std),
	    cmocka_unit_test_setup_teardown(test_resolve_uses_host_len, setup_std, teardown_std),
	    cmocka_unit_test(test_account_ids_default_to_account_id),
	    cmocka_unit_test(test_max_cached_certs),
	    cmocka_unit_test(test_vpc_endpoints_config),
	    cmocka_unit_test(test_egress_new_refuses_bad_ca),
	    cmocka_unit_test_setup_teardown(test_minted_certificate, setup_std, teardown_std),
	    cmocka_unit_test_setup_teardown(test_minted_certificate_is_cached_per_name, setup_std, teardown_std),
	    cmocka_unit_test_setup_teardown(test_tunnel_handshake_checks_sni, setup_std, teardown_std),
	};

	json_init();
	tls_init();
	return cmocka_run_group_tests(tests, make_ca, remove_ca);
}
