/*
 * identity: who is calling, as its own pipeline stage.
 *
 * An identity is matched by any combination of these (all that it lists must
 * hold; see config/README.md "identities" for each one's threat model):
 *
 *   "access_key_ids":  the access key id of the SigV4 Authorization (claimed,
 *                      not proved: AWS verifies it, or nobody on a denied call)
 *   "issued_keys":     key pairs the gateway issued; the secret is read from
 *                      "secret_file" and ddbguard verifies the signature itself
 *   "client_certificate": {"subjects", "dns_names", "uris"}: a certificate
 *                      verified by a TLS listener with "client_ca"; one of the
 *                      listed values must be its subject (RFC 2253), a DNS SAN
 *                      or a URI SAN (SPIFFE IDs are URI SANs)
 *   "source_cidrs":    the client's address is in one of the ranges
 *   "listeners":       the call came in on one of the named listeners
 *
 *   "identities": [
 *     { "name": "orders-service",
 *       "access_key_ids": ["AKIAIOSFODNN7EXAMPLE"],
 *       "policies": ["orders-rw"] },
 *     { "name": "default", "policies": ["read-only"] }    (optional fallback)
 *   ]
 *
 * Two identities that could both match one call are a config error: for
 * every criterion either one lacks it or their values could coincide.
 *
 * An identity may carry "tags": {"team": "orders"} (at most 50; keys 1-128
 * characters of [A-Za-z0-9_.:/=+@-], unique without case; string values of
 * at most 256 characters), which policies test as ddbguard:IdentityTag/<key>.
 *
 * An identity named "default" (and only that one) matches on nothing; it is
 * used for callers no other identity matches. Without it they are denied.
 * An access key id may belong to one identity only.
 */
#ifndef DDBGUARD_FILTERS_IDENTITY_H
#define DDBGUARD_FILTERS_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "filters/base/diag.h"
#include "filters/policy/sigv4.h"

struct policy;	   /* filters/policy/policy.h */
struct policy_set;

struct identity; /* owned by its set */
struct identity_set;

/* What the rest of the config tells identity compilation. */
struct identity_env {
	const char *base_dir;		   /* resolves relative "secret_file" paths; NULL: as given */
	const char *const *listeners;	   /* names of the configured listeners */
	const bool *listener_client_cert;  /* per listener: verifies client certificates ("client_ca") */
	size_t nlisteners;
	const char *account_id;		   /* the config's account_id */
};

/* Compiles "identities", resolving policy names against `policies` (which must outlive the set). */
struct identity_set *identity_set_compile(const cJSON *identities, const struct policy_set *policies,
    struct diag *d, struct diag_path *path);
/* The same with the rest of the config known: listener names and client CAs are checked, secret files read. */
struct identity_set *identity_set_compile_env(const cJSON *identities, const struct policy_set *policies,
    const struct identity_env *env, struct diag *d, struct diag_path *path);
void identity_set_free(struct identity_set *s); /* accepts NULL */

/* How the matched identity was named: its strongest criterion. */
enum identity_match {
	IDENTITY_BY_ACCESS_KEY,
	IDENTITY_BY_DEFAULT,
	IDENTITY_UNKNOWN, /* no identity and no default: the call is denied */
	IDENTITY_BY_CERTIFICATE,
	IDENTITY_BY_NETWORK, /* source range and/or listener only */
};

/* Criteria an identity lists (all of which held when it matched), as bits. */
#define IDENTITY_CRIT_KEY (1u << 0)
#define IDENTITY_CRIT_CERT (1u << 1)
#define IDENTITY_CRIT_SOURCE (1u << 2)
#define IDENTITY_CRIT_LISTENER (1u << 3)
#define IDENTITY_CRIT_ISSUED_KEY (1u << 4) /* the key is one the gateway issued: its signature is verified */

/* A client certificate the listener verified: its subject and SANs (borrowed from the connection). */
struct identity_cert {
	const char *subject; /* RFC 2253, as OpenSSL prints it with XN_FLAG_RFC2253 */
	const char *const *dns;
	size_t ndns;
	const char *const *uris;
	size_t nuris;
};

/* A client address: AF_INET (4 bytes used) or AF_INET6; IPv4-mapped IPv6 is stored as AF_INET. */
struct identity_addr {
	int family; /* 0: unknown */
	unsigned char a[16];
};

bool identity_addr_parse(const char *text, struct identity_addr *out);

/* What identity matching may look at. */
struct identity_facts {
	const char *access_key_id; /* NULL when the request has none */
	const struct identity_cert *cert; /* NULL: no verified client certificate */
	const struct identity_addr *source; /* NULL: unknown */
	const char *listener;		    /* name of the listener the call came in on; NULL: unknown */
};

/* Returns the identity (or NULL when IDENTITY_UNKNOWN); never allocates. */
const struct identity *identity_set_match(const struct identity_set *s, const struct identity_facts *f,
    enum identity_match *how);

const char *identity_name(const struct identity *id);
/* "mode": "shadow": the identity's denials are reported, not enforced (policy_evaluate_shadow). NULL: false. */
bool identity_shadow(const struct identity *id);
/* The value of tag `key` (compared without case, as IAM compares tag keys in conditions); NULL if none. */
const char *identity_tag(const struct identity *id, const char *key);
/* The identity's tags in config order (STS session tags for brokered identities). */
size_t identity_tag_count(const struct identity *id);
void identity_tag_at(const struct identity *id, size_t i, const char **key, const char **value);
const struct policy *const *identity_policies(const struct identity *id, size_t *n);
const char *identity_match_name(enum identity_match m); /* "access-key", "default", "none", "certificate", "network" */
unsigned identity_criteria(const struct identity *id); /* IDENTITY_CRIT_* bits */
/* The secret of a gateway-issued key of `id`, or NULL when `akid` is not one (never log it). */
const char *identity_issued_secret(const struct identity *id, const char *akid);
/* The identity `akid` was issued to (its issued_keys), or NULL when it is not a gateway-issued key. */
const struct identity *identity_set_issued_owner(const struct identity_set *s, const char *akid);
/* The role the broker assumes for `id` (NULL: none); whether calls of `id` are re-signed by the broker. */
const char *identity_broker_role(const struct identity *id);
bool identity_brokered(const struct identity *id);
/* The config accepts that callers of `id` may act in another account with bare table names ("accept_risk"). */
bool identity_accepts_foreign_credentials(const struct identity *id);
/* True when any client key id passes for `id` (it lists no access key): foreign credentials could get through. */
bool identity_any_key(const struct identity *id);

/* --check: reports identities that could let credentials of another AWS account through. */
typedef void (*identity_lint_fn)(void *arg, const char *path, const char *msg);
void identity_set_lint(const struct identity_set *s, const char *account_id, identity_lint_fn fn, void *arg);
/* Every identity in config order, for tools. */
size_t identity_set_count(const struct identity_set *s);
const struct identity *identity_set_at(const struct identity_set *s, size_t i);

#endif
