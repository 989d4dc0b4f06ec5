/*
 * policy: IAM-style policies, compiled once at load and evaluated per call.
 *
 * Compilation turns each statement into what evaluation needs and nothing
 * else: the effect, a bitset of catalog action ids (NotAction already
 * complemented), the resource patterns as owned strings and the compiled
 * Condition (filters/policy/condition.c, over the keys of filters/policy/condkeys_defs.c).
 * Evaluation then only tests bits, runs globs over the request's ARNs and
 * evaluates conditions through the caller's lookup; it never allocates.
 *
 * The grammar is a strict subset of IAM's (IAM JSON policy element
 * reference, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html).
 * Anything we do not implement is refused, never ignored: ignoring a
 * Principal, for example, would grant more than the policy says.
 */
#include "filters/policy/policy.h"
#include "filters/policy/condition.h"
#include "filters/policy/condkeys_defs.h"
#include "filters/dynamodb/arn.h"
#include "filters/dynamodb/json.h"
#include "filters/dynamodb/partiql.h"

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
/* enum partiql_verb has four values; the IAM actions that authorize each (Service Authorization Reference). */
#define POLICY_PARTIQL_VERBS 4
#define POLICY_NO_ACTION UINT16_MAX
static const char *const policy_partiql_iam[POLICY_PARTIQL_VERBS] = {
	[PARTIQL_SELECT] = "dynamodb:PartiQLSelect",
	[PARTIQL_INSERT] = "dynamodb:PartiQLInsert",
	[PARTIQL_UPDATE] = "dynamodb:PartiQLUpdate",
	[PARTIQL_DELETE] = "dynamodb:PartiQLDelete",
};

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
	/* Catalog ids of dynamodb:PartiQL<Verb> by enum partiql_verb; POLICY_NO_ACTION if missing. */
	uint16_t partiql_ids[POLICY_PARTIQL_VERBS];
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
	/* Keys: filters/policy/condkeys_defs.c (XXX: dynamodb:LeadingKeys, dynamodb:Attributes not yet). */
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

/*
 * Why a DynamoDB ARN pattern can never match any resource ddbguard names, or
 * NULL if it may. A segment is judged only when it and every segment before
 * it are free of wildcards (a '*' may span colons). Resource ARNs are
 * arn:<partition>:dynamodb:<region>:<12-digit account>:table/<name>[/<type>/<x>]
 * or arn:<partition>:dynamodb::<account>:global-table/<name> (Service
 * Authorization Reference, "Resource types defined by Amazon DynamoDB").
 * `why` receives the explanation.
 */
static const char *const policy_partitions[] = { "aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b",
	"aws-iso-e", "aws-iso-f", "aws-eusc" };
static const char *const policy_table_subtypes[] = { "index", "stream", "backup", "export", "import",
	"bulk-operation" };

/* Region syntax: <area>-<name>[-<name>...]-<digits>, such as us-east-1, us-gov-west-1, eusc-de-east-1. */
static bool
policy_region_syntax(const char *r, size_t n)
{
	size_t i = 0, parts = 0, digits;

	while (i < n) {
		size_t start = i;

		while (i < n && r[i] >= 'a' && r[i] <= 'z')
			i++;
		if (i == start)
			break;
		parts++;
		if (i == n || r[i] != '-')
			return false;
		i++;
	}
	for (digits = 0; i < n && r[i] >= '0' && r[i] <= '9'; i++)
		digits++;
	return i == n && parts >= 2 && digits >= 1 && digits <= 2;
}

static bool
policy_in_list(const char *s, size_t n, const char *const *list, size_t nlist)
{
	size_t i;

	for (i = 0; i < nlist; i++)
		if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0)
			return true;
	return false;
}

static bool
policy_arn_never_matches(const char *pattern, char *why, size_t whylen)
{
	const char *seg[6];
	size_t len[6], n = 0, i;
	const char *p = pattern;
	char region[64];

	while (n < 5) {
		const char *c = strchr(p, ':');

		seg[n] = p;
		if (c == NULL)
			break;
		len[n++] = (size_t)(c - p);
		p = c + 1;
	}
	if (n < 5) {
		len[n] = strlen(p);
		if (!policy_has_wildcard(pattern, strlen(pattern)))
			snprintf(why, whylen, "an ARN has six parts arn:partition:dynamodb:region:account:resource");
		return !policy_has_wildcard(pattern, strlen(pattern));
	}
	seg[5] = p;
	len[5] = strlen(p);
	for (i = 1; i < 6; i++) {
		/* This segment and the ones after it could be anything (the resource judges its own parts). */
		if (i < 5 && policy_has_wildcard(seg[i], len[i]))
			return false;
		switch (i) {
		case 1:
			if (!policy_in_list(seg[1], len[1], policy_partitions,
				sizeof(policy_partitions) / sizeof(policy_partitions[0]))) {
				snprintf(why, whylen, "unknown partition \"%.*s\" (aws, aws-cn, aws-us-gov, ...)",
				    (int)len[1], seg[1]);
				return true;
			}
			break;
		case 3:
			if (len[3] == 0)
				break; /* global tables */
			if (!policy_region_syntax(seg[3], len[3]) || len[3] >= sizeof(region)) {
				snprintf(why, whylen, "\"%.*s\" is not a region name such as \"us-east-1\"", (int)len[3],
				    seg[3]);
				return true;
			}
			memcpy(region, seg[3], len[3]);
			region[len[3]] = '\0';
			if (strlen(arn_partition_for_region(region)) != len[1] ||
			    memcmp(arn_partition_for_region(region), seg[1], len[1]) != 0) {
				snprintf(why, whylen, "region %s is in partition \"%s\", not \"%.*s\"", region,
				    arn_partition_for_region(region), (int)len[1], seg[1]);
				return true;
			}
			break;
		case 4:
			if (len[4] != 12 || strspn(seg[4], "0123456789") < 12) {
				snprintf(why, whylen, "the account \"%.*s\" is not a 12-digit AWS account id", (int)len[4],
				    seg[4]);
				return true;
			}
			break;
		case 5: {
			const char *slash = memchr(seg[5], '/', len[5]);
			size_t tlen = slash ? (size_t)(slash - seg[5]) : len[5];

			if (tlen == 5 && memcmp(seg[5], "table", 5) == 0 && slash != NULL) {
				if (len[3] == 0) {
					snprintf(why, whylen, "a table ARN needs a region");
					return true;
				}
				/* table/<name>/<type>/...: the type is judged when name and type have no wildcard */
				const char *name = slash + 1, *end = seg[5] + len[5];
				const char *s2 = memchr(name, '/', (size_t)(end - name));

				if (s2 != NULL) {
					const char *type = s2 + 1, *s3 = memchr(type, '/', (size_t)(end - type));
					size_t ylen = (size_t)((s3 ? s3 : end) - type);

					if (!policy_has_wildcard(name, (size_t)(type - name)) &&
					    !policy_has_wildcard(type, ylen) &&
					    !policy_in_list(type, ylen, policy_table_subtypes,
						sizeof(policy_table_subtypes) / sizeof(policy_table_subtypes[0]))) {
						snprintf(why, whylen,
						    "unknown resource type \"%.*s\" after table/<name>/ (index, stream, "
						    "backup, export, import)", (int)ylen, type);
						return true;
					}
				}
				break;
			}
			if (tlen == 12 && memcmp(seg[5], "global-table", 12) == 0 && slash != NULL) {
				if (len[3] != 0) {
					snprintf(why, whylen, "a global-table ARN has no region (arn:aws:dynamodb::ACCOUNT:global-table/NAME)");
					return true;
				}
				break;
			}
			if (policy_has_wildcard(seg[5], tlen))
				break;
			snprintf(why, whylen, "the resource \"%.*s\" is not table/<name> or global-table/<name>",
			    (int)len[5], seg[5]);
			return true;
		}
		default:
			break;
		}
	}
	return false;
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
	if (strcmp(pattern, "*") != 0) {
		char why[160];

		if (policy_arn_never_matches(pattern, why, sizeof(why))) {
			policy_error(pc, "\"%.*s\" can never match: %s", POLICY_SHOW_MAX, pattern, why);
			return;
		}
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
	for (size_t v = 0; v < POLICY_PARTIQL_VERBS; v++) {
		const struct catalog_action *a = catalog_find_iam(policy_partiql_iam[v]);

		p->partiql_ids[v] = a != NULL ? a->id : POLICY_NO_ACTION;
	}
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
    const char *resource, const struct catalog_action *action)
{
	out->effect = e;
	out->policy = st != NULL ? st->policy : NULL;
	out->sid = st != NULL ? st->sid : NULL;
	out->statement_index = st != NULL ? st->index : 0;
	out->resource = resource;
	out->action = action;
}

/* The first non-NULL policy, whose PartiQL ids stand for the set's (all policies of a set share them). */
static const struct policy *
policy_any(const struct policy *const *policies, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (policies[i] != NULL)
			return policies[i];
	}
	return NULL;
}

size_t
policy_call_actions(const struct catalog_action *action, const struct inspect_result *res,
    const struct catalog_action **out)
{
	size_t n = 0;

	if (action == NULL)
		return 0;
	out[n++] = action;
	if (action->class_ != CATALOG_CLASS_PARTIQL || action->iam_only || res == NULL)
		return n;
	for (unsigned v = 0; v < POLICY_PARTIQL_VERBS; v++) {
		const struct catalog_action *a;

		if ((res->partiql_verbs & (1u << v)) != 0 && (a = catalog_find_iam(policy_partiql_iam[v])) != NULL)
			out[n++] = a;
	}
	return n;
}

/*
 * IAM evaluation logic (policy evaluation logic, "Determining whether a
 * request is allowed or denied within an account"): an explicit Deny in any
 * policy wins; otherwise every resource needs an Allow; otherwise the default
 * is deny. For an allow, `resource` is the first resource, which the
 * reported statement matched.
 *
 * A PartiQL call is also the PartiQL<Verb> actions of its statements (see
 * policy.h): a Deny of any of them denies; a resource is allowed by an Allow
 * of the API action or by Allows of every verb action.
 */
void
policy_evaluate(const struct policy *const *policies, size_t n, const struct catalog_action *action,
    const struct inspect_result *res, condition_lookup_fn lookup, void *ctx, struct policy_decision *out)
{
	/* IAM authorizes actions without resource-level permissions against Resource "*". */
	static const char any[] = "*";
	size_t nres = (res == NULL || res->n == 0) ? 1 : res->n;
	const struct statement *first_allow = NULL;
	const struct catalog_action *first_allow_action = action;
	const char *unallowed = NULL;
	const struct policy *p0 = policy_any(policies, n);
	uint16_t ids[1 + POLICY_PARTIQL_VERBS];
	size_t nids = 0;

	if (lookup == NULL)
		lookup = policy_no_keys;
	policy_decide(out, POLICY_DENY_IMPLICIT, NULL, (res == NULL || res->n == 0) ? any : res->res[0].arn,
	    action);
	if (action == NULL || nres > INSPECT_MAX_RESOURCES)
		return; /* not a well-formed call: nothing can allow it */
	ids[nids++] = action->id;
	if (action->class_ == CATALOG_CLASS_PARTIQL && !action->iam_only && res != NULL && p0 != NULL) {
		for (unsigned v = 0; v < POLICY_PARTIQL_VERBS; v++) {
			if ((res->partiql_verbs & (1u << v)) != 0 && p0->partiql_ids[v] != POLICY_NO_ACTION)
				ids[nids++] = p0->partiql_ids[v];
		}
	}
	for (size_t i = 0; i < nres; i++) {
		const char *r = (res == NULL || res->n == 0) ? any : res->res[i].arn;
		const struct statement *st = NULL;
		uint16_t by = action->id;

		if (r == NULL) {
			/* An inspector bug, not a resource: it can never be allowed. */
			unallowed = unallowed != NULL ? unallowed : "";
			continue;
		}
		for (size_t k = 0; k < nids; k++) {
			if ((st = policy_first_match(policies, n, true, ids[k], r, lookup, ctx)) != NULL) {
				policy_decide(out, POLICY_DENY_EXPLICIT, st, r, catalog_at(ids[k]));
				return;
			}
		}
		if (unallowed != NULL)
			continue; /* already denied: only an explicit Deny can still change the answer */
		st = policy_first_match(policies, n, false, action->id, r, lookup, ctx);
		/* IAM's way: every statement's PartiQL<Verb> allowed on the resource. */
		if (st == NULL && nids > 1) {
			const struct statement *vfirst = NULL, *vst = NULL;

			for (size_t k = 1; k < nids; k++) {
				if ((vst = policy_first_match(policies, n, false, ids[k], r, lookup, ctx)) == NULL)
					break;
				vfirst = vfirst != NULL ? vfirst : vst;
			}
			if (vst != NULL) {
				st = vfirst;
				by = ids[1];
			}
		}
		if (st == NULL) {
			unallowed = r;
		} else if (first_allow == NULL) {
			first_allow = st;
			first_allow_action = catalog_at(by);
		}
	}
	if (unallowed != NULL)
		policy_decide(out, POLICY_DENY_IMPLICIT, NULL, unallowed, action);
	else
		policy_decide(out, POLICY_ALLOW, first_allow, out->resource, first_allow_action);
}

/*
 * Explains a call statement by statement, for `ddbguard explain`: not on the
 * request path, so it may take its time (one Condition evaluation per
 * statement and action whose Action and some Resource match).
 */
void
policy_explain(const struct policy *const *policies, size_t n, const struct catalog_action *action,
    const struct inspect_result *res, condition_lookup_fn lookup, void *ctx, policy_trace_fn fn, void *arg,
    struct policy_decision *out)
{
	static const char *const any[] = { "*" };
	const struct catalog_action *acts[1 + POLICY_PARTIQL_VERBS];
	const char *arns[INSPECT_MAX_RESOURCES];
	bool matches[INSPECT_MAX_RESOURCES];
	const char *const *resources = any;
	size_t nres = 1, nacts = policy_call_actions(action, res, acts);

	if (lookup == NULL)
		lookup = policy_no_keys;
	if (res != NULL && res->n > 0 && res->n <= INSPECT_MAX_RESOURCES) {
		for (size_t i = 0; i < res->n; i++)
			arns[i] = res->res[i].arn != NULL ? res->res[i].arn : "";
		resources = arns;
		nres = res->n;
	}
	for (size_t i = 0; fn != NULL && i < n; i++) {
		const struct policy *p = policies[i];

		for (size_t j = 0; p != NULL && j < p->nstatements; j++) {
			const struct statement *st = &p->statements[j];

			for (size_t k = 0; k < nacts; k++) {
				struct policy_trace t = {
					.policy = p->name,
					.sid = st->sid,
					.index = st->index,
					.deny = st->deny,
					.action = acts[k],
					.action_matches = policy_statement_has_action(p, st, acts[k]->id),
					.nres = nres,
					.resources = resources,
					.resource_matches = matches,
					.cond = POLICY_COND_SKIPPED,
				};
				bool any_res = false;

				for (size_t r = 0; r < nres; r++) {
					matches[r] = policy_statement_has_resource(st, resources[r]);
					any_res = any_res || matches[r];
				}
				if (t.action_matches && any_res) {
					if (st->cond == NULL)
						t.cond = POLICY_COND_NONE;
					else
						t.cond = condition_evaluate(st->cond, lookup, ctx) ? POLICY_COND_TRUE
												    : POLICY_COND_FALSE;
					t.applies = t.cond != POLICY_COND_FALSE;
				}
				fn(arg, &t);
			}
		}
	}
	policy_evaluate(policies, n, action, res, lookup, ctx, out);
}

/* ---- lint ---- */

/*
 * Whether every ARN `covered` matches also matches `by` (both resource
 * patterns). Sound, not complete: "*", equal patterns, or `by` matching the
 * text of `covered` when neither has a '?' (then each '*' of `covered` is
 * absorbed by a '*' run of `by`, so every expansion of it matches `by` too).
 */
static bool
policy_pattern_covers(const char *by, const char *covered)
{
	if (strcmp(by, "*") == 0 || strcmp(by, covered) == 0)
		return true;
	if (strchr(by, '?') != NULL || strchr(covered, '?') != NULL)
		return false;
	return policy_glob_match(by, covered, false);
}

/* An unconditional Deny of `p` that covers `action` on every resource `pattern` matches. */
static const struct statement *
policy_lint_denier(const struct policy *p, uint16_t action, const char *pattern, bool not_resource)
{
	for (size_t j = 0; j < p->nstatements; j++) {
		const struct statement *d = &p->statements[j];

		if (!d->deny || d->cond != NULL || d->not_resource || !policy_statement_has_action(p, d, action))
			continue;
		for (size_t r = 0; r < d->nresources; r++) {
			if (not_resource ? strcmp(d->resources[r], "*") == 0
					 : policy_pattern_covers(d->resources[r], pattern))
				return d;
		}
	}
	return NULL;
}

/* The Deny that makes Allow `st` unreachable, or NULL. */
static const struct statement *
policy_lint_unreachable(const struct policy *p, const struct statement *st)
{
	const struct statement *first = NULL;

	for (size_t id = 0; id < p->nbits; id++) {
		if (!policy_statement_has_action(p, st, (uint16_t)id))
			continue;
		if (st->not_resource || st->nresources == 0) {
			const struct statement *d = policy_lint_denier(p, (uint16_t)id, "*", true);

			if (d == NULL)
				return NULL;
			first = first != NULL ? first : d;
			continue;
		}
		for (size_t r = 0; r < st->nresources; r++) {
			const struct statement *d = policy_lint_denier(p, (uint16_t)id, st->resources[r], false);

			if (d == NULL)
				return NULL;
			first = first != NULL ? first : d;
		}
	}
	return first;
}

static bool
policy_lint_any_resource(const struct statement *st)
{
	if (st->not_resource)
		return true; /* everything but a few */
	for (size_t r = 0; r < st->nresources; r++) {
		if (strcmp(st->resources[r], "*") == 0)
			return true;
	}
	return false;
}

/* Lists up to three granted actions `want` accepts, most dangerous first; returns how many it grants. */
static size_t
policy_lint_list(const struct policy *p, const struct statement *st, bool (*want)(const struct catalog_action *),
    char *buf, size_t len)
{
	static const char *const first[] = { "dynamodb:DeleteTable", "dynamodb:UpdateTable",
		"dynamodb:PutResourcePolicy", "dynamodb:DeleteBackup", "dynamodb:RestoreTableFromBackup" };
	size_t count = 0, shown = 0, used = 0;

	buf[0] = '\0';
	for (size_t pass = 0; pass < 2; pass++) {
		for (size_t id = 0; id < p->nbits; id++) {
			const struct catalog_action *a = catalog_at(id);
			bool preferred = false;

			if (a == NULL || !want(a) || !policy_statement_has_action(p, st, (uint16_t)id))
				continue;
			for (size_t f = 0; f < sizeof(first) / sizeof(first[0]); f++)
				preferred = preferred || strcmp(first[f], a->iam_action) == 0;
			if (pass == 0)
				count++;
			if ((pass == 0) != preferred || shown == 3)
				continue;
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s", shown > 0 ? ", " : "",
			    a->iam_action);
			shown++;
		}
	}
	if (count > shown && used < len)
		snprintf(buf + used, len - used, " and %zu more", count - shown);
	return count;
}

/*
 * Admin actions that change something: read-only ones (ListTables,
 * ListStreams, Describe*) are routinely granted on "*", some can only be.
 */
static bool
policy_lint_is_admin(const struct catalog_action *a)
{
	return a->class_ == CATALOG_CLASS_ADMIN && !a->read_only;
}

static bool
policy_lint_is_bulk_read(const struct catalog_action *a)
{
	return a->class_ == CATALOG_CLASS_PARTIQL || strncmp(a->name, "Export", 6) == 0;
}

static void
policy_lint_statement(const struct policy *p, const struct statement *st, struct diag_path *path,
    policy_lint_fn fn, void *arg)
{
	char sid[80], list[256], msg[512];
	const struct statement *d;

	if (st->deny)
		return;
	snprintf(sid, sizeof(sid), "%s%s%s", st->sid != NULL ? " (Sid " : "", st->sid != NULL ? st->sid : "",
	    st->sid != NULL ? ")" : "");
	if ((d = policy_lint_unreachable(p, st)) != NULL) {
		snprintf(msg, sizeof(msg),
		    "Allow statement%s is unreachable: every action and resource it allows is denied "
		    "unconditionally by Statement[%u]%s%s%s",
		    sid, d->index, d->sid != NULL ? " (Sid " : "", d->sid != NULL ? d->sid : "",
		    d->sid != NULL ? ")" : "");
		fn(arg, path->text, msg);
	}
	if (!policy_lint_any_resource(st))
		return;
	if (policy_lint_list(p, st, policy_lint_is_admin, list, sizeof(list)) > 0) {
		snprintf(msg, sizeof(msg),
		    "Allow statement%s grants admin actions on every resource (Resource \"*\"): %s%s", sid, list,
		    st->cond != NULL ? " (subject to its Condition)" : "");
		fn(arg, path->text, msg);
	}
	if (policy_lint_list(p, st, policy_lint_is_bulk_read, list, sizeof(list)) > 0) {
		snprintf(msg, sizeof(msg),
		    "Allow statement%s grants PartiQL or export actions on every resource (Resource \"*\"): %s%s",
		    sid, list, st->cond != NULL ? " (subject to its Condition)" : "");
		fn(arg, path->text, msg);
	}
}

void
policy_set_lint(const struct policy_set *s, policy_lint_fn fn, void *arg)
{
	struct diag_path path;

	if (s == NULL || fn == NULL)
		return;
	diag_path_init(&path);
	diag_path_member(&path, "policies");
	for (size_t i = 0; i < s->n; i++) {
		const struct policy *p = &s->policies[i];
		size_t pmark = diag_path_member(&path, p->name);
		size_t smark = diag_path_member(&path, "Statement");

		for (size_t j = 0; j < p->nstatements; j++) {
			size_t imark = diag_path_index(&path, j);

			policy_lint_statement(p, &p->statements[j], &path, fn, arg);
			diag_path_pop(&path, imark);
		}
		diag_path_pop(&path, smark);
		diag_path_pop(&path, pmark);
	}
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

const char *
policy_cond_result_name(enum policy_cond_result c)
{
	switch (c) {
	case POLICY_COND_NONE:
		return "no Condition";
	case POLICY_COND_TRUE:
		return "Condition true";
	case POLICY_COND_FALSE:
		return "Condition false";
	case POLICY_COND_SKIPPED:
		return "Condition not evaluated";
	}
	return "unknown";
}
