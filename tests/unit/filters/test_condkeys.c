/*
 * Tests filters/condkeys.c: the registry, and each key's values from
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

#include "filters/catalog.h"
#include "filters/condkeys.h"
#include "filters/inspect.h"
#include "filters/partiql.h"

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
	condkeys_request_init(&c->cr, a, c->body, &c->ir, "192.0.2.7", true, &test_now, "app");
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
	condkeys_request_init(&c.cr, catalog_find_iam("dynamodb:ListTables"), NULL, NULL, NULL, false, &test_now, NULL);
	expect_absent(&c, CONDKEY_SOURCE_IP);
	expect_absent(&c, CONDKEY_IDENTITY);
	expect_one(&c, CONDKEY_SECURE_TRANSPORT, "false");
	expect_absent(&c, CONDKEY_SELECT);
	expect_absent(&c, CONDKEY_PARTIQL_VERB);
	expect_absent(&c, CONDKEY_FULL_TABLE_SCAN);
	expect_absent(&c, CONDKEY_REPLICA_REGIONS);
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
	struct call c;

	check("Scan", "{'TableName':'t'}", CONDKEY_FULL_TABLE_SCAN, "true");
	check("Query", "{'TableName':'t'}", CONDKEY_FULL_TABLE_SCAN, ABSENT);

	call_init(&c, "ExecuteStatement", "{'Statement':'SELECT * FROM t'}");
	c.ir.partiql_verbs = 1u << PARTIQL_SELECT;
	c.ir.partiql_full_table_scan = true;
	expect_one(&c, CONDKEY_FULL_TABLE_SCAN, "true");
	expect_one(&c, CONDKEY_PARTIQL_VERB, "SELECT");
	call_free(&c);

	call_init(&c, "ExecuteStatement", "{'Statement':'SELECT * FROM t WHERE pk = 1'}");
	c.ir.partiql_verbs = 1u << PARTIQL_SELECT;
	expect_one(&c, CONDKEY_FULL_TABLE_SCAN, "false");
	call_free(&c);

	/* IAM sets the key for PartiQL SELECT only. */
	call_init(&c, "ExecuteStatement", "{'Statement':'DELETE FROM t WHERE pk = 1'}");
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry),
	    cmocka_unit_test(test_context_keys),
	    cmocka_unit_test(test_request_parameters),
	    cmocka_unit_test(test_full_table_scan),
	    cmocka_unit_test(test_partiql_verbs),
	    cmocka_unit_test(test_s3),
	    cmocka_unit_test(test_sse),
	    cmocka_unit_test(test_pitr),
	    cmocka_unit_test(test_replica_regions),
	    cmocka_unit_test(test_kinesis),
	    cmocka_unit_test(test_body_not_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
