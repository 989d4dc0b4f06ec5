/* Tests filters/dynamodb/catalog.c and the generated filters/dynamodb/catalog_gen.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filters/dynamodb/catalog.h"

#define DDB_PREFIX "DynamoDB_20120810."
#define STREAMS_PREFIX "DynamoDBStreams_20120810."

static const struct catalog_action *
lookup_ok(const char *target)
{
	const struct catalog_action *a = NULL;

	assert_int_equal(catalog_lookup_target(target, strlen(target), &a), CATALOG_FOUND);
	assert_non_null(a);
	return a;
}

static enum catalog_lookup_status
lookup_status(const char *target, size_t len)
{
	const struct catalog_action *a = (const void *)1;
	enum catalog_lookup_status st = catalog_lookup_target(target, len, &a);

	if (st != CATALOG_FOUND)
		assert_null(a);
	return st;
}

/* The SDK's operation list, read from tests/data/aws-models so the test follows the data. */
static FILE *
open_sdk_operations(void)
{
	const char *path = SOURCE_ROOT "/tests/data/aws-models/client-dynamodb-3.1162.0.operations.txt";
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	return f;
}

static void
test_every_sdk_operation_resolves(void **state)
{
	FILE *f = open_sdk_operations();
	char line[256], target[512], iam[512];
	size_t n = 0;

	while (fgets(line, sizeof(line), f) != NULL) {
		const struct catalog_action *a;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		snprintf(target, sizeof(target), DDB_PREFIX "%s", line);
		snprintf(iam, sizeof(iam), "dynamodb:%s", line);
		a = lookup_ok(target);
		assert_string_equal(a->name, line);
		assert_string_equal(a->iam_action, iam);
		assert_int_equal(a->service, CATALOG_SVC_DYNAMODB);
		assert_ptr_equal(catalog_find_iam(iam), a);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 62);
}

static void
test_streams_operations_resolve(void **state)
{
	static const char *const ops[] = { "DescribeStream", "GetRecords", "GetShardIterator",
		"ListStreams" };
	char target[128];
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		const struct catalog_action *a;

		snprintf(target, sizeof(target), STREAMS_PREFIX "%s", ops[i]);
		a = lookup_ok(target);
		assert_string_equal(a->name, ops[i]);
		assert_int_equal(a->service, CATALOG_SVC_STREAMS);
		assert_true(strncmp(a->iam_action, "dynamodb:", 9) == 0);
		/* Each service's operations are only found under its own prefix. */
		snprintf(target, sizeof(target), DDB_PREFIX "%s", ops[i]);
		assert_int_equal(lookup_status(target, strlen(target)), CATALOG_UNKNOWN_OPERATION);
	}
	assert_int_equal(lookup_status(STREAMS_PREFIX "GetItem", strlen(STREAMS_PREFIX "GetItem")),
	    CATALOG_UNKNOWN_OPERATION);
	assert_int_equal(catalog_api_count(), 62 + 4);
	assert_int_equal(catalog_count(), 62 + 4 + 10); /* + the IAM-only actions */
}

/*
 * The table is what the bisection assumes: API operations sorted, ids =
 * positions, names unique; IAM-only actions after them, sorted too.
 */
static void
test_table_is_sorted_with_ids(void **state)
{
	size_t i, n = catalog_count(), napi = catalog_api_count();

	assert_true(napi < n);
	for (i = 0; i < n; i++) {
		const struct catalog_action *a = catalog_at(i);

		assert_non_null(a);
		assert_int_equal(a->id, i);
		assert_int_equal(a->iam_only, i >= napi);
		if (i > 0 && i != napi) {
			const struct catalog_action *p = catalog_at(i - 1);

			assert_true(p->service < a->service ||
			    (p->service == a->service && strcmp(p->name, a->name) < 0));
		}
		/* Finds itself, not an earlier action of the same IAM name. */
		assert_ptr_equal(catalog_find_iam(a->iam_action), a);
	}
	assert_null(catalog_at(n));
	assert_null(catalog_at(SIZE_MAX));
}

static void
test_targets_are_exact(void **state)
{
	static const struct {
		const char *target;
		enum catalog_lookup_status want;
	} cases[] = {
		{ "DynamoDB_20111205.GetItem", CATALOG_UNKNOWN_PREFIX }, /* legacy API */
		{ "DynamoDB_20120811.GetItem", CATALOG_UNKNOWN_PREFIX },
		{ "dynamodb_20120810.GetItem", CATALOG_UNKNOWN_PREFIX },
		{ "DynamoDB_20120810GetItem", CATALOG_UNKNOWN_PREFIX },
		{ "DynamoDB_20120810", CATALOG_UNKNOWN_PREFIX },
		{ " DynamoDB_20120810.GetItem", CATALOG_UNKNOWN_PREFIX },
		{ "", CATALOG_UNKNOWN_PREFIX },
		{ "GetItem", CATALOG_UNKNOWN_PREFIX },
		{ "DynamoDBStreams_20120810", CATALOG_UNKNOWN_PREFIX },
		{ "DynamoDB_20120810.", CATALOG_UNKNOWN_OPERATION },
		{ "DynamoDB_20120810.getitem", CATALOG_UNKNOWN_OPERATION },
		{ "DynamoDB_20120810.GETITEM", CATALOG_UNKNOWN_OPERATION },
		{ "DynamoDB_20120810.GetItem ", CATALOG_UNKNOWN_OPERATION },
		{ "DynamoDB_20120810.GetItemX", CATALOG_UNKNOWN_OPERATION },
		{ "DynamoDB_20120810.GetIte", CATALOG_UNKNOWN_OPERATION },
		{ "DynamoDB_20120810.GetItem.GetItem", CATALOG_UNKNOWN_OPERATION },
		{ "DynamoDB_20120810.DescribeReservedCapacity", CATALOG_UNKNOWN_OPERATION },
		{ "DynamoDBStreams_20120810.", CATALOG_UNKNOWN_OPERATION },
		{ "DynamoDBStreams_20120810.getrecords", CATALOG_UNKNOWN_OPERATION },
		{ "DynamoDB_20120810.AAAA", CATALOG_UNKNOWN_OPERATION }, /* before the first */
		{ "DynamoDB_20120810.zzzz", CATALOG_UNKNOWN_OPERATION }, /* after the last */
		{ "DynamoDB_20120810.GetItem", CATALOG_FOUND },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum catalog_lookup_status st = lookup_status(cases[i].target, strlen(cases[i].target));

		if (st != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].target, st, cases[i].want);
	}
	assert_int_equal(lookup_status(NULL, 0), CATALOG_UNKNOWN_PREFIX);
}

/* The length is authoritative: no reading past it, no stopping early at a NUL. */
static void
test_target_length_is_respected(void **state)
{
	static const char nul[] = "DynamoDB_20120810.GetItem\0";
	const char *longer = DDB_PREFIX "GetItemXYZ";
	const struct catalog_action *a = NULL;

	assert_int_equal(catalog_lookup_target(longer, strlen(DDB_PREFIX "GetItem"), &a),
	    CATALOG_FOUND);
	assert_string_equal(a->name, "GetItem");
	assert_int_equal(lookup_status(nul, sizeof(nul) - 1), CATALOG_UNKNOWN_OPERATION);
	assert_int_equal(lookup_status(DDB_PREFIX, strlen(DDB_PREFIX) - 1), CATALOG_UNKNOWN_PREFIX);
}

static void
test_find_iam_is_case_insensitive(void **state)
{
	const struct catalog_action *get = lookup_ok(DDB_PREFIX "GetItem");

	assert_ptr_equal(catalog_find_iam("dynamodb:GetItem"), get);
	assert_ptr_equal(catalog_find_iam("dynamodb:getitem"), get);
	assert_ptr_equal(catalog_find_iam("DYNAMODB:GETITEM"), get);
	assert_ptr_equal(catalog_find_iam("DynamoDB:gEtItEm"), get);
	assert_ptr_equal(catalog_find_iam("dynamodb:getrecords"), lookup_ok(STREAMS_PREFIX "GetRecords"));
	assert_null(catalog_find_iam("dynamodb:GetItem "));
	assert_null(catalog_find_iam("dynamodb:GetItems"));
	assert_null(catalog_find_iam("dynamodb:GetIte"));
	assert_null(catalog_find_iam("GetItem"));
	assert_null(catalog_find_iam("s3:GetItem"));
	assert_null(catalog_find_iam("dynamodb:*"));
	assert_null(catalog_find_iam(""));
	assert_null(catalog_find_iam(NULL));
}

/* IAM-only actions: policies may name them; no X-Amz-Target ever resolves to one. */
static void
test_iam_only_actions(void **state)
{
	static const struct {
		const char *name;
		enum catalog_class cls;
		bool read_only;
	} cases[] = {
		{ "PartiQLSelect", CATALOG_CLASS_PARTIQL, true },
		{ "PartiQLInsert", CATALOG_CLASS_PARTIQL, false },
		{ "PartiQLUpdate", CATALOG_CLASS_PARTIQL, false },
		{ "PartiQLDelete", CATALOG_CLASS_PARTIQL, false },
		{ "ConditionCheckItem", CATALOG_CLASS_READ, true },
		{ "PurchaseReservedCapacityOfferings", CATALOG_CLASS_ADMIN, false },
		{ "DescribeReservedCapacity", CATALOG_CLASS_ADMIN, true },
		{ "DescribeReservedCapacityOfferings", CATALOG_CLASS_ADMIN, true },
		{ "CreateTableReplica", CATALOG_CLASS_ADMIN, false },
		{ "DeleteTableReplica", CATALOG_CLASS_ADMIN, false },
	};
	char iam[128], target[128];
	size_t i, n = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct catalog_action *a, *got = (const void *)1;

		snprintf(iam, sizeof(iam), "dynamodb:%s", cases[i].name);
		a = catalog_find_iam(iam);
		if (a == NULL)
			fail_msg("%s: not in the catalog", iam);
		assert_true(a->iam_only);
		assert_true(a->id >= catalog_api_count());
		assert_string_equal(a->name, cases[i].name);
		assert_int_equal(a->class_, cases[i].cls);
		assert_int_equal(a->read_only, cases[i].read_only);
		assert_int_equal(a->nlocations, 0);
		snprintf(target, sizeof(target), DDB_PREFIX "%s", cases[i].name);
		assert_int_equal(catalog_lookup_target(target, strlen(target), &got), CATALOG_UNKNOWN_OPERATION);
		assert_null(got);
		snprintf(target, sizeof(target), STREAMS_PREFIX "%s", cases[i].name);
		assert_int_equal(lookup_status(target, strlen(target)), CATALOG_UNKNOWN_OPERATION);
	}
	for (i = 0; i < catalog_count(); i++)
		n += catalog_at(i)->iam_only;
	assert_int_equal(n, sizeof(cases) / sizeof(cases[0]));
	assert_ptr_equal(catalog_find_iam("dynamodb:partiqlselect"), catalog_find_iam("dynamodb:PartiQLSelect"));
}

static void
test_classes(void **state)
{
	static const struct {
		const char *target;
		enum catalog_class cls;
		bool read_only;
	} cases[] = {
		{ DDB_PREFIX "GetItem", CATALOG_CLASS_READ, true },
		{ DDB_PREFIX "BatchGetItem", CATALOG_CLASS_READ, true },
		{ DDB_PREFIX "Query", CATALOG_CLASS_READ, true },
		{ DDB_PREFIX "Scan", CATALOG_CLASS_READ, true },
		{ DDB_PREFIX "TransactGetItems", CATALOG_CLASS_READ, true },
		{ DDB_PREFIX "SearchVectors", CATALOG_CLASS_READ, true },
		{ STREAMS_PREFIX "GetRecords", CATALOG_CLASS_READ, true },
		{ STREAMS_PREFIX "GetShardIterator", CATALOG_CLASS_READ, true },
		{ STREAMS_PREFIX "DescribeStream", CATALOG_CLASS_ADMIN, true },
		{ STREAMS_PREFIX "ListStreams", CATALOG_CLASS_ADMIN, true },
		{ DDB_PREFIX "PutItem", CATALOG_CLASS_WRITE, false },
		{ DDB_PREFIX "UpdateItem", CATALOG_CLASS_WRITE, false },
		{ DDB_PREFIX "DeleteItem", CATALOG_CLASS_WRITE, false },
		{ DDB_PREFIX "BatchWriteItem", CATALOG_CLASS_WRITE, false },
		{ DDB_PREFIX "TransactWriteItems", CATALOG_CLASS_WRITE, false },
		{ DDB_PREFIX "ExecuteStatement", CATALOG_CLASS_PARTIQL, false },
		{ DDB_PREFIX "BatchExecuteStatement", CATALOG_CLASS_PARTIQL, false },
		{ DDB_PREFIX "ExecuteTransaction", CATALOG_CLASS_PARTIQL, false },
		{ DDB_PREFIX "StartBulkPutItems", CATALOG_CLASS_ADMIN, false },
		{ DDB_PREFIX "CreateTable", CATALOG_CLASS_ADMIN, false },
		{ DDB_PREFIX "DescribeTable", CATALOG_CLASS_ADMIN, true },
		{ DDB_PREFIX "ListTables", CATALOG_CLASS_ADMIN, true },
		{ DDB_PREFIX "GetResourcePolicy", CATALOG_CLASS_ADMIN, true },
		{ DDB_PREFIX "TagResource", CATALOG_CLASS_ADMIN, false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct catalog_action *a = lookup_ok(cases[i].target);

		if (a->class_ != cases[i].cls || a->read_only != cases[i].read_only)
			fail_msg("%s: class %d read_only %d", cases[i].target, a->class_, a->read_only);
	}
	assert_string_equal(catalog_class_name(CATALOG_CLASS_READ), "read");
	assert_string_equal(catalog_class_name(CATALOG_CLASS_WRITE), "write");
	assert_string_equal(catalog_class_name(CATALOG_CLASS_ADMIN), "admin");
	assert_string_equal(catalog_class_name(CATALOG_CLASS_PARTIQL), "partiql");
}

/* Renders a location's steps the way the generator writes its path. */
static void
render_steps(const struct catalog_location *loc, char *buf, size_t size)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < loc->nsteps; i++) {
		const struct catalog_step *s = &loc->steps[i];

		switch (s->kind) {
		case CATALOG_STEP_MEMBER:
			assert_non_null(s->member);
			n += (size_t)snprintf(buf + n, size - n, "%s%s", n > 0 ? "." : "", s->member);
			break;
		case CATALOG_STEP_EACH:
			n += (size_t)snprintf(buf + n, size - n, "[]");
			break;
		case CATALOG_STEP_KEYS:
			n += (size_t)snprintf(buf + n, size - n, "{}");
			break;
		case CATALOG_STEP_VALUES:
			n += (size_t)snprintf(buf + n, size - n, "{*}");
			break;
		}
		assert_true(n < size);
	}
}

static void
test_location_steps_match_paths(void **state)
{
	size_t i, j, n = catalog_count();
	char buf[512];

	for (i = 0; i < n; i++) {
		const struct catalog_action *a = catalog_at(i);

		assert_true(a->nlocations == 0 || a->locations != NULL);
		for (j = 0; j < a->nlocations; j++) {
			const struct catalog_location *loc = &a->locations[j];

			assert_in_range(loc->nsteps, 1, CATALOG_MAX_STEPS);
			render_steps(loc, buf, sizeof(buf));
			if (strcmp(buf, loc->path) != 0)
				fail_msg("%s: steps say %s, path says %s", a->name, buf, loc->path);
		}
	}
}

static const struct catalog_location *
find_location(const struct catalog_action *a, const char *path)
{
	size_t i;

	for (i = 0; i < a->nlocations; i++)
		if (strcmp(a->locations[i].path, path) == 0)
			return &a->locations[i];
	return NULL;
}

static void
expect_location(const char *target, const char *path, enum catalog_res res)
{
	const struct catalog_location *loc = find_location(lookup_ok(target), path);

	if (loc == NULL)
		fail_msg("%s: no location %s", target, path);
	if (loc->res != res)
		fail_msg("%s: %s has res %d, want %d", target, path, loc->res, res);
}

static void
expect_no_location(const char *target, const char *path)
{
	if (find_location(lookup_ok(target), path) != NULL)
		fail_msg("%s: unexpected location %s", target, path);
}

static void
test_locations(void **state)
{
	const struct catalog_location *loc;
	const struct catalog_action *a;

	a = lookup_ok(DDB_PREFIX "TransactWriteItems");
	assert_int_equal(a->nlocations, 4);
	expect_location(DDB_PREFIX "TransactWriteItems", "TransactItems[].Put.TableName", CATALOG_RES_TABLE);
	expect_location(DDB_PREFIX "TransactWriteItems", "TransactItems[].Update.TableName", CATALOG_RES_TABLE);
	expect_location(DDB_PREFIX "TransactWriteItems", "TransactItems[].Delete.TableName", CATALOG_RES_TABLE);
	expect_location(DDB_PREFIX "TransactWriteItems", "TransactItems[].ConditionCheck.TableName",
	    CATALOG_RES_TABLE);
	loc = find_location(a, "TransactItems[].Put.TableName");
	assert_int_equal(loc->nsteps, 4);
	assert_int_equal(loc->steps[1].kind, CATALOG_STEP_EACH);
	expect_location(DDB_PREFIX "TransactGetItems", "TransactItems[].Get.TableName", CATALOG_RES_TABLE);

	a = lookup_ok(DDB_PREFIX "BatchGetItem");
	assert_int_equal(a->nlocations, 1);
	assert_string_equal(a->locations[0].path, "RequestItems{}");
	assert_int_equal(a->locations[0].res, CATALOG_RES_TABLE);
	assert_int_equal(a->locations[0].nsteps, 2);
	assert_int_equal(a->locations[0].steps[1].kind, CATALOG_STEP_KEYS);
	expect_location(DDB_PREFIX "BatchWriteItem", "RequestItems{}", CATALOG_RES_TABLE);

	a = lookup_ok(DDB_PREFIX "RestoreTableFromBackup");
	assert_int_equal(a->nlocations, 2);
	expect_location(DDB_PREFIX "RestoreTableFromBackup", "TargetTableName", CATALOG_RES_TABLE);
	expect_location(DDB_PREFIX "RestoreTableFromBackup", "BackupArn", CATALOG_RES_BACKUP_ARN);
	/* Index overrides define indexes of the new table: no resource of their own. */
	expect_no_location(DDB_PREFIX "RestoreTableFromBackup", "GlobalSecondaryIndexOverride[].IndexName");

	expect_location(DDB_PREFIX "RestoreTableToPointInTime", "SourceTableArn", CATALOG_RES_TABLE_ARN);
	expect_location(DDB_PREFIX "RestoreTableToPointInTime", "SourceTableName", CATALOG_RES_TABLE);
	expect_location(DDB_PREFIX "RestoreTableToPointInTime", "TargetTableName", CATALOG_RES_TABLE);

	a = lookup_ok(DDB_PREFIX "CreateGlobalTable");
	assert_int_equal(a->nlocations, 1);
	expect_location(DDB_PREFIX "CreateGlobalTable", "GlobalTableName", CATALOG_RES_GLOBAL_TABLE);

	expect_location(DDB_PREFIX "CreateTable", "TableName", CATALOG_RES_TABLE);
	expect_location(DDB_PREFIX "CreateTable", "GlobalTableSourceArn", CATALOG_RES_TABLE_ARN);
	expect_no_location(DDB_PREFIX "CreateTable", "GlobalSecondaryIndexes[].IndexName");
	expect_no_location(DDB_PREFIX "UpdateTable", "GlobalSecondaryIndexUpdates[].Update.IndexName");
	expect_location(DDB_PREFIX "ImportTable", "TableCreationParameters.TableName", CATALOG_RES_TABLE);

	expect_location(DDB_PREFIX "Query", "TableName", CATALOG_RES_TABLE);
	expect_location(DDB_PREFIX "Query", "IndexName", CATALOG_RES_INDEX);
	expect_location(DDB_PREFIX "Scan", "IndexName", CATALOG_RES_INDEX);
	expect_location(DDB_PREFIX "SearchVectors", "IndexName", CATALOG_RES_INDEX);

	/* The Kinesis destination operations' StreamArn is a Kinesis stream. */
	expect_location(DDB_PREFIX "EnableKinesisStreamingDestination", "TableName", CATALOG_RES_TABLE);
	expect_no_location(DDB_PREFIX "EnableKinesisStreamingDestination", "StreamArn");
	expect_no_location(DDB_PREFIX "UpdateKinesisStreamingDestination", "StreamArn");

	expect_location(DDB_PREFIX "TagResource", "ResourceArn", CATALOG_RES_ANY_ARN);
	expect_location(DDB_PREFIX "ExportTableToPointInTime", "TableArn", CATALOG_RES_TABLE_ARN);
	expect_location(DDB_PREFIX "DescribeExport", "ExportArn", CATALOG_RES_EXPORT_ARN);
	expect_location(DDB_PREFIX "DescribeImport", "ImportArn", CATALOG_RES_IMPORT_ARN);
	expect_location(DDB_PREFIX "StartBulkPutItems", "TableName", CATALOG_RES_TABLE);
	expect_location(DDB_PREFIX "CancelBulkOperation", "BulkOperationArn", CATALOG_RES_BULK_OP_ARN);
	expect_location(STREAMS_PREFIX "GetRecords", "ShardIterator", CATALOG_RES_SHARD_ITERATOR);
	expect_location(STREAMS_PREFIX "GetShardIterator", "StreamArn", CATALOG_RES_STREAM_ARN);
	expect_location(STREAMS_PREFIX "DescribeStream", "StreamArn", CATALOG_RES_STREAM_ARN);
	expect_no_location(STREAMS_PREFIX "ListStreams", "ExclusiveStartStreamArn");
	/* PartiQL: each statement names the table it works on. */
	expect_location(DDB_PREFIX "ExecuteStatement", "Statement", CATALOG_RES_PARTIQL);
	expect_location(DDB_PREFIX "BatchExecuteStatement", "Statements[].Statement", CATALOG_RES_PARTIQL);
	expect_location(DDB_PREFIX "ExecuteTransaction", "TransactStatements[].Statement", CATALOG_RES_PARTIQL);
	assert_int_equal(lookup_ok(DDB_PREFIX "ExecuteStatement")->nlocations, 1);
	assert_int_equal(lookup_ok(DDB_PREFIX "ListTables")->nlocations, 0);
}

static bool
is_data_map_member(const char *name)
{
	size_t i;

	for (i = 0; i < catalog_n_data_map_members; i++)
		if (strcmp(catalog_data_map_members[i], name) == 0)
			return true;
	return false;
}

static void
test_data_map_members(void **state)
{
	static const char *const want[] = { "AttributeUpdates", "ExclusiveStartKey", "Expected",
		"ExpressionAttributeNames", "ExpressionAttributeValues", "Item", "Key", "KeyConditions",
		"Keys", "M", "QueryFilter", "ScanFilter" };
	static const char *const not_want[] = { "RequestItems", "TableName", "TransactItems", "Put",
		"L", "Parameters", "Value", "Tags", "" };
	size_t i;

	assert_true(catalog_n_data_map_members > 0);
	for (i = 1; i < catalog_n_data_map_members; i++)
		assert_true(strcmp(catalog_data_map_members[i - 1], catalog_data_map_members[i]) < 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!is_data_map_member(want[i]))
			fail_msg("%s missing from catalog_data_map_members", want[i]);
	for (i = 0; i < sizeof(not_want) / sizeof(not_want[0]); i++)
		if (is_data_map_member(not_want[i]))
			fail_msg("%s must not be a data map member", not_want[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_sdk_operation_resolves),
		cmocka_unit_test(test_streams_operations_resolve),
		cmocka_unit_test(test_table_is_sorted_with_ids),
		cmocka_unit_test(test_targets_are_exact),
		cmocka_unit_test(test_target_length_is_respected),
		cmocka_unit_test(test_find_iam_is_case_insensitive),
		cmocka_unit_test(test_iam_only_actions),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_location_steps_match_paths),
		cmocka_unit_test(test_locations),
		cmocka_unit_test(test_data_map_members),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
