/*
 * condition: the IAM "Condition" element, compiled once at load and
 * evaluated per call without allocating.
 *
 *   "Condition": { "<operator>": { "<key>": "<value>" | ["<value>", ...] }, ... }
 *
 * Semantics follow the IAM JSON policy reference ("IAM JSON policy elements:
 * Condition operators", "Conditions with multiple context keys or values",
 * "Single-valued vs. multivalued context keys"):
 *
 *   - several operators AND; several keys under one operator AND; several
 *     values for one key OR, except under a negated operator (StringNotEquals,
 *     NumericNotEquals, DateNotEquals, NotIpAddress, ArnNotEquals, ArnNotLike,
 *     StringNotLike, StringNotEqualsIgnoreCase) where they are NOR: the key must
 *     match none of them;
 *   - a key absent from the request: positive operators are false, negated
 *     operators are true ("If the policy condition requires that the key is
 *     not matched ... and the right key is not present, the condition is
 *     true"); "...IfExists" makes any operator true; Null tests presence;
 *   - ForAllValues: every request value must satisfy the operator (true when
 *     the key is absent or its set is empty); ForAnyValue: at least one must
 *     (false when absent or empty). Under a negated operator, "satisfy" means
 *     "matches none of the policy values".
 *
 * Our own definitions, where IAM leaves room (each an explicit choice):
 *
 *   - A key reported present with zero values is treated as absent (IAM: "a
 *     null data set"). An empty string is a value like any other.
 *   - A multivalued key without a set qualifier: a positive operator is true
 *     if ANY request value matches any policy value; a negated operator is its
 *     exact complement, true if NO request value matches (so plain
 *     StringEquals acts as ForAnyValue:StringEquals and plain StringNotEquals
 *     as ForAllValues:StringNotEquals). The same rule applies if a lookup
 *     returns several values for a key declared single-valued.
 *   - Set qualifiers on a single-valued key are a config error (IAM accepts
 *     them but documents that they "can lead to overly permissive policies").
 *   - ForAnyValue:...IfExists is a config error: IAM documents IfExists as
 *     "true when absent" while IAM is observed to keep ForAnyValue's "false
 *     when absent"; a policy two readers evaluate differently is refused.
 *   - An operator must fit the key's declared type: String* on string and ARN
 *     keys, Numeric* on numeric, Date* on date, Bool on bool, IpAddress and
 *     NotIpAddress on IP, Arn* on ARN keys; Null on any key. A key IAM types
 *     twice takes both families: Date* and Numeric* on aws:EpochTime,
 *     String* and Numeric* on a number that names something (an ASN).
 *   - BinaryEquals and policy variables ("${...}") are refused (XXX: not
 *     supported yet). Unknown operators and keys are errors, never ignored;
 *     operator names are case-sensitive (the error suggests the spelling).
 *   - Policy values: strings; JSON numbers for Numeric/Date (integers up to
 *     2^53, or fractions a double holds exactly; others must be written as
 *     text); JSON booleans for Bool/Null. A key takes 1-4096 values; a block
 *     at most 256 (operator, key) pairs. Numbers are -?digits(.digits)?,
 *     compared exactly as decimals. Epoch dates need 9+ digits ("2026" is
 *     not 1970). IPv4-mapped CIDRs (::ffff:a.b.c.d/n, n >= 96) are IPv4.
 *     ArnEquals is ArnLike, as in IAM; ARN patterns need all six parts.
 *
 * Request values are text: decimal numbers ("-2.5"), "true"/"false" (any
 * case), dates as ISO 8601 ("2026-01-01T00:00:00Z", "2026-01-01",
 * "...T10:00:00+02:00"; compared to the second) or epoch seconds, textual
 * IPv4/IPv6 addresses (IPv4-mapped IPv6 counts as IPv4; other IPv6 blocks,
 * ::/0 included, never match IPv4), ARNs. A request value that does not
 * parse as the operator's type matches no policy value (so a positive
 * operator is false for it, a negated one true), as IAM's "the values do not
 * match".
 */
#ifndef DDBGUARD_FILTERS_CONDITION_H
#define DDBGUARD_FILTERS_CONDITION_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "filters/base/diag.h"

struct condition_block; /* one compiled Condition element; immutable */

enum condition_value_type {
	COND_T_STRING,
	COND_T_NUMERIC,
	COND_T_BOOL,
	COND_T_DATE,
	COND_T_IP,
	COND_T_ARN,
	/* IAM types aws:EpochTime both Date and Numeric: Date* and Numeric* operators. */
	COND_T_DATE_NUMERIC,
	/* A number that is also an identifier (ddbguard:SourceASN): String* and Numeric* operators. */
	COND_T_STRING_NUMERIC,
};

/*
 * One known condition key. `name` is matched case-insensitively, as IAM does
 * ("aws:SourceIP" is "aws:sourceip"). A name ending in '/' is a prefix for
 * tag keys: "ddbguard:IdentityTag/" accepts "ddbguard:IdentityTag/team", and
 * the lookup gets "team" (as written in the policy: compare it without case,
 * as IAM tag keys are; 1-128 of IAM's tag key characters). Exact names win
 * over prefixes. `id` is handed back to the lookup untouched.
 */
struct condition_key_def {
	const char *name;
	enum condition_value_type type;
	bool multivalued;
	int id;
};

/*
 * Compiles the value of a "Condition" member. Errors go to `d`, each with its
 * JSON path under `path` (restored on return); returns NULL if any error was
 * recorded. An empty object compiles to a block that is always true. The
 * block owns copies of everything: `cond` and `keys` may be freed after.
 */
struct condition_block *condition_compile(const cJSON *cond, const struct condition_key_def *keys, size_t nkeys,
    struct diag *d, struct diag_path *path);
void condition_free(struct condition_block *b); /* accepts NULL */

/*
 * The values of one key for the current call. `values[0..n)` are owned by
 * the lookup's caller and need to stay valid only until the lookup is called
 * again or condition_evaluate() returns. A NULL entry matches nothing.
 */
struct condition_request_values {
	const char *const *values;
	size_t n;
	bool present;
};

/*
 * Fills `out` for `key_id` (`tag` is the part after the '/' for a prefix key,
 * else NULL). `out` is zeroed before the call: leaving it alone means absent.
 */
typedef void (*condition_lookup_fn)(void *ctx, int key_id, const char *tag, struct condition_request_values *out);

/*
 * True when every condition of `b` holds (a NULL block holds). Calls `lookup`
 * once per key clause, in policy order, stopping at the first false one.
 * Never allocates; cost is linear in the request values times log of the
 * policy values for equality operators (plus one scan of the wildcard
 * patterns or CIDRs per request value for the others).
 */
bool condition_evaluate(const struct condition_block *b, condition_lookup_fn lookup, void *ctx);

#endif
