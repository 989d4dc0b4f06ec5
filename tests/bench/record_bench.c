/*
 * record_bench: formats, chains and writes N access-log records of one
 * fixed call (a signed GetItem over TLS, allowed, 200) to a file, through
 * the same accesslog API the daemon uses, then closes the log (every record
 * written). A fixed workload for instruction counts:
 *
 *     valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out build/tests/bench/record_bench 20000 /tmp/r.log
 *     callgrind_annotate /tmp/cg.out | head   # total Ir / N = instructions per record (both threads)
 *
 * tests/bench/record_cost.sh runs it twice (N and 2N) and prints the difference per record, which
 * cancels start-up and shutdown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "filters/dynamodb/catalog.h"
#include "filters/dynamodb/inspect.h"
#include "filters/dynamodb/json.h"
#include "filters/policy/condkeys.h"
#include "proxy/audit/accesslog.h"
#include "proxy/http.h"
#include "proxy/request.h"
#include "proxy/runtime.h"

static const char head[] = "POST / HTTP/1.1\r\n"
			   "Host: dynamodb.us-east-1.amazonaws.com\r\n"
			   "User-Agent: Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1 lang/python#3.11.2 cfg/retry-mode#legacy\r\n"
			   "X-Amz-Target: DynamoDB_20120810.GetItem\r\n"
			   "Content-Type: application/x-amz-json-1.0\r\n"
			   "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/dynamodb/aws4_request, "
			   "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
			   "Content-Length: 64\r\n"
			   "\r\n";
static const char body[] = "{\"TableName\":\"users\",\"Key\":{\"pk\":{\"S\":\"u1\"},\"sk\":{\"S\":\"profile\"}}}";

int
main(int argc, char **argv)
{
	struct http_limits lim = { .max_header_bytes = 16384, .max_headers = 64, .max_body_bytes = 1 << 20 };
	struct json_opts jo = { .max_depth = 32 };
	struct inspect_scope scope = { "aws", "us-east-1", "123456789012" };
	struct listener_config lc = { .name = "main" };
	struct route route = { .scope = scope };
	struct access_log_config cfg = { .digest_every_records = 1000, .digest_every_seconds = 60,
		.buffer_bytes = 4 << 20 };
	static struct http_message msg;
	struct http_error herr;
	struct json_error jerr;
	struct inspect_result in;
	struct request r;
	struct json_arena *arena;
	struct condkeys_request *keys;
	struct accesslog *a;
	struct runtime rt;
	const struct catalog_action *act;
	char why[256];
	long i, n;

	if (argc != 3) {
		fprintf(stderr, "usage: record_bench N FILE\n");
		return 2;
	}
	n = atol(argv[1]);
	json_init();
	cfg.path = argv[2];
	if (http_parse_request(head, sizeof(head) - 1, &lim, &msg, &herr) != HTTP_OK ||
	    catalog_lookup_target("DynamoDB_20120810.GetItem", 25, &act) != CATALOG_FOUND ||
	    (arena = json_arena_new(64 << 10)) == NULL || (keys = calloc(1, sizeof(*keys))) == NULL) {
		fprintf(stderr, "record_bench: setup failed\n");
		return 1;
	}
	memset(&r, 0, sizeof(r));
	r.inspect = &in;
	r.keys = keys;
	request_begin(&r, &lc, "127.0.0.1", &route);
	r.http = &msg;
	r.action = act;
	r.has_auth = true;
	snprintf(r.auth.access_key_id, sizeof(r.auth.access_key_id), "AKIAIOSFODNN7EXAMPLE");
	r.tls_version = "TLSv1.3";
	r.tls_cipher = "TLS_AES_256_GCM_SHA384";
	if ((r.body = json_arena_parse(arena, body, sizeof(body) - 1, &jo, &jerr)) == NULL ||
	    inspect_request(act, r.body, &scope, arena, &in, why, sizeof(why)) != INSPECT_OK) {
		fprintf(stderr, "record_bench: body setup failed\n");
		return 1;
	}
	r.decision = GUARD_ALLOW;
	r.status = 200;
	r.upstream_status = 200;
	r.upstream_url = "https://dynamodb.us-east-1.amazonaws.com";
	snprintf(r.upstream_peer, sizeof(r.upstream_peer), "127.0.0.1:8000");
	snprintf(r.request_id, sizeof(r.request_id), "QVBTPR0CU4HVUQ8CRCKLQTR3IJVV4KQNSO5AEMVJF66Q9ASUAAJG");
	r.bytes_in = 1200;
	r.bytes_out = 340;
	if ((a = accesslog_open(argv[2])) == NULL || !accesslog_configure(a, &cfg)) {
		fprintf(stderr, "record_bench: cannot open %s\n", argv[2]);
		return 1;
	}
	memset(&rt, 0, sizeof(rt));
	rt.alog = a;
	for (i = 0; i < n; i++) {
		r.upstream_start_ns = r.mono_start_ns + 1000;
		r.upstream_end_ns = r.mono_start_ns + 2500000;
		r.keys_ready = false;
		request_log(&rt, &r); /* what the daemon does: describe the call (struct accesslog_call), queue it */
		if ((i & 1023) == 1023)
			accesslog_flush(a, 10000); /* keep the ring from filling: every record is written */
	}
	accesslog_close(a);
	json_arena_free(arena);
	free(keys);
	return 0;
}
