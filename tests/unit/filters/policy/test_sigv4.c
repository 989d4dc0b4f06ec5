/*
 * Tests filters/policy/sigv4.c: AWS's SigV4 test vectors that are POST
 * requests (botocore's aws4_testsuite and aws-c-auth's v4 suite, in
 * tests/data/sigv4-suite): our canonical request
 * equals theirs, their signed request verifies, signing reproduces their
 * Authorization; then each way a request can fail; then the access key id
 * account decoding.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "filters/policy/sigv4.h"

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_NOW 1440938160 /* 2015-08-30T12:36:00Z */
#define MAXH 32

static const char *
suite_dir(char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/tests/data/sigv4-suite", SOURCE_ROOT);
	return buf;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* A request file: request line, Name:value lines, blank line, body. Authorization goes to `auth`. */
struct parsed {
	char *text;
	char method[8];
	struct sigv4_request req;
	struct sigv4_header h[MAXH];
	const char *authz;
	size_t authz_len;
};

static void
parse_request_file(const char *path, struct parsed *p)
{
	size_t len;
	char *s, *line, *end, *sp, *q;

	memset(p, 0, sizeof(*p));
	p->text = s = slurp(path, &len);
	if (s == NULL)
		fail_msg("cannot read %s", path);
	end = s + len;
	line = s;
	s = strchr(line, '\n');
	*s++ = '\0';
	if (s[-2] == '\r')
		s[-2] = '\0';
	sp = strchr(line, ' ');
	assert_non_null(sp);
	snprintf(p->method, sizeof(p->method), "%.*s", (int)(sp - line), line);
	p->req.method = p->method;
	p->req.path = sp + 1;
	sp = strchr(sp + 1, ' ');
	assert_non_null(sp);
	q = memchr(p->req.path, '?', (size_t)(sp - p->req.path));
	p->req.path_len = (size_t)((q ? q : sp) - p->req.path);
	if (q) {
		p->req.query = q + 1;
		p->req.query_len = (size_t)(sp - q - 1);
	}
	while (s < end && *s != '\n' && *s != '\r') {
		char *nl = memchr(s, '\n', (size_t)(end - s)), *colon;
		size_t ll = nl ? (size_t)(nl - s) : (size_t)(end - s);

		if (ll > 0 && s[ll - 1] == '\r')
			ll--;
		colon = memchr(s, ':', ll);
		assert_non_null(colon);
		if ((size_t)(colon - s) == 13 && strncasecmp(s, "Authorization", 13) == 0) {
			p->authz = colon + 1;
			while (*p->authz == ' ')
				p->authz++;
			p->authz_len = (size_t)(s + ll - p->authz);
		} else {
			assert_true(p->req.nheaders < MAXH);
			p->h[p->req.nheaders++] = (struct sigv4_header){ s, (size_t)(colon - s), colon + 1,
				(size_t)(s + ll - colon - 1) };
		}
		s = nl ? nl + 1 : end;
	}
	if (s < end && *s == '\r')
		s++;
	if (s < end && *s == '\n')
		s++;
	p->req.headers = p->h;
	p->req.body = s;
	p->req.body_len = (size_t)(end - s);
}

static void
strip_trailing_newline(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* One vector: the signed request verifies, our canonical request is theirs, tampering fails. */
static void
check_vector(const char *signed_path, const char *creq_path, const char *name)
{
	struct parsed p;
	struct sigv4_auth a;
	const char *why = NULL;
	char creq[SIGV4_CANONICAL_MAX], *want;
	size_t n;

	parse_request_file(signed_path, &p);
	if (p.authz == NULL)
		fail_msg("%s: no Authorization", name);
	if (!sigv4_parse_authorization(p.authz, p.authz_len, &a, &why))
		fail_msg("%s: Authorization refused: %s", name, why);
	n = sigv4_canonical_request(&p.req, a.signed_headers, creq, sizeof(creq));
	assert_true(n > 0);
	want = slurp(creq_path, NULL);
	assert_non_null(want);
	strip_trailing_newline(want);
	if (strcmp(creq, want) != 0)
		fail_msg("%s: canonical request differs:\n--- ours\n%s\n--- theirs\n%s", name, creq, want);
	free(want);
	if (sigv4_verify(&p.req, &a, SUITE_SECRET, SUITE_NOW, SIGV4_DEFAULT_SKEW_S, &why) != SIGV4_OK)
		fail_msg("%s: does not verify: %s", name, why);
	/* wrong secret */
	assert_int_equal(sigv4_verify(&p.req, &a, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ", SUITE_NOW,
	    SIGV4_DEFAULT_SKEW_S, &why), SIGV4_BAD_SIGNATURE);
	/* a body byte more */
	if (p.req.body_len > 0) {
		enum sigv4_result r;

		p.req.body_len--;
		/* A signed X-Amz-Content-Sha256 (aws-c-auth's sign_body cases) catches it first. */
		r = sigv4_verify(&p.req, &a, SUITE_SECRET, SUITE_NOW, SIGV4_DEFAULT_SKEW_S, &why);
		assert_true(r == SIGV4_BAD_SIGNATURE || r == SIGV4_PAYLOAD_MISMATCH);
		p.req.body_len++;
	} else {
		p.req.body = "x";
		p.req.body_len = 1;
		assert_int_equal(sigv4_verify(&p.req, &a, SUITE_SECRET, SUITE_NOW, SIGV4_DEFAULT_SKEW_S, &why),
		    SIGV4_BAD_SIGNATURE);
		p.req.body_len = 0;
	}
	/* outside the window both ways, inside at its edge */
	assert_int_equal(sigv4_verify(&p.req, &a, SUITE_SECRET, SUITE_NOW + 901, 900, &why), SIGV4_EXPIRED);
	assert_int_equal(sigv4_verify(&p.req, &a, SUITE_SECRET, SUITE_NOW - 901, 900, &why), SIGV4_EXPIRED);
	assert_int_equal(sigv4_verify(&p.req, &a, SUITE_SECRET, SUITE_NOW + 900, 900, &why), SIGV4_OK);
	/* another region in the scope */
	strcpy(a.region, "us-west-2");
	assert_int_equal(sigv4_verify(&p.req, &a, SUITE_SECRET, SUITE_NOW, 900, &why), SIGV4_BAD_SIGNATURE);
	free(p.text);
}

static size_t
walk_botocore(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;
	char sub[1024], sreq[1400], creq[1400];
	struct stat st;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "post-", 5) != 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		snprintf(sreq, sizeof(sreq), "%s/%s.sreq", sub, e->d_name);
		snprintf(creq, sizeof(creq), "%s/%s.creq", sub, e->d_name);
		if (stat(sreq, &st) != 0) {
			n += walk_botocore(sub); /* post-sts-token/ holds two more cases */
			continue;
		}
		check_vector(sreq, creq, e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void
test_botocore_vectors(void **state)
{
	char dir[1024], sub[1100];

	suite_dir(dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/botocore-aws4_testsuite", dir);
	if (walk_botocore(sub) < 8)
		fail_msg("expected at least 8 POST vectors under %s", sub);
}

static void
test_aws_c_auth_vectors(void **state)
{
	char dir[1024], sub[1100], s[1500], c[1500];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	suite_dir(dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/aws-c-auth-v4", dir);
	d = opendir(sub);
	if (d == NULL)
		fail_msg("no %s", sub);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "post-", 5) != 0)
			continue;
		snprintf(s, sizeof(s), "%s/%s/header-signed-request.txt", sub, e->d_name);
		snprintf(c, sizeof(c), "%s/%s/header-canonical-request.txt", sub, e->d_name);
		check_vector(s, c, e->d_name);
		n++;
	}
	closedir(d);
	assert_true(n >= 8);
}

/* Signing the unsigned vanilla request reproduces the suite's Authorization exactly. */
static void
test_sign_reproduces_suite(void **state)
{
	char dir[1024], path[1200], authz[512], *want;
	struct parsed p;
	struct sigv4_credentials cr = { "AKIDEXAMPLE", SUITE_SECRET, NULL };

	suite_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/botocore-aws4_testsuite/post-vanilla/post-vanilla.req", dir);
	parse_request_file(path, &p);
	assert_true(sigv4_sign(&p.req, "host;x-amz-date", &cr, "us-east-1", "service", SUITE_NOW, authz,
	    sizeof(authz)));
	snprintf(path, sizeof(path), "%s/botocore-aws4_testsuite/post-vanilla/post-vanilla.authz", dir);
	want = slurp(path, NULL);
	strip_trailing_newline(want);
	assert_string_equal(authz, want);
	free(want);
	free(p.text);
}

static void
test_verify_refusals(void **state)
{
	struct sigv4_header h[] = {
		{ "Host", 4, "example.amazonaws.com", 21 },
		{ "X-Amz-Date", 10, "20150830T123600Z", 16 },
	};
	struct sigv4_request req = { "POST", "/", 1, "", 0, h, 2, "{}", 2 };
	struct sigv4_credentials cr = { "AKIDEXAMPLE", SUITE_SECRET, NULL };
	struct sigv4_auth a;
	char authz[512];
	const char *why;

	assert_true(sigv4_sign(&req, "host;x-amz-date", &cr, "us-east-1", "dynamodb", SUITE_NOW, authz, sizeof(authz)));
	assert_true(sigv4_parse_authorization(authz, strlen(authz), &a, &why));
	assert_int_equal(sigv4_verify(&req, &a, SUITE_SECRET, SUITE_NOW, 900, &why), SIGV4_OK);
	/* X-Amz-Date not signed */
	strcpy(a.signed_headers, "host");
	assert_int_equal(sigv4_verify(&req, &a, SUITE_SECRET, SUITE_NOW, 900, &why), SIGV4_MALFORMED);
	strcpy(a.signed_headers, "host;x-amz-date");
	/* scope date of another day */
	strcpy(a.date, "20150831");
	assert_int_equal(sigv4_verify(&req, &a, SUITE_SECRET, SUITE_NOW, 900, &why), SIGV4_SCOPE_MISMATCH);
	strcpy(a.date, "20150830");
	/* a signed header the request lacks */
	strcpy(a.signed_headers, "host;x-amz-date;x-amz-target");
	assert_int_equal(sigv4_verify(&req, &a, SUITE_SECRET, SUITE_NOW, 900, &why), SIGV4_MALFORMED);
	strcpy(a.signed_headers, "host;x-amz-date");
	/* a bad X-Amz-Date */
	h[1].value = "2015-08-30T12:36";
	h[1].value_len = 16;
	assert_int_equal(sigv4_verify(&req, &a, SUITE_SECRET, SUITE_NOW, 900, &why), SIGV4_MALFORMED);
	h[1].value = "20150830T123600Z";
	/* a payload hash that is not the body's */
	{
		struct sigv4_header h3[3] = { h[0], h[1], { "X-Amz-Content-Sha256", 20,
			"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 64 } };
		struct sigv4_request r3 = req;

		r3.headers = h3;
		r3.nheaders = 3;
		assert_int_equal(sigv4_verify(&r3, &a, SUITE_SECRET, SUITE_NOW, 900, &why), SIGV4_PAYLOAD_MISMATCH);
	}
	assert_int_equal(sigv4_verify(&req, &a, SUITE_SECRET, SUITE_NOW, 900, &why), SIGV4_OK);
}

static void
test_akid_account(void **state)
{
	char acct[13];

	/* From the public write-ups on the format (and boto's own account lookup). */
	assert_true(sigv4_akid_account("ASIAY34FZKBOKMUTVV7A", acct));
	assert_string_equal(acct, "609629065308");
	/* Older format: fifth character A-P carries no account. */
	assert_false(sigv4_akid_account("AKIAIOSFODNN7EXAMPLE", acct));
	assert_false(sigv4_akid_account("AKIAJ0000000000000AB", acct));
	/* Other prefixes, lengths, alphabets: unknown. */
	assert_false(sigv4_akid_account("AIDAY34FZKBOKMUTVV7A", acct));
	assert_false(sigv4_akid_account("ASIAY34FZKBOKMUTVV7", acct));
	assert_false(sigv4_akid_account("ASIAY34FZ0BOKMUTVV7A", acct)); /* '0' is not base32 */
	assert_false(sigv4_akid_account("AKIDEXAMPLE", acct));
	assert_false(sigv4_akid_account(NULL, acct));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_botocore_vectors),
		cmocka_unit_test(test_aws_c_auth_vectors),
		cmocka_unit_test(test_sign_reproduces_suite),
		cmocka_unit_test(test_verify_refusals),
		cmocka_unit_test(test_akid_account),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
