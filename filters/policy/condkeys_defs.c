/*
 * condkeys_defs: the condition keys policies may name.
 *
 * Keys in the "aws:" and "dynamodb:" namespaces carry IAM's meaning (IAM
 * "AWS global condition context keys"; Service Authorization Reference,
 * "Condition keys for Amazon DynamoDB"). Keys IAM does not define for
 * DynamoDB, but which decide what a call does to data outside the table, are
 * ours, under "ddbguard:". Their values: filters/policy/condkeys.c.
 */
#include "filters/policy/condkeys_defs.h"

#define CONDKEYS_NELEMS(t) (sizeof(t) / sizeof((t)[0]))

static const struct condition_key_def condkeys_defs[] = {
    {"aws:SourceIp", COND_T_IP, false, CONDKEY_SOURCE_IP},
    {"aws:SecureTransport", COND_T_BOOL, false, CONDKEY_SECURE_TRANSPORT},
    {"aws:CurrentTime", COND_T_DATE, false, CONDKEY_CURRENT_TIME},
    /* IAM types it Date and Numeric ("AWS global condition context keys"): both operator families. */
    {"aws:EpochTime", COND_T_DATE_NUMERIC, false, CONDKEY_EPOCH_TIME},
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
    {"dynamodb:LeadingKeys", COND_T_STRING, true, CONDKEY_LEADING_KEYS},
    {"dynamodb:Attributes", COND_T_STRING, true, CONDKEY_ATTRIBUTES},
    {"ddbguard:ResourcePolicyAccounts", COND_T_STRING, true, CONDKEY_RESOURCE_POLICY_ACCOUNTS},
    {"ddbguard:ResourcePolicyPrincipals", COND_T_STRING, true, CONDKEY_RESOURCE_POLICY_PRINCIPALS},
    {"ddbguard:IdentityTag/", COND_T_STRING, false, CONDKEY_IDENTITY_TAG},
    {"ddbguard:SourceCountry", COND_T_STRING, false, CONDKEY_SOURCE_COUNTRY},
    /* A decimal AS number: String* to list ASNs, Numeric* for ranges (private ASNs 64512..65534). */
    {"ddbguard:SourceASN", COND_T_STRING_NUMERIC, false, CONDKEY_SOURCE_ASN},
};

const struct condition_key_def *
condkeys_registry(size_t *n)
{
	*n = CONDKEYS_NELEMS(condkeys_defs);
	return condkeys_defs;
}

