/* tests/unit/proxy/tools/test_logreview.c: ddbguard-log summary / denials / report over a generated log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "filters/dynamodb/json.h"
#include "proxy/tools/logreview.h"

static char dir[] = "/tmp/test_logreview.XXXXXX";
static char logpath[256], outpath[256];

static void
rec(FILE *f, const char *time, const char *identity, const char *action, const char *table, const char *decision,
    const char *policy, const char *sid, const char *country)
{
	fprintf(
	    f,
	    "{\"eventVersion\":\"1.09\",\"eventTime\":\"%s\",\"eventName\":\"%s\",\"sourceIPAddress\":\"127.0.0.1\","
	    "\"userIdentity\":{\"type\":\"Unknown\",\"accessKeyId\":\"AKIA%s\"},",
	    time, action, identity);
	if (table)
		fprintf(
		    f,
		    "\"requestParameters\":{\"tableName\":\"%s\"},\"resources\":[{\"type\":\"AWS::DynamoDB::Table\","
		    "\"ARN\":\"arn:aws:dynamodb:us-east-1:123456789012:table/%s\"}],",
		    table, table);
	else
		fputs("\"requestParameters\":null,\"resources\":[],", f);
	if (strcmp(decision, "allow") != 0)
		fputs("\"errorCode\":\"AccessDeniedException\",\"errorMessage\":\"no\",", f);
	fprintf(f, "\"guard\":{\"decision\":\"%s\",\"reason\":\"why <%s>\",", decision, decision);
	if (policy)
		fprintf(f, "\"policy\":\"%s\",\"statement\":\"%s\",", policy, sid);
	if (country)
		fprintf(f, "\"sourceCountry\":\"%s\",", country);
	fprintf(f,
	        "\"identity\":\"%s\",\"mode\":\"reverse\",\"status\":200,\"futureMember\":[1,2]},"
	        "\"chain\":\"0123abcd\"}\n",
	        identity);
}

/*
 * 10:00-10:59: app only (3 calls); 11:00-11:59: app + reader + newbie, table "secrets" new.
 * Plus a digest line, a blank line, and a truncated last line.
 */
static int
setup(void **state)
{
	FILE *f;

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(logpath, sizeof(logpath), "%s/access.log", dir);
	snprintf(outpath, sizeof(outpath), "%s/out", dir);
	f = fopen(logpath, "w");
	if (f == NULL)
		return -1;
	rec(f, "2026-05-01T10:00:00.000Z", "app", "GetItem", "orders", "allow", "app-rw", "ItemReadWrite", "DE");
	rec(f, "2026-05-01T10:10:00.000Z", "app", "PutItem", "orders", "allow", "app-rw", "ItemReadWrite", "DE");
	rec(f, "2026-05-01T10:20:00.000Z", "app", "Scan", "users", "deny", "guardrails", "DenyScan", NULL);
	fputs("{\"ddbguardDigest\":{\"records\":3,\"sha256\":\"00\"}}\n\n", f);
	rec(f, "2026-05-01T11:00:00.000Z", "app", "GetItem", "orders", "allow", "app-rw", "ItemReadWrite", "DE");
	rec(f, "2026-05-01T11:05:00.000Z", "reader", "PutItem", "orders", "deny", NULL, NULL, "US");
	rec(f, "2026-05-01T11:10:00.000Z", "reader", "Scan", "secrets", "deny", "guardrails", "DenyScan", "US");
	rec(f, "2026-05-01T11:15:00.000Z", "reader", "GetItem", NULL, "reject", NULL, NULL, NULL);
	rec(f, "2026-05-01T11:20:00.000Z", "new<b>", "GetItem", "orders", "error", "app-rw", "ItemReadWrite", NULL);
	rec(f, "2026-05-01T11:30:00.000Z", "app", "Scan", "users", "deny", "guardrails", "DenyScan", "DE");
	fputs("{\"eventTime\":\"2026-05-01T11:59:00.000Z\",\"eventName\":\"Get", f); /* cut off mid-write */
	fclose(f);
	(void)state;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)state;
	return system(cmd) == 0 ? 0 : -1;
}

static int
run(const char *a0, const char *a1, const char *a2, const char *a3, const char *a4)
{
	char *argv[12];
	int argc = 0;
	const char *v[5] = {a0, a1, a2, a3, a4};

	for (int i = 0; i < 5 && v[i]; i++)
		argv[argc++] = (char *)v[i];
	argv[argc++] = (char *)"-o";
	argv[argc++] = outpath;
	argv[argc++] = logpath;
	argv[argc] = NULL;
	return logreview_main(argc, argv);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static cJSON *
summary(const char *a1, const char *a2, const char *a3, const char *a4)
{
	struct json_error err;
	cJSON *root;
	char *txt;

	assert_int_equal(run("summary", "--json", a1, a2, a3 ? a3 : a4), 0);
	txt = slurp(outpath);
	root = json_parse_strict(txt, strlen(txt), NULL, &err);
	free(txt);
	assert_non_null(root);
	return root;
}

static int
num(const cJSON *o, const char *path)
{
	char buf[128], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		if (cJSON_IsArray(o)) {
			const cJSON *e;

			cJSON_ArrayForEach(e, o)
			{
				const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");

				if (cJSON_IsString(nm) && strcmp(nm->valuestring, tok) == 0)
					break;
			}
			o = e;
		} else {
			o = cJSON_GetObjectItemCaseSensitive(o, tok);
		}
		if (o == NULL)
			return -1;
	}
	return cJSON_IsNumber(o) ? (int)o->valuedouble : -1;
}

static void
test_summary_totals_and_groups(void **state)
{
	cJSON *s = summary(NULL, NULL, NULL, NULL);

	assert_int_equal(num(s, "input.records"), 9);
	assert_int_equal(num(s, "input.digests"), 1);
	assert_int_equal(num(s, "input.truncated"), 1);
	assert_int_equal(num(s, "input.malformed"), 0);
	assert_int_equal(num(s, "totals.calls"), 9);
	assert_int_equal(num(s, "totals.allowed"), 3);
	assert_int_equal(num(s, "totals.denied"), 4);
	assert_int_equal(num(s, "totals.rejected"), 1);
	assert_int_equal(num(s, "totals.errors"), 1);
	assert_int_equal(num(s, "byIdentity.app.calls"), 5);
	assert_int_equal(num(s, "byIdentity.app.denied"), 2);
	assert_int_equal(num(s, "byIdentity.reader.denied"), 2);
	assert_int_equal(num(s, "byIdentity.reader.rejected"), 1);
	assert_int_equal(num(s, "byIdentity.new<b>.errors"), 1);
	assert_int_equal(num(s, "byAction.Scan.denied"), 3);
	assert_int_equal(num(s, "byTable.orders.calls"), 5);
	assert_int_equal(num(s, "byTable.-.rejected"), 1);
	assert_int_equal(num(s, "byCountry.DE.calls"), 4);
	assert_int_equal(num(s, "byCountry.-.calls"), 3);
	/* most calls first */
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(s, "byIdentity"), 0)->child->valuestring, "app");
	{
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(s, "deniedStatements"),
		            *e0 = cJSON_GetArrayItem(st, 0);

		assert_int_equal(cJSON_GetArraySize(st), 2);
		assert_string_equal(cJSON_GetObjectItem(e0, "key")->valuestring, "guardrails/DenyScan");
		assert_int_equal(num(e0, "count"), 3);
	}
	cJSON_Delete(s);
	(void)state;
}

static void
test_window_since_absolute_and_first_seen(void **state)
{
	cJSON *s = summary("--since", "2026-05-01T11:00:00Z", NULL, NULL);
	const cJSON *fs = cJSON_GetObjectItem(s, "firstSeen");
	const cJSON *ids = cJSON_GetObjectItem(fs, "identities"), *tabs = cJSON_GetObjectItem(fs, "tables");

	assert_int_equal(num(s, "totals.calls"), 6);
	assert_int_equal(num(s, "byIdentity.app.calls"), 2);
	/* app and orders/users were seen before --since: not new */
	assert_int_equal(cJSON_GetArraySize(ids), 2);
	assert_string_equal(cJSON_GetArrayItem(ids, 0)->child->valuestring, "reader");
	assert_string_equal(cJSON_GetArrayItem(ids, 1)->child->valuestring, "new<b>");
	assert_int_equal(cJSON_GetArraySize(tabs), 1);
	assert_string_equal(cJSON_GetArrayItem(tabs, 0)->child->valuestring, "secrets");
	cJSON_Delete(s);
	(void)state;
}

static void
test_window_relative_and_until(void **state)
{
	/* newest record 11:30: 30m back is 11:00 inclusive; --until is exclusive */
	cJSON *s;

	assert_int_equal(run("summary", "--json", "--since=30m", "--until=2026-05-01T13:20:00+02:00", NULL), 0);
	{
		char *txt = slurp(outpath);
		struct json_error err;

		s = json_parse_strict(txt, strlen(txt), NULL, &err);
		free(txt);
	}
	assert_non_null(s);
	assert_int_equal(num(s, "totals.calls"), 4); /* 11:00, 11:05, 11:10, 11:15 */
	cJSON_Delete(s);
	(void)state;
}

static void
test_parse_time(void **state)
{
	int64_t t;

	assert_int_equal(logreview_parse_time("2026-05-01T11:00:00Z", 0, &t), 0);
	assert_int_equal(t, 1777633200000);
	assert_int_equal(logreview_parse_time("2026-05-01T13:00:00.250+02:00", 0, &t), 0);
	assert_int_equal(t, 1777633200250);
	assert_int_equal(logreview_parse_time("2026-05-01 11:00", 0, &t), 0);
	assert_int_equal(t, 1777633200000);
	assert_int_equal(logreview_parse_time("2026-05-01", 0, &t), 0);
	assert_int_equal(t, 1777593600000);
	assert_int_equal(logreview_parse_time("1h", 7200000, &t), 0);
	assert_int_equal(t, 3600000);
	assert_int_equal(logreview_parse_time("7d", 0, &t), 0);
	assert_int_equal(t, -604800000);
	assert_int_equal(logreview_parse_time("2w", 0, &t), 0);
	assert_int_equal(t, -1209600000);
	assert_int_equal(logreview_parse_time("1y", 0, &t), -1);
	assert_int_equal(logreview_parse_time("h", 0, &t), -1);
	assert_int_equal(logreview_parse_time("2026-13-01", 0, &t), -1);
	assert_int_equal(logreview_parse_time("2026-05-01T25:00", 0, &t), -1);
	assert_int_equal(logreview_parse_time("2026-05-01T11:00:00Zjunk", 0, &t), -1);
	assert_int_equal(logreview_parse_time("", 0, &t), -1);
	(void)state;
}

static void
test_html_escape(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	logreview_html_escape(f, "<script>alert('x&y')</script>\"\x01");
	logreview_html_escape(f, NULL);
	fclose(f);
	assert_string_equal(buf, "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;&quot;?");
	free(buf);
	(void)state;
}

static void
test_report_is_escaped_and_self_contained(void **state)
{
	char *html;

	assert_int_equal(run("report", NULL, NULL, NULL, NULL), 0);
	html = slurp(outpath);
	assert_non_null(strstr(html, "<svg"));
	assert_non_null(strstr(html, "new&lt;b&gt;"));
	assert_null(strstr(html, "new<b>"));
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "http://"));
	assert_null(strstr(html, "https://"));
	assert_null(strstr(html, "@import"));
	assert_null(strstr(html, "url("));
	assert_non_null(strstr(html, "guardrails/DenyScan"));
	free(html);
	(void)state;
}

static void
test_denials_lines(void **state)
{
	char *txt, *p;
	int lines = 0;

	assert_int_equal(run("denials", NULL, NULL, NULL, NULL), 0);
	txt = slurp(outpath);
	for (p = txt; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	assert_int_equal(lines, 1 + 5); /* header + 4 denied + 1 rejected */
	assert_non_null(strstr(txt, "guardrails/DenyScan"));
	assert_non_null(strstr(txt, "why <reject>"));
	assert_null(strstr(txt, "allow"));
	free(txt);
	(void)state;
}

static void
test_usage_errors(void **state)
{
	char *a[4] = {(char *)"bogus", logpath, NULL};
	char *b[4] = {(char *)"summary", (char *)"--frobnicate", logpath, NULL};
	char *c[4] = {(char *)"report", logpath, NULL};
	char *d[4] = {(char *)"summary", (char *)"--since", (char *)"yesterday", logpath};
	char *e[2] = {(char *)"summary", NULL};

	assert_int_equal(logreview_main(2, a), 2);
	assert_int_equal(logreview_main(3, b), 2);
	assert_int_equal(logreview_main(2, c), 2); /* report without --out */
	assert_int_equal(logreview_main(4, d), 2);
	assert_int_equal(logreview_main(1, e), 2); /* no files */
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_summary_totals_and_groups),
	    cmocka_unit_test(test_window_since_absolute_and_first_seen),
	    cmocka_unit_test(test_window_relative_and_until),
	    cmocka_unit_test(test_parse_time),
	    cmocka_unit_test(test_html_escape),
	    cmocka_unit_test(test_report_is_escaped_and_self_contained),
	    cmocka_unit_test(test_denials_lines),
	    cmocka_unit_test(test_usage_errors),
	};

	json_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
