/*
 * diag_expect: the check every config-compiler test makes of a diag list.
 * Include after <cmocka.h>. Messages read "test.json: <path>: <text>".
 */
#ifndef DDBGUARD_TESTS_UNIT_DIAG_EXPECT_H
#define DDBGUARD_TESTS_UNIT_DIAG_EXPECT_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "filters/base/diag.h"

struct diag_want {
	const char *path;   /* the JSON path the error must name */
	const char *needle; /* ... and text its message must contain */
};

/*
 * Fails the test unless compilation failed (`compiled` false), `d` holds
 * exactly `count` errors, and the first ones match `want[0..max_want)` in
 * order (a NULL path ends the list).
 */
static inline void
diag_expect(const char *what, const struct diag *d, bool compiled, size_t count, const struct diag_want *want,
    size_t max_want)
{
	size_t n = diag_count(d);

	if (compiled || n != count) {
		for (size_t i = 0; i < n; i++)
			print_error("  %s\n", diag_message(d, i));
		fail_msg("%s: %zu errors, want %zu (result %s)", what, n, count, compiled ? "returned" : "NULL");
	}
	for (size_t i = 0; i < max_want && want[i].path != NULL; i++) {
		const char *msg = diag_message(d, i);
		char prefix[512];

		snprintf(prefix, sizeof(prefix), "test.json: %s: ", want[i].path);
		if (msg == NULL || strncmp(msg, prefix, strlen(prefix)) != 0 ||
		    strstr(msg + strlen(prefix), want[i].needle) == NULL)
			fail_msg("%s: error %zu is\n  %s\nwant\n  %s...%s", what, i, msg != NULL ? msg : "(none)", prefix,
			    want[i].needle);
	}
}

#endif
