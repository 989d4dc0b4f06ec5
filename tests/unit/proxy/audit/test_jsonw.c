/* Tests for proxy/audit/jsonw.c: escaping, structure, invalid UTF-8 replacement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/audit/jsonw.h"

static void
assert_output(struct jsonw *w, const char *want)
{
	assert_false(w->failed);
	assert_int_equal(w->len, strlen(want));
	assert_memory_equal(w->buf, want, w->len);
}

static void
test_structure(void **state)
{
	struct jsonw w;

	jsonw_init(&w);
	jsonw_object_begin(&w, NULL);
	jsonw_string(&w, "a", "x");
	jsonw_int(&w, "n", -5);
	jsonw_uint(&w, "u", 18446744073709551615u);
	jsonw_bool(&w, "t", true);
	jsonw_null(&w, "z");
	jsonw_string(&w, "s", NULL);
	jsonw_array_begin(&w, "arr");
	jsonw_int(&w, NULL, 1);
	jsonw_object_begin(&w, NULL);
	jsonw_object_end(&w);
	jsonw_array_end(&w);
	jsonw_double3(&w, "d", 1.23456);
	jsonw_object_end(&w);
	assert_output(&w, "{\"a\":\"x\",\"n\":-5,\"u\":18446744073709551615,\"t\":true,\"z\":null,\"s\":null,"
			  "\"arr\":[1,{}],\"d\":1.235}");
	jsonw_release(&w);
}

static void
test_escaping(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{ "plain", 5, "\"plain\"" },
		{ "q\"b\\", 4, "\"q\\\"b\\\\\"" },
		{ "\n\r\t", 3, "\"\\n\\r\\t\"" },
		{ "\x01\x1f", 2, "\"\\u0001\\u001f\"" },
		{ "nul\0x", 5, "\"nul\\u0000x\"" },
		{ "caf\xc3\xa9", 5, "\"caf\xc3\xa9\"" },		/* valid UTF-8 kept */
		{ "\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"" },	/* 4-byte kept */
		{ "a\xff" "b", 3, "\"a\\ufffdb\"" },			/* invalid byte replaced */
		{ "\xc0\xaf", 2, "\"\\ufffd\\ufffd\"" },		/* overlong */
		{ "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" },	/* UTF-8 surrogate */
		{ "\xe2\x82", 2, "\"\\ufffd\\ufffd\"" },		/* truncated */
	};
	struct jsonw w;
	size_t i;

	jsonw_init(&w);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		jsonw_reset(&w);
		jsonw_stringn(&w, NULL, cases[i].in, cases[i].len);
		assert_output(&w, cases[i].out);
	}
	jsonw_release(&w);
}

static void
test_reuse_keeps_buffer(void **state)
{
	struct jsonw w;
	char *first;
	int i;

	jsonw_init(&w);
	jsonw_string(&w, NULL, "warm up the buffer");
	first = w.buf;
	for (i = 0; i < 100; i++) {
		jsonw_reset(&w);
		jsonw_string(&w, NULL, "again");
	}
	assert_ptr_equal(w.buf, first);
	assert_output(&w, "\"again\"");
	jsonw_release(&w);
}

static void
test_unbalanced_fails(void **state)
{
	struct jsonw w;
	int i;

	jsonw_init(&w);
	jsonw_object_end(&w);
	assert_true(w.failed);
	jsonw_reset(&w);
	for (i = 0; i < JSONW_MAX_DEPTH + 1; i++)
		jsonw_array_begin(&w, NULL);
	assert_true(w.failed);
	jsonw_release(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_reuse_keeps_buffer),
		cmocka_unit_test(test_unbalanced_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
