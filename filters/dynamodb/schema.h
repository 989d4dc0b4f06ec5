/*
 * schema: what DynamoDB's table descriptions would say about a table, as far
 * as ddbguard needs it (dynamodb:LeadingKeys, exact dynamodb:FullTableScan
 * for PartiQL). The config loader fills it from "tables" (config/README.md);
 * filters/policy/condkeys.c reads it. A plain description: no functions.
 */
#ifndef DDBGUARD_FILTERS_DYNAMODB_SCHEMA_H
#define DDBGUARD_FILTERS_DYNAMODB_SCHEMA_H

struct table_schema {
	char *table;	     /* table name in our account and region */
	char *partition_key; /* attribute name of its partition (hash) key */
};

#endif
