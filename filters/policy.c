/*
 * policy: IAM-style policies, compiled once at load and evaluated per call.
 *
 * Compilation turns each statement into what evaluation needs and nothing
 * else: the effect, a bitset of catalog action ids (NotAction already
 * complemented), the resource patterns as owned strings and the compiled
 * Condition (filters/condition.c, over the keys of filters/condkeys.c).
 * Evaluation then only tests bits, runs globs over the request's ARNs and
 * evaluates conditions through the caller's lookup; it never allocates.
 *
 * The grammar is a strict subset of IAM's (IAM JSON policy element
 * reference, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html).
 * Anything we do not implement is refused, never ignored: ignoring a
 * Principal, for example, would grant more than the policy says.
 */
#include "filters/policy.h"
#include "filters/condition.h"
#include "filters/condkeys.h"
#include "filters/json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The only policy language version with IAM's current meaning (IAM "Version" element). */
#define POLICY_VERSION "2012-10-17"
/* IAM policy names: 1-128 characters of [A-Za-z0-9+=,.@_-]. */
#define POLICY_NAME_MAX 128
/* Longest piece of config text echoed back in an error message. */
#define POLICY_SHOW_MAX 80
#define POLICY_WORD_BITS 64

struct statement {
	const char *policy; /* the owning policy's name (owned by it) */
	char *sid;          /* NULL when absent */
	unsigned index;     /* position in "Statement" */
	bool deny;
	bool not_resource; /* NotResource: applies to resources matching none of `resources` */
	uint64_t *actions; /* bit id set: catalog action id is covered (NotAction already complemented) */
	char **resources;  /* case-sensitive globs */
	size_t nresources;
	struct condition_block *cond; /* NULL: no Condition (always holds) */
};

struct policy {
	char *name;
	struct statement *statements;
	size_t nstatements;
	size_t nbits; /* catalog_count() when compiled: action ids at or past it match nothing */
};

struct policy_set {
	struct policy *policies; /* sorted by name (strcmp) for policy_set_find() */
	size_t n;
};

/* State of one policy_set_compile() call. */
struct policy_compiler {
	struct diag *d;
	struct diag_path *path;
	size_t errors;        /* counted here: diag_count() stops growing at its limit */
	size_t nbits, nwords; /* catalog size, in bits and 64-bit words */
};

/* An element IAM defines; `unsupported` (non-NULL) says why we refuse it anyway. */
struct policy_key {
	const char *name;
	const char *unsupported;
};

static const struct policy_key policy_keys[] = {
	{ "Version", NULL },
	{ "Id", NULL }, /* IAM: an optional identifier, no effect on evaluation */
	{ "Statement", NULL },
};

static const struct policy_key statement_keys[] = {
	{ "Sid", NULL },
	{ "Effect", NULL },
	{ "Action", NULL },
	{ "NotAction", NULL },
	{ "Resource", NULL },
	{ "NotResource", NULL },
	/* Keys: filters/condkeys.c (XXX: dynamodb:LeadingKeys, dynamodb:Attributes not yet). */
	{ "Condition", NULL },
	{ "Principal", "is not supported yet: \"identities\" say who a policy applies to" },
	{ "NotPrincipal", "is not supported yet: \"identities\" say who a policy applies to" },
};

#define POLICY_NKEYS(t) (sizeof(t) / sizeof((t)[0]))

static void policy_error(struct policy_compiler *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
policy_error(struct policy_compiler *pc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pc->errors++;
	diag_error(pc->d, pc->path->text, "%s", msg);
}

static void policy_error_at(struct policy_compiler *pc, const char *member, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error about member `member` of the object at the current path. */
static void
policy_error_at(struct policy_compiler *pc, const char *member, const char *fmt, ...)
{
	size_t mark = diag_path_member(pc->path, member);
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	policy_error(pc, "%s", msg);
	diag_path_pop(pc->path, mark);
}

static unsigned char
policy_fold(unsigned char c, bool ignore_case)
{
	return (ignore_case && c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/*
 * The classic iterative wildcard match: on a mismatch, retry from the most
 * recent '*' with its run one byte longer. Going back to earlier stars is
 * never needed (whatever they matched, the latest star can absorb instead),
 * so the cost is at most |pattern| * |s| steps, with no recursion and no
 * exponential blow-up on patterns like "a*a*a*a*b".
 */
bool
policy_glob_match(const char *pattern, const char *s, bool ignore_case)
{
	const char *star = NULL;  /* the latest '*' in pattern */
	const char *retry = NULL; /* where in s that star's run ends now */

	while (*s != '\0') {
		if (*pattern == '*') {
			star = pattern++;
			retry = s;
		} else if (*pattern != '\0' &&
		    (*pattern == '?' ||
		        policy_fold((unsigned char)*pattern, ignore_case) ==
		            policy_fold((unsigned char)*s, ignore_case))) {
			pattern++;
			s++;
		} else if (star != NULL) {
			pattern = star + 1;
			s = ++retry;
		} else {
			return false;
		}
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

static bool
policy_prefix_ci(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++) {
		if (policy_fold((unsigned char)*s, true) != policy_fold((unsigned char)*prefix, true))
			return false;
	}
	return true;
}

static bool
policy_charset(const char *s, const char *extra)
{
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		        (extra != NULL && strchr(extra, *s) != NULL)))
			return false;
	}
	return true;
}

/*
 * Reports members of `obj` that are not in `keys`, that `keys` refuses, or
 * that appear twice (cJSON keeps duplicates; the strict parser refuses them
 * already, this keeps the compiler safe on any tree).
 */
static void
policy_check_keys(struct policy_compiler *pc, const cJSON *obj, const struct policy_key *keys, size_t nkeys,
    const char *expected)
{
	uint32_t seen = 0;
	const cJSON *m;

	cJSON_ArrayForEach(m, obj) {
		const char *name = m->string != NULL ? m->string : "";
		size_t k;

		for (k = 0; k < nkeys && strcmp(keys[k].name, name) != 0; k++)
			;
		if (k == nkeys)
			policy_error_at(pc, name, "unknown key \"%.*s\" (expected %s)", POLICY_SHOW_MAX, name,
			    expected);
		else if (seen & (UINT32_C(1) << k))
			policy_error_at(pc, name, "duplicate key \"%s\"", name);
		else if (keys[k].unsupported != NULL)
			policy_error_at(pc, name, "\"%s\" %s", name, keys[k].unsupported);
		if (k < nkeys)
			seen |= UINT32_C(1) << k;
	}
}

typedef void policy_string_fn(struct policy_compiler *pc, const char *s, void *arg);

/* Calls `fn` for a string, or for each string of a non-empty array of strings; reports anything else. */
static void
policy_each_string(struct policy_compiler *pc, const cJSON *v, policy_string_fn *fn, void *arg)
{
	const cJSON *e;
	size_t i = 0;

	if (cJSON_IsString(v)) {
		fn(pc, v->valuestring, arg);
		return;
	}
	if (!cJSON_IsArray(v)) {
		policy_error(pc, "expected a string or an array of strings, got %s", json_type_name(v));
		return;
	}
	if (cJSON_GetArraySize(v) == 0) {
		policy_error(pc, "expected at least one entry, got an empty array");
		return;
	}
	cJSON_ArrayForEach(e, v) {
		size_t mark = diag_path_index(pc->path, i++);

		if (cJSON_IsString(e))
			fn(pc, e->valuestring, arg);
		else
			policy_error(pc, "expected a string, got %s", json_type_name(e));
		diag_path_pop(pc->path, mark);
	}
}

/* Upper bound of the strings policy_each_string() may pass on. */
static size_t
policy_string_count(const cJSON *v)
{
	if (cJSON_IsArray(v))
		return (size_t)cJSON_GetArraySize(v);
	return v != NULL ? 1 : 0;
}

static void
policy_compile_action(struct policy_compiler *pc, const char *pattern, void *arg)
{
	uint64_t *bits = arg;
	size_t matched = 0;

	/* IAM: an Action is "*" or "<service prefix>:<action>", and the prefix is case-insensitive. */
	if (strcmp(pattern, "*") != 0 && !policy_prefix_ci(pattern, "dynamodb:")) {
		if (strchr(pattern, ':') != NULL)
			policy_error(pc,
			    "\"%.*s\" is not a DynamoDB action: only \"dynamodb:...\" or \"*\" can "
			    "match a call through ddbguard",
			    POLICY_SHOW_MAX, pattern);
		else
			policy_error(pc, "expected \"dynamodb:<Action>\" or \"*\", got \"%.*s\"",
			    POLICY_SHOW_MAX, pattern);
		return;
	}
	/* IAM action names are case-insensitive ("DynamoDB:getitem" is GetItem). */
	for (size_t i = 0; i < pc->nbits; i++) {
		const struct catalog_action *a = catalog_at(i);

		if (a == NULL || a->iam_action == NULL || a->id >= pc->nbits ||
		    !policy_glob_match(pattern, a->iam_action, true))
			continue;
		bits[a->id / POLICY_WORD_BITS] |= UINT64_C(1) << (a->id % POLICY_WORD_BITS);
		matched++;
	}
	if (matched == 0)
		policy_error(pc, "\"%.*s\" matches no DynamoDB action (a typo would grant or deny nothing)",
		    POLICY_SHOW_MAX, pattern);
}

/* NotAction: IAM's "every action except these"; bits past the catalog stay clear. */
static void
policy_complement(const struct policy_compiler *pc, uint64_t *bits)
{
	for (size_t w = 0; w < pc->nwords; w++)
		bits[w] = ~bits[w];
	if (pc->nbits % POLICY_WORD_BITS != 0)
		bits[pc->nwords - 1] &= (UINT64_C(1) << (pc->nbits % POLICY_WORD_BITS)) - 1;
}

static bool
policy_has_wildcard(const char *s, size_t n)
{
	return memchr(s, '*', n) != NULL || memchr(s, '?', n) != NULL;
}

/*
 * "arn:<partition>:<service>:...": when neither of the first two segments has
 * a wildcard (a '*' may span colons), the service segment alone decides
 * whether the pattern can ever match a DynamoDB ARN; "arn:aws:s3:::b" cannot.
 */
static bool
policy_arn_may_be_dynamodb(const char *pattern)
{
	const char *partition = pattern + strlen("arn:");
	size_t plen = strcspn(partition, ":");
	const char *service = partition + plen + 1;
	size_t slen;

	if (partition[plen] == '\0')
		return true; /* no service segment to judge */
	slen = strcspn(service, ":");
	if (policy_has_wildcard(partition, plen) || policy_has_wildcard(service, slen))
		return true;
	return slen == strlen("dynamodb") && memcmp(service, "dynamodb", slen) == 0;
}

struct policy_strings {
	char **v;
	size_t n, cap;
};

static void
policy_compile_resource(struct policy_compiler *pc, const char *pattern, void *arg)
{
	struct policy_strings *out = arg;

	if (strstr(pattern, "${") != NULL) {
		/* XXX: IAM policy variables (${aws:username} ...) are not supported yet. */
		policy_error(pc, "policy variables (\"${...}\") are not supported yet, got \"%.*s\"",
		    POLICY_SHOW_MAX, pattern);
		return;
	}
	if (strcmp(pattern, "*") != 0 && strncmp(pattern, "arn:", 4) != 0) {
		policy_error(pc, "expected \"*\" or an ARN pattern (\"arn:...\"), got \"%.*s\"",
		    POLICY_SHOW_MAX, pattern);
		return;
	}
	if (strcmp(pattern, "*") != 0 && !policy_arn_may_be_dynamodb(pattern)) {
		policy_error(pc, "\"%.*s\" is not a DynamoDB ARN: it can never match a DynamoDB resource",
		    POLICY_SHOW_MAX, pattern);
		return;
	}
	if (out->n == out->cap)
		return; /* cannot happen: the list was sized by policy_string_count() */
	out->v[out->n] = strdup(pattern);
	if (out->v[out->n] == NULL) {
		policy_error(pc, "out of memory");
		return;
	}
	out->n++;
}

static void
policy_compile_sid(struct policy_compiler *pc, const cJSON *js, struct policy *p, size_t i)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "Sid");
	size_t mark;

	if (v == NULL)
		return;
	mark = diag_path_member(pc->path, "Sid");
	if (!cJSON_IsString(v)) {
		policy_error(pc, "expected a string, got %s", json_type_name(v));
	} else if (v->valuestring[0] == '\0' || !policy_charset(v->valuestring, NULL)) {
		/*
		 * IAM Sid element: "supports ASCII uppercase letters (A-Z),
		 * lowercase letters (a-z), and numbers (0-9)".
		 */
		policy_error(pc,
		    "expected letters and digits only ([A-Za-z0-9]+, as IAM requires), got \"%.*s\"",
		    POLICY_SHOW_MAX, v->valuestring);
	} else {
		/* IAM: Sid values must be unique within a policy. */
		for (size_t j = 0; j < i; j++) {
			if (p->statements[j].sid != NULL &&
			    strcmp(p->statements[j].sid, v->valuestring) == 0) {
				policy_error(pc, "duplicate Sid \"%.*s\" (also Statement[%zu])",
				    POLICY_SHOW_MAX, v->valuestring, j);
				break;
			}
		}
		p->statements[i].sid = strdup(v->valuestring);
		if (p->statements[i].sid == NULL)
			policy_error(pc, "out of memory");
	}
	diag_path_pop(pc->path, mark);
}

static void
policy_compile_effect(struct policy_compiler *pc, const cJSON *js, struct statement *st)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "Effect");

	if (v == NULL) {
		policy_error(pc, "missing \"Effect\" (\"Allow\" or \"Deny\")");
		return;
	}
	/* IAM: the values are case-sensitive. */
	if (cJSON_IsString(v) && strcmp(v->valuestring, "Allow") == 0)
		st->deny = false;
	else if (cJSON_IsString(v) && strcmp(v->valuestring, "Deny") == 0)
		st->deny = true;
	else if (cJSON_IsString(v))
		policy_error_at(pc, "Effect", "expected \"Allow\" or \"Deny\", got \"%.*s\"", POLICY_SHOW_MAX,
		    v->valuestring);
	else
		policy_error_at(pc, "Effect", "expected \"Allow\" or \"Deny\", got %s", json_type_name(v));
}

/*
 * Finds which of `key` / `not_key` the statement uses; reports both or neither.
 * Returns the member to compile and sets *negated, or NULL when there is none.
 */
static const cJSON *
policy_pick(struct policy_compiler *pc, const cJSON *js, const char *key, const char *not_key, bool *negated)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, key);
	const cJSON *nv = cJSON_GetObjectItemCaseSensitive(js, not_key);

	if (v != NULL && nv != NULL)
		policy_error(pc, "has both \"%s\" and \"%s\"; a statement takes one", key, not_key);
	else if (v == NULL && nv == NULL)
		policy_error(pc, "missing \"%s\" (or \"%s\")", key, not_key);
	*negated = v == NULL;
	return v != NULL ? v : nv;
}

static void
policy_compile_actions(struct policy_compiler *pc, const cJSON *js, struct statement *st)
{
	bool negated;
	const cJSON *v = policy_pick(pc, js, "Action", "NotAction", &negated);
	const cJSON *nv = cJSON_GetObjectItemCaseSensitive(js, "NotAction");
	size_t mark;

	st->actions = calloc(pc->nwords, sizeof(*st->actions));
	if (st->actions == NULL) {
		policy_error(pc, "out of memory");
		return;
	}
	if (v == NULL)
		return;
	mark = diag_path_member(pc->path, negated ? "NotAction" : "Action");
	policy_each_string(pc, v, policy_compile_action, st->actions);
	diag_path_pop(pc->path, mark);
	if (!negated && nv != NULL) {
		/* Both present: already an error; still check NotAction for more of them. */
		mark = diag_path_member(pc->path, "NotAction");
		policy_each_string(pc, nv, policy_compile_action, st->actions);
		diag_path_pop(pc->path, mark);
	}
	if (negated)
		policy_complement(pc, st->actions);
}

static void
policy_compile_resources(struct policy_compiler *pc, const cJSON *js, struct statement *st)
{
	bool negated;
	const cJSON *v = policy_pick(pc, js, "Resource", "NotResource", &negated);
	const cJSON *nv = cJSON_GetObjectItemCaseSensitive(js, "NotResource");
	struct policy_strings out = { 0 };
	size_t mark;

	if (v == NULL)
		return;
	out.cap = policy_string_count(v) + (!negated ? policy_string_count(nv) : 0);
	out.v = calloc(out.cap != 0 ? out.cap : 1, sizeof(*out.v));
	if (out.v == NULL) {
		policy_error(pc, "out of memory");
		return;
	}
	st->resources = out.v; /* owned by the statement from here on, even on error */
	st->not_resource = negated;
	mark = diag_path_member(pc->path, negated ? "NotResource" : "Resource");
	policy_each_string(pc, v, policy_compile_resource, &out);
	diag_path_pop(pc->path, mark);
	if (!negated && nv != NULL) {
		mark = diag_path_member(pc->path, "NotResource");
		policy_each_string(pc, nv, policy_compile_resource, &out);
		diag_path_pop(pc->path, mark);
	}
	st->nresources = out.n;
}

static void
policy_compile_condition(struct policy_compiler *pc, const cJSON *js, struct statement *st)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "Condition");
	const struct condition_key_def *keys;
	size_t nkeys, mark;

	if (v == NULL)
		return;
	keys = condkeys_registry(&nkeys);
	mark = diag_path_member(pc->path, "Condition");
	st->cond = condition_compile(v, keys, nkeys, pc->d, pc->path);
	if (st->cond == NULL)
		pc->errors++; /* condition_compile() reported why */
	diag_path_pop(pc->path, mark);
}

static void
policy_compile_statement(struct policy_compiler *pc, const cJSON *js, struct policy *p, size_t i)
{
	struct statement *st = &p->statements[i];

	st->policy = p->name;
	st->index = (unsigned)i;
	if (!cJSON_IsObject(js)) {
		policy_error(pc, "expected a statement object, got %s", json_type_name(js));
		return;
	}
	policy_check_keys(pc, js, statement_keys, POLICY_NKEYS(statement_keys),
	    "Sid, Effect, Action, NotAction, Resource, NotResource, Condition");
	policy_compile_sid(pc, js, p, i);
	policy_compile_effect(pc, js, st);
	policy_compile_actions(pc, js, st);
	policy_compile_resources(pc, js, st);
	policy_compile_condition(pc, js, st);
}

static void
policy_compile_statements(struct policy_compiler *pc, const cJSON *js, struct policy *p)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "Statement");
	size_t n = policy_string_count(v), mark;
	const cJSON *e;

	if (v == NULL) {
		policy_error(pc, "missing \"Statement\"");
		return;
	}
	mark = diag_path_member(pc->path, "Statement");
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) {
		policy_error(pc, "expected an array of statements, got %s", json_type_name(v));
	} else if (n == 0) {
		policy_error(pc, "expected at least one statement, got an empty array");
	} else if ((p->statements = calloc(n, sizeof(*p->statements))) == NULL) {
		policy_error(pc, "out of memory");
	} else if (cJSON_IsObject(v)) {
		/* IAM accepts a single statement object in place of a list of one. */
		p->nstatements = 1;
		policy_compile_statement(pc, v, p, 0);
	} else {
		cJSON_ArrayForEach(e, v) {
			size_t imark = diag_path_index(pc->path, p->nstatements);

			policy_compile_statement(pc, e, p, p->nstatements++);
			diag_path_pop(pc->path, imark);
		}
	}
	diag_path_pop(pc->path, mark);
}

static void
policy_compile_version(struct policy_compiler *pc, const cJSON *js)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "Version");

	/*
	 * Absent, IAM reads the policy as "2008-10-17", which differs from the
	 * current version only in policy variables; we refuse those anyway.
	 */
	if (v == NULL || (cJSON_IsString(v) && strcmp(v->valuestring, POLICY_VERSION) == 0))
		return;
	if (cJSON_IsString(v))
		policy_error_at(pc, "Version",
		    "expected \"" POLICY_VERSION "\" (or no Version), got \"%.*s\"", POLICY_SHOW_MAX,
		    v->valuestring);
	else
		policy_error_at(pc, "Version", "expected \"" POLICY_VERSION "\" (or no Version), got %s",
		    json_type_name(v));
}

static void
policy_compile_id(struct policy_compiler *pc, const cJSON *js)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(js, "Id");

	if (v != NULL && !cJSON_IsString(v))
		policy_error_at(pc, "Id", "expected a string, got %s", json_type_name(v));
}

static void
policy_compile_one(struct policy_compiler *pc, const cJSON *js, struct policy *p)
{
	const char *name = js->string != NULL ? js->string : "";

	p->nbits = pc->nbits;
	p->name = strdup(name);
	if (p->name == NULL) {
		policy_error(pc, "out of memory");
		return;
	}
	/* Identities refer to policies by name; IAM's policy name rule keeps those references plain. */
	if (name[0] == '\0' || strlen(name) > POLICY_NAME_MAX || !policy_charset(name, "+=,.@_-"))
		policy_error(pc, "policy names are 1-%d characters of [A-Za-z0-9+=,.@_-]", POLICY_NAME_MAX);
	if (!cJSON_IsObject(js)) {
		policy_error(pc, "expected a policy object, got %s", json_type_name(js));
		return;
	}
	policy_check_keys(pc, js, policy_keys, POLICY_NKEYS(policy_keys), "Version, Id, Statement");
	policy_compile_version(pc, js);
	policy_compile_id(pc, js);
	policy_compile_statements(pc, js, p);
}

static int
policy_cmp(const void *a, const void *b)
{
	const struct policy *pa = a, *pb = b;

	return strcmp(pa->name, pb->name);
}

/* Sorts by name for policy_set_find() and reports names defined twice. */
static void
policy_set_index(struct policy_compiler *pc, struct policy_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->policies[i].name == NULL)
			return; /* out of memory, already reported */
	}
	qsort(s->policies, s->n, sizeof(*s->policies), policy_cmp);
	for (size_t i = 1; i < s->n; i++) {
		if (strcmp(s->policies[i - 1].name, s->policies[i].name) == 0)
			policy_error_at(pc, s->policies[i].name, "policy defined twice");
	}
}

struct policy_set *
policy_set_compile(const cJSON *policies, struct diag *d, struct diag_path *path)
{
	struct policy_compiler pc = { .d = d, .path = path };
	struct policy_set *s;
	const cJSON *js;

	pc.nbits = catalog_count();
	pc.nwords = pc.nbits / POLICY_WORD_BITS + 1;
	if (!cJSON_IsObject(policies)) {
		policy_error(&pc, "expected an object of named policies, got %s", json_type_name(policies));
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL ||
	    (s->policies = calloc((size_t)cJSON_GetArraySize(policies) + 1, sizeof(*s->policies))) == NULL) {
		free(s);
		policy_error(&pc, "out of memory");
		return NULL;
	}
	cJSON_ArrayForEach(js, policies) {
		size_t mark = diag_path_member(path, js->string != NULL ? js->string : "");

		policy_compile_one(&pc, js, &s->policies[s->n++]);
		diag_path_pop(path, mark);
	}
	policy_set_index(&pc, s);
	if (pc.errors > 0) {
		policy_set_free(s);
		return NULL;
	}
	return s;
}

static void
policy_statement_free(struct statement *st)
{
	for (size_t i = 0; i < st->nresources; i++)
		free(st->resources[i]);
	free(st->resources);
	free(st->actions);
	condition_free(st->cond);
	free(st->sid);
}

void
policy_set_free(struct policy_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct policy *p = &s->policies[i];

		for (size_t j = 0; j < p->nstatements; j++)
			policy_statement_free(&p->statements[j]);
		free(p->statements);
		free(p->name);
	}
	free(s->policies);
	free(s);
}

static int
policy_find_cmp(const void *name, const void *elem)
{
	const struct policy *p = elem;

	return strcmp(name, p->name);
}

const struct policy *
policy_set_find(const struct policy_set *s, const char *name)
{
	if (s == NULL || name == NULL)
		return NULL;
	return bsearch(name, s->policies, s->n, sizeof(*s->policies), policy_find_cmp);
}

size_t
policy_set_count(const struct policy_set *s)
{
	return s != NULL ? s->n : 0;
}

const char *
policy_name(const struct policy *p)
{
	return p->name;
}

static bool
policy_statement_has_action(const struct policy *p, const struct statement *st, uint16_t id)
{
	return id < p->nbits && (st->actions[id / POLICY_WORD_BITS] >> (id % POLICY_WORD_BITS)) & 1;
}

/* IAM Resource / NotResource: NotResource applies to every resource its patterns do not match. */
static bool
policy_statement_has_resource(const struct statement *st, const char *resource)
{
	bool listed = false;

	for (size_t i = 0; i < st->nresources && !listed; i++)
		listed = policy_glob_match(st->resources[i], resource, false);
	return listed != st->not_resource;
}

/* The lookup for "no request context": every key is absent. */
static void
policy_no_keys(void *ctx, int key_id, const char *tag, struct condition_request_values *out)
{
	(void)ctx;
	(void)key_id;
	(void)tag;
	(void)out;
}

/*
 * The first statement of the given effect, in policy then statement order,
 * that covers the pair and whose Condition holds (IAM: a statement whose
 * conditions are not met does not apply, whatever its effect).
 */
static const struct statement *
policy_first_match(const struct policy *const *policies, size_t n, bool deny, uint16_t action,
    const char *resource, condition_lookup_fn lookup, void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		const struct policy *p = policies[i];

		if (p == NULL)
			continue;
		for (size_t j = 0; j < p->nstatements; j++) {
			const struct statement *st = &p->statements[j];

			if (st->deny == deny && policy_statement_has_action(p, st, action) &&
			    policy_statement_has_resource(st, resource) &&
			    (st->cond == NULL || condition_evaluate(st->cond, lookup, ctx)))
				return st;
		}
	}
	return NULL;
}

static void
policy_decide(struct policy_decision *out, enum policy_effect e, const struct statement *st,
    const char *resource)
{
	out->effect = e;
	out->policy = st != NULL ? st->policy : NULL;
	out->sid = st != NULL ? st->sid : NULL;
	out->statement_index = st != NULL ? st->index : 0;
	out->resource = resource;
}

/*
 * IAM evaluation logic (policy evaluation logic, "Determining whether a
 * request is allowed or denied within an account"): an explicit Deny in any
 * policy wins; otherwise every resource needs an Allow; otherwise the default
 * is deny. For an allow, `resource` is the first resource, which the
 * reported statement matched.
 */
void
policy_evaluate(const struct policy *const *policies, size_t n, const struct catalog_action *action,
    const struct inspect_result *res, condition_lookup_fn lookup, void *ctx, struct policy_decision *out)
{
	/* IAM authorizes actions without resource-level permissions against Resource "*". */
	static const char any[] = "*";
	size_t nres = (res == NULL || res->n == 0) ? 1 : res->n;
	const struct statement *first_allow = NULL;
	const char *unallowed = NULL;

	if (lookup == NULL)
		lookup = policy_no_keys;
	policy_decide(out, POLICY_DENY_IMPLICIT, NULL, (res == NULL || res->n == 0) ? any : res->res[0].arn);
	if (action == NULL || nres > INSPECT_MAX_RESOURCES)
		return; /* not a well-formed call: nothing can allow it */
	for (size_t i = 0; i < nres; i++) {
		const char *r = (res == NULL || res->n == 0) ? any : res->res[i].arn;
		const struct statement *st;

		if (r == NULL) {
			/* An inspector bug, not a resource: it can never be allowed. */
			unallowed = unallowed != NULL ? unallowed : "";
			continue;
		}
		if ((st = policy_first_match(policies, n, true, action->id, r, lookup, ctx)) != NULL) {
			policy_decide(out, POLICY_DENY_EXPLICIT, st, r);
			return;
		}
		if (unallowed != NULL)
			continue; /* already denied: only an explicit Deny can still change the answer */
		st = policy_first_match(policies, n, false, action->id, r, lookup, ctx);
		if (st == NULL)
			unallowed = r;
		else if (first_allow == NULL)
			first_allow = st;
	}
	if (unallowed != NULL)
		policy_decide(out, POLICY_DENY_IMPLICIT, NULL, unallowed);
	else
		policy_decide(out, POLICY_ALLOW, first_allow, out->resource);
}

const char *
policy_effect_name(enum policy_effect e)
{
	switch (e) {
	case POLICY_ALLOW:
		return "allow";
	case POLICY_DENY_EXPLICIT:
		return "explicit-deny";
	case POLICY_DENY_IMPLICIT:
		return "implicit-deny";
	}
	return "unknown";
}
