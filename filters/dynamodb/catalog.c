/*
 * catalog: lookups over the generated action table (catalog_gen.c, which
 * also provides catalog_count() and catalog_at()).
 */
#include <string.h>

#include "filters/dynamodb/catalog.h"

/*
 * X-Amz-Target prefixes, matched exactly and case-sensitively: DynamoDB
 * answers UnknownOperationException to "dynamodb_20120810.GetItem", so a
 * lenient match here would authorize a request the service reads differently.
 * The 2011-12-05 API (DynamoDB_20111205.) has other semantics and is refused.
 */
static const struct {
	const char *prefix;
	size_t len;
	enum catalog_service service;
} target_prefixes[] = {
	{ "DynamoDB_20120810.", sizeof("DynamoDB_20120810.") - 1, CATALOG_SVC_DYNAMODB },
	{ "DynamoDBStreams_20120810.", sizeof("DynamoDBStreams_20120810.") - 1, CATALOG_SVC_STREAMS },
};

/* Orders (service, name[0..len)) against an action, as the table is sorted. */
static int
catalog_cmp(enum catalog_service service, const char *name, size_t len,
    const struct catalog_action *a)
{
	size_t alen;
	int c;

	if (service != a->service)
		return service < a->service ? -1 : 1;
	alen = strlen(a->name);
	c = memcmp(name, a->name, len < alen ? len : alen);
	if (c != 0)
		return c;
	if (len == alen)
		return 0;
	return len < alen ? -1 : 1;
}

static const struct catalog_action *
catalog_bsearch(enum catalog_service service, const char *name, size_t len)
{
	size_t lo = 0, hi = catalog_api_count(); /* IAM-only actions follow, unsorted with these */

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct catalog_action *a = catalog_at(mid);
		int c = catalog_cmp(service, name, len, a);

		if (c == 0)
			return a->iam_only ? NULL : a;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

enum catalog_lookup_status
catalog_lookup_target(const char *target, size_t len, const struct catalog_action **out)
{
	size_t i;

	*out = NULL;
	if (target == NULL)
		return CATALOG_UNKNOWN_PREFIX;
	for (i = 0; i < sizeof(target_prefixes) / sizeof(target_prefixes[0]); i++) {
		size_t plen = target_prefixes[i].len;

		if (len < plen || memcmp(target, target_prefixes[i].prefix, plen) != 0)
			continue;
		*out = catalog_bsearch(target_prefixes[i].service, target + plen, len - plen);
		return *out != NULL ? CATALOG_FOUND : CATALOG_UNKNOWN_OPERATION;
	}
	return CATALOG_UNKNOWN_PREFIX;
}

/* ASCII only: strcasecmp() would follow the locale (Turkish dotless i). */
static int
ascii_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca >= 'A' && ca <= 'Z')
			ca = (unsigned char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (unsigned char)(cb - 'A' + 'a');
		if (ca != cb || ca == '\0')
			return ca - cb;
	}
}

/*
 * IAM action names are case-insensitive ("dynamodb:getitem" in a policy
 * means dynamodb:GetItem), so policy files may spell them either way. Used
 * at config load only: a linear scan is fine.
 */
const struct catalog_action *
catalog_find_iam(const char *iam_action)
{
	size_t i, n = catalog_count();

	if (iam_action == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct catalog_action *a = catalog_at(i);

		if (ascii_casecmp(iam_action, a->iam_action) == 0)
			return a;
	}
	return NULL;
}

const char *
catalog_class_name(enum catalog_class c)
{
	switch (c) {
	case CATALOG_CLASS_READ:
		return "read";
	case CATALOG_CLASS_WRITE:
		return "write";
	case CATALOG_CLASS_ADMIN:
		return "admin";
	case CATALOG_CLASS_PARTIQL:
		return "partiql";
	}
	return "unknown";
}
