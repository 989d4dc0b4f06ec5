/*
 * explain: `ddbguard explain`, a policy simulator (proxy/tools/explain.h).
 *
 * It runs the stages of request_decide() (proxy/request.c) with the same
 * functions, in the same order: HTTP parse, catalog lookup, SigV4
 * Authorization parse and scope checks, strict JSON parse and inspection,
 * identity match, condition keys and policy evaluation. The decision it
 * prints is policy_explain()'s, which fills it with policy_evaluate() itself,
 * so it cannot drift from the request path's. What it adds is tracing: every
 * statement of the identity's policies against every action and resource of
 * the call, and every condition key value the policies asked for.
 *
 * XXX the GeoIP databases are not opened: ddbguard:SourceCountry and
 * ddbguard:SourceASN are absent here. XXX Signatures are parsed, never
 * verified: neither is the gateway's (the upstream verifies them).
 */
#include "proxy/tools/explain.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "filters/dynamodb/catalog.h"
#include "filters/policy/condkeys.h"
#include "filters/policy/geoip.h"
#include "filters/policy/identity.h"
#include "filters/dynamodb/inspect.h"
#include "filters/dynamodb/json.h"
#include "filters/policy/policy.h"
#include "proxy/http.h"
#include "proxy/upstream.h"
#include "proxy/runtime.h"
#include "proxy/request.h"

/* Largest input read: a head and a body at the hardest limits, with room for a human's formatting. */
#define EXPLAIN_INPUT_MAX (64u * 1024 * 1024)
/* Distinct (key, tag) pairs recorded; more are evaluated but not listed. */
#define EXPLAIN_MAX_KEYS 64
#define EXPLAIN_KEY_TEXT 512

enum explain_exit {
	EXPLAIN_ALLOW = 0,
	EXPLAIN_DENY = 1,
	EXPLAIN_USAGE = 2,
};

struct explain_key {
	int id;
	char name[160];
	char text[EXPLAIN_KEY_TEXT];
};

/* Wraps condkeys_lookup() to record which keys the policies asked for, and what they got. */
struct explain_keys {
	struct condkeys_request *cr;
	size_t n, dropped;
	struct explain_key k[EXPLAIN_MAX_KEYS];
};

/* One call as explain sees it; strings point into `input`, `conv`, the JSON document or the arena. */
struct explain_call {
	const struct config *cfg;
	bool from_json;
	const char *target;
	size_t target_len;
	const char *access_key_id; /* NULL: none */
	const char *source_ip;	   /* NULL: aws:SourceIp absent */
	const char *listener;	   /* the listener the call comes in on (identities by listener); NULL: none */
	struct identity_addr addr; /* source_ip parsed, for identities by source range */
	bool brokered;		   /* the credential broker would sign it upstream */
	char scope_account[13];	   /* the account names are evaluated in */
	bool tls;
	const char *body;
	size_t body_len;
	struct sigv4_auth auth;
	const struct catalog_action *action;
	const struct identity *identity;
	enum identity_match how;
	struct inspect_result *inspect;
	const cJSON *tree;
	char refusal[600]; /* "" while the call is not refused */
	const char *refusal_code;
};

static void
explain_usage(FILE *f)
{
	fprintf(f, "usage: ddbguard explain -c FILE [--request FILE] [--source-ip ADDR] [--tls]\n"
		   "  -c, --config FILE   configuration file\n"
		   "  -r, --request FILE  the request (default: standard input), either a raw HTTP\n"
		   "                      request (CRLF or LF line ends) or a JSON document:\n"
		   "                      {\"target\": \"DynamoDB_20120810.GetItem\", \"access_key_id\": \"...\",\n"
		   "                       \"source_ip\": \"10.0.0.1\", \"tls\": true, \"body\": {...}}\n"
		   "      --source-ip ADDR  the client address for a raw HTTP request (aws:SourceIp)\n"
		   "      --tls             the raw HTTP request came over TLS (aws:SecureTransport)\n"
		   "exit status: 0 allowed, 1 denied or refused, 2 usage or configuration error\n");
}

static void explain_refuse(struct explain_call *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
explain_refuse(struct explain_call *c, const char *code, const char *fmt, ...)
{
	va_list ap;

	c->refusal_code = code;
	va_start(ap, fmt);
	vsnprintf(c->refusal, sizeof(c->refusal), fmt, ap);
	va_end(ap);
}

/* Reads all of `f`; NULL (message printed) on error or past EXPLAIN_INPUT_MAX. The caller frees. */
static char *
explain_read_all(FILE *f, const char *name, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);

	while (buf != NULL) {
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0)
			break;
		if (n == cap) {
			char *bigger;

			if (cap >= EXPLAIN_INPUT_MAX) {
				fprintf(stderr, "ddbguard explain: %s: larger than %u bytes\n", name, EXPLAIN_INPUT_MAX);
				free(buf);
				return NULL;
			}
			cap *= 2;
			if ((bigger = realloc(buf, cap + 1)) == NULL)
				break;
			buf = bigger;
		}
	}
	if (buf == NULL || ferror(f)) {
		fprintf(stderr, "ddbguard explain: %s: cannot read%s\n", name, buf == NULL ? " (out of memory)" : "");
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* ---- input: raw HTTP ---- */

/*
 * Splits a raw request into head and body. A file without any CRLF is taken
 * as written by a human with LF line ends: its head is rewritten with CRLF
 * into *conv (the caller frees it). Returns false (message in c->refusal) when
 * the head does not end.
 */
static bool
explain_split_http(struct explain_call *c, const char *in, size_t len, char **conv, const char **head,
    size_t *head_len)
{
	const char *end = memmem(in, len, "\r\n\r\n", 4);

	*conv = NULL;
	if (end != NULL) {
		*head = in;
		*head_len = (size_t)(end - in) + 4;
		c->body = end + 4;
	} else if (memmem(in, len, "\r\n", 2) == NULL && (end = memmem(in, len, "\n\n", 2)) != NULL) {
		size_t lf_head = (size_t)(end - in) + 2, o = 0;
		char *h = malloc(2 * lf_head + 1);

		if (h == NULL) {
			explain_refuse(c, "InternalFailure", "out of memory");
			return false;
		}
		for (size_t i = 0; i < lf_head; i++) {
			if (in[i] == '\n')
				h[o++] = '\r';
			h[o++] = in[i];
		}
		h[o] = '\0';
		*conv = h;
		*head = h;
		*head_len = o;
		c->body = in + lf_head;
	} else {
		explain_refuse(c, "SerializationException",
		    "the request head does not end with an empty line (CRLF CRLF, or LF LF in an LF-only file)");
		return false;
	}
	c->body_len = len - (size_t)(c->body - in);
	return true;
}

static bool
explain_parse_http(struct explain_call *c, const char *in, size_t len, char **conv, struct http_message *msg)
{
	const struct limits_config *lc = &c->cfg->limits;
	struct http_limits lim = { .max_header_bytes = lc->max_header_bytes, .max_headers = lc->max_headers,
		.max_body_bytes = lc->max_body_bytes };
	struct http_error err = { 0 };
	const char *head;
	size_t head_len;

	if (!explain_split_http(c, in, len, conv, &head, &head_len))
		return false;
	if (head_len > lim.max_header_bytes) {
		explain_refuse(c, "SerializationException", "the head is %zu bytes, limits.max_header_bytes is %zu",
		    head_len, lim.max_header_bytes);
		return false;
	}
	if (http_parse_request(head, head_len, &lim, msg, &err) != HTTP_OK) {
		explain_refuse(c, "SerializationException", "HTTP request refused: %s%s%s%s",
		    err.reason != NULL ? err.reason : "malformed", err.field[0] != '\0' ? " (" : "", err.field,
		    err.field[0] != '\0' ? ")" : "");
		return false;
	}
	if (msg->has_content_length && msg->content_length != c->body_len) {
		/* Humans' files end in a newline the SDK would not send: trim whitespace past Content-Length. */
		size_t want = (size_t)msg->content_length, i;

		for (i = want; i < c->body_len && strchr(" \t\r\n", c->body[i]) != NULL; i++)
			;
		if (want < c->body_len && i == c->body_len) {
			c->body_len = want;
		} else {
			printf("note: Content-Length is %llu but the file has %zu body bytes; using the file's\n",
			    (unsigned long long)msg->content_length, c->body_len);
		}
	}
	return true;
}

/* ---- input: JSON description ---- */

static const char *
explain_json_string(const cJSON *doc, const char *key, bool required, bool *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);

	if (v == NULL && !required)
		return NULL;
	if (!cJSON_IsString(v)) {
		fprintf(stderr, "ddbguard explain: request \"%s\": expected a string, got %s\n", key,
		    json_type_name(v));
		*ok = false;
		return NULL;
	}
	return v->valuestring;
}

/* Returns false (message printed) on a malformed description: a usage error. */
static bool
explain_parse_json(struct explain_call *c, cJSON *doc, char **body_text)
{
	static const char *const keys[] = { "target", "access_key_id", "source_ip", "tls", "body", "listener" };
	const cJSON *m, *tls, *body;
	bool ok = true;

	if (!cJSON_IsObject(doc)) {
		fprintf(stderr, "ddbguard explain: the request is not a JSON object\n");
		return false;
	}
	cJSON_ArrayForEach(m, doc) {
		size_t k;

		for (k = 0; k < sizeof(keys) / sizeof(keys[0]) && strcmp(keys[k], m->string) != 0; k++)
			;
		if (k == sizeof(keys) / sizeof(keys[0])) {
			fprintf(stderr,
			    "ddbguard explain: request: unknown key \"%s\" (expected target, access_key_id, "
			    "source_ip, tls, body, listener)\n",
			    m->string);
			ok = false;
		}
	}
	c->target = explain_json_string(doc, "target", true, &ok);
	c->target_len = c->target != NULL ? strlen(c->target) : 0;
	c->access_key_id = explain_json_string(doc, "access_key_id", false, &ok);
	if (cJSON_GetObjectItemCaseSensitive(doc, "source_ip") != NULL)
		c->source_ip = explain_json_string(doc, "source_ip", false, &ok);
	if (cJSON_GetObjectItemCaseSensitive(doc, "listener") != NULL)
		c->listener = explain_json_string(doc, "listener", false, &ok);
	tls = cJSON_GetObjectItemCaseSensitive(doc, "tls");
	if (tls != NULL && !cJSON_IsBool(tls)) {
		fprintf(stderr, "ddbguard explain: request \"tls\": expected true or false, got %s\n",
		    json_type_name(tls));
		ok = false;
	}
	if (tls != NULL)
		c->tls = cJSON_IsTrue(tls);
	body = cJSON_GetObjectItemCaseSensitive(doc, "body");
	if (body != NULL && !cJSON_IsObject(body)) {
		fprintf(stderr, "ddbguard explain: request \"body\": expected an object, got %s\n",
		    json_type_name(body));
		ok = false;
	}
	if (!ok)
		return false;
	/* Serialized again so the body goes through the same strict parser as a real one. */
	*body_text = body != NULL ? cJSON_PrintUnformatted(body) : strdup("{}");
	if (*body_text == NULL) {
		fprintf(stderr, "ddbguard explain: out of memory\n");
		return false;
	}
	c->body = *body_text;
	c->body_len = strlen(*body_text);
	return true;
}

/* ---- the decision: the daemon's own ---- */

/*
 * A JSON description as the request an SDK would send, so it goes through the
 * same parser and stages as a real one: the Authorization header names the
 * access key (signatures are AWS's to check, not ddbguard's) and the region
 * of the reverse endpoint.
 */
static char *
explain_json_head(const struct explain_call *c, size_t *len)
{
	char *head = NULL;
	int n;

	if (strcspn(c->target, "\r\n") != c->target_len ||
	    (c->access_key_id != NULL && strcspn(c->access_key_id, "\r\n") != strlen(c->access_key_id)))
		return NULL;
	if (c->access_key_id != NULL)
		n = asprintf(&head,
		    "POST / HTTP/1.1\r\nHost: explain.invalid\r\nX-Amz-Target: %s\r\n"
		    "Content-Type: application/x-amz-json-1.0\r\nContent-Length: %zu\r\n"
		    "Authorization: AWS4-HMAC-SHA256 Credential=%s/20000101/%s/dynamodb/aws4_request, "
		    "SignedHeaders=host, Signature=%064d\r\n\r\n",
		    c->target, c->body_len, c->access_key_id, c->cfg->upstream.region, 0);
	else
		n = asprintf(&head,
		    "POST / HTTP/1.1\r\nHost: explain.invalid\r\nX-Amz-Target: %s\r\n"
		    "Content-Type: application/x-amz-json-1.0\r\nContent-Length: %zu\r\n\r\n",
		    c->target, c->body_len);
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return head;
}

/*
 * Runs request_decide() on the call with a runtime prepared from the same
 * config as the daemon's (pools exist but are never used: nothing is
 * forwarded), so the simulator cannot disagree with the gateway. Fills `c`
 * with what the stages found.
 */
static bool
explain_decide(struct explain_call *c, struct runtime *rt, struct request *r, struct http_message *msg,
    struct json_arena *arena)
{
	const struct upstream_config *u = &c->cfg->upstream;
	bool ok;

	runtime_prepare(rt, c->cfg);
	if (u->dynamodb.host != NULL)
		rt->reverse.dynamodb = upstream_pool_new(NULL, NULL, NULL, &u->dynamodb, u, &rt->response_limits);
	if (u->has_streams)
		rt->reverse.streams = upstream_pool_new(NULL, NULL, NULL, &u->streams, u, &rt->response_limits);
	const struct listener_config *lc = NULL;

	for (size_t i = 0; c->listener != NULL && i < c->cfg->nlisteners; i++) {
		if (strcmp(c->cfg->listeners[i].name, c->listener) == 0)
			lc = &c->cfg->listeners[i];
	}
	rt->explain = true; /* issued keys' signatures are assumed good: a description carries none */
	r->inspect = c->inspect;
	request_begin(r, lc, c->source_ip, &rt->reverse);
	if (c->source_ip != NULL && identity_addr_parse(c->source_ip, &c->addr))
		r->client_addr = &c->addr;
	r->http = msg;
	r->tls_version = c->tls ? "TLSv1.3" : NULL; /* aws:SecureTransport */
	ok = request_decide(rt, r, c->body, c->body_len, arena);
	c->action = r->action;
	c->identity = r->identity;
	c->how = r->identity_match;
	c->tree = r->body;
	c->brokered = r->brokered;
	snprintf(c->scope_account, sizeof(c->scope_account), "%s", r->scope.account ? r->scope.account : "");
	c->access_key_id = r->has_auth ? r->auth.access_key_id : c->access_key_id;
	if (!ok) {
		c->refusal_code = r->error_code;
		snprintf(c->refusal, sizeof(c->refusal), "%s", r->reason);
	}
	return ok;
}

static const char *
explain_key_name(int id, const char *tag, char *buf, size_t len)
{
	size_t n;
	const struct condition_key_def *defs = condkeys_registry(&n);

	for (size_t i = 0; i < n; i++) {
		if (defs[i].id == id) {
			snprintf(buf, len, "%s%s", defs[i].name, tag != NULL ? tag : "");
			return buf;
		}
	}
	snprintf(buf, len, "key #%d%s%s", id, tag != NULL ? "/" : "", tag != NULL ? tag : "");
	return buf;
}

static void
explain_lookup(void *ctx, int key_id, const char *tag, struct condition_request_values *out)
{
	struct explain_keys *ek = ctx;
	struct explain_key *k;
	char name[160];
	size_t used = 0;

	condkeys_lookup(ek->cr, key_id, tag, out);
	explain_key_name(key_id, tag, name, sizeof(name));
	for (size_t i = 0; i < ek->n; i++) {
		if (ek->k[i].id == key_id && strcmp(ek->k[i].name, name) == 0)
			return;
	}
	if (ek->n == EXPLAIN_MAX_KEYS) {
		ek->dropped++;
		return;
	}
	k = &ek->k[ek->n++];
	k->id = key_id;
	snprintf(k->name, sizeof(k->name), "%s", name);
	if (!out->present || out->n == 0) {
		snprintf(k->text, sizeof(k->text), "(absent)");
		return;
	}
	k->text[0] = '\0';
	for (size_t i = 0; i < out->n && used < sizeof(k->text); i++) {
		const char *v = out->values[i];

		used += (size_t)snprintf(k->text + used, sizeof(k->text) - used, "%s%s%s%s", i > 0 ? ", " : "",
		    v != NULL ? "\"" : "", v != NULL ? v : "(a value of the wrong JSON type)", v != NULL ? "\"" : "");
	}
}

struct explain_trace {
	FILE *out;
	size_t nacts;
	bool any_shadow; /* some statement is in shadow mode */
};

static void
explain_statement(void *arg, const struct policy_trace *t)
{
	struct explain_trace *et = arg;
	FILE *f = et->out;

	fprintf(f, "  %s / Statement[%u]", t->policy, t->index);
	if (t->sid != NULL)
		fprintf(f, " (Sid %s)", t->sid);
	fprintf(f, " %s", t->deny ? "Deny" : "Allow");
	if (t->shadow)
		fprintf(f, " [shadow]");
	et->any_shadow = et->any_shadow || t->shadow;
	if (et->nacts > 1)
		fprintf(f, " %s", t->action->iam_action);
	if (!t->action_matches) {
		fprintf(f, ": action does not match → does not apply\n");
		return;
	}
	fprintf(f, ": action matches");
	for (size_t i = 0; i < t->nres; i++)
		fprintf(f, ", resource %s %s", t->resources[i], t->resource_matches[i] ? "matches" : "does not match");
	if (t->cond != POLICY_COND_SKIPPED)
		fprintf(f, ", %s", policy_cond_result_name(t->cond));
	if (t->applies)
		fprintf(f, " → %s\n", t->deny ? "DENIES" : "ALLOWS");
	else
		fprintf(f, " → does not apply\n");
}

/* ---- output ---- */

static void
explain_print_call(const struct explain_call *c)
{
	const struct catalog_action *acts[POLICY_CALL_MAX_ACTIONS];
	size_t nacts;

	if (c->identity != NULL) {
		if (c->how == IDENTITY_BY_DEFAULT)
			printf("identity: %s (the default identity: access key %s matches no identity)\n",
			    identity_name(c->identity), c->access_key_id != NULL ? c->access_key_id : "(none)");
		else
			printf("identity: %s (matched by access key %s)\n", identity_name(c->identity),
			    c->access_key_id);
	} else if (c->access_key_id != NULL && c->refusal_code != NULL &&
		   strcmp(c->refusal_code, "AccessDeniedException") == 0) {
		printf("identity: none (no ddbguard identity matches access key %s and there is no default identity)\n",
		    c->access_key_id);
	} else if (c->access_key_id != NULL) {
		printf("identity: not reached (access key %s; the call was refused before the identity stage)\n",
		    c->access_key_id);
	}
	if (c->identity != NULL && c->brokered)
		printf("signed upstream by: the credential broker, with %s%s (never the caller's key); names are "
		    "evaluated in account %s\n", identity_broker_role(c->identity) ? "the role " : "the gateway's own credentials",
		    identity_broker_role(c->identity) ? identity_broker_role(c->identity) : "", c->scope_account);
	if (c->action == NULL)
		return;
	nacts = policy_call_actions(c->action, c->tree != NULL ? c->inspect : NULL, acts);
	printf("action: %s (%s)\n", c->action->iam_action, catalog_class_name(c->action->class_));
	for (size_t i = 1; i < nacts; i++)
		printf("  also authorized as: %s (IAM's action for the statement's verb)\n", acts[i]->iam_action);
	if (c->tree == NULL)
		return;
	if (c->inspect->n == 0) {
		printf("resources: * (the action names no resource)\n");
	} else {
		printf("resources:\n");
		for (size_t i = 0; i < c->inspect->n; i++)
			printf("  %s (%s, from %s)\n", c->inspect->res[i].arn, inspect_type_name(c->inspect->res[i].type),
			    c->inspect->res[i].location != NULL ? c->inspect->res[i].location : "?");
	}
	if (c->inspect->partiql_statement != NULL)
		printf("partiql: %s\n", c->inspect->partiql_statement);
	printf("source ip: %s, tls: %s\n", c->source_ip != NULL ? c->source_ip : "(none)", c->tls ? "yes" : "no");
}

static void
explain_print_decision(const struct explain_call *c, const struct policy_decision *d, const char *label)
{
	const char *act = d->action != NULL ? d->action->iam_action : c->action->iam_action;

	switch (d->effect) {
	case POLICY_ALLOW:
		if (d->policy == NULL) {
			printf("%s: allow (shadow mode: no enforcing statement allows %s on %s, and what does not allow it "
			       "is in shadow)\n", label, act, d->resource);
			break;
		}
		printf("%s: allow (%s on %s%s, by %s / Statement[%u]%s%s%s)\n", label, act, d->resource,
		    c->inspect->n > 1 ? " and the other resources" : "", d->policy, d->statement_index,
		    d->sid != NULL ? " (Sid " : "", d->sid != NULL ? d->sid : "", d->sid != NULL ? ")" : "");
		break;
	case POLICY_DENY_EXPLICIT:
		printf("%s: explicit deny (%s on %s, by %s / Statement[%u]%s%s%s)\n", label, act, d->resource, d->policy,
		    d->statement_index, d->sid != NULL ? " (Sid " : "", d->sid != NULL ? d->sid : "",
		    d->sid != NULL ? ")" : "");
		break;
	case POLICY_DENY_IMPLICIT:
		printf("%s: implicit deny (no statement allows %s on %s)\n", label, act, d->resource);
		break;
	}
}

/* Runs the policy stage and prints everything; returns the exit status. */
static int
explain_policy(struct explain_call *c, const struct runtime *rt, bool allowed)
{
	const struct policy *const *policies;
	struct condkeys_env env = { .tables = c->cfg->tables, .ntables = c->cfg->ntables, .geoip = rt->geoip };
	struct condkeys_request *keys = calloc(1, sizeof(*keys));
	struct explain_keys *ek = calloc(1, sizeof(*ek));
	const struct catalog_action *acts[POLICY_CALL_MAX_ACTIONS];
	struct explain_trace et = { 0 };
	struct policy_decision d, enforced, would;
	bool shadowed;
	struct timespec now;
	char *trace = NULL;
	size_t trace_len = 0, n;
	int rc;

	if (keys == NULL || ek == NULL || (et.out = open_memstream(&trace, &trace_len)) == NULL) {
		free(keys);
		free(ek);
		fprintf(stderr, "ddbguard explain: out of memory\n");
		return EXPLAIN_USAGE;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	condkeys_request_init(keys, c->action, c->tree, c->inspect, c->source_ip, c->tls, &now, c->identity, &env);
	ek->cr = keys;
	et.nacts = policy_call_actions(c->action, c->inspect, acts);
	policies = identity_policies(c->identity, &n);
	policy_explain(policies, n, c->action, c->inspect, explain_lookup, ek, explain_statement, &et, &d);
	fclose(et.out);
	/* Shadow mode: `d` is the verdict with everything enforced; the gateway enforces `enforced`. */
	shadowed = policy_evaluate_shadow(policies, n, identity_shadow(c->identity), c->action, c->inspect,
	    explain_lookup, ek, &enforced, &would);
	/* The trace shows why; the verdict is request_decide()'s, checks after the policy included. */
	if (allowed || c->refusal_code == NULL || strcmp(c->refusal_code, "AccessDeniedException") == 0) {
		explain_print_decision(c, &enforced, "decision");
		rc = allowed ? EXPLAIN_ALLOW : EXPLAIN_DENY;
	} else {
		printf("decision: refused (%s): %s\n", c->refusal_code, c->refusal);
		rc = EXPLAIN_DENY;
	}
	if (shadowed)
		explain_print_decision(c, &would, "shadow decision (every Mode shadow enforced)");
	else if (et.any_shadow || identity_shadow(c->identity))
		printf("shadow decision (every Mode shadow enforced): the same\n");
	if (identity_shadow(c->identity))
		printf("identity %s is in shadow mode (\"mode\": \"shadow\"): its denials are logged, not enforced\n",
		    identity_name(c->identity));
	explain_print_call(c);
	if (ek->n == 0) {
		printf("condition keys consulted: none\n");
	} else {
		printf("condition keys consulted:\n");
		for (size_t i = 0; i < ek->n; i++)
			printf("  %s = %s\n", ek->k[i].name, ek->k[i].text);
		if (ek->dropped > 0)
			printf("  (%zu more not shown)\n", ek->dropped);
	}
	printf("policies of identity %s: ", identity_name(c->identity));
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i > 0 ? ", " : "", policies[i] != NULL ? policy_name(policies[i]) : "?");
	printf("%s\nstatements:\n%s", n == 0 ? "(none)" : "", trace != NULL ? trace : "");
	free(trace);
	free(keys);
	free(ek);
	return rc;
}

static int
explain_run(struct explain_call *c, const char *in, size_t len)
{
	struct http_message *msg = NULL;
	struct json_arena *arena = json_arena_new(65536);
	struct runtime rt = { 0 };
	struct request r = { 0 };
	char *conv = NULL, *body_text = NULL, gerr[256] = "";
	size_t head_len = 0;
	bool allowed;
	cJSON *doc = NULL;
	size_t skip = strspn(in, " \t\r\n");
	int rc = EXPLAIN_DENY;

	if (c->cfg->upstream.region == NULL || c->cfg->upstream.dynamodb.host == NULL) {
		fprintf(stderr, "ddbguard explain: simulates the reverse listener, and this config has no "
				"upstream.dynamodb endpoint\n");
		return EXPLAIN_USAGE;
	}
	c->inspect = calloc(1, sizeof(*c->inspect));
	if (arena == NULL || c->inspect == NULL) {
		fprintf(stderr, "ddbguard explain: out of memory\n");
		rc = EXPLAIN_USAGE;
		goto out;
	}
	if (skip < len && in[skip] == '{') {
		c->from_json = true;
		if ((doc = cJSON_ParseWithLength(in, len)) == NULL) {
			fprintf(stderr, "ddbguard explain: the request starts with '{' but is not valid JSON\n");
			rc = EXPLAIN_USAGE;
			goto out;
		}
		if (!explain_parse_json(c, doc, &body_text)) {
			rc = EXPLAIN_USAGE;
			goto out;
		}
	} else {
		if ((msg = calloc(1, sizeof(*msg))) == NULL) {
			fprintf(stderr, "ddbguard explain: out of memory\n");
			rc = EXPLAIN_USAGE;
			goto out;
		}
		if (!explain_parse_http(c, in + skip, len - skip, &conv, msg)) {
			printf("decision: refused (%s): %s\n", c->refusal_code, c->refusal);
			goto out;
		}
	}
	if (c->from_json) {
		struct http_limits lim = { .max_header_bytes = EXPLAIN_INPUT_MAX, .max_headers = HTTP_MAX_HEADERS_HARD,
			.max_body_bytes = c->cfg->limits.max_body_bytes };
		struct http_error err = { 0 };

		if ((msg = calloc(1, sizeof(*msg))) == NULL || (conv = explain_json_head(c, &head_len)) == NULL) {
			fprintf(stderr, "ddbguard explain: request \"target\" or \"access_key_id\" has a line break\n");
			rc = EXPLAIN_USAGE;
			goto out;
		}
		if (http_parse_request(conv, head_len, &lim, msg, &err) != HTTP_OK) {
			printf("decision: refused (SerializationException): %s%s%s\n", err.reason, err.field[0] ? ": " : "",
			    err.field);
			goto out;
		}
	}
	/* The geoip databases the daemon would open, so country and ASN conditions explain as they decide. */
	if ((c->cfg->geoip.country_database || c->cfg->geoip.asn_database) &&
	    (rt.geoip = geoip_open(c->cfg->geoip.country_database, c->cfg->geoip.asn_database, gerr, sizeof(gerr))) ==
		NULL)
		fprintf(stderr, "ddbguard explain: geoip: %s (country and ASN keys are absent)\n", gerr);
	allowed = explain_decide(c, &rt, &r, msg, arena);
	if (c->identity == NULL) {
		/* Refused before the policy stage (which needs an identity): nothing to trace. */
		printf("decision: %s (%s): %s\n",
		    strcmp(c->refusal_code, "AccessDeniedException") == 0 ? "implicit deny" : "refused", c->refusal_code,
		    c->refusal);
		explain_print_call(c);
		goto out;
	}
	rc = explain_policy(c, &rt, allowed);
out:
	upstream_pool_free(rt.reverse.dynamodb);
	upstream_pool_free(rt.reverse.streams);
	geoip_free(rt.geoip);
	cJSON_Delete(doc);
	cJSON_free(body_text);
	free(conv);
	free(msg);
	free(c->inspect);
	json_arena_free(arena);
	return rc;
}

int
explain_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "request", required_argument, NULL, 'r' },
		{ "source-ip", required_argument, NULL, 's' },
		{ "tls", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *request = NULL, *source_ip = NULL;
	struct explain_call c = { 0 };
	struct config *cfg;
	struct diag *d;
	bool tls = false;
	char *in;
	size_t len = 0;
	FILE *f;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:r:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'r': request = optarg; break;
		case 's': source_ip = optarg; break;
		case 't': tls = true; break;
		case 'h': explain_usage(stdout); return 0;
		default: explain_usage(stderr); return EXPLAIN_USAGE;
		}
	}
	if (path == NULL || optind != argc) {
		explain_usage(stderr);
		return EXPLAIN_USAGE;
	}
	json_init();
	if ((d = diag_new(path)) == NULL)
		return EXPLAIN_USAGE;
	cfg = config_load(path, d);
	for (size_t i = 0; i < diag_count(d); i++)
		fprintf(stderr, "%s\n", diag_message(d, i));
	diag_free(d);
	if (cfg == NULL)
		return EXPLAIN_USAGE;
	f = request != NULL ? fopen(request, "rb") : stdin;
	if (f == NULL) {
		fprintf(stderr, "ddbguard explain: cannot open %s\n", request);
		config_free(cfg);
		return EXPLAIN_USAGE;
	}
	in = explain_read_all(f, request != NULL ? request : "standard input", &len);
	if (f != stdin)
		fclose(f);
	if (in == NULL) {
		config_free(cfg);
		return EXPLAIN_USAGE;
	}
	c.cfg = cfg;
	c.source_ip = source_ip;
	c.tls = tls;
	rc = explain_run(&c, in, len);
	free(in);
	config_free(cfg);
	return rc;
}
