/*
 * Tests filters/policy/identity.c: the SigV4 Authorization parser (hand-written
 * cases and the AWS SigV4 test-suite vectors in tests/data/sigv4-suite), identity
 * compilation errors at their exact JSON paths, and matching.
 *
 * JSON in these tables uses ' for " to stay readable.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/diag_expect.h"

#include "filters/base/diag.h"
#include "filters/policy/identity.h"
#include "filters/policy/policy.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SIG "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
#define CRED "Credential=" AKID "/20150830/us-east-1/dynamodb/aws4_request"
#define SH "SignedHeaders=host;x-amz-date;x-amz-target"
#define SIGP "Signature=" SIG
#define GOOD "AWS4-HMAC-SHA256 " CRED ", " SH ", " SIGP
/* An Authorization value around a given credential. */
#define AUTH(cred) "AWS4-HMAC-SHA256 Credential=" cred ", " SH ", " SIGP
#define Z31 "0000000000000000000000000000000"
#define KEY128 "AKIA" Z31 Z31 Z31 Z31 /* IAM's longest access key id */

/* ---- SigV4 Authorization ---- */

static void
parse_ok(const char *value, struct sigv4_auth *out)
{
	const char *why = NULL;

	if (!sigv4_parse_authorization(value, strlen(value), out, &why))
		fail_msg("refused (%s): %s", why, value);
}

static void
test_sigv4_accepts(void **state)
{
	struct sigv4_auth a;

	parse_ok(GOOD, &a);
	assert_string_equal(a.access_key_id, AKID);
	assert_string_equal(a.date, "20150830");
	assert_string_equal(a.region, "us-east-1");
	assert_string_equal(a.service, "dynamodb");
	assert_string_equal(a.signed_headers, "host;x-amz-date;x-amz-target");
	assert_string_equal(a.signature, SIG);

	/* Parameters in any order; no or more whitespace after commas. */
	parse_ok("AWS4-HMAC-SHA256 " SIGP "," SH ",\t " CRED, &a);
	assert_string_equal(a.access_key_id, AKID);
	assert_string_equal(a.signature, SIG);

	/* Bounds: 16 and 128 character keys, 32 character region and service, host alone. */
	parse_ok("AWS4-HMAC-SHA256 Credential=ASIA000000000000/20240229/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"
	         "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/aws4_request, SignedHeaders=host, " SIGP,
	    &a);
	assert_string_equal(a.access_key_id, "ASIA000000000000");
	assert_int_equal(strlen(a.region), 32);
	assert_int_equal(strlen(a.service), 32);
	assert_string_equal(a.signed_headers, "host");
	parse_ok(AUTH(KEY128 "/20240229/cn-north-1/dynamodb/aws4_request"), &a);
	assert_int_equal(strlen(a.access_key_id), 128);

	/* Sorted means byte order: a name sorts before its own extensions. */
	parse_ok("AWS4-HMAC-SHA256 " CRED
	         ", SignedHeaders=amz-sdk-request;content-type;host;host-x;x-amz-date, " SIGP,
	    &a);
	assert_string_equal(a.signed_headers, "amz-sdk-request;content-type;host;host-x;x-amz-date");
}

/* The value is a (pointer, length) slice: nothing past `len` may be read. */
static void
test_sigv4_length_bounded(void **state)
{
	const char *why = NULL;
	struct sigv4_auth a;
	char buf[sizeof(GOOD) + 8];

	snprintf(buf, sizeof(buf), "%sffff", GOOD);
	assert_true(sigv4_parse_authorization(buf, strlen(GOOD), &a, &why));
	assert_string_equal(a.signature, SIG);
	assert_false(sigv4_parse_authorization(buf, strlen(GOOD) - 1, &a, &why));
	assert_false(sigv4_parse_authorization(buf, strlen(GOOD) + 1, &a, &why));
}

struct reject_case {
	const char *value;
	const char *why; /* substring of the reason */
};

static void
test_sigv4_rejects(void **state)
{
	static const struct reject_case cases[] = {
		{ "", "scheme" },
		{ "AWS4-HMAC-SHA256", "scheme" },
		{ "AWS4-HMAC-SHA256 ", "name=value" },
		{ "aws4-hmac-sha256 " CRED ", " SH ", " SIGP, "scheme" },
		{ "AWS4-HMAC-SHA1 " CRED ", " SH ", " SIGP, "scheme" },
		{ "AWS4-HMAC-SHA256  " CRED ", " SH ", " SIGP, "unknown" },
		{ "AWS4-HMAC-SHA256\t" CRED ", " SH ", " SIGP, "scheme" },
		{ "AWS4-HMAC-SHA256," CRED ", " SH ", " SIGP, "scheme" },
		{ "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", "scheme" },
		{ "Bearer abc", "scheme" },
		/* Parameter list structure. */
		{ "AWS4-HMAC-SHA256 " CRED ", " SH, "missing" },
		{ "AWS4-HMAC-SHA256 " CRED ", " SIGP, "missing" },
		{ "AWS4-HMAC-SHA256 " SH ", " SIGP, "missing" },
		{ "AWS4-HMAC-SHA256 " CRED ", " SH ", " SIGP ", " SIGP, "twice" },
		{ "AWS4-HMAC-SHA256 " CRED ", " CRED ", " SH ", " SIGP, "twice" },
		{ "AWS4-HMAC-SHA256 " CRED ", " SH ", " SIGP ", Foo=bar", "unknown" },
		{ "AWS4-HMAC-SHA256 " CRED ", " SH ", " SIGP ",", "name=value" },
		{ "AWS4-HMAC-SHA256 " CRED ", " SH ", " SIGP ", ", "name=value" },
		{ "AWS4-HMAC-SHA256 " CRED ",, " SH ", " SIGP, "name=value" },
		{ "AWS4-HMAC-SHA256 " CRED " , " SH ", " SIGP, "aws4_request" },
		{ "AWS4-HMAC-SHA256 " CRED ", " SH ", " SIGP " ", "Signature" },
		{ "AWS4-HMAC-SHA256 credential=" AKID "/20150830/us-east-1/dynamodb/aws4_request, " SH
		  ", " SIGP,
		    "unknown" },
		{ "AWS4-HMAC-SHA256 Credential =" AKID "/20150830/us-east-1/dynamodb/aws4_request, " SH
		  ", " SIGP,
		    "unknown" },
		{ AUTH(" " AKID "/20150830/us-east-1/dynamodb/aws4_request"), "access key" },
		{ AUTH("\"" AKID "/20150830/us-east-1/dynamodb/aws4_request\""), "access key" },
		/* Credential. */
		{ AUTH("AKI/20150830/us-east-1/service/aws4_request"), "access key" },
		{ AUTH("akiaiosfodnn7example/20150830/us-east-1/dynamodb/aws4_request"), "access key" },
		{ AUTH("AKIA_OSFODNN7EXAMPLE/20150830/us-east-1/dynamodb/aws4_request"), "access key" },
		{ AUTH(KEY128 "0/20240229/us-east-1/dynamodb/aws4_request"), "access key" },
		{ AUTH("/20150830/us-east-1/dynamodb/aws4_request"), "access key" },
		{ AUTH(AKID "/2015083/us-east-1/dynamodb/aws4_request"), "date" },
		{ AUTH(AKID "/2015-08-30/us-east-1/dynamodb/aws4_request"), "date" },
		{ AUTH(AKID "/20150830T123600Z/us-east-1/dynamodb/aws4_request"), "date" },
		{ AUTH(AKID "/20150830/US-EAST-1/dynamodb/aws4_request"), "region" },
		{ AUTH(AKID "/20150830//dynamodb/aws4_request"), "region" },
		{ AUTH(AKID "/20150830/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/dynamodb/aws4_request"), "region" },
		{ AUTH(AKID "/20150830/us-east-1/DynamoDB/aws4_request"), "service" },
		{ AUTH(AKID "/20150830/us-east-1/dynamo_db/aws4_request"), "service" },
		{ AUTH(AKID "/20150830/us-east-1/dynamodb/aws4_requests"), "aws4_request" },
		{ AUTH(AKID "/20150830/us-east-1/dynamodb/AWS4_REQUEST"), "aws4_request" },
		{ AUTH(AKID "/20150830/us-east-1/dynamodb"), "AKID/date" },
		{ AUTH(AKID "/20150830/us-east-1/dynamodb/aws4_request/x"), "AKID/date" },
		{ AUTH(AKID "/20150830/us-east-1/dynamodb/aws4_request/"), "AKID/date" },
		/* SignedHeaders. */
		{ "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=, " SIGP, "empty" },
		{ "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=x-amz-date;x-amz-target, " SIGP, "include host" },
		{ "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=hostname;x-amz-date, " SIGP, "include host" },
		{ "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=x-amz-date;host, " SIGP, "sorted" },
		{ "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;host, " SIGP, "sorted" },
		{ "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host-x;host, " SIGP, "sorted" },
		{ "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=Host;x-amz-date, " SIGP, "names" },
		{ "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;;x-amz-date, " SIGP, "names" },
		{ "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;x-amz-date;, " SIGP, "names" },
		{ "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=;host, " SIGP, "names" },
		{ "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;x_amz_date, " SIGP, "names" },
		{ "AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host x-amz-date, " SIGP, "names" },
		/* Signature. */
		{ "AWS4-HMAC-SHA256 " CRED ", " SH ", Signature=", "Signature" },
		{ "AWS4-HMAC-SHA256 " CRED ", " SH ", Signature=" SIG "0", "Signature" },
		{ "AWS4-HMAC-SHA256 " CRED ", " SH
		  ", Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3",
		    "Signature" },
		{ "AWS4-HMAC-SHA256 " CRED ", " SH
		  ", Signature=5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31",
		    "Signature" },
		{ "AWS4-HMAC-SHA256 " CRED ", " SH
		  ", Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3g",
		    "Signature" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sigv4_auth a, zero;
		const char *why = NULL;

		memset(&zero, 0, sizeof(zero));
		if (sigv4_parse_authorization(cases[i].value, strlen(cases[i].value), &a, &why))
			fail_msg("accepted: %s", cases[i].value);
		assert_non_null(why);
		if (strstr(why, cases[i].why) == NULL)
			fail_msg("refused for \"%s\", want \"%s\": %s", why, cases[i].why, cases[i].value);
		/* Nothing half-parsed is left behind for a caller that ignores the result. */
		assert_memory_equal(&a, &zero, sizeof(a));
	}
}

static void
test_sigv4_embedded_nul(void **state)
{
	static const char value[] = AUTH("AKIAIOSFODNN7EXAMPLE\0/20150830/us-east-1/dynamodb/"
	                                 "aws4_request");
	struct sigv4_auth a;
	const char *why = NULL;

	assert_false(sigv4_parse_authorization(value, sizeof(value) - 1, &a, &why));
	assert_false(sigv4_parse_authorization(NULL, 0, &a, &why));
	assert_non_null(why);
}

static const char *
suite_root(void)
{
	return SOURCE_ROOT "/tests";
}

static char *
read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 64 * 1024);
	assert_non_null(buf);
	n = fread(buf, 1, 64 * 1024 - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * The suite signs with access key id AKIDEXAMPLE (11 characters: below IAM's
 * 16, above our floor of 4). Every vector must parse to the suite's scope and
 * the signature it lists.
 */
static void
check_vector(const char *authz, const char *origin)
{
	const char *sig = strstr(authz, "Signature=");
	struct sigv4_auth a;
	const char *why = NULL;

	if (sig == NULL || strstr(authz, "AKIDEXAMPLE") == NULL)
		fail_msg("%s: not a suite Authorization value: %s", origin, authz);
	if (!sigv4_parse_authorization(authz, strlen(authz), &a, &why))
		fail_msg("%s: refused (%s): %s", origin, why, authz);
	assert_string_equal(a.access_key_id, "AKIDEXAMPLE");
	assert_string_equal(a.date, "20150830");
	assert_string_equal(a.region, "us-east-1");
	assert_string_equal(a.service, "service");
	assert_string_equal(a.signature, sig + strlen("Signature="));
	assert_non_null(strstr(a.signed_headers, "host"));
}

/* Trims a trailing line end: the files hold one value, some with a newline. */
static void
chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* botocore: <case>/<case>.authz holds the Authorization value, some cases one level deeper. */
static size_t
botocore_vectors(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[2048];
		char *text;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s.authz", dir, e->d_name, e->d_name);
		text = read_text(path);
		if (text == NULL) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			n += botocore_vectors(path);
			continue;
		}
		chomp(text);
		check_vector(text, path);
		free(text);
		n++;
	}
	closedir(d);
	return n;
}

/* aws-c-auth: <case>/header-signed-request.txt has an "Authorization:" line. */
static size_t
aws_c_auth_vectors(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[2048];
		char *text, *line;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/header-signed-request.txt", dir, e->d_name);
		if ((text = read_text(path)) == NULL)
			continue;
		line = strstr(text, "\nAuthorization:");
		assert_non_null(line);
		line += strlen("\nAuthorization:");
		line[strcspn(line, "\r\n")] = '\0';
		check_vector(line, path);
		free(text);
		n++;
	}
	closedir(d);
	return n;
}

static void
test_sigv4_suite(void **state)
{
	char dir[1024];
	size_t n;

	snprintf(dir, sizeof(dir), "%s/data/sigv4-suite/botocore-aws4_testsuite", suite_root());
	n = botocore_vectors(dir);
	if (n < 30)
		fail_msg("%zu botocore vectors under %s", n, dir);
	snprintf(dir, sizeof(dir), "%s/data/sigv4-suite/aws-c-auth-v4", suite_root());
	n = aws_c_auth_vectors(dir);
	if (n < 30)
		fail_msg("%zu aws-c-auth vectors under %s", n, dir);
}

/* ---- identities ---- */

#define POLICIES                                                                                             \
	"{'read':{'Statement':{'Effect':'Allow','Action':'dynamodb:Get*','Resource':'*'}},"                  \
	"'write':{'Statement':{'Effect':'Allow','Action':'dynamodb:Put*','Resource':'*'}}}"
#define K1 "AKIAAAAAAAAAAAAAAAA1"
#define K2 "AKIAAAAAAAAAAAAAAAA2"
#define K3 "ASIAAAAAAAAAAAAAAAA3"

static cJSON *
json_of(const char *quoted)
{
	char *text = strdup(quoted);
	cJSON *js;

	assert_non_null(text);
	for (char *c = text; *c != '\0'; c++) {
		if (*c == '\'')
			*c = '"';
	}
	js = cJSON_Parse(text);
	free(text);
	if (js == NULL)
		fail_msg("test JSON does not parse: %s", quoted);
	return js;
}

static struct policy_set *
policies_new(void)
{
	cJSON *js = json_of(POLICIES);
	struct diag *d = diag_new("test.json");
	struct diag_path path;
	struct policy_set *s;

	diag_path_init(&path);
	s = policy_set_compile(js, d, &path);
	assert_non_null(s);
	cJSON_Delete(js);
	diag_free(d);
	return s;
}

/* Compiles `quoted` as "identities" against POLICIES (or no policy set); the caller frees *d. */
static struct identity_set *
compile(const char *quoted, const struct policy_set *ps, struct diag **d)
{
	cJSON *js = quoted != NULL ? json_of(quoted) : NULL;
	struct diag_path path;
	struct identity_set *s;

	*d = diag_new("test.json");
	diag_path_init(&path);
	diag_path_member(&path, "identities");
	s = identity_set_compile(js, ps, *d, &path);
	assert_string_equal(path.text, "$.identities");
	cJSON_Delete(js);
	return s;
}

#define MAX_WANT 3

struct error_case {
	const char *what;
	const char *identities;
	size_t count;
	struct diag_want want[MAX_WANT]; /* "test.json: <path>: <text>", <text> containing needle */
};

#define ID(body) "[{" body "}]"
#define OK_KEYS "'access_key_ids':['" K1 "']"
#define OK_POL "'policies':['read']"

static const struct error_case error_cases[] = {
	{ "not an array", "{}", 1, { { "$.identities", "expected an array of identities, got an object" } } },
	{ "entry not an object", "['x']", 1,
	    { { "$.identities[0]", "expected an identity object, got a string" } } },
	{ "unknown key", ID("'name':'a'," OK_KEYS "," OK_POL ",'role':'x'"), 1,
	    { { "$.identities[0].role",
	        "unknown key \"role\" (expected name, access_key_ids, policies, tags, mode, issued_keys" } } },
	{ "duplicate key", ID("'name':'a'," OK_KEYS "," OK_POL ",'name':'b'"), 1,
	    { { "$.identities[0].name", "duplicate key \"name\"" } } },
	{ "name missing", ID(OK_KEYS "," OK_POL), 1, { { "$.identities[0]", "missing \"name\"" } } },
	{ "name not a string", ID("'name':1," OK_KEYS "," OK_POL), 1,
	    { { "$.identities[0].name", "expected a string, got a number" } } },
	{ "name empty", ID("'name':''," OK_KEYS "," OK_POL), 1,
	    { { "$.identities[0].name", "expected 1-64 characters of [A-Za-z0-9_.@-], got \"\"" } } },
	{ "name with a slash", ID("'name':'a/b'," OK_KEYS "," OK_POL), 1,
	    { { "$.identities[0].name", "got \"a/b\"" } } },
	{ "name too long",
	    ID("'name':'"
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'," OK_KEYS "," OK_POL),
	    1, { { "$.identities[0].name", "expected 1-64 characters" } } },
	{ "name twice",
	    "[{'name':'a'," OK_KEYS "," OK_POL "},{'name':'b','access_key_ids':['" K2 "']," OK_POL "},"
	    "{'name':'a','access_key_ids':['" K3 "']," OK_POL "}]",
	    1, { { "$.identities[2].name", "identity \"a\" is already defined (identities[0])" } } },
	{ "keys missing", ID("'name':'svc'," OK_POL), 1,
	    { { "$.identities[0]",
	        "missing \"access_key_ids\" (only the identity named \"default\" may have none)" } } },
	{ "keys empty", ID("'name':'svc','access_key_ids':[]," OK_POL), 1,
	    { { "$.identities[0].access_key_ids", "expected at least one entry, got an empty array" } } },
	{ "default keys empty", ID("'name':'default','access_key_ids':[]," OK_POL), 1,
	    { { "$.identities[0].access_key_ids", "expected at least one entry" } } },
	{ "keys a string", ID("'name':'svc','access_key_ids':'" K1 "'," OK_POL), 1,
	    { { "$.identities[0].access_key_ids", "expected an array of strings, got a string" } } },
	{ "key not a string", ID("'name':'svc','access_key_ids':['" K1 "',5]," OK_POL), 1,
	    { { "$.identities[0].access_key_ids[1]", "expected a string, got a number" } } },
	{ "key malformed", ID("'name':'svc','access_key_ids':['akiaaaaaaaaaaaaaaaa1','AKI']," OK_POL), 2,
	    { { "$.identities[0].access_key_ids[0]",
	          "expected an access key id (4-128 characters of [A-Z0-9]), got "
	          "\"akiaaaaaaaaaaaaaaaa1\"" },
	        { "$.identities[0].access_key_ids[1]", "got \"AKI\"" } } },
	{ "key in two identities",
	    "[{'name':'a','access_key_ids':['" K1 "','" K2 "']," OK_POL "},"
	    "{'name':'b','access_key_ids':['" K3 "','" K2 "']," OK_POL "}]",
	    1,
	    { { "$.identities[1].access_key_ids[1]",
	        "access key id \"" K2 "\" already belongs to identity \"a\" "
	        "(identities[0])" } } },
	/* ---- certificates, networks, listeners (issue 12) ---- */
	{ "cert empty", ID("'name':'a','client_certificate':{}," OK_POL), 2,
	    { { "$.identities[0].client_certificate", "expected at least one of subjects, dns_names, uris" },
	        { "$.identities[0]", "missing \"access_key_ids\"" } } },
	{ "cert unknown key", ID("'name':'a','client_certificate':{'cn':['x']}," OK_POL), 3,
	    { { "$.identities[0].client_certificate.cn", "unknown key \"cn\"" },
	        { "$.identities[0].client_certificate", "expected at least one of" } } },
	{ "cert bad dns", ID("'name':'a','client_certificate':{'dns_names':['Orders.Example']}," OK_POL), 3,
	    { { "$.identities[0].client_certificate.dns_names[0]", "expected a lower-case DNS name" },
	        { "$.identities[0].client_certificate", "expected at least one of" } } },
	{ "cidr host bits", ID("'name':'a','source_cidrs':['10.0.0.1/8']," OK_POL), 2,
	    { { "$.identities[0].source_cidrs[0]", "no host bits set" },
	        { "$.identities[0]", "missing \"access_key_ids\"" } } },
	{ "cidr prefix too long", ID("'name':'a','source_cidrs':['10.0.0.0/8','::/129']," OK_POL), 1,
	    { { "$.identities[0].source_cidrs[1]", "got \"::/129\"" } } },
	{ "default with a criterion", ID("'name':'default','source_cidrs':['10.0.0.0/8']," OK_POL), 1,
	    { { "$.identities[0]", "cannot require a certificate, source range, listener or issued key" } } },
	{ "broker unproved", ID("'name':'a','source_cidrs':['10.0.0.0/8'],'broker':{}," OK_POL), 1,
	    { { "$.identities[0]", "the caller must be proved" } } },
	{ "broker with plain keys", ID("'name':'a'," OK_KEYS ",'broker':{}," OK_POL), 2,
	    { { "$.identities[0]", "the caller must be proved" },
	        { "$.identities[0]", "list the keys under issued_keys" } } },
	{ "broker bad role", ID("'name':'a','client_certificate':{'subjects':['CN=a']},'broker':{'role_arn':'x'}," OK_POL), 1,
	    { { "$.identities[0].broker.role_arn", "expected a role ARN" } } },
	{ "risk in other words", ID("'name':'default','accept_risk':'yes'," OK_POL), 1,
	    { { "$.identities[0].accept_risk", "expected exactly \"unverified keys may act" } } },
	{ "overlap: cert and key", "[{'name':'a'," OK_KEYS "," OK_POL "},"
	    "{'name':'b','client_certificate':{'subjects':['CN=b']}," OK_POL "}]", 1,
	    { { "$.identities[1]", "identities \"a\" (identities[0]) and \"b\" could both match one call" } } },
	{ "overlap: ranges", "[{'name':'a','source_cidrs':['10.0.0.0/8']," OK_POL "},"
	    "{'name':'b','source_cidrs':['192.168.0.0/16','10.1.0.0/16']," OK_POL "}]", 1,
	    { { "$.identities[1]", "could both match one call" } } },
	{ "overlap: DNS names", "[{'name':'a','client_certificate':{'dns_names':['a.example']}," OK_POL "},"
	    "{'name':'b','client_certificate':{'dns_names':['b.example']}," OK_POL "}]", 1,
	    { { "$.identities[1]", "could both match one call" } } },
	{ "overlap: subject and SPIFFE", "[{'name':'a','client_certificate':{'subjects':['CN=a']}," OK_POL "},"
	    "{'name':'b','client_certificate':{'uris':['spiffe://example.org/b']}," OK_POL "}]", 1,
	    { { "$.identities[1]", "could both match one call" } } },
	{ "overlap: same listener", "[{'name':'a','listeners':['x']," OK_POL "},"
	    "{'name':'b','listeners':['y','x']," OK_POL "}]", 1,
	    { { "$.identities[1]", "could both match one call" } } },
	{ "key twice in one identity", ID("'name':'a','access_key_ids':['" K1 "','" K2 "','" K1 "']," OK_POL),
	    1, { { "$.identities[0].access_key_ids[2]", "access key id \"" K1 "\" is listed twice" } } },
	{ "key in three places",
	    "[{'name':'a'," OK_KEYS "," OK_POL "},{'name':'b'," OK_KEYS "," OK_POL "},{'name':'c'," OK_KEYS
	    "," OK_POL "}]",
	    2,
	    { { "$.identities[1].access_key_ids[0]", "already belongs to identity \"a\"" },
	        { "$.identities[2].access_key_ids[0]", "already belongs to identity \"a\"" } } },
	{ "policies missing", ID("'name':'a'," OK_KEYS), 1,
	    { { "$.identities[0]", "missing \"policies\"" } } },
	{ "policies empty", ID("'name':'a'," OK_KEYS ",'policies':[]"), 1,
	    { { "$.identities[0].policies", "expected at least one entry, got an empty array" } } },
	{ "policies a string", ID("'name':'a'," OK_KEYS ",'policies':'read'"), 1,
	    { { "$.identities[0].policies", "expected an array of strings, got a string" } } },
	{ "unknown policy", ID("'name':'a'," OK_KEYS ",'policies':['read','Write','admin']"), 2,
	    { { "$.identities[0].policies[1]", "no policy named \"Write\" in \"policies\"" },
	        { "$.identities[0].policies[2]", "no policy named \"admin\"" } } },
	{ "policy twice", ID("'name':'a'," OK_KEYS ",'policies':['read','write','read']"), 1,
	    { { "$.identities[0].policies[2]", "policy \"read\" is listed twice" } } },
	{ "policy not a string", ID("'name':'a'," OK_KEYS ",'policies':[{}]"), 1,
	    { { "$.identities[0].policies[0]", "expected a policy name, got an object" } } },
	{ "tags not an object", ID("'name':'a'," OK_KEYS "," OK_POL ",'tags':['team']"), 1,
	    { { "$.identities[0].tags", "expected an object of tag keys to string values, got an array" } } },
	{ "tag value not a string", ID("'name':'a'," OK_KEYS "," OK_POL ",'tags':{'team':1}"), 1,
	    { { "$.identities[0].tags.team", "expected a string, got a number" } } },
	{ "tag key empty", ID("'name':'a'," OK_KEYS "," OK_POL ",'tags':{'':'x'}"), 1,
	    { { "$.identities[0].tags[\"\"]", "expected a tag key of 1-128 characters of [A-Za-z0-9_.:/=+@-], got \"\"" } } },
	{ "tag key with a space", ID("'name':'a'," OK_KEYS "," OK_POL ",'tags':{'my team':'x','ok':'y'}"), 1,
	    { { "$.identities[0].tags[\"my team\"]", "got \"my team\"" } } },
	{ "tag key too long",
	    ID("'name':'a'," OK_KEYS "," OK_POL ",'tags':{'"
	       "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	       "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk':'x'}"),
	    1, { { "$.identities[0].tags.kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	             "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", "expected a tag key of 1-128" } } },
	{ "tag keys differing in case", ID("'name':'a'," OK_KEYS "," OK_POL ",'tags':{'Team':'x','team':'y'}"), 1,
	    { { "$.identities[0].tags.team", "tag \"team\" is listed twice (tag keys are compared without case)" } } },
	{ "tag value too long",
	    ID("'name':'a'," OK_KEYS "," OK_POL ",'tags':{'t':'"
	       "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
	       "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv'}"),
	    1, { { "$.identities[0].tags.t", "expected a tag value of at most 256 characters" } } },
	{ "all errors reported", "[{'name':'x y','access_key_ids':[],'policies':['nope']},7]", 4,
	    { { "$.identities[0].name", "expected 1-64" },
	        { "$.identities[0].access_key_ids", "expected at least one entry" },
	        { "$.identities[0].policies[0]", "no policy named \"nope\"" } } },
};

static void
check_error_case(const struct error_case *c, const struct policy_set *ps)
{
	struct diag *d;
	struct identity_set *s = compile(c->identities, ps, &d);

	diag_expect(c->what, d, s != NULL, c->count, c->want, MAX_WANT);
	diag_free(d);
}

static void
test_identity_errors(void **state)
{
	struct policy_set *ps = policies_new();

	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
		check_error_case(&error_cases[i], ps);
	policy_set_free(ps);
}

/* Policies that failed to compile: this section is still checked, names are not resolved, no set comes back.
 */
static void
test_identity_without_policies(void **state)
{
	struct diag *d;

	assert_null(compile(ID("'name':'a'," OK_KEYS "," OK_POL), NULL, &d));
	assert_int_equal(diag_count(d), 0);
	diag_free(d);
	assert_null(compile(ID("'name':'a b'," OK_KEYS "," OK_POL), NULL, &d));
	assert_int_equal(diag_count(d), 1);
	diag_free(d);
}

static void
test_identity_match(void **state)
{
	struct policy_set *ps = policies_new();
	struct diag *d;
	struct identity_set *s =
	    compile("[{'name':'orders-service','access_key_ids':['" K1 "','" K3 "'],"
	            "'policies':['write','read']},"
	            "{'name':'default','policies':['read']},"
	            "{'name':'ops@example.com','access_key_ids':['" K2 "'],'policies':['read']}]",
	        ps, &d);
	const struct policy *const *pols;
	const struct identity *id;
	enum identity_match how;
	size_t n;

	assert_int_equal(diag_count(d), 0);
	assert_non_null(s);

	id = identity_set_match(s, &(struct identity_facts){ .access_key_id = K3 }, &how);
	assert_int_equal(how, IDENTITY_BY_ACCESS_KEY);
	assert_string_equal(identity_name(id), "orders-service");
	pols = identity_policies(id, &n);
	assert_int_equal(n, 2);
	assert_string_equal(policy_name(pols[0]), "write"); /* config order */
	assert_string_equal(policy_name(pols[1]), "read");
	assert_ptr_equal(pols[1], policy_set_find(ps, "read"));

	id = identity_set_match(s, &(struct identity_facts){ .access_key_id = K2 }, &how);
	assert_int_equal(how, IDENTITY_BY_ACCESS_KEY);
	assert_string_equal(identity_name(id), "ops@example.com");

	/* Unknown, differently-cased, prefix or absent key: the default identity. */
	static const char *const others[] = { "AKIAAAAAAAAAAAAAAAA9", "akiaaaaaaaaaaaaaaaa1",
		"AKIAAAAAAAAAAAAAAAA", K1 "0", "", NULL };
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		id = identity_set_match(s, &(struct identity_facts){ .access_key_id = others[i] }, &how);
		assert_int_equal(how, IDENTITY_BY_DEFAULT);
		assert_string_equal(identity_name(id), "default");
	}
	id = identity_set_match(s, NULL, &how);
	assert_int_equal(how, IDENTITY_BY_DEFAULT);
	assert_string_equal(identity_match_name(how), "default");

	identity_set_free(s);
	diag_free(d);
	policy_set_free(ps);
}

static void
test_identity_tags(void **state)
{
	struct policy_set *ps = policies_new();
	struct diag *d;
	/* 128-character key; 256-character value of two-byte characters (counted as characters, not bytes). */
	struct identity_set *s = compile(
	    "[{'name':'a','access_key_ids':['" K1 "'],'policies':['read'],"
	    "'tags':{'Team':'orders','aws:x/y=z+@-_.':'','"
	    "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk':"
	    "'\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	    "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9'}},"
	    "{'name':'b','access_key_ids':['" K2 "'],'policies':['read']}]",
	    ps, &d);
	struct identity_facts fa = { .access_key_id = K1 }, fb = { .access_key_id = K2 };
	const struct identity *a, *b;

	assert_int_equal(diag_count(d), 0);
	assert_non_null(s);
	a = identity_set_match(s, &fa, NULL);
	b = identity_set_match(s, &fb, NULL);
	assert_string_equal(identity_tag(a, "Team"), "orders");
	assert_string_equal(identity_tag(a, "team"), "orders");
	assert_string_equal(identity_tag(a, "TEAM"), "orders");
	assert_string_equal(identity_tag(a, "AWS:X/Y=Z+@-_."), "");
	assert_non_null(identity_tag(a, "KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK"));
	assert_null(identity_tag(a, "Tea"));
	assert_null(identity_tag(a, NULL));
	assert_null(identity_tag(b, "team"));
	assert_null(identity_tag(NULL, "team"));
	identity_set_free(s);
	diag_free(d);
	policy_set_free(ps);
}


/* Certificates, networks and listeners: every criterion an identity lists must hold; none overlap. */
static void
diag_expect_none(const struct diag *d)
{
	for (size_t i = 0; i < diag_count(d); i++)
		print_error("  %s\n", diag_message(d, i));
	assert_int_equal(diag_count(d), 0);
}

static void
test_identity_match_criteria(void **state)
{
	struct policy_set *ps = policies_new();
	struct diag *d;
	struct identity_set *s = compile(
	    "[{'name':'orders','client_certificate':{'uris':['spiffe://example.org/orders']},'listeners':['mtls2'],"
	    "'policies':['read']},"
	    "{'name':'billing','client_certificate':{'subjects':['CN=billing,O=Example']},"
	    "'listeners':['mtls'],'policies':['read']},"
	    "{'name':'batch','source_cidrs':['10.20.0.0/16','2001:db8::/32'],'listeners':['plain'],"
	    "'policies':['read']},"
	    "{'name':'app','access_key_ids':['" K1 "'],'source_cidrs':['192.0.2.0/24'],'listeners':['plain'],"
	    "'policies':['write']},"
	    "{'name':'default','policies':['read']}]",
	    ps, &d);
	const char *spiffe[] = { "spiffe://example.org/orders" }, *two[] = { "spiffe://example.org/orders",
		"https://x.example" };
	struct identity_cert orders = { "CN=o", NULL, 0, spiffe, 1 }, twice = { "CN=o", NULL, 0, two, 2 },
			    billing = { "CN=billing,O=Example", NULL, 0, NULL, 0 };
	struct identity_addr in20, in6, v4mapped, in192, other;
	enum identity_match how;
	const struct identity *id;

	diag_expect_none(d);
	assert_non_null(s);
	assert_true(identity_addr_parse("10.20.3.4", &in20));
	assert_true(identity_addr_parse("2001:db8:1::5", &in6));
	assert_true(identity_addr_parse("::ffff:10.20.9.9", &v4mapped));
	assert_true(identity_addr_parse("192.0.2.200", &in192));
	assert_true(identity_addr_parse("10.21.0.1", &other));
	assert_false(identity_addr_parse("10.20.3", &other) && false);

	id = identity_set_match(s, &(struct identity_facts){ .access_key_id = K2, .cert = &orders, .listener = "mtls2" }, &how);
	assert_string_equal(identity_name(id), "orders");
	assert_int_equal(how, IDENTITY_BY_CERTIFICATE);
	assert_int_equal(identity_criteria(id), IDENTITY_CRIT_CERT | IDENTITY_CRIT_LISTENER);
	/* A second URI SAN next to a SPIFFE ID: not an SVID, matched by nothing. */
	id = identity_set_match(s, &(struct identity_facts){ .cert = &twice, .listener = "mtls2" }, &how);
	assert_string_equal(identity_name(id), "default");
	/* billing needs its subject and the listener */
	id = identity_set_match(s, &(struct identity_facts){ .cert = &billing, .listener = "mtls" }, &how);
	assert_string_equal(identity_name(id), "billing");
	id = identity_set_match(s, &(struct identity_facts){ .cert = &billing, .listener = "plain" }, &how);
	assert_string_equal(identity_name(id), "default");
	/* batch: source range and listener */
	id = identity_set_match(s, &(struct identity_facts){ .source = &in20, .listener = "plain" }, &how);
	assert_string_equal(identity_name(id), "batch");
	assert_int_equal(how, IDENTITY_BY_NETWORK);
	id = identity_set_match(s, &(struct identity_facts){ .source = &v4mapped, .listener = "plain" }, &how);
	assert_string_equal(identity_name(id), "batch");
	id = identity_set_match(s, &(struct identity_facts){ .source = &in6, .listener = "plain" }, &how);
	assert_string_equal(identity_name(id), "batch");
	id = identity_set_match(s, &(struct identity_facts){ .source = &other, .listener = "plain" }, &how);
	assert_string_equal(identity_name(id), "default");
	id = identity_set_match(s, &(struct identity_facts){ .source = &in20, .listener = "mtls" }, &how);
	assert_string_equal(identity_name(id), "default");
	/* app: its key from its range only */
	id = identity_set_match(s, &(struct identity_facts){ .access_key_id = K1, .source = &in192, .listener = "plain" }, &how);
	assert_string_equal(identity_name(id), "app");
	assert_int_equal(identity_criteria(id), IDENTITY_CRIT_KEY | IDENTITY_CRIT_SOURCE | IDENTITY_CRIT_LISTENER);
	id = identity_set_match(s, &(struct identity_facts){ .access_key_id = K1, .source = &in20, .listener = "plain" }, &how);
	assert_string_equal(identity_name(id), "batch"); /* app's key from batch's range: batch's call */
	assert_int_equal(how, IDENTITY_BY_NETWORK);
	id = identity_set_match(s, &(struct identity_facts){ .access_key_id = K1, .source = &other, .listener = "plain" }, &how);
	assert_string_equal(identity_name(id), "default");
	assert_int_equal(how, IDENTITY_BY_DEFAULT);
	identity_set_free(s);
	diag_free(d);

	/* Disjoint by listener, by range, by subject, by SPIFFE ID: all fine together. */
	s = compile("[{'name':'a'," OK_KEYS ",'listeners':['x']," OK_POL "},"
	            "{'name':'b','client_certificate':{'subjects':['CN=b']},'listeners':['y']," OK_POL "},"
	            "{'name':'c','client_certificate':{'subjects':['CN=c']},'listeners':['y']," OK_POL "},"
	            "{'name':'d','client_certificate':{'uris':['spiffe://e/d']},'listeners':['z']," OK_POL "},"
	            "{'name':'e','client_certificate':{'uris':['spiffe://e/e']},'listeners':['z']," OK_POL "},"
	            "{'name':'f','source_cidrs':['10.0.0.0/9'],'listeners':['w']," OK_POL "},"
	            "{'name':'g','source_cidrs':['10.128.0.0/9','::/0'],'listeners':['w']," OK_POL "}]",
	    ps, &d);
	diag_expect_none(d);
	assert_non_null(s);
	identity_set_free(s);
	diag_free(d);
	policy_set_free(ps);
}

static void
test_identity_no_default(void **state)
{
	struct policy_set *ps = policies_new();
	struct diag *d;
	struct identity_set *s = compile(ID("'name':'svc'," OK_KEYS "," OK_POL), ps, &d);
	enum identity_match how;

	assert_non_null(s);
	assert_non_null(identity_set_match(s, &(struct identity_facts){ .access_key_id = K1 }, &how));
	assert_string_equal(identity_match_name(how), "access-key");
	assert_null(identity_set_match(s, &(struct identity_facts){ .access_key_id = K2 }, &how));
	assert_int_equal(how, IDENTITY_UNKNOWN);
	assert_string_equal(identity_match_name(how), "none");
	assert_null(identity_set_match(s, &(struct identity_facts){ .access_key_id = NULL }, &how));
	assert_int_equal(how, IDENTITY_UNKNOWN);
	identity_set_free(s);
	diag_free(d);

	/* No "identities" at all, or an empty list: nobody matches. */
	s = compile(NULL, ps, &d);
	assert_non_null(s);
	assert_null(identity_set_match(s, &(struct identity_facts){ .access_key_id = K1 }, &how));
	assert_int_equal(how, IDENTITY_UNKNOWN);
	identity_set_free(s);
	diag_free(d);
	s = compile("[]", ps, &d);
	assert_non_null(s);
	assert_null(identity_set_match(s, &(struct identity_facts){ .access_key_id = K1 }, &how));
	identity_set_free(s);
	diag_free(d);
	identity_set_free(NULL);
	policy_set_free(ps);
}

/* Many identities: every key finds its own identity through the sorted index. */
static void
test_identity_many(void **state)
{
	enum { N = 300 };
	struct policy_set *ps = policies_new();
	size_t cap = N * 120 + 16, len = 0;
	char *json = malloc(cap);
	struct diag *d;
	struct identity_set *s;

	assert_non_null(json);
	len += (size_t)snprintf(json + len, cap - len, "[");
	for (int i = 0; i < N; i++) {
		/* Keys in descending order, two per identity, so the index really has to sort. */
		len += (size_t)snprintf(json + len, cap - len,
		    "%s{'name':'id%d','access_key_ids':['AKIA%016d','ASIA%016d'],'policies':['read']}",
		    i ? "," : "", i, N - i, N - i);
	}
	snprintf(json + len, cap - len, "]");
	s = compile(json, ps, &d);
	assert_int_equal(diag_count(d), 0);
	assert_non_null(s);
	for (int i = 0; i < N; i++) {
		char key[32], want[16];
		enum identity_match how;
		const struct identity *id;

		snprintf(want, sizeof(want), "id%d", i);
		snprintf(key, sizeof(key), "AKIA%016d", N - i);
		id = identity_set_match(s, &(struct identity_facts){ .access_key_id = key }, &how);
		assert_non_null(id);
		assert_string_equal(identity_name(id), want);
		snprintf(key, sizeof(key), "ASIA%016d", N - i);
		id = identity_set_match(s, &(struct identity_facts){ .access_key_id = key }, &how);
		assert_non_null(id);
		assert_string_equal(identity_name(id), want);
	}
	identity_set_free(s);
	diag_free(d);
	free(json);
	policy_set_free(ps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigv4_accepts),
		cmocka_unit_test(test_sigv4_length_bounded),
		cmocka_unit_test(test_sigv4_rejects),
		cmocka_unit_test(test_sigv4_embedded_nul),
		cmocka_unit_test(test_sigv4_suite),
		cmocka_unit_test(test_identity_errors),
		cmocka_unit_test(test_identity_without_policies),
		cmocka_unit_test(test_identity_match),
		cmocka_unit_test(test_identity_tags),
		cmocka_unit_test(test_identity_no_default),
		cmocka_unit_test(test_identity_match_criteria),
		cmocka_unit_test(test_identity_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
