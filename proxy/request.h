/*
 * request: one call through the gateway, and the stages that decide it.
 *
 * The pipeline is the same for every listener kind:
 *
 *   conn (HTTP parse) -> request_decide(): action -> identity -> body -> inspect -> policy
 *                     -> upstream (allowed) or request_write_refusal() (not)
 *                     -> request_log(): the record, described to the log (struct accesslog_call)
 *
 * A struct request lives inside its connection and is reused for every call
 * on it; request_begin() resets it. Pointers it holds into the connection's
 * head buffer and JSON arena stay valid until the next request_begin().
 */
#ifndef DDBGUARD_PROXY_REQUEST_H
#define DDBGUARD_PROXY_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "filters/dynamodb/catalog.h"
#include "filters/policy/identity.h"
#include "filters/dynamodb/inspect.h"
#include "filters/policy/policy.h"
#include "proxy/audit/accesslog.h"
#include "proxy/http.h"
#include "proxy/runtime.h"

struct evbuffer;
struct json_arena;
struct broker_signature;
struct condkeys_request;

/* What the log calls guard.decision. */
enum guard_decision {
	GUARD_ALLOW,  /* forwarded (whatever the upstream answered) */
	GUARD_DENY,   /* policy said no */
	GUARD_REJECT, /* malformed or unacceptable request */
	GUARD_ERROR,  /* allowed, but the upstream failed */
	GUARD_THROTTLE, /* over a rate limit (config "rate_limits") */
};

/*
 * Why a call did not get the upstream's answer. Each has one HTTP status and
 * one DynamoDB-shaped error type, in a table in request.c: the only place an
 * internal result becomes a response.
 */
enum guard_refusal {
	REFUSE_NONE,
	REFUSE_BAD_HTTP,	 /* framing, headers, limits */
	REFUSE_BAD_JSON,	 /* body is not strict JSON */
	REFUSE_UNKNOWN_ACTION,	 /* X-Amz-Target names no operation we know */
	REFUSE_BAD_SIGNATURE,	 /* Authorization unparsable */
	REFUSE_INVALID,		 /* body members of the wrong type, bad names */
	REFUSE_DENIED,		 /* policy */
	REFUSE_NO_UPSTREAM,	 /* e.g. a Streams call with no Streams endpoint */
	REFUSE_UPSTREAM_FAILED,	 /* connect, TLS, bad or truncated response */
	REFUSE_UPSTREAM_TIMEOUT,
	REFUSE_TUNNEL_DENIED,	 /* egress: CONNECT to something that is not an allowed endpoint */
	REFUSE_TOO_SLOW,	 /* the request did not arrive whole within limits.request_timeout_ms */
	REFUSE_LOG_UNWRITABLE,	 /* the access log cannot be written and access_log.fail_open is false */
	REFUSE_INVALID_SIGNATURE, /* a gateway-issued key's signature did not verify (issue 12) */
	REFUSE_UNRECOGNIZED_CLIENT, /* an issued key used outside its identity, or with a session token */
	REFUSE_NO_CREDENTIALS,	 /* the broker has no valid credentials to sign with (yet) */
	REFUSE_THROTTLED,	 /* limits.max_bodies_in_flight_bytes reached: the SDK retries */
	REFUSE_RATE_LIMITED,	 /* over a rate_limits rule: r->rate_limit says which */
	REFUSE__COUNT
};

#define REQUEST_REASON_MAX 512

struct request {
	/* when and where */
	struct timespec wall_start;
	uint64_t mono_start_ns;
	uint64_t upstream_start_ns, upstream_end_ns;
	const struct listener_config *listener;
	const char *client_ip;
	const struct route *route; /* where calls on this connection go; set by the connection */
	const char *connect_target; /* egress: the CONNECT host as asked (not NUL-terminated), even if refused */
	size_t connect_target_len;
	/* TLS the client used, for tlsDetails; NULL on a plain listener */
	const char *tls_version;
	const char *tls_cipher;

	/* what: HTTP, action, caller */
	const struct http_message *http; /* NULL if the head never parsed */
	const char *target;		 /* raw X-Amz-Target (not NUL-terminated) */
	size_t target_len;
	const struct catalog_action *action;
	/* User-Agent as sent, for the log when the head did not parse (r->http NULL); see request_note_raw_head */
	const char *raw_user_agent;
	size_t raw_user_agent_len;
	bool has_auth;
	struct sigv4_auth auth;
	const struct identity *identity;
	enum identity_match identity_match;
	const struct identity *candidate; /* matched before the body is read; becomes `identity` once proved */
	enum identity_match candidate_match;
	/* how the caller was proved (issue 12); owned by the connection */
	const struct identity_cert *peer_cert;	  /* verified client certificate, or NULL */
	const struct identity_addr *client_addr; /* parsed client_ip, or NULL */
	bool signature_verified;		  /* an issued key's signature was checked by ddbguard */
	const char *claimed_identity;		  /* identity whose issued key failed verification, or NULL */
	char key_account[13];			  /* account encoded in the access key id ("" unknown) */
	/* who signs upstream: the client, or the credential broker with the gateway's credentials */
	bool brokered;
	const char *signer_type;    /* "IAMUser", "AssumedRole", NULL: unknown */
	char signer_arn[256];	    /* the role or user ARN when known, else "" */
	char signer_account[13];    /* "" unknown */
	struct inspect_scope scope; /* names of this call: the route's, or the signer's account when brokered */
	char upstream_host[272];    /* brokered: the Host signed and sent upstream */
	const struct broker_signature *upstream_sig; /* brokered and signed: headers to add (owned by the connection) */
	struct inspect_result *inspect; /* owned by the connection */
	/*
	 * Condition-key scratch (~24 KiB), owned by the connection and reused for
	 * every call on it; NULL: stages use their own. `keys_ready` once the
	 * policy stage set it up for this call, so the log reuses what policy
	 * computed (dynamodb:Attributes) instead of computing it again.
	 */
	struct condkeys_request *keys;
	bool keys_ready;
	const cJSON *body; /* the body's tree, in the connection's arena; NULL if it did not parse to an object */
	/* Set when the body was parsed before request_decide (off the loop, proxy/offload.h): its result. */
	bool has_parsed;
	const cJSON *parsed;
	struct json_error parse_err;

	/* The config that decides this call (proxy/reload.h); kept across request_begin, released by the next call's start. */
	struct snapshot *snap;

	/* decision */
	enum guard_decision decision;
	enum guard_refusal refusal;
	struct policy_decision policy;
	/* Shadow mode: allowed, but everything enforced would have denied it as `shadow` says (guard.shadow). */
	bool shadowed;
	struct policy_decision shadow;
	const struct rate_limit_config *rate_limit; /* REFUSE_RATE_LIMITED: the rule (in r->snap's config) */
	char reason[REQUEST_REASON_MAX];

	/* response */
	int status; /* sent to the client; 0 if none was */
	const char *upstream_url;
	char upstream_peer[64]; /* address:port actually connected to */
	int upstream_status;
	char request_id[80]; /* x-amzn-RequestId from the upstream, or ours */
	char error_code[96]; /* errorCode for the log */
	uint64_t bytes_in, bytes_out;
	/* ConsumedCapacity (object or array) of a 2xx answer to a call that asked for it; in the arena, or NULL */
	const cJSON *consumed_capacity;
};

uint64_t request_now_ns(void); /* CLOCK_MONOTONIC */

/* Starts a new call record (keeps the inspect buffer pointer). */
void request_begin(struct request *r, const struct listener_config *l, const char *client_ip,
    const struct route *route);

/*
 * Decides a call whose head parsed and whose body is complete. Returns
 * true if the call may be forwarded; otherwise r->refusal says why and
 * request_write_refusal() answers it. `arena` holds the body's tree and the
 * inspector's strings; the caller resets it before the next call.
 */
bool request_decide(struct runtime *rt, struct request *r, const char *body, size_t body_len,
    struct json_arena *arena);

/*
 * Brokered calls (r->brokered), after request_decide allowed them: signs the
 * call with the broker's credentials into `sig` (owned by the caller, reused)
 * and points r->upstream_sig at it. False: refused (no credentials yet).
 */
bool request_sign_upstream(struct runtime *rt, struct request *r, struct broker_signature *sig, const char *body,
    size_t body_len);

/*
 * For the log of a request whose head did not parse (or did not arrive
 * whole): reads X-Amz-Target and User-Agent from the raw bytes leniently, so
 * the refusal record still says what the request gave (eventName, userAgent).
 * Never used to decide anything. `head` must stay valid until the record is
 * written. A no-op once r->http is set.
 */
void request_note_raw_head(struct request *r, const char *head, size_t len);

/*
 * Once r->http is set: notes the operation X-Amz-Target names, so a call
 * refused before request_decide (throttled, timed out, client gone mid-body)
 * is logged with its eventName. Decides nothing; request_decide looks again.
 */
void request_note_target(struct request *r);

/* Records a refusal decided outside request_decide (framing errors, upstream failures). */
void request_refuse(struct request *r, enum guard_refusal why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Appends the complete HTTP response for r->refusal to `out`: status line,
 * headers (Content-Type, Content-Length, x-amzn-RequestId, Connection: close
 * when `close`), and {"__type": ..., "message": ...}. Sets r->status.
 */
void request_write_refusal(struct request *r, struct evbuffer *out, bool close);

/* True when the body asks DynamoDB to report ConsumedCapacity (ReturnConsumedCapacity other than NONE). */
bool request_wants_capacity(const struct request *r);

/* Which upstream pool of r->route serves r->action (NULL: none). */
struct upstream_pool *request_pool(const struct request *r);

/*
 * Writes r's access-log record: describes the call to the log as a struct
 * accesslog_call (proxy/audit/accesslog.h) and hands it over. The log sees
 * names and facts, never the connection or the policy engine.
 */
void request_log(struct runtime *rt, struct request *r);
/*
 * request_log() for an allowed call whose response waits for its record
 * (access_log.sync "every_call"): accesslog_write_wait() on rt's loop, which
 * says whether w->done will run (proxy/audit/accesslog.h).
 */
enum accesslog_queued request_log_wait(struct runtime *rt, struct request *r, struct accesslog_wait *w);

const char *guard_decision_name(enum guard_decision d); /* "allow", "deny", "reject", "error", "throttle" */

#endif
