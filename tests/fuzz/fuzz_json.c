/*
 * libFuzzer target for filters/dynamodb/json.c: json_parse_strict with and without
 * data-map options, and json_arena_parse into one reused arena. Besides
 * crashes and sanitizer reports it checks what the module promises:
 *
 *   - an accepted tree prints (cJSON_PrintUnformatted) to text that parses
 *     strictly, with the same options, to an equal tree (case-sensitive);
 *   - a refusal has a message of printable ASCII, and a position (when it
 *     has one) that lies in the input and agrees with the offset;
 *   - the arena and malloc paths give the same answer and the same message;
 *   - data-map options only relax case folding: what strict accepts, they
 *     accept too;
 *   - with the request-body memory bound (mem_multiple), an accepted tree
 *     takes at most JSON_BODY_MEM_MULTIPLE * size + JSON_MEM_FLOOR arena
 *     bytes, is the same tree, and a refusal is the bound or the same one.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address -Db_lundef=false
 *   ninja -C build-fuzz && build-fuzz/tests/fuzz/fuzz_json tests/fuzz/corpus/json \
 *       -dict=tests/fuzz/json.dict -max_total_time=90
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filters/dynamodb/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                                       \
	do {                                                                                                           \
		if (!(x))                                                                                              \
			abort();                                                                                       \
	} while (0)

/* As the inspector lists them (sorted): attribute maps, where names are case sensitive. */
static const char *const data_maps[] = { "ExclusiveStartKey", "Item", "Key", "Keys", "M" };

static const struct json_opts strict_opts = { 0 };
static const struct json_opts ddb_opts = {
	.max_depth = 64, /* a different limit, so the depth check is exercised at two values */
	.data_map_members = data_maps,
	.n_data_map_members = sizeof(data_maps) / sizeof(data_maps[0]),
};

static const struct json_opts bounded_opts = { .mem_multiple = JSON_BODY_MEM_MULTIPLE };

static struct json_arena *arena; /* one arena, reset after each input, as a connection would */
static struct json_arena *bounded_arena; /* released after each input, as a call's end does */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_init();
	if ((arena = json_arena_new(1024)) == NULL || (bounded_arena = json_arena_new(1024)) == NULL)
		abort();
	return 0;
}

static void
check_error(const struct json_error *err, const char *buf, size_t size)
{
	size_t n = strnlen(err->msg, sizeof(err->msg)), i;
	unsigned line = 1, column = 1;

	CHECK(n > 0 && n < sizeof(err->msg));
	for (i = 0; i < n; i++) /* no raw input bytes beyond printable key names */
		CHECK(err->msg[i] >= 0x20 && err->msg[i] < 0x7f);
	if (err->line == 0) /* tree-level refusals (duplicate keys, range) carry no position */
		return;
	CHECK(err->offset <= size);
	for (i = 0; i < err->offset; i++) {
		if (buf[i] == '\n') {
			line++;
			column = 1;
		} else {
			column++;
		}
	}
	CHECK(err->line == line && err->column == column);
}

/* The printed tree parses back strictly, with the same options, to the same tree. */
static void
check_round_trip(const cJSON *root, const struct json_opts *opts)
{
	struct json_error err;
	char *text = cJSON_PrintUnformatted(root);
	cJSON *again;

	CHECK(text != NULL);
	again = json_parse_strict(text, strlen(text), opts, &err);
	CHECK(again != NULL);
	CHECK(cJSON_Compare(root, again, 1));
	cJSON_Delete(again);
	cJSON_free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so any read past the end is a sanitizer report */
	char *buf = malloc(size ? size : 1);
	struct json_error e_strict, e_ddb, e_arena;
	cJSON *strict, *ddb, *in_arena;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);

	strict = json_parse_strict(buf, size, &strict_opts, &e_strict);
	ddb = json_parse_strict(buf, size, &ddb_opts, &e_ddb);
	in_arena = json_arena_parse(arena, buf, size, &strict_opts, &e_arena);

	if (strict != NULL)
		check_round_trip(strict, &strict_opts);
	else
		check_error(&e_strict, buf, size);
	if (ddb != NULL)
		check_round_trip(ddb, &ddb_opts);
	else
		check_error(&e_ddb, buf, size);

	/* Data-map options relax case folding only (and allow 64 levels, not 32). */
	CHECK(strict == NULL || ddb != NULL);
	if (strict != NULL)
		CHECK(cJSON_Compare(strict, ddb, 1));

	/* The arena changes where nodes live, nothing else. */
	CHECK((strict == NULL) == (in_arena == NULL));
	if (in_arena != NULL) {
		CHECK(cJSON_Compare(strict, in_arena, 1));
		check_round_trip(in_arena, &strict_opts);
	} else {
		CHECK(strcmp(e_strict.msg, e_arena.msg) == 0);
		CHECK(e_strict.offset == e_arena.offset && e_strict.line == e_arena.line);
	}

	/* The memory bound: what was charged is what the arena holds, within the bound. */
	{
		struct json_error e_bounded;
		cJSON *bounded = json_arena_parse(bounded_arena, buf, size, &bounded_opts, &e_bounded);

		CHECK(json_arena_allocated(bounded_arena) <= (size_t)JSON_BODY_MEM_MULTIPLE * size + JSON_MEM_FLOOR);
		if (bounded != NULL)
			CHECK(strict != NULL && cJSON_Compare(strict, bounded, 1));
		else
			CHECK(strict == NULL || strstr(e_bounded.msg, "too many JSON values") != NULL);
		json_arena_release(bounded_arena);
	}

	json_arena_reset(arena);
	cJSON_Delete(strict);
	cJSON_Delete(ddb);
	free(buf);
	return 0;
}
