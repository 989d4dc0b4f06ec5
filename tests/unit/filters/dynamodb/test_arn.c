/* Tests filters/dynamodb/arn.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "filters/dynamodb/arn.h"

#define ACCT "123456789012"
#define T "arn:aws:dynamodb:us-east-1:" ACCT ":table/"

static void
assert_slice(struct arn_slice s, const char *want)
{
	char got[1100];

	assert_true(s.len < sizeof(got));
	if (s.len > 0) /* s.p may be NULL for an empty slice */
		memcpy(got, s.p, s.len);
	got[s.len] = '\0';
	assert_string_equal(got, want);
}

static struct arn
parse_ok(const char *s)
{
	struct arn a;
	char buf[ARN_MAX_FORMAT];

	if (!arn_parse(s, strlen(s), &a))
		fail_msg("refused: %s", s);
	/* Accepted ARNs are canonical: printing gives back the input. */
	assert_true(arn_format(&a, buf, sizeof(buf)));
	assert_string_equal(buf, s);
	return a;
}

static void
test_parses_each_kind(void **state)
{
	static const struct {
		const char *arn;
		enum arn_kind kind;
		const char *partition, *region, *table, *sub;
	} cases[] = {
		{ T "Music", ARN_TABLE, "aws", "us-east-1", "Music", "" },
		{ T "My_Table.v-2", ARN_TABLE, "aws", "us-east-1", "My_Table.v-2", "" },
		{ T "Music/index/ByArtist", ARN_INDEX, "aws", "us-east-1", "Music", "ByArtist" },
		{ T "Music/stream/2015-05-11T21:21:33.291", ARN_STREAM, "aws", "us-east-1", "Music",
		    "2015-05-11T21:21:33.291" },
		{ T "Music/backup/01489602797149-73d8d5bc", ARN_BACKUP, "aws", "us-east-1", "Music",
		    "01489602797149-73d8d5bc" },
		{ T "Music/export/01234567890123-a1b2c3d4", ARN_EXPORT, "aws", "us-east-1", "Music",
		    "01234567890123-a1b2c3d4" },
		{ T "Music/import/01234567890123-a1b2c3d4", ARN_IMPORT, "aws", "us-east-1", "Music",
		    "01234567890123-a1b2c3d4" },
		{ T "Music/bulk-operation/0123-abcd", ARN_BULK_OPERATION, "aws", "us-east-1", "Music",
		    "0123-abcd" },
		{ "arn:aws:dynamodb::" ACCT ":global-table/Music", ARN_GLOBAL_TABLE, "aws", "", "Music",
		    "" },
		{ "arn:aws-cn:dynamodb:cn-north-1:" ACCT ":table/Music", ARN_TABLE, "aws-cn",
		    "cn-north-1", "Music", "" },
		{ "arn:aws-us-gov:dynamodb:us-gov-west-1:" ACCT ":table/Music", ARN_TABLE, "aws-us-gov",
		    "us-gov-west-1", "Music", "" },
		{ "arn:aws-iso-b:dynamodb:us-isob-east-1:" ACCT ":table/Music", ARN_TABLE, "aws-iso-b",
		    "us-isob-east-1", "Music", "" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct arn a = parse_ok(cases[i].arn);

		assert_int_equal(a.kind, cases[i].kind);
		assert_slice(a.partition, cases[i].partition);
		assert_slice(a.region, cases[i].region);
		assert_slice(a.account, ACCT);
		assert_slice(a.table, cases[i].table);
		assert_slice(a.sub, cases[i].sub);
	}
}

static void
test_name_limits(void **state)
{
	char name[300], arn[400];

	memset(name, 'a', sizeof(name));
	assert_false(arn_valid_table_name(name, 2));
	assert_true(arn_valid_table_name(name, 3));
	assert_true(arn_valid_table_name(name, 255));
	assert_false(arn_valid_table_name(name, 256));
	assert_false(arn_valid_table_name(NULL, 3));
	assert_false(arn_valid_table_name("ab\0", 3));
	assert_false(arn_valid_table_name("a b", 3));
	assert_false(arn_valid_table_name("a/b", 3));
	assert_false(arn_valid_table_name("a:b", 3));
	assert_false(arn_valid_table_name("a*b", 3));
	assert_false(arn_valid_table_name("ab\xc3\xa9", 4));
	assert_true(arn_valid_table_name("A-_.9", 5));

	snprintf(arn, sizeof(arn), T "%.255s", name);
	parse_ok(arn);
	snprintf(arn, sizeof(arn), T "%.256s", name);
	assert_false(arn_parse(arn, strlen(arn), &(struct arn){ 0 }));
	snprintf(arn, sizeof(arn), T "Music/index/%.256s", name);
	assert_false(arn_parse(arn, strlen(arn), &(struct arn){ 0 }));
}

static void
test_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"arn",
		"arn:",
		"Arn:aws:dynamodb:us-east-1:" ACCT ":table/Music",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music ",
		" arn:aws:dynamodb:us-east-1:" ACCT ":table/Music",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/index",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/index/",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/index/ByArtist/x",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/index/By Artist",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/index/ab",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/stream/",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/stream/a/b",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/stream/a b",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/stream/*",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/stream/x\x7f",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/backup/",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/export/a?",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/Index/ByArtist",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Music/unknown/x",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table//index/ByArtist",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table",
		"arn:aws:dynamodb:us-east-1:" ACCT ":Table/Music",
		"arn:aws:dynamodb:us-east-1:" ACCT ":tables/Music",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/ab",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/Mu$ic",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table/*",
		"arn:aws:dynamodb:us-east-1:" ACCT ":global-table/Music",   /* region not empty */
		"arn:aws:dynamodb::" ACCT ":table/Music",                   /* region empty */
		"arn:aws:dynamodb::" ACCT ":global-table/Music/index/abc",
		"arn:aws:dynamodb::" ACCT ":global-table/",
		"arn:aws:dynamodb::" ACCT ":global-table/ab",
		"arn:aws:dynamodb:us-east-1:12345678901:table/Music",        /* 11 digits */
		"arn:aws:dynamodb:us-east-1:1234567890123:table/Music",      /* 13 digits */
		"arn:aws:dynamodb:us-east-1:12345678901a:table/Music",
		"arn:aws:dynamodb:us-east-1::table/Music",
		"arn:aws:dynamodb:us-east-1:" ACCT "table/Music",
		"arn:aws:s3:us-east-1:" ACCT ":table/Music",
		"arn:aws:DynamoDB:us-east-1:" ACCT ":table/Music",
		"arn:aws:dynamodb-streams:us-east-1:" ACCT ":table/Music",
		"arn:aws:kinesis:us-east-1:" ACCT ":stream/Music",
		"arn::dynamodb:us-east-1:" ACCT ":table/Music",
		"arn:AWS:dynamodb:us-east-1:" ACCT ":table/Music",
		"arn:aw:dynamodb:us-east-1:" ACCT ":table/Music",
		"arn:gcp:dynamodb:us-east-1:" ACCT ":table/Music",
		"arn:aws-:dynamodb:us-east-1:" ACCT ":table/Music",
		"arn:aws--cn:dynamodb:us-east-1:" ACCT ":table/Music",
		"arn:aws1:dynamodb:us-east-1:" ACCT ":table/Music",
		"arn:aws:dynamodb:US-EAST-1:" ACCT ":table/Music",
		"arn:aws:dynamodb:us_east_1:" ACCT ":table/Music",
		"arn:aws:dynamodb:-us-east-1:" ACCT ":table/Music",
		"arn:aws:dynamodb:us-east-1-:" ACCT ":table/Music",
		"arn:aws:dynamodb:us--east-1:" ACCT ":table/Music",
		"arn:aws:dynamodb:us east-1:" ACCT ":table/Music",
		"arn:aws:dynamodb:us-east-1:" ACCT ":table:Music",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct arn a;

		if (arn_parse(bad[i], strlen(bad[i]), &a))
			fail_msg("accepted: %s", bad[i]);
	}
}

static void
test_length_is_respected(void **state)
{
	static const char nul[] = T "Music\0";
	const char *s = T "MusicXYZ";
	char longp[64], big[1200];
	struct arn a;

	/* Only `len` bytes are read: a prefix of a longer buffer parses alone. */
	assert_true(arn_parse(s, strlen(T "Music"), &a));
	assert_slice(a.table, "Music");
	assert_false(arn_parse(nul, sizeof(nul) - 1, &a));
	assert_false(arn_parse(NULL, 0, &a));
	/* Sane lengths for the free-form fields. */
	memset(longp, 'a', sizeof(longp));
	snprintf(big, sizeof(big), "arn:aws-%.40s:dynamodb:us-east-1:" ACCT ":table/Music", longp);
	assert_false(arn_parse(big, strlen(big), &a));
	snprintf(big, sizeof(big), "arn:aws:dynamodb:us-%.40s:" ACCT ":table/Music", longp);
	assert_false(arn_parse(big, strlen(big), &a));
	memset(big, 'a', sizeof(big));
	memcpy(big, T "Music/stream/", strlen(T "Music/stream/"));
	assert_false(arn_parse(big, sizeof(big), &a));
}

static void
test_format_refuses_small_buffer(void **state)
{
	struct arn a = parse_ok(T "Music/index/ByArtist");
	char buf[ARN_MAX_FORMAT];
	size_t need = strlen(T "Music/index/ByArtist");

	assert_false(arn_format(&a, buf, need));
	assert_true(arn_format(&a, buf, need + 1));
	assert_string_equal(buf, T "Music/index/ByArtist");
}

static void
test_partition_for_region(void **state)
{
	assert_string_equal(arn_partition_for_region("us-east-1"), "aws");
	assert_string_equal(arn_partition_for_region("eu-west-3"), "aws");
	assert_string_equal(arn_partition_for_region("cn-north-1"), "aws-cn");
	assert_string_equal(arn_partition_for_region("cn-northwest-1"), "aws-cn");
	assert_string_equal(arn_partition_for_region("us-gov-west-1"), "aws-us-gov");
	assert_string_equal(arn_partition_for_region("us-iso-east-1"), "aws-iso");
	assert_string_equal(arn_partition_for_region("us-isob-east-1"), "aws-iso-b");
	assert_string_equal(arn_partition_for_region("eu-isoe-west-1"), "aws-iso-e");
	assert_string_equal(arn_partition_for_region("us-isof-south-1"), "aws-iso-f");
	assert_string_equal(arn_partition_for_region("eusc-de-east-1"), "aws-eusc");
	/* Prefixes match whole words only at the start. */
	assert_string_equal(arn_partition_for_region("ca-central-1"), "aws");
	assert_string_equal(arn_partition_for_region("us-govx"), "aws");
	assert_string_equal(arn_partition_for_region(""), "aws");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parses_each_kind),
		cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_length_is_respected),
		cmocka_unit_test(test_format_refuses_small_buffer),
		cmocka_unit_test(test_partition_for_region),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
