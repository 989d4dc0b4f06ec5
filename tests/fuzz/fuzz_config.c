/*
 * libFuzzer target for config/config.c (and through it the policy compiler,
 * condition parser and identity loader): config_load_buffer on arbitrary
 * input. Besides crashes and sanitizer reports it checks what the loader
 * promises: a refused config has at least one diagnostic, every diagnostic is
 * one line of printable text, and an accepted one has listeners and identities.
 *
 * Paths resolve against an empty temporary directory; inputs that could name
 * a file elsewhere (absolute paths, "..", escapes that could spell either)
 * are skipped, so the fuzzer never reads the machine's files.
 *
 *   build-asan/tests/fuzz/fuzz_config /tmp/corpus-config tests/fuzz/corpus/config -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "filters/base/diag.h"
#include "filters/dynamodb/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                                       \
	do {                                                                                                           \
		if (!(x))                                                                                              \
			abort();                                                                                       \
	} while (0)

static char base_dir[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_init();
	snprintf(base_dir, sizeof(base_dir), "/tmp/ddbguard-fuzz-config-XXXXXX");
	if (mkdtemp(base_dir) == NULL)
		abort();
	return 0;
}

static bool
may_name_outside(const char *buf, size_t size)
{
	return memmem(buf, size, "\"/", 2) != NULL || memmem(buf, size, "..", 2) != NULL ||
	    memchr(buf, '\\', size) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;
	struct diag *d;
	struct config *c;
	size_t i, j, n;

	if (size > 65536 || may_name_outside((const char *)data, size))
		return 0;
	if ((buf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size); /* exact size: a read past the end is a sanitizer report */
	d = diag_new("fuzz.json");
	CHECK(d != NULL);
	c = config_load_buffer("fuzz.json", buf, size, base_dir, d);
	n = diag_count(d);
	if (c == NULL)
		CHECK(n > 0);
	else
		CHECK(c->nlisteners > 0);
	for (i = 0; i < n; i++) {
		const char *m = diag_message(d, i);

		CHECK(m != NULL && m[0] != '\0');
		for (j = 0; m[j] != '\0'; j++)
			CHECK(m[j] != '\n' && m[j] != '\r');
	}
	config_free(c);
	diag_free(d);
	free(buf);
	return 0;
}
