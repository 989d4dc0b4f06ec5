/*
 * partiql: a strict reader for the PartiQL subset DynamoDB runs through
 * ExecuteStatement, BatchExecuteStatement and ExecuteTransaction, so policy
 * can see which verb a statement is and which table (and index) it names.
 *
 *   SELECT projection FROM table[.index] [WHERE condition] [ORDER BY path [ASC|DESC], ...]
 *   INSERT INTO table VALUE {'attr': value, ...}
 *   UPDATE table (SET path = value, ... | REMOVE path, ...)... [WHERE condition]
 *       [RETURNING (ALL|MODIFIED) (OLD|NEW) *]
 *   DELETE FROM table [WHERE condition] [RETURNING ALL OLD *]
 *   EXISTS(SELECT ...)          (ExecuteTransaction condition check)
 *
 * DynamoDB developer guide, "PartiQL - a SQL-compatible query language":
 * ql-reference.select / .insert / .update / .delete, ql-functions,
 * ql-operators. Lexical rules follow the PartiQL grammar (PartiQLTokens.g4):
 * keywords are case-insensitive; bare identifiers are [A-Za-z_][A-Za-z0-9_]*;
 * "quoted identifiers" escape '"' as ""; 'strings' escape '\'' as '';
 * comments are -- to end of line and non-nesting block comments.
 *
 * Anything the reader is not certain about is refused, never guessed: a
 * statement either yields exactly one table or an error. In particular it
 * refuses more than one statement, nested block comments, a lone CR inside a
 * -- comment (parsers disagree where such a comment ends), Ion `literals`,
 * functions DynamoDB does not document, subqueries other than the whole
 * statement inside EXISTS(...), and tables or indexes whose names break
 * DynamoDB's rules (3-255 of [A-Za-z0-9_.-], checked by arn_valid_table_name).
 *
 * "a.b" (one quoted identifier) is the table named a.b; "t"."i" is table t,
 * index i. Only SELECT may name an index, and only with both names quoted as
 * DynamoDB requires: t.i, "t".i and t."i" are refused, never guessed at.
 *
 * XXX DynamoDB is taken to resolve bare table names case-sensitively, as it
 * does quoted ones (standard PartiQL folds bare identifiers; DynamoDB's
 * documentation uses Music and "Music" alike). table[] keeps the spelling of
 * the statement.
 */
#ifndef DDBGUARD_FILTERS_PARTIQL_H
#define DDBGUARD_FILTERS_PARTIQL_H

#include <stdbool.h>
#include <stddef.h>

/* ExecuteStatement Statement: 1-8192 characters (counted as UTF-8 code points). */
#define PARTIQL_MAX_CHARS 8192
#define PARTIQL_MAX_BYTES (4 * PARTIQL_MAX_CHARS)
/*
 * Brackets, braces, parentheses, NOT and unary minus, together. DynamoDB
 * documents nest 32 levels; this leaves room for the expression around one.
 */
#define PARTIQL_MAX_DEPTH 64
#define PARTIQL_NAME_MAX 255 /* table and index names */

enum partiql_verb {
	PARTIQL_SELECT,
	PARTIQL_INSERT,
	PARTIQL_UPDATE,
	PARTIQL_DELETE,
};

struct partiql_statement {
	enum partiql_verb verb;
	char table[PARTIQL_NAME_MAX + 1]; /* unescaped, NUL-terminated */
	char index[PARTIQL_NAME_MAX + 1]; /* "" unless SELECT ... FROM "t"."i" */
	bool exists;			  /* EXISTS(SELECT ...): verb is PARTIQL_SELECT */
	bool has_where;
	/*
	 * dynamodb:FullTableScan for a SELECT ("a SELECT is a full table scan
	 * unless its WHERE clause has an equality or IN condition on the
	 * partition key", ql-reference.select). Always false for other verbs.
	 *
	 * It is false only when the top level of the WHERE clause (a chain of
	 * ANDs, seeing through parentheses, never under OR or NOT) holds
	 *     key = 'string' | number | ?        or
	 *     key IN [scalar, ...] | (scalar, ...)   (non-empty; scalars are
	 *                                            strings, numbers, ?)
	 * where key is the partition key attribute given to
	 * partiql_read_keyed(). With partiql_read() (no key known) any single
	 * top-level attribute counts, so `WHERE Address = 'x'` reads as no scan
	 * although DynamoDB scans: that reading is NOT fail-closed, which is why
	 * the dynamodb:FullTableScan condition key (filters/policy/condkeys.c) always
	 * uses the keyed form, and without a configured schema treats every
	 * SELECT as a scan. Conservative either way: `pk = 1 OR pk = 2`, which
	 * DynamoDB runs without a scan, reads as a scan.
	 */
	bool full_table_scan;
	unsigned nparams; /* '?' placeholders, to check against Parameters */
};

enum partiql_status {
	PARTIQL_OK,
	PARTIQL_SYNTAX,	     /* not a statement DynamoDB accepts, as far as this reader knows */
	PARTIQL_UNSUPPORTED, /* PartiQL this reader does not read (Ion literals, unknown functions, ...) */
};

/* A why buffer this long always holds the whole message. */
#define PARTIQL_WHY_MAX 160

/*
 * Reads the one statement in stmt[0..len) (not NUL-terminated; a NUL byte in
 * it is refused) into *out, which the caller provides; nothing is allocated.
 * On failure *out is zeroed and `why` (may be NULL) gets a message such as
 * "offset 14: expected FROM, got string literal". Messages name offsets and
 * token kinds only, never bytes of the statement, so they may be logged.
 */
enum partiql_status partiql_read(const char *stmt, size_t len, struct partiql_statement *out, char *why,
    size_t why_len);

/*
 * partiql_read() knowing the table's partition key attribute: full_table_scan
 * is then exact (false only when the top-level conjunction compares that
 * attribute with = or IN), which is what dynamodb:FullTableScan needs.
 */
enum partiql_status partiql_read_keyed(const char *stmt, size_t len, const char *partition_key,
    struct partiql_statement *out, char *why, size_t why_len);

/*
 * Writes a copy of stmt[0..len) for the access log with every literal
 * replaced by '?': strings, numbers, TRUE/FALSE/NULL/MISSING (except as the
 * operand of IS [NOT]), `Ion` literals, the contents of {...}, <<...>> and
 * [...] value literals ({?}, <<?>>, [?]; empty ones stay as they are) and
 * subscripts (a[?]). Comments become one space. Keywords, identifiers
 * (quoted ones verbatim but for control bytes), '?', punctuation and
 * whitespace are kept; any other byte becomes '?', so the copy holds no
 * NUL. An unterminated string, quoted identifier, comment or literal ends
 * the copy with '?'. Works on any input, read or not.
 *
 * Like snprintf: writes at most out_len bytes including a NUL (when
 * out_len > 0) and returns the length of the whole redacted text, which is
 * never more than len; the copy was truncated if the result is >= out_len.
 */
size_t partiql_redact(const char *stmt, size_t len, char *out, size_t out_len);

const char *partiql_verb_name(enum partiql_verb verb); /* "SELECT", ... */

#endif
