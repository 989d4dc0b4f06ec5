/* Tests for proxy/http.c: request and response heads, head end search, chunked relay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/buffer.h>

#include "proxy/http.h"

#define LIT(s) s, sizeof(s) - 1

static const struct http_limits lim = {
    .max_header_bytes = 16384,
    .max_headers = 64,
    .max_body_bytes = 1048576,
};

/* 5 KiB: static rather than on the test stack. */
static struct http_message msg;

/* ------------------------------------------------------------------------
 * Request heads
 */

#define RL       "POST / HTTP/1.1\r\n"
#define H_HOST   "Host: dynamodb.us-east-1.amazonaws.com\r\n"
#define H_TARGET "X-Amz-Target: DynamoDB_20120810.GetItem\r\n"
#define H_AUTH                                                                                                         \
	"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/dynamodb/aws4_request, "   \
	"SignedHeaders=content-type;host;x-amz-date;x-amz-target, "                                                    \
	"Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7\r\n"
#define H_CL   "Content-Length: 63\r\n"
#define H_CT   "Content-Type: application/x-amz-json-1.0\r\n"
#define H_DATE "X-Amz-Date: 20240101T000000Z\r\n"
/* The minimum we accept; refusal cases add or replace one thing. */
#define BASE  RL H_HOST H_TARGET H_AUTH H_CL H_CT
#define NO_CL RL H_HOST H_TARGET H_AUTH H_CT
#define END   "\r\n"

#define SESSION_TOKEN                                                                                                  \
	"IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQDexampleexampleexampleexampleexampleexampleAiBexamplee"             \
	"xampleexampleexampleexampleexampleexampleKpMCCIL//////////ARAAGgwxMjM0NTY3ODkwMTIiDexampleexampl"             \
	"eexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexam"             \
	"pleexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleex"             \
	"ampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexample"             \
	"exampleexampleexampleexampleexampleexampleexampleexampleexample+example/exampleexampleexampleexa"             \
	"mpleexampleexampleexampleexampleexampleexampleexampleexampleexampleexample=="

/* What aws-cli 2 (botocore) sends for dynamodb get-item with temporary credentials. */
#define BOTOCORE_GET_ITEM                                                                                              \
	"POST / HTTP/1.1\r\n"                                                                                          \
	"Host: dynamodb.us-east-1.amazonaws.com\r\n"                                                                   \
	"Accept-Encoding: identity\r\n"                                                                                \
	"X-Amz-Target: DynamoDB_20120810.GetItem\r\n"                                                                  \
	"Content-Type: application/x-amz-json-1.0\r\n"                                                                 \
	"User-Agent: aws-cli/2.15.0 md/awscrt#0.19.17 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.6 "        \
	"md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off "               \
	"md/command#dynamodb.get-item\r\n"                                                                             \
	"X-Amz-Date: 20240101T120000Z\r\n"                                                                             \
	"X-Amz-Security-Token: " SESSION_TOKEN "\r\n"                                                                  \
	"Authorization: AWS4-HMAC-SHA256 Credential=ASIAIOSFODNN7EXAMPLE/20240101/us-east-1/dynamodb/aws4_request, "   \
	"SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "                               \
	"Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"                               \
	"amz-sdk-invocation-id: 5f1c0d3e-8f4b-4c2a-9a55-3c1f2e4d6b7a\r\n"                                              \
	"amz-sdk-request: attempt=1; max=3\r\n"                                                                        \
	"Content-Length: 63\r\n"                                                                                       \
	"\r\n"

/* tests/bench: the wrk request. */
#define WRK_REQUEST                                                                                                    \
	"POST / HTTP/1.1\r\n"                                                                                          \
	"Host: localhost:8000\r\n"                                                                                     \
	"Content-Length: 57\r\n"                                                                                       \
	"Content-Type: application/x-amz-json-1.0\r\n"                                                                 \
	"X-Amz-Target: DynamoDB_20120810.GetItem\r\n"                                                                  \
	"X-Amz-Date: 20240101T000000Z\r\n"                                                                             \
	"Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/dynamodb/aws4_request, "            \
	"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abcdef\r\n"                                \
	"\r\n"

/* AWS SDK for JavaScript v3 writes lower-case names. */
#define JS_V3_REQUEST                                                                                                  \
	"POST / HTTP/1.1\r\n"                                                                                          \
	"content-type: application/x-amz-json-1.0\r\n"                                                                 \
	"x-amz-target: DynamoDB_20120810.Query\r\n"                                                                    \
	"content-length: 120\r\n"                                                                                      \
	"host: dynamodb.eu-west-1.amazonaws.com\r\n"                                                                   \
	"x-amz-user-agent: aws-sdk-js/3.400.0\r\n"                                                                     \
	"user-agent: aws-sdk-js/3.400.0 ua/2.0 os/linux#6.1 lang/js md/nodejs#20.5.0 api/dynamodb#3.400.0\r\n"         \
	"amz-sdk-invocation-id: 0b6c3a0e-0000-4000-8000-000000000000\r\n"                                              \
	"amz-sdk-request: attempt=1; max=3\r\n"                                                                        \
	"x-amz-date: 20240101T000000Z\r\n"                                                                             \
	"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n"                   \
	"authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/dynamodb/aws4_request, "            \
	"SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-content-sha256;"   \
	"x-amz-date;x-amz-target;x-amz-user-agent, Signature=abcdef\r\n"                                               \
	"Connection: keep-alive\r\n"                                                                                   \
	"\r\n"

struct accept_case {
	const char *name;
	const char *head;
	size_t len;
	const char *target;
	uint64_t content_length;
	bool keep_alive;
	bool expect_continue;
	unsigned nheaders;
};

static const struct accept_case accept_cases[] = {
    {"botocore GetItem", LIT(BOTOCORE_GET_ITEM), "DynamoDB_20120810.GetItem", 63, true, false, 11},
    {"wrk benchmark", LIT(WRK_REQUEST), "DynamoDB_20120810.GetItem", 57, true, false, 6},
    {"js v3 lower-case names", LIT(JS_V3_REQUEST), "DynamoDB_20120810.Query", 120, true, false, 12},
    {"minimal", LIT(BASE END), "DynamoDB_20120810.GetItem", 63, true, false, 5},
    {"expect 100-continue", LIT(BASE "Expect: 100-continue\r\n" END), "DynamoDB_20120810.GetItem", 63, true, true, 6},
    {"expect case-insensitive", LIT(BASE "Expect: 100-Continue\r\n" END), "DynamoDB_20120810.GetItem", 63, true, true,
     6},
    {"connection close", LIT(BASE "Connection: close\r\n" END), "DynamoDB_20120810.GetItem", 63, false, false, 6},
    {"connection list", LIT(BASE "Connection: Keep-Alive, ,close\r\n" END), "DynamoDB_20120810.GetItem", 63, false,
     false, 6},
    {"connection empty list", LIT(BASE "Connection: ,\r\n" END), "DynamoDB_20120810.GetItem", 63, true, false, 6},
    {"keep-alive header", LIT(BASE "Keep-Alive: timeout=5\r\n" END), "DynamoDB_20120810.GetItem", 63, true, false, 6},
    {"content-encoding identity", LIT(BASE "Content-Encoding: IDENTITY\r\n" END), "DynamoDB_20120810.GetItem", 63, true,
     false, 6},
    {"content-type charset",
     LIT(RL H_HOST H_TARGET H_AUTH H_CL "Content-Type: Application/X-Amz-JSON-1.0 ; "
                                        "Charset=UTF-8\r\n" END),
     "DynamoDB_20120810.GetItem", 63, true, false, 5},
    {"content-type quoted charset",
     LIT(RL H_HOST H_TARGET H_AUTH H_CL "Content-Type: application/x-amz-json-1.0;charset=\"utf-8\"\r\n" END),
     "DynamoDB_20120810.GetItem", 63, true, false, 5},
    {"content-length zero", LIT(RL H_HOST H_TARGET H_AUTH H_CT "Content-Length: 0\r\n" END),
     "DynamoDB_20120810.GetItem", 0, true, false, 5},
    {"content-length at limit", LIT(RL H_HOST H_TARGET H_AUTH H_CT "Content-Length: 1048576\r\n" END),
     "DynamoDB_20120810.GetItem", 1048576, true, false, 5},
    {"ows trimmed", LIT(RL H_HOST "X-Amz-Target:\t  DynamoDB_20120810.Scan \t \r\n" H_AUTH H_CL H_CT END),
     "DynamoDB_20120810.Scan", 63, true, false, 5},
    {"no ows", LIT(RL H_HOST "X-Amz-Target:DynamoDB_20120810.Scan\r\n" H_AUTH H_CL H_CT END), "DynamoDB_20120810.Scan",
     63, true, false, 5},
    {"host with port", LIT(RL "Host: 127.0.0.1:8000\r\n" H_TARGET H_AUTH H_CL H_CT END), "DynamoDB_20120810.GetItem",
     63, true, false, 5},
    {"host ipv6", LIT(RL "Host: [::1]:8000\r\n" H_TARGET H_AUTH H_CL H_CT END), "DynamoDB_20120810.GetItem", 63, true,
     false, 5},
    {"obs-text and tab in value", LIT(BASE "User-Agent: caf\xc3\xa9\tclient\r\n" END), "DynamoDB_20120810.GetItem", 63,
     true, false, 6},
    {"empty unknown value", LIT(BASE "X-Empty:\r\n" END), "DynamoDB_20120810.GetItem", 63, true, false, 6},
    {"hop-by-hop allowed", LIT(BASE "TE: trailers\r\nProxy-Authorization: Basic eA==\r\nTrailer: X\r\n" END),
     "DynamoDB_20120810.GetItem", 63, true, false, 8},
};

static void
test_request_accepted(void **state)
{
	for (size_t i = 0; i < sizeof(accept_cases) / sizeof(accept_cases[0]); i++) {
		const struct accept_case *c = &accept_cases[i];
		struct http_error err = {0};
		size_t len;

		if (http_parse_request(c->head, c->len, &lim, &msg, &err) != HTTP_OK)
			fail_msg("%s: refused: %s [%s]", c->name, err.reason, err.field);
		const char *target = http_get(&msg, HTTP_HDR_X_AMZ_TARGET, &len);
		if (target == NULL || len != strlen(c->target) || memcmp(target, c->target, len) != 0)
			fail_msg("%s: target %.*s", c->name, (int)len, target ? target : "");
		if (!msg.has_content_length || msg.content_length != c->content_length)
			fail_msg("%s: content length %llu", c->name, (unsigned long long)msg.content_length);
		if (msg.keep_alive != c->keep_alive || msg.expect_continue != c->expect_continue)
			fail_msg("%s: keep_alive %d expect %d", c->name, msg.keep_alive, msg.expect_continue);
		if (msg.nheaders != c->nheaders)
			fail_msg("%s: %u headers", c->name, msg.nheaders);
		assert_false(msg.chunked);
	}
}

static void
test_request_fields(void **state)
{
	struct http_error err = {0};
	size_t len;

	assert_int_equal(http_parse_request(LIT(BOTOCORE_GET_ITEM), &lim, &msg, &err), HTTP_OK);
	const char *v = http_get(&msg, HTTP_HDR_X_AMZ_SECURITY_TOKEN, &len);
	assert_non_null(v);
	assert_int_equal(len, strlen(SESSION_TOKEN));
	assert_memory_equal(v, SESSION_TOKEN, len);
	v = http_get(&msg, HTTP_HDR_HOST, &len);
	assert_int_equal(len, strlen("dynamodb.us-east-1.amazonaws.com"));
	assert_memory_equal(v, "dynamodb.us-east-1.amazonaws.com", len);

	assert_int_equal(msg.known[HTTP_HDR_HOST], 0);
	assert_int_equal(msg.headers[1].id, HTTP_HDR_OTHER);
	assert_int_equal(msg.headers[1].name_len, strlen("Accept-Encoding"));
	assert_memory_equal(msg.headers[1].name, "Accept-Encoding", msg.headers[1].name_len);
	assert_memory_equal(msg.headers[1].value, "identity", msg.headers[1].value_len);
	assert_int_equal(msg.known[HTTP_HDR_USER_AGENT], 4);
	assert_int_equal(msg.known[HTTP_HDR_X_AMZ_DATE], 5);
	assert_int_equal(msg.known[HTTP_HDR_AUTHORIZATION], 7);
	assert_int_equal(msg.known[HTTP_HDR_CONTENT_LENGTH], 10);
	assert_int_equal(msg.known[HTTP_HDR_EXPECT], -1);
	assert_int_equal(msg.known[HTTP_HDR_TRANSFER_ENCODING], -1);

	/* absent, OTHER and out of range ask for nothing */
	len = 99;
	assert_null(http_get(&msg, HTTP_HDR_EXPECT, &len));
	assert_int_equal(len, 0);
	len = 99;
	assert_null(http_get(&msg, HTTP_HDR_OTHER, &len));
	assert_int_equal(len, 0);
	assert_null(http_get(&msg, HTTP_HDR__COUNT, &len));

	/* values point into the head, trimmed of OWS */
	static const char trimmed[] = RL H_HOST "X-Amz-Target: \t a b \t\r\n" H_AUTH H_CL H_CT END;
	assert_int_equal(http_parse_request(LIT(trimmed), &lim, &msg, &err), HTTP_OK);
	v = http_get(&msg, HTTP_HDR_X_AMZ_TARGET, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(v, "a b", 3);
	assert_ptr_equal(v, strstr(strstr(trimmed, "X-Amz-Target:"), "a b"));
}

struct refuse_case {
	const char *name;
	const char *head;
	size_t len;
	const char *reason;
	const char *field;
};

static const struct refuse_case refuse_cases[] = {
    /* duplicates */
    {"duplicate target", LIT(BASE "X-Amz-Target: DynamoDB_20120810.DeleteTable\r\n" END), "duplicate header field",
     "X-Amz-Target"},
    {"duplicate target other case", LIT(BASE "x-amz-TARGET: DynamoDB_20120810.DeleteTable\r\n" END),
     "duplicate header field", "x-amz-TARGET"},
    {"duplicate host", LIT(BASE "Host: evil.example\r\n" END), "duplicate header field", "Host"},
    {"duplicate content-length", LIT(BASE "Content-Length: 63\r\n" END), "duplicate header field", "Content-Length"},
    {"duplicate authorization", LIT(BASE "authorization: x\r\n" END), "duplicate header field", "authorization"},
    {"duplicate unknown", LIT(BASE "X-Foo: a\r\nX-Bar: b\r\nx-FOO: c\r\n" END), "duplicate header field", "x-FOO"},
    {"duplicate unknown same case", LIT(BASE "amz-sdk-request: a\r\namz-sdk-request: a\r\n" END),
     "duplicate header field", "amz-sdk-request"},
    /* framing */
    {"cl and te", LIT(BASE "Transfer-Encoding: chunked\r\n" END),
     "Transfer-Encoding is not accepted; send Content-Length", "Transfer-Encoding"},
    {"te alone", LIT(NO_CL "transfer-encoding: chunked\r\n" END),
     "Transfer-Encoding is not accepted; send Content-Length", "transfer-encoding"},
    {"te chunked head", LIT(NO_CL "Transfer-Encoding: chunked\r\n" END),
     "Transfer-Encoding is not accepted; send Content-Length", "Transfer-Encoding"},
    {"te identity", LIT(NO_CL "Transfer-Encoding: identity\r\n" END),
     "Transfer-Encoding is not accepted; send Content-Length", "Transfer-Encoding"},
    {"cl plus sign", LIT(NO_CL "Content-Length: +63\r\n" END), "Content-Length is not a decimal number",
     "Content-Length"},
    {"cl minus sign", LIT(NO_CL "Content-Length: -1\r\n" END), "Content-Length is not a decimal number",
     "Content-Length"},
    {"cl space inside", LIT(NO_CL "Content-Length: 6 3\r\n" END), "Content-Length is not a decimal number",
     "Content-Length"},
    {"cl hex", LIT(NO_CL "Content-Length: 0x3f\r\n" END), "Content-Length is not a decimal number", "Content-Length"},
    {"cl list", LIT(NO_CL "Content-Length: 63, 63\r\n" END), "Content-Length is not a decimal number",
     "Content-Length"},
    {"cl empty", LIT(NO_CL "Content-Length:\r\n" END), "Content-Length is not a decimal number", "Content-Length"},
    {"cl fraction", LIT(NO_CL "Content-Length: 6.0\r\n" END), "Content-Length is not a decimal number",
     "Content-Length"},
    {"cl leading zeros", LIT(NO_CL "Content-Length: 0063\r\n" END), "Content-Length with leading zeros is not accepted",
     "Content-Length"},
    {"cl overflow", LIT(NO_CL "Content-Length: 99999999999999999999999\r\n" END),
     "request body larger than the configured limit", "Content-Length"},
    {"cl 2^64", LIT(NO_CL "Content-Length: 18446744073709551616\r\n" END),
     "request body larger than the configured limit", "Content-Length"},
    {"cl over limit", LIT(NO_CL "Content-Length: 1048577\r\n" END), "request body larger than the configured limit",
     "Content-Length"},
    /* required fields */
    {"missing host", LIT(RL H_TARGET H_AUTH H_CL H_CT END), "missing Host header", "Host"},
    {"missing target", LIT(RL H_HOST H_AUTH H_CL H_CT END), "missing X-Amz-Target header", "X-Amz-Target"},
    {"missing authorization", LIT(RL H_HOST H_TARGET H_CL H_CT END), "missing Authorization header", "Authorization"},
    {"missing content-length", LIT(NO_CL END), "missing Content-Length header", "Content-Length"},
    {"missing content-type", LIT(RL H_HOST H_TARGET H_AUTH H_CL END), "missing Content-Type header", "Content-Type"},
    {"empty target", LIT(RL H_HOST "X-Amz-Target: \r\n" H_AUTH H_CL H_CT END), "empty value in a required header field",
     "X-Amz-Target"},
    {"empty authorization", LIT(RL H_HOST H_TARGET "Authorization:\r\n" H_CL H_CT END),
     "empty value in a required header field", "Authorization"},
    {"empty host", LIT(RL "Host:\r\n" H_TARGET H_AUTH H_CL H_CT END), "invalid Host header", "Host"},
    {"host userinfo", LIT(RL "Host: user@evil.example\r\n" H_TARGET H_AUTH H_CL H_CT END), "invalid Host header",
     "Host"},
    {"host with path", LIT(RL "Host: a.example/x\r\n" H_TARGET H_AUTH H_CL H_CT END), "invalid Host header", "Host"},
    {"host with space", LIT(RL "Host: a b\r\n" H_TARGET H_AUTH H_CL H_CT END), "invalid Host header", "Host"},
    /* request line */
    {"get", LIT("GET / HTTP/1.1\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END), "only POST / HTTP/1.1 is accepted", ""},
    {"put", LIT("PUT / HTTP/1.1\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END), "only POST / HTTP/1.1 is accepted", ""},
    {"lower-case method", LIT("post / HTTP/1.1\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END),
     "only POST / HTTP/1.1 is accepted", ""},
    {"post /foo", LIT("POST /foo HTTP/1.1\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END),
     "only POST / HTTP/1.1 is accepted", ""},
    {"post /?x", LIT("POST /?x=1 HTTP/1.1\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END),
     "only POST / HTTP/1.1 is accepted", ""},
    {"http/1.0", LIT("POST / HTTP/1.0\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END), "only POST / HTTP/1.1 is accepted",
     ""},
    {"http/2.0", LIT("POST / HTTP/2.0\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END), "only POST / HTTP/1.1 is accepted",
     ""},
    {"lower-case version", LIT("POST / http/1.1\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END),
     "only POST / HTTP/1.1 is accepted", ""},
    {"absolute-form",
     LIT("POST http://dynamodb.us-east-1.amazonaws.com/ HTTP/1.1\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END),
     "only POST / HTTP/1.1 is accepted", ""},
    {"asterisk-form", LIT("POST * HTTP/1.1\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END),
     "only POST / HTTP/1.1 is accepted", ""},
    {"double space", LIT("POST  / HTTP/1.1\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END),
     "only POST / HTTP/1.1 is accepted", ""},
    {"tab separator", LIT("POST\t/ HTTP/1.1\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END),
     "only POST / HTTP/1.1 is accepted", ""},
    {"trailing space", LIT("POST / HTTP/1.1 \r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END),
     "only POST / HTTP/1.1 is accepted", ""},
    {"leading empty line", LIT("\r\nPOST / HTTP/1.1\r\n" H_HOST H_TARGET H_AUTH H_CL H_CT END),
     "only POST / HTTP/1.1 is accepted", ""},
    {"request line bare LF", LIT("POST / HTTP/1.1\n" H_HOST H_TARGET H_AUTH H_CL H_CT END), "bare LF line ending", ""},
    {"empty head", LIT(""), "only POST / HTTP/1.1 is accepted", ""},
    /* line and field syntax */
    {"obs-fold", LIT(BASE "X-Foo: a\r\n b\r\n" END), "obs-fold line folding is not accepted", ""},
    {"obs-fold tab", LIT(BASE "X-Foo: a\r\n\tb\r\n" END), "obs-fold line folding is not accepted", ""},
    {"space before first field", LIT(RL " Host: x\r\n" H_TARGET H_AUTH H_CL H_CT END),
     "whitespace between start line and first header field", ""},
    {"bare LF after value", LIT(RL "Host: x\n" H_TARGET H_AUTH H_CL H_CT END), "bare LF line ending", "Host"},
    {"bare LF empty line", LIT(BASE "\n"), "bare LF line ending", ""},
    {"bare CR in value", LIT(BASE "X-Foo: a\rb\r\n" END), "bare CR line ending", "X-Foo"},
    {"bare CR at line start", LIT(BASE "\rX-Foo: a\r\n" END), "bare CR line ending", ""},
    {"NUL in value", LIT(BASE "X-Foo: a\0b\r\n" END), "invalid character in header value", "X-Foo"},
    {"DEL in value", LIT(BASE "X-Foo: a\x7f\r\n" END), "invalid character in header value", "X-Foo"},
    {"ctl in value", LIT(BASE "X-Foo: a\x01 b\r\n" END), "invalid character in header value", "X-Foo"},
    {"ESC in long value", LIT(BASE "X-Foo: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x1b[31m\r\n" END),
     "invalid character in header value", "X-Foo"},
    {"NUL in target", LIT(RL H_HOST "X-Amz-Target: DynamoDB_20120810.GetItem\0.DeleteTable\r\n" H_AUTH H_CL H_CT END),
     "invalid character in header value", "X-Amz-Target"},
    {"space before colon", LIT(RL "Host : x\r\n" H_TARGET H_AUTH H_CL H_CT END),
     "whitespace before colon in header field", "Host"},
    {"tab before colon", LIT(BASE "X-Amz-Target\t: x\r\n" END), "whitespace before colon in header field",
     "X-Amz-Target"},
    {"empty name", LIT(BASE ": x\r\n" END), "empty header field name", ""},
    {"no colon", LIT(BASE "X-Foo\r\n" END), "header field line without colon", "X-Foo"},
    {"bad name char", LIT(BASE "X(Foo): x\r\n" END), "invalid character in header field name", ""},
    {"non-ascii name", LIT(BASE "X-F\xc3\xb6o: x\r\n" END), "invalid character in header field name", ""},
    {"bad first name char", LIT(BASE "(X-Foo): x\r\n" END), "invalid character in header field name", ""},
    {"NUL name", LIT(BASE "\0: x\r\n" END), "invalid character in header field name", ""},
    {"unterminated", LIT(BASE), "header section is not terminated", ""},
    {"unterminated value", LIT(BASE "X-Foo: a"), "header section is not terminated", "X-Foo"},
    {"cr at very end", LIT(BASE "X-Foo: a\r"), "header section is not terminated", "X-Foo"},
    {"body after head", LIT(BASE END "{}"), "data after the header section", ""},
    /* semantics */
    {"connection names target", LIT(BASE "Connection: X-Amz-Target\r\n" END),
     "Connection may only list keep-alive or close", "Connection"},
    {"connection names authorization", LIT(BASE "Connection: keep-alive, Authorization\r\n" END),
     "Connection may only list keep-alive or close", "Connection"},
    {"connection upgrade", LIT(BASE "Connection: Upgrade\r\n" END), "Connection may only list keep-alive or close",
     "Connection"},
    {"connection not a list", LIT(BASE "Connection: close keep-alive\r\n" END),
     "Connection may only list keep-alive or close", "Connection"},
    {"upgrade h2c", LIT(BASE "Upgrade: h2c\r\n" END), "Upgrade is not accepted", "Upgrade"},
    {"upgrade websocket", LIT(BASE "upgrade: websocket\r\n" END), "Upgrade is not accepted", "upgrade"},
    {"expect 200-ok", LIT(BASE "Expect: 200-ok\r\n" END), "Expect other than 100-continue", "Expect"},
    {"expect list", LIT(BASE "Expect: 100-continue, x\r\n" END), "Expect other than 100-continue", "Expect"},
    {"expect empty", LIT(BASE "Expect:\r\n" END), "Expect other than 100-continue", "Expect"},
    {"content-encoding gzip", LIT(BASE "Content-Encoding: gzip\r\n" END), "Content-Encoding other than identity",
     "Content-Encoding"},
    {"content-encoding list", LIT(BASE "Content-Encoding: identity, gzip\r\n" END),
     "Content-Encoding other than identity", "Content-Encoding"},
    {"content-type text/plain", LIT(RL H_HOST H_TARGET H_AUTH H_CL "Content-Type: text/plain\r\n" END),
     "unsupported Content-Type", "Content-Type"},
    {"content-type json 1.1", LIT(RL H_HOST H_TARGET H_AUTH H_CL "Content-Type: application/x-amz-json-1.1\r\n" END),
     "unsupported Content-Type", "Content-Type"},
    {"content-type suffix", LIT(RL H_HOST H_TARGET H_AUTH H_CL "Content-Type: application/x-amz-json-1.0x\r\n" END),
     "unsupported Content-Type", "Content-Type"},
    {"content-type latin1",
     LIT(RL H_HOST H_TARGET H_AUTH H_CL "Content-Type: application/x-amz-json-1.0; charset=latin1\r\n" END),
     "unsupported Content-Type", "Content-Type"},
    {"content-type empty parameter",
     LIT(RL H_HOST H_TARGET H_AUTH H_CL "Content-Type: application/x-amz-json-1.0;\r\n" END),
     "unsupported Content-Type", "Content-Type"},
    {"content-type second parameter",
     LIT(RL H_HOST H_TARGET H_AUTH H_CL "Content-Type: application/x-amz-json-1.0; charset=utf-8; x=y\r\n" END),
     "unsupported Content-Type", "Content-Type"},
    {"content-type prefix only", LIT(RL H_HOST H_TARGET H_AUTH H_CL "Content-Type: application/x-amz\r\n" END),
     "unsupported Content-Type", "Content-Type"},
};

static void
expect_refusal(const char *name, enum http_status st, const struct http_error *err, const char *reason,
               const char *field)
{
	if (st != HTTP_ERROR)
		fail_msg("%s: accepted", name);
	if (err->reason == NULL || strcmp(err->reason, reason) != 0)
		fail_msg("%s: reason \"%s\", want \"%s\"", name, err->reason ? err->reason : "(null)", reason);
	if (strcmp(err->field, field) != 0)
		fail_msg("%s: field \"%s\", want \"%s\"", name, err->field, field);
}

static void
test_request_refused(void **state)
{
	for (size_t i = 0; i < sizeof(refuse_cases) / sizeof(refuse_cases[0]); i++) {
		const struct refuse_case *c = &refuse_cases[i];
		struct http_error err;
		memset(&err, 'x', sizeof(err));
		err.reason = NULL;
		enum http_status st = http_parse_request(c->head, c->len, &lim, &msg, &err);
		expect_refusal(c->name, st, &err, c->reason, c->field);
	}
}

/* Appends "Name-i: v\r\n" lines for i in [0, n). */
static size_t
add_numbered_fields(char *buf, size_t off, size_t cap, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int w = snprintf(buf + off, cap - off, "X-Field-%u: v\r\n", i);
		assert_true(w > 0 && (size_t)w < cap - off);
		off += (size_t)w;
	}
	return off;
}

static void
test_request_field_count(void **state)
{
	static char buf[8192];
	struct http_error err = {0};
	struct http_limits l = lim;
	size_t off;

	/* exactly max_headers fields (5 required + 59 others) */
	off = (size_t)snprintf(buf, sizeof(buf), "%s", BASE);
	off = add_numbered_fields(buf, off, sizeof(buf), 59);
	memcpy(buf + off, END, 2);
	assert_int_equal(http_parse_request(buf, off + 2, &l, &msg, &err), HTTP_OK);
	assert_int_equal(msg.nheaders, 64);

	/* one more */
	off = (size_t)snprintf(buf, sizeof(buf), "%s", BASE);
	off = add_numbered_fields(buf, off, sizeof(buf), 60);
	memcpy(buf + off, END, 2);
	expect_refusal("65 fields", http_parse_request(buf, off + 2, &l, &msg, &err), &err, "too many header fields",
	               "");

	/* a configured limit above the array size is held to HTTP_MAX_HEADERS_HARD */
	l.max_headers = 1000;
	off = (size_t)snprintf(buf, sizeof(buf), "%s", BASE);
	off = add_numbered_fields(buf, off, sizeof(buf), HTTP_MAX_HEADERS_HARD - 5);
	memcpy(buf + off, END, 2);
	assert_int_equal(http_parse_request(buf, off + 2, &l, &msg, &err), HTTP_OK);
	assert_int_equal(msg.nheaders, HTTP_MAX_HEADERS_HARD);
	off = (size_t)snprintf(buf, sizeof(buf), "%s", BASE);
	off = add_numbered_fields(buf, off, sizeof(buf), HTTP_MAX_HEADERS_HARD - 4);
	memcpy(buf + off, END, 2);
	expect_refusal("129 fields", http_parse_request(buf, off + 2, &l, &msg, &err), &err, "too many header fields",
	               "");

	/* 100 unknown names that share their first letters, then a late duplicate of the first */
	off = (size_t)snprintf(buf, sizeof(buf), "%s", BASE);
	off = add_numbered_fields(buf, off, sizeof(buf), 100);
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, "x-field-0: again\r\n");
	memcpy(buf + off, END, 2);
	expect_refusal("late duplicate", http_parse_request(buf, off + 2, &l, &msg, &err), &err,
	               "duplicate header field", "x-field-0");
}

static void
test_request_head_size(void **state)
{
	struct http_error err = {0};
	struct http_limits l = lim;
	static const char head[] = BASE END;

	l.max_header_bytes = sizeof(head) - 1;
	assert_int_equal(http_parse_request(LIT(head), &l, &msg, &err), HTTP_OK);
	l.max_header_bytes--;
	expect_refusal("head over limit", http_parse_request(LIT(head), &l, &msg, &err), &err,
	               "header section too large", "");

	static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	l.max_header_bytes = sizeof(response) - 1;
	assert_int_equal(http_parse_response(LIT(response), &l, &msg, &err), HTTP_OK);
	l.max_header_bytes--;
	expect_refusal("response head over limit", http_parse_response(LIT(response), &l, &msg, &err), &err,
	               "header section too large", "");
}

/* The error field holds a name, cut to fit. */
static void
test_error_field_truncated(void **state)
{
	struct http_error err = {0};
	static const char head[] = BASE "X-A-Very-Long-Header-Name-That-Does-Not-Fit-In-The-Field: 1\r\n"
	                                "x-a-very-long-header-name-that-does-not-fit-in-the-field: 2\r\n" END;

	expect_refusal("long duplicate", http_parse_request(LIT(head), &lim, &msg, &err), &err,
	               "duplicate header field", "x-a-very-long-header-name-that-does-not-fit-in-");
	assert_int_equal(strlen(err.field), sizeof(err.field) - 1);
}

/* Every byte in a field name and value, against RFC 9110 5.6.2 tchar and 5.5 field-vchar. */
static bool
is_tchar_ref(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void
test_field_bytes(void **state)
{
	char buf[512];
	struct http_error err;

	for (int c = 0; c < 256; c++) {
		int n = snprintf(buf, sizeof(buf), "%sX%cY: v\r\n\r\n", BASE, 'A');
		buf[strlen(BASE) + 1] = (char)c;
		enum http_status st = http_parse_request(buf, (size_t)n, &lim, &msg, &err);
		if (c == ':')
			continue; /* "X:Y: v" is the field X */
		if ((st == HTTP_OK) != is_tchar_ref(c))
			fail_msg("name byte 0x%02x: status %d (%s)", c, st, st == HTTP_OK ? "" : err.reason);
	}
	for (int c = 0; c < 256; c++) {
		int n = snprintf(buf, sizeof(buf), "%sX-Test: aAb\r\n\r\n", BASE);
		buf[strlen(BASE) + 9] = (char)c;
		enum http_status st = http_parse_request(buf, (size_t)n, &lim, &msg, &err);
		bool want = c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
		if ((st == HTTP_OK) != want)
			fail_msg("value byte 0x%02x: status %d (%s)", c, st, st == HTTP_OK ? "" : err.reason);
	}
	/* and in the eight-at-a-time path, at every offset of a long value */
	for (int off = 0; off < 40; off++) {
		int n = snprintf(buf, sizeof(buf), "%sX-Test: %s\r\n\r\n", BASE,
		                 "0123456789012345678901234567890123456789");
		buf[strlen(BASE) + 8 + off] = '\x7f';
		expect_refusal("DEL in long value", http_parse_request(buf, (size_t)n, &lim, &msg, &err), &err,
		               "invalid character in header value", "X-Test");
		buf[strlen(BASE) + 8 + off] = '\t';
		assert_int_equal(http_parse_request(buf, (size_t)n, &lim, &msg, &err), HTTP_OK);
	}
}

/* Each known name resolves to its id in any case; near misses do not. */
static const struct {
	const char *name;
	enum http_hdr id;
} known_names[] = {
    {"Host", HTTP_HDR_HOST},
    {"X-Amz-Target", HTTP_HDR_X_AMZ_TARGET},
    {"Authorization", HTTP_HDR_AUTHORIZATION},
    {"Content-Length", HTTP_HDR_CONTENT_LENGTH},
    {"Content-Type", HTTP_HDR_CONTENT_TYPE},
    {"Content-Encoding", HTTP_HDR_CONTENT_ENCODING},
    {"Transfer-Encoding", HTTP_HDR_TRANSFER_ENCODING},
    {"Connection", HTTP_HDR_CONNECTION},
    {"Keep-Alive", HTTP_HDR_KEEP_ALIVE},
    {"Proxy-Connection", HTTP_HDR_PROXY_CONNECTION},
    {"Proxy-Authorization", HTTP_HDR_PROXY_AUTHORIZATION},
    {"TE", HTTP_HDR_TE},
    {"Trailer", HTTP_HDR_TRAILER},
    {"Upgrade", HTTP_HDR_UPGRADE},
    {"Expect", HTTP_HDR_EXPECT},
    {"User-Agent", HTTP_HDR_USER_AGENT},
    {"X-Amz-Date", HTTP_HDR_X_AMZ_DATE},
    {"X-Amz-Security-Token", HTTP_HDR_X_AMZ_SECURITY_TOKEN},
    {"X-Amzn-RequestId", HTTP_HDR_X_AMZN_REQUESTID},
    {"X-Amz-Crc32", HTTP_HDR_X_AMZ_CRC32},
};

static enum http_hdr
response_field_id(const char *name, const char *value)
{
	char buf[256];
	struct http_error err = {0};
	int n = snprintf(buf, sizeof(buf), "HTTP/1.1 204 No Content\r\n%s: %s\r\n\r\n", name, value);

	if (http_parse_response(buf, (size_t)n, &lim, &msg, &err) != HTTP_OK)
		fail_msg("%s: %s", name, err.reason);
	assert_int_equal(msg.nheaders, 1);
	return msg.headers[0].id;
}

static void
test_known_names(void **state)
{
	assert_int_equal(sizeof(known_names) / sizeof(known_names[0]), HTTP_HDR__COUNT - 1);
	for (size_t i = 0; i < sizeof(known_names) / sizeof(known_names[0]); i++) {
		char lower[64], upper[64];
		const char *name = known_names[i].name;
		enum http_hdr id = known_names[i].id;
		const char *value = id == HTTP_HDR_TRANSFER_ENCODING ? "chunked"
		                    : id == HTTP_HDR_CONTENT_LENGTH  ? "0"
		                                                     : "close";
		size_t n = strlen(name);
		for (size_t j = 0; j <= n; j++) {
			lower[j] = (char)(name[j] >= 'A' && name[j] <= 'Z' ? name[j] + 32 : name[j]);
			upper[j] = (char)(name[j] >= 'a' && name[j] <= 'z' ? name[j] - 32 : name[j]);
		}
		assert_int_equal(response_field_id(name, value), id);
		assert_int_equal(response_field_id(lower, value), id);
		assert_int_equal(response_field_id(upper, value), id);
		assert_int_equal(msg.known[id], 0);
		/* one letter off, one longer, one shorter */
		char near[64];
		memcpy(near, name, n + 1);
		near[n - 1] = near[n - 1] == 'q' ? 'r' : 'q';
		assert_int_equal(response_field_id(near, value), HTTP_HDR_OTHER);
		memcpy(near, name, n);
		near[n] = 's';
		near[n + 1] = '\0';
		assert_int_equal(response_field_id(near, value), HTTP_HDR_OTHER);
		near[n - 1] = '\0';
		if (n > 1)
			assert_int_equal(response_field_id(near, value), HTTP_HDR_OTHER);
	}
	/* a non-letter whose low five bits match a letter's */
	assert_int_equal(response_field_id("4E", "x"), HTTP_HDR_OTHER);
	assert_int_equal(response_field_id("8-Amz-Target", "x"), HTTP_HDR_OTHER);
	assert_int_equal(response_field_id("X-Amz-Target-Extra-Long-Name-Of-40-Bytes", "x"), HTTP_HDR_OTHER);
}

static void
test_hop_by_hop(void **state)
{
	for (int h = HTTP_HDR_OTHER; h < HTTP_HDR__COUNT; h++) {
		bool want = h == HTTP_HDR_CONNECTION || h == HTTP_HDR_KEEP_ALIVE || h == HTTP_HDR_PROXY_CONNECTION ||
		            h == HTTP_HDR_PROXY_AUTHORIZATION || h == HTTP_HDR_TE || h == HTTP_HDR_TRAILER ||
		            h == HTTP_HDR_TRANSFER_ENCODING || h == HTTP_HDR_UPGRADE || h == HTTP_HDR_EXPECT;
		if (http_hdr_is_hop_by_hop((enum http_hdr)h) != want)
			fail_msg("header id %d", h);
	}
	assert_false(http_hdr_is_hop_by_hop(HTTP_HDR__COUNT));
	assert_false(http_hdr_is_hop_by_hop((enum http_hdr) - 1));
}

/* ------------------------------------------------------------------------
 * Responses
 */

struct response_case {
	const char *name;
	const char *head;
	size_t len;
	const char *reason; /* NULL: accepted */
	const char *field;
	int status;
	bool chunked;
	uint64_t content_length;
	bool keep_alive;
};

#define R200 "HTTP/1.1 200 OK\r\n"

static const struct response_case response_cases[] = {
    {"dynamodb 200",
     LIT(R200 "Server: Server\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
              "Content-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\nConnection: keep-alive\r\n"
              "x-amzn-RequestId: ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOP\r\n"
              "x-amz-crc32: 2745614147\r\n\r\n"),
     NULL, "", 200, false, 2, true},
    {"dynamodb 400",
     LIT("HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\n"
         "Content-Length: 120\r\nConnection: close\r\n\r\n"),
     NULL, "", 400, false, 120, false},
    {"chunked", LIT(R200 "Transfer-Encoding: chunked\r\n\r\n"), NULL, "", 200, true, 0, true},
    {"chunked any case", LIT(R200 "transfer-encoding: Chunked\r\n\r\n"), NULL, "", 200, true, 0, true},
    {"empty reason", LIT("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"), NULL, "", 200, false, 0, true},
    {"204 no framing", LIT("HTTP/1.1 204 No Content\r\n\r\n"), NULL, "", 204, false, 0, true},
    {"304 with length", LIT("HTTP/1.1 304 Not Modified\r\nContent-Length: 99999999\r\n\r\n"), NULL, "", 304, false, 0,
     true},
    {"100 continue", LIT("HTTP/1.1 100 Continue\r\n\r\n"), NULL, "", 100, false, 0, true},
    {"599", LIT("HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n"), NULL, "", 599, false, 0, true},
    {"connection options", LIT(R200 "Connection: keep-alive, x-custom\r\nContent-Length: 1\r\n\r\n"), NULL, "", 200,
     false, 1, true},
    {"cl at limit", LIT(R200 "Content-Length: 1048576\r\n\r\n"), NULL, "", 200, false, 1048576, true},
    {"both cl and te", LIT(R200 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
     "both Content-Length and Transfer-Encoding", "", 0, false, 0, false},
    {"both in 204", LIT("HTTP/1.1 204 No\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"),
     "both Content-Length and Transfer-Encoding", "", 0, false, 0, false},
    {"neither", LIT(R200 "Content-Type: application/x-amz-json-1.0\r\n\r\n"),
     "response has neither Content-Length nor chunked framing", "", 0, false, 0, false},
    {"te gzip chunked", LIT(R200 "Transfer-Encoding: gzip, chunked\r\n\r\n"), "Transfer-Encoding other than chunked",
     "Transfer-Encoding", 0, false, 0, false},
    {"te chunked twice", LIT(R200 "Transfer-Encoding: chunked, chunked\r\n\r\n"),
     "Transfer-Encoding other than chunked", "Transfer-Encoding", 0, false, 0, false},
    {"te repeated", LIT(R200 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
     "duplicate header field", "Transfer-Encoding", 0, false, 0, false},
    {"cl repeated", LIT(R200 "Content-Length: 1\r\ncontent-length: 1\r\n\r\n"), "duplicate header field",
     "content-length", 0, false, 0, false},
    {"cl bad", LIT(R200 "Content-Length: 1x\r\n\r\n"), "Content-Length is not a decimal number", "Content-Length", 0,
     false, 0, false},
    {"cl over limit", LIT(R200 "Content-Length: 1048577\r\n\r\n"), "response body larger than the configured limit",
     "Content-Length", 0, false, 0, false},
    {"101", LIT("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
     "101 Switching Protocols was not requested", "", 0, false, 0, false},
    {"http/1.0", LIT("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), "only HTTP/1.1 responses are accepted", "", 0,
     false, 0, false},
    {"lower-case version", LIT("http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), "only HTTP/1.1 responses are accepted",
     "", 0, false, 0, false},
    {"no space after code", LIT("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"), "malformed status line", "", 0, false, 0,
     false},
    {"two-digit code", LIT("HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n"), "malformed status line", "", 0, false, 0,
     false},
    {"four-digit code", LIT("HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"), "malformed status line", "", 0, false, 0,
     false},
    {"code 600", LIT("HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n"), "malformed status line", "", 0, false, 0, false},
    {"code 099", LIT("HTTP/1.1 099 X\r\nContent-Length: 0\r\n\r\n"), "malformed status line", "", 0, false, 0, false},
    {"letters in code", LIT("HTTP/1.1 2a0 X\r\nContent-Length: 0\r\n\r\n"), "malformed status line", "", 0, false, 0,
     false},
    {"double space", LIT("HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n"), "malformed status line", "", 0, false, 0,
     false},
    {"NUL in reason", LIT("HTTP/1.1 200 O\0K\r\nContent-Length: 0\r\n\r\n"), "invalid character in reason phrase", "",
     0, false, 0, false},
    {"status bare LF", LIT("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"), "bare LF line ending", "", 0, false, 0,
     false},
    {"field bare LF", LIT(R200 "Content-Length: 0\n\r\n"), "bare LF line ending", "Content-Length", 0, false, 0, false},
    {"obs-fold", LIT(R200 "Content-Length: 0\r\nX-A: a\r\n b\r\n\r\n"), "obs-fold line folding is not accepted", "", 0,
     false, 0, false},
    {"space before colon", LIT(R200 "Content-Length : 0\r\n\r\n"), "whitespace before colon in header field",
     "Content-Length", 0, false, 0, false},
    {"bad connection", LIT(R200 "Content-Length: 0\r\nConnection: a b\r\n\r\n"), "invalid Connection header",
     "Connection", 0, false, 0, false},
    {"truncated", LIT("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"), "header section is not terminated", "", 0, false, 0,
     false},
    {"short", LIT("HTTP/1.1 200"), "malformed status line", "", 0, false, 0, false},
};

static void
test_responses(void **state)
{
	for (size_t i = 0; i < sizeof(response_cases) / sizeof(response_cases[0]); i++) {
		const struct response_case *c = &response_cases[i];
		struct http_error err = {0};
		enum http_status st = http_parse_response(c->head, c->len, &lim, &msg, &err);

		if (c->reason != NULL) {
			expect_refusal(c->name, st, &err, c->reason, c->field);
			continue;
		}
		if (st != HTTP_OK)
			fail_msg("%s: refused: %s [%s]", c->name, err.reason, err.field);
		if (msg.status != c->status || msg.chunked != c->chunked || msg.keep_alive != c->keep_alive)
			fail_msg("%s: status %d chunked %d keep_alive %d", c->name, msg.status, msg.chunked,
			         msg.keep_alive);
		if (!c->chunked && (!msg.has_content_length || msg.content_length != c->content_length))
			fail_msg("%s: content length %llu", c->name, (unsigned long long)msg.content_length);
		if (c->chunked && msg.has_content_length)
			fail_msg("%s: chunked with a length", c->name);
	}
}

static void
test_response_fields(void **state)
{
	struct http_error err = {0};
	size_t len;

	assert_int_equal(http_parse_response(response_cases[0].head, response_cases[0].len, &lim, &msg, &err), HTTP_OK);
	assert_int_equal(msg.reason_len, 2);
	assert_memory_equal(msg.reason, "OK", 2);
	const char *v = http_get(&msg, HTTP_HDR_X_AMZN_REQUESTID, &len);
	assert_int_equal(len, 52);
	assert_memory_equal(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOP", len);
	v = http_get(&msg, HTTP_HDR_X_AMZ_CRC32, &len);
	assert_memory_equal(v, "2745614147", len);

	static const char spaced[] = "HTTP/1.1 500 Internal  Server\tError\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(http_parse_response(LIT(spaced), &lim, &msg, &err), HTTP_OK);
	assert_int_equal(msg.reason_len, strlen("Internal  Server\tError"));
	assert_int_equal(msg.status, 500);
	assert_false(msg.expect_continue);
}

/* ------------------------------------------------------------------------
 * Head end
 */

static struct evbuffer *
buffer_of(const char *s, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	assert_non_null(b);
	assert_int_equal(evbuffer_add(b, s, len), 0);
	return b;
}

static void
test_head_end_whole(void **state)
{
	static const char head[] = BASE END;
	size_t from = 0;

	struct evbuffer *b = buffer_of(LIT(BASE END "{\"TableName\":\"t\"}\n\n"));
	assert_int_equal(http_find_head_end(b, 16384, &from), sizeof(head) - 1);
	assert_int_equal(from, 0);
	evbuffer_free(b);

	/* the terminator must lie within the limit: exactly at it is fine, one byte over is not */
	b = buffer_of(LIT(head));
	from = 0;
	assert_int_equal(http_find_head_end(b, sizeof(head) - 1, &from), sizeof(head) - 1);
	from = 0;
	assert_int_equal(http_find_head_end(b, sizeof(head) - 2, &from), -1);
	evbuffer_free(b);

	/* not enough yet, below the limit: wait */
	b = buffer_of(LIT(BASE));
	from = 0;
	assert_int_equal(http_find_head_end(b, 16384, &from), 0);
	assert_int_equal(from, sizeof(BASE) - 1);
	assert_int_equal(http_find_head_end(b, 16384, &from), 0);
	evbuffer_add(b, LIT("\r"));
	assert_int_equal(http_find_head_end(b, 16384, &from), 0);
	evbuffer_add(b, LIT("\n"));
	assert_int_equal(http_find_head_end(b, 16384, &from), sizeof(head) - 1);
	evbuffer_free(b);

	/* head too big: max bytes buffered without a terminator */
	b = buffer_of(LIT(BASE));
	from = 0;
	assert_int_equal(http_find_head_end(b, 64, &from), -1);
	evbuffer_free(b);

	/* empty buffer */
	b = evbuffer_new();
	from = 0;
	assert_int_equal(http_find_head_end(b, 16384, &from), 0);
	evbuffer_free(b);
}

static void
test_head_end_bare_lf(void **state)
{
	static const struct {
		const char *name;
		const char *s;
		size_t len;
	} cases[] = {
	    {"bare LF head end", LIT("POST / HTTP/1.1\nHost: x\n\n")},
	    {"bare LF line", LIT("POST / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n")},
	    {"LF first", LIT("\n")},
	    {"LF CR LF", LIT("POST / HTTP/1.1\r\nHost: x\r\n\n\r\n")},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t from = 0;
		struct evbuffer *b = buffer_of(cases[i].s, cases[i].len);
		if (http_find_head_end(b, 16384, &from) != -1)
			fail_msg("%s", cases[i].name);
		evbuffer_free(b);
	}
	/* after the terminator, the body is not looked at */
	size_t from = 0;
	struct evbuffer *b = buffer_of(LIT("A: b\r\n\r\n\n\n"));
	assert_int_equal(http_find_head_end(b, 16384, &from), 8);
	evbuffer_free(b);
}

/* Feeds `s` in two reads split at every position, as one chain and as separate chains. */
static void
head_end_split(const char *s, size_t len, ssize_t want, size_t max)
{
	for (int chains = 0; chains < 2; chains++) {
		for (size_t cut = 0; cut <= len; cut++) {
			struct evbuffer *b = evbuffer_new();
			size_t from = 0;
			ssize_t r;

			if (chains)
				evbuffer_add_reference(b, s, cut, NULL, NULL);
			else
				evbuffer_add(b, s, cut);
			r = http_find_head_end(b, max, &from);
			if (r == 0) {
				if (chains)
					evbuffer_add_reference(b, s + cut, len - cut, NULL, NULL);
				else
					evbuffer_add(b, s + cut, len - cut);
				r = http_find_head_end(b, max, &from);
			}
			if (r != want)
				fail_msg("cut %zu chains %d: %zd, want %zd", cut, chains, r, want);
			evbuffer_free(b);
		}
	}
}

static void
test_head_end_split(void **state)
{
	static const char head[] = WRK_REQUEST;
	head_end_split(LIT(WRK_REQUEST "{}"), sizeof(head) - 1, 16384);
	head_end_split(LIT("A: b\r\n\n"), -1, 16384);
	head_end_split(LIT("\r\n\r\n"), 4, 16384);
	head_end_split(LIT("a\r\n\r\n"), 5, 16384);
	head_end_split(LIT(WRK_REQUEST), -1, sizeof(head) - 2);

	/* one byte per read, one chain per byte */
	struct evbuffer *b = evbuffer_new();
	size_t from = 0;
	ssize_t r = 0;
	for (size_t i = 0; i < sizeof(head) - 1; i++) {
		assert_int_equal(r, 0);
		evbuffer_add_reference(b, head + i, 1, NULL, NULL);
		r = http_find_head_end(b, 16384, &from);
	}
	assert_int_equal(r, sizeof(head) - 1);
	evbuffer_free(b);
}

/* ------------------------------------------------------------------------
 * Chunked relay
 */

static char *
buffer_string(struct evbuffer *b, size_t *len)
{
	*len = evbuffer_get_length(b);
	char *s = malloc(*len + 1);
	assert_non_null(s);
	evbuffer_copyout(b, s, *len);
	s[*len] = '\0';
	return s;
}

/*
 * Relays `body` (a complete chunked message) followed by `after`, fed in
 * pieces of `step` bytes after a first piece of `first` bytes; checks
 * byte-faithfulness and that `after` stays in `in`.
 */
static void
relay_check(const char *name, const char *body, size_t blen, uint64_t payload, size_t first, size_t step)
{
	static const char after[] = "HTTP/1.1 200 OK\r\n";
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct http_chunked c;
	struct http_error err = {0};
	size_t total = blen + sizeof(after) - 1, fed = 0, pieces = 0;
	char *all = malloc(total);
	enum http_chunked_status st = HTTP_CHUNKED_MORE;

	assert_non_null(all);
	memcpy(all, body, blen);
	memcpy(all + blen, after, sizeof(after) - 1);
	http_chunked_init(&c);
	while (fed < total) {
		size_t n = pieces++ == 0 ? first : step;
		if (n > total - fed)
			n = total - fed;
		evbuffer_add(in, all + fed, n);
		fed += n;
		st = http_chunked_relay(&c, in, out, &err);
		if (st == HTTP_CHUNKED_ERROR)
			fail_msg("%s (first %zu step %zu): %s", name, first, step, err.reason);
		if (st == HTTP_CHUNKED_MORE && fed >= blen)
			fail_msg("%s (first %zu step %zu): not done at end", name, first, step);
		if (st == HTTP_CHUNKED_DONE && fed < blen)
			fail_msg("%s (first %zu step %zu): done early", name, first, step);
	}
	assert_int_equal(st, HTTP_CHUNKED_DONE);
	/* DONE is sticky and takes nothing more */
	assert_int_equal(http_chunked_relay(&c, in, out, &err), HTTP_CHUNKED_DONE);

	size_t olen, ilen;
	char *o = buffer_string(out, &olen), *rest = buffer_string(in, &ilen);
	if (olen != blen || memcmp(o, body, blen) != 0)
		fail_msg("%s (first %zu step %zu): output differs", name, first, step);
	assert_int_equal(ilen, sizeof(after) - 1);
	assert_memory_equal(rest, after, ilen);
	assert_int_equal(c.body_bytes, payload);
	free(o);
	free(rest);
	free(all);
	evbuffer_free(in);
	evbuffer_free(out);
}

static const struct {
	const char *name;
	const char *s;
	size_t len;
	uint64_t payload;
} chunked_ok[] = {
    {"one chunk", LIT("5\r\nhello\r\n0\r\n\r\n"), 5},
    {"empty body", LIT("0\r\n\r\n"), 0},
    {"hex sizes", LIT("A\r\n0123456789\r\nf\r\n0123456789abcde\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"), 41},
    {"upper hex", LIT("1F\r\n0123456789012345678901234567890\r\n0\r\n\r\n"), 31},
    {"leading zeros", LIT("0005\r\nhello\r\n000\r\n\r\n"), 5},
    {"crlf in data", LIT("4\r\n\r\n\r\n\r\n0\r\n\r\n"), 4},
    {"trailer", LIT("3\r\nabc\r\n0\r\nX-Checksum: 1234\r\nOther:\tv w \r\n\r\n"), 3},
    {"empty trailer value", LIT("0\r\nX-A:\r\n\r\n"), 0},
    {"binary data", LIT("3\r\n\0\n\r\r\n0\r\n\r\n"), 3},
    {"15 digits", LIT("000000000000003\r\nabc\r\n0\r\n\r\n"), 3},
};

static void
test_chunked_relay(void **state)
{
	for (size_t i = 0; i < sizeof(chunked_ok) / sizeof(chunked_ok[0]); i++) {
		const char *s = chunked_ok[i].s;
		size_t len = chunked_ok[i].len;
		relay_check(chunked_ok[i].name, s, len, chunked_ok[i].payload, len + 100, 1);
		for (size_t cut = 0; cut <= len; cut++)
			relay_check(chunked_ok[i].name, s, len, chunked_ok[i].payload, cut, len + 100);
		relay_check(chunked_ok[i].name, s, len, chunked_ok[i].payload, 1, 1);
		relay_check(chunked_ok[i].name, s, len, chunked_ok[i].payload, 2, 3);
	}
}

static void
test_chunked_large(void **state)
{
	const size_t n = 300000;
	char head[32];
	int hl = snprintf(head, sizeof(head), "%zx\r\n", n);
	size_t total = (size_t)hl + n + 2 + 5;
	char *body = malloc(total);
	assert_non_null(body);
	memcpy(body, head, (size_t)hl);
	for (size_t i = 0; i < n; i++)
		body[hl + i] = (char)(i * 7);
	memcpy(body + hl + n, "\r\n0\r\n\r\n", 7);
	relay_check("large", body, total, n, total, 1);
	relay_check("large", body, total, n, 100, 4096);
	relay_check("large", body, total, n, 1, 65536);
	free(body);
}

static const struct {
	const char *name;
	const char *s;
	size_t len;
	const char *reason;
} chunked_bad[] = {
    {"extension", LIT("5;name=value\r\nhello\r\n0\r\n\r\n"), "chunk extensions are not accepted"},
    {"extension on last", LIT("5\r\nhello\r\n0;x\r\n\r\n"), "chunk extensions are not accepted"},
    {"bad hex", LIT("5g\r\nhello\r\n0\r\n\r\n"), "invalid chunk size"},
    {"no digits", LIT("\r\nhello\r\n0\r\n\r\n"), "invalid chunk size"},
    {"leading space", LIT(" 5\r\nhello\r\n0\r\n\r\n"), "invalid chunk size"},
    {"sign", LIT("+5\r\nhello\r\n0\r\n\r\n"), "invalid chunk size"},
    {"0x prefix", LIT("0x5\r\nhello\r\n0\r\n\r\n"), "invalid chunk size"},
    {"trailing space", LIT("5 \r\nhello\r\n0\r\n\r\n"), "whitespace in chunk size line"},
    {"tab before ext", LIT("5\t;x\r\nhello\r\n0\r\n\r\n"), "whitespace in chunk size line"},
    {"16 digits", LIT("0000000000000005\r\nhello\r\n0\r\n\r\n"), "chunk size has more than 15 hex digits"},
    {"huge", LIT("ffffffffffffffffff\r\n"), "chunk size has more than 15 hex digits"},
    {"size bare LF", LIT("5\nhello\r\n0\r\n\r\n"), "bare LF line ending"},
    {"size bare CR", LIT("5\rhello\r\n0\r\n\r\n"), "bare CR line ending"},
    {"data too long", LIT("5\r\nhello!\r\n0\r\n\r\n"), "missing CRLF after chunk data"},
    {"data LF only", LIT("5\r\nhello\n0\r\n\r\n"), "missing CRLF after chunk data"},
    {"data CR only", LIT("5\r\nhello\r0\r\n\r\n"), "missing CRLF after chunk data"},
    {"data other then LF", LIT("5\r\nhelloX\n0\r\n\r\n"), "missing CRLF after chunk data"},
    {"final bare LF", LIT("0\r\n\n"), "bare LF line ending"},
    {"final bare CR", LIT("0\r\n\rX"), "bare CR line ending"},
    {"trailer space before colon", LIT("0\r\nX-A : b\r\n\r\n"), "whitespace before colon in trailer field"},
    {"trailer obs-fold", LIT("0\r\nX-A: b\r\n c\r\n\r\n"), "obs-fold line folding is not accepted"},
    {"trailer empty name", LIT("0\r\n: b\r\n\r\n"), "empty trailer field name"},
    {"trailer no colon", LIT("0\r\nX-A\r\n\r\n"), "invalid character in trailer field name"},
    {"trailer bad name", LIT("0\r\nX@A: b\r\n\r\n"), "invalid character in trailer field name"},
    {"trailer NUL", LIT("0\r\nX-A: b\0\r\n\r\n"), "invalid character in trailer field value"},
    {"trailer DEL", LIT("0\r\nX-A: \x7f\r\n\r\n"), "invalid character in trailer field value"},
    {"trailer bare LF", LIT("0\r\nX-A: b\n\r\n"), "bare LF line ending"},
    {"trailer bare CR", LIT("0\r\nX-A: b\rc\r\n\r\n"), "bare CR line ending"},
};

/* Feeds `s` byte by byte or whole; the error must be the same either way and stick. */
static void
chunked_refuse(const char *name, const char *s, size_t len, const char *reason, bool bytewise)
{
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct http_chunked c;
	struct http_error err = {0};
	enum http_chunked_status st = HTTP_CHUNKED_MORE;

	http_chunked_init(&c);
	for (size_t fed = 0; fed < len && st == HTTP_CHUNKED_MORE;) {
		size_t n = bytewise ? 1 : len;
		evbuffer_add(in, s + fed, n);
		fed += n;
		st = http_chunked_relay(&c, in, out, &err);
	}
	if (st != HTTP_CHUNKED_ERROR)
		fail_msg("%s: status %d", name, st);
	if (strcmp(err.reason, reason) != 0)
		fail_msg("%s: \"%s\", want \"%s\"", name, err.reason, reason);
	assert_string_equal(err.field, "");
	err.reason = NULL;
	evbuffer_add(in, LIT("0\r\n\r\n"));
	assert_int_equal(http_chunked_relay(&c, in, out, &err), HTTP_CHUNKED_ERROR);
	assert_string_equal(err.reason, reason);
	evbuffer_free(in);
	evbuffer_free(out);
}

static void
test_chunked_refused(void **state)
{
	for (size_t i = 0; i < sizeof(chunked_bad) / sizeof(chunked_bad[0]); i++) {
		chunked_refuse(chunked_bad[i].name, chunked_bad[i].s, chunked_bad[i].len, chunked_bad[i].reason, false);
		chunked_refuse(chunked_bad[i].name, chunked_bad[i].s, chunked_bad[i].len, chunked_bad[i].reason, true);
	}
}

static void
test_chunked_trailer_limit(void **state)
{
	static char buf[10000];
	size_t off = (size_t)snprintf(buf, sizeof(buf), "0\r\n");
	while (off < 8192 - 16)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "X-%05zu: v\r\n", off);
	memcpy(buf + off, "\r\n", 2);
	/* just under 8 KiB of trailer section is relayed */
	relay_check("trailer near limit", buf, off + 2, 0, off + 2, 1);

	off = (size_t)snprintf(buf, sizeof(buf), "0\r\n");
	while (off < 8200)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "X-%05zu: v\r\n", off);
	memcpy(buf + off, "\r\n", 2);
	chunked_refuse("trailer over limit", buf, off + 2, "trailer section too large", false);
}

static void
test_chunked_partial(void **state)
{
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct http_chunked c;
	struct http_error err = {0};

	http_chunked_init(&c);
	assert_int_equal(http_chunked_relay(&c, in, out, &err), HTTP_CHUNKED_MORE);
	evbuffer_add(in, LIT("a\r\n0123"));
	assert_int_equal(http_chunked_relay(&c, in, out, &err), HTTP_CHUNKED_MORE);
	assert_int_equal(c.body_bytes, 4);
	assert_int_equal(evbuffer_get_length(in), 0);
	assert_int_equal(evbuffer_get_length(out), 7);
	evbuffer_add(in, LIT("456789\r\n0\r\n"));
	assert_int_equal(http_chunked_relay(&c, in, out, &err), HTTP_CHUNKED_MORE);
	assert_int_equal(c.body_bytes, 10);
	evbuffer_add(in, LIT("\r\nnext"));
	assert_int_equal(http_chunked_relay(&c, in, out, &err), HTTP_CHUNKED_DONE);
	assert_int_equal(evbuffer_get_length(in), 4);
	assert_int_equal(evbuffer_get_length(out), 3 + 10 + 2 + 3 + 2);
	evbuffer_free(in);
	evbuffer_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_accepted),  cmocka_unit_test(test_request_fields),
	    cmocka_unit_test(test_request_refused),   cmocka_unit_test(test_request_field_count),
	    cmocka_unit_test(test_request_head_size), cmocka_unit_test(test_error_field_truncated),
	    cmocka_unit_test(test_field_bytes),       cmocka_unit_test(test_known_names),
	    cmocka_unit_test(test_hop_by_hop),        cmocka_unit_test(test_responses),
	    cmocka_unit_test(test_response_fields),   cmocka_unit_test(test_head_end_whole),
	    cmocka_unit_test(test_head_end_bare_lf),  cmocka_unit_test(test_head_end_split),
	    cmocka_unit_test(test_chunked_relay),     cmocka_unit_test(test_chunked_large),
	    cmocka_unit_test(test_chunked_refused),   cmocka_unit_test(test_chunked_trailer_limit),
	    cmocka_unit_test(test_chunked_partial),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
