/*
 * condkeys: the per-call values of the condition keys (their list and types:
 * condkeys_defs.c).
 *
 * Keys in the "aws:" and "dynamodb:" namespaces carry IAM's meaning (IAM
 * "AWS global condition context keys"; Service Authorization Reference,
 * "Condition keys for Amazon DynamoDB"). Keys IAM does not define for
 * DynamoDB, but which decide what a call does to data outside the table
 * (where an export goes, which key encrypts, which regions get a replica),
 * are ours, under "ddbguard:". Where a body member gives a key its value is
 * data: the tables below, checked against the service model
 * (dynamodb-2012-08-10).
 */
#include "filters/policy/condkeys.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "filters/dynamodb/dynexpr.h"
#include "filters/dynamodb/json.h"
#include "filters/dynamodb/partiql.h"

#define CONDKEYS_NELEMS(t) (sizeof(t) / sizeof((t)[0]))

#define CONDKEYS_PATH_MAX 3

/* A single-valued key read from one body member of one action (NULL action: any action). */
static const struct condkeys_member {
	int key;
	const char *action;
	const char *path[CONDKEYS_PATH_MAX];
} condkeys_members[] = {
    /* IAM defines these for the calls that have the member (Query/Scan; item writes; most data calls). */
    {CONDKEY_SELECT, NULL, {"Select"}},
    {CONDKEY_RETURN_VALUES, NULL, {"ReturnValues"}},
    {CONDKEY_RETURN_CONSUMED_CAPACITY, NULL, {"ReturnConsumedCapacity"}},

    {CONDKEY_S3_BUCKET, "ExportTableToPointInTime", {"S3Bucket"}},
    {CONDKEY_S3_BUCKET_OWNER, "ExportTableToPointInTime", {"S3BucketOwner"}},
    {CONDKEY_S3_PREFIX, "ExportTableToPointInTime", {"S3Prefix"}},
    {CONDKEY_S3_SSE_ALGORITHM, "ExportTableToPointInTime", {"S3SseAlgorithm"}},
    {CONDKEY_S3_BUCKET, "ImportTable", {"S3BucketSource", "S3Bucket"}},
    {CONDKEY_S3_BUCKET_OWNER, "ImportTable", {"S3BucketSource", "S3BucketOwner"}},
    {CONDKEY_S3_PREFIX, "ImportTable", {"S3BucketSource", "S3KeyPrefix"}},

    {CONDKEY_SSE_ENABLED, "CreateTable", {"SSESpecification", "Enabled"}},
    {CONDKEY_SSE_TYPE, "CreateTable", {"SSESpecification", "SSEType"}},
    {CONDKEY_KMS_MASTER_KEY_ID, "CreateTable", {"SSESpecification", "KMSMasterKeyId"}},
    {CONDKEY_SSE_ENABLED, "UpdateTable", {"SSESpecification", "Enabled"}},
    {CONDKEY_SSE_TYPE, "UpdateTable", {"SSESpecification", "SSEType"}},
    {CONDKEY_KMS_MASTER_KEY_ID, "UpdateTable", {"SSESpecification", "KMSMasterKeyId"}},
    {CONDKEY_SSE_ENABLED, "RestoreTableFromBackup", {"SSESpecificationOverride", "Enabled"}},
    {CONDKEY_SSE_TYPE, "RestoreTableFromBackup", {"SSESpecificationOverride", "SSEType"}},
    {CONDKEY_KMS_MASTER_KEY_ID, "RestoreTableFromBackup", {"SSESpecificationOverride", "KMSMasterKeyId"}},
    {CONDKEY_SSE_ENABLED, "RestoreTableToPointInTime", {"SSESpecificationOverride", "Enabled"}},
    {CONDKEY_SSE_TYPE, "RestoreTableToPointInTime", {"SSESpecificationOverride", "SSEType"}},
    {CONDKEY_KMS_MASTER_KEY_ID, "RestoreTableToPointInTime", {"SSESpecificationOverride", "KMSMasterKeyId"}},
    {CONDKEY_SSE_ENABLED, "ImportTable", {"TableCreationParameters", "SSESpecification", "Enabled"}},
    {CONDKEY_SSE_TYPE, "ImportTable", {"TableCreationParameters", "SSESpecification", "SSEType"}},
    {CONDKEY_KMS_MASTER_KEY_ID, "ImportTable", {"TableCreationParameters", "SSESpecification", "KMSMasterKeyId"}},

    {CONDKEY_PITR_ENABLED,
     "UpdateContinuousBackups",
     {"PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"}},
    {CONDKEY_DELETION_PROTECTION_ENABLED, "CreateTable", {"DeletionProtectionEnabled"}},
    {CONDKEY_DELETION_PROTECTION_ENABLED, "UpdateTable", {"DeletionProtectionEnabled"}},

    {CONDKEY_KINESIS_STREAM_ARN, "EnableKinesisStreamingDestination", {"StreamArn"}},
    {CONDKEY_KINESIS_STREAM_ARN, "UpdateKinesisStreamingDestination", {"StreamArn"}},
    {CONDKEY_KINESIS_STREAM_ARN, "DisableKinesisStreamingDestination", {"StreamArn"}},
};

/* ddbguard:ReplicaRegions: one value per element of a list member. */
static const struct condkeys_list {
	const char *action;
	const char *list;
	const char *elem[2]; /* path inside each element */
} condkeys_lists[] = {
    {"UpdateTable", "ReplicaUpdates", {"Create", "RegionName"}},
    {"CreateGlobalTable", "ReplicationGroup", {"RegionName"}},
    {"UpdateGlobalTable", "ReplicaUpdates", {"Create", "RegionName"}},
};

enum condkeys_walk {
	WALK_ABSENT,
	WALK_BAD, /* an object on the way is of another JSON type */
	WALK_FOUND,
};

static enum condkeys_walk
condkeys_walk(const cJSON *v, const char *const *path, size_t npath, const cJSON **out)
{
	for (size_t i = 0; i < npath && path[i] != NULL; i++) {
		if (!cJSON_IsObject(v))
			return WALK_BAD;
		v = cJSON_GetObjectItemCaseSensitive(v, path[i]);
		if (v == NULL)
			return WALK_ABSENT;
	}
	*out = v;
	return WALK_FOUND;
}

static bool
condkeys_is_bool_key(int key)
{
	size_t n;

	return condkeys_registry(&n)[key].type == COND_T_BOOL; /* the table is in id order */
}

/* Text of a leaf for `key`'s type; NULL (matches nothing) for the wrong JSON type. */
static const char *
condkeys_leaf(int key, const cJSON *v)
{
	if (condkeys_is_bool_key(key))
		return cJSON_IsBool(v) ? (cJSON_IsTrue(v) ? "true" : "false") : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
condkeys_set_one(struct condkeys_request *cr, int key, const char *value)
{
	struct condkeys_slot *s = &cr->slot[key];

	cr->one[key] = value;
	s->present = true;
	s->n = 1;
	s->values = &cr->one[key];
}

static void
condkeys_from_member(struct condkeys_request *cr, int key)
{
	const cJSON *v;

	if (cr->action == NULL || cr->body == NULL)
		return;
	for (size_t i = 0; i < CONDKEYS_NELEMS(condkeys_members); i++) {
		const struct condkeys_member *m = &condkeys_members[i];

		if (m->key != key || (m->action != NULL && strcmp(m->action, cr->action->name) != 0))
			continue;
		switch (condkeys_walk(cr->body, m->path, CONDKEYS_PATH_MAX, &v)) {
		case WALK_ABSENT: return;
		case WALK_BAD: condkeys_set_one(cr, key, NULL); return;
		case WALK_FOUND: condkeys_set_one(cr, key, condkeys_leaf(key, v)); return;
		}
	}
}

static void
condkeys_add_region(struct condkeys_request *cr, size_t *n, const char *value)
{
	if (*n == CONDKEYS_MAX_VALUES) {
		cr->overflow = true;
		return;
	}
	cr->regions[(*n)++] = value;
}

static void
condkeys_replica_regions(struct condkeys_request *cr)
{
	struct condkeys_slot *s = &cr->slot[CONDKEY_REPLICA_REGIONS];
	const struct condkeys_list *l = NULL;
	const cJSON *list, *e, *v;
	size_t n = 0;

	if (cr->action == NULL || cr->body == NULL)
		return;
	for (size_t i = 0; i < CONDKEYS_NELEMS(condkeys_lists) && l == NULL; i++) {
		if (strcmp(condkeys_lists[i].action, cr->action->name) == 0)
			l = &condkeys_lists[i];
	}
	if (l == NULL)
		return;
	list = cJSON_IsObject(cr->body) ? cJSON_GetObjectItemCaseSensitive(cr->body, l->list) : cr->body;
	if (list == NULL)
		return;
	s->present = true;
	s->values = cr->regions;
	if (!cJSON_IsArray(list) || list == cr->body) {
		condkeys_add_region(cr, &n, NULL);
	} else {
		cJSON_ArrayForEach(e, list)
		{
			switch (condkeys_walk(e, l->elem, 2, &v)) {
			case WALK_ABSENT: break; /* an Update or Delete entry: no region gains a replica */
			case WALK_BAD: condkeys_add_region(cr, &n, NULL); break;
			case WALK_FOUND: condkeys_add_region(cr, &n, cJSON_IsString(v) ? v->valuestring : NULL); break;
			}
		}
	}
	s->n = n; /* zero: treated as absent by condition.c */
}

static void
condkeys_partiql_verbs(struct condkeys_request *cr)
{
	struct condkeys_slot *s = &cr->slot[CONDKEY_PARTIQL_VERB];
	size_t n = 0;

	if (cr->inspect == NULL || cr->inspect->partiql_verbs == 0)
		return;
	for (unsigned v = PARTIQL_SELECT; v <= PARTIQL_DELETE && n < CONDKEYS_PARTIQL_VERBS; v++) {
		if (cr->inspect->partiql_verbs & (1u << v))
			cr->verbs[n++] = partiql_verb_name((enum partiql_verb)v);
	}
	s->present = true;
	s->n = n;
	s->values = cr->verbs;
}

static const char *condkeys_partition_key(const struct condkeys_request *cr, const char *table);

/*
 * One PartiQL statement string: true if it is a SELECT that may scan its
 * whole table. Exact when config "tables" gives the table's partition key
 * (partiql_read_keyed); without it, every SELECT counts as a scan: the
 * reader cannot tell a key condition from any other equality.
 */
static bool
condkeys_statement_scans(const struct condkeys_request *cr, const cJSON *stmt)
{
	struct partiql_statement st;
	const char *pk;

	if (!cJSON_IsString(stmt) || partiql_read(stmt->valuestring, strlen(stmt->valuestring), &st, NULL, 0) != PARTIQL_OK)
		return true; /* inspect refused these already; be safe anyway */
	if (st.verb != PARTIQL_SELECT)
		return false;
	if ((pk = condkeys_partition_key(cr, st.table)) == NULL || st.index[0] != '\0')
		return true; /* unknown schema, or an index (its key is not configured) */
	if (partiql_read_keyed(stmt->valuestring, strlen(stmt->valuestring), pk, &st, NULL, 0) != PARTIQL_OK)
		return true;
	return st.full_table_scan;
}

/* Every statement of ExecuteStatement, BatchExecuteStatement or ExecuteTransaction. */
static bool
condkeys_partiql_scans(const struct condkeys_request *cr)
{
	static const char *const lists[] = { "Statements", "TransactStatements" };
	const cJSON *stmt = cJSON_GetObjectItemCaseSensitive(cr->body, "Statement"), *e;

	if (stmt != NULL && condkeys_statement_scans(cr, stmt))
		return true;
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cr->body, lists[i]))
			if (condkeys_statement_scans(cr, cJSON_GetObjectItemCaseSensitive(e, "Statement")))
				return true;
	return false;
}

/* IAM: dynamodb:FullTableScan is set for Scan and for PartiQL SELECT. */
static void
condkeys_full_table_scan(struct condkeys_request *cr)
{
	if (cr->action != NULL && strcmp(cr->action->name, "Scan") == 0)
		condkeys_set_one(cr, CONDKEY_FULL_TABLE_SCAN, "true");
	else if (cr->inspect != NULL && (cr->inspect->partiql_verbs & (1u << PARTIQL_SELECT)))
		condkeys_set_one(cr, CONDKEY_FULL_TABLE_SCAN, condkeys_partiql_scans(cr) ? "true" : "false");
}

/* The account field of arn:partition:service:region:account:resource; NULL if it is not one. */
static void
condkeys_kinesis_account(struct condkeys_request *cr)
{
	struct condkeys_slot *arn = &cr->slot[CONDKEY_KINESIS_STREAM_ARN];
	const char *s, *p;
	size_t len;

	if (!arn->done) {
		condkeys_from_member(cr, CONDKEY_KINESIS_STREAM_ARN);
		arn->done = true;
	}
	if (!arn->present)
		return;
	s = arn->values[0];
	if (s == NULL || strncmp(s, "arn:", 4) != 0) {
		condkeys_set_one(cr, CONDKEY_KINESIS_STREAM_ACCOUNT, NULL);
		return;
	}
	p = s;
	for (int field = 0; field < 4; field++) {
		p = strchr(p, ':');
		if (p == NULL) {
			condkeys_set_one(cr, CONDKEY_KINESIS_STREAM_ACCOUNT, NULL);
			return;
		}
		p++;
	}
	len = strcspn(p, ":");
	if (p[len] != ':' || len >= sizeof(cr->account)) {
		condkeys_set_one(cr, CONDKEY_KINESIS_STREAM_ACCOUNT, NULL);
		return;
	}
	memcpy(cr->account, p, len);
	cr->account[len] = '\0';
	condkeys_set_one(cr, CONDKEY_KINESIS_STREAM_ACCOUNT, cr->account);
}

/* ---- multivalued keys built up value by value ---- */

/* Copies text into the struct's buffer; NULL (and overflow) when it is full. */
static const char *
condkeys_copy(struct condkeys_request *cr, const char *p, size_t len)
{
	char *dst;

	if (len + 1 > sizeof(cr->text) - cr->text_used) {
		cr->overflow = true;
		return NULL;
	}
	dst = cr->text + cr->text_used;
	memcpy(dst, p, len);
	dst[len] = '\0';
	cr->text_used += len + 1;
	return dst;
}

static void
condkeys_multi_begin(struct condkeys_request *cr, int key, const char **array)
{
	struct condkeys_slot *s = &cr->slot[key];

	s->present = true;
	s->n = 0;
	s->values = array;
}

/* Adds a value to a multivalued key begun with condkeys_multi_begin(); sets are deduplicated. */
static void
condkeys_multi_add(struct condkeys_request *cr, int key, const char *value, size_t max)
{
	struct condkeys_slot *s = &cr->slot[key];
	const char **v = (const char **)s->values;

	for (size_t i = 0; i < s->n; i++) {
		if (v[i] == value || (v[i] != NULL && value != NULL && strcmp(v[i], value) == 0))
			return;
	}
	if (s->n == max) {
		cr->overflow = true;
		return;
	}
	v[s->n++] = value;
}

/* The member of `obj` named by the slice p[0..len), exactly. */
static const cJSON *
condkeys_member_n(const cJSON *obj, const char *p, size_t len)
{
	const cJSON *m;

	if (!cJSON_IsObject(obj))
		return NULL;
	cJSON_ArrayForEach(m, obj)
	{
		if (m->string != NULL && strlen(m->string) == len && memcmp(m->string, p, len) == 0)
			return m;
	}
	return NULL;
}

/*
 * The text of a key attribute value: {"S": "..."}, {"N": "..."} or
 * {"B": "<base64>"}, exactly one member. NULL for anything else (a set,
 * a map, two members, a value that is not a string).
 */
static const char *
condkeys_scalar(const cJSON *av)
{
	const cJSON *m;

	if (!cJSON_IsObject(av) || (m = av->child) == NULL || m->next != NULL || !cJSON_IsString(m))
		return NULL;
	if (strcmp(m->string, "S") != 0 && strcmp(m->string, "N") != 0 && strcmp(m->string, "B") != 0)
		return NULL;
	return m->valuestring;
}

/* ---- where calls name items: one "site" per table-and-request object ---- */

enum {
	SITE_KEY = 1u << 0,    /* Key: one key map */
	SITE_ITEM = 1u << 1,   /* Item: one full item */
	SITE_KEYS = 1u << 2,   /* Keys: a list of key maps (BatchGetItem) */
	SITE_QUERY = 1u << 3,  /* KeyConditionExpression or KeyConditions */
	SITE_READ = 1u << 4,   /* AttributesToGet, ProjectionExpression */
	SITE_UPDATE = 1u << 5, /* AttributeUpdates, UpdateExpression */
};

enum condkeys_layout {
	LAYOUT_TOP,      /* the body is the site; TableName names the table */
	LAYOUT_BATCH_GET,/* RequestItems: {table: site} */
	LAYOUT_BATCH_WRITE, /* RequestItems: {table: [{PutRequest: {Item}} | {DeleteRequest: {Key}}]} */
	LAYOUT_TRANSACT, /* TransactItems: [{Get|Put|Delete|Update|ConditionCheck: site}] */
	LAYOUT_PARTIQL,  /* statements we do not read for items: the keys match nothing */
};

/* Service model dynamodb-2012-08-10: the members of each item-level call that name items and attributes. */
static const struct condkeys_items {
	const char *action;
	enum condkeys_layout layout;
	unsigned members; /* for LAYOUT_TOP and LAYOUT_BATCH_GET */
} condkeys_items[] = {
    {"GetItem", LAYOUT_TOP, SITE_KEY | SITE_READ},
    {"DeleteItem", LAYOUT_TOP, SITE_KEY},
    {"PutItem", LAYOUT_TOP, SITE_ITEM},
    {"UpdateItem", LAYOUT_TOP, SITE_KEY | SITE_UPDATE},
    {"Query", LAYOUT_TOP, SITE_QUERY | SITE_READ},
    {"Scan", LAYOUT_TOP, SITE_READ},
    {"BatchGetItem", LAYOUT_BATCH_GET, SITE_KEYS | SITE_READ},
    {"BatchWriteItem", LAYOUT_BATCH_WRITE, 0},
    {"TransactGetItems", LAYOUT_TRANSACT, 0},
    {"TransactWriteItems", LAYOUT_TRANSACT, 0},
    /* XXX: PartiQL statements are not read for key values or attribute names yet. */
    {"ExecuteStatement", LAYOUT_PARTIQL, 0},
    {"BatchExecuteStatement", LAYOUT_PARTIQL, 0},
    {"ExecuteTransaction", LAYOUT_PARTIQL, 0},
};

static const struct {
	const char *name;
	unsigned members;
} condkeys_transact_ops[] = {
    {"Get", SITE_KEY | SITE_READ}, {"Put", SITE_ITEM},        {"Delete", SITE_KEY},
    {"Update", SITE_KEY | SITE_UPDATE}, {"ConditionCheck", SITE_KEY},
};

/* One site being read for one key. */
struct condkeys_site {
	struct condkeys_request *cr;
	int key; /* CONDKEY_LEADING_KEYS or CONDKEY_ATTRIBUTES */
	size_t max;
	const cJSON *obj;   /* the request object holding the members */
	const char *table;  /* NULL: not named (or not a string) */
	const char *pk;     /* the table's partition key attribute; NULL: no schema */
	const cJSON *names; /* ExpressionAttributeNames of obj */
	/* key condition scan */
	size_t pk_seen;
	const char *eq;
	size_t eq_len;
	bool bad;
};

static void
condkeys_site_add(struct condkeys_site *st, const char *value)
{
	condkeys_multi_add(st->cr, st->key, value, st->max);
}

/* A table name, or the table of a table ARN (arn:...:table/NAME): the schema config lists names. */
static const char *
condkeys_partition_key(const struct condkeys_request *cr, const char *table)
{
	const char *t;

	if (table == NULL)
		return NULL;
	if (strncmp(table, "arn:", 4) == 0) {
		t = strstr(table, ":table/");
		if (t == NULL || strchr(t + 7, '/') != NULL)
			return NULL;
		table = t + 7;
	}
	for (size_t i = 0; i < cr->env.ntables; i++) {
		if (strcmp(cr->env.tables[i].table, table) == 0)
			return cr->env.tables[i].partition_key;
	}
	return NULL;
}

/* A name as written in an expression: "#ph" through ExpressionAttributeNames, else the word itself. */
static const char *
condkeys_expr_name(struct condkeys_site *st, const char *p, size_t len)
{
	const cJSON *v;

	if (len > 0 && p[0] == '#') {
		v = condkeys_member_n(st->names, p, len);
		return cJSON_IsString(v) ? v->valuestring : NULL;
	}
	return condkeys_copy(st->cr, p, len);
}

static bool
condkeys_expr_attribute(void *ctx, const char *p, size_t len)
{
	struct condkeys_site *st = ctx;

	condkeys_site_add(st, condkeys_expr_name(st, p, len));
	return true;
}

static bool
condkeys_key_operand(void *ctx, const char *p, size_t len, bool simple, const char *eq, size_t eq_len)
{
	struct condkeys_site *st = ctx;
	const char *name;

	if (len > 0 && p[0] == '#') {
		const cJSON *v = condkeys_member_n(st->names, p, len);

		if (!cJSON_IsString(v)) {
			st->bad = true;
			return false;
		}
		name = v->valuestring;
	} else {
		/* Compared in place: no copy for names that are not the key. */
		if (strlen(st->pk) != len || memcmp(st->pk, p, len) != 0)
			return true;
		name = st->pk;
	}
	if (strcmp(name, st->pk) != 0)
		return true;
	st->pk_seen++;
	if (simple && eq != NULL) {
		st->eq = eq;
		st->eq_len = eq_len;
	}
	return true;
}

/* Query: the value the partition key is compared to with "=" (IAM: LeadingKeys of a Query). */
static void
condkeys_query_leading(struct condkeys_site *st)
{
	const cJSON *kce = cJSON_GetObjectItemCaseSensitive(st->obj, "KeyConditionExpression");
	const cJSON *kc = cJSON_GetObjectItemCaseSensitive(st->obj, "KeyConditions");
	const cJSON *c, *list;

	/* XXX: an index has its own partition key, which the schema config does not describe. */
	if (st->pk == NULL || cJSON_GetObjectItemCaseSensitive(st->obj, "IndexName") != NULL ||
	    (kce == NULL) == (kc == NULL)) {
		condkeys_site_add(st, NULL);
		return;
	}
	if (kce != NULL) {
		if (!cJSON_IsString(kce) ||
		    dynexpr_key_condition(kce->valuestring, condkeys_key_operand, st) != DYNEXPR_OK || st->bad ||
		    st->pk_seen != 1 || st->eq == NULL) {
			condkeys_site_add(st, NULL);
			return;
		}
		condkeys_site_add(st, condkeys_scalar(condkeys_member_n(
		                          cJSON_GetObjectItemCaseSensitive(st->obj, "ExpressionAttributeValues"), st->eq,
		                          st->eq_len)));
		return;
	}
	c = cJSON_IsObject(kc) ? cJSON_GetObjectItemCaseSensitive(kc, st->pk) : NULL;
	if (!cJSON_IsObject(c) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "ComparisonOperator")) ||
	    strcmp(cJSON_GetObjectItemCaseSensitive(c, "ComparisonOperator")->valuestring, "EQ") != 0 ||
	    !cJSON_IsArray(list = cJSON_GetObjectItemCaseSensitive(c, "AttributeValueList")) ||
	    cJSON_GetArraySize(list) != 1) {
		condkeys_site_add(st, NULL);
		return;
	}
	condkeys_site_add(st, condkeys_scalar(list->child));
}

/* One key map or item: its partition key value, or its top-level attribute names. */
static void
condkeys_site_map(struct condkeys_site *st, const cJSON *map)
{
	const cJSON *m;

	if (st->key == CONDKEY_LEADING_KEYS) {
		const cJSON *v = st->pk != NULL ? condkeys_member_n(map, st->pk, strlen(st->pk)) : NULL;

		condkeys_site_add(st, condkeys_scalar(v));
		return;
	}
	if (!cJSON_IsObject(map)) {
		condkeys_site_add(st, NULL);
		return;
	}
	cJSON_ArrayForEach(m, map)
	{
		condkeys_site_add(st, m->string);
	}
}

/* A member that must be there: a missing Key or Item is a shape we cannot read. */
static void
condkeys_site_required_map(struct condkeys_site *st, const char *member)
{
	condkeys_site_map(st, cJSON_GetObjectItemCaseSensitive(st->obj, member));
}

static void
condkeys_site_read(struct condkeys_site *st)
{
	const cJSON *atg = cJSON_GetObjectItemCaseSensitive(st->obj, "AttributesToGet");
	const cJSON *pe = cJSON_GetObjectItemCaseSensitive(st->obj, "ProjectionExpression");
	const cJSON *e;

	if (atg != NULL) {
		if (!cJSON_IsArray(atg))
			condkeys_site_add(st, NULL);
		cJSON_ArrayForEach(e, atg)
		{
			condkeys_site_add(st, cJSON_IsString(e) ? e->valuestring : NULL);
		}
	}
	if (pe != NULL) {
		if (!cJSON_IsString(pe) ||
		    dynexpr_projection_names(pe->valuestring, condkeys_expr_attribute, st) != DYNEXPR_OK)
			condkeys_site_add(st, NULL);
	}
}

static void
condkeys_site_update(struct condkeys_site *st)
{
	const cJSON *au = cJSON_GetObjectItemCaseSensitive(st->obj, "AttributeUpdates");
	const cJSON *ue = cJSON_GetObjectItemCaseSensitive(st->obj, "UpdateExpression");
	const cJSON *m;

	if (au != NULL) {
		if (!cJSON_IsObject(au))
			condkeys_site_add(st, NULL);
		else
			cJSON_ArrayForEach(m, au)
			{
				condkeys_site_add(st, m->string);
			}
	}
	if (ue != NULL) {
		if (!cJSON_IsString(ue) ||
		    dynexpr_update_names(ue->valuestring, condkeys_expr_attribute, st) != DYNEXPR_OK)
			condkeys_site_add(st, NULL);
	}
}

/* Reads one site; `table` NULL takes TableName from the site object. */
static void
condkeys_site(struct condkeys_request *cr, int key, size_t max, const cJSON *obj, const char *table,
              unsigned members)
{
	struct condkeys_site st = {.cr = cr, .key = key, .max = max, .obj = obj, .table = table};
	const cJSON *keys, *e;

	if (!cJSON_IsObject(obj)) {
		condkeys_site_add(&st, NULL);
		return;
	}
	if (st.table == NULL) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "TableName");

		st.table = cJSON_IsString(t) ? t->valuestring : NULL;
	}
	st.pk = condkeys_partition_key(cr, st.table);
	st.names = cJSON_GetObjectItemCaseSensitive(obj, "ExpressionAttributeNames");
	if (key == CONDKEY_LEADING_KEYS && st.pk == NULL && (members & (SITE_KEY | SITE_ITEM | SITE_KEYS | SITE_QUERY))) {
		condkeys_site_add(&st, NULL); /* no schema for this table: fail closed */
		return;
	}
	if (members & SITE_KEY)
		condkeys_site_required_map(&st, "Key");
	if (members & SITE_ITEM)
		condkeys_site_required_map(&st, "Item");
	if (members & SITE_KEYS) {
		keys = cJSON_GetObjectItemCaseSensitive(obj, "Keys");
		if (!cJSON_IsArray(keys))
			condkeys_site_add(&st, NULL);
		cJSON_ArrayForEach(e, keys)
		{
			condkeys_site_map(&st, e);
		}
	}
	if (key == CONDKEY_LEADING_KEYS) {
		if (members & SITE_QUERY)
			condkeys_query_leading(&st);
		return;
	}
	if (members & SITE_READ)
		condkeys_site_read(&st);
	if (members & SITE_UPDATE)
		condkeys_site_update(&st);
}

static void
condkeys_batch_write(struct condkeys_request *cr, int key, size_t max, const cJSON *ri)
{
	const cJSON *t, *w, *req;

	cJSON_ArrayForEach(t, ri)
	{
		if (!cJSON_IsArray(t)) {
			condkeys_multi_add(cr, key, NULL, max);
			continue;
		}
		cJSON_ArrayForEach(w, t)
		{
			const cJSON *put = cJSON_GetObjectItemCaseSensitive(w, "PutRequest");
			const cJSON *del = cJSON_GetObjectItemCaseSensitive(w, "DeleteRequest");

			if (!cJSON_IsObject(w) || (put == NULL) == (del == NULL)) {
				condkeys_multi_add(cr, key, NULL, max);
				continue;
			}
			req = put != NULL ? put : del;
			condkeys_site(cr, key, max, req, t->string, put != NULL ? SITE_ITEM : SITE_KEY);
		}
	}
}

static void
condkeys_transact(struct condkeys_request *cr, int key, size_t max, const cJSON *items)
{
	const cJSON *e, *op;

	cJSON_ArrayForEach(e, items)
	{
		size_t i = 0;

		/* Exactly one operation per element, as DynamoDB requires. */
		op = cJSON_IsObject(e) ? e->child : NULL;
		if (op != NULL && op->next == NULL) {
			while (i < CONDKEYS_NELEMS(condkeys_transact_ops) &&
			       strcmp(condkeys_transact_ops[i].name, op->string) != 0)
				i++;
		}
		if (op == NULL || op->next != NULL || i == CONDKEYS_NELEMS(condkeys_transact_ops)) {
			condkeys_multi_add(cr, key, NULL, max);
			continue;
		}
		condkeys_site(cr, key, max, op, NULL, condkeys_transact_ops[i].members);
	}
}

/*
 * dynamodb:LeadingKeys and dynamodb:Attributes (IAM "Using IAM policy
 * conditions for fine-grained access control"): every item site of the call.
 * Calls that name no items (Scan for LeadingKeys, control-plane calls) leave
 * the key absent; a site we cannot read adds a NULL value.
 */
static void
condkeys_items_key(struct condkeys_request *cr, int key)
{
	const struct condkeys_items *it = NULL;
	const char **array = key == CONDKEY_LEADING_KEYS ? cr->leading : cr->attributes;
	size_t max = key == CONDKEY_LEADING_KEYS ? CONDKEYS_MAX_ITEMS : CONDKEYS_MAX_ATTRIBUTES;
	const cJSON *list;

	if (cr->action == NULL || cr->body == NULL)
		return;
	for (size_t i = 0; i < CONDKEYS_NELEMS(condkeys_items) && it == NULL; i++) {
		if (strcmp(condkeys_items[i].action, cr->action->name) == 0)
			it = &condkeys_items[i];
	}
	if (it == NULL || (key == CONDKEY_LEADING_KEYS && it->layout == LAYOUT_TOP && it->members == SITE_READ))
		return; /* Scan: IAM's empty set */
	condkeys_multi_begin(cr, key, array);
	switch (it->layout) {
	case LAYOUT_TOP: condkeys_site(cr, key, max, cr->body, NULL, it->members); return;
	case LAYOUT_PARTIQL: condkeys_multi_add(cr, key, NULL, max); return;
	case LAYOUT_BATCH_GET:
	case LAYOUT_BATCH_WRITE:
		list = cJSON_IsObject(cr->body) ? cJSON_GetObjectItemCaseSensitive(cr->body, "RequestItems") : NULL;
		if (!cJSON_IsObject(list)) {
			condkeys_multi_add(cr, key, NULL, max);
		} else if (it->layout == LAYOUT_BATCH_WRITE) {
			condkeys_batch_write(cr, key, max, list);
		} else {
			const cJSON *t;

			cJSON_ArrayForEach(t, list)
			{
				condkeys_site(cr, key, max, t, t->string, it->members);
			}
		}
		return;
	case LAYOUT_TRANSACT:
		list = cJSON_IsObject(cr->body) ? cJSON_GetObjectItemCaseSensitive(cr->body, "TransactItems") : NULL;
		if (!cJSON_IsArray(list))
			condkeys_multi_add(cr, key, NULL, max);
		else
			condkeys_transact(cr, key, max, list);
		return;
	}
}

/* ---- resource policies: who a PutResourcePolicy or CreateTable grants access to ---- */

static bool
condkeys_is_account_id(const char *s, size_t len)
{
	if (len != 12)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

static void
condkeys_rp_add(struct condkeys_request *cr, const char *principal, const char *account, size_t account_len)
{
	condkeys_multi_add(cr, CONDKEY_RESOURCE_POLICY_PRINCIPALS, principal, CONDKEYS_MAX_VALUES);
	if (account != NULL)
		account = condkeys_copy(cr, account, account_len);
	condkeys_multi_add(cr, CONDKEY_RESOURCE_POLICY_ACCOUNTS, account, CONDKEYS_MAX_VALUES);
}

static void
condkeys_rp_bad(struct condkeys_request *cr)
{
	condkeys_multi_add(cr, CONDKEY_RESOURCE_POLICY_PRINCIPALS, NULL, CONDKEYS_MAX_VALUES);
	condkeys_multi_add(cr, CONDKEY_RESOURCE_POLICY_ACCOUNTS, NULL, CONDKEYS_MAX_VALUES);
}

/* One principal of type `type` ("AWS", "Service", ...). */
static void
condkeys_rp_principal(struct condkeys_request *cr, const char *type, const cJSON *v)
{
	const char *s, *p, *copy;
	size_t len;

	if (!cJSON_IsString(v)) {
		condkeys_rp_bad(cr);
		return;
	}
	s = v->valuestring;
	copy = condkeys_copy(cr, s, strlen(s));
	if (strcmp(type, "AWS") != 0) {
		/* Service, Federated, CanonicalUser: principals, but no account id to name. */
		condkeys_multi_add(cr, CONDKEY_RESOURCE_POLICY_PRINCIPALS, copy, CONDKEYS_MAX_VALUES);
		return;
	}
	if (strcmp(s, "*") == 0 || condkeys_is_account_id(s, strlen(s))) {
		condkeys_rp_add(cr, copy, s, strlen(s));
		return;
	}
	/* arn:partition:iam::ACCOUNT:resource */
	p = s;
	for (int field = 0; field < 4 && p != NULL; field++) {
		p = strchr(p, ':');
		if (p != NULL)
			p++;
	}
	len = p != NULL ? strcspn(p, ":") : 0;
	if (strncmp(s, "arn:", 4) != 0 || p == NULL || p[len] != ':' || !condkeys_is_account_id(p, len))
		condkeys_rp_add(cr, copy, NULL, 0);
	else
		condkeys_rp_add(cr, copy, p, len);
}

static void
condkeys_rp_statement(struct condkeys_request *cr, const cJSON *st)
{
	const cJSON *effect = cJSON_GetObjectItemCaseSensitive(st, "Effect");
	const cJSON *pr, *m, *e;

	if (!cJSON_IsObject(st) || !cJSON_IsString(effect)) {
		condkeys_rp_bad(cr);
		return;
	}
	if (strcmp(effect->valuestring, "Deny") == 0)
		return;
	if (strcmp(effect->valuestring, "Allow") != 0) {
		condkeys_rp_bad(cr);
		return;
	}
	if (cJSON_GetObjectItemCaseSensitive(st, "NotPrincipal") != NULL) {
		/* Allow with NotPrincipal grants everyone but the named: a grant to everyone. */
		condkeys_rp_add(cr, "*", "*", 1);
		return;
	}
	pr = cJSON_GetObjectItemCaseSensitive(st, "Principal");
	if (cJSON_IsString(pr) && strcmp(pr->valuestring, "*") == 0) {
		condkeys_rp_add(cr, "*", "*", 1);
		return;
	}
	if (!cJSON_IsObject(pr) || pr->child == NULL) {
		condkeys_rp_bad(cr);
		return;
	}
	cJSON_ArrayForEach(m, pr)
	{
		if (cJSON_IsArray(m) && cJSON_GetArraySize(m) > 0) {
			cJSON_ArrayForEach(e, m)
			{
				condkeys_rp_principal(cr, m->string, e);
			}
		} else {
			condkeys_rp_principal(cr, m->string, m);
		}
	}
}

/* IAM JSON policy reference, "Principal": both keys from one parse of the document. */
static void
condkeys_resource_policy(struct condkeys_request *cr)
{
	static const struct json_opts opts = {.max_depth = JSON_DYNAMODB_MAX_DEPTH};
	const char *member;
	const cJSON *doc, *stmts, *st;
	struct json_error err;
	cJSON *tree;

	cr->slot[CONDKEY_RESOURCE_POLICY_ACCOUNTS].done = true;
	cr->slot[CONDKEY_RESOURCE_POLICY_PRINCIPALS].done = true;
	if (cr->action == NULL || cr->body == NULL)
		return;
	if (strcmp(cr->action->name, "PutResourcePolicy") == 0)
		member = "Policy";
	else if (strcmp(cr->action->name, "CreateTable") == 0)
		member = "ResourcePolicy";
	else
		return;
	doc = cJSON_IsObject(cr->body) ? cJSON_GetObjectItemCaseSensitive(cr->body, member) : cr->body;
	if (doc == NULL)
		return;
	condkeys_multi_begin(cr, CONDKEY_RESOURCE_POLICY_ACCOUNTS, cr->rp_accounts);
	condkeys_multi_begin(cr, CONDKEY_RESOURCE_POLICY_PRINCIPALS, cr->rp_principals);
	if (!cJSON_IsString(doc) ||
	    (tree = json_parse_strict(doc->valuestring, strlen(doc->valuestring), &opts, &err)) == NULL) {
		condkeys_rp_bad(cr);
		return;
	}
	stmts = cJSON_IsObject(tree) ? cJSON_GetObjectItemCaseSensitive(tree, "Statement") : NULL;
	if (cJSON_IsObject(stmts)) {
		condkeys_rp_statement(cr, stmts);
	} else if (cJSON_IsArray(stmts) && cJSON_GetArraySize(stmts) > 0) {
		cJSON_ArrayForEach(st, stmts)
		{
			condkeys_rp_statement(cr, st);
		}
	} else {
		condkeys_rp_bad(cr);
	}
	cJSON_Delete(tree);
}

/* ---- ddbguard:SourceCountry, ddbguard:SourceASN ---- */

static void
condkeys_geo(struct condkeys_request *cr, int key)
{
	const char *v;

	if (!cr->geo_done) {
		cr->geo_done = true;
		cr->country[0] = cr->asn[0] = '\0';
		if (cr->env.geoip != NULL && cr->client_ip != NULL)
			geoip_lookup(cr->env.geoip, cr->client_ip, cr->country, cr->asn);
	}
	v = key == CONDKEY_SOURCE_COUNTRY ? cr->country : cr->asn;
	if (v[0] != '\0')
		condkeys_set_one(cr, key, v);
}

static void
condkeys_compute(struct condkeys_request *cr, int key)
{
	struct tm tm;

	switch (key) {
	case CONDKEY_SOURCE_IP:
		if (cr->client_ip != NULL)
			condkeys_set_one(cr, key, cr->client_ip);
		break;
	case CONDKEY_SECURE_TRANSPORT: condkeys_set_one(cr, key, cr->tls ? "true" : "false"); break;
	case CONDKEY_CURRENT_TIME:
		if (gmtime_r(&cr->now.tv_sec, &tm) != NULL &&
		    strftime(cr->current_time, sizeof(cr->current_time), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
			condkeys_set_one(cr, key, cr->current_time);
		break;
	case CONDKEY_EPOCH_TIME:
		snprintf(cr->epoch_time, sizeof(cr->epoch_time), "%lld", (long long)cr->now.tv_sec);
		condkeys_set_one(cr, key, cr->epoch_time);
		break;
	case CONDKEY_IDENTITY:
		if (cr->identity != NULL)
			condkeys_set_one(cr, key, identity_name(cr->identity));
		break;
	case CONDKEY_LEADING_KEYS:
	case CONDKEY_ATTRIBUTES: condkeys_items_key(cr, key); break;
	case CONDKEY_RESOURCE_POLICY_ACCOUNTS:
	case CONDKEY_RESOURCE_POLICY_PRINCIPALS: condkeys_resource_policy(cr); break;
	case CONDKEY_SOURCE_COUNTRY:
	case CONDKEY_SOURCE_ASN: condkeys_geo(cr, key); break;
	case CONDKEY_FULL_TABLE_SCAN: condkeys_full_table_scan(cr); break;
	case CONDKEY_PARTIQL_VERB: condkeys_partiql_verbs(cr); break;
	case CONDKEY_REPLICA_REGIONS: condkeys_replica_regions(cr); break;
	case CONDKEY_KINESIS_STREAM_ACCOUNT: condkeys_kinesis_account(cr); break;
	default: condkeys_from_member(cr, key); break;
	}
}

void
condkeys_request_init(struct condkeys_request *cr, const struct catalog_action *action, const cJSON *body,
                      const struct inspect_result *inspect, const char *client_ip, bool tls, const struct timespec *now,
                      const struct identity *identity, const struct condkeys_env *env)
{
	memset(cr->slot, 0, sizeof(cr->slot));
	cr->env = env != NULL ? *env : (struct condkeys_env){0};
	cr->geo_done = false;
	cr->text_used = 0;
	cr->action = action;
	cr->body = body;
	cr->inspect = inspect;
	cr->client_ip = client_ip;
	cr->tls = tls;
	cr->now = *now;
	cr->identity = identity;
	cr->overflow = false;
}

void
condkeys_lookup(void *ctx, int key_id, const char *tag, struct condition_request_values *out)
{
	struct condkeys_request *cr = ctx;
	struct condkeys_slot *s;

	if (key_id < 0 || key_id >= CONDKEY__COUNT)
		return; /* not ours: absent */
	if (key_id == CONDKEY_IDENTITY_TAG) {
		/* Not kept: each lookup may name another tag. */
		const char *v = cr->identity != NULL && tag != NULL ? identity_tag(cr->identity, tag) : NULL;

		if (v != NULL) {
			cr->one[key_id] = v;
			out->present = true;
			out->n = 1;
			out->values = &cr->one[key_id];
		}
		return;
	}
	s = &cr->slot[key_id];
	if (!s->done) {
		condkeys_compute(cr, key_id);
		s->done = true;
	}
	out->present = s->present;
	out->n = s->n;
	out->values = s->values;
}
