/*
 * condkeys: condition key registry and per-call values.
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
#include "filters/condkeys.h"

#include <stdio.h>
#include <string.h>

#include "filters/partiql.h"

#define CONDKEYS_NELEMS(t) (sizeof(t) / sizeof((t)[0]))

static const struct condition_key_def condkeys_defs[] = {
    {"aws:SourceIp", COND_T_IP, false, CONDKEY_SOURCE_IP},
    {"aws:SecureTransport", COND_T_BOOL, false, CONDKEY_SECURE_TRANSPORT},
    {"aws:CurrentTime", COND_T_DATE, false, CONDKEY_CURRENT_TIME},
    /* IAM types it Date (and Numeric); condition.c types a key once, so Date* operators only. */
    {"aws:EpochTime", COND_T_DATE, false, CONDKEY_EPOCH_TIME},
    {"ddbguard:Identity", COND_T_STRING, false, CONDKEY_IDENTITY},
    {"dynamodb:Select", COND_T_STRING, false, CONDKEY_SELECT},
    {"dynamodb:ReturnValues", COND_T_STRING, false, CONDKEY_RETURN_VALUES},
    {"dynamodb:ReturnConsumedCapacity", COND_T_STRING, false, CONDKEY_RETURN_CONSUMED_CAPACITY},
    {"dynamodb:FullTableScan", COND_T_BOOL, false, CONDKEY_FULL_TABLE_SCAN},
    {"ddbguard:PartiQLVerb", COND_T_STRING, true, CONDKEY_PARTIQL_VERB},
    {"ddbguard:S3Bucket", COND_T_STRING, false, CONDKEY_S3_BUCKET},
    {"ddbguard:S3BucketOwner", COND_T_STRING, false, CONDKEY_S3_BUCKET_OWNER},
    {"ddbguard:S3Prefix", COND_T_STRING, false, CONDKEY_S3_PREFIX},
    {"ddbguard:S3SseAlgorithm", COND_T_STRING, false, CONDKEY_S3_SSE_ALGORITHM},
    {"ddbguard:ReplicaRegions", COND_T_STRING, true, CONDKEY_REPLICA_REGIONS},
    {"ddbguard:SSEEnabled", COND_T_BOOL, false, CONDKEY_SSE_ENABLED},
    {"ddbguard:SSEType", COND_T_STRING, false, CONDKEY_SSE_TYPE},
    {"ddbguard:KMSMasterKeyId", COND_T_STRING, false, CONDKEY_KMS_MASTER_KEY_ID},
    {"ddbguard:PITREnabled", COND_T_BOOL, false, CONDKEY_PITR_ENABLED},
    {"ddbguard:DeletionProtectionEnabled", COND_T_BOOL, false, CONDKEY_DELETION_PROTECTION_ENABLED},
    {"ddbguard:KinesisStreamArn", COND_T_ARN, false, CONDKEY_KINESIS_STREAM_ARN},
    {"ddbguard:KinesisStreamAccount", COND_T_STRING, false, CONDKEY_KINESIS_STREAM_ACCOUNT},
};

const struct condition_key_def *
condkeys_registry(size_t *n)
{
	*n = CONDKEYS_NELEMS(condkeys_defs);
	return condkeys_defs;
}

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
	return condkeys_defs[key].type == COND_T_BOOL;
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

/*
 * IAM: dynamodb:FullTableScan is set for Scan and for PartiQL SELECT. A
 * PartiQL call with a SELECT that may scan (partiql.h: approximate) is true.
 */
static void
condkeys_full_table_scan(struct condkeys_request *cr)
{
	if (cr->action != NULL && strcmp(cr->action->name, "Scan") == 0)
		condkeys_set_one(cr, CONDKEY_FULL_TABLE_SCAN, "true");
	else if (cr->inspect != NULL && (cr->inspect->partiql_verbs & (1u << PARTIQL_SELECT)))
		condkeys_set_one(cr, CONDKEY_FULL_TABLE_SCAN, cr->inspect->partiql_full_table_scan ? "true" : "false");
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
			condkeys_set_one(cr, key, cr->identity);
		break;
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
                      const char *identity)
{
	memset(cr->slot, 0, sizeof(cr->slot));
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

	(void)tag; /* no prefix keys */
	if (key_id < 0 || key_id >= CONDKEY__COUNT)
		return; /* not ours: absent */
	s = &cr->slot[key_id];
	if (!s->done) {
		condkeys_compute(cr, key_id);
		s->done = true;
	}
	out->present = s->present;
	out->n = s->n;
	out->values = s->values;
}
