/*
 * arn: DynamoDB ARNs, parsed strictly and printed canonically.
 *
 *   arn:<partition>:dynamodb:<region>:<account>:table/<name>
 *   ...:table/<name>/index/<index>
 *   ...:table/<name>/stream/<label>
 *   ...:table/<name>/backup/<id>
 *   ...:table/<name>/export/<id>
 *   ...:table/<name>/import/<id>
 *   arn:<partition>:dynamodb::<account>:global-table/<name>
 *
 * Table and index names follow DynamoDB's rules: 3-255 characters of
 * [A-Za-z0-9_.-]. Anything else does not parse.
 */
#ifndef DDBGUARD_FILTERS_ARN_H
#define DDBGUARD_FILTERS_ARN_H

#include <stdbool.h>
#include <stddef.h>

enum arn_kind {
	ARN_TABLE,
	ARN_INDEX,
	ARN_STREAM,
	ARN_BACKUP,
	ARN_EXPORT,
	ARN_IMPORT,
	ARN_GLOBAL_TABLE,
	ARN_BULK_OPERATION, /* table/<name>/bulk-operation/<id>: XXX shape not in the 2012 model, assumed */
};

/* Slices point into the parsed string; nothing is allocated. */
struct arn_slice {
	const char *p;
	size_t len;
};

struct arn {
	enum arn_kind kind;
	struct arn_slice partition, region, account;
	struct arn_slice table; /* or global table name */
	struct arn_slice sub;	/* index name, stream label, backup/export/import id */
};

bool arn_parse(const char *s, size_t len, struct arn *out);
/*
 * Prints `a` canonically into buf (NUL-terminated); false if it does not fit
 * in `size` bytes. ARN_MAX_FORMAT is always enough for a parsed ARN.
 */
#define ARN_MAX_FORMAT 1100
bool arn_format(const struct arn *a, char *buf, size_t size);
bool arn_valid_table_name(const char *s, size_t len);
/*
 * Partition of a region name: "aws-cn" for cn-*, "aws-us-gov" for us-gov-*,
 * the ISO and EUSC partitions for theirs (us-iso-*, us-isob-*, ...), else "aws".
 */
const char *arn_partition_for_region(const char *region);

#endif
