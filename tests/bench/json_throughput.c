/*
 * tests/bench/json_throughput.c: how fast the JSON inspector's parsers read a
 * ~1 MiB BatchWriteItem-shaped body, in MB/s. A measurement, not a test: it
 * asserts nothing about speed and is not run by tests/run.sh (moved out of
 * tests/unit/filters/dynamodb/test_json.c, where it counted as a passing test).
 *
 *   ninja -C build tests/bench/bench_json_throughput && build/tests/bench/bench_json_throughput
 *
 * Timings are noisy on a shared machine; compare figures from one run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filters/dynamodb/json.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const data_maps[] = { "Item", "Key", "M" };
static const struct json_opts ddb_opts = { .data_map_members = data_maps,
	.n_data_map_members = N_ELEMS(data_maps) };

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench_json_throughput: %s\n", what);
		exit(1);
	}
}

/* A BatchWriteItem-like body of about `target` bytes: 25 tables, items with many attributes. */
static char *
batch_write_body(size_t target, size_t *len)
{
	size_t cap = target + 65536, t, item = 0, a;
	char *buf = malloc(cap);

	check(buf != NULL, "out of memory");
	*len = (size_t)snprintf(buf, cap, "{\"RequestItems\":{");
	for (t = 0; t < 25; t++) {
		*len += (size_t)snprintf(buf + *len, cap - *len, "%s\"Table%02zu\":[", t ? "," : "", t);
		do {
			*len += (size_t)snprintf(buf + *len, cap - *len,
			    "%s{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"user#%06zu\"},\"sk\":{\"N\":\"%zu\"}",
			    *len > 0 && buf[*len - 1] == '[' ? "" : ",", item, item);
			for (a = 0; a < 20; a++)
				*len += (size_t)snprintf(buf + *len, cap - *len,
				    ",\"attr%02zu\":{\"S\":\"value \\u00e9 %zu-%zu\"},\"n%02zu\":{\"N\":\"%zu.5\"}", a,
				    item, a, a, item * a);
			*len += (size_t)snprintf(buf + *len, cap - *len,
			    ",\"tags\":{\"L\":[{\"S\":\"a\"},{\"M\":{\"x\":{\"BOOL\":true},\"X\":{\"NULL\":true}}}]}}}}");
			item++;
		} while (*len < (t + 1) * (target / 25));
		*len += (size_t)snprintf(buf + *len, cap - *len, "]");
	}
	*len += (size_t)snprintf(buf + *len, cap - *len, "}}");
	check(*len < cap, "body overflow");
	return buf;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(void)
{
	struct json_arena *a;
	struct json_error err;
	size_t len, rounds = 0;
	char *body = batch_write_body(1u << 20, &len);
	double t0, t;
	cJSON *root;

	json_init();
	a = json_arena_new(0);
	check(a != NULL, "out of memory");
	/* Warm up, and make sure the body is what it claims. */
	root = json_arena_parse(a, body, len, &ddb_opts, &err);
	if (root == NULL) {
		fprintf(stderr, "bench_json_throughput: body refused: %s\n", err.msg);
		return 1;
	}
	check(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "RequestItems")) == 25, "not 25 tables");
	json_arena_reset(a);
	t0 = now();
	do {
		root = json_arena_parse(a, body, len, &ddb_opts, &err);
		check(root != NULL, "parse failed");
		json_arena_reset(a);
		rounds++;
	} while ((t = now() - t0) < 0.5 || rounds < 3);
	printf("json_arena_parse: %.1f MB/s (%zu bytes x %zu in %.2f s)\n", (double)len * (double)rounds / t / 1e6,
	    len, rounds, t);

	rounds = 0;
	t0 = now();
	do {
		root = json_parse_strict(body, len, &ddb_opts, &err);
		check(root != NULL, "parse failed");
		cJSON_Delete(root);
		rounds++;
	} while ((t = now() - t0) < 0.5 || rounds < 3);
	printf("json_parse_strict: %.1f MB/s (malloc per node)\n", (double)len * (double)rounds / t / 1e6);
	json_arena_free(a);
	free(body);
	return 0;
}

