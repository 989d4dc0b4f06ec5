/*
 * inspect: walks a request body along the catalog's locations for its action
 * and collects the resources it names as ARNs.
 *
 * The body has already been parsed strictly (filters/dynamodb/json.c), so every member
 * is unique and looked up case-sensitively here. A location that is absent is
 * fine (DynamoDB rejects a missing required member itself); one that is present
 * with the wrong JSON type, or names something that is not a valid DynamoDB
 * resource, fails the request: we never authorize a value we cannot read the
 * way DynamoDB will.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "filters/dynamodb/arn.h"
#include "filters/dynamodb/partiql.h"
#include "filters/dynamodb/inspect.h"

/* Concrete paths in `why` ("TransactItems[3].Put.TableName"), cut if longer. */
#define INSPECT_PATH_MAX 160

struct walk {
	const struct catalog_action *action;
	const struct inspect_scope *scope;
	struct json_arena *arena;
	struct inspect_result *out;
	char *why;
	size_t why_len;
	char path[INSPECT_PATH_MAX];
	size_t path_len;
};

__attribute__((format(printf, 3, 4))) static enum inspect_status
fail(struct walk *w, enum inspect_status st, const char *fmt, ...)
{
	va_list ap;

	if (w->why != NULL && w->why_len > 0) {
		va_start(ap, fmt);
		vsnprintf(w->why, w->why_len, fmt, ap);
		va_end(ap);
	}
	return st;
}

static enum inspect_status
bad(struct walk *w, const char *what)
{
	return fail(w, INSPECT_BAD_REQUEST, "%s: %s", w->path_len > 0 ? w->path : "request body",
	    what);
}

/* Appends to the concrete path; returns the old length for path_pop(). */
__attribute__((format(printf, 2, 3))) static size_t
path_push(struct walk *w, const char *fmt, ...)
{
	size_t old = w->path_len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(w->path + old, sizeof(w->path) - old, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	w->path_len = old + (size_t)n < sizeof(w->path) ? old + (size_t)n : sizeof(w->path) - 1;
	return old;
}

static void
path_pop(struct walk *w, size_t old)
{
	w->path_len = old;
	w->path[old] = '\0';
}

/* ---------------------------------------------------------------- results */

static enum inspect_type
type_of_kind(enum arn_kind k)
{
	switch (k) {
	case ARN_TABLE:
		return INSPECT_TABLE;
	case ARN_INDEX:
		return INSPECT_INDEX;
	case ARN_STREAM:
		return INSPECT_STREAM;
	case ARN_BACKUP:
		return INSPECT_BACKUP;
	case ARN_EXPORT:
		return INSPECT_EXPORT;
	case ARN_IMPORT:
		return INSPECT_IMPORT;
	case ARN_GLOBAL_TABLE:
		return INSPECT_GLOBAL_TABLE;
	case ARN_BULK_OPERATION:
		return INSPECT_BULK_OPERATION;
	}
	return INSPECT_TABLE; /* not reached: arn_parse() only yields the kinds above */
}

static bool
already_listed(const struct inspect_result *out, enum inspect_type type, const char *arn)
{
	size_t i;

	for (i = 0; i < out->n; i++)
		if (out->res[i].type == type && strcmp(out->res[i].arn, arn) == 0)
			return true;
	return false;
}

/* Copies up to three strings into one arena block; NULL slices stay NULL. */
static bool
arena_copy3(struct json_arena *arena, const char *arn, struct arn_slice table,
    struct arn_slice name, const char **arn_out, const char **table_out, const char **name_out)
{
	size_t alen = strlen(arn);
	char *p = json_arena_alloc(arena, alen + 1 + table.len + 1 + name.len + 1);

	if (p == NULL)
		return false;
	memcpy(p, arn, alen + 1);
	*arn_out = p;
	p += alen + 1;
	*table_out = NULL;
	if (table.p != NULL) {
		memcpy(p, table.p, table.len);
		p[table.len] = '\0';
		*table_out = p;
		p += table.len + 1;
	}
	*name_out = NULL;
	if (name.p != NULL) {
		memcpy(p, name.p, name.len);
		p[name.len] = '\0';
		*name_out = p;
	}
	return true;
}

/*
 * Records the resource `a` from catalog location `loc`, once per (type, ARN).
 * Only tables and indexes carry a table name to the result; global tables and
 * bulk operations have none (inspect.h).
 */
static enum inspect_status
add_resource(struct walk *w, const struct catalog_location *loc, const struct arn *a)
{
	struct inspect_result *out = w->out;
	enum inspect_type type = type_of_kind(a->kind);
	struct arn_slice table = a->table, name = { NULL, 0 };
	struct inspect_resource *r;
	char buf[ARN_MAX_FORMAT];

	if (!arn_format(a, buf, sizeof(buf)))
		return bad(w, "resource ARN too long");
	if (type == INSPECT_GLOBAL_TABLE || type == INSPECT_BULK_OPERATION)
		table.p = NULL;
	if (type == INSPECT_INDEX)
		name = a->sub;
	/* arn_of_name() points the account at the scope's own string: the caller named no account. */
	if (a->account.p == w->scope->account)
		out->named_without_account++;
	if (already_listed(out, type, buf))
		return INSPECT_OK;
	if (out->n >= INSPECT_MAX_RESOURCES)
		return fail(w, INSPECT_TOO_MANY, "%s: more than %d resources", w->path,
		    INSPECT_MAX_RESOURCES);
	r = &out->res[out->n];
	if (!arena_copy3(w->arena, buf, table, name, &r->arn, &r->table, &r->name))
		return fail(w, INSPECT_BAD_REQUEST, "%s: out of memory", w->path);
	r->type = type;
	r->location = loc->path;
	out->n++;
	if (out->primary_table == NULL && (type == INSPECT_TABLE || type == INSPECT_INDEX))
		out->primary_table = r->table;
	return INSPECT_OK;
}

/* ---------------------------------------------------------------- values */

static struct arn_slice
slice_of(const char *s)
{
	struct arn_slice sl = { s, strlen(s) };

	return sl;
}

/* A bare table name becomes a table ARN in our partition, region and account. */
static void
arn_of_name(const struct walk *w, enum arn_kind kind, const char *name, size_t len, struct arn *a)
{
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->partition = slice_of(w->scope->partition);
	a->account = slice_of(w->scope->account);
	if (kind != ARN_GLOBAL_TABLE)
		a->region = slice_of(w->scope->region);
	a->table.p = name;
	a->table.len = len;
}

static bool
parse_kind(const char *s, size_t len, enum arn_kind want, struct arn *a)
{
	return arn_parse(s, len, a) && a->kind == want;
}

/*
 * The catalog emits an IndexName location only beside a TableName (see
 * gen_catalog.py): this finds the index member sharing `loc`'s parent object.
 */
static const char *
sibling_index_member(const struct catalog_action *action, const struct catalog_location *loc)
{
	size_t i, k;

	for (i = 0; i < action->nlocations; i++) {
		const struct catalog_location *o = &action->locations[i];

		if (o->res != CATALOG_RES_INDEX || o->nsteps != loc->nsteps || o->nsteps == 0 ||
		    o->steps[o->nsteps - 1].kind != CATALOG_STEP_MEMBER)
			continue;
		for (k = 0; k + 1 < o->nsteps; k++) {
			const struct catalog_step *a = &o->steps[k], *b = &loc->steps[k];

			if (a->kind != b->kind ||
			    (a->kind == CATALOG_STEP_MEMBER && strcmp(a->member, b->member) != 0))
				break;
		}
		if (k + 1 == o->nsteps)
			return o->steps[o->nsteps - 1].member;
	}
	return NULL;
}

/* Companion of sibling_index_member(): the TableName beside an IndexName. */
static const char *
sibling_table_member(const struct catalog_action *action, const struct catalog_location *loc)
{
	size_t i;

	for (i = 0; i < action->nlocations; i++) {
		const struct catalog_location *o = &action->locations[i];

		const char *index_member;

		if (o->res != CATALOG_RES_TABLE || o->nsteps != loc->nsteps ||
		    o->steps[o->nsteps - 1].kind != CATALOG_STEP_MEMBER)
			continue;
		index_member = sibling_index_member(action, o);
		if (index_member != NULL && strcmp(index_member, loc->steps[loc->nsteps - 1].member) == 0)
			return o->steps[o->nsteps - 1].member;
	}
	return NULL;
}

/*
 * TableName: a name or a table ARN. A top-level IndexName in the same object
 * (Query, Scan, SearchVectors, contributor insights) makes the resource
 * table/T/index/I instead, since IAM authorizes reads through an index on the
 * index ARN. IndexName elsewhere (CreateTable's index definitions,
 * UpdateTable's GlobalSecondaryIndexUpdates, restore overrides) defines or
 * changes an index, which IAM authorizes on the table: the generator emits no
 * location for it, so it adds nothing here.
 */
static enum inspect_status
on_table(struct walk *w, const struct catalog_location *loc, const char *s, size_t len,
    const cJSON *parent)
{
	const char *index_member;
	const cJSON *index;
	struct arn a;

	if (len >= 4 && memcmp(s, "arn:", 4) == 0) {
		if (!parse_kind(s, len, ARN_TABLE, &a))
			return bad(w, "not a DynamoDB table ARN");
	} else if (arn_valid_table_name(s, len)) {
		arn_of_name(w, ARN_TABLE, s, len, &a);
	} else {
		return bad(w, "invalid table name");
	}
	index_member = parent != NULL ? sibling_index_member(w->action, loc) : NULL;
	index = index_member != NULL ? cJSON_GetObjectItemCaseSensitive(parent, index_member) : NULL;
	if (index != NULL) {
		/* Checked here as well: on_index() runs later when TableName comes first. */
		if (!cJSON_IsString(index) || index->valuestring == NULL ||
		    !arn_valid_table_name(index->valuestring, strlen(index->valuestring)))
			return bad(w, "invalid index name beside it");
		a.kind = ARN_INDEX;
		a.sub = slice_of(index->valuestring);
	}
	return add_resource(w, loc, &a);
}

/* IndexName is folded into its table's resource by on_table(); here it is only checked. */
static enum inspect_status
on_index(struct walk *w, const struct catalog_location *loc, const char *s, size_t len,
    const cJSON *parent)
{
	const char *table_member = sibling_table_member(w->action, loc);

	if (!arn_valid_table_name(s, len))
		return bad(w, "invalid index name");
	if (parent == NULL || table_member == NULL ||
	    cJSON_GetObjectItemCaseSensitive(parent, table_member) == NULL)
		return bad(w, "index without a table");
	return INSPECT_OK;
}

static enum inspect_status
on_arn_of(struct walk *w, const struct catalog_location *loc, const char *s, size_t len,
    enum arn_kind kind, const char *what)
{
	struct arn a;

	if (!parse_kind(s, len, kind, &a))
		return bad(w, what);
	return add_resource(w, loc, &a);
}

static enum inspect_status
on_any_arn(struct walk *w, const struct catalog_location *loc, const char *s, size_t len,
    const cJSON *parent)
{
	struct arn a;

	if (!arn_parse(s, len, &a))
		return bad(w, "not a DynamoDB ARN");
	return add_resource(w, loc, &a);
}

/*
 * Shard iterators are opaque to clients but begin "<stream ARN>|": that
 * prefix names the stream GetRecords reads. One that does not is refused
 * rather than passed through unauthorized.
 */
static enum inspect_status
on_shard_iterator(struct walk *w, const struct catalog_location *loc, const char *s, size_t len,
    const cJSON *parent)
{
	const char *bar = memchr(s, '|', len);

	if (bar == NULL)
		return bad(w, "shard iterator does not begin with a stream ARN");
	return on_arn_of(w, loc, s, (size_t)(bar - s), ARN_STREAM,
	    "shard iterator does not begin with a stream ARN");
}

/* Global tables are named, never given by ARN, and live in no region. */
static enum inspect_status
on_global_table(struct walk *w, const struct catalog_location *loc, const char *s, size_t len,
    const cJSON *parent)
{
	struct arn a;

	if (!arn_valid_table_name(s, len))
		return bad(w, "invalid global table name");
	arn_of_name(w, ARN_GLOBAL_TABLE, s, len, &a);
	return add_resource(w, loc, &a);
}

/*
 * A PartiQL statement names the table (or "t"."i" index) it works on; that
 * is the resource IAM authorizes it against. A statement the reader cannot
 * read with certainty is refused: guessing its table would be guessing in
 * the caller's favour.
 */
static enum inspect_status
on_partiql(struct walk *w, const struct catalog_location *loc, const char *s, size_t len,
    const cJSON *parent)
{
	struct partiql_statement st;
	char why[PARTIQL_WHY_MAX];
	struct arn a;
	char *redacted;

	if (partiql_read(s, len, &st, why, sizeof(why)) != PARTIQL_OK) {
		char msg[PARTIQL_WHY_MAX + 32];

		snprintf(msg, sizeof(msg), "PartiQL statement refused: %s", why);
		return bad(w, msg);
	}
	arn_of_name(w, ARN_TABLE, st.table, strlen(st.table), &a);
	if (st.index[0] != '\0') {
		a.kind = ARN_INDEX;
		a.sub = slice_of(st.index);
	}
	w->out->partiql_verbs |= 1u << st.verb;
	if (w->out->partiql_statement == NULL && (redacted = json_arena_alloc(w->arena, len + 1)) != NULL) {
		partiql_redact(s, len, redacted, len + 1);
		w->out->partiql_statement = redacted;
	}
	return add_resource(w, loc, &a);
}

typedef enum inspect_status (*value_fn)(struct walk *w, const struct catalog_location *loc,
    const char *s, size_t len, const cJSON *parent);

/*
 * What each catalog_res means, indexed by it: a handler for kinds with logic
 * of their own, else the ARN kind the value must parse as.
 */
static const struct value_rule {
	value_fn fn;
	enum arn_kind kind;
	const char *refusal;
} value_rules[] = {
	[CATALOG_RES_TABLE] = { on_table, 0, NULL },
	[CATALOG_RES_TABLE_ARN] = { NULL, ARN_TABLE, "not a DynamoDB table ARN" },
	[CATALOG_RES_ANY_ARN] = { on_any_arn, 0, NULL },
	[CATALOG_RES_INDEX] = { on_index, 0, NULL },
	[CATALOG_RES_STREAM_ARN] = { NULL, ARN_STREAM, "not a DynamoDB stream ARN" },
	[CATALOG_RES_SHARD_ITERATOR] = { on_shard_iterator, 0, NULL },
	[CATALOG_RES_BACKUP_ARN] = { NULL, ARN_BACKUP, "not a DynamoDB backup ARN" },
	[CATALOG_RES_EXPORT_ARN] = { NULL, ARN_EXPORT, "not a DynamoDB export ARN" },
	[CATALOG_RES_IMPORT_ARN] = { NULL, ARN_IMPORT, "not a DynamoDB import ARN" },
	[CATALOG_RES_GLOBAL_TABLE] = { on_global_table, 0, NULL },
	[CATALOG_RES_BULK_OP_ARN] = { NULL, ARN_BULK_OPERATION, "not a DynamoDB bulk operation ARN" },
	[CATALOG_RES_PARTIQL] = { on_partiql, 0, NULL },
};

static enum inspect_status
on_value(struct walk *w, const struct catalog_location *loc, const char *s, size_t len,
    const cJSON *parent)
{
	size_t res = (size_t)loc->res;
	const struct value_rule *r;

	if (res >= sizeof(value_rules) / sizeof(value_rules[0]) ||
	    ((r = &value_rules[res])->fn == NULL && r->refusal == NULL))
		return fail(w, INSPECT_BAD_REQUEST, "%s: no handler for resource kind %zu", loc->path, res);
	if (r->fn != NULL)
		return r->fn(w, loc, s, len, parent);
	return on_arn_of(w, loc, s, len, r->kind, r->refusal);
}

/* ---------------------------------------------------------------- walking */

/* The value a location ends on: a string, in an object (`parent`) or an array. */
static enum inspect_status
on_leaf(struct walk *w, const struct catalog_location *loc, const cJSON *v, const cJSON *parent)
{
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return bad(w, "expected a string");
	return on_value(w, loc, v->valuestring, strlen(v->valuestring), parent);
}

static enum inspect_status walk_step(struct walk *w, const struct catalog_location *loc,
    size_t k, const cJSON *node);

/* Continues after step k with `child`, or ends the location on it. */
static enum inspect_status
walk_next(struct walk *w, const struct catalog_location *loc, size_t k, const cJSON *child,
    const cJSON *parent)
{
	if (k + 1 == loc->nsteps)
		return on_leaf(w, loc, child, parent);
	return walk_step(w, loc, k + 1, child);
}

static enum inspect_status
step_member(struct walk *w, const struct catalog_location *loc, size_t k, const cJSON *node)
{
	const char *member = loc->steps[k].member;
	const cJSON *child;
	enum inspect_status st;
	size_t old;

	if (!cJSON_IsObject(node))
		return bad(w, "expected an object");
	child = cJSON_GetObjectItemCaseSensitive(node, member);
	if (child == NULL)
		return INSPECT_OK; /* optional here; DynamoDB enforces required members */
	old = path_push(w, w->path_len > 0 ? ".%s" : "%s", member);
	st = walk_next(w, loc, k, child, node);
	path_pop(w, old);
	return st;
}

static enum inspect_status
step_each(struct walk *w, const struct catalog_location *loc, size_t k, const cJSON *node)
{
	const cJSON *el;
	size_t i = 0;

	if (!cJSON_IsArray(node))
		return bad(w, "expected an array");
	cJSON_ArrayForEach(el, node) {
		size_t old = path_push(w, "[%zu]", i++);
		enum inspect_status st = walk_next(w, loc, k, el, NULL);

		path_pop(w, old);
		if (st != INSPECT_OK)
			return st;
	}
	return INSPECT_OK;
}

/*
 * Map keys (RequestItems' table names) and values. Keys are shown by ordinal,
 * "{#2}", so that `why` never carries request bytes into the logs.
 */
static enum inspect_status
step_map(struct walk *w, const struct catalog_location *loc, size_t k, const cJSON *node)
{
	const cJSON *el;
	size_t i = 0;

	if (!cJSON_IsObject(node))
		return bad(w, "expected an object");
	cJSON_ArrayForEach(el, node) {
		size_t old = path_push(w, "{#%zu}", i++);
		enum inspect_status st;

		if (loc->steps[k].kind == CATALOG_STEP_VALUES)
			st = walk_next(w, loc, k, el, NULL);
		else if (k + 1 != loc->nsteps || el->string == NULL)
			st = bad(w, "map keys must end a location");
		else
			st = on_value(w, loc, el->string, strlen(el->string), NULL);
		path_pop(w, old);
		if (st != INSPECT_OK)
			return st;
	}
	return INSPECT_OK;
}

static enum inspect_status
walk_step(struct walk *w, const struct catalog_location *loc, size_t k, const cJSON *node)
{
	switch (loc->steps[k].kind) {
	case CATALOG_STEP_MEMBER:
		return step_member(w, loc, k, node);
	case CATALOG_STEP_EACH:
		return step_each(w, loc, k, node);
	case CATALOG_STEP_KEYS:
	case CATALOG_STEP_VALUES:
		return step_map(w, loc, k, node);
	}
	return fail(w, INSPECT_BAD_REQUEST, "%s: bad catalog step", loc->path);
}

enum inspect_status
inspect_request(const struct catalog_action *action, const cJSON *body,
    const struct inspect_scope *scope, struct json_arena *arena, struct inspect_result *out,
    char *why, size_t why_len)
{
	struct walk w;
	size_t i;

	out->n = 0;
	out->named_without_account = 0;
	out->primary_table = NULL;
	out->partiql_verbs = 0;
	out->partiql_statement = NULL;
	memset(&w, 0, sizeof(w));
	w.action = action;
	w.scope = scope;
	w.arena = arena;
	w.out = out;
	w.why = why;
	w.why_len = why_len;
	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if (action == NULL || scope == NULL || scope->partition == NULL || scope->region == NULL ||
	    scope->account == NULL || arena == NULL)
		return fail(&w, INSPECT_BAD_REQUEST, "inspector called without action or scope");
	/* Every DynamoDB request body is a JSON object, "{}" at least. */
	if (!cJSON_IsObject(body))
		return bad(&w, "expected an object");
	for (i = 0; i < action->nlocations; i++) {
		const struct catalog_location *loc = &action->locations[i];
		enum inspect_status st;

		if (loc->nsteps == 0 || loc->nsteps > CATALOG_MAX_STEPS)
			return fail(&w, INSPECT_BAD_REQUEST, "%s: bad catalog location", loc->path);
		st = walk_step(&w, loc, 0, body);
		if (st != INSPECT_OK)
			return st;
	}
	return INSPECT_OK;
}

static const struct {
	const char *name;
	const char *cloudtrail;
} type_names[] = {
	[INSPECT_TABLE] = { "table", "AWS::DynamoDB::Table" },
	[INSPECT_INDEX] = { "index", "AWS::DynamoDB::Index" },
	[INSPECT_STREAM] = { "stream", "AWS::DynamoDB::Stream" },
	[INSPECT_BACKUP] = { "backup", "AWS::DynamoDB::Backup" },
	[INSPECT_EXPORT] = { "export", "AWS::DynamoDB::Export" },
	[INSPECT_IMPORT] = { "import", "AWS::DynamoDB::Import" },
	[INSPECT_GLOBAL_TABLE] = { "global-table", "AWS::DynamoDB::GlobalTable" },
	[INSPECT_BULK_OPERATION] = { "bulk-operation", "AWS::DynamoDB::BulkOperation" },
};

const char *
inspect_type_name(enum inspect_type t)
{
	if ((size_t)t >= sizeof(type_names) / sizeof(type_names[0]))
		return "unknown";
	return type_names[t].name;
}

/*
 * XXX CloudTrail documents AWS::DynamoDB::Table and AWS::DynamoDB::Stream as
 * DynamoDB resource types; the others follow the same pattern but are ours.
 */
const char *
inspect_type_cloudtrail(enum inspect_type t)
{
	if ((size_t)t >= sizeof(type_names) / sizeof(type_names[0]))
		return "AWS::DynamoDB::Unknown";
	return type_names[t].cloudtrail;
}
