/*
 * condkeys_defs: the condition keys a policy may name (name, type,
 * single- or multivalued) and their ids. The vocabulary only: what
 * condition_compile() accepts, for filters/policy/policy.c. The values of the
 * keys for one call are filters/policy/condkeys.h, which sits above identity
 * and the DynamoDB readers; keeping the list here lets the policy compiler
 * know the keys without depending on how they are computed.
 */
#ifndef DDBGUARD_FILTERS_POLICY_CONDKEYS_DEFS_H
#define DDBGUARD_FILTERS_POLICY_CONDKEYS_DEFS_H

#include <stddef.h>

#include "filters/policy/condition.h"

enum condkeys_id {
	CONDKEY_SOURCE_IP,
	CONDKEY_SECURE_TRANSPORT,
	CONDKEY_CURRENT_TIME,
	CONDKEY_EPOCH_TIME,
	CONDKEY_IDENTITY,
	CONDKEY_SELECT,
	CONDKEY_RETURN_VALUES,
	CONDKEY_RETURN_CONSUMED_CAPACITY,
	CONDKEY_FULL_TABLE_SCAN,
	CONDKEY_PARTIQL_VERB,
	CONDKEY_S3_BUCKET,
	CONDKEY_S3_BUCKET_OWNER,
	CONDKEY_S3_PREFIX,
	CONDKEY_S3_SSE_ALGORITHM,
	CONDKEY_REPLICA_REGIONS,
	CONDKEY_SSE_ENABLED,
	CONDKEY_SSE_TYPE,
	CONDKEY_KMS_MASTER_KEY_ID,
	CONDKEY_PITR_ENABLED,
	CONDKEY_DELETION_PROTECTION_ENABLED,
	CONDKEY_KINESIS_STREAM_ARN,
	CONDKEY_KINESIS_STREAM_ACCOUNT,
	CONDKEY_LEADING_KEYS,
	CONDKEY_ATTRIBUTES,
	CONDKEY_RESOURCE_POLICY_ACCOUNTS,
	CONDKEY_RESOURCE_POLICY_PRINCIPALS,
	CONDKEY_IDENTITY_TAG, /* prefix key: the lookup's tag names the tag */
	CONDKEY_SOURCE_COUNTRY,
	CONDKEY_SOURCE_ASN,
	CONDKEY__COUNT
};

/* The supported keys; static, never freed. */
const struct condition_key_def *condkeys_registry(size_t *n);

#endif
