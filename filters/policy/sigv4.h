/*
 * sigv4: AWS Signature Version 4, both ways.
 *
 * Verification of a client's signature with a key pair the gateway issued
 * (identities' "issued_keys"), and signing of the requests the credential
 * broker sends upstream with the gateway's own AWS credentials. One
 * implementation of the canonical request serves both, so a request the
 * gateway signs verifies with the same code (tests/unit/filters/policy/
 * test_sigv4.c also runs AWS's own test vectors through it).
 *
 * Reference: AWS General Reference, "Create a signed AWS API request"
 * (canonical request, string to sign, signing key, signature). Nothing here
 * allocates; secrets are wiped from the stack before returning.
 *
 * Also: the AWS account encoded in an access key id, for the formats that
 * carry one (sigv4_akid_account()).
 */
#ifndef DDBGUARD_FILTERS_SIGV4_H
#define DDBGUARD_FILTERS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>


#define SIGV4_SCHEME_NAME "AWS4-HMAC-SHA256"

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

/* One request header as received (name in any case, value untrimmed). */
struct sigv4_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* What a signature covers. `path`/`query`: the request-target split at '?' (query without it). */
struct sigv4_request {
	const char *method;
	const char *path;
	size_t path_len;
	const char *query;
	size_t query_len;
	const struct sigv4_header *headers;
	size_t nheaders;
	const void *body;
	size_t body_len;
};

/* AWS's own clock skew allowance (General Reference: requests are valid for 15 minutes). */
#define SIGV4_DEFAULT_SKEW_S 900
/* Largest canonical request we build: DynamoDB heads are far smaller (limits.max_header_bytes). */
#define SIGV4_CANONICAL_MAX 16384

enum sigv4_result {
	SIGV4_OK,
	SIGV4_MALFORMED,	 /* X-Amz-Date missing or not YYYYMMDD'T'HHMMSS'Z', a signed header absent */
	SIGV4_SCOPE_MISMATCH,	 /* credential scope date is not X-Amz-Date's day */
	SIGV4_EXPIRED,		 /* X-Amz-Date outside the skew window */
	SIGV4_PAYLOAD_MISMATCH,	 /* X-Amz-Content-Sha256 present and not the body's hash */
	SIGV4_BAD_SIGNATURE,	 /* the signature does not match */
};

/*
 * Builds the canonical request for `req` with the headers named in
 * `signed_headers` (';'-separated, lower case, as in Authorization).
 * Writes at most `cap` bytes (NUL-terminated) and returns the length, or 0 if
 * it does not fit or a signed header is absent.
 */
size_t sigv4_canonical_request(const struct sigv4_request *req, const char *signed_headers, char *out,
    size_t cap);

/*
 * Verifies the signature in `auth` over `req` with `secret`, at time `now`
 * (seconds since the epoch) allowing `skew_s` either way. On failure *why is a
 * static, secret-free sentence for the client and the log. The comparison of
 * signatures takes the same time wherever they differ (CRYPTO_memcmp).
 */
enum sigv4_result sigv4_verify(const struct sigv4_request *req, const struct sigv4_auth *auth,
    const char *secret, time_t now, unsigned skew_s, const char **why);

/* The credentials a request is signed with; `session_token` NULL for long-term keys. */
struct sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
};

/*
 * Signs `req` for `region`/`service` at `now`. `req->headers` must already
 * hold every header to sign (Host, X-Amz-Date from sigv4_amz_date(), and
 * X-Amz-Security-Token for session credentials); `signed_headers` names them,
 * sorted. Writes the Authorization header value. False if it does not fit.
 */
bool sigv4_sign(const struct sigv4_request *req, const char *signed_headers, const struct sigv4_credentials *cr,
    const char *region, const char *service, time_t now, char *authz, size_t cap);

/* "YYYYMMDDTHHMMSSZ" for `now` into out[17]. */
void sigv4_amz_date(time_t now, char out[17]);

/* Lower-case hex SHA-256 of data into out[65]. */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * The AWS account an access key id encodes, into out[13] (12 digits).
 * Only for the formats documented to carry it: 20 characters, prefix AKIA
 * (long-term) or ASIA (temporary), and a fifth character of Q-Z or 2-7 (the
 * format AWS has issued since 2019; the account is bits 46..7 of the base32
 * decoding of the characters after the prefix). Any other id returns false:
 * its account is unknown, and callers must treat it so.
 */
bool sigv4_akid_account(const char *akid, char out[13]);

#endif
