/*
 * json.c: strict JSON on top of cJSON (see json.h for the rules and why).
 *
 * Three passes, each cheap: a recognizer that enforces RFC 8259 plus our
 * extra rules and knows byte offsets for errors; cJSON to build the tree
 * (guaranteed to succeed on recognized input); a walk over the tree that
 * refuses duplicate keys, compared after unescaping.
 */
#include "filters/dynamodb/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JSON_HARD_MAX_DEPTH 512	    /* recursion bound whatever the caller asks */
#define JSON_PAIRWISE_MAX 8	    /* objects this small are checked pairwise, no allocation */
#define ARENA_ALIGN 8		    /* cJSON nodes hold doubles and pointers; nothing needs more */
#define ARENA_GROW_MAX (1u << 20)   /* blocks grow by doubling up to this, or to what one allocation needs */
#define ARENA_KEEP_MAX (64u << 10)  /* json_arena_reset keeps a first block this small (a call's usual tree) */
/* What the recognizer charges (see JSON_BODY_MEM_MULTIPLE): exactly what cJSON will allocate. */
#define COST_ROUND(n) (((n) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))
#define COST_NODE COST_ROUND(sizeof(cJSON))
/* cJSON allocates a string's raw length minus its escapes, plus 2 (parse_string in cJSON.c). */
#define COST_STRING(raw_len) COST_ROUND((raw_len) + 2)

/* --- the recognizer -------------------------------------------------- */

struct jv {
	const unsigned char *start, *p, *end;
	unsigned max_depth;
	struct json_error *err;
	size_t cost;   /* bytes the tree will take: nodes, strings, duplicate-key scratch */
	size_t budget; /* SIZE_MAX: unbounded */
};

static void
json_locate(struct json_error *err, const unsigned char *start, const unsigned char *at)
{
	const unsigned char *q;

	err->offset = (size_t)(at - start);
	err->line = 1;
	err->column = 1;
	for (q = start; q < at; q++) {
		if (*q == '\n') {
			err->line++;
			err->column = 1;
		} else {
			err->column++;
		}
	}
}

/*
 * Charges `n` bytes of tree for what starts at `at`. Checked while
 * recognizing, so a body over its budget is refused before cJSON allocates
 * anything, and after reading no more of it than the budget allows.
 */
static bool
jv_charge(struct jv *v, const unsigned char *at, size_t n)
{
	v->cost += n;
	if (v->cost <= v->budget)
		return true;
	json_locate(v->err, v->start, at);
	snprintf(v->err->msg, sizeof(v->err->msg),
	    "too many JSON values for the body's size (its tree would take more than %zu bytes; "
	    "no DynamoDB request has this shape)",
	    v->budget);
	return false;
}

static bool jv_fail(struct jv *v, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool
jv_fail(struct jv *v, const unsigned char *at, const char *fmt, ...)
{
	va_list ap;

	json_locate(v->err, v->start, at);
	va_start(ap, fmt);
	vsnprintf(v->err->msg, sizeof(v->err->msg), fmt, ap);
	va_end(ap);
	return false;
}

static void
jv_skip_ws(struct jv *v)
{
	while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' || *v->p == '\n' || *v->p == '\r'))
		v->p++;
}

/* Length of the valid UTF-8 sequence at p (2..4), 0 if invalid (RFC 3629 section 4). */
static size_t
utf8_seq_len(const unsigned char *p, const unsigned char *end)
{
	size_t n = (size_t)(end - p);
	unsigned char c = p[0];

	if (c >= 0xc2 && c <= 0xdf)
		return (n >= 2 && (p[1] & 0xc0) == 0x80) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return (n >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80) ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return (n >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80) ? 4
														  : 0;
	}
	return 0;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads the 4 hex digits after "\u" at p; -1 if they are not there. */
static long
jv_hex4(const struct jv *v, const unsigned char *p)
{
	long x = 0;
	int i, h;

	if (v->end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((h = hexval(p[i])) < 0)
			return -1;
		x = x * 16 + h;
	}
	return x;
}

/* v->p is just past a backslash. */
static bool
jv_escape(struct jv *v)
{
	const unsigned char *at = v->p - 1;
	long u, lo;

	if (v->p >= v->end)
		return jv_fail(v, at, "unterminated string");
	switch (*v->p) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		v->p++;
		return true;
	case 'u':
		break;
	default:
		if (*v->p >= 0x20 && *v->p < 0x7f)
			return jv_fail(v, at, "invalid escape \\%c", *v->p);
		return jv_fail(v, at, "invalid escape");
	}
	if ((u = jv_hex4(v, v->p + 1)) < 0)
		return jv_fail(v, at, "\\u must be followed by four hex digits");
	v->p += 5;
	if (u == 0)
		return jv_fail(v, at, "\\u0000 is not accepted");
	if (u >= 0xdc00 && u <= 0xdfff)
		return jv_fail(v, at, "unpaired low surrogate \\u%04lx", u);
	if (u < 0xd800 || u > 0xdbff)
		return true;
	/* A high surrogate must be followed by an escaped low surrogate (RFC 8259 section 7). */
	if (v->end - v->p < 6 || v->p[0] != '\\' || v->p[1] != 'u' || (lo = jv_hex4(v, v->p + 2)) < 0 ||
	    lo < 0xdc00 || lo > 0xdfff)
		return jv_fail(v, at, "unpaired high surrogate \\u%04lx", u);
	v->p += 6;
	return true;
}

/* v->p is at the opening quote. */
static bool
jv_string(struct jv *v)
{
	const unsigned char *open = v->p++;
	size_t n;

	for (;;) {
		/* Fast path: the run of bytes that need no attention. */
		while (v->p < v->end && *v->p >= 0x20 && *v->p < 0x80 && *v->p != '"' && *v->p != '\\')
			v->p++;
		if (v->p >= v->end)
			return jv_fail(v, open, "unterminated string");
		if (*v->p == '"') {
			v->p++;
			return jv_charge(v, open, COST_STRING((size_t)(v->p - open - 2)));
		}
		if (*v->p == '\\') {
			v->p++;
			if (!jv_escape(v))
				return false;
			continue;
		}
		if (*v->p == 0)
			return jv_fail(v, v->p, "NUL byte in string");
		if (*v->p < 0x20)
			return jv_fail(v, v->p, "control character 0x%02x in string must be escaped", *v->p);
		if ((n = utf8_seq_len(v->p, v->end)) == 0)
			return jv_fail(v, v->p, "invalid UTF-8 in string");
		v->p += n;
	}
}

static bool
jv_digits(struct jv *v)
{
	const unsigned char *s = v->p;

	while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
		v->p++;
	return v->p > s;
}

/* RFC 8259 section 6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
jv_number(struct jv *v)
{
	const unsigned char *s = v->p;

	if (v->p < v->end && *v->p == '-')
		v->p++;
	if (v->p < v->end && *v->p == '0') {
		v->p++;
		if (v->p < v->end && *v->p >= '0' && *v->p <= '9')
			return jv_fail(v, s, "number with a leading zero");
	} else if (!jv_digits(v)) {
		return jv_fail(v, s, "invalid number");
	}
	if (v->p < v->end && *v->p == '.') {
		v->p++;
		if (!jv_digits(v))
			return jv_fail(v, s, "invalid number: digits must follow '.'");
	}
	if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
		v->p++;
		if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
			v->p++;
		if (!jv_digits(v))
			return jv_fail(v, s, "invalid number: digits must follow the exponent");
	}
	return true;
}

static bool
jv_literal(struct jv *v, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(v->end - v->p) < n || memcmp(v->p, word, n) != 0)
		return jv_fail(v, v->p, "invalid literal");
	v->p += n;
	return true;
}

static bool jv_value(struct jv *v, unsigned depth);

static bool
jv_object(struct jv *v, unsigned depth)
{
	const unsigned char *open = v->p;
	size_t members = 0;

	v->p++; /* '{' */
	jv_skip_ws(v);
	if (v->p < v->end && *v->p == '}') {
		v->p++;
		return true;
	}
	for (;;) {
		jv_skip_ws(v);
		if (v->p >= v->end || *v->p != '"')
			return jv_fail(v, v->p, "expected a string key");
		if (!jv_string(v))
			return false;
		jv_skip_ws(v);
		if (v->p >= v->end || *v->p != ':')
			return jv_fail(v, v->p, "expected ':' after key");
		v->p++;
		if (!jv_value(v, depth))
			return false;
		members++;
		jv_skip_ws(v);
		if (v->p < v->end && *v->p == ',') {
			v->p++;
			continue;
		}
		if (v->p < v->end && *v->p == '}') {
			v->p++;
			/* dup_check_object sorts the keys of a large object in a scratch array */
			return members <= JSON_PAIRWISE_MAX || jv_charge(v, open, COST_ROUND(members * sizeof(char *)));
		}
		return jv_fail(v, v->p, "expected ',' or '}' in object");
	}
}

static bool
jv_array(struct jv *v, unsigned depth)
{
	v->p++; /* '[' */
	jv_skip_ws(v);
	if (v->p < v->end && *v->p == ']') {
		v->p++;
		return true;
	}
	for (;;) {
		if (!jv_value(v, depth))
			return false;
		jv_skip_ws(v);
		if (v->p < v->end && *v->p == ',') {
			v->p++;
			continue;
		}
		if (v->p < v->end && *v->p == ']') {
			v->p++;
			return true;
		}
		return jv_fail(v, v->p, "expected ',' or ']' in array");
	}
}

/* `depth` counts the containers around this value. */
static bool
jv_value(struct jv *v, unsigned depth)
{
	jv_skip_ws(v);
	if (v->p >= v->end)
		return jv_fail(v, v->p, "unexpected end of input");
	if (!jv_charge(v, v->p, COST_NODE))
		return false;
	switch (*v->p) {
	case '{':
	case '[':
		if (depth + 1 > v->max_depth)
			return jv_fail(v, v->p, "nesting deeper than %u", v->max_depth);
		return *v->p == '{' ? jv_object(v, depth + 1) : jv_array(v, depth + 1);
	case '"':
		return jv_string(v);
	case 't':
		return jv_literal(v, "true");
	case 'f':
		return jv_literal(v, "false");
	case 'n':
		return jv_literal(v, "null");
	default:
		if (*v->p == '-' || (*v->p >= '0' && *v->p <= '9'))
			return jv_number(v);
		if (*v->p == 0)
			return jv_fail(v, v->p, "NUL byte");
		return jv_fail(v, v->p, "unexpected byte 0x%02x", *v->p);
	}
}

/* On success *cost is what the tree will take (see COST_*). */
static bool
json_recognize(const char *buf, size_t len, unsigned max_depth, size_t budget, struct json_error *err,
    size_t *cost)
{
	struct jv v = { .start = (const unsigned char *)buf, .p = (const unsigned char *)buf,
		.end = (const unsigned char *)buf + len, .max_depth = max_depth, .err = err, .budget = budget };

	if (!jv_value(&v, 0))
		return false;
	jv_skip_ws(&v);
	if (v.p != v.end)
		return jv_fail(&v, v.p, "unexpected byte after the JSON value");
	*cost = v.cost;
	return true;
}

/* --- duplicate keys -------------------------------------------------- */

struct dup_walk {
	const struct json_opts *opts;
	struct json_error *err;
	struct json_arena *arena; /* scratch for large objects when parsing into an arena */
	char path[160];
	size_t path_len;
};

static bool
is_data_map_member(const struct json_opts *o, const char *name)
{
	size_t lo = 0, hi = o->n_data_map_members;

	if (name == NULL || o->data_map_members == NULL)
		return false;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, o->data_map_members[mid]);

		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

static int
cmp_exact(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
cmp_fold(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* Prints a key for a message: truncated, non-printable bytes as '?'. */
static void
shown_key(char *dst, size_t dstlen, const char *key)
{
	size_t i;

	for (i = 0; key[i] != '\0' && i + 1 < dstlen && i < 48; i++)
		dst[i] = ((unsigned char)key[i] >= 0x20 && (unsigned char)key[i] < 0x7f) ? key[i] : '?';
	dst[i] = '\0';
}

static bool
dup_fail(struct dup_walk *w, const char *a, const char *b)
{
	char ka[56], kb[56];

	shown_key(ka, sizeof(ka), a);
	shown_key(kb, sizeof(kb), b);
	w->err->offset = 0;
	w->err->line = 0;
	w->err->column = 0;
	if (strcmp(a, b) == 0)
		snprintf(w->err->msg, sizeof(w->err->msg), "duplicate key \"%s\" in object at %.60s", ka,
		    w->path_len ? w->path : "$");
	else
		snprintf(w->err->msg, sizeof(w->err->msg), "keys \"%s\" and \"%s\" differ only in case in object at %.40s",
		    ka, kb, w->path_len ? w->path : "$");
	return false;
}

static bool
dup_check_object(struct dup_walk *w, const cJSON *obj, bool fold)
{
	int (*cmp)(const char *, const char *) = fold ? strcasecmp : strcmp;
	const cJSON *a, *b;
	const char **keys;
	size_t n = 0, i;
	bool ok = true;

	for (a = obj->child; a != NULL; a = a->next)
		n++;
	if (n <= JSON_PAIRWISE_MAX) {
		for (a = obj->child; a != NULL; a = a->next)
			for (b = a->next; b != NULL; b = b->next)
				if (cmp(a->string, b->string) == 0)
					return dup_fail(w, a->string, b->string);
		return true;
	}
	keys = w->arena ? json_arena_alloc(w->arena, n * sizeof(*keys)) : malloc(n * sizeof(*keys));
	if (keys == NULL) {
		snprintf(w->err->msg, sizeof(w->err->msg), "out of memory checking keys");
		return false;
	}
	i = 0;
	for (a = obj->child; a != NULL; a = a->next)
		keys[i++] = a->string;
	qsort(keys, n, sizeof(*keys), fold ? cmp_fold : cmp_exact);
	for (i = 1; i < n && ok; i++)
		if (cmp(keys[i - 1], keys[i]) == 0)
			ok = dup_fail(w, keys[i - 1], keys[i]);
	if (w->arena == NULL)
		free(keys);
	return ok;
}

static size_t
dup_path_push(struct dup_walk *w, const char *member)
{
	size_t old = w->path_len;
	char shown[56];
	int n;

	if (w->path_len == 0)
		w->path_len = (size_t)snprintf(w->path, sizeof(w->path), "$");
	/*
	 * FIX (found by fuzz_json): the path goes into err->msg, and so into logs;
	 * member names were copied raw (a "\n" in a name split a log line). Show
	 * them the way dup_fail shows keys.
	 */
	shown_key(shown, sizeof(shown), member);
	n = snprintf(w->path + w->path_len, sizeof(w->path) - w->path_len, ".%s", shown);
	if (n > 0)
		w->path_len += (size_t)n;
	if (w->path_len >= sizeof(w->path))
		w->path_len = sizeof(w->path) - 1;
	return old;
}

/*
 * FIX (found by the fuzz round-trip check, [1e400] printed back as [null]): a
 * number beyond the range of a double is grammatical, but cJSON stores it as
 * inf (valueint INT_MAX) and prints it as null, while DynamoDB reads the digits
 * exactly: two readings of one request. RFC 8259 section 9 lets an
 * implementation limit the range of numbers, so refuse it. Underflow to 0 is
 * kept: it prints back as a number. Checked on the tree, so no byte offset.
 */
static bool
number_in_range(struct dup_walk *w, const cJSON *item)
{
	char k[56];

	if (!cJSON_IsNumber(item) || isfinite(item->valuedouble))
		return true;
	memset(w->err, 0, sizeof(*w->err));
	if (item->string != NULL) {
		shown_key(k, sizeof(k), item->string);
		snprintf(w->err->msg, sizeof(w->err->msg), "number out of range for \"%s\" in object at %.60s", k,
		    w->path_len ? w->path : "$");
	} else {
		snprintf(w->err->msg, sizeof(w->err->msg), "number out of range at %.60s", w->path_len ? w->path : "$");
	}
	return false;
}

/* `member`: the nearest enclosing member name (arrays are transparent), NULL at the root. */
static bool
dup_walk_value(struct dup_walk *w, const cJSON *v, const char *member)
{
	const cJSON *c;
	size_t mark;
	bool ok = true;

	if (cJSON_IsNumber(v)) /* only the root: the loops below check member numbers */
		return number_in_range(w, v);
	if (cJSON_IsObject(v)) {
		if (!dup_check_object(w, v, !is_data_map_member(w->opts, member)))
			return false;
		for (c = v->child; c != NULL && ok; c = c->next) {
			if (!number_in_range(w, c))
				return false;
			if (!cJSON_IsObject(c) && !cJSON_IsArray(c))
				continue;
			mark = dup_path_push(w, c->string);
			ok = dup_walk_value(w, c, c->string);
			w->path_len = mark;
			w->path[mark] = '\0';
		}
	} else if (cJSON_IsArray(v)) {
		for (c = v->child; c != NULL && ok; c = c->next) {
			if (!number_in_range(w, c))
				return false;
			if (cJSON_IsObject(c) || cJSON_IsArray(c))
				ok = dup_walk_value(w, c, member);
		}
	}
	return ok;
}

const char *
json_type_name(const cJSON *v)
{
	if (v == NULL)
		return "nothing";
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "an invalid value";
}

/* --- parsing --------------------------------------------------------- */

static bool arena_reserve(struct json_arena *a, size_t n);

static unsigned
opts_depth(const struct json_opts *opts)
{
	unsigned d = (opts && opts->max_depth) ? opts->max_depth : JSON_DYNAMODB_MAX_DEPTH;

	return d > JSON_HARD_MAX_DEPTH ? JSON_HARD_MAX_DEPTH : d;
}

static cJSON *
json_parse_common(const char *buf, size_t len, const struct json_opts *opts, struct json_error *err,
    struct json_arena *arena)
{
	static const struct json_opts none = { 0 };
	struct dup_walk w = { .opts = opts ? opts : &none, .err = err, .arena = arena };
	size_t budget = SIZE_MAX, cost = 0;
	cJSON *root;

	memset(err, 0, sizeof(*err));
	if (opts != NULL && opts->mem_multiple > 0)
		budget = len > (SIZE_MAX - JSON_MEM_FLOOR) / opts->mem_multiple
		    ? SIZE_MAX
		    : len * opts->mem_multiple + JSON_MEM_FLOOR;
	if (!json_recognize(buf, len, opts_depth(opts), budget, err, &cost))
		return NULL;
	/* One block that holds the whole tree: what the arena takes is what was charged, not twice that. */
	if (arena != NULL && !arena_reserve(arena, cost)) {
		snprintf(err->msg, sizeof(err->msg), "out of memory parsing the body");
		return NULL;
	}
	root = cJSON_ParseWithLength(buf, len);
	if (root == NULL) {
		/* cJSON refusing what the recognizer accepted is a bug in one of them: refuse, never guess. */
		snprintf(err->msg, sizeof(err->msg), "JSON parser disagreement");
		return NULL;
	}
	if (!dup_walk_value(&w, root, NULL)) {
		if (arena == NULL)
			cJSON_Delete(root);
		return NULL;
	}
	return root;
}

cJSON *
json_parse_strict(const char *buf, size_t len, const struct json_opts *opts, struct json_error *err)
{
	return json_parse_common(buf, len, opts, err, NULL);
}

/* --- the arena ------------------------------------------------------- */

struct arena_block {
	struct arena_block *next;
	size_t cap, used;
	unsigned char data[] __attribute__((aligned(ARENA_ALIGN)));
};

struct json_arena {
	struct arena_block *first; /* kept across resets when it is the initial size; NULL after release */
	struct arena_block *cur;
	size_t initial;		   /* size of the first block */
	size_t grow;		   /* next block size when one runs out (doubling up to ARENA_GROW_MAX) */
};

static struct arena_block *
arena_block_new(size_t cap)
{
	struct arena_block *b;

	if (cap > SIZE_MAX - sizeof(*b) || (b = malloc(sizeof(*b) + cap)) == NULL)
		return NULL;
	b->next = NULL;
	b->cap = cap;
	b->used = 0;
	return b;
}

struct json_arena *
json_arena_new(size_t initial_bytes)
{
	struct json_arena *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->initial = initial_bytes ? COST_ROUND(initial_bytes) : 4096;
	a->grow = a->initial;
	return a;
}

static void
arena_free_after(struct arena_block *b)
{
	struct arena_block *n, *next;

	for (n = b->next; n != NULL; n = next) {
		next = n->next;
		free(n);
	}
	b->next = NULL;
}

void
json_arena_release(struct json_arena *a)
{
	if (a == NULL || a->first == NULL)
		return;
	arena_free_after(a->first);
	free(a->first);
	a->first = a->cur = NULL;
	a->grow = a->initial;
}

void
json_arena_free(struct json_arena *a)
{
	json_arena_release(a);
	free(a);
}

/* Keeps a small first block (a block reserved for one large tree is not kept). */
void
json_arena_reset(struct json_arena *a)
{
	if (a->first == NULL)
		return;
	if (a->first->cap > a->initial && a->first->cap > ARENA_KEEP_MAX) {
		json_arena_release(a);
		return;
	}
	arena_free_after(a->first);
	a->first->used = 0;
	a->cur = a->first;
	a->grow = a->initial;
}

static bool
arena_append(struct json_arena *a, size_t cap)
{
	struct arena_block *b = arena_block_new(cap);

	if (b == NULL)
		return false;
	if (a->cur == NULL)
		a->first = b;
	else
		a->cur->next = b;
	a->cur = b;
	return true;
}

/* Makes sure the current block has `n` bytes free, in one block of exactly what is missing if not. */
static bool
arena_reserve(struct json_arena *a, size_t n)
{
	if (a->cur != NULL && a->cur->cap - a->cur->used >= n)
		return true;
	if (a->cur == NULL)
		return arena_append(a, n < a->initial ? a->initial : n);
	return arena_append(a, n);
}

void *
json_arena_alloc(struct json_arena *a, size_t n)
{
	size_t need = COST_ROUND(n);
	void *p;

	if (need < n)
		return NULL;
	if (a->cur == NULL || a->cur->cap - a->cur->used < need) {
		size_t cap = a->cur == NULL ? a->initial : a->grow;

		if (a->cur != NULL && a->grow < ARENA_GROW_MAX)
			a->grow *= 2;
		if (!arena_append(a, cap < need ? need : cap))
			return NULL;
	}
	p = a->cur->data + a->cur->used;
	a->cur->used += need;
	return p;
}

size_t
json_arena_allocated(const struct json_arena *a)
{
	const struct arena_block *b;
	size_t n = 0;

	for (b = a->first; b != NULL; b = b->next)
		n += b->cap;
	return n;
}

char *
json_arena_strndup(struct json_arena *a, const char *s, size_t n)
{
	char *p = json_arena_alloc(a, n + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* cJSON allocates through these; while an arena is active every node comes from it. */
static __thread struct json_arena *active_arena;

static void *
json_hook_malloc(size_t n)
{
	return active_arena ? json_arena_alloc(active_arena, n) : malloc(n);
}

static void
json_hook_free(void *p)
{
	if (active_arena == NULL)
		free(p);
	/* Arena memory goes away with json_arena_reset(). */
}

void
json_init(void)
{
	cJSON_Hooks hooks = { .malloc_fn = json_hook_malloc, .free_fn = json_hook_free };

	cJSON_InitHooks(&hooks);
}

cJSON *
json_arena_parse(struct json_arena *a, const char *buf, size_t len, const struct json_opts *opts,
    struct json_error *err)
{
	cJSON *root;

	active_arena = a;
	root = json_parse_common(buf, len, opts, err, a);
	active_arena = NULL;
	return root;
}
