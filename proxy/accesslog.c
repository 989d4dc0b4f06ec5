#include "proxy/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filters/condkeys.h"
#include "proxy/ids.h"
#include "proxy/jsonw.h"
#include "proxy/log.h"
#include "proxy/logchain.h"
#include "proxy/request.h"

struct accesslog {
	int fd;
	bool owns_fd;
	struct jsonw w;	    /* reused for every record: no allocation once warm */
	time_t last_complaint;
	char *path;		/* owned; NULL for standard output */
	struct logchain *chain; /* owned: every record is chained (proxy/logchain.h) */
	uint64_t bytes;		/* size of the open file, for max_bytes */
	uint64_t max_bytes;	/* 0: no size rotation */
	uint32_t digest_every_records, digest_every_seconds;
	uint64_t digest_seq;	/* last record covered by a digest */
	time_t digest_time;	/* when the last digest was written (or the log opened) */
};

static bool write_all(struct accesslog *a, const char *buf, size_t len);

/* Opens (creating) a->path for append and records its size. */
static int
open_file(struct accesslog *a)
{
	struct stat st;
	int fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -1;
	a->bytes = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return fd;
}

/*
 * Continues the chain from the file's last record, or starts a new one with a
 * chainStart marker when that record is missing or does not verify.
 */
static bool
chain_resume(struct accesslog *a)
{
	char why[160];
	bool partial;

	switch (logchain_resume_fd(a->chain, a->fd, &partial, why, sizeof(why))) {
	case LOGCHAIN_RESUME_EMPTY:
		return true;
	case LOGCHAIN_RESUME_CONTINUE:
		log_info("access log %s: continuing the hash chain at seq %llu", a->path,
		    (unsigned long long)logchain_seq(a->chain) + 1);
		return true;
	case LOGCHAIN_RESUME_ERROR:
		log_warnx("access log %s: %s", a->path, why);
		return false;
	case LOGCHAIN_RESUME_BROKEN:
		break;
	}
	log_warnx("access log %s: %s; starting a new hash chain", a->path, why);
	if (partial && !write_all(a, "\n", 1))
		return false;
	jsonw_reset(&a->w);
	jsonw_object_begin(&a->w, NULL);
	jsonw_object_begin(&a->w, "chainStart");
	jsonw_string(&a->w, "reason", why);
	jsonw_object_end(&a->w);
	jsonw_object_end(&a->w);
	jsonw_raw(&a->w, "\n", 1);
	if (!logchain_seal(a->chain, &a->w) || !write_all(a, a->w.buf, a->w.len))
		return false;
	logchain_commit(a->chain);
	return true;
}

struct accesslog *
accesslog_open(const char *path)
{
	struct accesslog *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	jsonw_init(&a->w);
	a->digest_every_records = 1000;
	a->digest_every_seconds = 60;
	a->digest_time = time(NULL);
	if ((a->chain = logchain_new()) == NULL) {
		free(a);
		return NULL;
	}
	if (strcmp(path, "-") == 0) {
		a->fd = STDOUT_FILENO;
	} else {
		if ((a->path = strdup(path)) == NULL || (a->fd = open_file(a)) < 0) {
			log_warn("access log %s", path);
			logchain_free(a->chain);
			free(a->path);
			free(a);
			return NULL;
		}
		a->owns_fd = true;
		if (!chain_resume(a)) {
			accesslog_close(a);
			return NULL;
		}
	}
	a->digest_seq = logchain_seq(a->chain);
	return a;
}

bool
accesslog_configure(struct accesslog *a, const struct access_log_config *cfg)
{
	char err[512];

	a->max_bytes = a->path ? cfg->max_bytes : 0;
	a->digest_every_records = cfg->digest_every_records;
	a->digest_every_seconds = cfg->digest_every_seconds;
	if (cfg->signing_key != NULL && !logchain_load_key(a->chain, cfg->signing_key, err, sizeof(err))) {
		log_warnx("access_log.signing_key: %s", err);
		return false;
	}
	return true;
}

/* Appends a signed digest for the last record if there is one not yet covered. */
static void
write_digest(struct accesslog *a, time_t now)
{
	if (!logchain_has_key(a->chain) || logchain_seq(a->chain) == a->digest_seq)
		return;
	jsonw_reset(&a->w);
	if (!logchain_digest(a->chain, &a->w, now)) {
		log_warnx("access log: could not sign a digest");
		return;
	}
	if (write_all(a, a->w.buf, a->w.len)) {
		a->digest_seq = logchain_seq(a->chain);
		a->digest_time = now;
	}
}

void
accesslog_tick(struct accesslog *a)
{
	time_t now = time(NULL);

	if (a != NULL && now - a->digest_time >= (time_t)a->digest_every_seconds)
		write_digest(a, now);
}

/* Between records: ends the old file with a digest and continues the chain in a new one. */
static bool
reopen(struct accesslog *a)
{
	int fd;

	write_digest(a, time(NULL));
	if ((fd = open_file(a)) < 0) {
		log_warn("access log %s: reopen (still writing to the old file)", a->path);
		return false;
	}
	close(a->fd);
	a->fd = fd;
	return true;
}

void
accesslog_reopen(struct accesslog *a)
{
	if (a == NULL || a->path == NULL)
		return;
	if (reopen(a))
		log_info("access log %s reopened; the hash chain continues at seq %llu", a->path,
		    (unsigned long long)logchain_seq(a->chain) + 1);
}

static void
rotate(struct accesslog *a)
{
	char stamp[32], *to;
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (asprintf(&to, "%s.%s.%llu", a->path, stamp, (unsigned long long)logchain_seq(a->chain)) < 0)
		return;
	write_digest(a, now);
	if (rename(a->path, to) < 0) {
		log_warn("access log: rename %s to %s", a->path, to);
		a->max_bytes = 0; /* do not retry on every record */
	} else if (!reopen(a)) {
		a->max_bytes = 0;
	}
	free(to);
}

void
accesslog_close(struct accesslog *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		write_digest(a, time(NULL));
	if (a->owns_fd)
		close(a->fd);
	jsonw_release(&a->w);
	logchain_free(a->chain);
	free(a->path);
	free(a);
}

static void
write_time(struct jsonw *w, const struct timespec *ts)
{
	char buf[40];
	struct tm tm;
	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03ldZ", ts->tv_nsec / 1000000);
	jsonw_string(w, "eventTime", buf);
}

static void
write_identity(struct jsonw *w, const struct request *r)
{
	jsonw_object_begin(w, "userIdentity");
	jsonw_string(w, "type", "Unknown");
	if (r->has_auth)
		jsonw_string(w, "accessKeyId", r->auth.access_key_id);
	jsonw_object_end(w);
}

/*
 * requestParameters: CloudTrail's member names (camelCase of the API's), but
 * names only, never a value. See proxy/ACCESS_LOG.md for the shape.
 */
#define ACCESSLOG_HIDDEN "HIDDEN_DUE_TO_SECURITY_REASONS" /* CloudTrail's own spelling for a withheld value */
#define ACCESSLOG_ENUM_MAX 48				  /* longest DynamoDB enum value we copy */
#define ACCESSLOG_CAPACITY_MAX 100			  /* TransactWriteItems touches at most 100 tables */

/* An API enum member (Select, ReturnValues ...): logged only if it looks like one, so no free text gets in. */
static void
write_enum(struct jsonw *w, const cJSON *body, const char *member, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, member);
	size_t i, n;

	if (!cJSON_IsString(v) || (n = strlen(v->valuestring)) == 0 || n > ACCESSLOG_ENUM_MAX)
		return;
	for (i = 0; i < n; i++)
		if (!((v->valuestring[i] >= 'A' && v->valuestring[i] <= 'Z') || v->valuestring[i] == '_'))
			return;
	jsonw_string(w, key, v->valuestring);
}

/* "key": {"pk": "HIDDEN_DUE_TO_SECURITY_REASONS", ...}: CloudTrail's shape, the values withheld. */
static void
write_key_names(struct jsonw *w, const cJSON *map)
{
	const cJSON *m;

	if (!cJSON_IsObject(map))
		return;
	jsonw_object_begin(w, "key");
	cJSON_ArrayForEach(m, map)
	{
		jsonw_string(w, m->string, ACCESSLOG_HIDDEN);
	}
	jsonw_object_end(w);
}

/* "item": ["pk", "sk", "note"]: CloudTrail's PutItem shape (attribute names). */
static void
write_item_names(struct jsonw *w, const cJSON *map)
{
	const cJSON *m;

	if (!cJSON_IsObject(map))
		return;
	jsonw_array_begin(w, "item");
	cJSON_ArrayForEach(m, map)
	{
		jsonw_string(w, NULL, m->string);
	}
	jsonw_array_end(w);
}

/* "expressions": which expression (or legacy condition) members the call used, not their text. */
static void
write_expressions(struct jsonw *w, const cJSON *body)
{
	static const char *const members[] = { "KeyConditionExpression", "FilterExpression", "ProjectionExpression",
		"ConditionExpression", "UpdateExpression", "KeyConditions", "QueryFilter", "ScanFilter", "Expected",
		"AttributesToGet", "AttributeUpdates" };
	bool open = false;
	size_t i;

	for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		if (cJSON_GetObjectItemCaseSensitive(body, members[i]) == NULL)
			continue;
		if (!open)
			jsonw_array_begin(w, "expressions");
		open = true;
		jsonw_string(w, NULL, members[i]);
	}
	if (open)
		jsonw_array_end(w);
}

/*
 * "attributes": every attribute name the call reads or writes, as policies
 * see them (dynamodb:Attributes, filters/condkeys.c): key, item, projection
 * and update names of every table the call touches.
 */
static void
write_attribute_names(struct jsonw *w, const struct request *r)
{
	struct condkeys_request *cr;
	struct condition_request_values v = { 0 };
	size_t i;
	bool open = false;

	/* ~24 KiB of scratch: too much for every record on the stack, and only item calls need it. */
	if (r->action == NULL || r->body == NULL || r->action->class_ == CATALOG_CLASS_ADMIN)
		return;
	if ((cr = malloc(sizeof(*cr))) == NULL)
		return;
	condkeys_request_init(cr, r->action, r->body, r->inspect, NULL, false, &r->wall_start, NULL, NULL);
	condkeys_lookup(cr, CONDKEY_ATTRIBUTES, NULL, &v);
	for (i = 0; v.present && i < v.n; i++) {
		if (v.values[i] == NULL)
			continue; /* a member of the wrong type: nothing to name */
		if (!open)
			jsonw_array_begin(w, "attributes");
		open = true;
		jsonw_string(w, NULL, v.values[i]);
	}
	if (open)
		jsonw_array_end(w);
	free(cr);
}

static void
write_request_parameters(struct jsonw *w, const struct request *r)
{
	const struct inspect_result *in = r->inspect;
	const cJSON *b = r->body;
	const cJSON *v;

	if (in->primary_table == NULL) {
		jsonw_null(w, "requestParameters");
		return;
	}
	jsonw_object_begin(w, "requestParameters");
	jsonw_string(w, "tableName", in->primary_table);
	if (b != NULL) {
		write_key_names(w, cJSON_GetObjectItemCaseSensitive(b, "Key"));
		write_item_names(w, cJSON_GetObjectItemCaseSensitive(b, "Item"));
		v = cJSON_GetObjectItemCaseSensitive(b, "IndexName");
		if (cJSON_IsString(v) && strlen(v->valuestring) <= 255)
			jsonw_string(w, "indexName", v->valuestring);
		write_enum(w, b, "Select", "select");
		write_enum(w, b, "ReturnValues", "returnValues");
		write_enum(w, b, "ReturnConsumedCapacity", "returnConsumedCapacity");
		write_enum(w, b, "ReturnItemCollectionMetrics", "returnItemCollectionMetrics");
		write_enum(w, b, "ReturnValuesOnConditionCheckFailure", "returnValuesOnConditionCheckFailure");
		v = cJSON_GetObjectItemCaseSensitive(b, "ConsistentRead");
		if (cJSON_IsBool(v))
			jsonw_bool(w, "consistentRead", cJSON_IsTrue(v));
		v = cJSON_GetObjectItemCaseSensitive(b, "Limit");
		if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1e9 &&
		    v->valuedouble == (double)(int64_t)v->valuedouble)
			jsonw_int(w, "limit", (int64_t)v->valuedouble);
		write_expressions(w, b);
		write_attribute_names(w, r);
	}
	if (in->partiql_statement != NULL) /* literals redacted, as CloudTrail logs PartiQL */
		jsonw_string(w, "statement", in->partiql_statement);
	jsonw_object_end(w);
}

/* The account field of an ARN (arn:partition:service:region:ACCOUNT:resource), or NULL. */
static void
write_arn_account(struct jsonw *w, const char *arn)
{
	const char *p = arn, *end;
	int i;

	for (i = 0; i < 4 && p != NULL; i++) {
		p = strchr(p, ':');
		if (p != NULL)
			p++;
	}
	if (p == NULL || (end = strchr(p, ':')) == NULL || end == p) {
		jsonw_null(w, "accountId");
		return;
	}
	jsonw_stringn(w, "accountId", p, (size_t)(end - p));
}

static void
write_resources(struct jsonw *w, const struct runtime *rt, const struct request *r)
{
	const struct inspect_result *in = r->inspect;
	size_t i;

	write_request_parameters(w, r);
	jsonw_null(w, "responseElements"); /* as CloudTrail data events: never the response */
	jsonw_array_begin(w, "resources");
	for (i = 0; i < in->n; i++) {
		jsonw_object_begin(w, NULL);
		write_arn_account(w, in->res[i].arn);
		jsonw_string(w, "type", inspect_type_cloudtrail(in->res[i].type));
		jsonw_string(w, "ARN", in->res[i].arn);
		jsonw_object_end(w);
	}
	jsonw_array_end(w);
}

static void
write_capacity_number(struct jsonw *w, const cJSON *cc, const char *member, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cc, member);

	if (cJSON_IsNumber(v))
		jsonw_double3(w, key, v->valuedouble);
}

/* guard.consumedCapacity: always an array, one entry per table, numbers and table names only. */
static void
write_capacity(struct jsonw *w, const cJSON *cc)
{
	const cJSON *e, *t;
	size_t n = 0;

	if (cc == NULL)
		return;
	jsonw_array_begin(w, "consumedCapacity");
	for (e = cJSON_IsArray(cc) ? cc->child : cc; e != NULL && n < ACCESSLOG_CAPACITY_MAX; e = e->next, n++) {
		if (!cJSON_IsObject(e))
			continue;
		jsonw_object_begin(w, NULL);
		t = cJSON_GetObjectItemCaseSensitive(e, "TableName");
		jsonw_string(w, "tableName", cJSON_IsString(t) && strlen(t->valuestring) <= 2048 ? t->valuestring : NULL);
		write_capacity_number(w, e, "CapacityUnits", "capacityUnits");
		write_capacity_number(w, e, "ReadCapacityUnits", "readCapacityUnits");
		write_capacity_number(w, e, "WriteCapacityUnits", "writeCapacityUnits");
		jsonw_object_end(w);
		if (!cJSON_IsArray(cc))
			break;
	}
	jsonw_array_end(w);
}

/* CloudTrail's tlsDetails, for the client side of the call. */
static void
write_tls(struct jsonw *w, const struct request *r)
{
	const char *host;
	size_t len = 0;

	if (r->tls_version == NULL)
		return;
	jsonw_object_begin(w, "tlsDetails");
	jsonw_string(w, "tlsVersion", r->tls_version);
	jsonw_string(w, "cipherSuite", r->tls_cipher);
	host = r->http ? http_get(r->http, HTTP_HDR_HOST, &len) : NULL;
	if (host != NULL)
		jsonw_stringn(w, "clientProvidedHostHeader", host, len);
	jsonw_object_end(w);
}

static void
write_guard(struct jsonw *w, const struct runtime *rt, const struct request *r)
{
	uint64_t end = request_now_ns();

	jsonw_object_begin(w, "guard");
	jsonw_string(w, "decision", guard_decision_name(r->decision));
	if (r->reason[0] != '\0')
		jsonw_string(w, "reason", r->reason);
	if (r->policy.policy != NULL) {
		jsonw_string(w, "policy", r->policy.policy);
		jsonw_string(w, "statement", r->policy.sid);
	}
	jsonw_string(w, "identity", r->identity ? identity_name(r->identity) : NULL);
	if (r->has_auth)
		jsonw_string(w, "identityMatch", identity_match_name(r->identity_match));
	jsonw_string(w, "listener", r->listener ? r->listener->name : NULL);
	if (r->route != NULL && r->route->connect_host != NULL) {
		jsonw_string(w, "mode", "egress");
		jsonw_string(w, "connectTarget", r->route->connect_host);
	} else if (r->connect_target != NULL) {
		jsonw_string(w, "mode", "egress");
		jsonw_stringn(w, "connectTarget", r->connect_target, r->connect_target_len > 253 ? 253 : r->connect_target_len);
	} else if (r->listener != NULL && r->listener->kind == LISTENER_EGRESS) {
		jsonw_string(w, "mode", "egress");
	} else {
		jsonw_string(w, "mode", "reverse");
	}
	if (r->action != NULL)
		jsonw_string(w, "class", catalog_class_name(r->action->class_));
	else if (r->target != NULL)
		jsonw_stringn(w, "target", r->target, r->target_len > 128 ? 128 : r->target_len);
	jsonw_int(w, "status", r->status);
	if (r->upstream_url != NULL) {
		jsonw_object_begin(w, "upstream");
		jsonw_string(w, "url", r->upstream_url);
		if (r->upstream_peer[0] != '\0')
			jsonw_string(w, "address", r->upstream_peer);
		if (r->upstream_status)
			jsonw_int(w, "status", r->upstream_status);
		/* The DynamoDB error type the upstream answered (errorCode says the same for an allowed call). */
		if (r->decision == GUARD_ALLOW && r->upstream_status >= 400 && r->error_code[0] != '\0')
			jsonw_string(w, "errorType", r->error_code);
		if (r->upstream_end_ns > r->upstream_start_ns)
			jsonw_double3(w, "durationMs", (double)(r->upstream_end_ns - r->upstream_start_ns) / 1e6);
		jsonw_object_end(w);
	}
	jsonw_double3(w, "durationMs", (double)(end - r->mono_start_ns) / 1e6);
	jsonw_uint(w, "bytesIn", r->bytes_in);
	jsonw_uint(w, "bytesOut", r->bytes_out);
	write_capacity(w, r->consumed_capacity);
	jsonw_object_end(w);
}

static void
format_record(struct jsonw *w, const struct runtime *rt, const struct request *r)
{
	const char *ua;
	size_t ualen = 0;
	char uuid[37];

	jsonw_object_begin(w, NULL);
	jsonw_string(w, "eventVersion", "1.09");
	write_time(w, &r->wall_start);
	jsonw_string(w, "eventSource", "dynamodb.amazonaws.com");
	jsonw_string(w, "eventName", r->action ? r->action->name : NULL);
	jsonw_string(w, "awsRegion", r->route ? r->route->scope.region : NULL);
	jsonw_string(w, "sourceIPAddress", r->client_ip);
	ua = r->http ? http_get(r->http, HTTP_HDR_USER_AGENT, &ualen) : NULL;
	if (ua != NULL)
		jsonw_stringn(w, "userAgent", ua, ualen > 512 ? 512 : ualen);
	else
		jsonw_null(w, "userAgent");
	write_identity(w, r);
	write_resources(w, rt, r);
	if (r->error_code[0] != '\0') {
		jsonw_string(w, "errorCode", r->error_code);
		jsonw_string(w, "errorMessage", r->reason[0] ? r->reason : NULL);
	}
	jsonw_string(w, "requestID", r->request_id[0] ? r->request_id : NULL);
	ids_uuid(uuid);
	jsonw_string(w, "eventID", uuid);
	jsonw_bool(w, "readOnly", r->action ? r->action->read_only : false);
	jsonw_string(w, "eventType", "AwsApiCall");
	jsonw_bool(w, "managementEvent", r->action ? r->action->class_ == CATALOG_CLASS_ADMIN : false);
	jsonw_string(w, "eventCategory",
	    (r->action && r->action->class_ == CATALOG_CLASS_ADMIN) ? "Management" : "Data");
	jsonw_string(w, "recipientAccountId", r->route ? r->route->scope.account : NULL);
	write_tls(w, r);
	write_guard(w, rt, r);
	jsonw_object_end(w);
	jsonw_raw(w, "\n", 1);
}

void
accesslog_write(struct accesslog *a, const struct runtime *rt, const struct request *r)
{
	time_t now;

	jsonw_reset(&a->w);
	format_record(&a->w, rt, r);
	if (a->w.failed || !logchain_seal(a->chain, &a->w)) {
		log_warnx("access log: could not format a record (out of memory)");
		return;
	}
	if (!write_all(a, a->w.buf, a->w.len))
		return; /* not committed: the next record links to the last one written */
	logchain_commit(a->chain);
	now = time(NULL);
	if (logchain_seq(a->chain) - a->digest_seq >= a->digest_every_records ||
	    now - a->digest_time >= (time_t)a->digest_every_seconds)
		write_digest(a, now);
	if (a->max_bytes != 0 && a->bytes >= a->max_bytes)
		rotate(a);
}

/* One write(2) per record (O_APPEND: lines never interleave), retried only on EINTR or a short write. */
static bool
write_all(struct accesslog *a, const char *buf, size_t len)
{
	ssize_t n;
	size_t off = 0;
	time_t now;

	while (off < len) {
		n = write(a->fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			now = time(NULL);
			if (now != a->last_complaint) {
				a->last_complaint = now;
				log_warn("access log write failed");
			}
			a->bytes += off;
			return false;
		}
		off += (size_t)n;
	}
	a->bytes += len;
	return true;
}
