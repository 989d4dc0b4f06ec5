/*
 * broker: the credential broker. Calls of identities with "broker" (proved
 * by a gateway-issued key's signature or a client certificate) lose the
 * client's authentication headers and are signed again with the gateway's
 * own AWS credentials (proxy/credentials.h): the base credentials from the
 * configured sources, or, for identities with a role_arn, the credentials of
 * sts:AssumeRole on that role (session name = identity, session tags =
 * identity tags), cached per identity.
 *
 * One broker per process, shared by every worker: a refresher thread fetches
 * and renews credentials before they expire (credentials.refresh_before_s,
 * at most half their lifetime); request threads only copy the current ones
 * under a mutex. A call finding none valid is refused (503, SDKs retry).
 */
#ifndef DDBGUARD_PROXY_BROKER_H
#define DDBGUARD_PROXY_BROKER_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "filters/policy/identity.h"
#include "filters/policy/sigv4.h"
#include "proxy/credentials.h"

struct broker;

/* True when some identity of `cfg` is brokered (then the daemon needs a broker). */
bool broker_needed(const struct config *cfg);

/* A broker for `cfg` (which must outlive it); fetches nothing yet. NULL: out of memory. */
struct broker *broker_new(const struct config *cfg);
/*
 * Fetches every credential once (logging what fails, without secrets) and
 * starts the refresher thread. False only if the thread cannot start: calls
 * are refused until a refresh succeeds.
 */
bool broker_start(struct broker *b);
void broker_free(struct broker *b); /* accepts NULL; stops the thread, wipes every secret */

/*
 * The account ARNs of `id`'s calls are evaluated in: the role's (role_arn),
 * else credentials.account_id, else what the base key id encodes, else the
 * config's account_id. Works without a broker (explain).
 */
const char *broker_account_for(const struct config *cfg, const struct identity *id, char buf[13]);

/* What broker_sign adds to a forwarded call, and who it says signed. */
struct broker_signature {
	char headers[CREDS_TOKEN_MAX + 1024]; /* "X-Amz-Date: ...\r\n[X-Amz-Security-Token: ...\r\n]Authorization: ...\r\n" */
	size_t len;
	const char *type; /* "AssumedRole", "IAMUser" or NULL */
	char arn[256];
	char account[13];
};

enum broker_result {
	BROKER_OK,
	BROKER_NO_CREDENTIALS, /* none fetched yet, or expired and not renewed */
	BROKER_FAILED,	       /* the request could not be signed (too large) */
};

/*
 * Signs a POST / with `host` as its Host, the client's Content-Type and
 * X-Amz-Target (taken from `headers`) and `body`, for `region`, service
 * dynamodb. `why` gets a secret-free reason on failure.
 */
enum broker_result broker_sign(struct broker *b, const struct identity *id, const char *host, size_t host_len,
    const char *region, const struct sigv4_header *headers, size_t nheaders, const void *body, size_t body_len,
    struct broker_signature *out, char *why, size_t whylen);

#endif
