/*
 * catalog: what ddbguard knows about each DynamoDB and DynamoDB Streams
 * operation. The table itself (catalog_gen.c) is generated from the AWS
 * service models by filters/dynamodb/gen_catalog.py; this header is its interface.
 */
#ifndef DDBGUARD_FILTERS_CATALOG_H
#define DDBGUARD_FILTERS_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum catalog_service {
	CATALOG_SVC_DYNAMODB, /* X-Amz-Target: DynamoDB_20120810.<Op> */
	CATALOG_SVC_STREAMS,  /* X-Amz-Target: DynamoDBStreams_20120810.<Op> */
};

enum catalog_class {
	CATALOG_CLASS_READ,    /* item and stream-record reads */
	CATALOG_CLASS_WRITE,   /* item writes */
	CATALOG_CLASS_ADMIN,   /* control plane: tables, backups, exports, tags ... */
	CATALOG_CLASS_PARTIQL, /* ExecuteStatement and friends: the statement decides */
};

/* What a body location names. */
enum catalog_res {
	CATALOG_RES_TABLE,	  /* table name, or a table ARN (TableName accepts both) */
	CATALOG_RES_TABLE_ARN,	  /* must be a table ARN (TableArn, SourceTableArn) */
	CATALOG_RES_ANY_ARN,	  /* any DynamoDB ARN (ResourceArn) */
	CATALOG_RES_INDEX,	  /* index name, qualifies the table named in the same object */
	CATALOG_RES_STREAM_ARN,	  /* StreamArn */
	CATALOG_RES_SHARD_ITERATOR, /* ShardIterator: begins with "<stream ARN>|" */
	CATALOG_RES_BACKUP_ARN,
	CATALOG_RES_EXPORT_ARN,
	CATALOG_RES_IMPORT_ARN,
	CATALOG_RES_GLOBAL_TABLE, /* global table name */
	CATALOG_RES_BULK_OP_ARN,  /* BulkOperationArn */
	CATALOG_RES_PARTIQL,	  /* a PartiQL statement: the table (or index) it names */
};

enum catalog_step_kind {
	CATALOG_STEP_MEMBER, /* object member `member` */
	CATALOG_STEP_EACH,   /* every element of an array */
	CATALOG_STEP_KEYS,   /* every key of a map object: the key itself is the value */
	CATALOG_STEP_VALUES, /* every value of a map object */
};

struct catalog_step {
	enum catalog_step_kind kind;
	const char *member; /* CATALOG_STEP_MEMBER only */
};

#define CATALOG_MAX_STEPS 6

/* One place in the request body that names a resource, e.g. TransactItems[].Put.TableName. */
struct catalog_location {
	const char *path; /* for humans and logs: "TransactItems[].Put.TableName", "RequestItems{}" */
	enum catalog_res res;
	uint8_t nsteps;
	struct catalog_step steps[CATALOG_MAX_STEPS];
};

struct catalog_action {
	uint16_t id;		/* index in the catalog, 0 .. catalog_count()-1 */
	enum catalog_service service;
	const char *name;	/* "GetItem" */
	const char *iam_action; /* "dynamodb:GetItem" (Streams operations use dynamodb: too) */
	enum catalog_class class_;
	bool read_only;		/* CloudTrail readOnly */
	/*
	 * An action IAM policies name that no X-Amz-Target carries
	 * (dynamodb:PartiQLSelect, dynamodb:ConditionCheckItem ...): policies may
	 * grant or deny it, catalog_lookup_target() never returns it. Its id is
	 * at or past catalog_api_count().
	 */
	bool iam_only;
	uint8_t nlocations;
	const struct catalog_location *locations;
};

enum catalog_lookup_status {
	CATALOG_FOUND,
	CATALOG_UNKNOWN_PREFIX,	   /* not DynamoDB_20120810. / DynamoDBStreams_20120810. */
	CATALOG_UNKNOWN_OPERATION, /* right prefix, no such operation */
};

/* Resolves an X-Amz-Target value (exact, case-sensitive, as AWS does); never an iam_only action. */
enum catalog_lookup_status catalog_lookup_target(const char *target, size_t len,
    const struct catalog_action **out);

size_t catalog_count(void);	/* every action, IAM-only ones included: ids are 0 .. count-1 */
size_t catalog_api_count(void); /* the API operations: ids 0 .. api_count-1; the IAM-only ones follow */
const struct catalog_action *catalog_at(size_t id);

/* Case-insensitive lookup of "dynamodb:GetItem"-style IAM names; NULL if none. */
const struct catalog_action *catalog_find_iam(const char *iam_action);

/*
 * Sorted (strcmp) member names whose values are user-data maps (attribute maps
 * and lists of them), for json_opts.data_map_members. Generated from the model.
 */
extern const char *const catalog_data_map_members[];
extern const size_t catalog_n_data_map_members;

const char *catalog_class_name(enum catalog_class c); /* "read", "write", "admin", "partiql" */

#endif
