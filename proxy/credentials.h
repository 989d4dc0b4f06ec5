/*
 * credentials: the gateway's own AWS credentials, for the credential broker.
 *
 * Sources, tried in the configured order (credentials.sources):
 *   "environment"  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   "shared_file"  an AWS shared credentials file (INI) and profile
 *   "imds"         the EC2 instance metadata service, IMDSv2 only (a PUT for
 *                  a session token first; IMDSv1 is never used)
 * and STS AssumeRole with them (a signed POST over verified TLS).
 *
 * Everything here blocks: it runs on the broker's refresher thread
 * (proxy/broker.c), never on an event loop. Nothing here logs a secret; the
 * `why` texts name a source and what went wrong, never a key or token.
 */
#ifndef DDBGUARD_PROXY_CREDENTIALS_H
#define DDBGUARD_PROXY_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define CREDS_TOKEN_MAX 4096

struct aws_creds {
	char akid[129];
	char secret[129];	    /* wiped by creds_wipe() */
	char token[CREDS_TOKEN_MAX]; /* session token, "" for long-term keys */
	time_t expiry;		    /* 0: does not expire */
	char arn[256];		    /* the signer's ARN when the source says it (AssumeRole), else "" */
	char account[13];	    /* "" unknown */
	const char *type;	    /* "IAMUser", "AssumedRole", NULL unknown */
	const char *source;	    /* "environment", "shared_file", "imds", "sts" */
};

void creds_wipe(struct aws_creds *c);

/* Where sources and STS are (config "credentials"; see config/README.md). */
struct creds_endpoints {
	const char *shared_file; /* NULL: $AWS_SHARED_CREDENTIALS_FILE or $HOME/.aws/credentials */
	const char *profile;	 /* NULL: $AWS_PROFILE or "default" */
	const char *imds;	 /* "http://169.254.169.254" */
	const char *sts;	 /* "https://sts.<region>.amazonaws.com" */
	const char *sts_region;
	const char *ca_file; /* STS trust store; NULL: the system's */
	unsigned timeout_ms;
};

bool creds_from_environment(struct aws_creds *out, char *why, size_t whylen);
bool creds_from_shared_file(const struct creds_endpoints *ep, struct aws_creds *out, char *why, size_t whylen);
bool creds_from_imds(const struct creds_endpoints *ep, struct aws_creds *out, char *why, size_t whylen);

/* One session tag for AssumeRole. */
struct creds_tag {
	const char *key, *value;
};

bool creds_assume_role(const struct creds_endpoints *ep, const struct aws_creds *base, const char *role_arn,
    const char *session_name, const struct creds_tag *tags, size_t ntags, unsigned duration_s,
    struct aws_creds *out, char *why, size_t whylen);

/* "2026-12-06T03:04:05Z" (or with fractional seconds) as UTC; 0 if it does not parse. */
time_t creds_parse_iso8601(const char *s);

#endif
