/*
 * dynexpr: top-level names in DynamoDB projection, update and key condition
 * expressions (DynamoDB Developer Guide, "Projection expressions", "Update
 * expressions", "Key condition expressions for query"). A lexer plus three
 * small readers; see dynexpr.h for what is refused.
 */
#include "filters/dynamodb/dynexpr.h"

#include <string.h>
#include <strings.h>

/* More tokens than a 4 KB key condition could sensibly need: refused rather than read in part. */
#define DYNEXPR_MAX_TOKENS 512

enum dx_tok {
	DX_END,
	DX_WORD,  /* [A-Za-z0-9_]+: a name, keyword, function or index */
	DX_NAME,  /* #placeholder */
	DX_VALUE, /* :placeholder */
	DX_PUNCT, /* one of = < > ( ) , . [ ] + -, or <= >= <> */
	DX_BAD,
};

struct dx_token {
	enum dx_tok type;
	const char *p;
	size_t len;
};

struct dx_lexer {
	const char *s;
	size_t pos;
	struct dx_token cur;
};

static bool
dx_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool
dx_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
dx_skip_space(struct dx_lexer *lx)
{
	while (dx_space(lx->s[lx->pos]))
		lx->pos++;
}

/* Advances lx->cur to the next token. */
static void
dx_next(struct dx_lexer *lx)
{
	const char *p;
	size_t n = 0;

	dx_skip_space(lx);
	p = lx->s + lx->pos;
	lx->cur.p = p;
	if (*p == '\0') {
		lx->cur.type = DX_END;
		lx->cur.len = 0;
		return;
	}
	if (*p == '#' || *p == ':') {
		n = 1;
		while (dx_word_char(p[n]))
			n++;
		lx->cur.type = n > 1 ? (*p == '#' ? DX_NAME : DX_VALUE) : DX_BAD;
	} else if (dx_word_char(*p)) {
		while (dx_word_char(p[n]))
			n++;
		lx->cur.type = DX_WORD;
	} else if (strchr("=<>(),.[]+-", *p) != NULL) {
		n = 1;
		if ((p[0] == '<' && (p[1] == '=' || p[1] == '>')) || (p[0] == '>' && p[1] == '='))
			n = 2;
		lx->cur.type = DX_PUNCT;
	} else {
		lx->cur.type = DX_BAD;
		n = 1;
	}
	lx->cur.len = n;
	lx->pos += n;
}

static bool
dx_is(const struct dx_token *t, const char *punct)
{
	return t->type == DX_PUNCT && t->len == strlen(punct) && memcmp(t->p, punct, t->len) == 0;
}

static bool
dx_is_word(const struct dx_token *t, const char *word)
{
	return t->type == DX_WORD && t->len == strlen(word) && strncasecmp(t->p, word, t->len) == 0;
}

static bool
dx_all_digits(const struct dx_token *t)
{
	if (t->type != DX_WORD)
		return false;
	for (size_t i = 0; i < t->len; i++) {
		if (t->p[i] < '0' || t->p[i] > '9')
			return false;
	}
	return true;
}

/* True when the next non-space byte after the current token is '(' (a function call). */
static bool
dx_followed_by_paren(const struct dx_lexer *lx)
{
	size_t i = lx->pos;

	while (dx_space(lx->s[i]))
		i++;
	return lx->s[i] == '(';
}

/*
 * path := (word | #name) ( "." (word | #name) | "[" digits "]" )*
 * On success the lexer is past the path and *top is its first token.
 */
static bool
dx_path(struct dx_lexer *lx, struct dx_token *top, bool *simple)
{
	if (lx->cur.type != DX_WORD && lx->cur.type != DX_NAME)
		return false;
	*top = lx->cur;
	*simple = true;
	dx_next(lx);
	for (;;) {
		if (dx_is(&lx->cur, ".")) {
			dx_next(lx);
			if (lx->cur.type != DX_WORD && lx->cur.type != DX_NAME)
				return false;
			dx_next(lx);
		} else if (dx_is(&lx->cur, "[")) {
			dx_next(lx);
			if (!dx_all_digits(&lx->cur))
				return false;
			dx_next(lx);
			if (!dx_is(&lx->cur, "]"))
				return false;
			dx_next(lx);
		} else {
			return true;
		}
		*simple = false;
	}
}

/* Reads a path and reports its top-level name. */
static enum dynexpr_status
dx_report_path(struct dx_lexer *lx, dynexpr_name_fn fn, void *ctx)
{
	struct dx_token top;
	bool simple;

	if (!dx_path(lx, &top, &simple))
		return DYNEXPR_BAD;
	return fn(ctx, top.p, top.len) ? DYNEXPR_OK : DYNEXPR_STOPPED;
}

enum dynexpr_status
dynexpr_projection_names(const char *expr, dynexpr_name_fn fn, void *ctx)
{
	struct dx_lexer lx = {.s = expr};
	enum dynexpr_status st;

	dx_next(&lx);
	for (;;) {
		if ((st = dx_report_path(&lx, fn, ctx)) != DYNEXPR_OK)
			return st;
		if (lx.cur.type == DX_END)
			return DYNEXPR_OK;
		if (!dx_is(&lx.cur, ","))
			return DYNEXPR_BAD;
		dx_next(&lx);
	}
}

/* operand := :value | if_not_exists(operand, operand) | list_append(operand, operand) | path */
static enum dynexpr_status
dx_operand(struct dx_lexer *lx, dynexpr_name_fn fn, void *ctx, int depth)
{
	enum dynexpr_status st;

	if (depth > 8)
		return DYNEXPR_BAD;
	if (lx->cur.type == DX_VALUE) {
		dx_next(lx);
		return DYNEXPR_OK;
	}
	if (lx->cur.type == DX_WORD && dx_followed_by_paren(lx)) {
		/* Function names are case-sensitive in DynamoDB. */
		if (!(lx->cur.len == 13 && memcmp(lx->cur.p, "if_not_exists", 13) == 0) &&
		    !(lx->cur.len == 11 && memcmp(lx->cur.p, "list_append", 11) == 0))
			return DYNEXPR_BAD;
		dx_next(lx); /* the name */
		dx_next(lx); /* "(" */
		if ((st = dx_operand(lx, fn, ctx, depth + 1)) != DYNEXPR_OK)
			return st;
		if (!dx_is(&lx->cur, ","))
			return DYNEXPR_BAD;
		dx_next(lx);
		if ((st = dx_operand(lx, fn, ctx, depth + 1)) != DYNEXPR_OK)
			return st;
		if (!dx_is(&lx->cur, ")"))
			return DYNEXPR_BAD;
		dx_next(lx);
		return DYNEXPR_OK;
	}
	return dx_report_path(lx, fn, ctx);
}

enum dx_clause { DX_SET, DX_REMOVE, DX_ADD, DX_DELETE, DX__CLAUSES };

static enum dynexpr_status
dx_update_action(struct dx_lexer *lx, enum dx_clause c, dynexpr_name_fn fn, void *ctx)
{
	enum dynexpr_status st;

	if ((st = dx_report_path(lx, fn, ctx)) != DYNEXPR_OK)
		return st;
	switch (c) {
	case DX_SET:
		if (!dx_is(&lx->cur, "="))
			return DYNEXPR_BAD;
		dx_next(lx);
		if ((st = dx_operand(lx, fn, ctx, 0)) != DYNEXPR_OK)
			return st;
		if (dx_is(&lx->cur, "+") || dx_is(&lx->cur, "-")) {
			dx_next(lx);
			return dx_operand(lx, fn, ctx, 0);
		}
		return DYNEXPR_OK;
	case DX_REMOVE: return DYNEXPR_OK;
	case DX_ADD:
	case DX_DELETE:
		if (lx->cur.type != DX_VALUE)
			return DYNEXPR_BAD;
		dx_next(lx);
		return DYNEXPR_OK;
	case DX__CLAUSES: break;
	}
	return DYNEXPR_BAD;
}

enum dynexpr_status
dynexpr_update_names(const char *expr, dynexpr_name_fn fn, void *ctx)
{
	static const char *const clauses[DX__CLAUSES] = {"SET", "REMOVE", "ADD", "DELETE"};
	struct dx_lexer lx = {.s = expr};
	enum dynexpr_status st;
	unsigned seen = 0;

	dx_next(&lx);
	if (lx.cur.type == DX_END)
		return DYNEXPR_BAD;
	while (lx.cur.type != DX_END) {
		int c = 0;

		while (c < DX__CLAUSES && !dx_is_word(&lx.cur, clauses[c]))
			c++;
		if (c == DX__CLAUSES || (seen & (1u << c)))
			return DYNEXPR_BAD; /* DynamoDB allows each clause once */
		seen |= 1u << c;
		dx_next(&lx);
		for (;;) {
			if ((st = dx_update_action(&lx, (enum dx_clause)c, fn, ctx)) != DYNEXPR_OK)
				return st;
			if (!dx_is(&lx.cur, ","))
				break;
			dx_next(&lx);
		}
	}
	return DYNEXPR_OK;
}

static bool
dx_key_keyword(const struct dx_token *t)
{
	return dx_is_word(t, "AND") || dx_is_word(t, "BETWEEN") || dx_is_word(t, "OR") || dx_is_word(t, "NOT");
}

enum dynexpr_status
dynexpr_key_condition(const char *expr, dynexpr_key_fn fn, void *ctx)
{
	struct dx_token t[DYNEXPR_MAX_TOKENS];
	struct dx_lexer lx = {.s = expr};
	size_t n = 0;
	int depth = 0;

	/* Tokens first: an equality is recognised by its neighbours on both sides. */
	for (dx_next(&lx); lx.cur.type != DX_END; dx_next(&lx)) {
		if (lx.cur.type == DX_BAD || n == DYNEXPR_MAX_TOKENS - 1)
			return DYNEXPR_BAD;
		t[n++] = lx.cur;
	}
	if (n == 0)
		return DYNEXPR_BAD;
	t[n] = lx.cur; /* DX_END */
	for (size_t i = 0; i < n; i++) {
		const struct dx_token *eq = NULL;
		size_t j;

		if (dx_is(&t[i], "(")) {
			depth++;
			continue;
		}
		if (dx_is(&t[i], ")")) {
			if (--depth < 0)
				return DYNEXPR_BAD;
			continue;
		}
		if (t[i].type == DX_VALUE || dx_is(&t[i], ",") || dx_is(&t[i], "=") || dx_is(&t[i], "<") ||
		    dx_is(&t[i], "<=") || dx_is(&t[i], ">") || dx_is(&t[i], ">="))
			continue;
		if (t[i].type == DX_WORD && (dx_key_keyword(&t[i]) || dx_is(&t[i + 1], "(")))
			continue; /* AND, BETWEEN, begins_with( ... */
		if (t[i].type != DX_WORD && t[i].type != DX_NAME)
			return DYNEXPR_BAD; /* "." or "[" outside a path, "+", "<>" */
		/* A path from t[i] to t[j - 1]. */
		for (j = i + 1;;) {
			if (dx_is(&t[j], ".") && (t[j + 1].type == DX_WORD || t[j + 1].type == DX_NAME))
				j += 2;
			else if (dx_is(&t[j], "[") && dx_all_digits(&t[j + 1]) && dx_is(&t[j + 2], "]"))
				j += 3;
			else
				break;
		}
		if (j == i + 1) {
			if (dx_is(&t[j], "=") && t[j + 1].type == DX_VALUE)
				eq = &t[j + 1];
			else if (i >= 2 && dx_is(&t[i - 1], "=") && t[i - 2].type == DX_VALUE)
				eq = &t[i - 2];
		}
		if (!fn(ctx, t[i].p, t[i].len, j == i + 1, eq ? eq->p : NULL, eq ? eq->len : 0))
			return DYNEXPR_STOPPED;
		i = j - 1;
	}
	return depth == 0 ? DYNEXPR_OK : DYNEXPR_BAD;
}
