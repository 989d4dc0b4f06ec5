#include "proxy/request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <event2/buffer.h>

#include "filters/policy/condkeys.h"
#include "filters/policy/geoip.h"
#include "filters/dynamodb/json.h"
#include "proxy/audit/accesslog.h"
#include "proxy/audit/ids.h"
#include "proxy/audit/jsonw.h"
#include "proxy/metrics.h"
#include "proxy/ratelimit.h"
#include "proxy/snapshot.h"
#include "proxy/broker.h"
#include "proxy/upstream.h"

/*
 * The one table that turns an internal result into what the client sees.
 * Types are the ones DynamoDB itself uses, so SDKs map them to the same
 * exceptions; 5xx statuses are ones every SDK retries.
 */
static const struct refusal_info {
	int status;
	const char *reason_phrase;
	const char *type; /* __type */
	const char *code; /* errorCode in the log: the part after '#' */
	enum guard_decision decision;
} refusal_table[REFUSE__COUNT] = {
	[REFUSE_NONE] = { 500, "Internal Server Error", "com.amazon.coral.service#InternalFailure",
	    "InternalFailure", GUARD_ERROR },
	[REFUSE_BAD_HTTP] = { 400, "Bad Request", "com.amazon.coral.service#SerializationException",
	    "SerializationException", GUARD_REJECT },
	[REFUSE_BAD_JSON] = { 400, "Bad Request", "com.amazon.coral.service#SerializationException",
	    "SerializationException", GUARD_REJECT },
	[REFUSE_UNKNOWN_ACTION] = { 400, "Bad Request", "com.amazon.coral.service#UnknownOperationException",
	    "UnknownOperationException", GUARD_REJECT },
	[REFUSE_BAD_SIGNATURE] = { 400, "Bad Request",
	    "com.amazon.coral.service#IncompleteSignatureException", "IncompleteSignatureException",
	    GUARD_REJECT },
	[REFUSE_INVALID] = { 400, "Bad Request", "com.amazon.coral.validate#ValidationException",
	    "ValidationException", GUARD_REJECT },
	[REFUSE_DENIED] = { 400, "Bad Request", "com.amazon.coral.service#AccessDeniedException",
	    "AccessDeniedException", GUARD_DENY },
	[REFUSE_NO_UPSTREAM] = { 400, "Bad Request", "com.amazon.coral.validate#ValidationException",
	    "ValidationException", GUARD_REJECT },
	[REFUSE_UPSTREAM_FAILED] = { 502, "Bad Gateway",
	    "com.amazon.coral.service#ServiceUnavailableException", "ServiceUnavailableException",
	    GUARD_ERROR },
	[REFUSE_UPSTREAM_TIMEOUT] = { 504, "Gateway Timeout",
	    "com.amazon.coral.service#ServiceUnavailableException", "ServiceUnavailableException",
	    GUARD_ERROR },
	/*
	 * A refused CONNECT: SDKs and the AWS CLI show only "Failed to connect to
	 * proxy URL", so the status line itself says who refused and where to look.
	 */
	[REFUSE_TUNNEL_DENIED] = { 403, "Forbidden by ddbguard (see its access log)",
	    "com.amazon.coral.service#AccessDeniedException", "AccessDeniedException", GUARD_DENY },
	[REFUSE_TOO_SLOW] = { 408, "Request Timeout", "com.amazon.coral.service#RequestTimeoutException",
	    "RequestTimeoutException", GUARD_REJECT },
	/* 503 + ServiceUnavailableException: SDKs back off and retry until the log is writable again. */
	/* The shapes DynamoDB answers a bad signature and an unknown key with: SDKs do not retry them. */
	[REFUSE_INVALID_SIGNATURE] = { 400, "Bad Request", "com.amazon.coral.service#InvalidSignatureException",
	    "InvalidSignatureException", GUARD_REJECT },
	[REFUSE_UNRECOGNIZED_CLIENT] = { 400, "Bad Request",
	    "com.amazon.coral.service#UnrecognizedClientException", "UnrecognizedClientException", GUARD_REJECT },
	/* 503: SDKs retry, and the broker's next refresh may have succeeded by then. */
	[REFUSE_NO_CREDENTIALS] = { 503, "Service Unavailable",
	    "com.amazon.coral.service#ServiceUnavailableException", "ServiceUnavailableException", GUARD_ERROR },
	[REFUSE_LOG_UNWRITABLE] = { 503, "Service Unavailable",
	    "com.amazon.coral.service#ServiceUnavailableException", "ServiceUnavailableException",
	    GUARD_ERROR },
	/* DynamoDB's own shape for "slow down": SDKs retry it with backoff (proxy/inflight.h). */
	[REFUSE_THROTTLED] = { 400, "Bad Request", "com.amazon.coral.availability#ThrottlingException",
	    "ThrottlingException", GUARD_REJECT },
	/* DynamoDB's own throttling shape: SDKs back off and retry it (botocore: a throttling error code). */
	[REFUSE_RATE_LIMITED] = { 400, "Bad Request", "com.amazon.coral.availability#ThrottlingException",
	    "ThrottlingException", GUARD_THROTTLE },
};

/*
 * What the client reads instead of r->reason, for refusals whose reason names
 * internal addresses (upstream URL, resolved peer, TLS details): the log keeps
 * the reason, the caller gets this and the request id.
 */
static const char *const refusal_client_message[REFUSE__COUNT] = {
	[REFUSE_UPSTREAM_FAILED] = "ddbguard could not complete the call with DynamoDB (connection, TLS or response "
				   "failure); the gateway's log has the reason under this request id",
	[REFUSE_UPSTREAM_TIMEOUT] = "DynamoDB did not answer ddbguard in time; the gateway's log has the details under "
				    "this request id",
};

uint64_t
request_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
request_begin(struct request *r, const struct listener_config *l, const char *client_ip,
    const struct route *route)
{
	struct inspect_result *keep = r->inspect;
	struct condkeys_request *keys = r->keys;
	struct snapshot *snap = r->snap;

	memset(r, 0, sizeof(*r));
	r->inspect = keep;
	r->keys = keys;
	r->snap = snap;
	r->inspect->n = 0;
	r->inspect->primary_table = NULL;
	r->inspect->partiql_verbs = 0;
	r->inspect->partiql_statement = NULL;
	clock_gettime(CLOCK_REALTIME, &r->wall_start);
	r->mono_start_ns = request_now_ns();
	r->listener = l;
	r->client_ip = client_ip;
	r->route = route;
	r->decision = GUARD_ALLOW;
}

void
request_refuse(struct request *r, enum guard_refusal why, const char *fmt, ...)
{
	va_list ap;

	r->refusal = why;
	r->decision = refusal_table[why].decision;
	snprintf(r->error_code, sizeof(r->error_code), "%s", refusal_table[why].code);
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

const char *
guard_decision_name(enum guard_decision d)
{
	switch (d) {
	case GUARD_ALLOW: return "allow";
	case GUARD_DENY: return "deny";
	case GUARD_REJECT: return "reject";
	case GUARD_ERROR: return "error";
	case GUARD_THROTTLE: return "throttle";
	}
	return "error";
}

/* Copies at most 64 printable ASCII bytes of client input for a message; the rest becomes '?'. */
static void
printable_copy(char *dst, size_t dstlen, const char *s, size_t n)
{
	size_t i, lim = n < 64 ? n : 64;

	if (dstlen == 0)
		return;
	for (i = 0; i < lim && i + 1 < dstlen; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	dst[i] = '\0';
}

/* Case-insensitive "name:" at the start of `line`; returns the trimmed value or NULL. */
static const char *
raw_field(const char *line, const char *end, const char *name, size_t *vlen)
{
	size_t n = strlen(name);
	const char *v, *ve;

	if ((size_t)(end - line) <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	for (v = line + n + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	for (ve = end; ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'); ve--)
		;
	*vlen = (size_t)(ve - v);
	return v;
}

void
request_note_raw_head(struct request *r, const char *head, size_t len)
{
	const char *p = head, *end = head + len, *eol, *v;
	const struct catalog_action *action;
	size_t vlen;

	if (r->http != NULL || head == NULL)
		return;
	/* Skip the request line; then one field per line, the first of each name wins. */
	for (p = memchr(p, '\n', len); p != NULL && ++p < end; p = eol) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		if (r->raw_user_agent == NULL && (v = raw_field(p, eol, "user-agent", &vlen)) != NULL) {
			r->raw_user_agent = v;
			r->raw_user_agent_len = vlen;
		} else if ((v = raw_field(p, eol, "x-amz-target", &vlen)) != NULL) {
			if (r->target == NULL) {
				r->target = v;
				r->target_len = vlen;
				if (catalog_lookup_target(v, vlen, &action) == CATALOG_FOUND)
					r->action = action;
			} else if (vlen != r->target_len || memcmp(v, r->target, vlen) != 0) {
				r->action = NULL; /* two different operations: the log names neither */
			}
		}
		if (eol == end)
			break;
	}
}

void
request_note_target(struct request *r)
{
	const struct catalog_action *action;

	r->target = http_get(r->http, HTTP_HDR_X_AMZ_TARGET, &r->target_len);
	if (catalog_lookup_target(r->target, r->target_len, &action) == CATALOG_FOUND)
		r->action = action;
}

static bool
decide_action(struct request *r)
{
	char shown[80];
	enum catalog_lookup_status st;

	r->target = http_get(r->http, HTTP_HDR_X_AMZ_TARGET, &r->target_len);
	st = catalog_lookup_target(r->target, r->target_len, &r->action);
	if (st == CATALOG_FOUND)
		return true;
	printable_copy(shown, sizeof(shown), r->target, r->target_len);
	if (st == CATALOG_UNKNOWN_PREFIX)
		request_refuse(r, REFUSE_UNKNOWN_ACTION,
		    "X-Amz-Target \"%s\" is not a DynamoDB_20120810 or DynamoDBStreams_20120810 operation",
		    shown);
	else
		request_refuse(r, REFUSE_UNKNOWN_ACTION, "X-Amz-Target \"%s\" names an unknown operation",
		    shown);
	return false;
}

static bool
decide_signature(struct runtime *rt, struct request *r)
{
	const char *v, *why;
	size_t len;

	v = http_get(r->http, HTTP_HDR_AUTHORIZATION, &len);
	if (!sigv4_parse_authorization(v, len, &r->auth, &why)) {
		request_refuse(r, REFUSE_BAD_SIGNATURE, "Authorization header: %s", why);
		return false;
	}
	r->has_auth = true;
	/* AWS would refuse these too, later and less clearly; say it here. */
	if (strcmp(r->auth.service, "dynamodb") != 0) {
		request_refuse(r, REFUSE_BAD_SIGNATURE,
		    "Authorization credential scope names service \"%s\", expected \"dynamodb\"", r->auth.service);
		return false;
	}
	if (strcmp(r->auth.region, r->route->scope.region) != 0) {
		request_refuse(r, REFUSE_BAD_SIGNATURE,
		    "Authorization credential scope names region \"%s\", but this endpoint serves \"%s\"",
		    r->auth.region, r->route->scope.region);
		return false;
	}
	return true;
}

static bool
decide_body(struct runtime *rt, struct request *r, const char *body, size_t len, struct json_arena *arena,
    const cJSON **tree)
{
	struct json_error jerr;
	char why[200];
	enum inspect_status st;
	const cJSON *root;

	if (r->has_parsed) { /* parsed off the loop with the same options */
		root = r->parsed;
		jerr = r->parse_err;
	} else {
		root = json_arena_parse(arena, body, len, &rt->body_json, &jerr);
	}
	if (root == NULL) {
		if (jerr.line > 0)
			request_refuse(r, REFUSE_BAD_JSON, "request body is not acceptable JSON: %s at byte %zu",
			    jerr.msg, jerr.offset);
		else
			request_refuse(r, REFUSE_BAD_JSON, "request body is not acceptable JSON: %s", jerr.msg);
		return false;
	}
	if (!cJSON_IsObject(root)) {
		request_refuse(r, REFUSE_BAD_JSON, "request body must be a JSON object");
		return false;
	}
	r->body = root; /* for the access log's requestParameters (names only) */
	st = inspect_request(r->action, root, &r->scope, arena, r->inspect, why, sizeof(why));
	if (st != INSPECT_OK) {
		request_refuse(r, REFUSE_INVALID, "%s", why);
		return false;
	}
	*tree = root;
	return true;
}

/* The config deciding r: its snapshot's (a reload may have happened since the call started), else rt's (explain). */
static const struct config *
request_config(const struct runtime *rt, const struct request *r)
{
	return r->snap != NULL ? r->snap->cfg : rt->cfg;
}

/* Who the caller is by the facts of the connection and the key id; refusing waits for decide_identity. */
static void
match_identity(struct runtime *rt, struct request *r)
{
	struct identity_facts facts = { .access_key_id = r->auth.access_key_id, .cert = r->peer_cert,
		.source = r->client_addr, .listener = r->listener != NULL ? r->listener->name : NULL };

	r->candidate = identity_set_match(request_config(rt, r)->identities, &facts, &r->candidate_match);
	if (!sigv4_akid_account(r->auth.access_key_id, r->key_account))
		r->key_account[0] = '\0';
	r->scope = r->route->scope;
	/* Brokered: the gateway's credentials sign, so names are evaluated in their account. */
	if (identity_brokered(r->candidate)) {
		char buf[13];

		snprintf(r->signer_account, sizeof(r->signer_account), "%s",
		    broker_account_for(request_config(rt, r), r->candidate, buf));
		r->scope.account = r->signer_account;
	}
}

/*
 * A gateway-issued key proves its identity only with a signature ddbguard
 * verified (AWS General Reference, SigV4: canonical request, scope, 15-minute
 * window). The signature covers this gateway's Host and our region; an
 * issued key presented where its identity's other criteria do not hold (or
 * with a session token, which issued keys never have) is not recognised.
 */
static bool
decide_proof(struct runtime *rt, struct request *r, const char *body, size_t len)
{
	struct sigv4_header h[HTTP_MAX_HEADERS_HARD];
	struct sigv4_request sr = { .method = "POST", .path = "/", .path_len = 1, .query = "", .query_len = 0,
		.headers = h, .body = body, .body_len = len };
	const struct identity *owner = identity_set_issued_owner(request_config(rt, r)->identities, r->auth.access_key_id);
	const char *secret = identity_issued_secret(r->candidate, r->auth.access_key_id), *why = NULL;
	size_t tlen;

	if (owner == NULL)
		return true;
	if (secret == NULL) {
		r->claimed_identity = identity_name(owner);
		r->candidate = NULL;
		request_refuse(r, REFUSE_UNRECOGNIZED_CLIENT,
		    "The security token included in the request is invalid: access key %s was issued to ddbguard "
		    "identity %s, whose other conditions (listener, source range, certificate) this call does not meet",
		    r->auth.access_key_id, identity_name(owner));
		return false;
	}
	if (http_get(r->http, HTTP_HDR_X_AMZ_SECURITY_TOKEN, &tlen) != NULL) {
		r->claimed_identity = identity_name(owner);
		r->candidate = NULL;
		request_refuse(r, REFUSE_UNRECOGNIZED_CLIENT,
		    "The security token included in the request is invalid: access key %s is a long-term key issued "
		    "by ddbguard and takes no session token", r->auth.access_key_id);
		return false;
	}
	if (rt->explain) {
		r->signature_verified = true; /* explain: a description has no signature to check */
		return true;
	}
	for (size_t i = 0; i < r->http->nheaders; i++) {
		const struct http_header *x = &r->http->headers[i];

		h[sr.nheaders++] = (struct sigv4_header){ x->name, x->name_len, x->value, x->value_len };
	}
	if (sigv4_verify(&sr, &r->auth, secret, time(NULL), request_config(rt, r)->sigv4_clock_skew_s, &why) != SIGV4_OK) {
		r->claimed_identity = identity_name(owner);
		r->candidate = NULL;
		request_refuse(r, REFUSE_INVALID_SIGNATURE, "%s (access key %s, ddbguard identity %s)", why,
		    r->auth.access_key_id, identity_name(owner));
		return false;
	}
	r->signature_verified = true;
	return true;
}

/*
 * No silent cross-account path. DynamoDB resolves a bare table name in the
 * account of the key that signed; the policy evaluated it in ours. For
 * identities that pin no key (default, or by certificate / network alone)
 * and whose calls the client signs, a call naming a table without an account
 * goes through only if the key id says it is ours (sigv4_akid_account), or,
 * for key ids that say nothing, if the identity accepts that risk in so many
 * words (accept_risk). A key id that says another account is always refused.
 */
static bool
decide_account(struct runtime *rt, struct request *r)
{
	const char *ours = request_config(rt, r)->account_id;

	if (r->brokered || !identity_any_key(r->identity) || r->inspect->named_without_account == 0)
		return true;
	if (r->key_account[0] != '\0' && strcmp(r->key_account, ours) == 0)
		return true;
	if (r->key_account[0] != '\0') {
		request_refuse(r, REFUSE_DENIED,
		    "User: ddbguard identity %s is not authorized to perform: %s because access key %s belongs to AWS "
		    "account %s and the call names tables without an account, which DynamoDB would look up in that "
		    "account instead of %s; name them by ARN",
		    identity_name(r->identity), r->action->iam_action, r->auth.access_key_id, r->key_account, ours);
		return false;
	}
	if (identity_accepts_foreign_credentials(r->identity))
		return true;
	request_refuse(r, REFUSE_DENIED,
	    "User: ddbguard identity %s is not authorized to perform: %s because it accepts access keys of any AWS "
	    "account, access key %s does not encode one, and the call names tables without an account (DynamoDB "
	    "would look them up in the signer's account); name them by ARN, or see accept_risk in config/README.md",
	    identity_name(r->identity), r->action->iam_action, r->auth.access_key_id);
	return false;
}

static bool
decide_identity(struct runtime *rt, struct request *r)
{
	r->identity = r->candidate;
	r->identity_match = r->candidate_match;
	r->brokered = identity_brokered(r->identity);
	if (r->identity == NULL)
		r->signer_account[0] = '\0';
	if (r->identity != NULL)
		return true;
	request_refuse(r, REFUSE_DENIED,
	    "User: unknown caller with access key %s is not authorized to perform: %s because no ddbguard "
	    "identity matches it and there is no default identity",
	    r->auth.access_key_id, r->action->iam_action);
	return false;
}

static bool
decide_policy(struct runtime *rt, struct request *r, const cJSON *tree)
{
	const struct policy *const *policies;
	const struct policy_decision *d = &r->policy;
	struct condkeys_request local, *keys = r->keys != NULL ? r->keys : &local;
	size_t n;

	/* TLS on the client side: a TLS listener, or the egress tunnel's TLS (tls_version is set for both). */
	condkeys_request_init(keys, r->action, tree, r->inspect, r->client_ip, r->tls_version != NULL,
	    &r->wall_start, r->identity,
	    &(struct condkeys_env){ .tables = request_config(rt, r)->tables, .ntables = request_config(rt, r)->ntables,
		.geoip = r->snap ? r->snap->geoip : rt->geoip });
	r->keys_ready = keys == r->keys;
	policies = identity_policies(r->identity, &n);
	r->shadowed = policy_evaluate_shadow(policies, n, identity_shadow(r->identity), r->action, r->inspect,
	    condkeys_lookup, keys, &r->policy, &r->shadow);
	if (keys->overflow) {
		/* A value left out of a condition key could have hidden a match: fail closed. */
		request_refuse(r, REFUSE_INVALID,
		    "the request names more values for one condition key than ddbguard evaluates (see condkeys.h)");
		return false;
	}
	if (d->effect == POLICY_ALLOW)
		return true;
	if (d->effect == POLICY_DENY_EXPLICIT)
		request_refuse(r, REFUSE_DENIED,
		    "User: ddbguard identity %s is not authorized to perform: %s on resource: %s with an explicit "
		    "deny in a ddbguard policy: %s (statement %s)",
		    identity_name(r->identity), r->action->iam_action, d->resource, d->policy,
		    d->sid ? d->sid : "without Sid");
	else
		request_refuse(r, REFUSE_DENIED,
		    "User: ddbguard identity %s is not authorized to perform: %s on resource: %s because no "
		    "ddbguard policy allows the %s action",
		    identity_name(r->identity), r->action->iam_action, d->resource, r->action->iam_action);
	return false;
}

/*
 * Token buckets (proxy/ratelimit.h): after the identity and the tables are
 * known, before policy, so a noisy caller is held back whatever it asks for.
 */
static bool
decide_rate(struct request *r)
{
	const struct rate_limit_config *rl;

	if (r->snap == NULL || r->snap->rl == NULL)
		return true;
	rl = ratelimit_take(r->snap->rl, identity_name(r->identity), r->client_ip, r->action, r->inspect,
	    request_now_ns());
	if (rl == NULL)
		return true;
	r->rate_limit = rl;
	request_refuse(r, REFUSE_RATE_LIMITED, "Rate exceeded: ddbguard rate limit %s (%g calls per second, burst %u, "
	    "per %s)", rl->name, rl->rate, rl->burst, rl->per_source ? "source address" : "identity");
	return false;
}

bool
request_decide(struct runtime *rt, struct request *r, const char *body, size_t body_len,
    struct json_arena *arena)
{
	const cJSON *tree = NULL;

	if (!decide_action(r) || !decide_signature(rt, r))
		return false;
	match_identity(rt, r);
	if (!decide_body(rt, r, body, body_len, arena, &tree) || !decide_proof(rt, r, body, body_len) ||
	    !decide_identity(rt, r) || !decide_account(rt, r) || !decide_rate(r) || !decide_policy(rt, r, tree))
		return false;
	if (request_pool(r) == NULL) {
		request_refuse(r, REFUSE_NO_UPSTREAM, "%s is not served by %s", r->action->iam_action,
		    r->route->connect_host ? r->route->connect_host
					   : "this gateway (no DynamoDB Streams endpoint is configured)");
		return false;
	}
	/*
	 * Last, so the record still says what policy decided. No call is forwarded
	 * that could not be logged (proxy/audit/accesslog.h); its refusal is still queued.
	 */
	if (!accesslog_accepting(rt->alog)) {
		request_refuse(r, REFUSE_LOG_UNWRITABLE,
		    "the access log cannot be written; ddbguard refuses calls until it can log them");
		return false;
	}
	return true;
}

/* The Host a brokered call is signed for: the configured override, the tunnel's, or the upstream's authority. */
static bool
upstream_host(const struct runtime *rt, struct request *r)
{
	const char *h = request_config(rt, r)->upstream.host_header, *url, *p;
	size_t len;

	if (h != NULL) {
		len = strlen(h);
	} else if (r->route->connect_host != NULL) {
		h = http_get(r->http, HTTP_HDR_HOST, &len); /* checked against the tunnel's name (conn.c) */
	} else if (request_pool(r) != NULL && (url = upstream_pool_url(request_pool(r))) != NULL &&
		   (p = strstr(url, "://")) != NULL) {
		h = p + 3;
		len = strcspn(h, "/");
	} else {
		return false;
	}
	if (h == NULL || len == 0 || len >= sizeof(r->upstream_host))
		return false;
	memcpy(r->upstream_host, h, len);
	r->upstream_host[len] = '\0';
	return true;
}

bool
request_sign_upstream(struct runtime *rt, struct request *r, struct broker_signature *sig, const char *body,
    size_t body_len)
{
	struct sigv4_header h[HTTP_MAX_HEADERS_HARD];
	char why[256];
	size_t n = 0;

	if (sig == NULL || rt->broker == NULL || !upstream_host(rt, r)) {
		request_refuse(r, REFUSE_NO_CREDENTIALS, "the credential broker cannot sign this call");
		return false;
	}
	for (size_t i = 0; i < r->http->nheaders; i++) {
		const struct http_header *x = &r->http->headers[i];

		h[n++] = (struct sigv4_header){ x->name, x->name_len, x->value, x->value_len };
	}
	switch (broker_sign(rt->broker, r->identity, r->upstream_host, strlen(r->upstream_host), r->route->scope.region,
	    h, n, body, body_len, sig, why, sizeof(why))) {
	case BROKER_OK:
		break;
	case BROKER_NO_CREDENTIALS:
		request_refuse(r, REFUSE_NO_CREDENTIALS, "%s", why);
		return false;
	case BROKER_FAILED:
		request_refuse(r, REFUSE_UPSTREAM_FAILED, "%s", why);
		return false;
	}
	r->upstream_sig = sig;
	r->signer_type = sig->type;
	snprintf(r->signer_arn, sizeof(r->signer_arn), "%s", sig->arn);
	if (sig->account[0] != '\0')
		snprintf(r->signer_account, sizeof(r->signer_account), "%s", sig->account);
	return true;
}

bool
request_wants_capacity(const struct request *r)
{
	const cJSON *v = r->body ? cJSON_GetObjectItemCaseSensitive(r->body, "ReturnConsumedCapacity") : NULL;

	return cJSON_IsString(v) && strcmp(v->valuestring, "NONE") != 0;
}

struct upstream_pool *
request_pool(const struct request *r)
{
	if (r->action == NULL || r->route == NULL)
		return NULL;
	return r->action->service == CATALOG_SVC_STREAMS ? r->route->streams : r->route->dynamodb;
}

void
request_write_refusal(struct request *r, struct evbuffer *out, bool close)
{
	const struct refusal_info *ri = &refusal_table[r->refusal];
	char hint[sizeof(r->reason) + sizeof(r->request_id) + 128];
	const char *msg = refusal_client_message[r->refusal] != NULL ? refusal_client_message[r->refusal] : r->reason;
	struct jsonw w;

	if (r->request_id[0] == '\0')
		ids_request_id(r->request_id, sizeof(r->request_id));
	jsonw_init(&w);
	jsonw_object_begin(&w, NULL);
	jsonw_string(&w, "__type", ri->type);
	if (r->refusal == REFUSE_TUNNEL_DENIED) {
		snprintf(hint, sizeof(hint), "%s; refused by the ddbguard egress gateway, whose access log has this "
		    "CONNECT under request id %s", r->reason, r->request_id);
		msg = hint;
	}
	jsonw_string(&w, "message", msg);
	jsonw_object_end(&w);
	if (w.failed) {
		jsonw_reset(&w);
		jsonw_raw(&w, "{}", 2);
	}
	evbuffer_add_printf(out,
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/x-amz-json-1.0\r\n"
	    "Content-Length: %zu\r\n"
	    "x-amzn-RequestId: %s\r\n"
	    "%s"
	    "\r\n",
	    ri->status, ri->reason_phrase, w.len, r->request_id, close ? "Connection: close\r\n" : "");
	evbuffer_add(out, w.buf, w.len);
	jsonw_release(&w);
	r->status = ri->status;
	if (r->error_code[0] == '\0')
		snprintf(r->error_code, sizeof(r->error_code), "%s", ri->code);
}

/*
 * dynamodb:Attributes as the policy stage saw it, for the record's
 * requestParameters.attributes. The connection's scratch as the policy stage
 * left it (the key may be computed already), or set up here for a call
 * refused before it; `own` is the caller's when there is no connection
 * scratch (tests, explain). The values point into `cr`, the body and the
 * inspect result.
 */
static void
log_attributes(struct request *r, struct condkeys_request **own, struct accesslog_call *call)
{
	struct condkeys_request *cr = r->keys;
	struct condition_request_values v = { 0 };

	if (r->action == NULL || r->body == NULL || r->action->class_ == CATALOG_CLASS_ADMIN)
		return;
	if (cr == NULL && (cr = *own = malloc(sizeof(*cr))) == NULL)
		return;
	if (cr != r->keys || !r->keys_ready)
		condkeys_request_init(cr, r->action, r->body, r->inspect, NULL, false, &r->wall_start, NULL, NULL);
	condkeys_lookup(cr, CONDKEY_ATTRIBUTES, NULL, &v);
	if (v.present) {
		call->attributes = v.values;
		call->nattributes = v.n;
	}
}

/* ddbguard_refusals_total{reason}: the refusal enum's names. */
static const char *const refusal_names[REFUSE__COUNT] = {
	[REFUSE_NONE] = "internal",
	[REFUSE_BAD_HTTP] = "bad_http",
	[REFUSE_BAD_JSON] = "bad_json",
	[REFUSE_UNKNOWN_ACTION] = "unknown_action",
	[REFUSE_BAD_SIGNATURE] = "bad_signature",
	[REFUSE_INVALID] = "invalid",
	[REFUSE_DENIED] = "denied",
	[REFUSE_NO_UPSTREAM] = "no_upstream",
	[REFUSE_UPSTREAM_FAILED] = "upstream_failed",
	[REFUSE_UPSTREAM_TIMEOUT] = "upstream_timeout",
	[REFUSE_TUNNEL_DENIED] = "tunnel_denied",
	[REFUSE_TOO_SLOW] = "too_slow",
	[REFUSE_LOG_UNWRITABLE] = "log_unwritable",
	[REFUSE_INVALID_SIGNATURE] = "invalid_signature",
	[REFUSE_UNRECOGNIZED_CLIENT] = "unrecognized_client",
	[REFUSE_NO_CREDENTIALS] = "no_credentials",
	[REFUSE_THROTTLED] = "bodies_in_flight",
	[REFUSE_RATE_LIMITED] = "rate_limited",
};

/* The call's metrics (proxy/metrics.h), from what its record says. */
static void
request_count(struct runtime *rt, const struct request *r, const struct accesslog_call *call)
{
	const struct config *cfg = r->snap != NULL ? r->snap->cfg : rt->cfg;
	const char *table = r->inspect != NULL ? r->inspect->primary_table : NULL;
	struct metrics_call m = {
		.identity = call->identity,
		.action = call->event_name,
		.decision = call->decision,
		.status = r->status,
		.duration_s = call->duration_ms / 1e3,
		.upstream_s = call->upstream_url != NULL && call->upstream_duration_ms > 0 ? call->upstream_duration_ms / 1e3
											    : -1,
		.rate_limit = call->rate_limit_name,
	};
	size_t i;

	/* A table name is a label only when config "tables" lists it: bounded cardinality. */
	for (i = 0; table != NULL && cfg != NULL && i < cfg->ntables; i++)
		if (strcmp(cfg->tables[i].table, table) == 0) {
			m.table = cfg->tables[i].table;
			break;
		}
	if (r->decision != GUARD_ALLOW && r->refusal < REFUSE__COUNT)
		m.refusal = refusal_names[r->refusal];
	metrics_call(&m);
}

/* How the caller was proved, strongest first. */
static const char *
caller_proof(const struct request *r, unsigned crit)
{
	if (r->signature_verified)
		return "signature";
	if ((crit & IDENTITY_CRIT_CERT) && r->peer_cert != NULL)
		return "client-certificate";
	if (r->identity != NULL && (crit & IDENTITY_CRIT_KEY))
		return "claimed-access-key";
	if (r->identity != NULL && (crit & (IDENTITY_CRIT_SOURCE | IDENTITY_CRIT_LISTENER)))
		return "network";
	return "none";
}

/* userIdentity: the identity's criteria, the proof, the certificate, and who signed upstream. */
static void
log_caller(const struct request *r, struct accesslog_call *call)
{
	unsigned crit = identity_criteria(r->identity);

	call->signer_type = r->signer_type;
	call->signer_arn = r->signer_arn;
	call->signer_account = r->signer_account[0] != '\0' ? r->signer_account
				: !r->brokered ? r->key_account : NULL;
	call->claimed_identity = r->claimed_identity;
	call->brokered = r->brokered;
	call->proof = caller_proof(r, crit);
	if (r->identity != NULL && r->identity_match == IDENTITY_BY_DEFAULT) {
		call->matched_by[call->nmatched_by++] = "default";
	} else if (r->identity != NULL) {
		if (crit & IDENTITY_CRIT_KEY)
			call->matched_by[call->nmatched_by++] = r->signature_verified ? "issued-key" : "access-key";
		if (crit & IDENTITY_CRIT_CERT)
			call->matched_by[call->nmatched_by++] = "client-certificate";
		if (crit & IDENTITY_CRIT_SOURCE)
			call->matched_by[call->nmatched_by++] = "source-address";
		if (crit & IDENTITY_CRIT_LISTENER)
			call->matched_by[call->nmatched_by++] = "listener";
	}
	if (r->peer_cert != NULL) {
		call->has_cert = true;
		call->cert_subject = r->peer_cert->subject;
		call->cert_dns = r->peer_cert->dns;
		call->ncert_dns = r->peer_cert->ndns;
		call->cert_uris = r->peer_cert->uris;
		call->ncert_uris = r->peer_cert->nuris;
	}
}

void
request_log(struct runtime *rt, struct request *r)
{
	request_log_wait(rt, r, NULL);
}

enum accesslog_queued
request_log_wait(struct runtime *rt, struct request *r, struct accesslog_wait *w)
{
	struct accesslog_call call = { 0 };
	struct condkeys_request *own = NULL;
	char country[3] = "", asn[11] = "";
	enum accesslog_queued q = ACCESSLOG_QUEUED;

	if (rt == NULL || rt->alog == NULL)
		return ACCESSLOG_QUEUED;
	call.wall_start = r->wall_start;
	call.duration_ms = (double)(request_now_ns() - r->mono_start_ns) / 1e6;
	if (r->action != NULL) {
		call.event_name = r->action->name;
		call.action_class = catalog_class_name(r->action->class_);
		call.read_only = r->action->read_only;
		call.management = r->action->class_ == CATALOG_CLASS_ADMIN;
	}
	call.target = r->target;
	call.target_len = r->target_len;
	if (r->route != NULL) {
		call.region = r->route->scope.region;
		call.account = r->scope.account != NULL ? r->scope.account : r->route->scope.account;
	}
	call.client_ip = r->client_ip;
	if (r->http != NULL) {
		call.user_agent = http_get(r->http, HTTP_HDR_USER_AGENT, &call.user_agent_len);
		call.host = http_get(r->http, HTTP_HDR_HOST, &call.host_len);
	} else { /* a head that did not parse: what request_note_raw_head read from it */
		call.user_agent = r->raw_user_agent;
		call.user_agent_len = r->raw_user_agent_len;
	}
	if (r->has_auth) {
		call.access_key_id = r->auth.access_key_id;
		call.identity_match = identity_match_name(r->identity_match);
	}
	call.identity = r->identity ? identity_name(r->identity) : NULL;
	log_caller(r, &call);
	if (rt != NULL && rt->geoip != NULL && r->client_ip != NULL) {
		geoip_lookup(rt->geoip, r->client_ip, country, asn); /* a read of the mapped database */
		call.source_country = country;
		call.source_asn = asn;
	}
	call.listener = r->listener ? r->listener->name : NULL;
	if (r->route != NULL && r->route->connect_host != NULL) {
		call.egress = true;
		call.connect_target = r->route->connect_host;
		call.connect_target_len = strlen(r->route->connect_host);
	} else if (r->connect_target != NULL) {
		call.egress = true;
		call.connect_target = r->connect_target;
		call.connect_target_len = r->connect_target_len;
	} else {
		call.egress = r->listener != NULL && r->listener->kind == LISTENER_EGRESS;
	}
	call.tls_version = r->tls_version;
	call.tls_cipher = r->tls_cipher;
	call.inspect = r->inspect;
	call.body = r->body;
	log_attributes(r, &own, &call);
	call.decision = guard_decision_name(r->decision);
	call.reason = r->reason;
	call.policy = r->policy.policy;
	call.statement = r->policy.sid;
	call.policy_version = r->snap != NULL ? r->snap->version : NULL;
	if (r->rate_limit != NULL && r->decision == GUARD_THROTTLE) {
		call.rate_limit_name = r->rate_limit->name;
		call.rate_limit_per = r->rate_limit->per_source ? "sourceAddress" : "identity";
		call.rate_limit_rate = r->rate_limit->rate;
		call.rate_limit_burst = r->rate_limit->burst;
	}
	if (r->shadowed && r->decision == GUARD_ALLOW) {
		call.shadow_effect = policy_effect_name(r->shadow.effect);
		call.shadow_policy = r->shadow.policy;
		call.shadow_statement = r->shadow.sid;
		call.shadow_resource = r->shadow.resource;
	}
	call.status = r->status;
	call.error_code = r->error_code;
	call.request_id = r->request_id;
	call.upstream_url = r->upstream_url;
	call.upstream_peer = r->upstream_peer;
	call.upstream_status = r->upstream_status;
	if (r->decision == GUARD_ALLOW && r->upstream_status >= 400 && r->error_code[0] != '\0')
		call.upstream_error_type = r->error_code;
	if (r->upstream_end_ns > r->upstream_start_ns)
		call.upstream_duration_ms = (double)(r->upstream_end_ns - r->upstream_start_ns) / 1e6;
	call.bytes_in = r->bytes_in;
	call.bytes_out = r->bytes_out;
	call.consumed_capacity = r->consumed_capacity;
	if (w != NULL)
		q = accesslog_write_wait(rt->alog, rt->base, &call, w);
	else
		accesslog_write(rt->alog, &call);
	request_count(rt, r, &call);
	free(own);
	return q;
}
