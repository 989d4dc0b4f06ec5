/*
 * Tests filters/policy/condition.c: every operator (match, no match, absent,
 * IfExists), set qualifiers with empty, single and several values, negated
 * operators, IP/date/ARN edges, compile errors at their exact JSON paths, and
 * evaluation over 1000-value sets.
 *
 * Condition JSON in these tables uses ' for " (json_of() swaps them back).
 * Request contexts are written "key=v1|v2;key2=v": "key=" is a key present
 * with no values, "<empty>" is the empty string, a key not named is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "tests/unit/diag_expect.h"

#include "filters/base/diag.h"
#include "filters/policy/condition.h"

enum {
	K_SOURCE_IP = 1,
	K_SELECT,
	K_LEADING,
	K_SECURE,
	K_TIME,
	K_PRINCIPAL_ARN,
	K_ARNS,
	K_NUMBER,
	K_NUMBERS,
	K_TAG,
	K_IPS,
	K_DATES,
	K_BOOLS,
};

static const struct condition_key_def keys[] = {
	{ "aws:SourceIp", COND_T_IP, false, K_SOURCE_IP },
	{ "dynamodb:Select", COND_T_STRING, false, K_SELECT },
	{ "dynamodb:LeadingKeys", COND_T_STRING, true, K_LEADING },
	{ "aws:SecureTransport", COND_T_BOOL, false, K_SECURE },
	{ "aws:CurrentTime", COND_T_DATE, false, K_TIME },
	{ "aws:PrincipalArn", COND_T_ARN, false, K_PRINCIPAL_ARN },
	{ "test:Arns", COND_T_ARN, true, K_ARNS },
	{ "test:Number", COND_T_NUMERIC, false, K_NUMBER },
	{ "test:Numbers", COND_T_NUMERIC, true, K_NUMBERS },
	{ "ddbguard:IdentityTag/", COND_T_STRING, false, K_TAG },
	{ "test:Ips", COND_T_IP, true, K_IPS },
	{ "test:Dates", COND_T_DATE, true, K_DATES },
	{ "test:Bools", COND_T_BOOL, true, K_BOOLS },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

#define C0 "$.policies.app.Statement[0].Condition"
#define ACCOUNT "123456789012"
#define TABLE(name) "arn:aws:dynamodb:us-east-1:" ACCOUNT ":table/" name

/* ---- helpers ---- */

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

static void
path_init(struct diag_path *path)
{
	diag_path_init(path);
	diag_path_member(path, "policies");
	diag_path_member(path, "app");
	diag_path_member(path, "Statement");
	diag_path_index(path, 0);
	diag_path_member(path, "Condition");
}

/* Compiles `js`; the caller frees *d. */
static struct condition_block *
compile_json(const cJSON *js, struct diag **d)
{
	struct diag_path path;
	struct condition_block *b;

	*d = diag_new("test.json");
	assert_non_null(*d);
	path_init(&path);
	b = condition_compile(js, keys, NKEYS, *d, &path);
	assert_string_equal(path.text, C0); /* restored on return */
	return b;
}

static struct condition_block *
compile(const char *quoted, struct diag **d)
{
	cJSON *js = json_of(quoted);
	struct condition_block *b = compile_json(js, d);

	cJSON_Delete(js);
	return b;
}

static struct condition_block *
compile_ok(const char *quoted)
{
	struct diag *d;
	struct condition_block *b = compile(quoted, &d);

	for (size_t i = 0; i < diag_count(d); i++)
		print_error("unexpected: %s\n", diag_message(d, i));
	if (diag_count(d) != 0 || b == NULL)
		fail_msg("does not compile: %s", quoted);
	diag_free(d);
	return b;
}

#define REQ_MAX_ENTRIES 8
#define REQ_MAX_VALUES 8

struct req_entry {
	int id;
	char tag[64]; /* "" unless a prefix key */
	bool present;
	const char *const *values;
	size_t n;
	const char *inline_values[REQ_MAX_VALUES];
};

struct req {
	struct req_entry e[REQ_MAX_ENTRIES];
	size_t n;
	char *text;
	unsigned lookups;
	int last_id;
};

static const struct condition_key_def *
key_for(const char *name, const char **tag)
{
	*tag = NULL;
	for (size_t i = 0; i < NKEYS; i++) {
		size_t n = strlen(keys[i].name);

		if (keys[i].name[n - 1] != '/' && strcasecmp(keys[i].name, name) == 0)
			return &keys[i];
		if (keys[i].name[n - 1] == '/' && strncasecmp(keys[i].name, name, n) == 0) {
			*tag = name + n;
			return &keys[i];
		}
	}
	fail_msg("test request names unknown key %s", name);
	return NULL;
}

static struct req_entry *
req_add(struct req *r, const char *name)
{
	const char *tag;
	const struct condition_key_def *k = key_for(name, &tag);
	struct req_entry *e;

	assert_true(r->n < REQ_MAX_ENTRIES);
	e = &r->e[r->n++];
	memset(e, 0, sizeof(*e));
	e->id = k->id;
	snprintf(e->tag, sizeof(e->tag), "%s", tag != NULL ? tag : "");
	e->present = true;
	e->values = e->inline_values;
	return e;
}

static void
req_parse(struct req *r, const char *spec)
{
	char *save = NULL;

	memset(r, 0, sizeof(*r));
	r->text = strdup(spec);
	assert_non_null(r->text);
	for (char *ent = strtok_r(r->text, ";", &save); ent != NULL; ent = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(ent, '='), *vals, *v;
		struct req_entry *e;

		assert_non_null(eq);
		*eq = '\0';
		e = req_add(r, ent);
		vals = eq + 1;
		if (*vals == '\0')
			continue; /* present, no values */
		while ((v = strsep(&vals, "|")) != NULL) {
			assert_true(e->n < REQ_MAX_VALUES);
			e->inline_values[e->n++] = strcmp(v, "<empty>") == 0 ? "" : v;
		}
	}
}

static void
req_free(struct req *r)
{
	free(r->text);
	r->text = NULL;
}

static void
lookup(void *ctx, int key_id, const char *tag, struct condition_request_values *out)
{
	struct req *r = ctx;

	r->lookups++;
	r->last_id = key_id;
	/* condition_evaluate() zeroes `out` first. */
	assert_false(out->present);
	assert_int_equal(out->n, 0);
	for (size_t i = 0; i < r->n; i++) {
		const struct req_entry *e = &r->e[i];

		if (e->id != key_id)
			continue;
		if (tag == NULL ? e->tag[0] != '\0' : strcasecmp(tag, e->tag) != 0)
			continue; /* IAM tag keys compare without case */
		out->present = e->present;
		out->values = e->values;
		out->n = e->n;
		return;
	}
}

struct eval_case {
	const char *cond, *req;
	bool want;
};

static void
check_eval_cases(const struct eval_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct condition_block *b = compile_ok(cases[i].cond);
		struct req r;
		bool got;

		req_parse(&r, cases[i].req);
		got = condition_evaluate(b, lookup, &r);
		if (got != cases[i].want)
			fail_msg("case %zu: %s with {%s} = %d, want %d", i, cases[i].cond, cases[i].req, got,
			    cases[i].want);
		req_free(&r);
		condition_free(b);
	}
}

#define CHECK(cases) check_eval_cases(cases, sizeof(cases) / sizeof(cases[0]))

/* ---- strings ---- */

#define SEL "dynamodb:Select"

static void
test_string(void **state)
{
	static const struct eval_case cases[] = {
		{ "{'StringEquals':{'" SEL "':'ALL_ATTRIBUTES'}}", SEL "=ALL_ATTRIBUTES", true },
		{ "{'StringEquals':{'" SEL "':'ALL_ATTRIBUTES'}}", SEL "=all_attributes", false },
		{ "{'StringEquals':{'" SEL "':'ALL_ATTRIBUTES'}}", SEL "=ALL_ATTRIBUTES ", false },
		{ "{'StringEquals':{'" SEL "':'ALL_ATTRIBUTES'}}", "", false },
		{ "{'StringEquals':{'" SEL "':'ALL_ATTRIBUTES'}}", SEL "=", false },
		{ "{'StringEquals':{'" SEL "':['COUNT','ALL_ATTRIBUTES']}}", SEL "=ALL_ATTRIBUTES", true },
		{ "{'StringEquals':{'" SEL "':['COUNT','ALL_ATTRIBUTES']}}", SEL "=COUNT", true },
		{ "{'StringEquals':{'" SEL "':['COUNT','ALL_ATTRIBUTES']}}", SEL "=SPECIFIC_ATTRIBUTES", false },
		/* No wildcards in StringEquals: '*' is a character. */
		{ "{'StringEquals':{'" SEL "':'SPECIFIC_*'}}", SEL "=SPECIFIC_ATTRIBUTES", false },
		{ "{'StringEquals':{'" SEL "':'SPECIFIC_*'}}", SEL "=SPECIFIC_*", true },
		/* The empty string is a value, not absence. */
		{ "{'StringEquals':{'" SEL "':''}}", SEL "=<empty>", true },
		{ "{'StringEquals':{'" SEL "':''}}", "", false },
		/* Key names are case-insensitive [COND]; values are not. */
		{ "{'StringEquals':{'DynamoDB:SELECT':'COUNT'}}", SEL "=COUNT", true },
		/* Negated: the values NOR; absent is true. */
		{ "{'StringNotEquals':{'" SEL "':['COUNT','ALL_ATTRIBUTES']}}", SEL "=SPECIFIC_ATTRIBUTES", true },
		{ "{'StringNotEquals':{'" SEL "':['COUNT','ALL_ATTRIBUTES']}}", SEL "=COUNT", false },
		{ "{'StringNotEquals':{'" SEL "':['COUNT','ALL_ATTRIBUTES']}}", SEL "=ALL_ATTRIBUTES", false },
		{ "{'StringNotEquals':{'" SEL "':['COUNT','ALL_ATTRIBUTES']}}", SEL "=count", true },
		{ "{'StringNotEquals':{'" SEL "':['COUNT','ALL_ATTRIBUTES']}}", "", true },
		{ "{'StringNotEquals':{'" SEL "':['COUNT','ALL_ATTRIBUTES']}}", SEL "=", true },
		/* IgnoreCase folds ASCII only. */
		{ "{'StringEqualsIgnoreCase':{'" SEL "':'count'}}", SEL "=COUNT", true },
		{ "{'StringEqualsIgnoreCase':{'" SEL "':'count'}}", SEL "=Count", true },
		{ "{'StringEqualsIgnoreCase':{'" SEL "':'count'}}", SEL "=COUNTS", false },
		{ "{'StringEqualsIgnoreCase':{'" SEL "':'count'}}", "", false },
		{ "{'StringEqualsIgnoreCase':{'" SEL "':['b','A','c','D']}}", SEL "=d", true },
		{ "{'StringEqualsIgnoreCase':{'" SEL "':['b','A','c','D']}}", SEL "=a", true },
		{ "{'StringEqualsIgnoreCase':{'" SEL "':'\xc3\xa9'}}", SEL "=\xc3\x89", false },
		{ "{'StringNotEqualsIgnoreCase':{'" SEL "':['count','all_attributes']}}", SEL "=COUNT", false },
		{ "{'StringNotEqualsIgnoreCase':{'" SEL "':['count','all_attributes']}}", SEL "=All_Attributes",
		    false },
		{ "{'StringNotEqualsIgnoreCase':{'" SEL "':['count','all_attributes']}}", SEL "=X", true },
		{ "{'StringNotEqualsIgnoreCase':{'" SEL "':['count','all_attributes']}}", "", true },
		/* StringLike: '*' and '?', case-sensitive. */
		{ "{'StringLike':{'" SEL "':'SPECIFIC_*'}}", SEL "=SPECIFIC_ATTRIBUTES", true },
		{ "{'StringLike':{'" SEL "':'SPECIFIC_*'}}", SEL "=SPECIFIC_", true },
		{ "{'StringLike':{'" SEL "':'SPECIFIC_*'}}", SEL "=specific_attributes", false },
		{ "{'StringLike':{'" SEL "':'SPECIFIC_*'}}", SEL "=ALL_ATTRIBUTES", false },
		{ "{'StringLike':{'" SEL "':'SPECIFIC_*'}}", "", false },
		{ "{'StringLike':{'" SEL "':'A?C'}}", SEL "=ABC", true },
		{ "{'StringLike':{'" SEL "':'A?C'}}", SEL "=AC", false },
		{ "{'StringLike':{'" SEL "':'A?C'}}", SEL "=ABBC", false },
		{ "{'StringLike':{'" SEL "':'*'}}", SEL "=<empty>", true },
		{ "{'StringLike':{'" SEL "':'?'}}", SEL "=<empty>", false },
		/* '?' is one character, not one byte. */
		{ "{'StringLike':{'" SEL "':'?'}}", SEL "=\xc3\xa9", true },
		{ "{'StringLike':{'" SEL "':'x?\?'}}", SEL "=x\xc3\xa9", false },
		{ "{'StringLike':{'" SEL "':'*a*a*a*b'}}", SEL "=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
		{ "{'StringLike':{'" SEL "':['*_ATTRIBUTES','COUNT']}}", SEL "=COUNT", true },
		{ "{'StringLike':{'" SEL "':['*_ATTRIBUTES','COUNT']}}", SEL "=ALL_ATTRIBUTES", true },
		{ "{'StringLike':{'" SEL "':['*_ATTRIBUTES','COUNT']}}", SEL "=COUNTS", false },
		{ "{'StringNotLike':{'" SEL "':['ALL_*','COUNT']}}", SEL "=ALL_ATTRIBUTES", false },
		{ "{'StringNotLike':{'" SEL "':['ALL_*','COUNT']}}", SEL "=COUNT", false },
		{ "{'StringNotLike':{'" SEL "':['ALL_*','COUNT']}}", SEL "=SPECIFIC_ATTRIBUTES", true },
		{ "{'StringNotLike':{'" SEL "':['ALL_*','COUNT']}}", "", true },
		/* String operators apply to ARN keys too; '*' then spans colons. */
		{ "{'StringLike':{'aws:PrincipalArn':'arn:aws:iam::*'}}",
		    "aws:PrincipalArn=arn:aws:iam::" ACCOUNT ":role/x", true },
		/* Tag keys: the suffix reaches the lookup as written. */
		{ "{'StringEquals':{'ddbguard:IdentityTag/team':'payments'}}", "ddbguard:IdentityTag/team=payments",
		    true },
		{ "{'StringEquals':{'ddbguard:IdentityTag/team':'payments'}}", "ddbguard:IdentityTag/env=payments",
		    false },
		{ "{'StringEquals':{'DDBGUARD:identitytag/Team':'payments'}}", "ddbguard:IdentityTag/team=payments",
		    true },
		{ "{'StringEquals':{'ddbguard:IdentityTag/team':'payments'}}", "ddbguard:IdentityTag/team=Payments",
		    false },
	};

	CHECK(cases);
}

/* ---- numbers ---- */

#define NUM "test:Number"

static void
test_numeric(void **state)
{
	static const struct eval_case cases[] = {
		{ "{'NumericEquals':{'" NUM "':'10'}}", NUM "=10", true },
		{ "{'NumericEquals':{'" NUM "':'10'}}", NUM "=10.0", true },
		{ "{'NumericEquals':{'" NUM "':'10'}}", NUM "=010", true },
		{ "{'NumericEquals':{'" NUM "':'10'}}", NUM "=10.01", false },
		{ "{'NumericEquals':{'" NUM "':'10'}}", NUM "=1e1", false }, /* not decimal text: matches nothing */
		{ "{'NumericEquals':{'" NUM "':'10'}}", NUM "=ten", false },
		{ "{'NumericEquals':{'" NUM "':'10'}}", NUM "=<empty>", false },
		{ "{'NumericEquals':{'" NUM "':'10'}}", NUM "=+10", false },
		{ "{'NumericEquals':{'" NUM "':'10'}}", "", false },
		{ "{'NumericEquals':{'" NUM "':'0'}}", NUM "=-0", true },
		{ "{'NumericEquals':{'" NUM "':'-0.0'}}", NUM "=0", true },
		{ "{'NumericEquals':{'" NUM "':10}}", NUM "=10", true }, /* JSON number */
		{ "{'NumericEquals':{'" NUM "':0.5}}", NUM "=0.50", true },
		{ "{'NumericEquals':{'" NUM "':-2.25}}", NUM "=-2.25", true },
		{ "{'NumericEquals':{'" NUM "':['1','2','3','5','8']}}", NUM "=5", true },
		{ "{'NumericEquals':{'" NUM "':['1','2','3','5','8']}}", NUM "=4", false },
		/* Exact decimal comparison: no rounding through a double. */
		{ "{'NumericEquals':{'" NUM "':'9007199254740993'}}", NUM "=9007199254740992", false },
		{ "{'NumericLessThan':{'" NUM "':'0.1'}}", NUM "=0.09999999999999999999", true },
		{ "{'NumericNotEquals':{'" NUM "':['1','2']}}", NUM "=3", true },
		{ "{'NumericNotEquals':{'" NUM "':['1','2']}}", NUM "=2", false },
		{ "{'NumericNotEquals':{'" NUM "':['1','2']}}", NUM "=1.000", false },
		{ "{'NumericNotEquals':{'" NUM "':['1','2']}}", NUM "=abc", true },
		{ "{'NumericNotEquals':{'" NUM "':['1','2']}}", "", true },
		{ "{'NumericLessThan':{'" NUM "':'10'}}", NUM "=9.999", true },
		{ "{'NumericLessThan':{'" NUM "':'10'}}", NUM "=10", false },
		{ "{'NumericLessThan':{'" NUM "':'10'}}", NUM "=-11", true },
		{ "{'NumericLessThan':{'" NUM "':'-10'}}", NUM "=-9", false },
		{ "{'NumericLessThan':{'" NUM "':'-10'}}", NUM "=-10.5", true },
		{ "{'NumericLessThan':{'" NUM "':'10'}}", "", false },
		/* Several values OR: below the largest, above the smallest. */
		{ "{'NumericLessThan':{'" NUM "':['5','100']}}", NUM "=50", true },
		{ "{'NumericLessThan':{'" NUM "':['5','100']}}", NUM "=100", false },
		{ "{'NumericLessThanEquals':{'" NUM "':'10'}}", NUM "=10", true },
		{ "{'NumericLessThanEquals':{'" NUM "':'10'}}", NUM "=10.0001", false },
		{ "{'NumericGreaterThan':{'" NUM "':['100','5']}}", NUM "=6", true },
		{ "{'NumericGreaterThan':{'" NUM "':['100','5']}}", NUM "=5", false },
		{ "{'NumericGreaterThan':{'" NUM "':'0'}}", NUM "=0.0000001", true },
		{ "{'NumericGreaterThan':{'" NUM "':'0'}}", NUM "=-0.0000001", false },
		{ "{'NumericGreaterThanEquals':{'" NUM "':'-2.5'}}", NUM "=-2.5", true },
		{ "{'NumericGreaterThanEquals':{'" NUM "':'-2.5'}}", NUM "=-2.51", false },
		{ "{'NumericGreaterThanEquals':{'" NUM "':'-2.5'}}", NUM "=123456789012345678901234567890", true },
		{ "{'NumericGreaterThanEquals':{'" NUM "':'-2.5'}}", NUM "=x", false },
	};

	CHECK(cases);
}

/* ---- dates ---- */

#define NOW "aws:CurrentTime"
#define Y2026 "2026-01-01T00:00:00Z" /* 1767225600 */

static void
test_date(void **state)
{
	static const struct eval_case cases[] = {
		{ "{'DateEquals':{'" NOW "':'" Y2026 "'}}", NOW "=" Y2026, true },
		{ "{'DateEquals':{'" NOW "':'" Y2026 "'}}", NOW "=1767225600", true },
		{ "{'DateEquals':{'" NOW "':'" Y2026 "'}}", NOW "=2026-01-01T02:00:00+02:00", true },
		{ "{'DateEquals':{'" NOW "':'" Y2026 "'}}", NOW "=2025-12-31T19:00:00-05:00", true },
		{ "{'DateEquals':{'" NOW "':'" Y2026 "'}}", NOW "=2026-01-01", true },
		{ "{'DateEquals':{'" NOW "':'" Y2026 "'}}", NOW "=2026-01-01T00:00Z", true },
		/* IAM compares down to the second. */
		{ "{'DateEquals':{'" NOW "':'" Y2026 "'}}", NOW "=2026-01-01T00:00:00.999Z", true },
		{ "{'DateEquals':{'" NOW "':'" Y2026 "'}}", NOW "=2026-01-01T00:00:01Z", false },
		{ "{'DateEquals':{'" NOW "':'" Y2026 "'}}", NOW "=2026-01-01T00:00:00", false }, /* no zone */
		{ "{'DateEquals':{'" NOW "':'" Y2026 "'}}", NOW "=tomorrow", false },
		{ "{'DateEquals':{'" NOW "':'" Y2026 "'}}", "", false },
		{ "{'DateEquals':{'" NOW "':1767225600}}", NOW "=" Y2026, true },
		{ "{'DateEquals':{'" NOW "':'1767225600'}}", NOW "=" Y2026, true },
		{ "{'DateEquals':{'" NOW "':'2024-02-29T12:00:00Z'}}", NOW "=1709208000", true },
		{ "{'DateEquals':{'" NOW "':'2000-03-01T00:00:00Z'}}", NOW "=951868800", true },
		{ "{'DateNotEquals':{'" NOW "':['" Y2026 "','2027-01-01']}}", NOW "=2026-06-01T00:00:00Z", true },
		{ "{'DateNotEquals':{'" NOW "':['" Y2026 "','2027-01-01']}}", NOW "=2027-01-01T00:00:00Z", false },
		{ "{'DateNotEquals':{'" NOW "':['" Y2026 "','2027-01-01']}}", "", true },
		{ "{'DateLessThan':{'" NOW "':'" Y2026 "'}}", NOW "=1767225599", true },
		{ "{'DateLessThan':{'" NOW "':'" Y2026 "'}}", NOW "=1767225600", false },
		{ "{'DateLessThan':{'" NOW "':'" Y2026 "'}}", NOW "=2025-12-31T23:59:59Z", true },
		{ "{'DateLessThan':{'" NOW "':'" Y2026 "'}}", NOW "=1999-12-31T23:59:59Z", true },
		{ "{'DateLessThanEquals':{'" NOW "':['2020-01-01T00:00:00Z','" Y2026 "']}}", NOW "=" Y2026, true },
		{ "{'DateLessThanEquals':{'" NOW "':['2020-01-01T00:00:00Z','" Y2026 "']}}",
		    NOW "=2026-01-01T00:00:01Z", false },
		{ "{'DateGreaterThan':{'" NOW "':'" Y2026 "'}}", NOW "=2026-01-01T00:00:01Z", true },
		{ "{'DateGreaterThan':{'" NOW "':'" Y2026 "'}}", NOW "=" Y2026, false },
		{ "{'DateGreaterThan':{'" NOW "':'" Y2026 "'}}", NOW "=2026-01-01T00:59:59+01:00", false },
		{ "{'DateGreaterThan':{'" NOW "':'1969-07-20T20:17:00Z'}}", NOW "=" Y2026, true },
		{ "{'DateGreaterThanEquals':{'" NOW "':'" Y2026 "'}}", NOW "=" Y2026, true },
		{ "{'DateGreaterThanEquals':{'" NOW "':'" Y2026 "'}}", NOW "=garbage", false },
		{ "{'DateGreaterThanEquals':{'" NOW "':'" Y2026 "'}}", NOW "=2026", false }, /* a year, not epoch */
		{ "{'DateGreaterThanEquals':{'" NOW "':'" Y2026 "'}}", NOW "=9999-12-31T23:59:59Z", true },
		{ "{'DateGreaterThanEquals':{'" NOW "':'" Y2026 "'}}", NOW "=99999999999999999999", false },
	};

	CHECK(cases);
}

/* ---- Bool, Null ---- */

#define TLS "aws:SecureTransport"

static void
test_bool_null(void **state)
{
	static const struct eval_case cases[] = {
		{ "{'Bool':{'" TLS "':'true'}}", TLS "=true", true },
		{ "{'Bool':{'" TLS "':'true'}}", TLS "=TRUE", true },
		{ "{'Bool':{'" TLS "':'true'}}", TLS "=false", false },
		{ "{'Bool':{'" TLS "':'true'}}", TLS "=yes", false },
		{ "{'Bool':{'" TLS "':'true'}}", TLS "=1", false },
		{ "{'Bool':{'" TLS "':'true'}}", "", false },
		{ "{'Bool':{'" TLS "':'False'}}", TLS "=false", true },
		{ "{'Bool':{'" TLS "':false}}", TLS "=false", true },
		{ "{'Bool':{'" TLS "':false}}", TLS "=true", false },
		{ "{'Bool':{'" TLS "':[true,false]}}", TLS "=false", true },
		{ "{'BoolIfExists':{'" TLS "':'true'}}", "", true },
		{ "{'BoolIfExists':{'" TLS "':'true'}}", TLS "=false", false },
		/* Null: true = the key is absent; false = it is present. */
		{ "{'Null':{'" TLS "':'true'}}", "", true },
		{ "{'Null':{'" TLS "':'true'}}", TLS "=", true }, /* no values: a null data set */
		{ "{'Null':{'" TLS "':'true'}}", TLS "=false", false },
		{ "{'Null':{'" TLS "':'true'}}", TLS "=<empty>", false },
		{ "{'Null':{'" TLS "':'false'}}", TLS "=false", true },
		{ "{'Null':{'" TLS "':'false'}}", "", false },
		{ "{'Null':{'" TLS "':false}}", TLS "=true", true },
		{ "{'Null':{'" TLS "':true}}", SEL "=COUNT", true },
		{ "{'Null':{'" TLS "':['true','false']}}", "", true },
		{ "{'Null':{'" TLS "':['true','false']}}", TLS "=true", true },
		{ "{'Null':{'dynamodb:LeadingKeys':'false'}}", "dynamodb:LeadingKeys=a|b", true },
		{ "{'Null':{'ddbguard:IdentityTag/team':'true'}}", "ddbguard:IdentityTag/env=x", true },
		{ "{'Null':{'ddbguard:IdentityTag/team':'true'}}", "ddbguard:IdentityTag/team=x", false },
	};

	CHECK(cases);
}

/* ---- IP addresses ---- */

#define IP "aws:SourceIp"

static void
test_ip(void **state)
{
	static const struct eval_case cases[] = {
		{ "{'IpAddress':{'" IP "':'203.0.113.0/24'}}", IP "=203.0.113.0", true },
		{ "{'IpAddress':{'" IP "':'203.0.113.0/24'}}", IP "=203.0.113.255", true },
		{ "{'IpAddress':{'" IP "':'203.0.113.0/24'}}", IP "=203.0.114.0", false },
		{ "{'IpAddress':{'" IP "':'203.0.113.0/24'}}", IP "=203.0.112.255", false },
		{ "{'IpAddress':{'" IP "':'203.0.113.0/24'}}", "", false },
		{ "{'IpAddress':{'" IP "':'203.0.113.0/25'}}", IP "=203.0.113.127", true },
		{ "{'IpAddress':{'" IP "':'203.0.113.0/25'}}", IP "=203.0.113.128", false },
		{ "{'IpAddress':{'" IP "':'203.0.113.128/25'}}", IP "=203.0.113.128", true },
		{ "{'IpAddress':{'" IP "':'203.0.113.0/31'}}", IP "=203.0.113.1", true },
		{ "{'IpAddress':{'" IP "':'203.0.113.0/31'}}", IP "=203.0.113.2", false },
		/* A bare address is /32; host bits past the prefix are cleared. */
		{ "{'IpAddress':{'" IP "':'203.0.113.7'}}", IP "=203.0.113.7", true },
		{ "{'IpAddress':{'" IP "':'203.0.113.7'}}", IP "=203.0.113.8", false },
		{ "{'IpAddress':{'" IP "':'203.0.113.7/32'}}", IP "=203.0.113.7", true },
		{ "{'IpAddress':{'" IP "':'10.1.2.3/8'}}", IP "=10.200.0.1", true },
		{ "{'IpAddress':{'" IP "':'10.1.2.3/8'}}", IP "=11.0.0.0", false },
		{ "{'IpAddress':{'" IP "':'0.0.0.0/0'}}", IP "=198.51.100.1", true },
		{ "{'IpAddress':{'" IP "':'0.0.0.0/0'}}", IP "=2001:db8::1", false },
		/* Request values must be addresses, strictly. */
		{ "{'IpAddress':{'" IP "':'0.0.0.0/0'}}", IP "=203.0.113.07", false },
		{ "{'IpAddress':{'" IP "':'0.0.0.0/0'}}", IP "=203.0.113.9/32", false },
		{ "{'IpAddress':{'" IP "':'0.0.0.0/0'}}", IP "=<empty>", false },
		{ "{'IpAddress':{'" IP "':'0.0.0.0/0'}}", IP "=localhost", false },
		{ "{'IpAddress':{'" IP "':'2001:DB8::/32'}}", IP "=2001:db8:ffff::1", true },
		{ "{'IpAddress':{'" IP "':'2001:DB8::/32'}}", IP "=2001:db9::1", false },
		{ "{'IpAddress':{'" IP "':'2001:DB8::/32'}}", IP "=203.0.113.1", false },
		{ "{'IpAddress':{'" IP "':'2001:db8::/127'}}", IP "=2001:db8::1", true },
		{ "{'IpAddress':{'" IP "':'2001:db8::/127'}}", IP "=2001:db8::2", false },
		{ "{'IpAddress':{'" IP "':'2001:db8::1'}}", IP "=2001:0db8:0000::0001", true },
		{ "{'IpAddress':{'" IP "':'2001:db8::1'}}", IP "=2001:db8::2", false },
		{ "{'IpAddress':{'" IP "':'2001:db8:8000::/33'}}", IP "=2001:db8:7fff::1", false },
		{ "{'IpAddress':{'" IP "':'2001:db8:8000::/33'}}", IP "=2001:db8:8000::1", true },
		{ "{'IpAddress':{'" IP "':'::/0'}}", IP "=2001:db8::1", true },
		{ "{'IpAddress':{'" IP "':'::/0'}}", IP "=10.0.0.1", false },
		/* IPv4-mapped IPv6 is IPv4, on either side. */
		{ "{'IpAddress':{'" IP "':'203.0.113.0/24'}}", IP "=::ffff:203.0.113.9", true },
		{ "{'IpAddress':{'" IP "':'203.0.113.0/24'}}", IP "=::ffff:203.0.114.9", false },
		{ "{'IpAddress':{'" IP "':'::ffff:203.0.113.0/120'}}", IP "=203.0.113.9", true },
		{ "{'IpAddress':{'" IP "':'::ffff:203.0.113.0/120'}}", IP "=203.0.114.9", false },
		{ "{'IpAddress':{'" IP "':['10.0.0.0/8','2001:db8::/32']}}", IP "=2001:db8::5", true },
		{ "{'IpAddress':{'" IP "':['10.0.0.0/8','2001:db8::/32']}}", IP "=10.9.9.9", true },
		{ "{'IpAddress':{'" IP "':['10.0.0.0/8','2001:db8::/32']}}", IP "=192.0.2.1", false },
		{ "{'NotIpAddress':{'" IP "':['10.0.0.0/8','192.168.0.0/16']}}", IP "=192.168.1.1", false },
		{ "{'NotIpAddress':{'" IP "':['10.0.0.0/8','192.168.0.0/16']}}", IP "=10.0.0.1", false },
		{ "{'NotIpAddress':{'" IP "':['10.0.0.0/8','192.168.0.0/16']}}", IP "=8.8.8.8", true },
		{ "{'NotIpAddress':{'" IP "':['10.0.0.0/8','192.168.0.0/16']}}", IP "=garbage", true },
		{ "{'NotIpAddress':{'" IP "':['10.0.0.0/8','192.168.0.0/16']}}", "", true },
		{ "{'IpAddressIfExists':{'" IP "':'10.0.0.0/8'}}", "", true },
		{ "{'IpAddressIfExists':{'" IP "':'10.0.0.0/8'}}", IP "=11.0.0.1", false },
	};

	CHECK(cases);
}

/* ---- ARNs ---- */

#define PA "aws:PrincipalArn"

static void
test_arn(void **state)
{
	static const struct eval_case cases[] = {
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:*:*:table/orders*'}}", PA "=" TABLE("orders"), true },
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:*:*:table/orders*'}}", PA "=" TABLE("orders2"), true },
		/* '*' in the resource part spans '/' (only ':' separates parts). */
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:*:*:table/orders*'}}",
		    PA "=" TABLE("orders/index/byDate"), true },
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:*:*:table/orders*'}}", PA "=" TABLE("users"), false },
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:*:*:table/orders*'}}", PA "=" TABLE("Orders"), false },
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:*:*:table/orders*'}}",
		    PA "=arn:aws:s3:::table/orders", false },
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:*:*:table/orders*'}}", "", false },
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:*:*:table/orders'}}", PA "=" TABLE("orders"), true },
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:*:*:table/orders'}}", PA "=" TABLE("orders/index/x"),
		    false },
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:us-*:*:table/*'}}",
		    PA "=arn:aws:dynamodb:eu-west-1:" ACCOUNT ":table/t", false },
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:us-east-?:*:table/t'}}", PA "=" TABLE("t"), true },
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:us-east-?:*:table/t'}}",
		    PA "=arn:aws:dynamodb:us-east-12:" ACCOUNT ":table/t", false },
		/* A wildcard never spans a colon in ArnLike; it does in StringLike. */
		{ "{'ArnLike':{'" PA "':'arn:aws:dynamodb:*:" ACCOUNT ":table/*'}}",
		    PA "=arn:aws:dynamodb:us-east-1:999999999999:" ACCOUNT ":table/x", false },
		{ "{'StringLike':{'" PA "':'arn:aws:dynamodb:*:" ACCOUNT ":table/*'}}",
		    PA "=arn:aws:dynamodb:us-east-1:999999999999:" ACCOUNT ":table/x", true },
		{ "{'ArnLike':{'" PA "':'arn:*:dynamodb:*:*:*'}}", PA "=" TABLE("t"), true },
		{ "{'ArnLike':{'" PA "':'arn:*:dynamodb:*:*:*'}}", PA "=arn:aws:dynamodb:us-east-1:" ACCOUNT, false },
		{ "{'ArnLike':{'" PA "':'arn:*:dynamodb:*:*:*'}}", PA "=not-an-arn", false },
		/* Empty parts must stay empty. */
		{ "{'ArnLike':{'" PA "':'arn:aws:iam::" ACCOUNT ":role/*'}}",
		    PA "=arn:aws:iam::" ACCOUNT ":role/admin", true },
		{ "{'ArnLike':{'" PA "':'arn:aws:iam::" ACCOUNT ":role/*'}}",
		    PA "=arn:aws:iam:us-east-1:" ACCOUNT ":role/admin", false },
		{ "{'ArnLike':{'" PA "':'arn:aws:iam:*:" ACCOUNT ":role/*'}}",
		    PA "=arn:aws:iam::" ACCOUNT ":role/admin", true },
		/* The resource part keeps its own colons. */
		{ "{'ArnLike':{'" PA "':'arn:aws:lambda:*:*:function:*'}}",
		    PA "=arn:aws:lambda:us-east-1:" ACCOUNT ":function:f:alias", true },
		{ "{'ArnLike':{'" PA "':'arn:aws:lambda:*:*:function:f'}}",
		    PA "=arn:aws:lambda:us-east-1:" ACCOUNT ":function:f:alias", false },
		/* IAM: ArnEquals is ArnLike, wildcards included. */
		{ "{'ArnEquals':{'" PA "':'arn:aws:dynamodb:*:*:table/orders*'}}", PA "=" TABLE("orders2"), true },
		{ "{'ArnEquals':{'" PA "':'" TABLE("orders") "'}}", PA "=" TABLE("orders"), true },
		{ "{'ArnEquals':{'" PA "':'" TABLE("orders") "'}}", PA "=" TABLE("orders2"), false },
		{ "{'ArnNotLike':{'" PA "':'arn:aws:dynamodb:*:*:table/secrets*'}}", PA "=" TABLE("orders"), true },
		{ "{'ArnNotLike':{'" PA "':'arn:aws:dynamodb:*:*:table/secrets*'}}", PA "=" TABLE("secrets/x"),
		    false },
		{ "{'ArnNotLike':{'" PA "':'arn:aws:dynamodb:*:*:table/secrets*'}}", PA "=garbage", true },
		{ "{'ArnNotLike':{'" PA "':'arn:aws:dynamodb:*:*:table/secrets*'}}", "", true },
		{ "{'ArnNotEquals':{'" PA "':['" TABLE("a") "','" TABLE("b") "']}}", PA "=" TABLE("b"), false },
		{ "{'ArnNotEquals':{'" PA "':['" TABLE("a") "','" TABLE("b") "']}}", PA "=" TABLE("c"), true },
		{ "{'ArnNotEquals':{'" PA "':['" TABLE("a") "','" TABLE("b") "']}}", "", true },
		{ "{'ArnLikeIfExists':{'" PA "':'arn:aws:dynamodb:*:*:table/a'}}", "", true },
		{ "{'ArnLikeIfExists':{'" PA "':'arn:aws:dynamodb:*:*:table/a'}}", PA "=" TABLE("b"), false },
	};

	CHECK(cases);
}

/* ---- absent keys and IfExists, for every operator ---- */

struct op_sample {
	const char *op, *key, *value;
	bool negated;
};

static const struct op_sample op_samples[] = {
	{ "StringEquals", SEL, "COUNT", false },
	{ "StringNotEquals", SEL, "COUNT", true },
	{ "StringEqualsIgnoreCase", SEL, "COUNT", false },
	{ "StringNotEqualsIgnoreCase", SEL, "COUNT", true },
	{ "StringLike", SEL, "C*", false },
	{ "StringNotLike", SEL, "C*", true },
	{ "NumericEquals", NUM, "1", false },
	{ "NumericNotEquals", NUM, "1", true },
	{ "NumericLessThan", NUM, "1", false },
	{ "NumericLessThanEquals", NUM, "1", false },
	{ "NumericGreaterThan", NUM, "1", false },
	{ "NumericGreaterThanEquals", NUM, "1", false },
	{ "DateEquals", NOW, Y2026, false },
	{ "DateNotEquals", NOW, Y2026, true },
	{ "DateLessThan", NOW, Y2026, false },
	{ "DateLessThanEquals", NOW, Y2026, false },
	{ "DateGreaterThan", NOW, Y2026, false },
	{ "DateGreaterThanEquals", NOW, Y2026, false },
	{ "Bool", TLS, "true", false },
	{ "IpAddress", IP, "10.0.0.0/8", false },
	{ "NotIpAddress", IP, "10.0.0.0/8", true },
	{ "ArnEquals", PA, "arn:aws:iam::*:role/x", false },
	{ "ArnLike", PA, "arn:aws:iam::*:role/x", false },
	{ "ArnNotEquals", PA, "arn:aws:iam::*:role/x", true },
	{ "ArnNotLike", PA, "arn:aws:iam::*:role/x", true },
};

static bool
eval_text(const char *cond, const char *req_spec)
{
	struct condition_block *b = compile_ok(cond);
	struct req r;
	bool got;

	req_parse(&r, req_spec);
	got = condition_evaluate(b, lookup, &r);
	assert_int_equal(r.lookups, 1);
	req_free(&r);
	condition_free(b);
	return got;
}

static void
test_absent_and_if_exists(void **state)
{
	for (size_t i = 0; i < sizeof(op_samples) / sizeof(op_samples[0]); i++) {
		const struct op_sample *s = &op_samples[i];
		char cond[256], present_empty[64];

		/* [OPS] "Important": absent keys make positive operators false, negated ones true. */
		snprintf(cond, sizeof(cond), "{'%s':{'%s':'%s'}}", s->op, s->key, s->value);
		snprintf(present_empty, sizeof(present_empty), "%s=", s->key);
		if (eval_text(cond, "") != s->negated)
			fail_msg("%s on an absent key is not %d", s->op, s->negated);
		if (eval_text(cond, present_empty) != s->negated)
			fail_msg("%s on a key with no values is not %d", s->op, s->negated);
		/* ...IfExists: absent is true for all. */
		snprintf(cond, sizeof(cond), "{'%sIfExists':{'%s':'%s'}}", s->op, s->key, s->value);
		if (!eval_text(cond, ""))
			fail_msg("%sIfExists on an absent key is false", s->op);
		if (!eval_text(cond, present_empty))
			fail_msg("%sIfExists on a key with no values is false", s->op);
	}
}

/* A present value of each key type that the sample's positive operator matches, and one it does not. */
static void
test_if_exists_present(void **state)
{
	static const struct eval_case cases[] = {
		{ "{'StringEqualsIfExists':{'" SEL "':'COUNT'}}", SEL "=COUNT", true },
		{ "{'StringEqualsIfExists':{'" SEL "':'COUNT'}}", SEL "=ALL_ATTRIBUTES", false },
		{ "{'StringNotEqualsIfExists':{'" SEL "':'COUNT'}}", SEL "=COUNT", false },
		{ "{'StringNotEqualsIfExists':{'" SEL "':'COUNT'}}", SEL "=X", true },
		{ "{'NumericLessThanIfExists':{'" NUM "':'5'}}", NUM "=4", true },
		{ "{'NumericLessThanIfExists':{'" NUM "':'5'}}", NUM "=5", false },
		{ "{'DateLessThanIfExists':{'" NOW "':'" Y2026 "'}}", NOW "=2025-01-01", true },
		{ "{'DateLessThanIfExists':{'" NOW "':'" Y2026 "'}}", NOW "=2027-01-01", false },
		{ "{'NotIpAddressIfExists':{'" IP "':'10.0.0.0/8'}}", IP "=10.1.1.1", false },
		{ "{'ArnNotLikeIfExists':{'" PA "':'arn:aws:iam::*:role/x'}}", PA "=arn:aws:iam::1:role/x", false },
	};

	CHECK(cases);
}

/* ---- set qualifiers ---- */

#define LK "dynamodb:LeadingKeys"

static void
test_set_qualifiers(void **state)
{
	static const struct eval_case cases[] = {
		/* ForAllValues: the request set is a subset of the policy's; empty or absent is true [SETS]. */
		{ "{'ForAllValues:StringEquals':{'" LK "':['a','b']}}", "", true },
		{ "{'ForAllValues:StringEquals':{'" LK "':['a','b']}}", LK "=", true },
		{ "{'ForAllValues:StringEquals':{'" LK "':['a','b']}}", LK "=a", true },
		{ "{'ForAllValues:StringEquals':{'" LK "':['a','b']}}", LK "=a|b", true },
		{ "{'ForAllValues:StringEquals':{'" LK "':['a','b']}}", LK "=b|a|b", true },
		{ "{'ForAllValues:StringEquals':{'" LK "':['a','b']}}", LK "=a|c", false },
		{ "{'ForAllValues:StringEquals':{'" LK "':['a','b']}}", LK "=c", false },
		{ "{'ForAllValues:StringEquals':{'" LK "':['a','b']}}", LK "=<empty>", false },
		/* ForAnyValue: the sets intersect; empty or absent is false [SETS]. */
		{ "{'ForAnyValue:StringEquals':{'" LK "':['a','b']}}", "", false },
		{ "{'ForAnyValue:StringEquals':{'" LK "':['a','b']}}", LK "=", false },
		{ "{'ForAnyValue:StringEquals':{'" LK "':['a','b']}}", LK "=a", true },
		{ "{'ForAnyValue:StringEquals':{'" LK "':['a','b']}}", LK "=c|a", true },
		{ "{'ForAnyValue:StringEquals':{'" LK "':['a','b']}}", LK "=c|d", false },
		{ "{'ForAnyValue:StringEquals':{'" LK "':['a','b']}}", LK "=c", false },
		/* ForAllValues + negated: no request value is in the policy set; absent still true. */
		{ "{'ForAllValues:StringNotEquals':{'" LK "':['a','b']}}", "", true },
		{ "{'ForAllValues:StringNotEquals':{'" LK "':['a','b']}}", LK "=", true },
		{ "{'ForAllValues:StringNotEquals':{'" LK "':['a','b']}}", LK "=c", true },
		{ "{'ForAllValues:StringNotEquals':{'" LK "':['a','b']}}", LK "=c|d", true },
		{ "{'ForAllValues:StringNotEquals':{'" LK "':['a','b']}}", LK "=c|a", false },
		{ "{'ForAllValues:StringNotEquals':{'" LK "':['a','b']}}", LK "=b", false },
		/* ForAnyValue + negated: some request value is outside the policy set; absent still false. */
		{ "{'ForAnyValue:StringNotEquals':{'" LK "':['a','b']}}", "", false },
		{ "{'ForAnyValue:StringNotEquals':{'" LK "':['a','b']}}", LK "=", false },
		{ "{'ForAnyValue:StringNotEquals':{'" LK "':['a','b']}}", LK "=a", false },
		{ "{'ForAnyValue:StringNotEquals':{'" LK "':['a','b']}}", LK "=a|b", false },
		{ "{'ForAnyValue:StringNotEquals':{'" LK "':['a','b']}}", LK "=a|c", true },
		{ "{'ForAnyValue:StringNotEquals':{'" LK "':['a','b']}}", LK "=c", true },
		/* The IAM examples for ForAnyValue:StringNotLike on aws:TagKeys. */
		{ "{'ForAnyValue:StringNotLike':{'" LK "':['Owner:*','State:?\?']}}", LK "=Owner:Legal|State:NY",
		    false },
		{ "{'ForAnyValue:StringNotLike':{'" LK "':['Owner:*','State:?\?']}}", LK "=owner:Legal|Owner:Legal",
		    true },
		{ "{'ForAnyValue:StringNotLike':{'" LK "':['Owner:*','State:?\?']}}",
		    LK "=owner:Legal|State:NewYork", true },
		/* The IAM example Deny with ForAllValues:StringNotLike 'key1*'. */
		{ "{'ForAllValues:StringNotLike':{'" LK "':'key1*'}}", LK "=key1:legal", false },
		{ "{'ForAllValues:StringNotLike':{'" LK "':'key1*'}}", LK "=key1:hr|key1:personnel", false },
		{ "{'ForAllValues:StringNotLike':{'" LK "':'key1*'}}", LK "=key2:audit", true },
		{ "{'ForAllValues:StringNotLike':{'" LK "':'key1*'}}", "", true },
		{ "{'ForAllValues:StringLike':{'" LK "':'user#*'}}", LK "=user#1|user#2", true },
		{ "{'ForAllValues:StringLike':{'" LK "':'user#*'}}", LK "=user#1|admin", false },
		{ "{'ForAllValues:StringEqualsIgnoreCase':{'" LK "':['A']}}", LK "=a|A", true },
		{ "{'ForAllValues:StringEqualsIfExists':{'" LK "':['a']}}", "", true },
		{ "{'ForAllValues:StringEqualsIfExists':{'" LK "':['a']}}", LK "=a|b", false },
		/* Other families. */
		{ "{'ForAllValues:NumericLessThan':{'test:Numbers':'10'}}", "test:Numbers=1|2", true },
		{ "{'ForAllValues:NumericLessThan':{'test:Numbers':'10'}}", "test:Numbers=1|20", false },
		{ "{'ForAllValues:NumericLessThan':{'test:Numbers':'10'}}", "test:Numbers=abc", false },
		{ "{'ForAnyValue:NumericNotEquals':{'test:Numbers':['1','2']}}", "test:Numbers=1|2.0", false },
		{ "{'ForAnyValue:NumericNotEquals':{'test:Numbers':['1','2']}}", "test:Numbers=1|3", true },
		{ "{'ForAnyValue:IpAddress':{'test:Ips':'10.0.0.0/8'}}", "test:Ips=192.0.2.1|10.0.0.1", true },
		{ "{'ForAnyValue:IpAddress':{'test:Ips':'10.0.0.0/8'}}", "test:Ips=192.0.2.1", false },
		{ "{'ForAllValues:NotIpAddress':{'test:Ips':'10.0.0.0/8'}}", "test:Ips=192.0.2.1|10.0.0.1", false },
		{ "{'ForAllValues:NotIpAddress':{'test:Ips':'10.0.0.0/8'}}", "test:Ips=192.0.2.1|2001:db8::1", true },
		{ "{'ForAllValues:ArnLike':{'test:Arns':'arn:aws:dynamodb:*:*:table/orders*'}}",
		    "test:Arns=" TABLE("orders") "|" TABLE("orders/index/i"), true },
		{ "{'ForAllValues:ArnLike':{'test:Arns':'arn:aws:dynamodb:*:*:table/orders*'}}",
		    "test:Arns=" TABLE("orders") "|" TABLE("users"), false },
		{ "{'ForAnyValue:ArnNotLike':{'test:Arns':'arn:aws:dynamodb:*:*:table/orders*'}}",
		    "test:Arns=" TABLE("orders") "|" TABLE("users"), true },
		{ "{'ForAnyValue:DateGreaterThan':{'test:Dates':'" Y2026 "'}}", "test:Dates=2020-01-01|2027-01-01",
		    true },
		{ "{'ForAllValues:DateGreaterThan':{'test:Dates':'" Y2026 "'}}", "test:Dates=2020-01-01|2027-01-01",
		    false },
		{ "{'ForAllValues:Bool':{'test:Bools':'true'}}", "test:Bools=true|TRUE", true },
		{ "{'ForAllValues:Bool':{'test:Bools':'true'}}", "test:Bools=true|false", false },
		{ "{'ForAnyValue:Bool':{'test:Bools':'true'}}", "test:Bools=false|true", true },
	};

	CHECK(cases);
}

/*
 * Our definition (condition.h) for a multivalued key without a qualifier:
 * positive = any value matches; negated = the exact complement.
 */
static void
test_unqualified_multivalued(void **state)
{
	static const struct eval_case cases[] = {
		{ "{'StringEquals':{'" LK "':['a','b']}}", "", false },
		{ "{'StringEquals':{'" LK "':['a','b']}}", LK "=", false },
		{ "{'StringEquals':{'" LK "':['a','b']}}", LK "=a", true },
		{ "{'StringEquals':{'" LK "':['a','b']}}", LK "=c|a", true },
		{ "{'StringEquals':{'" LK "':['a','b']}}", LK "=c|d", false },
		{ "{'StringNotEquals':{'" LK "':['a','b']}}", "", true },
		{ "{'StringNotEquals':{'" LK "':['a','b']}}", LK "=", true },
		{ "{'StringNotEquals':{'" LK "':['a','b']}}", LK "=c|d", true },
		{ "{'StringNotEquals':{'" LK "':['a','b']}}", LK "=c|a", false },
		{ "{'StringNotEquals':{'" LK "':['a','b']}}", LK "=a", false },
		{ "{'NotIpAddress':{'test:Ips':'10.0.0.0/8'}}", "test:Ips=192.0.2.1|10.0.0.1", false },
		{ "{'NotIpAddress':{'test:Ips':'10.0.0.0/8'}}", "test:Ips=192.0.2.1|192.0.2.2", true },
		/* A lookup that returns several values for a single-valued key gets the same rule. */
		{ "{'StringEquals':{'" SEL "':'COUNT'}}", SEL "=ALL_ATTRIBUTES|COUNT", true },
		{ "{'StringNotEquals':{'" SEL "':'COUNT'}}", SEL "=ALL_ATTRIBUTES|COUNT", false },
	};

	CHECK(cases);
}

/* ---- combining ---- */

static void
test_logic(void **state)
{
	static const struct eval_case cases[] = {
		/* Operators AND. */
		{ "{'StringEquals':{'" SEL "':'COUNT'},'Bool':{'" TLS "':'true'}}", SEL "=COUNT;" TLS "=true", true },
		{ "{'StringEquals':{'" SEL "':'COUNT'},'Bool':{'" TLS "':'true'}}", SEL "=COUNT;" TLS "=false",
		    false },
		{ "{'StringEquals':{'" SEL "':'COUNT'},'Bool':{'" TLS "':'true'}}", TLS "=true", false },
		/* Keys under one operator AND. */
		{ "{'StringEquals':{'" SEL "':'COUNT','ddbguard:IdentityTag/team':'a'}}",
		    SEL "=COUNT;ddbguard:IdentityTag/team=a", true },
		{ "{'StringEquals':{'" SEL "':'COUNT','ddbguard:IdentityTag/team':'a'}}",
		    SEL "=COUNT;ddbguard:IdentityTag/team=b", false },
		/* One key under two operators. */
		{ "{'StringLike':{'" SEL "':'*_ATTRIBUTES'},'StringNotEquals':{'" SEL "':'ALL_ATTRIBUTES'}}",
		    SEL "=SPECIFIC_ATTRIBUTES", true },
		{ "{'StringLike':{'" SEL "':'*_ATTRIBUTES'},'StringNotEquals':{'" SEL "':'ALL_ATTRIBUTES'}}",
		    SEL "=ALL_ATTRIBUTES", false },
		/* A Null guard turns ForAllValues' "absent is true" off. */
		{ "{'ForAllValues:StringEquals':{'" LK "':'a'},'Null':{'" LK "':'false'}}", "", false },
		{ "{'ForAllValues:StringEquals':{'" LK "':'a'},'Null':{'" LK "':'false'}}", LK "=a", true },
		/* Nothing to check: always true. */
		{ "{}", "", true },
	};

	CHECK(cases);
}

static void
test_lookup_calls(void **state)
{
	struct condition_block *b = compile_ok("{'StringEquals':{'" SEL "':'COUNT'},'Bool':{'" TLS "':'true'}}");
	struct req r;

	/* Evaluated in policy order; the first false clause ends it. */
	req_parse(&r, SEL "=ALL_ATTRIBUTES;" TLS "=true");
	assert_false(condition_evaluate(b, lookup, &r));
	assert_int_equal(r.lookups, 1);
	assert_int_equal(r.last_id, K_SELECT);
	req_free(&r);
	req_parse(&r, SEL "=COUNT;" TLS "=true");
	assert_true(condition_evaluate(b, lookup, &r));
	assert_int_equal(r.lookups, 2);
	assert_int_equal(r.last_id, K_SECURE);
	req_free(&r);
	condition_free(b);

	/* No block: no conditions, and nothing is looked up. */
	req_parse(&r, "");
	assert_true(condition_evaluate(NULL, lookup, &r));
	assert_int_equal(r.lookups, 0);
	req_free(&r);
	condition_free(NULL);
}

/* Lookups that misbehave: NULL entries match nothing; values == NULL is absent. */
static const char *const odd_values[] = { "a", NULL };

static void
odd_lookup(void *ctx, int key_id, const char *tag, struct condition_request_values *out)
{
	const int *mode = ctx;

	out->present = true;
	out->values = *mode == 0 ? odd_values : NULL;
	out->n = 2;
}

static void
test_odd_lookups(void **state)
{
	struct condition_block *all = compile_ok("{'ForAllValues:StringEquals':{'" LK "':'a'}}");
	struct condition_block *any = compile_ok("{'ForAnyValue:StringEquals':{'" LK "':'a'}}");
	struct condition_block *none = compile_ok("{'ForAllValues:StringNotEquals':{'" LK "':'b'}}");
	int mode = 0;

	assert_false(condition_evaluate(all, odd_lookup, &mode));
	assert_true(condition_evaluate(any, odd_lookup, &mode));
	assert_true(condition_evaluate(none, odd_lookup, &mode));
	mode = 1;
	assert_true(condition_evaluate(all, odd_lookup, &mode)); /* absent */
	assert_false(condition_evaluate(any, odd_lookup, &mode));
	condition_free(all);
	condition_free(any);
	condition_free(none);
}

/* ---- large sets ---- */

#define BIG 1000

/* 1000 values on both sides: sorted policy sets keep this n log m. No timing is asserted. */
static void
test_large_sets(void **state)
{
	static char names[BIG][16], ips[BIG][24], nums[BIG][16];
	static const char *vals[BIG], *ipvals[BIG], *numvals[BIG];
	cJSON *cond = cJSON_CreateObject(), *op = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	struct condition_block *all, *any_like, *num, *ip;
	struct diag *d;
	struct req r;
	struct req_entry *e;

	for (int i = 0; i < BIG; i++) {
		snprintf(names[i], sizeof(names[i]), "user#%04d", BIG - 1 - i);
		snprintf(ips[i], sizeof(ips[i]), "10.%d.%d.1", i / 256, i % 256);
		snprintf(nums[i], sizeof(nums[i]), "%d.5", i);
		vals[i] = names[i];
		ipvals[i] = ips[i];
		numvals[i] = nums[i];
		cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
	}
	cJSON_AddItemToObject(op, LK, arr);
	cJSON_AddItemToObject(cond, "ForAllValues:StringEquals", op);
	all = compile_json(cond, &d);
	assert_non_null(all);
	diag_free(d);
	cJSON_Delete(cond);
	any_like = compile_ok("{'ForAnyValue:StringLike':{'" LK "':['admin#*','*#0999']}}");
	num = compile_ok("{'ForAllValues:NumericLessThan':{'test:Numbers':['1000','5']}}");
	ip = compile_ok("{'ForAllValues:IpAddress':{'test:Ips':['10.0.0.0/14','192.0.2.0/24']}}");

	memset(&r, 0, sizeof(r));
	e = req_add(&r, LK);
	e->values = vals;
	e->n = BIG;
	e = req_add(&r, "test:Numbers");
	e->values = numvals;
	e->n = BIG;
	e = req_add(&r, "test:Ips");
	e->values = ipvals;
	e->n = BIG;
	assert_true(condition_evaluate(all, lookup, &r));
	assert_true(condition_evaluate(any_like, lookup, &r));
	assert_true(condition_evaluate(num, lookup, &r));
	assert_true(condition_evaluate(ip, lookup, &r));

	/* One value out of set, at the end: every value is looked at. */
	vals[BIG - 1] = "user#1000";
	ipvals[BIG - 1] = "10.4.0.1";
	numvals[BIG - 1] = "1000";
	assert_false(condition_evaluate(all, lookup, &r));
	assert_false(condition_evaluate(num, lookup, &r));
	assert_false(condition_evaluate(ip, lookup, &r));
	vals[0] = "x";
	assert_false(condition_evaluate(any_like, lookup, &r)); /* user#0999 was vals[0] */

	condition_free(all);
	condition_free(any_like);
	condition_free(num);
	condition_free(ip);
}

/* ---- compile errors ---- */

#define MAX_WANT 6

struct error_case {
	const char *what;
	const char *cond;
	size_t count; /* exact number of errors */
	struct diag_want want[MAX_WANT]; /* "test.json: <path>: <text>", <text> containing needle */
};

#define K_SEL "[\"dynamodb:Select\"]"
#define K_IP "[\"aws:SourceIp\"]"
#define K_NUM "[\"test:Number\"]"
#define K_NOW "[\"aws:CurrentTime\"]"
#define K_PA "[\"aws:PrincipalArn\"]"
#define K_LK "[\"dynamodb:LeadingKeys\"]"

static const struct error_case error_cases[] = {
	{ "not an object", "[]", 1, { { C0, "expected an object of condition operators, got an array" } } },
	{ "a string", "'x'", 1, { { C0, "expected an object of condition operators, got a string" } } },
	{ "unknown operator", "{'StringEqual':{'" SEL "':'a'}}", 1,
	    { { C0 ".StringEqual", "unknown condition operator \"StringEqual\"" } } },
	{ "operator case", "{'stringequals':{'" SEL "':'a'}}", 1,
	    { { C0 ".stringequals",
	        "unknown condition operator \"stringequals\" (did you mean \"StringEquals\"?)" } } },
	{ "qualifier case", "{'forallvalues:stringequalsifexists':{'" LK "':'a'}}", 1,
	    { { C0 "[\"forallvalues:stringequalsifexists\"]",
	        "(did you mean \"ForAllValues:StringEqualsIfExists\"?)" } } },
	{ "qualifier typo", "{'ForAllValue:StringEquals':{'" LK "':'a'}}", 1,
	    { { C0 "[\"ForAllValue:StringEquals\"]", "unknown condition operator \"ForAllValue:StringEquals\"" } } },
	{ "IfExists alone", "{'IfExists':{'" SEL "':'a'}}", 1,
	    { { C0 ".IfExists", "unknown condition operator \"IfExists\"" } } },
	{ "binary", "{'BinaryEquals':{'" SEL "':'QmluYXJ5'}}", 1,
	    { { C0 ".BinaryEquals", "\"BinaryEquals\" is not supported yet" } } },
	{ "NullIfExists", "{'NullIfExists':{'" SEL "':'true'}}", 1,
	    { { C0 ".NullIfExists", "IfExists does not apply to Null" } } },
	{ "qualified Null", "{'ForAnyValue:Null':{'" LK "':'true'}}", 1,
	    { { C0 "[\"ForAnyValue:Null\"]", "set qualifiers (ForAllValues:, ForAnyValue:) do not apply to Null" } } },
	{ "ForAnyValue IfExists", "{'ForAnyValue:StringEqualsIfExists':{'" LK "':'a'}}", 1,
	    { { C0 "[\"ForAnyValue:StringEqualsIfExists\"]", "ForAnyValue: with IfExists is ambiguous in IAM" } } },
	{ "operator not an object", "{'StringEquals':'x'}", 1,
	    { { C0 ".StringEquals", "expected an object of condition keys, got a string" } } },
	{ "operator empty", "{'StringEquals':{}}", 1,
	    { { C0 ".StringEquals", "expected at least one condition key, got an empty object" } } },
	{ "unknown key", "{'StringEquals':{'aws:Nope':'a'}}", 1,
	    { { C0 ".StringEquals[\"aws:Nope\"]", "unknown condition key \"aws:Nope\"" } } },
	{ "bare tag prefix", "{'StringEquals':{'ddbguard:IdentityTag/':'a'}}", 1,
	    { { C0 ".StringEquals[\"ddbguard:IdentityTag/\"]", "unknown condition key \"ddbguard:IdentityTag/\"" } } },
	{ "bad tag key", "{'StringEquals':{'ddbguard:IdentityTag/a$b':'a'}}", 1,
	    { { C0 ".StringEquals[\"ddbguard:IdentityTag/a$b\"]",
	        "expected a tag key of 1-128 letters, digits, spaces and _.:/=+-@ after "
	        "\"ddbguard:IdentityTag/\", got \"a$b\"" } } },
	{ "policy variable in a tag key", "{'StringEquals':{'ddbguard:IdentityTag/${aws:username}':'a'}}", 1,
	    { { C0 ".StringEquals[\"ddbguard:IdentityTag/${aws:username}\"]", "expected a tag key" } } },
	{ "IpAddress on a string key", "{'IpAddress':{'" SEL "':'10.0.0.0/8'}}", 1,
	    { { C0 ".IpAddress" K_SEL,
	        "\"IpAddress\" does not apply to \"dynamodb:Select\", a string key (use String... operators)" } } },
	{ "StringEquals on an IP key", "{'StringEquals':{'" IP "':'10.0.0.1'}}", 1,
	    { { C0 ".StringEquals" K_IP,
	        "\"StringEquals\" does not apply to \"aws:SourceIp\", an IP address key (use IpAddress or "
	        "NotIpAddress)" } } },
	{ "ArnLike on a string key", "{'ArnLike':{'" SEL "':'arn:aws:s3:::b/*'}}", 1,
	    { { C0 ".ArnLike" K_SEL, "\"ArnLike\" does not apply to \"dynamodb:Select\", a string key" } } },
	{ "Numeric on a date key", "{'NumericLessThan':{'" NOW "':'5'}}", 1,
	    { { C0 ".NumericLessThan" K_NOW, "a date key (use Date... operators)" } } },
	{ "Date on a numeric key", "{'DateLessThan':{'" NUM "':'" Y2026 "'}}", 1,
	    { { C0 ".DateLessThan" K_NUM, "a numeric key (use Numeric... operators)" } } },
	{ "Bool on a string key", "{'Bool':{'" SEL "':'true'}}", 1,
	    { { C0 ".Bool" K_SEL, "\"Bool\" does not apply" } } },
	{ "qualifier on a single-valued key", "{'ForAllValues:StringEquals':{'" SEL "':'COUNT'}}", 1,
	    { { C0 "[\"ForAllValues:StringEquals\"]" K_SEL,
	        "\"ForAllValues:\" applies to multivalued keys and \"dynamodb:Select\" is single-valued" } } },
	{ "ForAnyValue on a single-valued key", "{'ForAnyValue:IpAddress':{'" IP "':'10.0.0.0/8'}}", 1,
	    { { C0 "[\"ForAnyValue:IpAddress\"]" K_IP, "\"ForAnyValue:\" applies to multivalued keys" } } },
	{ "not a number", "{'NumericEquals':{'" NUM "':'abc'}}", 1,
	    { { C0 ".NumericEquals" K_NUM, "expected a decimal number (\"10\", \"-2.5\"), got \"abc\"" } } },
	{ "bad numbers", "{'NumericEquals':{'" NUM "':['1','1e3',' 2','+3','.5','5.']}}", 5,
	    { { C0 ".NumericEquals" K_NUM "[1]", "got \"1e3\"" },
	        { C0 ".NumericEquals" K_NUM "[2]", "got \" 2\"" },
	        { C0 ".NumericEquals" K_NUM "[3]", "got \"+3\"" },
	        { C0 ".NumericEquals" K_NUM "[4]", "got \".5\"" },
	        { C0 ".NumericEquals" K_NUM "[5]", "got \"5.\"" } } },
	{ "number with exponent", "{'NumericLessThan':{'" NUM "':1e300}}", 1,
	    { { C0 ".NumericLessThan" K_NUM, "a JSON number this large or this precise is not read exactly" } } },
	{ "number as bool", "{'NumericLessThan':{'" NUM "':true}}", 1,
	    { { C0 ".NumericLessThan" K_NUM, "expected a string or a number, got a boolean" } } },
	{ "bad ip", "{'IpAddress':{'" IP "':'300.1.1.1/8'}}", 1,
	    { { C0 ".IpAddress" K_IP,
	        "expected an IPv4 or IPv6 address or CIDR block (\"203.0.113.0/24\", \"2001:db8::/32\"), got "
	        "\"300.1.1.1/8\"" } } },
	{ "bad cidrs",
	    "{'NotIpAddress':{'" IP "':['10.0.0.0/33','2001:db8::/129','10.0.0.0/08','10.0.0.0/','fe80::1%eth0',"
	    "'::ffff:10.0.0.0/95']}}",
	    6,
	    { { C0 ".NotIpAddress" K_IP "[0]", "got \"10.0.0.0/33\"" },
	        { C0 ".NotIpAddress" K_IP "[1]", "got \"2001:db8::/129\"" },
	        { C0 ".NotIpAddress" K_IP "[2]", "got \"10.0.0.0/08\"" },
	        { C0 ".NotIpAddress" K_IP "[3]", "got \"10.0.0.0/\"" },
	        { C0 ".NotIpAddress" K_IP "[4]", "got \"fe80::1%eth0\"" },
	        { C0 ".NotIpAddress" K_IP "[5]", "got \"::ffff:10.0.0.0/95\"" } } },
	{ "more bad ips", "{'IpAddress':{'" IP "':['10.0.0','10.0.0.01','','10.0.0.0/8/8',' 10.0.0.1']}}", 5,
	    { { C0 ".IpAddress" K_IP "[0]", "got \"10.0.0\"" },
	        { C0 ".IpAddress" K_IP "[1]", "got \"10.0.0.01\"" },
	        { C0 ".IpAddress" K_IP "[2]", "got \"\"" },
	        { C0 ".IpAddress" K_IP "[3]", "got \"10.0.0.0/8/8\"" },
	        { C0 ".IpAddress" K_IP "[4]", "got \" 10.0.0.1\"" } } },
	{ "bad dates",
	    "{'DateLessThan':{'" NOW "':['tomorrow','2026-02-30T00:00:00Z','2026-01-01T24:00:00Z',"
	    "'2026-01-01T10:00:00','2026','20260101']}}",
	    6,
	    { { C0 ".DateLessThan" K_NOW "[0]",
	        "expected an ISO 8601 date (\"2026-01-01T00:00:00Z\") or epoch seconds (9+ digits), got "
	        "\"tomorrow\"" },
	        { C0 ".DateLessThan" K_NOW "[1]", "got \"2026-02-30T00:00:00Z\"" },
	        { C0 ".DateLessThan" K_NOW "[2]", "got \"2026-01-01T24:00:00Z\"" },
	        { C0 ".DateLessThan" K_NOW "[3]", "got \"2026-01-01T10:00:00\"" },
	        { C0 ".DateLessThan" K_NOW "[4]", "got \"2026\"" },
	        { C0 ".DateLessThan" K_NOW "[5]", "got \"20260101\"" } } },
	{ "more bad dates",
	    "{'DateEquals':{'" NOW "':['2025-02-29','2026-13-01','2026-1-01','2026-01-01T10:00:60Z',"
	    "'2026-01-01T10:00:00+2:00','2026-01-01T10:00:00.Z']}}",
	    6, { { C0 ".DateEquals" K_NOW "[0]", "got \"2025-02-29\"" } } },
	{ "date too late", "{'DateEquals':{'" NOW "':'9999-12-31T23:59:59-01:00'}}", 1,
	    { { C0 ".DateEquals" K_NOW, "got \"9999-12-31T23:59:59-01:00\"" } } },
	{ "date epoch number with fraction", "{'DateEquals':{'" NOW "':1767225600.5}}", 1,
	    { { C0 ".DateEquals" K_NOW, "got \"1767225600.5\"" } } },
	{ "bad bool", "{'Bool':{'" TLS "':'yes'}}", 1,
	    { { C0 ".Bool[\"aws:SecureTransport\"]", "expected \"true\" or \"false\", got \"yes\"" } } },
	{ "bool as number", "{'Bool':{'" TLS "':1}}", 1,
	    { { C0 ".Bool[\"aws:SecureTransport\"]", "expected \"true\" or \"false\", got a number" } } },
	{ "bad null", "{'Null':{'" TLS "':'maybe'}}", 1,
	    { { C0 ".Null[\"aws:SecureTransport\"]", "expected \"true\" or \"false\", got \"maybe\"" } } },
	{ "bad arns",
	    "{'ArnLike':{'" PA "':['arn:aws:dynamodb:table/x','*','arn:aws:dynamodb:*:*:','ARN:aws:iam::1:x',"
	    "'arn:aws:iam::1']}}",
	    5,
	    { { C0 ".ArnLike" K_PA "[0]",
	        "expected an ARN pattern of six colon-separated parts (\"arn:aws:dynamodb:*:*:table/orders*\"), "
	        "got \"arn:aws:dynamodb:table/x\"" },
	        { C0 ".ArnLike" K_PA "[1]", "got \"*\"" },
	        { C0 ".ArnLike" K_PA "[2]", "got \"arn:aws:dynamodb:*:*:\"" },
	        { C0 ".ArnLike" K_PA "[3]", "got \"ARN:aws:iam::1:x\"" },
	        { C0 ".ArnLike" K_PA "[4]", "got \"arn:aws:iam::1\"" } } },
	{ "policy variable", "{'StringEquals':{'" SEL "':'${aws:username}'}}", 1,
	    { { C0 ".StringEquals" K_SEL,
	        "policy variables (\"${...}\") are not supported yet, got \"${aws:username}\"" } } },
	{ "policy variable in an arn", "{'ArnLike':{'" PA "':['arn:aws:iam::*:user/${aws:username}']}}", 1,
	    { { C0 ".ArnLike" K_PA "[0]", "policy variables (\"${...}\") are not supported yet" } } },
	{ "empty value list", "{'StringEquals':{'" SEL "':[]}}", 1,
	    { { C0 ".StringEquals" K_SEL, "expected at least one value, got an empty array" } } },
	{ "value object", "{'StringEquals':{'" SEL "':{}}}", 1,
	    { { C0 ".StringEquals" K_SEL, "expected a value or an array of values, got an object" } } },
	{ "value null", "{'StringEquals':{'" SEL "':null}}", 1,
	    { { C0 ".StringEquals" K_SEL, "expected a value or an array of values, got null" } } },
	{ "non-string entries", "{'StringEquals':{'" SEL "':['a',1,null,true,['b']]}}", 4,
	    { { C0 ".StringEquals" K_SEL "[1]", "expected a string, got a number" },
	        { C0 ".StringEquals" K_SEL "[2]", "expected a string, got null" },
	        { C0 ".StringEquals" K_SEL "[3]", "expected a string, got a boolean" },
	        { C0 ".StringEquals" K_SEL "[4]", "expected a string, got an array" } } },
	{ "duplicate key, other case", "{'StringEquals':{'" SEL "':'A','DYNAMODB:SELECT':'B'}}", 1,
	    { { C0 ".StringEquals[\"DYNAMODB:SELECT\"]",
	        "duplicate condition key \"DYNAMODB:SELECT\" (key names are case-insensitive)" } } },
	{ "duplicate operator", "{'Bool':{'" TLS "':'true'},'Null':{'" TLS "':'false'},'Bool':{'" TLS "':'false'}}",
	    1, { { C0 ".Bool", "duplicate condition operator \"Bool\"" } } },
	{ "values checked under an unknown key", "{'NumericEquals':{'aws:Nope':'x'}}", 2,
	    { { C0 ".NumericEquals[\"aws:Nope\"]", "unknown condition key" },
	        { C0 ".NumericEquals[\"aws:Nope\"]", "expected a decimal number" } } },
	{ "all errors reported",
	    "{'StringEquals':{'aws:Nope':'a','" SEL "':[]},'Nope':{},'IpAddress':{'" IP "':['1.2.3.4','x']},"
	    "'ForAllValues:Bool':{'" TLS "':'true'}}",
	    5,
	    { { C0 ".StringEquals[\"aws:Nope\"]", "unknown condition key" },
	        { C0 ".StringEquals" K_SEL, "expected at least one value" },
	        { C0 ".Nope", "unknown condition operator" },
	        { C0 ".IpAddress" K_IP "[1]", "got \"x\"" },
	        { C0 "[\"ForAllValues:Bool\"][\"aws:SecureTransport\"]", "is single-valued" } } },
};

static void
check_error_case(const struct error_case *c)
{
	struct diag *d;
	struct condition_block *b = compile(c->cond, &d);

	diag_expect(c->what, d, b != NULL, c->count, c->want, MAX_WANT);
	diag_free(d);
}

static void
test_compile_errors(void **state)
{
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
		check_error_case(&error_cases[i]);
}

static void
test_compile_limits(void **state)
{
	cJSON *cond = cJSON_CreateObject(), *op = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	struct diag *d;
	char name[32];

	/* More values for one key than COND_MAX_VALUES (4096). */
	for (int i = 0; i < 4097; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString("x"));
	cJSON_AddItemToObject(op, SEL, arr);
	cJSON_AddItemToObject(cond, "StringEquals", op);
	assert_null(compile_json(cond, &d));
	assert_int_equal(diag_count(d), 1);
	assert_string_equal(diag_message(d, 0),
	    "test.json: " C0 ".StringEquals" K_SEL ": too many values (4097, at most 4096)");
	diag_free(d);
	cJSON_Delete(cond);

	/* More (operator, key) pairs than COND_MAX_CLAUSES (256). */
	cond = cJSON_CreateObject();
	op = cJSON_CreateObject();
	for (int i = 0; i < 257; i++) {
		snprintf(name, sizeof(name), "ddbguard:IdentityTag/t%d", i);
		cJSON_AddItemToObject(op, name, cJSON_CreateString("v"));
	}
	cJSON_AddItemToObject(cond, "StringEquals", op);
	assert_null(compile_json(cond, &d));
	assert_int_equal(diag_count(d), 1);
	assert_string_equal(diag_message(d, 0), "test.json: " C0 ": too many condition keys (257, at most 256)");
	diag_free(d);
	cJSON_Delete(cond);
}

/* A block owns copies: the JSON and the key table may go away before evaluation. */
static void
test_ownership(void **state)
{
	struct condition_key_def *copy = malloc(sizeof(keys));
	cJSON *js = json_of("{'ArnLike':{'" PA "':'arn:aws:dynamodb:*:*:table/o*'},"
			    "'StringEquals':{'ddbguard:IdentityTag/team':'a'},'NumericLessThan':{'" NUM "':'5'}}");
	struct diag *d = diag_new("test.json");
	struct diag_path path;
	struct condition_block *b;
	struct req r;

	assert_non_null(copy);
	memcpy(copy, keys, sizeof(keys));
	path_init(&path);
	b = condition_compile(js, copy, NKEYS, d, &path);
	assert_non_null(b);
	cJSON_Delete(js);
	memset(copy, 0, sizeof(keys));
	free(copy);
	req_parse(&r, PA "=" TABLE("orders") ";ddbguard:IdentityTag/team=a;" NUM "=4");
	assert_true(condition_evaluate(b, lookup, &r));
	req_free(&r);
	condition_free(b);
	diag_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_numeric),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_bool_null),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_arn),
		cmocka_unit_test(test_absent_and_if_exists),
		cmocka_unit_test(test_if_exists_present),
		cmocka_unit_test(test_set_qualifiers),
		cmocka_unit_test(test_unqualified_multivalued),
		cmocka_unit_test(test_logic),
		cmocka_unit_test(test_lookup_calls),
		cmocka_unit_test(test_odd_lookups),
		cmocka_unit_test(test_large_sets),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_compile_limits),
		cmocka_unit_test(test_ownership),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
