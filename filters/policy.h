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
 * not supported yet). "Condition" is compiled by filters/condition.c (its
 * header states the operator semantics) over the keys filters/condkeys.c
 * defines; an unknown operator or key is an error. "Principal" is refused for
 * now: unknown keys are errors, never ignored.
 *
 * Evaluation, per call: the request's resources are the inspector's ARNs, or
 * the single resource "*" for an action that names none (ListTables). For
 * each resource, a matching Deny statement is an explicit deny; otherwise a
 * matching Allow allows it. A statement matches only if its Condition holds
 * (IAM: a statement whose conditions are false does not apply, Allow or Deny). The call is allowed only if every resource is
 * allowed and none is explicitly denied (explicit deny wins over everything).
 */
#ifndef DDBGUARD_FILTERS_POLICY_H
#define DDBGUARD_FILTERS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "config/diag.h"
#include "filters/catalog.h"
#include "filters/condition.h"
#include "filters/inspect.h"

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

/* Glob match as IAM does: '*' any run (incl. empty), '?' one byte. Exposed for tests. */
bool policy_glob_match(const char *pattern, const char *s, bool ignore_case);

#endif
