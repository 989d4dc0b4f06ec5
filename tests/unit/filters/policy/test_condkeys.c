/*
 * Tests filters/policy/condkeys.c: the registry, and each key's values from
 * realistic request bodies, absent members and members of the wrong type.
 *
 * Bodies use ' for " to stay readable; json_of() swaps them back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

#include "config/config.h"
#include "filters/base/diag.h"
#include "filters/dynamodb/catalog.h"
#include "filters/policy/condkeys.h"
#include "filters/policy/geoip.h"
#include "filters/dynamodb/json.h"
#include "filters/policy/identity.h"
#include "filters/dynamodb/inspect.h"
#include "filters/dynamodb/partiql.h"
#include "filters/policy/policy.h"

/*
 * A stand-in for filters/policy/geoip.c (the real one needs MaxMind files): the
 * static core library's geoip.o is not linked when this definition exists.
 */
struct geoip {
	int lookups;
};

void
geoip_lookup(struct geoip *g, const char *ip, char country[3], char asn[11])
{
	g->lookups++;
	country[0] = asn[0] = '\0';
	if (strcmp(ip, "192.0.2.7") == 0) {
		strcpy(country, "DE");
		strcpy(asn, "64512");
	}
}

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

/* One call's context, with a parsed body kept for the test's duration. */
struct call {
	struct condkeys_request cr;
	struct inspect_result ir;
	cJSON *body;
};

static const struct timespec test_now = {.tv_sec = 1767225600, .tv_nsec = 999999999}; /* 2026-01-01 */

/* The identity "app" every call is made as, and the table schemas (set up once in main()). */
static struct policy_set *test_policies;
static struct identity_set *test_identities;
static const struct identity *test_app;
static struct geoip test_geoip;
static struct table_schema test_tables[] = {
    {"users", "pk"},
    {"orders", "customer"},
};
static struct condkeys_env test_env = {test_tables, 2, &test_geoip};

static void
identities_setup(void)
{
	cJSON *pol = json_of("{'read':{'Statement':[{'Effect':'Allow','Action':'dynamodb:GetItem','Resource':'*'}]}}");
	cJSON *ids = json_of("[{'name':'app','access_key_ids':['AKIAAAAAAAAAAAAAAAA1'],'policies':['read'],"
	                     "'tags':{'Team':'orders','cost-center':'42'}}]");
	struct diag *d = diag_new("test.json");
	struct diag_path path;
	struct identity_facts f = {.access_key_id = "AKIAAAAAAAAAAAAAAAA1"};

	diag_path_init(&path);
	test_policies = policy_set_compile(pol, d, &path);
	assert_non_null(test_policies);
	test_identities = identity_set_compile(ids, test_policies, d, &path);
	assert_non_null(test_identities);
	test_app = identity_set_match(test_identities, &f, NULL);
	assert_non_null(test_app);
	cJSON_Delete(pol);
	cJSON_Delete(ids);
	diag_free(d);
}

static void
call_init(struct call *c, const char *action, const char *body)
{
	char iam[96];
	const struct catalog_action *a;

	snprintf(iam, sizeof(iam), "dynamodb:%s", action);
	a = catalog_find_iam(iam);
	if (a == NULL)
		fail_msg("no catalog action %s", action);
	memset(&c->ir, 0, sizeof(c->ir));
	c->body = body != NULL ? json_of(body) : NULL;
	condkeys_request_init(&c->cr, a, c->body, &c->ir, "192.0.2.7", true, &test_now, test_app, &test_env);
}

static void
call_free(struct call *c)
{
	cJSON_Delete(c->body);
}

static struct condition_request_values
get(struct call *c, int key)
{
	struct condition_request_values out = {0};

	condkeys_lookup(&c->cr, key, NULL, &out);
	return out;
}

static void
expect_absent(struct call *c, int key)
{
	struct condition_request_values v = get(c, key);

	if (v.present && v.n > 0)
		fail_msg("key %d: present with %zu values, want absent", key, v.n);
}

/* Present with exactly `want` (NULL-terminated; a "(null)" entry stands for a NULL value). */
static void
expect_values(struct call *c, int key, const char *const *want)
{
	struct condition_request_values v = get(c, key);
	size_t n = 0;

	while (want[n] != NULL)
		n++;
	if (!v.present)
		fail_msg("key %d: absent, want %zu values", key, n);
	assert_int_equal(v.n, n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(want[i], "(null)") == 0)
			assert_null(v.values[i]);
		else if (v.values[i] == NULL || strcmp(v.values[i], want[i]) != 0)
			fail_msg("key %d value %zu: got %s, want %s", key, i, v.values[i] ? v.values[i] : "NULL",
			         want[i]);
	}
}

static void
expect_one(struct call *c, int key, const char *want)
{
	const char *const w[] = {want != NULL ? want : "(null)", NULL};

	expect_values(c, key, w);
}

/* Checks one key of one action on one body, in a fresh context. */
static void
check(const char *action, const char *body, int key, const char *want)
{
	struct call c;

	call_init(&c, action, body);
	if (want == NULL)
		expect_absent(&c, key);
	else if (strcmp(want, "(null)") == 0)
		expect_one(&c, key, NULL);
	else
		expect_one(&c, key, want);
	call_free(&c);
}

#define ABSENT  NULL
#define NOVALUE "(null)" /* present, matching nothing (wrong JSON type) */

static void
test_registry(void **state)
{
	size_t n;
	const struct condition_key_def *defs = condkeys_registry(&n);

	assert_int_equal(n, CONDKEY__COUNT);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(defs[i].id, (int)i); /* condkeys.c indexes the table by id */
		assert_non_null(strchr(defs[i].name, ':'));
		for (size_t j = 0; j < i; j++)
			assert_true(strcasecmp(defs[i].name, defs[j].name) != 0);
	}
}

static void
test_context_keys(void **state)
{
	struct call c;

	call_init(&c, "GetItem", "{'TableName':'orders'}");
	expect_one(&c, CONDKEY_SOURCE_IP, "192.0.2.7");
	expect_one(&c, CONDKEY_SECURE_TRANSPORT, "true");
	expect_one(&c, CONDKEY_CURRENT_TIME, "2026-01-01T00:00:00Z");
	expect_one(&c, CONDKEY_EPOCH_TIME, "1767225600");
	expect_one(&c, CONDKEY_IDENTITY, "app");
	/* Asked again: the same answer from the per-call cache. */
	expect_one(&c, CONDKEY_SOURCE_IP, "192.0.2.7");
	/* Unknown ids are absent, never a crash. */
	expect_absent(&c, -1);
	expect_absent(&c, CONDKEY__COUNT);
	call_free(&c);

	memset(&c, 0, sizeof(c));
	condkeys_request_init(&c.cr, catalog_find_iam("dynamodb:ListTables"), NULL, NULL, NULL, false, &test_now, NULL,
	                      NULL);
	expect_absent(&c, CONDKEY_SOURCE_IP);
	expect_absent(&c, CONDKEY_IDENTITY);
	expect_one(&c, CONDKEY_SECURE_TRANSPORT, "false");
	expect_absent(&c, CONDKEY_SELECT);
	expect_absent(&c, CONDKEY_PARTIQL_VERB);
	expect_absent(&c, CONDKEY_FULL_TABLE_SCAN);
	expect_absent(&c, CONDKEY_REPLICA_REGIONS);
}

/* Compiles `cond` against the registry and evaluates it for `c`; -1 if it does not compile. */
static int
eval_condition(struct call *c, const char *cond)
{
	cJSON *js = json_of(cond);
	struct diag *d = diag_new("test.json");
	struct diag_path path;
	size_t nkeys;
	const struct condition_key_def *keys = condkeys_registry(&nkeys);
	struct condition_block *b;
	int r = -1;

	diag_path_init(&path);
	b = condition_compile(js, keys, nkeys, d, &path);
	if (b != NULL)
		r = condition_evaluate(b, condkeys_lookup, &c->cr) ? 1 : 0;
	condition_free(b);
	diag_free(d);
	cJSON_Delete(js);
	return r;
}

/* IAM types aws:EpochTime Date and Numeric; an ASN is a number: Numeric* operators apply to both. */
static void
test_numeric_operators(void **state)
{
	struct call c;

	call_init(&c, "GetItem", "{'TableName':'orders'}"); /* now 1767225600, from 192.0.2.7 (AS64512, DE) */
	assert_int_equal(eval_condition(&c, "{'NumericLessThan':{'aws:EpochTime':'1767225601'}}"), 1);
	assert_int_equal(eval_condition(&c, "{'NumericGreaterThanEquals':{'aws:EpochTime':1767225600}}"), 1);
	assert_int_equal(eval_condition(&c, "{'NumericGreaterThan':{'aws:EpochTime':1767225600}}"), 0);
	assert_int_equal(eval_condition(&c, "{'NumericEquals':{'aws:EpochTime':['1','1767225600']}}"), 1);
	assert_int_equal(eval_condition(&c, "{'NumericNotEquals':{'aws:EpochTime':'1767225600'}}"), 0);
	assert_int_equal(eval_condition(&c, "{'NumericLessThanIfExists':{'aws:epochtime':'100'}}"), 0);
	/* Date operators still apply to it. */
	assert_int_equal(eval_condition(&c, "{'DateLessThan':{'aws:EpochTime':'2026-01-01T00:00:01Z'}}"), 1);
	assert_int_equal(eval_condition(&c, "{'DateGreaterThan':{'aws:EpochTime':'2026-01-01T00:00:01Z'}}"), 0);
	/* A private-ASN range, and the ASN as text. */
	assert_int_equal(eval_condition(&c, "{'NumericGreaterThanEquals':{'ddbguard:SourceASN':'64512'},"
					    "'NumericLessThanEquals':{'ddbguard:SourceASN':65534}}"), 1);
	assert_int_equal(eval_condition(&c, "{'NumericLessThan':{'ddbguard:SourceASN':'64512'}}"), 0);
	assert_int_equal(eval_condition(&c, "{'StringEquals':{'ddbguard:SourceASN':'64512'}}"), 1);
	/* Keys IAM types Date or String only still refuse Numeric*, and the ASN is no date. */
	assert_int_equal(eval_condition(&c, "{'NumericEquals':{'aws:CurrentTime':'1767225600'}}"), -1);
	assert_int_equal(eval_condition(&c, "{'NumericEquals':{'ddbguard:SourceCountry':'1'}}"), -1);
	assert_int_equal(eval_condition(&c, "{'DateEquals':{'ddbguard:SourceASN':'64512'}}"), -1);
	assert_int_equal(eval_condition(&c, "{'StringEquals':{'aws:EpochTime':'1767225600'}}"), -1);
	call_free(&c);

	/* No GeoIP answer: the ASN is absent, so a positive Numeric operator is false and a negated one true. */
	memset(&c, 0, sizeof(c));
	condkeys_request_init(&c.cr, catalog_find_iam("dynamodb:ListTables"), NULL, NULL, "198.51.100.1", false,
			      &test_now, NULL, &test_env);
	assert_int_equal(eval_condition(&c, "{'NumericGreaterThan':{'ddbguard:SourceASN':'0'}}"), 0);
	assert_int_equal(eval_condition(&c, "{'NumericNotEquals':{'ddbguard:SourceASN':'64512'}}"), 1);
}

static void
test_request_parameters(void **state)
{
	check("Query", "{'TableName':'t','Select':'ALL_ATTRIBUTES','ReturnConsumedCapacity':'TOTAL'}", CONDKEY_SELECT,
	      "ALL_ATTRIBUTES");
	check("Query", "{'TableName':'t','Select':'ALL_ATTRIBUTES','ReturnConsumedCapacity':'TOTAL'}",
	      CONDKEY_RETURN_CONSUMED_CAPACITY, "TOTAL");
	check("Scan", "{'TableName':'t'}", CONDKEY_SELECT, ABSENT);
	check("Scan", "{'TableName':'t','Select':1}", CONDKEY_SELECT, NOVALUE);
	check("PutItem", "{'TableName':'t','Item':{},'ReturnValues':'ALL_OLD'}", CONDKEY_RETURN_VALUES, "ALL_OLD");
	check("UpdateItem", "{'TableName':'t','Key':{}}", CONDKEY_RETURN_VALUES, ABSENT);
	check("DeleteItem", "{'TableName':'t','Key':{},'ReturnValues':null}", CONDKEY_RETURN_VALUES, NOVALUE);
	/* Member names are case-sensitive, as DynamoDB reads them. */
	check("Query", "{'TableName':'t','select':'COUNT'}", CONDKEY_SELECT, ABSENT);
}

static void
test_full_table_scan(void **state)
{
	static const struct {
		const char *body;
		const char *want; /* "true", "false" */
	} partiql[] = {
		/* "users" has partition key pk (test_tables): exact. */
		{ "{'Statement':'SELECT * FROM users'}", "true" },
		{ "{'Statement':'SELECT * FROM users WHERE pk = ?'}", "false" },
		{ "{'Statement':'SELECT * FROM \\\"users\\\" WHERE \\\"pk\\\" IN [1, 2]'}", "false" },
		{ "{'Statement':'SELECT * FROM users WHERE Address = ?'}", "true" }, /* not the key: a scan */
		{ "{'Statement':'SELECT * FROM users WHERE pk = 1 OR pk = 2'}", "true" },
		{ "{'Statement':'SELECT * FROM users WHERE NOT pk = 1'}", "true" },
		{ "{'Statement':'SELECT * FROM users WHERE pk > 1'}", "true" },
		{ "{'Statement':'SELECT * FROM users WHERE a = 1 AND pk = 2'}", "false" },
		/* No schema configured for the table (or an index): every SELECT counts as a scan. */
		{ "{'Statement':'SELECT * FROM other WHERE pk = 1'}", "true" },
		{ "{'Statement':'SELECT * FROM \\\"users\\\".\\\"byAddress\\\" WHERE pk = 1'}", "true" },
		/* Any scanning statement of a batch makes the call one. */
		{ "{'Statements':[{'Statement':'SELECT * FROM users WHERE pk = 1'},{'Statement':'SELECT * FROM users'}]}",
		    "true" },
		{ "{'Statements':[{'Statement':'SELECT * FROM users WHERE pk = 1'},{'Statement':'DELETE FROM users WHERE pk = 2'}]}",
		    "false" },
	};
	struct call c;

	check("Scan", "{'TableName':'t'}", CONDKEY_FULL_TABLE_SCAN, "true");
	check("Query", "{'TableName':'t'}", CONDKEY_FULL_TABLE_SCAN, ABSENT);

	for (size_t i = 0; i < sizeof(partiql) / sizeof(partiql[0]); i++) {
		call_init(&c, strstr(partiql[i].body, "Statements") ? "BatchExecuteStatement" : "ExecuteStatement",
		    partiql[i].body);
		c.ir.partiql_verbs = 1u << PARTIQL_SELECT;
		expect_one(&c, CONDKEY_FULL_TABLE_SCAN, partiql[i].want);
		call_free(&c);
	}

	call_init(&c, "ExecuteStatement", "{'Statement':'SELECT * FROM users'}");
	c.ir.partiql_verbs = 1u << PARTIQL_SELECT;
	expect_one(&c, CONDKEY_PARTIQL_VERB, "SELECT");
	call_free(&c);

	/* IAM sets the key for PartiQL SELECT only. */
	call_init(&c, "ExecuteStatement", "{'Statement':'DELETE FROM users WHERE pk = 1'}");
	c.ir.partiql_verbs = 1u << PARTIQL_DELETE;
	expect_absent(&c, CONDKEY_FULL_TABLE_SCAN);
	expect_one(&c, CONDKEY_PARTIQL_VERB, "DELETE");
	call_free(&c);
}

static void
test_partiql_verbs(void **state)
{
	static const char *const all[] = {"SELECT", "INSERT", "UPDATE", "DELETE", NULL};
	static const char *const two[] = {"INSERT", "DELETE", NULL};
	struct call c;

	call_init(&c, "BatchExecuteStatement", "{'Statements':[]}");
	c.ir.partiql_verbs =
	    (1u << PARTIQL_SELECT) | (1u << PARTIQL_INSERT) | (1u << PARTIQL_UPDATE) | (1u << PARTIQL_DELETE);
	expect_values(&c, CONDKEY_PARTIQL_VERB, all);
	call_free(&c);
	call_init(&c, "ExecuteTransaction", "{'TransactStatements':[]}");
	c.ir.partiql_verbs = (1u << PARTIQL_DELETE) | (1u << PARTIQL_INSERT);
	expect_values(&c, CONDKEY_PARTIQL_VERB, two);
	call_free(&c);
	check("GetItem", "{'TableName':'t'}", CONDKEY_PARTIQL_VERB, ABSENT);
}

static void
test_s3(void **state)
{
	static const char export[] = "{'TableArn':'arn:aws:dynamodb:us-east-1:123456789012:table/orders',"
	                             "'S3Bucket':'exports','S3BucketOwner':'123456789012','S3Prefix':'orders/',"
	                             "'S3SseAlgorithm':'KMS','S3SseKmsKeyId':'k','ExportFormat':'DYNAMODB_JSON'}";
	static const char import[] =
	    "{'S3BucketSource':{'S3Bucket':'imports','S3BucketOwner':'210987654321',"
	    "'S3KeyPrefix':'in/'},'InputFormat':'CSV','TableCreationParameters':{"
	    "'TableName':'t','KeySchema':[],'AttributeDefinitions':[],'BillingMode':'PAY_PER_REQUEST',"
	    "'SSESpecification':{'Enabled':true,'SSEType':'KMS','KMSMasterKeyId':'alias/t'}}}";

	check("ExportTableToPointInTime", export, CONDKEY_S3_BUCKET, "exports");
	check("ExportTableToPointInTime", export, CONDKEY_S3_BUCKET_OWNER, "123456789012");
	check("ExportTableToPointInTime", export, CONDKEY_S3_PREFIX, "orders/");
	check("ExportTableToPointInTime", export, CONDKEY_S3_SSE_ALGORITHM, "KMS");
	check("ExportTableToPointInTime", "{'S3Bucket':'b'}", CONDKEY_S3_PREFIX, ABSENT);
	check("ExportTableToPointInTime", "{'S3Bucket':['b']}", CONDKEY_S3_BUCKET, NOVALUE);
	check("ImportTable", import, CONDKEY_S3_BUCKET, "imports");
	check("ImportTable", import, CONDKEY_S3_BUCKET_OWNER, "210987654321");
	check("ImportTable", import, CONDKEY_S3_PREFIX, "in/");
	check("ImportTable", import, CONDKEY_S3_SSE_ALGORITHM, ABSENT);
	check("ImportTable", import, CONDKEY_SSE_ENABLED, "true");
	check("ImportTable", import, CONDKEY_SSE_TYPE, "KMS");
	check("ImportTable", import, CONDKEY_KMS_MASTER_KEY_ID, "alias/t");
	check("ImportTable", "{'InputFormat':'CSV'}", CONDKEY_S3_BUCKET, ABSENT);
	/* An enclosing member of the wrong type: present, matching nothing. */
	check("ImportTable", "{'S3BucketSource':'imports'}", CONDKEY_S3_BUCKET, NOVALUE);
	check("ImportTable", "{'TableCreationParameters':{'SSESpecification':[]}}", CONDKEY_SSE_TYPE, NOVALUE);
	/* Only the export and import calls have these keys. */
	check("PutItem", "{'TableName':'t','S3Bucket':'exports'}", CONDKEY_S3_BUCKET, ABSENT);
}

static void
test_sse(void **state)
{
	static const char *const spec[] = {"CreateTable", "UpdateTable"};
	static const char *const override[] = {"RestoreTableFromBackup", "RestoreTableToPointInTime"};

	for (size_t i = 0; i < 2; i++) {
		check(spec[i],
		      "{'TableName':'t','SSESpecification':{'Enabled':true,'SSEType':'KMS','KMSMasterKeyId':'arn:aws:"
		      "kms:us-east-1:123456789012:key/k'}}",
		      CONDKEY_KMS_MASTER_KEY_ID, "arn:aws:kms:us-east-1:123456789012:key/k");
		check(spec[i], "{'TableName':'t','SSESpecification':{'Enabled':false}}", CONDKEY_SSE_ENABLED, "false");
		check(spec[i], "{'TableName':'t','SSESpecification':{'Enabled':'false'}}", CONDKEY_SSE_ENABLED,
		      NOVALUE);
		check(spec[i], "{'TableName':'t','SSESpecification':{'SSEType':'AES256'}}", CONDKEY_SSE_TYPE, "AES256");
		check(spec[i], "{'TableName':'t','SSESpecification':{'SSEType':'AES256'}}", CONDKEY_SSE_ENABLED,
		      ABSENT);
		check(spec[i], "{'TableName':'t'}", CONDKEY_SSE_TYPE, ABSENT);
		check(spec[i], "{'TableName':'t','SSESpecificationOverride':{'SSEType':'KMS'}}", CONDKEY_SSE_TYPE,
		      ABSENT);
		check(spec[i], "{'TableName':'t','DeletionProtectionEnabled':false}",
		      CONDKEY_DELETION_PROTECTION_ENABLED, "false");
		check(spec[i], "{'TableName':'t','DeletionProtectionEnabled':0}", CONDKEY_DELETION_PROTECTION_ENABLED,
		      NOVALUE);
		check(spec[i], "{'TableName':'t'}", CONDKEY_DELETION_PROTECTION_ENABLED, ABSENT);
		check(override[i],
		      "{'TargetTableName':'t','SSESpecificationOverride':{'Enabled':true,'SSEType':'KMS'}}",
		      CONDKEY_SSE_TYPE, "KMS");
		check(override[i], "{'TargetTableName':'t','SSESpecificationOverride':{'Enabled':true}}",
		      CONDKEY_SSE_ENABLED, "true");
		check(override[i], "{'TargetTableName':'t','SSESpecification':{'SSEType':'KMS'}}", CONDKEY_SSE_TYPE,
		      ABSENT);
	}
	check("RestoreTableToPointInTime", "{'TargetTableName':'t','DeletionProtectionEnabled':true}",
	      CONDKEY_DELETION_PROTECTION_ENABLED, ABSENT);
}

static void
test_pitr(void **state)
{
	check("UpdateContinuousBackups",
	      "{'TableName':'t','PointInTimeRecoverySpecification':{'PointInTimeRecoveryEnabled':false}}",
	      CONDKEY_PITR_ENABLED, "false");
	check("UpdateContinuousBackups",
	      "{'TableName':'t','PointInTimeRecoverySpecification':{'PointInTimeRecoveryEnabled':true,'"
	      "RecoveryPeriodInDays':7}}",
	      CONDKEY_PITR_ENABLED, "true");
	check("UpdateContinuousBackups", "{'TableName':'t','PointInTimeRecoverySpecification':{}}",
	      CONDKEY_PITR_ENABLED, ABSENT);
	check("UpdateContinuousBackups", "{'TableName':'t','PointInTimeRecoverySpecification':true}",
	      CONDKEY_PITR_ENABLED, NOVALUE);
}

static void
test_replica_regions(void **state)
{
	static const char *const two[] = {"eu-west-1", "ap-south-1", NULL};
	static const char *const bad[] = {"eu-west-1", "(null)", "(null)", NULL};
	static const char *const one_bad[] = {"(null)", NULL};
	char big[8192];
	size_t len;
	struct call c;

	call_init(&c, "UpdateTable",
	          "{'TableName':'t','ReplicaUpdates':[{'Create':{'RegionName':'eu-west-1','KMSMasterKeyId':'k'}},"
	          "{'Update':{'RegionName':'us-west-2'}},{'Delete':{'RegionName':'us-east-2'}},"
	          "{'Create':{'RegionName':'ap-south-1'}}]}");
	expect_values(&c, CONDKEY_REPLICA_REGIONS, two);
	call_free(&c);

	call_init(
	    &c, "CreateGlobalTable",
	    "{'GlobalTableName':'t','ReplicationGroup':[{'RegionName':'eu-west-1'},{'RegionName':'ap-south-1'}]}");
	expect_values(&c, CONDKEY_REPLICA_REGIONS, two);
	call_free(&c);

	call_init(&c, "UpdateGlobalTable",
	          "{'GlobalTableName':'t','ReplicaUpdates':[{'Create':{'RegionName':'eu-west-1'}},"
	          "{'Create':{'RegionName':3}},{'Create':'ap-south-1'},{'Delete':{'RegionName':'us-east-1'}}]}");
	expect_values(&c, CONDKEY_REPLICA_REGIONS, bad);
	call_free(&c);

	/* Only deletes: no region gains a replica, the key is absent. */
	check("UpdateGlobalTable", "{'GlobalTableName':'t','ReplicaUpdates':[{'Delete':{'RegionName':'x'}}]}",
	      CONDKEY_REPLICA_REGIONS, ABSENT);
	check("UpdateTable", "{'TableName':'t'}", CONDKEY_REPLICA_REGIONS, ABSENT);
	call_init(&c, "CreateGlobalTable", "{'GlobalTableName':'t','ReplicationGroup':{'RegionName':'x'}}");
	expect_values(&c, CONDKEY_REPLICA_REGIONS, one_bad);
	call_free(&c);

	/* More values than the scratch holds: the caller is told, and refuses the call. */
	len = (size_t)snprintf(big, sizeof(big), "{'GlobalTableName':'t','ReplicationGroup':[");
	for (int i = 0; i <= CONDKEYS_MAX_VALUES; i++)
		len += (size_t)snprintf(big + len, sizeof(big) - len, "%s{'RegionName':'r%d'}", i ? "," : "", i);
	snprintf(big + len, sizeof(big) - len, "]}");
	call_init(&c, "CreateGlobalTable", big);
	assert_false(c.cr.overflow);
	assert_int_equal(get(&c, CONDKEY_REPLICA_REGIONS).n, CONDKEYS_MAX_VALUES);
	assert_true(c.cr.overflow);
	call_free(&c);
}

static void
test_kinesis(void **state)
{
	static const char *const actions[] = {"EnableKinesisStreamingDestination", "UpdateKinesisStreamingDestination",
	                                      "DisableKinesisStreamingDestination"};
	struct call c;

	for (size_t i = 0; i < 3; i++) {
		call_init(&c, actions[i],
		          "{'TableName':'t','StreamArn':'arn:aws:kinesis:us-east-1:210987654321:stream/s'}");
		/* The account first: it computes the ARN on the way. */
		expect_one(&c, CONDKEY_KINESIS_STREAM_ACCOUNT, "210987654321");
		expect_one(&c, CONDKEY_KINESIS_STREAM_ARN, "arn:aws:kinesis:us-east-1:210987654321:stream/s");
		call_free(&c);
	}
	check("EnableKinesisStreamingDestination", "{'TableName':'t'}", CONDKEY_KINESIS_STREAM_ACCOUNT, ABSENT);
	check("EnableKinesisStreamingDestination", "{'TableName':'t','StreamArn':5}", CONDKEY_KINESIS_STREAM_ARN,
	      NOVALUE);
	check("EnableKinesisStreamingDestination", "{'TableName':'t','StreamArn':5}", CONDKEY_KINESIS_STREAM_ACCOUNT,
	      NOVALUE);
	check("EnableKinesisStreamingDestination", "{'TableName':'t','StreamArn':'stream/s'}",
	      CONDKEY_KINESIS_STREAM_ACCOUNT, NOVALUE);
	check("EnableKinesisStreamingDestination", "{'TableName':'t','StreamArn':'arn:aws:kinesis:us-east-1:1'}",
	      CONDKEY_KINESIS_STREAM_ACCOUNT, NOVALUE);
	check("EnableKinesisStreamingDestination", "{'TableName':'t','StreamArn':'arn:aws:kinesis:r::stream/s'}",
	      CONDKEY_KINESIS_STREAM_ACCOUNT, "");
	check("DescribeKinesisStreamingDestination", "{'TableName':'t','StreamArn':'arn:aws:kinesis:r:1:s'}",
	      CONDKEY_KINESIS_STREAM_ARN, ABSENT);
}

/* A body that is not an object (request.c refuses those first): body keys present, matching nothing. */
static void
test_body_not_object(void **state)
{
	check("ExportTableToPointInTime", "[]", CONDKEY_S3_BUCKET, NOVALUE);
	check("CreateGlobalTable", "[]", CONDKEY_REPLICA_REGIONS, NOVALUE);
}

/* Present with exactly the given values, in order (NULL-terminated list). */
static void
check_values(const char *action, const char *body, int key, const char *const *want)
{
	struct call c;

	call_init(&c, action, body);
	expect_values(&c, key, want);
	assert_false(c.cr.overflow);
	call_free(&c);
}

#define V(...) ((const char *const[]){__VA_ARGS__, NULL})

static void
test_leading_keys(void **state)
{
	/* Item calls: Key or Item, by the table's configured partition key. */
	check("GetItem", "{'TableName':'users','Key':{'pk':{'S':'user#1'},'sk':{'S':'x'}}}", CONDKEY_LEADING_KEYS,
	      "user#1");
	check("DeleteItem", "{'TableName':'orders','Key':{'customer':{'N':'42'}}}", CONDKEY_LEADING_KEYS, "42");
	check("UpdateItem", "{'TableName':'users','Key':{'pk':{'B':'AAE='}},'UpdateExpression':'SET a = :a'}",
	      CONDKEY_LEADING_KEYS, "AAE=");
	check("PutItem", "{'TableName':'users','Item':{'pk':{'S':'u2'},'name':{'S':'n'}}}", CONDKEY_LEADING_KEYS, "u2");
	check("GetItem", "{'TableName':'arn:aws:dynamodb:us-east-1:111122223333:table/users','Key':{'pk':{'S':'a'}}}",
	      CONDKEY_LEADING_KEYS, "a");
	/* Batches and transactions: every item, deduplicated. */
	check_values("BatchGetItem",
	             "{'RequestItems':{'users':{'Keys':[{'pk':{'S':'a'}},{'pk':{'S':'b'}},{'pk':{'S':'a'}}]},"
	             "'orders':{'Keys':[{'customer':{'S':'c'}}]}}}",
	             CONDKEY_LEADING_KEYS, V("a", "b", "c"));
	check_values("BatchWriteItem",
	             "{'RequestItems':{'users':[{'PutRequest':{'Item':{'pk':{'S':'a'},'x':{'S':'1'}}}},"
	             "{'DeleteRequest':{'Key':{'pk':{'S':'b'}}}}]}}",
	             CONDKEY_LEADING_KEYS, V("a", "b"));
	check_values("TransactGetItems",
	             "{'TransactItems':[{'Get':{'TableName':'users','Key':{'pk':{'S':'a'}}}},"
	             "{'Get':{'TableName':'orders','Key':{'customer':{'S':'b'}}}}]}",
	             CONDKEY_LEADING_KEYS, V("a", "b"));
	check_values("TransactWriteItems",
	             "{'TransactItems':[{'Put':{'TableName':'users','Item':{'pk':{'S':'a'}}}},"
	             "{'Update':{'TableName':'users','Key':{'pk':{'S':'b'}},'UpdateExpression':'SET x = :x'}},"
	             "{'Delete':{'TableName':'users','Key':{'pk':{'S':'c'}}}},"
	             "{'ConditionCheck':{'TableName':'users','Key':{'pk':{'S':'d'}},'ConditionExpression':'a'}}]}",
	             CONDKEY_LEADING_KEYS, V("a", "b", "c", "d"));
	/* Query: the "=" on the partition key, through placeholders, either side; or legacy KeyConditions. */
	check("Query",
	      "{'TableName':'users','KeyConditionExpression':'pk = :v AND begins_with(sk, :p)',"
	      "'ExpressionAttributeValues':{':v':{'S':'user#1'},':p':{'S':'o'}}}",
	      CONDKEY_LEADING_KEYS, "user#1");
	check("Query",
	      "{'TableName':'users','KeyConditionExpression':'(#s BETWEEN :a AND :b) and :v=#k',"
	      "'ExpressionAttributeNames':{'#s':'sk','#k':'pk'},"
	      "'ExpressionAttributeValues':{':v':{'S':'u'},':a':{'S':'1'},':b':{'S':'2'}}}",
	      CONDKEY_LEADING_KEYS, "u");
	check("Query",
	      "{'TableName':'users','KeyConditions':{'pk':{'ComparisonOperator':'EQ','AttributeValueList':[{'S':'u'}]},"
	      "'sk':{'ComparisonOperator':'GT','AttributeValueList':[{'S':'a'}]}}}",
	      CONDKEY_LEADING_KEYS, "u");
	/* Fail closed: no schema, wrong shapes, expressions we cannot read. */
	check("GetItem", "{'TableName':'other','Key':{'id':{'S':'a'}}}", CONDKEY_LEADING_KEYS, NOVALUE);
	check("GetItem", "{'Key':{'pk':{'S':'a'}}}", CONDKEY_LEADING_KEYS, NOVALUE);
	check("GetItem", "{'TableName':'users','Key':{'id':{'S':'a'}}}", CONDKEY_LEADING_KEYS, NOVALUE);
	check("GetItem", "{'TableName':'users','Key':{'pk':{'SS':['a']}}}", CONDKEY_LEADING_KEYS, NOVALUE);
	check("GetItem", "{'TableName':'users','Key':{'pk':{'S':'a','N':'1'}}}", CONDKEY_LEADING_KEYS, NOVALUE);
	check("GetItem", "{'TableName':'users','Key':{'pk':{'S':1}}}", CONDKEY_LEADING_KEYS, NOVALUE);
	check("GetItem", "{'TableName':'users','Key':'pk'}", CONDKEY_LEADING_KEYS, NOVALUE);
	check("GetItem", "{'TableName':'users'}", CONDKEY_LEADING_KEYS, NOVALUE);
	check("GetItem", "{'TableName':'users','Key':{'PK':{'S':'a'}}}", CONDKEY_LEADING_KEYS, NOVALUE);
	check("Query", "{'TableName':'users','KeyConditionExpression':'pk = :v OR pk = :w',"
	               "'ExpressionAttributeValues':{':v':{'S':'a'},':w':{'S':'b'}}}",
	      CONDKEY_LEADING_KEYS, NOVALUE);
	check("Query", "{'TableName':'users','KeyConditionExpression':'pk.x = :v',"
	               "'ExpressionAttributeValues':{':v':{'S':'a'}}}",
	      CONDKEY_LEADING_KEYS, NOVALUE);
	check("Query", "{'TableName':'users','KeyConditionExpression':'#k = :v',"
	               "'ExpressionAttributeValues':{':v':{'S':'a'}}}",
	      CONDKEY_LEADING_KEYS, NOVALUE);
	check("Query", "{'TableName':'users','KeyConditionExpression':'pk = :nope',"
	               "'ExpressionAttributeValues':{':v':{'S':'a'}}}",
	      CONDKEY_LEADING_KEYS, NOVALUE);
	check("Query", "{'TableName':'users','KeyConditionExpression':'pk = \\'a\\''}", CONDKEY_LEADING_KEYS,
	      NOVALUE);
	check("Query", "{'TableName':'users','IndexName':'gsi','KeyConditionExpression':'pk = :v',"
	               "'ExpressionAttributeValues':{':v':{'S':'a'}}}",
	      CONDKEY_LEADING_KEYS, NOVALUE);
	check("Query", "{'TableName':'users'}", CONDKEY_LEADING_KEYS, NOVALUE);
	check("Query", "{'TableName':'users','KeyConditions':{'pk':{'ComparisonOperator':'BEGINS_WITH',"
	               "'AttributeValueList':[{'S':'u'}]}}}",
	      CONDKEY_LEADING_KEYS, NOVALUE);
	check_values("BatchGetItem", "{'RequestItems':{'users':{'Keys':[{'pk':{'S':'a'}}]},'other':{'Keys':[]}}}",
	             CONDKEY_LEADING_KEYS, V("a", "(null)"));
	check("BatchWriteItem", "{'RequestItems':{'users':[{'PutRequest':{'Item':{}},'DeleteRequest':{'Key':{}}}]}}",
	      CONDKEY_LEADING_KEYS, NOVALUE);
	check("TransactWriteItems", "{'TransactItems':[{'Nope':{'TableName':'users'}}]}", CONDKEY_LEADING_KEYS,
	      NOVALUE);
	check("ExecuteStatement", "{'Statement':'SELECT * FROM users'}", CONDKEY_LEADING_KEYS, NOVALUE);
	/* No items: absent (IAM's empty set). */
	check("Scan", "{'TableName':'users'}", CONDKEY_LEADING_KEYS, ABSENT);
	check("DescribeTable", "{'TableName':'users'}", CONDKEY_LEADING_KEYS, ABSENT);
	check("BatchGetItem", "{'RequestItems':{}}", CONDKEY_LEADING_KEYS, ABSENT);
}

/* More distinct values than the key holds: the call must be refused. */
static void
test_leading_keys_overflow(void **state)
{
	char body[16384];
	size_t n = (size_t)snprintf(body, sizeof(body), "{'RequestItems':{'users':{'Keys':[");
	struct call c;

	for (int i = 0; i <= CONDKEYS_MAX_ITEMS; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s{'pk':{'S':'u%d'}}", i ? "," : "", i);
	snprintf(body + n, sizeof(body) - n, "]}}}");
	call_init(&c, "BatchGetItem", body);
	get(&c, CONDKEY_LEADING_KEYS);
	assert_true(c.cr.overflow);
	call_free(&c);
}

static void
test_attributes(void **state)
{
	check_values("GetItem",
	             "{'TableName':'users','Key':{'pk':{'S':'a'}},'ProjectionExpression':'#n, email, addr.city, tags[0]',"
	             "'ExpressionAttributeNames':{'#n':'name'}}",
	             CONDKEY_ATTRIBUTES, V("pk", "name", "email", "addr", "tags"));
	check_values("GetItem", "{'TableName':'users','Key':{'pk':{'S':'a'}},'AttributesToGet':['a','b']}",
	             CONDKEY_ATTRIBUTES, V("pk", "a", "b"));
	check_values("PutItem", "{'TableName':'users','Item':{'pk':{'S':'a'},'name':{'S':'n'},'age':{'N':'1'}}}",
	             CONDKEY_ATTRIBUTES, V("pk", "name", "age"));
	check_values("UpdateItem",
	             "{'TableName':'users','Key':{'pk':{'S':'a'}},"
	             "'UpdateExpression':'SET #c = if_not_exists(#c, :z) + :one, l = list_append(l, :l) REMOVE old.x "
	             "ADD n :one DELETE s :s','ExpressionAttributeNames':{'#c':'count'}}",
	             CONDKEY_ATTRIBUTES, V("pk", "count", "l", "old", "n", "s"));
	check_values("UpdateItem",
	             "{'TableName':'users','Key':{'pk':{'S':'a'}},'AttributeUpdates':{'x':{'Action':'DELETE'}}}",
	             CONDKEY_ATTRIBUTES, V("pk", "x"));
	check_values("Query", "{'TableName':'users','KeyConditionExpression':'pk = :v','ProjectionExpression':'a'}",
	             CONDKEY_ATTRIBUTES, V("a"));
	check_values("BatchGetItem",
	             "{'RequestItems':{'users':{'Keys':[{'pk':{'S':'a'}}],'ProjectionExpression':'#x',"
	             "'ExpressionAttributeNames':{'#x':'secret'}}}}",
	             CONDKEY_ATTRIBUTES, V("pk", "secret"));
	check_values("TransactWriteItems",
	             "{'TransactItems':[{'Update':{'TableName':'users','Key':{'pk':{'S':'b'}},"
	             "'UpdateExpression':'SET x = :x'}}]}",
	             CONDKEY_ATTRIBUTES, V("pk", "x"));
	/* Attributes do not need a schema. */
	check_values("GetItem", "{'TableName':'other','Key':{'id':{'S':'a'}}}", CONDKEY_ATTRIBUTES, V("id"));
	/* Fail closed. */
	check_values("GetItem", "{'TableName':'users','Key':{'pk':{'S':'a'}},'ProjectionExpression':'a,,b'}",
	             CONDKEY_ATTRIBUTES, V("pk", "a", "(null)"));
	check_values("GetItem", "{'TableName':'users','Key':{'pk':{'S':'a'}},'ProjectionExpression':'#m'}",
	             CONDKEY_ATTRIBUTES, V("pk", "(null)"));
	check_values("GetItem", "{'TableName':'users','Key':{'pk':{'S':'a'}},'AttributesToGet':'a'}",
	             CONDKEY_ATTRIBUTES, V("pk", "(null)"));
	check_values("UpdateItem",
	             "{'TableName':'users','Key':{'pk':{'S':'a'}},'UpdateExpression':'SET a = :a SET b = :b'}",
	             CONDKEY_ATTRIBUTES, V("pk", "a", "(null)"));
	check_values("UpdateItem", "{'TableName':'users','Key':{'pk':{'S':'a'}},'UpdateExpression':5}",
	             CONDKEY_ATTRIBUTES, V("pk", "(null)"));
	check("PutItem", "{'TableName':'users','Item':[]}", CONDKEY_ATTRIBUTES, NOVALUE);
	check("ExecuteStatement", "{'Statement':'SELECT * FROM users'}", CONDKEY_ATTRIBUTES, NOVALUE);
	/* Nothing named: a Scan without projection reads every attribute, as in IAM (see config/README.md). */
	check("Scan", "{'TableName':'users'}", CONDKEY_ATTRIBUTES, ABSENT);
	check("ListTables", "{}", CONDKEY_ATTRIBUTES, ABSENT);
}

#define POLICY_DOC(stmts) "{'Version':'2012-10-17','Statement':" stmts "}"

/* The resource policy text as a JSON string member: ' inside becomes \" after json_of(). */
static void
check_rp(const char *action, const char *member, const char *doc, const char *const *principals,
         const char *const *accounts)
{
	char body[4096];
	size_t n = (size_t)snprintf(body, sizeof(body), "{'TableName':'t','%s':'", member);
	struct call c;

	for (const char *p = doc; *p != '\0' && n + 3 < sizeof(body); p++) {
		if (*p == '\'')
			body[n++] = '\\';
		body[n++] = *p;
	}
	snprintf(body + n, sizeof(body) - n, "'}");
	call_init(&c, action, body);
	if (principals == NULL) {
		expect_absent(&c, CONDKEY_RESOURCE_POLICY_PRINCIPALS);
		expect_absent(&c, CONDKEY_RESOURCE_POLICY_ACCOUNTS);
	} else {
		expect_values(&c, CONDKEY_RESOURCE_POLICY_ACCOUNTS, accounts);
		expect_values(&c, CONDKEY_RESOURCE_POLICY_PRINCIPALS, principals);
	}
	call_free(&c);
}

static void
test_resource_policy(void **state)
{
	check_rp("PutResourcePolicy", "Policy",
	         POLICY_DOC("[{'Effect':'Allow','Principal':{'AWS':['arn:aws:iam::111122223333:role/r','444455556666']},"
	                    "'Action':'dynamodb:GetItem','Resource':'*'},"
	                    "{'Effect':'Deny','Principal':'*','Action':'*','Resource':'*'},"
	                    "{'Effect':'Allow','Principal':{'Service':'backup.amazonaws.com'},'Action':'*'}]"),
	         V("arn:aws:iam::111122223333:role/r", "444455556666", "backup.amazonaws.com"),
	         V("111122223333", "444455556666"));
	check_rp("CreateTable", "ResourcePolicy",
	         POLICY_DOC("{'Effect':'Allow','Principal':'*','Action':'dynamodb:*','Resource':'*'}"), V("*"), V("*"));
	check_rp("PutResourcePolicy", "Policy",
	         POLICY_DOC("{'Effect':'Allow','Principal':{'AWS':'*'},'Action':'dynamodb:*','Resource':'*'}"), V("*"),
	         V("*"));
	check_rp("PutResourcePolicy", "Policy",
	         POLICY_DOC("{'Effect':'Allow','NotPrincipal':{'AWS':'111122223333'},'Action':'*','Resource':'*'}"),
	         V("*"), V("*"));
	/* Only Deny: present, no values (treated as absent). */
	check_rp("PutResourcePolicy", "Policy",
	         POLICY_DOC("[{'Effect':'Deny','Principal':'*','Action':'*','Resource':'*'}]"), V("(null)") + 1,
	         V("(null)") + 1);
	/* Unreadable: matches nothing. */
	check_rp("PutResourcePolicy", "Policy", "{not json", V("(null)"), V("(null)"));
	check_rp("PutResourcePolicy", "Policy", "{'Statement':{'Effect':'Allow','Effect':'Allow','Principal':'*'}}",
	         V("(null)"), V("(null)"));
	check_rp("PutResourcePolicy", "Policy", POLICY_DOC("{'Effect':'Allow','Principal':{'AWS':5}}"), V("(null)"),
	         V("(null)"));
	check_rp("PutResourcePolicy", "Policy", POLICY_DOC("{'Effect':'Allow','Action':'*'}"), V("(null)"), V("(null)"));
	check_rp("PutResourcePolicy", "Policy", POLICY_DOC("{'Effect':'allow','Principal':'*'}"), V("(null)"),
	         V("(null)"));
	check_rp("PutResourcePolicy", "Policy", "{'Version':'2012-10-17'}", V("(null)"), V("(null)"));
	check_rp("PutResourcePolicy", "Policy", POLICY_DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::bad:root'}}"),
	         V("arn:aws:iam::bad:root"), V("(null)"));
	check("PutResourcePolicy", "{'ResourceArn':'arn:aws:dynamodb:us-east-1:1:table/t','Policy':7}",
	      CONDKEY_RESOURCE_POLICY_PRINCIPALS, NOVALUE);
	/* Absent member, or another action. */
	check("CreateTable", "{'TableName':'t'}", CONDKEY_RESOURCE_POLICY_ACCOUNTS, ABSENT);
	check("DeleteResourcePolicy", "{'ResourceArn':'x','Policy':'{}'}", CONDKEY_RESOURCE_POLICY_ACCOUNTS, ABSENT);
}

static struct condition_request_values
get_tag(struct call *c, const char *tag)
{
	struct condition_request_values out = {0};

	condkeys_lookup(&c->cr, CONDKEY_IDENTITY_TAG, tag, &out);
	return out;
}

static void
test_identity_tag(void **state)
{
	struct call c;
	struct condition_request_values v;

	call_init(&c, "GetItem", "{'TableName':'users'}");
	v = get_tag(&c, "team");
	assert_true(v.present);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.values[0], "orders");
	v = get_tag(&c, "COST-CENTER");
	assert_true(v.present);
	assert_string_equal(v.values[0], "42");
	v = get_tag(&c, "Team");
	assert_string_equal(v.values[0], "orders"); /* not a cached answer for another tag */
	v = get_tag(&c, "owner");
	assert_false(v.present);
	v = get_tag(&c, NULL);
	assert_false(v.present);
	call_free(&c);

	memset(&c, 0, sizeof(c));
	condkeys_request_init(&c.cr, catalog_find_iam("dynamodb:ListTables"), NULL, NULL, NULL, false, &test_now, NULL,
	                      NULL);
	assert_false(get_tag(&c, "team").present);
}

static void
test_geo(void **state)
{
	struct call c;

	test_geoip.lookups = 0;
	call_init(&c, "GetItem", "{'TableName':'users'}");
	assert_int_equal(test_geoip.lookups, 0); /* lazily */
	expect_one(&c, CONDKEY_SOURCE_COUNTRY, "DE");
	expect_one(&c, CONDKEY_SOURCE_ASN, "64512");
	expect_one(&c, CONDKEY_SOURCE_COUNTRY, "DE");
	assert_int_equal(test_geoip.lookups, 1); /* once per call */
	call_free(&c);

	/* Unknown address. */
	memset(&c, 0, sizeof(c));
	condkeys_request_init(&c.cr, catalog_find_iam("dynamodb:GetItem"), NULL, NULL, "198.51.100.1", false, &test_now,
	                      NULL, &test_env);
	expect_absent(&c, CONDKEY_SOURCE_COUNTRY);
	expect_absent(&c, CONDKEY_SOURCE_ASN);
	/* No databases configured. */
	condkeys_request_init(&c.cr, catalog_find_iam("dynamodb:GetItem"), NULL, NULL, "192.0.2.7", false, &test_now,
	                      NULL, NULL);
	expect_absent(&c, CONDKEY_SOURCE_COUNTRY);
	expect_absent(&c, CONDKEY_SOURCE_ASN);
	assert_int_equal(test_geoip.lookups, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry),
	    cmocka_unit_test(test_context_keys),
	    cmocka_unit_test(test_numeric_operators),
	    cmocka_unit_test(test_request_parameters),
	    cmocka_unit_test(test_full_table_scan),
	    cmocka_unit_test(test_partiql_verbs),
	    cmocka_unit_test(test_s3),
	    cmocka_unit_test(test_sse),
	    cmocka_unit_test(test_pitr),
	    cmocka_unit_test(test_replica_regions),
	    cmocka_unit_test(test_kinesis),
	    cmocka_unit_test(test_body_not_object),
	    cmocka_unit_test(test_leading_keys),
	    cmocka_unit_test(test_leading_keys_overflow),
	    cmocka_unit_test(test_attributes),
	    cmocka_unit_test(test_resource_policy),
	    cmocka_unit_test(test_identity_tag),
	    cmocka_unit_test(test_geo),
	};
	int rc;

	json_init();
	identities_setup();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	identity_set_free(test_identities);
	policy_set_free(test_policies);
	return rc;
}
