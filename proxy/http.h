/*
 * http: a strict HTTP/1.1 message-head parser for the data path (RFC 9112).
 *
 * Strict means: anything a recipient MAY reject, and anything two parsers
 * could read two ways, is refused. The parser works on one contiguous head
 * (request/status line through the empty line) that the connection has
 * already located and copied; it never allocates and keeps pointers into
 * that buffer, which must outlive the parsed message.
 *
 * Request rules (the DynamoDB JSON protocol is all this gateway carries):
 *   - request line exactly "POST / HTTP/1.1": single spaces, origin-form "/";
 *   - every line ends in CRLF (a bare LF or CR is an error), no obs-fold;
 *   - field names are tokens with no whitespace before ':'; values are
 *     VCHAR/obs-text/SP/HTAB with the surrounding OWS trimmed;
 *   - no field name appears twice (whatever it is);
 *   - exactly one Host, X-Amz-Target, Authorization and Content-Length
 *     (1*DIGIT, no sign, <= max_body_bytes); no Transfer-Encoding;
 *   - Content-Type is application/x-amz-json-1.0, optionally with
 *     "; charset=utf-8" (case-insensitive), as SDKs send it;
 *   - Content-Encoding absent or "identity";
 *   - Connection lists only "keep-alive" / "close" (so a client cannot make us
 *     strip a signed header by naming it there); no Upgrade;
 *   - Expect, if present, is exactly "100-continue".
 *
 * Response rules (what comes back from the upstream):
 *   - status line "HTTP/1.1 DDD reason" (reason may be empty);
 *   - same line and field rules, duplicates refused;
 *   - exactly one of Content-Length or "Transfer-Encoding: chunked" unless
 *     the status has no body (1xx, 204, 304).
 */
#ifndef DDBGUARD_PROXY_HTTP_H
#define DDBGUARD_PROXY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

/* Header names the data path cares about, found once while parsing. */
enum http_hdr {
	HTTP_HDR_OTHER = 0,
	HTTP_HDR_HOST,
	HTTP_HDR_X_AMZ_TARGET,
	HTTP_HDR_AUTHORIZATION,
	HTTP_HDR_CONTENT_LENGTH,
	HTTP_HDR_CONTENT_TYPE,
	HTTP_HDR_CONTENT_ENCODING,
	HTTP_HDR_TRANSFER_ENCODING,
	HTTP_HDR_CONNECTION,
	HTTP_HDR_KEEP_ALIVE,
	HTTP_HDR_PROXY_CONNECTION,
	HTTP_HDR_PROXY_AUTHORIZATION,
	HTTP_HDR_TE,
	HTTP_HDR_TRAILER,
	HTTP_HDR_UPGRADE,
	HTTP_HDR_EXPECT,
	HTTP_HDR_USER_AGENT,
	HTTP_HDR_X_AMZ_DATE,
	HTTP_HDR_X_AMZ_SECURITY_TOKEN,
	HTTP_HDR_X_AMZN_REQUESTID, /* responses */
	HTTP_HDR_X_AMZ_CRC32,	   /* responses */
	HTTP_HDR__COUNT
};

/* Hop-by-hop: never forwarded in either direction (RFC 9110 7.6.1). */
bool http_hdr_is_hop_by_hop(enum http_hdr h);

struct http_header {
	const char *name; /* as received (case preserved) */
	size_t name_len;
	const char *value; /* OWS trimmed */
	size_t value_len;
	enum http_hdr id;
};

#define HTTP_MAX_HEADERS_HARD 128 /* array size; the configured limit may be lower */

struct http_limits {
	size_t max_header_bytes; /* whole head, request line to empty line inclusive */
	unsigned max_headers;	 /* <= HTTP_MAX_HEADERS_HARD */
	uint64_t max_body_bytes;
};

struct http_message {
	/* request line / status line */
	int status;		/* responses */
	const char *reason;	/* responses; not NUL-terminated */
	size_t reason_len;

	struct http_header headers[HTTP_MAX_HEADERS_HARD];
	unsigned nheaders;
	/* index into headers[] of each known header, or -1 */
	int16_t known[HTTP_HDR__COUNT];

	uint64_t content_length; /* valid when has_content_length */
	bool has_content_length;
	bool chunked;		 /* responses: Transfer-Encoding: chunked */
	bool keep_alive;	 /* false if Connection: close */
	bool expect_continue;	 /* requests: Expect: 100-continue */

	/* CONNECT requests: the authority-form target, split (not NUL-terminated). */
	const char *connect_host;
	size_t connect_host_len;
	uint16_t connect_port;
};

/* Why a message was refused: a static, client-safe sentence, plus the offending header name if any. */
struct http_error {
	const char *reason;   /* "duplicate header field", "Transfer-Encoding is not accepted", ... */
	char field[48];	      /* header name it is about, "" if none (truncated) */
};

enum http_status {
	HTTP_OK,
	HTTP_ERROR,
};

/*
 * Finds the end of the head in `buf` without copying. Returns the head length
 * (including the final CRLFCRLF), 0 if it is not there yet, or -1 if the
 * limit was reached without finding it (or a bare-LF head end appears).
 * `*scan_from` lets repeated calls skip bytes already searched; start at 0.
 */
ssize_t http_find_head_end(struct evbuffer *buf, size_t max_header_bytes, size_t *scan_from);

enum http_status http_parse_request(const char *head, size_t len, const struct http_limits *lim,
    struct http_message *out, struct http_error *err);

/*
 * The egress listener's tunnel request (RFC 9110 9.3.6): exactly
 * "CONNECT host:port HTTP/1.1" with a reg-name host (no IP literals, no
 * userinfo), a port, a Host header equal to the target, and no body. Field
 * rules as for requests; Proxy-Authorization and User-Agent may appear.
 */
enum http_status http_parse_connect(const char *head, size_t len, const struct http_limits *lim,
    struct http_message *out, struct http_error *err);

enum http_status http_parse_response(const char *head, size_t len, const struct http_limits *lim,
    struct http_message *out, struct http_error *err);

/* The value of a known header, or NULL (and *len = 0) if absent. */
const char *http_get(const struct http_message *m, enum http_hdr h, size_t *len);

/*
 * Chunked body relay for upstream responses: moves the chunked framing and
 * data from `in` to `out` unchanged (byte-faithful) while checking it: hex
 * size without extensions or leading junk (at most 15 digits), CRLF after each
 * chunk, last-chunk "0", optional trailer fields, final CRLF.
 */
struct http_chunked {
	int state;		/* private */
	uint64_t remaining;	/* private */
	size_t line_len;	/* private */
	uint64_t body_bytes;	/* payload bytes seen so far */
};

enum http_chunked_status {
	HTTP_CHUNKED_MORE, /* need more input */
	HTTP_CHUNKED_DONE, /* message complete; bytes after it stay in `in` */
	HTTP_CHUNKED_ERROR,
};

void http_chunked_init(struct http_chunked *c);
enum http_chunked_status http_chunked_relay(struct http_chunked *c, struct evbuffer *in, struct evbuffer *out,
    struct http_error *err);

#endif
