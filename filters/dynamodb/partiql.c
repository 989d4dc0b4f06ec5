/*
 * partiql: strict reader and redactor for DynamoDB's PartiQL (see partiql.h).
 *
 * A hand-written lexer and recursive-descent parser over the statement bytes.
 * The parser reads the whole statement, expressions included, rather than
 * searching for FROM: a table name is only ever taken from the position the
 * grammar gives it, so quotes, comments and literals cannot move it.
 * Every recursion goes through depth_enter(), bounded by PARTIQL_MAX_DEPTH.
 *
 * Lexical rules: PartiQLTokens.g4 (partiql-lang-kotlin), narrowed to what
 * DynamoDB documents: WS is [ \t\r\n]; identifiers have no '$'; '<<' and '>>'
 * are single tokens (older PartiQL grammars), so "< <" never opens a bag.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "filters/dynamodb/arn.h"
#include "filters/dynamodb/partiql.h"

enum tok_kind {
	TOK_END,
	TOK_IDENT,  /* bare identifier that is not a keyword */
	TOK_QIDENT, /* "quoted identifier" */
	TOK_KEYWORD,
	TOK_STRING,
	TOK_NUMBER,
	TOK_PARAM,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_LBRACKET,
	TOK_RBRACKET,
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_LBAG,
	TOK_RBAG,
	TOK_COMMA,
	TOK_DOT,
	TOK_COLON,
	TOK_SEMI,
	TOK_STAR,
	TOK_PLUS,
	TOK_MINUS,
	TOK_EQ,
	TOK_NE,
	TOK_LT,
	TOK_LE,
	TOK_GT,
	TOK_GE,
};

/* How a token is named in messages; never the statement's own bytes. */
static const char *const tok_names[] = {
	[TOK_END] = "end of statement",
	[TOK_IDENT] = "identifier",
	[TOK_QIDENT] = "quoted identifier",
	[TOK_KEYWORD] = "keyword",
	[TOK_STRING] = "string literal",
	[TOK_NUMBER] = "number",
	[TOK_PARAM] = "'?'",
	[TOK_LPAREN] = "'('",
	[TOK_RPAREN] = "')'",
	[TOK_LBRACKET] = "'['",
	[TOK_RBRACKET] = "']'",
	[TOK_LBRACE] = "'{'",
	[TOK_RBRACE] = "'}'",
	[TOK_LBAG] = "'<<'",
	[TOK_RBAG] = "'>>'",
	[TOK_COMMA] = "','",
	[TOK_DOT] = "'.'",
	[TOK_COLON] = "':'",
	[TOK_SEMI] = "';'",
	[TOK_STAR] = "'*'",
	[TOK_PLUS] = "'+'",
	[TOK_MINUS] = "'-'",
	[TOK_EQ] = "'='",
	[TOK_NE] = "'<>'",
	[TOK_LT] = "'<'",
	[TOK_LE] = "'<='",
	[TOK_GT] = "'>'",
	[TOK_GE] = "'>='",
};

/*
 * Keywords. The first group has a meaning here; the second is reserved by
 * PartiQL for constructs DynamoDB does not run (joins, aliases, grouping,
 * ...): they are recognised only so that using one gives a clear refusal
 * instead of being read as an attribute name. Double-quote to use any of
 * them as a name.
 */
enum kw {
	KW_ALL,
	KW_AND,
	KW_ASC,
	KW_BETWEEN,
	KW_BY,
	KW_DELETE,
	KW_DESC,
	KW_EXISTS,
	KW_FALSE,
	KW_FROM,
	KW_IN,
	KW_INSERT,
	KW_INTO,
	KW_IS,
	KW_MISSING,
	KW_MODIFIED,
	KW_NEW,
	KW_NOT,
	KW_NULL,
	KW_OLD,
	KW_OR,
	KW_ORDER,
	KW_REMOVE,
	KW_RETURNING,
	KW_SELECT,
	KW_SET,
	KW_TRUE,
	KW_UPDATE,
	KW_VALUE,
	KW_WHERE,
	KW_RESERVED, /* everything below */
};

static const struct {
	const char *word; /* upper case */
	enum kw kw;
} keywords[] = {
	{ "ALL", KW_ALL },
	{ "AND", KW_AND },
	{ "ASC", KW_ASC },
	{ "BETWEEN", KW_BETWEEN },
	{ "BY", KW_BY },
	{ "DELETE", KW_DELETE },
	{ "DESC", KW_DESC },
	{ "EXISTS", KW_EXISTS },
	{ "FALSE", KW_FALSE },
	{ "FROM", KW_FROM },
	{ "IN", KW_IN },
	{ "INSERT", KW_INSERT },
	{ "INTO", KW_INTO },
	{ "IS", KW_IS },
	{ "MISSING", KW_MISSING },
	{ "MODIFIED", KW_MODIFIED },
	{ "NEW", KW_NEW },
	{ "NOT", KW_NOT },
	{ "NULL", KW_NULL },
	{ "OLD", KW_OLD },
	{ "OR", KW_OR },
	{ "ORDER", KW_ORDER },
	{ "REMOVE", KW_REMOVE },
	{ "RETURNING", KW_RETURNING },
	{ "SELECT", KW_SELECT },
	{ "SET", KW_SET },
	{ "TRUE", KW_TRUE },
	{ "UPDATE", KW_UPDATE },
	{ "VALUE", KW_VALUE },
	{ "WHERE", KW_WHERE },
	{ "AS", KW_RESERVED },
	{ "AT", KW_RESERVED },
	{ "CASE", KW_RESERVED },
	{ "CAST", KW_RESERVED },
	{ "CROSS", KW_RESERVED },
	{ "DISTINCT", KW_RESERVED },
	{ "EXCEPT", KW_RESERVED },
	{ "GROUP", KW_RESERVED },
	{ "HAVING", KW_RESERVED },
	{ "INNER", KW_RESERVED },
	{ "INTERSECT", KW_RESERVED },
	{ "JOIN", KW_RESERVED },
	{ "LEFT", KW_RESERVED },
	{ "LET", KW_RESERVED },
	{ "LIKE", KW_RESERVED },
	{ "LIMIT", KW_RESERVED },
	{ "OFFSET", KW_RESERVED },
	{ "ON", KW_RESERVED },
	{ "OUTER", KW_RESERVED },
	{ "PIVOT", KW_RESERVED },
	{ "RIGHT", KW_RESERVED },
	{ "UNION", KW_RESERVED },
	{ "UNPIVOT", KW_RESERVED },
	{ "VALUES", KW_RESERVED },
};

/*
 * Functions DynamoDB documents (ql-functions, and the SET operations of
 * ql-reference.update). EXISTS is a statement here, MISSING a predicate
 * (IS [NOT] MISSING). Anything else called is refused.
 */
static const char *const functions[] = {
	"attribute_type", "begins_with", "contains", "list_append", "set_add", "set_delete", "size",
};

struct tok {
	enum tok_kind kind;
	enum kw kw; /* TOK_KEYWORD only */
	size_t off, len;
};

struct parser {
	const char *s;
	size_t len;
	size_t pos; /* next byte to lex */
	struct tok tok;
	unsigned depth;
	unsigned nparams;
	bool failed;
	enum partiql_status status;
	char *why;
	size_t why_len;
	const char *key_attr; /* partition key: only comparisons on it restrict; NULL: any attribute (approximate) */
};

/* What an operand is, as far as the FullTableScan rule cares. */
struct operand {
	bool name;	/* a single top-level attribute name, no .x or [i] (and the key, when it is known) */
	bool scalar;	/* string, number or ? */
	bool restricts; /* a parenthesised condition that restricts the key */
};

static bool parse_or(struct parser *p, bool *restricts);
static bool parse_additive(struct parser *p, struct operand *o);
static bool parse_value(struct parser *p, bool *scalar);

static char
ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_ident_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool
is_ident_char(char c)
{
	return is_ident_start(c) || is_digit(c);
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
word_eq(const char *s, size_t len, const char *upper)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (upper[i] == '\0' || ascii_upper(s[i]) != upper[i])
			return false;
	return upper[len] == '\0';
}

static bool
word_eq_nocase(const char *s, size_t len, const char *lower)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (lower[i] == '\0' || c != lower[i])
			return false;
	}
	return lower[len] == '\0';
}

/* -1 if the word is not a keyword. */
static int
keyword_lookup(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (word_eq(s, len, keywords[i].word))
			return (int)i;
	return -1;
}

static const char *
keyword_name(enum kw kw)
{
	size_t i;

	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (keywords[i].kw == kw)
			return keywords[i].word;
	return "keyword";
}

static bool
is_function(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(functions) / sizeof(functions[0]); i++)
		if (word_eq_nocase(s, len, functions[i]))
			return true;
	return false;
}

static bool fail(struct parser *p, enum partiql_status st, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the first failure only; always returns false. */
static bool
fail(struct parser *p, enum partiql_status st, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return false;
	p->failed = true;
	p->status = st;
	if (p->why == NULL || p->why_len == 0)
		return false;
	n = snprintf(p->why, p->why_len, "offset %zu: ", off);
	if (n < 0 || (size_t)n >= p->why_len)
		return false;
	va_start(ap, fmt);
	vsnprintf(p->why + n, p->why_len - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

/* "string literal", "keyword WHERE", "'('" ... */
static const char *
tok_desc(const struct tok *t, char *buf, size_t size)
{
	if (t->kind == TOK_KEYWORD) {
		snprintf(buf, size, "keyword %s", t->kw == KW_RESERVED ? "(reserved)" : keyword_name(t->kw));
		return buf;
	}
	return tok_names[t->kind];
}

static bool
unexpected(struct parser *p, const char *expected)
{
	char buf[48];

	if (p->tok.kind == TOK_KEYWORD && p->tok.kw == KW_RESERVED)
		return fail(p, PARTIQL_UNSUPPORTED, p->tok.off,
		    "expected %s, got a reserved word DynamoDB does not support", expected);
	return fail(p, PARTIQL_SYNTAX, p->tok.off, "expected %s, got %s", expected,
	    tok_desc(&p->tok, buf, sizeof(buf)));
}

static bool
depth_enter(struct parser *p)
{
	if (p->depth >= PARTIQL_MAX_DEPTH)
		return fail(p, PARTIQL_UNSUPPORTED, p->tok.off, "nesting deeper than %d", PARTIQL_MAX_DEPTH);
	p->depth++;
	return true;
}

static void
depth_leave(struct parser *p)
{
	p->depth--;
}

/* Skips whitespace and comments; false on a bad comment. */
static bool
skip_blanks(struct parser *p)
{
	const char *s = p->s;
	size_t n = p->len;

	while (p->pos < n) {
		size_t i = p->pos;

		if (is_space(s[i])) {
			p->pos++;
		} else if (s[i] == '-' && i + 1 < n && s[i + 1] == '-') {
			/*
			 * PartiQL ends a -- comment at CR or LF. A lone CR is
			 * refused: a reader that ends comments at LF only would
			 * see the rest of the line as comment, we as code.
			 */
			for (i += 2; i < n && s[i] != '\n' && s[i] != '\r'; i++)
				;
			if (i < n && s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n'))
				return fail(p, PARTIQL_SYNTAX, i,
				    "carriage return without line feed ends a -- comment");
			p->pos = i;
		} else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
			/* Non-nesting, as in PartiQL; an opener inside is refused: nesting readers differ. */
			for (i += 2;; i++) {
				if (i + 1 >= n)
					return fail(p, PARTIQL_SYNTAX, p->pos, "unterminated /* comment");
				if (s[i] == '*' && s[i + 1] == '/')
					break;
				if (s[i] == '/' && s[i + 1] == '*')
					return fail(p, PARTIQL_SYNTAX, i,
					    "/* inside a /* comment (comments do not nest)");
			}
			p->pos = i + 2;
		} else {
			break;
		}
	}
	return true;
}

/* Scans a quoted run ending at an unpaired `q`; returns the offset past it, or 0 if unterminated. */
static size_t
scan_quoted(const char *s, size_t n, size_t start, char q)
{
	size_t i;

	for (i = start + 1; i < n; i++) {
		if (s[i] != q)
			continue;
		if (i + 1 < n && s[i + 1] == q) {
			i++;
			continue;
		}
		return i + 1;
	}
	return 0;
}

/*
 * LITERAL_DECIMAL of PartiQL: DIGIT+ ('.' DIGIT*)? | '.' DIGIT+, then an
 * optional exponent. Returns the end offset; a letter, digit, '_' or '.'
 * right after is refused by the caller.
 */
static size_t
scan_number(const char *s, size_t n, size_t i)
{
	while (i < n && is_digit(s[i]))
		i++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;

		if (j < n && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < n && is_digit(s[j])) {
			while (j < n && is_digit(s[j]))
				j++;
			i = j;
		}
	}
	return i;
}

static bool
set_tok(struct parser *p, enum tok_kind kind, size_t off, size_t len)
{
	p->tok.kind = kind;
	p->tok.off = off;
	p->tok.len = len;
	p->pos = off + len;
	return true;
}

/* Reads the next token into p->tok. */
static bool
next(struct parser *p)
{
	const char *s = p->s;
	size_t n = p->len, i, end;
	char c, d;
	int k;

	if (p->failed || !skip_blanks(p))
		return false;
	i = p->pos;
	if (i >= n)
		return set_tok(p, TOK_END, n, 0);
	c = s[i];
	d = i + 1 < n ? s[i + 1] : '\0';

	if (is_ident_start(c)) {
		for (end = i + 1; end < n && is_ident_char(s[end]); end++)
			;
		k = keyword_lookup(s + i, end - i);
		if (k >= 0) {
			p->tok.kw = keywords[k].kw;
			return set_tok(p, TOK_KEYWORD, i, end - i);
		}
		return set_tok(p, TOK_IDENT, i, end - i);
	}
	if (is_digit(c) || (c == '.' && is_digit(d))) {
		end = scan_number(s, n, i);
		if (end < n && (is_ident_char(s[end]) || s[end] == '.'))
			return fail(p, PARTIQL_SYNTAX, i, "malformed number");
		return set_tok(p, TOK_NUMBER, i, end - i);
	}
	switch (c) {
	case '\'':
		if ((end = scan_quoted(s, n, i, '\'')) == 0)
			return fail(p, PARTIQL_SYNTAX, i, "unterminated string literal");
		return set_tok(p, TOK_STRING, i, end - i);
	case '"':
		if ((end = scan_quoted(s, n, i, '"')) == 0)
			return fail(p, PARTIQL_SYNTAX, i, "unterminated quoted identifier");
		if (end == i + 2)
			return fail(p, PARTIQL_SYNTAX, i, "empty quoted identifier");
		return set_tok(p, TOK_QIDENT, i, end - i);
	case '`':
		return fail(p, PARTIQL_UNSUPPORTED, i, "Ion literals (`...`) are not supported by DynamoDB");
	case '?':
		p->nparams++;
		return set_tok(p, TOK_PARAM, i, 1);
	case '(': return set_tok(p, TOK_LPAREN, i, 1);
	case ')': return set_tok(p, TOK_RPAREN, i, 1);
	case '[': return set_tok(p, TOK_LBRACKET, i, 1);
	case ']': return set_tok(p, TOK_RBRACKET, i, 1);
	case '{': return set_tok(p, TOK_LBRACE, i, 1);
	case '}': return set_tok(p, TOK_RBRACE, i, 1);
	case ',': return set_tok(p, TOK_COMMA, i, 1);
	case '.': return set_tok(p, TOK_DOT, i, 1);
	case ':': return set_tok(p, TOK_COLON, i, 1);
	case ';': return set_tok(p, TOK_SEMI, i, 1);
	case '*': return set_tok(p, TOK_STAR, i, 1);
	case '+': return set_tok(p, TOK_PLUS, i, 1);
	case '-': return set_tok(p, TOK_MINUS, i, 1);
	case '=': return set_tok(p, TOK_EQ, i, 1);
	case '!':
		if (d == '=')
			return set_tok(p, TOK_NE, i, 2);
		break;
	case '<':
		if (d == '=')
			return set_tok(p, TOK_LE, i, 2);
		if (d == '>')
			return set_tok(p, TOK_NE, i, 2);
		if (d == '<')
			return set_tok(p, TOK_LBAG, i, 2);
		return set_tok(p, TOK_LT, i, 1);
	case '>':
		if (d == '=')
			return set_tok(p, TOK_GE, i, 2);
		if (d == '>')
			return set_tok(p, TOK_RBAG, i, 2);
		return set_tok(p, TOK_GT, i, 1);
	default:
		break;
	}
	if ((unsigned char)c >= 0x21 && (unsigned char)c < 0x7f)
		return fail(p, PARTIQL_SYNTAX, i, "unexpected character '%c'", c);
	return fail(p, PARTIQL_SYNTAX, i, "unexpected byte 0x%02x", (unsigned char)c);
}

static bool
is_kw(const struct parser *p, enum kw kw)
{
	return p->tok.kind == TOK_KEYWORD && p->tok.kw == kw;
}

/* Requires keyword `kw` and reads past it. */
static bool
expect_kw(struct parser *p, enum kw kw)
{
	if (!is_kw(p, kw))
		return unexpected(p, keyword_name(kw));
	return next(p);
}

/* Requires token `kind` and reads past it. */
static bool
expect(struct parser *p, enum tok_kind kind)
{
	if (p->tok.kind != kind)
		return unexpected(p, tok_names[kind]);
	return next(p);
}

/*
 * Copies the name in the current IDENT or QIDENT token into dst (unescaping
 * "") and checks it against DynamoDB's table and index name rules.
 */
static bool
copy_name(struct parser *p, char dst[PARTIQL_NAME_MAX + 1], const char *what)
{
	const char *s = p->s + p->tok.off;
	size_t len = p->tok.len, i, n = 0;

	if (p->tok.kind == TOK_IDENT) {
		if (len > PARTIQL_NAME_MAX)
			return fail(p, PARTIQL_SYNTAX, p->tok.off, "%s name longer than %d", what, PARTIQL_NAME_MAX);
		memcpy(dst, s, len);
		n = len;
	} else {
		for (i = 1; i + 1 < len; i++) {
			if (n == PARTIQL_NAME_MAX)
				return fail(p, PARTIQL_SYNTAX, p->tok.off, "%s name longer than %d", what,
				    PARTIQL_NAME_MAX);
			dst[n++] = s[i];
			if (s[i] == '"')
				i++; /* "" stands for one '"' */
		}
	}
	dst[n] = '\0';
	if (!arn_valid_table_name(dst, n))
		return fail(p, PARTIQL_SYNTAX, p->tok.off, "invalid %s name (3-255 of A-Z a-z 0-9 _ . -)", what);
	return true;
}

/*
 * FROM table[."index"]: one or two identifiers, nothing else. With an index
 * both must be quoted, as ql-reference.select requires ("You must add double
 * quotation marks to the table name and index name when querying an index"):
 * how DynamoDB reads an unquoted Music.ByArtist is not documented, and the
 * table named "Music.ByArtist" is a different, valid table.
 */
static bool
read_table(struct parser *p, struct partiql_statement *out, bool allow_index)
{
	bool quoted = p->tok.kind == TOK_QIDENT;

	if (p->tok.kind != TOK_IDENT && p->tok.kind != TOK_QIDENT)
		return unexpected(p, "a table name");
	if (!copy_name(p, out->table, "table") || !next(p))
		return false;
	if (p->tok.kind == TOK_DOT) {
		if (!allow_index)
			return fail(p, PARTIQL_SYNTAX, p->tok.off, "only SELECT may name an index");
		if (!next(p))
			return false;
		if (p->tok.kind != TOK_IDENT && p->tok.kind != TOK_QIDENT)
			return unexpected(p, "an index name");
		if (!quoted || p->tok.kind != TOK_QIDENT)
			return fail(p, PARTIQL_UNSUPPORTED, p->tok.off,
			    "table and index must both be double-quoted: \"table\".\"index\"");
		if (!copy_name(p, out->index, "index") || !next(p))
			return false;
	}
	if (p->tok.kind == TOK_DOT || p->tok.kind == TOK_LBRACKET)
		return fail(p, PARTIQL_SYNTAX, p->tok.off, "a table is named as table or table.index, nothing longer");
	return true;
}

/* path := name ('.' name | '[' (number | string | ?) ']')*; `name` is a bare or quoted identifier. */
static bool
parse_path_rest(struct parser *p, bool *simple)
{
	*simple = true;
	for (;;) {
		if (p->tok.kind == TOK_DOT) {
			if (!next(p))
				return false;
			if (p->tok.kind != TOK_IDENT && p->tok.kind != TOK_QIDENT)
				return unexpected(p, "an attribute name after '.'");
		} else if (p->tok.kind == TOK_LBRACKET) {
			if (!next(p))
				return false;
			if (p->tok.kind != TOK_NUMBER && p->tok.kind != TOK_STRING && p->tok.kind != TOK_PARAM)
				return unexpected(p, "a number, string or '?' inside [...]");
			if (!next(p))
				return false;
			if (p->tok.kind != TOK_RBRACKET)
				return unexpected(p, "']'");
		} else {
			return true;
		}
		*simple = false;
		if (!next(p))
			return false;
	}
}

static bool
parse_path(struct parser *p)
{
	bool simple;

	if (p->tok.kind != TOK_IDENT && p->tok.kind != TOK_QIDENT)
		return unexpected(p, "an attribute name");
	return next(p) && parse_path_rest(p, &simple);
}

/* Comma-separated items of a collection up to `close`; all_scalar/count describe them. */
static bool
parse_items(struct parser *p, enum tok_kind close, bool *all_scalar, unsigned *count)
{
	bool scalar;

	*all_scalar = true;
	*count = 0;
	if (!depth_enter(p) || !next(p))
		return false;
	if (p->tok.kind != close) {
		for (;;) {
			if (!parse_value(p, &scalar))
				return false;
			*all_scalar = *all_scalar && scalar;
			(*count)++;
			if (p->tok.kind != TOK_COMMA)
				break;
			if (!next(p))
				return false;
		}
	}
	if (!expect(p, close))
		return false;
	depth_leave(p);
	return true;
}

/* {'key': value, ...}: keys are string literals. */
static bool
parse_tuple(struct parser *p)
{
	bool scalar;

	if (!depth_enter(p) || !next(p))
		return false;
	if (p->tok.kind != TOK_RBRACE) {
		for (;;) {
			if (p->tok.kind != TOK_STRING)
				return unexpected(p, "a string literal as attribute name in {...}");
			if (!next(p) || !expect(p, TOK_COLON) || !parse_value(p, &scalar))
				return false;
			if (p->tok.kind != TOK_COMMA)
				break;
			if (!next(p))
				return false;
		}
	}
	if (!expect(p, TOK_RBRACE))
		return false;
	depth_leave(p);
	return true;
}

/*
 * A literal value (ql-reference.data-types): 'string', number, -number, ?,
 * TRUE, FALSE, NULL, MISSING, {tuple}, [list], <<set>>. Sets hold scalars.
 */
static bool
parse_value(struct parser *p, bool *scalar)
{
	bool all_scalar;
	unsigned count;

	*scalar = false;
	switch (p->tok.kind) {
	case TOK_STRING:
	case TOK_NUMBER:
	case TOK_PARAM:
		*scalar = true;
		return next(p);
	case TOK_MINUS:
		if (!next(p))
			return false;
		if (p->tok.kind != TOK_NUMBER)
			return unexpected(p, "a number after '-'");
		*scalar = true;
		return next(p);
	case TOK_KEYWORD:
		if (is_kw(p, KW_TRUE) || is_kw(p, KW_FALSE) || is_kw(p, KW_NULL) || is_kw(p, KW_MISSING))
			return next(p);
		break;
	case TOK_LBRACE:
		return parse_tuple(p);
	case TOK_LBRACKET:
		return parse_items(p, TOK_RBRACKET, &all_scalar, &count);
	case TOK_LBAG: {
		size_t off = p->tok.off;

		if (!parse_items(p, TOK_RBAG, &all_scalar, &count))
			return false;
		if (!all_scalar)
			return fail(p, PARTIQL_SYNTAX, off, "a set <<...>> holds strings, numbers or '?' only");
		return true;
	}
	default:
		break;
	}
	return unexpected(p, "a literal value");
}

/* name(arg, ...) for the functions DynamoDB documents; the name is the token before '('. */
static bool
parse_call(struct parser *p, const struct tok *name)
{
	struct operand arg;

	if (!is_function(p->s + name->off, name->len))
		return fail(p, PARTIQL_UNSUPPORTED, name->off, "function not supported by DynamoDB");
	if (!depth_enter(p) || !next(p))
		return false;
	if (p->tok.kind != TOK_RPAREN) {
		for (;;) {
			if (!parse_additive(p, &arg))
				return false;
			if (p->tok.kind != TOK_COMMA)
				break;
			if (!next(p))
				return false;
		}
	}
	if (!expect(p, TOK_RPAREN))
		return false;
	depth_leave(p);
	return true;
}

/*
 * Whether an identifier token names the partition key (any name does when
 * the key is not known). A quoted identifier is compared unescaped ("" is ").
 */
static bool
tok_is_key(const struct parser *p, const struct tok *t)
{
	const char *k = p->key_attr, *q, *end;

	if (k == NULL)
		return true;
	if (t->kind == TOK_IDENT)
		return strlen(k) == t->len && memcmp(k, p->s + t->off, t->len) == 0;
	for (q = p->s + t->off + 1, end = p->s + t->off + t->len - 1; q < end; q++, k++) {
		if (*k == '\0' || *q != *k)
			return false;
		if (*q == '"')
			q++; /* the second quote of an escaped pair */
	}
	return *k == '\0';
}

static bool
parse_primary(struct parser *p, struct operand *o)
{
	struct tok name;
	bool scalar, simple;

	memset(o, 0, sizeof(*o));
	switch (p->tok.kind) {
	case TOK_STRING:
	case TOK_NUMBER:
	case TOK_PARAM:
	case TOK_LBRACE:
	case TOK_LBRACKET:
	case TOK_LBAG:
		if (!parse_value(p, &scalar))
			return false;
		o->scalar = scalar;
		return true;
	case TOK_KEYWORD:
		if (is_kw(p, KW_TRUE) || is_kw(p, KW_FALSE) || is_kw(p, KW_NULL) || is_kw(p, KW_MISSING))
			return next(p);
		if (is_kw(p, KW_SELECT) || is_kw(p, KW_EXISTS))
			return fail(p, PARTIQL_UNSUPPORTED, p->tok.off, "subqueries are not supported");
		break;
	case TOK_LPAREN:
		if (!depth_enter(p) || !next(p) || !parse_or(p, &o->restricts) || !expect(p, TOK_RPAREN))
			return false;
		depth_leave(p);
		return true;
	case TOK_IDENT:
		name = p->tok;
		if (!next(p))
			return false;
		if (p->tok.kind == TOK_LPAREN)
			return parse_call(p, &name);
		if (!parse_path_rest(p, &simple))
			return false;
		o->name = simple && tok_is_key(p, &name);
		return true;
	case TOK_QIDENT:
		name = p->tok;
		if (!next(p) || !parse_path_rest(p, &simple))
			return false;
		o->name = simple && tok_is_key(p, &name);
		return true;
	default:
		break;
	}
	return unexpected(p, "an expression");
}

/* ['-'] primary; -number is a scalar, -anything else arithmetic. */
static bool
parse_unary(struct parser *p, struct operand *o)
{
	if (p->tok.kind != TOK_MINUS)
		return parse_primary(p, o);
	if (!depth_enter(p) || !next(p))
		return false;
	if (p->tok.kind == TOK_NUMBER) {
		memset(o, 0, sizeof(*o));
		o->scalar = true;
		if (!next(p))
			return false;
	} else {
		if (!parse_unary(p, o))
			return false;
		memset(o, 0, sizeof(*o));
	}
	depth_leave(p);
	return true;
}

/* unary (('+' | '-') unary)*: DynamoDB has no other arithmetic (ql-operators). */
static bool
parse_additive(struct parser *p, struct operand *o)
{
	struct operand rhs;

	if (!parse_unary(p, o))
		return false;
	while (p->tok.kind == TOK_PLUS || p->tok.kind == TOK_MINUS) {
		if (!next(p) || !parse_unary(p, &rhs))
			return false;
		memset(o, 0, sizeof(*o));
	}
	return true;
}

/* IN [..] | (..) | ?; restricting needs a non-empty list of scalars. */
static bool
parse_in(struct parser *p, bool *scalars)
{
	bool all_scalar;
	unsigned count;

	*scalars = false;
	if (p->tok.kind == TOK_PARAM)
		return next(p);
	if (p->tok.kind == TOK_LBRACKET) {
		if (!parse_items(p, TOK_RBRACKET, &all_scalar, &count))
			return false;
	} else if (p->tok.kind == TOK_LPAREN) {
		if (!parse_items(p, TOK_RPAREN, &all_scalar, &count))
			return false;
	} else {
		return unexpected(p, "a list [...] or (...) after IN");
	}
	*scalars = all_scalar && count > 0;
	return true;
}

/*
 * operand [comparison operand | [NOT] BETWEEN a AND b | [NOT] IN list |
 * IS [NOT] (NULL | MISSING)]. BETWEEN's AND is read here, so it never looks
 * like a conjunction to parse_and().
 */
static bool
parse_predicate(struct parser *p, bool *restricts)
{
	struct operand lhs, rhs;
	enum tok_kind op;
	bool negated = false, scalars;

	*restricts = false;
	if (!parse_additive(p, &lhs))
		return false;
	switch (p->tok.kind) {
	case TOK_EQ:
	case TOK_NE:
	case TOK_LT:
	case TOK_LE:
	case TOK_GT:
	case TOK_GE:
		op = p->tok.kind;
		if (!next(p) || !parse_additive(p, &rhs))
			return false;
		*restricts = op == TOK_EQ && lhs.name && rhs.scalar;
		return true;
	case TOK_KEYWORD:
		break;
	default:
		*restricts = lhs.restricts;
		return true;
	}
	if (is_kw(p, KW_IS)) {
		if (!next(p))
			return false;
		if (is_kw(p, KW_NOT) && !next(p))
			return false;
		if (!is_kw(p, KW_NULL) && !is_kw(p, KW_MISSING))
			return fail(p, PARTIQL_UNSUPPORTED, p->tok.off, "IS [NOT] supports NULL and MISSING only");
		return next(p);
	}
	if (is_kw(p, KW_NOT)) {
		negated = true;
		if (!next(p))
			return false;
		if (!is_kw(p, KW_BETWEEN) && !is_kw(p, KW_IN))
			return unexpected(p, "BETWEEN or IN after NOT");
	}
	if (is_kw(p, KW_BETWEEN)) {
		return next(p) && parse_additive(p, &rhs) && expect_kw(p, KW_AND) && parse_additive(p, &rhs);
	}
	if (is_kw(p, KW_IN)) {
		if (!next(p) || !parse_in(p, &scalars))
			return false;
		*restricts = !negated && lhs.name && scalars;
		return true;
	}
	*restricts = lhs.restricts;
	return true;
}

/* NOT binds looser than comparisons (NOT a = 1 is NOT (a = 1)) and hides what it negates. */
static bool
parse_not(struct parser *p, bool *restricts)
{
	bool ignored;

	if (!is_kw(p, KW_NOT))
		return parse_predicate(p, restricts);
	if (!depth_enter(p) || !next(p) || !parse_not(p, &ignored))
		return false;
	depth_leave(p);
	*restricts = false;
	return true;
}

/* A conjunction restricts the key if any of its terms does. */
static bool
parse_and(struct parser *p, bool *restricts)
{
	bool r;

	if (!parse_not(p, restricts))
		return false;
	while (is_kw(p, KW_AND)) {
		if (!next(p) || !parse_not(p, &r))
			return false;
		*restricts = *restricts || r;
	}
	return true;
}

/* A disjunction is read as restricting nothing (see partiql.h). */
static bool
parse_or(struct parser *p, bool *restricts)
{
	bool r;

	if (!parse_and(p, restricts))
		return false;
	while (is_kw(p, KW_OR)) {
		if (!next(p) || !parse_and(p, &r))
			return false;
		*restricts = false;
	}
	return true;
}

static bool
parse_where(struct parser *p, struct partiql_statement *out, bool *restricts)
{
	*restricts = false;
	if (!is_kw(p, KW_WHERE))
		return true;
	out->has_where = true;
	return next(p) && parse_or(p, restricts);
}

/* The current token is SELECT. */
static bool
read_select(struct parser *p, struct partiql_statement *out)
{
	struct operand o;
	bool restricts;

	out->verb = PARTIQL_SELECT;
	if (!next(p))
		return false;
	if (p->tok.kind == TOK_STAR) {
		if (!next(p))
			return false;
	} else {
		for (;;) {
			if (!parse_additive(p, &o))
				return false;
			if (p->tok.kind != TOK_COMMA)
				break;
			if (!next(p))
				return false;
		}
	}
	if (!expect_kw(p, KW_FROM) || !read_table(p, out, true) || !parse_where(p, out, &restricts))
		return false;
	if (is_kw(p, KW_ORDER)) {
		if (!next(p) || !expect_kw(p, KW_BY))
			return false;
		for (;;) {
			if (!parse_path(p))
				return false;
			if ((is_kw(p, KW_ASC) || is_kw(p, KW_DESC)) && !next(p))
				return false;
			if (p->tok.kind != TOK_COMMA)
				break;
			if (!next(p))
				return false;
		}
	}
	out->full_table_scan = !restricts;
	return true;
}

/* INSERT INTO table VALUE {...} | ? */
static bool
read_insert(struct parser *p, struct partiql_statement *out)
{
	out->verb = PARTIQL_INSERT;
	if (!next(p) || !expect_kw(p, KW_INTO) || !read_table(p, out, false) || !expect_kw(p, KW_VALUE))
		return false;
	if (p->tok.kind == TOK_PARAM)
		return next(p);
	if (p->tok.kind != TOK_LBRACE)
		return unexpected(p, "an item {...} after VALUE");
	return parse_tuple(p);
}

/* RETURNING (ALL|MODIFIED) (OLD|NEW) *; DELETE allows ALL OLD * only. */
static bool
parse_returning(struct parser *p, bool delete)
{
	if (!is_kw(p, KW_RETURNING))
		return true;
	if (!next(p))
		return false;
	if (!is_kw(p, KW_ALL) && (delete || !is_kw(p, KW_MODIFIED)))
		return unexpected(p, delete ? "ALL" : "ALL or MODIFIED");
	if (!next(p))
		return false;
	if (!is_kw(p, KW_OLD) && (delete || !is_kw(p, KW_NEW)))
		return unexpected(p, delete ? "OLD" : "OLD or NEW");
	return next(p) && expect(p, TOK_STAR);
}

/* UPDATE table (SET path = value, ... | REMOVE path, ...)+ [WHERE ...] [RETURNING ...] */
static bool
read_update(struct parser *p, struct partiql_statement *out)
{
	struct operand o;
	bool restricts;

	out->verb = PARTIQL_UPDATE;
	if (!next(p) || !read_table(p, out, false))
		return false;
	if (!is_kw(p, KW_SET) && !is_kw(p, KW_REMOVE))
		return unexpected(p, "SET or REMOVE");
	while (is_kw(p, KW_SET) || is_kw(p, KW_REMOVE)) {
		bool set = is_kw(p, KW_SET);

		if (!next(p))
			return false;
		for (;;) {
			if (!parse_path(p))
				return false;
			if (set && (!expect(p, TOK_EQ) || !parse_additive(p, &o)))
				return false;
			if (p->tok.kind != TOK_COMMA)
				break;
			if (!next(p))
				return false;
		}
	}
	return parse_where(p, out, &restricts) && parse_returning(p, false);
}

/* DELETE FROM table [WHERE ...] [RETURNING ALL OLD *] */
static bool
read_delete(struct parser *p, struct partiql_statement *out)
{
	bool restricts;

	out->verb = PARTIQL_DELETE;
	return next(p) && expect_kw(p, KW_FROM) && read_table(p, out, false) && parse_where(p, out, &restricts) &&
	    parse_returning(p, true);
}

static bool
read_statement(struct parser *p, struct partiql_statement *out)
{
	bool ok;

	if (!next(p))
		return false;
	if (p->tok.kind == TOK_END)
		return fail(p, PARTIQL_SYNTAX, 0, "empty statement");
	if (p->tok.kind != TOK_KEYWORD)
		return unexpected(p, "SELECT, INSERT, UPDATE, DELETE or EXISTS");
	switch (p->tok.kw) {
	case KW_SELECT:
		ok = read_select(p, out);
		break;
	case KW_INSERT:
		ok = read_insert(p, out);
		break;
	case KW_UPDATE:
		ok = read_update(p, out);
		break;
	case KW_DELETE:
		ok = read_delete(p, out);
		break;
	case KW_EXISTS:
		/* ExecuteTransaction condition check (ql-functions.exists): EXISTS(SELECT ...). */
		out->exists = true;
		if (!next(p) || !expect(p, TOK_LPAREN))
			return false;
		if (!is_kw(p, KW_SELECT))
			return unexpected(p, "SELECT inside EXISTS(...)");
		ok = read_select(p, out) && expect(p, TOK_RPAREN);
		break;
	case KW_NOT:
		return fail(p, PARTIQL_UNSUPPORTED, p->tok.off, "only EXISTS(SELECT ...) is supported, not NOT EXISTS");
	default:
		return unexpected(p, "SELECT, INSERT, UPDATE, DELETE or EXISTS");
	}
	if (!ok)
		return false;
	if (p->tok.kind == TOK_SEMI) {
		if (!next(p))
			return false;
		if (p->tok.kind != TOK_END)
			return fail(p, PARTIQL_SYNTAX, p->tok.off, "more than one statement");
	}
	if (p->tok.kind != TOK_END)
		return unexpected(p, "end of statement");
	return true;
}

enum partiql_status
partiql_read(const char *stmt, size_t len, struct partiql_statement *out, char *why, size_t why_len)
{
	return partiql_read_keyed(stmt, len, NULL, out, why, why_len);
}

enum partiql_status
partiql_read_keyed(const char *stmt, size_t len, const char *partition_key, struct partiql_statement *out,
    char *why, size_t why_len)
{
	struct parser p = { .s = stmt, .len = len, .why = why, .why_len = why_len, .key_attr = partition_key };
	size_t i, chars = 0;

	memset(out, 0, sizeof(*out));
	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if (stmt == NULL)
		p.len = len = 0;
	/* Limits first, before reading anything. */
	if (len > PARTIQL_MAX_BYTES)
		fail(&p, PARTIQL_UNSUPPORTED, 0, "statement longer than %d characters", PARTIQL_MAX_CHARS);
	for (i = 0; i < len && !p.failed; i++) {
		if (((unsigned char)stmt[i] & 0xc0) != 0x80 && ++chars > PARTIQL_MAX_CHARS)
			fail(&p, PARTIQL_UNSUPPORTED, 0, "statement longer than %d characters", PARTIQL_MAX_CHARS);
	}
	if (!p.failed && read_statement(&p, out)) {
		out->nparams = p.nparams;
		return PARTIQL_OK;
	}
	memset(out, 0, sizeof(*out));
	return p.status;
}

const char *
partiql_verb_name(enum partiql_verb verb)
{
	switch (verb) {
	case PARTIQL_SELECT: return "SELECT";
	case PARTIQL_INSERT: return "INSERT";
	case PARTIQL_UPDATE: return "UPDATE";
	case PARTIQL_DELETE: return "DELETE";
	}
	return "?";
}

/*
 * Redaction. A second, forgiving tokenizer: it has to work on statements the
 * reader refused too, and must never let a literal through whatever the
 * input. It only ever shortens: each rule maps n bytes to at most n.
 */
struct sink {
	char *out;
	size_t size, n;
};

static void
put(struct sink *w, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++, w->n++)
		if (w->size > 0 && w->n < w->size - 1)
			w->out[w->n] = s[i];
}

/* What came before, for '[' (subscript or list) and for IS [NOT] NULL. */
enum prev {
	PREV_OTHER,
	PREV_NAME, /* identifier, quoted identifier, ']' or ')': a '[' after it is a subscript */
	PREV_IS,
	PREV_IS_NOT,
};

/*
 * An Ion literal `...` at i: offset past the closing backtick, 0 if there is
 * none. Ion's own quoting inside is not followed: the reader refuses Ion
 * literals, and here everything up to the next backtick is redacted anyway.
 */
static size_t
scan_ion(const char *s, size_t n, size_t i)
{
	const char *q = memchr(s + i + 1, '`', n - i - 1);

	return q == NULL ? 0 : (size_t)(q - s) + 1;
}

/* Offset just past a comment starting at i (0 if none there); *open set if unterminated. */
static size_t
comment_end(const char *s, size_t n, size_t i, bool *open)
{
	*open = false;
	if (i + 1 >= n)
		return 0;
	if (s[i] == '-' && s[i + 1] == '-') {
		for (i += 2; i < n && s[i] != '\n' && s[i] != '\r'; i++)
			;
		return i;
	}
	if (s[i] == '/' && s[i + 1] == '*') {
		for (i += 2; i + 1 < n; i++)
			if (s[i] == '*' && s[i + 1] == '/')
				return i + 2;
		*open = true;
		return n;
	}
	return 0;
}

/*
 * A value literal opened at i by `open_len` bytes ({, [ or <<): the offset of
 * its closing bracket (any of } ] ) >> at depth 0), or n if it never closes.
 * Strings, identifiers and comments inside are skipped as units.
 */
static size_t
literal_end(const char *s, size_t n, size_t i, size_t open_len)
{
	size_t depth = 1, e;
	bool open;

	for (i += open_len; i < n;) {
		char c = s[i];

		if (c == '\'' || c == '"' || c == '`') {
			e = c == '`' ? scan_ion(s, n, i) : scan_quoted(s, n, i, c);
			if (e == 0)
				return n;
			i = e;
		} else if ((e = comment_end(s, n, i, &open)) != 0) {
			if (open)
				return n;
			i = e;
		} else if (c == '{' || c == '[' || c == '(') {
			depth++;
			i++;
		} else if (c == '<' && i + 1 < n && s[i + 1] == '<') {
			depth++;
			i += 2;
		} else if (c == '}' || c == ']' || c == ')' || (c == '>' && i + 1 < n && s[i + 1] == '>')) {
			if (--depth == 0)
				return i;
			i += c == '>' ? 2 : 1;
		} else {
			i++;
		}
	}
	return n;
}

static bool
all_space(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_space(s[i]))
			return false;
	return true;
}

size_t
partiql_redact(const char *stmt, size_t len, char *out, size_t out_len)
{
	struct sink w = { out, out_len, 0 };
	const char *s = stmt;
	size_t n = stmt == NULL ? 0 : len, i = 0, e;
	enum prev prev = PREV_OTHER;
	bool open;

	while (i < n) {
		char c = s[i];

		if (is_space(c)) {
			put(&w, s + i, 1);
			i++;
		} else if ((e = comment_end(s, n, i, &open)) != 0) {
			if (open) {
				put(&w, "?", 1);
				break;
			}
			put(&w, " ", 1);
			i = e;
		} else if (c == '\'' || c == '`') {
			e = c == '`' ? scan_ion(s, n, i) : scan_quoted(s, n, i, '\'');
			put(&w, "?", 1);
			if (e == 0)
				break;
			i = e;
			prev = PREV_OTHER;
		} else if (c == '"') {
			if ((e = scan_quoted(s, n, i, '"')) == 0) {
				put(&w, "?", 1);
				break;
			}
			for (; i < e; i++) /* verbatim, but control bytes (NUL!) never reach a log line */
				put(&w, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? "?" : s + i, 1);
			prev = PREV_NAME;
		} else if (is_digit(c) || (c == '.' && i + 1 < n && is_digit(s[i + 1]))) {
			/* The number and anything glued to it (1abc, 1.2.3): all literal. */
			for (e = scan_number(s, n, i); e < n && (is_ident_char(s[e]) || s[e] == '.'); e++)
				;
			put(&w, "?", 1);
			i = e;
			prev = PREV_OTHER;
		} else if (is_ident_start(c)) {
			bool value;

			for (e = i + 1; e < n && is_ident_char(s[e]); e++)
				;
			value = word_eq(s + i, e - i, "TRUE") || word_eq(s + i, e - i, "FALSE") ||
			    word_eq(s + i, e - i, "NULL") || word_eq(s + i, e - i, "MISSING");
			if (value && prev != PREV_IS && prev != PREV_IS_NOT)
				put(&w, "?", 1);
			else
				put(&w, s + i, e - i);
			if (word_eq(s + i, e - i, "IS"))
				prev = PREV_IS;
			else if (prev == PREV_IS && word_eq(s + i, e - i, "NOT"))
				prev = PREV_IS_NOT;
			else
				prev = keyword_lookup(s + i, e - i) >= 0 ? PREV_OTHER : PREV_NAME;
			i = e;
		} else if (c == '{' || (c == '[' && prev != PREV_NAME) || (c == '<' && i + 1 < n && s[i + 1] == '<')) {
			size_t olen = c == '<' ? 2 : 1, close = literal_end(s, n, i, olen);

			put(&w, s + i, olen);
			if (close == n) {
				if (i + olen < n)
					put(&w, "?", 1);
				break;
			}
			if (all_space(s + i + olen, close - i - olen))
				put(&w, s + i + olen, close - i - olen);
			else
				put(&w, "?", 1);
			e = s[close] == '>' ? close + 2 : close + 1;
			put(&w, s + close, e - close);
			i = e;
			prev = PREV_OTHER;
		} else if (c != '\0' && strchr("()[]},.:;*+-=<>!?", c) != NULL) {
			put(&w, s + i, 1);
			i++;
			prev = c == ']' || c == ')' ? PREV_NAME : PREV_OTHER;
		} else {
			put(&w, "?", 1);
			i++;
			prev = PREV_OTHER;
		}
	}
	if (out != NULL && out_len > 0)
		out[w.n < out_len ? w.n : out_len - 1] = '\0';
	return w.n;
}
