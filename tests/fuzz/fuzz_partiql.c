/*
 * libFuzzer target for filters/dynamodb/partiql.c: partiql_read and partiql_redact.
 * Besides crashes and sanitizer reports it checks what the module promises:
 *
 *   - a statement read has a valid table (and index, SELECT only) that is
 *     spelled in the input, a FullTableScan answer consistent with its verb
 *     and WHERE clause, no more '?' than the input has bytes '?', and reads
 *     the same with a trailing comment appended;
 *   - a refusal leaves *out zeroed and a message of printable ASCII;
 *   - the redacted copy is never longer than the input; outside quoted
 *     identifiers it holds no quote, backtick, comment, '/', or word starting
 *     with a digit (so no string or number literal survives); redacting it
 *     again changes nothing; a small buffer gets a prefix and the same length.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C build-fuzz && build-fuzz/tests/fuzz/fuzz_partiql tests/fuzz/corpus/partiql \
 *       -dict=tests/fuzz/partiql.dict -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filters/dynamodb/arn.h"
#include "filters/dynamodb/partiql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                                       \
	do {                                                                                                           \
		if (!(x))                                                                                              \
			abort();                                                                                       \
	} while (0)

static bool
is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static void
check_read(const char *buf, size_t size)
{
	struct partiql_statement st, again;
	char why[PARTIQL_WHY_MAX], why2[PARTIQL_WHY_MAX];
	enum partiql_status rc, rc2;
	size_t i, n, q = 0;
	char *more;

	rc = partiql_read(buf, size, &st, why, sizeof(why));
	CHECK(rc == PARTIQL_OK || rc == PARTIQL_SYNTAX || rc == PARTIQL_UNSUPPORTED);
	if (rc != PARTIQL_OK) {
		n = strnlen(why, sizeof(why));
		CHECK(n > 0 && n < sizeof(why));
		for (i = 0; i < n; i++)
			CHECK(why[i] >= 0x20 && why[i] < 0x7f);
		CHECK(is_zero(&st, sizeof(st)));
		return;
	}
	CHECK(st.verb == PARTIQL_SELECT || st.verb == PARTIQL_INSERT || st.verb == PARTIQL_UPDATE ||
	    st.verb == PARTIQL_DELETE);
	n = strnlen(st.table, sizeof(st.table));
	CHECK(n < sizeof(st.table) && arn_valid_table_name(st.table, n));
	CHECK(memmem(buf, size, st.table, n) != NULL); /* never a guessed name */
	n = strnlen(st.index, sizeof(st.index));
	CHECK(n < sizeof(st.index));
	if (n > 0) {
		CHECK(st.verb == PARTIQL_SELECT && arn_valid_table_name(st.index, n));
		CHECK(memmem(buf, size, st.index, n) != NULL);
	}
	if (st.verb != PARTIQL_SELECT)
		CHECK(!st.full_table_scan && !st.exists);
	else if (!st.has_where)
		CHECK(st.full_table_scan);
	if (st.verb == PARTIQL_INSERT)
		CHECK(!st.has_where);
	for (i = 0; i < size; i++)
		q += buf[i] == '?';
	CHECK(st.nparams <= q);

	/* A comment after the statement changes nothing (within the length limit). */
	if (size + 4 > PARTIQL_MAX_CHARS || (more = malloc(size + 4)) == NULL)
		return;
	memcpy(more, buf, size);
	memcpy(more + size, " --x", 4);
	rc2 = partiql_read(more, size + 4, &again, why2, sizeof(why2));
	CHECK(rc2 == PARTIQL_OK && memcmp(&st, &again, sizeof(st)) == 0);
	free(more);
}

/* The redacted text, outside "quoted identifiers", carries no literal. */
static void
check_redacted(const char *out, size_t n)
{
	bool quoted = false;
	size_t i;

	for (i = 0; i < n; i++) {
		char c = out[i];

		CHECK(c != '\0');
		if (c == '"') {
			quoted = !quoted; /* "" inside an identifier toggles twice */
			continue;
		}
		if (quoted)
			continue;
		CHECK(c != '\'' && c != '`' && c != '/');
		CHECK(!(c == '-' && i + 1 < n && out[i + 1] == '-'));
		if (c >= '0' && c <= '9') {
			/* only inside a word that began with a letter or '_' */
			size_t j = i;

			while (j > 0 && ((out[j - 1] >= '0' && out[j - 1] <= '9') || out[j - 1] == '_' ||
			    (out[j - 1] >= 'A' && out[j - 1] <= 'Z') || (out[j - 1] >= 'a' && out[j - 1] <= 'z')))
				j--;
			CHECK(j < i && !(out[j] >= '0' && out[j] <= '9'));
		}
	}
	CHECK(!quoted);
}

static void
check_redact(const char *buf, size_t size)
{
	char *out = malloc(size + 1), *again = malloc(size + 1), *small;
	size_t n, n2, cut = size / 2 + 1;

	if (out == NULL || again == NULL)
		goto done;
	n = partiql_redact(buf, size, out, size + 1);
	CHECK(n <= size && strlen(out) == n);
	check_redacted(out, n);

	/* Idempotent: nothing in the output is redacted again. */
	n2 = partiql_redact(out, n, again, size + 1);
	CHECK(n2 == n && memcmp(out, again, n) == 0);

	/* A short buffer gets a terminated prefix and the same answer. */
	if ((small = malloc(cut)) != NULL) {
		CHECK(partiql_redact(buf, size, small, cut) == n);
		CHECK(strlen(small) == (n < cut ? n : cut - 1));
		CHECK(memcmp(small, out, strlen(small)) == 0);
		free(small);
	}
	CHECK(partiql_redact(buf, size, NULL, 0) == n);
done:
	free(out);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so any read past the end is a sanitizer report */
	char *buf = malloc(size ? size : 1);

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	check_read(buf, size);
	check_redact(buf, size);
	free(buf);
	return 0;
}
