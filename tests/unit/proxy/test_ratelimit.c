/*
 * Tests for proxy/ratelimit.c: the GCRA bucket arithmetic at fixed clock
 * values (no sleeping), which calls a rule applies to, and that a refused call
 * keeps no token from the buckets it passed before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "filters/dynamodb/catalog.h"
#include "filters/dynamodb/inspect.h"
#include "proxy/ratelimit.h"

#define S 1000000000ull /* one second in ns */

static const struct catalog_action *
act(const char *iam)
{
	const struct catalog_action *a = catalog_find_iam(iam);

	assert_non_null(a);
	return a;
}

static struct inspect_result *
on_table(const char *table)
{
	static struct inspect_result res;

	memset(&res, 0, sizeof(res));
	res.n = 1;
	res.res[0].type = INSPECT_TABLE;
	res.res[0].arn = "arn";
	res.res[0].table = table;
	return &res;
}

static void
test_burst_then_rate(void **state)
{
	struct rate_limit_config rule = { .name = "r", .rate = 2, .burst = 3 };
	struct ratelimit *rl = ratelimit_new(&rule, 1);
	const struct catalog_action *get = act("dynamodb:GetItem");
	uint64_t t0 = 100 * S;
	int i;

	assert_non_null(rl);
	for (i = 0; i < 3; i++) /* the burst, all at once */
		assert_null(ratelimit_take(rl, "app", "10.0.0.1", get, NULL, t0));
	assert_ptr_equal(ratelimit_take(rl, "app", "10.0.0.1", get, NULL, t0), &rule);
	/* Another identity has its own bucket. */
	assert_null(ratelimit_take(rl, "other", "10.0.0.1", get, NULL, t0));
	/* Half a second later, exactly one token is back (rate 2). */
	assert_null(ratelimit_take(rl, "app", NULL, get, NULL, t0 + S / 2));
	assert_ptr_equal(ratelimit_take(rl, "app", NULL, get, NULL, t0 + S / 2), &rule);
	/* Idle long enough, the bucket is full again, but never fuller than the burst. */
	for (i = 0; i < 3; i++)
		assert_null(ratelimit_take(rl, "app", NULL, get, NULL, t0 + 100 * S));
	assert_non_null(ratelimit_take(rl, "app", NULL, get, NULL, t0 + 100 * S));
	ratelimit_free(rl);
	(void)state;
}

static void
test_narrowing_and_refund(void **state)
{
	static char *actions[] = { "dynamodb:Put*" };
	static char *tables[] = { "orders" };
	struct rate_limit_config rules[2] = {
		{ .name = "wide", .rate = 1, .burst = 2 },
		{ .name = "narrow", .identity = "app", .actions = actions, .nactions = 1, .tables = tables,
		    .ntables = 1, .rate = 1, .burst = 1 },
	};
	struct ratelimit *rl = ratelimit_new(rules, 2);
	const struct catalog_action *put = act("dynamodb:PutItem"), *get = act("dynamodb:GetItem");
	uint64_t t = 5 * S;

	assert_non_null(rl);
	/* narrow: app's puts on orders only */
	assert_null(ratelimit_take(rl, "app", NULL, put, on_table("orders"), t)); /* wide 1 left, narrow 0 */
	assert_ptr_equal(ratelimit_take(rl, "app", NULL, put, on_table("orders"), t), &rules[1]);
	/* The refused call gave wide its token back: two more calls fit in wide's burst? one is left. */
	assert_null(ratelimit_take(rl, "app", NULL, get, on_table("orders"), t));	/* not a Put */
	assert_ptr_equal(ratelimit_take(rl, "app", NULL, put, on_table("users"), t), &rules[0]); /* wide empty */
	/* Another identity: narrow does not apply, wide is its own bucket. */
	assert_null(ratelimit_take(rl, "bob", NULL, put, on_table("orders"), t));
	/* No identity (refused before the identity stage): per-identity rules do not apply. */
	assert_null(ratelimit_take(rl, NULL, "10.0.0.1", put, on_table("orders"), t));
	ratelimit_free(rl);
	(void)state;
}

static void
test_per_source_and_many_keys(void **state)
{
	struct rate_limit_config rule = { .name = "src", .per_source = true, .rate = 0.1, .burst = 1 };
	struct ratelimit *rl = ratelimit_new(&rule, 1);
	const struct catalog_action *get = act("dynamodb:GetItem");
	char ip[32];
	int i, refused = 0;

	assert_non_null(rl);
	/* More addresses than slots: every one still gets at least its own first call. */
	for (i = 0; i < 3 * RATELIMIT_SLOTS; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		if (ratelimit_take(rl, "app", ip, get, NULL, S) != NULL)
			refused++;
	}
	/* Once the table is full of active addresses, newcomers share buckets: stricter, never looser. */
	assert_true(refused > 0);
	assert_true(refused <= 2 * RATELIMIT_SLOTS);
	assert_non_null(ratelimit_take(rl, "app", "10.0.0.0", get, NULL, S)); /* the first address: spent */
	ratelimit_free(rl);
	assert_null(ratelimit_new(&rule, 0));
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_narrowing_and_refund),
		cmocka_unit_test(test_per_source_and_many_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
