/*
 * upstream: keep-alive connection pools to the DynamoDB (and Streams)
 * endpoints, and the relay of one exchange over them.
 *
 * A call hands over a complete request (head + body, moved, not copied) and
 * the client's output buffer. The pool picks an idle connection or opens one
 * (async DNS, every resolved address tried in turn, verified TLS with SNI),
 * writes the request, parses the response head strictly, lets the caller
 * write the head it wants the client to see, then moves the body bytes into
 * the client's buffer unchanged (Content-Length or chunked framing checked
 * on the way). A response cut short is an error, never a short success.
 *
 * Callbacks never run from inside upstream_call_start().
 */
#ifndef DDBGUARD_PROXY_UPSTREAM_H
#define DDBGUARD_PROXY_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config/config.h"
#include "proxy/http.h"

struct event_base;
struct evdns_base;
struct evbuffer;

struct upstream_pool;
struct upstream_call;

#define UPSTREAM_ERROR_BODY_MAX 2048
/* Largest 2xx body upstream_call_capture() copies: ConsumedCapacity answers are small; a big one is skipped. */
#define UPSTREAM_CAPTURE_MAX (64u * 1024u)

enum upstream_result {
	UPSTREAM_OK,		 /* the whole response was relayed */
	UPSTREAM_CONNECT_FAILED, /* DNS or TCP */
	UPSTREAM_TLS_FAILED,	 /* handshake or certificate verification */
	UPSTREAM_TIMEOUT,	 /* connect or response timeout */
	UPSTREAM_BAD_RESPONSE,	 /* response framing refused */
	UPSTREAM_TRUNCATED,	 /* closed or reset before the response was complete */
};

struct upstream_report {
	enum upstream_result result;
	bool response_started; /* on_head ran: the client has (part of) the response */
	int status;
	char request_id[80];	 /* x-amzn-RequestId, if the response had one */
	char detail[160];	 /* for logs only, e.g. "certificate verification failed: ..." */
	char peer[64];		 /* address:port actually used */
	uint64_t body_bytes;
	/* For 4xx/5xx answers with a small body: a copy of it, so the log can name the error type. */
	char error_body[UPSTREAM_ERROR_BODY_MAX];
	size_t error_body_len;
	/* Bytes of a 2xx body copied into the upstream_call_capture() buffer: 0 unless it was copied whole. */
	size_t capture_len;
};

struct upstream_callbacks {
	/* The response head parsed; write what the client should see to the client buffer now. */
	void (*on_head)(void *arg, const struct http_message *resp);
	/* The exchange is over (either way); the call handle is invalid from here on. */
	void (*on_done)(void *arg, const struct upstream_report *report);
};

/*
 * `tls` NULL for an http:// upstream; the pool does not own it.
 * `url`, `cfg` and `limits` must outlive the pool.
 */
struct upstream_pool *upstream_pool_new(struct event_base *base, struct evdns_base *dns, SSL_CTX *tls,
    const struct upstream_url *url, const struct upstream_config *cfg, const struct http_limits *limits);
void upstream_pool_free(struct upstream_pool *p); /* accepts NULL; aborts nothing: no call may be active */

const char *upstream_pool_url(const struct upstream_pool *p);

/*
 * Starts an exchange. Takes the bytes of `request` (it is left empty).
 * Returns NULL only on allocation failure (no callback will run).
 */
struct upstream_call *upstream_call_start(struct upstream_pool *p, struct evbuffer *request,
    struct evbuffer *client_out, const struct upstream_callbacks *cb, void *arg);

/*
 * Asks for a copy of the whole body of a 2xx answer into `buf` (`cap` bytes,
 * at most UPSTREAM_CAPTURE_MAX), for the access log. The caller owns `buf` and
 * keeps it until on_done, where report.capture_len says how much was copied:
 * 0 when the answer was not 2xx, longer than `cap` or chunked.
 * XXX: chunked answers are not captured (DynamoDB sends Content-Length).
 */
void upstream_call_capture(struct upstream_call *c, char *buf, size_t cap);

/*
 * Lets the client buffer grow to `bytes` before relaying pauses (default
 * UPSTREAM_CLIENT_HIGH_WATER): for a response held whole until its access-log
 * record is durable (access_log.sync "every_call"), which nothing drains.
 */
void upstream_call_set_client_limit(struct upstream_call *c, size_t bytes);

/* The client went away: drop the exchange (its connection is closed); no callback runs after this. */
void upstream_call_abort(struct upstream_call *c);

/* The client's buffer drained: continue relaying if the call was paused for backpressure. */
void upstream_call_resume(struct upstream_call *c);

/* Client buffer size above which relaying pauses until it drains. */
#define UPSTREAM_CLIENT_HIGH_WATER (1u << 20)

#endif
