/*
 * policy: IAM-style policies, compiled once at load and evaluated per call.
 *
 * Grammar (a subset of IAM's, with IAM's meaning):
 *
 *   "policies": {
 *     "<name>": {
 *       "Version": "2012-10-17",               (optional; if present must be this)
 *       "Statement": [ {                        (an object is accepted as a one-element list)
 *         "Sid": "ReadOrders",                  (optional, unique in the policy)
 *         "Effect": "Allow" | "Deny",
 *         "Action" | "NotAction": "dynamodb:GetItem" | ["dynamodb:Get*", ...],
 *         "Resource" | "NotResource": "arn:aws:dynamodb:*:*:table/orders" | [...],
 *         "Condition": { "StringEquals": { "ddbguard:S3Bucket": "exports" } }   (optional)
 *       } ]
 *     }
 *   }
 *
 * Action patterns are case-insensitive with * and ? wildcards, matched at
 * compile time against the catalog: a statement keeps a bitset of action ids.
 * An Action pattern that matches no catalog action is a config error (a typo
 * would otherwise silently grant or deny nothing). Resource patterns are
 * case-sensitive globs over ARNs; "${...}" policy variables are refused (XXX:
 * not supported yet). "Condition" is compiled by filters/policy/condition.c (its
 * header states the operator semantics) over the keys filters/policy/condkeys.c
 * defines; an unknown operator or key is an error. "Principal" is refused for
 * now: unknown keys are errors, never ignored.
 *
 * Evaluation, per call: the request's resources are the inspector's ARNs, or
 * the single resource "*" for an action that names none (ListTables). For
 * each resource, a matching Deny statement is an explicit deny; otherwise a
 * matching Allow allows it. A statement matches only if its Condition holds
 * (IAM: a statement whose conditions are false does not apply, Allow or Deny). The call is allowed only if every resource is
 * allowed and none is explicitly denied (explicit deny wins over everything).
 *
 * PartiQL (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction):
 * IAM authorizes each statement as dynamodb:PartiQL<Verb> on its table
 * (Service Authorization Reference for DynamoDB; DynamoDB developer guide,
 * "IAM security policies with PartiQL for DynamoDB"), while ddbguard
 * policies have always named the API action. Both are honoured. The call's
 * actions are the API action plus dynamodb:PartiQL<Verb> for each verb in
 * inspect_result.partiql_verbs. A matching Deny of ANY of them denies. A
 * resource is allowed if an Allow of the API action covers it, OR Allows of
 * every one of the PartiQL<Verb> actions do (each may come from a different
 * statement). XXX the verbs are the whole call's, not the statements naming
 * that resource: a BatchExecuteStatement that SELECTs table a and DELETEs
 * from b needs PartiQLSelect and PartiQLDelete on both (stricter than IAM,
 * never looser).
 */
#ifndef DDBGUARD_FILTERS_POLICY_H
#define DDBGUARD_FILTERS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "filters/base/diag.h"
#include "filters/dynamodb/catalog.h"
#include "filters/policy/condition.h"
#include "filters/dynamodb/inspect.h"

struct policy_set; /* all named policies of a config; immutable once compiled */
struct policy;	   /* one named policy, owned by its set */

/*
 * Compiles the "policies" object. Errors go to `d` with paths under `path`
 * (which is restored on return). Returns NULL if any error was recorded.
 * The returned set owns copies of everything; `policies` may be freed after.
 */
struct policy_set *policy_set_compile(const cJSON *policies, struct diag *d, struct diag_path *path);
void policy_set_free(struct policy_set *s); /* accepts NULL */

const struct policy *policy_set_find(const struct policy_set *s, const char *name);
size_t policy_set_count(const struct policy_set *s);
const char *policy_name(const struct policy *p);

enum policy_effect {
	POLICY_ALLOW,
	POLICY_DENY_EXPLICIT, /* a Deny statement matched */
	POLICY_DENY_IMPLICIT, /* no Allow statement matched (default deny) */
};

struct policy_decision {
	enum policy_effect effect;
	/* The statement that decided (the Deny that matched, or for an allow the
	 * Allow that matched the first resource); NULL for an implicit deny. */
	const char *policy;
	const char *sid; /* NULL when the deciding statement has no Sid */
	unsigned statement_index;
	/* For a deny: the resource that was not allowed ("*" for resource-less actions). */
	const char *resource;
	/*
	 * The action the deciding statement matched: the call's, or for a PartiQL
	 * call possibly a dynamodb:PartiQL<Verb> (see above). For an implicit
	 * deny, the call's action.
	 */
	const struct catalog_action *action;
};

/*
 * Evaluates `action` against the union of `policies[0..n)` (an identity's
 * policies). `res` may be NULL or empty for resource-less actions.
 * Conditions get their request values from `lookup(ctx, ...)` (for ddbguard,
 * condkeys_lookup with a struct condkeys_request); a NULL `lookup` means no
 * request context: every key is absent, so e.g. a StringEquals condition is
 * false and a StringNotEquals one true, as for any call that lacks the key.
 * Never allocates; strings in `out` point into the set or into `res`.
 */
void policy_evaluate(const struct policy *const *policies, size_t n,
    const struct catalog_action *action, const struct inspect_result *res,
    condition_lookup_fn lookup, void *ctx, struct policy_decision *out);

const char *policy_effect_name(enum policy_effect e); /* "allow", "explicit-deny", "implicit-deny" */

/* Most actions one call is authorized as: the API action and up to four PartiQL<Verb>. */
#define POLICY_CALL_MAX_ACTIONS 5

/*
 * The actions a call is authorized as (see the PartiQL paragraph above):
 * fills out[0..n) (room for POLICY_CALL_MAX_ACTIONS) with `action` first and
 * returns n (0 when `action` is NULL).
 */
size_t policy_call_actions(const struct catalog_action *action, const struct inspect_result *res,
    const struct catalog_action **out);

/* ---- explaining a decision (ddbguard explain); not for the request path ---- */

enum policy_cond_result {
	POLICY_COND_NONE,    /* the statement has no Condition */
	POLICY_COND_TRUE,
	POLICY_COND_FALSE,   /* the statement does not apply */
	POLICY_COND_SKIPPED, /* not evaluated: Action or every Resource did not match */
};

/* One statement against one of the call's actions. Pointers are valid during the callback only. */
struct policy_trace {
	const char *policy;
	const char *sid; /* NULL when absent */
	unsigned index;	 /* in "Statement" */
	bool deny;
	const struct catalog_action *action; /* which of policy_call_actions() */
	bool action_matches;		     /* Action / NotAction covers `action` */
	size_t nres;
	const char *const *resources; /* the call's resource ARNs, or "*" */
	const bool *resource_matches; /* per resource: Resource / NotResource covers it */
	enum policy_cond_result cond;
	bool applies; /* action and some resource match and the Condition holds */
};

typedef void (*policy_trace_fn)(void *arg, const struct policy_trace *t);

/*
 * Calls `fn` for every statement of `policies[0..n)` and every action of the
 * call (policy, then statement, then action order), evaluating a statement's
 * Condition only when its Action and some Resource match (so `lookup` is
 * asked exactly for keys that can matter); then fills `out` exactly as
 * policy_evaluate() does. May be slow; the request path uses policy_evaluate().
 */
void policy_explain(const struct policy *const *policies, size_t n, const struct catalog_action *action,
    const struct inspect_result *res, condition_lookup_fn lookup, void *ctx, policy_trace_fn fn, void *arg,
    struct policy_decision *out);

const char *policy_cond_result_name(enum policy_cond_result c); /* "no Condition", "Condition true", ... */

/* ---- lint (ddbguard --check) ---- */

/* `path` is the statement's JSON path ("$.policies.app.Statement[1]"); both strings live during the call. */
typedef void (*policy_lint_fn)(void *arg, const char *path, const char *msg);

/*
 * Reports statements that are valid but probably wrong; never changes the set:
 *   - an Allow whose every (action, resource pattern) is covered by an
 *     unconditional Deny in the same policy: it can never allow anything
 *     (same policy only: a Deny elsewhere applies only to identities that
 *     also have that policy). Coverage is judged conservatively (policy.c).
 *   - an Allow on Resource "*" (or NotResource) that grants admin-class
 *     actions that are not read-only (ListTables, Describe* are routinely
 *     granted on "*"); the message names a few.
 *   - an Allow on Resource "*" (or NotResource) that grants PartiQL or
 *     Export actions.
 */
void policy_set_lint(const struct policy_set *s, policy_lint_fn fn, void *arg);

/* Glob match as IAM does: '*' any run (incl. empty), '?' one byte. Exposed for tests. */
bool policy_glob_match(const char *pattern, const char *s, bool ignore_case);

#endif
