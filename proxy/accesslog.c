#include "proxy/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxy/ids.h"
#include "proxy/jsonw.h"
#include "proxy/log.h"
#include "proxy/request.h"

struct accesslog {
	int fd;
	bool owns_fd;
	struct jsonw w;	    /* reused for every record: no allocation once warm */
	time_t last_complaint;
};

struct accesslog *
accesslog_open(const char *path)
{
	struct accesslog *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	if (strcmp(path, "-") == 0) {
		a->fd = STDOUT_FILENO;
	} else {
		a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (a->fd < 0) {
			log_warn("access log %s", path);
			free(a);
			return NULL;
		}
		a->owns_fd = true;
	}
	jsonw_init(&a->w);
	return a;
}

void
accesslog_close(struct accesslog *a)
{
	if (a == NULL)
		return;
	if (a->owns_fd)
		close(a->fd);
	jsonw_release(&a->w);
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

static void
write_resources(struct jsonw *w, const struct runtime *rt, const struct request *r)
{
	const struct inspect_result *in = r->inspect;
	size_t i;

	if (in->primary_table != NULL) {
		jsonw_object_begin(w, "requestParameters");
		jsonw_string(w, "tableName", in->primary_table);
		if (in->partiql_statement != NULL) /* literals redacted, as CloudTrail logs PartiQL */
			jsonw_string(w, "statement", in->partiql_statement);
		jsonw_object_end(w);
	} else {
		jsonw_null(w, "requestParameters");
	}
	jsonw_array_begin(w, "resources");
	for (i = 0; i < in->n; i++) {
		jsonw_object_begin(w, NULL);
		jsonw_string(w, "type", inspect_type_cloudtrail(in->res[i].type));
		jsonw_string(w, "ARN", in->res[i].arn);
		jsonw_object_end(w);
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
		if (r->upstream_end_ns > r->upstream_start_ns)
			jsonw_double3(w, "durationMs", (double)(r->upstream_end_ns - r->upstream_start_ns) / 1e6);
		jsonw_object_end(w);
	}
	jsonw_double3(w, "durationMs", (double)(end - r->mono_start_ns) / 1e6);
	jsonw_uint(w, "bytesIn", r->bytes_in);
	jsonw_uint(w, "bytesOut", r->bytes_out);
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
	ssize_t n;
	size_t off = 0;
	time_t now;

	jsonw_reset(&a->w);
	format_record(&a->w, rt, r);
	if (a->w.failed) {
		log_warnx("access log: could not format a record (out of memory)");
		return;
	}
	while (off < a->w.len) {
		n = write(a->fd, a->w.buf + off, a->w.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			now = time(NULL);
			if (now != a->last_complaint) {
				a->last_complaint = now;
				log_warn("access log write failed");
			}
			return;
		}
		off += (size_t)n;
	}
}
