/*
 * Tests for proxy/sourcecap.c: the per-source connection cap counts IPv4
 * addresses and IPv6 /64s, refuses at the cap, frees sources that leave.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "proxy/sourcecap.h"

static struct sockaddr_storage
addr(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
		ss.ss_family = AF_INET6;
	}
	return ss;
}

static struct sourcecap_entry *
take(struct sourcecap *sc, const char *ip, bool *capped)
{
	struct sockaddr_storage ss = addr(ip);

	return sourcecap_take(sc, (struct sockaddr *)&ss, capped);
}

static void
test_cap_per_ipv4_address(void **state)
{
	struct sourcecap *sc = sourcecap_new(2);
	struct sourcecap_entry *a, *b, *c;
	bool capped;

	a = take(sc, "10.0.0.1", &capped);
	b = take(sc, "10.0.0.1", &capped);
	assert_non_null(a);
	assert_ptr_equal(a, b);
	assert_null(take(sc, "10.0.0.1", &capped));
	assert_true(capped);
	/* Another address has its own count; the mapped form of the first one does not. */
	c = take(sc, "10.0.0.2", &capped);
	assert_non_null(c);
	assert_null(take(sc, "::ffff:10.0.0.1", &capped));
	assert_true(capped);
	assert_int_equal(sourcecap_sources(sc), 2);
	sourcecap_give(sc, a);
	assert_ptr_equal(take(sc, "10.0.0.1", &capped), b); /* a slot came back */
	sourcecap_give(sc, a);
	sourcecap_give(sc, b);
	sourcecap_give(sc, c);
	assert_int_equal(sourcecap_sources(sc), 0); /* sources that left are forgotten */
	sourcecap_free(sc);
}

static void
test_ipv6_counts_per_64(void **state)
{
	struct sourcecap *sc = sourcecap_new(1);
	struct sourcecap_entry *a, *b;
	bool capped;

	a = take(sc, "2001:db8:1:2::1", &capped);
	assert_non_null(a);
	assert_null(take(sc, "2001:db8:1:2:ffff::9", &capped)); /* same /64 */
	assert_true(capped);
	b = take(sc, "2001:db8:1:3::1", &capped); /* next /64 */
	assert_non_null(b);
	sourcecap_give(sc, a);
	sourcecap_give(sc, b);
	assert_int_equal(sourcecap_sources(sc), 0);
	sourcecap_free(sc);
}

static void
test_no_cap_counts_nothing(void **state)
{
	struct sourcecap *sc = sourcecap_new(0);
	bool capped;
	int i;

	for (i = 0; i < 5000; i++)
		assert_non_null(take(sc, "10.0.0.1", &capped));
	assert_int_equal(sourcecap_sources(sc), 0);
	sourcecap_give(sc, take(sc, "10.0.0.1", &capped));
	sourcecap_free(sc);
	sourcecap_free(NULL);
}

static void
test_many_sources(void **state)
{
	struct sourcecap *sc = sourcecap_new(3);
	struct sourcecap_entry *e[20000];
	char ip[32];
	bool capped;
	int i;

	for (i = 0; i < 20000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		assert_non_null(e[i] = take(sc, ip, &capped));
	}
	assert_int_equal(sourcecap_sources(sc), 20000);
	for (i = 0; i < 20000; i += 2)
		sourcecap_give(sc, e[i]);
	assert_int_equal(sourcecap_sources(sc), 10000);
	sourcecap_free(sc); /* frees the rest */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_per_ipv4_address),
		cmocka_unit_test(test_ipv6_counts_per_64),
		cmocka_unit_test(test_no_cap_counts_nothing),
		cmocka_unit_test(test_many_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
