/* Tests for config/config.c: the declarative loader, its defaults and its error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "filters/dynamodb/catalog.h"
#include "filters/dynamodb/inspect.h"
#include "filters/dynamodb/json.h"
#include "filters/policy/condkeys.h"
#include "filters/policy/policy.h"

#define POLICIES                                                                                        \
	"\"policies\":{\"rw\":{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"A\",\"Effect\":\"Allow\"," \
	"\"Action\":\"dynamodb:GetItem\",\"Resource\":\"*\"}]}},"                                           \
	"\"identities\":[{\"name\":\"app\",\"access_key_ids\":[\"AKIAAPP0000000000001\"],\"policies\":[\"rw\"]}]"

#define LISTENERS "\"listeners\":[{\"name\":\"main\",\"address\":\"127.0.0.1\",\"port\":8443}]"

static const char good[] = "{\"account_id\":\"123456789012\"," LISTENERS ","
			   "\"upstream\":{\"dynamodb\":\"https://dynamodb.eu-west-1.amazonaws.com\"}," POLICIES "}";

static struct config *
load(const char *text, struct diag **d)
{
	*d = diag_new("test.json");
	return config_load_buffer("test.json", text, strlen(text), "/etc/ddbguard", *d);
}

/* True if some error message contains both `path` and `words`. */
static bool
has_error(const struct diag *d, const char *path, const char *words)
{
	size_t i;

	for (i = 0; i < diag_count(d); i++) {
		const char *m = diag_message(d, i);

		if (strstr(m, path) != NULL && strstr(m, words) != NULL)
			return true;
	}
	for (i = 0; i < diag_count(d); i++)
		fprintf(stderr, "  got: %s\n", diag_message(d, i));
	return false;
}

static void
test_good_config_and_defaults(void **state)
{
	struct diag *d;
	struct config *c = load(good, &d);

	assert_non_null(c);
	assert_int_equal(diag_count(d), 0);
	assert_string_equal(c->account_id, "123456789012");
	assert_int_equal(c->nlisteners, 1);
	assert_int_equal(c->listeners[0].port, 8443);
	assert_null(c->listeners[0].tls_cert);
	assert_true(c->upstream.dynamodb.tls);
	assert_string_equal(c->upstream.dynamodb.host, "dynamodb.eu-west-1.amazonaws.com");
	assert_int_equal(c->upstream.dynamodb.port, 443);
	assert_string_equal(c->upstream.region, "eu-west-1"); /* derived from the host name */
	assert_string_equal(c->upstream.partition, "aws");
	assert_false(c->upstream.has_streams);
	assert_null(c->upstream.host_header);
	assert_int_equal(c->upstream.connect_timeout_ms, 3000);
	assert_int_equal(c->limits.max_body_bytes, 16777216);
	assert_int_equal(c->limits.max_header_bytes, 16384);
	assert_string_equal(c->access_log.path, "-");
	assert_non_null(c->policies);
	assert_non_null(c->identities);
	config_free(c);
	diag_free(d);
}

static void
test_relative_paths_resolve_against_config_dir(void **state)
{
	static const char text[] =
	    "{\"account_id\":\"123456789012\",\"listeners\":[{\"name\":\"main\",\"address\":\"::1\",\"port\":1,"
	    "\"tls\":{\"cert\":\"certs/server.crt\",\"key\":\"/abs/server.key\"}}],"
	    "\"upstream\":{\"dynamodb\":\"http://localhost:8000\",\"region\":\"us-east-1\",\"ca_file\":\"ca.pem\"},"
	    "\"access_log\":{\"path\":\"log/access.log\"}," POLICIES "}";
	struct diag *d;
	struct config *c = load(text, &d);

	assert_non_null(c);
	assert_string_equal(c->listeners[0].tls_cert, "/etc/ddbguard/certs/server.crt");
	assert_string_equal(c->listeners[0].tls_key, "/abs/server.key");
	assert_string_equal(c->upstream.ca_file, "/etc/ddbguard/ca.pem");
	assert_string_equal(c->access_log.path, "/etc/ddbguard/log/access.log");
	assert_false(c->upstream.dynamodb.tls);
	assert_int_equal(c->upstream.dynamodb.port, 8000);
	config_free(c);
	diag_free(d);
}

static void
test_region_derivation(void **state)
{
	static const struct {
		const char *url;
		const char *region; /* NULL: not derivable, must be an error */
	} cases[] = {
		{ "https://dynamodb.us-east-1.amazonaws.com", "us-east-1" },
		{ "https://dynamodb-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1" },
		{ "https://dynamodb.cn-north-1.amazonaws.com.cn", "cn-north-1" },
		{ "https://vpce-1a2b3c4d-5e6f.dynamodb.us-east-1.vpce.amazonaws.com", NULL },
		{ "https://localhost:8000", NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[2048];
		struct diag *d;
		struct config *c;

		snprintf(text, sizeof(text),
		    "{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"%s\"}," POLICIES "}",
		    cases[i].url);
		c = load(text, &d);
		if (cases[i].region != NULL) {
			assert_non_null(c);
			assert_string_equal(c->upstream.region, cases[i].region);
		} else {
			assert_null(c);
			assert_true(has_error(d, "$.upstream.region", "cannot be derived"));
		}
		config_free(c);
		diag_free(d);
	}
	{
		struct diag *d;
		struct config *c = load("{\"account_id\":\"123456789012\"," LISTENERS
					",\"upstream\":{\"dynamodb\":\"https://dynamodb-fips.us-gov-west-1.amazonaws.com\"},"
					POLICIES "}",
		    &d);

		assert_non_null(c);
		assert_string_equal(c->upstream.partition, "aws-us-gov");
		config_free(c);
		diag_free(d);
	}
}

static void
test_errors_name_their_paths(void **state)
{
	static const struct {
		const char *text;
		const char *path;
		const char *words;
	} cases[] = {
		{ "{\"account_id\":\"12345\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"}," POLICIES "}",
		    "$.account_id", "12-digit" },
		{ "{\"account_id\":\"123456789012\",\"listeners\":[{\"name\":\"main\",\"address\":\"127.0.0.1\",\"port\":70000}],"
		  "\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"}," POLICIES "}",
		    "$.listeners[0].port", "1..65535" },
		{ "{\"account_id\":\"123456789012\",\"listeners\":[{\"name\":\"main\",\"address\":\"localhost\",\"port\":1}],"
		  "\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"}," POLICIES "}",
		    "$.listeners[0].address", "numeric" },
		{ "{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"ftp://x\"}," POLICIES "}",
		    "$.upstream.dynamodb", "https://" },
		{ "{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com/path\"}," POLICIES "}",
		    "$.upstream.dynamodb", "no path" },
		{ "{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"https://h:0\",\"region\":\"x\"}," POLICIES "}",
		    "$.upstream.dynamodb", "port" },
		{ "{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\",\"timeout\":5}," POLICIES "}",
		    "$.upstream.timeout", "unknown key" },
		{ "{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"},"
		  "\"limits\":{\"max_body_bytes\":1}," POLICIES "}",
		    "$.limits.max_body_bytes", "1024..67108864" },
		{ "{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"},"
		  "\"limits\":{\"max_headers\":\"64\"}," POLICIES "}",
		    "$.limits.max_headers", "got a string" },
		{ "{\"account_id\":\"123456789012\"," LISTENERS "," POLICIES "}", "$.upstream", "required" },
		{ "{\"account_id\":\"123456789012\",\"listeners\":[]," "\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"}," POLICIES "}",
		    "$.listeners", "1..16" },
		{ "{\"account_id\":\"123456789012\",\"listeners\":[{\"name\":\"a\",\"address\":\"127.0.0.1\",\"port\":1},"
		  "{\"name\":\"a\",\"address\":\"127.0.0.1\",\"port\":2}],"
		  "\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"}," POLICIES "}",
		    "$.listeners[1]", "used twice" },
		{ "{\"account_id\":\"123456789012\",\"listeners\":[{\"name\":\"a\",\"address\":\"127.0.0.1\",\"port\":1,\"tls\":{\"cert\":\"c\"}}],"
		  "\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"}," POLICIES "}",
		    "$.listeners[0].tls.key", "required" },
		{ "{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"},"
		  "\"policies\":{},\"identities\":[{\"name\":\"app\",\"access_key_ids\":[\"AKIAAPP0000000000001\"],\"policies\":[\"nope\"]}]}",
		    "$.identities[0].policies[0]", "" },
		{ "{\"account_id\":\"123456789012\",\"account_id\":\"123456789012\"}", "$", "duplicate key \"account_id\"" },
		{ "{\"account_id\":\"123456789012\",}", "line 1", "" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag *d;
		struct config *c = load(cases[i].text, &d);

		if (c != NULL)
			fprintf(stderr, "case %zu loaded but should not have\n", i);
		assert_null(c);
		if (!has_error(d, cases[i].path, cases[i].words))
			fail_msg("case %zu: no error at %s mentioning \"%s\"", i, cases[i].path, cases[i].words);
		diag_free(d);
	}
}

static void
test_all_errors_reported(void **state)
{
	struct diag *d;
	struct config *c = load("{\"account_id\":\"x\",\"listeners\":[{\"name\":\"m\",\"address\":\"1.2.3.4\",\"port\":0}],"
				"\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"},\"bogus\":1," POLICIES
				"}",
	    &d);

	assert_null(c);
	assert_true(has_error(d, "$.account_id", "12-digit"));
	assert_true(has_error(d, "$.listeners[0].port", "1..65535"));
	assert_true(has_error(d, "$.bogus", "unknown key"));
	assert_true(diag_count(d) >= 3);
	diag_free(d);
}

static void
test_message_has_file_name(void **state)
{
	struct diag *d;

	assert_null(load("{}", &d));
	assert_true(diag_count(d) > 0);
	assert_true(strncmp(diag_message(d, 0), "test.json: ", 11) == 0);
	diag_free(d);
}

static void
test_missing_file(void **state)
{
	struct diag *d = diag_new("/nonexistent/ddbguard.json");

	assert_null(config_load("/nonexistent/ddbguard.json", d));
	assert_true(has_error(d, "ddbguard.json", "cannot open"));
	diag_free(d);
}

/* GetItem on table `name` of account 123456789012 against policy p alone. */
static enum policy_effect
param_get_item(const struct policy *p, const char *name)
{
	char arn[128];
	struct inspect_result res = { .n = 1 };
	struct policy_decision out;

	snprintf(arn, sizeof(arn), "arn:aws:dynamodb:us-east-1:123456789012:table/%s", name);
	res.res[0] = (struct inspect_resource){ .type = INSPECT_TABLE, .arn = arn, .table = name };
	policy_evaluate(&p, 1, catalog_find_iam("dynamodb:GetItem"), &res, NULL, NULL, &out);
	return out.effect;
}

/* ExportTableToPointInTime of table orders to `bucket`, with the request's condition keys. */
static enum policy_effect
param_export(const struct policy *p, const char *bucket)
{
	static const struct timespec now = { .tv_sec = 1767225600 };
	const struct catalog_action *a = catalog_find_iam("dynamodb:ExportTableToPointInTime");
	struct inspect_result res = { .n = 1 };
	struct condkeys_request keys;
	struct policy_decision out;
	cJSON *body = cJSON_CreateObject();

	assert_non_null(a);
	assert_non_null(body);
	cJSON_AddStringToObject(body, "TableArn", "arn:aws:dynamodb:us-east-1:123456789012:table/orders");
	cJSON_AddStringToObject(body, "S3Bucket", bucket);
	res.res[0] = (struct inspect_resource){ .type = INSPECT_TABLE,
		.arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders", .table = "orders" };
	condkeys_request_init(&keys, a, body, &res, "127.0.0.1", true, &now, NULL, NULL);
	policy_evaluate(&p, 1, a, &res, condkeys_lookup, &keys, &out);
	cJSON_Delete(body);
	return out.effect;
}

/* "${param:NAME}" is replaced by the parameter's values: spliced into arrays, an array elsewhere. */
static void
test_policy_parameters(void **state)
{
	static const char text[] =
	    "{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"},"
	    "\"policy_parameters\":{\"tables\":[\"arn:aws:dynamodb:*:*:table/a\",\"arn:aws:dynamodb:*:*:table/b\"],"
	    "\"bucket\":\"exports\"},"
	    "\"policies\":{\"p\":{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"dynamodb:GetItem\","
	    "\"Resource\":[\"${param:tables}\",\"arn:aws:dynamodb:*:*:table/c\"]},"
	    "{\"Effect\":\"Deny\",\"Action\":\"dynamodb:ExportTableToPointInTime\",\"Resource\":\"*\","
	    "\"Condition\":{\"StringNotEquals\":{\"ddbguard:S3Bucket\":\"${param:bucket}\"}}}]}},"
	    "\"identities\":[{\"name\":\"default\",\"policies\":[\"p\"]}]}";
	struct diag *d;
	struct config *c = load(text, &d);
	const struct policy *p;

	if (c == NULL)
		has_error(d, "", "<print>");
	assert_non_null(c);
	/* What the compiled policy does says what was spliced in: tables a and b (and c), nothing else. */
	p = policy_set_find(c->policies, "p");
	assert_non_null(p);
	assert_int_equal(param_get_item(p, "a"), POLICY_ALLOW);
	assert_int_equal(param_get_item(p, "b"), POLICY_ALLOW);
	assert_int_equal(param_get_item(p, "c"), POLICY_ALLOW);
	assert_int_equal(param_get_item(p, "d"), POLICY_DENY_IMPLICIT);
	assert_int_equal(param_get_item(p, "tables"), POLICY_DENY_IMPLICIT); /* not the literal reference */
	/* ... and the bucket: only "exports" escapes the Deny (no Allow for exports: implicit deny). */
	assert_int_equal(param_export(p, "exports"), POLICY_DENY_IMPLICIT);
	assert_int_equal(param_export(p, "other"), POLICY_DENY_EXPLICIT);
	assert_int_equal(param_export(p, "${param:bucket}"), POLICY_DENY_EXPLICIT);
	config_free(c);
	diag_free(d);
}

static void
test_policy_parameter_errors(void **state)
{
	static const struct {
		const char *params;
		const char *resource;
		const char *path, *words;
	} cases[] = {
		{ "{}", "\"${param:nope}\"", "$.policies.p.Statement[0].Resource", "unknown policy parameter ${param:nope}" },
		{ "{\"x\":[]}", "\"${param:x}\"", "$.policy_parameters.x", "non-empty array" },
		{ "{\"x\":[1]}", "\"*\"", "$.policy_parameters.x", "array of strings" },
		{ "{\"a b\":\"v\"}", "\"*\"", "$.policy_parameters", "name" },
		{ "{}", "[\"*\",\"${param:gone}\"]", "$.policies.p.Statement[0].Resource[1]", "unknown policy parameter" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[2048];
		struct diag *d;
		struct config *c;

		snprintf(text, sizeof(text),
		    "{\"account_id\":\"123456789012\"," LISTENERS
		    ",\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"},\"policy_parameters\":%s,"
		    "\"policies\":{\"p\":{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"dynamodb:GetItem\",\"Resource\":%s}]}},"
		    "\"identities\":[{\"name\":\"default\",\"policies\":[\"p\"]}]}",
		    cases[i].params, cases[i].resource);
		c = load(text, &d);
		assert_null(c);
		if (!has_error(d, cases[i].path, cases[i].words))
			fail_msg("case %zu: no error at %s mentioning \"%s\"", i, cases[i].path, cases[i].words);
		diag_free(d);
	}
}

/* policy_files merge named policies from files; a name defined twice is an error naming the file. */
static void
test_policy_files(void **state)
{
	char dir[] = "/tmp/ddbguard-test-config.XXXXXX", path[256], text[2048];
	struct diag *d;
	struct config *c;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/extra.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"extra\":{\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"dynamodb:DeleteTable\",\"Resource\":\"*\"}}}", f);
	fclose(f);
	snprintf(text, sizeof(text),
	    "{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"},"
	    "\"policy_files\":[\"extra.json\"],"
	    "\"policies\":{%s\"p\":{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"dynamodb:GetItem\",\"Resource\":\"*\"}]}},"
	    "\"identities\":[{\"name\":\"default\",\"policies\":[\"p\",\"extra\"]}]}",
	    "");
	d = diag_new("test.json");
	c = config_load_buffer("test.json", text, strlen(text), dir, d);
	if (c == NULL)
		has_error(d, "", "<print>");
	assert_non_null(c);
	config_free(c);
	diag_free(d);

	snprintf(text, sizeof(text),
	    "{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"},"
	    "\"policy_files\":[\"extra.json\",\"missing.json\"],"
	    "\"policies\":{\"extra\":{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"dynamodb:GetItem\",\"Resource\":\"*\"}]}},"
	    "\"identities\":[{\"name\":\"default\",\"policies\":[\"extra\"]}]}");
	d = diag_new("test.json");
	c = config_load_buffer("test.json", text, strlen(text), dir, d);
	assert_null(c);
	assert_true(has_error(d, "$.policy_files[0]", "policy \"extra\" is already defined"));
	assert_true(has_error(d, "$.policy_files[1]", "cannot open"));
	diag_free(d);
	unlink(path);
	rmdir(dir);
}

static void
test_tables_and_geoip(void **state)
{
	static const char good_text[] =
	    "{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"},"
	    "\"tables\":{\"orders\":{\"partition_key\":\"pk\"}},\"geoip\":{\"country_database\":\"geo/country.mmdb\"}," POLICIES "}";
	struct diag *d;
	struct config *c = load(good_text, &d);

	assert_non_null(c);
	assert_int_equal(c->ntables, 1);
	assert_string_equal(c->tables[0].table, "orders");
	assert_string_equal(c->tables[0].partition_key, "pk");
	assert_string_equal(c->geoip.country_database, "/etc/ddbguard/geo/country.mmdb");
	assert_null(c->geoip.asn_database);
	config_free(c);
	diag_free(d);

	assert_null(load("{\"account_id\":\"123456789012\"," LISTENERS ",\"upstream\":{\"dynamodb\":\"https://dynamodb.us-east-1.amazonaws.com\"},"
			 "\"tables\":{\"x\":{\"partition_key\":\"pk\"},\"orders\":{\"pk\":\"pk\"}},\"geoip\":{}," POLICIES "}",
	    &d));
	assert_true(has_error(d, "$.tables.x", "table name"));
	assert_true(has_error(d, "$.tables.orders.partition_key", "expected {\"partition_key\""));
	assert_true(has_error(d, "$.geoip", "country_database, asn_database or both"));
	diag_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_config_and_defaults),
		cmocka_unit_test(test_relative_paths_resolve_against_config_dir),
		cmocka_unit_test(test_region_derivation),
		cmocka_unit_test(test_errors_name_their_paths),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_message_has_file_name),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_policy_parameters),
		cmocka_unit_test(test_policy_parameter_errors),
		cmocka_unit_test(test_policy_files),
		cmocka_unit_test(test_tables_and_geoip),
	};

	json_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
