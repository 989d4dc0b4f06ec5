/*
 * libFuzzer target for proxy/http.c: request and response heads, the head
 * end search, and the chunked relay. Besides crashes and sanitizer reports
 * it checks what the parser promises (values in bounds and free of CR, LF,
 * NUL; names are tokens; error fields are names) and that split input gives
 * the same answers as whole input.
 *
 *   clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *       tests/fuzz/fuzz_http.c proxy/http.c -levent_core -o fuzz_http
 *   ./fuzz_http -dict=tests/fuzz/http.dict tests/fuzz/corpus/http
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "proxy/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                                       \
	do {                                                                                                           \
		if (!(x))                                                                                              \
			abort();                                                                                       \
	} while (0)

static const struct http_limits lim = {
    .max_header_bytes = 65536,
    .max_headers = 100,
    .max_body_bytes = 1000000,
};

static struct http_message msg;

static int
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
is_value_byte(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static void
check_error(const struct http_error *err)
{
	CHECK(err->reason != NULL && err->reason[0] != '\0');
	size_t n = strnlen(err->field, sizeof(err->field));
	CHECK(n < sizeof(err->field));
	for (size_t i = 0; i < n; i++)
		CHECK(is_tchar((unsigned char)err->field[i]));
}

/* The plain reading of enum http_hdr, to hold the parser's perfect hash to. */
static const char *const known_names[HTTP_HDR__COUNT] = {
    "",
    "Host",
    "X-Amz-Target",
    "Authorization",
    "Content-Length",
    "Content-Type",
    "Content-Encoding",
    "Transfer-Encoding",
    "Connection",
    "Keep-Alive",
    "Proxy-Connection",
    "Proxy-Authorization",
    "TE",
    "Trailer",
    "Upgrade",
    "Expect",
    "User-Agent",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amzn-RequestId",
    "X-Amz-Crc32",
};

static int
reference_id(const char *name, size_t len)
{
	for (int id = 1; id < HTTP_HDR__COUNT; id++)
		if (strlen(known_names[id]) == len && strncasecmp(name, known_names[id], len) == 0)
			return id;
	return HTTP_HDR_OTHER;
}

static void
check_message(const char *head, size_t len)
{
	CHECK(msg.nheaders <= lim.max_headers);
	for (unsigned i = 0; i < msg.nheaders; i++) {
		const struct http_header *h = &msg.headers[i];
		CHECK(h->name >= head && h->name + h->name_len <= head + len && h->name_len > 0);
		CHECK(h->value >= head && h->value + h->value_len <= head + len);
		for (size_t j = 0; j < h->name_len; j++)
			CHECK(is_tchar((unsigned char)h->name[j]));
		for (size_t j = 0; j < h->value_len; j++)
			CHECK(is_value_byte((unsigned char)h->value[j]));
		if (h->value_len > 0) {
			CHECK(h->value[0] != ' ' && h->value[0] != '\t');
			CHECK(h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t');
		}
		CHECK((int)h->id == reference_id(h->name, h->name_len));
		if (h->id != HTTP_HDR_OTHER)
			CHECK(msg.known[h->id] == (int16_t)i);
		for (unsigned j = 0; j < i; j++)
			CHECK(msg.headers[j].name_len != h->name_len ||
			      strncasecmp(msg.headers[j].name, h->name, h->name_len) != 0);
	}
	for (int id = 1; id < HTTP_HDR__COUNT; id++)
		CHECK(msg.known[id] == -1 || (int)msg.headers[msg.known[id]].id == id);
	CHECK(len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0);
}

static void
fuzz_heads(const char *head, size_t len)
{
	struct http_error err;

	memset(&err, 0, sizeof(err));
	if (http_parse_request(head, len, &lim, &msg, &err) == HTTP_OK) {
		check_message(head, len);
		CHECK(msg.has_content_length && msg.content_length <= lim.max_body_bytes && !msg.chunked);
		CHECK(msg.known[HTTP_HDR_TRANSFER_ENCODING] < 0 && msg.known[HTTP_HDR_UPGRADE] < 0);
		CHECK(memcmp(head, "POST / HTTP/1.1\r\n", 17) == 0);
	} else {
		check_error(&err);
	}
	memset(&err, 0, sizeof(err));
	if (http_parse_response(head, len, &lim, &msg, &err) == HTTP_OK) {
		check_message(head, len);
		CHECK(msg.status >= 100 && msg.status <= 599);
		CHECK(msg.chunked != msg.has_content_length);
		CHECK(!msg.has_content_length || msg.content_length <= lim.max_body_bytes);
		CHECK(msg.reason >= head && msg.reason + msg.reason_len <= head + len);
	} else {
		check_error(&err);
	}
}

/* Head end, whole and split in two reads at `cut` (as separate chains): the answers must agree. */
static void
fuzz_head_end(const uint8_t *data, size_t size, size_t cut, size_t max)
{
	struct evbuffer *whole = evbuffer_new(), *split = evbuffer_new();
	size_t from = 0;

	evbuffer_add(whole, data, size);
	ssize_t r = http_find_head_end(whole, max, &from);
	CHECK(r >= -1 && (r <= 0 || (size_t)r <= max));
	if (r > 0) {
		CHECK(r >= 4 && memcmp(data + r - 4, "\r\n\r\n", 4) == 0);
		for (ssize_t i = 0; i < r; i++)
			CHECK(data[i] != '\n' || (i > 0 && data[i - 1] == '\r'));
		fuzz_heads((const char *)data, (size_t)r);
	}
	if (r == 0)
		CHECK(size < max);

	from = 0;
	evbuffer_add_reference(split, data, cut, NULL, NULL);
	ssize_t s = http_find_head_end(split, max, &from);
	if (s == 0) {
		evbuffer_add_reference(split, data + cut, size - cut, NULL, NULL);
		s = http_find_head_end(split, max, &from);
	}
	CHECK(s == r);
	evbuffer_free(whole);
	evbuffer_free(split);
}

struct relay_result {
	enum http_chunked_status st;
	const char *reason;
	size_t consumed;
	uint64_t body_bytes;
};

/* Relays `data` fed in pieces of `step` bytes (0: whole); checks the output is the input, byte for byte. */
static struct relay_result
fuzz_relay(const uint8_t *data, size_t size, size_t step)
{
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct http_chunked c;
	struct http_error err = {0};
	struct relay_result r = {HTTP_CHUNKED_MORE, NULL, 0, 0};
	size_t fed = 0;

	http_chunked_init(&c);
	do {
		size_t n = step == 0 || step > size - fed ? size - fed : step;
		evbuffer_add(in, data + fed, n);
		fed += n;
		r.st = http_chunked_relay(&c, in, out, &err);
	} while (r.st == HTTP_CHUNKED_MORE && fed < size);

	size_t olen = evbuffer_get_length(out), ilen = evbuffer_get_length(in);
	CHECK(olen + ilen == fed);
	unsigned char *o = evbuffer_pullup(out, -1);
	CHECK(olen == 0 || memcmp(o, data, olen) == 0);
	unsigned char *rest = evbuffer_pullup(in, -1);
	CHECK(ilen == 0 || memcmp(rest, data + olen, ilen) == 0);
	CHECK(c.body_bytes <= olen);
	if (r.st == HTTP_CHUNKED_DONE) {
		CHECK(olen >= 5 && memcmp(o + olen - 2, "\r\n", 2) == 0);
		CHECK(http_chunked_relay(&c, in, out, &err) == HTTP_CHUNKED_DONE);
		CHECK(evbuffer_get_length(in) == ilen);
	}
	if (r.st == HTTP_CHUNKED_ERROR)
		check_error(&err);
	r.reason = err.reason;
	r.consumed = olen;
	r.body_bytes = c.body_bytes;
	evbuffer_free(in);
	evbuffer_free(out);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so any read past the end is a sanitizer report */
	char *head = malloc(size ? size : 1);
	if (head == NULL)
		return 0;
	memcpy(head, data, size);
	fuzz_heads(head, size);
	free(head);

	size_t cut = size ? data[0] % (size + 1) : 0;
	fuzz_head_end(data, size, cut, lim.max_header_bytes);
	fuzz_head_end(data, size, cut, size > 8 ? size / 2 : 4);

	struct relay_result whole = fuzz_relay(data, size, 0);
	struct relay_result bytes = fuzz_relay(data, size, 1);
	struct relay_result some = fuzz_relay(data, size, size ? 1 + data[size - 1] % 7 : 1);
	CHECK(whole.st == bytes.st && whole.st == some.st);
	if (whole.st == HTTP_CHUNKED_ERROR)
		CHECK(strcmp(whole.reason, bytes.reason) == 0 && strcmp(whole.reason, some.reason) == 0);
	if (whole.st == HTTP_CHUNKED_DONE)
		CHECK(whole.consumed == bytes.consumed && whole.consumed == some.consumed &&
		      whole.body_bytes == bytes.body_bytes);
	return 0;
}
