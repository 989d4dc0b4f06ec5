/*
 * identity: who is calling, as its own pipeline stage.
 *
 * Today a caller is recognised by the access key id in its SigV4
 * Authorization credential. The stage is separate from policy so that mTLS
 * certificates, accounts, source networks and a credential broker can be
 * added as more ways to match without touching evaluation.
 *
 *   "identities": [
 *     { "name": "orders-service",
 *       "access_key_ids": ["AKIAIOSFODNN7EXAMPLE"],
 *       "policies": ["orders-rw"] },
 *     { "name": "default", "policies": ["read-only"] }    (optional fallback)
 *   ]
 *
 * An identity may carry "tags": {"team": "orders"} (at most 50; keys 1-128
 * characters of [A-Za-z0-9_.:/=+@-], unique without case; string values of
 * at most 256 characters), which policies test as ddbguard:IdentityTag/<key>.
 *
 * An identity named "default" (and only that one) may have no access keys; it
 * is used for callers no other identity matches. Without it they are denied.
 * An access key id may belong to one identity only.
 */
#ifndef DDBGUARD_FILTERS_IDENTITY_H
#define DDBGUARD_FILTERS_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "filters/base/diag.h"

struct policy;	   /* filters/policy/policy.h */
struct policy_set;

/* The parts of `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=..., Signature=...`. */
struct sigv4_auth {
	char access_key_id[129];
	char date[9];	   /* YYYYMMDD */
	char region[33];
	char service[33];
	char signed_headers[512]; /* as sent, ';'-separated lower-case names */
	char signature[65];	  /* 64 lower-case hex digits */
};

/*
 * Parses an Authorization header value strictly (RFC 9110 auth-param list as
 * SigV4 uses it; each of Credential, SignedHeaders, Signature exactly once).
 * On failure returns false and sets *why to a static message.
 */
bool sigv4_parse_authorization(const char *value, size_t len, struct sigv4_auth *out, const char **why);

struct identity; /* owned by its set */
struct identity_set;

/* Compiles "identities", resolving policy names against `policies` (which must outlive the set). */
struct identity_set *identity_set_compile(const cJSON *identities, const struct policy_set *policies,
    struct diag *d, struct diag_path *path);
void identity_set_free(struct identity_set *s); /* accepts NULL */

enum identity_match {
	IDENTITY_BY_ACCESS_KEY,
	IDENTITY_BY_DEFAULT,
	IDENTITY_UNKNOWN, /* no identity and no default: the call is denied */
};

/* What identity matching may look at; more fields come with more ways to match. */
struct identity_facts {
	const char *access_key_id; /* NULL when the request has none */
};

/* Returns the identity (or NULL when IDENTITY_UNKNOWN); never allocates. */
const struct identity *identity_set_match(const struct identity_set *s, const struct identity_facts *f,
    enum identity_match *how);

const char *identity_name(const struct identity *id);
/* "mode": "shadow": the identity's denials are reported, not enforced (policy_evaluate_shadow). NULL: false. */
bool identity_shadow(const struct identity *id);
/* The value of tag `key` (compared without case, as IAM compares tag keys in conditions); NULL if none. */
const char *identity_tag(const struct identity *id, const char *key);
const struct policy *const *identity_policies(const struct identity *id, size_t *n);
const char *identity_match_name(enum identity_match m); /* "access-key", "default", "none" */

#endif
