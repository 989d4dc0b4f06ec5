/*
 * json: strict JSON for request bodies and config files, on top of cJSON.
 *
 * cJSON alone accepts input that DynamoDB would read differently (duplicate
 * keys, keys that differ only in case found by its case-insensitive lookup,
 * "\u0000" truncating strings, invalid UTF-8, trailing bytes). Two readers that
 * disagree on what a request says are a policy bypass, so everything here is
 * refused before a tree is handed out:
 *
 *   - anything outside RFC 8259 (trailing bytes, bad escapes, bad numbers,
 *     leading BOM, control characters in strings);
 *   - raw NUL bytes and the escape \u0000;
 *   - invalid UTF-8 (overlong, surrogates, > U+10FFFF, truncated) and escaped
 *     lone or inverted surrogates;
 *   - nesting deeper than `max_depth` (DynamoDB allows 32);
 *   - numbers beyond the range of a double (cJSON would store infinity and
 *     print null, while DynamoDB reads the digits: RFC 8259 section 9);
 *   - duplicate keys in one object, compared after unescaping; keys that
 *     differ only in ASCII case are duplicates too, except inside objects that
 *     hold user data (see json_opts.data_map_members).
 *
 * Callers must look members up with cJSON_GetObjectItemCaseSensitive only,
 * and read numbers through valuedouble (valueint saturates). Key case folding
 * is ASCII (strcasecmp in the C locale: ddbguard never calls setlocale).
 */
#ifndef DDBGUARD_FILTERS_JSON_H
#define DDBGUARD_FILTERS_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define JSON_DYNAMODB_MAX_DEPTH 32

struct json_error {
	size_t offset;	 /* byte offset of the problem in the input */
	unsigned line;	 /* 1-based; 0 when the problem has no position (duplicate keys, number range) */
	unsigned column; /* 1-based, in bytes; 0 likewise */
	char msg[256];	 /* "duplicate key \"TableName\"", no input bytes beyond a key name */
};

/*
 * Parse memory bound for request bodies: the tree of a body of `len` bytes may
 * take at most JSON_BODY_MEM_MULTIPLE * len + JSON_MEM_FLOOR bytes (nodes,
 * strings and duplicate-key scratch, counted exactly by the recognizer before
 * cJSON allocates anything; a body over it is refused unbuilt). Every shape
 * DynamoDB accepts fits: its densest forms, a list of {"S":""} or a set of
 * one-character strings, cost 16x and 18x (a cJSON node is 64 bytes, a string
 * its length + 2 rounded up to 8). What does not fit are shapes no DynamoDB
 * operation has: flat arrays of tiny numbers (32x), of empty strings (24x),
 * of empty arrays or objects (21x). So a 16 MiB body costs at most 320 MiB of
 * parse memory, given back when the call ends (json_arena_release()).
 */
#define JSON_BODY_MEM_MULTIPLE 20
#define JSON_MEM_FLOOR (64u << 10)

struct json_opts {
	unsigned max_depth; /* arrays + objects; 0 means JSON_DYNAMODB_MAX_DEPTH */
	/* Parse memory at most mem_multiple * len + JSON_MEM_FLOOR (see above); 0: unbounded (config files). */
	unsigned mem_multiple;
	/*
	 * Sorted (strcmp order) array of member names whose value holds user data
	 * maps (DynamoDB attribute maps such as "Item", "Key", "M"). In an object
	 * whose nearest enclosing member name is listed (arrays are transparent),
	 * keys that differ only in case are distinct: attribute names are case
	 * sensitive in DynamoDB. Exact duplicates are still refused. NULL: none.
	 */
	const char *const *data_map_members;
	size_t n_data_map_members;
};

/* "a string", "a number", ..., "nothing" for NULL: for messages that say what was found. */
const char *json_type_name(const cJSON *v);

/*
 * Call once at startup before any parse: installs cJSON allocation hooks that
 * honour json_arena_parse(). Not thread-safe; call before starting threads.
 */
void json_init(void);

/*
 * Parses `buf[0..len)` strictly. On success returns a cJSON tree the caller
 * frees with cJSON_Delete(); on failure returns NULL and fills `err`.
 */
cJSON *json_parse_strict(const char *buf, size_t len, const struct json_opts *opts,
    struct json_error *err);

/*
 * A bump allocator for the per-request tree: parsing a request body into an
 * arena costs no malloc per node, and the whole tree (plus any strings the
 * inspector copies with json_arena_strndup) goes away with json_arena_reset().
 * One arena per connection; never cJSON_Delete() a tree from an arena.
 * json_arena_release() at the end of each call gives every block back, so an
 * idle connection holds no parse memory; the next call allocates its first
 * block (initial_bytes) again.
 */
struct json_arena;

struct json_arena *json_arena_new(size_t initial_bytes); /* NULL on ENOMEM; allocates no block yet */
void json_arena_free(struct json_arena *a);		 /* accepts NULL */
void json_arena_reset(struct json_arena *a);		 /* keeps the first block (initial_bytes) */
void json_arena_release(struct json_arena *a);		 /* frees every block; accepts NULL */
void *json_arena_alloc(struct json_arena *a, size_t n);	 /* 8-byte aligned; NULL on ENOMEM */
char *json_arena_strndup(struct json_arena *a, const char *s, size_t n);
/* Bytes of blocks the arena holds now (allocated, used or not): what a call costs in memory. */
size_t json_arena_allocated(const struct json_arena *a);

/* json_parse_strict() with every node allocated in `a`. */
cJSON *json_arena_parse(struct json_arena *a, const char *buf, size_t len,
    const struct json_opts *opts, struct json_error *err);

#endif
