/* Tests filters/dynamodb/inspect.c against the generated catalog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filters/dynamodb/catalog.h"
#include "filters/dynamodb/inspect.h"
#include "filters/dynamodb/json.h"
#include "filters/dynamodb/partiql.h"

#define ACCT "111122223333"
#define OURS "arn:aws:dynamodb:us-east-1:" ACCT ":"
#define FOREIGN "arn:aws:dynamodb:eu-west-1:999999999999:"
#define STREAM OURS "table/Music/stream/2015-05-11T21:21:33.291"
#define MAX_EXPECT 6

static const struct inspect_scope scope = { "aws", "us-east-1", ACCT };

struct expect_res {
	enum inspect_type type;
	const char *arn;
	const char *table; /* NULL: must be NULL */
	const char *name;  /* NULL: must be NULL */
};

struct inspect_case {
	const char *label;
	const char *op; /* X-Amz-Target */
	const char *body;
	enum inspect_status status;
	const char *why; /* exact `why` when status is not OK */
	const char *primary;
	size_t n;
	struct expect_res res[MAX_EXPECT];
};

#define DDB(op) "DynamoDB_20120810." op
#define STREAMS(op) "DynamoDBStreams_20120810." op

static const struct inspect_case cases[] = {
	/* Names become ARNs in our scope; ARNs keep their own account and region. */
	{ "GetItem by name", DDB("GetItem"), "{\"TableName\":\"Music\",\"Key\":{\"a\":{\"S\":\"x\"}}}",
	    INSPECT_OK, NULL, "Music", 1, { { INSPECT_TABLE, OURS "table/Music", "Music", NULL } } },
	{ "GetItem by ARN", DDB("GetItem"), "{\"TableName\":\"" OURS "table/Music\"}", INSPECT_OK,
	    NULL, "Music", 1, { { INSPECT_TABLE, OURS "table/Music", "Music", NULL } } },
	{ "GetItem foreign ARN", DDB("GetItem"), "{\"TableName\":\"" FOREIGN "table/Other\"}",
	    INSPECT_OK, NULL, "Other", 1, { { INSPECT_TABLE, FOREIGN "table/Other", "Other", NULL } } },
	{ "GetItem nothing named", DDB("GetItem"), "{}", INSPECT_OK, NULL, NULL, 0, { { 0 } } },
	{ "DescribeLimits no locations", DDB("DescribeLimits"), "{}", INSPECT_OK, NULL, NULL, 0,
	    { { 0 } } },
	/* PartiQL: the statement's table (or "t"."i" index) is the resource. */
	{ "ExecuteStatement select", DDB("ExecuteStatement"),
	    "{\"Statement\":\"SELECT * FROM \\\"Music\\\" WHERE Artist = ?\",\"Parameters\":[{\"S\":\"x\"}]}",
	    INSPECT_OK, NULL, "Music", 1, { { INSPECT_TABLE, OURS "table/Music", "Music", NULL } } },
	{ "ExecuteStatement index", DDB("ExecuteStatement"),
	    "{\"Statement\":\"SELECT a FROM \\\"Music\\\".\\\"ByArtist\\\"\"}", INSPECT_OK, NULL, "Music", 1,
	    { { INSPECT_INDEX, OURS "table/Music/index/ByArtist", "Music", "ByArtist" } } },
	{ "BatchExecuteStatement two tables", DDB("BatchExecuteStatement"),
	    "{\"Statements\":[{\"Statement\":\"UPDATE Music SET a = 1 WHERE pk = 'x'\"},"
	    "{\"Statement\":\"DELETE FROM Secrets WHERE pk = 'y'\"}]}",
	    INSPECT_OK, NULL, "Music", 2,
	    { { INSPECT_TABLE, OURS "table/Music", "Music", NULL },
		{ INSPECT_TABLE, OURS "table/Secrets", "Secrets", NULL } } },
	{ "ExecuteTransaction exists", DDB("ExecuteTransaction"),
	    "{\"TransactStatements\":[{\"Statement\":\"INSERT INTO Music VALUE {'pk':'a'}\"},"
	    "{\"Statement\":\"EXISTS(SELECT * FROM Other WHERE pk = 'b')\"}]}",
	    INSPECT_OK, NULL, "Music", 2,
	    { { INSPECT_TABLE, OURS "table/Music", "Music", NULL },
		{ INSPECT_TABLE, OURS "table/Other", "Other", NULL } } },
	{ "ExecuteStatement unreadable", DDB("ExecuteStatement"),
	    "{\"Statement\":\"SELECT * FROM Music; DELETE FROM Music\"}", INSPECT_BAD_REQUEST, NULL, NULL, 0,
	    { { 0 } } },
	{ "ExecuteStatement not a string", DDB("ExecuteStatement"), "{\"Statement\":5}",
	    INSPECT_BAD_REQUEST, "Statement: expected a string", NULL, 0, { { 0 } } },
	/* A top-level IndexName turns the table into the index it reads. */
	{ "Query index", DDB("Query"), "{\"TableName\":\"Music\",\"IndexName\":\"ByArtist\"}",
	    INSPECT_OK, NULL, "Music", 1,
	    { { INSPECT_INDEX, OURS "table/Music/index/ByArtist", "Music", "ByArtist" } } },
	{ "Query index, IndexName first", DDB("Query"),
	    "{\"IndexName\":\"ByArtist\",\"TableName\":\"" FOREIGN "table/Music\"}", INSPECT_OK, NULL,
	    "Music", 1,
	    { { INSPECT_INDEX, FOREIGN "table/Music/index/ByArtist", "Music", "ByArtist" } } },
	{ "Scan table", DDB("Scan"), "{\"TableName\":\"Music\"}", INSPECT_OK, NULL, "Music", 1,
	    { { INSPECT_TABLE, OURS "table/Music", "Music", NULL } } },
	{ "Query IndexName without table", DDB("Query"), "{\"IndexName\":\"ByArtist\"}",
	    INSPECT_BAD_REQUEST, "IndexName: index without a table", NULL, 0, { { 0 } } },
	{ "Query bad IndexName", DDB("Query"), "{\"TableName\":\"Music\",\"IndexName\":\"x\"}",
	    INSPECT_BAD_REQUEST, NULL, NULL, 0, { { 0 } } },
	{ "Query IndexName not a string", DDB("Query"), "{\"TableName\":\"Music\",\"IndexName\":7}",
	    INSPECT_BAD_REQUEST, NULL, NULL, 0, { { 0 } } },
	/* Nested index names define indexes: authorized on the table alone. */
	{ "CreateTable with GSI", DDB("CreateTable"),
	    "{\"TableName\":\"Music\",\"GlobalSecondaryIndexes\":[{\"IndexName\":\"ByArtist\"}]}",
	    INSPECT_OK, NULL, "Music", 1, { { INSPECT_TABLE, OURS "table/Music", "Music", NULL } } },
	{ "BatchGetItem keys", DDB("BatchGetItem"),
	    "{\"RequestItems\":{\"Music\":{\"Keys\":[]},\"" FOREIGN "table/Books\":{\"Keys\":[]}}}",
	    INSPECT_OK, NULL, "Music", 2,
	    { { INSPECT_TABLE, OURS "table/Music", "Music", NULL },
		{ INSPECT_TABLE, FOREIGN "table/Books", "Books", NULL } } },
	{ "BatchWriteItem keys", DDB("BatchWriteItem"),
	    "{\"RequestItems\":{\"Music\":[{\"PutRequest\":{\"Item\":{}}}],\"Books\":[]}}", INSPECT_OK,
	    NULL, "Music", 2,
	    { { INSPECT_TABLE, OURS "table/Music", "Music", NULL },
		{ INSPECT_TABLE, OURS "table/Books", "Books", NULL } } },
	{ "BatchWriteItem bad key", DDB("BatchWriteItem"),
	    "{\"RequestItems\":{\"Music\":[],\"no way\":[]}}", INSPECT_BAD_REQUEST,
	    "RequestItems{#1}: invalid table name", NULL, 0, { { 0 } } },
	{ "BatchGetItem RequestItems array", DDB("BatchGetItem"), "{\"RequestItems\":[\"Music\"]}",
	    INSPECT_BAD_REQUEST, "RequestItems: expected an object", NULL, 0, { { 0 } } },
	/* Locations are walked in catalog order: ConditionCheck, Put, Delete, Update. */
	{ "TransactWriteItems mixed", DDB("TransactWriteItems"),
	    "{\"TransactItems\":["
	    "{\"Put\":{\"TableName\":\"Alpha\",\"Item\":{}}},"
	    "{\"Update\":{\"TableName\":\"Beta\"}},"
	    "{\"Delete\":{\"TableName\":\"" OURS "table/Alpha\"}},"
	    "{\"ConditionCheck\":{\"TableName\":\"" FOREIGN "table/Gamma\"}}]}",
	    INSPECT_OK, NULL, "Gamma", 3,
	    { { INSPECT_TABLE, FOREIGN "table/Gamma", "Gamma", NULL },
		{ INSPECT_TABLE, OURS "table/Alpha", "Alpha", NULL },
		{ INSPECT_TABLE, OURS "table/Beta", "Beta", NULL } } },
	{ "TransactWriteItems wrong leaf type", DDB("TransactWriteItems"),
	    "{\"TransactItems\":[{\"Put\":{\"TableName\":\"Alpha\"}},{},{\"Put\":{}},"
	    "{\"Put\":{\"TableName\":42}}]}",
	    INSPECT_BAD_REQUEST, "TransactItems[3].Put.TableName: expected a string", NULL, 0,
	    { { 0 } } },
	{ "TransactWriteItems Put not an object", DDB("TransactWriteItems"),
	    "{\"TransactItems\":[{\"Put\":\"Alpha\"}]}", INSPECT_BAD_REQUEST,
	    "TransactItems[0].Put: expected an object", NULL, 0, { { 0 } } },
	{ "TransactWriteItems item not an object", DDB("TransactWriteItems"),
	    "{\"TransactItems\":[\"Alpha\"]}", INSPECT_BAD_REQUEST,
	    "TransactItems[0]: expected an object", NULL, 0, { { 0 } } },
	{ "TransactWriteItems not an array", DDB("TransactWriteItems"),
	    "{\"TransactItems\":{\"Put\":{\"TableName\":\"Alpha\"}}}", INSPECT_BAD_REQUEST,
	    "TransactItems: expected an array", NULL, 0, { { 0 } } },
	{ "TransactGetItems", DDB("TransactGetItems"),
	    "{\"TransactItems\":[{\"Get\":{\"TableName\":\"Alpha\"}}]}", INSPECT_OK, NULL, "Alpha", 1,
	    { { INSPECT_TABLE, OURS "table/Alpha", "Alpha", NULL } } },
	{ "RestoreTableFromBackup", DDB("RestoreTableFromBackup"),
	    "{\"TargetTableName\":\"Restored\",\"BackupArn\":\"" OURS
	    "table/Music/backup/01489602797149-73d8d5bc\"}",
	    INSPECT_OK, NULL, "Restored", 2,
	    { { INSPECT_TABLE, OURS "table/Restored", "Restored", NULL },
		{ INSPECT_BACKUP, OURS "table/Music/backup/01489602797149-73d8d5bc", "Music",
		    NULL } } },
	{ "RestoreTableFromBackup export ARN", DDB("RestoreTableFromBackup"),
	    "{\"TargetTableName\":\"Restored\",\"BackupArn\":\"" OURS "table/Music/export/0123-ab\"}",
	    INSPECT_BAD_REQUEST, "BackupArn: not a DynamoDB backup ARN", NULL, 0, { { 0 } } },
	{ "RestoreTableToPointInTime source name", DDB("RestoreTableToPointInTime"),
	    "{\"SourceTableName\":\"Music\",\"TargetTableName\":\"Copy\"}", INSPECT_OK, NULL, "Music",
	    2,
	    { { INSPECT_TABLE, OURS "table/Music", "Music", NULL },
		{ INSPECT_TABLE, OURS "table/Copy", "Copy", NULL } } },
	{ "GetRecords", STREAMS("GetRecords"), "{\"ShardIterator\":\"" STREAM "|1|AAAAAAAAAAEvJp6D\"}",
	    INSPECT_OK, NULL, NULL, 1, { { INSPECT_STREAM, STREAM, "Music", NULL } } },
	{ "GetRecords iterator without bar", STREAMS("GetRecords"),
	    "{\"ShardIterator\":\"" STREAM "\"}", INSPECT_BAD_REQUEST,
	    "ShardIterator: shard iterator does not begin with a stream ARN", NULL, 0, { { 0 } } },
	{ "GetRecords iterator of a table", STREAMS("GetRecords"),
	    "{\"ShardIterator\":\"" OURS "table/Music|1|AAAA\"}", INSPECT_BAD_REQUEST,
	    "ShardIterator: shard iterator does not begin with a stream ARN", NULL, 0, { { 0 } } },
	{ "GetShardIterator", STREAMS("GetShardIterator"),
	    "{\"StreamArn\":\"" STREAM "\",\"ShardId\":\"x\"}", INSPECT_OK, NULL, NULL, 1,
	    { { INSPECT_STREAM, STREAM, "Music", NULL } } },
	{ "CreateGlobalTable", DDB("CreateGlobalTable"),
	    "{\"GlobalTableName\":\"Music\",\"ReplicationGroup\":[{\"RegionName\":\"us-east-1\"}]}",
	    INSPECT_OK, NULL, NULL, 1,
	    { { INSPECT_GLOBAL_TABLE, "arn:aws:dynamodb::" ACCT ":global-table/Music", NULL,
		NULL } } },
	{ "TagResource index", DDB("TagResource"),
	    "{\"ResourceArn\":\"" OURS "table/Music/index/ByArtist\",\"Tags\":[]}", INSPECT_OK, NULL,
	    "Music", 1,
	    { { INSPECT_INDEX, OURS "table/Music/index/ByArtist", "Music", "ByArtist" } } },
	{ "TagResource foreign service", DDB("TagResource"),
	    "{\"ResourceArn\":\"arn:aws:s3:::bucket\"}", INSPECT_BAD_REQUEST,
	    "ResourceArn: not a DynamoDB ARN", NULL, 0, { { 0 } } },
	{ "Kinesis StreamArn is not ours", DDB("EnableKinesisStreamingDestination"),
	    "{\"TableName\":\"Music\",\"StreamArn\":\"arn:aws:kinesis:us-east-1:" ACCT
	    ":stream/s\"}",
	    INSPECT_OK, NULL, "Music", 1, { { INSPECT_TABLE, OURS "table/Music", "Music", NULL } } },
	{ "ExportTableToPointInTime wants an ARN", DDB("ExportTableToPointInTime"),
	    "{\"TableArn\":\"Music\"}", INSPECT_BAD_REQUEST, "TableArn: not a DynamoDB table ARN", NULL,
	    0, { { 0 } } },
	{ "DescribeExport", DDB("DescribeExport"),
	    "{\"ExportArn\":\"" OURS "table/Music/export/01234567890123-a1b2c3d4\"}", INSPECT_OK, NULL,
	    NULL, 1,
	    { { INSPECT_EXPORT, OURS "table/Music/export/01234567890123-a1b2c3d4", "Music",
		NULL } } },
	{ "DescribeImport", DDB("DescribeImport"),
	    "{\"ImportArn\":\"" OURS "table/Music/import/01234567890123-a1b2c3d4\"}", INSPECT_OK, NULL,
	    NULL, 1,
	    { { INSPECT_IMPORT, OURS "table/Music/import/01234567890123-a1b2c3d4", "Music",
		NULL } } },
	{ "CancelBulkOperation", DDB("CancelBulkOperation"),
	    "{\"BulkOperationArn\":\"" OURS "table/Music/bulk-operation/0123-abcd\"}", INSPECT_OK, NULL,
	    NULL, 1,
	    { { INSPECT_BULK_OPERATION, OURS "table/Music/bulk-operation/0123-abcd", NULL, NULL } } },
	/* Fail closed on names DynamoDB would refuse and on types it would not read. */
	{ "bad table name", DDB("GetItem"), "{\"TableName\":\"no way\"}", INSPECT_BAD_REQUEST,
	    "TableName: invalid table name", NULL, 0, { { 0 } } },
	{ "short table name", DDB("GetItem"), "{\"TableName\":\"ab\"}", INSPECT_BAD_REQUEST,
	    "TableName: invalid table name", NULL, 0, { { 0 } } },
	{ "empty table name", DDB("GetItem"), "{\"TableName\":\"\"}", INSPECT_BAD_REQUEST,
	    "TableName: invalid table name", NULL, 0, { { 0 } } },
	{ "index ARN as TableName", DDB("GetItem"),
	    "{\"TableName\":\"" OURS "table/Music/index/ByArtist\"}", INSPECT_BAD_REQUEST,
	    "TableName: not a DynamoDB table ARN", NULL, 0, { { 0 } } },
	{ "garbage ARN as TableName", DDB("GetItem"), "{\"TableName\":\"arn:aws:dynamodb\"}",
	    INSPECT_BAD_REQUEST, "TableName: not a DynamoDB table ARN", NULL, 0, { { 0 } } },
	{ "TableName number", DDB("GetItem"), "{\"TableName\":1}", INSPECT_BAD_REQUEST,
	    "TableName: expected a string", NULL, 0, { { 0 } } },
	{ "TableName null", DDB("GetItem"), "{\"TableName\":null}", INSPECT_BAD_REQUEST,
	    "TableName: expected a string", NULL, 0, { { 0 } } },
	{ "TableName array", DDB("PutItem"), "{\"TableName\":[\"Music\"]}", INSPECT_BAD_REQUEST,
	    "TableName: expected a string", NULL, 0, { { 0 } } },
	{ "body not an object", DDB("GetItem"), "[]", INSPECT_BAD_REQUEST,
	    "request body: expected an object", NULL, 0, { { 0 } } },
	{ "bad global table name", DDB("DescribeGlobalTable"), "{\"GlobalTableName\":\"a/b\"}",
	    INSPECT_BAD_REQUEST, "GlobalTableName: invalid global table name", NULL, 0, { { 0 } } },
	/* One resource per (type, ARN), however it was spelled. */
	{ "dedup name and ARN", DDB("TransactWriteItems"),
	    "{\"TransactItems\":[{\"Put\":{\"TableName\":\"Music\"}},"
	    "{\"Put\":{\"TableName\":\"" OURS "table/Music\"}},{\"Put\":{\"TableName\":\"Music\"}}]}",
	    INSPECT_OK, NULL, "Music", 1, { { INSPECT_TABLE, OURS "table/Music", "Music", NULL } } },
	{ "ListTagsOfResource table", DDB("ListTagsOfResource"),
	    "{\"ResourceArn\":\"" OURS "table/Music\"}", INSPECT_OK, NULL, "Music", 1,
	    { { INSPECT_TABLE, OURS "table/Music", "Music", NULL } } },
};

static struct json_arena *
arena_setup(void)
{
	struct json_arena *a = json_arena_new(4096);

	assert_non_null(a);
	return a;
}

static const struct catalog_action *
action_of(const char *target)
{
	const struct catalog_action *a = NULL;

	assert_int_equal(catalog_lookup_target(target, strlen(target), &a), CATALOG_FOUND);
	return a;
}

static cJSON *
parse(const char *body)
{
	cJSON *j = cJSON_ParseWithLength(body, strlen(body));

	if (j == NULL)
		fail_msg("test body does not parse: %s", body);
	return j;
}

static void
assert_opt_string(const char *label, const char *what, const char *got, const char *want)
{
	if (want == NULL && got == NULL)
		return;
	if (want == NULL || got == NULL || strcmp(got, want) != 0)
		fail_msg("%s: %s is %s, want %s", label, what, got ? got : "NULL", want ? want : "NULL");
}

static void
check_case(const struct inspect_case *c, struct json_arena *arena, struct inspect_result *out)
{
	const struct catalog_action *action = action_of(c->op);
	char why[160];
	cJSON *body = parse(c->body);
	enum inspect_status st;
	size_t i;

	memset(why, 'x', sizeof(why));
	st = inspect_request(action, body, &scope, arena, out, why, sizeof(why));
	cJSON_Delete(body);
	if (st != c->status)
		fail_msg("%s: status %d, want %d (%s)", c->label, st, c->status, why);
	if (st != INSPECT_OK) {
		if (c->why != NULL && strcmp(why, c->why) != 0)
			fail_msg("%s: why \"%s\", want \"%s\"", c->label, why, c->why);
		if (why[0] == '\0')
			fail_msg("%s: empty why", c->label);
		return;
	}
	assert_string_equal(why, "");
	if (out->n != c->n)
		fail_msg("%s: %zu resources, want %zu", c->label, out->n, c->n);
	for (i = 0; i < c->n; i++) {
		const struct inspect_resource *r = &out->res[i];

		if (r->type != c->res[i].type)
			fail_msg("%s: resource %zu has type %s", c->label, i, inspect_type_name(r->type));
		assert_opt_string(c->label, "arn", r->arn, c->res[i].arn);
		assert_opt_string(c->label, "table", r->table, c->res[i].table);
		assert_opt_string(c->label, "name", r->name, c->res[i].name);
		assert_non_null(r->location);
	}
	assert_opt_string(c->label, "primary_table", out->primary_table, c->primary);
}

static void
test_cases(void **state)
{
	struct json_arena *arena = arena_setup();
	struct inspect_result *out = malloc(sizeof(*out));
	size_t i;

	assert_non_null(out);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* A result left from the previous case must not leak into this one. */
		out->n = 3;
		out->primary_table = "stale";
		check_case(&cases[i], arena, out);
		json_arena_reset(arena);
	}
	free(out);
	json_arena_free(arena);
}

/* Resources say which catalog location named them. */
static void
test_location_is_reported(void **state)
{
	struct json_arena *arena = arena_setup();
	struct inspect_result *out = malloc(sizeof(*out));
	cJSON *body = parse("{\"TransactItems\":[{\"Update\":{\"TableName\":\"Beta\"}}]}");
	char why[160];

	assert_non_null(out);
	assert_int_equal(inspect_request(action_of(DDB("TransactWriteItems")), body, &scope, arena, out,
			     why, sizeof(why)),
	    INSPECT_OK);
	assert_int_equal(out->n, 1);
	assert_string_equal(out->res[0].location, "TransactItems[].Update.TableName");
	cJSON_Delete(body);
	free(out);
	json_arena_free(arena);
}

/* A body naming n distinct tables through BatchGetItem's RequestItems. */
static cJSON *
batch_get_of(size_t n)
{
	cJSON *body = cJSON_CreateObject(), *items = cJSON_AddObjectToObject(body, "RequestItems");
	char name[32];
	size_t i;

	assert_non_null(items);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "table%05zu", i);
		assert_non_null(cJSON_AddObjectToObject(items, name));
	}
	return body;
}

static void
test_too_many(void **state)
{
	struct json_arena *arena = arena_setup();
	struct inspect_result *out = malloc(sizeof(*out));
	cJSON *body;
	char why[160];

	assert_non_null(out);
	body = batch_get_of(INSPECT_MAX_RESOURCES);
	assert_int_equal(inspect_request(action_of(DDB("BatchGetItem")), body, &scope, arena, out, why,
			     sizeof(why)),
	    INSPECT_OK);
	assert_int_equal(out->n, INSPECT_MAX_RESOURCES);
	assert_string_equal(out->res[INSPECT_MAX_RESOURCES - 1].arn, OURS "table/table00255");
	cJSON_Delete(body);
	json_arena_reset(arena);

	body = batch_get_of(INSPECT_MAX_RESOURCES + 1);
	assert_int_equal(inspect_request(action_of(DDB("BatchGetItem")), body, &scope, arena, out, why,
			     sizeof(why)),
	    INSPECT_TOO_MANY);
	assert_non_null(strstr(why, "RequestItems{#256}"));
	cJSON_Delete(body);
	free(out);
	json_arena_free(arena);
}

/* Duplicates do not count towards the limit. */
static void
test_duplicates_do_not_count(void **state)
{
	struct json_arena *arena = arena_setup();
	struct inspect_result *out = malloc(sizeof(*out));
	cJSON *body = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(body, "TransactItems");
	char why[160];
	size_t i;

	assert_non_null(out);
	for (i = 0; i < 2 * INSPECT_MAX_RESOURCES; i++) {
		cJSON *it = cJSON_CreateObject(), *put = cJSON_AddObjectToObject(it, "Put");

		assert_non_null(cJSON_AddStringToObject(put, "TableName", "Music"));
		cJSON_AddItemToArray(items, it);
	}
	assert_int_equal(inspect_request(action_of(DDB("TransactWriteItems")), body, &scope, arena, out,
			     why, sizeof(why)),
	    INSPECT_OK);
	assert_int_equal(out->n, 1);
	cJSON_Delete(body);
	free(out);
	json_arena_free(arena);
}

/* Scope comes from config: a missing piece is refused, not guessed. */
static void
test_scope_required(void **state)
{
	static const struct inspect_scope no_account = { "aws", "us-east-1", NULL };
	struct json_arena *arena = arena_setup();
	struct inspect_result *out = malloc(sizeof(*out));
	cJSON *body = parse("{\"TableName\":\"Music\"}");
	char why[160];

	assert_non_null(out);
	assert_int_equal(inspect_request(action_of(DDB("GetItem")), body, &no_account, arena, out, why,
			     sizeof(why)),
	    INSPECT_BAD_REQUEST);
	assert_int_equal(inspect_request(action_of(DDB("GetItem")), body, NULL, arena, out, why,
			     sizeof(why)),
	    INSPECT_BAD_REQUEST);
	assert_int_equal(inspect_request(NULL, body, &scope, arena, out, why, sizeof(why)),
	    INSPECT_BAD_REQUEST);
	assert_int_equal(inspect_request(action_of(DDB("GetItem")), NULL, &scope, arena, out, why,
			     sizeof(why)),
	    INSPECT_BAD_REQUEST);
	cJSON_Delete(body);
	free(out);
	json_arena_free(arena);
}

/* A why buffer shorter than the message is cut, still terminated. */
static void
test_short_why(void **state)
{
	struct json_arena *arena = arena_setup();
	struct inspect_result *out = malloc(sizeof(*out));
	cJSON *body = parse("{\"TableName\":1}");
	char why[8];

	assert_non_null(out);
	assert_int_equal(inspect_request(action_of(DDB("GetItem")), body, &scope, arena, out, why,
			     sizeof(why)),
	    INSPECT_BAD_REQUEST);
	assert_string_equal(why, "TableNa");
	assert_int_equal(inspect_request(action_of(DDB("GetItem")), body, &scope, arena, out, NULL, 0),
	    INSPECT_BAD_REQUEST);
	cJSON_Delete(body);
	free(out);
	json_arena_free(arena);
}

/*
 * The path the proxy takes: the strict parser into the arena, with the
 * catalog's data-map members, then the inspector on the same arena. Attribute
 * names differing in case are user data; member names differing in case are
 * refused before the inspector could read the "wrong" one.
 */
static void
test_through_strict_parser(void **state)
{
	static const char ok[] =
	    "{\"TableName\":\"Music\",\"Item\":{\"TableName\":{\"S\":\"x\"},\"tablename\":{\"S\":\"y\"}}}";
	static const char twice[] = "{\"TableName\":\"Music\",\"tableName\":\"Secret\"}";
	const struct json_opts opts = { .data_map_members = catalog_data_map_members,
		.n_data_map_members = catalog_n_data_map_members };
	struct json_arena *arena = arena_setup();
	struct inspect_result *out = malloc(sizeof(*out));
	struct json_error err;
	const cJSON *body;
	char why[160];

	assert_non_null(out);
	body = json_arena_parse(arena, ok, sizeof(ok) - 1, &opts, &err);
	assert_non_null(body);
	assert_int_equal(inspect_request(action_of(DDB("PutItem")), body, &scope, arena, out, why,
			     sizeof(why)),
	    INSPECT_OK);
	assert_int_equal(out->n, 1);
	assert_string_equal(out->res[0].arn, OURS "table/Music");
	json_arena_reset(arena);
	assert_null(json_arena_parse(arena, twice, sizeof(twice) - 1, &opts, &err));
	free(out);
	json_arena_free(arena);
}

/* PartiQL calls also carry what the statements do, and a redacted copy for the log. */
static void
test_partiql_facts(void **state)
{
	static const char body[] =
	    "{\"Statements\":[{\"Statement\":\"SELECT * FROM Music WHERE Year > 1990 AND Title = 'secret'\"},"
	    "{\"Statement\":\"DELETE FROM Music WHERE pk = 'x'\"}]}";
	const struct catalog_action *a = NULL;
	struct json_arena *arena = json_arena_new(4096);
	struct inspect_result *out = calloc(1, sizeof(*out));
	struct json_error jerr;
	char why[200] = "";
	cJSON *root;

	assert_int_equal(catalog_lookup_target(DDB("BatchExecuteStatement"), strlen(DDB("BatchExecuteStatement")), &a),
	    CATALOG_FOUND);
	root = json_arena_parse(arena, body, strlen(body), NULL, &jerr);
	assert_non_null(root);
	assert_int_equal(inspect_request(a, root, &scope, arena, out, why, sizeof(why)), INSPECT_OK);
	assert_int_equal(out->n, 1);
	assert_int_equal(out->partiql_verbs, (1u << PARTIQL_SELECT) | (1u << PARTIQL_DELETE));
	assert_non_null(out->partiql_statement);
	assert_null(strstr(out->partiql_statement, "secret"));
	assert_null(strstr(out->partiql_statement, "1990"));
	assert_non_null(strstr(out->partiql_statement, "Music"));
	free(out);
	json_arena_free(arena);
}

static void
test_type_names(void **state)
{
	assert_string_equal(inspect_type_name(INSPECT_TABLE), "table");
	assert_string_equal(inspect_type_name(INSPECT_INDEX), "index");
	assert_string_equal(inspect_type_name(INSPECT_STREAM), "stream");
	assert_string_equal(inspect_type_name(INSPECT_GLOBAL_TABLE), "global-table");
	assert_string_equal(inspect_type_name(INSPECT_BULK_OPERATION), "bulk-operation");
	assert_string_equal(inspect_type_cloudtrail(INSPECT_TABLE), "AWS::DynamoDB::Table");
	assert_string_equal(inspect_type_cloudtrail(INSPECT_STREAM), "AWS::DynamoDB::Stream");
	assert_string_equal(inspect_type_name((enum inspect_type)99), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_location_is_reported),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_duplicates_do_not_count),
		cmocka_unit_test(test_scope_required),
		cmocka_unit_test(test_short_why),
		cmocka_unit_test(test_through_strict_parser),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_partiql_facts),
	};

	json_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
