/*
 * condkeys: the condition keys policies can test, and their values for one
 * call, for filters/policy/condition.c.
 *
 * The registry (condkeys_registry(), condkeys_defs.h) is what
 * condition_compile() accepts; condkeys_lookup() is the condition_lookup_fn that answers for one call from
 * a struct condkeys_request the caller fills once per call. Values are
 * computed on first use per key and kept for the rest of the call; they are
 * strings of the request's JSON tree, literals, or text in the struct's own
 * buffers: nothing is allocated, except while a resource policy document is
 * parsed (ddbguard:ResourcePolicy*): its tree is freed before the lookup
 * returns, the values kept are copies in `text`.
 *
 * Body values are read with exact (case-sensitive) member names, as DynamoDB
 * does. A member that is absent (or whose enclosing object is absent) makes
 * the key absent, so Null and ...IfExists work. A member, or an enclosing
 * member, of the wrong JSON type makes the key present with one NULL value,
 * which matches no policy value (condition.h): positive operators are false,
 * negated ones true, so an allow-list Deny (StringNotEquals) applies and an
 * Allow on the key does not. That is the fail-closed reading of a body
 * DynamoDB would refuse anyway.
 */
#ifndef DDBGUARD_FILTERS_CONDKEYS_H
#define DDBGUARD_FILTERS_CONDKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "filters/dynamodb/catalog.h"
#include "filters/policy/condition.h"
#include "filters/policy/condkeys_defs.h"
#include "filters/policy/geoip.h"
#include "filters/policy/identity.h"
#include "filters/dynamodb/inspect.h"
#include "filters/dynamodb/schema.h"


/*
 * Most values one multivalued key takes in one call (ddbguard:ReplicaRegions;
 * AWS has fewer regions; resource policy principals). A call with more, or
 * with more copied text than CONDKEYS_TEXT_MAX, sets `overflow`, and the
 * caller must refuse it: a value left out could hide a match.
 * dynamodb:LeadingKeys takes up to CONDKEYS_MAX_ITEMS distinct values
 * (BatchGetItem and the transactions name up to 100 items) and
 * dynamodb:Attributes up to CONDKEYS_MAX_ATTRIBUTES distinct names.
 */
#define CONDKEYS_MAX_VALUES     64
#define CONDKEYS_MAX_ITEMS      128
#define CONDKEYS_MAX_ATTRIBUTES 256
#define CONDKEYS_TEXT_MAX       16384
#define CONDKEYS_PARTIQL_VERBS  4

/* One computed key. */
struct condkeys_slot {
	bool done, present;
	size_t n;
	const char *const *values;
};

/*
 * What the whole runtime shares: table schemas (for dynamodb:LeadingKeys)
 * and the GeoIP databases. Borrowed; both must outlive the call. A NULL env
 * means neither is configured.
 */
struct condkeys_env {
	const struct table_schema *tables; /* cfg->tables */
	size_t ntables;
	struct geoip *geoip; /* NULL: ddbguard:SourceCountry and ddbguard:SourceASN absent */
};

/*
 * One call's context. The inputs are set by condkeys_request_init(); the
 * rest is scratch. Lives on the caller's stack for one policy evaluation;
 * strings it hands out point into `body`, the inspect result and the struct
 * itself, so all three must outlive the evaluation.
 */
struct condkeys_request {
	const struct catalog_action *action;
	const cJSON *body;                    /* NULL: no body members */
	const struct inspect_result *inspect; /* NULL: no PartiQL facts */
	const char *client_ip;                /* textual address; NULL: aws:SourceIp absent */
	bool tls;                             /* listener TLS or egress tunnel */
	struct timespec now;                  /* CLOCK_REALTIME, captured once per call */
	const struct identity *identity;      /* NULL: ddbguard:Identity and IdentityTag/ absent */
	struct condkeys_env env;
	bool overflow; /* a key had more values than its array holds, or text ran out */

	struct condkeys_slot slot[CONDKEY__COUNT];
	const char *one[CONDKEY__COUNT]; /* the value of single-valued keys */
	const char *verbs[CONDKEYS_PARTIQL_VERBS];
	const char *regions[CONDKEYS_MAX_VALUES];
	char current_time[32]; /* "2026-01-01T00:00:00Z" */
	char epoch_time[24];   /* "1767225600" */
	char account[64];      /* account field of the Kinesis stream ARN */
	const char *leading[CONDKEYS_MAX_ITEMS];
	const char *attributes[CONDKEYS_MAX_ATTRIBUTES];
	const char *rp_accounts[CONDKEYS_MAX_VALUES];
	const char *rp_principals[CONDKEYS_MAX_VALUES];
	bool geo_done;
	char country[3]; /* "" when unknown */
	char asn[11];
	size_t text_used;
	char text[CONDKEYS_TEXT_MAX]; /* copies: names from expressions, principals of a parsed policy */
};

void condkeys_request_init(struct condkeys_request *cr, const struct catalog_action *action, const cJSON *body,
                           const struct inspect_result *inspect, const char *client_ip, bool tls,
                           const struct timespec *now, const struct identity *identity,
                           const struct condkeys_env *env);

/* A condition_lookup_fn; `ctx` is a struct condkeys_request. */
void condkeys_lookup(void *ctx, int key_id, const char *tag, struct condition_request_values *out);

#endif
