/*
 * inspect: finds every resource a request body names, following the catalog's
 * locations for the action, and turns each into the ARN that policy matches.
 *
 * Names become ARNs in "our" partition, region and account (the upstream's
 * region, the configured account id). ARNs given in the request are parsed
 * and normalised, and keep their own account and region, so a table of
 * another account never matches a rule written for ours.
 */
#ifndef DDBGUARD_FILTERS_INSPECT_H
#define DDBGUARD_FILTERS_INSPECT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "filters/dynamodb/catalog.h"
#include "filters/dynamodb/json.h"

enum inspect_type {
	INSPECT_TABLE,
	INSPECT_INDEX,
	INSPECT_STREAM,
	INSPECT_BACKUP,
	INSPECT_EXPORT,
	INSPECT_IMPORT,
	INSPECT_GLOBAL_TABLE,
	INSPECT_BULK_OPERATION,
};

struct inspect_resource {
	enum inspect_type type;
	const char *arn;   /* normalised ARN, what policy Resource patterns match */
	const char *table; /* table name (NULL for global tables / bulk operations) */
	const char *name;  /* index name for INSPECT_INDEX, else NULL */
	const char *location; /* catalog location path it came from */
};

/* Generous: TransactWriteItems allows 100 items, BatchGetItem 100 tables. */
#define INSPECT_MAX_RESOURCES 256

struct inspect_result {
	size_t n;
	struct inspect_resource res[INSPECT_MAX_RESOURCES];
	/* First table named (after normalising), for requestParameters.tableName. */
	const char *primary_table;
	/* PartiQL calls: the verbs of all statements (bit 1 << enum partiql_verb) and the first
	 * statement with its literals redacted, for the log. (FullTableScan: filters/policy/condkeys.c.) */
	unsigned partiql_verbs;
	const char *partiql_statement;
	/* Resources named by a bare name (or in PartiQL): AWS resolves them in the signer's account. */
	size_t named_without_account;
};

/* Who "we" are when a bare name has to become an ARN. */
struct inspect_scope {
	const char *partition; /* "aws", "aws-cn", "aws-us-gov" */
	const char *region;    /* "us-east-1" */
	const char *account;   /* "123456789012" */
};

enum inspect_status {
	INSPECT_OK,
	INSPECT_BAD_REQUEST, /* a resource member has the wrong JSON type, an ARN does not parse ... */
	INSPECT_TOO_MANY,    /* more than INSPECT_MAX_RESOURCES */
};

/*
 * Fills `out` (which the caller provides; it is reset first). Strings are
 * allocated in `arena` and live until it is reset. On failure `why` (at least
 * 160 bytes) says what was wrong, e.g. "TransactItems[3].Put.TableName: expected a string".
 *
 * Duplicate resources are reported once. A top-level IndexName turns the
 * table resource of that object into the index ARN, as IAM authorizes
 * Query/Scan on an index against table/T/index/I.
 */
enum inspect_status inspect_request(const struct catalog_action *action, const cJSON *body,
    const struct inspect_scope *scope, struct json_arena *arena, struct inspect_result *out,
    char *why, size_t why_len);

const char *inspect_type_name(enum inspect_type t); /* "table", "index", ... */
/* CloudTrail resource type: "AWS::DynamoDB::Table", "AWS::DynamoDB::Stream", ... */
const char *inspect_type_cloudtrail(enum inspect_type t);

#endif
