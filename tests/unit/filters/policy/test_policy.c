/*
 * Tests filters/policy/policy.c: glob matching, compile errors (each at its exact
 * JSON path), action expansion against the real catalog, and evaluation.
 *
 * Policy JSON in these tables uses ' for " to stay readable; json_of()
 * swaps them back before parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/unit/diag_expect.h"

#include "filters/base/diag.h"
#include "filters/dynamodb/catalog.h"
#include "filters/policy/condkeys.h"
#include "filters/dynamodb/inspect.h"
#include "filters/dynamodb/partiql.h"
#include "filters/policy/policy.h"

#define ACCOUNT "123456789012"
#define TABLE(name) "arn:aws:dynamodb:us-east-1:" ACCOUNT ":table/" name
/* For splicing into policy text. */
#define T_A TABLE("a")
#define T_ORDERS TABLE("orders")
#define T_ORDERS_ANY TABLE("orders*")
#define T_ORDERS_INDEXES TABLE("orders/index/*")
#define T_USERS TABLE("users")
#define T_SECRETS TABLE("secrets")
#define T_SECRETS_ANY TABLE("secrets/*")
#define T_AUDIT TABLE("audit")

static cJSON *
json_of(const char *quoted)
{
	char *text = strdup(quoted);
	cJSON *js;

	assert_non_null(text);
	for (char *c = text; *c != '\0'; c++) {
		if (*c == '\'')
			*c = '"';
	}
	js = cJSON_Parse(text);
	free(text);
	if (js == NULL)
		fail_msg("test JSON does not parse: %s", quoted);
	return js;
}

/* Compiles `quoted` as the value of "policies"; the caller frees *d. */
static struct policy_set *
compile(const char *quoted, struct diag **d)
{
	cJSON *js = json_of(quoted);
	struct diag_path path;
	struct policy_set *s;

	*d = diag_new("test.json");
	assert_non_null(*d);
	diag_path_init(&path);
	diag_path_member(&path, "policies");
	s = policy_set_compile(js, *d, &path);
	assert_string_equal(path.text, "$.policies"); /* restored on return */
	cJSON_Delete(js);
	return s;
}

static struct policy_set *
compile_ok(const char *quoted)
{
	struct diag *d;
	struct policy_set *s = compile(quoted, &d);

	for (size_t i = 0; i < diag_count(d); i++)
		print_error("unexpected: %s\n", diag_message(d, i));
	assert_int_equal(diag_count(d), 0);
	assert_non_null(s);
	diag_free(d);
	return s;
}

/* ---- glob ---- */

struct glob_case {
	const char *pattern, *s;
	bool ignore_case, want;
};

static void
test_glob(void **state)
{
	static const struct glob_case cases[] = {
		{ "", "", false, true },
		{ "", "a", false, false },
		{ "a", "", false, false },
		{ "*", "", false, true },
		{ "*", "anything at all", false, true },
		{ "**", "", false, true },
		{ "?", "", false, false },
		{ "?", "x", false, true },
		{ "?", "xy", false, false },
		{ "??", "xy", false, true },
		{ "a*", "a", false, true },
		{ "a*", "abc", false, true },
		{ "a*", "ba", false, false },
		{ "*a", "bca", false, true },
		{ "*a", "ab", false, false },
		{ "a*b*c", "abc", false, true },
		{ "a*b*c", "aXXbYYc", false, true },
		{ "a*b*c", "aXXbYYcZ", false, false },
		{ "a*b*c", "acb", false, false },
		{ "*ab*", "xaab", false, true },
		{ "a?c", "abc", false, true },
		{ "a?c", "ac", false, false },
		{ "*?", "", false, false },
		{ "*?", "z", false, true },
		{ "exact", "exact", false, true },
		{ "exact", "Exact", false, false },
		{ "exact", "Exact", true, true },
		{ "DynamoDB:getitem", "dynamodb:GetItem", true, true },
		{ "DynamoDB:getitem", "dynamodb:GetItem", false, false },
		{ "dynamodb:Get*", "dynamodb:GetItem", false, true },
		{ "dynamodb:Get*", "dynamodb:BatchGetItem", false, false },
		/* Resource globs span '/' and ':' as IAM's do: table/orders* covers its indexes. */
		{ "arn:aws:dynamodb:*:*:table/orders*", TABLE("orders/index/byDate"), false, true },
		{ "arn:aws:dynamodb:*:*:table/orders", TABLE("orders/index/byDate"), false, false },
		{ "arn:aws:dynamodb:*:*:table/*", "*", false, false },
		{ "*", "*", false, true },
		/* Case folding is ASCII only. */
		{ "\xc3\xa9", "\xc3\x89", true, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = policy_glob_match(cases[i].pattern, cases[i].s, cases[i].ignore_case);

		if (got != cases[i].want)
			fail_msg("glob(\"%s\", \"%s\", %d) = %d", cases[i].pattern, cases[i].s,
			    cases[i].ignore_case, got);
	}
}

/*
 * Patterns that make recursive matchers exponential. 64 KiB subjects: a
 * backtracking-per-star matcher would not finish (tests/run.sh's per-binary
 * timeout fails it); ours takes |p| * |s|. No CPU-time bound: load breaks those.
 */
static void
test_glob_pathological(void **state)
{
	static const char *const patterns[] = {
		"a*a*a*a*a*b",
		"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
		"*?*?*?*?*?*?*?*?*?*?*?*b",
		"a*****************************b",
	};
	size_t len = 64 * 1024;
	char *s = malloc(len + 2);
	assert_non_null(s);
	memset(s, 'a', len);
	s[len] = '\0';
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		assert_false(policy_glob_match(patterns[i], s, false));
	s[len] = 'b';
	s[len + 1] = '\0';
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		assert_true(policy_glob_match(patterns[i], s, true));
	free(s);
}

/* ---- compile errors ---- */

#define MAX_WANT 4

struct error_case {
	const char *what;
	const char *policies;
	size_t count; /* exact number of errors */
	struct diag_want want[MAX_WANT]; /* "test.json: <path>: <text>", <text> containing needle */
};

/* A statement fragment that is valid, to build cases from. */
#define OK_ACTION "'Action':'dynamodb:GetItem'"
#define OK_RESOURCE "'Resource':'*'"
#define OK_BODY "'Effect':'Allow'," OK_ACTION "," OK_RESOURCE
#define ONE(stmt) "{'app':{'Version':'2012-10-17','Statement':[{" stmt "}]}}"
#define S0 "$.policies.app.Statement[0]"

static const struct error_case error_cases[] = {
    {"policies not an object", "[]", 1, {{"$.policies", "expected an object of named policies, got an array"}}},
    {"policy not an object", "{'app':1}", 1, {{"$.policies.app", "expected a policy object, got a number"}}},
    {"policy name with a space",
     "{'bad name':{'Statement':{" OK_BODY "}}}",
     1,
     {{"$.policies[\"bad name\"]", "policy names are 1-128 characters"}}},
    {"unknown policy key",
     "{'app':{'Statement':{" OK_BODY "},'Extra':1}}",
     1,
     {{"$.policies.app.Extra", "unknown key \"Extra\" (expected Version, Id, Statement)"}}},
    {"version 2008",
     "{'app':{'Version':'2008-10-17','Statement':{" OK_BODY "}}}",
     1,
     {{"$.policies.app.Version", "expected \"2012-10-17\" (or no Version), got \"2008-10-17\""}}},
    {"version not a string",
     "{'app':{'Version':20121017,'Statement':{" OK_BODY "}}}",
     1,
     {{"$.policies.app.Version", "got a number"}}},
    {"id not a string",
     "{'app':{'Id':[],'Statement':{" OK_BODY "}}}",
     1,
     {{"$.policies.app.Id", "expected a string, got an array"}}},
    {"statement missing", "{'app':{'Version':'2012-10-17'}}", 1, {{"$.policies.app", "missing \"Statement\""}}},
    {"statement empty",
     "{'app':{'Statement':[]}}",
     1,
     {{"$.policies.app.Statement", "expected at least one statement, got an empty array"}}},
    {"statement a string",
     "{'app':{'Statement':'Allow'}}",
     1,
     {{"$.policies.app.Statement", "expected an array of statements, got a string"}}},
    {"statement entry not an object",
     "{'app':{'Statement':[7]}}",
     1,
     {{S0, "expected a statement object, got a number"}}},
    {"condition unknown key",
     ONE(OK_BODY ",'Condition':{'StringEquals':{'ddbguard:S3Buckets':'x'}}"),
     1,
     {{S0 ".Condition.StringEquals[\"ddbguard:S3Buckets\"]", "unknown condition key \"ddbguard:S3Buckets\""}}},
    {"condition unknown key in second statement",
     "{'app':{'Statement':[{" OK_BODY "},{" OK_BODY ",'Condition':{'Bool':{'aws:SecureTransport':true},"
     "'StringLike':{'dynamodb:NoSuchKey':'x'}}}]}}",
     1,
     {{"$.policies.app.Statement[1].Condition.StringLike[\"dynamodb:NoSuchKey\"]",
       "unknown condition key \"dynamodb:NoSuchKey\""}}},
    {"condition operator does not fit the key",
     ONE(OK_BODY ",'Condition':{'Bool':{'ddbguard:S3Bucket':true}}"),
     1,
     {{S0 ".Condition.Bool[\"ddbguard:S3Bucket\"]", "\"Bool\" does not apply to \"ddbguard:S3Bucket\""}}},
    {"condition not an object", ONE(OK_BODY ",'Condition':[]"), 1, {{S0 ".Condition", ""}}},
    {"principal", ONE(OK_BODY ",'Principal':'*'"), 1, {{S0 ".Principal", "\"Principal\" is not supported yet"}}},
    {"not principal",
     ONE(OK_BODY ",'NotPrincipal':'*'"),
     1,
     {{S0 ".NotPrincipal", "\"NotPrincipal\" is not supported yet"}}},
    {"unknown statement key",
     ONE(OK_BODY ",'effect':'Deny'"),
     1,
     {{S0 ".effect", "unknown key \"effect\" (expected Sid, Effect, Action, NotAction, Resource, "
                     "NotResource, Condition)"}}},
    {"effect missing", ONE(OK_ACTION "," OK_RESOURCE), 1, {{S0, "missing \"Effect\" (\"Allow\" or \"Deny\")"}}},
    {"effect lower case",
     ONE("'Effect':'allow'," OK_ACTION "," OK_RESOURCE),
     1,
     {{S0 ".Effect", "expected \"Allow\" or \"Deny\", got \"allow\""}}},
    {"effect not a string",
     ONE("'Effect':true," OK_ACTION "," OK_RESOURCE),
     1,
     {{S0 ".Effect", "expected \"Allow\" or \"Deny\", got a boolean"}}},
    {"action and notaction",
     ONE(OK_BODY ",'NotAction':'dynamodb:Scan'"),
     1,
     {{S0, "has both \"Action\" and \"NotAction\""}}},
    {"neither action", ONE("'Effect':'Allow'," OK_RESOURCE), 1, {{S0, "missing \"Action\" (or \"NotAction\")"}}},
    {"resource and notresource",
     ONE(OK_BODY ",'NotResource':'*'"),
     1,
     {{S0, "has both \"Resource\" and \"NotResource\""}}},
    {"neither resource", ONE("'Effect':'Allow'," OK_ACTION), 1, {{S0, "missing \"Resource\" (or \"NotResource\")"}}},
    {"empty action list",
     ONE("'Effect':'Allow','Action':[]," OK_RESOURCE),
     1,
     {{S0 ".Action", "expected at least one entry, got an empty array"}}},
    {"empty resource list",
     ONE("'Effect':'Allow'," OK_ACTION ",'NotResource':[]"),
     1,
     {{S0 ".NotResource", "expected at least one entry, got an empty array"}}},
    {"action object",
     ONE("'Effect':'Allow','Action':{}," OK_RESOURCE),
     1,
     {{S0 ".Action", "expected a string or an array of strings, got an object"}}},
    {"non-string action entry",
     ONE("'Effect':'Allow','Action':['dynamodb:GetItem',3,null]," OK_RESOURCE),
     2,
     {{S0 ".Action[1]", "expected a string, got a number"}, {S0 ".Action[2]", "expected a string, got null"}}},
    {"non-string resource entry",
     ONE("'Effect':'Allow'," OK_ACTION ",'Resource':['*',['*']]"),
     1,
     {{S0 ".Resource[1]", "expected a string, got an array"}}},
    {"other service",
     ONE("'Effect':'Allow','Action':['dynamodb:GetItem','s3:*']," OK_RESOURCE),
     1,
     {{S0 ".Action[1]", "\"s3:*\" is not a DynamoDB action"}}},
    {"no service prefix",
     ONE("'Effect':'Allow','Action':'GetItem'," OK_RESOURCE),
     1,
     {{S0 ".Action", "expected \"dynamodb:<Action>\" or \"*\", got \"GetItem\""}}},
    {"action typo",
     ONE("'Effect':'Deny','Action':'dynamodb:GetItems'," OK_RESOURCE),
     1,
     {{S0 ".Action", "\"dynamodb:GetItems\" matches no DynamoDB action"}}},
    {"notaction typo",
     ONE("'Effect':'Allow','NotAction':['dynamodb:Scan','dynamodb:DeleteTabel']," OK_RESOURCE),
     1,
     {{S0 ".NotAction[1]", "\"dynamodb:DeleteTabel\" matches no DynamoDB action"}}},
    {"empty action name",
     ONE("'Effect':'Allow','Action':'dynamodb:'," OK_RESOURCE),
     1,
     {{S0 ".Action", "matches no DynamoDB action"}}},
    {"resource not an arn",
     ONE("'Effect':'Allow'," OK_ACTION ",'Resource':'orders'"),
     1,
     {{S0 ".Resource", "expected \"*\" or an ARN pattern (\"arn:...\"), got \"orders\""}}},
    {"resource empty",
     ONE("'Effect':'Allow'," OK_ACTION ",'Resource':['']"),
     1,
     {{S0 ".Resource[0]", "expected \"*\" or an ARN pattern"}}},
    {"policy variable",
     ONE("'Effect':'Allow'," OK_ACTION ",'Resource':'arn:aws:dynamodb:*:*:table/${aws:username}'"),
     1,
     {{S0 ".Resource", "policy variables (\"${...}\") are not supported yet"}}},
    {"s3 arn",
     ONE("'Effect':'Deny'," OK_ACTION ",'Resource':'arn:aws:s3:::orders/*'"),
     1,
     {{S0 ".Resource", "\"arn:aws:s3:::orders/*\" is not a DynamoDB ARN"}}},
    /* ARNs that can never match any resource ddbguard names (issue 10). */
    {"arn without table/",
     ONE("'Effect':'Allow'," OK_ACTION ",'Resource':'arn:aws:dynamodb:us-east-1:123456789012:demo'"),
     1,
     {{S0 ".Resource", "the resource \"demo\" is not table/<name> or global-table/<name>"}}},
    {"arn region typo",
     ONE("'Effect':'Allow'," OK_ACTION ",'Resource':'arn:aws:dynamodb:us-east1:123456789012:table/x'"),
     1,
     {{S0 ".Resource", "\"us-east1\" is not a region name such as \"us-east-1\""}}},
    {"arn account 11 digits",
     ONE("'Effect':'Allow'," OK_ACTION ",'Resource':['arn:aws:dynamodb:*:123456789012:table/x',"
         "'arn:aws:dynamodb:us-east-1:12345678901:table/x']"),
     1,
     {{S0 ".Resource[1]", "the account \"12345678901\" is not a 12-digit AWS account id"}}},
    {"arn partition of another region",
     ONE("'Effect':'Allow'," OK_ACTION ",'Resource':'arn:aws:dynamodb:cn-north-1:123456789012:table/x'"),
     1,
     {{S0 ".Resource", "region cn-north-1 is in partition \"aws-cn\", not \"aws\""}}},
    {"arn unknown partition",
     ONE("'Effect':'Allow'," OK_ACTION ",'Resource':'arn:amazon:dynamodb:us-east-1:123456789012:table/x'"),
     1,
     {{S0 ".Resource", "unknown partition \"amazon\""}}},
    {"arn unknown table subresource",
     ONE("'Effect':'Allow'," OK_ACTION ",'Resource':'arn:aws:dynamodb:us-east-1:123456789012:table/x/indexes/*'"),
     1,
     {{S0 ".Resource", "unknown resource type \"indexes\""}}},
    {"arn global table with region",
     ONE("'Effect':'Allow'," OK_ACTION ",'Resource':'arn:aws:dynamodb:us-east-1:123456789012:global-table/x'"),
     1,
     {{S0 ".Resource", "a global-table ARN has no region"}}},
    {"arn with too few parts",
     ONE("'Effect':'Allow'," OK_ACTION ",'Resource':'arn:aws:dynamodb:us-east-1:table/x'"),
     1,
     {{S0 ".Resource", "an ARN has six parts"}}},
    {"sid with dash",
     ONE("'Sid':'Read-Orders'," OK_BODY),
     1,
     {{S0 ".Sid", "expected letters and digits only ([A-Za-z0-9]+, as IAM requires), got \"Read-Orders\""}}},
    {"sid empty", ONE("'Sid':''," OK_BODY), 1, {{S0 ".Sid", "expected letters and digits only"}}},
    {"sid not a string", ONE("'Sid':1," OK_BODY), 1, {{S0 ".Sid", "expected a string, got a number"}}},
    {"duplicate sid",
     "{'app':{'Statement':[{'Sid':'A'," OK_BODY "},{'Sid':'B'," OK_BODY "},{'Sid':'A'," OK_BODY "}]}}",
     1,
     {{"$.policies.app.Statement[2].Sid", "duplicate Sid \"A\" (also Statement[0])"}}},
    {"duplicate statement key", ONE(OK_BODY ",'Effect':'Deny'"), 1, {{S0 ".Effect", "duplicate key \"Effect\""}}},
    {"policy defined twice",
     "{'app':{'Statement':{" OK_BODY "}},'app':{'Statement':{" OK_BODY "}}}",
     1,
     {{"$.policies.app", "policy defined twice"}}},
    {"all errors reported, across policies",
     "{'a':{'Version':'1','Statement':[{'Effect':'Permit','Action':'s3:GetObject','Resource':'x'}]},"
     "'b':{'Statement':[{" OK_BODY "},{'Effect':'Deny','NotAction':'dynamodb:Nope'," OK_RESOURCE "}]}}",
     5,
     {{"$.policies.a.Version", "expected \"2012-10-17\""},
      {"$.policies.a.Statement[0].Effect", "got \"Permit\""},
      {"$.policies.a.Statement[0].Action", "is not a DynamoDB action"},
      {"$.policies.a.Statement[0].Resource", "expected \"*\" or an ARN pattern"}}},
};

static void
check_error_case(const struct error_case *c)
{
	struct diag *d;
	struct policy_set *s = compile(c->policies, &d);

	diag_expect(c->what, d, s != NULL, c->count, c->want, MAX_WANT);
	diag_free(d);
}

/* ARN patterns that can match are accepted; a segment with a wildcard is never judged. */
static void
test_arn_patterns_that_may_match(void **state)
{
	static const char *const ok[] = {
		"arn:aws:dynamodb:us-east-1:123456789012:table/orders",
		"arn:aws:dynamodb:us-east-1:123456789012:table/orders/index/*",
		"arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000",
		"arn:aws:dynamodb:eu-west-1:123456789012:table/orders/backup/01234567890123-abcdefgh",
		"arn:aws:dynamodb::123456789012:global-table/orders",
		"arn:aws-us-gov:dynamodb:us-gov-west-1:123456789012:table/x",
		"arn:aws-cn:dynamodb:cn-north-1:123456789012:table/x",
		"arn:aws-iso-b:dynamodb:us-isob-east-1:123456789012:table/x",
		"arn:aws-eusc:dynamodb:eusc-de-east-1:123456789012:table/x",
		"arn:aws:dynamodb:*:123456789012:table/x",
		"arn:aws:dynamodb:us-east1*:123456789012:table/x", /* wildcard: not judged */
		"arn:*:dynamodb:us-east1:1:demo",		     /* everything after a wildcard partition */
		"arn:aws:dynamodb:us-east-1:*:table/*",
		"arn:aws:dynamodb:us-east-1:123456789012:*",
		"arn:aws:dynamodb:us-east-1:123456789012:tab*",
		"arn:aws:dynamodb:us-east-1:123456789012:table/*/index/*",
		"arn:aws:dynamodb*",
	};
	char buf[512];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(buf, sizeof(buf), "{'p':{'Statement':{'Effect':'Allow','Action':'dynamodb:GetItem','Resource':'%s'}}}",
		    ok[i]);
		policy_set_free(compile_ok(buf));
	}
}

static void
test_compile_errors(void **state)
{
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
		check_error_case(&error_cases[i]);
}

static void
test_compile_accepts(void **state)
{
	static const char *const ok[] = {
		"{}",
		/* No Version (IAM reads 2008-10-17; without variables the same meaning). */
		"{'app':{'Statement':[{" OK_BODY "}]}}",
		/* A single statement object; Id; Sid; mixed-case service prefix; lists. */
		("{'app':{'Version':'2012-10-17','Id':'x-1','Statement':{'Sid':'Read1','Effect':'Deny',"
		 "'Action':['DynamoDB:GetItem','dynamodb:Query'],"
		 "'NotResource':['" T_A "','arn:aws:dynamodb:*']}}}"),
		/* Wildcards before the service segment are not judged. */
		("{'p.1@x=y,z+w_v-u':{'Statement':{'Effect':'Allow','Action':'*',"
		 "'Resource':['arn:*','arn:aws:dyn*:*']}}}"),
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		policy_set_free(compile_ok(ok[i]));
}

static void
test_set_lookup(void **state)
{
	struct policy_set *s =
	    compile_ok("{'zeta':{'Statement':{" OK_BODY "}},'alpha':{'Statement':{" OK_BODY "}},"
	               "'mid-1':{'Statement':{" OK_BODY "}}}");

	assert_int_equal(policy_set_count(s), 3);
	assert_string_equal(policy_name(policy_set_find(s, "alpha")), "alpha");
	assert_string_equal(policy_name(policy_set_find(s, "mid-1")), "mid-1");
	assert_string_equal(policy_name(policy_set_find(s, "zeta")), "zeta");
	assert_null(policy_set_find(s, "Alpha"));
	assert_null(policy_set_find(s, "beta"));
	assert_null(policy_set_find(s, NULL));
	assert_null(policy_set_find(NULL, "alpha"));
	assert_int_equal(policy_set_count(NULL), 0);
	policy_set_free(s);
	policy_set_free(NULL);
}

/* The set keeps its own copies: the JSON tree may be gone. */
static void
test_set_owns_strings(void **state)
{
	cJSON *js = json_of("{'app':{'Statement':{'Sid':'S1','Effect':'Allow','Action':'dynamodb:GetItem',"
	                    "'Resource':'" T_ORDERS "'}}}");
	struct diag *d = diag_new("test.json");
	struct diag_path path;
	struct policy_set *s;
	const struct policy *p;
	struct inspect_result res = { .n = 1, .res = { { .arn = TABLE("orders") } } };
	struct policy_decision out;

	diag_path_init(&path);
	s = policy_set_compile(js, d, &path);
	cJSON_Delete(js);
	assert_non_null(s);
	p = policy_set_find(s, "app");
	policy_evaluate(&p, 1, catalog_find_iam("dynamodb:GetItem"), &res, NULL, NULL, &out);
	assert_int_equal(out.effect, POLICY_ALLOW);
	assert_string_equal(out.policy, "app");
	assert_string_equal(out.sid, "S1");
	policy_set_free(s);
	diag_free(d);
}

/* ---- evaluation ---- */

struct eval_env {
	struct policy_set *set;
	const struct policy *p[4];
	size_t n;
	struct inspect_result res;
};

static void
env_init(struct eval_env *e, const char *policies, const char *const *use)
{
	memset(e, 0, sizeof(*e));
	e->set = compile_ok(policies);
	for (; *use != NULL; use++) {
		assert_true(e->n < 4);
		e->p[e->n] = policy_set_find(e->set, *use);
		assert_non_null(e->p[e->n]);
		e->n++;
	}
}

/* Evaluates `iam_action` on resources `arns` (NULL-terminated; none means a resource-less call). */
static struct policy_decision
env_eval(struct eval_env *e, const char *iam_action, const char *const *arns)
{
	const struct catalog_action *a = catalog_find_iam(iam_action);
	struct policy_decision out;

	assert_non_null(a);
	e->res.n = 0;
	for (; arns != NULL && *arns != NULL; arns++)
		e->res.res[e->res.n++] = (struct inspect_resource){ .type = INSPECT_TABLE, .arn = *arns };
	memset(&out, 0xa5, sizeof(out)); /* every field must be written */
	policy_evaluate(e->p, e->n, a, &e->res, NULL, NULL, &out);
	return out;
}

static void
expect(const struct policy_decision *d, enum policy_effect effect, const char *policy, const char *sid,
    unsigned index, const char *resource)
{
	assert_string_equal(policy_effect_name(d->effect), policy_effect_name(effect));
	if (policy == NULL)
		assert_null(d->policy);
	else
		assert_string_equal(d->policy, policy);
	if (sid == NULL)
		assert_null(d->sid);
	else
		assert_string_equal(d->sid, sid);
	assert_int_equal(d->statement_index, index);
	if (resource == NULL)
		assert_null(d->resource);
	else
		assert_string_equal(d->resource, resource);
}

/* For each catalog action: allowed iff its IAM name is in `want` (NULL-terminated). */
static void
check_expansion(const char *action_json, const char *const *want)
{
	char policies[512];
	struct eval_env e;
	static const char *const use[] = { "p", NULL };
	size_t nwant = 0, nallowed = 0;

	snprintf(policies, sizeof(policies), "{'p':{'Statement':{'Effect':'Allow',%s,'Resource':'*'}}}",
	    action_json);
	env_init(&e, policies, use);
	while (want[nwant] != NULL)
		nwant++;
	for (size_t i = 0; i < catalog_count(); i++) {
		const struct catalog_action *a = catalog_at(i);
		struct policy_decision out;
		bool listed = false;

		for (size_t j = 0; j < nwant; j++)
			listed = listed || strcmp(want[j], a->iam_action) == 0;
		policy_evaluate(e.p, e.n, a, NULL, NULL, NULL, &out);
		if ((out.effect == POLICY_ALLOW) != listed)
			fail_msg("%s: %s is %s", action_json, a->iam_action, policy_effect_name(out.effect));
		nallowed += out.effect == POLICY_ALLOW;
	}
	assert_int_equal(nallowed, nwant);
	policy_set_free(e.set);
}

static void
test_action_expansion(void **state)
{
	static const char *const get[] = { "dynamodb:GetItem", "dynamodb:GetRecords",
		"dynamodb:GetShardIterator", "dynamodb:GetResourcePolicy", NULL };
	static const char *const getitem[] = { "dynamodb:GetItem", NULL };
	static const char *const two[] = { "dynamodb:GetItem", "dynamodb:Query", NULL };
	const char **all = calloc(catalog_count() + 1, sizeof(*all));
	const char **not_get = calloc(catalog_count() + 1, sizeof(*not_get));
	size_t n_not_get = 0;

	assert_non_null(all);
	assert_non_null(not_get);
	for (size_t i = 0; i < catalog_count(); i++) {
		all[i] = catalog_at(i)->iam_action;
		if (strncmp(all[i], "dynamodb:Get", 12) != 0)
			not_get[n_not_get++] = all[i];
	}
	assert_true(catalog_count() > 60);
	check_expansion("'Action':'dynamodb:Get*'", get);
	check_expansion("'Action':'dynamodb:*'", all);
	check_expansion("'Action':'*'", all);
	check_expansion("'Action':'DynamoDB:getitem'", getitem);
	check_expansion("'Action':'dynamodb:?etItem'", getitem);
	check_expansion("'Action':['dynamodb:GetItem','dynamodb:query','dynamodb:GetItem']", two);
	check_expansion("'NotAction':'dynamodb:Get*'", not_get);
	free(all);
	free(not_get);
}

/* NotAction ["dynamodb:*"] covers nothing: the complement stays within the catalog. */
static void
test_notaction_of_everything(void **state)
{
	static const char *const none[] = { NULL };

	check_expansion("'NotAction':'dynamodb:*'", none);
	check_expansion("'NotAction':'*'", none);
}

static void
test_explicit_deny_beats_allow(void **state)
{
	static const char *const policies =
	    "{'rw':{'Statement':[{'Sid':'All','Effect':'Allow','Action':'dynamodb:*',"
	    "'Resource':'*'}]},"
	    "'guard':{'Statement':[{'Sid':'Reads','Effect':'Allow','Action':'dynamodb:GetItem',"
	    "'Resource':'*'},{'Sid':'NoDrop','Effect':'Deny','Action':'dynamodb:Delete*',"
	    "'Resource':'" T_ORDERS "'}]}}";
	static const char *const rw_first[] = { "rw", "guard", NULL };
	static const char *const guard_first[] = { "guard", "rw", NULL };
	static const char *const orders[] = { TABLE("orders"), NULL };
	static const char *const users[] = { TABLE("users"), NULL };
	struct eval_env e;
	struct policy_decision d;

	env_init(&e, policies, rw_first);
	d = env_eval(&e, "dynamodb:DeleteTable", orders);
	expect(&d, POLICY_DENY_EXPLICIT, "guard", "NoDrop", 1, TABLE("orders"));
	d = env_eval(&e, "dynamodb:DeleteTable", users);
	expect(&d, POLICY_ALLOW, "rw", "All", 0, TABLE("users"));
	policy_set_free(e.set);

	env_init(&e, policies, guard_first);
	d = env_eval(&e, "dynamodb:DeleteItem", orders);
	expect(&d, POLICY_DENY_EXPLICIT, "guard", "NoDrop", 1, TABLE("orders"));
	d = env_eval(&e, "dynamodb:GetItem", orders);
	expect(&d, POLICY_ALLOW, "guard", "Reads", 0, TABLE("orders"));
	policy_set_free(e.set);
}

static void
test_multi_resource(void **state)
{
	static const char *const use[] = { "app", NULL };
	static const char *const ok[] = { TABLE("orders"), TABLE("users"), NULL };
	static const char *const one_bad[] = { TABLE("orders"), TABLE("secrets"), TABLE("users"), NULL };
	static const char *const bad_then_denied[] = { TABLE("secrets"), TABLE("audit"), NULL };
	static const char *const bad_ok_denied[] = { TABLE("secrets"), TABLE("orders"), TABLE("audit"),
		NULL };
	struct eval_env e;
	struct policy_decision d;

	env_init(&e,
	    "{'app':{'Statement':["
	    "{'Sid':'Orders','Effect':'Allow','Action':'dynamodb:BatchGetItem','Resource':'" T_ORDERS "'},"
	    "{'Sid':'Users','Effect':'Allow','Action':'dynamodb:BatchGetItem','Resource':'" T_USERS "'},"
	    "{'Effect':'Deny','Action':'*','Resource':'" T_AUDIT "'}]}}",
	    use);
	/* Allowed: the decision names the statement that matched the first resource. */
	d = env_eval(&e, "dynamodb:BatchGetItem", ok);
	expect(&d, POLICY_ALLOW, "app", "Orders", 0, TABLE("orders"));
	/* One forbidden table denies the whole call, and is named. */
	d = env_eval(&e, "dynamodb:BatchGetItem", one_bad);
	expect(&d, POLICY_DENY_IMPLICIT, NULL, NULL, 0, TABLE("secrets"));
	/* An explicit deny on a later resource outranks an earlier implicit one. */
	d = env_eval(&e, "dynamodb:BatchGetItem", bad_then_denied);
	expect(&d, POLICY_DENY_EXPLICIT, "app", NULL, 2, TABLE("audit"));
	d = env_eval(&e, "dynamodb:BatchGetItem", bad_ok_denied);
	expect(&d, POLICY_DENY_EXPLICIT, "app", NULL, 2, TABLE("audit"));
	policy_set_free(e.set);
}

static void
test_resourceless_action(void **state)
{
	static const char *const use[] = { "star", NULL };
	static const char *const use_tables[] = { "tables", NULL };
	struct eval_env e;
	struct policy_decision d;

	/* IAM authorizes ListTables against Resource "*". */
	env_init(&e, "{'star':{'Statement':{'Effect':'Allow','Action':'dynamodb:List*','Resource':'*'}}}",
	    use);
	d = env_eval(&e, "dynamodb:ListTables", NULL);
	expect(&d, POLICY_ALLOW, "star", NULL, 0, "*");
	policy_set_free(e.set);

	/* A table pattern does not cover "*". */
	env_init(&e,
	    "{'tables':{'Statement':{'Effect':'Allow','Action':'dynamodb:*',"
	    "'Resource':'arn:aws:dynamodb:*:*:table/*'}}}",
	    use_tables);
	d = env_eval(&e, "dynamodb:ListTables", NULL);
	expect(&d, POLICY_DENY_IMPLICIT, NULL, NULL, 0, "*");
	policy_set_free(e.set);
}

static void
test_foreign_account(void **state)
{
	static const char *const use[] = { "ours", NULL };
	static const char *const foreign[] = { "arn:aws:dynamodb:us-east-1:999999999999:table/orders", NULL };
	static const char *const other_region[] = { "arn:aws:dynamodb:eu-west-1:" ACCOUNT ":table/orders",
		NULL };
	static const char *const ours[] = { TABLE("orders"), NULL };
	struct eval_env e;
	struct policy_decision d;

	env_init(&e,
	    "{'ours':{'Statement':{'Effect':'Allow','Action':'dynamodb:*',"
	    "'Resource':'arn:aws:dynamodb:us-east-1:" ACCOUNT ":table/*'}}}",
	    use);
	d = env_eval(&e, "dynamodb:GetItem", foreign);
	expect(&d, POLICY_DENY_IMPLICIT, NULL, NULL, 0, foreign[0]);
	d = env_eval(&e, "dynamodb:GetItem", other_region);
	expect(&d, POLICY_DENY_IMPLICIT, NULL, NULL, 0, other_region[0]);
	d = env_eval(&e, "dynamodb:GetItem", ours);
	expect(&d, POLICY_ALLOW, "ours", NULL, 0, TABLE("orders"));
	policy_set_free(e.set);
}

/* IAM: an index is its own resource; "table/orders" does not cover "table/orders/index/x". */
static void
test_index_resource(void **state)
{
	static const char *const use[] = { "p", NULL };
	static const char *const index[] = { TABLE("orders/index/byDate"), NULL };
	struct eval_env e;
	struct policy_decision d;

	env_init(&e,
	    "{'p':{'Statement':[{'Effect':'Allow','Action':'dynamodb:Query','Resource':'" T_ORDERS "'},"
	    "{'Sid':'Idx','Effect':'Allow','Action':'dynamodb:Query','Resource':'" T_ORDERS_INDEXES "'}]}}",
	    use);
	d = env_eval(&e, "dynamodb:Query", index);
	expect(&d, POLICY_ALLOW, "p", "Idx", 1, index[0]);
	policy_set_free(e.set);
}

static void
test_not_resource(void **state)
{
	static const char *const use_allow[] = { "allow", NULL };
	static const char *const use_deny[] = { "all", "fence", NULL };
	static const char *const orders[] = { TABLE("orders"), NULL };
	static const char *const secrets[] = { TABLE("secrets"), NULL };
	struct eval_env e;
	struct policy_decision d;

	/* Allow everything except the listed resources. */
	env_init(&e,
	    "{'allow':{'Statement':{'Sid':'NotSecrets','Effect':'Allow','Action':'dynamodb:*',"
	    "'NotResource':['" T_SECRETS "','" T_SECRETS_ANY "']}}}",
	    use_allow);
	d = env_eval(&e, "dynamodb:GetItem", orders);
	expect(&d, POLICY_ALLOW, "allow", "NotSecrets", 0, TABLE("orders"));
	d = env_eval(&e, "dynamodb:GetItem", secrets);
	expect(&d, POLICY_DENY_IMPLICIT, NULL, NULL, 0, TABLE("secrets"));
	/* "*" (a resource-less call) is not listed, so a NotResource statement covers it. */
	d = env_eval(&e, "dynamodb:ListTables", NULL);
	expect(&d, POLICY_ALLOW, "allow", "NotSecrets", 0, "*");
	policy_set_free(e.set);

	/* Deny everything outside a fence. */
	env_init(&e,
	    "{'all':{'Statement':{'Effect':'Allow','Action':'*','Resource':'*'}},"
	    "'fence':{'Statement':{'Sid':'Fence','Effect':'Deny','Action':'*','NotResource':'" T_ORDERS_ANY
	    "'}}}",
	    use_deny);
	d = env_eval(&e, "dynamodb:PutItem", orders);
	expect(&d, POLICY_ALLOW, "all", NULL, 0, TABLE("orders"));
	d = env_eval(&e, "dynamodb:PutItem", secrets);
	expect(&d, POLICY_DENY_EXPLICIT, "fence", "Fence", 0, TABLE("secrets"));
	policy_set_free(e.set);
}

static void
test_not_action(void **state)
{
	static const char *const use[] = { "p", NULL };
	static const char *const orders[] = { TABLE("orders"), NULL };
	struct eval_env e;
	struct policy_decision d;

	env_init(&e,
	    "{'p':{'Statement':[{'Sid':'NoWrites','Effect':'Allow',"
	    "'NotAction':['dynamodb:Put*','dynamodb:Delete*','dynamodb:Update*',"
	    "'dynamodb:BatchWriteItem','dynamodb:TransactWriteItems'],'Resource':'*'}]}}",
	    use);
	d = env_eval(&e, "dynamodb:GetItem", orders);
	expect(&d, POLICY_ALLOW, "p", "NoWrites", 0, TABLE("orders"));
	d = env_eval(&e, "dynamodb:PutItem", orders);
	expect(&d, POLICY_DENY_IMPLICIT, NULL, NULL, 0, TABLE("orders"));
	d = env_eval(&e, "dynamodb:BatchWriteItem", orders);
	expect(&d, POLICY_DENY_IMPLICIT, NULL, NULL, 0, TABLE("orders"));
	policy_set_free(e.set);
}

/* Resource patterns are case-sensitive, as ARNs are. */
static void
test_resource_case(void **state)
{
	static const char *const use[] = { "p", NULL };
	static const char *const upper[] = { TABLE("Orders"), NULL };
	struct eval_env e;
	struct policy_decision d;

	env_init(&e, "{'p':{'Statement':{'Effect':'Allow','Action':'*','Resource':'" T_ORDERS "'}}}", use);
	d = env_eval(&e, "dynamodb:GetItem", upper);
	expect(&d, POLICY_DENY_IMPLICIT, NULL, NULL, 0, TABLE("Orders"));
	policy_set_free(e.set);
}

/* Fail closed on anything that is not a well-formed call. */
static void
test_degenerate_calls(void **state)
{
	static const char *const use[] = { "p", NULL };
	struct eval_env e;
	struct policy_decision d;

	env_init(&e, "{'p':{'Statement':{'Effect':'Allow','Action':'*','Resource':'*'}}}", use);
	policy_evaluate(e.p, e.n, NULL, NULL, NULL, NULL, &d);
	expect(&d, POLICY_DENY_IMPLICIT, NULL, NULL, 0, "*");
	/* A count past the array (an inspector bug) is refused before anything is read past it. */
	for (size_t i = 0; i < INSPECT_MAX_RESOURCES; i++)
		e.res.res[i].arn = TABLE("t");
	e.res.n = SIZE_MAX / 2;
	policy_evaluate(e.p, e.n, catalog_find_iam("dynamodb:GetItem"), &e.res, NULL, NULL, &d);
	assert_int_equal(d.effect, POLICY_DENY_IMPLICIT);
	e.res.n = INSPECT_MAX_RESOURCES;
	policy_evaluate(e.p, e.n, catalog_find_iam("dynamodb:GetItem"), &e.res, NULL, NULL, &d);
	assert_int_equal(d.effect, POLICY_ALLOW);
	/* A resource without an ARN can never be allowed, even by "*". */
	e.res.res[1].arn = NULL;
	policy_evaluate(e.p, e.n, catalog_find_iam("dynamodb:GetItem"), &e.res, NULL, NULL, &d);
	expect(&d, POLICY_DENY_IMPLICIT, NULL, NULL, 0, "");
	/* No policies at all: default deny. */
	policy_evaluate(NULL, 0, catalog_find_iam("dynamodb:ListTables"), NULL, NULL, NULL, &d);
	expect(&d, POLICY_DENY_IMPLICIT, NULL, NULL, 0, "*");
	policy_set_free(e.set);
}

/* ---- conditions (values from filters/policy/condkeys.c) ---- */

/* The request side of a conditional evaluation; unset members are absent. */
struct cond_call {
	const char *iam_action;
	const char *body; /* quoted JSON, NULL: no body */
	const char *ip;
	bool tls;
	unsigned verbs; /* 1 << enum partiql_verb */
};

/* Evaluates `c` on table "orders" against policy "p" of `policies`. */
static struct policy_decision
cond_eval(const char *policies, const struct cond_call *c)
{
	static const char *const use[] = {"p", NULL};
	static const struct timespec now = {.tv_sec = 1767225600};
	struct eval_env e;
	struct condkeys_request keys;
	struct policy_decision out;
	cJSON *body = c->body != NULL ? json_of(c->body) : NULL;
	const struct catalog_action *a = catalog_find_iam(c->iam_action);

	assert_non_null(a);
	env_init(&e, policies, use);
	e.res.n = 1;
	e.res.res[0] = (struct inspect_resource){.type = INSPECT_TABLE, .arn = T_ORDERS};
	e.res.partiql_verbs = c->verbs;
	condkeys_request_init(&keys, a, body, &e.res, c->ip, c->tls, &now, NULL, NULL);
	memset(&out, 0xa5, sizeof(out));
	policy_evaluate(e.p, e.n, a, &e.res, condkeys_lookup, &keys, &out);
	assert_false(keys.overflow);
	/* Strings in `out` point into the set: copy what callers check before freeing it. */
	policy_set_free(e.set);
	cJSON_Delete(body);
	out.policy = out.policy != NULL ? "p" : NULL;
	out.sid = NULL;
	out.resource = NULL;
	return out;
}

static void
expect_cond(const char *policies, const struct cond_call *c, enum policy_effect effect, unsigned index)
{
	struct policy_decision d = cond_eval(policies, c);

	if (d.effect != effect || d.statement_index != index)
		fail_msg("%s %s: got %s (statement %u), want %s (statement %u)", c->iam_action,
		         c->body != NULL ? c->body : "(no body)", policy_effect_name(d.effect), d.statement_index,
		         policy_effect_name(effect), index);
}

#define EXPORT "dynamodb:ExportTableToPointInTime"

static void
test_condition_allow_string_equals(void **state)
{
	static const char pol[] = "{'p':{'Statement':{'Effect':'Allow','Action':'" EXPORT "','Resource':'*',"
	                          "'Condition':{'StringEquals':{'ddbguard:S3Bucket':['exports','backups']}}}}}";

	expect_cond(pol, &(struct cond_call){.iam_action = EXPORT, .body = "{'S3Bucket':'exports'}"}, POLICY_ALLOW, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = EXPORT, .body = "{'S3Bucket':'backups','S3Prefix':'x/'}"},
	            POLICY_ALLOW, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = EXPORT, .body = "{'S3Bucket':'elsewhere'}"},
	            POLICY_DENY_IMPLICIT, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = EXPORT, .body = "{'S3Bucket':'Exports'}"},
	            POLICY_DENY_IMPLICIT, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = EXPORT, .body = "{}"}, POLICY_DENY_IMPLICIT, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = EXPORT, .body = "{'S3Bucket':['exports']}"},
	            POLICY_DENY_IMPLICIT, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = EXPORT, .body = NULL}, POLICY_DENY_IMPLICIT, 0);
}

static void
test_condition_deny_string_not_equals(void **state)
{
	static const char pol[] = "{'p':{'Statement':["
	                          "{'Sid':'OnlyOurBuckets','Effect':'Deny','Action':'" EXPORT "','Resource':'*',"
	                          "'Condition':{'StringNotEquals':{'ddbguard:S3Bucket':['exports','backups']}}},"
	                          "{'Effect':'Allow','Action':'*','Resource':'*'}]}}";

	expect_cond(pol, &(struct cond_call){.iam_action = EXPORT, .body = "{'S3Bucket':'attacker'}"},
	            POLICY_DENY_EXPLICIT, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = EXPORT, .body = "{'S3Bucket':'backups'}"}, POLICY_ALLOW, 1);
	/* Negated operators hold for an absent key, and for a value of the wrong type (fail closed). */
	expect_cond(pol, &(struct cond_call){.iam_action = EXPORT, .body = "{}"}, POLICY_DENY_EXPLICIT, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = EXPORT, .body = "{'S3Bucket':7}"}, POLICY_DENY_EXPLICIT, 0);
	/* The statement covers only the export action. */
	expect_cond(pol, &(struct cond_call){.iam_action = "dynamodb:GetItem", .body = "{}"}, POLICY_ALLOW, 1);
	/* No request context at all (NULL lookup): every key absent, the Deny applies. */
	{
		static const char *const use[] = {"p", NULL};
		struct eval_env e;
		struct policy_decision d;

		env_init(&e, pol, use);
		policy_evaluate(e.p, e.n, catalog_find_iam(EXPORT), NULL, NULL, NULL, &d);
		expect(&d, POLICY_DENY_EXPLICIT, "p", "OnlyOurBuckets", 0, "*");
		policy_set_free(e.set);
	}
}

static void
test_condition_if_exists(void **state)
{
	static const char pol[] = "{'p':{'Statement':{'Effect':'Allow','Action':'dynamodb:UpdateTable','Resource':'*',"
	                          "'Condition':{'StringEqualsIfExists':{'ddbguard:SSEType':'KMS'}}}}}";
	static const char plain[] =
	    "{'p':{'Statement':{'Effect':'Allow','Action':'dynamodb:UpdateTable','Resource':'*',"
	    "'Condition':{'StringEquals':{'ddbguard:SSEType':'KMS'}}}}}";
	static const char null_check[] =
	    "{'p':{'Statement':[{'Effect':'Allow','Action':'*','Resource':'*'},"
	    "{'Effect':'Deny','Action':'*','Resource':'*','Condition':{'Null':{'ddbguard:KMSMasterKeyId':'false'}}}]}}";

	expect_cond(pol, &(struct cond_call){.iam_action = "dynamodb:UpdateTable", .body = "{'TableName':'orders'}"},
	            POLICY_ALLOW, 0);
	expect_cond(
	    pol,
	    &(struct cond_call){.iam_action = "dynamodb:UpdateTable", .body = "{'SSESpecification':{'SSEType':'KMS'}}"},
	    POLICY_ALLOW, 0);
	expect_cond(pol,
	            &(struct cond_call){.iam_action = "dynamodb:UpdateTable",
	                                .body = "{'SSESpecification':{'Enabled':true,'SSEType':'AES256'}}"},
	            POLICY_DENY_IMPLICIT, 0);
	expect_cond(plain, &(struct cond_call){.iam_action = "dynamodb:UpdateTable", .body = "{'TableName':'orders'}"},
	            POLICY_DENY_IMPLICIT, 0);
	expect_cond(null_check,
	            &(struct cond_call){.iam_action = "dynamodb:UpdateTable", .body = "{'TableName':'orders'}"},
	            POLICY_ALLOW, 0);
	expect_cond(null_check,
	            &(struct cond_call){.iam_action = "dynamodb:UpdateTable",
	                                .body = "{'SSESpecification':{'KMSMasterKeyId':'alias/x'}}"},
	            POLICY_DENY_EXPLICIT, 1);
}

static void
test_condition_secure_transport(void **state)
{
	static const char pol[] = "{'p':{'Statement':[{'Effect':'Allow','Action':'*','Resource':'*'},"
	                          "{'Effect':'Deny','Action':'*','Resource':'*',"
	                          "'Condition':{'Bool':{'aws:SecureTransport':'false'}}}]}}";

	expect_cond(pol, &(struct cond_call){.iam_action = "dynamodb:GetItem", .body = "{}", .ip = NULL, .tls = false},
	            POLICY_DENY_EXPLICIT, 1);
	expect_cond(pol, &(struct cond_call){.iam_action = "dynamodb:GetItem", .body = "{}", .ip = NULL, .tls = true},
	            POLICY_ALLOW, 0);
}

static void
test_condition_source_ip(void **state)
{
	static const char pol[] = "{'p':{'Statement':[{'Effect':'Allow','Action':'*','Resource':'*',"
	                          "'Condition':{'IpAddress':{'aws:SourceIp':['10.0.0.0/8','2001:db8::/32']}}},"
	                          "{'Effect':'Deny','Action':'*','Resource':'*',"
	                          "'Condition':{'IpAddress':{'AWS:SOURCEIP':'10.9.9.9/32'}}}]}}";

	expect_cond(pol, &(struct cond_call){.iam_action = "dynamodb:GetItem", .body = "{}", .ip = "10.1.2.3"},
	            POLICY_ALLOW, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = "dynamodb:GetItem", .body = "{}", .ip = "2001:db8::5"},
	            POLICY_ALLOW, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = "dynamodb:GetItem", .body = "{}", .ip = "192.168.1.1"},
	            POLICY_DENY_IMPLICIT, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = "dynamodb:GetItem", .body = "{}", .ip = "10.9.9.9"},
	            POLICY_DENY_EXPLICIT, 1);
	expect_cond(pol, &(struct cond_call){.iam_action = "dynamodb:GetItem", .body = "{}", .ip = NULL},
	            POLICY_DENY_IMPLICIT, 0);
}

static void
test_condition_partiql_verbs(void **state)
{
	static const char pol[] =
	    "{'p':{'Statement':[{'Effect':'Allow','Action':'*','Resource':'*'},"
	    "{'Sid':'NoWrites','Effect':'Deny','Action':'*','Resource':'*',"
	    "'Condition':{'ForAnyValue:StringEquals':{'ddbguard:PartiQLVerb':['DELETE','UPDATE']}}}]}}";
	static const char only_select[] =
	    "{'p':{'Statement':{'Effect':'Allow','Action':'dynamodb:*Statement','Resource':'*',"
	    "'Condition':{'ForAllValues:StringEquals':{'ddbguard:PartiQLVerb':'SELECT'}}}}}";
	const unsigned sel = 1u << PARTIQL_SELECT, del = 1u << PARTIQL_DELETE, ins = 1u << PARTIQL_INSERT;

	expect_cond(
	    pol,
	    &(struct cond_call){
	        .iam_action = "dynamodb:ExecuteStatement", .body = "{}", .ip = NULL, .tls = false, .verbs = sel | del},
	    POLICY_DENY_EXPLICIT, 1);
	expect_cond(
	    pol,
	    &(struct cond_call){
	        .iam_action = "dynamodb:ExecuteStatement", .body = "{}", .ip = NULL, .tls = false, .verbs = sel | ins},
	    POLICY_ALLOW, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = "dynamodb:GetItem", .body = "{}"}, POLICY_ALLOW, 0);
	expect_cond(
	    only_select,
	    &(struct cond_call){
	        .iam_action = "dynamodb:ExecuteStatement", .body = "{}", .ip = NULL, .tls = false, .verbs = sel},
	    POLICY_ALLOW, 0);
	expect_cond(
	    only_select,
	    &(struct cond_call){
	        .iam_action = "dynamodb:ExecuteStatement", .body = "{}", .ip = NULL, .tls = false, .verbs = sel | ins},
	    POLICY_DENY_IMPLICIT, 0);
}

/* A statement whose Condition is false does not apply; the next matching one decides. */
static void
test_condition_falls_through(void **state)
{
	static const char pol[] =
	    "{'p':{'Statement':["
	    "{'Effect':'Allow','Action':'*','Resource':'*','Condition':{'Bool':{'dynamodb:FullTableScan':true}}},"
	    "{'Effect':'Allow','Action':'dynamodb:Scan','Resource':'*'},"
	    "{'Effect':'Allow','Action':'*','Resource':'*','Condition':{}}]}}";

	expect_cond(pol, &(struct cond_call){.iam_action = "dynamodb:Scan", .body = "{}"}, POLICY_ALLOW, 0);
	expect_cond(pol, &(struct cond_call){.iam_action = "dynamodb:Query", .body = "{}"}, POLICY_ALLOW, 2);
}

/* ---- PartiQL: the API action or IAM's PartiQL<Verb> actions ---- */

static struct policy_decision
partiql_eval(const char *policies, const char *iam_action, unsigned verbs, const char *const *arns)
{
	static const char *const use[] = { "p", NULL };
	struct eval_env e;
	struct policy_decision out;

	env_init(&e, policies, use);
	e.res.partiql_verbs = verbs;
	for (; arns != NULL && *arns != NULL; arns++)
		e.res.res[e.res.n++] = (struct inspect_resource){ .type = INSPECT_TABLE, .arn = *arns };
	memset(&out, 0xa5, sizeof(out));
	policy_evaluate(e.p, e.n, catalog_find_iam(iam_action), &e.res, NULL, NULL, &out);
	policy_set_free(e.set);
	out.policy = NULL; /* pointed into the freed set */
	out.sid = NULL;
	out.resource = NULL;
	return out;
}

static void
test_partiql_iam_actions(void **state)
{
	static const char *const orders[] = { T_ORDERS, NULL };
	static const char *const two[] = { T_ORDERS, T_USERS, NULL };
	static const char iam_select[] =
	    "{'p':{'Statement':{'Effect':'Allow','Action':'dynamodb:PartiQLSelect','Resource':'" T_ORDERS "'}}}";
	static const char iam_rw[] = "{'p':{'Statement':["
				     "{'Effect':'Allow','Action':'dynamodb:PartiQLSelect','Resource':'*'},"
				     "{'Effect':'Allow','Action':['dynamodb:PartiQLInsert','dynamodb:PartiQLUpdate'],"
				     "'Resource':'" T_ORDERS "'}]}}";
	static const char api[] =
	    "{'p':{'Statement':{'Effect':'Allow','Action':'dynamodb:ExecuteStatement','Resource':'*'}}}";
	static const char api_deny_delete[] =
	    "{'p':{'Statement':[{'Effect':'Allow','Action':'dynamodb:*Statement','Resource':'*'},"
	    "{'Sid':'NoDelete','Effect':'Deny','Action':'dynamodb:PartiQLDelete','Resource':'" T_ORDERS "'}]}}";
	const unsigned sel = 1u << PARTIQL_SELECT, ins = 1u << PARTIQL_INSERT, upd = 1u << PARTIQL_UPDATE,
		       del = 1u << PARTIQL_DELETE;
	struct policy_decision d;

	/* IAM's way: PartiQLSelect allows a SELECT through any of the three APIs. */
	d = partiql_eval(iam_select, "dynamodb:ExecuteStatement", sel, orders);
	assert_int_equal(d.effect, POLICY_ALLOW);
	assert_string_equal(d.action->iam_action, "dynamodb:PartiQLSelect");
	assert_int_equal(partiql_eval(iam_select, "dynamodb:BatchExecuteStatement", sel, orders).effect, POLICY_ALLOW);
	assert_int_equal(partiql_eval(iam_select, "dynamodb:ExecuteTransaction", sel, orders).effect, POLICY_ALLOW);
	/* ... but not another verb, another table, or a call with no verbs. */
	assert_int_equal(partiql_eval(iam_select, "dynamodb:ExecuteStatement", ins, orders).effect,
	    POLICY_DENY_IMPLICIT);
	assert_int_equal(partiql_eval(iam_select, "dynamodb:ExecuteStatement", sel, two).effect, POLICY_DENY_IMPLICIT);
	assert_int_equal(partiql_eval(iam_select, "dynamodb:ExecuteStatement", 0, orders).effect, POLICY_DENY_IMPLICIT);
	/* Every verb of the call must be allowed, each by any statement. */
	assert_int_equal(partiql_eval(iam_rw, "dynamodb:BatchExecuteStatement", sel | ins | upd, orders).effect,
	    POLICY_ALLOW);
	assert_int_equal(partiql_eval(iam_rw, "dynamodb:BatchExecuteStatement", sel | del, orders).effect,
	    POLICY_DENY_IMPLICIT);
	assert_int_equal(partiql_eval(iam_rw, "dynamodb:BatchExecuteStatement", sel | ins, two).effect,
	    POLICY_DENY_IMPLICIT);
	/* PartiQL<Verb> never authorizes item APIs. */
	assert_int_equal(partiql_eval(iam_rw, "dynamodb:GetItem", 0, orders).effect, POLICY_DENY_IMPLICIT);
	/* ddbguard's way still works: the API action alone. */
	d = partiql_eval(api, "dynamodb:ExecuteStatement", sel | del, two);
	assert_int_equal(d.effect, POLICY_ALLOW);
	assert_string_equal(d.action->iam_action, "dynamodb:ExecuteStatement");
	/* A Deny of a verb action wins over an Allow of the API action. */
	d = partiql_eval(api_deny_delete, "dynamodb:ExecuteStatement", sel | del, orders);
	assert_int_equal(d.effect, POLICY_DENY_EXPLICIT);
	assert_int_equal(d.statement_index, 1);
	assert_string_equal(d.action->iam_action, "dynamodb:PartiQLDelete");
	assert_int_equal(partiql_eval(api_deny_delete, "dynamodb:ExecuteStatement", sel, orders).effect, POLICY_ALLOW);
	assert_int_equal(partiql_eval(api_deny_delete, "dynamodb:ExecuteTransaction", del, two).effect,
	    POLICY_DENY_EXPLICIT);
}

static void
test_call_actions(void **state)
{
	const struct catalog_action *acts[POLICY_CALL_MAX_ACTIONS];
	struct inspect_result *res = calloc(1, sizeof(*res));

	assert_non_null(res);
	res->partiql_verbs = (1u << PARTIQL_SELECT) | (1u << PARTIQL_DELETE);
	assert_int_equal(policy_call_actions(catalog_find_iam("dynamodb:ExecuteStatement"), res, acts), 3);
	assert_string_equal(acts[0]->iam_action, "dynamodb:ExecuteStatement");
	assert_string_equal(acts[1]->iam_action, "dynamodb:PartiQLSelect");
	assert_string_equal(acts[2]->iam_action, "dynamodb:PartiQLDelete");
	assert_int_equal(policy_call_actions(catalog_find_iam("dynamodb:GetItem"), res, acts), 1);
	assert_int_equal(policy_call_actions(NULL, res, acts), 0);
	free(res);
}

/* ---- explain ---- */

struct trace_log {
	char text[4096];
	size_t len;
	size_t calls;
};

static void
trace_collect(void *arg, const struct policy_trace *t)
{
	struct trace_log *l = arg;

	l->calls++;
	l->len += (size_t)snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s[%u]%s %s %s a=%d r=", t->policy,
	    t->index, t->sid != NULL ? t->sid : "", t->deny ? "Deny" : "Allow", t->action->name, t->action_matches);
	for (size_t i = 0; i < t->nres; i++)
		l->len += (size_t)snprintf(l->text + l->len, sizeof(l->text) - l->len, "%d", t->resource_matches[i]);
	l->len += (size_t)snprintf(l->text + l->len, sizeof(l->text) - l->len, " %s%s\n",
	    policy_cond_result_name(t->cond), t->applies ? " APPLIES" : "");
}

static void
test_explain_trace(void **state)
{
	static const char *const use[] = { "p", "q", NULL };
	static const char pol[] =
	    "{'p':{'Statement':[{'Sid':'Read','Effect':'Allow','Action':'dynamodb:GetItem','Resource':'" T_ORDERS "'},"
	    "{'Effect':'Deny','Action':'*','Resource':'*','Condition':{'Bool':{'aws:SecureTransport':'false'}}}]},"
	    "'q':{'Statement':{'Effect':'Allow','Action':'dynamodb:PutItem','Resource':'*'}}}";
	struct eval_env e;
	struct trace_log log = { 0 };
	struct policy_decision d, plain;

	env_init(&e, pol, use);
	e.res.n = 2;
	e.res.res[0] = (struct inspect_resource){ .type = INSPECT_TABLE, .arn = T_ORDERS };
	e.res.res[1] = (struct inspect_resource){ .type = INSPECT_TABLE, .arn = T_USERS };
	policy_explain(e.p, e.n, catalog_find_iam("dynamodb:GetItem"), &e.res, NULL, NULL, trace_collect, &log, &d);
	policy_evaluate(e.p, e.n, catalog_find_iam("dynamodb:GetItem"), &e.res, NULL, NULL, &plain);
	assert_int_equal(log.calls, 3);
	assert_string_equal(log.text, "p[0]Read Allow GetItem a=1 r=10 no Condition APPLIES\n"
				      "p[1] Deny GetItem a=1 r=11 Condition false\n" /* no context: key absent */
				      "q[0] Allow GetItem a=0 r=11 Condition not evaluated\n");
	assert_int_equal(d.effect, POLICY_DENY_IMPLICIT);
	assert_int_equal(plain.effect, d.effect);
	assert_int_equal(plain.statement_index, d.statement_index);
	assert_string_equal(plain.resource, d.resource);
	policy_set_free(e.set);
}

/* ---- lint ---- */

static void
lint_collect(void *arg, const char *path, const char *msg)
{
	struct trace_log *l = arg;

	l->calls++;
	l->len += (size_t)snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s: %s\n", path, msg);
}

static struct trace_log
lint_of(const char *policies)
{
	struct policy_set *s = compile_ok(policies);
	struct trace_log l = { 0 };

	policy_set_lint(s, lint_collect, &l);
	policy_set_free(s);
	return l;
}

static void
test_lint(void **state)
{
	struct trace_log l;

	/* Clean: scoped grants, a Deny that covers only part of the Allow. */
	l = lint_of("{'p':{'Statement':[{'Effect':'Allow','Action':['dynamodb:GetItem','dynamodb:Query'],"
		    "'Resource':'" T_ORDERS_ANY "'},"
		    "{'Effect':'Deny','Action':'dynamodb:Query','Resource':'*'}]}}");
	assert_int_equal(l.calls, 0);
	/* Unreachable: every action and resource is denied unconditionally in the same policy. */
	l = lint_of("{'p':{'Statement':[{'Sid':'Read','Effect':'Allow','Action':'dynamodb:Get*',"
		    "'Resource':['" T_ORDERS "','" T_ORDERS_INDEXES "']},"
		    "{'Sid':'NoOrders','Effect':'Deny','Action':'*','Resource':'" T_ORDERS_ANY "'}]}}");
	assert_int_equal(l.calls, 1);
	assert_non_null(strstr(l.text, "$.policies.p.Statement[0]: Allow statement (Sid Read) is unreachable"));
	assert_non_null(strstr(l.text, "by Statement[1] (Sid NoOrders)"));
	/* A conditional Deny, or one with '?' patterns, does not make it unreachable. */
	l = lint_of("{'p':{'Statement':[{'Effect':'Allow','Action':'dynamodb:GetItem','Resource':'" T_ORDERS "'},"
		    "{'Effect':'Deny','Action':'*','Resource':'*','Condition':{'Bool':{'aws:SecureTransport':'false'}}}]}}");
	assert_int_equal(l.calls, 0);
	l = lint_of("{'p':{'Statement':[{'Effect':'Allow','Action':'dynamodb:GetItem','Resource':'" TABLE("a*c") "'},"
		    "{'Effect':'Deny','Action':'*','Resource':'" TABLE("a?c") "'}]}}");
	assert_int_equal(l.calls, 0);
	/* Admin wildcards, PartiQL and export on "*". */
	l = lint_of("{'p':{'Statement':{'Effect':'Allow','Action':'dynamodb:*','Resource':'*'}}}");
	assert_int_equal(l.calls, 2);
	assert_non_null(strstr(l.text, "grants admin actions on every resource (Resource \"*\"): dynamodb:DeleteBackup, "
				       "dynamodb:DeleteTable, dynamodb:PutResourcePolicy and "));
	assert_non_null(strstr(l.text, "grants PartiQL or export actions on every resource"));
	l = lint_of("{'p':{'Statement':{'Effect':'Allow','Action':'dynamodb:Delete*','Resource':'" T_ORDERS "'}}}");
	assert_int_equal(l.calls, 0);
	l = lint_of("{'p':{'Statement':{'Effect':'Allow','Action':'dynamodb:PartiQLSelect','Resource':'*'}}}");
	assert_int_equal(l.calls, 1);
	assert_non_null(strstr(l.text, "PartiQL or export actions on every resource (Resource \"*\"): "
				       "dynamodb:PartiQLSelect\n"));
	l = lint_of("{'p':{'Statement':{'Effect':'Allow','Action':'dynamodb:ExportTableToPointInTime',"
		    "'NotResource':'" T_SECRETS "'}}}");
	assert_int_equal(l.calls, 2); /* admin and export */
	l = lint_of("{'p':{'Statement':{'Effect':'Allow','Action':['dynamodb:GetItem','dynamodb:ListTables'],"
		    "'Resource':'*'}}}");
	assert_int_equal(l.calls, 0); /* ListTables names no resource: "*" is the only way to grant it */
	l = lint_of("{'p':{'Statement':{'Effect':'Allow','Action':['dynamodb:GetItem','dynamodb:DeleteTable'],"
		    "'Resource':'*'}}}");
	assert_int_equal(l.calls, 1);
	assert_non_null(strstr(l.text, ": dynamodb:DeleteTable\n"));
}

static void
test_effect_names(void **state)
{
	assert_string_equal(policy_effect_name(POLICY_ALLOW), "allow");
	assert_string_equal(policy_effect_name(POLICY_DENY_EXPLICIT), "explicit-deny");
	assert_string_equal(policy_effect_name(POLICY_DENY_IMPLICIT), "implicit-deny");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_glob_pathological),
		cmocka_unit_test(test_compile_errors),
	    cmocka_unit_test(test_arn_patterns_that_may_match),
		cmocka_unit_test(test_compile_accepts),
		cmocka_unit_test(test_set_lookup),
		cmocka_unit_test(test_set_owns_strings),
		cmocka_unit_test(test_action_expansion),
		cmocka_unit_test(test_notaction_of_everything),
		cmocka_unit_test(test_explicit_deny_beats_allow),
		cmocka_unit_test(test_multi_resource),
		cmocka_unit_test(test_resourceless_action),
		cmocka_unit_test(test_foreign_account),
		cmocka_unit_test(test_index_resource),
		cmocka_unit_test(test_not_resource),
		cmocka_unit_test(test_not_action),
		cmocka_unit_test(test_resource_case),
		cmocka_unit_test(test_degenerate_calls),
		cmocka_unit_test(test_effect_names),
		cmocka_unit_test(test_partiql_iam_actions),
		cmocka_unit_test(test_call_actions),
		cmocka_unit_test(test_explain_trace),
		cmocka_unit_test(test_lint),
		cmocka_unit_test(test_condition_allow_string_equals),
		cmocka_unit_test(test_condition_deny_string_not_equals),
		cmocka_unit_test(test_condition_if_exists),
		cmocka_unit_test(test_condition_secure_transport),
		cmocka_unit_test(test_condition_source_ip),
		cmocka_unit_test(test_condition_partiql_verbs),
		cmocka_unit_test(test_condition_falls_through),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
