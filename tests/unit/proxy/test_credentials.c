/*
 * Tests proxy/credentials.c without a network: ISO 8601 expiries, the
 * environment source, and the shared credentials file (profiles, spacing,
 * comments, missing values), and that no failure message carries a secret.
 * IMDSv2 and STS are exercised end to end against stand-ins (tests/e2e/test_broker.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy/credentials.h"

static void
test_iso8601(void **state)
{
	assert_int_equal(creds_parse_iso8601("2015-08-30T12:36:00Z"), 1440938160);
	assert_int_equal(creds_parse_iso8601("2015-08-30T12:36:00.000Z"), 1440938160);
	assert_int_equal(creds_parse_iso8601("2015-08-30"), 0);
	assert_int_equal(creds_parse_iso8601(NULL), 0);
}

static void
test_environment(void **state)
{
	struct aws_creds c;
	char why[256];

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	assert_false(creds_from_environment(&c, why, sizeof(why)));
	assert_non_null(strstr(why, "environment"));
	setenv("AWS_ACCESS_KEY_ID", "ASIAY34FZKBOKMUTVV7A", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret-value", 1);
	setenv("AWS_SESSION_TOKEN", "tok", 1);
	assert_true(creds_from_environment(&c, why, sizeof(why)));
	assert_string_equal(c.akid, "ASIAY34FZKBOKMUTVV7A");
	assert_string_equal(c.secret, "env-secret-value");
	assert_string_equal(c.token, "tok");
	assert_string_equal(c.account, "609629065308"); /* from the key id's format */
	assert_int_equal(c.expiry, 0);
	creds_wipe(&c);
	assert_int_equal(c.secret[0], 0);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
}

static void
test_shared_file(void **state)
{
	char path[] = "/tmp/ddbguard-creds-XXXXXX", why[512];
	int fd = mkstemp(path);
	static const char text[] = "# comment\n[default]\naws_access_key_id=AKIADEFAULT000000001\n"
				   "aws_secret_access_key=default-secret\n\n"
				   "[ gateway ]\n  aws_access_key_id   =  AKIAGATEWAY000000001  \n"
				   "; another comment\naws_secret_access_key = gw-secret\r\n"
				   "aws_session_token = gw-token\n[broken]\naws_access_key_id = AKIAONLYID0000000001\n";
	struct creds_endpoints ep = { .shared_file = path, .profile = "gateway" };
	struct aws_creds c;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	assert_true(creds_from_shared_file(&ep, &c, why, sizeof(why)));
	assert_string_equal(c.akid, "AKIAGATEWAY000000001");
	assert_string_equal(c.secret, "gw-secret");
	assert_string_equal(c.token, "gw-token");
	assert_string_equal(c.source, "shared_file");
	ep.profile = "default";
	assert_true(creds_from_shared_file(&ep, &c, why, sizeof(why)));
	assert_string_equal(c.akid, "AKIADEFAULT000000001");
	assert_string_equal(c.token, "");
	ep.profile = "broken";
	assert_false(creds_from_shared_file(&ep, &c, why, sizeof(why)));
	assert_non_null(strstr(why, "[broken]"));
	assert_null(strstr(why, "AKIAONLYID"));
	ep.profile = "nope";
	assert_false(creds_from_shared_file(&ep, &c, why, sizeof(why)));
	assert_non_null(strstr(why, "no such profile"));
	assert_null(strstr(why, "gw-secret"));
	assert_null(strstr(why, "default-secret"));
	unlink(path);
	ep.profile = "gateway";
	assert_false(creds_from_shared_file(&ep, &c, why, sizeof(why)));
	assert_non_null(strstr(why, "cannot open"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_environment),
		cmocka_unit_test(test_shared_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
