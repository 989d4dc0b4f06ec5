/* Tests for proxy/audit/jsonw.c: escaping, structure, invalid UTF-8 replacement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* The one-byte reference: what the escaper must produce for byte c on its own, among ASCII letters. */
static size_t
ref_escape(unsigned char c, char *out)
{
	if (c == '"' || c == '\\')
		return (size_t)sprintf(out, "\\%c", c);
	if (c == '\n')
		return (size_t)sprintf(out, "\\n");
	if (c == '\r')
		return (size_t)sprintf(out, "\\r");
	if (c == '\t')
		return (size_t)sprintf(out, "\\t");
	if (c < 0x20)
		return (size_t)sprintf(out, "\\u%04x", c);
	if (c >= 0x80)
		return (size_t)sprintf(out, "\\ufffd"); /* a lone byte >= 0x80 is never valid UTF-8 */
	out[0] = (char)c;
	return 1;
}

/* The 8-byte fast path never skips a byte that needs escaping: every byte value at every offset of a word. */
static void
test_fast_path_every_byte(void **state)
{
	struct jsonw w;
	char in[24], want[64];
	size_t pos, k;

	jsonw_init(&w);
	for (unsigned c = 0; c < 256; c++) {
		for (pos = 0; pos < sizeof(in); pos++) {
			memset(in, 'a', sizeof(in));
			in[pos] = (char)c;
			k = 0;
			memset(want, 'a', pos);
			k = pos + ref_escape((unsigned char)c, want + pos);
			memset(want + k, 'a', sizeof(in) - pos - 1);
			k += sizeof(in) - pos - 1;
			jsonw_reset(&w);
			jsonw_escape(&w, in, sizeof(in));
			assert_int_equal(w.len, k);
			assert_memory_equal(w.buf, want, k);
		}
	}
	jsonw_release(&w);
}

/* Numbers without printf match printf (away from exact decimal ties, which binary doubles rarely hold). */
static void
test_numbers_match_printf(void **state)
{
	static const double d[] = { 0, 0.0004, 0.001, 1.2345678, 12.3456, -0.25, -7.0006, 999.9996, 123456789.125,
		1e15, -1e15, 2.5e-7, 0.1 + 0.2 };
	static const int64_t iv[] = { 0, 1, -1, 9, 10, -10, 1234567890123LL, INT64_MAX, INT64_MIN };
	char want[64];
	struct jsonw w;

	jsonw_init(&w);
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		jsonw_reset(&w);
		jsonw_double3(&w, NULL, d[i]);
		snprintf(want, sizeof(want), "%.3f", d[i]);
		assert_output(&w, strcmp(want, "-0.000") == 0 ? "0.000" : want);
	}
	for (size_t i = 0; i < sizeof(iv) / sizeof(iv[0]); i++) {
		jsonw_reset(&w);
		jsonw_int(&w, NULL, iv[i]);
		snprintf(want, sizeof(want), "%lld", (long long)iv[i]);
		assert_output(&w, want);
	}
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
		cmocka_unit_test(test_fast_path_every_byte),
		cmocka_unit_test(test_numbers_match_printf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
