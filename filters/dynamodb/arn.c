/*
 * arn: strict parser for DynamoDB ARNs (see arn.h for the accepted forms).
 *
 * Whatever this accepts ends up compared against policy Resource patterns,
 * so it accepts only what DynamoDB itself would produce: one spelling per
 * resource, no empty or extra path segments, no trailing bytes.
 * Format: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
 */
#include <stdio.h>
#include <string.h>

#include "filters/dynamodb/arn.h"

/* DynamoDB documents ARN members as at most 1024 characters. */
#define ARN_MAX_LEN 1024
#define ARN_PARTITION_MAX 32
#define ARN_REGION_MAX 32
#define ARN_ACCOUNT_LEN 12
#define ARN_NAME_MIN 3
#define ARN_NAME_MAX 255
#define ARN_SUB_ID_MAX 255

static bool
slice_eq(struct arn_slice s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && memcmp(s.p, lit, n) == 0;
}

static bool
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Lower-case words joined by single hyphens, e.g. "aws-us-gov", "us-gov-west-1":
 * no leading, trailing or doubled '-'.
 */
static bool
valid_dashed(struct arn_slice s, size_t max, bool digits)
{
	size_t i;

	if (s.len == 0 || s.len > max || s.p[0] == '-' || s.p[s.len - 1] == '-')
		return false;
	for (i = 0; i < s.len; i++) {
		char c = s.p[i];

		if (c == '-' && s.p[i - 1] == '-')
			return false;
		if (!is_lower(c) && c != '-' && !(digits && is_digit(c)))
			return false;
	}
	return true;
}

/* Every AWS partition name begins with "aws" (aws, aws-cn, aws-us-gov, aws-iso-b ...). */
static bool
valid_partition(struct arn_slice s)
{
	return s.len >= 3 && memcmp(s.p, "aws", 3) == 0 && valid_dashed(s, ARN_PARTITION_MAX, false);
}

static bool
valid_account(struct arn_slice s)
{
	size_t i;

	if (s.len != ARN_ACCOUNT_LEN)
		return false;
	for (i = 0; i < s.len; i++)
		if (!is_digit(s.p[i]))
			return false;
	return true;
}

bool
arn_valid_table_name(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len < ARN_NAME_MIN || len > ARN_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!is_lower(c) && !(c >= 'A' && c <= 'Z') && !is_digit(c) && c != '_' && c != '.' &&
		    c != '-')
			return false;
	}
	return true;
}

/*
 * Stream labels (a timestamp, "2015-05-11T21:21:33.291") and backup, export
 * and import ids ("01489602797149-73d8d5bc"): visible ASCII without '/'.
 * '*' and '?' are refused too: no real id contains them, and a value that
 * looks like a wildcard has no business reaching the policy matcher.
 */
static bool
valid_sub_id(struct arn_slice s)
{
	size_t i;

	if (s.len == 0 || s.len > ARN_SUB_ID_MAX)
		return false;
	for (i = 0; i < s.len; i++) {
		char c = s.p[i];

		if (c < 0x21 || c > 0x7e || c == '/' || c == '*' || c == '?')
			return false;
	}
	return true;
}

/* Cuts the text up to the next `sep` off *p; false if there is none. */
static bool
next_field(const char **p, const char *end, char sep, struct arn_slice *out)
{
	const char *q = memchr(*p, sep, (size_t)(end - *p));

	if (q == NULL)
		return false;
	out->p = *p;
	out->len = (size_t)(q - *p);
	*p = q + 1;
	return true;
}

/* The sub-resources of a table, by the path word that introduces them. */
static const struct {
	const char *word;
	enum arn_kind kind;
} table_subs[] = {
	{ "index", ARN_INDEX },
	{ "stream", ARN_STREAM },
	{ "backup", ARN_BACKUP },
	{ "export", ARN_EXPORT },
	{ "import", ARN_IMPORT },
	{ "bulk-operation", ARN_BULK_OPERATION },
};

/* "<name>[/<word>/<id>]" after "table/". */
static bool
parse_table_resource(const char *p, const char *end, struct arn *out)
{
	struct arn_slice word;
	size_t i;

	if (!next_field(&p, end, '/', &out->table)) {
		out->table.p = p;
		out->table.len = (size_t)(end - p);
		out->kind = ARN_TABLE;
		return arn_valid_table_name(out->table.p, out->table.len);
	}
	if (!arn_valid_table_name(out->table.p, out->table.len))
		return false;
	if (!next_field(&p, end, '/', &word))
		return false;
	out->sub.p = p;
	out->sub.len = (size_t)(end - p);
	for (i = 0; i < sizeof(table_subs) / sizeof(table_subs[0]); i++) {
		if (!slice_eq(word, table_subs[i].word))
			continue;
		out->kind = table_subs[i].kind;
		if (out->kind == ARN_INDEX)
			return arn_valid_table_name(out->sub.p, out->sub.len);
		return valid_sub_id(out->sub);
	}
	return false;
}

/* "<name>" after "global-table/": global tables have no sub-resources. */
static bool
parse_global_table_resource(const char *p, const char *end, struct arn *out)
{
	out->kind = ARN_GLOBAL_TABLE;
	out->table.p = p;
	out->table.len = (size_t)(end - p);
	return memchr(p, '/', (size_t)(end - p)) == NULL &&
	    arn_valid_table_name(out->table.p, out->table.len);
}

bool
arn_parse(const char *s, size_t len, struct arn *out)
{
	const char *p, *end;
	struct arn_slice prefix, service, type;
	struct arn a;

	if (s == NULL || len > ARN_MAX_LEN)
		return false;
	memset(&a, 0, sizeof(a));
	p = s;
	end = s + len;
	/* The resource (last field) may itself hold ':' (stream labels do). */
	if (!next_field(&p, end, ':', &prefix) || !slice_eq(prefix, "arn") ||
	    !next_field(&p, end, ':', &a.partition) || !valid_partition(a.partition) ||
	    !next_field(&p, end, ':', &service) || !slice_eq(service, "dynamodb") ||
	    !next_field(&p, end, ':', &a.region) || !next_field(&p, end, ':', &a.account) ||
	    !valid_account(a.account) || !next_field(&p, end, '/', &type))
		return false;
	if (slice_eq(type, "table")) {
		if (!valid_dashed(a.region, ARN_REGION_MAX, true) || !parse_table_resource(p, end, &a))
			return false;
	} else if (slice_eq(type, "global-table")) {
		/* Global tables span regions: their ARN has an empty region. */
		if (a.region.len != 0 || !parse_global_table_resource(p, end, &a))
			return false;
	} else {
		return false;
	}
	*out = a;
	return true;
}

static const char *
table_sub_word(enum arn_kind kind)
{
	size_t i;

	for (i = 0; i < sizeof(table_subs) / sizeof(table_subs[0]); i++)
		if (table_subs[i].kind == kind)
			return table_subs[i].word;
	return NULL;
}

bool
arn_format(const struct arn *a, char *buf, size_t size)
{
	const char *word = table_sub_word(a->kind);
	int n;

	/* Slices built by a caller, not by arn_parse(), must still fit "%.*s". */
	if (a->partition.len > ARN_MAX_LEN || a->region.len > ARN_MAX_LEN ||
	    a->account.len > ARN_MAX_LEN || a->table.len > ARN_MAX_LEN || a->sub.len > ARN_MAX_LEN)
		return false;
	if (a->kind == ARN_GLOBAL_TABLE)
		n = snprintf(buf, size, "arn:%.*s:dynamodb::%.*s:global-table/%.*s",
		    (int)a->partition.len, a->partition.p, (int)a->account.len, a->account.p,
		    (int)a->table.len, a->table.p);
	else if (a->kind == ARN_TABLE)
		n = snprintf(buf, size, "arn:%.*s:dynamodb:%.*s:%.*s:table/%.*s",
		    (int)a->partition.len, a->partition.p, (int)a->region.len, a->region.p,
		    (int)a->account.len, a->account.p, (int)a->table.len, a->table.p);
	else if (word != NULL)
		n = snprintf(buf, size, "arn:%.*s:dynamodb:%.*s:%.*s:table/%.*s/%s/%.*s",
		    (int)a->partition.len, a->partition.p, (int)a->region.len, a->region.p,
		    (int)a->account.len, a->account.p, (int)a->table.len, a->table.p, word,
		    (int)a->sub.len, a->sub.p);
	else
		return false;
	return n >= 0 && (size_t)n < size;
}

/*
 * Region prefixes of the partitions other than "aws", longest first where
 * one is a prefix of another ("us-isob-" before "us-iso-").
 */
static const struct {
	const char *prefix;
	const char *partition;
} region_partitions[] = {
	{ "cn-", "aws-cn" },
	{ "us-gov-", "aws-us-gov" },
	{ "us-isob-", "aws-iso-b" },
	{ "us-isof-", "aws-iso-f" },
	{ "us-iso-", "aws-iso" },
	{ "eu-isoe-", "aws-iso-e" },
	{ "eusc-", "aws-eusc" },
};

const char *
arn_partition_for_region(const char *region)
{
	size_t i;

	if (region == NULL)
		return "aws";
	for (i = 0; i < sizeof(region_partitions) / sizeof(region_partitions[0]); i++) {
		const char *pre = region_partitions[i].prefix;

		if (strncmp(region, pre, strlen(pre)) == 0)
			return region_partitions[i].partition;
	}
	return "aws";
}
