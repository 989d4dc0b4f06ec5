/*
 * dynexpr: just enough of DynamoDB's expression language to name what an
 * expression touches, for the dynamodb:Attributes and dynamodb:LeadingKeys
 * condition keys (filters/policy/condkeys.c).
 *
 * DynamoDB Developer Guide, "Using expressions in DynamoDB": a document path
 * is a top-level attribute name or #placeholder, followed by ".name" /
 * ".#placeholder" / "[n]" segments; values are ":placeholder"s. Names here
 * are the words DynamoDB accepts unescaped ([A-Za-z0-9_]+); anything else
 * in an expression (quotes, other bytes, unbalanced brackets, a grammar we do
 * not read) is refused with DYNEXPR_BAD, and the caller fails closed.
 *
 * Nothing allocates; names are handed out as (pointer, length) slices of the
 * expression, as written (a placeholder keeps its '#').
 */
#ifndef DDBGUARD_FILTERS_DYNEXPR_H
#define DDBGUARD_FILTERS_DYNEXPR_H

#include <stdbool.h>
#include <stddef.h>

enum dynexpr_status {
	DYNEXPR_OK,
	DYNEXPR_BAD,	 /* not an expression we can read */
	DYNEXPR_STOPPED, /* the callback returned false */
};

/* Called once per top-level name; return false to stop. */
typedef bool (*dynexpr_name_fn)(void *ctx, const char *name, size_t len);

/* ProjectionExpression: path ("," path)*. */
enum dynexpr_status dynexpr_projection_names(const char *expr, dynexpr_name_fn fn, void *ctx);

/*
 * UpdateExpression: SET / REMOVE / ADD / DELETE clauses, each at most once.
 * Reports the top-level name of every path in it: the targets written and
 * the paths read by SET values (if_not_exists(path, ...), path + :v).
 */
enum dynexpr_status dynexpr_update_names(const char *expr, dynexpr_name_fn fn, void *ctx);

/* Called for each `path` operand of a key condition; `eq_value` is the ":value" it is compared with by "=". */
typedef bool (*dynexpr_key_fn)(void *ctx, const char *name, size_t len, bool simple, const char *eq_value,
                               size_t eq_len);

/*
 * KeyConditionExpression: reports every path operand (its top-level name,
 * `simple` when the path has no further segments) and, for the comparisons
 * `name = :value` or `:value = name` between a simple path and a value, the
 * value placeholder (else eq_value is NULL). The expression must lex and
 * its parentheses balance; it is not otherwise parsed, so a caller should
 * accept a key only if it appears exactly once, in an equality.
 */
enum dynexpr_status dynexpr_key_condition(const char *expr, dynexpr_key_fn fn, void *ctx);

#endif
