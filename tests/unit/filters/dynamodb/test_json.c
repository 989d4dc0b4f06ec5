/* Tests filters/dynamodb/json.c. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "filters/dynamodb/json.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Member names whose values are DynamoDB attribute maps, as the inspector lists them (sorted). */
static const char *const data_maps[] = { "Item", "Key", "M" };
static const char *const data_maps_keys[] = { "Item", "Key", "Keys", "M" };

static const struct json_opts strict_opts = { 0 };
static const struct json_opts ddb_opts = { .data_map_members = data_maps,
	.n_data_map_members = N_ELEMS(data_maps) };
static const struct json_opts ddb_keys_opts = { .data_map_members = data_maps_keys,
	.n_data_map_members = N_ELEMS(data_maps_keys) };

/* Parses `s` with `opts`; on the expected outcome frees the tree, otherwise fails with the message. */
static void
expect(const char *s, size_t len, const struct json_opts *opts, bool ok, struct json_error *err)
{
	cJSON *root = json_parse_strict(s, len, opts, err);

	if (ok && root == NULL)
		fail_msg("refused (%s) at %u:%u: %.200s", err->msg, err->line, err->column, s);
	if (!ok && root != NULL) {
		cJSON_Delete(root);
		fail_msg("accepted: %.200s", s);
	}
	if (!ok)
		assert_true(err->msg[0] != '\0');
	cJSON_Delete(root);
}

/* --- JSONTestSuite --------------------------------------------------- */

/*
 * y_ files our rules refuse on purpose (json.h): each is a way for two readers
 * to disagree about what a request says.
 */
static const char *const y_refused[] = {
	"y_object_duplicated_key.json",		  /* {"a":"b","a":"c"}: which "a" wins differs by parser */
	"y_object_duplicated_key_and_value.json", /* {"a":"b","a":"b"}: refused all the same, no special case */
	"y_object_escaped_null_in_key.json",	  /* "foo\u0000bar" key: C strings end at the NUL */
	"y_string_null_escape.json",		  /* ["\u0000"]: same */
};

/* The decided outcome of every i_ file; a change in behaviour fails the test until this table follows. */
static const struct {
	const char *name;
	bool accept;
} i_outcomes[] = {
	/* Underflow to 0 and integers beyond int range are kept: they print back as the same double. */
	{ "i_number_double_huge_neg_exp.json", true },
	{ "i_number_real_underflow.json", true },
	{ "i_number_too_big_neg_int.json", true },
	{ "i_number_too_big_pos_int.json", true },
	{ "i_number_very_big_negative_int.json", true },
	/* Overflow to infinity is refused: cJSON would hold inf and print null (RFC 8259 section 9). */
	{ "i_number_huge_exp.json", false },
	{ "i_number_neg_int_huge_exp.json", false },
	{ "i_number_pos_double_huge_exp.json", false },
	{ "i_number_real_neg_overflow.json", false },
	{ "i_number_real_pos_overflow.json", false },
	/* Escaped lone or inverted surrogates. */
	{ "i_object_key_lone_2nd_surrogate.json", false },
	{ "i_string_1st_surrogate_but_2nd_missing.json", false },
	{ "i_string_1st_valid_surrogate_2nd_invalid.json", false },
	{ "i_string_incomplete_surrogate_and_escape_valid.json", false },
	{ "i_string_incomplete_surrogate_pair.json", false },
	{ "i_string_incomplete_surrogates_escape_valid.json", false },
	{ "i_string_invalid_lonely_surrogate.json", false },
	{ "i_string_invalid_surrogate.json", false },
	{ "i_string_inverted_surrogates_U+1D11E.json", false },
	{ "i_string_lone_second_surrogate.json", false },
	/* Invalid UTF-8 (RFC 3629): overlong, surrogates, out of range, truncated, not UTF-8 at all. */
	{ "i_string_UTF-8_invalid_sequence.json", false },
	{ "i_string_UTF8_surrogate_U+D800.json", false },
	{ "i_string_invalid_utf-8.json", false },
	{ "i_string_iso_latin_1.json", false },
	{ "i_string_lone_utf8_continuation_byte.json", false },
	{ "i_string_not_in_unicode_range.json", false },
	{ "i_string_overlong_sequence_2_bytes.json", false },
	{ "i_string_overlong_sequence_6_bytes.json", false },
	{ "i_string_overlong_sequence_6_bytes_null.json", false },
	{ "i_string_truncated-utf-8.json", false },
	/* UTF-16 and BOMs: bodies are UTF-8 without a BOM. */
	{ "i_string_UTF-16LE_with_BOM.json", false },
	{ "i_string_utf16BE_no_BOM.json", false },
	{ "i_string_utf16LE_no_BOM.json", false },
	{ "i_structure_UTF-8_BOM_empty_object.json", false },
	/* Grammatical; accepted at the suite's depth, refused at DynamoDB's (test_depth_limit). */
	{ "i_structure_500_nested_arrays.json", true },
};

#define SUITE_MAX_DEPTH 512 /* judge the deep-nesting files by grammar, not by our limit */

static const char *
suite_dir(char *buf, size_t len)
{
	snprintf(buf, len, "%s/tests/data/JSONTestSuite/test_parsing", SOURCE_ROOT);
	return buf;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		*len = fread(buf, 1, (size_t)n, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

static bool
in_y_refused(const char *name)
{
	size_t i;

	for (i = 0; i < N_ELEMS(y_refused); i++)
		if (strcmp(name, y_refused[i]) == 0)
			return true;
	return false;
}

static int
i_outcome(const char *name)
{
	size_t i;

	for (i = 0; i < N_ELEMS(i_outcomes); i++)
		if (strcmp(name, i_outcomes[i].name) == 0)
			return i_outcomes[i].accept;
	return -1;
}

/* Every accepted tree prints back to text that parses strictly to the same tree. */
static bool
round_trips(const cJSON *root, const struct json_opts *opts)
{
	struct json_error err;
	char *text = cJSON_PrintUnformatted(root);
	cJSON *again;
	bool same;

	if (text == NULL)
		return false;
	again = json_parse_strict(text, strlen(text), opts, &err);
	same = again != NULL && cJSON_Compare(root, again, true);
	cJSON_Delete(again);
	cJSON_free(text);
	return same;
}

static void
test_json_test_suite(void **state)
{
	const struct json_opts opts = { .max_depth = SUITE_MAX_DEPTH };
	char dirbuf[1024], path[2048];
	struct dirent *de;
	size_t n_y = 0, n_n = 0, n_i = 0, n_y_refused = 0, n_i_seen = 0, wrong = 0;
	DIR *d;

	if ((d = opendir(suite_dir(dirbuf, sizeof(dirbuf)))) == NULL) {
		print_message("JSONTestSuite not found at %s; skipping\n", dirbuf);
		skip();
	}
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		struct json_error err;
		size_t len = 0;
		char *buf;
		cJSON *root;
		bool want;

		if ((name[0] != 'y' && name[0] != 'n' && name[0] != 'i') || name[1] != '_')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirbuf, name);
		if ((buf = read_file(path, &len)) == NULL)
			fail_msg("cannot read %s", path);
		root = json_parse_strict(buf, len, &opts, &err);
		switch (name[0]) {
		case 'y':
			n_y++;
			want = !in_y_refused(name);
			n_y_refused += !want;
			break;
		case 'n':
			n_n++;
			want = false;
			break;
		default:
			n_i++;
			if (i_outcome(name) < 0) {
				print_error("%s: no decided outcome in i_outcomes (%s)\n", name,
				    root ? "accepted" : err.msg);
				wrong++;
				want = root != NULL;
			} else {
				n_i_seen++;
				want = i_outcome(name) == 1;
			}
			break;
		}
		if (want && root == NULL) {
			print_error("%s: refused: %s (%u:%u)\n", name, err.msg, err.line, err.column);
			wrong++;
		} else if (!want && root != NULL) {
			print_error("%s: accepted\n", name);
			wrong++;
		} else if (root == NULL && err.msg[0] == '\0') {
			print_error("%s: refused without a message\n", name);
			wrong++;
		} else if (root != NULL && !round_trips(root, &opts)) {
			print_error("%s: accepted tree does not print back to itself\n", name);
			wrong++;
		}
		cJSON_Delete(root);
		free(buf);
	}
	closedir(d);
	print_message("JSONTestSuite: %zu y_ (%zu refused by design), %zu n_, %zu i_\n", n_y, n_y_refused, n_n,
	    n_i);
	assert_int_equal(wrong, 0);
	/* Stale tables are wrong tables: every listed file must exist. */
	assert_int_equal(n_y_refused, N_ELEMS(y_refused));
	assert_int_equal(n_i_seen, N_ELEMS(i_outcomes));
	assert_true(n_y > 90 && n_n > 180);
}

/* --- duplicate keys -------------------------------------------------- */

static void
test_duplicate_keys(void **state)
{
	static const struct {
		const char *json;
		const struct json_opts *opts;
		bool ok;
		const char *msg_has[3]; /* substrings of the error message */
	} cases[] = {
		/* Exact and case-variant duplicates, root and nested. */
		{ "{\"TableName\":\"a\",\"TableName\":\"b\"}", &strict_opts, false,
		    { "duplicate key \"TableName\"", "at $" } },
		{ "{\"TableName\":\"a\",\"tablename\":\"b\"}", &strict_opts, false,
		    { "\"TableName\"", "\"tablename\"", "differ only in case" } },
		{ "{\"TableName\":\"a\",\"TABLENAME\":\"b\"}", &ddb_opts, false, { "differ only in case", "at $" } },
		{ "{\"X\":{\"Y\":{\"k\":1,\"k\":2}}}", &strict_opts, false, { "duplicate key \"k\"", "$.X.Y" } },
		{ "{\"X\":{\"Y\":{\"k\":1,\"K\":2}}}", &strict_opts, false, { "\"k\"", "\"K\"", "$.X.Y" } },
		{ "{\"X\":{\"Y\":{\"k\":1,\"K\":2}}}", &ddb_opts, false, { "$.X.Y" } },
		{ "{\"X\":{\"Y\":{\"k\":1,\"j\":2}},\"Y\":{\"k\":1}}", &strict_opts, true, { NULL } },
		/* Same name in sibling objects is not a duplicate. */
		{ "{\"a\":{\"S\":\"x\"},\"b\":{\"S\":\"y\"}}", &strict_opts, true, { NULL } },
		/* Attribute names are case sensitive inside a data map... */
		{ "{\"Item\":{\"a\":{\"S\":\"x\"},\"A\":{\"S\":\"y\"}}}", &ddb_opts, true, { NULL } },
		{ "{\"Key\":{\"pk\":{\"S\":\"x\"},\"PK\":{\"S\":\"y\"},\"Pk\":{\"S\":\"z\"}}}", &ddb_opts, true, { NULL } },
		{ "{\"Item\":{\"m\":{\"M\":{\"x\":{\"S\":\"1\"},\"X\":{\"S\":\"2\"}}}}}", &ddb_opts, true, { NULL } },
		/* ...but only when listed. */
		{ "{\"Item\":{\"a\":{\"S\":\"x\"},\"A\":{\"S\":\"y\"}}}", &strict_opts, false, { "$.Item" } },
		{ "{\"Items\":{\"a\":{\"S\":\"x\"},\"A\":{\"S\":\"y\"}}}", &ddb_opts, false, { "$.Items" } },
		/* Exact duplicates are refused inside a data map too. */
		{ "{\"Item\":{\"a\":{\"S\":\"x\"},\"a\":{\"S\":\"y\"}}}", &ddb_opts, false,
		    { "duplicate key \"a\"", "$.Item" } },
		/* A structure inside a data-map value is strict again: its nearest member is "a". */
		{ "{\"Item\":{\"a\":{\"S\":\"x\",\"s\":\"y\"}}}", &ddb_opts, false, { "\"S\"", "\"s\"", "$.Item.a" } },
		{ "{\"Item\":{\"l\":{\"L\":[{\"S\":\"a\",\"s\":\"b\"}]}}}", &ddb_opts, false, { "$.Item.l.L" } },
		{ "{\"Item\":{\"l\":{\"L\":[{\"M\":{\"x\":{\"S\":\"1\"},\"X\":{\"S\":\"2\"}}}]}}}", &ddb_opts, true,
		    { NULL } },
		/* Arrays are transparent: the nearest member name of the objects in "Keys" is "Keys". */
		{ "{\"Keys\":[{\"a\":1,\"A\":2}]}", &ddb_keys_opts, true, { NULL } },
		{ "{\"Keys\":[[{\"a\":1,\"A\":2}],{\"b\":1,\"B\":2}]}", &ddb_keys_opts, true, { NULL } },
		{ "{\"Keys\":[{\"a\":1,\"A\":2}]}", &ddb_opts, false, { "$.Keys" } },
		{ "{\"Keys\":[{\"a\":1,\"a\":2}]}", &ddb_keys_opts, false, { "duplicate key \"a\"" } },
		{ "[{\"a\":1},{\"a\":2}]", &strict_opts, true, { NULL } },
		{ "[{\"a\":1,\"A\":2}]", &ddb_opts, false, { "at $" } },
		/* Keys are compared after unescaping. */
		{ "{\"a\":1,\"\\u0061\":2}", &strict_opts, false, { "duplicate key \"a\"" } },
		{ "{\"\\u00e9\":1,\"\xc3\xa9\":2}", &strict_opts, false, { "duplicate key" } },
		{ "{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", &strict_opts, false, { "duplicate key" } },
		{ "{\"a\\/b\":1,\"a/b\":2}", &strict_opts, false, { "duplicate key \"a/b\"" } },
		{ "{\"Item\":{\"a\":{\"S\":\"x\"},\"\\u0041\":{\"S\":\"y\"}}}", &ddb_opts, true, { NULL } },
		{ "{\"Item\":{\"a\":{\"S\":\"x\"},\"\\u0061\":{\"S\":\"y\"}}}", &ddb_opts, false, { "duplicate key \"a\"" } },
		/* Case folding is ASCII only: these are different letters. */
		{ "{\"\xc3\xa9\":1,\"\xc3\x89\":2}", &strict_opts, true, { NULL } },
		/* Non-printable key bytes are not copied into the message. */
		{ "{\"\\n\":1,\"\\n\":2}", &strict_opts, false, { "duplicate key \"?\"" } },
		/* ...nor through the path (a newline here once split log lines). */
		{ "{\"a\\nb\":{\"k\":1,\"k\":2}}", &strict_opts, false, { "at $.a?b" } },
		{ "{\"\xc3\xa9\":[{\"k\":1,\"K\":2}]}", &strict_opts, false, { "at $.??" } },
	};
	size_t i, j;

	for (i = 0; i < N_ELEMS(cases); i++) {
		struct json_error err;

		expect(cases[i].json, strlen(cases[i].json), cases[i].opts, cases[i].ok, &err);
		for (j = 0; j < N_ELEMS(cases[i].msg_has) && cases[i].msg_has[j] != NULL; j++)
			if (strstr(err.msg, cases[i].msg_has[j]) == NULL)
				fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg, cases[i].msg_has[j]);
	}
}

/* An object of `n` keys "k0".."k<n-1>", then `extra` as one more member (if not NULL), wrapped in `wrap`. */
static char *
big_object(size_t n, const char *extra, const char *wrap)
{
	size_t cap = n * 24 + 256, len = 0, i;
	char *buf = malloc(cap);

	assert_non_null(buf);
	if (wrap != NULL)
		len += (size_t)snprintf(buf + len, cap - len, "{\"%s\":", wrap);
	buf[len++] = '{';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s\"k%zu\":{\"N\":\"%zu\"}", i ? "," : "", i, i);
	if (extra != NULL)
		len += (size_t)snprintf(buf + len, cap - len, ",\"%s\":{\"S\":\"dup\"}", extra);
	buf[len++] = '}';
	if (wrap != NULL)
		buf[len++] = '}';
	buf[len] = '\0';
	assert_true(len < cap);
	return buf;
}

static void
test_duplicate_keys_large_object(void **state)
{
	static const struct {
		const char *extra, *wrap;
		const struct json_opts *opts;
		bool ok;
		const char *msg_has;
	} cases[] = {
		{ NULL, NULL, &strict_opts, true, NULL },
		{ NULL, "Item", &ddb_opts, true, NULL },
		{ "k5000", NULL, &strict_opts, false, "duplicate key \"k5000\" in object at $" },
		{ "k0", NULL, &strict_opts, false, "duplicate key \"k0\"" },
		{ "k9999", "Item", &ddb_opts, false, "duplicate key \"k9999\" in object at $.Item" },
		{ "K5000", NULL, &strict_opts, false, "differ only in case" },
		{ "K5000", "Item", &ddb_opts, true, NULL },
		{ "K5000", "Other", &ddb_opts, false, "$.Other" },
	};
	struct json_arena *a = json_arena_new(0);
	size_t i;

	assert_non_null(a);
	for (i = 0; i < N_ELEMS(cases); i++) {
		char *body = big_object(10000, cases[i].extra, cases[i].wrap);
		struct json_error err;
		cJSON *root;

		expect(body, strlen(body), cases[i].opts, cases[i].ok, &err);
		if (cases[i].msg_has != NULL && strstr(err.msg, cases[i].msg_has) == NULL)
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg, cases[i].msg_has);
		/* The arena path sorts its key list in the arena: same answers. */
		root = json_arena_parse(a, body, strlen(body), cases[i].opts, &err);
		assert_int_equal(root != NULL, cases[i].ok);
		if (cases[i].msg_has != NULL)
			assert_non_null(strstr(err.msg, cases[i].msg_has));
		json_arena_reset(a);
		free(body);
	}
	json_arena_free(a);
}

/* --- grammar and encoding -------------------------------------------- */

static char *
nested_arrays(unsigned depth)
{
	char *s = malloc(2 * depth + 1);
	unsigned i;

	assert_non_null(s);
	for (i = 0; i < depth; i++) {
		s[i] = '[';
		s[2 * depth - 1 - i] = ']';
	}
	s[2 * depth] = '\0';
	return s;
}

static char *
nested_objects(unsigned depth)
{
	size_t len = 0, cap = 8 * (size_t)depth + 8;
	char *s = malloc(cap);
	unsigned i;

	assert_non_null(s);
	for (i = 0; i < depth; i++)
		len += (size_t)snprintf(s + len, cap - len, "{\"a\":");
	s[len++] = '1';
	for (i = 0; i < depth; i++)
		s[len++] = '}';
	s[len] = '\0';
	return s;
}

static void
test_depth_limit(void **state)
{
	static const struct {
		unsigned max_depth; /* 0: JSON_DYNAMODB_MAX_DEPTH */
		unsigned depth;
		bool ok;
	} cases[] = {
		{ 0, 1, true },
		{ 0, JSON_DYNAMODB_MAX_DEPTH, true },
		{ 0, JSON_DYNAMODB_MAX_DEPTH + 1, false },
		{ JSON_DYNAMODB_MAX_DEPTH, JSON_DYNAMODB_MAX_DEPTH + 1, false },
		{ 1, 1, true },
		{ 1, 2, false },
		{ 100, 100, true },
		{ 100, 101, false },
		{ 100000, 600, false }, /* json.c bounds its recursion whatever the caller asks */
	};
	char dirbuf[1024], path[2048];
	struct json_error err;
	size_t i, len;
	char *s;

	for (i = 0; i < N_ELEMS(cases); i++) {
		struct json_opts opts = { .max_depth = cases[i].max_depth };

		s = nested_arrays(cases[i].depth);
		expect(s, strlen(s), &opts, cases[i].ok, &err);
		if (!cases[i].ok) {
			assert_non_null(strstr(err.msg, "nesting deeper than"));
			/* At the bracket that goes one level too deep (json.c caps any limit at 512). */
			unsigned limit = opts.max_depth == 0 ? JSON_DYNAMODB_MAX_DEPTH : opts.max_depth;

			assert_int_equal(err.offset, limit > 512 ? 512 : limit);
		}
		free(s);
		s = nested_objects(cases[i].depth);
		expect(s, strlen(s), &opts, cases[i].ok, &err);
		free(s);
	}
	/* NULL opts mean the defaults. */
	s = nested_arrays(JSON_DYNAMODB_MAX_DEPTH);
	expect(s, strlen(s), NULL, true, &err);
	free(s);
	s = nested_arrays(JSON_DYNAMODB_MAX_DEPTH + 1);
	expect(s, strlen(s), NULL, false, &err);
	free(s);

	/* The suite's 500-deep file, judged at DynamoDB's depth. */
	snprintf(path, sizeof(path), "%s/i_structure_500_nested_arrays.json", suite_dir(dirbuf, sizeof(dirbuf)));
	if ((s = read_file(path, &len)) != NULL) {
		struct json_opts opts = { .max_depth = 32 };

		expect(s, len, &opts, false, &err);
		assert_int_equal(err.offset, 32);
		expect(s, len, &strict_opts, false, &err);
		free(s);
	}
}

static void
test_grammar_and_encoding(void **state)
{
	static const struct {
		const char *json;
		size_t len; /* 0: strlen */
		bool ok;
		const char *msg_has;
	} cases[] = {
		/* Trailing bytes. */
		{ "{} ", 0, true, NULL },
		{ " \t\r\n{}\r\n", 0, true, NULL },
		{ "{}x", 0, false, "after the JSON value" },
		{ "{}{}", 0, false, "after the JSON value" },
		{ "1 2", 0, false, "after the JSON value" },
		{ "{}\0", 3, false, NULL },
		{ "{}\f", 0, false, "after the JSON value" },
		{ "", 0, false, "end of input" },
		{ "   ", 0, false, "end of input" },
		/* Raw NUL and \u0000. */
		{ "{\"a\":\"x\0y\"}", 11, false, "NUL byte" },
		{ "{\"a\0\":1}", 8, false, "NUL byte" },
		{ "\0{}", 3, false, "NUL byte" },
		{ "{\"a\":\"x\\u0000y\"}", 0, false, "\\u0000" },
		{ "{\"\\u0000\":1}", 0, false, "\\u0000" },
		{ "[\"\\u0001\"]", 0, true, NULL },
		/* UTF-8: valid forms, then overlong, encoded surrogate, > U+10FFFF, truncated, stray. */
		{ "[\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"]",
		    0, true, NULL },
		{ "[\"\xc0\xaf\"]", 0, false, "invalid UTF-8" },
		{ "[\"\xc1\xbf\"]", 0, false, "invalid UTF-8" },
		{ "[\"\xe0\x80\xaf\"]", 0, false, "invalid UTF-8" },
		{ "[\"\xf0\x80\x80\xaf\"]", 0, false, "invalid UTF-8" },
		{ "[\"\xed\xa0\x80\"]", 0, false, "invalid UTF-8" },
		{ "[\"\xed\xbf\xbf\"]", 0, false, "invalid UTF-8" },
		{ "[\"\xf4\x90\x80\x80\"]", 0, false, "invalid UTF-8" },
		{ "[\"\xf5\x80\x80\x80\"]", 0, false, "invalid UTF-8" },
		{ "[\"\xe2\x82\"]", 0, false, "invalid UTF-8" },
		{ "[\"\xf0\x9f\x98\"]", 0, false, "invalid UTF-8" },
		{ "[\"\xe2\x82", 0, false, NULL },
		{ "[\"\x80\"]", 0, false, "invalid UTF-8" },
		{ "[\"\xff\"]", 0, false, "invalid UTF-8" },
		{ "{\"\xc0\xaf\":1}", 0, false, "invalid UTF-8" },
		/* Escaped surrogates: a proper pair only. */
		{ "[\"\\ud83d\\ude00\"]", 0, true, NULL },
		{ "[\"\\uD834\\uDD1E\"]", 0, true, NULL },
		{ "[\"\\ud83d\"]", 0, false, "unpaired high surrogate" },
		{ "[\"\\ud83dx\"]", 0, false, "unpaired high surrogate" },
		{ "[\"\\ud83d\\u0041\"]", 0, false, "unpaired high surrogate" },
		{ "[\"\\ud83d\\ud83d\"]", 0, false, "unpaired high surrogate" },
		{ "[\"\\ude00\"]", 0, false, "unpaired low surrogate" },
		{ "[\"\\ude00\\ud83d\"]", 0, false, "unpaired low surrogate" },
		{ "[\"\\ud83d", 0, false, NULL },
		/* BOM. */
		{ "\xef\xbb\xbf{}", 0, false, "unexpected byte 0xef" },
		{ "[\"\xef\xbb\xbf\"]", 0, true, NULL }, /* U+FEFF inside a string is just a character */
		/* Numbers (RFC 8259 section 6). */
		{ "[0,-0,1,-1,0.5,-0.5,1e5,1E+5,1e-5,10,123456789]", 0, true, NULL },
		{ "[01]", 0, false, "leading zero" },
		{ "[-01]", 0, false, "leading zero" },
		{ "[00]", 0, false, "leading zero" },
		{ "[1.]", 0, false, "digits must follow '.'" },
		{ "[1.e5]", 0, false, "digits must follow '.'" },
		{ "[.5]", 0, false, NULL },
		{ "[-]", 0, false, "invalid number" },
		{ "-", 0, false, "invalid number" },
		{ "[1e]", 0, false, "exponent" },
		{ "[1e+]", 0, false, "exponent" },
		{ "[+1]", 0, false, NULL },
		{ "[0x10]", 0, false, NULL },
		{ "[1e400]", 0, false, "out of range" },
		{ "{\"Limit\":-1e400}", 0, false, "number out of range for \"Limit\"" },
		{ "1e400", 0, false, "out of range" },
		{ "[1e-400]", 0, true, NULL },
		/* Control characters and escapes in strings. */
		{ "[\"a\tb\"]", 0, false, "control character 0x09" },
		{ "[\"a\nb\"]", 0, false, "control character 0x0a" },
		{ "[\"\x1f\"]", 0, false, "control character 0x1f" },
		{ "[\"\x7f\"]", 0, true, NULL },
		{ "[\"\\t\\n\\r\\b\\f\\/\\\\\\\"\"]", 0, true, NULL },
		{ "[\"\\x41\"]", 0, false, "invalid escape \\x" },
		{ "[\"\\u12\"]", 0, false, "four hex digits" },
		{ "[\"\\u12G4\"]", 0, false, "four hex digits" },
		{ "[\"\\", 0, false, "unterminated string" },
		{ "[\"abc", 0, false, "unterminated string" },
		/* Structure. */
		{ "[1,]", 0, false, NULL },
		{ "{\"a\":1,}", 0, false, "expected a string key" },
		{ "{a:1}", 0, false, "expected a string key" },
		{ "{\"a\" 1}", 0, false, "expected ':'" },
		{ "{'a':1}", 0, false, NULL },
		{ "[true,false,null]", 0, true, NULL },
		{ "[tru]", 0, false, "invalid literal" },
		{ "[True]", 0, false, NULL },
		{ "[nul", 0, false, "invalid literal" },
		{ "\"top\"", 0, true, NULL },
		{ "null", 0, true, NULL },
	};
	struct json_error err;
	size_t i;

	for (i = 0; i < N_ELEMS(cases); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].json);

		expect(cases[i].json, len, &strict_opts, cases[i].ok, &err);
		if (cases[i].msg_has != NULL && strstr(err.msg, cases[i].msg_has) == NULL)
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg, cases[i].msg_has);
		if (!cases[i].ok && err.line != 0)
			assert_true(err.offset <= len);
	}
}

/* Strings come out unescaped, and only where the input said so (nothing truncated). */
static void
test_string_values(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "{\"k\":\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"}", "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" },
		{ "{\"k\":\"a\\\"b\\\\c\\/d\"}", "a\"b\\c/d" },
		{ "{\"k\":\"\\u0001x\"}", "\x01x" },
	};
	struct json_error err;
	size_t i;

	for (i = 0; i < N_ELEMS(cases); i++) {
		cJSON *root = json_parse_strict(cases[i].json, strlen(cases[i].json), NULL, &err);
		const cJSON *k;

		assert_non_null(root);
		k = cJSON_GetObjectItemCaseSensitive(root, "k");
		assert_true(cJSON_IsString(k));
		assert_string_equal(k->valuestring, cases[i].want);
		cJSON_Delete(root);
	}
}

static void
test_error_position(void **state)
{
	static const struct {
		const char *json;
		unsigned line, column;
		size_t offset;
	} cases[] = {
		/* the problem on line 3 */
		{ "{\n  \"a\": 1,\n  \"b\": 01\n}", 3, 8, 19 },
		{ "{\n  \"a\": 1,\n  \"b\": \"x\ty\"\n}", 3, 10, 21 },
		{ "{\n\t\"a\": 1,\r\n\t\"b\": [1 2]\n}", 3, 10, 21 },
		{ "[\n1,\n\n \"\xc0\xaf\"]", 4, 3, 8 },
		{ "x", 1, 1, 0 },
		{ "[1,\n2,\n3", 3, 2, 8 },
		{ "{}\n\n  x", 3, 3, 6 },
	};
	struct json_error err;
	size_t i;

	for (i = 0; i < N_ELEMS(cases); i++) {
		expect(cases[i].json, strlen(cases[i].json), NULL, false, &err);
		if (err.line != cases[i].line || err.column != cases[i].column || err.offset != cases[i].offset)
			fail_msg("case %zu: got %u:%u offset %zu (%s), want %u:%u offset %zu", i, err.line, err.column,
			    err.offset, err.msg, cases[i].line, cases[i].column, cases[i].offset);
	}
}

/* --- arena ----------------------------------------------------------- */

static const char small_body[] = "{\"TableName\":\"Music\",\"Key\":{\"Artist\":{\"S\":\"No One You Know\"},"
				 "\"SongTitle\":{\"S\":\"Call Me Today\"}},\"ConsistentRead\":true}";

static void
check_small_tree(const cJSON *root)
{
	const cJSON *key, *artist;

	assert_non_null(root);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "TableName")->valuestring, "Music");
	key = cJSON_GetObjectItemCaseSensitive(root, "Key");
	artist = cJSON_GetObjectItemCaseSensitive(key, "Artist");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(artist, "S")->valuestring, "No One You Know");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "ConsistentRead")));
}

static void
test_arena_reuse_does_not_grow(void **state)
{
	struct json_arena *a = json_arena_new(4096);
	struct json_error err;
	void *first, *p;
	cJSON *root;
	int i;

	assert_non_null(a);
	first = json_arena_alloc(a, 16);
	assert_non_null(first);
	json_arena_reset(a);
	for (i = 0; i < 1000; i++) {
		root = json_arena_parse(a, small_body, strlen(small_body), &ddb_opts, &err);
		check_small_tree(root);
		/* The root node is the first allocation: same block, same place, every time. */
		assert_ptr_equal(root, first);
		json_arena_reset(a);
	}
	p = json_arena_alloc(a, 16);
	assert_ptr_equal(p, first);
	json_arena_free(a);
	json_arena_free(NULL);
}

/* A PutItem body with `n` attributes of `vlen`-byte string values. */
static char *
put_item_body(size_t n, size_t vlen, size_t *len)
{
	size_t cap = n * (vlen + 48) + 128, i;
	char *buf = malloc(cap);

	assert_non_null(buf);
	*len = (size_t)snprintf(buf, cap, "{\"TableName\":\"Big\",\"Item\":{");
	for (i = 0; i < n; i++) {
		*len += (size_t)snprintf(buf + *len, cap - *len, "%s\"attr%05zu\":{\"S\":\"", i ? "," : "", i);
		memset(buf + *len, 'a' + (int)(i % 26), vlen);
		*len += vlen;
		*len += (size_t)snprintf(buf + *len, cap - *len, "\"}");
	}
	*len += (size_t)snprintf(buf + *len, cap - *len, "}}");
	assert_true(*len < cap);
	return buf;
}

static void
check_put_item_tree(const cJSON *root, size_t n, size_t vlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, "Item"), *attr;
	size_t i = 0, j;

	assert_non_null(root);
	assert_int_equal(cJSON_GetArraySize(item), n);
	cJSON_ArrayForEach(attr, item)
	{
		char name[16];
		const char *v = cJSON_GetObjectItemCaseSensitive(attr, "S")->valuestring;

		snprintf(name, sizeof(name), "attr%05zu", i);
		assert_string_equal(attr->string, name);
		assert_int_equal(strlen(v), vlen);
		for (j = 0; j < vlen; j++)
			assert_int_equal(v[j], 'a' + (int)(i % 26));
		i++;
	}
	assert_int_equal(i, n);
}

static void
test_arena_large_body(void **state)
{
	struct json_arena *a = json_arena_new(256);
	struct json_error err;
	size_t len;
	char *body = put_item_body(2000, 100, &len); /* ~300 KB, about 1 MB of nodes */
	cJSON *root;
	void *first;
	int round;

	assert_non_null(a);
	for (round = 0; round < 3; round++) {
		root = json_arena_parse(a, body, len, &ddb_opts, &err);
		if (root == NULL)
			fail_msg("refused: %s", err.msg);
		check_put_item_tree(root, 2000, 100);
		json_arena_reset(a);
		/* After a big parse, a small one still works, in the first block. */
		root = json_arena_parse(a, small_body, strlen(small_body), NULL, &err);
		check_small_tree(root);
		first = root;
		json_arena_reset(a);
		assert_ptr_equal(json_arena_alloc(a, 1), first);
		json_arena_reset(a);
	}
	/* A refused body leaves the arena usable. */
	assert_null(json_arena_parse(a, "{\"a\":1,\"a\":2}", 13, NULL, &err));
	assert_non_null(strstr(err.msg, "duplicate key"));
	assert_null(json_arena_parse(a, "{\"a\":[1,2", 9, NULL, &err));
	root = json_arena_parse(a, small_body, strlen(small_body), NULL, &err);
	check_small_tree(root);
	json_arena_free(a);
	free(body);
}

static void
test_arena_alloc_and_strndup(void **state)
{
	static const size_t sizes[] = { 1, 2, 3, 7, 15, 16, 17, 31, 33, 100, 255, 4095, 4096, 4097, 70000, 0, 1 };
	struct json_arena *a = json_arena_new(4096);
	char *s, *prev[N_ELEMS(sizes)];
	size_t i, j;

	assert_non_null(a);
	for (i = 0; i < N_ELEMS(sizes); i++) {
		prev[i] = json_arena_alloc(a, sizes[i]);
		assert_non_null(prev[i]);
		assert_int_equal((uintptr_t)prev[i] % 8, 0);
		memset(prev[i], (int)i, sizes[i]);
	}
	/* Nothing overlapped. */
	for (i = 0; i < N_ELEMS(sizes); i++)
		for (j = 0; j < sizes[i]; j++)
			assert_int_equal((unsigned char)prev[i][j], (unsigned char)i);
	assert_null(json_arena_alloc(a, SIZE_MAX - 4));

	s = json_arena_strndup(a, "TableName", 5);
	assert_string_equal(s, "Table");
	assert_int_equal((uintptr_t)s % 8, 0);
	s = json_arena_strndup(a, "abc", 0);
	assert_string_equal(s, "");
	s = json_arena_strndup(a, "x\0y", 3); /* n bytes, not up to a NUL */
	assert_memory_equal(s, "x\0y", 4);
	json_arena_reset(a);
	s = json_arena_strndup(a, "again", 5);
	assert_string_equal(s, "again");
	json_arena_free(a);
}

/* cJSON's own entry points still work with our hooks when no arena is active. */
static void
test_hooks_outside_arena(void **state)
{
	struct json_arena *a = json_arena_new(0);
	struct json_error err;
	cJSON *root, *arena_root, *copy;
	char *text;
	int i;

	assert_non_null(a);
	for (i = 0; i < 3; i++) {
		root = cJSON_Parse(small_body);
		check_small_tree(root);
		text = cJSON_Print(root);
		assert_non_null(text);
		assert_non_null(strstr(text, "\"Music\""));
		cJSON_free(text);
		cJSON_AddStringToObject(root, "ReturnValues", "ALL_OLD");
		text = cJSON_PrintUnformatted(root);
		assert_non_null(strstr(text, "\"ReturnValues\":\"ALL_OLD\""));
		cJSON_free(text);
		cJSON_Delete(root);

		/* An arena tree can be printed and copied out of the arena with malloc. */
		arena_root = json_arena_parse(a, small_body, strlen(small_body), NULL, &err);
		check_small_tree(arena_root);
		copy = cJSON_Duplicate(arena_root, true);
		json_arena_reset(a);
		check_small_tree(copy);
		text = cJSON_PrintUnformatted(copy);
		assert_string_equal(text, small_body);
		cJSON_free(text);
		cJSON_Delete(copy);
	}
	json_arena_free(a);
}

/* --- parse memory follows the body's size, whatever its shape --------- */

/* `len` bytes: prefix, then `unit` repeated (the last one without its trailing ','), then suffix. */
static char *
repeat_body(const char *prefix, const char *unit, const char *suffix, size_t target, size_t *len)
{
	size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix), n = (target - pl - sl) / ul, i;
	char *buf = malloc(pl + n * ul + sl + 1);

	assert_non_null(buf);
	memcpy(buf, prefix, pl);
	for (i = 0; i < n; i++)
		memcpy(buf + pl + i * ul, unit, ul);
	*len = pl + n * ul - 1; /* drop the last ',' */
	memcpy(buf + *len, suffix, sl);
	*len += sl;
	buf[*len] = '\0';
	return buf;
}

/* Nested maps {"M":{"a":{"M":{"a":...{"S":"x"}...}}}} `depth` deep, repeated as list elements. */
static char *
nested_maps_body(size_t target, size_t *len)
{
	char unit[1024];
	size_t u = 0, d;
	const size_t depth = 13; /* 2 containers per level: 31 deep with the 4 outer ones and the last; the limit is 32 */

	for (d = 0; d < depth; d++)
		u += (size_t)snprintf(unit + u, sizeof(unit) - u, "{\"M\":{\"a\":");
	u += (size_t)snprintf(unit + u, sizeof(unit) - u, "{\"S\":\"\"}");
	for (d = 0; d < depth; d++)
		u += (size_t)snprintf(unit + u, sizeof(unit) - u, "}}");
	snprintf(unit + u, sizeof(unit) - u, ",");
	return repeat_body("{\"TableName\":\"t\",\"Item\":{\"a\":{\"L\":[", unit, "]}}}", target, len);
}

/* What the gateway parses request bodies with (proxy/runtime.c). */
static const struct json_opts body_opts = { .data_map_members = data_maps,
	.n_data_map_members = N_ELEMS(data_maps), .mem_multiple = JSON_BODY_MEM_MULTIPLE };

static void
test_parse_memory_bound(void **state)
{
	static const struct {
		const char *name, *prefix, *unit, *suffix;
		bool accepted; /* DynamoDB shapes are; shapes no operation has are refused unbuilt */
	} shapes[] = {
		{ "flat array of tiny numbers", "[", "0,", "]", false },
		{ "flat array of tiny numbers in a request", "{\"TableName\":\"t\",\"Limit\":[", "1,", "]}", false },
		{ "many empty strings", "[", "\"\",", "]", false },
		{ "many empty arrays", "[", "[],", "]", false },
		{ "many empty objects", "{\"Item\":{\"a\":{\"L\":[", "{},", "]}}}", false },
		{ "list of {\"S\":\"\"}", "{\"TableName\":\"t\",\"Item\":{\"a\":{\"L\":[", "{\"S\":\"\"},", "]}}}", true },
		{ "list of {\"N\":\"1\"}", "{\"TableName\":\"t\",\"Item\":{\"a\":{\"L\":[", "{\"N\":\"1\"},", "]}}}", true },
		{ "list of {\"NULL\":true}", "{\"TableName\":\"t\",\"Item\":{\"a\":{\"L\":[", "{\"NULL\":true},", "]}}}",
		    true },
		{ "many one-character strings", "{\"TableName\":\"t\",\"Item\":{\"a\":{\"SS\":[", "\"a\",", "]}}}", true },
		{ "list of empty lists", "{\"TableName\":\"t\",\"Item\":{\"a\":{\"L\":[", "{\"L\":[]},", "]}}}", true },
	};
	const size_t target = 2u << 20;
	struct json_arena *a = json_arena_new(4096);
	struct json_error err;
	size_t i, len, bound;
	char *body;
	cJSON *root;

	assert_non_null(a);
	for (i = 0; i <= N_ELEMS(shapes); i++) {
		const char *name = i < N_ELEMS(shapes) ? shapes[i].name : "deeply nested maps";

		body = i < N_ELEMS(shapes) ? repeat_body(shapes[i].prefix, shapes[i].unit, shapes[i].suffix, target, &len)
					   : nested_maps_body(target, &len);
		bound = JSON_BODY_MEM_MULTIPLE * len + JSON_MEM_FLOOR;
		json_arena_release(a);
		assert_int_equal(json_arena_allocated(a), 0);
		root = json_arena_parse(a, body, len, &body_opts, &err);
		print_message("%-44s %8zu bytes -> %9zu arena bytes (%.1fx) %s\n", name, len, json_arena_allocated(a),
		    (double)json_arena_allocated(a) / (double)len, root ? "accepted" : err.msg);
		if (json_arena_allocated(a) > bound)
			fail_msg("%s: %zu arena bytes for %zu body bytes, over %zu", name, json_arena_allocated(a), len,
			    bound);
		if (i == N_ELEMS(shapes) || shapes[i].accepted) {
			if (root == NULL)
				fail_msg("%s refused: %s", name, err.msg);
			/* Not trivially small: the tree is really there, in about what was charged. */
			assert_true(json_arena_allocated(a) > 4 * len);
		} else {
			assert_null(root);
			assert_non_null(strstr(err.msg, "too many JSON values"));
			/* Refused by the recognizer: nothing was built. */
			assert_int_equal(json_arena_allocated(a), 0);
			/* The same without an arena (malloc per node): refused before cJSON runs. */
			assert_null(json_parse_strict(body, len, &body_opts, &err));
			assert_non_null(strstr(err.msg, "too many JSON values"));
		}
		free(body);
	}
	/* A 16 MiB flat array of tiny numbers, the shape that took ~600 MB before: nothing. */
	body = repeat_body("[", "0,", "]", 16u << 20, &len);
	json_arena_release(a);
	assert_null(json_arena_parse(a, body, len, &body_opts, &err));
	assert_int_equal(json_arena_allocated(a), 0);
	free(body);
	/* Unbounded options (config files) still take that shape. */
	body = repeat_body("[", "0,", "]", 2002, &len);
	root = json_parse_strict(body, len, NULL, &err);
	assert_non_null(root);
	assert_int_equal(cJSON_GetArraySize(root), 1000);
	cJSON_Delete(root);
	free(body);
	/* Released at the end of a call: nothing kept. */
	json_arena_release(a);
	assert_int_equal(json_arena_allocated(a), 0);
	root = json_arena_parse(a, small_body, strlen(small_body), &body_opts, &err);
	check_small_tree(root);
	assert_int_equal(json_arena_allocated(a), 4096);
	json_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_test_suite),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_duplicate_keys_large_object),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_grammar_and_encoding),
		cmocka_unit_test(test_string_values),
		cmocka_unit_test(test_error_position),
		cmocka_unit_test(test_arena_reuse_does_not_grow),
		cmocka_unit_test(test_arena_large_body),
		cmocka_unit_test(test_parse_memory_bound),
		cmocka_unit_test(test_arena_alloc_and_strndup),
		cmocka_unit_test(test_hooks_outside_arena),
	};

	json_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
