/* Tests filters/base/diag.c: message format, limits, and JSON path building. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filters/base/diag.h"

static void
test_message_format(void **state)
{
	struct diag *d = diag_new("ddbguard.json");

	assert_non_null(d);
	assert_int_equal(diag_count(d), 0);
	diag_error(d, "$.policies.app.Statement[1].Effect", "expected \"Allow\" or \"Deny\", got \"%s\"",
	    "allow");
	diag_error(d, NULL, "cannot read: %s", "No such file");
	diag_error(d, "", "empty path");
	assert_int_equal(diag_count(d), 3);
	assert_string_equal(diag_message(d, 0),
	    "ddbguard.json: $.policies.app.Statement[1].Effect: "
	    "expected \"Allow\" or \"Deny\", got \"allow\"");
	assert_string_equal(diag_message(d, 1), "ddbguard.json: cannot read: No such file");
	assert_string_equal(diag_message(d, 2), "ddbguard.json: empty path");
	assert_null(diag_message(d, 3));
	diag_free(d);
	diag_free(NULL);
}

/* Control bytes from config text must not reach a terminal or a log line as-is. */
static void
test_message_sanitized(void **state)
{
	struct diag *d = diag_new("a\nb.json");

	diag_error(d, "$[\"x\ty\"]", "got \"%s\"", "line1\nline2\x1b[31m\x7f");
	assert_string_equal(diag_message(d, 0), "a?b.json: $[\"x?y\"]: got \"line1?line2?[31m?\"");
	diag_free(d);
}

/* Messages stay valid while more are added (the list grows by realloc of pointers only). */
static void
test_many_messages_stay_valid(void **state)
{
	struct diag *d = diag_new("f");
	const char *first;

	diag_error(d, "$", "error %d", 0);
	first = diag_message(d, 0);
	for (int i = 1; i < 100; i++)
		diag_error(d, "$", "error %d", i);
	assert_int_equal(diag_count(d), 100);
	assert_ptr_equal(diag_message(d, 0), first);
	assert_string_equal(first, "f: $: error 0");
	assert_string_equal(diag_message(d, 99), "f: $: error 99");
	diag_free(d);
}

/*
 * Past the limit errors are counted, not kept; the count never goes back to
 * zero (a loader testing diag_count() fails closed) and the last message says
 * how many were dropped, so kept + dropped == recorded.
 */
static void
test_limit_keeps_count(void **state)
{
	struct diag *d = diag_new("f");
	const size_t recorded = 5000;
	unsigned long dropped = 0;
	const char *last;
	size_t n;

	for (size_t i = 0; i < recorded; i++)
		diag_error(d, "$", "error %zu", i);
	n = diag_count(d);
	assert_true(n > 1 && n < recorded);
	last = diag_message(d, n - 1);
	assert_int_equal(sscanf(last, "f: %lu more errors not shown", &dropped), 1);
	assert_int_equal((n - 1) + dropped, recorded);
	assert_string_equal(diag_message(d, 0), "f: $: error 0");
	assert_null(diag_message(d, n));
	diag_free(d);
}

struct member_case {
	const char *name;
	const char *want;
};

static void
test_path_members(void **state)
{
	static const struct member_case cases[] = {
		{ "policies", "$.policies" },
		{ "app_1", "$.app_1" },
		{ "_x", "$._x" },
		{ "orders-rw", "$[\"orders-rw\"]" },
		{ "1st", "$[\"1st\"]" },
		{ "", "$[\"\"]" },
		{ "a b", "$[\"a b\"]" },
		{ "q\"uote", "$[\"q\\\"uote\"]" },
		{ "back\\slash", "$[\"back\\\\slash\"]" },
		{ "d.o.t", "$[\"d.o.t\"]" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag_path p;
		size_t mark;

		diag_path_init(&p);
		assert_string_equal(p.text, "$");
		mark = diag_path_member(&p, cases[i].name);
		assert_int_equal(mark, 1);
		assert_string_equal(p.text, cases[i].want);
		assert_int_equal(p.len, strlen(cases[i].want));
		diag_path_pop(&p, mark);
		assert_string_equal(p.text, "$");
		assert_int_equal(p.len, 1);
	}
}

static void
test_path_nesting(void **state)
{
	struct diag_path p;
	size_t m1, m2, m3, m4;

	diag_path_init(&p);
	m1 = diag_path_member(&p, "policies");
	m2 = diag_path_member(&p, "app");
	m3 = diag_path_member(&p, "Statement");
	m4 = diag_path_index(&p, 12);
	assert_string_equal(p.text, "$.policies.app.Statement[12]");
	diag_path_member(&p, "Action");
	diag_path_index(&p, 0);
	assert_string_equal(p.text, "$.policies.app.Statement[12].Action[0]");
	diag_path_pop(&p, m4);
	assert_string_equal(p.text, "$.policies.app.Statement");
	diag_path_pop(&p, m3);
	diag_path_pop(&p, m2);
	assert_string_equal(p.text, "$.policies");
	diag_path_pop(&p, m1);
	assert_string_equal(p.text, "$");
	/* A bogus pop (past the current end) changes nothing. */
	diag_path_pop(&p, 40);
	assert_string_equal(p.text, "$");
	assert_int_equal(p.len, 1);
}

/*
 * Pushing onto a path of every length near the limit truncates with "...",
 * never writes past the buffer, and popping restores the earlier text
 * byte for byte (truncation must not touch what was there before).
 */
static void
test_path_truncation(void **state)
{
	for (size_t base = DIAG_PATH_MAX - 40; base < DIAG_PATH_MAX; base++) {
		struct diag_path p;
		char before[DIAG_PATH_MAX];
		size_t mark, again;

		diag_path_init(&p);
		while (p.len < base && p.len < DIAG_PATH_MAX - 1)
			diag_path_index(&p, 7); /* "[7]": 3 bytes a step */
		memcpy(before, p.text, sizeof(before));
		mark = diag_path_member(&p, "some_member_name_that_is_long");
		assert_true(p.len < DIAG_PATH_MAX);
		assert_int_equal(strlen(p.text), p.len);
		if (p.len == DIAG_PATH_MAX - 1)
			assert_memory_equal(p.text + p.len - 3, "...", 3);
		again = diag_path_index(&p, 123456);
		assert_true(p.len < DIAG_PATH_MAX);
		diag_path_pop(&p, again);
		diag_path_pop(&p, mark);
		assert_string_equal(p.text, before);
	}
}

static void
test_path_long_name_truncated(void **state)
{
	struct diag_path p;
	char name[600];
	size_t mark;

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	diag_path_init(&p);
	mark = diag_path_member(&p, name);
	assert_int_equal(p.len, DIAG_PATH_MAX - 1);
	assert_int_equal(strlen(p.text), DIAG_PATH_MAX - 1);
	assert_memory_equal(p.text, "$.xxx", 5);
	assert_string_equal(p.text + DIAG_PATH_MAX - 4, "...");
	/* Further pushes are no-ops on a truncated path. */
	diag_path_index(&p, 1);
	assert_int_equal(p.len, DIAG_PATH_MAX - 1);
	diag_path_pop(&p, mark);
	assert_string_equal(p.text, "$");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_format),
		cmocka_unit_test(test_message_sanitized),
		cmocka_unit_test(test_many_messages_stay_valid),
		cmocka_unit_test(test_limit_keeps_count),
		cmocka_unit_test(test_path_members),
		cmocka_unit_test(test_path_nesting),
		cmocka_unit_test(test_path_truncation),
		cmocka_unit_test(test_path_long_name_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
